#pragma once

// The crash test's event stream and its journal, shared by the test (the parent, which also builds
// the in-order reference) and wagroups_sqlite_crash_child (which ingests the stream).
//
// The stream: several scenarios of tests/support/ticket_scenarios.hpp (each one to three groups),
// under one common policy, each delivered by its shuffled plan (every event 1-3 times, displaced,
// in small batches), the plans interleaved, then cut into numbered batches. A batch is what the
// child acknowledges: its host actions (in their order), then all its events in ONE `apply`, so
// one SQLite transaction, then "ack N". After the last batch the child ticks at the end time.
//
// The journal: a TicketStore decorator that, inside each unit of work, notes the event keys the
// aggregator records (it records a key exactly when it applies an event for the first time) and
// writes them as a journal ticket ("~journal-<run>-<unit>") IN THE SAME UNIT. So the journal
// commits if and only if the application commits: a key counted twice across all runs is an
// event applied twice, and a key never counted was lost. (A log written to a file after commit
// could not tell "committed, then killed before logging" from "never applied".)

#include "ticket_scenarios.hpp"

#include <wagroups/tickets.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace wagroups_crash {

inline constexpr std::uint64_t kDefaultSeed = 4242;
inline constexpr int kScenarios = 24;  // about 35 groups
inline constexpr std::size_t kBatchDeliveries = 4;  // plan deliveries per acknowledged batch
inline constexpr const char* kJournalPrefix = "~journal-";

/// One acknowledged unit of the stream.
struct StreamBatch {
  std::vector<wagroups_test::HostAction> actions;
  std::vector<wagroups::WebhookEvent> events;
};

struct CrashStream {
  std::vector<wagroups_test::TicketScenario> scenarios;  // policy and end time made common
  std::vector<StreamBatch> batches;
  wagroups::ResolutionPolicy policy;
  std::int64_t end_time = 0;
  std::size_t deliveries = 0;  // event deliveries in the stream (duplicates included)
};

inline CrashStream make_crash_stream(std::uint64_t seed) {
  CrashStream stream;
  // One aggregator serves the whole stream, so one policy; the scenarios' events do not depend on
  // their own policy, and the reference runs with the same one.
  stream.policy.auto_resolve_after = std::chrono::minutes(45);
  stream.policy.auto_close_after = std::chrono::minutes(120);
  stream.policy.reopen_on_inbound = true;
  for (int i = 0; i < kScenarios; ++i) {
    auto scenario = wagroups_test::make_ticket_scenario(seed * 1000 + static_cast<std::uint64_t>(i));
    stream.end_time = std::max(stream.end_time, scenario.end_time);
    stream.scenarios.push_back(std::move(scenario));
  }
  for (auto& scenario : stream.scenarios) {
    scenario.policy = stream.policy;
    scenario.end_time = stream.end_time;
  }

  // Interleave the scenarios' shuffled plans, picking the next scenario at random.
  std::vector<wagroups_test::DeliveryPlan> plans;
  for (const auto& scenario : stream.scenarios) plans.push_back(wagroups_test::shuffled_plan(scenario, scenario.seed));
  std::vector<std::size_t> next(plans.size(), 0);
  wagroups_test::ScenarioRng rng(seed ^ 0xC4A5Full);
  std::vector<std::pair<std::size_t, const wagroups_test::Delivery*>> sequence;
  for (;;) {
    std::vector<std::size_t> open;
    for (std::size_t p = 0; p < plans.size(); ++p)
      if (next[p] < plans[p].size()) open.push_back(p);
    if (open.empty()) break;
    const std::size_t p = rng.pick(open);
    sequence.emplace_back(p, &plans[p][next[p]++]);
  }

  for (std::size_t i = 0; i < sequence.size(); i += kBatchDeliveries) {
    StreamBatch batch;
    for (std::size_t j = i; j < std::min(sequence.size(), i + kBatchDeliveries); ++j) {
      const auto& scenario = stream.scenarios[sequence[j].first];
      const auto& delivery = *sequence[j].second;
      for (std::size_t step : delivery.steps) {
        const auto& s = scenario.steps[step];
        // Host actions go first in their batch: a 1:1 invite status must not precede its
        // invite's record, and moving an action earlier within a batch keeps that.
        if (s.is_event) {
          batch.events.push_back(s.event);
          ++stream.deliveries;
        } else {
          batch.actions.push_back(s.action);
        }
      }
    }
    stream.batches.push_back(std::move(batch));
  }
  return stream;
}

/// Runs one host action at its own time (`now` is the aggregator's clock).
inline wagroups::Result<wagroups::ApplyOutcome> run_action(wagroups::TicketAggregator& tickets, std::int64_t& now,
                                                          const wagroups_test::HostAction& a) {
  using Kind = wagroups_test::HostAction::Kind;
  now = a.at;
  switch (a.kind) {
    case Kind::open_ticket: return tickets.open_ticket(a.open);
    case Kind::record_outbound: return tickets.record_outbound(a.ticket_id, a.message_id, a.type, a.text, a.agent);
    case Kind::record_invite: return tickets.record_invite(a.ticket_id, a.invite);
    case Kind::resolve: return tickets.resolve(a.ticket_id);
    case Kind::close: return tickets.close(a.ticket_id);
  }
  return wagroups::ApplyOutcome{};
}

