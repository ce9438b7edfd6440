// SqliteTicketStore: units of work, lookups, persistence, schema migrations, storage failures,
// and concurrency within one store and across two connections to one file.

#include "sqlite_test_support.hpp"
#include "ticket_scenarios.hpp"

#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace wagroups;
using wagroups_sqlite_test::insert_all;
using wagroups_sqlite_test::make_ticket;
using wagroups_sqlite_test::open_store;
using wagroups_sqlite_test::TempDir;
using wagroups_sqlite_test::version_of;
using Catch::Matchers::ContainsSubstring;

namespace {

Error work_failure() {
  Error error;
  error.code = ErrorCode::invalid_argument;
  error.field = "work";
  error.message = "the unit's work failed on purpose";
  return error;
}

/// Adds one to the ticket's last_activity_at (a counter that round-trips through the body).
Result<void> bump(TicketTransaction& tx, const std::string& id) {
  auto ticket = tx.ticket(id);
  if (!ticket) return ticket.error();
  if (*ticket == nullptr) return Error::invalid_argument("ticket_id", "exists", "no ticket " + id);
  (*ticket)->last_activity_at += 1;
  return {};
}

std::int64_t counter_of(TicketStore& store, const std::string& id) {
  auto loaded = store.load(id);
  REQUIRE(loaded);
  REQUIRE(loaded->has_value());
  return (*loaded)->ticket.last_activity_at;
}

bool applied_now(TicketStore& store, const std::string& key) {
  bool result = false;
  auto done = store.transact([&](TicketTransaction& tx) -> Result<void> {
    auto applied = tx.applied(key);
    if (!applied) return applied.error();
    result = *applied;
    return {};
  });
  REQUIRE(done);
  return result;
}

std::optional<std::string> message_owner(TicketStore& store, const std::string& message_id) {
  std::optional<std::string> owner;
  auto done = store.transact([&](TicketTransaction& tx) -> Result<void> {
    auto found = tx.find_by_message(message_id);
    if (!found) return found.error();
    owner = *found;
    return {};
  });
  REQUIRE(done);
  return owner;
}

void write_bytes(const std::string& path, const std::string& bytes, std::ios::openmode mode = std::ios::trunc) {
  std::ofstream out(path, std::ios::binary | std::ios::out | mode);
  out << bytes;
  REQUIRE(out.good());
}

}  // namespace

TEST_CASE("open creates the schema and reopening keeps it and the data", "[sqlite]") {
  TempDir dir;
  const auto path = dir.file("tickets.db");
  {
    auto store = open_store(path);
    CHECK(store->schema_version() == SqliteTicketStore::latest_schema_version());
    CHECK(SqliteTicketStore::latest_schema_version() >= 1);
    insert_all(*store, make_ticket("T-1", "G1", "R1"));
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto store = open_store(path);
    CHECK(store->schema_version() == SqliteTicketStore::latest_schema_version());
    auto loaded = store->load("T-1");
    REQUIRE(loaded);
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->version == 1);
    CHECK((*loaded)->ticket == make_ticket("T-1", "G1", "R1"));
  }
}

TEST_CASE("an empty file is initialized as a new database", "[sqlite]") {
  TempDir dir;
  const auto path = dir.file("empty.db");
  write_bytes(path, "");
  auto store = open_store(path);
  CHECK(store->schema_version() == SqliteTicketStore::latest_schema_version());
  insert_all(*store, make_ticket("T-1"));
  CHECK(version_of(*store, "T-1") == 1);
}

