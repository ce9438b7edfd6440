// Issue 13: TicketAggregator + InMemoryTicketStore checked against an independent model of the
// documented rules (tests/support/ticket_oracle.hpp), not only against themselves. Random group
// lives and hand-built streams are delivered in order, shuffled, duplicated and batched; every
// stored ticket is compared with the oracle's field by field, and every delivery's
// `duplicate_ignored` count with the oracle's idea of which deliveries are redeliveries.
//
// WAGROUPS_ORACLE_SCENARIOS=<n> and WAGROUPS_ORACLE_SEED=<s> override the count and the first seed.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "env_number.hpp"
#include "ticket_oracle.hpp"
#include "ticket_scenarios.hpp"
#include "wagroups/tickets.hpp"

using namespace wagroups;
using wagroups_test::ScenarioRng;
using wagroups_test::oracle::ExpectedTicket;
using wagroups_test::oracle::HostCall;
using wagroups_test::oracle::TicketOracle;
namespace ev = wagroups_test::events;

namespace {

constexpr std::int64_t kStart = 1767000000;

/// One step of a stream: a host call or a webhook event.
struct Step {
  bool host = false;
  HostCall call;
  WebhookEvent event;
};

struct Stream {
  std::vector<Step> steps;  // true order
  ResolutionPolicy policy;
  std::int64_t end_time = 0;  // the final tick (0: none)
};

Step host(HostCall c) {
  Step s;
  s.host = true;
  s.call = std::move(c);
  return s;
}
Step event(WebhookEvent e) {
  Step s;
  s.event = std::move(e);
  return s;
}

HostCall open_call(const std::string& request_id, const std::string& agent, const std::string& subject,
                   std::int64_t at) {
  HostCall c;
  c.kind = HostCall::Kind::open_ticket;
  c.request_id = request_id;
  c.assignee = agent;
  c.subject = subject;
  c.at = at;
  return c;
}
HostCall ticket_call(HostCall::Kind kind, const std::string& ticket_id, std::int64_t at) {
  HostCall c;
  c.kind = kind;
  c.ticket_id = ticket_id;
  c.at = at;
  return c;
}
HostCall outbound_call(const std::string& ticket_id, const std::string& message_id, const std::string& agent,
                       std::int64_t at) {
  HostCall c = ticket_call(HostCall::Kind::record_outbound, ticket_id, at);
  c.message_id = message_id;
  c.text = "reply " + message_id;
  c.agent = agent;
  return c;
}

GroupSuspended suspended(const std::string& group_id, std::int64_t ts) {
  GroupSuspended e;
  e.context = ev::at(ts, "group_lifecycle_update");
  e.group_id = group_id;
  return e;
}
GroupSuspensionCleared cleared(const std::string& group_id, std::int64_t ts) {
  GroupSuspensionCleared e;
  e.context = ev::at(ts, "group_lifecycle_update");
  e.group_id = group_id;
  return e;
}

// Random group lives ------------------------------------------------------------------------

/// One group's life, appended to `out` at increasing, unique timestamps (`t` moves on).
void group_life(ScenarioRng& rng, int n, std::int64_t& t, std::vector<Step>& out) {
  const std::string g = "group" + std::to_string(n);
  const std::string r = "req" + std::to_string(n);
  const std::string tid = ticket_id_for_request(r);
  const std::string agent = "agent-" + std::to_string(n);
  auto next = [&] { return t += rng.range(1, 900); };
  // A: agent opens, group created; B: created with request id, no agent; C: only events (the
  // create unseen); D: agent opens, the create never comes; F: the create fails.
  const int mode = static_cast<int>(rng.range(0, 99));
  const bool opened = mode < 45 || (mode >= 80 && mode < 90) || (mode >= 90 && rng.chance(50));
  const bool created = mode < 65;  // A and B
  const bool failed = mode >= 90;
  if (opened) out.push_back(host(open_call(r, agent, "Case " + std::to_string(n), next())));
  if (opened && rng.chance(15)) out.push_back(host(open_call(r, "agent-other", "Other", next())));  // a second agent
  if (failed) {
    out.push_back(event(ev::create_failed(r, next())));
    return;
  }
  if (created) {
    std::optional<std::string> subject;
    if (rng.chance(30)) subject = "Case " + std::to_string(n) + " (as created)";
    out.push_back(event(ev::created(g, r, next(), subject)));
  }
  const bool host_can_act = opened;  // host calls name T-<request>, which open_ticket made
  std::vector<std::string> phones;
  for (int p = 0; p < 4; ++p) phones.push_back("1650555" + std::to_string(n) + "10" + std::to_string(p));
  std::map<std::string, bool> joined;
  int messages = 0;
  const int length = static_cast<int>(rng.range(3, 16));
  for (int i = 0; i < length; ++i) {
    const int what = static_cast<int>(rng.range(0, 99));
    const std::string& who = rng.pick(phones);
    if (what < 25) {
      if (joined[who]) continue;
      joined[who] = true;
      out.push_back(event(ev::added(g, {ev::person(who)}, next())));
    } else if (what < 35) {
      if (!joined[who]) continue;
      joined[who] = false;
      const auto by = rng.chance(50) ? RemovalInitiator::participant : RemovalInitiator::business;
      out.push_back(event(ev::removed(g, {ev::person(who)}, next(), by)));
    } else if (what < 55) {
      const std::string id = "wamid." + g + ".in" + std::to_string(++messages);
      out.push_back(event(ev::message(g, id, who, next(), "text " + id)));
      joined[who] = true;
    } else if (what < 72) {
      if (!host_can_act || !created) continue;  // the business messages only a group it has
      const std::string id = "wamid." + g + ".out" + std::to_string(++messages);
      out.push_back(host(outbound_call(tid, id, agent, next())));
      if (rng.chance(30)) out.push_back(event(ev::status(g, id, DeliveryStatus::sent, next())));
      for (const auto& phone : phones) {
        if (!joined[phone]) continue;
        const int steps = static_cast<int>(rng.range(0, 3));
        const DeliveryStatus order[] = {DeliveryStatus::sent, DeliveryStatus::delivered, DeliveryStatus::read};
        for (int k = 0; k < steps; ++k) out.push_back(event(ev::status(g, id, order[k], next(), phone)));
        if (rng.chance(10)) out.push_back(event(ev::status(g, id, DeliveryStatus::failed, next(), phone)));
      }
    } else if (what < 78) {
      out.push_back(event(ev::subject_changed(g, "Renamed " + std::to_string(i), next(), rng.chance(80))));
    } else if (what < 84) {
      out.push_back(event(rng.chance(50) ? WebhookEvent(suspended(g, next())) : WebhookEvent(cleared(g, next()))));
    } else if (what < 94) {
      if (!host_can_act) continue;
      out.push_back(host(ticket_call(HostCall::Kind::resolve, tid, next())));
    } else if (what < 97) {
      if (!host_can_act) continue;
      out.push_back(host(ticket_call(HostCall::Kind::close, tid, next())));
    } else {
      out.push_back(event(ev::deleted(g, next())));
      return;
    }
  }
}

Stream random_stream(std::uint64_t seed) {
  ScenarioRng rng(seed);
  Stream s;
  s.policy.auto_resolve_after = std::chrono::minutes(rng.chance(60) ? rng.range(10, 90) : 0);
  s.policy.auto_close_after = std::chrono::minutes(rng.chance(50) ? rng.range(10, 240) : 0);
  s.policy.reopen_on_inbound = rng.chance(70);
  std::int64_t t = kStart;
  const int groups = rng.chance(60) ? 1 : 2;
  // Lives one after the other: one clock, so every timestamp in the stream is unique.
  for (int n = 0; n < groups; ++n) group_life(rng, n, t, s.steps);
  s.end_time = rng.chance(80) ? t + rng.range(0, 6 * 3600) : 0;
  return s;
}

// Delivery -------------------------------------------------------------------------------------

/// A delivery: one host call, or a batch of events applied in one call.
struct Delivery {
  std::vector<std::size_t> steps;
};

std::vector<Delivery> in_order(const Stream& s) {
  std::vector<Delivery> plan;
  for (std::size_t i = 0; i < s.steps.size(); ++i) plan.push_back(Delivery{{i}});
  return plan;
}

/// Each event 1-3 times, each copy displaced by up to `reach` steps either way; host calls keep
/// their places; runs of events go in batches of 1-4.
std::vector<Delivery> shuffled(const Stream& s, std::uint64_t seed, std::int64_t reach) {
  ScenarioRng rng(seed * 7919 + 13);
  std::vector<std::pair<std::int64_t, std::size_t>> order;  // (position * 16 + jitter, step)
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    const std::int64_t base = static_cast<std::int64_t>(i) * 16;
    if (s.steps[i].host) {
      order.emplace_back(base, i);
      continue;
    }
    const std::int64_t copies = rng.range(1, 3);
    for (std::int64_t c = 0; c < copies; ++c) order.emplace_back(base + rng.range(-reach * 16, reach * 16) + 1, i);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Delivery> plan;
  for (const auto& [pos, i] : order) {
    const bool start = s.steps[i].host || plan.empty() || s.steps[plan.back().steps.front()].host ||
                       plan.back().steps.size() >= static_cast<std::size_t>(rng.range(1, 4));
    if (start) plan.push_back(Delivery{});
    plan.back().steps.push_back(i);
  }
  return plan;
}

struct Run {
  std::map<std::string, Ticket> tickets;
  std::map<std::string, ExpectedTicket> expected;
  std::string problem;  // empty when every delivery went as the oracle said
};

std::size_t count_kind(const ApplyOutcome& o, TicketChangeKind kind) {
  return static_cast<std::size_t>(
      std::count_if(o.changes.begin(), o.changes.end(), [&](const TicketChange& c) { return c.kind == kind; }));
}

Run run(const Stream& s, const std::vector<Delivery>& plan) {
  Run out;
  InMemoryTicketStore store;
  std::int64_t now = kStart;
  TicketAggregator tickets(store, s.policy,
                           [&now] { return std::chrono::system_clock::time_point(std::chrono::seconds(now)); });
  TicketOracle oracle(s.policy);
  std::size_t delivery_no = 0;
  for (const auto& d : plan) {
    ++delivery_no;
    const Step& first = s.steps[d.steps.front()];
    if (first.host) {
      const HostCall& c = first.call;
      now = c.at;
      oracle.call(c);
      Result<ApplyOutcome> done = ApplyOutcome{};
      switch (c.kind) {
        case HostCall::Kind::open_ticket:
          done = tickets.open_ticket({c.request_id, TicketOracle::kPhoneNumberId, c.assignee, c.subject, c.at});
          break;
        case HostCall::Kind::record_outbound:
          done = tickets.record_outbound(c.ticket_id, c.message_id, "text", c.text, c.agent);
          break;
        case HostCall::Kind::resolve: done = tickets.resolve(c.ticket_id); break;
        case HostCall::Kind::close: done = tickets.close(c.ticket_id); break;
      }
      if (!done) {
        out.problem = "host call " + std::to_string(delivery_no) + " failed: " + done.error().to_string();
        return out;
      }
      continue;
    }
    std::vector<WebhookEvent> batch;
    std::size_t duplicates = 0;
    for (std::size_t i : d.steps) {
      batch.push_back(s.steps[i].event);
      if (!oracle.deliver(s.steps[i].event)) ++duplicates;
    }
    auto applied = batch.size() == 1 ? tickets.apply(batch.front()) : tickets.apply(batch);
    if (!applied) {
      out.problem = "delivery " + std::to_string(delivery_no) + " failed: " + applied.error().to_string();
      return out;
    }
    const std::size_t ignored = count_kind(*applied, TicketChangeKind::duplicate_ignored);
    if (ignored != duplicates) {
      out.problem = "delivery " + std::to_string(delivery_no) + ": " + std::to_string(ignored) +
                    " duplicate_ignored, the oracle expects " + std::to_string(duplicates);
      return out;
    }
  }
  if (s.end_time != 0) {
    auto ticked = tickets.tick(std::chrono::system_clock::time_point(std::chrono::seconds(s.end_time)));
    if (!ticked) {
      out.problem = "tick failed: " + ticked.error().to_string();
      return out;
    }
  }
  TicketQuery all;
  all.limit = std::numeric_limits<std::size_t>::max();
  auto listed = store.list(all);
  if (!listed) {
    out.problem = "list failed: " + listed.error().to_string();
    return out;
  }
  for (auto& st : *listed) out.tickets.emplace(st.ticket.ticket_id, std::move(st.ticket));
  out.expected = oracle.expected(s.end_time);
  return out;
}

/// The first difference between a stored ticket and the oracle's, as text ("" when none).
template <typename A, typename B>
void differ(std::ostringstream& out, const char* what, const A& got, const B& want) {
  if (!(got == want)) out << what << " differs; ";
}
std::string opt_text(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "unset"; }

std::string compare(const Ticket& got, const ExpectedTicket& want) {
  std::ostringstream d;
  differ(d, "group_id", got.group_id, want.group_id);
  differ(d, "request_id", got.request_id, want.request_id);
  differ(d, "phone_number_id", got.phone_number_id, want.phone_number_id);
  differ(d, "subject", got.subject, want.subject);
  differ(d, "subject_changed_at", got.subject_changed_at, want.subject_changed_at);
  differ(d, "assignee", got.assignee, want.assignee);
  differ(d, "opened_by_host", got.opened_by_host, want.opened_by_host);
  differ(d, "invite_link", got.invite_link, want.invite_link);
  if (got.state != want.state) d << "state " << to_string(got.state) << " (oracle: " << to_string(want.state) << "); ";
  differ(d, "group_created", got.group_created, want.group_created);
  differ(d, "suspended", got.suspended, want.suspended);
  differ(d, "suspension_changed_at", got.suspension_changed_at, want.suspension_changed_at);
  differ(d, "group_deleted", got.group_deleted, want.group_deleted);
  differ(d, "deleted_at", got.deleted_at, want.deleted_at);
  differ(d, "creation_errors", got.creation_errors.size(), want.creation_error_count);
  differ(d, "created_at", got.created_at, want.created_at);
  differ(d, "first_join_at", got.first_join_at, want.first_join_at);
  differ(d, "last_activity_at", got.last_activity_at, want.last_activity_at);
  differ(d, "last_inbound_at", got.last_inbound_at, want.last_inbound_at);
  if (got.resolved_at != want.resolved_at)
    d << "resolved_at " << opt_text(got.resolved_at) << " (oracle: " << opt_text(want.resolved_at) << "); ";
  if (got.closed_at != want.closed_at)
    d << "closed_at " << opt_text(got.closed_at) << " (oracle: " << opt_text(want.closed_at) << "); ";
  differ(d, "invites", got.invites.size(), std::size_t{0});
  if (got.members.size() != want.members.size()) {
    d << "members: " << got.members.size() << " (oracle: " << want.members.size() << "); ";
  } else {
    for (std::size_t i = 0; i < got.members.size(); ++i) {
      const Member& g = got.members[i];
      const auto& w = want.members[i];
      d << (g.person.phone != w.phone || g.person.bsuid ? "member " + w.phone + " identity; " : "");
      if (g.status != w.status || g.status_since != w.status_since)
        d << "member " << w.phone << " " << to_string(g.status) << "@" << g.status_since
          << " (oracle: " << to_string(w.status) << "@" << w.status_since << "); ";
      differ(d, "member first_joined_at", g.first_joined_at, w.first_joined_at);
    }
  }
  if (got.timeline.size() != want.timeline.size()) {
    d << "timeline: " << got.timeline.size() << " messages (oracle: " << want.timeline.size() << "); ";
  } else {
    for (std::size_t i = 0; i < got.timeline.size(); ++i) {
      const TimelineMessage& g = got.timeline[i];
      const auto& w = want.timeline[i];
      std::ostringstream m;
      differ(m, "id", g.message_id, w.message_id);
      differ(m, "direction", g.direction, w.direction);
      differ(m, "timestamp", g.timestamp, w.timestamp);
      differ(m, "sender", g.sender.phone, w.sender_phone);
      differ(m, "type", g.type, w.type);
      differ(m, "text", g.text, w.text);
      differ(m, "agent", g.agent, w.agent);
      differ(m, "delivery", g.delivery, w.delivery);
      differ(m, "group_status", g.group_status, w.group_status);
      differ(m, "errors", g.errors.size(), w.error_count);
      if (!m.str().empty()) d << "message " << w.message_id << ": " << m.str();
    }
  }
  return d.str();
}

/// Every difference between a run's store and its oracle ("" when they agree).
std::string disagreements(const Run& r) {
  if (!r.problem.empty()) return r.problem + "\n";
  std::ostringstream out;
  for (const auto& [id, want] : r.expected) {
    auto it = r.tickets.find(id);
    if (it == r.tickets.end()) {
      out << id << ": missing from the store\n";
      continue;
    }
    const std::string d = compare(it->second, want);
    if (!d.empty()) out << id << ": " << d << "\n";
  }
  for (const auto& [id, t] : r.tickets)
    if (!r.expected.count(id)) out << id << ": in the store, not in the oracle (" << to_string(t.state) << ")\n";
  return out.str();
}

std::string describe(const Stream& s) {
  std::ostringstream out;
  out << "policy resolve " << s.policy.auto_resolve_after.count() << " min, close " << s.policy.auto_close_after.count()
      << " min, reopen " << s.policy.reopen_on_inbound << "; tick " << s.end_time << "\n";
  for (const auto& st : s.steps) {
    if (st.host) {
      out << "  host " << static_cast<int>(st.call.kind) << " " << st.call.ticket_id << st.call.request_id << " "
          << st.call.message_id << " at " << st.call.at << "\n";
    } else {
      out << "  event " << event_key(st.event).value_or("-") << "\n";
    }
  }
  return out.str();
}

}  // namespace

