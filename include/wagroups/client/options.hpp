#pragma once

/// @file
/// Client configuration: credentials, endpoint, timeouts, retries and the test hooks.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "wagroups/export.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

class Transport;

/// Whether an operation may be sent twice without changing the outcome. Retries of a request that
/// may have reached the server happen only for `idempotent` operations.
enum class Idempotency { idempotent, non_idempotent };

/// Exponential backoff with full jitter: before retry n (1-based) the client sleeps a uniformly
/// random time in [0, min(max_backoff, initial_backoff * multiplier^(n-1))], and at least the
/// server's Retry-After when one was sent.
struct RetryOptions {
  int max_attempts = 4;  ///< total sends, first one included; 1 disables retries
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};
  double multiplier = 2.0;
  /// A Retry-After longer than this is not waited for: the error is returned (with `retry_after`
  /// set) so that the host can reschedule instead of blocking a thread.
  std::chrono::milliseconds max_retry_after{std::chrono::seconds(60)};
};

/// Sleeps for the given duration; injectable so that tests take no wall time. Called concurrently
/// by the threads using the client.
using Sleeper = std::function<void(std::chrono::milliseconds)>;
/// Returns a uniformly distributed number in [0, 1); injectable for deterministic jitter. Called
/// from whichever threads use the client, so it must be safe to call concurrently.
using RandomSource = std::function<double()>;
/// The current wall-clock time; injectable (used to read HTTP-date Retry-After values).
using Clock = std::function<std::chrono::system_clock::time_point()>;

struct ClientOptions {
  /// System-user access token, sent as `Authorization: Bearer`. Never logged or put in errors.
  std::string access_token;
  /// The business phone number id used by operations that need one (create, list, send).
  std::string phone_number_id;
  /// The Graph API version; the newest the reference names (Meta's May 2026 examples).
  std::string api_version = "v26.0";
  /// Must be https:// unless `allow_insecure_http` is set (any other scheme is refused).
  std::string base_url = "https://graph.facebook.com";
  /// Accept an http:// `base_url` (the sandbox server, a local stub). The access token then
  /// travels in clear text, so it is off by default: an http:// URL is refused (kind
  /// invalid_argument, field "base_url") on every call.
  bool allow_insecure_http = false;
  /// Whole-exchange limit per HTTP request (each retry gets its own).
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  /// TCP/TLS connect limit of the default transport (ignored when `transport` is set: configure
  /// your `CurlTransportOptions` instead).
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  RetryOptions retry;
  /// Appended to the User-Agent header after "wagroups/<version>": one or more space-separated
  /// tokens, each `name/x.y.z` (name of letters, digits, '.', '_' or '-'; x, y, z decimal numbers),
  /// e.g. "limechat/2.1.0". Anything else is refused (kind invalid_argument, field
  /// "user_agent_suffix") on every call, not sent.
  std::string user_agent_suffix;
  /// The HTTP transport; a `CurlTransport` with default options when null.
  std::shared_ptr<Transport> transport;
  Sleeper sleeper;      ///< default: std::this_thread::sleep_for
  RandomSource random;  ///< default: a per-client seeded Mersenne twister
  Clock clock;          ///< default: std::chrono::system_clock::now
};

/// Whether `url` is an http:// URL whose host is this machine's loopback (127.0.0.0/8, [::1] or
/// localhost), with no user information: what a host may allow for a local sandbox.
WAGROUPS_API bool is_loopback_http_url(std::string_view url) noexcept;

/// Per-call overrides of the client's settings.
struct CallOptions {
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<RetryOptions> retry;
  /// Overrides the operation's own idempotency (e.g. declare a POST safe to repeat).
  std::optional<Idempotency> idempotency;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
