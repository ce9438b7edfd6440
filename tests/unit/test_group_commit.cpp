// GroupCommitter (issue 11 item 4): concurrent bodies share store units, each caller gets its own
// body's outcome and returns only after the unit holding it committed; a bad body fails alone; a
// failing store fails everyone it did not commit. The store here counts units and can hold a unit
// before its commit (a gate the test opens), so the batching is arranged, never timed.

#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "ticket_scenarios.hpp"
#include "wagroups/tickets.hpp"

using namespace wagroups;
namespace ev = wagroups_test::events;

namespace {

constexpr std::int64_t T0 = 1780000000;

// Holds each unit before its commit until the test lets it through.
class Gate {
 public:
  void pass() {
    std::unique_lock<std::mutex> lock(mutex_);
    const int mine = ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !closed_ || released_ >= mine; });
  }
  void wait_entered(int n) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return entered_ >= n; });
  }
  void release_one() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++released_;
    changed_.notify_all();
  }
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = false;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int entered_ = 0;
  int released_ = 0;
  bool closed_ = true;
};

Error storage_error(const std::string& message) {
  Error e;
  e.code = ErrorCode::storage;
  e.message = message;
  return e;
}

// InMemoryTicketStore, counting units. It refuses (error) or throws on the event key of a
// message whose id holds "poison" / "throw", fails every unit while `down`, and holds each
// unit at the gate, when one is set, after its work and before its commit. A throwing unit is
// rolled back before the exception leaves `transact`, as the contract asks of any store.
class TestStore final : public TicketStore {
 public:
  InMemoryTicketStore inner{true};
  std::atomic<int> units{0};
  std::atomic<bool> down{false};
  Gate* gate = nullptr;

  Result<void> transact(const std::function<Result<void>(TicketTransaction&)>& work) override {
    ++units;
    if (down) return storage_error("the database is down");
    std::exception_ptr thrown;
    auto done = inner.transact([&](TicketTransaction& tx) -> Result<void> {
      Tx wrapped(tx);
      Result<void> r;
      try {
        r = work(wrapped);
      } catch (...) {
        thrown = std::current_exception();
        return storage_error("rolled back: the work threw");
      }
      if (r && gate) gate->pass();
      return r;
    });
    if (thrown) std::rethrow_exception(thrown);
    return done;
  }
  Result<std::optional<StoredTicket>> load(const std::string& id) override { return inner.load(id); }
  Result<std::optional<std::string>> find_by_group(const std::string& g) override { return inner.find_by_group(g); }
  Result<std::optional<std::string>> find_by_request(const std::string& r) override { return inner.find_by_request(r); }
  Result<std::vector<StoredTicket>> list(const TicketQuery& q) override { return inner.list(q); }

 private:
  class Tx final : public TicketTransaction {
   public:
    explicit Tx(TicketTransaction& inner) : inner_(inner) {}
    Result<Ticket*> ticket(const std::string& id) override { return inner_.ticket(id); }
    Result<Ticket*> insert(Ticket t) override { return inner_.insert(std::move(t)); }
    Result<void> erase(const std::string& id) override { return inner_.erase(id); }
    Result<std::optional<std::string>> find_by_group(const std::string& g) override { return inner_.find_by_group(g); }
    Result<std::optional<std::string>> find_by_request(const std::string& r) override {
      return inner_.find_by_request(r);
    }
    Result<std::optional<std::string>> find_by_message(const std::string& m) override {
      return inner_.find_by_message(m);
    }
    Result<void> index_message(const std::string& m, const std::string& t) override {
      return inner_.index_message(m, t);
    }
    Result<bool> applied(const std::string& key) override {
      if (key.find("throw") != std::string::npos) throw std::runtime_error("the store threw on " + key);
      if (key.find("poison") != std::string::npos) return storage_error("cannot store " + key);
      return inner_.applied(key);
    }
    Result<void> record(const std::string& key) override { return inner_.record(key); }
    Result<Ticket*> edit(const std::string& id) override { return inner_.edit(id); }
    Result<void> changing_message(const std::string& t, const std::string& m) override {
      return inner_.changing_message(t, m);
    }
    Result<void> changing_timeline(const std::string& t) override { return inner_.changing_timeline(t); }

