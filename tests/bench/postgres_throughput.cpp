// PostgresTicketStore throughput with one and with several webhook receivers against one server
// (issue 12), beside SqliteTicketStore FULL on the same stream:
//
//   wagroups_bench_postgres_throughput [--runs N] [--groups N] [--seed N] [--receivers N] [--batch N]
//                                      [--only KEY,...] [--summary]
//
// The server: WAGROUPS_TEST_POSTGRES_URL when set (WAGROUPS_TEST_POSTGRES_DIR too, if the server
// is local and was started by cmake/postgres-test-server.sh: then its CPU time is shown); else the
// program starts a throwaway one with that script and stops it when it ends (also on SIGINT and
// SIGTERM). Every run uses a schema of its own ("bench_<pid>_<n>"), created by
// PostgresTicketStore::open; on a server given by URL they are left in place (the program says so).
//
// The stream is tests/bench/ticket_stream.hpp's (seeded; --groups groups, default 20, 2,255
// deliveries: small, so that the program can end within about 90 s on a quiet 2-core VM, where four
// receivers with batches of 100 manage 100-200 deliveries/s; give --groups 200 or more on a real
// server). Each delivery is one webhook body holding one event. Configurations: PostgreSQL
// with 1 and with --receivers (default 4) receivers, batches of 1 (TicketAggregator::apply per
// body) and of --batch (default 100; apply_each with that many bodies per unit, as GroupCommitter
// forms them under load), and SqliteTicketStore FULL (one process, a temporary folder) with the
// same two batch sizes. Every configuration ends with the digest of the final tickets; all must be
// equal, or the program exits 1. --only runs the configurations named by their BENCH keys (e.g.
// --only postgres_r1_batch1,postgres_r4_batch1).
//
// Choices:
// - Receivers are processes (fork after the setup, which leaves no connection open), each with its
//   own PostgresTicketStore and TicketAggregator, as separate machines would be. Delivery i goes to
//   receiver i % N (a round-robin load balancer), so one group's events land on every receiver.
// - A receiver handles a failed body as a webhook endpoint does: conflict or storage => non-200,
//   Meta delivers the body again later (here: at the end of that receiver's queue). A unit of
//   several bodies that fails is applied again body by body (as GroupCommitter does), so only the
//   bodies that fail alone are redelivered. Printed per configuration, summed over the runs:
//   redeliveries, units of several bodies that failed, and `conflicts` (every unit the store
//   refused as ErrorCode::conflict, the ones the aggregator reran itself included).
// - The figure is deliveries / wall clock from the moment every receiver is connected, has its
//   bodies built and is waiting, to the moment the last one has applied its share: the median
//   over --runs runs (default 3). The runs of the configurations are interleaved, so load from
//   elsewhere on the machine hits them alike. Not timed: building the bodies, open_ticket for the
//   groups (done once by the parent before the receivers start, as the host's create_group
//   answers would be), the digest.
// - CPU: for each run, the CPU seconds the receivers used while timed, the server's (postmaster
//   and its children, from /proc; only when its folder is known) and the rest of the machine's
//   (from /proc/stat: this program's parent process, other work on the VM). On a small machine
//   they say where the cores went.

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "ticket_stream.hpp"
#include "wagroups/postgres/ticket_store.hpp"
#include "wagroups/tickets.hpp"
#if defined(WAGROUPS_BENCH_HAVE_SQLITE)
#include "wagroups/sqlite/ticket_store.hpp"
#endif

namespace {

using namespace wagroups;
using namespace ticket_stream;

// ---------------------------------------------------------------------------------------------
// The throwaway server, stopped at exit and on SIGINT/SIGTERM (by the process that started it).

struct ServerState {
  pid_t owner = 0;  // the process that started it; forked receivers never stop it
  std::string dir;  // WAGROUPS_TEST_POSTGRES_DIR
  bool started_here = false;
  // For the signal handler: argv of `bash <script> stop <dir>`, built before the handler is set.
  std::string script;
  std::vector<char*> stop_argv;
  std::vector<pid_t> receivers;  // running receiver processes (killed on a signal)
};

ServerState g_server;

void stop_server() {
  if (!g_server.started_here || getpid() != g_server.owner) return;
  g_server.started_here = false;
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    execv(g_server.stop_argv[0], g_server.stop_argv.data());
    _exit(127);
  }
  if (pid > 0) waitpid(pid, nullptr, 0);
}

