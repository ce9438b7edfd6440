// Graph routes, part two: who is in a group. The invite link, join requests (list, approve,
// reject) and the business removing participants, with Meta's per-item answers: a call that
// partly succeeds lists what failed and why, item by item, as Meta's samples do.

#include <algorithm>

#include "sandbox/simulator_engine.hpp"
#include "util/text.hpp"
#include "wagroups/graph_codes.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sandbox {
namespace sim {

// --- invite link -------------------------------------------------------------------------------
HttpResponse Engine::invite_link_answer(const GroupState& g) {
  json::Writer w;
  w.begin_object().field("messaging_product", "whatsapp").field("invite_link", g.invite_link).end_object();
  return json_response(200, w.str());
}
HttpResponse Engine::get_invite_link(GroupState& g, const HttpRequest&, const Target&, std::int64_t) {
  if (g.suspended) return fail(group_suspended());
  if (g.invite_link.empty()) g.invite_link = new_invite_link();  // a group always has a way in
  return invite_link_answer(g);
}
HttpResponse Engine::reset_invite_link(GroupState& g, const HttpRequest&, const Target&, std::int64_t) {
  if (g.suspended) return fail(group_suspended());
  g.invite_link = new_invite_link();
  return invite_link_answer(g);
}
HttpResponse Engine::delete_invite_link(GroupState& g, const HttpRequest&, const Target&, std::int64_t) {
  g.invite_link.clear();
  json::Writer w;
  // The OpenAPI spec types `success` here as the string "true".
  w.begin_object().field("messaging_product", "whatsapp").field("success", "true").end_object();
  return json_response(200, w.str());
}

// --- join requests -----------------------------------------------------------------------------
HttpResponse Engine::list_join_requests(GroupState& g, const HttpRequest&, const Target& t, std::int64_t) {
  Failure f;
  const auto limit = page_limit(t, f);
  if (!limit) return fail(f);
  std::vector<const MemberState*> pending;
  for (const auto& m : g.members) {
    if (!m.joined) pending.push_back(&m);
  }
  std::sort(pending.begin(), pending.end(), [](const MemberState* a, const MemberState* b) { return a->seq < b->seq; });
  auto seq_of = [](const MemberState* m) { return m->seq; };
  const auto bounds = page_bounds(pending, t, *limit, seq_of, f);
  if (!bounds) return fail(f);
  json::Writer w;
  w.begin_object();
  w.key("data").begin_array();
  for (std::size_t i = bounds->first; i < bounds->second; ++i) {
    const MemberState& m = *pending[i];
    w.begin_object();
    w.field("join_request_id", m.join_request_id.value_or(""));
    write_identity(w, m.person);
    w.field("creation_timestamp", m.since);
    w.end_object();
  }
  w.end_array();
  write_paging(w, pending, bounds->first, bounds->second, *limit, seq_of,
               t.origin + "/" + t.version + "/" + g.group_id + "/join_requests");
  w.end_object();
  return json_response(200, w.str());
}

std::optional<Failure> Engine::read_join_request_ids(const HttpRequest& r, std::vector<std::string>& ids) {
  json::Document doc;
  Failure f;
  if (!parse_json_body(r, doc, f)) return f;
  if (auto bad = check_messaging_product(doc, true)) return bad;
  const json::Value* list = json::get_array(doc, "join_requests");
  if (!list || list->Empty()) return missing_parameter("join_requests must list at least one join request id");
  for (const auto& item : list->GetArray()) {
    auto id = json::as_string(item);
    if (!id || id->empty()) return invalid_parameter("join_requests must hold join request ids");
    ids.push_back(std::move(*id));
  }
  return std::nullopt;
}

MemberState* Engine::pending_request(GroupState& g, const std::string& id) {
  for (auto& m : g.members) {
    if (!m.joined && m.join_request_id && *m.join_request_id == id) return &m;
  }
  return nullptr;
}

HttpResponse Engine::join_requests_answer(const char* key, const std::vector<std::string>& done,
                                          const std::vector<std::pair<std::string, Failure>>& failed) {
  json::Writer w;
  w.begin_object();
  w.field("messaging_product", "whatsapp");
  w.key(key).begin_array();
  for (const auto& id : done) w.string(id);
  w.end_array();
  if (failed.empty()) {
    w.end_object();
    return json_response(200, w.str());
  }
  // Meta's sample: `failed_join_requests` item by item, and an `errors[]` beside them; 131201 is
  // the code Meta lists (with HTTP 206) for a request where not every item succeeded.
  w.key("failed_join_requests").begin_array();
  for (const auto& [id, why] : failed) {
    w.begin_object().field("join_request_id", id).key("errors").begin_array();
    write_item_error(w, why);
    w.end_array().end_object();
  }
  w.end_array();
  w.key("errors").begin_array();
  write_item_error(w, failure(206, graph_codes::partial_success, "Request partially succeeded",
                              "Not all participant-level operations in the request succeeded."));
  w.end_array();
  w.end_object();
  return json_response(206, w.str());
}

HttpResponse Engine::approve_join_requests(GroupState& g, const HttpRequest& r, const Target&, std::int64_t now_s) {
  if (g.suspended) return fail(group_suspended());
  std::vector<std::string> ids;
  if (auto bad = read_join_request_ids(r, ids)) return fail(*bad);
  std::vector<std::string> approved;
  std::vector<std::pair<std::string, Failure>> failed;
  std::vector<Person> added;
  for (const auto& id : ids) {
    MemberState* m = pending_request(g, id);
    if (!m) {
      failed.emplace_back(id, join_request_missing());
    } else if (full(g)) {
      failed.emplace_back(id, participant_overlimit());
    } else {
      m->joined = true;
      m->since = now_s;
      approved.push_back(id);
      added.push_back(m->person);
    }
  }
  if (!added.empty()) queue_added(g, now_s, added, true);
  return join_requests_answer("approved_join_requests", approved, failed);
}

HttpResponse Engine::reject_join_requests(GroupState& g, const HttpRequest& r, const Target&, std::int64_t) {
  std::vector<std::string> ids;
  if (auto bad = read_join_request_ids(r, ids)) return fail(*bad);
  std::vector<std::string> rejected;
  std::vector<std::pair<std::string, Failure>> failed;
  for (const auto& id : ids) {
    if (MemberState* m = pending_request(g, id)) {
      g.members.erase(g.members.begin() + (m - g.members.data()));
      rejected.push_back(id);
    } else {
      failed.emplace_back(id, join_request_missing());
    }
  }
  return join_requests_answer("rejected_join_requests", rejected, failed);  // Meta sends no webhook
}

// --- participants ------------------------------------------------------------------------------
HttpResponse Engine::remove_participants(GroupState& g, const HttpRequest& r, const Target&, std::int64_t now_s) {
  json::Document doc;
  Failure f;
  if (!parse_json_body(r, doc, f)) return fail(f);
  if (auto bad = check_messaging_product(doc, true)) return fail(*bad);
  const json::Value* list = json::get_array(doc, "participants");
  if (!list || list->Empty()) return fail(missing_parameter("participants must name at least one participant"));
  if (list->Size() > kMaxRemovePerCall) return fail(invalid_parameter("participants must name at most 8 participants"));
  std::vector<std::string> inputs;
  for (const auto& item : list->GetArray()) {
    auto user = item.IsObject() ? json::get_string(item, "user") : json::as_string(item);
    if (!user || text::trim_ascii(*user).empty()) return fail(missing_parameter("participants[].user is required"));
    inputs.emplace_back(text::trim_ascii(*user));
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const bool same = inputs[i] == inputs[j] || (looks_like_phone(inputs[i]) && looks_like_phone(inputs[j]) &&
                                                   digits_of(inputs[i]) == digits_of(inputs[j]));
      if (same)
        return fail(failure(400, graph_codes::duplicate_participant, "Duplicate participant",
                            "Duplicate participants in the participant array input."));
    }
  }
  std::vector<std::string> removed, failed;
  for (const auto& input : inputs) {
    auto it = std::find_if(g.members.begin(), g.members.end(),
                           [&](const MemberState& m) { return m.joined && names_person(input, m.person); });
    if (it == g.members.end()) {
      failed.push_back(input);
      continue;
    }
    g.removed.push_back(it->person);
    g.members.erase(it);
    removed.push_back(input);
  }
  if (removed.empty()) return fail(not_in_group());
  const std::string rid = request_id();
  const Failure partial = failure(206, graph_codes::partial_success, "Request partially succeeded",
                                  "Not all participant-level operations in the request succeeded.");
  auto write_lists = [&](json::Writer& w) {
    w.key("removed_participants").begin_array();
    for (const auto& input : removed) w.begin_object().field("input", input).end_object();
    w.end_array();
    if (!failed.empty()) {
      w.key("failed_participants").begin_array();
      for (const auto& input : failed) {
        w.begin_object().field("input", input).key("errors").begin_array();
        write_item_error(w, not_in_group());
        w.end_array().end_object();
      }
      w.end_array();
    }
  };
  queue_participants_event(g, now_s, "group_participants_remove", "group_remove_participants", [&](json::Writer& w) {
    w.field("request_id", rid);
    w.field("initiated_by", "business");
    write_lists(w);
    if (!failed.empty()) {
      w.key("errors").begin_array();
      write_item_error(w, partial);
      w.end_array();
    }
  });
  json::Writer w;
  w.begin_object();
  if (failed.empty()) {
    if (documented_answers()) return empty_response(200);  // Meta documents no body
    w.field("success", true).field("request_id", rid).end_object();
    return json_response(200, w.str());
  }
  // Partial: Meta documents 206 with 131201 and no body; the simulator reports the envelope and
  // the per-participant lists (the webhook carries the same).
  write_error_member(w, partial, fbtrace_id());
  if (!documented_answers()) w.field("request_id", rid);
  write_lists(w);
  w.end_object();
  return json_response(206, w.str());
}

}  // namespace sim
}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
