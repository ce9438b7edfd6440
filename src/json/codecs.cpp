#include "json/codecs.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <cstring>
#include <string_view>
#include <utility>

#include "json/rapidjson.hpp"
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include "client/validation.hpp"
#include "util/text.hpp"
#include "wagroups/graph_codes.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace codec {

namespace {

// Parses a response body that must be a JSON object.
// An object with an "error" member is Graph's error envelope, refused unless the operation's
// answer carries one as data (206 partial success).
bool parse_object(std::string& body, json::Document& doc, Error& error, const char* what,
                  bool allow_error_envelope = false) {
  std::string reason;
  if (!json::parse_padded(body, doc, reason, json::Input::graph_response)) {
    error = Error::decode_failure(0, std::string(what) + ": " + reason);
    return false;
  }
  if (!doc.IsObject()) {
    error = Error::decode_failure(0, std::string(what) + ": expected a JSON object");
    return false;
  }
  if (!allow_error_envelope && json::get_object(doc, "error")) {
    error = Error::decode_failure(0, std::string(what) + ": the answer is a Graph error");
    return false;
  }
  return true;
}

// An error code that fits an int; anything else (absent, not a number, out of range) is unset.
std::optional<int> error_code_of(const json::Value& obj, const char* key) noexcept {
  const auto code = json::get_int64(obj, key);
  if (!code || *code < std::numeric_limits<int>::min() || *code > std::numeric_limits<int>::max()) return std::nullopt;
  return static_cast<int>(*code);
}

std::vector<std::string> decode_string_array(const json::Value& obj, const char* key) {
  std::vector<std::string> out;
  if (const json::Value* arr = json::get_array(obj, key)) {
    for (const auto& item : arr->GetArray()) {
      if (auto s = json::as_string(item)) out.push_back(std::move(*s));
    }
  }
  return out;
}

std::vector<Participant> decode_participants(const json::Value& obj, const char* key) {
  std::vector<Participant> out;
  if (const json::Value* arr = json::get_array(obj, key)) {
    for (const auto& item : arr->GetArray()) out.push_back(decode_participant(item));
  }
  return out;
}

void write_media(json::Writer& w, const MediaRef& media, bool with_caption, bool with_filename) {
  w.begin_object();
  w.optional_field("id", media.id);
  w.optional_field("link", media.link);
  if (with_caption) w.optional_field("caption", media.caption);
  if (with_filename) w.optional_field("filename", media.filename);
  w.end_object();
}

void write_template(json::Writer& w, const TemplateMessage& t) {
  w.begin_object();
  w.field("name", t.name);
  // "deterministic" is the only policy Meta documents: the template in exactly this language.
  w.key("language").begin_object().field("policy", "deterministic").field("code", t.language).end_object();
  if (!t.components.empty()) {
    w.key("components").begin_array();
    for (const auto& c : t.components) {
      w.begin_object();
      w.field("type", c.type);
      w.optional_field("sub_type", c.sub_type);
      if (c.index) w.field("index", std::to_string(*c.index));  // Meta's examples send it as a string
      w.key("parameters").begin_array();
      for (const auto& p : c.parameters) {
        w.begin_object();
        w.field("type", p.type);
        w.optional_field("parameter_name", p.parameter_name);
        w.optional_field("text", p.text);
        w.optional_field("group_id", p.group_id);
        w.optional_field("payload", p.payload);
        if (p.media) {
          w.key(p.type);
          write_media(w, *p.media, false, p.type == "document");
        }
        w.end_object();
      }
      w.end_array();
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();
}

void write_message_envelope(json::Writer& w, const char* recipient_type, const std::string& to,
                            MessageType type) {
  w.field("messaging_product", "whatsapp");
  w.field("recipient_type", recipient_type);
  w.field("to", to);
  w.field("type", to_string(type));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Requests

std::string encode_create_group(const CreateGroupRequest& request) {
  json::Writer w;
  w.begin_object();
  w.field("messaging_product", "whatsapp");
  w.field("subject", validation::trim(request.subject));
  w.optional_field("description", request.description);
  if (request.join_approval_mode) w.field("join_approval_mode", to_string(*request.join_approval_mode));
  w.end_object();
  return w.str();
}

std::string encode_update_settings(const UpdateGroupSettingsRequest& request) {
  json::Writer w;
  w.begin_object();
  w.field("messaging_product", "whatsapp");
  if (request.subject) w.field("subject", validation::trim(*request.subject));
  w.optional_field("description", request.description);
  w.end_object();
  return w.str();
}

std::string encode_messaging_product_only() { return R"({"messaging_product":"whatsapp"})"; }

std::string encode_join_request_ids(const JoinRequestsAction& request) {
  json::Writer w;
  w.begin_object();
  w.field("messaging_product", "whatsapp");
  w.key("join_requests").begin_array();
  for (const auto& id : request.join_request_ids) w.string(id);
  w.end_array();
  w.end_object();
  return w.str();
}

std::string encode_remove_participants(const RemoveParticipantsRequest& request) {
  json::Writer w;
  w.begin_object();
  w.field("messaging_product", "whatsapp");
  w.key("participants").begin_array();
  for (const auto& user : request.participants) w.begin_object().field("user", user).end_object();
  w.end_array();
  w.end_object();
  return w.str();
}

std::string encode_group_message(const GroupMessage& m) {
  json::Writer w;
  w.begin_object();
  write_message_envelope(w, "group", m.group_id, m.type);
  if (m.reply_to) w.key("context").begin_object().field("message_id", *m.reply_to).end_object();
  w.optional_field("biz_opaque_callback_data", m.biz_opaque_callback_data);
  switch (m.type) {
    case MessageType::text:
      w.key("text").begin_object().field("preview_url", m.preview_url).field("body", m.text.value_or("")).end_object();
      break;
    case MessageType::image:
    case MessageType::video:
    case MessageType::document:
    case MessageType::audio:
    case MessageType::sticker:
      w.key(to_string(m.type));
      write_media(w, m.media.value_or(MediaRef{}), validation::media_takes_caption(m.type),
                  m.type == MessageType::document);
      break;
    case MessageType::template_:
      w.key("template");
      write_template(w, m.template_message.value_or(TemplateMessage{}));
      break;
    case MessageType::pin: {
      const PinMessage pin = m.pin.value_or(PinMessage{});
      w.key("pin").begin_object();
      w.field("type", pin.operation == PinOperation::pin ? "pin" : "unpin");
      w.field("message_id", pin.message_id);
      if (pin.operation == PinOperation::pin && pin.expiration_days) w.field("expiration_days", *pin.expiration_days);
      w.end_object();
      break;
    }
    case MessageType::interactive:
    case MessageType::reaction:
    case MessageType::location:
    case MessageType::contacts:
      break;  // refused by validation before we get here
  }
  w.end_object();
  return w.str();
}

namespace {
// A phone number goes in `to`, a BSUID in `recipient`; both when both are known.
void write_individual_envelope(json::Writer& w, const IndividualRecipient& to, MessageType type) {
  w.field("messaging_product", "whatsapp");
  if (to.phone) w.field("to", validation::trim(*to.phone));
  if (to.bsuid) w.field("recipient", validation::trim(*to.bsuid));
  w.field("type", to_string(type));
}
}  // namespace

std::string encode_template_to_individual(const IndividualRecipient& to, const TemplateMessage& message) {
  json::Writer w;
  w.begin_object();
  write_individual_envelope(w, to, MessageType::template_);
  w.key("template");
  write_template(w, message);
  w.end_object();
  return w.str();
}

std::string encode_text_to_individual(const IndividualRecipient& to, const std::string& body, bool preview_url) {
  json::Writer w;
  w.begin_object();
  write_individual_envelope(w, to, MessageType::text);
  w.key("text").begin_object();
  if (preview_url) w.field("preview_url", true);
  w.field("body", body);
  w.end_object();
  w.end_object();
  return w.str();
}

const char* phone_number_eligibility_fields() noexcept {
  return "id,display_phone_number,verified_name,status,quality_rating,account_mode,is_official_business_account,"
         "is_on_biz_app,platform_type,messaging_limit_tier,throughput,health_status";
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

Participant decode_participant(const json::Value& v) {
  Participant p;
  if (v.IsString() || v.IsNumber()) {  // a bare id in a list
    p.wa_id = json::as_string(v);
    return p;
  }
  if (!v.IsObject()) return p;
  // One pass over the members, not a lookup (strlen and a scan) per field: webhooks carry lists of
  // participants, and a join request's is read from the whole item. The first of a repeated key
  // counts, as with FindMember.
  const json::Value *wa_id = nullptr, *user_id = nullptr, *parent_user_id = nullptr, *username = nullptr,
                    *input = nullptr, *user = nullptr;
  for (const auto& m : v.GetObject()) {
    const std::string_view k(m.name.GetString(), m.name.GetStringLength());
    const json::Value** slot = nullptr;
    if (k == "wa_id") slot = &wa_id;
    else if (k == "user_id") slot = &user_id;
    else if (k == "parent_user_id") slot = &parent_user_id;
    else if (k == "username") slot = &username;
    else if (k == "input") slot = &input;
    else if (k == "user") slot = &user;
    if (slot && !*slot) *slot = &m.value;
  }
  auto text = [](const json::Value* x) { return x ? json::as_string(*x) : std::nullopt; };
  p.wa_id = text(wa_id);
  p.user_id = text(user_id);
  p.parent_user_id = text(parent_user_id);
  p.username = text(username);
  p.input = text(input);
  if (!p.input) p.input = text(user);
  return p;
}

ItemError decode_item_error(const json::Value& v) {
  ItemError e;
  e.code = error_code_of(v, "code").value_or(0);
  e.title = json::get_string(v, "title");
  e.message = json::get_string(v, "message");
  if (const json::Value* data = json::get_object(v, "error_data")) e.details = json::get_string(*data, "details");
  e.href = json::get_string(v, "href");
  return e;
}

std::vector<ItemError> decode_item_errors(const json::Value& obj, const char* key) {
  std::vector<ItemError> out;
  if (const json::Value* arr = json::get_array(obj, key)) {
    for (const auto& item : arr->GetArray()) {
      if (item.IsObject()) out.push_back(decode_item_error(item));
    }
  }
  return out;
}

Paging decode_paging(const json::Value& obj) {
  Paging p;
  const json::Value* paging = json::get_object(obj, "paging");
  if (!paging) return p;
  if (const json::Value* cursors = json::get_object(*paging, "cursors")) {
    p.before = json::get_string(*cursors, "before");
    p.after = json::get_string(*cursors, "after");
  }
  p.previous = json::get_string(*paging, "previous");
  p.next = json::get_string(*paging, "next");
  return p;
}

// ---------------------------------------------------------------------------------------------
// Responses

Result<CreateGroupResponse> decode_create_group(std::string& body) {
  CreateGroupResponse out;
  if (text::is_blank(body)) return out;  // S1 documents no body
  json::ScratchDocument scratch;
  json::Document& doc = scratch;
  Error error;
  if (!parse_object(body, doc, error, "create group response")) return error;
  out.request_id = json::get_string(doc, "request_id");
  out.messaging_product = json::get_string(doc, "messaging_product");
  return out;
}

namespace {

// SAX decoder for the list-groups page: pages hold up to 1024 groups, and reading them straight
// into the model skips building (and walking) a DOM. Shapes accepted, as the DOM decoders would:
// {"data":{"groups":[...]}} (Meta's), {"data":[...]} and {"groups":[...]}; unknown members at any
// depth are skipped.
class ListGroupsHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, ListGroupsHandler> {
 public:
  explicit ListGroupsHandler(ListGroupsResponse& out) : out_(out) { stack_.reserve(8); }

  bool Null() { return scalar({}, false); }
  bool Bool(bool b) { return scalar(b ? "true" : "false", false); }
  bool Int(int i) { return number(i); }
  bool Uint(unsigned u) { return number(u); }
  bool Int64(std::int64_t i) { return number(i); }
  bool Uint64(std::uint64_t u) {
    return u <= static_cast<std::uint64_t>(INT64_MAX) ? number(static_cast<std::int64_t>(u))
                                                       : scalar(std::to_string(u), false);
  }
  bool Double(double d) {
    const rapidjson::Value value(d);
    if (const auto whole = json::as_int64(value)) return number(*whole);
    return scalar(json::as_string(value).value_or(""), false);
  }
  bool String(const char* str, rapidjson::SizeType length, bool) { return scalar(std::string_view(str, length), true); }
  // The key's text lives only during this call: it is resolved to a Field at once.
  bool Key(const char* str, rapidjson::SizeType length, bool) {
    key_ = field_of(std::string_view(str, length));
    return true;
  }
  bool StartObject() { return open(true); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(false); }
  bool EndArray(rapidjson::SizeType) { return close(); }

  bool found_groups() const noexcept { return found_groups_; }
  const std::string& failure() const noexcept { return failure_; }

 private:
  static constexpr std::size_t kMaxDepth = 64;
  enum class Ctx { root, data, groups, group, paging, cursors, skip };
  enum class Field { other, data, groups, paging, cursors, id, subject, created_at, creation_timestamp,
                     before, after, next, previous, error };

  static Field field_of(std::string_view k) noexcept {
    static constexpr std::pair<std::string_view, Field> kFields[] = {
        {"id", Field::id},         {"subject", Field::subject},   {"created_at", Field::created_at},
        {"data", Field::data},     {"groups", Field::groups},     {"creation_timestamp", Field::creation_timestamp},
        {"paging", Field::paging}, {"cursors", Field::cursors},   {"before", Field::before},
        {"after", Field::after},   {"next", Field::next},         {"previous", Field::previous},
        {"error", Field::error}};
    for (const auto& [name, field] : kFields) {
      if (k == name) return field;
    }
    return Field::other;
  }

  Ctx top() const noexcept { return stack_.empty() ? Ctx::skip : stack_.back(); }

  bool open(bool is_object) {
    // The reader runs recursively (faster than its iterative mode); refusing to nest deeper than
    // this bounds its stack use, whatever the input.
    if (stack_.size() >= kMaxDepth) return fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    if (stack_.empty() && !started_) {
      started_ = true;
      if (!is_object) return fail("expected a JSON object");
      stack_.push_back(Ctx::root);
      return true;
    }
    Ctx next = Ctx::skip;
    switch (top()) {
      case Ctx::root:
        if (key_ == Field::data) next = is_object ? Ctx::data : Ctx::groups;
        else if (key_ == Field::groups && !is_object) next = Ctx::groups;
        else if (key_ == Field::paging && is_object) next = Ctx::paging;
        else if (key_ == Field::error && is_object) return fail("the answer is a Graph error");
        break;
      case Ctx::data:
        if (key_ == Field::groups && !is_object) next = Ctx::groups;
        break;
      case Ctx::groups:
        if (is_object) {
          out_.groups.emplace_back();
          next = Ctx::group;
        } else {
          return fail("a group entry is not an object");
        }
        break;
      case Ctx::paging:
        if (key_ == Field::cursors && is_object) next = Ctx::cursors;
        break;
      case Ctx::group:
        if (key_ == Field::id) return fail("a group without an id");
        break;
      default:
        break;
    }
    // `data` as an object counts as a (possibly empty) list: {"data":{}} is Graph's empty answer.
    if (next == Ctx::groups || next == Ctx::data) found_groups_ = true;
    stack_.push_back(next);
    return true;
  }

  bool close() {
    if (top() == Ctx::group && out_.groups.back().id.empty()) return fail("a group without an id");
    stack_.pop_back();
    return true;
  }

  bool number(std::int64_t v) {
    if (top() == Ctx::group && (key_ == Field::created_at || key_ == Field::creation_timestamp)) {
      auto& g = out_.groups.back();
      if (key_ == Field::created_at || !g.created_at) g.created_at = v;
      return true;
    }
    return scalar(std::to_string(v), false);
  }

  // A string, or a non-timestamp scalar rendered as text (ids sometimes arrive as bare numbers).
  bool scalar(std::string_view text, bool is_string) {
    switch (top()) {
      case Ctx::group: {
        auto& g = out_.groups.back();
        if (key_ == Field::id) {
          if (text.empty()) return fail("a group without an id");
          g.id.assign(text);
        } else if (key_ == Field::subject) {
          if (is_string || !text.empty()) g.subject = std::string(text);
        } else if (is_string && (key_ == Field::created_at || (key_ == Field::creation_timestamp && !g.created_at))) {
          g.created_at = json::parse_int64(text);
        }
        return true;
      }
      case Ctx::groups:
        return fail("a group entry is not an object");
      case Ctx::cursors:
        if (key_ == Field::before && !text.empty()) out_.paging.before = std::string(text);
        if (key_ == Field::after && !text.empty()) out_.paging.after = std::string(text);
        return true;
      case Ctx::paging:
        if (key_ == Field::previous && !text.empty()) out_.paging.previous = std::string(text);
        if (key_ == Field::next && !text.empty()) out_.paging.next = std::string(text);
        return true;
      default:
        if (stack_.empty() && !started_) return fail("expected a JSON object");
        return true;
    }
  }

  bool fail(std::string why) {
    failure_ = std::move(why);
    return false;
  }

  ListGroupsResponse& out_;
  std::vector<Ctx> stack_;
  Field key_ = Field::other;
  std::string failure_;
  bool started_ = false;
  bool found_groups_ = false;
};

}  // namespace

Result<ListGroupsResponse> decode_list_groups(std::string& body) {
  // Parsed in place in a scratch copy: strings are then handed over without being copied onto the
  // reader's stack first, and `body` stays intact for error messages.
  thread_local std::string scratch;
  struct Trim {  // a 1024-group page is ~100 KB; do not keep more than 1 MiB per thread
    ~Trim() {
      if (scratch.capacity() > (1u << 20)) std::string().swap(scratch);
    }
  } trim_after_use;
  scratch.assign(body);
  json::SimdPadding padding(scratch);
  if (!padding.ok()) return Error::decode_failure(0, "list groups response: " + padding.error());
  ListGroupsResponse out;
  ListGroupsHandler handler(out);
  rapidjson::Reader reader;
  rapidjson::InsituStringStream stream(&scratch[0]);
  const rapidjson::ParseResult parsed =
      reader.Parse<rapidjson::kParseInsituFlag>(stream, handler);
  if (!handler.failure().empty()) return Error::decode_failure(0, "list groups response: " + handler.failure());
  if (parsed.IsError()) {
    return Error::decode_failure(0, "list groups response: invalid JSON at offset " + std::to_string(parsed.Offset()) +
                                        ": " + rapidjson::GetParseError_En(parsed.Code()));
  }
  if (!handler.found_groups())
    return Error::decode_failure(0, "list groups response: no data.groups array");
  return out;
}

Result<GroupInfo> decode_group_info(std::string& body) {
  json::ScratchDocument scratch;
  json::Document& doc = scratch;
  Error error;
  if (!parse_object(body, doc, error, "group info response")) return error;
  GroupInfo g;
  auto id = json::get_string(doc, "id");
  if (!id || id->empty()) return Error::decode_failure(0, "group info response: no id");
  g.id = std::move(*id);
  g.messaging_product = json::get_string(doc, "messaging_product");
  g.subject = json::get_string(doc, "subject");
  g.description = json::get_string(doc, "description");
  if (auto mode = json::get_string(doc, "join_approval_mode")) g.join_approval_mode = parse_join_approval_mode(*mode);
  g.suspended = json::get_bool(doc, "suspended");
  g.creation_timestamp = json::get_int64(doc, "creation_timestamp");
  g.total_participant_count = json::get_int64(doc, "total_participant_count");
  if (const json::Value* list = json::get_array(doc, "participants")) {
    std::vector<Participant> participants;
    for (const auto& item : list->GetArray()) participants.push_back(decode_participant(item));
    g.participants = std::move(participants);
  }
  return g;
}

Result<UpdateGroupSettingsResponse> decode_update_settings(std::string& body) {
  UpdateGroupSettingsResponse out;
  if (text::is_blank(body)) return out;
  json::ScratchDocument scratch;
  json::Document& doc = scratch;
  Error error;
  if (!parse_object(body, doc, error, "update settings response")) return error;
  out.request_id = json::get_string(doc, "request_id");
  out.success = json::get_bool(doc, "success");
  return out;
}

Result<DeleteGroupResponse> decode_delete_group(std::string& body) {
  DeleteGroupResponse out;
  if (text::is_blank(body)) return out;
  json::ScratchDocument scratch;
  json::Document& doc = scratch;
  Error error;
  if (!parse_object(body, doc, error, "delete group response")) return error;
  out.success = json::get_bool(doc, "success");
  out.request_id = json::get_string(doc, "request_id");
  return out;
}

Result<InviteLink> decode_invite_link(std::string& body) {
  json::ScratchDocument scratch;
  json::Document& doc = scratch;
  Error error;
  if (!parse_object(body, doc, error, "invite link response")) return error;
  auto link = json::get_string(doc, "invite_link");
  if (!link || link->empty()) return Error::decode_failure(0, "invite link response: no invite_link");
  InviteLink out;
  out.invite_link = std::move(*link);
  out.messaging_product = json::get_string(doc, "messaging_product");
  return out;
}

Result<DeleteInviteLinkResponse> decode_delete_invite_link(std::string& body) {
  DeleteInviteLinkResponse out;
  if (text::is_blank(body)) return out;
  json::ScratchDocument scratch;
  json::Document& doc = scratch;
  Error error;
  if (!parse_object(body, doc, error, "delete invite link response")) return error;
  out.success = json::get_bool(doc, "success");
  return out;
}

Result<JoinRequestsPage> decode_join_requests(std::string& body) {
  json::ScratchDocument scratch;
  json::Document& doc = scratch;
  Error error;
  if (!parse_object(body, doc, error, "join requests response")) return error;
  JoinRequestsPage page;
  const json::Value* data = json::get_array(doc, "data");
  if (!data) {
    // {"data":{}} is an empty list too (Graph answers it for edges with nothing in them).
    const json::Value* empty = json::get_object(doc, "data");
    if (empty && empty->MemberCount() == 0) {
      page.paging = decode_paging(doc);
      return page;
    }
    return Error::decode_failure(0, "join requests response: no data array");
  }
  for (const auto& item : data->GetArray()) {
    auto id = json::get_string(item, "join_request_id");
    if (!id || id->empty()) return Error::decode_failure(0, "join requests response: an entry without join_request_id");
    JoinRequest r;
    r.join_request_id = std::move(*id);
    r.requester = decode_participant(item);
    r.creation_timestamp = json::get_int64(item, "creation_timestamp");
    page.data.push_back(std::move(r));
  }
  page.paging = decode_paging(doc);
  return page;
}

namespace {

// The one reading of Meta's partial-success answer (HTTP 206, Graph code 131201) shared by every
// participant-level operation: the error envelope is data there, and an error anywhere else.
// Returns the envelope when it is the partial-success report; `error` is set when the answer is
// some other Graph error.
std::optional<GraphError> partial_success_envelope(const json::Document& doc, int http_status, const char* what,
                                                   Error& error) {
  std::optional<GraphError> envelope = graph_error_of(doc);
  if (envelope && http_status != 206 && envelope->code != graph_codes::partial_success)
    error = Error::decode_failure(0, std::string(what) + ": the answer is a Graph error");
  return envelope;
}

bool is_partial(int http_status, const std::optional<GraphError>& envelope) noexcept {
  return http_status == 206 || (envelope && envelope->code == graph_codes::partial_success);
}

}  // namespace

Result<JoinRequestsOutcome> decode_join_requests_result(HttpResponse& response, const char* succeeded_key,
                                                        const std::vector<std::string>& requested) {
  const char* what = "join requests result";
  JoinRequestsOutcome out;
  out.http_status = response.status;
  json::ScratchDocument scratch;
  json::Document& doc = scratch;
  if (!text::is_blank(response.body)) {
    Error error;
    if (!parse_object(response.body, doc, error, what, true)) return error;
    out.partial_error = partial_success_envelope(doc, response.status, what, error);
    if (error.code == ErrorCode::decode) return error;
    out.succeeded = decode_string_array(doc, succeeded_key);
    if (const json::Value* failed = json::get_array(doc, "failed_join_requests")) {
      for (const auto& item : failed->GetArray()) {
        FailedJoinRequest f;
        f.join_request_id = json::get_string(item, "join_request_id").value_or("");
        f.errors = decode_item_errors(item);
        out.failed.push_back(std::move(f));
      }
    }
    out.errors = decode_item_errors(doc);
  }
  out.partial = is_partial(response.status, out.partial_error) || !out.failed.empty();
  // A 200 without lists says nothing against the ids; a partial answer that leaves some out does.
  if (out.partial || !out.succeeded.empty()) {
    for (const auto& id : requested) {
      bool named = std::find(out.succeeded.begin(), out.succeeded.end(), id) != out.succeeded.end();
      for (const auto& f : out.failed) named = named || f.join_request_id == id;
      if (!named) out.unreported.push_back(id);
    }
  }
  return out;
}

Result<RemoveParticipantsResponse> decode_remove_participants(HttpResponse& response) {
  const char* what = "remove participants response";
  RemoveParticipantsResponse out;
  out.http_status = response.status;
  out.partial = response.status == 206;
  std::string& body = response.body;
  if (text::is_blank(body)) return out;
  json::ScratchDocument scratch;
  json::Document& doc = scratch;
  Error error;
  if (!parse_object(body, doc, error, what, true)) return error;
  out.partial_error = partial_success_envelope(doc, response.status, what, error);
  if (error.code == ErrorCode::decode) return error;
  out.request_id = json::get_string(doc, "request_id");
  out.success = json::get_bool(doc, "success");
  out.removed_participants = decode_participants(doc, "removed_participants");
  if (const json::Value* failed = json::get_array(doc, "failed_participants")) {
    for (const auto& item : failed->GetArray())
      out.failed_participants.push_back(FailedParticipant{decode_participant(item), decode_item_errors(item)});
  }
  out.errors = decode_item_errors(doc);
  out.partial = is_partial(response.status, out.partial_error) || !out.failed_participants.empty();
  return out;
}

Result<PhoneNumberFields> decode_phone_number(std::string& body) {
  json::ScratchDocument scratch;
  json::Document& doc = scratch;
  Error error;
  if (!parse_object(body, doc, error, "phone number response")) return error;
  PhoneNumberFields f;
  f.id = json::get_string(doc, "id");
  f.display_phone_number = json::get_string(doc, "display_phone_number");
  f.verified_name = json::get_string(doc, "verified_name");
  f.status = json::get_string(doc, "status");
  f.quality_rating = json::get_string(doc, "quality_rating");
  f.account_mode = json::get_string(doc, "account_mode");
  f.is_official_business_account = json::get_bool(doc, "is_official_business_account");
  f.is_on_biz_app = json::get_bool(doc, "is_on_biz_app");
  f.platform_type = json::get_string(doc, "platform_type");
  f.messaging_limit_tier = json::get_string(doc, "messaging_limit_tier");
  if (const json::Value* t = json::get_object(doc, "throughput")) f.throughput_level = json::get_string(*t, "level");
  if (const json::Value* h = json::get_object(doc, "health_status"))
    f.health_can_send_message = json::get_string(*h, "can_send_message");
  return f;
}

Result<SendMessageResponse> decode_send_message(std::string& body) {
  json::ScratchDocument scratch;
  json::Document& doc = scratch;
  Error error;
  if (!parse_object(body, doc, error, "send message response")) return error;
  SendMessageResponse out;
  out.messaging_product = json::get_string(doc, "messaging_product");
  if (const json::Value* contacts = json::get_array(doc, "contacts")) {
    for (const auto& c : contacts->GetArray()) {
      SentContact sc;
      sc.input = json::get_string(c, "input");
      sc.wa_id = json::get_string(c, "wa_id");
      sc.user_id = json::get_string(c, "user_id");
      out.contacts.push_back(std::move(sc));
    }
  }
  if (const json::Value* messages = json::get_array(doc, "messages")) {
    for (const auto& m : messages->GetArray()) {
      auto id = json::get_string(m, "id");
      if (!id) continue;
      out.messages.push_back(SentMessage{std::move(*id), json::get_string(m, "message_status")});
    }
  }
  if (out.messages.empty()) return Error::decode_failure(0, "send message response: no messages[].id");
  return out;
}

std::optional<GraphError> graph_error_of(const json::Value& doc) {
  const json::Value* e = json::get_object(doc, "error");
  if (!e) return std::nullopt;
  GraphError g;
  g.code = error_code_of(*e, "code").value_or(0);
  g.type = json::get_string(*e, "type").value_or("");
  g.message = json::get_string(*e, "message").value_or("");
  g.error_subcode = error_code_of(*e, "error_subcode");
  if (const json::Value* data = json::get_object(*e, "error_data")) g.details = json::get_string(*data, "details");
  g.fbtrace_id = json::get_string(*e, "fbtrace_id");
  g.is_transient = json::get_bool(*e, "is_transient");
  g.error_user_title = json::get_string(*e, "error_user_title");
  g.error_user_msg = json::get_string(*e, "error_user_msg");
  return g;
}

Error decode_error_response(const HttpResponse& response, std::string_view secret) {
  Error e;
  e.code = ErrorCode::graph_api;
  e.http_status = response.status;
  json::ScratchDocument scratch;
  json::Document& doc = scratch;
  std::string reason;
  if (json::parse(response.body, doc, reason, json::Input::graph_response)) e.graph = graph_error_of(doc);
  if (e.graph) {
    if (e.graph->code == graph_codes::not_eligible) {
      e.message = "this phone number is not eligible for the Groups API: it must be a Groups-eligible "
                  "Official Business Account (OBA) number (Graph code 131215)";
    } else {
      e.message = e.graph->message.empty() ? "Graph API error " + std::to_string(e.graph->code) : e.graph->message;
    }
    if (e.graph->details && !e.graph->details->empty()) e.message += ": " + *e.graph->details;
  } else {
    e.message = "HTTP " + std::to_string(response.status) + " without a Graph error body (body: " +
                text::excerpt(response.body, secret) + ")";
  }
  return e;
}

}  // namespace codec
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
