// InMemoryTicketStore: every unit of work runs under one mutex and writes in place. With exact
// rollback a unit keeps an undo log and replays it backwards when it fails: a whole copy of each
// ticket fetched with `ticket()`, the head (everything but the timeline) of each fetched with
// `edit()` plus the previous value (or absence) of each message it declared, inserted and erased
// records, message index entries and event keys. The copies go into buffers kept from unit to
// unit, so that after warm-up saving them allocates nothing.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tickets/rules.hpp"
#include "wagroups/tickets.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

namespace {

std::uint64_t hash_text(std::string_view text) noexcept { return std::hash<std::string_view>{}(text); }

/// A set of 64-bit hashes (open addressing): which message ids a timeline may hold. A unit that
/// declares a message must save its previous value or its absence; without this set, proving
/// absence would cost a scan of the whole timeline. It is kept a superset of the timeline's ids
/// (declared ids are added before the change, none removed), and rebuilt from the timeline when a
/// unit wrote the timeline without declaring each message.
class HashSet64 {
 public:
  bool valid() const noexcept { return valid_; }
  void invalidate() noexcept { valid_ = false; }

  void rebuild(const std::vector<TimelineMessage>& timeline) {
    std::size_t capacity = 16;
    while (capacity < timeline.size() * 2 + 2) capacity *= 2;
    slots_.assign(capacity, 0);
    mask_ = capacity - 1;
    size_ = 0;
    valid_ = true;
    for (const auto& m : timeline) insert(hash_text(m.message_id));
  }

  bool contains(std::uint64_t h) const noexcept {
    h = h ? h : 1;
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      if (slots_[i] == 0) return false;
      if (slots_[i] == h) return true;
    }
  }

  void insert(std::uint64_t h) {
    h = h ? h : 1;  // 0 marks an empty slot
    if ((size_ + 1) * 2 > slots_.size()) grow();
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      if (slots_[i] == h) return;
      if (slots_[i] == 0) {
        slots_[i] = h;
        ++size_;
        return;
      }
    }
  }

 private:
  void grow() {
    std::vector<std::uint64_t> old = std::move(slots_);
    slots_.assign(old.size() * 2, 0);
    mask_ = slots_.size() - 1;
    for (std::uint64_t h : old) {
      if (h == 0) continue;
      std::size_t i = h & mask_;
      while (slots_[i] != 0) i = (i + 1) & mask_;
      slots_[i] = h;
    }
  }

  std::vector<std::uint64_t> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  bool valid_ = false;
};

/// What the undo log holds for a ticket within the current unit.
enum class Saved : std::uint8_t {
  head,   ///< fetched with `edit`: the head, plus each declared message
  whole,  ///< fetched with `ticket`, inserted, or `changing_timeline`: nothing more to save
};

struct Record {
  Ticket ticket;
  std::int64_t version = 0;
  std::uint64_t unit = 0;  // the last unit that fetched or inserted it
  Saved saved = Saved::whole;
  // What the group / request indexes hold for this record, so that commit re-indexes only when a
  // unit changed the ticket's group_id / request_id.
  std::optional<std::string> indexed_group;
  std::optional<std::string> indexed_request;
  // The keys under which the deadline indexes hold it (last_activity_at while open, resolved_at
  // while resolved), likewise brought in line at commit.
  std::optional<std::int64_t> indexed_open;
  std::optional<std::int64_t> indexed_resolved;
  HashSet64 message_ids;  // exact rollback only
};

using RecordMap = std::unordered_map<std::string, Record>;
// Records do not move in an unordered_map (nor when extracted and put back), so the indexes
// point at them.
using DeadlineIndex = std::set<std::pair<std::int64_t, Record*>>;

/// Where a FlatStringTable keeps the text of an entry.
struct TextRef {
  std::uint32_t chunk = 0;  // absolute chunk number + 1
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
};

