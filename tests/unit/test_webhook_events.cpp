// Acceptance tests for the typed webhook events (include/wagroups/webhook_events.hpp), written
// against the public contract: one fixture for every webhook scenario of the reference's §4, as
// the strict JSON that travels on the wire (Meta's samples have trailing commas, comments and a
// misplaced `initiated_by`; these do not), with values of our own. Each test asserts the variant,
// the count and every modelled field, and that absent optional fields stay unset.

#include <any>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include "json/rapidjson.hpp"
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "test_support.hpp"
#include "wagroups/webhook.hpp"
#include "wagroups/webhook/events.hpp"
#include "wagroups/graph_codes.hpp"
#include "webhook_test_support.hpp"

using namespace wagroups;
using wagroups_test::kUnset;
using wagroups_test::person;
using wagroups_test::raw_of;
using wagroups_test::shown;
using wagroups_test::Text;

namespace {

// Expected values (rendering and `person` are in webhook_test_support.hpp).
Participant by_input(Text input, Text wa_id = {}) { return person(std::move(wa_id), {}, {}, {}, std::move(input)); }

ItemError item_error(int code, Text title, Text message, Text details, Text href = {}) {
  ItemError e;
  e.code = code;
  e.title = std::move(title);
  e.message = std::move(message);
  e.details = std::move(details);
  e.href = std::move(href);
  return e;
}

SettingOutcome outcome(Text text, Text mime_type, Text sha256, std::optional<bool> ok, std::vector<ItemError> errors = {}) {
  SettingOutcome s;
  s.text = std::move(text);
  s.mime_type = std::move(mime_type);
  s.sha256 = std::move(sha256);
  s.update_successful = ok;
  s.errors = std::move(errors);
  return s;
}

// Every modelled field of an event, for comparing two parses of equivalent bodies.
std::string dump_message(const InboundMessage& m) {
  return shown(m.context) + " id=" + m.id + " type=" + m.type + " group_id=" + shown(m.group_id) +
         " from=" + shown(m.from) + " from_user_id=" + shown(m.from_user_id) +
         " from_parent_user_id=" + shown(m.from_parent_user_id) + " username=" + shown(m.username) +
         " contact_name=" + shown(m.contact_name) + " contact_wa_id=" + shown(m.contact_wa_id) +
         " text=" + shown(m.text) + " caption=" + shown(m.caption) + " media_id=" + shown(m.media_id) +
         " mime_type=" + shown(m.mime_type) + " sha256=" + shown(m.sha256) + " filename=" + shown(m.filename) +
         " reply_to=" + shown(m.reply_to) + " errors=" + shown(m.errors);
}

std::string dump_status(const MessageStatusData& s) {
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

std::string dump(const WebhookEvent& event) {
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
                 " subject=" + shown(e.subject) + " description=" + shown(e.description) +
                 " errors=" + shown(e.errors);
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

const std::string kWaba = "213456789012345";
const std::string kPhoneId = "108765432109876";
const std::string kDisplay = "15557654321";
// The two group-id forms: WhatsApp's JID, and the opaque base64-like id of Meta's documentation.
const std::string kJid = "120363298765432101@g.us";
const std::string kB64 = "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD";

std::string metadata_member(const std::string& phone_id = kPhoneId, const std::string& display = kDisplay) {
  return R"("metadata":{"display_phone_number":")" + display + R"(","phone_number_id":")" + phone_id + R"("})";
}

std::string envelope(const std::string& field, const std::string& value, const std::string& waba = kWaba) {
  return R"({"object":"whatsapp_business_account","entry":[{"id":")" + waba +
         R"(","changes":[{"value":)" + value + R"(,"field":")" + field + R"("}]}]})";
}

std::string groups_value(const std::string& items) {
  return R"({"messaging_product":"whatsapp",)" + metadata_member() + R"(,"groups":[)" + items + "]}";
}

std::string groups_body(const std::string& field, const std::string& items) {
  return envelope(field, groups_value(items));
}

std::string messages_value(const std::string& contacts, const std::string& messages) {
  return R"({"messaging_product":"whatsapp",)" + metadata_member() + R"(,"contacts":[)" + contacts +
         R"(],"messages":[)" + messages + "]}";
}

std::string statuses_value(const std::string& statuses, const std::string& contacts = "") {
  std::string v = R"({"messaging_product":"whatsapp",)" + metadata_member();
  if (!contacts.empty()) v += R"(,"contacts":[)" + contacts + "]";
  return v + R"(,"statuses":[)" + statuses + "]}";
}

bool strict_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  return !d.HasParseError();
}

WebhookBatch parse_ok(const std::string& body, const WebhookParser& parser) {
  INFO("body: " << body);
  REQUIRE(strict_json(body));  // the fixture itself must be wire-valid
  auto result = parser.parse(body);
  if (!result.ok()) FAIL("parse failed: " << result.error().to_string());
  CHECK(result->object == "whatsapp_business_account");
  return std::move(*result);
}

WebhookBatch parse_ok(const std::string& body) { return parse_ok(body, WebhookParser()); }

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

WebhookContext ctx(const std::string& field, std::optional<std::int64_t> timestamp, std::size_t item = 0,
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

const char* const kLifecycle = "group_lifecycle_update";
const char* const kParticipants = "group_participants_update";
const char* const kSettings = "group_settings_update";
const char* const kStatus = "group_status_update";
const char* const kMessages = "messages";

// ---------------------------------------------------------------------------------------------
// §4.2 group_lifecycle_update

std::string create_ok_body() {
  // Written out whole once, as it arrives on the wire.
  return R"json({
  "object": "whatsapp_business_account",
  "entry": [
    {
      "id": "213456789012345",
      "changes": [
        {
          "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15557654321", "phone_number_id": "108765432109876"},
            "groups": [
              {
                "timestamp": "1751302811",
                "group_id": "120363298765432101@g.us",
                "type": "group_create",
                "request_id": "A3F19C27B0D84E6C9152E07D3B6AF410",
                "subject": "Order #1042 - delivery question",
                "invite_link": "https://chat.whatsapp.com/KqT7vB2mXyZ9aLpQw3RsUe",
                "join_approval_mode": "approval_required"
              }
            ]
          },
          "field": "group_lifecycle_update"
        }
      ]
    }
  ]
})json";
}

std::string create_fail_body() {
  return groups_body(kLifecycle, R"json({
    "timestamp": "1751302900",
    "type": "group_create",
    "subject": "Order #1043 - refund",
    "description": "Refund for a damaged parcel",
    "request_id": "0C5E8B1F7A9D4E2B8C6F1A3D5E7B9C02",
    "group_id": "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD",
    "errors": [{
      "code": "131211",
      "message": "Reached the limit for the maximum number of groups that can be created for this number.",
      "title": "Group create limit reached",
      "error_data": {"details": "This number already has 10000 active groups."}
    }]
  })json");
}

std::string delete_ok_body() {
  return groups_body(kLifecycle, R"json({
    "timestamp": 1751303000,
    "group_id": "120363298765432101@g.us",
    "type": "group_delete",
    "request_id": "5D2C7E9A1B3F4A6C8E0D2F4B6A8C0E1F"
  })json");
}

std::string delete_fail_body() {
  return groups_body(kLifecycle, R"json({
    "timestamp": "1751303050",
    "group_id": "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD",
    "type": "group_delete",
    "request_id": "9E8D7C6B5A4F3E2D1C0B9A8F7E6D5C4B",
    "errors": [{
      "code": 131041,
      "message": "The group was not found, either because it doesn't exist or you are not a member.",
      "title": "Group unknown",
      "error_data": {"details": "Group 120363298765432101 is not managed by this number."}
    }]
  })json");
}

std::string create_openapi_body() {
  // The OpenAPI example's shape: added_participants inside a create, input/wa_id as bare numbers.
  return groups_body(kLifecycle, R"json({
    "timestamp": "1751303100",
    "group_id": "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD",
    "type": "group_create",
    "request_id": "1B2C3D4E5F60718293A4B5C6D7E8F901",
    "subject": "Kitchen renovation - Weber",
    "description": "Planning the Weber kitchen installation",
    "added_participants": [
      {"input": 4915112345678, "wa_id": 4915112345678},
      {"input": 447700900123, "wa_id": 447700900123}
    ]
  })json");
}

// ---------------------------------------------------------------------------------------------
// §4.3 group_participants_update

std::string join_by_link_body() {
  return groups_body(kParticipants, R"json({
    "timestamp": "1751304000",
    "group_id": "120363298765432101@g.us",
    "type": "group_participants_add",
    "reason": "invite_link",
    "added_participants": [{"wa_id": "5511987654321"}]
  })json");
}

std::string join_request_body(const char* type, const char* request_id, const char* wa_id, const char* ts) {
  return groups_body(kParticipants, std::string(R"json({
    "timestamp": ")json") + ts + R"json(",
    "group_id": "120363298765432101@g.us",
    "type": ")json" + type + R"json(",
    "reason": "user_requested",
    "join_request_id": ")json" + request_id + R"json(",
    "wa_id": ")json" + wa_id + R"json("
  })json");
}

std::string join_approved_body() {
  return groups_body(kParticipants, R"json({
    "timestamp": 1751304200,
    "group_id": "120363298765432101@g.us",
    "type": "group_participants_add",
    "reason": "invite_link",
    "added_participants": [
      {"input": "+34 612 345 678", "wa_id": "34612345678"},
      {"input": "16465550187", "wa_id": "16465550187"}
    ]
  })json");
}

std::string remove_ok_body() {
  return groups_body(kParticipants, R"json({
    "timestamp": "1751304300",
    "group_id": "120363298765432101@g.us",
    "type": "group_participants_remove",
    "request_id": "7F6E5D4C3B2A19087F6E5D4C3B2A1908",
    "initiated_by": "business",
    "removed_participants": [{"input": "4915112345678"}, {"input": "447700900123"}]
  })json");
}

std::string remove_partial_body() {
  return groups_body(kParticipants, R"json({
    "timestamp": "1751304400",
    "group_id": "120363298765432101@g.us",
    "type": "group_participants_remove",
    "request_id": "2A4C6E8F0B1D3F5A7C9E1B3D5F7A9C0E",
    "initiated_by": "business",
    "removed_participants": [{"input": "4915112345678"}],
    "failed_participants": [{
      "input": "16465550187",
      "errors": [{
        "code": 131212,
        "message": "Participant is not a part of the group.",
        "title": "Participant is not a part of the group.",
        "error_data": {"details": "16465550187 is not in group 120363298765432101."}
      }]
    }],
    "errors": [{
      "code": 131201,
      "message": "Failed to remove some participants from the group",
      "title": "Not All Participants Remove Succeeded",
      "error_data": {"details": "1 of 2 participants could not be removed."}
    }]
  })json");
}

std::string remove_failed_body() {
  return groups_body(kParticipants, R"json({
    "timestamp": "1751304500",
    "group_id": "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD",
    "type": "group_participants_remove",
    "request_id": "C0FFEE0123456789ABCDEF0123456789",
    "initiated_by": "business",
    "failed_participants": [
      {"input": "5511987654321"},
      {"input": "34612345678", "errors": [{"code": "131212", "title": "Participant is not a part of the group."}]}
    ],
    "errors": [{
      "code": 131212,
      "message": "No participant could be removed.",
      "title": "Participant is not a part of the group.",
      "error_data": {"details": "None of the 2 participants is in the group."}
    }]
  })json");
}

std::string participant_leaves_body() {
  return groups_body(kParticipants, R"json({
    "timestamp": "1751304600",
    "group_id": "120363298765432101@g.us",
    "type": "group_participants_remove",
    "initiated_by": "participant",
    "removed_participants": [{"wa_id": "447700900123"}]
  })json");
}

// S10's BSUID-era shapes, one item per type.
std::string bsuid_participants_body() {
  return groups_body(kParticipants, R"json({
    "timestamp": "1775001000",
    "group_id": "120363298765432101@g.us",
    "type": "group_participants_remove",
    "request_id": "B5D1A2C3E4F50617283940A1B2C3D4E5",
    "removed_participants": [{"input": "DE.58291047736612095531"}],
    "initiated_by": "business"
  }, {
    "timestamp": "1775001060",
    "group_id": "120363298765432101@g.us",
    "type": "group_participants_remove",
    "removed_participants": [{
      "user_id": "DE.58291047736612095531",
      "parent_user_id": "DE.ENT.20394857610293847561",
      "username": "@lena.hoffmann"
    }],
    "initiated_by": "participant"
  }, {
    "timestamp": "1775001120",
    "group_id": "120363298765432101@g.us",
    "type": "group_participants_add",
    "reason": "invite_link",
    "added_participants": [{
      "wa_id": "4915112345678",
      "user_id": "DE.11223344556677889900",
      "parent_user_id": "DE.ENT.99887766554433221100",
      "username": "@jonas_weber"
    }]
  }, {
    "timestamp": "1775001180",
    "group_id": "120363298765432101@g.us",
    "type": "group_join_request_created",
    "join_request_id": "1297563840128837",
    "user_id": "BR.40516273849501627384",
    "username": "@ana.souza"
  }, {
    "timestamp": "1775001240",
    "group_id": "120363298765432101@g.us",
    "type": "group_join_request_revoked",
    "join_request_id": "1297563840128838",
    "wa_id": "5511987654321",
    "user_id": "BR.40516273849501627399",
    "parent_user_id": "BR.ENT.73849501627384950162",
    "username": "@carlos.lima"
  })json");
}

