#pragma once

// Which backend a `wagroups` command talks to, and the `Client` for it.
//
// The real Graph API when WAGROUPS_ACCESS_TOKEN and a phone number id are set; otherwise the
// sandbox (`wagroups::sandbox::Simulator`) in this process, with its state kept in a JSON file
// between invocations (each invocation is its own process). A session says which on stderr, in one
// line. For the sandbox it loads the state before the command and, in `finish`, delivers (or
// announces) the webhooks the command caused and saves the state again.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <wagroups/client/client.hpp>
#include <wagroups/limits.hpp>
#include <wagroups/sandbox/simulator.hpp>

namespace wagroups_cli {

/// Options every API command shares (flags win over the environment).
struct BackendOptions {
  std::string phone_number_id;  // --phone-number-id, $WAGROUPS_PHONE_NUMBER_ID
  std::string api_version = "v26.0";
  std::string base_url = "https://graph.facebook.com";
  bool force_sandbox = false;  // --sandbox: even when a token is set
  std::string sandbox_state;   // --sandbox-state, $WAGROUPS_SANDBOX_STATE
  std::string webhook_url;     // --webhook-url, $WAGROUPS_WEBHOOK_URL (sandbox webhooks go there)
  std::string app_secret;      // --app-secret, else $WAGROUPS_APP_SECRET (Session::open); signs sandbox webhooks
  std::string app_secret_file;    // --app-secret-file: the secret read from a file (wins over the environment)
  std::string access_token_file;  // --access-token-file: the token read from a file (wins over $WAGROUPS_ACCESS_TOKEN)
  int max_retry_wait = 10;     // seconds; a longer Retry-After is reported instead of waited for
  bool json = false;           // --json: machine output on stdout
};

/// The sandbox's default state file.
inline constexpr const char* kDefaultSandboxState = "./.wagroups-sandbox.json";
/// The app secret the sandbox signs with when none is given.
inline constexpr const char* kDefaultSandboxSecret = "sandbox-secret";

/// Adds `--json` and every backend option to `command`.
void add_backend_options(CLI::App& command, BackendOptions& options);
/// Adds `--json` and the sandbox's options only (for `wagroups sandbox ...`).
void add_sandbox_options(CLI::App& command, BackendOptions& options);

/// Sandbox behaviour the CLI keeps in its state file (the simulator's own state has the rest).
struct SandboxConfig {
  int max_groups = static_cast<int>(wagroups::limits::max_groups_per_number);
  int max_participants = static_cast<int>(wagroups::limits::max_participants);
  int group_ops_per_window = 0;  // 0: no group rate limit
  int rate_window_seconds = 60;
  bool auto_statuses = true;
};

class Session {
 public:
  enum class Need { any_backend, sandbox };

  /// Chooses the backend (says which on stderr) and, for the sandbox, locks and loads the state
  /// file. Null on failure, with the error printed and `exit_code` set.
  static std::unique_ptr<Session> open(const BackendOptions& options, Need need, int& exit_code);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const wagroups::Client& client() const { return *client_; }
  const BackendOptions& options() const { return options_; }
  bool is_sandbox() const { return simulator_ != nullptr; }
  /// Sandbox sessions only.
  wagroups::sandbox::Simulator& simulator() { return *simulator_; }
  SandboxConfig& config() { return config_; }
  /// Replaces the simulator by one built from `config()` with the same state (after `sandbox
  /// config` changed a limit the simulator only reads at construction).
  bool rebuild_simulator(int& exit_code);

  /// Ends the command: for the sandbox, delivers the queued webhooks to the webhook URL or says
  /// how many wait in the state, then saves the state. Returns `exit_code`, or a failure of its own
  /// (the state could not be saved).
  int finish(int exit_code);

 private:
  Session() = default;
  bool load(int& exit_code);
  void make_client();
  std::size_t deliver_webhooks();

  BackendOptions options_;
  SandboxConfig config_;
  std::unique_ptr<wagroups::sandbox::Simulator> simulator_;
  std::optional<wagroups::Client> client_;
  std::string state_path_;
  std::string access_token_;  // from --access-token-file or $WAGROUPS_ACCESS_TOKEN; never printed
  int lock_fd_ = -1;
  std::size_t webhooks_before_ = 0;
};

/// Reads a whole file; unset (errno set) when it cannot be read.
std::optional<std::string> read_file(const std::string& path);

/// Secrets from files (`--app-secret-file`, `--access-token-file`): at most this many bytes.
inline constexpr std::size_t kMaxSecretFileBytes = 8 * 1024;

/// Reads a secret (an app secret, an access token) from `path`, named `option` in messages: one
/// trailing newline (LF or CRLF) is dropped; an unreadable file, a socket, device or directory fails
/// with `exit_failure`; an empty file (or a FIFO without a writer: never waited for), one
/// over `kMaxSecretFileBytes` or one with any other control character (`exit_usage`) is refused with
/// an error on stderr that never shows the content. A regular file that others than its owner may
/// read or write is used, with a warning. Unset on refusal, with `exit_code` set. A symbolic link to
/// a regular file is followed.
std::optional<std::string> read_secret_file(const std::string& option, const std::string& path, int& exit_code);

/// Overwrites a secret's whole buffer with zeros and empties it, before the string is freed or
/// reused (the library does the same with OpenSSL, kept out of the CLI: src/util/secret.hpp).
void wipe_secret(std::string& secret) noexcept;

/// Adds `--app-secret-file` (excluding `app_secret_option`) to `command`.
CLI::Option* add_app_secret_file_option(CLI::App& command, std::string& path, CLI::Option* app_secret_option);

/// Runs `body` with a session, then `finish`; stores the exit code in `exit_code`.
template <typename Body>
void with_session(const BackendOptions& options, Session::Need need, int& exit_code, Body&& body) {
  auto session = Session::open(options, need, exit_code);
  if (!session) return;
  exit_code = session->finish(body(*session));
}

}  // namespace wagroups_cli
