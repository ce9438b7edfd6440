// The simulator's webhooks: per-participant statuses aggregated by type, inbound messages, people
// leaving, Meta's other spellings, duplicates and reordering, and byte-for-byte determinism. Every
// delivery is checked against its signature and must parse into typed events.

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include "rapidjson.hpp"
#include <rapidjson/document.h>

#include "test_sandbox_support.hpp"
#include "wagroups/graph_codes.hpp"

using namespace wagroups;
using sandbox_test::all_of_type;
using sandbox_test::Harness;
using sandbox_test::kinds;
using sandbox_test::kStart;
using sandbox_test::parse_all;
using sandbox_test::person;

namespace {

// One journey touching every kind of webhook the simulator emits.
void journey(Harness& h) {
  auto open = h.client->create_group({"Open", std::string("A case"), JoinApprovalMode::auto_approve});
  REQUIRE(open.ok());
  auto moderated = h.client->create_group({"Moderated", std::nullopt, JoinApprovalMode::approval_required});
  REQUIRE(moderated.ok());
  const auto groups = h.sim->groups();
  REQUIRE(groups.size() == 2);
  const auto& a = groups[0];
  const auto& b = groups[1];
  REQUIRE(h.sim->join_by_link(a.invite_link, person(1)).ok());
  REQUIRE(h.sim->join_by_link(a.invite_link, person(2, false)).ok());
  REQUIRE(h.sim->join_by_link(a.invite_link, person(3)).ok());
  REQUIRE(h.sim->join_by_link(b.invite_link, person(4)).ok());
  REQUIRE(h.sim->join_by_link(b.invite_link, person(5)).ok());
  REQUIRE(h.sim->cancel_join_request(b.group_id, person(5)).ok());
  auto pending = h.client->list_all_join_requests(b.group_id);
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 1);
  REQUIRE(h.client->approve_join_requests({b.group_id, {(*pending)[0].join_request_id}}).ok());
  REQUIRE(h.client->send_text(a.group_id, "Hello all").ok());
  REQUIRE(h.sim->send_text(a.group_id, person(1), "Hi!").ok());
  REQUIRE(h.sim->send_direct_text(person(6), "Is this the shop?").ok());
  UpdateGroupSettingsRequest update;
  update.group_id = a.group_id;
  update.subject = "Renamed";
  REQUIRE(h.client->update_group_settings(update).ok());
  REQUIRE(h.client->remove_participants({a.group_id, {"15550123003", "15550123099"}}).ok());
  REQUIRE(h.sim->leave(a.group_id, person(2, false)).ok());
  REQUIRE(h.sim->suspend(b.group_id).ok());
  REQUIRE(h.sim->clear_suspension(b.group_id).ok());
  TemplateMessage invite;
  invite.name = "group_invite_link";
  invite.components.push_back(
      TemplateComponent{"body", std::nullopt, std::nullopt, {TemplateParameter::invite_link_for(a.group_id)}});
  REQUIRE(h.client->send_template_to_phone("15550123007", invite).ok());
  REQUIRE(h.client->delete_group(b.group_id).ok());
}

const std::vector<std::string> kJourneyKinds = {"group_created",          "group_created",  // two creates
                                                "participants_added",     "participants_added",
                                                "participants_added",  // three join a
                                                "join_request_created",   "join_request_created",
                                                "join_request_revoked",  // b: ask, ask, cancel
                                                "participants_added",    // approval
                                                "group_message_status",  // sent (group-wide)
                                                "group_message_status",   "group_message_status",
                                                "group_message_status",  // delivered x3
                                                "group_message_status",   "group_message_status",
                                                "group_message_status",               // read x3
                                                "group_message",          "message",  // inbound
                                                "group_settings_updated", "participants_removed",
                                                "participants_removed",                                // remove, leave
                                                "group_suspended",        "group_suspension_cleared",  //
                                                "message_status",         "message_status",
                                                "message_status",  // 1:1 invite
                                                "group_deleted"};

}  // namespace

