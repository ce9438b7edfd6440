// Acceptance tests for the typed webhook events (include/wagroups/webhook_events.hpp), written
// against the public contract, group_participants_update (§4.3). The fixtures are the strict JSON
// that travels on the wire (tests/data/webhooks; Meta's samples have trailing commas, comments and
// a misplaced `initiated_by`; these do not), with values of our own. Each test asserts the variant,
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
  const auto batch =
      parse_ok(join_request_body("group_join_request_created", "1297563840128801", "5511987654321", "1751304100"));
  const auto& e = single<JoinRequestCreated>(batch);
  CHECK(shown(e.context) == shown(ctx(kParticipants, 1751304100)));
  CHECK(e.group_id == kJid);
  CHECK(shown(e.join_request_id) == shown("1297563840128801"));
  CHECK(shown(e.reason) == shown("user_requested"));
  CHECK(shown(e.requester) == shown(person("5511987654321")));
  CHECK_FALSE(e.raw.empty());
}

TEST_CASE("webhook events: a join request is revoked", "[webhook][events][participants]") {
  const auto batch =
      parse_ok(join_request_body("group_join_request_revoked", "1297563840128802", "34612345678", "1751304150"));
  const auto& e = single<JoinRequestRevoked>(batch);
  CHECK(shown(e.context) == shown(ctx(kParticipants, 1751304150)));
  CHECK(e.group_id == kJid);
  CHECK(shown(e.join_request_id) == shown("1297563840128802"));
  CHECK(shown(e.reason) == shown("user_requested"));
  CHECK(shown(e.requester) == shown(person("34612345678")));
}

TEST_CASE("webhook events: join requests approved in bulk (input + wa_id, numeric timestamp)",
          "[webhook][events][participants]") {
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
  failed.errors = {item_error(131212, "Participant is not a part of the group.",
                              "Participant is not a part of the group.",
                              "16465550187 is not in group 120363298765432101.")};
  CHECK(shown(e.failed_participants) == shown(std::vector<FailedParticipant>{failed}));
  CHECK(shown(e.errors) == shown(std::vector<ItemError>{item_error(131201, "Not All Participants Remove Succeeded",
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
  CHECK(shown(e.errors) == shown(std::vector<ItemError>{item_error(131212, "Participant is not a part of the group.",
                                                                   "No participant could be removed.",
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
  const auto batch =
      parse_ok(groups_body(kParticipants, R"json({"timestamp":"1751304700","group_id":"120363298765432101@g.us",
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
  CHECK(shown(by_business.removed_participants) ==
        shown(std::vector<Participant>{by_input("DE.58291047736612095531")}));

  const auto& left = event_at<ParticipantsRemoved>(batch, 1);
  CHECK(shown(left.context) == shown(ctx(kParticipants, 1775001060, 1)));
  CHECK(shown(left.request_id) == kUnset);
  CHECK(shown(left.initiated_by) == "participant");
  CHECK(shown(left.removed_participants) ==
        shown(std::vector<Participant>{
            person({}, "DE.58291047736612095531", "DE.ENT.20394857610293847561", "@lena.hoffmann")}));

  const auto& added = event_at<ParticipantsAdded>(batch, 2);
  CHECK(shown(added.context) == shown(ctx(kParticipants, 1775001120, 2)));
  CHECK(shown(added.reason) == shown("invite_link"));
  CHECK(shown(added.added_participants) ==
        shown(std::vector<Participant>{
            person("4915112345678", "DE.11223344556677889900", "DE.ENT.99887766554433221100", "@jonas_weber")}));

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

TEST_CASE("webhook events: the OpenAPI spellings of the participants field and types",
          "[webhook][events][participants]") {
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
