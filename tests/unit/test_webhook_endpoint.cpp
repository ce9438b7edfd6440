// WebhookEndpoint: the statuses Meta sees for every kind of request, and that 200 means "handled".

#include <string>

#include <catch2/catch_test_macros.hpp>

#include "wagroups/tickets.hpp"
#include "wagroups/webhook.hpp"

using namespace wagroups;

namespace {

const char* const kSecret = "endpoint-test-secret";
const char* const kToken = "endpoint-test-token";

// A group_create lifecycle webhook, in the documented shape (reference §4).
std::string group_created_body(const std::string& group_id, const std::string& request_id) {
  return R"({"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":)"
         R"("group_lifecycle_update","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":)"
         R"("15550783881","phone_number_id":"106540352242922"},"groups":[{"timestamp":"1735689600","group_id":")" +
         group_id + R"(","type":"group_create","request_id":")" + request_id +
         R"(","subject":"Order 1042","invite_link":"https://chat.whatsapp.com/LINK1"}]}}]}]})";
}

WebhookEndpoint make_endpoint(std::size_t max_body_bytes = WebhookLimits{}.max_body_bytes) {
  WebhookEndpointOptions options;
  options.app_secret = kSecret;
  options.verify_token = kToken;
  options.limits.max_body_bytes = max_body_bytes;
  return WebhookEndpoint(options);
}

// A store whose every unit fails, as a database that is down would.
class BrokenStore final : public TicketStore {
 public:
  Result<void> transact(const std::function<Result<void>(TicketTransaction&)>&) override { return down(); }
  Result<std::optional<StoredTicket>> load(const std::string&) override { return down(); }
  Result<std::optional<std::string>> find_by_group(const std::string&) override { return down(); }
  Result<std::optional<std::string>> find_by_request(const std::string&) override { return down(); }
  Result<std::vector<StoredTicket>> list(const TicketQuery&) override { return down(); }

 private:
  static Error down() {
    Error e;
    e.code = ErrorCode::storage;
    e.message = "the database is down";
    return e;
  }
};

}  // namespace

TEST_CASE("the endpoint answers the subscription handshake with the challenge, or 403") {
  const WebhookEndpoint endpoint = make_endpoint();
  const WebhookResponse ok = endpoint.handle_get("subscribe", kToken, "1158201444");
  CHECK(ok.http_status == 200);
  CHECK(ok.body == "1158201444");
  CHECK_FALSE(ok.error);

  const WebhookResponse wrong_token = endpoint.handle_get("subscribe", "guess", "1158201444");
  CHECK(wrong_token.http_status == 403);
  CHECK(wrong_token.body.empty());
  REQUIRE(wrong_token.error);
  CHECK(wrong_token.error->code == ErrorCode::unauthenticated);
  CHECK(wrong_token.error->to_string().find(kToken) == std::string::npos);

  CHECK(endpoint.handle_get("unsubscribe", kToken, "1").http_status == 403);
  CHECK(endpoint.handle_get("subscribe", kToken, "").http_status == 403);
}

TEST_CASE("an endpoint without a verify token refuses every handshake") {
  WebhookEndpointOptions options;
  options.app_secret = kSecret;
  const WebhookEndpoint endpoint(options);
  CHECK(endpoint.handle_get("subscribe", "", "1").http_status == 403);
}

TEST_CASE("a signed POST is answered 200 with its events") {
  const WebhookEndpoint endpoint = make_endpoint();
  const std::string body = group_created_body("120363400000000001", "req-1");
  const WebhookResponse r = endpoint.handle_post(body, compute_signature(body, kSecret));
  CHECK(r.http_status == 200);
  CHECK(r.ok());
  CHECK_FALSE(r.error);
  REQUIRE(r.batch.events.size() == 1);
  REQUIRE(std::holds_alternative<GroupCreated>(r.batch.events[0]));
  CHECK(std::get<GroupCreated>(r.batch.events[0]).group_id == "120363400000000001");
}

TEST_CASE("a POST with a missing or wrong signature is answered 401 and never parsed") {
  const WebhookEndpoint endpoint = make_endpoint();
  const std::string body = group_created_body("120363400000000001", "req-1");
  for (const std::string& header :
       {std::string(), compute_signature(body, "another-secret"), std::string("sha256=zz")}) {
    const WebhookResponse r = endpoint.handle_post(body, header);
    CHECK(r.http_status == 401);
    CHECK(r.batch.events.empty());
    REQUIRE(r.error);
    CHECK(r.error->code == ErrorCode::unauthenticated);
    CHECK(r.error->to_string().find(kSecret) == std::string::npos);
  }
}

