// The people's side: what customers do in WhatsApp, which Meta's API never exposes but the
// business sees through webhooks (joining by invite link, asking to join, leaving, writing in the
// group), plus Meta's own moves on a group (suspending it). These calls answer the SDK's Result,
// with Graph-shaped errors where Meta would have had a code for the refusal.

#include <algorithm>
#include <iterator>
#include <mutex>

#include "sandbox/simulator_engine.hpp"
#include "wagroups/graph_codes.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sandbox {
namespace sim {

namespace {

std::optional<Error> check_person(const Person& p) {
  if (p.phone.empty() && (!p.user_id || p.user_id->empty()))
    return Error::invalid_argument("person", "a phone number or a user_id",
                                   "a simulated person needs a phone or a BSUID");
  if (!p.phone.empty() && !looks_like_phone(p.phone))
    return Error::invalid_argument("person.phone", "digits", "a simulated person's phone must be digits");
  return std::nullopt;
}

Person normalized(Person p) {
  p.phone = digits_of(p.phone);
  return p;
}

}  // namespace

std::string digits_of(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c >= '0' && c <= '9') out += c;
  }
  return out;
}

// A phone as people type it ("+1 555-010 0101"): digits and the usual punctuation only.
bool looks_like_phone(std::string_view s) {
  bool digit = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') digit = true;
    else if (c != '+' && c != ' ' && c != '-' && c != '(' && c != ')' && c != '.') return false;
  }
  return digit;
}

bool same_person(const Person& a, const Person& b) {
  if (!a.phone.empty() && a.phone == b.phone) return true;
  return a.user_id && b.user_id && *a.user_id == *b.user_id;
}

// Whether what the business typed in a removal (`participants[].user`) names this person.
bool names_person(const std::string& input, const Person& p) {
  if (p.user_id && input == *p.user_id) return true;
  return !p.phone.empty() && looks_like_phone(input) && digits_of(input) == p.phone;
}

// --- people ------------------------------------------------------------------------------------
Result<void> Engine::join_by_link(const std::string& link, const Person& who) {
  if (auto bad = check_person(who)) return *bad;
  const Person p = normalized(who);
  std::lock_guard<std::mutex> lock(mutex);
  GroupState* g = nullptr;
  if (!link.empty()) {
    for (auto& candidate : s.groups) {
      if (!candidate.deleted && candidate.invite_link == link) g = &candidate;
    }
  }
  if (!g)
    return Error::invalid_argument("invite_link", "the current invite link of an existing group",
                                   "this invite link is unknown, was reset or deleted, or its group is gone");
  if (g->suspended) return to_error(group_suspended());
  if (std::any_of(g->removed.begin(), g->removed.end(), [&](const Person& r) { return same_person(r, p); }))
    return Error::invalid_argument("person", "not removed from the group by the business",
                                   "someone the business removed can no longer join by invite link");
  if (g->find_member(p, true)) return Error::invalid_argument("person", "not already a member", "already a member");
  if (g->find_member(p, false))
    return Error::invalid_argument("person", "no pending join request", "this person's join request is pending");
  const std::int64_t t = now();
  MemberState m;
  m.person = p;
  m.since = t;
  if (g->join_approval_mode == JoinApprovalMode::approval_required) {
    m.join_request_id = new_join_request_id(p);
    m.seq = s.join_request_seq;
    g->members.push_back(m);
    queue_join_request_event(*g, t, "group_join_request_created", m);
    return signed_or_error();
  }
  if (full(*g)) return to_error(participant_overlimit());
  m.joined = true;
  g->members.push_back(m);
  queue_added(*g, t, {p}, false);
  return signed_or_error();
}

Result<void> Engine::cancel_join_request(const std::string& group_id, const Person& who) {
  if (auto bad = check_person(who)) return *bad;
  const Person p = normalized(who);
  std::lock_guard<std::mutex> lock(mutex);
  GroupState* g = active_group(group_id);
  if (!g) return to_error(group_unknown());
  MemberState* m = g->find_member(p, false);
  if (!m) return to_error(join_request_missing());
  const MemberState copy = *m;
  g->members.erase(g->members.begin() + (m - g->members.data()));
  queue_join_request_event(*g, now(), "group_join_request_revoked", copy);
  return signed_or_error();
}

