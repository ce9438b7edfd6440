// Ticket aggregation throughput, per store, batching and concurrency, and the issue-11 figures:
//
//   wagroups_bench_tickets_throughput [--runs N] [--groups N] [--seed N] [--threads N]
//                                     [--history N] [--rss-tickets N] [--rss-messages N]
//                                     [--dir PATH] [--only memory|sqlite] [--summary]
//
// The stream is tests/bench/ticket_stream.hpp's (seeded, deterministic; --groups groups, default
// 2,000, all active over the same simulated day, about 300k events). Every configuration applies
// that same stream to a fresh store and ends with a digest of the final tickets; the digests must
// all be equal, and equal to the v1 store's on the same stream (tests/bench/v1-digest.txt, written
// by tests/bench/v1_digest.sh) when seed and groups are the reference ones.
//
// Figures (--summary prints them as BENCH lines for tests/bench/run.sh):
//  memory_apply         InMemoryTicketStore, default options, apply(event) per event: events/s
//  sqlite_batch1000     SqliteTicketStore FULL, apply(events) with 1,000 consecutive events
//                       (one transaction each) over the 2,000 active groups: events/s
//  sqlite_batch100      the same with 100
//  history_ratio_*      time of an apply on a ticket with --history messages (default 100,000)
//                       over the time of the same apply on a fresh ticket (median of rounds,
//                       the two interleaved); SQLite here with durability NORMAL, since a FULL
//                       commit's fsync costs the same for both and would hide the store's own cost
//  sqlite_rss_mib       peak RSS (VmHWM) of a child process that applies 10,000 tickets x 50
//                       messages to a SqliteTicketStore FULL in batches of 1,000 (a process of
//                       its own, so nothing measured before counts)
//  tickets_digest_match 1 when every digest is equal (and equal to v1's where it applies)
// Only the apply calls are timed (the WebhookEvent objects are built before, 1,000 at a time),
// except in the concurrent runs (digest only), whose rate includes building the events. The rate
// is the median over --runs runs (default 3, at least 5 for the in-memory store) of events / (wall
// clock less the time the thread waited for a CPU): the run on an idle machine, fsync waits
// included. The slowest and fastest wall-clock runs and the CPU-time rate are printed beside it.

#include <sys/resource.h>
#include <sys/wait.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ticket_stream.hpp"
#include "wagroups/tickets.hpp"
#if defined(WAGROUPS_BENCH_HAVE_SQLITE)
#include "wagroups/sqlite/ticket_store.hpp"
#endif

