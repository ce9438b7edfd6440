#include "wagroups/models/common.hpp"
#include "wagroups/models/groups.hpp"
#include "wagroups/models/messages.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

const char* to_string(JoinApprovalMode mode) noexcept {
  return mode == JoinApprovalMode::approval_required ? "approval_required" : "auto_approve";
}

std::optional<JoinApprovalMode> parse_join_approval_mode(std::string_view text) noexcept {
  if (text == "auto_approve") return JoinApprovalMode::auto_approve;
  if (text == "approval_required") return JoinApprovalMode::approval_required;
  return std::nullopt;
}

const char* to_string(GroupField field) noexcept {
  switch (field) {
    case GroupField::subject: return "subject";
    case GroupField::description: return "description";
    case GroupField::participants: return "participants";
    case GroupField::total_participant_count: return "total_participant_count";
    case GroupField::suspended: return "suspended";
    case GroupField::creation_timestamp: return "creation_timestamp";
    case GroupField::join_approval_mode: return "join_approval_mode";
  }
  return "subject";
}

const char* to_string(MessageType type) noexcept {
  switch (type) {
    case MessageType::text: return "text";
    case MessageType::image: return "image";
    case MessageType::video: return "video";
    case MessageType::audio: return "audio";
    case MessageType::document: return "document";
    case MessageType::sticker: return "sticker";
    case MessageType::template_: return "template";
    case MessageType::pin: return "pin";
    case MessageType::interactive: return "interactive";
    case MessageType::reaction: return "reaction";
    case MessageType::location: return "location";
    case MessageType::contacts: return "contacts";
  }
  return "text";
}

bool is_supported_in_groups(MessageType type) noexcept {
  switch (type) {
    case MessageType::interactive:
    case MessageType::reaction:
    case MessageType::location:
    case MessageType::contacts: return false;
    default: return true;
  }
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
