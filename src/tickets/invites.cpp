// The invite flow: checks everything it can against the ticket before the first network call, then
// sends one 1:1 template per invitee and records each outcome on the ticket.

#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/validation.hpp"
#include "util/text.hpp"
#include "wagroups/client/client.hpp"
#include "wagroups/tickets.hpp"
#include "wagroups/limits.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace {

constexpr const char* kSeatLimit = "at most 8 participants including the business";

// The digits of a phone number written with the usual punctuation ("+1 (650) 555-1234" and
// "16505551234" are one number, as the client's participant check counts them), or "" when `text`
// is not a phone number (a BSUID, letters). Webhooks carry phones as bare digits (`wa_id`), so
// invites are recorded in this form to compare with the roster.
bool same_phone(const std::optional<std::string>& recorded, const std::string& digits) {
  return recorded && validation::phone_digits(*recorded) == digits;
}

const Member* member_with_phone(const Ticket& ticket, const std::string& digits) {
  for (const Member& m : ticket.members)
    if (same_phone(m.person.phone, digits)) return &m;
  return nullptr;
}

// An invite still outstanding: not failed (send or delivery), and its invitee not on the roster in
// any status (the roster then speaks for them). The same rule decides the invite's seat.
bool pending_invite_for(const Ticket& ticket, const std::string& digits) {
  if (member_with_phone(ticket, digits)) return false;
  for (const Invite& invite : ticket.invites)
    if (invite.status != DeliveryStatus::failed && validation::phone_digits(invite.phone) == digits) return true;
  return false;
}

bool refuses_invites(TicketState state) {
  return state == TicketState::unlinked || state == TicketState::create_requested ||
         state == TicketState::creation_failed || state == TicketState::closed;
}

Result<void> check_template_shape(const InviteTemplate& t) {
  if (t.link_parameter_name) {
    if (t.link_parameter_name->empty())
      return Error::invalid_argument("invite_template.link_parameter_name", "non-empty when set");
    if (!t.other_parameters.empty())
      return Error::invalid_argument("invite_template.other_parameters",
                                     "empty for a named-parameter template (use other_named_parameters)");
    std::set<std::string> names{*t.link_parameter_name};
    for (std::size_t i = 0; i < t.other_named_parameters.size(); ++i) {
      const std::string field = "invite_template.other_named_parameters[" + std::to_string(i) + "]";
      if (t.other_named_parameters[i].first.empty()) return Error::invalid_argument(field, "a non-empty name");
      if (!names.insert(t.other_named_parameters[i].first).second)
        return Error::invalid_argument(field, "a name used once (the link's included)");
    }
    return {};
  }
  if (!t.other_named_parameters.empty())
    return Error::invalid_argument("invite_template.other_named_parameters",
                                   "empty for a positional template (set link_parameter_name for a named one)");
  const auto positions = static_cast<long long>(t.other_parameters.size()) + 1;
  if (t.link_parameter_index < 1 || t.link_parameter_index > positions)
    return Error::invalid_argument("invite_template.link_parameter_index",
                                   "1 to " + std::to_string(positions) + " (the other parameters plus the link)");
  return {};
}

// The template with the link (or the group id Meta turns into the link) in its place.
TemplateMessage build_message(const InviteTemplate& t, const std::string& group_id, const std::string& link) {
  TemplateParameter link_param = t.link_as_group_id ? TemplateParameter::invite_link_for(group_id)
                                                    : TemplateParameter::text_value(link);
  TemplateComponent body;
  body.type = "body";
  if (t.link_parameter_name) {
    link_param.parameter_name = *t.link_parameter_name;
    body.parameters.push_back(std::move(link_param));
    for (const auto& [name, value] : t.other_named_parameters) {
      TemplateParameter p = TemplateParameter::text_value(value);
      p.parameter_name = name;
      body.parameters.push_back(std::move(p));
    }
  } else {
    for (const std::string& value : t.other_parameters) body.parameters.push_back(TemplateParameter::text_value(value));
    body.parameters.insert(body.parameters.begin() + (t.link_parameter_index - 1), std::move(link_param));
  }
  TemplateMessage message;
  message.name = t.name;
  message.language = t.language;
  message.components.push_back(std::move(body));
  return message;
}

std::int64_t now_seconds(const Client& client) {
  const auto now = client.options().clock ? client.options().clock() : std::chrono::system_clock::now();
  return std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
}

}  // namespace

