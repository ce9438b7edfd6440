// Client::send_to_groups over the FakeTransport (the default, one-at-a-time
// Transport::send_concurrently), with an injected steady clock and sleeper: deterministic, no
// wall time.

#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "wagroups/client/client.hpp"
#include "wagroups/testing/fake_transport.hpp"

namespace {

using namespace std::chrono_literals;
using wagroups::FanOutStatus;

// A steady clock that moves only when the fan-out sleeps.
struct FakeTime {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
  std::vector<std::chrono::milliseconds> sleeps;
  void install(wagroups::FanOutOptions& o) {
    o.steady_clock = [this] { return now; };
    o.sleeper = [this](std::chrono::milliseconds d) {
      sleeps.push_back(d);
      now += d;
    };
  }
};

std::string group(int i) { return "1203630" + std::to_string(10000000 + i) + "@g.us"; }

std::vector<std::string> groups(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(group(i));
  return out;
}

// The group a request is addressed to (the body's "to").
std::string to_of(const wagroups::HttpRequest& r) {
  const auto at = r.body.find("\"to\":\"");
  if (at == std::string::npos) return {};
  const auto start = at + 6;
  return r.body.substr(start, r.body.find('"', start) - start);
}

wagroups::HttpResponse ok_answer(const std::string& to) {
  wagroups::HttpResponse r;
  r.status = 200;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = R"({"messaging_product":"whatsapp","contacts":[{"input":")" + to + R"(","wa_id":")" + to +
           R"("}],"messages":[{"id":"wamid.)" + to + R"("}]})";
  return r;
}

wagroups::HttpResponse graph_error(int status, int code, wagroups::HttpHeaders headers = {}) {
  wagroups::HttpResponse r;
  r.status = status;
  r.headers = std::move(headers);
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = R"({"error":{"message":"limit","type":"OAuthException","code":)" + std::to_string(code) +
           R"(,"fbtrace_id":"AbC"}})";
  return r;
}

wagroups::GroupMessage text_message() {
  wagroups::GroupMessage m;
  m.type = wagroups::MessageType::text;
  m.text = "Your order has shipped";
  return m;
}

}  // namespace

TEST_CASE("issue11 item 5: more than 10,000 groups are refused before anything is sent", "[fanout]") {
  // The limit is a snake_case constant beside the other published limits, and equals them.
  static_assert(wagroups::limits::max_fan_out_groups == wagroups::limits::max_groups_per_number);
  CHECK(wagroups::limits::max_fan_out_groups == 10000);
  wagroups_test::FakeClient fake;
  auto too_many = fake.client.send_to_groups(groups(10001), text_message());
  REQUIRE_FALSE(too_many);
  CHECK(too_many.error().code == wagroups::ErrorCode::invalid_argument);
  CHECK(too_many.error().field == "group_ids");
  CHECK(fake.transport->request_count() == 0);

  // 10,000 is allowed, and each group gets exactly one request.
  fake.transport->set_handler([](const wagroups::HttpRequest& r) { return ok_answer(to_of(r)); });
  wagroups::FanOutOptions o;
  o.messages_per_second = 0;
  auto all = fake.client.send_to_groups(groups(10000), text_message(), o);
  REQUIRE(all);
  CHECK(all->all_sent());
  CHECK(fake.transport->request_count() == 10000);
  CHECK(all->results[9999].response->message_id() == "wamid." + group(9999));
}

TEST_CASE("issue11 item 5: a call refused as a whole sends nothing", "[fanout]") {
  wagroups_test::FakeClient fake;
  auto dup = fake.client.send_to_groups({group(1), group(2), group(1)}, text_message());
  REQUIRE_FALSE(dup);
  CHECK(dup.error().field == "group_ids[2]");

  wagroups::GroupMessage empty = text_message();
  empty.text = "";
  auto bad = fake.client.send_to_groups(groups(3), empty);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == wagroups::ErrorCode::invalid_argument);

  wagroups::FanOutOptions zero;
  zero.max_in_flight = 0;
  CHECK_FALSE(fake.client.send_to_groups(groups(3), text_message(), zero));
  CHECK(fake.transport->request_count() == 0);
}

TEST_CASE("issue11 item 5: a bad group id fails that group alone", "[fanout]") {
  wagroups_test::FakeClient fake;
  fake.transport->set_handler([](const wagroups::HttpRequest& r) { return ok_answer(to_of(r)); });
  FakeTime time;
  wagroups::FanOutOptions o;
  time.install(o);
  auto report = fake.client.send_to_groups({group(1), "", group(2)}, text_message(), o);
  REQUIRE(report);
  CHECK(report->results[0].status == FanOutStatus::sent);
  CHECK(report->results[1].status == FanOutStatus::failed);
  CHECK(report->results[1].attempts == 0);
  CHECK(report->results[1].error->code == wagroups::ErrorCode::invalid_argument);
  CHECK(report->results[2].status == FanOutStatus::sent);
  CHECK(fake.transport->request_count() == 2);
}

