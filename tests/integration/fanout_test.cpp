// Client::send_to_groups over CurlTransport (curl multi) against a raw loopback HTTP/1.1 server
// that throttles, and resets connections before and after reading a request, and counts what it
// accepted per group: nothing may be accepted twice.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "loopback_server.hpp"
#include "wagroups/client/client.hpp"
#include "wagroups/http/curl_transport.hpp"

namespace {

using namespace std::chrono_literals;
using wagroups::FanOutStatus;
using SteadyTime = std::chrono::steady_clock::time_point;

enum class Action { ok, throttle_429, throttle_130429, throttle_131208, reset_after_read };

// A keep-alive HTTP/1.1 server on raw sockets (httplib cannot reset a connection on purpose).
class ScriptedServer {
 public:
  // Decides the answer to the n-th request (1-based) for a group.
  using Script = std::function<Action(const std::string& group, int n)>;

  explicit ScriptedServer(Script script, int reset_before_read_every = 0, std::chrono::milliseconds handler_delay = 0ms)
      : script_(std::move(script)), reset_every_(reset_before_read_every), delay_(handler_delay) {
    wagroups_test::prepare_process_for_loopback();
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listener_ >= 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener_, 128) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    ::close(listener_);
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::map<std::string, int> accepted() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return accepted_;
  }
  std::vector<SteadyTime> accept_times() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return times_;
  }
  int resets_before_read() const { return resets_before_.load(); }
  int resets_after_read() const { return resets_after_.load(); }
  int requests_read() const { return requests_read_.load(); }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lock(mutex_);
      threads_.emplace_back([this, fd] { serve(fd); });
    }
  }

  static void reset(int fd) {
    linger l{1, 0};  // close with RST, not FIN
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
  }

  // Waits for bytes; false on stop, close or an idle second.
  bool readable(int fd) {
    for (int waited = 0; waited < 2000 && !stop_; waited += 20) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }

  void serve(int fd) {
    std::string buffer;
    for (;;) {
      if (buffer.empty()) {
        if (!readable(fd)) break;
        char first;
        if (::recv(fd, &first, 1, MSG_PEEK) <= 0) break;  // the client closed: no request came
        if (reset_every_ > 0 && ++arrivals_ % reset_every_ == 0) {
          resets_before_.fetch_add(1);
          reset(fd);
          return;
        }
      }
      // One request: headers, then Content-Length bytes.
      std::size_t end;
      while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
        if (!read_more(fd, buffer)) return close_quietly(fd);
      }
      std::size_t length = 0;
      const auto cl = buffer.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) length = std::stoul(buffer.substr(cl + 16));
      while (buffer.size() < end + 4 + length) {
        if (!read_more(fd, buffer)) return close_quietly(fd);
      }
      const std::string body = buffer.substr(end + 4, length);
      buffer.erase(0, end + 4 + length);
      requests_read_.fetch_add(1);
      const std::string group = to_of(body);
      int n;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        n = ++attempts_[group];
      }
      const Action action = script_(group, n);
      if (delay_ > 0ms) std::this_thread::sleep_for(delay_);
      if (action == Action::reset_after_read || action == Action::ok) {
        std::lock_guard<std::mutex> lock(mutex_);
        ++accepted_[group];  // read whole: as good as sent, answered or not
        times_.push_back(std::chrono::steady_clock::now());
      }
      if (action == Action::reset_after_read) {
        resets_after_.fetch_add(1);
        reset(fd);
        return;
      }
      std::string status = "200 OK", extra, answer;
      if (action == Action::ok) {
        answer = R"({"messaging_product":"whatsapp","contacts":[{"input":")" + group + R"(","wa_id":")" + group +
                 R"("}],"messages":[{"id":"wamid.)" + group + R"("}]})";
      } else if (action == Action::throttle_429) {
        status = "429 Too Many Requests";
        extra = "Retry-After: 1\r\n";
        answer = R"({"error":{"message":"Too many calls","type":"OAuthException","code":4}})";
      } else {
        status = "400 Bad Request";
        const int code = action == Action::throttle_130429 ? 130429 : 131208;
        answer =
            R"({"error":{"message":"Rate limit hit","type":"OAuthException","code":)" + std::to_string(code) + "}}";
      }
      const std::string response = "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\n" + extra +
                                   "Content-Length: " + std::to_string(answer.size()) + "\r\n\r\n" + answer;
      if (::send(fd, response.data(), response.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(response.size())) break;
    }
    close_quietly(fd);
  }

  bool read_more(int fd, std::string& buffer) {
    if (!readable(fd)) return false;
    char chunk[4096];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  static void close_quietly(int fd) { ::close(fd); }

  static std::string to_of(const std::string& body) {
    const auto at = body.find("\"to\":\"");
    if (at == std::string::npos) return {};
    return body.substr(at + 6, body.find('"', at + 6) - at - 6);
  }

  Script script_;
  int reset_every_;
  std::chrono::milliseconds delay_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  mutable std::mutex mutex_;
  std::vector<std::thread> threads_;
  std::map<std::string, int> attempts_;
  std::map<std::string, int> accepted_;
  std::vector<SteadyTime> times_;
  std::atomic<int> arrivals_{0};
  std::atomic<int> resets_before_{0};
  std::atomic<int> resets_after_{0};
  std::atomic<int> requests_read_{0};
};

