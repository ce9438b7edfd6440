// The simulator's Graph API, driven through the real Client over its in-process transport: each
// operation, each limit and each error code, decoded into the Client's typed results and errors.

#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include "rapidjson.hpp"
#include <rapidjson/document.h>

#include "jpeg_builder.hpp"
#include "test_sandbox_support.hpp"
#include "wagroups/graph_codes.hpp"

using namespace wagroups;
using sandbox_test::all_of_type;
using sandbox_test::graph_code_of;
using sandbox_test::Harness;
using sandbox_test::kStart;
using sandbox_test::person;
using sandbox_test::raw_request;

namespace {

// A minimal JPEG (SOI, APP0/JFIF, SOF0, EOI) that declares `width` x `height`.
std::string make_jpeg(unsigned width, unsigned height) {
  return wagroups_test::jpeg::make_jpeg(width, height, wagroups_test::jpeg::kSof0, /*with_dht=*/false);
}

std::string multipart(const std::string& boundary, const std::string& picture) {
  std::string body =
      "--" + boundary + "\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n";
  body += "--" + boundary +
          "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
          "Content-Type: image/jpeg\r\n\r\n" +
          picture + "\r\n--" + boundary + "--\r\n";
  return body;
}

const std::string kBase = "https://graph.facebook.com/v23.0/";

}  // namespace

TEST_CASE("sandbox: create is asynchronous, request_id now and a signed group_create on flush", "[sandbox]") {
  Harness h;
  auto created = h.client->create_group({"Order #1042", std::string("Delivery question"), std::nullopt});
  REQUIRE(created.ok());
  REQUIRE(created->request_id);
  CHECK(created->request_id->size() == 32);
  CHECK(created->messaging_product == "whatsapp");
  CHECK(h.sim->pending_webhooks() == 1);

  CHECK(h.sim->flush() == 0);  // no sink yet: nothing delivered, nothing lost
  CHECK(h.sim->pending_webhooks() == 1);
  std::vector<sandbox::WebhookDelivery> delivered;
  h.sim->set_webhook_sink([&](const sandbox::WebhookDelivery& d) { delivered.push_back(d); });
  CHECK(h.sim->flush() == 1);
  CHECK(h.sim->pending_webhooks() == 0);
  REQUIRE(delivered.size() == 1);
  const auto& d = delivered[0];
  CHECK(d.field == "group_lifecycle_update");
  CHECK(d.signature.rfind("sha256=", 0) == 0);
  CHECK_FALSE(verify_signature(d.body, d.signature, "another-secret").ok());
  CHECK(d.body.find("\"timestamp\":\"1790000000\"") != std::string::npos);  // a string, as Meta sends

  auto events = sandbox_test::parse_all(delivered, h.secret());
  REQUIRE(events.size() == 1);
  const auto* made = std::get_if<GroupCreated>(&events[0]);
  REQUIRE(made);
  CHECK(made->request_id == created->request_id);
  CHECK(request_id_of(events[0]) == created->request_id);
  CHECK(made->subject == "Order #1042");
  CHECK(made->description == "Delivery question");
  CHECK(made->join_approval_mode == JoinApprovalMode::auto_approve);
  REQUIRE(made->invite_link);
  CHECK(made->invite_link->rfind("https://chat.whatsapp.com/", 0) == 0);
  CHECK(made->invite_link->size() == std::string("https://chat.whatsapp.com/").size() + 22);
  CHECK(made->context.waba_id == "100000000000001");
  CHECK(made->context.phone_number_id == "200000000000002");
  CHECK(made->context.display_phone_number == "15550100100");
  CHECK(made->context.timestamp == kStart);
  CHECK_FALSE(made->group_id.empty());
  auto g = h.sim->group(made->group_id);
  REQUIRE(g);
  CHECK(g->invite_link == *made->invite_link);
  CHECK(g->creation_timestamp == kStart);
  CHECK(g->members.empty());
}

