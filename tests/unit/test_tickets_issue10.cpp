// Issue 10 on tickets: host text that is not UTF-8 is refused (or repaired where documented), the
// ticket JSON is always valid and reads back (control characters and NUL included), and a create
// whose answer carried no request_id still gets its ticket, matched to the group_create webhook by
// phone number id and subject in either order.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "json/json.hpp"
#include "ticket_scenarios.hpp"
#include "util/text.hpp"
#include "wagroups/tickets.hpp"

using namespace wagroups;
namespace ev = wagroups_test::events;

namespace {

constexpr std::int64_t T0 = 1780000000;
const std::string kPnid = "106540352242922";  // the number ev::at() puts in every context
const std::string kBad = "Jos\xe9";           // Latin-1 "José": not UTF-8
const std::string kReplacement = "\xEF\xBF\xBD";

std::chrono::system_clock::time_point tp(std::int64_t s) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(s));
}

struct Fixture {
  explicit Fixture(ResolutionPolicy policy = {}) : tickets(store, policy, [this] { return tp(now); }) {}

  std::optional<Ticket> get(const std::string& id) {
    auto r = store.load(id);
    REQUIRE(r);
    if (!*r) return std::nullopt;
    return (*r)->ticket;
  }
  std::size_t ticket_count() {
    TicketQuery q;
    q.limit = 1000;
    auto r = store.list(q);
    REQUIRE(r);
    return r->size();
  }
  ApplyOutcome apply(const WebhookEvent& e) {
    auto r = tickets.apply(e);
    REQUIRE(r);
    return *r;
  }
  /// open_ticket without request id.
  ApplyOutcome open_unkeyed(const std::string& subject, std::int64_t at, const std::string& assignee = "agent-7") {
    auto r = tickets.open_ticket({"", kPnid, assignee, subject, at});
    REQUIRE(r);
    return *r;
  }

  std::int64_t now = T0;
  InMemoryTicketStore store;
  TicketAggregator tickets;
};

std::size_t count(const ApplyOutcome& o, TicketChangeKind kind) {
  return static_cast<std::size_t>(
      std::count_if(o.changes.begin(), o.changes.end(), [&](const TicketChange& c) { return c.kind == kind; }));
}

void check_refused(const Result<ApplyOutcome>& r, const std::string& field) {
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::invalid_argument);
  CHECK(r.error().field == field);
  CHECK(r.error().limit == "valid UTF-8");
  // The offending bytes are not echoed into the message.
  CHECK(text::is_valid_utf8(r.error().message));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Item 9: host-supplied text

TEST_CASE("issue10 item 9: the UTF-8 check follows RFC 3629", "[tickets][issue10]") {
  CHECK(text::is_valid_utf8(""));
  CHECK(text::is_valid_utf8("plain ascii"));
  CHECK(text::is_valid_utf8(std::string("nul \0 inside", 12)));
  CHECK(text::is_valid_utf8("Jos\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF"));
  CHECK(text::invalid_utf8_at(kBad) == 3);
  CHECK(text::invalid_utf8_at("\xC0\xAF") == 0);          // overlong "/"
  CHECK(text::invalid_utf8_at("\xE0\x80\xAF") == 0);      // overlong
  CHECK(text::invalid_utf8_at("\xF0\x80\x80\xAF") == 0);  // overlong
  CHECK(text::invalid_utf8_at("a\xED\xA0\x80") == 1);     // a surrogate
  CHECK(text::invalid_utf8_at("\xF4\x90\x80\x80") == 0);  // above U+10FFFF
  CHECK(text::invalid_utf8_at("ok\xE2\x82") == 2);        // truncated at the end
  CHECK(text::invalid_utf8_at("\x80") == 0);              // a lone continuation byte
  CHECK(text::invalid_utf8_at("\xFF") == 0);
  CHECK(text::repair_utf8(kBad) == "Jos" + kReplacement);
  CHECK(text::repair_utf8("a\xE2\x82"
                          "b") == "a" + kReplacement + kReplacement + "b");
  CHECK(text::repair_utf8("Jos\xC3\xA9") == "Jos\xC3\xA9");
}

