// Issue 10, client side: BSUID recipients (item 1), answers without a request_id (2), the profile
// picture as its own multipart request (3), partial success on join requests (4), small drifts
// (5), number eligibility (7), and path/transport edges (11).

#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "jpeg_builder.hpp"
#include "test_support.hpp"
#include "wagroups/graph_codes.hpp"
#include "wagroups/limits.hpp"
#include "wagroups/tickets/invites.hpp"

using namespace wagroups;
using Catch::Matchers::ContainsSubstring;
using wagroups_test::FakeClient;
using wagroups_test::json_equal;

namespace {

const std::string kBase = "https://graph.facebook.com/v26.0/";
const std::string kPhone = "106540352242922";
const std::string kGroup = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD";
const std::string kBsuid = "US.13491208655302741918";
const std::string kSendOk =
    R"({"messaging_product":"whatsapp","contacts":[{"input":"x"}],"messages":[{"id":"wamid.X"}]})";

CallOptions once() {
  CallOptions c;
  RetryOptions r;
  r.max_attempts = 1;
  c.retry = r;
  return c;
}

template <typename T>
void check_refused_locally(const Result<T>& r, const FakeClient& f, const std::string& field) {
  REQUIRE_FALSE(r.ok());
  INFO("error: " << r.error().to_string());
  CHECK(r.error().code == ErrorCode::invalid_argument);
  CHECK(r.error().field == field);
  CHECK(f.transport->request_count() == 0);
}

std::string graph_error(int code, const std::string& title) {
  return R"({"error":{"message":"(#)" + std::to_string(code) + ") " + title + R"(","type":"OAuthException","code":)" +
         std::to_string(code) + R"(,"fbtrace_id":"T1"}})";
}

TemplateMessage invite_template() {
  TemplateMessage t;
  t.name = "group_invite_link";
  t.language = "en";
  TemplateComponent body;
  body.parameters.push_back(TemplateParameter::invite_link_for(kGroup));
  t.components.push_back(body);
  return t;
}

// A readable square JPEG of exactly `total` bytes: bytes after the image do not change its header.
std::string jpeg_of_size(unsigned side, std::size_t total) {
  std::string b = wagroups_test::jpeg::make_jpeg(side, side);
  REQUIRE(b.size() <= total);
  b.append(total - b.size(), '\0');
  return b;
}

UpdateGroupSettingsRequest picture_request(std::string bytes) {
  UpdateGroupSettingsRequest r;
  r.group_id = kGroup;
  r.profile_picture = ProfilePicture{std::move(bytes), "pic.jpg"};
  return r;
}

std::string boundary_of(const HttpRequest& r) {
  const std::string type(r.header("Content-Type").value_or(""));
  const auto at = type.find("boundary=");
  REQUIRE(type.rfind("multipart/form-data", 0) == 0);
  REQUIRE(at != std::string::npos);
  return type.substr(at + 9);
}

// The names of the parts of a multipart body, in order.
std::vector<std::string> part_names(const std::string& body, const std::string& boundary) {
  std::vector<std::string> names;
  const std::string delimiter = "--" + boundary + "\r\n";
  for (std::size_t at = body.find(delimiter); at != std::string::npos; at = body.find(delimiter, at + 1)) {
    const std::size_t name = body.find("name=\"", at);
    REQUIRE(name != std::string::npos);
    names.push_back(body.substr(name + 6, body.find('"', name + 6) - name - 6));
  }
  return names;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Item 1: BSUID recipients

TEST_CASE("issue10 item 1: 1:1 text sends equal restfb's request fixtures as JSON values", "[issue10][client]") {
  // Every request fixture of a 1:1 message in the corpus. message-template-components.json is a
  // template *definition* (header/body/buttons as approved), not a send, so no encoder produces it.
  struct Case {
    const char* file;
    IndividualRecipient to;
    const char* text;
  };
  const std::vector<Case> cases = {
      {"restfb/send-message-phone-only.json", IndividualRecipient::from_phone("+16505551234"), "hello via phone"},
      {"restfb/send-message-recipient-only.json", IndividualRecipient::from_bsuid(kBsuid), "hello via bsuid"},
      {"restfb/send-message-to-and-recipient.json", IndividualRecipient::from_phone_and_bsuid("+16505551234", kBsuid),
       "hello with fallback"},
  };
  for (const auto& c : cases) {
    INFO(c.file);
    const std::string fixture = wagroups_test::conformance_file(c.file);
    FakeClient f;
    f.transport->enqueue(200, kSendOk);
    REQUIRE(f.client.send_text_to_individual(c.to, c.text).ok());
    const HttpRequest sent = f.transport->last_request();
    CHECK(sent.method == HttpMethod::post);
    CHECK(sent.url == kBase + kPhone + "/messages");
    INFO("sent: " << sent.body);
    CHECK(json_equal(sent.body, fixture));
  }
}

TEST_CASE("issue10 item 1: a 1:1 template goes to `to`, `recipient` or both", "[issue10][client]") {
  const std::string tmpl = R"("type":"template","template":{"name":"group_invite_link",
      "language":{"policy":"deterministic","code":"en"},
      "components":[{"type":"body","parameters":[{"type":"group_id","group_id":")" +
                           kGroup + R"("}]}]})";
  FakeClient f;
  for (int i = 0; i < 5; ++i) f.transport->enqueue(200, kSendOk);

  REQUIRE(f.client.send_template_to_individual(IndividualRecipient::from_bsuid(kBsuid), invite_template()).ok());
  CHECK(json_equal(f.transport->last_request().body,
                   R"({"messaging_product":"whatsapp","recipient":")" + kBsuid + "\"," + tmpl + "}"));

