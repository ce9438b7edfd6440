// Mapping Graph API error answers to `Error`: every Groups code from Meta's table (reference §5)
// driven through a real Client call, the retry classification of §2.3/§9, and drifted shapes.

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <string>
#include <vector>

#include "test_support.hpp"
#include "wagroups/client/client.hpp"
#include "wagroups/graph_codes.hpp"

using Catch::Matchers::ContainsSubstring;
using wagroups::ErrorCode;
using wagroups_test::FakeClient;
namespace codes = wagroups::graph_codes;

namespace {

constexpr const char* kToken = "EAAtest-token-123";
constexpr const char* kGroup = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD";
constexpr const char* kTrace = "Az8or2yhqkZfEZ-_4Qn_Bam";
constexpr int kSubcode = 2494055;

wagroups::CallOptions single_attempt() {
  wagroups::CallOptions call;
  wagroups::RetryOptions retry;
  retry.max_attempts = 1;
  call.retry = retry;
  return call;
}

// Meta's synchronous error envelope (reference §2.2), written out for one code.
std::string envelope(int code, const std::string& title, const std::string& details) {
  return std::string(R"({"error":{"message":"(#)") + std::to_string(code) + ") " + title +
         R"(","type":"OAuthException","code":)" + std::to_string(code) +
         R"(,"error_data":{"messaging_product":"whatsapp","details":")" + details +
         R"("},"error_subcode":)" + std::to_string(kSubcode) + R"(,"fbtrace_id":")" + kTrace + R"("}})";
}

// A bare error object with a chosen code and extra members, for the classification tests.
std::string error_with(const std::string& code_json, const std::string& extra = {}) {
  return R"({"error":{"message":"(#x) Something","type":"OAuthException","code":)" + code_json + extra +
         R"(,"fbtrace_id":"Bx1"}})";
}

wagroups::Error create_group_error(int http_status, const std::string& body) {
  FakeClient fc;
  fc.transport->enqueue(http_status, body);
  auto r = fc.client.create_group({"Orders", std::nullopt, std::nullopt}, single_attempt());
  REQUIRE_FALSE(r.ok());
  CHECK(fc.transport->request_count() == 1);
  return r.error();
}

void check_no_token(const wagroups::Error& e) {
  CHECK(e.message.find(kToken) == std::string::npos);
  CHECK(e.to_string().find(kToken) == std::string::npos);
}

struct GroupsCode {
  int number;            // as published
  int constant;          // the wagroups::graph_codes name for it
  int http_status;       // as published
  const char* title;
  const char* details;
  bool retryable;
};

// Reference §5 (Meta's "Groups API Error Codes" page), except 131201 (a partial success, below).
const std::vector<GroupsCode>& groups_codes() {
  static const std::vector<GroupsCode> table = {
      {131020, codes::bad_group, 400, "Bad Group", "Cannot send messages to single member groups.", false},
      {131041, codes::group_unknown, 400, "Group unknown",
       "The group was not found, either because it doesn't exist or you are not a member.", false},
      {131059, codes::invalid_cursor, 400, "Invalid cursor",
       "The cursor has either expired or become corrupted. Start pagination from the beginning again.", false},
      {131202, codes::duplicate_participant, 400, "Duplicate participant",
       "Duplicate participants in the participant array input.", false},
      {131204, codes::participant_overlimit, 400, "Participant overlimit", "Group participant size exceeds limit.",
       false},
      {131207, codes::group_suspended, 403, "Group suspended", "The group violates platform policies.", false},
      {131208, codes::group_rate_limit, 429, "Group Rate Limit Hit",
       "Group operation failed because there were too many group operations from this phone number in a short "
       "period.",
       true},
      {131209, codes::picture_aspect_ratio, 400, "Invalid Group Profile Picture Aspect Ratio",
       "Width and height of the image must be equal.", false},
      {131210, codes::picture_too_small, 400, "Image is Too Small to Process",
       "Image width and height must be greater than 192px.", false},
      {131211, codes::group_create_limit, 400, "Group create limit reached",
       "Reached the limit for the maximum number of groups that can be created for this number.", false},
      {131212, codes::participant_not_in_group, 400, "Participant is not a part of the group.",
       "Participant is not a part of the group.", false},
      {131213, codes::join_request_not_found, 400, "Group join request does not exist.",
       "Group join request does not exist.", false},
      {131214, codes::group_creation_disabled, 400, "Group creation is temporarily disabled",
       "Group creation is temporarily disabled due to excessive marketing messages sent by the WABA in customer "
       "service window over the past 7 days.",
       false},
      {131215, codes::not_eligible, 400, "This phone number is not eligible to access Groups APIs",
       "Groups APIs are only available for eligible phone numbers. Please check eligibility for Groups APIs in our "
       "documentation - /documentation/business-messaging/whatsapp/groups/get-started",
       false},
  };
  return table;
}

}  // namespace

