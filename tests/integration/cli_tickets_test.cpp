// `wagroups webhook serve` as a process: signed POSTs verified, parsed and applied into a SQLite
// ticket store, answered 200 only after the commit (non-200 when the store fails, so Meta
// redelivers); `tickets list|show` read what it stored; and the whole CLI chain: the sandbox's
// webhooks POSTed to `webhook serve`, `groups create --db` and `invite send` on the same ticket.

#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include <wagroups/sqlite/ticket_store.hpp>

#include "cli_test_support.hpp"
#include "loopback_server.hpp"
#include "webhook_bodies.hpp"

using namespace wagroups_cli_test;
using namespace std::chrono_literals;

namespace {

const std::string kSecret = "serve-test-secret-5Hq2";

// `wagroups webhook serve` on an ephemeral port; the first stdout line names the URL.
class Serve {
 public:
  Serve(const TempDir& dir, const std::string& db, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{WAGROUPS_CLI_PATH, "webhook", "serve", "--port", "0", "--app-secret", kSecret,
                                  "--verify-token", "vt-1", "--db", db, "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<wagroups_test::ChildProcess>(args, cli_env(dir));
    const auto first = process_->read_line(10s);
    INFO(process_->err());
    REQUIRE(first);
    const auto d = json_of(*first);
    url_ = str(d, "listening");
    port_ = static_cast<int>(integer(d, "port"));
  }
  ~Serve() {
    if (process_) process_->send_signal(SIGTERM);
  }
  const std::string& url() const { return url_; }
  int port() const { return port_; }
  wagroups_test::ChildProcess& process() { return *process_; }
  // The next stdout line as JSON.
  rapidjson::Document next_change() {
    const auto line = process_->read_line(10s);
    INFO(process_->err());
    REQUIRE(line);
    return json_of(*line);
  }
  // Reads change lines until one of this kind arrives.
  rapidjson::Document wait_for(const std::string& kind) {
    for (int i = 0; i < 50; ++i) {
      auto d = next_change();
      if (str(d, "change") == kind) return d;
    }
    FAIL("no " << kind << " change");
    return {};
  }
  // Reads every change line already printed (a POST's lines are all out before its 200).
  std::vector<std::string> drain() {
    std::vector<std::string> kinds;
    while (const auto line = process_->read_line(300ms)) kinds.push_back(str(json_of(*line), "change"));
    return kinds;
  }
  // Waits until stderr holds `text` (stderr is collected while stdout is read).
  bool stderr_contains(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!contains(process_->err(), text)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      (void)process_->read_line(50ms);
    }
    return true;
  }
  wagroups_test::ProcessResult stop() {
    process_->send_signal(SIGTERM);
    auto r = process_->wait(10s);
    process_.reset();
    return r;
  }

 private:
  std::unique_ptr<wagroups_test::ChildProcess> process_;
  std::string url_;
  int port_ = 0;
};

httplib::Result post(int port, const std::string& body, const std::string& signature) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(20, 0);  // longer than the store's 5 s busy timeout
  return client.Post("/webhook", {{"X-Hub-Signature-256", signature}}, body, "application/json");
}

}  // namespace

