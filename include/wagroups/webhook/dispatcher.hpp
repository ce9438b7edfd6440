#pragma once

/// @file
/// `WebhookDispatcher`: routes typed events to host handlers.

#include <any>
#include <cstddef>
#include <functional>
#include <string>
#include <type_traits>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "wagroups/export.hpp"
#include "wagroups/webhook/events.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

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
    typed_[std::type_index(typeid(Event))].push_back([typed](const WebhookEvent& e) { typed(std::get<Event>(e)); });
    return *this;
  }
  /// Handles `UnknownEvent`s of one `field` (e.g. "account_update").
  WebhookDispatcher& on_unknown_field(std::string field, std::function<void(const UnknownEvent&)> handler);
  /// Handles `CustomEvent`s whose payload is a `T` (produced by a registered `FieldDecoder`).
  template <typename T, typename Handler>
  WebhookDispatcher& on_custom(Handler handler) {
    std::function<void(const T&, const WebhookContext&)> typed(std::move(handler));
    custom_[std::type_index(typeid(T))].push_back(
        [typed](const CustomEvent& e) { typed(*std::any_cast<T>(&e.payload), e.context); });
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
      return std::is_same_v<Event, std::variant_alternative_t<I, WebhookEvent>> || is_event_type<Event, I + 1>();
    }
  }

  std::unordered_map<std::type_index, std::vector<std::function<void(const WebhookEvent&)>>> typed_;
  std::unordered_map<std::string, std::vector<std::function<void(const UnknownEvent&)>>> unknown_;
  std::unordered_map<std::type_index, std::vector<std::function<void(const CustomEvent&)>>> custom_;
  std::vector<std::function<void(const WebhookEvent&)>> otherwise_;
  std::vector<std::function<void(const WebhookEvent&)>> any_;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
