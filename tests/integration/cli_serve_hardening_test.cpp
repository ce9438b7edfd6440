// issue 10 item 8: `wagroups webhook serve` against hostile HTTP clients (tests/integration/
// hostile_http.hpp): chunked, length-less and compressed bodies refused before reading, a declared
// length over the limit, a second server on the same port, and slow clients that would otherwise
// hold every worker.

#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "cli_test_support.hpp"
#include "hostile_http.hpp"
#include "webhook_bodies.hpp"

using namespace wagroups_cli_test;
using namespace std::chrono_literals;

namespace {

const std::string kSecret = "serve-hardening-secret-8Tz";

class Serve {
 public:
  Serve(const TempDir& dir, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{WAGROUPS_CLI_PATH, "webhook", "serve", "--port",         "0",
                                  "--app-secret",    kSecret,   "--db",  dir.file("t.db"), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<wagroups_test::ChildProcess>(args, cli_env(dir));
    const auto first = process_->read_line(10s);
    INFO(process_->err());
    REQUIRE(first);
    port_ = static_cast<int>(integer(json_of(*first), "port"));
  }
  ~Serve() {
    process_->send_signal(SIGTERM);
    process_->wait(10s);
  }
  int port() const { return port_; }
  int pid() const { return process_->pid(); }
  int post_signed() const { return wagroups_test::post_signed_webhook(port_, kSecret); }

 private:
  std::unique_ptr<wagroups_test::ChildProcess> process_;
  int port_ = 0;
};

}  // namespace

TEST_CASE("issue10 item 8: webhook serve refuses a chunked body with 411 before reading it, and stays small",
          "[cli][issue10]") {
  TempDir dir;
  Serve serve(dir, {"--max-body-bytes", "1024"});
  wagroups_test::check_chunked_post_refused(serve.port(), serve.pid(), "/webhook", [&] { return serve.post_signed(); });
  wagroups_test::check_lengthless_post_refused(serve.port(), "/webhook");
  CHECK(serve.post_signed() == 200);
}

TEST_CASE("issue10 item 8: webhook serve refuses a compressed body with 415 and an oversized declared length with 413",
          "[cli][issue10]") {
  TempDir dir;
  Serve serve(dir, {"--max-body-bytes", "1024"});
  wagroups_test::check_compressed_post_refused(serve.port(), "/webhook", [&] { return serve.post_signed(); });
  wagroups_test::check_declared_length_refused(serve.port(), "/webhook", 1024);
  CHECK(serve.post_signed() == 200);
}

TEST_CASE("issue10 item 8: a second webhook serve on a port in use fails instead of sharing it", "[cli][issue10]") {
  TempDir dir;
  Serve first(dir);
  const auto second = cli(dir,
                          {"webhook", "serve", "--port", std::to_string(first.port()), "--app-secret", kSecret, "--db",
                           dir.file("second.db")},
                          {}, 15s);
  INFO(second.err);
  CHECK_FALSE(second.timed_out);
  CHECK(second.exit_code == 1);
  CHECK(contains(second.err, "127.0.0.1:" + std::to_string(first.port())));
  CHECK(contains(second.err, "in use"));
  CHECK(first.post_signed() == 200);  // the first one still has the port
}

TEST_CASE("issue10 item 8: slow clients on every worker do not starve a signed POST to webhook serve",
          "[cli][issue10]") {
  TempDir dir;
  Serve serve(dir, {"--request-timeout", "2", "--workers", "8"});
  // 8 workers; 12 slow connections take them all and queue 4 more.
  wagroups_test::check_slow_clients_do_not_starve(serve.port(), "/webhook", 12, [&] { return serve.post_signed(); });
}

TEST_CASE("issue10 item 8: webhook serve closes the connection after httplib's own 414, never answering its body",
          "[cli][issue10]") {
  TempDir dir;
  Serve serve(dir);
  wagroups_test::check_early_error_closes(serve.port(), "/webhook", [&] { return serve.post_signed(); });
}

TEST_CASE("issue10 item 8: webhook serve refuses headers over 64 KiB with 400 although its body limit is 1 MiB",
          "[cli][issue10]") {
  TempDir dir;
  Serve serve(dir);  // the default --max-body-bytes: 1 MiB
  wagroups_test::check_header_flood_refused(serve.port(), "/webhook", [&] { return serve.post_signed(); });
}

TEST_CASE("issue10 item 8: idle kept-alive and silent connections do not starve a signed POST to webhook serve",
          "[cli][issue10]") {
  TempDir dir;
  Serve serve(dir, {"--workers", "8"});  // as many idle connections as workers
  wagroups_test::check_idle_and_silent_connections_do_not_starve(serve.port(), "/webhook",
                                                                 [&] { return serve.post_signed(); });
  CHECK(serve.post_signed() == 200);
}
