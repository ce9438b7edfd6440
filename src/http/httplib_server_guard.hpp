#pragma once

// A cpp-httplib server that a stranger cannot break: shared by the sandbox server, `wagroups webhook
// serve` and the receiver example. Header-only, and it needs nothing but cpp-httplib and POSIX, so
// that the example (consumer code) can use it as it is; copy it along with the example.
//
// What cpp-httplib 0.11.4 (Debian's) leaves open, and what this closes:
// - set_payload_max_length holds only with a Content-Length: a chunked or length-less body is read
//   whole, and a gzip/deflate/br body is inflated without bound where httplib has zlib/brotli (it
//   has them on Debian). Refused here before a byte of the body is read: a Transfer-Encoding or a
//   missing Content-Length on POST/PUT/PATCH is 411, a Content-Encoding other than identity is 415,
//   a Content-Length over the limit is 413 (httplib would read and discard the whole declared
//   length), a malformed or repeated Content-Length is 400. The connection is then closed, so the
//   unread body is never parsed as the next request. The pre-routing handler and the Expect:
//   100-continue handler both run after the headers and before httplib reads any of the body.
// - Its default socket options set SO_REUSEPORT on Linux: a second server on the same port binds
//   and the kernel splits the connections between the two. Only SO_REUSEADDR here.
// - Its timeouts bound one read, not a request: a client sending a byte every few seconds, or a
//   request line or header without end (httplib's line reader grows without limit), holds a
//   worker and memory for as long as it likes. Each request here must arrive whole within
//   `request_timeout`, its request line and headers within `max_header_bytes` and its body within
//   its checked Content-Length; a kept-alive connection serves at most
//   `max_requests_per_connection` requests within `max_connection_time`, and the worker count is
//   fixed. To do this the server reads its connections itself, through a Stream of its own, by
//   overriding httplib's (private, virtual) per-connection function and calling its (protected)
//   process_request for each request, as httplib's SSLServer does.
// - A connection holds its worker while it is open, and httplib queues accepted connections
//   without bound. So a new connection must send its first byte within `first_byte_timeout`,
//   and while any accepted connection waits for a worker no connection is kept alive: the
//   answer says "Connection: close" and an idle kept-alive connection is closed at once.
// - httplib answers some malformed requests itself (400 for a bad request line or header, 414
//   for a long URI, 416 for a bad Range) before any handler runs, and would keep the connection
//   with the body unread: the rest would be parsed as the next request. Such a connection is
//   closed after the answer.

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>

