// SandboxServer: the Simulator behind a cpp-httplib server on a loopback address, and a delivery
// thread that POSTs the simulator's webhooks to the host's endpoint.

#include "wagroups/sandbox/server.hpp"

#include <httplib.h>

#include "../http/httplib_server_guard.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sandbox {

namespace {

// httplib parses a multipart/form-data body into parts and never exposes its raw bytes; the
// pre-routing hook hides the content type under this name so the body arrives whole, and the
// request handler puts it back before the simulator sees the request.
constexpr const char* kStashedContentType = "X-Wagroups-Sandbox-Content-Type";

constexpr std::size_t kMaxPayloadBytes = 16u * 1024u * 1024u;  // a 5 MB picture plus slack
// How often the delivery thread collects webhooks produced outside Graph calls (simulated people).
constexpr std::chrono::milliseconds kCollectInterval{20};
constexpr std::chrono::milliseconds kFirstBackoff{25};
constexpr std::chrono::milliseconds kMaxBackoff{500};

// The guard's defaults (8 workers, 5 s per read or write, 100 requests per connection) with the
// sandbox's body limit and the caller's request timeout.
wagroups_httplib_guard::GuardLimits guard_limits(const ServerOptions& options) {
  wagroups_httplib_guard::GuardLimits limits;
  limits.max_body_bytes = kMaxPayloadBytes;
  if (options.request_timeout.count() > 0) limits.request_timeout = options.request_timeout;
  return limits;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Headers httplib adds to a request for its own handlers; not part of what the client sent.
bool is_httplib_pseudo_header(std::string_view name) noexcept {
  return iequals(name, "REMOTE_ADDR") || iequals(name, "REMOTE_PORT") ||
         iequals(name, "LOCAL_ADDR") || iequals(name, "LOCAL_PORT") ||
         iequals(name, kStashedContentType);
}

// Framing is httplib's job when it writes the response.
bool is_framing_header(std::string_view name) noexcept {
  return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
         iequals(name, "Connection") || iequals(name, "Keep-Alive");
}

bool starts_with_ci(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

struct WebhookTarget {
  std::string scheme_host_port;  // "http://127.0.0.1:8080"
  std::string path;              // "/webhook?x=1"
  std::string for_logs;          // without the query, which may carry a token
};

std::optional<WebhookTarget> parse_webhook_url(const std::string& url) {
  const bool http = starts_with_ci(url, "http://");
  const bool https = starts_with_ci(url, "https://");
  if (!http && !https) return std::nullopt;
  const std::size_t authority = url.find("://") + 3;
  std::size_t slash = url.find_first_of("/?#", authority);
  if (slash == std::string::npos) slash = url.size();
  if (slash == authority || url.find('@', authority) < slash) return std::nullopt;  // no host; userinfo
  if (url.find_first_of(" \r\n\t") != std::string::npos) return std::nullopt;
  WebhookTarget t;
  t.scheme_host_port = url.substr(0, slash);
  std::string rest = url.substr(slash);
  if (const std::size_t hash = rest.find('#'); hash != std::string::npos) rest.erase(hash);
  if (rest.empty() || rest[0] != '/') rest.insert(0, "/");
  t.path = rest;
  t.for_logs = t.scheme_host_port + rest.substr(0, rest.find('?'));
  return t;
}

// The webhook queue. Shared with the simulator's sink, so that a sink call racing with stop()
// never touches a destroyed server.
struct Outbox {
  struct Item {
    WebhookDelivery delivery;
    std::chrono::steady_clock::time_point due;
  };
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Item> queue;
  bool in_flight = false;
  bool stopping = false;
  std::chrono::milliseconds delay{0};
  std::atomic<std::size_t> delivered{0};

  void push(const WebhookDelivery& delivery) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (stopping) return;
      queue.push_back(Item{delivery, std::chrono::steady_clock::now() + delay});
    }
    changed.notify_all();
  }
};

}  // namespace

struct SandboxServer::Impl {
  Impl(Simulator& sim, ServerOptions opts) : simulator(sim), options(std::move(opts)), server(guard_limits(options)) {}
  ~Impl() { stop(); }

