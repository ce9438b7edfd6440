// TicketAggregator over InMemoryTicketStore: the lifecycle, routing and merging of fragments, the
// join rules (statuses, roster, identities, settings, suspension), invites, the policy's tick,
// dedupe, events tickets ignore, and store failures that must leave nothing behind.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "ticket_scenarios.hpp"
#include "wagroups/tickets.hpp"
#include "wagroups/limits.hpp"

using namespace wagroups;
namespace ev = wagroups_test::events;

namespace {

constexpr std::int64_t T0 = 1780000000;
const std::string kPnid = "106540352242922";

std::chrono::system_clock::time_point tp(std::int64_t s) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(s));
}

struct Fixture {
  explicit Fixture(ResolutionPolicy policy = {}, bool copy_on_write = true)
      : store(copy_on_write), tickets(store, policy, [this] { return tp(now); }) {}

  Ticket get(const std::string& id) {
    auto r = store.load(id);
    REQUIRE(r);
    REQUIRE(*r);
    return (*r)->ticket;
  }
  bool exists(const std::string& id) {
    auto r = store.load(id);
    REQUIRE(r);
    return r->has_value();
  }
  ApplyOutcome apply(const WebhookEvent& e) {
    auto r = tickets.apply(e);
    REQUIRE(r);
    return *r;
  }
  ApplyOutcome open(const std::string& request_id, const std::string& assignee = "agent-7",
                    std::optional<std::string> subject = std::nullopt) {
    auto r = tickets.open_ticket({request_id, kPnid, assignee, std::move(subject), std::nullopt});
    REQUIRE(r);
    return *r;
  }
  ApplyOutcome tick(std::int64_t at) {
    auto r = tickets.tick(tp(at));
    REQUIRE(r);
    return *r;
  }
  std::optional<std::string> find_by_message(const std::string& id) {
    std::optional<std::string> out;
    REQUIRE(store.transact([&](TicketTransaction& tx) -> Result<void> {
      auto f = tx.find_by_message(id);
      if (!f) return f.error();
      out = *f;
      return {};
    }));
    return out;
  }

  std::int64_t now = T0;
  InMemoryTicketStore store;
  TicketAggregator tickets;
};

std::size_t count(const ApplyOutcome& o, TicketChangeKind kind) {
  return static_cast<std::size_t>(
      std::count_if(o.changes.begin(), o.changes.end(), [&](const TicketChange& c) { return c.kind == kind; }));
}

const TicketChange* find(const ApplyOutcome& o, TicketChangeKind kind) {
  for (const auto& c : o.changes)
    if (c.kind == kind) return &c;
  return nullptr;
}

const Member& only_member(const Ticket& t) {
  REQUIRE(t.members.size() == 1);
  return t.members.front();
}

ResolutionPolicy idle_policy() {
  ResolutionPolicy p;
  p.auto_resolve_after = std::chrono::minutes(30);
  p.auto_close_after = std::chrono::minutes(60);
  p.reopen_on_inbound = true;
  return p;
}

}  // namespace

TEST_CASE("lifecycle: requested, created, awaiting, open, resolved, reopened, resolved, closed", "[tickets]") {
  Fixture f(idle_policy());
  auto o = f.open("r1", "agent-7", "Order #1");
  const TicketChange* created = find(o, TicketChangeKind::ticket_created);
  REQUIRE(created);
  CHECK(created->ticket_id == "T-r1");
  CHECK(created->to_state == TicketState::create_requested);
  Ticket t = f.get("T-r1");
  CHECK(t.state == TicketState::create_requested);
  CHECK(t.assignee == std::optional<std::string>("agent-7"));
  CHECK(t.phone_number_id == kPnid);
  CHECK(t.created_at == std::optional<std::int64_t>(T0));

  o = f.apply(ev::created("g1", std::string("r1"), T0 + 5, std::string("Order #1")));
  CHECK(count(o, TicketChangeKind::ticket_linked) == 1);
  const TicketChange* moved = find(o, TicketChangeKind::state_changed);
  REQUIRE(moved);
  CHECK(moved->from_state == TicketState::create_requested);
  CHECK(moved->to_state == TicketState::awaiting_first_join);
  t = f.get("T-r1");
  CHECK(t.group_id == std::optional<std::string>("g1"));
  CHECK(t.group_created);
  CHECK(t.invite_link == std::optional<std::string>("https://chat.whatsapp.com/g1"));
  CHECK(*f.store.find_by_group("g1") == std::optional<std::string>("T-r1"));
  CHECK(*f.store.find_by_request("r1") == std::optional<std::string>("T-r1"));
  CHECK_FALSE(f.exists("G-g1"));

  o = f.apply(ev::added("g1", {ev::person("15550001")}, T0 + 60));
  CHECK(count(o, TicketChangeKind::roster_changed) == 1);
  CHECK(find(o, TicketChangeKind::state_changed)->to_state == TicketState::open);
  t = f.get("T-r1");
  CHECK(t.first_join_at == std::optional<std::int64_t>(T0 + 60));
  CHECK(only_member(t).status == MemberStatus::joined);

  f.apply(ev::message("g1", "wamid.a", "15550001", T0 + 120));
  t = f.get("T-r1");
  CHECK(t.last_activity_at == T0 + 120);
  CHECK(t.last_inbound_at == std::optional<std::int64_t>(T0 + 120));

  // Idle for 30 minutes: resolved at the moment it became idle, whenever the tick runs.
  CHECK(f.tick(T0 + 120 + 1799).changes.empty());
  o = f.tick(T0 + 120 + 2500);
  REQUIRE(find(o, TicketChangeKind::state_changed));
  CHECK(find(o, TicketChangeKind::state_changed)->to_state == TicketState::resolved);
  t = f.get("T-r1");
  CHECK(t.state == TicketState::resolved);
  CHECK(t.resolved_at == std::optional<std::int64_t>(T0 + 120 + 1800));
  CHECK(f.tick(T0 + 120 + 2500).changes.empty());  // repeated ticks agree

  // A newer member message reopens it; resolved_at stays as history.
  o = f.apply(ev::message("g1", "wamid.b", "15550001", T0 + 4000));
  CHECK(find(o, TicketChangeKind::state_changed)->to_state == TicketState::open);
  t = f.get("T-r1");
  CHECK(t.state == TicketState::open);
  CHECK(t.resolved_at == std::optional<std::int64_t>(T0 + 1920));

  f.tick(T0 + 4000 + 1800);
  t = f.get("T-r1");
  CHECK(t.state == TicketState::resolved);
  CHECK(t.resolved_at == std::optional<std::int64_t>(T0 + 5800));

  o = f.tick(T0 + 5800 + 3600);
  CHECK(find(o, TicketChangeKind::state_changed)->to_state == TicketState::closed);
  t = f.get("T-r1");
  CHECK(t.state == TicketState::closed);
  CHECK(t.closed_at == std::optional<std::int64_t>(T0 + 9400));
  CHECK(f.tick(T0 + 20000).changes.empty());

  // Closed is final: a late message is kept, the state stays closed.
  f.apply(ev::message("g1", "wamid.c", "15550001", T0 + 10000));
  t = f.get("T-r1");
  CHECK(t.state == TicketState::closed);
  CHECK(t.timeline.size() == 2 + 1);
}

