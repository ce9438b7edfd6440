// WebhookParser: one verified POST body -> typed events.
//
// Choices (each is tested in tests/unit/test_webhook_hostile.cpp):
// * Checked in this order: size (`max_body_bytes`, before anything is read or copied), empty body,
//   then strict RFC 8259 JSON in one pass (strict_reader.hpp): no comments, no trailing commas,
//   exactly one root value (trailing data is an error), no NUL byte, strings of well-formed UTF-8
//   (no overlongs, no encoded surrogates, nothing above U+10FFFF; \u escapes of unpaired
//   surrogates refused too, so every string an event hands out is valid UTF-8; "\u0000" is valid
//   JSON and kept), nesting at most `max_depth` open containers (an explicit stack, no recursion:
//   no setting lets hostile input exhaust the call stack). Then the envelope. Any failure refuses
//   the whole body with ErrorCode::decode, `field` naming where ("body",
//   "entry[1].changes[0].value") and `limit` the rule, so a host answers non-2xx and nothing
//   half-applies.
// * The body is parsed in place into a DOM whose nodes live in a pool owned, with the body text,
//   by one shared holder (parsed_body.hpp): strings are not copied, and every RawJson of the batch
//   keeps the holder alive.
// * Envelope: the root must be an object, `entry` an array of objects, each with a `changes` array
//   of objects, each with a string `field` and an object `value`. For the group fields and
//   `messages`, `value.groups` / `value.messages` / `value.statuses` must be arrays of objects when
//   present. Anything else is refused with the path. `object` is recorded as sent.
// * Items are read leniently: a member of the wrong type is left unset (or empty), strings and
//   numbers interchange, unknown members are ignored (they stay in `raw`). An item that cannot be
//   typed (unknown or missing `type`, a group event without `group_id`, a message or status
//   without `id`) becomes an UnknownEvent carrying the item; nothing is dropped.
// * Spellings: `group_participant_update` (OpenAPI) is read like `group_participants_update`,
//   `group_add_participants` / `group_remove_participants` like `group_participants_add` /
//   `_remove`, `participant_recipient_id` like `recipient_participant_id`. Events are keyed on the
//   item's `type`, whichever group field carried it. A status in the OpenAPI spec's shape (`group_id`
//   set, no participant field, the person in `recipient_id`) maps `recipient_id` to the participant.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "json/rapidjson.hpp"
#include <rapidjson/error/en.h>

#include "json/codecs.hpp"
#include "json/json.hpp"
#include "wagroups/webhook.hpp"
#include "webhook/parsed_body.hpp"
#include "webhook/strict_reader.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

