// Responses decode from Meta's documented shapes, from its drifted ones (numbers as strings,
// missing fields, unknown fields), and from other projects' real payloads in ../shared/conformance.

#include <catch2/catch_test_macros.hpp>

#include "test_support.hpp"
#include "wagroups/graph_codes.hpp"

using namespace wagroups;
using wagroups_test::FakeClient;

namespace {
const std::string kGroup = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD";
}

TEST_CASE("list groups: Meta's nested data.groups shape with string timestamps", "[decode]") {
  FakeClient f;
  f.transport->enqueue(200, R"({
    "data": {"groups": [
      {"id": "G1", "subject": "Order 1042", "created_at": "1750269342"},
      {"id": "G2", "subject": "Order 1043", "created_at": 1750269343, "unknown_field": {"x": 1}}]},
    "paging": {"cursors": {"after": "MTAx", "before": "NDMy"},
               "previous": "https://graph.facebook.com/v23.0/P/groups?limit=10&before=NDMy",
               "next": "https://graph.facebook.com/v23.0/P/groups?limit=25&after=MTAx"}})");
  auto r = f.client.list_groups();
  REQUIRE(r.ok());
  REQUIRE(r->groups.size() == 2);
  CHECK(r->groups[0].id == "G1");
  CHECK(r->groups[0].subject == std::optional<std::string>("Order 1042"));
  CHECK(r->groups[0].created_at == std::optional<std::int64_t>(1750269342));
  CHECK(r->groups[1].created_at == std::optional<std::int64_t>(1750269343));
  CHECK(r->paging.after == std::optional<std::string>("MTAx"));
  CHECK(r->paging.before == std::optional<std::string>("NDMy"));
  CHECK(r->paging.next.has_value());
  CHECK(r->paging.previous.has_value());
}

TEST_CASE("list groups: a plain data[] array and absent paging are tolerated", "[decode]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"data":[{"id":"G9"}]})");
  auto r = f.client.list_groups();
  REQUIRE(r.ok());
  REQUIRE(r->groups.size() == 1);
  CHECK_FALSE(r->groups[0].subject);
  CHECK_FALSE(r->groups[0].created_at);
  CHECK_FALSE(r->paging.after);
  CHECK_FALSE(r->paging.next);
}

TEST_CASE("group info: every value quoted, as in Meta's sample", "[decode]") {
  FakeClient f;
  f.transport->enqueue(200, R"({
    "messaging_product": "whatsapp", "id": "G1", "subject": "Support", "creation_timestamp": "683731200",
    "suspended": "false", "description": "Case 7", "total_participant_count": "6",
    "participants": [{"wa_id": "2228675309"}, {"wa_id": "7693349922"}], "join_approval_mode": "approval_required"})");
  auto r = f.client.get_group_info({"G1", {}});
  REQUIRE(r.ok());
  CHECK(r->id == "G1");
  CHECK(r->creation_timestamp == std::optional<std::int64_t>(683731200));
  CHECK(r->suspended == std::optional<bool>(false));
  CHECK(r->total_participant_count == std::optional<std::int64_t>(6));
  CHECK(r->join_approval_mode == std::optional<JoinApprovalMode>(JoinApprovalMode::approval_required));
  REQUIRE(r->participants);
  REQUIRE(r->participants->size() == 2);
  CHECK((*r->participants)[1].wa_id == std::optional<std::string>("7693349922"));
}

TEST_CASE("group info: typed values as in the OpenAPI spec", "[decode]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"id":"G1","suspended":true,"creation_timestamp":683731200,
                               "total_participant_count":6,"join_approval_mode":"auto_approve",
                               "participants":[{"wa_id":16505551234}]})");
  auto r = f.client.get_group_info({"G1", {}});
  REQUIRE(r.ok());
  CHECK(r->suspended == std::optional<bool>(true));
  CHECK(r->creation_timestamp == std::optional<std::int64_t>(683731200));
  CHECK((*r->participants)[0].wa_id == std::optional<std::string>("16505551234"));
  CHECK(r->join_approval_mode == std::optional<JoinApprovalMode>(JoinApprovalMode::auto_approve));
}

