// Issue 13 item 5: every `wagroups` command, with a known access token and app secret given by flag,
// environment or file (as each command takes them), on its success and error paths (bad
// arguments, Graph errors that echo the token back, a server answering garbage, an unreachable
// host), against the sandbox server and other loopback servers. Then stdout, stderr and every file
// the runs wrote (sandbox state, ticket store with its WAL, dead letters) are searched for the
// secrets, raw and encoded (hex, base64 at each alignment, URL and JSON escaping).
//
// And `webhook serve` forbids core files: checked from outside through /proc while it runs.

#include <httplib.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "cli_test_support.hpp"
#include "loopback_port.hpp"
#include "loopback_server.hpp"
#include "webhook_bodies.hpp"

#include <wagroups/sandbox/server.hpp>
#include <wagroups/sandbox/simulator.hpp>

using namespace wagroups_cli_test;
using namespace std::chrono_literals;

namespace {

// Characters that URL and JSON encodings change ('+', '/', '='), so those forms differ from the raw.
const std::string kToken = "EAAscan13Tok+Zq7/Wv4=Lm8";
const std::string kSecret = "scan13-app+secret/Hd2=Rk5";
const std::string kVerifyToken = "scan13-verify-Jt6";

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&out[0]),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string hex(const std::string& bytes, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 0x0f];
  }
  return out;
}

std::string percent_encoded(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex(std::string(1, static_cast<char>(c)), true);
    }
  }
  return out;
}

/// The forms a secret could take in output or a file. Base64 of a secret inside a longer text
/// depends on where it starts: for each of the three alignments, the characters that depend only
/// on the secret's bytes.
std::vector<std::pair<std::string, std::string>> forms_of(const std::string& name, const std::string& secret) {
  std::vector<std::pair<std::string, std::string>> forms{
      {name, secret},
      {name + " (hex)", hex(secret, false)},
      {name + " (HEX)", hex(secret, true)},
      {name + " (URL-encoded)", percent_encoded(secret)},
  };
  std::string json_escaped;
  for (char c : secret) json_escaped += c == '/' ? std::string("\\/") : std::string(1, c);
  forms.emplace_back(name + " (JSON \\/)", json_escaped);
  for (std::size_t pad = 0; pad < 3; ++pad) {
    const std::string encoded = base64(std::string(pad, 'x') + secret);
    const std::size_t skip = pad == 0 ? 0 : 4;                 // the first group mixes in the padding bytes
    const std::size_t full = ((pad + secret.size()) / 3) * 4;  // groups made of the text only
    forms.emplace_back(name + " (base64+" + std::to_string(pad) + ")", encoded.substr(skip, full - skip));
  }
  return forms;
}

const std::vector<std::pair<std::string, std::string>>& all_forms() {
  static const auto forms = [] {
    auto out = forms_of("access token", kToken);
    for (auto& f : forms_of("app secret", kSecret)) out.push_back(f);
    for (auto& f : forms_of("verify token", kVerifyToken)) out.push_back(f);
    return out;
  }();
  return forms;
}

/// Which secret forms `text` holds ("" when none).
std::string leaks_in(const std::string& text) {
  std::string found;
  for (const auto& [name, form] : all_forms()) {
    if (text.find(form) != std::string::npos) found += (found.empty() ? "" : ", ") + name;
  }
  return found;
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Runs the commands and records what they printed; at the end, what is in the folder.
class Scan {
 public:
  explicit Scan(const TempDir& dir) : dir_(dir) {}

  ProcessResult run(const std::vector<std::string>& args, const EnvChanges& env = {}) {
    const auto r = cli(dir_, args, env);
    std::string line;
    for (const auto& a : args) line += a + " ";
    INFO("wagroups " << line << "\nexit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK_FALSE(r.timed_out);
    CHECK(leaks_in(r.out).empty());
    CHECK(leaks_in(r.err).empty());
    ++runs_;
    if (r.exit_code == exit_codes::ok) ++succeeded_;
    return r;
  }

  /// Every file under the folder but `except` (the secret files the test wrote itself).
  void check_files(const std::vector<std::string>& except) {
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.path())) {
      if (!entry.is_regular_file()) continue;
      const std::string path = entry.path().string();
      if (std::find(except.begin(), except.end(), path) != except.end()) continue;
      ++files;
      INFO(path);
      CHECK(leaks_in(read_all(entry.path())).empty());
    }
    CHECK(files > 0);
  }

  int runs() const { return runs_; }
  int succeeded() const { return succeeded_; }

 private:
  const TempDir& dir_;
  int runs_ = 0;
  int succeeded_ = 0;
};