TEST_CASE("one tick resolves and closes a ticket idle long enough for both", "[tickets]") {
  Fixture f(idle_policy());
  f.open("r1");
  f.apply(ev::created("g1", std::string("r1"), T0));
  f.apply(ev::added("g1", {ev::person("15550001")}, T0 + 10));
  // Joins are not activity: idle since the creation.
  CHECK(f.get("T-r1").last_activity_at == T0);
  auto o = f.tick(T0 + 1800 + 3600);
  const TicketChange* c = find(o, TicketChangeKind::state_changed);
  REQUIRE(c);
  CHECK(c->from_state == TicketState::open);
  CHECK(c->to_state == TicketState::closed);
  Ticket t = f.get("T-r1");
  CHECK(t.resolved_at == std::optional<std::int64_t>(T0 + 1800));
  CHECK(t.closed_at == std::optional<std::int64_t>(T0 + 5400));
}

TEST_CASE("without reopen_on_inbound a resolved ticket stays resolved; agents resolve and close", "[tickets]") {
  ResolutionPolicy p;
  p.reopen_on_inbound = false;
  Fixture f(p);
  f.open("r1");
  f.apply(ev::created("g1", std::string("r1"), T0));
  f.apply(ev::added("g1", {ev::person("15550001")}, T0 + 10));
  f.now = T0 + 100;
  auto o = f.tickets.resolve("T-r1");
  REQUIRE(o);
  CHECK(find(*o, TicketChangeKind::state_changed)->to_state == TicketState::resolved);
  f.apply(ev::message("g1", "wamid.a", "15550001", T0 + 200));
  CHECK(f.get("T-r1").state == TicketState::resolved);
  CHECK(f.tick(T0 + 99999).changes.empty());  // the policy here never resolves or closes
  f.now = T0 + 300;
  REQUIRE(f.tickets.close("T-r1"));
  f.now = T0 + 400;
  REQUIRE(f.tickets.close("T-r1"));  // the first close stands
  Ticket t = f.get("T-r1");
  CHECK(t.state == TicketState::closed);
  CHECK(t.closed_at == std::optional<std::int64_t>(T0 + 300));

  auto missing = f.tickets.resolve("T-nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::invalid_argument);
  CHECK(missing.error().field == "ticket_id");
  CHECK_FALSE(f.exists("T-nope"));
}

TEST_CASE("creation failure, before or after open_ticket", "[tickets]") {
  Fixture f;
  f.open("r1");
  auto o = f.apply(ev::create_failed("r1", T0 + 5));
  CHECK(find(o, TicketChangeKind::state_changed)->to_state == TicketState::creation_failed);
  Ticket t = f.get("T-r1");
  CHECK(t.state == TicketState::creation_failed);
  REQUIRE(t.creation_errors.size() == 1);
  CHECK(t.creation_errors[0].code == 131211);
  o = f.apply(ev::create_failed("r1", T0 + 5));
  CHECK(count(o, TicketChangeKind::duplicate_ignored) == 1);

  // The webhook first: the ticket exists already when the agent's request is recorded.
  f.apply(ev::create_failed("r2", T0 + 5, 131215));
  CHECK(f.get("T-r2").state == TicketState::creation_failed);
  CHECK_FALSE(f.get("T-r2").assignee);
  f.open("r2", "agent-3");
  t = f.get("T-r2");
  CHECK(t.assignee == std::optional<std::string>("agent-3"));
  CHECK(t.state == TicketState::creation_failed);
}

TEST_CASE("a webhook before open_ticket: the agent's fields still land", "[tickets]") {
  Fixture f;
  f.apply(ev::created("g1", std::string("r1"), T0 + 5, std::string("Subject from Meta")));
  Ticket t = f.get("T-r1");
  CHECK(t.state == TicketState::awaiting_first_join);
  CHECK_FALSE(t.assignee);
  f.now = T0 + 9;
  auto o = f.open("r1", "agent-9", std::string("Subject from the agent"));
  CHECK(count(o, TicketChangeKind::ticket_created) == 0);
  CHECK(count(o, TicketChangeKind::fields_changed) == 1);
  t = f.get("T-r1");
  CHECK(t.assignee == std::optional<std::string>("agent-9"));
  CHECK(t.subject == std::optional<std::string>("Subject from Meta"));  // the webhook's value wins
  CHECK(t.created_at == std::optional<std::int64_t>(T0 + 5));
  f.open("r1", "agent-1");
  CHECK(f.get("T-r1").assignee == std::optional<std::string>("agent-9"));  // set once
}

TEST_CASE("a group created without request id is ticket G-<group>", "[tickets]") {
  Fixture f;
  f.apply(ev::message("g7", "wamid.early", "15550001", T0 + 1));
  CHECK(f.get("G-g7").state == TicketState::unlinked);
  f.apply(ev::created("g7", std::nullopt, T0));
  Ticket t = f.get("G-g7");
  CHECK(t.state == TicketState::open);
  CHECK(t.group_created);
  CHECK(t.timeline.size() == 1);
  CHECK(f.store.list({})->size() == 1);
}

TEST_CASE("events before the group's creation wait on a fragment, then merge into T-<request>", "[tickets]") {
  Fixture f;
  auto o = f.apply(ev::message("g3", "wamid.m1", "15550001", T0 + 50, "first!"));
  CHECK(count(o, TicketChangeKind::ticket_created) == 1);
  f.apply(ev::status("g3", "wamid.o1", DeliveryStatus::delivered, T0 + 40, "15550002"));
  f.apply(ev::added("g3", {ev::person("15550002")}, T0 + 30));
  Ticket frag = f.get("G-g3");
  CHECK(frag.state == TicketState::unlinked);
  CHECK(frag.timeline.size() == 2);
  CHECK(*f.store.find_by_group("g3") == std::optional<std::string>("G-g3"));

  f.open("r3", "agent-1");
  f.now = T0 + 45;
  REQUIRE(f.tickets.record_outbound("T-r3", "wamid.o1", "text", std::string("hi all"), std::string("agent-1")));
  o = f.apply(ev::created("g3", std::string("r3"), T0 + 10));
  CHECK(count(o, TicketChangeKind::ticket_linked) >= 1);

  CHECK_FALSE(f.exists("G-g3"));
  Ticket t = f.get("T-r3");
  CHECK(t.state == TicketState::open);
  CHECK(t.group_id == std::optional<std::string>("g3"));
  CHECK(t.assignee == std::optional<std::string>("agent-1"));
  REQUIRE(t.timeline.size() == 2);
  // The stub from the status and the recorded send are one message, at the status's time.
  CHECK(t.timeline[0].message_id == "wamid.o1");
  CHECK(t.timeline[0].timestamp == T0 + 40);
  CHECK(t.timeline[0].type == "text");
  CHECK(t.timeline[0].agent == std::optional<std::string>("agent-1"));
  CHECK(t.timeline[0].delivery.at("phone:15550002") == DeliveryStatus::delivered);
  CHECK(t.timeline[1].message_id == "wamid.m1");
  CHECK(t.members.size() == 2);
  CHECK(t.first_join_at == std::optional<std::int64_t>(T0 + 30));
  CHECK(t.last_inbound_at == std::optional<std::int64_t>(T0 + 50));
  CHECK(*f.store.find_by_group("g3") == std::optional<std::string>("T-r3"));
  CHECK(f.find_by_message("wamid.m1") == std::optional<std::string>("T-r3"));
  CHECK(f.find_by_message("wamid.o1") == std::optional<std::string>("T-r3"));
  CHECK(f.store.list({})->size() == 1);

  // Later events for the group go straight to the merged ticket.
  f.apply(ev::message("g3", "wamid.m2", "15550002", T0 + 60));
  CHECK(f.get("T-r3").timeline.size() == 3);
  CHECK_FALSE(f.exists("G-g3"));
}

TEST_CASE("delivery statuses only move forward; failed ranks between sent and delivered", "[tickets]") {
  Fixture f;
  f.open("r1");
  f.apply(ev::created("g1", std::string("r1"), T0));
  f.now = T0 + 100;
  auto rec = f.tickets.record_outbound("T-r1", "wamid.o1", "text", std::string("hello"));
  REQUIRE(rec);
  CHECK(count(*rec, TicketChangeKind::message_appended) == 1);

  auto o = f.apply(ev::status("g1", "wamid.o1", DeliveryStatus::read, T0 + 130, "15550001"));
  CHECK(count(o, TicketChangeKind::status_advanced) == 1);
  o = f.apply(ev::status("g1", "wamid.o1", DeliveryStatus::delivered, T0 + 120, "15550001"));
  CHECK(count(o, TicketChangeKind::status_advanced) == 0);
  CHECK(count(o, TicketChangeKind::duplicate_ignored) == 0);
  f.apply(ev::status("g1", "wamid.o1", DeliveryStatus::failed, T0 + 101, "15550002"));
  f.apply(ev::status("g1", "wamid.o1", DeliveryStatus::delivered, T0 + 150, "15550002"));
  f.apply(ev::status("g1", "wamid.o1", DeliveryStatus::delivered, T0 + 110, "15550003"));
  f.apply(ev::status("g1", "wamid.o1", DeliveryStatus::failed, T0 + 160, "15550003"));
  f.apply(ev::status("g1", "wamid.o1", DeliveryStatus::failed, T0 + 105));
  f.apply(ev::status("g1", "wamid.o1", DeliveryStatus::sent, T0 + 99));  // sent: earlier than the record

  Ticket t = f.get("T-r1");
  REQUIRE(t.timeline.size() == 1);
  const TimelineMessage& m = t.timeline[0];
  CHECK(m.direction == MessageDirection::outbound);
  CHECK(m.delivery.at("phone:15550001") == DeliveryStatus::read);
  CHECK(m.delivery.at("phone:15550002") == DeliveryStatus::delivered);
  CHECK(m.delivery.at("phone:15550003") == DeliveryStatus::delivered);
  CHECK(m.group_status == DeliveryStatus::failed);
  REQUIRE(m.errors.size() == 1);  // the same error from three failed statuses, once
  CHECK(m.errors[0].code == 131026);
  CHECK(m.timestamp == T0 + 99);  // a status cannot precede its send
  CHECK(t.last_activity_at == T0 + 99);
  // Statuses made members of the people they name (with no status fact of their own).
  CHECK(t.members.size() == 3);
  CHECK(t.members[0].status == MemberStatus::invited);
  CHECK(t.members[0].status_since == 0);

  // Group-wide: sent after failed stays failed; read (proof of delivery) beats failed.
  f.apply(ev::status("g1", "wamid.o2", DeliveryStatus::failed, T0 + 200));
  f.apply(ev::status("g1", "wamid.o2", DeliveryStatus::sent, T0 + 200));
  CHECK(f.get("T-r1").find_message("wamid.o2")->group_status == DeliveryStatus::failed);
  f.apply(ev::status("g1", "wamid.o2", DeliveryStatus::played, T0 + 210));
  CHECK(f.get("T-r1").find_message("wamid.o2")->group_status == DeliveryStatus::played);
}

TEST_CASE("statuses do not move last activity; messages either way do", "[tickets]") {
  Fixture f;
  f.open("r1");
  f.apply(ev::created("g1", std::string("r1"), T0));
  f.now = T0 + 1000;
  REQUIRE(f.tickets.record_outbound("T-r1", "wamid.o1", "text", std::string("hello")));
  CHECK(f.get("T-r1").last_activity_at == T0 + 1000);
  f.apply(ev::message("g1", "wamid.in", "15550001", T0 + 1100));
  f.apply(ev::status("g1", "wamid.o1", DeliveryStatus::read, T0 + 1200, "15550001"));
  CHECK(f.get("T-r1").last_activity_at == T0 + 1100);
}

TEST_CASE("a status before record_outbound leaves a stub that the record fills in", "[tickets]") {
  Fixture f;
  f.open("r1");
  f.apply(ev::created("g1", std::string("r1"), T0));
  auto o = f.apply(ev::status("g1", "wamid.o1", DeliveryStatus::sent, T0 + 500));
  CHECK(count(o, TicketChangeKind::message_appended) == 1);
  Ticket t = f.get("T-r1");
  CHECK(t.timeline[0].type.empty());
  f.now = T0 + 505;
  auto rec = f.tickets.record_outbound("T-r1", "wamid.o1", "text", std::string("hello"), std::string("agent-2"));
  REQUIRE(rec);
  CHECK(count(*rec, TicketChangeKind::message_appended) == 0);
  t = f.get("T-r1");
  REQUIRE(t.timeline.size() == 1);
  CHECK(t.timeline[0].timestamp == T0 + 500);
  CHECK(t.timeline[0].type == "text");
  CHECK(t.timeline[0].text == std::optional<std::string>("hello"));
  CHECK(t.timeline[0].agent == std::optional<std::string>("agent-2"));
  CHECK(t.timeline[0].group_status == DeliveryStatus::sent);

  auto missing = f.tickets.record_outbound("T-none", "wamid.x", "text", std::nullopt);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::invalid_argument);
  CHECK_FALSE(f.exists("T-none"));
}

