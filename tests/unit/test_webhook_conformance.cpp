// The webhook parser over every JSON file of ../shared/conformance (restfb, pywa, bindambc): each
// body yields a batch or a decode error, never a crash; webhook bodies give exactly the events their
// shape implies; the group files give the typed events listed in the corpus README §2, field by
// field. The three OpenAPI group webhook examples are converted from the YAML at test time.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
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
#include "webhook_test_support.hpp"

using namespace wagroups;
using wagroups_test::kUnset;
using wagroups_test::person;
using wagroups_test::raw_of;
using wagroups_test::shown;
using wagroups_test::Text;

namespace {

namespace fs = std::filesystem;

// SKIPs the test when the corpus is absent, FAILs it when CI is set (test_support.hpp).
std::string conformance_dir() { return wagroups_test::conformance_dir(); }

/// Every *.json under the corpus, relative to it, sorted (found by walking the folder).
std::vector<std::string> corpus_json_files() {
  const fs::path root = conformance_dir();
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json")
      files.push_back(entry.path().lexically_relative(root).generic_string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  v.Accept(writer);
  return std::string(out.GetString(), out.GetSize());
}

Text text_of(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return std::nullopt;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd()) return std::nullopt;
  if (it->value.IsString()) return std::string(it->value.GetString(), it->value.GetStringLength());
  if (it->value.IsInt64()) return std::to_string(it->value.GetInt64());
  return std::nullopt;
}

std::optional<std::int64_t> timestamp_of(const rapidjson::Value& item) {
  if (!item.IsObject()) return std::nullopt;
  auto it = item.FindMember("timestamp");
  if (it == item.MemberEnd()) return std::nullopt;
  if (it->value.IsInt64()) return it->value.GetInt64();
  if (!it->value.IsString()) return std::nullopt;
  const std::string s = it->value.GetString();
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoll(s);
}

const rapidjson::Value* array_of(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it != obj.MemberEnd() && it->value.IsArray() ? &it->value : nullptr;
}

/// What one event must be, derived from the body's shape by the contract's rules.
struct Expected {
  std::string kind;
  std::string waba_id, phone_number_id, display_phone_number, field;
  std::size_t entry = 0, change = 0, item = 0;
  bool item_event = false;  // raw is the item (else the whole value)
  std::optional<std::int64_t> timestamp;
  std::string raw;  // compact JSON of the item or value
};

std::string group_kind(const rapidjson::Value& item) {
  const std::string type = text_of(item, "type").value_or("");
  const rapidjson::Value* errors = array_of(item, "errors");
  const bool failed = errors && !errors->Empty();
  if (type == "group_create") return failed ? "group_create_failed" : "group_created";
  if (type == "group_delete") return failed ? "group_delete_failed" : "group_deleted";
  if (type == "group_participants_add" || type == "group_add_participants") return "participants_added";
  if (type == "group_participants_remove" || type == "group_remove_participants") return "participants_removed";
  if (type == "group_join_request_created") return "join_request_created";
  if (type == "group_join_request_revoked") return "join_request_revoked";
  if (type == "group_settings_update") return "group_settings_updated";
  if (type == "group_suspend") return "group_suspended";
  if (type == "group_suspend_cleared") return "group_suspension_cleared";
  return "unknown";
}

std::vector<Expected> expected_events(const rapidjson::Value& body) {
  static const std::set<std::string> group_fields = {"group_lifecycle_update", "group_participants_update",
                                                     "group_participant_update", "group_settings_update",
                                                     "group_status_update"};
  std::vector<Expected> out;
  const rapidjson::Value* entries = array_of(body, "entry");
  REQUIRE(entries != nullptr);
  for (rapidjson::SizeType e = 0; e < entries->Size(); ++e) {
    const auto& entry = (*entries)[e];
    const rapidjson::Value* changes = array_of(entry, "changes");
    REQUIRE(changes != nullptr);
    for (rapidjson::SizeType c = 0; c < changes->Size(); ++c) {
      const auto& change = (*changes)[c];
      const auto& value = change["value"];
      Expected base;
      base.waba_id = text_of(entry, "id").value_or("");
      base.field = text_of(change, "field").value_or("");
      base.entry = e;
      base.change = c;
      if (value.IsObject() && value.HasMember("metadata")) {
        base.phone_number_id = text_of(value["metadata"], "phone_number_id").value_or("");
        base.display_phone_number = text_of(value["metadata"], "display_phone_number").value_or("");
      }
      const auto add_items = [&](const rapidjson::Value* items, const std::function<std::string(const rapidjson::Value&)>& kind) {
        if (!items) return;
        for (rapidjson::SizeType i = 0; i < items->Size(); ++i) {
          Expected x = base;
          x.kind = kind((*items)[i]);
          x.item = i;
          x.item_event = true;
          x.timestamp = timestamp_of((*items)[i]);
          x.raw = to_json((*items)[i]);
          out.push_back(x);
        }
      };
      const std::size_t before = out.size();
      if (base.field == "messages") {
        add_items(array_of(value, "messages"),
                  [](const rapidjson::Value& m) { return m.HasMember("group_id") ? "group_message" : "message"; });
        add_items(array_of(value, "statuses"), [](const rapidjson::Value& s) {
          return text_of(s, "recipient_type") == Text("group") || s.HasMember("group_id") ? "group_message_status"
                                                                                          : "message_status";
        });
      } else if (group_fields.count(base.field)) {
        add_items(array_of(value, "groups"), group_kind);
      }
      if (out.size() == before) {  // another field, or nothing typed in it: the whole value
        Expected x = base;
        x.kind = "unknown";
        x.raw = to_json(value);
        out.push_back(x);
      }
    }
  }
  return out;
}

/// Parses `body` and checks the batch against the events its shape implies.
void check_webhook(const std::string& body, const rapidjson::Value& doc) {
  const auto result = parse_webhook(body);
  if (!result.ok()) FAIL("parse failed: " << result.error().to_string());
  const WebhookBatch& batch = *result;
  CHECK(batch.object == "whatsapp_business_account");
  const std::vector<Expected> expected = expected_events(doc);
  REQUIRE(batch.events.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("event " << i << " (" << expected[i].kind << ")");
    const WebhookEvent& event = batch.events[i];
    const Expected& x = expected[i];
    const WebhookContext& c = context_of(event);
    CHECK(std::string(kind_of(event)) == x.kind);
    CHECK(c.waba_id == x.waba_id);
    CHECK(c.phone_number_id == x.phone_number_id);
    CHECK(c.display_phone_number == x.display_phone_number);
    CHECK(c.field == x.field);
    CHECK(c.entry_index == x.entry);
    CHECK(c.change_index == x.change);
    CHECK(c.item_index == x.item);
    if (x.item_event) CHECK(shown(c.timestamp) == shown(x.timestamp));
    const RawJson& raw = raw_of(event);
    REQUIRE_FALSE(raw.empty());
    CHECK(wagroups_test::json_equal(raw.str(), x.raw));
    // Group events appear only where the body has group shapes.
    const bool group_kind_event = x.kind.rfind("group", 0) == 0 || x.kind.find("participants") != std::string::npos ||
                                  x.kind.find("join_request") != std::string::npos;
    CHECK(group_id_of(event).has_value() == group_kind_event);
    if (const auto* m = std::get_if<DirectMessageReceived>(&event)) {
      CHECK(shown(m->id) == shown(raw.get("id")));
      CHECK(shown(m->type) == shown(raw.get("type")));
      CHECK(shown(m->group_id) == kUnset);
    }
    if (const auto* s = std::get_if<DirectMessageStatus>(&event)) {
      CHECK(shown(s->id) == shown(raw.get("id")));
      CHECK(shown(s->status) == shown(raw.get("status")));
      CHECK(s->delivery_status == parse_delivery_status(s->status));
      CHECK(shown(s->group_id) == kUnset);
      CHECK(shown(s->recipient_id) == shown(raw.get("recipient_id")));
    }
  }
  // The in-place parse of a copy gives the same events.
  const auto in_place = WebhookParser().parse_in_place(std::string(body));
  REQUIRE(in_place.ok());
  REQUIRE(in_place->events.size() == batch.events.size());
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    CHECK(std::string(kind_of(in_place->events[i])) == kind_of(batch.events[i]));
    CHECK(raw_of(in_place->events[i]).str() == raw_of(batch.events[i]).str());
  }
}