TEST_CASE("issue10 item 9: open_ticket refuses text that is not UTF-8 and stores nothing", "[tickets][issue10]") {
  Fixture f;
  check_refused(f.tickets.open_ticket({"r1", kPnid, kBad, std::string("Case 1"), T0}), "assignee");
  check_refused(f.tickets.open_ticket({"r1", kPnid, "agent-7", std::string("Case \xff"), T0}), "subject");
  check_refused(f.tickets.open_ticket({"r\xc3", kPnid, "agent-7", std::string("Case 1"), T0}), "request_id");
  check_refused(f.tickets.open_ticket({"r1", "1065\x80", "agent-7", std::string("Case 1"), T0}), "phone_number_id");
  check_refused(f.tickets.open_ticket({"", kPnid, kBad, std::string("Case 1"), T0}), "assignee");
  CHECK(f.ticket_count() == 0);
  // Valid UTF-8 (accents, emoji) is of course accepted.
  REQUIRE(f.tickets.open_ticket({"r1", kPnid, "Jos\xC3\xA9", std::string("Caso \xF0\x9F\x93\xA6"), T0}));
  CHECK(f.get("T-r1")->assignee == std::optional<std::string>("Jos\xC3\xA9"));
}

TEST_CASE("issue10 item 9: record_outbound refuses text that is not UTF-8 and changes nothing", "[tickets][issue10]") {
  Fixture f;
  REQUIRE(f.tickets.open_ticket({"r1", kPnid, "agent-7", std::string("Case 1"), T0}));
  const Ticket before = *f.get("T-r1");
  check_refused(f.tickets.record_outbound("T-r1", "wamid.1", "text", std::string("caf\xe9")), "text");
  check_refused(f.tickets.record_outbound("T-r1", "wamid.1", "text", std::string("ok"), kBad), "agent");
  check_refused(f.tickets.record_outbound("T-r1", "wamid.\xfe", "text", std::string("ok")), "message_id");
  check_refused(f.tickets.record_outbound("T-r1", "wamid.1", "te\xc0t", std::string("ok")), "type");
  check_refused(f.tickets.record_outbound("T-\xff", "wamid.1", "text", std::string("ok")), "ticket_id");
  CHECK(*f.get("T-r1") == before);
}

TEST_CASE("issue10 item 9: record_invite refuses a phone or message id that is not UTF-8, repairs the error text",
          "[tickets][issue10]") {
  Fixture f;
  REQUIRE(f.tickets.open_ticket({"r1", kPnid, "agent-7", std::string("Case 1"), T0}));
  Invite bad_phone;
  bad_phone.phone = "+1555\xff";
  bad_phone.sent_at = T0;
  check_refused(f.tickets.record_invite("T-r1", bad_phone), "phone");
  Invite bad_id;
  bad_id.phone = "+15550001";
  bad_id.sent_at = T0;
  bad_id.message_id = "wamid.\x80";
  check_refused(f.tickets.record_invite("T-r1", bad_id), "message_id");
  CHECK(f.get("T-r1")->invites.empty());

  Invite failed;
  failed.phone = "+15550001";
  failed.sent_at = T0;
  failed.error = "graph_api 131008: Par\xe1metro";  // bytes from an answer, passed through
  REQUIRE(f.tickets.record_invite("T-r1", failed));
  const Ticket t = *f.get("T-r1");
  REQUIRE(t.invites.size() == 1);
  CHECK(t.invites[0].error == std::optional<std::string>("graph_api 131008: Par" + kReplacement + "metro"));
}

TEST_CASE("issue10 item 9: the ticket JSON is valid UTF-8 whatever the ticket holds, and reads back",
          "[tickets][issue10]") {
  // A host's own store, or a host writing fields directly, bypasses the aggregator's checks.
  Ticket t;
  t.ticket_id = "T-1";
  t.phone_number_id = kPnid;
  t.assignee = kBad;
  t.subject = "ok";
  TimelineMessage m;
  m.message_id = "wamid.1";
  m.type = "text";
  m.text = "caf\xe9";
  m.delivery["phone:\xff"] = DeliveryStatus::read;
  t.timeline.push_back(m);

  const std::string json = to_json(t);
  CHECK(text::is_valid_utf8(json));
  auto back = ticket_from_json(json);
  REQUIRE(back);
  CHECK(back->assignee == std::optional<std::string>("Jos" + kReplacement));
  CHECK(back->subject == std::optional<std::string>("ok"));
  REQUIRE(back->timeline.size() == 1);
  CHECK(back->timeline[0].text == std::optional<std::string>("caf" + kReplacement));
  CHECK(back->timeline[0].delivery.count("phone:" + kReplacement) == 1);
}

