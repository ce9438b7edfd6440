// The webhook parser against hostile and broken bodies: limits at their exact boundaries, invalid
// UTF-8 and JSON, wrong envelope shapes (refused with the path), wrong item shapes (read
// leniently), and a seeded mutation run that may only ever yield a batch or a decode error.

#include <algorithm>
#include <cmath>
#include <any>
#include <atomic>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "test_support.hpp"
#include "wagroups/webhook.hpp"
#include "webhook/strict_reader.hpp"

#include "fixtures.hpp"

using namespace wagroups;

namespace {

// A group body of several kinds of items (lifecycle, participants, a message with its contact,
// statuses), written for these tests: tests/data/webhooks/hostile/group_body.json, byte for byte
// (the mutation tests start from these exact bytes).
const std::string& group_fixture() {
  static const std::string body = wagroups_test::fixture_without_final_newline("webhooks/hostile/group_body.json");
  return body;
}

// A body with one change of `field` whose value is `value` (raw JSON text).
std::string body_with(const std::string& field, const std::string& value) {
  return R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":")" + field +
         R"(","value":)" + value + "}]}]}";
}

// A group body with the given item objects in value.groups.
std::string group_body(const std::string& items, const std::string& field = "group_lifecycle_update") {
  return body_with(field, R"({"metadata":{"phone_number_id":"7"},"groups":[)" + items + "]}");
}

// A body that nests `levels` arrays inside a change value (the value object itself is at depth 6).
std::string nested_body(int levels) {
  return body_with("account_update", R"({"x":)" + std::string(static_cast<std::size_t>(levels), '[') +
                                         std::string(static_cast<std::size_t>(levels), ']') + "}");
}

void require_decode_error(const Result<WebhookBatch>& r, const std::string& field, const std::string& limit = {}) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::decode);
  CHECK(r.error().field == field);
  if (!limit.empty()) CHECK(r.error().limit == limit);
  CHECK_FALSE(r.error().message.empty());
}

std::string opt(const std::optional<std::string>& s) { return s ? "\"" + *s + "\"" : "-"; }
std::string opt(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "-"; }

// Everything observable about a batch, as text, to compare two parses.
std::string describe(const WebhookBatch& batch) {
  std::ostringstream out;
  out << batch.object << "\n";
  for (const auto& event : batch.events) {
    const WebhookContext& c = context_of(event);
    out << kind_of(event) << " waba=" << c.waba_id << " phone=" << c.phone_number_id << " display="
        << c.display_phone_number << " field=" << c.field << " ts=" << opt(c.timestamp) << " at=" << c.entry_index
        << "/" << c.change_index << "/" << c.item_index << " group=" << opt(group_id_of(event))
        << " request=" << opt(request_id_of(event));
    std::visit(
        [&](const auto& e) {
          using T = std::decay_t<decltype(e)>;
          if constexpr (std::is_base_of_v<InboundMessage, T>) {
            out << " id=" << e.id << " type=" << e.type << " from=" << opt(e.from) << " text=" << opt(e.text)
                << " name=" << opt(e.contact_name) << " user=" << opt(e.from_user_id);
          } else if constexpr (std::is_base_of_v<MessageStatusData, T>) {
            out << " id=" << e.id << " status=" << e.status << " participant=" << opt(e.recipient_participant_id)
                << " category=" << opt(e.pricing_category);
          }
          out << " raw=" << e.raw.str();
        },
        event);
    out << "\n";
  }
  return out.str();
}

}  // namespace

TEST_CASE("hostile: the body size limit holds at its exact boundary", "[webhook][hostile]") {
  WebhookLimits limits;
  limits.max_body_bytes = group_fixture().size() + 10;
  const WebhookParser parser(limits);
  const std::string at_limit = group_fixture() + std::string(10, ' ');  // trailing blanks are valid JSON
  REQUIRE(at_limit.size() == limits.max_body_bytes);
  CHECK(parser.parse(at_limit).ok());
  CHECK(parser.parse_in_place(std::string(at_limit)).ok());

  const std::string over = at_limit + " ";
  const std::string rule = "at most " + std::to_string(limits.max_body_bytes) + " bytes";
  require_decode_error(parser.parse(over), "body", rule);
  require_decode_error(parser.parse_in_place(std::string(over)), "body", rule);
  // The size is checked before anything is read: even garbage is refused for its size.
  require_decode_error(parser.parse(std::string(limits.max_body_bytes + 1, '\xff')), "body", rule);
  // verify_and_parse refuses it before hashing it: the same decode error, signed or not.
  const SignatureVerifier verifier("hostile-test-secret");
  require_decode_error(parser.verify_and_parse(std::string(over), verifier.sign(over), verifier), "body", rule);
  require_decode_error(parser.verify_and_parse(std::string(over), "", verifier), "body", rule);
  CHECK(parser.verify_and_parse(std::string(at_limit), verifier.sign(at_limit), verifier).ok());
  // The default is 4 MiB.
  CHECK(WebhookParser().limits().max_body_bytes == (4u << 20));
}

TEST_CASE("hostile: an empty or blank body is refused", "[webhook][hostile]") {
  require_decode_error(parse_webhook(""), "body");
  require_decode_error(WebhookParser().parse_in_place(std::string()), "body");
  require_decode_error(parse_webhook("   \r\n\t "), "body", "strict JSON (RFC 8259)");
}