void check_decode_error(const std::string& body) {
  const auto result = parse_webhook(body);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::decode);
  CHECK_FALSE(result.error().field.empty());
  CHECK_FALSE(result.error().message.empty());
}

// Files that are not webhooks: API responses, request bodies and one top-level array.
const std::set<std::string> kNotWebhooks = {
    "restfb/group-info.json", "restfb/group-join-requests.json", "restfb/message-response-bsuid.json",
    "restfb/message-response-group.json", "restfb/message-response-phone-precedence.json",
    "restfb/message-response.json", "restfb/message-template-components.json",
    "restfb/phone-number-default-response.json", "restfb/phone-number-full-response.json",
    "restfb/phone-number-missing-lists.json", "restfb/send-message-phone-only.json",
    "restfb/send-message-recipient-only.json", "restfb/send-message-to-and-recipient.json"};
const char* const kInvalidJson = "bindambc/textMessageStatusRead.json";

template <typename T>
const T& event_at(const WebhookBatch& batch, std::size_t i) {
  REQUIRE(i < batch.events.size());
  INFO("event " << i << " is " << kind_of(batch.events[i]));
  REQUIRE(std::holds_alternative<T>(batch.events[i]));
  return std::get<T>(batch.events[i]);
}

WebhookBatch parse_file(const std::string& relative) {
  const std::string body = wagroups_test::conformance_file(relative);
  auto result = parse_webhook(body);
  if (!result.ok()) FAIL(relative << ": " << result.error().to_string());
  return std::move(*result);
}

