// Issue 11 on SqliteTicketStore: schema v2 (a header row, a row per message, member and invite),
// the migration from a v1 database written by the v1 code (tests/data/sqlite-v1), incremental
// writes through `edit` and through `ticket`, the deadline columns behind `list_ids`, and event
// keys pruned by age.

#include "sqlite_test_support.hpp"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "ticket_scenarios.hpp"

using namespace wagroups;
using wagroups_sqlite_test::insert_all;
using wagroups_sqlite_test::make_ticket;
using wagroups_sqlite_test::open_store;
using wagroups_sqlite_test::TempDir;
using wagroups_sqlite_test::version_of;
using Catch::Matchers::ContainsSubstring;

namespace {

// ---------------------------------------------------------------------------------------------
// Raw access to the file, bypassing the store.

class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  /// Every row of `sql` as text columns (NULL as "<null>").
  std::vector<std::vector<std::string>> rows(const std::string& sql, const std::string& bind = {}) {
    sqlite3_stmt* statement = nullptr;
    const int prepared = sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr);
    INFO(sql << ": " << sqlite3_errmsg(db_));
    REQUIRE(prepared == SQLITE_OK);
    if (!bind.empty()) sqlite3_bind_text(statement, 1, bind.data(), static_cast<int>(bind.size()), SQLITE_TRANSIENT);
    std::vector<std::vector<std::string>> out;
    int rc = 0;
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(statement); ++c) {
        if (sqlite3_column_type(statement, c) == SQLITE_NULL) {
          row.emplace_back("<null>");
          continue;
        }
        const auto* data = static_cast<const char*>(sqlite3_column_blob(statement, c));
        row.emplace_back(
            data == nullptr ? "" : std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(statement, c))));
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(statement);
    REQUIRE(rc == SQLITE_DONE);
    return out;
  }
  std::int64_t number(const std::string& sql, const std::string& bind = {}) {
    auto r = rows(sql, bind);
    REQUIRE(r.size() == 1);
    return std::stoll(r[0][0]);
  }
  void exec(const std::string& sql, const std::string& bind = {}) { (void)rows(sql, bind); }

 private:
  sqlite3* db_ = nullptr;
};

std::string fixture_path() { return std::string(WAGROUPS_TEST_DATA_DIR) + "/sqlite-v1/tickets-v1.db"; }

/// The fixture, copied to `dir` (opening migrates in place: the committed file must stay v1).
std::string copy_fixture(TempDir& dir) {
  const std::string path = dir.file("tickets-v1.db");
  std::filesystem::copy_file(fixture_path(), path);
  return path;
}

struct V1Contents {
  std::map<std::string, std::pair<Ticket, std::int64_t>> tickets;  // id -> (decoded body, version)
  std::map<std::string, std::string> messages;                     // message id -> ticket id
  std::vector<std::string> keys;
  std::vector<std::vector<std::string>> dead_letters;
};

V1Contents read_v1(const std::string& path) {
  RawDb raw(path);
  REQUIRE(raw.number("PRAGMA user_version") == 1);
  V1Contents out;
  for (const auto& row : raw.rows("SELECT ticket_id, version, body FROM tickets")) {
    auto decoded = ticket_from_json(row[2]);
    INFO(row[0] << ": " << (decoded ? std::string() : decoded.error().to_string()));
    REQUIRE(decoded);
    out.tickets.emplace(row[0], std::make_pair(std::move(*decoded), std::stoll(row[1])));
  }
  for (const auto& row : raw.rows("SELECT message_id, ticket_id FROM ticket_messages")) out.messages[row[0]] = row[1];
  for (const auto& row : raw.rows("SELECT key FROM event_keys")) out.keys.push_back(row[0]);
  out.dead_letters = raw.rows(
      "SELECT id, received_at, error_code, error_field, error_limit, error_message, body FROM dead_letters ORDER BY id "
      "DESC");
  return out;
}

/// The ticket `find_by_group` / `find_by_request` must name: one linked to a create request
/// first, then the smallest id (the v1 store's rule).
std::optional<std::string> expected_link(const V1Contents& v1, const std::string& value, bool by_group) {
  std::optional<std::pair<bool, std::string>> best;
  for (const auto& [id, entry] : v1.tickets) {
    const Ticket& t = entry.first;
    const auto& field = by_group ? t.group_id : t.request_id;
    if (field != value) continue;
    std::pair<bool, std::string> candidate(!t.request_id.has_value(), id);
    if (!best || candidate < *best) best = candidate;
  }
  if (!best) return std::nullopt;
  return best->second;
}

TicketQuery everything() {
  TicketQuery q;
  q.limit = std::numeric_limits<std::size_t>::max();
  return q;
}

Ticket load_ticket(TicketStore& store, const std::string& id) {
  auto loaded = store.load(id);
  INFO(id << ": " << (loaded ? std::string() : loaded.error().to_string()));
  REQUIRE(loaded);
  REQUIRE(loaded->has_value());
  return (*loaded)->ticket;
}