TEST_CASE("sandbox: list groups pages with Graph cursors", "[sandbox]") {
  Harness h;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(h.create("Case " + std::to_string(i)).group_id);

  auto first = h.client->list_groups(ListGroupsRequest{PageRequest{2, std::nullopt, std::nullopt}});
  REQUIRE(first.ok());
  REQUIRE(first->groups.size() == 2);
  CHECK(first->groups[0].id == ids[0]);
  CHECK(first->groups[1].id == ids[1]);
  CHECK(first->groups[0].subject == "Case 0");
  CHECK(first->groups[0].created_at == kStart);
  REQUIRE(first->paging.after);
  REQUIRE(first->paging.next);
  // The next-page URL keeps the version the request used (the client's default).
  CHECK(first->paging.next->find("/" + h.client->options().api_version + "/200000000000002/groups?limit=2&after=") !=
        std::string::npos);
  CHECK_FALSE(first->paging.previous);

  auto second = h.client->list_groups(ListGroupsRequest{PageRequest{2, first->paging.after, std::nullopt}});
  REQUIRE(second.ok());
  REQUIRE(second->groups.size() == 2);
  CHECK(second->groups[0].id == ids[2]);
  CHECK(second->paging.previous);
  auto back = h.client->list_groups(ListGroupsRequest{PageRequest{2, std::nullopt, second->paging.before}});
  REQUIRE(back.ok());
  REQUIRE(back->groups.size() == 2);
  CHECK(back->groups[0].id == ids[0]);

  auto third = h.client->list_groups(ListGroupsRequest{PageRequest{2, second->paging.after, std::nullopt}});
  REQUIRE(third.ok());
  REQUIRE(third->groups.size() == 1);
  CHECK(third->groups[0].id == ids[4]);
  CHECK_FALSE(third->paging.next);

  std::size_t pages = 0;
  auto all = h.client->list_all_groups(2, [&](std::size_t p, std::size_t) { pages = p; });
  REQUIRE(all.ok());
  REQUIRE(all->size() == 5);
  for (std::size_t i = 0; i < 5; ++i) CHECK((*all)[i].id == ids[i]);
  CHECK(pages == 3);

  SECTION("a corrupt cursor is 131059") {
    auto bad = h.client->list_groups(ListGroupsRequest{PageRequest{2, std::string("not*a*cursor"), std::nullopt}});
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().graph_code() == graph_codes::invalid_cursor);
    CHECK(bad.error().http_status == 400);
  }
  SECTION("a limit beyond 1024 is refused with code 100") {
    auto r = h.sim->handle(raw_request(HttpMethod::get, kBase + "200000000000002/groups?limit=5000"));
    CHECK(r.status == 400);
    CHECK(graph_code_of(r) == 100);
  }
  SECTION("deleted groups are not listed") {
    REQUIRE(h.client->delete_group(ids[1]).ok());
    auto left = h.client->list_all_groups();
    REQUIRE(left.ok());
    CHECK(left->size() == 4);
  }
}

TEST_CASE("sandbox: group info selects fields", "[sandbox]") {
  Harness h;
  auto g = h.create("Order #7", JoinApprovalMode::auto_approve);
  auto empty = h.client->get_group_info({g.group_id, {}});
  REQUIRE(empty.ok());
  CHECK(empty->id == g.group_id);
  CHECK(empty->subject == "Order #7");
  CHECK_FALSE(empty->description);
  CHECK(empty->join_approval_mode == JoinApprovalMode::auto_approve);
  CHECK(empty->suspended == false);
  CHECK(empty->creation_timestamp == kStart);
  REQUIRE(empty->participants);
  CHECK(empty->participants->empty());
  CHECK(empty->total_participant_count == 0);

  h.join(g, 2);
  auto info = h.client->get_group_info({g.group_id, {GroupField::participants, GroupField::total_participant_count}});
  REQUIRE(info.ok());
  CHECK_FALSE(info->subject);  // not asked for
  REQUIRE(info->participants);
  REQUIRE(info->participants->size() == 2);
  CHECK((*info->participants)[0].wa_id == "15550123001");
  CHECK((*info->participants)[0].user_id == "US.1001");
  CHECK((*info->participants)[0].username == "customer1");
  CHECK(info->total_participant_count == 2);

  SECTION("no fields: only id and messaging_product, as Meta answers") {
    auto r = h.sim->handle(raw_request(HttpMethod::get, kBase + g.group_id));
    REQUIRE(r.status == 200);
    rapidjson::Document doc;
    doc.Parse(r.body.c_str());
    REQUIRE(doc.IsObject());
    CHECK(doc.MemberCount() == 2);
    CHECK(std::string(doc["id"].GetString()) == g.group_id);
  }
  SECTION("an unknown field is code 100") {
    auto r = h.sim->handle(raw_request(HttpMethod::get, kBase + g.group_id + "?fields=subject,colour"));
    CHECK(r.status == 400);
    CHECK(graph_code_of(r) == 100);
  }
}

