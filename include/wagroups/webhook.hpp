#pragma once

/// @file
/// Receiving Meta's webhooks: the GET subscription handshake, the `X-Hub-Signature-256` check, the
/// parser that turns a verified POST body into typed events, and a dispatcher that routes them to
/// host handlers. Each stage is usable alone:
///
///     SignatureVerifier verifier(app_secret);          // once, shared by all threads
///     WebhookParser parser;                            // once, shared by all threads
///     auto batch = parser.verify_and_parse(std::move(body), header_value, verifier);
///     if (!batch) return reply(batch.error().code == ErrorCode::unauthenticated ? 401 : 400);
///     dispatcher.dispatch(*batch);

#include <any>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

#include "wagroups/error.hpp"
#include "wagroups/export.hpp"
#include "wagroups/webhook_events.hpp"

namespace wagroups {

// ---------------------------------------------------------------------------------------------
// Signature and handshake

/// Checks `X-Hub-Signature-256` (`sha256=<hex>`, either case) against the HMAC-SHA256 of the raw
/// body bytes under the app secret, in constant time. Errors are `ErrorCode::unauthenticated` with
/// a distinct `AuthFailure` for an empty secret, a missing header, a wrong prefix, bad hex and a
/// mismatch. The secret never appears in an error.
WAGROUPS_API Result<void> verify_signature(std::string_view raw_body,
                                           std::string_view x_hub_signature_256,
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
  /// The header value Meta would send for `raw_body`: "sha256=" + 64 lowercase hex digits.
  std::string sign(std::string_view raw_body) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// "sha256=<lowercase hex HMAC-SHA256 of raw_body under app_secret>" (for simulators and tests).
WAGROUPS_API std::string compute_signature(std::string_view raw_body, std::string_view app_secret);

/// The GET handshake: returns the challenge to echo with 200 when `mode` is "subscribe" and
/// `verify_token` equals `expected_token` (constant-time), else `ErrorCode::unauthenticated`
/// (`wrong_mode`, `wrong_verify_token`, `missing_challenge`, or `empty_secret` when no token is
/// configured). Answer 403 on error.
WAGROUPS_API Result<std::string> verify_subscription(std::string_view mode,
                                                     std::string_view verify_token,
                                                     std::string_view challenge,
                                                     std::string_view expected_token);

// ---------------------------------------------------------------------------------------------
// Parser

/// Bounds on what one body may cost. Meta batches up to 1000 updates per POST.
struct WebhookLimits {
  std::size_t max_body_bytes = 4u << 20;  ///< 4 MiB
  int max_depth = 32;                     ///< JSON nesting; Meta's deepest payloads use about 8
  std::size_t max_events = 10000;         ///< events per body
};

/// A host decoder for a `field` the SDK does not model: given the change's `value`, return the
/// host's typed items (each becomes one `CustomEvent`), or an error to reject the body.
using FieldDecoder =
    std::function<Result<std::vector<std::any>>(const WebhookContext& context, const RawJson& value)>;

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

// ---------------------------------------------------------------------------------------------
// Dispatcher

/// Routes events to host handlers: one per event type, per unknown field, per custom payload
/// type, and a fallback. For each event the most specific handler runs: the event type's, else
/// (for an `UnknownEvent`) its field's, else (for a `CustomEvent`) its payload type's, else the
/// fallback; `on_any` handlers run for every event in addition. Handlers run on the calling thread,
/// in event order. Register before dispatching from several threads.
class WAGROUPS_API WebhookDispatcher {
 public:
  /// `on<GroupCreated>([](const GroupCreated& e) { ... })`.
  template <typename Event, typename Handler>
  WebhookDispatcher& on(Handler handler) {
    static_assert(is_event_type<Event>(), "Event must be one of the WebhookEvent alternatives");
    std::function<void(const Event&)> typed(std::move(handler));
    typed_[std::type_index(typeid(Event))].push_back(
        [typed](const WebhookEvent& e) { typed(std::get<Event>(e)); });
    return *this;
  }
  /// Handles `UnknownEvent`s of one `field` (e.g. "account_update").
  WebhookDispatcher& on_unknown_field(std::string field, std::function<void(const UnknownEvent&)> handler);
  /// Handles `CustomEvent`s whose payload is a `T` (produced by a registered `FieldDecoder`).
  template <typename T, typename Handler>
  WebhookDispatcher& on_custom(Handler handler) {
    std::function<void(const T&, const WebhookContext&)> typed(std::move(handler));
    custom_[std::type_index(typeid(T))].push_back([typed](const CustomEvent& e) {
      typed(*std::any_cast<T>(&e.payload), e.context);
    });
    return *this;
  }
  /// Events no other handler took.
  WebhookDispatcher& otherwise(std::function<void(const WebhookEvent&)> handler);
  /// Every event, before its specific handler (logging, metrics).
  WebhookDispatcher& on_any(std::function<void(const WebhookEvent&)> handler);

  /// Runs the handlers for one event; returns how many specific handlers (not `on_any`) ran.
  std::size_t dispatch(const WebhookEvent& event) const;
  /// Every event of the batch, in order; returns the total of `dispatch`.
  std::size_t dispatch(const WebhookBatch& batch) const;

 private:
  template <typename Event, std::size_t I = 0>
  static constexpr bool is_event_type() {
    if constexpr (I == std::variant_size_v<WebhookEvent>) {
      return false;
    } else {
      return std::is_same_v<Event, std::variant_alternative_t<I, WebhookEvent>> ||
             is_event_type<Event, I + 1>();
    }
  }

  std::unordered_map<std::type_index, std::vector<std::function<void(const WebhookEvent&)>>> typed_;
  std::unordered_map<std::string, std::vector<std::function<void(const UnknownEvent&)>>> unknown_;
  std::unordered_map<std::type_index, std::vector<std::function<void(const CustomEvent&)>>> custom_;
  std::vector<std::function<void(const WebhookEvent&)>> otherwise_;
  std::vector<std::function<void(const WebhookEvent&)>> any_;
};

}  // namespace wagroups
