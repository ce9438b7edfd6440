// Retries: what is re-sent, when, and how long the client waits (no wall time: sleeps are recorded).

#include <catch2/catch_test_macros.hpp>

#include "http/retry.hpp"
#include "test_support.hpp"
#include "wagroups/graph_codes.hpp"

using namespace wagroups;
using namespace std::chrono_literals;
using wagroups_test::FakeClient;

namespace {
const std::string kRateLimited =
    R"({"error":{"message":"(#131208) Group Rate Limit Hit","type":"OAuthException","code":131208,"fbtrace_id":"A"}})";
const std::string kGroups = R"({"data":{"groups":[{"id":"G1"}]}})";
const std::string kSendOk = R"({"messages":[{"id":"wamid.1"}]})";
}  // namespace

TEST_CASE("an idempotent read is retried on 5xx and succeeds", "[retry]") {
  FakeClient f;
  f.transport->enqueue(503, "Service Unavailable");
  f.transport->enqueue(500, R"({"error":{"message":"(#2) Service temporarily unavailable","type":"OAuthException","code":2}})");
  f.transport->enqueue(200, kGroups);
  auto r = f.client.list_groups();
  REQUIRE(r.ok());
  CHECK(f.transport->request_count() == 3);
  // Full jitter with random()==1.0: the ceiling itself, 500 ms then 1000 ms.
  CHECK(f.sleeper.delays() == std::vector<std::chrono::milliseconds>{500ms, 1000ms});
}

TEST_CASE("a read gives up after max_attempts and reports the attempts", "[retry]") {
  FakeClient f;
  for (int i = 0; i < 4; ++i) f.transport->enqueue(502, "Bad Gateway");
  auto r = f.client.get_invite_link("G1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::graph_api);
  CHECK(r.error().http_status == 502);
  CHECK(r.error().attempts == 4);
  CHECK(f.transport->request_count() == 4);
  CHECK(f.sleeper.delays().size() == 3);
}

TEST_CASE("Retry-After in seconds is honoured as a minimum wait", "[retry]") {
  FakeClient f(0.0);  // jitter would choose no wait at all
  f.transport->enqueue(429, kRateLimited, {{"Retry-After", "7"}});
  f.transport->enqueue(200, kGroups);
  REQUIRE(f.client.list_groups().ok());
  CHECK(f.sleeper.delays() == std::vector<std::chrono::milliseconds>{7000ms});
}

TEST_CASE("Retry-After as an HTTP date is measured against the injected clock", "[retry]") {
  FakeClient f(0.0);
  // The test clock is at 1790000000 s = Mon, 21 Sep 2026 14:13:20 GMT; the header asks for 12 s later.
  f.transport->enqueue(429, kRateLimited, {{"retry-after", "Mon, 21 Sep 2026 14:13:32 GMT"}});
  f.transport->enqueue(200, kGroups);
  REQUIRE(f.client.list_groups().ok());
  CHECK(f.sleeper.delays() == std::vector<std::chrono::milliseconds>{12000ms});
}

TEST_CASE("a Retry-After beyond max_retry_after is returned to the host instead of waited", "[retry]") {
  FakeClient f;
  f.transport->enqueue(429, kRateLimited, {{"Retry-After", "3600"}});
  auto r = f.client.list_groups();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().retry_after == std::optional<std::chrono::milliseconds>(3600000ms));
  CHECK(r.error().is_rate_limited());
  CHECK(f.transport->request_count() == 1);
  CHECK(f.sleeper.delays().empty());
}

TEST_CASE("a POST that reached the server is never re-sent automatically", "[retry]") {
  FakeClient f;
  SECTION("rate limited create") {
    f.transport->enqueue(429, kRateLimited, {{"Retry-After", "1"}});
    auto r = f.client.create_group({"Subject", std::nullopt, std::nullopt});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().graph_code() == graph_codes::group_rate_limit);
    CHECK(r.error().is_retryable());  // retryable by the host, just not re-sent by us
  }
  SECTION("a send that timed out after the request left") {
    f.transport->enqueue_error(Error::transport_failure(28, "curl: Timeout was reached", true));
    auto r = f.client.send_text("G1", "hello");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::transport);
    CHECK(r.error().curl_code == 28);
  }
  SECTION("a 503 on approve") {
    f.transport->enqueue(503, "");
    CHECK_FALSE(f.client.approve_join_requests({"G1", {"J1"}}).ok());
  }
  CHECK(f.transport->request_count() == 1);
  CHECK(f.sleeper.delays().empty());
}

TEST_CASE("a POST that provably never left is re-sent", "[retry]") {
  FakeClient f;
  f.transport->enqueue_error(Error::transport_failure(7, "curl: Couldn't connect to server", false));
  f.transport->enqueue(200, kSendOk);
  auto r = f.client.send_text("G1", "hello");
  REQUIRE(r.ok());
  CHECK(f.transport->request_count() == 2);
  CHECK(f.sleeper.delays().size() == 1);
}

TEST_CASE("the host can declare a POST idempotent for one call", "[retry]") {
  FakeClient f;
  f.transport->enqueue(429, kRateLimited, {{"Retry-After", "1"}});
  f.transport->enqueue(200, R"({"invite_link":"https://chat.whatsapp.com/NEW"})");
  CallOptions call;
  call.idempotency = Idempotency::idempotent;
  auto r = f.client.reset_invite_link("G1", call);
  REQUIRE(r.ok());
  CHECK(f.transport->request_count() == 2);
}

TEST_CASE("permanent errors are not retried even on reads", "[retry]") {
  FakeClient f;
  f.transport->enqueue(400, R"({"error":{"message":"(#131215) not eligible","type":"OAuthException","code":131215}})");
  auto r = f.client.list_groups();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().is_not_eligible());
  CHECK(f.transport->request_count() == 1);
}

TEST_CASE("per-call retry options replace the client's", "[retry]") {
  FakeClient f;
  f.transport->enqueue(503, "");
  f.transport->enqueue(503, "");
  CallOptions call;
  call.retry = RetryOptions{};
  call.retry->max_attempts = 2;
  call.retry->initial_backoff = 10ms;
  auto r = f.client.list_groups({}, call);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().attempts == 2);
  CHECK(f.sleeper.delays() == std::vector<std::chrono::milliseconds>{10ms});
}

TEST_CASE("backoff grows exponentially, is capped, and is fully jittered", "[retry]") {
  RetryOptions o;
  o.initial_backoff = 100ms;
  o.multiplier = 2.0;
  o.max_backoff = 1000ms;
  CHECK(retry::backoff_delay(o, 1, 1.0) == 100ms);
  CHECK(retry::backoff_delay(o, 2, 1.0) == 200ms);
  CHECK(retry::backoff_delay(o, 4, 1.0) == 800ms);
  CHECK(retry::backoff_delay(o, 5, 1.0) == 1000ms);
  CHECK(retry::backoff_delay(o, 9, 1.0) == 1000ms);
  CHECK(retry::backoff_delay(o, 3, 0.5) == 200ms);
  CHECK(retry::backoff_delay(o, 3, 0.0) == 0ms);
}

TEST_CASE("Retry-After parsing", "[retry]") {
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(784111777));  // 06 Nov 1994 08:49:37
  CHECK(retry::parse_retry_after("120", now) == std::optional<std::chrono::milliseconds>(120000ms));
  CHECK(retry::parse_retry_after(" 0 ", now) == std::optional<std::chrono::milliseconds>(0ms));
  CHECK(retry::parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now) ==
        std::optional<std::chrono::milliseconds>(10000ms));
  CHECK(retry::parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now) ==
        std::optional<std::chrono::milliseconds>(0ms));  // in the past: no wait
  CHECK_FALSE(retry::parse_retry_after("soon", now));
  CHECK_FALSE(retry::parse_retry_after("", now));
  CHECK_FALSE(retry::parse_retry_after("-5", now));
}

