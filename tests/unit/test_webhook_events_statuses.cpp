// Acceptance tests for the typed webhook events (include/wagroups/webhook_events.hpp), written
// against the public contract, message statuses (§4.7). The fixtures are the strict JSON that
// travels on the wire (tests/data/webhooks; Meta's samples have trailing commas, comments and a
// misplaced `initiated_by`; these do not), with values of our own. Each test asserts the variant,
// the count and every modelled field, and that absent optional fields stay unset. Shared helpers:
// webhook_events_support.hpp.

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
// §4.7 statuses

namespace {

void check_status(const MessageStatusData& got, const MessageStatusData& want) {
  CHECK(shown(got.context) == shown(want.context));
  CHECK(got.id == want.id);
  CHECK(got.status == want.status);
  CHECK(to_string(got.delivery_status) == std::string(to_string(want.delivery_status)));
  CHECK(shown(got.recipient_id) == shown(want.recipient_id));
  CHECK(shown(got.recipient_type) == shown(want.recipient_type));
  CHECK(shown(got.recipient_user_id) == shown(want.recipient_user_id));
  CHECK(shown(got.group_id) == shown(want.group_id));
  CHECK(shown(got.recipient_participant_id) == shown(want.recipient_participant_id));
  CHECK(shown(got.recipient_participant_user_id) == shown(want.recipient_participant_user_id));
  CHECK(shown(got.recipient_participant_parent_user_id) == shown(want.recipient_participant_parent_user_id));
  CHECK(shown(got.contact_name) == shown(want.contact_name));
  CHECK(shown(got.username) == shown(want.username));
  CHECK(shown(got.conversation_id) == shown(want.conversation_id));
  CHECK(shown(got.pricing_category) == shown(want.pricing_category));
  CHECK(shown(got.pricing_type) == shown(want.pricing_type));
  CHECK(shown(got.pricing_model) == shown(want.pricing_model));
  CHECK(shown(got.billable) == shown(want.billable));
  CHECK(shown(got.biz_opaque_callback_data) == shown(want.biz_opaque_callback_data));
  CHECK(shown(got.errors) == shown(want.errors));
  REQUIRE_FALSE(got.raw.empty());
  CHECK(shown(got.raw.get("id")) == shown(want.id));  // raw is the statuses[i] item
  CHECK(shown(got.raw.get("status")) == shown(want.status));
}

}  // namespace

TEST_CASE("webhook events: a group message sent (no participant)", "[webhook][events][statuses]") {
  const auto batch = parse_ok(group_sent_body());
  GroupMessageStatus want;
  want.context = ctx(kMessages, 1751308000);
  want.id = kWamidOut;
  want.status = "sent";
  want.delivery_status = DeliveryStatus::sent;
  want.recipient_id = kJid;
  want.recipient_type = "group";
  want.group_id = kJid;
  check_status(single<GroupMessageStatus>(batch), want);
}

TEST_CASE("webhook events: a group message failed with errors", "[webhook][events][statuses]") {
  const auto batch = parse_ok(group_failed_body());
  GroupMessageStatus want;
  want.context = ctx(kMessages, 1751308050);
  want.id = "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBJBQkNERUYwMTIzNDU2Nzg5AA==";
  want.status = "failed";
  want.delivery_status = DeliveryStatus::failed;
  want.recipient_id = kJid;
  want.recipient_type = "group";
  want.group_id = kJid;
  want.errors = {item_error(131020, "Bad Group", "Cannot send messages to single member groups.",
                            "The group has no member besides the business.",
                            "/docs/whatsapp/cloud-api/support/error-codes/")};
  check_status(single<GroupMessageStatus>(batch), want);
}

