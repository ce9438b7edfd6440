// Graph routes, part one: the router every request goes through, the checks all group routes
// share, Graph paging, and the group itself (create, list, info, settings, delete). Membership
// routes are in simulator_graph_members.cpp, sends in simulator_graph_messages.cpp.
//
// The router answers what Graph answers for a path it does not serve (HTTP 400, code 100,
// GraphMethodException subcode 33, "Unsupported get request. ..."), so a Client calling a wrong
// path fails here as it would against Meta.

#include <algorithm>
#include <functional>
#include <iterator>
#include <string_view>
#include <utility>

#include "sandbox/simulator_engine.hpp"
#include "util/text.hpp"
#include "wagroups/graph_codes.hpp"
#include "wagroups/limits.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sandbox {
namespace sim {

// --- routing -----------------------------------------------------------------------------------
HttpResponse Engine::handle(const HttpRequest& r) {
  std::lock_guard<std::mutex> lock(mutex);
  const Target t = parse_target(r.url);
  const std::int64_t now_s = now();
  if (!authorized(r, t)) {
    Failure f =
        failure(401, 190, "Invalid OAuth access token", "Invalid OAuth access token - Cannot parse access token");
    return fail(f);
  }
  signing_failed = false;
  HttpResponse answer = route(r, t, now_s);
  // Fail closed: a webhook this call should have caused could not be signed.
  if (auto unsigned_webhook = take_signing_failure()) return fail(*unsigned_webhook);
  return answer;
}

HttpResponse Engine::route(const HttpRequest& r, const Target& t, std::int64_t now_s) {
  const char* method = to_string(r.method);
  const auto& seg = t.segments;
  const std::string object_id = seg.empty() ? std::string() : seg[0];
  if (seg.size() == 1 && seg[0] == options.phone_number_id) {
    if (r.method == HttpMethod::get) return phone_number_info(t);
    return fail(unknown_route(method, object_id));
  }
  if (seg.size() == 2 && (seg[1] == "groups" || seg[1] == "messages")) {
    if (seg[0] != options.phone_number_id) return fail(unknown_route(method, object_id));
    if (seg[1] == "groups" && r.method == HttpMethod::post) return create_group(r, now_s);
    if (seg[1] == "groups" && r.method == HttpMethod::get) return list_groups(t);
    if (seg[1] == "messages" && r.method == HttpMethod::post) return send_message(r, now_s);
    return fail(unknown_route(method, object_id));
  }
  if (seg.size() == 1) {
    if (r.method == HttpMethod::get) return group_route(r, t, now_s, false, &Engine::group_info);
    if (r.method == HttpMethod::post) return group_route(r, t, now_s, true, &Engine::update_settings);
    if (r.method == HttpMethod::delete_) return group_route(r, t, now_s, true, &Engine::delete_group);
  } else if (seg.size() == 2 && seg[1] == "invite_link") {
    if (r.method == HttpMethod::get) return group_route(r, t, now_s, true, &Engine::get_invite_link);
    if (r.method == HttpMethod::post) return group_route(r, t, now_s, true, &Engine::reset_invite_link);
    if (r.method == HttpMethod::delete_) return group_route(r, t, now_s, true, &Engine::delete_invite_link);
  } else if (seg.size() == 2 && seg[1] == "join_requests") {
    if (r.method == HttpMethod::get) return group_route(r, t, now_s, false, &Engine::list_join_requests);
    if (r.method == HttpMethod::post) return group_route(r, t, now_s, true, &Engine::approve_join_requests);
    if (r.method == HttpMethod::delete_) return group_route(r, t, now_s, true, &Engine::reject_join_requests);
  } else if (seg.size() == 2 && seg[1] == "participants") {
    if (r.method == HttpMethod::delete_) return group_route(r, t, now_s, true, &Engine::remove_participants);
  }
  return fail(unknown_route(method, object_id));
}

// GET /{phone-number-id}?fields=...: the fields asked for (and `id`), from SimulatorOptions::number;
// without `fields`, Graph's default set for the node. A field the node does not have is Graph's
// "nonexisting field" error, as for any node.
HttpResponse Engine::phone_number_info(const Target& t) {
  const NumberProfile& n = options.number;
  using Write = std::function<void(json::Writer&)>;
  const std::vector<std::pair<const char*, Write>> known = {
      {"id", [&](json::Writer& w) { w.field("id", options.phone_number_id); }},
      {"display_phone_number", [&](json::Writer& w) { w.field("display_phone_number", options.display_phone_number); }},
      {"verified_name", [&](json::Writer& w) { w.field("verified_name", n.verified_name); }},
      {"status", [&](json::Writer& w) { w.field("status", n.status); }},
      {"quality_rating", [&](json::Writer& w) { w.field("quality_rating", n.quality_rating); }},
      {"code_verification_status",
       [&](json::Writer& w) { w.field("code_verification_status", n.code_verification_status); }},
      {"name_status", [&](json::Writer& w) { w.field("name_status", n.name_status); }},
      {"messaging_limit_tier", [&](json::Writer& w) { w.field("messaging_limit_tier", n.messaging_limit_tier); }},
      {"account_mode", [&](json::Writer& w) { w.field("account_mode", n.account_mode); }},
      {"is_official_business_account",
       [&](json::Writer& w) { w.field("is_official_business_account", n.is_official_business_account); }},
      {"is_on_biz_app", [&](json::Writer& w) { w.field("is_on_biz_app", n.is_on_biz_app); }},
      {"platform_type", [&](json::Writer& w) { w.field("platform_type", n.platform_type); }},
      {"throughput",
       [&](json::Writer& w) { w.key("throughput").begin_object().field("level", n.throughput_level).end_object(); }},
      {"health_status",
       [&](json::Writer& w) {
         w.key("health_status").begin_object().field("can_send_message", n.health_can_send_message);
         w.key("entities").begin_array().begin_object();
         w.field("entity_type", "PHONE_NUMBER").field("id", options.phone_number_id);
         w.field("can_send_message", n.health_can_send_message);
         w.end_object().end_array().end_object();
       }},
  };
  std::vector<std::string> fields = field_list(t);
  if (fields.empty()) {
    // Graph's default fields for a phone number (restfb's default-response sample).
    fields = {"verified_name", "code_verification_status", "display_phone_number", "quality_rating", "platform_type",
              "throughput"};
  }
  for (const auto& name : fields) {
    if (std::none_of(known.begin(), known.end(), [&](const auto& k) { return name == k.first; }))
      return fail(nonexisting_field(name, "WhatsAppBusinessPhoneNumber"));
  }
  json::Writer w;
  w.begin_object();
  for (const auto& [name, write] : known) {
    if (std::string_view(name) == "id") continue;
    if (std::find(fields.begin(), fields.end(), name) != fields.end()) write(w);
  }
  w.field("id", options.phone_number_id);
  w.end_object();
  return json_response(200, w.str());
}

// The checks every /{group-id}... route shares, in Meta's likely order: eligibility, the rate
// limit (group operations only), then the group itself.
HttpResponse Engine::group_route(const HttpRequest& r, const Target& t, std::int64_t now_s, bool counts,
                                 GroupHandler h) {
  if (!eligible()) return fail(not_eligible());
  if (counts) {
    if (auto limited = take_group_op(now_s)) return fail(*limited);
  }
  GroupState* g = active_group(t.segments[0]);
  if (!g) return fail(group_unknown());
  return (this->*h)(*g, r, t, now_s);
}

std::optional<int> Engine::page_limit(const Target& t, Failure& f) const {
  const auto raw = t.param("limit");
  if (!raw) return kDefaultPageSize;
  const auto v = json::parse_int64(*raw);
  if (!v || *v < limits::list_limit_min || *v > limits::list_limit_max) {
    f = invalid_parameter("limit must be an integer from 1 to 1024");
    return std::nullopt;
  }
  return static_cast<int>(*v);
}

// --- groups ------------------------------------------------------------------------------------
HttpResponse Engine::create_group(const HttpRequest& r, std::int64_t now_s) {
  if (!eligible()) return fail(not_eligible());
  if (auto limited = take_group_op(now_s)) return fail(*limited);
  json::Document doc;
  Failure f;
  if (!parse_json_body(r, doc, f)) return fail(f);
  if (auto bad = check_messaging_product(doc, true)) return fail(*bad);
  const auto subject = json::get_string(doc, "subject");
  if (!subject) return fail(missing_parameter("subject is required"));
  const std::string trimmed = trim_blanks(*subject);
  if (auto bad = check_subject(trimmed)) return fail(*bad);
  const auto description = json::get_string(doc, "description");
  if (description) {
    if (auto bad = check_description(*description)) return fail(*bad);
  }
  JoinApprovalMode mode = JoinApprovalMode::auto_approve;
  if (const auto m = json::get_string(doc, "join_approval_mode")) {
    const auto parsed = parse_join_approval_mode(*m);
    if (!parsed) return fail(invalid_parameter("join_approval_mode must be approval_required or auto_approve"));
    mode = *parsed;
  }
  if (s.creation_disabled) {
    return fail(failure(400, graph_codes::group_creation_disabled, "Group creation is temporarily disabled",
                        "Group creation is temporarily disabled due to excessive marketing messages sent by the WABA "
                        "in customer service window over the past 7 days."));
  }
  if (static_cast<int>(active_groups()) >= options.max_groups) {
    return fail(failure(400, graph_codes::group_create_limit, "Group create limit reached",
                        "Reached the limit for the maximum number of groups that can be created for this number."));
  }
  json::Writer answer;
  if (options.async_failures.group_create) {
    // Accepted now, refused in the webhook: Meta's failure sample still names a group id, but no
    // group exists and no invite link is given.
    const std::string gid = new_group_id();
    const std::string rid = request_id();
    const std::string subject_text = trimmed;
    queue("group_lifecycle_update", nullptr, [&](json::Writer& w, bool variant) {
      w.key("groups").begin_array().begin_object();
      w.key("timestamp");
      if (variant) w.integer(now_s);
      else w.string(std::to_string(now_s));
      w.field("type", "group_create");
      w.field("subject", subject_text);
      w.optional_field("description", description);
      w.field("request_id", rid);
      w.field("group_id", gid);
      w.key("errors").begin_array();
      write_item_error(w, simulated(options.async_failures.error));
      w.end_array();
      w.end_object().end_array();
    });
    answer.begin_object().field("messaging_product", "whatsapp").field("request_id", rid).end_object();
    return json_response(200, answer.str());
  }
  GroupState g;
  g.group_id = new_group_id();
  g.seq = ++s.group_seq;
  g.subject = trimmed;
  g.description = description;
  g.join_approval_mode = mode;
  g.invite_link = new_invite_link();
  g.creation_timestamp = now_s;
  const std::string rid = request_id();
  s.groups.push_back(std::move(g));
  s.by_id[s.groups.back().group_id] = s.groups.size() - 1;
  const GroupState& created = s.groups.back();
  queue_group_event("group_lifecycle_update", nullptr, created, now_s, "group_create", nullptr, [&](json::Writer& w) {
    w.field("request_id", rid);
    w.field("subject", created.subject);
    if (created.description) w.field("description", *created.description);
    w.field("invite_link", created.invite_link);
    w.field("join_approval_mode", to_string(created.join_approval_mode));
  });
  // Create is the one asynchronous call whose answer Meta documents with a request_id.
  answer.begin_object().field("messaging_product", "whatsapp").field("request_id", rid).end_object();
  return json_response(200, answer.str());
}

HttpResponse Engine::list_groups(const Target& t) {
  if (!eligible()) return fail(not_eligible());
  Failure f;
  const auto limit = page_limit(t, f);
  if (!limit) return fail(f);
  std::vector<const GroupState*> active;
  for (const auto& g : s.groups) {
    if (!g.deleted) active.push_back(&g);
  }
  auto seq_of = [](const GroupState* g) { return g->seq; };
  const auto bounds = page_bounds(active, t, *limit, seq_of, f);
  if (!bounds) return fail(f);
  json::Writer w;
  w.begin_object();
  w.key("data").begin_object().key("groups").begin_array();
  for (std::size_t i = bounds->first; i < bounds->second; ++i) {
    const GroupState& g = *active[i];
    w.begin_object();
    w.field("id", g.group_id);
    w.field("subject", g.subject);
    w.field("created_at", std::to_string(g.creation_timestamp));
    w.end_object();
  }
  w.end_array().end_object();
  write_paging(w, active, bounds->first, bounds->second, *limit, seq_of,
               t.origin + "/" + t.version + "/" + options.phone_number_id + "/groups");
  w.end_object();
  return json_response(200, w.str());
}

HttpResponse Engine::group_info(GroupState& g, const HttpRequest&, const Target& t, std::int64_t) {
  const std::vector<std::string> fields = field_list(t);
  static constexpr const char* kKnown[] = {"id",          "messaging_product",  "subject",
                                           "description", "participants",       "total_participant_count",
                                           "suspended",   "creation_timestamp", "join_approval_mode"};
  for (const auto& name : fields) {
    if (std::none_of(std::begin(kKnown), std::end(kKnown), [&](const char* k) { return name == k; }))
      return fail(nonexisting_field(name, "WhatsAppGroup"));
  }
  auto wants = [&](const char* name) { return std::find(fields.begin(), fields.end(), name) != fields.end(); };
  json::Writer w;
  w.begin_object();
  w.field("messaging_product", "whatsapp");
  w.field("id", g.group_id);
  if (wants("subject")) w.field("subject", g.subject);
  if (wants("description") && g.description) w.field("description", *g.description);
  if (wants("join_approval_mode")) w.field("join_approval_mode", to_string(g.join_approval_mode));
  if (wants("suspended")) w.field("suspended", g.suspended);
  if (wants("creation_timestamp")) w.field("creation_timestamp", g.creation_timestamp);
  if (wants("participants")) {
    w.key("participants").begin_array();
    for (const auto& m : g.members) {
      if (!m.joined) continue;
      w.begin_object();
      write_identity(w, m.person);
      w.end_object();
    }
    w.end_array();
  }
  if (wants("total_participant_count")) w.field("total_participant_count", static_cast<std::int64_t>(g.joined_count()));
  w.end_object();
  return json_response(200, w.str());
}

HttpResponse Engine::update_settings(GroupState& g, const HttpRequest& r, const Target&, std::int64_t now_s) {
  if (g.suspended) return fail(group_suspended());
  std::optional<std::string> subject, description, picture;
  const auto content_type = r.header("Content-Type");
  if (content_type &&
      text::iequals_ascii(text::trim_ascii(content_type->substr(0, content_type->find(';'))), "multipart/form-data")) {
    // Meta's multipart form is the picture upload: `messaging_product` and `file`, nothing else.
    // Whether subject or description may ride along is undocumented; the simulator refuses them
    // (100) so that a client relying on it fails here rather than against Meta.
    auto parts = parse_multipart(*content_type, r.body);
    if (!parts) return fail(invalid_parameter("the multipart/form-data body could not be read"));
    bool product = false;
    for (auto& part : *parts) {
      if (part.name == "messaging_product") {
        if (part.content != "whatsapp") return fail(invalid_parameter("messaging_product must be \"whatsapp\""));
        product = true;
      } else if (part.name == "file") {
        if (picture) return fail(invalid_parameter("a multipart body carries one file part"));
        picture = std::move(part.content);
      } else if (part.name == "subject" || part.name == "description") {
        return fail(invalid_parameter(part.name + ": send subject and description as JSON; a multipart body carries "
                                                  "messaging_product and file only"));
      } else {
        return fail(invalid_parameter("unexpected multipart part '" + part.name +
                                      "': a multipart body carries messaging_product and file only"));
      }
    }
    if (!product) return fail(missing_parameter("messaging_product is required"));
    if (!picture) return fail(missing_parameter("file (the profile picture) is required in a multipart body"));
  } else {
    json::Document doc;
    Failure f;
    if (!parse_json_body(r, doc, f)) return fail(f);
    if (auto bad = check_messaging_product(doc, true)) return fail(*bad);
    // A local path names a file on the sender's disk, which Meta cannot read over HTTP.
    if (json::member(doc, "profile_picture_file"))
      return fail(
          invalid_parameter("profile_picture_file: upload the picture as multipart/form-data with a file part"));
    subject = json::get_string(doc, "subject");
    description = json::get_string(doc, "description");
  }
  if (!subject && !description && !picture)
    return fail(missing_parameter("at least one of subject, description or file is required"));
  if (subject) {
    *subject = trim_blanks(*subject);
    if (auto bad = check_subject(*subject)) return fail(*bad);
  }
  if (description) {
    if (auto bad = check_description(*description)) return fail(*bad);
  }
  std::string picture_hash;
  if (picture) {
    if (auto bad = check_picture(*picture)) return fail(*bad);
    auto hash = sha256_base64(*picture);
    if (!hash) return fail(failure(500, 1, "An unknown error occurred", "sandbox: SHA-256 of the picture failed"));
    picture_hash = std::move(*hash);
  }
  // Accepted; what the webhook then reports per setting may be a failure (async_failures).
  const AsyncFailures& fails = options.async_failures;
  const Failure setting_error = simulated(fails.error);
  const bool subject_ok = !fails.group_subject, description_ok = !fails.group_description,
             picture_ok = !fails.profile_picture;
  if (subject && subject_ok) g.subject = *subject;
  if (description && description_ok) g.description = *description;
  if (picture && picture_ok) g.picture_sha256 = picture_hash;
  const bool any_failed = (subject && !subject_ok) || (description && !description_ok) || (picture && !picture_ok);
  auto outcome = [&](json::Writer& w, bool ok) {
    w.field("update_successful", ok);
    if (!ok) {
      w.key("errors").begin_array();
      write_item_error(w, setting_error);
      w.end_array();
    }
  };
  const std::string rid = request_id();
  queue_group_event("group_settings_update", nullptr, g, now_s, "group_settings_update", nullptr, [&](json::Writer& w) {
    w.field("request_id", rid);
    if (picture) {
      w.key("profile_picture").begin_object();
      w.field("mime_type", "image/jpeg");
      w.field("sha256", picture_hash);
      outcome(w, picture_ok);
      w.end_object();
    }
    if (subject) {
      w.key("group_subject").begin_object().field("text", *subject);
      outcome(w, subject_ok);
      w.end_object();
    }
    if (description) {
      w.key("group_description").begin_object().field("text", *description);
      outcome(w, description_ok);
      w.end_object();
    }
    if (any_failed) {
      w.key("errors").begin_array();
      write_item_error(w, setting_error);
      w.end_array();
    }
  });
  if (documented_answers()) return empty_response(200);  // Meta documents no body
  json::Writer w;
  w.begin_object().field("messaging_product", "whatsapp").field("request_id", rid).field("success", true).end_object();
  return json_response(200, w.str());
}

HttpResponse Engine::delete_group(GroupState& g, const HttpRequest&, const Target&, std::int64_t now_s) {
  const std::string rid = request_id();
  const bool fails = options.async_failures.group_delete;
  if (!fails) {
    g.deleted = true;
    g.invite_link.clear();
    g.members.clear();
    g.pinned.clear();
  }
  queue_group_event("group_lifecycle_update", nullptr, g, now_s, "group_delete", nullptr, [&](json::Writer& w) {
    w.field("request_id", rid);
    if (fails) {
      w.key("errors").begin_array();
      write_item_error(w, simulated(options.async_failures.error));
      w.end_array();
    }
  });
  json::Writer w;
  w.begin_object().field("success", true);
  if (!documented_answers()) w.field("request_id", rid);
  w.end_object();
  return json_response(200, w.str());
}

}  // namespace sim
}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
