// Fan-out throughput: Client::send_to_groups (CurlTransport::send_concurrently, rate limit off)
// against a hand-written curl-multi loop with the same concurrency, both sending one text message
// to each of N groups (default 10,000) at the same in-process loopback server.
//
//   wagroups_bench_fanout_throughput [--groups N] [--rounds N] [--concurrency N] [--summary]
//
// Rounds alternate the two sides (the first side alternating too); the headline figure is the
// median over rounds of the per-round fan-out/raw throughput ratio.

#include <curl/curl.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "loopback_server.hpp"
#include "wagroups/client/client.hpp"
#include "wagroups/http/curl_transport.hpp"
#include "wagroups/testing/fake_transport.hpp"

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kToken = "EAAGbenchTOKEN0000000000000000000000";
constexpr const char* kPhone = "106540352242922";

struct Settings {
  int groups = 10000;
  int rounds = 9;
  int concurrency = 8;
  bool summary = false;
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--groups N] [--rounds N] [--concurrency N] [--summary]\n", argv0);
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
    char* end = nullptr;
    const long v = std::strtol(argv[++i], &end, 10);
    if (*end != '\0' || v < 1 || v > 1000000) usage(argv[0]);
    if (arg == "--groups") s.groups = static_cast<int>(std::min<long>(v, wagroups::limits::max_fan_out_groups));
    else if (arg == "--rounds") s.rounds = static_cast<int>(v);
    else if (arg == "--concurrency") s.concurrency = static_cast<int>(std::min<long>(v, 64));
    else usage(argv[0]);
  }
  return s;
}

