// Issue 10 on the simulator: every documented outcome reachable from SimulatorOptions or a
// people-side call (item 6), the documented answer bodies (item 2), the picture upload's shape and
// boundaries (item 3), partial success of join-request actions (item 4), the phone number's fields
// (item 7), and state files and signatures that fail closed (item 11). Bodies are read with
// RapidJSON, independently of the SDK's decoders; webhooks go through the SDK's parser.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include "rapidjson.hpp"
#include <rapidjson/document.h>

#include "jpeg_builder.hpp"
#include "test_sandbox_support.hpp"
#include "wagroups/graph_codes.hpp"
#include "wagroups/limits.hpp"

using namespace wagroups;
using sandbox_test::all_of_type;
using sandbox_test::graph_code_of;
using sandbox_test::Harness;
using sandbox_test::person;
using sandbox_test::raw_request;

namespace {

const std::string kBase = "https://graph.facebook.com/v23.0/";
const std::string kNumber = "200000000000002";

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  return doc;
}

std::vector<std::string> member_names(const rapidjson::Value& v) {
  std::vector<std::string> out;
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) out.emplace_back(it->name.GetString());
  return out;
}

std::string make_jpeg(unsigned width, unsigned height) {
  return wagroups_test::jpeg::make_jpeg(width, height, wagroups_test::jpeg::kSof0, /*with_dht=*/false);
}

struct Part {
  std::string name;
  std::string content;
  bool is_file = false;
};

HttpRequest multipart_request(const std::string& url, const std::vector<Part>& parts) {
  const std::string boundary = "issue10-boundary";
  std::string body;
  for (const auto& p : parts) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\"";
    if (p.is_file) body += "; filename=\"p.jpg\"\r\nContent-Type: image/jpeg";
    body += "\r\n\r\n" + p.content + "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  return raw_request(HttpMethod::post, url, body, "multipart/form-data; boundary=" + boundary);
}

HttpRequest picture_upload(const std::string& group_id, const std::string& jpeg) {
  return multipart_request(kBase + group_id, {{"messaging_product", "whatsapp"}, {"file", jpeg, true}});
}

std::string json_post_body(const std::string& members) { return R"({"messaging_product":"whatsapp",)" + members + "}"; }

// Join requests of people 1..n to an approval_required group; their ids, in order.
std::vector<std::string> request_joins(Harness& h, const Harness::Created& g, int n) {
  for (int i = 1; i <= n; ++i) REQUIRE(h.sim->join_by_link(g.invite_link, person(i)).ok());
  std::vector<std::string> ids;
  for (const auto& jr : all_of_type<JoinRequestCreated>(h.events())) ids.push_back(*jr.join_request_id);
  REQUIRE(ids.size() == static_cast<std::size_t>(n));
  return ids;
}

HttpRequest join_request_action(HttpMethod method, const std::string& group_id, const std::vector<std::string>& ids) {
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "\"" : ",\"") + id + "\"";
  return raw_request(method, kBase + group_id + "/join_requests", json_post_body("\"join_requests\":[" + list + "]"));
}

}  // namespace

// --- item 2: documented answers ----------------------------------------------------------------

TEST_CASE(
    "issue10 item 2: documented answers: create has a request_id, delete {success:true}, settings and "
    "remove an empty 200",
    "[sandbox][issue10]") {
  Harness h;
  auto create = h.sim->handle(
      raw_request(HttpMethod::post, kBase + kNumber + "/groups", json_post_body(R"("subject":"Documented")")));
  REQUIRE(create.status == 200);
  auto created = parse(create.body);
  CHECK(member_names(created) == std::vector<std::string>{"messaging_product", "request_id"});
  CHECK(std::string(created["messaging_product"].GetString()) == "whatsapp");
  const std::string rid = created["request_id"].GetString();
  auto made = all_of_type<GroupCreated>(h.events());
  REQUIRE(made.size() == 1);
  CHECK(made[0].request_id == rid);
  const std::string gid = made[0].group_id;
  REQUIRE(h.sim->join_by_link(*made[0].invite_link, person(1)).ok());
  REQUIRE(h.sim->join_by_link(*made[0].invite_link, person(2)).ok());
  h.events();

  auto settings = h.sim->handle(raw_request(HttpMethod::post, kBase + gid, json_post_body(R"("subject":"Renamed")")));
  CHECK(settings.status == 200);
  CHECK(settings.body.empty());
  auto settings_events = all_of_type<GroupSettingsUpdated>(h.events());
  REQUIRE(settings_events.size() == 1);
  REQUIRE(settings_events[0].request_id);  // the webhook still carries one (Meta's samples)

  auto remove = h.sim->handle(raw_request(HttpMethod::delete_, kBase + gid + "/participants",
                                          json_post_body(R"("participants":[{"user":"15550123001"}])")));
  CHECK(remove.status == 200);
  CHECK(remove.body.empty());
  auto removed = all_of_type<ParticipantsRemoved>(h.events());
  REQUIRE(removed.size() == 1);
  CHECK(removed[0].request_id);

  auto del = h.sim->handle(raw_request(HttpMethod::delete_, kBase + gid));
  REQUIRE(del.status == 200);
  auto deleted = parse(del.body);
  CHECK(member_names(deleted) == std::vector<std::string>{"success"});
  CHECK(deleted["success"].GetBool());
  auto gone = all_of_type<GroupDeleted>(h.events());
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].request_id);

  // The Client decodes every one of them.
  auto g = h.create("Through the client");
  UpdateGroupSettingsRequest update;
  update.group_id = g.group_id;
  update.description = "documented";
  CHECK(h.client->update_group_settings(update).ok());
  CHECK(h.client->delete_group(g.group_id).ok());
}

