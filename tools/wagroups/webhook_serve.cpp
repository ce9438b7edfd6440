// `wagroups webhook serve`: a webhook endpoint on 127.0.0.1 that verifies, parses and applies
// each notification into a ticket store (a SQLite file, or PostgreSQL: `--store postgresql://...`
// or $WAGROUPS_STORE), answering 200 only once the store committed (so a failure gets Meta's
// redelivery), and prints one line per ticket change.
//
// Concurrent POSTs are group-committed (wagroups::GroupCommitter): the bodies that arrive while a
// transaction commits go together into the next one, one fsync for all, each answered after it.
// That needs as many request threads as POSTs in flight, hence --workers (64 by default, against
// the guard's 8); a lone POST still commits at once.

#include <httplib.h>
#include <httplib_server_guard.hpp>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <wagroups/tickets.hpp>
#include <wagroups/webhook.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "output.hpp"
#include "ticket_view.hpp"

namespace wagroups_cli {
namespace {

struct ServeOptions {
  int port = 8080;
  std::string path = "/webhook";
  std::string app_secret;
  std::string app_secret_file;
  std::string verify_token;
  StoreOptions store;
  std::size_t max_body_bytes = wagroups::WebhookLimits{}.max_body_bytes;
  int auto_resolve_minutes = 0;
  int auto_close_minutes = 0;
  int request_timeout_seconds = 10;
  int workers = 64;
  std::size_t max_bodies_per_commit = wagroups::GroupCommitOptions{}.max_bodies_per_unit;
  bool json = false;
};

// The app secret, and every body it verified, live in this long-running process's memory: a core
// file would put them on disk. So no core files (RLIMIT_CORE 0, the hard limit too, so nothing in
// the process raises it again) and, on Linux, not dumpable (no core even where the limit is
// ignored, e.g. a core_pattern pipe; and /proc/<pid>/mem and ptrace closed to the same user).
void forbid_core_dumps() {
  const rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0) {
    print_progress(std::string("warning: could not disable core files: ") + std::strerror(errno));
  }
#ifdef __linux__
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    print_progress(std::string("warning: could not make the process non-dumpable: ") + std::strerror(errno));
  }
#endif
}

