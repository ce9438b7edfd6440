// `wagroups webhook parse`: verify and parse one webhook body, print its events as JSON Lines.

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <wagroups/webhook.hpp>
#include <wagroups/webhook/events.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "output.hpp"

namespace wagroups_cli {
namespace {

struct ParseOptions {
  std::string app_secret;
  std::string app_secret_file;
  std::string signature;
  std::string file;
  bool no_verify = false;
  std::size_t max_body_bytes = wagroups::WebhookLimits{}.max_body_bytes;
  CLI::Option* app_secret_option = nullptr;
  CLI::Option* signature_option = nullptr;
  CLI::Option* file_option = nullptr;
};

// Reads at most max_bytes + 1 bytes, byte for byte, so an oversized body is noticed without
// reading all of it. False on a read error.
bool read_body(std::FILE* in, std::size_t max_bytes, std::string& body) {
  const std::size_t cap = max_bytes < std::numeric_limits<std::size_t>::max() ? max_bytes + 1 : max_bytes;
  char buffer[1 << 16];
  while (body.size() < cap) {
    const std::size_t want = std::min(sizeof buffer, cap - body.size());
    const std::size_t got = std::fread(buffer, 1, want, in);
    body.append(buffer, got);
    if (got < want) return std::ferror(in) == 0;
  }
  return true;
}

const char* refusal_hint(wagroups::AuthFailure failure) {
  switch (failure) {
    case wagroups::AuthFailure::empty_secret:
      return "no app secret: pass --app-secret or set WAGROUPS_APP_SECRET (or --no-verify to skip the check)";
    case wagroups::AuthFailure::missing_signature:
      return "no signature: pass --signature with the X-Hub-Signature-256 header value (or --no-verify)";
    case wagroups::AuthFailure::bad_prefix: return "the signature must start with \"sha256=\"";
    case wagroups::AuthFailure::bad_hex: return "the signature must be \"sha256=\" and 64 hexadecimal digits";
    case wagroups::AuthFailure::signature_mismatch: return "the signature does not match this body and app secret";
    default: return "the signature did not check out";
  }
}

// ---------------------------------------------------------------------------------------------
// One event as one JSON object. Keys follow the README; a value that is absent has no key.

// Participant identities, one list per key: the values present, in participant order (a person
// without a wa_id has no entry in `wa_id`, so the lists need not line up).
void write_participants(JsonWriter& w, const std::vector<wagroups::Participant>& people) {
  std::vector<std::string> wa_id, user_id, parent_user_id, username, input;
  for (const auto& p : people) {
    if (p.wa_id) wa_id.push_back(*p.wa_id);
    if (p.user_id) user_id.push_back(*p.user_id);
    if (p.parent_user_id) parent_user_id.push_back(*p.parent_user_id);
    if (p.username) username.push_back(*p.username);
    if (p.input) input.push_back(*p.input);
  }
  w.member("wa_id", wa_id).member("user_id", user_id).member("parent_user_id", parent_user_id);
  w.member("username", username).member("input", input);
}

void write_setting(JsonWriter& w, const char* name, const std::optional<wagroups::SettingOutcome>& s) {
  if (!s) return;
  w.key(name).begin_object();
  w.member("text", s->text).member("mime_type", s->mime_type).member("sha256", s->sha256);
  w.key("succeeded").boolean(s->succeeded());
  write_item_errors(w, s->errors);
  w.end_object();
}

void write_message(JsonWriter& w, const wagroups::InboundMessage& m) {
  w.member("message_id", m.id).member("message_type", m.type);
  w.member("from", m.from).member("from_user_id", m.from_user_id);
  w.member("from_parent_user_id", m.from_parent_user_id).member("from_username", m.username);
  w.member("contact_name", m.contact_name).member("text", m.text).member("caption", m.caption);
  w.member("media_id", m.media_id).member("mime_type", m.mime_type).member("filename", m.filename);
  if (m.reply_to) w.member("reply_to_message_id", m.reply_to->id).member("reply_to_from", m.reply_to->from);
  write_item_errors(w, m.errors);
}

void write_status(JsonWriter& w, const wagroups::MessageStatusData& s) {
  w.member("message_id", s.id).member("status", s.status);
  w.member("recipient_id", s.recipient_id).member("recipient_type", s.recipient_type);
  w.member("recipient_user_id", s.recipient_user_id);
  w.member("recipient_participant_id", s.recipient_participant_id);
  w.member("recipient_participant_user_id", s.recipient_participant_user_id);
  w.member("contact_name", s.contact_name);
  w.member("pricing_category", s.pricing_category).member("pricing_type", s.pricing_type);
  w.member("biz_opaque_callback_data", s.biz_opaque_callback_data);
  write_item_errors(w, s.errors);
}

const char* initiator_name(wagroups::RemovalInitiator initiator) {
  switch (initiator) {
    case wagroups::RemovalInitiator::business: return "business";
    case wagroups::RemovalInitiator::participant: return "participant";
    default: return nullptr;
  }
}

std::string event_json(const wagroups::WebhookEvent& event) {
  using namespace wagroups;
  const WebhookContext& c = context_of(event);
  JsonWriter w;
  w.begin_object().member("field", c.field).member("type", kind_of(event));
  if (!c.waba_id.empty()) w.member("waba_id", c.waba_id);
  if (!c.phone_number_id.empty()) w.member("phone_number_id", c.phone_number_id);
  if (!c.display_phone_number.empty()) w.member("display_phone_number", c.display_phone_number);
  w.member("timestamp", c.timestamp);
  w.member("group_id", group_id_of(event)).member("request_id", request_id_of(event));

  std::visit(
      [&w](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, GroupCreated>) {
          w.member("subject", e.subject).member("description", e.description);
          w.member("invite_link", e.invite_link);
          if (e.join_approval_mode) w.member("join_approval_mode", to_string(*e.join_approval_mode));
          write_participants(w, e.added_participants);
        } else if constexpr (std::is_same_v<T, GroupCreateFailed>) {
          w.member("subject", e.subject).member("description", e.description);
          write_item_errors(w, e.errors);
        } else if constexpr (std::is_same_v<T, GroupDeleteFailed>) {
          write_item_errors(w, e.errors);
        } else if constexpr (std::is_same_v<T, ParticipantsAdded>) {
          w.member("reason", e.reason);
          write_participants(w, e.added_participants);
        } else if constexpr (std::is_same_v<T, ParticipantsRemoved>) {
          if (const char* name = initiator_name(e.initiated_by)) {
            w.member("initiated_by", name);
          } else {
            w.member("initiated_by", e.initiated_by_raw);
          }
          write_participants(w, e.removed_participants);
          if (!e.failed_participants.empty()) {
            w.key("failed_participants").begin_array();
            for (const auto& f : e.failed_participants) {
              w.begin_object();
              w.member("wa_id", f.participant.wa_id).member("user_id", f.participant.user_id);
              w.member("input", f.participant.input);
              write_item_errors(w, f.errors);
              w.end_object();
            }
            w.end_array();
          }
          write_item_errors(w, e.errors);
        } else if constexpr (std::is_same_v<T, JoinRequestCreated> || std::is_same_v<T, JoinRequestRevoked>) {
          w.member("join_request_id", e.join_request_id).member("reason", e.reason);
          write_participants(w, {e.requester});
        } else if constexpr (std::is_same_v<T, GroupSettingsUpdated>) {
          write_setting(w, "group_subject", e.group_subject);
          write_setting(w, "group_description", e.group_description);
          write_setting(w, "profile_picture", e.profile_picture);
          w.key("all_succeeded").boolean(e.all_succeeded());
          write_item_errors(w, e.errors);
        } else if constexpr (std::is_base_of_v<InboundMessage, T>) {
          write_message(w, e);
        } else if constexpr (std::is_base_of_v<MessageStatusData, T>) {
          write_status(w, e);
        } else if constexpr (std::is_same_v<T, UnknownEvent>) {
          w.member("item_type", e.type);
          if (!e.raw.empty()) w.key("raw").raw(e.raw.str());
        } else if constexpr (std::is_same_v<T, CustomEvent>) {
          if (!e.raw.empty()) w.key("raw").raw(e.raw.str());
        }
        // GroupDeleted, GroupSuspended, GroupSuspensionCleared: the common keys say it all.
      },
      event);
  w.end_object();
  return w.text();
}

// ---------------------------------------------------------------------------------------------

int run_parse(const ParseOptions& options) {
  // The secret: --app-secret wins over the environment (which keeps it out of `ps`).
  std::string secret = options.app_secret;
  if (!options.no_verify && options.app_secret_option->count() == 0) {
    if (!options.app_secret_file.empty()) {  // the file wins over the environment
      int code = exit_ok;
      auto from_file = read_secret_file("--app-secret-file", options.app_secret_file, code);
      if (!from_file) return code;
      secret = std::move(*from_file);
    } else if (const char* from_env = std::getenv("WAGROUPS_APP_SECRET")) {
      secret = from_env;
    }
  }

  std::string body;
  {
    std::FILE* in = stdin;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(nullptr, &std::fclose);
    if (options.file_option->count() > 0 && options.file != "-") {
      file.reset(std::fopen(options.file.c_str(), "rb"));
      if (!file) {
        print_error("cannot open " + options.file + ": " + std::strerror(errno));
        return exit_failure;
      }
      in = file.get();
    }
    if (!read_body(in, options.max_body_bytes, body)) {
      print_error("cannot read the body: " + std::string(std::strerror(errno)));
      return exit_failure;
    }
  }
  if (body.size() > options.max_body_bytes) {
    print_error("body refused: larger than " + std::to_string(options.max_body_bytes) + " bytes (--max-body-bytes)");
    return exit_malformed;
  }

  // Fail closed: without --no-verify the library decides, and it refuses a missing secret or
  // signature just as it refuses a wrong one.
  if (!options.no_verify) {
    const auto verified = wagroups::verify_signature(body, options.signature, secret);
    wipe_secret(secret);  // checked: not needed again
    if (!verified) {
      print_error(std::string("signature refused (") + to_string(verified.error().auth_failure) +
                  "): " + refusal_hint(verified.error().auth_failure));
      return exit_refused;
    }
  }

  wagroups::WebhookLimits limits;
  limits.max_body_bytes = options.max_body_bytes;
  const auto batch = wagroups::WebhookParser(limits).parse_in_place(std::move(body));
  if (!batch) {
    const wagroups::Error& e = batch.error();
    std::string message = "malformed webhook body: " + e.message;
    if (!e.field.empty()) message += " (at " + e.field + (e.limit.empty() ? "" : "; " + e.limit) + ")";
    print_error(message);
    return exit_malformed;
  }
  for (const auto& event : batch->events) write_line(event_json(event));
  return exit_ok;
}

}  // namespace