TEST_CASE("insert, read, update and erase through units of work", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("crud.db"));

  Ticket first = make_ticket("T-1", "G1", "R1");
  first.assignee = "agent-7";
  first.timeline.push_back(TimelineMessage{});
  first.timeline.back().message_id = "wamid.1";
  first.timeline.back().timestamp = 1700000100;
  first.timeline.back().type = "text";
  first.timeline.back().text = "hello";
  insert_all(*store, first);
  auto loaded = store->load("T-1");
  REQUIRE(loaded);
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->ticket == first);
  CHECK((*loaded)->version == 1);

  SECTION("an update writes the ticket and bumps its version") {
    REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
      auto ticket = tx.ticket("T-1");
      if (!ticket) return ticket.error();
      REQUIRE(*ticket != nullptr);
      CHECK((*ticket)->subject == std::optional<std::string>("Subject of T-1"));
      (*ticket)->subject = "Changed";
      // Fetched once per unit: the second fetch is the same object.
      auto again = tx.ticket("T-1");
      REQUIRE(again);
      CHECK(*again == *ticket);
      return {};
    }));
    auto updated = store->load("T-1");
    REQUIRE(updated);
    REQUIRE(updated->has_value());
    CHECK((*updated)->version == 2);
    CHECK((*updated)->ticket.subject == std::optional<std::string>("Changed"));
    CHECK((*updated)->ticket.timeline == first.timeline);
  }

  SECTION("a unit that only reads writes nothing (the version stays)") {
    REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
      auto ticket = tx.ticket("T-1");
      if (!ticket) return ticket.error();
      CHECK(*ticket != nullptr);
      return {};
    }));
    CHECK(version_of(*store, "T-1") == 1);
  }

  SECTION("inserting an existing id is a conflict on ticket_id, and the unit writes nothing") {
    auto done = store->transact([](TicketTransaction& tx) -> Result<void> {
      auto other = tx.insert(make_ticket("T-2"));
      if (!other) return other.error();
      auto dup = tx.insert(make_ticket("T-1"));
      if (!dup) return dup.error();
      return {};
    });
    REQUIRE_FALSE(done);
    CHECK(done.error().code == ErrorCode::conflict);
    CHECK(done.error().field == "ticket_id");
    CHECK(version_of(*store, "T-2") == 0);
    // The same within one unit: an id inserted earlier in the unit.
    auto twice = store->transact([](TicketTransaction& tx) -> Result<void> {
      REQUIRE(tx.insert(make_ticket("T-3")));
      auto dup = tx.insert(make_ticket("T-3"));
      REQUIRE_FALSE(dup);
      CHECK(dup.error().code == ErrorCode::conflict);
      return {};
    });
    REQUIRE(twice);
    CHECK(version_of(*store, "T-3") == 1);
  }

  SECTION("erase removes the ticket and its message index; erasing an absent id is a no-op") {
    REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
      return tx.index_message("wamid.1", "T-1");
    }));
    CHECK(message_owner(*store, "wamid.1") == std::optional<std::string>("T-1"));
    REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
      if (auto done = tx.erase("T-1"); !done) return done;
      if (auto done = tx.erase("T-404"); !done) return done;
      auto gone = tx.ticket("T-1");
      REQUIRE(gone);
      CHECK(*gone == nullptr);
      auto by_message = tx.find_by_message("wamid.1");
      REQUIRE(by_message);
      CHECK_FALSE(by_message->has_value());
      return {};
    }));
    CHECK(version_of(*store, "T-1") == 0);
    CHECK_FALSE(message_owner(*store, "wamid.1").has_value());
    auto group = store->find_by_group("G1");
    REQUIRE(group);
    CHECK_FALSE(group->has_value());
    // A new ticket under the old id starts again at version 1.
    insert_all(*store, make_ticket("T-1"));
    CHECK(version_of(*store, "T-1") == 1);
  }

  SECTION("erase and re-insert in one unit replaces the ticket") {
    REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
      if (auto done = tx.erase("T-1"); !done) return done;
      Ticket replacement = make_ticket("T-1", "G9");
      auto inserted = tx.insert(replacement);
      if (!inserted) return inserted.error();
      return {};
    }));
    auto replaced = store->load("T-1");
    REQUIRE(replaced);
    REQUIRE(replaced->has_value());
    CHECK((*replaced)->ticket == make_ticket("T-1", "G9"));
    CHECK((*replaced)->version == 2);
  }

  SECTION("an absent ticket is null, not an error") {
    REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
      auto none = tx.ticket("T-404");
      REQUIRE(none);
      CHECK(*none == nullptr);
      return {};
    }));
    auto none = store->load("T-404");
    REQUIRE(none);
    CHECK_FALSE(none->has_value());
  }

  SECTION("changing a fetched ticket's id in place is refused") {
    auto done = store->transact([](TicketTransaction& tx) -> Result<void> {
      auto ticket = tx.ticket("T-1");
      REQUIRE(ticket);
      (*ticket)->ticket_id = "T-other";
      return {};
    });
    REQUIRE_FALSE(done);
    CHECK(done.error().field == "ticket_id");
    CHECK(version_of(*store, "T-1") == 1);
    CHECK(version_of(*store, "T-other") == 0);
  }
}

TEST_CASE("a failing unit of work writes nothing and records no key", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("rollback.db"));
  insert_all(*store, make_ticket("T-1", "G1"));

  auto done = store->transact([](TicketTransaction& tx) -> Result<void> {
    auto inserted = tx.insert(make_ticket("T-2", "G2", "R2"));
    if (!inserted) return inserted.error();
    auto existing = tx.ticket("T-1");
    if (!existing) return existing.error();
    (*existing)->subject = "must not stick";
    (*existing)->last_activity_at = 42;
    if (auto d = tx.index_message("wamid.9", "T-2"); !d) return d;
    if (auto d = tx.record("key-1"); !d) return d;
    if (auto d = tx.erase("T-1"); !d) return d;
    return work_failure();
  });
  REQUIRE_FALSE(done);
  // The work's own error comes back unchanged.
  CHECK(done.error().code == ErrorCode::invalid_argument);
  CHECK(done.error().field == "work");
  CHECK(done.error().message == work_failure().message);

  CHECK(version_of(*store, "T-2") == 0);
  auto kept = store->load("T-1");
  REQUIRE(kept);
  REQUIRE(kept->has_value());
  CHECK((*kept)->version == 1);
  CHECK((*kept)->ticket == make_ticket("T-1", "G1"));
  CHECK_FALSE(applied_now(*store, "key-1"));
  CHECK_FALSE(message_owner(*store, "wamid.9").has_value());
  auto by_request = store->find_by_request("R2");
  REQUIRE(by_request);
  CHECK_FALSE(by_request->has_value());

  // The store is usable afterwards (the transaction was really ended).
  insert_all(*store, make_ticket("T-2"));
  CHECK(version_of(*store, "T-2") == 1);
}

