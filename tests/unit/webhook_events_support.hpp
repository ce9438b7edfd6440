#pragma once

// Shared by the typed webhook event tests (test_webhook_events_*.cpp): fixture bodies (files under
// tests/data/webhooks), envelope builders for the small inline bodies, parse helpers that require
// wire-valid JSON, and a text dump of every modelled field of an event.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include "json/rapidjson.hpp"
#include <rapidjson/document.h>

#include "fixtures.hpp"
#include "wagroups/webhook.hpp"
#include "wagroups/webhook/events.hpp"
#include "webhook_test_support.hpp"

namespace webhook_events_test {

using namespace wagroups;
using wagroups_test::kUnset;
using wagroups_test::person;
using wagroups_test::shown;
using wagroups_test::Text;

// Expected values (rendering and `person` are in webhook_test_support.hpp).
inline Participant by_input(Text input, Text wa_id = {}) {
  return person(std::move(wa_id), {}, {}, {}, std::move(input));
}

inline ItemError item_error(int code, Text title, Text message, Text details, Text href = {}) {
  ItemError e;
  e.code = code;
  e.title = std::move(title);
  e.message = std::move(message);
  e.details = std::move(details);
  e.href = std::move(href);
  return e;
}

inline SettingOutcome outcome(Text text, Text mime_type, Text sha256, std::optional<bool> ok,
                              std::vector<ItemError> errors = {}) {
  SettingOutcome s;
  s.text = std::move(text);
  s.mime_type = std::move(mime_type);
  s.sha256 = std::move(sha256);
  s.update_successful = ok;
  s.errors = std::move(errors);
  return s;
}

// Every modelled field of an event, for comparing two parses of equivalent bodies.
inline std::string dump_message(const InboundMessage& m) {
  return shown(m.context) + " id=" + m.id + " type=" + m.type + " group_id=" + shown(m.group_id) +
         " from=" + shown(m.from) + " from_user_id=" + shown(m.from_user_id) +
         " from_parent_user_id=" + shown(m.from_parent_user_id) + " username=" + shown(m.username) +
         " contact_name=" + shown(m.contact_name) + " contact_wa_id=" + shown(m.contact_wa_id) +
         " text=" + shown(m.text) + " caption=" + shown(m.caption) + " media_id=" + shown(m.media_id) +
         " mime_type=" + shown(m.mime_type) + " sha256=" + shown(m.sha256) + " filename=" + shown(m.filename) +
         " reply_to=" + shown(m.reply_to) + " errors=" + shown(m.errors);
}

inline std::string dump_status(const MessageStatusData& s) {
  return shown(s.context) + " id=" + s.id + " status=" + s.status + " delivery=" + to_string(s.delivery_status) +
         " recipient_id=" + shown(s.recipient_id) + " recipient_type=" + shown(s.recipient_type) +
         " recipient_user_id=" + shown(s.recipient_user_id) + " group_id=" + shown(s.group_id) +
         " participant=" + shown(s.recipient_participant_id) +
         " participant_user_id=" + shown(s.recipient_participant_user_id) +
         " participant_parent_user_id=" + shown(s.recipient_participant_parent_user_id) +
         " contact_name=" + shown(s.contact_name) + " username=" + shown(s.username) +
         " conversation_id=" + shown(s.conversation_id) + " category=" + shown(s.pricing_category) +
         " pricing_type=" + shown(s.pricing_type) + " pricing_model=" + shown(s.pricing_model) +
         " billable=" + shown(s.billable) + " biz_opaque=" + shown(s.biz_opaque_callback_data) +
         " errors=" + shown(s.errors);
}

inline std::string dump(const WebhookEvent& event) {
  std::string out = std::string(kind_of(event)) + " ";
  std::visit(
      [&out](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, GroupCreated>) {
          out += shown(e.context) + " group_id=" + e.group_id + " request_id=" + shown(e.request_id) +
                 " subject=" + shown(e.subject) + " description=" + shown(e.description) +
                 " invite_link=" + shown(e.invite_link) + " mode=" + shown(e.join_approval_mode) +
                 " added=" + shown(e.added_participants);
        } else if constexpr (std::is_same_v<T, GroupCreateFailed>) {
          out += shown(e.context) + " group_id=" + shown(e.group_id) + " request_id=" + shown(e.request_id) +
                 " subject=" + shown(e.subject) + " description=" + shown(e.description) + " errors=" + shown(e.errors);
        } else if constexpr (std::is_same_v<T, GroupDeleted>) {
          out += shown(e.context) + " group_id=" + e.group_id + " request_id=" + shown(e.request_id);
        } else if constexpr (std::is_same_v<T, GroupDeleteFailed>) {
          out += shown(e.context) + " group_id=" + e.group_id + " request_id=" + shown(e.request_id) +
                 " errors=" + shown(e.errors);
        } else if constexpr (std::is_same_v<T, ParticipantsAdded>) {
          out += shown(e.context) + " group_id=" + e.group_id + " reason=" + shown(e.reason) +
                 " request_id=" + shown(e.request_id) + " added=" + shown(e.added_participants);
        } else if constexpr (std::is_same_v<T, ParticipantsRemoved>) {
          out += shown(e.context) + " group_id=" + e.group_id + " request_id=" + shown(e.request_id) +
                 " initiated_by=" + shown(e.initiated_by) + " raw=" + shown(e.initiated_by_raw) +
                 " removed=" + shown(e.removed_participants) + " failed=" + shown(e.failed_participants) +
                 " errors=" + shown(e.errors);
        } else if constexpr (std::is_same_v<T, JoinRequestCreated> || std::is_same_v<T, JoinRequestRevoked>) {
          out += shown(e.context) + " group_id=" + e.group_id + " join_request_id=" + shown(e.join_request_id) +
                 " reason=" + shown(e.reason) + " requester=" + shown(e.requester);
        } else if constexpr (std::is_same_v<T, GroupSettingsUpdated>) {
          out += shown(e.context) + " group_id=" + e.group_id + " request_id=" + shown(e.request_id) +
                 " subject=" + shown(e.group_subject) + " description=" + shown(e.group_description) +
                 " picture=" + shown(e.profile_picture) + " errors=" + shown(e.errors) +
                 " all_succeeded=" + (e.all_succeeded() ? "yes" : "no");
        } else if constexpr (std::is_same_v<T, GroupSuspended> || std::is_same_v<T, GroupSuspensionCleared>) {
          out += shown(e.context) + " group_id=" + e.group_id;
        } else if constexpr (std::is_base_of_v<InboundMessage, T>) {
          out += dump_message(e);
        } else if constexpr (std::is_base_of_v<MessageStatusData, T>) {
          out += dump_status(e);
        } else if constexpr (std::is_same_v<T, UnknownEvent>) {
          out += shown(e.context) + " type=" + shown(e.type);
        } else {
          out += shown(e.context);
        }
      },
      event);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fixture building blocks: the envelope is always the same, so scenarios write only their items.

inline const std::string kWaba = "213456789012345";
inline const std::string kPhoneId = "108765432109876";
inline const std::string kDisplay = "15557654321";
// The two group-id forms: WhatsApp's JID, and the opaque base64-like id of Meta's documentation.
inline const std::string kJid = "120363298765432101@g.us";
inline const std::string kB64 = "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD";

inline std::string metadata_member(const std::string& phone_id = kPhoneId, const std::string& display = kDisplay) {
  return R"("metadata":{"display_phone_number":")" + display + R"(","phone_number_id":")" + phone_id + R"("})";
}

inline std::string envelope(const std::string& field, const std::string& value, const std::string& waba = kWaba) {
  return R"({"object":"whatsapp_business_account","entry":[{"id":")" + waba + R"(","changes":[{"value":)" + value +
         R"(,"field":")" + field + R"("}]}]})";
}

inline std::string groups_value(const std::string& items) {
  return R"({"messaging_product":"whatsapp",)" + metadata_member() + R"(,"groups":[)" + items + "]}";
}

inline std::string groups_body(const std::string& field, const std::string& items) {
  return envelope(field, groups_value(items));
}

inline std::string messages_value(const std::string& contacts, const std::string& messages) {
  return R"({"messaging_product":"whatsapp",)" + metadata_member() + R"(,"contacts":[)" + contacts +
         R"(],"messages":[)" + messages + "]}";
}

inline std::string statuses_value(const std::string& statuses, const std::string& contacts = "") {
  std::string v = R"({"messaging_product":"whatsapp",)" + metadata_member();
  if (!contacts.empty()) v += R"(,"contacts":[)" + contacts + "]";
  return v + R"(,"statuses":[)" + statuses + "]}";
}

inline bool strict_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  return !d.HasParseError();
}