// The OpenAPI spellings: field `group_participant_update`, types group_add/remove_participants.
std::string openapi_participants_body() {
  return groups_body("group_participant_update", R"json({
    "timestamp": "1751305000",
    "group_id": "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD",
    "type": "group_add_participants",
    "request_id": "0A1B2C3D4E5F60718293A4B5C6D7E8F9",
    "added_participants": [{"input": 16465550187, "wa_id": 16465550187}]
  }, {
    "timestamp": 1751305060,
    "group_id": "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD",
    "type": "group_remove_participants",
    "request_id": "F9E8D7C6B5A4938271605F4E3D2C1B0A",
    "removed_participants": [{"input": 16465550187, "wa_id": 16465550187}]
  })json");
}

// ---------------------------------------------------------------------------------------------
// §4.4 group_settings_update

const char* const kPictureHash = "3q2+7wYg9Jk1Lr0Hc5v6pXzN8bTfQeMa2uDsWiOy4lE=";

std::string settings_ok_body() {
  return groups_body(kSettings, R"json({
    "timestamp": "1751306000",
    "group_id": "120363298765432101@g.us",
    "type": "group_settings_update",
    "request_id": "D4C3B2A1908F7E6D5C4B3A2918F7E6D5",
    "profile_picture": {"mime_type": "image/jpeg", "update_successful": true,
                        "sha256": "3q2+7wYg9Jk1Lr0Hc5v6pXzN8bTfQeMa2uDsWiOy4lE="},
    "group_subject": {"text": "Order #1042 - resolved", "update_successful": true},
    "group_description": {"text": "Delivery rescheduled to Friday", "update_successful": true}
  })json");
}

std::string settings_partial_body() {
  return groups_body(kSettings, R"json({
    "timestamp": "1751306100",
    "group_id": "120363298765432101@g.us",
    "type": "group_settings_update",
    "request_id": "E5F6A7B8C9D0E1F2A3B4C5D6E7F8A9B0",
    "profile_picture": {"mime_type": "image/jpeg", "update_successful": true,
                        "sha256": "3q2+7wYg9Jk1Lr0Hc5v6pXzN8bTfQeMa2uDsWiOy4lE="},
    "group_subject": {
      "text": "Order #1042 - escalated to the warehouse team for a second look",
      "update_successful": false,
      "errors": [{"code": 131208, "message": "Too many group operations from this number.",
                  "title": "Group Rate Limit Hit", "error_data": {"details": "Retry the subject change later."}}]
    },
    "group_description": {
      "text": "Escalated",
      "update_successful": false,
      "errors": [{"code": "131208", "message": "Too many group operations from this number.",
                  "title": "Group Rate Limit Hit", "error_data": {"details": "Retry the description change later."}}]
    },
    "errors": [{"code": 131201, "message": "Some settings were not updated.",
                "title": "Request partially succeeded", "error_data": {"details": "2 of 3 settings failed."}}]
  })json");
}

std::string settings_total_fail_body() {
  return groups_body(kSettings, R"json({
    "timestamp": "1751306200",
    "group_id": "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD",
    "request_id": "A0B1C2D3E4F5061728394A5B6C7D8E9F",
    "type": "group_settings_update",
    "profile_picture": {
      "mime_type": "image/jpeg", "sha256": "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWo=", "update_successful": false,
      "errors": [{"code": 131209, "message": "Width and height of the image must be equal.",
                  "title": "Invalid Group Profile Picture Aspect Ratio", "error_data": {"details": "The image is 640x480."}}]
    },
    "group_subject": {
      "text": "Weber kitchen", "update_successful": false,
      "errors": [{"code": 131207, "message": "The group violates platform policies.",
                  "title": "Group suspended", "error_data": {"details": "The group is suspended."}}]
    },
    "group_description": {
      "text": "Installation on 14 July", "update_successful": false,
      "errors": [{"code": 131207, "message": "The group violates platform policies.",
                  "title": "Group suspended", "error_data": {"details": "The group is suspended."}}]
    },
    "errors": [{"code": 131207, "message": "The group violates platform policies.",
                "title": "Group suspended", "error_data": {"details": "No setting was changed."}}]
  })json");
}

std::string settings_openapi_body() {
  return groups_body(kSettings, R"json({
    "timestamp": "1751306300",
    "group_id": "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD",
    "type": "group_settings_update",
    "request_id": "13579BDF2468ACE013579BDF2468ACE0",
    "profile_picture": {"mime_type": "image/jpeg", "sha256": "Qk1QdjJ0c2VjcmV0aGFzaHZhbHVlMTIzNDU2Nzg5MA=="}
  })json");
}

// ---------------------------------------------------------------------------------------------
// §4.5 group_status_update

std::string suspend_body(const char* type, const char* ts) {
  return groups_body(kStatus, std::string(R"json({"timestamp": ")json") + ts + R"json(", "type": ")json" + type +
                                  R"json(", "group_id": "120363298765432101@g.us"})json");
}

// ---------------------------------------------------------------------------------------------
// §4.6 inbound messages

const char* const kWamidIn1 = "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFjNFQjBBMUY0QzdEOTI4QjZFNTFBMDcA";

std::string group_text_body() {
  return envelope(kMessages, messages_value(R"json({
      "profile": {"name": "Jonas Weber"},
      "wa_id": "4915112345678",
      "identity_key_hash": "x9Kp2LmQ7vRt"
    })json", R"json({
      "from": "4915112345678",
      "group_id": "120363298765432101@g.us",
      "id": "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFjNFQjBBMUY0QzdEOTI4QjZFNTFBMDcA",
      "timestamp": "1751307000",
      "text": {"body": "Is the delivery still on for Friday?"},
      "type": "text"
    })json"));
}

std::string group_text_bsuid_body() {
  return envelope(kMessages, messages_value(R"json({
      "profile": {"name": "Lena Hoffmann", "username": "@lena.hoffmann"},
      "user_id": "DE.58291047736612095531",
      "parent_user_id": "DE.ENT.20394857610293847561"
    })json", R"json({
      "from_user_id": "DE.58291047736612095531",
      "from_parent_user_id": "DE.ENT.20394857610293847561",
      "group_id": "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD",
      "id": "wamid.HBgWREUuNTgyOTEwNDc3MzY2MTIwOTU1MzEVAgASGBQzQTc1RkYwOTlGMTI0M0NEMDQA",
      "timestamp": "1775002000",
      "type": "text",
      "text": {"body": "Can we move the installation to Monday?"}
    })json"));
}

std::string group_unsupported_body() {
  return envelope(kMessages, messages_value(R"json({"profile": {"name": "Ana Souza"}, "wa_id": "5511987654321"})json",
                                            R"json({
      "from": "5511987654321",
      "group_id": "120363298765432101@g.us",
      "id": "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjA5QTc3RjJCMUM0RDg5MDEyAA==",
      "timestamp": "1751307100",
      "errors": [{
        "code": 130501,
        "message": "Message type is not currently supported",
        "title": "Unsupported message type",
        "error_data": {"details": "Polls are not supported in groups."}
      }],
      "type": "unsupported"
    })json"));
}

std::string group_image_body() {
  return envelope(kMessages, messages_value(R"json({"profile": {"name": "Jonas Weber"}, "wa_id": "4915112345678"})json",
                                            R"json({
      "from": "4915112345678",
      "group_id": "120363298765432101@g.us",
      "id": "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFjNFQjA3RDM0OTg4QTEyRjZCMzM0AA==",
      "timestamp": "1751307200",
      "type": "image",
      "image": {
        "caption": "The box arrived like this",
        "mime_type": "image/jpeg",
        "sha256": "b1946ac92492d2347c6235b4d2611184a3bc4f3f5e9b2d1f6c8e0a7b9d3c5e1f",
        "id": "1482937562014387"
      }
    })json"));
}

std::string group_reply_body() {
  return envelope(kMessages, messages_value(R"json({"profile": {"name": "Oliver Bennett"}, "wa_id": "447700900123"})json",
                                            R"json({
      "context": {"from": "15557654321", "id": "wamid.HBgLMTU1NTc2NTQzMjEVAgARGBJCNTlEMkU4RjA0QTFDM0I1NgA="},
      "from": "447700900123",
      "group_id": "120363298765432101@g.us",
      "id": "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgWM0VCMEM1NjdEOEU5RjAxMjM0NTZBAA==",
      "timestamp": "1751307300",
      "text": {"body": "Friday works for me."},
      "type": "text"
    })json"));
}

std::string group_document_body() {
  return envelope(kMessages, messages_value(R"json({"profile": {"name": "Ana Souza"}, "wa_id": "5511987654321"})json",
                                            R"json({
      "from": "5511987654321",
      "group_id": "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD",
      "id": "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjBEOEY5MDEyMzQ1Njc4OUFCAA==",
      "timestamp": 1751307400,
      "type": "document",
      "document": {
        "caption": "Signed delivery note",
        "filename": "delivery-note-1042.pdf",
        "mime_type": "application/pdf",
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "id": "902745613388214"
      }
    })json"));
}

std::string direct_text_body() {
  return envelope(kMessages, messages_value(R"json({"profile": {"name": "Oliver Bennett"}, "wa_id": "447700900123"})json",
                                            R"json({
      "from": "447700900123",
      "id": "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgWM0VCMDExMjIzMzQ0NTU2Njc3ODg5AA==",
      "timestamp": "1751307500",
      "text": {"body": "Hi, I never got the group invite."},
      "type": "text"
    })json"));
}

// ---------------------------------------------------------------------------------------------
// §4.7 statuses

const char* const kWamidOut = "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBI5QTBCMUMyRDNFNEY1QTZCN0MA";

std::string group_sent_body() {
  return envelope(kMessages, statuses_value(R"json({
      "id": "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBI5QTBCMUMyRDNFNEY1QTZCN0MA",
      "recipient_id": "120363298765432101@g.us",
      "recipient_type": "group",
      "status": "sent",
      "timestamp": "1751308000"
    })json"));
}

std::string group_failed_body() {
  return envelope(kMessages, statuses_value(R"json({
      "id": "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBJBQkNERUYwMTIzNDU2Nzg5AA==",
      "recipient_id": "120363298765432101@g.us",
      "recipient_type": "group",
      "status": "failed",
      "timestamp": "1751308050",
      "errors": [{
        "code": 131020,
        "title": "Bad Group",
        "message": "Cannot send messages to single member groups.",
        "error_data": {"details": "The group has no member besides the business."},
        "href": "/docs/whatsapp/cloud-api/support/error-codes/"
      }]
    })json"));
}

// Seven participants read one message; `pricing` sits inside `conversation` (S2's aggregated shape).
const std::vector<std::string> kSevenReaders = {"4915112345678", "447700900123", "5511987654321", "34612345678",
                                                "16465550187", "33612345678", "819012345678"};

std::string aggregated_read_body() {
  std::string statuses;
  for (std::size_t i = 0; i < kSevenReaders.size(); ++i) {
    const std::string ts = std::to_string(1751308100 + static_cast<long>(i));
    statuses += std::string(i ? "," : "") + R"json({
      "id": "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBI5QTBCMUMyRDNFNEY1QTZCN0MA",
      "status": "read",
      "timestamp": )json" + (i % 2 ? ts : "\"" + ts + "\"") + R"json(,
      "recipient_id": "120363298765432101@g.us",
      "recipient_type": "group",
      "recipient_participant_id": ")json" + kSevenReaders[i] + R"json(",
      "conversation": {
        "id": "c8a1e2f3b4d5a6c7e8f9a0b1c2d3e4f5",
        "origin": {"type": "group_marketing"},
        "pricing": {"billable": true, "pricing_model": "PMP", "category": "group_marketing", "type": "regular"}
      }
    })json";
  }
  return envelope(kMessages, statuses_value(statuses));
}

const std::vector<std::string> kThreeWamids = {
    "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBIxMTExMTExMTExMTExMTExAA==",
    "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBIyMjIyMjIyMjIyMjIyMjIyAA==",
    "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBIzMzMzMzMzMzMzMzMzMzMzAA=="};

std::string multi_message_delivered_body() {
  std::string statuses;
  for (std::size_t i = 0; i < kThreeWamids.size(); ++i) {
    statuses += std::string(i ? "," : "") + R"json({
      "id": ")json" + kThreeWamids[i] + R"json(",
      "status": "delivered",
      "timestamp": "1751308200",
      "recipient_id": "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD",
      "recipient_type": "group",
      "recipient_participant_id": "34612345678",
      "conversation": {
        "id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "origin": {"type": "group_utility"},
        "pricing": {"billable": true, "pricing_model": "PMP", "category": "group_utility"}
      }
    })json";
  }
  return envelope(kMessages, statuses_value(statuses));
}