wagroups::ClientOptions options_for(const std::string& base_url) {
  wagroups::ClientOptions o;
  o.access_token = "EAAfanout-test-token";
  o.phone_number_id = "106540352242922";
  o.base_url = base_url;
  o.allow_insecure_http = true;
  o.request_timeout = 5s;
  o.transport = wagroups::make_curl_transport();
  return o;
}

std::vector<std::string> groups(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("1203630" + std::to_string(20000000 + i) + "@g.us");
  return out;
}

wagroups::GroupMessage text_message() {
  wagroups::GroupMessage m;
  m.type = wagroups::MessageType::text;
  m.text = "Maintenance tonight at 22:00";
  return m;
}

}  // namespace

TEST_CASE("issue11 item 5: no group is sent twice under 429s, Graph throttling and connection resets",
          "[fanout][integration]") {
  const auto all = groups(120);
  std::map<std::string, int> index;
  for (std::size_t i = 0; i < all.size(); ++i) index[all[i]] = static_cast<int>(i);
  ScriptedServer server(
      [&](const std::string& group, int n) {
        const int i = index.count(group) ? index[group] : -1;
        if (n > 1) return Action::ok;
        switch (i % 6) {
          case 1: return Action::throttle_429;
          case 2: return Action::throttle_130429;
          case 3: return Action::throttle_131208;
          case 4: return Action::reset_after_read;
          default: return Action::ok;
        }
      },
      /*reset_before_read_every=*/11);
  wagroups::Client client(options_for(server.base_url()));
  wagroups::FanOutOptions o;
  o.max_in_flight = 6;
  o.messages_per_second = 0;
  o.initial_backoff = 1ms;
  o.max_backoff = 5ms;
  o.max_retry_after = 20ms;  // the server's "Retry-After: 1", cut short for the test
  o.max_attempts = 10;
  auto report = client.send_to_groups(all, text_message(), o);
  REQUIRE(report);
  const auto accepted = server.accepted();
  int sent = 0, unknown = 0;
  for (const auto& r : report->results) {
    const int times = accepted.count(r.group_id) ? accepted.at(r.group_id) : 0;
    INFO(r.group_id << " " << wagroups::to_string(r.status) << " accepted " << times);
    CHECK(times <= 1);  // never twice
    CHECK(r.status != FanOutStatus::failed);
    CHECK(r.status != FanOutStatus::not_sent);
    if (r.status == FanOutStatus::sent) {
      ++sent;
      CHECK(times == 1);
      CHECK(r.response->message_id() == "wamid." + r.group_id);
    } else if (r.status == FanOutStatus::unknown) {
      ++unknown;
      REQUIRE(r.error);
      CHECK(r.error->request_may_have_been_sent);
    }
  }
  // Every reset is one unknown outcome, and every throttled group got through on a repeat.
  CHECK(unknown == server.resets_before_read() + server.resets_after_read());
  CHECK(server.resets_after_read() >= 1);
  CHECK(server.resets_before_read() >= 1);
  CHECK(sent + unknown == 120);
  // 3 of each 6 groups were throttled once (unless a reset before reading hit their first send).
  CHECK(static_cast<int>(report->counts.retries) >= 60 - server.resets_before_read());
  CHECK(static_cast<int>(report->counts.sent) == sent);
}

