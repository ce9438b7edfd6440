// TicketAggregator: webhook events and agent actions as facts on tickets. Every rule is a join
// (commutative, associative, idempotent), so any order and any number of deliveries of one set of
// events give the same ticket; see the semantics in tickets.hpp and the rules in rules.hpp.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "client/validation.hpp"
#include "tickets/rules.hpp"
#include "util/text.hpp"
#include "wagroups/tickets.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

using namespace tickets_detail;

namespace {

std::int64_t ts_of(const WebhookContext& c) noexcept { return c.timestamp.value_or(0); }

std::optional<std::string> nonempty(const std::optional<std::string>& s) {
  if (s && !s->empty()) return s;
  return std::nullopt;
}

bool is_blank(const std::optional<std::string>& s) noexcept { return !s || s->empty(); }

// A create's subject as the client sends it (validation trims it, and the webhook echoes what was
// sent): "Order 1 " and "Order 1" are one subject. Unset when nothing is left.
std::optional<std::string> sent_subject(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  std::string trimmed = validation::trim(*s);
  if (trimmed.empty()) return std::nullopt;
  return trimmed;
}

// ---------------------------------------------------------------------------------------------
// Identities

PersonKey person_of(const Participant& p) {
  PersonKey k{nonempty(p.wa_id), nonempty(p.user_id), nonempty(p.username)};
  // `input` is what the business sent: a phone, or a BSUID ("US.123...", with a dot).
  if (p.input && !p.input->empty()) {
    if (p.input->find('.') == std::string::npos) {
      if (!k.phone) k.phone = p.input;
    } else if (!k.bsuid) {
      k.bsuid = p.input;
    }
  }
  return k;
}

PersonKey sender_of(const InboundMessage& m) { return PersonKey{nonempty(m.from), nonempty(m.from_user_id), nonempty(m.username)}; }

PersonKey recipient_of(const MessageStatusData& s) {
  return PersonKey{nonempty(s.recipient_participant_id), nonempty(s.recipient_participant_user_id), std::nullopt};
}

void join_person(PersonKey& into, const PersonKey& other) {
  join_text(into.phone, other.phone);
  join_text(into.bsuid, other.bsuid);
  join_text(into.username, other.username);
}

// ---------------------------------------------------------------------------------------------
// Event keys

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

// Every identifier the event gives, not just the canonical one: two events that name one person
// differently are different facts (one may link a phone to a BSUID), and a key shared by two
// different facts would drop one of them in some delivery orders.
std::string identity_text(const PersonKey& k) {
  std::string out;
  if (k.phone) out += *k.phone;
  out += '/';
  if (k.bsuid) out += *k.bsuid;
  out += '/';
  if (k.username) out += *k.username;
  return out;
}

void append_people(std::string& out, const std::vector<Participant>& people) {
  std::vector<std::string> keys;
  keys.reserve(people.size());
  for (const auto& p : people) keys.push_back(identity_text(person_of(p)));
  std::sort(keys.begin(), keys.end());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i) out += ',';
    out += keys[i];
  }
}

// Keys are written into a caller's buffer (reused per thread by the aggregator: one allocation
// less per event). Each returns false for events tickets do not use.

void group_key(std::string& k, const char* tag, const std::string& group_id,
               const std::optional<std::string>& request_id, const WebhookContext& ctx) {
  k += tag;
  k += '|';
  k += group_id;
  k += '|';
  if (request_id) k += *request_id;
  k += '|';
  append_int(k, ts_of(ctx));
}

void append_setting(std::string& k, const char* tag, const std::optional<SettingOutcome>& s) {
  if (!s) return;
  k += '|';
  k += tag;
  k += s->succeeded() ? '+' : '-';
  if (s->text) k += *s->text;
  if (s->sha256) k += *s->sha256;
}

bool key_of(const GroupCreated& e, std::string& k) {
  if (e.group_id.empty()) return false;
  group_key(k, "gc", e.group_id, e.request_id, e.context);
  return true;
}
bool key_of(const GroupCreateFailed& e, std::string& k) {
  group_key(k, "gf", e.group_id.value_or(""), nonempty(e.request_id), e.context);
  if (!is_blank(e.request_id)) return true;
  // Without a request id the failure is linked by (number, subject), which then names it too.
  const auto subject = sent_subject(e.subject);
  if (e.context.phone_number_id.empty() || !subject) return false;  // nothing to link it to
  k += '|';
  k += e.context.phone_number_id;
  k += '|';
  k += *subject;
  return true;
}
bool key_of(const GroupDeleted& e, std::string& k) {
  if (e.group_id.empty()) return false;
  group_key(k, "gd", e.group_id, e.request_id, e.context);
  return true;
}
bool key_of(const ParticipantsAdded& e, std::string& k) {
  if (e.group_id.empty()) return false;
  group_key(k, "pa", e.group_id, e.request_id, e.context);
  k += '|';
  append_people(k, e.added_participants);
  return true;
}
bool key_of(const ParticipantsRemoved& e, std::string& k) {
  if (e.group_id.empty()) return false;
  group_key(k, "pr", e.group_id, e.request_id, e.context);
  k += '|';
  k += e.initiated_by == RemovalInitiator::business ? 'b' : e.initiated_by == RemovalInitiator::participant ? 'p' : 'u';
  k += '|';
  append_people(k, e.removed_participants);
  k += '|';
  for (const auto& f : e.failed_participants) {
    k += identity_text(person_of(f.participant));
    k += ',';
  }
  return true;
}
template <typename JoinRequest>
bool join_request_key(const char* tag, const JoinRequest& e, std::string& k) {
  if (e.group_id.empty()) return false;
  group_key(k, tag, e.group_id, std::nullopt, e.context);
  k += '|';
  if (e.join_request_id) k += *e.join_request_id;
  k += '|';
  k += identity_text(person_of(e.requester));
  return true;
}
bool key_of(const JoinRequestCreated& e, std::string& k) { return join_request_key("jc", e, k); }
bool key_of(const JoinRequestRevoked& e, std::string& k) { return join_request_key("jr", e, k); }
bool key_of(const GroupSettingsUpdated& e, std::string& k) {
  if (e.group_id.empty()) return false;
  group_key(k, "gs", e.group_id, e.request_id, e.context);
  append_setting(k, "s", e.group_subject);
  append_setting(k, "d", e.group_description);
  append_setting(k, "p", e.profile_picture);
  return true;
}
bool key_of(const GroupSuspended& e, std::string& k) {
  if (e.group_id.empty()) return false;
  group_key(k, "su", e.group_id, std::nullopt, e.context);
  return true;
}
bool key_of(const GroupSuspensionCleared& e, std::string& k) {
  if (e.group_id.empty()) return false;
  group_key(k, "sc", e.group_id, std::nullopt, e.context);
  return true;
}
bool key_of(const GroupMessageReceived& e, std::string& k) {
  if (e.id.empty() || is_blank(e.group_id)) return false;
  k += "m|";
  k += e.id;
  return true;
}
bool key_of(const GroupMessageStatus& e, std::string& k) {
  if (e.id.empty() || is_blank(e.group_id) || e.delivery_status == DeliveryStatus::unknown) return false;
  k += "s|";
  k += e.id;
  k += '|';
  k += to_string(e.delivery_status);
  k += '|';  // the participant as identity_text(recipient_of(e)) spells it, without the copies
  if (!is_blank(e.recipient_participant_id)) k += *e.recipient_participant_id;
  k += '/';
  if (!is_blank(e.recipient_participant_user_id)) k += *e.recipient_participant_user_id;
  k += '/';
  return true;
}
bool key_of(const DirectMessageStatus& e, std::string& k) {
  if (e.id.empty() || e.delivery_status == DeliveryStatus::unknown) return false;
  k += "d|";
  k += e.id;
  k += '|';
  k += to_string(e.delivery_status);
  return true;
}
template <typename Other>
bool key_of(const Other&, std::string&) {
  return false;  // GroupDeleteFailed, 1:1 messages, unknown and custom events
}

bool build_key(const WebhookEvent& event, std::string& k) {
  k.clear();
  return std::visit([&k](const auto& e) { return key_of(e, k); }, event);
}

// ---------------------------------------------------------------------------------------------
// Facts on the parts of a ticket

bool timeline_less(const TimelineMessage& m, std::int64_t ts, const std::string& id) noexcept {
  return m.timestamp < ts || (m.timestamp == ts && m.message_id < id);
}

std::size_t lower_position(const std::vector<TimelineMessage>& tl, std::size_t end, std::int64_t ts,
                           const std::string& id) {
  auto it = std::lower_bound(tl.begin(), tl.begin() + static_cast<std::ptrdiff_t>(end), 0,
                             [&](const TimelineMessage& m, int) { return timeline_less(m, ts, id); });
  return static_cast<std::size_t>(it - tl.begin());
}