std::string write_secret(const TempDir& dir, const std::string& name, const std::string& contents) {
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << contents << "\n";
  ::chmod(path.c_str(), 0600);
  return path;
}

/// The Graph API commands, each with `graph` (base URL, phone number id) appended.
std::vector<std::vector<std::string>> graph_commands(const std::string& group) {
  return {
      {"groups", "list", "--json"},
      {"groups", "list", "--all"},
      {"groups", "create", "--subject", "Scan 13", "--description", "secrets", "--json"},
      {"groups", "create", "--subject", ""},  // refused locally
      {"groups", "info", group, "--json"},
      {"groups", "info", group, "--fields", "subject,nonsense"},
      {"groups", "update", group, "--subject", "Renamed"},
      {"groups", "update", group, "--picture", "/nonexistent.jpg"},
      {"invite-link", "get", group},
      {"invite-link", "reset", group, "--json"},
      {"invite-link", "delete", group},
      {"join-requests", "list", group},
      {"join-requests", "approve", group, "JR-1"},
      {"join-requests", "reject", group, "JR-2"},
      {"participants", "remove", group, "15550009999"},
      {"send", "text", group, "--text", "hello"},
      {"send", "text", "--group", group, "--group", "120363000000000002", "--text", "hello all"},
      {"send", "media", group, "--type", "image", "--link", "https://example.invalid/a.jpg"},
      {"send", "template", group, "--name", "case_update", "--param", "x"},
      {"send", "pin", group, "--message-id", "wamid.SCAN13"},
      {"number", "check", "--json"},
      {"groups", "delete", group},
      {"groups", "list", "--limit", "0"},  // bad argument
  };
}

void run_graph_commands(Scan& scan, const TempDir& dir, const std::string& base_url, const std::string& group) {
  const std::string token_file = dir.file("token");
  const std::vector<std::string> graph{"--base-url", base_url, "--phone-number-id", "200000000000002"};
  for (auto args : graph_commands(group)) {
    args.insert(args.end(), graph.begin(), graph.end());
    // The token from the environment, then from a file.
    scan.run(args, {{"WAGROUPS_ACCESS_TOKEN", kToken}});
    auto with_file = args;
    with_file.insert(with_file.end(), {"--access-token-file", token_file, "--max-retry-wait", "0"});
    scan.run(with_file);
  }
}

}  // namespace

