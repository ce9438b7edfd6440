// The ticket model: names of its enums, equality, helpers, and its JSON form ({"v":1,...}).

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "json/json.hpp"
#include "tickets/rules.hpp"
#include "tickets/ticket_json.hpp"
#include "util/text.hpp"
#include "wagroups/tickets.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

// ---------------------------------------------------------------------------------------------
// Names

const char* to_string(TicketState state) noexcept {
  switch (state) {
    case TicketState::unlinked: return "unlinked";
    case TicketState::create_requested: return "create_requested";
    case TicketState::creation_failed: return "creation_failed";
    case TicketState::awaiting_first_join: return "awaiting_first_join";
    case TicketState::open: return "open";
    case TicketState::resolved: return "resolved";
    case TicketState::closed: return "closed";
  }
  return "unlinked";
}

std::optional<TicketState> parse_ticket_state(std::string_view text) noexcept {
  for (auto s : {TicketState::unlinked, TicketState::create_requested, TicketState::creation_failed,
                 TicketState::awaiting_first_join, TicketState::open, TicketState::resolved, TicketState::closed})
    if (text == to_string(s)) return s;
  return std::nullopt;
}

const char* to_string(MemberStatus status) noexcept {
  switch (status) {
    case MemberStatus::invited: return "invited";
    case MemberStatus::join_requested: return "join_requested";
    case MemberStatus::join_request_revoked: return "join_request_revoked";
    case MemberStatus::joined: return "joined";
    case MemberStatus::left: return "left";
    case MemberStatus::removed: return "removed";
  }
  return "invited";
}

std::optional<MemberStatus> parse_member_status(std::string_view text) noexcept {
  for (auto s : {MemberStatus::invited, MemberStatus::join_requested, MemberStatus::join_request_revoked,
                 MemberStatus::joined, MemberStatus::left, MemberStatus::removed})
    if (text == to_string(s)) return s;
  return std::nullopt;
}

const char* to_string(TicketChangeKind kind) noexcept {
  switch (kind) {
    case TicketChangeKind::ticket_created: return "ticket_created";
    case TicketChangeKind::ticket_linked: return "ticket_linked";
    case TicketChangeKind::message_appended: return "message_appended";
    case TicketChangeKind::status_advanced: return "status_advanced";
    case TicketChangeKind::roster_changed: return "roster_changed";
    case TicketChangeKind::invite_updated: return "invite_updated";
    case TicketChangeKind::state_changed: return "state_changed";
    case TicketChangeKind::fields_changed: return "fields_changed";
    case TicketChangeKind::duplicate_ignored: return "duplicate_ignored";
    case TicketChangeKind::not_applicable: return "not_applicable";
  }
  return "not_applicable";
}

bool ApplyOutcome::changed_anything() const noexcept {
  for (const auto& c : changes)
    if (c.kind != TicketChangeKind::duplicate_ignored && c.kind != TicketChangeKind::not_applicable) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Helpers

std::string PersonKey::canonical() const {
  if (bsuid) return "bsuid:" + *bsuid;
  if (phone) return "phone:" + *phone;
  return {};
}

int Ticket::seats_taken() const noexcept {
  int seats = 1;  // the business
  for (const auto& m : members)
    if (m.status == MemberStatus::joined || m.status == MemberStatus::join_requested) ++seats;
  for (const auto& invite : invites) {
    const bool failed = invite.status == DeliveryStatus::failed || (!invite.message_id && invite.error);
    if (failed) continue;
    const bool member = std::any_of(members.begin(), members.end(), [&](const Member& m) {
      return m.person.phone && *m.person.phone == invite.phone;
    });
    if (!member) ++seats;
  }
  return seats;
}

const Member* Ticket::find_member(const PersonKey& person) const noexcept {
  for (const auto& m : members)
    if (tickets_detail::same_person(m.person, person)) return &m;
  return nullptr;
}

const TimelineMessage* Ticket::find_message(std::string_view message_id) const noexcept {
  // Lookups are mostly about recent messages: search from the end.
  for (auto it = timeline.rbegin(); it != timeline.rend(); ++it)
    if (it->message_id == message_id) return &*it;
  return nullptr;
}

namespace tickets_detail {

bool item_error_equal(const ItemError& a, const ItemError& b) noexcept {
  return a.code == b.code && a.title == b.title && a.message == b.message && a.details == b.details &&
         a.href == b.href;
}

bool item_error_less(const ItemError& a, const ItemError& b) noexcept {
  // Code and message first (how they read), then the rest for a total order.
  if (a.code != b.code) return a.code < b.code;
  if (a.message != b.message) return a.message < b.message;
  if (a.title != b.title) return a.title < b.title;
  if (a.details != b.details) return a.details < b.details;
  return a.href < b.href;
}

}  // namespace tickets_detail

namespace {

bool errors_equal(const std::vector<ItemError>& a, const std::vector<ItemError>& b) noexcept {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), tickets_detail::item_error_equal);
}

}  // namespace