TEST_CASE(
    "issue10 item 2: AsyncAnswers::spec_request_ids: every asynchronous answer carries its webhook's "
    "request_id",
    "[sandbox][issue10]") {
  sandbox::SimulatorOptions o;
  o.async_answers = sandbox::AsyncAnswers::spec_request_ids;
  Harness h(o);
  auto g = h.create("Spec answers");
  h.join(g, 2);

  auto settings = h.sim->handle(raw_request(HttpMethod::post, kBase + g.group_id, json_post_body(R"("subject":"S")")));
  REQUIRE(settings.status == 200);
  auto s = parse(settings.body);
  REQUIRE(s.HasMember("request_id"));
  auto s_events = all_of_type<GroupSettingsUpdated>(h.events());
  REQUIRE(s_events.size() == 1);
  CHECK(s_events[0].request_id == std::string(s["request_id"].GetString()));

  auto remove = h.sim->handle(raw_request(HttpMethod::delete_, kBase + g.group_id + "/participants",
                                          json_post_body(R"("participants":[{"user":"15550123001"}])")));
  REQUIRE(remove.status == 200);
  auto r = parse(remove.body);
  REQUIRE(r.HasMember("request_id"));
  auto r_events = all_of_type<ParticipantsRemoved>(h.events());
  REQUIRE(r_events.size() == 1);
  CHECK(r_events[0].request_id == std::string(r["request_id"].GetString()));

  auto del = h.client->delete_group(g.group_id);
  REQUIRE(del.ok());
  REQUIRE(del->request_id);
  auto d_events = all_of_type<GroupDeleted>(h.events());
  REQUIRE(d_events.size() == 1);
  CHECK(d_events[0].request_id == del->request_id);
}

// --- item 3: the picture upload ------------------------------------------------------------------

TEST_CASE("issue10 item 3: a multipart settings body carries messaging_product and file only", "[sandbox][issue10]") {
  Harness h;
  auto g = h.create("Pictures");
  const std::string jpeg = make_jpeg(256, 256);
  const std::string url = kBase + g.group_id;

  auto ok = h.sim->handle(picture_upload(g.group_id, jpeg));
  CHECK(ok.status == 200);
  auto pictures = all_of_type<GroupSettingsUpdated>(h.events());
  REQUIRE(pictures.size() == 1);
  REQUIRE(pictures[0].profile_picture);
  CHECK(pictures[0].profile_picture->succeeded());
  CHECK_FALSE(pictures[0].group_subject);

  SECTION("subject or description in the multipart body: 100 (Meta documents them as JSON only)") {
    for (const char* field : {"subject", "description"}) {
      auto r = h.sim->handle(
          multipart_request(url, {{"messaging_product", "whatsapp"}, {field, "Sneaked in"}, {"file", jpeg, true}}));
      INFO(field);
      CHECK(r.status == 400);
      CHECK(graph_code_of(r) == 100);
    }
    auto without_file =
        h.sim->handle(multipart_request(url, {{"messaging_product", "whatsapp"}, {"subject", "Text only"}}));
    CHECK(graph_code_of(without_file) == 100);
    CHECK(h.sim->group(g.group_id)->subject == "Pictures");
  }
  SECTION("another part, a second file, no file, no or a wrong messaging_product") {
    CHECK(graph_code_of(h.sim->handle(multipart_request(
              url, {{"messaging_product", "whatsapp"}, {"colour", "red"}, {"file", jpeg, true}}))) == 100);
    CHECK(graph_code_of(h.sim->handle(multipart_request(
              url, {{"messaging_product", "whatsapp"}, {"file", jpeg, true}, {"file", jpeg, true}}))) == 100);
    CHECK(graph_code_of(h.sim->handle(multipart_request(url, {{"messaging_product", "whatsapp"}}))) == 131008);
    CHECK(graph_code_of(h.sim->handle(multipart_request(url, {{"file", jpeg, true}}))) == 131008);
    CHECK(graph_code_of(
              h.sim->handle(multipart_request(url, {{"messaging_product", "telegram"}, {"file", jpeg, true}}))) == 100);
  }
  SECTION("JSON profile_picture_file: a path cannot be uploaded over HTTP, 100") {
    auto r = h.sim->handle(
        raw_request(HttpMethod::post, url, json_post_body(R"("profile_picture_file":"/media/pictures/square.jpg")")));
    CHECK(r.status == 400);
    CHECK(graph_code_of(r) == 100);
    auto with_subject = h.sim->handle(
        raw_request(HttpMethod::post, url, json_post_body(R"("subject":"New","profile_picture_file":"/tmp/p.jpg")")));
    CHECK(graph_code_of(with_subject) == 100);
    CHECK(h.sim->group(g.group_id)->subject == "Pictures");  // nothing applied
  }
  CHECK(h.sim->pending_webhooks() == 0);
}

TEST_CASE("issue10 item 3: picture boundaries: JPEG only, 5 MB inclusive, square (131209), 192x192 inclusive (131210)",
          "[sandbox][issue10]") {
  Harness h;
  auto g = h.create("Boundaries");
  auto code_of = [&](const std::string& bytes) {
    auto r = h.sim->handle(picture_upload(g.group_id, bytes));
    h.sim->take_webhooks();
    return r.status == 200 ? 0 : graph_code_of(r);
  };
  CHECK(code_of(make_jpeg(192, 192)) == 0);
  CHECK(code_of(make_jpeg(191, 191)) == graph_codes::picture_too_small);
  CHECK(code_of(make_jpeg(192, 193)) == graph_codes::picture_aspect_ratio);
  CHECK(code_of(make_jpeg(193, 192)) == graph_codes::picture_aspect_ratio);
  CHECK(code_of(make_jpeg(100, 101)) == graph_codes::picture_aspect_ratio);  // shape is checked first
  CHECK(code_of(make_jpeg(4096, 4096)) == 0);

  // Exactly 5 MB (5 * 1024 * 1024 bytes) passes, one byte more does not. Bytes after the image's
  // end marker are padding every JPEG reader skips.
  std::string at_limit = make_jpeg(512, 512);
  at_limit.resize(limits::picture_max_bytes, '\0');
  CHECK(code_of(at_limit) == 0);
  at_limit.push_back('\0');
  CHECK(code_of(at_limit) == 100);

  CHECK(code_of(std::string("\x89PNG\r\n\x1a\n", 8) + std::string(64, '\0')) == 100);  // Meta: image/jpeg only
  CHECK(code_of("") == 100);
  CHECK(code_of(std::string("\xFF\xD8\xFF\xD9", 4)) == 100);  // SOI, EOI: no frame, no size
}