extern "C" void on_signal(int sig) {
  // Only async-signal-safe calls: kill, fork, execv, waitpid, _exit.
  if (getpid() == g_server.owner) {
    for (pid_t p : g_server.receivers)
      if (p > 0) kill(p, SIGKILL);
    if (g_server.started_here) {
      const pid_t pid = fork();
      if (pid == 0) {
        execv(g_server.stop_argv[0], g_server.stop_argv.data());
        _exit(127);
      }
      if (pid > 0) waitpid(pid, nullptr, 0);
    }
  }
  _exit(128 + sig);
}

// Starts cmake/postgres-test-server.sh; returns the URL (or exits 1).
std::string start_server() {
  g_server.script = std::string(WAGROUPS_BENCH_SOURCE_DIR) + "/cmake/postgres-test-server.sh";
  const std::string command = "bash '" + g_server.script + "' start";
  std::fprintf(stderr, "WAGROUPS_TEST_POSTGRES_URL is not set: starting a throwaway server (%s)\n",
               g_server.script.c_str());
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) {
    std::perror("popen");
    std::exit(1);
  }
  std::string url, dir;
  char line[4096];
  while (std::fgets(line, sizeof line, pipe)) {
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    const std::string url_prefix = "export WAGROUPS_TEST_POSTGRES_URL=";
    const std::string dir_prefix = "export WAGROUPS_TEST_POSTGRES_DIR=";
    if (s.rfind(url_prefix, 0) == 0) url = s.substr(url_prefix.size());
    if (s.rfind(dir_prefix, 0) == 0) dir = s.substr(dir_prefix.size());
  }
  const int status = pclose(pipe);
  if (status != 0 || url.empty() || dir.empty()) {
    std::fprintf(stderr, "could not start a PostgreSQL server with %s (see above)\n", g_server.script.c_str());
    std::exit(1);
  }
  g_server.owner = getpid();
  g_server.dir = dir;
  g_server.started_here = true;
  static std::string bash = access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/usr/bin/bash", stop = "stop";
  g_server.stop_argv = {bash.data(), g_server.script.data(), stop.data(), g_server.dir.data(), nullptr};
  std::atexit(stop_server);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  return url;
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc

double ticks_to_seconds(unsigned long long ticks) {
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// utime+stime (+ cutime+cstime when `with_children`) and the parent pid of /proc/<pid>/stat.
bool proc_cpu(pid_t pid, bool with_children, unsigned long long& ticks, pid_t& ppid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = all.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(all.substr(close + 2));
  std::string field;
  std::vector<std::string> f;  // f[0] is field 3 (state)
  while (f.size() < 15 && fields >> field) f.push_back(field);
  if (f.size() < 15) return false;
  ppid = static_cast<pid_t>(std::strtol(f[1].c_str(), nullptr, 10));
  ticks = std::strtoull(f[11].c_str(), nullptr, 10) + std::strtoull(f[12].c_str(), nullptr, 10);
  if (with_children) ticks += std::strtoull(f[13].c_str(), nullptr, 10) + std::strtoull(f[14].c_str(), nullptr, 10);
  return true;
}

// The server's CPU seconds so far: the postmaster with its reaped children, plus its live
// children (backends, background workers). Negative when unknown.
double server_cpu_seconds(pid_t postmaster) {
  if (postmaster <= 0) return -1;
  unsigned long long total = 0, ticks = 0;
  pid_t ppid = 0;
  if (!proc_cpu(postmaster, true, total, ppid)) return -1;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const auto& entry = *it;
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::strtol(name.c_str(), nullptr, 10));
    if (proc_cpu(pid, false, ticks, ppid) && ppid == postmaster) total += ticks;
  }
  return ticks_to_seconds(total);
}