std::string participant_recipient_spelling_body() {
  return envelope(kMessages, statuses_value(R"json({
      "id": "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBI5QTBCMUMyRDNFNEY1QTZCN0MA",
      "status": "delivered",
      "timestamp": "1751308300",
      "recipient_id": "120363298765432101@g.us",
      "recipient_type": "group",
      "participant_recipient_id": "5511987654321",
      "conversation": {"id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "origin": {"type": "group_utility"}},
      "pricing": {"billable": true, "pricing_model": "PMP", "category": "group_utility"}
    })json"));
}

std::string read_without_pricing_body() {
  return envelope(kMessages, statuses_value(R"json({
      "id": "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBI5QTBCMUMyRDNFNEY1QTZCN0MA",
      "status": "read",
      "timestamp": "1751308400",
      "recipient_id": "120363298765432101@g.us",
      "recipient_type": "group",
      "participant_recipient_id": "447700900123"
    })json"));
}

// BSUID era: no participant phone, a contacts[] entry per aggregated status (listed in the other
// order than the statuses, so a parser must match them by BSUID, not by position).
std::string bsuid_status_body() {
  return envelope(kMessages, statuses_value(R"json({
      "id": "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBJGRkVFRERDQ0JCQUE5OQA=",
      "status": "delivered",
      "timestamp": "1775003000",
      "recipient_id": "120363298765432101@g.us",
      "recipient_type": "group",
      "recipient_participant_user_id": "DE.58291047736612095531",
      "recipient_participant_parent_user_id": "DE.ENT.20394857610293847561"
    }, {
      "id": "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBJGRkVFRERDQ0JCQUE5OQA=",
      "status": "delivered",
      "timestamp": "1775003001",
      "recipient_id": "120363298765432101@g.us",
      "recipient_type": "group",
      "recipient_participant_user_id": "BR.40516273849501627384"
    })json", R"json({
      "profile": {"name": "Ana Souza", "username": "@ana.souza"},
      "user_id": "BR.40516273849501627384"
    }, {
      "profile": {"name": "Lena Hoffmann", "username": "@lena.hoffmann"},
      "user_id": "DE.58291047736612095531",
      "parent_user_id": "DE.ENT.20394857610293847561"
    })json"));
}

// The OpenAPI Statuses schema's `group_id` member, without recipient_type.
std::string spec_group_id_status_body() {
  return envelope(kMessages, statuses_value(R"json({
      "id": "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBI4ODc3NjY1NTQ0MzMyMjExAA==",
      "status": "read",
      "timestamp": 1751308500,
      "recipient_id": "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD",
      "group_id": "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD"
    })json"));
}

std::string free_service_pricing_body() {
  return envelope(kMessages, statuses_value(R"json({
      "id": "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBJBQUJCQ0NEREVFRkYwMAA=",
      "status": "delivered",
      "timestamp": "1751308600",
      "recipient_id": "120363298765432101@g.us",
      "recipient_type": "group",
      "recipient_participant_id": "4915112345678",
      "biz_opaque_callback_data": "case-1042",
      "pricing": {"billable": false, "pricing_model": "PMP", "type": "free_group_customer_service",
                  "category": "group_service"}
    })json"));
}

std::string direct_template_status_body() {
  return envelope(kMessages, statuses_value(R"json({
      "id": "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSMDlBOEI3QzZENUU0RjNBMkIxAA==",
      "status": "delivered",
      "timestamp": "1751308700",
      "recipient_id": "447700900123",
      "conversation": {"id": "5e4d3c2b1a0918273645546372819aab", "origin": {"type": "utility"}},
      "pricing": {"billable": true, "pricing_model": "PMP", "type": "regular", "category": "utility"},
      "biz_opaque_callback_data": "invite-case-1042"
    })json"));
}

// ---------------------------------------------------------------------------------------------
// Other fields

const char* const kAccountUpdateValue = R"json({
  "phone_number": "15557654321",
  "event": "ACCOUNT_RESTRICTION",
  "restriction_info": [{"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": 1752000000}]
})json";

const char* const kTemplateStatusValue = R"json({
  "event": "APPROVED",
  "message_template_id": 981273645501234,
  "message_template_name": "group_case_invite",
  "message_template_language": "en_US",
  "reason": "NONE"
})json";

}  // namespace

// =============================================================================================
// §4.2 group_lifecycle_update

TEST_CASE("webhook events: group created", "[webhook][events][lifecycle]") {
  const auto batch = parse_ok(create_ok_body());
  const auto& e = single<GroupCreated>(batch);
  CHECK(shown(e.context) == shown(ctx(kLifecycle, 1751302811)));
  CHECK(e.group_id == kJid);
  CHECK(shown(e.request_id) == shown("A3F19C27B0D84E6C9152E07D3B6AF410"));
  CHECK(shown(e.subject) == shown("Order #1042 - delivery question"));
  CHECK(shown(e.description) == kUnset);
  CHECK(shown(e.invite_link) == shown("https://chat.whatsapp.com/KqT7vB2mXyZ9aLpQw3RsUe"));
  CHECK(shown(e.join_approval_mode) == "approval_required");
  CHECK(e.added_participants.empty());
  REQUIRE_FALSE(e.raw.empty());
  CHECK(shown(e.raw.get("type")) == shown("group_create"));
  CHECK(shown(e.raw.get("timestamp")) == shown("1751302811"));
}

TEST_CASE("webhook events: group created with auto_approve, or an unknown mode left unset", "[webhook][events][lifecycle]") {
  const auto item = [](const char* mode) {
    return groups_body(kLifecycle, std::string(R"json({"timestamp":"1751302820","group_id":"120363298765432101@g.us",
      "type":"group_create","request_id":"AB12","subject":"Case 7","join_approval_mode":")json") + mode + "\"}");
  };
  const auto a = parse_ok(item("auto_approve"));
  CHECK(shown(single<GroupCreated>(a).join_approval_mode) == "auto_approve");
  const auto b = parse_ok(item("JOIN_APPROVAL_MODE"));
  CHECK(shown(single<GroupCreated>(b).join_approval_mode) == kUnset);
  CHECK(shown(single<GroupCreated>(b).invite_link) == kUnset);
}

TEST_CASE("webhook events: group creation failed", "[webhook][events][lifecycle]") {
  const auto batch = parse_ok(create_fail_body());
  const auto& e = single<GroupCreateFailed>(batch);
  CHECK(shown(e.context) == shown(ctx(kLifecycle, 1751302900)));
  CHECK(shown(e.group_id) == shown(kB64));  // Meta's sample carries one even on failure
  CHECK(shown(e.request_id) == shown("0C5E8B1F7A9D4E2B8C6F1A3D5E7B9C02"));
  CHECK(shown(e.subject) == shown("Order #1043 - refund"));
  CHECK(shown(e.description) == shown("Refund for a damaged parcel"));
  CHECK(shown(e.errors) ==
        shown(std::vector<ItemError>{item_error(
            131211, "Group create limit reached",
            "Reached the limit for the maximum number of groups that can be created for this number.",
            "This number already has 10000 active groups.")}));
  CHECK_FALSE(e.raw.empty());
}

TEST_CASE("webhook events: group creation failed without a group id", "[webhook][events][lifecycle]") {
  const auto batch = parse_ok(groups_body(kLifecycle, R"json({"timestamp":"1751302950","type":"group_create",
    "request_id":"77AA","subject":"Order #1044",
    "errors":[{"code":131214,"title":"Group creation is temporarily disabled"}]})json"));
  const auto& e = single<GroupCreateFailed>(batch);
  CHECK(shown(e.group_id) == kUnset);
  CHECK(shown(e.description) == kUnset);
  CHECK(shown(e.request_id) == shown("77AA"));
  CHECK(shown(e.errors) ==
        shown(std::vector<ItemError>{item_error(131214, "Group creation is temporarily disabled", {}, {})}));
  CHECK(shown(group_id_of(batch.events[0])) == kUnset);
  CHECK(shown(request_id_of(batch.events[0])) == shown("77AA"));
}

TEST_CASE("webhook events: group deleted", "[webhook][events][lifecycle]") {
  const auto batch = parse_ok(delete_ok_body());
  const auto& e = single<GroupDeleted>(batch);
  CHECK(shown(e.context) == shown(ctx(kLifecycle, 1751303000)));
  CHECK(e.group_id == kJid);
  CHECK(shown(e.request_id) == shown("5D2C7E9A1B3F4A6C8E0D2F4B6A8C0E1F"));
  CHECK_FALSE(e.raw.empty());
}

TEST_CASE("webhook events: group deletion failed", "[webhook][events][lifecycle]") {
  const auto batch = parse_ok(delete_fail_body());
  const auto& e = single<GroupDeleteFailed>(batch);
  CHECK(shown(e.context) == shown(ctx(kLifecycle, 1751303050)));
  CHECK(e.group_id == kB64);
  CHECK(shown(e.request_id) == shown("9E8D7C6B5A4F3E2D1C0B9A8F7E6D5C4B"));
  CHECK(shown(e.errors) ==
        shown(std::vector<ItemError>{item_error(
            131041, "Group unknown",
            "The group was not found, either because it doesn't exist or you are not a member.",
            "Group 120363298765432101 is not managed by this number.")}));
}

TEST_CASE("webhook events: the OpenAPI create example's added_participants with numeric ids", "[webhook][events][lifecycle]") {
  const auto batch = parse_ok(create_openapi_body());
  const auto& e = single<GroupCreated>(batch);
  CHECK(shown(e.context) == shown(ctx(kLifecycle, 1751303100)));
  CHECK(e.group_id == kB64);
  CHECK(shown(e.request_id) == shown("1B2C3D4E5F60718293A4B5C6D7E8F901"));
  CHECK(shown(e.subject) == shown("Kitchen renovation - Weber"));
  CHECK(shown(e.description) == shown("Planning the Weber kitchen installation"));
  CHECK(shown(e.invite_link) == kUnset);
  CHECK(shown(e.join_approval_mode) == kUnset);
  CHECK(shown(e.added_participants) == shown(std::vector<Participant>{by_input("4915112345678", "4915112345678"),
                                                                      by_input("447700900123", "447700900123")}));
}

// =============================================================================================
// §4.3 group_participants_update

TEST_CASE("webhook events: a user joins by invite link", "[webhook][events][participants]") {
  const auto batch = parse_ok(join_by_link_body());
  const auto& e = single<ParticipantsAdded>(batch);
  CHECK(shown(e.context) == shown(ctx(kParticipants, 1751304000)));
  CHECK(e.group_id == kJid);
  CHECK(shown(e.reason) == shown("invite_link"));
  CHECK(shown(e.request_id) == kUnset);
  CHECK(shown(e.added_participants) == shown(std::vector<Participant>{person("5511987654321")}));
  CHECK_FALSE(e.raw.empty());
}

TEST_CASE("webhook events: a join request is created", "[webhook][events][participants]") {
  const auto batch = parse_ok(join_request_body("group_join_request_created", "1297563840128801", "5511987654321", "1751304100"));
  const auto& e = single<JoinRequestCreated>(batch);
  CHECK(shown(e.context) == shown(ctx(kParticipants, 1751304100)));
  CHECK(e.group_id == kJid);
  CHECK(shown(e.join_request_id) == shown("1297563840128801"));
  CHECK(shown(e.reason) == shown("user_requested"));
  CHECK(shown(e.requester) == shown(person("5511987654321")));
  CHECK_FALSE(e.raw.empty());
}

TEST_CASE("webhook events: a join request is revoked", "[webhook][events][participants]") {
  const auto batch = parse_ok(join_request_body("group_join_request_revoked", "1297563840128802", "34612345678", "1751304150"));
  const auto& e = single<JoinRequestRevoked>(batch);
  CHECK(shown(e.context) == shown(ctx(kParticipants, 1751304150)));
  CHECK(e.group_id == kJid);
  CHECK(shown(e.join_request_id) == shown("1297563840128802"));
  CHECK(shown(e.reason) == shown("user_requested"));
  CHECK(shown(e.requester) == shown(person("34612345678")));
}

TEST_CASE("webhook events: join requests approved in bulk (input + wa_id, numeric timestamp)", "[webhook][events][participants]") {
  const auto batch = parse_ok(join_approved_body());
  const auto& e = single<ParticipantsAdded>(batch);
  CHECK(shown(e.context) == shown(ctx(kParticipants, 1751304200)));
  CHECK(e.group_id == kJid);
  CHECK(shown(e.reason) == shown("invite_link"));
  CHECK(shown(e.request_id) == kUnset);
  CHECK(shown(e.added_participants) == shown(std::vector<Participant>{by_input("+34 612 345 678", "34612345678"),
                                                                      by_input("16465550187", "16465550187")}));
}

TEST_CASE("webhook events: the business removes participants", "[webhook][events][participants]") {
  const auto batch = parse_ok(remove_ok_body());
  const auto& e = single<ParticipantsRemoved>(batch);
  CHECK(shown(e.context) == shown(ctx(kParticipants, 1751304300)));
  CHECK(e.group_id == kJid);
  CHECK(shown(e.request_id) == shown("7F6E5D4C3B2A19087F6E5D4C3B2A1908"));
  CHECK(shown(e.initiated_by) == "business");
  CHECK(shown(e.initiated_by_raw) == shown("business"));
  CHECK(shown(e.removed_participants) ==
        shown(std::vector<Participant>{by_input("4915112345678"), by_input("447700900123")}));
  CHECK(e.failed_participants.empty());
  CHECK(e.errors.empty());
}

