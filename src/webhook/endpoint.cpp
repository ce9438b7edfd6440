// WebhookEndpoint: the one place that decides which HTTP status Meta sees.
//
// Choices:
// * verify_and_parse checks the size before hashing (413: hashing 4 MiB of a stranger's bytes to
//   refuse them is work an attacker would choose for us), then the signature, and only then parses.
// * A handler failure is a 5xx whatever its ErrorCode (a store may fail with decode or
//   invalid_argument on a corrupt row), never a 4xx: Meta redelivers on 5xx, and a failed store must
//   not lose the batch. A handler may pick its 5xx (503 for a full queue) through Error::http_status.

#include "wagroups/webhook/endpoint.hpp"

#include <utility>

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

WebhookEndpoint::WebhookEndpoint(WebhookEndpointOptions options)
    : verifier_(options.app_secret), parser_(options.limits), verify_token_(std::move(options.verify_token)) {}

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
  WebhookResponse response;
  // Decided here by size, not by the parser's wording: a body over the limit is 413, any other
  // refusal of the body (too many events included) is 400.
  const bool too_large = body.size() > parser_.limits().max_body_bytes;
  auto batch = parser_.verify_and_parse(std::move(body), signature_header, verifier_);
  if (!batch) {
    response.http_status = too_large ? 413 : refusal_status(batch.error());
    response.error = std::move(batch).error();
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

WebhookResponse WebhookEndpoint::handle_post(std::string body, std::string_view signature_header,
                                             TicketAggregator& tickets) const {
  std::optional<ApplyOutcome> applied;
  WebhookResponse response =
      handle_post(std::move(body), signature_header, [&](const WebhookBatch& batch) -> Result<void> {
        auto outcome = tickets.apply(batch);
        if (!outcome) return std::move(outcome).error();
        applied = std::move(*outcome);
        return {};
      });
  response.applied = std::move(applied);
  return response;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