   private:
    TicketTransaction& inner_;
  };
};

// One body: one group message.
WebhookBatch body(const std::string& group_id, const std::string& message_id, std::int64_t ts = T0) {
  WebhookBatch b;
  b.object = "whatsapp_business_account";
  b.events.emplace_back(ev::message(group_id, message_id, "4915112345678", ts));
  return b;
}

// What one caller got back.
struct Answer {
  std::optional<Result<ApplyOutcome>> result;
  std::string thrown;
  std::atomic<bool> returned{false};
};

void submit(GroupCommitter& committer, const WebhookBatch& b, Answer& answer) {
  try {
    answer.result.emplace(committer.apply(b));
  } catch (const std::exception& e) {
    answer.thrown = e.what();
  }
  answer.returned = true;
}

void wait_until_waiting(const GroupCommitter& committer, std::size_t n) {
  while (committer.waiting() < n) std::this_thread::yield();
}

// Message id -> how many timelines hold it, over every ticket in the store.
std::map<std::string, int> stored_messages(TicketStore& store) {
  auto all = wagroups_test::all_tickets(store);
  REQUIRE(all);
  std::map<std::string, int> seen;
  for (const auto& s : *all)
    for (const auto& m : s.ticket.timeline) ++seen[m.message_id];
  return seen;
}

// The message ids an outcome reports as appended.
std::vector<std::string> appended(const ApplyOutcome& outcome) {
  std::vector<std::string> ids;
  for (const auto& c : outcome.changes)
    if (c.kind == TicketChangeKind::message_appended && c.message_id) ids.push_back(*c.message_id);
  return ids;
}

// The callers of one arranged test, in submission order.
struct Arranged {
  std::vector<std::unique_ptr<Answer>> answers;
  std::vector<std::thread> threads;
};

// Submits the first body, whose unit runs alone and is held at the gate, then queues the others
// behind it one after the other.
void start_held_unit(GroupCommitter& committer, Gate& gate, const std::vector<WebhookBatch>& bodies, Arranged& run) {
  for (std::size_t i = 0; i < bodies.size(); ++i) run.answers.push_back(std::make_unique<Answer>());
  run.threads.emplace_back(submit, std::ref(committer), std::cref(bodies[0]), std::ref(*run.answers[0]));
  gate.wait_entered(1);  // the first body's unit runs alone and is held before its commit
  for (std::size_t i = 1; i < bodies.size(); ++i) {
    run.threads.emplace_back(submit, std::ref(committer), std::cref(bodies[i]), std::ref(*run.answers[i]));
    wait_until_waiting(committer, i);  // queued in submission order
  }
}

void finish(Gate& gate, Arranged& run) {
  gate.open();
  for (auto& t : run.threads)
    if (t.joinable()) t.join();
}

}  // namespace

TEST_CASE("issue11 item 4: a lone body runs at once in a unit of its own, with its own outcome", "[tickets][issue11]") {
  TestStore store;
  TicketAggregator tickets(store);
  GroupCommitter committer(tickets);
  const auto b = body("g1", "wamid.lone");
  auto outcome = committer.apply(b);
  REQUIRE(outcome);
  CHECK(appended(*outcome) == std::vector<std::string>{"wamid.lone"});
  CHECK(store.units == 1);
  CHECK(committer.stats().units == 1);
  CHECK(committer.stats().bodies == 1);
  CHECK(committer.waiting() == 0);
  // Applying it again is a duplicate, as with tickets.apply.
  auto again = committer.apply(b);
  REQUIRE(again);
  REQUIRE(again->changes.size() == 1);
  CHECK(again->changes[0].kind == TicketChangeKind::duplicate_ignored);
}