int run_serve(ServeOptions o) {
  forbid_core_dumps();               // first, before the secret file is read or a body arrives
  if (!o.app_secret_file.empty()) {  // the file wins over $WAGROUPS_APP_SECRET
    int code = exit_ok;
    auto secret = read_secret_file("--app-secret-file", o.app_secret_file, code);
    if (!secret) return code;
    o.app_secret = std::move(*secret);
  } else if (o.app_secret.empty()) {  // --app-secret, then the environment
    if (const char* from_env = std::getenv("WAGROUPS_APP_SECRET")) o.app_secret = from_env;
  }
  if (o.app_secret.empty()) {  // fail closed: nothing could be verified
    print_error("webhook serve: no app secret: pass --app-secret-file or --app-secret, or set WAGROUPS_APP_SECRET");
    return exit_usage;
  }
  if (o.verify_token.empty()) print_progress("no verify token: every subscription handshake (GET) gets 403");

  int code = exit_ok;
  const std::string shown = shown_store(o.store.spec());  // never the password
  auto store = open_ticket_store(o.store, code);
  if (!store) return code;
  // A store without dead letters (ErrorCode::unsupported) declines them: the endpoint then answers
  // a signed body it cannot parse 400, as without a sink, and it is lost. Said once, up front.
  wagroups::DeadLetterQuery probe;
  probe.limit = 1;
  const auto probed = store->dead_letters(probe);
  const bool keeps_dead_letters = probed || probed.error().code != wagroups::ErrorCode::unsupported;
  if (!keeps_dead_letters)
    print_progress("the ticket store " + shown +
                   " keeps no dead letters: a signed body that does not parse "
                   "is answered 400 and not kept");
  wagroups::ResolutionPolicy policy;
  policy.auto_resolve_after = std::chrono::minutes(o.auto_resolve_minutes);
  policy.auto_close_after = std::chrono::minutes(o.auto_close_minutes);
  wagroups::TicketAggregator tickets(*store, policy);
  wagroups::GroupCommitOptions commit_options;
  commit_options.max_bodies_per_unit = o.max_bodies_per_commit;
  wagroups::GroupCommitter committer(tickets, commit_options);
  const bool ticking = o.auto_resolve_minutes > 0 || o.auto_close_minutes > 0;

  // SIGINT/SIGTERM are blocked in every thread (httplib's workers inherit the mask) and taken by
  // one thread with sigwait, which may then call server.stop() (not allowed in a signal handler).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  wagroups::WebhookEndpointOptions endpoint_options;
  endpoint_options.app_secret = o.app_secret;
  endpoint_options.verify_token = o.verify_token;
  endpoint_options.limits.max_body_bytes = o.max_body_bytes;
  // A verified body the parser refuses is kept in the store, as the endpoint's TicketAggregator
  // overload would; it is rare, so it is not group-committed.
  wagroups::TicketStore& dead_letter_store = *store;
  endpoint_options.dead_letters = [&dead_letter_store](const wagroups::DeadLetter& letter) -> wagroups::Result<void> {
    auto id = dead_letter_store.add_dead_letter(letter);
    if (!id) return std::move(id).error();
    return {};
  };
  const wagroups::WebhookEndpoint endpoint(std::move(endpoint_options));
  wipe_secret(o.app_secret);  // the endpoint holds its key schedule; the text is not needed again
  std::mutex output;  // one batch's lines stay together

  auto print_changes = [&](const wagroups::ApplyOutcome& outcome) {
    std::lock_guard<std::mutex> lock(output);
    for (const auto& change : outcome.changes) {
      if (change.kind == wagroups::TicketChangeKind::not_applicable) continue;
      write_line(o.json ? change_json(change) : describe_change(change));
    }
  };

  // Chunked, length-less (411), compressed (415) and oversized (413) bodies are refused before a
  // byte is read; the port is bound alone; a slow client holds one of the --workers for at most
  // the request timeout, a silent one for 2 s, an idle kept-alive one not while others wait
  // (src/http/httplib_server_guard.hpp).
  wagroups_httplib_guard::GuardLimits limits;
  limits.max_body_bytes = o.max_body_bytes;
  limits.request_timeout = std::chrono::seconds(o.request_timeout_seconds);
  limits.workers = static_cast<std::size_t>(o.workers);
  wagroups_httplib_guard::GuardedServer server(limits);
  // An answer leaves in more than one write (head, body): with Nagle's algorithm the second waits
  // for the ACK of the first, which the client delays (up to 40 ms on Linux) on a kept-alive
  // connection. That capped serve at about 25 POSTs a second per connection.
  server.set_tcp_nodelay(true);
  server.Get(o.path, [&](const httplib::Request& req, httplib::Response& res) {
    const wagroups::WebhookResponse r = endpoint.handle_get(
        req.get_param_value("hub.mode"), req.get_param_value("hub.verify_token"), req.get_param_value("hub.challenge"));
    res.status = r.http_status;
    if (r.ok()) res.set_content(r.body, "text/plain");
  });
  // The policy's tick after a POST, at most once a second: with many POSTs a second, one tick (a
  // transaction of its own) per POST would cost as much as the POSTs.
  std::atomic<std::int64_t> last_tick_ms{0};
  const auto tick_due = [&last_tick_ms] {
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
    std::int64_t last = last_tick_ms.load();
    return now - last >= 1000 && last_tick_ms.compare_exchange_strong(last, now);
  };
  server.Post(o.path, [&](const httplib::Request& req, httplib::Response& res) {
    // Applied before answering: a 200 means the store committed the unit holding this body,
    // anything else makes Meta retry.
    std::optional<wagroups::ApplyOutcome> applied;
    const wagroups::WebhookResponse r =
        endpoint.handle_post(std::string(req.body), req.get_header_value("X-Hub-Signature-256"),
                             [&](const wagroups::WebhookBatch& batch) -> wagroups::Result<void> {
                               auto outcome = committer.apply(batch);
                               if (!outcome) return std::move(outcome).error();
                               applied = std::move(*outcome);
                               return {};
                             });
    res.status = r.http_status;
    if (r.dead_lettered && r.error) {
      print_error(
          "kept a verified body it could not parse as a dead letter (answered 200; see `wagroups tickets "
          "dead-letters`): " +
          r.error->to_string());
      return;
    }
    if (r.error) {
      const bool lost =
          !keeps_dead_letters && r.http_status == 400 && r.error->code != wagroups::ErrorCode::unauthenticated;
      print_error(r.http_status >= 500
                      ? "could not store a webhook (answered " + std::to_string(r.http_status) +
                            ", so it will be delivered again): " + r.error->to_string()
                      : "refused a POST (" + std::to_string(r.http_status) + "): " + r.error->to_string() +
                            (lost ? " (not kept: the ticket store keeps no dead letters)" : ""));
      return;
    }
    if (applied) print_changes(*applied);
    if (ticking && tick_due()) {
      if (const auto ticked = tickets.tick()) print_changes(*ticked);
    }
  });

  errno = 0;
  const int port =
      o.port == 0 ? server.bind_to_any_port("127.0.0.1") : (server.bind_to_port("127.0.0.1", o.port) ? o.port : -1);
  if (port < 0) {
    const int bind_errno = errno;
    print_error("webhook serve: cannot listen on 127.0.0.1:" + std::to_string(o.port) + ": " +
                (bind_errno != 0 ? std::strerror(bind_errno) : "unknown error") +
                (bind_errno == EADDRINUSE ? " (is another webhook serve running on it?)" : ""));
    return exit_failure;
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + o.path;
  if (o.json) {
    JsonWriter w;
    w.begin_object().member("listening", url).key("port").number(port).member("db", shown).end_object();
    write_line(w.text());
  } else {
    write_line("listening on " + url + " (tickets in " + shown + ")");
  }

  std::atomic<bool> listen_returned{false};
  std::mutex tick_mutex;
  std::condition_variable tick_wake;
  std::thread ticker;
  if (ticking) {
    // The policy also acts when no webhook arrives: once a minute.
    ticker = std::thread([&] {
      std::unique_lock<std::mutex> lock(tick_mutex);
      while (!tick_wake.wait_for(lock, std::chrono::minutes(1), [&] { return listen_returned.load(); })) {
        if (const auto ticked = tickets.tick()) print_changes(*ticked);
      }
    });
  }
  std::thread signal_waiter([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    if (listen_returned) return;  // woken by the main thread below, not by a signal
    // stop() before listen has started would be lost; wait until it runs.
    while (!server.is_running() && !listen_returned) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    server.stop();
  });

  const bool clean = server.listen_after_bind();  // returns once stopped and in-flight requests are done
  {
    std::lock_guard<std::mutex> lock(tick_mutex);
    listen_returned = true;
  }
  tick_wake.notify_all();
  pthread_kill(signal_waiter.native_handle(), SIGTERM);  // wakes the waiter if no signal came
  signal_waiter.join();
  if (ticker.joinable()) ticker.join();
  const wagroups::GroupCommitStats stats = committer.stats();
  print_progress("webhook serve stopped (" + std::to_string(stats.bodies) + " bodies applied in " +
                 std::to_string(stats.units) + " transactions)");
  return clean ? exit_ok : exit_failure;
}

}  // namespace