/// Inserts in (timestamp, message_id) order; messages mostly arrive in time order, so the end is
/// checked first and the insert is usually a push_back.
std::size_t insert_sorted(std::vector<TimelineMessage>& tl, TimelineMessage msg) {
  if (tl.empty() || timeline_less(tl.back(), msg.timestamp, msg.message_id)) {
    tl.push_back(std::move(msg));
    return tl.size() - 1;
  }
  const std::size_t pos = lower_position(tl, tl.size(), msg.timestamp, msg.message_id);
  tl.insert(tl.begin() + static_cast<std::ptrdiff_t>(pos), std::move(msg));
  return pos;
}

/// The message by id. Statuses and records are about recent messages: search from the end.
std::optional<std::size_t> find_by_id(const std::vector<TimelineMessage>& tl, const std::string& id) {
  for (std::size_t i = tl.size(); i-- > 0;)
    if (tl[i].message_id == id) return i;
  return std::nullopt;
}

/// Moves message `i` to the earlier timestamp `ts`, keeping the order; returns its new index.
std::size_t move_earlier(std::vector<TimelineMessage>& tl, std::size_t i, std::int64_t ts) {
  const std::size_t pos = lower_position(tl, i, ts, tl[i].message_id);
  tl[i].timestamp = ts;
  std::rotate(tl.begin() + static_cast<std::ptrdiff_t>(pos), tl.begin() + static_cast<std::ptrdiff_t>(i),
              tl.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  return pos;
}

bool union_errors(std::vector<ItemError>& into, const std::vector<ItemError>& add) {
  bool changed = false;
  for (const auto& e : add) {
    auto it = std::lower_bound(into.begin(), into.end(), e, item_error_less);
    if (it != into.end() && item_error_equal(*it, e)) continue;
    into.insert(it, e);
    changed = true;
  }
  return changed;
}

bool advance(DeliveryStatus& into, DeliveryStatus status) noexcept {
  if (delivery_rank(status) <= delivery_rank(into)) return false;
  into = status;
  return true;
}

/// Last writer wins by timestamp, ties to the greater text; a value without timestamp (the agent's)
/// loses to any webhook value.
bool set_lww(std::optional<std::string>& value, std::optional<std::int64_t>& at, const std::string& text,
             std::int64_t ts) {
  if (at && (ts < *at || (ts == *at && text <= value.value_or("")))) return false;
  const bool changed = value != text;
  value = text;
  at = ts;
  return changed;
}

void merge_lww(std::optional<std::string>& value, std::optional<std::int64_t>& at,
               const std::optional<std::string>& other, std::optional<std::int64_t> other_at) {
  if (!other) return;
  if (other_at) {
    set_lww(value, at, *other, *other_at);
  } else if (!value) {
    value = other;
  }
}

bool set_suspension(Ticket& t, bool suspended, std::int64_t ts) {
  // (timestamp, rank) with suspend 0 < cleared 1; a ticket starts as "cleared at 0".
  const int rank = suspended ? 0 : 1;
  const int current = t.suspended ? 0 : 1;
  if (ts < t.suspension_changed_at || (ts == t.suspension_changed_at && rank <= current)) return false;
  const bool changed = t.suspended != suspended;
  t.suspended = suspended;
  t.suspension_changed_at = ts;
  return changed;
}

/// The join of two facts about one person.
void join_member(Member& a, const Member& b) {
  join_person(a.person, b.person);
  if (b.status_since > a.status_since || (b.status_since == a.status_since && member_rank(b.status) > member_rank(a.status))) {
    a.status = b.status;
    a.status_since = b.status_since;
  }
  if (b.join_request_id &&
      (!a.join_request_id || b.join_request_at > a.join_request_at ||
       (b.join_request_at == a.join_request_at && *b.join_request_id > *a.join_request_id))) {
    a.join_request_id = b.join_request_id;
    a.join_request_at = b.join_request_at;
  }
  if (b.contact_name && (!a.contact_name || b.contact_name_at > a.contact_name_at ||
                         (b.contact_name_at == a.contact_name_at && *b.contact_name > *a.contact_name))) {
    a.contact_name = b.contact_name;
    a.contact_name_at = b.contact_name_at;
  }
  join_min(a.first_joined_at, b.first_joined_at);
}

/// Re-files per-participant statuses recorded under a person's former keys (declared to the store
/// as a change of the whole timeline, when any message has one).
Result<void> rekey_delivery(TicketTransaction& tx, Ticket& t, const std::vector<std::string>& old_keys,
                            const std::string& key) {
  const bool any = std::any_of(t.timeline.begin(), t.timeline.end(), [&](const TimelineMessage& msg) {
    for (const auto& old : old_keys)
      if (old != key && msg.delivery.count(old)) return true;
    return false;
  });
  if (!any) return {};
  auto declared = tx.changing_timeline(t.ticket_id);
  if (!declared) return declared;
  for (auto& msg : t.timeline) {
    if (msg.delivery.empty()) continue;
    for (const auto& old : old_keys) {
      if (old == key) continue;
      auto it = msg.delivery.find(old);
      if (it == msg.delivery.end()) continue;
      const DeliveryStatus status = it->second;
      msg.delivery.erase(it);
      advance(msg.delivery[key], status);
    }
  }
  return {};
}

/// The member `person` names when it adds nothing to that member's identity (so merging would
/// change no identifier), else null. Roster members never match each other, so there is one.
Member* covering_member(Ticket& t, const PersonKey& person) {
  for (auto& m : t.members) {
    if (!same_person(m.person, person)) continue;
    const bool covered = (!person.phone || m.person.phone == person.phone) &&
                         (!person.bsuid || m.person.bsuid == person.bsuid) &&
                         (!person.username || m.person.username == person.username);
    return covered ? &m : nullptr;
  }
  return nullptr;
}

struct MemberUpdate {
  std::size_t index = 0;
  bool changed = false;  // a new member, a merge, or a new status
};

/// Adds what `incoming` says about a person to the roster: merges it with every member it names
/// (two, when it links a phone-only and a BSUID-only member), keeps the roster sorted by
/// canonical key, and re-files delivery statuses when a member's key changed.
Result<MemberUpdate> merge_member(TicketTransaction& tx, Ticket& t, Member incoming) {
  auto& members = t.members;
  std::size_t matches[4];
  std::size_t n = 0;
  for (std::size_t i = 0; i < members.size() && n < 4; ++i)
    if (same_person(members[i].person, incoming.person)) matches[n++] = i;

  auto sorted_position = [&](const std::string& key, std::size_t skip) {
    std::size_t pos = 0;
    for (std::size_t i = 0; i < members.size(); ++i)
      if (i != skip && members[i].person.canonical() < key) ++pos;
    return pos;
  };

  if (n == 0) {
    const std::string key = incoming.person.canonical();
    const std::size_t pos = sorted_position(key, members.size());
    members.insert(members.begin() + static_cast<std::ptrdiff_t>(pos), std::move(incoming));
    return MemberUpdate{pos, true};
  }

  Member& base = members[matches[0]];
  PersonKey identity = base.person;
  for (std::size_t j = 1; j < n; ++j) join_person(identity, members[matches[j]].person);
  join_person(identity, incoming.person);
  const bool identity_changed = n > 1 || identity.phone != base.person.phone || identity.bsuid != base.person.bsuid;

  if (!identity_changed) {
    const MemberStatus status = base.status;
    join_member(base, incoming);
    return MemberUpdate{matches[0], base.status != status};
  }

  std::vector<std::string> old_keys;
  for (std::size_t j = 0; j < n; ++j) old_keys.push_back(members[matches[j]].person.canonical());
  Member merged = std::move(base);
  for (std::size_t j = 1; j < n; ++j) join_member(merged, members[matches[j]]);
  join_member(merged, incoming);
  for (std::size_t j = n; j-- > 0;) members.erase(members.begin() + static_cast<std::ptrdiff_t>(matches[j]));
  const std::string key = merged.person.canonical();
  const std::size_t pos = sorted_position(key, members.size());
  members.insert(members.begin() + static_cast<std::ptrdiff_t>(pos), std::move(merged));
  auto rekeyed = rekey_delivery(tx, t, old_keys, key);
  if (!rekeyed) return rekeyed.error();
  return MemberUpdate{pos, true};
}

/// After merging a fragment: every delivery key to the canonical key of its member now.
void normalize_delivery(Ticket& t) {
  for (auto& msg : t.timeline) {
    if (msg.delivery.empty()) continue;
    std::map<std::string, DeliveryStatus> normalized;
    for (const auto& [key, status] : msg.delivery) {
      PersonKey who;
      if (key.rfind("bsuid:", 0) == 0) who.bsuid = key.substr(6);
      else if (key.rfind("phone:", 0) == 0) who.phone = key.substr(6);
      const Member* member = who.empty() ? nullptr : t.find_member(who);
      advance(normalized[member ? member->person.canonical() : key], status);
    }
    msg.delivery = std::move(normalized);
  }
}

void merge_message(TimelineMessage& into, TimelineMessage&& other) {
  if (other.direction == MessageDirection::inbound) into.direction = MessageDirection::inbound;
  into.timestamp = std::min(into.timestamp, other.timestamp);
  join_person(into.sender, other.sender);
  join_text(into.contact_name, other.contact_name);
  join_text(into.agent, other.agent);
  join_text(into.type, other.type);
  join_text(into.text, other.text);
  join_text(into.caption, other.caption);
  join_text(into.media_id, other.media_id);
  join_text(into.reply_to, other.reply_to);
  for (const auto& [key, status] : other.delivery) advance(into.delivery[key], status);
  advance(into.group_status, other.group_status);
  union_errors(into.errors, other.errors);
}

bool invite_newer(const Invite& a, const Invite& b) {
  return a.sent_at > b.sent_at || (a.sent_at == b.sent_at && a.message_id.value_or("") > b.message_id.value_or(""));
}

/// One record per phone; a newer send replaces an older one.
bool merge_invite(std::vector<Invite>& invites, Invite invite) {
  for (auto& existing : invites) {
    if (existing.phone != invite.phone) continue;
    if (!invite_newer(invite, existing)) return false;
    existing = std::move(invite);
    return true;
  }
  invites.push_back(std::move(invite));
  return true;
}

TicketState derive_state(const Ticket& t, const ResolutionPolicy& policy) noexcept {
  if (t.group_deleted || t.closed_at) return TicketState::closed;
  if (!t.group_created && !t.creation_errors.empty()) return TicketState::creation_failed;
  if (!t.group_created) return t.request_id || t.opened_by_host ? TicketState::create_requested : TicketState::unlinked;
  if (t.resolved_at &&
      !(policy.reopen_on_inbound && t.last_inbound_at && *t.last_inbound_at > *t.resolved_at))
    return TicketState::resolved;
  if (t.first_join_at) return TicketState::open;
  return TicketState::awaiting_first_join;
}

/// Derived fields, recomputed after every change.
void finish(Ticket& t, const ResolutionPolicy& policy) {
  if (t.group_deleted) join_min(t.closed_at, t.deleted_at);
  std::int64_t activity = t.created_at.value_or(0);
  if (!t.timeline.empty()) activity = std::max(activity, t.timeline.back().timestamp);
  t.last_activity_at = activity;
  t.state = derive_state(t, policy);
}

// Host-supplied text is refused, not repaired, when it is not UTF-8: it would otherwise be stored
// altered, and the host is the one place that can fix it. The offending bytes are not echoed.
std::optional<Error> not_utf8(const char* operation, const char* field, std::string_view value) {
  const std::size_t at = text::invalid_utf8_at(value);
  if (at == std::string_view::npos) return std::nullopt;
  return Error::invalid_argument(field, "valid UTF-8",
                                 std::string(operation) + ": " + field + " is not valid UTF-8 (byte " +
                                     std::to_string(at) + " of " + std::to_string(value.size()) + ")");
}

std::optional<Error> not_utf8(const char* operation, const char* field, const std::optional<std::string>& value) {
  return value ? not_utf8(operation, field, std::string_view(*value)) : std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Creates without a request id: matched by (phone number id, subject) within a window

std::string hex64(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (std::size_t i = 16; i-- > 0; v >>= 4) out[i] = digits[v & 0xF];
  return out;
}

// FNV-1a: stable across builds and platforms (the result names tickets and index keys on disk).
std::string create_hash(std::string_view phone_number_id, std::string_view subject) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](std::string_view text) {
    for (unsigned char c : text) {
      h ^= c;
      h *= 0x100000001b3ULL;
    }
  };
  mix(phone_number_id);
  mix(std::string_view("\n", 1));
  mix(validation::trim(subject));  // the subject as sent (see sent_subject)
  return hex64(h);
}

