#pragma once

/// @file
/// `GroupCommitter`: group commit for a webhook receiver. Concurrent request threads hand it one
/// verified, parsed body each; bodies that arrive while a store unit is running are applied
/// together in the next unit (one transaction, one fsync with `SqliteTicketStore` FULL), and each
/// caller returns only after the unit holding its body committed, with that body's own outcome.
/// So a receiver keeps "200 only after the commit" and durability, and pays one commit for many
/// concurrent POSTs instead of one each.
///
///     TicketAggregator tickets(store);
///     GroupCommitter committer(tickets);
///     // in the POST handler of any HTTP server, on its request thread:
///     WebhookResponse r = endpoint.handle_post(body, signature, [&](const WebhookBatch& batch) -> Result<void> {
///       auto outcome = committer.apply(batch);   // blocks until batch's unit committed
///       if (!outcome) return outcome.error();    // => non-200, Meta redelivers
///       return {};
///     });
///
/// There is no background thread. The first caller that finds no unit running leads: it takes the
/// bodies waiting (oldest first, at most `max_bodies_per_unit`), runs them as one unit through
/// `TicketAggregator::apply_each`, wakes their callers, and passes the lead to the oldest caller
/// still waiting, if any. A lone caller therefore runs its unit at once, as `tickets.apply` would;
/// batching happens only when callers arrive while a unit runs, so it grows with the load.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "wagroups/export.hpp"
#include "wagroups/result.hpp"
#include "wagroups/tickets/aggregator.hpp"
#include "wagroups/webhook/events.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

struct GroupCommitOptions {
  /// At most this many bodies in one unit (0 counts as 1). A bound on how long a unit holds the
  /// store, how long its first caller waits for the last body's work, and how much a failing unit
  /// costs to sort out (see `GroupCommitter::apply`).
  std::size_t max_bodies_per_unit = 256;
};

/// Counters since construction (for logs and metrics).
struct GroupCommitStats {
  std::uint64_t bodies = 0;        ///< bodies answered (committed or failed)
  std::uint64_t units = 0;         ///< units run, not counting the one-body retries of a failed unit
  std::uint64_t failed_units = 0;  ///< units of several bodies that failed and were retried body by body
  std::size_t largest_unit = 0;    ///< the most bodies one unit held
};

/// Thread-safe: any number of threads may call `apply` at once (that is its purpose).
class WAGROUPS_API GroupCommitter {
 public:
  /// `tickets` (and its store) must outlive the committer.
  explicit GroupCommitter(TicketAggregator& tickets, GroupCommitOptions options = {});
  /// Waits until no caller is inside `apply` (a server stopping its request threads first is
  /// enough). Calling `apply` once destruction has begun is undefined, as for any object.
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  /// Applies `body` in a unit with the other bodies waiting, and returns once that unit committed
  /// (or failed): the outcome is this body's own, as `tickets.apply(body)` would give it. `body`
  /// must stay valid until the call returns (it does: the caller is blocked meanwhile).
  ///
  /// Failure: when a unit of several bodies fails (`apply_each` is all or nothing), nothing of it
  /// was written, and each of its bodies is applied again alone, in arrival order, so that only
  /// the bodies that fail by themselves get an error and the others commit (a store that is down
  /// fails every one of them: each caller gets an error and answers non-200, so Meta redelivers).
  /// An exception thrown by the store is handled the same way: a unit of several bodies that
  /// throws is retried body by body, and a body that throws alone has its exception rethrown
  /// from its own caller's `apply`. No caller returns before its own unit has ended, and none is
  /// told its body committed unless the store committed it.
  Result<ApplyOutcome> apply(const WebhookBatch& body);

  /// Callers waiting for a unit to take their body (not counting the bodies of the unit running).
  std::size_t waiting() const;
  GroupCommitStats stats() const;
  const GroupCommitOptions& options() const noexcept { return options_; }

 private:
  struct Waiter;
  struct State;
  void run(Waiter* unit, std::size_t count);

  TicketAggregator& tickets_;
  GroupCommitOptions options_;
  std::unique_ptr<State> state_;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
