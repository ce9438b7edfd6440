// Simulator: an in-memory imitation of Meta's Groups API, for offline runs and host tests.
//
// One mutex guards the whole state; `flush` hands deliveries to the sink outside it, so a sink may
// call back into the simulator. Every id and every "random" choice comes from two seeded
// SplitMix64 streams (ids, and webhook realism), so equal seeds and clocks give equal bytes, and
// the realism shares never shift the ids.
//
// Where Meta documents no behaviour, the simulator chooses (reference §5, §7):
// * an unsupported outbound type in a group (interactive, reaction, location, contacts, order, ...)
//   answers HTTP 400, code 130501 "Unsupported message type", the code Meta uses for unsupported
//   group content (the Client refuses these types itself, before sending);
// * sending to a group nobody has joined answers 131020 "Bad Group" (the business is then the
//   group's single member);
// * an unknown or deleted group answers 131041 "Group unknown" on every group route;
// * a removal where none of the named people is a member answers 400/131212 and queues no webhook;
//   a removal where some are answers 206 with the 131201 envelope, `removed_participants` and
//   `failed_participants` (131212 each), and the webhook lists both;
// * create, settings and delete answer with a `request_id`, which their webhook carries too;
// * generic validation failures use the Cloud API's generic codes: 100 (invalid parameter),
//   131008 (required parameter missing), 131009 (parameter value not valid);
// * an unknown path or method answers 404 with code 100 (GraphMethodException, subcode 33).

#include "wagroups/sandbox/simulator.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <utility>

#include <openssl/evp.h>

#include "client/jpeg.hpp"
#include "client/validation.hpp"
#include "json/json.hpp"
#include "util/text.hpp"
#include "wagroups/webhook.hpp"
#include "wagroups/graph_codes.hpp"
#include "wagroups/limits.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sandbox {

namespace {

constexpr const char* kFormat = "wagroups-sandbox-state";
constexpr int kFormatVersion = 1;
constexpr int kDefaultPageSize = 25;
constexpr int kMaxPageSize = 1024;
constexpr std::size_t kMaxPinned = 3;
constexpr std::size_t kMaxRemovePerCall = 8;
constexpr const char* kGraphOrigin = "https://graph.facebook.com";
constexpr const char* kDefaultVersion = "v23.0";

// ---------------------------------------------------------------------------------------------
// Small helpers

std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

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

// The request target split up: "https://host/v23.0/a/b?x=1" or "/v23.0/a/b?x=1".
struct Target {
  std::string origin = kGraphOrigin;
  std::string version = kDefaultVersion;
  std::vector<std::string> segments;
  std::vector<std::pair<std::string, std::string>> query;

  std::optional<std::string> param(std::string_view key) const {
    for (const auto& [k, v] : query) {
      if (k == key) return v;
    }
    return std::nullopt;
  }
};

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

struct FormPart {
  std::string name;
  std::optional<std::string> filename;
  std::string content;
};

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
      if (colon != std::string_view::npos && text::iequals_ascii(text::trim_ascii(line.substr(0, colon)),
                                                                 "Content-Disposition")) {
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

std::string sha256_base64(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr) != 1) return {};
  return base64(std::string_view(reinterpret_cast<const char*>(digest), size), false, true);
}

// ---------------------------------------------------------------------------------------------
// Graph errors

struct Failure {
  int http = 400;
  int code = 0;
  std::string title;
  std::string details;
  std::string type = "OAuthException";
  std::optional<int> subcode;
  std::optional<std::int64_t> retry_after_seconds;
};

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
Failure unknown_route(const char* method, const std::string& path) {
  Failure f = failure(404, 100, std::string("Unsupported ") + method + " request",
                      "Unsupported " + std::string(method) + " request. Object with path '" + path +
                          "' does not exist, cannot be loaded due to missing permissions, or does not support "
                          "this operation.");
  f.type = "GraphMethodException";
  f.subcode = 33;
  return f;
}

std::string graph_message(const Failure& f) { return "(#" + std::to_string(f.code) + ") " + f.title; }

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

HttpResponse json_response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

// ---------------------------------------------------------------------------------------------
// People

std::optional<Error> check_person(const Person& p) {
  if (p.phone.empty() && (!p.user_id || p.user_id->empty()))
    return Error::invalid_argument("person", "a phone number or a user_id", "a simulated person needs a phone or a BSUID");
  if (!p.phone.empty() && !looks_like_phone(p.phone))
    return Error::invalid_argument("person.phone", "digits", "a simulated person's phone must be digits");
  return std::nullopt;
}

Person normalized(Person p) {
  p.phone = digits_of(p.phone);
  return p;
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

void write_identity(json::Writer& w, const Person& p) {
  if (!p.phone.empty()) w.field("wa_id", p.phone);
  if (p.user_id) w.field("user_id", *p.user_id);
  if (p.username) w.field("username", *p.username);
}

void write_contact(json::Writer& w, const Person& p) {
  w.begin_object();
  w.key("profile").begin_object().field("name", p.name);
  if (p.username) w.field("username", *p.username);
  w.end_object();
  if (!p.phone.empty()) w.field("wa_id", p.phone);
  if (p.user_id) w.field("user_id", *p.user_id);
  w.end_object();
}

void write_timestamp(json::Writer& w, std::int64_t t, bool variant) {
  w.key("timestamp");
  if (variant) w.integer(t);  // Meta's unquoted spelling (the OpenAPI schema's integer)
  else w.string(std::to_string(t));
}

struct Pricing {
  bool billable = false;
  const char* category = "group_service";
  const char* type = "free_group_customer_service";
};

// Pricing beside `conversation` (most samples), or inside it (the aggregated-status sample).
void write_pricing(json::Writer& w, const Pricing& p, bool variant, const std::string& conversation_id) {
  auto body = [&] {
    w.begin_object();
    w.field("billable", p.billable);
    w.field("pricing_model", "PMP");
    w.field("category", p.category);
    w.field("type", p.type);
    w.end_object();
  };
  if (variant) {
    w.key("conversation").begin_object().field("id", conversation_id);
    w.key("origin").begin_object().field("type", p.category).end_object();
    w.key("pricing");
    body();
    w.end_object();
  } else {
    w.key("pricing");
    body();
  }
}

std::string conversation_id_of(const std::string& message_id) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a: stable, and draws nothing from the id stream
  for (char c : message_id) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return hex_upper(h);
}

// ---------------------------------------------------------------------------------------------
// State

struct MemberState {
  Person person;
  bool joined = false;
  std::optional<std::string> join_request_id;
  std::int64_t since = 0;  // when they joined, or asked to
  std::uint64_t seq = 0;   // order of join requests (paging)
};

