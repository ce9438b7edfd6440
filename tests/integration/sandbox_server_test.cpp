// SandboxServer end to end: a real Client over CurlTransport against the simulator on loopback
// HTTP, and a cpp-httplib webhook endpoint that verifies every POST's signature and parses it.

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "jpeg_builder.hpp"
#include "loopback_port.hpp"
#include "loopback_server.hpp"
#include "wagroups/client/client.hpp"
#include "wagroups/http/curl_transport.hpp"
#include "wagroups/sandbox/simulator.hpp"
#include "wagroups/sandbox/server.hpp"
#include "wagroups/testing/fake_transport.hpp"
#include "wagroups/webhook.hpp"
#include "wagroups/webhook/events.hpp"
#include "wagroups/graph_codes.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;
using wagroups::ErrorCode;
using wagroups::sandbox::SandboxServer;
using wagroups::sandbox::ServerOptions;
using wagroups::sandbox::Simulator;
using wagroups::sandbox::SimulatorOptions;
using wagroups_test::Gate;
using wagroups_test::LoopbackServer;
using wagroups_test::closed_loopback_port;

namespace {

constexpr const char* kSecret = "sandbox-e2e-app-secret-7f3a";
constexpr const char* kToken = "EAAGsandboxE2Etoken0123456789";

SimulatorOptions simulator_options() {
  SimulatorOptions o;
  o.app_secret = kSecret;
  o.access_token = kToken;  // the Authorization header must survive the trip through httplib
  return o;
}

// --- A webhook endpoint ---------------------------------------------------------------------

struct Received {
  std::string body;
  std::string signature;
  std::string content_type;
  int answered = 0;
  bool verified = false;
  std::optional<wagroups::WebhookBatch> batch;  // when verified and parsed
};

// Verifies and parses every POST; answers with the scripted statuses first, then 200 (or blocks
// on `gate` when `block` is set).
class WebhookEndpoint {
 public:
  explicit WebhookEndpoint(std::string secret = kSecret) : verifier_(secret) {
    server_->Post("/hooks", [this](const httplib::Request& req, httplib::Response& res) {
      arrivals_.fetch_add(1);
      if (block_) gate_.wait(30s);
      Received r;
      r.body = req.body;
      r.signature = req.get_header_value("X-Hub-Signature-256");
      r.content_type = req.get_header_value("Content-Type");
      r.verified = verifier_.verify(r.body, r.signature).ok();
      if (r.verified) {
        auto parsed = parser_.parse(r.body);
        if (parsed) r.batch = std::move(*parsed);
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        r.answered = script_.empty() ? 200 : script_.front();
        if (!script_.empty()) script_.erase(script_.begin());
        received_.push_back(r);
      }
      changed_.notify_all();
      res.status = r.answered;
      res.set_content(r.answered == 200 ? "ok" : "try later", "text/plain");
    });
    server_.on_stop([this] { gate_.open(); });
    server_.start();
  }

  /// The next POSTs are answered with these statuses, in order.
  void script(std::vector<int> statuses) {
    std::lock_guard<std::mutex> lock(mutex_);
    script_ = std::move(statuses);
  }
  /// Handlers hold every POST (up to 30 s, released when the endpoint stops).
  void block() { block_ = true; }
  void stop() { server_.stop(); }

  // The query must reach the endpoint; it stays out of the sandbox's logs.
  std::string url() const { return server_.url("/hooks?token=endpoint-query-secret"); }

  /// POSTs that reached the handler (blocked ones included).
  int arrivals() const { return arrivals_.load(); }

