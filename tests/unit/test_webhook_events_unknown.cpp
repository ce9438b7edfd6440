// Acceptance tests for the typed webhook events (include/wagroups/webhook_events.hpp), written
// against the public contract, fields and types the SDK does not model, and unknown keys at every
// level. The fixtures are the strict JSON that travels on the wire (tests/data/webhooks; Meta's
// samples have trailing commas, comments and a misplaced `initiated_by`; these do not), with values
// of our own. Each test asserts the variant, the count and every modelled field, and that absent
// optional fields stay unset. Shared helpers: webhook_events_support.hpp.

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
#include "webhook_events_support.hpp"
#include "webhook_test_support.hpp"

using namespace wagroups;
using namespace webhook_events_test;
using wagroups_test::kUnset;
using wagroups_test::person;
using wagroups_test::raw_of;
using wagroups_test::shown;
using wagroups_test::Text;

// =============================================================================================
// Fields and types the SDK does not model

TEST_CASE("webhook events: an account_update change is one UnknownEvent with its raw value",
          "[webhook][events][unknown]") {
  const auto batch = parse_ok(envelope("account_update", account_update_value()));
  const auto& e = single<UnknownEvent>(batch);
  CHECK(shown(e.context) == shown(ctx("account_update", std::nullopt, 0, 0, 0, kWaba, "", "")));
  CHECK(shown(e.type) == kUnset);
  REQUIRE_FALSE(e.raw.empty());
  CHECK(wagroups_test::json_equal(e.raw_json(), account_update_value()));
  CHECK(wagroups_test::json_equal(e.raw.str(), account_update_value()));
  CHECK(shown(e.raw.get("event")) == shown("ACCOUNT_RESTRICTION"));
  CHECK(shown(e.raw.get("restriction_info")) == kUnset);  // an array is not text
  CHECK(shown(e.raw.get("no_such_key")) == kUnset);
  CHECK(e.raw.at("no_such_key").empty());
  CHECK(std::string(kind_of(batch.events[0])) == "unknown");
  CHECK(shown(group_id_of(batch.events[0])) == kUnset);
  CHECK(shown(request_id_of(batch.events[0])) == kUnset);
}

TEST_CASE("webhook events: a message_template_status_update change is one UnknownEvent", "[webhook][events][unknown]") {
  const auto batch = parse_ok(envelope("message_template_status_update", template_status_value()));
  const auto& e = single<UnknownEvent>(batch);
  CHECK(shown(e.context) == shown(ctx("message_template_status_update", std::nullopt, 0, 0, 0, kWaba, "", "")));
  CHECK(shown(e.type) == kUnset);
  CHECK(wagroups_test::json_equal(e.raw_json(), template_status_value()));
  CHECK(shown(e.raw.get("message_template_id")) == shown("981273645501234"));  // numbers rendered
  CHECK(shown(e.raw.get("message_template_name")) == shown("group_case_invite"));
}

TEST_CASE("webhook events: a group item of an unknown type is an UnknownEvent with that type",
          "[webhook][events][unknown]") {
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

TEST_CASE("webhook events: a known group type without a group_id is an UnknownEvent, never an empty id",
          "[webhook][events][unknown]") {
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

TEST_CASE("webhook events: a messages value with neither messages nor statuses is an UnknownEvent",
          "[webhook][events][unknown]") {
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

TEST_CASE("webhook events: unknown keys at every level leave the typed result unchanged",
          "[webhook][events][unknown]") {
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
      CHECK(shown(raw.get("zz_future_object")) == kUnset);                    // an object is not text...
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
