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

Result<void> require_id(const char* field, std::string_view value);
Result<void> check_subject(const char* field, std::string_view subject);
Result<void> check_description(const char* field, std::string_view description);
Result<void> check_page(const PageRequest& page);

Result<void> check(const CreateGroupRequest& request);
Result<void> check(const UpdateGroupSettingsRequest& request);
Result<void> check(const JoinRequestsAction& request);
Result<void> check(const RemoveParticipantsRequest& request);
Result<void> check(const GroupMessage& message);
/// `for_group`: authentication templates are refused for groups.
Result<void> check_template(const TemplateMessage& message, bool for_group);
Result<void> check_phone(std::string_view phone);

bool media_takes_caption(MessageType type) noexcept;
bool is_media(MessageType type) noexcept;

}  // namespace validation
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
