#pragma once

// Shared by the test_sandbox_*.cpp files: a Simulator on a hand-driven clock with a real Client
// over its in-process transport, and helpers that check and parse every webhook it emits.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include "rapidjson.hpp"
#include <rapidjson/document.h>

#include "wagroups/client/client.hpp"
#include "wagroups/sandbox/simulator.hpp"
#include "wagroups/testing/fake_transport.hpp"
#include "wagroups/webhook.hpp"

namespace sandbox_test {

constexpr std::int64_t kStart = 1790000000;

/// Every delivery: signature checked against `secret`, body parsed; no event may be unknown.
inline std::vector<wagroups::WebhookEvent> parse_all(const std::vector<wagroups::sandbox::WebhookDelivery>& deliveries,
                                                     const std::string& secret) {
  std::vector<wagroups::WebhookEvent> out;
  for (const auto& d : deliveries) {
    INFO(d.body);
    REQUIRE(d.signature == wagroups::compute_signature(d.body, secret));
    REQUIRE(wagroups::verify_signature(d.body, d.signature, secret).ok());
    auto batch = wagroups::parse_webhook(d.body);
    REQUIRE(batch.ok());
    CHECK(batch->object == "whatsapp_business_account");
    REQUIRE_FALSE(batch->events.empty());
    for (auto& e : batch->events) {
      CHECK(std::string(wagroups::kind_of(e)) != "unknown");
      CHECK(wagroups::context_of(e).field == d.field);
      out.push_back(std::move(e));
    }
  }
  return out;
}

template <typename T>
std::vector<T> all_of_type(const std::vector<wagroups::WebhookEvent>& events) {
  std::vector<T> out;
  for (const auto& e : events) {
    if (const T* t = std::get_if<T>(&e)) out.push_back(*t);
  }
  return out;
}

inline std::vector<std::string> kinds(const std::vector<wagroups::WebhookEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.emplace_back(wagroups::kind_of(e));
  return out;
}

/// Customer `i`: a phone, a BSUID and a username (or the phone only).
inline wagroups::sandbox::Person person(int i, bool with_bsuid = true) {
  wagroups::sandbox::Person p;
  p.phone = "1555012300" + std::to_string(i);
  if (with_bsuid) {
    p.user_id = "US.100" + std::to_string(i);
    p.username = "customer" + std::to_string(i);
  }
  p.name = "Customer " + std::to_string(i);
  return p;
}

inline wagroups::HttpRequest raw_request(wagroups::HttpMethod method, std::string url, std::string body = {},
                                         std::string content_type = "application/json") {
  wagroups::HttpRequest r;
  r.method = method;
  r.url = std::move(url);
  if (!body.empty()) r.headers.emplace_back("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

/// The `error` member of a Graph error answer, checked for Meta's envelope shape.
inline int graph_code_of(const wagroups::HttpResponse& response) {
  rapidjson::Document doc;
  doc.Parse(response.body.c_str(), response.body.size());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  REQUIRE(doc.HasMember("error"));
  const auto& e = doc["error"];
  REQUIRE(e["message"].IsString());
  REQUIRE(e["type"].IsString());
  REQUIRE(e["code"].IsInt());
  REQUIRE(e["error_data"]["details"].IsString());
  REQUIRE(e["fbtrace_id"].IsString());
  // Meta's errors read "(#code) title"; Graph's own "Unsupported get request. ..." has no prefix.
  if (std::string(e["type"].GetString()) != "GraphMethodException")
    CHECK(std::string(e["message"].GetString()).rfind("(#" + std::to_string(e["code"].GetInt()) + ") ", 0) == 0);
  return e["code"].GetInt();
}

/// A Simulator on a clock the test drives, and a real Client over `sim->transport()` whose sleeper
/// records each delay (RecordingSleeper) and moves that clock forward by it.
struct Harness {
  std::shared_ptr<std::atomic<std::int64_t>> now = std::make_shared<std::atomic<std::int64_t>>(kStart);
  std::unique_ptr<wagroups::sandbox::Simulator> sim;
  wagroups::testing::RecordingSleeper sleeper;
  std::unique_ptr<wagroups::Client> client;

  explicit Harness(wagroups::sandbox::SimulatorOptions options = {},
                   wagroups::RetryOptions retry = wagroups::RetryOptions{}) {
    options.clock = clock();
    sim = std::make_unique<wagroups::sandbox::Simulator>(std::move(options));
    wagroups::ClientOptions c;
    c.access_token = "sandbox-token-0001";
    c.phone_number_id = sim->options().phone_number_id;
    c.transport = sim->transport();
    c.retry = retry;
    auto record = sleeper.as_sleeper();
    auto clock_now = now;
    c.sleeper = [record, clock_now](std::chrono::milliseconds d) {
      record(d);
      clock_now->fetch_add((d.count() + 999) / 1000);
    };
    c.random = [] { return 0.5; };
    c.clock = clock();
    client = std::make_unique<wagroups::Client>(c);
  }

  wagroups::Clock clock() const {
    auto n = now;
    return [n] { return std::chrono::system_clock::time_point(std::chrono::seconds(n->load())); };
  }
  void advance(std::int64_t seconds) { now->fetch_add(seconds); }
  const std::string& secret() const { return sim->options().app_secret; }

  /// Takes every queued webhook, checked and parsed.
  std::vector<wagroups::WebhookEvent> events() { return parse_all(sim->take_webhooks(), secret()); }

  struct Created {
    std::string group_id;
    std::string invite_link;
    std::string request_id;
  };
  /// Creates a group through the Client and reads its id and link from the group_create webhook.
  Created create(const std::string& subject, std::optional<wagroups::JoinApprovalMode> mode = std::nullopt) {
    auto created = client->create_group({subject, std::nullopt, mode});
    REQUIRE(created.ok());
    REQUIRE(created->request_id);
    auto evs = events();
    auto made = all_of_type<wagroups::GroupCreated>(evs);
    REQUIRE(made.size() == 1);
    REQUIRE(made[0].request_id == created->request_id);
    REQUIRE(made[0].invite_link);
    return Created{made[0].group_id, *made[0].invite_link, *created->request_id};
  }
  /// Customers 1..n join an auto_approve group by its link; their webhooks are taken.
  void join(const Created& g, int n) {
    for (int i = 1; i <= n; ++i) REQUIRE(sim->join_by_link(g.invite_link, person(i)).ok());
    events();
  }
};

}  // namespace sandbox_test
