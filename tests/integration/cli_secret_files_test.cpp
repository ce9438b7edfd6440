// issue 10 item 11: secrets read from files (`--access-token-file`, `--app-secret-file`) besides
// the environment: one trailing newline dropped; empty, oversized, unreadable files and files with
// other control characters refused, and the secret never shown on stdout or stderr.

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "cli_test_support.hpp"
#include "loopback_server.hpp"
#include "webhook_bodies.hpp"

#include <wagroups/sandbox/server.hpp>
#include <wagroups/sandbox/simulator.hpp>

using namespace wagroups_cli_test;
using namespace std::chrono_literals;

namespace {

std::string write_secret(const TempDir& dir, const std::string& name, const std::string& contents, mode_t mode = 0600) {
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << contents;
  ::chmod(path.c_str(), mode);
  return path;
}

void check_never_shown(const ProcessResult& r, const std::string& secret) {
  CHECK_FALSE(contains(r.out, secret));
  CHECK_FALSE(contains(r.err, secret));
}

// The port a `webhook serve` started with `--port 0` announces on its first line.
int start_serve(wagroups_test::ChildProcess& serve) {
  const auto first = serve.read_line(10s);
  INFO(serve.err());
  REQUIRE(first);
  return std::stoi(first->substr(first->rfind(':') + 1));
}

}  // namespace

TEST_CASE(
    "issue10 item 11: --access-token-file authenticates against the sandbox server; the file wins over the "
    "environment",
    "[cli][issue10]") {
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  const std::string token = "EAAfile-token-never-shown-4Kx";
  wagroups::sandbox::SimulatorOptions sim_options;
  sim_options.access_token = token;  // the simulator refuses any other Bearer token
  wagroups::sandbox::Simulator sim(sim_options);
  auto started = wagroups::sandbox::SandboxServer::start(sim);
  REQUIRE(started);
  auto& server = *started;
  const std::string phone = sim.options().phone_number_id;
  const std::vector<std::string> graph{"--base-url", server->base_url(), "--phone-number-id", phone};

  const std::string file = write_secret(dir, "token", token + "\n");
  auto args = std::vector<std::string>{"groups", "list", "--json", "--access-token-file", file};
  args.insert(args.end(), graph.begin(), graph.end());
  const auto listed = cli(dir, args, {{"WAGROUPS_ACCESS_TOKEN", std::string("EAAwrong-env-token")}});
  INFO(listed.err);
  CHECK(listed.exit_code == exit_codes::ok);
  CHECK(contains(listed.err, "using the Graph API"));
  CHECK(contains(listed.err, "--access-token-file"));
  CHECK(single_json(listed).HasMember("groups"));
  check_never_shown(listed, token);

  // A file with another token: the simulator refuses it, and neither token is printed.
  const std::string wrong_token = "EAAwrong-file-token-Zz9";
  args[4] = write_secret(dir, "wrong", wrong_token);
  const auto refused = cli(dir, args);
  INFO(refused.err);
  CHECK(refused.exit_code != exit_codes::ok);
  check_never_shown(refused, wrong_token);
  check_never_shown(refused, token);
}

