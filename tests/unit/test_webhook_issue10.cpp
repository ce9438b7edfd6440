// Issue 10, the webhook path: valid JSON is never refused (item 10), statuses in the spec's shape
// (item 5), and a failed HMAC fails closed (item 11). The dead-letter tests are in
// test_webhook_dead_letters.cpp.

#include <optional>
#include <string>
#include <variant>

#include <catch2/catch_test_macros.hpp>

#include "wagroups/tickets.hpp"
#include "wagroups/webhook.hpp"
#include "webhook/signature_testing.hpp"
#include "webhook_events_support.hpp"

using namespace webhook_events_test;

namespace {

std::string text_message(const std::string& id, const std::string& escaped_text) {
  return R"({"from":"16505551234","id":")" + id +
         R"(","timestamp":"1760000000","type":"text",)"
         R"("group_id":")" +
         kJid + R"(","text":{"body":")" + escaped_text + R"("}})";
}

}  // namespace

TEST_CASE("issue10 item 10: a \\u0000 escape in one message's text keeps the whole batch", "[webhook][issue10]") {
  const std::string contact = R"({"profile":{"name":"Ana"},"wa_id":"16505551234"})";
  const std::string body = envelope(
      kMessages, messages_value(contact, text_message("wamid.A", "before") + "," +
                                             text_message("wamid.B", R"(a\u0000b and more text after it \u0000)") +
                                             "," + text_message("wamid.C", "after")));
  const WebhookBatch batch = parse_ok(body);
  REQUIRE(batch.events.size() == 3);
  CHECK(event_at<GroupMessageReceived>(batch, 0).text == Text("before"));
  CHECK(event_at<GroupMessageReceived>(batch, 1).text == Text(std::string("a\0b and more text after it \0", 28)));
  CHECK(event_at<GroupMessageReceived>(batch, 2).text == Text("after"));
}

TEST_CASE("issue10 item 10: a raw NUL byte in a string is still refused", "[webhook][issue10]") {
  const std::string contact = R"({"profile":{"name":"Ana"},"wa_id":"16505551234"})";
  const std::string body =
      envelope(kMessages, messages_value(contact, text_message("wamid.A", std::string("a\0b", 3))));
  auto parsed = WebhookParser().parse(body);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().code == ErrorCode::decode);
  CHECK(parsed.error().limit == "strict JSON (RFC 8259)");
  CHECK(parsed.error().message.find("NUL byte") != std::string::npos);
}

TEST_CASE(
    "issue10 item 5: a status in the spec's shape (group_id, the participant in recipient_id) maps the "
    "participant",
    "[webhook][issue10]") {
  // OpenAPI (S14) `Statuses`: `recipient_id` "Recipient phone number", `group_id` "Group ID if the
  // message was sent to a group"; no recipient_participant_id.
  const std::string contacts = R"({"profile":{"name":"Bea"},"wa_id":"16505550002"})";
  const std::string statuses =
      R"({"id":"wamid.S1","status":"delivered","timestamp":"1760000100","recipient_id":"16505550002",)"
      R"("group_id":")" +
      kJid +
      R"("},)"
      R"({"id":"wamid.S1","status":"read","timestamp":"1760000200","recipient_id":"16505550003",)"
      R"("recipient_user_id":"US.13491208655302741918","group_id":")" +
      kJid +
      R"("},)"
      // The group-wide `sent` of the same shape names the group twice: no participant.
      R"({"id":"wamid.S1","status":"sent","timestamp":"1760000000","recipient_id":")" +
      kJid + R"(","group_id":")" + kJid + R"("})";
  const WebhookBatch batch = parse_ok(envelope(kMessages, statuses_value(statuses, contacts)));
  REQUIRE(batch.events.size() == 3);
  const auto& delivered = event_at<GroupMessageStatus>(batch, 0);
  CHECK(delivered.group_id == Text(kJid));
  CHECK(delivered.recipient_participant_id == Text("16505550002"));
  CHECK(delivered.recipient_id == Text("16505550002"));  // as sent
  CHECK(delivered.contact_name == Text("Bea"));          // matched through the participant
  CHECK(delivered.delivery_status == DeliveryStatus::delivered);
  const auto& read = event_at<GroupMessageStatus>(batch, 1);
  CHECK(read.recipient_participant_id == Text("16505550003"));
  CHECK(read.recipient_participant_user_id == Text("US.13491208655302741918"));
  const auto& sent = event_at<GroupMessageStatus>(batch, 2);
  CHECK(sent.group_id == Text(kJid));
  CHECK(sent.recipient_participant_id == Text());

  // The documented shapes are unchanged: recipient_id is the group, the participant named apart.
  const std::string documented = R"({"id":"wamid.S2","status":"read","timestamp":"1760000300","recipient_id":")" +
                                 kJid +
                                 R"(","recipient_type":"group","recipient_participant_id":"16505550004"},)"
                                 R"({"id":"wamid.S2","status":"read","timestamp":"1760000300","recipient_id":")" +
                                 kJid + R"(","group_id":")" + kJid + R"(","participant_recipient_id":"16505550005"})";
  const WebhookBatch doc = parse_ok(envelope(kMessages, statuses_value(documented)));
  REQUIRE(doc.events.size() == 2);
  CHECK(event_at<GroupMessageStatus>(doc, 0).recipient_participant_id == Text("16505550004"));
  CHECK(event_at<GroupMessageStatus>(doc, 0).group_id == Text(kJid));
  CHECK(event_at<GroupMessageStatus>(doc, 1).recipient_participant_id == Text("16505550005"));
}

