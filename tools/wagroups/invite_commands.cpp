// `wagroups invite send`: the group's invite link to customers, 1:1 by an approved template, each
// outcome recorded on the ticket (so that the invites' delivery statuses update it later).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <wagroups/tickets.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "output.hpp"
#include "ticket_view.hpp"

namespace wagroups_cli {
namespace {

struct InviteOptions {
  BackendOptions backend;
  StoreOptions store;
  std::string ticket;
  std::string template_name;
  std::string language = "en_US";
  int link_parameter = 1;
  std::string link_parameter_name;
  std::vector<std::string> parameters;
  std::vector<std::string> phones;
};

int run_invite(Session& session, const InviteOptions& o) {
  int code = exit_ok;
  auto store = open_ticket_store(o.store, code, /*must_exist=*/true);
  if (!store) return code;
  const auto found = find_ticket(*store, o.ticket);
  if (!found) return report_error("invite send", found.error());
  if (!*found) {
    print_error("invite send: no ticket " + o.ticket + " in " + shown_store(o.store.spec()));
    return exit_not_found;
  }
  const std::string ticket_id = (*found)->ticket.ticket_id;
  wagroups::InviteTemplate invite_template;
  invite_template.name = o.template_name;
  invite_template.language = o.language;
  invite_template.link_parameter_index = o.link_parameter;
  if (!o.link_parameter_name.empty()) invite_template.link_parameter_name = o.link_parameter_name;
  invite_template.other_parameters = o.parameters;

  wagroups::TicketAggregator tickets(*store);
  if (o.phones.size() > 1) print_progress("sending " + std::to_string(o.phones.size()) + " invitation(s)");
  const auto results = wagroups::send_invites(session.client(), tickets, ticket_id, invite_template, o.phones);
  if (!results) return report_error("invite send", results.error());

  int exit_code = exit_ok;
  JsonWriter w;
  w.begin_object().member("ticket_id", ticket_id).key("invites").begin_array();
  for (const auto& r : *results) {
    if (session.options().json) {
      w.begin_object().member("phone", r.phone).member("message_id", r.message_id);
      if (r.error) {
        w.key("error");
        write_error_json(w, *r.error);
      }
      w.end_object();
    } else if (r.error) {
      write_line(r.phone + "  not sent: " + r.error->to_string());
    } else {
      write_line(r.phone + "  sent  " + r.message_id.value_or(""));
    }
    if (r.error && exit_code == exit_ok) {
      exit_code = report_error("invite to " + r.phone, *r.error);
    }
  }
  w.end_array().end_object();
  if (session.options().json) write_line(w.text());
  return exit_code;
}

}  // namespace

void register_invite_commands(CLI::App& app, CommandState& state) {
  CLI::App* invite = app.add_subcommand("invite", "Invite customers to a ticket's group");
  invite->require_subcommand(1);
  auto o = std::make_shared<InviteOptions>();
  CLI::App* cmd = invite->add_subcommand(
      "send", "Send the group's invite link 1:1 by an approved template to each phone, recorded on the ticket");
  cmd->add_option("ticket", o->ticket, "Ticket id (or the group id)")->required();
  cmd->add_option("--template", o->template_name, "The approved template's name")->required();
  cmd->add_option("--language", o->language, "The template's language code")->capture_default_str();
  cmd->add_option("--link-param", o->link_parameter, "Body variable (1-based) that takes the invite link")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--link-param-name", o->link_parameter_name, "For named-parameter templates: the link's variable");
  cmd->add_option("--param", o->parameters, "Other body variables, in order (repeatable)");
  cmd->add_option("--phone", o->phones, "A customer's phone number (repeatable; 7 at most with the business)")
      ->required();
  add_store_options(*cmd, o->store, "The ticket store (the ticket must be there)");
  add_backend_options(*cmd, o->backend);
  cmd->callback([o, &state] {
    with_session(o->backend, Session::Need::any_backend, state.exit_code,
                 [&](Session& s) { return run_invite(s, *o); });
  });
}

}  // namespace wagroups_cli