TEST_CASE("an exception thrown by work rolls back and becomes a storage error", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("throw.db"));
  auto done = store->transact([](TicketTransaction& tx) -> Result<void> {
    if (!tx.insert(make_ticket("T-1"))) return work_failure();
    throw std::runtime_error("host bug");
  });
  REQUIRE_FALSE(done);
  CHECK(done.error().code == ErrorCode::storage);
  CHECK_THAT(done.error().message, ContainsSubstring("host bug"));
  CHECK(version_of(*store, "T-1") == 0);
  insert_all(*store, make_ticket("T-1"));
  CHECK(version_of(*store, "T-1") == 1);
}

TEST_CASE("versions count the units that changed each ticket", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("versions.db"));
  insert_all(*store, make_ticket("T-a"), make_ticket("T-b"));
  for (int i = 0; i < 5; ++i) {
    REQUIRE(store->transact([&](TicketTransaction& tx) -> Result<void> {
      if (auto d = bump(tx, "T-a"); !d) return d;
      // Fetched (so the store may consider it) but unchanged: not rewritten.
      auto b = tx.ticket("T-b");
      if (!b) return b.error();
      // Several changes in one unit are one version.
      return bump(tx, "T-a");
    }));
  }
  CHECK(version_of(*store, "T-a") == 6);
  CHECK(counter_of(*store, "T-a") == 1700000000 + 10);
  CHECK(version_of(*store, "T-b") == 1);
  // Listing reports the same versions.
  auto all = store->list({});
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].ticket.ticket_id == "T-a");
  CHECK((*all)[0].version == 6);
  CHECK((*all)[1].version == 1);
}

TEST_CASE("lookups inside a unit see the unit's own writes", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("lookups.db"));
  insert_all(*store, make_ticket("T-old", "G-moved", "R-old"));

  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    auto inserted = tx.insert(make_ticket("T-new", "G1", "R1"));
    REQUIRE(inserted);
    auto by_group = tx.find_by_group("G1");
    REQUIRE(by_group);
    CHECK(*by_group == std::optional<std::string>("T-new"));
    auto by_request = tx.find_by_request("R1");
    REQUIRE(by_request);
    CHECK(*by_request == std::optional<std::string>("T-new"));

    // A stored ticket whose group changes in this unit: found by its new group, not its old one.
    auto old = tx.ticket("T-old");
    REQUIRE(old);
    (*old)->group_id = "G-other";
    auto stale = tx.find_by_group("G-moved");
    REQUIRE(stale);
    CHECK_FALSE(stale->has_value());
    auto moved = tx.find_by_group("G-other");
    REQUIRE(moved);
    CHECK(*moved == std::optional<std::string>("T-old"));

    REQUIRE(tx.index_message("wamid.1", "T-new"));
    auto by_message = tx.find_by_message("wamid.1");
    REQUIRE(by_message);
    CHECK(*by_message == std::optional<std::string>("T-new"));
    auto unknown = tx.find_by_message("wamid.unknown");
    REQUIRE(unknown);
    CHECK_FALSE(unknown->has_value());

    auto before = tx.applied("k1");
    REQUIRE(before);
    CHECK_FALSE(*before);
    REQUIRE(tx.record("k1"));
    auto after = tx.applied("k1");
    REQUIRE(after);
    CHECK(*after);
    return {};
  }));

  // Committed: the same answers outside the unit and in the next one.
  auto by_group = store->find_by_group("G1");
  REQUIRE(by_group);
  CHECK(*by_group == std::optional<std::string>("T-new"));
  auto by_request = store->find_by_request("R1");
  REQUIRE(by_request);
  CHECK(*by_request == std::optional<std::string>("T-new"));
  auto old_group = store->find_by_group("G-moved");
  REQUIRE(old_group);
  CHECK_FALSE(old_group->has_value());
  CHECK(message_owner(*store, "wamid.1") == std::optional<std::string>("T-new"));
  CHECK(applied_now(*store, "k1"));
  CHECK_FALSE(applied_now(*store, "k2"));
}