namespace wagroups_httplib_guard {

/// The bounds of a guarded server. The defaults suit a webhook receiver on loopback or behind a
/// reverse proxy: Meta's deliveries are small and arrive at once.
struct GuardLimits {
  std::size_t max_body_bytes = 1024 * 1024;
  /// The request line and headers together.
  std::size_t max_header_bytes = 64 * 1024;
  /// From the first byte of a request to the last byte of its body.
  std::chrono::milliseconds request_timeout{10000};
  /// One read or write, and an idle kept-alive connection waiting for its next request.
  std::chrono::milliseconds idle_timeout{5000};
  /// A new connection's wait for the first byte of its first request (at most idle_timeout).
  std::chrono::milliseconds first_byte_timeout{2000};
  std::size_t max_requests_per_connection = 100;
  /// No new request starts on a connection older than this.
  std::chrono::milliseconds max_connection_time{60000};
  /// Worker threads; a connection holds one for as long as it is open.
  std::size_t workers = 8;
};

namespace detail {

inline bool iequals(const std::string& a, const char* b) {
  std::size_t i = 0;
  for (; i < a.size() && b[i] != '\0'; ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return i == a.size() && b[i] == '\0';
}

inline std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// Digits only, at most 18 of them (no sign, no overflow); false otherwise.
inline bool parse_length(const std::string& text, std::uint64_t& out) {
  const std::string t = trimmed(text);
  if (t.empty() || t.size() > 18) return false;
  out = 0;
  for (const char c : t) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

}  // namespace detail

/// The body length a request declares (0 without a Content-Length); meaningful only where
/// refusal_status is 0, which has checked it.
inline std::uint64_t declared_length(const httplib::Request& req) {
  std::uint64_t length = 0;
  if (req.get_header_value_count("Content-Length") == 1 &&
      detail::parse_length(req.get_header_value("Content-Length"), length))
    return length;
  return 0;
}

/// The status a request is refused with before its body is read, or 0 when it may be served.
inline int refusal_status(const httplib::Request& req, std::size_t max_body_bytes) {
  const std::string& m = req.method;
  const bool needs_length = m == "POST" || m == "PUT" || m == "PATCH" || m == "PRI";
  const bool may_have_body = needs_length || m == "DELETE";
  // Any transfer coding, chunked or not: the length must be known before reading.
  if (req.has_header("Transfer-Encoding")) return 411;
  const std::size_t lengths = req.get_header_value_count("Content-Length");
  if (lengths > 1) return 400;
  std::uint64_t length = 0;
  if (lengths == 0) {
    if (needs_length) return 411;
  } else {
    if (!detail::parse_length(req.get_header_value("Content-Length"), length)) return 400;
    if (length > max_body_bytes) return 413;
    if (length > 0 && !may_have_body) return 400;  // httplib would parse the body as the next request
  }
  const std::size_t encodings = req.get_header_value_count("Content-Encoding");
  for (std::size_t i = 0; i < encodings; ++i) {
    const std::string value = detail::trimmed(req.get_header_value("Content-Encoding", i));
    if (!value.empty() && !detail::iequals(value, "identity")) return 415;
  }
  return 0;
}

/// httplib's Stream over one accepted connection, with a deadline and a byte budget per request.
class GuardedStream final : public httplib::Stream {
 public:
  GuardedStream(socket_t sock, const GuardLimits& limits) : sock_(sock), limits_(limits) {}

  /// Waits up to `wait` for the first byte of the next request: false when the connection stays
  /// idle that long, closes, `listening` is closed (the server stops) or `give_up` says so.
  bool wait_for_request(const std::atomic<socket_t>& listening, std::chrono::milliseconds wait,
                        const std::function<bool()>& give_up) {
    if (failed_) return false;
    if (begin_ < end_) return true;  // pipelined
    const auto until = now() + wait;
    while (listening != INVALID_SOCKET) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now());
      if (left.count() <= 0) return false;
      // Short slices, so that a stopping server or a queue of connections is noticed soon.
      const int r = poll_for(POLLIN, std::min<std::chrono::milliseconds>(left, std::chrono::milliseconds(50)));
      if (r < 0) return false;
      if (r > 0) return true;
      if (give_up()) return false;
    }
    return false;
  }

  /// A new request: its request line and headers may take `max_header_bytes`.
  void begin_request() {
    deadline_ = now() + limits_.request_timeout;
    budget_ = limits_.max_header_bytes;
  }

  /// The headers are read and the request accepted: its body may take `length` bytes (already
  /// checked against `max_body_bytes`), and nothing more.
  void allow_body(std::uint64_t length) {
    budget_ = static_cast<std::size_t>(std::min<std::uint64_t>(length, limits_.max_body_bytes));
  }

  /// A read timed out, ran over the budget or failed: the connection must not be reused.
  bool failed() const noexcept { return failed_; }

  bool is_readable() const override { return begin_ < end_ || poll_for(POLLIN, left_for_read()) > 0; }
  bool is_writable() const override { return poll_for(POLLOUT, limits_.idle_timeout) > 0; }

