#pragma once

/// @file
/// The webhook parser: a verified POST body into typed events, every item of a batch,
/// unknown payloads kept.

#include <any>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wagroups/export.hpp"
#include "wagroups/result.hpp"
#include "wagroups/webhook/events.hpp"
#include "wagroups/webhook/signature.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// Bounds on what one body may cost. Meta batches up to 1000 updates per POST.
struct WebhookLimits {
  std::size_t max_body_bytes = 4u << 20;  ///< 4 MiB
  int max_depth = 32;                     ///< JSON nesting; Meta's deepest payloads use about 8
  std::size_t max_events = 10000;         ///< events per body
};

/// A host decoder for a `field` the SDK does not model: given the change's `value`, return the
/// host's typed items (each becomes one `CustomEvent`), or an error to reject the body.
using FieldDecoder = std::function<Result<std::vector<std::any>>(const WebhookContext& context, const RawJson& value)>;

/// Parses verified webhook bodies. Strict JSON (RFC 8259) with UTF-8 validated; lenient about
/// items: numbers and strings interchange, unknown keys are ignored but kept in `raw`, unknown
/// fields and types become `UnknownEvent`s, Meta's spelling variants are accepted. The whole body
/// is refused with `ErrorCode::decode` (`field` says where, `limit` which rule), so a host answers
/// non-200 and nothing half-applies, when it exceeds a `WebhookLimits` bound; is empty or not
/// strict JSON; is not an object whose `entry` is an array of objects, each with a `changes`
/// array of objects, each with a string `field` and an object `value`; or, for a group field or
/// `messages` (unless a decoder takes the field), has a `value.groups`, `value.messages` or
/// `value.statuses` that is not an array of objects. A `FieldDecoder`'s error refuses the body too
/// (that error is returned). Thread-safe for concurrent `parse` calls once decoders are registered.
class WAGROUPS_API WebhookParser {
 public:
  explicit WebhookParser(WebhookLimits limits = {});
  ~WebhookParser();
  WebhookParser(const WebhookParser&);
  WebhookParser& operator=(const WebhookParser&);
  WebhookParser(WebhookParser&&) noexcept;
  WebhookParser& operator=(WebhookParser&&) noexcept;

  /// Decode `field` with `decoder` instead of producing `UnknownEvent`s (also allowed for a field
  /// the SDK knows, to take it over). Register before parsing from several threads.
  WebhookParser& register_decoder(std::string field, FieldDecoder decoder);

  const WebhookLimits& limits() const noexcept;

  /// Parses a copy of `raw_body`.
  Result<WebhookBatch> parse(std::string_view raw_body) const;
  /// Parses `raw_body` in place (no copy; the string's contents are consumed and left unspecified;
  /// the events keep it alive). Fastest when the body is already verified.
  Result<WebhookBatch> parse_in_place(std::string&& raw_body) const;
  /// Verifies the signature first and parses only a body that checks out (a body over
  /// `max_body_bytes` is refused before it is hashed).
  Result<WebhookBatch> verify_and_parse(std::string&& raw_body, std::string_view x_hub_signature_256,
                                        const SignatureVerifier& verifier) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// `WebhookParser{limits}.parse(raw_body)`.
WAGROUPS_API Result<WebhookBatch> parse_webhook(std::string_view raw_body, const WebhookLimits& limits = {});

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
