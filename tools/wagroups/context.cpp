#include "context.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <wagroups/http/curl_transport.hpp>

#include "output.hpp"

namespace wagroups_cli {

namespace {

// The CLI keeps its own sandbox settings in front of the simulator's state, in the same JSON
// object: {"wagroups_cli":{"max_groups":10,...},"format":"wagroups-sandbox-state",...}. The
// simulator ignores keys it does not know; the prefix is flat, so a few lines read it back.
constexpr std::string_view kConfigPrefix = "{\"wagroups_cli\":{";

std::string config_json(const SandboxConfig& c) {
  JsonWriter w;
  w.begin_object();
  w.key("max_groups").number(c.max_groups);
  w.key("max_participants").number(c.max_participants);
  w.key("group_ops_per_window").number(c.group_ops_per_window);
  w.key("rate_window").number(c.rate_window_seconds);
  w.key("auto_statuses").boolean(c.auto_statuses);
  w.end_object();
  return w.text();
}

// Splits a state file into the CLI's settings and the simulator's state. False when the prefix
// is there but unreadable.
bool split_state(const std::string& text, SandboxConfig& config, std::string& simulator_state) {
  if (text.compare(0, kConfigPrefix.size(), kConfigPrefix) != 0) {
    simulator_state = text;  // a plain simulator state (e.g. written by a host program)
    return true;
  }
  const std::size_t end = text.find('}', kConfigPrefix.size());
  if (end == std::string::npos || end + 1 >= text.size() || text[end + 1] != ',') return false;
  const std::string_view body(text.data() + kConfigPrefix.size(), end - kConfigPrefix.size());
  std::size_t at = 0;
  while (at < body.size()) {
    const std::size_t comma = body.find(',', at);
    const std::string_view pair =
        body.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    at = comma == std::string_view::npos ? body.size() : comma + 1;
    const std::size_t colon = pair.find(':');
    if (colon == std::string_view::npos || pair.size() < 3 || pair.front() != '"' || pair[colon - 1] != '"')
      return false;
    const std::string key(pair.substr(1, colon - 2));
    const std::string value(pair.substr(colon + 1));
    if (key == "auto_statuses") {
      config.auto_statuses = value == "true";
      continue;
    }
    char* stop = nullptr;
    const long number = std::strtol(value.c_str(), &stop, 10);
    if (value.empty() || *stop != '\0' || number < 0 || number > 1000000000) return false;
    const int n = static_cast<int>(number);
    if (key == "max_groups") config.max_groups = n;
    else if (key == "max_participants") config.max_participants = n;
    else if (key == "group_ops_per_window") config.group_ops_per_window = n;
    else if (key == "rate_window") config.rate_window_seconds = n;
  }
  simulator_state = "{" + text.substr(end + 2);
  return true;
}

bool write_file_atomically(const std::string& path, const std::string& contents, std::string& error) {
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  // The state holds people's numbers and messages: a fresh owner-only file (O_EXCL: no earlier
  // file or symlink of that name is reused with its mode), whatever the umask allows.
  ::unlink(temporary.c_str());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 || ::fchmod(fd, 0600) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    error = "cannot write " + temporary + ": " + std::strerror(err);
    return false;
  }
  std::size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = "cannot write " + temporary + ": " + std::strerror(errno);
      ::close(fd);
      std::remove(temporary.c_str());
      return false;
    }
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);
  // Rename: a crash leaves the old state or the new one, never half of one.
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    error = "cannot replace " + path + ": " + std::strerror(errno);
    std::remove(temporary.c_str());
    return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return std::nullopt;
  std::string out;
  char buffer[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) out.append(buffer, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return std::nullopt;
  return out;
}

