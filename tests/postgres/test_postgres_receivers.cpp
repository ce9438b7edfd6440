// Issue 12's acceptance tests at the process level: four wagroups_postgres_receiver_child
// processes (receiver_child.cpp) ingest one stream into one PostgresTicketStore schema, as
// receivers behind a load balancer would; the test process plays Meta (delivers, redelivers what
// was not acknowledged) and the host (its own calls).
//
// The stream: several scenarios of tests/support/ticket_scenarios.hpp under one common policy and
// end time (as the SQLite crash test builds its stream), each scenario's shuffled_plan (every event
// 1-3 times, displaced) interleaved with the others' at random, batches split into single
// deliveries. Each event delivery goes to a random receiver (at most kWindow unanswered per
// receiver, so they run concurrently). A delivery answered "err" (a conflict past the
// aggregator's own retries, or storage) is redelivered after a backoff, to a random receiver.
//
// Host actions are the host's own calls, not webhooks, so no receiver runs them: the parent
// applies each exactly once, through its own store, at its place in the stream, after dispatching
// what precedes it. Deliveries still in flight then run concurrently with it, as webhooks do with
// an agent's call on a real deployment; the order they take is the displacement the shuffled
// plans already have. A 1:1 invite status is never sent before its invite's record. A host call
// failing (server down) is retried; the parent ticks once at the common end time.
//
// The reference is one in-order delivery of every scenario into an InMemoryTicketStore, with the
// same single tick; tickets are compared with compare_stores. Exactly-once is checked per event
// key with the children's two journals (see receiver_child.cpp): the file (every delivery
// answered) and the database entries written in the applying unit (which settle in-doubt
// deliveries). Whether an event applies depends on order (a status of an invite since replaced
// does not), so a key the in-order run applied may be answered "not applicable" here: allowed,
// the tickets decide; applied twice, or never answered, is not.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "env_number.hpp"
#include "postgres_test_support.hpp"
#include "temp_dir.hpp"
#include "ticket_scenarios.hpp"
#include "wagroups/postgres/ticket_store.hpp"
#include "wagroups/tickets.hpp"

#ifndef WAGROUPS_POSTGRES_RECEIVER_CHILD
#error "WAGROUPS_POSTGRES_RECEIVER_CHILD (the receiver program's path) must be defined by the build"
#endif

using namespace wagroups;

namespace {

constexpr int kReceivers = 4;
constexpr std::size_t kWindow = 2;     // unanswered deliveries per receiver
constexpr int kMaxRedeliveries = 200;  // per stream item: a stuck store fails the test
constexpr const char* kJournalPrefix = "~journal-";

using wagroups_test::fresh_schema;

std::string server_url() { return wagroups_test::postgres_url(); }

std::unique_ptr<PostgresTicketStore> open_store(const std::string& url, const std::string& schema) {
  return wagroups_test::open_postgres(url, schema);
}

// ---------------------------------------------------------------------------------------------
// The stream and its reference

struct Stream {
  struct Item {
    std::size_t scenario = 0;
    std::size_t step = 0;
  };
  std::vector<wagroups_test::TicketScenario> scenarios;
  std::vector<Item> items;  // host actions once, event deliveries 1-3 times
  ResolutionPolicy policy;
  std::int64_t end_time = 0;
  std::size_t deliveries = 0;

