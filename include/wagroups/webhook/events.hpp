#pragma once

/// @file
/// Typed webhook events: one plain struct per item Meta delivers, each keeping its raw JSON.

#include <any>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "wagroups/export.hpp"
#include "wagroups/models/common.hpp"
#include "wagroups/models/participants.hpp"
#include "wagroups/webhook/raw_json.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// Where an event came from, and the envelope facts every event carries.
struct WebhookContext {
  std::string waba_id;               ///< entry[].id: the WhatsApp Business Account
  std::string phone_number_id;       ///< value.metadata.phone_number_id ("" when absent)
  std::string display_phone_number;  ///< value.metadata.display_phone_number ("" when absent)
  std::string field;                 ///< changes[].field exactly as sent
  /// The item's timestamp in Unix seconds, from a string or a number; unset when absent or not an
  /// integer (Meta's documentation samples carry placeholders such as "TIMESTAMP").
  std::optional<std::int64_t> timestamp;
  std::size_t entry_index = 0;   ///< position of the entry in the body
  std::size_t change_index = 0;  ///< position of the change in its entry
  std::size_t item_index = 0;    ///< position of the item in its array (0 for a whole-value event)
};

// ---------------------------------------------------------------------------------------------
// group_lifecycle_update

/// `group_create` without errors: the group exists. `request_id` links it to `create_group`.
struct GroupCreated {
  WebhookContext context;
  std::string group_id;
  std::optional<std::string> request_id;
  std::optional<std::string> subject;
  std::optional<std::string> description;
  std::optional<std::string> invite_link;
  std::optional<JoinApprovalMode> join_approval_mode;  ///< unset when absent or not a known value
  std::vector<Participant> added_participants;         ///< only in the OpenAPI spec's example
  RawJson raw;
};

/// `group_create` with `errors`: creation failed. Meta's sample still carries a `group_id`.
struct GroupCreateFailed {
  WebhookContext context;
  std::optional<std::string> group_id;
  std::optional<std::string> request_id;
  std::optional<std::string> subject;
  std::optional<std::string> description;
  std::vector<ItemError> errors;
  RawJson raw;
};

/// `group_delete` without errors.
struct GroupDeleted {
  WebhookContext context;
  std::string group_id;
  std::optional<std::string> request_id;
  RawJson raw;
};

/// `group_delete` with `errors`.
struct GroupDeleteFailed {
  WebhookContext context;
  std::string group_id;
  std::optional<std::string> request_id;
  std::vector<ItemError> errors;
  RawJson raw;
};

// ---------------------------------------------------------------------------------------------
// group_participants_update (also spelled group_participant_update)

/// `group_participants_add` (or `group_add_participants`): people joined, by invite link or by an
/// approved join request.
struct ParticipantsAdded {
  WebhookContext context;
  std::string group_id;
  std::optional<std::string> reason;  ///< e.g. "invite_link"
  std::optional<std::string> request_id;
  std::vector<Participant> added_participants;
  RawJson raw;
};

/// Who started a removal.
enum class RemovalInitiator { unknown, business, participant };

/// `group_participants_remove` (or `group_remove_participants`): the business removed people
/// (`request_id` set, `removed_participants[].input`) or a participant left (`wa_id`/`user_id`).
/// Removals that failed are in `failed_participants`; an overall error is in `errors`.
struct ParticipantsRemoved {
  WebhookContext context;
  std::string group_id;
  std::optional<std::string> request_id;
  RemovalInitiator initiated_by = RemovalInitiator::unknown;
  std::optional<std::string> initiated_by_raw;  ///< the text Meta sent, when any
  std::vector<Participant> removed_participants;
  std::vector<FailedParticipant> failed_participants;
  std::vector<ItemError> errors;
  RawJson raw;
};

/// `group_join_request_created`: someone asked to join an approval_required group.
struct JoinRequestCreated {
  WebhookContext context;
  std::string group_id;
  std::optional<std::string> join_request_id;
  std::optional<std::string> reason;
  Participant requester;  ///< wa_id / user_id / parent_user_id / username at the item's top level
  RawJson raw;
};