std::string create_id(char prefix, const std::string& hash, std::int64_t at) {
  std::string id{prefix, '-'};
  id += hash;
  id += '-';
  append_int(id, at);
  return id;
}

// How far back a retried `open_ticket` without `requested_at` looks for the ticket of its first try.
constexpr std::int64_t kRetryReuseSeconds = 60;

// The tickets waiting to be matched are filed in the store's message index under "slot" keys (no
// wamid has a '|'), one chain per (number, subject): slot 0, 1, ... up to the first empty one. A
// slot whose ticket matched, was claimed, or fell out of the window is reused, so a chain is as
// long as the most creates of one subject ever waiting at once.
std::string match_slot(const std::string& hash, std::size_t n) {
  return "create-match|" + hash + "|" + std::to_string(n);
}

// A repeated `open_ticket` finds the webhook's ticket it claimed the first time by this key.
std::string claim_key(const std::string& ticket_id) { return "create-claim|" + ticket_id; }

// `open_ticket` without request id came first; no group_create webhook matched it yet.
bool waiting_for_webhook(const Ticket& t) noexcept {
  return t.opened_by_host && !t.request_id && !t.group_id && !t.group_created && t.creation_errors.empty();
}

// The group_create webhook (success or failure) came first; no `open_ticket` claimed it yet.
bool unclaimed(const Ticket& t) noexcept {
  return !t.opened_by_host && (t.group_created || !t.creation_errors.empty());
}

// Whether the facts at `a` and `b` (Unix seconds; 0 = unknown) are close enough to match.
bool within(std::int64_t a, std::int64_t b, std::int64_t window) noexcept {
  if (a == 0 || b == 0) return true;
  return a > b ? a - b <= window : b - a <= window;
}

Error missing_ticket(const std::string& ticket_id) {
  return Error::invalid_argument("ticket_id", "an existing ticket", "no ticket " + ticket_id);
}

// ---------------------------------------------------------------------------------------------
// One unit of work

class Work {
 public:
  Work(TicketTransaction& tx, const ResolutionPolicy& policy, std::vector<TicketChange>& changes)
      : tx_(tx), policy_(policy), changes_(&changes) {}

  /// One webhook event: dedupe, route, apply, record its key.
  Result<void> event(const WebhookEvent& e) {
    // Reused per thread, so that building the key allocates nothing after warm-up (a store never
    // calls back into the aggregator from inside a unit).
    thread_local std::string key;
    if (!build_key(e, key)) {
      changes_->push_back(TicketChange{TicketChangeKind::not_applicable, {}, {}, {}, {}});
      return {};
    }
    auto applied = tx_.applied(key);
    if (!applied) return applied.error();
    if (*applied) {
      changes_->push_back(TicketChange{TicketChangeKind::duplicate_ignored, {}, {}, {}, {}});
      return {};
    }
    begin();
    auto used = std::visit([this](const auto& ev) { return on(ev); }, e);
    if (!used) return used.error();
    if (!*used) {
      changes_->push_back(TicketChange{TicketChangeKind::not_applicable, {}, {}, {}, {}});
      return {};
    }
    end();
    return tx_.record(key);
  }

  /// Agent and host actions (no dedupe key): `body` applies facts to tracked tickets.
  template <typename Body>
  Result<void> action(Body&& body) {
    begin();
    auto r = body(*this);
    if (!r) return r;
    end();
    return {};
  }

  // Routing -------------------------------------------------------------------------------

  /// The ticket of a create request when there is one: "T-<request_id>", or a ticket opened without
  /// request id that the request's webhook linked.
  Result<Ticket*> find_request_ticket(const std::string& request_id) {
    auto found = tx_.edit(ticket_id_for_request(request_id));
    if (!found) return found.error();
    if (*found) return track(*found, false);
    auto linked = tx_.find_by_request(request_id);
    if (!linked) return linked.error();
    if (!*linked) return static_cast<Ticket*>(nullptr);
    auto t = tx_.edit(**linked);
    if (!t) return t.error();
    return *t ? track(*t, false) : nullptr;
  }

  /// The ticket of a failed create that named no request id, created when absent: "F-<hash>-<ts>".
  Result<Ticket*> failed_create_ticket(const std::string& phone_number_id, const std::string& subject,
                                       std::int64_t ts) {
    const std::string id = create_id('F', create_hash(phone_number_id, subject), ts);
    auto found = tx_.edit(id);
    if (!found) return found.error();
    if (*found) return track(*found, false);
    Ticket fresh;
    fresh.ticket_id = id;
    fresh.phone_number_id = phone_number_id;
    fresh.subject = subject;
    if (ts != 0) fresh.created_at = ts;  // so that it leaves the match window like the others
    fresh.state = derive_state(fresh, policy_);
    auto inserted = tx_.insert(std::move(fresh));
    if (!inserted) return inserted.error();
    return track(*inserted, true);
  }

