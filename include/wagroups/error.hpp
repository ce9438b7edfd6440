#pragma once

/// @file
/// Errors and `Result<T>`: every expected failure in wagroups is a value, never an exception.

#include <cassert>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "wagroups/export.hpp"

namespace wagroups {

/// What kind of failure an `Error` is.
enum class ErrorCode {
  invalid_argument,  ///< refused before any network call; `field` and `limit` say what and why
  unsupported,       ///< the operation or message type is not available for groups (refused locally)
  transport,         ///< the HTTP exchange failed (DNS, connect, TLS, timeout); `curl_code` is set
  graph_api,         ///< the Graph API answered with an error; `graph` and `http_status` are set
  decode,            ///< a response or webhook arrived but could not be decoded; `field` names where
  unauthenticated,   ///< a webhook's signature or a subscription's verify token did not check out
  conflict,          ///< a ticket store refused a write: another writer won (`field` "version") or
                     ///< the event was applied already (`field` "event_key")
  storage,           ///< a ticket store failed (disk, database); nothing was written
};

/// Why a webhook or subscription handshake was refused (`ErrorCode::unauthenticated`).
enum class AuthFailure {
  none,
  empty_secret,        ///< no app secret configured: nothing can be verified
  missing_signature,   ///< no X-Hub-Signature-256 header
  bad_prefix,          ///< the header does not start with "sha256="
  bad_hex,             ///< not 64 hexadecimal digits after the prefix
  signature_mismatch,  ///< well formed, but not the HMAC of this body with this secret
  wrong_mode,          ///< hub.mode is not "subscribe"
  wrong_verify_token,  ///< hub.verify_token differs from the expected token
  missing_challenge,   ///< hub.challenge is empty
};

/// The name of an `AuthFailure`, e.g. "signature_mismatch".
WAGROUPS_API const char* to_string(AuthFailure failure) noexcept;

/// The name of an `ErrorCode`, e.g. "invalid_argument".
WAGROUPS_API const char* to_string(ErrorCode code) noexcept;

/// Numeric Graph API error codes that matter for groups (Meta's tables; see README).
namespace graph_codes {
// Groups API (Meta's "Groups API Error Codes" page lists these 15).
inline constexpr int bad_group = 131020;                  ///< cannot send to a single-member group
inline constexpr int group_unknown = 131041;              ///< group not found or business not a member
inline constexpr int invalid_cursor = 131059;             ///< paging cursor expired or corrupted
inline constexpr int partial_success = 131201;            ///< HTTP 206: some participant operations failed
inline constexpr int duplicate_participant = 131202;
inline constexpr int participant_overlimit = 131204;      ///< more than 8 participants
inline constexpr int group_suspended = 131207;            ///< HTTP 403
inline constexpr int group_rate_limit = 131208;           ///< HTTP 429: too many group operations
inline constexpr int picture_aspect_ratio = 131209;       ///< profile picture is not square
inline constexpr int picture_too_small = 131210;          ///< profile picture under 192x192
inline constexpr int group_create_limit = 131211;         ///< 10,000 groups per number reached
inline constexpr int participant_not_in_group = 131212;
inline constexpr int join_request_not_found = 131213;
inline constexpr int group_creation_disabled = 131214;    ///< temporarily, after excessive marketing
inline constexpr int not_eligible = 131215;               ///< number is not a Groups-eligible OBA number
// Other codes seen with groups.
inline constexpr int terms_not_accepted = 131203;         ///< join-request item failure
inline constexpr int unsupported_group_message = 130501;  ///< inbound `type: unsupported`
// Throttling (retry later).
inline constexpr int app_rate_limit = 4;
inline constexpr int waba_rate_limit = 80007;
inline constexpr int throughput_limit = 130429;
inline constexpr int spam_rate_limit = 131048;
inline constexpr int pair_rate_limit = 131056;
inline constexpr int graph_rate_limit = 613;
// Temporary server-side failures.
inline constexpr int unknown_error = 1;
inline constexpr int service_unavailable = 2;
inline constexpr int generic_user_error = 131000;
inline constexpr int service_temporarily_unavailable = 131016;
inline constexpr int cloud_api_unavailable = 133004;
}  // namespace graph_codes

/// True for the Graph codes that mean "too many requests, try again later".
WAGROUPS_API bool is_throttling_code(int graph_code) noexcept;

/// The synchronous Graph API error envelope `{"error": {...}}`.
struct GraphError {
  int code = 0;
  std::string type;     ///< e.g. "OAuthException"
  std::string message;  ///< "(#code) title"
  std::optional<int> error_subcode;
  std::optional<std::string> details;  ///< error_data.details
  std::optional<std::string> fbtrace_id;
  std::optional<bool> is_transient;
  std::optional<std::string> error_user_title;
  std::optional<std::string> error_user_msg;
};

/// Why an operation failed. Never contains the access token or the app secret.
struct WAGROUPS_API Error {
  ErrorCode code = ErrorCode::transport;
  std::string message;  ///< human-readable, safe to log