// --- item 4: partial success of join-request actions -------------------------------------------

TEST_CASE(
    "issue10 item 4: approving join requests with some ids failing answers HTTP 206 with Meta's shape and "
    "131201",
    "[sandbox][issue10]") {
  Harness h;
  auto g = h.create("Moderated", JoinApprovalMode::approval_required);
  const auto ids = request_joins(h, g, 2);

  auto r = h.sim->handle(join_request_action(HttpMethod::post, g.group_id, {ids[0], "NOT-A-REQUEST"}));
  CHECK(r.status == 206);
  auto doc = parse(r.body);
  CHECK_FALSE(doc.HasMember("error"));  // data, not a Graph error envelope
  REQUIRE(doc["approved_join_requests"].IsArray());
  REQUIRE(doc["approved_join_requests"].Size() == 1);
  CHECK(std::string(doc["approved_join_requests"][0].GetString()) == ids[0]);
  REQUIRE(doc["failed_join_requests"].IsArray());
  REQUIRE(doc["failed_join_requests"].Size() == 1);
  const auto& failed = doc["failed_join_requests"][0];
  CHECK(std::string(failed["join_request_id"].GetString()) == "NOT-A-REQUEST");
  REQUIRE(failed["errors"].Size() == 1);
  CHECK(failed["errors"][0]["code"].GetInt() == graph_codes::join_request_not_found);
  CHECK(failed["errors"][0]["error_data"]["details"].IsString());
  REQUIRE(doc["errors"].IsArray());
  REQUIRE(doc["errors"].Size() == 1);
  CHECK(doc["errors"][0]["code"].GetInt() == graph_codes::partial_success);
  CHECK(std::string(doc["errors"][0]["title"].GetString()) == "Request partially succeeded");

  // The approved one joined (a webhook); the unknown one changed nothing.
  auto added = all_of_type<ParticipantsAdded>(h.events());
  REQUIRE(added.size() == 1);
  CHECK(added[0].added_participants[0].wa_id == "15550123001");

  // Everything succeeds: a plain 200 without errors.
  auto all_ok = h.sim->handle(join_request_action(HttpMethod::post, g.group_id, {ids[1]}));
  CHECK(all_ok.status == 200);
  CHECK_FALSE(parse(all_ok.body).HasMember("errors"));

  // The Client takes the 206 as data.
  h.events();
  REQUIRE(h.sim->join_by_link(g.invite_link, person(5)).ok());
  auto pending = h.client->list_all_join_requests(g.group_id);
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 1);
  auto mixed = h.client->approve_join_requests({g.group_id, {(*pending)[0].join_request_id, "GONE"}});
  REQUIRE(mixed.ok());
  CHECK(mixed->succeeded.size() == 1);
  REQUIRE(mixed->failed.size() == 1);
  CHECK(mixed->failed[0].join_request_id == "GONE");
}

TEST_CASE("issue10 item 4: rejecting with some ids failing answers 206; a second reject of the same id is 131213",
          "[sandbox][issue10]") {
  Harness h;
  auto g = h.create("Moderated", JoinApprovalMode::approval_required);
  const auto ids = request_joins(h, g, 2);

  auto first = h.sim->handle(join_request_action(HttpMethod::delete_, g.group_id, {ids[0]}));
  CHECK(first.status == 200);
  auto first_doc = parse(first.body);
  REQUIRE(first_doc["rejected_join_requests"].Size() == 1);
  CHECK(std::string(first_doc["rejected_join_requests"][0].GetString()) == ids[0]);
  CHECK(h.sim->pending_webhooks() == 0);  // Meta sends no webhook for a rejection

  auto again = h.sim->handle(join_request_action(HttpMethod::delete_, g.group_id, {ids[0], ids[1]}));
  CHECK(again.status == 206);
  auto doc = parse(again.body);
  REQUIRE(doc["rejected_join_requests"].Size() == 1);
  CHECK(std::string(doc["rejected_join_requests"][0].GetString()) == ids[1]);
  REQUIRE(doc["failed_join_requests"].Size() == 1);
  CHECK(std::string(doc["failed_join_requests"][0]["join_request_id"].GetString()) == ids[0]);
  CHECK(doc["failed_join_requests"][0]["errors"][0]["code"].GetInt() == graph_codes::join_request_not_found);
  CHECK(doc["errors"][0]["code"].GetInt() == graph_codes::partial_success);
}

// --- item 6: every documented outcome ----------------------------------------------------------

TEST_CASE("issue10 item 6: a create Meta fails later: 200 with request_id, then group_create with errors, no group",
          "[sandbox][issue10]") {
  sandbox::SimulatorOptions o;
  o.async_failures.group_create = true;
  o.async_failures.error = sandbox::SimulatedError{131000, "Something went wrong", "Try again later."};
  Harness h(o);
  auto created = h.client->create_group({"Doomed", std::string("It will not exist"), std::nullopt});
  REQUIRE(created.ok());
  REQUIRE(created->request_id);
  auto events = h.events();
  REQUIRE(events.size() == 1);
  auto failed = all_of_type<GroupCreateFailed>(events);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].request_id == created->request_id);
  CHECK(failed[0].subject == "Doomed");
  CHECK(failed[0].description == "It will not exist");
  CHECK(failed[0].group_id);  // Meta's failure sample still names one
  REQUIRE(failed[0].errors.size() == 1);
  CHECK(failed[0].errors[0].code == 131000);
  CHECK(failed[0].errors[0].title == "Something went wrong");
  CHECK(h.sim->groups().empty());
  CHECK(h.client->list_groups()->groups.empty());
}