  ssize_t read(char* ptr, size_t size) override {
    if (failed_) return -1;
    if (budget_ == 0) return fail();
    if (begin_ == end_) {
      const auto wait = left_for_read();
      if (wait.count() <= 0 || poll_for(POLLIN, wait) <= 0) return fail();
      ssize_t n = 0;
      do {
        n = ::recv(sock_, buffer_.data(), buffer_.size(), 0);
      } while (n < 0 && errno == EINTR);
      if (n == 0) return 0;  // the client closed its side
      if (n < 0) return fail();
      begin_ = 0;
      end_ = static_cast<std::size_t>(n);
    }
    const std::size_t count = std::min({size, end_ - begin_, budget_});
    std::copy(buffer_.data() + begin_, buffer_.data() + begin_ + count, ptr);
    begin_ += count;
    budget_ -= count;
    return static_cast<ssize_t>(count);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (poll_for(POLLOUT, limits_.idle_timeout) <= 0) return -1;
    ssize_t n = 0;
    do {
      n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) describe(addr, len, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) describe(addr, len, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  using Clock = std::chrono::steady_clock;
  static Clock::time_point now() { return Clock::now(); }

  std::chrono::milliseconds left_for_read() const {
    const auto to_deadline = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - now());
    return std::min(to_deadline, limits_.idle_timeout);
  }

  // poll(2) for `events` up to `wait`: >0 ready, 0 timed out, <0 failed.
  int poll_for(short events, std::chrono::milliseconds wait) const {
    const auto until = now() + wait;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now());
      pollfd p{sock_, events, 0};
      const int r = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
      if (r < 0 && errno == EINTR) continue;
      if (r > 0 && (p.revents & (POLLERR | POLLNVAL)) != 0) return -1;
      return r;
    }
  }

  ssize_t fail() {
    failed_ = true;
    return -1;
  }

  static void describe(const sockaddr_storage& addr, socklen_t len, std::string& ip, int& port) {
    std::array<char, NI_MAXHOST> host{};
    std::array<char, NI_MAXSERV> service{};
    if (::getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host.data(), host.size(), service.data(),
                      service.size(), NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
      ip = host.data();
      port = std::atoi(service.data());
    }
  }

  socket_t sock_;
  const GuardLimits& limits_;
  std::array<char, 4096> buffer_{};
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  Clock::time_point deadline_ = now();
  std::size_t budget_ = 0;
  bool failed_ = false;
};

