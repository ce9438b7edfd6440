#pragma once

// The simulator's insides, shared by its source files (simulator*.cpp) and by nothing else: the
// state, the Engine that owns it, and the wire and webhook helpers the routes have in common.
//
// Everything here lives in `sandbox::sim`, behind the library's hidden visibility. The simulator
// is a test oracle, so nothing here reaches into the Client's own code (src/client/): what Meta
// refuses is decided by the checks in simulator_checks.cpp, written from Meta's documented facts
// (the constants in wagroups/limits.hpp and wagroups/graph_codes.hpp).

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "json/json.hpp"
#include "wagroups/sandbox/simulator.hpp"
#include "wagroups/webhook.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sandbox {
namespace sim {

constexpr int kDefaultPageSize = limits::default_page_size;
constexpr std::size_t kMaxPinned = limits::max_pinned_messages;
constexpr std::size_t kMaxRemovePerCall = limits::max_removed_per_call;
constexpr const char* kGraphOrigin = "https://graph.facebook.com";
constexpr const char* kDefaultVersion = "v26.0";

// ---------------------------------------------------------------------------------------------
// Wire helpers (simulator_wire.cpp)

std::string base64(std::string_view in, bool url_safe, bool pad);
std::optional<std::string> base64url_decode(std::string_view in);
std::string hex_upper(std::uint64_t v);
std::optional<std::uint64_t> parse_u64(std::string_view text);
// Both nullopt when OpenSSL fails: the caller fails closed, never with an empty digest.
std::optional<std::string> sha256_base64(std::string_view bytes);
// X-Hub-Signature-256 as Meta writes it ("sha256=" + lowercase hex), by the simulator's own call
// to OpenSSL's one-shot HMAC (the SDK's verifier is what it is checked against, never its helper).
std::optional<std::string> hmac_sha256_signature(std::string_view body, std::string_view secret);

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
Target parse_target(std::string_view url);

struct FormPart {
  std::string name;
  std::optional<std::string> filename;
  std::string content;
};
// multipart/form-data as the Client (and curl -F) writes it.
std::optional<std::vector<FormPart>> parse_multipart(std::string_view content_type, std::string_view body);

// A Graph error, before it is written as Meta's envelope (or as a Person-side Error).
struct Failure {
  int http = 400;
  int code = 0;
  std::string title;
  std::string details;
  std::string type = "OAuthException";
  std::optional<int> subcode;
  std::optional<std::int64_t> retry_after_seconds;
  // Graph's own messages (an unsupported request) carry no "(#code) " prefix: set, it is the message.
  std::optional<std::string> message;
};

Failure failure(int http, int code, std::string title, std::string details);
Failure invalid_parameter(std::string details);
Failure missing_parameter(std::string details);
Failure invalid_value(std::string details);
Failure not_eligible();
Failure group_unknown();
Failure group_suspended();
Failure participant_overlimit();
Failure not_in_group();
Failure join_request_missing();
Failure invalid_cursor();
// What Graph answers for a path or method it does not serve: HTTP 400, GraphMethodException, code
// 100, subcode 33, "Unsupported get request. Object with ID '...' does not exist, ...".
Failure unknown_route(const char* method, const std::string& object_id);
// "(#100) Tried accessing nonexisting field (x) on node type (T)".
Failure nonexisting_field(const std::string& field, const char* node_type);
Failure signing_failure();
Failure simulated(const SimulatedError& e, int http = 400);

// A Simulator person-side failure as the SDK's Error (what a Graph answer would have decoded to).
Error to_error(const Failure& f);
void write_item_error(json::Writer& w, const Failure& f);
// Writes the members of Meta's `{"error": {...}}` envelope into an open object.
void write_error_member(json::Writer& w, const Failure& f, const std::string& fbtrace_id);
HttpResponse json_response(int status, std::string body);
HttpResponse empty_response(int status);
// The names in a Graph `fields` query parameter, in order, blanks dropped.
std::vector<std::string> field_list(const Target& t);

// ---------------------------------------------------------------------------------------------
// Meta's refusals, checked by the simulator itself (simulator_checks.cpp)

// `text` without the whitespace Meta trims from a subject.
std::string trim_blanks(std::string_view text);
// `trimmed` is the subject after trim_blanks.
std::optional<Failure> check_subject(std::string_view trimmed);
std::optional<Failure> check_description(std::string_view description);
std::optional<Failure> check_text_body(std::string_view body);
std::optional<Failure> check_picture(std::string_view bytes);

// Request bodies every route reads alike (simulator.cpp).
bool parse_json_body(const HttpRequest& r, json::Document& doc, Failure& f);
std::optional<Failure> check_messaging_product(const json::Value& doc, bool required);

// ---------------------------------------------------------------------------------------------
// People (simulator_people.cpp), and how webhooks name them (simulator_webhooks.cpp)

std::string digits_of(std::string_view s);
// A phone as people type it ("+1 555-010 0101"): digits and the usual punctuation only.
bool looks_like_phone(std::string_view s);
bool same_person(const Person& a, const Person& b);
// Whether what the business typed in a removal (`participants[].user`) names this person.
bool names_person(const std::string& input, const Person& p);
void write_identity(json::Writer& w, const Person& p);

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