TEST_CASE("an unlinked fragment merged into its request's ticket", "[sqlite]") {
  // The aggregator's merge: "G-G" holds early events; the group's creation links "T-R", which takes
  // the fragment's messages; the fragment is erased in the same unit.
  TempDir dir;
  auto store = open_store(dir.file("merge.db"));
  insert_all(*store, make_ticket("G-G1", "G1"), make_ticket("T-R1", std::nullopt, "R1"));
  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    REQUIRE(tx.index_message("wamid.early", "G-G1"));
    return {};
  }));

  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    auto linked = tx.ticket("T-R1");
    REQUIRE(linked);
    (*linked)->group_id = "G1";
    // Both carry the group now: the ticket linked to a create request is the group's ticket.
    auto by_group = tx.find_by_group("G1");
    REQUIRE(by_group);
    CHECK(*by_group == std::optional<std::string>("T-R1"));
    REQUIRE(tx.erase("G-G1"));
    REQUIRE(tx.index_message("wamid.early", "T-R1"));
    auto by_message = tx.find_by_message("wamid.early");
    REQUIRE(by_message);
    CHECK(*by_message == std::optional<std::string>("T-R1"));
    return {};
  }));
  auto by_group = store->find_by_group("G1");
  REQUIRE(by_group);
  CHECK(*by_group == std::optional<std::string>("T-R1"));
  CHECK(version_of(*store, "G-G1") == 0);
  CHECK(message_owner(*store, "wamid.early") == std::optional<std::string>("T-R1"));
}

TEST_CASE("lookups outside a unit prefer the ticket linked to a request", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("prefer.db"));
  // Inserted fragment first and the linked ticket second, and ids ordered against the preference.
  insert_all(*store, make_ticket("A-fragment", "G1"));
  insert_all(*store, make_ticket("Z-linked", "G1", "R1"));
  auto by_group = store->find_by_group("G1");
  REQUIRE(by_group);
  CHECK(*by_group == std::optional<std::string>("Z-linked"));
  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    auto inside = tx.find_by_group("G1");
    REQUIRE(inside);
    CHECK(*inside == std::optional<std::string>("Z-linked"));
    return {};
  }));
}

TEST_CASE("tickets, messages and keys persist across reopening", "[sqlite]") {
  TempDir dir;
  const auto path = dir.file("persist.db");
  {
    SqliteOptions options;
    options.durability = SqliteOptions::Durability::normal;
    auto store = open_store(path, options);
    Ticket ticket = make_ticket("T-1", "G1", "R1");
    ticket.members.push_back(Member{});
    ticket.members.back().person.phone = "15550002222";
    ticket.members.back().status = MemberStatus::joined;
    ticket.members.back().status_since = 1700000050;
    insert_all(*store, ticket, make_ticket("T-2", "G2"));
    REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
      REQUIRE(tx.index_message("wamid.a", "T-1"));
      REQUIRE(tx.record("event-a"));
      return bump(tx, "T-2");
    }));
  }
  auto store = open_store(path);
  auto one = store->load("T-1");
  REQUIRE(one);
  REQUIRE(one->has_value());
  REQUIRE((*one)->ticket.members.size() == 1);
  CHECK((*one)->ticket.members[0].status == MemberStatus::joined);
  CHECK((*one)->version == 1);
  CHECK(version_of(*store, "T-2") == 2);
  CHECK(message_owner(*store, "wamid.a") == std::optional<std::string>("T-1"));
  CHECK(applied_now(*store, "event-a"));
  auto by_group = store->find_by_group("G2");
  REQUIRE(by_group);
  CHECK(*by_group == std::optional<std::string>("T-2"));
}

TEST_CASE("list filters by state, assignee and group, ordered by id, up to the limit", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("list.db"));
  std::vector<Ticket> tickets;
  for (int i = 0; i < 12; ++i) {
    Ticket t = make_ticket("T-" + std::string(i < 10 ? "0" : "") + std::to_string(i), "G" + std::to_string(i % 3));
    t.state = i % 2 == 0 ? TicketState::open : TicketState::resolved;
    t.assignee = i % 4 == 0 ? std::optional<std::string>("agent-a") : std::optional<std::string>("agent-b");
    tickets.push_back(t);
  }
  // Inserted in reverse, so the order comes from the query.
  REQUIRE(store->transact([&](TicketTransaction& tx) -> Result<void> {
    for (auto it = tickets.rbegin(); it != tickets.rend(); ++it) REQUIRE(tx.insert(*it));
    return {};
  }));
  auto ids = [&](const TicketQuery& query) {
    auto listed = store->list(query);
    REQUIRE(listed);
    std::vector<std::string> out;
    for (const auto& stored : *listed) out.push_back(stored.ticket.ticket_id);
    return out;
  };
  TicketQuery all;
  CHECK(ids(all).size() == 12);
  CHECK(ids(all).front() == "T-00");
  CHECK(ids(all).back() == "T-11");

  TicketQuery open;
  open.state = TicketState::open;
  CHECK(ids(open) == std::vector<std::string>{"T-00", "T-02", "T-04", "T-06", "T-08", "T-10"});

  TicketQuery agent;
  agent.assignee = "agent-a";
  CHECK(ids(agent) == std::vector<std::string>{"T-00", "T-04", "T-08"});

  TicketQuery group;
  group.group_id = "G1";
  CHECK(ids(group) == std::vector<std::string>{"T-01", "T-04", "T-07", "T-10"});

  TicketQuery combined;
  combined.state = TicketState::open;
  combined.group_id = "G1";
  combined.assignee = "agent-a";
  CHECK(ids(combined) == std::vector<std::string>{"T-04"});

  TicketQuery limited;
  limited.state = TicketState::resolved;
  limited.limit = 2;
  CHECK(ids(limited) == std::vector<std::string>{"T-01", "T-03"});

  TicketQuery none;
  none.state = TicketState::closed;
  CHECK(ids(none).empty());

  // The state column follows the body when a unit changes the state.
  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    auto t = tx.ticket("T-00");
    REQUIRE(t);
    (*t)->state = TicketState::closed;
    return {};
  }));
  CHECK(ids(none) == std::vector<std::string>{"T-00"});
  CHECK(ids(open).front() == "T-02");
}