std::optional<std::string> read_secret_file(const std::string& option, const std::string& path, int& exit_code) {
  // Never the content in a message: only the path and what is wrong with it.
  const auto refuse = [&](const std::string& why, int code) {
    print_error(option + " " + path + ": " + why);
    exit_code = code;
    return std::nullopt;
  };
  // O_NONBLOCK: a blocking open of a FIFO waits for a writer, forever if none comes. Opened this
  // way, a FIFO without a writer reads as empty at once; one with a writer (`<(pass show ...)`)
  // is read once the flag is cleared. Sockets, devices and directories are refused.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return refuse(std::string("cannot open it: ") + std::strerror(errno), exit_failure);
  struct stat st {};
  const int stat_error = ::fstat(fd, &st) == 0 ? 0 : errno;
  const bool fifo = stat_error == 0 && S_ISFIFO(st.st_mode);
  if (stat_error != 0 || !(S_ISREG(st.st_mode) || fifo)) {
    ::close(fd);
    const std::string why = stat_error != 0       ? std::strerror(stat_error)
                            : S_ISDIR(st.st_mode) ? std::strerror(EISDIR)
                                                  : "not a regular file or a pipe (a socket or device)";
    return refuse("cannot read it: " + why, exit_failure);
  }
  if (fifo) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
      const int err = errno;
      ::close(fd);
      return refuse(std::string("cannot read it: ") + std::strerror(err), exit_failure);
    }
  } else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    print_progress("warning: " + option + " " + path + " is open to other users than its owner (chmod 600 it)");
  }
  // One byte past the bound tells an oversized file (or an endless pipe) without reading it all.
  std::string secret(kMaxSecretFileBytes + 1, '\0');
  std::size_t got = 0;
  while (got < secret.size()) {
    const ssize_t n = ::read(fd, &secret[got], secret.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return refuse(std::string("cannot read it: ") + std::strerror(err), exit_failure);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got > kMaxSecretFileBytes)
    return refuse("larger than " + std::to_string(kMaxSecretFileBytes) + " bytes: not a secret file", exit_usage);
  secret.resize(got);
  if (!secret.empty() && secret.back() == '\n') {
    secret.pop_back();
    if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  }
  if (secret.empty()) return refuse(fifo ? "is empty (a pipe or FIFO nobody writes to)" : "is empty", exit_usage);
  for (const char c : secret) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f)
      return refuse("holds a line break or another control character (only one final newline is allowed)", exit_usage);
  }
  return secret;
}

CLI::Option* add_app_secret_file_option(CLI::App& command, std::string& path, CLI::Option* app_secret_option) {
  CLI::Option* option = command.add_option("--app-secret-file", path,
                                           "Read the app secret from this file (one line, at most 8 KiB; mode 600); "
                                           "wins over $WAGROUPS_APP_SECRET");
  if (app_secret_option) option->excludes(app_secret_option);
  return option;
}

void add_sandbox_options(CLI::App& command, BackendOptions& options) {
  command.add_flag("--json", options.json, "Machine-readable output: JSON on stdout");
  command
      .add_option("--sandbox-state", options.sandbox_state,
                  std::string("The sandbox's state file (default: ") + kDefaultSandboxState + ")")
      ->envname("WAGROUPS_SANDBOX_STATE");
  command
      .add_option("--webhook-url", options.webhook_url,
                  "POST the sandbox's webhooks there, signed (e.g. `wagroups webhook serve`); "
                  "without it they stay queued in the state")
      ->envname("WAGROUPS_WEBHOOK_URL");
  CLI::Option* app_secret =
      command.add_option("--app-secret", options.app_secret,
                         std::string("The secret the sandbox signs its webhooks with (default: \"") +
                             kDefaultSandboxSecret + "\"; $WAGROUPS_APP_SECRET keeps it out of ps)");
  // $WAGROUPS_APP_SECRET is read in Session::open, not through CLI11's envname: CLI11 applies an
  // environment variable before its requirement checks, so `excludes` would refuse every
  // --app-secret-file while the variable is set.
  add_app_secret_file_option(command, options.app_secret_file, app_secret);
}

void add_backend_options(CLI::App& command, BackendOptions& options) {
  add_sandbox_options(command, options);
  command
      .add_option("--phone-number-id", options.phone_number_id,
                  "The business phone number id (with $WAGROUPS_ACCESS_TOKEN: the real Graph API)")
      ->envname("WAGROUPS_PHONE_NUMBER_ID");
  command.add_option("--api-version", options.api_version, "Graph API version")->capture_default_str();
  command.add_option("--base-url", options.base_url, "Graph API origin")->capture_default_str();
  command.add_option("--access-token-file", options.access_token_file,
                     "Read the access token from this file (one line, at most 8 KiB; mode 600); "
                     "wins over $WAGROUPS_ACCESS_TOKEN");
  command.add_flag("--sandbox", options.force_sandbox, "Use the sandbox even when $WAGROUPS_ACCESS_TOKEN is set");
  command
      .add_option("--max-retry-wait", options.max_retry_wait,
                  "Seconds a retry may wait for Retry-After; longer: the error is reported")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
}