TEST_CASE("hostile: deep nesting is refused cleanly, at the exact limit", "[webhook][hostile]") {
  SECTION("100,000 nested arrays or objects") {
    require_decode_error(parse_webhook(std::string(100000, '[')), "body", "nesting at most 32 levels");
    std::string objects;
    for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
    require_decode_error(parse_webhook(objects), "body", "nesting at most 32 levels");
    // Well formed and closed, just as deep.
    require_decode_error(parse_webhook(nested_body(100000)), "body", "nesting at most 32 levels");
  }
  SECTION("the default limit of 32: the value object is level 6, so 26 more levels fit") {
    auto ok = parse_webhook(nested_body(26));
    REQUIRE(ok.ok());
    REQUIRE(ok->events.size() == 1);
    CHECK(std::holds_alternative<UnknownEvent>(ok->events[0]));
    require_decode_error(parse_webhook(nested_body(27)), "body", "nesting at most 32 levels");
  }
  SECTION("a configured limit, below and above the reader's recursion bound") {
    for (int max_depth : {8, 256, 257, 5000}) {
      WebhookLimits limits;
      limits.max_depth = max_depth;
      const WebhookParser parser(limits);
      CAPTURE(max_depth);
      CHECK(parser.parse(nested_body(max_depth - 6)).ok());
      require_decode_error(parser.parse(nested_body(max_depth - 5)), "body",
                           "nesting at most " + std::to_string(max_depth) + " levels");
      require_decode_error(parser.parse(std::string(100000, '[')), "body",
                           "nesting at most " + std::to_string(max_depth) + " levels");
    }
  }
  SECTION("a limit beyond any input: the iterative reader takes 100,000 levels without recursing") {
    WebhookLimits limits;
    limits.max_depth = 1000000;
    const WebhookParser parser(limits);
    auto deep = parser.parse(nested_body(100000));
    REQUIRE(deep.ok());
    REQUIRE(deep->events.size() == 1);
    // Unclosed: a JSON error, not a crash.
    require_decode_error(parser.parse(std::string(100000, '[')), "body", "strict JSON (RFC 8259)");
  }
  SECTION("rendering such a value back to text does not recurse either") {
    WebhookLimits limits;
    limits.max_depth = 1000000;
    const std::size_t levels = 300000;  // one stack frame per level would overflow an 8 MiB stack
    auto deep = WebhookParser(limits).parse(nested_body(static_cast<int>(levels)));
    REQUIRE(deep.ok());
    REQUIRE(deep->events.size() == 1);
    const std::string text = std::get<UnknownEvent>(deep->events[0]).raw_json();
    CHECK(text == R"({"x":)" + std::string(levels, '[') + std::string(levels, ']') + "}");
  }
}

TEST_CASE("hostile: RawJson::str renders every kind of value as compact JSON", "[webhook][hostile]") {
  const std::string value =
      R"({"s":"a\"b\\c\n\u0000\u00e9","i":-42,"u":18446744073709551615,"d":1.5,"t":true,"f":false,)"
      R"("n":null,"o":{},"a":[],"nested":[{"k":[1,[2,{"z":null}]]},"",0]})";
  auto batch = parse_webhook(body_with("account_update", value));
  REQUIRE(batch.ok());
  REQUIRE(batch->events.size() == 1);
  const RawJson& raw = std::get<UnknownEvent>(batch->events[0]).raw;
  CHECK(raw.str() ==
        "{\"s\":\"a\\\"b\\\\c\\n\\u0000\xC3\xA9\",\"i\":-42,\"u\":18446744073709551615,\"d\":1.5,\"t\":true,"
        "\"f\":false,\"n\":null,\"o\":{},\"a\":[],\"nested\":[{\"k\":[1,[2,{\"z\":null}]]},\"\",0]}");
  CHECK(raw.at("nested").str() == R"([{"k":[1,[2,{"z":null}]]},"",0])");
  CHECK(raw.at("i").str() == "-42");
  CHECK(raw.at("missing").str().empty());
}

TEST_CASE("hostile: invalid UTF-8 anywhere is refused; valid UTF-8 passes through", "[webhook][hostile]") {
  const std::vector<std::string> bad = {
      "\xC0\xAF",          // overlong '/'
      "\xE0\x80\xAF",      // overlong, three bytes
      "\x80",              // lone continuation byte
      "\xC3",              // truncated two-byte sequence
      "\xE2\x82",          // truncated three-byte sequence
      "\xED\xA0\x80",      // an encoded UTF-16 surrogate (CESU-8)
      "\xF4\x90\x80\x80",  // above U+10FFFF
      "\xF5\x80\x80\x80",  // invalid lead byte
      "\xFF",
  };
  for (const auto& bytes : bad) {
    CAPTURE(bytes);
    // In a value, after ASCII of every length (so at every offset of a 16-byte block), and in a key.
    for (std::size_t pad = 0; pad < 17; ++pad) {
      const std::string body = group_body(R"({"group_id":"G1","type":"group_suspend","note":")" +
                                              std::string(pad, 'a') + bytes + R"(b"})",
                                          "group_status_update");
      require_decode_error(parse_webhook(body), "body", "valid UTF-8");
    }
    require_decode_error(parse_webhook(group_body(R"({"group_id":"G1","type":"group_suspend",")" + bytes + R"(":1})",
                                                  "group_status_update")),
                         "body", "valid UTF-8");
    // At the very end of a string that ends the body.
    require_decode_error(parse_webhook(R"(")" + bytes + R"(")"), "body", "valid UTF-8");
    // Outside strings no byte above 0x7F is JSON at all.
    require_decode_error(parse_webhook(group_fixture() + bytes), "body", "strict JSON (RFC 8259)");
  }
  // Valid two-, three- and four-byte characters, raw and escaped, come back as UTF-8.
  const std::string body = group_body(
      R"({"group_id":"G1","type":"group_create","subject":"caf\u00e9 \u0930\u093e\u092e \ud83d\ude00 café राम 😀"})");
  auto r = parse_webhook(body);
  REQUIRE(r.ok());
  REQUIRE(r->events.size() == 1);
  CHECK(std::get<GroupCreated>(r->events[0]).subject ==
        std::optional<std::string>("caf\xC3\xA9 \xE0\xA4\xB0\xE0\xA4\xBE\xE0\xA4\xAE \xF0\x9F\x98\x80 café राम 😀"));
}