  std::vector<Received> received() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return received_;
  }
  bool wait_for_posts(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return received_.size() >= n; });
  }
  /// Every event from the POSTs answered 200, in arrival order.
  std::vector<wagroups::WebhookEvent> events() const {
    std::vector<wagroups::WebhookEvent> out;
    for (const auto& r : received())
      if (r.answered == 200 && r.batch)
        for (const auto& e : r.batch->events) out.push_back(e);
    return out;
  }
  template <typename Event>
  std::vector<Event> events_of() const {
    std::vector<Event> out;
    for (const auto& e : events())
      if (const auto* typed = std::get_if<Event>(&e)) out.push_back(*typed);
    return out;
  }

 private:
  Gate gate_;  // before the server: handler threads may be waiting on it
  std::atomic<bool> block_{false};
  std::atomic<int> arrivals_{0};
  wagroups::SignatureVerifier verifier_;
  wagroups::WebhookParser parser_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<int> script_;
  std::vector<Received> received_;
  LoopbackServer server_;  // last: stopped (and its handlers joined) before the rest goes
};

// --- Helpers ----------------------------------------------------------------------------------

std::unique_ptr<SandboxServer> start_server(Simulator& sim, ServerOptions options = {}) {
  wagroups_test::prepare_process_for_loopback();
  auto started = SandboxServer::start(sim, std::move(options));
  if (!started) FAIL("SandboxServer::start: " << started.error().to_string());
  return std::move(*started);
}

ServerOptions with_webhooks(const WebhookEndpoint& endpoint) {
  ServerOptions o;
  o.webhook_url = endpoint.url();
  o.webhook_delay = 5ms;
  return o;
}

wagroups::ClientOptions client_options(const SandboxServer& server, const Simulator& sim) {
  wagroups::ClientOptions o;
  o.base_url = server.base_url();
  o.allow_insecure_http = true;  // the sandbox server speaks plain HTTP on loopback
  o.access_token = kToken;
  o.phone_number_id = sim.options().phone_number_id;
  wagroups::CurlTransportOptions transport;
  transport.proxy = "";  // loopback only, whatever the environment says
  o.transport = wagroups::make_curl_transport(transport);
  o.request_timeout = 10s;
  return o;
}

// A small valid JPEG: SOI, APP0/JFIF, an APP1 whose payload looks like multipart framing (CRLF,
// "--", NUL, 0xFF), a baseline frame header of `side` x `side`, EOI.
std::string make_jpeg(unsigned side) {
  const std::string multipart_lookalike("\r\n--boundary\r\nContent-Disposition: x\r\n\r\n\0\xff\xfe--\r\n", 48);
  return wagroups_test::jpeg::make_jpeg(side, side, wagroups_test::jpeg::kSof0, /*with_dht=*/false,
                                        multipart_lookalike);
}

// Base64 (standard, padded) of the SHA-256 of `bytes`: how Meta reports a profile picture's hash.
std::string sha256_base64(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  REQUIRE(EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr) == 1);
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&out[0]), digest, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Creates a group and waits for its group_create webhook; returns the group id.
std::string create_group(const wagroups::Client& client, SandboxServer& server,
                         const WebhookEndpoint& endpoint, const std::string& subject) {
  wagroups::CreateGroupRequest request;
  request.subject = subject;
  auto created = client.create_group(request);
  if (!created) FAIL("create_group: " << created.error().to_string());
  REQUIRE(created->request_id);
  REQUIRE(server.wait_for_webhooks(10s));
  for (const auto& g : endpoint.events_of<wagroups::GroupCreated>())
    if (g.request_id == created->request_id) return g.group_id;
  FAIL("no group_create webhook for request " << *created->request_id);
  return {};
}

}  // namespace

