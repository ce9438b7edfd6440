// The ticket model: enum names, identities, seats, equality, and the JSON form ({"v":1,...}) that
// SqliteTicketStore stores and hosts may keep.

#include <cstdint>
#include <optional>
#include <string>

#include <catch2/catch_test_macros.hpp>

#include "wagroups/tickets.hpp"
#include "wagroups/limits.hpp"

using namespace wagroups;

namespace {

PersonKey key(std::optional<std::string> phone, std::optional<std::string> bsuid = std::nullopt,
              std::optional<std::string> username = std::nullopt) {
  return PersonKey{std::move(phone), std::move(bsuid), std::move(username)};
}

Member member(PersonKey who, MemberStatus status, std::int64_t since) {
  Member m;
  m.person = std::move(who);
  m.status = status;
  m.status_since = since;
  return m;
}

// Every field set, including optionals set to "" (which must stay set) and odd characters.
Ticket rich_ticket() {
  Ticket t;
  t.ticket_id = "T-req-1";
  t.group_id = "120363402181946563";
  t.request_id = "req-1";
  t.phone_number_id = "106540352242922";
  t.subject = "Order #1042 \"rush\" \xC3\xA9t\xC3\xA9";
  t.subject_changed_at = 1780000100;
  t.description = "";
  t.description_changed_at = 0;
  t.assignee = "agent-7";
  t.invite_link = "https://chat.whatsapp.com/Kx1";
  t.state = TicketState::resolved;
  t.group_created = true;
  t.suspended = true;
  t.suspension_changed_at = 1780000500;
  t.group_deleted = true;
  t.deleted_at = 1780009000;
  ItemError e1;
  e1.code = 131211;
  e1.title = "Limit";
  e1.message = "too many groups";
  e1.details = "10000 groups";
  e1.href = "https://developers.facebook.com/docs";
  t.creation_errors = {e1, ItemError{}};

  Member a = member(key("15551230001", "US.1001", "ana"), MemberStatus::joined, 1780000200);
  a.first_joined_at = 1780000200;
  a.contact_name = "Ana";
  a.contact_name_at = 1780000300;
  Member b = member(key("15551230002"), MemberStatus::join_requested, 1780000250);
  b.join_request_id = "jr-77";
  b.join_request_at = 1780000250;
  Member c = member(key(std::nullopt, "US.1003"), MemberStatus::removed, 1780000400);
  Member d = member(key(std::nullopt, std::nullopt, ""), MemberStatus::invited, 0);
  t.members = {a, b, c, d};

  Invite i1;
  i1.phone = "15551230009";
  i1.sent_at = 1780000600;
  i1.message_id = "wamid.inv1";
  i1.status = DeliveryStatus::read;
  Invite i2;
  i2.phone = "15551230010";
  i2.sent_at = 1780000601;
  i2.error = "131026: Message undeliverable";
  t.invites = {i1, i2};

  TimelineMessage in;
  in.message_id = "wamid.in1";
  in.direction = MessageDirection::inbound;
  in.timestamp = 1780000300;
  in.sender = key("15551230001", "US.1001");
  in.contact_name = "Ana";
  in.type = "image";
  in.caption = "";
  in.media_id = "media-1";
  in.reply_to = "wamid.out0";
  TimelineMessage out;
  out.message_id = "wamid.out1";
  out.direction = MessageDirection::outbound;
  out.timestamp = 1780000310;
  out.agent = "agent-7";
  out.type = "text";
  out.text = "line one\nline two \\ \u00e9";
  out.delivery = {{"bsuid:US.1001", DeliveryStatus::read}, {"phone:15551230002", DeliveryStatus::failed},
                  {"phone:15551230005", DeliveryStatus::unknown}};
  out.group_status = DeliveryStatus::sent;
  out.errors = {e1};
  TimelineMessage stub;
  stub.message_id = "wamid.stub";
  stub.direction = MessageDirection::outbound;
  stub.timestamp = 1780000320;
  stub.group_status = DeliveryStatus::played;
  t.timeline = {in, out, stub};

  t.created_at = 1780000000;
  t.first_join_at = 1780000200;
  t.last_activity_at = 1780000320;
  t.last_inbound_at = 1780000300;
  t.resolved_at = 1780001000;
  t.closed_at = 1780009000;
  return t;
}

}  // namespace