TEST_CASE("issue10 item 9: control characters and NUL inside text round-trip through the ticket JSON",
          "[tickets][issue10]") {
  Ticket t;
  t.ticket_id = "T-1";
  t.phone_number_id = kPnid;
  const char raw[] = "a\0b\x01\x1f\x7f\n\t\"\\ end";
  const std::string hostile(raw, sizeof raw - 1);
  t.subject = hostile;
  TimelineMessage m;
  m.message_id = "wamid.1";
  m.type = "text";
  m.text = std::string("before \0 after", 14);
  t.timeline.push_back(m);

  const std::string json = to_json(t);
  // No raw control byte in the document: every one is escaped.
  CHECK(std::none_of(json.begin(), json.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
  CHECK(json.find("\\u0000") != std::string::npos);
  auto back = ticket_from_json(json);
  REQUIRE(back);
  CHECK(back->subject == std::optional<std::string>(hostile));
  REQUIRE(back->timeline.size() == 1);
  CHECK(back->timeline[0].text == std::optional<std::string>(std::string("before \0 after", 14)));
  CHECK(*back == t);
}

TEST_CASE("issue10 item 9: a stored body with raw bytes that are not UTF-8 (as 0.2 wrote them) still decodes",
          "[tickets][issue10]") {
  const std::string body = R"({"v":1,"ticket_id":"T-r1","request_id":"r1","phone_number_id":"1","assignee":"Jos)" +
                           std::string("\xe9") + R"(","state":"create_requested"})";
  std::string ignored;
  json::ScratchDocument doc;
  REQUIRE_FALSE(json::parse(body, doc, ignored));  // what made `tickets list` exit 9
  auto t = ticket_from_json(body);
  REQUIRE(t);
  CHECK(t->ticket_id == "T-r1");
  CHECK(t->assignee == std::optional<std::string>("Jos" + kReplacement));
  // Still refused: a document broken in its structure.
  CHECK_FALSE(ticket_from_json(R"({"v":1,"ticket_id":"T-r1")" + std::string("\xe9")));
}

// ---------------------------------------------------------------------------------------------
// Item 2: open_ticket when create's answer carried no request_id

TEST_CASE("issue10 item 2: open_ticket without request_id needs the phone number id and the subject",
          "[tickets][issue10]") {
  Fixture f;
  auto r = f.tickets.open_ticket({"", kPnid, "agent-7", std::nullopt, T0});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::invalid_argument);
  CHECK(r.error().field == "subject");
  r = f.tickets.open_ticket({"", "", "agent-7", std::string("Case 1"), T0});
  REQUIRE_FALSE(r);
  CHECK(r.error().field == "phone_number_id");
  CHECK(f.ticket_count() == 0);
}

TEST_CASE("issue10 item 2: open_ticket without request_id, then group_create links that ticket", "[tickets][issue10]") {
  Fixture f;
  auto o = f.open_unkeyed("Case 1", T0);
  const std::string id = ticket_id_for_create(kPnid, "Case 1", T0);
  CHECK(o.ticket_id == id);
  CHECK(id.rfind("C-", 0) == 0);
  CHECK(count(o, TicketChangeKind::ticket_created) == 1);
  Ticket t = *f.get(id);
  CHECK(t.state == TicketState::create_requested);
  CHECK(t.opened_by_host);
  CHECK_FALSE(t.request_id);

  // A retry of the same call (same requested_at) is the same ticket.
  o = f.open_unkeyed("Case 1", T0);
  CHECK(o.ticket_id == id);
  CHECK_FALSE(o.changed_anything());
  CHECK(f.ticket_count() == 1);

  // Something the group says before its creation webhook waits on the group's fragment.
  f.apply(ev::message("g1", "wamid.early", "15550001", T0 + 3));
  CHECK(f.get("G-g1"));

  o = f.apply(ev::created("g1", std::string("r1"), T0 + 5, std::string("Case 1")));
  CHECK(count(o, TicketChangeKind::ticket_linked) >= 1);
  t = *f.get(id);
  CHECK(t.group_id == std::optional<std::string>("g1"));
  CHECK(t.request_id == std::optional<std::string>("r1"));
  CHECK(t.state == TicketState::open);  // the early message's sender joined
  CHECK(t.assignee == std::optional<std::string>("agent-7"));
  CHECK(t.find_message("wamid.early"));
  CHECK_FALSE(f.get("T-r1"));
  CHECK_FALSE(f.get("G-g1"));
  CHECK(f.ticket_count() == 1);
  CHECK(*f.store.find_by_group("g1") == std::optional<std::string>(id));
  CHECK(*f.store.find_by_request("r1") == std::optional<std::string>(id));

  // A redelivery is a duplicate; later events of the group land on the same ticket.
  o = f.apply(ev::created("g1", std::string("r1"), T0 + 5, std::string("Case 1")));
  CHECK(count(o, TicketChangeKind::duplicate_ignored) == 1);
  f.apply(ev::message("g1", "wamid.later", "15550001", T0 + 60));
  CHECK(f.get(id)->find_message("wamid.later"));
  CHECK(f.ticket_count() == 1);
}

