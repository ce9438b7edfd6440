// CurlTransport against a loopback cpp-httplib server: connection reuse, what goes on the wire,
// timeouts, refused connections, HTTP error statuses and what error messages may contain.

#include <catch2/catch_test_macros.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "loopback_port.hpp"
#include "loopback_server.hpp"
#include "wagroups/http/curl_transport.hpp"
#include "wagroups/result.hpp"
#include "wagroups/http/transport.hpp"

using wagroups::CurlTransport;
using wagroups::CurlTransportOptions;
using wagroups::ErrorCode;
using wagroups::HttpMethod;
using wagroups::HttpRequest;
using wagroups_test::Gate;
using wagroups_test::LoopbackServer;
using wagroups_test::closed_loopback_port;
using wagroups_test::Recorder;
using wagroups_test::header_of;

namespace {

constexpr const char* kToken = "EAAGsecretTOKENvalue0123456789";

HttpRequest get(const std::string& url) {
  HttpRequest r;
  r.method = HttpMethod::get;
  r.url = url;
  return r;
}

}  // namespace

TEST_CASE("sequential requests reuse one kept-alive connection", "[integration][transport]") {
  LoopbackServer server;
  Recorder recorder;
  server->Get("/ping", [&](const httplib::Request& req, httplib::Response& res) {
    recorder.add(req);
    res.set_content("pong " + req.get_param_value("n"), "text/plain");
  });
  server.start();

  CurlTransport transport;
  for (int i = 0; i < 20; ++i) {
    auto response = transport.send(get(server.url("/ping?n=" + std::to_string(i))));
    REQUIRE(response.ok());
    CHECK(response->status == 200);
    CHECK(response->body == "pong " + std::to_string(i));
  }

  const auto seen = recorder.seen();
  REQUIRE(seen.size() == 20);
  std::set<int> ports;
  for (const auto& r : seen) ports.insert(r.remote_port);
  CHECK(ports.size() == 1);
  CHECK(transport.connections_opened() == 1);
}

TEST_CASE("a connection the server closes is replaced transparently", "[integration][transport]") {
  LoopbackServer server;
  server->set_keep_alive_max_count(2);  // "Connection: close" on every second response
  server->Get("/ping", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("pong", "text/plain");
  });
  server.start();

  CurlTransport transport;
  for (int i = 0; i < 6; ++i) {
    auto response = transport.send(get(server.url("/ping")));
    REQUIRE(response.ok());
    CHECK(response->body == "pong");
  }
  CHECK(transport.connections_opened() == 3);
}

TEST_CASE("concurrent callers each get their own answer", "[integration][transport][concurrent]") {
  LoopbackServer server;
  server->Get("/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content("echo:" + req.get_param_value("id"), "text/plain");
  });
  server.start();

  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;

  auto run = [&](CurlTransport& transport) {
    std::atomic<int> ok{0};
    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const std::string id = std::to_string(t) + "-" + std::to_string(i);
          auto response = transport.send(get(server.url("/echo?id=" + id)));
          if (response.ok() && response->status == 200 && response->body == "echo:" + id) {
            ++ok;
          } else {
            ++mismatches;
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(mismatches.load() == 0);
    CHECK(ok.load() == kThreads * kPerThread);
  };

  SECTION("with the default pool") {
    CurlTransport transport;
    run(transport);
    // At most one handle (and so one connection) per concurrent caller.
    CHECK(transport.connections_opened() >= 1);
    CHECK(transport.connections_opened() <= kThreads);
  }
  SECTION("with a pool that keeps a single idle handle") {
    CurlTransportOptions options;
    options.max_idle_handles = 1;
    CurlTransport transport(options);
    run(transport);
  }
}

