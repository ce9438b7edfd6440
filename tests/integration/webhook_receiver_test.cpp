// The webhook receiver example, run as a process on an ephemeral loopback port: handshake,
// signed and refused POSTs, events on its stdout, and a clean stop on SIGTERM.
// The binary's path comes from the build (WAGROUPS_RECEIVER_PATH).

#include <httplib.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <string>

#include <catch2/catch_test_macros.hpp>

#include "subprocess.hpp"
#include "webhook_bodies.hpp"

using namespace std::chrono_literals;
using wagroups_test::sign_body;

namespace {

const std::string kSecret = "receiver-test-secret-M4kR8";
const std::string kVerifyToken = "receiver-verify-token-J2";

// The receiver on --port 0; its first stdout line is the port it bound.
class Receiver {
 public:
  explicit Receiver(std::vector<std::string> extra_args = {})
      : process_(args(std::move(extra_args)),
                 {{"WAGROUPS_APP_SECRET", kSecret}, {"WAGROUPS_VERIFY_TOKEN", kVerifyToken}}) {
    const auto line = process_.read_line(10s);
    INFO(process_.err());
    REQUIRE(line);
    port_ = std::stoi(*line);
    REQUIRE(port_ > 0);
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(5);
    c.set_read_timeout(10);
    c.set_write_timeout(10);
    return c;
  }

  httplib::Result post(const std::string& body, const std::optional<std::string>& signature,
                       const std::string& path = "/webhook") const {
    httplib::Headers headers;
    if (signature) headers.emplace("X-Hub-Signature-256", *signature);
    return client().Post(path.c_str(), headers, body, "application/json");
  }

  wagroups_test::ChildProcess& process() { return process_; }

 private:
  static std::vector<std::string> args(std::vector<std::string> extra) {
    std::vector<std::string> all = {WAGROUPS_RECEIVER_PATH, "--port", "0"};
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  }

  wagroups_test::ChildProcess process_;
  int port_ = 0;
};

}  // namespace

TEST_CASE("receiver: subscription handshake answers the challenge or 403", "[receiver]") {
  Receiver receiver;
  auto client = receiver.client();

  auto ok = client.Get(("/webhook?hub.mode=subscribe&hub.verify_token=" + kVerifyToken + "&hub.challenge=918273").c_str());
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(ok->body == "918273");

  auto wrong_token = client.Get("/webhook?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=918273");
  REQUIRE(wrong_token);
  CHECK(wrong_token->status == 403);
  CHECK(wrong_token->body.find("918273") == std::string::npos);

  auto wrong_mode =
      client.Get(("/webhook?hub.mode=unsubscribe&hub.verify_token=" + kVerifyToken + "&hub.challenge=1").c_str());
  REQUIRE(wrong_mode);
  CHECK(wrong_mode->status == 403);
}

TEST_CASE("receiver: signed POSTs get 200 and their events are dispatched", "[receiver]") {
  Receiver receiver;

  auto created = receiver.post(wagroups_test::kGroupCreatedBody, sign_body(wagroups_test::kGroupCreatedBody, kSecret));
  REQUIRE(created);
  CHECK(created->status == 200);
  auto line = receiver.process().read_line_containing("group_created", 10s);
  REQUIRE(line);
  CHECK(line->find("group_id=" + wagroups_test::kGroupId) != std::string::npos);
  CHECK(line->find("request_id=REQ-7F3A") != std::string::npos);

  // Uppercase hex is as good as lowercase.
  auto message = receiver.post(wagroups_test::kGroupMessageBody,
                               sign_body(wagroups_test::kGroupMessageBody, kSecret, /*uppercase=*/true));
  REQUIRE(message);
  CHECK(message->status == 200);
  line = receiver.process().read_line_containing("group_message ", 10s);
  REQUIRE(line);
  CHECK(line->find("from=4915112345678") != std::string::npos);
  CHECK(line->find("text=where is my parcel") != std::string::npos);

  // Five events: on<GroupMessageReceived>, `otherwise` for the status, removal and join request,
  // on_unknown_field for account_update; in body order.
  auto mixed = receiver.post(wagroups_test::mixed_body(), sign_body(wagroups_test::mixed_body(), kSecret));
  REQUIRE(mixed);
  CHECK(mixed->status == 200);
  CHECK(receiver.process().read_line_containing("group_message ", 10s));
  line = receiver.process().read_line_containing("group_message_status", 10s);
  REQUIRE(line);
  CHECK(line->find("group_id=" + wagroups_test::kGroupId) != std::string::npos);
  CHECK(receiver.process().read_line_containing("participants_removed", 10s));
  CHECK(receiver.process().read_line_containing("join_request_created", 10s));
  line = receiver.process().read_line_containing("account_update", 10s);
  REQUIRE(line);
  CHECK(line->find("\"event\":\"VERIFIED_ACCOUNT\"") != std::string::npos);
}

