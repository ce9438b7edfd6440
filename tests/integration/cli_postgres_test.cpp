// issue 12 item 2: the `wagroups` CLI on a PostgreSQL ticket store. `webhook serve --store
// postgresql://...` group-commits concurrent signed POSTs into it (redeliveries applied once, a
// verified body that does not parse kept as a dead letter); `tickets list|show|dead-letters` read
// it back; $WAGROUPS_STORE names it as well as the flag, which wins; a password in the URI never
// reaches stdout or stderr, not even when the store cannot be opened; `groups create`, `invite
// send` and `send text` record on it against the sandbox.
//
// The server comes from WAGROUPS_TEST_POSTGRES_URL (cmake/postgres-test-server.sh starts a
// throwaway one); without it, or when it does not answer, every test SKIPs with the reason. Each
// test uses its own schema (`--store-schema wgt_cli_<pid>_<n>`), dropped at its end, and checks
// what the CLI printed against what PostgresTicketStore reads from the server.

#include <httplib.h>
#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include <wagroups/postgres/ticket_store.hpp>

#include "cli_test_support.hpp"
#include "loopback_server.hpp"
#include "webhook_bodies.hpp"

using namespace wagroups_cli_test;
using namespace std::chrono_literals;

namespace {

const std::string kSecret = "cli-postgres-secret-8Wd";
const std::string kTicket = "T-REQ-7F3A";  // the ticket of kGroupCreatedBody's request

// The server's URL, or SKIP: never a silent pass without a server.
std::string server_url() {
  const char* url = std::getenv("WAGROUPS_TEST_POSTGRES_URL");
  if (url == nullptr || *url == '\0') {
    SKIP("WAGROUPS_TEST_POSTGRES_URL is not set: start a server with cmake/postgres-test-server.sh start");
  }
  PGconn* conn = PQconnectdb(url);
  const bool up = conn != nullptr && PQstatus(conn) == CONNECTION_OK;
  const std::string why = conn != nullptr ? PQerrorMessage(conn) : "out of memory";
  PQfinish(conn);
  if (!up) SKIP("the PostgreSQL server of WAGROUPS_TEST_POSTGRES_URL does not answer: " + why);
  return url;
}

// One schema per test, dropped (with everything in it) at scope exit.
class Schema {
 public:
  explicit Schema(std::string url) : url_(std::move(url)) {
    static std::atomic<int> counter{0};
    name_ = "wgt_cli_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    drop();  // a leftover of an earlier run with the same pid
  }
  ~Schema() { drop(); }
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;
  const std::string& name() const { return name_; }

  // What the server holds, read by the store itself rather than the CLI.
  std::unique_ptr<wagroups::PostgresTicketStore> open() const {
    wagroups::PostgresOptions options;
    options.schema = name_;
    auto store = wagroups::PostgresTicketStore::open(url_, options);
    INFO((store ? std::string() : store.error().to_string()));
    REQUIRE(store);
    return std::move(*store);
  }

 private:
  void drop() const {
    PGconn* conn = PQconnectdb(url_.c_str());
    if (conn != nullptr && PQstatus(conn) == CONNECTION_OK) {
      PQsetNoticeProcessor(
          conn, [](void*, const char*) {}, nullptr);  // "drop cascades to ..."
      PQclear(PQexec(conn, ("DROP SCHEMA IF EXISTS " + name_ + " CASCADE").c_str()));
    }
    PQfinish(conn);
  }
  std::string url_;
  std::string name_;
};

// The server's URL with other userinfo: "user" or "user:password" (before host and port).
std::string with_userinfo(const std::string& url, const std::string& userinfo) {
  const auto authority = url.find("://") + 3;
  const auto at = url.find('@', authority);
  const auto slash = url.find('/', authority);
  const auto host = at != std::string::npos && (slash == std::string::npos || at < slash) ? at + 1 : authority;
  return url.substr(0, authority) + userinfo + "@" + url.substr(host);
}

// The URL's user name ("wagroups" for the test server).
std::string user_of(const std::string& url) {
  const auto authority = url.find("://") + 3;
  const auto at = url.find('@', authority);
  if (at == std::string::npos) return "";
  const std::string userinfo = url.substr(authority, at - authority);
  return userinfo.substr(0, userinfo.find(':'));
}

// One group text message on kGroupId's group (the shape of kGroupMessageBody), ours to vary.
std::string message_body(const std::string& message_id, int ts) {
  return R"({"object":"whatsapp_business_account","entry":[{"id":"880011223344","changes":[{"field":"messages",)"
         R"("value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111",)"
         R"("phone_number_id":"771234567890"},"contacts":[{"profile":{"name":"Dana R."},"wa_id":"4915112345678"}],)"
         R"("messages":[{"from":"4915112345678","group_id":")" +
         wagroups_test::kGroupId + R"(","id":")" + message_id + R"(","timestamp":")" + std::to_string(ts) +
         R"(","type":"text","text":{"body":"parcel?"}}]}}]}]})";
}

