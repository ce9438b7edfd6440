#pragma once

/// @file
/// Numeric Graph API error codes that matter for groups, and how they are classed.

#include "wagroups/export.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// Numeric Graph API error codes that matter for groups (Meta's tables; see docs/limits.md).
namespace graph_codes {
// Groups API (Meta's "Groups API Error Codes" page lists these 15).
inline constexpr int bad_group = 131020;        ///< cannot send to a single-member group
inline constexpr int group_unknown = 131041;    ///< group not found or business not a member
inline constexpr int invalid_cursor = 131059;   ///< paging cursor expired or corrupted
inline constexpr int partial_success = 131201;  ///< HTTP 206: some participant operations failed
inline constexpr int duplicate_participant = 131202;
inline constexpr int participant_overlimit = 131204;  ///< more than 8 participants
inline constexpr int group_suspended = 131207;        ///< HTTP 403
inline constexpr int group_rate_limit = 131208;       ///< HTTP 429: too many group operations
inline constexpr int picture_aspect_ratio = 131209;   ///< profile picture is not square
inline constexpr int picture_too_small = 131210;      ///< profile picture under 192x192
inline constexpr int group_create_limit = 131211;     ///< 10,000 groups per number reached
inline constexpr int participant_not_in_group = 131212;
inline constexpr int join_request_not_found = 131213;
inline constexpr int group_creation_disabled = 131214;  ///< temporarily, after excessive marketing
inline constexpr int not_eligible = 131215;             ///< number is not a Groups-eligible OBA number
// Other codes seen with groups.
inline constexpr int terms_not_accepted = 131203;         ///< join-request item failure
inline constexpr int unsupported_group_message = 130501;  ///< inbound `type: unsupported`
// Throttling (retry later).
inline constexpr int app_rate_limit = 4;
inline constexpr int waba_rate_limit = 80007;
inline constexpr int throughput_limit = 130429;
inline constexpr int spam_rate_limit = 131048;
inline constexpr int pair_rate_limit = 131056;
inline constexpr int graph_rate_limit = 613;
// Temporary server-side failures.
inline constexpr int unknown_error = 1;
inline constexpr int service_unavailable = 2;
inline constexpr int generic_user_error = 131000;
inline constexpr int service_temporarily_unavailable = 131016;
inline constexpr int cloud_api_unavailable = 133004;
}  // namespace graph_codes

/// True for the Graph codes that mean "too many requests, try again later".
WAGROUPS_API bool is_throttling_code(int graph_code) noexcept;

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