TEST_CASE("sandbox: settings update by JSON and multipart, each with its webhook", "[sandbox]") {
  Harness h;
  auto g = h.create("Old subject");

  UpdateGroupSettingsRequest update;
  update.group_id = g.group_id;
  update.subject = "  New subject  ";
  update.description = "Now with a description";
  auto updated = h.client->update_group_settings(update);
  REQUIRE(updated.ok());
  CHECK_FALSE(updated->request_id);  // Meta documents no body; the webhook carries the request_id
  auto events = h.events();
  auto settings = all_of_type<GroupSettingsUpdated>(events);
  REQUIRE(settings.size() == 1);
  CHECK(settings[0].request_id);
  REQUIRE(settings[0].group_subject);
  CHECK(settings[0].group_subject->text == "New subject");
  REQUIRE(settings[0].group_description);
  CHECK(settings[0].group_description->text == "Now with a description");
  CHECK_FALSE(settings[0].profile_picture);
  CHECK(settings[0].all_succeeded());
  CHECK(h.sim->group(g.group_id)->subject == "New subject");

  UpdateGroupSettingsRequest picture;
  picture.group_id = g.group_id;
  picture.profile_picture = ProfilePicture{make_jpeg(256, 256), "square.jpg"};
  auto with_picture = h.client->update_group_settings(picture);
  REQUIRE(with_picture.ok());
  auto pic_events = all_of_type<GroupSettingsUpdated>(h.events());
  REQUIRE(pic_events.size() == 1);
  REQUIRE(pic_events[0].profile_picture);
  CHECK(pic_events[0].profile_picture->mime_type == "image/jpeg");
  REQUIRE(pic_events[0].profile_picture->sha256);
  CHECK(pic_events[0].profile_picture->sha256->size() == 44);  // base64 of a SHA-256 digest
  CHECK_FALSE(pic_events[0].group_subject);
  CHECK(pic_events[0].all_succeeded());

  SECTION("a picture Meta refuses: 131209 (not square), 131210 (too small)") {
    const std::string boundary = "sandbox-boundary";
    auto not_square = raw_request(HttpMethod::post, kBase + g.group_id, multipart(boundary, make_jpeg(300, 200)),
                                  "multipart/form-data; boundary=" + boundary);
    auto r1 = h.sim->handle(not_square);
    CHECK(r1.status == 400);
    CHECK(graph_code_of(r1) == graph_codes::picture_aspect_ratio);
    auto small = raw_request(HttpMethod::post, kBase + g.group_id, multipart(boundary, make_jpeg(100, 100)),
                             "multipart/form-data; boundary=" + boundary);
    auto r2 = h.sim->handle(small);
    CHECK(graph_code_of(r2) == graph_codes::picture_too_small);
    CHECK(h.sim->pending_webhooks() == 0);
  }
  SECTION("nothing to update is 131008") {
    auto r = h.sim->handle(raw_request(HttpMethod::post, kBase + g.group_id, R"({"messaging_product":"whatsapp"})"));
    CHECK(graph_code_of(r) == 131008);
  }
}

TEST_CASE("sandbox: delete queues group_delete and the group is gone (131041)", "[sandbox]") {
  Harness h;
  auto g = h.create("Short-lived");
  h.join(g, 1);
  auto deleted = h.client->delete_group(g.group_id);
  REQUIRE(deleted.ok());
  CHECK(deleted->success == true);
  CHECK_FALSE(deleted->request_id);  // Meta documents {"success": true}
  auto events = h.events();
  auto gone = all_of_type<GroupDeleted>(events);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].group_id == g.group_id);
  CHECK(gone[0].request_id);
  CHECK(h.sim->group(g.group_id)->deleted);

  auto info = h.client->get_group_info({g.group_id, {}});
  REQUIRE_FALSE(info.ok());
  CHECK(info.error().graph_code() == graph_codes::group_unknown);
  CHECK(info.error().http_status == 400);
  CHECK(h.client->send_text(g.group_id, "hello?").error().graph_code() == graph_codes::group_unknown);
  CHECK(h.client->delete_group(g.group_id).error().graph_code() == graph_codes::group_unknown);
  CHECK(h.client->get_invite_link(g.group_id).error().graph_code() == graph_codes::group_unknown);
  auto rejoin = h.sim->join_by_link(g.invite_link, person(2));
  REQUIRE_FALSE(rejoin.ok());
  CHECK(rejoin.error().field == "invite_link");
  CHECK(h.sim->send_text(g.group_id, person(1), "still here?").error().graph_code() == graph_codes::group_unknown);
}

TEST_CASE("sandbox: invite link get, reset invalidates the old one, delete", "[sandbox]") {
  Harness h;
  auto g = h.create("Links");
  auto current = h.client->get_invite_link(g.group_id);
  REQUIRE(current.ok());
  CHECK(current->invite_link == g.invite_link);
  CHECK(current->messaging_product == "whatsapp");

  auto reset = h.client->reset_invite_link(g.group_id);
  REQUIRE(reset.ok());
  CHECK(reset->invite_link != g.invite_link);
  CHECK(reset->invite_link.rfind("https://chat.whatsapp.com/", 0) == 0);
  CHECK(h.client->get_invite_link(g.group_id)->invite_link == reset->invite_link);

  auto old_join = h.sim->join_by_link(g.invite_link, person(1));
  REQUIRE_FALSE(old_join.ok());
  CHECK(old_join.error().code == ErrorCode::invalid_argument);
  CHECK(old_join.error().field == "invite_link");
  CHECK(h.sim->pending_webhooks() == 0);
  REQUIRE(h.sim->join_by_link(reset->invite_link, person(1)).ok());
  CHECK(all_of_type<ParticipantsAdded>(h.events()).size() == 1);

  auto removed = h.client->delete_invite_link(g.group_id);
  REQUIRE(removed.ok());
  CHECK(removed->success == true);  // Meta's spec sends the string "true"
  CHECK_FALSE(h.sim->join_by_link(reset->invite_link, person(2)).ok());
  auto fresh = h.client->get_invite_link(g.group_id);
  REQUIRE(fresh.ok());
  CHECK(fresh->invite_link != reset->invite_link);
  CHECK(h.sim->join_by_link(fresh->invite_link, person(2)).ok());
}