TEST_CASE("hostile: \\u escapes of surrogates: pairs decode, lone halves are refused", "[webhook][hostile]") {
  auto subject_of = [](const std::string& escaped) {
    return parse_webhook(group_body(R"({"group_id":"G1","type":"group_create","subject":")" + escaped + R"("})"));
  };
  auto pair = subject_of(R"(\uD83D\uDE00 and \ud83d\ude00)");
  REQUIRE(pair.ok());
  CHECK(std::get<GroupCreated>(pair->events[0]).subject ==
        std::optional<std::string>("\xF0\x9F\x98\x80 and \xF0\x9F\x98\x80"));
  // Unpaired halves are not text: refused, whichever half and wherever.
  require_decode_error(subject_of(R"(\uD83D)"), "body", "valid UTF-8");
  require_decode_error(subject_of(R"(\uD83D x)"), "body", "valid UTF-8");
  require_decode_error(subject_of(R"(\uD83D\u0041)"), "body", "valid UTF-8");
  require_decode_error(subject_of(R"(x \uDE00 y)"), "body", "valid UTF-8");
  require_decode_error(subject_of(R"(\uDC00\uD800)"), "body", "valid UTF-8");
  require_decode_error(subject_of(R"(\uD800\uD800)"), "body", "valid UTF-8");
  // Hex digits must be four.
  require_decode_error(subject_of(R"(\u12G4)"), "body", "strict JSON (RFC 8259)");
  require_decode_error(subject_of(R"(\u12)"), "body", "strict JSON (RFC 8259)");
  // Also in a key.
  require_decode_error(parse_webhook(group_body(R"({"group_id":"G1","type":"group_suspend","\udfff":1})",
                                                "group_status_update")),
                       "body", "valid UTF-8");
  // An escaped backslash followed by "uDE00" is plain text, not an escape.
  auto literal = subject_of(R"(\\uDE00)");
  REQUIRE(literal.ok());
  CHECK(std::get<GroupCreated>(literal->events[0]).subject == std::optional<std::string>("\\uDE00"));
  // \u0000 is valid JSON: the string keeps its length.
  auto nul = subject_of(R"(a\u0000b)");
  REQUIRE(nul.ok());
  CHECK(std::get<GroupCreated>(nul->events[0]).subject == std::optional<std::string>(std::string("a\0b", 3)));
}

TEST_CASE("hostile: a raw NUL byte and trailing data are refused", "[webhook][hostile]") {
  std::string with_nul = group_fixture();
  with_nul.insert(with_nul.find("Case 5521") + 4, 1, '\0');
  require_decode_error(parse_webhook(with_nul), "body", "strict JSON (RFC 8259)");
  require_decode_error(parse_webhook(group_fixture() + std::string(1, '\0')), "body");
  require_decode_error(parse_webhook(std::string(1, '\0') + group_fixture()), "body");

  require_decode_error(parse_webhook(group_fixture() + "{"), "body", "strict JSON (RFC 8259)");
  require_decode_error(parse_webhook(group_fixture() + group_fixture()), "body", "strict JSON (RFC 8259)");
  require_decode_error(parse_webhook(group_fixture() + " x"), "body");
  CHECK(parse_webhook(group_fixture() + " \r\n\t").ok());
  // Comments and trailing commas are not JSON.
  require_decode_error(parse_webhook(group_body(R"({"group_id":"G1","type":"group_suspend",})")), "body");
  require_decode_error(parse_webhook("// note\n" + group_fixture()), "body");
}

TEST_CASE("hostile: a real file with trailing data is refused (conformance corpus)",
          "[webhook][hostile][conformance]") {
  // A complete payload followed by a stray '{'.
  const std::string file = wagroups_test::conformance_file("bindambc/textMessageStatusRead.json");
  require_decode_error(parse_webhook(file), "body", "strict JSON (RFC 8259)");
}

TEST_CASE("hostile: numbers beyond a double are refused; odd timestamps are unset", "[webhook][hostile]") {
  require_decode_error(parse_webhook(group_body(R"({"group_id":"G1","type":"group_suspend","n":1e400})",
                                                "group_status_update")),
                       "body", "strict JSON (RFC 8259)");
  const std::vector<std::pair<std::string, std::optional<std::int64_t>>> cases = {
      {R"("1760000000")", 1760000000},
      {"1760000000", 1760000000},
      {R"(" 1760000000 ")", 1760000000},
      {"-5", -5},
      {R"("99999999999999999999")", std::nullopt},  // overflows int64
      {"99999999999999999999", std::nullopt},
      {"18446744073709551615", std::nullopt},       // uint64 max
      {"1e300", std::nullopt},
      {"1.5", std::nullopt},
      {R"("TIMESTAMP")", std::nullopt},
      {R"("")", std::nullopt},
      {"null", std::nullopt},
      {"true", std::nullopt},
      {"{}", std::nullopt},
      {"[1]", std::nullopt},
  };
  for (const auto& [text, expected] : cases) {
    CAPTURE(text);
    auto r = parse_webhook(group_body(R"({"group_id":"G1","type":"group_suspend","timestamp":)" + text + "}",
                                      "group_status_update"));
    REQUIRE(r.ok());
    REQUIRE(r->events.size() == 1);
    CHECK(context_of(r->events[0]).timestamp == expected);
  }
}

