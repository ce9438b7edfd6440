#pragma once

/// @file
/// Group management: create, list, info, update settings, delete.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wagroups/models/common.hpp"

#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// `POST /{phone-number-id}/groups`. Creation is asynchronous: the group id and invite link
/// arrive later in a `group_lifecycle_update` webhook carrying the same `request_id`.
struct CreateGroupRequest {
  std::string subject;  ///< 1-128 characters after trimming (trimmed before sending)
  std::optional<std::string> description;  ///< at most 2048 characters
  std::optional<JoinApprovalMode> join_approval_mode;  ///< Meta's default: auto_approve
};

struct CreateGroupResponse {
  std::optional<std::string> request_id;  ///< correlates with the lifecycle webhook
  std::optional<std::string> messaging_product;
};

/// `GET /{phone-number-id}/groups`.
struct ListGroupsRequest {
  PageRequest page;
};

struct GroupSummary {
  std::string id;
  std::optional<std::string> subject;
  std::optional<std::int64_t> created_at;  ///< UNIX seconds (string or number on the wire)
};

struct ListGroupsResponse {
  std::vector<GroupSummary> groups;
  Paging paging;
};

/// Fields that `GET /{group-id}?fields=` can select.
enum class GroupField {
  subject,
  description,
  participants,
  total_participant_count,
  suspended,
  creation_timestamp,
  join_approval_mode,
};

WAGROUPS_API const char* to_string(GroupField field) noexcept;

struct GetGroupInfoRequest {
  std::string group_id;
  /// Empty selects every field above (Meta returns only `id` when none is asked for).
  std::vector<GroupField> fields;
};

struct GroupInfo {
  std::string id;
  std::optional<std::string> messaging_product;
  std::optional<std::string> subject;
  std::optional<std::string> description;
  std::optional<JoinApprovalMode> join_approval_mode;
  std::optional<bool> suspended;
  std::optional<std::int64_t> creation_timestamp;
  std::optional<std::vector<Participant>> participants;
  /// Participants excluding the business itself.
  std::optional<std::int64_t> total_participant_count;
};

/// A JPEG profile picture: square, at least 192x192, at most 5 MB (checked before sending).
struct ProfilePicture {
  std::string jpeg_bytes;  ///< the file's raw bytes
  std::string filename = "profile.jpg";
};

/// `POST /{group-id}`. At least one of the three must be set. The outcome of each setting arrives
/// in a `group_settings_update` webhook. With a picture the request is multipart/form-data
/// (`file` part) and carries subject/description as form fields; otherwise it is JSON.
struct UpdateGroupSettingsRequest {
  std::string group_id;
  std::optional<std::string> subject;      ///< 1-128 characters after trimming
  std::optional<std::string> description;  ///< at most 2048 characters
  std::optional<ProfilePicture> profile_picture;
};

/// Meta documents no body for this answer; whatever it carries is kept.
struct UpdateGroupSettingsResponse {
  std::optional<std::string> request_id;
  std::optional<bool> success;
};

/// `DELETE /{group-id}`: removes every participant, the business included.
struct DeleteGroupResponse {
  std::optional<bool> success;
  std::optional<std::string> request_id;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