namespace {

using namespace wagroups;
using namespace ticket_stream;

// ---------------------------------------------------------------------------------------------
// Measuring

long vm_hwm_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

void reset_peak_rss() {  // Linux >= 4.0: "5" resets VmHWM to the current RSS
#if defined(__GLIBC__)
  malloc_trim(0);  // hand back what earlier configurations freed, so it does not count here
#endif
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
}

// This thread's CPU time: on a shared machine, time spent descheduled is not the code's. (Waiting
// for fsync is not CPU time either: for SQLite the wall-clock figure is the one that counts.)
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Time this thread spent runnable but waiting for a CPU (/proc schedstat, Linux): taken off the
// wall clock it gives what the run would take on a machine of its own, fsync waits included.
double runqueue_wait_seconds() {
  std::ifstream in("/proc/thread-self/schedstat");
  unsigned long long run_ns = 0, wait_ns = 0;
  if (!(in >> run_ns >> wait_ns)) return 0;
  return static_cast<double>(wait_ns) * 1e-9;
}

struct RunResult {
  double seconds = 0;
  double cpu = 0;
  double waiting = 0;  // for a CPU
  std::size_t events = 0;
  std::uint64_t digest = 0;
  double average_json_bytes = 0;
};

constexpr std::size_t kChunk = 1000;  // events materialised at a time (batch sizes divide it)

struct Timer {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double c0 = cpu_seconds();
  double w0 = runqueue_wait_seconds();
  void add_to(RunResult& r) const {
    r.cpu += cpu_seconds() - c0;
    r.waiting += runqueue_wait_seconds() - w0;
    r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};

// Applies `events` (indexes into `stream`) with `batch` events per apply call (0: one by one).
void apply_events(const World& w, const std::vector<Ev>& stream, const std::vector<std::size_t>* subset,
                  TicketAggregator& agg, std::size_t batch, RunResult& r, bool time_building) {
  const std::size_t n = subset ? subset->size() : stream.size();
  auto at_index = [&](std::size_t i) -> const Ev& { return stream[subset ? (*subset)[i] : i]; };
  std::vector<WebhookEvent> chunk;
  std::vector<std::vector<WebhookEvent>> batches;
  for (std::size_t at = 0; at < n; at += kChunk) {
    const std::size_t end = std::min(n, at + kChunk);
    std::optional<Timer> outer;
    if (time_building) outer.emplace();
    if (batch == 0) {
      chunk.clear();
      for (std::size_t i = at; i < end; ++i) chunk.push_back(materialise(w, at_index(i)));
      const Timer t;
      for (const auto& ev : chunk) {
        auto o = agg.apply(ev);
        if (!o) fail("apply", o.error());
      }
      if (!time_building) t.add_to(r);
    } else {
      batches.clear();
      for (std::size_t i = at; i < end; i += batch) {
        batches.emplace_back();
        for (std::size_t j = i; j < std::min(end, i + batch); ++j)
          batches.back().push_back(materialise(w, at_index(j)));
      }
      const Timer t;
      for (const auto& b : batches) {
        auto o = agg.apply(b);
        if (!o) fail("apply", o.error());
      }
      if (!time_building) t.add_to(r);
    }
    if (outer) outer->add_to(r);
    r.events += end - at;
  }
}

// batch 0 = single events; threads > 1: each thread applies the events of its share of the groups
// (group % threads), in stream order, so every ticket sees its events in the same order.
RunResult run(const World& w, const std::vector<Ev>& stream, std::uint32_t groups, TicketStore& store,
              std::size_t batch, unsigned threads = 1) {
  TicketAggregator agg(store, ResolutionPolicy{}, end_of_day);
  open_tickets(w, agg, groups);
  RunResult r;
  if (threads <= 1) {
    apply_events(w, stream, nullptr, agg, batch, r, false);
  } else {
    std::vector<std::vector<std::size_t>> shares(threads);
    for (std::size_t i = 0; i < stream.size(); ++i) shares[stream[i].group % threads].push_back(i);
    std::vector<RunResult> results(threads);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&, t] { apply_events(w, stream, &shares[t], agg, batch, results[t], true); });
    for (auto& th : pool) th.join();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& x : results) {
      r.events += x.events;
      r.cpu += x.cpu;
    }
    r.cpu /= threads;  // (shown only as a rate per thread)
  }
  r.digest = digest_of(store, &r.average_json_bytes);
  return r;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Row {
  std::string label;
  double own = 0;  // median events/s, wall less runqueue wait
  std::uint64_t digest = 0;
};

std::vector<Row> g_rows;

void print_header() {
  std::printf("%-34s %9s %11s %11s %11s %11s %9s  %-16s %s\n", "configuration", "events", "own ev/s", "min wall",
              "max wall", "cpu ev/s", "peak MiB", "tickets digest", "KiB/ticket");
}

