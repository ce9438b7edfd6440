// Graph routes, part one: the router every request goes through, the checks all group routes
// share, Graph paging, and the group itself (create, list, info, settings, delete). Membership
// routes are in simulator_graph_members.cpp, sends in simulator_graph_messages.cpp.
//
// The router answers what Graph answers for a path it does not serve (404, code 100, subcode 33),
// so a Client calling a wrong path fails here as it would against Meta.

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
  const char* method = to_string(r.method);
  std::string path;
  for (const auto& seg : t.segments) path += "/" + seg;
  if (path.empty()) path = "/";
  const auto& seg = t.segments;
  if (seg.size() == 2 && (seg[1] == "groups" || seg[1] == "messages")) {
    if (seg[0] != options.phone_number_id) {
      Failure f = failure(400, 100, std::string("Unsupported ") + method + " request",
                          "Object with ID '" + seg[0] +
                              "' does not exist, cannot be loaded due to missing "
                              "permissions, or does not support this operation.");
      f.type = "GraphMethodException";
      f.subcode = 33;
      return fail(f);
    }
    if (seg[1] == "groups" && r.method == HttpMethod::post) return create_group(r, now_s);
    if (seg[1] == "groups" && r.method == HttpMethod::get) return list_groups(t);
    if (seg[1] == "messages" && r.method == HttpMethod::post) return send_message(r, now_s);
    return fail(unknown_route(method, path));
  }
  if (seg.size() == 1 && seg[0] != options.phone_number_id) {
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
  return fail(unknown_route(method, path));
}

// The checks every /{group-id}... route shares, in Meta's likely order: eligibility, the rate
// limit (group operations only), then the group itself.
HttpResponse Engine::group_route(const HttpRequest& r, const Target& t, std::int64_t now_s, bool counts,
                                 GroupHandler h) {
  if (!s.eligible) return fail(not_eligible());
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
  if (!s.eligible) return fail(not_eligible());
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
  if (static_cast<int>(active_groups()) >= options.max_groups) {
    return fail(failure(400, graph_codes::group_create_limit, "Group create limit reached",
                        "Reached the limit for the maximum number of groups that can be created for this number."));
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
  json::Writer w;
  w.begin_object().field("messaging_product", "whatsapp").field("request_id", rid).end_object();
  return json_response(200, w.str());
}

HttpResponse Engine::list_groups(const Target& t) {
  if (!s.eligible) return fail(not_eligible());
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
  std::vector<std::string> fields;
  if (auto list = t.param("fields")) {
    std::string_view rest = *list;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const std::string_view name = text::trim_ascii(rest.substr(0, comma));
      if (!name.empty()) fields.emplace_back(name);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  static constexpr const char* kKnown[] = {"id",          "messaging_product",  "subject",
                                           "description", "participants",       "total_participant_count",
                                           "suspended",   "creation_timestamp", "join_approval_mode"};
  for (const auto& name : fields) {
    if (std::none_of(std::begin(kKnown), std::end(kKnown), [&](const char* k) { return name == k; }))
      return fail(invalid_parameter("Tried accessing nonexisting field (" + name + ") on node type (WhatsAppGroup)"));
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
    auto parts = parse_multipart(*content_type, r.body);
    if (!parts) return fail(invalid_parameter("the multipart/form-data body could not be read"));
    for (auto& part : *parts) {
      if (part.name == "messaging_product" && part.content != "whatsapp")
        return fail(invalid_parameter("messaging_product must be \"whatsapp\""));
      if (part.name == "subject") subject = std::move(part.content);
      else if (part.name == "description") description = std::move(part.content);
      else if (part.name == "file") picture = std::move(part.content);
    }
  } else {
    json::Document doc;
    Failure f;
    if (!parse_json_body(r, doc, f)) return fail(f);
    if (auto bad = check_messaging_product(doc, true)) return fail(*bad);
    subject = json::get_string(doc, "subject");
    description = json::get_string(doc, "description");
    if (json::member(doc, "profile_picture_file"))
      return fail(
          invalid_parameter("profile_picture_file: upload the picture as multipart/form-data with a file part"));
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
    picture_hash = sha256_base64(*picture);
  }
  if (subject) g.subject = *subject;
  if (description) g.description = *description;
  if (picture) g.picture_sha256 = picture_hash;
  const std::string rid = request_id();
  queue_group_event("group_settings_update", nullptr, g, now_s, "group_settings_update", nullptr, [&](json::Writer& w) {
    w.field("request_id", rid);
    if (picture) {
      w.key("profile_picture").begin_object();
      w.field("mime_type", "image/jpeg");
      w.field("sha256", picture_hash);
      w.field("update_successful", true);
      w.end_object();
    }
    if (subject)
      w.key("group_subject").begin_object().field("text", *subject).field("update_successful", true).end_object();
    if (description)
      w.key("group_description")
          .begin_object()
          .field("text", *description)
          .field("update_successful", true)
          .end_object();
  });
  json::Writer w;
  w.begin_object().field("messaging_product", "whatsapp").field("request_id", rid).field("success", true).end_object();
  return json_response(200, w.str());
}

HttpResponse Engine::delete_group(GroupState& g, const HttpRequest&, const Target&, std::int64_t now_s) {
  g.deleted = true;
  g.invite_link.clear();
  g.members.clear();
  g.pinned.clear();
  const std::string rid = request_id();
  queue_group_event("group_lifecycle_update", nullptr, g, now_s, "group_delete", nullptr,
                    [&](json::Writer& w) { w.field("request_id", rid); });
  json::Writer w;
  w.begin_object().field("success", true).field("request_id", rid).end_object();
  return json_response(200, w.str());
}

}  // namespace sim
}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