TEST_CASE("issue13 every CLI command keeps the access token and app secret out of its output and files",
          "[cli][issue13]") {
  wagroups_test::prepare_process_for_loopback();
  TempDir dir;
  Scan scan(dir);
  const std::string token_file = write_secret(dir, "token", kToken);
  const std::string secret_file = write_secret(dir, "secret", kSecret);
  const std::vector<std::string> ours{token_file, secret_file};

  // The scanner itself: the secret files hold the secrets in raw form, and an encoded form is
  // found in a text that only holds that form.
  REQUIRE(leaks_in(read_all(token_file)) == "access token");
  REQUIRE_FALSE(leaks_in("x" + base64("yy" + kSecret) + "z").empty());
  REQUIRE_FALSE(leaks_in(percent_encoded(kToken)).empty());

  // 1. The Graph API: the sandbox server, which refuses any other Bearer token.
  {
    wagroups::sandbox::SimulatorOptions sim_options;
    sim_options.access_token = kToken;
    sim_options.app_secret = kSecret;
    wagroups::sandbox::Simulator sim(sim_options);
    auto started = wagroups::sandbox::SandboxServer::start(sim);
    REQUIRE(started);
    run_graph_commands(scan, dir, (*started)->base_url(), "120363000000000001");
    // A group that exists, for the success paths.
    const auto created = scan.run({"groups", "create", "--subject", "Scan 13 real", "--json", "--base-url",
                                   (*started)->base_url(), "--phone-number-id", "200000000000002"},
                                  {{"WAGROUPS_ACCESS_TOKEN", kToken}});
    REQUIRE(created.exit_code == exit_codes::ok);
    // A wrong token: refused, and neither token shown.
    scan.run({"groups", "list", "--base-url", (*started)->base_url(), "--phone-number-id", "200000000000002"},
             {{"WAGROUPS_ACCESS_TOKEN", std::string("EAAwrong") + kToken}});
  }
  const int after_sandbox = scan.succeeded();
  CHECK(after_sandbox >= 4);  // the success paths ran too

  // 2. A Graph that echoes the token back: in its error message, its user message, as base64, and
  // the Authorization header it received; then a proxy's HTML error page and a 200 that is not JSON.
  {
    wagroups_test::LoopbackServer echo;
    int hits = 0;
    echo->set_error_handler([](const httplib::Request&, httplib::Response&) {});
    auto answer = [&](const httplib::Request& req, httplib::Response& res) {
      const std::string auth = req.get_header_value("Authorization");
      const std::string token = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : auth;
      switch (hits++ % 3) {
        case 0:
          res.status = 400;
          res.set_content("{\"error\":{\"message\":\"Malformed access token " + token +
                              "\",\"type\":\"OAuthException\",\"code\":190,\"error_subcode\":463,"
                              "\"error_user_title\":\"" +
                              token + "\",\"error_user_msg\":\"" + base64(token) + " / " + auth +
                              "\",\"error_data\":{\"details\":\"" + token + "\"},\"fbtrace_id\":\"Scan13\"}}",
                          "application/json");
          break;
        case 1:
          res.status = 502;
          res.set_content("<html><body>upstream refused " + auth + "</body></html>", "text/html");
          break;
        default:
          res.status = 200;
          res.set_content("not json " + token, "text/plain");
          break;
      }
    };
    echo->Get(R"(/.*)", answer);
    echo->Post(R"(/.*)", answer);
    echo->Delete(R"(/.*)", answer);
    echo.start();
    run_graph_commands(scan, dir, "http://127.0.0.1:" + std::to_string(echo.port()), "120363000000000001");
    CHECK(hits > 20);
  }

  // 3. An unreachable host: nothing listens on the port.
  {
    const int closed = wagroups_test::closed_loopback_port();
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"groups", "list"}, {"send", "text", "120363000000000001", "--text", "x"}, {"number", "check"}}) {
      auto full = args;
      full.insert(full.end(), {"--base-url", "http://127.0.0.1:" + std::to_string(closed), "--phone-number-id",
                               "200000000000002", "--max-retry-wait", "0"});
      const auto r = scan.run(full, {{"WAGROUPS_ACCESS_TOKEN", kToken}});
      CHECK(r.exit_code != exit_codes::ok);
    }
  }

  // 4. The sandbox commands, signing with the app secret (flag, environment, file), delivering to
  // `webhook serve` (secret by file, verify token by flag), which keeps tickets and a dead letter.
  {
    const std::string db = dir.file("tickets.db");
    wagroups_test::ChildProcess serve({WAGROUPS_CLI_PATH, "webhook", "serve", "--port", "0", "--app-secret-file",
                                       secret_file, "--verify-token", kVerifyToken, "--db", db, "--json"},
                                      cli_env(dir));
    const auto first = serve.read_line(10s);
    INFO(serve.err());
    REQUIRE(first);
    const int port = static_cast<int>(integer(json_of(*first), "port"));
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/webhook";
    const EnvChanges secret_env{{"WAGROUPS_APP_SECRET", kSecret}};
    const std::vector<std::string> by_flag{"--app-secret", kSecret};
    const std::vector<std::string> by_file{"--app-secret-file", secret_file};

    auto created = scan.run({"groups", "create", "--subject", "Scan 13 sandbox", "--json"}, secret_env);
    REQUIRE(created.exit_code == exit_codes::ok);
    const std::string group = str(single_json(created), "group_id");
    scan.run({"sandbox", "join", group, "--phone", "15550001234", "--name", "Ana"}, secret_env);
    scan.run({"sandbox", "say", group, "--phone", "15550001234", "--text", "hello"});
    scan.run({"sandbox", "webhooks", "--json"});
    for (const auto& how : {by_flag, by_file}) {
      auto args = std::vector<std::string>{"sandbox", "deliver", "--webhook-url", url};
      args.insert(args.end(), how.begin(), how.end());
      scan.run(args);
      scan.run({"sandbox", "say", group, "--phone", "15550001234", "--text", "again"});
    }
    scan.run({"sandbox", "deliver", "--webhook-url", url}, secret_env);
    scan.run({"sandbox", "deliver", "--webhook-url", url, "--app-secret", "wrong-secret"});  // refused by serve: 401
    scan.run({"sandbox", "leave", group, "--phone", "15550001234"}, secret_env);
    scan.run({"sandbox", "suspend", group}, secret_env);
    scan.run({"sandbox", "config", "--max-groups", "5"}, secret_env);
    scan.run({"sandbox", "cancel-request", group, "--phone", "15550009999"}, secret_env);
    scan.run({"sandbox", "deliver", "--webhook-url", url, "--app-secret-file", secret_file});
    scan.run({"send", "text", group, "--text", "hi"}, secret_env);  // no token: the sandbox
    scan.run({"invite", "send", group, "--template", "join_case", "--phone", "15550004321", "--db", db}, secret_env);

    // A verified body the parser refuses: a dead letter in the store.
    httplib::Client client("127.0.0.1", port);
    const std::string bad_body = R"({"object":"whatsapp_business_account","entry":"not an array"})";
    auto dead = client.Post("/webhook", {{"X-Hub-Signature-256", wagroups_test::sign_body(bad_body, kSecret)}},
                            bad_body, "application/json");
    REQUIRE(dead);
    CHECK(dead->status == 200);  // kept: Meta must not deliver it again
    auto unsigned_post = client.Post("/webhook", {{"X-Hub-Signature-256", "sha256=00"}}, bad_body, "application/json");
    REQUIRE(unsigned_post);
    CHECK(unsigned_post->status == 401);
    auto handshake = client.Get("/webhook?hub.mode=subscribe&hub.verify_token=" + kVerifyToken + "&hub.challenge=c13");
    REQUIRE(handshake);
    CHECK(handshake->body == "c13");
    auto wrong_handshake = client.Get("/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=c13");
    REQUIRE(wrong_handshake);
    CHECK(wrong_handshake->status == 403);

    serve.send_signal(SIGTERM);
    const auto stopped = serve.wait(10s);
    INFO(stopped.err);
    CHECK(leaks_in(stopped.out).empty());
    CHECK(leaks_in(stopped.err).empty());

    scan.run({"tickets", "list", "--db", db, "--json"});
    scan.run({"tickets", "show", group, "--db", db, "--json"});
    scan.run({"tickets", "show", "no-such-ticket", "--db", db});
    scan.run({"tickets", "dead-letters", "--db", db, "--body", "--json"});
  }

  // 5. `webhook parse`: the secret by flag, environment and file; good, bad and missing signatures.
  {
    const std::string body = wagroups_test::kGroupMessageBody;
    const std::string body_file = dir.file("body.json");
    std::ofstream(body_file, std::ios::binary) << body;
    const std::string good = wagroups_test::sign_body(body, kSecret);
    for (const auto& signature : {good, std::string("sha256=") + std::string(64, '0'), std::string("bogus")}) {
      scan.run({"webhook", "parse", "--file", body_file, "--signature", signature, "--app-secret", kSecret});
      scan.run({"webhook", "parse", "--file", body_file, "--signature", signature}, {{"WAGROUPS_APP_SECRET", kSecret}});
      scan.run({"webhook", "parse", "--file", body_file, "--signature", signature, "--app-secret-file", secret_file});
    }
    scan.run({"webhook", "parse", "--file", body_file, "--app-secret", kSecret, "--json"});  // no signature
    scan.run({"webhook", "serve", "--port", "-1", "--app-secret", kSecret});                 // bad argument
    scan.run({"webhook", "serve", "--port", "0", "--app-secret", kSecret, "--db", "/nonexistent/dir/t.db"});
  }

  // 6. The offline demo, with the secrets in its environment (it must not pick them up or show them).
  scan.run({"demo"}, {{"WAGROUPS_ACCESS_TOKEN", kToken}, {"WAGROUPS_APP_SECRET", kSecret}});

  UNSCOPED_INFO(scan.runs() << " runs, " << scan.succeeded() << " succeeded");
  CHECK(scan.runs() > 100);
  scan.check_files(ours);
}