bool operator==(const PersonKey& a, const PersonKey& b) noexcept {
  return a.phone == b.phone && a.bsuid == b.bsuid && a.username == b.username;
}

bool operator==(const Member& a, const Member& b) noexcept {
  return a.person == b.person && a.status == b.status && a.status_since == b.status_since &&
         a.join_request_id == b.join_request_id && a.join_request_at == b.join_request_at &&
         a.contact_name == b.contact_name && a.contact_name_at == b.contact_name_at &&
         a.first_joined_at == b.first_joined_at;
}

bool operator==(const Invite& a, const Invite& b) noexcept {
  return a.phone == b.phone && a.sent_at == b.sent_at && a.message_id == b.message_id && a.status == b.status &&
         a.error == b.error;
}

bool operator==(const TimelineMessage& a, const TimelineMessage& b) noexcept {
  return a.message_id == b.message_id && a.direction == b.direction && a.timestamp == b.timestamp &&
         a.sender == b.sender && a.contact_name == b.contact_name && a.agent == b.agent && a.type == b.type &&
         a.text == b.text && a.caption == b.caption && a.media_id == b.media_id && a.reply_to == b.reply_to &&
         a.delivery == b.delivery && a.group_status == b.group_status && errors_equal(a.errors, b.errors);
}

bool operator==(const Ticket& a, const Ticket& b) noexcept {
  return a.ticket_id == b.ticket_id && a.group_id == b.group_id && a.request_id == b.request_id &&
         a.phone_number_id == b.phone_number_id && a.subject == b.subject && a.description == b.description &&
         a.subject_changed_at == b.subject_changed_at && a.description_changed_at == b.description_changed_at &&
         a.assignee == b.assignee && a.opened_by_host == b.opened_by_host && a.invite_link == b.invite_link &&
         a.state == b.state && a.group_created == b.group_created && a.suspended == b.suspended &&
         a.suspension_changed_at == b.suspension_changed_at && a.group_deleted == b.group_deleted &&
         a.deleted_at == b.deleted_at && errors_equal(a.creation_errors, b.creation_errors) && a.members == b.members &&
         a.invites == b.invites && a.timeline == b.timeline && a.created_at == b.created_at &&
         a.first_join_at == b.first_join_at && a.last_activity_at == b.last_activity_at &&
         a.last_inbound_at == b.last_inbound_at && a.resolved_at == b.resolved_at && a.closed_at == b.closed_at;
}

// ---------------------------------------------------------------------------------------------
// JSON. Unset optionals are omitted, set ones always written (so "" round-trips as ""); fields
// with a default value are omitted inside the timeline, the bulk of a stored ticket.

