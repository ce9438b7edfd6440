// InMemoryTicketStore: every unit of work runs under one mutex and writes in place. Rollback (when
// copy_on_write) replays an undo log backwards: ticket snapshots taken at first fetch, inserted and
// erased records, message index entries and event keys.

#include <algorithm>
#include <functional>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "tickets/rules.hpp"
#include "wagroups/tickets.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

namespace {

struct Record {
  Ticket ticket;
  std::int64_t version = 0;
  std::uint64_t unit = 0;  // the last unit that fetched or inserted it
  // What the group / request indexes hold for this record, so that commit re-indexes only when a
  // unit changed the ticket's group_id / request_id.
  std::optional<std::string> indexed_group;
  std::optional<std::string> indexed_request;
};

using RecordMap = std::unordered_map<std::string, Record>;

/// An open-addressing hash table from strings to a 32-bit value, for the two tables that grow
/// with every event (event keys and message ids). The strings live in large append-only chunks,
/// so an entry costs no allocation of its own and a lookup touches one slot (a node-based
/// std::unordered_set<std::string> costs two allocations an entry and several cache misses a
/// lookup, which dominated the aggregator's cost). Erasing (rollback only) leaves a tombstone.
class FlatStringTable {
 public:
  /// The value for `key`, or null.
  const std::uint32_t* find(std::string_view key) const {
    if (slots_.empty()) return nullptr;
    const std::uint64_t h = hash(key);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.chunk == kEmpty) return nullptr;
      if (s.chunk != kTombstone && s.hash == h && text(s) == key) return &s.value;
    }
  }

  /// Inserts `key` -> `value` or overwrites; returns the previous value when there was one.
  std::optional<std::uint32_t> assign(std::string_view key, std::uint32_t value) {
    if ((used_ + 1) * 4 > slots_.size() * 3) grow();
    const std::uint64_t h = hash(key);
    std::size_t free_slot = slots_.size();
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.chunk == kEmpty) {
        if (free_slot == slots_.size()) {
          free_slot = i;
          ++used_;
        }
        break;
      }
      if (s.chunk == kTombstone) {
        if (free_slot == slots_.size()) free_slot = i;
        continue;
      }
      if (s.hash == h && text(s) == key) {
        const std::uint32_t previous = s.value;
        s.value = value;
        return previous;
      }
    }
    Slot& s = slots_[free_slot];
    store(s, key);
    s.hash = h;
    s.value = value;
    ++live_;
    return std::nullopt;
  }

  void erase(std::string_view key) {
    if (slots_.empty()) return;
    const std::uint64_t h = hash(key);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.chunk == kEmpty) return;
      if (s.chunk != kTombstone && s.hash == h && text(s) == key) {
        s.chunk = kTombstone;
        --live_;
        return;
      }
    }
  }

  std::size_t size() const noexcept { return live_; }

 private:
  static constexpr std::uint32_t kEmpty = 0;
  static constexpr std::uint32_t kTombstone = 0xFFFFFFFFu;
  static constexpr std::size_t kChunkBytes = std::size_t(1) << 20;

  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t chunk = kEmpty;  // chunk index + 1
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
    std::uint32_t value = 0;
  };

  static std::uint64_t hash(std::string_view key) noexcept { return std::hash<std::string_view>{}(key); }

  std::string_view text(const Slot& s) const noexcept {
    return std::string_view(chunks_[s.chunk - 1].data() + s.offset, s.length);
  }

  void store(Slot& s, std::string_view key) {
    if (chunks_.empty() || chunks_.back().capacity() - chunks_.back().size() < key.size()) {
      chunks_.emplace_back();
      chunks_.back().reserve(std::max(kChunkBytes, key.size()));  // never reallocated: offsets stay valid
    }
    std::string& chunk = chunks_.back();
    s.chunk = static_cast<std::uint32_t>(chunks_.size());
    s.offset = static_cast<std::uint32_t>(chunk.size());
    s.length = static_cast<std::uint32_t>(key.size());
    chunk.append(key.data(), key.size());
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    // Double when mostly live; rehash in place when tombstones took the room.
    const std::size_t capacity = old.empty() ? 64 : live_ * 2 >= old.size() ? old.size() * 2 : old.size();
    slots_.assign(capacity, Slot{});
    mask_ = slots_.size() - 1;
    used_ = live_;
    for (const Slot& s : old) {
      if (s.chunk == kEmpty || s.chunk == kTombstone) continue;
      std::size_t i = s.hash & mask_;
      while (slots_[i].chunk != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::vector<std::string> chunks_;
  std::size_t mask_ = 0;
  std::size_t used_ = 0;  // live entries and tombstones
  std::size_t live_ = 0;
};

Error storage_error(std::string message) {
  Error e;
  e.code = ErrorCode::storage;
  e.message = std::move(message);
  return e;
}

struct StoreData {
  explicit StoreData(bool cow) : copy_on_write(cow) {}

  const bool copy_on_write;
  std::mutex mutex;
  RecordMap tickets;
  // Group and request lookups are verified against the ticket's own field on every read, so an
  // entry left behind by an erased or re-pointed ticket is harmless.
  std::unordered_map<std::string, std::string> by_group;
  std::unordered_map<std::string, std::string> by_request;
  FlatStringTable by_message;  // message id -> index into ticket_names
  FlatStringTable keys;
  // Ticket ids interned for the message index (many messages, few tickets).
  std::vector<std::string> ticket_names;
  std::unordered_map<std::string, std::uint32_t> ticket_numbers;

  std::uint32_t intern(const std::string& ticket_id) {
    auto [it, inserted] = ticket_numbers.try_emplace(ticket_id, static_cast<std::uint32_t>(ticket_names.size()));
    if (inserted) ticket_names.push_back(ticket_id);
    return it->second;
  }
  std::uint64_t units = 0;

  std::optional<std::string> lookup(const std::unordered_map<std::string, std::string>& index,
                                    const std::string& value,
                                    std::optional<std::string> Ticket::*field) const {
    auto it = index.find(value);
    if (it == index.end()) return std::nullopt;
    auto rec = tickets.find(it->second);
    if (rec == tickets.end()) return std::nullopt;
    const auto& current = rec->second.ticket.*field;
    if (!current || *current != value) return std::nullopt;
    return it->second;
  }
};

class Unit final : public TicketTransaction {
 public:
  using State = StoreData;

  explicit Unit(State& state) : s_(state), id_(++state.units), cow_(state.copy_on_write) {}

  Result<Ticket*> ticket(const std::string& ticket_id) override {
    auto it = s_.tickets.find(ticket_id);
    if (it == s_.tickets.end()) return static_cast<Ticket*>(nullptr);
    touch(it->second);
    return &it->second.ticket;
  }

  Result<Ticket*> insert(Ticket ticket) override {
    std::string id = ticket.ticket_id;
    auto [it, inserted] = s_.tickets.try_emplace(id);
    if (!inserted) {
      Error e;
      e.code = ErrorCode::conflict;
      e.field = "ticket_id";
      e.message = "a ticket with this id exists already";
      return e;
    }
    it->second.ticket = std::move(ticket);
    it->second.unit = id_;
    touched_.push_back(&it->second);
    if (cow_) undo_.emplace_back(UndoInsert{std::move(id)});
    return &it->second.ticket;
  }

  Result<void> erase(const std::string& ticket_id) override {
    auto it = s_.tickets.find(ticket_id);
    if (it == s_.tickets.end()) return {};
    Record* rec = &it->second;
    touched_.erase_value(rec);
    auto node = s_.tickets.extract(it);
    if (cow_) undo_.emplace_back(UndoErase{std::move(node)});
    return {};
  }

  Result<std::optional<std::string>> find_by_group(const std::string& group_id) override {
    return find(s_.by_group, group_id, &Ticket::group_id);
  }
  Result<std::optional<std::string>> find_by_request(const std::string& request_id) override {
    return find(s_.by_request, request_id, &Ticket::request_id);
  }

  Result<std::optional<std::string>> find_by_message(const std::string& message_id) override {
    const std::uint32_t* number = s_.by_message.find(message_id);
    if (!number) return std::optional<std::string>();
    const std::string& ticket_id = s_.ticket_names[*number];
    if (s_.tickets.count(ticket_id) == 0) return std::optional<std::string>();
    return std::optional<std::string>(ticket_id);
  }

  Result<void> index_message(const std::string& message_id, const std::string& ticket_id) override {
    const std::optional<std::uint32_t> previous = s_.by_message.assign(message_id, s_.intern(ticket_id));
    if (cow_) undo_.emplace_back(UndoIndex{message_id, previous});
    return {};
  }

  Result<bool> applied(const std::string& event_key) override { return s_.keys.find(event_key) != nullptr; }

  Result<void> record(const std::string& event_key) override {
    if (!s_.keys.assign(event_key, 0) && cow_) undo_.emplace_back(UndoKey{event_key});
    return {};
  }

  void commit() {
    for (Record* rec : touched_) {
      ++rec->version;
      reindex(*rec, rec->ticket.group_id, rec->indexed_group, s_.by_group);
      reindex(*rec, rec->ticket.request_id, rec->indexed_request, s_.by_request);
    }
    touched_.clear();
    undo_.clear();
  }

  void rollback() {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
      std::visit([this](auto& u) { undo(u); }, *it);
    }
    undo_.clear();
    touched_.clear();
  }

 private:
  struct UndoSnapshot {
    Record* record;
    Ticket before;
  };
  struct UndoInsert {
    std::string ticket_id;
  };
  struct UndoErase {
    RecordMap::node_type node;
  };
  struct UndoIndex {
    std::string message_id;
    std::optional<std::uint32_t> previous;
  };
  struct UndoKey {
    std::string key;
  };
  using Undo = std::variant<UndoSnapshot, UndoInsert, UndoErase, UndoIndex, UndoKey>;

  void undo(UndoSnapshot& u) { u.record->ticket = std::move(u.before); }
  void undo(UndoInsert& u) { s_.tickets.erase(u.ticket_id); }
  void undo(UndoErase& u) { s_.tickets.insert(std::move(u.node)); }
  void undo(UndoIndex& u) {
    if (u.previous) {
      s_.by_message.assign(u.message_id, *u.previous);
    } else {
      s_.by_message.erase(u.message_id);
    }
  }
  void undo(UndoKey& u) { s_.keys.erase(u.key); }

  void touch(Record& rec) {
    if (rec.unit == id_) return;
    rec.unit = id_;
    touched_.push_back(&rec);
    // The one copy a unit makes of a ticket, and only when rollback is asked for.
    if (cow_) undo_.emplace_back(UndoSnapshot{&rec, rec.ticket});
  }

  std::optional<std::string> find(const std::unordered_map<std::string, std::string>& index,
                                   const std::string& value, std::optional<std::string> Ticket::*field) {
    if (auto id = s_.lookup(index, value, field)) return id;
    // A ticket this unit gave the value to is not indexed before commit.
    for (const Record* rec : touched_) {
      const auto& current = rec->ticket.*field;
      if (current && *current == value) return rec->ticket.ticket_id;
    }
    return std::nullopt;
  }

  static void reindex(const Record& rec, const std::optional<std::string>& value, std::optional<std::string>& indexed,
                      std::unordered_map<std::string, std::string>& index) {
    if (value == indexed) return;
    if (indexed) {
      auto it = index.find(*indexed);
      if (it != index.end() && it->second == rec.ticket.ticket_id) index.erase(it);
    }
    if (value) index.insert_or_assign(*value, rec.ticket.ticket_id);
    indexed = value;
  }

  State& s_;
  const std::uint64_t id_;
  const bool cow_;
  tickets_detail::SmallVector<Record*, 4> touched_;
  std::vector<Undo> undo_;
};

}  // namespace