TEST_CASE("group info: an unknown join_approval_mode stays unset instead of failing", "[decode]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"id":"G1","join_approval_mode":"members_only"})");
  auto r = f.client.get_group_info({"G1", {}});
  REQUIRE(r.ok());
  CHECK_FALSE(r->join_approval_mode);
}

TEST_CASE("conformance restfb/group-info.json: BSUID participants, absent fields unset", "[decode][conformance]") {
  FakeClient f;
  f.transport->enqueue(200, wagroups_test::conformance_file("restfb/group-info.json"));
  auto r = f.client.get_group_info({"120363418770915618@g.us", {}});
  REQUIRE(r.ok());
  CHECK(r->id == "120363418770915618@g.us");
  CHECK(r->subject == std::optional<std::string>("Release Planning"));
  CHECK(r->messaging_product == std::optional<std::string>("whatsapp"));
  CHECK_FALSE(r->description);
  CHECK_FALSE(r->suspended);
  CHECK_FALSE(r->creation_timestamp);
  CHECK_FALSE(r->total_participant_count);
  CHECK_FALSE(r->join_approval_mode);
  REQUIRE(r->participants);
  REQUIRE(r->participants->size() == 2);
  const auto& first = (*r->participants)[0];
  CHECK(first.wa_id == std::optional<std::string>("16505551234"));
  CHECK(first.user_id == std::optional<std::string>("US.13491208655302741918"));
  CHECK(first.parent_user_id == std::optional<std::string>("US.ENT.11815799212886844830"));
  CHECK(first.username == std::optional<std::string>("@pablomorales"));
  const auto& second = (*r->participants)[1];
  CHECK_FALSE(second.wa_id);
  CHECK(second.user_id == std::optional<std::string>("US.99887766554433221100"));
  CHECK(second.username == std::optional<std::string>("@realsheenanelson"));
  CHECK_FALSE(second.parent_user_id);
}

TEST_CASE("conformance restfb/group-join-requests.json: string timestamps, missing wa_id", "[decode][conformance]") {
  FakeClient f;
  f.transport->enqueue(200, wagroups_test::conformance_file("restfb/group-join-requests.json"));
  auto r = f.client.list_join_requests({"G1", {}});
  REQUIRE(r.ok());
  REQUIRE(r->data.size() == 2);
  CHECK(r->data[0].join_request_id == "join-request-1");
  CHECK(r->data[0].creation_timestamp == std::optional<std::int64_t>(1751210000));
  CHECK(r->data[0].requester.wa_id == std::optional<std::string>("16505551234"));
  CHECK(r->data[0].requester.user_id == std::optional<std::string>("US.13491208655302741918"));
  CHECK(r->data[1].join_request_id == "join-request-2");
  CHECK(r->data[1].creation_timestamp == std::optional<std::int64_t>(1751210050));
  CHECK_FALSE(r->data[1].requester.wa_id);
  CHECK(r->data[1].requester.username == std::optional<std::string>("@realsheenanelson"));
  CHECK(r->paging.before == std::optional<std::string>("before-cursor"));
  CHECK(r->paging.after == std::optional<std::string>("after-cursor"));
}

TEST_CASE("conformance restfb send responses: group, BSUID and phone answers", "[decode][conformance]") {
  FakeClient f;
  f.transport->enqueue(200, wagroups_test::conformance_file("restfb/message-response-group.json"));
  auto group = f.client.send_text("120363418770915618@g.us", "hi");
  REQUIRE(group.ok());
  CHECK(group->message_id() == "wamid.foobar");
  REQUIRE(group->contacts.size() == 1);
  CHECK(group->contacts[0].input == std::optional<std::string>("120363418770915618@g.us"));
  CHECK_FALSE(group->contacts[0].wa_id);

  TemplateMessage t;
  t.name = "hello_world";
  f.transport->enqueue(200, wagroups_test::conformance_file("restfb/message-response-bsuid.json"));
  auto bsuid = f.client.send_template_to_phone("US.13491208655302741918", t);
  REQUIRE(bsuid.ok());
  CHECK(bsuid->contacts[0].user_id == std::optional<std::string>("US.13491208655302741918"));
  CHECK_FALSE(bsuid->contacts[0].wa_id);

  f.transport->enqueue(200, wagroups_test::conformance_file("restfb/message-response-phone-precedence.json"));
  auto phone = f.client.send_template_to_phone("+16505551234", t);
  REQUIRE(phone.ok());
  CHECK(phone->contacts[0].input == std::optional<std::string>("+16505551234"));
  CHECK(phone->contacts[0].wa_id == std::optional<std::string>("16505551234"));
  CHECK(phone->message_id() == "wamid.foobar");
}

