// Names and accessors shared by every webhook event type.

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "wagroups/webhook/events.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

namespace {

template <typename T>
constexpr bool has_request_id_v =
    std::is_same_v<T, GroupCreated> || std::is_same_v<T, GroupCreateFailed> || std::is_same_v<T, GroupDeleted> ||
    std::is_same_v<T, GroupDeleteFailed> || std::is_same_v<T, ParticipantsAdded> ||
    std::is_same_v<T, ParticipantsRemoved> || std::is_same_v<T, GroupSettingsUpdated>;

template <typename T>
constexpr bool has_required_group_id_v =
    std::is_same_v<T, GroupCreated> || std::is_same_v<T, GroupDeleted> || std::is_same_v<T, GroupDeleteFailed> ||
    std::is_same_v<T, ParticipantsAdded> || std::is_same_v<T, ParticipantsRemoved> ||
    std::is_same_v<T, JoinRequestCreated> || std::is_same_v<T, JoinRequestRevoked> ||
    std::is_same_v<T, GroupSettingsUpdated> || std::is_same_v<T, GroupSuspended> ||
    std::is_same_v<T, GroupSuspensionCleared>;

}  // namespace

const char* kind_of(const WebhookEvent& event) noexcept {
  // Index order of the WebhookEvent alternatives.
  static constexpr const char* kNames[] = {
      "group_created",        "group_create_failed",      "group_deleted",        "group_delete_failed",
      "participants_added",   "participants_removed",     "join_request_created", "join_request_revoked",
      "group_settings_updated", "group_suspended",        "group_suspension_cleared", "group_message",
      "group_message_status", "message",                  "message_status",       "unknown",
      "custom"};
  static_assert(sizeof kNames / sizeof kNames[0] == std::variant_size_v<WebhookEvent>,
                "one name per WebhookEvent alternative");
  const std::size_t index = event.index();
  return index < std::variant_size_v<WebhookEvent> ? kNames[index] : "unknown";
}

const WebhookContext& context_of(const WebhookEvent& event) noexcept {
  return std::visit([](const auto& e) -> const WebhookContext& { return e.context; }, event);
}

std::optional<std::string> group_id_of(const WebhookEvent& event) {
  return std::visit(
      [](const auto& e) -> std::optional<std::string> {
        using T = std::decay_t<decltype(e)>;
        if constexpr (has_required_group_id_v<T>) {
          if (e.group_id.empty()) return std::nullopt;
          return e.group_id;
        } else if constexpr (std::is_same_v<T, GroupCreateFailed> || std::is_same_v<T, GroupMessageReceived> ||
                             std::is_same_v<T, GroupMessageStatus>) {
          return e.group_id;
        } else if constexpr (std::is_same_v<T, UnknownEvent>) {
          // An unknown group item still names its group; a whole change value has no group_id.
          auto id = e.raw.get("group_id");
          if (id && id->empty()) return std::nullopt;
          return id;
        } else {
          return std::nullopt;
        }
      },
      event);
}

std::optional<std::string> request_id_of(const WebhookEvent& event) {
  return std::visit(
      [](const auto& e) -> std::optional<std::string> {
        using T = std::decay_t<decltype(e)>;
        if constexpr (has_request_id_v<T>) {
          return e.request_id;
        } else {
          return std::nullopt;
        }
      },
      event);
}

const char* to_string(DeliveryStatus status) noexcept {
  switch (status) {
    case DeliveryStatus::unknown: return "unknown";
    case DeliveryStatus::sent: return "sent";
    case DeliveryStatus::delivered: return "delivered";
    case DeliveryStatus::read: return "read";
    case DeliveryStatus::played: return "played";
    case DeliveryStatus::failed: return "failed";
  }
  return "unknown";
}

DeliveryStatus parse_delivery_status(std::string_view text) noexcept {
  if (text == "sent") return DeliveryStatus::sent;
  if (text == "delivered") return DeliveryStatus::delivered;
  if (text == "read") return DeliveryStatus::read;
  if (text == "played") return DeliveryStatus::played;
  if (text == "failed") return DeliveryStatus::failed;
  return DeliveryStatus::unknown;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