TEST_CASE("old event keys are pruned past max_event_keys", "[sqlite]") {
  TempDir dir;
  SqliteOptions options;
  options.max_event_keys = 3;
  auto store = open_store(dir.file("keys.db"), options);
  for (int i = 1; i <= 5; ++i) {
    REQUIRE(store->transact([&](TicketTransaction& tx) -> Result<void> {
      // Recording a key twice (or an existing one) keeps one entry.
      REQUIRE(tx.record("k" + std::to_string(i)));
      REQUIRE(tx.record("k" + std::to_string(i)));
      return tx.record("k" + std::to_string(i > 1 ? i - 1 : 1));
    }));
  }
  CHECK_FALSE(applied_now(*store, "k1"));
  CHECK_FALSE(applied_now(*store, "k2"));
  CHECK(applied_now(*store, "k3"));
  CHECK(applied_now(*store, "k4"));
  CHECK(applied_now(*store, "k5"));

  // Several keys in one unit beyond the limit: the newest stay.
  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    for (int i = 10; i < 15; ++i) REQUIRE(tx.record("k" + std::to_string(i)));
    return {};
  }));
  CHECK_FALSE(applied_now(*store, "k5"));
  CHECK_FALSE(applied_now(*store, "k11"));
  CHECK(applied_now(*store, "k12"));
  CHECK(applied_now(*store, "k14"));
}

TEST_CASE("calling the store from inside work is refused, not a deadlock", "[sqlite]") {
  TempDir dir;
  auto store = open_store(dir.file("reentry.db"));
  insert_all(*store, make_ticket("T-1"));
  auto done = store->transact([&](TicketTransaction&) -> Result<void> {
    auto loaded = store->load("T-1");
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().code == ErrorCode::storage);
    auto nested = store->transact([](TicketTransaction&) -> Result<void> { return {}; });
    REQUIRE_FALSE(nested);
    CHECK(nested.error().code == ErrorCode::storage);
    CHECK_THAT(nested.error().message, ContainsSubstring("inside a unit of work"));
    return nested;
  });
  REQUIRE_FALSE(done);
  CHECK(version_of(*store, "T-1") == 1);
}