TEST_CASE("transport failures that cannot heal are not retried", "[retry]") {
  // 3 = CURLE_URL_MALFORMAT, 60 = CURLE_PEER_FAILED_VERIFICATION, 77 = CURLE_SSL_CACERT_BADFILE.
  for (int code : {3, 60, 77}) {
    FakeClient f;
    f.transport->enqueue_error(Error::transport_failure(code, "curl: permanent", false));
    auto r = f.client.list_groups();
    REQUIRE_FALSE(r.ok());
    CHECK_FALSE(r.error().is_retryable());
    CHECK(f.transport->request_count() == 1);
  }
  // 7 = CURLE_COULDNT_CONNECT, 28 = CURLE_OPERATION_TIMEDOUT, 56 = CURLE_RECV_ERROR heal with time.
  for (int code : {7, 28, 56}) {
    CHECK(Error::transport_failure(code, "curl: transient", true).is_retryable());
  }
}

TEST_CASE("rejecting join requests and deleting the invite link are not re-sent", "[retry]") {
  // A repeat of a reject that did happen would answer 131213 and report the rejection as failed.
  FakeClient f;
  f.transport->enqueue(503, "");
  CHECK_FALSE(f.client.reject_join_requests({"G1", {"J1"}}).ok());
  f.transport->enqueue(503, "");
  CHECK_FALSE(f.client.delete_invite_link("G1").ok());
  CHECK(f.transport->request_count() == 2);
  CHECK(f.sleeper.delays().empty());
}

