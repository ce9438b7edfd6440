// Client-side validation: every rule is checked through the public `Client` API over a
// FakeTransport. A refused call must name the field and the limit, and must never reach the
// transport; the boundary values that are allowed must actually be sent.

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json/rapidjson.hpp"
#include <rapidjson/document.h>

#include "test_support.hpp"
#include "wagroups/client/client.hpp"

using Catch::Matchers::ContainsSubstring;
using wagroups::Client;
using wagroups::ErrorCode;
using wagroups::MessageType;
using wagroups_test::FakeClient;

namespace {

constexpr const char* kToken = "EAAtest-token-123";
constexpr const char* kPhoneNumberId = "106540352242922";
constexpr const char* kGroup = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD";
constexpr const char* kWamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA";
// Two bytes, one character (U+00E9).
constexpr const char* kEAcute = "\xC3\xA9";

// Success bodies written from the shapes in the reference (§3).
const std::string kCreateOk = R"({"messaging_product":"whatsapp","request_id":"106540352242922"})";
const std::string kListGroupsOk =
    R"({"data":{"groups":[{"id":"Y2FwaV9ncm91cDox","subject":"Orders","created_at":"1750269342"}]},)"
    R"("paging":{"cursors":{"after":"MTAxNTExOTQ1MjAwNzI5NDE=","before":"NDMyNzQyODI3OTQw"}}})";
const std::string kJoinRequestsOk =
    R"({"data":[{"join_request_id":"MTY0NjcwNDM1OTU6MTIwMzYzNDA0Njk0MjMzODIw","wa_id":"16505551234",)"
    R"("creation_timestamp":1755548877}],"paging":{"cursors":{"before":"QQ","after":"QQ"}}})";
const std::string kSendOk =
    R"({"messaging_product":"whatsapp","contacts":[{"input":"Y2FwaV9ncm91cDo","wa_id":"Y2FwaV9ncm91cDo"}],)"
    R"("messages":[{"id":"wamid.HBgLM1"}]})";
const std::string kGroupInfoOk = R"({"messaging_product":"whatsapp","id":"Y2FwaV9ncm91cDox","subject":"Orders"})";

std::string repeat(std::string_view unit, std::size_t n) {
  std::string out;
  out.reserve(unit.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += unit;
  return out;
}

// Asserts that `result` is a refusal of kind `code` for `field`, with a limit mentioning
// `limit_contains` (when given), and that nothing reached the transport.
template <typename T>
void check_refused(const wagroups::Result<T>& result, const FakeClient& fc, const std::string& field,
                   const std::string& limit_contains = {}, ErrorCode code = ErrorCode::invalid_argument) {
  REQUIRE_FALSE(result.ok());
  const wagroups::Error& e = result.error();
  INFO("error: " << e.to_string());
  CHECK(e.code == code);
  CHECK(e.field == field);
  CHECK_FALSE(e.limit.empty());
  if (!limit_contains.empty()) CHECK_THAT(e.limit, ContainsSubstring(limit_contains));
  CHECK_FALSE(e.message.empty());
  CHECK_FALSE(e.request_may_have_been_sent);
  CHECK_FALSE(e.is_retryable());
  CHECK(e.attempts == 0);
  CHECK_FALSE(e.graph.has_value());
  CHECK(fc.transport->request_count() == 0);
  // The access token must never leak into an error.
  CHECK(e.message.find(kToken) == std::string::npos);
  CHECK(e.to_string().find(kToken) == std::string::npos);
}

// Asserts that exactly one request was sent and the call succeeded.
template <typename T>
void check_sent(const wagroups::Result<T>& result, const FakeClient& fc) {
  if (!result.ok()) FAIL("unexpected error: " << result.error().to_string());
  CHECK(fc.transport->request_count() == 1);
}

rapidjson::Document body_of(const wagroups::HttpRequest& request) {
  rapidjson::Document doc;
  doc.Parse(request.body.c_str(), request.body.size());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  return doc;
}

// The value of query parameter `key` in `url`, if present.
std::optional<std::string> query_param(const std::string& url, const std::string& key) {
  const auto q = url.find('?');
  if (q == std::string::npos) return std::nullopt;
  std::size_t pos = q + 1;
  while (pos <= url.size()) {
    std::size_t end = url.find('&', pos);
    if (end == std::string::npos) end = url.size();
    const std::string pair = url.substr(pos, end - pos);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) return eq == std::string::npos ? std::string() : pair.substr(eq + 1);
    pos = end + 1;
  }
  return std::nullopt;
}

wagroups::TemplateMessage marketing_template() {
  wagroups::TemplateMessage t;
  t.name = "order_update";
  t.language = "en_US";
  t.category = wagroups::TemplateCategory::marketing;
  t.components.push_back({"body", std::nullopt, std::nullopt, {wagroups::TemplateParameter::text_value("1042")}});
  return t;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Subject

TEST_CASE("subject: 1-128 characters after trimming", "[validation]") {
  SECTION("128 ASCII characters are sent, trimmed") {
    FakeClient fc;
    fc.transport->enqueue(200, kCreateOk);
    const std::string subject = repeat("a", 128);
    auto r = fc.client.create_group({"  " + subject + "\t ", std::nullopt, std::nullopt});
    check_sent(r, fc);
    auto doc = body_of(fc.transport->last_request());
    REQUIRE(doc.HasMember("subject"));
    CHECK(std::string(doc["subject"].GetString()) == subject);
    CHECK(r->request_id == std::optional<std::string>("106540352242922"));
  }
  SECTION("129 characters are refused") {
    FakeClient fc;
    auto r = fc.client.create_group({repeat("a", 129), std::nullopt, std::nullopt});
    check_refused(r, fc, "subject", "128");
  }
  SECTION("whitespace only is refused") {
    FakeClient fc;
    auto r = fc.client.create_group({"   ", std::nullopt, std::nullopt});
    check_refused(r, fc, "subject", "128");
  }
  SECTION("empty is refused") {
    FakeClient fc;
    auto r = fc.client.create_group({"", std::nullopt, std::nullopt});
    check_refused(r, fc, "subject", "128");
  }
  SECTION("128 two-byte characters are allowed: characters, not bytes") {
    FakeClient fc;
    fc.transport->enqueue(200, kCreateOk);
    const std::string subject = repeat(kEAcute, 128);
    REQUIRE(subject.size() == 256);
    auto r = fc.client.create_group({subject, std::nullopt, std::nullopt});
    check_sent(r, fc);
    auto doc = body_of(fc.transport->last_request());
    CHECK(std::string(doc["subject"].GetString()) == subject);
  }
  SECTION("129 two-byte characters are refused") {
    FakeClient fc;
    auto r = fc.client.create_group({repeat(kEAcute, 129), std::nullopt, std::nullopt});
    check_refused(r, fc, "subject", "128");
  }
  SECTION("128 four-byte characters are allowed") {
    FakeClient fc;
    fc.transport->enqueue(200, kCreateOk);
    auto r = fc.client.create_group({repeat("\xF0\x9F\x98\x80", 128), std::nullopt, std::nullopt});
    check_sent(r, fc);
  }
  SECTION("invalid UTF-8 is refused") {
    const std::vector<std::string> bad = {
        "Orders \xC3\x28",        // bad continuation byte
        "Orders \xFF",            // never valid in UTF-8
        "Orders \xC0\xAF",        // overlong '/'
        "Orders \xED\xA0\x80",    // UTF-16 surrogate
        "Orders \xE2\x82",        // truncated sequence
        "Orders \xF4\x90\x80\x80" // past U+10FFFF
    };
    for (const auto& subject : bad) {
      INFO("subject bytes: " << subject.size());
      FakeClient fc;
      auto r = fc.client.create_group({subject, std::nullopt, std::nullopt});
      check_refused(r, fc, "subject");
    }
  }
  SECTION("update: a provided subject must not be empty and must fit") {
    {
      FakeClient fc;
      auto r = fc.client.update_group_settings({kGroup, std::string("  "), std::nullopt, std::nullopt});
      check_refused(r, fc, "subject", "128");
    }
    {
      FakeClient fc;
      auto r = fc.client.update_group_settings({kGroup, repeat("b", 129), std::nullopt, std::nullopt});
      check_refused(r, fc, "subject", "128");
    }
    {
      FakeClient fc;
      fc.transport->enqueue(200, "");
      auto r = fc.client.update_group_settings({kGroup, repeat("b", 128), std::nullopt, std::nullopt});
      check_sent(r, fc);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Description

TEST_CASE("description: at most 2048 characters", "[validation]") {
  SECTION("2048 characters are sent unchanged") {
    FakeClient fc;
    fc.transport->enqueue(200, kCreateOk);
    const std::string description = repeat("d", 2048);
    auto r = fc.client.create_group({"Orders", description, std::nullopt});
    check_sent(r, fc);
    auto doc = body_of(fc.transport->last_request());
    REQUIRE(doc.HasMember("description"));
    CHECK(std::string(doc["description"].GetString()) == description);
  }
  SECTION("2049 characters are refused on create") {
    FakeClient fc;
    auto r = fc.client.create_group({"Orders", repeat("d", 2049), std::nullopt});
    check_refused(r, fc, "description", "2048");
  }
  SECTION("2048 two-byte characters are allowed, 2049 are not") {
    {
      FakeClient fc;
      fc.transport->enqueue(200, kCreateOk);
      auto r = fc.client.create_group({"Orders", repeat(kEAcute, 2048), std::nullopt});
      check_sent(r, fc);
    }
    {
      FakeClient fc;
      auto r = fc.client.create_group({"Orders", repeat(kEAcute, 2049), std::nullopt});
      check_refused(r, fc, "description", "2048");
    }
  }
  SECTION("an empty description is allowed") {
    FakeClient fc;
    fc.transport->enqueue(200, kCreateOk);
    auto r = fc.client.create_group({"Orders", std::string(), std::nullopt});
    check_sent(r, fc);
  }
  SECTION("invalid UTF-8 is refused") {
    FakeClient fc;
    auto r = fc.client.create_group({"Orders", std::string("bad \xC3\x28 byte"), std::nullopt});
    check_refused(r, fc, "description");
  }
  SECTION("update: 2049 refused, 2048 sent as JSON") {
    {
      FakeClient fc;
      auto r = fc.client.update_group_settings({kGroup, std::nullopt, repeat("d", 2049), std::nullopt});
      check_refused(r, fc, "description", "2048");
    }
    {
      FakeClient fc;
      fc.transport->enqueue(200, R"({"success":true})");
      auto r = fc.client.update_group_settings({kGroup, std::nullopt, repeat("d", 2048), std::nullopt});
      check_sent(r, fc);
      const auto req = fc.transport->last_request();
      CHECK(req.method == wagroups::HttpMethod::post);
      CHECK_THAT(std::string(req.header("Content-Type").value_or("")), ContainsSubstring("application/json"));
      auto doc = body_of(req);
      CHECK(doc.HasMember("description"));
      CHECK_FALSE(doc.HasMember("subject"));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Update settings

TEST_CASE("update settings with nothing to update is refused", "[validation]") {
  FakeClient fc;
  auto r = fc.client.update_group_settings({kGroup, std::nullopt, std::nullopt, std::nullopt});
  REQUIRE_FALSE(r.ok());
  const auto& e = r.error();
  CHECK(e.code == ErrorCode::invalid_argument);
  // The field names one of the settings that could have been set.
  CHECK((e.field == "subject" || e.field == "description" || e.field == "profile_picture"));
  CHECK_FALSE(e.limit.empty());
  CHECK(fc.transport->request_count() == 0);
}

// ---------------------------------------------------------------------------------------------
// Participants

TEST_CASE("remove participants: 1-8 unique entries", "[validation]") {
  auto numbers = [](std::size_t n) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back("1650555123" + std::to_string(i));
    return out;
  };
  SECTION("none is refused") {
    FakeClient fc;
    auto r = fc.client.remove_participants({kGroup, {}});
    check_refused(r, fc, "participants", "8");
  }
  SECTION("8 are sent") {
    FakeClient fc;
    fc.transport->enqueue(200, R"({"success":true})");
    auto r = fc.client.remove_participants({kGroup, numbers(8)});
    check_sent(r, fc);
    const auto req = fc.transport->last_request();
    CHECK(req.method == wagroups::HttpMethod::delete_);
    CHECK_THAT(req.url, ContainsSubstring(std::string(kGroup) + "/participants"));
    auto doc = body_of(req);
    REQUIRE(doc.HasMember("participants"));
    REQUIRE(doc["participants"].IsArray());
    CHECK(doc["participants"].Size() == 8);
  }
  SECTION("9 are refused") {
    FakeClient fc;
    auto r = fc.client.remove_participants({kGroup, numbers(9)});
    check_refused(r, fc, "participants", "8");
  }
  SECTION("a duplicate is refused at its index") {
    FakeClient fc;
    auto r = fc.client.remove_participants({kGroup, {"16505551234", "16505551234"}});
    check_refused(r, fc, "participants[1]", "unique");
  }
  SECTION("a duplicate that differs only by surrounding whitespace is refused") {
    FakeClient fc;
    auto r = fc.client.remove_participants({kGroup, {"16505551234", "+15550001111", " 16505551234 "}});
    check_refused(r, fc, "participants[2]", "unique");
  }
  SECTION("a whitespace-only entry is refused at its index") {
    FakeClient fc;
    auto r = fc.client.remove_participants({kGroup, {"16505551234", "   "}});
    check_refused(r, fc, "participants[1]");
  }
  SECTION("an empty first entry is refused at index 0") {
    FakeClient fc;
    auto r = fc.client.remove_participants({kGroup, {"", "16505551234"}});
    check_refused(r, fc, "participants[0]");
  }
}

// ---------------------------------------------------------------------------------------------
// List limits

TEST_CASE("list limit: 1-1024", "[validation]") {
  auto list_groups_with = [](FakeClient& fc, int limit) {
    wagroups::ListGroupsRequest req;
    req.page.limit = limit;
    return fc.client.list_groups(req);
  };
  auto list_join_with = [](FakeClient& fc, int limit) {
    wagroups::ListJoinRequestsRequest req;
    req.group_id = kGroup;
    req.page.limit = limit;
    return fc.client.list_join_requests(req);
  };

  for (int bad : {0, 1025, -1}) {
    INFO("limit " << bad);
    {
      FakeClient fc;
      check_refused(list_groups_with(fc, bad), fc, "limit", "1024");
    }
    {
      FakeClient fc;
      check_refused(list_join_with(fc, bad), fc, "limit", "1024");
    }
  }
  for (int good : {1, 1024}) {
    INFO("limit " << good);
    {
      FakeClient fc;
      fc.transport->enqueue(200, kListGroupsOk);
      auto r = list_groups_with(fc, good);
      check_sent(r, fc);
      CHECK(query_param(fc.transport->last_request().url, "limit") == std::optional<std::string>(std::to_string(good)));
      CHECK(r->groups.size() == 1);
    }
    {
      FakeClient fc;
      fc.transport->enqueue(200, kJoinRequestsOk);
      auto r = list_join_with(fc, good);
      check_sent(r, fc);
      CHECK(query_param(fc.transport->last_request().url, "limit") == std::optional<std::string>(std::to_string(good)));
    }
  }
  SECTION("paged walks refuse a bad page size before sending") {
    {
      FakeClient fc;
      auto r = fc.client.for_each_group([](const wagroups::GroupSummary&) { return true; }, 0);
      check_refused(r, fc, "limit", "1024");
    }
    {
      FakeClient fc;
      auto r = fc.client.list_all_groups(1025);
      check_refused(r, fc, "limit", "1024");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Ids

TEST_CASE("every group operation refuses an empty group_id", "[validation]") {
  using Op = std::function<void(FakeClient&, const std::string&)>;
  // Each op calls one Client method with the given group id and checks the refusal.
  const std::vector<std::pair<const char*, Op>> ops = {
      {"get_group_info",
       [](FakeClient& fc, const std::string& id) { check_refused(fc.client.get_group_info({id, {}}), fc, "group_id"); }},
      {"update_group_settings",
       [](FakeClient& fc, const std::string& id) {
         check_refused(fc.client.update_group_settings({id, std::string("New subject"), std::nullopt, std::nullopt}),
                       fc, "group_id");
       }},
      {"delete_group",
       [](FakeClient& fc, const std::string& id) { check_refused(fc.client.delete_group(id), fc, "group_id"); }},
      {"get_invite_link",
       [](FakeClient& fc, const std::string& id) { check_refused(fc.client.get_invite_link(id), fc, "group_id"); }},
      {"reset_invite_link",
       [](FakeClient& fc, const std::string& id) { check_refused(fc.client.reset_invite_link(id), fc, "group_id"); }},
      {"delete_invite_link",
       [](FakeClient& fc, const std::string& id) { check_refused(fc.client.delete_invite_link(id), fc, "group_id"); }},
      {"list_join_requests",
       [](FakeClient& fc, const std::string& id) {
         check_refused(fc.client.list_join_requests({id, {}}), fc, "group_id");
       }},
      {"list_all_join_requests",
       [](FakeClient& fc, const std::string& id) {
         check_refused(fc.client.list_all_join_requests(id), fc, "group_id");
       }},
      {"approve_join_requests",
       [](FakeClient& fc, const std::string& id) {
         check_refused(fc.client.approve_join_requests({id, {"J1"}}), fc, "group_id");
       }},
      {"reject_join_requests",
       [](FakeClient& fc, const std::string& id) {
         check_refused(fc.client.reject_join_requests({id, {"J1"}}), fc, "group_id");
       }},
      {"remove_participants",
       [](FakeClient& fc, const std::string& id) {
         check_refused(fc.client.remove_participants({id, {"16505551234"}}), fc, "group_id");
       }},
      {"send_text",
       [](FakeClient& fc, const std::string& id) { check_refused(fc.client.send_text(id, "hello"), fc, "group_id"); }},
      {"send_media",
       [](FakeClient& fc, const std::string& id) {
         check_refused(fc.client.send_media(id, MessageType::image, wagroups::MediaRef::from_id("1234")), fc,
                       "group_id");
       }},
      {"send_template",
       [](FakeClient& fc, const std::string& id) {
         check_refused(fc.client.send_template(id, marketing_template()), fc, "group_id");
       }},
      {"pin_message",
       [](FakeClient& fc, const std::string& id) { check_refused(fc.client.pin_message(id, kWamid, 7), fc, "group_id"); }},
      {"unpin_message",
       [](FakeClient& fc, const std::string& id) { check_refused(fc.client.unpin_message(id, kWamid), fc, "group_id"); }},
  };
  for (const auto& [name, op] : ops) {
    for (const std::string id : {"", "   "}) {
      INFO(name << " with group_id '" << id << "'");
      FakeClient fc;
      op(fc, id);
    }
  }
}

TEST_CASE("pin needs a message id", "[validation]") {
  FakeClient fc;
  auto r = fc.client.pin_message(kGroup, "", 7);
  check_refused(r, fc, "pin.message_id");
  FakeClient fc2;
  auto r2 = fc2.client.unpin_message(kGroup, " ");
  check_refused(r2, fc2, "pin.message_id");
}

// ---------------------------------------------------------------------------------------------
// Pin

TEST_CASE("pin expiration_days: 1-30, required to pin, not to unpin", "[validation]") {
  for (int bad : {0, 31, -5}) {
    INFO("expiration_days " << bad);
    FakeClient fc;
    check_refused(fc.client.pin_message(kGroup, kWamid, bad), fc, "pin.expiration_days", "30");
  }
  SECTION("unset is refused") {
    FakeClient fc;
    wagroups::GroupMessage m;
    m.group_id = kGroup;
    m.type = MessageType::pin;
    m.pin = wagroups::PinMessage{wagroups::PinOperation::pin, kWamid, std::nullopt};
    check_refused(fc.client.send_group_message(m), fc, "pin.expiration_days", "30");
  }
  for (int good : {1, 30}) {
    INFO("expiration_days " << good);
    FakeClient fc;
    fc.transport->enqueue(200, kSendOk);
    auto r = fc.client.pin_message(kGroup, kWamid, good);
    check_sent(r, fc);
    auto doc = body_of(fc.transport->last_request());
    CHECK(std::string(doc["type"].GetString()) == "pin");
    CHECK(std::string(doc["recipient_type"].GetString()) == "group");
    CHECK(std::string(doc["to"].GetString()) == kGroup);
    REQUIRE(doc["pin"].IsObject());
    CHECK(std::string(doc["pin"]["type"].GetString()) == "pin");
    CHECK(std::string(doc["pin"]["message_id"].GetString()) == kWamid);
    REQUIRE(doc["pin"].HasMember("expiration_days"));
    REQUIRE(doc["pin"]["expiration_days"].IsInt());
    CHECK(doc["pin"]["expiration_days"].GetInt() == good);
  }
  SECTION("unpin is sent without expiration_days") {
    FakeClient fc;
    fc.transport->enqueue(200, kSendOk);
    auto r = fc.client.unpin_message(kGroup, kWamid);
    check_sent(r, fc);
    auto doc = body_of(fc.transport->last_request());
    REQUIRE(doc["pin"].IsObject());
    CHECK(std::string(doc["pin"]["type"].GetString()) == "unpin");
    CHECK_FALSE(doc["pin"].HasMember("expiration_days"));
  }
}

// ---------------------------------------------------------------------------------------------
// Join requests

TEST_CASE("join request ids: at least one, none empty, no duplicates", "[validation]") {
  using Action = wagroups::Result<wagroups::JoinRequestsOutcome> (Client::*)(const wagroups::JoinRequestsAction&,
                                                                             const wagroups::CallOptions&) const;
  for (Action action : {&Client::approve_join_requests, &Client::reject_join_requests}) {
    {
      FakeClient fc;
      check_refused((fc.client.*action)({kGroup, {}}, {}), fc, "join_request_ids");
    }
    {
      FakeClient fc;
      check_refused((fc.client.*action)({kGroup, {"J1", "J1"}}, {}), fc, "join_request_ids[1]", "unique");
    }
    {
      FakeClient fc;
      check_refused((fc.client.*action)({kGroup, {"J1", ""}}, {}), fc, "join_request_ids[1]");
    }
    {
      FakeClient fc;
      check_refused((fc.client.*action)({kGroup, {"J1", "J2", "  "}}, {}), fc, "join_request_ids[2]");
    }
  }
  SECTION("two distinct ids are sent") {
    FakeClient fc;
    fc.transport->enqueue(200, R"({"messaging_product":"whatsapp","approved_join_requests":["J1","J2"]})");
    auto r = fc.client.approve_join_requests({kGroup, {"J1", "J2"}});
    check_sent(r, fc);
    CHECK(r->succeeded == std::vector<std::string>{"J1", "J2"});
    auto doc = body_of(fc.transport->last_request());
    REQUIRE(doc["join_requests"].IsArray());
    CHECK(doc["join_requests"].Size() == 2);
  }
}

// ---------------------------------------------------------------------------------------------
// Message types

TEST_CASE("unsupported message types are refused as unsupported", "[validation]") {
  const std::vector<std::pair<MessageType, std::string>> types = {{MessageType::interactive, "interactive"},
                                                                  {MessageType::reaction, "reaction"},
                                                                  {MessageType::location, "location"},
                                                                  {MessageType::contacts, "contacts"}};
  for (const auto& [type, name] : types) {
    INFO("type " << name);
    FakeClient fc;
    wagroups::GroupMessage m;
    m.group_id = kGroup;
    m.type = type;
    m.text = "hello";  // irrelevant payload: the type alone decides
    auto r = fc.client.send_group_message(m);
    check_refused(r, fc, "type", {}, ErrorCode::unsupported);
    CHECK_THAT(r.error().message, ContainsSubstring(name));
    // send_media with the same type is refused the same way.
    FakeClient fc2;
    auto r2 = fc2.client.send_media(kGroup, type, wagroups::MediaRef::from_id("1234"));
    check_refused(r2, fc2, "type", {}, ErrorCode::unsupported);
  }
}

TEST_CASE("authentication templates are unsupported in groups", "[validation]") {
  wagroups::TemplateMessage t = marketing_template();
  t.name = "otp_code";
  t.category = wagroups::TemplateCategory::authentication;
  {
    FakeClient fc;
    auto r = fc.client.send_template(kGroup, t);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::unsupported);
    CHECK_THAT(r.error().field, Catch::Matchers::StartsWith("template"));
    CHECK_THAT(r.error().message, ContainsSubstring("authentication"));
    CHECK(fc.transport->request_count() == 0);
  }
  SECTION("a group template without a category is refused: it could be an authentication one") {
    FakeClient fc;
    wagroups::TemplateMessage unknown = marketing_template();
    unknown.category.reset();
    check_refused(fc.client.send_template(kGroup, unknown), fc, "template.category");
  }
  SECTION("marketing and utility categories are sent") {
    for (auto category : {std::optional<wagroups::TemplateCategory>(wagroups::TemplateCategory::marketing),
                          std::optional<wagroups::TemplateCategory>(wagroups::TemplateCategory::utility)}) {
      FakeClient fc;
      fc.transport->enqueue(200, kSendOk);
      wagroups::TemplateMessage ok = marketing_template();
      ok.category = category;
      auto r = fc.client.send_template(kGroup, ok);
      check_sent(r, fc);
      auto doc = body_of(fc.transport->last_request());
      CHECK(std::string(doc["type"].GetString()) == "template");
      CHECK(std::string(doc["template"]["name"].GetString()) == "order_update");
    }
  }
  SECTION("1:1 sends of an authentication template are not refused") {
    FakeClient fc;
    fc.transport->enqueue(200, kSendOk);
    auto r = fc.client.send_template_to_phone("+16505551234", t);
    check_sent(r, fc);
    auto doc = body_of(fc.transport->last_request());
    CHECK_FALSE(doc.HasMember("recipient_type"));  // Meta's default, individual
    CHECK(std::string(doc["to"].GetString()) == "+16505551234");
  }
}

TEST_CASE("template name must be set", "[validation]") {
  wagroups::TemplateMessage t = marketing_template();
  t.name = "";
  {
    FakeClient fc;
    check_refused(fc.client.send_template(kGroup, t), fc, "template.name");
  }
  {
    FakeClient fc;
    check_refused(fc.client.send_template_to_phone("+16505551234", t), fc, "template.name");
  }
}

TEST_CASE("send_template_to_phone needs a recipient", "[validation]") {
  for (const std::string phone : {"", "   "}) {
    FakeClient fc;
    check_refused(fc.client.send_template_to_phone(phone, marketing_template()), fc, "to");
  }
  SECTION("a phone number is sent to that number") {
    FakeClient fc;
    fc.transport->enqueue(200, kSendOk);
    auto r = fc.client.send_template_to_phone("16505551234", marketing_template());
    check_sent(r, fc);
    auto doc = body_of(fc.transport->last_request());
    CHECK(std::string(doc["to"].GetString()) == "16505551234");
  }
}

// ---------------------------------------------------------------------------------------------
// Media

TEST_CASE("media: exactly one of id or link", "[validation]") {
  {
    FakeClient fc;
    check_refused(fc.client.send_media(kGroup, MessageType::image, wagroups::MediaRef{}), fc, "media", "link");
  }
  {
    FakeClient fc;
    wagroups::MediaRef both = wagroups::MediaRef::from_id("1234");
    both.link = "https://example.com/a.jpg";
    check_refused(fc.client.send_media(kGroup, MessageType::image, both), fc, "media", "link");
  }
  {
    FakeClient fc;
    wagroups::GroupMessage m;
    m.group_id = kGroup;
    m.type = MessageType::video;  // media type without a media object
    check_refused(fc.client.send_group_message(m), fc, "media");
  }
  SECTION("by id and by link are sent") {
    {
      FakeClient fc;
      fc.transport->enqueue(200, kSendOk);
      check_sent(fc.client.send_media(kGroup, MessageType::image, wagroups::MediaRef::from_id("1234")), fc);
      auto doc = body_of(fc.transport->last_request());
      CHECK(std::string(doc["type"].GetString()) == "image");
      CHECK(std::string(doc["image"]["id"].GetString()) == "1234");
    }
    {
      FakeClient fc;
      fc.transport->enqueue(200, kSendOk);
      check_sent(fc.client.send_media(kGroup, MessageType::sticker,
                                      wagroups::MediaRef::from_link("https://example.com/s.webp")),
                 fc);
      auto doc = body_of(fc.transport->last_request());
      CHECK(std::string(doc["sticker"]["link"].GetString()) == "https://example.com/s.webp");
    }
  }
}

TEST_CASE("media: caption only on image, video, document; filename only on document", "[validation]") {
  for (MessageType type : {MessageType::audio, MessageType::sticker}) {
    INFO("type " << wagroups::to_string(type));
    FakeClient fc;
    wagroups::MediaRef media = wagroups::MediaRef::from_id("1234");
    media.caption = "look";
    check_refused(fc.client.send_media(kGroup, type, media), fc, "media.caption");
  }
  for (MessageType type : {MessageType::image, MessageType::video, MessageType::audio, MessageType::sticker}) {
    INFO("type " << wagroups::to_string(type));
    FakeClient fc;
    wagroups::MediaRef media = wagroups::MediaRef::from_id("1234");
    media.filename = "invoice.pdf";
    check_refused(fc.client.send_media(kGroup, type, media), fc, "media.filename");
  }
  SECTION("an over-long caption is refused") {
    FakeClient fc;
    wagroups::MediaRef media = wagroups::MediaRef::from_id("1234");
    media.caption = repeat("c", 1025);
    check_refused(fc.client.send_media(kGroup, MessageType::image, media), fc, "media.caption", "1024");
  }
  SECTION("a document with caption and filename is sent") {
    FakeClient fc;
    fc.transport->enqueue(200, kSendOk);
    wagroups::MediaRef media = wagroups::MediaRef::from_link("https://example.com/invoice.pdf");
    media.caption = "Invoice";
    media.filename = "invoice.pdf";
    auto r = fc.client.send_media(kGroup, MessageType::document, media);
    check_sent(r, fc);
    auto doc = body_of(fc.transport->last_request());
    CHECK(std::string(doc["document"]["caption"].GetString()) == "Invoice");
    CHECK(std::string(doc["document"]["filename"].GetString()) == "invoice.pdf");
  }
}

// ---------------------------------------------------------------------------------------------
// Text

TEST_CASE("text: 1-4096 characters", "[validation]") {
  {
    FakeClient fc;
    check_refused(fc.client.send_text(kGroup, ""), fc, "text", "4096");
  }
  {
    FakeClient fc;
    check_refused(fc.client.send_text(kGroup, repeat("t", 4097)), fc, "text", "4096");
  }
  {
    FakeClient fc;
    check_refused(fc.client.send_text(kGroup, repeat(kEAcute, 4097)), fc, "text", "4096");
  }
  {
    FakeClient fc;
    check_refused(fc.client.send_text(kGroup, "bad \xC3\x28"), fc, "text");
  }
  {
    FakeClient fc;
    wagroups::GroupMessage m;
    m.group_id = kGroup;
    m.type = MessageType::text;  // no text at all
    check_refused(fc.client.send_group_message(m), fc, "text");
  }
  SECTION("4096 characters (ASCII or two-byte) are sent") {
    for (const std::string& body : {repeat("t", 4096), repeat(kEAcute, 4096)}) {
      FakeClient fc;
      fc.transport->enqueue(200, kSendOk);
      auto r = fc.client.send_text(kGroup, body, true);
      check_sent(r, fc);
      CHECK(r->message_id() == "wamid.HBgLM1");
      const auto req = fc.transport->last_request();
      CHECK(req.url == std::string("https://graph.facebook.com/v26.0/") + kPhoneNumberId + "/messages");
      auto doc = body_of(req);
      CHECK(std::string(doc["recipient_type"].GetString()) == "group");
      CHECK(std::string(doc["to"].GetString()) == kGroup);
      CHECK(std::string(doc["text"]["body"].GetString()) == body);
      CHECK(doc["text"]["preview_url"].GetBool());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Client options

TEST_CASE("missing credentials in ClientOptions are refused before sending", "[validation]") {
  SECTION("no access token") {
    auto options = FakeClient::base_options();
    options.access_token.clear();
    {
      FakeClient fc(1.0, options);
      check_refused(fc.client.create_group({"Orders", std::nullopt, std::nullopt}), fc, "access_token");
    }
    {
      FakeClient fc(1.0, options);
      check_refused(fc.client.get_group_info({kGroup, {}}), fc, "access_token");
    }
    {
      FakeClient fc(1.0, options);
      check_refused(fc.client.send_text(kGroup, "hello"), fc, "access_token");
    }
    {
      FakeClient fc(1.0, options);
      check_refused(fc.client.delete_group(kGroup), fc, "access_token");
    }
  }
  SECTION("no phone number id, for the operations that need one") {
    for (const std::string id : {"", "  "}) {
      auto options = FakeClient::base_options();
      options.phone_number_id = id;
      {
        FakeClient fc(1.0, options);
        check_refused(fc.client.create_group({"Orders", std::nullopt, std::nullopt}), fc, "phone_number_id");
      }
      {
        FakeClient fc(1.0, options);
        check_refused(fc.client.list_groups(), fc, "phone_number_id");
      }
      {
        FakeClient fc(1.0, options);
        check_refused(fc.client.send_text(kGroup, "hello"), fc, "phone_number_id");
      }
      {
        FakeClient fc(1.0, options);
        check_refused(fc.client.send_template_to_phone("16505551234", marketing_template()), fc, "phone_number_id");
      }
      {
        // Group-scoped operations do not need it.
        FakeClient fc(1.0, options);
        fc.transport->enqueue(200, kGroupInfoOk);
        auto r = fc.client.get_group_info({kGroup, {}});
        check_sent(r, fc);
        CHECK(r->id == "Y2FwaV9ncm91cDox");
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Happy paths: one per rule group, to show valid input is really sent

TEST_CASE("valid requests reach the transport once", "[validation]") {
  SECTION("create group") {
    FakeClient fc;
    fc.transport->enqueue(200, kCreateOk);
    auto r = fc.client.create_group(
        {"New Purchase Inquiry", std::string("Questions about order #1042"), wagroups::JoinApprovalMode::approval_required});
    check_sent(r, fc);
    const auto req = fc.transport->last_request();
    CHECK(req.method == wagroups::HttpMethod::post);
    CHECK(req.url == std::string("https://graph.facebook.com/v26.0/") + kPhoneNumberId + "/groups");
    CHECK(std::string(req.header("Authorization").value_or("")) == std::string("Bearer ") + kToken);
    auto doc = body_of(req);
    CHECK(std::string(doc["messaging_product"].GetString()) == "whatsapp");
    CHECK(std::string(doc["join_approval_mode"].GetString()) == "approval_required");
  }
  SECTION("remove participants") {
    FakeClient fc;
    fc.transport->enqueue(200, R"({"success":true})");
    check_sent(fc.client.remove_participants({kGroup, {"+16505551234"}}), fc);
  }
  SECTION("reject join requests") {
    FakeClient fc;
    fc.transport->enqueue(200, R"({"messaging_product":"whatsapp","rejected_join_requests":["J1"]})");
    auto r = fc.client.reject_join_requests({kGroup, {"J1"}});
    check_sent(r, fc);
    CHECK(r->all_succeeded());
  }
  SECTION("group-id operations") {
    FakeClient fc;
    fc.transport->enqueue(200, R"({"messaging_product":"whatsapp","invite_link":"https://chat.whatsapp.com/AbC123"})");
    auto r = fc.client.reset_invite_link(kGroup);
    check_sent(r, fc);
    CHECK(r->invite_link == "https://chat.whatsapp.com/AbC123");
  }
}

// Unicode space separators (U+00A0, U+3000, U+2003, ...) are trimmed like ASCII whitespace.
TEST_CASE("a subject of Unicode whitespace only is refused", "[validation]") {
  for (const std::string subject : {"\xC2\xA0\xC2\xA0", "\xE3\x80\x80", " \xE2\x80\x83 "}) {
    FakeClient fc;
    fc.transport->enqueue(200, kCreateOk);  // so that a wrongly accepted subject is not retried
    auto r = fc.client.create_group({subject, std::nullopt, std::nullopt});
    CHECK_FALSE(r.ok());
    if (!r.ok()) {
      CHECK(r.error().code == ErrorCode::invalid_argument);
      CHECK(r.error().field == "subject");
    }
    CHECK(fc.transport->request_count() == 0);
  }
}

TEST_CASE("ids with surrounding whitespace or control characters are refused, not trimmed", "[validation]") {
  for (const char* id : {" G1", "G1 ", "G1\n", "G\t1"}) {
    FakeClient fc;
    check_refused(fc.client.get_invite_link(id), fc, "group_id");
  }
  FakeClient fc;
  check_refused(fc.client.approve_join_requests({kGroup, {"J1", " J2"}}), fc, "join_request_ids[1]");
}

TEST_CASE("one phone number written two ways is a duplicate participant", "[validation]") {
  FakeClient fc;
  check_refused(fc.client.remove_participants({kGroup, {"+1 (650) 555-1234", "16505551234"}}), fc, "participants[1]");
  FakeClient other;
  other.transport->enqueue(200, "");
  // A BSUID and a phone are different keys, even when their digits coincide.
  auto r = other.client.remove_participants({kGroup, {"US.16505551234", "16505551234"}});
  check_sent(r, other);
}
