// The simulator's side of the wire: request targets and multipart bodies as a Graph server reads
// them, and Meta's error envelope as it writes it. Plain text plumbing, kept apart from the
// routes so that each route reads as what Meta does, not how bytes are parsed.

#include <charconv>
#include <climits>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sandbox/simulator_engine.hpp"
#include "util/text.hpp"
#include "wagroups/graph_codes.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sandbox {
namespace sim {

namespace {

std::string percent_decode(std::string_view s, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

bool is_version_segment(std::string_view s) {
  if (s.size() < 2 || s[0] != 'v') return false;
  bool digit = false;
  for (char c : s.substr(1)) {
    if (c >= '0' && c <= '9') digit = true;
    else if (c != '.') return false;
  }
  return digit;
}

std::optional<std::string> header_param(std::string_view header, std::string_view name) {
  for (std::size_t at = header.find(name); at != std::string_view::npos; at = header.find(name, at + 1)) {
    if (at > 0 && header[at - 1] != ' ' && header[at - 1] != ';' && header[at - 1] != '\t') continue;
    std::string_view rest = header.substr(at + name.size());
    if (rest.empty() || rest.front() != '=') continue;
    rest.remove_prefix(1);
    if (!rest.empty() && rest.front() == '"') {
      rest.remove_prefix(1);
      return std::string(rest.substr(0, rest.find('"')));
    }
    return std::string(text::trim_ascii(rest.substr(0, rest.find(';'))));
  }
  return std::nullopt;
}

}  // namespace

std::string base64(std::string_view in, bool url_safe, bool pad) {
  static constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* alphabet = url_safe ? kUrl : kStd;
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const std::uint32_t n = (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
                            (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 2]));
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  const std::size_t rest = in.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    if (rest == 2) out += alphabet[(n >> 6) & 63];
    if (pad) out.append(rest == 1 ? 2 : 1, '=');
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::string hex_upper(std::uint64_t v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[v & 0xF];
    v >>= 4;
  }
  return out;
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

Target parse_target(std::string_view url) {
  Target t;
  if (const auto scheme = url.find("://"); scheme != std::string_view::npos) {
    const auto path = url.find('/', scheme + 3);
    t.origin = std::string(url.substr(0, path));
    url = path == std::string_view::npos ? std::string_view("/") : url.substr(path);
  }
  if (const auto hash = url.find('#'); hash != std::string_view::npos) url = url.substr(0, hash);
  std::string_view query;
  if (const auto q = url.find('?'); q != std::string_view::npos) {
    query = url.substr(q + 1);
    url = url.substr(0, q);
  }
  while (!url.empty()) {
    const auto slash = url.find('/');
    const std::string_view seg = url.substr(0, slash);
    if (!seg.empty()) t.segments.push_back(percent_decode(seg, false));
    if (slash == std::string_view::npos) break;
    url.remove_prefix(slash + 1);
  }
  if (!t.segments.empty() && is_version_segment(t.segments.front())) {
    t.version = t.segments.front();
    t.segments.erase(t.segments.begin());
  }
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      t.query.emplace_back(percent_decode(pair.substr(0, eq), true),
                           eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1), true));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return t;
}

// multipart/form-data as the Client (and curl -F) writes it.
std::optional<std::vector<FormPart>> parse_multipart(std::string_view content_type, std::string_view body) {
  const auto boundary = header_param(content_type, "boundary");
  if (!boundary || boundary->empty()) return std::nullopt;
  const std::string delimiter = "--" + *boundary;
  std::vector<FormPart> parts;
  std::size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) return std::nullopt;
  for (;;) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return parts;
    if (body.substr(pos, 2) != "\r\n") return std::nullopt;
    pos += 2;
    const auto headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) return std::nullopt;
    const std::string_view headers = body.substr(pos, headers_end - pos);
    const std::size_t content_start = headers_end + 4;
    const auto next = body.find("\r\n" + delimiter, content_start);
    if (next == std::string_view::npos) return std::nullopt;
    FormPart part;
    part.content = std::string(body.substr(content_start, next - content_start));
    std::string_view rest = headers;
    while (!rest.empty()) {
      const auto eol = rest.find("\r\n");
      const std::string_view line = rest.substr(0, eol);
      const auto colon = line.find(':');
      if (colon != std::string_view::npos &&
          text::iequals_ascii(text::trim_ascii(line.substr(0, colon)), "Content-Disposition")) {
        if (auto name = header_param(line, "name")) part.name = std::move(*name);
        part.filename = header_param(line, "filename");
      }
      if (eol == std::string_view::npos) break;
      rest.remove_prefix(eol + 2);
    }
    parts.push_back(std::move(part));
    pos = next + 2;
  }
}

std::optional<std::string> sha256_base64(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  const EVP_MD* md = EVP_sha256();
  if (!md || EVP_Digest(bytes.data(), bytes.size(), digest, &size, md, nullptr) != 1 || size != 32) return std::nullopt;
  return base64(std::string_view(reinterpret_cast<const char*>(digest), size), false, true);
}

