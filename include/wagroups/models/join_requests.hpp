#pragma once

/// @file
/// Join requests for groups with `join_approval_mode = approval_required`.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wagroups/error.hpp"
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

/// Per-request outcome, as data: a partly failed approval or rejection is not an `Error`. Meta
/// documents HTTP 206 with Graph code 131201 ("Request partially succeeded") for participant-level
/// operations; that answer, like a 200, becomes this outcome (as for `remove_participants`).
struct JoinRequestsOutcome {
  int http_status = 200;
  bool partial = false;                     ///< HTTP 206, code 131201, or any failed id
  std::optional<GraphError> partial_error;  ///< the 131201 envelope, when Meta sent one
  std::vector<std::string> succeeded;  ///< approved_join_requests or rejected_join_requests
  std::vector<FailedJoinRequest> failed;
  std::vector<ItemError> errors;  ///< request-level errors Meta attached
  /// Ids that were asked for but that the answer names in neither list (e.g. a 206 carrying only
  /// the error envelope): their fate is unknown, not assumed either way.
  std::vector<std::string> unreported;
  bool all_succeeded() const noexcept { return !partial && failed.empty() && errors.empty() && unreported.empty(); }
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