TEST_CASE("a signed POST that is not a webhook envelope is answered 400") {
  const WebhookEndpoint endpoint = make_endpoint();
  for (const std::string& body : {std::string("not json"), std::string("[]"), std::string(R"({"entry":{}})")}) {
    const WebhookResponse r = endpoint.handle_post(body, compute_signature(body, kSecret));
    CHECK(r.http_status == 400);
    REQUIRE(r.error);
    CHECK(r.error->code == ErrorCode::decode);
  }
}

TEST_CASE("a POST over the size limit is answered 413, signed or not") {
  const std::string body = group_created_body("120363400000000001", "req-1");
  const WebhookEndpoint endpoint = make_endpoint(body.size() - 1);
  CHECK(endpoint.handle_post(body, compute_signature(body, kSecret)).http_status == 413);
  CHECK(endpoint.handle_post(body, "sha256=00").http_status == 413);
  const WebhookEndpoint roomy = make_endpoint(body.size());
  CHECK(roomy.handle_post(body, compute_signature(body, kSecret)).http_status == 200);
}

TEST_CASE("a signed body with more events than allowed is a 400, not a 413") {
  const std::string body = group_created_body("120363400000000001", "req-1");
  WebhookEndpointOptions options;
  options.app_secret = kSecret;
  options.limits.max_events = 0;
  const WebhookEndpoint endpoint(options);
  const WebhookResponse r = endpoint.handle_post(body, compute_signature(body, kSecret));
  CHECK(r.http_status == 400);
  REQUIRE(r.error);
  CHECK(r.error->code == ErrorCode::decode);
}

TEST_CASE("a failing handler turns the answer into a 5xx so that Meta redelivers") {
  const WebhookEndpoint endpoint = make_endpoint();
  const std::string body = group_created_body("120363400000000001", "req-1");
  const std::string signature = compute_signature(body, kSecret);
  int calls = 0;
  auto failing_with = [&](int http_status) {
    return [&calls, http_status](const WebhookBatch& batch) -> Result<void> {
      ++calls;
      CHECK(batch.events.size() == 1);
      Error e;
      e.code = ErrorCode::storage;
      e.http_status = http_status;
      e.message = "handler failed";
      return e;
    };
  };
  CHECK(endpoint.handle_post(body, signature, failing_with(0)).http_status == 500);
  CHECK(endpoint.handle_post(body, signature, failing_with(503)).http_status == 503);
  CHECK(endpoint.handle_post(body, signature, failing_with(404)).http_status == 500);  // never a 4xx
  CHECK(calls == 3);
  // Whatever the ErrorCode: a store that reads a corrupt row fails with decode or invalid_argument,
  // which must not reach Meta as a 4xx.
  for (const ErrorCode code : {ErrorCode::decode, ErrorCode::invalid_argument, ErrorCode::unauthenticated,
                               ErrorCode::conflict, ErrorCode::unsupported}) {
    const WebhookResponse r = endpoint.handle_post(body, signature, [code](const WebhookBatch&) -> Result<void> {
      Error e;
      e.code = code;
      e.field = "body";
      e.limit = "at most 1 bytes";
      e.message = "stored ticket unreadable";
      return e;
    });
    CHECK(r.http_status == 500);
  }
  // A refused body never reaches the handler.
  CHECK(endpoint.handle_post(body, "sha256=00", failing_with(0)).http_status == 401);
  CHECK(calls == 3);
  const WebhookResponse handled =
      endpoint.handle_post(body, signature, [](const WebhookBatch&) -> Result<void> { return {}; });
  CHECK(handled.http_status == 200);
}

TEST_CASE("applied to tickets, 200 means the store committed; a store failure is a 500 with nothing applied") {
  const WebhookEndpoint endpoint = make_endpoint();
  const std::string body = group_created_body("120363400000000002", "req-2");
  const std::string signature = compute_signature(body, kSecret);

  InMemoryTicketStore store;
  TicketAggregator tickets(store);
  const WebhookResponse r = endpoint.handle_post(body, signature, tickets);
  CHECK(r.http_status == 200);
  REQUIRE(r.applied);
  CHECK(r.applied->changed_anything());
  const auto id = store.find_by_group("120363400000000002");
  REQUIRE(id.ok());
  REQUIRE(id->has_value());

  // Redelivered: still 200, and the aggregator reports the duplicate.
  const WebhookResponse again = endpoint.handle_post(body, signature, tickets);
  CHECK(again.http_status == 200);
  REQUIRE(again.applied);
  CHECK_FALSE(again.applied->changed_anything());

  BrokenStore broken;
  TicketAggregator broken_tickets(broken);
  const WebhookResponse failed = endpoint.handle_post(body, signature, broken_tickets);
  CHECK(failed.http_status == 500);
  CHECK_FALSE(failed.applied);
  REQUIRE(failed.error);
  CHECK(failed.error->code == ErrorCode::storage);
}