TEST_CASE("hostile: the root must be an object", "[webhook][hostile]") {
  for (const char* text : {"[]", "[{}]", R"("whatsapp")", "42", "null", "true"}) {
    CAPTURE(text);
    require_decode_error(parse_webhook(text), "body", "a JSON object");
  }
}

TEST_CASE("hostile: a broken envelope is refused whole, naming the path", "[webhook][hostile]") {
  const std::string change_ok = R"({"field":"account_update","value":{}})";
  struct Case {
    std::string body;
    std::string field;
    std::string limit;
  };
  const std::vector<Case> cases = {
      {R"({"object":"whatsapp_business_account"})", "entry", "an array"},
      {R"({"entry":{}})", "entry", "an array"},
      {R"({"entry":"x"})", "entry", "an array"},
      {R"({"entry":[{"changes":[]}, 5]})", "entry[1]", "an object"},
      {R"({"entry":[{"id":"1"}]})", "entry[0].changes", "an array"},
      {R"({"entry":[{"changes":{}}]})", "entry[0].changes", "an array"},
      {R"({"entry":[{"changes":[)" + change_ok + R"(,[]]}]})", "entry[0].changes[1]", "an object"},
      {R"({"entry":[{"changes":[{"value":{}}]}]})", "entry[0].changes[0].field", "a string"},
      {R"({"entry":[{"changes":[{"field":7,"value":{}}]}]})", "entry[0].changes[0].field", "a string"},
      {R"({"entry":[{"changes":[{"field":"messages"}]}]})", "entry[0].changes[0].value", "an object"},
      {R"({"entry":[{"changes":[{"field":"messages","value":[]}]}]})", "entry[0].changes[0].value", "an object"},
      {R"({"entry":[{"changes":[)" + change_ok + R"(]},{"changes":[)" + change_ok +
           R"(,{"field":"x","value":"v"}]}]})",
       "entry[1].changes[1].value", "an object"},
      {group_body("").replace(group_body("").find(R"("groups":[])"), 11, R"("groups":{})"),
       "entry[0].changes[0].value.groups", "an array"},
      {group_body(R"({"group_id":"G","type":"group_suspend"}, "x")", "group_status_update"),
       "entry[0].changes[0].value.groups[1]", "an object"},
      {group_body("null"), "entry[0].changes[0].value.groups[0]", "an object"},
      {body_with("messages", R"({"messages":{"id":"wamid.1"}})"), "entry[0].changes[0].value.messages", "an array"},
      {body_with("messages", R"({"messages":[[]]})"), "entry[0].changes[0].value.messages[0]", "an object"},
      {body_with("messages", R"({"statuses":[{"id":"wamid.1"},7]})"), "entry[0].changes[0].value.statuses[1]",
       "an object"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    require_decode_error(parse_webhook(c.body), c.field, c.limit);
  }
  // What the envelope does not require may be absent or odd.
  auto bare = parse_webhook(R"({"entry":[{"changes":[{"field":"account_update","value":{}}]}]})");
  REQUIRE(bare.ok());
  CHECK(bare->object.empty());
  REQUIRE(bare->events.size() == 1);
  CHECK(context_of(bare->events[0]).waba_id.empty());
  CHECK(parse_webhook(R"({"object":"page","entry":[]})")->events.empty());
  auto numeric_id = parse_webhook(R"({"object":5,"entry":[{"id":102290129340398,"changes":[)" + change_ok + "]}]}");
  REQUIRE(numeric_id.ok());
  CHECK(numeric_id->object == "5");
  CHECK(context_of(numeric_id->events[0]).waba_id == "102290129340398");
}

TEST_CASE("hostile: with a key sent twice, the first occurrence decides", "[webhook][hostile]") {
  const std::string item = R"({"group_id":"G1","type":"group_suspend"})";
  auto r = parse_webhook(body_with("group_status_update", R"({"groups":[)" + item + R"(],"groups":5})"));
  REQUIRE(r.ok());
  REQUIRE(r->events.size() == 1);
  CHECK(std::holds_alternative<GroupSuspended>(r->events[0]));
  require_decode_error(parse_webhook(body_with("group_status_update", R"({"groups":5,"groups":[)" + item + "]}")),
                       "entry[0].changes[0].value.groups", "an array");
  require_decode_error(parse_webhook(body_with("messages", R"({"statuses":[1],"statuses":[]})")),
                       "entry[0].changes[0].value.statuses[0]", "an object");
  auto typed = parse_webhook(group_body(R"({"group_id":"G1","group_id":"G2","type":"group_delete","type":"x"})"));
  REQUIRE(typed.ok());
  const auto& deleted = std::get<GroupDeleted>(typed->events[0]);
  CHECK(deleted.group_id == "G1");
  CHECK(deleted.raw.get("group_id") == std::optional<std::string>("G1"));
  auto status = parse_webhook(body_with("messages", R"({"statuses":[{"id":"wamid.1","status":"read",
      "participant_recipient_id":"155501","recipient_participant_id":"155502"}]})"));
  REQUIRE(status.ok());
  CHECK(std::get<GroupMessageStatus>(status->events[0]).recipient_participant_id ==
        std::optional<std::string>("155502"));  // the documented spelling wins over the other
}

