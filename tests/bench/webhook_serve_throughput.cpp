// `wagroups webhook serve` throughput, measured from outside as Meta would load it: the CLI binary
// on a fresh SQLite file (durability FULL, its default), and P concurrent keep-alive POSTers of
// signed one-event bodies (each a distinct group message, spread over G groups). The figure is
// bodies per second answered 200; serve answers 200 only after the commit holding the body, so
// that is committed bodies per second. After each run the file is opened and every body's message
// must be there exactly once.
//
//   wagroups_bench_webhook_serve_throughput [--posters 64] [--bodies 8000] [--runs 3] [--groups 256]
//       [--workers N] [--cli PATH] [--dir PATH] [--nagle] [--no-diagnose] [--summary]
//
// The POSTers set TCP_NODELAY, as a sender tuned for throughput does (--nagle: they do not; with
// Nagle's algorithm each request's body waits for the ACK of its head).
//
// --cli may name another build of the CLI (e.g. an older release, for a before/after on one
// machine). Unless --no-diagnose, it also measures what bounds the figure on this machine: fsyncs
// per second in the same folder (one per commit), and the same POSTers answered 401 (HTTP, the
// guard and HMAC only: no parse, no store).

#include <fcntl.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <wagroups/sqlite/ticket_store.hpp>

#include "loopback_server.hpp"
#include "subprocess.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const std::string kSecret = "bench-serve-secret-Wq7";

struct Config {
  std::string cli = WAGROUPS_CLI_PATH;
  int posters = 64;
  int bodies = 8000;
  int runs = 3;
  int groups = 256;
  int workers = 0;  // 0: serve's default (64); older builds have no --workers
  std::string dir;
  bool diagnose = true;
  bool nodelay = true;
  bool summary = false;
};

std::string sign(const std::string& body, const std::string& secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  static const char* digits = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < length; ++i) {
    out += digits[digest[i] >> 4];
    out += digits[digest[i] & 0x0f];
  }
  return out;
}

std::string message_body(const std::string& group_id, const std::string& message_id, std::int64_t ts) {
  return R"({"object":"whatsapp_business_account","entry":[{"id":"880011223344","changes":[{"field":"messages",)"
         R"("value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111",)"
         R"("phone_number_id":"771234567890"},"contacts":[{"profile":{"name":"Dana R."},"wa_id":"4915112345678"}],)"
         R"("messages":[{"from":"4915112345678","group_id":")" +
         group_id + R"(","id":")" + message_id + R"(","timestamp":")" + std::to_string(ts) +
         R"(","type":"text","text":{"body":"where is my parcel, order 1042?"}}]}}]}]})";
}

struct Signed {
  std::string body;
  std::string signature;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// A fresh folder under `parent` (or the system temp dir), removed with its contents at scope exit.
class Folder {
 public:
  explicit Folder(const std::string& parent) {
    std::string base = parent.empty() ? std::filesystem::temp_directory_path().string() : parent;
    std::string pattern = base + "/wagroups-bench-serve-XXXXXX";
    if (!::mkdtemp(pattern.data())) {
      std::perror("mkdtemp");
      std::exit(1);
    }
    path_ = pattern;
  }
  ~Folder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// `webhook serve` on a free port of 127.0.0.1, its output read (and counted) as it comes.
class Serve {
 public:
  Serve(const Config& c, const std::string& db)
      : process_(arguments(c, db), {{"WAGROUPS_APP_SECRET", std::nullopt}, {"WAGROUPS_TICKETS_DB", std::nullopt}}) {
    // "listening on http://127.0.0.1:PORT/webhook (tickets in ...)"
    const auto first = process_.read_line(15s);
    const auto at = first ? first->find("127.0.0.1:") : std::string::npos;
    if (at == std::string::npos) {
      std::cerr << "webhook serve did not start: " << process_.err() << "\n";
      std::exit(1);
    }
    port_ = std::atoi(first->c_str() + at + 10);
    drain_ = std::thread([this] {
      while (reading_.load())
        if (process_.read_line(20ms)) ++lines_;
    });
  }
  ~Serve() {
    if (drain_.joinable()) stop();
  }
  int port() const { return port_; }
  static std::vector<std::string> arguments(const Config& c, const std::string& db) {
    std::vector<std::string> args{c.cli, "webhook", "serve", "--port", "0", "--app-secret", kSecret, "--db", db};
    if (c.workers > 0) {
      args.push_back("--workers");
      args.push_back(std::to_string(c.workers));
    }
    return args;
  }
  // Stops it; its stderr.
  std::string stop() {
    reading_ = false;
    drain_.join();
    process_.send_signal(SIGTERM);
    const auto r = process_.wait(30s);
    if (r.exit_code != 0) std::cerr << "webhook serve exited with " << r.exit_code << ": " << r.err << "\n";
    return r.err;
  }