TEST_CASE("issue10 item 6: a delete Meta fails later: group_delete with errors, and the group stays",
          "[sandbox][issue10]") {
  Harness h;
  auto g = h.create("Sticky");
  h.join(g, 1);
  // Options are fixed at construction; a second simulator resumes this one's state with the failure on.
  sandbox::SimulatorOptions o;
  o.async_failures.group_delete = true;
  Harness failing(o);
  REQUIRE(failing.sim->load_state(h.sim->save_state()).ok());
  auto deleted = failing.client->delete_group(g.group_id);
  REQUIRE(deleted.ok());
  auto events = failing.events();
  auto failed = all_of_type<GroupDeleteFailed>(events);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].group_id == g.group_id);
  CHECK(failed[0].request_id);
  REQUIRE(failed[0].errors.size() == 1);
  CHECK(failed[0].errors[0].code == 131000);
  CHECK(all_of_type<GroupDeleted>(events).empty());
  auto still = failing.sim->group(g.group_id);
  REQUIRE(still);
  CHECK_FALSE(still->deleted);
  CHECK(still->members.size() == 1);
  CHECK(failing.client->get_invite_link(g.group_id).ok());
}

TEST_CASE("issue10 item 6: settings partial failure and total failure, per attribute", "[sandbox][issue10]") {
  SECTION("partial: the picture applies, subject and description fail (Meta's partial-fail sample)") {
    sandbox::SimulatorOptions o;
    o.async_failures.group_subject = true;
    o.async_failures.group_description = true;
    Harness h(o);
    auto g = h.create("Before");
    auto fields = h.sim->handle(
        raw_request(HttpMethod::post, kBase + g.group_id, json_post_body(R"("subject":"After","description":"New")")));
    CHECK(fields.status == 200);
    auto picture = h.sim->handle(picture_upload(g.group_id, make_jpeg(300, 300)));
    CHECK(picture.status == 200);
    auto events = all_of_type<GroupSettingsUpdated>(h.events());
    REQUIRE(events.size() == 2);
    REQUIRE(events[0].group_subject);
    CHECK(events[0].group_subject->update_successful == false);
    REQUIRE(events[0].group_subject->errors.size() == 1);
    CHECK(events[0].group_subject->errors[0].code == 131000);
    REQUIRE(events[0].group_description);
    CHECK_FALSE(events[0].group_description->succeeded());
    REQUIRE(events[0].errors.size() == 1);  // the overall error beside the per-setting ones
    CHECK_FALSE(events[0].all_succeeded());
    REQUIRE(events[1].profile_picture);
    CHECK(events[1].profile_picture->update_successful == true);
    CHECK(events[1].profile_picture->errors.empty());
    CHECK(events[1].errors.empty());
    CHECK(events[1].all_succeeded());
    CHECK(h.sim->group(g.group_id)->subject == "Before");
    CHECK_FALSE(h.sim->group(g.group_id)->description);
  }
  SECTION("partial within one request: subject applies, description fails") {
    sandbox::SimulatorOptions o;
    o.async_failures.group_description = true;
    Harness h(o);
    auto g = h.create("Before");
    REQUIRE(h.sim
                ->handle(raw_request(HttpMethod::post, kBase + g.group_id,
                                     json_post_body(R"("subject":"After","description":"New")")))
                .status == 200);
    auto events = all_of_type<GroupSettingsUpdated>(h.events());
    REQUIRE(events.size() == 1);
    CHECK(events[0].group_subject->succeeded());
    CHECK_FALSE(events[0].group_description->succeeded());
    CHECK(events[0].errors.size() == 1);
    CHECK(h.sim->group(g.group_id)->subject == "After");
    CHECK_FALSE(h.sim->group(g.group_id)->description);
  }
  SECTION("total: every setting fails, nothing changes") {
    sandbox::SimulatorOptions o;
    o.async_failures.group_subject = true;
    o.async_failures.group_description = true;
    o.async_failures.profile_picture = true;
    Harness h(o);
    auto g = h.create("Before");
    REQUIRE(h.sim->handle(picture_upload(g.group_id, make_jpeg(300, 300))).status == 200);
    REQUIRE(h.sim
                ->handle(raw_request(HttpMethod::post, kBase + g.group_id,
                                     json_post_body(R"("subject":"After","description":"New")")))
                .status == 200);
    auto events = all_of_type<GroupSettingsUpdated>(h.events());
    REQUIRE(events.size() == 2);
    REQUIRE(events[0].profile_picture);
    CHECK_FALSE(events[0].profile_picture->succeeded());
    CHECK(events[0].profile_picture->sha256);  // Meta's total-fail sample keeps the hash
    for (const auto& e : events) CHECK(e.errors.size() == 1);
    CHECK_FALSE(events[1].group_subject->succeeded());
    CHECK_FALSE(events[1].group_description->succeeded());
    CHECK(h.sim->group(g.group_id)->subject == "Before");
  }
}