TimelineMessage message_at(const std::string& id, std::int64_t ts, const std::string& text) {
  TimelineMessage m;
  m.message_id = id;
  m.direction = MessageDirection::inbound;
  m.timestamp = ts;
  m.sender.phone = "15550002222";
  m.type = "text";
  m.text = text;
  return m;
}

/// A ticket with `n` messages (one per second), two members and an invite.
Ticket long_ticket(const std::string& id, const std::string& group, int n) {
  Ticket t = make_ticket(id, group);
  t.state = TicketState::open;
  Member a;
  a.person.phone = "15550002222";
  a.status = MemberStatus::joined;
  Member b;
  b.person.bsuid = "US.42";
  b.status = MemberStatus::joined;
  t.members = {a, b};
  Invite invite;
  invite.phone = "15550003333";
  invite.sent_at = 1700000000;
  invite.message_id = "wamid.invite";
  t.invites = {invite};
  for (int i = 0; i < n; ++i) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "wamid.%06d", i);
    t.timeline.push_back(message_at(buffer, 1700000000 + i, "message " + std::to_string(i)));
  }
  t.last_activity_at = 1700000000 + n;
  return t;
}

/// Rows of each part table written by the ticket's version `version`.
struct RowsAt {
  std::int64_t timeline = 0;
  std::int64_t members = 0;
  std::int64_t invites = 0;
};

RowsAt rows_at(const std::string& path, const std::string& id, std::int64_t version) {
  RawDb raw(path);
  const std::string v = std::to_string(version);
  RowsAt out;
  out.timeline = raw.number("SELECT count(*) FROM ticket_timeline WHERE ticket_id = ?1 AND version = " + v, id);
  out.members = raw.number("SELECT count(*) FROM ticket_members WHERE ticket_id = ?1 AND version = " + v, id);
  out.invites = raw.number("SELECT count(*) FROM ticket_invites WHERE ticket_id = ?1 AND version = " + v, id);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Item 1: schema v2 and the migration from v1

TEST_CASE("issue11 item 1: a v1 database written by the v1 code migrates with every ticket equal",
          "[sqlite][issue11]") {
  TempDir dir;
  const std::string path = copy_fixture(dir);
  const V1Contents v1 = read_v1(path);
  REQUIRE(v1.tickets.size() >= 15);
  REQUIRE(v1.keys.size() >= 100);
  REQUIRE(v1.dead_letters.size() == 2);

  SqliteOptions options;
  options.event_key_retention = std::chrono::seconds(0);  // the fixture's keys are old: keep them
  auto store = open_store(path, options);
  CHECK(store->schema_version() == 2);
  CHECK(SqliteTicketStore::latest_schema_version() == 2);

  // Every ticket equal, with its version.
  std::size_t messages = 0;
  for (const auto& [id, entry] : v1.tickets) {
    auto loaded = store->load(id);
    REQUIRE(loaded);
    REQUIRE(loaded->has_value());
    INFO(id);
    CHECK((*loaded)->ticket == entry.first);
    CHECK((*loaded)->version == entry.second);
    messages += entry.first.timeline.size();
  }
  auto listing = store->list_checked(everything());
  REQUIRE(listing);
  CHECK(listing->unreadable.empty());
  CHECK(listing->tickets.size() == v1.tickets.size());

  // Lookups by group and request.
  for (const auto& [id, entry] : v1.tickets) {
    if (entry.first.group_id) {
      auto found = store->find_by_group(*entry.first.group_id);
      REQUIRE(found);
      CHECK(*found == expected_link(v1, *entry.first.group_id, true));
    }
    if (entry.first.request_id) {
      auto found = store->find_by_request(*entry.first.request_id);
      REQUIRE(found);
      CHECK(*found == expected_link(v1, *entry.first.request_id, false));
    }
  }
  // Message lookups and event keys, inside a unit (a recorded key is still applied).
  REQUIRE(store->transact([&](TicketTransaction& tx) -> Result<void> {
    for (const auto& [message_id, ticket_id] : v1.messages) {
      auto found = tx.find_by_message(message_id);
      REQUIRE(found);
      CHECK(*found == std::optional<std::string>(ticket_id));
    }
    for (const auto& key : v1.keys) {
      auto applied = tx.applied(key);
      REQUIRE(applied);
      CHECK(*applied);
    }
    auto unknown = tx.applied("never-recorded");
    REQUIRE(unknown);
    CHECK_FALSE(*unknown);
    return {};
  }));
  // Dead letters as they were.
  auto letters = store->dead_letters({});
  REQUIRE(letters);
  REQUIRE(letters->size() == v1.dead_letters.size());
  for (std::size_t i = 0; i < letters->size(); ++i) {
    const auto& raw = v1.dead_letters[i];
    CHECK(std::to_string((*letters)[i].id) == raw[0]);
    CHECK(std::to_string((*letters)[i].received_at) == raw[1]);
    CHECK(to_string((*letters)[i].error.code) == raw[2]);
    CHECK((*letters)[i].error.field == raw[3]);
    CHECK((*letters)[i].body == raw[6]);
  }
  store.reset();

  // The rows are v2's now: heads without the lists, a row per message, member and invite.
  RawDb raw(path);
  CHECK(raw.number("PRAGMA user_version") == 2);
  CHECK(raw.number("SELECT count(*) FROM tickets WHERE body LIKE '%\"timeline\"%'") == 0);
  CHECK(raw.number("SELECT count(*) FROM ticket_timeline") == static_cast<std::int64_t>(messages));
  std::size_t members = 0;
  std::size_t invites = 0;
  for (const auto& [id, entry] : v1.tickets) {
    members += entry.first.members.size();
    invites += entry.first.invites.size();
  }
  CHECK(raw.number("SELECT count(*) FROM ticket_members") == static_cast<std::int64_t>(members));
  CHECK(raw.number("SELECT count(*) FROM ticket_invites") == static_cast<std::int64_t>(invites));
  CHECK(raw.number("SELECT count(*) FROM schema_migrations") == 2);
}

TEST_CASE("issue11 item 1: reopening a migrated database changes nothing; a newer one is refused",
          "[sqlite][issue11]") {
  TempDir dir;
  const std::string path = copy_fixture(dir);
  const V1Contents v1 = read_v1(path);
  auto snapshot = [&path] {
    RawDb raw(path);
    std::vector<std::vector<std::string>> all;
    for (const char* sql :
         {"SELECT * FROM tickets ORDER BY ticket_id", "SELECT * FROM ticket_timeline ORDER BY ticket_id, message_id",
          "SELECT * FROM ticket_members ORDER BY ticket_id, position",
          "SELECT * FROM ticket_invites ORDER BY ticket_id, position", "SELECT * FROM schema_migrations",
          "SELECT * FROM event_keys ORDER BY key", "PRAGMA user_version"}) {
      for (auto& row : raw.rows(sql)) all.push_back(std::move(row));
    }
    return all;
  };
  SqliteOptions options;
  options.event_key_retention = std::chrono::seconds(0);
  open_store(path, options).reset();
  const auto migrated = snapshot();
  open_store(path, options).reset();
  CHECK(snapshot() == migrated);
  auto store = open_store(path, options);
  for (const auto& [id, entry] : v1.tickets) CHECK(load_ticket(*store, id) == entry.first);
  store.reset();

  // A database at a newer version than this build knows is still refused, untouched.
  { RawDb(path).exec("PRAGMA user_version = 3"); }
  auto refused = SqliteTicketStore::open(path);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::storage);
  CHECK_THAT(refused.error().message, ContainsSubstring("newer"));
  CHECK(RawDb(path).number("PRAGMA user_version") == 3);
}