TEST_CASE("issue13 oracle: random group lives in order, shuffled and duplicated match the documented rules",
          "[issue13][tickets][oracle]") {
  const auto count = static_cast<std::uint64_t>(wagroups_test::env_number({"WAGROUPS_ORACLE_SCENARIOS"}, 1500));
  const std::uint64_t first = wagroups_test::env_number({"WAGROUPS_ORACLE_SEED"}, 20261202);
  std::map<std::string, int> covered;
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    const Stream s = random_stream(seed);
    for (const auto& [name, plan] :
         {std::make_pair("in order", in_order(s)), std::make_pair("shuffled", shuffled(s, seed, 3)),
          std::make_pair("shuffled far", shuffled(s, seed + 1, 12))}) {
      const Run r = run(s, plan);
      const std::string d = disagreements(r);
      if (!d.empty()) {
        UNSCOPED_INFO("seed " << seed << ", " << name << ":\n" << d << describe(s));
        REQUIRE(d.empty());
      }
      for (const auto& [id, t] : r.expected) ++covered[to_string(t.state)];
    }
  }
  // The streams reach every state the oracle models.
  for (const char* state :
       {"unlinked", "create_requested", "creation_failed", "awaiting_first_join", "open", "resolved", "closed"}) {
    INFO(state);
    CHECK(covered[state] > 0);
  }
}

