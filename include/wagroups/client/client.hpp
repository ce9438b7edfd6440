#pragma once

/// @file
/// `Client`: one method per Groups operation, typed in and typed out.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "wagroups/result.hpp"
#include "wagroups/export.hpp"
#include "wagroups/models/common.hpp"
#include "wagroups/models/groups.hpp"
#include "wagroups/models/invite_link.hpp"
#include "wagroups/models/join_requests.hpp"
#include "wagroups/models/messages.hpp"
#include "wagroups/models/participants.hpp"
#include "wagroups/models/phone_number.hpp"
#include "wagroups/client/fanout.hpp"
#include "wagroups/client/options.hpp"
#include "wagroups/http/transport.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// Called once per page while walking a paged list, with the number of items seen so far.
using PageProgress = std::function<void(std::size_t pages, std::size_t items)>;

/// A client of the Cloud API Groups endpoints.
///
/// Every argument is validated before anything is sent; a violation comes back as an `Error` of
/// kind `invalid_argument` naming the field and the limit. Retries happen inside the client: reads
/// (GET) are retried on retryable failures; every other operation only when the transport proves
/// the request never left this host, because a repeat would report a done deed as failed (a
/// second reject answers 131213) or start a second asynchronous operation.
/// `CallOptions::idempotency` overrides that per call.
///
/// @par Thread safety
/// A `Client` is a cheap handle over shared immutable state: copy it freely, and call any method
/// from any number of threads at once (the transport must be thread-safe, as `CurlTransport` is).
///
/// @code
/// wagroups::ClientOptions options;
/// options.access_token = token;
/// options.phone_number_id = "106540352242922";
/// wagroups::Client client(options);
/// auto created = client.create_group({"Order #1042", "Delivery question", std::nullopt});
/// if (!created) std::cerr << created.error().to_string() << "\n";
/// @endcode
class WAGROUPS_API Client {
 public:
  explicit Client(ClientOptions options);

  const ClientOptions& options() const noexcept;

  // Groups.
  Result<CreateGroupResponse> create_group(const CreateGroupRequest& request, const CallOptions& call = {}) const;
  Result<ListGroupsResponse> list_groups(const ListGroupsRequest& request = {}, const CallOptions& call = {}) const;
  /// Walks every page of active groups, calling `visit` for each group (return false to stop).
  /// An expired cursor (131059) restarts the walk from the first page; groups already visited are
  /// not visited again. The walk ends on an empty or short last page, a missing or repeated cursor,
  /// or a page with nothing new. Returns how many groups were visited. On a failure mid-walk the
  /// groups already visited stay delivered; the Result carries the error.
  Result<std::size_t> for_each_group(const std::function<bool(const GroupSummary&)>& visit, int page_size = 100,
                                     const PageProgress& progress = {}, const CallOptions& call = {}) const;
  /// Every active group, collected with `for_each_group`.
  Result<std::vector<GroupSummary>> list_all_groups(int page_size = 100, const PageProgress& progress = {},
                                                    const CallOptions& call = {}) const;
  Result<GroupInfo> get_group_info(const GetGroupInfoRequest& request, const CallOptions& call = {}) const;
  Result<UpdateGroupSettingsResponse> update_group_settings(const UpdateGroupSettingsRequest& request,
                                                            const CallOptions& call = {}) const;
  Result<DeleteGroupResponse> delete_group(const std::string& group_id, const CallOptions& call = {}) const;

  // Invite link.
  Result<InviteLink> get_invite_link(const std::string& group_id, const CallOptions& call = {}) const;
  /// Creates a new link; every earlier link stops working.
  Result<InviteLink> reset_invite_link(const std::string& group_id, const CallOptions& call = {}) const;
  Result<DeleteInviteLinkResponse> delete_invite_link(const std::string& group_id, const CallOptions& call = {}) const;