TEST_CASE("issue11 item 1: a migration that fails part-way leaves the v1 database intact", "[sqlite][issue11]") {
  TempDir dir;
  const std::string path = copy_fixture(dir);
  auto v1_rows = [&path] { return RawDb(path).rows("SELECT * FROM tickets ORDER BY ticket_id"); };
  const auto before = v1_rows();

  // v2's SQL and row split run, then the (testing) version 3 fails: all of it is rolled back.
  SqliteOptions broken;
  broken.extra_migrations_for_testing = {"SELECT no_such_column FROM tickets;"};
  auto failed = SqliteTicketStore::open(path, broken);
  REQUIRE_FALSE(failed);
  CHECK_THAT(failed.error().message, ContainsSubstring("migrate the schema to version 3"));
  {
    RawDb raw(path);
    CHECK(raw.number("PRAGMA user_version") == 1);
    CHECK(raw.number("SELECT count(*) FROM sqlite_master WHERE name = 'ticket_timeline'") == 0);
    CHECK(raw.number("SELECT count(*) FROM schema_migrations") == 1);
  }
  CHECK(v1_rows() == before);

  // The v1 code's own reading still works on it, and this build then migrates it.
  const V1Contents v1 = read_v1(path);
  auto store = open_store(path);
  CHECK(store->schema_version() == 2);
  for (const auto& [id, entry] : v1.tickets) CHECK(load_ticket(*store, id) == entry.first);
}

