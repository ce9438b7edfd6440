#pragma once

// Helpers shared by the webhook event tests: modelled values rendered as text (so that a failed
// CHECK prints both sides, and "" differs from unset), and builders of expected values.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "wagroups/webhook/events.hpp"

namespace wagroups_test {

using Text = std::optional<std::string>;
inline const char* const kUnset = "<unset>";

inline std::string shown(const Text& v) { return v ? "\"" + *v + "\"" : kUnset; }
inline std::string shown(const std::string& v) { return shown(Text(v)); }
inline std::string shown(const char* v) { return shown(Text(v)); }
inline std::string shown(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : kUnset; }
inline std::string shown(const std::optional<bool>& v) { return v ? (*v ? "true" : "false") : kUnset; }
inline std::string shown(const std::optional<wagroups::JoinApprovalMode>& v) {
  return v ? wagroups::to_string(*v) : kUnset;
}

inline std::string shown(wagroups::RemovalInitiator r) {
  switch (r) {
    case wagroups::RemovalInitiator::unknown: return "unknown";
    case wagroups::RemovalInitiator::business: return "business";
    case wagroups::RemovalInitiator::participant: return "participant";
  }
  return "?";
}

inline std::string shown(const wagroups::Participant& p) {
  return "{wa_id=" + shown(p.wa_id) + " user_id=" + shown(p.user_id) + " parent_user_id=" +
         shown(p.parent_user_id) + " username=" + shown(p.username) + " input=" + shown(p.input) + "}";
}

inline std::string shown(const wagroups::ItemError& e) {
  return "{code=" + std::to_string(e.code) + " title=" + shown(e.title) + " message=" + shown(e.message) +
         " details=" + shown(e.details) + " href=" + shown(e.href) + "}";
}

inline std::string shown(const wagroups::FailedParticipant& f);

template <typename T>
std::string shown(const std::vector<T>& items) {
  std::string out = "[";
  for (const auto& item : items) out += (out.size() > 1 ? ", " : "") + shown(item);
  return out + "]";
}

inline std::string shown(const wagroups::FailedParticipant& f) {
  return "{participant=" + shown(f.participant) + " errors=" + shown(f.errors) + "}";
}

inline std::string shown(const std::optional<wagroups::SettingOutcome>& s) {
  if (!s) return kUnset;
  return "{text=" + shown(s->text) + " mime_type=" + shown(s->mime_type) + " sha256=" + shown(s->sha256) +
         " update_successful=" + shown(s->update_successful) + " errors=" + shown(s->errors) +
         " succeeded=" + (s->succeeded() ? "yes" : "no") + "}";
}

inline std::string shown(const std::optional<wagroups::ReplyContext>& r) {
  return r ? "{from=" + shown(r->from) + " id=" + shown(r->id) + "}" : kUnset;
}

inline std::string shown(const wagroups::WebhookContext& c) {
  return "{waba_id=" + c.waba_id + " phone_number_id=" + c.phone_number_id +
         " display_phone_number=" + c.display_phone_number + " field=" + c.field +
         " timestamp=" + shown(c.timestamp) + " entry=" + std::to_string(c.entry_index) +
         " change=" + std::to_string(c.change_index) + " item=" + std::to_string(c.item_index) + "}";
}

/// An expected participant.
inline wagroups::Participant person(Text wa_id, Text user_id = {}, Text parent_user_id = {}, Text username = {},
                                    Text input = {}) {
  wagroups::Participant p;
  p.wa_id = std::move(wa_id);
  p.user_id = std::move(user_id);
  p.parent_user_id = std::move(parent_user_id);
  p.username = std::move(username);
  p.input = std::move(input);
  return p;
}

/// The `raw` view every event carries.
inline const wagroups::RawJson& raw_of(const wagroups::WebhookEvent& event) {
  return std::visit([](const auto& e) -> const wagroups::RawJson& { return e.raw; }, event);
}

}  // namespace wagroups_test
