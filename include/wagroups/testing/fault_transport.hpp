#pragma once

/// @file
/// `FaultTransport`: wraps any `Transport` and, by a plan the test gives, makes calls fail the
/// way networks do (a refused connect, a reset before or after the request was written, a
/// truncated or slow body, 5xx and 429 storms), recording what reached the wrapped transport.
/// Part of the `wagroups::testing` target (header-only, no curl: the curl codes are spelled out).
///
/// The failures follow the `Transport` error model: an `Error` of kind `transport`, with
/// `request_may_have_been_sent` false only when nothing left this host (connect failure, reset
/// before the request was written); those calls never reach the inner transport. The others
/// reach it first (the server may have acted on them), and only their answer is spoiled.
///
/// @code
/// auto inner = std::make_shared<wagroups::testing::FakeTransport>();
/// auto faults = std::make_shared<wagroups::testing::FaultTransport>(inner);
/// faults->at_call(0, wagroups::testing::FaultStep::reset_after_write());
/// faults->on(wagroups::testing::match_method(wagroups::HttpMethod::get),
///            wagroups::testing::FaultStep::answer(503), 3);  // a storm of three 503s
/// @endcode

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "wagroups/client/options.hpp"
#include "wagroups/http/transport.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace testing {

/// libcurl's codes for the failures injected (the values of curl/curl.h, which this header must
/// not include), so that errors look like `CurlTransport`'s.
namespace fault_curl_codes {
inline constexpr int couldnt_connect = 7;      // CURLE_COULDNT_CONNECT
inline constexpr int partial_file = 18;        // CURLE_PARTIAL_FILE
inline constexpr int operation_timedout = 28;  // CURLE_OPERATION_TIMEDOUT
inline constexpr int send_error = 55;          // CURLE_SEND_ERROR
inline constexpr int recv_error = 56;          // CURLE_RECV_ERROR
}  // namespace fault_curl_codes

enum class Fault {
  pass,                ///< forwarded; the inner transport's outcome is returned as it is
  connect_failure,     ///< not forwarded; curl 7, nothing sent
  reset_before_write,  ///< not forwarded; curl 55, nothing sent
  reset_after_write,   ///< forwarded, its answer lost; curl 56, may have been sent
  truncated_body,      ///< forwarded; the answer's body is cut; curl 18, may have been sent
  slow_body,           ///< forwarded; the body arrives in chunks, each after a (virtual) delay:
                       ///< curl 28 (may have been sent) once the request's timeout is spent
  answer,              ///< forwarded (the server acted), then answered with `status` instead
};

/// "pass", "connect_failure", ...
inline const char* to_string(Fault fault) noexcept {
  switch (fault) {
    case Fault::pass: return "pass";
    case Fault::connect_failure: return "connect_failure";
    case Fault::reset_before_write: return "reset_before_write";
    case Fault::reset_after_write: return "reset_after_write";
    case Fault::truncated_body: return "truncated_body";
    case Fault::slow_body: return "slow_body";
    case Fault::answer: return "answer";
  }
  return "pass";
}

/// One call's fault and its parameters.
struct FaultStep {
  Fault fault = Fault::pass;
  int status = 503;                          ///< answer: the HTTP status
  std::string body;                          ///< answer: the body (empty: none)
  std::optional<std::string> retry_after;    ///< answer: a Retry-After header value
  std::size_t keep_bytes = 0;                ///< truncated_body: bytes of the body that arrive
  std::size_t chunks = 4;                    ///< slow_body: the body arrives in this many chunks
  std::chrono::milliseconds chunk_delay{0};  ///< slow_body: the wait before each chunk