TEST_CASE("hostile: wrong-typed item members are read leniently", "[webhook][hostile]") {
  SECTION("group items") {
    auto r = parse_webhook(group_body(
        R"({"group_id":"G1","type":"group_create","subject":{},"description":[1],"invite_link":null,
            "join_approval_mode":7,"added_participants":{},"errors":"x","request_id":12345},
           {"group_id":"G1","type":"group_participants_remove","initiated_by":3,"removed_participants":"x",
            "failed_participants":[null,true,{"input":"155","errors":{}}],"errors":[1,"e",{"code":"abc"}]},
           {"group_id":"G1","type":"group_settings_update","group_subject":"x","group_description":[],
            "profile_picture":{"update_successful":"yes","errors":5,"mime_type":17}},
           {"group_id":"G1","type":"group_participants_add","added_participants":[null,[],"15550001",15550002,{"wa_id":{}}]},
           {"group_id":"G1","type":"group_join_request_created","wa_id":[],"user_id":{"x":1},"join_request_id":false})"));
    REQUIRE(r.ok());
    REQUIRE(r->events.size() == 5);
    const auto& created = std::get<GroupCreated>(r->events[0]);  // `errors` not an array: not a failure
    CHECK_FALSE(created.subject);
    CHECK_FALSE(created.description);
    CHECK_FALSE(created.invite_link);
    CHECK_FALSE(created.join_approval_mode);
    CHECK(created.added_participants.empty());
    CHECK(created.request_id == std::optional<std::string>("12345"));  // numbers and strings interchange

    const auto& removed = std::get<ParticipantsRemoved>(r->events[1]);
    CHECK(removed.initiated_by == RemovalInitiator::unknown);
    CHECK(removed.initiated_by_raw == std::optional<std::string>("3"));
    CHECK(removed.removed_participants.empty());
    REQUIRE(removed.failed_participants.size() == 1);
    CHECK(removed.failed_participants[0].participant.input == std::optional<std::string>("155"));
    CHECK(removed.failed_participants[0].errors.empty());
    REQUIRE(removed.errors.size() == 1);
    CHECK(removed.errors[0].code == 0);

    const auto& settings = std::get<GroupSettingsUpdated>(r->events[2]);
    CHECK_FALSE(settings.group_subject);
    CHECK_FALSE(settings.group_description);
    REQUIRE(settings.profile_picture);
    CHECK_FALSE(settings.profile_picture->update_successful);
    CHECK(settings.profile_picture->errors.empty());
    CHECK(settings.profile_picture->mime_type == std::optional<std::string>("17"));

    const auto& added = std::get<ParticipantsAdded>(r->events[3]);
    REQUIRE(added.added_participants.size() == 3);
    CHECK(added.added_participants[0].wa_id == std::optional<std::string>("15550001"));
    CHECK(added.added_participants[1].wa_id == std::optional<std::string>("15550002"));
    CHECK_FALSE(added.added_participants[2].wa_id);

    const auto& join = std::get<JoinRequestCreated>(r->events[4]);
    CHECK_FALSE(join.requester.wa_id);
    CHECK_FALSE(join.requester.user_id);
    CHECK(join.join_request_id == std::optional<std::string>("false"));
  }
  SECTION("messages and statuses") {
    auto r = parse_webhook(body_with("messages", R"({"metadata":[],"contacts":{"wa_id":"1"},
        "messages":[{"id":"wamid.1","type":"image","text":"hi","image":"x","context":5,"errors":{},"from":{}},
                    {"id":"wamid.2","type":["text"],"text":{"body":{}}},
                    {"id":"wamid.3","type":"document","document":{"id":9,"filename":[],"caption":null}}],
        "statuses":[{"id":"wamid.4","status":{},"recipient_type":"group","conversation":[],"pricing":"free",
                     "errors":[{}],"recipient_id":["G"]}]})"));
    REQUIRE(r.ok());
    REQUIRE(r->events.size() == 4);
    const auto& m1 = std::get<DirectMessageReceived>(r->events[0]);
    CHECK(context_of(r->events[0]).phone_number_id.empty());
    CHECK(m1.type == "image");
    CHECK_FALSE(m1.text);
    CHECK_FALSE(m1.media_id);
    CHECK_FALSE(m1.reply_to);
    CHECK(m1.errors.empty());
    CHECK_FALSE(m1.from);
    CHECK_FALSE(m1.contact_name);
    const auto& m2 = std::get<DirectMessageReceived>(r->events[1]);
    CHECK(m2.type.empty());
    CHECK_FALSE(m2.text);
    const auto& m3 = std::get<DirectMessageReceived>(r->events[2]);
    CHECK(m3.media_id == std::optional<std::string>("9"));
    CHECK_FALSE(m3.filename);
    CHECK_FALSE(m3.caption);
    const auto& s = std::get<GroupMessageStatus>(r->events[3]);
    CHECK(s.status.empty());
    CHECK(s.delivery_status == DeliveryStatus::unknown);
    CHECK_FALSE(s.conversation_id);
    CHECK_FALSE(s.pricing_category);
    CHECK_FALSE(s.recipient_id);
    CHECK_FALSE(s.group_id);
    REQUIRE(s.errors.size() == 1);
    CHECK(s.errors[0].code == 0);
  }
}

