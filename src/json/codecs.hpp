#pragma once

// Request bodies and response decoders for every Groups operation. Decoders are lenient (string
// or number, absent optional fields stay unset, unknown fields ignored); a body that is not JSON,
// or whose required fields are missing, is an Error of kind `decode`.

#include <string>
#include <string_view>
#include <vector>

#include "wagroups/result.hpp"
#include "wagroups/models/common.hpp"
#include "wagroups/models/groups.hpp"
#include "wagroups/models/invite_link.hpp"
#include "wagroups/models/join_requests.hpp"
#include "wagroups/models/messages.hpp"
#include "wagroups/models/participants.hpp"
#include "wagroups/models/phone_number.hpp"
#include "wagroups/http/transport.hpp"
#include "json/json.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace codec {

// Requests. Inputs are validated by the caller; these only serialise.
std::string encode_create_group(const CreateGroupRequest& request);
std::string encode_update_settings(const UpdateGroupSettingsRequest& request);
std::string encode_messaging_product_only();
std::string encode_join_request_ids(const JoinRequestsAction& request);
std::string encode_remove_participants(const RemoveParticipantsRequest& request);
/// A group message (`recipient_type: group`).
std::string encode_group_message(const GroupMessage& message);
/// A 1:1 template message: `to` for the phone, `recipient` for the BSUID (both when both are set).
/// `recipient_type` is left out: Meta's default is `individual`, and Meta's invite sample and the
/// restfb request fixtures send none.
std::string encode_template_to_individual(const IndividualRecipient& to, const TemplateMessage& message);
/// A 1:1 text message (`preview_url` only when true, as the fixtures send it).
std::string encode_text_to_individual(const IndividualRecipient& to, const std::string& body, bool preview_url);
/// The `fields` query of the eligibility read, comma-separated.
const char* phone_number_eligibility_fields() noexcept;

// Responses. `body` is taken by reference because the parse pads it for SIMD scanning while it
// runs; it is left as it was, so error messages can still quote it.
Result<CreateGroupResponse> decode_create_group(std::string& body);
Result<ListGroupsResponse> decode_list_groups(std::string& body);
Result<GroupInfo> decode_group_info(std::string& body);
Result<UpdateGroupSettingsResponse> decode_update_settings(std::string& body);
Result<DeleteGroupResponse> decode_delete_group(std::string& body);
Result<InviteLink> decode_invite_link(std::string& body);
Result<DeleteInviteLinkResponse> decode_delete_invite_link(std::string& body);
Result<JoinRequestsPage> decode_join_requests(std::string& body);
/// `succeeded_key` is "approved_join_requests" or "rejected_join_requests"; `requested` are the ids
/// sent (those named in neither list are reported as `unreported`). HTTP 206 / code 131201 is data.
Result<JoinRequestsOutcome> decode_join_requests_result(HttpResponse& response, const char* succeeded_key,
                                                        const std::vector<std::string>& requested);
Result<PhoneNumberFields> decode_phone_number(std::string& body);
Result<RemoveParticipantsResponse> decode_remove_participants(HttpResponse& response);
Result<SendMessageResponse> decode_send_message(std::string& body);

/// The Graph error of a non-2xx answer (`{"error": {...}}`), or a generic graph_api error with the
/// HTTP status and an excerpt of the body when it is not Graph's envelope. `secret` (the access
/// token) is removed from the excerpt before it is cut. Retry-After is read by the caller.
Error decode_error_response(const HttpResponse& response, std::string_view secret = {});
/// The `{"error": {...}}` member of a parsed body, if it has one.
std::optional<GraphError> graph_error_of(const json::Value& doc);

// Shared pieces, also used by the webhook parser.
Participant decode_participant(const json::Value& v);
ItemError decode_item_error(const json::Value& v);
std::vector<ItemError> decode_item_errors(const json::Value& obj, const char* key = "errors");
Paging decode_paging(const json::Value& obj);

}  // namespace codec
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