  /// The ticket of a create request, created when absent.
  Result<Ticket*> request_ticket(const std::string& request_id) {
    auto existing = find_request_ticket(request_id);
    if (!existing || *existing) return existing;
    const std::string id = ticket_id_for_request(request_id);
    Ticket fresh;
    fresh.ticket_id = id;
    fresh.request_id = request_id;
    fresh.state = derive_state(fresh, policy_);
    auto inserted = tx_.insert(std::move(fresh));
    if (!inserted) return inserted.error();
    return track(*inserted, true);
  }

  /// The ticket holding the group, else its unlinked fragment (created when absent).
  Result<Ticket*> group_ticket(const std::string& group_id) {
    auto found = tx_.find_by_group(group_id);
    if (!found) return found.error();
    if (*found) {
      auto t = tx_.edit(**found);
      if (!t) return t.error();
      if (*t) return track(*t, false);
    }
    const std::string id = ticket_id_for_group(group_id);
    auto fragment = tx_.edit(id);
    if (!fragment) return fragment.error();
    if (*fragment) return track(*fragment, false);
    Ticket fresh;
    fresh.ticket_id = id;
    fresh.group_id = group_id;
    auto inserted = tx_.insert(std::move(fresh));
    if (!inserted) return inserted.error();
    return track(*inserted, true);
  }

  /// What a walk along a (number, subject) chain found.
  struct SlotScan {
    Ticket* best = nullptr;                // the oldest candidate
    std::optional<std::size_t> free_slot;  // the first slot to file a ticket in
    bool filed = false;                    // the ticket named `self` is filed already
  };

  /// Walks the chain of (phone_number_id, subject): the oldest ticket that `waiting` (tickets
  /// waiting for their webhook) or else unclaimed webhook tickets holds, within the window of `at`.
  Result<SlotScan> scan_slots(const std::string& phone_number_id, const std::string& subject_as_given, std::int64_t at,
                              bool waiting, const std::string& self = {}) {
    const std::string subject = validation::trim(subject_as_given);
    const std::string hash = create_hash(phone_number_id, subject);
    const std::int64_t window = policy_.create_match_window.count();
    SlotScan out;
    for (std::size_t n = 0;; ++n) {
      auto holder = tx_.find_by_message(match_slot(hash, n));
      if (!holder) return holder.error();
      if (!*holder) {
        if (!out.free_slot) out.free_slot = n;
        return out;
      }
      auto found = tx_.edit(**holder);
      if (!found) return found.error();
      Ticket* t = *found;
      const bool live = t && (waiting_for_webhook(*t) || unclaimed(*t)) &&
                        !(at != 0 && t->created_at.value_or(0) != 0 && at - *t->created_at > window);
      if (!live) {
        if (!out.free_slot) out.free_slot = n;
        continue;
      }
      if (t->ticket_id == self) out.filed = true;
      // The hash names the chain; the fields decide (a subject may be unset on a failed create).
      if (t->phone_number_id != phone_number_id || validation::trim(t->subject.value_or(subject)) != subject) continue;
      if (waiting ? !waiting_for_webhook(*t) : !unclaimed(*t)) continue;
      if (!within(at, t->created_at.value_or(0), window)) continue;
      const auto key = [](const Ticket* x) { return std::make_pair(x->created_at.value_or(0), x->ticket_id); };
      if (!out.best || key(t) < key(out.best)) out.best = t;
    }
  }

  /// Files `t` in its chain (once), so that the other side of the match finds it.
  Result<void> file_for_match(const Ticket& t, std::int64_t at) {
    if (!t.subject || t.subject->empty() || t.phone_number_id.empty()) return {};
    auto scan = scan_slots(t.phone_number_id, *t.subject, at, true, t.ticket_id);
    if (!scan) return scan.error();
    if (scan->filed) return {};
    return tx_.index_message(match_slot(create_hash(t.phone_number_id, *t.subject), *scan->free_slot), t.ticket_id);
  }

  /// The oldest ticket opened without request id that waits for this webhook, tracked; or null.
  Result<Ticket*> waiting_ticket(const std::string& phone_number_id, const std::optional<std::string>& subject,
                                 std::int64_t at) {
    const auto sent = sent_subject(subject);
    if (phone_number_id.empty() || !sent) return static_cast<Ticket*>(nullptr);
    auto scan = scan_slots(phone_number_id, *sent, at, true);
    if (!scan) return scan.error();
    return scan->best ? track(scan->best, false) : nullptr;
  }

  /// An unclaimed ticket of the webhook for `open_ticket` to claim, tracked; or null.
  Result<Ticket*> unclaimed_ticket(const std::string& phone_number_id, const std::string& subject, std::int64_t at) {
    auto scan = scan_slots(phone_number_id, subject, at, false);
    if (!scan) return scan.error();
    return scan->best ? track(scan->best, false) : nullptr;
  }

  /// The ticket an earlier `open_ticket` without request id at `at` opened or claimed; or null.
  Result<Ticket*> opened_at(const std::string& hash, std::int64_t at) {
    const std::string id = create_id('C', hash, at);
    auto own = tx_.edit(id);
    if (!own) return own.error();
    if (*own) return *own;
    auto claimed = tx_.find_by_message(claim_key(id));
    if (!claimed) return claimed.error();
    if (!*claimed) return static_cast<Ticket*>(nullptr);
    auto t = tx_.edit(**claimed);
    if (!t) return t.error();
    return *t;
  }

  /// The ticket an `open_ticket` without request id names: its own, the one it claimed before, a
  /// webhook's it claims now, or a new one waiting for the webhook. With `reuse_recent` (the caller
  /// gave no `requested_at`), a ticket that the same call (same number, subject and assignee) opened
  /// or claimed up to kRetryReuseSeconds earlier is that call's retry: its ticket, whether or not
  /// the webhook came in between.
  Result<Ticket*> create_ticket(const std::string& phone_number_id, const std::string& subject,
                                std::int64_t requested_at, const std::string& assignee, bool reuse_recent) {
    const std::string id = ticket_id_for_create(phone_number_id, subject, requested_at);
    const std::string hash = create_hash(phone_number_id, subject);
    auto same = opened_at(hash, requested_at);
    if (!same) return same.error();
    if (*same) return track(*same, false);
    for (std::int64_t back = 1; reuse_recent && back <= kRetryReuseSeconds; ++back) {
      auto earlier = opened_at(hash, requested_at - back);
      if (!earlier) return earlier.error();
      Ticket* t = *earlier;
      if (t && t->opened_by_host && t->assignee.value_or("") == assignee) return track(t, false);
    }
    auto webhook = unclaimed_ticket(phone_number_id, subject, requested_at);
    if (!webhook) return webhook.error();
    if (*webhook) {
      auto indexed = tx_.index_message(claim_key(id), (*webhook)->ticket_id);
      if (!indexed) return indexed.error();
      return *webhook;
    }
    Ticket fresh;
    fresh.ticket_id = id;
    fresh.phone_number_id = phone_number_id;
    fresh.subject = subject;
    fresh.opened_by_host = true;
    fresh.created_at = requested_at;
    fresh.state = derive_state(fresh, policy_);
    auto inserted = tx_.insert(std::move(fresh));
    if (!inserted) return inserted.error();
    auto filed = file_for_match(**inserted, requested_at);
    if (!filed) return filed.error();
    return track(*inserted, true);
  }

  Result<Ticket*> existing_ticket(const std::string& ticket_id) {
    auto found = tx_.edit(ticket_id);
    if (!found) return found.error();
    if (!*found) return missing_ticket(ticket_id);
    return track(*found, false);
  }

  void change(TicketChangeKind kind, const Ticket& t, std::optional<std::string> message_id = std::nullopt) {
    changes_->push_back(TicketChange{kind, t.ticket_id, std::move(message_id), std::nullopt, std::nullopt});
  }

  TicketTransaction& tx() { return tx_; }
  const ResolutionPolicy& policy() const { return policy_; }
  /// Room for `n` more changes (a batch makes about one per event), so the list grows once.
  void reserve_changes(std::size_t n) { changes_->reserve(changes_->size() + n); }
  /// Where the changes of the next events go (apply_each: one list per body).
  void redirect(std::vector<TicketChange>& changes) { changes_ = &changes; }

  // Facts shared by the handlers ----------------------------------------------------------

  Result<void> member_fact(Ticket& t, Member incoming) {
    auto update = merge_member(tx_, t, std::move(incoming));
    if (!update) return update.error();
    if (update->changed) roster_changed_ = true;
    return {};
  }