namespace {

/// The "Max core file size" soft and hard limits in /proc/<pid>/limits ("unlimited" or bytes).
std::pair<std::string, std::string> core_limits(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Max core file size", 0) != 0) continue;
    std::istringstream fields(line.substr(std::string("Max core file size").size()));
    std::string soft, hard;
    fields >> soft >> hard;
    return {soft, hard};
  }
  return {};
}

constexpr uid_t kNobody = 65534;

/// `argv` started with core files allowed (as a shell with `ulimit -c unlimited` would) and, when
/// the test runs as root, as user 65534: the kernel then shows a non-dumpable process's /proc
/// files as root's, a dumpable one's as its user's (to root, every process looks alike).
/// setpriv execs in place, so the child's pid is the program's.
std::vector<std::string> with_cores_allowed(std::vector<std::string> argv) {
  std::vector<std::string> out{"/bin/sh", "-c", "ulimit -c unlimited && exec \"$@\"", "sh"};
  if (::geteuid() == 0) {
    out.insert(out.end(), {"setpriv", "--reuid=" + std::to_string(kNobody), "--regid=" + std::to_string(kNobody),
                           "--clear-groups", "--"});
  }
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

/// The owner of /proc/<pid>/status once the process runs `program` (its exec done): the kernel
/// gives the files of a non-dumpable process to root (the folder itself keeps its first owner).
uid_t proc_owner_once_running(pid_t pid, const std::string& program) {
  const std::string dir = "/proc/" + std::to_string(pid);
  for (int i = 0; i < 10000 && read_all(dir + "/comm") != program + "\n"; ++i) std::this_thread::sleep_for(1ms);
  REQUIRE(read_all(dir + "/comm") == program + "\n");
  struct stat st {};
  REQUIRE(::stat((dir + "/status").c_str(), &st) == 0);
  return st.st_uid;
}

}  // namespace

