// GroupCommitter: many concurrent webhook bodies, one store unit, each caller answered after it.
//
// Choices:
// * Leader/follower, no thread of its own: a caller that finds no unit running runs one for every
//   body waiting. A background committer would add a thread handoff to every lone POST and a
//   lifetime to manage; here a lone caller runs `tickets.apply` on its own thread, as before.
// * One condition variable per waiting caller (on its stack), not one shared: a finished unit
//   wakes exactly its callers and the next leader, not all 64 request threads. Each is notified
//   under the mutex, so a caller cannot have returned (destroying its condition variable) first.
// * FIFO: a unit takes the oldest bodies, and the lead passes to the oldest caller still waiting,
//   so with the bound on a unit's size no body waits behind more than queue/bound units.
// * A unit of several bodies that fails is not answered with its error: apply_each is all or
//   nothing, so one bad body would fail every good one beside it, and its redelivery would do so
//   again each time. Each body is applied again alone instead (a bounded cost: at most
//   max_bodies_per_unit extra units, paid only on failure). A store that is down fails each of
//   them, which is right: nothing was committed, so nobody may be told otherwise.
// * Exceptions from the store are caught on the leader's thread (they must not skip waking the
//   others) and rethrown on the thread whose body threw alone, as `tickets.apply` would have.

#include "wagroups/tickets/group_commit.hpp"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <vector>

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

struct GroupCommitter::Waiter {
  explicit Waiter(const WebhookBatch& b) : body(&b) {}
  const WebhookBatch* body;
  std::optional<Result<ApplyOutcome>> result;
  std::exception_ptr thrown;
  bool done = false;       // result or thrown is set
  bool lead = false;       // this caller runs the next unit
  Waiter* next = nullptr;  // the queue, then the unit, as an intrusive list: no allocation under the mutex
  std::condition_variable wake;
};

struct GroupCommitter::State {
  mutable std::mutex mutex;
  Waiter* head = nullptr;  // bodies no unit has taken yet, oldest first
  Waiter* tail = nullptr;
  std::size_t queued = 0;
  bool leading = false;    // a caller holds the lead (running a unit, or woken to run the next)
  std::size_t inside = 0;  // callers inside apply()
  std::condition_variable idle;
  GroupCommitStats stats;
};

GroupCommitter::GroupCommitter(TicketAggregator& tickets, GroupCommitOptions options)
    : tickets_(tickets), options_(options), state_(std::make_unique<State>()) {
  if (options_.max_bodies_per_unit == 0) options_.max_bodies_per_unit = 1;
}

GroupCommitter::~GroupCommitter() {
  std::unique_lock<std::mutex> lock(state_->mutex);
  state_->idle.wait(lock, [this] { return state_->inside == 0; });
}

std::size_t GroupCommitter::waiting() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->queued;
}

GroupCommitStats GroupCommitter::stats() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->stats;
}

namespace {

void apply_alone(TicketAggregator& tickets, const WebhookBatch& body, std::optional<Result<ApplyOutcome>>& result,
                 std::exception_ptr& thrown) noexcept {
  try {
    result.emplace(tickets.apply(body));
  } catch (...) {
    thrown = std::current_exception();
  }
}

}  // namespace

// Runs one unit for the `count` waiters listed from `unit`, without the mutex, and leaves every
// waiter's result or exception set. Returns normally in every case.
void GroupCommitter::run(Waiter* unit, std::size_t count) {
  if (count == 1) {
    apply_alone(tickets_, *unit->body, unit->result, unit->thrown);
    return;
  }
  try {
    std::vector<const WebhookBatch*> bodies;
    bodies.reserve(count);
    for (Waiter* w = unit; w != nullptr; w = w->next) bodies.push_back(w->body);
    auto whole = tickets_.apply_each(bodies);
    if (whole && whole->size() == count) {
      std::size_t i = 0;
      for (Waiter* w = unit; w != nullptr; w = w->next) w->result.emplace(std::move((*whole)[i++]));
      return;
    }
  } catch (...) {
    // As a failed unit: the store rolls back a unit its work left by an exception, so nothing
    // of it is committed; each body is tried alone below.
  }
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    ++state_->stats.failed_units;
  }
  for (Waiter* w = unit; w != nullptr; w = w->next) {
    w->result.reset();
    apply_alone(tickets_, *w->body, w->result, w->thrown);
  }
}

Result<ApplyOutcome> GroupCommitter::apply(const WebhookBatch& body) {
  Waiter me(body);
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mutex);
  ++s.inside;
  if (s.tail) {
    s.tail->next = &me;
  } else {
    s.head = &me;
  }
  s.tail = &me;
  ++s.queued;
  if (!s.leading) {
    s.leading = true;
    me.lead = true;
  }
  for (;;) {
    me.wake.wait(lock, [&me] { return me.done || me.lead; });
    if (me.done) break;
    // The lead: take the oldest bodies (this caller's own among them unless more than a unit's
    // worth came before it) and run them without the mutex, so that others may queue meanwhile.
    me.lead = false;
    Waiter* const unit = s.head;
    Waiter* last = unit;
    std::size_t count = 1;
    while (count < options_.max_bodies_per_unit && last->next != nullptr) {
      last = last->next;
      ++count;
    }
    s.head = last->next;
    if (s.head == nullptr) s.tail = nullptr;
    last->next = nullptr;
    s.queued -= count;
    ++s.stats.units;
    s.stats.bodies += count;
    s.stats.largest_unit = std::max(s.stats.largest_unit, count);
    lock.unlock();
    run(unit, count);
    lock.lock();
    for (Waiter* w = unit; w != nullptr; w = w->next) {
      w->done = true;
      if (w != &me) w->wake.notify_one();
    }
    if (s.head == nullptr) {
      s.leading = false;
    } else {
      s.head->lead = true;
      if (s.head != &me) s.head->wake.notify_one();
    }
  }
  if (--s.inside == 0) s.idle.notify_all();
  lock.unlock();
  if (me.thrown) std::rethrow_exception(me.thrown);
  return std::move(*me.result);
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
