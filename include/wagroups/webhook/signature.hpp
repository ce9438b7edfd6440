#pragma once

/// @file
/// The `X-Hub-Signature-256` check and the GET subscription handshake.

#include <memory>
#include <string>
#include <string_view>

#include "wagroups/export.hpp"
#include "wagroups/result.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// Checks `X-Hub-Signature-256` (`sha256=<hex>`, either case) against the HMAC-SHA256 of the raw
/// body bytes under the app secret, in constant time. Errors are `ErrorCode::unauthenticated` with
/// a distinct `AuthFailure` for an empty secret, a missing header, a wrong prefix, bad hex and a
/// mismatch. Every OpenSSL call is checked: when one fails nothing verifies (`crypto_failure`, with
/// `http_status` 500, since the fault is this host's). The secret never appears in an error.
WAGROUPS_API Result<void> verify_signature(std::string_view raw_body, std::string_view x_hub_signature_256,
                                           std::string_view app_secret);

/// `verify_signature` for a long-lived receiver: the secret's HMAC key schedule is computed once,
/// so each body costs only its own hashing. Thread-safe; copyable.
class WAGROUPS_API SignatureVerifier {
 public:
  explicit SignatureVerifier(std::string_view app_secret);
  ~SignatureVerifier();
  SignatureVerifier(const SignatureVerifier&);
  SignatureVerifier& operator=(const SignatureVerifier&);
  SignatureVerifier(SignatureVerifier&&) noexcept;
  SignatureVerifier& operator=(SignatureVerifier&&) noexcept;

  Result<void> verify(std::string_view raw_body, std::string_view x_hub_signature_256) const;
  /// The header value Meta would send for `raw_body`: "sha256=" + 64 lowercase hex digits (empty
  /// when OpenSSL failed).
  std::string sign(std::string_view raw_body) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// "sha256=<lowercase hex HMAC-SHA256 of raw_body under app_secret>" (for simulators and tests).
WAGROUPS_API std::string compute_signature(std::string_view raw_body, std::string_view app_secret);

/// The GET handshake: returns the challenge to echo with 200 when `mode` is "subscribe" and
/// `verify_token` equals `expected_token` (constant-time), else `ErrorCode::unauthenticated`
/// (`wrong_mode`, `wrong_verify_token`, `missing_challenge`, `empty_secret` when no token is
/// configured, or `crypto_failure` when OpenSSL failed to hash the tokens). Answer 403 on error.
WAGROUPS_API Result<std::string> verify_subscription(std::string_view mode, std::string_view verify_token,
                                                     std::string_view challenge, std::string_view expected_token);

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
