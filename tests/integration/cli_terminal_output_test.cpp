// issue 10 item 12: participant-written text (a message, a member's name, a group subject) reaches
// the terminal with its control characters escaped: `webhook serve`'s change lines, `tickets list`
// and `tickets show`; JSON output stays valid JSON that carries the text faithfully.

#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "cli_test_support.hpp"
#include "loopback_server.hpp"
#include "webhook_bodies.hpp"

using namespace wagroups_cli_test;
using namespace std::chrono_literals;

namespace {

const std::string kSecret = "terminal-output-secret-6Rm";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// Raw bytes a terminal would act on: C0 controls but none at all here (lines end with '\n' only,
// which this looks at line by line), DEL, and C1 controls in UTF-8 (C2 80 to C2 9F).
bool has_raw_control(const std::string& line) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c < 0x20 || c == 0x7f) return true;
    if (c == 0xc2 && i + 1 < line.size() && static_cast<unsigned char>(line[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(line[i + 1]) <= 0x9f)
      return true;
  }
  return false;
}

void check_no_raw_controls(const std::string& out) {
  for (const auto& line : lines_of(out)) {
    INFO(line);
    CHECK_FALSE(has_raw_control(line));
  }
}

int post(int port, const std::string& body) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(20, 0);
  const auto r = client.Post("/webhook", {{"X-Hub-Signature-256", wagroups_test::sign_body(body, kSecret)}}, body,
                             "application/json");
  return r ? r->status : 0;
}

}  // namespace

TEST_CASE("issue10 item 12: control characters in participant text are escaped in human output", "[cli][issue10]") {
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  const std::string db = dir.file("tickets.db");
  // In the webhook's JSON: ESC [2J (clear screen), BEL, the C1 CSI (U+009B) both escaped and as raw
  // UTF-8, DEL, a newline and a tab.
  const std::string hostile_subject = R"(Case \u001b[2J\u0007 \u009b31m)";
  const std::string hostile_text =
      "pay now \\u001b[2J\\u0007\xc2\x9b"
      "1;31mX\\u007f\\nforged line\\tcol";
  const std::string hostile_name = R"(Eve\u001b]0;pwned\u0007)";
  const std::string created = replaced(wagroups_test::kGroupCreatedBody, "Case 5521: refund", hostile_subject);
  const std::string message =
      replaced(replaced(wagroups_test::kGroupMessageBody, "where is my parcel", hostile_text), "Dana R.", hostile_name);

  std::string serve_out;
  {
    wagroups_test::ChildProcess serve(
        {WAGROUPS_CLI_PATH, "webhook", "serve", "--port", "0", "--app-secret", kSecret, "--db", db}, cli_env(dir));
    const auto first = serve.read_line(10s);
    INFO(serve.err());
    REQUIRE(first);
    const int port = std::stoi(first->substr(first->rfind(':') + 1));
    CHECK(post(port, created) == 200);
    CHECK(post(port, message) == 200);
    serve.send_signal(SIGTERM);
    const auto stopped = serve.wait(10s);
    serve_out = stopped.out;
    check_no_raw_controls(stopped.err);
  }
  INFO(serve_out);
  check_no_raw_controls(serve_out);

  const auto listed = cli(dir, {"tickets", "list", "--db", db});
  INFO(listed.err);
  REQUIRE(listed.exit_code == exit_codes::ok);
  check_no_raw_controls(listed.out);
  CHECK(lines_of(listed.out).size() == 1);
  CHECK(contains(listed.out, "Case \\u001b[2J\\u0007 \\u009b31m"));

  const auto shown = cli(dir, {"tickets", "show", "T-REQ-7F3A", "--db", db});
  INFO(shown.out);
  REQUIRE(shown.exit_code == exit_codes::ok);
  check_no_raw_controls(shown.out);
  // The message stays on one line, every control visible as an escape.
  CHECK(contains(shown.out, "pay now \\u001b[2J\\u0007\\u009b1;31mX\\u007f\\nforged line\\tcol"));
  CHECK(contains(shown.out, "Eve\\u001b]0;pwned\\u0007"));
  for (const auto& line : lines_of(shown.out)) CHECK(line.rfind("forged line", 0) != 0);

  // JSON: one valid line, no raw control, and the text itself comes back whole.
  const auto json = cli(dir, {"tickets", "show", "T-REQ-7F3A", "--db", db, "--json"});
  REQUIRE(json.exit_code == exit_codes::ok);
  check_no_raw_controls(json.out);
  const auto ticket = single_json(json);
  CHECK((contains(json.out, "\\u001b[2J") || contains(json.out, "\\u001B[2J")));
  const std::string subject = str(ticket, "subject");
  CHECK(subject ==
        "Case \x1b[2J\x07 \xc2\x9b"
        "31m");
}
