#pragma once

// Hostile HTTP clients for the three cpp-httplib servers (the sandbox server, `wagroups webhook
// serve`, the receiver example), over raw loopback sockets: a chunked body that never ends, a
// compressed body, a declared length over the limit, and clients that trickle their headers or
// bodies. Each scenario takes the server's port and the process to watch (its RSS), and a
// `normal` request that must still be answered afterwards.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include <httplib.h>

#include "webhook_bodies.hpp"

namespace wagroups_test {

/// A plain TCP connection to 127.0.0.1:port.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{10, 0};  // a send that cannot go on is given up, never hangs the test
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  /// False once the peer has closed or reset (never SIGPIPE).
  bool send_all(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// What arrives until the peer closes or `timeout` passes (at most `limit` bytes).
  std::string read_until_closed(std::chrono::milliseconds timeout, std::size_t limit = 1 << 20) {
    std::string out;
    const auto until = std::chrono::steady_clock::now() + timeout;
    closed_ = false;
    while (out.size() < limit) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
      if (left <= 0) return out;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        closed_ = true;
        return out;
      }
      out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
  }
  /// The last read_until_closed ended because the peer closed (or reset) the connection.
  bool closed() const noexcept { return closed_; }

 private:
  int fd_ = -1;
  bool closed_ = false;
};

/// "HTTP/1.1 411 Length Required\r\n..." -> 411; 0 when there is no status line.
inline int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return std::atoi(response.substr(9, 3).c_str());
}

/// Resident memory of a process in KiB (Linux).
inline long rss_kib(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

/// A request that must be answered (status > 0) while and after hostile clients are at work.
using NormalRequest = std::function<int()>;

/// A delivery signed with `secret` to a webhook receiver's /webhook; its status, or 0 when none came.
inline int post_signed_webhook(int port, const std::string& secret) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  const auto& body = kGroupCreatedBody;
  const auto r = client.Post("/webhook", {{"X-Hub-Signature-256", sign_body(body, secret)}}, body, "application/json");
  return r ? r->status : 0;
}

/// Every scenario's request line and headers, to `path` on the server.
inline std::string request_head(const std::string& path, const std::string& extra_headers) {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + extra_headers + "\r\n";
}

/// A chunked POST whose body would grow to `total` bytes: refused with 411 from its headers, the
/// connection closed, the server's memory unchanged (it never reads the body), and still serving.
inline void check_chunked_post_refused(int port, int pid, const std::string& path, const NormalRequest& normal,
                                       std::size_t total = 64u << 20) {
  const long rss_before = rss_kib(pid);
  RawConnection c(port);
  REQUIRE(c.send_all(request_head(path, "Transfer-Encoding: chunked\r\n")));
  const std::string chunk_data(1u << 20, 'x');
  const std::string chunk = "100000\r\n" + chunk_data + "\r\n";
  std::size_t pushed = 0;
  while (pushed < total && c.send_all(chunk)) pushed += chunk_data.size();
  const std::string response = c.read_until_closed(std::chrono::seconds(15));
  INFO(response.substr(0, 200));
  CHECK(status_of(response) == 411);
  CHECK(c.closed());
  const long rss_after = rss_kib(pid);
  INFO("pushed " << pushed << " bytes; RSS " << rss_before << " KiB -> " << rss_after << " KiB");
  CHECK(pushed < total);  // the server stopped taking the body
  CHECK(rss_after - rss_before < 16 * 1024);
  CHECK(normal() > 0);
}

/// A POST with a Content-Encoding (gzip here): 415 before the body is read, then closed.
inline void check_compressed_post_refused(int port, const std::string& path, const NormalRequest& normal) {
  for (const std::string encoding : {"gzip", "deflate", "br"}) {
    INFO(encoding);
    RawConnection c(port);
    // A gzip header and a few bytes: never inflated, so it need not be a whole stream.
    const std::string body("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x4b\x4c\x4a\x06\x00", 15);
    REQUIRE(c.send_all(request_head(path, "Content-Encoding: " + encoding +
                                              "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n") +
                       body));
    const std::string response = c.read_until_closed(std::chrono::seconds(15));
    INFO(response.substr(0, 200));
    CHECK(status_of(response) == 415);
    CHECK(c.closed());
  }
  CHECK(normal() > 0);
}

/// A POST without a Content-Length and without a transfer coding (the body would run to the end
/// of the connection), and one with both a transfer coding and a length: 411.
inline void check_lengthless_post_refused(int port, const std::string& path) {
  RawConnection c(port);
  REQUIRE(c.send_all(request_head(path, "") + "{\"object\":\"whatsapp_business_account\"}"));
  const std::string response = c.read_until_closed(std::chrono::seconds(15));
  INFO(response.substr(0, 200));
  CHECK(status_of(response) == 411);
  CHECK(c.closed());

  // A transfer coding beside a length (the request-smuggling shape): httplib would follow the
  // coding and read without bound, so the length does not make the request acceptable.
  RawConnection both(port);
  const std::string chunked = "5\r\nhello\r\n0\r\n\r\n";
  REQUIRE(both.send_all(
      request_head(path, "Transfer-Encoding: chunked\r\nContent-Length: " + std::to_string(chunked.size()) + "\r\n") +
      chunked));
  const std::string refused = both.read_until_closed(std::chrono::seconds(15));
  INFO(refused.substr(0, 200));
  CHECK(status_of(refused) == 411);
  CHECK(both.closed());
}