struct InMemoryTicketStore::State : StoreData {
  using StoreData::StoreData;
};

InMemoryTicketStore::InMemoryTicketStore(bool copy_on_write) : state_(std::make_unique<State>(copy_on_write)) {}

InMemoryTicketStore::~InMemoryTicketStore() = default;

Result<void> InMemoryTicketStore::transact(const std::function<Result<void>(TicketTransaction&)>& work) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  Unit unit(*state_);
  Result<void> result;
  try {
    result = work(unit);
  } catch (const std::exception& e) {
    result = storage_error(std::string("ticket store: the unit of work threw: ") + e.what());
  } catch (...) {
    result = storage_error("ticket store: the unit of work threw");
  }
  // Without copy_on_write nothing can be undone: a failed unit keeps its writes, and the indexes
  // are brought in line with them.
  if (result.ok() || !state_->copy_on_write) {
    unit.commit();
  } else {
    unit.rollback();
  }
  return result;
}

Result<std::optional<StoredTicket>> InMemoryTicketStore::load(const std::string& ticket_id) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  auto it = state_->tickets.find(ticket_id);
  if (it == state_->tickets.end()) return std::optional<StoredTicket>();
  return std::optional<StoredTicket>(StoredTicket{it->second.ticket, it->second.version});
}

Result<std::optional<std::string>> InMemoryTicketStore::find_by_group(const std::string& group_id) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->lookup(state_->by_group, group_id, &Ticket::group_id);
}

