// The `wagroups` CLI as a process against the sandbox (its state in a temporary file per test):
// every Groups command, the --json output, the sandbox's limits and error codes each surfacing as
// one clear stderr line and the documented exit code, and the choice of the real Graph API (a
// loopback fake here) when a token and a phone number id are set.

#include <algorithm>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "cli_test_support.hpp"
#include "loopback_server.hpp"
#include "webhook_bodies.hpp"

#include <wagroups/http/curl_transport.hpp>
#include <wagroups/sandbox/simulator.hpp>
#include <wagroups/sandbox/server.hpp>

using namespace wagroups_cli_test;

namespace {

const std::string kHookSecret = "hook-secret-Vb31";

// Creates a group in the sandbox; returns its id.
std::string create_group(const TempDir& dir, const std::string& subject, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"groups", "create", "--subject", subject, "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto r = cli(dir, args);
  INFO(r.err);
  REQUIRE(r.exit_code == exit_codes::ok);
  const auto d = single_json(r);
  CHECK(str(d, "request_id").size() == 32);
  return str(d, "group_id");
}

std::vector<rapidjson::Document> queued_webhooks(const TempDir& dir, bool take = false) {
  std::vector<std::string> args{"sandbox", "webhooks", "--json"};
  if (take) args.push_back("--take");
  const auto r = cli(dir, args);
  INFO(r.err);
  REQUIRE(r.exit_code == exit_codes::ok);
  std::vector<rapidjson::Document> out;
  for (const auto& line : lines_of(r.out)) out.push_back(json_of(line));
  return out;
}

// The `groups[0]` item (or the first status/message) of a queued webhook's body.
const rapidjson::Value& first_group_item(const rapidjson::Value& delivery) {
  const auto& value = delivery["body"]["entry"][0]["changes"][0]["value"];
  REQUIRE(value.HasMember("groups"));
  return value["groups"][0];
}

}  // namespace

