#pragma once

// Tickets for people and scripts: opening the SQLite store, rendering a ticket, describing what
// applying a webhook changed. Shared by `tickets`, `invite send`, `webhook serve` and `demo`.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <wagroups/sqlite/ticket_store.hpp>
#include <wagroups/tickets.hpp>

#include "output.hpp"

namespace wagroups_cli {

inline constexpr const char* kDefaultTicketDb = "./wagroups-tickets.db";

/// Opens (creating when needed) the SQLite ticket store; null with the error printed and
/// `exit_code` set. With `must_exist`, a missing file is `exit_not_found` rather than created.
std::unique_ptr<wagroups::SqliteTicketStore> open_ticket_store(const std::string& path, int& exit_code,
                                                               bool must_exist = false,
                                                               wagroups::SqliteOptions options = {});

/// The ticket named by a ticket id, a group id or a create request id; unset when none matches.
wagroups::Result<std::optional<wagroups::StoredTicket>> find_ticket(wagroups::TicketStore& store,
                                                                    const std::string& name);

/// How timestamps are shown: whole dates, or the time of day only (a one-day timeline).
enum class TimeStyle { date_time, clock };

/// A member's display name: the profile name when known, else the phone or BSUID.
std::string member_name(const wagroups::Ticket& ticket, const std::string& canonical_key);

/// The ticket as readable lines: header, members, invites, timeline with per-participant delivery.
std::vector<std::string> render_ticket(const wagroups::Ticket& ticket, TimeStyle style = TimeStyle::date_time);

/// One change as a line ("T-1A2B message_appended wamid.X") or a JSON object.
std::string describe_change(const wagroups::TicketChange& change);
std::string change_json(const wagroups::TicketChange& change);

/// A short summary object for lists: id, state, assignee, subject, group, counts, times.
void write_ticket_summary_json(JsonWriter& w, const wagroups::StoredTicket& stored);

}  // namespace wagroups_cli
