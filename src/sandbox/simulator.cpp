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
// * approving or rejecting join requests where some ids fail answers 206 with the 131201 item
//   in `errors[]`, beside Meta's documented `failed_join_requests`;
// * create answers `{"messaging_product","request_id"}`, delete `{"success":true}`, settings and a
//   full removal an empty 200 (AsyncAnswers::documented), or all of them with the `request_id`
//   their webhook carries (AsyncAnswers::spec_request_ids);
// * an asynchronous failure Meta documents only by its shape (a failed create, delete, setting or
//   group message) carries SimulatorOptions::async_failures.error, by default 131000;
// * generic validation failures use the Cloud API's generic codes: 100 (invalid parameter),
//   131008 (required parameter missing), 131009 (parameter value not valid);
// * an unknown path or method answers what Graph answers: HTTP 400, code 100
//   (GraphMethodException, subcode 33, "Unsupported get request. Object with ID ...").
//
// This file holds the engine's core (clock, ids, lookups, the rate window) and the public
// Simulator that wraps it; the Graph routes, the people-side calls, the webhook outbox, the saved
// state and Meta's refusals each have a simulator_*.cpp of their own (simulator_engine.hpp).

#include "wagroups/sandbox/simulator.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <utility>

#include "sandbox/simulator_engine.hpp"
#include "util/text.hpp"
#include "wagroups/graph_codes.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sandbox {
namespace sim {

namespace {

std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

std::size_t GroupState::joined_count() const {
  return static_cast<std::size_t>(
      std::count_if(members.begin(), members.end(), [](const MemberState& m) { return m.joined; }));
}

MemberState* GroupState::find_member(const Person& p, bool joined) {
  for (auto& m : members) {
    if (m.joined == joined && same_person(m.person, p)) return &m;
  }
  return nullptr;
}

SimGroup GroupState::snapshot() const {
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

void State::reindex() {
  by_id.clear();
  for (std::size_t i = 0; i < groups.size(); ++i) by_id[groups[i].group_id] = i;
}

Engine::Engine(SimulatorOptions o) : options(std::move(o)) {
  s.eligible = options.eligible;
  s.creation_disabled = options.group_creation_disabled;
  s.id_rng = options.seed;
  s.noise_rng = options.seed ^ 0xA5A5A5A55A5A5A5Aull;
}

std::int64_t Engine::now() const {
  const auto tp = options.clock ? options.clock() : std::chrono::system_clock::now();
  return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
}

// --- ids ---------------------------------------------------------------------------------------
std::uint64_t Engine::draw() { return splitmix64(s.id_rng); }
double Engine::noise() { return static_cast<double>(splitmix64(s.noise_rng) >> 11) * (1.0 / 9007199254740992.0); }

std::string Engine::alnum(std::size_t n) {
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
std::string Engine::fbtrace_id() { return "A" + alnum(22); }
std::string Engine::request_id() {
  ++s.request_seq;
  return hex_upper(draw()) + hex_upper(draw());
}
// "wamid.HBgL..." like Meta's: base64 of the counterpart (a phone or the tail of a group id),
// random bytes and a counter.
std::string Engine::message_id(const std::string& counterpart) {
  ++s.message_seq;
  const std::string who = counterpart.size() > 15 ? counterpart.substr(counterpart.size() - 15) : counterpart;
  return "wamid.HBgL" + base64(who + "\x15\x02" + hex_upper(draw()) + std::to_string(s.message_seq), false, false);
}
std::string Engine::new_group_id() {
  for (;;) {
    const std::string number = "120363" + std::to_string(100000000000ull + draw() % 900000000000ull);
    std::string id = base64("capi_group:" + options.display_phone_number + ":" + number, true, false);
    if (!s.by_id.count(id)) return id;
  }
}
std::string Engine::new_invite_link() { return "https://chat.whatsapp.com/" + alnum(22); }
std::string Engine::new_join_request_id(const Person& p) {
  ++s.join_request_seq;
  const std::string who = p.phone.empty() ? p.user_id.value_or("") : p.phone;
  return base64(who + ":" + hex_upper(draw()) + ":" + std::to_string(s.join_request_seq), true, false);
}
std::string Engine::cursor(std::uint64_t seq) { return base64("cursor:" + std::to_string(seq), true, false); }
std::optional<std::uint64_t> Engine::cursor_seq(const std::string& c) {
  auto text = base64url_decode(c);
  if (!text || text->rfind("cursor:", 0) != 0) return std::nullopt;
  return parse_u64(std::string_view(*text).substr(7));
}

// --- responses ---------------------------------------------------------------------------------
HttpResponse Engine::fail(const Failure& f) {
  json::Writer w;
  w.begin_object();
  write_error_member(w, f, fbtrace_id());
  w.end_object();
  HttpResponse r = json_response(f.http, w.str());
  if (f.retry_after_seconds) r.headers.emplace_back("Retry-After", std::to_string(*f.retry_after_seconds));
  return r;
}

// --- lookups and checks ------------------------------------------------------------------------
GroupState* Engine::active_group(const std::string& id) {
  auto it = s.by_id.find(id);
  if (it == s.by_id.end()) return nullptr;
  GroupState& g = s.groups[it->second];
  return g.deleted ? nullptr : &g;
}

std::size_t Engine::active_groups() const {
  return static_cast<std::size_t>(
      std::count_if(s.groups.begin(), s.groups.end(), [](const GroupState& g) { return !g.deleted; }));
}

bool Engine::full(const GroupState& g) const {
  // The business takes one seat.
  return static_cast<int>(g.joined_count()) + 1 >= options.max_participants;
}

// Counts one group operation against the number's window; the 429 when it is used up.
std::optional<Failure> Engine::take_group_op(std::int64_t t) {
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

bool Engine::authorized(const HttpRequest& r, const Target& t) const {
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

bool Engine::eligible() const {
  // Meta's documented prerequisites the number's own fields show: an Official Business Account, on
  // Cloud API, not a WhatsApp Business app number. `eligible` covers what no field shows.
  const NumberProfile& n = options.number;
  return s.eligible && n.is_official_business_account && !n.is_on_biz_app && n.platform_type == "CLOUD_API";
}

std::optional<Failure> Engine::take_signing_failure() {
  if (!signing_failed) return std::nullopt;
  signing_failed = false;
  return signing_failure();
}

Result<void> Engine::signed_or_error() {
  if (auto f = take_signing_failure()) return to_error(*f);
  return {};
}

bool parse_json_body(const HttpRequest& r, json::Document& doc, Failure& f) {
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

std::optional<Failure> check_messaging_product(const json::Value& doc, bool required) {
  const auto mp = json::get_string(doc, "messaging_product");
  if (!mp) {
    if (required) return missing_parameter("messaging_product is required");
    return std::nullopt;
  }
  if (*mp != "whatsapp") return invalid_parameter("messaging_product must be \"whatsapp\"");
  return std::nullopt;
}

namespace {

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

}  // namespace sim

Simulator::Simulator(SimulatorOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->engine = std::make_shared<sim::Engine>(std::move(options));
}

Simulator::~Simulator() = default;

const SimulatorOptions& Simulator::options() const noexcept { return impl_->engine->options; }

void Simulator::set_eligible(bool eligible) {
  std::lock_guard<std::mutex> lock(impl_->engine->mutex);
  impl_->engine->s.eligible = eligible;
  impl_->engine->options.eligible = eligible;
}

void Simulator::set_group_creation_disabled(bool disabled) {
  std::lock_guard<std::mutex> lock(impl_->engine->mutex);
  impl_->engine->s.creation_disabled = disabled;
  impl_->engine->options.group_creation_disabled = disabled;
}

HttpResponse Simulator::handle(const HttpRequest& request) { return impl_->engine->handle(request); }

std::shared_ptr<Transport> Simulator::transport() { return std::make_shared<sim::SimulatorTransport>(impl_->engine); }

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

}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
