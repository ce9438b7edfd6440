// wagroups::Client over a real CurlTransport against a loopback server: rate-limit handling for an
// idempotent read (retried after Retry-After) and a non-idempotent create (not retried).

#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "loopback_server.hpp"
#include "wagroups/client/client.hpp"
#include "wagroups/http/curl_transport.hpp"
#include "wagroups/testing/fake_transport.hpp"

using namespace std::chrono_literals;
using wagroups_test::LoopbackServer;
using wagroups_test::Recorder;

namespace {

constexpr const char* kToken = "EAAGclientSECRETtoken9876543210";
constexpr const char* kPhone = "106540352242922";

constexpr const char* kRateLimitBody =
    R"({"error":{"message":"(#131208) Group Rate Limit Hit","type":"OAuthException","code":131208,"fbtrace_id":"A1"}})";
constexpr const char* kGroupsBody =
    R"({"data":{"groups":[{"id":"G1","subject":"S","created_at":"1700000000"}]},"paging":{"cursors":{"after":"A"}}})";


wagroups::ClientOptions client_options(const LoopbackServer& server,
                                       wagroups::testing::RecordingSleeper& sleeper) {
  wagroups::ClientOptions options;
  options.base_url = server.base_url();
  options.allow_insecure_http = true;  // the loopback stub speaks plain HTTP
  options.access_token = kToken;
  options.phone_number_id = kPhone;
  options.transport = wagroups::make_curl_transport();
  options.sleeper = sleeper.as_sleeper();
  options.random = [] { return 0.5; };
  return options;
}

void answer_rate_limited(httplib::Response& res) {
  res.status = 429;
  res.set_header("Retry-After", "2");
  res.set_content(kRateLimitBody, "application/json");
}

}  // namespace

TEST_CASE("list_groups waits out a 429 Retry-After and retries", "[integration][client]") {
  LoopbackServer server;
  Recorder hits;
  const std::string path = std::string("/v26.0/") + kPhone + "/groups";  // the default api_version
  server->Get(path, [&](const httplib::Request& req, httplib::Response& res) {
    hits.add(req);
    if (hits.seen().size() == 1) {
      answer_rate_limited(res);
    } else {
      res.set_content(kGroupsBody, "application/json");
    }
  });
  server.start();

  wagroups::testing::RecordingSleeper sleeper;
  wagroups::Client client(client_options(server, sleeper));

  auto listed = client.list_groups();
  REQUIRE(listed.ok());
  REQUIRE(listed->groups.size() == 1);
  CHECK(listed->groups[0].id == "G1");
  REQUIRE(listed->groups[0].subject);
  CHECK(*listed->groups[0].subject == "S");
  REQUIRE(listed->groups[0].created_at);
  CHECK(*listed->groups[0].created_at == 1700000000);
  REQUIRE(listed->paging.after);
  CHECK(*listed->paging.after == "A");

  const auto seen = hits.seen();
  REQUIRE(seen.size() == 2);
  for (const auto& hit : seen) {
    CHECK(hit.method == "GET");
    CHECK(hit.target.rfind(path, 0) == 0);
    CHECK(wagroups_test::header_of(hit, "Authorization") == std::string("Bearer ") + kToken);
  }
  CHECK(seen[0].target == seen[1].target);

  const auto delays = sleeper.delays();
  REQUIRE(delays.size() == 1);
  CHECK(delays[0] >= 2000ms);
}

TEST_CASE("create_group is not retried after a 429", "[integration][client]") {
  LoopbackServer server;
  Recorder hits;
  const std::string path = std::string("/v26.0/") + kPhone + "/groups";  // the default api_version
  server->Post(path, [&](const httplib::Request& req, httplib::Response& res) {
    hits.add(req);
    answer_rate_limited(res);
  });
  server.start();

  wagroups::testing::RecordingSleeper sleeper;
  wagroups::Client client(client_options(server, sleeper));

  wagroups::CreateGroupRequest request;
  request.subject = "Order #1042";
  request.description = "Delivery question";
  auto created = client.create_group(request);
  REQUIRE_FALSE(created.ok());
  const auto& error = created.error();
  CHECK(error.code == wagroups::ErrorCode::graph_api);
  CHECK(error.graph_code() == 131208);
  CHECK(error.http_status == 429);
  REQUIRE(error.retry_after);
  CHECK(*error.retry_after == 2000ms);
  CHECK(error.is_rate_limited());
  CHECK(error.attempts == 1);
  REQUIRE(error.graph);
  REQUIRE(error.graph->fbtrace_id);
  CHECK(*error.graph->fbtrace_id == "A1");

  const auto seen = hits.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].target == path);
  CHECK(sleeper.delays().empty());
  CHECK(error.to_string().find(kToken) == std::string::npos);
}

TEST_CASE("a transport failure seen through the client never carries the token",
          "[integration][client]") {
  // A server that is started and stopped again: its port then refuses connections.
  std::string base_url;
  {
    LoopbackServer gone;
    gone.start();
    base_url = gone.base_url();
  }

  wagroups::testing::RecordingSleeper sleeper;
  wagroups::ClientOptions options;
  options.base_url = base_url;
  options.allow_insecure_http = true;  // the loopback stub speaks plain HTTP
  options.access_token = kToken;
  options.phone_number_id = kPhone;
  options.transport = wagroups::make_curl_transport();
  options.sleeper = sleeper.as_sleeper();
  options.random = [] { return 0.5; };
  options.retry.max_attempts = 2;
  wagroups::Client client(options);

  auto listed = client.list_groups();
  REQUIRE_FALSE(listed.ok());
  const auto& error = listed.error();
  CHECK(error.code == wagroups::ErrorCode::transport);
  CHECK(error.curl_code == 7);  // CURLE_COULDNT_CONNECT
  CHECK_FALSE(error.request_may_have_been_sent);
  CHECK(error.message.find(kToken) == std::string::npos);
  CHECK(error.to_string().find(kToken) == std::string::npos);
  CHECK(error.to_string().find("Bearer") == std::string::npos);
}
