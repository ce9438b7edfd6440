#pragma once

/// @file
/// The invite flow: a group's invite link sent to each customer by a 1:1 template, each outcome
/// recorded on the ticket.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "wagroups/error.hpp"
#include "wagroups/export.hpp"
#include "wagroups/result.hpp"
#include "wagroups/tickets/aggregator.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

class Client;

/// The approved 1:1 template that carries the invite link.
struct InviteTemplate {
  std::string name;
  std::string language = "en_US";
  /// The body variable that takes the link: its position (1-based) for positional templates...
  int link_parameter_index = 1;
  /// ...or its name for named-parameter templates (takes precedence when set).
  std::optional<std::string> link_parameter_name;
  /// Other body variables, in order (the link is inserted at its position).
  std::vector<std::string> other_parameters;
  /// Named-parameter templates: the other body variables as (name, value), sent in this order.
  std::vector<std::pair<std::string, std::string>> other_named_parameters;
  /// Send the link variable as Meta's documented `{"type":"group_id","group_id":"<GROUP_ID>"}`
  /// parameter (the Template Library invite template): Meta substitutes the group's invite link on
  /// delivery, so the link is never fetched. The default; set false for a template of your own
  /// whose variable takes the link as text (it is then read from the ticket or fetched).
  bool link_as_group_id = true;
};

struct InviteOutcome {
  std::string phone;
  std::optional<std::string> message_id;
  std::optional<Error> error;
};

/// Sends the group's invite link to each invitee by template and records each outcome on the
/// ticket. Refuses (invalid_argument, field "invitees", before sending anything) when the seats
/// would exceed 8 including the business, when the ticket has no group yet, or when an invitee is
/// already a member or invited.
///
/// Before any network call it refuses (invalid_argument, `field` and `limit` set): an unknown ticket
/// or one without a created, open group ("ticket_id"); an empty list ("invitees"); an invalid or
/// repeated number ("+1 650-555-1234" and "16505551234" are one), a member joined, requesting or
/// removed, or a number with an outstanding invite ("invitees[i]"); too many seats ("invitees").
/// The link is the ticket's `invite_link`, else `Client::get_invite_link` (its error is returned
/// before any invite is sent); with `link_as_group_id` Meta fills it in. Numbers are sent and
/// recorded as digits. One failed send does not stop the others: the results list every invitee in
/// order, each with its message id or error, and a failed send is recorded with status `failed`
/// (freeing the seat). A store error while recording stops the round and is returned: the earlier
/// outcomes are on the ticket, the one named in the message happened but is not recorded (call
/// `record_invite` with it; until then its status webhooks find no ticket), the later invitees were
/// not sent (send to them again).
WAGROUPS_API Result<std::vector<InviteOutcome>> send_invites(const Client& client, TicketAggregator& tickets,
                                                             const std::string& ticket_id,
                                                             const InviteTemplate& invite_template,
                                                             const std::vector<std::string>& invitee_phones);

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