 private:
  wagroups_test::ChildProcess process_;
  int port_ = 0;
  std::atomic<bool> reading_{true};
  std::atomic<long> lines_{0};
  std::thread drain_;
};

struct PostRun {
  double seconds = 0;
  long answered = 0;  // with `expected`
  long other = 0;     // another status, or no answer after every retry
  long retried = 0;   // POSTs sent again after getting no answer at all
};

// Each poster sends bodies p, p + P, p + 2P, ... over one keep-alive client: the first `warm` of
// them before the clock starts (connections open, tickets created), the rest timed.
PostRun post_all(int port, int posters, const std::vector<Signed>& bodies, int warm, int expected, bool nodelay) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<long> answered{0};
  std::atomic<long> other{0};
  std::atomic<long> retried{0};
  std::vector<std::thread> threads;
  std::vector<Clock::time_point> ends(static_cast<std::size_t>(posters));
  for (int p = 0; p < posters; ++p) {
    threads.emplace_back([&, p] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_read_timeout(60, 0);
      client.set_write_timeout(60, 0);
      client.set_tcp_nodelay(nodelay);
      int sent = 0;
      for (std::size_t i = static_cast<std::size_t>(p); i < bodies.size(); i += static_cast<std::size_t>(posters)) {
        if (sent == warm) {
          ++ready;
          while (!go.load()) std::this_thread::yield();
        }
        // No answer at all (a connection refused while 64 connect at once, or closed by the
        // server's keep-alive rules as the request left): sent again, as Meta would.
        auto r =
            client.Post("/webhook", {{"X-Hub-Signature-256", bodies[i].signature}}, bodies[i].body, "application/json");
        for (int attempt = 1; !r && attempt < 5; ++attempt) {
          ++retried;
          r = client.Post("/webhook", {{"X-Hub-Signature-256", bodies[i].signature}}, bodies[i].body,
                          "application/json");
        }
        if (sent < warm && !(r && r->status == expected)) ++other;
        if (sent >= warm) ((r && r->status == expected) ? answered : other)++;
        ++sent;
      }
      if (sent <= warm) ++ready;
      ends[static_cast<std::size_t>(p)] = Clock::now();
    });
  }
  while (ready.load() < posters) std::this_thread::sleep_for(1ms);
  const auto start = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  const auto end = *std::max_element(ends.begin(), ends.end());
  PostRun run;
  run.seconds = std::chrono::duration<double>(end - start).count();
  run.answered = answered.load();
  run.other = other.load();
  run.retried = retried.load();
  return run;
}

// "(N bodies applied in M transactions)" from serve's stderr, when this build prints it.
std::optional<std::pair<long, long>> commit_stats(const std::string& err) {
  const std::string mark = " bodies applied in ";
  const auto at = err.rfind(mark);
  if (at == std::string::npos) return std::nullopt;
  const auto open = err.rfind('(', at);
  if (open == std::string::npos) return std::nullopt;
  return std::make_pair(std::atol(err.c_str() + open + 1), std::atol(err.c_str() + at + mark.size()));
}

// Every message of `bodies` in the file exactly once, and nothing else: the count of problems.
long check_store(const std::string& db, const std::vector<std::string>& message_ids) {
  auto store = wagroups::SqliteTicketStore::open(db);
  if (!store) {
    std::cerr << "cannot open " << db << ": " << store.error().to_string() << "\n";
    return 1;
  }
  wagroups::TicketQuery all;
  all.limit = static_cast<std::size_t>(-1);
  auto tickets = (*store)->list(all);
  if (!tickets) {
    std::cerr << "cannot list " << db << ": " << tickets.error().to_string() << "\n";
    return 1;
  }
  std::map<std::string, int> seen;
  for (const auto& s : *tickets)
    for (const auto& m : s.ticket.timeline) ++seen[m.message_id];
  long problems = 0;
  for (const auto& id : message_ids) {
    const auto it = seen.find(id);
    if (it == seen.end() || it->second != 1) ++problems;
  }
  if (seen.size() > message_ids.size()) problems += static_cast<long>(seen.size() - message_ids.size());
  return problems;
}

// fsync (fdatasync) per second of a small append in `dir`: one per commit at FULL.
double fsyncs_per_second(const std::string& dir) {
  const std::string path = dir + "/fsync-probe";
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  if (fd < 0) return 0;
  const std::string page(4096, 'x');
  int n = 0;
  const auto start = Clock::now();
  while (Clock::now() - start < 500ms) {
    if (::write(fd, page.data(), page.size()) < 0) break;
    ::fdatasync(fd);
    ++n;
  }
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  ::unlink(path.c_str());
  return n / s;
}