TEST_CASE("issue11 item 5: only provably refused sends are repeated, after Retry-After", "[fanout]") {
  wagroups_test::FakeClient fake;
  std::mutex mutex;
  std::map<std::string, int> seen;
  // group(0): HTTP 429 with Retry-After: 2, then accepted.
  // group(1): Graph 130429 with an HTTP-date Retry-After 3 s after the client's clock, then accepted.
  // group(2): Graph 131208 (no Retry-After), then accepted.
  // group(3): connect failure (nothing sent), then accepted.
  // group(4): connection broke after the request left: unknown, never repeated.
  // group(5): Graph 100 (a refusal): failed, never repeated.
  // group(6): HTTP 500: unknown, never repeated.
  // group(7): 429 every time: given up after max_attempts.
  // group(8): Retry-After of an hour: cut to max_retry_after.
  fake.transport->set_handler([&](const wagroups::HttpRequest& r) -> wagroups::Result<wagroups::HttpResponse> {
    const std::string to = to_of(r);
    int n;
    {
      std::lock_guard<std::mutex> lock(mutex);
      n = ++seen[to];
    }
    if (to == group(0) && n == 1) return graph_error(429, 4, {{"Retry-After", "2"}});
    // FakeClient's clock is 1790000000 s after the epoch: Mon, 21 Sep 2026 14:13:20 GMT.
    if (to == group(1) && n == 1) return graph_error(400, 130429, {{"Retry-After", "Mon, 21 Sep 2026 14:13:23 GMT"}});
    if (to == group(2) && n == 1) return graph_error(400, 131208);
    if (to == group(3) && n == 1) return wagroups::Error::transport_failure(7, "curl: could not connect", false);
    if (to == group(4)) return wagroups::Error::transport_failure(56, "curl: connection reset", true);
    if (to == group(5)) return graph_error(400, 100);
    if (to == group(6)) return graph_error(500, 1);
    if (to == group(7)) return graph_error(429, 130429);
    if (to == group(8) && n == 1) return graph_error(429, 130429, {{"Retry-After", "3600"}});
    return ok_answer(to);
  });
  FakeTime time;
  wagroups::FanOutOptions o;
  time.install(o);
  o.max_attempts = 3;
  o.initial_backoff = 100ms;
  o.max_retry_after = 5s;
  auto report = fake.client.send_to_groups(groups(10), text_message(), o);
  REQUIRE(report);
  const auto& r = report->results;
  CHECK(r[0].status == FanOutStatus::sent);
  CHECK(r[0].attempts == 2);
  CHECK(r[1].status == FanOutStatus::sent);
  CHECK(r[2].status == FanOutStatus::sent);
  CHECK(r[3].status == FanOutStatus::sent);
  CHECK(r[4].status == FanOutStatus::unknown);
  CHECK(r[5].status == FanOutStatus::failed);
  CHECK(r[5].error->graph_code() == 100);
  CHECK(r[6].status == FanOutStatus::unknown);
  CHECK(r[7].status == FanOutStatus::failed);
  CHECK(r[7].attempts == 3);
  CHECK(r[7].error->is_rate_limited());
  CHECK(r[8].status == FanOutStatus::sent);
  CHECK(r[9].status == FanOutStatus::sent);
  CHECK(seen[group(4)] == 1);
  CHECK(seen[group(5)] == 1);
  CHECK(seen[group(6)] == 1);
  CHECK(seen[group(7)] == 3);
  CHECK(report->counts.sent == 6);
  CHECK(report->counts.unknown == 2);
  CHECK(report->counts.failed == 2);
  CHECK(report->counts.retries == 7);
  // Each Retry-After was waited for (2 s, 3 s, the hour cut to 5 s) before anything else was sent,
  // in slices short enough to notice a cancel.
  std::chrono::milliseconds longest{0};
  for (auto d : time.sleeps) longest = std::max(longest, d);
  CHECK(longest <= 100ms);
  std::chrono::milliseconds total{0};
  for (auto d : time.sleeps) total += d;
  CHECK(total >= 10s);  // 2 + 3 + 5, at least
}

