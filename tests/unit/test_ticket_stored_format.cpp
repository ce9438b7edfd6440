// The stored ticket format pinned by a file written by hand (tests/data/tickets/stored_ticket_v1.json):
// every field of a Ticket set, each under the key and encoding a store keeps. Decoding the file must
// give exactly the Ticket built here, and encoding that Ticket must give the file back (as JSON
// values), so renaming a key or changing how a value is written breaks this test, not old databases.

#include <optional>
#include <string>

#include <catch2/catch_test_macros.hpp>

#include "test_support.hpp"
#include "webhook_events_support.hpp"  // item_error
#include "wagroups/tickets.hpp"

using namespace wagroups;
using webhook_events_test::item_error;

namespace {

// The ticket the fixture describes, field by field.
Ticket expected_ticket() {
  Ticket t;
  t.ticket_id = "T-req-5150";
  t.group_id = "EgRncm91cDE=";
  t.request_id = "req-5150";
  t.phone_number_id = "106540352242922";
  t.subject = "Order #5150";
  t.subject_changed_at = 1767000300;
  t.description = "Blue bike, wrong size";
  t.description_changed_at = 1767000310;
  t.assignee = "agent-3";
  t.opened_by_host = true;
  t.invite_link = "https://chat.whatsapp.com/Fixture5150";
  t.state = TicketState::closed;
  t.group_created = true;
  t.suspended = true;
  t.suspension_changed_at = 1767000900;
  t.group_deleted = true;
  t.deleted_at = 1767009000;
  t.creation_errors.push_back(
      item_error(131000, "Something went wrong", "Retry later", "first try timed out",
                 "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes"));

  Member ana;
  ana.person.bsuid = "US.1234567890";
  ana.person.username = "@ana";
  ana.status = MemberStatus::left;
  ana.status_since = 1767000700;
  ana.join_request_id = "jr-77";
  ana.join_request_at = 1767000400;
  ana.contact_name = "Ana";
  ana.contact_name_at = 1767000500;
  ana.first_joined_at = 1767000450;
  Member ben;
  ben.person.phone = "16505550101";
  ben.status = MemberStatus::joined;
  ben.status_since = 1767000200;
  ben.first_joined_at = 1767000200;
  t.members = {ana, ben};

  Invite failed;
  failed.phone = "16505550102";
  failed.sent_at = 1767000100;
  failed.message_id = "wamid.INVITE1";
  failed.status = DeliveryStatus::failed;
  failed.error = "131026: Message undeliverable";
  Invite unsent;
  unsent.phone = "16505550103";
  unsent.sent_at = 1767000110;
  t.invites = {failed, unsent};

  TimelineMessage in;
  in.message_id = "wamid.IN1";
  in.direction = MessageDirection::inbound;
  in.timestamp = 1767000500;
  in.sender.phone = "16505550101";
  in.sender.bsuid = "US.1234567890";
  in.contact_name = "Ana";
  in.type = "image";
  in.text = std::string("tab\tand \0 NUL", 13);
  in.caption = "the bike";
  in.media_id = "media-9";
  in.reply_to = "wamid.OUT0";
  TimelineMessage out;
  out.message_id = "wamid.OUT1";
  out.direction = MessageDirection::outbound;
  out.timestamp = 1767000600;
  out.agent = "agent-3";
  out.type = "text";
  out.text = "Sorry about that";
  out.delivery["bsuid:US.1234567890"] = DeliveryStatus::read;
  out.delivery["phone:16505550101"] = DeliveryStatus::failed;
  out.group_status = DeliveryStatus::sent;
  out.errors.push_back(item_error(131026, "Message undeliverable", {}, {}));
  TimelineMessage stub;
  stub.message_id = "wamid.STUB";
  stub.direction = MessageDirection::outbound;
  stub.timestamp = 1767000650;
  t.timeline = {in, out, stub};

  t.created_at = 1767000000;
  t.first_join_at = 1767000200;
  t.last_activity_at = 1767000650;
  t.last_inbound_at = 1767000500;
  t.resolved_at = 1767004250;
  t.closed_at = 1767008000;
  return t;
}

void check_person(const PersonKey& got, const PersonKey& want) {
  CHECK(got.phone == want.phone);
  CHECK(got.bsuid == want.bsuid);
  CHECK(got.username == want.username);
}

void check_errors(const std::vector<ItemError>& got, const std::vector<ItemError>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].code == want[i].code);
    CHECK(got[i].title == want[i].title);
    CHECK(got[i].message == want[i].message);
    CHECK(got[i].details == want[i].details);
    CHECK(got[i].href == want[i].href);
  }
}

}  // namespace