  REQUIRE(f.client
              .send_template_to_individual(IndividualRecipient::from_phone_and_bsuid("+16505551234", kBsuid),
                                           invite_template())
              .ok());
  CHECK(json_equal(f.transport->last_request().body, R"({"messaging_product":"whatsapp","to":"+16505551234",
      "recipient":")" + kBsuid + "\"," + tmpl + "}"));

  // The old string overload: a phone stays in `to`, a BSUID moves to `recipient` (it used to go in `to`).
  REQUIRE(f.client.send_template_to_phone("+16505551234", invite_template()).ok());
  CHECK(json_equal(f.transport->last_request().body,
                   R"({"messaging_product":"whatsapp","to":"+16505551234",)" + tmpl + "}"));
  REQUIRE(f.client.send_template_to_phone(kBsuid, invite_template()).ok());
  CHECK(json_equal(f.transport->last_request().body,
                   R"({"messaging_product":"whatsapp","recipient":")" + kBsuid + "\"," + tmpl + "}"));
}

TEST_CASE("issue10 item 1: recipients are checked before sending", "[issue10][client][validation]") {
  CHECK(looks_like_bsuid(kBsuid));
  CHECK(looks_like_bsuid("US.ENT.11815799212886844830"));  // a parent BSUID
  for (const char* not_bsuid : {"", "US.", "US", "us.123", "U.123", "USA.123", "US.12a", "+16505551234", "US..1"}) {
    INFO(not_bsuid);
    CHECK_FALSE(looks_like_bsuid(not_bsuid));
  }
  {
    FakeClient f;
    check_refused_locally(f.client.send_text_to_individual(IndividualRecipient{}, "hi"), f, "to");
  }
  {
    FakeClient f;
    check_refused_locally(f.client.send_text_to_individual(IndividualRecipient::from_bsuid("16505551234"), "hi"), f,
                          "recipient");
  }
  {
    FakeClient f;
    check_refused_locally(f.client.send_text_to_individual(IndividualRecipient::from_phone("call-me"), "hi"), f, "to");
  }
  {
    FakeClient f;
    check_refused_locally(f.client.send_text_to_individual(IndividualRecipient::from_phone("+1 650"), ""), f, "text");
  }
}

TEST_CASE("issue10 item 1: participant removal accepts BSUIDs in participants[].user", "[issue10][client]") {
  FakeClient f;
  f.transport->enqueue(200, "");
  auto r = f.client.remove_participants({kGroup, {kBsuid, "+16505551234", "US.ENT.11815799212886844830"}});
  REQUIRE(r.ok());
  CHECK(json_equal(f.transport->last_request().body, R"({"messaging_product":"whatsapp","participants":[
      {"user":")" + kBsuid + R"("},{"user":"+16505551234"},{"user":"US.ENT.11815799212886844830"}]})"));
}