  const wagroups_test::ScenarioStep& step(const Item& item) const { return scenarios[item.scenario].steps[item.step]; }
};

Stream make_stream(std::uint64_t base_seed, std::size_t count) {
  Stream stream;
  // One policy for all: the receivers' aggregators serve every scenario at once.
  stream.policy.auto_resolve_after = std::chrono::minutes(45);
  stream.policy.auto_close_after = std::chrono::minutes(120);
  stream.policy.reopen_on_inbound = true;
  for (std::size_t i = 0; i < count; ++i) {
    auto s = wagroups_test::make_ticket_scenario(base_seed + i);
    stream.end_time = std::max(stream.end_time, s.end_time);
    stream.scenarios.push_back(std::move(s));
  }
  std::vector<wagroups_test::DeliveryPlan> plans;
  for (auto& s : stream.scenarios) {
    s.policy = stream.policy;
    s.end_time = stream.end_time;
    plans.push_back(wagroups_test::shuffled_plan(s, s.seed));
  }
  wagroups_test::ScenarioRng rng(base_seed ^ 0x9E37ull);
  std::vector<std::size_t> next(plans.size(), 0);
  for (;;) {
    std::vector<std::size_t> open;
    for (std::size_t p = 0; p < plans.size(); ++p)
      if (next[p] < plans[p].size()) open.push_back(p);
    if (open.empty()) break;
    const std::size_t p = rng.pick(open);
    for (std::size_t step : plans[p][next[p]].steps) {
      stream.items.push_back(Stream::Item{p, step});
      if (stream.scenarios[p].steps[step].is_event) ++stream.deliveries;
    }
    ++next[p];
  }
  return stream;
}

Result<ApplyOutcome> run_action(TicketAggregator& tickets, std::int64_t& now, const wagroups_test::HostAction& a) {
  using Kind = wagroups_test::HostAction::Kind;
  now = a.at;
  switch (a.kind) {
    case Kind::open_ticket: return tickets.open_ticket(a.open);
    case Kind::record_outbound: return tickets.record_outbound(a.ticket_id, a.message_id, a.type, a.text, a.agent);
    case Kind::record_invite: return tickets.record_invite(a.ticket_id, a.invite);
    case Kind::resolve: return tickets.resolve(a.ticket_id);
    case Kind::close: return tickets.close(a.ticket_id);
  }
  return ApplyOutcome{};
}

std::chrono::system_clock::time_point at_seconds(std::int64_t s) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(s));
}

bool applied(const ApplyOutcome& outcome) {
  for (const auto& c : outcome.changes)
    if (c.kind == TicketChangeKind::duplicate_ignored || c.kind == TicketChangeKind::not_applicable) return false;
  return true;
}

// Every scenario in its true order, one call each, then one tick; the keys it applied.
std::set<std::string> run_reference(const Stream& stream, InMemoryTicketStore& memory) {
  std::int64_t now = 0;
  TicketAggregator tickets(memory, stream.policy, [&now] { return at_seconds(now); });
  std::set<std::string> keys;
  for (const auto& s : stream.scenarios) {
    for (const auto& step : s.steps) {
      if (!step.is_event) {
        REQUIRE(run_action(tickets, now, step.action));
        continue;
      }
      auto r = tickets.apply(step.event);
      REQUIRE(r);
      if (applied(*r)) {
        auto key = event_key(step.event);
        REQUIRE(key);
        keys.insert(*key);
      }
    }
  }
  REQUIRE(tickets.tick(at_seconds(stream.end_time)));
  return keys;
}

// The store as compare_stores should see it: without the children's journal entries.
class WithoutJournal final : public TicketStore {
 public:
  explicit WithoutJournal(TicketStore& inner) : inner_(inner) {}
  Result<void> transact(const std::function<Result<void>(TicketTransaction&)>& work) override {
    return inner_.transact(work);
  }
  Result<std::optional<StoredTicket>> load(const std::string& id) override { return inner_.load(id); }
  Result<std::optional<std::string>> find_by_group(const std::string& g) override { return inner_.find_by_group(g); }
  Result<std::optional<std::string>> find_by_request(const std::string& r) override {
    return inner_.find_by_request(r);
  }
  Result<std::vector<StoredTicket>> list(const TicketQuery& q) override {
    auto all = inner_.list(q);
    if (!all) return all;
    std::vector<StoredTicket> out;
    for (auto& t : *all)
      if (t.ticket.ticket_id.rfind(kJournalPrefix, 0) != 0) out.push_back(std::move(t));
    return out;
  }

 private:
  TicketStore& inner_;
};

// ---------------------------------------------------------------------------------------------
// Receiver processes