namespace {

using json::Value;
using webhook::ParsedBody;

Error body_error(std::string limit, std::string message) {
  return Error::malformed_webhook("body", std::move(limit), "webhook body: " + std::move(message));
}

Error shape_error(const std::string& where, const char* expected) {
  return Error::malformed_webhook(where, expected, "webhook body: " + where + " is not " + expected);
}

// ---------------------------------------------------------------------------------------------
// Parsing: StrictReader -> the DOM.

// The DOM under construction: nodes in the holder's pool; the build stack in a pool over a buffer
// on this thread's stack (discarded once the root is moved into the holder).
using BuildDocument = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                                 rapidjson::MemoryPoolAllocator<>>;

// Parses holder.text (the body, `length` bytes) in place into holder.root.
std::optional<Error> parse_json(ParsedBody& holder, std::size_t length, const WebhookLimits& limits) {
  alignas(16) char stack_buffer[4096];
  rapidjson::MemoryPoolAllocator<> stack_pool(stack_buffer, sizeof stack_buffer);
  BuildDocument doc(&holder.pool, 1024, &stack_pool);
  webhook::StrictReader<BuildDocument> reader(&holder.text[0], length, limits.max_depth, doc);
  auto generate = [&reader](BuildDocument&) { return reader.read(); };
  doc.Populate(generate);
  const webhook::ReadFailure& failure = reader.failure();
  if (failure.kind == webhook::ReadFailure::Kind::none) {
    holder.root.Swap(doc);  // the nodes stay in holder.pool; `doc` keeps only its build stack
    return std::nullopt;
  }
  const std::string at = " at offset " + std::to_string(failure.offset);
  switch (failure.kind) {
    case webhook::ReadFailure::Kind::too_deep:
      return body_error("nesting at most " + std::to_string(limits.max_depth) + " levels",
                        "nested deeper than " + std::to_string(limits.max_depth) + " levels" + at);
    case webhook::ReadFailure::Kind::invalid_utf8:
      return body_error("valid UTF-8", "invalid UTF-8" + at);
    case webhook::ReadFailure::Kind::lone_surrogate:
      return body_error("valid UTF-8", "a \\u escape of an unpaired UTF-16 surrogate" + at);
    case webhook::ReadFailure::Kind::nul:
      return body_error("strict JSON (RFC 8259)", "a NUL byte" + at);
    default:
      return body_error("strict JSON (RFC 8259)",
                        "invalid JSON" + at + ": " + rapidjson::GetParseError_En(failure.code));
  }
}

// ---------------------------------------------------------------------------------------------
// Lenient readers over single-pass member scans.

inline std::string_view key_of(const Value::Member& m) noexcept {
  return {m.name.GetString(), m.name.GetStringLength()};
}

inline std::string_view view_of(const Value& v) noexcept { return {v.GetString(), v.GetStringLength()}; }

// With a key sent twice, the first occurrence decides, as in find_member and RawJson::get (the
// envelope check and the event builder must see the same member).
inline void first(const Value*& slot, const Value* v) noexcept {
  if (!slot) slot = v;
}

// `k` equals the literal: a length test, then a memcmp of known length (inlined, unlike the
// string_view operator== the member loops below would otherwise call thousands of times a body).
template <std::size_t N>
inline bool is(std::string_view k, const char (&literal)[N]) noexcept {
  return k.size() == N - 1 && std::memcmp(k.data(), literal, N - 1) == 0;
}

// Text of a string, or a number/bool rendered; unset for null, objects, arrays and absence.
void assign(std::optional<std::string>& out, const Value* v) {
  if (!v) return;
  if (v->IsString()) {
    out.emplace(v->GetString(), v->GetStringLength());
  } else if (!v->IsNull() && !v->IsObject() && !v->IsArray()) {
    out = json::as_string(*v);
  }
}

std::optional<std::string> text_of(const Value* v) {
  std::optional<std::string> out;
  assign(out, v);
  return out;
}

// Same text as `want` (a string compared as is; a number as rendered).
bool text_equals(const Value* v, const std::optional<std::string>& want) {
  if (!v || !want) return false;
  if (v->IsString())
    return v->GetStringLength() == want->size() && webhook::same_bytes(v->GetString(), want->data(), want->size());
  const auto rendered = json::as_string(*v);
  return rendered && *rendered == *want;
}

// A non-empty id, or unset (an empty group id is no group id).
std::optional<std::string> id_of(const Value* v) {
  auto id = text_of(v);
  if (id && id->empty()) id.reset();
  return id;
}

bool non_empty_array(const Value* v) noexcept { return v && v->IsArray() && !v->Empty(); }

std::vector<ItemError> errors_of(const Value* v) {
  std::vector<ItemError> out;
  if (!v || !v->IsArray()) return out;
  out.reserve(v->Size());
  for (const auto& item : v->GetArray()) {
    if (item.IsObject()) out.push_back(codec::decode_item_error(item));
  }
  return out;
}

std::vector<Participant> participants_of(const Value* v) {
  std::vector<Participant> out;
  if (!v || !v->IsArray()) return out;
  out.reserve(v->Size());
  for (const auto& item : v->GetArray()) {
    // Objects, or bare ids; anything else names nobody.
    if (item.IsObject() || item.IsString() || item.IsNumber()) out.push_back(codec::decode_participant(item));
  }
  return out;
}

std::vector<FailedParticipant> failed_participants_of(const Value* v) {
  std::vector<FailedParticipant> out;
  if (!v || !v->IsArray()) return out;
  out.reserve(v->Size());
  for (const auto& item : v->GetArray()) {
    if (!item.IsObject() && !item.IsString() && !item.IsNumber()) continue;
    FailedParticipant f;
    f.participant = codec::decode_participant(item);
    if (item.IsObject()) f.errors = errors_of(webhook::find_member(item, "errors"));
    out.push_back(std::move(f));
  }
  return out;
}

std::optional<SettingOutcome> setting_of(const Value* v) {
  if (!v || !v->IsObject()) return std::nullopt;
  SettingOutcome s;
  for (const auto& m : v->GetObject()) {
    const std::string_view k = key_of(m);
    if (is(k, "text")) assign(s.text, &m.value);
    else if (is(k, "mime_type")) assign(s.mime_type, &m.value);
    else if (is(k, "sha256")) assign(s.sha256, &m.value);
    else if (is(k, "update_successful")) s.update_successful = json::as_bool(m.value);
    else if (is(k, "errors")) s.errors = errors_of(&m.value);
  }
  return s;
}

RemovalInitiator initiator_of(const std::optional<std::string>& text) noexcept {
  if (!text) return RemovalInitiator::unknown;
  if (*text == "business") return RemovalInitiator::business;
  if (*text == "participant") return RemovalInitiator::participant;
  return RemovalInitiator::unknown;
}

// ---------------------------------------------------------------------------------------------
// Fields

enum class FieldKind { groups, messages, other };

FieldKind kind_of_field(std::string_view field) noexcept {
  if (is(field, "messages")) return FieldKind::messages;
  if (is(field, "group_lifecycle_update") || is(field, "group_participants_update") ||
      is(field, "group_participant_update") || is(field, "group_settings_update") || is(field, "group_status_update"))
    return FieldKind::groups;
  return FieldKind::other;
}

// The members of `value.contacts[]` that identify a person, read once per change (an aggregated
// status body matches each of its statuses against each contact entry).
struct ContactRef {
  const Value* wa_id = nullptr;
  const Value* user_id = nullptr;
  const Value* parent_user_id = nullptr;
  const Value* profile = nullptr;  // an object, or null
};

// A change's contact entries: on the stack for the usual few (an aggregated status body names
// each participant it covers, seven in a typical one), on the heap beyond. One allocation less per
// `messages` change, which the profile showed among the per-body costs.
class Contacts {
 public:
  void push_back(const ContactRef& c) {
    if (size_ < kInline) {
      inline_[size_++] = c;
      return;
    }
    if (heap_.empty()) heap_.assign(inline_, inline_ + kInline);
    heap_.push_back(c);
    ++size_;
  }
  const ContactRef* begin() const noexcept { return heap_.empty() ? inline_ : heap_.data(); }
  const ContactRef* end() const noexcept { return begin() + size_; }
  std::size_t size() const noexcept { return size_; }
  const ContactRef& front() const noexcept { return *begin(); }