TEST_CASE("issue10 item 6: inbound media messages from members carry id, mime_type, sha256 and caption",
          "[sandbox][issue10]") {
  Harness h;
  auto g = h.create("Media");
  h.join(g, 2);
  sandbox::InboundMedia photo;
  photo.caption = "the damaged box";
  auto photo_id = h.sim->send_media(g.group_id, person(1), photo);
  REQUIRE(photo_id.ok());
  sandbox::InboundMedia doc;
  doc.type = "document";
  doc.mime_type = "application/pdf";
  doc.filename = "invoice.pdf";
  auto doc_id = h.sim->send_media(g.group_id, person(2), doc);
  REQUIRE(doc_id.ok());
  sandbox::InboundMedia voice;
  voice.type = "audio";
  voice.mime_type = "audio/ogg; codecs=opus";
  REQUIRE(h.sim->send_media(g.group_id, person(2), voice).ok());

  auto messages = all_of_type<GroupMessageReceived>(h.events());
  REQUIRE(messages.size() == 3);
  CHECK(messages[0].id == *photo_id);
  CHECK(messages[0].type == "image");
  CHECK(messages[0].group_id == g.group_id);
  CHECK(messages[0].from == "15550123001");
  CHECK(messages[0].caption == "the damaged box");
  CHECK(messages[0].mime_type == "image/jpeg");
  REQUIRE(messages[0].media_id);
  CHECK_FALSE(messages[0].media_id->empty());
  REQUIRE(messages[0].sha256);
  CHECK(messages[0].sha256->size() == 44);
  CHECK(messages[1].type == "document");
  CHECK(messages[1].filename == "invoice.pdf");
  CHECK(messages[1].mime_type == "application/pdf");
  CHECK(messages[2].type == "audio");
  CHECK_FALSE(messages[2].caption);

  // Misuse is the simulator's own invalid_argument; what Meta would refuse keeps Meta's code.
  sandbox::InboundMedia bad;
  bad.type = "location";
  CHECK(h.sim->send_media(g.group_id, person(1), bad).error().code == ErrorCode::invalid_argument);
  sandbox::InboundMedia captioned_audio = voice;
  captioned_audio.caption = "no";
  CHECK(h.sim->send_media(g.group_id, person(1), captioned_audio).error().code == ErrorCode::invalid_argument);
  CHECK(h.sim->send_media(g.group_id, person(7), photo).error().graph_code() == graph_codes::participant_not_in_group);
  CHECK(h.sim->send_media("unknown", person(1), photo).error().graph_code() == graph_codes::group_unknown);
  CHECK(h.sim->pending_webhooks() == 0);
}

TEST_CASE("issue10 item 6: an unsupported inbound group message is type unsupported with 130501",
          "[sandbox][issue10]") {
  Harness h;
  auto g = h.create("Polls");
  h.join(g, 1);
  auto id = h.sim->send_unsupported(g.group_id, person(1));
  REQUIRE(id.ok());
  auto deliveries = h.sim->take_webhooks();
  REQUIRE(deliveries.size() == 1);
  auto messages = all_of_type<GroupMessageReceived>(sandbox_test::parse_all(deliveries, h.secret()));
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].id == *id);
  CHECK(messages[0].type == "unsupported");
  CHECK(messages[0].is_unsupported());
  CHECK(messages[0].group_id == g.group_id);
  REQUIRE(messages[0].errors.size() == 1);
  CHECK(messages[0].errors[0].code == graph_codes::unsupported_group_message);
  CHECK(messages[0].errors[0].title == "Unsupported message type");
  auto body = parse(deliveries[0].body);
  const auto& m = body["entry"][0]["changes"][0]["value"]["messages"][0];
  CHECK(std::string(m["errors"][0]["message"].GetString()) == "Message type is not currently supported");
  CHECK(h.sim->send_unsupported(g.group_id, person(4)).error().graph_code() == graph_codes::participant_not_in_group);
}

TEST_CASE("issue10 item 6: a group message Meta fails: one group-wide failed status with its error",
          "[sandbox][issue10]") {
  sandbox::SimulatorOptions o;
  o.async_failures.group_messages = true;
  o.async_failures.error = sandbox::SimulatedError{131026, "Message undeliverable", "Unable to deliver."};
  Harness h(o);
  auto g = h.create("Undeliverable");
  h.join(g, 2);
  auto sent = h.client->send_text(g.group_id, "hello?");
  REQUIRE(sent.ok());
  auto statuses = all_of_type<GroupMessageStatus>(h.events());
  REQUIRE(statuses.size() == 1);
  CHECK(statuses[0].id == sent->messages[0].id);
  CHECK(statuses[0].delivery_status == DeliveryStatus::failed);
  CHECK(statuses[0].recipient_id == g.group_id);
  CHECK(statuses[0].recipient_type == "group");
  CHECK_FALSE(statuses[0].recipient_participant_id);
  REQUIRE(statuses[0].errors.size() == 1);
  CHECK(statuses[0].errors[0].code == 131026);
  CHECK(statuses[0].errors[0].title == "Message undeliverable");
}