TEST_CASE("roster: last fact by time wins, so a removal before its add stays removed", "[tickets]") {
  Fixture f;
  f.open("r1");
  f.apply(ev::created("g1", std::string("r1"), T0));
  f.apply(ev::removed("g1", {ev::person("15550001")}, T0 + 100));
  f.apply(ev::added("g1", {ev::person("15550001")}, T0 + 90));  // arrives late
  Ticket t = f.get("T-r1");
  CHECK(only_member(t).status == MemberStatus::removed);
  CHECK(only_member(t).status_since == T0 + 100);
  CHECK(only_member(t).first_joined_at == std::optional<std::int64_t>(T0 + 90));

  f.apply(ev::added("g1", {ev::person("15550001")}, T0 + 200));  // rejoins later
  t = f.get("T-r1");
  CHECK(only_member(t).status == MemberStatus::joined);
  CHECK(only_member(t).first_joined_at == std::optional<std::int64_t>(T0 + 90));

  f.apply(ev::removed("g1", {ev::person("15550001")}, T0 + 300, RemovalInitiator::participant));
  CHECK(only_member(f.get("T-r1")).status == MemberStatus::left);

  // A message's sender counts as joined at the message, but a later removal still wins.
  f.apply(ev::message("g1", "wamid.late", "15550001", T0 + 250));
  CHECK(only_member(f.get("T-r1")).status == MemberStatus::left);

  // Same second: the higher rank wins (removed over joined), in either order.
  f.apply(ev::added("g1", {ev::person("15550002")}, T0 + 400));
  f.apply(ev::removed("g1", {ev::person("15550002")}, T0 + 400));
  f.apply(ev::removed("g1", {ev::person("15550003")}, T0 + 400));
  f.apply(ev::added("g1", {ev::person("15550003")}, T0 + 400));
  t = f.get("T-r1");
  CHECK(t.find_member({std::string("15550002"), {}, {}})->status == MemberStatus::removed);
  CHECK(t.find_member({std::string("15550003"), {}, {}})->status == MemberStatus::removed);
}