void check_context(const WebhookContext& c, const std::string& field, std::int64_t timestamp, std::size_t item,
                   const std::string& waba = "102290129340398", const std::string& phone_id = "106540352242922",
                   const std::string& display = "15550783881") {
  CHECK(c.waba_id == waba);
  CHECK(c.phone_number_id == phone_id);
  CHECK(c.display_phone_number == display);
  CHECK(c.field == field);
  CHECK(shown(c.timestamp) == std::to_string(timestamp));
  CHECK(c.entry_index == 0);
  CHECK(c.change_index == 0);
  CHECK(c.item_index == item);
}

}  // namespace

// =============================================================================================
// Every file

TEST_CASE("conformance: every JSON file yields a batch or a decode error, as its kind implies", "[webhook][conformance]") {
  const std::vector<std::string> files = corpus_json_files();
  std::size_t webhooks = 0, refused = 0, scenarios = 0, pywa_files = 0;
  std::set<std::string> seen_not_webhooks;
  for (const std::string& relative : files) {
    INFO("file " << relative);
    const std::string body = wagroups_test::conformance_file(relative);
    rapidjson::Document doc;
    doc.Parse(body.c_str(), body.size());

    if (doc.HasParseError()) {  // not JSON at all: refused whole, nothing half-parsed
      CHECK(relative == kInvalidJson);
      check_decode_error(body);
      ++refused;
      continue;
    }
    if (relative.rfind("pywa/", 0) == 0) {
      // An object of named scenarios: the file itself lacks `entry`, each value is a webhook.
      ++pywa_files;
      REQUIRE(doc.IsObject());
      check_decode_error(body);
      ++refused;
      for (auto& scenario : doc.GetObject()) {
        INFO("scenario " << scenario.name.GetString());
        REQUIRE(scenario.value.IsObject());
        check_webhook(to_json(scenario.value), scenario.value);
        ++scenarios;
      }
      continue;
    }
    if (!doc.IsObject() || !doc.HasMember("entry")) {  // API responses, request bodies, the array
      CHECK(kNotWebhooks.count(relative) == 1);
      seen_not_webhooks.insert(relative);
      check_decode_error(body);
      ++refused;
      continue;
    }
    CHECK(kNotWebhooks.count(relative) == 0);
    check_webhook(body, doc);
    ++webhooks;
  }
  // The corpus as its README describes it: 91 JSON files.
  CHECK(files.size() == 91);
  CHECK(webhooks == 34 + 24);  // restfb's webhooks and bindambc's valid ones
  CHECK(pywa_files == 19);
  CHECK(scenarios == 74);
  CHECK(seen_not_webhooks == kNotWebhooks);
  CHECK(refused == kNotWebhooks.size() + 1 + 19);
}

