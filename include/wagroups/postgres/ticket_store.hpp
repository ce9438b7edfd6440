#pragma once

/// @file
/// `PostgresTicketStore`: tickets in PostgreSQL, for several webhook receivers behind one load
/// balancer. Optional component:
/// `find_package(wagroups COMPONENTS postgres)` and link `wagroups::postgres`; built with
/// `WAGROUPS_WITH_POSTGRES=ON` (needs libpq).
///
/// The same contract as the other stores: one atomic unit per `transact`. Across processes:
/// - dedupe is atomic: the event key is the primary key of `event_keys`, so of two receivers
///   applying one event at once, one commits and the other's unit fails as ErrorCode::conflict;
///   the aggregator reruns it (bounded), and it then finds the key applied;
/// - units are SERIALIZABLE transactions (a unit also decides on what is absent: no ticket for a
///   group yet), and a ticket's header row is locked (`FOR UPDATE`) when fetched. A unit that
///   fetches a ticket another unit is writing waits for it, then, if that one committed, fails
///   as a conflict. Serialization failures, deadlocks and a key taken by a concurrent unit are
///   ErrorCode::conflict, which the aggregator reruns (bounded, after a random wait);
/// - a server down, restarting or a connection lost fail the unit with ErrorCode::storage; the
///   pool drops the broken connection and the next unit connects anew. Nothing of the unit is
///   applied, except when the connection is lost during COMMIT, which may have landed: the
///   redelivery then finds the event keys, so nothing is applied twice;
/// - calling the store from inside `work` is refused (ErrorCode::storage), as in SQLite.
///
/// The tables are those of SqliteTicketStore's schema v2 (a header row per ticket, a row per
/// member, invite and timeline message; docs/tickets.md), in the schema `PostgresOptions::schema`
/// names. Each pooled connection keeps decoded tickets between units (`ticket_cache_bytes`),
/// reusing one only while its header row is the one it wrote or read (same version and xmin), so
/// a long conversation is not read again on every event.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wagroups/export.hpp"
#include "wagroups/result.hpp"
#include "wagroups/tickets.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

struct PostgresOptions {
  /// The schema holding the tables (created and migrated by `open`): a lower-case identifier, so
  /// several stores (tenants, tests) can share one database.
  std::string schema = "wagroups";
  /// Connections kept open; units beyond it wait up to `acquire_timeout`, then fail as storage.
  std::size_t pool_size = 4;
  std::chrono::milliseconds acquire_timeout{5000};
  /// How long a processed event key is kept (0 = forever); as SqliteOptions. Expired keys are
  /// deleted after a unit's commit, outside it, at most once per 256 units or a minute.
  std::chrono::seconds event_key_retention = std::chrono::hours(24 * 7);
  /// The store's clock, for the event keys' stamps (empty: the system clock).
  std::function<std::chrono::system_clock::time_point()> clock;
  /// Decoded tickets kept in memory between units, by an estimate of their memory, shared between
  /// the pool's connections (0 = none); as SqliteOptions::ticket_cache_bytes.
  std::size_t ticket_cache_bytes = std::size_t{80} << 20;
  /// How many dead letters to keep (`dead_letters` table); the oldest go past either bound.
  DeadLetterLimits dead_letters;
};

class WAGROUPS_POSTGRES_API PostgresTicketStore final : public TicketStore {
 public:
  /// Connects with `conninfo` (a libpq connection string or `postgresql://` URI; it may hold a
  /// password: it appears in no error, log or file), creates and migrates `options.schema`.
  static Result<std::unique_ptr<PostgresTicketStore>> open(const std::string& conninfo, PostgresOptions options = {});
  ~PostgresTicketStore() override;

  Result<void> transact(const std::function<Result<void>(TicketTransaction&)>& work) override;
  Result<std::optional<StoredTicket>> load(const std::string& ticket_id) override;
  Result<std::optional<std::string>> find_by_group(const std::string& group_id) override;
  Result<std::optional<std::string>> find_by_request(const std::string& request_id) override;
  Result<std::vector<StoredTicket>> list(const TicketQuery& query) override;
  Result<std::vector<std::string>> list_ids(const TicketQuery& query) override;
  /// `list`, naming the tickets whose rows do not decode (they are skipped by `list`).
  Result<TicketListing> list_checked(const TicketQuery& query);

  Result<std::int64_t> add_dead_letter(const DeadLetter& letter) override;
  Result<std::vector<DeadLetter>> dead_letters(const DeadLetterQuery& query) override;
  Result<bool> erase_dead_letter(std::int64_t id) override;

  int schema_version() const noexcept;
  static int latest_schema_version() noexcept;

 private:
  struct Impl;
  explicit PostgresTicketStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
