#pragma once

/// @file
/// `InMemoryTicketStore`: the thread-safe in-memory `TicketStore`.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wagroups/client/options.hpp"
#include "wagroups/export.hpp"
#include "wagroups/tickets/store.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// How an `InMemoryTicketStore` behaves.
struct InMemoryStoreOptions {
  /// A failing unit of work leaves the store exactly as it was (tickets, versions, lookups, event
  /// keys). Kept with an undo log: a whole copy of each ticket a unit fetches with `ticket()`, and
  /// for `edit()` only the head and the previous value of each declared message, so its cost does
  /// not grow with the conversation. Off, a unit that fails after writing keeps its writes, which
  /// is safe when you write only through the aggregator (it never fails after its first write).
  bool exact_rollback = true;
  /// How long an applied event's key is remembered (0 = forever). Meta retries a webhook delivery
  /// that was not answered 200 "immediately, then ... a few more times with decreasing frequency
  /// over the next 36 hours" (Graph webhooks, Getting started); a week covers that with room to
  /// spare. An older key is dropped when later keys are recorded (oldest first), so the table stays
  /// bounded; a delivery after that would be applied again, and since every ticket rule is a join,
  /// that changes nothing.
  std::chrono::seconds event_key_retention{std::chrono::hours(24 * 7)};
  /// The time event keys are recorded at; default std::chrono::system_clock::now.
  Clock clock;
};

/// Thread-safe, in memory (tests, demos, and hosts that persist elsewhere). Writes happen in place
/// under one lock; see `InMemoryStoreOptions` for rollback and event key retention. Every ticket a
/// unit fetched (`ticket` or `edit`) counts as written (its version moves on). `list` and
/// `list_ids` answer the deadline filters of `TicketQuery` together with `state` open / resolved
/// from ordered indexes, so `TicketAggregator::tick` costs the number of due tickets.
class WAGROUPS_API InMemoryTicketStore final : public TicketStore {
 public:
  InMemoryTicketStore();
  explicit InMemoryTicketStore(InMemoryStoreOptions options);
  /// `InMemoryStoreOptions::exact_rollback` = `copy_on_write` (the name this option had before).
  explicit InMemoryTicketStore(bool copy_on_write);
  ~InMemoryTicketStore() override;
  Result<void> transact(const std::function<Result<void>(TicketTransaction&)>& work) override;
  Result<std::optional<StoredTicket>> load(const std::string& ticket_id) override;
  Result<std::optional<std::string>> find_by_group(const std::string& group_id) override;
  Result<std::optional<std::string>> find_by_request(const std::string& request_id) override;
  Result<std::vector<StoredTicket>> list(const TicketQuery& query) override;
  Result<std::vector<std::string>> list_ids(const TicketQuery& query) override;

  /// How many event keys the store remembers now.
  std::size_t event_key_count() const;

  /// Dead letters, kept in memory within `dead_letter_limits()` (the oldest dropped first).
  Result<std::int64_t> add_dead_letter(const DeadLetter& letter) override;
  Result<std::vector<DeadLetter>> dead_letters(const DeadLetterQuery& query) override;
  Result<bool> erase_dead_letter(std::int64_t id) override;
  /// The bounds on kept dead letters (defaults: 1000 letters, 64 MiB of bodies); lowering them
  /// drops the oldest at once.
  void set_dead_letter_limits(DeadLetterLimits limits);
  DeadLetterLimits dead_letter_limits() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  // Apart from `state_` (its own lock): dead letters never take part in a unit of work. Shared
  // only so that its type may stay incomplete here.
  struct DeadLetterShelf;
  static std::shared_ptr<DeadLetterShelf> make_dead_letter_shelf();
  std::shared_ptr<DeadLetterShelf> dead_letters_ = make_dead_letter_shelf();
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