  static FaultStep pass() { return {}; }
  static FaultStep connect_failure() { return with(Fault::connect_failure); }
  static FaultStep reset_before_write() { return with(Fault::reset_before_write); }
  static FaultStep reset_after_write() { return with(Fault::reset_after_write); }
  static FaultStep truncated_body(std::size_t keep_bytes = 0) {
    FaultStep s = with(Fault::truncated_body);
    s.keep_bytes = keep_bytes;
    return s;
  }
  static FaultStep slow_body(std::size_t chunks, std::chrono::milliseconds chunk_delay) {
    FaultStep s = with(Fault::slow_body);
    s.chunks = chunks;
    s.chunk_delay = chunk_delay;
    return s;
  }
  /// A 5xx or 429 answer (`retry_after` set: with that Retry-After header).
  static FaultStep answer(int status, std::string body = {}, std::optional<std::string> retry_after = std::nullopt) {
    FaultStep s = with(Fault::answer);
    s.status = status;
    s.body = std::move(body);
    s.retry_after = std::move(retry_after);
    return s;
  }

 private:
  static FaultStep with(Fault f) {
    FaultStep s;
    s.fault = f;
    return s;
  }
};

/// Chooses the requests a rule applies to.
using RequestMatcher = std::function<bool(const HttpRequest&)>;

inline RequestMatcher match_any() {
  return [](const HttpRequest&) { return true; };
}
inline RequestMatcher match_method(HttpMethod method) {
  return [method](const HttpRequest& r) { return r.method == method; };
}
/// Requests whose URL contains `part` (e.g. "/invite_link").
inline RequestMatcher match_url_containing(std::string part) {
  return [part = std::move(part)](const HttpRequest& r) { return r.url.find(part) != std::string::npos; };
}

/// Thread-safe. For each call, the plan is read in this order: a step set for that call's index
/// (`at_call`, 0-based over every call the wrapper saw), then the first rule (`on`, in the order
/// added) whose matcher accepts the request and which has steps left; otherwise the call passes.
/// Virtual time: slow bodies call the sleeper (by default none: the delay is only counted), never
/// the wall clock.
class FaultTransport final : public Transport {
 public:
  /// What happened to one call.
  struct Record {
    std::size_t index = 0;
    HttpRequest request;
    Fault fault = Fault::pass;
    bool reached_inner = false;
  };

  explicit FaultTransport(std::shared_ptr<Transport> inner) : inner_(std::move(inner)) {}

  /// The fault of the call with this index (0 = the first call).
  void at_call(std::size_t index, FaultStep step) {
    std::lock_guard<std::mutex> lock(mutex_);
    by_index_[index] = std::move(step);
  }
  /// The next `times` calls that `matcher` accepts get `step`.
  void on(RequestMatcher matcher, FaultStep step, std::size_t times) {
    on(std::move(matcher), std::vector<FaultStep>(times, std::move(step)));
  }
  /// The calls that `matcher` accepts get `steps`, one each, in order.
  void on(RequestMatcher matcher, std::vector<FaultStep> steps) {
    std::lock_guard<std::mutex> lock(mutex_);
    rules_.push_back(Rule{std::move(matcher), std::move(steps), 0});
  }
  /// Every call `matcher` accepts gets `step`, for ever (a storm without end).
  void always(RequestMatcher matcher, FaultStep step) {
    std::lock_guard<std::mutex> lock(mutex_);
    rules_.push_back(Rule{std::move(matcher), {std::move(step)}, 0, true});
  }
  /// Called with each slow-body delay (virtual time; e.g. a `RecordingSleeper`).
  void set_sleeper(Sleeper sleeper) {
    std::lock_guard<std::mutex> lock(mutex_);
    sleeper_ = std::move(sleeper);
  }

  Result<HttpResponse> send(const HttpRequest& request) override {
    FaultStep step;
    std::size_t index = 0;
    Sleeper sleeper;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      index = records_.size();
      step = choose(index, request);
      sleeper = sleeper_;
      records_.push_back(Record{index, request, step.fault, false});
    }
    if (step.fault == Fault::connect_failure) {
      return Error::transport_failure(fault_curl_codes::couldnt_connect, "curl: Couldn't connect to server (injected)",
                                      false);
    }
    if (step.fault == Fault::reset_before_write) {
      return Error::transport_failure(fault_curl_codes::send_error,
                                      "curl: Failed sending data to the peer: Connection reset by peer (injected)",
                                      false);
    }