namespace {

constexpr int kFormatVersion = 1;

// Every text goes through these: the document must stay valid UTF-8 whatever a host or an older
// version put in the ticket (RapidJSON's writer copies bytes as they are), or it could not be read
// back. Control characters, NUL included, are escaped by the writer (\u0000), so they round-trip.
void text_field(json::Writer& w, std::string_view key, std::string_view value) {
  if (text::is_valid_utf8(key) && text::is_valid_utf8(value)) {
    w.field(key, value);
    return;
  }
  w.field(text::repair_utf8(key), text::repair_utf8(value));
}

void text_field(json::Writer& w, std::string_view key, const std::string& value) {
  text_field(w, key, std::string_view(value));
}

void text_field(json::Writer& w, std::string_view key, const std::optional<std::string>& value) {
  if (value) text_field(w, key, std::string_view(*value));
}

const char* direction_name(MessageDirection d) noexcept {
  return d == MessageDirection::inbound ? "inbound" : "outbound";
}

void write_person(json::Writer& w, std::string_view key, const PersonKey& p) {
  w.key(key).begin_object();
  text_field(w, "phone", p.phone);
  text_field(w, "bsuid", p.bsuid);
  text_field(w, "username", p.username);
  w.end_object();
}

void write_errors(json::Writer& w, std::string_view key, const std::vector<ItemError>& errors) {
  w.key(key).begin_array();
  for (const auto& e : errors) {
    w.begin_object().field("code", e.code);
    text_field(w, "title", e.title);
    text_field(w, "message", e.message);
    text_field(w, "details", e.details);
    text_field(w, "href", e.href);
    w.end_object();
  }
  w.end_array();
}

}  // namespace

namespace {

// The parts of the format, shared by `to_json` (one document) and the SQLite store's rows (one
// document per message, member and invite, plus the head: see ticket_json.hpp).

void write_head_start(json::Writer& w, const Ticket& t) {
  w.field("v", kFormatVersion);
  text_field(w, "ticket_id", t.ticket_id);
  text_field(w, "group_id", t.group_id);
  text_field(w, "request_id", t.request_id);
  text_field(w, "phone_number_id", t.phone_number_id);
  text_field(w, "subject", t.subject);
  w.optional_field("subject_changed_at", t.subject_changed_at);
  text_field(w, "description", t.description);
  w.optional_field("description_changed_at", t.description_changed_at);
  text_field(w, "assignee", t.assignee);
  if (t.opened_by_host) w.field("opened_by_host", true);
  text_field(w, "invite_link", t.invite_link);
  w.field("state", to_string(t.state));
  w.field("group_created", t.group_created);
  w.field("suspended", t.suspended);
  w.field("suspension_changed_at", t.suspension_changed_at);
  w.field("group_deleted", t.group_deleted);
  w.optional_field("deleted_at", t.deleted_at);
  write_errors(w, "creation_errors", t.creation_errors);
}

void write_head_end(json::Writer& w, const Ticket& t) {
  w.optional_field("created_at", t.created_at);
  w.optional_field("first_join_at", t.first_join_at);
  w.field("last_activity_at", t.last_activity_at);
  w.optional_field("last_inbound_at", t.last_inbound_at);
  w.optional_field("resolved_at", t.resolved_at);
  w.optional_field("closed_at", t.closed_at);
}

void write_member(json::Writer& w, const Member& m) {
  w.begin_object();
  write_person(w, "person", m.person);
  w.field("status", to_string(m.status));
  w.field("status_since", m.status_since);
  text_field(w, "join_request_id", m.join_request_id);
  w.field("join_request_at", m.join_request_at);
  text_field(w, "contact_name", m.contact_name);
  w.field("contact_name_at", m.contact_name_at);
  w.optional_field("first_joined_at", m.first_joined_at);
  w.end_object();
}

void write_invite(json::Writer& w, const Invite& i) {
  w.begin_object();
  text_field(w, "phone", i.phone);
  w.field("sent_at", i.sent_at);
  text_field(w, "message_id", i.message_id);
  w.field("status", to_string(i.status));
  text_field(w, "error", i.error);
  w.end_object();
}

void write_message(json::Writer& w, const TimelineMessage& m) {
  w.begin_object();
  text_field(w, "message_id", m.message_id);
  w.field("direction", direction_name(m.direction));
  w.field("timestamp", m.timestamp);
  if (!m.sender.empty() || m.sender.username) write_person(w, "sender", m.sender);
  text_field(w, "contact_name", m.contact_name);
  text_field(w, "agent", m.agent);
  text_field(w, "type", m.type);
  text_field(w, "text", m.text);
  text_field(w, "caption", m.caption);
  text_field(w, "media_id", m.media_id);
  text_field(w, "reply_to", m.reply_to);
  if (!m.delivery.empty()) {
    w.key("delivery").begin_object();
    for (const auto& [who, status] : m.delivery) text_field(w, who, std::string_view(to_string(status)));
    w.end_object();
  }
  if (m.group_status != DeliveryStatus::unknown) w.field("group_status", to_string(m.group_status));
  if (!m.errors.empty()) write_errors(w, "errors", m.errors);
  w.end_object();
}

}  // namespace

