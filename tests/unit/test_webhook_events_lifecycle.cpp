// Acceptance tests for the typed webhook events (include/wagroups/webhook_events.hpp), written
// against the public contract, group_lifecycle_update (§4.2). The fixtures are the strict JSON that
// travels on the wire (tests/data/webhooks; Meta's samples have trailing commas, comments and a
// misplaced `initiated_by`; these do not), with values of our own. Each test asserts the variant,
// the count and every modelled field, and that absent optional fields stay unset. Shared helpers:
// webhook_events_support.hpp.

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

TEST_CASE("webhook events: group created with auto_approve, or an unknown mode left unset",
          "[webhook][events][lifecycle]") {
  const auto item = [](const char* mode) {
    return groups_body(kLifecycle, std::string(R"json({"timestamp":"1751302820","group_id":"120363298765432101@g.us",
      "type":"group_create","request_id":"AB12","subject":"Case 7","join_approval_mode":")json") +
                                       mode + "\"}");
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
        shown(std::vector<ItemError>{
            item_error(131211, "Group create limit reached",
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
  CHECK(shown(e.errors) == shown(std::vector<ItemError>{item_error(
                               131041, "Group unknown",
                               "The group was not found, either because it doesn't exist or you are not a member.",
                               "Group 120363298765432101 is not managed by this number.")}));
}

TEST_CASE("webhook events: the OpenAPI create example's added_participants with numeric ids",
          "[webhook][events][lifecycle]") {
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