TEST_CASE("cli webhook serve: signed POSTs become a ticket; tickets list and show read it", "[cli][tickets]") {
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  const std::string db = dir.file("tickets.db");
  Serve serve(dir, db);
  CHECK(serve.url() == "http://127.0.0.1:" + std::to_string(serve.port()) + "/webhook");

  // The subscription handshake.
  {
    httplib::Client client("127.0.0.1", serve.port());
    auto ok = client.Get("/webhook?hub.mode=subscribe&hub.verify_token=vt-1&hub.challenge=C-42");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(ok->body == "C-42");
    auto wrong = client.Get("/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=C-42");
    REQUIRE(wrong);
    CHECK(wrong->status == 403);
  }
  // Refused: a wrong signature (401); a signed body that is not a webhook is kept as a dead letter
  // and answered 200 (issue 10; it was a 400, and the body was lost).
  {
    auto bad = post(serve.port(), wagroups_test::kGroupCreatedBody, wagroups_test::sign_body(wagroups_test::kGroupCreatedBody, "other"));
    REQUIRE(bad);
    CHECK(bad->status == 401);
    const std::string junk = "{\"entry\":5}";
    auto malformed = post(serve.port(), junk, wagroups_test::sign_body(junk, kSecret));
    REQUIRE(malformed);
    CHECK(malformed->status == 200);
  }
  // Accepted: the group's creation, then a member's message.
  {
    auto created = post(serve.port(), wagroups_test::kGroupCreatedBody,
                        wagroups_test::sign_body(wagroups_test::kGroupCreatedBody, kSecret));
    REQUIRE(created);
    CHECK(created->status == 200);
    const auto change = serve.next_change();
    CHECK(str(change, "change") == "ticket_created");
    CHECK(str(change, "ticket_id") == "T-REQ-7F3A");
    auto message = post(serve.port(), wagroups_test::kGroupMessageBody,
                        wagroups_test::sign_body(wagroups_test::kGroupMessageBody, kSecret));
    REQUIRE(message);
    CHECK(message->status == 200);
    const auto appended = serve.wait_for("message_appended");
    CHECK(str(appended, "message_id") == "wamid.TEST-IN-2");
    serve.drain();
    // Meta's redelivery of the same body changes nothing.
    auto again = post(serve.port(), wagroups_test::kGroupMessageBody,
                      wagroups_test::sign_body(wagroups_test::kGroupMessageBody, kSecret));
    REQUIRE(again);
    CHECK(again->status == 200);
    CHECK(serve.drain() == std::vector<std::string>{"duplicate_ignored"});
  }

  const auto listed = cli(dir, {"tickets", "list", "--db", db, "--json"});
  INFO(listed.err);
  REQUIRE(listed.exit_code == exit_codes::ok);
  const auto list = single_json(listed);
  REQUIRE(list["tickets"].Size() == 1);
  const auto& summary = list["tickets"][0];
  CHECK(str(summary, "ticket_id") == "T-REQ-7F3A");
  CHECK(str(summary, "group_id") == wagroups_test::kGroupId);
  CHECK(str(summary, "subject") == "Case 5521: refund");
  CHECK(integer(summary, "messages") == 1);

  // show: by ticket id, by group id; readable and JSON
  const auto shown = cli(dir, {"tickets", "show", "T-REQ-7F3A", "--db", db});
  REQUIRE(shown.exit_code == exit_codes::ok);
  CHECK(contains(shown.out, "ticket T-REQ-7F3A"));
  CHECK(contains(shown.out, "subject:   Case 5521: refund"));
  CHECK(contains(shown.out, "\"where is my parcel\""));
  const auto by_group = cli(dir, {"tickets", "show", wagroups_test::kGroupId, "--db", db, "--json"});
  REQUIRE(by_group.exit_code == exit_codes::ok);
  const auto ticket = single_json(by_group);
  CHECK(contains(by_group.out, "wamid.TEST-IN-2"));
  CHECK(contains(by_group.out, "T-REQ-7F3A"));

  // Filters and misses.
  CHECK(single_json(cli(dir, {"tickets", "list", "--db", db, "--state", "closed", "--json"}))["tickets"].Size() == 0);
  CHECK(cli(dir, {"tickets", "list", "--db", db, "--state", "sleeping"}).exit_code == exit_codes::usage);
  const auto missing = cli(dir, {"tickets", "show", "T-NOPE", "--db", db});
  CHECK(missing.exit_code == exit_codes::not_found);
  CHECK(contains(missing.err, "no ticket T-NOPE"));
  CHECK(cli(dir, {"tickets", "list", "--db", dir.file("none.db")}).exit_code == exit_codes::not_found);

  const auto stopped = serve.stop();
  CHECK(stopped.exit_code == 0);
  CHECK_FALSE(contains(stopped.err, kSecret));
}

