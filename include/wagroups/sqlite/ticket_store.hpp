#pragma once

/// @file
/// `SqliteTicketStore`: tickets in one SQLite file (WAL, one transaction per commit, versioned
/// schema with migrations). Optional component: `find_package(wagroups COMPONENTS sqlite)` and link
/// `wagroups::sqlite`; built with `WAGROUPS_WITH_SQLITE=ON` (needs SQLite 3).
///
/// The path is a file name or an SQLite URI ("file:tickets.db?mode=ro", ":memory:"). One connection
/// serves the store, guarded by a mutex: units of work run one at a time in this process, and other
/// processes sharing the file wait for the write lock up to `busy_timeout`. `work` must use the
/// transaction it is given, never the store itself (that is refused with ErrorCode::storage).

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wagroups/result.hpp"
#include "wagroups/export.hpp"
#include "wagroups/tickets.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

struct SqliteOptions {
  /// FULL: a commit survives power loss (fsync per commit). NORMAL: survives a process crash (in
  /// WAL mode), may lose the last commits on power loss. Batching is the way to speed, not this.
  enum class Durability { normal, full };
  Durability durability = Durability::full;
  /// How long a writer waits for another process's lock before failing with ErrorCode::storage.
  std::chrono::milliseconds busy_timeout{5000};
  /// How long a processed event key is kept (by the store's `clock`; 0 = forever). Meta retries a
  /// webhook for up to 36 hours; the default week is well past that. Keys are pruned by age, a
  /// bounded number at a time, at most once per 256 committed units or a minute.
  std::chrono::seconds event_key_retention = std::chrono::hours(24 * 7);
  /// And how many at most (the oldest are pruned past this at every commit; 0 = no bound).
  std::size_t max_event_keys = 0;
  /// The store's clock, for the event keys' stamps (empty: the system clock). Tests inject one.
  std::function<std::chrono::system_clock::time_point()> clock;
  /// Decoded tickets kept in memory between units of work, by an estimate of their memory (0 =
  /// none). A unit then skips reading the busy tickets it fetches again; another connection's
  /// commit empties it. One ticket costing more than half of it (a conversation of some 50,000
  /// messages by default) is kept beside it, the latest such: a unit holds that ticket whole
  /// anyway, and reloading it on every event would cost its length. The default keeps 10,000
  /// tickets of 50 messages within 256 MiB of resident memory.
  std::size_t ticket_cache_bytes = std::size_t{80} << 20;
  /// How many dead letters (verified webhook bodies the parser refused) to keep in the
  /// `dead_letters` table; past either bound the oldest are deleted as a new one is added.
  DeadLetterLimits dead_letters;
  /// Testing only (hosts leave it empty): SQL for schema versions after the built-in ones, as if
  /// this build knew a newer schema, to exercise the upgrade path. Entry i is version
  /// latest_schema_version() + 1 + i.
  std::vector<std::string> extra_migrations_for_testing;
};

class WAGROUPS_SQLITE_API SqliteTicketStore final : public TicketStore {
 public:
  /// Opens (creating and migrating when needed) the database at `path`. A database file this call
  /// creates gets mode 0600 (owner only; SQLite gives its -wal, -shm and -journal files the same
  /// mode); an existing file keeps its mode. Refuses, with
  /// ErrorCode::storage, a file that is not a database, read-only, or at a schema version newer
  /// than this build knows (written by a later wagroups).
  static Result<std::unique_ptr<SqliteTicketStore>> open(const std::string& path, SqliteOptions options = {});
  ~SqliteTicketStore() override;

  /// One `BEGIN IMMEDIATE` transaction per unit (a lock held across processes sharing the file).
  Result<void> transact(const std::function<Result<void>(TicketTransaction&)>& work) override;
  Result<std::optional<StoredTicket>> load(const std::string& ticket_id) override;
  Result<std::optional<std::string>> find_by_group(const std::string& group_id) override;
  Result<std::optional<std::string>> find_by_request(const std::string& request_id) override;
  /// The tickets that decode; a row that does not is skipped (see `list_checked` for which), so
  /// one damaged row never hides the others. `load` of that ticket still fails with its error.
  Result<std::vector<StoredTicket>> list(const TicketQuery& query) override;
  /// `list`, also reporting each skipped row. Unreadable rows count towards `query.limit`.
  Result<TicketListing> list_checked(const TicketQuery& query);
  /// From the header rows' indexed columns (state, assignee, group, last activity, resolution),
  /// without loading a ticket.
  Result<std::vector<std::string>> list_ids(const TicketQuery& query) override;

  /// Dead letters in their own table (created, when missing, by `open`, whatever the schema
  /// version: older builds ignore it). Each call is its own transaction, outside any unit.
  Result<std::int64_t> add_dead_letter(const DeadLetter& letter) override;
  Result<std::vector<DeadLetter>> dead_letters(const DeadLetterQuery& query) override;
  Result<bool> erase_dead_letter(std::int64_t id) override;

  /// The schema version of the open database (after `open`, the latest this build knows).
  int schema_version() const noexcept;
  /// The latest schema version this build knows.
  static int latest_schema_version() noexcept;

 private:
  struct Impl;
  explicit SqliteTicketStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
