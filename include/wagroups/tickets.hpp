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
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wagroups/error.hpp"
#include "wagroups/export.hpp"
#include "wagroups/models/common.hpp"
#include "wagroups/options.hpp"
#include "wagroups/webhook_events.hpp"

namespace wagroups {

class Client;

// ---------------------------------------------------------------------------------------------
// Model

/// Where a ticket is in its life.
enum class TicketState {
  unlinked,             ///< events for a group whose creation this store has not seen (yet)
  create_requested,     ///< create_group answered with a request_id; no group yet
  creation_failed,      ///< the lifecycle webhook reported failure
  awaiting_first_join,  ///< the group exists; nobody joined, so the business may not message it
  open,                 ///< someone joined: the conversation is live
  resolved,             ///< resolved (by an agent or the idle policy); a new inbound message reopens it
  closed,               ///< closed (by an agent, the policy, or the group's deletion); final
};

WAGROUPS_API const char* to_string(TicketState state) noexcept;
WAGROUPS_API std::optional<TicketState> parse_ticket_state(std::string_view text) noexcept;

/// Who a person is. From 2026 the phone may be missing and the BSUID is the identity. Two keys
/// denote the same person when their BSUIDs are equal, or (when either lacks a BSUID) their phones are.
struct PersonKey {
  std::optional<std::string> phone;     ///< wa_id / from / input / recipient_participant_id
  std::optional<std::string> bsuid;     ///< user_id / from_user_id / recipient_participant_user_id
  std::optional<std::string> username;
  /// "bsuid:<id>" when a BSUID is known, else "phone:<number>", else "".
  WAGROUPS_API std::string canonical() const;
  bool empty() const noexcept { return !phone && !bsuid; }
};

/// A member's standing in the group.
enum class MemberStatus { invited, join_requested, join_request_revoked, joined, left, removed };

WAGROUPS_API const char* to_string(MemberStatus status) noexcept;
WAGROUPS_API std::optional<MemberStatus> parse_member_status(std::string_view text) noexcept;

struct Member {
  PersonKey person;
  MemberStatus status = MemberStatus::invited;
  std::int64_t status_since = 0;  ///< timestamp of the fact that set `status`
  std::optional<std::string> join_request_id;
  std::int64_t join_request_at = 0;  ///< timestamp of the join-request fact that set `join_request_id`
  std::optional<std::string> contact_name;
  std::int64_t contact_name_at = 0;  ///< timestamp of the message that set `contact_name`
  std::optional<std::int64_t> first_joined_at;
};

/// A 1:1 template invitation carrying the group's invite link.
struct Invite {
  std::string phone;                      ///< the invitee
  std::int64_t sent_at = 0;               ///< when the send was attempted
  std::optional<std::string> message_id;  ///< wamid, when Meta accepted the send
  DeliveryStatus status = DeliveryStatus::unknown;  ///< from the 1:1 status webhooks
  std::optional<std::string> error;       ///< the send's failure (Error::to_string), or a failed status's
};

enum class MessageDirection { inbound, outbound };

/// One message in the ticket's timeline.
struct TimelineMessage {
  std::string message_id;  ///< wamid
  MessageDirection direction = MessageDirection::inbound;
  std::int64_t timestamp = 0;
  PersonKey sender;  ///< inbound: the member; outbound: empty (the business)
  std::optional<std::string> contact_name;
  std::optional<std::string> agent;  ///< outbound: who sent it, when recorded through the aggregator
  std::string type;                  ///< "text", "image", ..., "unsupported"
  std::optional<std::string> text;
  std::optional<std::string> caption;
  std::optional<std::string> media_id;
  std::optional<std::string> reply_to;  ///< the quoted message id
  /// Outbound: delivery per participant (PersonKey::canonical()), only ever moving forward.
  std::map<std::string, DeliveryStatus> delivery;
  /// Outbound: the group-wide status (`sent`, or `failed` with no participant).
  DeliveryStatus group_status = DeliveryStatus::unknown;
  std::vector<ItemError> errors;
};

struct Ticket {
  std::string ticket_id;
  std::optional<std::string> group_id;
  std::optional<std::string> request_id;
  std::string phone_number_id;
  std::optional<std::string> subject;
  std::optional<std::string> description;
  /// Timestamps of the webhook facts that set `subject` / `description` (last writer wins); unset
  /// while the value is only the agent's (`open_ticket`), which any webhook value overrides.
  std::optional<std::int64_t> subject_changed_at;
  std::optional<std::int64_t> description_changed_at;
  std::optional<std::string> assignee;  ///< the agent who opened the ticket
  std::optional<std::string> invite_link;
  TicketState state = TicketState::unlinked;  ///< derived from the facts below and the policy
  bool group_created = false;  ///< the group_create webhook (success) was applied
  bool suspended = false;
  std::int64_t suspension_changed_at = 0;  ///< timestamp of the latest suspend/clear fact
  bool group_deleted = false;
  std::optional<std::int64_t> deleted_at;
  std::vector<ItemError> creation_errors;
  std::vector<Member> members;             ///< sorted by PersonKey::canonical()
  std::vector<Invite> invites;             ///< in sending order
  std::vector<TimelineMessage> timeline;   ///< sorted by (timestamp, message_id)
  std::optional<std::int64_t> created_at;  ///< the group's creation (or the create request)
  std::optional<std::int64_t> first_join_at;
  std::int64_t last_activity_at = 0;       ///< latest message either way, or creation
  std::optional<std::int64_t> last_inbound_at;
  std::optional<std::int64_t> resolved_at;
  std::optional<std::int64_t> closed_at;

