// Acceptance tests for the typed webhook events (include/wagroups/webhook_events.hpp), written
// against the public contract, across families: a batched body, lenient types and opaque ids, and
// the accessors. The fixtures are the strict JSON that travels on the wire (tests/data/webhooks;
// Meta's samples have trailing commas, comments and a misplaced `initiated_by`; these do not), with
// values of our own. Each test asserts the variant, the count and every modelled field, and that
// absent optional fields stay unset. Shared helpers: webhook_events_support.hpp.

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
// A batched body: 3 entries x 2 changes x several items, fields mixed.

// The body: tests/data/webhooks/batch/batched.json (batched_body(), webhook_events_support.hpp).

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
  const auto absent =
      parse_ok(groups_body(kStatus, R"json({"type": "group_suspend", "group_id": "120363298765432101@g.us"})json"));
  CHECK(shown(context_of(absent.events.at(0)).timestamp) == kUnset);
  CHECK(std::holds_alternative<GroupSuspended>(absent.events.at(0)));
  // Same for messages and statuses.
  const auto msg = [](const std::string& ts) {
    return envelope(kMessages, messages_value(R"json({"wa_id": "447700900123"})json",
                                              R"json({"from": "447700900123", "id": "wamid.T1", "timestamp": )json" +
                                                  ts + R"json(, "type": "text", "text": {"body": "hi"}})json"));
  };
  CHECK(shown(context_of(parse_ok(msg("\"1751310001\"")).events.at(0)).timestamp) == "1751310001");
  CHECK(shown(context_of(parse_ok(msg("1751310001")).events.at(0)).timestamp) == "1751310001");
}

TEST_CASE("webhook events: both group-id forms pass through unchanged", "[webhook][events][lenient]") {
  for (const std::string& group :
       {kJid, kB64, std::string("HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA")}) {
    INFO("group id " << group);
    const auto lifecycle =
        parse_ok(groups_body(kLifecycle, R"json({"timestamp": "1751311000", "group_id": ")json" + group +
                                             R"json(", "type": "group_delete", "request_id": "R1"})json"));
    CHECK(shown(group_id_of(lifecycle.events.at(0))) == shown(group));
    const auto message = parse_ok(envelope(
        kMessages,
        messages_value(
            R"json({"wa_id": "447700900123"})json",
            R"json({"from": "447700900123", "group_id": ")json" + group +
                R"json(", "id": "wamid.G1", "timestamp": "1751311001", "type": "text", "text": {"body": "ok"}})json")));
    CHECK(shown(event_at<GroupMessageReceived>(message, 0).group_id) == shown(group));
    const auto status = parse_ok(envelope(kMessages, statuses_value(R"json({"id": "wamid.G2", "status": "sent",
        "timestamp": "1751311002", "recipient_type": "group", "recipient_id": ")json" +
                                                                    group + "\"}")));
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
      {join_request_body("group_join_request_created", "1", "5511987654321", "1751304100"),
       "join_request_created",
       kJid,
       {}},
      {join_request_body("group_join_request_revoked", "2", "5511987654321", "1751304100"),
       "join_request_revoked",
       kJid,
       {}},
      {settings_ok_body(), "group_settings_updated", kJid, "D4C3B2A1908F7E6D5C4B3A2918F7E6D5"},
      {suspend_body("group_suspend", "1751307000"), "group_suspended", kJid, {}},
      {suspend_body("group_suspend_cleared", "1751307000"), "group_suspension_cleared", kJid, {}},
      {group_text_body(), "group_message", kJid, {}},
      {group_sent_body(), "group_message_status", kJid, {}},
      {direct_text_body(), "message", {}, {}},
      {direct_template_status_body(), "message_status", {}, {}},
      {envelope("account_update", account_update_value()), "unknown", {}, {}},
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