TEST_CASE("issue11 item 5: the token bucket spaces sends at the rate (injected clock)", "[fanout]") {
  wagroups_test::FakeClient fake;
  FakeTime time;
  std::vector<std::chrono::steady_clock::time_point> stamps;
  fake.transport->set_handler([&](const wagroups::HttpRequest& r) {
    stamps.push_back(time.now);
    return ok_answer(to_of(r));
  });
  wagroups::FanOutOptions o;
  time.install(o);
  o.messages_per_second = 80;  // the default rate, burst rate/10 = 8
  auto report = fake.client.send_to_groups(groups(400), text_message(), o);
  REQUIRE(report);
  CHECK(report->all_sent());
  REQUIRE(stamps.size() == 400);
  // No 2-second window holds more than 5 % over 160 sends.
  std::size_t worst = 0;
  for (std::size_t i = 0, j = 0; i < stamps.size(); ++i) {
    while (stamps[i] - stamps[j] >= 2s) ++j;
    worst = std::max(worst, i - j + 1);
  }
  CHECK(worst <= 168);
  CHECK(worst >= 152);
  const double seconds = std::chrono::duration<double>(stamps.back() - stamps.front()).count();
  CHECK(seconds >= (400 - 8) / 80.0 - 0.01);
  CHECK(seconds <= (400 - 8) / 80.0 * 1.05);
}

TEST_CASE("issue11 item 5: cancellation starts nothing new and reports the rest not sent", "[fanout]") {
  wagroups_test::FakeClient fake;
  wagroups::CancellationToken cancel;
  int requests = 0;
  fake.transport->set_handler([&](const wagroups::HttpRequest& r) {
    if (++requests == 3) cancel.cancel();  // while the third is in flight
    return ok_answer(to_of(r));
  });
  FakeTime time;
  wagroups::FanOutOptions o;
  time.install(o);
  o.cancel = cancel;
  std::vector<wagroups::FanOutProgress> seen;
  o.progress = [&](const wagroups::FanOutProgress& p) { seen.push_back(p); };
  auto report = fake.client.send_to_groups(groups(10), text_message(), o);
  REQUIRE(report);
  CHECK(report->cancelled);
  CHECK(requests == 3);
  CHECK(report->counts.sent == 3);
  CHECK(report->counts.not_sent == 7);
  CHECK(report->results[2].status == FanOutStatus::sent);  // the one in flight finished and is reported
  CHECK(report->results[3].status == FanOutStatus::not_sent);
  CHECK_FALSE(report->all_sent());
  REQUIRE_FALSE(seen.empty());
  CHECK(seen.back().finished == 10);

  // A callback works alike, and a throttled group waiting for its repeat is not sent either.
  wagroups_test::FakeClient fake2;
  bool stop = false;
  fake2.transport->set_handler([&](const wagroups::HttpRequest& r) -> wagroups::Result<wagroups::HttpResponse> {
    stop = true;
    return graph_error(429, 130429, {{"Retry-After", "1"}});
    (void)r;
  });
  wagroups::FanOutOptions o2;
  FakeTime time2;
  time2.install(o2);
  o2.should_cancel = [&] { return stop; };
  auto report2 = fake2.client.send_to_groups(groups(5), text_message(), o2);
  REQUIRE(report2);
  CHECK(fake2.transport->request_count() == 1);
  CHECK(report2->results[0].status == FanOutStatus::not_sent);
  CHECK(report2->results[0].error->is_rate_limited());
  CHECK(report2->counts.not_sent == 5);
}

TEST_CASE("issue11 item 5: progress counts only grow and end at the total", "[fanout]") {
  wagroups_test::FakeClient fake;
  int n = 0;
  fake.transport->set_handler([&](const wagroups::HttpRequest& r) -> wagroups::Result<wagroups::HttpResponse> {
    ++n;
    if (n % 5 == 0) return graph_error(400, 100);
    if (n % 7 == 0) return graph_error(429, 130429);
    return ok_answer(to_of(r));
  });
  FakeTime time;
  wagroups::FanOutOptions o;
  time.install(o);
  std::vector<wagroups::FanOutProgress> seen;
  o.progress = [&](const wagroups::FanOutProgress& p) { seen.push_back(p); };
  auto report = fake.client.send_to_groups(groups(50), text_message(), o);
  REQUIRE(report);
  REQUIRE(seen.size() == 50);
  for (std::size_t i = 1; i < seen.size(); ++i) {
    CHECK(seen[i].finished == seen[i - 1].finished + 1);
    CHECK(seen[i].sent >= seen[i - 1].sent);
    CHECK(seen[i].failed >= seen[i - 1].failed);
    CHECK(seen[i].retries >= seen[i - 1].retries);
    CHECK(seen[i].sent + seen[i].failed + seen[i].unknown + seen[i].not_sent == seen[i].finished);
  }
  CHECK(seen.back().finished == 50);
  CHECK(seen.back().sent == report->counts.sent);
}

