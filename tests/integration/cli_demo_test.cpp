// `wagroups demo` as a process: the whole journey offline over loopback HTTP, within 30 s, with
// the key timeline lines and a closed final ticket; its temporary folder removed (or kept with
// --keep, then readable with `tickets show`).

#include <chrono>
#include <filesystem>
#include <string>

#include <catch2/catch_test_macros.hpp>

#include "cli_test_support.hpp"

using namespace wagroups_cli_test;

namespace {

std::size_t entries_in(const std::string& folder) {
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    (void)entry;
    ++n;
  }
  return n;
}

// The ticket store's path from the demo's header line "  tickets:    <path> (SQLite); ...".
std::string store_path(const std::string& out) {
  const std::string marker = "  tickets:    ";
  const auto at = out.find(marker);
  REQUIRE(at != std::string::npos);
  const auto end = out.find(" (SQLite)", at);
  REQUIRE(end != std::string::npos);
  return out.substr(at + marker.size(), end - at - marker.size());
}

}  // namespace

TEST_CASE("cli demo: the whole journey offline in under 30 s, ending with a closed ticket", "[cli][demo]") {
  TempDir dir;
  TempDir tmp;  // the demo's TMPDIR, so that its folder can be checked (and runs stay apart)
  const auto started = std::chrono::steady_clock::now();
  const auto r = cli(dir, {"demo"}, {{"TMPDIR", tmp.path()}}, std::chrono::seconds(30));
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(r.out);
  INFO(r.err);
  REQUIRE_FALSE(r.timed_out);
  REQUIRE(r.exit_code == 0);
  CHECK(took < std::chrono::seconds(30));
  CHECK(r.err.empty());

  // The journey, in order.
  const char* steps[] = {
      "agent-7     creates the group \"Order #1042: damaged parcels\" (join approval required)",
      "crm         ticket T-",
      "meta        webhook group_create: the group is live, invite link https://chat.whatsapp.com/",
      "agent-7     fetches the invite link",
      "agent-7     invites Ana, Ben and Carla by the template \"group_invite\" (1:1)",
      "meta        webhook 1:1 status read: invite to Carla",
      "Ana         opens the invite link",
      "meta        webhook join request from Ana",
      "meta        webhook join request from Ben",
      "agent-7     lists 2 join request(s) and approves Ana and Ben",
      "meta        webhook participants_add: Ana, Ben joined",
      "awaiting_first_join -> open",
      "agent-7     to the group: \"Hello Ana and Ben",
      "for Ana, Ben",
      "meta        webhook message from Ben: \"Same for mine, the lid is cracked.\"",
      "agent-7     lists 1 join request(s) and approves Carla",
      "meta        webhook message from Carla",
      "for Ana, Ben, Carla",
      "policy      no message for 31 minutes",
      "open -> resolved",
      "meta        webhook message from Ana: \"My tracking number",
      "resolved -> open",
      "open -> resolved",
      "resolved -> closed",
      "final ticket (from ",
      "[closed]",
      "demo OK in ",
  };
  std::size_t at = 0;
  for (const char* step : steps) {
    INFO(step);
    const auto found = r.out.find(step, at);
    CHECK(found != std::string::npos);
    if (found != std::string::npos) at = found;
  }
  // The final ticket: subject, assignee, members, invites, a timeline with delivery per member.
  CHECK(contains(r.out, "  assignee:  agent-7"));
  CHECK(contains(r.out, "  members (3; 4 of 8 seats with the business):"));
  CHECK(contains(r.out, "  invites (3):"));
  CHECK(contains(r.out, "  timeline (7 message(s)):"));
  CHECK(contains(r.out, "[Ana Souza read, Ben Okafor read, Carla Jensen read]"));
  CHECK_FALSE(contains(r.out, "FAILED"));

  // The temporary folder is gone.
  const std::string db = store_path(r.out);
  CHECK(db.rfind(tmp.path() + "/wagroups-demo-", 0) == 0);
  CHECK_FALSE(std::filesystem::exists(db));
  CHECK(entries_in(tmp.path()) == 0);
}

TEST_CASE("cli demo --keep: the ticket store stays, and tickets show reads the closed ticket", "[cli][demo]") {
  TempDir dir;
  TempDir tmp;
  const auto r = cli(dir, {"demo", "--keep"}, {{"TMPDIR", tmp.path()}}, std::chrono::seconds(30));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string db = store_path(r.out);
  REQUIRE(std::filesystem::exists(db));
  CHECK(contains(r.out, "kept " + tmp.path() + "/wagroups-demo-"));

  const auto list = single_json(cli(dir, {"tickets", "list", "--db", db, "--json"}));
  REQUIRE(list["tickets"].Size() == 1);
  const auto& t = list["tickets"][0];
  CHECK(str(t, "state") == "closed");
  CHECK(str(t, "assignee") == "agent-7");
  CHECK(integer(t, "members_joined") == 3);
  CHECK(integer(t, "messages") == 7);
  CHECK(integer(t, "invites") == 3);
  const auto shown = cli(dir, {"tickets", "show", str(t, "ticket_id"), "--db", db});
  CHECK(shown.exit_code == 0);
  CHECK(contains(shown.out, "[closed]"));
}
