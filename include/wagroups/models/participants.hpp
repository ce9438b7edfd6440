#pragma once

/// @file
/// Removing participants (people can only join through the invite link; nobody is added).

#include <optional>
#include <string>
#include <vector>

#include "wagroups/result.hpp"
#include "wagroups/models/common.hpp"

#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// `DELETE /{group-id}/participants`.
struct RemoveParticipantsRequest {
  std::string group_id;
  /// 1-8 unique entries; each a phone number, WhatsApp id or BSUID.
  std::vector<std::string> participants;
};

/// A participant Meta could not remove, with why.
struct FailedParticipant {
  Participant participant;
  std::vector<ItemError> errors;
};

/// HTTP 200, or HTTP 206 with Graph code 131201 when only some removals succeeded: both are
/// results, not errors. The final per-participant outcome arrives in a
/// `group_participants_update` webhook.
struct RemoveParticipantsResponse {
  int http_status = 200;
  bool partial = false;                  ///< HTTP 206 / code 131201
  std::optional<GraphError> partial_error;  ///< the 131201 detail, when Meta sent one
  std::optional<std::string> request_id;
  std::optional<bool> success;
  std::vector<Participant> removed_participants;  ///< when the answer lists them
  std::vector<FailedParticipant> failed_participants;
  std::vector<ItemError> errors;  ///< request-level errors Meta attached
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