TEST_CASE("each Groups error code maps to a complete graph_api Error", "[errors]") {
  REQUIRE(groups_codes().size() == 14);  // + 131201, tested through remove_participants below
  for (const auto& c : groups_codes()) {
    INFO("code " << c.number << " HTTP " << c.http_status);
    CHECK(c.constant == c.number);

    const std::string title = c.title;
    const std::string details = c.details;
    const wagroups::Error e = create_group_error(c.http_status, envelope(c.number, title, details));
    INFO("error: " << e.to_string());

    CHECK(e.code == ErrorCode::graph_api);
    CHECK(e.http_status == c.http_status);
    CHECK(e.graph_code() == c.number);
    CHECK(e.attempts == 1);
    REQUIRE(e.graph.has_value());
    CHECK(e.graph->code == c.number);
    CHECK(e.graph->type == "OAuthException");
    CHECK(e.graph->message == "(#" + std::to_string(c.number) + ") " + title);
    CHECK(e.graph->error_subcode == std::optional<int>(kSubcode));
    CHECK(e.graph->details == std::optional<std::string>(details));
    CHECK(e.graph->fbtrace_id == std::optional<std::string>(kTrace));
    CHECK_FALSE(e.graph->is_transient.has_value());

    // The human-readable message carries Meta's details; the title too, except where the
    // client substitutes a clearer explanation (131215).
    CHECK_THAT(e.message, ContainsSubstring(details));
    if (c.number != codes::not_eligible) CHECK_THAT(e.message, ContainsSubstring(title));

    CHECK(e.is_retryable() == c.retryable);
    CHECK(e.is_not_eligible() == (c.number == 131215));
    CHECK(e.is_rate_limited() == (c.number == 131208));

    // to_string() has the detail needed to report the problem, and never the token.
    const std::string line = e.to_string();
    CHECK_THAT(line, ContainsSubstring(std::to_string(c.number)));
    CHECK_THAT(line, ContainsSubstring(kTrace));
    check_no_token(e);
  }
}

TEST_CASE("the same Groups errors through a read (get_group_info)", "[errors]") {
  for (const auto& c : groups_codes()) {
    INFO("code " << c.number);
    FakeClient fc;
    fc.transport->enqueue(c.http_status, envelope(c.number, c.title, c.details));
    auto r = fc.client.get_group_info({kGroup, {}}, single_attempt());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::graph_api);
    CHECK(r.error().graph_code() == c.number);
    CHECK(r.error().http_status == c.http_status);
    CHECK(r.error().is_retryable() == c.retryable);
  }
}

TEST_CASE("131215: not eligible, with an explanation", "[errors]") {
  const wagroups::Error e = create_group_error(
      400, envelope(131215, "This phone number is not eligible to access Groups APIs", "Check eligibility"));
  CHECK(e.is_not_eligible());
  CHECK_FALSE(e.is_retryable());
  CHECK_FALSE(e.is_rate_limited());
  CHECK_THAT(e.message, ContainsSubstring("Official Business Account"));
  CHECK_THAT(e.message, ContainsSubstring("eligible"));

  // Eligibility is about 131215 only: neither another code nor a non-Graph error is "not eligible".
  CHECK_FALSE(create_group_error(400, envelope(131211, "Group create limit reached", "x")).is_not_eligible());
  CHECK_FALSE(wagroups::Error::transport_failure(7, "connect", false).is_not_eligible());
}