// Busy CPU seconds of the whole machine so far (all cores; idle and iowait not counted).
double machine_busy_seconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long v[8] = {};
  if (!(in >> cpu >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6] >> v[7])) return 0;
  return ticks_to_seconds(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

pid_t postmaster_pid(const std::string& dir) {
  if (dir.empty()) return 0;
  std::ifstream in(dir + "/data/postmaster.pid");
  long pid = 0;
  if (!(in >> pid)) return 0;
  return static_cast<pid_t>(pid);
}

// ---------------------------------------------------------------------------------------------
// A receiver

// Counts the units the store refuses (the aggregator reruns conflicts itself, up to its bound).
class CountingStore final : public TicketStore {
 public:
  explicit CountingStore(TicketStore& inner) : inner_(inner) {}
  Result<void> transact(const std::function<Result<void>(TicketTransaction&)>& work) override {
    auto done = inner_.transact(work);
    if (!done && done.error().code == ErrorCode::conflict) ++conflicts;
    if (!done && done.error().code == ErrorCode::storage) ++storage_failures;
    return done;
  }
  Result<std::optional<StoredTicket>> load(const std::string& id) override { return inner_.load(id); }
  Result<std::optional<std::string>> find_by_group(const std::string& g) override { return inner_.find_by_group(g); }
  Result<std::optional<std::string>> find_by_request(const std::string& r) override {
    return inner_.find_by_request(r);
  }
  Result<std::vector<StoredTicket>> list(const TicketQuery& q) override { return inner_.list(q); }
  Result<std::vector<std::string>> list_ids(const TicketQuery& q) override { return inner_.list_ids(q); }

  std::uint64_t conflicts = 0;
  std::uint64_t storage_failures = 0;

 private:
  TicketStore& inner_;
};

// What one receiver reports (written whole to a pipe: well under PIPE_BUF).
struct ReceiverReport {
  std::uint64_t bodies = 0;  // bodies acknowledged (each once)
  std::uint64_t redeliveries = 0;
  std::uint64_t failed_units = 0;  // units of several bodies that failed (then applied body by body)
  std::uint64_t conflicts = 0;
  std::uint64_t storage_failures = 0;
  double cpu = 0;  // CPU seconds while timed
  int ok = 0;
  char error[200] = {};
};

constexpr int kMaxDeliveries = 50;  // of one body: beyond it the receiver gives up (a bug, not load)

bool retryable(const Error& e) { return e.code == ErrorCode::conflict || e.code == ErrorCode::storage; }

// Applies `bodies` as a webhook endpoint would, `batch` bodies per store unit; false (with the
// reason in report.error) on an error a redelivery would not cure.
bool receive(TicketAggregator& agg, const std::vector<WebhookBatch>& bodies, std::size_t batch,
             ReceiverReport& report) {
  std::deque<std::size_t> queue;
  for (std::size_t i = 0; i < bodies.size(); ++i) queue.push_back(i);
  std::vector<int> deliveries(bodies.size(), 0);
  auto give_up = [&report](const char* what, const Error& e) {
    std::snprintf(report.error, sizeof report.error, "%s: %s", what, e.to_string().c_str());
    return false;
  };
  // One body alone: acknowledged, or queued for redelivery.
  auto one = [&](std::size_t i) -> bool {
    ++deliveries[i];
    auto applied = agg.apply(bodies[i]);
    if (applied) {
      ++report.bodies;
      return true;
    }
    if (!retryable(applied.error()) || deliveries[i] >= kMaxDeliveries) return give_up("apply", applied.error());
    ++report.redeliveries;
    queue.push_back(i);
    return true;
  };
  std::vector<std::size_t> unit;
  std::vector<const WebhookBatch*> pointers;
  while (!queue.empty()) {
    if (batch <= 1) {
      const std::size_t i = queue.front();
      queue.pop_front();
      if (!one(i)) return false;
      continue;
    }
    unit.clear();
    pointers.clear();
    while (!queue.empty() && unit.size() < batch) {
      unit.push_back(queue.front());
      pointers.push_back(&bodies[queue.front()]);
      queue.pop_front();
    }
    auto applied = agg.apply_each(pointers);
    if (applied) {
      for (std::size_t i : unit) ++deliveries[i];
      report.bodies += unit.size();
      continue;
    }
    ++report.failed_units;
    for (std::size_t i : unit)
      if (!one(i)) return false;
  }
  return true;
}

WebhookBatch body_of(const World& w, const Ev& ev) {
  WebhookBatch b;
  b.object = "whatsapp_business_account";
  b.events.push_back(materialise(w, ev));
  return b;
}

// ---------------------------------------------------------------------------------------------
// One run of one configuration

struct RunResult {
  double seconds = 0;
  ReceiverReport total;  // summed over receivers
  double receivers_cpu = 0, server_cpu = -1, machine_cpu = 0;
  std::uint64_t digest = 0;
};

struct Setup {
  const World* world;
  const std::vector<Ev>* stream;
  std::uint32_t groups;
  std::string url;
  pid_t postmaster = 0;
  int schema_no = 0;
  std::vector<std::string> schemas;
};

// Every process, the parent and each receiver, has a store (and connections) of its own.
Result<std::unique_ptr<PostgresTicketStore>> connect(const std::string& url, const std::string& schema) {
  PostgresOptions o;
  o.schema = schema;
  o.pool_size = 1;  // one unit at a time per process
  return PostgresTicketStore::open(url, o);
}

std::unique_ptr<PostgresTicketStore> open_postgres(const std::string& url, const std::string& schema) {
  auto opened = connect(url, schema);
  if (!opened) fail("PostgresTicketStore::open", opened.error());
  return std::move(*opened);
}

bool write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

void wait_for_eof(int fd) {
  char c;
  while (true) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n == 0 || (n < 0 && errno != EINTR)) return;
  }
}