inline WebhookBatch parse_ok(const std::string& body, const WebhookParser& parser) {
  INFO("body: " << body);
  REQUIRE(strict_json(body));  // the fixture itself must be wire-valid
  auto result = parser.parse(body);
  if (!result.ok()) FAIL("parse failed: " << result.error().to_string());
  CHECK(result->object == "whatsapp_business_account");
  return std::move(*result);
}

inline WebhookBatch parse_ok(const std::string& body) { return parse_ok(body, WebhookParser()); }

template <typename T>
const T& event_at(const WebhookBatch& batch, std::size_t i) {
  REQUIRE(i < batch.events.size());
  INFO("event " << i << " is " << kind_of(batch.events[i]));
  REQUIRE(std::holds_alternative<T>(batch.events[i]));
  return std::get<T>(batch.events[i]);
}

template <typename T>
const T& single(const WebhookBatch& batch) {
  REQUIRE(batch.events.size() == 1);
  return event_at<T>(batch, 0);
}

inline WebhookContext ctx(const std::string& field, std::optional<std::int64_t> timestamp, std::size_t item = 0,
                          std::size_t entry = 0, std::size_t change = 0, const std::string& waba = kWaba,
                          const std::string& phone_id = kPhoneId, const std::string& display = kDisplay) {
  WebhookContext c;
  c.waba_id = waba;
  c.phone_number_id = phone_id;
  c.display_phone_number = display;
  c.field = field;
  c.timestamp = timestamp;
  c.entry_index = entry;
  c.change_index = change;
  c.item_index = item;
  return c;
}