TEST_CASE("webhook events: a removal that partially fails", "[webhook][events][participants]") {
  const auto batch = parse_ok(remove_partial_body());
  const auto& e = single<ParticipantsRemoved>(batch);
  CHECK(shown(e.context) == shown(ctx(kParticipants, 1751304400)));
  CHECK(e.group_id == kJid);
  CHECK(shown(e.request_id) == shown("2A4C6E8F0B1D3F5A7C9E1B3D5F7A9C0E"));
  CHECK(shown(e.initiated_by) == "business");
  CHECK(shown(e.initiated_by_raw) == shown("business"));
  CHECK(shown(e.removed_participants) == shown(std::vector<Participant>{by_input("4915112345678")}));
  FailedParticipant failed;
  failed.participant = by_input("16465550187");
  failed.errors = {item_error(131212, "Participant is not a part of the group.", "Participant is not a part of the group.",
                              "16465550187 is not in group 120363298765432101.")};
  CHECK(shown(e.failed_participants) == shown(std::vector<FailedParticipant>{failed}));
  CHECK(shown(e.errors) == shown(std::vector<ItemError>{item_error(
                               131201, "Not All Participants Remove Succeeded",
                               "Failed to remove some participants from the group",
                               "1 of 2 participants could not be removed.")}));
}

TEST_CASE("webhook events: a removal that fails entirely", "[webhook][events][participants]") {
  const auto batch = parse_ok(remove_failed_body());
  const auto& e = single<ParticipantsRemoved>(batch);
  CHECK(shown(e.context) == shown(ctx(kParticipants, 1751304500)));
  CHECK(e.group_id == kB64);
  CHECK(shown(e.request_id) == shown("C0FFEE0123456789ABCDEF0123456789"));
  CHECK(shown(e.initiated_by) == "business");
  CHECK(e.removed_participants.empty());
  FailedParticipant first;
  first.participant = by_input("5511987654321");
  FailedParticipant second;
  second.participant = by_input("34612345678");
  second.errors = {item_error(131212, "Participant is not a part of the group.", {}, {})};
  CHECK(shown(e.failed_participants) == shown(std::vector<FailedParticipant>{first, second}));
  CHECK(shown(e.errors) == shown(std::vector<ItemError>{item_error(
                               131212, "Participant is not a part of the group.", "No participant could be removed.",
                               "None of the 2 participants is in the group.")}));
}

TEST_CASE("webhook events: a participant leaves", "[webhook][events][participants]") {
  const auto batch = parse_ok(participant_leaves_body());
  const auto& e = single<ParticipantsRemoved>(batch);
  CHECK(shown(e.context) == shown(ctx(kParticipants, 1751304600)));
  CHECK(e.group_id == kJid);
  CHECK(shown(e.request_id) == kUnset);
  CHECK(shown(e.initiated_by) == "participant");
  CHECK(shown(e.initiated_by_raw) == shown("participant"));
  CHECK(shown(e.removed_participants) == shown(std::vector<Participant>{person("447700900123")}));
  CHECK(e.failed_participants.empty());
  CHECK(e.errors.empty());
  CHECK(shown(request_id_of(batch.events[0])) == kUnset);
}

TEST_CASE("webhook events: initiated_by absent or unrecognised is unknown", "[webhook][events][participants]") {
  const auto batch = parse_ok(groups_body(kParticipants, R"json({"timestamp":"1751304700","group_id":"120363298765432101@g.us",
      "type":"group_participants_remove","removed_participants":[{"wa_id":"33612345678"}]},
    {"timestamp":"1751304701","group_id":"120363298765432101@g.us","type":"group_participants_remove",
      "initiated_by":"moderator","removed_participants":[{"wa_id":"33612345678"}]})json"));
  REQUIRE(batch.events.size() == 2);
  const auto& absent = event_at<ParticipantsRemoved>(batch, 0);
  CHECK(shown(absent.initiated_by) == "unknown");
  CHECK(shown(absent.initiated_by_raw) == kUnset);
  const auto& odd = event_at<ParticipantsRemoved>(batch, 1);
  CHECK(shown(odd.initiated_by) == "unknown");
  CHECK(shown(odd.initiated_by_raw) == shown("moderator"));
  CHECK(odd.context.item_index == 1);
}

TEST_CASE("webhook events: BSUID-era participant events", "[webhook][events][participants][bsuid]") {
  const auto batch = parse_ok(bsuid_participants_body());
  REQUIRE(batch.events.size() == 5);

  const auto& by_business = event_at<ParticipantsRemoved>(batch, 0);
  CHECK(shown(by_business.context) == shown(ctx(kParticipants, 1775001000, 0)));
  CHECK(by_business.group_id == kJid);
  CHECK(shown(by_business.request_id) == shown("B5D1A2C3E4F50617283940A1B2C3D4E5"));
  CHECK(shown(by_business.initiated_by) == "business");
  CHECK(shown(by_business.removed_participants) == shown(std::vector<Participant>{by_input("DE.58291047736612095531")}));

  const auto& left = event_at<ParticipantsRemoved>(batch, 1);
  CHECK(shown(left.context) == shown(ctx(kParticipants, 1775001060, 1)));
  CHECK(shown(left.request_id) == kUnset);
  CHECK(shown(left.initiated_by) == "participant");
  CHECK(shown(left.removed_participants) ==
        shown(std::vector<Participant>{person({}, "DE.58291047736612095531", "DE.ENT.20394857610293847561", "@lena.hoffmann")}));

  const auto& added = event_at<ParticipantsAdded>(batch, 2);
  CHECK(shown(added.context) == shown(ctx(kParticipants, 1775001120, 2)));
  CHECK(shown(added.reason) == shown("invite_link"));
  CHECK(shown(added.added_participants) ==
        shown(std::vector<Participant>{person("4915112345678", "DE.11223344556677889900", "DE.ENT.99887766554433221100", "@jonas_weber")}));

  const auto& created = event_at<JoinRequestCreated>(batch, 3);
  CHECK(shown(created.context) == shown(ctx(kParticipants, 1775001180, 3)));
  CHECK(shown(created.join_request_id) == shown("1297563840128837"));
  CHECK(shown(created.reason) == kUnset);
  CHECK(shown(created.requester) == shown(person({}, "BR.40516273849501627384", {}, "@ana.souza")));

  const auto& revoked = event_at<JoinRequestRevoked>(batch, 4);
  CHECK(shown(revoked.context) == shown(ctx(kParticipants, 1775001240, 4)));
  CHECK(shown(revoked.join_request_id) == shown("1297563840128838"));
  CHECK(shown(revoked.requester) ==
        shown(person("5511987654321", "BR.40516273849501627399", "BR.ENT.73849501627384950162", "@carlos.lima")));
  for (const auto& event : batch.events) CHECK(shown(group_id_of(event)) == shown(kJid));
}

TEST_CASE("webhook events: the OpenAPI spellings of the participants field and types", "[webhook][events][participants]") {
  const auto batch = parse_ok(openapi_participants_body());
  REQUIRE(batch.events.size() == 2);
  const auto& added = event_at<ParticipantsAdded>(batch, 0);
  CHECK(shown(added.context) == shown(ctx("group_participant_update", 1751305000, 0)));  // field kept as sent
  CHECK(added.group_id == kB64);
  CHECK(shown(added.request_id) == shown("0A1B2C3D4E5F60718293A4B5C6D7E8F9"));
  CHECK(shown(added.reason) == kUnset);
  CHECK(shown(added.added_participants) == shown(std::vector<Participant>{by_input("16465550187", "16465550187")}));

  const auto& removed = event_at<ParticipantsRemoved>(batch, 1);
  CHECK(shown(removed.context) == shown(ctx("group_participant_update", 1751305060, 1)));
  CHECK(removed.group_id == kB64);
  CHECK(shown(removed.request_id) == shown("F9E8D7C6B5A4938271605F4E3D2C1B0A"));
  CHECK(shown(removed.initiated_by) == "unknown");
  CHECK(shown(removed.initiated_by_raw) == kUnset);
  CHECK(shown(removed.removed_participants) == shown(std::vector<Participant>{by_input("16465550187", "16465550187")}));
  CHECK(removed.failed_participants.empty());
  CHECK(removed.errors.empty());
}

// =============================================================================================
// §4.4 group_settings_update

TEST_CASE("webhook events: settings update succeeded", "[webhook][events][settings]") {
  const auto batch = parse_ok(settings_ok_body());
  const auto& e = single<GroupSettingsUpdated>(batch);
  CHECK(shown(e.context) == shown(ctx(kSettings, 1751306000)));
  CHECK(e.group_id == kJid);
  CHECK(shown(e.request_id) == shown("D4C3B2A1908F7E6D5C4B3A2918F7E6D5"));
  CHECK(shown(e.profile_picture) == shown(outcome({}, "image/jpeg", kPictureHash, true)));
  CHECK(shown(e.group_subject) == shown(outcome("Order #1042 - resolved", {}, {}, true)));
  CHECK(shown(e.group_description) == shown(outcome("Delivery rescheduled to Friday", {}, {}, true)));
  CHECK(e.errors.empty());
  CHECK(e.all_succeeded());
}

TEST_CASE("webhook events: settings update partially failed", "[webhook][events][settings]") {
  const auto batch = parse_ok(settings_partial_body());
  const auto& e = single<GroupSettingsUpdated>(batch);
  CHECK(shown(e.context) == shown(ctx(kSettings, 1751306100)));
  CHECK(e.group_id == kJid);
  CHECK(shown(e.request_id) == shown("E5F6A7B8C9D0E1F2A3B4C5D6E7F8A9B0"));
  CHECK(shown(e.profile_picture) == shown(outcome({}, "image/jpeg", kPictureHash, true)));
  CHECK(shown(e.group_subject) ==
        shown(outcome("Order #1042 - escalated to the warehouse team for a second look", {}, {}, false,
                      {item_error(131208, "Group Rate Limit Hit", "Too many group operations from this number.",
                                  "Retry the subject change later.")})));
  CHECK(shown(e.group_description) ==
        shown(outcome("Escalated", {}, {}, false,
                      {item_error(131208, "Group Rate Limit Hit", "Too many group operations from this number.",
                                  "Retry the description change later.")})));
  CHECK(shown(e.errors) == shown(std::vector<ItemError>{item_error(131201, "Request partially succeeded",
                                                                   "Some settings were not updated.",
                                                                   "2 of 3 settings failed.")}));
  REQUIRE(e.profile_picture);
  CHECK(e.profile_picture->succeeded());
  REQUIRE(e.group_subject);
  CHECK_FALSE(e.group_subject->succeeded());
  CHECK_FALSE(e.all_succeeded());
}

TEST_CASE("webhook events: settings update failed entirely", "[webhook][events][settings]") {
  const auto batch = parse_ok(settings_total_fail_body());
  const auto& e = single<GroupSettingsUpdated>(batch);
  CHECK(shown(e.context) == shown(ctx(kSettings, 1751306200)));
  CHECK(e.group_id == kB64);
  CHECK(shown(e.request_id) == shown("A0B1C2D3E4F5061728394A5B6C7D8E9F"));
  const ItemError suspended = item_error(131207, "Group suspended", "The group violates platform policies.",
                                         "The group is suspended.");
  CHECK(shown(e.profile_picture) ==
        shown(outcome({}, "image/jpeg", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWo=", false,
                      {item_error(131209, "Invalid Group Profile Picture Aspect Ratio",
                                  "Width and height of the image must be equal.", "The image is 640x480.")})));
  CHECK(shown(e.group_subject) == shown(outcome("Weber kitchen", {}, {}, false, {suspended})));
  CHECK(shown(e.group_description) == shown(outcome("Installation on 14 July", {}, {}, false, {suspended})));
  CHECK(shown(e.errors) == shown(std::vector<ItemError>{item_error(131207, "Group suspended",
                                                                   "The group violates platform policies.",
                                                                   "No setting was changed.")}));
  CHECK_FALSE(e.all_succeeded());
}

TEST_CASE("webhook events: the OpenAPI settings example with only profile_picture{mime_type, sha256}", "[webhook][events][settings]") {
  const auto batch = parse_ok(settings_openapi_body());
  const auto& e = single<GroupSettingsUpdated>(batch);
  CHECK(shown(e.context) == shown(ctx(kSettings, 1751306300)));
  CHECK(e.group_id == kB64);
  CHECK(shown(e.request_id) == shown("13579BDF2468ACE013579BDF2468ACE0"));
  CHECK(shown(e.profile_picture) ==
        shown(outcome({}, "image/jpeg", "Qk1QdjJ0c2VjcmV0aGFzaHZhbHVlMTIzNDU2Nzg5MA==", std::nullopt)));
  REQUIRE(e.profile_picture);
  CHECK(e.profile_picture->succeeded());  // no flag and no errors
  CHECK(shown(e.group_subject) == kUnset);
  CHECK(shown(e.group_description) == kUnset);
  CHECK(e.errors.empty());
  CHECK(e.all_succeeded());
}

// =============================================================================================
// §4.5 group_status_update