/// A declared Content-Length over the limit: 413 at once, without waiting for the body, closed.
inline void check_declared_length_refused(int port, const std::string& path, std::size_t limit) {
  RawConnection c(port);
  REQUIRE(c.send_all(request_head(path, "Content-Length: " + std::to_string(limit + 1) + "\r\n")));
  const std::string response = c.read_until_closed(std::chrono::seconds(15));
  INFO(response.substr(0, 200));
  CHECK(status_of(response) == 413);
  CHECK(c.closed());
}

/// `clients` connections trickle their headers (half of them) or bodies (the other half), a byte
/// every 100 ms, for as long as the server keeps them; meanwhile `normal` must be answered. The
/// bound is generous: with the guard the answer comes after about the server's request timeout.
inline void check_slow_clients_do_not_starve(int port, const std::string& path, int clients,
                                             const NormalRequest& normal,
                                             std::chrono::seconds bound = std::chrono::seconds(40)) {
  std::atomic<bool> stop{false};
  std::atomic<int> connected{0};
  std::vector<std::thread> tricklers;
  for (int i = 0; i < clients; ++i) {
    tricklers.emplace_back([&, i] {
      RawConnection c(port);
      const bool body = i % 2 == 1;
      const std::string head = body ? request_head(path, "Content-Length: 100000\r\n")
                                    : "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
      if (!c.send_all(head)) return;
      connected.fetch_add(1);
      while (!stop.load() && c.send_all(body ? "{" : "a")) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    });
  }
  while (connected.load() < clients) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // every worker is taken by now
  std::atomic<int> status{0};
  std::atomic<bool> answered{false};
  std::thread request([&] {
    status = normal();
    answered = true;
  });
  const auto until = std::chrono::steady_clock::now() + bound;
  while (!answered.load() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const bool in_time = answered.load();
  stop = true;
  for (auto& t : tricklers) t.join();
  request.join();
  CHECK(in_time);
  CHECK(status.load() > 0);
}

/// How many responses (status lines) `bytes` holds.
inline int responses_in(const std::string& bytes) {
  int count = 0;
  for (auto at = bytes.find("HTTP/1.1 "); at != std::string::npos; at = bytes.find("HTTP/1.1 ", at + 1)) ++count;
  return count;
}

/// httplib answers a URI over 8 KiB with 414 itself, before any handler: the connection must then
/// close, or the request's unread body (here a second request) would be answered as the next one.
inline void check_early_error_closes(int port, const std::string& path, const NormalRequest& normal) {
  const std::string smuggled = "GET " + path + "?smuggled=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  RawConnection c(port);
  REQUIRE(c.send_all("POST " + path + "?pad=" + std::string(9000, 'a') +
                     " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n" +
                     smuggled));
  const std::string response = c.read_until_closed(std::chrono::seconds(4));
  INFO(response.substr(0, 300));
  CHECK(status_of(response) == 414);
  CHECK(responses_in(response) == 1);
  CHECK(c.closed());
  CHECK(normal() > 0);
}

/// Request headers over the header limit (64 KiB) are refused with 400 and the connection closed
/// at once, although the body limit is larger: the body's allowance is not lent to the headers.
/// And a header flood without end is cut off: the server stops reading long before its end.
inline void check_header_flood_refused(int port, const std::string& path, const NormalRequest& normal) {
  std::string padding;
  for (int i = 0; padding.size() < 100u * 1024u; ++i) padding += "X-Pad-" + std::to_string(i) + ": v\r\n";
  {
    RawConnection c(port);
    REQUIRE(c.send_all("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + padding + "\r\n"));
    const std::string response = c.read_until_closed(std::chrono::seconds(4));
    INFO(response.substr(0, 300));
    CHECK(status_of(response) == 400);
    CHECK(c.closed());
  }
  {
    RawConnection c(port);
    const std::size_t total = 64u << 20;
    std::size_t pushed = 0;
    if (c.send_all("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
      while (pushed < total && c.send_all(padding)) pushed += padding.size();
    const std::string response = c.read_until_closed(std::chrono::seconds(15));
    INFO("pushed " << pushed << " bytes; " << response.substr(0, 200));
    CHECK(pushed < total);
    CHECK(c.closed());
  }
  CHECK(normal() > 0);
}

/// 8 kept-alive connections that went idle after one request (as many as the workers) and 30
/// connections that never send a byte, then `normal`: answered within `bound`. Without the guard's
/// rules each idle connection keeps its worker for the idle timeout (5 s) and each silent one for
/// as long, one after the other (about 25 s here).
inline void check_idle_and_silent_connections_do_not_starve(int port, const std::string& path,
                                                            const NormalRequest& normal,
                                                            std::chrono::seconds bound = std::chrono::seconds(15)) {
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<RawConnection>(port));
    REQUIRE(held.back()->send_all("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // answered, now idle and kept alive
  for (int i = 0; i < 30; ++i) held.push_back(std::make_unique<RawConnection>(port));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto started = std::chrono::steady_clock::now();
  std::atomic<int> status{0};
  std::atomic<bool> answered{false};
  std::thread request([&] {
    status = normal();
    answered = true;
  });
  while (!answered.load() && std::chrono::steady_clock::now() - started < bound)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const bool in_time = answered.load();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  held.clear();  // closing them frees the workers, so that a late answer still comes
  request.join();
  INFO("answered after " << took.count() << " ms");
  CHECK(in_time);
  CHECK(status.load() > 0);
}

}  // namespace wagroups_test