TEST_CASE("permanent Groups errors are not retried even by idempotent reads", "[errors]") {
  for (int code : {131215, 131211, 131214, 131207, 131041, 131020}) {
    INFO("code " << code);
    FakeClient fc;  // default retry options: up to 4 attempts
    const int status = code == 131207 ? 403 : 400;
    fc.transport->enqueue(status, envelope(code, "Title", "Details"));
    fc.transport->enqueue(200, R"({"id":"G"})");
    auto r = fc.client.get_group_info({kGroup, {}});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().graph_code() == code);
    CHECK(fc.transport->request_count() == 1);
    CHECK(fc.sleeper.delays().empty());
  }
}

TEST_CASE("permanent Groups errors stay non-retryable even when marked is_transient", "[errors]") {
  for (const auto& c : groups_codes()) {
    if (c.retryable) continue;
    INFO("code " << c.number);
    const std::string body = R"({"error":{"message":"(#)" + std::to_string(c.number) + ") " + c.title +
                             R"(","type":"OAuthException","code":)" + std::to_string(c.number) +
                             R"(,"is_transient":true,"fbtrace_id":"T9"}})";
    const wagroups::Error e = create_group_error(c.http_status, body);
    REQUIRE(e.graph.has_value());
    CHECK(e.graph->is_transient == std::optional<bool>(true));
    CHECK_FALSE(e.is_retryable());
  }
}

TEST_CASE("131208 is retried by idempotent reads", "[errors]") {
  FakeClient fc;
  fc.transport->enqueue(429, envelope(131208, "Group Rate Limit Hit", "Too many group operations"));
  fc.transport->enqueue(200, R"({"messaging_product":"whatsapp","id":"G1","subject":"Orders"})");
  auto r = fc.client.get_group_info({kGroup, {}});
  REQUIRE(r.ok());
  CHECK(r->id == "G1");
  CHECK(fc.transport->request_count() == 2);
  CHECK(fc.sleeper.delays().size() == 1);
}

TEST_CASE("131201: HTTP 206 on remove_participants is a partial success, not an Error", "[errors]") {
  const std::string details = "Not all participant-level operations in the request succeeded.";
  FakeClient fc;
  fc.transport->enqueue(206, envelope(131201, "Request partially succeeded", details));
  auto r = fc.client.remove_participants({kGroup, {"16505551234", "16505550000"}}, single_attempt());
  if (!r.ok()) FAIL("206 became an error: " << r.error().to_string());
  CHECK(codes::partial_success == 131201);
  CHECK(r->http_status == 206);
  CHECK(r->partial);
  REQUIRE(r->partial_error.has_value());
  CHECK(r->partial_error->code == 131201);
  CHECK(r->partial_error->type == "OAuthException");
  CHECK(r->partial_error->message == "(#131201) Request partially succeeded");
  CHECK(r->partial_error->details == std::optional<std::string>(details));
  CHECK(r->partial_error->error_subcode == std::optional<int>(kSubcode));
  CHECK(r->partial_error->fbtrace_id == std::optional<std::string>(kTrace));
  CHECK(fc.transport->request_count() == 1);

  SECTION("a 206 without a body is still partial") {
    FakeClient bare;
    bare.transport->enqueue(206, "");
    auto partial = bare.client.remove_participants({kGroup, {"16505551234"}}, single_attempt());
    REQUIRE(partial.ok());
    CHECK(partial->partial);
    CHECK(partial->http_status == 206);
  }
  SECTION("a plain 200 is not partial") {
    FakeClient ok;
    ok.transport->enqueue(200, R"({"success":true})");
    auto full = ok.client.remove_participants({kGroup, {"16505551234"}}, single_attempt());
    REQUIRE(full.ok());
    CHECK_FALSE(full->partial);
    CHECK_FALSE(full->partial_error.has_value());
    CHECK(full->http_status == 200);
  }
}