TEST_CASE("issue13 webhook serve runs with core files off and not dumpable, checked from outside", "[cli][issue13]") {
  wagroups_test::prepare_process_for_loopback();
  rlimit limit{};
  REQUIRE(::getrlimit(RLIMIT_CORE, &limit) == 0);
  if (limit.rlim_max != RLIM_INFINITY) SKIP("core files are capped here (hard limit): nothing to lower");

  TempDir dir;
  ::chmod(dir.path().c_str(), 0777);  // user 65534 writes the ticket store there
  wagroups_test::ChildProcess serve(with_cores_allowed({WAGROUPS_CLI_PATH, "webhook", "serve", "--port", "0",
                                                        "--app-secret", kSecret, "--db", dir.file("t.db"), "--json"}),
                                    cli_env(dir));
  const auto first = serve.read_line(10s);
  INFO(serve.err());
  REQUIRE(first);  // listening: well past the start of run_serve
  const pid_t pid = serve.pid();
  // The limit the shell raised is down to 0, the hard one too.
  const auto limits = core_limits(pid);
  CHECK(limits.first == "0");
  CHECK(limits.second == "0");

  if (::geteuid() != 0) {
    WARN("not root: whether the process is dumpable cannot be seen from outside here (only the limits were checked)");
    return;
  }
  const uid_t serve_owner = proc_owner_once_running(pid, "wagroups");
  // The negative control: a process that did not ask, started the same way, shows as its user.
  wagroups_test::ChildProcess control(with_cores_allowed({"/bin/sleep", "60"}), cli_env(dir));
  const uid_t control_owner = proc_owner_once_running(control.pid(), "sleep");
  CHECK(control_owner == kNobody);
  CHECK(core_limits(control.pid()).first == "unlimited");
  CHECK(serve_owner == 0);  // PR_SET_DUMPABLE 0
  serve.send_signal(SIGTERM);
  const auto stopped = serve.wait(10s);
  CHECK(stopped.exit_code == 0);
}