namespace {

// The body send_text("G1", "hello via phone") puts on the wire, parsed.
void our_group_text_body(rapidjson::Document& ours) {
  FakeClient f;
  f.transport->enqueue(200, R"({"messages":[{"id":"wamid.1"}]})");
  REQUIRE(f.client.send_text("G1", "hello via phone").ok());
  ours.Parse(f.transport->last_request().body.c_str());
  REQUIRE(ours.IsObject());
}

}  // namespace

TEST_CASE("our group text body is addressed to the group", "[decode]") {
  // The in-repo half of the restfb comparison below: runs with or without the corpus.
  rapidjson::Document ours;
  our_group_text_body(ours);
  REQUIRE(ours.HasMember("recipient_type"));
  REQUIRE(ours.HasMember("to"));
  CHECK(std::string(ours["recipient_type"].GetString()) == "group");
  CHECK(std::string(ours["to"].GetString()) == "G1");
  CHECK(std::string(ours["messaging_product"].GetString()) == "whatsapp");
  CHECK(std::string(ours["type"].GetString()) == "text");
  CHECK(std::string(ours["text"]["body"].GetString()) == "hello via phone");
}

TEST_CASE("our 1:1 text body matches restfb's phone-only request semantically", "[decode][conformance]") {
  // restfb's send-message-phone-only.json is a 1:1 text; our group text differs only by
  // recipient_type/to, which this checks by building the group body and comparing the shared keys.
  rapidjson::Document ours, theirs;
  our_group_text_body(ours);
  const std::string restfb = wagroups_test::conformance_file("restfb/send-message-phone-only.json");
  theirs.Parse(restfb.c_str());
  REQUIRE(theirs.IsObject());
  CHECK(ours["messaging_product"] == theirs["messaging_product"]);
  CHECK(ours["type"] == theirs["type"]);
  CHECK(ours["text"]["body"] == theirs["text"]["body"]);
  CHECK(std::string(ours["recipient_type"].GetString()) == "group");
  CHECK(std::string(ours["to"].GetString()) == "G1");
}

TEST_CASE("join request results keep per-request failures as data", "[decode]") {
  FakeClient f;
  f.transport->enqueue(200, R"({
    "messaging_product": "whatsapp",
    "approved_join_requests": ["MTY0NjcwNDM1OTU6MTIwMzYzNDA0Njk0MjMzODIw"],
    "failed_join_requests": [{
      "join_request_id": "J2",
      "errors": [{"code": 131203,
                  "message": "(#131203) Recipient has not accepted our new Terms of Service and Privacy Policy.",
                  "title": "Unable to add participant to group",
                  "error_data": {"details": "Recipient has not accepted our new Terms of Service and Privacy Policy."}}]}],
    "errors": [{"code": "131203", "message": "m", "title": "t", "error_data": {"details": "d"}}]})");
  auto r = f.client.approve_join_requests({"G1", {"MTY0NjcwNDM1OTU6MTIwMzYzNDA0Njk0MjMzODIw", "J2"}});
  REQUIRE(r.ok());
  CHECK_FALSE(r->all_succeeded());
  CHECK(r->succeeded == std::vector<std::string>{"MTY0NjcwNDM1OTU6MTIwMzYzNDA0Njk0MjMzODIw"});
  REQUIRE(r->failed.size() == 1);
  CHECK(r->failed[0].join_request_id == "J2");
  REQUIRE(r->failed[0].errors.size() == 1);
  CHECK(r->failed[0].errors[0].code == graph_codes::terms_not_accepted);
  CHECK(r->failed[0].errors[0].title == std::optional<std::string>("Unable to add participant to group"));
  CHECK(r->failed[0].errors[0].details.has_value());
  REQUIRE(r->errors.size() == 1);
  CHECK(r->errors[0].code == 131203);  // code sent as a string
}