TEST_CASE("join requests: requested, revoked, approved; the latest request id is kept", "[tickets]") {
  Fixture f;
  f.open("r1");
  f.apply(ev::created("g1", std::string("r1"), T0));
  f.apply(ev::join_requested("g1", "jr-1", ev::person("15550001"), T0 + 10));
  Ticket t = f.get("T-r1");
  CHECK(only_member(t).status == MemberStatus::join_requested);
  CHECK(only_member(t).join_request_id == std::optional<std::string>("jr-1"));
  CHECK(t.seats_taken() == 2);
  CHECK(t.state == TicketState::awaiting_first_join);

  JoinRequestRevoked revoked;
  revoked.context = ev::at(T0 + 20);
  revoked.group_id = "g1";
  revoked.join_request_id = "jr-1";
  revoked.requester = ev::person("15550001");
  f.apply(revoked);
  CHECK(only_member(f.get("T-r1")).status == MemberStatus::join_request_revoked);
  CHECK(f.get("T-r1").seats_taken() == 1);

  f.apply(ev::join_requested("g1", "jr-2", ev::person("15550001"), T0 + 30));
  f.apply(ev::added("g1", {ev::person("15550001")}, T0 + 40));  // approved
  t = f.get("T-r1");
  CHECK(only_member(t).status == MemberStatus::joined);
  CHECK(only_member(t).join_request_id == std::optional<std::string>("jr-2"));
  CHECK(only_member(t).join_request_at == T0 + 30);
  CHECK(t.state == TicketState::open);
}

