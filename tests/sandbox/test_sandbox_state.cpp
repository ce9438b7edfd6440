// The simulator's persistence (save_state/load_state, for the CLI's separate processes), its thread
// safety, and its transport outliving it.

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include "rapidjson.hpp"
#include <rapidjson/document.h>

#include "test_sandbox_support.hpp"
#include "wagroups/graph_codes.hpp"

using namespace wagroups;
using sandbox_test::all_of_type;
using sandbox_test::Harness;
using sandbox_test::kStart;
using sandbox_test::parse_all;
using sandbox_test::person;

TEST_CASE("sandbox: save_state and load_state round-trip everything", "[sandbox]") {
  sandbox::SimulatorOptions o;
  o.seed = 5;
  o.group_ops_per_window = 10;
  Harness original(o);
  auto open = original.create("Open");
  auto moderated = original.create("Moderated", JoinApprovalMode::approval_required);
  original.join(open, 2);
  REQUIRE(original.sim->join_by_link(moderated.invite_link, person(5)).ok());
  REQUIRE(original.client->remove_participants({open.group_id, {"15550123002"}}).ok());
  REQUIRE(original.sim->suspend(moderated.group_id).ok());
  auto sent = original.client->send_text(open.group_id, "kept");
  REQUIRE(sent.ok());
  REQUIRE(original.client->pin_message(open.group_id, sent->message_id(), 5).ok());
  original.sim->set_eligible(false);
  const std::size_t queued = original.sim->pending_webhooks();
  REQUIRE(queued > 0);

  const std::string saved = original.sim->save_state();
  rapidjson::Document doc;
  doc.Parse(saved.c_str());
  REQUIRE(doc.IsObject());
  CHECK(doc["groups"].Size() == 2);
  CHECK(doc["webhooks"].Size() == queued);
  CHECK(saved.find(original.secret()) == std::string::npos);  // the secret is configuration, not state

  sandbox::SimulatorOptions p = o;
  Harness restored(p);
  REQUIRE(restored.sim->load_state(saved).ok());
  CHECK(restored.sim->save_state() == saved);
  CHECK_FALSE(restored.sim->options().eligible);
  CHECK(restored.sim->pending_webhooks() == queued);

  const auto before = original.sim->group(open.group_id);
  const auto after = restored.sim->group(open.group_id);
  REQUIRE(after);
  CHECK(after->subject == before->subject);
  CHECK(after->invite_link == before->invite_link);
  CHECK(after->members.size() == 1);
  CHECK(after->business_message_ids == before->business_message_ids);
  CHECK(restored.sim->group(moderated.group_id)->suspended);
  REQUIRE(restored.sim->group(moderated.group_id)->members.size() == 1);
  CHECK_FALSE(restored.sim->group(moderated.group_id)->members[0].joined);

  // Queued webhooks survive, signed as before.
  const auto a = original.sim->take_webhooks();
  const auto b = restored.sim->take_webhooks();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].body == b[i].body);
    CHECK(a[i].signature == b[i].signature);
    CHECK(a[i].field == b[i].field);
  }
  parse_all(b, restored.secret());

  // Both carry on identically: same ids, same rules (removed people stay out, pins, eligibility).
  original.sim->set_eligible(true);
  restored.sim->set_eligible(true);
  for (Harness* h : {&original, &restored}) {
    CHECK(h->sim->join_by_link(open.invite_link, person(2)).error().field == "person");
    REQUIRE(h->sim->join_by_link(open.invite_link, person(3)).ok());
    REQUIRE(h->client->unpin_message(open.group_id, sent->message_id()).ok());
    REQUIRE(h->client->create_group({"Next", std::nullopt, std::nullopt}).ok());
    CHECK(h->client->send_text(moderated.group_id, "x").error().graph_code() == graph_codes::group_suspended);
  }
  const auto c = original.sim->take_webhooks();
  const auto d = restored.sim->take_webhooks();
  REQUIRE(c.size() == d.size());
  for (std::size_t i = 0; i < c.size(); ++i) CHECK(c[i].body == d[i].body);
  CHECK(original.sim->save_state() == restored.sim->save_state());

  SECTION("the rate-limit window is part of the state") {
    sandbox::SimulatorOptions limited;
    limited.group_ops_per_window = 1;
    Harness one(limited);
    REQUIRE(one.client->create_group({"Only", std::nullopt, std::nullopt}).ok());
    Harness two(limited);
    REQUIRE(two.sim->load_state(one.sim->save_state()).ok());
    auto refused = two.client->create_group({"Another", std::nullopt, std::nullopt},
                                            CallOptions{std::nullopt, RetryOptions{1}, std::nullopt});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().graph_code() == graph_codes::group_rate_limit);
  }
}