std::unique_ptr<Session> Session::open(const BackendOptions& options, Need need, int& exit_code) {
  std::unique_ptr<Session> session(new Session());
  session->options_ = options;
  if (!options.app_secret_file.empty()) {
    auto secret = read_secret_file("--app-secret-file", options.app_secret_file, exit_code);
    if (!secret) return nullptr;
    session->options_.app_secret = std::move(*secret);
  } else if (options.app_secret.empty()) {  // --app-secret, then the environment
    if (const char* from_env = std::getenv("WAGROUPS_APP_SECRET")) session->options_.app_secret = from_env;
  }
  std::string token_source = "WAGROUPS_ACCESS_TOKEN is set";
  if (!options.access_token_file.empty()) {
    auto token = read_secret_file("--access-token-file", options.access_token_file, exit_code);
    if (!token) return nullptr;
    session->access_token_ = std::move(*token);
    token_source = "the token from --access-token-file";
  } else if (const char* token = std::getenv("WAGROUPS_ACCESS_TOKEN")) {
    session->access_token_ = token;
  }
  const bool have_token = !session->access_token_.empty();
  const bool graph =
      need == Need::any_backend && have_token && !options.phone_number_id.empty() && !options.force_sandbox;
  if (graph) {
    // The token never appears in output: only that it is set.
    print_progress("using the Graph API at " + options.base_url + "/" + options.api_version + " with phone number id " +
                   options.phone_number_id + " (" + token_source + ")");
    session->make_client();
    return session;
  }
  session->state_path_ = options.sandbox_state.empty() ? kDefaultSandboxState : options.sandbox_state;
  std::string why;
  if (need == Need::sandbox) why = "";
  else if (options.force_sandbox) why = " (--sandbox)";
  else if (!have_token) why = " (no WAGROUPS_ACCESS_TOKEN)";
  else why = " (" + token_source + ", but no phone number id: set WAGROUPS_PHONE_NUMBER_ID or --phone-number-id)";
  if (need == Need::any_backend) print_progress("using the sandbox" + why + "; state in " + session->state_path_);
  if (!session->load(exit_code)) return nullptr;
  return session;
}

Session::~Session() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock
  wipe_secret(access_token_);
  wipe_secret(options_.app_secret);
}

void wipe_secret(std::string& secret) noexcept {
  secret.resize(secret.capacity());  // within the capacity: no allocation
  // Writes through a volatile pointer: the compiler may not drop them as dead stores.
  volatile char* bytes = &secret[0];
  for (std::size_t i = 0; i < secret.size(); ++i) bytes[i] = '\0';
  secret.clear();
}

bool Session::load(int& exit_code) {
  // One command at a time per state file: a lock file beside it (the state file itself is
  // replaced by rename, so it cannot carry the lock).
  const std::string lock_path = state_path_ + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX) != 0) {
    print_error("cannot lock " + lock_path + ": " + std::strerror(errno));
    exit_code = exit_failure;
    return false;
  }
  std::string simulator_state;
  errno = 0;
  const auto text = read_file(state_path_);
  if (!text && errno != ENOENT) {
    print_error("cannot read the sandbox state " + state_path_ + ": " + std::strerror(errno));
    exit_code = exit_failure;
    return false;
  }
  if (text && !split_state(*text, config_, simulator_state)) {
    print_error("the sandbox state " + state_path_ +
                " is damaged (its wagroups_cli settings); remove it to start afresh");
    exit_code = exit_failure;
    return false;
  }
  wagroups::sandbox::SimulatorOptions sim;
  sim.app_secret = options_.app_secret.empty() ? kDefaultSandboxSecret : options_.app_secret;
  sim.max_groups = config_.max_groups;
  sim.max_participants = config_.max_participants;
  sim.group_ops_per_window = config_.group_ops_per_window;
  sim.rate_window = std::chrono::seconds(config_.rate_window_seconds);
  sim.auto_statuses = config_.auto_statuses;
  simulator_ = std::make_unique<wagroups::sandbox::Simulator>(sim);
  if (text) {
    const auto loaded = simulator_->load_state(simulator_state);
    if (!loaded) {
      print_error("the sandbox state " + state_path_ + " cannot be loaded (" + loaded.error().message +
                  "); remove it to start afresh");
      exit_code = exit_failure;
      return false;
    }
  }
  webhooks_before_ = simulator_->pending_webhooks();
  make_client();
  return true;
}

