#pragma once

// FaultServer: an HTTP/1.1 server on raw POSIX sockets (127.0.0.1, an ephemeral port) that
// misbehaves on purpose, one scripted action per accepted connection: close at once, reset before
// reading the request, read the whole request then reset, answer with a truncated body, dribble
// the body, or answer normally (a 5xx/429 storm is a run of ordinary answers). It counts the
// requests it received whole, which proves "never a duplicate write". No Catch2: a failing socket
// call throws std::system_error.
//
// Every answer carries "Connection: close" and the server closes after it, so one connection is
// one request and the script's n-th action meets the n-th attempt. Connections are served one at a
// time, on the server's own thread.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "loopback_server.hpp"  // prepare_process_for_loopback

namespace wagroups_test {

enum class ConnectionFault {
  answer,             // read the request, answer `status` with `body`
  close_at_once,      // close as soon as accepted, nothing read
  reset_before_read,  // RST (SO_LINGER 0) as soon as accepted, nothing read
  reset_after_read,   // read the whole request, then RST without a byte of answer
  truncated_body,     // read the request, declare `body` plus `missing` bytes, send `body`, close
  dribble_body,       // read the request, send the body a byte at a time, `dribble_delay` apart
};

struct ConnectionAction {
  ConnectionFault fault = ConnectionFault::answer;
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra answer headers
  std::size_t missing = 64;                                  // truncated_body
  std::chrono::milliseconds dribble_delay{10};               // dribble_body

  static ConnectionAction answer(int status, std::string body,
                                 std::vector<std::pair<std::string, std::string>> headers = {}) {
    ConnectionAction a;
    a.status = status;
    a.body = std::move(body);
    a.headers = std::move(headers);
    return a;
  }
  static ConnectionAction of(ConnectionFault fault, std::string body = {}) {
    ConnectionAction a;
    a.fault = fault;
    a.body = std::move(body);
    return a;
  }
};

/// A request the server read whole.
struct ReceivedRequest {
  std::string method;
  std::string target;
  std::string head;  // request line and headers
  std::string body;
};

class FaultServer {
 public:
  FaultServer() {
    prepare_process_for_loopback();
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket()");
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0) {
      const int error = errno;
      ::close(listen_fd_);
      throw std::system_error(error, std::generic_category(), "bind/listen(127.0.0.1:0)");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~FaultServer() { stop(); }
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  /// The actions for the next connections, in order; after them, `fallback`.
  void script(std::vector<ConnectionAction> actions) {
    std::lock_guard<std::mutex> lock(mutex_);
    script_.assign(actions.begin(), actions.end());
  }
  void set_fallback(ConnectionAction action) {
    std::lock_guard<std::mutex> lock(mutex_);
    fallback_ = std::move(action);
  }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
  }

  int port() const noexcept { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string url(const std::string& path) const { return base_url() + path; }

  /// Connections accepted so far.
  std::size_t connections() const noexcept { return connections_.load(); }
  /// Requests read whole (headers and the declared body), whatever was done with them after.
  std::size_t requests_received() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return received_.size();
  }
  std::vector<ReceivedRequest> received() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return received_;
  }

 private:
  void run() {
    while (!stopping_.load()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      connections_.fetch_add(1);
      ConnectionAction action;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!script_.empty()) {
          action = std::move(script_.front());
          script_.pop_front();
        } else {
          action = fallback_;
        }
      }
      serve(fd, action);
    }
  }

  static void reset(int fd) {
    linger l{1, 0};  // close() then sends RST instead of FIN
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
  }

  bool send_all(int fd, const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      if (stopping_.load()) return false;
      const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads one request (headers, then a Content-Length body); false when the peer left first or
  // nothing came within a few seconds.
  bool read_request(int fd, ReceivedRequest& out) {
    std::string data;
    std::size_t head_end = std::string::npos;
    std::size_t need = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      if (head_end == std::string::npos) {
        head_end = data.find("\r\n\r\n");
        if (head_end != std::string::npos) need = head_end + 4 + content_length(data.substr(0, head_end));
      }
      if (head_end != std::string::npos && data.size() >= need) break;
      if (stopping_.load() || std::chrono::steady_clock::now() > until) return false;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return false;
      data.append(buffer, static_cast<std::size_t>(n));
    }
    out.head = data.substr(0, head_end);
    out.body = data.substr(head_end + 4, need - head_end - 4);
    const std::size_t sp1 = out.head.find(' ');
    const std::size_t sp2 = out.head.find(' ', sp1 + 1);
    out.method = out.head.substr(0, sp1);
    out.target = out.head.substr(sp1 + 1, sp2 - sp1 - 1);
    return true;
  }

  static std::size_t content_length(const std::string& head) {
    std::string lower;
    for (char c : head) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    const std::size_t at = lower.find("\r\ncontent-length:");
    if (at == std::string::npos) return 0;
    return static_cast<std::size_t>(std::stoull(lower.substr(at + 17)));
  }

  static std::string head_of(const ConnectionAction& a, std::size_t declared_length) {
    std::string head = "HTTP/1.1 " + std::to_string(a.status) + " Fault\r\nContent-Type: application/json\r\n";
    for (const auto& h : a.headers) head += h.first + ": " + h.second + "\r\n";
    head += "Content-Length: " + std::to_string(declared_length) + "\r\nConnection: close\r\n\r\n";
    return head;
  }

  void serve(int fd, const ConnectionAction& action) {
    if (action.fault == ConnectionFault::close_at_once) {
      ::close(fd);
      return;
    }
    if (action.fault == ConnectionFault::reset_before_read) {
      reset(fd);
      return;
    }
    ReceivedRequest request;
    if (!read_request(fd, request)) {
      ::close(fd);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      received_.push_back(request);
    }
    switch (action.fault) {
      case ConnectionFault::reset_after_read: reset(fd); return;
      case ConnectionFault::truncated_body:
        send_all(fd, head_of(action, action.body.size() + action.missing) + action.body);
        break;
      case ConnectionFault::dribble_body:
        if (send_all(fd, head_of(action, action.body.size()))) {
          for (char c : action.body) {
            std::this_thread::sleep_for(action.dribble_delay);
            if (!send_all(fd, std::string(1, c))) break;  // the client gave up
          }
        }
        break;
      default: send_all(fd, head_of(action, action.body.size()) + action.body); break;
    }
    ::shutdown(fd, SHUT_WR);
    // Let the client read to the end before the socket goes (a close with unread input would RST).
    pollfd p{fd, POLLIN, 0};
    char sink[4096];
    while (!stopping_.load() && ::poll(&p, 1, 200) > 0 && ::recv(fd, sink, sizeof sink, 0) > 0) {
    }
    ::close(fd);
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> connections_{0};
  mutable std::mutex mutex_;
  std::deque<ConnectionAction> script_;
  ConnectionAction fallback_ = ConnectionAction::answer(200, "{}");
  std::vector<ReceivedRequest> received_;
};

}  // namespace wagroups_test