Result<std::optional<std::string>> InMemoryTicketStore::find_by_request(const std::string& request_id) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->lookup(state_->by_request, request_id, &Ticket::request_id);
}

Result<std::vector<StoredTicket>> InMemoryTicketStore::list(const TicketQuery& query) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::vector<const Record*> matches;
  for (const auto& [id, rec] : state_->tickets) {
    const Ticket& t = rec.ticket;
    if (query.state && t.state != *query.state) continue;
    if (query.assignee && t.assignee != query.assignee) continue;
    if (query.group_id && t.group_id != query.group_id) continue;
    matches.push_back(&rec);
  }
  const std::size_t n = std::min(query.limit, matches.size());
  auto by_id = [](const Record* a, const Record* b) { return a->ticket.ticket_id < b->ticket.ticket_id; };
  std::partial_sort(matches.begin(), matches.begin() + static_cast<std::ptrdiff_t>(n), matches.end(), by_id);
  std::vector<StoredTicket> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(StoredTicket{matches[i]->ticket, matches[i]->version});
  return out;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups

// ---------------------------------------------------------------------------------------------
// Dead letters (issue 10): a bounded list, newest last, under its own lock.

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

struct InMemoryTicketStore::DeadLetterShelf {
  mutable std::mutex mutex;
  DeadLetterLimits limits;
  std::vector<DeadLetter> letters;  // oldest first; ids ascending
  std::size_t bytes = 0;            // sum of the bodies' sizes
  std::int64_t next_id = 1;

