// Issue 13 item 4: the PostgreSQL server killed in the middle of a unit of work. The crash test's
// stream (tests/sqlite/crash_stream.hpp) is applied batch by batch; at a few batches the journal's
// hook restarts the server with `pg_ctl restart -m immediate` (SIGQUIT to the postmaster: every
// backend dies at once, no shutdown checkpoint, as in a crash; then recovery) from inside `work`,
// so the unit's transaction is open and its reads done. Once the server is back: the apply
// returned ErrorCode::storage, the schema holds nothing of the unit (compared with an in-memory
// oracle fed only acknowledged batches), and the redelivery applies it exactly once (the journal,
// written in the same transaction, counts each key).
//
// [restart]: it stops the shared test server, so it runs alone (RUN_SERIAL, tests/postgres/CMakeLists.txt).

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include <catch2/catch_test_macros.hpp>

#include "../sqlite/crash_stream.hpp"
#include "postgres_test_support.hpp"

using namespace wagroups;
using wagroups_crash::same_contents;

namespace {

wagroups_crash::StoreContents contents_of(TicketStore& store) {
  auto contents = wagroups_crash::read_contents(store);
  if (!contents) FAIL("read the store: " << contents.error().to_string());
  return std::move(*contents);
}

}  // namespace

TEST_CASE(
    "issue13 PostgreSQL killed mid-unit: the unit fails whole, nothing acknowledged is lost, the redelivery "
    "applies once",
    "[postgres][issue13][restart]") {
  const std::string url = wagroups_test::postgres_url();
  const char* dir_env = std::getenv("WAGROUPS_TEST_POSTGRES_DIR");
  if (dir_env == nullptr || *dir_env == '\0')
    SKIP("WAGROUPS_TEST_POSTGRES_DIR is not set: no test server of cmake/postgres-test-server.sh to stop");
  if (::geteuid() != 0) SKIP("not root: stopping the test server needs runuser to its owner (the CI runs as root)");
  const std::string dir = dir_env;

  const auto stream = wagroups_crash::make_crash_stream(wagroups_crash::kDefaultSeed);
  const std::string schema = wagroups_test::fresh_schema("kill");
  auto store = wagroups_test::open_postgres(url, schema);
  wagroups_crash::JournalingStore journal(*store, "run");
  std::int64_t now = 0;
  TicketAggregator tickets(journal, stream.policy, [&now] { return wagroups_crash::at_seconds(now); });

  InMemoryTicketStore memory;
  wagroups_crash::JournalingStore oracle_journal(memory, "oracle");
  std::int64_t oracle_now = 0;
  TicketAggregator oracle(oracle_journal, stream.policy,
                          [&oracle_now] { return wagroups_crash::at_seconds(oracle_now); });

  const std::size_t total = stream.batches.size();
  constexpr std::size_t kKills = 3;
  std::size_t kills = 0;
  for (std::size_t b = 0; b < total; ++b) {
    INFO("batch " << b);
    const auto& batch = stream.batches[b];
    for (const auto& action : batch.actions) {
      REQUIRE(wagroups_crash::run_action(oracle, oracle_now, action));
      REQUIRE(wagroups_crash::run_action(tickets, now, action));
    }
    if (batch.events.empty()) continue;
    const bool target = kills < kKills && b >= (kills + 1) * total / (kKills + 1);
    if (!target) {
      REQUIRE(oracle.apply(batch.events));
      REQUIRE(tickets.apply(batch.events));
      continue;
    }
    const auto before = contents_of(memory);
    REQUIRE(oracle.apply(batch.events));
    const auto after = contents_of(memory);
    REQUIRE_FALSE(same_contents(before, after));

    // Killed and started again (with its own options, from postmaster.opts) before the unit goes on.
    int restart_status = -1;
    journal.before_commit = [&] {
      restart_status = wagroups_test::pg_ctl(dir, "-m immediate -w -t 60 restart", "kill");
    };
    auto applied = tickets.apply(batch.events);
    journal.before_commit = nullptr;
    REQUIRE(restart_status == 0);
    ++kills;

    REQUIRE_FALSE(applied);
    INFO(applied.error().to_string());
    CHECK(applied.error().code == ErrorCode::storage);
    // Nothing of the unit, through the store (its pool reconnects) and through a fresh one.
    CHECK(same_contents(contents_of(*store), before));
    {
      auto fresh = wagroups_test::open_postgres(url, schema);
      CHECK(same_contents(contents_of(*fresh), before));
    }
    // The redelivery, with the server back: applied once.
    auto again = tickets.apply(batch.events);
    INFO((again ? std::string() : again.error().to_string()));
    REQUIRE(again);
    CHECK(same_contents(contents_of(*store), after));
  }
  REQUIRE(kills == kKills);
  REQUIRE(oracle.tick(wagroups_crash::at_seconds(stream.end_time)));
  REQUIRE(tickets.tick(wagroups_crash::at_seconds(stream.end_time)));

  const auto expected = contents_of(memory);
  auto fresh = wagroups_test::open_postgres(url, schema);
  const auto actual = contents_of(*fresh);
  CHECK(same_contents(expected, actual));
  const auto violations = wagroups_crash::exactly_once_violations(expected.key_counts, actual.key_counts);
  INFO(violations.size() << " violations, first: " << (violations.empty() ? std::string() : violations.front()));
  CHECK(violations.empty());
  (void)wagroups_test::psql(url, "DROP SCHEMA " + schema + " CASCADE");
}