TEST_CASE("throttling codes are rate limits and retryable", "[errors]") {
  const std::vector<std::pair<int, int>> throttling = {
      {4, codes::app_rate_limit},       {80007, codes::waba_rate_limit},   {130429, codes::throughput_limit},
      {131056, codes::pair_rate_limit}, {131208, codes::group_rate_limit}, {613, codes::graph_rate_limit}};
  for (const auto& [code, constant] : throttling) {
    INFO("code " << code);
    CHECK(constant == code);
    CHECK(wagroups::is_throttling_code(code));
    // HTTP 400 on purpose: the code alone must make it a rate limit.
    for (int status : {400, 429}) {
      INFO("HTTP " << status);
      const wagroups::Error e = create_group_error(status, envelope(code, "Rate limit hit", "Slow down"));
      CHECK(e.code == ErrorCode::graph_api);
      CHECK(e.graph_code() == code);
      CHECK(e.is_rate_limited());
      CHECK(e.is_retryable());
      CHECK_FALSE(e.is_not_eligible());
    }
  }
  for (int code : {0, 100, 131215, 131201, 131000, 190}) {
    INFO("code " << code);
    CHECK_FALSE(wagroups::is_throttling_code(code));
  }
}

TEST_CASE("issue10 item 5: 131048 is a spam rate limit, classified apart and never retried", "[errors][issue10]") {
  CHECK(codes::spam_rate_limit == 131048);
  CHECK(wagroups::classify_graph_code(131048) == wagroups::GraphCodeClass::spam_rate_limit);
  CHECK_FALSE(wagroups::is_throttling_code(131048));
  // Over HTTP 400 or 429, and even marked transient: not retried, and not "rate limited" either,
  // because waiting seconds does not lift it.
  for (int status : {400, 429}) {
    INFO("HTTP " << status);
    const std::string body = error_with("131048", R"(,"is_transient":true)");
    FakeClient fc;
    fc.transport->enqueue(status, body);
    fc.transport->enqueue(200, R"({"request_id":"R"})");
    wagroups::CallOptions idempotent;
    idempotent.idempotency = wagroups::Idempotency::idempotent;  // even a resendable call
    auto r = fc.client.create_group({"Orders", std::nullopt, std::nullopt}, idempotent);
    REQUIRE_FALSE(r.ok());
    CHECK(fc.transport->request_count() == 1);
    CHECK(r.error().is_spam_rate_limited());
    CHECK_FALSE(r.error().is_retryable());
    CHECK_FALSE(r.error().is_rate_limited());
  }
  // Other codes are not spam limits.
  CHECK_FALSE(create_group_error(429, envelope(131056, "Pair rate limit hit", "x")).is_spam_rate_limited());
}

TEST_CASE("issue10 item 5: 131056 pair rate limit, 131064 and 133016 are classified", "[errors][issue10]") {
  using wagroups::GraphCodeClass;
  CHECK(wagroups::classify_graph_code(131056) == GraphCodeClass::pair_rate_limit);
  CHECK(wagroups::classify_graph_code(131064) == GraphCodeClass::template_violation_limit);
  CHECK(wagroups::classify_graph_code(133016) == GraphCodeClass::registration_limit);
  CHECK(codes::template_violation_limit == 131064);
  CHECK(codes::registration_limit == 133016);
  CHECK(std::string(wagroups::to_string(GraphCodeClass::spam_rate_limit)) == "spam_rate_limit");

  const wagroups::Error pair = create_group_error(400, envelope(131056, "Pair rate limit hit", "Same user"));
  CHECK(pair.is_rate_limited());
  CHECK(pair.is_retryable());
  for (int code : {131064, 133016}) {
    INFO("code " << code);
    const wagroups::Error e = create_group_error(429, envelope(code, "Limit", "Limited"));
    CHECK_FALSE(e.is_retryable());
    CHECK_FALSE(e.is_rate_limited());
  }
  // A read (retried on retryable failures) is sent once for these.
  for (int code : {131048, 131064, 133016}) {
    INFO("code " << code);
    FakeClient fc;
    fc.transport->enqueue(429, envelope(code, "Limit", "Limited"));
    fc.transport->enqueue(200, R"({"id":"G1"})");
    CHECK_FALSE(fc.client.get_group_info({kGroup, {}}).ok());
    CHECK(fc.transport->request_count() == 1);
  }
}