TEST_CASE("conformance: the invalid bindambc file is refused, its valid prefix alone is accepted", "[webhook][conformance]") {
  const std::string body = wagroups_test::conformance_file(kInvalidJson);
  check_decode_error(body);
  // The stray `{` after a complete object is what makes it invalid.
  const std::size_t last = body.find_last_not_of(" \r\n\t");
  REQUIRE(last != std::string::npos);
  REQUIRE(body[last] == '{');
  const std::string prefix = body.substr(0, last);
  const auto batch = parse_webhook(prefix);
  REQUIRE(batch.ok());
  REQUIRE(batch->events.size() == 1);
  CHECK(std::holds_alternative<DirectMessageStatus>(batch->events[0]));
}

TEST_CASE("conformance: non-group webhooks give non-group events", "[webhook][conformance]") {
  const auto verified = parse_file("restfb/webhook-accountUpdate-verified.json");
  const auto& account = event_at<UnknownEvent>(verified, 0);
  REQUIRE(verified.events.size() == 1);
  CHECK(account.context.field == "account_update");
  CHECK(account.context.waba_id == "whatsapp-business-account-id");
  CHECK(account.context.phone_number_id.empty());
  CHECK(shown(account.type) == kUnset);
  CHECK(wagroups_test::json_equal(account.raw_json(), R"({"phone_number":"16505551111","event":"VERIFIED_ACCOUNT"})"));
  CHECK(shown(account.raw.get("event")) == shown("VERIFIED_ACCOUNT"));

  const auto text = parse_file("restfb/webhook-incoming-message-text.json");
  REQUIRE(text.events.size() == 1);
  const auto& message = event_at<DirectMessageReceived>(text, 0);
  CHECK(shown(message.group_id) == kUnset);
  CHECK(message.type == "text");
  CHECK(message.text.has_value());

  const auto status = parse_file("restfb/webhook-incoming-message-status-bsuid.json");
  REQUIRE(status.events.size() == 1);
  const auto& s = event_at<DirectMessageStatus>(status, 0);
  CHECK(s.status == "delivered");
  CHECK(s.delivery_status == DeliveryStatus::delivered);
  CHECK(shown(s.recipient_id) == kUnset);
  CHECK(shown(s.recipient_user_id) == shown("US.13491208655302741918"));
  CHECK(shown(s.recipient_participant_id) == kUnset);
  CHECK(shown(s.group_id) == kUnset);
  CHECK(shown(s.pricing_category) == shown("marketing"));
  CHECK(shown(s.pricing_type) == shown("regular"));
  CHECK(shown(s.pricing_model) == shown("PMP"));
  CHECK(shown(s.billable) == "true");

  const auto unsupported = parse_file("restfb/webhook-incoming-message-unsupported.json");
  REQUIRE(unsupported.events.size() == 1);
  CHECK(std::holds_alternative<DirectMessageReceived>(unsupported.events[0]));
  CHECK(std::get<DirectMessageReceived>(unsupported.events[0]).is_unsupported());

  const auto calls = wagroups_test::conformance_file("pywa/call_status.json");
  rapidjson::Document doc;
  doc.Parse(calls.c_str(), calls.size());
  REQUIRE_FALSE(doc.HasParseError());
  const auto batch = parse_webhook(to_json(doc["call_status"]));
  REQUIRE(batch.ok());
  REQUIRE(batch->events.size() == 1);  // `statuses` under `calls` are not message statuses
  const auto& call = event_at<UnknownEvent>(*batch, 0);
  CHECK(call.context.field == "calls");
  CHECK(wagroups_test::json_equal(call.raw_json(), to_json(doc["call_status"]["entry"][0]["changes"][0]["value"])));
}

// =============================================================================================
// The group files, field by field (corpus README §2)