TEST_CASE("sandbox: every kind of webhook parses into its typed event", "[sandbox]") {
  Harness h;
  journey(h);
  const auto deliveries = h.sim->take_webhooks();
  CHECK(deliveries.size() == 23);
  const auto events = parse_all(deliveries, h.secret());
  CHECK(kinds(events) == kJourneyKinds);
  for (const auto& e : events) {
    CHECK(context_of(e).waba_id == "100000000000001");
    CHECK(context_of(e).phone_number_id == "200000000000002");
    CHECK(context_of(e).timestamp == kStart);
  }
  for (const auto& d : deliveries) {
    CHECK(d.body.find("\"timestamp\":1790000000") == std::string::npos);  // strings, not numbers
    CHECK(d.field != "group_participant_update");
  }
  auto removed = all_of_type<ParticipantsRemoved>(events);
  REQUIRE(removed.size() == 2);
  CHECK(removed[1].initiated_by == RemovalInitiator::participant);
  REQUIRE(removed[1].removed_participants.size() == 1);
  CHECK(removed[1].removed_participants[0].wa_id == "15550123002");
  CHECK_FALSE(removed[1].request_id);
}

TEST_CASE("sandbox: a business send gives one group-wide sent, then delivered and read aggregated per type",
          "[sandbox]") {
  Harness h;
  auto g = h.create("Statuses");
  h.join(g, 3);
  auto sent = h.client->send_text(g.group_id, "Your order shipped");
  REQUIRE(sent.ok());
  const std::string wamid = sent->message_id();
  CHECK(wamid.rfind("wamid.", 0) == 0);
  REQUIRE(sent->contacts.size() == 1);
  CHECK(sent->contacts[0].input == g.group_id);
  CHECK(sent->contacts[0].wa_id == g.group_id);
  CHECK(h.sim->group(g.group_id)->business_message_ids == std::vector<std::string>{wamid});

  const auto deliveries = h.sim->take_webhooks();
  REQUIRE(deliveries.size() == 3);  // one webhook per status type
  std::vector<std::vector<GroupMessageStatus>> per_delivery;
  for (const auto& d : deliveries) {
    CHECK(d.field == "messages");
    per_delivery.push_back(all_of_type<GroupMessageStatus>(parse_all({d}, h.secret())));
  }
  REQUIRE(per_delivery[0].size() == 1);
  const auto& group_wide = per_delivery[0][0];
  CHECK(group_wide.delivery_status == DeliveryStatus::sent);
  CHECK(group_wide.id == wamid);
  CHECK(group_wide.recipient_id == g.group_id);
  CHECK(group_wide.recipient_type == "group");
  CHECK(group_wide.group_id == g.group_id);
  CHECK_FALSE(group_wide.recipient_participant_id);

  const DeliveryStatus expected[] = {DeliveryStatus::delivered, DeliveryStatus::read};
  for (std::size_t k = 0; k < 2; ++k) {
    const auto& statuses = per_delivery[k + 1];
    REQUIRE(statuses.size() == 3);  // one status object per member
    std::vector<std::string> participants;
    for (const auto& s : statuses) {
      CHECK(s.id == wamid);
      CHECK(s.delivery_status == expected[k]);
      CHECK(s.recipient_type == "group");
      CHECK(s.group_id == g.group_id);
      CHECK(s.pricing_category == "group_service");
      CHECK(s.pricing_type == "free_group_customer_service");
      CHECK(s.pricing_model == "PMP");
      CHECK(s.billable == false);
      REQUIRE(s.recipient_participant_id);
      participants.push_back(*s.recipient_participant_id);
    }
    CHECK(participants == std::vector<std::string>{"15550123001", "15550123002", "15550123003"});
    CHECK(statuses[0].recipient_participant_user_id == "US.1001");
    CHECK(statuses[0].contact_name == "Customer 1");
    CHECK(statuses[0].username == "customer1");
  }

  SECTION("templates are priced as group_utility, and statuses can be switched off") {
    TemplateMessage t;
    t.name = "order_update";
    t.category = TemplateCategory::utility;
    REQUIRE(h.client->send_template(g.group_id, t).ok());
    auto statuses = all_of_type<GroupMessageStatus>(h.events());
    REQUIRE(statuses.size() == 7);
    CHECK(statuses[1].pricing_category == "group_utility");
    CHECK(statuses[1].pricing_type == "regular");
    CHECK(statuses[1].billable == true);

    sandbox::SimulatorOptions quiet;
    quiet.auto_statuses = false;
    Harness q(quiet);
    auto qg = q.create("Quiet");
    q.join(qg, 2);
    REQUIRE(q.client->send_text(qg.group_id, "hi").ok());
    auto only_sent = all_of_type<GroupMessageStatus>(q.events());
    REQUIRE(only_sent.size() == 1);
    CHECK(only_sent[0].delivery_status == DeliveryStatus::sent);
  }
}