  // Drops the oldest until both bounds hold; the newest letter stays whatever its size.
  void prune() {
    std::size_t drop = 0;
    std::size_t bytes_left = bytes;
    const std::size_t n = letters.size();
    while (n - drop > 1) {
      const bool too_many = limits.max_count > 0 && n - drop > limits.max_count;
      const bool too_big = limits.max_total_bytes > 0 && bytes_left > limits.max_total_bytes;
      if (!too_many && !too_big) break;
      bytes_left -= letters[drop].body.size();
      ++drop;
    }
    letters.erase(letters.begin(), letters.begin() + static_cast<std::ptrdiff_t>(drop));
    bytes = bytes_left;
  }
};

std::shared_ptr<InMemoryTicketStore::DeadLetterShelf> InMemoryTicketStore::make_dead_letter_shelf() {
  return std::make_shared<DeadLetterShelf>();
}

Result<std::int64_t> InMemoryTicketStore::add_dead_letter(const DeadLetter& letter) {
  DeadLetterShelf& shelf = *dead_letters_;
  std::lock_guard<std::mutex> lock(shelf.mutex);
  DeadLetter kept;
  kept.id = shelf.next_id++;
  kept.received_at = letter.received_at;
  kept.body = letter.body;
  // The same four members the SQLite store keeps, so that both stores answer alike.
  kept.error.code = letter.error.code;
  kept.error.message = letter.error.message;
  kept.error.field = letter.error.field;
  kept.error.limit = letter.error.limit;
  shelf.bytes += kept.body.size();
  shelf.letters.push_back(std::move(kept));
  shelf.prune();
  return shelf.letters.back().id;
}

Result<std::vector<DeadLetter>> InMemoryTicketStore::dead_letters(const DeadLetterQuery& query) {
  const DeadLetterShelf& shelf = *dead_letters_;
  std::lock_guard<std::mutex> lock(shelf.mutex);
  std::vector<DeadLetter> out;
  for (auto it = shelf.letters.rbegin(); it != shelf.letters.rend() && out.size() < query.limit; ++it) {
    if (query.before_id && it->id >= *query.before_id) continue;
    out.push_back(*it);
  }
  return out;
}

Result<bool> InMemoryTicketStore::erase_dead_letter(std::int64_t id) {
  DeadLetterShelf& shelf = *dead_letters_;
  std::lock_guard<std::mutex> lock(shelf.mutex);
  auto it = std::find_if(shelf.letters.begin(), shelf.letters.end(),
                         [id](const DeadLetter& letter) { return letter.id == id; });
  if (it == shelf.letters.end()) return false;
  shelf.bytes -= it->body.size();
  shelf.letters.erase(it);
  return true;
}

void InMemoryTicketStore::set_dead_letter_limits(DeadLetterLimits limits) {
  DeadLetterShelf& shelf = *dead_letters_;
  std::lock_guard<std::mutex> lock(shelf.mutex);
  shelf.limits = limits;
  shelf.prune();
}

DeadLetterLimits InMemoryTicketStore::dead_letter_limits() const {
  const DeadLetterShelf& shelf = *dead_letters_;
  std::lock_guard<std::mutex> lock(shelf.mutex);
  return shelf.limits;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
