// Issue 10 item 10: a verified body the parser refuses is kept as a dead letter and answered 200;
// a sink that fails makes it a 5xx (Meta redelivers); an unverified body is never kept.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "wagroups/tickets.hpp"
#include "wagroups/webhook.hpp"

using namespace wagroups;

namespace {

const char* const kSecret = "dead-letter-test-secret";

// Verified by its signature, refused by the parser: an envelope whose `entry` is not an array.
const std::string kUnparsable = R"({"object":"whatsapp_business_account","entry":{"id":"1"}})";

std::string group_created_body(const std::string& group_id) {
  return R"({"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":)"
         R"("group_lifecycle_update","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":)"
         R"("15550783881","phone_number_id":"106540352242922"},"groups":[{"timestamp":"1735689600","group_id":")" +
         group_id + R"(","type":"group_create","request_id":"req-9","subject":"Order 9"}]}}]}]})";
}

WebhookEndpoint endpoint_with(DeadLetterSink sink) {
  WebhookEndpointOptions options;
  options.app_secret = kSecret;
  options.dead_letters = std::move(sink);
  return WebhookEndpoint(options);
}

Error storage_down() {
  Error e;
  e.code = ErrorCode::storage;
  e.message = "the dead-letter table is down";
  return e;
}

}  // namespace

TEST_CASE("issue10 item 10: a verified body the parser refuses goes to the sink and is answered 200",
          "[webhook][issue10][dead_letter]") {
  std::vector<DeadLetter> kept;
  const WebhookEndpoint endpoint = endpoint_with([&kept](const DeadLetter& letter) -> Result<void> {
    kept.push_back(letter);
    return {};
  });
  // Invalid JSON, a wrong envelope, and bytes that are not UTF-8: each kept byte for byte.
  const std::vector<std::string> bodies = {kUnparsable, "not json at all", std::string("{\"a\":\"\xC0\xAF\"}"),
                                           std::string("{\"x\":1}\0trailing", 16)};
  for (const std::string& body : bodies) {
    CAPTURE(body);
    const WebhookResponse r = endpoint.handle_post(body, compute_signature(body, kSecret));
    CHECK(r.http_status == 200);
    CHECK(r.dead_lettered);
    CHECK(r.batch.events.empty());
    REQUIRE(r.error);
    CHECK(r.error->code == ErrorCode::decode);
    REQUIRE_FALSE(kept.empty());
    CHECK(kept.back().body == body);
    CHECK(kept.back().error.code == ErrorCode::decode);
    CHECK(kept.back().error.message == r.error->message);
    CHECK_FALSE(kept.back().error.field.empty());
    CHECK(kept.back().received_at > 1700000000);  // set from the clock
  }
  CHECK(kept.size() == bodies.size());
  // A body that parses never reaches the sink.
  const std::string good = group_created_body("120363400000000011");
  const WebhookResponse ok = endpoint.handle_post(good, compute_signature(good, kSecret));
  CHECK(ok.http_status == 200);
  CHECK_FALSE(ok.dead_lettered);
  CHECK(ok.batch.events.size() == 1);
  CHECK(kept.size() == bodies.size());
}

TEST_CASE("issue10 item 10: a failing dead-letter sink makes it a 5xx, so that Meta redelivers",
          "[webhook][issue10][dead_letter]") {
  int calls = 0;
  const WebhookEndpoint endpoint = endpoint_with([&calls](const DeadLetter&) -> Result<void> {
    ++calls;
    return storage_down();
  });
  const WebhookResponse r = endpoint.handle_post(kUnparsable, compute_signature(kUnparsable, kSecret));
  CHECK(r.http_status == 500);
  CHECK_FALSE(r.dead_lettered);
  REQUIRE(r.error);
  CHECK(r.error->code == ErrorCode::storage);
  CHECK(r.error->message.find("not kept as a dead letter") != std::string::npos);
  CHECK(calls == 1);

  // The sink's own 5xx is kept; a 4xx is not (Meta must redeliver).
  const WebhookEndpoint busy = endpoint_with([](const DeadLetter&) -> Result<void> {
    Error e = storage_down();
    e.http_status = 503;
    return e;
  });
  CHECK(busy.handle_post(kUnparsable, compute_signature(kUnparsable, kSecret)).http_status == 503);
  const WebhookEndpoint odd = endpoint_with([](const DeadLetter&) -> Result<void> {
    Error e = storage_down();
    e.http_status = 404;
    return e;
  });
  CHECK(odd.handle_post(kUnparsable, compute_signature(kUnparsable, kSecret)).http_status == 500);

  // A sink that declines (a store without dead letters) leaves the old answer: 400.
  const WebhookEndpoint declines = endpoint_with(
      [](const DeadLetter&) -> Result<void> { return Error::unsupported("dead_letters", "not kept here"); });
  const WebhookResponse refused = declines.handle_post(kUnparsable, compute_signature(kUnparsable, kSecret));
  CHECK(refused.http_status == 400);
  REQUIRE(refused.error);
  CHECK(refused.error->code == ErrorCode::decode);
}