// Signed, so it came from Meta; not JSON, so the parser refuses it: a dead letter.
const std::string kJunk = "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"x\":tru}]}";

// "N bodies applied in M transactions" from serve's last stderr line.
std::pair<long, long> applied_and_transactions(const std::string& err) {
  const std::string marker = " bodies applied in ";
  const auto at = err.find(marker);
  REQUIRE(at != std::string::npos);
  const auto start = err.rfind('(', at);
  REQUIRE(start != std::string::npos);
  return {std::stol(err.substr(start + 1, at - start - 1)), std::stol(err.substr(at + marker.size()))};
}

// `wagroups webhook serve` on an ephemeral port with `args` naming the store (or none, and `env`).
class Serve {
 public:
  Serve(const TempDir& dir, const std::vector<std::string>& args, const EnvChanges& env = {}) {
    std::vector<std::string> argv{WAGROUPS_CLI_PATH, "webhook", "serve", "--port", "0",
                                  "--app-secret",    kSecret,   "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    process_ = std::make_unique<wagroups_test::ChildProcess>(argv, cli_env(dir, env));
    const auto first = process_->read_line(20s);
    INFO(process_->err());
    REQUIRE(first);
    const auto d = json_of(*first);
    url_ = str(d, "listening");
    port_ = static_cast<int>(integer(d, "port"));
    db_ = str(d, "db");
  }
  ~Serve() {
    if (process_) process_->send_signal(SIGTERM);
  }
  const std::string& url() const { return url_; }
  int port() const { return port_; }
  const std::string& db() const { return db_; }  // the store, as serve shows it
  wagroups_test::ChildProcess& process() { return *process_; }
  wagroups_test::ProcessResult stop() {
    process_->send_signal(SIGTERM);
    auto r = process_->wait(20s);
    process_.reset();
    return r;
  }

 private:
  std::unique_ptr<wagroups_test::ChildProcess> process_;
  std::string url_;
  std::string db_;
  int port_ = 0;
};

int post(int port, const std::string& body) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(20, 0);
  auto r = client.Post("/webhook", {{"X-Hub-Signature-256", wagroups_test::sign_body(body, kSecret)}}, body,
                       "application/json");
  return r ? r->status : 0;
}

// How often each message id appears on the ticket `tickets show --json` printed.
std::map<std::string, int> timeline_ids(const rapidjson::Document& ticket) {
  std::map<std::string, int> seen;
  REQUIRE(ticket.HasMember("timeline"));
  for (const auto& m : ticket["timeline"].GetArray()) ++seen[str(m, "message_id")];
  return seen;
}

}  // namespace