bool parse_args(int argc, char** argv, Config& c) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const auto number = [&](int& out) {
      const char* v = value();
      if (!v || std::atoi(v) <= 0) return false;
      out = std::atoi(v);
      return true;
    };
    if (a == "--posters") {
      if (!number(c.posters)) return false;
    } else if (a == "--bodies") {
      if (!number(c.bodies)) return false;
    } else if (a == "--runs") {
      if (!number(c.runs)) return false;
    } else if (a == "--groups") {
      if (!number(c.groups)) return false;
    } else if (a == "--workers") {
      if (!number(c.workers)) return false;
    } else if (a == "--cli") {
      const char* v = value();
      if (!v) return false;
      c.cli = v;
    } else if (a == "--dir") {
      const char* v = value();
      if (!v) return false;
      c.dir = v;
    } else if (a == "--nagle") {
      c.nodelay = false;
    } else if (a == "--no-diagnose") {
      c.diagnose = false;
    } else if (a == "--summary") {
      c.summary = true;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  if (!parse_args(argc, argv, c)) {
    std::cerr << "usage: " << argv[0]
              << " [--posters N] [--bodies N] [--runs N] [--groups N] [--workers N] [--cli PATH] [--dir PATH]"
                 " [--nagle] [--no-diagnose] [--summary]\n";
    return 2;
  }
  wagroups_test::prepare_process_for_loopback();
  constexpr int kWarm = 2;  // bodies per poster before the clock starts
  std::cout << "webhook serve: " << c.posters << " keep-alive POSTers, " << c.bodies << " one-event bodies over "
            << c.groups << " groups per run (+" << kWarm << " per poster untimed), SQLite FULL, --workers "
            << (c.workers > 0 ? std::to_string(c.workers) : std::string("default")) << "\n  " << c.cli << "\n";

  std::vector<double> rates;
  long problems = 0;
  for (int run = 0; run < c.runs; ++run) {
    Folder folder(c.dir);
    const std::string db = folder.path() + "/tickets.db";
    std::vector<Signed> bodies;
    std::vector<std::string> ids;
    const int total = c.bodies + kWarm * c.posters;
    for (int i = 0; i < total; ++i) {
      ids.push_back("wamid.BENCH-" + std::to_string(run) + "-" + std::to_string(i));
      const std::string body = message_body("GRP-bench-" + std::to_string(i % c.groups), ids.back(), 1760000000 + i);
      bodies.push_back({body, sign(body, kSecret)});
    }
    Serve serve(c, db);
    const PostRun r = post_all(serve.port(), c.posters, bodies, kWarm, 200, c.nodelay);
    const std::string err = serve.stop();
    const long bad = check_store(db, ids);
    problems += bad + r.other;
    const double rate = static_cast<double>(r.answered) / r.seconds;
    rates.push_back(rate);
    std::printf("  run %d: %ld answered 200 in %.2f s = %.0f bodies/s", run + 1, r.answered, r.seconds, rate);
    if (const auto stats = commit_stats(err))
      std::printf("; %ld bodies in %ld transactions (%.1f per commit)", stats->first, stats->second,
                  stats->second ? static_cast<double>(stats->first) / static_cast<double>(stats->second) : 0.0);
    if (r.retried) std::printf("; %ld POSTs sent again after no answer", r.retried);
    std::printf("; %s\n", bad == 0 && r.other == 0 ? "every body stored exactly once"
                                                   : ("PROBLEMS: " + std::to_string(r.other) + " not answered 200, " +
                                                      std::to_string(bad) + " messages missing or repeated")
                                                         .c_str());
    std::fflush(stdout);
  }
  const double serve_rate = median(rates);
  std::printf("median: %.0f bodies/s answered 200 after commit (target >= 5,000)\n", serve_rate);

  if (c.diagnose) {
    Folder folder(c.dir);
    std::vector<double> fsyncs;
    for (int i = 0; i < 3; ++i) fsyncs.push_back(fsyncs_per_second(folder.path()));
    std::printf("bounds on this machine: %.0f fdatasync/s in %s (one per commit)", median(fsyncs),
                c.dir.empty() ? std::filesystem::temp_directory_path().c_str() : c.dir.c_str());
    // The same load answered 401: HTTP, the server guard and the HMAC, nothing parsed or stored.
    std::vector<Signed> unsigned_bodies;
    for (int i = 0; i < c.bodies + kWarm * c.posters; ++i) {
      const std::string body =
          message_body("GRP-bench-" + std::to_string(i % c.groups), "wamid.FLOOR-" + std::to_string(i), 1760000000 + i);
      unsigned_bodies.push_back({body, sign(body, "not-the-secret")});
    }
    std::vector<double> floors;
    for (int run = 0; run < 3; ++run) {
      Serve serve(c, folder.path() + "/floor.db");
      const PostRun r = post_all(serve.port(), c.posters, unsigned_bodies, kWarm, 401, c.nodelay);
      serve.stop();
      floors.push_back(static_cast<double>(r.answered) / r.seconds);
    }
    std::printf("; %.0f POSTs/s answered 401 (HTTP + verify only)\n", median(floors));
  }

  if (problems != 0) std::printf("FAILED: %ld bodies not answered 200 or not stored exactly once\n", problems);
  if (c.summary) {
    const bool pass = serve_rate >= 5000 && problems == 0;
    std::printf("BENCH\tserve_group_commit\t%.0f\tbodies/s\t>= 5,000 bodies/s (%d POSTers, FULL)\t%s\n", serve_rate,
                c.posters, pass ? "pass" : "FAIL");
  }
  return problems == 0 ? 0 : 1;
}