TEST_CASE("ticket enums have stable names that parse back", "[tickets]") {
  for (auto s : {TicketState::unlinked, TicketState::create_requested, TicketState::creation_failed,
                 TicketState::awaiting_first_join, TicketState::open, TicketState::resolved, TicketState::closed}) {
    auto parsed = parse_ticket_state(to_string(s));
    REQUIRE(parsed);
    CHECK(*parsed == s);
  }
  CHECK(std::string(to_string(TicketState::awaiting_first_join)) == "awaiting_first_join");
  CHECK_FALSE(parse_ticket_state("Open"));
  for (auto s : {MemberStatus::invited, MemberStatus::join_requested, MemberStatus::join_request_revoked,
                 MemberStatus::joined, MemberStatus::left, MemberStatus::removed}) {
    auto parsed = parse_member_status(to_string(s));
    REQUIRE(parsed);
    CHECK(*parsed == s);
  }
  CHECK_FALSE(parse_member_status(""));
  CHECK(std::string(to_string(TicketChangeKind::duplicate_ignored)) == "duplicate_ignored");
}

TEST_CASE("person keys: canonical form and matching", "[tickets]") {
  CHECK(key("1555", "US.1").canonical() == "bsuid:US.1");
  CHECK(key("1555").canonical() == "phone:1555");
  CHECK(key(std::nullopt).canonical().empty());
  CHECK(key(std::nullopt).empty());
  CHECK_FALSE(key(std::nullopt, "US.1").empty());

  Ticket t;
  t.members = {member(key("15550001", "US.1"), MemberStatus::joined, 1),
               member(key("15550002"), MemberStatus::joined, 1)};
  CHECK(t.find_member(key("15550001")) == &t.members[0]);  // phone alone matches when one side lacks a BSUID
  CHECK(t.find_member(key(std::nullopt, "US.1")) == &t.members[0]);
  CHECK(t.find_member(key("15550002", "US.2")) == &t.members[1]);
  CHECK(t.find_member(key("15550001", "US.9")) == nullptr);  // both have BSUIDs and they differ
  CHECK(t.find_member(key(std::nullopt, "US.2")) == nullptr);
}

TEST_CASE("seats_taken counts the business, joined and requesting members, and outstanding invites", "[tickets]") {
  Ticket t;
  CHECK(t.seats_taken() == 1);
  t.members = {member(key("1"), MemberStatus::joined, 1), member(key("2"), MemberStatus::join_requested, 1),
               member(key("3"), MemberStatus::left, 1), member(key("4"), MemberStatus::removed, 1),
               member(key("5"), MemberStatus::join_request_revoked, 1)};
  CHECK(t.seats_taken() == 3);
  Invite pending;
  pending.phone = "6";
  pending.message_id = "wamid.6";
  pending.status = DeliveryStatus::delivered;
  Invite to_member = pending;
  to_member.phone = "3";  // a member in any status: counted as a member (or not at all), never twice
  Invite failed = pending;
  failed.phone = "7";
  failed.status = DeliveryStatus::failed;
  Invite refused;
  refused.phone = "8";
  refused.error = "131026: Message undeliverable";
  t.invites = {pending, to_member, failed, refused};
  CHECK(t.seats_taken() == 4);
  CHECK(limits::max_participants == 8);
}

TEST_CASE("find_message finds by id anywhere in the timeline", "[tickets]") {
  Ticket t = rich_ticket();
  REQUIRE(t.find_message("wamid.in1"));
  CHECK(t.find_message("wamid.in1")->direction == MessageDirection::inbound);
  CHECK(t.find_message("wamid.stub") == &t.timeline.back());
  CHECK(t.find_message("wamid.none") == nullptr);
}

TEST_CASE("ticket equality sees every field", "[tickets]") {
  const Ticket base = rich_ticket();
  CHECK(base == rich_ticket());
  auto differs = [&](auto mutate) {
    Ticket t = rich_ticket();
    mutate(t);
    return t != base;
  };
  CHECK(differs([](Ticket& t) { t.description.reset(); }));  // "" differs from unset
  CHECK(differs([](Ticket& t) { t.subject_changed_at = 1; }));
  CHECK(differs([](Ticket& t) { t.state = TicketState::open; }));
  CHECK(differs([](Ticket& t) { t.creation_errors[0].href.reset(); }));
  CHECK(differs([](Ticket& t) { t.members[1].join_request_at = 1; }));
  CHECK(differs([](Ticket& t) { t.members[0].contact_name_at = 1; }));
  CHECK(differs([](Ticket& t) { t.members[3].person.username.reset(); }));
  CHECK(differs([](Ticket& t) { t.invites[0].status = DeliveryStatus::delivered; }));
  CHECK(differs([](Ticket& t) { t.timeline[1].delivery["bsuid:US.1001"] = DeliveryStatus::delivered; }));
  CHECK(differs([](Ticket& t) { t.timeline[1].errors.clear(); }));
  CHECK(differs([](Ticket& t) { t.timeline[2].group_status = DeliveryStatus::read; }));
  CHECK(differs([](Ticket& t) { t.last_activity_at = 0; }));
  CHECK(differs([](Ticket& t) { t.closed_at.reset(); }));
}