  /// Seats taken: the business plus members joined or with a pending join request or invite
  /// outstanding. Meta's limit is 8 including the business.
  WAGROUPS_API int seats_taken() const noexcept;
  WAGROUPS_API const Member* find_member(const PersonKey& person) const noexcept;
  WAGROUPS_API const TimelineMessage* find_message(std::string_view message_id) const noexcept;
};

/// Meta's per-group limit, including the business number.
inline constexpr int max_group_seats = 8;

WAGROUPS_API bool operator==(const PersonKey& a, const PersonKey& b) noexcept;
WAGROUPS_API bool operator==(const Member& a, const Member& b) noexcept;
WAGROUPS_API bool operator==(const Invite& a, const Invite& b) noexcept;
WAGROUPS_API bool operator==(const TimelineMessage& a, const TimelineMessage& b) noexcept;
WAGROUPS_API bool operator==(const Ticket& a, const Ticket& b) noexcept;
inline bool operator!=(const Ticket& a, const Ticket& b) noexcept { return !(a == b); }

/// A ticket as JSON (stable, versioned: {"v":1,...}) and back; what SqliteTicketStore stores and
/// what a host may put in its own database.
WAGROUPS_API std::string to_json(const Ticket& ticket);
WAGROUPS_API Result<Ticket> ticket_from_json(std::string_view json);

// ---------------------------------------------------------------------------------------------
// Store

/// A ticket with its version: 1 after the first save, +1 for every transaction that wrote it
/// (for optimistic concurrency in host code, UI caching, and change detection).
struct StoredTicket {
  Ticket ticket;
  std::int64_t version = 0;
};

/// Filters for listing tickets.
struct TicketQuery {
  std::optional<TicketState> state;
  std::optional<std::string> assignee;
  std::optional<std::string> group_id;
  std::size_t limit = 100;
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
};

/// Thread-safe, in memory (tests, demos, and hosts that persist elsewhere). Writes happen in place
/// under one lock. With `copy_on_write` (the default) each ticket is copied when a unit first
/// fetches it, so a failing `work` rolls back exactly; without it a unit that fails after writing
/// keeps its writes. The aggregator never fails after its first write, so a host that writes only
/// through the aggregator may turn copying off to save a copy of each touched ticket per unit.
/// Every ticket a unit fetched counts as written (its version moves on).
class WAGROUPS_API InMemoryTicketStore final : public TicketStore {
 public:
  explicit InMemoryTicketStore(bool copy_on_write = true);
  ~InMemoryTicketStore() override;
  Result<void> transact(const std::function<Result<void>(TicketTransaction&)>& work) override;
  Result<std::optional<StoredTicket>> load(const std::string& ticket_id) override;
  Result<std::optional<std::string>> find_by_group(const std::string& group_id) override;
  Result<std::optional<std::string>> find_by_request(const std::string& request_id) override;
  Result<std::vector<StoredTicket>> list(const TicketQuery& query) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---------------------------------------------------------------------------------------------
// Aggregation

/// The stable dedupe key of an event: the message id for messages; message id + status +
/// participant for statuses; group id + type + request id + timestamp (+ the people involved) for
/// group events. Unset for events tickets ignore.
WAGROUPS_API std::optional<std::string> event_key(const WebhookEvent& event);

/// What applying changed, so a host can push UI updates.
enum class TicketChangeKind {
  ticket_created,
  ticket_linked,       ///< the group id was attached to a create request's ticket
  message_appended,
  status_advanced,
  roster_changed,
  invite_updated,
  state_changed,
  fields_changed,      ///< subject, invite link, suspension, ...
  duplicate_ignored,   ///< the event's key was already applied: nothing changed
  not_applicable,      ///< an event tickets do not use (unknown fields, 1:1 messages, ...)
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
  WAGROUPS_API bool changed_anything() const noexcept;
};

/// Per-inbox rules for time-based transitions.
struct ResolutionPolicy {
  /// Resolve an open ticket after this long without messages either way (0 = never).
  std::chrono::minutes auto_resolve_after{0};
  /// Close a resolved ticket this long after it was resolved (0 = never).
  std::chrono::minutes auto_close_after{0};
  /// A new inbound message reopens a resolved ticket.
  bool reopen_on_inbound = true;
};

/// What the host tells the aggregator when an agent opens a group ticket.
/// Ticket ids are derived, so that every delivery order names the ticket alike: "T-<request_id>"
/// for a group created through `open_ticket`/a lifecycle webhook with a request id, "G-<group_id>"
/// for a group seen only through its events. Hosts map them to their own ids.
struct OpenTicketRequest {
  std::string request_id;  ///< from create_group's answer
  std::string phone_number_id;
  std::string assignee;    ///< the agent
  std::optional<std::string> subject;
  std::optional<std::int64_t> requested_at;  ///< Unix seconds; default: the clock
};

/// The derived id for a create request / a group known only by its events.
WAGROUPS_API std::string ticket_id_for_request(std::string_view request_id);
WAGROUPS_API std::string ticket_id_for_group(std::string_view group_id);

/// Applies events to tickets through a `TicketStore`. Idempotent and order-tolerant; safe to call
/// from several threads (conflicts are retried). A store failure is returned as an error and
/// nothing is recorded, so the host answers non-200 and Meta's redelivery applies it later.
class WAGROUPS_API TicketAggregator {
 public:
  explicit TicketAggregator(TicketStore& store, ResolutionPolicy policy = {}, Clock clock = {});