TEST_CASE("sandbox: load_state refuses what is not a saved state and keeps the current one", "[sandbox]") {
  Harness h;
  auto g = h.create("Keep me");
  const std::string before = h.sim->save_state();
  for (const std::string& bad :
       {std::string(""), std::string("[]"), std::string("{\"format\":\"other\"}"), std::string("{not json"),
        std::string(R"({"format":"wagroups-sandbox-state","version":99})"),
        std::string(R"({"format":"wagroups-sandbox-state","version":1,"groups":[]})")}) {
    INFO(bad);
    auto r = h.sim->load_state(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::decode);
  }
  CHECK(h.sim->save_state() == before);
  CHECK(h.sim->group(g.group_id));
}

TEST_CASE("sandbox: thread-safe: concurrent clients, people and flushes", "[sandbox][concurrent]") {
  Harness h;
  std::vector<Harness::Created> groups;
  for (int i = 0; i < 4; ++i) {
    groups.push_back(h.create("Group " + std::to_string(i)));
    h.join(groups.back(), 2);
  }
  std::atomic<std::size_t> delivered{0};
  std::atomic<bool> sink_reentered{false};
  h.sim->set_webhook_sink([&](const sandbox::WebhookDelivery&) {
    ++delivered;
    // The sink runs outside the simulator's lock: calling back in must not deadlock.
    if (h.sim->pending_webhooks() < 1000000) sink_reentered = true;
  });
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const auto& g = groups[static_cast<std::size_t>(t)];
      for (int i = 0; i < kPerThread; ++i) {
        if (!h.client->send_text(g.group_id, "n" + std::to_string(i)).ok()) ++failures;
        if (!h.sim->send_text(g.group_id, person(1), "m" + std::to_string(i)).ok()) ++failures;
        if (i % 5 == 0) h.sim->flush();
      }
    });
  }
  for (auto& th : threads) th.join();
  h.sim->flush();
  CHECK(failures.load() == 0);
  // Per iteration: sent + delivered + read for the business message, one inbound message.
  CHECK(delivered.load() == static_cast<std::size_t>(4 * kPerThread * 4));
  CHECK(sink_reentered.load());
  CHECK(h.sim->pending_webhooks() == 0);
  for (const auto& g : groups) CHECK(h.sim->group(g.group_id)->business_message_ids.size() == kPerThread);
}

TEST_CASE("sandbox: a transport that outlives its simulator fails cleanly", "[sandbox]") {
  std::shared_ptr<Transport> transport;
  {
    sandbox::Simulator sim;
    transport = sim.transport();
    HttpRequest r;
    r.url = "/v23.0/200000000000002/groups";
    auto live = transport->send(r);
    REQUIRE(live.ok());
    CHECK(live->status == 200);
  }
  HttpRequest r;
  r.url = "/v23.0/200000000000002/groups";
  auto gone = transport->send(r);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == ErrorCode::transport);
  CHECK_FALSE(gone.error().request_may_have_been_sent);
}

TEST_CASE("sandbox: the default clock is the system clock", "[sandbox]") {
  sandbox::Simulator sim;
  const auto before =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  HttpRequest r;
  r.method = HttpMethod::post;
  r.url = "/v23.0/200000000000002/groups";
  r.body = R"({"messaging_product":"whatsapp","subject":"Now"})";
  REQUIRE(sim.handle(r).status == 200);
  auto events = parse_all(sim.take_webhooks(), sim.options().app_secret);
  REQUIRE(events.size() == 1);
  const auto t = context_of(events[0]).timestamp;
  REQUIRE(t);
  CHECK(*t >= before);
  CHECK(*t <= before + 5);
  CHECK(*t != kStart);
}
