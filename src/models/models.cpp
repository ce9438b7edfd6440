#include "wagroups/models/common.hpp"
#include "wagroups/models/groups.hpp"
#include "wagroups/models/messages.hpp"
#include "wagroups/models/phone_number.hpp"

#include <utility>

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

const char* to_string(JoinApprovalMode mode) noexcept {
  return mode == JoinApprovalMode::approval_required ? "approval_required" : "auto_approve";
}

std::optional<JoinApprovalMode> parse_join_approval_mode(std::string_view text) noexcept {
  if (text == "auto_approve") return JoinApprovalMode::auto_approve;
  if (text == "approval_required") return JoinApprovalMode::approval_required;
  return std::nullopt;
}

const char* to_string(GroupField field) noexcept {
  switch (field) {
    case GroupField::subject: return "subject";
    case GroupField::description: return "description";
    case GroupField::participants: return "participants";
    case GroupField::total_participant_count: return "total_participant_count";
    case GroupField::suspended: return "suspended";
    case GroupField::creation_timestamp: return "creation_timestamp";
    case GroupField::join_approval_mode: return "join_approval_mode";
  }
  return "subject";
}

const char* to_string(MessageType type) noexcept {
  switch (type) {
    case MessageType::text: return "text";
    case MessageType::image: return "image";
    case MessageType::video: return "video";
    case MessageType::audio: return "audio";
    case MessageType::document: return "document";
    case MessageType::sticker: return "sticker";
    case MessageType::template_: return "template";
    case MessageType::pin: return "pin";
    case MessageType::interactive: return "interactive";
    case MessageType::reaction: return "reaction";
    case MessageType::location: return "location";
    case MessageType::contacts: return "contacts";
  }
  return "text";
}

bool is_supported_in_groups(MessageType type) noexcept {
  switch (type) {
    case MessageType::interactive:
    case MessageType::reaction:
    case MessageType::location:
    case MessageType::contacts: return false;
    default: return true;
  }
}

bool looks_like_bsuid(std::string_view text) noexcept {
  // CC(.SEGMENT)*.DIGITS: a two-letter upper-case country code, optional upper-case segments, digits.
  std::size_t i = 0;
  auto upper_run = [&] {
    const std::size_t from = i;
    while (i < text.size() && text[i] >= 'A' && text[i] <= 'Z') ++i;
    return i - from;
  };
  if (upper_run() != 2) return false;
  for (;;) {
    if (i >= text.size() || text[i] != '.') return false;
    ++i;
    if (i < text.size() && text[i] >= '0' && text[i] <= '9') break;
    if (upper_run() == 0) return false;
  }
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  return i == text.size();
}

const char* to_string(Eligibility value) noexcept {
  switch (value) {
    case Eligibility::eligible: return "eligible";
    case Eligibility::not_eligible: return "not_eligible";
    case Eligibility::unknown: return "unknown";
  }
  return "unknown";
}

const char* to_string(CriterionStatus value) noexcept {
  switch (value) {
    case CriterionStatus::met: return "met";
    case CriterionStatus::not_met: return "not_met";
    case CriterionStatus::unknown: return "unknown";
  }
  return "unknown";
}

const char* to_string(CriterionBasis value) noexcept {
  switch (value) {
    case CriterionBasis::documented: return "documented";
    case CriterionBasis::not_readable: return "not_readable";
    case CriterionBasis::advisory: return "advisory";
  }
  return "advisory";
}

namespace {

std::optional<std::string> bool_text(const std::optional<bool>& b) {
  if (!b) return std::nullopt;
  return std::string(*b ? "true" : "false");
}

EligibilityReason reason(std::string criterion, std::string field, std::optional<std::string> value,
                         CriterionStatus status, CriterionBasis basis, std::string explanation) {
  EligibilityReason r;
  r.criterion = std::move(criterion);
  r.field = std::move(field);
  r.value = std::move(value);
  r.status = status;
  r.basis = basis;
  r.explanation = std::move(explanation);
  return r;
}

}  // namespace

NumberEligibility assess_groups_eligibility(const PhoneNumberFields& f) {
  NumberEligibility out;
  out.number = f;
  auto& reasons = out.reasons;
  const auto documented = CriterionBasis::documented;

  // Meta: "The Groups API is now open to all businesses with an OBA."
  {
    const CriterionStatus s = !f.is_official_business_account   ? CriterionStatus::unknown
                              : *f.is_official_business_account ? CriterionStatus::met
                                                                : CriterionStatus::not_met;
    reasons.push_back(
        reason("official_business_account", "is_official_business_account", bool_text(f.is_official_business_account),
               s, documented,
               s == CriterionStatus::unknown ? "the answer did not say whether this is an Official Business Account"
               : s == CriterionStatus::met   ? "an Official Business Account (required by Meta)"
                                             : "not an Official Business Account: Meta requires one for Groups"));
  }
  // Meta: not available for WhatsApp Business app phone numbers (coexistence).
  {
    const CriterionStatus s = !f.is_on_biz_app   ? CriterionStatus::unknown
                              : *f.is_on_biz_app ? CriterionStatus::not_met
                                                 : CriterionStatus::met;
    reasons.push_back(reason(
        "not_business_app", "is_on_biz_app", bool_text(f.is_on_biz_app), s, documented,
        s == CriterionStatus::unknown ? "the answer did not say whether the number is on the WhatsApp Business app"
        : s == CriterionStatus::met   ? "not a WhatsApp Business app number"
                                    : "a WhatsApp Business app number (coexistence): Groups are not available to it"));
  }
  // Meta's prerequisites: the number is on the Cloud API.
  {
    const CriterionStatus s = !f.platform_type                  ? CriterionStatus::unknown
                              : *f.platform_type == "CLOUD_API" ? CriterionStatus::met
                                                                : CriterionStatus::not_met;
    reasons.push_back(reason("cloud_api_platform", "platform_type", f.platform_type, s, documented,
                             s == CriterionStatus::unknown ? "the answer did not say which platform the number is on"
                             : s == CriterionStatus::met   ? "registered on the Cloud API"
                                                           : "not registered on the Cloud API, which Groups require"));
  }
  // Documented, but no phone-number field shows it.
  reasons.push_back(reason("not_multi_solution_conversations", "", std::nullopt, CriterionStatus::unknown,
                           CriterionBasis::not_readable,
                           "Groups are not available to numbers onboarded to Multi-solution Conversations; no "
                           "phone-number field shows that, so it is not checked"));
  // Often cited as a Groups requirement, but not in Meta's Groups documentation: information only.
  {
    const bool high = f.messaging_limit_tier &&
                      (*f.messaging_limit_tier == "TIER_100K" || *f.messaging_limit_tier == "TIER_UNLIMITED");
    reasons.push_back(reason("messaging_limit_tier", "messaging_limit_tier", f.messaging_limit_tier,
                             high ? CriterionStatus::met : CriterionStatus::unknown, CriterionBasis::advisory,
                             high ? "at the 100K tier or above (advisory: Meta's Groups documentation names no tier)"
                                  : "below the 100K tier or not stated (advisory only: Meta's Groups documentation "
                                    "names no tier requirement)"));
  }

  bool any_unknown = false;
  out.overall = Eligibility::eligible;
  for (const auto& r : reasons) {
    if (r.basis != CriterionBasis::documented) continue;
    if (r.status == CriterionStatus::not_met) out.overall = Eligibility::not_eligible;
    if (r.status == CriterionStatus::unknown) any_unknown = true;
  }
  if (out.overall == Eligibility::eligible && any_unknown) out.overall = Eligibility::unknown;
  return out;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