TEST_CASE("cli webhook serve: a store failure answers 500, and the redelivery is applied", "[cli][tickets]") {
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  const std::string db = dir.file("tickets.db");
  Serve serve(dir, db);
  // Another writer holds the database longer than serve's 5 s busy timeout.
  auto other = wagroups::SqliteTicketStore::open(db);
  REQUIRE(other);
  std::thread holder([&] {
    const auto held = (*other)->transact([](wagroups::TicketTransaction&) -> wagroups::Result<void> {
      std::this_thread::sleep_for(7s);
      return {};
    });
    (void)held;
  });
  std::this_thread::sleep_for(300ms);  // let the holder take the lock
  const std::string& body = wagroups_test::kGroupCreatedBody;
  auto refused = post(serve.port(), body, wagroups_test::sign_body(body, kSecret));
  holder.join();
  REQUIRE(refused);
  CHECK(refused->status == 500);
  CHECK(serve.stderr_contains("answered 500, so it will be delivered again"));

  auto redelivered = post(serve.port(), body, wagroups_test::sign_body(body, kSecret));
  REQUIRE(redelivered);
  CHECK(redelivered->status == 200);
  CHECK(str(serve.wait_for("ticket_created"), "ticket_id") == "T-REQ-7F3A");
}

TEST_CASE("cli end to end: sandbox webhooks to webhook serve; groups create --db; invite send", "[cli][tickets]") {
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  const std::string db = dir.file("tickets.db");
  Serve serve(dir, db);
  const EnvChanges deliver{{"WAGROUPS_WEBHOOK_URL", serve.url()}, {"WAGROUPS_APP_SECRET", kSecret}};

  const auto created = cli(dir, {"groups", "create", "--subject", "Order #77", "--db", db, "--assignee", "agent-3", "--json"},
                           deliver);
  INFO(created.err);
  REQUIRE(created.exit_code == exit_codes::ok);
  CHECK(contains(created.err, "1 webhook(s) delivered to " + serve.url()));
  const auto answer = single_json(created);
  const std::string ticket = str(answer, "ticket_id");
  const std::string group = str(answer, "group_id");
  CHECK(ticket == "T-" + str(answer, "request_id"));

  const auto invited = cli(dir, {"invite", "send", ticket, "--template", "group_invite", "--phone", "15550100501",
                                 "--phone", "15550100502", "--db", db, "--json"},
                           deliver);
  INFO(invited.err);
  REQUIRE(invited.exit_code == exit_codes::ok);
  const auto invites = single_json(invited);
  REQUIRE(invites["invites"].Size() == 2);
  CHECK(str(invites["invites"][0], "message_id").rfind("wamid.", 0) == 0);
  // sent, delivered and read for each invitation
  CHECK(contains(invited.err, "6 webhook(s) delivered"));

  REQUIRE(cli(dir, {"sandbox", "join", group, "--phone", "15550100501", "--name", "Eve"}, deliver).exit_code == exit_codes::ok);
  REQUIRE(cli(dir, {"sandbox", "say", group, "--phone", "15550100501", "--name", "Eve", "--text", "Where is it?"}, deliver)
              .exit_code == exit_codes::ok);

  // The business answers; --db records the message on the ticket, so its statuses attach to it.
  const auto answered = cli(dir, {"send", "text", group, "--text", "On its way", "--db", db, "--agent", "agent-3"}, deliver);
  INFO(answered.err);
  REQUIRE(answered.exit_code == exit_codes::ok);

  const auto list = single_json(cli(dir, {"tickets", "list", "--db", db, "--json"}));
  REQUIRE(list["tickets"].Size() == 1);
  const auto& t = list["tickets"][0];
  CHECK(str(t, "ticket_id") == ticket);
  CHECK(str(t, "assignee") == "agent-3");
  CHECK(str(t, "state") == "open");
  CHECK(integer(t, "members_joined") == 1);
  CHECK(integer(t, "messages") == 2);
  CHECK(integer(t, "invites") == 2);
  const auto shown = cli(dir, {"tickets", "show", ticket, "--db", db});
  CHECK(contains(shown.out, "15550100502      read"));
  CHECK(contains(shown.out, "Eve                  \"Where is it?\""));
  CHECK(contains(shown.out, "business (agent-3)   \"On its way\"  [Eve read]"));

  // A second invitation to someone invited already is refused before sending.
  const auto twice = cli(dir, {"invite", "send", ticket, "--template", "group_invite", "--phone", "15550100502", "--db", db},
                         deliver);
  CHECK(twice.exit_code == exit_codes::invalid);
}