/// Replaces httplib's default socket options (SO_REUSEPORT on Linux): one server per port.
inline void single_listener_socket_options(socket_t sock) {
  int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

/// httplib's ThreadPool, counting the accepted connections that wait for a worker.
class CountingThreadPool final : public httplib::TaskQueue {
 public:
  CountingThreadPool(std::size_t workers, std::atomic<std::size_t>& waiting) : pool_(workers), waiting_(waiting) {}

  void enqueue(std::function<void()> fn) override {
    waiting_.fetch_add(1);
    pool_.enqueue([&waiting = waiting_, fn = std::move(fn)] {
      waiting.fetch_sub(1);
      fn();
    });
  }
  void shutdown() override { pool_.shutdown(); }

 private:
  httplib::ThreadPool pool_;
  std::atomic<std::size_t>& waiting_;
};

/// An httplib::Server with the guard above. Register handlers as usual; `set_pre_routing_handler`
/// adds a step that runs after the guard's own refusals.
class GuardedServer : public httplib::Server {
 public:
  explicit GuardedServer(GuardLimits limits = {}) : limits_(std::move(limits)) {
    set_socket_options(single_listener_socket_options);
    // What httplib still applies itself (its accepted sockets' SO_RCVTIMEO/SO_SNDTIMEO, its
    // Keep-Alive response header); the guarded stream enforces its own bounds regardless.
    set_read_timeout(std::chrono::duration_cast<std::chrono::seconds>(limits_.idle_timeout));
    set_write_timeout(std::chrono::duration_cast<std::chrono::seconds>(limits_.idle_timeout));
    set_keep_alive_timeout(std::max<time_t>(1, static_cast<time_t>(limits_.idle_timeout.count() / 1000)));
    set_keep_alive_max_count(std::max<std::size_t>(1, limits_.max_requests_per_connection));
    set_payload_max_length(limits_.max_body_bytes);
    const std::size_t workers = std::max<std::size_t>(1, limits_.workers);
    new_task_queue = [this, workers] { return new CountingThreadPool(workers, waiting_connections_); };
    httplib::Server::set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (const int status = refusal_status(req, limits_.max_body_bytes)) {
        refuse(res, status);
        return HandlerResponse::Handled;
      }
      return next_pre_routing_ ? next_pre_routing_(req, res) : HandlerResponse::Unhandled;
    });
    // httplib answers "100 Continue" before routing; a request to be refused gets its refusal
    // instead, so that the client does not send the body at all.
    set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
      const int status = refusal_status(req, limits_.max_body_bytes);
      if (status == 0) return 100;
      refuse(res, status);
      return status;
    });
  }

  /// Runs after the guard's checks, for requests it did not refuse.
  GuardedServer& set_pre_routing_handler(HandlerWithResponse handler) {
    next_pre_routing_ = std::move(handler);
    return *this;
  }

  const GuardLimits& limits() const noexcept { return limits_; }

  /// Accepted connections waiting for a worker.
  std::size_t waiting_connections() const noexcept { return waiting_connections_.load(); }

 private:
  static void refuse(httplib::Response& res, int status) {
    res.status = status;
    const char* why = status == 411   ? "a Content-Length is required (no Transfer-Encoding)\n"
                      : status == 415 ? "no Content-Encoding is accepted\n"
                      : status == 413 ? "the body is larger than this server accepts\n"
                                      : "malformed request framing\n";
    res.set_content(why, "text/plain");
  }

  bool process_and_close_socket(socket_t sock) override {
    GuardedStream stream(sock, limits_);
    bool refused = false;
    bool set_up = false;
    // Runs once a request's headers are read, before the Expect and routing steps. A request that
    // may be served gets its body budget; one to be refused asks httplib for "Connection: close",
    // and this connection ends after the answer.
    const std::function<void(httplib::Request&)> setup = [&](httplib::Request& req) {
      set_up = true;
      if (refusal_status(req, limits_.max_body_bytes) == 0) {
        stream.allow_body(declared_length(req));
        return;
      }
      refused = true;
      req.headers.erase("Connection");
      req.headers.emplace("Connection", "close");
    };
    const auto others_wait = [this] { return waiting_connections_.load() > 0; };
    const auto opened = std::chrono::steady_clock::now();
    bool ok = false;
    bool answered_early = false;
    for (std::size_t served = 0; served < limits_.max_requests_per_connection; ++served) {
      const auto wait = served == 0 ? std::min(limits_.first_byte_timeout, limits_.idle_timeout) : limits_.idle_timeout;
      // The first request waits its (short) turn; an idle kept-alive connection gives way at once.
      if (!stream.wait_for_request(
              svr_sock_, wait,
              served == 0 ? std::function<bool()>([] { return false; }) : std::function<bool()>(others_wait)))
        break;
      stream.begin_request();
      const bool last = served + 1 == limits_.max_requests_per_connection ||
                        std::chrono::steady_clock::now() - opened >= limits_.max_connection_time || others_wait();
      bool closed_by_client = false;
      set_up = false;
      ok = process_request(stream, last, closed_by_client, setup);
      // httplib answered on its own (400, 414, 416) before the setup step: the rest of the request
      // (its body) is unread, so the connection cannot be reused.
      if (!set_up) {
        answered_early = ok;
        break;
      }
      if (!ok || closed_by_client || refused || last || stream.failed()) break;
    }
    if (refused || answered_early) linger(sock);
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  // After a refusal the client may still be sending the body; closing with unread data would
  // reset the connection, and the client could lose the answer. Our side is shut, and what comes
  // is read and dropped for a moment (bounded in time and bytes) before the socket is closed.
  static void linger(socket_t sock) {
    ::shutdown(sock, SHUT_WR);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    std::size_t dropped = 0;
    std::array<char, 16384> sink{};
    while (dropped < 4u * 1024u * 1024u) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
      if (left <= 0) break;
      pollfd p{sock, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      const ssize_t n = ::recv(sock, sink.data(), sink.size(), 0);
      if (n <= 0) break;
      dropped += static_cast<std::size_t>(n);
    }
  }

  GuardLimits limits_;
  HandlerWithResponse next_pre_routing_;
  std::atomic<std::size_t> waiting_connections_{0};
};

}  // namespace wagroups_httplib_guard