Result<void> Engine::leave(const std::string& group_id, const Person& who) {
  if (auto bad = check_person(who)) return *bad;
  const Person p = normalized(who);
  std::lock_guard<std::mutex> lock(mutex);
  GroupState* g = active_group(group_id);
  if (!g) return to_error(group_unknown());
  MemberState* m = g->find_member(p, true);
  if (!m) return to_error(not_in_group());
  const Person gone = m->person;
  g->members.erase(g->members.begin() + (m - g->members.data()));
  queue_participants_event(*g, now(), "group_participants_remove", "group_remove_participants", [&](json::Writer& w) {
    w.field("initiated_by", "participant");
    w.key("removed_participants").begin_array().begin_object();
    write_identity(w, gone);
    w.end_object().end_array();
  });
  return signed_or_error();
}

Result<Engine::InboundSender> Engine::inbound_sender(const std::string& group_id, const Person& p) {
  GroupState* g = active_group(group_id);
  if (!g) return to_error(group_unknown());
  if (g->suspended) return to_error(group_suspended());
  const MemberState* m = g->find_member(p, true);
  if (!m) return to_error(not_in_group());
  return InboundSender{g, m};
}

Result<std::string> Engine::send_text(const std::string& group_id, const Person& who, const std::string& body) {
  if (auto bad = check_person(who)) return *bad;
  if (body.empty()) return Error::invalid_argument("text", "non-empty", "a message needs a text");
  const Person p = normalized(who);
  std::lock_guard<std::mutex> lock(mutex);
  auto sender = inbound_sender(group_id, p);
  if (!sender) return sender.error();
  GroupState* g = sender->group;
  const MemberState* m = sender->member;
  const std::string wamid = sender_message_id(p);
  g->message_ids.push_back(wamid);
  queue_inbound_text(m->person, g->group_id, wamid, body, now());
  if (auto e = signed_or_error(); !e) return e.error();
  return wamid;
}

Result<std::string> Engine::send_direct_text(const Person& who, const std::string& body) {
  if (auto bad = check_person(who)) return *bad;
  if (body.empty()) return Error::invalid_argument("text", "non-empty", "a message needs a text");
  const Person p = normalized(who);
  std::lock_guard<std::mutex> lock(mutex);
  const std::string wamid = sender_message_id(p);
  queue_inbound_text(p, std::nullopt, wamid, body, now());
  if (auto e = signed_or_error(); !e) return e.error();
  return wamid;
}

Result<std::string> Engine::send_media(const std::string& group_id, const Person& who, const InboundMedia& media) {
  if (auto bad = check_person(who)) return *bad;
  static constexpr const char* kTypes[] = {"image", "video", "audio", "document", "sticker"};
  if (std::none_of(std::begin(kTypes), std::end(kTypes), [&](const char* k) { return media.type == k; }))
    return Error::invalid_argument("media.type", "image, video, audio, document or sticker",
                                   "Groups carry these media types only");
  if (media.mime_type.empty()) return Error::invalid_argument("media.mime_type", "non-empty", "a media needs its type");
  const bool takes_caption = media.type == "image" || media.type == "video" || media.type == "document";
  if (media.caption && !takes_caption)
    return Error::invalid_argument("media.caption", "image, video or document", "only these media take a caption");
  if (media.filename && media.type != "document")
    return Error::invalid_argument("media.filename", "a document", "only a document has a file name");
  const Person p = normalized(who);
  std::lock_guard<std::mutex> lock(mutex);
  auto sender = inbound_sender(group_id, p);
  if (!sender) return sender.error();
  GroupState* g = sender->group;
  const MemberState* m = sender->member;
  const std::string wamid = sender_message_id(p);
  // A media id as Meta gives one (digits), and the sha256 of bytes the simulator never has: a
  // digest of the id, base64 like Meta's.
  const std::string media_id = std::to_string(1000000000000000ull + draw() % 9000000000000000ull);
  auto digest = sha256_base64(media_id);
  if (!digest) return to_error(failure(500, 1, "An unknown error occurred", "sandbox: SHA-256 failed"));
  g->message_ids.push_back(wamid);
  queue_inbound(m->person, g->group_id, wamid, now(), [&](json::Writer& w) {
    w.key(media.type).begin_object();
    if (media.caption) w.field("caption", *media.caption);
    if (media.filename) w.field("filename", *media.filename);
    w.field("mime_type", media.mime_type);
    w.field("sha256", *digest);
    w.field("id", media_id);
    w.end_object();
    w.field("type", media.type);
  });
  if (auto e = signed_or_error(); !e) return e.error();
  return wamid;
}

