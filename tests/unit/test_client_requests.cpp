// Every Client operation sends exactly the documented method, path, query, headers and body.

#include <atomic>
#include <thread>

#include <catch2/catch_test_macros.hpp>

#include "test_support.hpp"

using namespace wagroups;
using wagroups_test::FakeClient;
using wagroups_test::json_equal;

namespace {

const std::string kBase = "https://graph.facebook.com/v26.0/";
const std::string kPhone = "106540352242922";
const std::string kGroup = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD";
const std::string kSendOk =
    R"({"messaging_product":"whatsapp","contacts":[{"input":"G","wa_id":"G"}],"messages":[{"id":"wamid.HBgLM1"}]})";

void check_common_headers(const HttpRequest& r, bool has_body) {
  CHECK(r.header("Authorization") == std::optional<std::string_view>("Bearer EAAtest-token-123"));
  CHECK(r.header("Accept") == std::optional<std::string_view>("application/json"));
  REQUIRE(r.header("User-Agent"));
  CHECK(r.header("User-Agent")->substr(0, 9) == "wagroups/");
  if (has_body) {
    CHECK(r.header("Content-Type") == std::optional<std::string_view>("application/json"));
  } else {
    CHECK_FALSE(r.header("Content-Type"));
    CHECK(r.body.empty());
  }
}

}  // namespace

TEST_CASE("create_group posts subject, description and approval mode", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"messaging_product":"whatsapp","request_id":"106540352242922"})");
  auto r = f.client.create_group({"  New Purchase Inquiry  ", "Order 1042", JoinApprovalMode::approval_required});
  REQUIRE(r.ok());
  CHECK(r->request_id == std::optional<std::string>("106540352242922"));
  auto req = f.transport->last_request();
  CHECK(req.method == HttpMethod::post);
  CHECK(req.url == kBase + kPhone + "/groups");
  check_common_headers(req, true);
  CHECK(json_equal(req.body, R"({"messaging_product":"whatsapp","subject":"New Purchase Inquiry",
                                 "description":"Order 1042","join_approval_mode":"approval_required"})"));
}

TEST_CASE("create_group omits unset optional fields and accepts an empty answer", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, "");
  auto r = f.client.create_group({"Case 7", std::nullopt, std::nullopt});
  REQUIRE(r.ok());
  CHECK_FALSE(r->request_id);
  CHECK(json_equal(f.transport->last_request().body, R"({"messaging_product":"whatsapp","subject":"Case 7"})"));
}

TEST_CASE("list_groups sends limit and cursors in the query", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"data":{"groups":[]},"paging":{"cursors":{}}})");
  ListGroupsRequest req;
  req.page.limit = 50;
  req.page.after = "MTAxNTExOTQ1MjAwNzI5NDE=";
  REQUIRE(f.client.list_groups(req).ok());
  auto sent = f.transport->last_request();
  CHECK(sent.method == HttpMethod::get);
  CHECK(sent.url == kBase + kPhone + "/groups?limit=50&after=MTAxNTExOTQ1MjAwNzI5NDE%3D");
  check_common_headers(sent, false);

  f.transport->enqueue(200, R"({"data":{"groups":[]}})");
  ListGroupsRequest before;
  before.page.before = "NDMy";
  REQUIRE(f.client.list_groups(before).ok());
  CHECK(f.transport->last_request().url == kBase + kPhone + "/groups?before=NDMy");

  f.transport->enqueue(200, R"({"data":{"groups":[]}})");
  REQUIRE(f.client.list_groups().ok());
  CHECK(f.transport->last_request().url == kBase + kPhone + "/groups");
}

TEST_CASE("get_group_info selects all fields by default, or the ones asked for", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"id":"G1","messaging_product":"whatsapp"})");
  REQUIRE(f.client.get_group_info({kGroup, {}}).ok());
  auto sent = f.transport->last_request();
  CHECK(sent.method == HttpMethod::get);
  CHECK(sent.url == kBase + kGroup +
                        "?fields=subject,description,participants,total_participant_count,suspended,"
                        "creation_timestamp,join_approval_mode");
  check_common_headers(sent, false);

  f.transport->enqueue(200, R"({"id":"G1"})");
  REQUIRE(f.client.get_group_info({"120363418770915618@g.us", {GroupField::subject, GroupField::participants}}).ok());
  CHECK(f.transport->last_request().url == kBase + "120363418770915618%40g.us?fields=subject,participants");
}

