// Per-request overhead of wagroups::Client::list_groups over a CurlTransport, against a bare
// libcurl easy-handle loop sending the same request, both to the same in-process loopback server.
//
//   wagroups_bench_client_overhead [--rounds N] [--requests N] [--warmup N]
//                                  [--cpu N | --server-cpu N --client-cpu N]
//
// Placement: by default (on a machine with 2+ CPUs) the server's threads run on CPU 0 and the
// measured loops on CPU 1, as with a peer on another host. --cpu N puts everything on one CPU
// instead: steadier, but the server's work then evicts the client's caches between requests,
// which a real deployment does not see.
//
// Three sides: a bare libcurl loop, CurlTransport::send alone (with the request the client builds),
// and Client::list_groups. Within a round the sides' requests are interleaved one by one (the side
// going first rotating), so load from elsewhere hits all three alike. The headline ratio is the
// median over rounds of the per-round client/raw ratio.

#include <curl/curl.h>
#if defined(__linux__)
#include <sched.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "loopback_server.hpp"
#include "wagroups/client/client.hpp"
#include "wagroups/http/curl_transport.hpp"
#include "wagroups/testing/fake_transport.hpp"

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kToken = "EAAGbenchTOKEN0000000000000000000000";
constexpr const char* kPhone = "106540352242922";
constexpr int kPageSize = 25;

struct Settings {
  // Many short rounds: on a shared machine a burst of other load then spoils few rounds, and the
  // median discards them.
  int rounds = 30;
  int requests = 200;
  int warmup = 300;
  int cpu = -1;         ///< pin every thread (client and server) to this CPU; -1: no pinning
  int server_cpu = -1;  ///< with client_cpu: the server's threads on this CPU...
  int client_cpu = -1;  ///< ...and the measured loops on this one, as with a remote peer
  bool summary = false;  ///< print the BENCH line for tests/bench/run.sh
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(
      stderr,
      "usage: %s [--rounds N] [--requests N] [--warmup N] [--cpu N | --server-cpu N --client-cpu N] [--summary]\n",
      argv0);
  std::exit(2);
}

Settings parse_args(int argc, char** argv) {
  Settings s;
  int i = 1;
  while (i < argc) {
    const std::string arg = argv[i];
    if (arg == "--summary") {
      s.summary = true;
      ++i;
      continue;
    }
    if (arg == "--help" || arg == "-h" || i + 1 >= argc) usage(argv[0]);
    char* end = nullptr;
    const long value = std::strtol(argv[i + 1], &end, 10);
    const bool is_cpu = arg == "--cpu" || arg == "--server-cpu" || arg == "--client-cpu";
    const long min = is_cpu ? 0 : 1;
    if (end == argv[i + 1] || *end != '\0' || value < min || value > 1000000) usage(argv[0]);
    if (arg == "--cpu") {
      s.cpu = static_cast<int>(value);
    } else if (arg == "--server-cpu") {
      s.server_cpu = static_cast<int>(value);
    } else if (arg == "--client-cpu") {
      s.client_cpu = static_cast<int>(value);
    } else if (arg == "--rounds") {
      s.rounds = static_cast<int>(value);
    } else if (arg == "--requests") {
      s.requests = static_cast<int>(value);
    } else if (arg == "--warmup") {
      s.warmup = static_cast<int>(value);
    } else {
      usage(argv[0]);
    }
    i += 2;
  }
  if ((s.server_cpu >= 0) != (s.client_cpu >= 0) || (s.cpu >= 0 && s.server_cpu >= 0)) usage(argv[0]);
  return s;
}