// Hand-built streams ------------------------------------------------------------------------------

namespace {

/// Events in reverse (host calls keep their places), then every event twice in a row.
std::vector<Delivery> reversed(const Stream& s) {
  std::vector<std::size_t> events;
  for (std::size_t i = 0; i < s.steps.size(); ++i)
    if (!s.steps[i].host) events.push_back(i);
  std::vector<Delivery> plan;
  std::size_t next_event = events.size();
  for (std::size_t i = 0; i < s.steps.size(); ++i)
    plan.push_back(Delivery{{s.steps[i].host ? i : events[--next_event]}});
  return plan;
}
std::vector<Delivery> doubled(const Stream& s) {
  std::vector<Delivery> plan;
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    plan.push_back(Delivery{{i}});
    if (!s.steps[i].host) plan.push_back(Delivery{{i, i}});  // again, and twice in one batch
  }
  return plan;
}

/// Runs `s` in order, reversed and doubled; each must agree with the oracle. Returns the in-order
/// run's tickets for the story's own checks.
std::map<std::string, Ticket> check_story(const Stream& s) {
  std::map<std::string, Ticket> first;
  for (const auto& [name, plan] : {std::make_pair("in order", in_order(s)), std::make_pair("reversed", reversed(s)),
                                   std::make_pair("doubled", doubled(s))}) {
    const Run r = run(s, plan);
    const std::string d = disagreements(r);
    INFO(name << "\n" << d << describe(s));
    CHECK(d.empty());
    if (first.empty()) first = r.tickets;
  }
  return first;
}

}  // namespace