TEST_CASE("webhook events: group suspended and suspension cleared", "[webhook][events][status]") {
  const auto suspended = parse_ok(suspend_body("group_suspend", "1751307000"));
  const auto& s = single<GroupSuspended>(suspended);
  CHECK(shown(s.context) == shown(ctx(kStatus, 1751307000)));
  CHECK(s.group_id == kJid);
  CHECK_FALSE(s.raw.empty());

  const auto cleared = parse_ok(suspend_body("group_suspend_cleared", "1751393400"));
  const auto& c = single<GroupSuspensionCleared>(cleared);
  CHECK(shown(c.context) == shown(ctx(kStatus, 1751393400)));
  CHECK(c.group_id == kJid);
  CHECK_FALSE(c.raw.empty());
}

// =============================================================================================
// §4.6 inbound messages

namespace {

void check_message(const InboundMessage& got, const InboundMessage& want) {
  CHECK(shown(got.context) == shown(want.context));
  CHECK(got.id == want.id);
  CHECK(got.type == want.type);
  CHECK(shown(got.group_id) == shown(want.group_id));
  CHECK(shown(got.from) == shown(want.from));
  CHECK(shown(got.from_user_id) == shown(want.from_user_id));
  CHECK(shown(got.from_parent_user_id) == shown(want.from_parent_user_id));
  CHECK(shown(got.username) == shown(want.username));
  CHECK(shown(got.contact_name) == shown(want.contact_name));
  CHECK(shown(got.contact_wa_id) == shown(want.contact_wa_id));
  CHECK(shown(got.text) == shown(want.text));
  CHECK(shown(got.caption) == shown(want.caption));
  CHECK(shown(got.media_id) == shown(want.media_id));
  CHECK(shown(got.mime_type) == shown(want.mime_type));
  CHECK(shown(got.sha256) == shown(want.sha256));
  CHECK(shown(got.filename) == shown(want.filename));
  CHECK(shown(got.reply_to) == shown(want.reply_to));
  CHECK(shown(got.errors) == shown(want.errors));
  CHECK(got.is_unsupported() == want.is_unsupported());
  REQUIRE_FALSE(got.raw.empty());
  CHECK(shown(got.raw.get("id")) == shown(want.id));  // raw is the messages[i] item
}

void check_status(const MessageStatusData& got, const MessageStatusData& want) {
  CHECK(shown(got.context) == shown(want.context));
  CHECK(got.id == want.id);
  CHECK(got.status == want.status);
  CHECK(to_string(got.delivery_status) == std::string(to_string(want.delivery_status)));
  CHECK(shown(got.recipient_id) == shown(want.recipient_id));
  CHECK(shown(got.recipient_type) == shown(want.recipient_type));
  CHECK(shown(got.recipient_user_id) == shown(want.recipient_user_id));
  CHECK(shown(got.group_id) == shown(want.group_id));
  CHECK(shown(got.recipient_participant_id) == shown(want.recipient_participant_id));
  CHECK(shown(got.recipient_participant_user_id) == shown(want.recipient_participant_user_id));
  CHECK(shown(got.recipient_participant_parent_user_id) == shown(want.recipient_participant_parent_user_id));
  CHECK(shown(got.contact_name) == shown(want.contact_name));
  CHECK(shown(got.username) == shown(want.username));
  CHECK(shown(got.conversation_id) == shown(want.conversation_id));
  CHECK(shown(got.pricing_category) == shown(want.pricing_category));
  CHECK(shown(got.pricing_type) == shown(want.pricing_type));
  CHECK(shown(got.pricing_model) == shown(want.pricing_model));
  CHECK(shown(got.billable) == shown(want.billable));
  CHECK(shown(got.biz_opaque_callback_data) == shown(want.biz_opaque_callback_data));
  CHECK(shown(got.errors) == shown(want.errors));
  REQUIRE_FALSE(got.raw.empty());
  CHECK(shown(got.raw.get("id")) == shown(want.id));  // raw is the statuses[i] item
  CHECK(shown(got.raw.get("status")) == shown(want.status));
}

}  // namespace

TEST_CASE("webhook events: a group text with its sender's contact", "[webhook][events][messages]") {
  const auto batch = parse_ok(group_text_body());
  GroupMessageReceived want;
  want.context = ctx(kMessages, 1751307000);
  want.id = kWamidIn1;
  want.type = "text";
  want.group_id = kJid;
  want.from = "4915112345678";
  want.contact_name = "Jonas Weber";
  want.contact_wa_id = "4915112345678";
  want.text = "Is the delivery still on for Friday?";
  check_message(single<GroupMessageReceived>(batch), want);
  // identity_key_hash is not modelled; it stays in the contact, not in the message item.
  CHECK(shown(single<GroupMessageReceived>(batch).raw.get("identity_key_hash")) == kUnset);
}

TEST_CASE("webhook events: a group text from a BSUID-only sender", "[webhook][events][messages][bsuid]") {
  const auto batch = parse_ok(group_text_bsuid_body());
  GroupMessageReceived want;
  want.context = ctx(kMessages, 1775002000);
  want.id = "wamid.HBgWREUuNTgyOTEwNDc3MzY2MTIwOTU1MzEVAgASGBQzQTc1RkYwOTlGMTI0M0NEMDQA";
  want.type = "text";
  want.group_id = kB64;
  want.from_user_id = "DE.58291047736612095531";
  want.from_parent_user_id = "DE.ENT.20394857610293847561";
  want.username = "@lena.hoffmann";
  want.contact_name = "Lena Hoffmann";
  want.text = "Can we move the installation to Monday?";
  check_message(single<GroupMessageReceived>(batch), want);
}

