#pragma once

/// @file
/// Correlating asynchronous group operations with their webhooks. `create_group`, `delete_group`,
/// `update_group_settings` and `remove_participants` answer with a `request_id`; the outcome
/// arrives later in a webhook carrying the same `request_id`. `PendingOperations` records the
/// former and resolves them from the latter, so a host can look up or wait for an outcome.
///
/// Meta documents a `request_id` only in create's answer (delete answers `{"success":true}`,
/// settings and remove document no body), while the outcome webhooks carry one. An operation whose
/// answer had none is tracked by what the host knows instead: `(group_id, kind)`, or for a create
/// `(phone_number_id, subject)`. An outcome webhook whose `request_id` is not tracked resolves the
/// OLDEST such operation of its key tracked within the match window (default: the time to live);
/// two pending settings updates on one group are resolved in tracking order, first webhook to
/// the oldest. A request id both ways still matches exactly. Create subjects are compared trimmed
/// (as the client sends them). When the webhook carries no request id either, an outcome stamped
/// (`timestamp`) more than 5 s before an operation was tracked is never that operation's, and a
/// repeat of an id-less outcome already observed is dropped. A settings update with fields and a
/// picture is two requests and two webhooks: track it twice (or the picture separately).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "wagroups/export.hpp"
#include "wagroups/models/common.hpp"
#include "wagroups/client/options.hpp"
#include "wagroups/webhook/events.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// The asynchronous operations Meta reports by webhook.
enum class OperationKind { create_group, delete_group, update_settings, remove_participants };

WAGROUPS_API const char* to_string(OperationKind kind) noexcept;

/// Where a tracked operation stands.
enum class OperationState {
  pending,    ///< tracked, no webhook yet
  succeeded,  ///< the webhook reported full success
  failed,     ///< the webhook reported failure or partial failure (see `errors`)
  expired,    ///< no webhook within the time to live
};

WAGROUPS_API const char* to_string(OperationState state) noexcept;

/// What is known about one operation.
struct OperationStatus {
  /// The id tracked; for an operation tracked without one, the matching webhook's (empty before,
  /// or when that webhook carried none).
  std::string request_id;
  /// The key `find` and `wait` take: the request id, or the handle `track_by_group` /
  /// `track_create` returned ("op:<n>").
  std::string handle;
  OperationKind kind = OperationKind::create_group;
  OperationState state = OperationState::pending;
  std::optional<std::string> group_id;  ///< known at tracking time, or learnt from the webhook
  std::vector<ItemError> errors;        ///< the webhook's errors (overall and per item)
  /// The webhook event that resolved it. Its `raw` view keeps the parsed body (up to the parser's
  /// size limit) alive as long as the record lives: at most twice the time to live.
  std::optional<WebhookEvent> event;
  std::chrono::system_clock::time_point tracked_at;
  std::optional<std::chrono::system_clock::time_point> resolved_at;
};

/// Thread-safe table of operations awaiting their webhook. A webhook may beat the HTTP answer
/// that carries its `request_id` (Meta is quick, networks are not): an outcome for an unknown
/// `request_id` is kept for the time to live, and `track` then finds it already resolved.
class WAGROUPS_API PendingOperations {
 public:
  /// `time_to_live`: how long an operation waits for its webhook before `expired`, and how long a
  /// resolved or early outcome is kept. `clock` defaults to the system clock.
  explicit PendingOperations(std::chrono::milliseconds time_to_live = std::chrono::hours(1), Clock clock = {});
  /// `match_window`: how long after its tracking an operation without a request id can still be
  /// matched by its key (and how old an early outcome such an operation may adopt); default the
  /// time to live.
  PendingOperations(std::chrono::milliseconds time_to_live, Clock clock, std::chrono::milliseconds match_window);
  PendingOperations(const PendingOperations&) = delete;
  PendingOperations& operator=(const PendingOperations&) = delete;

  /// Starts tracking `request_id` (an empty id is ignored and returns false). Tracking an id twice
  /// keeps the first record. Returns true when the id is now tracked or already resolved.
  bool track(const std::string& request_id, OperationKind kind, std::optional<std::string> group_id = std::nullopt);