  // invalid_argument / unsupported
  std::string field;  ///< the offending request field, e.g. "subject" or "participants[2]"
  std::string limit;  ///< the rule it broke, e.g. "1-128 characters after trimming"

  // transport
  int curl_code = 0;  ///< the CURLcode (0 when the failure did not come from libcurl)
  /// False only when the transport can prove no byte of the request left this host (DNS or
  /// connect failure); a non-idempotent request is re-sent automatically only then.
  bool request_may_have_been_sent = true;

  // graph_api / decode
  int http_status = 0;  ///< 0 when no HTTP response arrived
  std::optional<GraphError> graph;
  std::optional<std::chrono::milliseconds> retry_after;  ///< from a Retry-After header

  int attempts = 1;  ///< how many times the request was sent (retries included)

  // unauthenticated
  AuthFailure auth_failure = AuthFailure::none;

  /// Whether trying again later may succeed: transport failures (except a malformed URL, an
  /// unsupported protocol and TLS certificate/setup failures), HTTP 408/429/5xx, Graph throttling
  /// and temporary codes, or `is_transient`. Eligibility, limits and validation are never retryable.
  bool is_retryable() const noexcept;
  /// Graph code 131215: the number is not a Groups-eligible Official Business Account number.
  bool is_not_eligible() const noexcept;
  /// A throttling code (4, 613, 80007, 130429, 131048, 131056, 131208) or HTTP 429.
  bool is_rate_limited() const noexcept;
  /// The Graph error code, or 0 when this is not a Graph error.
  int graph_code() const noexcept { return graph ? graph->code : 0; }

  /// One line for logs: kind, message, and the Graph or curl detail.
  std::string to_string() const;

  static Error invalid_argument(std::string field, std::string limit, std::string message = {});
  static Error unsupported(std::string field, std::string message);
  static Error transport_failure(int curl_code, std::string message, bool may_have_been_sent);
  static Error decode_failure(int http_status, std::string message);
  static Error unauthenticated(AuthFailure failure, std::string message);
  /// A webhook body that cannot be accepted: `field` is where (e.g. "entry[0].changes[1].value"
  /// or "body"), `limit` the rule broken when one was (e.g. "at most 4194304 bytes").
  static Error malformed_webhook(std::string field, std::string limit, std::string message);
};

/// Thrown only by `Result<T>::value()` on a result that holds an error (the caller's choice).
class BadResultAccess : public std::logic_error {
 public:
  explicit BadResultAccess(const Error& e) : std::logic_error(e.to_string()), error_(e) {}
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

/// A value or the `Error` that prevented it. Check with `ok()` / `if (result)`, then use `*result`
/// or `result->`; `value()` throws `BadResultAccess` for callers who prefer exceptions.
/// As with `std::optional`, `*`, `->` require `ok()` and `error()` requires `!ok()` (asserted in
/// debug builds).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& operator*() & noexcept { return *get(); }
  const T& operator*() const& noexcept { return *get(); }
  // By value from an rvalue, so that `for (auto& x : *client.list_all_groups())` extends the
  // temporary's lifetime instead of dangling.
  T operator*() && { return std::move(*get()); }
  T* operator->() noexcept { return get(); }
  const T* operator->() const noexcept { return get(); }

  T& value() & { check(); return std::get<0>(state_); }
  const T& value() const& { check(); return std::get<0>(state_); }
  T value() && { check(); return std::move(*get()); }

  template <typename U>
  T value_or(U&& fallback) const& { return ok() ? std::get<0>(state_) : T(std::forward<U>(fallback)); }

  const Error& error() const& noexcept { return *get_error(); }
  Error& error() & noexcept { return *get_error(); }
  Error error() && { return std::move(*get_error()); }

 private:
  void check() const {
    if (!ok()) throw BadResultAccess(*std::get_if<1>(&state_));
  }
  T* get() noexcept {
    assert(ok() && "Result: value accessed on an error");
    return std::get_if<0>(&state_);
  }
  const T* get() const noexcept {
    assert(ok() && "Result: value accessed on an error");
    return std::get_if<0>(&state_);
  }
  Error* get_error() noexcept {
    assert(!ok() && "Result: error() called on a success");
    return std::get_if<1>(&state_);
  }
  const Error* get_error() const noexcept {
    assert(!ok() && "Result: error() called on a success");
    return std::get_if<1>(&state_);
  }
  std::variant<T, Error> state_;
};

/// `Result<void>`: success carries nothing.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  void value() const {
    if (error_) throw BadResultAccess(*error_);
  }
  const Error& error() const& noexcept {
    assert(!ok() && "Result: error() called on a success");
    return *error_;
  }
  Error& error() & noexcept {
    assert(!ok() && "Result: error() called on a success");
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

}  // namespace wagroups
