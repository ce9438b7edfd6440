// `wagroups tickets list|show|dead-letters`: the tickets `webhook serve` (or the demo) built in a SQLite or
// PostgreSQL store; and what the other commands share (ticket_view.hpp): opening the store the
// command line names, rendering a ticket.

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <wagroups/sqlite/ticket_store.hpp>
#include <wagroups/tickets.hpp>
#if defined(WAGROUPS_CLI_HAVE_POSTGRES)
#include <wagroups/postgres/ticket_store.hpp>
#endif

#include "commands.hpp"
#include "output.hpp"
#include "ticket_view.hpp"
#include "wagroups/limits.hpp"

namespace wagroups_cli {

// ---------------------------------------------------------------------------------------------
// ticket_view.hpp

namespace {

std::optional<std::string> given(const CLI::Option* option, const std::string& value) {
  if (option == nullptr || option->count() == 0) return std::nullopt;
  return value;
}

const char* environment(const char* name) { return std::getenv(name); }

}  // namespace

std::string StoreOptions::spec() const { return choose_store(given(flag, flag_value), environment, optional).spec; }

SchemaChoice StoreOptions::schema() const { return choose_schema(given(schema_flag, schema_flag_value), environment); }

CLI::Option* add_store_options(CLI::App& command, StoreOptions& options, const std::string& help) {
  const std::string where = options.optional ? std::string(" (default: $") + kStoreEnv + ", else none)"
                                             : std::string(" (default: $") + kStoreEnv + ", then $" + kLegacyStoreEnv +
                                                   ", then " + kDefaultTicketDb + ")";
  // No CLI11 envname: two variables with a precedence, and --store-schema must tell the command
  // line from the environment.
  options.flag = command.add_option("--db,--store", options.flag_value,
                                    help + ": a SQLite file or a postgresql:// URI" + where +
                                        "; a URI's password is never printed (keep it out of ps: $WAGROUPS_STORE, "
                                        "PGPASSWORD or ~/.pgpass)");
  options.schema_flag = command.add_option(
      "--store-schema", options.schema_flag_value,
      std::string("PostgreSQL store: the schema holding its tables, created when missing (default: $") +
          kStoreSchemaEnv + ", then " + kDefaultStoreSchema + "); refused with a SQLite store (where $" +
          kStoreSchemaEnv + " is ignored)");
  return options.flag;
}

std::unique_ptr<wagroups::TicketStore> open_ticket_store(const StoreOptions& options, int& exit_code, bool must_exist) {
  const std::string spec = options.spec();
  const SchemaChoice schema = options.schema();
  if (schema.from_flag && !is_postgres_store(spec)) {
    print_error("--store-schema applies to a PostgreSQL store only, and " + shown_store(spec) +
                " is a SQLite file (name a postgresql:// URI with --store or $" + kStoreEnv + ")");
    exit_code = exit_usage;
    return nullptr;
  }
  return open_ticket_store(spec, exit_code, must_exist, {}, schema.schema);
}

std::unique_ptr<wagroups::TicketStore> open_ticket_store(const std::string& path, int& exit_code, bool must_exist,
                                                         wagroups::SqliteOptions options, const std::string& schema) {
  if (looks_like_conninfo(path)) {
    print_error("the ticket store \"" + shown_store(path) +
                "\" looks like a libpq key=value connection string: name a PostgreSQL store by a "
                "postgresql://user@host:port/database URI");
    exit_code = exit_usage;
    return nullptr;
  }
  if (is_postgres_store(path)) {
#if defined(WAGROUPS_CLI_HAVE_POSTGRES)
    wagroups::PostgresOptions postgres;
    postgres.schema = schema;
    auto store = wagroups::PostgresTicketStore::open(path, postgres);
    if (!store) {
      const wagroups::Error& error = store.error();
      if (error.code == wagroups::ErrorCode::invalid_argument && error.field == "schema") {
        print_error("--store-schema \"" + schema + "\" is not a PostgreSQL schema name the store accepts (" +
                    error.limit + ")");
        exit_code = exit_usage;
        return nullptr;
      }
      exit_code = report_error("opening the ticket store " + shown_store(path), error);
      return nullptr;
    }
    return std::move(*store);
#else
    (void)schema;
    print_error("cannot open " + shown_store(path) +
                ": this wagroups was built without PostgreSQL support (WAGROUPS_WITH_POSTGRES=OFF)");
    exit_code = exit_usage;
    return nullptr;
#endif
  }
  struct stat st {};
  if (must_exist && ::stat(path.c_str(), &st) != 0) {
    print_error("no ticket store at " + shown_store(path) + " (`wagroups webhook serve --store " + shown_store(path) +
                "` or `wagroups groups create --store` creates one)");
    exit_code = exit_not_found;
    return nullptr;
  }
  auto store = wagroups::SqliteTicketStore::open(path, options);
  if (!store) {
    exit_code = report_error("opening the ticket store " + shown_store(path), store.error());
    return nullptr;
  }
  return std::move(*store);
}

int report_dead_letter_error(const std::string& what, const std::string& spec, const wagroups::Error& error) {
  if (error.code == wagroups::ErrorCode::unsupported) {
    print_error(what + ": the ticket store " + shown_store(spec) +
                " keeps no dead letters (it answers unsupported): " + error.to_string());
    return exit_code_for(error);
  }
  return report_error(what, error);
}

wagroups::Result<std::optional<wagroups::StoredTicket>> find_ticket(wagroups::TicketStore& store,
                                                                    const std::string& name) {
  auto direct = store.load(name);
  if (!direct || *direct) return direct;
  // Not a ticket id: a group id, or the request id of the group's creation.
  for (const bool by_group : {true, false}) {
    const auto id = by_group ? store.find_by_group(name) : store.find_by_request(name);
    if (!id) return id.error();
    if (*id) return store.load(**id);
  }
  return std::optional<wagroups::StoredTicket>();
}

namespace {

std::string show_time(std::int64_t t, TimeStyle style) {
  return style == TimeStyle::clock ? format_clock(t) : format_time(t);
}

std::string person_label(const wagroups::PersonKey& p) {
  std::string out = p.phone ? *p.phone : p.bsuid.value_or("?");
  if (p.phone && p.bsuid) out += " (" + *p.bsuid + ")";
  return out;
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

std::string quoted(const wagroups::TimelineMessage& m) {
  if (m.text) return "\"" + *m.text + "\"";
  // Known only from its statuses: sent by something that did not record it on the ticket.
  if (m.type.empty()) return "(message not recorded on the ticket)";
  if (m.caption) return "[" + m.type + "] \"" + *m.caption + "\"";
  return "[" + m.type + "]";
}

}  // namespace

std::string member_name(const wagroups::Ticket& ticket, const std::string& canonical_key) {
  for (const auto& m : ticket.members) {
    if (m.person.canonical() != canonical_key) continue;
    if (m.contact_name) return *m.contact_name;
    return person_label(m.person);
  }
  const auto colon = canonical_key.find(':');
  return colon == std::string::npos ? canonical_key : canonical_key.substr(colon + 1);
}

std::vector<std::string> render_ticket(const wagroups::Ticket& t, TimeStyle style) {
  std::vector<std::string> out;
  out.push_back("ticket " + t.ticket_id + "  [" + wagroups::to_string(t.state) + "]" +
                (t.suspended ? "  (group suspended)" : "") + (t.group_deleted ? "  (group deleted)" : ""));
  if (t.subject) out.push_back("  subject:   " + *t.subject);
  if (t.assignee) out.push_back("  assignee:  " + *t.assignee);
  if (t.group_id) out.push_back("  group:     " + *t.group_id);
  if (t.invite_link) out.push_back("  link:      " + *t.invite_link);
  std::string times;
  auto add_time = [&](const char* label, const std::optional<std::int64_t>& at) {
    if (!at) return;
    times += (times.empty() ? "" : ", ") + std::string(label) + " " + show_time(*at, style);
  };
  add_time("created", t.created_at);
  add_time("first join", t.first_join_at);
  add_time("last inbound", t.last_inbound_at);
  add_time("resolved", t.resolved_at);
  add_time("closed", t.closed_at);
  if (!times.empty()) out.push_back("  times:     " + times);
  if (!t.creation_errors.empty()) out.push_back("  creation failed: " + describe_item_errors(t.creation_errors));

  out.push_back("  members (" + std::to_string(t.members.size()) + "; " + std::to_string(t.seats_taken()) + " of " +
                std::to_string(wagroups::limits::max_participants) + " seats with the business):");
  for (const auto& m : t.members) {
    // A joined member: when they joined (later facts, such as their messages, move status_since).
    const bool joined = m.status == wagroups::MemberStatus::joined && m.first_joined_at;
    out.push_back("    " + pad(m.contact_name.value_or("-"), 14) + " " + pad(person_label(m.person), 22) + " " +
                  pad(wagroups::to_string(m.status), 14) + (joined ? " at " : " since ") +
                  show_time(joined ? *m.first_joined_at : m.status_since, style));
  }
  if (!t.invites.empty()) {
    out.push_back("  invites (" + std::to_string(t.invites.size()) + "):");
    for (const auto& i : t.invites) {
      std::string line = "    " + pad(i.phone, 16) + " " + pad(wagroups::to_string(i.status), 10) + " sent " +
                         show_time(i.sent_at, style);
      if (i.error) line += "  error: " + *i.error;
      out.push_back(line);
    }
  }
  out.push_back("  timeline (" + std::to_string(t.timeline.size()) + " message(s)):");
  for (const auto& m : t.timeline) {
    std::string who;
    if (m.direction == wagroups::MessageDirection::outbound) {
      who = "business" + (m.agent ? " (" + *m.agent + ")" : std::string());
    } else {
      who = m.contact_name ? *m.contact_name : person_label(m.sender);
    }
    std::string line = "    " + show_time(m.timestamp, style) + "  " + pad(who, 20) + " " + quoted(m);
    if (m.direction == wagroups::MessageDirection::outbound) {
      std::string marks;
      for (const auto& [key, status] : m.delivery) {
        marks += (marks.empty() ? "" : ", ") + member_name(t, key) + " " + wagroups::to_string(status);
      }
      if (marks.empty() && m.group_status != wagroups::DeliveryStatus::unknown)
        marks = wagroups::to_string(m.group_status);
      if (!marks.empty()) line += "  [" + marks + "]";
    }
    if (!m.errors.empty()) line += "  errors: " + describe_item_errors(m.errors);
    out.push_back(line);
  }
  return out;
}

std::string describe_change(const wagroups::TicketChange& c) {
  std::string line = c.ticket_id.empty() ? std::string("-") : c.ticket_id;
  line += std::string(" ") + wagroups::to_string(c.kind);
  if (c.message_id) line += " " + *c.message_id;
  if (c.from_state || c.to_state) {
    line += std::string(" ") + (c.from_state ? wagroups::to_string(*c.from_state) : "-") + " -> " +
            (c.to_state ? wagroups::to_string(*c.to_state) : "-");
  }
  return line;
}

std::string change_json(const wagroups::TicketChange& c) {
  JsonWriter w;
  w.begin_object().member("change", wagroups::to_string(c.kind));
  if (!c.ticket_id.empty()) w.member("ticket_id", c.ticket_id);
  w.member("message_id", c.message_id);
  if (c.from_state) w.member("from_state", wagroups::to_string(*c.from_state));
  if (c.to_state) w.member("to_state", wagroups::to_string(*c.to_state));
  w.end_object();
  return w.text();
}

void write_ticket_summary_json(JsonWriter& w, const wagroups::StoredTicket& stored) {
  const wagroups::Ticket& t = stored.ticket;
  w.begin_object().member("ticket_id", t.ticket_id).member("state", wagroups::to_string(t.state));
  w.member("assignee", t.assignee).member("subject", t.subject).member("group_id", t.group_id);
  const auto joined = std::count_if(t.members.begin(), t.members.end(), [](const wagroups::Member& m) {
    return m.status == wagroups::MemberStatus::joined;
  });
  w.key("members_joined").number(static_cast<std::int64_t>(joined));
  w.key("messages").number(static_cast<std::int64_t>(t.timeline.size()));
  w.key("invites").number(static_cast<std::int64_t>(t.invites.size()));
  w.key("last_activity_at").number(t.last_activity_at);
  w.key("version").number(stored.version);
  w.end_object();
}

// ---------------------------------------------------------------------------------------------
// tickets list / show

namespace {

struct ListOptions {
  StoreOptions store;
  std::string state;
  std::string assignee;
  std::string group;
  std::size_t limit = 100;
  bool json = false;
};

int run_list(const ListOptions& o) {
  wagroups::TicketQuery query;
  if (!o.state.empty()) {
    query.state = wagroups::parse_ticket_state(o.state);
    if (!query.state) {
      print_error("tickets list: unknown state \"" + o.state +
                  "\" (unlinked, create_requested, creation_failed, awaiting_first_join, open, resolved, closed)");
      return exit_usage;
    }
  }
  if (!o.assignee.empty()) query.assignee = o.assignee;
  if (!o.group.empty()) query.group_id = o.group;
  query.limit = o.limit;
  int code = exit_ok;
  auto store = open_ticket_store(o.store, code, /*must_exist=*/true);
  if (!store) return code;
  // The database stores name the rows they could not decode; another store lists what it can read.
  wagroups::Result<wagroups::TicketListing> listing = wagroups::TicketListing{};
  if (auto* sqlite = dynamic_cast<wagroups::SqliteTicketStore*>(store.get())) {
    listing = sqlite->list_checked(query);
#if defined(WAGROUPS_CLI_HAVE_POSTGRES)
  } else if (auto* postgres = dynamic_cast<wagroups::PostgresTicketStore*>(store.get())) {
    listing = postgres->list_checked(query);
#endif
  } else if (auto listed = store->list(query)) {
    listing->tickets = std::move(*listed);
  } else {
    listing = listed.error();
  }
  if (!listing) return report_error("tickets list", listing.error());
  // A damaged row is named on stderr; the other tickets are listed all the same (issue 10).
  for (const auto& bad : listing->unreadable)
    print_error("tickets list: ticket " + bad.ticket_id + " is unreadable, skipped: " + bad.error.to_string());
  const std::vector<wagroups::StoredTicket>* tickets = &listing->tickets;
  if (o.json) {
    JsonWriter w;
    w.begin_object().key("tickets").begin_array();
    for (const auto& t : *tickets) write_ticket_summary_json(w, t);
    w.end_array().end_object();
    write_line(w.text());
    return exit_ok;
  }
  for (const auto& stored : *tickets) {
    const auto& t = stored.ticket;
    const auto joined = std::count_if(t.members.begin(), t.members.end(), [](const wagroups::Member& m) {
      return m.status == wagroups::MemberStatus::joined;
    });
    write_line(pad(t.ticket_id, 24) + " " + pad(wagroups::to_string(t.state), 19) + " " +
               pad(t.assignee.value_or("-"), 12) + " " + std::to_string(joined) + " joined, " +
               std::to_string(t.timeline.size()) + " msg  " + t.subject.value_or(""));
  }
  if (tickets->empty()) print_progress("no tickets match");
  return exit_ok;
}

struct ShowOptions {
  StoreOptions store;
  std::string ticket;
  bool json = false;
};

int run_show(const ShowOptions& o) {
  int code = exit_ok;
  auto store = open_ticket_store(o.store, code, /*must_exist=*/true);
  if (!store) return code;
  const auto found = find_ticket(*store, o.ticket);
  if (!found) return report_error("tickets show", found.error());
  if (!*found) {
    print_error("tickets show: no ticket " + o.ticket + " in " + shown_store(o.store.spec()) +
                " (a ticket id, group id or request id)");
    return exit_not_found;
  }
  if (o.json) {
    write_line(wagroups::to_json((*found)->ticket));
    return exit_ok;
  }
  for (const auto& line : render_ticket((*found)->ticket)) write_line(line);
  return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// tickets dead-letters (issue 10)

struct DeadLettersOptions {
  StoreOptions store;
  std::size_t limit = 100;
  std::int64_t before = 0;  // 0: from the newest
  bool body = false;
  bool json = false;
};

// Length of the well-formed UTF-8 sequence at s[i] (s[i] >= 0x80), or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const std::size_t left = s.size() - i;
  const unsigned c = at(0);
  auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return k < left && at(k) >= lo && at(k) <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) return cont(1, c == 0xE0 ? 0xA0 : 0x80, c == 0xED ? 0x9F : 0xBF) && cont(2) ? 3 : 0;
  if (c >= 0xF0 && c <= 0xF4)
    return cont(1, c == 0xF0 ? 0x90 : 0x80, c == 0xF4 ? 0x8F : 0xBF) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = utf8_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// For a terminal: a dead letter is bytes from outside. Control characters (C0, DEL, C1) and bytes
// that are not UTF-8 become \xNN; other characters pass (a backslash too: JSON is full of them).
std::string terminal_safe(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  auto escape = [&](unsigned char b) {
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 0x0f];
  };
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b < 0x20 || b == 0x7F) escape(b);
      else out += static_cast<char>(b);
      ++i;
      continue;
    }
    const std::size_t n = utf8_length(s, i);
    const bool c1 = n == 2 && b == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0;  // U+0080..U+009F
    if (n == 0 || c1) {
      for (std::size_t k = 0; k < (n == 0 ? 1 : n); ++k) escape(static_cast<unsigned char>(s[i + k]));
      i += n == 0 ? 1 : n;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 3; ++k) v = (v << 8) | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    for (std::size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 0x3F] : '=';
  }
  return out;
}