TEST_CASE("method, headers, query and body arrive as sent", "[integration][transport]") {
  LoopbackServer server;
  Recorder recorder;
  auto record = [&](const httplib::Request& req, httplib::Response& res) {
    recorder.add(req);
    res.set_header("X-Spaced", "  padded value  ");
    res.set_content(R"({"success":true})", "application/json");
  };
  server->Get("/v23.0/123/groups", record);
  server->Post("/v23.0/123/groups", record);
  server->Delete("/v23.0/G1/invite_link", record);
  server->Delete("/v23.0/G1", record);
  server.start();

  CurlTransport transport;

  SECTION("POST with a JSON body, Content-Type and Authorization") {
    HttpRequest r;
    r.method = HttpMethod::post;
    r.url = server.url("/v23.0/123/groups");
    r.headers = {{"Authorization", std::string("Bearer ") + kToken},
                 {"Content-Type", "application/json"},
                 {"Accept", "application/json"},
                 {"User-Agent", "wagroups-test/1"}};
    r.body = R"({"messaging_product":"whatsapp","subject":"Caf\u00e9 \"order\" #1"})";
    auto response = transport.send(r);
    REQUIRE(response.ok());
    CHECK(response->status == 200);
    CHECK(response->body == R"({"success":true})");
    // Response headers come back trimmed and findable case-insensitively.
    REQUIRE(response->header("x-spaced"));
    CHECK(*response->header("x-spaced") == "padded value");
    REQUIRE(response->header("content-type"));
    CHECK(*response->header("content-type") == "application/json");

    const auto seen = recorder.seen();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "POST");
    CHECK(seen[0].target == "/v23.0/123/groups");
    CHECK(seen[0].body == r.body);
    CHECK(header_of(seen[0], "Authorization") == std::string("Bearer ") + kToken);
    CHECK(header_of(seen[0], "Content-Type") == "application/json");
    CHECK(header_of(seen[0], "Accept") == "application/json");
    CHECK(header_of(seen[0], "User-Agent") == "wagroups-test/1");
    CHECK(header_of(seen[0], "Content-Length") == std::to_string(r.body.size()));
    CHECK(header_of(seen[0], "Expect") == "<absent>");
  }

  SECTION("a large binary POST body goes out whole and without a 100-continue wait") {
    HttpRequest r;
    r.method = HttpMethod::post;
    r.url = server.url("/v23.0/123/groups");
    r.headers = {{"Content-Type", "application/octet-stream"}};
    r.body.reserve(1 << 20);
    for (int i = 0; r.body.size() < (1u << 20); ++i) r.body += static_cast<char>('a' + i % 26);
    r.body += std::string("\0binary\0\xff", 9);  // NUL bytes must not cut the body short
    const auto start = std::chrono::steady_clock::now();
    auto response = transport.send(r);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE(response.ok());
    CHECK(response->status == 200);
    const auto seen = recorder.seen();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].body == r.body);
    CHECK(header_of(seen[0], "Expect") == "<absent>");
    CHECK(elapsed < std::chrono::milliseconds(900));  // curl's 100-continue wait is 1 s
  }

  SECTION("POST with an empty body") {
    HttpRequest r;
    r.method = HttpMethod::post;
    r.url = server.url("/v23.0/123/groups");
    auto response = transport.send(r);
    REQUIRE(response.ok());
    const auto seen = recorder.seen();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "POST");
    CHECK(seen[0].body.empty());
    CHECK(header_of(seen[0], "Content-Length") == "0");
  }

  SECTION("DELETE with a JSON body") {
    HttpRequest r;
    r.method = HttpMethod::delete_;
    r.url = server.url("/v23.0/G1");
    r.headers = {{"Authorization", std::string("Bearer ") + kToken}, {"Content-Type", "application/json"}};
    r.body = R"({"messaging_product":"whatsapp"})";
    auto response = transport.send(r);
    REQUIRE(response.ok());
    CHECK(response->status == 200);
    const auto seen = recorder.seen();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "DELETE");
    CHECK(seen[0].target == "/v23.0/G1");
    CHECK(seen[0].body == r.body);
    CHECK(header_of(seen[0], "Content-Type") == "application/json");
    CHECK(header_of(seen[0], "Content-Length") == std::to_string(r.body.size()));
  }

  SECTION("DELETE without a body, then GET on the same handle") {
    HttpRequest r;
    r.method = HttpMethod::delete_;
    r.url = server.url("/v23.0/G1/invite_link");
    auto response = transport.send(r);
    REQUIRE(response.ok());
    // The next request on the (reset) handle must be a plain GET again.
    auto next = transport.send(get(server.url("/v23.0/123/groups")));
    REQUIRE(next.ok());
    const auto seen = recorder.seen();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].method == "DELETE");
    CHECK(seen[0].body.empty());
    CHECK(seen[1].method == "GET");
    CHECK(seen[1].body.empty());
    CHECK(transport.connections_opened() == 1);
  }

  SECTION("GET with a query string") {
    auto response = transport.send(
        get(server.url("/v23.0/123/groups?limit=25&after=QVFIUmFi%3D%3D&fields=id,subject")));
    REQUIRE(response.ok());
    const auto seen = recorder.seen();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "GET");
    CHECK(seen[0].target == "/v23.0/123/groups?limit=25&after=QVFIUmFi%3D%3D&fields=id,subject");
    CHECK(seen[0].body.empty());
  }
}