TEST_CASE("temporary server codes are retryable", "[errors]") {
  const std::vector<std::pair<int, int>> temporary = {{1, codes::unknown_error},
                                                      {2, codes::service_unavailable},
                                                      {131000, codes::generic_user_error},
                                                      {131016, codes::service_temporarily_unavailable},
                                                      {133004, codes::cloud_api_unavailable}};
  for (const auto& [code, constant] : temporary) {
    INFO("code " << code);
    CHECK(constant == code);
    const wagroups::Error e = create_group_error(400, envelope(code, "Service unavailable", "Try later"));
    CHECK(e.graph_code() == code);
    CHECK(e.is_retryable());
    CHECK_FALSE(e.is_rate_limited());
  }
}

TEST_CASE("is_transient and unknown codes", "[errors]") {
  SECTION("is_transient true with an unknown code is retryable") {
    const wagroups::Error e = create_group_error(400, error_with("987654", R"(,"is_transient":true)"));
    REQUIRE(e.graph.has_value());
    CHECK(e.graph->is_transient == std::optional<bool>(true));
    CHECK(e.is_retryable());
    CHECK_FALSE(e.is_rate_limited());
  }
  SECTION("is_transient false with an unknown code is not retryable") {
    const wagroups::Error e = create_group_error(400, error_with("987654", R"(,"is_transient":false)"));
    REQUIRE(e.graph.has_value());
    CHECK(e.graph->is_transient == std::optional<bool>(false));
    CHECK_FALSE(e.is_retryable());
  }
  SECTION("a 400 with an unknown code is not retryable") {
    const wagroups::Error e = create_group_error(400, error_with("987654"));
    CHECK(e.graph_code() == 987654);
    CHECK_FALSE(e.graph->is_transient.has_value());
    CHECK_FALSE(e.is_retryable());
    CHECK_FALSE(e.is_rate_limited());
    CHECK_FALSE(e.is_not_eligible());
  }
  SECTION("invalid parameter (100) is not retryable") {
    CHECK_FALSE(create_group_error(400, error_with("100")).is_retryable());
  }
}

TEST_CASE("5xx without a Graph body is a retryable graph_api error", "[errors]") {
  for (int status : {500, 502, 503}) {
    INFO("HTTP " << status);
    const std::string html = "<html><body><h1>" + std::to_string(status) + " Bad Gateway</h1></body></html>";
    const wagroups::Error e = create_group_error(status, html);
    CHECK(e.code == ErrorCode::graph_api);
    CHECK_FALSE(e.graph.has_value());
    CHECK(e.graph_code() == 0);
    CHECK(e.http_status == status);
    CHECK(e.is_retryable());
    CHECK_FALSE(e.is_rate_limited());
    CHECK_FALSE(e.message.empty());
    CHECK_THAT(e.to_string(), ContainsSubstring(std::to_string(status)));
    check_no_token(e);
  }
  SECTION("an empty 503 body too") {
    const wagroups::Error e = create_group_error(503, "");
    CHECK(e.code == ErrorCode::graph_api);
    CHECK_FALSE(e.graph.has_value());
    CHECK(e.http_status == 503);
    CHECK(e.is_retryable());
  }
  SECTION("a 400 without a Graph body is not retryable") {
    const wagroups::Error e = create_group_error(400, "Bad Request");
    CHECK(e.code == ErrorCode::graph_api);
    CHECK_FALSE(e.graph.has_value());
    CHECK_FALSE(e.is_retryable());
  }
}

TEST_CASE("a transport failure is a retryable transport Error", "[errors]") {
  FakeClient fc;
  fc.transport->enqueue_error(wagroups::Error::transport_failure(7, "Couldn't connect to server", false));
  auto r = fc.client.create_group({"Orders", std::nullopt, std::nullopt}, single_attempt());
  REQUIRE_FALSE(r.ok());
  const wagroups::Error& e = r.error();
  CHECK(e.code == ErrorCode::transport);
  CHECK(e.curl_code == 7);
  CHECK_FALSE(e.graph.has_value());
  CHECK(e.http_status == 0);
  CHECK(e.is_retryable());
  CHECK_FALSE(e.is_rate_limited());
  CHECK_FALSE(e.is_not_eligible());
  CHECK(fc.transport->request_count() == 1);
  check_no_token(e);
}