TEST_CASE("webhook events: the contact's BSUIDs complete a sender known by phone", "[webhook][events][messages][bsuid]") {
  const auto batch = parse_ok(envelope(kMessages, messages_value(R"json({
      "profile": {"name": "Carlos Lima", "username": "@carlos.lima"},
      "wa_id": "5511976543210",
      "user_id": "BR.40516273849501627399",
      "parent_user_id": "BR.ENT.73849501627384950162"
    })json", R"json({
      "from": "5511976543210",
      "group_id": "120363298765432101@g.us",
      "id": "wamid.HBgNNTUxMTk3NjU0MzIxMBUCABIYFjNFQjBGRjAwMTEyMjMzNDQ1NTY2AA==",
      "timestamp": "1775002100",
      "type": "text",
      "text": {"body": "Bom dia!"}
    })json")));
  GroupMessageReceived want;
  want.context = ctx(kMessages, 1775002100);
  want.id = "wamid.HBgNNTUxMTk3NjU0MzIxMBUCABIYFjNFQjBGRjAwMTEyMjMzNDQ1NTY2AA==";
  want.type = "text";
  want.group_id = kJid;
  want.from = "5511976543210";
  want.from_user_id = "BR.40516273849501627399";
  want.from_parent_user_id = "BR.ENT.73849501627384950162";
  want.username = "@carlos.lima";
  want.contact_name = "Carlos Lima";
  want.contact_wa_id = "5511976543210";
  want.text = "Bom dia!";
  check_message(single<GroupMessageReceived>(batch), want);
}

TEST_CASE("webhook events: a sender without a contact entry gets nobody else's", "[webhook][events][messages]") {
  // Two senders, one contact entry (Jonas's): Ana's message must not take Jonas's name.
  const auto batch = parse_ok(envelope(kMessages, messages_value(
      R"json({"profile": {"name": "Jonas Weber"}, "wa_id": "4915112345678"})json", R"json({
      "from": "4915112345678", "group_id": "120363298765432101@g.us", "id": "wamid.C1", "timestamp": "1751307600",
      "type": "text", "text": {"body": "On my way"}
    }, {
      "from": "5511987654321", "group_id": "120363298765432101@g.us", "id": "wamid.C2", "timestamp": "1751307601",
      "type": "text", "text": {"body": "Me too"}
    })json")));
  REQUIRE(batch.events.size() == 2);
  const auto& jonas = event_at<GroupMessageReceived>(batch, 0);
  CHECK(shown(jonas.contact_name) == shown("Jonas Weber"));
  CHECK(shown(jonas.contact_wa_id) == shown("4915112345678"));
  const auto& ana = event_at<GroupMessageReceived>(batch, 1);
  CHECK(shown(ana.from) == shown("5511987654321"));
  CHECK(shown(ana.contact_name) == kUnset);
  CHECK(shown(ana.contact_wa_id) == kUnset);
  CHECK(shown(ana.username) == kUnset);
}

TEST_CASE("webhook events: the only contact of the only message is its sender, even when phone and wa_id differ", "[webhook][events][messages]") {
  // Meta: `from` and the contact entry "point to the same participant", and "a WhatsApp user's phone
  // number and ID may not always match" (a leading "+", or Brazil's extra mobile 9 in the phone).
  for (const auto& [from, wa_id] : std::vector<std::pair<std::string, std::string>>{
           {"+4915112345678", "4915112345678"}, {"5511987654321", "551187654321"}}) {
    INFO("from " << from << ", wa_id " << wa_id);
    const auto batch = parse_ok(envelope(kMessages, messages_value(
        R"json({"profile": {"name": "Ana Souza"}, "wa_id": ")json" + wa_id + R"json("})json",
        R"json({"from": ")json" + from + R"json(", "group_id": "120363298765432101@g.us", "id": "wamid.D1",
          "timestamp": "1751307700", "type": "text", "text": {"body": "Oi"}})json")));
    const auto& m = single<GroupMessageReceived>(batch);
    CHECK(shown(m.from) == shown(from));
    CHECK(shown(m.contact_wa_id) == shown(wa_id));
    CHECK(shown(m.contact_name) == shown("Ana Souza"));
  }
}

TEST_CASE("webhook events: an unsupported group message keeps its 130501 error", "[webhook][events][messages]") {
  const auto batch = parse_ok(group_unsupported_body());
  GroupMessageReceived want;
  want.context = ctx(kMessages, 1751307100);
  want.id = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjA5QTc3RjJCMUM0RDg5MDEyAA==";
  want.type = "unsupported";
  want.group_id = kJid;
  want.from = "5511987654321";
  want.contact_name = "Ana Souza";
  want.contact_wa_id = "5511987654321";
  want.errors = {item_error(130501, "Unsupported message type", "Message type is not currently supported",
                            "Polls are not supported in groups.")};
  const auto& got = single<GroupMessageReceived>(batch);
  check_message(got, want);
  CHECK(got.is_unsupported());
  REQUIRE(got.errors.size() == 1);
  CHECK(got.errors[0].code == graph_codes::unsupported_group_message);
}

TEST_CASE("webhook events: a group image with caption, id, mime_type and sha256", "[webhook][events][messages]") {
  const auto batch = parse_ok(group_image_body());
  GroupMessageReceived want;
  want.context = ctx(kMessages, 1751307200);
  want.id = "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFjNFQjA3RDM0OTg4QTEyRjZCMzM0AA==";
  want.type = "image";
  want.group_id = kJid;
  want.from = "4915112345678";
  want.contact_name = "Jonas Weber";
  want.contact_wa_id = "4915112345678";
  want.caption = "The box arrived like this";
  want.media_id = "1482937562014387";
  want.mime_type = "image/jpeg";
  want.sha256 = "b1946ac92492d2347c6235b4d2611184a3bc4f3f5e9b2d1f6c8e0a7b9d3c5e1f";
  check_message(single<GroupMessageReceived>(batch), want);
}

TEST_CASE("webhook events: a reply in a group carries the quoted message", "[webhook][events][messages]") {
  const auto batch = parse_ok(group_reply_body());
  GroupMessageReceived want;
  want.context = ctx(kMessages, 1751307300);
  want.id = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgWM0VCMEM1NjdEOEU5RjAxMjM0NTZBAA==";
  want.type = "text";
  want.group_id = kJid;
  want.from = "447700900123";
  want.contact_name = "Oliver Bennett";
  want.contact_wa_id = "447700900123";
  want.text = "Friday works for me.";
  want.reply_to = ReplyContext{std::string("15557654321"),
                               std::string("wamid.HBgLMTU1NTc2NTQzMjEVAgARGBJCNTlEMkU4RjA0QTFDM0I1NgA=")};
  check_message(single<GroupMessageReceived>(batch), want);
}

TEST_CASE("webhook events: a group document with a filename", "[webhook][events][messages]") {
  const auto batch = parse_ok(group_document_body());
  GroupMessageReceived want;
  want.context = ctx(kMessages, 1751307400);
  want.id = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjBEOEY5MDEyMzQ1Njc4OUFCAA==";
  want.type = "document";
  want.group_id = kB64;
  want.from = "5511987654321";
  want.contact_name = "Ana Souza";
  want.contact_wa_id = "5511987654321";
  want.caption = "Signed delivery note";
  want.filename = "delivery-note-1042.pdf";
  want.mime_type = "application/pdf";
  want.sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  want.media_id = "902745613388214";
  check_message(single<GroupMessageReceived>(batch), want);
}

TEST_CASE("webhook events: a 1:1 text is a DirectMessageReceived", "[webhook][events][messages]") {
  const auto batch = parse_ok(direct_text_body());
  DirectMessageReceived want;
  want.context = ctx(kMessages, 1751307500);
  want.id = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgWM0VCMDExMjIzMzQ0NTU2Njc3ODg5AA==";
  want.type = "text";
  want.from = "447700900123";
  want.contact_name = "Oliver Bennett";
  want.contact_wa_id = "447700900123";
  want.text = "Hi, I never got the group invite.";
  check_message(single<DirectMessageReceived>(batch), want);
}

// =============================================================================================
// §4.7 statuses

TEST_CASE("webhook events: a group message sent (no participant)", "[webhook][events][statuses]") {
  const auto batch = parse_ok(group_sent_body());
  GroupMessageStatus want;
  want.context = ctx(kMessages, 1751308000);
  want.id = kWamidOut;
  want.status = "sent";
  want.delivery_status = DeliveryStatus::sent;
  want.recipient_id = kJid;
  want.recipient_type = "group";
  want.group_id = kJid;
  check_status(single<GroupMessageStatus>(batch), want);
}

TEST_CASE("webhook events: a group message failed with errors", "[webhook][events][statuses]") {
  const auto batch = parse_ok(group_failed_body());
  GroupMessageStatus want;
  want.context = ctx(kMessages, 1751308050);
  want.id = "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBJBQkNERUYwMTIzNDU2Nzg5AA==";
  want.status = "failed";
  want.delivery_status = DeliveryStatus::failed;
  want.recipient_id = kJid;
  want.recipient_type = "group";
  want.group_id = kJid;
  want.errors = {item_error(131020, "Bad Group", "Cannot send messages to single member groups.",
                            "The group has no member besides the business.",
                            "/docs/whatsapp/cloud-api/support/error-codes/")};
  check_status(single<GroupMessageStatus>(batch), want);
}

TEST_CASE("webhook events: seven participants read one message (pricing inside conversation)", "[webhook][events][statuses]") {
  const auto batch = parse_ok(aggregated_read_body());
  REQUIRE(batch.events.size() == kSevenReaders.size());
  for (std::size_t i = 0; i < kSevenReaders.size(); ++i) {
    INFO("status " << i);
    GroupMessageStatus want;
    want.context = ctx(kMessages, 1751308100 + static_cast<std::int64_t>(i), i);
    want.id = kWamidOut;
    want.status = "read";
    want.delivery_status = DeliveryStatus::read;
    want.recipient_id = kJid;
    want.recipient_type = "group";
    want.group_id = kJid;
    want.recipient_participant_id = kSevenReaders[i];
    want.conversation_id = "c8a1e2f3b4d5a6c7e8f9a0b1c2d3e4f5";
    want.pricing_category = "group_marketing";
    want.pricing_type = "regular";
    want.pricing_model = "PMP";
    want.billable = true;
    check_status(event_at<GroupMessageStatus>(batch, i), want);
  }
}

TEST_CASE("webhook events: several messages delivered to one participant", "[webhook][events][statuses]") {
  const auto batch = parse_ok(multi_message_delivered_body());
  REQUIRE(batch.events.size() == kThreeWamids.size());
  for (std::size_t i = 0; i < kThreeWamids.size(); ++i) {
    INFO("status " << i);
    GroupMessageStatus want;
    want.context = ctx(kMessages, 1751308200, i);
    want.id = kThreeWamids[i];
    want.status = "delivered";
    want.delivery_status = DeliveryStatus::delivered;
    want.recipient_id = kB64;
    want.recipient_type = "group";
    want.group_id = kB64;
    want.recipient_participant_id = "34612345678";
    want.conversation_id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    want.pricing_category = "group_utility";
    want.pricing_model = "PMP";
    want.billable = true;
    check_status(event_at<GroupMessageStatus>(batch, i), want);
  }
}

TEST_CASE("webhook events: the participant_recipient_id spelling, pricing beside conversation", "[webhook][events][statuses]") {
  const auto batch = parse_ok(participant_recipient_spelling_body());
  GroupMessageStatus want;
  want.context = ctx(kMessages, 1751308300);
  want.id = kWamidOut;
  want.status = "delivered";
  want.delivery_status = DeliveryStatus::delivered;
  want.recipient_id = kJid;
  want.recipient_type = "group";
  want.group_id = kJid;
  want.recipient_participant_id = "5511987654321";
  want.conversation_id = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
  want.pricing_category = "group_utility";
  want.pricing_model = "PMP";
  want.billable = true;
  check_status(single<GroupMessageStatus>(batch), want);
}

TEST_CASE("webhook events: a group read without pricing", "[webhook][events][statuses]") {
  const auto batch = parse_ok(read_without_pricing_body());
  GroupMessageStatus want;
  want.context = ctx(kMessages, 1751308400);
  want.id = kWamidOut;
  want.status = "read";
  want.delivery_status = DeliveryStatus::read;
  want.recipient_id = kJid;
  want.recipient_type = "group";
  want.group_id = kJid;
  want.recipient_participant_id = "447700900123";
  check_status(single<GroupMessageStatus>(batch), want);
}

TEST_CASE("webhook events: BSUID group statuses take their contact by user id", "[webhook][events][statuses][bsuid]") {
  const auto batch = parse_ok(bsuid_status_body());
  REQUIRE(batch.events.size() == 2);
  GroupMessageStatus lena;
  lena.context = ctx(kMessages, 1775003000, 0);
  lena.id = "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBJGRkVFRERDQ0JCQUE5OQA=";
  lena.status = "delivered";
  lena.delivery_status = DeliveryStatus::delivered;
  lena.recipient_id = kJid;
  lena.recipient_type = "group";
  lena.group_id = kJid;
  lena.recipient_participant_user_id = "DE.58291047736612095531";
  lena.recipient_participant_parent_user_id = "DE.ENT.20394857610293847561";
  lena.contact_name = "Lena Hoffmann";
  lena.username = "@lena.hoffmann";
  check_status(event_at<GroupMessageStatus>(batch, 0), lena);

  GroupMessageStatus ana = lena;
  ana.context = ctx(kMessages, 1775003001, 1);
  ana.recipient_participant_user_id = "BR.40516273849501627384";
  ana.recipient_participant_parent_user_id.reset();
  ana.contact_name = "Ana Souza";
  ana.username = "@ana.souza";
  check_status(event_at<GroupMessageStatus>(batch, 1), ana);
}

TEST_CASE("webhook events: the OpenAPI schema's group_id member marks a group status", "[webhook][events][statuses]") {
  const auto batch = parse_ok(spec_group_id_status_body());
  GroupMessageStatus want;
  want.context = ctx(kMessages, 1751308500);
  want.id = "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBI4ODc3NjY1NTQ0MzMyMjExAA==";
  want.status = "read";
  want.delivery_status = DeliveryStatus::read;
  want.recipient_id = kB64;
  want.group_id = kB64;
  check_status(single<GroupMessageStatus>(batch), want);
}

TEST_CASE("webhook events: free group customer-service pricing", "[webhook][events][statuses]") {
  const auto batch = parse_ok(free_service_pricing_body());
  GroupMessageStatus want;
  want.context = ctx(kMessages, 1751308600);
  want.id = "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBJBQUJCQ0NEREVFRkYwMAA=";
  want.status = "delivered";
  want.delivery_status = DeliveryStatus::delivered;
  want.recipient_id = kJid;
  want.recipient_type = "group";
  want.group_id = kJid;
  want.recipient_participant_id = "4915112345678";
  want.biz_opaque_callback_data = "case-1042";
  want.pricing_type = "free_group_customer_service";
  want.pricing_category = "group_service";
  want.pricing_model = "PMP";
  want.billable = false;
  check_status(single<GroupMessageStatus>(batch), want);
}

TEST_CASE("webhook events: a 1:1 template delivery is a DirectMessageStatus", "[webhook][events][statuses]") {
  const auto batch = parse_ok(direct_template_status_body());
  DirectMessageStatus want;
  want.context = ctx(kMessages, 1751308700);
  want.id = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSMDlBOEI3QzZENUU0RjNBMkIxAA==";
  want.status = "delivered";
  want.delivery_status = DeliveryStatus::delivered;
  want.recipient_id = "447700900123";
  want.conversation_id = "5e4d3c2b1a0918273645546372819aab";
  want.pricing_category = "utility";
  want.pricing_type = "regular";
  want.pricing_model = "PMP";
  want.billable = true;
  want.biz_opaque_callback_data = "invite-case-1042";
  check_status(single<DirectMessageStatus>(batch), want);
}

TEST_CASE("webhook events: delivery status names", "[webhook][events][statuses]") {
  CHECK(parse_delivery_status("sent") == DeliveryStatus::sent);
  CHECK(parse_delivery_status("delivered") == DeliveryStatus::delivered);
  CHECK(parse_delivery_status("read") == DeliveryStatus::read);
  CHECK(parse_delivery_status("played") == DeliveryStatus::played);
  CHECK(parse_delivery_status("failed") == DeliveryStatus::failed);
  CHECK(parse_delivery_status("deleted") == DeliveryStatus::unknown);
  CHECK(parse_delivery_status("") == DeliveryStatus::unknown);
  CHECK(std::string(to_string(DeliveryStatus::played)) == "played");
  CHECK(std::string(to_string(DeliveryStatus::unknown)) == "unknown");
  // An unknown status word is kept as sent, never refused.
  const auto batch = parse_ok(envelope(kMessages, statuses_value(R"json({"id":"wamid.X1","status":"warning",
    "timestamp":"1751308800","recipient_id":"120363298765432101@g.us","recipient_type":"group"})json")));
  const auto& s = single<GroupMessageStatus>(batch);
  CHECK(s.status == "warning");
  CHECK(s.delivery_status == DeliveryStatus::unknown);
}

// =============================================================================================
// A batched body: 3 entries x 2 changes x several items, fields mixed.

namespace {

std::string batched_body() {
  const std::string p1 = metadata_member(kPhoneId, kDisplay);
  const std::string p2 = metadata_member("108765432100002", "15557650002");
  const std::string p3 = metadata_member("108765432100003", "15557650003");
  return R"json({"object": "whatsapp_business_account", "entry": [
  {"id": "213456789012345", "changes": [
    {"field": "group_lifecycle_update", "value": {"messaging_product": "whatsapp", )json" + p1 + R"json(, "groups": [
      {"timestamp": "1751400000", "group_id": "120363298765432101@g.us", "type": "group_create",
       "request_id": "REQ-0001", "subject": "Case 1042", "invite_link": "https://chat.whatsapp.com/Ab12Cd34Ef56Gh78Ij90Kl",
       "join_approval_mode": "auto_approve"},
      {"timestamp": 1751400005, "group_id": "Y2FwaV9ncm91cDoxNTU1NzY1NDMyMToxMjAzNjMyOTg3NjU0MzIxMDEZD",
       "type": "group_delete", "request_id": "REQ-0002"}]}},
    {"field": "messages", "value": {"messaging_product": "whatsapp", )json" + p1 + R"json(,
      "contacts": [{"profile": {"name": "Oliver Bennett"}, "wa_id": "447700900123"},
                   {"profile": {"name": "Jonas Weber"}, "wa_id": "4915112345678"}],
      "messages": [
        {"from": "4915112345678", "group_id": "120363298765432101@g.us", "id": "wamid.B1", "timestamp": "1751400010",
         "type": "text", "text": {"body": "First!"}},
        {"from": "447700900123", "group_id": "120363298765432101@g.us", "id": "wamid.B2", "timestamp": "1751400011",
         "type": "image", "image": {"id": "771203948812", "mime_type": "image/jpeg", "sha256": "aa11bb22"}},
        {"from": "4915112345678", "id": "wamid.B3", "timestamp": "1751400012", "type": "text",
         "text": {"body": "Sending you the invoice separately."}}]}}]},
  {"id": "213456789099999", "changes": [
    {"field": "group_participants_update", "value": {"messaging_product": "whatsapp", )json" + p2 + R"json(, "groups": [
      {"timestamp": 1751400100, "group_id": "120363298765432102@g.us", "type": "group_participants_add",
       "reason": "invite_link", "added_participants": [{"wa_id": "5511987654321"}]},
      {"timestamp": "1751400101", "group_id": "120363298765432102@g.us", "type": "group_participants_remove",
       "request_id": "REQ-0003", "initiated_by": "business", "removed_participants": [{"input": "34612345678"}]},
      {"timestamp": "1751400102", "group_id": "120363298765432102@g.us", "type": "group_join_request_created",
       "join_request_id": "5550001", "wa_id": "33612345678"}]}},
    {"field": "messages", "value": {"messaging_product": "whatsapp", )json" + p2 + R"json(, "statuses": [
      {"id": "wamid.S1", "status": "read", "timestamp": "1751400110", "recipient_id": "120363298765432102@g.us",
       "recipient_type": "group", "recipient_participant_id": "5511987654321"},
      {"id": "wamid.S1", "status": "read", "timestamp": "1751400111", "recipient_id": "120363298765432102@g.us",
       "recipient_type": "group", "recipient_participant_id": "33612345678"},
      {"id": "wamid.S1", "status": "read", "timestamp": "1751400112", "recipient_id": "120363298765432102@g.us",
       "recipient_type": "group", "recipient_participant_id": "16465550187"}]}}]},
  {"id": "213456789088888", "changes": [
    {"field": "group_settings_update", "value": {"messaging_product": "whatsapp", )json" + p3 + R"json(, "groups": [
      {"timestamp": "1751400200", "group_id": "120363298765432103@g.us", "type": "group_settings_update",
       "request_id": "REQ-0004", "group_subject": {"text": "Case 1042 (closed)", "update_successful": true}},
      {"timestamp": "1751400201", "group_id": "120363298765432103@g.us", "type": "group_settings_update",
       "request_id": "REQ-0005", "group_description": {"text": "Closed on 2 July", "update_successful": true}}]}},
    {"field": "group_status_update", "value": {"messaging_product": "whatsapp", )json" + p3 + R"json(, "groups": [
      {"timestamp": "1751400300", "type": "group_suspend", "group_id": "120363298765432103@g.us"},
      {"timestamp": "1751400301", "type": "group_suspend_cleared", "group_id": "120363298765432103@g.us"}]}}]}
]})json";
}

}  // namespace

TEST_CASE("webhook events: a batched body keeps every event, in order, with its context", "[webhook][events][batch]") {
  const auto batch = parse_ok(batched_body());
  struct Expected {
    const char* kind;
    WebhookContext context;
    std::optional<std::string> group;
  };
  const std::string w1 = kWaba, w2 = "213456789099999", w3 = "213456789088888";
  const std::string p2 = "108765432100002", d2 = "15557650002", p3 = "108765432100003", d3 = "15557650003";
  const std::string g2 = "120363298765432102@g.us", g3 = "120363298765432103@g.us";
  const std::vector<Expected> expected = {
      {"group_created", ctx(kLifecycle, 1751400000, 0, 0, 0, w1), kJid},
      {"group_deleted", ctx(kLifecycle, 1751400005, 1, 0, 0, w1), kB64},
      {"group_message", ctx(kMessages, 1751400010, 0, 0, 1, w1), kJid},
      {"group_message", ctx(kMessages, 1751400011, 1, 0, 1, w1), kJid},
      {"message", ctx(kMessages, 1751400012, 2, 0, 1, w1), std::nullopt},
      {"participants_added", ctx(kParticipants, 1751400100, 0, 1, 0, w2, p2, d2), g2},
      {"participants_removed", ctx(kParticipants, 1751400101, 1, 1, 0, w2, p2, d2), g2},
      {"join_request_created", ctx(kParticipants, 1751400102, 2, 1, 0, w2, p2, d2), g2},
      {"group_message_status", ctx(kMessages, 1751400110, 0, 1, 1, w2, p2, d2), g2},
      {"group_message_status", ctx(kMessages, 1751400111, 1, 1, 1, w2, p2, d2), g2},
      {"group_message_status", ctx(kMessages, 1751400112, 2, 1, 1, w2, p2, d2), g2},
      {"group_settings_updated", ctx(kSettings, 1751400200, 0, 2, 0, w3, p3, d3), g3},
      {"group_settings_updated", ctx(kSettings, 1751400201, 1, 2, 0, w3, p3, d3), g3},
      {"group_suspended", ctx(kStatus, 1751400300, 0, 2, 1, w3, p3, d3), g3},
      {"group_suspension_cleared", ctx(kStatus, 1751400301, 1, 2, 1, w3, p3, d3), g3},
  };
  REQUIRE(batch.events.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("event " << i);
    CHECK(std::string(kind_of(batch.events[i])) == expected[i].kind);
    CHECK(shown(context_of(batch.events[i])) == shown(expected[i].context));
    CHECK(shown(group_id_of(batch.events[i])) == shown(expected[i].group));
  }
  // Spot checks that each item's own fields went to its own event.
  CHECK(shown(event_at<GroupCreated>(batch, 0).join_approval_mode) == "auto_approve");
  CHECK(shown(event_at<GroupDeleted>(batch, 1).request_id) == shown("REQ-0002"));
  // The contacts are listed in the other order: each message takes its own sender's entry.
  CHECK(shown(event_at<GroupMessageReceived>(batch, 2).contact_name) == shown("Jonas Weber"));
  CHECK(shown(event_at<GroupMessageReceived>(batch, 2).text) == shown("First!"));
  CHECK(shown(event_at<GroupMessageReceived>(batch, 3).contact_name) == shown("Oliver Bennett"));
  CHECK(shown(event_at<GroupMessageReceived>(batch, 3).media_id) == shown("771203948812"));
  CHECK(shown(event_at<GroupMessageReceived>(batch, 3).text) == kUnset);
  CHECK(shown(event_at<DirectMessageReceived>(batch, 4).contact_name) == shown("Jonas Weber"));
  CHECK(shown(event_at<DirectMessageReceived>(batch, 4).group_id) == kUnset);
  CHECK(shown(event_at<ParticipantsRemoved>(batch, 6).request_id) == shown("REQ-0003"));
  CHECK(shown(event_at<JoinRequestCreated>(batch, 7).requester) == shown(person("33612345678")));
  CHECK(shown(event_at<GroupMessageStatus>(batch, 9).recipient_participant_id) == shown("33612345678"));
  CHECK(shown(event_at<GroupSettingsUpdated>(batch, 11).group_description) == kUnset);
  CHECK(shown(event_at<GroupSettingsUpdated>(batch, 12).group_subject) == kUnset);
  CHECK(shown(event_at<GroupSettingsUpdated>(batch, 12).group_description) ==
        shown(outcome("Closed on 2 July", {}, {}, true)));
}

// =============================================================================================
// Fields and types the SDK does not model

TEST_CASE("webhook events: an account_update change is one UnknownEvent with its raw value", "[webhook][events][unknown]") {
  const auto batch = parse_ok(envelope("account_update", kAccountUpdateValue));
  const auto& e = single<UnknownEvent>(batch);
  CHECK(shown(e.context) == shown(ctx("account_update", std::nullopt, 0, 0, 0, kWaba, "", "")));
  CHECK(shown(e.type) == kUnset);
  REQUIRE_FALSE(e.raw.empty());
  CHECK(wagroups_test::json_equal(e.raw_json(), kAccountUpdateValue));
  CHECK(wagroups_test::json_equal(e.raw.str(), kAccountUpdateValue));
  CHECK(shown(e.raw.get("event")) == shown("ACCOUNT_RESTRICTION"));
  CHECK(shown(e.raw.get("restriction_info")) == kUnset);  // an array is not text
  CHECK(shown(e.raw.get("no_such_key")) == kUnset);
  CHECK(e.raw.at("no_such_key").empty());
  CHECK(std::string(kind_of(batch.events[0])) == "unknown");
  CHECK(shown(group_id_of(batch.events[0])) == kUnset);
  CHECK(shown(request_id_of(batch.events[0])) == kUnset);
}

TEST_CASE("webhook events: a message_template_status_update change is one UnknownEvent", "[webhook][events][unknown]") {
  const auto batch = parse_ok(envelope("message_template_status_update", kTemplateStatusValue));
  const auto& e = single<UnknownEvent>(batch);
  CHECK(shown(e.context) == shown(ctx("message_template_status_update", std::nullopt, 0, 0, 0, kWaba, "", "")));
  CHECK(shown(e.type) == kUnset);
  CHECK(wagroups_test::json_equal(e.raw_json(), kTemplateStatusValue));
  CHECK(shown(e.raw.get("message_template_id")) == shown("981273645501234"));  // numbers rendered
  CHECK(shown(e.raw.get("message_template_name")) == shown("group_case_invite"));
}

TEST_CASE("webhook events: a group item of an unknown type is an UnknownEvent with that type", "[webhook][events][unknown]") {
  const std::string unknown_item = R"json({"timestamp": "1751309000", "group_id": "120363298765432101@g.us",
    "type": "group_pinned_message_update", "pin": {"message_id": "wamid.Z9", "duration_days": 7}})json";
  const auto batch = parse_ok(groups_body(kStatus, unknown_item + R"json(,
    {"timestamp": "1751309001", "type": "group_suspend", "group_id": "120363298765432101@g.us"})json"));
  REQUIRE(batch.events.size() == 2);
  const auto& e = event_at<UnknownEvent>(batch, 0);
  CHECK(shown(e.context) == shown(ctx(kStatus, 1751309000, 0)));
  CHECK(shown(e.type) == shown("group_pinned_message_update"));
  CHECK(wagroups_test::json_equal(e.raw_json(), unknown_item));  // the item, not the whole value
  CHECK(shown(e.raw.get("group_id")) == shown(kJid));
  CHECK(shown(e.raw.at("pin").get("duration_days")) == shown("7"));
  CHECK(shown(group_id_of(batch.events[0])) == shown(kJid));  // it still names its group
  CHECK(shown(request_id_of(batch.events[0])) == kUnset);
  const auto& next = event_at<GroupSuspended>(batch, 1);
  CHECK(shown(next.context) == shown(ctx(kStatus, 1751309001, 1)));
}