 private:
  static constexpr std::size_t kInline = 16;
  ContactRef inline_[kInline];
  std::vector<ContactRef> heap_;
  std::size_t size_ = 0;
};

void index_contacts(const Value* contacts, Contacts& out) {
  if (!contacts || !contacts->IsArray()) return;
  for (const auto& c : contacts->GetArray()) {
    if (!c.IsObject()) continue;
    ContactRef ref;
    for (const auto& m : c.GetObject()) {
      const std::string_view k = key_of(m);
      if (is(k, "wa_id")) first(ref.wa_id, &m.value);
      else if (is(k, "user_id")) first(ref.user_id, &m.value);
      else if (is(k, "parent_user_id")) first(ref.parent_user_id, &m.value);
      else if (is(k, "profile") && m.value.IsObject()) first(ref.profile, &m.value);
    }
    out.push_back(ref);
  }
}

std::string item_path(std::size_t entry, std::size_t change, const char* array, std::size_t item = SIZE_MAX) {
  std::string path = "entry[" + std::to_string(entry) + "].changes[" + std::to_string(change) + "].value";
  if (array) {
    path += '.';
    path += array;
    if (item != SIZE_MAX) path += '[' + std::to_string(item) + ']';
  }
  return path;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct WebhookParser::State {
  WebhookLimits limits;
  std::unordered_map<std::string, FieldDecoder> decoders;
};

namespace {

// Walks a parsed body and appends its events to a batch.
class Builder {
 public:
  Builder(const WebhookLimits& limits, const std::unordered_map<std::string, FieldDecoder>& decoders,
          std::shared_ptr<const void> owner, WebhookBatch& out)
      : limits_(limits), decoders_(decoders), owner_(std::move(owner)), out_(out) {}

  std::optional<Error> run(const Value& root) {
    std::size_t expected = 0;
    if (auto error = check_envelope(root, expected)) return error;
    if (expected > limits_.max_events) return too_many_events();
    out_.events.reserve(expected);
    if (const Value* object = webhook::find_member(root, "object")) {
      if (auto text = text_of(object)) out_.object = std::move(*text);
    }
    const Value& entries = *webhook::find_member(root, "entry");
    for (rapidjson::SizeType e = 0; e < entries.Size(); ++e) {
      const Value& entry = entries[e];
      WebhookContext base;
      base.entry_index = e;
      if (auto id = text_of(webhook::find_member(entry, "id"))) base.waba_id = std::move(*id);
      const Value& changes = *webhook::find_member(entry, "changes");
      for (rapidjson::SizeType c = 0; c < changes.Size(); ++c) {
        if (auto error = change(changes[c], base, c)) return error;
      }
    }
    return std::nullopt;
  }

 private:
  Error too_many_events() const {
    const std::string rule = "at most " + std::to_string(limits_.max_events) + " events";
    return body_error(rule, "more than " + std::to_string(limits_.max_events) + " events");
  }

  const FieldDecoder* decoder_for(std::string_view field) const {
    if (decoders_.empty()) return nullptr;
    auto it = decoders_.find(std::string(field));
    return it == decoders_.end() ? nullptr : &it->second;
  }

  // Validates the envelope and counts the events it will give (custom decoders' aside). Paths for
  // error messages are built only on error.
  std::optional<Error> check_envelope(const Value& root, std::size_t& count) const {
    if (!root.IsObject()) return body_error("a JSON object", "the root is not a JSON object");
    const Value* entries = webhook::find_member(root, "entry");
    if (!entries || !entries->IsArray()) return shape_error("entry", "an array");
    auto entry_path = [](std::size_t e) { return "entry[" + std::to_string(e) + "]"; };
    auto change_path = [&](std::size_t e, std::size_t c) {
      return entry_path(e) + ".changes[" + std::to_string(c) + "]";
    };
    for (rapidjson::SizeType e = 0; e < entries->Size(); ++e) {
      const Value& entry = (*entries)[e];
      if (!entry.IsObject()) return shape_error(entry_path(e), "an object");
      const Value* changes = webhook::find_member(entry, "changes");
      if (!changes || !changes->IsArray()) return shape_error(entry_path(e) + ".changes", "an array");
      for (rapidjson::SizeType c = 0; c < changes->Size(); ++c) {
        const Value& change = (*changes)[c];
        if (!change.IsObject()) return shape_error(change_path(e, c), "an object");
        const Value* field = webhook::find_member(change, "field");
        if (!field || !field->IsString()) return shape_error(change_path(e, c) + ".field", "a string");
        const Value* value = webhook::find_member(change, "value");
        if (!value || !value->IsObject()) return shape_error(change_path(e, c) + ".value", "an object");
        const std::string_view name = view_of(*field);
        if (decoder_for(name)) continue;  // counted as the decoder answers
        switch (kind_of_field(name)) {
          case FieldKind::groups: {
            std::size_t items = 0;
            if (const Value* groups = webhook::find_member(*value, "groups")) {
              if (auto error = check_items(*groups, e, c, "groups", items)) return error;
            }
            count += items ? items : 1;  // no items: the whole value, as an UnknownEvent
            break;
          }
          case FieldKind::messages: {
            std::size_t items = 0;
            if (const Value* messages = webhook::find_member(*value, "messages")) {
              if (auto error = check_items(*messages, e, c, "messages", items)) return error;
            }
            if (const Value* statuses = webhook::find_member(*value, "statuses")) {
              if (auto error = check_items(*statuses, e, c, "statuses", items)) return error;
            }
            count += items ? items : 1;
            break;
          }
          case FieldKind::other:
            ++count;
            break;
        }
      }
    }
    return std::nullopt;
  }

  static std::optional<Error> check_items(const Value& items, std::size_t e, std::size_t c, const char* name,
                                          std::size_t& count) {
    if (!items.IsArray()) return shape_error(item_path(e, c, name), "an array");
    for (rapidjson::SizeType i = 0; i < items.Size(); ++i) {
      if (!items[i].IsObject()) return shape_error(item_path(e, c, name, i), "an object");
    }
    count += items.Size();
    return std::nullopt;
  }

  std::optional<Error> change(const Value& change, const WebhookContext& entry_context, std::size_t c) {
    const Value& value = *webhook::find_member(change, "value");
    WebhookContext base = entry_context;
    base.change_index = c;
    base.field.assign(view_of(*webhook::find_member(change, "field")));
    const Value* groups = nullptr;
    const Value* messages = nullptr;
    const Value* statuses = nullptr;
    const Value* contacts = nullptr;
    const Value* timestamp = nullptr;
    for (const auto& m : value.GetObject()) {
      const std::string_view k = key_of(m);
      if (is(k, "metadata")) {
        if (m.value.IsObject()) {
          for (const auto& md : m.value.GetObject()) {
            const std::string_view mk = key_of(md);
            if (is(mk, "phone_number_id")) {
              if (auto t = text_of(&md.value)) base.phone_number_id = std::move(*t);
            } else if (is(mk, "display_phone_number")) {
              if (auto t = text_of(&md.value)) base.display_phone_number = std::move(*t);
            }
          }
        }
      } else if (is(k, "groups")) {
        first(groups, &m.value);
      } else if (is(k, "messages")) {
        first(messages, &m.value);
      } else if (is(k, "statuses")) {
        first(statuses, &m.value);
      } else if (is(k, "contacts")) {
        first(contacts, &m.value);
      } else if (is(k, "timestamp")) {
        first(timestamp, &m.value);
      }
    }

    if (const FieldDecoder* decoder = decoder_for(base.field)) return custom(*decoder, base, value);

    // (The envelope check has made groups / messages / statuses arrays of objects when present.)
    switch (kind_of_field(base.field)) {
      case FieldKind::groups:
        if (!groups || groups->Empty()) break;
        for (rapidjson::SizeType i = 0; i < groups->Size(); ++i) group_item((*groups)[i], base, i);
        return std::nullopt;
      case FieldKind::messages: {
        const rapidjson::SizeType n_messages = messages ? messages->Size() : 0;
        const rapidjson::SizeType n_statuses = statuses ? statuses->Size() : 0;
        if (n_messages + n_statuses == 0) break;
        Contacts people;
        index_contacts(contacts, people);
        for (rapidjson::SizeType i = 0; i < n_messages; ++i) message((*messages)[i], people, n_messages == 1, base, i);
        for (rapidjson::SizeType i = 0; i < n_statuses; ++i) status((*statuses)[i], people, base, i);
        return std::nullopt;
      }
      case FieldKind::other:
        break;
    }
    // Another field, or a known field without any item (absent or empty arrays): the whole value,
    // as an UnknownEvent, so that nothing a change carries goes unseen.
    UnknownEvent& u = add<UnknownEvent>(base, timestamp, 0);
    u.raw = raw(value);
    return std::nullopt;
  }

  std::optional<Error> custom(const FieldDecoder& decoder, const WebhookContext& base, const Value& value) {
    const RawJson raw_value = raw(value);
    Result<std::vector<std::any>> decoded = decoder(base, raw_value);
    if (!decoded) return std::move(decoded).error();
    for (std::size_t i = 0; i < decoded->size(); ++i) {
      if (out_.events.size() >= limits_.max_events) return too_many_events();
      CustomEvent& ev = add<CustomEvent>(base, nullptr, i);
      ev.payload = std::move((*decoded)[i]);
      ev.raw = raw_value;
    }
    return std::nullopt;
  }

  RawJson raw(const Value& v) const { return RawJson(owner_, &v); }

  template <typename T>
  T& add(const WebhookContext& base, const Value* timestamp, std::size_t item_index) {
    WebhookEvent& event = out_.events.emplace_back(std::in_place_type<T>);
    T& typed = *std::get_if<T>(&event);
    typed.context = base;
    if (timestamp) typed.context.timestamp = json::as_int64(*timestamp);
    typed.context.item_index = item_index;
    return typed;
  }

  // One `groups[]` item.
  void group_item(const Value& item, const WebhookContext& base, std::size_t index) {
    struct {
      const Value *timestamp = nullptr, *group_id = nullptr, *type = nullptr, *request_id = nullptr,
                  *subject = nullptr, *description = nullptr, *invite_link = nullptr, *join_approval_mode = nullptr,
                  *added = nullptr, *removed = nullptr, *failed = nullptr, *errors = nullptr,
                  *initiated_by = nullptr, *reason = nullptr, *join_request_id = nullptr, *group_subject = nullptr,
                  *group_description = nullptr, *profile_picture = nullptr;
    } f;
    for (const auto& m : item.GetObject()) {
      const std::string_view k = key_of(m);
      const Value* v = &m.value;
      if (is(k, "type")) first(f.type, v);
      else if (is(k, "group_id")) first(f.group_id, v);
      else if (is(k, "timestamp")) first(f.timestamp, v);
      else if (is(k, "request_id")) first(f.request_id, v);
      else if (is(k, "errors")) first(f.errors, v);
      else if (is(k, "subject")) first(f.subject, v);
      else if (is(k, "description")) first(f.description, v);
      else if (is(k, "invite_link")) first(f.invite_link, v);
      else if (is(k, "join_approval_mode")) first(f.join_approval_mode, v);
      else if (is(k, "added_participants")) first(f.added, v);
      else if (is(k, "removed_participants")) first(f.removed, v);
      else if (is(k, "failed_participants")) first(f.failed, v);
      else if (is(k, "initiated_by")) first(f.initiated_by, v);
      else if (is(k, "reason")) first(f.reason, v);
      else if (is(k, "join_request_id")) first(f.join_request_id, v);
      else if (is(k, "group_subject")) first(f.group_subject, v);
      else if (is(k, "group_description")) first(f.group_description, v);
      else if (is(k, "profile_picture")) first(f.profile_picture, v);
    }
    // The type as a view: only a string can name a known type (a number or bool renders as text no
    // type has), and the text is copied only for an UnknownEvent, not for every typed one.
    const std::string_view t = f.type && f.type->IsString() ? view_of(*f.type) : std::string_view();
    std::optional<std::string> group_id = id_of(f.group_id);

    auto unknown = [&] {
      UnknownEvent& u = add<UnknownEvent>(base, f.timestamp, index);
      u.type = text_of(f.type);
      u.raw = raw(item);
    };

    if (is(t, "group_create")) {
      if (non_empty_array(f.errors)) {
        GroupCreateFailed& e = add<GroupCreateFailed>(base, f.timestamp, index);
        e.group_id = std::move(group_id);
        assign(e.request_id, f.request_id);
        assign(e.subject, f.subject);
        assign(e.description, f.description);
        e.errors = errors_of(f.errors);
        e.raw = raw(item);
        return;
      }
      if (!group_id) return unknown();
      GroupCreated& e = add<GroupCreated>(base, f.timestamp, index);
      e.group_id = std::move(*group_id);
      assign(e.request_id, f.request_id);
      assign(e.subject, f.subject);
      assign(e.description, f.description);
      assign(e.invite_link, f.invite_link);
      if (f.join_approval_mode && f.join_approval_mode->IsString())
        e.join_approval_mode = parse_join_approval_mode(view_of(*f.join_approval_mode));
      e.added_participants = participants_of(f.added);
      e.raw = raw(item);
      return;
    }
    if (!group_id) return unknown();  // every other typed group event names its group
    if (is(t, "group_delete")) {
      if (non_empty_array(f.errors)) {
        GroupDeleteFailed& e = add<GroupDeleteFailed>(base, f.timestamp, index);
        e.group_id = std::move(*group_id);
        assign(e.request_id, f.request_id);
        e.errors = errors_of(f.errors);
        e.raw = raw(item);
      } else {
        GroupDeleted& e = add<GroupDeleted>(base, f.timestamp, index);
        e.group_id = std::move(*group_id);
        assign(e.request_id, f.request_id);
        e.raw = raw(item);
      }
    } else if (is(t, "group_participants_add") || is(t, "group_add_participants")) {
      ParticipantsAdded& e = add<ParticipantsAdded>(base, f.timestamp, index);
      e.group_id = std::move(*group_id);
      assign(e.reason, f.reason);
      assign(e.request_id, f.request_id);
      e.added_participants = participants_of(f.added);
      e.raw = raw(item);
    } else if (is(t, "group_participants_remove") || is(t, "group_remove_participants")) {
      ParticipantsRemoved& e = add<ParticipantsRemoved>(base, f.timestamp, index);
      e.group_id = std::move(*group_id);
      assign(e.request_id, f.request_id);
      assign(e.initiated_by_raw, f.initiated_by);
      e.initiated_by = initiator_of(e.initiated_by_raw);
      e.removed_participants = participants_of(f.removed);
      e.failed_participants = failed_participants_of(f.failed);
      e.errors = errors_of(f.errors);
      e.raw = raw(item);
    } else if (is(t, "group_join_request_created") || is(t, "group_join_request_revoked")) {
      const bool created = is(t, "group_join_request_created");
      auto fill = [&](auto& e) {
        e.group_id = std::move(*group_id);
        assign(e.join_request_id, f.join_request_id);
        assign(e.reason, f.reason);
        e.requester = codec::decode_participant(item);  // identity at the item's top level
        e.raw = raw(item);
      };
      if (created) fill(add<JoinRequestCreated>(base, f.timestamp, index));
      else fill(add<JoinRequestRevoked>(base, f.timestamp, index));
    } else if (is(t, "group_settings_update")) {
      GroupSettingsUpdated& e = add<GroupSettingsUpdated>(base, f.timestamp, index);
      e.group_id = std::move(*group_id);
      assign(e.request_id, f.request_id);
      e.group_subject = setting_of(f.group_subject);
      e.group_description = setting_of(f.group_description);
      e.profile_picture = setting_of(f.profile_picture);
      e.errors = errors_of(f.errors);
      e.raw = raw(item);
    } else if (is(t, "group_suspend")) {
      GroupSuspended& e = add<GroupSuspended>(base, f.timestamp, index);
      e.group_id = std::move(*group_id);
      e.raw = raw(item);
    } else if (is(t, "group_suspend_cleared")) {
      GroupSuspensionCleared& e = add<GroupSuspensionCleared>(base, f.timestamp, index);
      e.group_id = std::move(*group_id);
      e.raw = raw(item);
    } else {
      unknown();
    }
  }

  // One `messages[]` item.
  // `only_message`: the value carries this one message (its only contact entry may then be the
  // sender's even when it cannot be matched by id).
  void message(const Value& item, const Contacts& contacts, bool only_message, const WebhookContext& base,
               std::size_t index) {
    const Value *id = nullptr, *type = nullptr, *timestamp = nullptr, *from = nullptr, *from_user_id = nullptr,
                *from_parent_user_id = nullptr, *group_id = nullptr, *text = nullptr, *context = nullptr,
                *errors = nullptr, *image = nullptr, *video = nullptr, *audio = nullptr, *document = nullptr,
                *sticker = nullptr;
    for (const auto& m : item.GetObject()) {
      const std::string_view k = key_of(m);
      const Value* v = &m.value;
      if (is(k, "id")) first(id, v);
      else if (is(k, "type")) first(type, v);
      else if (is(k, "timestamp")) first(timestamp, v);
      else if (is(k, "from")) first(from, v);
      else if (is(k, "from_user_id")) first(from_user_id, v);
      else if (is(k, "from_parent_user_id")) first(from_parent_user_id, v);
      else if (is(k, "group_id")) first(group_id, v);
      else if (is(k, "text")) first(text, v);
      else if (is(k, "context")) first(context, v);
      else if (is(k, "errors")) first(errors, v);
      else if (is(k, "image")) first(image, v);
      else if (is(k, "video")) first(video, v);
      else if (is(k, "audio")) first(audio, v);
      else if (is(k, "document")) first(document, v);
      else if (is(k, "sticker")) first(sticker, v);
    }
    std::optional<std::string> message_id = id_of(id);
    if (!message_id) {
      UnknownEvent& u = add<UnknownEvent>(base, timestamp, index);
      u.type = text_of(type);
      u.raw = raw(item);
      return;
    }
    std::optional<std::string> group = id_of(group_id);
    InboundMessage* m = nullptr;
    if (group) {
      m = &add<GroupMessageReceived>(base, timestamp, index);
      m->group_id = std::move(group);
    } else {
      m = &add<DirectMessageReceived>(base, timestamp, index);
    }
    m->id = std::move(*message_id);
    if (auto t = text_of(type)) m->type = std::move(*t);
    assign(m->from, from);
    assign(m->from_user_id, from_user_id);
    assign(m->from_parent_user_id, from_parent_user_id);
    if (text && text->IsObject()) assign(m->text, webhook::find_member(*text, "body"));

    const Value* media = nullptr;
    const std::string_view t = m->type;
    if (is(t, "image")) media = image;
    else if (is(t, "video")) media = video;
    else if (is(t, "audio")) media = audio;
    else if (is(t, "document")) media = document;
    else if (is(t, "sticker")) media = sticker;
    if (media && media->IsObject()) {
      for (const auto& mm : media->GetObject()) {
        const std::string_view k = key_of(mm);
        if (is(k, "id")) assign(m->media_id, &mm.value);
        else if (is(k, "mime_type")) assign(m->mime_type, &mm.value);
        else if (is(k, "sha256")) assign(m->sha256, &mm.value);
        else if (is(k, "caption")) assign(m->caption, &mm.value);
        else if (is(k, "filename")) assign(m->filename, &mm.value);
      }
    }
    if (context && context->IsObject()) {
      ReplyContext reply;
      assign(reply.from, webhook::find_member(*context, "from"));
      assign(reply.id, webhook::find_member(*context, "id"));
      if (reply.from || reply.id) m->reply_to = std::move(reply);
    }
    m->errors = errors_of(errors);

    // The sender's contact entry: by phone or BSUID; else, for the value's only message, its only
    // contact entry unless that has another BSUID than the sender's.
    const ContactRef* contact = nullptr;
    for (const ContactRef& c : contacts) {
      if (text_equals(c.wa_id, m->from) || text_equals(c.user_id, m->from_user_id)) {
        contact = &c;
        break;
      }
    }
    if (!contact && only_message && contacts.size() == 1) {
      // Meta: `from` and the contact "point to the same participant", though a phone number and its
      // WhatsApp id "may not always match" ("+49..." and "49...", Brazil's extra 9). A different
      // BSUID, though, is a different person.
      const ContactRef& c = contacts.front();
      const bool other_user = c.user_id && m->from_user_id && !text_equals(c.user_id, m->from_user_id);
      if (!other_user) contact = &c;
    }
    if (contact) {
      assign(m->contact_wa_id, contact->wa_id);
      if (!m->from_user_id) assign(m->from_user_id, contact->user_id);
      if (!m->from_parent_user_id) assign(m->from_parent_user_id, contact->parent_user_id);
      if (contact->profile) {
        assign(m->contact_name, webhook::find_member(*contact->profile, "name"));
        assign(m->username, webhook::find_member(*contact->profile, "username"));
      }
    }
    m->raw = raw(item);
  }

  static void pricing(MessageStatusData& s, const Value& p) {
    for (const auto& m : p.GetObject()) {
      const std::string_view k = key_of(m);
      if (is(k, "category")) assign(s.pricing_category, &m.value);
      else if (is(k, "type")) assign(s.pricing_type, &m.value);
      else if (is(k, "pricing_model")) assign(s.pricing_model, &m.value);
      else if (is(k, "billable")) s.billable = json::as_bool(m.value);
    }
  }

  // One `statuses[]` item.
  void status(const Value& item, const Contacts& contacts, const WebhookContext& base, std::size_t index) {
    const Value *id = nullptr, *status = nullptr, *timestamp = nullptr, *recipient_id = nullptr,
                *recipient_type = nullptr, *recipient_user_id = nullptr, *group_id = nullptr, *participant = nullptr,
                *participant_user_id = nullptr, *participant_parent_user_id = nullptr, *conversation = nullptr,
                *pricing_value = nullptr, *callback_data = nullptr, *errors = nullptr, *participant_alt = nullptr;
    for (const auto& m : item.GetObject()) {
      const std::string_view k = key_of(m);
      const Value* v = &m.value;
      if (is(k, "id")) first(id, v);
      else if (is(k, "status")) first(status, v);
      else if (is(k, "timestamp")) first(timestamp, v);
      else if (is(k, "recipient_id")) first(recipient_id, v);
      else if (is(k, "recipient_type")) first(recipient_type, v);
      else if (is(k, "recipient_user_id")) first(recipient_user_id, v);
      else if (is(k, "group_id")) first(group_id, v);
      else if (is(k, "recipient_participant_id")) first(participant, v);
      else if (is(k, "participant_recipient_id")) first(participant_alt, v);
      else if (is(k, "recipient_participant_user_id")) first(participant_user_id, v);
      else if (is(k, "recipient_participant_parent_user_id")) first(participant_parent_user_id, v);
      else if (is(k, "conversation")) first(conversation, v);
      else if (is(k, "pricing")) first(pricing_value, v);
      else if (is(k, "biz_opaque_callback_data")) first(callback_data, v);
      else if (is(k, "errors")) first(errors, v);
    }
    if (!participant) participant = participant_alt;  // Meta's other spelling
    std::optional<std::string> status_id = id_of(id);
    if (!status_id) {
      UnknownEvent& u = add<UnknownEvent>(base, timestamp, index);
      u.type = text_of(status);
      u.raw = raw(item);
      return;
    }
    std::optional<std::string> type = text_of(recipient_type);
    std::optional<std::string> group = id_of(group_id);
    const bool to_group = (type && is(*type, "group")) || group || participant || participant_user_id;
    MessageStatusData* s = nullptr;
    if (to_group) s = &add<GroupMessageStatus>(base, timestamp, index);
    else s = &add<DirectMessageStatus>(base, timestamp, index);
    s->id = std::move(*status_id);
    if (auto t = text_of(status)) s->status = std::move(*t);
    s->delivery_status = parse_delivery_status(s->status);
    assign(s->recipient_id, recipient_id);
    s->recipient_type = std::move(type);
    assign(s->recipient_user_id, recipient_user_id);
    // The spec's (S14) shape names the group in `group_id` and leaves `recipient_id` to the person
    // ("Recipient phone number"): then `recipient_id` (and `recipient_user_id`, a person's BSUID)
    // is the participant, unless a participant field says otherwise or it repeats the group id.
    const bool spec_shape = group && !participant && !participant_user_id && !text_equals(recipient_id, group);
    if (group) s->group_id = std::move(group);
    else if (to_group) s->group_id = id_of(recipient_id);
    assign(s->recipient_participant_id, participant);
    assign(s->recipient_participant_user_id, participant_user_id);
    if (spec_shape) {
      assign(s->recipient_participant_id, recipient_id);
      assign(s->recipient_participant_user_id, recipient_user_id);
    }
    assign(s->recipient_participant_parent_user_id, participant_parent_user_id);
    if (conversation && conversation->IsObject()) {
      for (const auto& m : conversation->GetObject()) {
        const std::string_view k = key_of(m);
        if (is(k, "id")) assign(s->conversation_id, &m.value);
        else if (is(k, "pricing") && m.value.IsObject() && !(pricing_value && pricing_value->IsObject()))
          pricing(*s, m.value);
      }
    }
    if (pricing_value && pricing_value->IsObject()) pricing(*s, *pricing_value);
    assign(s->biz_opaque_callback_data, callback_data);
    s->errors = errors_of(errors);

    // The contact entry of the person the status is about (group: the participant; 1:1: the
    // recipient), matched by BSUID or phone.
    const std::optional<std::string>& phone = to_group ? s->recipient_participant_id : s->recipient_id;
    const std::optional<std::string>& bsuid = to_group ? s->recipient_participant_user_id : s->recipient_user_id;
    for (const ContactRef& c : contacts) {
      if (!text_equals(c.user_id, bsuid) && !text_equals(c.wa_id, phone)) continue;
      if (c.profile) {
        assign(s->contact_name, webhook::find_member(*c.profile, "name"));
        assign(s->username, webhook::find_member(*c.profile, "username"));
      }
      break;
    }
    s->raw = raw(item);
  }

  const WebhookLimits& limits_;
  const std::unordered_map<std::string, FieldDecoder>& decoders_;
  std::shared_ptr<const void> owner_;
  WebhookBatch& out_;
};

// The DOM takes 0.4 to 1.3 times the body's size on the benchmark's corpus (Meta-shaped bodies);
// the pool's first chunk, allocated with the holder, holds that, and further chunks come only for
// odd bodies.
std::size_t first_chunk_for(std::size_t body_size) noexcept {
  return std::min<std::size_t>(body_size + body_size / 2 + 256, std::size_t{1} << 20);
}
std::size_t next_chunks_for(std::size_t body_size) noexcept {
  return std::min<std::size_t>(std::max<std::size_t>(body_size, 4096), std::size_t{1} << 20);
}

std::optional<Error> too_large(std::size_t size, const WebhookLimits& limits) {
  if (size <= limits.max_body_bytes) return std::nullopt;
  return body_error("at most " + std::to_string(limits.max_body_bytes) + " bytes", std::to_string(size) + " bytes");
}

const WebhookLimits& default_limits() {
  static const WebhookLimits limits;
  return limits;
}

const std::unordered_map<std::string, FieldDecoder>& no_decoders() {
  static const std::unordered_map<std::string, FieldDecoder> none;
  return none;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

WebhookParser::WebhookParser(WebhookLimits limits) : state_(std::make_unique<State>()) { state_->limits = limits; }
WebhookParser::~WebhookParser() = default;
// A moved-from parser (null state) behaves as a default one.
WebhookParser::WebhookParser(const WebhookParser& other)
    : state_(other.state_ ? std::make_unique<State>(*other.state_) : std::make_unique<State>()) {}
WebhookParser& WebhookParser::operator=(const WebhookParser& other) {
  if (this != &other) state_ = other.state_ ? std::make_unique<State>(*other.state_) : std::make_unique<State>();
  return *this;
}
WebhookParser::WebhookParser(WebhookParser&&) noexcept = default;
WebhookParser& WebhookParser::operator=(WebhookParser&&) noexcept = default;

WebhookParser& WebhookParser::register_decoder(std::string field, FieldDecoder decoder) {
  if (!state_) state_ = std::make_unique<State>();
  state_->decoders[std::move(field)] = std::move(decoder);
  return *this;
}

const WebhookLimits& WebhookParser::limits() const noexcept {
  return state_ ? state_->limits : default_limits();
}

Result<WebhookBatch> WebhookParser::parse(std::string_view raw_body) const {
  // Refuse before copying anything.
  if (auto error = too_large(raw_body.size(), limits())) return std::move(*error);
  return parse_in_place(std::string(raw_body));
}

Result<WebhookBatch> WebhookParser::parse_in_place(std::string&& raw_body) const {
  const WebhookLimits& lim = limits();
  const auto& decoders = state_ ? state_->decoders : no_decoders();
  const std::size_t length = raw_body.size();
  if (auto error = too_large(length, lim)) return std::move(*error);
  if (length == 0) return body_error("a JSON object", "empty body");

  // The holder takes the body (moved: no copy) and the DOM's pool.
  auto holder = webhook::make_parsed_body(std::move(raw_body), first_chunk_for(length), next_chunks_for(length));
  if (auto error = parse_json(*holder, length, lim)) return std::move(*error);

  WebhookBatch batch;
  Builder builder(lim, decoders, holder, batch);
  if (auto error = builder.run(holder->root)) return std::move(*error);
  return batch;
}

Result<WebhookBatch> WebhookParser::verify_and_parse(std::string&& raw_body, std::string_view x_hub_signature_256,
                                                     const SignatureVerifier& verifier) const {
  // An oversized body is refused before it is hashed (this parses nothing).
  if (auto error = too_large(raw_body.size(), limits())) return std::move(*error);
  if (auto verified = verifier.verify(raw_body, x_hub_signature_256); !verified) return verified.error();
  return parse_in_place(std::move(raw_body));
}

Result<WebhookBatch> parse_webhook(std::string_view raw_body, const WebhookLimits& limits) {
  return WebhookParser(limits).parse(raw_body);
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