TEST_CASE("update_group_settings posts JSON when there is no picture", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"request_id":"R-settings"})");
  UpdateGroupSettingsRequest req;
  req.group_id = kGroup;
  req.subject = " Renamed ";
  req.description = "New description";
  auto r = f.client.update_group_settings(req);
  REQUIRE(r.ok());
  CHECK(r->request_id == std::optional<std::string>("R-settings"));
  auto sent = f.transport->last_request();
  CHECK(sent.method == HttpMethod::post);
  CHECK(sent.url == kBase + kGroup);
  check_common_headers(sent, true);
  CHECK(json_equal(sent.body, R"({"messaging_product":"whatsapp","subject":"Renamed","description":"New description"})"));
}

TEST_CASE("delete_group sends DELETE without a body", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"success":true})");
  auto r = f.client.delete_group(kGroup);
  REQUIRE(r.ok());
  CHECK(r->success == std::optional<bool>(true));
  auto sent = f.transport->last_request();
  CHECK(sent.method == HttpMethod::delete_);
  CHECK(sent.url == kBase + kGroup);
  check_common_headers(sent, false);
}

TEST_CASE("invite link: GET to read, POST to reset, DELETE to delete", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"messaging_product":"whatsapp","invite_link":"https://chat.whatsapp.com/AAA"})");
  auto got = f.client.get_invite_link(kGroup);
  REQUIRE(got.ok());
  CHECK(got->invite_link == "https://chat.whatsapp.com/AAA");
  CHECK(f.transport->last_request().method == HttpMethod::get);
  CHECK(f.transport->last_request().url == kBase + kGroup + "/invite_link");
  check_common_headers(f.transport->last_request(), false);

  f.transport->enqueue(200, R"({"messaging_product":"whatsapp","invite_link":"https://chat.whatsapp.com/BBB"})");
  auto reset = f.client.reset_invite_link(kGroup);
  REQUIRE(reset.ok());
  CHECK(reset->invite_link == "https://chat.whatsapp.com/BBB");
  CHECK(f.transport->last_request().method == HttpMethod::post);
  CHECK(f.transport->last_request().url == kBase + kGroup + "/invite_link");
  CHECK(json_equal(f.transport->last_request().body, R"({"messaging_product":"whatsapp"})"));

  f.transport->enqueue(200, R"({"messaging_product":"whatsapp","success":"true"})");
  auto deleted = f.client.delete_invite_link(kGroup);
  REQUIRE(deleted.ok());
  CHECK(deleted->success == std::optional<bool>(true));
  CHECK(f.transport->last_request().method == HttpMethod::delete_);
  CHECK(f.transport->last_request().url == kBase + kGroup + "/invite_link");
  CHECK(json_equal(f.transport->last_request().body, R"({"messaging_product":"whatsapp"})"));
}

TEST_CASE("join requests: list with cursors, approve with POST, reject with DELETE", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"data":[],"paging":{"cursors":{}}})");
  ListJoinRequestsRequest list{kGroup, {}};
  list.page.limit = 10;
  list.page.after = "eyJv";
  REQUIRE(f.client.list_join_requests(list).ok());
  CHECK(f.transport->last_request().method == HttpMethod::get);
  CHECK(f.transport->last_request().url == kBase + kGroup + "/join_requests?limit=10&after=eyJv");

  f.transport->enqueue(200, R"({"messaging_product":"whatsapp","approved_join_requests":["J1","J2"]})");
  auto approved = f.client.approve_join_requests({kGroup, {"J1", "J2"}});
  REQUIRE(approved.ok());
  CHECK(approved->succeeded == std::vector<std::string>{"J1", "J2"});
  CHECK(approved->all_succeeded());
  auto sent = f.transport->last_request();
  CHECK(sent.method == HttpMethod::post);
  CHECK(sent.url == kBase + kGroup + "/join_requests");
  check_common_headers(sent, true);
  CHECK(json_equal(sent.body, R"({"messaging_product":"whatsapp","join_requests":["J1","J2"]})"));

  f.transport->enqueue(200, R"({"messaging_product":"whatsapp","rejected_join_requests":["J3"]})");
  auto rejected = f.client.reject_join_requests({kGroup, {"J3"}});
  REQUIRE(rejected.ok());
  CHECK(rejected->succeeded == std::vector<std::string>{"J3"});
  CHECK(f.transport->last_request().method == HttpMethod::delete_);
  CHECK(f.transport->last_request().url == kBase + kGroup + "/join_requests");
  CHECK(json_equal(f.transport->last_request().body, R"({"messaging_product":"whatsapp","join_requests":["J3"]})"));
}

