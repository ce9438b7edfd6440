#include "client/validation.hpp"

#include <cstring>
#include <set>
#include <string>

#include "client/jpeg.hpp"
#include "wagroups/limits.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace validation {

namespace {

bool is_space(unsigned char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string indexed(const char* field, std::size_t i) { return std::string(field) + "[" + std::to_string(i) + "]"; }

// `qualifier` is appended to the limit, e.g. " after trimming".
Result<void> check_text_length(const std::string& field, std::string_view text, std::size_t min_chars,
                               std::size_t max_chars, const char* qualifier = "") {
  const std::size_t n = utf8_length(text);
  if (n == std::string_view::npos) return Error::invalid_argument(field, "valid UTF-8", field + " is not valid UTF-8");
  if (n < min_chars || n > max_chars) {
    const std::string limit = (min_chars == 0 ? "at most " + std::to_string(max_chars)
                                              : std::to_string(min_chars) + "-" + std::to_string(max_chars)) +
                              " characters" + qualifier;
    return Error::invalid_argument(field, limit,
                                   field + " has " + std::to_string(n) + " characters" + qualifier +
                                       "; it must have " + limit.substr(0, limit.size() - std::strlen(qualifier)));
  }
  return {};
}

Result<void> check_media(const std::string& field, MessageType type, const MediaRef& media) {
  if (media.id.has_value() == media.link.has_value())
    return Error::invalid_argument(field, "exactly one of id or link", field + " must set exactly one of id and link");
  if (media.id) {
    const std::string id_field = field + ".id";
    if (auto r = require_id(id_field.c_str(), *media.id); !r) return r;
  }
  if (media.link && media.link->empty()) return Error::invalid_argument(field + ".link", "non-empty");
  if (media.caption) {
    if (!media_takes_caption(type))
      return Error::invalid_argument(field + ".caption", "only image, video and document take a caption");
    if (auto r = check_text_length(field + ".caption", *media.caption, 0, limits::caption_max_chars); !r) return r;
  }
  if (media.filename && type != MessageType::document)
    return Error::invalid_argument(field + ".filename", "only a document takes a filename");
  return {};
}

}  // namespace

namespace {
// Length of the whitespace code point at the start (or, with `from_end`, the end) of `t`, or 0.
// ASCII whitespace plus Unicode's space separators (U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029,
// U+202F, U+205F, U+3000) and the BOM, all of which render as nothing in a group subject.
std::size_t whitespace_at(std::string_view t, bool from_end) noexcept {
  if (t.empty()) return 0;
  const unsigned char edge = static_cast<unsigned char>(from_end ? t.back() : t.front());
  if (is_space(edge)) return 1;
  static constexpr std::string_view kUnicodeSpaces[] = {
      "\xC2\xA0",     "\xE1\x9A\x80", "\xE2\x80\x80", "\xE2\x80\x81", "\xE2\x80\x82", "\xE2\x80\x83",
      "\xE2\x80\x84", "\xE2\x80\x85", "\xE2\x80\x86", "\xE2\x80\x87", "\xE2\x80\x88", "\xE2\x80\x89",
      "\xE2\x80\x8A", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80",
      "\xEF\xBB\xBF"};
  for (std::string_view space : kUnicodeSpaces) {
    if (t.size() >= space.size() &&
        (from_end ? t.substr(t.size() - space.size()) : t.substr(0, space.size())) == space)
      return space.size();
  }
  return 0;
}
// The identity Meta compares participants by: a phone number written as "+1 (650) 555-1234" and
// "16505551234" is one person; BSUIDs and WhatsApp ids are compared as they are.
std::string participant_key(const std::string& user) {
  std::string digits = phone_digits(user);
  return digits.empty() ? user : digits;
}

}  // namespace

std::string phone_digits(std::string_view text) {
  std::string digits;
  for (char c : trim(text)) {
    if (c >= '0' && c <= '9') {
      digits += c;
    } else if (c != '+' && c != ' ' && c != '-' && c != '(' && c != ')' && c != '.') {
      return {};  // not a phone number
    }
  }
  return digits;
}

std::string trim(std::string_view text) {
  while (std::size_t n = whitespace_at(text, false)) text.remove_prefix(n);
  while (std::size_t n = whitespace_at(text, true)) text.remove_suffix(n);
  return std::string(text);
}

std::size_t utf8_length(std::string_view text) noexcept {
  std::size_t count = 0;
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) { len = 1; cp = c; }
    else if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1Fu; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0Fu; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07u; }
    else return std::string_view::npos;
    if (i + len > text.size()) return std::string_view::npos;
    for (std::size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return std::string_view::npos;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return std::string_view::npos;
    i += len;
    ++count;
  }
  return count;
}