TEST_CASE("a rich ticket round-trips through JSON exactly", "[tickets]") {
  const Ticket t = rich_ticket();
  const std::string text = to_json(t);
  CHECK(text.rfind("{\"v\":1,", 0) == 0);
  auto back = ticket_from_json(text);
  REQUIRE(back);
  CHECK(*back == t);
  CHECK(to_json(*back) == text);  // stable: the same ticket always serializes the same way

  const Ticket empty;
  auto empty_back = ticket_from_json(to_json(empty));
  REQUIRE(empty_back);
  CHECK(*empty_back == empty);
}

TEST_CASE("ticket JSON ignores unknown keys", "[tickets]") {
  auto t = ticket_from_json(
      R"({"v":1,"ticket_id":"G-1","future":{"x":[1,2]},"members":[{"person":{"phone":"1","nick":"n"},"status":"joined","extra":true}],"timeline":[]})");
  REQUIRE(t);
  CHECK(t->ticket_id == "G-1");
  REQUIRE(t->members.size() == 1);
  CHECK(t->members[0].person.phone == std::optional<std::string>("1"));
  CHECK(t->members[0].status == MemberStatus::joined);
}

TEST_CASE("malformed ticket JSON is refused with ErrorCode::decode naming where", "[tickets]") {
  struct Case {
    const char* json;
    const char* field;
  };
  const Case cases[] = {
      {"", "ticket"},
      {"{\"v\":1,\"ticket_id\":\"T-1\"", "ticket"},
      {"[1]", "ticket"},
      {"{\"ticket_id\":\"T-1\"}", "v"},
      {"{\"v\":2,\"ticket_id\":\"T-1\"}", "v"},
      {"{\"v\":1}", "ticket_id"},
      {"{\"v\":1,\"ticket_id\":7}", "ticket_id"},
      {"{\"v\":1,\"ticket_id\":\"T\",\"state\":\"pending\"}", "state"},
      {"{\"v\":1,\"ticket_id\":\"T\",\"created_at\":\"1780000000\"}", "created_at"},
      {"{\"v\":1,\"ticket_id\":\"T\",\"suspended\":1}", "suspended"},
      {"{\"v\":1,\"ticket_id\":\"T\",\"members\":{}}", "members"},
      {"{\"v\":1,\"ticket_id\":\"T\",\"members\":[{\"status\":\"kicked\"}]}", "members[0].status"},
      {"{\"v\":1,\"ticket_id\":\"T\",\"members\":[7]}", "members[0]"},
      {"{\"v\":1,\"ticket_id\":\"T\",\"invites\":[{\"sent_at\":1}]}", "invites[0].phone"},
      {"{\"v\":1,\"ticket_id\":\"T\",\"invites\":[{\"phone\":\"1\",\"status\":\"seen\"}]}", "invites[0].status"},
      {"{\"v\":1,\"ticket_id\":\"T\",\"timeline\":[{\"message_id\":\"m\",\"direction\":\"sideways\"}]}",
       "timeline[0].direction"},
      {"{\"v\":1,\"ticket_id\":\"T\",\"timeline\":[{\"message_id\":\"m\",\"direction\":\"outbound\",\"delivery\":{\"phone:1\":3}}]}",
       "timeline[0].delivery.phone:1"},
      {"{\"v\":1,\"ticket_id\":\"T\",\"creation_errors\":[{\"code\":99999999999}]}", "creation_errors[0].code"},
      {"{\"v\":1,\"ticket_id\":\"T\",\"timeline\":[{\"message_id\":\"m\",\"direction\":\"inbound\",\"sender\":\"x\"}]}",
       "timeline[0].sender"},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    auto t = ticket_from_json(c.json);
    REQUIRE_FALSE(t);
    CHECK(t.error().code == ErrorCode::decode);
    CHECK(t.error().field == c.field);
    CHECK_FALSE(t.error().message.empty());
  }
}
