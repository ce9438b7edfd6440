#include <typeindex>
#include <typeinfo>
#include <utility>
#include <variant>

#include "wagroups/webhook.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

namespace {

// Runs every handler of `handlers` on `event`; returns how many ran.
template <typename Handlers, typename Event>
std::size_t run_all(const Handlers& handlers, const Event& event) {
  for (const auto& handler : handlers) handler(event);
  return handlers.size();
}

}  // namespace

WebhookDispatcher& WebhookDispatcher::on_unknown_field(std::string field,
                                                       std::function<void(const UnknownEvent&)> handler) {
  unknown_[std::move(field)].push_back(std::move(handler));
  return *this;
}

WebhookDispatcher& WebhookDispatcher::otherwise(std::function<void(const WebhookEvent&)> handler) {
  otherwise_.push_back(std::move(handler));
  return *this;
}

WebhookDispatcher& WebhookDispatcher::on_any(std::function<void(const WebhookEvent&)> handler) {
  any_.push_back(std::move(handler));
  return *this;
}

std::size_t WebhookDispatcher::dispatch(const WebhookEvent& event) const {
  run_all(any_, event);

  // `on<Event>` keys its handlers by typeid(Event); the active alternative's static type finds them
  // (the event structs are not polymorphic, so typeid names exactly the alternative).
  const std::type_index active =
      std::visit([](const auto& alternative) { return std::type_index(typeid(alternative)); }, event);
  if (auto it = typed_.find(active); it != typed_.end() && !it->second.empty()) {
    return run_all(it->second, event);
  }

  if (const auto* unknown = std::get_if<UnknownEvent>(&event)) {
    if (auto it = unknown_.find(unknown->context.field); it != unknown_.end() && !it->second.empty()) {
      return run_all(it->second, *unknown);
    }
  } else if (const auto* custom = std::get_if<CustomEvent>(&event)) {
    // An empty payload has type void, which no `on_custom<T>` can register, so it falls through.
    if (auto it = custom_.find(std::type_index(custom->payload.type()));
        it != custom_.end() && !it->second.empty()) {
      return run_all(it->second, *custom);
    }
  }

  return run_all(otherwise_, event);
}

std::size_t WebhookDispatcher::dispatch(const WebhookBatch& batch) const {
  std::size_t ran = 0;
  for (const auto& event : batch.events) ran += dispatch(event);
  return ran;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