struct GroupState {
  std::string group_id;
  std::uint64_t seq = 0;
  std::string subject;
  std::optional<std::string> description;
  JoinApprovalMode join_approval_mode = JoinApprovalMode::auto_approve;
  std::string invite_link;  // empty after DELETE invite_link, until the next get or reset
  bool suspended = false;
  bool deleted = false;
  std::int64_t creation_timestamp = 0;
  std::optional<std::string> picture_sha256;
  std::vector<MemberState> members;
  std::vector<Person> removed;  // removed by the business: the invite link no longer admits them
  std::vector<std::string> business_message_ids;
  std::vector<std::string> message_ids;  // every message in the group (what may be pinned)
  std::vector<std::string> pinned;

  std::size_t joined_count() const {
    return static_cast<std::size_t>(std::count_if(members.begin(), members.end(), [](const MemberState& m) { return m.joined; }));
  }
  MemberState* find_member(const Person& p, bool joined) {
    for (auto& m : members) {
      if (m.joined == joined && same_person(m.person, p)) return &m;
    }
    return nullptr;
  }

  SimGroup snapshot() const {
    SimGroup g;
    g.group_id = group_id;
    g.subject = subject;
    g.description = description;
    g.join_approval_mode = join_approval_mode;
    g.invite_link = invite_link;
    g.suspended = suspended;
    g.deleted = deleted;
    g.creation_timestamp = creation_timestamp;
    for (const auto& m : members) g.members.push_back(SimMember{m.person, m.joined, m.join_request_id});
    g.business_message_ids = business_message_ids;
    return g;
  }
};

struct State {
  bool eligible = true;
  std::uint64_t id_rng = 0;
  std::uint64_t noise_rng = 0;
  std::uint64_t group_seq = 0;
  std::uint64_t request_seq = 0;
  std::uint64_t message_seq = 0;
  std::uint64_t join_request_seq = 0;
  std::int64_t window_start = 0;
  int window_ops = 0;
  std::vector<GroupState> groups;
  std::unordered_map<std::string, std::size_t> by_id;
  std::deque<WebhookDelivery> outbox;

  void reindex() {
    by_id.clear();
    for (std::size_t i = 0; i < groups.size(); ++i) by_id[groups[i].group_id] = i;
  }
};

using ValueWriter = std::function<void(json::Writer&, bool variant)>;

// ---------------------------------------------------------------------------------------------
// Engine: the state and its operations, shared with the transports handed out (which may outlive
// the Simulator: they then fail cleanly instead of touching freed state).

struct Engine {
  mutable std::mutex mutex;
  SimulatorOptions options;
  std::function<void(const WebhookDelivery&)> sink;
  State s;

  explicit Engine(SimulatorOptions o) : options(std::move(o)) {
    s.eligible = options.eligible;
    s.id_rng = options.seed;
    s.noise_rng = options.seed ^ 0xA5A5A5A55A5A5A5Aull;
  }

  std::int64_t now() const {
    const auto tp = options.clock ? options.clock() : std::chrono::system_clock::now();
    return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
  }

  // --- ids ---------------------------------------------------------------------------------------
  std::uint64_t draw() { return splitmix64(s.id_rng); }
  double noise() { return static_cast<double>(splitmix64(s.noise_rng) >> 11) * (1.0 / 9007199254740992.0); }

  std::string alnum(std::size_t n) {
    static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string out;
    std::uint64_t bits = draw();
    for (std::size_t i = 0; i < n; ++i) {
      if (i % 10 == 9) bits = draw();
      out += kChars[bits % 62];
      bits /= 62;
    }
    return out;
  }
  std::string fbtrace_id() { return "A" + alnum(22); }
  std::string request_id() {
    ++s.request_seq;
    return hex_upper(draw()) + hex_upper(draw());
  }
  // "wamid.HBgL..." like Meta's: base64 of the counterpart (a phone or the tail of a group id),
  // random bytes and a counter.
  std::string message_id(const std::string& counterpart) {
    ++s.message_seq;
    const std::string who = counterpart.size() > 15 ? counterpart.substr(counterpart.size() - 15) : counterpart;
    return "wamid.HBgL" + base64(who + "\x15\x02" + hex_upper(draw()) + std::to_string(s.message_seq), false, false);
  }
  std::string new_group_id() {
    for (;;) {
      const std::string number = "120363" + std::to_string(100000000000ull + draw() % 900000000000ull);
      std::string id = base64("capi_group:" + options.display_phone_number + ":" + number, true, false);
      if (!s.by_id.count(id)) return id;
    }
  }
  std::string new_invite_link() { return "https://chat.whatsapp.com/" + alnum(22); }
  std::string new_join_request_id(const Person& p) {
    ++s.join_request_seq;
    const std::string who = p.phone.empty() ? p.user_id.value_or("") : p.phone;
    return base64(who + ":" + hex_upper(draw()) + ":" + std::to_string(s.join_request_seq), true, false);
  }
  static std::string cursor(std::uint64_t seq) { return base64("cursor:" + std::to_string(seq), true, false); }
  static std::optional<std::uint64_t> cursor_seq(const std::string& c) {
    auto text = base64url_decode(c);
    if (!text || text->rfind("cursor:", 0) != 0) return std::nullopt;
    return parse_u64(std::string_view(*text).substr(7));
  }

  // --- responses ---------------------------------------------------------------------------------
  HttpResponse fail(const Failure& f) {
    json::Writer w;
    w.begin_object();
    write_error_member(w, f, fbtrace_id());
    w.end_object();
    HttpResponse r = json_response(f.http, w.str());
    if (f.retry_after_seconds) r.headers.emplace_back("Retry-After", std::to_string(*f.retry_after_seconds));
    return r;
  }

  // --- webhooks ----------------------------------------------------------------------------------
  void queue(const char* field, const char* variant_field, const ValueWriter& write_value) {
    // Three draws per delivery whatever the shares, so that the stream stays aligned.
    const bool variant = noise() < options.spelling_variant_share;
    const bool duplicate = noise() < options.duplicate_share;
    const bool reorder = noise() < options.reorder_share;
    WebhookDelivery d;
    d.field = variant && variant_field ? variant_field : field;
    json::Writer w;
    w.begin_object();
    w.field("object", "whatsapp_business_account");
    w.key("entry").begin_array().begin_object();
    w.field("id", options.waba_id);
    w.key("changes").begin_array().begin_object();
    w.key("value").begin_object();
    w.field("messaging_product", "whatsapp");
    w.key("metadata").begin_object();
    w.field("display_phone_number", options.display_phone_number);
    w.field("phone_number_id", options.phone_number_id);
    w.end_object();
    write_value(w, variant);
    w.end_object();
    w.field("field", d.field);
    w.end_object().end_array();
    w.end_object().end_array();
    w.end_object();
    d.body = w.str();
    d.signature = compute_signature(d.body, options.app_secret);
    // Out of order: this delivery goes before the one queued just before it.
    std::size_t at = reorder && !s.outbox.empty() ? s.outbox.size() - 1 : s.outbox.size();
    s.outbox.insert(s.outbox.begin() + static_cast<std::ptrdiff_t>(at), d);
    if (duplicate) s.outbox.insert(s.outbox.begin() + static_cast<std::ptrdiff_t>(at + 1), d);
  }