TEST_CASE("remove participants: 206 partial success is a result, not an error", "[decode]") {
  FakeClient f;
  f.transport->enqueue(206, R"({"error":{"message":"(#131201) Request partially succeeded","type":"OAuthException",
                               "code":131201,"error_data":{"details":"Not all participant-level operations succeeded."},
                               "fbtrace_id":"AbC"},
                               "removed_participants":[{"input":"+1555"}],
                               "failed_participants":[{"input":"+1666","errors":[{"code":131212,
                                 "title":"Participant is not a part of the group.","message":"m",
                                 "error_data":{"details":"d"}}]}],
                               "errors":[{"code":131201,"title":"Not All Participants Remove Succeeded"}]})");
  auto r = f.client.remove_participants({"G1", {"+1555", "+1666"}});
  REQUIRE(r.ok());
  CHECK(r->partial);
  CHECK(r->http_status == 206);
  REQUIRE(r->partial_error);
  CHECK(r->partial_error->code == graph_codes::partial_success);
  REQUIRE(r->removed_participants.size() == 1);
  CHECK(r->removed_participants[0].input == std::optional<std::string>("+1555"));
  REQUIRE(r->failed_participants.size() == 1);
  CHECK(r->failed_participants[0].participant.input == std::optional<std::string>("+1666"));
  REQUIRE(r->failed_participants[0].errors.size() == 1);
  CHECK(r->failed_participants[0].errors[0].code == graph_codes::participant_not_in_group);
  CHECK(r->failed_participants[0].errors[0].details == std::optional<std::string>("d"));
  REQUIRE(r->errors.size() == 1);
  CHECK(r->errors[0].code == graph_codes::partial_success);
  CHECK(f.transport->request_count() == 1);
}

TEST_CASE("remove participants: 206 with an empty body is still partial", "[decode]") {
  FakeClient f;
  f.transport->enqueue(206, "");
  auto r = f.client.remove_participants({"G1", {"+1555"}});
  REQUIRE(r.ok());
  CHECK(r->partial);
  CHECK_FALSE(r->partial_error);
}

TEST_CASE("a 2xx answer that is not JSON is a decode error with the HTTP status", "[decode]") {
  FakeClient f;
  f.transport->enqueue(200, "<html>proxy</html>");
  auto r = f.client.get_invite_link(kGroup);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::decode);
  CHECK(r.error().http_status == 200);
  CHECK(r.error().message.find("invalid JSON") != std::string::npos);
}

TEST_CASE("required fields missing from a 2xx answer are decode errors", "[decode]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"messaging_product":"whatsapp"})");
  auto link = f.client.get_invite_link(kGroup);
  REQUIRE_FALSE(link.ok());
  CHECK(link.error().code == ErrorCode::decode);

  f.transport->enqueue(200, R"({"messaging_product":"whatsapp","messages":[]})");
  auto sent = f.client.send_text(kGroup, "hi");
  REQUIRE_FALSE(sent.ok());
  CHECK(sent.error().code == ErrorCode::decode);

  f.transport->enqueue(200, R"({"subject":"no id"})");
  auto info = f.client.get_group_info({kGroup, {}});
  REQUIRE_FALSE(info.ok());
  CHECK(info.error().code == ErrorCode::decode);

  f.transport->enqueue(200, R"([1,2,3])");
  auto groups = f.client.list_groups();
  REQUIRE_FALSE(groups.ok());
  CHECK(groups.error().code == ErrorCode::decode);
}

TEST_CASE("wrong JSON types never crash a decoder", "[decode]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"data":{"groups":[{"id":{"nested":true},"subject":[1],"created_at":"soon"}]}})");
  auto r = f.client.list_groups();
  REQUIRE_FALSE(r.ok());  // an id that is an object is no id
  CHECK(r.error().code == ErrorCode::decode);

  f.transport->enqueue(200, R"({"id":"G","participants":"everyone","suspended":{"x":1},"creation_timestamp":"2026-01-01"})");
  auto info = f.client.get_group_info({"G", {}});
  REQUIRE(info.ok());
  CHECK_FALSE(info->participants);
  CHECK_FALSE(info->suspended);
  CHECK_FALSE(info->creation_timestamp);
}