TEST_CASE("cli sandbox: a group's life from create to delete, with --json", "[cli][sandbox]") {
  TempDir dir;
  const auto created = cli(dir, {"groups", "create", "--subject", "Case 7", "--description", "Two parcels", "--json"});
  INFO(created.err);
  REQUIRE(created.exit_code == exit_codes::ok);
  CHECK(contains(created.err, "wagroups: using the sandbox (no WAGROUPS_ACCESS_TOKEN)"));
  CHECK(contains(created.err, "1 webhook(s) queued"));
  const auto answer = single_json(created);
  const std::string group = str(answer, "group_id");
  const std::string request_id = str(answer, "request_id");

  SECTION("the group_create webhook is queued, signed with the sandbox's secret") {
    const auto r = cli(dir, {"sandbox", "webhooks", "--json"});
    REQUIRE(r.exit_code == exit_codes::ok);
    const auto lines = lines_of(r.out);
    REQUIRE(lines.size() == 1);
    const auto d = json_of(lines[0]);
    CHECK(str(d, "field") == "group_lifecycle_update");
    const auto& item = first_group_item(d);
    CHECK(str(item, "type") == "group_create");
    CHECK(str(item, "group_id") == group);
    CHECK(str(item, "request_id") == request_id);
    CHECK(str(item, "subject") == "Case 7");
    // The body is the last member, byte for byte as signed.
    const auto at = lines[0].find("\"body\":");
    REQUIRE(at != std::string::npos);
    const std::string body = lines[0].substr(at + 7, lines[0].size() - at - 8);
    CHECK(str(d, "signature") == wagroups_test::sign_body(body, "sandbox-secret"));
    // Printing does not consume the queue; --take does.
    CHECK(queued_webhooks(dir).size() == 1);
    CHECK(queued_webhooks(dir, /*take=*/true).size() == 1);
    CHECK(queued_webhooks(dir).empty());
  }

  // list, info
  {
    const auto r = cli(dir, {"groups", "list", "--json"});
    REQUIRE(r.exit_code == exit_codes::ok);
    const auto d = single_json(r);
    REQUIRE(d["groups"].Size() == 1);
    CHECK(str(d["groups"][0], "id") == group);
    CHECK(str(d["groups"][0], "subject") == "Case 7");
    const auto human = cli(dir, {"groups", "list"});
    CHECK(contains(human.out, group));
    CHECK(contains(human.out, "Case 7"));
  }
  {
    const auto r = cli(dir, {"groups", "info", group, "--json"});
    REQUIRE(r.exit_code == exit_codes::ok);
    const auto d = single_json(r);
    CHECK(str(d, "subject") == "Case 7");
    CHECK(str(d, "description") == "Two parcels");
    CHECK(str(d, "join_approval_mode") == "auto_approve");
    CHECK(integer(d, "total_participant_count") == 0);
    const auto only = single_json(cli(dir, {"groups", "info", group, "--fields", "subject", "--json"}));
    CHECK(str(only, "subject") == "Case 7");
    CHECK_FALSE(only.HasMember("description"));
    const auto bad = cli(dir, {"groups", "info", group, "--fields", "colour"});
    CHECK(bad.exit_code == exit_codes::usage);
    CHECK(contains(bad.err, "unknown field \"colour\""));
  }

  // invite-link get / reset: the old link stops working
  const std::string old_link = str(single_json(cli(dir, {"invite-link", "get", group, "--json"})), "invite_link");
  const std::string new_link = str(single_json(cli(dir, {"invite-link", "reset", group, "--json"})), "invite_link");
  CHECK(old_link.rfind("https://chat.whatsapp.com/", 0) == 0);
  CHECK(new_link != old_link);
  CHECK(str(single_json(cli(dir, {"invite-link", "get", group, "--json"})), "invite_link") == new_link);
  {
    const auto r = cli(dir, {"sandbox", "join", old_link, "--phone", "15550100009"});
    CHECK(r.exit_code == exit_codes::invalid);
    CHECK(contains(r.err, "invite link is unknown, was reset"));
  }

  // people join; the business writes; statuses per participant
  {
    const auto r = cli(dir, {"sandbox", "join", group, "--phone", "15550100001", "--phone", "15550100002",
                             "--name", "Dana", "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == exit_codes::ok);
    const auto d = single_json(r);
    REQUIRE(d["results"].Size() == 2);
    CHECK(str(d["results"][0], "outcome") == "joined");
  }
  queued_webhooks(dir, /*take=*/true);
  {
    const auto r = cli(dir, {"send", "text", group, "--text", "Hello both", "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == exit_codes::ok);
    const auto d = single_json(r);
    const std::string message_id = str(d["results"][0], "message_id");
    CHECK(message_id.rfind("wamid.", 0) == 0);
    // sent (group-wide), then delivered and read for both members
    const auto hooks = queued_webhooks(dir, /*take=*/true);
    REQUIRE(hooks.size() == 3);
    std::vector<std::string> statuses;
    for (const auto& h : hooks) {
      for (const auto& s : h["body"]["entry"][0]["changes"][0]["value"]["statuses"].GetArray()) {
        CHECK(str(s, "id") == message_id);
        statuses.push_back(str(s, "status"));
      }
    }
    CHECK(statuses == std::vector<std::string>{"sent", "delivered", "delivered", "read", "read"});
  }
  {
    const auto said = cli(dir, {"sandbox", "say", group, "--phone", "15550100001", "--text", "Hi!", "--json"});
    REQUIRE(said.exit_code == exit_codes::ok);
    const auto hooks = queued_webhooks(dir, true);
    REQUIRE(hooks.size() == 1);
    const auto& message = hooks[0]["body"]["entry"][0]["changes"][0]["value"]["messages"][0];
    CHECK(std::string(message["text"]["body"].GetString()) == "Hi!");
    CHECK(str(message, "group_id") == group);
  }

  // participants remove: all, none (131212), some (206)
  {
    const auto r = cli(dir, {"participants", "remove", group, "15550100001", "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == exit_codes::ok);
    const auto d = single_json(r);
    CHECK(integer(d, "http_status") == 200);
    CHECK(d["partial"].GetBool() == false);
  }
  {
    const auto r = cli(dir, {"participants", "remove", group, "15550100001"});
    CHECK(r.exit_code == exit_codes::api);
    CHECK(contains(r.err, "not a member of the group (131212)"));
    CHECK(r.out.empty());
  }
  {
    const auto r = cli(dir, {"participants", "remove", group, "15550100002", "15550100077", "--json"});
    CHECK(r.exit_code == exit_codes::api);
    CHECK(contains(r.err, "only some participants were removed (HTTP 206, 131201)"));
    const auto d = single_json(r);
    CHECK(integer(d, "http_status") == 206);
    CHECK(d["partial"].GetBool());
    REQUIRE(d["failed"].Size() == 1);
    CHECK(integer(d["failed"][0]["errors"][0], "code") == 131212);
  }

  // delete; the group is gone (131041)
  {
    const auto r = cli(dir, {"groups", "delete", group, "--json"});
    REQUIRE(r.exit_code == exit_codes::ok);
    CHECK(single_json(r)["success"].GetBool());
    const auto info = cli(dir, {"groups", "info", group});
    CHECK(info.exit_code == exit_codes::api);
    CHECK(contains(info.err, "131041"));
    CHECK(single_json(cli(dir, {"groups", "list", "--json"}))["groups"].Size() == 0);
  }
}

TEST_CASE("cli sandbox: approval_required groups take join requests; approve, reject, 131213", "[cli][sandbox]") {
  TempDir dir;
  const std::string group = create_group(dir, "Needs approval", {"--approval-required"});
  const auto joined = cli(dir, {"sandbox", "join", group, "--phone", "15550100011", "--phone", "15550100012", "--json"});
  INFO(joined.err);
  REQUIRE(joined.exit_code == exit_codes::ok);
  const auto results = single_json(joined);
  CHECK(str(results["results"][0], "outcome") == "join_requested");

  const auto listed = single_json(cli(dir, {"join-requests", "list", group, "--json"}));
  REQUIRE(listed["join_requests"].Size() == 2);
  std::string first, second;
  for (const auto& r : listed["join_requests"].GetArray()) {
    const std::string phone = str(r, "wa_id");
    (phone == "15550100011" ? first : second) = str(r, "join_request_id");
  }
  REQUIRE_FALSE(first.empty());
  REQUIRE_FALSE(second.empty());

  const auto approved = cli(dir, {"join-requests", "approve", group, first, "--json"});
  INFO(approved.err);
  REQUIRE(approved.exit_code == exit_codes::ok);
  CHECK(single_json(approved)["all_succeeded"].GetBool());
  REQUIRE(cli(dir, {"join-requests", "reject", group, second}).exit_code == exit_codes::ok);

  const auto again = cli(dir, {"join-requests", "approve", group, second, "--json"});
  CHECK(again.exit_code == exit_codes::api);
  CHECK(contains(again.err, "1 of 1 request(s) failed"));
  const auto d = single_json(again);
  CHECK(integer(d["failed"][0]["errors"][0], "code") == 131213);

  const auto info = single_json(cli(dir, {"groups", "info", group, "--json"}));
  CHECK(integer(info, "total_participant_count") == 1);
  CHECK(str(info["participants"][0], "wa_id") == "15550100011");
}

TEST_CASE("cli sandbox: 131215 when the number is not eligible", "[cli][sandbox][errors]") {
  TempDir dir;
  const auto config = cli(dir, {"sandbox", "config", "--ineligible", "--json"});
  REQUIRE(config.exit_code == exit_codes::ok);
  CHECK_FALSE(single_json(config)["eligible"].GetBool());
  const auto r = cli(dir, {"groups", "create", "--subject", "Nope", "--json"});
  CHECK(r.exit_code == exit_codes::api);
  CHECK(r.out.empty());
  CHECK(contains(r.err, "wagroups: groups create failed: this phone number is not eligible for groups (131215"));
  CHECK(lines_of(r.err).size() == 2);  // the backend line and the error, one line each
  REQUIRE(cli(dir, {"sandbox", "config", "--eligible"}).exit_code == exit_codes::ok);
  CHECK(cli(dir, {"groups", "create", "--subject", "Now yes"}).exit_code == exit_codes::ok);
}

TEST_CASE("cli sandbox: 131204 when an eighth person tries to join", "[cli][sandbox][errors]") {
  TempDir dir;
  const std::string group = create_group(dir, "Full house");
  std::vector<std::string> args{"sandbox", "join", group, "--json"};
  for (int i = 1; i <= 8; ++i) {
    args.push_back("--phone");
    args.push_back("1555010020" + std::to_string(i));
  }
  const auto r = cli(dir, args);
  CHECK(r.exit_code == exit_codes::api);
  CHECK(contains(r.err, "the group is full (131204"));
  const auto d = single_json(r);
  REQUIRE(d["results"].Size() == 8);
  for (rapidjson::SizeType i = 0; i < 7; ++i) CHECK(str(d["results"][i], "outcome") == "joined");
  CHECK(integer(d["results"][7]["error"], "graph_code") == 131204);
  CHECK(integer(single_json(cli(dir, {"groups", "info", group, "--json"})), "total_participant_count") == 7);
}

TEST_CASE("cli sandbox: 131211 beyond the number's group limit", "[cli][sandbox][errors]") {
  TempDir dir;
  REQUIRE(cli(dir, {"sandbox", "config", "--max-groups", "2"}).exit_code == exit_codes::ok);
  const std::string first = create_group(dir, "One");
  create_group(dir, "Two");
  const auto r = cli(dir, {"groups", "create", "--subject", "Three"});
  CHECK(r.exit_code == exit_codes::api);
  CHECK(contains(r.err, "has reached its limit of active groups (131211)"));
  // The setting persists, and deleting a group frees a place.
  CHECK(contains(cli(dir, {"sandbox", "config"}).out, "max groups:       2 active"));
  REQUIRE(cli(dir, {"groups", "delete", first}).exit_code == exit_codes::ok);
  CHECK(cli(dir, {"groups", "create", "--subject", "Three"}).exit_code == exit_codes::ok);
}

TEST_CASE("cli sandbox: 131208 rate limit, HTTP 429 with Retry-After, exits 6", "[cli][sandbox][errors]") {
  TempDir dir;
  REQUIRE(cli(dir, {"sandbox", "config", "--rate-limit", "2", "--rate-window", "3600"}).exit_code == exit_codes::ok);
  create_group(dir, "One");
  create_group(dir, "Two");
  const auto r = cli(dir, {"groups", "create", "--subject", "Three"});
  CHECK(r.exit_code == exit_codes::rate_limited);
  CHECK(contains(r.err, "too many group operations from this number (131208)"));
  CHECK(contains(r.err, "[HTTP 429]"));
  CHECK(contains(r.err, "(retry after "));
  // Reads are not group operations.
  CHECK(cli(dir, {"groups", "list"}).exit_code == exit_codes::ok);
}

TEST_CASE("cli sandbox: sending before anyone joined (131020); unsupported types refused before sending",
          "[cli][sandbox][errors]") {
  TempDir dir;
  const std::string group = create_group(dir, "Quiet");
  {
    const auto r = cli(dir, {"send", "text", group, "--text", "anyone?"});
    CHECK(r.exit_code == exit_codes::api);
    CHECK(contains(r.err, "nobody has joined the group yet, so the business cannot message it (131020)"));
  }
  for (const char* type : {"location", "reaction", "contacts", "interactive"}) {
    const auto r = cli(dir, {"send", "media", group, "--type", type, "--link", "https://example.invalid/x"});
    INFO(type);
    CHECK(r.exit_code == exit_codes::invalid);
    CHECK(contains(r.err, "not supported in groups"));
  }
  {
    const auto r = cli(dir, {"send", "template", group, "--name", "otp", "--category", "authentication"});
    CHECK(r.exit_code == exit_codes::invalid);
    CHECK(contains(r.err, "authentication templates cannot be sent to a group"));
  }
  {
    const auto r = cli(dir, {"send", "media", group, "--type", "hologram", "--link", "https://example.invalid/x"});
    CHECK(r.exit_code == exit_codes::usage);
  }
  // Nothing reached the simulator: only the group_create webhook is queued.
  CHECK(queued_webhooks(dir).size() == 1);
}

TEST_CASE("cli sandbox: sending to several groups shows progress and keeps going", "[cli][sandbox]") {
  TempDir dir;
  const std::string a = create_group(dir, "A");
  const std::string b = create_group(dir, "B");
  const std::string c = create_group(dir, "C");
  REQUIRE(cli(dir, {"sandbox", "join", a, "--phone", "15550100301"}).exit_code == exit_codes::ok);
  REQUIRE(cli(dir, {"sandbox", "join", c, "--phone", "15550100303"}).exit_code == exit_codes::ok);
  const auto r = cli(dir, {"send", "text", "--group", a, "--group", b, "--group", c, "--text", "News", "--json"});
  CHECK(r.exit_code == exit_codes::api);
  CHECK(contains(r.err, "3/3 group(s) done, 2 sent"));
  CHECK(contains(r.err, "send text to " + b + " failed"));
  const auto d = single_json(r);
  CHECK(integer(d, "sent") == 2);
  CHECK(integer(d, "failed") == 1);
  CHECK(str(d["results"][1], "group_id") == b);
  CHECK(integer(d["results"][1]["error"], "graph_code") == 131020);
  CHECK(str(d["results"][2], "message_id").rfind("wamid.", 0) == 0);

  // pin the message just sent to C
  const std::string message = str(d["results"][2], "message_id");
  CHECK(cli(dir, {"send", "pin", c, "--message-id", message, "--days", "3"}).exit_code == exit_codes::ok);
  const auto too_long = cli(dir, {"send", "pin", c, "--message-id", message, "--days", "31"});
  CHECK(too_long.exit_code == exit_codes::invalid);
}

TEST_CASE(
    "issue11 item 5: the CLI's JSON counts sent, failed, unknown and not_sent apart; a repeated group sends nothing",
    "[cli][graph]") {
  TempDir dir;
  const std::string phone = "106540352242922";
  const std::string sent = "120363000000000101", refused = "120363000000000102", broken = "120363000000000103";
  wagroups_test::LoopbackServer graph;
  std::mutex mutex;
  int posts = 0;
  graph->Post("/v26.0/" + phone + "/messages", [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++posts;
    }
    if (contains(req.body, refused)) {
      res.status = 400;
      res.set_content(R"({"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100}})",
                      "application/json");
    } else if (contains(req.body, broken)) {
      res.status = 500;  // may have been sent: unknown, never repeated
      res.set_content(R"({"error":{"message":"An unknown error occurred","type":"OAuthException","code":1}})",
                      "application/json");
    } else {
      res.set_content(R"({"messaging_product":"whatsapp","messages":[{"id":"wamid.one"}]})", "application/json");
    }
  });
  graph.start();
  const EnvChanges env{{"WAGROUPS_ACCESS_TOKEN", std::string("EAAtoken-cli-fanout")}};
  const std::vector<std::string> base{
      "send", "text", "--text", "News", "--json", "--base-url", graph.base_url(), "--phone-number-id", phone};
  auto args = base;
  for (const auto* g : {&sent, &refused, &broken}) args.insert(args.end(), {"--group", *g});
  const auto r = cli(dir, args, env);
  INFO(r.err);
  CHECK(r.exit_code == exit_codes::api);  // the first group not sent was refused
  const auto d = single_json(r);
  CHECK(integer(d, "sent") == 1);
  CHECK(integer(d, "failed") == 1);  // was 2: total - sent counted the unknown one as failed
  CHECK(integer(d, "unknown") == 1);
  CHECK(integer(d, "not_sent") == 0);
  CHECK(str(d["results"][2], "status") == "unknown");
  {
    std::lock_guard<std::mutex> lock(mutex);
    CHECK(posts == 3);
  }

  // A group named twice: the whole call is refused before anything is sent.
  auto twice = base;
  twice.insert(twice.end(), {"--group", sent, "--group", refused, "--group", sent});
  const auto dup = cli(dir, twice, env);
  CHECK(dup.exit_code == exit_codes::invalid);
  CHECK(contains(dup.err, "named twice"));
  std::lock_guard<std::mutex> lock(mutex);
  CHECK(posts == 3);
}

TEST_CASE("cli sandbox: groups list --all walks every page with progress", "[cli][sandbox]") {
  TempDir dir;
  for (int i = 0; i < 5; ++i) create_group(dir, "Group " + std::to_string(i));
  const auto r = cli(dir, {"groups", "list", "--all", "--limit", "2", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == exit_codes::ok);
  const auto d = single_json(r);
  CHECK(integer(d, "count") == 5);
  CHECK(d["groups"].Size() == 5);
  CHECK(contains(r.err, "page 3: 5 group(s) so far"));
  const auto page = single_json(cli(dir, {"groups", "list", "--limit", "2", "--json"}));
  CHECK(page["groups"].Size() == 2);
  CHECK(page["paging"]["has_next"].GetBool());
  const std::string after = str(page["paging"], "after");
  const auto next = single_json(cli(dir, {"groups", "list", "--limit", "2", "--after", after, "--json"}));
  CHECK(next["groups"].Size() == 2);
}

TEST_CASE("cli sandbox: groups update, suspension (131207), leave", "[cli][sandbox]") {
  TempDir dir;
  const std::string group = create_group(dir, "Before");
  const auto updated = cli(dir, {"groups", "update", group, "--subject", "After", "--json"});
  INFO(updated.err);
  REQUIRE(updated.exit_code == exit_codes::ok);
  // Meta documents no body for a settings update (the simulator's default): no request_id here.
  CHECK(str(single_json(updated), "group_id") == group);
  CHECK(str(single_json(cli(dir, {"groups", "info", group, "--json"})), "subject") == "After");
  CHECK(cli(dir, {"groups", "update", group}).exit_code == exit_codes::usage);
  CHECK(cli(dir, {"groups", "update", group, "--picture", dir.file("missing.jpg")}).exit_code == 1);

  REQUIRE(cli(dir, {"sandbox", "join", group, "--phone", "15550100401"}).exit_code == exit_codes::ok);
  REQUIRE(cli(dir, {"sandbox", "suspend", group}).exit_code == exit_codes::ok);
  const auto r = cli(dir, {"send", "text", group, "--text", "hello?"});
  CHECK(r.exit_code == exit_codes::api);
  CHECK(contains(r.err, "the group is suspended (131207)"));
  REQUIRE(cli(dir, {"sandbox", "suspend", group, "--clear"}).exit_code == exit_codes::ok);
  CHECK(cli(dir, {"send", "text", group, "--text", "hello"}).exit_code == exit_codes::ok);
  REQUIRE(cli(dir, {"sandbox", "leave", group, "--phone", "15550100401"}).exit_code == exit_codes::ok);
  CHECK(cli(dir, {"send", "text", group, "--text", "gone?"}).exit_code == exit_codes::api);
}

TEST_CASE("cli sandbox: a damaged state file is refused, not overwritten", "[cli][sandbox]") {
  TempDir dir;
  std::ofstream(dir.file("sandbox.json")) << "{\"not\":\"a sandbox\"}";
  const auto r = cli(dir, {"groups", "list"});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "cannot be loaded"));
  std::ifstream in(dir.file("sandbox.json"));
  const std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(kept == "{\"not\":\"a sandbox\"}");
  // --sandbox-state points elsewhere
  CHECK(cli(dir, {"groups", "list", "--sandbox-state", dir.file("other.json")}).exit_code == exit_codes::ok);
}

TEST_CASE("cli: --help on every command; usage errors exit 2", "[cli]") {
  TempDir dir;
  const std::vector<std::vector<std::string>> commands{
      {"groups", "create"},       {"groups", "list"},          {"groups", "info"},
      {"groups", "update"},       {"groups", "delete"},        {"invite-link", "get"},
      {"invite-link", "reset"},   {"join-requests", "list"},   {"join-requests", "approve"},
      {"join-requests", "reject"}, {"participants", "remove"}, {"send", "text"},
      {"send", "media"},          {"send", "template"},        {"send", "pin"},
      {"sandbox", "webhooks"},    {"sandbox", "join"},         {"sandbox", "say"},
      {"sandbox", "leave"},       {"sandbox", "config"},       {"webhook", "parse"}};
  for (auto args : commands) {
    args.push_back("--help");
    const auto r = cli(dir, args);
    INFO(args[0] + " " + args[1]);
    CHECK(r.exit_code == exit_codes::ok);
    CHECK(contains(r.out, "Usage"));
  }
  CHECK(cli(dir, {"groups", "create"}).exit_code == exit_codes::usage);           // --subject missing
  CHECK(cli(dir, {"send", "text", "G1"}).exit_code == exit_codes::usage);         // --text missing
  CHECK(cli(dir, {"groups", "list", "--limit", "0"}).exit_code == exit_codes::usage);
  const auto no_group = cli(dir, {"send", "text", "--text", "x"});
  CHECK(no_group.exit_code == exit_codes::usage);
  CHECK(contains(no_group.err, "name a group"));
}

TEST_CASE("cli: with a token and a phone number id the CLI uses the Graph API and sends the Bearer token",
          "[cli][graph]") {
  TempDir dir;
  const std::string token = "EAAtoken-never-printed-7Q";
  wagroups_test::LoopbackServer graph;
  std::mutex mutex;
  std::vector<std::string> authorizations;
  graph->Get("/v26.0/106540352242922/groups", [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      authorizations.push_back(req.get_header_value("Authorization"));
    }
    res.set_content(R"({"data":{"groups":[{"id":"G-real-1","subject":"Real one","created_at":"1760000000"}]},"paging":{"cursors":{"after":"c1"}}})",
                    "application/json");
  });
  graph->Post("/v26.0/106540352242922/groups", [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      authorizations.push_back(req.get_header_value("Authorization"));
    }
    res.status = 400;
    // A Graph message that (wrongly) echoes the token: the CLI must not print it.
    res.set_content(R"({"error":{"message":"(#131215) Not eligible for )" + token +
                        R"(","type":"OAuthException","code":131215,"fbtrace_id":"Ftrace1"}})",
                    "application/json");
  });
  graph.start();

  const EnvChanges env{{"WAGROUPS_ACCESS_TOKEN", token}};
  const auto listed = cli(dir, {"groups", "list", "--json", "--base-url", graph.base_url(), "--phone-number-id",
                                "106540352242922"},
                          env);
  INFO(listed.err);
  REQUIRE(listed.exit_code == exit_codes::ok);
  CHECK(contains(listed.err, "wagroups: using the Graph API at " + graph.base_url() +
                                 "/v26.0 with phone number id 106540352242922 (WAGROUPS_ACCESS_TOKEN is set)"));
  const auto d = single_json(listed);
  CHECK(str(d["groups"][0], "id") == "G-real-1");

  // The phone number id from the environment works too; errors never carry the token.
  const auto created = cli(dir, {"groups", "create", "--subject", "Real", "--base-url", graph.base_url()},
                           {{"WAGROUPS_ACCESS_TOKEN", token}, {"WAGROUPS_PHONE_NUMBER_ID", std::string("106540352242922")}});
  CHECK(created.exit_code == exit_codes::api);
  CHECK(contains(created.err, "131215"));
  CHECK(contains(created.err, "using the Graph API"));
  for (const auto* text : {&listed.out, &listed.err, &created.out, &created.err}) CHECK_FALSE(contains(*text, token));
  {
    std::lock_guard<std::mutex> lock(mutex);
    REQUIRE(authorizations.size() == 2);
    for (const auto& a : authorizations) CHECK(a == "Bearer " + token);
  }
  // No sandbox state was written by Graph API runs.
  CHECK_FALSE(std::filesystem::exists(dir.file("sandbox.json")));

  // A token without a phone number id: the sandbox, and the CLI says why. --sandbox forces it.
  const auto no_phone = cli(dir, {"groups", "list"}, env);
  CHECK(no_phone.exit_code == exit_codes::ok);
  CHECK(contains(no_phone.err, "using the sandbox (WAGROUPS_ACCESS_TOKEN is set, but no phone number id"));
  const auto forced = cli(dir, {"groups", "list", "--sandbox", "--phone-number-id", "106540352242922"}, env);
  CHECK(forced.exit_code == exit_codes::ok);
  CHECK(contains(forced.err, "using the sandbox (--sandbox)"));
}