inline const char* const kLifecycle = "group_lifecycle_update";
inline const char* const kParticipants = "group_participants_update";
inline const char* const kSettings = "group_settings_update";
inline const char* const kStatus = "group_status_update";
inline const char* const kMessages = "messages";

// ---------------------------------------------------------------------------------------------
// §4.2 group_lifecycle_update

// ---------------------------------------------------------------------------------------------
// The fixtures: whole webhook bodies under tests/data/webhooks/<family>/, strict JSON as it travels
// on the wire, one per scenario of the reference's §4 (values of our own).

inline std::string webhook_fixture(const std::string& name) {
  return wagroups_test::fixture("webhooks/" + name + ".json");
}

// §4.2 group_lifecycle_update

inline std::string create_ok_body() { return webhook_fixture("lifecycle/create_ok"); }
inline std::string create_fail_body() { return webhook_fixture("lifecycle/create_fail"); }
inline std::string delete_ok_body() { return webhook_fixture("lifecycle/delete_ok"); }
inline std::string delete_fail_body() { return webhook_fixture("lifecycle/delete_fail"); }
inline std::string create_openapi_body() { return webhook_fixture("lifecycle/create_openapi"); }

// §4.3 group_participants_update

inline std::string join_request_body(const char* type, const char* request_id, const char* wa_id, const char* ts) {
  return groups_body(kParticipants, std::string(R"json({
    "timestamp": ")json") + ts + R"json(",
    "group_id": "120363298765432101@g.us",
    "type": ")json" + type + R"json(",
    "reason": "user_requested",
    "join_request_id": ")json" + request_id +
                                        R"json(",
    "wa_id": ")json" + wa_id + R"json("
  })json");
}

inline std::string join_by_link_body() { return webhook_fixture("participants/join_by_link"); }
inline std::string join_approved_body() { return webhook_fixture("participants/join_approved"); }
inline std::string remove_ok_body() { return webhook_fixture("participants/remove_ok"); }
inline std::string remove_partial_body() { return webhook_fixture("participants/remove_partial"); }
inline std::string remove_failed_body() { return webhook_fixture("participants/remove_failed"); }
inline std::string participant_leaves_body() { return webhook_fixture("participants/participant_leaves"); }
// S10's BSUID-era shapes, one item per type.
inline std::string bsuid_participants_body() { return webhook_fixture("participants/bsuid_participants"); }
// The OpenAPI spellings: field `group_participant_update`, types group_add/remove_participants.
inline std::string openapi_participants_body() { return webhook_fixture("participants/openapi_participants"); }