namespace {

// Turns the OpenSSL failure seam on for one scope.
struct CryptoFails {
  CryptoFails() { wagroups::webhook::fail_crypto_for_testing(true); }
  ~CryptoFails() { wagroups::webhook::fail_crypto_for_testing(false); }
  CryptoFails(const CryptoFails&) = delete;
  CryptoFails& operator=(const CryptoFails&) = delete;
};

const char* const kSecret = "issue10-secret-never-shown";
const std::string kLongSecret(100, 'k');  // hashed into the key block: one more OpenSSL call

void require_fails_closed(const Result<void>& r, const std::string& secret) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::unauthenticated);
  CHECK(r.error().auth_failure == AuthFailure::crypto_failure);
  CHECK(r.error().http_status == 500);
  CHECK(r.error().to_string().find(secret) == std::string::npos);
  CHECK(r.error().to_string().find("OpenSSL") != std::string::npos);
}

}  // namespace

TEST_CASE("issue10 item 11: a failed HMAC fails closed, with a clear error and no secret", "[webhook][issue10]") {
  const std::string body = R"({"object":"whatsapp_business_account","entry":[]})";
  for (const std::string& secret : {std::string(kSecret), kLongSecret}) {
    CAPTURE(secret.size());
    const SignatureVerifier verifier(secret);
    const std::string good = verifier.sign(body);
    REQUIRE(verifier.verify(body, good).ok());
    {
      const CryptoFails fails;
      // The right signature: not "valid" when the HMAC could not be computed.
      require_fails_closed(verifier.verify(body, good), secret);
      require_fails_closed(verify_signature(body, good, secret), secret);
      CHECK(verifier.sign(body).empty());
      CHECK(compute_signature(body, secret).empty());
      // A verifier keyed while OpenSSL fails stays unusable afterwards.
    }
    CHECK(verifier.verify(body, good).ok());  // the seam off: verifies again
  }
  std::optional<SignatureVerifier> broken;
  {
    const CryptoFails fails;
    broken.emplace(kLongSecret);
  }
  require_fails_closed(broken->verify(body, SignatureVerifier(kLongSecret).sign(body)), kLongSecret);
  const SignatureVerifier copied(*broken);
  require_fails_closed(copied.verify(body, SignatureVerifier(kLongSecret).sign(body)), kLongSecret);
}

TEST_CASE("issue10 item 11: the handshake and the endpoint fail closed too", "[webhook][issue10]") {
  const std::string token = "issue10-verify-token";
  {
    const CryptoFails fails;
    auto echoed = verify_subscription("subscribe", token, "123", token);
    REQUIRE_FALSE(echoed.ok());
    CHECK(echoed.error().auth_failure == AuthFailure::crypto_failure);
    CHECK(echoed.error().to_string().find(token) == std::string::npos);
  }
  CHECK(verify_subscription("subscribe", token, "123", token).ok());

  int sunk = 0;
  WebhookEndpointOptions options;
  options.app_secret = kSecret;
  options.verify_token = token;
  options.dead_letters = [&sunk](const DeadLetter&) -> Result<void> {
    ++sunk;
    return {};
  };
  const WebhookEndpoint endpoint(options);
  const std::string body = "not json";  // would be dead-lettered if it verified
  const std::string signature = compute_signature(body, kSecret);
  {
    const CryptoFails fails;
    const WebhookResponse r = endpoint.handle_post(body, signature);
    CHECK(r.http_status == 500);  // this host's fault: Meta redelivers
    REQUIRE(r.error);
    CHECK(r.error->auth_failure == AuthFailure::crypto_failure);
    CHECK(endpoint.handle_get("subscribe", token, "42").http_status == 403);
  }
  CHECK(sunk == 0);
  CHECK(endpoint.handle_post(body, signature).http_status == 200);
  CHECK(sunk == 1);
}

TEST_CASE("issue10 item 10: message text with U+0000 round-trips through the in-memory store and to_json",
          "[webhook][issue10][tickets]") {
  const std::string contact = R"({"profile":{"name":"Ana"},"wa_id":"16505551234"})";
  const std::string body =
      envelope(kMessages, messages_value(contact, text_message("wamid.Z1", R"(\u0000 at the start, x\u0000y)")));
  const WebhookBatch batch = parse_ok(body);
  const std::string expected("\0 at the start, x\0y", 19);
  InMemoryTicketStore store;
  TicketAggregator tickets(store);
  REQUIRE(tickets.apply(batch).ok());
  auto id = store.find_by_group(kJid);
  REQUIRE(id.ok());
  REQUIRE(id->has_value());
  auto loaded = store.load(**id);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  const Ticket& ticket = (*loaded)->ticket;
  REQUIRE(ticket.timeline.size() == 1);
  CHECK(ticket.timeline[0].text == Text(expected));
  // The ticket's JSON (what SqliteTicketStore stores) escapes it and reads it back.
  const std::string json = to_json(ticket);
  CHECK(json.find(std::string(1, '\0')) == std::string::npos);
  CHECK(json.find("\\u0000") != std::string::npos);
  auto back = ticket_from_json(json);
  REQUIRE(back.ok());
  REQUIRE(back->timeline.size() == 1);
  CHECK(back->timeline[0].text == Text(expected));
}