/// `group_join_request_revoked`: the person cancelled their request.
struct JoinRequestRevoked {
  WebhookContext context;
  std::string group_id;
  std::optional<std::string> join_request_id;
  std::optional<std::string> reason;
  Participant requester;
  RawJson raw;
};

// ---------------------------------------------------------------------------------------------
// group_settings_update

/// The outcome of one setting (`group_subject`, `group_description` or `profile_picture`).
struct SettingOutcome {
  std::optional<std::string> text;       ///< subject / description
  std::optional<std::string> mime_type;  ///< profile picture
  std::optional<std::string> sha256;     ///< profile picture
  std::optional<bool> update_successful;
  std::vector<ItemError> errors;
  /// Succeeded: `update_successful` true, or absent with no errors (the OpenAPI example).
  bool succeeded() const noexcept { return update_successful ? *update_successful : errors.empty(); }
};

/// `group_settings_update`: each setting the request changed, with its own outcome.
struct GroupSettingsUpdated {
  WebhookContext context;
  std::string group_id;
  std::optional<std::string> request_id;
  std::optional<SettingOutcome> group_subject;
  std::optional<SettingOutcome> group_description;
  std::optional<SettingOutcome> profile_picture;
  std::vector<ItemError> errors;  ///< the overall error when some setting failed
  /// No overall error and every present setting succeeded.
  bool all_succeeded() const noexcept {
    if (!errors.empty()) return false;
    for (const auto* s : {&group_subject, &group_description, &profile_picture})
      if (*s && !(*s)->succeeded()) return false;
    return true;
  }
  RawJson raw;
};

// ---------------------------------------------------------------------------------------------
// group_status_update

/// `group_suspend`.
struct GroupSuspended {
  WebhookContext context;
  std::string group_id;
  RawJson raw;
};

/// `group_suspend_cleared`.
struct GroupSuspensionCleared {
  WebhookContext context;
  std::string group_id;
  RawJson raw;
};

// ---------------------------------------------------------------------------------------------
// messages: inbound messages and statuses

/// The message a reply quotes (`context`).
struct ReplyContext {
  std::optional<std::string> from;
  std::optional<std::string> id;
};

/// One inbound message (`value.messages[i]`), with the sender's contact entry merged in.
struct InboundMessage {
  WebhookContext context;
  std::string id;                       ///< wamid
  std::string type;                     ///< "text", "image", ..., "unsupported" (kept as sent, never refused)
  std::optional<std::string> group_id;  ///< set for group messages
  // Sender. Phone (`from`) may be absent from 2026 on; the BSUID then identifies the person.
  std::optional<std::string> from;                 ///< phone number
  std::optional<std::string> from_user_id;         ///< BSUID (messages[].from_user_id or contacts[].user_id)
  std::optional<std::string> from_parent_user_id;  ///< parent BSUID
  std::optional<std::string> username;             ///< contacts[].profile.username
  std::optional<std::string> contact_name;         ///< contacts[].profile.name
  std::optional<std::string> contact_wa_id;        ///< contacts[].wa_id
  // Content.
  std::optional<std::string> text;      ///< text.body
  std::optional<std::string> caption;   ///< image/video/document caption
  std::optional<std::string> media_id;  ///< image/video/audio/document/sticker id
  std::optional<std::string> mime_type;
  std::optional<std::string> sha256;
  std::optional<std::string> filename;   ///< document
  std::optional<ReplyContext> reply_to;  ///< `context` of a reply
  std::vector<ItemError> errors;         ///< e.g. code 130501 on `unsupported`
  RawJson raw;

  bool is_unsupported() const noexcept { return type == "unsupported" || type == "unknown"; }
};

/// A message a member sent to a group (`group_id` set).
struct GroupMessageReceived : InboundMessage {};
/// A 1:1 message from a customer to the business number.
struct DirectMessageReceived : InboundMessage {};

/// Delivery states, in the order they can only move forward (`failed` aside).
enum class DeliveryStatus { unknown, sent, delivered, read, played, failed };

WAGROUPS_API const char* to_string(DeliveryStatus status) noexcept;
/// Meta's spelling ("sent", "delivered", ...); `unknown` for anything else.
WAGROUPS_API DeliveryStatus parse_delivery_status(std::string_view text) noexcept;

