#pragma once

// A cpp-httplib server on 127.0.0.1 (an ephemeral port), run on its own thread for one test.
//
//   LoopbackServer server;
//   server->Get("/ping", [](const httplib::Request&, httplib::Response& res) { ... });
//   server.start();
//   ... requests to server.url("/ping") ...
//   // stopped (and joined) by the destructor, or by stop()
//
// Declare clients and transports *after* the server, so that they are destroyed first: an idle
// kept-alive connection otherwise holds a server worker until httplib's keep-alive timeout.

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace wagroups_test {

inline void prepare_process_for_loopback() {
  static std::once_flag once;
  std::call_once(once, [] {
#if !defined(_WIN32)
    // libcurl runs with CURLOPT_NOSIGNAL and httplib writes without MSG_NOSIGNAL: a peer that
    // hung up (the timeout test) must not kill the test process.
    std::signal(SIGPIPE, SIG_IGN);
    // Never let a proxy from the environment carry loopback requests elsewhere.
    ::setenv("no_proxy", "127.0.0.1,localhost", 1);
    ::setenv("NO_PROXY", "127.0.0.1,localhost", 1);
#endif
  });
}

class LoopbackServer {
 public:
  LoopbackServer() {
    prepare_process_for_loopback();
    // httplib closes a connection after 5 requests by default; the reuse tests need more.
    server_.set_keep_alive_max_count(100000);
    server_.set_keep_alive_timeout(5);
    // httplib writes a response's header block and body separately; with Nagle on, the body then
    // waits for the client's delayed ACK (~40 ms a request on Linux).
    server_.set_tcp_nodelay(true);
  }

  ~LoopbackServer() { stop(); }

  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  httplib::Server& server() noexcept { return server_; }
  httplib::Server* operator->() noexcept { return &server_; }

  /// Runs `fn` at the start of stop(), before the server is asked to stop (e.g. to release
  /// handlers that are deliberately blocked).
  void on_stop(std::function<void()> fn) { on_stop_.push_back(std::move(fn)); }

  /// Binds 127.0.0.1 on a free port, starts the accept loop and waits until it runs.
  void start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("LoopbackServer: cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!server_.is_running()) {
      if (std::chrono::steady_clock::now() > deadline) {
        stop();
        throw std::runtime_error("LoopbackServer: the server did not start");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void stop() {
    for (auto& fn : on_stop_) fn();
    on_stop_.clear();
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }

  int port() const noexcept { return port_; }
  /// "http://127.0.0.1:PORT"
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// base_url() + path_and_query
  std::string url(const std::string& path_and_query) const { return base_url() + path_and_query; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  std::vector<std::function<void()>> on_stop_;
};

/// A handler-side wait that the test can cut short: `wait(d)` blocks up to `d` or until `open()`.
/// Declare it *before* the server (it must outlive the handler threads) and register
/// `server.on_stop([&] { gate.open(); })` so that stopping the server does not wait out `d`.
class Gate {
 public:
  void wait(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, d, [this] { return open_; });
  }
  void open() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

/// Everything a loopback server saw of one request.
struct Recorded {
  std::string method;
  std::string target;
  std::string body;
  httplib::Headers headers;
  int remote_port = -1;
};

class Recorder {
 public:
  void add(const httplib::Request& req) {
    Recorded r;
    r.method = req.method;
    r.target = req.target;
    r.body = req.body;
    r.headers = req.headers;
    r.remote_port = req.remote_port;
    std::lock_guard<std::mutex> lock(mutex_);
    seen_.push_back(std::move(r));
  }
  std::vector<Recorded> seen() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Recorded> seen_;
};

/// A header of a recorded request, or "<absent>".
inline std::string header_of(const Recorded& r, const std::string& name) {
  auto it = r.headers.find(name);  // httplib's Headers compare names case-insensitively
  return it == r.headers.end() ? std::string("<absent>") : it->second;
}

}  // namespace wagroups_test
