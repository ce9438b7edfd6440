#pragma once

/// @file
/// `TicketStore`: the storage a host implements for tickets, one atomic unit of work at a time.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "wagroups/export.hpp"
#include "wagroups/result.hpp"
#include "wagroups/tickets/ticket.hpp"
#include "wagroups/webhook/dead_letter.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// A ticket with its version: 1 after the first save, +1 for every transaction that wrote it
/// (for optimistic concurrency in host code, UI caching, and change detection).
struct StoredTicket {
  Ticket ticket;
  std::int64_t version = 0;
};

/// A stored ticket a database store could not decode (hand-edited, or damaged on disk): which,
/// and why (see `SqliteTicketStore::list_checked`, `PostgresTicketStore::list_checked`).
struct UnreadableTicket {
  std::string ticket_id;
  Error error;  ///< ErrorCode::storage, naming the ticket and the first malformed spot
};

/// What a `list_checked` found: the tickets that decode, and the rows that do not.
struct TicketListing {
  std::vector<StoredTicket> tickets;
  std::vector<UnreadableTicket> unreadable;
};

/// Filters for listing tickets.
struct TicketQuery {
  std::optional<TicketState> state;
  std::optional<std::string> assignee;
  std::optional<std::string> group_id;
  std::size_t limit = 100;
  /// Deadlines (Unix seconds): only tickets with `last_activity_at` <= this / with a `resolved_at`
  /// <= this. `TicketAggregator::tick` asks for the due tickets this way; the given stores answer
  /// from an index, so a tick visits only tickets whose deadline has come. After `limit`, so that
  /// a host's positional `TicketQuery{state, assignee, group_id, limit}` keeps its meaning.
  std::optional<std::int64_t> last_activity_at_most;
  std::optional<std::int64_t> resolved_at_most;
};

/// The reads and writes of one atomic unit of work (see `TicketStore::transact`). Tickets fetched
/// here are writable in place; everything written becomes visible, durable and versioned together
/// when the unit ends successfully, or not at all.
class WAGROUPS_API TicketTransaction {
 public:
  virtual ~TicketTransaction() = default;
  /// The ticket, loaded at most once per transaction; null when there is none.
  virtual Result<Ticket*> ticket(const std::string& ticket_id) = 0;
  /// Adds a ticket (ErrorCode::conflict, field "ticket_id", when the id exists).
  virtual Result<Ticket*> insert(Ticket ticket) = 0;
  /// Removes a ticket (e.g. an unlinked fragment merged into its ticket); no-op when absent.
  virtual Result<void> erase(const std::string& ticket_id) = 0;
  /// Lookups, seeing this transaction's own writes.
  virtual Result<std::optional<std::string>> find_by_group(const std::string& group_id) = 0;
  virtual Result<std::optional<std::string>> find_by_request(const std::string& request_id) = 0;
  virtual Result<std::optional<std::string>> find_by_message(const std::string& message_id) = 0;
  /// Declares that `message_id` (a timeline or invite message) now lives on `ticket_id`. Group and
  /// request lookups follow the tickets' own `group_id` / `request_id`; message lookups are
  /// declared, because re-indexing a long timeline on every event would cost its length.
  virtual Result<void> index_message(const std::string& message_id, const std::string& ticket_id) = 0;
  /// Whether the event key was recorded, by an earlier transaction or this one.
  virtual Result<bool> applied(const std::string& event_key) = 0;
  virtual Result<void> record(const std::string& event_key) = 0;

  /// Incremental writes. `ticket` hands out the whole ticket, and a store must treat all of it as
  /// written: keep it whole for rollback, write it whole. A unit that changes a little of a long
  /// ticket uses `edit` instead and declares its timeline changes before making them:
  /// `changing_message` before a message is added, changed (also its timestamp or position) or
  /// removed, and `changing_timeline` before any change it does not declare message by message.
  /// Everything but `timeline` (the head: fields, members, invites) may be written freely. The
  /// store then keeps undo for, and writes, only the head and the declared messages, so the unit's
  /// cost does not grow with the conversation. The aggregator works this way. These defaults treat
  /// `edit` as `ticket` and ignore the declarations, which is always correct.
  virtual Result<Ticket*> edit(const std::string& ticket_id) { return ticket(ticket_id); }
  virtual Result<void> changing_message(const std::string& ticket_id, const std::string& message_id) {
    (void)ticket_id;
    (void)message_id;
    return {};
  }
  virtual Result<void> changing_timeline(const std::string& ticket_id) {
    (void)ticket_id;
    return {};
  }
};

/// The storage the host implements (InMemoryTicketStore and SqliteTicketStore are given).
/// `transact` runs `work` as one atomic, isolated unit (one lock, or one database transaction):
/// it commits what `work` wrote when `work` returns ok, and when `work` fails it writes nothing
/// and returns that error. Storage failures are ErrorCode::storage. Every method is thread-safe.
/// A store over a database without multi-row transactions can implement `transact` with
/// optimistic concurrency on `StoredTicket::version` (reload and rerun `work` on a conflict:
/// `work` is safe to rerun).
class WAGROUPS_API TicketStore {
 public:
  virtual ~TicketStore() = default;

  virtual Result<void> transact(const std::function<Result<void>(TicketTransaction&)>& work) = 0;

  /// Read-only lookups outside a transaction.
  virtual Result<std::optional<StoredTicket>> load(const std::string& ticket_id) = 0;
  virtual Result<std::optional<std::string>> find_by_group(const std::string& group_id) = 0;
  virtual Result<std::optional<std::string>> find_by_request(const std::string& request_id) = 0;
  virtual Result<std::vector<StoredTicket>> list(const TicketQuery& query) = 0;
  /// The ids `list(query)` would return, in the same order, without loading the tickets. The
  /// default calls `list`; the given stores answer from their indexes.
  virtual Result<std::vector<std::string>> list_ids(const TicketQuery& query);

  /// Dead letters: verified webhook bodies the parser refused (see `DeadLetter`). Optional: these
  /// defaults answer `ErrorCode::unsupported`, so a store that keeps none still compiles, and a
  /// `WebhookEndpoint` over it answers such a body 400 as it would without a sink. A store that
  /// keeps them bounds their number (`DeadLetterLimits`), outside any unit of work.
  /// Keeps `letter` (its `id` is ignored) and returns the id it was given.
  virtual Result<std::int64_t> add_dead_letter(const DeadLetter& letter) {
    (void)letter;
    return Error::unsupported("dead_letters", "this ticket store does not keep dead letters");
  }
  /// Dead letters, newest first.
  virtual Result<std::vector<DeadLetter>> dead_letters(const DeadLetterQuery& query) {
    (void)query;
    return Error::unsupported("dead_letters", "this ticket store does not keep dead letters");
  }
  /// Drops one (once a host has replayed or inspected it); false when there was none with that id.
  virtual Result<bool> erase_dead_letter(std::int64_t id) {
    (void)id;
    return Error::unsupported("dead_letters", "this ticket store does not keep dead letters");
  }
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