void register_webhook_commands(CLI::App& app, CommandState& state) {
  CLI::App* webhook = app.add_subcommand("webhook", "Meta's webhooks: verify and decode notifications");
  webhook->require_subcommand(1);

  auto options = std::make_shared<ParseOptions>();
  CLI::App* parse = webhook->add_subcommand(
      "parse", "Verify one webhook body (file or stdin, read byte for byte) and print its events as JSON Lines");
  options->app_secret_option =
      parse->add_option("--app-secret", options->app_secret,
                        "App secret for the signature check (default: $WAGROUPS_APP_SECRET, which keeps it out of ps)");
  options->signature_option = parse->add_option("--signature", options->signature,
                                                "The X-Hub-Signature-256 header value: sha256=<64 hex digits>");
  options->file_option = parse->add_option("--file", options->file, "Read the body from this file ('-': stdin)");
  CLI::Option* app_secret_file =
      add_app_secret_file_option(*parse, options->app_secret_file, options->app_secret_option);
  parse->add_flag("--no-verify", options->no_verify, "Skip the signature check (for bodies you already trust)")
      ->excludes(options->app_secret_option)
      ->excludes(app_secret_file)
      ->excludes(options->signature_option);
  parse->add_option("--max-body-bytes", options->max_body_bytes, "Refuse bodies larger than this")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  parse->callback([options, &state] { state.exit_code = run_parse(*options); });
}

}  // namespace wagroups_cli
