// Acceptance tests for the typed webhook events (include/wagroups/webhook_events.hpp), written
// against the public contract, group_settings_update and group_status_update (§4.4, §4.5). The
// fixtures are the strict JSON that travels on the wire (tests/data/webhooks; Meta's samples have
// trailing commas, comments and a misplaced `initiated_by`; these do not), with values of our own.
// Each test asserts the variant, the count and every modelled field, and that absent optional
// fields stay unset. Shared helpers: webhook_events_support.hpp.

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
  CHECK(shown(e.errors) ==
        shown(std::vector<ItemError>{item_error(131201, "Request partially succeeded",
                                                "Some settings were not updated.", "2 of 3 settings failed.")}));
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
  const ItemError suspended =
      item_error(131207, "Group suspended", "The group violates platform policies.", "The group is suspended.");
  CHECK(shown(e.profile_picture) ==
        shown(outcome({}, "image/jpeg", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWo=", false,
                      {item_error(131209, "Invalid Group Profile Picture Aspect Ratio",
                                  "Width and height of the image must be equal.", "The image is 640x480.")})));
  CHECK(shown(e.group_subject) == shown(outcome("Weber kitchen", {}, {}, false, {suspended})));
  CHECK(shown(e.group_description) == shown(outcome("Installation on 14 July", {}, {}, false, {suspended})));
  CHECK(shown(e.errors) ==
        shown(std::vector<ItemError>{item_error(131207, "Group suspended", "The group violates platform policies.",
                                                "No setting was changed.")}));
  CHECK_FALSE(e.all_succeeded());
}

TEST_CASE("webhook events: the OpenAPI settings example with only profile_picture{mime_type, sha256}",
          "[webhook][events][settings]") {
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