Result<void> require_id(const char* field, std::string_view value) {
  const std::string name(field);
  if (trim(value).empty()) return Error::invalid_argument(name, "non-empty", name + " must not be empty");
  // Ids are opaque and sent as they are: surrounding blanks or control characters are a caller's
  // slip that would address another (non-existent) object, so they are refused, not trimmed.
  if (trim(value).size() != value.size())
    return Error::invalid_argument(name, "no leading or trailing whitespace", name + " has surrounding whitespace");
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return Error::invalid_argument(name, "no control characters", name + " contains a control character");
  }
  return {};
}

Result<void> require_path_id(const char* field, std::string_view value) {
  if (auto r = require_id(field, value); !r) return r;
  const std::string name(field);
  // libcurl (and servers) resolve dot segments before sending: "/v26.0/.." would address
  // another resource than the caller named.
  if (value == "." || value == "..")
    return Error::invalid_argument(name, "not \".\" or \"..\"", name + " is a dot segment, which URLs normalise away");
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f)
      return Error::invalid_argument(name, "no whitespace or control characters", name + " contains whitespace");
    if (c == '/' || c == '\\' || c == '?' || c == '#' || c == '%')
      return Error::invalid_argument(name, "none of / \\ ? # %",
                                     name + " contains '" + std::string(1, c) + "', which would change the URL path");
  }
  return {};
}

Result<void> check_user_agent_suffix(std::string_view suffix) {
  const char* field = "user_agent_suffix";
  const char* rule = "space-separated name/x.y.z tokens";
  if (suffix.empty()) return {};
  std::size_t start = 0;
  while (start <= suffix.size()) {
    const std::size_t space = suffix.find(' ', start);
    const std::string_view token = suffix.substr(start, space == std::string_view::npos ? space : space - start);
    const std::size_t slash = token.find('/');
    bool ok = slash != std::string_view::npos && slash > 0;
    if (ok) {
      for (char c : token.substr(0, slash)) {
        ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-');
      }
      // x.y.z: three non-empty runs of digits.
      int dots = 0;
      bool digit_seen = false;
      for (char c : token.substr(slash + 1)) {
        if (c >= '0' && c <= '9') {
          digit_seen = true;
        } else if (c == '.' && digit_seen) {
          ++dots;
          digit_seen = false;
        } else {
          ok = false;
        }
      }
      ok = ok && dots == 2 && digit_seen;
    }
    if (!ok)
      return Error::invalid_argument(
          field, rule,
          "user_agent_suffix token '" + std::string(token) + "' is not of the form name/x.y.z (e.g. myapp/1.2.0)");
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  return {};
}

Result<void> check_base_url(std::string_view base_url, bool allow_insecure_http) {
  auto starts_with = [&](std::string_view prefix) {
    if (base_url.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      char c = base_url[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != prefix[i]) return false;
    }
    return true;
  };
  if (starts_with("https://") && base_url.size() > 8) return {};
  if (starts_with("http://") && base_url.size() > 7) {
    if (allow_insecure_http) return {};
    return Error::invalid_argument("base_url", "https:// (http:// only with ClientOptions::allow_insecure_http)",
                                   "base_url is not HTTPS: the access token would travel in clear text; set "
                                   "ClientOptions::allow_insecure_http to allow it (e.g. for a local sandbox)");
  }
  return Error::invalid_argument("base_url", "an https:// URL", "base_url must be an https:// URL");
}

Result<void> check_text(const char* field, std::string_view text) {
  return check_text_length(field, text, 1, limits::text_max_chars);
}

Result<void> check_subject(const char* field, std::string_view subject) {
  return check_text_length(field, trim(subject), 1, limits::subject_max_chars, " after trimming");
}

Result<void> check_description(const char* field, std::string_view description) {
  return check_text_length(field, description, 0, limits::description_max_chars);
}

Result<void> check_page(const PageRequest& page) {
  if (page.limit && (*page.limit < limits::list_limit_min || *page.limit > limits::list_limit_max)) {
    return Error::invalid_argument("limit", "1-1024",
                                   "limit is " + std::to_string(*page.limit) + "; it must be 1-1024");
  }
  if (page.after && page.before)
    return Error::invalid_argument("after", "not together with before", "set either after or before, not both");
  if (page.after && page.after->empty()) return Error::invalid_argument("after", "non-empty cursor");
  if (page.before && page.before->empty()) return Error::invalid_argument("before", "non-empty cursor");
  return {};
}

Result<void> check(const CreateGroupRequest& request) {
  if (auto r = check_subject("subject", request.subject); !r) return r;
  if (request.description) return check_description("description", *request.description);
  return {};
}

Result<void> check(const UpdateGroupSettingsRequest& request) {
  if (auto r = require_path_id("group_id", request.group_id); !r) return r;
  if (!request.subject && !request.description && !request.profile_picture)
    return Error::invalid_argument("subject", "at least one of subject, description, profile_picture",
                                   "nothing to update: set subject, description or profile_picture");
  if (request.subject) {
    if (auto r = check_subject("subject", *request.subject); !r) return r;
  }
  if (request.description) {
    if (auto r = check_description("description", *request.description); !r) return r;
  }
  if (request.profile_picture) return jpeg::check_profile_picture(request.profile_picture->jpeg_bytes);
  return {};
}

Result<void> check(const JoinRequestsAction& request) {
  if (auto r = require_path_id("group_id", request.group_id); !r) return r;
  if (request.join_request_ids.empty())
    return Error::invalid_argument("join_request_ids", "at least 1 id", "join_request_ids must not be empty");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < request.join_request_ids.size(); ++i) {
    const auto& id = request.join_request_ids[i];
    const std::string field = indexed("join_request_ids", i);
    if (auto r = require_id(field.c_str(), id); !r) return r;
    if (!seen.insert(id).second)
      return Error::invalid_argument(indexed("join_request_ids", i), "unique ids", "duplicate join request id " + id);
  }
  return {};
}

