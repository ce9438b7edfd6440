#pragma once

/// @file
/// The group ticket: one WhatsApp group, one CRM ticket, the whole conversation (a value type),
/// and its stable JSON form.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wagroups/export.hpp"
#include "wagroups/result.hpp"
#include "wagroups/webhook/events.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// Where a ticket is in its life.
enum class TicketState {
  unlinked,             ///< events for a group whose creation this store has not seen (yet)
  create_requested,     ///< open_ticket recorded the create request; no group yet
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
  std::optional<std::string> phone;  ///< wa_id / from / input / recipient_participant_id
  std::optional<std::string> bsuid;  ///< user_id / from_user_id / recipient_participant_user_id
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
  std::string phone;                                ///< the invitee
  std::int64_t sent_at = 0;                         ///< when the send was attempted
  std::optional<std::string> message_id;            ///< wamid, when Meta accepted the send
  DeliveryStatus status = DeliveryStatus::unknown;  ///< from the 1:1 status webhooks
  std::optional<std::string> error;                 ///< the send's failure (Error::to_string), or a failed status's
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
  /// `open_ticket` was applied to this ticket (an agent opened it). A ticket the group_create
  /// webhook made before any `open_ticket` is unclaimed until one without a request id claims it
  /// by phone number id and subject (see `OpenTicketRequest`).
  bool opened_by_host = false;
  std::optional<std::string> invite_link;
  TicketState state = TicketState::unlinked;  ///< derived from the facts below and the policy
  bool group_created = false;                 ///< the group_create webhook (success) was applied
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
  std::int64_t last_activity_at = 0;  ///< latest message either way, or creation
  std::optional<std::int64_t> last_inbound_at;
  std::optional<std::int64_t> resolved_at;
  std::optional<std::int64_t> closed_at;

  /// Seats taken: the business plus members joined or with a pending join request or invite
  /// outstanding. Meta's limit is 8 including the business.
  WAGROUPS_API int seats_taken() const noexcept;
  WAGROUPS_API const Member* find_member(const PersonKey& person) const noexcept;
  WAGROUPS_API const TimelineMessage* find_message(std::string_view message_id) const noexcept;
};

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

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