  Simulator& simulator;
  ServerOptions options;
  std::string bind_host;  // the address bound: "127.0.0.1" or "::1"
  std::string url_host;   // as it appears in URLs: "127.0.0.1" or "[::1]"
  int port = 0;

  // Refuses chunked, compressed and oversized bodies before reading them, binds alone (no
  // SO_REUSEPORT) and bounds what a slow client can hold (src/http/httplib_server_guard.hpp).
  wagroups_httplib_guard::GuardedServer server;
  std::thread listener;

  // Webhooks; all unset without a webhook_url.
  std::shared_ptr<Outbox> outbox;
  std::optional<WebhookTarget> target;
  std::unique_ptr<httplib::Client> webhook_client;
  std::thread deliverer;
  std::atomic<bool> deliverer_done{false};
  // Serialises flushes, so that deliveries enter the outbox in the simulator's queue order.
  std::mutex flush_mutex;

  std::mutex stop_mutex;
  bool stopped = false;

  std::string base_url() const { return "http://" + url_host + ":" + std::to_string(port); }

  void collect_webhooks() {
    if (!outbox) return;
    std::lock_guard<std::mutex> lock(flush_mutex);
    simulator.flush();
  }

  void serve(const httplib::Request& req, httplib::Response& res, HttpMethod method) {
    HttpRequest in;
    in.method = method;
    in.url = base_url() + req.target;  // the target as sent: path and query still percent-encoded
    std::optional<std::string> stashed;
    if (auto it = req.headers.find(kStashedContentType); it != req.headers.end()) stashed = it->second;
    in.headers.reserve(req.headers.size());
    for (const auto& [name, value] : req.headers) {
      if (is_httplib_pseudo_header(name)) continue;
      if (stashed && iequals(name, "Content-Type")) {
        in.headers.emplace_back(name, *stashed);
        continue;
      }
      in.headers.emplace_back(name, value);
    }
    in.body = req.body;

    HttpResponse out = simulator.handle(in);
    // Deliveries the call produced move to the outbox before the client sees the answer.
    collect_webhooks();

    res.status = out.status;
    bool has_content_type = false;
    for (const auto& [name, value] : out.headers) {
      if (is_framing_header(name)) continue;
      if (iequals(name, "Content-Type")) has_content_type = true;
      res.set_header(name, value);
    }
    // httplib would label a body without a type text/plain; Graph answers are JSON.
    if (!has_content_type && !out.body.empty())
      res.set_header("Content-Type", "application/json; charset=UTF-8");
    res.body = std::move(out.body);
  }

  // A drop is logged with the field, the URL without its query, and the last outcome; never the
  // body, its signature or the secret.
  static void log_drop(const WebhookTarget& t, const WebhookDelivery& d, int attempts,
                       const std::string& last) {
    std::cerr << "wagroups sandbox: dropped a " << (d.field.empty() ? "webhook" : d.field)
              << " webhook to " << t.for_logs << " after " << attempts << " attempt"
              << (attempts == 1 ? "" : "s") << " (last: " << last << ")\n";
  }

  // Waits up to `d` unless stopping; true when stop() interrupted.
  bool pause(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(outbox->mutex);
    return outbox->changed.wait_for(lock, d, [this] { return outbox->stopping; });
  }