std::string to_json(const Ticket& t) {
  json::Writer w;
  w.begin_object();
  write_head_start(w, t);
  w.key("members").begin_array();
  for (const auto& m : t.members) write_member(w, m);
  w.end_array();
  w.key("invites").begin_array();
  for (const auto& i : t.invites) write_invite(w, i);
  w.end_array();
  w.key("timeline").begin_array();
  for (const auto& m : t.timeline) write_message(w, m);
  w.end_array();
  write_head_end(w, t);
  w.end_object();
  return w.str();
}

namespace tickets_detail {

std::string head_to_json(const Ticket& t) {
  json::Writer w;
  w.begin_object();
  write_head_start(w, t);
  write_head_end(w, t);
  w.end_object();
  return w.str();
}

std::string member_to_json(const Member& m) {
  json::Writer w;
  write_member(w, m);
  return w.str();
}

std::string invite_to_json(const Invite& i) {
  json::Writer w;
  write_invite(w, i);
  return w.str();
}

std::string message_to_json(const TimelineMessage& m) {
  json::Writer w;
  write_message(w, m);
  return w.str();
}

}  // namespace tickets_detail

namespace {

// Thrown and caught inside ticket_from_json only: one exit for every malformed spot.
struct Malformed {
  std::string field;
  std::string rule;
};

// Strict readers over our own format: a present key of the wrong type is malformed (the lenient
// webhook getters would accept "12" for 12, which would not round-trip).
class Reader {
 public:
  Reader(const json::Value& obj, std::string path) : obj_(obj), path_(std::move(path)) {
    if (!obj_.IsObject()) fail("", "an object");
  }

  [[noreturn]] void fail(std::string_view key, std::string rule) const {
    std::string field = path_;
    if (!key.empty()) {
      if (!field.empty()) field += '.';
      field += key;
    }
    throw Malformed{std::move(field), std::move(rule)};
  }

  const json::Value* find(const char* key) const {
    auto it = obj_.FindMember(key);
    return it == obj_.MemberEnd() ? nullptr : &it->value;
  }

  std::optional<std::string> opt_string(const char* key) const {
    const json::Value* v = find(key);
    if (!v) return std::nullopt;
    if (!v->IsString()) fail(key, "a string");
    return std::string(v->GetString(), v->GetStringLength());
  }
  std::string string(const char* key, bool required = true) const {
    auto s = opt_string(key);
    if (!s && required) fail(key, "present");
    return s ? std::move(*s) : std::string();
  }
  std::optional<std::int64_t> opt_int(const char* key) const {
    const json::Value* v = find(key);
    if (!v) return std::nullopt;
    if (!v->IsInt64()) fail(key, "an integer");
    return v->GetInt64();
  }
  std::int64_t integer(const char* key, std::int64_t fallback = 0) const { return opt_int(key).value_or(fallback); }
  bool boolean(const char* key) const {
    const json::Value* v = find(key);
    if (!v) return false;
    if (!v->IsBool()) fail(key, "a boolean");
    return v->GetBool();
  }
  const json::Value* array(const char* key) const {
    const json::Value* v = find(key);
    if (v && !v->IsArray()) fail(key, "an array");
    return v;
  }
  const json::Value* object(const char* key) const {
    const json::Value* v = find(key);
    if (v && !v->IsObject()) fail(key, "an object");
    return v;
  }
  std::string child(std::string_view key, std::size_t index) const {
    std::string p = path_;
    if (!p.empty()) p += '.';
    p += key;
    p += '[';
    p += std::to_string(index);
    p += ']';
    return p;
  }
  std::string child(std::string_view key) const { return path_.empty() ? std::string(key) : path_ + "." + std::string(key); }

  DeliveryStatus delivery(const char* key) const {
    auto text = opt_string(key);
    if (!text) return DeliveryStatus::unknown;
    return parse_status(*text, key);
  }
  DeliveryStatus parse_status(const std::string& text, std::string_view key) const {
    DeliveryStatus s = parse_delivery_status(text);
    if (s == DeliveryStatus::unknown && text != "unknown") fail(key, "a delivery status");
    return s;
  }