class Receiver {
 public:
  Receiver(const std::vector<std::string>& args, std::string name, std::string journal)
      : name_(std::move(name)), journal_(std::move(journal)) {
    int in[2];
    int out[2];
    // Close-on-exec: no other child may hold this child's stdin open (it must see end of input).
    REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(in[0], STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      std::_Exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;
  ~Receiver() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (to_ >= 0) ::close(to_);
    if (from_ >= 0) ::close(from_);
  }

  const std::string& name() const { return name_; }
  const std::string& journal() const { return journal_; }
  int fd() const { return from_; }
  bool alive() const { return pid_ > 0; }

  void send(const std::string& line) {
    std::size_t written = 0;
    while (written < line.size()) {
      const ssize_t n = ::write(to_, line.data() + written, line.size() - written);
      if (n < 0 && errno == EINTR) continue;
      REQUIRE(n > 0);
      written += static_cast<std::size_t>(n);
    }
  }

  /// Whatever complete lines are readable now; `eof` set when the child closed its output.
  std::vector<std::string> read_lines(bool& eof) {
    char chunk[4096];
    const ssize_t n = ::read(from_, chunk, sizeof chunk);
    if (n == 0) eof = true;
    if (n > 0) buffer_.append(chunk, static_cast<std::size_t>(n));
    std::vector<std::string> lines;
    for (auto nl = buffer_.find('\n'); nl != std::string::npos; nl = buffer_.find('\n')) {
      lines.push_back(buffer_.substr(0, nl));
      buffer_.erase(0, nl + 1);
    }
    return lines;
  }

  /// Ends its input and returns its exit status (raw wait status).
  int finish() {
    ::close(to_);
    to_ = -1;
    return reap();
  }
  void kill() {
    ::kill(pid_, SIGKILL);
    reap();
  }

  std::set<std::uint64_t> inflight;

 private:
  int reap() {
    int status = 0;
    REQUIRE(::waitpid(pid_, &status, 0) == pid_);
    pid_ = -1;
    return status;
  }

  std::string name_;
  std::string journal_;
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  std::string buffer_;
};

// ---------------------------------------------------------------------------------------------
// One file journal line: "<outcome> <seq> <seed> <step>[ <error>]".

struct JournalLine {
  std::string outcome;
  std::uint64_t seq = 0;
  std::string rest;
};

std::vector<JournalLine> read_journal(const std::string& path) {
  std::vector<JournalLine> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    JournalLine j;
    words >> j.outcome >> j.seq;
    std::getline(words, j.rest);
    out.push_back(std::move(j));
  }
  return out;
}

bool acknowledged(const std::string& outcome) {
  return outcome == "applied" || outcome == "duplicate" || outcome == "not_applicable";
}

// ---------------------------------------------------------------------------------------------
// The run

struct RunOptions {
  std::optional<std::size_t> kill_at;     // stream item at which receiver 0 is killed
  std::optional<std::size_t> restart_at;  // stream item at which the server is restarted
  std::string server_dir;
};

struct RunReport {
  std::size_t sent = 0;    // deliveries sent, redeliveries included
  std::size_t errors = 0;  // answered "err"
  std::size_t redelivered_after_kill = 0;
  std::size_t host_retries = 0;
  std::size_t in_doubt_committed = 0;        // unanswered or failed deliveries the database shows committed
  std::size_t not_applicable_here = 0;       // keys applied in order, not applicable in this order
  std::size_t applied_beyond_reference = 0;  // the reverse
  std::string first_error;
  std::map<std::string, int> error_kinds;
  int restart_status = -1;
  double seconds = 0;
};

// pg_ctl restart of the test server (its log: pg_ctl-restart.log).
int restart_server(const std::string& dir) { return wagroups_test::pg_ctl(dir, "-m fast -w -t 60 restart", "restart"); }

class Run {
 public:
  Run(const std::string& url, const std::string& schema, const Stream& stream, std::uint64_t seed, RunOptions options)
      : url_(url), schema_(schema), stream_(stream), rng_(seed), options_(std::move(options)) {}