TEST_CASE("issue10 item 6: a marketing template to a group is priced group_marketing, another group_utility",
          "[sandbox][issue10]") {
  sandbox::SimulatorOptions o;
  o.marketing_templates = {"spring_sale"};
  Harness h(o);
  auto g = h.create("Pricing");
  h.join(g, 2);
  auto send_template = [&](const std::string& name) {
    auto r = h.sim->handle(raw_request(
        HttpMethod::post, kBase + kNumber + "/messages",
        json_post_body(R"("recipient_type":"group","to":")" + g.group_id +
                       R"(","type":"template","template":{"name":")" + name + R"(","language":{"code":"en"}})")));
    REQUIRE(r.status == 200);
    return all_of_type<GroupMessageStatus>(h.events());
  };
  auto marketing = send_template("spring_sale");
  REQUIRE(marketing.size() == 5);  // sent, then delivered and read for two members
  for (const auto& s : marketing) {
    if (s.delivery_status == DeliveryStatus::sent) continue;
    CHECK(s.pricing_category == "group_marketing");
    CHECK(s.pricing_type == "regular");
    CHECK(s.pricing_model == "PMP");
    CHECK(s.billable == true);
  }
  for (const auto& s : send_template("order_update")) {
    if (s.delivery_status == DeliveryStatus::sent) continue;
    CHECK(s.pricing_category == "group_utility");
  }
  auto text = h.client->send_text(g.group_id, "a service reply");
  REQUIRE(text.ok());
  for (const auto& s : all_of_type<GroupMessageStatus>(h.events())) {
    if (s.delivery_status == DeliveryStatus::sent) continue;
    CHECK(s.pricing_category == "group_service");
    CHECK(s.pricing_type == "free_group_customer_service");
  }
}

TEST_CASE("issue10 item 6: join-request events carry a reason (configurable, or none)", "[sandbox][issue10]") {
  Harness h;
  auto g = h.create("Reasons", JoinApprovalMode::approval_required);
  REQUIRE(h.sim->join_by_link(g.invite_link, person(1)).ok());
  REQUIRE(h.sim->cancel_join_request(g.group_id, person(1)).ok());
  auto events = h.events();
  auto created = all_of_type<JoinRequestCreated>(events);
  auto revoked = all_of_type<JoinRequestRevoked>(events);
  REQUIRE(created.size() == 1);
  REQUIRE(revoked.size() == 1);
  CHECK(created[0].reason == "invite_link");
  CHECK(revoked[0].reason == "user_revoked");

  sandbox::SimulatorOptions o;
  o.join_request_created_reason = "approval_required";
  o.join_request_revoked_reason.clear();
  Harness other(o);
  auto g2 = other.create("Other reasons", JoinApprovalMode::approval_required);
  REQUIRE(other.sim->join_by_link(g2.invite_link, person(1)).ok());
  REQUIRE(other.sim->cancel_join_request(g2.group_id, person(1)).ok());
  auto events2 = other.events();
  CHECK(all_of_type<JoinRequestCreated>(events2)[0].reason == "approval_required");
  CHECK_FALSE(all_of_type<JoinRequestRevoked>(events2)[0].reason);
}

TEST_CASE("issue10 item 6: a second reject of the same join request is 131213 through the Client",
          "[sandbox][issue10]") {
  Harness h;
  auto g = h.create("Twice", JoinApprovalMode::approval_required);
  const auto ids = request_joins(h, g, 1);
  auto first = h.client->reject_join_requests({g.group_id, {ids[0]}});
  REQUIRE(first.ok());
  CHECK(first->succeeded == ids);
  CHECK(first->failed.empty());
  auto second = h.client->reject_join_requests({g.group_id, {ids[0]}});
  REQUIRE(second.ok());
  CHECK(second->succeeded.empty());
  REQUIRE(second->failed.size() == 1);
  CHECK(second->failed[0].join_request_id == ids[0]);
  REQUIRE(second->failed[0].errors.size() == 1);
  CHECK(second->failed[0].errors[0].code == graph_codes::join_request_not_found);
}

TEST_CASE("issue10 item 6: group creation disabled answers 400 with 131214 (option and run-time switch)",
          "[sandbox][issue10]") {
  sandbox::SimulatorOptions o;
  o.group_creation_disabled = true;
  Harness h(o);
  auto refused = h.client->create_group({"Not now", std::nullopt, std::nullopt});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().graph_code() == graph_codes::group_creation_disabled);
  CHECK(refused.error().http_status == 400);
  CHECK(h.sim->pending_webhooks() == 0);
  CHECK(h.sim->groups().empty());

  h.sim->set_group_creation_disabled(false);
  auto g = h.create("Now");
  h.sim->set_group_creation_disabled(true);
  CHECK(h.client->create_group({"Again", std::nullopt, std::nullopt}).error().graph_code() ==
        graph_codes::group_creation_disabled);
  // Only creation is disabled: the existing group works.
  CHECK(h.client->get_invite_link(g.group_id).ok());
  // The switch is state: it survives save/load, and a version 1 state keeps the option's value.
  Harness resumed;
  REQUIRE(resumed.sim->load_state(h.sim->save_state()).ok());
  CHECK(resumed.client->create_group({"Resumed", std::nullopt, std::nullopt}).error().graph_code() ==
        graph_codes::group_creation_disabled);
}

TEST_CASE(
    "issue10 item 6: unknown routes answer Graph's envelope: HTTP 400, code 100, GraphMethodException, "
    "subcode 33",
    "[sandbox][issue10]") {
  Harness h;
  auto g = h.create("Routes");
  for (const auto& [method, url, object] : std::vector<std::tuple<HttpMethod, std::string, std::string>>{
           {HttpMethod::get, kBase + "999/nothing", "999"},
           {HttpMethod::post, kBase + g.group_id + "/participants", g.group_id},  // the spec's add: not served
           {HttpMethod::delete_, kBase + kNumber, kNumber},
           {HttpMethod::get, kBase + kNumber + "/messages", kNumber}}) {
    INFO(url);
    auto r = h.sim->handle(raw_request(method, url));
    CHECK(r.status == 400);
    auto doc = parse(r.body);
    const auto& e = doc["error"];
    CHECK(e["code"].GetInt() == 100);
    CHECK(std::string(e["type"].GetString()) == "GraphMethodException");
    CHECK(e["error_subcode"].GetInt() == 33);
    CHECK(e["fbtrace_id"].IsString());
    const std::string message = e["message"].GetString();
    const std::string verb = method == HttpMethod::get ? "get" : method == HttpMethod::post ? "post" : "delete";
    CHECK(message.rfind("Unsupported " + verb + " request. Object with ID '" + object + "' does not exist", 0) == 0);
  }
}

// --- item 7: the phone number's fields ---------------------------------------------------------