TEST_CASE("a person known by phone and one known by BSUID merge when an event links them", "[tickets]") {
  Fixture f;
  f.open("r1");
  f.apply(ev::created("g1", std::string("r1"), T0));
  f.apply(ev::added("g1", {ev::person("15550001")}, T0 + 10));
  f.apply(ev::message("g1", "wamid.in", "", T0 + 20, "hi", "US.1"));  // BSUID only (2026 rollout)
  f.apply(ev::status("g1", "wamid.o1", DeliveryStatus::read, T0 + 30, "", "US.1"));
  f.apply(ev::status("g1", "wamid.o1", DeliveryStatus::delivered, T0 + 25, "15550001"));
  Ticket t = f.get("T-r1");
  REQUIRE(t.members.size() == 2);
  CHECK(t.members[0].person.canonical() == "bsuid:US.1");  // sorted by canonical key
  CHECK(t.members[1].person.canonical() == "phone:15550001");
  CHECK(t.find_message("wamid.o1")->delivery.size() == 2);

  auto o = f.apply(ev::added("g1", {ev::person("15550001", "US.1")}, T0 + 40));
  CHECK(count(o, TicketChangeKind::roster_changed) == 1);
  t = f.get("T-r1");
  const Member& m = only_member(t);
  CHECK(m.person.phone == std::optional<std::string>("15550001"));
  CHECK(m.person.bsuid == std::optional<std::string>("US.1"));
  CHECK(m.status == MemberStatus::joined);
  CHECK(m.status_since == T0 + 40);
  CHECK(m.first_joined_at == std::optional<std::int64_t>(T0 + 10));
  const auto& delivery = t.find_message("wamid.o1")->delivery;
  REQUIRE(delivery.size() == 1);
  CHECK(delivery.at("bsuid:US.1") == DeliveryStatus::read);
  CHECK(t.timeline[0].sender.bsuid == std::optional<std::string>("US.1"));

  // Afterwards either identifier alone finds the one member.
  f.apply(ev::status("g1", "wamid.o2", DeliveryStatus::delivered, T0 + 50, "15550001"));
  CHECK(f.get("T-r1").find_message("wamid.o2")->delivery.count("bsuid:US.1") == 1);
  f.apply(ev::removed("g1", {ev::person("", "US.1")}, T0 + 60));
  CHECK(only_member(f.get("T-r1")).status == MemberStatus::removed);

  // A business removal names people by `input`: a BSUID has a dot, a phone does not.
  Participant by_input;
  by_input.input = "15550009";
  f.apply(ev::removed("g1", {by_input}, T0 + 70));
  CHECK(f.get("T-r1").find_member({std::string("15550009"), {}, {}}) != nullptr);
}

TEST_CASE("group settings and suspension: last writer by timestamp", "[tickets]") {
  Fixture f;
  f.open("r1", "agent-1", std::string("Agent subject"));
  CHECK(f.get("T-r1").subject == std::optional<std::string>("Agent subject"));
  f.apply(ev::subject_changed("g1", "B", T0 + 200));
  f.apply(ev::created("g1", std::string("r1"), T0 + 100, std::string("A")));
  CHECK(f.get("T-r1").subject == std::optional<std::string>("B"));
  f.apply(ev::subject_changed("g1", "C", T0 + 150));    // older
  f.apply(ev::subject_changed("g1", "D", T0 + 300, false));  // failed
  CHECK(f.get("T-r1").subject == std::optional<std::string>("B"));
  f.apply(ev::subject_changed("g1", "A2", T0 + 200));  // same second: the greater text wins
  CHECK(f.get("T-r1").subject == std::optional<std::string>("B"));
  f.apply(ev::subject_changed("g1", "Z", T0 + 200));
  Ticket t = f.get("T-r1");
  CHECK(t.subject == std::optional<std::string>("Z"));
  CHECK(t.subject_changed_at == std::optional<std::int64_t>(T0 + 200));

  GroupSuspended s;
  s.context = ev::at(T0 + 500, "group_status_update");
  s.group_id = "g1";
  GroupSuspensionCleared c;
  c.context = ev::at(T0 + 400, "group_status_update");
  c.group_id = "g1";
  f.apply(s);
  f.apply(c);  // older: ignored
  t = f.get("T-r1");
  CHECK(t.suspended);
  CHECK(t.suspension_changed_at == T0 + 500);
  c.context = ev::at(T0 + 500, "group_status_update");  // same second: cleared wins
  f.apply(c);
  CHECK_FALSE(f.get("T-r1").suspended);
  s.context = ev::at(T0 + 600, "group_status_update");
  auto o = f.apply(s);
  CHECK(count(o, TicketChangeKind::fields_changed) == 1);
  CHECK(f.get("T-r1").suspended);
}

