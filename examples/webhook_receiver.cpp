// A webhook receiver for Meta's WhatsApp notifications, in one file.
//
//   WAGROUPS_APP_SECRET=... WAGROUPS_VERIFY_TOKEN=... ./wagroups_webhook_receiver --port 8080
//
// GET  <path>: the subscription handshake (200 with hub.challenge, or 403).
// POST <path>: signature checked over the raw body (401), parsed (400 when malformed; 413 over the
//              size limit), queued, answered 200 at once; a worker thread dispatches the events.
//              The 200 never waits for processing, so a slow handler cannot make Meta retry.
// The first stdout line is the port (useful with --port 0); events follow, one line each.
// SIGINT/SIGTERM stop it: requests in flight finish, queued batches are processed, exit 0.
//
// It listens on 127.0.0.1 only: put it behind a TLS-terminating reverse proxy, as Meta requires
// HTTPS with a CA-signed certificate.
//
// The server is cpp-httplib's, guarded by httplib_server_guard.hpp (the header wagroups' own
// servers use; it needs only cpp-httplib and POSIX, so copy it with this file): a body must come
// with a Content-Length (411), uncompressed (415), within --max-body-bytes (413); the port is
// bound by this process alone; each request must arrive whole within --request-timeout seconds,
// a new connection must start within 2 s, and 8 workers serve the connections, none kept alive
// while others wait. Plain httplib would read a chunked body of any size, inflate a gzip body
// without bound and share the port with a second receiver. A flood of connections is not bounded:
// on the open internet, put a buffering reverse proxy in front.

#include <httplib.h>
#include <httplib_server_guard.hpp>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <wagroups/webhook.hpp>

namespace {

struct Settings {
  int port = 8080;
  std::string path = "/webhook";
  std::string app_secret;    // --app-secret, else $WAGROUPS_APP_SECRET
  std::string verify_token;  // --verify-token, else $WAGROUPS_VERIFY_TOKEN
  std::size_t max_body_bytes = wagroups::WebhookLimits{}.max_body_bytes;
  int request_timeout_seconds = 10;
};

const char* const kUsage =
    "usage: wagroups_webhook_receiver [--port N (0: any free port)] [--path /webhook]\n"
    "                                 [--app-secret S] [--verify-token T] [--max-body-bytes N]\n"
    "                                 [--request-timeout SECONDS]\n"
    "The secret and token default to $WAGROUPS_APP_SECRET and $WAGROUPS_VERIFY_TOKEN.\n";

std::optional<Settings> parse_arguments(int argc, char** argv) {
  Settings s;
  if (const char* v = std::getenv("WAGROUPS_APP_SECRET")) s.app_secret = v;
  if (const char* v = std::getenv("WAGROUPS_VERIFY_TOKEN")) s.verify_token = v;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (i + 1 == argc) return std::nullopt;  // every other option takes a value
    const char* value = argv[++i];
    char* end = nullptr;
    if (arg == "--port") {
      const unsigned long port = std::strtoul(value, &end, 10);
      if (*value == '\0' || *end != '\0' || port > 65535) return std::nullopt;
      s.port = static_cast<int>(port);
    } else if (arg == "--max-body-bytes") {
      const unsigned long long bytes = std::strtoull(value, &end, 10);
      if (*value == '\0' || *end != '\0' || bytes == 0) return std::nullopt;
      s.max_body_bytes = static_cast<std::size_t>(bytes);
    } else if (arg == "--request-timeout") {
      const unsigned long seconds = std::strtoul(value, &end, 10);
      if (*value == '\0' || *end != '\0' || seconds == 0 || seconds > 3600) return std::nullopt;
      s.request_timeout_seconds = static_cast<int>(seconds);
    } else if (arg == "--path" && value[0] == '/') {
      s.path = value;
    } else if (arg == "--app-secret") {
      s.app_secret = value;
    } else if (arg == "--verify-token") {
      s.verify_token = value;
    } else {
      return std::nullopt;
    }
  }
  return s;
}

// Verified batches wait here for the worker. Bounded: when full, the POST answers 503 and Meta
// delivers the batch again later, rather than this process growing without limit.
class BatchQueue {
 public:
  explicit BatchQueue(std::size_t capacity) : capacity_(capacity) {}

  bool push(const wagroups::WebhookBatch& batch) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_ || batches_.size() >= capacity_) return false;
    batches_.push_back(batch);
    ready_.notify_one();
    return true;
  }
  // Unset once closed and drained.
  std::optional<wagroups::WebhookBatch> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [this] { return closed_ || !batches_.empty(); });
    if (batches_.empty()) return std::nullopt;
    wagroups::WebhookBatch batch = std::move(batches_.front());
    batches_.pop_front();
    return batch;
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<wagroups::WebhookBatch> batches_;
  std::size_t capacity_;
  bool closed_ = false;
};

// One event per line, flushed so that a pipe reads it now. Member-written text may hold newlines or
// terminal escapes: control bytes, and the C1 controls U+0080-U+009F (UTF-8 C2 80 to C2 9F, which
// some terminals obey like ESC), are shown as \n or \xNN so they cannot forge or garble log lines.
void print(const std::string& line) {
  static const char hex[] = "0123456789abcdef";
  const auto escape = [](std::string& out, unsigned char c) {
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 0xf];
  };
  std::string out;
  out.reserve(line.size());
  for (std::size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    const auto next = static_cast<unsigned char>(i + 1 < line.size() ? line[i + 1] : 0);
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      escape(out, c);
    } else if (c == 0xc2 && next >= 0x80 && next <= 0x9f) {
      escape(out, c);
      escape(out, next);
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  std::cout << out << std::endl;
}