TEST_CASE("sandbox: joining an auto_approve group by its link", "[sandbox]") {
  Harness h;
  auto g = h.create("Open group", JoinApprovalMode::auto_approve);
  REQUIRE(h.sim->join_by_link(g.invite_link, person(1)).ok());
  auto events = h.events();
  auto added = all_of_type<ParticipantsAdded>(events);
  REQUIRE(added.size() == 1);
  CHECK(added[0].group_id == g.group_id);
  CHECK(added[0].reason == "invite_link");
  REQUIRE(added[0].added_participants.size() == 1);
  CHECK(added[0].added_participants[0].wa_id == "15550123001");
  CHECK(added[0].added_participants[0].user_id == "US.1001");
  CHECK(added[0].added_participants[0].username == "customer1");
  CHECK(added[0].context.field == "group_participants_update");

  auto again = h.sim->join_by_link(g.invite_link, person(1));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().field == "person");
  auto bad_person = h.sim->join_by_link(g.invite_link, sandbox::Person{});
  REQUIRE_FALSE(bad_person.ok());
  CHECK(bad_person.error().code == ErrorCode::invalid_argument);
  auto sim_group = h.sim->group(g.group_id);
  REQUIRE(sim_group->members.size() == 1);
  CHECK(sim_group->members[0].joined);
}

TEST_CASE("sandbox: approval_required: join requests listed, approved, rejected, cancelled", "[sandbox]") {
  Harness h;
  auto g = h.create("Moderated", JoinApprovalMode::approval_required);
  for (int i = 1; i <= 3; ++i) REQUIRE(h.sim->join_by_link(g.invite_link, person(i)).ok());
  auto events = h.events();
  auto requested = all_of_type<JoinRequestCreated>(events);
  REQUIRE(requested.size() == 3);
  CHECK(requested[0].requester.wa_id == "15550123001");
  CHECK(requested[0].requester.user_id == "US.1001");
  REQUIRE(requested[0].join_request_id);
  CHECK(all_of_type<ParticipantsAdded>(events).empty());
  CHECK_FALSE(h.sim->join_by_link(g.invite_link, person(1)).ok());  // already pending

  auto listed = h.client->list_all_join_requests(g.group_id);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 3);
  CHECK((*listed)[0].join_request_id == *requested[0].join_request_id);
  CHECK((*listed)[0].requester.wa_id == "15550123001");
  CHECK((*listed)[0].creation_timestamp == kStart);
  auto page = h.client->list_join_requests({g.group_id, PageRequest{2, std::nullopt, std::nullopt}});
  REQUIRE(page.ok());
  CHECK(page->data.size() == 2);
  CHECK(page->paging.next);

  auto approved = h.client->approve_join_requests({g.group_id, {*requested[0].join_request_id}});
  REQUIRE(approved.ok());
  CHECK(approved->all_succeeded());
  REQUIRE(approved->succeeded.size() == 1);
  auto added = all_of_type<ParticipantsAdded>(h.events());
  REQUIRE(added.size() == 1);
  REQUIRE(added[0].added_participants.size() == 1);
  CHECK(added[0].added_participants[0].input == "15550123001");
  CHECK(added[0].added_participants[0].wa_id == "15550123001");

  auto rejected = h.client->reject_join_requests({g.group_id, {*requested[1].join_request_id}});
  REQUIRE(rejected.ok());
  CHECK(rejected->succeeded == std::vector<std::string>{*requested[1].join_request_id});
  CHECK(h.sim->pending_webhooks() == 0);  // Meta sends no webhook for a rejection

  REQUIRE(h.sim->cancel_join_request(g.group_id, person(3)).ok());
  auto revoked = all_of_type<JoinRequestRevoked>(h.events());
  REQUIRE(revoked.size() == 1);
  CHECK(revoked[0].join_request_id == requested[2].join_request_id);
  CHECK(revoked[0].requester.wa_id == "15550123003");
  CHECK(h.sim->cancel_join_request(g.group_id, person(3)).error().graph_code() == graph_codes::join_request_not_found);

  // Gone requests fail item by item with 131213; the call itself succeeds.
  auto stale = h.client->approve_join_requests({g.group_id, {*requested[2].join_request_id}});
  REQUIRE(stale.ok());
  CHECK(stale->succeeded.empty());
  REQUIRE(stale->failed.size() == 1);
  REQUIRE(stale->failed[0].errors.size() == 1);
  CHECK(stale->failed[0].errors[0].code == graph_codes::join_request_not_found);
  CHECK(h.client->list_all_join_requests(g.group_id)->empty());
  auto members = h.client->get_group_info({g.group_id, {GroupField::total_participant_count}});
  CHECK(members->total_participant_count == 1);
}