TEST_CASE("a 200 carrying Graph's error envelope is a graph_api error", "[retry]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"error":{"message":"(#131215) not eligible","type":"OAuthException","code":131215}})");
  auto r = f.client.create_group({"Subject", std::nullopt, std::nullopt});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::graph_api);
  CHECK(r.error().is_not_eligible());
  // ...but a success that merely mentions "error" in its data is a success.
  f.transport->enqueue(200, R"({"data":{"groups":[{"id":"G1","subject":"Payment \"error\" on order 7"}]}})");
  auto listed = f.client.list_groups();
  REQUIRE(listed.ok());
  CHECK(listed->groups[0].subject == std::optional<std::string>("Payment \"error\" on order 7"));
}

TEST_CASE("a token straddling the excerpt cut never shows, not even in part", "[retry]") {
  FakeClient f;
  const std::string token = FakeClient::base_options().access_token;
  for (std::size_t at : {0u, 150u, 190u, 199u, 200u}) {
    std::string body(at, 'x');
    body += token;
    body += std::string(300, 'y');
    f.transport->enqueue(502, body);
    CallOptions once;
    once.retry = RetryOptions{};
    once.retry->max_attempts = 1;
    auto r = f.client.list_groups({}, once);
    REQUIRE_FALSE(r.ok());
    const std::string text = r.error().to_string();
    CHECK(text.find(token.substr(0, 6)) == std::string::npos);
    if (at + 10 <= 200) CHECK(text.find("[redacted]") != std::string::npos);  // fits before the cut
  }
  // The same for a decode error of a 2xx answer.
  std::string body = std::string(195, ' ') + token + "}";
  f.transport->enqueue(200, body);
  auto r = f.client.get_invite_link("G1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::decode);
  CHECK(r.error().to_string().find(token.substr(0, 6)) == std::string::npos);
}

TEST_CASE("a token that appears twice in a body leaves no fragment in the excerpt", "[retry]") {
  FakeClient f;
  const std::string token = FakeClient::base_options().access_token;
  f.transport->enqueue(502, "<html>token " + token + " / again " + token + " / " + std::string(400, 'z'));
  CallOptions once;
  once.retry = RetryOptions{};
  once.retry->max_attempts = 1;
  auto r = f.client.list_groups({}, once);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().to_string().find(token.substr(0, 5)) == std::string::npos);
  CHECK(r.error().to_string().find("[redacted] / again [redacted]") != std::string::npos);
}