  /// Records the agent's create request (ticket in `create_requested`, or, when the group's
  /// webhook already arrived, the assignee and subject set on that ticket).
  Result<ApplyOutcome> open_ticket(const OpenTicketRequest& request);
  /// One event. Events whose ticket does not exist yet (a message before the group's creation) are
  /// kept on an `unlinked` ticket for the group and merged when the group is linked.
  Result<ApplyOutcome> apply(const WebhookEvent& event);
  /// Several events in one store transaction (much faster with SQLite). All or nothing.
  Result<ApplyOutcome> apply(const std::vector<WebhookEvent>& events);
  Result<ApplyOutcome> apply(const WebhookBatch& batch);
  /// Records a message the business sent to the group (so statuses attach to it).
  Result<ApplyOutcome> record_outbound(const std::string& ticket_id, const std::string& message_id,
                                       std::string type, std::optional<std::string> text,
                                       std::optional<std::string> agent = std::nullopt);
  /// Records an invitation sent (or attempted) for the ticket; `invite.message_id` becomes a lookup
  /// so that its 1:1 status webhooks update it. A second record for the same phone replaces the
  /// first only when it is newer (`sent_at`).
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

// ---------------------------------------------------------------------------------------------
// Invite flow

/// The approved 1:1 template that carries the invite link.
struct InviteTemplate {
  std::string name;
  std::string language = "en_US";
  /// The body variable that takes the link: its position (1-based) for positional templates...
  int link_parameter_index = 1;
  /// ...or its name for named-parameter templates (takes precedence when set).
  std::optional<std::string> link_parameter_name;
  /// Other body variables, in order (the link is inserted at its position).
  std::vector<std::string> other_parameters;
  /// Named-parameter templates: the other body variables as (name, value), sent in this order.
  std::vector<std::pair<std::string, std::string>> other_named_parameters;
  /// Send the link variable as a `group_id` parameter (Meta's Template Library invite template):
  /// Meta substitutes the group's invite link on delivery, so the link is never fetched.
  bool link_as_group_id = false;
};

struct InviteResult {
  std::string phone;
  std::optional<std::string> message_id;
  std::optional<Error> error;
};

/// Sends the group's invite link to each invitee by template and records each outcome on the
/// ticket. Refuses (invalid_argument, field "invitees", before sending anything) when the seats
/// would exceed 8 including the business, when the ticket has no group yet, or when an invitee is
/// already a member or invited.
///
/// Before any network call it refuses (invalid_argument, `field` and `limit` set): an unknown ticket
/// or one without a created, open group ("ticket_id"); an empty list ("invitees"); an invalid or
/// repeated number ("+1 650-555-1234" and "16505551234" are one), a member joined, requesting or
/// removed, or a number with an outstanding invite ("invitees[i]"); too many seats ("invitees").
/// The link is the ticket's `invite_link`, else `Client::get_invite_link` (its error is returned
/// before any invite is sent); with `link_as_group_id` Meta fills it in. Numbers are sent and
/// recorded as digits. One failed send does not stop the others: the results list every invitee in
/// order, each with its message id or error, and a failed send is recorded with status `failed`
/// (freeing the seat). A store error while recording stops the round and is returned: the earlier
/// outcomes are on the ticket, the one named in the message happened but is not recorded (call
/// `record_invite` with it; until then its status webhooks find no ticket), the later invitees were
/// not sent (send to them again).
WAGROUPS_API Result<std::vector<InviteResult>> send_invites(const Client& client, TicketAggregator& tickets,
                                                           const std::string& ticket_id,
                                                           const InviteTemplate& invite_template,
                                                           const std::vector<std::string>& invitee_phones);

}  // namespace wagroups
