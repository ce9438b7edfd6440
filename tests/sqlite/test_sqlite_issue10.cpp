// Issue 10 on SqliteTicketStore: one unreadable row never hides the other tickets, rows written by
// 0.2 with bytes that are not UTF-8 read back, text with NUL and control characters round-trips,
// and the database file is created for its owner only (0600).

#include "sqlite_test_support.hpp"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <fstream>
#include <string>
#include <vector>

using namespace wagroups;
using wagroups_sqlite_test::insert_all;
using wagroups_sqlite_test::make_ticket;
using wagroups_sqlite_test::open_store;
using wagroups_sqlite_test::TempDir;
using Catch::Matchers::ContainsSubstring;

namespace {

/// Runs `sql` on the file with SQLite itself, bypassing the store, with `text` bound to ?1.
void raw_sql(const std::string& path, const std::string& sql, const std::string& text) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  const int prepared = sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr);
  const std::string message = sqlite3_errmsg(db);
  if (prepared != SQLITE_OK) {
    sqlite3_close(db);
    FAIL("prepare: " << message);
  }
  sqlite3_bind_text(statement, 1, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  const int stepped = sqlite3_step(statement);
  sqlite3_finalize(statement);
  const int changes = sqlite3_changes(db);
  sqlite3_close(db);
  REQUIRE(stepped == SQLITE_DONE);
  REQUIRE(changes == 1);
}

std::vector<std::string> ids(const std::vector<StoredTicket>& tickets) {
  std::vector<std::string> out;
  for (const auto& t : tickets) out.push_back(t.ticket.ticket_id);
  return out;
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<unsigned>(st.st_mode & 0777);
}

/// Sets the process umask for a scope (the tests run on one thread).
struct UmaskScope {
  explicit UmaskScope(mode_t mask) : previous(::umask(mask)) {}
  ~UmaskScope() { ::umask(previous); }
  mode_t previous;
};

}  // namespace

TEST_CASE("issue10 item 9: a database with one unreadable row still lists the other tickets", "[sqlite][issue10]") {
  TempDir dir;
  const std::string path = dir.file("tickets.db");
  {
    auto store = open_store(path);
    insert_all(*store, make_ticket("T-a"), make_ticket("T-b"), make_ticket("T-c"));
  }
  raw_sql(path, "UPDATE tickets SET body = ?1 WHERE ticket_id = 'T-b'", R"({"v":1,"ticket_id":"T-b","timel)");

  auto store = open_store(path);
  TicketQuery all;
  auto listed = store->list(all);
  REQUIRE(listed);
  CHECK(ids(*listed) == std::vector<std::string>{"T-a", "T-c"});

  auto checked = store->list_checked(all);
  REQUIRE(checked);
  CHECK(ids(checked->tickets) == std::vector<std::string>{"T-a", "T-c"});
  REQUIRE(checked->unreadable.size() == 1);
  CHECK(checked->unreadable[0].ticket_id == "T-b");
  CHECK(checked->unreadable[0].error.code == ErrorCode::storage);
  CHECK_THAT(checked->unreadable[0].error.message, ContainsSubstring("T-b"));

  // Only that ticket fails: loading it, or a unit that touches it (which never overwrites it).
  auto bad = store->load("T-b");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ErrorCode::storage);
  auto good = store->load("T-c");
  REQUIRE(good);
  REQUIRE(*good);

  // The aggregator's periodic pass lists tickets too: it goes on for the readable ones.
  ResolutionPolicy policy;
  policy.auto_resolve_after = std::chrono::minutes(1);
  TicketAggregator tickets(*store, policy);
  CHECK(tickets.tick());
}

TEST_CASE("issue10 item 9: a row holding bytes that are not UTF-8 (as 0.2 wrote them) reads back",
          "[sqlite][issue10]") {
  TempDir dir;
  const std::string path = dir.file("tickets.db");
  {
    auto store = open_store(path);
    insert_all(*store, make_ticket("T-a"), make_ticket("T-b"));
  }
  // What `groups create --assignee $'Jos\xe9'` stored before: a raw byte inside a JSON string.
  const std::string body = R"({"v":1,"ticket_id":"T-b","phone_number_id":"15550001111","assignee":"Jos)" +
                           std::string("\xe9") + R"(","state":"create_requested","last_activity_at":1700000000})";
  raw_sql(path, "UPDATE tickets SET body = ?1 WHERE ticket_id = 'T-b'", body);

  auto store = open_store(path);
  auto checked = store->list_checked({});
  REQUIRE(checked);
  CHECK(checked->unreadable.empty());
  REQUIRE(checked->tickets.size() == 2);
  CHECK(checked->tickets[1].ticket.assignee == std::optional<std::string>("Jos\xEF\xBF\xBD"));
}

TEST_CASE("issue10 item 9: the store reads back text with NUL and control characters as written", "[sqlite][issue10]") {
  TempDir dir;
  const std::string path = dir.file("tickets.db");
  const char raw[] = "line one\nwith \0 a NUL and \x01\x1b[31m escapes";
  const std::string text(raw, sizeof raw - 1);
  Ticket before;
  {
    auto store = open_store(path);
    TicketAggregator tickets(*store);
    REQUIRE(tickets.open_ticket({"r1", "15550001111", "agent-7", std::string("Case\t1"), 1700000000}));
    REQUIRE(tickets.record_outbound("T-r1", "wamid.1", "text", text, std::string("agent-7")));
    auto loaded = store->load("T-r1");
    REQUIRE(loaded);
    REQUIRE(*loaded);
    before = (*loaded)->ticket;
  }
  auto store = open_store(path);
  auto loaded = store->load("T-r1");
  REQUIRE(loaded);
  REQUIRE(*loaded);
  CHECK((*loaded)->ticket == before);
  REQUIRE((*loaded)->ticket.timeline.size() == 1);
  CHECK((*loaded)->ticket.timeline[0].text == std::optional<std::string>(text));
  CHECK((*loaded)->ticket.subject == std::optional<std::string>("Case\t1"));
}

TEST_CASE("issue10 item 11: a new ticket database and its WAL files are created 0600", "[sqlite][issue10]") {
  TempDir dir;
  const std::string path = dir.file("tickets.db");
  UmaskScope umask(022);  // the usual umask: without care the files would be 0644
  auto store = open_store(path);
  // A write, so that the WAL and its index exist while the store is open.
  insert_all(*store, make_ticket("T-a"));
  CHECK(mode_of(path) == 0600);
  CHECK(mode_of(path + "-wal") == 0600);
  CHECK(mode_of(path + "-shm") == 0600);
}

TEST_CASE("issue10 item 11: an existing database file keeps its mode", "[sqlite][issue10]") {
  TempDir dir;
  const std::string path = dir.file("tickets.db");
  { std::ofstream(path).flush(); }  // an empty file is an empty database
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  auto store = open_store(path);
  insert_all(*store, make_ticket("T-a"));
  CHECK(mode_of(path) == 0640);
  store.reset();

  // Reopening a database the store created leaves its 0600 alone as well.
  const std::string mine = dir.file("mine.db");
  open_store(mine).reset();
  REQUIRE(::chmod(mine.c_str(), 0644) == 0);
  open_store(mine).reset();
  CHECK(mode_of(mine) == 0644);
}