TEST_CASE("issue13 oracle: a group's early events wait on G- and join the agent's ticket",
          "[issue13][tickets][oracle]") {
  Stream s;
  const std::int64_t t = kStart;
  s.steps.push_back(host(open_call("req-A", "agent-7", "Order 7", t)));
  s.steps.push_back(event(ev::message("gA", "wamid.in1", "16505550101", t + 5)));
  s.steps.push_back(event(ev::created("gA", std::string("req-A"), t + 10)));
  s.steps.push_back(host(outbound_call("T-req-A", "wamid.out1", "agent-7", t + 20)));
  s.steps.push_back(event(ev::status("gA", "wamid.out1", DeliveryStatus::delivered, t + 30, "16505550101")));
  s.steps.push_back(event(ev::status("gA", "wamid.out1", DeliveryStatus::sent, t + 25, "16505550101")));
  s.steps.push_back(event(ev::status("gA", "wamid.out1", DeliveryStatus::failed, t + 35, "16505550101")));
  auto got = check_story(s);
  REQUIRE(got.count("T-req-A") == 1);
  CHECK(got.count("G-gA") == 0);
  const Ticket& ticket = got["T-req-A"];
  CHECK(ticket.assignee == std::optional<std::string>("agent-7"));
  CHECK(ticket.state == TicketState::open);
  REQUIRE(ticket.timeline.size() == 2);
  CHECK(ticket.timeline[1].delivery.at("phone:16505550101") == DeliveryStatus::delivered);  // failed is behind
}