// A list-groups page of about 1 KB, shaped like Meta's answer.
std::string list_groups_body() {
  std::string groups;
  for (int i = 0; i < 9; ++i) {
    if (i > 0) groups += ',';
    groups += R"({"id":"12036302437)" + std::to_string(4100 + i) + R"(@g.us","subject":"Order #10)" +
              std::to_string(40 + i) + R"( delivery question","created_at":"17000)" +
              std::to_string(10000 + i) + R"("})";
  }
  return R"({"data":{"groups":[)" + groups +
         R"(]},"paging":{"cursors":{"before":"QVFIUmJfZA2VBaWRfUWRLbHNBZA1BXa0","after":"QVFIUjBtVWlDTmF4cE5ZATnRjaXNqTFo"}}})";
}

// Client and server threads on one CPU: no cross-core wake-ups, so much less run-to-run noise on
// a shared or small machine (both sides pay the same context switches).
void pin_to_cpu(int cpu) {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<std::size_t>(cpu), &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    std::fprintf(stderr, "cannot pin to CPU %d; running unpinned\n", cpu);
  }
#else
  std::fprintf(stderr, "--cpu is supported on Linux only; running unpinned (CPU %d)\n", cpu);
#endif
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  if (n == 0) return 0.0;
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

std::size_t on_body(char* data, std::size_t size, std::size_t nmemb, void* userdata) {
  static_cast<std::string*>(userdata)->append(data, size * nmemb);
  return size * nmemb;
}

// The request the client sends for list_groups(limit=25), captured once through a FakeTransport.
wagroups::HttpRequest capture_client_request(const std::string& base_url, const std::string& body) {
  auto fake = std::make_shared<wagroups::testing::FakeTransport>();
  fake->enqueue(200, body);
  wagroups::ClientOptions options;
  options.base_url = base_url;
  options.allow_insecure_http = true;  // loopback HTTP
  options.access_token = kToken;
  options.phone_number_id = kPhone;
  options.transport = fake;
  wagroups::Client client(options);
  wagroups::ListGroupsRequest request;
  request.page.limit = kPageSize;
  auto listed = client.list_groups(request);
  if (!listed.ok()) {
    std::fprintf(stderr, "client could not decode the benchmark page: %s\n",
                 listed.error().to_string().c_str());
    std::exit(1);
  }
  return fake->last_request();
}