TEST_CASE("the ticket cache between units never serves a stale ticket", "[sqlite][cache]") {
  TempDir dir;
  const auto path = dir.file("cache.db");
  auto subject_in_unit = [](TicketStore& store, const std::string& id) {
    std::optional<std::string> subject;
    REQUIRE(store.transact([&](TicketTransaction& tx) -> Result<void> {
      auto ticket = tx.ticket(id);
      if (!ticket) return ticket.error();
      REQUIRE(*ticket != nullptr);
      subject = (*ticket)->subject;
      return {};
    }));
    return subject;
  };

  SECTION("a failed unit's in-place changes are not kept") {
    auto store = open_store(path);
    insert_all(*store, make_ticket("T-1"));  // cached as committed
    auto failed = store->transact([](TicketTransaction& tx) -> Result<void> {
      auto ticket = tx.ticket("T-1");
      REQUIRE(ticket);
      (*ticket)->subject = "uncommitted";
      return work_failure();
    });
    REQUIRE_FALSE(failed);
    CHECK(subject_in_unit(*store, "T-1") == std::optional<std::string>("Subject of T-1"));
    CHECK(version_of(*store, "T-1") == 1);
  }

  SECTION("another connection's commit is seen by the next unit") {
    auto a = open_store(path);
    auto b = open_store(path);
    insert_all(*a, make_ticket("T-1"));
    CHECK(subject_in_unit(*a, "T-1") == std::optional<std::string>("Subject of T-1"));  // cached in a
    REQUIRE(b->transact([](TicketTransaction& tx) -> Result<void> {
      auto ticket = tx.ticket("T-1");
      REQUIRE(ticket);
      (*ticket)->subject = "from b";
      return {};
    }));
    CHECK(subject_in_unit(*a, "T-1") == std::optional<std::string>("from b"));
    REQUIRE(a->transact([](TicketTransaction& tx) { return bump(tx, "T-1"); }));
    CHECK(version_of(*b, "T-1") == 3);
    CHECK(subject_in_unit(*b, "T-1") == std::optional<std::string>("from b"));
  }

  SECTION("any budget, none or one smaller than a ticket, gives the same results") {
    for (std::size_t budget : {std::size_t{0}, std::size_t{300}, std::size_t{1} << 20}) {
      CAPTURE(budget);
      SqliteOptions options;
      options.durability = SqliteOptions::Durability::normal;
      options.ticket_cache_bytes = budget;
      const auto file = dir.file("budget-" + std::to_string(budget) + ".db");
      auto store = open_store(file, options);
      for (int i = 0; i < 8; ++i) insert_all(*store, make_ticket("T-" + std::to_string(i)));
      for (int round = 0; round < 3; ++round) {
        REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
          for (int i = 0; i < 8; i += 2) {
            if (auto d = bump(tx, "T-" + std::to_string(i)); !d) return d;
          }
          return {};
        }));
      }
      for (int i = 0; i < 8; ++i) {
        CHECK(counter_of(*store, "T-" + std::to_string(i)) == 1700000000 + (i % 2 == 0 ? 3 : 0));
        CHECK(version_of(*store, "T-" + std::to_string(i)) == (i % 2 == 0 ? 4 : 1));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Schema versions

TEST_CASE("an older database is migrated, a newer one refused", "[sqlite][migrations]") {
  TempDir dir;
  const auto path = dir.file("schema.db");
  const int latest = SqliteTicketStore::latest_schema_version();
  {
    auto store = open_store(path);
    REQUIRE(store->schema_version() == latest);
    insert_all(*store, make_ticket("T-1", "G1"));
  }

  // A build that knows one more version (a hypothetical next migration) upgrades the file...
  SqliteOptions next;
  next.extra_migrations_for_testing = {
      "CREATE TABLE ticket_notes (ticket_id TEXT NOT NULL, note TEXT NOT NULL);"
      "ALTER TABLE tickets ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;"};
  {
    auto store = open_store(path, next);
    CHECK(store->schema_version() == latest + 1);
    // ...keeping the data and working with the new schema.
    CHECK(version_of(*store, "T-1") == 1);
    REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> { return bump(tx, "T-1"); }));
    CHECK(version_of(*store, "T-1") == 2);
  }
  {
    // Reopening with the same build does not run the migration again (CREATE TABLE would fail).
    auto store = open_store(path, next);
    CHECK(store->schema_version() == latest + 1);
  }

  // This build (without the extra step) must not touch the newer file.
  auto refused = SqliteTicketStore::open(path);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::storage);
  CHECK_THAT(refused.error().message, ContainsSubstring("schema version " + std::to_string(latest + 1)));
  CHECK_THAT(refused.error().message, ContainsSubstring("newer"));

  // The newer build still opens it: refusing changed nothing.
  auto again = open_store(path, next);
  CHECK(version_of(*again, "T-1") == 2);
}

TEST_CASE("a failing migration leaves the database at its previous version", "[sqlite][migrations]") {
  TempDir dir;
  const auto path = dir.file("failing.db");
  const int latest = SqliteTicketStore::latest_schema_version();
  { insert_all(*open_store(path), make_ticket("T-1")); }

  SqliteOptions broken;
  broken.extra_migrations_for_testing = {"CREATE TABLE half_done (x INTEGER); SELECT no_such_column FROM tickets;"};
  auto failed = SqliteTicketStore::open(path, broken);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().code == ErrorCode::storage);
  CHECK_THAT(failed.error().message, ContainsSubstring("migrate the schema to version " + std::to_string(latest + 1)));
  CHECK_THAT(failed.error().message, ContainsSubstring("no_such_column"));

  // Rolled back as a whole: still the old version, and half_done was not created.
  auto store = open_store(path);
  CHECK(store->schema_version() == latest);
  CHECK(version_of(*store, "T-1") == 1);
  store.reset();
  SqliteOptions fixed;
  fixed.extra_migrations_for_testing = {"CREATE TABLE half_done (x INTEGER);"};
  auto upgraded = open_store(path, fixed);
  CHECK(upgraded->schema_version() == latest + 1);
}

TEST_CASE("the schema version is written where SQLite keeps user_version", "[sqlite][migrations]") {
  // Patch the header of a database as a later wagroups would leave it (user_version is the
  // big-endian 32-bit integer at byte 60 of the file) and check that this build refuses it.
  TempDir dir;
  const auto path = dir.file("patched.db");
  { insert_all(*open_store(path), make_ticket("T-1")); }  // closed: WAL checkpointed into the file
  {
    std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
    REQUIRE(file.good());
    file.seekg(60);
    unsigned char bytes[4] = {};
    file.read(reinterpret_cast<char*>(bytes), 4);
    const int stored = (bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3];
    CHECK(stored == SqliteTicketStore::latest_schema_version());
    const unsigned char newer[4] = {0, 0, 0, 99};
    file.seekp(60);
    file.write(reinterpret_cast<const char*>(newer), 4);
    REQUIRE(file.good());
  }
  auto refused = SqliteTicketStore::open(path);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::storage);
  CHECK_THAT(refused.error().message, ContainsSubstring("schema version 99"));
}

// ---------------------------------------------------------------------------------------------
// Storage failures