  /// Where message `id` is in `t`'s timeline. Statuses and records are about recent messages, so
  /// the end is searched first; past that, the message index says whether `t` holds the message
  /// at all, so that a message new to a long timeline costs no scan of it.
  Result<std::optional<std::size_t>> locate(const Ticket& t, const std::string& id) {
    constexpr std::size_t kRecent = 64;
    const auto& tl = t.timeline;
    const std::size_t stop = tl.size() > kRecent ? tl.size() - kRecent : 0;
    for (std::size_t i = tl.size(); i-- > stop;)
      if (tl[i].message_id == id) return std::optional<std::size_t>(i);
    if (stop == 0) return std::optional<std::size_t>();
    auto holder = tx_.find_by_message(id);
    if (!holder) return holder.error();
    // No entry: the aggregator indexes every message it adds, so `t` does not hold it. An entry
    // naming another ticket proves nothing (the index keeps the last writer): scan.
    if (!*holder) return std::optional<std::size_t>();
    for (std::size_t i = stop; i-- > 0;)
      if (tl[i].message_id == id) return std::optional<std::size_t>(i);
    return std::optional<std::size_t>();
  }

  /// Declares, before it happens, that message `message_id` of `t` is added or changed.
  Result<void> changing(const Ticket& t, const std::string& message_id) {
    return tx_.changing_message(t.ticket_id, message_id);
  }

  Result<void> index(const std::string& message_id, const Ticket& t) { return tx_.index_message(message_id, t.ticket_id); }

 private:
  struct Tracked {
    Ticket* ticket = nullptr;
    TicketState before = TicketState::unlinked;
    std::size_t created_change = 0;  // index of its ticket_created record, or npos
  };
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  void begin() {
    tracked_.clear();
    roster_changed_ = false;
  }

  Ticket* track(Ticket* t, bool created) {
    for (const auto& tr : tracked_)
      if (tr.ticket == t) return t;
    std::size_t created_change = npos;
    if (created) {
      created_change = changes_->size();
      change(TicketChangeKind::ticket_created, *t);
    }
    tracked_.push_back(Tracked{t, t->state, created_change});
    return t;
  }

  bool created(const Ticket* t) const {
    for (const auto& tr : tracked_)
      if (tr.ticket == t) return tr.created_change != npos;
    return false;
  }

  void end() {
    for (const auto& tr : tracked_) {
      Ticket& t = *tr.ticket;
      if (roster_changed_) change(TicketChangeKind::roster_changed, t);
      finish(t, policy_);
      if (tr.created_change != npos) {
        (*changes_)[tr.created_change].to_state = t.state;
      } else if (t.state != tr.before) {
        changes_->push_back(
            TicketChange{TicketChangeKind::state_changed, t.ticket_id, std::nullopt, tr.before, t.state});
      }
    }
    tracked_.clear();
  }

  // Handlers: ok(true) applied, ok(false) not applicable (nothing written) --------------------

  Result<bool> on(const GroupCreated& e) {
    const std::int64_t ts = ts_of(e.context);
    const auto request = nonempty(e.request_id);
    Ticket* t = nullptr;
    // A ticket that already names this create: by its request id, or one linked to the group.
    if (request) {
      auto found = find_request_ticket(*request);
      if (!found) return found.error();
      t = *found;
    } else {
      auto found = tx_.find_by_group(e.group_id);
      if (!found) return found.error();
      if (*found && **found != ticket_id_for_group(e.group_id)) {
        auto linked = tx_.edit(**found);
        if (!linked) return linked.error();
        if (*linked) t = track(*linked, false);
      }
    }
    // Else the oldest ticket opened without request id for this number and subject, if one waits.
    if (!t) {
      auto waiting = waiting_ticket(e.context.phone_number_id, e.subject, ts);
      if (!waiting) return waiting.error();
      t = *waiting;
    }
    if (t) {
      join_text(t->request_id, request);
      auto merged = merge_fragment(*t, e.group_id);
      if (!merged) return merged.error();
    } else if (request) {
      auto found = request_ticket(*request);
      if (!found) return found.error();
      t = *found;
      auto merged = merge_fragment(*t, e.group_id);
      if (!merged) return merged.error();
    } else {
      auto found = group_ticket(e.group_id);
      if (!found) return found.error();
      t = *found;
    }
    const bool linked = !t->group_id && !t->group_created;
    join_text(t->group_id, e.group_id);
    join_text(t->request_id, nonempty(e.request_id));
    join_text(t->phone_number_id, e.context.phone_number_id);
    bool fields = !t->group_created;
    t->group_created = true;
    join_min(t->created_at, ts);
    const auto link_before = t->invite_link;
    join_text(t->invite_link, e.invite_link);
    fields |= link_before != t->invite_link;
    if (e.subject) fields |= set_lww(t->subject, t->subject_changed_at, *e.subject, ts);
    if (e.description) fields |= set_lww(t->description, t->description_changed_at, *e.description, ts);
    if (linked && !created(t)) change(TicketChangeKind::ticket_linked, *t);
    if (fields) change(TicketChangeKind::fields_changed, *t);
    if (!t->opened_by_host) {
      auto filed = file_for_match(*t, ts);  // for an `open_ticket` without request id to claim
      if (!filed) return filed.error();
    }
    return true;
  }

  /// Moves what an unlinked fragment "G-<group>" gathered into `t`, and removes the fragment.
  Result<void> merge_fragment(Ticket& t, const std::string& group_id) {
    const std::string fragment_id = ticket_id_for_group(group_id);
    if (fragment_id == t.ticket_id) return {};
    auto found = tx_.edit(fragment_id);
    if (!found) return found.error();
    if (!*found) return {};
    Ticket& f = **found;
    std::vector<std::string> message_ids;
    for (const auto& m : f.timeline) message_ids.push_back(m.message_id);
    for (const auto& i : f.invites)
      if (i.message_id) message_ids.push_back(*i.message_id);

    join_text(t.group_id, f.group_id);
    join_text(t.request_id, f.request_id);
    join_text(t.phone_number_id, f.phone_number_id);
    merge_lww(t.subject, t.subject_changed_at, f.subject, f.subject_changed_at);
    merge_lww(t.description, t.description_changed_at, f.description, f.description_changed_at);
    if (!t.assignee) t.assignee = f.assignee;
    t.opened_by_host = t.opened_by_host || f.opened_by_host;
    join_text(t.invite_link, f.invite_link);
    t.group_created = t.group_created || f.group_created;
    set_suspension(t, f.suspended, f.suspension_changed_at);
    t.group_deleted = t.group_deleted || f.group_deleted;
    join_min(t.deleted_at, f.deleted_at);
    union_errors(t.creation_errors, f.creation_errors);
    // A fragment's messages move (rarely many: it exists only until the group is linked), and the
    // delivery keys of the whole timeline are normalized: declared whole, on both tickets.
    if (!f.timeline.empty()) {
      auto declared = tx_.changing_timeline(f.ticket_id);
      if (!declared) return declared;
    }
    if (!f.timeline.empty() || !t.timeline.empty()) {
      auto declared = tx_.changing_timeline(t.ticket_id);
      if (!declared) return declared;
    }
    for (auto& m : f.members) {
      auto merged = merge_member(tx_, t, std::move(m));
      if (!merged) return merged.error();
    }
    for (auto& i : f.invites) merge_invite(t.invites, std::move(i));
    for (auto& m : f.timeline) {
      if (auto at = find_by_id(t.timeline, m.message_id)) {
        const std::int64_t before = t.timeline[*at].timestamp;
        merge_message(t.timeline[*at], std::move(m));
        const std::int64_t now = t.timeline[*at].timestamp;
        if (now < before) {
          t.timeline[*at].timestamp = before;
          move_earlier(t.timeline, *at, now);
        }
      } else {
        insert_sorted(t.timeline, std::move(m));
      }
    }
    normalize_delivery(t);
    join_min(t.created_at, f.created_at);
    join_min(t.first_join_at, f.first_join_at);
    join_max(t.last_inbound_at, f.last_inbound_at);
    join_max(t.resolved_at, f.resolved_at);
    join_min(t.closed_at, f.closed_at);

    auto erased = tx_.erase(fragment_id);  // `f` is gone from here on
    if (!erased) return erased;
    for (const auto& id : message_ids) {
      auto indexed = tx_.index_message(id, t.ticket_id);
      if (!indexed) return indexed;
    }
    roster_changed_ = roster_changed_ || !t.members.empty();
    change(TicketChangeKind::ticket_linked, t);
    return {};
  }

