// wagroups_sqlite_crash_child: ingests the crash test's stream (crash_stream.hpp) into a
// SqliteTicketStore with durable settings, printing "begin N" before and "ack N" after each
// committed batch, and "done" after the final tick. The crash test kills it with SIGKILL at random
// points and starts it again from the batch to redeliver.
//
//   wagroups_sqlite_crash_child <db> <seed> <run> <first-batch> [--ignore-dedupe]
//
// <run> names this run's journal entries. --ignore-dedupe makes the store's dedupe keys invisible
// to the aggregator (the negative control: the journal must then show double applications).
// Exit status: 0 after "done", 2 on a usage error, 3 when the store or the aggregator fails.

#include "crash_stream.hpp"

#include <wagroups/sqlite/ticket_store.hpp>
#include <wagroups/tickets.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

// Unbuffered, one write per line: what the parent reads is exactly what was written before a kill.
void say(const std::string& line) {
  const std::string text = line + "\n";
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, text.data() + written, text.size() - written);
    if (n <= 0) std::_Exit(4);  // the parent is gone
    written += static_cast<std::size_t>(n);
  }
}

int fail(const std::string& what, const wagroups::Error& error) {
  std::fprintf(stderr, "wagroups_sqlite_crash_child: %s: %s\n", what.c_str(), error.to_string().c_str());
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || argc > 6 || (argc == 6 && std::string(argv[5]) != "--ignore-dedupe")) {
    std::fprintf(stderr, "usage: %s <db> <seed> <run> <first-batch> [--ignore-dedupe]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const std::uint64_t seed = std::strtoull(argv[2], nullptr, 10);
  const std::string run = argv[3];
  const std::size_t first = static_cast<std::size_t>(std::strtoull(argv[4], nullptr, 10));
  const bool ignore_dedupe = argc == 6;

  const auto stream = wagroups_crash::make_crash_stream(seed);
  wagroups::SqliteOptions options;
  options.durability = wagroups::SqliteOptions::Durability::full;
  auto opened = wagroups::SqliteTicketStore::open(path, options);
  if (!opened) return fail("open", opened.error());
  wagroups_crash::JournalingStore store(**opened, run, ignore_dedupe);
  std::int64_t now = 0;
  wagroups::TicketAggregator tickets(store, stream.policy, [&now] { return wagroups_crash::at_seconds(now); });

  for (std::size_t b = first; b < stream.batches.size(); ++b) {
    say("begin " + std::to_string(b));
    const auto& batch = stream.batches[b];
    for (const auto& action : batch.actions) {
      auto done = wagroups_crash::run_action(tickets, now, action);
      if (!done) return fail("host action in batch " + std::to_string(b), done.error());
    }
    if (!batch.events.empty()) {
      auto applied = tickets.apply(batch.events);
      if (!applied) return fail("apply batch " + std::to_string(b), applied.error());
    }
    say("ack " + std::to_string(b));
  }
  auto ticked = tickets.tick(wagroups_crash::at_seconds(stream.end_time));
  if (!ticked) return fail("tick", ticked.error());
  say("done");
  return 0;
}