TEST_CASE("issue11 item 5: a POST is not re-sent when a kept-alive connection breaks after the request was read",
          "[fanout][integration]") {
  // libcurl re-sends on a fresh connection by itself when a reused one dies before any answer
  // byte; the server had read (and acted on) the first copy.
  std::atomic<int> calls{0};
  ScriptedServer server([&](const std::string&, int) { return ++calls == 2 ? Action::reset_after_read : Action::ok; });
  wagroups::Client client(options_for(server.base_url()));
  const auto ids = groups(2);
  REQUIRE(client.send_text(ids[0], "first"));
  auto second = client.send_text(ids[1], "second");
  INFO("accepted " << server.accepted()[ids[1]] << " read " << server.requests_read() << " "
                   << (second ? second->message_id() : second.error().to_string()));
  REQUIRE_FALSE(second);
  CHECK(second.error().code == wagroups::ErrorCode::transport);
  CHECK(second.error().request_may_have_been_sent);
  CHECK(server.accepted()[ids[1]] == 1);
  CHECK(server.requests_read() == 2);
}

TEST_CASE("issue11 item 5: the rate limit holds within 5 % over a 2-second window (real time, loopback)",
          "[fanout][integration]") {
  ScriptedServer server([](const std::string&, int) { return Action::ok; });
  wagroups::Client client(options_for(server.base_url()));
  wagroups::FanOutOptions o;
  o.max_in_flight = 4;
  o.messages_per_second = 200;
  o.burst = 4;
  auto report = client.send_to_groups(groups(440), text_message(), o);
  REQUIRE(report);
  REQUIRE(report->all_sent());
  auto times = server.accept_times();
  std::sort(times.begin(), times.end());
  REQUIRE(times.size() == 440);
  std::size_t worst = 0;
  for (std::size_t i = 0, j = 0; i < times.size(); ++i) {
    while (times[i] - times[j] >= 2s) ++j;
    worst = std::max(worst, i - j + 1);
  }
  CHECK(worst <= 420);  // 400 + 5 %
  // And it is a limit, not a crawl: the first 2 s carry at least 95 % of the rate.
  const auto first_window =
      std::count_if(times.begin(), times.end(), [&](SteadyTime t) { return t - times.front() < 2s; });
  CHECK(first_window >= 380);
}

TEST_CASE("issue11 item 5: cancellation over curl multi stops within one in-flight round", "[fanout][integration]") {
  ScriptedServer server([](const std::string&, int) { return Action::ok; }, 0, 5ms);
  wagroups::Client client(options_for(server.base_url()));
  wagroups::CancellationToken cancel;
  wagroups::FanOutOptions o;
  o.max_in_flight = 4;
  o.messages_per_second = 0;
  o.cancel = cancel;
  int read_at_cancel = -1;
  std::size_t last_finished = 0;
  bool monotone = true;
  o.progress = [&](const wagroups::FanOutProgress& p) {
    if (p.finished < last_finished) monotone = false;
    last_finished = p.finished;
    if (p.finished == 10 && read_at_cancel < 0) {
      read_at_cancel = server.requests_read();
      cancel.cancel();
    }
  };
  auto report = client.send_to_groups(groups(200), text_message(), o);
  REQUIRE(report);
  CHECK(report->cancelled);
  CHECK(monotone);
  REQUIRE(read_at_cancel >= 10);
  // Only what was already in flight at the cancel (at most max_in_flight) reached the server after it.
  CHECK(server.requests_read() <= 10 + 4);
  CHECK(static_cast<int>(report->counts.sent) == server.requests_read());
  CHECK(report->counts.sent + report->counts.not_sent == 200);
  CHECK(report->counts.not_sent >= 200 - 14);
}