TEST_CASE("issue10 item 7: GET /{phone-number-id}?fields= answers exactly the fields asked, plus id",
          "[sandbox][issue10]") {
  sandbox::SimulatorOptions o;
  o.number.messaging_limit_tier = "TIER_1K";
  o.number.verified_name = "Jasper's Market";
  Harness h(o);
  auto r = h.sim->handle(raw_request(
      HttpMethod::get, kBase + kNumber +
                           "?fields=is_official_business_account,is_on_biz_app,platform_type,messaging_limit_tier,"
                           "status,throughput,display_phone_number,verified_name,health_status"));
  REQUIRE(r.status == 200);
  auto doc = parse(r.body);
  auto names = member_names(doc);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"display_phone_number", "health_status", "id", "is_official_business_account",
                                          "is_on_biz_app", "messaging_limit_tier", "platform_type", "status",
                                          "throughput", "verified_name"});
  CHECK(std::string(doc["id"].GetString()) == kNumber);
  CHECK(doc["is_official_business_account"].GetBool());
  CHECK_FALSE(doc["is_on_biz_app"].GetBool());
  CHECK(std::string(doc["platform_type"].GetString()) == "CLOUD_API");
  CHECK(std::string(doc["messaging_limit_tier"].GetString()) == "TIER_1K");
  CHECK(std::string(doc["status"].GetString()) == "CONNECTED");
  CHECK(std::string(doc["throughput"]["level"].GetString()) == "STANDARD");
  CHECK(std::string(doc["verified_name"].GetString()) == "Jasper's Market");
  CHECK(std::string(doc["health_status"]["can_send_message"].GetString()) == "AVAILABLE");

  auto two = parse(h.sim->handle(raw_request(HttpMethod::get, kBase + kNumber + "?fields=messaging_limit_tier")).body);
  CHECK(member_names(two) == std::vector<std::string>{"messaging_limit_tier", "id"});

  // Without fields: Graph's default set for the node.
  auto defaults = parse(h.sim->handle(raw_request(HttpMethod::get, kBase + kNumber)).body);
  CHECK(defaults.HasMember("verified_name"));
  CHECK(defaults.HasMember("display_phone_number"));
  CHECK(defaults.HasMember("id"));
  CHECK_FALSE(defaults.HasMember("is_official_business_account"));

  // A field the node does not have: Graph's nonexisting-field error.
  auto unknown = h.sim->handle(raw_request(HttpMethod::get, kBase + kNumber + "?fields=status,favourite_colour"));
  CHECK(unknown.status == 400);
  CHECK(graph_code_of(unknown) == 100);
  auto err = parse(unknown.body);
  CHECK(std::string(err["error"]["message"].GetString()) ==
        "(#100) Tried accessing nonexisting field (favourite_colour) on node type (WhatsAppBusinessPhoneNumber)");
}

TEST_CASE(
    "issue10 item 7: eligibility follows the number's fields: not an OBA, a Business app number or not on "
    "Cloud API answers 131215",
    "[sandbox][issue10]") {
  auto probe = [](sandbox::SimulatorOptions o) {
    Harness h(o);
    auto info = parse(h.sim
                          ->handle(raw_request(HttpMethod::get, kBase + kNumber +
                                                                    "?fields=is_official_business_account,"
                                                                    "is_on_biz_app,platform_type"))
                          .body);
    auto created = h.client->create_group({"Eligible?", std::nullopt, std::nullopt});
    return std::make_pair(created.ok() ? 0 : created.error().graph_code(),
                          info["is_official_business_account"].GetBool());
  };
  sandbox::SimulatorOptions base;
  CHECK(probe(base) == std::make_pair(0, true));
  sandbox::SimulatorOptions not_oba;
  not_oba.number.is_official_business_account = false;
  CHECK(probe(not_oba) == std::make_pair(graph_codes::not_eligible, false));
  sandbox::SimulatorOptions biz_app;
  biz_app.number.is_on_biz_app = true;
  CHECK(probe(biz_app).first == graph_codes::not_eligible);
  sandbox::SimulatorOptions on_premise;
  on_premise.number.platform_type = "ON_PREMISE";
  CHECK(probe(on_premise).first == graph_codes::not_eligible);
  // The tier is reported, never enforced: Meta's Groups pages state no tier requirement.
  sandbox::SimulatorOptions small_tier;
  small_tier.number.messaging_limit_tier = "TIER_250";
  CHECK(probe(small_tier).first == 0);

  // The Client's eligibility check reads the same fields and agrees with the simulator's verdict.
  Harness eligible_number(base);
  auto verdict = eligible_number.client->check_number_eligibility();
  REQUIRE(verdict.ok());
  CHECK(verdict->overall == Eligibility::eligible);
  CHECK(verdict->number.messaging_limit_tier == "TIER_100K");
  Harness not_oba_number(not_oba);
  auto refused = not_oba_number.client->check_number_eligibility();
  REQUIRE(refused.ok());
  CHECK(refused->overall == Eligibility::not_eligible);

  // Every group route, not only create; the number's own fields stay readable.
  Harness h(not_oba);
  CHECK(h.client->list_groups().error().graph_code() == graph_codes::not_eligible);
  CHECK(h.client->get_group_info({"any-group", {}}).error().graph_code() == graph_codes::not_eligible);
  CHECK(h.sim->handle(raw_request(HttpMethod::get, kBase + kNumber + "?fields=status")).status == 200);
}

// --- item 11: files and signatures that fail closed ---------------------------------------------

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/wagroups-issue10-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    const std::string cmd = "rm -rf '" + path + "'";
    (void)std::system(cmd.c_str());
  }
};

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 0777u;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct Umask {
  mode_t old;
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
};

}  // namespace