TEST_CASE("issue10 item 10: cli webhook serve keeps a verified body it cannot parse; tickets dead-letters lists it",
          "[cli][tickets][issue10]") {
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  const std::string db = dir.file("tickets.db");
  // Not JSON: a raw ESC (terminal control) inside a string. Signed, so it came from Meta.
  const std::string junk = "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"x\":\"\x1b[31mred\"}]}";
  {
    Serve serve(dir, db);
    auto kept = post(serve.port(), junk, wagroups_test::sign_body(junk, kSecret));
    REQUIRE(kept);
    CHECK(kept->status == 200);  // before issue 10: 400, and the body was gone
    // Unsigned junk is refused and kept nowhere.
    auto stranger = post(serve.port(), "{\"entry\":1}", wagroups_test::sign_body("{\"entry\":1}", "guess"));
    REQUIRE(stranger);
    CHECK(stranger->status == 401);
    const auto stopped = serve.stop();
    CHECK(contains(stopped.err, "dead letter"));
    CHECK_FALSE(contains(stopped.err, kSecret));
  }

  const auto listed = cli(dir, {"tickets", "dead-letters", "--db", db, "--json"});
  INFO(listed.err);
  REQUIRE(listed.exit_code == exit_codes::ok);
  const auto doc = single_json(listed);
  REQUIRE(doc["dead_letters"].Size() == 1);
  const auto& letter = doc["dead_letters"][0];
  CHECK(integer(letter, "id") > 0);
  CHECK(integer(letter, "size") == static_cast<std::int64_t>(junk.size()));
  CHECK(integer(letter, "received_at") > 1700000000);
  CHECK(str(letter["error"], "code") == "decode");
  CHECK_FALSE(letter.HasMember("body"));  // only on request

  const auto with_body = cli(dir, {"tickets", "dead-letters", "--db", db, "--json", "--body"});
  REQUIRE(with_body.exit_code == exit_codes::ok);
  CHECK(str(single_json(with_body)["dead_letters"][0], "body") == junk);

  const auto text = cli(dir, {"tickets", "dead-letters", "--db", db, "--body"});
  REQUIRE(text.exit_code == exit_codes::ok);
  CHECK(contains(text.out, std::to_string(junk.size()) + " bytes"));
  CHECK(contains(text.out, "decode"));
  CHECK(contains(text.out, "\\x1b[31mred"));  // escaped for the terminal
  CHECK_FALSE(contains(text.out, "\x1b"));
  const auto brief = cli(dir, {"tickets", "dead-letters", "--db", db});
  CHECK_FALSE(contains(brief.out, "31mred"));  // the body only on request

  CHECK(cli(dir, {"tickets", "dead-letters", "--db", dir.file("none.db")}).exit_code == exit_codes::not_found);
}

TEST_CASE("issue10 item 9: cli groups create refuses an assignee that is not UTF-8; tickets list still works",
          "[cli][tickets][issue10]") {
  TempDir dir;
  const std::string db = dir.file("tickets.db");
  const auto good =
      cli(dir, {"groups", "create", "--subject", "Case 1", "--db", db, "--assignee", "agent-1", "--json"});
  INFO(good.err);
  REQUIRE(good.exit_code == exit_codes::ok);
  const std::string ticket = str(single_json(good), "ticket_id");

  // Latin-1 "José" from a shell: before issue 10 it was stored, and every `tickets list` then
  // failed (exit 9) on that one row.
  const auto bad = cli(dir, {"groups", "create", "--subject", "Case 2", "--db", db, "--assignee", "Jos\xe9"});
  INFO(bad.err);
  CHECK(bad.exit_code == exit_codes::invalid);
  CHECK(contains(bad.err, "assignee"));
  CHECK(contains(bad.err, "UTF-8"));
  CHECK_FALSE(contains(bad.err, "\xe9"));

  const auto listed = cli(dir, {"tickets", "list", "--db", db, "--json"});
  INFO(listed.err);
  REQUIRE(listed.exit_code == exit_codes::ok);
  const auto doc = single_json(listed);
  REQUIRE(doc["tickets"].Size() == 1);
  CHECK(str(doc["tickets"][0], "ticket_id") == ticket);
  const auto text = cli(dir, {"tickets", "list", "--db", db});
  CHECK(text.exit_code == exit_codes::ok);
  CHECK(contains(text.out, ticket));
}