TEST_CASE("issue11 item 5: a host transport without send_concurrently still fans out", "[fanout]") {
  // Only `send` overridden: the default send_concurrently runs the requests one by one.
  struct Minimal final : wagroups::Transport {
    int sends = 0;
    wagroups::Result<wagroups::HttpResponse> send(const wagroups::HttpRequest& r) override {
      ++sends;
      return ok_answer(to_of(r));
    }
  };
  auto transport = std::make_shared<Minimal>();
  wagroups::ClientOptions options = wagroups_test::FakeClient::base_options();
  options.transport = transport;
  wagroups::Client client(options);
  wagroups::FanOutOptions o;
  o.messages_per_second = 0;
  auto report = client.send_to_groups(groups(20), text_message(), o);
  REQUIRE(report);
  CHECK(report->all_sent());
  CHECK(transport->sends == 20);
}

TEST_CASE("issue11 item 5: a failure before sending that would recur is not repeated", "[fanout]") {
  wagroups_test::FakeClient fake;
  std::mutex mutex;
  std::map<std::string, int> seen;
  // group(0): TLS peer verification failed (CURLE_PEER_FAILED_VERIFICATION), nothing sent.
  // group(1): unsupported protocol (CURLE_UNSUPPORTED_PROTOCOL), nothing sent.
  // group(2): a failed connect (CURLE_COULDNT_CONNECT) once, then accepted: still repeated.
  fake.transport->set_handler([&](const wagroups::HttpRequest& r) -> wagroups::Result<wagroups::HttpResponse> {
    const std::string to = to_of(r);
    int n;
    {
      std::lock_guard<std::mutex> lock(mutex);
      n = ++seen[to];
    }
    if (to == group(0)) return wagroups::Error::transport_failure(60, "curl: SSL peer certificate", false);
    if (to == group(1)) return wagroups::Error::transport_failure(1, "curl: unsupported protocol", false);
    if (to == group(2) && n == 1) return wagroups::Error::transport_failure(7, "curl: could not connect", false);
    return ok_answer(to);
  });
  FakeTime time;
  wagroups::FanOutOptions o;
  time.install(o);
  o.max_attempts = 4;
  auto report = fake.client.send_to_groups(groups(3), text_message(), o);
  REQUIRE(report);
  const auto& r = report->results;
  CHECK(r[0].status == FanOutStatus::failed);
  CHECK(r[0].attempts == 1);
  CHECK(r[0].error->curl_code == 60);
  CHECK(r[1].status == FanOutStatus::failed);
  CHECK(r[1].attempts == 1);
  CHECK(r[2].status == FanOutStatus::sent);
  CHECK(r[2].attempts == 2);
  CHECK(seen[group(0)] == 1);
  CHECK(seen[group(1)] == 1);
  CHECK(seen[group(2)] == 2);
  CHECK(report->counts.failed == 2);
  CHECK(report->counts.retries == 1);
}

TEST_CASE("issue11 item 5: a cancel during a long Retry-After wait is seen within 100 ms (injected sleeper)",
          "[fanout]") {
  wagroups_test::FakeClient fake;
  fake.transport->set_handler([](const wagroups::HttpRequest&) -> wagroups::Result<wagroups::HttpResponse> {
    return graph_error(429, 130429, {{"Retry-After", "60"}});
  });
  wagroups::CancellationToken cancel;
  wagroups::FanOutOptions o;
  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
  std::vector<std::chrono::milliseconds> sleeps;
  std::chrono::milliseconds slept{0};
  o.steady_clock = [&] { return now; };
  // Another thread would cancel 250 ms into the wait: here the sleeper does it at that point.
  o.sleeper = [&](std::chrono::milliseconds d) {
    sleeps.push_back(d);
    now += d;
    slept += d;
    if (slept >= 250ms) cancel.cancel();
  };
  o.cancel = cancel;
  o.max_retry_after = 60s;
  auto report = fake.client.send_to_groups(groups(2), text_message(), o);
  REQUIRE(report);
  CHECK(report->cancelled);
  CHECK(fake.transport->request_count() == 1);  // the throttling pause held group(1) back too
  REQUIRE_FALSE(sleeps.empty());
  for (auto d : sleeps) CHECK(d <= 100ms);
  CHECK(slept < 400ms);  // stopped within one slice of the cancel, not after 60 s
  CHECK(report->results[0].status == FanOutStatus::not_sent);
  CHECK(report->results[1].status == FanOutStatus::not_sent);
  CHECK(report->counts.not_sent == 2);
}