TEST_CASE("deletion closes the ticket", "[tickets]") {
  Fixture f;
  f.open("r1");
  f.apply(ev::created("g1", std::string("r1"), T0));
  f.apply(ev::added("g1", {ev::person("15550001")}, T0 + 10));
  auto o = f.apply(ev::deleted("g1", T0 + 900));
  CHECK(find(o, TicketChangeKind::state_changed)->to_state == TicketState::closed);
  Ticket t = f.get("T-r1");
  CHECK(t.group_deleted);
  CHECK(t.deleted_at == std::optional<std::int64_t>(T0 + 900));
  CHECK(t.closed_at == std::optional<std::int64_t>(T0 + 900));
  CHECK(t.state == TicketState::closed);
}

TEST_CASE("invites: recorded, then updated by their 1:1 status webhooks", "[tickets]") {
  Fixture f;
  f.open("r1");
  f.apply(ev::created("g1", std::string("r1"), T0));

  // A 1:1 status for a message nobody recorded: not ours, and no key is kept for it.
  auto o = f.apply(ev::direct_status("wamid.inv1", DeliveryStatus::delivered, T0 + 20, "15550009"));
  CHECK(count(o, TicketChangeKind::not_applicable) == 1);

  Invite invite;
  invite.phone = "15550009";
  invite.sent_at = T0 + 10;
  invite.message_id = "wamid.inv1";
  auto rec = f.tickets.record_invite("T-r1", invite);
  REQUIRE(rec);
  CHECK(count(*rec, TicketChangeKind::invite_updated) == 1);
  CHECK(f.get("T-r1").seats_taken() == 2);

  // The same status again now applies (it was not recorded as seen before).
  o = f.apply(ev::direct_status("wamid.inv1", DeliveryStatus::delivered, T0 + 20, "15550009"));
  CHECK(count(o, TicketChangeKind::invite_updated) == 1);
  f.apply(ev::direct_status("wamid.inv1", DeliveryStatus::read, T0 + 30, "15550009"));
  f.apply(ev::direct_status("wamid.inv1", DeliveryStatus::sent, T0 + 11, "15550009"));
  Ticket t = f.get("T-r1");
  REQUIRE(t.invites.size() == 1);
  CHECK(t.invites[0].status == DeliveryStatus::read);
  CHECK_FALSE(t.invites[0].error);

  // A second invite to another phone fails at delivery.
  invite.phone = "15550010";
  invite.message_id = "wamid.inv2";
  REQUIRE(f.tickets.record_invite("T-r1", invite));
  CHECK(f.get("T-r1").seats_taken() == 3);
  f.apply(ev::direct_status("wamid.inv2", DeliveryStatus::failed, T0 + 40, "15550010"));
  t = f.get("T-r1");
  CHECK(t.invites[1].status == DeliveryStatus::failed);
  CHECK(t.invites[1].error == std::optional<std::string>("131026: Message undeliverable"));
  CHECK(t.seats_taken() == 2);

  // An older record for the same phone does not replace the newer one; a newer one does.
  Invite older = invite;
  older.sent_at = T0 + 5;
  older.message_id = "wamid.inv0";
  REQUIRE(f.tickets.record_invite("T-r1", older));
  CHECK(f.get("T-r1").invites[1].message_id == std::optional<std::string>("wamid.inv2"));
  Invite newer = invite;
  newer.sent_at = T0 + 50;
  newer.message_id = "wamid.inv3";
  REQUIRE(f.tickets.record_invite("T-r1", newer));
  t = f.get("T-r1");
  REQUIRE(t.invites.size() == 2);
  CHECK(t.invites[1].message_id == std::optional<std::string>("wamid.inv3"));
  CHECK(t.invites[1].status == DeliveryStatus::unknown);
  CHECK(t.seats_taken() == 3);

  // Once the invitee joins, the invite no longer takes a seat of its own.
  f.apply(ev::added("g1", {ev::person("15550009")}, T0 + 60));
  CHECK(f.get("T-r1").seats_taken() == 3);
}

TEST_CASE("seats: seven members and the business fill a group", "[tickets]") {
  Fixture f;
  f.open("r1");
  f.apply(ev::created("g1", std::string("r1"), T0));
  std::vector<Participant> people;
  for (int i = 1; i <= 7; ++i) people.push_back(ev::person("1555000000" + std::to_string(i)));
  f.apply(ev::added("g1", people, T0 + 10));
  Ticket t = f.get("T-r1");
  CHECK(t.members.size() == 7);
  CHECK(t.seats_taken() == static_cast<int>(limits::max_participants));
  CHECK(std::is_sorted(t.members.begin(), t.members.end(), [](const Member& a, const Member& b) {
    return a.person.canonical() < b.person.canonical();
  }));
}

