// Issue 11 item 6: the webhook path was made faster (tests/bench/webhook_throughput.cpp) without
// changing what it accepts or produces. These pin down the behaviour the faster code paths took
// over: the table-driven hex decoding of X-Hub-Signature-256, the string reader moving text down
// behind an escape a whole 16-byte chunk at a time, and member lookups that test length and first
// byte before comparing names.

#include <cctype>
#include <optional>
#include <string>
#include <variant>

#include <catch2/catch_test_macros.hpp>
#include "json/rapidjson.hpp"
#include <rapidjson/document.h>

#include "wagroups/webhook.hpp"
#include "webhook_events_support.hpp"

using namespace webhook_events_test;

namespace {

const std::string kSecret = "issue11-secret-5b2f0c";

bool is_hex(int c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::string text_message_body(const std::string& escaped_text) {
  const std::string message = R"({"from":"16505551234","id":"wamid.I11","timestamp":"1760000000","type":"text",)"
                              R"("group_id":")" +
                              kJid + R"(","text":{"body":")" + escaped_text + R"("}})";
  return envelope(kMessages, messages_value(R"({"profile":{"name":"Ana"},"wa_id":"16505551234"})", message));
}

// The text RapidJSON's own reader makes of a JSON string literal (the reference).
std::string rapidjson_unescaped(const std::string& escaped_text) {
  rapidjson::Document d;
  const std::string doc = "\"" + escaped_text + "\"";
  d.Parse(doc.c_str(), doc.size());
  REQUIRE_FALSE(d.HasParseError());
  return std::string(d.GetString(), d.GetStringLength());
}

}  // namespace

TEST_CASE("issue11 item 6: signature hex digits are read in either case, and every other byte is bad_hex",
          "[webhook][issue11]") {
  const std::string body = groups_body(kLifecycle, "");
  const SignatureVerifier verifier(kSecret);
  const std::string good = verifier.sign(body);
  REQUIRE(good.size() == 7 + 64);
  std::string upper = good;
  for (std::size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  std::string mixed = good;
  for (std::size_t i = 7; i < mixed.size(); i += 2) mixed[i] = static_cast<char>(std::toupper(mixed[i]));
  CHECK(verifier.verify(body, good).ok());
  CHECK(verifier.verify(body, upper).ok());
  CHECK(verifier.verify(body, mixed).ok());

  // Every byte that is not a hex digit, at a position that moves along the digits (first, last,
  // and every one between over the loop), is refused as bad hex, never as a mismatch.
  for (int c = 0; c < 256; ++c) {
    if (is_hex(c)) continue;
    std::string bad = good;
    const std::size_t at = 7 + static_cast<std::size_t>(c) % 64;
    bad[at] = static_cast<char>(c);
    INFO("byte " << c << " at " << at);
    auto verified = verifier.verify(body, bad);
    REQUIRE_FALSE(verified.ok());
    CHECK(verified.error().auth_failure == AuthFailure::bad_hex);
  }
  // A valid digit changed to another valid one (in either case) is a mismatch.
  for (std::size_t at : {std::size_t{7}, std::size_t{40}, good.size() - 1}) {
    std::string other = good;
    other[at] = other[at] == 'a' ? 'B' : 'a';
    auto verified = verifier.verify(body, other);
    REQUIRE_FALSE(verified.ok());
    CHECK(verified.error().auth_failure == AuthFailure::signature_mismatch);
  }
}

TEST_CASE("issue11 item 6: text behind an escape unescapes exactly, whatever its length and alignment",
          "[webhook][issue11]") {
  // An escape, then runs of plain text across one, two and more 16-byte chunks, then further
  // escapes and multi-byte UTF-8: the reader moves the text down while it reads.
  const std::string escapes[] = {R"(\n)", R"(\u00e9)", R"(\ud83d\udce6)", R"(\")", R"(\\)", R"(\/)"};
  for (std::size_t before = 0; before < 20; before += 3) {
    for (std::size_t after = 0; after < 70; after += 5) {
      for (const std::string& escape : escapes) {
        std::string escaped = std::string(before, 'a') + escape;
        for (std::size_t i = 0; i < after; ++i) escaped += static_cast<char>('b' + i % 20);
        // Raw UTF-8 of 2, 3 and 4 bytes behind the escapes, then more text and an escape.
        escaped += "\\t\xC3\xA9\xE0\xA4\xA7\xF0\x9F\x93\xA6" + std::string(after % 17, 'z') + R"(\u0041)";
        INFO("text: " << escaped);
        const WebhookBatch batch = parse_ok(text_message_body(escaped));
        const auto& m = single<GroupMessageReceived>(batch);
        REQUIRE(m.text);
        CHECK(*m.text == rapidjson_unescaped(escaped));
        // The raw view gives the same text (it points into the same rewritten buffer).
        CHECK(m.raw.at("text").get("body") == m.text);
      }
    }
  }
}

TEST_CASE("issue11 item 6: member lookups match whole names, not lengths or first bytes", "[webhook][issue11]") {
  // Decoys of the same length and first byte come first in every object the envelope reads.
  const std::string body =
      R"({"objecx":"decoy","object":"whatsapp_business_account","entrx":7,"entry":[{"idx":"1","ix":"2","id":")" +
      kWaba + R"(","changex":1,"changes":[{"valuf":{"groups":"not an array"},"fielx":"decoy","value":)" +
      groups_value(R"({"type":"group_suspend","group_ie":"decoy","group_id":")" + kJid +
                   R"(","timestamp":"1760000000"})") +
      R"(,"field":"group_status_update"}]}]})";
  const WebhookBatch batch = parse_ok(body);
  const auto& e = single<GroupSuspended>(batch);
  CHECK(e.group_id == kJid);
  CHECK(e.context.waba_id == kWaba);
  CHECK(e.context.field == "group_status_update");
  CHECK(group_id_of(batch.events[0]) == kJid);
  CHECK(e.raw.get("group_ie") == "decoy");
  CHECK(e.raw.get("group_i") == std::nullopt);
  CHECK(e.raw.get("group_idx") == std::nullopt);

  // An empty name is a name like any other.
  const std::string unknown =
      groups_body(kStatus, R"({"type":"group_future","":"empty name","group_id":")" + kJid + R"("})");
  const WebhookBatch u = parse_ok(unknown);
  const auto& ue = single<UnknownEvent>(u);
  CHECK(ue.raw.get("") == "empty name");
  CHECK(group_id_of(u.events[0]) == kJid);
}
