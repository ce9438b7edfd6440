// issue 11 item 4: `wagroups webhook serve` group-commits concurrent POSTs. Many signed POSTs at
// once over keep-alive loopback connections: every one answered 200, every body's message in
// the SQLite file exactly once afterwards (redeliveries among them too), and fewer transactions
// than bodies (serve reports both when it stops).

#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
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

const std::string kSecret = "serve-group-commit-secret-3Kd";

// One group text message, in the documented shape (as kGroupMessageBody), ours to vary.
std::string message_body(const std::string& group_id, const std::string& message_id, int ts) {
  return R"({"object":"whatsapp_business_account","entry":[{"id":"880011223344","changes":[{"field":"messages",)"
         R"("value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111",)"
         R"("phone_number_id":"771234567890"},"contacts":[{"profile":{"name":"Dana R."},"wa_id":"4915112345678"}],)"
         R"("messages":[{"from":"4915112345678","group_id":")" +
         group_id + R"(","id":")" + message_id + R"(","timestamp":")" + std::to_string(ts) +
         R"(","type":"text","text":{"body":"parcel?"}}]}}]}]})";
}

// "N bodies applied in M transactions" from serve's last stderr line.
std::pair<long, long> applied_and_transactions(const std::string& err) {
  const auto at = err.find(" bodies applied in ");
  REQUIRE(at != std::string::npos);
  const auto start = err.rfind('(', at);
  REQUIRE(start != std::string::npos);
  const long bodies = std::stol(err.substr(start + 1, at - start - 1));
  const long transactions = std::stol(err.substr(at + std::string(" bodies applied in ").size()));
  return {bodies, transactions};
}

}  // namespace

TEST_CASE(
    "issue11 item 4: webhook serve answers concurrent signed POSTs 200 and stores each body exactly once, in "
    "fewer transactions than bodies",
    "[cli][issue11]") {
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  const std::string db = dir.file("tickets.db");
  wagroups_test::ChildProcess serve(
      {WAGROUPS_CLI_PATH, "webhook", "serve", "--port", "0", "--app-secret", kSecret, "--db", db, "--json"},
      cli_env(dir));
  const auto first = serve.read_line(10s);
  INFO(serve.err());
  REQUIRE(first);
  const int port = static_cast<int>(integer(json_of(*first), "port"));

  // Each poster sends its own messages, and the first poster's again at the end (Meta's
  // redeliveries, racing with the other posters' bodies).
  constexpr int kPosters = 24;
  constexpr int kPerPoster = 6;
  std::vector<std::vector<std::pair<std::string, std::string>>> bodies(kPosters);  // body, signature
  for (int p = 0; p < kPosters; ++p) {
    for (int i = 0; i < kPerPoster; ++i) {
      const int n = p * kPerPoster + i;
      const std::string body =
          message_body("GRP-gc-" + std::to_string(n % 7), "wamid.GC-" + std::to_string(n), 1760000000 + n);
      bodies[static_cast<std::size_t>(p)].emplace_back(body, wagroups_test::sign_body(body, kSecret));
    }
  }
  for (int p = 1; p < kPosters; ++p)
    bodies[static_cast<std::size_t>(p)].push_back(bodies[0][static_cast<std::size_t>(p % kPerPoster)]);

  // serve prints a line per change; read them meanwhile so that its stdout never fills.
  std::atomic<bool> posting{true};
  std::thread drain([&] {
    while (posting.load()) (void)serve.read_line(50ms);
  });
  std::atomic<int> ok{0};
  std::vector<std::thread> posters;
  std::map<int, int> statuses;
  std::mutex statuses_mutex;
  for (int p = 0; p < kPosters; ++p) {
    posters.emplace_back([&, p] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(30, 0);
      for (const auto& [body, signature] : bodies[static_cast<std::size_t>(p)]) {
        // No answer at all (a connection closed by the server's keep-alive rules as the request
        // left, or refused while many connect at once): sent again, as Meta would.
        auto r = client.Post("/webhook", {{"X-Hub-Signature-256", signature}}, body, "application/json");
        for (int attempt = 1; !r && attempt < 5; ++attempt)
          r = client.Post("/webhook", {{"X-Hub-Signature-256", signature}}, body, "application/json");
        const int status = r ? r->status : 0;
        if (status == 200) ++ok;
        std::lock_guard<std::mutex> lock(statuses_mutex);
        ++statuses[status];
      }
    });
  }
  for (auto& t : posters) t.join();
  posting = false;
  drain.join();
  const int sent = kPosters * kPerPoster + (kPosters - 1);
  INFO("statuses: 200 x " << statuses[200] << ", 0 (no answer) x " << statuses[0]);
  CHECK(ok.load() == sent);

  serve.send_signal(SIGTERM);
  const auto stopped = serve.wait(15s);
  INFO(stopped.err);
  CHECK(stopped.exit_code == 0);
  CHECK_FALSE(contains(stopped.err, kSecret));
  const auto [applied, transactions] = applied_and_transactions(stopped.err);
  CHECK(applied == sent);
  CHECK(transactions >= 1);
  CHECK(transactions < applied);  // some POSTs shared a commit

  // The file holds each message once, on its group's ticket.
  auto store = wagroups::SqliteTicketStore::open(db);
  REQUIRE(store);
  wagroups::TicketQuery all;
  all.limit = 1000;
  auto tickets = (*store)->list(all);
  REQUIRE(tickets);
  CHECK(tickets->size() == 7);
  std::map<std::string, int> seen;
  for (const auto& s : *tickets) {
    for (const auto& m : s.ticket.timeline) {
      ++seen[m.message_id];
      CHECK(s.ticket.group_id == "GRP-gc-" + std::to_string(std::stoi(m.message_id.substr(9)) % 7));
    }
  }
  CHECK(seen.size() == static_cast<std::size_t>(kPosters * kPerPoster));
  for (const auto& [id, count] : seen) {
    INFO(id);
    CHECK(count == 1);
  }
}

TEST_CASE("issue11 item 4: webhook serve refuses a worker count out of range", "[cli][issue11]") {
  TempDir dir;
  for (const char* workers : {"0", "1025"}) {
    INFO(workers);
    const auto r = cli(
        dir,
        {"webhook", "serve", "--port", "0", "--app-secret", kSecret, "--db", dir.file("t.db"), "--workers", workers},
        {}, 15s);
    CHECK(r.exit_code == exit_codes::usage);
    CHECK(contains(r.err, "--workers"));
  }
}