  RunReport go() {
    const auto started = std::chrono::steady_clock::now();
    auto host_store = open_store(url_, schema_);  // migrates before the receivers start
    for (int r = 0; r < kReceivers; ++r) {
      const std::string name = "r" + std::to_string(r);
      const std::string journal = dir_.path() + "/" + name + ".journal";
      receivers_.push_back(std::make_unique<Receiver>(
          std::vector<std::string>{WAGROUPS_POSTGRES_RECEIVER_CHILD, url_, schema_, journal, name,
                                   std::to_string(stream_.policy.auto_resolve_after.count()),
                                   std::to_string(stream_.policy.auto_close_after.count()),
                                   stream_.policy.reopen_on_inbound ? "1" : "0"},
          name, journal));
    }
    std::int64_t now = 0;
    TicketAggregator host(*host_store, stream_.policy, [&now] { return at_seconds(now); });
    std::thread restarter;
    std::atomic<bool> restarting{false};
    // A failed REQUIRE must not destroy a joinable thread (std::terminate).
    struct Joiner {
      std::thread& t;
      ~Joiner() {
        if (t.joinable()) t.join();
      }
    } joiner{restarter};

    for (std::size_t i = 0; i < stream_.items.size(); ++i) {
      dispatch_due_retries();
      if (options_.restart_at && i == *options_.restart_at) {
        restarting = true;
        restarter = std::thread([&] {
          report_.restart_status = restart_server(options_.server_dir);
          restarting = false;
        });
      }
      const auto& step = stream_.step(stream_.items[i]);
      if (!step.is_event) {
        // The host's own call, once; retried while the store fails (server restarting).
        for (int attempt = 0;; ++attempt) {
          auto done = run_action(host, now, step.action);
          if (done) break;
          INFO("host action at stream item " << i << ": " << done.error().to_string());
          REQUIRE(attempt < kMaxRedeliveries);
          ++report_.host_retries;
          pump(std::chrono::milliseconds(50));
        }
        continue;
      }
      if (options_.kill_at && i == *options_.kill_at) {
        // Kill receiver 0 inside this delivery: once it has journalled "begin", a few hundred
        // microseconds into a unit of several round trips, so the unit is cut off or in doubt.
        const std::uint64_t seq = send(i, 0);
        wait_for_begin(*receivers_[0], seq);
        std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 300)(rng_)));
        kill_and_redeliver(0);
        continue;
      }
      send(i, pick_receiver());
      // While the server restarts, deliver slowly, so that deliveries keep meeting it down.
      if (restarting) pump(std::chrono::milliseconds(20));
    }
    while (!retries_.empty() || any_inflight()) {
      dispatch_due_retries();
      pump(std::chrono::milliseconds(20));
    }
    if (restarter.joinable()) restarter.join();
    for (auto& r : receivers_) {
      if (!r->alive()) continue;
      const int status = r->finish();
      INFO("receiver " << r->name() << " exit status " << status);
      CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    for (int attempt = 0;; ++attempt) {
      auto ticked = host.tick(at_seconds(stream_.end_time));
      if (ticked) break;
      REQUIRE(attempt < 50);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return report_;
  }

  /// Exactly-once per event key, from both journals, against the reference's applied keys.
  void check_journals(const std::set<std::string>& reference_keys) {
    auto store = open_store(url_, schema_);
    TicketQuery all;
    all.limit = std::numeric_limits<std::size_t>::max();
    auto listed = store->list(all);
    REQUIRE(listed);
    std::map<std::string, std::string> db_journal;  // "<name>-<seq>" -> keys
    for (const auto& t : *listed) {
      const auto& id = t.ticket.ticket_id;
      if (id.rfind(kJournalPrefix, 0) == 0)
        db_journal[id.substr(std::string(kJournalPrefix).size())] = t.ticket.description.value_or("");
    }
    std::map<std::string, int> applications;     // event key -> committed units that applied it
    std::map<std::string, std::string> history;  // event key -> its deliveries, for the messages
    std::map<std::string, int> not_applicable;   // event key -> deliveries answered "not applicable"
    std::set<std::string> acknowledged_keys;
    std::size_t file_applied = 0;
    for (const auto& r : receivers_) {
      std::map<std::uint64_t, std::string> last;  // seq -> its last line's outcome
      for (const auto& line : read_journal(r->journal())) {
        if (line.outcome == "error") {
          if (report_.first_error.empty()) report_.first_error = line.rest;
          // The error's words past "<seed> <step>", digits dropped, to group them.
          std::string kind;
          for (char c : line.rest)
            if (!std::isdigit(static_cast<unsigned char>(c))) kind += c;
          ++report_.error_kinds[kind];
        }
        last[line.seq] = line.outcome;
      }
      for (const auto& [seq, delivery] : sent_) {
        if (delivery.receiver != r.get()) continue;
        const std::string id = r->name() + "-" + std::to_string(seq);
        const auto outcome = last.find(seq);
        const bool in_db = db_journal.count(id) != 0;
        INFO("delivery " << id << " (stream item " << delivery.item << ")");
        if (r->alive() || !killed_unanswered_.count(seq)) {
          // Every delivery to a receiver that lived on was answered in its journal.
          REQUIRE(outcome != last.end());
          CHECK(outcome->second != "begin");
        }
        const auto key_of = event_key(stream_.step(stream_.items[delivery.item]).event);
        if (key_of && outcome != last.end() && acknowledged(outcome->second)) acknowledged_keys.insert(*key_of);
        if (key_of && outcome != last.end() && outcome->second == "not_applicable") ++not_applicable[*key_of];
        if (outcome != last.end() && outcome->second == "applied") {
          ++file_applied;
          CHECK(in_db);  // what the file calls applied, committed
        } else if (in_db) {
          // Committed, yet not journalled as applied: only an in-doubt delivery may be (killed before
          // its line, or a connection lost while COMMIT was in flight).
          const bool in_doubt = outcome == last.end() || outcome->second == "begin" || outcome->second == "error";
          CHECK(in_doubt);
          ++report_.in_doubt_committed;
        }
        if (const auto k = event_key(stream_.step(stream_.items[delivery.item]).event)) {
          history[*k] += " " + id + "@" + std::to_string(delivery.item) + ":" +
                         (outcome == last.end() ? std::string("unanswered") : outcome->second) + (in_db ? "+db" : "");
        }
        if (in_db) {
          const auto key = event_key(stream_.step(stream_.items[delivery.item]).event);
          REQUIRE(key);
          CHECK(db_journal[id] == *key + "\n");
          ++applications[*key];
        }
      }
    }
    for (const auto& [key, count] : applications) {
      INFO("event key " << key << ", deliveries (receiver-seq@item:outcome):" << history[key]);
      CHECK(count == 1);  // never applied twice
      // Applicability depends on order (a status of an invite already replaced is not applicable):
      // a key applied here but not in order, or the reverse, is allowed; the tickets decide.
      if (reference_keys.count(key) == 0) ++report_.applied_beyond_reference;
    }
    for (const auto& key : reference_keys) {
      if (applications.count(key)) continue;
      INFO("event key " << key << ", deliveries (receiver-seq@item:outcome):" << history[key]);
      CHECK(not_applicable[key] > 0);  // not lost: a receiver judged it not applicable, and said so
      ++report_.not_applicable_here;
    }
    for (const auto& item : stream_.items) {
      const auto& step = stream_.step(item);
      if (!step.is_event) continue;
      const auto key = event_key(step.event);
      if (!key) continue;
      INFO("event key " << *key << ", deliveries (receiver-seq@item:outcome):" << history[*key]);
      CHECK((acknowledged_keys.count(*key) != 0 || applications.count(*key) != 0));  // every event answered
    }
    std::size_t committed = 0;
    for (const auto& entry : applications) committed += static_cast<std::size_t>(entry.second);
    CHECK(file_applied + report_.in_doubt_committed == committed);
  }

  const RunReport& report() const { return report_; }

 private:
  struct Sent {
    std::size_t item = 0;
    Receiver* receiver = nullptr;
  };
  struct Retry {
    std::chrono::steady_clock::time_point due;
    std::size_t item = 0;
  };

  bool any_inflight() const {
    for (const auto& r : receivers_)
      if (r->alive() && !r->inflight.empty()) return true;
    return false;
  }

  std::size_t pick_receiver() {
    for (;;) {
      std::vector<std::size_t> free;
      for (std::size_t r = 0; r < receivers_.size(); ++r)
        if (receivers_[r]->alive() && receivers_[r]->inflight.size() < kWindow) free.push_back(r);
      if (!free.empty()) return free[std::uniform_int_distribution<std::size_t>(0, free.size() - 1)(rng_)];
      pump(std::chrono::milliseconds(100));
    }
  }

  void wait_for_begin(const Receiver& r, std::uint64_t seq) {
    const std::string begun = "begin " + std::to_string(seq) + " ";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      std::ifstream in(r.journal());
      for (std::string line; std::getline(in, line);)
        if (line.rfind(begun, 0) == 0) return;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  std::uint64_t send(std::size_t item, std::size_t r) {
    const std::uint64_t seq = next_seq_++;
    const auto& it = stream_.items[item];
    Receiver& receiver = *receivers_[r];
    REQUIRE(receiver.alive());
    sent_[seq] = Sent{item, &receiver};
    receiver.inflight.insert(seq);
    ++report_.sent;
    receiver.send(std::to_string(seq) + " " + std::to_string(stream_.scenarios[it.scenario].seed) + " " +
                  std::to_string(it.step) + "\n");
    return seq;
  }

  void redeliver_later(std::size_t item, std::chrono::milliseconds delay) {
    const int n = ++attempts_[item];
    INFO("stream item " << item << " failed " << n << " times");
    REQUIRE(n < kMaxRedeliveries);
    retries_.push_back(Retry{std::chrono::steady_clock::now() + delay, item});
  }

  void dispatch_due_retries() {
    const auto now = std::chrono::steady_clock::now();
    for (std::size_t n = retries_.size(); n > 0; --n) {
      Retry r = retries_.front();
      retries_.pop_front();
      if (r.due > now) {
        retries_.push_back(r);
        continue;
      }
      send(r.item, pick_receiver());
    }
  }

  /// Reads the answers that arrive within `timeout`.
  void pump(std::chrono::milliseconds timeout) {
    std::vector<pollfd> fds;
    std::vector<Receiver*> who;
    for (auto& r : receivers_) {
      if (!r->alive()) continue;
      fds.push_back(pollfd{r->fd(), POLLIN, 0});
      who.push_back(r.get());
    }
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
    if (ready < 0 && errno == EINTR) return;
    REQUIRE(ready >= 0);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      bool eof = false;
      for (const auto& line : who[i]->read_lines(eof)) {
        std::istringstream words(line);
        std::string verdict;
        std::uint64_t seq = 0;
        words >> verdict >> seq;
        INFO("receiver " << who[i]->name() << " said: " << line);
        REQUIRE(who[i]->inflight.erase(seq) == 1);
        if (verdict == "ok") continue;
        REQUIRE(verdict == "err");
        ++report_.errors;
        // Not acknowledged: delivered again later, to any receiver (backoff: the server may be down).
        redeliver_later(sent_[seq].item, std::chrono::milliseconds(std::min(25 * attempts_[sent_[seq].item], 400)));
      }
      INFO("receiver " << who[i]->name() << " ended its output unasked (see its stderr)");
      REQUIRE_FALSE(eof);
    }
  }

  /// SIGKILL, then redelivery of what its journal does not show acknowledged.
  void kill_and_redeliver(std::size_t r) {
    Receiver& victim = *receivers_[r];
    victim.kill();
    std::set<std::uint64_t> acked;
    for (const auto& line : read_journal(victim.journal()))
      if (acknowledged(line.outcome)) acked.insert(line.seq);
    for (std::uint64_t seq : victim.inflight) {
      if (acked.count(seq)) continue;
      killed_unanswered_.insert(seq);
      retries_.push_back(Retry{std::chrono::steady_clock::now(), sent_[seq].item});
      ++report_.redelivered_after_kill;
    }
    victim.inflight.clear();
  }

  std::string url_;
  std::string schema_;
  const Stream& stream_;
  std::mt19937_64 rng_;
  RunOptions options_;
  wagroups_test::TempDir dir_;
  std::vector<std::unique_ptr<Receiver>> receivers_;
  std::map<std::uint64_t, Sent> sent_;
  std::map<std::size_t, int> attempts_;
  std::deque<Retry> retries_;
  std::set<std::uint64_t> killed_unanswered_;
  std::uint64_t next_seq_ = 1;
  RunReport report_;
};