Result<void> check(const RemoveParticipantsRequest& request) {
  if (auto r = require_path_id("group_id", request.group_id); !r) return r;
  const std::size_t n = request.participants.size();
  if (n < 1 || n > limits::max_removed_per_call) {
    return Error::invalid_argument("participants", "1-8 unique entries",
                                   "participants has " + std::to_string(n) + " entries; it must have 1-8");
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < n; ++i) {
    std::string user = trim(request.participants[i]);
    if (user.empty()) return Error::invalid_argument(indexed("participants", i), "non-empty");
    if (!seen.insert(participant_key(user)).second)
      return Error::invalid_argument(indexed("participants", i), "1-8 unique entries",
                                     "duplicate participant " + user + " (Meta answers 131202)");
  }
  return {};
}

bool media_takes_caption(MessageType type) noexcept {
  return type == MessageType::image || type == MessageType::video || type == MessageType::document;
}

bool is_media(MessageType type) noexcept {
  return type == MessageType::image || type == MessageType::video || type == MessageType::audio ||
         type == MessageType::document || type == MessageType::sticker;
}

Result<void> check_template(const TemplateMessage& message, bool for_group) {
  if (for_group) {
    // Only the host knows what Meta approved the template as; without it an authentication
    // template could slip into a group, so the category is required there.
    if (!message.category)
      return Error::invalid_argument("template.category", "marketing or utility",
                                     "template.category must be set for a group send (marketing or utility; "
                                     "authentication templates are not allowed in groups)");
    if (*message.category == TemplateCategory::authentication) {
      Error e = Error::unsupported("template.category", "authentication templates cannot be sent to a group");
      e.limit = "marketing or utility";
      return e;
    }
  }
  if (auto r = require_id("template.name", message.name); !r) return r;
  if (auto r = require_id("template.language", message.language); !r) return r;
  for (std::size_t c = 0; c < message.components.size(); ++c) {
    const auto& component = message.components[c];
    const std::string prefix = "template.components[" + std::to_string(c) + "]";
    if (component.type.empty()) return Error::invalid_argument(prefix + ".type", "non-empty");
    for (std::size_t p = 0; p < component.parameters.size(); ++p) {
      const auto& param = component.parameters[p];
      const std::string field = prefix + ".parameters[" + std::to_string(p) + "]";
      if (param.type.empty()) return Error::invalid_argument(field + ".type", "non-empty");
      if (param.type == "text" && !param.text) return Error::invalid_argument(field + ".text", "set for a text parameter");
      if (param.type == "group_id" && (!param.group_id || param.group_id->empty()))
        return Error::invalid_argument(field + ".group_id", "non-empty for a group_id parameter");
      if ((param.type == "image" || param.type == "video" || param.type == "document") && !param.media)
        return Error::invalid_argument(field + ".media", "set for a media parameter");
    }
  }
  return {};
}