TEST_CASE("sandbox server: create_group over CurlTransport, then its signed group_create webhook",
          "[integration][sandbox][concurrent]") {
  Simulator sim(simulator_options());
  WebhookEndpoint endpoint;
  auto server = start_server(sim, with_webhooks(endpoint));
  CHECK_THAT(server->base_url(), Catch::Matchers::StartsWith("http://127.0.0.1:"));
  CHECK(server->base_url() == "http://127.0.0.1:" + std::to_string(server->port()));
  wagroups::Client client(client_options(*server, sim));

  wagroups::CreateGroupRequest request;
  request.subject = "Order #1042";
  request.description = "Delivery question";
  auto created = client.create_group(request);
  REQUIRE(created.ok());
  REQUIRE(created->request_id);

  REQUIRE(server->wait_for_webhooks(10s));
  CHECK(server->webhooks_delivered() == 1);
  const auto received = endpoint.received();
  REQUIRE(received.size() == 1);
  CHECK(received[0].verified);
  CHECK(received[0].content_type == "application/json");
  CHECK(received[0].signature == wagroups::SignatureVerifier(kSecret).sign(received[0].body));
  REQUIRE(received[0].batch);
  REQUIRE(received[0].batch->events.size() == 1);
  const auto* group = std::get_if<wagroups::GroupCreated>(&received[0].batch->events[0]);
  REQUIRE(group != nullptr);
  CHECK(group->request_id == created->request_id);
  CHECK(group->subject == std::optional<std::string>("Order #1042"));
  CHECK(group->context.phone_number_id == sim.options().phone_number_id);
  REQUIRE(group->invite_link);
  CHECK(sim.group(group->group_id).has_value());
  CHECK(sim.pending_webhooks() == 0);
}

TEST_CASE("sandbox server: list, info and settings round trip, with a multipart profile picture",
          "[integration][sandbox][concurrent]") {
  Simulator sim(simulator_options());
  WebhookEndpoint endpoint;
  auto server = start_server(sim, with_webhooks(endpoint));
  wagroups::Client client(client_options(*server, sim));

  const std::string first = create_group(client, *server, endpoint, "Returns desk");
  const std::string second = create_group(client, *server, endpoint, "Billing");

  auto listed = client.list_all_groups();
  REQUIRE(listed.ok());
  std::vector<std::string> ids;
  for (const auto& g : *listed) ids.push_back(g.id);
  CHECK(std::find(ids.begin(), ids.end(), first) != ids.end());
  CHECK(std::find(ids.begin(), ids.end(), second) != ids.end());

  wagroups::UpdateGroupSettingsRequest update;
  update.group_id = first;
  update.subject = "Returns desk (EU)";
  update.description = "Line one\r\nline two -- with dashes";
  const std::string jpeg = make_jpeg(256);
  update.profile_picture = wagroups::ProfilePicture{jpeg, "desk.jpg"};
  auto updated = client.update_group_settings(update);
  REQUIRE(updated.ok());
  REQUIRE(server->wait_for_webhooks(10s));

  const auto settings = endpoint.events_of<wagroups::GroupSettingsUpdated>();
  // Two requests (issue 10 item 3): subject/description as JSON, then the picture as multipart.
  REQUIRE(settings.size() == 2);
  CHECK(settings[0].group_id == first);
  CHECK(settings[0].all_succeeded());
  REQUIRE(settings[0].group_subject);
  CHECK(settings[0].group_subject->text == std::optional<std::string>("Returns desk (EU)"));
  CHECK(settings[1].all_succeeded());
  REQUIRE(settings[1].profile_picture);
  CHECK(settings[1].profile_picture->succeeded());
  // The simulator hashed the file part it received: the upload crossed httplib byte for byte.
  CHECK(settings[1].profile_picture->sha256 == std::optional<std::string>(sha256_base64(jpeg)));
  wagroups::GetGroupInfoRequest info_request;
  info_request.group_id = first;
  auto info = client.get_group_info(info_request);
  REQUIRE(info.ok());
  CHECK(info->id == first);
  CHECK(info->subject == std::optional<std::string>("Returns desk (EU)"));
  CHECK(info->description == std::optional<std::string>("Line one\r\nline two -- with dashes"));
  CHECK(info->total_participant_count == std::optional<std::int64_t>(0));
  CHECK(info->suspended == std::optional<bool>(false));
}