class RawLoop {
 public:
  explicit RawLoop(const wagroups::HttpRequest& request) : handle_(curl_easy_init()) {
    if (handle_ == nullptr) {
      std::fprintf(stderr, "curl_easy_init failed\n");
      std::exit(1);
    }
    for (const auto& h : request.headers) headers_ = curl_slist_append(headers_, (h.first + ": " + h.second).c_str());
    curl_easy_setopt(handle_, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(handle_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(handle_, CURLOPT_NOSIGNAL, 1L);
    // The transport asks for compressed answers; ask the same so both sides send the same bytes.
    curl_easy_setopt(handle_, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(handle_, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(handle_, CURLOPT_WRITEDATA, static_cast<void*>(&body_));
  }
  ~RawLoop() {
    curl_easy_cleanup(handle_);
    curl_slist_free_all(headers_);
  }
  RawLoop(const RawLoop&) = delete;
  RawLoop& operator=(const RawLoop&) = delete;

  void run(int n) {
    for (int i = 0; i < n; ++i) {
      run_one();
    }
  }

  void run_one() {
    {
      body_.clear();
      const CURLcode rc = curl_easy_perform(handle_);
      long status = 0;
      curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &status);
      if (rc != CURLE_OK || status != 200 || body_.empty()) {
        std::fprintf(stderr, "raw libcurl request failed: %s (HTTP %ld)\n", curl_easy_strerror(rc), status);
        std::exit(1);
      }
      long opened = 0;
      curl_easy_getinfo(handle_, CURLINFO_NUM_CONNECTS, &opened);
      connects_ += opened;
    }
  }

  long connects() const { return connects_; }

 private:
  CURL* handle_;
  curl_slist* headers_ = nullptr;
  std::string body_;
  long connects_ = 0;
};

class ClientLoop {
 public:
  ClientLoop(const std::string& base_url, std::shared_ptr<wagroups::CurlTransport> transport)
      : transport_(transport), client_(make_options(base_url, std::move(transport))) {
    request_.page.limit = kPageSize;
  }

  void run(int n, std::size_t expected_groups) {
    for (int i = 0; i < n; ++i) run_one(expected_groups);
  }

  void run_one(std::size_t expected_groups) {
    {
      auto listed = client_.list_groups(request_);
      if (!listed.ok() || listed->groups.size() != expected_groups) {
        std::fprintf(stderr, "client request failed: %s\n",
                     listed.ok() ? "wrong group count" : listed.error().to_string().c_str());
        std::exit(1);
      }
    }
  }

  long connections_opened() const { return transport_->connections_opened(); }

 private:
  static wagroups::ClientOptions make_options(const std::string& base_url,
                                              std::shared_ptr<wagroups::CurlTransport> transport) {
    wagroups::ClientOptions options;  // retries at their defaults
    options.base_url = base_url;
    options.allow_insecure_http = true;  // loopback HTTP
    options.access_token = kToken;
    options.phone_number_id = kPhone;
    options.transport = std::move(transport);
    return options;
  }

  std::shared_ptr<wagroups::CurlTransport> transport_;
  wagroups::Client client_;
  wagroups::ListGroupsRequest request_;
};

// The client's own transport alone, sending the request the client builds: splits the client's
// overhead into transport and client (URL building, retry bookkeeping, JSON decoding) shares.
class TransportLoop {
 public:
  explicit TransportLoop(wagroups::HttpRequest request) : request_(std::move(request)) {}

  void run(int n) {
    for (int i = 0; i < n; ++i) run_one();
  }

  void run_one() {
    {
      auto response = transport_.send(request_);
      if (!response.ok() || response->status != 200 || response->body.empty()) {
        std::fprintf(stderr, "transport request failed: %s\n",
                     response.ok() ? "unexpected answer" : response.error().to_string().c_str());
        std::exit(1);
      }
    }
  }

  long connections_opened() const { return transport_.connections_opened(); }

 private:
  wagroups::HttpRequest request_;
  wagroups::CurlTransport transport_;
};

std::string placement(const Settings& s) {
  if (s.cpu >= 0) return "client and server pinned to CPU " + std::to_string(s.cpu);
  if (s.client_cpu >= 0)
    return "server on CPU " + std::to_string(s.server_cpu) + ", client on CPU " + std::to_string(s.client_cpu);
  return "not pinned";
}

struct Side {
  const char* name;
  std::function<void()> run_one;
  std::vector<double> round_means;  // us/request
  double round_total_us = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Settings settings = parse_args(argc, argv);
  if (settings.cpu < 0 && settings.server_cpu < 0 && std::thread::hardware_concurrency() >= 2) {
    settings.server_cpu = 0;
    settings.client_cpu = 1;
  }
  // Threads inherit the affinity of the thread that creates them: pin before the server starts.
  if (settings.cpu >= 0) pin_to_cpu(settings.cpu);
  if (settings.server_cpu >= 0) pin_to_cpu(settings.server_cpu);
  curl_global_init(CURL_GLOBAL_DEFAULT);  // for the raw loop; the transport does its own once

  const std::string body = list_groups_body();
  // The client's own default version, so that the path cannot drift from what it sends.
  const std::string path = "/" + wagroups::ClientOptions{}.api_version + "/" + kPhone + "/groups";

  wagroups_test::LoopbackServer server;
  server->Get(path, [&](const httplib::Request& req, httplib::Response& res) {
    if (req.get_param_value("limit") != std::to_string(kPageSize)) {
      res.status = 400;
      res.set_content(R"({"error":{"message":"bad limit","code":100}})", "application/json; charset=UTF-8");
      return;
    }
    // Graph's own content type. httplib compresses only the exact "application/json", so this
    // answer goes out uncompressed to every side.
    res.set_content(body, "application/json; charset=UTF-8");
  });
  server.start();
  if (settings.client_cpu >= 0) pin_to_cpu(settings.client_cpu);  // the measured loops only

  const wagroups::HttpRequest request = capture_client_request(server.base_url(), body);
  const std::size_t expected_groups = 9;

  std::printf("wagroups client overhead benchmark (libcurl %s)\n", curl_version_info(CURLVERSION_NOW)->version);
  std::printf("request: GET %s\n", request.url.c_str());
  std::printf("headers:");
  for (const auto& h : request.headers) std::printf(" %s", h.first.c_str());
  std::printf("\nresponse body: %zu bytes; %d rounds x %d requests per side, %d warm-up requests; %s\n",
              body.size(), settings.rounds, settings.requests, settings.warmup,
              placement(settings).c_str());

  RawLoop raw(request);
  TransportLoop transport(request);
  ClientLoop client(server.base_url(), std::make_shared<wagroups::CurlTransport>());

  std::vector<Side> sides;
  sides.push_back({"raw", [&] { raw.run_one(); }, {}, 0});
  sides.push_back({"transport", [&] { transport.run_one(); }, {}, 0});
  sides.push_back({"client", [&] { client.run_one(expected_groups); }, {}, 0});
  for (int i = 0; i < settings.warmup; ++i) {
    for (auto& side : sides) side.run_one();
  }

  std::vector<double> ratios;  // client/raw per round
  const auto bench_start = Clock::now();
  for (int round = 0; round < settings.rounds; ++round) {
    // Requests of the three sides are interleaved one by one (the side going first rotates), so
    // a burst of load from elsewhere on the machine hits all three alike.
    for (auto& side : sides) side.round_total_us = 0;
    for (int i = 0; i < settings.requests; ++i) {
      for (std::size_t k = 0; k < sides.size(); ++k) {
        Side& side = sides[(static_cast<std::size_t>(i) + k) % sides.size()];
        const auto start = Clock::now();
        side.run_one();
        side.round_total_us += std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      }
    }
    for (auto& side : sides) side.round_means.push_back(side.round_total_us / settings.requests);
    const double r = sides[0].round_means.back();
    const double t = sides[1].round_means.back();
    const double c = sides[2].round_means.back();
    ratios.push_back(c / r);
    std::printf("  round %2d: raw %7.1f us  transport %7.1f us  client %7.1f us  client/raw %.3f\n", round + 1, r,
                t, c, c / r);
  }
  const std::chrono::duration<double> total = Clock::now() - bench_start;

  const double raw_median = median(sides[0].round_means);
  const double transport_median = median(sides[1].round_means);
  const double client_median = median(sides[2].round_means);
  std::printf("raw libcurl: median %.1f us/request\n", raw_median);
  std::printf("CurlTransport::send: median %.1f us/request\n", transport_median);
  std::printf("wagroups client: median %.1f us/request\n", client_median);
  std::printf("ratio client/raw: %.2f (median of per-round ratios; target <= 1.10)\n", median(ratios));
  std::printf("ratio of medians: client/raw %.2f, transport/raw %.2f\n", client_median / raw_median,
              transport_median / raw_median);
  const auto best = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
  std::printf("best rounds: raw %.1f, transport %.1f, client %.1f us/request (client/raw %.2f)\n",
              best(sides[0].round_means), best(sides[1].round_means), best(sides[2].round_means),
              best(sides[2].round_means) / best(sides[0].round_means));
  std::printf("connections opened: raw %ld, transport %ld, client %ld; measured phase %.1f s\n",
              raw.connects(), transport.connections_opened(), client.connections_opened(), total.count());
  if (settings.summary) {
    const double ratio = median(ratios);
    std::printf("BENCH\tclient_overhead\t%.3f\tx\t<= 1.10x raw libcurl\t%s\n", ratio, ratio <= 1.10 ? "pass" : "FAIL");
  }
  return 0;
}
