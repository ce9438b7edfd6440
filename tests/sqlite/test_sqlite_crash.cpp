// Crash test for SqliteTicketStore: wagroups_sqlite_crash_child ingests a stream of duplicated,
// reordered events in acknowledged batches (durability FULL) and is killed with SIGKILL at seeded
// random points, some in the middle of a batch, some between batches. Each restart redelivers
// everything not acknowledged plus the last acknowledged batch (as Meta redelivers what it is not
// sure of). At the end every ticket must equal the in-order in-memory reference (nothing lost) and
// the journal (crash_stream.hpp) must show each event key applied exactly once across all runs.
//
// WAGROUPS_CRASH_SEED=<s> changes the stream and the kill schedule.

#include "crash_stream.hpp"
#include "sqlite_test_support.hpp"

#include <catch2/catch_test_macros.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef WAGROUPS_SQLITE_CRASH_CHILD
#error "WAGROUPS_SQLITE_CRASH_CHILD (the helper program's path) must be defined by the build"
#endif

using namespace wagroups;

namespace {

constexpr int kKills = 24;

/// A running child with its stdout on a pipe, read line by line.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      std::_Exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }

  /// The next line, or nullopt at end of output; fails the test after `timeout`.
  std::optional<std::string> line(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    for (;;) {
      const auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string out = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return out;
      }
      if (eof_) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (ready < 0 && errno == EINTR) continue;
      REQUIRE(ready > 0);  // else the child hangs
      char chunk[4096];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      REQUIRE(n >= 0);
      if (n == 0) eof_ = true;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  void kill() { ::kill(pid_, SIGKILL); }

  /// Waits for the exit; returns the raw wait status.
  int wait() {
    int status = 0;
    REQUIRE(::waitpid(pid_, &status, 0) == pid_);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

std::uint64_t crash_seed() {
  const char* text = std::getenv("WAGROUPS_CRASH_SEED");
  return text != nullptr && *text != '\0' ? std::strtoull(text, nullptr, 10) : wagroups_crash::kDefaultSeed;
}

/// The in-order reference: every scenario's steps once, in order, through the journal.
wagroups_crash::StoreContents reference_contents(const wagroups_crash::CrashStream& stream) {
  InMemoryTicketStore memory;
  wagroups_crash::JournalingStore journaled(memory, "reference");
  for (const auto& scenario : stream.scenarios) {
    auto failed = wagroups_test::run_plan(journaled, scenario, wagroups_test::in_order_plan(scenario));
    INFO("reference run of scenario " << scenario.seed);
    REQUIRE_FALSE(failed);
  }
  auto contents = wagroups_crash::read_contents(memory);
  REQUIRE(contents);
  for (const auto& [key, count] : contents->key_counts) {
    INFO(key);
    REQUIRE(count == 1);
  }
  return std::move(*contents);
}

wagroups_crash::StoreContents sqlite_contents(const std::string& path) {
  auto store = wagroups_sqlite_test::open_store(path);
  auto contents = wagroups_crash::read_contents(*store);
  if (!contents) FAIL(contents.error().to_string());
  return std::move(*contents);
}

void check_same_tickets(const wagroups_crash::StoreContents& expected, const wagroups_crash::StoreContents& actual) {
  REQUIRE(expected.tickets.size() == actual.tickets.size());
  for (std::size_t i = 0; i < expected.tickets.size(); ++i) {
    const Ticket& x = expected.tickets[i].ticket;
    const Ticket& y = actual.tickets[i].ticket;
    INFO("reference:  " << to_json(x) << "\nafter crashes: " << to_json(y));
    REQUIRE(x == y);
  }
}

std::vector<std::string> child_args(const std::string& db, std::uint64_t seed, int run, std::size_t first) {
  return {WAGROUPS_SQLITE_CRASH_CHILD, db, std::to_string(seed), std::to_string(run), std::to_string(first)};
}

}  // namespace

TEST_CASE("SIGKILL at random points: nothing lost, nothing applied twice", "[sqlite][crash]") {
  const std::uint64_t seed = crash_seed();
  const auto stream = wagroups_crash::make_crash_stream(seed);
  const std::size_t total = stream.batches.size();
  REQUIRE(total >= static_cast<std::size_t>(kKills) * 3);
  wagroups_sqlite_test::TempDir dir;
  const std::string db = dir.file("crash.db");

  // The kill schedule: one target batch per stratum of the stream, so kills spread over all of it.
  std::mt19937_64 rng(seed);
  const std::size_t stride = total / kKills;
  std::vector<std::size_t> targets;
  for (int k = 0; k < kKills; ++k) {
    targets.push_back(static_cast<std::size_t>(k) * stride +
                      std::uniform_int_distribution<std::size_t>(0, stride - 2)(rng));
  }
  enum class When { after_delay, at_begin, after_ack };

  std::optional<std::size_t> last_acked;
  int kills = 0;
  int mid_batch = 0;
  int between_batches = 0;
  int runs = 0;
  double batch_us = 2000;  // running mean of begin->ack, to aim the delayed kills inside batches
  std::size_t next_target = 0;
  const auto started = std::chrono::steady_clock::now();

  for (bool finished = false; !finished;) {
    REQUIRE(runs < kKills * 3);  // progress is made every run
    // Redeliver everything not acknowledged, and the last acknowledged batch once more.
    const std::size_t first = last_acked ? *last_acked : 0;
    while (next_target < targets.size() && targets[next_target] < first) ++next_target;
    // (A plain index with a "none" value: g++ 12 misreads an optional here as maybe-uninitialized.)
    constexpr std::size_t no_target = static_cast<std::size_t>(-1);
    const std::size_t target = next_target < targets.size() ? targets[next_target++] : no_target;
    const int roll = std::uniform_int_distribution<int>(0, 99)(rng);
    const When when = roll < 65 ? When::after_delay : roll < 85 ? When::at_begin : When::after_ack;
    const double delay_fraction = std::uniform_real_distribution<double>(0.0, 1.2)(rng);

    Child child(child_args(db, seed, runs++, first));
    std::optional<std::size_t> open_batch;  // begun, not acknowledged
    auto begun_at = std::chrono::steady_clock::now();
    auto note = [&](const std::string& line) {
      std::istringstream in(line);
      std::string word;
      std::size_t n = 0;
      in >> word >> n;
      if (word == "begin") {
        open_batch = n;
        begun_at = std::chrono::steady_clock::now();
      } else if (word == "ack") {
        REQUIRE(open_batch == std::optional<std::size_t>(n));
        open_batch.reset();
        last_acked = n;
        const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - begun_at).count();
        batch_us = 0.8 * batch_us + 0.2 * us;
      } else if (word == "done") {
        finished = true;
      } else {
        FAIL("unexpected line from the child: " << line);
      }
    };

    bool killed = false;
    while (auto line = child.line()) {
      note(*line);
      if (target == no_target || killed) continue;
      const bool at_target_begin = line->rfind("begin ", 0) == 0 && open_batch && *open_batch == target;
      const bool at_target_ack = line->rfind("ack ", 0) == 0 && last_acked && *last_acked == target;
      if (when == When::after_ack ? at_target_ack : at_target_begin) {
        if (when == When::after_delay) {
          std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long>(delay_fraction * batch_us)));
        }
        child.kill();
        killed = true;
        // Keep reading: whatever the child wrote before it died is still in the pipe.
      }
    }
    const int status = child.wait();
    if (killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
      ++kills;
      if (open_batch) {
        ++mid_batch;
      } else {
        ++between_batches;
      }
      finished = false;  // killed after "done" was written: run again, which must be harmless
      continue;
    }
    INFO("child exit status " << status);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    REQUIRE(finished);
  }
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  UNSCOPED_INFO("seed " << seed << ": " << total << " batches, " << stream.deliveries << " event deliveries, " << runs
                        << " runs, " << kills << " kills (" << mid_batch << " mid-batch, " << between_batches
                        << " between batches), mean batch " << static_cast<long>(batch_us) << " us, " << seconds << " s");
  CHECK(kills >= 20);
  CHECK(mid_batch >= 1);
  // Whether an after-ack kill lands before the child begins its next batch depends on scheduling
  // (the parent reads the pipe late on a loaded machine), so this category is reported, not required.
  if (between_batches == 0) WARN("no kill landed between batches in this run (scheduling)");

  const auto expected = reference_contents(stream);
  const auto actual = sqlite_contents(db);
  // Nothing lost: the same tickets as one in-order delivery.
  check_same_tickets(expected, actual);
  // Nothing applied twice, nothing lost, according to the journal committed with each unit.
  const auto violations = wagroups_crash::exactly_once_violations(expected.key_counts, actual.key_counts);
  INFO(violations.size() << " violations, first: " << (violations.empty() ? std::string() : violations.front()));
  CHECK(violations.empty());
  CHECK(actual.key_counts.size() == expected.key_counts.size());
  // And the store's own dedupe keys know every applied event.
  auto store = wagroups_sqlite_test::open_store(db);
  std::size_t known = 0;
  REQUIRE(store->transact([&](TicketTransaction& tx) -> Result<void> {
    for (const auto& entry : expected.key_counts) {
      auto applied = tx.applied(entry.first);
      if (!applied) return applied.error();
      if (*applied) ++known;
    }
    return {};
  }));
  CHECK(known == expected.key_counts.size());
}

TEST_CASE("the crash test's journal catches double application (negative control)", "[sqlite][crash]") {
  // The same stream through a store whose dedupe keys the aggregator cannot see: the stream's
  // duplicate deliveries are then applied again. The tickets still converge (the facts are a
  // set), so only the journal can tell, and it must.
  const std::uint64_t seed = crash_seed();
  const auto stream = wagroups_crash::make_crash_stream(seed);
  wagroups_sqlite_test::TempDir dir;
  const std::string db = dir.file("no-dedupe.db");
  {
    auto args = child_args(db, seed, 0, 0);
    args.push_back("--ignore-dedupe");
    Child child(args);
    bool done = false;
    while (auto line = child.line()) done = done || *line == "done";
    const int status = child.wait();
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    REQUIRE(done);
  }
  const auto expected = reference_contents(stream);
  const auto actual = sqlite_contents(db);
  check_same_tickets(expected, actual);
  const auto violations = wagroups_crash::exactly_once_violations(expected.key_counts, actual.key_counts);
  REQUIRE_FALSE(violations.empty());
  CHECK(violations.front().rfind("applied ", 0) == 0);
}
