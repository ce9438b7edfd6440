#include "wagroups/webhook/pending_operations.hpp"

#include <algorithm>
#include <deque>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "client/validation.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

const char* to_string(OperationKind kind) noexcept {
  switch (kind) {
    case OperationKind::create_group: return "create_group";
    case OperationKind::delete_group: return "delete_group";
    case OperationKind::update_settings: return "update_settings";
    case OperationKind::remove_participants: return "remove_participants";
  }
  return "unknown";
}

const char* to_string(OperationState state) noexcept {
  switch (state) {
    case OperationState::pending: return "pending";
    case OperationState::succeeded: return "succeeded";
    case OperationState::failed: return "failed";
    case OperationState::expired: return "expired";
  }
  return "unknown";
}

namespace {

using TimePoint = std::chrono::system_clock::time_point;
using std::chrono::milliseconds;

// Bounds that keep `tracked_at + 2 * ttl` and steady_clock deadlines far from overflow.
constexpr milliseconds kMinTtl{1};
constexpr milliseconds kMaxTtl = std::chrono::duration_cast<milliseconds>(std::chrono::hours(24 * 365 * 50));
constexpr milliseconds kMaxWait = kMaxTtl;
// The shortest nap of `wait` while the injected clock says expiry is near (a frozen test clock
// would otherwise make it spin).
constexpr milliseconds kMinNap{1};
// How much earlier than the tracking of an operation without request id its webhook's `timestamp`
// may be (Meta's clock against the host's, and the answer's trip back): an outcome stamped earlier
// than that is an older operation's, never this one's.
constexpr std::int64_t kWebhookSkewSeconds = 5;
// Bound of the set of id-less outcomes already seen (redeliveries are dropped by it).
constexpr std::size_t kMaxSeenOutcomes = 4096;

/// What an outcome webhook says about its operation.
struct Outcome {
  std::string request_id;  // empty when the webhook carried none
  std::string match_key;   // for operations tracked without a request id; empty when it has none
  OperationKind kind = OperationKind::create_group;
  OperationState state = OperationState::pending;
  std::optional<std::string> group_id;
  std::vector<ItemError> errors;
  std::int64_t webhook_ts = 0;  // the event's `timestamp` (Unix seconds); 0 when it had none
  std::string fingerprint;      // what tells a redelivery of an id-less outcome from another one
};

std::int64_t seconds_of(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Whether an outcome stamped `webhook_ts` can be the outcome of an operation tracked at `tracked`.
bool not_older_than(std::int64_t webhook_ts, TimePoint tracked) {
  return webhook_ts == 0 || webhook_ts >= seconds_of(tracked) - kWebhookSkewSeconds;
}

void append(std::vector<ItemError>& to, const std::vector<ItemError>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

std::optional<std::string> non_empty(const std::optional<std::string>& text) {
  return text && !text->empty() ? text : std::nullopt;
}

std::optional<std::string> non_empty(const std::string& text) {
  return text.empty() ? std::nullopt : std::optional<std::string>(text);
}

// The key an operation tracked without a request id is found by. A newline cannot occur in a
// group id or a phone number id, so two different pairs never make one key.
std::string group_key(OperationKind kind, std::string_view group_id) {
  if (group_id.empty()) return {};
  std::string key = "g\n";
  key += to_string(kind);
  key += '\n';
  key += group_id;
  return key;
}

std::string create_key(std::string_view phone_number_id, std::string_view subject_as_given) {
  // The client sends the subject trimmed (and the webhook echoes that), so trim it alike here.
  const std::string subject = validation::trim(subject_as_given);
  if (phone_number_id.empty() || subject.empty()) return {};
  std::string key = "c\n";
  key += phone_number_id;
  key += '\n';
  key += subject;
  return key;
}

std::optional<Outcome> make_outcome(const std::optional<std::string>& request_id, OperationKind kind, bool ok,
                                    std::optional<std::string> group_id, std::vector<ItemError> errors) {
  Outcome out;
  out.request_id = request_id.value_or("");
  if (kind != OperationKind::create_group) out.match_key = group_key(kind, group_id.value_or(""));
  out.kind = kind;
  out.state = ok ? OperationState::succeeded : OperationState::failed;
  out.group_id = std::move(group_id);
  out.errors = std::move(errors);
  return out;
}

std::optional<Outcome> with_create_key(std::optional<Outcome> out, const WebhookContext& context,
                                       const std::optional<std::string>& subject) {
  if (out) out->match_key = create_key(context.phone_number_id, subject.value_or(""));
  return out;
}

/// The outcome an event reports, when it reports one.
struct OutcomeOf {
  std::optional<Outcome> operator()(const GroupCreated& e) const {
    return with_create_key(make_outcome(e.request_id, OperationKind::create_group, true, non_empty(e.group_id), {}),
                           e.context, e.subject);
  }
  std::optional<Outcome> operator()(const GroupCreateFailed& e) const {
    return with_create_key(
        make_outcome(e.request_id, OperationKind::create_group, false, non_empty(e.group_id), e.errors), e.context,
        e.subject);
  }
  std::optional<Outcome> operator()(const GroupDeleted& e) const {
    return make_outcome(e.request_id, OperationKind::delete_group, true, non_empty(e.group_id), {});
  }
  std::optional<Outcome> operator()(const GroupDeleteFailed& e) const {
    return make_outcome(e.request_id, OperationKind::delete_group, false, non_empty(e.group_id), e.errors);
  }
  std::optional<Outcome> operator()(const GroupSettingsUpdated& e) const {
    std::vector<ItemError> errors = e.errors;
    for (const auto* setting : {&e.group_subject, &e.group_description, &e.profile_picture}) {
      if (*setting) append(errors, (*setting)->errors);
    }
    return make_outcome(e.request_id, OperationKind::update_settings, e.all_succeeded(), non_empty(e.group_id),
                        std::move(errors));
  }
  std::optional<Outcome> operator()(const ParticipantsRemoved& e) const {
    // A participant leaving on their own is no operation of the business: without a request id,
    // only a removal the business initiated may resolve one.
    if (non_empty(e.request_id) == std::nullopt && e.initiated_by != RemovalInitiator::business) return std::nullopt;
    std::vector<ItemError> errors = e.errors;
    for (const auto& failed : e.failed_participants) append(errors, failed.errors);
    const bool ok = e.errors.empty() && e.failed_participants.empty();
    return make_outcome(e.request_id, OperationKind::remove_participants, ok, non_empty(e.group_id),
                        std::move(errors));
  }
  template <typename Other>
  std::optional<Outcome> operator()(const Other&) const {
    return std::nullopt;
  }
};

/// The webhook `timestamp` of an outcome event (0 when absent).
struct TimestampOf {
  static std::int64_t of(const WebhookContext& c) { return c.timestamp.value_or(0); }
  std::int64_t operator()(const GroupCreated& e) const { return of(e.context); }
  std::int64_t operator()(const GroupCreateFailed& e) const { return of(e.context); }
  std::int64_t operator()(const GroupDeleted& e) const { return of(e.context); }
  std::int64_t operator()(const GroupDeleteFailed& e) const { return of(e.context); }
  std::int64_t operator()(const GroupSettingsUpdated& e) const { return of(e.context); }
  std::int64_t operator()(const ParticipantsRemoved& e) const { return of(e.context); }
  template <typename Other>
  std::int64_t operator()(const Other&) const {
    return 0;  // not an outcome
  }
};

void add_field(std::string& out, std::string_view text) {
  out += text;
  out += '\n';
}

void add_people(std::string& out, std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  for (const auto& id : ids) add_field(out, id);
  out += '\n';
}

std::string person_id(const Participant& p) {
  return p.wa_id.value_or("") + "/" + p.user_id.value_or("") + "/" + p.input.value_or("");
}

/// What the event says beyond kind, key and time, so that two different outcomes of one group in
/// one second (the two webhooks of a settings update with a picture) are not taken for one.
struct DetailOf {
  std::string operator()(const GroupSettingsUpdated& e) const {
    std::string out;
    for (const auto* setting : {&e.group_subject, &e.group_description, &e.profile_picture}) {
      if (!*setting) {
        add_field(out, "-");
        continue;
      }
      add_field(out, (*setting)->succeeded() ? "ok" : "failed");
      add_field(out, (*setting)->text.value_or(""));
      add_field(out, (*setting)->sha256.value_or(""));
    }
    return out;
  }
  std::string operator()(const ParticipantsRemoved& e) const {
    std::string out;
    std::vector<std::string> ids;
    for (const auto& p : e.removed_participants) ids.push_back(person_id(p));
    add_people(out, std::move(ids));
    ids.clear();
    for (const auto& f : e.failed_participants) ids.push_back(person_id(f.participant));
    add_people(out, std::move(ids));
    return out;
  }
  template <typename Other>
  std::string operator()(const Other&) const {
    return {};
  }
};

/// The fingerprint of an outcome without request id: kind, key, group, webhook time, state,
/// errors and the event's details. Unset when the webhook carried no `timestamp` (two such
/// outcomes cannot be told apart from one delivered twice, so none is taken for a repeat).
std::string fingerprint(const Outcome& o, const WebhookEvent& event) {
  if (!o.request_id.empty() || o.webhook_ts == 0) return {};
  std::string out;
  add_field(out, to_string(o.kind));
  add_field(out, o.match_key);
  add_field(out, o.group_id.value_or(""));
  add_field(out, std::to_string(o.webhook_ts));
  add_field(out, to_string(o.state));
  std::vector<int> codes;
  for (const auto& e : o.errors) codes.push_back(e.code);
  std::sort(codes.begin(), codes.end());
  for (int c : codes) out += std::to_string(c) + ",";
  out += '\n';
  out += std::visit(DetailOf{}, event);
  return out;
}

// Nothing to correlate by: neither a request id nor a key.
bool uncorrelatable(const Outcome& o) { return o.request_id.empty() && o.match_key.empty(); }

bool is_past(TimePoint now, TimePoint since, milliseconds span) { return now - since >= span; }

// Resolution may precede tracking (an adopted early outcome), so the later of the two counts.
TimePoint last_change(const OperationStatus& s) {
  return s.resolved_at ? std::max(*s.resolved_at, s.tracked_at) : s.tracked_at;
}

// Brings one record up to `now`: a pending record whose time to live has elapsed becomes expired
// (counted in `newly_expired`). Returns true when the record is old enough to forget.
bool settle(OperationStatus& s, TimePoint now, milliseconds ttl, std::size_t& newly_expired) {
  if (s.state == OperationState::pending && is_past(now, s.tracked_at, ttl)) {
    s.state = OperationState::expired;
    ++newly_expired;
  }
  return is_past(now, last_change(s), 2 * ttl);
}

using Table = std::unordered_map<std::string, OperationStatus>;

// `settle` for the record of `id`, erasing it when forgotten; end() when there is none.
Table::iterator settle(Table& table, const std::string& id, TimePoint now, milliseconds ttl,
                       std::size_t& newly_expired) {
  auto it = table.find(id);
  if (it != table.end() && settle(it->second, now, ttl, newly_expired)) {
    table.erase(it);
    return table.end();
  }
  return it;
}

void apply(OperationStatus& s, Outcome&& outcome, const WebhookEvent& event, TimePoint now) {
  s.state = outcome.state;
  // The webhook's group id is Meta's word on which group the operation touched; it wins over the
  // one given at tracking time, which stays when the webhook carries none.
  if (outcome.group_id) s.group_id = std::move(outcome.group_id);
  s.errors = std::move(outcome.errors);
  s.event = event;
  s.resolved_at = now;
}

}  // namespace

PendingOperations::PendingOperations(std::chrono::milliseconds time_to_live, Clock clock)
    : PendingOperations(time_to_live, std::move(clock), time_to_live) {}

PendingOperations::PendingOperations(std::chrono::milliseconds time_to_live, Clock clock,
                                     std::chrono::milliseconds match_window)
    : ttl_(std::clamp(time_to_live, kMinTtl, kMaxTtl)),
      window_(std::clamp(match_window, milliseconds::zero(), kMaxTtl)),
      clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
  next_sweep_ = now() + ttl_;
}

std::chrono::system_clock::time_point PendingOperations::now() const { return clock_(); }

void PendingOperations::expire_locked(std::chrono::system_clock::time_point now, std::size_t& newly_expired) {
  for (auto it = operations_.begin(); it != operations_.end();) {
    if (settle(it->second, now, ttl_, newly_expired)) {
      it = operations_.erase(it);
    } else {
      ++it;
    }
  }
  // Early outcomes wait one time to live for their `track`.
  for (auto it = early_.begin(); it != early_.end();) {
    if (is_past(now, last_change(it->second), ttl_)) {
      it = early_.erase(it);
    } else {
      ++it;
    }
  }
  // The queues and the request index only point into the tables above: drop what they lost.
  auto prune = [](auto& queues, const Table& table) {
    for (auto it = queues.begin(); it != queues.end();) {
      auto& q = it->second;
      q.erase(std::remove_if(q.begin(), q.end(), [&](const std::string& k) { return table.count(k) == 0; }), q.end());
      it = q.empty() ? queues.erase(it) : std::next(it);
    }
  };
  prune(waiting_by_key_, operations_);
  prune(early_by_key_, early_);
  for (auto it = handle_of_request_.begin(); it != handle_of_request_.end();) {
    it = operations_.count(it->second) == 0 ? handle_of_request_.erase(it) : std::next(it);
  }
  // Id-less outcomes are remembered one time to live (oldest first in `seen_order_`).
  while (!seen_order_.empty()) {
    auto seen = seen_outcomes_.find(seen_order_.front());
    if (seen != seen_outcomes_.end() && !is_past(now, seen->second.at, ttl_)) break;
    if (seen != seen_outcomes_.end()) seen_outcomes_.erase(seen);
    seen_order_.pop_front();
  }
  next_sweep_ = now + ttl_;
}

bool PendingOperations::track(const std::string& request_id, OperationKind kind,
                              std::optional<std::string> group_id) {
  if (request_id.empty()) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto t = now();
  std::size_t expired = 0;
  if (t >= next_sweep_) expire_locked(t, expired);

  bool adopted = false;
  if (settle(operations_, request_id, t, ttl_, expired) == operations_.end()) {
    OperationStatus status;
    if (auto early = early_.find(request_id); early != early_.end()) {
      if (!is_past(t, last_change(early->second), ttl_)) {
        status = std::move(early->second);
        adopted = true;
      }
      early_.erase(early);
    }
    status.request_id = request_id;
    status.handle = request_id;
    // The caller's kind is what it asked for; an early webhook of another kind still resolves it
    // (request ids are unique), but the record keeps the kind tracked.
    status.kind = kind;
    if (!status.group_id) status.group_id = std::move(group_id);
    status.tracked_at = t;
    operations_.emplace(request_id, std::move(status));
  }
  // else: tracking an id twice keeps the first record.
  if (adopted || expired > 0) changed_.notify_all();
  return true;
}

bool PendingOperations::observe(const WebhookEvent& event) {
  std::optional<Outcome> outcome = std::visit(OutcomeOf{}, event);
  if (!outcome || uncorrelatable(*outcome)) return false;
  outcome->webhook_ts = std::visit(TimestampOf{}, event);
  outcome->fingerprint = fingerprint(*outcome, event);

  std::lock_guard<std::mutex> lock(mutex_);
  const auto t = now();
  std::size_t expired = 0;
  if (t >= next_sweep_) expire_locked(t, expired);

  // A redelivered outcome without request id: it already resolved an operation (or waits in the
  // early outcomes), so it resolves nothing more and is not kept a second time.
  const std::string fp = std::move(outcome->fingerprint);
  if (!fp.empty()) {
    if (auto seen = seen_outcomes_.find(fp); seen != seen_outcomes_.end() && !is_past(t, seen->second.at, ttl_)) {
      const std::string& handle = seen->second.handle;
      const bool was_matched = !handle.empty() && operations_.count(handle) > 0;
      if (expired > 0) changed_.notify_all();
      return was_matched;
    }
  }
  std::string matched_handle;

  bool matched = false;
  const std::string& request_id = outcome->request_id;
  if (!request_id.empty()) {
    if (auto it = settle(operations_, request_id, t, ttl_, expired); it != operations_.end()) {
      matched = true;
      OperationStatus& status = it->second;
      // A kind mismatch (say a delete webhook for an id tracked as a create) still resolves it:
      // request ids are unique, so the webhook is about this operation; `kind` stays as tracked. A
      // webhook after expiry still tells the truth, so it resolves an expired record too. An already
      // resolved record keeps its first outcome: Meta redelivers webhooks it thinks were not received.
      if (status.state == OperationState::pending || status.state == OperationState::expired) {
        apply(status, std::move(*outcome), event, t);
      }
    } else if (auto known = handle_of_request_.find(request_id); known != handle_of_request_.end()) {
      // A redelivery of the outcome that already resolved an operation tracked without an id.
      if (settle(operations_, known->second, t, ttl_, expired) != operations_.end()) {
        matched = true;
      } else {
        handle_of_request_.erase(known);
      }
    }
  }
  if (!matched && !outcome->match_key.empty()) {
    // The oldest operation of this key tracked within the window, resolved or not yet: queues hold
    // only those still waiting, oldest first.
    if (auto queue = waiting_by_key_.find(outcome->match_key); queue != waiting_by_key_.end()) {
      auto& handles = queue->second;
      while (!handles.empty() && !matched) {
        auto it = settle(operations_, handles.front(), t, ttl_, expired);
        // An outcome stamped before the oldest waiting operation was tracked is an older
        // operation's (a late redelivery): it resolves none of these, all tracked later still.
        if (it != operations_.end() && !not_older_than(outcome->webhook_ts, it->second.tracked_at)) break;
        const std::string handle = std::move(handles.front());
        handles.pop_front();
        if (it == operations_.end() || t - it->second.tracked_at > window_) continue;
        OperationStatus& status = it->second;
        if (status.state != OperationState::pending && status.state != OperationState::expired) continue;
        matched = true;
        matched_handle = handle;
        if (!request_id.empty()) {
          status.request_id = request_id;
          handle_of_request_[request_id] = handle;
        }
        apply(status, std::move(*outcome), event, t);
      }
      if (handles.empty()) waiting_by_key_.erase(queue);
    }
  }
  if (!matched) {
    // Kept for a later `track` (by its request id) or `track_by_group`/`track_create` (by its key).
    const std::string key = request_id.empty() ? "~" + std::to_string(++next_handle_) : request_id;
    auto [early, inserted] = early_.try_emplace(key);
    // Keep the first early outcome too, unless it is stale.
    if (inserted || is_past(t, last_change(early->second), ttl_)) {
      OperationStatus status;
      status.request_id = request_id;
      status.handle = key;
      status.kind = outcome->kind;
      status.tracked_at = t;
      std::string match_key = outcome->match_key;
      apply(status, std::move(*outcome), event, t);
      early->second = std::move(status);
      if (!match_key.empty()) early_by_key_[match_key].push_back(key);
      matched_handle = key;  // a repeat must not be kept twice either (it finds no operation)
    }
  }
  if (!fp.empty()) remember_outcome(fp, matched_handle, t);
  if (matched || expired > 0) changed_.notify_all();
  return matched;
}

void PendingOperations::remember_outcome(const std::string& fingerprint, const std::string& handle,
                                         std::chrono::system_clock::time_point at) {
  auto [it, inserted] = seen_outcomes_.insert_or_assign(fingerprint, SeenOutcome{handle, at});
  (void)it;
  if (inserted) seen_order_.push_back(fingerprint);
  while (seen_order_.size() > kMaxSeenOutcomes) {
    seen_outcomes_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
}

std::optional<std::string> PendingOperations::track_by_group(OperationKind kind, const std::string& group_id) {
  if (kind == OperationKind::create_group || group_id.empty()) return std::nullopt;
  return track_keyed(group_key(kind, group_id), kind, group_id);
}

std::optional<std::string> PendingOperations::track_create(const std::string& phone_number_id,
                                                           const std::string& subject) {
  std::string key = create_key(phone_number_id, subject);
  if (key.empty()) return std::nullopt;
  return track_keyed(std::move(key), OperationKind::create_group, std::nullopt);
}

std::optional<std::string> PendingOperations::track_keyed(std::string key, OperationKind kind,
                                                          std::optional<std::string> group_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto t = now();
  std::size_t expired = 0;
  if (t >= next_sweep_) expire_locked(t, expired);

  std::string handle = "op:" + std::to_string(++next_handle_);
  OperationStatus status;
  // The webhook beat this call: adopt the oldest unclaimed outcome of the key within the window.
  bool adopted = false;
  if (auto queue = early_by_key_.find(key); queue != early_by_key_.end()) {
    auto& keys = queue->second;
    while (!keys.empty() && !adopted) {
      auto early = early_.find(keys.front());
      keys.pop_front();
      if (early == early_.end() || t - last_change(early->second) > window_) continue;
      // Stamped well before this call: another (older) operation's outcome, say the second webhook
      // of a settings update with a picture, or a redelivery. It is never adopted.
      if (early->second.event && !not_older_than(std::visit(TimestampOf{}, *early->second.event), t)) {
        early_.erase(early);
        continue;
      }
      status = std::move(early->second);
      early_.erase(early);
      adopted = true;
    }
    if (keys.empty()) early_by_key_.erase(queue);
  }
  status.handle = handle;
  status.kind = kind;
  if (!status.group_id) status.group_id = std::move(group_id);
  status.tracked_at = t;
  if (adopted && !status.request_id.empty()) handle_of_request_[status.request_id] = handle;
  if (!adopted) waiting_by_key_[key].push_back(handle);
  operations_.emplace(handle, std::move(status));
  if (adopted || expired > 0) changed_.notify_all();
  return handle;
}

std::size_t PendingOperations::observe(const WebhookBatch& batch) {
  std::size_t matched = 0;
  for (const auto& event : batch.events) {
    if (observe(event)) ++matched;
  }
  return matched;
}

std::optional<OperationStatus> PendingOperations::find(const std::string& request_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = operations_.find(request_id);
  if (it == operations_.end()) return std::nullopt;
  // A const lookup cannot update the table, so it settles a copy: the caller sees the same state
  // a sweep at this instant would leave.
  OperationStatus status = it->second;
  std::size_t ignored = 0;
  if (settle(status, now(), ttl_, ignored)) return std::nullopt;
  return status;
}

std::optional<OperationStatus> PendingOperations::wait(const std::string& request_id,
                                                       std::chrono::milliseconds timeout) {
  using Steady = std::chrono::steady_clock;
  const auto deadline = Steady::now() + std::clamp(timeout, milliseconds::zero(), kMaxWait);
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    const auto t = now();
    std::size_t expired = 0;
    auto it = settle(operations_, request_id, t, ttl_, expired);
    if (expired > 0) changed_.notify_all();
    if (it == operations_.end()) return std::nullopt;
    if (it->second.state != OperationState::pending) return it->second;

    const auto real_now = Steady::now();
    if (real_now >= deadline) return it->second;
    auto nap = std::chrono::duration_cast<Steady::duration>(deadline - real_now);
    // The wait ends by real time; expiry is judged by the injected clock, so also wake when that
    // clock says the time to live runs out (with the system clock, no `expire` call is needed).
    const auto until_expiry =
        std::chrono::duration_cast<Steady::duration>((it->second.tracked_at + ttl_) - t);
    nap = std::min(nap, std::max<Steady::duration>(until_expiry, kMinNap));
    changed_.wait_for(lock, nap);
  }
}

std::size_t PendingOperations::expire() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t expired = 0;
  expire_locked(now(), expired);
  changed_.notify_all();
  return expired;
}

std::size_t PendingOperations::pending_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto t = now();
  return static_cast<std::size_t>(std::count_if(operations_.begin(), operations_.end(), [&](const auto& entry) {
    return entry.second.state == OperationState::pending && !is_past(t, entry.second.tracked_at, ttl_);
  }));
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