TEST_CASE("issue13 stored ticket v1: the hand-written file decodes to exactly its ticket",
          "[issue13][tickets][format]") {
  const auto decoded = ticket_from_json(wagroups_test::fixture("tickets/stored_ticket_v1.json"));
  REQUIRE(decoded);
  const Ticket& got = *decoded;
  const Ticket want = expected_ticket();

  // Field by field first, so that a failure names the field; then the whole value.
  CHECK(got.ticket_id == want.ticket_id);
  CHECK(got.group_id == want.group_id);
  CHECK(got.request_id == want.request_id);
  CHECK(got.phone_number_id == want.phone_number_id);
  CHECK(got.subject == want.subject);
  CHECK(got.subject_changed_at == want.subject_changed_at);
  CHECK(got.description == want.description);
  CHECK(got.description_changed_at == want.description_changed_at);
  CHECK(got.assignee == want.assignee);
  CHECK(got.opened_by_host == want.opened_by_host);
  CHECK(got.invite_link == want.invite_link);
  CHECK(got.state == want.state);
  CHECK(got.group_created == want.group_created);
  CHECK(got.suspended == want.suspended);
  CHECK(got.suspension_changed_at == want.suspension_changed_at);
  CHECK(got.group_deleted == want.group_deleted);
  CHECK(got.deleted_at == want.deleted_at);
  check_errors(got.creation_errors, want.creation_errors);
  CHECK(got.created_at == want.created_at);
  CHECK(got.first_join_at == want.first_join_at);
  CHECK(got.last_activity_at == want.last_activity_at);
  CHECK(got.last_inbound_at == want.last_inbound_at);
  CHECK(got.resolved_at == want.resolved_at);
  CHECK(got.closed_at == want.closed_at);

  REQUIRE(got.members.size() == want.members.size());
  for (std::size_t i = 0; i < got.members.size(); ++i) {
    INFO("member " << i);
    const Member& g = got.members[i];
    const Member& w = want.members[i];
    check_person(g.person, w.person);
    CHECK(g.status == w.status);
    CHECK(g.status_since == w.status_since);
    CHECK(g.join_request_id == w.join_request_id);
    CHECK(g.join_request_at == w.join_request_at);
    CHECK(g.contact_name == w.contact_name);
    CHECK(g.contact_name_at == w.contact_name_at);
    CHECK(g.first_joined_at == w.first_joined_at);
  }
  REQUIRE(got.invites.size() == want.invites.size());
  for (std::size_t i = 0; i < got.invites.size(); ++i) {
    INFO("invite " << i);
    CHECK(got.invites[i].phone == want.invites[i].phone);
    CHECK(got.invites[i].sent_at == want.invites[i].sent_at);
    CHECK(got.invites[i].message_id == want.invites[i].message_id);
    CHECK(got.invites[i].status == want.invites[i].status);
    CHECK(got.invites[i].error == want.invites[i].error);
  }
  REQUIRE(got.timeline.size() == want.timeline.size());
  for (std::size_t i = 0; i < got.timeline.size(); ++i) {
    INFO("message " << i);
    const TimelineMessage& g = got.timeline[i];
    const TimelineMessage& w = want.timeline[i];
    CHECK(g.message_id == w.message_id);
    CHECK(g.direction == w.direction);
    CHECK(g.timestamp == w.timestamp);
    check_person(g.sender, w.sender);
    CHECK(g.contact_name == w.contact_name);
    CHECK(g.agent == w.agent);
    CHECK(g.type == w.type);
    CHECK(g.text == w.text);
    CHECK(g.caption == w.caption);
    CHECK(g.media_id == w.media_id);
    CHECK(g.reply_to == w.reply_to);
    CHECK(g.delivery == w.delivery);
    CHECK(g.group_status == w.group_status);
    check_errors(g.errors, w.errors);
  }
  CHECK(got == want);
}

TEST_CASE("issue13 stored ticket v1: encoding the ticket gives the hand-written file", "[issue13][tickets][format]") {
  const std::string file = wagroups_test::fixture("tickets/stored_ticket_v1.json");
  const std::string encoded = to_json(expected_ticket());
  INFO(encoded);
  CHECK(wagroups_test::json_equal(encoded, file));
  // And the encoding reads back as the same ticket.
  const auto again = ticket_from_json(encoded);
  REQUIRE(again);
  CHECK(*again == expected_ticket());
}