  // One item of `value.groups`.
  void queue_group_event(const char* field, const char* variant_field, const GroupState& g, std::int64_t t,
                         const char* type, const char* variant_type, const std::function<void(json::Writer&)>& members) {
    const std::string gid = g.group_id;
    queue(field, variant_field, [&](json::Writer& w, bool variant) {
      w.key("groups").begin_array().begin_object();
      write_timestamp(w, t, variant);
      w.field("group_id", gid);
      w.field("type", variant && variant_type ? variant_type : type);
      members(w);
      w.end_object().end_array();
    });
  }
  void queue_participants_event(const GroupState& g, std::int64_t t, const char* type, const char* variant_type,
                                const std::function<void(json::Writer&)>& members) {
    queue_group_event("group_participants_update", "group_participant_update", g, t, type, variant_type, members);
  }

  void queue_added(const GroupState& g, std::int64_t t, const std::vector<Person>& people, bool with_input) {
    queue_participants_event(g, t, "group_participants_add", "group_add_participants", [&](json::Writer& w) {
      w.field("reason", "invite_link");
      w.key("added_participants").begin_array();
      for (const Person& p : people) {
        w.begin_object();
        if (with_input) w.field("input", p.phone.empty() ? p.user_id.value_or("") : p.phone);
        write_identity(w, p);
        w.end_object();
      }
      w.end_array();
    });
  }

  void queue_join_request_event(const GroupState& g, std::int64_t t, const char* type, const MemberState& m) {
    queue_participants_event(g, t, type, nullptr, [&](json::Writer& w) {
      w.field("join_request_id", m.join_request_id.value_or(""));
      write_identity(w, m.person);
    });
  }

  // A business message to a group: one group-wide `sent`, then each member's `delivered` and
  // `read`, aggregated into one webhook per status type.
  void queue_group_statuses(const GroupState& g, const std::string& wamid, bool is_template, std::int64_t t) {
    const std::string gid = g.group_id;
    queue("messages", nullptr, [&](json::Writer& w, bool variant) {
      w.key("statuses").begin_array().begin_object();
      w.field("id", wamid);
      w.field("status", "sent");
      write_timestamp(w, t, variant);
      w.field("recipient_id", gid);
      w.field("recipient_type", "group");
      w.end_object().end_array();
    });
    if (!options.auto_statuses) return;
    std::vector<Person> people;
    for (const auto& m : g.members) {
      if (m.joined) people.push_back(m.person);
    }
    if (people.empty()) return;
    Pricing pricing;
    if (is_template) pricing = Pricing{true, "group_utility", "regular"};
    const std::string conversation = conversation_id_of(wamid);
    for (const char* status : {"delivered", "read"}) {
      queue("messages", nullptr, [&](json::Writer& w, bool variant) {
        w.key("contacts").begin_array();
        for (const Person& p : people) write_contact(w, p);
        w.end_array();
        w.key("statuses").begin_array();
        for (const Person& p : people) {
          w.begin_object();
          w.field("id", wamid);
          w.field("status", status);
          write_timestamp(w, t, variant);
          w.field("recipient_id", gid);
          w.field("recipient_type", "group");
          if (!p.phone.empty()) w.field(variant ? "participant_recipient_id" : "recipient_participant_id", p.phone);
          if (p.user_id) w.field("recipient_participant_user_id", *p.user_id);
          write_pricing(w, pricing, variant, conversation);
          w.end_object();
        }
        w.end_array();
      });
    }
  }

  void queue_direct_statuses(const std::string& recipient, bool is_bsuid, const std::string& wamid, bool is_template,
                             std::int64_t t) {
    const Pricing pricing = is_template ? Pricing{true, "utility", "regular"} : Pricing{false, "service", "free_customer_service"};
    const std::string conversation = conversation_id_of(wamid);
    std::vector<const char*> statuses{"sent"};
    if (options.auto_statuses) {
      statuses.push_back("delivered");
      statuses.push_back("read");
    }
    for (const char* status : statuses) {
      queue("messages", nullptr, [&](json::Writer& w, bool variant) {
        w.key("statuses").begin_array().begin_object();
        w.field("id", wamid);
        w.field("status", status);
        write_timestamp(w, t, variant);
        w.field(is_bsuid ? "recipient_user_id" : "recipient_id", recipient);
        write_pricing(w, pricing, variant, conversation);
        w.end_object().end_array();
      });
    }
  }

  void queue_inbound_text(const Person& from, const std::optional<std::string>& group_id, const std::string& wamid,
                          const std::string& body, std::int64_t t) {
    queue("messages", nullptr, [&](json::Writer& w, bool variant) {
      w.key("contacts").begin_array();
      write_contact(w, from);
      w.end_array();
      w.key("messages").begin_array().begin_object();
      if (!from.phone.empty()) w.field("from", from.phone);
      if (from.user_id) w.field("from_user_id", *from.user_id);
      if (group_id) w.field("group_id", *group_id);
      w.field("id", wamid);
      write_timestamp(w, t, variant);
      w.key("text").begin_object().field("body", body).end_object();
      w.field("type", "text");
      w.end_object().end_array();
    });
  }

  // --- lookups and checks ------------------------------------------------------------------------
  GroupState* active_group(const std::string& id) {
    auto it = s.by_id.find(id);
    if (it == s.by_id.end()) return nullptr;
    GroupState& g = s.groups[it->second];
    return g.deleted ? nullptr : &g;
  }

  std::size_t active_groups() const {
    return static_cast<std::size_t>(std::count_if(s.groups.begin(), s.groups.end(), [](const GroupState& g) { return !g.deleted; }));
  }

  bool full(const GroupState& g) const {
    // The business takes one seat.
    return static_cast<int>(g.joined_count()) + 1 >= options.max_participants;
  }

  // Counts one group operation against the number's window; the 429 when it is used up.
  std::optional<Failure> take_group_op(std::int64_t t) {
    if (options.group_ops_per_window <= 0) return std::nullopt;
    const std::int64_t window = std::max<std::int64_t>(1, options.rate_window.count());
    if (s.window_ops == 0 || t >= s.window_start + window || t < s.window_start) {
      s.window_start = t;
      s.window_ops = 0;
    }
    if (s.window_ops >= options.group_ops_per_window) {
      Failure f = failure(429, graph_codes::group_rate_limit, "Group Rate Limit Hit",
                          "Group operation failed because there were too many group operations from this phone "
                          "number in a short period.");
      f.retry_after_seconds = std::max<std::int64_t>(1, s.window_start + window - t);
      return f;
    }
    ++s.window_ops;
    return std::nullopt;
  }