TEST_CASE("issue10 item 11: state files are created 0600 whatever the umask, and round-trip", "[sandbox][issue10]") {
  TempDir dir;
  const std::string file = dir.path + "/sandbox.json";
  Harness h;
  auto g = h.create("Persisted");
  h.join(g, 2);
  {
    Umask permissive(0);
    REQUIRE(h.sim->save_state_file(file).ok());
  }
  CHECK(mode_of(file) == 0600u);
  CHECK(read_all(file) == h.sim->save_state());

  // An existing world-readable file is replaced by an owner-only one.
  {
    std::ofstream(file, std::ios::trunc) << "{}";
    REQUIRE(::chmod(file.c_str(), 0644) == 0);
    Umask permissive(0);
    REQUIRE(h.sim->save_state_file(file).ok());
  }
  CHECK(mode_of(file) == 0600u);

  Harness resumed;
  REQUIRE(resumed.sim->load_state_file(file).ok());
  CHECK(resumed.sim->save_state() == h.sim->save_state());
  auto missing = resumed.sim->load_state_file(dir.path + "/absent.json");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::storage);
  CHECK(resumed.sim->save_state() == h.sim->save_state());  // a failed load keeps the state

  // Nothing of the temporary file is left behind.
  CHECK(::access((file + ".tmp." + std::to_string(::getpid())).c_str(), F_OK) != 0);
}

TEST_CASE("issue10 item 11: a planted file or symlink at the temporary name is neither followed nor reused",
          "[sandbox][issue10]") {
  TempDir dir;
  const std::string file = dir.path + "/state.json";
  const std::string victim = dir.path + "/victim.txt";
  std::ofstream(victim) << "precious";
  REQUIRE(::chmod(victim.c_str(), 0644) == 0);
  const std::string temporary = file + ".tmp." + std::to_string(::getpid());
  REQUIRE(::symlink(victim.c_str(), temporary.c_str()) == 0);
  REQUIRE(sandbox::write_state_file(file, "{\"state\":1}").ok());
  CHECK(read_all(victim) == "precious");
  CHECK(mode_of(victim) == 0644u);
  CHECK(read_all(file) == "{\"state\":1}");
  CHECK(mode_of(file) == 0600u);

  std::ofstream(temporary) << "stale";
  REQUIRE(::chmod(temporary.c_str(), 0666) == 0);
  REQUIRE(sandbox::write_state_file(file, "{\"state\":2}").ok());
  CHECK(read_all(file) == "{\"state\":2}");
  CHECK(mode_of(file) == 0600u);

  CHECK_FALSE(sandbox::write_state_file(dir.path + "/no/such/dir/state.json", "{}").ok());
  CHECK_FALSE(sandbox::write_state_file("", "{}").ok());
}

TEST_CASE("issue10 item 11: a webhook that cannot be signed is never queued; the call fails closed",
          "[sandbox][issue10]") {
  Harness good;
  auto g = good.create("Signed");
  good.join(g, 1);
  const std::string state = good.sim->save_state();

  sandbox::SimulatorOptions o;
  o.signer = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  Harness h(o);
  // A saved state's webhooks are signed again on load: that fails too, and the load is refused.
  REQUIRE(good.sim->send_text(g.group_id, person(1), "queued, then saved").ok());
  auto refused_load = h.sim->load_state(good.sim->save_state());
  REQUIRE_FALSE(refused_load.ok());
  REQUIRE(h.sim->load_state(state).ok());
  CHECK(h.sim->pending_webhooks() == 0);

  auto create = h.sim->handle(
      raw_request(HttpMethod::post, kBase + kNumber + "/groups", json_post_body(R"("subject":"Unsigned")")));
  CHECK(create.status == 500);
  CHECK(graph_code_of(create) == 1);
  CHECK(create.body.find("request_id") == std::string::npos);
  CHECK(h.sim->pending_webhooks() == 0);

  auto said = h.sim->send_text(g.group_id, person(1), "hello");
  REQUIRE_FALSE(said.ok());
  CHECK(said.error().graph_code() == 1);
  auto joined = h.sim->join_by_link(g.invite_link, person(2));
  REQUIRE_FALSE(joined.ok());
  CHECK(h.sim->pending_webhooks() == 0);
  CHECK(h.sim->take_webhooks().empty());

  // Calls that queue nothing are unaffected.
  CHECK(h.sim->handle(raw_request(HttpMethod::get, kBase + g.group_id + "/invite_link")).status == 200);
}

TEST_CASE("issue10 item 11: the simulator signs with its own HMAC-SHA256, which the SDK's verifier accepts",
          "[sandbox][issue10]") {
  sandbox::SimulatorOptions o;
  o.app_secret = "key";
  Harness h(o);
  h.create("Signed by the simulator");  // parse_all checks every signature against the SDK
  // An injected signer's value is used as given (a host testing its receiver's refusals).
  sandbox::SimulatorOptions wrong;
  wrong.signer = [](const std::string&) -> std::optional<std::string> { return std::string("sha256=00"); };
  sandbox::Simulator sim(wrong);
  REQUIRE(
      sim.handle(raw_request(HttpMethod::post, kBase + kNumber + "/groups", json_post_body(R"("subject":"Forged")")))
          .status == 200);
  auto hooks = sim.take_webhooks();
  REQUIRE(hooks.size() == 1);
  CHECK(hooks[0].signature == "sha256=00");
  CHECK_FALSE(verify_signature(hooks[0].body, hooks[0].signature, wrong.app_secret).ok());
}

TEST_CASE("issue10 item 11: a version 1 state still loads (format version 2 adds the creation switch)",
          "[sandbox][issue10]") {
  Harness h;
  auto g = h.create("Old format");
  std::string state = h.sim->save_state();
  const std::string v2 = "\"version\":2";
  REQUIRE(state.find(v2) != std::string::npos);
  state.replace(state.find(v2), v2.size(), "\"version\":1");
  const std::string flag = "\"group_creation_disabled\":false,";
  REQUIRE(state.find(flag) != std::string::npos);
  state.erase(state.find(flag), flag.size());
  Harness resumed;
  REQUIRE(resumed.sim->load_state(state).ok());
  REQUIRE(resumed.sim->group(g.group_id));
  CHECK(resumed.client->create_group({"Allowed", std::nullopt, std::nullopt}).ok());
  std::string future = h.sim->save_state();
  future.replace(future.find(v2), v2.size(), "\"version\":3");
  CHECK_FALSE(resumed.sim->load_state(future).ok());
}