TEST_CASE("issue10 item 2: group_create first, then open_ticket without request_id claims its ticket",
          "[tickets][issue10]") {
  Fixture f;
  f.apply(ev::created("g1", std::string("r1"), T0, std::string("Case 1")));
  REQUIRE(f.get("T-r1"));
  CHECK_FALSE(f.get("T-r1")->assignee);

  auto o = f.open_unkeyed("Case 1", T0 + 2);
  CHECK(o.ticket_id == "T-r1");
  Ticket t = *f.get("T-r1");
  CHECK(t.assignee == std::optional<std::string>("agent-7"));
  CHECK(t.opened_by_host);
  CHECK(t.state == TicketState::awaiting_first_join);
  CHECK(f.ticket_count() == 1);

  // The same call again finds the ticket it claimed; a second create of that subject is another.
  o = f.open_unkeyed("Case 1", T0 + 2);
  CHECK(o.ticket_id == "T-r1");
  CHECK(f.ticket_count() == 1);
  o = f.open_unkeyed("Case 1", T0 + 9, "agent-8");
  CHECK(o.ticket_id == ticket_id_for_create(kPnid, "Case 1", T0 + 9));
  CHECK(f.ticket_count() == 2);

  // A webhook without request id: the ticket is G-<group>, claimed the same way.
  f.apply(ev::created("g2", std::nullopt, T0 + 20, std::string("Case 2")));
  o = f.open_unkeyed("Case 2", T0 + 21);
  CHECK(o.ticket_id == "G-g2");
  CHECK(f.get("G-g2")->assignee == std::optional<std::string>("agent-7"));
}

TEST_CASE("issue10 item 2: two creates of one subject are matched oldest first; another subject or number never",
          "[tickets][issue10]") {
  Fixture f;
  const std::string first = f.open_unkeyed("Support", T0, "agent-1").ticket_id;
  const std::string second = f.open_unkeyed("Support", T0 + 10, "agent-2").ticket_id;
  const std::string other = f.open_unkeyed("Billing", T0 + 11, "agent-3").ticket_id;
  REQUIRE(first != second);

  auto foreign = ev::created("g9", std::string("r9"), T0 + 12, std::string("Support"));
  foreign.context.phone_number_id = "999";
  f.apply(foreign);
  CHECK(f.get("T-r9"));  // another number's group: a ticket of its own
  CHECK_FALSE(f.get(first)->group_id);

  f.apply(ev::created("g1", std::string("r1"), T0 + 15, std::string("Support")));
  CHECK(f.get(first)->group_id == std::optional<std::string>("g1"));
  CHECK_FALSE(f.get(second)->group_id);
  f.apply(ev::created("g2", std::string("r2"), T0 + 16, std::string("Support")));
  CHECK(f.get(second)->group_id == std::optional<std::string>("g2"));
  CHECK_FALSE(f.get(other)->group_id);
  f.apply(ev::created("g3", std::nullopt, T0 + 17, std::string("Billing")));
  CHECK(f.get(other)->group_id == std::optional<std::string>("g3"));
  CHECK(f.ticket_count() == 4);

  // Every chain slot is free again: a new create of "Support" waits and is matched alike.
  const std::string third = f.open_unkeyed("Support", T0 + 30).ticket_id;
  f.apply(ev::created("g4", std::string("r4"), T0 + 31, std::string("Support")));
  CHECK(f.get(third)->group_id == std::optional<std::string>("g4"));
}

TEST_CASE("issue10 item 2: outside the match window nothing is matched", "[tickets][issue10]") {
  ResolutionPolicy policy;
  policy.create_match_window = std::chrono::minutes(10);
  Fixture f(policy);
  const std::string id = f.open_unkeyed("Case 1", T0).ticket_id;
  f.apply(ev::created("g1", std::string("r1"), T0 + 11 * 60, std::string("Case 1")));
  CHECK_FALSE(f.get(id)->group_id);
  CHECK(f.get("T-r1")->group_id == std::optional<std::string>("g1"));
  // ...in the other order too: the webhook's ticket is too old to claim.
  const auto o = f.open_unkeyed("Case 1", T0 + 30 * 60);
  CHECK(o.ticket_id != "T-r1");
  CHECK_FALSE(f.get("T-r1")->assignee);
}