  Result<bool> on(const GroupCreateFailed& e) {
    const std::int64_t ts = ts_of(e.context);
    const auto request = nonempty(e.request_id);
    const auto subject = sent_subject(e.subject);
    Ticket* t = nullptr;
    if (request) {
      auto found = find_request_ticket(*request);
      if (!found) return found.error();
      t = *found;
    }
    if (!t) {
      auto waiting = waiting_ticket(e.context.phone_number_id, subject, ts);
      if (!waiting) return waiting.error();
      t = *waiting;
      if (t) join_text(t->request_id, request);
    }
    if (!t) {
      // key_of keeps a failure with neither request id nor (number, subject) out of here.
      auto created = request ? request_ticket(*request) : failed_create_ticket(e.context.phone_number_id, *subject, ts);
      if (!created) return created.error();
      t = *created;
    }
    join_text(t->phone_number_id, e.context.phone_number_id);
    if (union_errors(t->creation_errors, e.errors)) change(TicketChangeKind::fields_changed, *t);
    if (!t->opened_by_host && subject) {
      // Filed under the subject it asked for, so that an `open_ticket` without request id finds it.
      if (!t->subject) t->subject = subject;
      auto filed = file_for_match(*t, ts);
      if (!filed) return filed.error();
    }
    return true;
  }

  Result<bool> on(const GroupDeleted& e) {
    auto found = group_ticket(e.group_id);
    if (!found) return found.error();
    Ticket& t = **found;
    join_text(t.phone_number_id, e.context.phone_number_id);
    const bool was = t.group_deleted;
    const auto at = t.deleted_at;
    t.group_deleted = true;
    join_min(t.deleted_at, ts_of(e.context));
    if (!was || at != t.deleted_at) change(TicketChangeKind::fields_changed, t);
    return true;
  }

  Result<bool> on(const ParticipantsAdded& e) {
    auto found = group_ticket(e.group_id);
    if (!found) return found.error();
    Ticket& t = **found;
    join_text(t.phone_number_id, e.context.phone_number_id);
    const std::int64_t ts = ts_of(e.context);
    bool anyone = false;
    for (const auto& p : e.added_participants) {
      PersonKey person = person_of(p);
      if (person.empty()) continue;
      Member m;
      m.person = std::move(person);
      m.status = MemberStatus::joined;
      m.status_since = ts;
      m.first_joined_at = ts;
      auto merged = member_fact(t, std::move(m));
      if (!merged) return merged.error();
      anyone = true;
    }
    if (anyone) join_min(t.first_join_at, ts);
    return true;
  }

  Result<bool> on(const ParticipantsRemoved& e) {
    auto found = group_ticket(e.group_id);
    if (!found) return found.error();
    Ticket& t = **found;
    join_text(t.phone_number_id, e.context.phone_number_id);
    const MemberStatus status =
        e.initiated_by == RemovalInitiator::participant ? MemberStatus::left : MemberStatus::removed;
    for (const auto& p : e.removed_participants) {
      PersonKey person = person_of(p);
      if (person.empty()) continue;
      Member m;
      m.person = std::move(person);
      m.status = status;
      m.status_since = ts_of(e.context);
      auto merged = member_fact(t, std::move(m));
      if (!merged) return merged.error();
    }
    return true;
  }

  template <typename JoinRequest>
  Result<bool> join_request(const JoinRequest& e, MemberStatus status) {
    auto found = group_ticket(e.group_id);
    if (!found) return found.error();
    Ticket& t = **found;
    join_text(t.phone_number_id, e.context.phone_number_id);
    PersonKey person = person_of(e.requester);
    if (person.empty()) return true;
    Member m;
    m.person = std::move(person);
    m.status = status;
    m.status_since = ts_of(e.context);
    if (auto id = nonempty(e.join_request_id)) {
      m.join_request_id = std::move(id);
      m.join_request_at = m.status_since;
    }
    auto merged = member_fact(t, std::move(m));
    if (!merged) return merged.error();
    return true;
  }
  Result<bool> on(const JoinRequestCreated& e) { return join_request(e, MemberStatus::join_requested); }
  Result<bool> on(const JoinRequestRevoked& e) { return join_request(e, MemberStatus::join_request_revoked); }

  Result<bool> on(const GroupSettingsUpdated& e) {
    auto found = group_ticket(e.group_id);
    if (!found) return found.error();
    Ticket& t = **found;
    join_text(t.phone_number_id, e.context.phone_number_id);
    const std::int64_t ts = ts_of(e.context);
    bool fields = false;
    if (e.group_subject && e.group_subject->succeeded() && e.group_subject->text)
      fields |= set_lww(t.subject, t.subject_changed_at, *e.group_subject->text, ts);
    if (e.group_description && e.group_description->succeeded() && e.group_description->text)
      fields |= set_lww(t.description, t.description_changed_at, *e.group_description->text, ts);
    if (fields) change(TicketChangeKind::fields_changed, t);
    return true;
  }

  Result<bool> suspension(const std::string& group_id, const WebhookContext& ctx, bool suspended) {
    auto found = group_ticket(group_id);
    if (!found) return found.error();
    Ticket& t = **found;
    join_text(t.phone_number_id, ctx.phone_number_id);
    if (set_suspension(t, suspended, ts_of(ctx))) change(TicketChangeKind::fields_changed, t);
    return true;
  }
  Result<bool> on(const GroupSuspended& e) { return suspension(e.group_id, e.context, true); }
  Result<bool> on(const GroupSuspensionCleared& e) { return suspension(e.group_id, e.context, false); }

  Result<bool> on(const GroupMessageReceived& e) {
    auto found = group_ticket(*e.group_id);
    if (!found) return found.error();
    Ticket& t = **found;
    join_text(t.phone_number_id, e.context.phone_number_id);
    const std::int64_t ts = ts_of(e.context);
    auto& tl = t.timeline;
    // An inbound message keeps its timestamp, so (timestamp, id) finds it. Messages mostly arrive
    // in order: past the last one, no search of a long timeline.
    const std::size_t pos =
        tl.empty() || timeline_less(tl.back(), ts, e.id) ? tl.size() : lower_position(tl, tl.size(), ts, e.id);
    if (pos < tl.size() && tl[pos].message_id == e.id) return true;

    TimelineMessage msg;
    msg.message_id = e.id;
    msg.direction = MessageDirection::inbound;
    msg.timestamp = ts;
    msg.sender = sender_of(e);
    msg.contact_name = nonempty(e.contact_name);
    msg.type = e.type;
    msg.text = e.text;
    msg.caption = e.caption;
    msg.media_id = e.media_id;
    if (e.reply_to && e.reply_to->id) msg.reply_to = e.reply_to->id;

    // The sender is a member who joined (this covers a lost join webhook; a later removal wins).
    if (!msg.sender.empty()) {
      Member m;
      m.status = MemberStatus::joined;
      m.status_since = ts;
      m.first_joined_at = ts;
      if (msg.contact_name) {
        m.contact_name = msg.contact_name;
        m.contact_name_at = ts;
      }
      if (Member* known = covering_member(t, msg.sender)) {
        // The common case: a known member, nothing to merge, no identity to copy.
        const MemberStatus before = known->status;
        join_member(*known, m);
        if (known->status != before) roster_changed_ = true;
      } else {
        m.person = msg.sender;
        auto merged = member_fact(t, std::move(m));
        if (!merged) return merged.error();
      }
    }

    auto declared = changing(t, e.id);
    if (!declared) return declared.error();
    if (pos == tl.size()) {
      tl.push_back(std::move(msg));
    } else {
      tl.insert(tl.begin() + static_cast<std::ptrdiff_t>(pos), std::move(msg));
    }
    auto indexed = index(e.id, t);
    if (!indexed) return indexed.error();
    change(TicketChangeKind::message_appended, t, e.id);
    join_min(t.first_join_at, ts);
    join_max(t.last_inbound_at, ts);
    return true;
  }