TEST_CASE("webhook events: a known group type without a group_id is an UnknownEvent, never an empty id", "[webhook][events][unknown]") {
  const std::string item = R"json({"timestamp": "1751309100", "type": "group_delete", "request_id": "R-NOGROUP"})json";
  const auto batch = parse_ok(groups_body(kLifecycle, item));
  const auto& e = single<UnknownEvent>(batch);
  CHECK(shown(e.type) == shown("group_delete"));
  CHECK(shown(e.context) == shown(ctx(kLifecycle, 1751309100)));
  CHECK(wagroups_test::json_equal(e.raw_json(), item));
  CHECK(shown(group_id_of(batch.events[0])) == kUnset);
}

TEST_CASE("webhook events: empty messages/statuses/groups arrays are not dropped", "[webhook][events][unknown]") {
  // Nothing is ever dropped (UnknownEvent's contract): a value whose item arrays are empty has no
  // messages or statuses, so it arrives whole, with whatever else it carries (here value-level errors).
  const std::string messages_value = R"json({"messaging_product": "whatsapp", "metadata": {"display_phone_number":
    "15557654321", "phone_number_id": "108765432109876"}, "messages": [], "statuses": [],
    "errors": [{"code": 131000, "title": "Something went wrong", "error_data": {"details": "Unsupported webhook payload"}}]})json";
  const auto batch = parse_ok(envelope(kMessages, messages_value));
  const auto& e = single<UnknownEvent>(batch);
  CHECK(shown(e.context) == shown(ctx(kMessages, std::nullopt)));
  CHECK(wagroups_test::json_equal(e.raw_json(), messages_value));

  const std::string groups_only = groups_value("");
  const auto groups = parse_ok(envelope(kStatus, groups_only));
  const auto& g = single<UnknownEvent>(groups);
  CHECK(g.context.field == kStatus);
  CHECK(wagroups_test::json_equal(g.raw_json(), groups_only));
}

TEST_CASE("webhook events: a messages value with neither messages nor statuses is an UnknownEvent", "[webhook][events][unknown]") {
  const std::string value = R"json({"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15557654321",
    "phone_number_id": "108765432109876"}, "contacts": [{"profile": {"name": "Ana Souza"}, "wa_id": "5511987654321"}]})json";
  const auto batch = parse_ok(envelope(kMessages, value));
  const auto& e = single<UnknownEvent>(batch);
  CHECK(shown(e.context) == shown(ctx(kMessages, std::nullopt)));
  CHECK(shown(e.type) == kUnset);
  CHECK(wagroups_test::json_equal(e.raw_json(), value));
}

// =============================================================================================
// Unknown keys at every object level change nothing typed, and stay reachable.

