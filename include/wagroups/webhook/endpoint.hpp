#pragma once

/// @file
/// `WebhookEndpoint`: the whole edge of a webhook receiver in one place, whatever HTTP server the
/// host runs. The raw request goes in; the HTTP status to answer, the events and what became of
/// them come out. Every receiver in this project (the example, `wagroups webhook serve`, the demo)
/// is built on it, so the rules for which status Meta sees are written once:
///
/// | request                                              | status | Meta                   |
/// |------------------------------------------------------|--------|------------------------|
/// | GET, right mode and verify token                     | 200    | echoes `hub.challenge` |
/// | GET, anything else                                   | 403    | subscription refused   |
/// | POST over `WebhookLimits::max_body_bytes`            | 413    | (never retried usefully) |
/// | POST, signature missing or wrong                     | 401    | retries, then gives up |
/// | POST, signature not computable (OpenSSL failed)      | 500    | redelivers             |
/// | POST, verified, not parsable, kept as a dead letter  | 200    | done (nothing lost)    |
/// | POST, verified, not parsable, dead-letter sink failed| 500 (or the sink's 5xx) | redelivers |
/// | POST, body not a webhook envelope, no sink           | 400    | retries, then gives up |
/// | POST, handler or ticket store failed                 | 500 (or the handler's 5xx) | redelivers |
/// | POST, verified, parsed, handled                      | 200    | done                   |
///
///     WebhookEndpoint endpoint({app_secret, verify_token});
///     // in the POST handler of any HTTP server:
///     const WebhookResponse r = endpoint.handle_post(std::move(body), signature_header, tickets);
///     reply(r.http_status);   // 200 only after the ticket store committed

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "wagroups/export.hpp"
#include "wagroups/result.hpp"
#include "wagroups/tickets/aggregator.hpp"
#include "wagroups/webhook/dead_letter.hpp"
#include "wagroups/webhook/events.hpp"
#include "wagroups/webhook/parser.hpp"
#include "wagroups/webhook/signature.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// What a `WebhookEndpoint` needs. The secret and token are copied into the endpoint and never
/// appear in its errors.
struct WebhookEndpointOptions {
  std::string app_secret;    ///< the app secret that signs POST bodies (required: empty refuses every POST)
  std::string verify_token;  ///< the token of the GET handshake (empty refuses every handshake)
  WebhookLimits limits;      ///< size, depth and event-count bounds of a body
  /// Where a body goes whose signature verified but which the parser refused (invalid JSON, a
  /// wrong envelope, a `FieldDecoder`'s error): kept there, it is answered 200 so that Meta stops
  /// retrying a body that can never parse. Unset: such a body is answered 400 and kept nowhere,
  /// except by the `TicketAggregator` overload of `handle_post`, which keeps it in the
  /// aggregator's store (`TicketStore::add_dead_letter`) unless this is set. Called from request
  /// threads, concurrently. (The `= {}` keeps `{secret, token, limits}` free of
  /// -Wmissing-field-initializers in hosts' code.)
  DeadLetterSink dead_letters = {};
};

/// The answer to one request, and what the endpoint learnt on the way.
struct WebhookResponse {
  int http_status = 500;
  /// The body to send: `hub.challenge` for a successful handshake, empty otherwise.
  std::string body;
  /// The events of a verified, parsed POST (empty when refused before parsing).
  WebhookBatch batch;
  /// What applying changed, when a `TicketAggregator` was given and its store committed.
  std::optional<ApplyOutcome> applied;
  /// Why the status is not 200, or, when `dead_lettered`, why the parser refused the body (safe
  /// to log: never a secret).
  std::optional<Error> error;
  /// The body was verified, refused by the parser, and kept by the dead-letter sink (status 200).
  bool dead_lettered = false;
  bool ok() const noexcept { return http_status == 200; }
};

/// Handles a verified, parsed batch. An error makes the endpoint answer non-200 so that Meta
/// delivers the batch again: the error's `http_status` when it is a 5xx (e.g. 503 for a full
/// queue), else 500.
using WebhookBatchHandler = std::function<Result<void>(const WebhookBatch&)>;

/// Thread-safe after construction: one endpoint serves every request thread.
class WAGROUPS_API WebhookEndpoint {
 public:
  explicit WebhookEndpoint(WebhookEndpointOptions options);

  /// The GET subscription handshake (`hub.mode`, `hub.verify_token`, `hub.challenge`).
  WebhookResponse handle_get(std::string_view mode, std::string_view verify_token, std::string_view challenge) const;
  /// A POST, verified and parsed, nothing else: 200 with the batch, or the refusal.
  WebhookResponse handle_post(std::string body, std::string_view signature_header) const;
  /// A POST handed to `handler` once verified and parsed; 200 only when it succeeded.
  WebhookResponse handle_post(std::string body, std::string_view signature_header,
                              const WebhookBatchHandler& handler) const;
  /// A POST applied to tickets in one store unit; 200 only after the store committed. A verified
  /// body the parser refuses is kept in `tickets.store()` as a dead letter (or by
  /// `WebhookEndpointOptions::dead_letters` when set).
  WebhookResponse handle_post(std::string body, std::string_view signature_header, TicketAggregator& tickets) const;

  /// The status a refused request body is answered with: 401 for `unauthenticated`, else 400
  /// (a body over the size limit is answered 413 before this is asked).
  static int refusal_status(const Error& error) noexcept;
  /// The status a failed handler or store is answered with: the error's `http_status` when it is a
  /// 5xx, else 500; never a 4xx, whatever the `ErrorCode`, so that Meta delivers the batch again.
  static int failure_status(const Error& error) noexcept;

  const WebhookLimits& limits() const noexcept { return parser_.limits(); }

 private:
  WebhookResponse post(std::string body, std::string_view signature_header, const WebhookBatchHandler& handler,
                       const DeadLetterSink& dead_letters) const;

  SignatureVerifier verifier_;
  WebhookParser parser_;
  std::string verify_token_;
  DeadLetterSink dead_letters_;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
