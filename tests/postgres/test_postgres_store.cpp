// PostgresTicketStore against a running server. The connection string comes from
// WAGROUPS_TEST_POSTGRES_URL (cmake/run-tests.sh starts a throwaway server); without it every
// test is skipped with the reason. Each test works in a schema of its own, since ctest runs tests
// in parallel against one server.

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "env_number.hpp"
#include "postgres_test_support.hpp"
#include "ticket_scenarios.hpp"
#include "wagroups/postgres/ticket_store.hpp"
#include "wagroups/tickets.hpp"

using namespace wagroups;
using wagroups_test::fresh_schema;

namespace {

std::string server_url() { return wagroups_test::postgres_url(); }

std::unique_ptr<PostgresTicketStore> open_store(const std::string& url, const std::string& schema) {
  return wagroups_test::open_postgres(url, schema);
}

Ticket make_ticket(const std::string& id, const std::string& subject) {
  Ticket t;
  t.ticket_id = id;
  t.group_id = "G-" + id;
  t.subject = subject;
  t.created_at = 1700000000;
  t.last_activity_at = 1700000000;
  return t;
}

Result<void> insert(TicketStore& store, Ticket t) {
  return store.transact([&](TicketTransaction& tx) -> Result<void> {
    auto done = tx.insert(t);
    if (!done) return done.error();
    return {};
  });
}

/// The subject a unit sees (the unit's fetch, where the connection's cache may answer).
std::optional<std::string> subject_in_unit(TicketStore& store, const std::string& id) {
  std::optional<std::string> subject;
  REQUIRE(store.transact([&](TicketTransaction& tx) -> Result<void> {
    auto ticket = tx.edit(id);
    if (!ticket) return ticket.error();
    if (*ticket != nullptr) subject = (*ticket)->subject;
    return {};
  }));
  return subject;
}

Result<void> set_subject(TicketStore& store, const std::string& id, const std::string& subject) {
  return store.transact([&](TicketTransaction& tx) -> Result<void> {
    auto ticket = tx.edit(id);
    if (!ticket) return ticket.error();
    (*ticket)->subject = subject;
    return {};
  });
}

DeadLetter letter(std::string body, std::int64_t at = 1760000000) {
  DeadLetter d;
  d.received_at = at;
  d.body = std::move(body);
  d.error = Error::malformed_webhook("entry[0].changes", "an array of objects",
                                     "webhook body: entry[0].changes is not an array of objects");
  return d;
}

}  // namespace

TEST_CASE("issue12: the store gives the same tickets as the in-memory store, scenario by scenario",
          "[postgres][issue12]") {
  const std::string url = server_url();
  const auto scenarios = wagroups_test::env_number({"WAGROUPS_POSTGRES_SCENARIOS"}, 40);
  for (std::uint64_t seed = 1; seed <= scenarios; ++seed) {
    INFO("scenario seed " << seed);
    const auto s = wagroups_test::make_ticket_scenario(seed);
    const auto plan = wagroups_test::shuffled_plan(s, seed);
    InMemoryTicketStore memory;
    REQUIRE_FALSE(wagroups_test::run_plan(memory, s, plan));
    auto store = open_store(url, fresh_schema("seq"));
    REQUIRE_FALSE(wagroups_test::run_plan(*store, s, plan));
    CHECK_FALSE(wagroups_test::compare_stores(memory, *store));
  }
}

