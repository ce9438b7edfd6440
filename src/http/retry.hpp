#pragma once

// The client's retry loop: exponential backoff with full jitter, Retry-After honoured, and
// re-sending only what is safe to re-send.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "wagroups/result.hpp"
#include "wagroups/client/options.hpp"
#include "wagroups/http/transport.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace retry {

/// Delta-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2026 07:28:00 GMT") relative to `now`.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

/// The full-jitter delay before retry `retry_number` (1 = first retry): random01 scaled onto
/// [0, min(max_backoff, initial_backoff * multiplier^(retry_number-1))].
std::chrono::milliseconds backoff_delay(const RetryOptions& options, int retry_number, double random01) noexcept;

struct Hooks {
  Sleeper sleeper;
  RandomSource random;
  Clock clock;
  std::string secret;  ///< removed from any response excerpt put in an Error (the access token)
};

/// The Error a non-2xx answer stands for: Graph's envelope decoded (the secret removed) and any
/// Retry-After read against `hooks.clock`.
Error error_of_answer(const HttpResponse& response, const Hooks& hooks);

/// Whether a send that failed with `error` provably left no accepted message behind, so that
/// sending it again cannot make a duplicate: a throttling answer (HTTP 429 or a rate-limit Graph
/// code such as 130429 / 131208) or a transport failure before any byte left this host.
bool provably_not_accepted(const Error& error) noexcept;

/// Sends `request` until it succeeds (HTTP 2xx), fails for good, or attempts run out. A non-2xx
/// answer becomes a `graph_api` Error. A request that may have reached the server is re-sent only
/// when `idempotency` is idempotent.
Result<HttpResponse> send_with_retries(Transport& transport, const HttpRequest& request,
                                       Idempotency idempotency, const RetryOptions& options,
                                       const Hooks& hooks);

}  // namespace retry
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