TEST_CASE(
    "issue12 item 2: webhook serve --store postgresql:// group-commits concurrent signed POSTs; tickets list, show "
    "and dead-letters read them back",
    "[cli][postgres][issue12]") {
  const std::string url = server_url();
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  const Schema schema(url);
  const std::vector<std::string> store{"--store", url, "--store-schema", schema.name()};
  Serve serve(dir, store);
  CHECK(serve.db() == url);

  // The group first (its ticket), then many messages at once: each poster its own, posters 1-3
  // one of poster 0's again (Meta's redeliveries, racing the originals), poster 5 the junk first.
  REQUIRE(post(serve.port(), wagroups_test::kGroupCreatedBody) == 200);
  constexpr int kPosters = 12;
  constexpr int kPerPoster = 4;
  constexpr int kRedeliveries = 3;
  std::vector<std::vector<std::string>> bodies(kPosters);
  for (int p = 0; p < kPosters; ++p) {
    for (int i = 0; i < kPerPoster; ++i) {
      const int n = p * kPerPoster + i;
      bodies[static_cast<std::size_t>(p)].push_back(message_body("wamid.PG-" + std::to_string(n), 1760000600 + n));
    }
  }
  for (std::size_t p = 1; p <= kRedeliveries; ++p) bodies[p].push_back(bodies[0][p]);
  bodies[5].insert(bodies[5].begin(), kJunk);

  std::atomic<bool> posting{true};
  std::thread drain([&] {  // serve prints a line per change: keep its stdout from filling
    while (posting.load()) (void)serve.process().read_line(50ms);
  });
  std::map<int, int> statuses;
  std::mutex statuses_mutex;
  std::vector<std::thread> posters;
  for (int p = 0; p < kPosters; ++p) {
    posters.emplace_back([&, p] {
      httplib::Client client("127.0.0.1", serve.port());
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(30, 0);
      for (const auto& body : bodies[static_cast<std::size_t>(p)]) {
        const httplib::Headers headers{{"X-Hub-Signature-256", wagroups_test::sign_body(body, kSecret)}};
        auto r = client.Post("/webhook", headers, body, "application/json");
        for (int attempt = 1; !r && attempt < 5; ++attempt)  // no answer at all: sent again, as Meta would
          r = client.Post("/webhook", headers, body, "application/json");
        std::lock_guard<std::mutex> lock(statuses_mutex);
        ++statuses[r ? r->status : 0];
      }
    });
  }
  for (auto& t : posters) t.join();
  posting = false;
  drain.join();
  const int messages = kPosters * kPerPoster;
  INFO("200 x " << statuses[200] << ", 400 x " << statuses[400] << ", no answer x " << statuses[0]);
  // The junk too: kept as a dead letter and answered 200 (a store without dead letters answers 400).
  CHECK(statuses[200] == messages + kRedeliveries + 1);

  const auto stopped = serve.stop();
  INFO(stopped.err);
  CHECK(stopped.exit_code == exit_codes::ok);
  CHECK_FALSE(contains(stopped.err, kSecret));
  CHECK(contains(stopped.err, "dead letter"));
  const auto [applied, transactions] = applied_and_transactions(stopped.err);
  CHECK(applied == 1 + messages + kRedeliveries);  // the junk is not applied, it is kept
  CHECK(transactions >= 1);
  CHECK(transactions < applied);  // concurrent POSTs shared a commit

  // tickets list: the one ticket, each message once.
  const auto listed = cli(dir, {"tickets", "list", "--store", url, "--store-schema", schema.name(), "--json"});
  INFO(listed.err);
  REQUIRE(listed.exit_code == exit_codes::ok);
  const auto list = single_json(listed);
  REQUIRE(list["tickets"].Size() == 1);
  CHECK(str(list["tickets"][0], "ticket_id") == kTicket);
  CHECK(str(list["tickets"][0], "group_id") == wagroups_test::kGroupId);
  CHECK(integer(list["tickets"][0], "messages") == messages);

  // tickets show, by group id: every message exactly once.
  const auto shown =
      cli(dir, {"tickets", "show", wagroups_test::kGroupId, "--store", url, "--store-schema", schema.name(), "--json"});
  INFO(shown.err);
  REQUIRE(shown.exit_code == exit_codes::ok);
  const auto seen = timeline_ids(single_json(shown));
  CHECK(seen.size() == static_cast<std::size_t>(messages));
  for (int n = 0; n < messages; ++n) {
    const std::string id = "wamid.PG-" + std::to_string(n);
    INFO(id);
    CHECK(seen.count(id) == 1);
    CHECK((seen.count(id) == 0 || seen.at(id) == 1));
  }
  const auto text = cli(dir, {"tickets", "show", kTicket, "--store", url, "--store-schema", schema.name()});
  CHECK(text.exit_code == exit_codes::ok);
  CHECK(contains(text.out, "ticket " + kTicket));
  CHECK(contains(text.out, "subject:   Case 5521: refund"));

  // The server holds the same, read by the store itself.
  const auto direct = schema.open()->load(kTicket);
  REQUIRE(direct);
  REQUIRE(*direct);
  CHECK((*direct)->ticket.timeline.size() == static_cast<std::size_t>(messages));

  // tickets dead-letters: the junk, byte for byte, with the parser's reason.
  const auto letters =
      cli(dir, {"tickets", "dead-letters", "--store", url, "--store-schema", schema.name(), "--json", "--body"});
  INFO(letters.err);
  REQUIRE(letters.exit_code == exit_codes::ok);
  const auto doc = single_json(letters);
  REQUIRE(doc["dead_letters"].Size() == 1);
  CHECK(str(doc["dead_letters"][0], "body") == kJunk);
  CHECK(str(doc["dead_letters"][0]["error"], "code") == "decode");
}