TEST_CASE("conformance: restfb group_participants_update gives five events in order", "[webhook][conformance][groups]") {
  const auto batch = parse_file("restfb/webhook-group-participants-update.json");
  REQUIRE(batch.events.size() == 5);
  const std::string group = "120363418770915618@g.us";
  const char* const field = "group_participants_update";

  const auto& business = event_at<ParticipantsRemoved>(batch, 0);
  check_context(business.context, field, 1751210000, 0);
  CHECK(business.group_id == group);
  CHECK(shown(business.request_id) == shown("request-business-remove"));
  CHECK(business.initiated_by == RemovalInitiator::business);
  CHECK(shown(business.initiated_by_raw) == shown("business"));
  CHECK(shown(business.removed_participants) ==
        shown(std::vector<Participant>{person({}, {}, {}, {}, "US.13491208655302741918")}));
  CHECK(business.failed_participants.empty());
  CHECK(business.errors.empty());

  const auto& left = event_at<ParticipantsRemoved>(batch, 1);
  check_context(left.context, field, 1751210050, 1);
  CHECK(left.group_id == group);
  CHECK(shown(left.request_id) == shown("request-participant-remove"));
  CHECK(left.initiated_by == RemovalInitiator::participant);
  CHECK(shown(left.initiated_by_raw) == shown("participant"));
  CHECK(shown(left.removed_participants) ==
        shown(std::vector<Participant>{person("16505551234", "US.13491208655302741918", "US.ENT.11815799212886844830",
                                              "@pablomorales")}));
  CHECK(left.failed_participants.empty());
  CHECK(left.errors.empty());

  const auto& added = event_at<ParticipantsAdded>(batch, 2);
  check_context(added.context, field, 1751210100, 2);
  CHECK(added.group_id == group);
  CHECK(shown(added.reason) == shown("invite_link"));
  CHECK(shown(added.request_id) == kUnset);
  CHECK(shown(added.added_participants) ==
        shown(std::vector<Participant>{person("16505550000", "US.99887766554433221100", "US.ENT.00998877665544332211",
                                              "@realsheenanelson")}));

  const auto& created = event_at<JoinRequestCreated>(batch, 3);
  check_context(created.context, field, 1751210150, 3);
  CHECK(created.group_id == group);
  CHECK(shown(created.join_request_id) == shown("join-request-1"));
  CHECK(shown(created.reason) == kUnset);
  CHECK(shown(created.requester) == shown(person("16505551111", "US.11112222333344445555",
                                                 "US.ENT.55554444333322221111", "@joinrequester")));

  const auto& revoked = event_at<JoinRequestRevoked>(batch, 4);
  check_context(revoked.context, field, 1751210200, 4);
  CHECK(revoked.group_id == group);
  CHECK(shown(revoked.join_request_id) == shown("join-request-2"));
  CHECK(shown(revoked.reason) == kUnset);
  CHECK(shown(revoked.requester) == shown(person("16505552222", "US.22223333444455556666",
                                                 "US.ENT.66665555444433332222", "@revokedrequest")));

  for (const auto& event : batch.events) {
    CHECK(shown(group_id_of(event)) == shown(group));
    CHECK_FALSE(raw_of(event).empty());
  }
  CHECK(shown(request_id_of(batch.events[0])) == shown("request-business-remove"));
  CHECK(shown(request_id_of(batch.events[3])) == kUnset);
}