Result<std::string> Engine::send_unsupported(const std::string& group_id, const Person& who) {
  if (auto bad = check_person(who)) return *bad;
  const Person p = normalized(who);
  std::lock_guard<std::mutex> lock(mutex);
  auto sender = inbound_sender(group_id, p);
  if (!sender) return sender.error();
  GroupState* g = sender->group;
  const MemberState* m = sender->member;
  const std::string wamid = sender_message_id(p);
  g->message_ids.push_back(wamid);
  // Meta's "Receive unsupported group message" sample, word for word where it is not a placeholder.
  queue_inbound(m->person, g->group_id, wamid, now(), [&](json::Writer& w) {
    w.key("errors").begin_array().begin_object();
    w.field("code", graph_codes::unsupported_group_message);
    w.field("message", "Message type is not currently supported");
    w.field("title", "Unsupported message type");
    w.key("error_data")
        .begin_object()
        .field("details", "Message type is not currently supported in groups.")
        .end_object();
    w.end_object().end_array();
    w.field("type", "unsupported");
  });
  if (auto e = signed_or_error(); !e) return e.error();
  return wamid;
}

Result<void> Engine::set_suspended(const std::string& group_id, bool suspended) {
  std::lock_guard<std::mutex> lock(mutex);
  GroupState* g = active_group(group_id);
  if (!g) return to_error(group_unknown());
  if (g->suspended == suspended) return {};  // nothing changes, so Meta has nothing to say
  g->suspended = suspended;
  queue_group_event("group_status_update", nullptr, *g, now(), suspended ? "group_suspend" : "group_suspend_cleared",
                    nullptr, [](json::Writer&) {});
  return signed_or_error();
}

}  // namespace sim

Result<void> Simulator::join_by_link(const std::string& invite_link, const Person& person) {
  return impl_->engine->join_by_link(invite_link, person);
}

Result<void> Simulator::cancel_join_request(const std::string& group_id, const Person& person) {
  return impl_->engine->cancel_join_request(group_id, person);
}

Result<void> Simulator::leave(const std::string& group_id, const Person& person) {
  return impl_->engine->leave(group_id, person);
}

Result<std::string> Simulator::send_text(const std::string& group_id, const Person& sender, const std::string& text) {
  return impl_->engine->send_text(group_id, sender, text);
}

Result<std::string> Simulator::send_direct_text(const Person& sender, const std::string& text) {
  return impl_->engine->send_direct_text(sender, text);
}

Result<std::string> Simulator::send_media(const std::string& group_id, const Person& sender,
                                          const InboundMedia& media) {
  return impl_->engine->send_media(group_id, sender, media);
}

Result<std::string> Simulator::send_unsupported(const std::string& group_id, const Person& sender) {
  return impl_->engine->send_unsupported(group_id, sender);
}

Result<void> Simulator::suspend(const std::string& group_id) { return impl_->engine->set_suspended(group_id, true); }

Result<void> Simulator::clear_suspension(const std::string& group_id) {
  return impl_->engine->set_suspended(group_id, false);
}

}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
