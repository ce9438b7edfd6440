#include "wagroups/tickets/store.hpp"

#include <limits>

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

Result<std::vector<std::string>> TicketStore::list_ids(const TicketQuery& query) {
  // A store written before the deadline filters existed ignores them in `list`: ask for everything
  // that matches the rest, then apply them here.
  const bool deadlines = query.last_activity_at_most || query.resolved_at_most;
  TicketQuery wide = query;
  if (deadlines) wide.limit = std::numeric_limits<std::size_t>::max();
  auto listed = list(wide);
  if (!listed) return listed.error();
  std::vector<std::string> ids;
  for (const auto& stored : *listed) {
    if (ids.size() >= query.limit) break;
    const Ticket& t = stored.ticket;
    if (query.last_activity_at_most && t.last_activity_at > *query.last_activity_at_most) continue;
    if (query.resolved_at_most && (!t.resolved_at || *t.resolved_at > *query.resolved_at_most)) continue;
    ids.push_back(t.ticket_id);
  }
  return ids;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