  Result<bool> on(const GroupMessageStatus& e) {
    auto found = group_ticket(*e.group_id);
    if (!found) return found.error();
    Ticket& t = **found;
    join_text(t.phone_number_id, e.context.phone_number_id);
    const std::int64_t ts = ts_of(e.context);
    auto located = locate(t, e.id);
    if (!located) return located.error();
    const std::optional<std::size_t> existing = *located;
    std::size_t i = 0;
    if (existing) {
      i = *existing;
    } else {
      auto declared = changing(t, e.id);
      if (!declared) return declared.error();
      TimelineMessage stub;
      stub.message_id = e.id;
      stub.direction = MessageDirection::outbound;
      stub.timestamp = ts;
      i = insert_sorted(t.timeline, std::move(stub));
      auto indexed = index(e.id, t);
      if (!indexed) return indexed.error();
      change(TicketChangeKind::message_appended, t, e.id);
    }

    // The participant's delivery key, after adding them to the roster when it does not know them
    // by every identifier the status gives (which re-files their statuses if that links two).
    const auto& phone = e.recipient_participant_id;
    const auto& bsuid = e.recipient_participant_user_id;
    const bool per_participant = !is_blank(phone) || !is_blank(bsuid);
    thread_local std::string key;
    if (per_participant) {
      const Member* known = nullptr;
      for (const auto& member : t.members) {
        const PersonKey& p = member.person;
        const bool by_bsuid = !is_blank(bsuid) && p.bsuid && *p.bsuid == *bsuid;
        const bool by_phone = !is_blank(phone) && p.phone && *p.phone == *phone && (is_blank(bsuid) || !p.bsuid);
        if (!by_bsuid && !by_phone) continue;
        if ((is_blank(phone) || p.phone == phone) && (is_blank(bsuid) || p.bsuid == bsuid)) known = &member;
        break;
      }
      if (!known) {
        Member m;
        m.person = recipient_of(e);
        auto update = merge_member(tx_, t, std::move(m));
        if (!update) return update.error();
        if (update->changed) roster_changed_ = true;
        known = &t.members[update->index];
      }
      key.assign(known->person.bsuid ? "bsuid:" : "phone:");
      key += known->person.bsuid ? *known->person.bsuid : *known->person.phone;
    }

    // Declared to the store only when the message will change (a stub was declared above).
    const bool failed = e.delivery_status == DeliveryStatus::failed;
    if (existing) {
      const TimelineMessage& m = t.timeline[i];
      // A status cannot precede its send.
      const bool moves = m.direction == MessageDirection::outbound && ts < m.timestamp;
      bool advances = false;
      if (per_participant) {
        auto slot = m.delivery.find(key);
        advances = slot == m.delivery.end() || delivery_rank(e.delivery_status) > delivery_rank(slot->second);
      } else {
        advances = delivery_rank(e.delivery_status) > delivery_rank(m.group_status);
      }
      if (moves || advances || (failed && !e.errors.empty())) {
        auto declared = changing(t, e.id);
        if (!declared) return declared.error();
      }
      if (moves) i = move_earlier(t.timeline, i, ts);
    }

    bool advanced = false;
    if (per_participant) {
      auto& delivery = t.timeline[i].delivery;
      auto slot = delivery.find(key);
      if (slot == delivery.end()) slot = delivery.emplace(key, DeliveryStatus::unknown).first;
      advanced = advance(slot->second, e.delivery_status);
    } else {
      advanced = advance(t.timeline[i].group_status, e.delivery_status);
    }
    if (failed) advanced |= union_errors(t.timeline[i].errors, e.errors);
    if (advanced) change(TicketChangeKind::status_advanced, t, e.id);
    return true;
  }

  Result<bool> on(const DirectMessageStatus& e) {
    auto holder = tx_.find_by_message(e.id);
    if (!holder) return holder.error();
    if (!*holder) return false;  // 1:1 traffic that is not one of our invites
    auto found = tx_.edit(**holder);
    if (!found) return found.error();
    if (!*found) return false;
    auto& invites = (*found)->invites;
    auto invite = std::find_if(invites.begin(), invites.end(),
                               [&](const Invite& i) { return i.message_id && *i.message_id == e.id; });
    if (invite == invites.end()) return false;
    Ticket& t = *track(*found, false);
    join_text(t.phone_number_id, e.context.phone_number_id);
    bool changed = advance(invite->status, e.delivery_status);
    if (e.delivery_status == DeliveryStatus::failed && !invite->error && !e.errors.empty()) {
      const ItemError& first = e.errors.front();
      std::string text = std::to_string(first.code);
      if (auto detail = first.title ? first.title : first.message) text += ": " + *detail;
      invite->error = std::move(text);
      changed = true;
    }
    if (changed) change(TicketChangeKind::invite_updated, t, e.id);
    return true;
  }

  template <typename Other>
  Result<bool> on(const Other&) {
    return false;
  }

  TicketTransaction& tx_;
  const ResolutionPolicy& policy_;
  std::vector<TicketChange>* changes_;
  SmallVector<Tracked, 4> tracked_;
  bool roster_changed_ = false;
};

constexpr int kMaxAttempts = 8;

/// Before a conflict's rerun: a random wait, up to 2^attempt ms (at most 64). Units that met in a
/// database (PostgreSQL's serialization failures) would otherwise start again together and meet
/// again; the wait lets the one that committed get out of the way. Never slept by a store that
/// reports no conflict (the in-memory and SQLite stores).
void wait_before_rerun(int attempt) {
  thread_local std::minstd_rand random(std::random_device{}());
  const int cap = 1 << std::min(attempt, 6);
  std::uniform_int_distribution<int> micros(0, cap * 1000);
  std::this_thread::sleep_for(std::chrono::microseconds(micros(random)));
}

std::int64_t seconds_of(std::chrono::system_clock::time_point tp) {
  return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public functions

std::optional<std::string> event_key(const WebhookEvent& event) {
  std::string k;
  if (!build_key(event, k)) return std::nullopt;
  return k;
}

std::string ticket_id_for_request(std::string_view request_id) { return "T-" + std::string(request_id); }
std::string ticket_id_for_group(std::string_view group_id) { return "G-" + std::string(group_id); }
std::string ticket_id_for_create(std::string_view phone_number_id, std::string_view subject,
                                 std::int64_t requested_at) {
  return create_id('C', create_hash(phone_number_id, subject), requested_at);
}

TicketAggregator::TicketAggregator(TicketStore& store, ResolutionPolicy policy, Clock clock)
    : store_(store), policy_(policy), clock_(std::move(clock)) {}

namespace {

// Runs `body(work)` in one store unit; retried when an optimistic store reports a conflict (the
// unit is safe to rerun: it starts from what the store holds).
template <typename Body>
Result<ApplyOutcome> run_unit(TicketStore& store, const ResolutionPolicy& policy, Body&& body) {
  for (int attempt = 1;; ++attempt) {
    ApplyOutcome outcome;
    struct Ctx {
      const ResolutionPolicy* policy;
      ApplyOutcome* outcome;
      std::remove_reference_t<Body>* body;
    } ctx{&policy, &outcome, &body};
    auto done = store.transact([c = &ctx](TicketTransaction& tx) -> Result<void> {
      c->outcome->changes.clear();
      Work work(tx, *c->policy, c->outcome->changes);
      return (*c->body)(work);
    });
    if (done) return outcome;
    if (done.error().code != ErrorCode::conflict) return done.error();
    if (attempt >= kMaxAttempts) {
      Error gave_up = done.error();
      gave_up.message += " (gave up after " + std::to_string(kMaxAttempts) + " attempts, each refused as a conflict)";
      return gave_up;
    }
    wait_before_rerun(attempt);
  }
}

}  // namespace

Result<ApplyOutcome> TicketAggregator::open_ticket(const OpenTicketRequest& request) {
  const std::pair<const char*, std::string_view> texts[] = {
      {"request_id", request.request_id}, {"phone_number_id", request.phone_number_id}, {"assignee", request.assignee}};
  for (const auto& [field, value] : texts) {
    if (auto bad = not_utf8("open_ticket", field, value)) return *bad;
  }
  if (auto bad = not_utf8("open_ticket", "subject", request.subject)) return *bad;
  // The subject as the client sends it, so that the webhook's echo matches (and the ticket shows it).
  std::optional<std::string> subject;
  if (request.subject) subject = validation::trim(*request.subject);
  const bool by_request = !request.request_id.empty();
  if (!by_request && request.phone_number_id.empty())
    return Error::invalid_argument("phone_number_id", "not empty without a request_id",
                                   "open_ticket without create_group's request_id matches the group_create webhook "
                                   "by phone_number_id and subject");
  if (!by_request && (!subject || subject->empty()))
    return Error::invalid_argument("subject", "not empty without a request_id",
                                   "open_ticket without create_group's request_id matches the group_create webhook "
                                   "by phone_number_id and subject");
  const std::int64_t requested_at =
      request.requested_at ? *request.requested_at : seconds_of(clock_ ? clock_() : std::chrono::system_clock::now());
  std::string ticket_id;
  auto outcome = run_unit(store_, policy_, [&](Work& work) {
    return work.action([&](Work& w) -> Result<void> {
      auto found = by_request ? w.request_ticket(request.request_id)
                              : w.create_ticket(request.phone_number_id, *subject, requested_at, request.assignee,
                                                !request.requested_at);
      if (!found) return found.error();
      Ticket& t = **found;
      ticket_id = t.ticket_id;
      bool fields = !t.opened_by_host;
      t.opened_by_host = true;
      if (!t.assignee && !request.assignee.empty()) {
        t.assignee = request.assignee;
        fields = true;
      }
      const std::string pnid = t.phone_number_id;
      join_text(t.phone_number_id, request.phone_number_id);
      fields |= pnid != t.phone_number_id;
      if (subject && !subject->empty() && !t.subject) {
        t.subject = subject;
        fields = true;
      }
      const auto created = t.created_at;
      join_min(t.created_at, requested_at);
      fields |= created != t.created_at;
      if (fields) w.change(TicketChangeKind::fields_changed, t);
      return {};
    });
  });
  if (outcome) outcome->ticket_id = std::move(ticket_id);
  return outcome;
}

Result<ApplyOutcome> TicketAggregator::apply(const WebhookEvent& event) {
  return run_unit(store_, policy_, [&](Work& work) { return work.event(event); });
}

Result<ApplyOutcome> TicketAggregator::apply(const std::vector<WebhookEvent>& events) {
  return run_unit(store_, policy_, [&](Work& work) -> Result<void> {
    work.reserve_changes(events.size());
    for (const auto& e : events) {
      auto r = work.event(e);
      if (!r) return r;
    }
    return {};
  });
}

Result<ApplyOutcome> TicketAggregator::apply(const WebhookBatch& batch) { return apply(batch.events); }

Result<std::vector<ApplyOutcome>> TicketAggregator::apply_each(const std::vector<const WebhookBatch*>& bodies) {
  std::vector<ApplyOutcome> outcomes(bodies.size());
  auto whole = run_unit(store_, policy_, [&](Work& work) -> Result<void> {
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      outcomes[i].changes.clear();  // a rerun (optimistic store) starts over
      work.redirect(outcomes[i].changes);
      for (const auto& e : bodies[i]->events) {
        auto r = work.event(e);
        if (!r) return r;
      }
    }
    return {};
  });
  if (!whole) return whole.error();
  return outcomes;
}