inline std::chrono::system_clock::time_point at_seconds(std::int64_t seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

/// Forwards to the unit of work, noting the keys recorded; `ignore_dedupe` makes `applied` always
/// answer false (the negative control: a store that loses its keys must be caught).
class JournalingTransaction final : public wagroups::TicketTransaction {
 public:
  JournalingTransaction(wagroups::TicketTransaction& inner, bool ignore_dedupe)
      : inner_(inner), ignore_dedupe_(ignore_dedupe) {}
  wagroups::Result<wagroups::Ticket*> ticket(const std::string& id) override { return inner_.ticket(id); }
  wagroups::Result<wagroups::Ticket*> insert(wagroups::Ticket t) override { return inner_.insert(std::move(t)); }
  wagroups::Result<void> erase(const std::string& id) override { return inner_.erase(id); }
  wagroups::Result<std::optional<std::string>> find_by_group(const std::string& g) override { return inner_.find_by_group(g); }
  wagroups::Result<std::optional<std::string>> find_by_request(const std::string& r) override {
    return inner_.find_by_request(r);
  }
  wagroups::Result<std::optional<std::string>> find_by_message(const std::string& m) override {
    return inner_.find_by_message(m);
  }
  wagroups::Result<void> index_message(const std::string& m, const std::string& t) override {
    return inner_.index_message(m, t);
  }
  wagroups::Result<bool> applied(const std::string& key) override {
    if (ignore_dedupe_) return false;
    return inner_.applied(key);
  }
  wagroups::Result<void> record(const std::string& key) override {
    recorded.push_back(key);
    return inner_.record(key);
  }
  std::vector<std::string> recorded;

 private:
  wagroups::TicketTransaction& inner_;
  bool ignore_dedupe_;
};

class JournalingStore final : public wagroups::TicketStore {
 public:
  JournalingStore(wagroups::TicketStore& inner, std::string run, bool ignore_dedupe = false)
      : inner_(inner), run_(std::move(run)), ignore_dedupe_(ignore_dedupe) {}

  wagroups::Result<void> transact(
      const std::function<wagroups::Result<void>(wagroups::TicketTransaction&)>& work) override {
    return inner_.transact([&](wagroups::TicketTransaction& tx) -> wagroups::Result<void> {
      JournalingTransaction journaled(tx, ignore_dedupe_);
      if (auto done = work(journaled); !done) return done;
      if (journaled.recorded.empty()) return {};
      wagroups::Ticket entry;
      entry.ticket_id = kJournalPrefix + run_ + "-" + std::to_string(++units_);
      std::string keys;
      for (const auto& key : journaled.recorded) keys += key + "\n";
      entry.description = std::move(keys);
      auto inserted = tx.insert(std::move(entry));
      if (!inserted) return inserted.error();
      if (before_commit) before_commit();
      return {};
    });
  }
  /// Runs inside each unit that applied something, after its journal entry, before the store
  /// writes and commits it (the PostgreSQL kill test stops the server there).
  std::function<void()> before_commit;
  wagroups::Result<std::optional<wagroups::StoredTicket>> load(const std::string& id) override { return inner_.load(id); }
  wagroups::Result<std::optional<std::string>> find_by_group(const std::string& g) override { return inner_.find_by_group(g); }
  wagroups::Result<std::optional<std::string>> find_by_request(const std::string& r) override {
    return inner_.find_by_request(r);
  }
  wagroups::Result<std::vector<wagroups::StoredTicket>> list(const wagroups::TicketQuery& q) override {
    return inner_.list(q);
  }

 private:
  wagroups::TicketStore& inner_;
  std::string run_;
  bool ignore_dedupe_;
  std::uint64_t units_ = 0;
};

inline bool is_journal(const wagroups::Ticket& t) { return t.ticket_id.rfind(kJournalPrefix, 0) == 0; }

/// A store's tickets split into the real ones and the journal's key counts.
struct StoreContents {
  std::vector<wagroups::StoredTicket> tickets;  // by id, journal entries excluded
  std::map<std::string, int> key_counts;        // event key -> units that recorded it
  std::size_t journal_units = 0;
};

inline wagroups::Result<StoreContents> read_contents(wagroups::TicketStore& store) {
  wagroups::TicketQuery all;
  all.limit = std::numeric_limits<std::size_t>::max();
  auto listed = store.list(all);
  if (!listed) return listed.error();
  StoreContents out;
  for (auto& stored : *listed) {
    if (!is_journal(stored.ticket)) {
      out.tickets.push_back(std::move(stored));
      continue;
    }
    ++out.journal_units;
    std::istringstream lines(stored.ticket.description.value_or(""));
    for (std::string key; std::getline(lines, key);) ++out.key_counts[key];
  }
  return out;
}

/// Whether two stores hold the same tickets (versions aside) and the same journal key counts.
inline bool same_contents(const StoreContents& a, const StoreContents& b) {
  if (a.key_counts != b.key_counts || a.tickets.size() != b.tickets.size()) return false;
  for (std::size_t i = 0; i < a.tickets.size(); ++i) {
    if (!(a.tickets[i].ticket == b.tickets[i].ticket)) return false;
  }
  return true;
}

/// What the journal says went wrong: keys applied more than once, keys of the reference never
/// applied, keys applied that the reference never applied. Empty when exactly once holds.
inline std::vector<std::string> exactly_once_violations(const std::map<std::string, int>& reference,
                                                        const std::map<std::string, int>& actual) {
  std::vector<std::string> out;
  for (const auto& [key, count] : actual) {
    if (count > 1) out.push_back("applied " + std::to_string(count) + " times: " + key);
    if (reference.count(key) == 0) out.push_back("applied but not in the reference: " + key);
  }
  for (const auto& [key, count] : reference) {
    if (actual.count(key) == 0) out.push_back("never applied (lost): " + key);
  }
  return out;
}

}  // namespace wagroups_crash