TEST_CASE("issue12: four receivers delivering one shuffled stream each converge on one in-order delivery",
          "[postgres][issue12][concurrent]") {
  // Each receiver has its own store (its own connections), as separate processes would; every
  // event reaches every receiver, in a different order. Units that meet in the database fail as
  // conflicts and are rerun by the aggregator; under READ COMMITTED this left duplicate fragment
  // tickets (why units are SERIALIZABLE).
  const std::string url = server_url();
  const auto scenarios = wagroups_test::env_number({"WAGROUPS_POSTGRES_SCENARIOS"}, 40);
  for (std::uint64_t seed = 100; seed < 100 + scenarios; ++seed) {
    INFO("scenario seed " << seed);
    const auto s = wagroups_test::make_ticket_scenario(seed);
    InMemoryTicketStore memory;
    REQUIRE_FALSE(wagroups_test::run_plan(memory, s, wagroups_test::in_order_plan(s)));
    const std::string schema = fresh_schema("multi");
    open_store(url, schema).reset();  // migrated once, before the receivers start
    std::atomic<int> failed{0};
    std::vector<std::thread> receivers;
    for (int r = 0; r < 4; ++r) {
      receivers.emplace_back([&, r] {
        PostgresOptions options;
        options.schema = schema;
        options.event_key_retention = std::chrono::seconds(0);
        auto store = PostgresTicketStore::open(url, options);
        if (!store) {
          ++failed;
          return;
        }
        const auto plan = wagroups_test::shuffled_plan(s, seed * 10 + static_cast<std::uint64_t>(r));
        // A delivery whose unit kept conflicting past the aggregator's retries is delivered again
        // (as Meta would after a non-200); everything delivered before is a duplicate by then.
        for (int attempt = 0;; ++attempt) {
          if (!wagroups_test::run_plan(**store, s, plan)) return;
          if (attempt == 20) {
            ++failed;
            return;
          }
        }
      });
    }
    for (auto& t : receivers) t.join();
    CHECK(failed.load() == 0);
    auto store = open_store(url, schema);
    CHECK_FALSE(wagroups_test::compare_stores(memory, *store));
  }
}

TEST_CASE("issue13: four threads applying one shuffled stream to one shared store apply each event once",
          "[postgres][issue13][concurrent]") {
  // One PostgresTicketStore (one connection pool) used by four threads at once, where the test
  // above gives each receiver its own store. Units that meet in the database fail as conflicts and
  // are rerun by the aggregator; a delivery still failing is delivered again, as Meta would.
  const std::string url = server_url();
  const auto scenarios = wagroups_test::env_number({"WAGROUPS_POSTGRES_SCENARIOS"}, 40);
  for (std::uint64_t seed = 1300; seed < 1300 + scenarios; ++seed) {
    auto shared = open_store(url, fresh_schema("shared"));
    const auto problem = wagroups_test::concurrent_apply_problem(*shared, seed, 4, /*attempts=*/20);
    INFO("scenario seed " << seed << ": " << problem.value_or("none"));
    CHECK_FALSE(problem);
  }
}

TEST_CASE("issue12: a bad schema name or an unreachable server is refused, and the password never shows",
          "[postgres][issue12]") {
  PostgresOptions options;
  options.schema = "Robert'); DROP TABLE tickets;--";
  auto bad = PostgresTicketStore::open("postgresql://wagroups@127.0.0.1:1/postgres", options);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ErrorCode::invalid_argument);

  auto down = PostgresTicketStore::open("postgresql://wagroups:s3cret-pw@127.0.0.1:1/postgres?connect_timeout=2");
  REQUIRE_FALSE(down);
  CHECK(down.error().code == ErrorCode::storage);
  CHECK(down.error().to_string().find("s3cret-pw") == std::string::npos);

  // libpq quotes what it could not parse or reach: a raw '%', an unclosed '[' or an unescaped '@'
  // in a password would put it, or part of it, into the error.
  const std::pair<const char*, const char*> leaky[] = {
      {"postgresql://app:pa%zzss@127.0.0.1:1/db?connect_timeout=2", "zzss"},
      {"postgresql://app:s3cret@[::1/db", "s3cret"},
      {"postgresql://app:p@ss-word@127.0.0.1:1/db?connect_timeout=2", "ss-word"},
      {"postgresql://app:pw/with-slash@127.0.0.1:1/db?connect_timeout=2", "with-slash"},
  };
  for (const auto& [uri, secret] : leaky) {
    INFO(uri);
    auto refused = PostgresTicketStore::open(uri);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == ErrorCode::storage);
    CHECK(refused.error().to_string().find(secret) == std::string::npos);
  }
}

