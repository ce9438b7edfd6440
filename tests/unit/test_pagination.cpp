// Walking every page of groups and join requests, including Meta's "invalid cursor" restart.

#include <functional>
#include <memory>

#include <catch2/catch_test_macros.hpp>

#include "test_support.hpp"
#include "wagroups/graph_codes.hpp"

using namespace wagroups;
using wagroups_test::FakeClient;

namespace {
std::string page(const std::vector<std::string>& ids, const std::string& after, bool has_next) {
  std::string body = R"({"data":{"groups":[)";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) body += ",";
    body += R"({"id":")" + ids[i] + R"(","subject":"S )" + ids[i] + R"(","created_at":"1750000000"})";
  }
  body += R"(]},"paging":{"cursors":{"before":"B","after":")" + after + R"("})";
  if (has_next) body += R"(,"next":"https://graph.facebook.com/v23.0/P/groups?after=)" + after + R"(")";
  body += "}}";
  return body;
}
const std::string kInvalidCursor =
    R"({"error":{"message":"(#131059) Invalid cursor","type":"OAuthException","code":131059}})";
}  // namespace

TEST_CASE("list_all_groups follows next until the last page", "[pagination]") {
  FakeClient f;
  f.transport->enqueue(200, page({"G1", "G2"}, "C1", true));
  f.transport->enqueue(200, page({"G3", "G4"}, "C2", true));
  f.transport->enqueue(200, page({"G5"}, "C3", false));
  std::vector<std::pair<std::size_t, std::size_t>> progress;
  auto all = f.client.list_all_groups(2, [&](std::size_t pages, std::size_t items) { progress.emplace_back(pages, items); });
  REQUIRE(all.ok());
  REQUIRE(all->size() == 5);
  CHECK((*all)[4].id == "G5");
  auto requests = f.transport->requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].url.find("?limit=2") != std::string::npos);
  CHECK(requests[0].url.find("after=") == std::string::npos);
  CHECK(requests[1].url.find("limit=2&after=C1") != std::string::npos);
  CHECK(requests[2].url.find("limit=2&after=C2") != std::string::npos);
  CHECK(progress == std::vector<std::pair<std::size_t, std::size_t>>{{1, 2}, {2, 4}, {3, 5}});
}

TEST_CASE("an invalid cursor restarts the walk without visiting a group twice", "[pagination]") {
  FakeClient f;
  f.transport->enqueue(200, page({"G1", "G2"}, "C1", true));
  f.transport->enqueue(400, kInvalidCursor);
  f.transport->enqueue(200, page({"G1", "G2"}, "C1b", true));  // first page again
  f.transport->enqueue(200, page({"G3"}, "C2b", false));
  std::vector<std::string> seen;
  auto count = f.client.for_each_group([&](const GroupSummary& g) {
    seen.push_back(g.id);
    return true;
  }, 2);
  REQUIRE(count.ok());
  CHECK(*count == 3);
  CHECK(seen == std::vector<std::string>{"G1", "G2", "G3"});
  auto requests = f.transport->requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[2].url.find("after=") == std::string::npos);  // restarted from the top
  CHECK(requests[3].url.find("after=C1b") != std::string::npos);
}

TEST_CASE("repeated invalid cursors give up with the Graph error", "[pagination]") {
  FakeClient f;
  f.transport->enqueue(200, page({"G1"}, "C1", true));
  for (int i = 0; i < 4; ++i) {
    f.transport->enqueue(400, kInvalidCursor);
    if (i < 3) f.transport->enqueue(200, page({"G1"}, "C1", true));
  }
  auto all = f.client.list_all_groups(1);
  REQUIRE_FALSE(all.ok());
  CHECK(all.error().graph_code() == graph_codes::invalid_cursor);
}

TEST_CASE("the visitor can stop the walk early", "[pagination]") {
  FakeClient f;
  f.transport->enqueue(200, page({"G1", "G2"}, "C1", true));
  auto count = f.client.for_each_group([](const GroupSummary& g) { return g.id != "G1"; }, 2);
  REQUIRE(count.ok());
  CHECK(f.transport->request_count() == 1);
}