// ---------------------------------------------------------------------------------------------
// Item 2: answers with or without a request_id

TEST_CASE("issue10 item 2: every asynchronous answer decodes with or without a request_id", "[issue10][client]") {
  SECTION("create") {
    for (const std::string body : {R"({"messaging_product":"whatsapp","request_id":"R1"})", "{}", ""}) {
      INFO("body: " << body);
      FakeClient f;
      f.transport->enqueue(200, body);
      auto r = f.client.create_group({"Case", std::nullopt, std::nullopt});
      REQUIRE(r.ok());
      const bool has_id = body.find("request_id") != std::string::npos;
      CHECK(r->request_id.has_value() == has_id);
    }
  }
  SECTION("delete") {
    for (const std::string body : {R"({"success":true})", R"({"success":true,"request_id":"R2"})", "{}", ""}) {
      INFO("body: " << body);
      FakeClient f;
      f.transport->enqueue(200, body);
      auto r = f.client.delete_group(kGroup);
      REQUIRE(r.ok());
      CHECK(r->success == (body.find("success") != std::string::npos ? std::optional<bool>(true) : std::nullopt));
    }
  }
  SECTION("settings and remove: empty body, {} or a request_id") {
    for (const std::string body : {"", "{}", R"({"request_id":"R3"})"}) {
      INFO("body: '" << body << "'");
      FakeClient f;
      f.transport->enqueue(200, body);
      f.transport->enqueue(200, body);
      UpdateGroupSettingsRequest settings;
      settings.group_id = kGroup;
      settings.subject = "New";
      auto s = f.client.update_group_settings(settings);
      REQUIRE(s.ok());
      CHECK(s->request_id.has_value() == (body.size() > 2));
      auto removed = f.client.remove_participants({kGroup, {"16505551234"}});
      REQUIRE(removed.ok());
      CHECK_FALSE(removed->partial);
      CHECK(removed->request_id.has_value() == (body.size() > 2));
    }
  }
  SECTION("invite-link delete: success as the string \"true\" or a boolean") {
    for (const std::string body : {R"({"messaging_product":"whatsapp","success":"true"})", R"({"success":true})"}) {
      INFO("body: " << body);
      FakeClient f;
      f.transport->enqueue(200, body);
      auto r = f.client.delete_invite_link(kGroup);
      REQUIRE(r.ok());
      CHECK(r->success == std::optional<bool>(true));
    }
    FakeClient f;
    f.transport->enqueue(200, R"({"success":"false"})");
    auto r = f.client.delete_invite_link(kGroup);
    REQUIRE(r.ok());
    CHECK(r->success == std::optional<bool>(false));
  }
}

// ---------------------------------------------------------------------------------------------
// Item 3: the profile picture

TEST_CASE("issue10 item 3: the picture is its own multipart request with exactly two parts", "[issue10][client]") {
  const std::string jpeg = wagroups_test::jpeg::make_jpeg(640, 640);
  FakeClient f;
  f.transport->enqueue(200, "");
  auto r = f.client.update_group_settings(picture_request(jpeg));
  REQUIRE(r.ok());
  REQUIRE(f.transport->request_count() == 1);
  const HttpRequest sent = f.transport->last_request();
  CHECK(sent.method == HttpMethod::post);
  CHECK(sent.url == kBase + kGroup);
  CHECK(part_names(sent.body, boundary_of(sent)) == std::vector<std::string>{"messaging_product", "file"});
  CHECK_THAT(sent.body, ContainsSubstring("Content-Type: image/jpeg\r\n"));
  CHECK(r->picture.has_value());
  CHECK_FALSE(r->fields.has_value());
  CHECK(r->all_succeeded());
}

