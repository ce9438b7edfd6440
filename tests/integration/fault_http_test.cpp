// issue 13: CurlTransport and Client against FaultServer, a raw-socket server that closes, resets,
// truncates, dribbles and storms on purpose. The retry rules on real sockets: a read is retried up
// to the limit (sleeps injected, no wall time spent waiting); a write the server may have read is
// sent exactly once, proved by the server's count of requests it received whole; a refused connect
// sent nothing and is retried as the Client documents.

#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fault_server.hpp"
#include "loopback_port.hpp"
#include "wagroups/client/client.hpp"
#include "wagroups/http/curl_transport.hpp"
#include "wagroups/testing/fake_transport.hpp"

using namespace std::chrono_literals;
using wagroups::ErrorCode;
using wagroups::HttpMethod;
using wagroups::HttpRequest;
using wagroups_test::ConnectionAction;
using wagroups_test::ConnectionFault;
using wagroups_test::FaultServer;

namespace {

constexpr const char* kToken = "EAAfaultServerToken0123456789";
constexpr int kMaxAttempts = 3;
constexpr const char* kInviteLink =
    R"({"messaging_product":"whatsapp","invite_link":"https://chat.whatsapp.com/AbCdEfGh"})";
constexpr const char* kUnavailable =
    R"({"error":{"message":"(#2) Service temporarily unavailable","type":"OAuthException","code":2}})";
constexpr const char* kThrottled =
    R"({"error":{"message":"(#131208) Group Rate Limit Hit","type":"OAuthException","code":131208}})";

wagroups::ClientOptions options_for(const std::string& base_url, wagroups::testing::RecordingSleeper& sleeper) {
  wagroups::ClientOptions o;
  o.base_url = base_url;
  o.allow_insecure_http = true;  // plain HTTP on loopback
  o.access_token = kToken;
  o.phone_number_id = "106540352242922";
  wagroups::CurlTransportOptions curl;
  curl.connect_timeout = 5s;
  o.transport = wagroups::make_curl_transport(curl);
  o.sleeper = sleeper.as_sleeper();
  o.random = [] { return 1.0; };
  o.retry.max_attempts = kMaxAttempts;
  return o;
}

template <typename T>
std::optional<wagroups::Error> error_of(const wagroups::Result<T>& r) {
  if (r) return std::nullopt;
  return r.error();
}

// A FaultServer with `fallback` for every connection after `script`, and a Client over curl to it.
// The server is declared first, so that it outlives the client's connections.
struct Rig {
  FaultServer server;
  wagroups::testing::RecordingSleeper sleeper;
  wagroups::Client client;

  explicit Rig(const ConnectionAction& fallback, std::vector<ConnectionAction> script = {})
      : client(options_for(server.base_url(), sleeper)) {
    server.script(std::move(script));
    server.set_fallback(fallback);
    server.start();
  }
};

// A fault for every connection, by name.
struct Case {
  const char* name;
  ConnectionAction action;
  ErrorCode code;
};

std::vector<Case> read_cases() {
  return {
      {"close at once", ConnectionAction::of(ConnectionFault::close_at_once), ErrorCode::transport},
      {"reset before reading", ConnectionAction::of(ConnectionFault::reset_before_read), ErrorCode::transport},
      {"reset after reading", ConnectionAction::of(ConnectionFault::reset_after_read), ErrorCode::transport},
      {"truncated body", ConnectionAction::of(ConnectionFault::truncated_body, kInviteLink), ErrorCode::transport},
      {"503 storm", ConnectionAction::answer(503, kUnavailable), ErrorCode::graph_api},
      {"500 storm, no Graph body", ConnectionAction::answer(500, "oops"), ErrorCode::graph_api},
      {"429 storm with Retry-After", ConnectionAction::answer(429, kThrottled, {{"Retry-After", "2"}}),
       ErrorCode::graph_api},
      {"429 storm without Retry-After", ConnectionAction::answer(429, kThrottled), ErrorCode::graph_api},
  };
}

}  // namespace

TEST_CASE("issue13 fault server: a read is retried up to the limit on every fault", "[issue13][integration]") {
  for (const Case& c : read_cases()) {
    CAPTURE(c.name);
    Rig rig(c.action);
    const FaultServer& server = rig.server;
    const auto& sleeper = rig.sleeper;
    auto r = rig.client.get_invite_link("G1");
    REQUIRE_FALSE(r.ok());
    const wagroups::Error& e = r.error();
    CAPTURE(e.to_string());
    CHECK(e.code == c.code);
    CHECK(e.attempts == kMaxAttempts);
    CHECK(server.connections() == static_cast<std::size_t>(kMaxAttempts));
    CHECK(sleeper.delays().size() == static_cast<std::size_t>(kMaxAttempts - 1));
    // Read whole before the reset or the cut: the request surely left. (A reset before reading may
    // meet the request still being written, so either flag is honest there.)
    if (c.action.fault == ConnectionFault::reset_after_read || c.action.fault == ConnectionFault::truncated_body)
      CHECK(e.request_may_have_been_sent);
    if (c.action.fault == ConnectionFault::answer) {
      CHECK(e.http_status == c.action.status);
      CHECK(server.requests_received() == static_cast<std::size_t>(kMaxAttempts));
    }
    if (!c.action.headers.empty()) {
      for (auto d : sleeper.delays()) CHECK(d >= 2000ms);  // Retry-After honoured, through the sleeper
    }
    CHECK(e.message.find(kToken) == std::string::npos);
  }
}

TEST_CASE("issue13 fault server: a read recovers after a storm, each repeat a whole new request",
          "[issue13][integration]") {
  Rig rig(ConnectionAction::answer(200, kInviteLink),
          {ConnectionAction::answer(503, kUnavailable), ConnectionAction::of(ConnectionFault::reset_after_read)});
  const FaultServer& server = rig.server;
  const auto& sleeper = rig.sleeper;
  auto r = rig.client.get_invite_link("G1");
  REQUIRE(r.ok());
  CHECK(r->invite_link == "https://chat.whatsapp.com/AbCdEfGh");
  CHECK(server.requests_received() == 3);
  CHECK(sleeper.delays() == std::vector<std::chrono::milliseconds>{500ms, 1000ms});
  for (const auto& seen : server.received()) {
    CHECK(seen.method == "GET");
    CHECK(seen.target == "/v26.0/G1/invite_link");
  }
}

TEST_CASE("issue13 fault server: a write the server may have read is sent exactly once", "[issue13][integration]") {
  const std::vector<Case> cases = {
      {"reset after reading", ConnectionAction::of(ConnectionFault::reset_after_read), ErrorCode::transport},
      {"truncated body", ConnectionAction::of(ConnectionFault::truncated_body, R"({"success":true})"),
       ErrorCode::transport},
      {"503", ConnectionAction::answer(503, kUnavailable), ErrorCode::graph_api},
      {"500 without a Graph body", ConnectionAction::answer(500, "oops"), ErrorCode::graph_api},
      {"429 with Retry-After", ConnectionAction::answer(429, kThrottled, {{"Retry-After", "1"}}), ErrorCode::graph_api},
  };
  // A POST and a DELETE, with and without a body.
  struct Write {
    const char* name;
    const char* method;
    std::function<std::optional<wagroups::Error>(const wagroups::Client&)> call;
  };
  const std::vector<Write> writes = {
      {"create_group", "POST",
       [](const wagroups::Client& c) {
         return error_of(c.create_group({"Orders", std::nullopt, std::nullopt}));
       }},
      {"send_text", "POST", [](const wagroups::Client& c) { return error_of(c.send_text("G1", "hello")); }},
      {"delete_group", "DELETE", [](const wagroups::Client& c) { return error_of(c.delete_group("G1")); }},
      {"remove_participants", "DELETE",
       [](const wagroups::Client& c) {
         return error_of(c.remove_participants({"G1", {"+16505551234"}}));
       }},
  };
  for (const Case& c : cases) {
    for (const Write& w : writes) {
      CAPTURE(c.name, w.name);
      Rig rig(c.action);
      const FaultServer& server = rig.server;
      const auto& sleeper = rig.sleeper;
      const auto error = w.call(rig.client);
      REQUIRE(error.has_value());
      CAPTURE(error->to_string());
      CHECK(error->code == c.code);
      CHECK(error->attempts == 1);
      CHECK(server.requests_received() == 1);  // never a duplicate write
      CHECK(server.connections() == 1);
      CHECK(sleeper.delays().empty());
      if (c.code == ErrorCode::transport) {
        CHECK(error->request_may_have_been_sent);
        CHECK(error->curl_code != 0);
      } else {
        CHECK(error->http_status == c.action.status);
      }
      REQUIRE(server.received().size() == 1);
      CHECK(server.received()[0].method == w.method);
    }
  }
}

TEST_CASE("issue13 fault server: a write reset before the server read it is never received twice",
          "[issue13][integration]") {
  // The client cannot tell whether its bytes were read before the reset: however it classifies the
  // failure, it repeats only what it can prove unsent, and the server never takes the request.
  for (const ConnectionFault fault : {ConnectionFault::reset_before_read, ConnectionFault::close_at_once}) {
    Rig rig(ConnectionAction::of(fault));
    const FaultServer& server = rig.server;
    auto r = rig.client.delete_group("G1");
    REQUIRE_FALSE(r.ok());
    const wagroups::Error& e = r.error();
    CAPTURE(e.to_string());
    CHECK(e.code == ErrorCode::transport);
    CHECK(server.requests_received() == 0);
    CHECK(server.connections() == static_cast<std::size_t>(e.attempts));
    // curl meets the reset either while sending (provably unsent: repeated) or while waiting for
    // the answer (may have been sent: never repeated), as the timing falls; so the write stops at
    // the first attempt that may have been sent, or at the limit when none may have been.
    CHECK(e.attempts >= 1);
    CHECK(e.attempts <= kMaxAttempts);
    if (!e.request_may_have_been_sent) CHECK(e.attempts == kMaxAttempts);
  }
}

TEST_CASE("issue13 fault server: a refused connect sent nothing, so even a write is retried",
          "[issue13][integration]") {
  // The Client's documented rule: operations other than reads are repeated only when the transport
  // proves the request never left this host; a refused connect is that proof.
  wagroups::testing::RecordingSleeper sleeper;
  wagroups::Client client(
      options_for("http://127.0.0.1:" + std::to_string(wagroups_test::closed_loopback_port()), sleeper));
  auto r = client.create_group({"Orders", std::nullopt, std::nullopt});
  REQUIRE_FALSE(r.ok());
  const wagroups::Error& e = r.error();
  CHECK(e.code == ErrorCode::transport);
  CHECK(e.curl_code == 7);
  CHECK_FALSE(e.request_may_have_been_sent);
  CHECK(e.attempts == kMaxAttempts);
  CHECK(sleeper.delays().size() == static_cast<std::size_t>(kMaxAttempts - 1));
  CHECK(e.is_retryable());
  CHECK(e.message.find(kToken) == std::string::npos);
}

TEST_CASE("issue13 fault server: CurlTransport classifies each fault", "[issue13][integration][transport]") {
  struct Expect {
    ConnectionFault fault;
    int curl_code;  // 0: any
  };
  // 18 CURLE_PARTIAL_FILE, 56 CURLE_RECV_ERROR, 52 CURLE_GOT_NOTHING (or 56 when the RST wins).
  for (const Expect& x : {Expect{ConnectionFault::truncated_body, 18}, Expect{ConnectionFault::reset_after_read, 56},
                          Expect{ConnectionFault::close_at_once, 0}}) {
    CAPTURE(static_cast<int>(x.fault));
    FaultServer server;
    server.set_fallback(ConnectionAction::of(x.fault, R"({"ok":true})"));
    server.start();
    wagroups::CurlTransport transport;
    HttpRequest request;
    request.method = HttpMethod::post;
    request.url = server.url("/v26.0/G1");
    request.headers = {{"Authorization", std::string("Bearer ") + kToken}, {"Content-Type", "application/json"}};
    request.body = R"({"subject":"x"})";
    auto r = transport.send(request);
    REQUIRE_FALSE(r.ok());
    CAPTURE(r.error().to_string());
    CHECK(r.error().code == ErrorCode::transport);
    if (x.curl_code != 0) {
      CHECK(r.error().curl_code == x.curl_code);
      CHECK(r.error().request_may_have_been_sent);  // the server read it whole
    }
    CHECK(r.error().is_retryable());
    CHECK(server.connections() == 1);  // the transport never re-sends on its own
  }
}

TEST_CASE("issue13 fault server: a dribbled body", "[issue13][integration]") {
  SECTION("slow but within the timeout: the whole answer") {
    ConnectionAction dribble = ConnectionAction::of(ConnectionFault::dribble_body, kInviteLink);
    dribble.dribble_delay = 2ms;
    Rig rig(dribble);
    auto r = rig.client.get_invite_link("G1");
    REQUIRE(r.ok());
    CHECK(r->invite_link == "https://chat.whatsapp.com/AbCdEfGh");
    CHECK(rig.server.connections() == 1);
  }
  SECTION("past the timeout: a write times out as possibly sent and is not repeated") {
    ConnectionAction dribble = ConnectionAction::of(ConnectionFault::dribble_body, std::string(200, ' ') + "{}");
    dribble.dribble_delay = 50ms;
    Rig rig(dribble);
    wagroups::CallOptions call;
    call.timeout = 300ms;
    auto r = rig.client.delete_group("G1", call);
    REQUIRE_FALSE(r.ok());
    CAPTURE(r.error().to_string());
    CHECK(r.error().code == ErrorCode::transport);
    CHECK(r.error().curl_code == 28);  // CURLE_OPERATION_TIMEDOUT
    CHECK(r.error().request_may_have_been_sent);
    CHECK(r.error().attempts == 1);
    CHECK(rig.server.requests_received() == 1);
    CHECK(rig.sleeper.delays().empty());
  }
}