TEST_CASE("HTTP error statuses are successful sends", "[integration][transport]") {
  LoopbackServer server;
  server->Get("/status/(\\d+)", [](const httplib::Request& req, httplib::Response& res) {
    res.status = std::stoi(req.matches[1].str());
    if (res.status == 429) res.set_header("Retry-After", "2");
    res.set_content(R"({"error":{"message":"status )" + req.matches[1].str() + R"(","code":100}})",
                    "application/json");
  });
  server->Get("/redirect", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/status/200");
  });
  server.start();

  CurlTransport transport;
  for (int status : {400, 401, 403, 404, 429, 500, 503}) {
    CAPTURE(status);
    auto response = transport.send(get(server.url("/status/" + std::to_string(status))));
    REQUIRE(response.ok());
    CHECK(response->status == status);
    CHECK(response->body == R"({"error":{"message":"status )" + std::to_string(status) + R"(","code":100}})");
    if (status == 429) {
      REQUIRE(response->header("Retry-After"));
      CHECK(*response->header("Retry-After") == "2");
    }
  }

  // Redirects are not followed: the 302 itself is the answer.
  auto redirected = transport.send(get(server.url("/redirect")));
  REQUIRE(redirected.ok());
  CHECK(redirected->status == 302);
  REQUIRE(redirected->header("Location"));
  CHECK(*redirected->header("Location") == "/status/200");
}

TEST_CASE("a request that outlives its timeout fails as possibly sent", "[integration][transport]") {
  Gate gate;  // declared first: it must outlive the server's handler threads
  LoopbackServer server;
  server.on_stop([&] { gate.open(); });
  server->Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    gate.wait(std::chrono::milliseconds(1500));
    res.set_content("late", "text/plain");
  });
  server.start();

  auto check_timeout = [&](CurlTransport& transport, HttpRequest request) {
    request.headers = {{"Authorization", std::string("Bearer ") + kToken}};
    const auto start = std::chrono::steady_clock::now();
    auto response = transport.send(request);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(response.ok());
    const auto& error = response.error();
    CHECK(error.code == ErrorCode::transport);
    CHECK(error.curl_code == 28);  // CURLE_OPERATION_TIMEDOUT
    CHECK(error.request_may_have_been_sent);
    CHECK(error.is_retryable());
    CHECK(elapsed < std::chrono::milliseconds(1200));
    CHECK(elapsed >= std::chrono::milliseconds(150));
    CHECK(error.message.find(kToken) == std::string::npos);
    CHECK(error.to_string().find(kToken) == std::string::npos);
    CHECK(error.message.find("/slow") == std::string::npos);
  };

  SECTION("per-request timeout") {
    CurlTransport transport;
    HttpRequest request = get(server.url("/slow"));
    request.timeout = std::chrono::milliseconds(200);
    check_timeout(transport, request);
  }
  SECTION("the transport's default timeout") {
    CurlTransportOptions options;
    options.request_timeout = std::chrono::milliseconds(200);
    CurlTransport transport(options);
    check_timeout(transport, get(server.url("/slow")));
  }
}

TEST_CASE("a refused connection fails as not sent", "[integration][transport]") {
  wagroups_test::prepare_process_for_loopback();
  const int port = closed_loopback_port();
  CurlTransport transport;
  HttpRequest request;
  request.method = HttpMethod::post;
  request.url = "http://127.0.0.1:" + std::to_string(port) + "/v23.0/secret-path?access_token=QUERYSECRET";
  request.headers = {{"Authorization", std::string("Bearer ") + kToken}, {"Content-Type", "application/json"}};
  request.body = R"({"subject":"x"})";

  auto response = transport.send(request);
  REQUIRE_FALSE(response.ok());
  const auto& error = response.error();
  CHECK(error.code == ErrorCode::transport);
  CHECK(error.curl_code == 7);  // CURLE_COULDNT_CONNECT
  CHECK_FALSE(error.request_may_have_been_sent);
  CHECK(error.message.rfind("curl: ", 0) == 0);
  CHECK(transport.connections_opened() == 0);

  // Neither the token nor the URL's path or query reach the error.
  for (const std::string& text : {error.message, error.to_string()}) {
    CAPTURE(text);
    CHECK(text.find(kToken) == std::string::npos);
    CHECK(text.find("Bearer") == std::string::npos);
    CHECK(text.find("secret-path") == std::string::npos);
    CHECK(text.find("QUERYSECRET") == std::string::npos);
  }
}