Row measure(const std::string& label, std::size_t batch, unsigned threads, int runs, const World& w,
            const std::vector<Ev>& stream, std::uint32_t groups,
            const std::function<std::unique_ptr<TicketStore>()>& make_store) {
  reset_peak_rss();
  std::vector<double> wall, own, cpu;
  Row row;
  row.label = label;
  std::size_t events = 0;
  double json_bytes = 0;
  for (int i = 0; i < runs; ++i) {
    auto store = make_store();
    const RunResult r = run(w, stream, groups, *store, batch, threads);
    events = r.events;
    const double n = static_cast<double>(r.events);
    wall.push_back(n / r.seconds);
    own.push_back(n / std::max(r.seconds - r.waiting, r.cpu));
    cpu.push_back(n / r.cpu);
    if (i > 0 && r.digest != row.digest) {
      std::fprintf(stderr, "%s: run %d ended with different tickets\n", label.c_str(), i);
      std::exit(1);
    }
    row.digest = r.digest;
    json_bytes = r.average_json_bytes;
  }
  row.own = median(own);
  std::printf("%-34s %9zu %11.0f %11.0f %11.0f %11.0f %9.1f  %016" PRIx64 " %7.1f\n", label.c_str(), events, row.own,
              *std::min_element(wall.begin(), wall.end()), *std::max_element(wall.begin(), wall.end()), median(cpu),
              static_cast<double>(vm_hwm_kib()) / 1024.0, row.digest, json_bytes / 1024.0);
  std::fflush(stdout);
  g_rows.push_back(row);
  return row;
}

// ---------------------------------------------------------------------------------------------
// Cost against history: a ticket with `big` messages vs a fresh one.

Ev inbound(std::uint32_t g, std::uint32_t m, std::int64_t ts) { return Ev{ts, g, m, Kind::inbound, 0, 0}; }

// Creates group g's ticket (creation webhook, one member joined) and, optionally, `messages`
// inbound messages applied in batches of 1,000.
void seed_group(const World& w, TicketAggregator& agg, std::uint32_t g, std::uint32_t messages) {
  std::vector<WebhookEvent> events;
  events.push_back(materialise(w, Ev{kDayStart, g, 0, Kind::group_created, kNoMember, 0}));
  events.push_back(materialise(w, Ev{kDayStart + 1, g, 0, Kind::participant_added, 0, 0}));
  auto o = agg.apply(events);
  if (!o) fail("apply", o.error());
  for (std::uint32_t at = 0; at < messages; at += 1000) {
    events.clear();
    for (std::uint32_t m = at; m < std::min(messages, at + 1000); ++m)
      events.push_back(materialise(w, inbound(g, m, kDayStart + 10 + m)));
    auto applied = agg.apply(events);
    if (!applied) fail("apply", applied.error());
  }
}

// Median over rounds of (time of `per_round` applies on the big ticket) / (the same on a fresh one).
double history_ratio(const World& w, TicketStore& store, std::uint32_t big, int rounds, std::uint32_t per_round,
                     bool wall_clock) {
  TicketAggregator agg(store, ResolutionPolicy{}, end_of_day);
  constexpr std::uint32_t kBig = 5000000;
  seed_group(w, agg, kBig, big);
  std::vector<double> ratios;
  std::uint32_t next_big = big;
  for (int round = 0; round < rounds; ++round) {
    const std::uint32_t fresh = kBig + 1 + static_cast<std::uint32_t>(round);
    seed_group(w, agg, fresh, 0);
    double seconds[2] = {};
    for (int k = 0; k < 2; ++k) {
      const int side = (k + round) % 2;  // 0 big, 1 fresh; the order alternates
      std::vector<WebhookEvent> events;
      for (std::uint32_t i = 0; i < per_round; ++i) {
        const std::uint32_t m = side == 0 ? next_big + i : i;
        events.push_back(materialise(w, inbound(side == 0 ? kBig : fresh, m, kDayStart + 10 + m)));
      }
      RunResult r;
      const Timer t;
      for (const auto& ev : events) {
        auto o = agg.apply(ev);
        if (!o) fail("apply", o.error());
      }
      t.add_to(r);
      seconds[side] = wall_clock ? std::max(r.seconds - r.waiting, r.cpu) : r.cpu;
    }
    next_big += per_round;
    ratios.push_back(seconds[0] / seconds[1]);
  }
  return median(ratios);
}

// ---------------------------------------------------------------------------------------------
// Peak RSS: 10,000 tickets x 50 messages into SQLite, in a process of its own.