TEST_CASE("issue12: a connection's cached ticket is never served once another receiver changed it",
          "[postgres][issue12][cache]") {
  const std::string url = server_url();
  const std::string schema = fresh_schema("cache");
  PostgresOptions one_connection;
  one_connection.schema = schema;
  one_connection.pool_size = 1;  // every unit of `a` on the connection whose cache it fills
  auto a = wagroups_test::open_postgres(url, one_connection);
  auto b = open_store(url, schema);

  REQUIRE(insert(*a, make_ticket("T-1", "first")));
  CHECK(subject_in_unit(*a, "T-1") == std::optional<std::string>("first"));  // cached in a's connection

  SECTION("an update by another receiver") {
    REQUIRE(set_subject(*b, "T-1", "from b"));
    CHECK(subject_in_unit(*a, "T-1") == std::optional<std::string>("from b"));
    REQUIRE(set_subject(*a, "T-1", "from a"));
    auto stored = b->load("T-1");
    REQUIRE(stored);
    REQUIRE(stored->has_value());
    CHECK((*stored)->ticket.subject == std::optional<std::string>("from a"));
    CHECK((*stored)->version == 3);
  }

  SECTION("erased and inserted again under the same id, at the same version") {
    REQUIRE(b->transact([](TicketTransaction& tx) { return tx.erase("T-1"); }));
    REQUIRE(insert(*b, make_ticket("T-1", "second life")));
    auto stored = b->load("T-1");
    REQUIRE(stored);
    REQUIRE(stored->has_value());
    REQUIRE((*stored)->version == 1);  // as the cached copy: only the row's xmin tells them apart
    CHECK(subject_in_unit(*a, "T-1") == std::optional<std::string>("second life"));
  }

  SECTION("erased by another receiver") {
    REQUIRE(b->transact([](TicketTransaction& tx) { return tx.erase("T-1"); }));
    CHECK(subject_in_unit(*a, "T-1") == std::nullopt);
  }

  SECTION("a failed unit's in-place change is not kept") {
    auto failed = a->transact([](TicketTransaction& tx) -> Result<void> {
      auto ticket = tx.edit("T-1");
      if (!ticket) return ticket.error();
      (*ticket)->subject = "uncommitted";
      return Error::invalid_argument("work", "", "the host's work failed");
    });
    REQUIRE_FALSE(failed);
    CHECK(subject_in_unit(*a, "T-1") == std::optional<std::string>("first"));
  }
}

TEST_CASE("issue12: dead letters round-trip byte for byte, newest first, and stay bounded",
          "[postgres][issue12][dead-letters]") {
  const std::string url = server_url();
  PostgresOptions options;
  options.schema = fresh_schema("letters");
  options.dead_letters.max_count = 3;
  options.dead_letters.max_total_bytes = 600;
  auto store = wagroups_test::open_postgres(url, options);

  std::string bytes;  // every byte value, NUL and invalid UTF-8 included: the body is bytea
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  std::vector<std::int64_t> ids;
  for (const std::string& body : {std::string("first"), bytes, std::string()}) {
    auto id = store->add_dead_letter(letter(body));
    REQUIRE(id);
    ids.push_back(*id);
  }
  auto all = store->dead_letters({});
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  CHECK(all->at(0).id == ids[2]);
  CHECK(all->at(0).body.empty());
  CHECK(all->at(1).body == bytes);
  CHECK(all->at(2).body == "first");
  const DeadLetter& d = all->at(1);
  CHECK(d.received_at == 1760000000);
  CHECK(d.error.code == ErrorCode::decode);
  CHECK(d.error.field == "entry[0].changes");
  CHECK(d.error.limit == "an array of objects");
  CHECK(d.error.message == "webhook body: entry[0].changes is not an array of objects");

  DeadLetterQuery older;
  older.before_id = ids[2];
  older.limit = 1;
  auto page = store->dead_letters(older);
  REQUIRE(page);
  REQUIRE(page->size() == 1);
  CHECK(page->front().id == ids[1]);

  // A fourth letter: past max_count, the oldest goes.
  auto fourth = store->add_dead_letter(letter("fourth"));
  REQUIRE(fourth);
  all = store->dead_letters({});
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  CHECK(all->back().id == ids[1]);
  // One of 500 bytes: 500 + 6 + 0 fit in 600, the 256 of `bytes` after them do not (nor in 3 letters).
  auto big = store->add_dead_letter(letter(std::string(500, 'x')));
  REQUIRE(big);
  all = store->dead_letters({});
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  CHECK(all->front().id == *big);
  CHECK(all->back().body.empty());
  // The newest is kept whatever its size.
  auto huge = store->add_dead_letter(letter(std::string(5000, 'y')));
  REQUIRE(huge);
  all = store->dead_letters({});
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK(all->front().body.size() == 5000);

  auto erased = store->erase_dead_letter(*huge);
  REQUIRE(erased);
  CHECK(*erased);
  auto again = store->erase_dead_letter(*huge);
  REQUIRE(again);
  CHECK_FALSE(*again);
  CHECK(store->dead_letters({})->empty());
}