// The body of a receiver process: never returns.
[[noreturn]] void receiver_process(const Setup& s, const std::string& schema, unsigned index, unsigned receivers,
                                   std::size_t batch, int ready_fd, int go_fd, int result_fd, int exit_fd) {
  ReceiverReport report;
  // Before the start: a failure is reported on the ready pipe, so the parent stops waiting.
  auto fail_early = [&](const char* what, const Error& e) {
    std::fprintf(stderr, "receiver %u: %s: %s\n", index, what, e.to_string().c_str());
    const char failed = 'x';
    (void)write_all(ready_fd, &failed, 1);
    _exit(3);
  };
  {
    auto opened = connect(s.url, schema);
    if (!opened) fail_early("PostgresTicketStore::open", opened.error());
    CountingStore counting(**opened);
    TicketAggregator agg(counting, ResolutionPolicy{}, end_of_day);
    std::vector<WebhookBatch> bodies;
    bodies.reserve(s.stream->size() / receivers + 1);
    for (std::size_t i = index; i < s.stream->size(); i += receivers)
      bodies.push_back(body_of(*s.world, (*s.stream)[i]));
    // Connect now (the pool may connect lazily), so that the timed part holds no connection setup.
    auto warm = counting.find_by_request("bench-warm-up");
    if (!warm) fail_early("warm-up", warm.error());
    char ready = 'r';
    if (!write_all(ready_fd, &ready, 1)) _exit(4);
    wait_for_eof(go_fd);
    const double cpu0 = process_cpu_seconds();
    report.ok = receive(agg, bodies, batch, report) ? 1 : 0;
    report.cpu = process_cpu_seconds() - cpu0;
    report.conflicts = counting.conflicts;
    report.storage_failures = counting.storage_failures;
    if (!write_all(result_fd, &report, sizeof report)) _exit(4);
    // Keep the connection (and the server's backend, with its CPU time) until the parent has read it.
    wait_for_eof(exit_fd);
  }
  _exit(report.ok ? 0 : 1);
}