TEST_CASE("issue11 item 1: a v1 row that does not decode is kept, and reported unreadable", "[sqlite][issue11]") {
  TempDir dir;
  const std::string path = copy_fixture(dir);
  const V1Contents v1 = read_v1(path);
  const std::string damaged_id = v1.tickets.begin()->first;
  const std::string damaged = R"({"v":1,"ticket_id":")" + damaged_id + R"(","timeline":[{"message_id":)";
  { RawDb(path).exec("UPDATE tickets SET body = ?1 WHERE ticket_id = '" + damaged_id + "'", damaged); }

  auto store = open_store(path);
  CHECK(store->schema_version() == 2);
  auto listing = store->list_checked(everything());
  REQUIRE(listing);
  REQUIRE(listing->unreadable.size() == 1);
  CHECK(listing->unreadable[0].ticket_id == damaged_id);
  CHECK(listing->unreadable[0].error.code == ErrorCode::storage);
  CHECK(listing->tickets.size() == v1.tickets.size() - 1);
  auto loaded = store->load(damaged_id);
  REQUIRE_FALSE(loaded);
  CHECK_THAT(loaded.error().message, ContainsSubstring(damaged_id));
  // Its id still answers from the header's columns, and the body is as it was.
  auto ids = store->list_ids(everything());
  REQUIRE(ids);
  CHECK(std::count(ids->begin(), ids->end(), damaged_id) == 1);
  store.reset();
  CHECK(RawDb(path).rows("SELECT body FROM tickets WHERE ticket_id = ?1", damaged_id)[0][0] == damaged);
}

// ---------------------------------------------------------------------------------------------
// Item 3: a unit writes only the rows it changed

TEST_CASE("issue11 item 3: an edit of a long ticket writes its header and the declared rows only",
          "[sqlite][issue11]") {
  TempDir dir;
  const std::string path = dir.file("tickets.db");
  auto store = open_store(path);
  insert_all(*store, long_ticket("T-long", "G-long", 2000));
  CHECK(rows_at(path, "T-long", 1).timeline == 2000);

  // One new message, one member changed, through `edit` and its declarations.
  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    auto t = tx.edit("T-long");
    REQUIRE(t);
    REQUIRE(*t != nullptr);
    REQUIRE(tx.changing_message("T-long", "wamid.new"));
    (*t)->timeline.push_back(message_at("wamid.new", 1700009999, "a new one"));
    (*t)->members[1].status = MemberStatus::left;
    (*t)->last_activity_at = 1700009999;
    return {};
  }));
  CHECK(version_of(*store, "T-long") == 2);
  RowsAt v2 = rows_at(path, "T-long", 2);
  CHECK(v2.timeline == 1);
  CHECK(v2.members == 1);
  CHECK(v2.invites == 0);

  // A delivery status on an old message: that message's row only.
  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    auto t = tx.edit("T-long");
    REQUIRE(t);
    REQUIRE(tx.changing_message("T-long", "wamid.000010"));
    for (auto& m : (*t)->timeline)
      if (m.message_id == "wamid.000010") m.delivery["phone:15550002222"] = DeliveryStatus::read;
    return {};
  }));
  RowsAt v3 = rows_at(path, "T-long", 3);
  CHECK(v3.timeline == 1);
  CHECK(v3.members == 0);

  // A unit that changes nothing writes nothing and keeps the version.
  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    auto t = tx.edit("T-long");
    REQUIRE(t);
    REQUIRE(tx.changing_message("T-long", "wamid.000011"));
    return {};
  }));
  CHECK(version_of(*store, "T-long") == 3);

  // Through `ticket` (the whole ticket counts as written): still only the rows that differ.
  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    auto t = tx.ticket("T-long");
    REQUIRE(t);
    (*t)->timeline[5].text = "edited";
    (*t)->invites[0].status = DeliveryStatus::delivered;
    return {};
  }));
  RowsAt v4 = rows_at(path, "T-long", 4);
  CHECK(v4.timeline == 1);
  CHECK(v4.invites == 1);
  CHECK(v4.members == 0);

  // A removed message, declared: its row is deleted.
  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    auto t = tx.edit("T-long");
    REQUIRE(t);
    REQUIRE(tx.changing_message("T-long", "wamid.000000"));
    (*t)->timeline.erase((*t)->timeline.begin());
    return {};
  }));
  CHECK(RawDb(path).number("SELECT count(*) FROM ticket_timeline WHERE ticket_id = 'T-long'") == 2000);

  // What was written reads back equal, from the rows (a fresh connection has no cache).
  const Ticket cached = load_ticket(*store, "T-long");
  store.reset();
  auto reopened = open_store(path);
  CHECK(load_ticket(*reopened, "T-long") == cached);
  CHECK(cached.timeline.size() == 2000);
  CHECK(cached.timeline[4].text == std::optional<std::string>("edited"));
  CHECK(cached.timeline.back().message_id == "wamid.new");
}

