#pragma once

// The ticket's JSON format (to_json / ticket_from_json) in parts, for stores that keep a ticket as
// several rows (SqliteTicketStore schema v2): the head (every field but members, invites and
// timeline, as a {"v":1,...} document ticket_from_json also reads), and one document per member,
// invite and timeline message, each the same object as inside the whole document.

#include <string>
#include <string_view>

#include "wagroups/result.hpp"
#include "wagroups/tickets/ticket.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace tickets_detail {

WAGROUPS_API std::string head_to_json(const Ticket& ticket);
WAGROUPS_API std::string member_to_json(const Member& member);
WAGROUPS_API std::string invite_to_json(const Invite& invite);
WAGROUPS_API std::string message_to_json(const TimelineMessage& message);

/// A head document; it may also be a whole ticket (a v1 row kept as it was): `whole` then says
/// so (it has a members, invites or timeline array), and the ticket is complete.
WAGROUPS_API Result<Ticket> head_from_json(std::string_view json, bool& whole);
WAGROUPS_API Result<Member> member_from_json(std::string_view json);
WAGROUPS_API Result<Invite> invite_from_json(std::string_view json);
WAGROUPS_API Result<TimelineMessage> message_from_json(std::string_view json);

}  // namespace tickets_detail
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