TEST_CASE("webhook events: seven participants read one message (pricing inside conversation)",
          "[webhook][events][statuses]") {
  const auto batch = parse_ok(aggregated_read_body());
  REQUIRE(batch.events.size() == kSevenReaders.size());
  for (std::size_t i = 0; i < kSevenReaders.size(); ++i) {
    INFO("status " << i);
    GroupMessageStatus want;
    want.context = ctx(kMessages, 1751308100 + static_cast<std::int64_t>(i), i);
    want.id = kWamidOut;
    want.status = "read";
    want.delivery_status = DeliveryStatus::read;
    want.recipient_id = kJid;
    want.recipient_type = "group";
    want.group_id = kJid;
    want.recipient_participant_id = kSevenReaders[i];
    want.conversation_id = "c8a1e2f3b4d5a6c7e8f9a0b1c2d3e4f5";
    want.pricing_category = "group_marketing";
    want.pricing_type = "regular";
    want.pricing_model = "PMP";
    want.billable = true;
    check_status(event_at<GroupMessageStatus>(batch, i), want);
  }
}

TEST_CASE("webhook events: several messages delivered to one participant", "[webhook][events][statuses]") {
  const auto batch = parse_ok(multi_message_delivered_body());
  REQUIRE(batch.events.size() == kThreeWamids.size());
  for (std::size_t i = 0; i < kThreeWamids.size(); ++i) {
    INFO("status " << i);
    GroupMessageStatus want;
    want.context = ctx(kMessages, 1751308200, i);
    want.id = kThreeWamids[i];
    want.status = "delivered";
    want.delivery_status = DeliveryStatus::delivered;
    want.recipient_id = kB64;
    want.recipient_type = "group";
    want.group_id = kB64;
    want.recipient_participant_id = "34612345678";
    want.conversation_id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    want.pricing_category = "group_utility";
    want.pricing_model = "PMP";
    want.billable = true;
    check_status(event_at<GroupMessageStatus>(batch, i), want);
  }
}

TEST_CASE("webhook events: the participant_recipient_id spelling, pricing beside conversation",
          "[webhook][events][statuses]") {
  const auto batch = parse_ok(participant_recipient_spelling_body());
  GroupMessageStatus want;
  want.context = ctx(kMessages, 1751308300);
  want.id = kWamidOut;
  want.status = "delivered";
  want.delivery_status = DeliveryStatus::delivered;
  want.recipient_id = kJid;
  want.recipient_type = "group";
  want.group_id = kJid;
  want.recipient_participant_id = "5511987654321";
  want.conversation_id = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
  want.pricing_category = "group_utility";
  want.pricing_model = "PMP";
  want.billable = true;
  check_status(single<GroupMessageStatus>(batch), want);
}

TEST_CASE("webhook events: a group read without pricing", "[webhook][events][statuses]") {
  const auto batch = parse_ok(read_without_pricing_body());
  GroupMessageStatus want;
  want.context = ctx(kMessages, 1751308400);
  want.id = kWamidOut;
  want.status = "read";
  want.delivery_status = DeliveryStatus::read;
  want.recipient_id = kJid;
  want.recipient_type = "group";
  want.group_id = kJid;
  want.recipient_participant_id = "447700900123";
  check_status(single<GroupMessageStatus>(batch), want);
}

TEST_CASE("webhook events: BSUID group statuses take their contact by user id", "[webhook][events][statuses][bsuid]") {
  const auto batch = parse_ok(bsuid_status_body());
  REQUIRE(batch.events.size() == 2);
  GroupMessageStatus lena;
  lena.context = ctx(kMessages, 1775003000, 0);
  lena.id = "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBJGRkVFRERDQ0JCQUE5OQA=";
  lena.status = "delivered";
  lena.delivery_status = DeliveryStatus::delivered;
  lena.recipient_id = kJid;
  lena.recipient_type = "group";
  lena.group_id = kJid;
  lena.recipient_participant_user_id = "DE.58291047736612095531";
  lena.recipient_participant_parent_user_id = "DE.ENT.20394857610293847561";
  lena.contact_name = "Lena Hoffmann";
  lena.username = "@lena.hoffmann";
  check_status(event_at<GroupMessageStatus>(batch, 0), lena);

  GroupMessageStatus ana = lena;
  ana.context = ctx(kMessages, 1775003001, 1);
  ana.recipient_participant_user_id = "BR.40516273849501627384";
  ana.recipient_participant_parent_user_id.reset();
  ana.contact_name = "Ana Souza";
  ana.username = "@ana.souza";
  check_status(event_at<GroupMessageStatus>(batch, 1), ana);
}

