// `wagroups send text|media|template|pin`: a message to one group, or to many in one fan-out
// (rate-limited, concurrent; progress on stderr), one result line per group.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <wagroups/client/client.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "output.hpp"

#include <wagroups/tickets.hpp>

#include "ticket_view.hpp"

namespace wagroups_cli {
namespace {

struct SendOptions {
  BackendOptions backend;
  std::vector<std::string> positional_groups;
  std::vector<std::string> groups;  // --group
  // text
  std::string text;
  bool preview_url = false;
  std::string reply_to;
  // media
  std::string media_type = "image";
  std::string media_id;
  std::string media_link;
  std::string caption;
  std::string filename;
  // template
  std::string template_name;
  std::string language = "en_US";
  std::string category;
  std::vector<std::string> parameters;
  // pin
  std::string message_id;
  int days = 7;
  bool unpin = false;
  // recording on the group's ticket
  StoreOptions store{/*optional_store=*/true};
  std::string agent = "cli";
  CLI::Option* agent_option = nullptr;
  // fan-out (several groups)
  double rate = 80.0;
  std::size_t concurrency = 8;

  std::vector<std::string> all_groups() const {
    std::vector<std::string> out = positional_groups;
    out.insert(out.end(), groups.begin(), groups.end());
    return out;
  }
};

using Sender = std::function<wagroups::Result<wagroups::SendMessageResponse>(const std::string& group)>;

// What a sent message is on a ticket's timeline.
struct Recorded {
  std::string type;
  std::optional<std::string> text;
};

// With a store (--store, or $WAGROUPS_STORE), each message sent is recorded on its group's ticket
// (so that its statuses attach to it there); returns an exit code, exit_ok when there is nothing
// to record.
class TicketRecorder {
 public:
  explicit TicketRecorder(const SendOptions& o) : options_(o) {}
  int open() {
    spec_ = options_.store.spec();
    if (spec_.empty()) return exit_ok;
    int code = exit_ok;
    store_ = open_ticket_store(options_.store, code, /*must_exist=*/true);
    if (!store_) return code;
    tickets_ = std::make_unique<wagroups::TicketAggregator>(*store_);
    return exit_ok;
  }
  int record(const std::string& group, const std::string& message_id, const Recorded& what) {
    if (!tickets_ || message_id.empty()) return exit_ok;
    const auto ticket = store_->find_by_group(group);
    if (!ticket) return report_error("finding the ticket of " + group, ticket.error());
    if (!*ticket) {
      print_progress("no ticket for " + group + " in " + shown_store(spec_) + ": the message is not recorded");
      return exit_ok;
    }
    const auto recorded = tickets_->record_outbound(**ticket, message_id, what.type, what.text, options_.agent);
    if (!recorded) return report_error("recording the message on " + **ticket, recorded.error());
    return exit_ok;
  }