TEST_CASE("hostile: untypable items become UnknownEvents, never empty ids", "[webhook][hostile]") {
  auto r = parse_webhook(group_body(
      R"({"type":"group_suspend"},{"group_id":"","type":"group_delete"},{"group_id":null,"type":"group_create"},
         {"group_id":"G1"},{"group_id":"G1","type":17},{"group_id":"G1","type":"group_exploded"},
         {"type":"group_create","errors":[{"code":131211}]})"));
  REQUIRE(r.ok());
  REQUIRE(r->events.size() == 7);
  for (std::size_t i = 0; i < 6; ++i) {
    CAPTURE(i);
    REQUIRE(std::holds_alternative<UnknownEvent>(r->events[i]));
    CHECK(context_of(r->events[i]).item_index == i);
  }
  CHECK(std::get<UnknownEvent>(r->events[0]).type == std::optional<std::string>("group_suspend"));
  CHECK_FALSE(group_id_of(r->events[1]));
  CHECK_FALSE(std::get<UnknownEvent>(r->events[3]).type);
  CHECK(std::get<UnknownEvent>(r->events[4]).type == std::optional<std::string>("17"));
  CHECK(std::get<UnknownEvent>(r->events[5]).raw.get("type") == std::optional<std::string>("group_exploded"));
  // A failed creation may lack its group id.
  const auto& failed = std::get<GroupCreateFailed>(r->events[6]);
  CHECK_FALSE(failed.group_id);
  REQUIRE(failed.errors.size() == 1);
  CHECK(failed.errors[0].code == 131211);

  auto m = parse_webhook(body_with("messages", R"({"messages":[{"type":"text","from":"1"},{"id":"","type":"text"}],
                                                  "statuses":[{"status":"read"}]})"));
  REQUIRE(m.ok());
  REQUIRE(m->events.size() == 3);
  for (const auto& e : m->events) CHECK(std::holds_alternative<UnknownEvent>(e));
  CHECK(std::get<UnknownEvent>(m->events[0]).raw.get("from") == std::optional<std::string>("1"));
  CHECK(std::get<UnknownEvent>(m->events[2]).type == std::optional<std::string>("read"));
}

TEST_CASE("hostile: max_events holds at its boundary, for built-in and custom events", "[webhook][hostile]") {
  const std::string item = R"({"group_id":"G1","type":"group_suspend"})";
  WebhookLimits limits;
  limits.max_events = 3;
  const WebhookParser parser(limits);
  CHECK(parser.parse(group_body(item + "," + item + "," + item, "group_status_update"))->events.size() == 3);
  require_decode_error(parser.parse(group_body(item + "," + item + "," + item + "," + item, "group_status_update")),
                       "body", "at most 3 events");
  // Split across changes and entries, the count is the body's.
  const std::string two_changes = R"({"entry":[{"changes":[{"field":"a","value":{}},{"field":"b","value":{}}]},
                                               {"changes":[{"field":"c","value":{}},{"field":"d","value":{}}]}]})";
  require_decode_error(parser.parse(two_changes), "body", "at most 3 events");

  WebhookParser custom(limits);
  custom.register_decoder("account_update", [](const WebhookContext&, const RawJson& value) {
    const int n = std::stoi(value.get("n").value_or("0"));
    return Result<std::vector<std::any>>(std::vector<std::any>(static_cast<std::size_t>(n), std::any(n)));
  });
  CHECK(custom.parse(body_with("account_update", R"({"n":3})"))->events.size() == 3);
  require_decode_error(custom.parse(body_with("account_update", R"({"n":4})")), "body", "at most 3 events");
}

TEST_CASE("hostile: a decoder's error rejects the body with that error", "[webhook][hostile]") {
  WebhookParser parser;
  int calls = 0;
  parser.register_decoder("account_update", [&calls](const WebhookContext& context, const RawJson& value) {
    ++calls;
    if (value.get("event") == std::optional<std::string>("BAD"))
      return Result<std::vector<std::any>>(
          Error::malformed_webhook("entry[" + std::to_string(context.entry_index) + "].changes[0].value.event",
                                   "a known event", "host decoder: unknown event"));
    return Result<std::vector<std::any>>(std::vector<std::any>{std::string("ok")});
  });
  const std::string body = R"({"entry":[{"id":"1","changes":[{"field":"account_update","value":{"event":"GOOD"}}]},
                                        {"id":"2","changes":[{"field":"account_update","value":{"event":"BAD"}}]}]})";
  auto r = parser.parse(body);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::decode);
  CHECK(r.error().field == "entry[1].changes[0].value.event");
  CHECK(r.error().limit == "a known event");
  CHECK(r.error().message == "host decoder: unknown event");
  CHECK(calls == 2);
}

namespace {

// parse() leaves `body` alone and gives what parse_in_place() and parse_webhook() give.
void check_parse_agrees_with_parse_in_place(const std::vector<std::string>& bodies) {
  const WebhookParser parser;
  for (const auto& body : bodies) {
    const std::string before = body;
    auto copied = parser.parse(body);
    CHECK(body == before);
    REQUIRE(copied.ok());
    std::string mine = body;
    auto in_place = parser.parse_in_place(std::move(mine));
    REQUIRE(in_place.ok());
    CHECK(describe(*copied) == describe(*in_place));
    CHECK(describe(*copied) == describe(*parse_webhook(body)));
  }
}

}  // namespace