Result<std::vector<InviteOutcome>> send_invites(const Client& client, TicketAggregator& tickets,
                                                const std::string& ticket_id, const InviteTemplate& invite_template,
                                                const std::vector<std::string>& invitee_phones) {
  if (auto r = check_template_shape(invite_template); !r) return r.error();

  // The ticket as it is now. Nothing serialises two concurrent invite rounds for one ticket; Meta
  // still refuses a ninth participant when they try to join.
  auto stored = tickets.store().load(ticket_id);
  if (!stored) return stored.error();
  if (!*stored) return Error::invalid_argument("ticket_id", "an existing ticket", "no ticket " + ticket_id);
  const Ticket& ticket = (*stored)->ticket;
  if (!ticket.group_id || ticket.group_id->empty() || refuses_invites(ticket.state))
    return Error::invalid_argument("ticket_id", "a created, open group",
                                   "ticket " + ticket_id + " is " + to_string(ticket.state) +
                                       ": invites need a created group that is not closed");

  if (invitee_phones.empty()) return Error::invalid_argument("invitees", "at least one phone number");
  std::vector<std::string> phones;
  phones.reserve(invitee_phones.size());
  std::set<std::string> seen;
  for (std::size_t i = 0; i < invitee_phones.size(); ++i) {
    const std::string field = "invitees[" + std::to_string(i) + "]";
    std::string digits;
    if (validation::check_phone(invitee_phones[i])) digits = validation::phone_digits(invitee_phones[i]);
    if (digits.empty())
      return Error::invalid_argument(field, "a phone number (digits, optionally with + - ( ) . and spaces)");
    if (!seen.insert(digits).second)
      return Error::invalid_argument(field, "each number once", field + " repeats an earlier invitee");
    if (const Member* m = member_with_phone(ticket, digits)) {
      if (m->status == MemberStatus::joined || m->status == MemberStatus::join_requested)
        return Error::invalid_argument(field, "not already a member or invited",
                                       field + " is already " + to_string(m->status));
      // Meta: a removed participant can no longer join through the invite link.
      if (m->status == MemberStatus::removed)
        return Error::invalid_argument(field, "not removed from the group (the invite link no longer admits them)");
    }
    if (pending_invite_for(ticket, digits))
      return Error::invalid_argument(field, "not already a member or invited", field + " has an outstanding invite");
    phones.push_back(std::move(digits));
  }
  const int seats = ticket.seats_taken();
  if (seats + static_cast<long long>(phones.size()) > static_cast<long long>(limits::max_participants))
    return Error::invalid_argument("invitees", kSeatLimit,
                                   std::to_string(seats) + " seats are taken; " + std::to_string(phones.size()) +
                                       " more would exceed " + std::to_string(limits::max_participants));

  const std::string& group_id = *ticket.group_id;
  std::string link;
  if (!invite_template.link_as_group_id) {
    if (ticket.invite_link && !ticket.invite_link->empty()) {
      link = *ticket.invite_link;
    } else {
      auto fetched = client.get_invite_link(group_id);
      if (!fetched) return fetched.error();
      if (fetched->invite_link.empty())
        return Error::decode_failure(200, "the invite_link answer for group " + group_id + " carried no link");
      link = std::move(fetched->invite_link);
    }
  }
  const TemplateMessage message = build_message(invite_template, group_id, link);
  if (auto r = validation::check_template(message, false); !r) return r.error();

  std::vector<InviteOutcome> results;
  results.reserve(phones.size());
  for (std::size_t i = 0; i < phones.size(); ++i) {
    Invite invite;
    invite.phone = phones[i];
    invite.sent_at = now_seconds(client);
    InviteOutcome result;
    result.phone = phones[i];
    auto sent = client.send_template_to_phone(phones[i], message);
    if (sent) {
      if (std::string id = sent->message_id(); !id.empty()) invite.message_id = id;
      result.message_id = invite.message_id;
    } else {
      invite.status = DeliveryStatus::failed;  // frees the seat and allows a later retry
      std::string text = sent.error().to_string();
      text::redact(text, client.options().access_token);  // the client scrubs already; belt and braces
      invite.error = std::move(text);
      result.error = sent.error();
    }
    if (auto recorded = tickets.record_invite(ticket_id, invite); !recorded) {
      // Each earlier outcome is on the ticket; this one happened but is not; later ones never ran.
      Error e = recorded.error();
      e.message += " (invitees[" + std::to_string(i) + "] " + invite.phone +
                   (invite.message_id ? " was sent as " + *invite.message_id
                                      : std::string(invite.error ? " failed to send" : " was sent")) +
                   " but not recorded: record it with TicketAggregator::record_invite; " +
                   std::to_string(phones.size() - i - 1) + " later invitee(s) were not sent)";
      return e;
    }
    results.push_back(std::move(result));
  }
  return results;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