/// One status object (`value.statuses[i]`) of a message the business sent.
struct MessageStatusData {
  WebhookContext context;
  std::string id;      ///< wamid of the message the status is about
  std::string status;  ///< as sent
  DeliveryStatus delivery_status = DeliveryStatus::unknown;
  std::optional<std::string> recipient_id;       ///< group id for a group send, phone for 1:1
  std::optional<std::string> recipient_type;     ///< "group" for a group send
  std::optional<std::string> recipient_user_id;  ///< 1:1 BSUID
  std::optional<std::string> group_id;           ///< recipient_id of a group send, or the spec's `group_id`
  /// The participant the status is about: `recipient_participant_id`, or Meta's other spelling
  /// `participant_recipient_id`, or, in the OpenAPI spec's shape (`group_id` set and neither of
  /// those), `recipient_id` when it is not the group id. Unset on a group-wide `sent` or `failed`.
  std::optional<std::string> recipient_participant_id;
  /// BSUID: `recipient_participant_user_id`, or in the spec's shape `recipient_user_id`.
  std::optional<std::string> recipient_participant_user_id;
  std::optional<std::string> recipient_participant_parent_user_id;  ///< parent BSUID
  std::optional<std::string> contact_name;  ///< from value.contacts[] when it names this participant
  std::optional<std::string> username;
  std::optional<std::string> conversation_id;
  std::optional<std::string> pricing_category;  ///< e.g. group_utility (inside or beside `conversation`)
  std::optional<std::string> pricing_type;      ///< e.g. regular, free_group_customer_service
  std::optional<std::string> pricing_model;
  std::optional<bool> billable;
  std::optional<std::string> biz_opaque_callback_data;
  std::vector<ItemError> errors;  ///< for `failed`
  RawJson raw;
};

/// A status of a message the business sent to a group: one event per participant status.
struct GroupMessageStatus : MessageStatusData {};
/// A status of a 1:1 message (e.g. the invite template sent to a customer).
struct DirectMessageStatus : MessageStatusData {};

// ---------------------------------------------------------------------------------------------
// everything else

/// A change the SDK has no type for: another `field` (account_update, calls, ...), a group item with
/// an unknown `type`, or a `messages` value without messages or statuses. Never dropped.
struct UnknownEvent {
  WebhookContext context;
  std::optional<std::string> type;  ///< the item's `type` when it had one (unknown group types)
  RawJson raw;                      ///< the change's `value`, or the unknown group item
  std::string raw_json() const { return raw.str(); }
};

/// An event produced by a decoder the host registered for a field (see `WebhookParser`).
struct CustomEvent {
  WebhookContext context;
  std::any payload;  ///< whatever the host decoder returned for this item
  RawJson raw;
};

using WebhookEvent = std::variant<GroupCreated, GroupCreateFailed, GroupDeleted, GroupDeleteFailed, ParticipantsAdded,
                                  ParticipantsRemoved, JoinRequestCreated, JoinRequestRevoked, GroupSettingsUpdated,
                                  GroupSuspended, GroupSuspensionCleared, GroupMessageReceived, GroupMessageStatus,
                                  DirectMessageReceived, DirectMessageStatus, UnknownEvent, CustomEvent>;

/// The SDK's name for an event's kind, stable for logs and the CLI: "group_created",
/// "group_create_failed", "group_deleted", "group_delete_failed", "participants_added",
/// "participants_removed", "join_request_created", "join_request_revoked",
/// "group_settings_updated", "group_suspended", "group_suspension_cleared",
/// "group_message", "group_message_status", "message", "message_status", "unknown", "custom".
WAGROUPS_API const char* kind_of(const WebhookEvent& event) noexcept;
WAGROUPS_API const WebhookContext& context_of(const WebhookEvent& event) noexcept;
/// The group the event concerns, when it concerns one.
WAGROUPS_API std::optional<std::string> group_id_of(const WebhookEvent& event);
/// The `request_id` of a business-initiated group operation, when the event carries one.
WAGROUPS_API std::optional<std::string> request_id_of(const WebhookEvent& event);

/// Everything one POST body carried.
struct WebhookBatch {
  std::string object;  ///< "whatsapp_business_account"
  std::vector<WebhookEvent> events;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