TEST_CASE("issue11 item 3: an event applied to a long ticket through the aggregator writes one message row",
          "[sqlite][issue11]") {
  TempDir dir;
  const std::string path = dir.file("tickets.db");
  auto store = open_store(path);
  Ticket t = long_ticket("T-agg", "120363000000000777", 3000);
  t.group_created = true;
  insert_all(*store, t);
  TicketAggregator tickets(*store);
  namespace ev = wagroups_test::events;
  auto applied = tickets.apply(ev::message("120363000000000777", "wamid.live.1", "15550002222", 1700005000, "hi"));
  REQUIRE(applied);
  CHECK(version_of(*store, "T-agg") == 2);
  const RowsAt written = rows_at(path, "T-agg", 2);
  CHECK(written.timeline == 1);
  CHECK(written.invites == 0);
  CHECK(RawDb(path).number("SELECT count(*) FROM ticket_timeline WHERE ticket_id = 'T-agg'") == 3001);
}

TEST_CASE("issue11 item 3: a failed unit rolls back and the cache does not keep its writes", "[sqlite][issue11]") {
  TempDir dir;
  const std::string path = dir.file("tickets.db");
  auto store = open_store(path);  // the default cache
  insert_all(*store, long_ticket("T-a", "G-a", 50), long_ticket("T-b", "G-b", 5));
  const Ticket a = load_ticket(*store, "T-a");
  // Warm the cache with T-a through a unit.
  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    auto t = tx.edit("T-a");
    if (!t) return t.error();
    return {};
  }));

  SECTION("work fails") {
    auto failed = store->transact([](TicketTransaction& tx) -> Result<void> {
      auto t = tx.edit("T-a");
      REQUIRE(t);
      (*t)->subject = "changed";
      REQUIRE(tx.changing_message("T-a", "wamid.x"));
      (*t)->timeline.push_back(message_at("wamid.x", 1800000000, "x"));
      return Error::invalid_argument("test", "", "the unit gives up");
    });
    REQUIRE_FALSE(failed);
  }
  SECTION("the write fails after this ticket's rows were written") {
    // T-a is written first (id order), then T-b's id changed in place fails the commit.
    auto failed = store->transact([](TicketTransaction& tx) -> Result<void> {
      auto t = tx.edit("T-a");
      REQUIRE(t);
      (*t)->subject = "changed";
      REQUIRE(tx.changing_message("T-a", "wamid.x"));
      (*t)->timeline.push_back(message_at("wamid.x", 1800000000, "x"));
      auto b = tx.edit("T-b");
      REQUIRE(b);
      (*b)->ticket_id = "T-renamed";
      return {};
    });
    REQUIRE_FALSE(failed);
    CHECK(failed.error().code == ErrorCode::invalid_argument);
  }
  CHECK(load_ticket(*store, "T-a") == a);
  CHECK(version_of(*store, "T-a") == 1);
  // The next unit sees the ticket as stored, not the failed unit's copy.
  REQUIRE(store->transact([&a](TicketTransaction& tx) -> Result<void> {
    auto t = tx.edit("T-a");
    REQUIRE(t);
    CHECK(**t == a);
    return {};
  }));
  CHECK(RawDb(path).number("SELECT count(*) FROM ticket_timeline WHERE ticket_id = 'T-a'") == 50);
}