TEST_CASE(
    "issue12 item 2: WAGROUPS_STORE and WAGROUPS_STORE_SCHEMA name the store for webhook serve and tickets; the "
    "flags win over them, and WAGROUPS_STORE over WAGROUPS_TICKETS_DB",
    "[cli][postgres][issue12]") {
  const std::string url = server_url();
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  const Schema schema(url);
  const Schema other(url);  // another tenant's schema, empty
  const EnvChanges env{{"WAGROUPS_STORE", url}, {"WAGROUPS_STORE_SCHEMA", schema.name()}};
  {
    Serve serve(dir, {}, env);  // no --store
    CHECK(serve.db() == url);
    CHECK(post(serve.port(), wagroups_test::kGroupCreatedBody) == 200);
    CHECK(post(serve.port(), wagroups_test::kGroupMessageBody) == 200);
    CHECK(post(serve.port(), wagroups_test::kGroupMessageBody) == 200);  // again: applied once
    const auto stopped = serve.stop();
    INFO(stopped.err);
    CHECK(stopped.exit_code == exit_codes::ok);
  }
  const auto tickets_in = [&](const std::vector<std::string>& args, const EnvChanges& with) {
    std::vector<std::string> argv{"tickets", "list", "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = cli(dir, argv, with);
    INFO(r.err);
    REQUIRE(r.exit_code == exit_codes::ok);
    const auto d = single_json(r);
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (const auto& t : d["tickets"].GetArray()) out.emplace_back(str(t, "ticket_id"), integer(t, "messages"));
    return out;
  };
  const std::vector<std::pair<std::string, std::int64_t>> expected{{kTicket, 1}};
  const std::vector<std::pair<std::string, std::int64_t>> none;
  const std::string missing = dir.file("none.db");  // a SQLite file that does not exist

  // The environment alone.
  CHECK(tickets_in({}, env) == expected);
  // WAGROUPS_STORE wins over the older WAGROUPS_TICKETS_DB.
  CHECK(tickets_in({}, {{"WAGROUPS_STORE", url},
                        {"WAGROUPS_STORE_SCHEMA", schema.name()},
                        {"WAGROUPS_TICKETS_DB", missing}}) == expected);
  // --store wins over WAGROUPS_STORE, --store-schema over WAGROUPS_STORE_SCHEMA.
  CHECK(tickets_in({"--store", url}, {{"WAGROUPS_STORE", missing}, {"WAGROUPS_STORE_SCHEMA", schema.name()}}) ==
        expected);
  CHECK(tickets_in({"--store-schema", schema.name()},
                   {{"WAGROUPS_STORE", url}, {"WAGROUPS_STORE_SCHEMA", other.name()}}) == expected);
  CHECK(tickets_in({}, {{"WAGROUPS_STORE", url}, {"WAGROUPS_STORE_SCHEMA", other.name()}}) == none);
  const auto flag_wins = cli(dir, {"tickets", "list", "--store", missing}, env);
  CHECK(flag_wins.exit_code == exit_codes::not_found);
  CHECK(contains(flag_wins.err, "none.db"));
  // tickets show and dead-letters take the environment too.
  const auto shown = cli(dir, {"tickets", "show", kTicket, "--json"}, env);
  INFO(shown.err);
  REQUIRE(shown.exit_code == exit_codes::ok);
  CHECK(timeline_ids(single_json(shown)) == std::map<std::string, int>{{"wamid.TEST-IN-2", 1}});
  const auto letters = cli(dir, {"tickets", "dead-letters", "--json"}, env);
  INFO(letters.err);
  CHECK(letters.exit_code == exit_codes::ok);
  CHECK(single_json(letters)["dead_letters"].Size() == 0);

  // --store-schema names a PostgreSQL schema: refused with a SQLite store; the environment's is
  // ignored there (it may be set for every command).
  const auto sqlite_schema = cli(dir, {"tickets", "list", "--store", missing, "--store-schema", schema.name()});
  CHECK(sqlite_schema.exit_code == exit_codes::usage);
  CHECK(contains(sqlite_schema.err, "--store-schema"));
  CHECK(cli(dir, {"tickets", "list", "--store", missing}, {{"WAGROUPS_STORE_SCHEMA", schema.name()}}).exit_code ==
        exit_codes::not_found);
  const auto bad_schema = cli(dir, {"tickets", "list", "--store", url, "--store-schema", "Not-A-Schema"});
  CHECK(bad_schema.exit_code == exit_codes::usage);
  CHECK(contains(bad_schema.err, "--store-schema"));
}

TEST_CASE("issue12 item 2: a password in the store's URI never reaches the CLI's output, even when opening fails",
          "[cli][postgres][issue12]") {
  const std::string url = server_url();
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  const Schema schema(url);
  const std::string user = user_of(url);
  // The test server trusts loopback, so a password it does not need still opens the store.
  const std::string password = "Pw9-Zq7-secret";
  const std::string with_password = with_userinfo(url, user + ":" + password);
  const std::string masked = with_userinfo(url, user + ":***");
  const std::string in_query = url + "?password=" + password;
  const std::string encoded = with_userinfo(url, user + ":Pc%40t%2Fz-Encoded");  // "Pc@t/z-Encoded"
  const std::vector<std::string> secrets{password, "Pc%40t%2Fz-Encoded", "Pc@t/z-Encoded", "Pc@t", "Encoded"};
  const auto clean = [&](const wagroups_test::ProcessResult& r) {
    INFO(r.out);
    INFO(r.err);
    for (const auto& s : secrets) {
      CHECK_FALSE(contains(r.out, s));
      CHECK_FALSE(contains(r.err, s));
    }
  };
  const std::vector<std::string> in_schema{"--store-schema", schema.name()};
  const auto run = [&](std::vector<std::string> args, const EnvChanges& env = {}) {
    args.insert(args.end(), in_schema.begin(), in_schema.end());
    auto r = cli(dir, args, env);
    clean(r);
    return r;
  };

  // webhook serve: its first line names the store (JSON and text), without the password.
  {
    Serve serve(dir, {"--store", with_password, "--store-schema", schema.name()});
    CHECK(serve.db() == masked);
    CHECK(post(serve.port(), wagroups_test::kGroupCreatedBody) == 200);
    const auto stopped = serve.stop();
    CHECK(stopped.exit_code == exit_codes::ok);
    clean(stopped);
  }
  {
    wagroups_test::ChildProcess serve({WAGROUPS_CLI_PATH, "webhook", "serve", "--port", "0", "--app-secret", kSecret,
                                       "--store", encoded, "--store-schema", schema.name()},
                                      cli_env(dir));
    const auto first = serve.read_line(20s);
    INFO(serve.err());
    REQUIRE(first);
    CHECK(contains(*first, "(tickets in " + masked + ")"));
    serve.send_signal(SIGTERM);
    const auto stopped = serve.wait(20s);
    CHECK(stopped.exit_code == exit_codes::ok);
    clean(stopped);
    for (const auto& s : secrets) CHECK_FALSE(contains(*first, s));
  }

  // tickets: found, not found (the message names the store), dead letters; each form of password.
  for (const auto& store : {with_password, in_query, encoded}) {
    INFO(store);
    const auto listed = run({"tickets", "list", "--store", store, "--json"});
    CHECK(listed.exit_code == exit_codes::ok);
    CHECK(contains(listed.out, kTicket));
    const auto missing = run({"tickets", "show", "T-NOPE", "--store", store});
    CHECK(missing.exit_code == exit_codes::not_found);
    CHECK(contains(missing.err, "no ticket T-NOPE in postgres"));
    CHECK(contains(missing.err, "***"));
    CHECK(run({"tickets", "dead-letters", "--store", store}).exit_code == exit_codes::ok);
    const auto from_env = run({"tickets", "show", "T-NOPE"}, {{"WAGROUPS_STORE", store}});
    CHECK(from_env.exit_code == exit_codes::not_found);
  }

  // A store that cannot be opened (a role the server does not know): a typed error, the storage
  // exit code, the URI shown masked; from the flag or the environment, for tickets and serve.
  const std::string refused = with_userinfo(url, "wgt_no_such_role:" + password);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"tickets", "list", "--store", refused},
           {"tickets", "dead-letters", "--store", refused},
           {"webhook", "serve", "--port", "0", "--app-secret", kSecret, "--store", refused}}) {
    INFO(args[1]);
    const auto failed = run(args);
    CHECK(failed.exit_code == exit_codes::storage);
    CHECK(contains(failed.err, "opening the ticket store " + with_userinfo(url, "wgt_no_such_role:***")));
    CHECK(contains(failed.err, "failed: storage: "));
  }
  const auto from_env = run({"tickets", "list"}, {{"WAGROUPS_STORE", refused}});
  CHECK(from_env.exit_code == exit_codes::storage);
  CHECK(contains(from_env.err, "wgt_no_such_role:***@"));

  // A URI where an option was expected comes back in CLI11's own error, masked too.
  const auto stray = run({"tickets", "list", with_password});
  CHECK(stray.exit_code == exit_codes::usage);
  CHECK(contains(stray.err, masked));
}

