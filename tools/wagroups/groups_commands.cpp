// `wagroups groups create|list|info|update|delete`, `invite-link get|reset|delete`,
// `join-requests list|approve|reject` and `participants remove`: one Client call each.

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <wagroups/client/client.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "output.hpp"

#include <wagroups/tickets.hpp>

#include "ticket_view.hpp"
#include "util/text.hpp"

namespace wagroups_cli {
namespace {

using wagroups::Client;

std::string basename_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// ---------------------------------------------------------------------------------------------
// groups create

struct CreateOptions {
  BackendOptions backend;
  std::string subject;
  std::string description;
  bool approval_required = false;
  StoreOptions store{/*optional_store=*/true};  // open a ticket for the request there
  std::string assignee = "cli";                 // the agent the ticket is assigned to
  CLI::Option* assignee_option = nullptr;
};

int run_create(Session& session, const CreateOptions& o, bool description_given) {
  wagroups::CreateGroupRequest request;
  request.subject = o.subject;
  if (description_given) request.description = o.description;
  if (o.approval_required) request.join_approval_mode = wagroups::JoinApprovalMode::approval_required;
  // The ticket would refuse a name that is not UTF-8 after the group exists: refuse it first.
  const std::string store_spec = o.store.spec();
  if (!store_spec.empty() && !wagroups::text::is_valid_utf8(o.assignee))
    return report_error("groups create", wagroups::Error::invalid_argument("assignee", "valid UTF-8"));
  const auto created = session.client().create_group(request);
  if (!created) return report_error("groups create", created.error());

  // In the sandbox the group exists at once (its webhook is queued): name it, for scripts.
  std::optional<std::string> group_id;
  if (session.is_sandbox()) {
    const auto groups = session.simulator().groups();
    if (!groups.empty()) group_id = groups.back().group_id;
  }
  std::optional<std::string> ticket_id;
  if (!store_spec.empty()) {
    int code = exit_ok;
    auto store = open_ticket_store(o.store, code);
    if (!store) return code;
    wagroups::TicketAggregator tickets(*store);
    // Without a request_id in the answer the ticket is matched to the group_create webhook by the
    // number and the subject (TicketAggregator::open_ticket).
    const auto opened =
        tickets.open_ticket({created->request_id.value_or(""), session.client().options().phone_number_id, o.assignee,
                             request.subject, std::nullopt});
    if (!opened) return report_error("opening the ticket", opened.error());
    ticket_id = opened->ticket_id;
  }
  if (session.options().json) {
    JsonWriter w;
    w.begin_object().member("request_id", created->request_id).member("group_id", group_id);
    w.member("ticket_id", ticket_id).end_object();
    write_line(w.text());
  } else {
    write_line("create requested: request_id " + created->request_id.value_or("(none)") +
               " (the group id and invite link arrive in the group_create webhook)");
    if (group_id) write_line("sandbox group: " + *group_id);
    if (ticket_id) write_line("ticket: " + *ticket_id + " (assigned to " + o.assignee + ")");
  }
  return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// groups list

struct ListOptions {
  BackendOptions backend;
  int limit = 0;  // 0: Meta's default page (or 100 per page with --all)
  bool all = false;
  std::string after;
  std::string before;
};

void write_group_json(JsonWriter& w, const wagroups::GroupSummary& g) {
  w.begin_object().member("id", g.id).member("subject", g.subject).member("created_at", g.created_at).end_object();
}

std::string group_line(const wagroups::GroupSummary& g) {
  return g.id + "  " + (g.created_at ? format_time(*g.created_at) : std::string("-")) + "  " + g.subject.value_or("");
}

int run_list(Session& session, const ListOptions& o) {
  const bool json = session.options().json;
  if (o.all) {
    std::vector<wagroups::GroupSummary> groups;
    const auto walked = session.client().for_each_group(
        [&](const wagroups::GroupSummary& g) {
          if (json) groups.push_back(g);
          else write_line(group_line(g));
          return true;
        },
        o.limit > 0 ? o.limit : 100,
        [](std::size_t pages, std::size_t items) {
          print_progress("page " + std::to_string(pages) + ": " + std::to_string(items) + " group(s) so far");
        });
    if (!walked) return report_error("groups list --all", walked.error());
    if (json) {
      JsonWriter w;
      w.begin_object().key("groups").begin_array();
      for (const auto& g : groups) write_group_json(w, g);
      w.end_array().key("count").number(static_cast<std::int64_t>(*walked)).end_object();
      write_line(w.text());
    } else {
      print_progress(std::to_string(*walked) + " group(s) in all");
    }
    return exit_ok;
  }
  wagroups::ListGroupsRequest request;
  if (o.limit > 0) request.page.limit = o.limit;
  if (!o.after.empty()) request.page.after = o.after;
  if (!o.before.empty()) request.page.before = o.before;
  const auto page = session.client().list_groups(request);
  if (!page) return report_error("groups list", page.error());
  if (json) {
    JsonWriter w;
    w.begin_object().key("groups").begin_array();
    for (const auto& g : page->groups) write_group_json(w, g);
    w.end_array();
    w.key("paging").begin_object().member("after", page->paging.after).member("before", page->paging.before);
    w.key("has_next").boolean(page->paging.next.has_value()).end_object();
    w.end_object();
    write_line(w.text());
  } else {
    for (const auto& g : page->groups) write_line(group_line(g));
    if (page->paging.next && page->paging.after)
      print_progress("more groups: --after " + *page->paging.after + " (or --all)");
  }
  return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// groups info

struct InfoOptions {
  BackendOptions backend;
  std::string group;
  std::vector<std::string> fields;
};

const wagroups::GroupField kAllFields[] = {
    wagroups::GroupField::subject,
    wagroups::GroupField::description,
    wagroups::GroupField::participants,
    wagroups::GroupField::total_participant_count,
    wagroups::GroupField::suspended,
    wagroups::GroupField::creation_timestamp,
    wagroups::GroupField::join_approval_mode,
};

std::string field_names() {
  std::string out;
  for (const auto f : kAllFields) out += (out.empty() ? "" : ", ") + std::string(wagroups::to_string(f));
  return out;
}

int run_info(Session& session, const InfoOptions& o) {
  wagroups::GetGroupInfoRequest request;
  request.group_id = o.group;
  for (const auto& name : o.fields) {
    const auto* match = std::find_if(std::begin(kAllFields), std::end(kAllFields),
                                     [&](wagroups::GroupField f) { return name == wagroups::to_string(f); });
    if (match == std::end(kAllFields)) {
      print_error("groups info: unknown field \"" + name + "\" (one of: " + field_names() + ")");
      return exit_usage;
    }
    request.fields.push_back(*match);
  }
  const auto info = session.client().get_group_info(request);
  if (!info) return report_error("groups info", info.error());
  if (session.options().json) {
    JsonWriter w;
    w.begin_object().member("id", info->id).member("subject", info->subject).member("description", info->description);
    if (info->join_approval_mode) w.member("join_approval_mode", wagroups::to_string(*info->join_approval_mode));
    w.member("suspended", info->suspended).member("creation_timestamp", info->creation_timestamp);
    w.member("total_participant_count", info->total_participant_count);
    if (info->participants) {
      w.key("participants").begin_array();
      for (const auto& p : *info->participants) {
        w.begin_object();
        write_participant_members(w, p);
        w.end_object();
      }
      w.end_array();
    }
    w.end_object();
    write_line(w.text());
    return exit_ok;
  }
  write_line("id: " + info->id);
  if (info->subject) write_line("subject: " + *info->subject);
  if (info->description) write_line("description: " + *info->description);
  if (info->join_approval_mode)
    write_line(std::string("join approval: ") + wagroups::to_string(*info->join_approval_mode));
  if (info->suspended) write_line(std::string("suspended: ") + (*info->suspended ? "yes" : "no"));
  if (info->creation_timestamp) write_line("created: " + format_time(*info->creation_timestamp));
  if (info->total_participant_count)
    write_line("participants: " + std::to_string(*info->total_participant_count) + " (besides the business)");
  if (info->participants) {
    for (const auto& p : *info->participants) write_line("  " + describe_participant(p));
  }
  return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// groups update / delete

struct UpdateOptions {
  BackendOptions backend;
  std::string group;
  std::string subject;
  std::string description;
  std::string picture;
  CLI::Option* subject_option = nullptr;
  CLI::Option* description_option = nullptr;
  CLI::Option* picture_option = nullptr;
};

int run_update(Session& session, const UpdateOptions& o) {
  wagroups::UpdateGroupSettingsRequest request;
  request.group_id = o.group;
  if (o.subject_option->count() > 0) request.subject = o.subject;
  if (o.description_option->count() > 0) request.description = o.description;
  if (o.picture_option->count() > 0) {
    errno = 0;
    auto bytes = read_file(o.picture);
    if (!bytes) {
      print_error("cannot read " + o.picture + ": " + std::strerror(errno));
      return exit_failure;
    }
    request.profile_picture = wagroups::ProfilePicture{std::move(*bytes), basename_of(o.picture)};
  }
  if (!request.subject && !request.description && !request.profile_picture) {
    print_error("groups update: give at least one of --subject, --description, --picture");
    return exit_usage;
  }
  const auto updated = session.client().update_group_settings(request);
  if (!updated) return report_error("groups update", updated.error());
  if (updated->picture && updated->picture->error)  // the subject/description were applied, the picture was not
    return report_error("groups update: subject/description applied, picture refused", *updated->picture->error);
  if (session.options().json) {
    JsonWriter w;
    w.begin_object().member("group_id", o.group).member("request_id", updated->request_id);
    w.member("success", updated->success).end_object();
    write_line(w.text());
  } else {
    write_line("update requested: request_id " + updated->request_id.value_or("(none)") +
               " (each setting's outcome arrives in a group_settings_update webhook)");
  }
  return exit_ok;
}

struct GroupOptions {
  BackendOptions backend;
  std::string group;
};

int run_delete(Session& session, const GroupOptions& o) {
  const auto deleted = session.client().delete_group(o.group);
  if (!deleted) return report_error("groups delete", deleted.error());
  if (session.options().json) {
    JsonWriter w;
    w.begin_object().member("group_id", o.group).member("request_id", deleted->request_id);
    w.member("success", deleted->success).end_object();
    write_line(w.text());
  } else {
    write_line("delete requested: " + o.group +
               (deleted->request_id ? " (request_id " + *deleted->request_id + ")" : std::string()));
  }
  return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// invite-link

enum class LinkAction { get, reset, remove };

int run_invite_link(Session& session, const GroupOptions& o, LinkAction action) {
  const char* what = action == LinkAction::get     ? "invite-link get"
                     : action == LinkAction::reset ? "invite-link reset"
                                                   : "invite-link delete";
  if (action == LinkAction::remove) {
    const auto removed = session.client().delete_invite_link(o.group);
    if (!removed) return report_error(what, removed.error());
    if (session.options().json) {
      JsonWriter w;
      w.begin_object().member("group_id", o.group).member("success", removed->success).end_object();
      write_line(w.text());
    } else {
      write_line("invite link deleted: " + o.group);
    }
    return exit_ok;
  }
  const auto link = action == LinkAction::get ? session.client().get_invite_link(o.group)
                                              : session.client().reset_invite_link(o.group);
  if (!link) return report_error(what, link.error());
  if (session.options().json) {
    JsonWriter w;
    w.begin_object().member("group_id", o.group).member("invite_link", link->invite_link).end_object();
    write_line(w.text());
  } else {
    write_line(link->invite_link);
    if (action == LinkAction::reset) print_progress("every earlier invite link of " + o.group + " stopped working");
  }
  return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// join-requests

struct JoinRequestOptions {
  BackendOptions backend;
  std::string group;
  std::vector<std::string> ids;
};

int run_join_list(Session& session, const GroupOptions& o) {
  const auto requests = session.client().list_all_join_requests(o.group, [](std::size_t pages, std::size_t items) {
    if (pages > 1)
      print_progress("page " + std::to_string(pages) + ": " + std::to_string(items) + " request(s) so far");
  });
  if (!requests) return report_error("join-requests list", requests.error());
  if (session.options().json) {
    JsonWriter w;
    w.begin_object().member("group_id", o.group).key("join_requests").begin_array();
    for (const auto& r : *requests) {
      w.begin_object().member("join_request_id", r.join_request_id);
      write_participant_members(w, r.requester);
      w.member("creation_timestamp", r.creation_timestamp).end_object();
    }
    w.end_array().end_object();
    write_line(w.text());
  } else {
    for (const auto& r : *requests) {
      write_line(r.join_request_id + "  " + describe_participant(r.requester) +
                 (r.creation_timestamp ? "  " + format_time(*r.creation_timestamp) : std::string()));
    }
    if (requests->empty()) print_progress("no pending join requests");
  }
  return exit_ok;
}

int run_join_action(Session& session, const JoinRequestOptions& o, bool approve) {
  const char* what = approve ? "join-requests approve" : "join-requests reject";
  wagroups::JoinRequestsAction action{o.group, o.ids};
  const auto result =
      approve ? session.client().approve_join_requests(action) : session.client().reject_join_requests(action);
  if (!result) return report_error(what, result.error());
  if (session.options().json) {
    JsonWriter w;
    w.begin_object().member("group_id", o.group).member("succeeded", result->succeeded);
    if (!result->failed.empty()) {
      w.key("failed").begin_array();
      for (const auto& f : result->failed) {
        w.begin_object().member("join_request_id", f.join_request_id);
        write_item_errors(w, f.errors);
        w.end_object();
      }
      w.end_array();
    }
    write_item_errors(w, result->errors);
    w.key("all_succeeded").boolean(result->all_succeeded()).end_object();
    write_line(w.text());
  } else {
    for (const auto& id : result->succeeded) write_line((approve ? "approved: " : "rejected: ") + id);
    for (const auto& f : result->failed)
      write_line("failed: " + f.join_request_id + "  " + describe_item_errors(f.errors));
  }
  if (!result->all_succeeded()) {
    print_error(std::string(what) + ": " + std::to_string(result->failed.size()) + " of " +
                std::to_string(o.ids.size()) + " request(s) failed" +
                (result->errors.empty() ? "" : " (" + describe_item_errors(result->errors) + ")"));
    return exit_api;
  }
  return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// participants remove

struct RemoveOptions {
  BackendOptions backend;
  std::string group;
  std::vector<std::string> people;
};

int run_remove(Session& session, const RemoveOptions& o) {
  const auto removed = session.client().remove_participants({o.group, o.people});
  if (!removed) return report_error("participants remove", removed.error());
  if (session.options().json) {
    JsonWriter w;
    w.begin_object().member("group_id", o.group).member("request_id", removed->request_id);
    w.key("http_status").number(removed->http_status).key("partial").boolean(removed->partial);
    w.key("removed").begin_array();
    for (const auto& p : removed->removed_participants) {
      w.begin_object();
      write_participant_members(w, p);
      w.end_object();
    }
    w.end_array();
    if (!removed->failed_participants.empty()) {
      w.key("failed").begin_array();
      for (const auto& f : removed->failed_participants) {
        w.begin_object();
        write_participant_members(w, f.participant);
        write_item_errors(w, f.errors);
        w.end_object();
      }
      w.end_array();
    }
    w.end_object();
    write_line(w.text());
  } else {
    if (removed->removed_participants.empty() && !removed->partial) {
      write_line("removal requested: " + std::to_string(o.people.size()) + " participant(s)" +
                 (removed->request_id ? " (request_id " + *removed->request_id + ")" : std::string()));
    }
    for (const auto& p : removed->removed_participants) write_line("removed: " + describe_participant(p));
    for (const auto& f : removed->failed_participants)
      write_line("not removed: " + describe_participant(f.participant) + "  " + describe_item_errors(f.errors));
  }
  if (removed->partial) {
    print_error("participants remove: only some participants were removed (HTTP 206, 131201)");
    return exit_api;
  }
  return exit_ok;
}

}  // namespace

void register_groups_commands(CLI::App& app, CommandState& state) {
  // groups ...
  CLI::App* groups = app.add_subcommand("groups", "Create, list, inspect, update and delete groups");
  groups->require_subcommand(1);

  {
    auto o = std::make_shared<CreateOptions>();
    CLI::App* cmd = groups->add_subcommand(
        "create", "Create a group (asynchronous: prints the request_id; the group_create webhook brings the group id)");
    cmd->add_option("--subject", o->subject, "1-128 characters")->required();
    CLI::Option* description = cmd->add_option("--description", o->description, "At most 2048 characters");
    cmd->add_flag("--approval-required", o->approval_required,
                  "People who open the invite link file a join request instead of joining");
    add_store_options(*cmd, o->store, "Also open a ticket for this request in this ticket store");
    // Not CLI11's needs(): the store may come from $WAGROUPS_STORE (checked in the callback).
    o->assignee_option =
        cmd->add_option("--assignee", o->assignee, "The agent the ticket is assigned to (with a store)")
            ->capture_default_str();
    add_backend_options(*cmd, o->backend);
    cmd->callback([o, description, &state] {
      const bool wants_store = o->assignee_option->count() > 0 || o->store.schema_flag->count() > 0;
      if (wants_store && o->store.spec().empty()) {
        print_error(std::string(o->assignee_option->count() > 0 ? "--assignee" : "--store-schema") +
                    " needs a ticket store: --store (or --db), or $" + kStoreEnv);
        state.exit_code = exit_usage;
        return;
      }
      with_session(o->backend, Session::Need::any_backend, state.exit_code,
                   [&](Session& s) { return run_create(s, *o, description->count() > 0); });
    });
  }
  {
    auto o = std::make_shared<ListOptions>();
    CLI::App* cmd = groups->add_subcommand("list", "List active groups (one page, or --all with progress on stderr)");
    cmd->add_option("--limit", o->limit, "Groups per page (1-1024)")->check(CLI::Range(1, 1024));
    cmd->add_flag("--all", o->all, "Walk every page");
    cmd->add_option("--after", o->after, "Page cursor: the page after this one");
    cmd->add_option("--before", o->before, "Page cursor: the page before this one");
    add_backend_options(*cmd, o->backend);
    cmd->callback([o, &state] {
      with_session(o->backend, Session::Need::any_backend, state.exit_code,
                   [&](Session& s) { return run_list(s, *o); });
    });
  }
  {
    auto o = std::make_shared<InfoOptions>();
    CLI::App* cmd = groups->add_subcommand("info", "Show a group's settings and participants");
    cmd->add_option("group", o->group, "Group id")->required();
    cmd->add_option("--fields", o->fields, "Only these fields (comma-separated): " + field_names())->delimiter(',');
    add_backend_options(*cmd, o->backend);
    cmd->callback([o, &state] {
      with_session(o->backend, Session::Need::any_backend, state.exit_code,
                   [&](Session& s) { return run_info(s, *o); });
    });
  }
  {
    auto o = std::make_shared<UpdateOptions>();
    CLI::App* cmd = groups->add_subcommand("update", "Change a group's subject, description or picture");
    cmd->add_option("group", o->group, "Group id")->required();
    o->subject_option = cmd->add_option("--subject", o->subject, "1-128 characters");
    o->description_option = cmd->add_option("--description", o->description, "At most 2048 characters");
    o->picture_option = cmd->add_option("--picture", o->picture, "A square JPEG, at least 192x192, at most 5 MB");
    add_backend_options(*cmd, o->backend);
    cmd->callback([o, &state] {
      with_session(o->backend, Session::Need::any_backend, state.exit_code,
                   [&](Session& s) { return run_update(s, *o); });
    });
  }
  {
    auto o = std::make_shared<GroupOptions>();
    CLI::App* cmd = groups->add_subcommand("delete", "Delete a group (every participant is removed)");
    cmd->add_option("group", o->group, "Group id")->required();
    add_backend_options(*cmd, o->backend);
    cmd->callback([o, &state] {
      with_session(o->backend, Session::Need::any_backend, state.exit_code,
                   [&](Session& s) { return run_delete(s, *o); });
    });
  }

  // invite-link ...
  CLI::App* link = app.add_subcommand("invite-link", "A group's invite link");
  link->require_subcommand(1);
  for (const auto& [name, action, help] :
       {std::tuple<const char*, LinkAction, const char*>{"get", LinkAction::get, "Print the current invite link"},
        {"reset", LinkAction::reset, "Make a new invite link (every earlier one stops working)"},
        {"delete", LinkAction::remove, "Delete the invite link"}}) {
    auto o = std::make_shared<GroupOptions>();
    CLI::App* cmd = link->add_subcommand(name, help);
    cmd->add_option("group", o->group, "Group id")->required();
    add_backend_options(*cmd, o->backend);
    const LinkAction chosen = action;
    cmd->callback([o, chosen, &state] {
      with_session(o->backend, Session::Need::any_backend, state.exit_code,
                   [&](Session& s) { return run_invite_link(s, *o, chosen); });
    });
  }

  // join-requests ...
  CLI::App* join = app.add_subcommand("join-requests", "Join requests of an approval_required group");
  join->require_subcommand(1);
  {
    auto o = std::make_shared<GroupOptions>();
    CLI::App* cmd = join->add_subcommand("list", "List the pending join requests (every page)");
    cmd->add_option("group", o->group, "Group id")->required();
    add_backend_options(*cmd, o->backend);
    cmd->callback([o, &state] {
      with_session(o->backend, Session::Need::any_backend, state.exit_code,
                   [&](Session& s) { return run_join_list(s, *o); });
    });
  }
  for (const bool approve : {true, false}) {
    auto o = std::make_shared<JoinRequestOptions>();
    CLI::App* cmd = join->add_subcommand(approve ? "approve" : "reject",
                                         approve ? "Approve join requests: the people join" : "Reject join requests");
    cmd->add_option("group", o->group, "Group id")->required();
    cmd->add_option("ids", o->ids, "Join request ids")->required();
    add_backend_options(*cmd, o->backend);
    cmd->callback([o, approve, &state] {
      with_session(o->backend, Session::Need::any_backend, state.exit_code,
                   [&](Session& s) { return run_join_action(s, *o, approve); });
    });
  }

  // participants remove
  CLI::App* participants = app.add_subcommand("participants", "A group's participants");
  participants->require_subcommand(1);
  {
    auto o = std::make_shared<RemoveOptions>();
    CLI::App* cmd = participants->add_subcommand(
        "remove", "Remove participants (1-8 phone numbers or user ids); some may fail (HTTP 206)");
    cmd->add_option("group", o->group, "Group id")->required();
    cmd->add_option("people", o->people, "Phone numbers, WhatsApp ids or BSUIDs")->required();
    add_backend_options(*cmd, o->backend);
    cmd->callback([o, &state] {
      with_session(o->backend, Session::Need::any_backend, state.exit_code,
                   [&](Session& s) { return run_remove(s, *o); });
    });
  }
}

}  // namespace wagroups_cli