int run_dead_letters(const DeadLettersOptions& o) {
  int code = exit_ok;
  auto store = open_ticket_store(o.store, code, /*must_exist=*/true);
  if (!store) return code;
  wagroups::DeadLetterQuery query;
  query.limit = o.limit;
  if (o.before > 0) query.before_id = o.before;
  const auto letters = store->dead_letters(query);
  if (!letters) return report_dead_letter_error("tickets dead-letters", o.store.spec(), letters.error());
  if (o.json) {
    JsonWriter w;
    w.begin_object().key("dead_letters").begin_array();
    for (const auto& d : *letters) {
      w.begin_object();
      w.key("id").number(d.id);
      w.key("received_at").number(d.received_at);
      w.key("size").number(static_cast<std::int64_t>(d.body.size()));
      w.key("error").begin_object().member("code", wagroups::to_string(d.error.code));
      // Error texts are the parser's own, or a host decoder's: kept valid for JSON either way.
      w.member("field", terminal_safe(d.error.field)).member("limit", terminal_safe(d.error.limit));
      w.member("message", terminal_safe(d.error.message)).end_object();
      if (o.body) {
        // Faithful either way: as text when it is UTF-8 (JSON escapes the controls), else base64.
        if (valid_utf8(d.body)) w.member("body", d.body);
        else w.member("body_base64", base64(d.body));
      }
      w.end_object();
    }
    w.end_array().end_object();
    write_line(w.text());
    return exit_ok;
  }
  for (const auto& d : *letters) {
    std::string line = pad(std::to_string(d.id), 6) + " " + format_time(d.received_at) + "  " +
                       pad(std::to_string(d.body.size()) + " bytes", 14) + " " + wagroups::to_string(d.error.code);
    if (!d.error.field.empty()) line += " at " + terminal_safe(d.error.field);
    line += ": " + terminal_safe(d.error.message);
    write_line(line);
    if (o.body) write_line("       body: " + terminal_safe(d.body));
  }
  if (letters->empty()) print_progress("no dead letters");
  return exit_ok;
}

}  // namespace