TEST_CASE(
    "issue10 item 11: secret files that are empty, oversized, unreadable or hold a line break are refused "
    "without showing them",
    "[cli][issue10]") {
  TempDir dir;
  const std::string secret_like = "S3CR3T-never-shown-";
  struct Case {
    const char* name;
    std::string path;
    int exit_code;
    const char* says;
  };
  std::string big;
  while (big.size() <= 8 * 1024) big += secret_like;
  const std::vector<Case> cases = {
      {"empty", write_secret(dir, "empty", ""), exit_codes::usage, "is empty"},
      {"only a newline", write_secret(dir, "newline", "\n"), exit_codes::usage, "is empty"},
      {"over 8 KiB", write_secret(dir, "big", big), exit_codes::usage, "larger than 8192 bytes"},
      {"two lines", write_secret(dir, "lines", secret_like + "A\n" + secret_like + "B\n"), exit_codes::usage,
       "line break"},
      {"an escape", write_secret(dir, "escape", secret_like + "\x1b[2J"), exit_codes::usage, "control character"},
      {"missing", dir.file("no-such-file"), 1, "cannot open it"},
      {"a directory", dir.path(), 1, "cannot read it"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const std::vector<std::vector<std::string>> commands = {
        {"groups", "list", "--access-token-file", c.path, "--phone-number-id", "123"},
        {"groups", "list", "--app-secret-file", c.path},
        {"webhook", "parse", "--app-secret-file", c.path, "--signature", "sha256=00"},
        {"webhook", "serve", "--port", "0", "--app-secret-file", c.path, "--db", dir.file("t.db")},
    };
    for (const auto& command : commands) {
      INFO(command[0] + " " + command[1] + " " + command[2]);
      const auto r = cli(dir, command, {}, 15s);
      INFO(r.err);
      CHECK(r.exit_code == c.exit_code);
      CHECK(contains(r.err, c.says));
      CHECK(contains(r.err, c.path));
      CHECK(lines_of(r.err).size() == 1);
      check_never_shown(r, secret_like);
    }
  }
}

TEST_CASE("issue10 item 11: --app-secret-file verifies webhooks in webhook parse and webhook serve", "[cli][issue10]") {
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  const std::string secret = "app-secret-from-file-7Yd";
  const std::string file = write_secret(dir, "secret", secret + "\r\n");
  const auto& body = wagroups_test::kGroupCreatedBody;
  const std::string signature = wagroups_test::sign_body(body, secret);

  // parse: the file's secret checks the signature, and wins over the environment.
  const auto parsed = wagroups_test::run_process(
      {WAGROUPS_CLI_PATH, "webhook", "parse", "--app-secret-file", file, "--signature", signature}, body,
      cli_env(dir, {{"WAGROUPS_APP_SECRET", std::string("some-other-secret")}}));
  INFO(parsed.err);
  CHECK(parsed.exit_code == exit_codes::ok);
  CHECK(lines_of(parsed.out).size() == 1);
  const std::string other = write_secret(dir, "other", "not-the-app-secret-Q1");
  const auto mismatch = wagroups_test::run_process(
      {WAGROUPS_CLI_PATH, "webhook", "parse", "--app-secret-file", other, "--signature", signature}, body,
      cli_env(dir));
  CHECK(mismatch.exit_code == 3);
  check_never_shown(mismatch, "not-the-app-secret-Q1");
  // Both forms at once: a usage error.
  const auto both = cli(dir, {"webhook", "parse", "--app-secret", secret, "--app-secret-file", file});
  CHECK(both.exit_code == exit_codes::usage);

  // serve: a delivery signed with the file's secret is accepted.
  wagroups_test::ChildProcess serve(
      {WAGROUPS_CLI_PATH, "webhook", "serve", "--port", "0", "--app-secret-file", file, "--db", dir.file("t.db")},
      cli_env(dir));
  const int port = start_serve(serve);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(20, 0);
  const auto posted = client.Post("/webhook", {{"X-Hub-Signature-256", signature}}, body, "application/json");
  REQUIRE(posted);
  CHECK(posted->status == 200);
  serve.send_signal(SIGTERM);
  const auto stopped = serve.wait(10s);
  check_never_shown(stopped, secret);
}

TEST_CASE("issue10 item 11: a secret file others may read is used, with a warning", "[cli][issue10]") {
  TempDir dir;
  const std::string file = write_secret(dir, "open", "sandbox-signing-secret-3Lp\n", 0644);
  const auto r = cli(dir, {"groups", "list", "--app-secret-file", file});
  INFO(r.err);
  CHECK(r.exit_code == exit_codes::ok);
  CHECK(contains(r.err, "warning: --app-secret-file " + file + " is open to other users"));
  check_never_shown(r, "sandbox-signing-secret-3Lp");
}

TEST_CASE("issue10 item 11: --app-secret-file works while WAGROUPS_APP_SECRET is set; the file wins over it",
          "[cli][issue10]") {
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  const std::string secret = "file-secret-beats-env-5Rm";
  const std::string env_secret = "env-secret-loses-8Jv";
  const std::string file = write_secret(dir, "secret", secret + "\n");
  const EnvChanges with_env{{"WAGROUPS_APP_SECRET", env_secret}};

  // Commands on the sandbox (Session::open).
  const auto listed = cli(dir, {"groups", "list", "--app-secret-file", file}, with_env);
  INFO(listed.err);
  CHECK(listed.exit_code == exit_codes::ok);
  const auto sandbox = cli(dir, {"sandbox", "webhooks", "--app-secret-file", file}, with_env);
  INFO(sandbox.err);
  CHECK(sandbox.exit_code == exit_codes::ok);
  // The flag and the file together stay a usage error, with or without the variable.
  CHECK(cli(dir, {"groups", "list", "--app-secret", secret, "--app-secret-file", file}, with_env).exit_code ==
        exit_codes::usage);
  CHECK(cli(dir, {"webhook", "serve", "--port", "0", "--app-secret", secret, "--app-secret-file", file}, with_env)
            .exit_code == exit_codes::usage);

  // parse: the file's secret verifies, the variable's does not matter.
  const auto& body = wagroups_test::kGroupCreatedBody;
  const auto parsed = wagroups_test::run_process({WAGROUPS_CLI_PATH, "webhook", "parse", "--app-secret-file", file,
                                                  "--signature", wagroups_test::sign_body(body, secret)},
                                                 body, cli_env(dir, with_env));
  INFO(parsed.err);
  CHECK(parsed.exit_code == exit_codes::ok);

  // serve: starts (it used to exit with a usage error), and checks with the file's secret.
  wagroups_test::ChildProcess serve(
      {WAGROUPS_CLI_PATH, "webhook", "serve", "--port", "0", "--app-secret-file", file, "--db", dir.file("t.db")},
      cli_env(dir, with_env));
  const int port = start_serve(serve);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(20, 0);
  const auto good = client.Post("/webhook", {{"X-Hub-Signature-256", wagroups_test::sign_body(body, secret)}}, body,
                                "application/json");
  REQUIRE(good);
  CHECK(good->status == 200);
  const auto env_signed = client.Post("/webhook", {{"X-Hub-Signature-256", wagroups_test::sign_body(body, env_secret)}},
                                      body, "application/json");
  REQUIRE(env_signed);
  CHECK(env_signed->status == 401);
  serve.send_signal(SIGTERM);
  const auto stopped = serve.wait(10s);
  check_never_shown(stopped, secret);
  check_never_shown(stopped, env_secret);

  // Without the file the variable is still read (by hand now, no longer through CLI11).
  wagroups_test::ChildProcess from_env(
      {WAGROUPS_CLI_PATH, "webhook", "serve", "--port", "0", "--db", dir.file("t2.db")}, cli_env(dir, with_env));
  const auto line = from_env.read_line(10s);
  INFO(from_env.err());
  REQUIRE(line);
  httplib::Client second("127.0.0.1", std::stoi(line->substr(line->rfind(':') + 1)));
  second.set_read_timeout(20, 0);
  const auto env_ok = second.Post("/webhook", {{"X-Hub-Signature-256", wagroups_test::sign_body(body, env_secret)}},
                                  body, "application/json");
  REQUIRE(env_ok);
  CHECK(env_ok->status == 200);
  from_env.send_signal(SIGTERM);
  from_env.wait(10s);
}

TEST_CASE(
    "issue10 item 11: a FIFO without a writer as a secret file is refused at once, never waited on; a pipe with "
    "one is read",
    "[cli][issue10]") {
  TempDir dir;
  const std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);  // no writer: a blocking open would wait forever
  const std::vector<std::vector<std::string>> commands = {
      {"groups", "list", "--app-secret-file", fifo},
      {"groups", "list", "--access-token-file", fifo, "--phone-number-id", "123"},
      {"webhook", "parse", "--app-secret-file", fifo, "--signature", "sha256=00"},
      {"webhook", "serve", "--port", "0", "--app-secret-file", fifo, "--db", dir.file("t.db")},
  };
  for (const auto& command : commands) {
    INFO(command[0] + " " + command[1] + " " + command[2]);
    const auto r = cli(dir, command, {}, 10s);
    INFO(r.err);
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code == exit_codes::usage);
    CHECK(contains(r.err, "is empty (a pipe or FIFO nobody writes to)"));
    CHECK(contains(r.err, fifo));
  }

  // The same FIFO with a writer (as `<(pass show ...)` gives): read to its end.
  const std::string secret = "secret-through-a-pipe-6Hn";
  std::thread writer([&] {
    std::ofstream out(fifo, std::ios::binary);  // opens once the reader has
    out << secret << "\n";
  });
  const auto r = cli(dir, {"groups", "list", "--app-secret-file", fifo}, {}, 10s);
  const int release = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // a writer still waiting gets a reader
  writer.join();
  if (release >= 0) ::close(release);
  INFO(r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == exit_codes::ok);
  check_never_shown(r, secret);
}