  bool authorized(const HttpRequest& r, const Target& t) const {
    if (!options.access_token) return true;
    if (auto h = r.header("Authorization")) {
      const std::string_view v = text::trim_ascii(*h);
      if (v.size() > 7 && text::iequals_ascii(v.substr(0, 7), "Bearer ") &&
          text::trim_ascii(v.substr(7)) == *options.access_token)
        return true;
    }
    const auto q = t.param("access_token");
    return q && *q == *options.access_token;
  }

  static bool parse_json_body(const HttpRequest& r, json::Document& doc, Failure& f) {
    if (text::is_blank(r.body)) {
      doc.SetObject();
      return true;
    }
    std::string reason;
    if (!json::parse(r.body, doc, reason) || !doc.IsObject()) {
      f = invalid_parameter("the request body must be a JSON object (" + reason + ")");
      return false;
    }
    return true;
  }

  static std::optional<Failure> check_messaging_product(const json::Value& doc, bool required) {
    const auto mp = json::get_string(doc, "messaging_product");
    if (!mp) {
      if (required) return missing_parameter("messaging_product is required");
      return std::nullopt;
    }
    if (*mp != "whatsapp") return invalid_parameter("messaging_product must be \"whatsapp\"");
    return std::nullopt;
  }

  static std::optional<Failure> check_subject(const std::string& trimmed) {
    if (trimmed.empty()) return missing_parameter("subject must not be empty");
    const std::size_t n = validation::utf8_length(trimmed);
    if (n == std::string::npos) return invalid_parameter("subject is not valid UTF-8");
    if (n > limits::subject_max_chars) return invalid_parameter("subject must be at most 128 characters");
    return std::nullopt;
  }
  static std::optional<Failure> check_description(const std::string& d) {
    const std::size_t n = validation::utf8_length(d);
    if (n == std::string::npos) return invalid_parameter("description is not valid UTF-8");
    if (n > limits::description_max_chars) return invalid_parameter("description must be at most 2048 characters");
    return std::nullopt;
  }

  std::optional<int> page_limit(const Target& t, Failure& f) const {
    const auto raw = t.param("limit");
    if (!raw) return kDefaultPageSize;
    const auto v = json::parse_int64(*raw);
    if (!v || *v < limits::list_limit_min || *v > kMaxPageSize) {
      f = invalid_parameter("limit must be an integer from 1 to 1024");
      return std::nullopt;
    }
    return static_cast<int>(*v);
  }

  // One page of `items` (sorted by seq) by Graph cursors: after, before or from the start.
  template <typename T, typename SeqOf>
  std::optional<std::pair<std::size_t, std::size_t>> page_bounds(const std::vector<T>& items, const Target& t, int limit,
                                                                 SeqOf seq_of, Failure& f) const {
    std::size_t begin = 0, end = items.size();
    if (auto after = t.param("after")) {
      const auto seq = cursor_seq(*after);
      if (!seq) {
        f = failure(400, graph_codes::invalid_cursor, "Invalid cursor",
                    "The cursor has either expired or become corrupted. Start pagination from the beginning again.");
        return std::nullopt;
      }
      while (begin < items.size() && seq_of(items[begin]) <= *seq) ++begin;
      end = std::min(items.size(), begin + static_cast<std::size_t>(limit));
    } else if (auto before = t.param("before")) {
      const auto seq = cursor_seq(*before);
      if (!seq) {
        f = failure(400, graph_codes::invalid_cursor, "Invalid cursor",
                    "The cursor has either expired or become corrupted. Start pagination from the beginning again.");
        return std::nullopt;
      }
      end = 0;
      while (end < items.size() && seq_of(items[end]) < *seq) ++end;
      begin = end > static_cast<std::size_t>(limit) ? end - static_cast<std::size_t>(limit) : 0;
    } else {
      end = std::min(items.size(), static_cast<std::size_t>(limit));
    }
    return std::make_pair(begin, end);
  }

  template <typename T, typename SeqOf>
  void write_paging(json::Writer& w, const std::vector<T>& items, std::size_t begin, std::size_t end, int limit,
                    SeqOf seq_of, const std::string& base_url) const {
    if (begin >= end) return;
    const std::string first = cursor(seq_of(items[begin]));
    const std::string last = cursor(seq_of(items[end - 1]));
    w.key("paging").begin_object();
    w.key("cursors").begin_object().field("before", first).field("after", last).end_object();
    if (begin > 0) w.field("previous", base_url + "?limit=" + std::to_string(limit) + "&before=" + first);
    if (end < items.size()) w.field("next", base_url + "?limit=" + std::to_string(limit) + "&after=" + last);
    w.end_object();
  }

