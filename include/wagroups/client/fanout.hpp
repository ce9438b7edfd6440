#pragma once

/// @file
/// Fan-out: one message to many groups (`Client::send_to_groups`), its options and its report.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wagroups/error.hpp"
#include "wagroups/export.hpp"
#include "wagroups/limits.hpp"
#include "wagroups/models/messages.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// A flag shared by its copies: `cancel()` on any copy stops the fan-out that holds another.
class CancellationToken {
 public:
  CancellationToken() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
  void cancel() noexcept { flag_->store(true, std::memory_order_release); }
  bool cancelled() const noexcept { return flag_->load(std::memory_order_acquire); }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

/// Counts after each group's outcome is known; every count only grows.
struct FanOutProgress {
  std::size_t total = 0;     ///< groups in the call
  std::size_t finished = 0;  ///< groups with a final outcome (the four below)
  std::size_t sent = 0;      ///< accepted by Meta
  std::size_t failed = 0;    ///< refused (an Error), not sent
  std::size_t unknown = 0;   ///< may or may not have been sent
  std::size_t not_sent = 0;  ///< never sent because the fan-out was cancelled
  std::size_t retries = 0;   ///< sends repeated after a throttling answer or a failed connect
};

/// A monotonic clock for the rate limit; injectable so that tests take no wall time.
using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

struct FanOutOptions {
  /// Requests under way at once (at least 1). Over HTTP/2 they share one connection; over
  /// HTTP/1.1 each needs its own.
  std::size_t max_in_flight = 8;
  /// Token-bucket limit on sends per second (retries included); 0 turns it off. The default is
  /// Meta's standard throughput for a business number, 80 messages per second.
  double messages_per_second = 80.0;
  /// Sends the bucket allows back to back after an idle spell; 0 means rate/10 (at least 1), so a
  /// 2-second window never holds more than 5 % over the rate.
  std::size_t burst = 0;
  /// Sends per group, the first included, when Meta answers with throttling (HTTP 429, 130429,
  /// 131208 and the other `Error::is_rate_limited` codes) or the connection could not be made.
  /// Nothing else is ever repeated: see `FanOutStatus::unknown`.
  int max_attempts = 5;
  /// Backoff before a repeat when Meta sends no Retry-After: full jitter on
  /// [0, min(max_backoff, initial_backoff * 2^(n-1))], from `ClientOptions::random`.
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};
  /// A Retry-After (seconds or HTTP date) is honoured up to this long; a longer one is cut to it.
  /// A throttling answer pauses every new send, not only that group's, until then.
  std::chrono::milliseconds max_retry_after{std::chrono::seconds(60)};
  /// Whole-exchange limit per request; the client's `request_timeout` when unset.
  std::optional<std::chrono::milliseconds> timeout;
  /// Stops the fan-out when cancelled: nothing new starts after that, the sends in flight finish
  /// and are reported, the groups never started are `not_sent`.
  std::optional<CancellationToken> cancel;
  /// Asked before each send, as `cancel` (return true to stop); either may be set, or both.
  std::function<bool()> should_cancel;
  /// Called after each group's outcome, on the calling thread.
  std::function<void(const FanOutProgress&)> progress;
  /// Test hooks: the rate limit's clock and the sleeper used while nothing is in flight. Default:
  /// std::chrono::steady_clock::now and `ClientOptions::sleeper` (or std::this_thread::sleep_for).
  SteadyClock steady_clock;
  std::function<void(std::chrono::milliseconds)> sleeper;
};

enum class FanOutStatus {
  sent,      ///< Meta accepted it: `response` holds the message id
  failed,    ///< Meta refused it, or it was refused before sending (a bad group id): `error`
  unknown,   ///< the connection broke or timed out after the request left: it may have been sent,
             ///< and it is not repeated; `error` says what happened
  not_sent,  ///< cancelled before it was (re)sent: Meta has not accepted it
};

/// "sent", "failed", "unknown" or "not_sent".
WAGROUPS_API const char* to_string(FanOutStatus status) noexcept;

struct FanOutResult {
  std::string group_id;
  FanOutStatus status = FanOutStatus::not_sent;
  std::optional<SendMessageResponse> response;  ///< when sent
  std::optional<Error> error;                   ///< when failed or unknown (and the last throttling
                                                ///< answer of a cancelled group)
  int attempts = 0;                             ///< sends made for this group
};

struct FanOutReport {
  std::vector<FanOutResult> results;  ///< one per group, in the order given
  FanOutProgress counts;
  bool cancelled = false;
  bool all_sent() const noexcept { return counts.sent == counts.total; }
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
