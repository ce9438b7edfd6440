#pragma once

/// @file
/// `FakeTransport`: records every request and replays queued responses, for host tests that must
/// not touch the network. Part of the `wagroups::testing` target.

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "wagroups/client/options.hpp"
#include "wagroups/http/transport.hpp"

#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace testing {

/// Thread-safe. Responses are served in the order queued; when the queue is empty the handler
/// (if set) answers, otherwise `send` returns a transport error saying nothing was queued.
class FakeTransport final : public Transport {
 public:
  using Handler = std::function<Result<HttpResponse>(const HttpRequest&)>;

  /// Queues an HTTP answer.
  void enqueue(HttpResponse response) {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.emplace_back(std::move(response));
  }
  /// Queues an answer with a status and a (JSON) body.
  void enqueue(int status, std::string body, HttpHeaders headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    if (!find_header(r.headers, "Content-Type")) r.headers.emplace_back("Content-Type", "application/json");
    enqueue(std::move(r));
  }
  /// Queues a transport failure (e.g. `Error::transport_failure(7, "connect", false)`).
  void enqueue_error(Error error) {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.emplace_back(std::move(error));
  }
  /// Answers requests once the queue is empty.
  void set_handler(Handler handler) {
    std::lock_guard<std::mutex> lock(mutex_);
    handler_ = std::move(handler);
  }

  Result<HttpResponse> send(const HttpRequest& request) override {
    Handler handler;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(request);
      if (!queue_.empty()) {
        Result<HttpResponse> next = std::move(queue_.front());
        queue_.pop_front();
        return next;
      }
      handler = handler_;
    }
    if (handler) return handler(request);
    return Error::transport_failure(0, "FakeTransport: no response queued for " +
                                           std::string(to_string(request.method)) + " " + request.url,
                                    false);
  }

  /// Every request sent so far, oldest first.
  std::vector<HttpRequest> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  HttpRequest last_request() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_.empty() ? HttpRequest{} : requests_.back();
  }
  std::size_t request_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_.size();
  }
  std::size_t pending_responses() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.size();
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.clear();
    queue_.clear();
  }

 private:
  mutable std::mutex mutex_;
  std::deque<Result<HttpResponse>> queue_;
  std::vector<HttpRequest> requests_;
  Handler handler_;
};

/// A sleeper for `ClientOptions::sleeper` that records the delays asked for instead of sleeping.
class RecordingSleeper {
 public:
  Sleeper as_sleeper() {
    return [this](std::chrono::milliseconds d) {
      std::lock_guard<std::mutex> lock(mutex_);
      delays_.push_back(d);
    };
  }
  std::vector<std::chrono::milliseconds> delays() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return delays_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::chrono::milliseconds> delays_;
};

}  // namespace testing
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