/// An open-addressing hash table from strings to a 32-bit value, for the two tables that grow
/// with every event (event keys and message ids). The strings live in large append-only chunks,
/// so an entry costs no allocation of its own and a lookup touches one slot (a node-based
/// std::unordered_set<std::string> costs two allocations an entry and several cache misses a
/// lookup, which dominated the aggregator's cost). Erasing leaves a tombstone; chunks whose
/// entries were all erased in insertion order (event keys past retention) can be released.
class FlatStringTable {
 public:
  /// The value for `key`, or null.
  const std::uint32_t* find(std::string_view key) const {
    if (slots_.empty()) return nullptr;
    const std::uint64_t h = hash_text(key);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.ref.chunk == kEmpty) return nullptr;
      if (s.ref.chunk != kTombstone && s.hash == h && text(s.ref) == key) return &s.value;
    }
  }

  /// Inserts `key` -> `value` or overwrites; returns the previous value when there was one. A new
  /// entry's text is at `*stored` afterwards (when given).
  std::optional<std::uint32_t> assign(std::string_view key, std::uint32_t value, TextRef* stored = nullptr) {
    if ((used_ + 1) * 4 > slots_.size() * 3) grow();
    const std::uint64_t h = hash_text(key);
    std::size_t free_slot = slots_.size();
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.ref.chunk == kEmpty) {
        if (free_slot == slots_.size()) {
          free_slot = i;
          ++used_;
        }
        break;
      }
      if (s.ref.chunk == kTombstone) {
        if (free_slot == slots_.size()) free_slot = i;
        continue;
      }
      if (s.hash == h && text(s.ref) == key) {
        const std::uint32_t previous = s.value;
        s.value = value;
        return previous;
      }
    }
    Slot& s = slots_[free_slot];
    s.ref = store(key);
    s.hash = h;
    s.value = value;
    ++live_;
    if (stored) *stored = s.ref;
    return std::nullopt;
  }

  void erase(std::string_view key) {
    if (slots_.empty()) return;
    const std::uint64_t h = hash_text(key);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.ref.chunk == kEmpty) return;
      if (s.ref.chunk != kTombstone && s.hash == h && text(s.ref) == key) {
        s.ref.chunk = kTombstone;
        --live_;
        return;
      }
    }
  }

  std::string_view text(TextRef ref) const noexcept {
    return std::string_view(chunks_[ref.chunk - 1 - released_].data() + ref.offset, ref.length);
  }

  /// Frees the chunks before chunk `ref.chunk` (all but the last when `ref` is null): the caller
  /// has erased every entry whose text they hold.
  void release_chunks_before(const TextRef* ref) {
    while (chunks_.size() > 1 && (!ref || released_ + 1 < ref->chunk)) {
      chunks_.pop_front();
      ++released_;
    }
  }

  std::size_t size() const noexcept { return live_; }

 private:
  static constexpr std::uint32_t kEmpty = 0;
  static constexpr std::uint32_t kTombstone = 0xFFFFFFFFu;
  static constexpr std::size_t kChunkBytes = std::size_t(1) << 20;

  struct Slot {
    std::uint64_t hash = 0;
    TextRef ref;
    std::uint32_t value = 0;
  };

  TextRef store(std::string_view key) {
    if (chunks_.empty() || chunks_.back().capacity() - chunks_.back().size() < key.size()) {
      chunks_.emplace_back();
      chunks_.back().reserve(std::max(kChunkBytes, key.size()));  // never reallocated: offsets stay valid
    }
    std::string& chunk = chunks_.back();
    TextRef ref;
    ref.chunk = static_cast<std::uint32_t>(released_ + chunks_.size());
    ref.offset = static_cast<std::uint32_t>(chunk.size());
    ref.length = static_cast<std::uint32_t>(key.size());
    chunk.append(key.data(), key.size());
    return ref;
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    // Double when mostly live; rehash in place when tombstones took the room.
    const std::size_t capacity = old.empty() ? 64 : live_ * 2 >= old.size() ? old.size() * 2 : old.size();
    slots_.assign(capacity, Slot{});
    mask_ = slots_.size() - 1;
    used_ = live_;
    for (const Slot& s : old) {
      if (s.ref.chunk == kEmpty || s.ref.chunk == kTombstone) continue;
      std::size_t i = s.hash & mask_;
      while (slots_[i].ref.chunk != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::deque<std::string> chunks_;
  std::size_t released_ = 0;  // chunks freed from the front
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

std::int64_t seconds_of(std::chrono::system_clock::time_point tp) {
  return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
}

/// Buffers reused from unit to unit: `take()` hands out the next one (copy-assigning into it
/// reuses its allocations), `reset()` makes them all available again and drops what is large.
/// Enough are kept for a batch of a few thousand events: dropping all but a few after each unit
/// made every batched event allocate its undo copies anew, so batches ran slower than single
/// events.
template <typename T>
class Pool {
 public:
  T& take() {
    if (used_ == items_.size()) items_.emplace_back();
    return items_[used_++];
  }
  std::uint32_t last() const noexcept { return static_cast<std::uint32_t>(used_ - 1); }
  T& operator[](std::uint32_t i) noexcept { return items_[i]; }
  template <typename TooBig>
  void reset(TooBig too_big) {
    for (std::size_t i = 0; i < used_; ++i)
      if (too_big(items_[i])) items_[i] = T{};
    if (items_.size() > kKept) items_.resize(kKept);
    used_ = 0;
  }

 private:
  static constexpr std::size_t kKept = 4096;
  std::vector<T> items_;
  std::size_t used_ = 0;
};

// A copy of a long timeline is not kept beyond its unit.
constexpr std::size_t kPooledTimeline = 256;

enum class UndoKind : std::uint8_t { whole, head, timeline, message, insert, erase, index, key };

/// One step of a unit's undo log.
struct UndoEntry {
  UndoKind kind;
  bool present;         // message: it existed before; index: the id was indexed before
  std::uint32_t slot;   // into the buffer pool of its kind (or the unit's erased records)
  std::uint32_t value;  // index: the previous value
  Record* rec;
};

struct KeyStamp {
  std::int64_t at;  // Unix seconds when recorded
  TextRef ref;
};

struct StoreData {
  explicit StoreData(InMemoryStoreOptions o) : options(std::move(o)) {}

  const InMemoryStoreOptions options;
  std::mutex mutex;
  RecordMap tickets;
  // Group and request lookups are verified against the ticket's own field on every read, so an
  // entry left behind by an erased or re-pointed ticket is harmless.
  std::unordered_map<std::string, std::string> by_group;
  std::unordered_map<std::string, std::string> by_request;
  DeadlineIndex open_by_activity;  // open tickets by last_activity_at
  DeadlineIndex resolved_by_time;  // resolved tickets by resolved_at
  FlatStringTable by_message;      // message id -> index into ticket_names
  FlatStringTable keys;
  std::deque<KeyStamp> key_times;  // the keys in the order recorded (retention, and undo)
  // Ticket ids interned for the message index (many messages, few tickets).
  std::vector<std::string> ticket_names;
  std::unordered_map<std::string, std::uint32_t> ticket_numbers;
  std::uint64_t units = 0;
  // Undo buffers (exact rollback).
  Pool<Ticket> ticket_copies;
  Pool<std::vector<TimelineMessage>> timeline_copies;
  Pool<TimelineMessage> message_copies;
  Pool<std::string> texts;
  std::vector<UndoEntry> undo_log;

  std::uint32_t intern(const std::string& ticket_id) {
    auto [it, inserted] = ticket_numbers.try_emplace(ticket_id, static_cast<std::uint32_t>(ticket_names.size()));
    if (inserted) ticket_names.push_back(ticket_id);
    return it->second;
  }

  /// `*found` (when given) is the ticket's map entry: the caller usually fetches it next.
  std::optional<std::string> lookup(const std::unordered_map<std::string, std::string>& index, const std::string& value,
                                    std::optional<std::string> Ticket::*field, RecordMap::iterator* found = nullptr) {
    auto it = index.find(value);
    if (it == index.end()) return std::nullopt;
    auto rec = tickets.find(it->second);
    if (rec == tickets.end()) return std::nullopt;
    const auto& current = rec->second.ticket.*field;
    if (!current || *current != value) return std::nullopt;
    if (found) *found = rec;
    return it->second;
  }

  std::int64_t now() const { return seconds_of(options.clock ? options.clock() : std::chrono::system_clock::now()); }

  /// Forgets the event keys recorded more than the retention before `now` (oldest first).
  void prune_keys(std::int64_t now) {
    const std::int64_t retention = options.event_key_retention.count();
    if (retention <= 0) {
      key_times.clear();  // kept only for a unit's undo
      return;
    }
    bool pruned = false;
    while (!key_times.empty() && now - key_times.front().at >= retention) {
      keys.erase(keys.text(key_times.front().ref));
      key_times.pop_front();
      pruned = true;
    }
    if (pruned) keys.release_chunks_before(key_times.empty() ? nullptr : &key_times.front().ref);
  }

  static void move_key(DeadlineIndex& index, std::optional<std::int64_t>& indexed, std::optional<std::int64_t> want,
                       Record* rec) {
    if (indexed == want) return;
    if (indexed && want) {
      auto node = index.extract({*indexed, rec});  // re-keyed in place: no allocation
      if (node) {
        node.value().first = *want;
        index.insert(std::move(node));
      } else {
        index.emplace(*want, rec);
      }
    } else if (indexed) {
      index.erase({*indexed, rec});
    } else {
      index.emplace(*want, rec);
    }
    indexed = want;
  }

  /// Brings the deadline indexes in line with the record's ticket.
  void reindex_deadlines(Record& rec) {
    const Ticket& t = rec.ticket;
    move_key(open_by_activity, rec.indexed_open,
             t.state == TicketState::open ? std::optional<std::int64_t>(t.last_activity_at) : std::nullopt, &rec);
    move_key(resolved_by_time, rec.indexed_resolved, t.state == TicketState::resolved ? t.resolved_at : std::nullopt,
             &rec);
  }

  /// Takes the record out of the deadline indexes, keeping what they held in it (for `restore`).
  void unindex_deadlines(Record& rec) {
    if (rec.indexed_open) open_by_activity.erase({*rec.indexed_open, &rec});
    if (rec.indexed_resolved) resolved_by_time.erase({*rec.indexed_resolved, &rec});
  }
  void restore_deadlines(Record& rec) {
    if (rec.indexed_open) open_by_activity.emplace(*rec.indexed_open, &rec);
    if (rec.indexed_resolved) resolved_by_time.emplace(*rec.indexed_resolved, &rec);
  }

  void reset_buffers() {
    ticket_copies.reset([](const Ticket& t) { return t.timeline.capacity() > kPooledTimeline; });
    timeline_copies.reset([](const std::vector<TimelineMessage>& t) { return t.capacity() > kPooledTimeline; });
    message_copies.reset([](const TimelineMessage&) { return false; });
    texts.reset([](const std::string&) { return false; });
  }

  /// The records `query` selects, sorted by ticket id, at most `query.limit`.
  std::vector<Record*> select(const TicketQuery& query) {
    std::vector<Record*> matches;
    auto consider = [&](Record* rec) {
      const Ticket& t = rec->ticket;
      if (query.state && t.state != *query.state) return;
      if (query.assignee && t.assignee != query.assignee) return;
      if (query.group_id && t.group_id != query.group_id) return;
      if (query.last_activity_at_most && t.last_activity_at > *query.last_activity_at_most) return;
      if (query.resolved_at_most && (!t.resolved_at || *t.resolved_at > *query.resolved_at_most)) return;
      matches.push_back(rec);
    };
    // A deadline with its state reads the index up to the deadline; anything else scans.
    auto walk = [&](DeadlineIndex& index, std::int64_t most) {
      for (auto it = index.begin(); it != index.end() && it->first <= most; ++it) consider(it->second);
    };
    if (query.state == TicketState::open && query.last_activity_at_most) {
      walk(open_by_activity, *query.last_activity_at_most);
    } else if (query.state == TicketState::resolved && query.resolved_at_most) {
      walk(resolved_by_time, *query.resolved_at_most);
    } else {
      for (auto& [id, rec] : tickets) consider(&rec);
    }
    const std::size_t n = std::min(query.limit, matches.size());
    auto by_id = [](const Record* a, const Record* b) { return a->ticket.ticket_id < b->ticket.ticket_id; };
    std::partial_sort(matches.begin(), matches.begin() + static_cast<std::ptrdiff_t>(n), matches.end(), by_id);
    matches.resize(n);
    return matches;
  }
};

/// `into = from`, reusing the nodes (and their keys' buffers) of `into`'s delivery map: a status
/// event saves its message, and copying the map's keys anew was most of that cost.
void copy_message(TimelineMessage& into, TimelineMessage& from) {
  std::map<std::string, DeliveryStatus> spare = std::move(into.delivery);
  std::map<std::string, DeliveryStatus> delivery = std::move(from.delivery);
  into = from;  // everything else (both maps are empty now)
  from.delivery = std::move(delivery);
  for (const auto& [key, status] : from.delivery) {
    if (spare.empty()) {
      into.delivery.emplace_hint(into.delivery.end(), key, status);
      continue;
    }
    auto node = spare.extract(spare.begin());
    node.key() = key;
    node.mapped() = status;
    into.delivery.insert(into.delivery.end(), std::move(node));
  }
}

/// Inserts `msg` at its (timestamp, message_id) position.
void insert_in_order(std::vector<TimelineMessage>& timeline, TimelineMessage&& msg) {
  auto pos =
      std::lower_bound(timeline.begin(), timeline.end(), msg, [](const TimelineMessage& a, const TimelineMessage& b) {
        return a.timestamp < b.timestamp || (a.timestamp == b.timestamp && a.message_id < b.message_id);
      });
  timeline.insert(pos, std::move(msg));
}

class Unit final : public TicketTransaction {
 public:
  using State = StoreData;

  explicit Unit(State& state)
      : s_(state), id_(++state.units), exact_(state.options.exact_rollback), undo_(state.undo_log) {}

  Result<Ticket*> ticket(const std::string& ticket_id) override {
    auto it = locate(ticket_id);
    if (it == s_.tickets.end()) return static_cast<Ticket*>(nullptr);
    touch_whole(it->second);
    return &it->second.ticket;
  }

  Result<Ticket*> edit(const std::string& ticket_id) override {
    auto it = locate(ticket_id);
    if (it == s_.tickets.end()) return static_cast<Ticket*>(nullptr);
    Record& rec = it->second;
    if (rec.unit != id_) {
      rec.unit = id_;
      rec.saved = Saved::head;
      touched_.push_back(&rec);
      if (exact_) save_head(rec);
    }
    return &rec.ticket;
  }

  Result<void> changing_message(const std::string& ticket_id, const std::string& message_id) override {
    if (!exact_) return {};
    Record* rec = declared(ticket_id);
    if (!rec) return {};
    HashSet64& ids = rec->message_ids;
    if (!ids.valid()) ids.rebuild(rec->ticket.timeline);
    const std::uint64_t h = hash_text(message_id);
    TimelineMessage* before = nullptr;
    if (ids.contains(h)) {
      // Present (or a hash collision): the recent messages are the ones that change.
      auto& tl = rec->ticket.timeline;
      for (std::size_t i = tl.size(); i-- > 0;) {
        if (tl[i].message_id == message_id) {
          before = &tl[i];
          break;
        }
      }
    }
    UndoEntry u{UndoKind::message, before != nullptr, 0, 0, rec};
    if (before) {
      copy_message(s_.message_copies.take(), *before);
    } else {
      s_.message_copies.take().message_id = message_id;
    }
    u.slot = s_.message_copies.last();
    undo_.push_back(u);
    ids.insert(h);
    return {};
  }

  Result<void> changing_timeline(const std::string& ticket_id) override {
    if (!exact_) return {};
    Record* rec = declared(ticket_id);
    if (!rec) return {};
    save_timeline(*rec);
    return {};
  }

  Result<Ticket*> insert(Ticket ticket) override {
    std::string id = ticket.ticket_id;
    auto [it, inserted] = s_.tickets.try_emplace(id);
    last_found_ = s_.tickets.end();  // a rehash invalidates iterators
    if (!inserted) {
      Error e;
      e.code = ErrorCode::conflict;
      e.field = "ticket_id";
      e.message = "a ticket with this id exists already";
      return e;
    }
    Record& rec = it->second;
    rec.ticket = std::move(ticket);
    rec.unit = id_;
    rec.saved = Saved::whole;  // removed whole on rollback
    touched_.push_back(&rec);
    if (exact_) {
      s_.texts.take() = id;
      undo_.push_back(UndoEntry{UndoKind::insert, false, s_.texts.last(), 0, &rec});
    }
    return &rec.ticket;
  }

  Result<void> erase(const std::string& ticket_id) override {
    auto it = s_.tickets.find(ticket_id);
    if (it == s_.tickets.end()) return {};
    Record* rec = &it->second;
    touched_.erase_value(rec);
    if (last_declared_ == rec) last_declared_ = nullptr;
    last_found_ = s_.tickets.end();
    s_.unindex_deadlines(*rec);
    auto node = s_.tickets.extract(it);
    if (exact_) {
      erased_.push_back(std::move(node));
      undo_.push_back(UndoEntry{UndoKind::erase, false, static_cast<std::uint32_t>(erased_.size() - 1), 0, rec});
    }
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
    if (exact_) {
      s_.texts.take() = message_id;
      undo_.push_back(UndoEntry{UndoKind::index, previous.has_value(), s_.texts.last(), previous.value_or(0), nullptr});
    }
    return {};
  }

  Result<bool> applied(const std::string& event_key) override { return s_.keys.find(event_key) != nullptr; }

  Result<void> record(const std::string& event_key) override {
    TextRef ref;
    if (s_.keys.assign(event_key, 0, &ref)) return {};  // known already
    if (!now_) now_ = s_.options.event_key_retention.count() > 0 ? s_.now() : 0;
    s_.key_times.push_back(KeyStamp{*now_, ref});
    if (exact_) undo_.push_back(UndoEntry{UndoKind::key, false, 0, 0, nullptr});
    return {};
  }

  void commit() {
    for (Record* rec : touched_) {
      ++rec->version;
      reindex(*rec, rec->ticket.group_id, rec->indexed_group, s_.by_group);
      reindex(*rec, rec->ticket.request_id, rec->indexed_request, s_.by_request);
      s_.reindex_deadlines(*rec);
    }
    if (now_) s_.prune_keys(*now_);
    finish();
  }

  void rollback() {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) undo(*it);
    finish();
  }

 private:
  void finish() {
    undo_.clear();
    if (undo_.capacity() > 65536) undo_.shrink_to_fit();  // after a very large unit
    erased_.clear();
    touched_.clear();
    if (exact_) s_.reset_buffers();
  }

  void undo(const UndoEntry& u) {
    switch (u.kind) {
      case UndoKind::whole: u.rec->ticket = std::move(s_.ticket_copies[u.slot]); break;
      case UndoKind::head: {
        std::vector<TimelineMessage> timeline = std::move(u.rec->ticket.timeline);
        u.rec->ticket = std::move(s_.ticket_copies[u.slot]);
        u.rec->ticket.timeline = std::move(timeline);
        break;
      }
      case UndoKind::timeline: u.rec->ticket.timeline = std::move(s_.timeline_copies[u.slot]); break;
      case UndoKind::message: {
        TimelineMessage& before = s_.message_copies[u.slot];
        auto& tl = u.rec->ticket.timeline;
        for (std::size_t i = tl.size(); i-- > 0;) {
          if (tl[i].message_id == before.message_id) {
            tl.erase(tl.begin() + static_cast<std::ptrdiff_t>(i));
            break;
          }
        }
        if (u.present) insert_in_order(tl, std::move(before));
        break;
      }
      case UndoKind::insert: s_.tickets.erase(s_.texts[u.slot]); break;
      case UndoKind::erase: {
        auto result = s_.tickets.insert(std::move(erased_[u.slot]));
        s_.restore_deadlines(result.position->second);
        break;
      }
      case UndoKind::index:
        if (u.present) {
          s_.by_message.assign(s_.texts[u.slot], u.value);
        } else {
          s_.by_message.erase(s_.texts[u.slot]);
        }
        break;
      case UndoKind::key:
        s_.keys.erase(s_.keys.text(s_.key_times.back().ref));
        s_.key_times.pop_back();
        break;
    }
  }

  /// The record a declaration names when it needs saving: fetched with `edit` in this unit and
  /// not saved whole since.
  Record* declared(const std::string& ticket_id) {
    if (!last_declared_ || last_declared_->unit != id_ || last_declared_->ticket.ticket_id != ticket_id) {
      auto it = s_.tickets.find(ticket_id);
      if (it == s_.tickets.end()) return nullptr;
      last_declared_ = &it->second;
    }
    Record* rec = last_declared_;
    if (rec->unit != id_ || rec->saved != Saved::head) return nullptr;
    return rec;
  }

  void save_head(Record& rec) {
    // Copy everything but the timeline, without copying the timeline.
    std::vector<TimelineMessage> timeline = std::move(rec.ticket.timeline);
    s_.ticket_copies.take() = rec.ticket;
    rec.ticket.timeline = std::move(timeline);
    undo_.push_back(UndoEntry{UndoKind::head, false, s_.ticket_copies.last(), 0, &rec});
  }

  /// After the head was saved: the timeline as it is now, once.
  void save_timeline(Record& rec) {
    rec.saved = Saved::whole;
    rec.message_ids.invalidate();
    s_.timeline_copies.take() = rec.ticket.timeline;
    undo_.push_back(UndoEntry{UndoKind::timeline, false, s_.timeline_copies.last(), 0, &rec});
  }

  void touch_whole(Record& rec) {
    if (rec.unit != id_) {
      rec.unit = id_;
      rec.saved = Saved::whole;
      touched_.push_back(&rec);
      if (!exact_) return;
      rec.message_ids.invalidate();  // the caller may write the timeline without declaring
      s_.ticket_copies.take() = rec.ticket;
      undo_.push_back(UndoEntry{UndoKind::whole, false, s_.ticket_copies.last(), 0, &rec});
      return;
    }
    if (rec.saved == Saved::head) {
      rec.saved = Saved::whole;
      if (exact_) save_timeline(rec);
    }
  }

  /// The map entry of `ticket_id`: the one a group / request lookup just found, without hashing
  /// the id again (the aggregator fetches what it looked up), else a search.
  RecordMap::iterator locate(const std::string& ticket_id) {
    if (last_found_ != s_.tickets.end() && last_found_->first == ticket_id) return last_found_;
    return s_.tickets.find(ticket_id);
  }

  std::optional<std::string> find(const std::unordered_map<std::string, std::string>& index,
                                   const std::string& value, std::optional<std::string> Ticket::*field) {
    if (auto id = s_.lookup(index, value, field, &last_found_)) return id;
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
  const bool exact_;
  tickets_detail::SmallVector<Record*, 4> touched_;
  std::vector<UndoEntry>& undo_;  // the store's, kept from unit to unit (no allocation per unit)
  std::vector<RecordMap::node_type> erased_;
  Record* last_declared_ = nullptr;
  RecordMap::iterator last_found_ = s_.tickets.end();  // end() after an erase
  std::optional<std::int64_t> now_;                    // the clock, read once when the unit records a key
};

InMemoryStoreOptions options_with_rollback(bool exact_rollback) {
  InMemoryStoreOptions options;
  options.exact_rollback = exact_rollback;
  return options;
}

}  // namespace

struct InMemoryTicketStore::State : StoreData {
  using StoreData::StoreData;
};

InMemoryTicketStore::InMemoryTicketStore() : InMemoryTicketStore(InMemoryStoreOptions{}) {}

InMemoryTicketStore::InMemoryTicketStore(InMemoryStoreOptions options)
    : state_(std::make_unique<State>(std::move(options))) {}

InMemoryTicketStore::InMemoryTicketStore(bool copy_on_write)
    : InMemoryTicketStore(options_with_rollback(copy_on_write)) {}

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
  // Without exact rollback nothing can be undone: a failed unit keeps its writes, and the indexes
  // are brought in line with them.
  if (result.ok() || !state_->options.exact_rollback) {
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
  std::vector<StoredTicket> out;
  for (const Record* rec : state_->select(query)) out.push_back(StoredTicket{rec->ticket, rec->version});
  return out;
}

Result<std::vector<std::string>> InMemoryTicketStore::list_ids(const TicketQuery& query) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::vector<std::string> out;
  for (const Record* rec : state_->select(query)) out.push_back(rec->ticket.ticket_id);
  return out;
}

std::size_t InMemoryTicketStore::event_key_count() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->keys.size();
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