TEST_CASE("conformance: restfb group status with BSUIDs", "[webhook][conformance][groups]") {
  const auto batch = parse_file("restfb/webhook-incoming-message-status-group-bsuid.json");
  REQUIRE(batch.events.size() == 1);
  const auto& s = event_at<GroupMessageStatus>(batch, 0);
  check_context(s.context, "messages", 1750030173, 0);
  CHECK(s.id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=");
  CHECK(s.status == "read");
  CHECK(s.delivery_status == DeliveryStatus::read);
  CHECK(shown(s.recipient_id) == shown("120363418770915618@g.us"));
  CHECK(shown(s.recipient_type) == shown("group"));
  CHECK(shown(s.group_id) == shown("120363418770915618@g.us"));
  CHECK(shown(s.recipient_user_id) == kUnset);
  CHECK(shown(s.recipient_participant_id) == shown("16505551234"));
  CHECK(shown(s.recipient_participant_user_id) == shown("US.13491208655302741918"));
  CHECK(shown(s.recipient_participant_parent_user_id) == shown("US.ENT.11815799212886844830"));
  CHECK(shown(s.contact_name) == shown("Pablo M."));
  CHECK(shown(s.username) == shown("@pablomorales"));
  CHECK(shown(s.conversation_id) == kUnset);
  CHECK(shown(s.pricing_category) == kUnset);
  CHECK(shown(s.pricing_type) == kUnset);
  CHECK(shown(s.pricing_model) == kUnset);
  CHECK(shown(s.billable) == kUnset);
  CHECK(shown(s.biz_opaque_callback_data) == kUnset);
  CHECK(s.errors.empty());
  CHECK(std::string(kind_of(batch.events[0])) == "group_message_status");
  CHECK(shown(group_id_of(batch.events[0])) == shown("120363418770915618@g.us"));
  CHECK(shown(request_id_of(batch.events[0])) == kUnset);
}

TEST_CASE("conformance: restfb group text from a BSUID-only sender", "[webhook][conformance][groups]") {
  const auto batch = parse_file("restfb/webhook-incoming-message-text-bsuid.json");
  REQUIRE(batch.events.size() == 1);
  const auto& m = event_at<GroupMessageReceived>(batch, 0);
  check_context(m.context, "messages", 1749416383, 0);
  CHECK(m.id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=");
  CHECK(m.type == "text");
  CHECK(shown(m.group_id) == shown("120363418770915618@g.us"));
  CHECK(shown(m.from) == kUnset);
  CHECK(shown(m.from_user_id) == shown("US.13491208655302741918"));
  CHECK(shown(m.from_parent_user_id) == shown("US.ENT.11815799212886844830"));
  CHECK(shown(m.username) == shown("@realsheenanelson"));
  CHECK(shown(m.contact_name) == shown("Sheena Nelson"));
  CHECK(shown(m.contact_wa_id) == kUnset);
  CHECK(shown(m.text) == shown("Does it come in another color?"));
  CHECK(shown(m.caption) == kUnset);
  CHECK(shown(m.media_id) == kUnset);
  CHECK(shown(m.mime_type) == kUnset);
  CHECK(shown(m.sha256) == kUnset);
  CHECK(shown(m.filename) == kUnset);
  CHECK_FALSE(m.reply_to.has_value());
  CHECK(m.errors.empty());
  CHECK_FALSE(m.is_unsupported());
  CHECK(std::string(kind_of(batch.events[0])) == "group_message");
}

TEST_CASE("conformance: pywa message_status \"group\" scenario", "[webhook][conformance][groups]") {
  const std::string file = wagroups_test::conformance_file("pywa/message_status.json");
  rapidjson::Document doc;
  doc.Parse(file.c_str(), file.size());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.HasMember("group"));
  const auto result = parse_webhook(to_json(doc["group"]));
  REQUIRE(result.ok());
  REQUIRE(result->events.size() == 1);
  const auto& s = event_at<GroupMessageStatus>(*result, 0);
  check_context(s.context, "messages", 1698266945, 0, "<WHATSAPP_BUSINESS_ACCOUNT_ID>", "<BUSINESS_PHONE_NUMBER_ID>",
                "<BUSINESS_DISPLAY_PHONE_NUMBER>");
  CHECK(s.id == "<WHATSAPP_MESSAGE_ID>");
  CHECK(s.status == "read");
  CHECK(s.delivery_status == DeliveryStatus::read);
  CHECK(shown(s.recipient_id) == shown("fowefinoewcnw"));  // a placeholder, kept as an opaque id
  CHECK(shown(s.recipient_type) == shown("group"));
  CHECK(shown(s.group_id) == shown("fowefinoewcnw"));
  CHECK(shown(s.recipient_participant_id) == shown("<GROUP_PARTICIPANT_USER_PHONE_NUMBER>"));
  CHECK(shown(s.recipient_participant_user_id) == shown("US.123456"));
  CHECK(shown(s.recipient_participant_parent_user_id) == shown("<PARENT_BSUID>"));
  CHECK(shown(s.contact_name) == shown("<USER_DISPLAY_NAME>"));
  CHECK(shown(s.username) == shown("<USERNAME>"));
  CHECK(shown(s.conversation_id) == kUnset);
  CHECK(shown(s.pricing_category) == kUnset);
  CHECK(shown(s.billable) == kUnset);
  CHECK(s.errors.empty());
}

// =============================================================================================
// The OpenAPI spec's three group webhook examples, converted from its YAML at test time (the
// corpus README asks for no hand-edited copies). A reader for the YAML subset they use: block
// mappings, block sequences, and plain or single-quoted scalars.

namespace {

struct YamlLine {
  int indent = 0;
  std::string text;
  std::size_t number = 0;  // 1-based line in the file
};

class MiniYaml {
 public:
  explicit MiniYaml(std::vector<YamlLine> lines) : lines_(std::move(lines)) {}

  /// The block as JSON text.
  std::string to_json() {
    rapidjson::StringBuffer out;
    rapidjson::Writer<rapidjson::StringBuffer> writer(out);
    REQUIRE_FALSE(lines_.empty());
    block(lines_[0].indent, writer);
    REQUIRE(pos_ == lines_.size());  // everything consumed: the subset covered the block
    return std::string(out.GetString(), out.GetSize());
  }

 private:
  using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

  static bool is_item(const std::string& t) { return t == "-" || t.rfind("- ", 0) == 0; }

  void block(int indent, Writer& w) {
    REQUIRE(pos_ < lines_.size());
    if (is_item(lines_[pos_].text)) {
      w.StartArray();
      while (pos_ < lines_.size() && lines_[pos_].indent == indent && is_item(lines_[pos_].text)) {
        YamlLine& line = lines_[pos_];
        line.text = line.text.size() > 2 ? line.text.substr(2) : "";
        line.indent += 2;  // the item's content, read as a block of its own
        REQUIRE_FALSE(line.text.empty());  // "-" alone on its line is not needed by these examples
        if (line.text.find(": ") == std::string::npos && line.text.back() != ':') {
          scalar(line.text, w);
          ++pos_;
        } else {
          block(line.indent, w);
        }
      }
      w.EndArray();
      return;
    }
    w.StartObject();
    while (pos_ < lines_.size() && lines_[pos_].indent == indent && !is_item(lines_[pos_].text)) {
      const std::string text = lines_[pos_].text;
      std::size_t colon = text.find(": ");
      if (colon == std::string::npos) {
        REQUIRE(text.back() == ':');
        colon = text.size() - 1;
      }
      const std::string key = text.substr(0, colon);
      const std::string rest = colon + 2 <= text.size() ? text.substr(colon + 2) : "";
      w.Key(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
      ++pos_;
      if (!rest.empty()) {
        scalar(rest, w);
      } else if (pos_ < lines_.size() && (lines_[pos_].indent > indent ||
                                          (lines_[pos_].indent == indent && is_item(lines_[pos_].text)))) {
        block(lines_[pos_].indent, w);
      } else {
        w.Null();
      }
    }
    w.EndObject();
  }

  static void scalar(const std::string& s, Writer& w) {
    if (s.size() >= 2 && s.front() == '\'' && s.back() == '\'') {
      std::string unquoted;
      for (std::size_t i = 1; i + 1 < s.size(); ++i) {
        unquoted += s[i];
        if (s[i] == '\'' && s[i + 1] == '\'') ++i;  // '' is an escaped quote
      }
      w.String(unquoted.c_str(), static_cast<rapidjson::SizeType>(unquoted.size()));
      return;
    }
    REQUIRE(s.front() != '"');  // not needed by these examples
    if (s.find_first_not_of("0123456789") == std::string::npos && s.size() < 19) {
      w.Int64(std::stoll(s));
    } else if (s == "true" || s == "false") {
      w.Bool(s == "true");
    } else if (s == "null" || s == "~") {
      w.Null();
    } else {
      w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
    }
  }

  std::vector<YamlLine> lines_;
  std::size_t pos_ = 0;
};

/// The `value:` block under the example named `name`, as JSON, and the line it starts on.
std::pair<std::string, std::size_t> openapi_example(const std::string& yaml, const std::string& name) {
  std::vector<YamlLine> all;
  std::istringstream in(yaml);
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    const std::size_t first = line.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    std::string text = line.substr(first);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.pop_back();
    all.push_back({static_cast<int>(first), text, number});
  }
  std::size_t at = 0;
  while (at < all.size() && all[at].text != name + ":") ++at;
  REQUIRE(at + 1 < all.size());
  REQUIRE(all[at + 1].text == "value:");
  const int value_indent = all[at + 1].indent;
  std::vector<YamlLine> block;
  for (std::size_t i = at + 2; i < all.size() && all[i].indent > value_indent; ++i) block.push_back(all[i]);
  return {MiniYaml(block).to_json(), all[at].number};
}

}  // namespace

TEST_CASE("conformance: the OpenAPI group webhook examples, converted from the YAML", "[webhook][conformance][groups][openapi]") {
  const std::string yaml = wagroups_test::conformance_file("openapi/business-messaging-api_v23.0.yaml");
  const std::string group = "Y2FwaV9ncm91cDoxODA1NTU1MDE3MjoxMjAzNjMyMjI3NzE5NjMwNjcZD";
  const std::string request = "784D93D0C468593037EA0B1ECA245D9C";

  SECTION("Group Create Message") {
    const auto [body, line] = openapi_example(yaml, "Group Create Message");
    INFO("converted from line " << line << ": " << body);
    const auto result = parse_webhook(body);
    REQUIRE(result.ok());
    REQUIRE(result->events.size() == 1);
    const auto& e = event_at<GroupCreated>(*result, 0);
    check_context(e.context, "group_lifecycle_update", 1750269342, 0);
    CHECK(e.group_id == group);
    CHECK(shown(e.request_id) == shown(request));
    CHECK(shown(e.subject) == shown("your-group-subject"));
    CHECK(shown(e.description) == shown("your-group-description"));
    CHECK(shown(e.invite_link) == kUnset);
    CHECK_FALSE(e.join_approval_mode.has_value());
    CHECK(shown(e.added_participants) ==
          shown(std::vector<Participant>{person("16505551234", {}, {}, {}, "16505551234"),
                                         person("16505551235", {}, {}, {}, "16505551235")}));
  }
  SECTION("Group Settings Update") {
    const auto [body, line] = openapi_example(yaml, "Group Settings Update");
    INFO("converted from line " << line << ": " << body);
    const auto result = parse_webhook(body);
    REQUIRE(result.ok());
    REQUIRE(result->events.size() == 1);
    const auto& e = event_at<GroupSettingsUpdated>(*result, 0);
    check_context(e.context, "group_settings_update", 1750269342, 0);
    CHECK(e.group_id == group);
    CHECK(shown(e.request_id) == shown(request));
    REQUIRE(e.profile_picture.has_value());
    CHECK(shown(e.profile_picture->mime_type) == shown("image/jpeg"));
    CHECK(shown(e.profile_picture->sha256) == shown("SfInY0gGKTsJlUWbwxC1k+FAD0FZHv"));
    CHECK(shown(e.profile_picture->text) == kUnset);
    CHECK(shown(e.profile_picture->update_successful) == kUnset);
    CHECK(e.profile_picture->errors.empty());
    CHECK(e.profile_picture->succeeded());
    CHECK_FALSE(e.group_subject.has_value());
    CHECK_FALSE(e.group_description.has_value());
    CHECK(e.errors.empty());
    CHECK(e.all_succeeded());
  }
  SECTION("Group Remove Participants (the spec's example says type group_create)") {
    const auto [body, line] = openapi_example(yaml, "Group Remove Participants");
    INFO("converted from line " << line << ": " << body);
    const auto result = parse_webhook(body);
    REQUIRE(result.ok());
    REQUIRE(result->events.size() == 1);
    // The item's `type` decides the event, so the mislabelled example reads as a creation; the
    // removed participants it meant stay reachable in raw.
    const auto& e = event_at<GroupCreated>(*result, 0);
    check_context(e.context, "group_participants_update", 1750269342, 0);
    CHECK(e.group_id == group);
    CHECK(shown(e.request_id) == shown(request));
    CHECK(shown(e.subject) == kUnset);
    CHECK(e.added_participants.empty());
    CHECK_FALSE(e.raw.at("removed_participants").empty());
  }
}