    Result<HttpResponse> inner = inner_->send(request);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      records_[index].reached_inner = true;
      reached_.push_back(request);
    }
    switch (step.fault) {
      case Fault::reset_after_write:
        return Error::transport_failure(fault_curl_codes::recv_error,
                                        "curl: Failure when receiving data from the peer: Connection reset by peer "
                                        "(injected)",
                                        true);
      case Fault::truncated_body: {
        if (!inner) return inner;
        return Error::transport_failure(fault_curl_codes::partial_file,
                                        "curl: Transferred a partial file: " + std::to_string(step.keep_bytes) +
                                            " of " + std::to_string(inner->body.size()) + " bytes (injected)",
                                        true);
      }
      case Fault::slow_body: return slow(std::move(inner), step, request, sleeper);
      case Fault::answer: {
        HttpResponse r;
        r.status = step.status;
        if (!step.body.empty()) r.headers.emplace_back("Content-Type", "application/json");
        if (step.retry_after) r.headers.emplace_back("Retry-After", *step.retry_after);
        r.body = step.body;
        return r;
      }
      default: return inner;
    }
  }

  /// Every request that reached the inner transport, oldest first.
  std::vector<HttpRequest> reached_inner() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return reached_;
  }
  std::size_t reached_inner_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return reached_.size();
  }
  /// Every call the wrapper saw, with the fault it got.
  std::vector<Record> records() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_;
  }
  std::size_t call_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_.size();
  }
  /// The virtual time slow bodies took, in total.
  std::chrono::milliseconds slow_time() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return slow_time_;
  }

 private:
  struct Rule {
    RequestMatcher matcher;
    std::vector<FaultStep> steps;
    std::size_t used = 0;
    bool forever = false;
  };

  FaultStep choose(std::size_t index, const HttpRequest& request) {
    if (auto it = by_index_.find(index); it != by_index_.end()) return it->second;
    for (Rule& rule : rules_) {
      if (!rule.forever && rule.used >= rule.steps.size()) continue;
      if (!rule.matcher || !rule.matcher(request)) continue;
      if (rule.forever) return rule.steps.front();
      return rule.steps[rule.used++];
    }
    return FaultStep::pass();
  }

  // The answer's body arrives chunk by chunk; a request timeout (if it has one) spent before the
  // last chunk ends the exchange as curl would: timed out, the request possibly acted on.
  Result<HttpResponse> slow(Result<HttpResponse> inner, const FaultStep& step, const HttpRequest& request,
                            const Sleeper& sleeper) {
    if (!inner) return inner;
    std::chrono::milliseconds spent{0};
    for (std::size_t i = 0; i < step.chunks; ++i) {
      if (request.timeout.count() > 0 && spent + step.chunk_delay > request.timeout) {
        if (sleeper) sleeper(request.timeout - spent);
        add_slow_time(request.timeout);
        return Error::transport_failure(fault_curl_codes::operation_timedout,
                                        "curl: Timeout was reached: the body was still arriving (injected)", true);
      }
      if (sleeper) sleeper(step.chunk_delay);
      spent += step.chunk_delay;
    }
    add_slow_time(spent);
    return inner;
  }

  void add_slow_time(std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> lock(mutex_);
    slow_time_ += d;
  }

  std::shared_ptr<Transport> inner_;
  mutable std::mutex mutex_;
  std::map<std::size_t, FaultStep> by_index_;
  std::vector<Rule> rules_;
  std::vector<Record> records_;
  std::vector<HttpRequest> reached_;
  Sleeper sleeper_;
  std::chrono::milliseconds slow_time_{0};
};

}  // namespace testing
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