TEST_CASE("sandbox: 131204, at most 8 participants including the business", "[sandbox]") {
  Harness h;
  auto open = h.create("Open", JoinApprovalMode::auto_approve);
  for (int i = 1; i <= 7; ++i) REQUIRE(h.sim->join_by_link(open.invite_link, person(i)).ok());
  auto eighth = h.sim->join_by_link(open.invite_link, person(8));
  REQUIRE_FALSE(eighth.ok());
  CHECK(eighth.error().code == ErrorCode::graph_api);
  CHECK(eighth.error().graph_code() == graph_codes::participant_overlimit);
  CHECK(h.client->get_group_info({open.group_id, {}})->total_participant_count == 7);

  auto moderated = h.create("Moderated", JoinApprovalMode::approval_required);
  for (int i = 1; i <= 8; ++i) REQUIRE(h.sim->join_by_link(moderated.invite_link, person(i)).ok());
  auto requests = h.client->list_all_join_requests(moderated.group_id);
  REQUIRE(requests.ok());
  REQUIRE(requests->size() == 8);
  JoinRequestsAction all{moderated.group_id, {}};
  for (const auto& r : *requests) all.join_request_ids.push_back(r.join_request_id);
  h.events();
  auto approved = h.client->approve_join_requests(all);
  REQUIRE(approved.ok());
  CHECK(approved->succeeded.size() == 7);
  REQUIRE(approved->failed.size() == 1);
  CHECK(approved->failed[0].join_request_id == all.join_request_ids.back());
  REQUIRE(approved->failed[0].errors.size() == 1);
  CHECK(approved->failed[0].errors[0].code == graph_codes::participant_overlimit);
  auto added = all_of_type<ParticipantsAdded>(h.events());
  REQUIRE(added.size() == 1);
  CHECK(added[0].added_participants.size() == 7);

  SECTION("max_participants is configurable") {
    sandbox::SimulatorOptions o;
    o.max_participants = 3;
    Harness small(o);
    auto g = small.create("Tiny");
    CHECK(small.sim->join_by_link(g.invite_link, person(1)).ok());
    CHECK(small.sim->join_by_link(g.invite_link, person(2)).ok());
    CHECK(small.sim->join_by_link(g.invite_link, person(3)).error().graph_code() == graph_codes::participant_overlimit);
  }
}

TEST_CASE("sandbox: 131211, the groups-per-number limit (configurable)", "[sandbox]") {
  sandbox::SimulatorOptions o;
  o.max_groups = 3;
  Harness h(o);
  auto a = h.create("A");
  h.create("B");
  h.create("C");
  auto fourth = h.client->create_group({"D", std::nullopt, std::nullopt});
  REQUIRE_FALSE(fourth.ok());
  CHECK(fourth.error().graph_code() == graph_codes::group_create_limit);
  CHECK(fourth.error().http_status == 400);
  CHECK_FALSE(fourth.error().is_retryable());
  CHECK(fourth.error().attempts == 1);
  CHECK(h.sim->pending_webhooks() == 0);
  REQUIRE(h.client->delete_group(a.group_id).ok());
  h.events();
  CHECK(h.client->create_group({"D", std::nullopt, std::nullopt}).ok());
  CHECK(sandbox::SimulatorOptions{}.max_groups == 10000);  // Meta's limit by default
}

TEST_CASE("sandbox: 131215, an ineligible number, on every group operation", "[sandbox]") {
  Harness h;
  auto g = h.create("Before the change");
  h.join(g, 1);
  h.sim->set_eligible(false);
  CHECK_FALSE(h.sim->options().eligible);

  auto check = [](const Error& e) {
    CHECK(e.is_not_eligible());
    CHECK(e.graph_code() == graph_codes::not_eligible);
    CHECK(e.http_status == 400);
    CHECK_FALSE(e.is_retryable());
  };
  check(h.client->create_group({"After", std::nullopt, std::nullopt}).error());
  check(h.client->list_groups().error());
  check(h.client->get_group_info({g.group_id, {}}).error());
  UpdateGroupSettingsRequest update;
  update.group_id = g.group_id;
  update.subject = "x";
  check(h.client->update_group_settings(update).error());
  check(h.client->get_invite_link(g.group_id).error());
  check(h.client->reset_invite_link(g.group_id).error());
  check(h.client->delete_invite_link(g.group_id).error());
  check(h.client->list_join_requests({g.group_id, {}}).error());
  check(h.client->approve_join_requests({g.group_id, {"any"}}).error());
  check(h.client->reject_join_requests({g.group_id, {"any"}}).error());
  check(h.client->remove_participants({g.group_id, {"15550123001"}}).error());
  check(h.client->send_text(g.group_id, "hello").error());
  check(h.client->delete_group(g.group_id).error());
  check(h.client->get_group_info({"no-such-group", {}}).error());  // eligibility is checked first
  CHECK(h.sim->pending_webhooks() == 0);

  // 1:1 messages are not a Groups API operation.
  TemplateMessage invite;
  invite.name = "group_invite";
  invite.components.push_back(
      TemplateComponent{"body", std::nullopt, std::nullopt, {TemplateParameter::invite_link_for(g.group_id)}});
  CHECK(h.client->send_template_to_phone("+1 555 012 3009", invite).ok());

  h.sim->set_eligible(true);
  CHECK(h.client->list_groups().ok());

  SECTION("configured from the start") {
    sandbox::SimulatorOptions o;
    o.eligible = false;
    Harness ineligible(o);
    auto created = ineligible.client->create_group({"Nope", std::nullopt, std::nullopt});
    REQUIRE_FALSE(created.ok());
    CHECK(created.error().is_not_eligible());
    CHECK(created.error().message.find("131215") != std::string::npos);
  }
}