TEST_CASE("sandbox: inbound messages from members and 1:1 customers carry their contact", "[sandbox]") {
  Harness h;
  auto g = h.create("Inbound");
  h.join(g, 1);
  auto id = h.sim->send_text(g.group_id, person(1), "Where is my parcel?");
  REQUIRE(id.ok());
  auto events = h.events();
  auto messages = all_of_type<GroupMessageReceived>(events);
  REQUIRE(messages.size() == 1);
  const auto& m = messages[0];
  CHECK(m.id == *id);
  CHECK(m.type == "text");
  CHECK(m.text == "Where is my parcel?");
  CHECK(m.group_id == g.group_id);
  CHECK(m.from == "15550123001");
  CHECK(m.from_user_id == "US.1001");
  CHECK(m.username == "customer1");
  CHECK(m.contact_name == "Customer 1");
  CHECK(m.contact_wa_id == "15550123001");

  // A member's message can be pinned by the business.
  CHECK(h.client->pin_message(g.group_id, *id, 3).ok());
  h.events();

  auto outsider = h.sim->send_text(g.group_id, person(9), "let me in");
  REQUIRE_FALSE(outsider.ok());
  CHECK(outsider.error().graph_code() == graph_codes::participant_not_in_group);

  sandbox::Person bsuid_only;
  bsuid_only.user_id = "US.2002";
  bsuid_only.name = "No Phone";
  auto direct = h.sim->send_direct_text(bsuid_only, "hello shop");
  REQUIRE(direct.ok());
  auto directs = all_of_type<DirectMessageReceived>(h.events());
  REQUIRE(directs.size() == 1);
  CHECK(directs[0].id == *direct);
  CHECK_FALSE(directs[0].group_id);
  CHECK_FALSE(directs[0].from);
  CHECK(directs[0].from_user_id == "US.2002");
  CHECK(directs[0].contact_name == "No Phone");
  CHECK_FALSE(h.sim->send_direct_text(person(1), "").ok());
}

TEST_CASE("sandbox: with a spelling-variant share of 1, every delivery uses Meta's other spellings", "[sandbox]") {
  sandbox::SimulatorOptions o;
  o.spelling_variant_share = 1.0;
  Harness varied(o);
  journey(varied);
  Harness plain;
  journey(plain);

  const auto deliveries = varied.sim->take_webhooks();
  REQUIRE(deliveries.size() == 23);
  const auto events = parse_all(deliveries, varied.secret());
  CHECK(kinds(events) == kJourneyKinds);  // the same typed events, whatever the spelling
  for (const auto& e : events) CHECK(context_of(e).timestamp == kStart);
  for (const auto& d : deliveries) {
    INFO(d.body);
    // Every delivery: the unquoted timestamp (the OpenAPI schema's integer).
    CHECK(d.body.find("\"timestamp\":1790000000") != std::string::npos);
    CHECK(d.body.find("\"timestamp\":\"") == std::string::npos);
    if (d.body.find("\"groups\"") != std::string::npos && d.field != "group_lifecycle_update" &&
        d.field != "group_settings_update" && d.field != "group_status_update") {
      CHECK(d.field == "group_participant_update");
    }
    CHECK(d.body.find("\"group_participants_add\"") == std::string::npos);
    CHECK(d.body.find("\"group_participants_remove\"") == std::string::npos);
    CHECK(d.body.find("\"recipient_participant_id\"") == std::string::npos);
  }
  const auto all = [&](const char* needle) {
    return std::count_if(deliveries.begin(), deliveries.end(),
                         [&](const sandbox::WebhookDelivery& d) { return d.body.find(needle) != std::string::npos; });
  };
  CHECK(all("\"group_add_participants\"") == 4);
  CHECK(all("\"group_remove_participants\"") == 2);
  CHECK(all("\"participant_recipient_id\"") == 2);
  CHECK(all("\"conversation\":{") == 5);  // pricing nested in conversation, as in Meta's aggregated sample

  // The parsed statuses keep their meaning: participant and pricing read from either spelling.
  auto statuses = all_of_type<GroupMessageStatus>(events);
  REQUIRE(statuses.size() == 7);
  CHECK(statuses[1].recipient_participant_id == "15550123001");
  CHECK(statuses[1].pricing_category == "group_service");
  CHECK(statuses[1].conversation_id);
  auto plain_events = parse_all(plain.sim->take_webhooks(), plain.secret());
  auto plain_statuses = all_of_type<GroupMessageStatus>(plain_events);
  REQUIRE(plain_statuses.size() == 7);
  for (std::size_t i = 0; i < 7; ++i) {
    CHECK(statuses[i].recipient_participant_id == plain_statuses[i].recipient_participant_id);
    CHECK(statuses[i].pricing_type == plain_statuses[i].pricing_type);
  }
  // Realism never shifts the ids: both runs made the same groups.
  CHECK(varied.sim->groups()[0].group_id == plain.sim->groups()[0].group_id);
}

