#pragma once

/// @file
/// Group tickets: one WhatsApp group, one CRM ticket, the whole conversation, built from webhook
/// events exactly once however often and in whatever order Meta delivers them.
///
/// The ticket is a deterministic function of the *set* of facts applied to it: the timeline is kept
/// sorted, delivery statuses only move forward, roster entries keep the latest fact by timestamp, and
/// the state is derived from the facts. So duplicates and reorderings converge on the ticket a
/// single in-order delivery gives; dedupe keys in the store only make the repeats cheap.
///
///     InMemoryTicketStore store;                   // or SqliteTicketStore (wagroups::sqlite)
///     TicketAggregator tickets(store);
///     auto created = client.create_group({"Order #1042"});
///     tickets.open_ticket({*created->request_id, phone_number_id, "agent-7", "Order #1042"});
///     // in the webhook endpoint, after verify + parse:
///     auto outcome = tickets.apply(*batch);       // error => answer non-200, Meta redelivers

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wagroups/client/options.hpp"
#include "wagroups/export.hpp"
#include "wagroups/result.hpp"
#include "wagroups/tickets/policy.hpp"
#include "wagroups/tickets/store.hpp"
#include "wagroups/tickets/ticket.hpp"
#include "wagroups/webhook/events.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// The stable dedupe key of an event: the message id for messages; message id + status +
/// participant for statuses; group id + type + request id + timestamp (+ the people involved) for
/// group events. Unset for events tickets ignore.
WAGROUPS_API std::optional<std::string> event_key(const WebhookEvent& event);

/// What applying changed, so a host can push UI updates.
enum class TicketChangeKind {
  ticket_created,
  ticket_linked,  ///< the group id was attached to a create request's ticket
  message_appended,
  status_advanced,
  roster_changed,
  invite_updated,
  state_changed,
  fields_changed,     ///< subject, invite link, suspension, ...
  duplicate_ignored,  ///< the event's key was already applied: nothing changed
  not_applicable,     ///< an event tickets do not use (unknown fields, 1:1 messages, ...)
};

WAGROUPS_API const char* to_string(TicketChangeKind kind) noexcept;

struct TicketChange {
  TicketChangeKind kind = TicketChangeKind::not_applicable;
  std::string ticket_id;  ///< empty for duplicate_ignored / not_applicable
  std::optional<std::string> message_id;
  std::optional<TicketState> from_state;
  std::optional<TicketState> to_state;
};

struct ApplyOutcome {
  std::vector<TicketChange> changes;
  /// `open_ticket`: the ticket it opened or claimed (also when nothing changed); empty otherwise.
  std::string ticket_id;
  WAGROUPS_API bool changed_anything() const noexcept;
};

/// What the host tells the aggregator when an agent opens a group ticket.
/// Ticket ids are derived, so that every delivery order names the ticket alike: "T-<request_id>"
/// for a group created through `open_ticket`/a lifecycle webhook with a request id, "G-<group_id>"
/// for a group seen only through its events. Hosts map them to their own ids.
///
/// Without a request id (Meta's narrative documents none in create's answer) the ticket is matched
/// to its group_create webhook by `phone_number_id` and `subject`, both then required, within the
/// policy's `create_match_window`. When `open_ticket` comes first it opens "C-<hash>-<requested_at>"
/// (`ticket_id_for_create`), and the webhook links the oldest such ticket of that number and subject
/// still waiting; when the webhook came first, `open_ticket` claims the oldest unclaimed ticket the
/// webhook made ("T-<request_id>", "G-<group_id>", or for a failed create without either
/// "F-<hash>-<timestamp>"). Either way the id it reports in `ApplyOutcome::ticket_id` stays the
/// ticket's id. Subjects are compared trimmed, as the client sends them. Repeating a call with the
/// same `requested_at` is idempotent; without `requested_at`, a call for the same number, subject
/// and assignee up to 60 s after an earlier one is its retry and gets that call's ticket (two real
/// creates of one subject within a minute then need distinct `requested_at` values).
struct OpenTicketRequest {
  std::string request_id;  ///< from create_group's answer; empty when it carried none
  std::string phone_number_id;
  std::string assignee;  ///< the agent
  std::optional<std::string> subject;
  std::optional<std::int64_t> requested_at;  ///< Unix seconds; default: the clock
};