std::optional<std::string> hmac_sha256_signature(std::string_view body, std::string_view secret) {
  // HMAC() takes the key length as an int: a longer secret would be cut, so it is refused instead.
  if (secret.size() > static_cast<std::size_t>(INT_MAX)) return std::nullopt;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  const EVP_MD* md = EVP_sha256();
  // An empty body or secret is a valid HMAC input; OpenSSL wants non-null pointers for them.
  static const unsigned char kNothing = 0;
  const auto* key = secret.empty() ? &kNothing : reinterpret_cast<const unsigned char*>(secret.data());
  const auto* data = body.empty() ? &kNothing : reinterpret_cast<const unsigned char*>(body.data());
  if (!md || !HMAC(md, key, static_cast<int>(secret.size()), data, body.size(), digest, &size) || size != 32)
    return std::nullopt;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0F];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Graph errors

Failure failure(int http, int code, std::string title, std::string details) {
  Failure f;
  f.http = http;
  f.code = code;
  f.title = std::move(title);
  f.details = std::move(details);
  return f;
}

Failure invalid_parameter(std::string details) { return failure(400, 100, "Invalid parameter", std::move(details)); }
Failure missing_parameter(std::string details) {
  return failure(400, 131008, "Required parameter is missing", std::move(details));
}
Failure invalid_value(std::string details) {
  return failure(400, 131009, "Parameter value is not valid", std::move(details));
}
Failure not_eligible() {
  return failure(400, graph_codes::not_eligible, "This phone number is not eligible to access Groups APIs",
                 "Groups APIs are only available for eligible phone numbers. Please check eligibility for "
                 "Groups APIs in our documentation - /documentation/business-messaging/whatsapp/groups/get-started");
}
Failure group_unknown() {
  return failure(400, graph_codes::group_unknown, "Group unknown",
                 "The group was not found, either because it doesn't exist or you are not a member.");
}
Failure group_suspended() {
  return failure(403, graph_codes::group_suspended, "Group suspended", "The group violates platform policies.");
}
Failure participant_overlimit() {
  return failure(400, graph_codes::participant_overlimit, "Participant overlimit",
                 "Group participant size exceeds limit.");
}
Failure not_in_group() {
  return failure(400, graph_codes::participant_not_in_group, "Participant is not a part of the group.",
                 "Participant is not a part of the group.");
}
Failure join_request_missing() {
  return failure(400, graph_codes::join_request_not_found, "Group join request does not exist.",
                 "Group join request does not exist.");
}
Failure invalid_cursor() {
  return failure(400, graph_codes::invalid_cursor, "Invalid cursor",
                 "The cursor has either expired or become corrupted. Start pagination from the beginning again.");
}
Failure unknown_route(const char* method, const std::string& object_id) {
  std::string verb = method;
  for (char& c : verb) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  const std::string text = "Unsupported " + verb + " request. Object with ID '" + object_id +
                           "' does not exist, cannot be loaded due to missing permissions, or does not support this "
                           "operation. Please read the Graph API documentation at "
                           "https://developers.facebook.com/docs/graph-api";
  Failure f = failure(400, 100, "Unsupported " + verb + " request", text);
  f.type = "GraphMethodException";
  f.subcode = 33;
  f.message = text;
  return f;
}

Failure nonexisting_field(const std::string& field, const char* node_type) {
  return failure(400, 100, "Tried accessing nonexisting field (" + field + ") on node type (" + node_type + ")",
                 "Tried accessing nonexisting field (" + field + ") on node type (" + node_type + ")");
}

Failure signing_failure() {
  Failure f = failure(500, 1, "An unknown error occurred",
                      "sandbox: a webhook of this call could not be signed (HMAC-SHA256 failed), so it was not queued");
  f.type = "OAuthException";
  return f;
}

Failure simulated(const SimulatedError& e, int http) { return failure(http, e.code, e.title, e.details); }

namespace {
std::string graph_message(const Failure& f) {
  return f.message ? *f.message : "(#" + std::to_string(f.code) + ") " + f.title;
}
}  // namespace

// A Simulator person-side failure as the SDK's Error (what a Graph answer would have decoded to).
Error to_error(const Failure& f) {
  Error e;
  e.code = ErrorCode::graph_api;
  e.http_status = f.http;
  GraphError g;
  g.code = f.code;
  g.type = f.type;
  g.message = graph_message(f);
  g.error_subcode = f.subcode;
  g.details = f.details;
  e.graph = g;
  e.message = g.message + ": " + f.details;
  e.request_may_have_been_sent = false;
  e.attempts = 0;
  return e;
}

void write_item_error(json::Writer& w, const Failure& f) {
  w.begin_object();
  w.field("code", f.code);
  w.field("title", f.title);
  w.field("message", graph_message(f));
  w.key("error_data").begin_object().field("details", f.details).end_object();
  w.end_object();
}

// Writes the members of Meta's `{"error": {...}}` envelope into an open object.
void write_error_member(json::Writer& w, const Failure& f, const std::string& fbtrace_id) {
  w.key("error").begin_object();
  w.field("message", graph_message(f));
  w.field("type", f.type);
  w.field("code", f.code);
  w.key("error_data").begin_object().field("messaging_product", "whatsapp").field("details", f.details).end_object();
  if (f.subcode) w.field("error_subcode", *f.subcode);
  w.field("fbtrace_id", fbtrace_id);
  w.end_object();
}

HttpResponse empty_response(int status) {
  HttpResponse r;
  r.status = status;
  return r;
}

std::vector<std::string> field_list(const Target& t) {
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
  return fields;
}

HttpResponse json_response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

}  // namespace sim
}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
