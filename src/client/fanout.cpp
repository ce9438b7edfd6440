// Client::send_to_groups: one message to many groups over Transport::send_concurrently, with a
// token-bucket rate limit, backoff on throttling and a result per group. Nothing that Meta may have
// accepted is ever sent again.

#include "wagroups/client/fanout.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>
#include <unordered_set>
#include <utility>
#include <vector>

#include "client/client_impl.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

const char* to_string(FanOutStatus status) noexcept {
  switch (status) {
    case FanOutStatus::sent: return "sent";
    case FanOutStatus::failed: return "failed";
    case FanOutStatus::unknown: return "unknown";
    case FanOutStatus::not_sent: return "not_sent";
  }
  return "unknown";
}

namespace {

using TimePoint = std::chrono::steady_clock::time_point;

// Tokens refill continuously at `rate` per second up to `capacity`; a send takes one.
class TokenBucket {
 public:
  TokenBucket(double rate, double capacity, TimePoint now)
      : rate_(rate), capacity_(capacity), tokens_(capacity), last_(now) {}

  // When the next token is there (`now` when one is).
  TimePoint ready_at(TimePoint now) {
    if (rate_ <= 0) return now;
    refill(now);
    if (tokens_ >= 1.0) return now;
    const double seconds = (1.0 - tokens_) / rate_;
    return now +
           std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
  }
  void take(TimePoint now) {
    if (rate_ <= 0) return;
    refill(now);
    tokens_ -= 1.0;
  }

 private:
  void refill(TimePoint now) {
    if (now > last_) {
      tokens_ = std::min(capacity_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
      last_ = now;
    }
  }
  double rate_;
  double capacity_;
  double tokens_;
  TimePoint last_;
};

// The longest the fan-out sleeps between two looks at its cancellation token.
constexpr std::chrono::milliseconds kSleepSlice{100};

std::chrono::milliseconds ceil_ms(std::chrono::steady_clock::duration d) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d);
  return std::max(ms, std::chrono::milliseconds(1));
}

// A template over the client's private Impl (instantiated inside the member function, which may
// name it).
template <typename ClientImpl>
class FanOut final : public ConcurrentRequests {
 public:
  FanOut(const ClientImpl& impl, const std::vector<std::string>& groups, const GroupMessage& message,
         const FanOutOptions& options)
      : impl_(impl),
        scratch_(message),
        options_(options),
        now_(options.steady_clock ? options.steady_clock : [] { return std::chrono::steady_clock::now(); }),
        sleep_(options.sleeper ? options.sleeper : impl.hooks.sleeper),
        bucket_(options.messages_per_second,
                options.burst > 0 ? static_cast<double>(options.burst)
                                  : std::max(1.0, std::floor(options.messages_per_second / 10.0)),
                now_()) {
    call_.timeout = options.timeout;
    report_.results.resize(groups.size());
    for (std::size_t i = 0; i < groups.size(); ++i) report_.results[i].group_id = groups[i];
    report_.counts.total = groups.size();
    final_.assign(groups.size(), false);
  }
  // The shared head holds a copy of the Authorization header (each request's own copy is the
  // transport's, freed when it finished).
  ~FanOut() override {
    if (head_) ClientImpl::wipe_credentials(*head_);
  }
  FanOut(const FanOut&) = delete;
  FanOut& operator=(const FanOut&) = delete;

