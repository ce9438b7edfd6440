#pragma once

// Client-side checks run before any network call. Each failure names the field and the limit.

#include <cstddef>
#include <string>
#include <string_view>

#include "wagroups/result.hpp"
#include "wagroups/models/groups.hpp"
#include "wagroups/models/join_requests.hpp"
#include "wagroups/models/messages.hpp"
#include "wagroups/models/participants.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace validation {

/// `text` without leading and trailing ASCII or Unicode-common whitespace.
std::string trim(std::string_view text);
/// Number of Unicode code points, or npos when `text` is not valid UTF-8.
std::size_t utf8_length(std::string_view text) noexcept;
/// The digits of a phone number written with "+", blanks, "-", "()" or "."; empty when `text` is
/// not a phone number (a BSUID, a WhatsApp id with letters).
std::string phone_digits(std::string_view text);

/// An id sent inside a request body: non-empty, no surrounding blanks, no control characters.
Result<void> require_id(const char* field, std::string_view value);
/// An id that becomes a URL path segment (group id, phone number id, API version): require_id's
/// rules, and nothing an HTTP client or server could read as path structure or normalise away:
/// not "." or "..", and no '/', '\\', '?', '#', '%', whitespace or control character anywhere.
Result<void> require_path_id(const char* field, std::string_view value);
/// `name/x.y.z` tokens separated by single spaces (see ClientOptions::user_agent_suffix).
Result<void> check_user_agent_suffix(std::string_view suffix);
/// https://, or http:// when `allow_insecure_http`; any other scheme is refused.
Result<void> check_base_url(std::string_view base_url, bool allow_insecure_http);
Result<void> check_subject(const char* field, std::string_view subject);
Result<void> check_description(const char* field, std::string_view description);
Result<void> check_page(const PageRequest& page);
/// A text message body: 1-4096 characters of valid UTF-8.
Result<void> check_text(const char* field, std::string_view text);

Result<void> check(const CreateGroupRequest& request);
Result<void> check(const UpdateGroupSettingsRequest& request);
Result<void> check(const JoinRequestsAction& request);
Result<void> check(const RemoveParticipantsRequest& request);
Result<void> check(const GroupMessage& message);
/// `for_group`: authentication templates are refused for groups.
Result<void> check_template(const TemplateMessage& message, bool for_group);
/// A phone number: digits with optional + - ( ) . and spaces, at least one digit. `field` is the
/// request field it is sent as ("to").
Result<void> check_phone(std::string_view phone, const char* field = "to");
/// A business-scoped user id (see `looks_like_bsuid`), sent as `recipient`.
Result<void> check_bsuid(std::string_view bsuid, const char* field = "recipient");
/// At least one of phone and bsuid, each valid.
Result<void> check(const IndividualRecipient& recipient);

bool media_takes_caption(MessageType type) noexcept;
bool is_media(MessageType type) noexcept;

}  // namespace validation
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