TEST_CASE("issue11 item 5: over plain HTTP the fan-out keeps one kept-alive connection per request in flight",
          "[fanout][integration]") {
  // HTTP/2 (CURL_HTTP_VERSION_2TLS, CURLMOPT_PIPELINING multiplex, PIPEWAIT) is negotiated only over
  // TLS with ALPN, which no offline loopback test can provide; what is testable: with `http2` on
  // (the default) a plain-HTTP fan-out neither waits for multiplexing nor opens a connection per
  // request.
  ScriptedServer server([](const std::string&, int) { return Action::ok; });
  wagroups::CurlTransportOptions curl;
  REQUIRE(curl.http2);
  auto transport = std::make_shared<wagroups::CurlTransport>(curl);
  wagroups::ClientOptions options = options_for(server.base_url());
  options.transport = transport;
  wagroups::Client client(options);
  wagroups::FanOutOptions o;
  o.max_in_flight = 4;
  o.messages_per_second = 0;
  auto report = client.send_to_groups(groups(200), text_message(), o);
  REQUIRE(report);
  CHECK(report->all_sent());
  CHECK(transport->connections_opened() >= 1);
  CHECK(transport->connections_opened() <= 4);
  // A second fan-out reuses the kept connections.
  auto again = client.send_to_groups(groups(50), text_message(), o);
  REQUIRE(again);
  CHECK(transport->connections_opened() <= 4);
}

TEST_CASE("issue13: four threads fan out at once over one shared CurlTransport; every group is sent exactly once",
          "[fanout][integration][issue13][concurrent]") {
  // Each thread has its own copy of one client: the copies share the transport, its pools of
  // multi and easy handles and its kept-alive connections.
  ScriptedServer server([](const std::string&, int) { return Action::ok; });
  auto transport = std::make_shared<wagroups::CurlTransport>(wagroups::CurlTransportOptions{});
  wagroups::ClientOptions options = options_for(server.base_url());
  options.transport = transport;
  const wagroups::Client client(options);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 40;
  const auto all = groups(kThreads * kPerThread);
  std::vector<wagroups::Client> clients(kThreads, client);
  std::vector<std::optional<wagroups::Result<wagroups::FanOutReport>>> reports(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::vector<std::string> mine(all.begin() + t * kPerThread, all.begin() + (t + 1) * kPerThread);
      wagroups::FanOutOptions o;
      o.max_in_flight = 4;
      o.messages_per_second = 0;
      reports[static_cast<std::size_t>(t)].emplace(
          clients[static_cast<std::size_t>(t)].send_to_groups(mine, text_message(), o));
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    INFO("thread " << t);
    const auto& report = *reports[static_cast<std::size_t>(t)];
    REQUIRE(report);
    CHECK(report->all_sent());
    CHECK(static_cast<int>(report->counts.sent) == kPerThread);
    REQUIRE(static_cast<int>(report->results.size()) == kPerThread);
    for (const auto& r : report->results) {
      INFO(r.group_id << " " << wagroups::to_string(r.status));
      REQUIRE(r.status == FanOutStatus::sent);
      CHECK(r.response->message_id() == "wamid." + r.group_id);
    }
  }
  const auto accepted = server.accepted();
  CHECK(accepted.size() == all.size());
  for (const auto& g : all) {
    INFO(g);
    CHECK((accepted.count(g) ? accepted.at(g) : 0) == 1);
  }
  CHECK(server.requests_read() == kThreads * kPerThread);
}