TEST_CASE("webhook events: the OpenAPI schema's group_id member marks a group status", "[webhook][events][statuses]") {
  const auto batch = parse_ok(spec_group_id_status_body());
  GroupMessageStatus want;
  want.context = ctx(kMessages, 1751308500);
  want.id = "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBI4ODc3NjY1NTQ0MzMyMjExAA==";
  want.status = "read";
  want.delivery_status = DeliveryStatus::read;
  want.recipient_id = kB64;
  want.group_id = kB64;
  check_status(single<GroupMessageStatus>(batch), want);
}

TEST_CASE("webhook events: free group customer-service pricing", "[webhook][events][statuses]") {
  const auto batch = parse_ok(free_service_pricing_body());
  GroupMessageStatus want;
  want.context = ctx(kMessages, 1751308600);
  want.id = "wamid.HBgXMTIwMzYzMjk4NzY1NDMyMTAxQGcudXMVAgARGBJBQUJCQ0NEREVFRkYwMAA=";
  want.status = "delivered";
  want.delivery_status = DeliveryStatus::delivered;
  want.recipient_id = kJid;
  want.recipient_type = "group";
  want.group_id = kJid;
  want.recipient_participant_id = "4915112345678";
  want.biz_opaque_callback_data = "case-1042";
  want.pricing_type = "free_group_customer_service";
  want.pricing_category = "group_service";
  want.pricing_model = "PMP";
  want.billable = false;
  check_status(single<GroupMessageStatus>(batch), want);
}

TEST_CASE("webhook events: a 1:1 template delivery is a DirectMessageStatus", "[webhook][events][statuses]") {
  const auto batch = parse_ok(direct_template_status_body());
  DirectMessageStatus want;
  want.context = ctx(kMessages, 1751308700);
  want.id = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSMDlBOEI3QzZENUU0RjNBMkIxAA==";
  want.status = "delivered";
  want.delivery_status = DeliveryStatus::delivered;
  want.recipient_id = "447700900123";
  want.conversation_id = "5e4d3c2b1a0918273645546372819aab";
  want.pricing_category = "utility";
  want.pricing_type = "regular";
  want.pricing_model = "PMP";
  want.billable = true;
  want.biz_opaque_callback_data = "invite-case-1042";
  check_status(single<DirectMessageStatus>(batch), want);
}

TEST_CASE("webhook events: delivery status names", "[webhook][events][statuses]") {
  CHECK(parse_delivery_status("sent") == DeliveryStatus::sent);
  CHECK(parse_delivery_status("delivered") == DeliveryStatus::delivered);
  CHECK(parse_delivery_status("read") == DeliveryStatus::read);
  CHECK(parse_delivery_status("played") == DeliveryStatus::played);
  CHECK(parse_delivery_status("failed") == DeliveryStatus::failed);
  CHECK(parse_delivery_status("deleted") == DeliveryStatus::unknown);
  CHECK(parse_delivery_status("") == DeliveryStatus::unknown);
  CHECK(std::string(to_string(DeliveryStatus::played)) == "played");
  CHECK(std::string(to_string(DeliveryStatus::unknown)) == "unknown");
  // An unknown status word is kept as sent, never refused.
  const auto batch = parse_ok(envelope(kMessages, statuses_value(R"json({"id":"wamid.X1","status":"warning",
    "timestamp":"1751308800","recipient_id":"120363298765432101@g.us","recipient_type":"group"})json")));
  const auto& s = single<GroupMessageStatus>(batch);
  CHECK(s.status == "warning");
  CHECK(s.delivery_status == DeliveryStatus::unknown);
}