  void deliver(const WebhookDelivery& delivery) {
    const int attempts_allowed = 1 + options.webhook_retries;
    std::string last;
    for (int attempt = 1; attempt <= attempts_allowed; ++attempt) {
      if (attempt > 1) {
        auto backoff = kFirstBackoff * (1 << std::min(attempt - 2, 5));
        if (pause(std::min(backoff, kMaxBackoff))) return;
      }
      httplib::Headers headers{{"X-Hub-Signature-256", delivery.signature},
                               {"User-Agent", "wagroups-sandbox"}};
      auto result = webhook_client->Post(target->path, headers, delivery.body, "application/json");
      if (result && result->status == 200) {
        outbox->delivered.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      {
        std::lock_guard<std::mutex> lock(outbox->mutex);
        if (outbox->stopping) return;
      }
      last = result ? "HTTP " + std::to_string(result->status)
                    : "connection failed: " + httplib::to_string(result.error());
    }
    log_drop(*target, delivery, attempts_allowed, last);
  }

  void run_deliveries() {
    for (;;) {
      WebhookDelivery next;
      {
        std::unique_lock<std::mutex> lock(outbox->mutex);
        while (!outbox->stopping && outbox->queue.empty()) {
          if (!outbox->changed.wait_for(lock, kCollectInterval, [this] {
                return outbox->stopping || !outbox->queue.empty();
              })) {
            lock.unlock();
            collect_webhooks();  // e.g. a simulated member joined or wrote
            lock.lock();
          }
        }
        if (outbox->stopping) break;
        const auto due = outbox->queue.front().due;
        if (outbox->changed.wait_until(lock, due, [this] { return outbox->stopping; })) break;
        next = std::move(outbox->queue.front().delivery);
        outbox->queue.pop_front();
        outbox->in_flight = true;
      }
      deliver(next);
      {
        std::lock_guard<std::mutex> lock(outbox->mutex);
        outbox->in_flight = false;
      }
      outbox->changed.notify_all();
    }
    deliverer_done.store(true);
  }

  bool wait_for_webhooks(std::chrono::milliseconds timeout) {
    if (!outbox) return simulator.pending_webhooks() == 0;
    collect_webhooks();
    std::unique_lock<std::mutex> lock(outbox->mutex);
    auto idle = [this] { return outbox->queue.empty() && !outbox->in_flight; };
    outbox->changed.wait_for(lock, timeout, [&] { return idle() || outbox->stopping; });
    return idle();
  }

  void stop() {
    std::lock_guard<std::mutex> guard(stop_mutex);
    if (stopped) return;
    stopped = true;
    if (listener.joinable()) {
      server.stop();
      listener.join();  // also joins httplib's worker threads
    }
    if (!outbox) return;
    simulator.set_webhook_sink({});
    std::size_t undelivered = 0;
    {
      std::lock_guard<std::mutex> lock(outbox->mutex);
      outbox->stopping = true;
      undelivered = outbox->queue.size();
      outbox->queue.clear();
    }
    outbox->changed.notify_all();
    if (deliverer.joinable()) {
      // A POST in progress is cut short; repeated because one may be just about to start.
      while (!deliverer_done.load()) {
        webhook_client->stop();
        std::unique_lock<std::mutex> lock(outbox->mutex);
        outbox->changed.wait_for(lock, std::chrono::milliseconds(10));
      }
      deliverer.join();
    }
    if (undelivered > 0)
      std::cerr << "wagroups sandbox: stopped with " << undelivered << " webhook"
                << (undelivered == 1 ? "" : "s") << " undelivered\n";
  }
};

Result<std::unique_ptr<SandboxServer>> SandboxServer::start(Simulator& simulator, ServerOptions options) {
  std::string bind_host, url_host;
  if (options.host == "127.0.0.1" || options.host == "localhost") {
    bind_host = url_host = "127.0.0.1";  // never let "localhost" resolve to something else
  } else if (options.host == "::1") {
    bind_host = "::1";
    url_host = "[::1]";
  } else {
    return Error::invalid_argument("host", "a loopback address: 127.0.0.1, ::1 or localhost",
                                   "the sandbox server listens on loopback addresses only, not \"" +
                                       options.host + "\"");
  }
  if (options.port < 0 || options.port > 65535)
    return Error::invalid_argument("port", "0 (ephemeral) to 65535", "port out of range");
  if (options.webhook_retries < 0)
    return Error::invalid_argument("webhook_retries", "0 or more", "negative retry count");
  if (options.request_timeout.count() <= 0)
    return Error::invalid_argument("request_timeout", "more than 0 ms", "the request timeout must be positive");
  if (options.webhook_delay.count() < 0)
    return Error::invalid_argument("webhook_delay", "0 ms or more", "negative webhook delay");
  std::optional<WebhookTarget> target;
  if (options.webhook_url) {
    target = parse_webhook_url(*options.webhook_url);
    if (!target)
      return Error::invalid_argument("webhook_url", "an http:// or https:// URL with a host",
                                     "the webhook URL cannot be used");
  }

  auto impl = std::make_unique<Impl>(simulator, std::move(options));
  impl->bind_host = bind_host;
  impl->url_host = url_host;
  Impl* self = impl.get();

  if (target) {
    impl->target = target;
    impl->webhook_client = std::make_unique<httplib::Client>(target->scheme_host_port);
    if (!impl->webhook_client->is_valid())
      return Error::invalid_argument("webhook_url", "an http:// or https:// URL with a host",
                                     "the webhook URL cannot be used");
    impl->webhook_client->set_connection_timeout(std::chrono::seconds(2));
    impl->webhook_client->set_read_timeout(std::chrono::seconds(5));
    impl->webhook_client->set_write_timeout(std::chrono::seconds(5));
  }

  wagroups_httplib_guard::GuardedServer& server = impl->server;
  server.set_tcp_nodelay(true);  // else each response's body waits for a delayed ACK
  // Runs after the guard's refusals (411, 413, 415, 400), for the requests it lets through.
  server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    // httplib hands its own non-const Request to this hook as const; see kStashedContentType.
    auto& mutable_req = const_cast<httplib::Request&>(req);
    mutable_req.headers.erase(kStashedContentType);  // only this hook may set it
    auto it = mutable_req.headers.find("Content-Type");
    if (it != mutable_req.headers.end() && starts_with_ci(it->second, "multipart/form-data")) {
      std::string original = std::move(it->second);
      it->second = "application/octet-stream";
      mutable_req.headers.emplace(kStashedContentType, std::move(original));
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.Get(".*", [self](const httplib::Request& req, httplib::Response& res) {
    self->serve(req, res, HttpMethod::get);
  });
  server.Post(".*", [self](const httplib::Request& req, httplib::Response& res) {
    self->serve(req, res, HttpMethod::post);
  });
  server.Delete(".*", [self](const httplib::Request& req, httplib::Response& res) {
    self->serve(req, res, HttpMethod::delete_);
  });

  const std::string address = url_host + ":" + std::to_string(impl->options.port);
  if (impl->options.port == 0) {
    impl->port = server.bind_to_any_port(bind_host);
  } else {
    impl->port = server.bind_to_port(bind_host, impl->options.port) ? impl->options.port : -1;
  }
  if (impl->port <= 0)
    return Error::transport_failure(0, "sandbox server: cannot listen on " + address +
                                           " (address in use or not available)",
                                    false);
  impl->listener = std::thread([self] { self->server.listen_after_bind(); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!server.is_running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      // listen_after_bind never got going; close the socket so that the thread ends.
      server.stop();
      if (impl->listener.joinable()) impl->listener.join();
      return Error::transport_failure(0, "sandbox server: did not start on " + address, false);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  if (target) {
    impl->outbox = std::make_shared<Outbox>();
    impl->outbox->delay = impl->options.webhook_delay;
    simulator.set_webhook_sink(
        [outbox = impl->outbox](const WebhookDelivery& delivery) { outbox->push(delivery); });
    impl->deliverer = std::thread([self] { self->run_deliveries(); });
  }
  return std::unique_ptr<SandboxServer>(new SandboxServer(std::move(impl)));
}

SandboxServer::SandboxServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SandboxServer::~SandboxServer() { stop(); }

int SandboxServer::port() const noexcept { return impl_->port; }

std::string SandboxServer::base_url() const { return impl_->base_url(); }

bool SandboxServer::wait_for_webhooks(std::chrono::milliseconds timeout) {
  return impl_->wait_for_webhooks(timeout);
}

std::size_t SandboxServer::webhooks_delivered() const noexcept {
  return impl_->outbox ? impl_->outbox->delivered.load(std::memory_order_relaxed) : 0;
}

void SandboxServer::stop() { impl_->stop(); }

}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