void register_webhook_serve(CLI::App& app, CommandState& state) {
  CLI::App* webhook = app.get_subcommand("webhook");
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = webhook->add_subcommand(
      "serve",
      "Receive webhooks on 127.0.0.1: verify, parse, apply into a SQLite or PostgreSQL ticket store (200 after "
      "the commit); one line per ticket change");
  cmd->add_option("--port", o->port, "Port (0: any free port; the first stdout line names it)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--path", o->path, "URL path")->capture_default_str();
  CLI::Option* app_secret =
      cmd->add_option("--app-secret", o->app_secret, "App secret for the signatures (default: $WAGROUPS_APP_SECRET)");
  // $WAGROUPS_APP_SECRET is read in run_serve: through CLI11's envname it would count as
  // --app-secret and make every --app-secret-file a usage error while it is set.
  add_app_secret_file_option(*cmd, o->app_secret_file, app_secret);
  cmd->add_option("--verify-token", o->verify_token,
                  "Token for the subscription handshake (default: $WAGROUPS_VERIFY_TOKEN)")
      ->envname("WAGROUPS_VERIFY_TOKEN");
  add_store_options(*cmd, o->store, "The ticket store (created when missing)");
  cmd->add_option("--max-body-bytes", o->max_body_bytes, "Refuse larger bodies (413)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--auto-resolve-after", o->auto_resolve_minutes,
                  "Resolve open tickets idle this many minutes (0: never)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--auto-close-after", o->auto_close_minutes,
                  "Close resolved tickets after this many minutes (0: never)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--request-timeout", o->request_timeout_seconds,
                  "Seconds a client may take to send one whole request; slower connections are closed")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--workers", o->workers,
                  "Request threads: POSTs in flight at once (each keeps one while its connection is open); the "
                  "concurrent ones share a commit")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--max-bodies-per-commit", o->max_bodies_per_commit,
                  "At most this many concurrent POST bodies in one transaction")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "One JSON object per line");
  cmd->callback([o, &state] { state.exit_code = run_serve(*o); });
}

}  // namespace wagroups_cli