  Next next(std::size_t in_flight) override {
    for (;;) {
      if (stop_requested()) return done();
      const TimePoint now = now_();
      const bool have_fresh = cursor_ < report_.results.size();
      if (!have_fresh && retries_.empty()) {
        // A send in flight may still come back throttled and need a repeat.
        if (in_flight == 0) return done();
        return later(std::chrono::seconds(1));
      }
      TimePoint ready = std::max(now, paused_until_);
      if (!have_fresh) ready = std::max(ready, retries_.top().first);
      ready = std::max(ready, bucket_.ready_at(now));
      if (ready > now) {
        if (in_flight > 0) return later(ceil_ms(ready - now));
        // In slices, so that a cancel during a long Retry-After (up to max_retry_after) is seen
        // within one slice rather than after the whole wait.
        sleep_(std::min(ceil_ms(ready - now), kSleepSlice));
        continue;
      }
      std::size_t index;
      if (!retries_.empty() && retries_.top().first <= now) {
        index = retries_.top().second;
        retries_.pop();
      } else {
        index = cursor_++;
      }
      FanOutResult& slot = report_.results[index];
      scratch_.group_id = slot.group_id;
      Result<std::string> body = impl_.group_message_body(scratch_);
      if (!body) {
        finish(slot, FanOutStatus::failed, std::move(body).error());
        continue;  // refused here: no token spent
      }
      bucket_.take(now);
      ++slot.attempts;
      // Every group's request differs only in its body: the rest is built once.
      if (!head_) {
        head_ = impl_.group_message_request(*body, call_);
        head_->body.clear();
      }
      Next n;
      n.kind = Next::Kind::request;
      n.request = *head_;
      n.request.body = std::move(*body);
      n.tag = index;
      return n;
    }
  }

  void completed(std::uint64_t tag, Result<HttpResponse> response) override {
    if (tag >= report_.results.size()) return;
    FanOutResult& slot = report_.results[static_cast<std::size_t>(tag)];
    if (final_[static_cast<std::size_t>(tag)]) return;  // a transport reporting twice
    Error error;
    if (response && response->status >= 200 && response->status < 300) {
      auto decoded = impl_.decode_answer(*response, &ClientImpl::decode_sent_message);
      if (decoded) {
        slot.response = std::move(*decoded);
        finish(slot, FanOutStatus::sent, std::nullopt);
        return;
      }
      // Graph's error envelope in a 2xx is a refusal; a 2xx we cannot read may well be a sent message.
      error = std::move(decoded).error();
      error.attempts = slot.attempts;
      finish(slot, error.graph ? FanOutStatus::failed : FanOutStatus::unknown, std::move(error));
      return;
    }
    // A transport's text is scrubbed as on the single-request path (Impl::execute): a host's own
    // transport may quote the Authorization header in its error.
    error = impl_.redact(response ? retry::error_of_answer(*response, impl_.hooks) : std::move(response).error());
    error.attempts = slot.attempts;
    if (retry::provably_not_accepted(error)) {
      // Not accepted, but repeated only when a repeat can succeed (throttling, a failed connect):
      // a TLS verification failure or an unsupported protocol would fail the same way every time.
      const bool retryable = error.is_retryable();
      if (retryable && slot.attempts < std::max(1, options_.max_attempts) && !stop_requested()) {
        schedule_retry(static_cast<std::size_t>(tag), error);
        slot.error = std::move(error);
        return;
      }
      finish(slot, retryable && stop_requested() ? FanOutStatus::not_sent : FanOutStatus::failed, std::move(error));
      return;
    }
    // The request left and no clear refusal came back (a broken connection, a timeout, a 5xx):
    // Meta may have sent it, so it is reported, never repeated.
    const bool refused =
        error.code == ErrorCode::graph_api ? error.http_status < 500 : error.code != ErrorCode::transport;
    finish(slot, refused ? FanOutStatus::failed : FanOutStatus::unknown, std::move(error));
  }

  FanOutReport take_report() {
    // Whatever never got a final outcome was never (re)sent: cancelled.
    for (std::size_t i = 0; i < report_.results.size(); ++i) {
      if (!final_[i]) {
        report_.results[i].status = FanOutStatus::not_sent;
        ++report_.counts.not_sent;
        ++report_.counts.finished;
      }
    }
    if (report_.counts.not_sent > 0 && options_.progress) options_.progress(report_.counts);
    report_.cancelled = cancelled_;
    return std::move(report_);
  }

 private:
  bool stop_requested() {
    if (!cancelled_) {
      cancelled_ =
          (options_.cancel && options_.cancel->cancelled()) || (options_.should_cancel && options_.should_cancel());
    }
    return cancelled_;
  }

  static Next done() { return Next{}; }
  static Next later(std::chrono::milliseconds wait) {
    Next n;
    n.kind = Next::Kind::later;
    n.wait = wait;
    return n;
  }