TEST_CASE("duplicates are reported and change nothing, within and across calls", "[tickets]") {
  Fixture f;
  f.open("r1");
  const WebhookEvent created = ev::created("g1", std::string("r1"), T0);
  const WebhookEvent msg = ev::message("g1", "wamid.a", "15550001", T0 + 5);
  auto o = f.tickets.apply(std::vector<WebhookEvent>{created, msg, msg, created});
  REQUIRE(o);
  CHECK(count(*o, TicketChangeKind::duplicate_ignored) == 2);
  CHECK(count(*o, TicketChangeKind::message_appended) == 1);
  CHECK(o->changed_anything());
  const auto before = *f.store.load("T-r1");

  WebhookBatch batch;
  batch.events = {msg, created};
  o = f.tickets.apply(batch);
  REQUIRE(o);
  CHECK(count(*o, TicketChangeKind::duplicate_ignored) == 2);
  CHECK_FALSE(o->changed_anything());
  const auto after = *f.store.load("T-r1");
  CHECK(after->ticket == before->ticket);
  CHECK(after->version == before->version);  // nothing fetched, nothing written
}

TEST_CASE("events tickets do not use are not applicable and leave nothing behind", "[tickets]") {
  Fixture f;
  std::vector<WebhookEvent> ignored;
  ignored.push_back(ev::created("", std::string("r9"), T0));  // no group id
  auto no_group = ev::message("g1", "wamid.x", "15550001", T0);
  no_group.group_id.reset();
  ignored.push_back(no_group);
  ignored.push_back(ev::message("g1", "", "15550001", T0));  // no message id
  auto unknown_status = ev::status("g1", "wamid.o", DeliveryStatus::unknown, T0);
  unknown_status.status = "deleted";
  ignored.push_back(unknown_status);
  GroupCreateFailed no_request = ev::create_failed("r9", T0);
  no_request.request_id.reset();
  ignored.push_back(no_request);
  GroupDeleteFailed delete_failed;
  delete_failed.group_id = "g1";
  ignored.push_back(delete_failed);
  DirectMessageReceived direct;
  direct.id = "wamid.1on1";
  ignored.push_back(direct);
  UnknownEvent unknown;
  unknown.type = "group_something_new";
  ignored.push_back(unknown);
  ignored.push_back(CustomEvent{});

  for (const auto& e : ignored) CHECK_FALSE(event_key(e));
  auto o = f.tickets.apply(ignored);
  REQUIRE(o);
  CHECK(count(*o, TicketChangeKind::not_applicable) == ignored.size());
  CHECK_FALSE(o->changed_anything());
  CHECK(f.store.list({})->empty());
}

TEST_CASE("event keys: stable, and distinct for distinct facts", "[tickets]") {
  auto k = [](const WebhookEvent& e) {
    auto key = event_key(e);
    REQUIRE(key);
    return *key;
  };
  CHECK(k(ev::message("g1", "wamid.a", "1", T0)) == k(ev::message("g1", "wamid.a", "1", T0)));
  CHECK(k(ev::message("g1", "wamid.a", "1", T0)) != k(ev::message("g1", "wamid.b", "1", T0)));
  const auto read1 = k(ev::status("g1", "wamid.o", DeliveryStatus::read, T0, "1"));
  CHECK(read1 != k(ev::status("g1", "wamid.o", DeliveryStatus::read, T0, "2")));
  CHECK(read1 != k(ev::status("g1", "wamid.o", DeliveryStatus::delivered, T0, "1")));
  CHECK(read1 != k(ev::status("g1", "wamid.o", DeliveryStatus::read, T0)));
  CHECK(read1 == k(ev::status("g1", "wamid.o", DeliveryStatus::read, T0 + 9, "1")));  // message+status+participant
  // Group events: group, type, request id, timestamp, and the people involved.
  const auto add1 = k(ev::added("g1", {ev::person("1")}, T0));
  CHECK(add1 == k(ev::added("g1", {ev::person("1")}, T0)));
  CHECK(add1 != k(ev::added("g1", {ev::person("2")}, T0)));
  CHECK(add1 != k(ev::added("g1", {ev::person("1")}, T0 + 1)));
  CHECK(add1 != k(ev::added("g2", {ev::person("1")}, T0)));
  CHECK(add1 != k(ev::removed("g1", {ev::person("1")}, T0)));
  CHECK(k(ev::added("g1", {ev::person("1"), ev::person("2")}, T0)) ==
        k(ev::added("g1", {ev::person("2"), ev::person("1")}, T0)));
  CHECK(k(ev::created("g1", std::string("r1"), T0)) != k(ev::created("g1", std::string("r2"), T0)));
  CHECK(k(ev::subject_changed("g1", "A", T0)) != k(ev::subject_changed("g1", "B", T0)));
  CHECK(k(ev::direct_status("wamid.i", DeliveryStatus::read, T0, "1")) !=
        k(ev::direct_status("wamid.i", DeliveryStatus::delivered, T0, "1")));
}

namespace {

// Fails the Nth call into a transaction (counting every TicketTransaction method), as a disk
// or database might at any point of a unit.
class FailingTicketStore final : public TicketStore {
 public:
  int fail_at = 0;  // 0: never
  int calls = 0;
  InMemoryTicketStore inner{true};