void check_tickets(const std::string& url, const std::string& schema, InMemoryTicketStore& memory) {
  auto store = open_store(url, schema);
  WithoutJournal tickets(*store);
  const auto diff = wagroups_test::compare_stores(memory, tickets);
  INFO((diff ? *diff : std::string()));
  CHECK_FALSE(diff);
}

std::size_t scenario_count() {
  return static_cast<std::size_t>(wagroups_test::env_number({"WAGROUPS_POSTGRES_RECEIVER_SCENARIOS"}, 32));
}

std::string describe(const RunReport& r, const Stream& s) {
  std::ostringstream out;
  out << s.scenarios.size() << " scenarios, " << s.items.size() << " stream items, " << s.deliveries
      << " deliveries; sent " << r.sent << ", errors " << r.errors << ", redelivered after kill "
      << r.redelivered_after_kill << ", host retries " << r.host_retries << ", in-doubt committed "
      << r.in_doubt_committed << ", keys not applicable here / applied beyond the in-order run "
      << r.not_applicable_here << " / " << r.applied_beyond_reference << ", " << r.seconds << " s";
  if (!r.first_error.empty()) out << "; first error:" << r.first_error;
  for (const auto& [kind, n] : r.error_kinds) out << "\n  " << n << " x" << kind;
  return out.str();
}

}  // namespace

