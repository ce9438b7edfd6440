// Issue 13 item 4: SqliteTicketStore on a full disk and on I/O errors. A VFS shim (fault_vfs.hpp)
// fails the WAL's writes (SQLITE_FULL or SQLITE_IOERR_WRITE), syncs or reads at every point of a
// unit in turn: for a delivery of the crash test's stream, fault point 0, then 1, 2... until the
// unit gets through without meeting the fault. Each time the aggregator's apply must fail with
// ErrorCode::storage, the store (this connection, a fresh one, and after a restart) must hold
// the unit entirely or not at all, and the redelivery, once the fault clears, must apply it
// exactly once. The oracle is an in-memory store fed only the acknowledged deliveries; the
// journal (crash_stream.hpp) counts every key applied in the same transaction as the tickets.
//
// Also: faults during a checkpoint (run by another connection, and by the store's close), while
// opening and migrating a new database, and while keeping a dead letter.

#include "crash_stream.hpp"
#include "fault_vfs.hpp"
#include "sqlite_test_support.hpp"

#include <wagroups/webhook.hpp>

#include <catch2/catch_test_macros.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace wagroups;
using wagroups_sqlite_test::FaultVfs;

namespace {

using wagroups_crash::same_contents;
using Kind = FaultVfs::Kind;
using Target = FaultVfs::Target;

wagroups_crash::StoreContents contents_of(TicketStore& store) {
  auto contents = wagroups_crash::read_contents(store);
  if (!contents) FAIL("read the store: " << contents.error().to_string());
  return std::move(*contents);
}

/// The stream's ingestion into one store: the store, its journal and the aggregator, rebuilt
/// together on a restart (a new journal run name keeps the entries' ids apart).
struct Ingest {
  Ingest(TicketStore& store, const wagroups_crash::CrashStream& stream, std::string run)
      : journal(store, std::move(run)),
        tickets(journal, stream.policy, [this] { return wagroups_crash::at_seconds(now); }) {}
  std::int64_t now = 0;
  wagroups_crash::JournalingStore journal;
  TicketAggregator tickets;
};

/// The stream ingested batch by batch twice: into the SQLite store under test and into the
/// in-memory oracle, which only ever gets what the store acknowledged.
struct StreamRig {
  explicit StreamRig(const std::string& file)
      : stream(wagroups_crash::make_crash_stream(wagroups_crash::kDefaultSeed)),
        path(dir.file(file)),
        oracle(memory, stream, "oracle"),
        store(wagroups_sqlite_test::open_store(path)),
        ingest(std::make_unique<Ingest>(*store, stream, "run0")) {}

  /// The batch's host actions, on both sides (no fault armed).
  void run_actions(const wagroups_crash::StreamBatch& batch) {
    for (const auto& action : batch.actions) {
      REQUIRE(wagroups_crash::run_action(oracle.tickets, oracle.now, action));
      REQUIRE(wagroups_crash::run_action(ingest->tickets, ingest->now, action));
    }
  }

  /// Closes the store (`while_closing` runs around the close) and opens it again from disk, as a
  /// restarted process would.
  void restart(const std::function<void()>& while_closing = {}) {
    const std::int64_t now = ingest->now;
    ingest.reset();
    if (while_closing) {
      while_closing();
    } else {
      store.reset();
    }
    store = wagroups_sqlite_test::open_store(path);
    ingest = std::make_unique<Ingest>(*store, stream, "run" + std::to_string(++restarts));
    ingest->now = now;
  }

  /// After the final tick: the database, reopened, holds the oracle's tickets, each key applied once.
  void check_final() {
    REQUIRE(oracle.tickets.tick(wagroups_crash::at_seconds(stream.end_time)));
    REQUIRE(ingest->tickets.tick(wagroups_crash::at_seconds(stream.end_time)));
    ingest.reset();
    store.reset();
    const auto expected = contents_of(memory);
    auto reopened = wagroups_sqlite_test::open_store(path);
    const auto actual = contents_of(*reopened);
    REQUIRE(expected.tickets.size() == actual.tickets.size());
    for (std::size_t i = 0; i < expected.tickets.size(); ++i) {
      INFO("oracle: " << to_json(expected.tickets[i].ticket) << "\nstore:  " << to_json(actual.tickets[i].ticket));
      REQUIRE(expected.tickets[i].ticket == actual.tickets[i].ticket);
    }
    const auto violations = wagroups_crash::exactly_once_violations(expected.key_counts, actual.key_counts);
    INFO(violations.size() << " violations, first: " << (violations.empty() ? std::string() : violations.front()));
    CHECK(violations.empty());
  }

  const wagroups_crash::CrashStream stream;
  wagroups_sqlite_test::TempDir dir;
  const std::string path;
  InMemoryTicketStore memory;
  Ingest oracle;
  std::unique_ptr<SqliteTicketStore> store;
  std::unique_ptr<Ingest> ingest;
  int restarts = 0;
};

struct FaultPlan {
  Kind kind;
  Target target;
  const char* name;
};

constexpr FaultPlan kPlans[] = {
    {Kind::write_full, Target::wal, "WAL write: disk full"},
    {Kind::write_ioerr, Target::wal, "WAL write: I/O error"},
    {Kind::sync_ioerr, Target::any, "sync: I/O error"},
    {Kind::read_ioerr, Target::any, "read: I/O error"},
};

}  // namespace