namespace {

/// One random change to a ticket, made the same way on both stores, through `edit` with
/// declarations or through `ticket`.
Result<void> random_change(TicketTransaction& tx, wagroups_test::ScenarioRng& rng, bool use_edit, int ids) {
  const std::string id = "T-" + std::to_string(rng.range(0, ids - 1));
  const int what = static_cast<int>(rng.range(0, 99));
  if (what < 4) {
    if (auto erased = tx.erase(id); !erased) return erased;
    return {};
  }
  auto fetched = use_edit ? tx.edit(id) : tx.ticket(id);
  if (!fetched) return fetched.error();
  Ticket* t = *fetched;
  if (t == nullptr) {
    auto inserted = tx.insert(long_ticket(id, "G-" + id, static_cast<int>(rng.range(0, 20))));
    if (!inserted) return inserted.error();
    return {};
  }
  auto declare = [&](const std::string& message_id) -> Result<void> {
    if (use_edit) return tx.changing_message(id, message_id);
    return {};
  };
  auto& tl = t->timeline;
  if (what < 35) {  // a new message at the end
    const std::string message_id = "wamid.r" + std::to_string(rng.next() % 1000000);
    if (t->find_message(message_id) != nullptr) return {};
    if (auto d = declare(message_id); !d) return d;
    const std::int64_t ts = tl.empty() ? 1700000000 : tl.back().timestamp + rng.range(0, 2);
    TimelineMessage m = message_at(message_id, ts, "random");
    auto at = std::upper_bound(tl.begin(), tl.end(), m, [](const TimelineMessage& x, const TimelineMessage& y) {
      return std::tie(x.timestamp, x.message_id) < std::tie(y.timestamp, y.message_id);
    });
    tl.insert(at, m);
    t->last_activity_at = std::max(t->last_activity_at, ts);
  } else if (what < 55 && !tl.empty()) {  // a delivery status on some message
    auto& m = tl[static_cast<std::size_t>(rng.range(0, static_cast<std::int64_t>(tl.size()) - 1))];
    if (auto d = declare(m.message_id); !d) return d;
    m.delivery["phone:1555000" + std::to_string(rng.range(0, 3))] = DeliveryStatus::delivered;
    m.group_status = DeliveryStatus::sent;
  } else if (what < 62 && !tl.empty()) {  // a message removed
    const auto at = static_cast<std::size_t>(rng.range(0, static_cast<std::int64_t>(tl.size()) - 1));
    if (auto d = declare(tl[at].message_id); !d) return d;
    tl.erase(tl.begin() + static_cast<std::ptrdiff_t>(at));
  } else if (what < 67 && !tl.empty()) {  // a message's timestamp moves (and its place)
    const auto at = static_cast<std::size_t>(rng.range(0, static_cast<std::int64_t>(tl.size()) - 1));
    if (auto d = declare(tl[at].message_id); !d) return d;
    TimelineMessage m = tl[at];
    tl.erase(tl.begin() + static_cast<std::ptrdiff_t>(at));
    m.timestamp += rng.range(-5, 5);
    auto pos = std::upper_bound(tl.begin(), tl.end(), m, [](const TimelineMessage& x, const TimelineMessage& y) {
      return std::tie(x.timestamp, x.message_id) < std::tie(y.timestamp, y.message_id);
    });
    tl.insert(pos, m);
  } else if (what < 72) {  // undeclared timeline surgery, announced whole
    if (use_edit) {
      if (auto d = tx.changing_timeline(id); !d) return d;
    }
    if (!tl.empty() && rng.chance(50)) tl.pop_back();
    if (rng.chance(30)) std::reverse(tl.begin(), tl.end());  // an order rows cannot keep: stored whole
  } else if (what < 82) {                                    // members
    if (!t->members.empty() && rng.chance(40)) {
      t->members.erase(t->members.begin());
    } else {
      Member m;
      m.person.phone = "1555009" + std::to_string(rng.range(0, 99));
      m.status = MemberStatus::joined;
      m.status_since = rng.range(0, 1000);
      t->members.push_back(m);
    }
  } else if (what < 88) {  // invites
    if (!t->invites.empty() && rng.chance(50)) {
      t->invites.back().status = DeliveryStatus::read;
    } else {
      Invite invite;
      invite.phone = "1555008" + std::to_string(rng.range(0, 99));
      invite.error = "refused";
      t->invites.push_back(invite);
    }
  } else {  // head fields
    t->subject = "subject " + std::to_string(rng.range(0, 9));
    t->state = rng.chance(50) ? TicketState::resolved : TicketState::open;
    t->resolved_at = t->state == TicketState::resolved ? std::optional<std::int64_t>(rng.range(0, 100)) : std::nullopt;
  }
  return {};
}

void check_same(TicketStore& expected, TicketStore& actual) {
  auto x = expected.list(everything());
  auto y = actual.list(everything());
  REQUIRE(x);
  REQUIRE(y);
  REQUIRE(x->size() == y->size());
  for (std::size_t i = 0; i < x->size(); ++i) {
    INFO((*x)[i].ticket.ticket_id << "\nexpected " << to_json((*x)[i].ticket) << "\nactual   "
                                  << to_json((*y)[i].ticket));
    CHECK((*x)[i].ticket == (*y)[i].ticket);
  }
}

}  // namespace