 private:
  const json::Value& obj_;
  std::string path_;
};

PersonKey read_person(const json::Value& v, const std::string& path) {
  Reader r(v, path);
  return PersonKey{r.opt_string("phone"), r.opt_string("bsuid"), r.opt_string("username")};
}

// Every list in the format: an optional array whose items are read by `read_one(Reader&)`, each
// with its path (e.g. "timeline[3]") for the error.
template <typename ReadOne>
auto read_list(const Reader& parent, const char* key, ReadOne read_one) {
  std::vector<decltype(read_one(std::declval<Reader&>()))> out;
  const json::Value* arr = parent.array(key);
  if (!arr) return out;
  out.reserve(arr->Size());
  for (rapidjson::SizeType i = 0; i < arr->Size(); ++i) {
    Reader item((*arr)[i], parent.child(key, i));
    out.push_back(read_one(item));
  }
  return out;
}

std::vector<ItemError> read_errors(const Reader& parent, const char* key) {
  return read_list(parent, key, [](Reader& r) {
    ItemError e;
    const std::int64_t code = r.integer("code");
    if (code < std::numeric_limits<int>::min() || code > std::numeric_limits<int>::max())
      r.fail("code", "a 32-bit integer");
    e.code = static_cast<int>(code);
    e.title = r.opt_string("title");
    e.message = r.opt_string("message");
    e.details = r.opt_string("details");
    e.href = r.opt_string("href");
    return e;
  });
}

Member read_member(Reader& m) {
  Member member;
  if (const json::Value* p = m.object("person")) member.person = read_person(*p, m.child("person"));
  if (auto status = m.opt_string("status")) {
    auto parsed = parse_member_status(*status);
    if (!parsed) m.fail("status", "a member status");
    member.status = *parsed;
  }
  member.status_since = m.integer("status_since");
  member.join_request_id = m.opt_string("join_request_id");
  member.join_request_at = m.integer("join_request_at");
  member.contact_name = m.opt_string("contact_name");
  member.contact_name_at = m.integer("contact_name_at");
  member.first_joined_at = m.opt_int("first_joined_at");
  return member;
}

Invite read_invite(Reader& in) {
  Invite invite;
  invite.phone = in.string("phone");
  invite.sent_at = in.integer("sent_at");
  invite.message_id = in.opt_string("message_id");
  invite.status = in.delivery("status");
  invite.error = in.opt_string("error");
  return invite;
}

TimelineMessage read_message(Reader& m) {
  TimelineMessage msg;
  msg.message_id = m.string("message_id");
  const std::string direction = m.string("direction");
  if (direction == "inbound") {
    msg.direction = MessageDirection::inbound;
  } else if (direction == "outbound") {
    msg.direction = MessageDirection::outbound;
  } else {
    m.fail("direction", "inbound or outbound");
  }
  msg.timestamp = m.integer("timestamp");
  if (const json::Value* p = m.object("sender")) msg.sender = read_person(*p, m.child("sender"));
  msg.contact_name = m.opt_string("contact_name");
  msg.agent = m.opt_string("agent");
  msg.type = m.string("type", false);
  msg.text = m.opt_string("text");
  msg.caption = m.opt_string("caption");
  msg.media_id = m.opt_string("media_id");
  msg.reply_to = m.opt_string("reply_to");
  if (const json::Value* d = m.object("delivery")) {
    const std::string path = m.child("delivery");
    for (auto it = d->MemberBegin(); it != d->MemberEnd(); ++it) {
      const Reader entries(*d, path);
      std::string who(it->name.GetString(), it->name.GetStringLength());
      if (!it->value.IsString()) entries.fail(who, "a delivery status");
      const DeliveryStatus status =
          entries.parse_status(std::string(it->value.GetString(), it->value.GetStringLength()), who);
      msg.delivery[std::move(who)] = status;
    }
  }
  msg.group_status = m.delivery("group_status");
  msg.errors = read_errors(m, "errors");
  return msg;
}

Ticket read_ticket(const json::Value& root) {
  Reader r(root, "");
  const json::Value* v = r.find("v");
  if (!v) r.fail("v", "present");
  if (!v->IsInt() || v->GetInt() != kFormatVersion) r.fail("v", "format version 1");

  Ticket t;
  t.ticket_id = r.string("ticket_id");
  t.group_id = r.opt_string("group_id");
  t.request_id = r.opt_string("request_id");
  t.phone_number_id = r.string("phone_number_id", false);
  t.subject = r.opt_string("subject");
  t.subject_changed_at = r.opt_int("subject_changed_at");
  t.description = r.opt_string("description");
  t.description_changed_at = r.opt_int("description_changed_at");
  t.assignee = r.opt_string("assignee");
  t.opened_by_host = r.boolean("opened_by_host");
  t.invite_link = r.opt_string("invite_link");
  if (auto state = r.opt_string("state")) {
    auto parsed = parse_ticket_state(*state);
    if (!parsed) r.fail("state", "a ticket state");
    t.state = *parsed;
  }
  t.group_created = r.boolean("group_created");
  t.suspended = r.boolean("suspended");
  t.suspension_changed_at = r.integer("suspension_changed_at");
  t.group_deleted = r.boolean("group_deleted");
  t.deleted_at = r.opt_int("deleted_at");
  t.creation_errors = read_errors(r, "creation_errors");

  t.members = read_list(r, "members", read_member);
  t.invites = read_list(r, "invites", read_invite);
  t.timeline = read_list(r, "timeline", read_message);

  t.created_at = r.opt_int("created_at");
  t.first_join_at = r.opt_int("first_join_at");
  t.last_activity_at = r.integer("last_activity_at");
  t.last_inbound_at = r.opt_int("last_inbound_at");
  t.resolved_at = r.opt_int("resolved_at");
  t.closed_at = r.opt_int("closed_at");
  return t;
}

}  // namespace

