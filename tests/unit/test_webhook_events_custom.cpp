// Acceptance tests for the typed webhook events (include/wagroups/webhook_events.hpp), written
// against the public contract, host decoders for fields the SDK does not model. The fixtures are
// the strict JSON that travels on the wire (tests/data/webhooks; Meta's samples have trailing
// commas, comments and a misplaced `initiated_by`; these do not), with values of our own. Each test
// asserts the variant, the count and every modelled field, and that absent optional fields stay
// unset. Shared helpers: webhook_events_support.hpp.

#include <any>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include "json/rapidjson.hpp"
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "test_support.hpp"
#include "wagroups/webhook.hpp"
#include "wagroups/webhook/events.hpp"
#include "wagroups/graph_codes.hpp"
#include "webhook_events_support.hpp"
#include "webhook_test_support.hpp"

using namespace wagroups;
using namespace webhook_events_test;
using wagroups_test::kUnset;
using wagroups_test::person;
using wagroups_test::raw_of;
using wagroups_test::shown;
using wagroups_test::Text;

// =============================================================================================
// Host decoders for fields the SDK does not model

namespace {

struct AccountNotice {
  std::string event;
  Text restriction_type;
};

}  // namespace

TEST_CASE("webhook events: a registered decoder turns account_update into CustomEvents", "[webhook][events][custom]") {
  int calls = 0;
  WebhookParser parser;
  parser.register_decoder(
      "account_update", [&calls](const WebhookContext& context, const RawJson& value) -> Result<std::vector<std::any>> {
        ++calls;
        CHECK(context.field == "account_update");
        CHECK(context.waba_id == kWaba);
        AccountNotice notice;
        notice.event = value.get("event").value_or("");
        notice.restriction_type = value.get("phone_number");
        return std::vector<std::any>{notice, std::string("second item")};
      });
  // One body with the custom field between two typed changes: the others are unaffected.
  const std::string body =
      R"json({"object": "whatsapp_business_account", "entry": [{"id": "213456789012345", "changes": [
    {"field": "group_status_update", "value": )json" +
      groups_value(R"json({"timestamp": "1751312000",
      "type": "group_suspend", "group_id": "120363298765432101@g.us"})json") +
      R"json(},
    {"field": "account_update", "value": )json" +
      account_update_value() + R"json(},
    {"field": "message_template_status_update", "value": )json" +
      template_status_value() + R"json(}]}]})json";
  const auto batch = parse_ok(body, parser);
  CHECK(calls == 1);
  REQUIRE(batch.events.size() == 4);
  CHECK(std::holds_alternative<GroupSuspended>(batch.events[0]));
  const auto& custom = event_at<CustomEvent>(batch, 1);
  CHECK(std::string(kind_of(batch.events[1])) == "custom");
  CHECK(custom.context.field == "account_update");
  CHECK(custom.context.waba_id == kWaba);
  CHECK(custom.context.change_index == 1);
  CHECK(custom.context.item_index == 0);
  const auto* notice = std::any_cast<AccountNotice>(&custom.payload);
  REQUIRE(notice != nullptr);
  CHECK(notice->event == "ACCOUNT_RESTRICTION");
  CHECK(shown(notice->restriction_type) == shown("15557654321"));
  CHECK(wagroups_test::json_equal(custom.raw.str(), account_update_value()));
  CHECK(shown(group_id_of(batch.events[1])) == kUnset);
  CHECK(shown(request_id_of(batch.events[1])) == kUnset);
  CHECK(&context_of(batch.events[1]) == &custom.context);
  // Each returned item is its own event.
  const auto& second = event_at<CustomEvent>(batch, 2);
  CHECK(second.context.field == "account_update");
  CHECK(second.context.item_index == 1);
  const auto* text = std::any_cast<std::string>(&second.payload);
  REQUIRE(text != nullptr);
  CHECK(*text == "second item");
  // A field without a decoder is still an UnknownEvent.
  const auto& other = event_at<UnknownEvent>(batch, 3);
  CHECK(other.context.field == "message_template_status_update");
  // The default parser still makes an UnknownEvent of account_update.
  const auto plain = parse_ok(envelope("account_update", account_update_value()));
  CHECK(std::holds_alternative<UnknownEvent>(plain.events.at(0)));
}

TEST_CASE("webhook events: a decoder may take over a field the SDK knows", "[webhook][events][custom]") {
  WebhookParser parser;
  parser.register_decoder(kStatus, [](const WebhookContext&, const RawJson& value) -> Result<std::vector<std::any>> {
    return std::vector<std::any>{value.at("metadata").get("phone_number_id").value_or("?")};
  });
  const auto batch = parse_ok(suspend_body("group_suspend", "1751312100"), parser);
  const auto& e = single<CustomEvent>(batch);
  CHECK(e.context.field == kStatus);
  const auto* phone = std::any_cast<std::string>(&e.payload);
  REQUIRE(phone != nullptr);
  CHECK(*phone == kPhoneId);
}

TEST_CASE("webhook events: a decoder that returns an error rejects the whole body", "[webhook][events][custom]") {
  WebhookParser parser;
  parser.register_decoder("account_update", [](const WebhookContext&, const RawJson&) -> Result<std::vector<std::any>> {
    return Error::malformed_webhook("value.event", "a known account event", "unrecognised account_update event");
  });
  const std::string body =
      R"json({"object": "whatsapp_business_account", "entry": [{"id": "213456789012345", "changes": [
    {"field": "group_status_update", "value": )json" +
      groups_value(R"json({"timestamp": "1751312000",
      "type": "group_suspend", "group_id": "120363298765432101@g.us"})json") +
      R"json(},
    {"field": "account_update", "value": )json" +
      account_update_value() + R"json(}]}]})json";
  REQUIRE(strict_json(body));
  const auto result = parser.parse(body);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::decode);
  // Without the decoder the same body is fine.
  CHECK(WebhookParser().parse(body).ok());
}