TEST_CASE("receiver: bad signatures get 401, malformed bodies 400, oversized bodies 413", "[receiver]") {
  Receiver receiver({"--max-body-bytes", "4096"});
  const auto& body = wagroups_test::kGroupCreatedBody;

  auto unsigned_post = receiver.post(body, std::nullopt);
  REQUIRE(unsigned_post);
  CHECK(unsigned_post->status == 401);

  auto wrong_secret = receiver.post(body, sign_body(body, "not-the-secret"));
  REQUIRE(wrong_secret);
  CHECK(wrong_secret->status == 401);

  std::string tampered = body;
  tampered.replace(tampered.find("REQ-7F3A"), 8, "REQ-7F3B");
  auto tampered_post = receiver.post(tampered, sign_body(body, kSecret));
  REQUIRE(tampered_post);
  CHECK(tampered_post->status == 401);

  const std::string malformed = R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[}]})";
  auto malformed_post = receiver.post(malformed, sign_body(malformed, kSecret));
  REQUIRE(malformed_post);
  CHECK(malformed_post->status == 400);

  const std::string big = std::string(5000, ' ') + body;
  auto big_post = receiver.post(big, sign_body(big, kSecret));
  REQUIRE(big_post);
  CHECK(big_post->status == 413);

  auto other_path = receiver.post(body, sign_body(body, kSecret), "/elsewhere");
  REQUIRE(other_path);
  CHECK(other_path->status == 404);

  // Nothing refused reached the dispatcher; the next good body is the first event printed.
  auto good = receiver.post(body, sign_body(body, kSecret));
  REQUIRE(good);
  CHECK(good->status == 200);
  const auto first = receiver.process().read_line(10s);
  REQUIRE(first);
  CHECK(first->rfind("group_created ", 0) == 0);

  receiver.process().send_signal(SIGTERM);
  const auto result = receiver.process().wait(15s);
  CHECK(result.err.find(kSecret) == std::string::npos);
}

TEST_CASE("receiver: SIGTERM and SIGINT stop it cleanly", "[receiver]") {
  for (const int signal_number : {SIGTERM, SIGINT}) {
    INFO(signal_number);
    Receiver receiver;
    auto posted = receiver.post(wagroups_test::kGroupCreatedBody, sign_body(wagroups_test::kGroupCreatedBody, kSecret));
    REQUIRE(posted);
    CHECK(posted->status == 200);
    receiver.process().send_signal(signal_number);
    const auto result = receiver.process().wait(15s);
    INFO(result.err);
    CHECK_FALSE(result.timed_out);
    CHECK(result.exit_code == 0);
    // The batch accepted before the signal was processed before the exit.
    CHECK(result.out.find("group_created group_id=" + wagroups_test::kGroupId) != std::string::npos);
    CHECK(result.err.find("stopped") != std::string::npos);
  }
}

TEST_CASE("receiver: refuses to start without an app secret", "[receiver]") {
  const auto r = wagroups_test::run_process({WAGROUPS_RECEIVER_PATH, "--port", "0"}, {},
                                            {{"WAGROUPS_APP_SECRET", std::nullopt}}, 10s);
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.find("no app secret") != std::string::npos);
}