TEST_CASE("drifted error shapes still decode", "[errors]") {
  SECTION("code as a string") {
    const std::string body =
        R"({"error":{"message":"(#131215) Not eligible","type":"OAuthException","code":"131215",)"
        R"("error_data":{"messaging_product":"whatsapp","details":"Check eligibility"},"fbtrace_id":"T1"}})";
    const wagroups::Error e = create_group_error(400, body);
    CHECK(e.graph_code() == 131215);
    CHECK(e.is_not_eligible());
    CHECK_FALSE(e.is_retryable());
    REQUIRE(e.graph.has_value());
    CHECK(e.graph->details == std::optional<std::string>("Check eligibility"));
  }
  SECTION("error_subcode absent") {
    const std::string body =
        R"({"error":{"message":"(#131041) Group unknown","type":"OAuthException","code":131041,)"
        R"("error_data":{"messaging_product":"whatsapp","details":"Not found"},"fbtrace_id":"T2"}})";
    const wagroups::Error e = create_group_error(400, body);
    REQUIRE(e.graph.has_value());
    CHECK(e.graph->code == 131041);
    CHECK_FALSE(e.graph->error_subcode.has_value());
    CHECK(e.graph->fbtrace_id == std::optional<std::string>("T2"));
  }
  SECTION("is_transient as the string \"true\"") {
    const wagroups::Error e = create_group_error(400, error_with("424242", R"(,"is_transient":"true")"));
    REQUIRE(e.graph.has_value());
    CHECK(e.graph->is_transient == std::optional<bool>(true));
    CHECK(e.is_retryable());
  }
  SECTION("error_subcode as a string") {
    const wagroups::Error e = create_group_error(400, error_with("131041", R"(,"error_subcode":"2494055")"));
    REQUIRE(e.graph.has_value());
    CHECK(e.graph->error_subcode == std::optional<int>(kSubcode));
  }
  SECTION("extra unknown fields, error_user_title/msg, no error_data") {
    const std::string body =
        R"({"error":{"message":"(#131209) Invalid Group Profile Picture Aspect Ratio","type":"GraphMethodException",)"
        R"("code":131209,"is_transient":false,"error_user_title":"Picture not square",)"
        R"("error_user_msg":"Use a square picture","new_field":{"nested":[1,2,{"x":null}]},"another":7.5,)"
        R"("fbtrace_id":"T3"},"top_level_extra":"ignored"})";
    const wagroups::Error e = create_group_error(400, body);
    REQUIRE(e.graph.has_value());
    CHECK(e.graph->code == 131209);
    CHECK(e.graph->type == "GraphMethodException");
    CHECK(e.graph->error_user_title == std::optional<std::string>("Picture not square"));
    CHECK(e.graph->error_user_msg == std::optional<std::string>("Use a square picture"));
    CHECK_FALSE(e.graph->details.has_value());
    CHECK(e.graph->fbtrace_id == std::optional<std::string>("T3"));
    CHECK_FALSE(e.is_retryable());
  }
}

TEST_CASE("HTTP 429 without a Graph body is a rate limit", "[errors]") {
  const wagroups::Error e = create_group_error(429, "Too Many Requests");
  CHECK(e.code == ErrorCode::graph_api);
  CHECK_FALSE(e.graph.has_value());
  CHECK(e.is_rate_limited());
  CHECK(e.is_retryable());
}

// Graph's "Malformed access token <token>" answer (code 190) quotes the token it was given; the
// client redacts it from every part of the Error.
TEST_CASE("an access token echoed by Graph does not end up in the Error", "[errors]") {
  const std::string body = std::string(R"({"error":{"message":"Malformed access token )") + kToken +
                           R"(","type":"OAuthException","code":190,"fbtrace_id":"AbCdEf123"}})";
  const wagroups::Error e = create_group_error(401, body);
  CHECK(e.code == ErrorCode::graph_api);
  CHECK(e.graph_code() == 190);
  CHECK_FALSE(e.is_retryable());
  INFO("message: " << e.message);
  check_no_token(e);
  REQUIRE(e.graph.has_value());
  CHECK(e.graph->message.find(kToken) == std::string::npos);
  CHECK(std::string(wagroups::BadResultAccess(e).what()).find(kToken) == std::string::npos);
}