TEST_CASE("sandbox: duplicate and reorder shares repeat and swap deliveries, all parseable", "[sandbox]") {
  SECTION("duplicates: with a share of 1, each delivery comes twice in a row, byte-identical") {
    sandbox::SimulatorOptions o;
    o.duplicate_share = 1.0;
    Harness h(o);
    journey(h);
    const auto deliveries = h.sim->take_webhooks();
    REQUIRE(deliveries.size() == 46);
    for (std::size_t i = 0; i < deliveries.size(); i += 2) {
      CHECK(deliveries[i].body == deliveries[i + 1].body);
      CHECK(deliveries[i].signature == deliveries[i + 1].signature);
    }
    std::vector<sandbox::WebhookDelivery> firsts;
    for (std::size_t i = 0; i < deliveries.size(); i += 2) firsts.push_back(deliveries[i]);
    CHECK(kinds(parse_all(firsts, h.secret())) == kJourneyKinds);
  }
  SECTION("reordering: the same deliveries, not in the same order") {
    sandbox::SimulatorOptions o;
    o.reorder_share = 0.5;
    o.seed = 7;
    Harness h(o);
    journey(h);
    sandbox::SimulatorOptions p;
    p.seed = 7;
    Harness straight(p);
    journey(straight);
    auto shuffled = h.sim->take_webhooks();
    auto ordered = straight.sim->take_webhooks();
    REQUIRE(shuffled.size() == ordered.size());
    std::vector<std::string> a, b;
    for (const auto& d : shuffled) a.push_back(d.body);
    for (const auto& d : ordered) b.push_back(d.body);
    CHECK(a != b);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    CHECK(a == b);
    auto events = parse_all(shuffled, h.secret());
    auto got = kinds(events);
    auto want = kJourneyKinds;
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    CHECK(got == want);
  }
  SECTION("mixed shares still give only signed, parseable bodies") {
    sandbox::SimulatorOptions o;
    o.spelling_variant_share = 0.5;
    o.duplicate_share = 0.3;
    o.reorder_share = 0.3;
    o.seed = 99;
    Harness h(o);
    journey(h);
    const auto deliveries = h.sim->take_webhooks();
    CHECK(deliveries.size() > 23);
    const auto events = parse_all(deliveries, h.secret());
    std::map<std::string, int> count;
    for (const auto& k : kinds(events)) ++count[k];
    CHECK(count["group_created"] >= 2);
    CHECK(count["group_deleted"] >= 1);
  }
}

TEST_CASE("sandbox: equal seeds and clocks give byte-identical webhooks; another seed other ids", "[sandbox]") {
  sandbox::SimulatorOptions o;
  o.seed = 42;
  o.spelling_variant_share = 0.4;
  o.duplicate_share = 0.2;
  o.reorder_share = 0.2;
  Harness first(o);
  Harness second(o);
  journey(first);
  journey(second);
  const auto a = first.sim->take_webhooks();
  const auto b = second.sim->take_webhooks();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].body == b[i].body);
    CHECK(a[i].signature == b[i].signature);
    CHECK(a[i].field == b[i].field);
  }
  CHECK(first.sim->save_state() == second.sim->save_state());

  o.seed = 43;
  Harness other(o);
  journey(other);
  CHECK(other.sim->groups()[0].group_id != first.sim->groups()[0].group_id);
  CHECK(other.sim->groups()[0].invite_link != first.sim->groups()[0].invite_link);
}

TEST_CASE("sandbox: ids look like Meta's", "[sandbox]") {
  Harness h;
  auto g = h.create("Ids");
  // Opaque, base64-like group ids that survive a URL path unescaped.
  CHECK(g.group_id.size() > 40);
  CHECK(std::all_of(g.group_id.begin(), g.group_id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  }));
  CHECK(std::all_of(g.request_id.begin(), g.request_id.end(),
                    [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }));
  const std::string code = g.invite_link.substr(std::string("https://chat.whatsapp.com/").size());
  CHECK(code.size() == 22);
  auto second = h.create("Ids 2");
  CHECK(second.group_id != g.group_id);
  CHECK(second.request_id != g.request_id);
}