RunResult run_postgres(Setup& s, unsigned receivers, std::size_t batch) {
  const std::string schema = "bench_" + std::to_string(getpid()) + "_" + std::to_string(++s.schema_no);
  s.schemas.push_back(schema);
  {  // The schema, and the tickets the host opened: then no connection stays open across fork.
    auto store = open_postgres(s.url, schema);
    TicketAggregator agg(*store, ResolutionPolicy{}, end_of_day);
    open_tickets(*s.world, agg, s.groups);
  }
  int ready[2], go[2], result[2], exit_pipe[2];
  if (pipe2(ready, O_CLOEXEC) || pipe2(go, O_CLOEXEC) || pipe2(result, O_CLOEXEC) || pipe2(exit_pipe, O_CLOEXEC)) {
    std::perror("pipe2");
    std::exit(1);
  }
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<pid_t> pids;
  for (unsigned r = 0; r < receivers; ++r) {
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("fork");
      std::exit(1);
    }
    if (pid == 0) {
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      signal(SIGHUP, SIG_DFL);
      close(ready[0]);
      close(go[1]);
      close(result[0]);
      close(exit_pipe[1]);
      receiver_process(s, schema, r, receivers, batch, ready[1], go[0], result[1], exit_pipe[0]);
    }
    pids.push_back(pid);
    g_server.receivers.push_back(pid);
  }
  close(ready[1]);
  close(go[0]);
  close(result[1]);
  close(exit_pipe[0]);

  bool failed = false;
  for (unsigned r = 0; r < receivers; ++r) {
    char c = 0;
    if (!read_all(ready[0], &c, 1) || c != 'r') failed = true;
  }
  RunResult out;
  const double server0 = server_cpu_seconds(s.postmaster), machine0 = machine_busy_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  close(go[1]);  // every receiver starts now
  for (unsigned r = 0; r < receivers && !failed; ++r) {
    ReceiverReport report;
    if (!read_all(result[0], &report, sizeof report)) {
      failed = true;
      break;
    }
    if (!report.ok) {
      std::fprintf(stderr, "a receiver failed: %s\n", report.error);
      failed = true;
    }
    out.total.bodies += report.bodies;
    out.total.redeliveries += report.redeliveries;
    out.total.failed_units += report.failed_units;
    out.total.conflicts += report.conflicts;
    out.total.storage_failures += report.storage_failures;
    out.receivers_cpu += report.cpu;
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double server1 = server_cpu_seconds(s.postmaster);
  out.machine_cpu = machine_busy_seconds() - machine0;
  if (server0 >= 0 && server1 >= 0) out.server_cpu = server1 - server0;
  close(exit_pipe[1]);
  for (pid_t pid : pids) {
    int status = 0;
    if (failed) kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = true;
  }
  g_server.receivers.clear();
  close(ready[0]);
  close(result[0]);
  if (failed || out.total.bodies != s.stream->size()) {
    std::fprintf(stderr, "postgres, %u receivers, batch %zu: a receiver failed (%" PRIu64 " of %zu bodies applied)\n",
                 receivers, batch, out.total.bodies, s.stream->size());
    std::exit(1);
  }
  auto store = open_postgres(s.url, schema);
  out.digest = digest_of(*store);
  return out;
}

#if defined(WAGROUPS_BENCH_HAVE_SQLITE)
// The temporary folder of the SQLite run in progress: removed when the run ends, and at exit
// when something failed meanwhile (fail() exits without unwinding).
std::string g_sqlite_dir;