TEST_CASE("issue10 item 3: with subject and picture, JSON first, then the picture; both answers kept",
          "[issue10][client]") {
  const std::string jpeg = wagroups_test::jpeg::make_jpeg(192, 192);
  UpdateGroupSettingsRequest req = picture_request(jpeg);
  req.subject = " Renamed ";
  req.description = "About";

  SECTION("both succeed") {
    FakeClient f;
    f.transport->enqueue(200, R"({"request_id":"R-json"})");
    f.transport->enqueue(200, R"({"success":true})");
    auto r = f.client.update_group_settings(req);
    REQUIRE(r.ok());
    const auto sent = f.transport->requests();
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].header("Content-Type") == std::optional<std::string_view>("application/json"));
    CHECK(json_equal(sent[0].body, R"({"messaging_product":"whatsapp","subject":"Renamed","description":"About"})"));
    CHECK(part_names(sent[1].body, boundary_of(sent[1])) == std::vector<std::string>{"messaging_product", "file"});
    CHECK(sent[1].body.find("Renamed") == std::string::npos);
    REQUIRE(r->fields.has_value());
    REQUIRE(r->picture.has_value());
    CHECK(r->fields->request_id == std::optional<std::string>("R-json"));
    CHECK(r->fields->http_status == 200);
    CHECK(r->picture->success == std::optional<bool>(true));
    CHECK(r->request_id == std::optional<std::string>("R-json"));
    CHECK(r->all_succeeded());
  }
  SECTION("the picture fails after the JSON request succeeded: visible as such") {
    FakeClient f;
    f.transport->enqueue(200, R"({"request_id":"R-json"})");
    f.transport->enqueue(400, graph_error(graph_codes::picture_too_small, "Image is Too Small to Process"));
    auto r = f.client.update_group_settings(req, once());
    REQUIRE(r.ok());  // the subject and description were applied: not an Error of the whole call
    CHECK_FALSE(r->all_succeeded());
    REQUIRE(r->fields.has_value());
    CHECK(r->fields->ok());
    REQUIRE(r->picture.has_value());
    REQUIRE(r->picture->error.has_value());
    CHECK(r->picture->error->graph_code() == 131210);
    CHECK(r->picture->http_status == 400);
  }
  SECTION("the JSON request fails: the picture is not sent") {
    FakeClient f;
    f.transport->enqueue(400, graph_error(graph_codes::group_unknown, "Group unknown"));
    auto r = f.client.update_group_settings(req, once());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().graph_code() == 131041);
    CHECK(f.transport->request_count() == 1);
  }
}

TEST_CASE("issue10 item 3: picture boundaries 191/192/193 px and 5 MB +-1 byte", "[issue10][client]") {
  auto try_upload = [](const std::string& bytes) {
    FakeClient f;
    f.transport->enqueue(200, "");
    auto r = f.client.update_group_settings(picture_request(bytes));
    return std::make_pair(r.ok() ? std::string() : r.error().limit, f.transport->request_count());
  };
  CHECK(try_upload(wagroups_test::jpeg::make_jpeg(191, 191)).first == "at least 192x192");
  CHECK(try_upload(wagroups_test::jpeg::make_jpeg(191, 191)).second == 0);
  CHECK(try_upload(wagroups_test::jpeg::make_jpeg(192, 192)) == std::make_pair(std::string(), std::size_t{1}));
  CHECK(try_upload(wagroups_test::jpeg::make_jpeg(193, 193)) == std::make_pair(std::string(), std::size_t{1}));
  CHECK(try_upload(wagroups_test::jpeg::make_jpeg(192, 193)).first == "square (width = height)");

  constexpr std::size_t kFiveMb = 5u * 1024u * 1024u;
  CHECK(limits::picture_max_bytes == kFiveMb);
  CHECK(try_upload(jpeg_of_size(640, kFiveMb - 1)).second == 1);
  CHECK(try_upload(jpeg_of_size(640, kFiveMb)).second == 1);
  const auto over = try_upload(jpeg_of_size(640, kFiveMb + 1));
  CHECK(over.first == "at most 5 MB");
  CHECK(over.second == 0);
  // Not JPEG: refused.
  CHECK(try_upload("\x89PNG\r\n\x1a\n0000").second == 0);
}

// ---------------------------------------------------------------------------------------------
// Item 4: partial success on join requests