TEST_CASE(
    "issue11 item 4: bodies that arrive during a unit share the next one; each is applied once and answered "
    "with its own changes",
    "[tickets][issue11][concurrent]") {
  TestStore store;
  Gate gate;
  store.gate = &gate;
  TicketAggregator tickets(store);
  GroupCommitter committer(tickets);
  std::vector<WebhookBatch> bodies;
  for (int i = 0; i < 16; ++i)
    bodies.push_back(body("g" + std::to_string(i % 3), "wamid.c" + std::to_string(i), T0 + i));
  bodies.push_back(body("g1", "wamid.c5", T0 + 5));  // Meta's redelivery of a body in the same unit

  Arranged run;
  start_held_unit(committer, gate, bodies, run);
  finish(gate, run);

  CHECK(store.units == 2);  // 17 bodies, 2 transactions
  const auto stats = committer.stats();
  CHECK(stats.units == 2);
  CHECK(stats.bodies == 17);
  CHECK(stats.largest_unit == 16);
  CHECK(stats.failed_units == 0);
  for (int i = 0; i < 16; ++i) {
    INFO(i);
    const Answer& a = *run.answers[static_cast<std::size_t>(i)];
    REQUIRE(a.result);
    REQUIRE(*a.result);
    CHECK(appended(**a.result) == std::vector<std::string>{"wamid.c" + std::to_string(i)});
  }
  const Answer& redelivery = *run.answers[16];
  REQUIRE(redelivery.result);
  REQUIRE(*redelivery.result);
  REQUIRE((*redelivery.result)->changes.size() == 1);
  CHECK((*redelivery.result)->changes[0].kind == TicketChangeKind::duplicate_ignored);

  const auto seen = stored_messages(store);
  CHECK(seen.size() == 16);
  for (const auto& [id, count] : seen) {
    INFO(id);
    CHECK(count == 1);
  }
}

TEST_CASE("issue11 item 4: a unit never holds more bodies than the bound; the oldest go first",
          "[tickets][issue11][concurrent]") {
  TestStore store;
  Gate gate;
  store.gate = &gate;
  TicketAggregator tickets(store);
  GroupCommitOptions options;
  options.max_bodies_per_unit = 4;
  GroupCommitter committer(tickets, options);
  std::vector<WebhookBatch> bodies;
  for (int i = 0; i < 11; ++i) bodies.push_back(body("g1", "wamid.b" + std::to_string(i), T0 + i));

  Arranged run;
  start_held_unit(committer, gate, bodies, run);
  // Units of 4, 4 and 2 follow the first; let through one at a time to see who is answered.
  gate.release_one();  // the first body's unit
  gate.wait_entered(2);
  run.threads[0].join();
  CHECK(run.answers[0]->returned);
  gate.release_one();  // bodies 1-4
  gate.wait_entered(3);
  for (std::size_t i = 1; i <= 4; ++i) {
    run.threads[i].join();
    CHECK(run.answers[i]->returned);
  }
  for (std::size_t i = 5; i < 11; ++i) CHECK_FALSE(run.answers[i]->returned);
  gate.open();
  for (std::size_t i = 5; i < 11; ++i) run.threads[i].join();
  CHECK(store.units == 4);
  CHECK(committer.stats().units == 4);
  CHECK(committer.stats().largest_unit == 4);
  CHECK(stored_messages(store).size() == 11);
}

TEST_CASE("issue11 item 4: no caller returns before the commit of the unit holding its body",
          "[tickets][issue11][concurrent]") {
  TestStore store;
  Gate gate;
  store.gate = &gate;
  TicketAggregator tickets(store);
  GroupCommitter committer(tickets);
  const std::vector<WebhookBatch> bodies{body("g1", "wamid.w0"), body("g1", "wamid.w1", T0 + 1),
                                         body("g2", "wamid.w2", T0 + 2)};
  Arranged run;
  start_held_unit(committer, gate, bodies, run);
  CHECK_FALSE(run.answers[0]->returned);  // its unit is held before the commit
  gate.release_one();
  gate.wait_entered(2);  // the second unit (bodies 1 and 2) ran its work and waits to commit
  run.threads[0].join();
  CHECK(run.answers[0]->returned);
  CHECK_FALSE(run.answers[1]->returned);
  CHECK_FALSE(run.answers[2]->returned);
  CHECK(committer.waiting() == 0);  // both are in the held unit, not queued
  finish(gate, run);
  for (const auto& a : run.answers) {
    REQUIRE(a->result);
    CHECK(*a->result);
  }
  CHECK(store.units == 2);
  CHECK(stored_messages(store).size() == 3);
}