TEST_CASE("sandbox server: 131208 with Retry-After reaches the client through CurlTransport",
          "[integration][sandbox][concurrent]") {
  // The simulator's clock drives its rate window; the client's sleeper records each wait and
  // moves that clock on instead of sleeping.
  auto now = std::make_shared<std::atomic<std::int64_t>>(1'700'000'000'000);  // ms since epoch
  SimulatorOptions options = simulator_options();
  options.group_ops_per_window = 1;
  options.rate_window = 30s;
  options.clock = [now] {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(now->load()));
  };
  Simulator sim(options);
  WebhookEndpoint endpoint;
  auto server = start_server(sim, with_webhooks(endpoint));

  wagroups::testing::RecordingSleeper sleeper;
  wagroups::ClientOptions client_opts = client_options(*server, sim);
  client_opts.sleeper = [recorder = sleeper.as_sleeper(), now](std::chrono::milliseconds d) {
    recorder(d);
    now->fetch_add(d.count());
  };
  client_opts.random = [] { return 0.0; };
  client_opts.clock = options.clock;
  wagroups::Client client(client_opts);

  const std::string group = create_group(client, *server, endpoint, "Rate limited");  // the one op

  SECTION("retries off: the typed error carries the code, the status and Retry-After") {
    wagroups::CallOptions once;
    once.retry = wagroups::RetryOptions{};
    once.retry->max_attempts = 1;
    auto link = client.get_invite_link(group, once);
    REQUIRE_FALSE(link.ok());
    const auto& e = link.error();
    CHECK(e.code == ErrorCode::graph_api);
    CHECK(e.http_status == 429);
    CHECK(e.graph_code() == wagroups::graph_codes::group_rate_limit);
    CHECK(e.is_rate_limited());
    CHECK(e.is_retryable());
    CHECK(e.attempts == 1);
    REQUIRE(e.retry_after);
    CHECK(*e.retry_after > 0ms);
    CHECK(*e.retry_after <= 30s);
    CHECK(sleeper.delays().empty());
  }

  SECTION("retries on: the client waits out Retry-After (on its sleeper) and succeeds") {
    auto link = client.get_invite_link(group);
    if (!link) FAIL(link.error().to_string());
    CHECK_THAT(link->invite_link, Catch::Matchers::StartsWith("https://chat.whatsapp.com/"));
    const auto delays = sleeper.delays();
    REQUIRE(delays.size() == 1);
    CHECK(delays[0] > 0ms);
    CHECK(delays[0] <= 30s);
  }
}

TEST_CASE("sandbox server: a webhook answered 500 twice is delivered on the third POST",
          "[integration][sandbox][concurrent]") {
  Simulator sim(simulator_options());
  WebhookEndpoint endpoint;
  endpoint.script({500, 503});
  auto server = start_server(sim, with_webhooks(endpoint));
  wagroups::Client client(client_options(*server, sim));

  const auto started = std::chrono::steady_clock::now();
  const std::string group = create_group(client, *server, endpoint, "Flaky endpoint");
  const auto took = std::chrono::steady_clock::now() - started;

  const auto received = endpoint.received();
  REQUIRE(received.size() == 3);
  CHECK(received[0].answered == 500);
  CHECK(received[1].answered == 503);
  CHECK(received[2].answered == 200);
  for (const auto& r : received) {
    CHECK(r.verified);
    CHECK(r.body == received[0].body);  // the same delivery, byte for byte
    CHECK(r.signature == received[0].signature);
  }
  CHECK(server->webhooks_delivered() == 1);
  CHECK(endpoint.events_of<wagroups::GroupCreated>().size() == 1);
  CHECK(took < 5s);  // the backoff is short
}

namespace {
// Captures std::cerr while alive (declare it before the server, so that the server's threads are
// joined before it is restored).
class CerrCapture {
 public:
  CerrCapture() : old_(std::cerr.rdbuf(buffer_.rdbuf())) {}
  ~CerrCapture() { std::cerr.rdbuf(old_); }
  std::string text() const { return buffer_.str(); }

 private:
  std::ostringstream buffer_;
  std::streambuf* old_;
};
}  // namespace