TEST_CASE("remove_participants sends DELETE with one {user} per participant", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, "");
  auto r = f.client.remove_participants({kGroup, {"+17865347866", "US.13491208655302741918"}});
  REQUIRE(r.ok());
  CHECK_FALSE(r->partial);
  CHECK(r->http_status == 200);
  auto sent = f.transport->last_request();
  CHECK(sent.method == HttpMethod::delete_);
  CHECK(sent.url == kBase + kGroup + "/participants");
  check_common_headers(sent, true);
  CHECK(json_equal(sent.body, R"({"messaging_product":"whatsapp",
      "participants":[{"user":"+17865347866"},{"user":"US.13491208655302741918"}]})"));
}

TEST_CASE("send_text posts a group text message", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, kSendOk);
  auto r = f.client.send_text(kGroup, "This is another destination option: https://x.example/DD", true);
  REQUIRE(r.ok());
  CHECK(r->message_id() == "wamid.HBgLM1");
  auto sent = f.transport->last_request();
  CHECK(sent.method == HttpMethod::post);
  CHECK(sent.url == kBase + kPhone + "/messages");
  check_common_headers(sent, true);
  CHECK(json_equal(sent.body, R"({"messaging_product":"whatsapp","recipient_type":"group","to":")" + kGroup +
                                  R"(","type":"text","text":{"preview_url":true,
                                  "body":"This is another destination option: https://x.example/DD"}})"));
}

TEST_CASE("send_group_message carries a reply context", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, kSendOk);
  GroupMessage m;
  m.group_id = kGroup;
  m.text = "Replying";
  m.reply_to = "wamid.ORIGINAL";
  REQUIRE(f.client.send_group_message(m).ok());
  CHECK(json_equal(f.transport->last_request().body,
                   R"({"messaging_product":"whatsapp","recipient_type":"group","to":")" + kGroup +
                       R"(","type":"text","context":{"message_id":"wamid.ORIGINAL"},
                       "text":{"preview_url":false,"body":"Replying"}})"));
}

TEST_CASE("send_media sends each media type by id or link", "[client][requests]") {
  FakeClient f;
  struct Case {
    MessageType type;
    MediaRef media;
    std::string expected_object;
  };
  MediaRef image = MediaRef::from_id("1013859600285441");
  image.caption = "Receipt";
  MediaRef document = MediaRef::from_link("https://files.example/invoice.pdf");
  document.caption = "Invoice";
  document.filename = "invoice.pdf";
  const Case cases[] = {
      {MessageType::image, image, R"({"id":"1013859600285441","caption":"Receipt"})"},
      {MessageType::video, MediaRef::from_link("https://v.example/a.mp4"), R"({"link":"https://v.example/a.mp4"})"},
      {MessageType::audio, MediaRef::from_id("55"), R"({"id":"55"})"},
      {MessageType::document, document,
       R"({"link":"https://files.example/invoice.pdf","caption":"Invoice","filename":"invoice.pdf"})"},
      {MessageType::sticker, MediaRef::from_id("77"), R"({"id":"77"})"},
  };
  for (const auto& c : cases) {
    f.transport->enqueue(200, kSendOk);
    REQUIRE(f.client.send_media(kGroup, c.type, c.media).ok());
    const std::string type = to_string(c.type);
    CHECK(json_equal(f.transport->last_request().body,
                     R"({"messaging_product":"whatsapp","recipient_type":"group","to":")" + kGroup +
                         R"(","type":")" + type + R"(",")" + type + R"(":)" + c.expected_object + "}"));
  }
  CHECK(f.transport->request_count() == 5);
}

TEST_CASE("send_template sends name, language and parameters", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, kSendOk);
  TemplateMessage t;
  t.name = "order_update";
  t.language = "en_US";
  t.category = TemplateCategory::utility;
  TemplateComponent header;
  header.type = "header";
  header.parameters.push_back(TemplateParameter::media_value("image", MediaRef::from_link("https://i.example/p.jpg")));
  TemplateComponent body;
  body.parameters.push_back(TemplateParameter::text_value("Ana"));
  TemplateComponent button;
  button.type = "button";
  button.sub_type = "quick_reply";
  button.index = 0;
  TemplateParameter payload;
  payload.type = "payload";
  payload.payload = "YES";
  button.parameters.push_back(payload);
  t.components = {header, body, button};
  REQUIRE(f.client.send_template(kGroup, t).ok());
  CHECK(json_equal(f.transport->last_request().body,
                   R"({"messaging_product":"whatsapp","recipient_type":"group","to":")" + kGroup + R"(",
                   "type":"template","template":{"name":"order_update","language":{"policy":"deterministic","code":"en_US"},
                   "components":[
                     {"type":"header","parameters":[{"type":"image","image":{"link":"https://i.example/p.jpg"}}]},
                     {"type":"body","parameters":[{"type":"text","text":"Ana"}]},
                     {"type":"button","sub_type":"quick_reply","index":"0",
                      "parameters":[{"type":"payload","payload":"YES"}]}]}})"));
}