void remove_sqlite_dir() {
  if (g_sqlite_dir.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(g_sqlite_dir, ignored);
  g_sqlite_dir.clear();
}

RunResult run_sqlite(const Setup& s, std::size_t batch) {
  std::string templ = (std::filesystem::temp_directory_path() / "wagroups-bench-pg-XXXXXX").string();
  if (!mkdtemp(templ.data())) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  g_sqlite_dir = templ;
  const std::string file = templ + "/tickets.db";
  SqliteOptions o;
  o.durability = SqliteOptions::Durability::full;
  auto opened = SqliteTicketStore::open(file, o);
  if (!opened) fail("SqliteTicketStore::open", opened.error());
  CountingStore counting(**opened);
  TicketAggregator agg(counting, ResolutionPolicy{}, end_of_day);
  open_tickets(*s.world, agg, s.groups);
  std::vector<WebhookBatch> bodies;
  bodies.reserve(s.stream->size());
  for (const Ev& ev : *s.stream) bodies.push_back(body_of(*s.world, ev));
  RunResult out;
  const double machine0 = machine_busy_seconds(), cpu0 = process_cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  if (!receive(agg, bodies, batch, out.total)) {
    std::fprintf(stderr, "sqlite, batch %zu: %s\n", batch, out.total.error);
    std::exit(1);
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.receivers_cpu = process_cpu_seconds() - cpu0;
  out.machine_cpu = machine_busy_seconds() - machine0;
  out.total.conflicts = counting.conflicts;
  out.total.storage_failures = counting.storage_failures;
  out.digest = digest_of(counting);
  opened->reset();
  remove_sqlite_dir();
  return out;
}
#endif

// ---------------------------------------------------------------------------------------------

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Config {
  std::string key;    // BENCH key
  std::string label;  // printed
  bool postgres = true;
  unsigned receivers = 1;
  std::size_t batch = 1;
  std::vector<RunResult> runs;
};

struct Settings {
  std::uint32_t groups = 20;
  int runs = 3;
  unsigned seed = kReferenceSeed;
  unsigned receivers = 4;
  std::size_t batch = 100;
  std::string only;  // comma-separated configuration keys (the BENCH keys); empty: all
  bool summary = false;
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--runs N] [--groups N] [--seed N] [--receivers N] [--batch N] [--only KEY,...]\n"
               "          [--summary]\n"
               "  server: $WAGROUPS_TEST_POSTGRES_URL, else a throwaway one (cmake/postgres-test-server.sh)\n",
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
    if (i + 1 >= argc) usage(argv[0]);
    const std::string value = argv[++i];
    if (arg == "--only") {
      s.only = "," + value + ",";
      continue;
    }
    char* end = nullptr;
    const long n = std::strtol(value.c_str(), &end, 10);
    if (end == value.c_str() || *end != '\0' || n < 1 || n > 10000000) usage(argv[0]);
    if (arg == "--groups") s.groups = static_cast<std::uint32_t>(n);
    else if (arg == "--runs") s.runs = static_cast<int>(n);
    else if (arg == "--seed") s.seed = static_cast<unsigned>(n);
    else if (arg == "--receivers" && n <= 64) s.receivers = static_cast<unsigned>(n);
    else if (arg == "--batch" && n <= 10000) s.batch = static_cast<std::size_t>(n);
    else usage(argv[0]);
  }
  return s;
}