TEST_CASE("sandbox server: a webhook still refused after the retries is dropped and logged",
          "[integration][sandbox][concurrent]") {
  Simulator sim(simulator_options());
  WebhookEndpoint endpoint;
  endpoint.script({500, 500, 500});
  CerrCapture log;
  std::string logged;
  std::size_t posts_first = 0, posts_total = 0, delivered_first = 0, delivered_total = 0;
  bool first_event = false, second_created = false;
  {
    ServerOptions options = with_webhooks(endpoint);
    options.webhook_retries = 2;
    auto server = start_server(sim, options);
    wagroups::Client client(client_options(*server, sim));

    wagroups::CreateGroupRequest request;
    request.subject = "Dropped";
    auto created = client.create_group(request);
    REQUIRE(created.ok());
    REQUIRE(server->wait_for_webhooks(10s));
    posts_first = endpoint.received().size();
    delivered_first = server->webhooks_delivered();
    first_event = !endpoint.events().empty();

    // The queue moves on: the next webhook is delivered.
    request.subject = "Delivered";
    auto next = client.create_group(request);
    REQUIRE(next.ok());
    REQUIRE(server->wait_for_webhooks(10s));
    for (const auto& g : endpoint.events_of<wagroups::GroupCreated>())
      second_created = second_created || g.request_id == next->request_id;
    posts_total = endpoint.received().size();
    delivered_total = server->webhooks_delivered();
    server.reset();
    logged = log.text();
  }
  INFO("stderr: " << logged);
  CHECK(posts_first == 3);  // 1 + 2 retries
  CHECK(delivered_first == 0);
  CHECK_FALSE(first_event);
  CHECK(second_created);
  CHECK(posts_total == 4);
  CHECK(delivered_total == 1);
  CHECK_THAT(logged, ContainsSubstring("dropped"));
  CHECK_THAT(logged, ContainsSubstring("/hooks"));
  CHECK_THAT(logged, ContainsSubstring("HTTP 500"));
  CHECK_THAT(logged, ContainsSubstring("3 attempts"));
  CHECK_THAT(logged, !ContainsSubstring("endpoint-query-secret"));
  CHECK_THAT(logged, !ContainsSubstring(kSecret));
  CHECK_THAT(logged, !ContainsSubstring("sha256="));
}

TEST_CASE("sandbox server: start refuses a host that is not a loopback address",
          "[integration][sandbox]") {
  Simulator sim(simulator_options());
  for (const char* host : {"0.0.0.0", "192.0.2.10", "example.com", "", "::", "127.0.0.1 "}) {
    ServerOptions options;
    options.host = host;
    auto started = SandboxServer::start(sim, options);
    REQUIRE_FALSE(started.ok());
    CHECK(started.error().code == ErrorCode::invalid_argument);
    CHECK(started.error().field == "host");
  }

  ServerOptions localhost;
  localhost.host = "localhost";
  auto server = start_server(sim, localhost);
  CHECK(server->base_url() == "http://127.0.0.1:" + std::to_string(server->port()));
}

TEST_CASE("sandbox server: other refused options", "[integration][sandbox]") {
  Simulator sim(simulator_options());
  ServerOptions options;
  SECTION("port out of range") {
    options.port = 70000;
    auto started = SandboxServer::start(sim, options);
    REQUIRE_FALSE(started.ok());
    CHECK(started.error().field == "port");
  }
  SECTION("webhook URL that is not http(s)") {
    options.webhook_url = "ftp://127.0.0.1/hooks";
    auto started = SandboxServer::start(sim, options);
    REQUIRE_FALSE(started.ok());
    CHECK(started.error().field == "webhook_url");
  }
  SECTION("negative retries") {
    options.webhook_retries = -1;
    auto started = SandboxServer::start(sim, options);
    REQUIRE_FALSE(started.ok());
    CHECK(started.error().field == "webhook_retries");
  }
}

