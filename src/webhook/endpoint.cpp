// WebhookEndpoint: the one place that decides which HTTP status Meta sees.
//
// Choices:
// * verify_and_parse checks the size before hashing (413: hashing 4 MiB of a stranger's bytes to
//   refuse them is work an attacker would choose for us), then the signature, and only then parses.
// * A handler failure is a 5xx whatever its ErrorCode (a store may fail with decode or
//   invalid_argument on a corrupt row), never a 4xx: Meta redelivers on 5xx, and a failed store must
//   not lose the batch. A handler may pick its 5xx (503 for a full queue) through Error::http_status.
// * Dead letters (issue 10): a body the parser refuses after its signature verified is handed to the
//   sink and answered 200 (Meta would otherwise retry a body that can never parse, then drop it).
//   The sink failing is a 5xx like a failed store (redelivered, nothing lost); a sink answering
//   ErrorCode::unsupported (a host store that keeps none) gets the old 400. An unverified body never
//   reaches the sink. The body is copied before parsing (the parser rewrites it in place) only when
//   a sink exists: a memcpy, small next to the parse itself.

#include "wagroups/webhook/endpoint.hpp"

#include <chrono>
#include <utility>

#include "util/secret.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

WebhookEndpoint::WebhookEndpoint(WebhookEndpointOptions options)
    : verifier_(options.app_secret),
      parser_(options.limits),
      verify_token_(std::move(options.verify_token)),
      dead_letters_(std::move(options.dead_letters)) {
  // The verifier keeps only the key schedule; this copy of the secret goes (util/secret.hpp).
  secret::cleanse(options.app_secret);
}

int WebhookEndpoint::refusal_status(const Error& error) noexcept {
  return error.code == ErrorCode::unauthenticated ? 401 : 400;
}

int WebhookEndpoint::failure_status(const Error& error) noexcept {
  return error.http_status >= 500 && error.http_status <= 599 ? error.http_status : 500;
}

WebhookResponse WebhookEndpoint::handle_get(std::string_view mode, std::string_view verify_token,
                                            std::string_view challenge) const {
  WebhookResponse response;
  auto echoed = verify_subscription(mode, verify_token, challenge, verify_token_);
  if (!echoed) {
    response.http_status = 403;
    response.error = std::move(echoed).error();
    return response;
  }
  response.http_status = 200;
  response.body = std::move(*echoed);
  return response;
}

WebhookResponse WebhookEndpoint::handle_post(std::string body, std::string_view signature_header) const {
  return handle_post(std::move(body), signature_header, WebhookBatchHandler{});
}

WebhookResponse WebhookEndpoint::handle_post(std::string body, std::string_view signature_header,
                                             const WebhookBatchHandler& handler) const {
  return post(std::move(body), signature_header, handler, dead_letters_);
}

WebhookResponse WebhookEndpoint::handle_post(std::string body, std::string_view signature_header,
                                             TicketAggregator& tickets) const {
  std::optional<ApplyOutcome> applied;
  const auto apply = [&](const WebhookBatch& batch) -> Result<void> {
    auto outcome = tickets.apply(batch);
    if (!outcome) return std::move(outcome).error();
    applied = std::move(*outcome);
    return {};
  };
  WebhookResponse response;
  if (dead_letters_) {
    response = post(std::move(body), signature_header, apply, dead_letters_);
  } else {
    TicketStore& store = tickets.store();
    const DeadLetterSink to_store = [&store](const DeadLetter& letter) -> Result<void> {
      auto id = store.add_dead_letter(letter);
      if (!id) return std::move(id).error();
      return {};
    };
    response = post(std::move(body), signature_header, apply, to_store);
  }
  response.applied = std::move(applied);
  return response;
}

WebhookResponse WebhookEndpoint::post(std::string body, std::string_view signature_header,
                                      const WebhookBatchHandler& handler, const DeadLetterSink& dead_letters) const {
  WebhookResponse response;
  // Decided here by size, not by the parser's wording: a body over the limit is 413 (refused before
  // it is hashed), any other refusal of the body (too many events included) 400 or a dead letter.
  if (body.size() > parser_.limits().max_body_bytes) {
    response.http_status = 413;
    response.error = parser_.parse(body).error();  // the size check, before anything is copied
    return response;
  }
  if (auto verified = verifier_.verify(body, signature_header); !verified) {
    // OpenSSL failing here is this host's fault: 5xx, so that Meta delivers the body again.
    const bool ours = verified.error().auth_failure == AuthFailure::crypto_failure;
    response.http_status = ours ? failure_status(verified.error()) : refusal_status(verified.error());
    response.error = std::move(verified).error();
    return response;
  }
  std::string kept;
  if (dead_letters) kept = body;
  auto batch = parser_.parse_in_place(std::move(body));
  if (!batch) {
    Error refused = std::move(batch).error();
    if (dead_letters) {
      DeadLetter letter;
      letter.received_at =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      letter.body = std::move(kept);
      letter.error = refused;
      auto stored = dead_letters(letter);
      if (stored) {
        response.http_status = 200;
        response.dead_lettered = true;
        response.error = std::move(refused);
        return response;
      }
      if (stored.error().code != ErrorCode::unsupported) {
        Error failed = std::move(stored).error();
        response.http_status = failure_status(failed);
        failed.message =
            "webhook body refused (" + refused.message + ") and not kept as a dead letter: " + failed.message;
        response.error = std::move(failed);
        return response;
      }
    }
    response.http_status = refusal_status(refused);
    response.error = std::move(refused);
    return response;
  }
  response.batch = std::move(*batch);
  if (handler) {
    if (auto handled = handler(response.batch); !handled) {
      response.http_status = failure_status(handled.error());
      response.error = std::move(handled).error();
      return response;
    }
  }
  response.http_status = 200;
  return response;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