bool Session::rebuild_simulator(int& exit_code) {
  const std::string state = simulator_->save_state();
  wagroups::sandbox::SimulatorOptions sim = simulator_->options();
  sim.max_groups = config_.max_groups;
  sim.max_participants = config_.max_participants;
  sim.group_ops_per_window = config_.group_ops_per_window;
  sim.rate_window = std::chrono::seconds(config_.rate_window_seconds);
  sim.auto_statuses = config_.auto_statuses;
  auto next = std::make_unique<wagroups::sandbox::Simulator>(sim);
  const auto loaded = next->load_state(state);
  if (!loaded) {
    print_error("cannot apply the sandbox settings: " + loaded.error().message);
    exit_code = exit_failure;
    return false;
  }
  simulator_ = std::move(next);
  make_client();
  return true;
}

void Session::make_client() {
  wagroups::ClientOptions client;
  client.api_version = options_.api_version;
  client.base_url = options_.base_url;
  client.user_agent_suffix = std::string("wagroups-cli/") + WAGROUPS_VERSION_STRING;
  client.allow_insecure_http = wagroups::is_loopback_http_url(options_.base_url);  // a local stub or sandbox only
  client.retry.max_retry_after = std::chrono::seconds(options_.max_retry_wait);
  if (simulator_) {
    client.access_token = "sandbox";
    client.phone_number_id = simulator_->options().phone_number_id;
    client.transport = simulator_->transport();
    client.retry.max_attempts = 1;  // the simulator answers the same way at once; waiting would only slow the CLI
  } else {
    client.access_token = access_token_;
    client.phone_number_id = options_.phone_number_id;
  }
  client_.emplace(std::move(client));
}

std::size_t Session::deliver_webhooks() {
  // A snapshot first: if a delivery fails, every webhook goes back in the queue. Those already
  // delivered are then sent again next time, as Meta redelivers (receivers deduplicate).
  const std::string snapshot = simulator_->save_state();
  const auto deliveries = simulator_->take_webhooks();
  if (deliveries.empty()) return 0;
  wagroups::CurlTransportOptions transport_options;
  transport_options.connect_timeout = std::chrono::seconds(5);
  transport_options.request_timeout = std::chrono::seconds(15);
  wagroups::CurlTransport transport(transport_options);
  std::size_t delivered = 0;
  std::string failure;
  for (const auto& d : deliveries) {
    wagroups::HttpRequest request;
    request.method = wagroups::HttpMethod::post;
    request.url = options_.webhook_url;
    request.headers = {{"Content-Type", "application/json"}, {"X-Hub-Signature-256", d.signature}};
    request.body = d.body;
    const auto answer = transport.send(request);
    if (!answer) {
      failure = answer.error().message;
      break;
    }
    if (answer->status < 200 || answer->status > 299) {
      failure = "HTTP " + std::to_string(answer->status);
      break;
    }
    ++delivered;
  }
  if (delivered == deliveries.size()) {
    print_progress(std::to_string(delivered) + " webhook(s) delivered to " + options_.webhook_url);
    return delivered;
  }
  const auto restored = simulator_->load_state(snapshot);
  (void)restored;  // the snapshot is the simulator's own output
  print_error("webhook delivery to " + options_.webhook_url + " failed (" + failure +
              "): " + std::to_string(deliveries.size()) + " webhook(s) stay queued" +
              (delivered > 0 ? " (" + std::to_string(delivered) + " already delivered will be sent again)" : ""));
  return delivered;
}

int Session::finish(int exit_code) {
  if (!simulator_) return exit_code;
  if (!options_.webhook_url.empty()) {
    deliver_webhooks();
  } else {
    const std::size_t now = simulator_->pending_webhooks();
    if (now > webhooks_before_) {
      print_progress(std::to_string(now - webhooks_before_) + " webhook(s) queued (" + std::to_string(now) +
                     " in all); `wagroups sandbox webhooks` shows them");
    }
  }
  const std::string text = simulator_->save_state();
  std::string saved;
  if (text.empty() || text.front() != '{') {
    saved = text;
  } else {
    saved = "{\"wagroups_cli\":" + config_json(config_) + (text.size() > 2 ? "," + text.substr(1) : "}");
  }
  std::string error;
  if (!write_file_atomically(state_path_, saved, error)) {
    print_error("the sandbox state was not saved: " + error);
    return exit_code == exit_ok ? exit_failure : exit_code;
  }
  return exit_code;
}

}  // namespace wagroups_cli