TEST_CASE(
    "issue12 item 2: groups create, invite send and send text record on a PostgreSQL ticket store (sandbox "
    "webhooks through webhook serve)",
    "[cli][postgres][issue12]") {
  const std::string url = server_url();
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  const Schema schema(url);
  const std::vector<std::string> store{"--store", url, "--store-schema", schema.name()};
  Serve serve(dir, store);
  const EnvChanges deliver{{"WAGROUPS_WEBHOOK_URL", serve.url()}, {"WAGROUPS_APP_SECRET", kSecret}};
  const auto with_store = [&](std::vector<std::string> args) {
    args.insert(args.end(), store.begin(), store.end());
    return args;
  };

  const auto created =
      cli(dir, with_store({"groups", "create", "--subject", "Order #12", "--assignee", "agent-12", "--json"}), deliver);
  INFO(created.err);
  REQUIRE(created.exit_code == exit_codes::ok);
  const auto answer = single_json(created);
  const std::string ticket = str(answer, "ticket_id");
  const std::string group = str(answer, "group_id");

  const auto invited = cli(dir,
                           with_store({"invite", "send", ticket, "--template", "group_invite", "--phone", "15550100601",
                                       "--phone", "15550100602", "--json"}),
                           deliver);
  INFO(invited.err);
  REQUIRE(invited.exit_code == exit_codes::ok);
  const auto invites = single_json(invited);
  REQUIRE(invites["invites"].Size() == 2);
  CHECK(str(invites["invites"][0], "message_id").rfind("wamid.", 0) == 0);
  CHECK(contains(invited.err, "6 webhook(s) delivered"));  // sent, delivered, read for each

  REQUIRE(cli(dir, {"sandbox", "join", group, "--phone", "15550100601", "--name", "Eve"}, deliver).exit_code ==
          exit_codes::ok);
  // send records on the ticket of $WAGROUPS_STORE alone (no --store).
  EnvChanges by_env = deliver;
  by_env["WAGROUPS_STORE"] = url;
  by_env["WAGROUPS_STORE_SCHEMA"] = schema.name();
  const auto answered = cli(dir, {"send", "text", group, "--text", "On its way", "--agent", "agent-12"}, by_env);
  INFO(answered.err);
  REQUIRE(answered.exit_code == exit_codes::ok);

  const auto list = single_json(cli(dir, with_store({"tickets", "list", "--json"})));
  REQUIRE(list["tickets"].Size() == 1);
  const auto& t = list["tickets"][0];
  CHECK(str(t, "ticket_id") == ticket);
  CHECK(str(t, "group_id") == group);
  CHECK(str(t, "assignee") == "agent-12");
  CHECK(integer(t, "invites") == 2);
  CHECK(integer(t, "members_joined") == 1);
  CHECK(integer(t, "messages") == 1);
  const auto shown = cli(dir, with_store({"tickets", "show", ticket}));
  CHECK(contains(shown.out, "15550100602      read"));
  CHECK(contains(shown.out, "business (agent-12)  \"On its way\""));

  // The server holds them, read by the store itself.
  const auto direct = schema.open()->load(ticket);
  REQUIRE(direct);
  REQUIRE(*direct);
  CHECK((*direct)->ticket.invites.size() == 2);
  CHECK((*direct)->ticket.group_id == group);

  // Invited already: refused before sending, as on SQLite.
  const auto twice =
      cli(dir, with_store({"invite", "send", ticket, "--template", "group_invite", "--phone", "15550100602"}), deliver);
  CHECK(twice.exit_code == exit_codes::invalid);
  // --agent or --store-schema without any store is a usage error (checked after parsing: the store
  // may come from the environment only).
  CHECK(cli(dir, {"send", "text", group, "--text", "x", "--agent", "a"}, deliver).exit_code == exit_codes::usage);
  CHECK(cli(dir, {"send", "text", group, "--text", "x", "--store-schema", schema.name()}, deliver).exit_code ==
        exit_codes::usage);
}