TEST_CASE("sandbox: 131208, the group rate limit: HTTP 429 with Retry-After", "[sandbox]") {
  sandbox::SimulatorOptions o;
  o.group_ops_per_window = 2;
  o.rate_window = std::chrono::seconds(60);
  RetryOptions no_retries;
  no_retries.max_attempts = 1;

  SECTION("refused once the window's operations are used up, until it ends") {
    Harness h(o, no_retries);
    REQUIRE(h.client->create_group({"One", std::nullopt, std::nullopt}).ok());
    h.advance(15);
    REQUIRE(h.client->create_group({"Two", std::nullopt, std::nullopt}).ok());
    h.advance(5);
    auto third = h.client->create_group({"Three", std::nullopt, std::nullopt});
    REQUIRE_FALSE(third.ok());
    const Error& e = third.error();
    CHECK(e.graph_code() == graph_codes::group_rate_limit);
    CHECK(e.http_status == 429);
    CHECK(e.is_rate_limited());
    CHECK(e.is_retryable());
    REQUIRE(e.retry_after);
    CHECK(*e.retry_after == std::chrono::seconds(40));  // the window opened 20 s ago
    CHECK(h.sim->pending_webhooks() == 2);
    // Reads are not group operations.
    CHECK(h.client->list_groups().ok());
    auto raw = h.sim->handle(raw_request(HttpMethod::post, kBase + "200000000000002/groups",
                                         R"({"messaging_product":"whatsapp","subject":"Raw"})"));
    CHECK(raw.status == 429);
    CHECK(raw.header("Retry-After") == std::string_view("40"));
    CHECK(graph_code_of(raw) == graph_codes::group_rate_limit);
    h.advance(40);
    CHECK(h.client->create_group({"Three", std::nullopt, std::nullopt}).ok());
  }

  SECTION("the Client's retry of an idempotent read sleeps for Retry-After, then succeeds") {
    Harness h(o);
    auto g = h.create("Limited");                         // operation 1
    REQUIRE(h.client->get_invite_link(g.group_id).ok());  // operation 2
    h.advance(10);
    auto link = h.client->get_invite_link(g.group_id);  // 429 first, then retried after 50 s
    REQUIRE(link.ok());
    CHECK(link->invite_link == g.invite_link);
    const auto delays = h.sleeper.delays();
    REQUIRE(delays.size() == 1);
    CHECK(delays[0] == std::chrono::seconds(50));
    CHECK(h.now->load() == kStart + 60);
  }

  SECTION("a create is not repeated by the Client: the error carries Retry-After") {
    Harness h(o);
    REQUIRE(h.client->create_group({"One", std::nullopt, std::nullopt}).ok());
    REQUIRE(h.client->create_group({"Two", std::nullopt, std::nullopt}).ok());
    auto third = h.client->create_group({"Three", std::nullopt, std::nullopt});
    REQUIRE_FALSE(third.ok());
    CHECK(third.error().attempts == 1);
    CHECK(h.sleeper.delays().empty());
    CHECK(third.error().retry_after == std::chrono::milliseconds(60000));
  }
}

TEST_CASE("sandbox: remove participants: 200, 206 partial success (131201), 131212, 131202", "[sandbox]") {
  Harness h;
  auto g = h.create("Removals");
  h.join(g, 3);

  auto partial = h.client->remove_participants({g.group_id, {"+1 555 012 3001", "15550123009"}});
  REQUIRE(partial.ok());
  CHECK(partial->http_status == 206);
  CHECK(partial->partial);
  REQUIRE(partial->partial_error);
  CHECK(partial->partial_error->code == graph_codes::partial_success);
  CHECK_FALSE(partial->request_id);  // documented answers: only the webhook carries it
  REQUIRE(partial->removed_participants.size() == 1);
  CHECK(partial->removed_participants[0].input == "+1 555 012 3001");  // echoed as sent
  REQUIRE(partial->failed_participants.size() == 1);
  CHECK(partial->failed_participants[0].participant.input == "15550123009");
  REQUIRE(partial->failed_participants[0].errors.size() == 1);
  CHECK(partial->failed_participants[0].errors[0].code == graph_codes::participant_not_in_group);

  auto events = h.events();
  auto removed = all_of_type<ParticipantsRemoved>(events);
  REQUIRE(removed.size() == 1);
  CHECK(removed[0].request_id);
  CHECK(removed[0].initiated_by == RemovalInitiator::business);
  REQUIRE(removed[0].removed_participants.size() == 1);
  CHECK(removed[0].removed_participants[0].input == "+1 555 012 3001");
  REQUIRE(removed[0].failed_participants.size() == 1);
  CHECK(removed[0].failed_participants[0].participant.input == "15550123009");
  CHECK(removed[0].failed_participants[0].errors[0].code == graph_codes::participant_not_in_group);
  REQUIRE(removed[0].errors.size() == 1);
  CHECK(removed[0].errors[0].code == graph_codes::partial_success);

  // Removed people cannot come back through the link.
  auto back = h.sim->join_by_link(g.invite_link, person(1));
  REQUIRE_FALSE(back.ok());
  CHECK(back.error().field == "person");

  auto by_bsuid = h.client->remove_participants({g.group_id, {"US.1002"}});
  REQUIRE(by_bsuid.ok());
  CHECK(by_bsuid->http_status == 200);
  CHECK_FALSE(by_bsuid->partial);
  CHECK_FALSE(by_bsuid->success);  // an empty 200, as Meta documents
  auto second = all_of_type<ParticipantsRemoved>(h.events());
  REQUIRE(second.size() == 1);
  CHECK(second[0].failed_participants.empty());
  CHECK(second[0].errors.empty());
  CHECK(h.client->get_group_info({g.group_id, {}})->total_participant_count == 1);

  auto nobody = h.client->remove_participants({g.group_id, {"15550123009"}});
  REQUIRE_FALSE(nobody.ok());
  CHECK(nobody.error().graph_code() == graph_codes::participant_not_in_group);
  CHECK(h.sim->pending_webhooks() == 0);

  // The Client refuses duplicates itself; a raw request meets Meta's 131202.
  auto dup = h.sim->handle(raw_request(
      HttpMethod::delete_, kBase + g.group_id + "/participants",
      R"({"messaging_product":"whatsapp","participants":[{"user":"15550123003"},{"user":"+15550123003"}]})"));
  CHECK(dup.status == 400);
  CHECK(graph_code_of(dup) == graph_codes::duplicate_participant);
  auto none = h.sim->handle(raw_request(HttpMethod::delete_, kBase + g.group_id + "/participants",
                                        R"({"messaging_product":"whatsapp","participants":[]})"));
  CHECK(graph_code_of(none) == 131008);
}