std::string cpu_text(double seconds) {
  if (seconds < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", seconds);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  const auto started = std::chrono::steady_clock::now();
  const Settings settings = parse_args(argc, argv);
#if defined(WAGROUPS_BENCH_HAVE_SQLITE)
  std::atexit(remove_sqlite_dir);
#endif
  const World world{settings.seed};
  StreamStats stats;
  const auto stream = generate_stream(world, settings.groups, stats);

  Setup setup;
  setup.world = &world;
  setup.stream = &stream;
  setup.groups = settings.groups;
  const char* env_url = std::getenv("WAGROUPS_TEST_POSTGRES_URL");
  const bool external = env_url && *env_url;
  if (external) {
    setup.url = env_url;
    const char* env_dir = std::getenv("WAGROUPS_TEST_POSTGRES_DIR");
    setup.postmaster = postmaster_pid(env_dir ? env_dir : "");
  } else {
    setup.url = start_server();
    setup.postmaster = postmaster_pid(g_server.dir);
  }

  std::printf("stream: seed %u, %u groups, %zu deliveries of one event each (%zu delivered twice, %zu late)\n",
              settings.seed, settings.groups, stats.events, stats.duplicates, stats.delayed);
  std::printf("server: %s; %d run%s per configuration, interleaved; %ld cores online\n",
              external ? "from WAGROUPS_TEST_POSTGRES_URL" : "throwaway, started by this program", settings.runs,
              settings.runs == 1 ? "" : "s", sysconf(_SC_NPROCESSORS_ONLN));
  std::fflush(stdout);

  const std::string many = std::to_string(settings.receivers);
  const std::string big = std::to_string(settings.batch);
  std::vector<Config> configs = {
      {"postgres_r1_batch1", "postgres 1 receiver, batch 1", true, 1, 1, {}},
      {"postgres_r" + many + "_batch1", "postgres " + many + " receivers, batch 1", true, settings.receivers, 1, {}},
      {"postgres_r1_batch" + big, "postgres 1 receiver, batch " + big, true, 1, settings.batch, {}},
      {"postgres_r" + many + "_batch" + big,
       "postgres " + many + " receivers, batch " + big,
       true,
       settings.receivers,
       settings.batch,
       {}},
  };
#if defined(WAGROUPS_BENCH_HAVE_SQLITE)
  configs.push_back({"postgres_vs_sqlite_batch1", "sqlite FULL 1 process, batch 1", false, 1, 1, {}});
  configs.push_back(
      {"postgres_vs_sqlite_batch" + big, "sqlite FULL 1 process, batch " + big, false, 1, settings.batch, {}});
#endif

  if (!settings.only.empty()) {
    configs.erase(
        std::remove_if(configs.begin(), configs.end(),
                       [&](const Config& c) { return settings.only.find("," + c.key + ",") == std::string::npos; }),
        configs.end());
    if (configs.empty()) usage(argv[0]);
  }

  for (int run = 0; run < settings.runs; ++run) {
    for (auto& c : configs) {
      if (c.postgres) {
        c.runs.push_back(run_postgres(setup, c.receivers, c.batch));
      } else {
#if defined(WAGROUPS_BENCH_HAVE_SQLITE)
        c.runs.push_back(run_sqlite(setup, c.batch));
#endif
      }
      const RunResult& r = c.runs.back();
      std::fprintf(stderr, "run %d: %-34s %8.0f deliveries/s\n", run + 1, c.label.c_str(),
                   static_cast<double>(stream.size()) / r.seconds);
    }
  }

  std::printf("\n%-34s %8s %9s %9s %9s %7s %7s %7s %6s %6s %6s  %s\n", "configuration", "events", "ev/s med", "min",
              "max", "redeliv", "failed", "confl", "cpu rx", "cpu pg", "other", "tickets digest");
  bool equal = true;
  const std::uint64_t first_digest = configs.front().runs.front().digest;
  for (const auto& c : configs) {
    std::vector<double> rates;
    ReceiverReport sum;
    double rx = 0, pg = 0, other = 0;
    bool pg_known = true;
    for (const auto& r : c.runs) {
      rates.push_back(static_cast<double>(stream.size()) / r.seconds);
      sum.redeliveries += r.total.redeliveries;
      sum.failed_units += r.total.failed_units;
      sum.conflicts += r.total.conflicts;
      rx += r.receivers_cpu;
      if (r.server_cpu < 0) pg_known = false;
      pg += r.server_cpu;
      equal = equal && r.digest == first_digest;
    }
    const double n = static_cast<double>(c.runs.size());
    for (const auto& r : c.runs) other += r.machine_cpu - r.receivers_cpu - (r.server_cpu > 0 ? r.server_cpu : 0);
    std::printf("%-34s %8zu %9.0f %9.0f %9.0f %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %6s %6s %6s  %016" PRIx64 "\n",
                c.label.c_str(), stream.size(), median(rates), *std::min_element(rates.begin(), rates.end()),
                *std::max_element(rates.begin(), rates.end()), sum.redeliveries, sum.failed_units, sum.conflicts,
                cpu_text(rx / n).c_str(), c.postgres && pg_known ? cpu_text(pg / n).c_str() : "-",
                cpu_text(other / n).c_str(), c.runs.back().digest);
  }
  std::printf(
      "(ev/s: deliveries / wall clock, median of runs; redeliv, failed (units of several bodies that failed),\n"
      " confl (units refused as conflict, reruns included): summed over the runs; cpu rx / pg / other: CPU seconds\n"
      " of a run, mean over the runs, used by the receivers / the server / anything else on the machine)\n");
  std::printf("digests: %s; %.0f s in all\n", equal ? "all equal" : "DIFFERENT",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (external && !setup.schemas.empty())
    std::printf("schemas left on the server: %s .. %s\n", setup.schemas.front().c_str(), setup.schemas.back().c_str());

  if (settings.summary) {
    for (const auto& c : configs) {
      std::vector<double> rates;
      for (const auto& r : c.runs) rates.push_back(static_cast<double>(stream.size()) / r.seconds);
      std::printf("BENCH\t%s\t%.0f\tevents/s\t-\tinfo\n", c.key.c_str(), median(rates));
    }
    std::printf("BENCH\tpostgres_digest_match\t%d\tbool\tall equal\t%s\n", equal ? 1 : 0, equal ? "pass" : "FAIL");
  }
  std::fflush(stdout);
  return equal ? 0 : 1;
}