TEST_CASE("issue10 item 2: a failed create reaches the ticket opened without request_id", "[tickets][issue10]") {
  Fixture f;
  const std::string id = f.open_unkeyed("Case 1", T0).ticket_id;
  auto failed = ev::create_failed("r1", T0 + 4);
  failed.subject = "Case 1";
  f.apply(failed);
  const Ticket t = *f.get(id);
  CHECK(t.state == TicketState::creation_failed);
  CHECK(t.request_id == std::optional<std::string>("r1"));
  CHECK_FALSE(f.get("T-r1"));

  // The failure first: open_ticket claims the failed ticket.
  Fixture g;
  g.apply(failed);
  CHECK(g.open_unkeyed("Case 1", T0 + 6).ticket_id == "T-r1");
  CHECK(g.get("T-r1")->state == TicketState::creation_failed);
  CHECK(g.get("T-r1")->assignee == std::optional<std::string>("agent-7"));
}

TEST_CASE("issue10 item 2: either order gives the same ticket content", "[tickets][issue10]") {
  Fixture a;  // open_ticket first
  const std::string id_a = a.open_unkeyed("Case 1", T0).ticket_id;
  a.apply(ev::created("g1", std::string("r1"), T0 + 5, std::string("Case 1")));
  a.apply(ev::message("g1", "wamid.1", "15550001", T0 + 60));

  Fixture b;  // the webhook first
  b.apply(ev::created("g1", std::string("r1"), T0 + 5, std::string("Case 1")));
  b.apply(ev::message("g1", "wamid.1", "15550001", T0 + 60));
  const std::string id_b = b.open_unkeyed("Case 1", T0).ticket_id;
  CHECK(id_b == "T-r1");

  Ticket ta = *a.get(id_a);
  Ticket tb = *b.get(id_b);
  ta.ticket_id = tb.ticket_id;  // the id says which came first; nothing else may
  CHECK(ta == tb);
}

// ---------------------------------------------------------------------------------------------
// Item 2, review fixes: a failed create without request id, trimmed subjects, retries without
// requested_at.

namespace {

GroupCreateFailed failed_without_request(std::int64_t ts, const std::string& subject) {
  auto e = ev::create_failed("", ts);
  e.request_id = std::nullopt;
  e.subject = subject;
  return e;
}

}  // namespace

TEST_CASE("issue10 item 2: a failed create without request_id fails the ticket opened first", "[tickets][issue10]") {
  Fixture f;
  const std::string id = f.open_unkeyed("Case 1", T0).ticket_id;
  CHECK(f.get(id)->state == TicketState::create_requested);
  auto o = f.apply(failed_without_request(T0 + 4, "Case 1"));
  CHECK(count(o, TicketChangeKind::not_applicable) == 0);
  const Ticket t = *f.get(id);
  CHECK(t.state == TicketState::creation_failed);
  REQUIRE(t.creation_errors.size() == 1);
  CHECK(t.creation_errors[0].code == 131211);
  CHECK_FALSE(t.request_id);
  CHECK(f.ticket_count() == 1);
  // A redelivery is a duplicate, not a second failure.
  o = f.apply(failed_without_request(T0 + 4, "Case 1"));
  CHECK(count(o, TicketChangeKind::duplicate_ignored) == 1);
  CHECK(f.ticket_count() == 1);
}

TEST_CASE("issue10 item 2: a failed create without request_id first, then open_ticket claims it",
          "[tickets][issue10]") {
  Fixture f;
  auto o = f.apply(failed_without_request(T0 + 4, "Case 1"));
  CHECK(count(o, TicketChangeKind::ticket_created) == 1);
  CHECK(f.ticket_count() == 1);
  o = f.open_unkeyed("Case 1", T0 + 6);
  CHECK(o.ticket_id.rfind("F-", 0) == 0);
  const Ticket t = *f.get(o.ticket_id);
  CHECK(t.state == TicketState::creation_failed);
  CHECK(t.assignee == std::optional<std::string>("agent-7"));
  CHECK(t.opened_by_host);
  CHECK(f.ticket_count() == 1);

  // Without a subject (or a number) there is nothing to link the failure to.
  Fixture g;
  auto bare = failed_without_request(T0, "Case 1");
  bare.subject = std::nullopt;
  o = g.apply(bare);
  CHECK(count(o, TicketChangeKind::not_applicable) == 1);
  CHECK(g.ticket_count() == 0);
}