TEST_CASE("issue12: four receiver processes ingest one duplicated, shuffled stream exactly once",
          "[postgres][issue12][concurrent]") {
  const std::string url = server_url();
  ::signal(SIGPIPE, SIG_IGN);  // a dead receiver's stdin must fail the write, not kill the test
  const std::uint64_t seed = 500;
  const Stream stream = make_stream(seed, scenario_count());
  InMemoryTicketStore memory;
  const auto keys = run_reference(stream, memory);
  const std::string schema = fresh_schema("procs");
  Run run(url, schema, stream, seed, {});
  const auto report = run.go();
  INFO("seed " << seed << ": " << describe(report, stream));
  run.check_journals(keys);
  check_tickets(url, schema, memory);
  CHECK(report.in_doubt_committed == 0);  // nothing killed, nothing restarted
  WARN("receivers: " << describe(run.report(), stream));
}

TEST_CASE("issue12: SIGKILL of one receiver mid-stream, then redelivery to the others, changes nothing",
          "[postgres][issue12]") {
  const std::string url = server_url();
  ::signal(SIGPIPE, SIG_IGN);
  const std::uint64_t seed = 700;
  const Stream stream = make_stream(seed, scenario_count());
  InMemoryTicketStore memory;
  const auto keys = run_reference(stream, memory);
  // An event delivery near the middle of the stream.
  std::size_t kill_at = stream.items.size() / 2;
  while (!stream.step(stream.items[kill_at]).is_event) ++kill_at;
  const std::string schema = fresh_schema("kill");
  RunOptions options;
  options.kill_at = kill_at;
  Run run(url, schema, stream, seed, options);
  const auto report = run.go();
  INFO("seed " << seed << ", killed at stream item " << kill_at << ": " << describe(report, stream));
  CHECK(report.redelivered_after_kill >= 1);
  run.check_journals(keys);
  check_tickets(url, schema, memory);
  WARN("kill: " << describe(run.report(), stream));
}

