// Regressions for what the libFuzzer targets (tests/fuzz, issue 13) found.

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "http/retry.hpp"
#include "json/json.hpp"
#include "util/text.hpp"
#include "wagroups/tickets.hpp"

using namespace std::chrono_literals;
namespace retry = wagroups::retry;

// fuzz_retry_after: Retry-After "1000000000" (10 digits) read as one year, shorter than
// "999999999" (about 31.7 years), and "0000000120" as one year instead of two minutes.
TEST_CASE("Retry-After delta-seconds ignore leading zeros and never read a longer wait as shorter", "[issue13][fuzz]") {
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1790000000));
  using Wait = std::optional<std::chrono::milliseconds>;
  CHECK(retry::parse_retry_after("0000000120", now) == Wait(120s));
  CHECK(retry::parse_retry_after("000", now) == Wait(0s));
  CHECK(retry::parse_retry_after("0000000000000000000000", now) == Wait(0s));
  const auto nine = retry::parse_retry_after("999999999", now);
  REQUIRE(nine == Wait(999999999s));
  for (const char* longer : {"1000000000", "66666666666666", "99999999999999999999999999"}) {
    INFO(longer);
    const auto wait = retry::parse_retry_after(longer, now);
    REQUIRE(wait);
    CHECK(*wait >= *nine);
  }
}

// fuzz_ticket_json, fuzz_sandbox_state: RapidJSON 1.1.0's UTF-8 validation let a \\u escape of a
// lone low surrogate through, stored as bytes (ED B0 80) that are not UTF-8, so whatever stored the
// value could not read it back. Untrusted JSON now refuses it.

namespace {
using Catch::Matchers::ContainsSubstring;
using namespace wagroups;

// Parses {"s": <literal>} as untrusted input; on success returns the string's bytes.
bool parse_string(const std::string& literal, std::string& value, std::string& error) {
  const std::string text = "{\"s\":\"" + literal + "\"}";
  json::ScratchDocument doc;
  if (!json::parse(text, doc.get(), error)) return false;
  value = doc.get()["s"].GetString();
  return true;
}
}  // namespace

TEST_CASE("untrusted JSON refuses a \\u escape of a lone low surrogate", "[issue13][fuzz][json]") {
  std::string value;
  std::string error;
  CHECK_FALSE(parse_string("ab\\uDC00cd", value, error));
  CHECK_THAT(error, ContainsSubstring("offset 8") && ContainsSubstring("unpaired UTF-16 surrogate"));

  // After a good pair, a second low surrogate is still lone.
  CHECK_FALSE(parse_string("\\uD83D\\uDE00\\uDFFF", value, error));
  CHECK_THAT(error, ContainsSubstring("offset 18"));

  // The padded (SIMD) parse applies the same rule.
  std::string padded = "[\"\\udc80\"]";
  json::ScratchDocument doc;
  CHECK_FALSE(json::parse_padded(padded, doc.get(), error));
  CHECK(padded == "[\"\\udc80\"]");
  CHECK_THAT(error, ContainsSubstring("unpaired"));
}

TEST_CASE("untrusted JSON keeps surrogate pairs and escaped backslashes", "[issue13][fuzz][json]") {
  std::string value;
  std::string error;
  REQUIRE(parse_string("\\uD83D\\uDE00", value, error));
  CHECK(value == "\xF0\x9F\x98\x80");
  CHECK(text::is_valid_utf8(value));

  // "\\uDC00" is a backslash followed by the letters uDC00, not an escape.
  REQUIRE(parse_string("\\\\uDC00", value, error));
  CHECK(value == "\\uDC00");

  // A BMP escape just below and above the surrogate block.
  REQUIRE(parse_string("\\uD7FF\\uE000", value, error));
  CHECK(text::is_valid_utf8(value));

  // Graph answers are not re-validated (Input::graph_response), so nothing changes for them.
  json::ScratchDocument doc;
  CHECK(json::parse("[\"\\uDC00\"]", doc.get(), error, json::Input::graph_response));
}

TEST_CASE("a ticket document with a lone low surrogate is refused, with a pair it round-trips",
          "[issue13][fuzz][json]") {
  Ticket ticket;
  ticket.ticket_id = "T-1";
  ticket.group_id = "G-1";
  ticket.subject = "Order \xF0\x9F\x98\x80";
  const std::string stored = to_json(ticket);
  const auto back = ticket_from_json(stored);
  REQUIRE(back.ok());
  CHECK(back->subject == ticket.subject);

  std::string escaped = stored;
  const auto at = escaped.find("Order ");
  REQUIRE(at != std::string::npos);
  escaped.replace(at, 6 + 4, "Order \\uDC00");
  const auto refused = ticket_from_json(escaped);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::decode);
  CHECK_THAT(refused.error().message, ContainsSubstring("unpaired UTF-16 surrogate"));
}