#if defined(WAGROUPS_BENCH_HAVE_SQLITE)
std::unique_ptr<TicketStore> open_sqlite(const std::filesystem::path& file, SqliteOptions::Durability d) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file.string() + suffix);
  SqliteOptions o;
  o.durability = d;
  auto opened = SqliteTicketStore::open(file.string(), o);
  if (!opened) fail("SqliteTicketStore::open", opened.error());
  return std::move(*opened);
}

int rss_child(const std::string& dir, std::uint32_t tickets, std::uint32_t messages) {
  const World w{kReferenceSeed};
  auto store = open_sqlite(std::filesystem::path(dir) / "rss.db", SqliteOptions::Durability::full);
  TicketAggregator agg(*store, ResolutionPolicy{}, end_of_day);
  std::vector<Ev> stream;
  stream.reserve(static_cast<std::size_t>(tickets) * (messages + 4));
  for (std::uint32_t g = 0; g < tickets; ++g) {
    const std::int64_t offset = g % 600;
    stream.push_back(Ev{kDayStart + offset, g, 0, Kind::group_created, kNoMember, 0});
    for (std::uint8_t k = 0; k < 3; ++k)
      stream.push_back(Ev{kDayStart + 600 + offset + k, g, 0, Kind::participant_added, k, 0});
    for (std::uint32_t m = 0; m < messages; ++m)
      stream.push_back(
          Ev{kDayStart + 1200 + 600 * m + offset, g, m, Kind::inbound, static_cast<std::uint8_t>(m % 3), 0});
  }
  std::stable_sort(stream.begin(), stream.end(), [](const Ev& a, const Ev& b) { return a.ts < b.ts; });
  RunResult r;
  apply_events(w, stream, nullptr, agg, 1000, r, false);
  std::printf("%ld %zu %.3f\n", vm_hwm_kib(), r.events, r.seconds);
  return 0;
}

// Runs this program again with --rss-child; its peak RSS in KiB, or -1.
long rss_of_child(const std::string& dir, std::uint32_t tickets, std::uint32_t messages, double& seconds) {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return -1;
  exe[n] = '\0';
  const std::string command = std::string("'") + exe + "' --rss-child --dir '" + dir + "' --rss-tickets " +
                              std::to_string(tickets) + " --rss-messages " + std::to_string(messages);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  long kib = -1;
  std::size_t events = 0;
  if (std::fscanf(pipe, "%ld %zu %lf", &kib, &events, &seconds) != 3) kib = -1;
  if (pclose(pipe) != 0) return -1;
  return kib;
}
#endif

// ---------------------------------------------------------------------------------------------

struct Settings {
  std::uint32_t groups = kReferenceGroups;
  int runs = 3;
  unsigned seed = kReferenceSeed;
  unsigned threads = 4;
  std::uint32_t history = 100000;
  std::uint32_t rss_tickets = 10000;
  std::uint32_t rss_messages = 50;
  std::string dir;
  std::string only;
  bool summary = false;
  bool rss_child = false;
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--runs N] [--groups N] [--seed N] [--threads N] [--history N] [--rss-tickets N]\n"
               "          [--rss-messages N] [--dir PATH] [--only memory|sqlite] [--summary]\n",
               argv0);
  std::exit(2);
}

Settings parse_args(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--summary") {
      s.summary = true;
      continue;
    }
    if (arg == "--rss-child") {
      s.rss_child = true;
      continue;
    }
    if (i + 1 >= argc) usage(argv[0]);
    const std::string value = argv[++i];
    if (arg == "--dir") {
      s.dir = value;
      continue;
    }
    if (arg == "--only") {
      if (value != "memory" && value != "sqlite") usage(argv[0]);
      s.only = value;
      continue;
    }
    char* end = nullptr;
    const long n = std::strtol(value.c_str(), &end, 10);
    if (end == value.c_str() || *end != '\0' || n < 1 || n > 10000000) usage(argv[0]);
    if (arg == "--groups") s.groups = static_cast<std::uint32_t>(n);
    else if (arg == "--runs") s.runs = static_cast<int>(n);
    else if (arg == "--seed") s.seed = static_cast<unsigned>(n);
    else if (arg == "--threads") s.threads = static_cast<unsigned>(n);
    else if (arg == "--history") s.history = static_cast<std::uint32_t>(n);
    else if (arg == "--rss-tickets") s.rss_tickets = static_cast<std::uint32_t>(n);
    else if (arg == "--rss-messages") s.rss_messages = static_cast<std::uint32_t>(n);
    else usage(argv[0]);
  }
  return s;
}