TEST_CASE("issue12: the server restarted mid-stream: receivers report errors, then converge after redelivery",
          "[postgres][issue12][restart]") {
  // [restart]: it drops every connection to the server, so it must not run beside other tests.
  const std::string url = server_url();
  const char* dir = std::getenv("WAGROUPS_TEST_POSTGRES_DIR");
  if (dir == nullptr || *dir == '\0')
    SKIP("WAGROUPS_TEST_POSTGRES_DIR is not set: no test server of cmake/postgres-test-server.sh to restart");
  if (::geteuid() != 0)
    SKIP("not root: restarting the test server needs runuser to its owner (the CI runs the tests as root)");
  ::signal(SIGPIPE, SIG_IGN);
  const std::uint64_t seed = 900;
  const Stream stream = make_stream(seed, scenario_count());
  InMemoryTicketStore memory;
  const auto keys = run_reference(stream, memory);
  const std::string schema = fresh_schema("restart");
  RunOptions options;
  options.restart_at = stream.items.size() * 2 / 5;
  options.server_dir = dir;
  Run run(url, schema, stream, seed, options);
  const auto report = run.go();
  INFO("seed " << seed << ", restart at stream item " << *options.restart_at << ": " << describe(report, stream));
  if (report.restart_status != 0) {
    std::ifstream log(std::string(dir) + "/pg_ctl-restart.log");
    std::stringstream text;
    text << log.rdbuf();
    FAIL("pg_ctl restart failed (" << report.restart_status << "):\n" << text.str());
  }
  CHECK(report.errors > 0);  // receivers met the server down
  run.check_journals(keys);
  bool storage_errors = false;  // the store's connection errors, not only conflicts
  for (const auto& entry : run.report().error_kinds)
    storage_errors = storage_errors || entry.first.find("storage:") != std::string::npos;
  CHECK(storage_errors);
  check_tickets(url, schema, memory);
  WARN("restart: " << describe(run.report(), stream));
}