Result<ApplyOutcome> TicketAggregator::record_outbound(const std::string& ticket_id, const std::string& message_id,
                                                      std::string type, std::optional<std::string> text,
                                                      std::optional<std::string> agent) {
  const std::pair<const char*, std::string_view> texts[] = {
      {"ticket_id", ticket_id}, {"message_id", message_id}, {"type", type}};
  for (const auto& [field, value] : texts) {
    if (auto bad = not_utf8("record_outbound", field, value)) return *bad;
  }
  if (auto bad = not_utf8("record_outbound", "text", text)) return *bad;
  if (auto bad = not_utf8("record_outbound", "agent", agent)) return *bad;
  if (message_id.empty()) return Error::invalid_argument("message_id", "not empty", "record_outbound needs the wamid");
  const std::int64_t now = seconds_of(clock_ ? clock_() : std::chrono::system_clock::now());
  return run_unit(store_, policy_, [&](Work& work) {
    return work.action([&](Work& w) -> Result<void> {
      auto found = w.existing_ticket(ticket_id);
      if (!found) return found.error();
      Ticket& t = **found;
      auto declared = w.changing(t, message_id);
      if (!declared) return declared;
      auto located = w.locate(t, message_id);
      if (!located) return located.error();
      if (auto at = *located) {
        // A status made a stub first: fill it in; the send cannot be later than its status.
        std::size_t i = *at;
        if (now < t.timeline[i].timestamp) i = move_earlier(t.timeline, i, now);
        TimelineMessage& m = t.timeline[i];
        join_text(m.type, type);
        join_text(m.text, text);
        join_text(m.agent, agent);
        w.change(TicketChangeKind::fields_changed, t, message_id);
        return {};
      }
      TimelineMessage m;
      m.message_id = message_id;
      m.direction = MessageDirection::outbound;
      m.timestamp = now;
      // Copies: the unit may run again (a store's conflict), and must find its inputs whole.
      m.type = type;
      m.text = text;
      m.agent = agent;
      insert_sorted(t.timeline, std::move(m));
      auto indexed = w.index(message_id, t);
      if (!indexed) return indexed;
      w.change(TicketChangeKind::message_appended, t, message_id);
      return {};
    });
  });
}

Result<ApplyOutcome> TicketAggregator::record_invite(const std::string& ticket_id, Invite invite) {
  if (auto bad = not_utf8("record_invite", "ticket_id", std::string_view(ticket_id))) return *bad;
  if (auto bad = not_utf8("record_invite", "phone", std::string_view(invite.phone))) return *bad;
  if (auto bad = not_utf8("record_invite", "message_id", invite.message_id)) return *bad;
  // The error is diagnostic text, typically Error::to_string() of a Graph answer whose bytes the
  // SDK passes through: repaired (U+FFFD), not refused, so the invite is recorded all the same.
  if (invite.error && !text::is_valid_utf8(*invite.error)) invite.error = text::repair_utf8(*invite.error);
  if (invite.phone.empty()) return Error::invalid_argument("phone", "not empty", "an invite needs the invitee's phone");
  return run_unit(store_, policy_, [&](Work& work) {
    return work.action([&](Work& w) -> Result<void> {
      auto found = w.existing_ticket(ticket_id);
      if (!found) return found.error();
      Ticket& t = **found;
      const std::optional<std::string> message_id = nonempty(invite.message_id);
      if (!merge_invite(t.invites, invite)) return {};
      if (message_id) {
        auto indexed = w.index(*message_id, t);
        if (!indexed) return indexed;
      }
      w.change(TicketChangeKind::invite_updated, t, message_id);
      return {};
    });
  });
}

Result<ApplyOutcome> TicketAggregator::resolve(const std::string& ticket_id) {
  const std::int64_t now = seconds_of(clock_ ? clock_() : std::chrono::system_clock::now());
  return run_unit(store_, policy_, [&](Work& work) {
    return work.action([&](Work& w) -> Result<void> {
      auto found = w.existing_ticket(ticket_id);
      if (!found) return found.error();
      join_max((*found)->resolved_at, now);
      return {};
    });
  });
}

Result<ApplyOutcome> TicketAggregator::close(const std::string& ticket_id) {
  const std::int64_t now = seconds_of(clock_ ? clock_() : std::chrono::system_clock::now());
  return run_unit(store_, policy_, [&](Work& work) {
    return work.action([&](Work& w) -> Result<void> {
      auto found = w.existing_ticket(ticket_id);
      if (!found) return found.error();
      // The earliest close stands (with a monotonic clock: the first one).
      join_min((*found)->closed_at, now);
      return {};
    });
  });
}

Result<ApplyOutcome> TicketAggregator::tick(std::chrono::system_clock::time_point now_tp) {
  const std::int64_t now = seconds_of(now_tp);
  const std::int64_t resolve_after = std::chrono::duration_cast<std::chrono::seconds>(policy_.auto_resolve_after).count();
  const std::int64_t close_after = std::chrono::duration_cast<std::chrono::seconds>(policy_.auto_close_after).count();
  // The moments a ticket becomes idle / due for closing are functions of its facts, so repeated
  // ticks agree and one tick does both steps when both are due.
  auto due = [&](const Ticket& t) {
    if (t.state == TicketState::open && resolve_after > 0 && now - t.last_activity_at >= resolve_after) return true;
    if (t.state == TicketState::resolved && close_after > 0 && t.resolved_at && now - *t.resolved_at >= close_after)
      return true;
    return false;
  };
  // Only the due tickets, from the store's deadline indexes: open ones idle since
  // `now - resolve_after`, resolved ones resolved since `now - close_after`.
  std::vector<std::string> candidates;
  for (TicketState state : {TicketState::open, TicketState::resolved}) {
    TicketQuery q;
    q.state = state;
    q.limit = std::numeric_limits<std::size_t>::max();
    if (state == TicketState::open) {
      if (resolve_after <= 0) continue;
      q.last_activity_at_most = now - resolve_after;
    } else {
      if (close_after <= 0) continue;
      q.resolved_at_most = now - close_after;
    }
    auto listed = store_.list_ids(q);
    if (!listed) return listed.error();
    candidates.insert(candidates.end(), std::make_move_iterator(listed->begin()),
                      std::make_move_iterator(listed->end()));
  }
  ApplyOutcome empty;
  if (candidates.empty()) return empty;
  return run_unit(store_, policy_, [&](Work& work) -> Result<void> {
    for (const auto& id : candidates) {
      auto done = work.action([&](Work& w) -> Result<void> {
        auto found = w.tx().edit(id);
        if (!found) return found.error();
        if (!*found || !due(**found)) return {};  // changed since it was listed
        auto tracked = w.existing_ticket(id);
        if (!tracked) return tracked.error();
        Ticket& t = **tracked;
        if (t.state == TicketState::open && resolve_after > 0 && now - t.last_activity_at >= resolve_after) {
          join_max(t.resolved_at, t.last_activity_at + resolve_after);
          finish(t, w.policy());
        }
        if (t.state == TicketState::resolved && close_after > 0 && t.resolved_at && now - *t.resolved_at >= close_after)
          join_min(t.closed_at, *t.resolved_at + close_after);
        return {};
      });
      if (!done) return done;
    }
    return {};
  });
}

Result<ApplyOutcome> TicketAggregator::tick() { return tick(clock_ ? clock_() : std::chrono::system_clock::now()); }

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