TEST_CASE("issue10 item 4: HTTP 206 / 131201 on approve and reject is an outcome, not an error", "[issue10][client]") {
  const std::string partial = R"({"error":{"message":"(#131201) Request partially succeeded","type":"OAuthException",
      "code":131201,"fbtrace_id":"P1"},
    "approved_join_requests":["J1"],"rejected_join_requests":["J1"],
    "failed_join_requests":[{"join_request_id":"J2","errors":[{"code":131203,
      "message":"(#131203) Recipient has not accepted our new Terms of Service and Privacy Policy.",
      "title":"Unable to add participant to group","error_data":{"details":"Terms not accepted"}}]}]})";
  for (bool approve : {true, false}) {
    INFO((approve ? "approve" : "reject"));
    FakeClient f;
    f.transport->enqueue(206, partial);
    JoinRequestsAction action{kGroup, {"J1", "J2", "J3"}};
    auto r = approve ? f.client.approve_join_requests(action) : f.client.reject_join_requests(action);
    REQUIRE(r.ok());
    CHECK(f.transport->request_count() == 1);
    CHECK(r->http_status == 206);
    CHECK(r->partial);
    CHECK_FALSE(r->all_succeeded());
    REQUIRE(r->partial_error.has_value());
    CHECK(r->partial_error->code == graph_codes::partial_success);
    CHECK(r->succeeded == std::vector<std::string>{"J1"});
    REQUIRE(r->failed.size() == 1);
    CHECK(r->failed[0].join_request_id == "J2");
    REQUIRE(r->failed[0].errors.size() == 1);
    CHECK(r->failed[0].errors[0].code == 131203);
    CHECK(r->failed[0].errors[0].details == std::optional<std::string>("Terms not accepted"));
    CHECK(r->unreported == std::vector<std::string>{"J3"});  // named in neither list: unknown
  }
  SECTION("a 206 with only the envelope leaves every id unreported") {
    FakeClient f;
    f.transport->enqueue(206, graph_error(131201, "Request partially succeeded"));
    auto r = f.client.approve_join_requests({kGroup, {"J1", "J2"}});
    REQUIRE(r.ok());
    CHECK(r->partial);
    CHECK(r->unreported == std::vector<std::string>{"J1", "J2"});
  }
  SECTION("a full success is still all_succeeded") {
    FakeClient f;
    f.transport->enqueue(200, R"({"approved_join_requests":["J1","J2"]})");
    auto r = f.client.approve_join_requests({kGroup, {"J1", "J2"}});
    REQUIRE(r.ok());
    CHECK(r->all_succeeded());
    CHECK(r->unreported.empty());
  }
  SECTION("another Graph error inside a 200 is still an error") {
    FakeClient f;
    f.transport->enqueue(200, graph_error(131041, "Group unknown"));
    auto r = f.client.reject_join_requests({kGroup, {"J1"}});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().graph_code() == 131041);
  }
}

// ---------------------------------------------------------------------------------------------
// Item 5: small drifts

TEST_CASE("issue10 item 5: empty lists in every shape decode as empty", "[issue10][client]") {
  for (const std::string body : {R"({"data":{}})", R"({"data":[]})", R"({"data":{"groups":[]}})"}) {
    INFO("body: " << body);
    FakeClient f;
    f.transport->enqueue(200, body);
    auto r = f.client.list_groups();
    REQUIRE(r.ok());
    CHECK(r->groups.empty());
  }
  for (const std::string body : {R"({"data":{}})", R"({"data":[]})"}) {
    INFO("body: " << body);
    FakeClient f;
    f.transport->enqueue(200, body);
    auto r = f.client.list_join_requests({kGroup, {}});
    REQUIRE(r.ok());
    CHECK(r->data.empty());
  }
  // A data object that holds something else is not silently an empty list.
  FakeClient f;
  f.transport->enqueue(200, R"({"data":{"join_requests":[{"join_request_id":"J"}]}})");
  CHECK_FALSE(f.client.list_join_requests({kGroup, {}}).ok());
}