TEST_CASE("storage failures are ErrorCode::storage naming the operation", "[sqlite][errors]") {
  TempDir dir;

  SECTION("a path in a directory that does not exist") {
    auto opened = SqliteTicketStore::open(dir.file("missing/sub/tickets.db"));
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code == ErrorCode::storage);
    CHECK_THAT(opened.error().message, ContainsSubstring("open"));
    CHECK_THAT(opened.error().message, ContainsSubstring("unable to open database file"));
  }

  SECTION("a file of garbage bytes") {
    const auto path = dir.file("garbage.db");
    std::mt19937 random(7);
    std::string garbage(8192, '\0');
    for (auto& c : garbage) c = static_cast<char>(random() & 0xff);
    write_bytes(path, garbage);
    auto opened = SqliteTicketStore::open(path);
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code == ErrorCode::storage);
    CHECK_THAT(opened.error().message, ContainsSubstring("not a database"));
  }

  SECTION("a database opened read-only through its URI") {
    const auto path = dir.file("ro.db");
    { insert_all(*open_store(path), make_ticket("T-1")); }
    auto opened = SqliteTicketStore::open("file:" + path + "?mode=ro");
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code == ErrorCode::storage);
    CHECK_THAT(opened.error().message, ContainsSubstring("read-only"));
  }

  SECTION("a database whose pages were overwritten") {
    // Garbage over the schema (everything after the 100-byte header), or over the data pages only
    // (page 1, the schema, intact): opening or reading fails with storage, never a crash or a
    // made-up ticket.
    const bool keep_schema = GENERATE(false, true);
    CAPTURE(keep_schema);
    const auto path = dir.file("corrupt.db");
    {
      auto store = open_store(path);
      for (int i = 0; i < 50; ++i) insert_all(*store, make_ticket("T-" + std::to_string(i), "G" + std::to_string(i)));
    }
    const auto size = std::filesystem::file_size(path);
    REQUIRE(size > 8192);
    {
      std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
      std::mt19937 random(11);
      const std::uintmax_t from = keep_schema ? 4096 : 100;  // the default page size is 4096
      file.seekp(static_cast<std::streamoff>(from));
      for (std::uintmax_t i = from; i < size; ++i) file.put(static_cast<char>(random() & 0xff));
      REQUIRE(file.good());
    }
    auto opened = SqliteTicketStore::open(path);
    if (!keep_schema) {
      REQUIRE_FALSE(opened);
      CHECK(opened.error().code == ErrorCode::storage);
      CHECK_THAT(opened.error().message, ContainsSubstring("malformed"));
    } else {
      REQUIRE(opened);
      auto loaded = (*opened)->load("T-1");
      REQUIRE_FALSE(loaded);
      CHECK(loaded.error().code == ErrorCode::storage);
      CHECK_THAT(loaded.error().message, ContainsSubstring("load ticket \"T-1\""));
      auto listed = (*opened)->list({});
      REQUIRE_FALSE(listed);
      CHECK(listed.error().code == ErrorCode::storage);
      auto unit = (*opened)->transact([](TicketTransaction& tx) -> Result<void> { return bump(tx, "T-2"); });
      REQUIRE_FALSE(unit);
      CHECK(unit.error().code == ErrorCode::storage);
    }
  }
}

TEST_CASE("a read-only file is refused", "[sqlite][errors]") {
  if (::geteuid() == 0) SKIP("running as root: file permissions do not stop root (the URI case covers it)");
  TempDir dir;
  const auto path = dir.file("readonly.db");
  { insert_all(*open_store(path), make_ticket("T-1")); }
  REQUIRE(::chmod(path.c_str(), 0444) == 0);
  auto opened = SqliteTicketStore::open(path);
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == ErrorCode::storage);
  CHECK_THAT(opened.error().message, ContainsSubstring("read-only"));
}

// ---------------------------------------------------------------------------------------------
// Concurrency

TEST_CASE("units from four threads are serialized: no update is lost", "[sqlite][concurrency][concurrent]") {
  TempDir dir;
  SqliteOptions options;
  options.durability = SqliteOptions::Durability::normal;  // the logic, not the fsyncs
  auto store = open_store(dir.file("threads.db"), options);
  insert_all(*store, make_ticket("T-shared"));
  constexpr int threads = 4;
  constexpr int units_per_thread = 100;
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < units_per_thread; ++i) {
        auto done = store->transact([&](TicketTransaction& tx) -> Result<void> {
          if (auto d = bump(tx, "T-shared"); !d) return d;
          const std::string own = "T-" + std::to_string(t);
          auto mine = tx.ticket(own);
          if (!mine) return mine.error();
          if (*mine == nullptr) {
            auto inserted = tx.insert(make_ticket(own));
            if (!inserted) return inserted.error();
          } else {
            (*mine)->last_activity_at += 1;
          }
          return tx.record("key-" + std::to_string(t) + "-" + std::to_string(i));
        });
        if (!done) ++failures;
        // Reads outside units interleave with the writers.
        if (i % 10 == 0 && !store->load("T-shared")) ++failures;
      }
    });
  }
  for (auto& w : workers) w.join();
  CHECK(failures == 0);
  CHECK(counter_of(*store, "T-shared") == 1700000000 + threads * units_per_thread);
  CHECK(version_of(*store, "T-shared") == 1 + threads * units_per_thread);
  for (int t = 0; t < threads; ++t) {
    CHECK(counter_of(*store, "T-" + std::to_string(t)) == 1700000000 + units_per_thread - 1);
    CHECK(version_of(*store, "T-" + std::to_string(t)) == units_per_thread);
    CHECK(applied_now(*store, "key-" + std::to_string(t) + "-" + std::to_string(units_per_thread - 1)));
  }
}

