// Acceptance tests for the typed webhook events (include/wagroups/webhook_events.hpp), written
// against the public contract, inbound messages (§4.6). The fixtures are the strict JSON that
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
// §4.6 inbound messages

namespace {

void check_message(const InboundMessage& got, const InboundMessage& want) {
  CHECK(shown(got.context) == shown(want.context));
  CHECK(got.id == want.id);
  CHECK(got.type == want.type);
  CHECK(shown(got.group_id) == shown(want.group_id));
  CHECK(shown(got.from) == shown(want.from));
  CHECK(shown(got.from_user_id) == shown(want.from_user_id));
  CHECK(shown(got.from_parent_user_id) == shown(want.from_parent_user_id));
  CHECK(shown(got.username) == shown(want.username));
  CHECK(shown(got.contact_name) == shown(want.contact_name));
  CHECK(shown(got.contact_wa_id) == shown(want.contact_wa_id));
  CHECK(shown(got.text) == shown(want.text));
  CHECK(shown(got.caption) == shown(want.caption));
  CHECK(shown(got.media_id) == shown(want.media_id));
  CHECK(shown(got.mime_type) == shown(want.mime_type));
  CHECK(shown(got.sha256) == shown(want.sha256));
  CHECK(shown(got.filename) == shown(want.filename));
  CHECK(shown(got.reply_to) == shown(want.reply_to));
  CHECK(shown(got.errors) == shown(want.errors));
  CHECK(got.is_unsupported() == want.is_unsupported());
  REQUIRE_FALSE(got.raw.empty());
  CHECK(shown(got.raw.get("id")) == shown(want.id));  // raw is the messages[i] item
}
}  // namespace

TEST_CASE("webhook events: a group text with its sender's contact", "[webhook][events][messages]") {
  const auto batch = parse_ok(group_text_body());
  GroupMessageReceived want;
  want.context = ctx(kMessages, 1751307000);
  want.id = kWamidIn1;
  want.type = "text";
  want.group_id = kJid;
  want.from = "4915112345678";
  want.contact_name = "Jonas Weber";
  want.contact_wa_id = "4915112345678";
  want.text = "Is the delivery still on for Friday?";
  check_message(single<GroupMessageReceived>(batch), want);
  // identity_key_hash is not modelled; it stays in the contact, not in the message item.
  CHECK(shown(single<GroupMessageReceived>(batch).raw.get("identity_key_hash")) == kUnset);
}

TEST_CASE("webhook events: a group text from a BSUID-only sender", "[webhook][events][messages][bsuid]") {
  const auto batch = parse_ok(group_text_bsuid_body());
  GroupMessageReceived want;
  want.context = ctx(kMessages, 1775002000);
  want.id = "wamid.HBgWREUuNTgyOTEwNDc3MzY2MTIwOTU1MzEVAgASGBQzQTc1RkYwOTlGMTI0M0NEMDQA";
  want.type = "text";
  want.group_id = kB64;
  want.from_user_id = "DE.58291047736612095531";
  want.from_parent_user_id = "DE.ENT.20394857610293847561";
  want.username = "@lena.hoffmann";
  want.contact_name = "Lena Hoffmann";
  want.text = "Can we move the installation to Monday?";
  check_message(single<GroupMessageReceived>(batch), want);
}

TEST_CASE("webhook events: the contact's BSUIDs complete a sender known by phone",
          "[webhook][events][messages][bsuid]") {
  const auto batch = parse_ok(envelope(kMessages, messages_value(R"json({
      "profile": {"name": "Carlos Lima", "username": "@carlos.lima"},
      "wa_id": "5511976543210",
      "user_id": "BR.40516273849501627399",
      "parent_user_id": "BR.ENT.73849501627384950162"
    })json",
                                                                 R"json({
      "from": "5511976543210",
      "group_id": "120363298765432101@g.us",
      "id": "wamid.HBgNNTUxMTk3NjU0MzIxMBUCABIYFjNFQjBGRjAwMTEyMjMzNDQ1NTY2AA==",
      "timestamp": "1775002100",
      "type": "text",
      "text": {"body": "Bom dia!"}
    })json")));
  GroupMessageReceived want;
  want.context = ctx(kMessages, 1775002100);
  want.id = "wamid.HBgNNTUxMTk3NjU0MzIxMBUCABIYFjNFQjBGRjAwMTEyMjMzNDQ1NTY2AA==";
  want.type = "text";
  want.group_id = kJid;
  want.from = "5511976543210";
  want.from_user_id = "BR.40516273849501627399";
  want.from_parent_user_id = "BR.ENT.73849501627384950162";
  want.username = "@carlos.lima";
  want.contact_name = "Carlos Lima";
  want.contact_wa_id = "5511976543210";
  want.text = "Bom dia!";
  check_message(single<GroupMessageReceived>(batch), want);
}