TEST_CASE("a connect that times out fails as not sent", "[integration][transport]") {
  wagroups_test::prepare_process_for_loopback();
  // A loopback listener that never accepts, its accept queue filled up: Linux then drops further
  // SYNs, so a new connect() hangs until the client gives up.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener, 0) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  CurlTransportOptions options;
  options.connect_timeout = std::chrono::milliseconds(300);
  CurlTransport transport(options);
  HttpRequest request;
  request.method = HttpMethod::post;
  request.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v23.0/123/groups";
  request.headers = {{"Authorization", std::string("Bearer ") + kToken}};
  request.body = "{}";
  const auto start = std::chrono::steady_clock::now();
  auto response = transport.send(request);
  const auto elapsed = std::chrono::steady_clock::now() - start;

  for (int fd : fillers) ::close(fd);
  ::close(listener);

  REQUIRE_FALSE(response.ok());
  const auto& error = response.error();
  CAPTURE(error.to_string());
  CHECK(error.code == ErrorCode::transport);
  // 28 (CURLE_OPERATION_TIMEDOUT); 7 where the kernel answers a full queue with a reset instead
  // (net.ipv4.tcp_abort_on_overflow=1). Either way nothing was sent.
  CHECK((error.curl_code == 28 || error.curl_code == 7));
  CHECK_FALSE(error.request_may_have_been_sent);
  CHECK(elapsed < std::chrono::milliseconds(1500));
  CHECK(error.to_string().find(kToken) == std::string::npos);
}

TEST_CASE("header values that would split the header block are refused", "[integration][transport]") {
  LoopbackServer server;
  std::atomic<int> hits{0};
  server->Get("/ping", [&](const httplib::Request&, httplib::Response& res) {
    ++hits;
    res.set_content("pong", "text/plain");
  });
  server.start();

  CurlTransport transport;
  HttpRequest request = get(server.url("/ping"));
  request.headers = {{"Authorization", std::string("Bearer ") + kToken + "\r\nX-Injected: 1"}};
  auto response = transport.send(request);
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().code == ErrorCode::invalid_argument);
  CHECK_FALSE(response.error().request_may_have_been_sent);
  CHECK_FALSE(response.error().is_retryable());
  CHECK(response.error().field == "headers[Authorization]");
  CHECK(response.error().to_string().find(kToken) == std::string::npos);
  CHECK(hits.load() == 0);

  // The transport is still usable afterwards.
  auto ok = transport.send(get(server.url("/ping")));
  REQUIRE(ok.ok());
  CHECK(ok->body == "pong");
}

TEST_CASE("options: HTTP/1.1 only and a custom connect timeout still talk to the server",
          "[integration][transport]") {
  LoopbackServer server;
  server->Get("/ping", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(req.version, "text/plain");
  });
  server.start();

  CurlTransportOptions options;
  options.http2 = false;
  options.connect_timeout = std::chrono::milliseconds(500);
  options.low_speed_time = std::chrono::seconds(0);
  CurlTransport transport(options);
  auto response = transport.send(get(server.url("/ping")));
  REQUIRE(response.ok());
  CHECK(response->body == "HTTP/1.1");

  auto shared = wagroups::make_curl_transport();
  REQUIRE(shared);
  auto again = shared->send(get(server.url("/ping")));
  REQUIRE(again.ok());
  CHECK(again->status == 200);
}

TEST_CASE("a GET with a body is refused before anything is sent", "[transport]") {
  wagroups_test::prepare_process_for_loopback();
  LoopbackServer server;
  Recorder recorder;
  server->Get("/v23.0/G1", [&](const httplib::Request& req, httplib::Response& res) {
    recorder.add(req);
    res.set_content("{}", "application/json");
  });
  server->Post("/v23.0/G1", [&](const httplib::Request& req, httplib::Response& res) {
    recorder.add(req);
    res.set_content("{}", "application/json");
  });
  server.start();
  CurlTransport transport;
  HttpRequest r;
  r.method = HttpMethod::get;
  r.url = server.url("/v23.0/G1");
  r.body = "{}";
  auto response = transport.send(r);
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().code == ErrorCode::invalid_argument);
  CHECK(response.error().field == "body");
  CHECK(recorder.seen().empty());
}

TEST_CASE("a response larger than max_response_bytes is refused, not buffered", "[transport]") {
  wagroups_test::prepare_process_for_loopback();
  LoopbackServer server;
  server->Get("/big", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(300 * 1024, 'x'), "application/octet-stream");
  });
  server.start();
  CurlTransportOptions options;
  options.max_response_bytes = 64 * 1024;
  CurlTransport transport(options);
  HttpRequest r;
  r.url = server.url("/big");
  auto response = transport.send(r);
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().code == ErrorCode::transport);
  CHECK(response.error().curl_code == 63);  // CURLE_FILESIZE_EXCEEDED
  CHECK_FALSE(response.error().is_retryable());
  CHECK(response.error().message.find("max_response_bytes") != std::string::npos);
  // With the default limit the whole answer arrives.
  CurlTransportOptions roomy;
  CurlTransport unlimited(roomy);
  auto whole = unlimited.send(r);
  REQUIRE(whole.ok());
  CHECK(whole->body.size() == 300 * 1024);
}
