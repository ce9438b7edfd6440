#pragma once

/// @file
/// Join requests for groups with `join_approval_mode = approval_required`.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wagroups/models/common.hpp"

#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

struct ListJoinRequestsRequest {
  std::string group_id;
  PageRequest page;
};

struct JoinRequest {
  std::string join_request_id;
  Participant requester;  ///< wa_id / user_id / parent_user_id / username
  std::optional<std::int64_t> creation_timestamp;
};

struct JoinRequestsPage {
  std::vector<JoinRequest> data;
  Paging paging;
};

/// Approve (`POST`) or reject (`DELETE`) one or more join requests.
struct JoinRequestsAction {
  std::string group_id;
  std::vector<std::string> join_request_ids;  ///< at least one, no duplicates
};

struct FailedJoinRequest {
  std::string join_request_id;
  std::vector<ItemError> errors;
};

/// Per-request outcome, as data: a partly failed approval is not an `Error`.
struct JoinRequestsOutcome {
  std::vector<std::string> succeeded;  ///< approved_join_requests or rejected_join_requests
  std::vector<FailedJoinRequest> failed;
  std::vector<ItemError> errors;  ///< request-level errors Meta attached
  bool all_succeeded() const noexcept { return failed.empty() && errors.empty(); }
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
