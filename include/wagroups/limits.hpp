#pragma once

/// @file
/// Meta's published limits for groups, one constant per fact (see docs/limits.md for where each is
/// enforced).

#include <cstddef>

#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// Meta's limits: the client checks them before sending, the simulator refuses beyond them.
namespace limits {
inline constexpr std::size_t subject_max_chars = 128;
inline constexpr std::size_t description_max_chars = 2048;
inline constexpr int list_limit_min = 1;
inline constexpr int list_limit_max = 1024;
inline constexpr std::size_t max_participants = 8;      ///< per group, the business included
inline constexpr std::size_t max_removed_per_call = 8;  ///< `participants[]` of one removal request
inline constexpr std::size_t max_pinned_messages = 3;   ///< per group; pinning a fourth unpins the oldest
inline constexpr int default_page_size = 25;            ///< list calls without `limit`
inline constexpr std::size_t max_groups_per_number = 10000;
/// The most groups one `Client::send_to_groups` call takes (a number cannot have more); more are
/// refused (invalid_argument, field "group_ids") before anything is sent.
inline constexpr std::size_t max_fan_out_groups = max_groups_per_number;
inline constexpr std::size_t picture_max_bytes = 5u * 1024u * 1024u;
inline constexpr int picture_min_side = 192;
inline constexpr int pin_min_days = 1;
inline constexpr int pin_max_days = 30;
inline constexpr std::size_t text_max_chars = 4096;
inline constexpr std::size_t caption_max_chars = 1024;
}  // namespace limits

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