namespace {

const char* const kExtraKey = "zz_future_field";

// Adds two unknown members to every object: a string naming where it is, and a nested object.
void inject_unknown_keys(rapidjson::Value& v, rapidjson::Document::AllocatorType& alloc, const std::string& path) {
  if (v.IsObject()) {
    for (auto& m : v.GetObject()) inject_unknown_keys(m.value, alloc, path + "." + m.name.GetString());
    rapidjson::Value nested(rapidjson::kObjectType);
    rapidjson::Value list(rapidjson::kArrayType);
    list.PushBack(1, alloc).PushBack(rapidjson::Value(rapidjson::kNullType), alloc);
    nested.AddMember("list", list, alloc).AddMember("flag", true, alloc);
    v.AddMember(rapidjson::Value(kExtraKey, alloc), rapidjson::Value(path.c_str(), alloc), alloc);
    v.AddMember("zz_future_object", nested, alloc);
  } else if (v.IsArray()) {
    std::size_t i = 0;
    for (auto& item : v.GetArray()) inject_unknown_keys(item, alloc, path + "[" + std::to_string(i++) + "]");
  }
}

std::string with_unknown_keys(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  REQUIRE_FALSE(doc.HasParseError());
  inject_unknown_keys(doc, doc.GetAllocator(), "$");
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  doc.Accept(writer);
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace

TEST_CASE("webhook events: unknown keys at every level leave the typed result unchanged", "[webhook][events][unknown]") {
  const std::vector<std::pair<const char*, std::string>> fixtures = {
      {"create ok", create_ok_body()},
      {"create fail", create_fail_body()},
      {"delete fail", delete_fail_body()},
      {"create openapi", create_openapi_body()},
      {"remove partial", remove_partial_body()},
      {"remove failed", remove_failed_body()},
      {"bsuid participants", bsuid_participants_body()},
      {"settings partial", settings_partial_body()},
      {"settings total fail", settings_total_fail_body()},
      {"suspend", suspend_body("group_suspend", "1751307000")},
      {"group text", group_text_body()},
      {"bsuid text", group_text_bsuid_body()},
      {"unsupported", group_unsupported_body()},
      {"image", group_image_body()},
      {"reply", group_reply_body()},
      {"document", group_document_body()},
      {"failed status", group_failed_body()},
      {"aggregated read", aggregated_read_body()},
      {"bsuid status", bsuid_status_body()},
      {"free pricing", free_service_pricing_body()},
      {"direct template status", direct_template_status_body()},
  };
  for (const auto& [name, body] : fixtures) {
    INFO("fixture: " << name);
    const auto plain = parse_ok(body);
    const std::string noisy_body = with_unknown_keys(body);
    const auto noisy = parse_ok(noisy_body);
    REQUIRE(noisy.events.size() == plain.events.size());
    for (std::size_t i = 0; i < plain.events.size(); ++i) {
      INFO("event " << i);
      CHECK(dump(noisy.events[i]) == dump(plain.events[i]));
      // The item's own unknown key is reachable through raw, named by its path in the body.
      const RawJson& raw = raw_of(noisy.events[i]);
      const auto& c = context_of(noisy.events[i]);
      const char* array = std::holds_alternative<GroupMessageStatus>(noisy.events[i]) ||
                                  std::holds_alternative<DirectMessageStatus>(noisy.events[i])
                              ? "statuses"
                          : std::holds_alternative<GroupMessageReceived>(noisy.events[i]) ||
                                  std::holds_alternative<DirectMessageReceived>(noisy.events[i])
                              ? "messages"
                              : "groups";
      const std::string where = "$.entry[" + std::to_string(c.entry_index) + "].changes[" +
                                std::to_string(c.change_index) + "].value." + array + "[" +
                                std::to_string(c.item_index) + "]";
      CHECK(shown(raw.get(kExtraKey)) == shown(where));
      CHECK(shown(raw.get("zz_future_object")) == kUnset);  // an object is not text...
      CHECK(shown(raw.at("zz_future_object").get("flag")) == shown("true"));  // ...but is reachable
    }
  }
}

TEST_CASE("webhook events: nested objects of an item are reachable through raw", "[webhook][events][unknown]") {
  const auto batch = parse_ok(with_unknown_keys(settings_partial_body()));
  const auto& e = single<GroupSettingsUpdated>(batch);
  CHECK(shown(e.raw.at("group_subject").get(kExtraKey)) ==
        shown("$.entry[0].changes[0].value.groups[0].group_subject"));
  CHECK(shown(e.raw.at("group_subject").get("update_successful")) == shown("false"));
  CHECK(shown(e.raw.at("profile_picture").get("mime_type")) == shown("image/jpeg"));
  CHECK(e.raw.at("profile_picture").at("nothing").empty());
  CHECK(shown(e.raw.at("request_id").get("x")) == kUnset);  // not an object
}

// =============================================================================================
// Lenient types and opaque ids

TEST_CASE("webhook events: string and number timestamps give the same value", "[webhook][events][lenient]") {
  const auto item = [](const std::string& ts) {
    return groups_body(kStatus, R"json({"timestamp": )json" + ts +
                                    R"json(, "type": "group_suspend", "group_id": "120363298765432101@g.us"})json");
  };
  const auto quoted = parse_ok(item("\"1751310000\""));
  const auto bare = parse_ok(item("1751310000"));
  CHECK(shown(context_of(quoted.events.at(0)).timestamp) == "1751310000");
  CHECK(shown(context_of(bare.events.at(0)).timestamp) == "1751310000");
  // Placeholders and absent timestamps stay unset rather than failing the body.
  const auto placeholder = parse_ok(item("\"TIMESTAMP\""));
  CHECK(shown(context_of(placeholder.events.at(0)).timestamp) == kUnset);
  const auto absent = parse_ok(groups_body(kStatus, R"json({"type": "group_suspend", "group_id": "120363298765432101@g.us"})json"));
  CHECK(shown(context_of(absent.events.at(0)).timestamp) == kUnset);
  CHECK(std::holds_alternative<GroupSuspended>(absent.events.at(0)));
  // Same for messages and statuses.
  const auto msg = [](const std::string& ts) {
    return envelope(kMessages, messages_value(R"json({"wa_id": "447700900123"})json",
                                              R"json({"from": "447700900123", "id": "wamid.T1", "timestamp": )json" + ts +
                                                  R"json(, "type": "text", "text": {"body": "hi"}})json"));
  };
  CHECK(shown(context_of(parse_ok(msg("\"1751310001\"")).events.at(0)).timestamp) == "1751310001");
  CHECK(shown(context_of(parse_ok(msg("1751310001")).events.at(0)).timestamp) == "1751310001");
}

TEST_CASE("webhook events: both group-id forms pass through unchanged", "[webhook][events][lenient]") {
  for (const std::string& group : {kJid, kB64, std::string("HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA")}) {
    INFO("group id " << group);
    const auto lifecycle = parse_ok(groups_body(kLifecycle, R"json({"timestamp": "1751311000", "group_id": ")json" + group +
                                                                R"json(", "type": "group_delete", "request_id": "R1"})json"));
    CHECK(shown(group_id_of(lifecycle.events.at(0))) == shown(group));
    const auto message = parse_ok(envelope(kMessages, messages_value(R"json({"wa_id": "447700900123"})json",
        R"json({"from": "447700900123", "group_id": ")json" + group +
            R"json(", "id": "wamid.G1", "timestamp": "1751311001", "type": "text", "text": {"body": "ok"}})json")));
    CHECK(shown(event_at<GroupMessageReceived>(message, 0).group_id) == shown(group));
    const auto status = parse_ok(envelope(kMessages, statuses_value(R"json({"id": "wamid.G2", "status": "sent",
        "timestamp": "1751311002", "recipient_type": "group", "recipient_id": ")json" + group + "\"}")));
    CHECK(shown(event_at<GroupMessageStatus>(status, 0).group_id) == shown(group));
    CHECK(shown(event_at<GroupMessageStatus>(status, 0).recipient_id) == shown(group));
  }
}

// =============================================================================================
// kind_of / group_id_of / request_id_of / context_of for every variant

TEST_CASE("webhook events: kind_of, group_id_of, request_id_of and context_of", "[webhook][events][accessors]") {
  struct Row {
    std::string body;
    const char* kind;
    Text group;
    Text request;
  };
  const std::vector<Row> rows = {
      {create_ok_body(), "group_created", kJid, "A3F19C27B0D84E6C9152E07D3B6AF410"},
      {create_fail_body(), "group_create_failed", kB64, "0C5E8B1F7A9D4E2B8C6F1A3D5E7B9C02"},
      {delete_ok_body(), "group_deleted", kJid, "5D2C7E9A1B3F4A6C8E0D2F4B6A8C0E1F"},
      {delete_fail_body(), "group_delete_failed", kB64, "9E8D7C6B5A4F3E2D1C0B9A8F7E6D5C4B"},
      {join_by_link_body(), "participants_added", kJid, {}},
      {openapi_participants_body(), "participants_added", kB64, "0A1B2C3D4E5F60718293A4B5C6D7E8F9"},
      {remove_ok_body(), "participants_removed", kJid, "7F6E5D4C3B2A19087F6E5D4C3B2A1908"},
      {participant_leaves_body(), "participants_removed", kJid, {}},
      {join_request_body("group_join_request_created", "1", "5511987654321", "1751304100"), "join_request_created", kJid, {}},
      {join_request_body("group_join_request_revoked", "2", "5511987654321", "1751304100"), "join_request_revoked", kJid, {}},
      {settings_ok_body(), "group_settings_updated", kJid, "D4C3B2A1908F7E6D5C4B3A2918F7E6D5"},
      {suspend_body("group_suspend", "1751307000"), "group_suspended", kJid, {}},
      {suspend_body("group_suspend_cleared", "1751307000"), "group_suspension_cleared", kJid, {}},
      {group_text_body(), "group_message", kJid, {}},
      {group_sent_body(), "group_message_status", kJid, {}},
      {direct_text_body(), "message", {}, {}},
      {direct_template_status_body(), "message_status", {}, {}},
      {envelope("account_update", kAccountUpdateValue), "unknown", {}, {}},
  };
  for (const auto& row : rows) {
    INFO("kind " << row.kind);
    const auto batch = parse_ok(row.body);
    REQUIRE_FALSE(batch.events.empty());
    const WebhookEvent& event = batch.events[0];
    CHECK(std::string(kind_of(event)) == row.kind);
    CHECK(shown(group_id_of(event)) == shown(row.group));
    CHECK(shown(request_id_of(event)) == shown(row.request));
    // context_of hands back the event's own context, not a copy.
    const WebhookContext* own = std::visit([](const auto& e) { return &e.context; }, event);
    CHECK(&context_of(event) == own);
    CHECK_FALSE(raw_of(event).empty());
  }
}

// =============================================================================================
// Host decoders for fields the SDK does not model

namespace {

struct AccountNotice {
  std::string event;
  Text restriction_type;
};

}  // namespace

TEST_CASE("webhook events: a registered decoder turns account_update into CustomEvents", "[webhook][events][custom]") {
  int calls = 0;
  WebhookParser parser;
  parser.register_decoder("account_update", [&calls](const WebhookContext& context, const RawJson& value)
                                                -> Result<std::vector<std::any>> {
    ++calls;
    CHECK(context.field == "account_update");
    CHECK(context.waba_id == kWaba);
    AccountNotice notice;
    notice.event = value.get("event").value_or("");
    notice.restriction_type = value.get("phone_number");
    return std::vector<std::any>{notice, std::string("second item")};
  });
  // One body with the custom field between two typed changes: the others are unaffected.
  const std::string body = R"json({"object": "whatsapp_business_account", "entry": [{"id": "213456789012345", "changes": [
    {"field": "group_status_update", "value": )json" + groups_value(R"json({"timestamp": "1751312000",
      "type": "group_suspend", "group_id": "120363298765432101@g.us"})json") + R"json(},
    {"field": "account_update", "value": )json" + kAccountUpdateValue + R"json(},
    {"field": "message_template_status_update", "value": )json" + kTemplateStatusValue + R"json(}]}]})json";
  const auto batch = parse_ok(body, parser);
  CHECK(calls == 1);
  REQUIRE(batch.events.size() == 4);
  CHECK(std::holds_alternative<GroupSuspended>(batch.events[0]));
  const auto& custom = event_at<CustomEvent>(batch, 1);
  CHECK(std::string(kind_of(batch.events[1])) == "custom");
  CHECK(custom.context.field == "account_update");
  CHECK(custom.context.waba_id == kWaba);
  CHECK(custom.context.change_index == 1);
  CHECK(custom.context.item_index == 0);
  const auto* notice = std::any_cast<AccountNotice>(&custom.payload);
  REQUIRE(notice != nullptr);
  CHECK(notice->event == "ACCOUNT_RESTRICTION");
  CHECK(shown(notice->restriction_type) == shown("15557654321"));
  CHECK(wagroups_test::json_equal(custom.raw.str(), kAccountUpdateValue));
  CHECK(shown(group_id_of(batch.events[1])) == kUnset);
  CHECK(shown(request_id_of(batch.events[1])) == kUnset);
  CHECK(&context_of(batch.events[1]) == &custom.context);
  // Each returned item is its own event.
  const auto& second = event_at<CustomEvent>(batch, 2);
  CHECK(second.context.field == "account_update");
  CHECK(second.context.item_index == 1);
  const auto* text = std::any_cast<std::string>(&second.payload);
  REQUIRE(text != nullptr);
  CHECK(*text == "second item");
  // A field without a decoder is still an UnknownEvent.
  const auto& other = event_at<UnknownEvent>(batch, 3);
  CHECK(other.context.field == "message_template_status_update");
  // The default parser still makes an UnknownEvent of account_update.
  const auto plain = parse_ok(envelope("account_update", kAccountUpdateValue));
  CHECK(std::holds_alternative<UnknownEvent>(plain.events.at(0)));
}

TEST_CASE("webhook events: a decoder may take over a field the SDK knows", "[webhook][events][custom]") {
  WebhookParser parser;
  parser.register_decoder(kStatus, [](const WebhookContext&, const RawJson& value) -> Result<std::vector<std::any>> {
    return std::vector<std::any>{value.at("metadata").get("phone_number_id").value_or("?")};
  });
  const auto batch = parse_ok(suspend_body("group_suspend", "1751312100"), parser);
  const auto& e = single<CustomEvent>(batch);
  CHECK(e.context.field == kStatus);
  const auto* phone = std::any_cast<std::string>(&e.payload);
  REQUIRE(phone != nullptr);
  CHECK(*phone == kPhoneId);
}

TEST_CASE("webhook events: a decoder that returns an error rejects the whole body", "[webhook][events][custom]") {
  WebhookParser parser;
  parser.register_decoder("account_update", [](const WebhookContext&, const RawJson&) -> Result<std::vector<std::any>> {
    return Error::malformed_webhook("value.event", "a known account event", "unrecognised account_update event");
  });
  const std::string body = R"json({"object": "whatsapp_business_account", "entry": [{"id": "213456789012345", "changes": [
    {"field": "group_status_update", "value": )json" + groups_value(R"json({"timestamp": "1751312000",
      "type": "group_suspend", "group_id": "120363298765432101@g.us"})json") + R"json(},
    {"field": "account_update", "value": )json" + kAccountUpdateValue + R"json(}]}]})json";
  REQUIRE(strict_json(body));
  const auto result = parser.parse(body);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::decode);
  // Without the decoder the same body is fine.
  CHECK(WebhookParser().parse(body).ok());
}