TEST_CASE("issue10 item 10: an unverified body is answered 401 and never dead-lettered",
          "[webhook][issue10][dead_letter]") {
  int calls = 0;
  const WebhookEndpoint endpoint = endpoint_with([&calls](const DeadLetter&) -> Result<void> {
    ++calls;
    return {};
  });
  for (const std::string& signature :
       {std::string(), std::string("sha256=00"), compute_signature(kUnparsable, "another-secret"),
        std::string("sha1=") + std::string(40, 'a')}) {
    const WebhookResponse r = endpoint.handle_post(kUnparsable, signature);
    CHECK(r.http_status == 401);
    CHECK_FALSE(r.dead_lettered);
  }
  CHECK(calls == 0);

  // Nor does the aggregator's store see one.
  InMemoryTicketStore store;
  TicketAggregator tickets(store);
  WebhookEndpointOptions options;
  options.app_secret = kSecret;
  const WebhookEndpoint plain(options);
  CHECK(plain.handle_post(kUnparsable, "sha256=" + std::string(64, '0'), tickets).http_status == 401);
  auto letters = store.dead_letters({});
  REQUIRE(letters.ok());
  CHECK(letters->empty());
}

TEST_CASE("issue10 item 10: with a TicketAggregator the body is kept in the aggregator's store",
          "[webhook][issue10][dead_letter]") {
  InMemoryTicketStore store;
  TicketAggregator tickets(store);
  WebhookEndpointOptions options;
  options.app_secret = kSecret;
  const WebhookEndpoint endpoint(options);
  // Before issue 10 this answered 400 and the body was gone.
  const WebhookResponse r = endpoint.handle_post(kUnparsable, compute_signature(kUnparsable, kSecret), tickets);
  CHECK(r.http_status == 200);
  CHECK(r.dead_lettered);
  CHECK_FALSE(r.applied);
  auto letters = store.dead_letters({});
  REQUIRE(letters.ok());
  REQUIRE(letters->size() == 1);
  CHECK(letters->front().body == kUnparsable);
  CHECK(letters->front().id > 0);
  CHECK(letters->front().error.code == ErrorCode::decode);
  CHECK(letters->front().error.field == "entry");

  // A store that keeps no dead letters (the TicketStore defaults): 400, as before.
  class NoDeadLetters final : public TicketStore {
   public:
    explicit NoDeadLetters(TicketStore& inner) : inner_(inner) {}
    Result<void> transact(const std::function<Result<void>(TicketTransaction&)>& work) override {
      return inner_.transact(work);
    }
    Result<std::optional<StoredTicket>> load(const std::string& id) override { return inner_.load(id); }
    Result<std::optional<std::string>> find_by_group(const std::string& id) override {
      return inner_.find_by_group(id);
    }
    Result<std::optional<std::string>> find_by_request(const std::string& id) override {
      return inner_.find_by_request(id);
    }
    Result<std::vector<StoredTicket>> list(const TicketQuery& q) override { return inner_.list(q); }

   private:
    TicketStore& inner_;
  };
  InMemoryTicketStore backing;
  NoDeadLetters host_store(backing);
  TicketAggregator host_tickets(host_store);
  CHECK(host_store.dead_letters({}).error().code == ErrorCode::unsupported);
  const WebhookResponse old_way =
      endpoint.handle_post(kUnparsable, compute_signature(kUnparsable, kSecret), host_tickets);
  CHECK(old_way.http_status == 400);
  CHECK_FALSE(old_way.dead_lettered);

  // An explicit sink wins over the store.
  int calls = 0;
  options.dead_letters = [&calls](const DeadLetter&) -> Result<void> {
    ++calls;
    return {};
  };
  const WebhookEndpoint with_sink(options);
  CHECK(with_sink.handle_post(kUnparsable, compute_signature(kUnparsable, kSecret), tickets).http_status == 200);
  CHECK(calls == 1);
  CHECK(store.dead_letters({})->size() == 1);
}

TEST_CASE("issue10 item 10: the in-memory store keeps dead letters newest first, within its bounds",
          "[tickets][issue10][dead_letter]") {
  InMemoryTicketStore store;
  auto letter = [](std::string body) {
    DeadLetter d;
    d.received_at = 1760000000;
    d.body = std::move(body);
    d.error = Error::malformed_webhook("body", "strict JSON (RFC 8259)", "webhook body: invalid JSON");
    return d;
  };
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    auto id = store.add_dead_letter(letter(std::string(10, static_cast<char>('a' + i))));
    REQUIRE(id.ok());
    ids.push_back(*id);
  }
  for (std::size_t i = 1; i < ids.size(); ++i) CHECK(ids[i] > ids[i - 1]);
  auto all = store.dead_letters({});
  REQUIRE(all.ok());
  REQUIRE(all->size() == 5);
  CHECK(all->front().id == ids.back());
  CHECK(all->front().body == std::string(10, 'e'));
  CHECK(all->front().error.limit == "strict JSON (RFC 8259)");
  DeadLetterQuery older;
  older.before_id = ids[3];
  older.limit = 2;
  auto page = store.dead_letters(older);
  REQUIRE(page->size() == 2);
  CHECK(page->at(0).id == ids[2]);
  CHECK(page->at(1).id == ids[1]);

  // Bounds: by count, then by bytes (the newest always stays).
  store.set_dead_letter_limits({3, 0});
  CHECK(store.dead_letters({})->size() == 3);
  CHECK(store.dead_letters({})->back().id == ids[2]);
  store.set_dead_letter_limits({0, 25});
  CHECK(store.dead_letters({})->size() == 2);
  store.set_dead_letter_limits({0, 1});
  REQUIRE(store.dead_letters({})->size() == 1);
  CHECK(store.dead_letters({})->front().id == ids[4]);

  CHECK(*store.erase_dead_letter(ids[4]));
  CHECK_FALSE(*store.erase_dead_letter(ids[4]));
  CHECK(store.dead_letters({})->empty());
}