  // --- routing -----------------------------------------------------------------------------------
  HttpResponse handle(const HttpRequest& r) {
    std::lock_guard<std::mutex> lock(mutex);
    const Target t = parse_target(r.url);
    const std::int64_t now_s = now();
    if (!authorized(r, t)) {
      Failure f = failure(401, 190, "Invalid OAuth access token",
                          "Invalid OAuth access token - Cannot parse access token");
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
                            "Object with ID '" + seg[0] + "' does not exist, cannot be loaded due to missing "
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

  using GroupHandler = HttpResponse (Engine::*)(GroupState&, const HttpRequest&, const Target&, std::int64_t);

  // The checks every /{group-id}... route shares, in Meta's likely order: eligibility, the rate
  // limit (group operations only), then the group itself.
  HttpResponse group_route(const HttpRequest& r, const Target& t, std::int64_t now_s, bool counts, GroupHandler h) {
    if (!s.eligible) return fail(not_eligible());
    if (counts) {
      if (auto limited = take_group_op(now_s)) return fail(*limited);
    }
    GroupState* g = active_group(t.segments[0]);
    if (!g) return fail(group_unknown());
    return (this->*h)(*g, r, t, now_s);
  }

  // --- groups ------------------------------------------------------------------------------------
  HttpResponse create_group(const HttpRequest& r, std::int64_t now_s) {
    if (!s.eligible) return fail(not_eligible());
    if (auto limited = take_group_op(now_s)) return fail(*limited);
    json::Document doc;
    Failure f;
    if (!parse_json_body(r, doc, f)) return fail(f);
    if (auto bad = check_messaging_product(doc, true)) return fail(*bad);
    const auto subject = json::get_string(doc, "subject");
    if (!subject) return fail(missing_parameter("subject is required"));
    const std::string trimmed = validation::trim(*subject);
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

  HttpResponse list_groups(const Target& t) {
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

  HttpResponse group_info(GroupState& g, const HttpRequest&, const Target& t, std::int64_t) {
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
    static constexpr const char* kKnown[] = {"id", "messaging_product", "subject", "description", "participants",
                                             "total_participant_count", "suspended", "creation_timestamp",
                                             "join_approval_mode"};
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

  HttpResponse update_settings(GroupState& g, const HttpRequest& r, const Target&, std::int64_t now_s) {
    if (g.suspended) return fail(group_suspended());
    std::optional<std::string> subject, description, picture;
    const auto content_type = r.header("Content-Type");
    if (content_type && text::iequals_ascii(text::trim_ascii(content_type->substr(0, content_type->find(';'))),
                                            "multipart/form-data")) {
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
        return fail(invalid_parameter("profile_picture_file: upload the picture as multipart/form-data with a file part"));
    }
    if (!subject && !description && !picture)
      return fail(missing_parameter("at least one of subject, description or file is required"));
    if (subject) {
      *subject = validation::trim(*subject);
      if (auto bad = check_subject(*subject)) return fail(*bad);
    }
    if (description) {
      if (auto bad = check_description(*description)) return fail(*bad);
    }
    std::string picture_hash;
    if (picture) {
      if (picture->size() > limits::picture_max_bytes) return fail(invalid_parameter("the picture must be at most 5 MB"));
      const auto dims = jpeg::read_dimensions(*picture);
      if (!dims) return fail(invalid_parameter("the picture must be a JPEG image"));
      if (dims->width != dims->height)
        return fail(failure(400, graph_codes::picture_aspect_ratio, "Invalid Group Profile Picture Aspect Ratio",
                            "Width and height of the image must be equal."));
      if (dims->width < limits::picture_min_side)
        return fail(failure(400, graph_codes::picture_too_small, "Image is Too Small to Process",
                            "Image width and height must be greater than 192px."));
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
      if (subject) w.key("group_subject").begin_object().field("text", *subject).field("update_successful", true).end_object();
      if (description)
        w.key("group_description").begin_object().field("text", *description).field("update_successful", true).end_object();
    });
    json::Writer w;
    w.begin_object().field("messaging_product", "whatsapp").field("request_id", rid).field("success", true).end_object();
    return json_response(200, w.str());
  }

  HttpResponse delete_group(GroupState& g, const HttpRequest&, const Target&, std::int64_t now_s) {
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

  // --- invite link -------------------------------------------------------------------------------
  HttpResponse invite_link_answer(const GroupState& g) {
    json::Writer w;
    w.begin_object().field("messaging_product", "whatsapp").field("invite_link", g.invite_link).end_object();
    return json_response(200, w.str());
  }
  HttpResponse get_invite_link(GroupState& g, const HttpRequest&, const Target&, std::int64_t) {
    if (g.suspended) return fail(group_suspended());
    if (g.invite_link.empty()) g.invite_link = new_invite_link();  // a group always has a way in
    return invite_link_answer(g);
  }
  HttpResponse reset_invite_link(GroupState& g, const HttpRequest&, const Target&, std::int64_t) {
    if (g.suspended) return fail(group_suspended());
    g.invite_link = new_invite_link();
    return invite_link_answer(g);
  }
  HttpResponse delete_invite_link(GroupState& g, const HttpRequest&, const Target&, std::int64_t) {
    g.invite_link.clear();
    json::Writer w;
    // The OpenAPI spec types `success` here as the string "true".
    w.begin_object().field("messaging_product", "whatsapp").field("success", "true").end_object();
    return json_response(200, w.str());
  }

  // --- join requests -----------------------------------------------------------------------------
  HttpResponse list_join_requests(GroupState& g, const HttpRequest&, const Target& t, std::int64_t) {
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

  std::optional<Failure> read_join_request_ids(const HttpRequest& r, std::vector<std::string>& ids) {
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

  MemberState* pending_request(GroupState& g, const std::string& id) {
    for (auto& m : g.members) {
      if (!m.joined && m.join_request_id && *m.join_request_id == id) return &m;
    }
    return nullptr;
  }

  HttpResponse join_requests_answer(const char* key, const std::vector<std::string>& done,
                                    const std::vector<std::pair<std::string, Failure>>& failed) {
    json::Writer w;
    w.begin_object();
    w.field("messaging_product", "whatsapp");
    w.key(key).begin_array();
    for (const auto& id : done) w.string(id);
    w.end_array();
    if (!failed.empty()) {
      w.key("failed_join_requests").begin_array();
      for (const auto& [id, why] : failed) {
        w.begin_object().field("join_request_id", id).key("errors").begin_array();
        write_item_error(w, why);
        w.end_array().end_object();
      }
      w.end_array();
    }
    w.end_object();
    return json_response(200, w.str());
  }

  HttpResponse approve_join_requests(GroupState& g, const HttpRequest& r, const Target&, std::int64_t now_s) {
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

  HttpResponse reject_join_requests(GroupState& g, const HttpRequest& r, const Target&, std::int64_t) {
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
  HttpResponse remove_participants(GroupState& g, const HttpRequest& r, const Target&, std::int64_t now_s) {
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
      w.field("success", true).field("request_id", rid).end_object();
      return json_response(200, w.str());
    }
    write_error_member(w, partial, fbtrace_id());
    w.field("request_id", rid);
    write_lists(w);
    w.end_object();
    return json_response(206, w.str());
  }

  // --- messages ----------------------------------------------------------------------------------
  static std::optional<Failure> check_media(const json::Value& doc, const std::string& type) {
    const json::Value* media = json::get_object(doc, type.c_str());
    if (!media) return missing_parameter(type + " object is required");
    const auto id = json::get_string(*media, "id");
    const auto link = json::get_string(*media, "link");
    if (!id && !link) return missing_parameter(type + ".id or " + type + ".link is required");
    if (id && link) return invalid_parameter(type + " takes either id or link, not both");
    if ((id && id->empty()) || (link && link->empty())) return invalid_value(type + " media reference is empty");
    return std::nullopt;
  }

  static std::optional<Failure> check_template(const json::Value& doc) {
    const json::Value* t = json::get_object(doc, "template");
    if (!t) return missing_parameter("template object is required");
    const auto name = json::get_string(*t, "name");
    if (!name || name->empty()) return missing_parameter("template.name is required");
    const json::Value* language = json::get_object(*t, "language");
    const auto code = language ? json::get_string(*language, "code") : std::nullopt;
    if (!code || code->empty()) return missing_parameter("template.language.code is required");
    return std::nullopt;
  }

  // Group ids named by `group_id` template parameters (Meta turns them into invite links).
  static std::vector<std::string> template_group_ids(const json::Value& doc) {
    std::vector<std::string> out;
    const json::Value* t = json::get_object(doc, "template");
    const json::Value* components = t ? json::get_array(*t, "components") : nullptr;
    if (!components) return out;
    for (const auto& c : components->GetArray()) {
      const json::Value* params = json::get_array(c, "parameters");
      if (!params) continue;
      for (const auto& p : params->GetArray()) {
        if (json::get_string(p, "type").value_or("") == "group_id") out.push_back(json::get_string(p, "group_id").value_or(""));
      }
    }
    return out;
  }

  HttpResponse sent_answer(const std::string& input, const std::optional<std::string>& wa_id,
                           const std::optional<std::string>& user_id, const std::string& wamid, bool accepted_status) {
    json::Writer w;
    w.begin_object();
    w.field("messaging_product", "whatsapp");
    w.key("contacts").begin_array().begin_object();
    w.field("input", input);
    w.optional_field("wa_id", wa_id);
    w.optional_field("user_id", user_id);
    w.end_object().end_array();
    w.key("messages").begin_array().begin_object();
    w.field("id", wamid);
    if (accepted_status) w.field("message_status", "accepted");
    w.end_object().end_array();
    w.end_object();
    return json_response(200, w.str());
  }

  HttpResponse send_message(const HttpRequest& r, std::int64_t now_s) {
    json::Document doc;
    Failure f;
    if (!parse_json_body(r, doc, f)) return fail(f);
    if (auto bad = check_messaging_product(doc, true)) return fail(*bad);
    const std::string recipient_type = json::get_string(doc, "recipient_type").value_or("individual");
    const auto to = json::get_string(doc, "to");
    const auto type = json::get_string(doc, "type");
    if (recipient_type == "group") {
      if (!s.eligible) return fail(not_eligible());
      return send_to_group(doc, to, type, now_s);
    }
    if (recipient_type != "individual") return fail(invalid_parameter("recipient_type must be individual or group"));
    return send_direct(doc, to, type, now_s);
  }

  HttpResponse send_to_group(const json::Document& doc, const std::optional<std::string>& to,
                             const std::optional<std::string>& type_field, std::int64_t now_s) {
    if (!to || to->empty()) return fail(missing_parameter("to (the group id) is required"));
    const std::string type = type_field.value_or("text");
    static constexpr const char* kUnsupported[] = {"interactive", "reaction", "location", "contacts",
                                                   "order",       "product",  "product_list"};
    if (std::any_of(std::begin(kUnsupported), std::end(kUnsupported), [&](const char* u) { return type == u; })) {
      return fail(failure(400, graph_codes::unsupported_group_message, "Unsupported message type",
                          "Message type '" + type + "' is not supported in groups: text, media "
                          "(image, video, audio, document, sticker), non-authentication templates and pin are."));
    }
    const bool is_media = type == "image" || type == "video" || type == "audio" || type == "document" || type == "sticker";
    if (type == "text") {
      const json::Value* t = json::get_object(doc, "text");
      const auto body = t ? json::get_string(*t, "body") : std::nullopt;
      if (!body || body->empty()) return fail(missing_parameter("text.body is required"));
      const std::size_t n = validation::utf8_length(*body);
      if (n == std::string::npos || n > limits::text_max_chars)
        return fail(invalid_parameter("text.body must be valid UTF-8 of at most 4096 characters"));
    } else if (is_media) {
      if (auto bad = check_media(doc, type)) return fail(*bad);
    } else if (type == "template") {
      if (auto bad = check_template(doc)) return fail(*bad);
    } else if (type != "pin") {
      return fail(invalid_parameter("type '" + type + "' is not a message type"));
    }
    GroupState* g = active_group(*to);
    if (!g) return fail(group_unknown());
    if (g->suspended) return fail(group_suspended());
    if (type == "pin") {
      const json::Value* pin = json::get_object(doc, "pin");
      if (!pin) return fail(missing_parameter("pin object is required"));
      const std::string op = json::get_string(*pin, "type").value_or("");
      const auto target = json::get_string(*pin, "message_id");
      if (op != "pin" && op != "unpin") return fail(invalid_parameter("pin.type must be pin or unpin"));
      if (!target || target->empty()) return fail(missing_parameter("pin.message_id is required"));
      if (std::find(g->message_ids.begin(), g->message_ids.end(), *target) == g->message_ids.end())
        return fail(invalid_value("pin.message_id is not a message of this group"));
      const bool pinned = std::find(g->pinned.begin(), g->pinned.end(), *target) != g->pinned.end();
      if (op == "pin") {
        const auto days = json::get_int64(*pin, "expiration_days");
        if (!days || *days < limits::pin_min_days || *days > limits::pin_max_days)
          return fail(invalid_parameter("pin.expiration_days must be from 1 to 30"));
      } else if (!pinned) {
        return fail(invalid_value("pin.message_id is not pinned"));
      }
      if (g->joined_count() == 0) return fail(bad_group());
      if (op == "pin" && !pinned) {
        g->pinned.push_back(*target);
        if (g->pinned.size() > kMaxPinned) g->pinned.erase(g->pinned.begin());  // the oldest goes
      } else if (op == "unpin") {
        g->pinned.erase(std::find(g->pinned.begin(), g->pinned.end(), *target));
      }
    } else if (g->joined_count() == 0) {
      return fail(bad_group());
    }
    const std::string wamid = message_id(g->group_id);
    g->business_message_ids.push_back(wamid);
    g->message_ids.push_back(wamid);
    queue_group_statuses(*g, wamid, type == "template", now_s);
    return sent_answer(g->group_id, g->group_id, std::nullopt, wamid, false);
  }

  static Failure bad_group() {
    return failure(400, graph_codes::bad_group, "Bad Group", "Cannot send messages to single member groups.");
  }

  HttpResponse send_direct(const json::Document& doc, const std::optional<std::string>& to,
                           const std::optional<std::string>& type_field, std::int64_t now_s) {
    if (!to || text::trim_ascii(*to).empty()) return fail(missing_parameter("to is required"));
    const std::string type = type_field.value_or("text");
    if (type == "template") {
      if (auto bad = check_template(doc)) return fail(*bad);
      for (const auto& gid : template_group_ids(doc)) {
        if (!active_group(gid)) return fail(group_unknown());
      }
    } else if (type == "text") {
      const json::Value* t = json::get_object(doc, "text");
      const auto body = t ? json::get_string(*t, "body") : std::nullopt;
      if (!body || body->empty()) return fail(missing_parameter("text.body is required"));
    } else {
      return fail(invalid_parameter("the sandbox sends template and text messages to individuals"));
    }
    const std::string input(text::trim_ascii(*to));
    // Meta: "an error in the sync response if the recipient_type and to type do not match".
    if (s.by_id.count(input)) return fail(invalid_parameter("to is a group id: send with recipient_type group"));
    const bool is_phone = looks_like_phone(input);
    const std::string recipient = is_phone ? digits_of(input) : input;
    const std::string wamid = message_id(recipient);
    queue_direct_statuses(recipient, !is_phone, wamid, type == "template", now_s);
    return sent_answer(input, is_phone ? std::optional<std::string>(recipient) : std::nullopt,
                       is_phone ? std::nullopt : std::optional<std::string>(recipient), wamid, true);
  }

  // --- people ------------------------------------------------------------------------------------
  Result<void> join_by_link(const std::string& link, const Person& who) {
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
      return {};
    }
    if (full(*g)) return to_error(participant_overlimit());
    m.joined = true;
    g->members.push_back(m);
    queue_added(*g, t, {p}, false);
    return {};
  }

  Result<void> cancel_join_request(const std::string& group_id, const Person& who) {
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
    return {};
  }

  Result<void> leave(const std::string& group_id, const Person& who) {
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
    return {};
  }

  Result<std::string> send_text(const std::string& group_id, const Person& who, const std::string& body) {
    if (auto bad = check_person(who)) return *bad;
    if (body.empty()) return Error::invalid_argument("text", "non-empty", "a message needs a text");
    const Person p = normalized(who);
    std::lock_guard<std::mutex> lock(mutex);
    GroupState* g = active_group(group_id);
    if (!g) return to_error(group_unknown());
    if (g->suspended) return to_error(group_suspended());
    const MemberState* m = g->find_member(p, true);
    if (!m) return to_error(not_in_group());
    const std::string wamid = message_id(p.phone.empty() ? p.user_id.value_or("") : p.phone);
    g->message_ids.push_back(wamid);
    queue_inbound_text(m->person, g->group_id, wamid, body, now());
    return wamid;
  }

  Result<std::string> send_direct_text(const Person& who, const std::string& body) {
    if (auto bad = check_person(who)) return *bad;
    if (body.empty()) return Error::invalid_argument("text", "non-empty", "a message needs a text");
    const Person p = normalized(who);
    std::lock_guard<std::mutex> lock(mutex);
    const std::string wamid = message_id(p.phone.empty() ? p.user_id.value_or("") : p.phone);
    queue_inbound_text(p, std::nullopt, wamid, body, now());
    return wamid;
  }

  Result<void> set_suspended(const std::string& group_id, bool suspended) {
    std::lock_guard<std::mutex> lock(mutex);
    GroupState* g = active_group(group_id);
    if (!g) return to_error(group_unknown());
    if (g->suspended == suspended) return {};  // nothing changes, so Meta has nothing to say
    g->suspended = suspended;
    queue_group_event("group_status_update", nullptr, *g, now(), suspended ? "group_suspend" : "group_suspend_cleared",
                      nullptr, [](json::Writer&) {});
    return {};
  }

  // --- persistence -------------------------------------------------------------------------------
  static void write_person(json::Writer& w, const Person& p) {
    w.begin_object();
    w.field("phone", p.phone);
    w.optional_field("user_id", p.user_id);
    w.optional_field("username", p.username);
    w.field("name", p.name);
    w.end_object();
  }
  static void write_strings(json::Writer& w, const char* key, const std::vector<std::string>& v) {
    w.key(key).begin_array();
    for (const auto& x : v) w.string(x);
    w.end_array();
  }

  std::string save() const {
    std::lock_guard<std::mutex> lock(mutex);
    json::Writer w;
    w.begin_object();
    w.field("format", kFormat);
    w.field("version", kFormatVersion);
    w.field("eligible", s.eligible);
    w.field("id_rng", std::to_string(s.id_rng));
    w.field("noise_rng", std::to_string(s.noise_rng));
    w.field("group_seq", std::to_string(s.group_seq));
    w.field("request_seq", std::to_string(s.request_seq));
    w.field("message_seq", std::to_string(s.message_seq));
    w.field("join_request_seq", std::to_string(s.join_request_seq));
    w.key("rate_window").begin_object().field("start", s.window_start).field("ops", s.window_ops).end_object();
    w.key("groups").begin_array();
    for (const auto& g : s.groups) {
      w.begin_object();
      w.field("group_id", g.group_id);
      w.field("seq", std::to_string(g.seq));
      w.field("subject", g.subject);
      w.optional_field("description", g.description);
      w.field("join_approval_mode", to_string(g.join_approval_mode));
      w.field("invite_link", g.invite_link);
      w.field("suspended", g.suspended);
      w.field("deleted", g.deleted);
      w.field("creation_timestamp", g.creation_timestamp);
      w.optional_field("picture_sha256", g.picture_sha256);
      w.key("members").begin_array();
      for (const auto& m : g.members) {
        w.begin_object();
        w.key("person");
        write_person(w, m.person);
        w.field("joined", m.joined);
        w.optional_field("join_request_id", m.join_request_id);
        w.field("since", m.since);
        w.field("seq", std::to_string(m.seq));
        w.end_object();
      }
      w.end_array();
      w.key("removed").begin_array();
      for (const auto& p : g.removed) write_person(w, p);
      w.end_array();
      write_strings(w, "business_message_ids", g.business_message_ids);
      write_strings(w, "message_ids", g.message_ids);
      write_strings(w, "pinned", g.pinned);
      w.end_object();
    }
    w.end_array();
    w.key("webhooks").begin_array();
    for (const auto& d : s.outbox) w.begin_object().field("field", d.field).field("body", d.body).end_object();
    w.end_array();
    w.end_object();
    return w.str();
  }

  Result<void> load(const std::string& text) {
    json::Document doc;
    std::string reason;
    auto bad = [](const std::string& where, const std::string& why) {
      Error e = Error::decode_failure(0, "sandbox state: " + where + ": " + why);
      e.field = where;
      return e;
    };
    if (!json::parse(text, doc, reason) || !doc.IsObject()) return bad("body", "not a JSON object (" + reason + ")");
    if (json::get_string(doc, "format").value_or("") != kFormat) return bad("format", "not a wagroups sandbox state");
    if (json::get_int64(doc, "version").value_or(0) != kFormatVersion) return bad("version", "unsupported version");
    State next;
    auto u64 = [&](const json::Value& obj, const char* key, std::uint64_t& out) {
      const auto v = json::get_string(obj, key);
      const auto n = v ? parse_u64(*v) : std::nullopt;
      if (!n) return false;
      out = *n;
      return true;
    };
    next.eligible = json::get_bool(doc, "eligible").value_or(true);
    if (!u64(doc, "id_rng", next.id_rng) || !u64(doc, "noise_rng", next.noise_rng) ||
        !u64(doc, "group_seq", next.group_seq) || !u64(doc, "request_seq", next.request_seq) ||
        !u64(doc, "message_seq", next.message_seq) || !u64(doc, "join_request_seq", next.join_request_seq))
      return bad("counters", "missing or not unsigned integers");
    if (const json::Value* rw = json::get_object(doc, "rate_window")) {
      next.window_start = json::get_int64(*rw, "start").value_or(0);
      next.window_ops = static_cast<int>(json::get_int64(*rw, "ops").value_or(0));
    }
    auto read_person = [](const json::Value& v) {
      Person p;
      p.phone = json::get_string(v, "phone").value_or("");
      p.user_id = json::get_string(v, "user_id");
      p.username = json::get_string(v, "username");
      p.name = json::get_string(v, "name").value_or("Customer");
      return p;
    };
    auto read_strings = [](const json::Value& obj, const char* key) {
      std::vector<std::string> out;
      if (const json::Value* arr = json::get_array(obj, key)) {
        for (const auto& x : arr->GetArray()) {
          if (auto str = json::as_string(x)) out.push_back(std::move(*str));
        }
      }
      return out;
    };
    const json::Value* groups = json::get_array(doc, "groups");
    if (!groups) return bad("groups", "missing");
    std::size_t index = 0;
    for (const auto& gv : groups->GetArray()) {
      const std::string where = "groups[" + std::to_string(index++) + "]";
      GroupState g;
      const auto id = json::get_string(gv, "group_id");
      const auto mode = parse_join_approval_mode(json::get_string(gv, "join_approval_mode").value_or(""));
      if (!id || id->empty() || !mode || !u64(gv, "seq", g.seq)) return bad(where, "missing group_id, seq or join_approval_mode");
      g.group_id = *id;
      g.subject = json::get_string(gv, "subject").value_or("");
      g.description = json::get_string(gv, "description");
      g.join_approval_mode = *mode;
      g.invite_link = json::get_string(gv, "invite_link").value_or("");
      g.suspended = json::get_bool(gv, "suspended").value_or(false);
      g.deleted = json::get_bool(gv, "deleted").value_or(false);
      g.creation_timestamp = json::get_int64(gv, "creation_timestamp").value_or(0);
      g.picture_sha256 = json::get_string(gv, "picture_sha256");
      if (const json::Value* members = json::get_array(gv, "members")) {
        for (const auto& mv : members->GetArray()) {
          const json::Value* pv = json::get_object(mv, "person");
          if (!pv) return bad(where + ".members", "a member without person");
          MemberState m;
          m.person = read_person(*pv);
          m.joined = json::get_bool(mv, "joined").value_or(false);
          m.join_request_id = json::get_string(mv, "join_request_id");
          m.since = json::get_int64(mv, "since").value_or(0);
          if (!u64(mv, "seq", m.seq)) m.seq = 0;
          g.members.push_back(std::move(m));
        }
      }
      if (const json::Value* removed = json::get_array(gv, "removed")) {
        for (const auto& pv : removed->GetArray()) g.removed.push_back(read_person(pv));
      }
      g.business_message_ids = read_strings(gv, "business_message_ids");
      g.message_ids = read_strings(gv, "message_ids");
      g.pinned = read_strings(gv, "pinned");
      if (std::any_of(next.groups.begin(), next.groups.end(), [&](const GroupState& o) { return o.group_id == g.group_id; }))
        return bad(where, "duplicate group_id");
      next.groups.push_back(std::move(g));
    }
    next.reindex();
    std::lock_guard<std::mutex> lock(mutex);
    if (const json::Value* hooks = json::get_array(doc, "webhooks")) {
      for (const auto& hv : hooks->GetArray()) {
        WebhookDelivery d;
        d.field = json::get_string(hv, "field").value_or("");
        d.body = json::get_string(hv, "body").value_or("");
        if (d.body.empty()) return bad("webhooks", "a webhook without a body");
        d.signature = compute_signature(d.body, options.app_secret);  // signed with this run's secret
        next.outbox.push_back(std::move(d));
      }
    }
    s = std::move(next);
    options.eligible = s.eligible;
    return {};
  }
};

class SimulatorTransport final : public Transport {
 public:
  explicit SimulatorTransport(std::weak_ptr<Engine> engine) : engine_(std::move(engine)) {}
  Result<HttpResponse> send(const HttpRequest& request) override {
    auto engine = engine_.lock();
    if (!engine) return Error::transport_failure(0, "sandbox: the simulator behind this transport is gone", false);
    return engine->handle(request);
  }

 private:
  std::weak_ptr<Engine> engine_;
};

}  // namespace

struct Simulator::Impl {
  std::shared_ptr<Engine> engine;
};

Simulator::Simulator(SimulatorOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->engine = std::make_shared<Engine>(std::move(options));
}

Simulator::~Simulator() = default;

const SimulatorOptions& Simulator::options() const noexcept { return impl_->engine->options; }

void Simulator::set_eligible(bool eligible) {
  std::lock_guard<std::mutex> lock(impl_->engine->mutex);
  impl_->engine->s.eligible = eligible;
  impl_->engine->options.eligible = eligible;
}

HttpResponse Simulator::handle(const HttpRequest& request) { return impl_->engine->handle(request); }

std::shared_ptr<Transport> Simulator::transport() { return std::make_shared<SimulatorTransport>(impl_->engine); }

void Simulator::set_webhook_sink(std::function<void(const WebhookDelivery&)> sink) {
  std::lock_guard<std::mutex> lock(impl_->engine->mutex);
  impl_->engine->sink = std::move(sink);
}

std::size_t Simulator::flush() {
  std::function<void(const WebhookDelivery&)> sink;
  std::deque<WebhookDelivery> batch;
  {
    std::lock_guard<std::mutex> lock(impl_->engine->mutex);
    if (!impl_->engine->sink) return 0;
    sink = impl_->engine->sink;
    batch.swap(impl_->engine->s.outbox);
  }
  // Outside the lock: the sink may call back into the simulator (e.g. a host answering a message).
  for (const auto& d : batch) sink(d);
  return batch.size();
}

std::vector<WebhookDelivery> Simulator::take_webhooks() {
  std::lock_guard<std::mutex> lock(impl_->engine->mutex);
  std::vector<WebhookDelivery> out(std::make_move_iterator(impl_->engine->s.outbox.begin()),
                                   std::make_move_iterator(impl_->engine->s.outbox.end()));
  impl_->engine->s.outbox.clear();
  return out;
}

std::size_t Simulator::pending_webhooks() const {
  std::lock_guard<std::mutex> lock(impl_->engine->mutex);
  return impl_->engine->s.outbox.size();
}

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

Result<void> Simulator::suspend(const std::string& group_id) { return impl_->engine->set_suspended(group_id, true); }

Result<void> Simulator::clear_suspension(const std::string& group_id) {
  return impl_->engine->set_suspended(group_id, false);
}

std::optional<SimGroup> Simulator::group(const std::string& group_id) const {
  std::lock_guard<std::mutex> lock(impl_->engine->mutex);
  const auto& s = impl_->engine->s;
  auto it = s.by_id.find(group_id);
  if (it == s.by_id.end()) return std::nullopt;
  return s.groups[it->second].snapshot();
}

std::vector<SimGroup> Simulator::groups() const {
  std::lock_guard<std::mutex> lock(impl_->engine->mutex);
  std::vector<SimGroup> out;
  for (const auto& g : impl_->engine->s.groups) out.push_back(g.snapshot());
  return out;
}

std::string Simulator::save_state() const { return impl_->engine->save(); }

Result<void> Simulator::load_state(const std::string& json) { return impl_->engine->load(json); }

}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