TEST_CASE("a page error other than an invalid cursor ends the walk", "[pagination]") {
  FakeClient f;
  f.transport->enqueue(200, page({"G1"}, "C1", true));
  f.transport->enqueue(400, R"({"error":{"message":"(#131215) x","type":"OAuthException","code":131215}})");
  auto all = f.client.list_all_groups(1);
  REQUIRE_FALSE(all.ok());
  CHECK(all.error().is_not_eligible());
}

TEST_CASE("a cursor that does not move ends the walk instead of looping", "[pagination]") {
  FakeClient f;
  f.transport->enqueue(200, page({"G1"}, "SAME", true));
  f.transport->enqueue(200, page({"G2"}, "SAME", true));
  auto all = f.client.list_all_groups(1);
  REQUIRE(all.ok());
  CHECK(all->size() == 2);
  CHECK(f.transport->request_count() == 2);
}

TEST_CASE("the page size is validated before the walk", "[pagination]") {
  FakeClient f;
  auto all = f.client.list_all_groups(2000);
  REQUIRE_FALSE(all.ok());
  CHECK(all.error().field == "limit");
  CHECK(f.transport->request_count() == 0);
}

TEST_CASE("list_all_join_requests follows cursors in Meta's documented shape (no next link)", "[pagination]") {
  FakeClient f;
  // Meta's join-requests answer carries paging.cursors only; the walk ends on an empty page.
  f.transport->enqueue(200, R"({"data":[{"join_request_id":"J1","wa_id":"1","creation_timestamp":1755548877}],
                               "paging":{"cursors":{"before":"B1","after":"A1"}}})");
  f.transport->enqueue(200, R"({"data":[{"join_request_id":"J2","user_id":"US.1"}],
                               "paging":{"cursors":{"before":"B2","after":"A2"}}})");
  f.transport->enqueue(200, R"({"data":[],"paging":{"cursors":{}}})");
  auto all = f.client.list_all_join_requests("G1");
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].join_request_id == "J1");
  CHECK((*all)[1].join_request_id == "J2");
  CHECK((*all)[1].requester.user_id == std::optional<std::string>("US.1"));
  const auto requests = f.transport->requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].url.substr(requests[0].url.size() - 17) == "/G1/join_requests");  // no limit sent
  CHECK(requests[1].url.find("/G1/join_requests?after=A1") != std::string::npos);
  CHECK(requests[2].url.find("/G1/join_requests?after=A2") != std::string::npos);
}

TEST_CASE("a short page without a next link ends a groups walk", "[pagination]") {
  FakeClient f;
  f.transport->enqueue(200, page({"G1", "G2"}, "C1", false));  // full page, cursor, but no next
  f.transport->enqueue(200, page({"G3"}, "C2", false));        // short page: the end
  auto all = f.client.list_all_groups(2);
  REQUIRE(all.ok());
  CHECK(all->size() == 3);
  CHECK(f.transport->request_count() == 2);
}

// Answers every request with the body `page_for(n)` for the n-th request (1-based); returns the
// counter of requests served.
static std::shared_ptr<int> serve_pages(FakeClient& f, std::function<std::string(int)> page_for) {
  auto served = std::make_shared<int>(0);
  f.transport->set_handler([served, page_for](const HttpRequest&) -> Result<HttpResponse> {
    HttpResponse r;
    r.status = 200;
    r.body = page_for(++*served);
    return r;
  });
  return served;
}

TEST_CASE("fresh cursors for old items end the walk instead of looping", "[pagination]") {
  FakeClient f;
  auto served = serve_pages(f, [](int n) {
    return R"({"data":[{"join_request_id":"J1"}],"paging":{"cursors":{"after":"A)" + std::to_string(n) + R"("}}})";
  });
  auto all = f.client.list_all_join_requests("G1");
  REQUIRE(all.ok());
  CHECK(all->size() == 1);
  CHECK(*served == 2);  // the second page brought nothing new
}

TEST_CASE("cursors alternating between two values end the walk", "[pagination]") {
  FakeClient f;
  auto served = serve_pages(f, [](int n) {
    return R"({"data":[{"join_request_id":"J)" + std::to_string(n) + R"("}],"paging":{"cursors":{"after":")" +
           std::string(n % 2 ? "A" : "B") + R"("}}})";
  });
  auto all = f.client.list_all_join_requests("G1");
  REQUIRE(all.ok());
  CHECK(*served == 3);  // A, B, then A again: a cursor already followed
}
