#pragma once

/// @file
/// Group management: create, list, info, update settings, delete.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wagroups/error.hpp"
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

/// A JPEG profile picture, checked before anything is sent: JPEG (image/jpeg) only, at most
/// `limits::picture_max_bytes` (5 MB read as 5 * 1024 * 1024 = 5,242,880 bytes, inclusive), square,
/// and at least `limits::picture_min_side` (192) pixels a side, 192x192 itself accepted (Meta's
/// "min 192x192"; see docs/limits.md for the "greater than 192px" wording of 131210).
struct ProfilePicture {
  std::string jpeg_bytes;  ///< the file's raw bytes
  std::string filename = "profile.jpg";
};

/// `POST /{group-id}`. At least one of the three must be set. Subject and description go in one
/// JSON request; the picture goes in its own multipart/form-data request holding exactly two
/// parts, `messaging_product=whatsapp` and `file` (image/jpeg), as Meta's media upload does. With
/// both, the JSON request is sent first and the picture only after it succeeded. The outcome of
/// each setting arrives in a `group_settings_update` webhook.
struct UpdateGroupSettingsRequest {
  std::string group_id;
  std::optional<std::string> subject;      ///< 1-128 characters after trimming
  std::optional<std::string> description;  ///< at most 2048 characters
  std::optional<ProfilePicture> profile_picture;
};

/// The answer to one of the (at most two) requests of an update. Meta documents no body for it
/// (the OpenAPI spec: HTTP 200, no schema); whatever it carries is kept.
struct SettingsRequestResult {
  int http_status = 0;  ///< 0 when no answer arrived (see `error`)
  std::optional<std::string> request_id;
  std::optional<bool> success;
  /// Set when this request failed. Only the second request (the picture) can fail inside an
  /// answer that is a success: the first having been applied, its failure is reported here.
  std::optional<Error> error;
  bool ok() const noexcept { return !error.has_value(); }
};

/// What `update_group_settings` did. A failure of the first (or only) request is the call's
/// `Error`; a failure of the picture request after the subject/description request succeeded is
/// data here (`picture->error`), because the first change has already been accepted.
struct UpdateGroupSettingsResponse {
  /// The first request's request_id, as before the settings were split in two requests.
  std::optional<std::string> request_id;
  /// The first request's `success`, but false whenever the picture request failed.
  std::optional<bool> success;
  std::optional<SettingsRequestResult> fields;   ///< the JSON request (subject/description), if sent
  std::optional<SettingsRequestResult> picture;  ///< the multipart picture request, if sent
  /// True unless the picture request failed after the fields request was accepted.
  bool all_succeeded() const noexcept { return (!fields || fields->ok()) && (!picture || picture->ok()); }
};

/// `DELETE /{group-id}`: removes every participant, the business included.
struct DeleteGroupResponse {
  std::optional<bool> success;
  std::optional<std::string> request_id;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