TEST_CASE("issue13 oracle: a removal stands when the add arrives after it; deletion closes",
          "[issue13][tickets][oracle]") {
  Stream s;
  const std::int64_t t = kStart;
  s.steps.push_back(event(ev::created("gB", std::string("req-B"), t)));
  s.steps.push_back(event(ev::added("gB", {ev::person("16505550102")}, t + 10)));
  s.steps.push_back(event(ev::removed("gB", {ev::person("16505550102")}, t + 20, RemovalInitiator::participant)));
  s.steps.push_back(event(ev::deleted("gB", t + 30)));
  auto got = check_story(s);
  const Ticket& ticket = got["T-req-B"];
  REQUIRE(ticket.members.size() == 1);
  CHECK(ticket.members[0].status == MemberStatus::left);
  CHECK(ticket.state == TicketState::closed);
  CHECK(ticket.closed_at == std::optional<std::int64_t>(t + 30));
  CHECK_FALSE(ticket.assignee);
}

TEST_CASE("issue13 oracle: an inbound message after a resolve reopens only when the policy says so",
          "[issue13][tickets][oracle]") {
  for (const bool reopen : {true, false}) {
    Stream s;
    s.policy.reopen_on_inbound = reopen;
    const std::int64_t t = kStart;
    s.steps.push_back(host(open_call("req-C", "agent-1", "Order C", t)));
    s.steps.push_back(event(ev::created("gC", std::string("req-C"), t + 1)));
    s.steps.push_back(event(ev::message("gC", "wamid.c1", "16505550103", t + 2)));
    s.steps.push_back(host(ticket_call(HostCall::Kind::resolve, "T-req-C", t + 3)));
    s.steps.push_back(event(ev::message("gC", "wamid.c2", "16505550103", t + 4)));
    auto got = check_story(s);
    INFO("reopen_on_inbound " << reopen);
    CHECK(got["T-req-C"].state == (reopen ? TicketState::open : TicketState::resolved));
  }
}