TEST_CASE("issue10 item 5: User-Agent tokens are name/x.y.z", "[issue10][client]") {
  {
    FakeClient f;
    f.transport->enqueue(200, R"({"data":[]})");
    REQUIRE(f.client.list_groups().ok());
    CHECK(f.transport->last_request().header("User-Agent") ==
          std::optional<std::string_view>(std::string("wagroups/") + WAGROUPS_VERSION_STRING));
  }
  {
    auto o = FakeClient::base_options();
    o.user_agent_suffix = "limechat/2.1.0 my_bot-x/10.0.12";
    FakeClient f(1.0, o);
    f.transport->enqueue(200, R"({"data":[]})");
    REQUIRE(f.client.list_groups().ok());
    CHECK(f.transport->last_request().header("User-Agent") ==
          std::optional<std::string_view>(std::string("wagroups/") + WAGROUPS_VERSION_STRING +
                                          " limechat/2.1.0 my_bot-x/10.0.12"));
  }
  for (const char* bad : {"wagroups-cli", "limechat/2.1", "limechat/2.1.0 ", " limechat/2.1.0", "/1.2.3",
                          "a/1.2.3  b/1.2.3", "a/1.2.x", "a b/1.2.3", "a/1.2.3\r\nX-Injected: 1", "a/1..2", "a/.1.2"}) {
    INFO("suffix '" << bad << "'");
    auto o = FakeClient::base_options();
    o.user_agent_suffix = bad;
    FakeClient f(1.0, o);
    check_refused_locally(f.client.list_groups(), f, "user_agent_suffix");
  }
}

TEST_CASE("issue10 item 5: language.policy, default version and the invite parameter", "[issue10][client]") {
  CHECK(ClientOptions{}.api_version == "v26.0");
  FakeClient f;
  f.transport->enqueue(200, kSendOk);
  TemplateMessage t = invite_template();
  t.category = TemplateCategory::utility;
  REQUIRE(f.client.send_template(kGroup, t).ok());
  const HttpRequest sent = f.transport->last_request();
  CHECK(sent.url == "https://graph.facebook.com/v26.0/" + kPhone + "/messages");
  rapidjson::Document doc;
  doc.Parse(sent.body.c_str());
  REQUIRE(doc.IsObject());
  CHECK(std::string(doc["template"]["language"]["policy"].GetString()) == "deterministic");
  // Meta's documented invite parameter, and the invite flow's default.
  const auto& parameter = doc["template"]["components"][0]["parameters"][0];
  REQUIRE(parameter.IsObject());
  CHECK(parameter.MemberCount() == 2);
  CHECK(std::string(parameter["type"].GetString()) == "group_id");
  CHECK(std::string(parameter["group_id"].GetString()) == kGroup);
  CHECK(InviteTemplate{}.link_as_group_id);
}

// ---------------------------------------------------------------------------------------------
// Item 7: number eligibility

TEST_CASE("issue10 item 7: check_number_eligibility reads the number's fields with a GET", "[issue10][client]") {
  FakeClient f;
  f.transport->enqueue(503, "");
  f.transport->enqueue(200, wagroups_test::conformance_file("restfb/phone-number-full-response.json"));
  auto r = f.client.check_number_eligibility();
  REQUIRE(r.ok());
  REQUIRE(f.transport->request_count() == 2);  // a read: retried like the others
  const HttpRequest sent = f.transport->last_request();
  CHECK(sent.method == HttpMethod::get);
  CHECK(sent.body.empty());
  const std::string prefix = kBase + kPhone + "?fields=";
  REQUIRE(sent.url.rfind(prefix, 0) == 0);
  const std::string fields = "," + sent.url.substr(prefix.size()) + ",";
  for (const char* field : {"is_official_business_account", "is_on_biz_app", "platform_type", "messaging_limit_tier",
                            "status", "health_status", "throughput", "display_phone_number", "verified_name"}) {
    INFO(field);
    CHECK(fields.find(std::string(",") + field + ",") != std::string::npos);
  }
}

namespace {
const EligibilityReason& reason_of(const NumberEligibility& v, const std::string& criterion) {
  for (const auto& r : v.reasons) {
    if (r.criterion == criterion) return r;
  }
  FAIL("no reason " << criterion);
  return v.reasons.front();
}

NumberEligibility verdict_for(const std::string& body) {
  FakeClient f;
  f.transport->enqueue(200, body);
  auto r = f.client.check_number_eligibility();
  REQUIRE(r.ok());
  return *r;
}
}  // namespace

