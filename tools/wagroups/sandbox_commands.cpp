// `wagroups sandbox ...`: the offline simulator's side of things. Its webhook queue (`webhooks`,
// `deliver`), simulated people (`join`, `cancel-request`, `say`, `leave`), Meta's own actions
// (`suspend`) and its limits (`config`), all in the state file the other commands use.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <wagroups/sandbox/simulator.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "output.hpp"

namespace wagroups_cli {
namespace {

using wagroups::sandbox::Person;
using wagroups::sandbox::Simulator;

// ---------------------------------------------------------------------------------------------
// webhooks / deliver

struct WebhooksOptions {
  BackendOptions backend;
  bool take = false;
};

int run_webhooks(Session& session, const WebhooksOptions& o) {
  Simulator& sim = session.simulator();
  // The simulator hands its queue out only by taking it: take, and restore unless --take.
  const std::string snapshot = sim.save_state();
  const auto deliveries = sim.take_webhooks();
  if (!o.take) {
    const auto restored = sim.load_state(snapshot);
    if (!restored) return report_error("sandbox webhooks", restored.error());
  }
  for (const auto& d : deliveries) {
    if (session.options().json) {
      JsonWriter w;
      // The body is the simulator's own JSON, so it goes in as a value, not as a string.
      w.begin_object().member("field", d.field).member("signature", d.signature).key("body").raw(d.body).end_object();
      write_line(w.text());
    } else {
      write_line(d.field + "  " + d.body);
    }
  }
  if (!session.options().json) {
    print_progress(std::to_string(deliveries.size()) + " webhook(s)" + (o.take ? " taken off the queue" : " queued") +
                   "; each is signed with the sandbox's app secret (--json shows the signature)");
  }
  return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// people

struct PeopleOptions {
  BackendOptions backend;
  std::string group;  // group id, or (join) an invite link
  std::vector<std::string> phones;
  std::string name = "Customer";
  std::string user_id;
  std::string username;
  std::string text;
};

Person person_for(const PeopleOptions& o, const std::string& phone) {
  Person p;
  p.phone = phone;
  p.name = o.name;
  if (!o.user_id.empty()) p.user_id = o.user_id;
  if (!o.username.empty()) p.username = o.username;
  return p;
}

// The group's current invite link when `group` is a group id; `group` itself when it is a link.
std::optional<std::string> invite_link_of(Simulator& sim, const std::string& group) {
  if (group.rfind("https://", 0) == 0) return group;
  const auto g = sim.group(group);
  if (!g || g->deleted) return std::nullopt;
  return g->invite_link;
}

enum class PersonAction { join, cancel_request, leave };

int run_people(Session& session, const PeopleOptions& o, PersonAction action) {
  Simulator& sim = session.simulator();
  const char* what = action == PersonAction::join             ? "sandbox join"
                     : action == PersonAction::cancel_request ? "sandbox cancel-request"
                                                              : "sandbox leave";
  std::optional<std::string> link;
  if (action == PersonAction::join) {
    link = invite_link_of(sim, o.group);
    if (!link) {
      print_error(std::string(what) + ": no sandbox group " + o.group + " (give a group id or an invite link)");
      return exit_not_found;
    }
  }
  if (o.phones.size() > 1 && !o.user_id.empty()) {
    print_error(std::string(what) + ": --user-id names one person; give one --phone with it");
    return exit_usage;
  }
  int exit_code = exit_ok;
  JsonWriter w;
  w.begin_object().key("results").begin_array();
  for (const auto& phone : o.phones) {
    const Person p = person_for(o, phone);
    wagroups::Result<void> done = action == PersonAction::join             ? sim.join_by_link(*link, p)
                                  : action == PersonAction::cancel_request ? sim.cancel_join_request(o.group, p)
                                                                           : sim.leave(o.group, p);
    std::string outcome;
    std::optional<std::string> join_request_id;
    if (done && action == PersonAction::join) {
      outcome = "joined";
      // The group is found by its (unchanged) link: was it a join request?
      for (const auto& g : sim.groups()) {
        if (g.deleted || g.invite_link != *link) continue;
        for (const auto& m : g.members) {
          if (m.person.phone == p.phone && !m.joined) {
            outcome = "join_requested";
            join_request_id = m.join_request_id;
          }
        }
      }
    } else if (done) {
      outcome = action == PersonAction::cancel_request ? "request_cancelled" : "left";
    }
    if (session.options().json) {
      w.begin_object().member("phone", phone);
      if (done) {
        w.member("outcome", outcome).member("join_request_id", join_request_id);
      } else {
        w.key("error");
        write_error_json(w, done.error());
      }
      w.end_object();
    } else if (done) {
      write_line(phone + "  " + outcome + (join_request_id ? "  " + *join_request_id : std::string()));
    }
    if (!done) {
      const int code = report_error(std::string(what) + " (" + phone + ")", done.error());
      if (exit_code == exit_ok) exit_code = code;
    }
  }
  w.end_array().end_object();
  if (session.options().json) write_line(w.text());
  return exit_code;
}

int run_say(Session& session, const PeopleOptions& o) {
  const auto sent = session.simulator().send_text(o.group, person_for(o, o.phones.front()), o.text);
  if (!sent) return report_error("sandbox say", sent.error());
  if (session.options().json) {
    JsonWriter w;
    w.begin_object().member("group_id", o.group).member("message_id", *sent).end_object();
    write_line(w.text());
  } else {
    write_line(*sent);
  }
  return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// suspend / config

struct SuspendOptions {
  BackendOptions backend;
  std::string group;
  bool clear = false;
};

int run_suspend(Session& session, const SuspendOptions& o) {
  const auto done = o.clear ? session.simulator().clear_suspension(o.group) : session.simulator().suspend(o.group);
  if (!done) return report_error(o.clear ? "sandbox suspend --clear" : "sandbox suspend", done.error());
  if (session.options().json) {
    JsonWriter w;
    w.begin_object().member("group_id", o.group).key("suspended").boolean(!o.clear).end_object();
    write_line(w.text());
  } else {
    write_line(o.group + (o.clear ? "  suspension cleared" : "  suspended"));
  }
  return exit_ok;
}

struct ConfigOptions {
  BackendOptions backend;
  bool eligible = false;
  bool ineligible = false;
  std::optional<int> max_groups;
  std::optional<int> max_participants;
  std::optional<int> rate_limit;
  std::optional<int> rate_window;
  std::optional<bool> auto_statuses;
};

int run_config(Session& session, const ConfigOptions& o) {
  SandboxConfig& c = session.config();
  const SandboxConfig before = c;
  if (o.max_groups) c.max_groups = *o.max_groups;
  if (o.max_participants) c.max_participants = *o.max_participants;
  if (o.rate_limit) c.group_ops_per_window = *o.rate_limit;
  if (o.rate_window) c.rate_window_seconds = *o.rate_window;
  if (o.auto_statuses) c.auto_statuses = *o.auto_statuses;
  const bool changed = c.max_groups != before.max_groups || c.max_participants != before.max_participants ||
                       c.group_ops_per_window != before.group_ops_per_window ||
                       c.rate_window_seconds != before.rate_window_seconds || c.auto_statuses != before.auto_statuses;
  if (changed) {
    int code = exit_ok;
    if (!session.rebuild_simulator(code)) return code;
  }
  if (o.eligible) session.simulator().set_eligible(true);
  if (o.ineligible) session.simulator().set_eligible(false);
  const bool eligible = session.simulator().options().eligible;
  if (session.options().json) {
    JsonWriter w;
    w.begin_object().member("phone_number_id", session.simulator().options().phone_number_id);
    w.key("eligible").boolean(eligible).key("max_groups").number(c.max_groups);
    w.key("max_participants").number(c.max_participants).key("rate_limit").number(c.group_ops_per_window);
    w.key("rate_window").number(c.rate_window_seconds).key("auto_statuses").boolean(c.auto_statuses).end_object();
    write_line(w.text());
  } else {
    write_line("phone number id:  " + session.simulator().options().phone_number_id);
    write_line(std::string("eligible:         ") + (eligible ? "yes" : "no (every group operation answers 131215)"));
    write_line("max groups:       " + std::to_string(c.max_groups) + " active (131211 beyond)");
    write_line("max participants: " + std::to_string(c.max_participants) + " with the business (131204 beyond)");
    write_line("rate limit:       " + (c.group_ops_per_window > 0
                                           ? std::to_string(c.group_ops_per_window) + " group operations per " +
                                                 std::to_string(c.rate_window_seconds) + " s (131208 beyond)"
                                           : std::string("none")));
    write_line(std::string("auto statuses:    ") + (c.auto_statuses ? "yes (delivered and read per member)" : "no"));
  }
  return exit_ok;
}

template <typename Options, typename Run>
void on_sandbox(CLI::App* cmd, std::shared_ptr<Options> o, CommandState& state, Run run) {
  add_sandbox_options(*cmd, o->backend);
  cmd->callback([o, run, &state] {
    with_session(o->backend, Session::Need::sandbox, state.exit_code, [&](Session& s) { return run(s, *o); });
  });
}

void add_person_options(CLI::App* cmd, PeopleOptions& o, bool many) {
  if (many) {
    cmd->add_option("--phone", o.phones, "The person's phone number, digits (repeatable: several people)")->required();
  } else {
    cmd->add_option("--phone", o.phones, "The person's phone number, digits")->required()->expected(1);
  }
  cmd->add_option("--name", o.name, "Profile name")->capture_default_str();
  cmd->add_option("--user-id", o.user_id, "Business-scoped user id (BSUID), e.g. US.1001");
  cmd->add_option("--username", o.username, "Username");
}

}  // namespace

void register_sandbox_commands(CLI::App& app, CommandState& state) {
  CLI::App* sandbox = app.add_subcommand(
      "sandbox", "The offline simulator: its webhook queue, simulated people, its limits (state: --sandbox-state)");
  sandbox->require_subcommand(1);

  {
    auto o = std::make_shared<WebhooksOptions>();
    CLI::App* cmd = sandbox->add_subcommand("webhooks", "Print the queued webhooks (--json: one object per line)");
    cmd->add_flag("--take", o->take, "Also remove them from the queue");
    on_sandbox(cmd, o, state, &run_webhooks);
  }
  {
    auto o = std::make_shared<WebhooksOptions>();
    CLI::App* cmd = sandbox->add_subcommand("deliver", "POST the queued webhooks, signed, to --webhook-url");
    on_sandbox(cmd, o, state, [](Session& s, const WebhooksOptions&) {
      if (s.options().webhook_url.empty()) {
        print_error("sandbox deliver: give --webhook-url (or set WAGROUPS_WEBHOOK_URL)");
        return static_cast<int>(exit_usage);
      }
      return static_cast<int>(exit_ok);  // Session::finish delivers
    });
  }
  {
    auto o = std::make_shared<PeopleOptions>();
    CLI::App* cmd = sandbox->add_subcommand(
        "join", "People open a group's invite link: they join, or file a join request (approval_required)");
    cmd->add_option("group", o->group, "Group id or invite link")->required();
    add_person_options(cmd, *o, true);
    on_sandbox(cmd, o, state, [](Session& s, const PeopleOptions& p) { return run_people(s, p, PersonAction::join); });
  }
  {
    auto o = std::make_shared<PeopleOptions>();
    CLI::App* cmd = sandbox->add_subcommand("cancel-request", "People withdraw their pending join requests");
    cmd->add_option("group", o->group, "Group id")->required();
    add_person_options(cmd, *o, true);
    on_sandbox(cmd, o, state,
               [](Session& s, const PeopleOptions& p) { return run_people(s, p, PersonAction::cancel_request); });
  }
  {
    auto o = std::make_shared<PeopleOptions>();
    CLI::App* cmd = sandbox->add_subcommand("leave", "Members leave the group");
    cmd->add_option("group", o->group, "Group id")->required();
    add_person_options(cmd, *o, true);
    on_sandbox(cmd, o, state, [](Session& s, const PeopleOptions& p) { return run_people(s, p, PersonAction::leave); });
  }
  {
    auto o = std::make_shared<PeopleOptions>();
    CLI::App* cmd = sandbox->add_subcommand("say", "A member writes to the group (an inbound message webhook)");
    cmd->add_option("group", o->group, "Group id")->required();
    add_person_options(cmd, *o, false);
    cmd->add_option("--text", o->text, "The message")->required();
    on_sandbox(cmd, o, state, &run_say);
  }
  {
    auto o = std::make_shared<SuspendOptions>();
    CLI::App* cmd = sandbox->add_subcommand("suspend", "Meta suspends a group (or --clear lifts it)");
    cmd->add_option("group", o->group, "Group id")->required();
    cmd->add_flag("--clear", o->clear, "Lift the suspension");
    on_sandbox(cmd, o, state, &run_suspend);
  }
  {
    auto o = std::make_shared<ConfigOptions>();
    CLI::App* cmd = sandbox->add_subcommand("config", "Show or change the sandbox's number and limits");
    CLI::Option* eligible = cmd->add_flag("--eligible", o->eligible, "The number may use groups (the default)");
    cmd->add_flag("--ineligible", o->ineligible, "Every group operation answers 131215")->excludes(eligible);
    cmd->add_option("--max-groups", o->max_groups, "Active groups per number (131211 beyond)")
        ->check(CLI::Range(1, 1000000));
    cmd->add_option("--max-participants", o->max_participants, "Per group, the business included (131204 beyond)")
        ->check(CLI::Range(2, 1000));
    cmd->add_option("--rate-limit", o->rate_limit, "Group operations per window (131208 beyond; 0: none)")
        ->check(CLI::Range(0, 1000000));
    cmd->add_option("--rate-window", o->rate_window, "The rate limit's window in seconds")->check(CLI::Range(1, 86400));
    cmd->add_option("--auto-statuses", o->auto_statuses,
                    "Members' delivered/read statuses after each send (true/false)");
    on_sandbox(cmd, o, state, &run_config);
  }
}

}  // namespace wagroups_cli