TEST_CASE(
    "issue13 SQLite: a full disk or an I/O error at every point of a unit fails it whole; the redelivery "
    "applies once",
    "[sqlite][issue13]") {
  FaultVfs vfs;
  StreamRig rig("faults.db");

  // Fault targets spread over the stream, one fault kind each in turn.
  const std::size_t total = rig.stream.batches.size();
  constexpr std::size_t kTargets = 16;
  REQUIRE(total >= kTargets * 4);
  std::size_t next_target = 0;
  int failures = 0;
  int fired_but_succeeded = 0;
  int committed_despite_error = 0;
  int fault_kinds_failed[4] = {0, 0, 0, 0};

  for (std::size_t b = 0; b < total; ++b) {
    const auto& batch = rig.stream.batches[b];
    INFO("batch " << b);
    rig.run_actions(batch);
    if (batch.events.empty()) continue;
    const bool is_target = next_target < kTargets && b >= (next_target * total) / kTargets + 1;
    if (!is_target) {
      REQUIRE(rig.oracle.tickets.apply(batch.events));
      REQUIRE(rig.ingest->tickets.apply(batch.events));
      continue;
    }
    const std::size_t plan_index = next_target % 4;
    const FaultPlan& plan = kPlans[plan_index];
    ++next_target;
    INFO(plan.name);

    const auto before = contents_of(rig.memory);
    REQUIRE(rig.oracle.tickets.apply(batch.events));
    const auto after = contents_of(rig.memory);
    REQUIRE_FALSE(same_contents(before, after));  // the delivery changes something to lose

    for (int skip = 0;; ++skip) {
      INFO("fault after " << skip << " matching calls");
      REQUIRE(skip < 2000);  // a unit has far fewer file calls: the fault must stop firing
      // A warm connection reads nothing: its pages and tickets are cached while nobody else
      // writes. Read faults meet a freshly opened store, which reads what the unit fetches.
      if (plan.kind == Kind::read_ioerr) rig.restart();
      vfs.arm(plan.kind, plan.target, skip);
      auto applied = rig.ingest->tickets.apply(batch.events);
      const bool fired = vfs.fired();
      vfs.clear();
      if (!fired) {
        // The fault point is past the unit's last call: a clean redelivery, acknowledged.
        REQUIRE(applied);
        break;
      }
      if (applied) {
        ++fired_but_succeeded;  // SQLite got past it (a read it could retry): must be whole
      } else {
        ++failures;
        ++fault_kinds_failed[plan_index];
        INFO(applied.error().to_string());
        CHECK(applied.error().code == ErrorCode::storage);
      }
      // All or nothing, through the connection that met the fault and through a fresh one.
      const auto mine = contents_of(*rig.store);
      {
        auto fresh = wagroups_sqlite_test::open_store(rig.path);
        const auto theirs = contents_of(*fresh);
        CHECK(same_contents(mine, theirs));
      }
      const bool has_none = same_contents(mine, before);
      const bool has_all = same_contents(mine, after);
      REQUIRE((has_none || has_all));
      if (applied) {
        REQUIRE(has_all);
        break;
      }
      if (has_all) ++committed_despite_error;
      // Now and then the process restarts after the failure: the store is reopened from disk.
      if (failures % 5 == 0) {
        rig.restart();
        const auto reopened = contents_of(*rig.store);
        REQUIRE((same_contents(reopened, before) || same_contents(reopened, after)));
      }
      // The loop's next turn is the redelivery, with the next fault point armed.
    }
    REQUIRE(same_contents(contents_of(*rig.store), after));
  }
  REQUIRE(next_target == kTargets);
  UNSCOPED_INFO(failures << " failed units (disk full " << fault_kinds_failed[0] << ", write " << fault_kinds_failed[1]
                         << ", sync " << fault_kinds_failed[2] << ", read " << fault_kinds_failed[3] << "), "
                         << fired_but_succeeded << " faults SQLite got past, " << committed_despite_error
                         << " failed units found committed, " << rig.restarts << " restarts");
  // Every kind of fault made units fail (else the sweep tested nothing).
  for (int count : fault_kinds_failed) CHECK(count > 0);
  rig.check_final();
}