  Result<void> transact(const std::function<Result<void>(TicketTransaction&)>& work) override {
    return inner.transact([&](TicketTransaction& tx) {
      Tx failing(tx, *this);
      return work(failing);
    });
  }
  Result<std::optional<StoredTicket>> load(const std::string& id) override { return inner.load(id); }
  Result<std::optional<std::string>> find_by_group(const std::string& g) override { return inner.find_by_group(g); }
  Result<std::optional<std::string>> find_by_request(const std::string& r) override { return inner.find_by_request(r); }
  Result<std::vector<StoredTicket>> list(const TicketQuery& q) override { return inner.list(q); }

 private:
  class Tx final : public TicketTransaction {
   public:
    Tx(TicketTransaction& inner, FailingTicketStore& store) : inner_(inner), store_(store) {}
    Result<Ticket*> ticket(const std::string& id) override {
      if (fail()) return failure();
      return inner_.ticket(id);
    }
    Result<Ticket*> insert(Ticket t) override {
      if (fail()) return failure();
      return inner_.insert(std::move(t));
    }
    Result<void> erase(const std::string& id) override {
      if (fail()) return failure();
      return inner_.erase(id);
    }
    Result<std::optional<std::string>> find_by_group(const std::string& g) override {
      if (fail()) return failure();
      return inner_.find_by_group(g);
    }
    Result<std::optional<std::string>> find_by_request(const std::string& r) override {
      if (fail()) return failure();
      return inner_.find_by_request(r);
    }
    Result<std::optional<std::string>> find_by_message(const std::string& m) override {
      if (fail()) return failure();
      return inner_.find_by_message(m);
    }
    Result<void> index_message(const std::string& m, const std::string& t) override {
      if (fail()) return failure();
      return inner_.index_message(m, t);
    }
    Result<bool> applied(const std::string& key) override {
      if (fail()) return failure();
      return inner_.applied(key);
    }
    Result<void> record(const std::string& key) override {
      if (fail()) return failure();
      return inner_.record(key);
    }

   private:
    bool fail() { return ++store_.calls == store_.fail_at; }
    static Error failure() {
      Error e;
      e.code = ErrorCode::storage;
      e.message = "injected storage failure";
      return e;
    }
    TicketTransaction& inner_;
    FailingTicketStore& store_;
  };
};

std::vector<Ticket> everything(TicketStore& store) {
  std::vector<Ticket> out;
  auto listed = wagroups_test::all_tickets(store);
  REQUIRE(listed);
  for (auto& s : *listed) out.push_back(std::move(s.ticket));
  return out;
}

}  // namespace

TEST_CASE("a store failure at any point returns the error and leaves tickets and keys untouched", "[tickets]") {
  // Before: a fragment for g1 and a ticket T-r1. The batch merges, appends, advances and records.
  auto prepare = [](TicketAggregator& tickets) {
    REQUIRE(tickets.open_ticket({"r1", kPnid, "agent-1", std::nullopt, T0}));
    REQUIRE(tickets.apply(ev::message("g1", "wamid.m1", "15550001", T0 + 5)));
    REQUIRE(tickets.record_invite("T-r1", Invite{"15550009", T0 + 2, std::string("wamid.inv"), DeliveryStatus::unknown, std::nullopt}));
  };
  const std::vector<WebhookEvent> batch = {
      ev::created("g1", std::string("r1"), T0 + 1),
      ev::added("g1", {ev::person("15550001", "US.1")}, T0 + 3),
      ev::message("g1", "wamid.m2", "15550002", T0 + 6),
      ev::status("g1", "wamid.o1", DeliveryStatus::read, T0 + 7, "15550001"),
      ev::direct_status("wamid.inv", DeliveryStatus::delivered, T0 + 8, "15550009"),
  };

  InMemoryTicketStore reference;
  TicketAggregator reference_tickets(reference);
  prepare(reference_tickets);
  REQUIRE(reference_tickets.apply(batch));
  const std::vector<Ticket> expected = everything(reference);

  int failures_seen = 0;
  for (int n = 1;; ++n) {
    FailingTicketStore store;
    TicketAggregator tickets(store);
    prepare(tickets);
    const std::vector<Ticket> before = everything(store);
    store.calls = 0;
    store.fail_at = n;
    auto r = tickets.apply(batch);
    store.fail_at = 0;
    if (r) {
      CHECK(everything(store) == expected);
      break;
    }
    ++failures_seen;
    INFO("failure injected at call " << n);
    CHECK(r.error().code == ErrorCode::storage);
    CHECK(r.error().message == "injected storage failure");
    CHECK(everything(store) == before);
    // No key was kept: redelivery applies everything, nothing is reported as a duplicate.
    auto again = tickets.apply(batch);
    REQUIRE(again);
    CHECK(count(*again, TicketChangeKind::duplicate_ignored) == 0);
    CHECK(everything(store) == expected);
  }
  CHECK(failures_seen >= 20);  // every call of the unit was made to fail once
}

TEST_CASE("without copy_on_write the aggregator still keeps tickets exact", "[tickets]") {
  // The aggregator never fails after its first write except through the store, so the fast
  // configuration gives the same tickets as the default one.
  Fixture fast({}, false);
  Fixture safe({}, true);
  for (Fixture* f : {&fast, &safe}) {
    f->open("r1");
    f->apply(ev::message("g1", "wamid.m1", "15550001", T0 + 5));
    f->apply(ev::created("g1", std::string("r1"), T0 + 1));
    f->apply(ev::status("g1", "wamid.o1", DeliveryStatus::read, T0 + 7, "15550001"));
  }
  CHECK(fast.get("T-r1") == safe.get("T-r1"));
  CHECK_FALSE(fast.exists("G-g1"));
}
