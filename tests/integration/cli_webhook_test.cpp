// `wagroups webhook parse`, run as a process: exit codes, JSON Lines on stdout, one-line errors
// on stderr. The binary's path comes from the build (WAGROUPS_CLI_PATH).

#include "json/rapidjson.hpp"
#include <rapidjson/document.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include <unistd.h>
#include <wagroups/version.hpp>

#include "subprocess.hpp"
#include "webhook_bodies.hpp"

using wagroups_test::EnvChanges;
using wagroups_test::ProcessResult;
using wagroups_test::run_process;
using wagroups_test::sign_body;

namespace {

const std::string kSecret = "cli-test-secret-Q7vX2pL9";

// The child never sees a secret from the environment this test runs in, unless a test sets it.
EnvChanges env_without_secret() { return {{"WAGROUPS_APP_SECRET", std::nullopt}}; }

ProcessResult wagroups_cli(std::vector<std::string> args, const std::string& stdin_body = {},
                           EnvChanges env = env_without_secret()) {
  args.insert(args.begin(), WAGROUPS_CLI_PATH);
  return run_process(args, stdin_body, env);
}

// A body in a file of its own (unique per process and call, so tests can run in parallel).
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    static std::atomic<int> counter{0};
    path_ = "/tmp/wagroups_cli_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".json";
    std::ofstream(path_, std::ios::binary) << contents;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    REQUIRE(end != std::string::npos);  // every line, the last included, ends with '\n'
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool has_null(const rapidjson::Value& v) {
  if (v.IsNull()) return true;
  if (v.IsObject()) {
    for (const auto& m : v.GetObject())
      if (has_null(m.value)) return true;
  }
  if (v.IsArray()) {
    for (const auto& e : v.GetArray())
      if (has_null(e)) return true;
  }
  return false;
}

// Every stdout line parsed as a JSON object (strictly, with no nulls anywhere).
std::vector<rapidjson::Document> events_of(const std::string& out) {
  std::vector<rapidjson::Document> events;
  for (const auto& line : lines_of(out)) {
    rapidjson::Document d;
    d.Parse(line.c_str(), line.size());
    INFO(line);
    REQUIRE_FALSE(d.HasParseError());
    REQUIRE(d.IsObject());
    CHECK_FALSE(has_null(d));
    events.push_back(std::move(d));
  }
  return events;
}

std::string str(const rapidjson::Value& object, const char* key) {
  INFO(key);
  REQUIRE(object.HasMember(key));
  REQUIRE(object[key].IsString());
  return std::string(object[key].GetString(), object[key].GetStringLength());
}

std::vector<std::string> strings(const rapidjson::Value& object, const char* key) {
  INFO(key);
  REQUIRE(object.HasMember(key));
  REQUIRE(object[key].IsArray());
  std::vector<std::string> out;
  for (const auto& v : object[key].GetArray()) {
    REQUIRE(v.IsString());
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

}  // namespace

TEST_CASE("cli webhook parse: a signed body prints one JSON line per event", "[cli]") {
  TempFile body(wagroups_test::mixed_body());
  const auto r = wagroups_cli({"webhook", "parse", "--app-secret", kSecret, "--signature",
                               sign_body(wagroups_test::mixed_body(), kSecret), "--file", body.path()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  const auto events = events_of(r.out);
  REQUIRE(events.size() == 5);

  const auto& message = events[0];
  CHECK(str(message, "field") == "messages");
  CHECK(str(message, "type") == "group_message");
  CHECK(str(message, "waba_id") == "880011223344");
  CHECK(str(message, "phone_number_id") == "771234567890");
  CHECK(str(message, "group_id") == wagroups_test::kGroupId);
  CHECK(str(message, "message_id") == "wamid.TEST-IN-1");
  CHECK(str(message, "message_type") == "text");
  CHECK(str(message, "from") == "4915112345678");
  CHECK(str(message, "text") == "Is it \"shipped\"?\nTwo lines, \xc3\xbc" "ml\xc3\xa4uts \xe2\x9c\x93");
  REQUIRE(message["timestamp"].IsInt64());
  CHECK(message["timestamp"].GetInt64() == 1760000100);
  CHECK_FALSE(message.HasMember("request_id"));
  CHECK_FALSE(message.HasMember("errors"));

  const auto& status = events[1];
  CHECK(str(status, "type") == "group_message_status");
  CHECK(str(status, "message_id") == "wamid.TEST-OUT-1");
  CHECK(str(status, "status") == "read");
  CHECK(str(status, "recipient_id") == wagroups_test::kGroupId);
  CHECK(str(status, "recipient_participant_id") == "4915112345678");
  CHECK(str(status, "group_id") == wagroups_test::kGroupId);
  CHECK(status["timestamp"].GetInt64() == 1760000200);  // a number in the body, a number here

  const auto& removed = events[2];
  CHECK(str(removed, "field") == "group_participants_update");
  CHECK(str(removed, "type") == "participants_removed");
  CHECK(str(removed, "request_id") == "REQ-RM-9");
  CHECK(str(removed, "initiated_by") == "business");
  CHECK(strings(removed, "input") == std::vector<std::string>{"4915100000001", "US.77001122"});
  CHECK_FALSE(removed.HasMember("wa_id"));  // nobody had one

  const auto& join = events[3];
  CHECK(str(join, "type") == "join_request_created");
  CHECK(str(join, "join_request_id") == "JR-42");
  CHECK(strings(join, "wa_id") == std::vector<std::string>{"4915100000002"});
  CHECK(strings(join, "user_id") == std::vector<std::string>{"US.88002233"});

  const auto& unknown = events[4];
  CHECK(str(unknown, "field") == "account_update");
  CHECK(str(unknown, "type") == "unknown");
  CHECK_FALSE(unknown.HasMember("group_id"));
  REQUIRE(unknown.HasMember("raw"));
  REQUIRE(unknown["raw"].IsObject());  // the value itself, not a string of it
  CHECK(str(unknown["raw"], "event") == "VERIFIED_ACCOUNT");
}

TEST_CASE("cli webhook parse: group_create from stdin, with an uppercase-hex signature", "[cli]") {
  const auto& body = wagroups_test::kGroupCreatedBody;
  const auto r = wagroups_cli({"webhook", "parse", "--app-secret", kSecret, "--signature",
                               sign_body(body, kSecret, /*uppercase=*/true)},
                              body);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto events = events_of(r.out);
  REQUIRE(events.size() == 1);
  CHECK(str(events[0], "type") == "group_created");
  CHECK(str(events[0], "field") == "group_lifecycle_update");
  CHECK(str(events[0], "group_id") == wagroups_test::kGroupId);
  CHECK(str(events[0], "request_id") == "REQ-7F3A");
  CHECK(str(events[0], "subject") == "Case 5521: refund");
  CHECK(str(events[0], "invite_link") == "https://chat.whatsapp.com/Zq9TestLink");
  CHECK(str(events[0], "join_approval_mode") == "approval_required");
  CHECK(events[0]["timestamp"].GetInt64() == 1760000000);
}

TEST_CASE("cli webhook parse: the secret can come from WAGROUPS_APP_SECRET; the flag wins", "[cli]") {
  const auto& body = wagroups_test::kGroupCreatedBody;
  const std::string signature = sign_body(body, kSecret);

  const auto from_env = wagroups_cli({"webhook", "parse", "--signature", signature}, body,
                                     {{"WAGROUPS_APP_SECRET", kSecret}});
  INFO(from_env.err);
  CHECK(from_env.exit_code == 0);
  CHECK(events_of(from_env.out).size() == 1);

  const auto flag_right = wagroups_cli({"webhook", "parse", "--app-secret", kSecret, "--signature", signature},
                                       body, {{"WAGROUPS_APP_SECRET", "some-other-secret"}});
  CHECK(flag_right.exit_code == 0);

  const auto flag_wrong = wagroups_cli({"webhook", "parse", "--app-secret", "some-other-secret", "--signature",
                                        signature},
                                       body, {{"WAGROUPS_APP_SECRET", kSecret}});
  CHECK(flag_wrong.exit_code == 3);
  CHECK(flag_wrong.out.empty());
}

TEST_CASE("cli webhook parse: refusals exit 3, print nothing on stdout and never the secret", "[cli]") {
  const auto& body = wagroups_test::kGroupCreatedBody;
  const std::string signature = sign_body(body, kSecret);
  std::string tampered = body;
  tampered.replace(tampered.find("Case 5521"), 9, "Case 5522");

  struct Refusal {
    const char* name;
    std::vector<std::string> args;
    std::string body;
    EnvChanges env;
    const char* reason;
  };
  const std::vector<Refusal> refusals = {
      {"tampered body", {"--app-secret", kSecret, "--signature", signature}, tampered, env_without_secret(),
       "signature_mismatch"},
      {"secret without signature", {"--app-secret", kSecret}, body, env_without_secret(), "missing_signature"},
      {"env secret without signature", {}, body, {{"WAGROUPS_APP_SECRET", kSecret}}, "missing_signature"},
      {"signature without secret", {"--signature", signature}, body, env_without_secret(), "empty_secret"},
      {"neither secret nor signature", {}, body, env_without_secret(), "empty_secret"},
      {"wrong prefix", {"--app-secret", kSecret, "--signature", "sha1=" + signature.substr(7)}, body,
       env_without_secret(), "bad_prefix"},
      {"short hex", {"--app-secret", kSecret, "--signature", signature.substr(0, 40)}, body, env_without_secret(),
       "bad_hex"},
  };
  for (const auto& refusal : refusals) {
    INFO(refusal.name);
    std::vector<std::string> args = {"webhook", "parse"};
    args.insert(args.end(), refusal.args.begin(), refusal.args.end());
    const auto r = wagroups_cli(args, refusal.body, refusal.env);
    INFO(r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.out.empty());
    CHECK(r.err.find(refusal.reason) != std::string::npos);
    CHECK(r.err.rfind("wagroups: ", 0) == 0);
    CHECK(lines_of(r.err).size() == 1);
    CHECK(r.err.find(kSecret) == std::string::npos);
  }
}

TEST_CASE("cli webhook parse: --no-verify skips the check and excludes a secret", "[cli]") {
  const auto& body = wagroups_test::kGroupCreatedBody;
  // Even with a secret in the environment (ignored under --no-verify).
  const auto r = wagroups_cli({"webhook", "parse", "--no-verify"}, body, {{"WAGROUPS_APP_SECRET", kSecret}});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(events_of(r.out).size() == 1);

  const auto with_secret = wagroups_cli({"webhook", "parse", "--no-verify", "--app-secret", kSecret}, body);
  CHECK(with_secret.exit_code == 2);
  CHECK(with_secret.out.empty());
  CHECK(with_secret.err.find("--no-verify") != std::string::npos);
  CHECK(with_secret.err.find(kSecret) == std::string::npos);

  const auto with_signature =
      wagroups_cli({"webhook", "parse", "--no-verify", "--signature", sign_body(body, kSecret)}, body);
  CHECK(with_signature.exit_code == 2);
}

TEST_CASE("cli webhook parse: a signed but malformed body exits 4", "[cli]") {
  const std::vector<std::pair<const char*, std::string>> bodies = {
      {"not JSON", "{\"object\": \"whatsapp_business_account\", \"entry\": ["},
      {"trailing comma (strict JSON)",
       R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{},}]}]})"},
      {"no entry array", R"({"object":"whatsapp_business_account"})"},
      // The NUL byte is signed too: the body is read byte for byte, so the signature checks out
      // and the parser is what refuses it.
      {"NUL byte after the JSON", wagroups_test::kGroupCreatedBody + std::string(1, '\0')},
  };
  for (const auto& [name, body] : bodies) {
    INFO(name);
    TempFile file(body);
    const auto r = wagroups_cli(
        {"webhook", "parse", "--app-secret", kSecret, "--signature", sign_body(body, kSecret), "--file", file.path()});
    INFO(r.err);
    CHECK(r.exit_code == 4);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("wagroups: malformed webhook body", 0) == 0);
    CHECK(lines_of(r.err).size() == 1);
  }
}