TEST_CASE("sandbox: group sends refused: nobody joined (131020), unsupported type (130501), suspended (131207)",
          "[sandbox]") {
  Harness h;
  auto g = h.create("Quiet");

  auto early = h.client->send_text(g.group_id, "anyone?");
  REQUIRE_FALSE(early.ok());
  CHECK(early.error().graph_code() == graph_codes::bad_group);
  CHECK(early.error().http_status == 400);
  CHECK(h.sim->pending_webhooks() == 0);

  h.join(g, 1);
  CHECK(h.client->send_text(g.group_id, "welcome").ok());
  h.events();

  SECTION("types groups do not take: the Client refuses them before sending; raw requests get 130501") {
    GroupMessage reaction;
    reaction.group_id = g.group_id;
    reaction.type = MessageType::reaction;
    auto refused = h.client->send_group_message(reaction);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::unsupported);
    for (const char* type : {"interactive", "reaction", "location", "contacts"}) {
      const std::string body = std::string(R"({"messaging_product":"whatsapp","recipient_type":"group","to":")") +
                               g.group_id + R"(","type":")" + type + R"(",")" + type + R"(":{}})";
      auto r = h.sim->handle(raw_request(HttpMethod::post, kBase + "200000000000002/messages", body));
      CHECK(r.status == 400);
      CHECK(graph_code_of(r) == graph_codes::unsupported_group_message);
    }
    CHECK(h.sim->pending_webhooks() == 0);
    CHECK(h.sim->group(g.group_id)->business_message_ids.size() == 1);
  }
  SECTION("a suspended group takes nothing until the suspension is lifted") {
    REQUIRE(h.sim->suspend(g.group_id).ok());
    auto suspended = all_of_type<GroupSuspended>(h.events());
    REQUIRE(suspended.size() == 1);
    CHECK(suspended[0].group_id == g.group_id);
    auto refused = h.client->send_text(g.group_id, "hello");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().graph_code() == graph_codes::group_suspended);
    CHECK(refused.error().http_status == 403);
    CHECK(h.client->get_group_info({g.group_id, {GroupField::suspended}})->suspended == true);
    CHECK(h.sim->join_by_link(g.invite_link, person(2)).error().graph_code() == graph_codes::group_suspended);
    CHECK(h.sim->send_text(g.group_id, person(1), "hi").error().graph_code() == graph_codes::group_suspended);
    UpdateGroupSettingsRequest rename;
    rename.group_id = g.group_id;
    rename.subject = "Renamed";
    CHECK(h.client->update_group_settings(rename).error().graph_code() == graph_codes::group_suspended);
    CHECK(h.client->reset_invite_link(g.group_id).error().graph_code() == graph_codes::group_suspended);
    CHECK(h.sim->pending_webhooks() == 0);
    REQUIRE(h.sim->clear_suspension(g.group_id).ok());
    auto cleared = all_of_type<GroupSuspensionCleared>(h.events());
    REQUIRE(cleared.size() == 1);
    CHECK(h.client->send_text(g.group_id, "back").ok());
  }
  SECTION("media by id or link, templates and pins are accepted; bad payloads are not") {
    CHECK(h.client->send_media(g.group_id, MessageType::image, MediaRef::from_id("1234567890")).ok());
    CHECK(
        h.client->send_media(g.group_id, MessageType::document, MediaRef::from_link("https://example.com/a.pdf")).ok());
    CHECK(h.client->send_media(g.group_id, MessageType::sticker, MediaRef::from_id("42")).ok());
    TemplateMessage t;
    t.name = "order_update";
    t.category = TemplateCategory::utility;
    auto sent = h.client->send_template(g.group_id, t);
    REQUIRE(sent.ok());
    auto pinned = h.client->pin_message(g.group_id, sent->message_id(), 7);
    REQUIRE(pinned.ok());
    CHECK(pinned->message_id() != sent->message_id());
    CHECK(h.client->unpin_message(g.group_id, sent->message_id()).ok());
    auto unknown_pin = h.client->pin_message(g.group_id, "wamid.not-here", 7);
    CHECK(unknown_pin.error().graph_code() == 131009);
    auto no_media = h.sim->handle(raw_request(HttpMethod::post, kBase + "200000000000002/messages",
                                              R"({"messaging_product":"whatsapp","recipient_type":"group","to":")" +
                                                  g.group_id + R"(","type":"image","image":{}})"));
    CHECK(graph_code_of(no_media) == 131008);
    CHECK(h.client->send_text("no-such-group", "hi").error().graph_code() == graph_codes::group_unknown);
  }
}