TEST_CASE("invite link delete: success as the string \"true\" or a bool", "[decode]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"messaging_product":"whatsapp","success":true})");
  auto r = f.client.delete_invite_link(kGroup);
  REQUIRE(r.ok());
  CHECK(r->success == std::optional<bool>(true));
}

TEST_CASE("list groups: unknown nested members are skipped, odd but valid shapes accepted", "[decode]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"meta":{"id":"not-a-group","groups":[{"id":"nope"}]},
    "groups":[{"extra":{"id":"inner","subject":"inner"},"id":16505551234,"subject":null,
               "creation_timestamp":1750000001,"created_at":"1750000002","tags":["a",{"id":"x"}]}],
    "paging":{"cursors":{"after":"A","before":null},"next":null}})");
  auto r = f.client.list_groups();
  REQUIRE(r.ok());
  REQUIRE(r->groups.size() == 1);
  CHECK(r->groups[0].id == "16505551234");
  CHECK_FALSE(r->groups[0].subject);
  CHECK(r->groups[0].created_at == std::optional<std::int64_t>(1750000002));  // created_at wins
  CHECK(r->paging.after == std::optional<std::string>("A"));
  CHECK_FALSE(r->paging.before);
  CHECK_FALSE(r->paging.next);
}

TEST_CASE("list groups: entries that are not objects, null ids and NUL bytes are decode errors", "[decode]") {
  for (const std::string& body : {std::string(R"({"data":{"groups":["G1"]}})"), std::string(R"({"data":{"groups":[{"id":null}]}})"),
                                 std::string(R"({"data":{"groups":[{"subject":"no id"}]}})"),
                                 std::string("{\"data\":{\"groups\":[]}}\0{", 25), std::string(R"("just a string")"),
                                 std::string(R"({"data":{"groups":[{"id":"G1"}]})")}) {
    FakeClient f;
    f.transport->enqueue(200, body);
    auto r = f.client.list_groups();
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().code == ErrorCode::decode);
  }
}

TEST_CASE("list groups: a Graph error envelope beside data is an error", "[decode]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"data":{"groups":[{"id":"G1"}]},"error":{"code":131215,"message":"(#131215) x","type":"OAuthException"}})");
  auto r = f.client.list_groups();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::graph_api);
  CHECK(r.error().is_not_eligible());
}

TEST_CASE("remove participants: a 200 carrying 131201 is still a partial success", "[decode]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"error":{"code":131201,"message":"(#131201) Request partially succeeded","type":"OAuthException"}})");
  auto r = f.client.remove_participants({"G1", {"+1555", "+1666"}});
  REQUIRE(r.ok());
  CHECK(r->partial);
  REQUIRE(r->partial_error);
  CHECK(r->partial_error->code == graph_codes::partial_success);
  // Any other Graph error in a 2xx answer is an error.
  f.transport->enqueue(200, R"({"error":{"code":131041,"message":"(#131041) Group unknown","type":"OAuthException"}})");
  auto unknown = f.client.remove_participants({"G1", {"+1555"}});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().graph_code() == graph_codes::group_unknown);
}

TEST_CASE("numbers where strings are expected keep a faithful text form; huge codes are not truncated", "[decode]") {
  FakeClient f;
  f.transport->enqueue(200, R"({"data":{"groups":[{"id":1.2e29}]}})");
  auto r = f.client.list_groups();
  REQUIRE(r.ok());
  CHECK(r->groups[0].id == "1.2e+29");
  f.transport->enqueue(400, R"({"error":{"code":99999999999999,"message":"m","type":"t"}})");
  CallOptions once;
  once.retry = RetryOptions{};
  once.retry->max_attempts = 1;
  auto e = f.client.get_group_info({"G1", {}}, once);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().graph_code() == 0);  // out of range: unknown, not a wrapped-around number
}

TEST_CASE("hostile nesting is refused without exhausting the stack", "[decode]") {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  for (const std::string& body : {R"({"data":{"groups":)" + deep + "}}", R"({"x":)" + deep + "}", deep}) {
    FakeClient f;
    f.transport->enqueue(200, body);
    auto groups = f.client.list_groups();
    CHECK_FALSE(groups.ok());
    f.transport->enqueue(200, body);
    auto info = f.client.get_group_info({"G1", {}});
    CHECK_FALSE(info.ok());
  }
}
