// Graph routes, part three: POST /{phone-number-id}/messages. A group send takes Meta's group
// types only (text, media, non-authentication templates, pin); a send to a person takes text and
// templates, enough for the invite-link template a host sends to bring people into a group.

#include <algorithm>
#include <iterator>

#include "sandbox/simulator_engine.hpp"
#include "util/text.hpp"
#include "wagroups/graph_codes.hpp"
#include "wagroups/limits.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sandbox {
namespace sim {

namespace {

std::optional<Failure> check_media(const json::Value& doc, const std::string& type) {
  const json::Value* media = json::get_object(doc, type.c_str());
  if (!media) return missing_parameter(type + " object is required");
  const auto id = json::get_string(*media, "id");
  const auto link = json::get_string(*media, "link");
  if (!id && !link) return missing_parameter(type + ".id or " + type + ".link is required");
  if (id && link) return invalid_parameter(type + " takes either id or link, not both");
  if ((id && id->empty()) || (link && link->empty())) return invalid_value(type + " media reference is empty");
  return std::nullopt;
}

std::optional<Failure> check_template(const json::Value& doc) {
  const json::Value* t = json::get_object(doc, "template");
  if (!t) return missing_parameter("template object is required");
  const auto name = json::get_string(*t, "name");
  if (!name || name->empty()) return missing_parameter("template.name is required");
  const json::Value* language = json::get_object(*t, "language");
  const auto code = language ? json::get_string(*language, "code") : std::nullopt;
  if (!code || code->empty()) return missing_parameter("template.language.code is required");
  return std::nullopt;
}

// Group ids named by `group_id` template parameters (Meta turns them into invite links).
std::vector<std::string> template_group_ids(const json::Value& doc) {
  std::vector<std::string> out;
  const json::Value* t = json::get_object(doc, "template");
  const json::Value* components = t ? json::get_array(*t, "components") : nullptr;
  if (!components) return out;
  for (const auto& c : components->GetArray()) {
    const json::Value* params = json::get_array(c, "parameters");
    if (!params) continue;
    for (const auto& p : params->GetArray()) {
      if (json::get_string(p, "type").value_or("") == "group_id")
        out.push_back(json::get_string(p, "group_id").value_or(""));
    }
  }
  return out;
}

HttpResponse sent_answer(const std::string& input, const std::optional<std::string>& wa_id,
                         const std::optional<std::string>& user_id, const std::string& wamid, bool accepted_status) {
  json::Writer w;
  w.begin_object();
  w.field("messaging_product", "whatsapp");
  w.key("contacts").begin_array().begin_object();
  w.field("input", input);
  w.optional_field("wa_id", wa_id);
  w.optional_field("user_id", user_id);
  w.end_object().end_array();
  w.key("messages").begin_array().begin_object();
  w.field("id", wamid);
  if (accepted_status) w.field("message_status", "accepted");
  w.end_object().end_array();
  w.end_object();
  return json_response(200, w.str());
}

Failure bad_group() {
  return failure(400, graph_codes::bad_group, "Bad Group", "Cannot send messages to single member groups.");
}

}  // namespace

HttpResponse Engine::send_message(const HttpRequest& r, std::int64_t now_s) {
  json::Document doc;
  Failure f;
  if (!parse_json_body(r, doc, f)) return fail(f);
  if (auto bad = check_messaging_product(doc, true)) return fail(*bad);
  const std::string recipient_type = json::get_string(doc, "recipient_type").value_or("individual");
  const auto to = json::get_string(doc, "to");
  const auto type = json::get_string(doc, "type");
  if (recipient_type == "group") {
    if (!eligible()) return fail(not_eligible());
    return send_to_group(doc, to, type, now_s);
  }
  if (recipient_type != "individual") return fail(invalid_parameter("recipient_type must be individual or group"));
  return send_direct(doc, to, type, now_s);
}

HttpResponse Engine::send_to_group(const json::Document& doc, const std::optional<std::string>& to,
                                   const std::optional<std::string>& type_field, std::int64_t now_s) {
  if (!to || to->empty()) return fail(missing_parameter("to (the group id) is required"));
  const std::string type = type_field.value_or("text");
  static constexpr const char* kUnsupported[] = {"interactive", "reaction", "location",    "contacts",
                                                 "order",       "product",  "product_list"};
  if (std::any_of(std::begin(kUnsupported), std::end(kUnsupported), [&](const char* u) { return type == u; })) {
    return fail(failure(400, graph_codes::unsupported_group_message, "Unsupported message type",
                        "Message type '" + type +
                            "' is not supported in groups: text, media "
                            "(image, video, audio, document, sticker), non-authentication templates and pin are."));
  }
  const bool is_media =
      type == "image" || type == "video" || type == "audio" || type == "document" || type == "sticker";
  if (type == "text") {
    const json::Value* t = json::get_object(doc, "text");
    const auto body = t ? json::get_string(*t, "body") : std::nullopt;
    if (!body || body->empty()) return fail(missing_parameter("text.body is required"));
    if (auto bad = check_text_body(*body)) return fail(*bad);
  } else if (is_media) {
    if (auto bad = check_media(doc, type)) return fail(*bad);
  } else if (type == "template") {
    if (auto bad = check_template(doc)) return fail(*bad);
  } else if (type != "pin") {
    return fail(invalid_parameter("type '" + type + "' is not a message type"));
  }
  GroupState* g = active_group(*to);
  if (!g) return fail(group_unknown());
  if (g->suspended) return fail(group_suspended());
  if (type == "pin") {
    const json::Value* pin = json::get_object(doc, "pin");
    if (!pin) return fail(missing_parameter("pin object is required"));
    const std::string op = json::get_string(*pin, "type").value_or("");
    const auto target = json::get_string(*pin, "message_id");
    if (op != "pin" && op != "unpin") return fail(invalid_parameter("pin.type must be pin or unpin"));
    if (!target || target->empty()) return fail(missing_parameter("pin.message_id is required"));
    if (std::find(g->message_ids.begin(), g->message_ids.end(), *target) == g->message_ids.end())
      return fail(invalid_value("pin.message_id is not a message of this group"));
    const bool pinned = std::find(g->pinned.begin(), g->pinned.end(), *target) != g->pinned.end();
    if (op == "pin") {
      const auto days = json::get_int64(*pin, "expiration_days");
      if (!days || *days < limits::pin_min_days || *days > limits::pin_max_days)
        return fail(invalid_parameter("pin.expiration_days must be from 1 to 30"));
    } else if (!pinned) {
      return fail(invalid_value("pin.message_id is not pinned"));
    }
    if (g->joined_count() == 0) return fail(bad_group());
    if (op == "pin" && !pinned) {
      g->pinned.push_back(*target);
      if (g->pinned.size() > kMaxPinned) g->pinned.erase(g->pinned.begin());  // the oldest goes
    } else if (op == "unpin") {
      g->pinned.erase(std::find(g->pinned.begin(), g->pinned.end(), *target));
    }
  } else if (g->joined_count() == 0) {
    return fail(bad_group());
  }
  const std::string wamid = message_id(g->group_id);
  g->business_message_ids.push_back(wamid);
  g->message_ids.push_back(wamid);
  const char* category = nullptr;
  if (type == "template") {
    // Meta prices a template by the category it holds for the template's name.
    const json::Value* tpl = json::get_object(doc, "template");
    const std::string name = tpl ? json::get_string(*tpl, "name").value_or("") : std::string();
    const auto& marketing = options.marketing_templates;
    category =
        std::find(marketing.begin(), marketing.end(), name) != marketing.end() ? "group_marketing" : "group_utility";
  }
  queue_group_statuses(*g, wamid, category, now_s);
  return sent_answer(g->group_id, g->group_id, std::nullopt, wamid, false);
}

HttpResponse Engine::send_direct(const json::Document& doc, const std::optional<std::string>& to,
                                 const std::optional<std::string>& type_field, std::int64_t now_s) {
  if (!to || text::trim_ascii(*to).empty()) return fail(missing_parameter("to is required"));
  const std::string type = type_field.value_or("text");
  if (type == "template") {
    if (auto bad = check_template(doc)) return fail(*bad);
    for (const auto& gid : template_group_ids(doc)) {
      if (!active_group(gid)) return fail(group_unknown());
    }
  } else if (type == "text") {
    const json::Value* t = json::get_object(doc, "text");
    const auto body = t ? json::get_string(*t, "body") : std::nullopt;
    if (!body || body->empty()) return fail(missing_parameter("text.body is required"));
  } else {
    return fail(invalid_parameter("the sandbox sends template and text messages to individuals"));
  }
  const std::string input(text::trim_ascii(*to));
  // Meta: "an error in the sync response if the recipient_type and to type do not match".
  if (s.by_id.count(input)) return fail(invalid_parameter("to is a group id: send with recipient_type group"));
  const bool is_phone = looks_like_phone(input);
  const std::string recipient = is_phone ? digits_of(input) : input;
  const std::string wamid = message_id(recipient);
  queue_direct_statuses(recipient, !is_phone, wamid, type == "template", now_s);
  return sent_answer(input, is_phone ? std::optional<std::string>(recipient) : std::nullopt,
                     is_phone ? std::nullopt : std::optional<std::string>(recipient), wamid, true);
}

}  // namespace sim
}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