  /// Starts tracking a delete, settings update or participant removal whose answer carried no
  /// `request_id`, keyed by `(group_id, kind)`. Returns the handle for `find`/`wait`; unset for an
  /// empty group id or for `create_group` (use `track_create`). When an outcome of that key arrived
  /// first (within the match window, and stamped no more than 5 s before this call) and no
  /// operation took it, this one adopts the oldest such.
  std::optional<std::string> track_by_group(OperationKind kind, const std::string& group_id);
  /// `track_by_group` for a create without `request_id`: keyed by the number's id (the webhook's
  /// `metadata.phone_number_id`) and the subject as sent, trimmed as the client trims it (the
  /// webhook's `subject`); unset when either is empty.
  std::optional<std::string> track_create(const std::string& phone_number_id, const std::string& subject);

  /// Resolves the operation the event reports, if the event is an operation outcome
  /// (GroupCreated/CreateFailed, GroupDeleted/DeleteFailed, GroupSettingsUpdated,
  /// ParticipantsRemoved initiated by the business): by its `request_id` when that is tracked,
  /// else the oldest operation tracked without one under its key (see above). Returns true when
  /// it matched; an unmatched outcome is remembered for a later `track`/`track_by_group`. A
  /// redelivered outcome (same `request_id`, or without one the same fingerprint: kind, key,
  /// group, webhook `timestamp`, state, errors, details) changes nothing and returns whether its
  /// first delivery matched. An id-less outcome stamped over 5 s before an operation was tracked
  /// does not resolve it. Wakes waiters.
  bool observe(const WebhookEvent& event);
  /// `observe` for every event; returns how many matched.
  std::size_t observe(const WebhookBatch& batch);

  /// The operation's status by request id or handle; unset when never tracked (or forgotten
  /// after expiry).
  std::optional<OperationStatus> find(const std::string& request_id) const;

  /// Blocks until the operation is resolved, expires, or `timeout` passes (then returns its
  /// status, still `pending`). Unset when it is not tracked.
  std::optional<OperationStatus> wait(const std::string& request_id, std::chrono::milliseconds timeout);

  /// Marks operations past their time to live `expired`, forgets records older than twice the
  /// time to live, wakes waiters, and returns how many became expired. Call it now and then (the
  /// other methods also expire lazily what they touch).
  std::size_t expire();

  /// Operations still pending.
  std::size_t pending_count() const;

 private:
  std::chrono::system_clock::time_point now() const;
  void expire_locked(std::chrono::system_clock::time_point now, std::size_t& newly_expired);

  std::optional<std::string> track_keyed(std::string key, OperationKind kind, std::optional<std::string> group_id);
  void remember_outcome(const std::string& fingerprint, const std::string& handle,
                        std::chrono::system_clock::time_point at);

  std::chrono::milliseconds ttl_;
  std::chrono::milliseconds window_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::unordered_map<std::string, OperationStatus> operations_;
  std::unordered_map<std::string, OperationStatus> early_;  // outcomes that arrived before `track`
  // When `track`/`observe` next sweep the whole table, so memory stays bounded even if the host
  // never calls `expire` (one O(n) pass per time to live).
  std::chrono::system_clock::time_point next_sweep_;
  // Operations tracked without a request id: handles by match key, oldest first; unmatched
  // outcomes (keys of `early_`) by match key, oldest first; and which request id resolved which
  // handle (so a redelivery does not resolve the next one).
  std::uint64_t next_handle_ = 0;
  std::unordered_map<std::string, std::deque<std::string>> waiting_by_key_;
  std::unordered_map<std::string, std::deque<std::string>> early_by_key_;
  std::unordered_map<std::string, std::string> handle_of_request_;
  // Outcomes without request id already observed, by fingerprint (kind, key, webhook timestamp,
  // details): the handle they resolved or the early_ key they wait under. Kept one time to live,
  // at most a few thousand (oldest first in `seen_order_`), so a redelivery is dropped.
  struct SeenOutcome {
    std::string handle;
    std::chrono::system_clock::time_point at;
  };
  std::unordered_map<std::string, SeenOutcome> seen_outcomes_;
  std::deque<std::string> seen_order_;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