TEST_CASE("issue12: a value PostgreSQL text cannot hold is refused, and nothing of its unit is stored",
          "[postgres][issue12][errors]") {
  const std::string url = server_url();
  auto store = open_store(url, fresh_schema("values"));
  REQUIRE(insert(*store, make_ticket("T-1", "kept")));

  // A NUL byte would cut the value short on the wire (two ids, one row): refused before sending.
  auto nul = store->transact([](TicketTransaction& tx) -> Result<void> {
    auto ticket = tx.edit("T-1");
    if (!ticket) return ticket.error();
    (*ticket)->subject = "changed";
    if (auto done = tx.record("key-1"); !done) return done;
    if (auto done = tx.insert(make_ticket(std::string("T-2\0tail", 8), "x")); !done) return done.error();
    return {};
  });
  REQUIRE_FALSE(nul);
  CHECK(nul.error().code == ErrorCode::invalid_argument);
  // Invalid UTF-8 in a column: the server refuses it (SQLSTATE class 22), the input's fault.
  auto utf8 = store->transact([](TicketTransaction& tx) -> Result<void> {
    if (auto done = tx.insert(make_ticket("T-\xff\xfe", "x")); !done) return done.error();
    return {};
  });
  REQUIRE_FALSE(utf8);
  CHECK(utf8.error().code == ErrorCode::invalid_argument);

  auto stored = store->load("T-1");
  REQUIRE(stored);
  REQUIRE(stored->has_value());
  CHECK((*stored)->ticket.subject == std::optional<std::string>("kept"));
  CHECK((*stored)->version == 1);
  auto ids = store->list_ids({});
  REQUIRE(ids);
  CHECK(*ids == std::vector<std::string>{"T-1"});
  auto key = store->transact([](TicketTransaction& tx) -> Result<void> {
    auto applied = tx.applied("key-1");
    if (!applied) return applied.error();
    REQUIRE_FALSE(*applied);
    return {};
  });
  CHECK(key);
}

TEST_CASE("issue12: a damaged row is named by list_checked and skipped by list, never overwritten",
          "[postgres][issue12][errors]") {
  const std::string url = server_url();
  const std::string schema = fresh_schema("damaged");
  auto store = open_store(url, schema);
  REQUIRE(insert(*store, make_ticket("T-1", "good")));
  REQUIRE(insert(*store, make_ticket("T-2", "to be damaged")));
  if (!wagroups_test::psql(url, "UPDATE " + schema + ".tickets SET body = $$not json$$ WHERE ticket_id = $$T-2$$")) {
    SKIP("psql could not reach the test server (postgresql-client is installed with the server)");
  }
  auto listing = store->list_checked({});
  REQUIRE(listing);
  REQUIRE(listing->tickets.size() == 1);
  CHECK(listing->tickets.front().ticket.ticket_id == "T-1");
  REQUIRE(listing->unreadable.size() == 1);
  CHECK(listing->unreadable.front().ticket_id == "T-2");
  CHECK(listing->unreadable.front().error.code == ErrorCode::storage);
  auto listed = store->list({});
  REQUIRE(listed);
  CHECK(listed->size() == 1);
  auto loaded = store->load("T-2");
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().message.find("T-2") != std::string::npos);
  // A unit that meets it fails on that ticket only; `work` may go on without it.
  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    auto damaged = tx.edit("T-2");
    REQUIRE_FALSE(damaged);
    auto good = tx.edit("T-1");
    if (!good) return good.error();
    (*good)->subject = "still written";
    return {};
  }));
  CHECK(store->load("T-1")->value().ticket.subject == std::optional<std::string>("still written"));
  CHECK_FALSE(store->load("T-2"));  // not overwritten
}