TEST_CASE("sandbox server: a port in use is a transport error naming the address",
          "[integration][sandbox]") {
  Simulator sim(simulator_options());
  ServerOptions fixed;
  fixed.port = closed_loopback_port();
  auto first = start_server(sim, fixed);
  CHECK(first->port() == fixed.port);

  auto second = SandboxServer::start(sim, fixed);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == ErrorCode::transport);
  CHECK_THAT(second.error().message, ContainsSubstring("127.0.0.1:" + std::to_string(fixed.port)));
}

TEST_CASE("sandbox server: ::1 when the host has IPv6 loopback", "[integration][sandbox]") {
  Simulator sim(simulator_options());
  ServerOptions options;
  options.host = "::1";
  auto started = SandboxServer::start(sim, options);
  if (!started) {
    CHECK(started.error().code == ErrorCode::transport);
    SKIP("no IPv6 loopback here: " << started.error().message);
  }
  auto& server = *started;
  CHECK(server->base_url() == "http://[::1]:" + std::to_string(server->port()));
  wagroups::Client client(client_options(*server, sim));
  auto listed = client.list_groups();
  if (!listed) FAIL(listed.error().to_string());
  CHECK(listed->groups.empty());
}

TEST_CASE("sandbox server: webhooks of simulated people are delivered without a Graph call",
          "[integration][sandbox][concurrent]") {
  Simulator sim(simulator_options());
  WebhookEndpoint endpoint;
  auto server = start_server(sim, with_webhooks(endpoint));
  wagroups::Client client(client_options(*server, sim));
  const std::string group = create_group(client, *server, endpoint, "Joiners");
  auto link = client.get_invite_link(group);
  REQUIRE(link.ok());

  wagroups::sandbox::Person ana;
  ana.phone = "15550123001";
  ana.user_id = "US.1001";
  ana.name = "Ana";
  REQUIRE(sim.join_by_link(link->invite_link, ana).ok());

  // Picked up by the delivery thread on its own, not only by wait_for_webhooks.
  REQUIRE(endpoint.wait_for_posts(2, 10s));
  REQUIRE(server->wait_for_webhooks(10s));
  const auto added = endpoint.events_of<wagroups::ParticipantsAdded>();
  REQUIRE(added.size() == 1);
  CHECK(added[0].group_id == group);
  REQUIRE(added[0].added_participants.size() == 1);
  CHECK(added[0].added_participants[0].wa_id == std::optional<std::string>("15550123001"));
}

TEST_CASE("sandbox server: without a webhook URL deliveries stay queued in the simulator",
          "[integration][sandbox][concurrent]") {
  Simulator sim(simulator_options());
  auto server = start_server(sim);
  wagroups::Client client(client_options(*server, sim));

  wagroups::CreateGroupRequest request;
  request.subject = "Queued";
  auto created = client.create_group(request);
  REQUIRE(created.ok());
  CHECK(sim.pending_webhooks() == 1);
  CHECK_FALSE(server->wait_for_webhooks(0ms));
  CHECK(server->webhooks_delivered() == 0);

  const auto queued = sim.take_webhooks();
  REQUIRE(queued.size() == 1);
  CHECK(wagroups::verify_signature(queued[0].body, queued[0].signature, kSecret).ok());
  CHECK(server->wait_for_webhooks(0ms));
}

TEST_CASE("sandbox server: unknown paths get a Graph error envelope; headers pass through",
          "[integration][sandbox][concurrent]") {
  Simulator sim(simulator_options());
  auto server = start_server(sim);
  wagroups::CurlTransportOptions topts;
  topts.proxy = "";
  auto transport = wagroups::make_curl_transport(topts);

  wagroups::HttpRequest unknown;
  unknown.url = server->base_url() + "/v23.0/no/such/edge?x=%2F";
  unknown.headers.emplace_back("Authorization", std::string("Bearer ") + kToken);
  auto answered = transport->send(unknown);
  REQUIRE(answered.ok());
  CHECK(answered->status == 400);  // as Graph answers an unsupported request (code 100, subcode 33)
  CHECK_THAT(answered->body, ContainsSubstring("\"error\""));
  REQUIRE(answered->header("Content-Type"));
  CHECK_THAT(std::string(*answered->header("Content-Type")), ContainsSubstring("json"));

  // The simulator requires the token: a wrong one is refused (Graph code 190).
  wagroups::HttpRequest wrong;
  wrong.url = server->base_url() + "/v23.0/" + sim.options().phone_number_id + "/groups";
  wrong.headers.emplace_back("Authorization", "Bearer not-the-token");
  auto refused = transport->send(wrong);
  REQUIRE(refused.ok());
  CHECK(refused->status >= 400);
  CHECK_THAT(refused->body, ContainsSubstring("190"));
}