TEST_CASE("cli sandbox: webhooks a URL refuses stay queued; sandbox deliver sends them later", "[cli][sandbox]") {
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  std::mutex mutex;
  int answer = 500;
  std::vector<std::string> received;
  wagroups_test::LoopbackServer endpoint;
  endpoint->Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mutex);
    if (req.get_header_value("X-Hub-Signature-256") != wagroups_test::sign_body(req.body, kHookSecret)) {
      res.status = 401;
      return;
    }
    res.status = answer;
    if (answer == 200) received.push_back(req.body);
  });
  endpoint.start();
  const EnvChanges env{{"WAGROUPS_WEBHOOK_URL", endpoint.url("/hook")}, {"WAGROUPS_APP_SECRET", kHookSecret}};

  const auto created = cli(dir, {"groups", "create", "--subject", "Queued"}, env);
  CHECK(created.exit_code == exit_codes::ok);  // the command itself succeeded
  CHECK(contains(created.err, "webhook delivery to " + endpoint.url("/hook") + " failed (HTTP 500): 1 webhook(s) stay queued"));
  CHECK(lines_of(cli(dir, {"sandbox", "webhooks", "--json"}).out).size() == 1);

  {
    std::lock_guard<std::mutex> lock(mutex);
    answer = 200;
  }
  const auto delivered = cli(dir, {"sandbox", "deliver"}, env);
  CHECK(delivered.exit_code == exit_codes::ok);
  CHECK(contains(delivered.err, "1 webhook(s) delivered"));
  CHECK(lines_of(cli(dir, {"sandbox", "webhooks", "--json"}).out).empty());
  std::lock_guard<std::mutex> lock(mutex);
  REQUIRE(received.size() == 1);
  CHECK(contains(received[0], "\"type\":\"group_create\""));
  CHECK(cli(dir, {"sandbox", "deliver"}, {{"WAGROUPS_WEBHOOK_URL", std::nullopt}}).exit_code == exit_codes::usage);
}