TEST_CASE("sandbox: the 1:1 invite template answers a wamid and queues sent, delivered, read", "[sandbox]") {
  Harness h;
  auto g = h.create("Invites");
  TemplateMessage invite;
  invite.name = "group_invite_link";
  invite.language = "en_US";
  invite.components.push_back(
      TemplateComponent{"body", std::nullopt, std::nullopt, {TemplateParameter::invite_link_for(g.group_id)}});
  auto sent = h.client->send_template_to_phone("+1 555 012 3004", invite);
  REQUIRE(sent.ok());
  const std::string wamid = sent->message_id();
  CHECK(wamid.rfind("wamid.", 0) == 0);
  REQUIRE(sent->contacts.size() == 1);
  CHECK(sent->contacts[0].wa_id == "15550123004");
  CHECK(sent->messages[0].message_status == "accepted");

  auto events = h.events();
  auto statuses = all_of_type<DirectMessageStatus>(events);
  REQUIRE(statuses.size() == 3);
  CHECK(events.size() == 3);
  const DeliveryStatus expected[] = {DeliveryStatus::sent, DeliveryStatus::delivered, DeliveryStatus::read};
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(statuses[i].id == wamid);
    CHECK(statuses[i].delivery_status == expected[i]);
    CHECK(statuses[i].recipient_id == "15550123004");
    CHECK_FALSE(statuses[i].group_id);
    CHECK(statuses[i].pricing_category == "utility");
    CHECK(statuses[i].context.timestamp == kStart);
  }

  auto unknown = h.client->send_template_to_phone("15550123004", [&] {
    TemplateMessage t = invite;
    t.components[0].parameters[0].group_id = "no-such-group";
    return t;
  }());
  CHECK(unknown.error().graph_code() == graph_codes::group_unknown);

  // recipient_type and `to` must agree.
  auto mismatch = h.sim->handle(raw_request(
      HttpMethod::post, kBase + "200000000000002/messages",
      R"({"messaging_product":"whatsapp","to":")" + g.group_id + R"(","type":"text","text":{"body":"hi"}})"));
  CHECK(mismatch.status == 400);
  CHECK(graph_code_of(mismatch) == 100);
  CHECK(h.sim->pending_webhooks() == 0);
}

TEST_CASE("sandbox: unknown paths are Graph's 400 code 100 errors; a configured token is enforced (190)", "[sandbox]") {
  Harness h;
  for (const auto& [method, url] :
       std::vector<std::pair<HttpMethod, std::string>>{{HttpMethod::get, kBase + "200000000000002/nothing"},
                                                       {HttpMethod::get, "/v23.0/a/b/c"},
                                                       {HttpMethod::post, kBase + "200000000000002/messages/extra"},
                                                       {HttpMethod::get, kBase + "200000000000002/messages"},
                                                       {HttpMethod::post, "/"}}) {
    auto r = h.sim->handle(raw_request(method, url));
    INFO(url);
    CHECK(r.status == 400);
    CHECK(graph_code_of(r) == 100);
    CHECK(r.header("Content-Type") == std::string_view("application/json"));
  }
  // Any version prefix, or none, reaches the same routes.
  auto g = h.create("Versions");
  for (const char* prefix : {"/v19.0/", "/v26.0/", "/"}) {
    auto r = h.sim->handle(raw_request(HttpMethod::get, std::string(prefix) + g.group_id + "/invite_link"));
    CHECK(r.status == 200);
  }
  // Another phone number id is not this sandbox's.
  auto other = h.sim->handle(raw_request(HttpMethod::get, kBase + "999/groups"));
  CHECK(other.status == 400);
  CHECK(graph_code_of(other) == 100);

  sandbox::SimulatorOptions o;
  o.access_token = "sandbox-token-0001";
  Harness guarded(o);
  CHECK(guarded.client->list_groups().ok());  // the harness client sends exactly this token
  auto anonymous = guarded.sim->handle(raw_request(HttpMethod::get, kBase + "200000000000002/groups"));
  CHECK(anonymous.status == 401);
  CHECK(graph_code_of(anonymous) == 190);
  CHECK(anonymous.body.find("sandbox-token-0001") == std::string::npos);
  auto wrong = raw_request(HttpMethod::get, kBase + "200000000000002/groups");
  wrong.headers.emplace_back("Authorization", "Bearer another-token");
  CHECK(guarded.sim->handle(wrong).status == 401);
}
