#pragma once

/// @file
/// `ResolutionPolicy`: an inbox's rules for resolving and closing idle tickets.

#include <chrono>

#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// Per-inbox rules for time-based transitions.
struct ResolutionPolicy {
  /// Resolve an open ticket after this long without messages either way (0 = never).
  std::chrono::minutes auto_resolve_after{0};
  /// Close a resolved ticket this long after it was resolved (0 = never).
  std::chrono::minutes auto_close_after{0};
  /// A new inbound message reopens a resolved ticket.
  bool reopen_on_inbound = true;
  /// `open_ticket` without a request id and the group_create webhook are matched by phone number
  /// id and subject when the webhook's timestamp and the request's time are at most this far apart
  /// (either may come first).
  std::chrono::seconds create_match_window{std::chrono::hours(1)};
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