  void schedule_retry(std::size_t index, const Error& error) {
    const FanOutResult& slot = report_.results[index];
    RetryOptions backoff;
    backoff.initial_backoff = options_.initial_backoff;
    backoff.max_backoff = options_.max_backoff;
    std::chrono::milliseconds delay = retry::backoff_delay(backoff, slot.attempts, impl_.hooks.random());
    if (error.retry_after) delay = std::max(delay, std::min(*error.retry_after, options_.max_retry_after));
    const TimePoint at = now_() + delay;
    // Throttling is Meta's word on the whole number, not on one group: every send waits.
    if (error.code == ErrorCode::graph_api) paused_until_ = std::max(paused_until_, at);
    retries_.emplace(at, index);
    ++report_.counts.retries;
  }

  void finish(FanOutResult& slot, FanOutStatus status, std::optional<Error> error) {
    const auto index = static_cast<std::size_t>(&slot - report_.results.data());
    final_[index] = true;
    slot.status = status;
    if (error) slot.error = std::move(error);
    FanOutProgress& c = report_.counts;
    ++c.finished;
    switch (status) {
      case FanOutStatus::sent: ++c.sent; break;
      case FanOutStatus::failed: ++c.failed; break;
      case FanOutStatus::unknown: ++c.unknown; break;
      case FanOutStatus::not_sent: ++c.not_sent; break;
    }
    if (options_.progress) options_.progress(c);
  }

  const ClientImpl& impl_;
  GroupMessage scratch_;  // the message, its group_id set for each group in turn
  std::optional<HttpRequest> head_;
  const FanOutOptions& options_;
  CallOptions call_;
  SteadyClock now_;
  std::function<void(std::chrono::milliseconds)> sleep_;
  TokenBucket bucket_;
  FanOutReport report_;
  std::vector<bool> final_;  // per group: its outcome is known
  std::size_t cursor_ = 0;
  using Retry = std::pair<TimePoint, std::size_t>;
  std::priority_queue<Retry, std::vector<Retry>, std::greater<Retry>> retries_;
  TimePoint paused_until_{};
  bool cancelled_ = false;
};

}  // namespace

Result<FanOutReport> Client::send_to_groups(const std::vector<std::string>& group_ids, const GroupMessage& message,
                                            const FanOutOptions& options) const {
  if (group_ids.size() > limits::max_fan_out_groups) {
    return Error::invalid_argument("group_ids", "at most " + std::to_string(limits::max_fan_out_groups) + " groups",
                                   std::to_string(group_ids.size()) + " groups given; send in batches of at most " +
                                       std::to_string(limits::max_fan_out_groups));
  }
  if (options.max_in_flight == 0)
    return Error::invalid_argument("max_in_flight", "at least 1", "FanOutOptions.max_in_flight is 0");
  if (!(options.messages_per_second >= 0) || !std::isfinite(options.messages_per_second))
    return Error::invalid_argument("messages_per_second", "a finite number >= 0 (0: no limit)",
                                   "FanOutOptions.messages_per_second is negative or not a number");
  if (options.max_attempts < 1)
    return Error::invalid_argument("max_attempts", "at least 1", "FanOutOptions.max_attempts is below 1");
  if (auto r = impl_->check_credentials(true); !r) return r.error();
  // The message itself (everything but the group) is checked once, so that a bad text fails the
  // call instead of every group.
  {
    GroupMessage probe = message;
    probe.group_id = "120363000000000000";
    if (auto r = validation::check(probe); !r) return r.error();
  }
  // A group named twice would get the message twice.
  {
    std::unordered_set<std::string> seen;
    seen.reserve(group_ids.size());
    for (std::size_t i = 0; i < group_ids.size(); ++i) {
      if (!seen.insert(group_ids[i]).second)
        return Error::invalid_argument("group_ids[" + std::to_string(i) + "]", "each group once",
                                       "group \"" + group_ids[i] + "\" is named twice");
    }
  }
  FanOut<Impl> fan_out(*impl_, group_ids, message, options);
  if (!group_ids.empty()) impl_->transport->send_concurrently(fan_out, options.max_in_flight);
  return fan_out.take_report();
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
