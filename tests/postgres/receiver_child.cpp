// wagroups_postgres_receiver_child: one webhook receiver of the multi-process tests
// (test_postgres_receivers.cpp). It reads deliveries from stdin, one per line, "<seq> <seed> <step>"
// (the event is step <step> of make_ticket_scenario(<seed>)), applies each through its own
// TicketAggregator over its own PostgresTicketStore, and answers on stdout "ok <seq>" or
// "err <seq>"; the parent redelivers what was not answered "ok". It ends at end of input.
//
//   wagroups_postgres_receiver_child <conninfo> <schema> <journal> <name>
//                                    <auto_resolve_min> <auto_close_min> <reopen_on_inbound 0|1>
//
// Two journals prove exactly-once:
// - a file, one line before ("begin <seq> <seed> <step>") and one after each delivery
//   ("<outcome> <seq> <seed> <step>[ <error>]", outcome applied / duplicate / not_applicable /
//   error), written with one write(2) each, so a SIGKILL loses nothing written before it;
// - in the database, IN THE SAME UNIT as the application, a ticket "~journal-<name>-<seq>" holding
//   the event keys the unit recorded. It settles the deliveries the file cannot: a receiver killed
//   between commit and its "applied" line, or a connection lost while COMMIT was in flight.
// Exit status: 0 at end of input, 2 on a usage error, 3 when the store cannot be opened.

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ticket_scenarios.hpp"
#include "wagroups/postgres/ticket_store.hpp"
#include "wagroups/tickets.hpp"

namespace {

using namespace wagroups;

void write_all(int fd, const std::string& text) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n <= 0) std::_Exit(4);  // the parent is gone, or the disk is
    written += static_cast<std::size_t>(n);
  }
}

// Forwards everything (edit and the change hints too: the store may rely on them), noting the
// event keys the aggregator records, which it does exactly when it applies an event.
class KeyNotingTransaction final : public TicketTransaction {
 public:
  explicit KeyNotingTransaction(TicketTransaction& inner) : inner_(inner) {}
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
  Result<void> index_message(const std::string& m, const std::string& t) override { return inner_.index_message(m, t); }
  Result<bool> applied(const std::string& key) override { return inner_.applied(key); }
  Result<void> record(const std::string& key) override {
    recorded.push_back(key);
    return inner_.record(key);
  }
  Result<Ticket*> edit(const std::string& id) override { return inner_.edit(id); }
  Result<void> changing_message(const std::string& t, const std::string& m) override {
    return inner_.changing_message(t, m);
  }
  Result<void> changing_timeline(const std::string& t) override { return inner_.changing_timeline(t); }

  std::vector<std::string> recorded;

 private:
  TicketTransaction& inner_;
};

// Writes the database journal entry of the current delivery inside each unit that applied something.
class JournalingStore final : public TicketStore {
 public:
  JournalingStore(TicketStore& inner, std::string name) : inner_(inner), name_(std::move(name)) {}
  std::string seq;  // the delivery being applied

  Result<void> transact(const std::function<Result<void>(TicketTransaction&)>& work) override {
    return inner_.transact([&](TicketTransaction& tx) -> Result<void> {
      KeyNotingTransaction noting(tx);
      if (auto done = work(noting); !done) return done;
      if (noting.recorded.empty()) return {};
      Ticket entry;
      entry.ticket_id = "~journal-" + name_ + "-" + seq;
      std::string keys;
      for (const auto& key : noting.recorded) keys += key + "\n";
      entry.description = std::move(keys);
      auto inserted = tx.insert(std::move(entry));
      if (!inserted) return inserted.error();
      return {};
    });
  }
  Result<std::optional<StoredTicket>> load(const std::string& id) override { return inner_.load(id); }
  Result<std::optional<std::string>> find_by_group(const std::string& g) override { return inner_.find_by_group(g); }
  Result<std::optional<std::string>> find_by_request(const std::string& r) override {
    return inner_.find_by_request(r);
  }
  Result<std::vector<StoredTicket>> list(const TicketQuery& q) override { return inner_.list(q); }

 private:
  TicketStore& inner_;
  std::string name_;
};

std::string outcome_of(const ApplyOutcome& outcome) {
  for (const auto& change : outcome.changes) {
    if (change.kind == TicketChangeKind::duplicate_ignored) return "duplicate";
    if (change.kind == TicketChangeKind::not_applicable) return "not_applicable";
  }
  return "applied";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr,
                 "usage: %s <conninfo> <schema> <journal> <name> <auto_resolve_min> <auto_close_min> "
                 "<reopen 0|1>\n",
                 argv[0]);
    return 2;
  }
  const std::string conninfo = argv[1];
  PostgresOptions options;
  options.schema = argv[2];
  options.event_key_retention = std::chrono::seconds(0);
  options.pool_size = 2;
  const int journal = ::open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (journal < 0) {
    std::perror(argv[3]);
    return 2;
  }
  ResolutionPolicy policy;
  policy.auto_resolve_after = std::chrono::minutes(std::atoi(argv[5]));
  policy.auto_close_after = std::chrono::minutes(std::atoi(argv[6]));
  policy.reopen_on_inbound = std::atoi(argv[7]) != 0;

  auto opened = PostgresTicketStore::open(conninfo, options);
  if (!opened) {
    std::fprintf(stderr, "receiver %s: open: %s\n", argv[4], opened.error().to_string().c_str());
    return 3;
  }
  JournalingStore store(**opened, argv[4]);
  // Receivers never run host actions or ticks (the parent does), so their clock is never read.
  TicketAggregator tickets(store, policy, [] { return std::chrono::system_clock::time_point{}; });
  std::map<std::uint64_t, wagroups_test::TicketScenario> scenarios;

  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream in(line);
    std::string seq;
    std::uint64_t seed = 0;
    std::size_t step = 0;
    if (!(in >> seq >> seed >> step)) {
      std::fprintf(stderr, "receiver %s: bad delivery line: %s\n", argv[4], line.c_str());
      return 2;
    }
    auto it = scenarios.find(seed);
    if (it == scenarios.end()) it = scenarios.emplace(seed, wagroups_test::make_ticket_scenario(seed)).first;
    const auto& s = it->second;
    if (step >= s.steps.size() || !s.steps[step].is_event) {
      std::fprintf(stderr, "receiver %s: step %zu of scenario %llu is no event\n", argv[4], step,
                   static_cast<unsigned long long>(seed));
      return 2;
    }
    const std::string what = seq + " " + std::to_string(seed) + " " + std::to_string(step);
    write_all(journal, "begin " + what + "\n");
    store.seq = seq;
    auto applied = tickets.apply(s.steps[step].event);
    if (applied) {
      write_all(journal, outcome_of(*applied) + " " + what + "\n");
      write_all(STDOUT_FILENO, "ok " + seq + "\n");
    } else {
      // Not acknowledged: the endpoint would answer non-200 and Meta would deliver again.
      std::string message = applied.error().to_string();
      for (char& c : message)
        if (c == '\n') c = ' ';
      write_all(journal, "error " + what + " " + message + "\n");
      write_all(STDOUT_FILENO, "err " + seq + "\n");
    }
  }
  return 0;
}