TEST_CASE("issue13 SQLite: a checkpoint that fails (full disk, I/O error) loses nothing", "[sqlite][issue13]") {
  FaultVfs vfs;
  StreamRig rig("checkpoint.db");
  int checkpoint_failures = 0;
  int close_faults = 0;
  for (std::size_t b = 0; b < rig.stream.batches.size(); ++b) {
    INFO("batch " << b);
    const auto& batch = rig.stream.batches[b];
    rig.run_actions(batch);
    if (!batch.events.empty()) {
      REQUIRE(rig.oracle.tickets.apply(batch.events));
      REQUIRE(rig.ingest->tickets.apply(batch.events));
    }
    if (b % 10 != 9) continue;
    const FaultPlan& plan = kPlans[(b / 10) % 3];  // writes and syncs of the database file
    INFO(plan.name);
    const int skip = static_cast<int>((b / 30) % 4);
    if ((b / 10) % 2 == 0) {
      // Another connection checkpoints the WAL into the database file and meets the fault.
      sqlite3* db = nullptr;
      REQUIRE(sqlite3_open_v2(rig.path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
      vfs.arm(plan.kind, Target::main_db, skip);
      const int rc = sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
      const bool fired = vfs.fired();
      vfs.clear();
      sqlite3_close(db);
      if (fired) {
        ++checkpoint_failures;
        CHECK(rc != SQLITE_OK);
      }
    } else {
      // The store's close checkpoints too; a failure there has nobody to report to, so the next
      // open must find everything in the WAL still.
      rig.restart([&] {
        vfs.arm(plan.kind, Target::main_db, skip);
        rig.store.reset();
        if (vfs.fired()) ++close_faults;
        vfs.clear();
      });
    }
    // The store works on, and holds exactly what was acknowledged.
    REQUIRE(same_contents(contents_of(*rig.store), contents_of(rig.memory)));
  }
  CHECK(checkpoint_failures > 0);
  CHECK(close_faults > 0);
  rig.check_final();
}

TEST_CASE("issue13 SQLite: a fault while creating a database fails open, and the next open makes it whole",
          "[sqlite][issue13]") {
  FaultVfs vfs;
  wagroups_sqlite_test::TempDir dir;
  int failed_opens = 0;
  int attempts = 0;
  for (const FaultPlan& plan : kPlans) {
    for (int skip = 0;; ++skip) {
      INFO(plan.name << ", fault after " << skip << " matching calls");
      REQUIRE(skip < 2000);
      const std::string path = dir.file("new-" + std::to_string(attempts++) + ".db");
      {
        vfs.arm(plan.kind, Target::any, skip);
        auto opened = SqliteTicketStore::open(path);
        const bool fired = vfs.fired();
        vfs.clear();
        if (!fired) {
          REQUIRE(opened);
          break;
        }
        if (!opened) {
          ++failed_opens;
          CHECK(opened.error().code == ErrorCode::storage);
        }
      }  // closed (when it opened after all)
      // Opened again without the fault: migrated to the latest schema, and it works.
      auto store = wagroups_sqlite_test::open_store(path);
      CHECK(store->schema_version() == SqliteTicketStore::latest_schema_version());
      auto ticket = wagroups_sqlite_test::make_ticket("t-1", std::string("g-1"));
      wagroups_sqlite_test::insert_all(*store, ticket);
      CHECK(wagroups_sqlite_test::version_of(*store, "t-1") == 1);
      auto found = store->find_by_group("g-1");
      REQUIRE(found);
      CHECK(*found == std::optional<std::string>("t-1"));
    }
  }
  CHECK(failed_opens > 4);
}

TEST_CASE(
    "issue13 SQLite: a dead letter the disk refuses is reported and not half kept; kept once when the "
    "fault clears",
    "[sqlite][issue13]") {
  FaultVfs vfs;
  wagroups_sqlite_test::TempDir dir;
  const std::string path = dir.file("letters.db");
  auto store = wagroups_sqlite_test::open_store(path);
  std::vector<std::string> acknowledged;
  int failures = 0;
  int n = 0;
  for (const FaultPlan& plan : kPlans) {
    for (int skip = 0;; ++skip) {
      INFO(plan.name << ", fault after " << skip << " matching calls");
      REQUIRE(skip < 2000);
      DeadLetter letter;
      letter.received_at = 1760000000 + n;
      // Large enough to spill over several pages, so a fault can land in its middle.
      letter.body = "{\"letter\":" + std::to_string(n) + ",\"pad\":\"" + std::string(9000, 'x') + "\"}";
      letter.error = Error::malformed_webhook("entry", "an array", "webhook body: entry is not an array");
      vfs.arm(plan.kind, plan.target, skip);
      auto added = store->add_dead_letter(letter);
      const bool fired = vfs.fired();
      vfs.clear();
      if (added) acknowledged.push_back(letter.body);
      if (!added) {
        ++failures;
        CHECK(added.error().code == ErrorCode::storage);
        // Redelivered after the fault: kept once.
        REQUIRE(store->add_dead_letter(letter));
        acknowledged.push_back(letter.body);
      }
      ++n;
      // Whatever is kept is whole, and each acknowledged letter is there exactly once (a failed
      // attempt may only show up as a complete extra copy if SQLite committed it after all).
      auto fresh = wagroups_sqlite_test::open_store(path);
      DeadLetterQuery all;
      all.limit = 1000000;
      auto kept = fresh->dead_letters(all);
      REQUIRE(kept);
      std::vector<std::string> bodies;
      for (const auto& d : *kept) bodies.push_back(d.body);
      std::reverse(bodies.begin(), bodies.end());  // newest first -> oldest first
      CHECK(bodies == acknowledged);
      if (!fired) break;
    }
  }
  CHECK(failures > 4);
}