TEST_CASE("issue11 item 3: SQLite and in-memory stores agree after a random stream, through edit and ticket",
          "[sqlite][issue11]") {
  for (const bool use_edit : {true, false}) {
    for (const std::size_t cache : {std::size_t{0}, std::size_t{80} << 20}) {
      DYNAMIC_SECTION((use_edit ? "edit" : "ticket") << ", cache " << cache) {
        TempDir dir;
        const std::string path = dir.file("tickets.db");
        SqliteOptions options;
        options.ticket_cache_bytes = cache;
        options.durability = SqliteOptions::Durability::normal;
        auto sqlite = open_store(path, options);
        InMemoryTicketStore memory;
        wagroups_test::ScenarioRng rng(use_edit ? 11 : 12);
        for (int unit = 0; unit < 300; ++unit) {
          const std::uint64_t seed = rng.next();
          const int changes = static_cast<int>(rng.range(1, 4));
          const bool fail = rng.chance(10);
          for (TicketStore* store : {static_cast<TicketStore*>(&memory), static_cast<TicketStore*>(sqlite.get())}) {
            wagroups_test::ScenarioRng local(seed);
            auto done = store->transact([&](TicketTransaction& tx) -> Result<void> {
              for (int c = 0; c < changes; ++c) {
                if (auto r = random_change(tx, local, use_edit, 6); !r) return r;
              }
              if (fail) return Error::invalid_argument("test", "", "rolled back on purpose");
              return {};
            });
            CHECK(static_cast<bool>(done) == !fail);
          }
        }
        check_same(memory, *sqlite);
        sqlite.reset();
        auto reopened = open_store(path, options);
        check_same(memory, *reopened);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Item 4: deadlines from the header's columns

TEST_CASE("issue11 item 4: list_ids and list answer the deadline filters from the header rows", "[sqlite][issue11]") {
  TempDir dir;
  const std::string path = dir.file("tickets.db");
  auto store = open_store(path);
  std::vector<Ticket> all;
  for (int i = 0; i < 12; ++i) {
    Ticket t = make_ticket("T-" + std::to_string(10 + i));
    t.last_activity_at = 1000 + 10 * i;
    t.state = i % 3 == 0 ? TicketState::resolved : TicketState::open;
    if (t.state == TicketState::resolved) t.resolved_at = 2000 + i;
    all.push_back(t);
  }
  REQUIRE(store->transact([&](TicketTransaction& tx) -> Result<void> {
    for (const auto& t : all) REQUIRE(tx.insert(t));
    return {};
  }));

  auto expect = [&](const TicketQuery& q) {
    std::vector<std::string> ids;
    for (const auto& t : all) {
      if (q.state && t.state != *q.state) continue;
      if (q.last_activity_at_most && t.last_activity_at > *q.last_activity_at_most) continue;
      if (q.resolved_at_most && (!t.resolved_at || *t.resolved_at > *q.resolved_at_most)) continue;
      ids.push_back(t.ticket_id);
    }
    if (ids.size() > q.limit) ids.resize(q.limit);
    return ids;
  };
  std::vector<TicketQuery> queries(5);
  queries[0].last_activity_at_most = 1050;
  queries[1].resolved_at_most = 2006;
  queries[2].state = TicketState::open;
  queries[2].last_activity_at_most = 1075;
  queries[3].last_activity_at_most = 1100;
  queries[3].limit = 3;
  queries[4].resolved_at_most = 1999;
  for (const auto& q : queries) {
    auto ids = store->list_ids(q);
    REQUIRE(ids);
    CHECK(*ids == expect(q));
    auto listed = store->list(q);
    REQUIRE(listed);
    std::vector<std::string> listed_ids;
    for (const auto& s : *listed) listed_ids.push_back(s.ticket.ticket_id);
    CHECK(listed_ids == expect(q));
  }

  // The columns follow the tickets: resolve one, reopen another.
  REQUIRE(store->transact([](TicketTransaction& tx) -> Result<void> {
    auto t = tx.edit("T-11");
    REQUIRE(t);
    (*t)->state = TicketState::resolved;
    (*t)->resolved_at = 1500;
    auto u = tx.ticket("T-10");
    REQUIRE(u);
    (*u)->state = TicketState::open;
    (*u)->resolved_at.reset();
    (*u)->last_activity_at = 5000;
    return {};
  }));
  TicketQuery resolved;
  resolved.resolved_at_most = 1600;
  auto ids = store->list_ids(resolved);
  REQUIRE(ids);
  CHECK(*ids == std::vector<std::string>{"T-11"});
  TicketQuery idle;
  idle.last_activity_at_most = 1000;
  ids = store->list_ids(idle);
  REQUIRE(ids);
  CHECK(ids->empty());

  // Ids come from the header's columns, without decoding: a damaged row is still named.
  store.reset();
  RawDb(path).exec("UPDATE tickets SET body = 'not json' WHERE ticket_id = 'T-12'");
  store = open_store(path);
  TicketQuery early;
  early.last_activity_at_most = 1025;
  ids = store->list_ids(early);
  REQUIRE(ids);
  CHECK(*ids == std::vector<std::string>{"T-11", "T-12"});
}

// ---------------------------------------------------------------------------------------------
// Item 5: event keys pruned by age

namespace {

Result<void> record_keys(TicketStore& store, const std::vector<std::string>& keys) {
  return store.transact([&](TicketTransaction& tx) -> Result<void> {
    for (const auto& key : keys) {
      if (auto r = tx.record(key); !r) return r;
    }
    return {};
  });
}

bool applied(TicketStore& store, const std::string& key) {
  bool out = false;
  auto done = store.transact([&](TicketTransaction& tx) -> Result<void> {
    auto a = tx.applied(key);
    REQUIRE(a);
    out = *a;
    return {};
  });
  REQUIRE(done);
  return out;
}

}  // namespace

TEST_CASE("issue11 item 5: event keys are pruned by age on the store's clock, amortized and bounded",
          "[sqlite][issue11]") {
  TempDir dir;
  const std::string path = dir.file("tickets.db");
  auto now = std::make_shared<std::int64_t>(1800000000);
  SqliteOptions options;
  options.clock = [now] { return std::chrono::system_clock::time_point(std::chrono::seconds(*now)); };

  SECTION("the default retention is a week") {
    CHECK(SqliteOptions{}.event_key_retention == std::chrono::hours(24 * 7));
    auto store = open_store(path, options);
    REQUIRE(record_keys(*store, {"k1", "k2"}));
    *now += 3 * 86400;
    REQUIRE(record_keys(*store, {"k3"}));
    *now += 5 * 86400;  // k1, k2 are 8 days old, k3 5 days
    REQUIRE(record_keys(*store, {"k4"}));
    CHECK_FALSE(applied(*store, "k1"));
    CHECK_FALSE(applied(*store, "k2"));
    CHECK(applied(*store, "k3"));
    CHECK(applied(*store, "k4"));
    CHECK(RawDb(path).number("SELECT count(*) FROM event_keys") == 2);
    // Stamped with the store's clock.
    CHECK(RawDb(path).number("SELECT applied_at FROM event_keys WHERE key = 'k4'") == *now);
  }

  SECTION("at most once a minute (or per 256 units), a bounded number at a time") {
    options.event_key_retention = std::chrono::seconds(10);
    auto store = open_store(path, options);
    REQUIRE(record_keys(*store, {"first"}));  // the first commit prunes (nothing yet)
    *now += 30;                               // "first" has expired, but the last pruning was 30 s ago
    REQUIRE(record_keys(*store, {"second"}));
    CHECK(applied(*store, "first"));
    *now += 31;  // a minute since the last pruning
    REQUIRE(record_keys(*store, {"third"}));
    CHECK_FALSE(applied(*store, "first"));
    CHECK_FALSE(applied(*store, "second"));
    CHECK(applied(*store, "third"));

    // 3,000 keys, all expired by the time a fresh connection (nothing recorded since its last
    // pruning) commits: it deletes 1,024 of them at once, not all.
    std::vector<std::string> many;
    for (int i = 0; i < 3000; ++i) many.push_back("bulk-" + std::to_string(i));
    *now += 61;
    REQUIRE(record_keys(*store, many));  // prunes "third"
    store.reset();
    *now += 100;
    store = open_store(path, options);
    REQUIRE(record_keys(*store, {"after"}));
    CHECK(RawDb(path).number("SELECT count(*) FROM event_keys") == 3000 - 1024 + 1);
    // The next due pruning catches up (twice what was recorded since, at least 1,024).
    *now += 61;
    REQUIRE(record_keys(*store, {"later"}));
    *now += 61;
    REQUIRE(record_keys(*store, {"latest"}));
    CHECK(RawDb(path).number("SELECT count(*) FROM event_keys") == 1);
  }

  SECTION("a retention of 0 keeps every key") {
    options.event_key_retention = std::chrono::seconds(0);
    auto store = open_store(path, options);
    REQUIRE(record_keys(*store, {"old"}));
    *now += 365 * 86400;
    REQUIRE(record_keys(*store, {"new"}));
    CHECK(applied(*store, "old"));
  }
}

TEST_CASE("issue11: the event-key log is one for every connection to the file; what one prunes, all forget",
          "[sqlite][issue11]") {
  TempDir dir;
  const std::string path = dir.file("tickets.db");
  SqliteOptions options;
  options.event_key_retention = std::chrono::seconds(0);
  auto a = open_store(path, options);
  auto b = open_store(path, options);
  CHECK_FALSE(applied(*b, "k1"));  // b has read the (empty) log
  REQUIRE(record_keys(*a, {"k1", "k2"}));
  CHECK(applied(*b, "k1"));  // a's keys, read by b's next unit
  CHECK(applied(*b, "k2"));
  REQUIRE(record_keys(*b, {"k3"}));
  CHECK(applied(*a, "k3"));
  CHECK_FALSE(applied(*a, "k3 "));

  // A unit may record a key it did not ask about: the log still holds it once.
  REQUIRE(record_keys(*b, {"k1"}));
  CHECK(RawDb(path).number("SELECT count(*) FROM event_keys WHERE key = 'k1'") == 1);

  // A connection capped at one key prunes the others: a and b no longer find them.
  SqliteOptions capped = options;
  capped.max_event_keys = 1;
  auto c = open_store(path, capped);
  REQUIRE(record_keys(*c, {"k4"}));
  CHECK(RawDb(path).number("SELECT count(*) FROM event_keys") == 1);
  for (TicketStore* s : {static_cast<TicketStore*>(a.get()), static_cast<TicketStore*>(b.get())}) {
    CHECK_FALSE(applied(*s, "k1"));
    CHECK_FALSE(applied(*s, "k3"));
    CHECK(applied(*s, "k4"));
  }

  // Emptied from outside, the log never hands out an id again: b's next key is found by a.
  { RawDb(path).exec("DELETE FROM event_keys"); }
  CHECK_FALSE(applied(*a, "k4"));
  REQUIRE(record_keys(*b, {"k5"}));
  CHECK(applied(*a, "k5"));

  // Reopened, a connection reads the whole log again.
  a.reset();
  a = open_store(path, options);
  CHECK(applied(*a, "k5"));
  CHECK_FALSE(applied(*a, "k2"));
}
