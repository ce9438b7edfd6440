// The acceptance property of issue 4 for InMemoryTicketStore: seeded, reproducible randomized
// group lives whose events are delivered 1-3 times each, displaced and batched, end in tickets
// equal to those of one in-order delivery (generator and runner: tests/support/ticket_scenarios.hpp).
//
// WAGROUPS_TICKET_SCENARIOS=<n> and WAGROUPS_TICKET_SEED=<s> override the count and the first
// seed (a failure prints the seed; run that one with WAGROUPS_TICKET_SCENARIOS=1).

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <catch2/catch_test_macros.hpp>

#include "env_number.hpp"
#include "ticket_scenarios.hpp"
#include "wagroups/tickets.hpp"

using namespace wagroups;
using wagroups_test::env_number;

namespace {

#if defined(WAGROUPS_TEST_SANITIZED)
// ASan+UBSan builds run about 7x slower: 10,000 scenarios take over a minute there.
constexpr std::size_t kDefaultScenarios = 5000;
#else
constexpr std::size_t kDefaultScenarios = 10000;
#endif
constexpr std::uint64_t kDefaultSeed = 20260401;

}  // namespace

TEST_CASE("tickets converge under duplicated, displaced and batched delivery (in memory)", "[tickets][property]") {
  const std::size_t count = static_cast<std::size_t>(env_number({"WAGROUPS_TICKET_SCENARIOS"}, kDefaultScenarios));
  const std::uint64_t seed = env_number({"WAGROUPS_TICKET_SEED"}, kDefaultSeed);
  const auto started = std::chrono::steady_clock::now();
  const auto report = wagroups_test::run_ticket_property(
      [] { return std::make_unique<InMemoryTicketStore>(false); },
      // Both store configurations under test, alternating.
      [](std::uint64_t s) { return std::make_unique<InMemoryTicketStore>(s % 2 == 0); }, count, seed);
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  UNSCOPED_INFO("first seed " << seed << ": " << report.summary() << " in " << seconds << " s");
  REQUIRE_FALSE(report.failure);
  CHECK(report.scenarios == count);
  CHECK(report.deliveries > report.events);  // duplicates were delivered
}

TEST_CASE("the scenario generator is deterministic and covers what the property is about", "[tickets][property]") {
  // Same seed, same scenario.
  const auto a = wagroups_test::make_ticket_scenario(77);
  const auto b = wagroups_test::make_ticket_scenario(77);
  REQUIRE(a.steps.size() == b.steps.size());
  for (std::size_t i = 0; i < a.steps.size(); ++i) {
    CHECK(a.steps[i].is_event == b.steps[i].is_event);
    if (a.steps[i].is_event) {
      CHECK(event_key(a.steps[i].event) == event_key(b.steps[i].event));
    } else {
      CHECK(a.steps[i].action.at == b.steps[i].action.at);
    }
  }

  // Over a few hundred scenarios the in-order runs reach every state, merged identities, stubs,
  // fragments left unlinked, invites with statuses, and the shuffled plans really reorder.
  std::set<TicketState> states;
  std::map<std::string, int> seen;
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    const auto s = wagroups_test::make_ticket_scenario(seed);
    InMemoryTicketStore store(false);
    REQUIRE_FALSE(wagroups_test::run_plan(store, s, wagroups_test::in_order_plan(s)));
    auto all = wagroups_test::all_tickets(store);
    REQUIRE(all);
    for (const auto& st : *all) {
      const Ticket& t = st.ticket;
      states.insert(t.state);
      if (t.ticket_id.rfind("G-", 0) == 0 && !t.group_created) ++seen["unlinked fragment"];
      if (t.suspended) ++seen["suspended"];
      for (const auto& m : t.members) {
        if (m.person.phone && m.person.bsuid) ++seen["phone+bsuid member"];
        if (m.status == MemberStatus::left || m.status == MemberStatus::removed) ++seen["gone member"];
        if (m.join_request_id) ++seen["join request"];
      }
      for (const auto& i : t.invites)
        if (i.status != DeliveryStatus::unknown) ++seen["invite status"];
      for (const auto& m : t.timeline) {
        if (m.direction == MessageDirection::outbound && m.type.empty()) ++seen["stub"];
        if (m.direction == MessageDirection::outbound && !m.delivery.empty()) ++seen["delivery"];
      }
    }
    const auto plan = wagroups_test::shuffled_plan(s, seed);
    std::size_t last = 0;
    bool reordered = false;
    for (const auto& d : plan)
      for (std::size_t i : d.steps) {
        if (i < last) reordered = true;
        last = i;
      }
    if (reordered) ++seen["reordered plan"];
  }
  for (auto state : {TicketState::unlinked, TicketState::creation_failed, TicketState::awaiting_first_join,
                     TicketState::open, TicketState::resolved, TicketState::closed}) {
    INFO(to_string(state));
    CHECK(states.count(state) == 1);
  }
  for (const char* what : {"unlinked fragment", "suspended", "phone+bsuid member", "gone member", "join request",
                           "invite status", "stub", "delivery", "reordered plan"}) {
    INFO(what);
    CHECK(seen[what] > 0);
  }
}