  std::size_t joined_count() const;
  MemberState* find_member(const Person& p, bool joined);
  SimGroup snapshot() const;
};

struct State {
  bool eligible = true;
  bool creation_disabled = false;
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

  void reindex();
};

using ValueWriter = std::function<void(json::Writer&, bool variant)>;

// ---------------------------------------------------------------------------------------------
// Engine: the state and its operations, shared with the transports handed out (which may outlive
// the Simulator: they then fail cleanly instead of touching freed state). One file a section.

struct Engine {
  mutable std::mutex mutex;
  SimulatorOptions options;
  std::function<void(const WebhookDelivery&)> sink;
  State s;
  // Set by `queue` when a delivery could not be signed (and so was dropped); the call that queued
  // it answers an error instead of success.
  bool signing_failed = false;

  // --- core: clock, ids, lookups (simulator.cpp) -------------------------------------------------
  explicit Engine(SimulatorOptions o);
  std::int64_t now() const;
  std::uint64_t draw();
  double noise();
  std::string alnum(std::size_t n);
  std::string fbtrace_id();
  std::string request_id();
  std::string message_id(const std::string& counterpart);
  std::string new_group_id();
  std::string new_invite_link();
  std::string new_join_request_id(const Person& p);
  static std::string cursor(std::uint64_t seq);
  static std::optional<std::uint64_t> cursor_seq(const std::string& c);
  HttpResponse fail(const Failure& f);
  GroupState* active_group(const std::string& id);
  // The group and member a participant's message comes from (mutex held), or what Meta's side
  // refuses it with: the group unknown or suspended, the sender not in it.
  struct InboundSender {
    GroupState* group;
    const MemberState* member;
  };
  Result<InboundSender> inbound_sender(const std::string& group_id, const Person& p);
  // A message id for what `p` sends: keyed by the phone, or the BSUID when there is none.
  std::string sender_message_id(const Person& p) {
    return message_id(p.phone.empty() ? p.user_id.value_or("") : p.phone);
  }
  std::size_t active_groups() const;
  bool full(const GroupState& g) const;
  std::optional<Failure> take_group_op(std::int64_t t);
  bool authorized(const HttpRequest& r, const Target& t) const;
  // Groups eligibility: the `eligible` switch and the number's profile (OBA, not the Business app).
  bool eligible() const;
  bool documented_answers() const { return options.async_answers == AsyncAnswers::documented; }
  // The error of a call whose webhook could not be signed (and clears it), or nothing.
  std::optional<Failure> take_signing_failure();
  // The same for people-side calls: an Error when a webhook could not be signed.
  Result<void> signed_or_error();

  // --- webhooks (simulator_webhooks.cpp) ---------------------------------------------------------
  void queue(const char* field, const char* variant_field, const ValueWriter& write_value);
  void queue_group_event(const char* field, const char* variant_field, const GroupState& g, std::int64_t t,
                         const char* type, const char* variant_type, const std::function<void(json::Writer&)>& members);
  void queue_participants_event(const GroupState& g, std::int64_t t, const char* type, const char* variant_type,
                                const std::function<void(json::Writer&)>& members);
  void queue_added(const GroupState& g, std::int64_t t, const std::vector<Person>& people, bool with_input);
  void queue_join_request_event(const GroupState& g, std::int64_t t, const char* type, const MemberState& m);
  std::optional<std::string> sign(const std::string& body) const;
  // `pricing_category` is the one of a template send (group_utility, group_marketing), or nullptr.
  void queue_group_statuses(const GroupState& g, const std::string& wamid, const char* pricing_category,
                            std::int64_t t);
  void queue_direct_statuses(const std::string& recipient, bool is_bsuid, const std::string& wamid, bool is_template,
                             std::int64_t t);
  // An inbound message; `content` writes its type-specific members (text, image, errors, type).
  void queue_inbound(const Person& from, const std::optional<std::string>& group_id, const std::string& wamid,
                     std::int64_t t, const std::function<void(json::Writer&)>& content);
  void queue_inbound_text(const Person& from, const std::optional<std::string>& group_id, const std::string& wamid,
                          const std::string& body, std::int64_t t);