TEST_CASE("issue11 item 4: a failing body among good ones gets the error; the others commit with their own outcomes",
          "[tickets][issue11][concurrent]") {
  TestStore store;
  Gate gate;
  store.gate = &gate;
  TicketAggregator tickets(store);
  GroupCommitter committer(tickets);
  const std::vector<WebhookBatch> bodies{body("g1", "wamid.first"), body("g1", "wamid.good-1", T0 + 1),
                                         body("g2", "wamid.poison", T0 + 2), body("g1", "wamid.good-2", T0 + 3),
                                         body("g3", "wamid.good-3", T0 + 4)};
  Arranged run;
  start_held_unit(committer, gate, bodies, run);
  finish(gate, run);

  // 1 (first) + 1 (the unit of four, failed) + 4 (each body alone).
  CHECK(store.units == 6);
  CHECK(committer.stats().failed_units == 1);
  for (std::size_t i : {0u, 1u, 3u, 4u}) {
    INFO(i);
    REQUIRE(run.answers[i]->result);
    REQUIRE(*run.answers[i]->result);
    const std::string id = std::get<GroupMessageReceived>(bodies[i].events[0]).id;
    CHECK(appended(**run.answers[i]->result) == std::vector<std::string>{id});
  }
  const Answer& poisoned = *run.answers[2];
  REQUIRE(poisoned.result);
  REQUIRE_FALSE(*poisoned.result);
  CHECK(poisoned.result->error().code == ErrorCode::storage);
  CHECK(poisoned.result->error().message.find("wamid.poison") != std::string::npos);

  const auto seen = stored_messages(store);
  CHECK(seen.size() == 4);
  CHECK(seen.count("wamid.poison") == 0);
}

TEST_CASE("issue11 item 4: a store that fails fails every body of its unit, and nothing is acknowledged",
          "[tickets][issue11][concurrent]") {
  TestStore store;
  Gate gate;
  store.gate = &gate;
  TicketAggregator tickets(store);
  GroupCommitter committer(tickets);
  const std::vector<WebhookBatch> bodies{body("g1", "wamid.before"), body("g1", "wamid.d1", T0 + 1),
                                         body("g2", "wamid.d2", T0 + 2), body("g3", "wamid.d3", T0 + 3)};
  Arranged run;
  start_held_unit(committer, gate, bodies, run);
  store.down = true;  // the database goes away while the first unit commits
  finish(gate, run);

  REQUIRE(run.answers[0]->result);
  CHECK(*run.answers[0]->result);  // committed before the failure
  for (std::size_t i = 1; i < bodies.size(); ++i) {
    INFO(i);
    REQUIRE(run.answers[i]->result);
    REQUIRE_FALSE(*run.answers[i]->result);
    CHECK(run.answers[i]->result->error().code == ErrorCode::storage);
  }
  store.down = false;
  CHECK(stored_messages(store) == std::map<std::string, int>{{"wamid.before", 1}});
  // Meta's redelivery then commits.
  store.gate = nullptr;
  auto redelivered = committer.apply(bodies[2]);
  REQUIRE(redelivered);
  CHECK(appended(*redelivered) == std::vector<std::string>{"wamid.d2"});
}