TEST_CASE("webhook events: a sender without a contact entry gets nobody else's", "[webhook][events][messages]") {
  // Two senders, one contact entry (Jonas's): Ana's message must not take Jonas's name.
  const auto batch = parse_ok(envelope(
      kMessages, messages_value(R"json({"profile": {"name": "Jonas Weber"}, "wa_id": "4915112345678"})json", R"json({
      "from": "4915112345678", "group_id": "120363298765432101@g.us", "id": "wamid.C1", "timestamp": "1751307600",
      "type": "text", "text": {"body": "On my way"}
    }, {
      "from": "5511987654321", "group_id": "120363298765432101@g.us", "id": "wamid.C2", "timestamp": "1751307601",
      "type": "text", "text": {"body": "Me too"}
    })json")));
  REQUIRE(batch.events.size() == 2);
  const auto& jonas = event_at<GroupMessageReceived>(batch, 0);
  CHECK(shown(jonas.contact_name) == shown("Jonas Weber"));
  CHECK(shown(jonas.contact_wa_id) == shown("4915112345678"));
  const auto& ana = event_at<GroupMessageReceived>(batch, 1);
  CHECK(shown(ana.from) == shown("5511987654321"));
  CHECK(shown(ana.contact_name) == kUnset);
  CHECK(shown(ana.contact_wa_id) == kUnset);
  CHECK(shown(ana.username) == kUnset);
}

TEST_CASE("webhook events: the only contact of the only message is its sender, even when phone and wa_id differ",
          "[webhook][events][messages]") {
  // Meta: `from` and the contact entry "point to the same participant", and "a WhatsApp user's phone
  // number and ID may not always match" (a leading "+", or Brazil's extra mobile 9 in the phone).
  for (const auto& [from, wa_id] : std::vector<std::pair<std::string, std::string>>{
           {"+4915112345678", "4915112345678"}, {"5511987654321", "551187654321"}}) {
    INFO("from " << from << ", wa_id " << wa_id);
    const auto batch = parse_ok(envelope(
        kMessages, messages_value(R"json({"profile": {"name": "Ana Souza"}, "wa_id": ")json" + wa_id + R"json("})json",
                                  R"json({"from": ")json" + from +
                                      R"json(", "group_id": "120363298765432101@g.us", "id": "wamid.D1",
          "timestamp": "1751307700", "type": "text", "text": {"body": "Oi"}})json")));
    const auto& m = single<GroupMessageReceived>(batch);
    CHECK(shown(m.from) == shown(from));
    CHECK(shown(m.contact_wa_id) == shown(wa_id));
    CHECK(shown(m.contact_name) == shown("Ana Souza"));
  }
}

TEST_CASE("webhook events: an unsupported group message keeps its 130501 error", "[webhook][events][messages]") {
  const auto batch = parse_ok(group_unsupported_body());
  GroupMessageReceived want;
  want.context = ctx(kMessages, 1751307100);
  want.id = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjA5QTc3RjJCMUM0RDg5MDEyAA==";
  want.type = "unsupported";
  want.group_id = kJid;
  want.from = "5511987654321";
  want.contact_name = "Ana Souza";
  want.contact_wa_id = "5511987654321";
  want.errors = {item_error(130501, "Unsupported message type", "Message type is not currently supported",
                            "Polls are not supported in groups.")};
  const auto& got = single<GroupMessageReceived>(batch);
  check_message(got, want);
  CHECK(got.is_unsupported());
  REQUIRE(got.errors.size() == 1);
  CHECK(got.errors[0].code == graph_codes::unsupported_group_message);
}

TEST_CASE("webhook events: a group image with caption, id, mime_type and sha256", "[webhook][events][messages]") {
  const auto batch = parse_ok(group_image_body());
  GroupMessageReceived want;
  want.context = ctx(kMessages, 1751307200);
  want.id = "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFjNFQjA3RDM0OTg4QTEyRjZCMzM0AA==";
  want.type = "image";
  want.group_id = kJid;
  want.from = "4915112345678";
  want.contact_name = "Jonas Weber";
  want.contact_wa_id = "4915112345678";
  want.caption = "The box arrived like this";
  want.media_id = "1482937562014387";
  want.mime_type = "image/jpeg";
  want.sha256 = "b1946ac92492d2347c6235b4d2611184a3bc4f3f5e9b2d1f6c8e0a7b9d3c5e1f";
  check_message(single<GroupMessageReceived>(batch), want);
}

TEST_CASE("webhook events: a reply in a group carries the quoted message", "[webhook][events][messages]") {
  const auto batch = parse_ok(group_reply_body());
  GroupMessageReceived want;
  want.context = ctx(kMessages, 1751307300);
  want.id = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgWM0VCMEM1NjdEOEU5RjAxMjM0NTZBAA==";
  want.type = "text";
  want.group_id = kJid;
  want.from = "447700900123";
  want.contact_name = "Oliver Bennett";
  want.contact_wa_id = "447700900123";
  want.text = "Friday works for me.";
  want.reply_to = ReplyContext{std::string("15557654321"),
                               std::string("wamid.HBgLMTU1NTc2NTQzMjEVAgARGBJCNTlEMkU4RjA0QTFDM0I1NgA=")};
  check_message(single<GroupMessageReceived>(batch), want);
}

TEST_CASE("webhook events: a group document with a filename", "[webhook][events][messages]") {
  const auto batch = parse_ok(group_document_body());
  GroupMessageReceived want;
  want.context = ctx(kMessages, 1751307400);
  want.id = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjBEOEY5MDEyMzQ1Njc4OUFCAA==";
  want.type = "document";
  want.group_id = kB64;
  want.from = "5511987654321";
  want.contact_name = "Ana Souza";
  want.contact_wa_id = "5511987654321";
  want.caption = "Signed delivery note";
  want.filename = "delivery-note-1042.pdf";
  want.mime_type = "application/pdf";
  want.sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  want.media_id = "902745613388214";
  check_message(single<GroupMessageReceived>(batch), want);
}

TEST_CASE("webhook events: a 1:1 text is a DirectMessageReceived", "[webhook][events][messages]") {
  const auto batch = parse_ok(direct_text_body());
  DirectMessageReceived want;
  want.context = ctx(kMessages, 1751307500);
  want.id = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgWM0VCMDExMjIzMzQ0NTU2Njc3ODg5AA==";
  want.type = "text";
  want.from = "447700900123";
  want.contact_name = "Oliver Bennett";
  want.contact_wa_id = "447700900123";
  want.text = "Hi, I never got the group invite.";
  check_message(single<DirectMessageReceived>(batch), want);
}