// fuzz_ticket_json, fuzz_sandbox_state: RapidJSON 1.1.0's Parse(text, length) skipped each of the
// bytes EF, BB, BF at the start on its own, so a ticket or a simulator state behind a stray byte
// (not UTF-8, not JSON) was accepted.
TEST_CASE("JSON that starts with a byte-order-mark byte is refused", "[issue13][fuzz][json]") {
  Ticket ticket;
  ticket.ticket_id = "T-2";
  ticket.group_id = "G-2";
  const std::string stored = to_json(ticket);
  REQUIRE(ticket_from_json(stored).ok());
  for (const char* prefix : {"\xEF", "\xBB", "\xBF", "\xEF\xBB\xBF", "\xBB\xBB"}) {
    const auto refused = ticket_from_json(prefix + stored);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::decode);
    CHECK_THAT(refused.error().message, ContainsSubstring("offset 0"));
  }
  std::string error;
  for (const auto input : {json::Input::untrusted, json::Input::graph_response}) {
    json::ScratchDocument doc;
    CHECK_FALSE(json::parse("\xBF[1]", doc, error, input));
    CHECK(json::parse(" [1]", doc, error, input));
    // parse_padded reads a NUL-terminated text, which RapidJSON scans for no byte-order mark.
    std::string padded("\xEF\xBB\xBF[1]");
    json::ScratchDocument doc2;
    CHECK_FALSE(json::parse_padded(padded, doc2, error, input));
    CHECK(padded == "\xEF\xBB\xBF[1]");
  }
}

// fuzz_cli_json_writer: RapidJSON 1.1.0's UTF-8 check takes every continuation byte a lead byte
// announces, even past the NUL that ends a NUL-terminated text, so a text ending in a cut-off
// sequence is read beyond its end unless padded. json::parse (which bounds the stream by length)
// and json::parse_padded (16 NUL bytes) must refuse such texts without reading past them: under
// the ASan build an over-read of json::parse's exact-size block fails this test.
TEST_CASE("a text that ends inside a UTF-8 sequence is refused without reading past it", "[issue13][fuzz][json]") {
  for (const char* cut : {"\xC3", "\xE4", "\xE4\xB8", "\xF0", "\xF0\x9F\x98"}) {
    const std::string text = std::string("[\"") + cut;
    std::string error;
    {
      // An exact-size heap block, so that ASan sees a read past its end (a short std::string
      // would keep the text in its own inline buffer).
      const std::unique_ptr<char[]> exact(new char[text.size()]);
      std::memcpy(exact.get(), text.data(), text.size());
      json::ScratchDocument doc;
      CHECK_FALSE(json::parse(std::string_view(exact.get(), text.size()), doc, error));
    }
    std::string padded(text);  // parse_padded brings its own padding
    json::ScratchDocument doc;
    CHECK_FALSE(json::parse_padded(padded, doc, error));
    CHECK(padded == text);
  }
}

// Found while reviewing the fixes above: RapidJSON treats a NUL byte as the end of the text, so
// json::parse (by length) accepted "[1]\0junk" as [1]; parse_padded already refused a NUL.
TEST_CASE("JSON with a NUL byte is refused by both parses", "[issue13][fuzz][json]") {
  const std::string text("[1]\0junk", 8);
  std::string error;
  for (const auto input : {json::Input::untrusted, json::Input::graph_response}) {
    json::ScratchDocument doc;
    CHECK_FALSE(json::parse(text, doc, error, input));
    CHECK_THAT(error, ContainsSubstring("offset 3") && ContainsSubstring("NUL byte"));
    std::string padded(text);
    json::ScratchDocument doc2;
    CHECK_FALSE(json::parse_padded(padded, doc2, error, input));
    CHECK_THAT(error, ContainsSubstring("offset 3"));
  }
  // A NUL escaped inside a string is fine; an empty view (null data) is refused, not read.
  json::ScratchDocument doc;
  CHECK(json::parse("[\"a\\u0000b\"]", doc, error));
  CHECK_FALSE(json::parse(std::string_view(), doc, error));
}