TEST_CASE("issue10 item 2: the subject is matched as the client sends it, trimmed", "[tickets][issue10]") {
  // open_ticket first, with the host's untrimmed subject; the webhook echoes the trimmed one.
  Fixture f;
  const std::string id = f.open_unkeyed("  Order 1 ", T0).ticket_id;
  CHECK(id == ticket_id_for_create(kPnid, "Order 1", T0));
  CHECK(f.get(id)->subject == std::optional<std::string>("Order 1"));
  f.apply(ev::created("g1", std::nullopt, T0 + 3, std::string("Order 1")));
  CHECK(f.get(id)->group_id == std::optional<std::string>("g1"));
  CHECK(f.ticket_count() == 1);

  // The webhook first, then open_ticket with an untrimmed subject claims its ticket.
  Fixture g;
  g.apply(ev::created("g2", std::string("r2"), T0, std::string("Order 2")));
  CHECK(g.open_unkeyed("Order 2\t", T0 + 1).ticket_id == "T-r2");
  CHECK(g.get("T-r2")->assignee == std::optional<std::string>("agent-7"));
  CHECK(g.ticket_count() == 1);

  // A subject of blanks only is no subject.
  auto r = g.tickets.open_ticket({"", kPnid, "agent-7", std::string(" \t "), T0});
  REQUIRE_FALSE(r);
  CHECK(r.error().field == "subject");
}

TEST_CASE("issue10 item 2: a retried open_ticket without requested_at reuses the ticket of its first try",
          "[tickets][issue10]") {
  SECTION("retry before the webhook") {
    Fixture f;
    auto first = f.tickets.open_ticket({"", kPnid, "agent-7", std::string("Case 1"), std::nullopt});
    REQUIRE(first);
    f.now += 20;
    auto retry = f.tickets.open_ticket({"", kPnid, "agent-7", std::string("Case 1"), std::nullopt});
    REQUIRE(retry);
    CHECK(retry->ticket_id == first->ticket_id);
    CHECK(f.ticket_count() == 1);
    // The webhook links it; nothing is left waiting for a second one.
    f.apply(ev::created("g1", std::nullopt, T0 + 25, std::string("Case 1")));
    CHECK(f.get(first->ticket_id)->group_id == std::optional<std::string>("g1"));
    CHECK(f.ticket_count() == 1);
  }
  SECTION("retry after the webhook linked the first try") {
    Fixture f;
    auto first = f.tickets.open_ticket({"", kPnid, "agent-7", std::string("Case 1"), std::nullopt});
    REQUIRE(first);
    f.apply(ev::created("g1", std::nullopt, T0 + 2, std::string("Case 1")));
    f.now += 30;
    auto retry = f.tickets.open_ticket({"", kPnid, "agent-7", std::string("Case 1"), std::nullopt});
    REQUIRE(retry);
    CHECK(retry->ticket_id == first->ticket_id);
    CHECK(f.ticket_count() == 1);
  }
  SECTION("retry after the first try claimed the webhook's ticket") {
    Fixture f;
    f.apply(ev::created("g1", std::string("r1"), T0 - 2, std::string("Case 1")));
    auto first = f.tickets.open_ticket({"", kPnid, "agent-7", std::string("Case 1"), std::nullopt});
    REQUIRE(first);
    CHECK(first->ticket_id == "T-r1");
    f.now += 60;
    auto retry = f.tickets.open_ticket({"", kPnid, "agent-7", std::string("Case 1"), std::nullopt});
    REQUIRE(retry);
    CHECK(retry->ticket_id == "T-r1");
    CHECK(f.ticket_count() == 1);
  }
  SECTION("another assignee, or a call more than 60 s later, is another create") {
    Fixture f;
    auto first = f.tickets.open_ticket({"", kPnid, "agent-7", std::string("Case 1"), std::nullopt});
    REQUIRE(first);
    f.now += 5;
    auto other = f.tickets.open_ticket({"", kPnid, "agent-8", std::string("Case 1"), std::nullopt});
    REQUIRE(other);
    CHECK(other->ticket_id != first->ticket_id);
    f.now += 61;
    auto later = f.tickets.open_ticket({"", kPnid, "agent-7", std::string("Case 1"), std::nullopt});
    REQUIRE(later);
    CHECK(later->ticket_id != first->ticket_id);
    CHECK(f.ticket_count() == 3);
  }
}