TEST_CASE("two stores on one file: the write lock is shared across connections", "[sqlite][concurrency][concurrent]") {
  TempDir dir;
  const auto path = dir.file("shared.db");
  SqliteOptions options;
  options.durability = SqliteOptions::Durability::normal;
  auto a = open_store(path, options);
  auto b = open_store(path, options);
  insert_all(*a, make_ticket("T-1"));

  SECTION("units through both connections lose no update, alternating or concurrent") {
    constexpr int units = 200;
    std::atomic<int> failures{0};
    std::atomic<int> turn{0};
    std::atomic<int> ready{0};
    auto run = [&](SqliteTicketStore& store, int me) {
      // Strict turns first: every unit follows one of the other connection's, so each one must
      // see the other's last commit (a stale cache or snapshot would lose updates).
      for (int i = 0; i < units; ++i) {
        while (turn % 2 != me) std::this_thread::yield();
        if (!store.transact([](TicketTransaction& tx) { return bump(tx, "T-1"); })) ++failures;
        ++turn;
      }
      // Then free-running: contention for the write lock (SQLite's busy handler waits).
      ++ready;
      while (ready < 2) std::this_thread::yield();
      for (int i = 0; i < units; ++i) {
        if (!store.transact([](TicketTransaction& tx) { return bump(tx, "T-1"); })) ++failures;
      }
    };
    std::thread ta(run, std::ref(*a), 0);
    std::thread tb(run, std::ref(*b), 1);
    ta.join();
    tb.join();
    CHECK(failures == 0);
    CHECK(counter_of(*a, "T-1") == 1700000000 + 4 * units);
    CHECK(counter_of(*b, "T-1") == 1700000000 + 4 * units);
    CHECK(version_of(*b, "T-1") == 1 + 4 * units);
  }

  SECTION("a writer waits for the other connection's unit, or fails with storage after busy_timeout") {
    std::mutex m;
    std::condition_variable cv;
    bool holding = false;
    bool release = false;
    // Catch2 assertions stay on the main thread: the threads report through these.
    std::atomic<bool> holder_ok{false};
    std::atomic<bool> waiter_ok{false};
    std::thread holder([&] {
      auto done = a->transact([&](TicketTransaction& tx) -> Result<void> {
        if (auto d = bump(tx, "T-1"); !d) return d;
        std::unique_lock<std::mutex> lock(m);
        holding = true;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
        return {};
      });
      holder_ok = done.ok();
    });
    {
      std::unique_lock<std::mutex> lock(m);
      cv.wait(lock, [&] { return holding; });
    }

    // A third connection with a short timeout gives up while `a` holds the lock.
    SqliteOptions impatient = options;
    impatient.busy_timeout = std::chrono::milliseconds(100);
    auto c = open_store(path, impatient);
    const auto started = std::chrono::steady_clock::now();
    auto refused = c->transact([](TicketTransaction& tx) { return bump(tx, "T-1"); });
    const auto waited = std::chrono::steady_clock::now() - started;
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == ErrorCode::storage);
    CHECK_THAT(refused.error().message, ContainsSubstring("begin a unit of work"));
    CHECK_THAT(refused.error().message, ContainsSubstring("locked"));
    CHECK(waited >= std::chrono::milliseconds(90));
    // Readers are not blocked by the writer (WAL): they see the last commit.
    CHECK(counter_of(*c, "T-1") == 1700000000);

    // `b` (5 s timeout) waits for `a` and then applies on top of its commit.
    std::thread waiter([&] {
      waiter_ok = b->transact([](TicketTransaction& tx) { return bump(tx, "T-1"); }).ok();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    {
      std::lock_guard<std::mutex> lock(m);
      release = true;
    }
    cv.notify_all();
    holder.join();
    waiter.join();
    CHECK(holder_ok);
    CHECK(waiter_ok);
    CHECK(counter_of(*c, "T-1") == 1700000000 + 2);
    CHECK(version_of(*c, "T-1") == 3);
  }
}

TEST_CASE("issue13: four threads applying one shuffled stream to one SQLite store apply each event once",
          "[sqlite][concurrency][issue13][concurrent]") {
  TempDir dir;
  SqliteOptions options;
  options.durability = SqliteOptions::Durability::normal;  // the logic, not the fsyncs
  for (std::uint64_t seed = 1300; seed < 1308; ++seed) {
    auto shared = open_store(dir.file("shared-" + std::to_string(seed) + ".db"), options);
    const auto problem = wagroups_test::concurrent_apply_problem(*shared, seed);
    INFO("scenario seed " << seed << ": " << problem.value_or("none"));
    CHECK_FALSE(problem);
  }
}