  // --- Graph: routing and groups (simulator_graph.cpp) -------------------------------------------
  using GroupHandler = HttpResponse (Engine::*)(GroupState&, const HttpRequest&, const Target&, std::int64_t);
  HttpResponse handle(const HttpRequest& r);
  HttpResponse route(const HttpRequest& r, const Target& t, std::int64_t now_s);
  HttpResponse phone_number_info(const Target& t);
  HttpResponse group_route(const HttpRequest& r, const Target& t, std::int64_t now_s, bool counts, GroupHandler h);
  std::optional<int> page_limit(const Target& t, Failure& f) const;
  template <typename T, typename SeqOf>
  std::optional<std::pair<std::size_t, std::size_t>> page_bounds(const std::vector<T>& items, const Target& t,
                                                                 int limit, SeqOf seq_of, Failure& f) const;
  template <typename T, typename SeqOf>
  void write_paging(json::Writer& w, const std::vector<T>& items, std::size_t begin, std::size_t end, int limit,
                    SeqOf seq_of, const std::string& base_url) const;
  HttpResponse create_group(const HttpRequest& r, std::int64_t now_s);
  HttpResponse list_groups(const Target& t);
  HttpResponse group_info(GroupState& g, const HttpRequest&, const Target& t, std::int64_t);
  HttpResponse update_settings(GroupState& g, const HttpRequest& r, const Target&, std::int64_t now_s);
  HttpResponse delete_group(GroupState& g, const HttpRequest&, const Target&, std::int64_t now_s);

  // --- Graph: invite link, join requests, participants (simulator_graph_members.cpp) -------------
  HttpResponse invite_link_answer(const GroupState& g);
  HttpResponse get_invite_link(GroupState& g, const HttpRequest&, const Target&, std::int64_t);
  HttpResponse reset_invite_link(GroupState& g, const HttpRequest&, const Target&, std::int64_t);
  HttpResponse delete_invite_link(GroupState& g, const HttpRequest&, const Target&, std::int64_t);
  HttpResponse list_join_requests(GroupState& g, const HttpRequest&, const Target& t, std::int64_t);
  std::optional<Failure> read_join_request_ids(const HttpRequest& r, std::vector<std::string>& ids);
  MemberState* pending_request(GroupState& g, const std::string& id);
  HttpResponse join_requests_answer(const char* key, const std::vector<std::string>& done,
                                    const std::vector<std::pair<std::string, Failure>>& failed);
  HttpResponse approve_join_requests(GroupState& g, const HttpRequest& r, const Target&, std::int64_t now_s);
  HttpResponse reject_join_requests(GroupState& g, const HttpRequest& r, const Target&, std::int64_t);
  HttpResponse remove_participants(GroupState& g, const HttpRequest& r, const Target&, std::int64_t now_s);

  // --- Graph: messages (simulator_graph_messages.cpp) --------------------------------------------
  HttpResponse send_message(const HttpRequest& r, std::int64_t now_s);
  HttpResponse send_to_group(const json::Document& doc, const std::optional<std::string>& to,
                             const std::optional<std::string>& type_field, std::int64_t now_s);
  HttpResponse send_direct(const json::Document& doc, const std::optional<std::string>& to,
                           const std::optional<std::string>& type_field, std::int64_t now_s);

  // --- people (simulator_people.cpp) -------------------------------------------------------------
  Result<void> join_by_link(const std::string& link, const Person& who);
  Result<void> cancel_join_request(const std::string& group_id, const Person& who);
  Result<void> leave(const std::string& group_id, const Person& who);
  Result<std::string> send_text(const std::string& group_id, const Person& who, const std::string& body);
  Result<std::string> send_direct_text(const Person& who, const std::string& body);
  Result<std::string> send_media(const std::string& group_id, const Person& who, const InboundMedia& media);
  Result<std::string> send_unsupported(const std::string& group_id, const Person& who);
  Result<void> set_suspended(const std::string& group_id, bool suspended);

  // --- persistence (simulator_state.cpp) ---------------------------------------------------------
  std::string save() const;
  Result<void> load(const std::string& text);
};

// One page of `items` (sorted by seq) by Graph cursors: after, before or from the start.
template <typename T, typename SeqOf>
std::optional<std::pair<std::size_t, std::size_t>> Engine::page_bounds(const std::vector<T>& items, const Target& t,
                                                                       int limit, SeqOf seq_of, Failure& f) const {
  std::size_t begin = 0, end = items.size();
  if (auto after = t.param("after")) {
    const auto seq = cursor_seq(*after);
    if (!seq) {
      f = invalid_cursor();
      return std::nullopt;
    }
    while (begin < items.size() && seq_of(items[begin]) <= *seq) ++begin;
    end = std::min(items.size(), begin + static_cast<std::size_t>(limit));
  } else if (auto before = t.param("before")) {
    const auto seq = cursor_seq(*before);
    if (!seq) {
      f = invalid_cursor();
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
void Engine::write_paging(json::Writer& w, const std::vector<T>& items, std::size_t begin, std::size_t end, int limit,
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

}  // namespace sim

// The public Simulator's one member: the engine it shares with the transports it hands out.
struct Simulator::Impl {
  std::shared_ptr<sim::Engine> engine;
};

}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
