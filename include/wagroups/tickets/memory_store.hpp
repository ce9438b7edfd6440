#pragma once

/// @file
/// `InMemoryTicketStore`: the thread-safe in-memory `TicketStore`.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wagroups/export.hpp"
#include "wagroups/tickets/store.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// Thread-safe, in memory (tests, demos, and hosts that persist elsewhere). Writes happen in place
/// under one lock. With `copy_on_write` (the default) each ticket is copied when a unit first
/// fetches it, so a failing `work` rolls back exactly; without it a unit that fails after writing
/// keeps its writes. The aggregator never fails after its first write, so a host that writes only
/// through the aggregator may turn copying off to save a copy of each touched ticket per unit.
/// Every ticket a unit fetched counts as written (its version moves on).
class WAGROUPS_API InMemoryTicketStore final : public TicketStore {
 public:
  explicit InMemoryTicketStore(bool copy_on_write = true);
  ~InMemoryTicketStore() override;
  Result<void> transact(const std::function<Result<void>(TicketTransaction&)>& work) override;
  Result<std::optional<StoredTicket>> load(const std::string& ticket_id) override;
  Result<std::optional<std::string>> find_by_group(const std::string& group_id) override;
  Result<std::optional<std::string>> find_by_request(const std::string& request_id) override;
  Result<std::vector<StoredTicket>> list(const TicketQuery& query) override;

  /// Dead letters, kept in memory within `dead_letter_limits()` (the oldest dropped first).
  Result<std::int64_t> add_dead_letter(const DeadLetter& letter) override;
  Result<std::vector<DeadLetter>> dead_letters(const DeadLetterQuery& query) override;
  Result<bool> erase_dead_letter(std::int64_t id) override;
  /// The bounds on kept dead letters (defaults: 1000 letters, 64 MiB of bodies); lowering them
  /// drops the oldest at once.
  void set_dead_letter_limits(DeadLetterLimits limits);
  DeadLetterLimits dead_letter_limits() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  // Apart from `state_` (its own lock): dead letters never take part in a unit of work. Shared
  // only so that its type may stay incomplete here.
  struct DeadLetterShelf;
  static std::shared_ptr<DeadLetterShelf> make_dead_letter_shelf();
  std::shared_ptr<DeadLetterShelf> dead_letters_ = make_dead_letter_shelf();
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