TEST_CASE("pin and unpin send a pin message", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, kSendOk);
  REQUIRE(f.client.pin_message(kGroup, "wamid.PIN", 4).ok());
  CHECK(json_equal(f.transport->last_request().body,
                   R"({"messaging_product":"whatsapp","recipient_type":"group","to":")" + kGroup +
                       R"(","type":"pin","pin":{"type":"pin","message_id":"wamid.PIN","expiration_days":4}})"));
  f.transport->enqueue(200, kSendOk);
  REQUIRE(f.client.unpin_message(kGroup, "wamid.PIN").ok());
  CHECK(json_equal(f.transport->last_request().body,
                   R"({"messaging_product":"whatsapp","recipient_type":"group","to":")" + kGroup +
                       R"(","type":"pin","pin":{"type":"unpin","message_id":"wamid.PIN"}})"));
}

TEST_CASE("send_template_to_phone sends the invite template 1:1 with a group_id parameter", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"messaging_product":"whatsapp","contacts":[{"input":"+16505551234","wa_id":"16505551234"}],
                               "messages":[{"id":"wamid.INVITE","message_status":"accepted"}]})");
  TemplateMessage t;
  t.name = "group_invite_link";
  t.language = "en";
  TemplateComponent body;
  body.parameters.push_back(TemplateParameter::invite_link_for(kGroup));
  t.components.push_back(body);
  auto r = f.client.send_template_to_phone("+16505551234", t);
  REQUIRE(r.ok());
  CHECK(r->message_id() == "wamid.INVITE");
  CHECK(r->messages[0].message_status == std::optional<std::string>("accepted"));
  auto sent = f.transport->last_request();
  CHECK(sent.url == kBase + kPhone + "/messages");
  CHECK(json_equal(sent.body, R"({"messaging_product":"whatsapp","to":"+16505551234",
      "type":"template","template":{"name":"group_invite_link","language":{"policy":"deterministic","code":"en"},
      "components":[{"type":"body","parameters":[{"type":"group_id","group_id":")" +
                                  kGroup + R"("}]}]}})"));
}

TEST_CASE("the Graph version and base URL are settable", "[client][requests]") {
  auto options = FakeClient::base_options();
  options.api_version = "v25.0";
  options.base_url = "http://127.0.0.1:9999/";
  options.allow_insecure_http = true;
  options.user_agent_suffix = "limechat/2.1.0";
  FakeClient f(1.0, options);
  f.transport->enqueue(200, R"({"data":{"groups":[]}})");
  REQUIRE(f.client.list_groups().ok());
  CHECK(f.transport->last_request().url == "http://127.0.0.1:9999/v25.0/" + kPhone + "/groups");
  CHECK(f.transport->last_request().header("User-Agent")->find("limechat/2.1.0") != std::string_view::npos);
}

TEST_CASE("the per-call timeout reaches the transport", "[client][requests]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"data":{"groups":[]}})");
  CallOptions call;
  call.timeout = std::chrono::milliseconds(1234);
  REQUIRE(f.client.list_groups({}, call).ok());
  CHECK(f.transport->last_request().timeout == std::chrono::milliseconds(1234));
  f.transport->enqueue(200, R"({"data":{"groups":[]}})");
  REQUIRE(f.client.list_groups().ok());
  CHECK(f.transport->last_request().timeout == std::chrono::seconds(30));
}

TEST_CASE("a copied client shares its transport and works from several threads", "[client][requests][concurrent]") {
  FakeClient f;
  f.transport->set_handler([](const HttpRequest&) -> Result<HttpResponse> {
    HttpResponse r;
    r.status = 200;
    r.body = R"({"data":{"groups":[{"id":"G"}]}})";
    return r;
  });
  Client copy = f.client;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (copy.list_groups().ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 200);
  CHECK(f.transport->request_count() == 200);
}
