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
// Throttling that a later retry cures (reference §2.3).
inline constexpr int app_rate_limit = 4;
inline constexpr int waba_rate_limit = 80007;
inline constexpr int throughput_limit = 130429;
inline constexpr int pair_rate_limit = 131056;  ///< too many messages to the same recipient in a short time
inline constexpr int graph_rate_limit = 613;
// Limits that waiting seconds does not lift (reference §2.3): classified, never retried.
inline constexpr int spam_rate_limit = 131048;           ///< too many earlier messages blocked or flagged as spam
inline constexpr int template_violation_limit = 131064;  ///< messaging limited for template classification violations
inline constexpr int registration_limit = 133016;        ///< register/deregister attempts exhausted
// Temporary server-side failures.
inline constexpr int unknown_error = 1;
inline constexpr int service_unavailable = 2;
inline constexpr int generic_user_error = 131000;
inline constexpr int service_temporarily_unavailable = 131016;
inline constexpr int cloud_api_unavailable = 133004;
}  // namespace graph_codes

/// How the client classes a Graph code (see docs/limits.md for the table).
enum class GraphCodeClass {
  other,                     ///< not classed: HTTP status and `is_transient` decide
  rate_limit,                ///< 4, 613, 80007, 130429, 131208: retried after backoff
  pair_rate_limit,           ///< 131056: same recipient too often; retried after backoff
  spam_rate_limit,           ///< 131048: quality/spam limit; NOT retried (waiting seconds does not lift it)
  template_violation_limit,  ///< 131064: NOT retried
  registration_limit,        ///< 133016: NOT retried
  temporary,                 ///< 1, 2, 131000, 131016, 133004: retried
  permanent,                 ///< eligibility, limits, not found, bad input: never retried
};

WAGROUPS_API GraphCodeClass classify_graph_code(int graph_code) noexcept;
WAGROUPS_API const char* to_string(GraphCodeClass value) noexcept;

/// True for the Graph codes that mean "too many requests, try again later" (`rate_limit` and
/// `pair_rate_limit`). 131048 is not one: see `GraphCodeClass::spam_rate_limit`.
WAGROUPS_API bool is_throttling_code(int graph_code) noexcept;

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