// What a host does with events. Here: one line each.
wagroups::WebhookDispatcher make_dispatcher() {
  using namespace wagroups;
  WebhookDispatcher dispatcher;
  dispatcher
      .on<GroupCreated>([](const GroupCreated& e) {
        // A CRM would resolve the create_group call here (PendingOperations::observe).
        print("group_created group_id=" + e.group_id + " request_id=" + e.request_id.value_or("-") +
              " subject=" + e.subject.value_or(""));
      })
      .on<GroupMessageReceived>([](const GroupMessageReceived& m) {
        const std::string sender = m.from ? *m.from : m.from_user_id.value_or("?");
        print("group_message group_id=" + m.group_id.value_or("") + " from=" + sender +
              " type=" + m.type + (m.text ? " text=" + *m.text : ""));
      })
      .on_unknown_field("account_update", [](const UnknownEvent& e) {
        print("account_update waba_id=" + e.context.waba_id + " value=" + e.raw_json());
      })
      .otherwise([](const WebhookEvent& e) {
        print(std::string(kind_of(e)) + " field=" + context_of(e).field +
              " group_id=" + group_id_of(e).value_or("-"));
      });
  return dispatcher;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Settings> settings = parse_arguments(argc, argv);
  if (!settings) {
    std::cerr << kUsage;
    return 2;
  }
  if (settings->app_secret.empty()) {  // fail closed: nothing could be verified
    std::cerr << "wagroups_webhook_receiver: no app secret (set WAGROUPS_APP_SECRET or --app-secret)\n";
    return 2;
  }
  if (settings->verify_token.empty())
    std::cerr << "wagroups_webhook_receiver: no verify token: every handshake will get 403\n";

  // SIGINT/SIGTERM are blocked in every thread (httplib's workers inherit this mask) and taken by
  // one thread with sigwait, which may then call server.stop() (not allowed in a signal handler).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server

  // The library's WebhookEndpoint decides the statuses (401, 400, 413, 403, 200 or a 5xx from the
  // handler); this file only wires it to an HTTP server and a queue.
  wagroups::WebhookEndpointOptions endpoint_options;
  endpoint_options.app_secret = settings->app_secret;
  endpoint_options.verify_token = settings->verify_token;
  endpoint_options.limits.max_body_bytes = settings->max_body_bytes;
  const wagroups::WebhookEndpoint endpoint(endpoint_options);
  const wagroups::WebhookDispatcher dispatcher = make_dispatcher();
  BatchQueue queue(64);

  wagroups_httplib_guard::GuardLimits limits;
  limits.max_body_bytes = settings->max_body_bytes;
  limits.request_timeout = std::chrono::seconds(settings->request_timeout_seconds);
  wagroups_httplib_guard::GuardedServer server(limits);
  server.Get(settings->path, [&](const httplib::Request& req, httplib::Response& res) {
    const wagroups::WebhookResponse r = endpoint.handle_get(
        req.get_param_value("hub.mode"), req.get_param_value("hub.verify_token"), req.get_param_value("hub.challenge"));
    res.status = r.http_status;
    if (r.ok()) res.set_content(r.body, "text/plain");
  });
  server.Post(settings->path, [&](const httplib::Request& req, httplib::Response& res) {
    // Queued for the worker; a full queue answers 503 so that Meta delivers the batch again later.
    const wagroups::WebhookResponse r =
        endpoint.handle_post(std::string(req.body), req.get_header_value("X-Hub-Signature-256"),
                             [&](const wagroups::WebhookBatch& batch) -> wagroups::Result<void> {
                               if (queue.push(batch)) return {};
                               wagroups::Error full;
                               full.code = wagroups::ErrorCode::storage;
                               full.http_status = 503;
                               full.message = "the event queue is full";
                               return full;
                             });
    res.status = r.http_status;
    if (r.error)
      std::cerr << "refused a POST (" << r.http_status << "): " << r.error->to_string() << '\n';  // never the secret
  });

  errno = 0;
  const int port = settings->port == 0 ? server.bind_to_any_port("127.0.0.1")
                                       : (server.bind_to_port("127.0.0.1", settings->port) ? settings->port : -1);
  if (port < 0) {
    std::cerr << "wagroups_webhook_receiver: cannot listen on 127.0.0.1:" << settings->port << ": "
              << std::strerror(errno) << '\n';
    return 1;
  }
  print(std::to_string(port));
  std::cerr << "listening on http://127.0.0.1:" << port << settings->path << '\n';

  std::thread worker([&] {
    while (auto batch = queue.pop()) dispatcher.dispatch(*batch);
  });
  std::atomic<bool> listen_returned{false};
  std::thread signal_waiter([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    if (listen_returned) return;  // woken by main below, not by a signal
    // stop() before listen has started would be lost; wait until it runs.
    while (!server.is_running() && !listen_returned) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    server.stop();
  });

  const bool clean = server.listen_after_bind();  // returns once stopped and in-flight requests are done
  listen_returned = true;
  pthread_kill(signal_waiter.native_handle(), SIGTERM);  // wakes the waiter if no signal came
  signal_waiter.join();
  queue.close();  // the worker processes what is queued, then ends
  worker.join();
  std::cerr << "stopped\n";
  return clean ? 0 : 1;
}