TEST_CASE("issue11 item 4: a store that throws reaches only the caller whose body threw; the others commit",
          "[tickets][issue11][concurrent]") {
  TestStore store;
  Gate gate;
  store.gate = &gate;
  TicketAggregator tickets(store);
  GroupCommitter committer(tickets);
  const std::vector<WebhookBatch> bodies{body("g1", "wamid.t0"), body("g1", "wamid.t1", T0 + 1),
                                         body("g2", "wamid.throw", T0 + 2), body("g3", "wamid.t3", T0 + 3)};
  Arranged run;
  start_held_unit(committer, gate, bodies, run);
  finish(gate, run);

  CHECK(committer.stats().failed_units == 1);
  for (std::size_t i : {0u, 1u, 3u}) {
    INFO(i);
    CHECK(run.answers[i]->thrown.empty());
    REQUIRE(run.answers[i]->result);
    CHECK(*run.answers[i]->result);
  }
  CHECK(run.answers[2]->thrown.find("the store threw") != std::string::npos);
  CHECK_FALSE(run.answers[2]->result);
  const auto seen = stored_messages(store);
  CHECK(seen.size() == 3);
  CHECK(seen.count("wamid.throw") == 0);

  // Alone, the exception comes straight back, and the committer still works afterwards.
  store.gate = nullptr;
  CHECK_THROWS_AS(committer.apply(bodies[2]), std::runtime_error);
  CHECK(committer.apply(body("g4", "wamid.after")));
}

TEST_CASE("issue11 item 4: many threads at once: every body applied exactly once, every caller answered",
          "[tickets][issue11][concurrent]") {
  TestStore store;
  TicketAggregator tickets(store);
  GroupCommitOptions options;
  options.max_bodies_per_unit = 8;
  GroupCommitter committer(tickets, options);
  constexpr int kThreads = 8;
  constexpr int kBodies = 40;
  std::vector<std::vector<WebhookBatch>> bodies(kThreads);
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kBodies; ++i)  // every body twice, from two threads (Meta's redelivery)
      bodies[static_cast<std::size_t>(t)].push_back(
          body("g" + std::to_string(i % 5), "wamid.m" + std::to_string((t / 2) * kBodies + i), T0 + i));
  std::atomic<int> appended_total{0};
  std::atomic<int> duplicates{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (const auto& b : bodies[static_cast<std::size_t>(t)]) {
        auto r = committer.apply(b);
        if (!r) {
          ++failures;
          continue;
        }
        appended_total += static_cast<int>(appended(*r).size());
        for (const auto& c : r->changes)
          if (c.kind == TicketChangeKind::duplicate_ignored) ++duplicates;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(appended_total == kThreads / 2 * kBodies);
  CHECK(duplicates == kThreads / 2 * kBodies);
  const auto stats = committer.stats();
  CHECK(stats.bodies == static_cast<std::uint64_t>(kThreads * kBodies));
  CHECK(stats.units == static_cast<std::uint64_t>(store.units.load()));
  CHECK(stats.largest_unit <= 8);
  CHECK(committer.waiting() == 0);
  const auto seen = stored_messages(store);
  CHECK(seen.size() == static_cast<std::size_t>(kThreads / 2 * kBodies));
  for (const auto& [id, count] : seen) {
    INFO(id);
    CHECK(count == 1);
  }
}

TEST_CASE("issue11 item 4: destroying the committer waits for a caller still inside apply",
          "[tickets][issue11][concurrent]") {
  TestStore store;
  Gate gate;
  store.gate = &gate;
  TicketAggregator tickets(store);
  auto committer = std::make_unique<GroupCommitter>(tickets);
  const auto b = body("g1", "wamid.last");
  Answer answer;
  std::thread caller(submit, std::ref(*committer), std::cref(b), std::ref(answer));
  gate.wait_entered(1);
  std::atomic<bool> destroyed{false};
  std::thread destroyer([&] {
    committer.reset();
    destroyed = true;
  });
  CHECK_FALSE(answer.returned);
  gate.open();
  caller.join();
  destroyer.join();
  CHECK(destroyed);
  REQUIRE(answer.result);
  CHECK(*answer.result);
}
