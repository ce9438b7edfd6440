#pragma once

// Tickets for people and scripts: opening the store the command line names (a SQLite file, or a
// PostgreSQL URI when built with WAGROUPS_WITH_POSTGRES, issue 12; which one, and how it is
// printed, in store_spec.hpp), rendering a ticket, describing what applying a webhook changed.
// Shared by `tickets`, `invite send`, `send`, `groups create`, `webhook serve` and `demo`.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <wagroups/sqlite/ticket_store.hpp>
#include <wagroups/tickets.hpp>

#include "output.hpp"
#include "store_spec.hpp"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace wagroups_cli {

/// `--db,--store` and `--store-schema`, as every command that opens the ticket store takes them
/// (add_store_options); what they name is read after parsing (store_spec.hpp has the precedence).
struct StoreOptions {
  StoreOptions() = default;
  /// `optional_store`: see `optional`.
  explicit StoreOptions(bool optional_store) : optional(optional_store) {}

  std::string flag_value;         ///< --db / --store, when given
  std::string schema_flag_value;  ///< --store-schema, when given
  CLI::Option* flag = nullptr;
  CLI::Option* schema_flag = nullptr;
  bool optional = false;  ///< `send`, `groups create`: no store unless one is named

  /// The chosen store: the flag, $WAGROUPS_STORE, $WAGROUPS_TICKETS_DB, the default file; empty
  /// for an optional store that nothing names.
  std::string spec() const;
  SchemaChoice schema() const;
};

/// Adds `--db,--store` (`help` says what the store is for; the precedence is appended) and
/// `--store-schema` to `command`; `options.optional` as set before the call.
CLI::Option* add_store_options(CLI::App& command, StoreOptions& options, const std::string& help);

/// Opens the store `options` name, as open_ticket_store(spec) below; a --store-schema given on
/// the command line with a SQLite store is a usage error (the environment's is ignored there).
std::unique_ptr<wagroups::TicketStore> open_ticket_store(const StoreOptions& options, int& exit_code,
                                                         bool must_exist = false);

/// Opens (creating when needed) the ticket store `spec` names: a `postgres://` or `postgresql://`
/// URI (tables in `schema`), else a SQLite file; null with the error printed and `exit_code` set.
/// With `must_exist`, a missing SQLite file is `exit_not_found` rather than created. `options`
/// apply to SQLite. Every message names the store through shown_store.
std::unique_ptr<wagroups::TicketStore> open_ticket_store(const std::string& spec, int& exit_code,
                                                         bool must_exist = false, wagroups::SqliteOptions options = {},
                                                         const std::string& schema = kDefaultStoreSchema);

/// Prints why `error` (from a dead-letter call on `spec`) failed, clearly when the store keeps no
/// dead letters (ErrorCode::unsupported); returns the exit code.
int report_dead_letter_error(const std::string& what, const std::string& spec, const wagroups::Error& error);

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