// §4.4 group_settings_update

inline const char* const kPictureHash = "3q2+7wYg9Jk1Lr0Hc5v6pXzN8bTfQeMa2uDsWiOy4lE=";

inline std::string settings_ok_body() { return webhook_fixture("settings/settings_ok"); }
inline std::string settings_partial_body() { return webhook_fixture("settings/settings_partial"); }
inline std::string settings_total_fail_body() { return webhook_fixture("settings/settings_total_fail"); }
inline std::string settings_openapi_body() { return webhook_fixture("settings/settings_openapi"); }

// §4.5 group_status_update

inline std::string suspend_body(const char* type, const char* ts) {
  return groups_body(kStatus, std::string(R"json({"timestamp": ")json") + ts + R"json(", "type": ")json" + type +
                                  R"json(", "group_id": "120363298765432101@g.us"})json");
}

// §4.6 inbound messages

inline const char* const kWamidIn1 = "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFjNFQjBBMUY0QzdEOTI4QjZFNTFBMDcA";

inline std::string group_text_body() { return webhook_fixture("messages/group_text"); }
inline std::string group_text_bsuid_body() { return webhook_fixture("messages/group_text_bsuid"); }
inline std::string group_unsupported_body() { return webhook_fixture("messages/group_unsupported"); }
inline std::string group_image_body() { return webhook_fixture("messages/group_image"); }
inline std::string group_reply_body() { return webhook_fixture("messages/group_reply"); }
inline std::string group_document_body() { return webhook_fixture("messages/group_document"); }
inline std::string direct_text_body() { return webhook_fixture("messages/direct_text"); }

// §4.7 statuses

inline const char* const kWamidOut = "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBI5QTBCMUMyRDNFNEY1QTZCN0MA";

inline std::string group_sent_body() { return webhook_fixture("statuses/group_sent"); }
inline std::string group_failed_body() { return webhook_fixture("statuses/group_failed"); }

// Seven participants read one message; `pricing` sits inside `conversation` (S2's aggregated shape):
// kSevenReaders[i] reads at 1751308100 + i, as a string for even i, a number for odd i.
inline const std::vector<std::string> kSevenReaders = {"4915112345678", "447700900123", "5511987654321", "34612345678",
                                                       "16465550187",   "33612345678",  "819012345678"};
inline std::string aggregated_read_body() { return webhook_fixture("statuses/aggregated_read"); }

// Three messages delivered to one participant, in the order of kThreeWamids.
inline const std::vector<std::string> kThreeWamids = {
    "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBIxMTExMTExMTExMTExMTExAA==",
    "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBIyMjIyMjIyMjIyMjIyMjIyAA==",
    "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBIzMzMzMzMzMzMzMzMzMzMzAA=="};
inline std::string multi_message_delivered_body() { return webhook_fixture("statuses/multi_message_delivered"); }

inline std::string participant_recipient_spelling_body() {
  return webhook_fixture("statuses/participant_recipient_spelling");
}
inline std::string read_without_pricing_body() { return webhook_fixture("statuses/read_without_pricing"); }
// BSUID era: no participant phone, a contacts[] entry per aggregated status (listed in the other
// order than the statuses, so a parser must match them by BSUID, not by position).
inline std::string bsuid_status_body() { return webhook_fixture("statuses/bsuid_status"); }
// The OpenAPI Statuses schema's `group_id` member, without recipient_type.
inline std::string spec_group_id_status_body() { return webhook_fixture("statuses/spec_group_id_status"); }
inline std::string free_service_pricing_body() { return webhook_fixture("statuses/free_service_pricing"); }
inline std::string direct_template_status_body() { return webhook_fixture("statuses/direct_template_status"); }

// A batched body: 3 entries x 2 changes x several items, fields mixed (three WABAs, three phone
// numbers).
inline std::string batched_body() { return webhook_fixture("batch/batched"); }

// Other fields: the `value` objects of an account_update and a message_template_status_update.
inline std::string account_update_value() { return webhook_fixture("other/account_update.value"); }
inline std::string template_status_value() { return webhook_fixture("other/message_template_status_update.value"); }

}  // namespace webhook_events_test
