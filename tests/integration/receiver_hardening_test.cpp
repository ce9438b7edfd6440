// issue 10 item 8: the receiver example against hostile HTTP clients (hostile_http.hpp), the same
// scenarios as `webhook serve`: it uses the same guard (src/http/httplib_server_guard.hpp).

#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "hostile_http.hpp"
#include "subprocess.hpp"
#include "webhook_bodies.hpp"

using namespace std::chrono_literals;

namespace {

const std::string kSecret = "receiver-hardening-secret-2Wq";

class Receiver {
 public:
  explicit Receiver(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{WAGROUPS_RECEIVER_PATH, "--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<wagroups_test::ChildProcess>(
        args, wagroups_test::EnvChanges{{"WAGROUPS_APP_SECRET", kSecret}, {"WAGROUPS_VERIFY_TOKEN", "vt"}});
    const auto line = process_->read_line(10s);
    INFO(process_->err());
    REQUIRE(line);
    port_ = std::stoi(*line);
  }
  ~Receiver() {
    process_->send_signal(SIGTERM);
    process_->wait(10s);
  }
  int port() const { return port_; }
  int pid() const { return process_->pid(); }
  int post_signed() const { return wagroups_test::post_signed_webhook(port_, kSecret); }
  wagroups_test::ChildProcess& process() { return *process_; }

 private:
  std::unique_ptr<wagroups_test::ChildProcess> process_;
  int port_ = 0;
};

}  // namespace

TEST_CASE(
    "issue10 item 8: the receiver refuses chunked (411), length-less (411), compressed (415) and oversized (413) "
    "bodies before reading them",
    "[receiver][issue10]") {
  Receiver receiver({"--max-body-bytes", "1024"});
  const auto normal = [&] { return receiver.post_signed(); };
  wagroups_test::check_chunked_post_refused(receiver.port(), receiver.pid(), "/webhook", normal);
  wagroups_test::check_lengthless_post_refused(receiver.port(), "/webhook");
  wagroups_test::check_compressed_post_refused(receiver.port(), "/webhook", normal);
  wagroups_test::check_declared_length_refused(receiver.port(), "/webhook", 1024);
  CHECK(receiver.post_signed() == 200);
}

TEST_CASE("issue10 item 8: a second receiver on a port in use exits 1 instead of sharing it", "[receiver][issue10]") {
  Receiver first;
  const auto second = wagroups_test::run_process({WAGROUPS_RECEIVER_PATH, "--port", std::to_string(first.port())}, {},
                                                 {{"WAGROUPS_APP_SECRET", kSecret}}, 15s);
  INFO(second.err);
  CHECK_FALSE(second.timed_out);
  CHECK(second.exit_code == 1);
  CHECK(second.err.find("in use") != std::string::npos);
  CHECK(first.post_signed() == 200);
}

TEST_CASE("issue10 item 8: slow clients on every worker do not starve a signed POST to the receiver",
          "[receiver][issue10]") {
  Receiver receiver({"--request-timeout", "2"});
  wagroups_test::check_slow_clients_do_not_starve(receiver.port(), "/webhook", 12,
                                                  [&] { return receiver.post_signed(); });
}

TEST_CASE(
    "issue10 item 8: the receiver closes after httplib's own 414, refuses headers over 64 KiB with 400, and idle "
    "or silent connections do not starve it",
    "[receiver][issue10]") {
  Receiver receiver;
  const auto normal = [&] { return receiver.post_signed(); };
  wagroups_test::check_early_error_closes(receiver.port(), "/webhook", normal);
  wagroups_test::check_header_flood_refused(receiver.port(), "/webhook", normal);
  wagroups_test::check_idle_and_silent_connections_do_not_starve(receiver.port(), "/webhook", normal);
  CHECK(receiver.post_signed() == 200);
}