TEST_CASE("issue10 item 7: verdicts for restfb's phone-number answers", "[issue10][client]") {
  SECTION("full response: not an OBA, so not eligible") {
    const auto v = verdict_for(wagroups_test::conformance_file("restfb/phone-number-full-response.json"));
    CHECK(v.overall == Eligibility::not_eligible);
    CHECK(v.number.display_phone_number == std::optional<std::string>("+593 99 999 9999"));
    CHECK(v.number.health_can_send_message == std::optional<std::string>("BLOCKED"));
    CHECK(v.number.throughput_level == std::optional<std::string>("STANDARD"));
    CHECK(v.number.status == std::optional<std::string>("CONNECTED"));
    const auto& oba = reason_of(v, "official_business_account");
    CHECK(oba.status == CriterionStatus::not_met);
    CHECK(oba.field == "is_official_business_account");
    CHECK(oba.value == std::optional<std::string>("false"));
    CHECK(reason_of(v, "not_business_app").status == CriterionStatus::met);
    CHECK(reason_of(v, "cloud_api_platform").status == CriterionStatus::met);
    CHECK(reason_of(v, "cloud_api_platform").value == std::optional<std::string>("CLOUD_API"));
    const auto& msc = reason_of(v, "not_multi_solution_conversations");
    CHECK(msc.status == CriterionStatus::unknown);
    CHECK(msc.basis == CriterionBasis::not_readable);
    const auto& tier = reason_of(v, "messaging_limit_tier");
    CHECK(tier.basis == CriterionBasis::advisory);
    CHECK(tier.status != CriterionStatus::not_met);  // TIER_1K: advisory, never a refusal
    CHECK(tier.value == std::optional<std::string>("TIER_1K"));
  }
  SECTION("default response: OBA and business-app fields absent, so unknown") {
    const auto v = verdict_for(wagroups_test::conformance_file("restfb/phone-number-default-response.json"));
    CHECK(v.overall == Eligibility::unknown);
    CHECK(reason_of(v, "official_business_account").status == CriterionStatus::unknown);
    CHECK_FALSE(reason_of(v, "official_business_account").value.has_value());
    CHECK(reason_of(v, "not_business_app").status == CriterionStatus::unknown);
    CHECK(reason_of(v, "cloud_api_platform").status == CriterionStatus::met);
  }
  SECTION("missing lists: nothing known, nothing assumed") {
    const auto v = verdict_for(wagroups_test::conformance_file("restfb/phone-number-missing-lists.json"));
    CHECK(v.overall == Eligibility::unknown);
    for (const auto& r : v.reasons) {
      INFO(r.criterion);
      CHECK(r.status == CriterionStatus::unknown);
      CHECK_FALSE(r.value.has_value());
    }
    CHECK_FALSE(v.number.throughput_level.has_value());
    CHECK_FALSE(v.number.health_can_send_message.has_value());
  }
  SECTION("an eligible number; a business-app number is not") {
    const auto v = verdict_for(R"({"id":"1","is_official_business_account":true,"is_on_biz_app":false,
        "platform_type":"CLOUD_API","messaging_limit_tier":"TIER_100K"})");
    CHECK(v.overall == Eligibility::eligible);
    CHECK(reason_of(v, "messaging_limit_tier").status == CriterionStatus::met);
    CHECK(reason_of(v, "not_multi_solution_conversations").status == CriterionStatus::unknown);
    const auto low = verdict_for(R"({"is_official_business_account":true,"is_on_biz_app":false,
        "platform_type":"CLOUD_API","messaging_limit_tier":"TIER_50"})");
    CHECK(low.overall == Eligibility::eligible);  // the tier never decides
    const auto app = verdict_for(R"({"is_official_business_account":true,"is_on_biz_app":true,
        "platform_type":"CLOUD_API"})");
    CHECK(app.overall == Eligibility::not_eligible);
    CHECK(reason_of(app, "not_business_app").status == CriterionStatus::not_met);
    const auto onprem = verdict_for(R"({"is_official_business_account":true,"is_on_biz_app":false,
        "platform_type":"ON_PREMISE"})");
    CHECK(onprem.overall == Eligibility::not_eligible);
  }
}

