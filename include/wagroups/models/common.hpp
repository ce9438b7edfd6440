#pragma once

/// @file
/// Shapes shared by several Groups operations. Field names follow Meta's JSON keys; fields Meta may
/// omit are `std::optional` and stay unset when absent (never empty-string or zero).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wagroups/export.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// How people enter a group: straight through the invite link, or by a join request the business
/// approves.
enum class JoinApprovalMode { auto_approve, approval_required };

WAGROUPS_API const char* to_string(JoinApprovalMode mode) noexcept;
/// Parses Meta's spelling; unset for an unknown value.
WAGROUPS_API std::optional<JoinApprovalMode> parse_join_approval_mode(std::string_view text) noexcept;

/// A person in a group. From 2026 Meta may omit the phone (`wa_id`) and identify people only by
/// their business-scoped user id (BSUID, `user_id`), so every identity field is optional.
struct Participant {
  std::optional<std::string> wa_id;           ///< WhatsApp id / phone number
  std::optional<std::string> user_id;         ///< BSUID, e.g. "US.13491208655302741918"
  std::optional<std::string> parent_user_id;  ///< parent BSUID, when enabled
  std::optional<std::string> username;
  std::optional<std::string> input;           ///< what the business sent (remove/approve flows)
};

/// The per-item error object used inside results and webhooks (not the Graph envelope).
struct ItemError {
  int code = 0;
  std::optional<std::string> title;
  std::optional<std::string> message;
  std::optional<std::string> details;  ///< error_data.details
  std::optional<std::string> href;
};

/// Graph cursor paging.
struct Paging {
  std::optional<std::string> before;
  std::optional<std::string> after;
  std::optional<std::string> previous;  ///< full URL of the previous page
  std::optional<std::string> next;      ///< full URL of the next page; absent on the last page
};

/// Cursor request parameters shared by the paged list operations.
struct PageRequest {
  std::optional<int> limit;  ///< 1-1024; Meta's default is 25
  std::optional<std::string> after;
  std::optional<std::string> before;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