TEST_CASE("issue12: a connection lost mid-unit fails it as storage with nothing applied; the next unit reconnects",
          "[postgres][issue12][errors]") {
  const std::string url = server_url();
  // The store's connections carry a name of their own, so that psql can end exactly them.
  const std::string name = fresh_schema("lost");
  PostgresOptions options;
  options.schema = name;
  options.pool_size = 1;
  auto store = wagroups_test::open_postgres(
      url + (url.find('?') == std::string::npos ? "?" : "&") + "application_name=" + name, options);
  const std::string end_them =
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $$" + name + "$$";
  auto ended = [&] {
    // pg_terminate_backend signals; the backend is gone a moment later.
    const bool ok = wagroups_test::psql(url, end_them);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return ok;
  };
  REQUIRE(insert(*store, make_ticket("T-1", "before")));

  // The pool's idle connection ended by the server (a restart, an idle timeout): the next unit
  // finds its BEGIN failing, drops it and connects anew, without failing.
  REQUIRE(ended());
  REQUIRE(set_subject(*store, "T-1", "after the idle connection ended"));

  // Ended in the middle of a unit: the unit fails as storage, and nothing of it is applied.
  auto lost = store->transact([&](TicketTransaction& tx) -> Result<void> {
    auto ticket = tx.edit("T-1");
    if (!ticket) return ticket.error();
    (*ticket)->subject = "half";
    if (auto done = tx.record("key-lost"); !done) return done;
    REQUIRE(ended());
    return {};
  });
  REQUIRE_FALSE(lost);
  CHECK(lost.error().code == ErrorCode::storage);
  auto stored = store->load("T-1");
  REQUIRE(stored);
  REQUIRE(stored->has_value());
  CHECK((*stored)->ticket.subject == std::optional<std::string>("after the idle connection ended"));
  CHECK((*stored)->version == 2);
  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    auto applied = tx.applied("key-lost");
    if (!applied) return applied.error();
    CHECK_FALSE(*applied);
    return {};
  }));
}

TEST_CASE("issue12: calling the store from inside its own unit is refused, not a hang", "[postgres][issue12][errors]") {
  const std::string url = server_url();
  PostgresOptions options;
  options.schema = fresh_schema("nested");
  options.pool_size = 1;  // a second connection for the nested call would wait for the first forever
  auto store = wagroups_test::open_postgres(url, options);
  REQUIRE(insert(*store, make_ticket("T-1", "kept")));
  auto nested = store->transact([&](TicketTransaction& tx) -> Result<void> {
    auto ticket = tx.edit("T-1");
    if (!ticket) return ticket.error();
    (*ticket)->subject = "outer";
    auto loaded = store->load("T-1");
    CHECK_FALSE(loaded);
    auto inner = store->transact([](TicketTransaction&) -> Result<void> { return {}; });
    CHECK_FALSE(inner);
    if (!inner) return inner;
    return {};
  });
  REQUIRE_FALSE(nested);
  CHECK(nested.error().code == ErrorCode::storage);
  CHECK(nested.error().message.find("inside a unit of work") != std::string::npos);
  CHECK(store->load("T-1")->value().ticket.subject == std::optional<std::string>("kept"));
}

TEST_CASE("issue12: expired event keys are pruned after a unit, outside it, on the store's clock",
          "[postgres][issue12]") {
  const std::string url = server_url();
  std::int64_t now = 1760000000;
  PostgresOptions options;
  options.schema = fresh_schema("prune");
  options.event_key_retention = std::chrono::hours(1);
  options.clock = [&now] { return std::chrono::system_clock::time_point(std::chrono::seconds(now)); };
  auto store = wagroups_test::open_postgres(url, options);
  auto record = [&](const std::string& key) {
    return store->transact([&](TicketTransaction& tx) { return tx.record(key); });
  };
  auto applied = [&](const std::string& key) {
    bool out = false;
    REQUIRE(store->transact([&](TicketTransaction& tx) -> Result<void> {
      auto a = tx.applied(key);
      if (!a) return a.error();
      out = *a;
      return {};
    }));
    return out;
  };
  REQUIRE(record("old"));
  now += 30 * 60;
  REQUIRE(record("recent"));
  CHECK(applied("old"));
  now += 31 * 60 + 61;  // "old" is past the hour, "recent" is not; a minute since the last pruning
  REQUIRE(record("new"));
  CHECK_FALSE(applied("old"));
  CHECK(applied("recent"));
  CHECK(applied("new"));
}