void register_tickets_commands(CLI::App& app, CommandState& state) {
  CLI::App* tickets =
      app.add_subcommand("tickets", "Tickets in a SQLite or PostgreSQL ticket store (built by `webhook serve`)");
  tickets->require_subcommand(1);
  {
    auto o = std::make_shared<ListOptions>();
    CLI::App* cmd =
        tickets->add_subcommand("list", "List tickets (state, assignee, members joined, messages, subject)");
    add_store_options(*cmd, o->store, "The ticket store");
    cmd->add_option("--state", o->state, "Only tickets in this state (open, resolved, closed, ...)");
    cmd->add_option("--assignee", o->assignee, "Only this agent's tickets");
    cmd->add_option("--group", o->group, "Only the ticket of this group");
    cmd->add_option("--limit", o->limit, "At most this many")->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_flag("--json", o->json, "Machine-readable output: JSON on stdout");
    cmd->callback([o, &state] { state.exit_code = run_list(*o); });
  }
  {
    auto o = std::make_shared<ShowOptions>();
    CLI::App* cmd =
        tickets->add_subcommand("show", "Show a ticket: members, invites, timeline with delivery per member");
    cmd->add_option("ticket", o->ticket, "Ticket id (or the group id, or the create request id)")->required();
    add_store_options(*cmd, o->store, "The ticket store");
    cmd->add_flag("--json", o->json, "The ticket as JSON (wagroups::to_json)");
    cmd->callback([o, &state] { state.exit_code = run_show(*o); });
  }
  {
    auto o = std::make_shared<DeadLettersOptions>();
    CLI::App* cmd = tickets->add_subcommand(
        "dead-letters", "List webhook bodies that verified but did not parse, newest first (id, time, size, error)");
    add_store_options(*cmd, o->store, "The ticket store");
    cmd->add_option("--limit", o->limit, "At most this many")->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--before", o->before, "Only letters with an id below this (the next page)")
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--body", o->body, "Also print each body (control characters and non-UTF-8 bytes escaped)");
    cmd->add_flag("--json", o->json, "Machine-readable output: JSON on stdout (body as text, or body_base64)");
    cmd->callback([o, &state] { state.exit_code = run_dead_letters(*o); });
  }
}

}  // namespace wagroups_cli