// How many tickets a batch of `batch` consecutive events touches, on average.
double distinct_groups_per_batch(const std::vector<Ev>& stream, std::size_t batch) {
  std::size_t total = 0, batches = 0;
  std::vector<std::uint32_t> groups;
  for (std::size_t at = 0; at + batch <= stream.size(); at += batch, ++batches) {
    groups.clear();
    for (std::size_t i = at; i < at + batch; ++i) groups.push_back(stream[i].group);
    std::sort(groups.begin(), groups.end());
    total += static_cast<std::size_t>(std::unique(groups.begin(), groups.end()) - groups.begin());
  }
  return batches ? static_cast<double>(total) / static_cast<double>(batches) : 0;
}

// The v1 store's digest of the reference stream (tests/bench/v1-digest.txt: the first line that
// is not a comment), or 0 when the file is missing.
std::uint64_t v1_digest() {
  std::ifstream in(WAGROUPS_BENCH_V1_DIGEST_FILE);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    return std::strtoull(line.c_str(), nullptr, 16);
  }
  return 0;
}

struct Figure {
  const char* key;
  double value;
  const char* unit;
  const char* target;
  bool pass;
};

}  // namespace

int main(int argc, char** argv) {
  const Settings s = parse_args(argc, argv);
#if defined(WAGROUPS_BENCH_HAVE_SQLITE)
  if (s.rss_child) return rss_child(s.dir.empty() ? "." : s.dir, s.rss_tickets, s.rss_messages);
#endif
  const World world{s.seed};
  StreamStats stats;
  const auto stream = generate_stream(world, s.groups, stats);
  static const char* const kinds[] = {"created", "added",  "join_req", "left",    "removed",
                                      "inbound", "status", "subject",  "deleted", "1:1"};
  std::printf("stream: seed %u, %u groups, %zu events (%zu delivered twice, %zu late):", s.seed, s.groups, stats.events,
              stats.duplicates, stats.delayed);
  for (int k = 0; k < 10; ++k) std::printf(" %s %zu", kinds[k], stats.by_kind[k]);
  std::printf("; tickets touched per batch of 100: %.1f, of 1000: %.1f\n", distinct_groups_per_batch(stream, 100),
              distinct_groups_per_batch(stream, 1000));
  std::printf("%d runs per timed configuration (at least 5 in memory), 1 for the digest-only ones\n", s.runs);
  print_header();

  std::vector<Figure> figures;
  const int memory_runs = std::max(s.runs, 5);
  if (s.only.empty() || s.only == "memory") {
    auto memory = [] { return std::make_unique<InMemoryTicketStore>(); };
    const Row single = measure("memory single", 0, 1, memory_runs, world, stream, s.groups, memory);
    figures.push_back({"memory_apply", single.own, "events/s", ">= 500000", single.own >= 500000});
    measure("memory batch 100", 100, 1, 1, world, stream, s.groups, memory);
    measure("memory batch 1000", 1000, 1, 1, world, stream, s.groups, memory);
    measure("memory single x" + std::to_string(s.threads) + " threads", 0, s.threads, 1, world, stream, s.groups,
            memory);
    InMemoryTicketStore history_store;
    const double ratio = history_ratio(world, history_store, s.history, 5, 2000, false);
    std::printf("memory: apply on a %u-message ticket / on a fresh one: %.2f (median of 5 rounds of 2,000, CPU time)\n",
                s.history, ratio);
    std::fflush(stdout);
    figures.push_back({"history_ratio_memory", ratio, "x", "<= 2", ratio <= 2});
  }

#if defined(WAGROUPS_BENCH_HAVE_SQLITE)
  if (s.only.empty() || s.only == "sqlite") {
    namespace fs = std::filesystem;
    const fs::path base = s.dir.empty() ? fs::temp_directory_path() : fs::path(s.dir);
    std::string templ = (base / "wagroups-bench-XXXXXX").string();
    if (!mkdtemp(templ.data())) {
      std::perror("mkdtemp");
      return 1;
    }
    const fs::path dir = templ;
    int file_no = 0;
    auto sqlite_store = [&dir, &file_no](SqliteOptions::Durability d) {
      return [&dir, &file_no, d]() { return open_sqlite(dir / ("tickets-" + std::to_string(file_no++) + ".db"), d); };
    };
    const auto full = SqliteOptions::Durability::full;
    const Row b1000 = measure("sqlite FULL batch 1000", 1000, 1, s.runs, world, stream, s.groups, sqlite_store(full));
    figures.push_back({"sqlite_batch1000", b1000.own, "events/s", ">= 100000", b1000.own >= 100000});
    const Row b100 = measure("sqlite FULL batch 100", 100, 1, s.runs, world, stream, s.groups, sqlite_store(full));
    figures.push_back({"sqlite_batch100", b100.own, "events/s", ">= 50000", b100.own >= 50000});
    measure("sqlite FULL batch 100 x" + std::to_string(s.threads) + " threads", 100, s.threads, 1, world, stream,
            s.groups, sqlite_store(full));
    {
      auto store = sqlite_store(SqliteOptions::Durability::normal)();
      const double ratio = history_ratio(world, *store, s.history, 5, 200, true);
      std::printf("sqlite NORMAL: apply on a %u-message ticket / on a fresh one: %.2f (median of 5 rounds of 200)\n",
                  s.history, ratio);
      std::fflush(stdout);
      figures.push_back({"history_ratio_sqlite", ratio, "x", "<= 2", ratio <= 2});
    }
    double seconds = 0;
    const long kib = rss_of_child(dir.string(), s.rss_tickets, s.rss_messages, seconds);
    const double mib = static_cast<double>(kib) / 1024.0;
    std::printf(
        "sqlite FULL, %u tickets x %u messages in batches of 1,000 (child process, %.1f s): peak RSS %.1f MiB\n",
        s.rss_tickets, s.rss_messages, seconds, mib);
    std::fflush(stdout);
    figures.push_back({"sqlite_rss_mib", kib < 0 ? -1 : mib, "MiB", "<= 256", kib >= 0 && mib <= 256});
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
#else
  if (s.only == "sqlite") std::printf("built without wagroups::sqlite\n");
#endif

  // Digests: equal across every configuration, and equal to v1's on the reference stream.
  bool equal = true;
  for (const auto& r : g_rows) equal = equal && r.digest == g_rows.front().digest;
  const bool reference = s.seed == kReferenceSeed && s.groups == kReferenceGroups;
  const std::uint64_t v1 = v1_digest();
  bool v1_equal = true;
  if (reference && !g_rows.empty()) {
    v1_equal = v1 != 0 && g_rows.front().digest == v1;
    std::printf("digests: %s; v1 store on the same stream: %016" PRIx64 " (%s)\n", equal ? "all equal" : "DIFFERENT",
                v1,
                v1 == 0    ? "v1-digest.txt missing"
                : v1_equal ? "equal"
                           : "DIFFERENT");
  } else {
    std::printf("digests: %s (not the reference stream: no comparison with v1)\n", equal ? "all equal" : "DIFFERENT");
  }
  figures.push_back({"tickets_digest_match", equal && v1_equal ? 1.0 : 0.0, "bool",
                     reference ? "all equal, = v1" : "all equal", equal && v1_equal});

  if (s.summary) {
    for (const auto& f : figures)
      std::printf("BENCH\t%s\t%.6g\t%s\t%s\t%s\n", f.key, f.value, f.unit, f.target, f.pass ? "pass" : "FAIL");
  }
  return equal && v1_equal ? 0 : 1;
}
