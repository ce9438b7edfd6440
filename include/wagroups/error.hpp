#pragma once

/// @file
/// `Error`: why an operation failed, as a value (see result.hpp for `Result<T>`).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "wagroups/export.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

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
  crypto_failure,      ///< OpenSSL failed to compute a digest: nothing was verified (fails closed)
};

/// The name of an `AuthFailure`, e.g. "signature_mismatch".
WAGROUPS_API const char* to_string(AuthFailure failure) noexcept;

/// The name of an `ErrorCode`, e.g. "invalid_argument".
WAGROUPS_API const char* to_string(ErrorCode code) noexcept;

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
  /// A throttling code that backoff cures (4, 613, 80007, 130429, 131056, 131208) or HTTP 429,
  /// unless the code is one of the limits waiting does not lift (131048, 131064, 133016).
  bool is_rate_limited() const noexcept;
  /// Graph code 131048: too many earlier messages were blocked or flagged. Not retried, and not
  /// `is_rate_limited` (waiting seconds does not help); the host should slow down sending for good.
  bool is_spam_rate_limited() const noexcept;
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

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
