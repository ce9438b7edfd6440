// The acceptance property of issue 4 for SqliteTicketStore: the randomized group lives of
// tests/support/ticket_scenarios.hpp, delivered 1-3 times each, displaced and batched, end in the
// same tickets as one in-order delivery to the in-memory store.
//
// This tests the store's logic (units, lookups, dedupe keys, the ticket cache, the JSON round
// trip), not durability: the databases are in memory (":memory:", the same SQL and transactions
// without a file), and every 100th is a WAL file with Durability::normal in a scratch directory
// (a fresh file per scenario costs a few fsyncs at creation and close; the crash test covers
// durability). Half the scenarios run without the ticket cache, so each fetch decodes the row.
//
// WAGROUPS_SQLITE_SCENARIOS=<n> (else WAGROUPS_TICKET_SCENARIOS) and WAGROUPS_TICKET_SEED=<s>
// override the count and the first seed; a failure prints its seed.

#include "sqlite_test_support.hpp"

#include "env_number.hpp"
#include "ticket_scenarios.hpp"

#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

using namespace wagroups;
using wagroups_test::env_number;

namespace {

#if defined(WAGROUPS_TEST_SANITIZED)
// ASan+UBSan builds run several times slower: fewer scenarios keep the suite near a minute there.
constexpr std::size_t kDefaultScenarios = 1000;
#else
constexpr std::size_t kDefaultScenarios = 10000;
#endif
constexpr std::uint64_t kDefaultSeed = 20260401;
constexpr std::uint64_t kFileEvery = 100;

}  // namespace

TEST_CASE("tickets converge under duplicated, displaced and batched delivery (SQLite)", "[sqlite][property]") {
  const auto count = static_cast<std::size_t>(
      env_number({"WAGROUPS_SQLITE_SCENARIOS", "WAGROUPS_TICKET_SCENARIOS"}, kDefaultScenarios));
  const std::uint64_t seed = env_number({"WAGROUPS_TICKET_SEED"}, kDefaultSeed);
  wagroups_sqlite_test::TempDir dir;
  SqliteOptions options;
  options.durability = SqliteOptions::Durability::normal;
  std::string open_failure;

  const auto started = std::chrono::steady_clock::now();
  const auto report = wagroups_test::run_ticket_property(
      [] { return std::make_unique<InMemoryTicketStore>(false); },
      [&](std::uint64_t s) -> std::unique_ptr<TicketStore> {
        // Half the scenarios without the ticket cache: every fetch then decodes the stored JSON.
        SqliteOptions these = options;
        if (s % 2 == 0) these.ticket_cache_bytes = 0;
        const std::string path =
            s % kFileEvery == 0 ? dir.file("scenario-" + std::to_string(s) + ".db") : std::string(":memory:");
        auto opened = SqliteTicketStore::open(path, these);
        if (!opened) {
          open_failure = opened.error().to_string();
          return nullptr;
        }
        return std::move(*opened);
      },
      count, seed);
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  UNSCOPED_INFO("first seed " << seed << ": " << report.summary() << " in " << seconds << " s");
  INFO(open_failure);
  REQUIRE_FALSE(report.failure);
  CHECK(report.scenarios == count);
  CHECK(report.deliveries > report.events);  // duplicates were delivered
}