/// The derived id for a create request / a group known only by its events.
WAGROUPS_API std::string ticket_id_for_request(std::string_view request_id);
WAGROUPS_API std::string ticket_id_for_group(std::string_view group_id);
/// The id `open_ticket` gives a create request without request id when it comes before the webhook.
WAGROUPS_API std::string ticket_id_for_create(std::string_view phone_number_id, std::string_view subject,
                                              std::int64_t requested_at);

/// Applies events to tickets through a `TicketStore`. Idempotent and order-tolerant; safe to call
/// from several threads (conflicts are retried). A store failure is returned as an error and
/// nothing is recorded, so the host answers non-200 and Meta's redelivery applies it later.
class WAGROUPS_API TicketAggregator {
 public:
  explicit TicketAggregator(TicketStore& store, ResolutionPolicy policy = {}, Clock clock = {});

  /// Records the agent's create request (ticket in `create_requested`, or, when the group's
  /// webhook already arrived, the assignee and subject set on that ticket). Text that is not
  /// valid UTF-8 is refused (invalid_argument naming the field; nothing stored).
  Result<ApplyOutcome> open_ticket(const OpenTicketRequest& request);
  /// One event. Events whose ticket does not exist yet (a message before the group's creation) are
  /// kept on an `unlinked` ticket for the group and merged when the group is linked.
  Result<ApplyOutcome> apply(const WebhookEvent& event);
  /// Several events in one store transaction (much faster with SQLite). All or nothing.
  Result<ApplyOutcome> apply(const std::vector<WebhookEvent>& events);
  Result<ApplyOutcome> apply(const WebhookBatch& batch);
  /// Several webhook bodies in one store unit (group commit: one transaction, one fsync, for many
  /// concurrent POSTs); outcome i is body i's. All or nothing: when one body fails, nothing is
  /// written and its error is returned, so a caller applies the bodies one by one to isolate it.
  Result<std::vector<ApplyOutcome>> apply_each(const std::vector<const WebhookBatch*>& bodies);
  /// Records a message the business sent to the group (so statuses attach to it). Text that is
  /// not valid UTF-8 is refused (invalid_argument naming the field; nothing stored).
  Result<ApplyOutcome> record_outbound(const std::string& ticket_id, const std::string& message_id, std::string type,
                                       std::optional<std::string> text,
                                       std::optional<std::string> agent = std::nullopt);
  /// Records an invitation sent (or attempted) for the ticket; `invite.message_id` becomes a lookup
  /// so that its 1:1 status webhooks update it. A second record for the same phone replaces the
  /// first only when it is newer (`sent_at`). A phone or message id that is not valid UTF-8 is
  /// refused; an `error` that is not is repaired (each bad byte becomes U+FFFD).
  Result<ApplyOutcome> record_invite(const std::string& ticket_id, Invite invite);
  /// Agent actions.
  Result<ApplyOutcome> resolve(const std::string& ticket_id);
  Result<ApplyOutcome> close(const std::string& ticket_id);
  /// Time-based transitions of the policy at `now` (resolve idle tickets, close resolved ones).
  Result<ApplyOutcome> tick(std::chrono::system_clock::time_point now);
  /// `tick` at the clock's now.
  Result<ApplyOutcome> tick();

  const ResolutionPolicy& policy() const noexcept { return policy_; }
  TicketStore& store() const noexcept { return store_; }

 private:
  TicketStore& store_;
  ResolutionPolicy policy_;
  Clock clock_;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