Result<void> check_phone(std::string_view phone, const char* field) {
  const std::string p = trim(phone);
  if (p.empty())
    return Error::invalid_argument(field, "a phone number", "the recipient phone number must not be empty");
  bool digit = false;
  for (char c : p) {
    digit = digit || (c >= '0' && c <= '9');
    const bool ok = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == ' ' || c == '(' || c == ')' || c == '.';
    if (!ok)
      return Error::invalid_argument(field, "a phone number (digits, optionally with + - ( ) . and spaces)",
                                     "the recipient phone number contains an invalid character (a BSUID goes in "
                                     "IndividualRecipient::bsuid)");
  }
  if (!digit) return Error::invalid_argument(field, "a phone number", "the recipient phone number has no digits");
  return {};
}

Result<void> check_bsuid(std::string_view bsuid, const char* field) {
  if (!looks_like_bsuid(trim(bsuid)))
    return Error::invalid_argument(field, "a business-scoped user id such as US.13491208655302741918",
                                   std::string(field) + " is not a business-scoped user id");
  return {};
}

Result<void> check(const IndividualRecipient& recipient) {
  if (!recipient.phone && !recipient.bsuid)
    return Error::invalid_argument("to", "a phone number or a BSUID", "the recipient has neither a phone nor a BSUID");
  if (recipient.phone) {
    if (auto r = check_phone(*recipient.phone); !r) return r;
  }
  if (recipient.bsuid) return check_bsuid(*recipient.bsuid);
  return {};
}

Result<void> check(const GroupMessage& m) {
  if (auto r = require_id("group_id", m.group_id); !r) return r;  // sent in the body, as `to`
  if (!is_supported_in_groups(m.type)) {
    Error e = Error::unsupported("type", std::string("message type '") + to_string(m.type) +
                                             "' is not supported in groups (text, media, non-authentication "
                                             "templates and pin are)");
    e.limit = "text, image, video, audio, document, sticker, template, pin";
    return e;
  }
  if (m.reply_to) {
    if (auto r = require_id("reply_to", *m.reply_to); !r) return r;
  }
  switch (m.type) {
    case MessageType::text:
      if (!m.text) return Error::invalid_argument("text", "1-4096 characters", "text must be set for a text message");
      return check_text_length("text", *m.text, 1, limits::text_max_chars);
    case MessageType::image:
    case MessageType::video:
    case MessageType::audio:
    case MessageType::document:
    case MessageType::sticker:
      if (!m.media) return Error::invalid_argument("media", "set for a media message");
      return check_media("media", m.type, *m.media);
    case MessageType::template_:
      if (!m.template_message) return Error::invalid_argument("template", "set for a template message");
      return check_template(*m.template_message, true);
    case MessageType::pin: {
      if (!m.pin) return Error::invalid_argument("pin", "set for a pin message");
      if (auto r = require_id("pin.message_id", m.pin->message_id); !r) return r;
      if (m.pin->operation == PinOperation::pin) {
        if (!m.pin->expiration_days || *m.pin->expiration_days < limits::pin_min_days ||
            *m.pin->expiration_days > limits::pin_max_days) {
          return Error::invalid_argument("pin.expiration_days", "1-30 days",
                                         m.pin->expiration_days
                                             ? "pin.expiration_days is " + std::to_string(*m.pin->expiration_days) +
                                                   "; it must be 1-30"
                                             : "pin.expiration_days must be set (1-30) to pin");
        }
      }
      return {};
    }
    default:
      return {};
  }
}

}  // namespace validation
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