// The one code the CLI cannot provoke (the Client refuses unsupported types before sending): sent
// raw over loopback HTTP to the SandboxServer, with CurlTransport.
TEST_CASE("sandbox over loopback: an unsupported type in a group answers 130501", "[cli][sandbox][errors]") {
  wagroups_test::prepare_process_for_loopback();
  wagroups::sandbox::Simulator sim;
  auto server = wagroups::sandbox::SandboxServer::start(sim);
  REQUIRE(server);
  wagroups::CurlTransportOptions options;
  options.proxy = std::string();
  wagroups::CurlTransport transport(options);
  auto post = [&](const std::string& path, const std::string& body) {
    wagroups::HttpRequest request;
    request.method = wagroups::HttpMethod::post;
    request.url = (*server)->base_url() + "/v23.0/" + path;
    request.headers = {{"Content-Type", "application/json"}};
    request.body = body;
    auto answer = transport.send(request);
    REQUIRE(answer);
    return *answer;
  };
  const auto created = post(sim.options().phone_number_id + "/groups",
                            R"({"messaging_product":"whatsapp","subject":"Raw"})");
  REQUIRE(created.status == 200);
  const std::string group = sim.groups().at(0).group_id;
  for (const char* type : {"reaction", "location", "interactive", "contacts"}) {
    const auto answer = post(sim.options().phone_number_id + "/messages",
                             std::string(R"({"messaging_product":"whatsapp","recipient_type":"group","to":")") +
                                 group + R"(","type":")" + type + R"(",")" + type + R"(":{}})");
    INFO(type);
    CHECK(answer.status == 400);
    CHECK(contains(answer.body, "\"code\":130501"));
  }
}