TEST_CASE("cli webhook parse: bytes are read exactly (CRLF and no final newline)", "[cli]") {
  std::string body = wagroups_test::mixed_body();
  for (std::size_t at = body.find('\n'); at != std::string::npos; at = body.find('\n', at + 2)) body.insert(at, "\r");
  TempFile file(body);
  const auto r = wagroups_cli(
      {"webhook", "parse", "--app-secret", kSecret, "--signature", sign_body(body, kSecret), "--file", file.path()});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(events_of(r.out).size() == 5);
}

TEST_CASE("cli webhook parse: --max-body-bytes refuses a larger body before verifying it", "[cli]") {
  const auto& body = wagroups_test::kGroupCreatedBody;
  const auto too_small = std::to_string(body.size() - 1);
  const auto r = wagroups_cli({"webhook", "parse", "--max-body-bytes", too_small, "--app-secret", kSecret,
                               "--signature", "sha256=00"},
                              body);
  CHECK(r.exit_code == 4);
  CHECK(r.out.empty());
  CHECK(r.err.find("larger than " + too_small + " bytes") != std::string::npos);

  const auto fits = wagroups_cli({"webhook", "parse", "--max-body-bytes", std::to_string(body.size()),
                                  "--app-secret", kSecret, "--signature", sign_body(body, kSecret)},
                                 body);
  CHECK(fits.exit_code == 0);
}

TEST_CASE("cli: usage errors exit 2; --help and --version exit 0", "[cli]") {
  const auto version = wagroups_cli({"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out == std::string(wagroups::version()) + "\n");

  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"webhook", "--help"}, {"webhook", "parse", "--help"}}) {
    const auto help = wagroups_cli(args);
    CHECK(help.exit_code == 0);
    CHECK(help.out.find("Usage") != std::string::npos);
  }
  CHECK(wagroups_cli({"webhook", "parse", "--help"}).out.find("--app-secret") != std::string::npos);

  for (const auto& args : std::vector<std::vector<std::string>>{
           {}, {"webhook"}, {"nonsense"}, {"webhook", "parse", "--no-such-option"},
           {"webhook", "parse", "--max-body-bytes", "0"}}) {
    const auto r = wagroups_cli(args);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("wagroups: ", 0) == 0);
  }
}

TEST_CASE("cli webhook parse: an unreadable file exits 1", "[cli]") {
  const auto r = wagroups_cli({"webhook", "parse", "--no-verify", "--file", "/nonexistent/wagroups/body.json"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("cannot open /nonexistent/wagroups/body.json") != std::string::npos);
}