namespace {

// Parses one document of the format (a whole ticket, or one of the SQLite store's parts) and
// reads it with `read`; `what` names it in errors ("ticket JSON", "message JSON").
template <typename Read>
auto decode_document(std::string_view text, const char* what, Read read)
    -> Result<decltype(read(std::declval<const json::Value&>()))> {
  json::ScratchDocument doc;
  std::string parse_error;
  bool parsed = json::parse(text, doc, parse_error);
  std::string repaired;
  if (!parsed && !text::is_valid_utf8(text)) {
    // Bytes that are not UTF-8 can only sit inside strings: written by wagroups 0.2, which stored
    // host text unchecked. Read them as U+FFFD rather than lose the whole ticket.
    repaired = text::repair_utf8(text);
    parsed = json::parse(repaired, doc, parse_error);
  }
  if (!parsed) {
    Error e = Error::decode_failure(0, std::string(what) + ": " + parse_error);
    e.field = "ticket";
    return e;
  }
  try {
    return read(doc.get());
  } catch (const Malformed& m) {
    Error e = Error::decode_failure(
        0, std::string(what) + ": " + (m.field.empty() ? std::string("the document") : m.field) + " must be " + m.rule);
    e.field = m.field.empty() ? "ticket" : m.field;
    e.limit = m.rule;
    return e;
  }
}

}  // namespace

Result<Ticket> ticket_from_json(std::string_view text) {
  return decode_document(text, "ticket JSON", [](const json::Value& root) { return read_ticket(root); });
}

namespace tickets_detail {

Result<Ticket> head_from_json(std::string_view text, bool& whole) {
  return decode_document(text, "ticket JSON", [&whole](const json::Value& root) {
    Ticket t = read_ticket(root);
    whole = root.IsObject() && (root.HasMember("members") || root.HasMember("invites") || root.HasMember("timeline"));
    return t;
  });
}

Result<Member> member_from_json(std::string_view text) {
  return decode_document(text, "member JSON", [](const json::Value& root) {
    Reader r(root, "");
    return read_member(r);
  });
}

Result<Invite> invite_from_json(std::string_view text) {
  return decode_document(text, "invite JSON", [](const json::Value& root) {
    Reader r(root, "");
    return read_invite(r);
  });
}

Result<TimelineMessage> message_from_json(std::string_view text) {
  return decode_document(text, "message JSON", [](const json::Value& root) {
    Reader r(root, "");
    return read_message(r);
  });
}

}  // namespace tickets_detail

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