// CPU time of the calling thread (the sending side only; the server runs on other threads).
double thread_cpu_us() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  const auto us = (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000L + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
  return static_cast<double>(us);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

std::vector<std::string> make_groups(int n) {
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back("1203630" + std::to_string(30000000 + i) + "@g.us");
  return out;
}

wagroups::GroupMessage the_message() {
  wagroups::GroupMessage m;
  m.type = wagroups::MessageType::text;
  m.text = "Our store opens at 9:00 tomorrow";
  return m;
}

// The request the client sends for one group (headers and body shape), captured once.
wagroups::HttpRequest capture(const std::string& base_url) {
  auto fake = std::make_shared<wagroups::testing::FakeTransport>();
  fake->enqueue(200, R"({"messaging_product":"whatsapp","messages":[{"id":"wamid.X"}]})");
  wagroups::ClientOptions o;
  o.base_url = base_url;
  o.allow_insecure_http = true;
  o.access_token = kToken;
  o.phone_number_id = kPhone;
  o.transport = fake;
  wagroups::GroupMessage m = the_message();
  m.group_id = "120363000000000000@g.us";
  if (!wagroups::Client(o).send_group_message(m)) {
    std::fprintf(stderr, "cannot capture the client's request\n");
    std::exit(1);
  }
  return fake->last_request();
}

std::size_t on_body(char* data, std::size_t size, std::size_t nmemb, void* userdata) {
  static_cast<std::string*>(userdata)->append(data, size * nmemb);
  return size * nmemb;
}

// The baseline: a curl multi handle with `concurrency` easy handles, each re-armed with the next
// group's body as soon as its previous request completes.
class RawMulti {
 public:
  RawMulti(const wagroups::HttpRequest& request, int concurrency) : url_(request.url), slots_(concurrency) {
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    for (const auto& h : request.headers) headers_ = curl_slist_append(headers_, (h.first + ": " + h.second).c_str());
    headers_ = curl_slist_append(headers_, "Expect:");
    const std::string& body = request.body;
    const auto at = body.find("120363000000000000@g.us");
    prefix_ = body.substr(0, at);
    suffix_ = body.substr(at + std::strlen("120363000000000000@g.us"));
    for (auto& s : slots_) {
      s.handle = curl_easy_init();
      curl_easy_setopt(s.handle, CURLOPT_URL, url_.c_str());
      curl_easy_setopt(s.handle, CURLOPT_HTTPHEADER, headers_);
      curl_easy_setopt(s.handle, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(s.handle, CURLOPT_ACCEPT_ENCODING, "");
      curl_easy_setopt(s.handle, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
      curl_easy_setopt(s.handle, CURLOPT_WRITEFUNCTION, on_body);
      curl_easy_setopt(s.handle, CURLOPT_WRITEDATA, static_cast<void*>(&s.response));
      curl_easy_setopt(s.handle, CURLOPT_PRIVATE, static_cast<void*>(&s));
    }
  }
  ~RawMulti() {
    for (auto& s : slots_) curl_easy_cleanup(s.handle);
    curl_multi_cleanup(multi_);
    curl_slist_free_all(headers_);
  }
  RawMulti(const RawMulti&) = delete;
  RawMulti& operator=(const RawMulti&) = delete;

  // Sends to every group; returns how many were answered 200.
  std::size_t run(const std::vector<std::string>& groups) {
    std::size_t next = 0, ok = 0, active = 0;
    auto start = [&](Slot& s) {
      s.body = prefix_ + groups[next++] + suffix_;
      s.response.clear();
      curl_easy_setopt(s.handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(s.body.size()));
      curl_easy_setopt(s.handle, CURLOPT_POSTFIELDS, s.body.data());
      curl_multi_add_handle(multi_, s.handle);
      ++active;
    };
    for (auto& s : slots_) {
      if (next < groups.size()) start(s);
    }
    while (active > 0) {
      int running = 0;
      curl_multi_perform(multi_, &running);
      int queued = 0;
      bool any = false;
      while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL* h = msg->easy_handle;
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (msg->data.result == CURLE_OK && status == 200) ++ok;
        void* p = nullptr;
        curl_easy_getinfo(h, CURLINFO_PRIVATE, &p);
        curl_multi_remove_handle(multi_, h);
        --active;
        any = true;
        if (next < groups.size()) start(*static_cast<Slot*>(p));
      }
      if (!any) curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
    }
    return ok;
  }

 private:
  struct Slot {
    CURL* handle = nullptr;
    std::string body;
    std::string response;
  };
  CURLM* multi_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::string url_;
  std::string prefix_, suffix_;
  std::vector<Slot> slots_;
};

}  // namespace

int main(int argc, char** argv) {
  const Settings settings = parse_args(argc, argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  // Both sides talk to this one server; its keep-alive limit (LoopbackServer: 100,000 requests a
  // connection) is far above what a round sends, so neither side pays for reconnects. httplib
  // gives each open connection a worker thread until it closes, and both sides keep theirs open:
  // the pool has a worker for every connection of both, so neither waits for the other's.
  wagroups_test::LoopbackServer server;
  server->new_task_queue = [&] {
    return new httplib::ThreadPool(2 * static_cast<std::size_t>(settings.concurrency) + 8);
  };
  std::atomic<long> answered{0};
  const std::string path = "/" + wagroups::ClientOptions{}.api_version + "/" + kPhone + "/messages";
  server->Post(path, [&](const httplib::Request& req, httplib::Response& res) {
    const auto at = req.body.find("\"to\":\"");
    const std::string to =
        at == std::string::npos ? std::string() : req.body.substr(at + 6, req.body.find('"', at + 6) - at - 6);
    answered.fetch_add(1, std::memory_order_relaxed);
    res.set_content(R"({"messaging_product":"whatsapp","contacts":[{"input":")" + to + R"(","wa_id":")" + to +
                        R"("}],"messages":[{"id":"wamid.HBgL)" + to + R"("}]})",
                    "application/json; charset=UTF-8");
  });
  server.start();

  const auto groups = make_groups(settings.groups);
  const wagroups::HttpRequest request = capture(server.base_url());
  std::printf("wagroups fan-out throughput (libcurl %s): %d groups per run, %d in flight, rate limit off, %d rounds\n",
              curl_version_info(CURLVERSION_NOW)->version, settings.groups, settings.concurrency, settings.rounds);

  RawMulti raw(request, settings.concurrency);
  auto transport = std::make_shared<wagroups::CurlTransport>();
  wagroups::ClientOptions options;
  options.base_url = server.base_url();
  options.allow_insecure_http = true;
  options.access_token = kToken;
  options.phone_number_id = kPhone;
  options.transport = transport;
  wagroups::Client client(options);
  wagroups::FanOutOptions fan;
  fan.messages_per_second = 0;
  fan.max_in_flight = static_cast<std::size_t>(settings.concurrency);
  const wagroups::GroupMessage message = the_message();

  std::vector<double> raw_cpu, fan_cpu;  // us of sender CPU per send
  auto run_raw = [&] {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_us();
    const std::size_t ok = raw.run(groups);
    raw_cpu.push_back((thread_cpu_us() - c0) / static_cast<double>(groups.size()));
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (ok != groups.size()) {
      std::fprintf(stderr, "raw loop: %zu of %zu answered 200\n", ok, groups.size());
      std::exit(1);
    }
    return static_cast<double>(groups.size()) / s;
  };
  auto run_fanout = [&] {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_us();
    auto report = client.send_to_groups(groups, message, fan);
    fan_cpu.push_back((thread_cpu_us() - c0) / static_cast<double>(groups.size()));
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!report || !report->all_sent()) {
      std::fprintf(stderr, "fan-out: %s\n", report ? "not every group was sent" : report.error().to_string().c_str());
      std::exit(1);
    }
    return static_cast<double>(groups.size()) / s;
  };

  // Warm-up: connections opened, caches filled.
  {
    std::vector<std::string> few(groups.begin(), groups.begin() + std::min<std::size_t>(500, groups.size()));
    raw.run(few);
    (void)client.send_to_groups(few, message, fan);
  }

  std::vector<double> ratios, raw_rates, fan_rates;
  for (int round = 0; round < settings.rounds; ++round) {
    double r, f;
    if (round % 2 == 0) {
      r = run_raw();
      f = run_fanout();
    } else {
      f = run_fanout();
      r = run_raw();
    }
    raw_rates.push_back(r);
    fan_rates.push_back(f);
    ratios.push_back(f / r);
    std::printf(
        "  round %d: raw curl-multi %8.0f sends/s   Client::send_to_groups %8.0f sends/s   fan-out/raw %.1f %%\n",
        round + 1, r, f, 100.0 * f / r);
  }
  const double ratio = median(ratios) * 100.0;
  std::printf(
      "median: raw %.0f sends/s, fan-out %.0f sends/s; fan-out/raw %.1f %% (median of per-round ratios; target >= 90 "
      "%%)\n",
      median(raw_rates), median(fan_rates), ratio);
  std::printf("sender CPU per send (median): raw %.1f us, fan-out %.1f us\n", median(raw_cpu), median(fan_cpu));
  std::printf("connections opened by the fan-out's transport: %ld; requests answered: %ld\n",
              transport->connections_opened(), answered.load());
  if (settings.summary) {
    std::printf("BENCH\tfanout_vs_raw\t%.1f\t%%\t>= 90 %% of a raw curl-multi loop\t%s\n", ratio,
                ratio >= 90.0 ? "pass" : "FAIL");
  }
  return 0;
}