  // Join requests.
  Result<JoinRequestsPage> list_join_requests(const ListJoinRequestsRequest& request,
                                              const CallOptions& call = {}) const;
  /// Every pending join request of a group, across pages (131059 restarts, as for groups). Meta
  /// documents neither a page size nor a `next` link here: the walk follows `after` cursors.
  Result<std::vector<JoinRequest>> list_all_join_requests(const std::string& group_id,
                                                          const PageProgress& progress = {},
                                                          const CallOptions& call = {}) const;
  Result<JoinRequestsOutcome> approve_join_requests(const JoinRequestsAction& request,
                                                    const CallOptions& call = {}) const;
  Result<JoinRequestsOutcome> reject_join_requests(const JoinRequestsAction& request,
                                                   const CallOptions& call = {}) const;

  // Participants.
  Result<RemoveParticipantsResponse> remove_participants(const RemoveParticipantsRequest& request,
                                                         const CallOptions& call = {}) const;

  // Messages to a group.
  /// Sends any `GroupMessage`; types groups do not support are refused before sending.
  Result<SendMessageResponse> send_group_message(const GroupMessage& message, const CallOptions& call = {}) const;
  Result<SendMessageResponse> send_text(const std::string& group_id, const std::string& body, bool preview_url = false,
                                        const CallOptions& call = {}) const;
  /// `type` is one of image, video, audio, document, sticker.
  Result<SendMessageResponse> send_media(const std::string& group_id, MessageType type, const MediaRef& media,
                                         const CallOptions& call = {}) const;
  Result<SendMessageResponse> send_template(const std::string& group_id, const TemplateMessage& template_message,
                                            const CallOptions& call = {}) const;
  /// Pins a message for `expiration_days` (1-30).
  Result<SendMessageResponse> pin_message(const std::string& group_id, const std::string& message_id,
                                          int expiration_days, const CallOptions& call = {}) const;
  Result<SendMessageResponse> unpin_message(const std::string& group_id, const std::string& message_id,
                                            const CallOptions& call = {}) const;

  /// Fan-out: sends `message` (its `group_id` ignored) to each of `group_ids`, at most
  /// `limits::max_fan_out_groups` (10,000) of them, each named once, over `Transport::send_concurrently`:
  /// `options.max_in_flight` at once, at most `options.messages_per_second` (default 80), pausing
  /// on throttling answers (429, 130429, 131208...) for their Retry-After. The message is checked
  /// once; a bad group id fails that group alone. Only a send Meta provably did not accept
  /// (throttled, or the connection never made) is repeated: a send whose connection broke after
  /// the request left is `FanOutStatus::unknown`, never repeated. The Result's error is for a call
  /// refused as a whole (too many groups, a duplicate, a bad message or option); otherwise every
  /// group's outcome is in the report, in the order given.
  Result<FanOutReport> send_to_groups(const std::vector<std::string>& group_ids, const GroupMessage& message,
                                      const FanOutOptions& options = {}) const;

  // 1:1.
  /// Sends a template to one person. A phone number goes in `to`, a BSUID in `recipient`, both
  /// when both are set; `recipient_type` is left to Meta's default (`individual`). The invite flow
  /// uses this with a `TemplateParameter::invite_link_for(group_id)` body parameter.
  Result<SendMessageResponse> send_template_to_individual(const IndividualRecipient& recipient,
                                                          const TemplateMessage& template_message,
                                                          const CallOptions& call = {}) const;
  /// `send_template_to_individual` with one string: a BSUID ("US.1349...") is sent as `recipient`,
  /// anything else is checked as a phone number and sent as `to`.
  Result<SendMessageResponse> send_template_to_phone(const std::string& phone_number,
                                                     const TemplateMessage& template_message,
                                                     const CallOptions& call = {}) const;
  /// Sends a text (1-4096 characters) to one person, addressed as `send_template_to_individual`.
  /// Outside a 24-hour customer-service window Meta refuses free text (131047): use a template.
  Result<SendMessageResponse> send_text_to_individual(const IndividualRecipient& recipient, const std::string& body,
                                                      bool preview_url = false, const CallOptions& call = {}) const;

  // The business number.
  /// Reads the number's own fields (`GET /{phone-number-id}?fields=...`) and judges from them
  /// whether it can use the Groups API, reason by reason, claiming no more than Meta documents
  /// (see `NumberEligibility`). A read: retried like the other reads.
  Result<NumberEligibility> check_number_eligibility(const CallOptions& call = {}) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