TEST_CASE("hostile: parse leaves its input alone and agrees with parse_in_place", "[webhook][hostile]") {
  check_parse_agrees_with_parse_in_place({group_fixture(),
                                          group_body(R"({"group_id":"G1","type":"group_x","k":[1,{"a":null}]})"),
                                          body_with("calls", R"({"calls":[{"id":"c1","status":"\u0041\n"}]})")});
}

TEST_CASE("hostile: parse agrees with parse_in_place on real group files (conformance corpus)",
          "[webhook][hostile][conformance]") {
  std::vector<std::string> bodies;
  for (const char* file :
       {"restfb/webhook-group-participants-update.json", "restfb/webhook-incoming-message-status-group-bsuid.json",
        "restfb/webhook-incoming-message-text-bsuid.json"}) {
    bodies.push_back(wagroups_test::conformance_file(file));
  }
  check_parse_agrees_with_parse_in_place(bodies);
}

TEST_CASE("hostile: events keep the parsed body alive after the batch is gone", "[webhook][hostile]") {
  RawJson raw;
  std::string expected;
  {
    auto batch = WebhookParser().parse_in_place(std::string(group_fixture()));
    REQUIRE(batch.ok());
    raw = std::get<GroupMessageReceived>(batch->events[2]).raw;
    expected = raw.str();
  }
  CHECK(raw.str() == expected);
  CHECK(raw.at("text").get("body") ==
        std::optional<std::string>("Is the parcel on its way? \xC3\xA9\xC3\xA8 \xF0\x9F\x93\xA6"));
  CHECK(raw.at("nothing").empty());
  CHECK_FALSE(raw.get("text"));  // an object is not text
  CHECK(RawJson().str().empty());
}

TEST_CASE("hostile: one parser serves four threads at once", "[webhook][hostile][concurrent]") {
  const WebhookParser parser;
  const std::string expected = describe(*parser.parse(group_fixture()));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        auto r = parser.parse(group_fixture());
        if (!r.ok() || describe(*r) != expected) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(mismatches == 0);
}

TEST_CASE("hostile: copied and moved-from parsers keep working", "[webhook][hostile]") {
  WebhookLimits limits;
  limits.max_events = 1;
  WebhookParser original(limits);
  WebhookParser copy = original;
  CHECK(copy.limits().max_events == 1);
  WebhookParser moved = std::move(original);
  CHECK(moved.limits().max_events == 1);
  // The moved-from parser behaves as a default one.
  CHECK(original.limits().max_events == WebhookLimits{}.max_events);  // NOLINT(bugprone-use-after-move)
  CHECK(original.parse(group_fixture())->events.size() == 4);         // NOLINT(bugprone-use-after-move)
  require_decode_error(moved.parse(group_fixture()), "body", "at most 1 events");
}

TEST_CASE("hostile: 20,000 seeded mutations of a valid body give a batch or a decode error", "[webhook][hostile]") {
  const WebhookParser parser;
  std::mt19937 rng(20260612);
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  static constexpr char kInteresting[] = "{}[]\",:\\u0123456789eE+-.tfn \t\r\n\x00\x80\xbf\xc3\xed\xf0\xff";
  auto random_byte = [&] {
    if (pick(2) == 0) return kInteresting[pick(sizeof kInteresting - 1)];
    return static_cast<char>(pick(256));
  };
  std::size_t accepted = 0;
  std::size_t refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string body = group_fixture();
    const std::size_t edits = 1 + pick(3);
    for (std::size_t k = 0; k < edits && !body.empty(); ++k) {
      const std::size_t at = pick(body.size());
      switch (pick(6)) {
        case 0: body[at] = random_byte(); break;
        case 1: body[at] = static_cast<char>(body[at] ^ (1 << pick(8))); break;
        case 2: body.resize(at); break;
        case 3: body.insert(at, 1, random_byte()); break;
        case 4: body.erase(at, 1 + pick(8)); break;
        default: body.insert(at, body.substr(pick(body.size()), pick(24))); break;
      }
    }
    const std::string before = body;
    auto r = (i % 2 == 0) ? parser.parse(body) : parser.parse_in_place(std::string(body));
    CHECK(body == before);
    if (r.ok()) {
      ++accepted;
      for (const auto& e : r->events) {
        (void)kind_of(e);
        (void)group_id_of(e);
        std::visit([](const auto& ev) { (void)ev.raw.str(); }, e);
      }
    } else {
      ++refused;
      if (r.error().code != ErrorCode::decode) FAIL("mutation " << i << " gave " << r.error().to_string());
      CHECK_FALSE(r.error().field.empty());
    }
  }
  // Both outcomes occur: the mutations are neither all harmless nor all fatal.
  CHECK(accepted > 500);
  CHECK(refused > 5000);
}

// ---------------------------------------------------------------------------------------------
// The strict reader against RapidJSON's own parser, on the same mutated texts: the same texts are
// accepted, with equal DOMs, except where the reader is stricter on purpose: \u escapes of unpaired
// surrogates (RapidJSON decodes a low one into ill-formed UTF-8), and numbers that round past the
// largest double (RapidJSON 1.1 reads some of those as a finite value).

