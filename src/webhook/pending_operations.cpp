#include "wagroups/webhook/pending_operations.hpp"

#include <algorithm>
#include <utility>
#include <variant>

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

/// What an outcome webhook says about its operation.
struct Outcome {
  std::string request_id;
  OperationKind kind = OperationKind::create_group;
  OperationState state = OperationState::pending;
  std::optional<std::string> group_id;
  std::vector<ItemError> errors;
};

void append(std::vector<ItemError>& to, const std::vector<ItemError>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

std::optional<std::string> non_empty(const std::optional<std::string>& text) {
  return text && !text->empty() ? text : std::nullopt;
}

std::optional<std::string> non_empty(const std::string& text) {
  return text.empty() ? std::nullopt : std::optional<std::string>(text);
}

std::optional<Outcome> make_outcome(const std::optional<std::string>& request_id, OperationKind kind, bool ok,
                                    std::optional<std::string> group_id, std::vector<ItemError> errors) {
  // Without a request id nothing can be correlated (e.g. a participant leaving on their own).
  if (!request_id || request_id->empty()) return std::nullopt;
  Outcome out;
  out.request_id = *request_id;
  out.kind = kind;
  out.state = ok ? OperationState::succeeded : OperationState::failed;
  out.group_id = std::move(group_id);
  out.errors = std::move(errors);
  return out;
}

/// The outcome an event reports, when it reports one.
struct OutcomeOf {
  std::optional<Outcome> operator()(const GroupCreated& e) const {
    return make_outcome(e.request_id, OperationKind::create_group, true, non_empty(e.group_id), {});
  }
  std::optional<Outcome> operator()(const GroupCreateFailed& e) const {
    return make_outcome(e.request_id, OperationKind::create_group, false, non_empty(e.group_id), e.errors);
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
    : ttl_(std::clamp(time_to_live, kMinTtl, kMaxTtl)), clock_(std::move(clock)) {
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
  if (!outcome) return false;

  std::lock_guard<std::mutex> lock(mutex_);
  const auto t = now();
  std::size_t expired = 0;
  if (t >= next_sweep_) expire_locked(t, expired);

  bool matched = false;
  if (auto it = settle(operations_, outcome->request_id, t, ttl_, expired); it != operations_.end()) {
    matched = true;
    OperationStatus& status = it->second;
    // A kind mismatch (say a delete webhook for an id tracked as a create) still resolves it: request
    // ids are unique, so the webhook is about this operation; `kind` stays as tracked. A webhook
    // after expiry still tells the truth, so it resolves an expired record too. An already resolved
    // record keeps its first outcome: Meta redelivers webhooks it thinks were not received.
    if (status.state == OperationState::pending || status.state == OperationState::expired) {
      apply(status, std::move(*outcome), event, t);
    }
  } else {
    auto [early, inserted] = early_.try_emplace(outcome->request_id);
    // Keep the first early outcome too, unless it is stale.
    if (inserted || is_past(t, last_change(early->second), ttl_)) {
      OperationStatus status;
      status.request_id = outcome->request_id;
      status.kind = outcome->kind;
      status.tracked_at = t;
      apply(status, std::move(*outcome), event, t);
      early->second = std::move(status);
    }
  }
  if (matched || expired > 0) changed_.notify_all();
  return matched;
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
