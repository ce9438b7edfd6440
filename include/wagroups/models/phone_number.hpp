#pragma once

/// @file
/// Whether a business phone number can use the Groups API, read from its own fields
/// (`GET /{phone-number-id}?fields=...`) before the first 131215 says so.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wagroups/export.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// The phone-number fields that bear on Groups eligibility, as Meta returned them. Absent fields
/// stay unset: nothing is assumed.
struct PhoneNumberFields {
  std::optional<std::string> id;
  std::optional<std::string> display_phone_number;
  std::optional<std::string> verified_name;
  std::optional<std::string> status;  ///< CONNECTED, DISCONNECTED, FLAGGED, ...
  std::optional<std::string> quality_rating;
  std::optional<std::string> account_mode;  ///< LIVE or SANDBOX
  std::optional<bool> is_official_business_account;
  std::optional<bool> is_on_biz_app;                   ///< a WhatsApp Business app number (coexistence)
  std::optional<std::string> platform_type;            ///< CLOUD_API, ON_PREMISE, NOT_APPLICABLE
  std::optional<std::string> messaging_limit_tier;     ///< TIER_50 ... TIER_100K, TIER_UNLIMITED
  std::optional<std::string> throughput_level;         ///< throughput.level, e.g. STANDARD
  std::optional<std::string> health_can_send_message;  ///< health_status.can_send_message
};

/// The overall answer. `eligible` means every criterion these fields can show is met; one
/// criterion (Multi-solution Conversations) can never be read, so a 131215 remains possible.
enum class Eligibility { eligible, not_eligible, unknown };

/// One criterion's state: `unknown` when the field was absent or the fact cannot be read.
enum class CriterionStatus { met, not_met, unknown };

/// Where a criterion comes from, which decides whether it counts towards the overall answer.
enum class CriterionBasis {
  documented,    ///< Meta's Groups documentation states it, and a field shows it: it counts
  not_readable,  ///< Meta documents it, but no phone-number field shows it: always unknown, not counted
  advisory,      ///< not in Meta's Groups documentation: informative only, never not_met, not counted
};

WAGROUPS_API const char* to_string(Eligibility value) noexcept;
WAGROUPS_API const char* to_string(CriterionStatus value) noexcept;
WAGROUPS_API const char* to_string(CriterionBasis value) noexcept;

/// One reason of the verdict.
struct EligibilityReason {
  std::string criterion;             ///< official_business_account, not_business_app, cloud_api_platform,
                                     ///< not_multi_solution_conversations, messaging_limit_tier
  std::string field;                 ///< the phone-number field read; empty when none shows the fact
  std::optional<std::string> value;  ///< the value seen ("true", "CLOUD_API", ...); unset when absent
  CriterionStatus status = CriterionStatus::unknown;
  CriterionBasis basis = CriterionBasis::documented;
  std::string explanation;  ///< one sentence for people
};

/// `Client::check_number_eligibility`'s verdict: `not_eligible` when a documented criterion is not
/// met, else `unknown` when one could not be read (its field was absent), else `eligible`.
struct NumberEligibility {
  Eligibility overall = Eligibility::unknown;
  std::vector<EligibilityReason> reasons;
  PhoneNumberFields number;
};

/// The verdict for fields already read (what `check_number_eligibility` applies to its answer).
WAGROUPS_API NumberEligibility assess_groups_eligibility(const PhoneNumberFields& fields);

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