namespace {

using ReaderDocument = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                                  rapidjson::MemoryPoolAllocator<>>;

// Equal trees, members compared in order (rapidjson's operator== looks members up by name, which
// duplicate names defeat).
bool same_tree(const rapidjson::Value& a, const rapidjson::Value& b) {
  if (a.GetType() != b.GetType()) return false;
  switch (a.GetType()) {
    case rapidjson::kObjectType: {
      if (a.MemberCount() != b.MemberCount()) return false;
      for (auto x = a.MemberBegin(), y = b.MemberBegin(); x != a.MemberEnd(); ++x, ++y) {
        if (!same_tree(x->name, y->name) || !same_tree(x->value, y->value)) return false;
      }
      return true;
    }
    case rapidjson::kArrayType: {
      if (a.Size() != b.Size()) return false;
      for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
        if (!same_tree(a[i], b[i])) return false;
      }
      return true;
    }
    case rapidjson::kStringType:
      return std::string(a.GetString(), a.GetStringLength()) == std::string(b.GetString(), b.GetStringLength());
    case rapidjson::kNumberType:
      if (a.IsDouble() != b.IsDouble()) return false;
      // RapidJSON's default number parsing may be an ulp off (and its full-precision mode misreads
      // integers of more than 20 digits), so doubles agree within a relative 1e-14.
      if (a.IsDouble()) return std::fabs(a.GetDouble() - b.GetDouble()) <= 1e-14 * std::fabs(a.GetDouble());
      return a.IsInt64() == b.IsInt64() && a.IsUint64() == b.IsUint64() &&
             (a.IsInt64() ? a.GetInt64() == b.GetInt64() : a.GetUint64() == b.GetUint64());
    default:
      return true;
  }
}

}  // namespace

TEST_CASE("hostile: the strict reader agrees with RapidJSON on 20,000 mutated texts", "[webhook][hostile]") {
  const std::vector<std::string> seeds = {
      group_fixture(),
      R"([0,-0,1.5e10,-2.5E-3,1e-400,-1e-400,123456789012345678901234,-9223372036854775808,-9223372036854775809,)"
      R"(18446744073709551615,18446744073709551616,0.1,1E2,1e+2,4294967295,4294967296,-2147483648,-2147483649,)"
      R"(2.2250738585072011e-308,4.9e-324,1.7976931348623157e308,true,false,null])",
      R"({"a":"\u00e9\u00E8\ud83d\ude00\n\t\\\"\/\b\f\r","b":"é€😀 राम","c":{"d":[[],{},[{}],""]},"":0})",
      "  {\"x\" :\t[ 1 , 2 ]\r\n, \"y\":{ } }  ",
  };
  static const std::vector<std::string> kInsertions = {
      "\\u", "\\uD800", "\\uDC00", "\\ud83d\\ude00", "\xED\xA0\x80", "\xC0\xAF", "\xF4\x90\x80\x80", "1e400",
      "-", "0", "01", ".5", "1.", "1e", "[", "]", "{", "}", ",", ":", "\"", "\\", "true", "nul", "\t", "\x1f"};
  std::mt19937 rng(424242);
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  std::size_t both_ok = 0;
  std::size_t both_refused = 0;
  std::size_t stricter = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text = seeds[pick(seeds.size())];
    const std::size_t edits = 1 + pick(3);
    for (std::size_t k = 0; k < edits && !text.empty(); ++k) {
      const std::size_t at = pick(text.size());
      switch (pick(5)) {
        case 0: text[at] = static_cast<char>(pick(256)); break;
        case 1: text.insert(at, kInsertions[pick(kInsertions.size())]); break;
        case 2: text.erase(at, 1 + pick(4)); break;
        case 3: text.resize(at); break;
        default: text.insert(at, text.substr(pick(text.size()), pick(16))); break;
      }
    }
    CAPTURE(i, text);
    rapidjson::MemoryPoolAllocator<> pool;
    rapidjson::MemoryPoolAllocator<> stack;
    ReaderDocument ours(&pool, 1024, &stack);
    std::string ours_text = text;  // parsed in place: kept alive while the DOMs are compared
    wagroups::webhook::StrictReader<ReaderDocument> reader(&ours_text[0], ours_text.size(), 1000, ours);
    auto generate = [&reader](ReaderDocument&) { return reader.read(); };
    ours.Populate(generate);
    const auto& failure = reader.failure();
    const bool ours_ok = failure.kind == wagroups::webhook::ReadFailure::Kind::none;

    // A NUL byte: refused here; RapidJSON would read a NUL-terminated text only up to it.
    if (text.find('\0') != std::string::npos) {
      CHECK_FALSE(ours_ok);
      ++both_refused;
      continue;
    }
    // (From a NUL-terminated string: given a length, RapidJSON skips what it takes for a byte
    // order mark, even a partial one.)
    rapidjson::Document theirs;
    theirs.Parse<rapidjson::kParseValidateEncodingFlag>(text.c_str());
    const bool theirs_ok = !theirs.HasParseError();

    if (ours_ok && theirs_ok) {
      ++both_ok;
      if (!same_tree(theirs, ours)) FAIL("different DOMs");
    } else if (!ours_ok && !theirs_ok) {
      ++both_refused;
    } else if (!ours_ok && (failure.kind == wagroups::webhook::ReadFailure::Kind::lone_surrogate ||
                            failure.kind == wagroups::webhook::ReadFailure::Kind::number_too_big)) {
      ++stricter;
    } else {
      FAIL("reader " << (ours_ok ? "accepted" : "refused") << " (kind " << static_cast<int>(failure.kind)
                     << " at " << failure.offset << "), RapidJSON " << (theirs_ok ? "accepted" : "refused"));
    }
  }
  CHECK(both_ok > 1000);
  CHECK(both_refused > 5000);
  CHECK(stricter > 0);
}