 private:
  const SendOptions& options_;
  std::string spec_;
  std::unique_ptr<wagroups::TicketStore> store_;
  std::unique_ptr<wagroups::TicketAggregator> tickets_;
};

void write_result_json(JsonWriter& w, const std::string& group,
                       const wagroups::Result<wagroups::SendMessageResponse>& answer) {
  w.begin_object().member("group_id", group);
  if (answer) {
    w.member("message_id", answer->message_id());
    if (!answer->messages.empty()) w.member("message_status", answer->messages.front().message_status);
  } else {
    w.key("error");
    write_error_json(w, answer.error());
  }
  w.end_object();
}

// One group: sent as before, with the client's own retries.
int send_to_one(Session& session, const char* what, const SendOptions& o, const Recorded& recorded,
                const std::string& group, const Sender& send) {
  TicketRecorder recorder(o);
  if (const int code = recorder.open(); code != exit_ok) return code;
  const auto answer = send(group);
  int exit_code = exit_ok;
  if (answer) {
    exit_code = recorder.record(group, answer->message_id(), recorded);
  } else {
    exit_code = report_error(what, answer.error());
  }
  if (session.options().json) {
    JsonWriter w;
    w.begin_object().key("results").begin_array();
    write_result_json(w, group, answer);
    // The same four counts as a fan-out, by the fan-out's rule: a transport failure after the
    // request may have left, or a 5xx, is unknown rather than failed.
    const bool unknown =
        !answer &&
        ((answer.error().code == wagroups::ErrorCode::transport && answer.error().request_may_have_been_sent) ||
         (answer.error().code == wagroups::ErrorCode::graph_api && answer.error().http_status >= 500));
    w.end_array().key("sent").number(answer ? 1 : 0);
    w.key("failed").number(answer || unknown ? 0 : 1);
    w.key("unknown").number(unknown ? 1 : 0);
    w.key("not_sent").number(0).end_object();
    write_line(w.text());
  } else if (answer) {
    write_line(answer->message_id());
  }
  return exit_code;
}

// Several groups: one fan-out (Client::send_to_groups) at --rate messages/s with --concurrency
// requests in flight. One line per group (or one JSON object for all); the exit code is that of
// the first group not sent, exit_ok when every group was sent.
int send_to_many(Session& session, const char* what, const SendOptions& o, const Recorded& recorded,
                 const std::vector<std::string>& groups, const wagroups::GroupMessage& message) {
  TicketRecorder recorder(o);
  if (const int code = recorder.open(); code != exit_ok) return code;
  wagroups::FanOutOptions fan;
  fan.messages_per_second = o.rate;
  fan.max_in_flight = o.concurrency;
  const std::size_t step = std::max<std::size_t>(1, groups.size() / 100);
  fan.progress = [&](const wagroups::FanOutProgress& p) {
    if (p.finished % step != 0 && p.finished != p.total) return;
    print_progress(std::to_string(p.finished) + "/" + std::to_string(p.total) + " group(s) done, " +
                   std::to_string(p.sent) + " sent");
  };
  const auto report = session.client().send_to_groups(groups, message, fan);
  if (!report) return report_error(what, report.error());

  const bool json = session.options().json;
  int exit_code = exit_ok;
  auto note_failure = [&](int code) {
    if (exit_code == exit_ok) exit_code = code;
  };
  JsonWriter w;
  w.begin_object().key("results").begin_array();
  for (const wagroups::FanOutResult& r : report->results) {
    if (r.status == wagroups::FanOutStatus::sent) {
      const std::string id = r.response->message_id();
      note_failure(recorder.record(r.group_id, id, recorded));
      if (!json) write_line(r.group_id + "  " + id);
    } else if (r.status == wagroups::FanOutStatus::failed && r.error) {
      note_failure(report_error(std::string(what) + " to " + r.group_id, *r.error));
    } else if (r.status == wagroups::FanOutStatus::unknown) {
      print_error(std::string(what) + " to " + r.group_id + ": outcome unknown, it may have been sent (not repeated)" +
                  (r.error ? ": " + r.error->to_string() : std::string()));
      note_failure(exit_transport);
    } else {
      print_error(std::string(what) + " to " + r.group_id + ": not sent");
      note_failure(exit_failure);
    }
    if (json) {
      w.begin_object().member("group_id", r.group_id).member("status", wagroups::to_string(r.status));
      w.key("attempts").number(static_cast<std::int64_t>(r.attempts));
      if (r.response) {
        w.member("message_id", r.response->message_id());
        if (!r.response->messages.empty()) w.member("message_status", r.response->messages.front().message_status);
      }
      if (r.error) {
        w.key("error");
        write_error_json(w, *r.error);
      }
      w.end_object();
    }
  }
  const auto& c = report->counts;
  w.end_array().key("sent").number(static_cast<std::int64_t>(c.sent));
  w.key("failed").number(static_cast<std::int64_t>(c.failed));
  w.key("unknown").number(static_cast<std::int64_t>(c.unknown));
  w.key("not_sent").number(static_cast<std::int64_t>(c.not_sent)).end_object();
  if (json) write_line(w.text());
  return exit_code;
}

int send_to_all(Session& session, const char* what, const SendOptions& o, const Recorded& recorded, const Sender& send,
                const wagroups::GroupMessage& message) {
  const std::vector<std::string> groups = o.all_groups();
  if (groups.empty()) {
    print_error(std::string(what) + ": name a group (GROUP or --group, repeatable)");
    return exit_usage;
  }
  if (groups.size() == 1) return send_to_one(session, what, o, recorded, groups.front(), send);
  return send_to_many(session, what, o, recorded, groups, message);
}

std::optional<wagroups::MessageType> parse_message_type(const std::string& name) {
  using wagroups::MessageType;
  for (const MessageType t :
       {MessageType::image, MessageType::video, MessageType::audio, MessageType::document, MessageType::sticker,
        MessageType::text, MessageType::template_, MessageType::pin, MessageType::interactive, MessageType::reaction,
        MessageType::location, MessageType::contacts}) {
    if (name == wagroups::to_string(t)) return t;
  }
  return std::nullopt;
}

int run_text(Session& session, const SendOptions& o) {
  wagroups::GroupMessage m;
  m.type = wagroups::MessageType::text;
  m.text = o.text;
  m.preview_url = o.preview_url;
  if (!o.reply_to.empty()) m.reply_to = o.reply_to;
  return send_to_all(
      session, "send text", o, {"text", o.text},
      [&](const std::string& group) {
        wagroups::GroupMessage one = m;
        one.group_id = group;
        return session.client().send_group_message(one);
      },
      m);
}

int run_media(Session& session, const SendOptions& o) {
  const auto type = parse_message_type(o.media_type);
  if (!type) {
    print_error("send media: unknown message type \"" + o.media_type + "\" (image, video, audio, document, sticker)");
    return exit_usage;
  }
  wagroups::MediaRef media;
  if (!o.media_id.empty()) media.id = o.media_id;
  if (!o.media_link.empty()) media.link = o.media_link;
  if (!o.caption.empty()) media.caption = o.caption;
  if (!o.filename.empty()) media.filename = o.filename;
  wagroups::GroupMessage m;
  m.type = *type;
  m.media = media;
  const bool is_media = *type == wagroups::MessageType::image || *type == wagroups::MessageType::video ||
                        *type == wagroups::MessageType::audio || *type == wagroups::MessageType::document ||
                        *type == wagroups::MessageType::sticker;
  if (!is_media && o.all_groups().size() > 1) {
    // send_media refuses it for one group; refuse it alike before a fan-out.
    return report_error("send media",
                        wagroups::Error::invalid_argument("type", "one of image, video, audio, document, sticker",
                                                          "send media takes a media type, not '" + o.media_type + "'"));
  }
  return send_to_all(
      session, "send media", o, {o.media_type, media.caption},
      [&](const std::string& group) { return session.client().send_media(group, *type, media); }, m);
}

int run_template(Session& session, const SendOptions& o) {
  wagroups::TemplateMessage t;
  t.name = o.template_name;
  t.language = o.language;
  if (o.category == "marketing") t.category = wagroups::TemplateCategory::marketing;
  else if (o.category == "utility") t.category = wagroups::TemplateCategory::utility;
  else if (o.category == "authentication") t.category = wagroups::TemplateCategory::authentication;
  if (!o.parameters.empty()) {
    wagroups::TemplateComponent body;
    for (const auto& p : o.parameters) body.parameters.push_back(wagroups::TemplateParameter::text_value(p));
    t.components.push_back(std::move(body));
  }
  wagroups::GroupMessage m;
  m.type = wagroups::MessageType::template_;
  m.template_message = t;
  return send_to_all(
      session, "send template", o, {"template", o.template_name},
      [&](const std::string& group) { return session.client().send_template(group, t); }, m);
}

int run_pin(Session& session, const SendOptions& o) {
  wagroups::GroupMessage m;
  m.type = wagroups::MessageType::pin;
  m.pin = o.unpin ? wagroups::PinMessage{wagroups::PinOperation::unpin, o.message_id, std::nullopt}
                  : wagroups::PinMessage{wagroups::PinOperation::pin, o.message_id, o.days};
  return send_to_all(
      session, o.unpin ? "send pin --unpin" : "send pin", o, {"pin", std::nullopt},
      [&](const std::string& group) {
        return o.unpin ? session.client().unpin_message(group, o.message_id)
                       : session.client().pin_message(group, o.message_id, o.days);
      },
      m);
}

CLI::App* add_send_command(CLI::App* send, const char* name, const char* help, std::shared_ptr<SendOptions> o) {
  CLI::App* cmd = send->add_subcommand(name, help);
  cmd->add_option("group", o->positional_groups, "Group id(s)");
  cmd->add_option("--group", o->groups, "Group id (repeatable: send to several, with progress)");
  add_store_options(*cmd, o->store, "Record each message sent on its group's ticket in this store");
  // Not CLI11's needs(): the store may come from $WAGROUPS_STORE (checked in the callback).
  o->agent_option =
      cmd->add_option("--agent", o->agent, "Who sent it, on the ticket (with a store)")->capture_default_str();
  cmd->add_option("--rate", o->rate, "With several groups: messages per second at most (0: no limit)")
      ->check(CLI::Range(0.0, 1000000.0))
      ->capture_default_str();
  cmd->add_option("--concurrency", o->concurrency, "With several groups: requests in flight at once")
      ->check(CLI::Range(std::size_t{1}, std::size_t{256}))
      ->capture_default_str();
  return cmd;
}

}  // namespace

void register_send_commands(CLI::App& app, CommandState& state) {
  CLI::App* send = app.add_subcommand("send", "Send a message to one or more groups (someone must have joined)");
  send->require_subcommand(1);

  using Runner = int (*)(Session&, const SendOptions&);
  auto finish = [&state](CLI::App* cmd, std::shared_ptr<SendOptions> o, Runner run) {
    add_backend_options(*cmd, o->backend);
    cmd->callback([o, run, &state] {
      const bool wants_store = o->agent_option->count() > 0 || o->store.schema_flag->count() > 0;
      if (wants_store && o->store.spec().empty()) {
        print_error(std::string(o->agent_option->count() > 0 ? "--agent" : "--store-schema") +
                    " needs a ticket store: --store (or --db), or $" + kStoreEnv);
        state.exit_code = exit_usage;
        return;
      }
      with_session(o->backend, Session::Need::any_backend, state.exit_code, [&](Session& s) { return run(s, *o); });
    });
  };
  {
    auto o = std::make_shared<SendOptions>();
    CLI::App* cmd = add_send_command(send, "text", "A text message (1-4096 characters)", o);
    cmd->add_option("--text", o->text, "The message")->required();
    cmd->add_flag("--preview-url", o->preview_url, "Render a link preview");
    cmd->add_option("--reply-to", o->reply_to, "Quote this message id");
    finish(cmd, o, &run_text);
  }
  {
    auto o = std::make_shared<SendOptions>();
    CLI::App* cmd =
        add_send_command(send, "media", "An image, video, audio, document or sticker, by media id or link", o);
    cmd->add_option("--type", o->media_type, "image, video, audio, document or sticker")->capture_default_str();
    CLI::Option* id = cmd->add_option("--id", o->media_id, "An uploaded media id");
    CLI::Option* link = cmd->add_option("--link", o->media_link, "A public https link");
    id->excludes(link);
    cmd->add_option("--caption", o->caption, "Caption (image, video, document; at most 1024 characters)");
    cmd->add_option("--filename", o->filename, "File name (document)");
    finish(cmd, o, &run_media);
  }
  {
    auto o = std::make_shared<SendOptions>();
    CLI::App* cmd = add_send_command(send, "template", "An approved marketing or utility template", o);
    cmd->add_option("--name", o->template_name, "The template's name")->required();
    cmd->add_option("--language", o->language, "Language code")->capture_default_str();
    cmd->add_option("--category", o->category, "What Meta approved it as (authentication is refused in groups)")
        ->required()
        ->check(CLI::IsMember({"marketing", "utility", "authentication"}));
    cmd->add_option("--param", o->parameters, "Body variables, in order (repeatable)");
    finish(cmd, o, &run_template);
  }
  {
    auto o = std::make_shared<SendOptions>();
    CLI::App* cmd = add_send_command(send, "pin", "Pin (or --unpin) a message of the group", o);
    cmd->add_option("--message-id", o->message_id, "The message id (wamid) to pin")->required();
    cmd->add_option("--days", o->days, "How long it stays pinned (1-30)")->capture_default_str();
    cmd->add_flag("--unpin", o->unpin, "Unpin instead");
    finish(cmd, o, &run_pin);
  }
}

}  // namespace wagroups_cli