TEST_CASE("issue13 oracle: a failed create, a create never seen, and the idle policy", "[issue13][tickets][oracle]") {
  Stream s;
  s.policy.auto_resolve_after = std::chrono::minutes(30);
  s.policy.auto_close_after = std::chrono::minutes(60);
  const std::int64_t t = kStart;
  s.steps.push_back(host(open_call("req-F", "agent-2", "Order F", t)));
  s.steps.push_back(event(ev::create_failed("req-F", t + 1)));
  s.steps.push_back(host(open_call("req-D", "agent-3", "Order D", t + 2)));
  s.steps.push_back(event(ev::message("gD", "wamid.d1", "16505550104", t + 3)));
  s.steps.push_back(event(ev::created("gE", std::string("req-E"), t + 4)));
  s.steps.push_back(event(ev::added("gE", {ev::person("16505550105")}, t + 5)));
  s.end_time = t + 5 + 30 * 60 + 60 * 60;  // idle 30 min, then resolved an hour: closed
  auto got = check_story(s);
  CHECK(got["T-req-F"].state == TicketState::creation_failed);
  CHECK(got["T-req-D"].state == TicketState::create_requested);
  CHECK(got["G-gD"].state == TicketState::unlinked);
  CHECK(got["T-req-E"].state == TicketState::closed);
  CHECK(got["T-req-E"].closed_at == std::optional<std::int64_t>(t + 4 + 90 * 60));  // idle from its creation
}