// ---------------------------------------------------------------------------------------------
// Item 11: paths and transport

TEST_CASE("issue10 item 11: ids a URL would normalise or restructure are refused before sending",
          "[issue10][client][validation]") {
  const std::vector<std::string> ids = {
      ".", "..", "", "a/b", "../x", "a\\b", "a?b", "a#b", "a%2Fb", "a b", "a\tb", std::string("a\0b", 3), "a\x7f"};
  for (const std::string& id : ids) {
    INFO("id '" << id << "'");
    {
      FakeClient f;
      check_refused_locally(f.client.get_group_info({id, {}}), f, "group_id");
    }
    {
      FakeClient f;
      check_refused_locally(f.client.delete_group(id), f, "group_id");
    }
    {
      FakeClient f;
      check_refused_locally(f.client.get_invite_link(id), f, "group_id");
    }
    {
      FakeClient f;
      check_refused_locally(f.client.list_join_requests({id, {}}), f, "group_id");
    }
    {
      FakeClient f;
      check_refused_locally(f.client.approve_join_requests({id, {"J1"}}), f, "group_id");
    }
    {
      FakeClient f;
      check_refused_locally(f.client.remove_participants({id, {"16505551234"}}), f, "group_id");
    }
    {
      FakeClient f;
      UpdateGroupSettingsRequest u;
      u.group_id = id;
      u.subject = "S";
      check_refused_locally(f.client.update_group_settings(u), f, "group_id");
    }
    {
      auto o = FakeClient::base_options();
      o.phone_number_id = id;
      FakeClient f(1.0, o);
      check_refused_locally(f.client.list_groups(), f, "phone_number_id");
    }
  }
  {
    auto o = FakeClient::base_options();
    o.api_version = "..";
    FakeClient f(1.0, o);
    check_refused_locally(f.client.get_group_info({kGroup, {}}), f, "api_version");
  }
  // Ordinary ids still pass, '@' and '.' inside included.
  FakeClient f;
  f.transport->enqueue(200, R"({"id":"120363418770915618@g.us"})");
  CHECK(f.client.get_group_info({"120363418770915618@g.us", {}}).ok());
}

TEST_CASE("issue10 item 11: a non-HTTPS base_url needs allow_insecure_http", "[issue10][client]") {
  auto o = FakeClient::base_options();
  o.base_url = "http://127.0.0.1:8080";
  {
    FakeClient f(1.0, o);
    check_refused_locally(f.client.list_groups(), f, "base_url");
  }
  o.allow_insecure_http = true;
  {
    FakeClient f(1.0, o);
    f.transport->enqueue(200, R"({"data":[]})");
    CHECK(f.client.list_groups().ok());
  }
  for (const char* other : {"ftp://graph.facebook.com", "graph.facebook.com", "file:///etc", "https://"}) {
    INFO(other);
    o.base_url = other;
    FakeClient f(1.0, o);
    check_refused_locally(f.client.list_groups(), f, "base_url");
  }
  o.allow_insecure_http = false;
  o.base_url = "HTTPS://graph.facebook.com";
  FakeClient f(1.0, o);
  f.transport->enqueue(200, R"({"data":[]})");
  CHECK(f.client.list_groups().ok());

  CHECK(is_loopback_http_url("http://127.0.0.1:8080"));
  CHECK(is_loopback_http_url("http://127.3.4.5"));
  CHECK(is_loopback_http_url("http://[::1]:9000/x"));
  CHECK(is_loopback_http_url("HTTP://localhost:1"));
  for (const char* not_loopback :
       {"https://127.0.0.1", "http://127.0.0.1@evil.example", "http://127.0.0.1.evil.example", "http://128.0.0.1",
        "http://localhost.evil.example", "http://[::1]x", "http://127.0.0.256", "http://evil.example/127.0.0.1"}) {
    INFO(not_loopback);
    CHECK_FALSE(is_loopback_http_url(not_loopback));
  }
}