TEST_CASE("sandbox server: concurrent clients each get their own group_create webhook",
          "[integration][sandbox][concurrent]") {
  Simulator sim(simulator_options());
  WebhookEndpoint endpoint;
  auto server = start_server(sim, with_webhooks(endpoint));
  wagroups::Client client(client_options(*server, sim));

  constexpr int kThreads = 4;
  constexpr int kEach = 5;
  std::mutex mutex;
  std::vector<std::string> request_ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        wagroups::CreateGroupRequest request;
        request.subject = "Parallel " + std::to_string(t) + "-" + std::to_string(i);
        auto created = client.create_group(request);
        std::lock_guard<std::mutex> lock(mutex);
        request_ids.push_back(created && created->request_id ? *created->request_id : "<failed>");
      }
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(server->wait_for_webhooks(20s));
  CHECK(server->webhooks_delivered() == kThreads * kEach);

  std::vector<std::string> seen;
  for (const auto& g : endpoint.events_of<wagroups::GroupCreated>()) seen.push_back(*g.request_id);
  std::sort(seen.begin(), seen.end());
  std::sort(request_ids.begin(), request_ids.end());
  CHECK(seen == request_ids);
  for (const auto& r : endpoint.received()) CHECK(r.verified);
}

TEST_CASE("sandbox server: stop and the destructor do not hang on pending webhooks",
          "[integration][sandbox][concurrent]") {
  Simulator sim(simulator_options());
  WebhookEndpoint endpoint;

  SECTION("a POST in flight to an endpoint that never answers, more queued behind it") {
    endpoint.block();
    auto server = start_server(sim, with_webhooks(endpoint));
    {
      wagroups::Client client(client_options(*server, sim));  // gone before stop: no idle connection
      for (int i = 0; i < 3; ++i) {
        wagroups::CreateGroupRequest request;
        request.subject = "Pending " + std::to_string(i);
        REQUIRE(client.create_group(request).ok());
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (endpoint.arrivals() < 1 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    REQUIRE(endpoint.arrivals() == 1);
    CHECK_FALSE(server->wait_for_webhooks(50ms));

    const auto started = std::chrono::steady_clock::now();
    server->stop();
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(took < 2s);
    server->stop();  // idempotent
    CHECK(server->webhooks_delivered() == 0);

    // Stopped means stopped: nothing answers on the port any more.
    wagroups::CurlTransportOptions topts;
    topts.proxy = "";
    wagroups::HttpRequest probe;
    probe.url = server->base_url() + "/v23.0/" + sim.options().phone_number_id + "/groups";
    auto refused = wagroups::make_curl_transport(topts)->send(probe);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::transport);
  }

  SECTION("webhooks waiting out a long delay, destroyed with a client still connected") {
    ServerOptions options = with_webhooks(endpoint);
    options.webhook_delay = 30s;
    auto server = start_server(sim, options);
    wagroups::Client client(client_options(*server, sim));
    for (int i = 0; i < 3; ++i) {
      wagroups::CreateGroupRequest request;
      request.subject = "Delayed " + std::to_string(i);
      REQUIRE(client.create_group(request).ok());
    }
    const auto started = std::chrono::steady_clock::now();
    server.reset();
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(took < 3s);  // an idle kept-alive connection holds a worker up to 1 s
    CHECK(endpoint.arrivals() == 0);
  }
}
