// SqliteTicketStore: tickets in one SQLite database in WAL mode, schema v2: a header row per ticket
// (indexed columns and the head as JSON), one row per timeline message, member and invite.
//
// One connection per store, guarded by a recursive mutex (recursive only so that a `work` which
// wrongly calls back into the store gets an error instead of a deadlock). A unit of work is one
// `BEGIN IMMEDIATE` transaction: SQLite's write lock, so units are serialized across processes too,
// and everything a unit read stays valid until it commits. Tickets are loaded once per unit (or
// taken from the connection's cache of decoded tickets, see TicketCache). At commit a unit writes
// only the rows that differ from what it loaded: for a ticket fetched with `edit`, the header, the
// member and invite rows that differ from a snapshot of the head taken at fetch (it is small), and
// the messages the unit declared; for one fetched with `ticket`, the rows that differ from a
// snapshot of the whole ticket. A ticket only read costs no write and keeps its version.

#include "wagroups/sqlite/ticket_store.hpp"

#include <sqlite3.h>

#ifndef _WIN32
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

// The ticket format in parts (head, member, invite, message), exported by the core library for
// this store; the whole-ticket form (to_json) stays the public one.
#include "../tickets/ticket_json.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sqlite_detail {
struct Connection;
Result<void> split_v1_rows(Connection& connection);
}  // namespace sqlite_detail
namespace {

// ---------------------------------------------------------------------------------------------
// Schema history, oldest first. A new schema version is one more entry at the end; a released
// entry is never edited (databases in the field already ran it). `open` runs every pending entry,
// SQL then its C++ step, in one transaction together with their schema_migrations rows and the
// user_version bump: a failure anywhere leaves the database as it was.

struct Migration {
  const char* description;
  const char* sql;
  Result<void> (*step)(sqlite_detail::Connection&);
};

constexpr Migration builtin_migrations[] = {
    {"tickets, message index, event keys", R"sql(
CREATE TABLE schema_migrations (
  version INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at INTEGER NOT NULL
);
CREATE TABLE tickets (
  ticket_id TEXT PRIMARY KEY NOT NULL,
  group_id TEXT,
  request_id TEXT,
  state TEXT NOT NULL,
  assignee TEXT,
  last_activity_at INTEGER NOT NULL,
  version INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX tickets_group_id ON tickets (group_id);
CREATE INDEX tickets_request_id ON tickets (request_id);
CREATE INDEX tickets_state ON tickets (state);
CREATE INDEX tickets_assignee ON tickets (assignee);
CREATE TABLE ticket_messages (
  message_id TEXT PRIMARY KEY NOT NULL,
  ticket_id TEXT NOT NULL
);
CREATE INDEX ticket_messages_ticket_id ON ticket_messages (ticket_id);
CREATE TABLE event_keys (
  key TEXT PRIMARY KEY NOT NULL,
  applied_at INTEGER NOT NULL
);
)sql",
     nullptr},
    // v2: `tickets.body` holds the head only (ticket_from_json reads it as a ticket without
    // members, invites or timeline); those live one row each, stamped with the ticket version
    // that last wrote them. A v1 row the migration cannot decode keeps its whole body (a body
    // with those arrays is read whole), so it stays visible as unreadable instead of being lost.
    // Every event writes a message row, a message index row and an event key, so those tables
    // have as few b-trees as their reads need: the timeline is ordered in memory when loaded
    // (no order index), and the message index is keyed by message id alone (WITHOUT ROWID).
    // Event keys become an append-only log with no index at all (see KeyIndex): ids never reused
    // (AUTOINCREMENT), so a connection catches up on others' keys by id, and pruning, oldest
    // first, removes a prefix.
    {"ticket rows: header, timeline, members, invites; deadline indexes", R"sql(
ALTER TABLE tickets ADD COLUMN resolved_at INTEGER;
CREATE INDEX tickets_last_activity_at ON tickets (last_activity_at);
CREATE INDEX tickets_resolved_at ON tickets (resolved_at);
CREATE TABLE ticket_timeline (
  ticket_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  version INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (ticket_id, message_id)
) WITHOUT ROWID;
CREATE TABLE ticket_members (
  ticket_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  version INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (ticket_id, position)
) WITHOUT ROWID;
CREATE TABLE ticket_invites (
  ticket_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  version INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (ticket_id, position)
) WITHOUT ROWID;
CREATE TABLE ticket_messages_v2 (
  message_id TEXT PRIMARY KEY NOT NULL,
  ticket_id TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO ticket_messages_v2 (message_id, ticket_id) SELECT message_id, ticket_id FROM ticket_messages;
DROP TABLE ticket_messages;
ALTER TABLE ticket_messages_v2 RENAME TO ticket_messages;
CREATE INDEX ticket_messages_ticket_id ON ticket_messages (ticket_id);
CREATE TABLE event_keys_v2 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL,
  applied_at INTEGER NOT NULL
);
INSERT INTO event_keys_v2 (id, key, applied_at) SELECT rowid, key, applied_at FROM event_keys ORDER BY rowid;
DROP TABLE event_keys;
ALTER TABLE event_keys_v2 RENAME TO event_keys;
)sql",
     sqlite_detail::split_v1_rows},
};

constexpr int builtin_schema_version = static_cast<int>(sizeof builtin_migrations / sizeof builtin_migrations[0]);

// ---------------------------------------------------------------------------------------------
// Errors

constexpr const char* error_prefix = "SqliteTicketStore: ";

Error storage_error(std::string message) {
  Error error;
  error.code = ErrorCode::storage;
  error.message = error_prefix + std::move(message);
  error.request_may_have_been_sent = false;
  return error;
}

/// What an operation was doing, for its error message: up to three pieces ("write a message of
/// ticket \"", id, "\""), joined only when an error is reported (statements run by the
/// thousand per unit, errors almost never).
struct Op {
  Op(const char* text) : a(text) {}         // NOLINT: implicit on purpose
  Op(const std::string& text) : a(text) {}  // NOLINT: the string outlives the call it is passed to
  Op(std::string_view first, std::string_view second, std::string_view third = {}) : a(first), b(second), c(third) {}
  std::string str() const {
    std::string out;
    out.reserve(a.size() + b.size() + c.size());
    out.append(a).append(b).append(c);
    return out;
  }
  std::string_view a, b, c;
};

// "<operation>: <SQLite's message> (<result code name>)". SQLite's messages name tables, columns
// and files, never bound values, so no ticket content or secret reaches the error.
Error sqlite_error(sqlite3* db, int rc, const Op& op) {
  std::string text = op.str() + ": ";
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : nullptr;
  const char* generic = sqlite3_errstr(rc);
  if (detail != nullptr && *detail != '\0') {
    text += detail;
    if (generic != nullptr && std::string_view(detail) != generic) {
      text += " (";
      text += generic;
      text += ")";
    }
  } else {
    text += generic != nullptr ? generic : "unknown error";
  }
  text += " [sqlite code " + std::to_string(rc) + "]";
  return storage_error(std::move(text));
}

// ---------------------------------------------------------------------------------------------
// Statements

/// One use of a cached prepared statement: binds, steps, reads columns, and resets it when done so
/// that the next use starts clean (and no read transaction is left open by a half-read SELECT).
class Query {
 public:
  Query(sqlite3* db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}
  Query(Query&& other) noexcept
      : db_(other.db_), statement_(std::exchange(other.statement_, nullptr)), bind_rc_(other.bind_rc_) {}
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  Query& operator=(Query&&) = delete;
  ~Query() {
    if (statement_ == nullptr) return;
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }

  Query& bind(int index, std::string_view text) {
    // SQLITE_TRANSIENT: SQLite copies, so temporaries may be bound safely.
    note(sqlite3_bind_text64(statement_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    return *this;
  }
  Query& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  /// SQLITE_STATIC: no copy; `text` must stay alive and unchanged until the statement is done.
  Query& bind_static(int index, std::string_view text) {
    note(sqlite3_bind_text64(statement_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8));
    return *this;
  }
  Query& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Query& bind(int index, const std::optional<std::string>& text) {
    if (text) return bind(index, std::string_view(*text));
    note(sqlite3_bind_null(statement_, index));
    return *this;
  }
  Query& bind(int index, std::int64_t value) {
    note(sqlite3_bind_int64(statement_, index, static_cast<sqlite3_int64>(value)));
    return *this;
  }

  /// SQLITE_ROW, SQLITE_DONE, or an error code (a failed bind is reported here).
  int step() {
    if (bind_rc_ != SQLITE_OK) return bind_rc_;
    return sqlite3_step(statement_);
  }
  /// Runs a statement that returns no rows.
  Result<void> run(const Op& operation) {
    const int rc = step();
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
    return sqlite_error(db_, rc, operation);
  }

  std::int64_t int64(int column) const { return sqlite3_column_int64(statement_, column); }
  bool is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
  std::string_view text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
    const int size = sqlite3_column_bytes(statement_, column);
    return data == nullptr ? std::string_view() : std::string_view(data, static_cast<std::size_t>(size));
  }

 private:
  void note(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }
  sqlite3* db_;
  sqlite3_stmt* statement_;
  int bind_rc_ = SQLITE_OK;
};

// The statements, as constants: their addresses are not their identity (the cache is by text).
constexpr const char* sql_select_ticket = "SELECT version, body FROM tickets WHERE ticket_id = ?1";
constexpr const char* sql_ticket_exists = "SELECT 1 FROM tickets WHERE ticket_id = ?1";
constexpr const char* sql_insert_ticket =
    "INSERT INTO tickets (ticket_id, group_id, request_id, state, assignee, last_activity_at, resolved_at, version, "
    "body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr const char* sql_update_ticket =
    "UPDATE tickets SET group_id = ?2, request_id = ?3, state = ?4, assignee = ?5, last_activity_at = ?6, "
    "resolved_at = ?7, version = ?8, body = ?9 WHERE ticket_id = ?1";
constexpr const char* sql_delete_ticket = "DELETE FROM tickets WHERE ticket_id = ?1";
constexpr const char* sql_delete_ticket_messages = "DELETE FROM ticket_messages WHERE ticket_id = ?1";
constexpr const char* sql_select_members = "SELECT body FROM ticket_members WHERE ticket_id = ?1 ORDER BY position";
constexpr const char* sql_select_invites = "SELECT body FROM ticket_invites WHERE ticket_id = ?1 ORDER BY position";
constexpr const char* sql_count_timeline = "SELECT count(*) FROM ticket_timeline WHERE ticket_id = ?1";
// In key order (message id): `decode` puts them in timeline order, (timestamp, message_id).
constexpr const char* sql_select_timeline = "SELECT body FROM ticket_timeline WHERE ticket_id = ?1";
constexpr const char* sql_upsert_member =
    "INSERT INTO ticket_members (ticket_id, position, version, body) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (ticket_id, position) DO UPDATE SET version = excluded.version, body = excluded.body";
constexpr const char* sql_upsert_invite =
    "INSERT INTO ticket_invites (ticket_id, position, version, body) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (ticket_id, position) DO UPDATE SET version = excluded.version, body = excluded.body";
constexpr const char* sql_upsert_timeline =
    "INSERT INTO ticket_timeline (ticket_id, message_id, timestamp, version, body) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (ticket_id, message_id) DO UPDATE SET timestamp = excluded.timestamp, version = excluded.version, "
    "body = excluded.body";
// A message whose timestamp did not change: its row only, not the order index.
constexpr const char* sql_update_timeline_body =
    "UPDATE ticket_timeline SET version = ?3, body = ?4 WHERE ticket_id = ?1 AND message_id = ?2";
constexpr const char* sql_trim_members = "DELETE FROM ticket_members WHERE ticket_id = ?1 AND position >= ?2";
constexpr const char* sql_trim_invites = "DELETE FROM ticket_invites WHERE ticket_id = ?1 AND position >= ?2";
constexpr const char* sql_timeline_row_exists =
    "SELECT 1 FROM ticket_timeline WHERE ticket_id = ?1 AND message_id = ?2";
constexpr const char* sql_delete_message_row = "DELETE FROM ticket_timeline WHERE ticket_id = ?1 AND message_id = ?2";
constexpr const char* sql_delete_members = "DELETE FROM ticket_members WHERE ticket_id = ?1";
constexpr const char* sql_delete_invites = "DELETE FROM ticket_invites WHERE ticket_id = ?1";
constexpr const char* sql_delete_timeline = "DELETE FROM ticket_timeline WHERE ticket_id = ?1";
constexpr const char* sql_tickets_by_group =
    "SELECT ticket_id, request_id IS NOT NULL FROM tickets WHERE group_id = ?1";
constexpr const char* sql_tickets_by_request = "SELECT ticket_id, 1 FROM tickets WHERE request_id = ?1";
// Outside a unit: the same preference as inside (a ticket linked to a create request first).
constexpr const char* sql_first_by_group =
    "SELECT ticket_id FROM tickets WHERE group_id = ?1 ORDER BY request_id IS NULL, ticket_id LIMIT 1";
constexpr const char* sql_first_by_request =
    "SELECT ticket_id FROM tickets WHERE request_id = ?1 ORDER BY ticket_id LIMIT 1";
constexpr const char* sql_message_ticket = "SELECT ticket_id FROM ticket_messages WHERE message_id = ?1";
constexpr const char* sql_upsert_message =
    "INSERT INTO ticket_messages (message_id, ticket_id) VALUES (?1, ?2) "
    "ON CONFLICT (message_id) DO UPDATE SET ticket_id = excluded.ticket_id";
constexpr const char* sql_key_at = "SELECT key FROM event_keys WHERE id = ?1";
constexpr const char* sql_keys_after = "SELECT id, key FROM event_keys WHERE id > ?1 ORDER BY id";
constexpr const char* sql_first_key_id = "SELECT min(id) FROM event_keys";
constexpr const char* sql_insert_key = "INSERT INTO event_keys (key, applied_at) VALUES (?1, ?2)";
// Ids grow by one per inserted key (keys are only ever deleted oldest first), so this keeps the
// newest ?1 keys without counting the table.
constexpr const char* sql_prune_keys = "DELETE FROM event_keys WHERE rowid <= (SELECT max(rowid) FROM event_keys) - ?1";
// By age, a bounded number of the oldest at a time: the oldest ?2 rows by rowid (keys are
// stamped with the store's clock as they are inserted, so rowid order is age order), those
// expired. A clock set back only delays pruning the keys recorded after it.
constexpr const char* sql_prune_old_keys =
    "DELETE FROM event_keys WHERE rowid IN (SELECT rowid FROM event_keys ORDER BY rowid LIMIT ?2) AND applied_at < ?1";
// Dead letters (issue 10), outside the versioned schema on purpose: added by every open when
// missing, so a database keeps its schema version and older builds simply ignore the table.
// AUTOINCREMENT: an id is never reused after pruning, so a listed id always names one letter.
constexpr const char* sql_create_dead_letters =
    "CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL, "
    "error_code TEXT NOT NULL, error_field TEXT NOT NULL, error_limit TEXT NOT NULL, error_message TEXT NOT NULL, "
    "body BLOB NOT NULL)";

// ---------------------------------------------------------------------------------------------
// What a decoded ticket costs in memory (the cache's budget): the objects and their heap blocks,
// roughly as glibc's malloc lays them out (16 bytes of header, strings past the 15 bytes kept
// inline). An estimate, but one that grows with the same things the real footprint does.

constexpr std::size_t kMallocOverhead = 16;

std::size_t heap_of(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 + kMallocOverhead : 0; }
std::size_t heap_of(const std::optional<std::string>& s) { return s ? heap_of(*s) : 0; }
std::size_t heap_of(const PersonKey& p) { return heap_of(p.phone) + heap_of(p.bsuid) + heap_of(p.username); }
std::size_t heap_of(const std::vector<ItemError>& errors) {
  std::size_t n = errors.capacity() == 0 ? 0 : errors.capacity() * sizeof(ItemError) + kMallocOverhead;
  for (const auto& e : errors) n += heap_of(e.title) + heap_of(e.message) + heap_of(e.details) + heap_of(e.href);
  return n;
}

/// A message's heap blocks (its slot in the timeline vector is counted with the head).
std::size_t message_bytes(const TimelineMessage& m) {
  std::size_t n = heap_of(m.message_id) + heap_of(m.sender) + heap_of(m.contact_name) + heap_of(m.agent) +
                  heap_of(m.type) + heap_of(m.text) + heap_of(m.caption) + heap_of(m.media_id) + heap_of(m.reply_to) +
                  heap_of(m.errors);
  // A std::map node: three pointers and a color, the pair, the allocator's header.
  constexpr std::size_t node = 32 + sizeof(std::pair<const std::string, DeliveryStatus>) + kMallocOverhead;
  for (const auto& [who, status] : m.delivery) n += node + heap_of(who);
  return n;
}

/// Everything but the messages' own heap blocks: the Ticket, its strings, members, invites and
/// the timeline vector's capacity.
std::size_t head_bytes(const Ticket& t) {
  std::size_t n = sizeof(Ticket) + heap_of(t.ticket_id) + heap_of(t.group_id) + heap_of(t.request_id) +
                  heap_of(t.phone_number_id) + heap_of(t.subject) + heap_of(t.description) + heap_of(t.assignee) +
                  heap_of(t.invite_link) + heap_of(t.creation_errors);
  if (t.members.capacity() != 0) n += t.members.capacity() * sizeof(Member) + kMallocOverhead;
  for (const auto& m : t.members) n += heap_of(m.person) + heap_of(m.join_request_id) + heap_of(m.contact_name);
  if (t.invites.capacity() != 0) n += t.invites.capacity() * sizeof(Invite) + kMallocOverhead;
  for (const auto& i : t.invites) n += heap_of(i.phone) + heap_of(i.message_id) + heap_of(i.error);
  if (t.timeline.capacity() != 0) n += t.timeline.capacity() * sizeof(TimelineMessage) + kMallocOverhead;
  return n;
}

std::size_t ticket_bytes(const Ticket& t) {
  std::size_t n = head_bytes(t);
  for (const auto& m : t.timeline) n += message_bytes(m);
  return n;
}

/// Whether the timeline can be stored a row per message and read back the same: ordered by
/// (timestamp, message_id), as the aggregator keeps it, with no id twice. A host that builds
/// another order through `ticket()` gets its ticket stored whole in the header row instead.
bool rows_keep_timeline(const std::vector<TimelineMessage>& timeline) {
  for (std::size_t i = 1; i < timeline.size(); ++i) {
    const auto& a = timeline[i - 1];
    const auto& b = timeline[i];
    if (a.timestamp > b.timestamp || (a.timestamp == b.timestamp && !(a.message_id < b.message_id))) return false;
  }
  std::unordered_set<std::string_view> ids;
  ids.reserve(timeline.size());
  for (const auto& m : timeline)
    if (!ids.insert(m.message_id).second) return false;
  return true;
}

/// The ticket without its timeline (a copy that costs the head, not the conversation).
Ticket head_copy(Ticket& t) {
  std::vector<TimelineMessage> timeline = std::move(t.timeline);
  t.timeline.clear();
  Ticket copy = t;
  t.timeline = std::move(timeline);
  return copy;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The connection, its statement cache, and the lock (SqliteTicketStore::Impl; named here so that
// the unit of work below may use it).

namespace sqlite_detail {

/// The event keys in memory: a 64-bit hash of each stored key and its id in `event_keys`. With a
/// key index on disk, every recorded key was an insert into a random page of a b-tree as large
/// as the retention (some 40 % of a batch's time, measured); the log on disk is now append-only
/// and lookups happen here. A hit is only a candidate: the row is read by id and its text
/// compared (a hash collision, or a row pruned since). Entries below the pruned floor are
/// skipped, and dropped when enough of them add up. About 16-32 bytes per key.
class KeyIndex {
 public:
  static std::uint64_t hash(std::string_view key) noexcept {
    const std::uint64_t h = std::hash<std::string_view>{}(key);
    return h == 0 ? 1 : h;  // 0 marks an empty slot
  }

  void add(std::uint64_t h, std::int64_t id) {
    if ((used_ + 1) * 10 > slots_.size() * 7) rebuild(std::max<std::size_t>(1024, slots_.size() * 2));
    place(h, id);
  }

  /// Calls `visit(id)` for every id stored under `h` at or above the floor, until it returns true.
  template <typename Visit>
  bool any_of(std::uint64_t h, Visit&& visit) const {
    if (slots_.empty()) return false;
    for (std::size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& s = slots_[i];
      if (s.hash == 0) return false;
      if (s.hash == h && s.id >= floor_ && visit(s.id)) return true;
    }
  }

  /// Ids below `id` were pruned (they are never reused).
  void raise_floor(std::int64_t id) {
    if (id <= floor_) return;
    dropped_ += static_cast<std::size_t>(std::min<std::int64_t>(id - floor_, static_cast<std::int64_t>(used_)));
    floor_ = id;
    if (dropped_ * 4 > used_) rebuild(slots_.size());
  }

  void clear() {
    slots_.clear();
    used_ = 0;
    dropped_ = 0;
    floor_ = 0;
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::int64_t id = 0;
  };

  void place(std::uint64_t h, std::int64_t id) {
    std::size_t i = h & (slots_.size() - 1);
    while (slots_[i].hash != 0) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = Slot{h, id};
    ++used_;
  }

  /// Re-places the live entries in `size` slots (a power of two), leaving out those below the floor.
  void rebuild(std::size_t size) {
    std::vector<Slot> old(size);
    old.swap(slots_);
    used_ = 0;
    dropped_ = 0;
    for (const Slot& s : old)
      if (s.hash != 0 && s.id >= floor_) place(s.hash, s.id);
  }

  std::vector<Slot> slots_;  // open addressing, linear probing; a power of two in size
  std::size_t used_ = 0;
  std::size_t dropped_ = 0;  // entries below the floor still in `slots_` (an upper bound)
  std::int64_t floor_ = 0;
};

/// A ticket as the last unit of this connection left it.
struct CachedTicket {
  std::unique_ptr<Ticket> ticket;
  std::int64_t version = 0;
  std::string head;        // the header row's body, for the next unit's "did it change" check
  bool whole_row = false;  // the header row holds the whole ticket (no member/invite/message rows)
  std::size_t bytes = 0;   // ticket_bytes()
};

/// Decoded tickets kept between units, least recently used dropped first, within a budget of
/// estimated memory. A unit takes its tickets out (so a failed unit leaves nothing stale behind)
/// and puts them back after its commit; loading a busy ticket's rows on every unit would
/// otherwise cost as much as the rest of the unit.
class TicketCache {
 public:
  void set_budget(std::size_t bytes) { budget_ = bytes; }

  std::optional<CachedTicket> take(const std::string& id) {
    if (large_ && large_id_ == id) {
      std::optional<CachedTicket> out = std::move(large_);
      large_.reset();
      return out;
    }
    auto found = slots_.find(id);
    if (found == slots_.end()) return std::nullopt;
    CachedTicket out = std::move(found->second.entry);
    bytes_ -= cost(id, out);
    order_.erase(found->second.at);
    slots_.erase(found);
    return out;
  }

  const CachedTicket* peek(const std::string& id) const {
    if (large_ && large_id_ == id) return &*large_;
    auto found = slots_.find(id);
    return found == slots_.end() ? nullptr : &found->second.entry;
  }

  void put(const std::string& id, CachedTicket entry) {
    if (budget_ == 0) return;
    const std::size_t size = cost(id, entry);
    if (large_ && large_id_ == id) large_.reset();
    if (size > budget_ / 2) {
      // A long conversation would push out most of the others, and be pushed out by the next
      // small ticket, then reloaded whole on its next event: it gets a slot of its own, one at a
      // time (the latest), beside the budget. A unit holds it whole in memory anyway, so this
      // adds at most one such ticket to the peak, and the hot long group costs no reload.
      if (auto old = slots_.find(id); old != slots_.end()) {
        bytes_ -= cost(id, old->second.entry);
        order_.erase(old->second.at);
        slots_.erase(old);
      }
      large_id_ = id;
      large_ = std::move(entry);
      return;
    }
    if (auto old = slots_.find(id); old != slots_.end()) {
      bytes_ -= cost(id, old->second.entry);
      order_.erase(old->second.at);
      slots_.erase(old);
    }
    order_.push_front(id);
    slots_.emplace(id, Slot{std::move(entry), order_.begin()});
    bytes_ += size;
    while (bytes_ > budget_) {
      auto victim = slots_.find(order_.back());
      bytes_ -= cost(victim->first, victim->second.entry);
      slots_.erase(victim);
      order_.pop_back();
    }
  }

  void clear() {
    slots_.clear();
    order_.clear();
    bytes_ = 0;
    large_.reset();
  }

 private:
  struct Slot {
    CachedTicket entry;
    std::list<std::string>::iterator at;
  };
  static std::size_t cost(const std::string& id, const CachedTicket& entry) {
    // The slot, its list node and the id (twice: map key and list) on top of the ticket.
    return entry.bytes + entry.head.capacity() + 2 * (id.size() + 32) + 128;
  }

  std::unordered_map<std::string, Slot> slots_;
  std::list<std::string> order_;  // most recently used first
  std::size_t bytes_ = 0;
  std::optional<CachedTicket> large_;  // the latest ticket costing more than half the budget
  std::string large_id_;
  std::size_t budget_ = 0;
};

/// A ticket as read from its rows.
struct LoadedTicket {
  Ticket ticket;
  std::int64_t version = 0;
  std::string head;
  bool whole_row = false;
};

struct Connection {
  sqlite3* db = nullptr;
  SqliteOptions options;
  std::string path;
  int schema_version = 0;
  std::recursive_mutex mutex;
  bool in_unit = false;  // a unit of work is running (on the thread holding `mutex`)
  std::unordered_map<std::string, sqlite3_stmt*> statements;  // by text (built statements)
  // The constant statements by address: no string built and hashed per use.
  std::unordered_map<const char*, sqlite3_stmt*> constant_statements;
  // Header updates by the set of indexed columns they write (a bit per column, see update_header).
  sqlite3_stmt* header_updates[64] = {};
  TicketCache cache;
  // PRAGMA data_version when the cache was last known valid: it changes when another connection
  // (this process's or another's) commits, and then the cache may be stale.
  std::optional<std::int64_t> data_version;
  // Event-key pruning by age, amortized: at most once per kPruneEvery committed units or a minute.
  std::optional<std::int64_t> last_prune_at;
  std::size_t units_since_prune = 0;
  std::size_t keys_since_prune = 0;
  // The event keys as of `keys_version` (data_version): through id `keys_through`.
  KeyIndex keys;
  std::optional<std::int64_t> keys_version;
  std::int64_t keys_through = 0;

  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    for (auto& entry : statements) sqlite3_finalize(entry.second);
    for (auto& entry : constant_statements) sqlite3_finalize(entry.second);
    for (sqlite3_stmt* statement : header_updates) sqlite3_finalize(statement);
    // _v2: closes once any statement still alive is finalized (none is: all finalized above).
    if (db != nullptr) sqlite3_close_v2(db);
  }

  /// The store's clock, in Unix seconds (SqliteOptions::clock, or the system's).
  std::int64_t now() const {
    const auto at = options.clock ? options.clock() : std::chrono::system_clock::now();
    return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
  }

  /// The cached prepared statement for `sql` (prepared on first use, kept for the connection).
  Result<Query> query(const std::string& sql, const Op& operation);
  /// The same for a statement that is a constant (a literal or one of the sql_ constants).
  Result<Query> query(const char* sql, const Op& operation);
  Result<sqlite3_stmt*> prepare(const char* sql, std::size_t size, const Op& operation);

  /// Runs statements without results (DDL, pragmas, BEGIN/COMMIT).
  Result<void> exec(const std::string& sql, const Op& operation) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    if (message != nullptr) sqlite3_free(message);  // the same text sqlite3_errmsg reports
    if (rc != SQLITE_OK) return sqlite_error(db, rc, operation);
    return {};
  }

  /// Ends an open transaction after a failure. SQLite rolls some failures back by itself (I/O
  /// errors, a full disk), hence the check; the original failure is what the caller reports.
  void rollback() {
    if (db != nullptr && sqlite3_get_autocommit(db) == 0) {
      (void)exec("ROLLBACK", "rollback");
    }
  }

  Result<int> user_version() {
    auto q = query("PRAGMA user_version", "read the schema version");
    if (!q) return q.error();
    const int rc = q->step();
    if (rc != SQLITE_ROW) return sqlite_error(db, rc, "read the schema version");
    return static_cast<int>(q->int64(0));
  }

  /// Drops the cache when another connection committed since this one last looked.
  Result<void> revalidate_cache() {
    auto q = query("PRAGMA data_version", "read the data version");
    if (!q) return q.error();
    const int rc = q->step();
    if (rc != SQLITE_ROW) return sqlite_error(db, rc, "read the data version");
    const std::int64_t now = q->int64(0);
    if (data_version != now) cache.clear();
    data_version = now;
    return {};
  }

  /// Brings `keys` in line with the table, under the write lock, after `revalidate_cache`: the
  /// keys other connections added, and how far they (or this one, see `SqliteUnit::committed`)
  /// pruned. Nothing to read while no other connection committed since the last time.
  Result<void> catch_up_keys() {
    if (keys_version && keys_version == data_version) return {};
    const Op operation("read the event keys");
    {
      auto q = query(sql_keys_after, operation);
      if (!q) return q.error();
      q->bind(1, keys_through);
      int rc;
      while ((rc = q->step()) == SQLITE_ROW) {
        const std::int64_t id = q->int64(0);
        keys.add(KeyIndex::hash(q->text(1)), id);
        keys_through = std::max(keys_through, id);
      }
      if (rc != SQLITE_DONE) return sqlite_error(db, rc, operation);
    }
    if (auto floor = first_key_id(); !floor) return floor.error();
    keys_version = data_version;
    return {};
  }

  /// Reads the lowest stored key id into the index's floor (all pruned: past the last one).
  Result<void> first_key_id() {
    const Op operation("read the event keys' range");
    auto q = query(sql_first_key_id, operation);
    if (!q) return q.error();
    const int rc = q->step();
    if (rc != SQLITE_ROW) return sqlite_error(db, rc, operation);
    keys.raise_floor(q->is_null(0) ? keys_through + 1 : q->int64(0));
    return {};
  }

  Result<void> migrate();

  /// Reads a ticket from its rows (none: absent). Decodes the head and each member, invite and
  /// message row on its own; a failure names the ticket and the row.
  Result<std::optional<LoadedTicket>> load(const std::string& ticket_id);
  /// The ticket from its header row's body and its other rows.
  Result<LoadedTicket> decode(const std::string& ticket_id, std::int64_t version, std::string_view body);

  /// Statements a unit and the migration share. Each returns the SQLite failure as an Error.
  Result<void> run_id(const char* sql, const std::string& ticket_id, const Op& operation);
  Result<void> write_header(bool fresh, const Ticket& t, std::int64_t version, const std::string& body);
  /// Updates the header row of `t`, stored as `before`: the version, the body, and only the
  /// indexed columns whose value changed (SQLite rewrites the index of every column a SET names).
  Result<void> update_header(const Ticket& t, const Ticket& before, std::int64_t version, const std::string& body);
  Result<void> write_member(const std::string& id, std::size_t position, std::int64_t version, const Member& m);
  Result<void> write_invite(const std::string& id, std::size_t position, std::int64_t version, const Invite& i);
  Result<void> write_message(const std::string& id, std::int64_t version, const TimelineMessage& m,
                             bool same_timestamp = false);
  Result<void> trim(const char* sql, const std::string& id, std::size_t size, const Op& operation);
  Result<void> delete_message(const std::string& id, const std::string& message_id);
  /// Deletes every member, invite and message row of the ticket.
  Result<void> delete_parts(const std::string& id);
  /// Writes every member, invite and message row (after delete_parts, or for a new ticket).
  Result<void> write_parts(const Ticket& t, std::int64_t version);
};

Result<sqlite3_stmt*> Connection::prepare(const char* sql, std::size_t size, const Op& operation) {
  sqlite3_stmt* statement = nullptr;
  const int rc =
      sqlite3_prepare_v3(db, sql, static_cast<int>(size) + 1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(statement);
    return sqlite_error(db, rc, operation);
  }
  return statement;
}

Result<Query> Connection::query(const std::string& sql, const Op& operation) {
  auto found = statements.find(sql);
  if (found == statements.end()) {
    auto statement = prepare(sql.c_str(), sql.size(), operation);
    if (!statement) return statement.error();
    found = statements.emplace(sql, *statement).first;
  }
  return Query(db, found->second);
}

Result<Query> Connection::query(const char* sql, const Op& operation) {
  auto found = constant_statements.find(sql);
  if (found == constant_statements.end()) {
    auto statement = prepare(sql, std::char_traits<char>::length(sql), operation);
    if (!statement) return statement.error();
    found = constant_statements.emplace(sql, *statement).first;
  }
  return Query(db, found->second);
}

namespace {

Error decode_error(const std::string& ticket_id, const std::string& part, const Error& error) {
  return storage_error("decode stored ticket \"" + ticket_id + "\"" + part + ": " + error.message);
}

}  // namespace

Result<LoadedTicket> Connection::decode(const std::string& ticket_id, std::int64_t version, std::string_view body) {
  LoadedTicket out;
  out.version = version;
  out.head = std::string(body);
  auto head = tickets_detail::head_from_json(body, out.whole_row);
  if (!head) return decode_error(ticket_id, "", head.error());
  out.ticket = std::move(*head);
  if (out.whole_row) return out;  // a whole ticket (kept from v1, or an order rows cannot keep)

  const Op operation("load the rows of ticket \"", ticket_id, "\"");
  auto read_rows = [&](const char* sql, auto&& each) -> Result<void> {
    auto q = query(sql, operation);
    if (!q) return q.error();
    q->bind(1, ticket_id);
    for (;;) {
      const int rc = q->step();
      if (rc == SQLITE_DONE) return {};
      if (rc != SQLITE_ROW) return sqlite_error(db, rc, operation);
      if (auto done = each(q->text(0)); !done) return done;
    }
  };
  // Members and invites: one row each, in position order, decoded by their part codec.
  auto read_list = [&](const char* sql, const char* what, auto& into, auto decode) -> Result<void> {
    return read_rows(sql, [&](std::string_view json) -> Result<void> {
      auto item = decode(json);
      if (!item)
        return decode_error(ticket_id, std::string(" ") + what + " " + std::to_string(into.size()), item.error());
      into.push_back(std::move(*item));
      return {};
    });
  };
  if (auto done = read_list(sql_select_members, "member", out.ticket.members,
                            [](std::string_view json) { return tickets_detail::member_from_json(json); });
      !done) {
    return done.error();
  }
  if (auto done = read_list(sql_select_invites, "invite", out.ticket.invites,
                            [](std::string_view json) { return tickets_detail::invite_from_json(json); });
      !done) {
    return done.error();
  }
  {
    // Reserved exactly: a long timeline is not left with up to twice its size in slack.
    auto q = query(sql_count_timeline, operation);
    if (!q) return q.error();
    q->bind(1, ticket_id);
    const int rc = q->step();
    if (rc != SQLITE_ROW) return sqlite_error(db, rc, operation);
    out.ticket.timeline.reserve(static_cast<std::size_t>(q->int64(0)));
  }
  if (auto done = read_rows(sql_select_timeline,
                            [&](std::string_view json) -> Result<void> {
                              auto message = tickets_detail::message_from_json(json);
                              if (!message) {
                                return decode_error(ticket_id, " message " + std::to_string(out.ticket.timeline.size()),
                                                    message.error());
                              }
                              out.ticket.timeline.push_back(std::move(*message));
                              return {};
                            });
      !done) {
    return done.error();
  }
  // Stored rows have distinct ids (the key), so this order is total.
  std::sort(out.ticket.timeline.begin(), out.ticket.timeline.end(),
            [](const TimelineMessage& a, const TimelineMessage& b) {
              return a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.message_id < b.message_id;
            });
  return out;
}

Result<std::optional<LoadedTicket>> Connection::load(const std::string& ticket_id) {
  const Op operation("load ticket \"", ticket_id, "\"");
  std::int64_t version = 0;
  std::string body;
  {
    auto q = query(sql_select_ticket, operation);
    if (!q) return q.error();
    q->bind(1, ticket_id);
    const int rc = q->step();
    if (rc == SQLITE_DONE) return std::optional<LoadedTicket>();
    if (rc != SQLITE_ROW) return sqlite_error(db, rc, operation);
    version = q->int64(0);
    body = std::string(q->text(1));
  }
  auto loaded = decode(ticket_id, version, body);
  if (!loaded) return loaded.error();
  return std::optional<LoadedTicket>(std::move(*loaded));
}

Result<void> Connection::run_id(const char* sql, const std::string& ticket_id, const Op& operation) {
  auto q = query(sql, operation);
  if (!q) return q.error();
  q->bind(1, ticket_id);
  return q->run(operation);
}

Result<void> Connection::write_header(bool fresh, const Ticket& t, std::int64_t version, const std::string& body) {
  const Op operation(fresh ? "insert ticket \"" : "update ticket \"", t.ticket_id, "\"");
  auto q = query(fresh ? sql_insert_ticket : sql_update_ticket, operation);
  if (!q) return q.error();
  q->bind(1, t.ticket_id)
      .bind(2, t.group_id)
      .bind(3, t.request_id)
      .bind(4, std::string_view(to_string(t.state)))
      .bind(5, t.assignee)
      .bind(6, t.last_activity_at);
  if (t.resolved_at) {
    q->bind(7, *t.resolved_at);
  } else {
    q->bind(7, std::optional<std::string>());
  }
  q->bind(8, version).bind_static(9, body);
  return q->run(operation);
}

Result<void> Connection::update_header(const Ticket& t, const Ticket& before, std::int64_t version,
                                       const std::string& body) {
  // The indexed columns, by parameter (?2 .. ?7 as in sql_insert_ticket).
  const bool changed[6] = {t.group_id != before.group_id,
                           t.request_id != before.request_id,
                           t.state != before.state,
                           t.assignee != before.assignee,
                           t.last_activity_at != before.last_activity_at,
                           t.resolved_at != before.resolved_at};
  unsigned mask = 0;
  for (unsigned i = 0; i < 6; ++i) mask |= changed[i] ? 1u << i : 0u;
  const Op operation("update ticket \"", t.ticket_id, "\"");
  sqlite3_stmt*& statement = header_updates[mask];
  if (statement == nullptr) {
    static const char* const columns[6] = {"group_id", "request_id",       "state",
                                           "assignee", "last_activity_at", "resolved_at"};
    std::string sql = "UPDATE tickets SET version = ?8, body = ?9";
    for (unsigned i = 0; i < 6; ++i) {
      if (changed[i]) sql += std::string(", ") + columns[i] + " = ?" + std::to_string(i + 2);
    }
    sql += " WHERE ticket_id = ?1";
    auto prepared = prepare(sql.c_str(), sql.size(), operation);
    if (!prepared) return prepared.error();
    statement = *prepared;
  }
  // Every parameter up to ?9 exists (numbered parameters may leave gaps): all are bound.
  Query q(db, statement);
  q.bind_static(1, t.ticket_id)
      .bind(2, t.group_id)
      .bind(3, t.request_id)
      .bind(4, std::string_view(to_string(t.state)))
      .bind(5, t.assignee)
      .bind(6, t.last_activity_at);
  if (t.resolved_at) {
    q.bind(7, *t.resolved_at);
  } else {
    q.bind(7, std::optional<std::string>());
  }
  q.bind(8, version).bind_static(9, body);
  return q.run(operation);
}

Result<void> Connection::write_member(const std::string& id, std::size_t position, std::int64_t version,
                                      const Member& m) {
  const Op operation("write a member of ticket \"", id, "\"");
  const std::string json = tickets_detail::member_to_json(m);
  auto q = query(sql_upsert_member, operation);
  if (!q) return q.error();
  q->bind_static(1, id).bind(2, static_cast<std::int64_t>(position)).bind(3, version).bind_static(4, json);
  return q->run(operation);
}

Result<void> Connection::write_invite(const std::string& id, std::size_t position, std::int64_t version,
                                      const Invite& i) {
  const Op operation("write an invite of ticket \"", id, "\"");
  const std::string json = tickets_detail::invite_to_json(i);
  auto q = query(sql_upsert_invite, operation);
  if (!q) return q.error();
  q->bind_static(1, id).bind(2, static_cast<std::int64_t>(position)).bind(3, version).bind_static(4, json);
  return q->run(operation);
}

Result<void> Connection::write_message(const std::string& id, std::int64_t version, const TimelineMessage& m,
                                       bool same_timestamp) {
  const Op operation("write a message of ticket \"", id, "\"");
  const std::string json = tickets_detail::message_to_json(m);
  if (same_timestamp) {
    auto q = query(sql_update_timeline_body, operation);
    if (!q) return q.error();
    q->bind_static(1, id).bind_static(2, m.message_id).bind(3, version).bind_static(4, json);
    return q->run(operation);
  }
  auto q = query(sql_upsert_timeline, operation);
  if (!q) return q.error();
  q->bind_static(1, id).bind_static(2, m.message_id).bind(3, m.timestamp).bind(4, version).bind_static(5, json);
  return q->run(operation);
}

Result<void> Connection::trim(const char* sql, const std::string& id, std::size_t size, const Op& operation) {
  auto q = query(sql, operation);
  if (!q) return q.error();
  q->bind(1, id).bind(2, static_cast<std::int64_t>(size));
  return q->run(operation);
}

Result<void> Connection::delete_message(const std::string& id, const std::string& message_id) {
  const Op operation("delete a message of ticket \"", id, "\"");
  auto q = query(sql_delete_message_row, operation);
  if (!q) return q.error();
  q->bind(1, id).bind(2, message_id);
  return q->run(operation);
}

Result<void> Connection::delete_parts(const std::string& id) {
  const Op operation("delete the rows of ticket \"", id, "\"");
  for (const char* sql : {sql_delete_members, sql_delete_invites, sql_delete_timeline}) {
    if (auto done = run_id(sql, id, operation); !done) return done;
  }
  return {};
}

Result<void> Connection::write_parts(const Ticket& t, std::int64_t version) {
  for (std::size_t i = 0; i < t.members.size(); ++i) {
    if (auto done = write_member(t.ticket_id, i, version, t.members[i]); !done) return done;
  }
  for (std::size_t i = 0; i < t.invites.size(); ++i) {
    if (auto done = write_invite(t.ticket_id, i, version, t.invites[i]); !done) return done;
  }
  for (const auto& m : t.timeline) {
    if (auto done = write_message(t.ticket_id, version, m); !done) return done;
  }
  return {};
}

// v1 -> v2: every v1 row that decodes is split into its header and part rows (its version kept);
// one that does not (damaged on disk, hand-edited) keeps its whole body, which `load` and
// `list_checked` still read and report as unreadable, exactly as v1 did. Ids are read first:
// rows are rewritten while no statement is reading the table.
Result<void> split_v1_rows(Connection& c) {
  const std::string operation = "split the v1 ticket rows";
  std::vector<std::string> ids;
  {
    auto q = c.query("SELECT ticket_id FROM tickets", operation);
    if (!q) return q.error();
    for (;;) {
      const int rc = q->step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return sqlite_error(c.db, rc, operation);
      ids.emplace_back(q->text(0));
    }
  }
  for (const auto& id : ids) {
    std::int64_t version = 0;
    std::string body;
    {
      auto q = c.query(sql_select_ticket, operation);
      if (!q) return q.error();
      q->bind(1, id);
      const int rc = q->step();
      if (rc != SQLITE_ROW) return sqlite_error(c.db, rc, operation);
      version = q->int64(0);
      body = std::string(q->text(1));
    }
    auto ticket = ticket_from_json(body);
    if (!ticket) continue;  // kept whole: unreadable, as before
    // The header's own columns follow the decoded ticket (v1 wrote the same values); a ticket
    // stored under another id than its own, or with a timeline rows cannot keep, stays whole.
    const bool split = ticket->ticket_id == id && rows_keep_timeline(ticket->timeline);
    const std::string head = split ? tickets_detail::head_to_json(*ticket) : body;
    if (ticket->ticket_id == id) {
      if (auto done = c.write_header(false, *ticket, version, head); !done) return done;
    }
    if (split) {
      if (auto done = c.write_parts(*ticket, version); !done) return done;
    }
  }
  return {};
}

Result<void> Connection::migrate() {
  std::vector<Migration> migrations(std::begin(builtin_migrations), std::end(builtin_migrations));
  for (const auto& sql : options.extra_migrations_for_testing) {
    migrations.push_back({"testing", sql.c_str(), nullptr});
  }
  const int latest = static_cast<int>(migrations.size());

  auto refuse_newer = [&](int found) {
    return storage_error("open \"" + path + "\": the database is at schema version " + std::to_string(found) +
                         ", newer than the latest this build knows (" + std::to_string(latest) +
                         "); it was written by a later wagroups, which this one must not modify");
  };

  auto current = user_version();
  if (!current) return current.error();
  if (*current > latest) return refuse_newer(*current);
  if (*current < 0) {
    return storage_error("open \"" + path + "\": invalid schema version " + std::to_string(*current));
  }
  if (*current == latest) {
    schema_version = latest;
    return {};
  }

  if (auto begun = exec("BEGIN IMMEDIATE", "migrate the schema"); !begun) return begun;
  // Another process may have migrated while this one waited for the lock.
  current = user_version();
  if (!current) {
    rollback();
    return current.error();
  }
  if (*current > latest) {
    rollback();
    return refuse_newer(*current);
  }
  for (int next = *current + 1; next <= latest; ++next) {
    const Migration& migration = migrations[static_cast<std::size_t>(next - 1)];
    const std::string operation =
        "migrate the schema to version " + std::to_string(next) + " (" + migration.description + ")";
    auto step = [&]() -> Result<void> {
      if (auto done = exec(migration.sql, operation); !done) return done;
      if (migration.step != nullptr) {
        if (auto done = migration.step(*this); !done) {
          std::string inner = done.error().message;
          if (inner.rfind(error_prefix, 0) == 0) inner.erase(0, std::string_view(error_prefix).size());
          return storage_error(operation + ": " + inner);
        }
      }
      auto row =
          query("INSERT INTO schema_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)", operation);
      if (!row) return row.error();
      row->bind(1, static_cast<std::int64_t>(next)).bind(2, migration.description).bind(3, now());
      return row->run(operation);
    };
    if (auto done = step(); !done) {
      rollback();
      return done;
    }
  }
  // PRAGMA takes no parameters; `latest` is an integer this code computed.
  auto finish = [&]() -> Result<void> {
    if (auto done = exec("PRAGMA user_version = " + std::to_string(latest), "migrate the schema"); !done) return done;
    return exec("COMMIT", "migrate the schema");
  };
  if (auto done = finish(); !done) {
    rollback();
    return done;
  }
  schema_version = latest;
  return {};
}

}  // namespace sqlite_detail

struct SqliteTicketStore::Impl : sqlite_detail::Connection {};

// ---------------------------------------------------------------------------------------------
// One unit of work

namespace {

using sqlite_detail::CachedTicket;
using sqlite_detail::Connection;
using sqlite_detail::KeyIndex;

// Past this many committed units or this many seconds, a commit also prunes expired event keys.
constexpr std::size_t kPruneEveryUnits = 256;
constexpr std::int64_t kPruneEverySeconds = 60;
constexpr std::int64_t kPruneAtLeast = 1024;

class SqliteUnit final : public TicketTransaction {
 public:
  explicit SqliteUnit(Connection& impl) : impl_(impl) {}

  Result<Ticket*> ticket(const std::string& ticket_id) override {
    auto entry = fetch(ticket_id);
    if (!entry) return entry.error();
    Entry& e = **entry;
    if (e.ticket) make_whole(e);
    return e.ticket.get();
  }

  Result<Ticket*> edit(const std::string& ticket_id) override {
    auto entry = fetch(ticket_id);
    if (!entry) return entry.error();
    Entry& e = **entry;
    if (e.ticket && e.mode == Mode::unset) {
      e.mode = Mode::edit;
      e.before = head_copy(*e.ticket);
    }
    return e.ticket.get();
  }

  Result<void> changing_message(const std::string& ticket_id, const std::string& message_id) override {
    auto found = touched_.find(ticket_id);
    if (found == touched_.end() || !found->second.ticket) return {};
    Entry& e = found->second;
    if (e.mode != Mode::edit || e.declared.count(message_id) != 0) return {};
    // A unit's messages are usually the last ones. Past those, the row says whether the message
    // was there at fetch (undeclared messages are as fetched), so a new message costs no scan of
    // a long timeline.
    const auto& tl = e.ticket->timeline;
    const std::size_t recent = tl.size() > 64 ? tl.size() - 64 : 0;
    const TimelineMessage* now = nullptr;
    for (std::size_t i = tl.size(); i-- > recent && now == nullptr;)
      if (tl[i].message_id == message_id) now = &tl[i];
    if (now == nullptr && recent > 0) {
      bool stored = true;
      if (e.in_db && !e.whole_row) {
        const Op operation("look up a message of ticket \"", ticket_id, "\"");
        auto q = query(sql_timeline_row_exists, operation);
        if (!q) return q.error();
        q->bind_static(1, ticket_id);
        q->bind_static(2, message_id);
        const int rc = q->step();
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(rc, operation);
        stored = rc == SQLITE_ROW;
      }
      if (stored) now = e.ticket->find_message(message_id);
    }
    e.declared.emplace(message_id, now != nullptr ? std::optional<TimelineMessage>(*now) : std::nullopt);
    return {};
  }

  Result<void> changing_timeline(const std::string& ticket_id) override {
    auto found = touched_.find(ticket_id);
    if (found != touched_.end() && found->second.ticket) make_whole(found->second);
    return {};
  }

  Result<Ticket*> insert(Ticket ticket) override {
    if (ticket.ticket_id.empty()) {
      return Error::invalid_argument("ticket_id", "non-empty", "a ticket needs an id to be stored");
    }
    const std::string id = ticket.ticket_id;
    auto found = touched_.find(id);
    if (found == touched_.end()) {
      const Op operation("look up ticket \"", id, "\"");
      auto q = query(sql_ticket_exists, operation);
      if (!q) return q.error();
      q->bind_static(1, id);
      const int rc = q->step();
      if (rc == SQLITE_ROW) return conflict(id);
      if (rc != SQLITE_DONE) return fail(rc, operation);
      found = touched_.emplace(id, Entry{}).first;
    } else if (found->second.ticket) {
      return conflict(id);
    }
    Entry& e = found->second;
    e.ticket = std::make_unique<Ticket>(std::move(ticket));
    // New, or replacing one erased in this unit: all of its rows are written.
    e.mode = Mode::whole;
    e.before.reset();
    e.declared.clear();
    e.erased = false;  // its messages are found again (the ones it holds are indexed anew)
    return e.ticket.get();
  }

  Result<void> erase(const std::string& ticket_id) override {
    auto entry = fetch(ticket_id);
    if (!entry) return entry.error();
    Entry& e = **entry;
    if (e.ticket) {
      e.ticket.reset();
      e.erased = true;
      e.before.reset();
      e.declared.clear();
    }
    return {};
  }

  Result<std::optional<std::string>> find_by_group(const std::string& group_id) override {
    return find_linked(group_id, sql_tickets_by_group, "group",
                       [](const Ticket& t) -> const std::optional<std::string>& { return t.group_id; });
  }

  Result<std::optional<std::string>> find_by_request(const std::string& request_id) override {
    return find_linked(request_id, sql_tickets_by_request, "request",
                       [](const Ticket& t) -> const std::optional<std::string>& { return t.request_id; });
  }

  Result<std::optional<std::string>> find_by_message(const std::string& message_id) override {
    auto declared = messages_.find(message_id);
    if (declared != messages_.end()) {
      if (gone(declared->second)) return std::optional<std::string>();
      return std::optional<std::string>(declared->second);
    }
    const Op operation("look up message \"", message_id, "\"");
    auto q = query(sql_message_ticket, operation);
    if (!q) return q.error();
    q->bind_static(1, message_id);
    const int rc = q->step();
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    if (rc != SQLITE_ROW) return fail(rc, operation);
    std::string ticket_id(q->text(0));
    // An erased ticket's message rows are deleted at commit.
    auto touched = touched_.find(ticket_id);
    if (touched != touched_.end() && touched->second.erased) return std::optional<std::string>();
    return std::optional<std::string>(std::move(ticket_id));
  }

  Result<void> index_message(const std::string& message_id, const std::string& ticket_id) override {
    messages_[message_id] = ticket_id;
    return {};
  }

  Result<bool> applied(const std::string& event_key) override {
    if (key_set_.count(event_key) != 0) return true;
    return stored_key(event_key);
  }

  Result<void> record(const std::string& event_key) override {
    if (key_set_.insert(event_key).second) keys_.push_back(event_key);
    return {};
  }

  /// After COMMIT: the unit's tickets, as now stored, go (back) to the connection's cache.
  void keep_in_cache() {
    for (auto& [id, entry] : touched_) {
      if (!entry.ticket || !entry.written) continue;
      impl_.cache.put(id, CachedTicket{std::move(entry.ticket), entry.version, std::move(entry.stored_head),
                                       entry.whole_row, entry.bytes});
    }
  }

  /// The first SQLite failure seen by this unit, even one `work` ignored: the unit then fails.
  const std::optional<Error>& failure() const noexcept { return failure_; }

  /// Writes what the unit changed (the caller commits or rolls back).
  Result<void> write() {
    for (auto& [id, entry] : touched_) {
      if (auto done = write_ticket(id, entry); !done) return note_and_return(done);
    }
    for (const auto& [message_id, ticket_id] : messages_) {
      if (gone(ticket_id)) continue;  // declared for a ticket erased since: it would dangle
      const Op operation("index message \"", message_id, "\"");
      auto q = query(sql_upsert_message, operation);
      if (!q) return q.error();
      q->bind_static(1, message_id).bind_static(2, ticket_id);
      if (auto done = run(*q, operation); !done) return done;
    }
    const std::int64_t now = impl_.now();
    for (const auto& key : keys_) {
      // A host's unit may record a key without asking `applied` first: the log keeps one row each.
      auto known = stored_key(key);
      if (!known) return known.error();
      if (*known) continue;
      auto q = query(sql_insert_key, "record an event key");
      if (!q) return q.error();
      q->bind_static(1, key).bind(2, now);
      if (auto done = run(*q, "record an event key"); !done) return done;
      new_keys_.emplace_back(KeyIndex::hash(key), sqlite3_last_insert_rowid(impl_.db));
    }
    if (!keys_.empty() && impl_.options.max_event_keys > 0) {
      capped_ = true;
      auto q = query(sql_prune_keys, "prune old event keys");
      if (!q) return q.error();
      const auto keep = std::min<std::size_t>(impl_.options.max_event_keys,
                                              static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()));
      q->bind(1, static_cast<std::int64_t>(keep));
      if (auto done = run(*q, "prune old event keys"); !done) return done;
    }
    return prune_expired_keys(now);
  }

  /// After COMMIT: the unit's keys join the index (nobody else wrote meanwhile: the unit held the
  /// write lock, so the index stays current through them); counts towards the next pruning.
  void committed() {
    for (const auto& [hash, id] : new_keys_) {
      impl_.keys.add(hash, id);
      impl_.keys_through = std::max(impl_.keys_through, id);
    }
    // The unit is committed whatever happens here: a floor not read now is read by the next
    // unit's catch-up (until then the pruned rows are simply not found when a hash hits them).
    if ((pruned_ || capped_) && !impl_.first_key_id()) impl_.keys_version.reset();
    if (pruned_) {
      impl_.last_prune_at = pruned_at_;
      impl_.units_since_prune = 0;
      impl_.keys_since_prune = 0;
    } else {
      impl_.units_since_prune += 1;
      impl_.keys_since_prune += keys_.size();
    }
  }

 private:
  enum class Mode {
    unset,  // fetched by `erase` or a lookup only
    edit,   // `edit`: `before` is the head at fetch, `declared` the messages as they were
    whole,  // `ticket` / `changing_timeline`: `before` is the whole ticket at fetch (when known)
  };

  struct Entry {
    std::unique_ptr<Ticket> ticket;  // null: absent (never stored, or erased in this unit)
    std::int64_t version = 0;        // the stored version (0: not stored)
    bool in_db = false;              // a row exists at the start of the unit
    bool erased = false;             // erased in this unit (its message rows go with it)
    bool whole_row = false;          // the header row holds the whole ticket
    std::string stored_head;         // the header row's body
    std::size_t bytes = 0;           // ticket_bytes() as fetched; after write(), as written
    std::size_t head_bytes = 0;      // head_bytes() as fetched
    Mode mode = Mode::unset;
    std::optional<Ticket> before;
    std::map<std::string, std::optional<TimelineMessage>> declared;
    bool written = false;  // write() brought the rows in line with `ticket`
  };

  Result<Query> query(const char* sql, const Op& operation) {
    auto q = impl_.query(sql, operation);
    if (!q) note(q.error());
    return q;
  }

  Error fail(int rc, const Op& operation) {
    Error error = sqlite_error(impl_.db, rc, operation);
    note(error);
    return error;
  }

  void note(const Error& error) {
    if (!failure_) failure_ = error;
  }

  Result<void> note_and_return(const Result<void>& done) {
    if (!done) note(done.error());
    return done;
  }

  Result<void> run(Query& q, const Op& operation) {
    const int rc = q.step();
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
    return fail(rc, operation);
  }

  /// From here on the whole ticket counts as written: `before` becomes the whole ticket as
  /// fetched, when that is still known (no message declared yet, so the timeline is as fetched).
  void make_whole(Entry& e) {
    if (e.mode == Mode::whole) return;
    if (e.mode == Mode::unset) {
      e.before = *e.ticket;
    } else if (e.declared.empty() && e.before) {
      e.before->timeline = e.ticket->timeline;
    } else {
      e.before.reset();  // rewritten from scratch
    }
    e.declared.clear();
    e.mode = Mode::whole;
  }

  /// The unit's entry for `ticket_id`, loading the rows on first use.
  Result<Entry*> fetch(const std::string& ticket_id) {
    auto found = touched_.find(ticket_id);
    if (found != touched_.end()) return &found->second;
    Entry entry;
    if (auto cached = impl_.cache.take(ticket_id)) {
      entry.ticket = std::move(cached->ticket);
      entry.version = cached->version;
      entry.stored_head = std::move(cached->head);
      entry.whole_row = cached->whole_row;
      entry.bytes = cached->bytes;
      entry.in_db = true;
    } else {
      auto loaded = impl_.load(ticket_id);
      if (!loaded) {
        // Not cached: a damaged row is never overwritten. A decoding failure is the ticket's,
        // not the unit's (`work` may go on without it); SQLite's own failures fail the unit.
        if (loaded.error().message.find("decode stored ticket") == std::string::npos) note(loaded.error());
        return loaded.error();
      }
      if (*loaded) {
        entry.version = (*loaded)->version;
        entry.stored_head = std::move((*loaded)->head);
        entry.whole_row = (*loaded)->whole_row;
        entry.ticket = std::make_unique<Ticket>(std::move((*loaded)->ticket));
        entry.bytes = ticket_bytes(*entry.ticket);
        entry.in_db = true;
      }
    }
    if (entry.ticket) entry.head_bytes = head_bytes(*entry.ticket);
    return &touched_.emplace(ticket_id, std::move(entry)).first->second;
  }

  /// Brings the ticket's rows in line with the entry.
  Result<void> write_ticket(const std::string& id, Entry& e) {
    if (!e.ticket) {
      if (!e.in_db) return {};
      if (auto done = impl_.run_id(sql_delete_ticket_messages, id, Op("delete the messages of ticket \"", id, "\""));
          !done) {
        return done;
      }
      if (auto done = impl_.delete_parts(id); !done) return done;
      return impl_.run_id(sql_delete_ticket, id, Op("delete ticket \"", id, "\""));
    }
    Ticket& t = *e.ticket;
    if (t.ticket_id != id) {
      return Error::invalid_argument("ticket_id", "unchanged", "ticket \"" + id + "\" had its id changed in place");
    }
    if (e.mode == Mode::unset) {
      e.written = true;  // only looked up: as stored
      return {};
    }
    const std::int64_t version = e.version + 1;
    // An edited ticket keeps its order by contract (the aggregator's); a whole one is checked.
    const bool rows_fit = (e.mode == Mode::edit && e.in_db && !e.whole_row) || rows_keep_timeline(t.timeline);
    const bool from_scratch = !e.in_db || e.whole_row || !rows_fit || (e.mode == Mode::whole && !e.before);
    if (from_scratch) {
      if (e.in_db && !rows_fit && e.whole_row && e.before && t == *e.before) {
        e.written = true;  // unchanged, and stored whole as it is
        return {};
      }
      if (e.in_db) {
        if (auto done = impl_.delete_parts(id); !done) return done;
      }
      std::string body = rows_fit ? tickets_detail::head_to_json(t) : to_json(t);
      if (auto done = impl_.write_header(!e.in_db, t, version, body); !done) return done;
      if (rows_fit) {
        if (auto done = impl_.write_parts(t, version); !done) return done;
      }
      return stored(e, version, std::move(body), !rows_fit, ticket_bytes(t));
    }

    // Incremental: the rows that differ from `before` (the head, or the whole ticket).
    const Ticket& before = *e.before;
    bool changed = false;
    if (auto done = write_list(id, version, before.members, t.members, sql_trim_members, changed,
                               [this](const std::string& i, std::size_t p, std::int64_t v, const Member& m) {
                                 return impl_.write_member(i, p, v, m);
                               });
        !done) {
      return done;
    }
    if (auto done = write_list(id, version, before.invites, t.invites, sql_trim_invites, changed,
                               [this](const std::string& i, std::size_t p, std::int64_t v, const Invite& in) {
                                 return impl_.write_invite(i, p, v, in);
                               });
        !done) {
      return done;
    }
    std::size_t bytes = 0;
    if (e.mode == Mode::edit) {
      // Only the declared messages: found from the end, where a unit's messages usually are.
      std::size_t grown = 0;
      std::size_t shrunk = 0;
      for (const auto& [message_id, was] : e.declared) {
        const TimelineMessage* now = t.find_message(message_id);
        if (was) shrunk += message_bytes(*was);
        if (now != nullptr) grown += message_bytes(*now);
        if (now == nullptr && !was) continue;
        if (now != nullptr && was && *now == *was) continue;
        changed = true;
        if (now != nullptr) {
          const bool same_timestamp = was && was->timestamp == now->timestamp;
          if (auto done = impl_.write_message(id, version, *now, same_timestamp); !done) return done;
        } else if (auto done = impl_.delete_message(id, message_id); !done) {
          return done;
        }
      }
      const auto estimate = static_cast<std::int64_t>(e.bytes) - static_cast<std::int64_t>(e.head_bytes) +
                            static_cast<std::int64_t>(head_bytes(t)) + static_cast<std::int64_t>(grown) -
                            static_cast<std::int64_t>(shrunk);
      bytes = static_cast<std::size_t>(std::max<std::int64_t>(estimate, static_cast<std::int64_t>(head_bytes(t))));
    } else {
      if (!(t.timeline == before.timeline)) {
        std::unordered_map<std::string_view, const TimelineMessage*> old;
        old.reserve(before.timeline.size());
        for (const auto& m : before.timeline) old.emplace(m.message_id, &m);
        for (const auto& m : t.timeline) {
          auto was = old.find(m.message_id);
          const bool known = was != old.end();
          const bool same = known && *was->second == m;
          const bool same_timestamp = known && was->second->timestamp == m.timestamp;
          if (known) old.erase(was);
          if (same) continue;
          changed = true;
          if (auto done = impl_.write_message(id, version, m, same_timestamp); !done) return done;
        }
        for (const auto& [message_id, was] : old) {
          changed = true;
          if (auto done = impl_.delete_message(id, was->message_id); !done) return done;
        }
      }
      bytes = ticket_bytes(t);
    }
    std::string head = tickets_detail::head_to_json(t);
    if (!changed && head == e.stored_head) {
      e.written = true;  // unchanged: as stored
      e.bytes = bytes;
      return {};
    }
    if (auto done = impl_.update_header(t, before, version, head); !done) return done;
    return stored(e, version, std::move(head), false, bytes);
  }

  Result<void> stored(Entry& e, std::int64_t version, std::string head, bool whole_row, std::size_t bytes) {
    e.version = version;
    e.stored_head = std::move(head);
    e.whole_row = whole_row;
    e.in_db = true;
    e.bytes = bytes;
    e.written = true;
    return {};
  }

  /// Members or invites: a row per position that differs, and the rows past the new end deleted.
  template <typename T, typename Write>
  Result<void> write_list(const std::string& id, std::int64_t version, const std::vector<T>& before,
                          const std::vector<T>& now, const char* trim_sql, bool& changed, Write write_one) {
    for (std::size_t i = 0; i < now.size(); ++i) {
      if (i < before.size() && before[i] == now[i]) continue;
      changed = true;
      if (auto done = write_one(id, i, version, now[i]); !done) return done;
    }
    if (before.size() > now.size()) {
      changed = true;
      return impl_.trim(trim_sql, id, now.size(), Op("delete members or invites of ticket \"", id, "\""));
    }
    return {};
  }

  /// Expired event keys (older than the retention), a bounded number per pruning: enough to keep
  /// up with the keys recorded since the last one, so the table stays bounded.
  Result<void> prune_expired_keys(std::int64_t now) {
    const auto retention = impl_.options.event_key_retention.count();
    if (retention <= 0) return {};
    const bool due = !impl_.last_prune_at || impl_.units_since_prune + 1 >= kPruneEveryUnits ||
                     now - *impl_.last_prune_at >= kPruneEverySeconds;
    if (!due) return {};
    const Op operation("prune expired event keys");
    auto q = query(sql_prune_old_keys, operation);
    if (!q) return q.error();
    const auto recent = static_cast<std::int64_t>(
        std::min<std::size_t>(impl_.keys_since_prune + keys_.size(), std::numeric_limits<std::int64_t>::max() / 4));
    q->bind(1, now - retention).bind(2, std::max(kPruneAtLeast, 2 * recent));
    if (auto done = run(*q, operation); !done) return done;
    pruned_ = true;
    pruned_at_ = now;
    return {};
  }

  /// Whether an earlier unit recorded `key`: the index's candidates, confirmed by their rows.
  Result<bool> stored_key(const std::string& key) {
    const Op operation("look up an event key");
    std::optional<Error> error;
    const bool found = impl_.keys.any_of(KeyIndex::hash(key), [&](std::int64_t id) {
      auto q = query(sql_key_at, operation);
      if (!q) {
        error = q.error();
        return true;
      }
      q->bind(1, id);
      const int rc = q->step();
      if (rc == SQLITE_ROW) return q->text(0) == key;
      if (rc != SQLITE_DONE) {
        error = fail(rc, operation);
        return true;
      }
      return false;  // pruned since
    });
    if (error) return *error;
    return found;
  }

  /// Whether `ticket_id` is known, in this unit, not to exist.
  bool gone(const std::string& ticket_id) const {
    auto found = touched_.find(ticket_id);
    return found != touched_.end() && !found->second.ticket;
  }

  Error conflict(const std::string& id) {
    Error error;
    error.code = ErrorCode::conflict;
    error.field = "ticket_id";
    error.message = std::string(error_prefix) + "ticket \"" + id + "\" already exists";
    error.request_may_have_been_sent = false;
    return error;
  }

  /// Group and request lookups: the unit's touched tickets by their current fields, then the
  /// stored rows of tickets the unit has not touched. When several tickets match, one linked to a
  /// create request wins (an unlinked fragment is merged into it), then the smallest id.
  template <typename Field>
  Result<std::optional<std::string>> find_linked(const std::string& value, const char* sql, const char* what,
                                                 Field field) {
    std::optional<std::pair<bool, std::string>> best;  // (lacks a request id, ticket id): smallest wins
    auto consider = [&](bool lacks_request, const std::string& id) {
      std::pair<bool, std::string> candidate(lacks_request, id);
      if (!best || candidate < *best) best = std::move(candidate);
    };
    // Every ticket of the unit, since any may have been relinked in place. Ids of one kind differ
    // mostly at the end: the last character first spares most comparisons.
    for (const auto& [id, entry] : touched_) {
      if (!entry.ticket) continue;
      const std::optional<std::string>& linked = field(*entry.ticket);
      if (!linked || linked->size() != value.size() || (!value.empty() && linked->back() != value.back())) continue;
      if (*linked == value) consider(!entry.ticket->request_id.has_value(), id);
    }
    // The rows are read once per unit and value: nothing is written before the unit's end, so
    // they stay as read (a batch asks for the same group once per event).
    auto rows = linked_rows_.find(std::make_pair(sql, value));
    if (rows == linked_rows_.end()) {
      const Op operation("look up the ticket of a ", what);
      auto q = query(sql, operation);
      if (!q) return q.error();
      q->bind_static(1, value);
      std::vector<std::pair<bool, std::string>> found;
      for (;;) {
        const int rc = q->step();
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) return fail(rc, operation);
        found.emplace_back(q->int64(1) == 0, std::string(q->text(0)));
      }
      rows = linked_rows_.emplace(std::make_pair(sql, value), std::move(found)).first;
    }
    for (const auto& [lacks_request, id] : rows->second) {
      if (touched_.count(id) != 0) continue;  // the unit's copy (above) is the current one
      consider(lacks_request, id);
    }
    if (!best) return std::optional<std::string>();
    return std::optional<std::string>(std::move(best->second));
  }

  Connection& impl_;
  std::map<std::string, Entry> touched_;  // ordered: commits write in ticket id order
  std::map<std::string, std::string> messages_;
  // find_linked's rows by (statement, value), as stored when the unit began.
  std::map<std::pair<const char*, std::string>, std::vector<std::pair<bool, std::string>>> linked_rows_;
  std::vector<std::string> keys_;
  std::unordered_set<std::string> key_set_;
  std::vector<std::pair<std::uint64_t, std::int64_t>> new_keys_;  // (hash, id) inserted by write()
  bool capped_ = false;                                           // max_event_keys pruning ran
  std::optional<Error> failure_;
  bool pruned_ = false;
  std::int64_t pruned_at_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// SqliteTicketStore

SqliteTicketStore::SqliteTicketStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteTicketStore::~SqliteTicketStore() = default;

int SqliteTicketStore::latest_schema_version() noexcept { return builtin_schema_version; }

int SqliteTicketStore::schema_version() const noexcept { return impl_->schema_version; }

namespace {

// Tickets hold customers' names, numbers and messages: a database file created here is for its
// owner only. Creating it with O_EXCL before SQLite opens it leaves an existing file (and its mode)
// alone, needs no process-wide umask change (other threads may be creating files), and SQLite then
// gives the -wal, -shm and -journal files the database file's mode. A URI or ":memory:" is left to
// SQLite (documented); so is any failure here, which SQLite's own open then reports.
void create_private_file(const std::string& path) {
#ifndef _WIN32
  if (path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0) return;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, S_IRUSR | S_IWUSR);
  if (fd >= 0) ::close(fd);  // an empty file is an empty database
#else
  (void)path;
#endif
}

}  // namespace

Result<std::unique_ptr<SqliteTicketStore>> SqliteTicketStore::open(const std::string& path, SqliteOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->path = path;
  impl->cache.set_budget(impl->options.ticket_cache_bytes);
  const std::string where = "open \"" + path + "\"";

  create_private_file(path);
  // NOMUTEX: the store's own mutex serializes every use of the connection.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &impl->db, flags, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(impl->db, rc, where);
  sqlite3_extended_result_codes(impl->db, 1);

  const auto timeout = impl->options.busy_timeout.count();
  rc = sqlite3_busy_timeout(
      impl->db, static_cast<int>(std::clamp<decltype(timeout)>(timeout, 0, std::numeric_limits<int>::max())));
  if (rc != SQLITE_OK) return sqlite_error(impl->db, rc, where + ": set the busy timeout");

  // A read-only file (or mode=ro) opens, but every unit would fail: refuse it now, clearly.
  if (sqlite3_db_readonly(impl->db, "main") == 1) {
    return storage_error(where + ": the database is read-only (file permissions or URI mode)");
  }

  // The first statement to read the file: a file that is not a database fails here.
  {
    auto q = impl->query("PRAGMA journal_mode = WAL", where + ": set journal_mode=WAL");
    if (!q) return q.error();
    rc = q->step();
    if (rc != SQLITE_ROW) return sqlite_error(impl->db, rc, where + ": set journal_mode=WAL");
    const std::string mode(q->text(0));
    // In-memory databases keep "memory": there is nothing to make durable.
    if (mode != "wal" && mode != "memory") {
      return storage_error(where + ": the database refused WAL mode (journal_mode is \"" + mode + "\")");
    }
  }
  const bool full = impl->options.durability == SqliteOptions::Durability::full;
  if (auto done =
          impl->exec(full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", where + ": set synchronous");
      !done) {
    return done.error();
  }
  // A unit touching a few hundred tickets reads their header rows and the pages its writes
  // land on: a page cache larger than SQLite's 2 MiB default keeps them out of the read() path.
  if (auto done = impl->exec("PRAGMA cache_size = -16384", where + ": set cache_size"); !done) {
    return done.error();
  }
  // Busy tickets' header rows are rewritten by unit after unit: checkpointing every 16 MiB of WAL
  // rather than 4 copies each hot page into the database file a quarter as often. The WAL file is
  // cut back to 64 MiB after a larger (one-off, huge) unit.
  if (auto done = impl->exec("PRAGMA wal_autocheckpoint = 4000; PRAGMA journal_size_limit = 67108864",
                             where + ": set the WAL checkpoint and size limit");
      !done) {
    return done.error();
  }
  if (auto done = impl->migrate(); !done) return done.error();
  if (auto done = impl->exec(sql_create_dead_letters, where + ": create the dead_letters table"); !done) {
    return done.error();
  }
  return std::unique_ptr<SqliteTicketStore>(new SqliteTicketStore(std::move(impl)));
}

namespace {

Error reentered() {
  return storage_error("the store was called from inside a unit of work; use the TicketTransaction given to `work`");
}

}  // namespace

Result<void> SqliteTicketStore::transact(const std::function<Result<void>(TicketTransaction&)>& work) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  if (impl_->in_unit) return reentered();
  if (auto begun = impl_->exec("BEGIN IMMEDIATE", "begin a unit of work"); !begun) return begun;
  impl_->in_unit = true;
  struct Leave {
    Connection& impl;
    ~Leave() {
      impl.rollback();  // a no-op after COMMIT
      impl.in_unit = false;
    }
  } leave{*impl_};

  // Under the write lock: nobody can commit between this check and the unit's end.
  if (auto valid = impl_->revalidate_cache(); !valid) return valid;
  if (auto keys = impl_->catch_up_keys(); !keys) return keys;
  // A failed unit drops the tickets it touched: they were taken out of the cache, and only a
  // committed unit puts them back (keep_in_cache).
  SqliteUnit unit(*impl_);
  Result<void> done;
  // No exception crosses the API: a throwing `work` fails its unit like an error (as in memory).
  try {
    done = work(unit);
  } catch (const std::exception& e) {
    return storage_error(std::string("the unit of work threw: ") + e.what());
  } catch (...) {
    return storage_error("the unit of work threw");
  }
  if (!done) return done;  // rolled back by `leave`
  if (unit.failure()) return *unit.failure();
  if (done = unit.write(); !done) return done;
  if (unit.failure()) return *unit.failure();
  if (done = impl_->exec("COMMIT", "commit a unit of work"); !done) return done;
  unit.committed();
  unit.keep_in_cache();
  return {};
}

namespace {

/// A stored ticket outside a unit: a copy of the cached one when the cache is current, else read
/// from its rows.
Result<std::optional<StoredTicket>> read_ticket(Connection& impl, const std::string& ticket_id) {
  if (const CachedTicket* cached = impl.cache.peek(ticket_id)) {
    return std::optional<StoredTicket>(StoredTicket{*cached->ticket, cached->version});
  }
  auto loaded = impl.load(ticket_id);
  if (!loaded) return loaded.error();
  if (!*loaded) return std::optional<StoredTicket>();
  return std::optional<StoredTicket>(StoredTicket{std::move((*loaded)->ticket), (*loaded)->version});
}

}  // namespace

namespace {

/// One snapshot for reads outside a unit: a ticket is several SELECTs (header, members, invites,
/// timeline), and another connection's commit between two of them would mix two versions.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Connection& c) : c_(c) {}
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  ~ReadSnapshot() {
    if (open_) (void)c_.exec("COMMIT", "end a read snapshot");
  }
  Result<void> begin() {
    auto begun = c_.exec("BEGIN", "begin a read snapshot");
    open_ = static_cast<bool>(begun);
    return begun;
  }

 private:
  Connection& c_;
  bool open_ = false;
};

}  // namespace

Result<std::optional<StoredTicket>> SqliteTicketStore::load(const std::string& ticket_id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  if (impl_->in_unit) return reentered();
  ReadSnapshot snapshot(*impl_);
  if (auto begun = snapshot.begin(); !begun) return begun.error();
  if (auto valid = impl_->revalidate_cache(); !valid) return valid.error();
  return read_ticket(*impl_, ticket_id);
}

namespace {

Result<std::optional<std::string>> first_id(Connection& impl, const char* sql, const std::string& value,
                                            const std::string& operation) {
  auto q = impl.query(sql, operation);
  if (!q) return q.error();
  q->bind(1, value);
  const int rc = q->step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return sqlite_error(impl.db, rc, operation);
  return std::optional<std::string>(std::string(q->text(0)));
}

/// The ids matching `query`, in id order, from the header's indexed columns. One statement per
/// combination of filters (each cached), so that each can use its index; a catch-all
/// "(?1 IS NULL OR state = ?1)" would scan the table.
Result<std::vector<std::string>> matching_ids(Connection& impl, const TicketQuery& query) {
  std::string sql = "SELECT ticket_id FROM tickets";
  std::vector<std::string> texts;
  std::vector<std::pair<int, std::int64_t>> numbers;
  int index = 0;
  const char* joiner = " WHERE ";
  auto filter = [&](const char* condition) {
    sql += joiner;
    sql += condition;
    sql += " ?" + std::to_string(++index);
    joiner = " AND ";
  };
  if (query.state) {
    filter("state =");
    texts.emplace_back(to_string(*query.state));
  }
  if (query.assignee) {
    filter("assignee =");
    texts.push_back(*query.assignee);
  }
  if (query.group_id) {
    filter("group_id =");
    texts.push_back(*query.group_id);
  }
  const int first_number = index + 1;
  if (query.last_activity_at_most) {
    filter("last_activity_at <=");
    numbers.emplace_back(index, *query.last_activity_at_most);
  }
  if (query.resolved_at_most) {
    filter("resolved_at <=");
    numbers.emplace_back(index, *query.resolved_at_most);
  }
  (void)first_number;
  sql += " ORDER BY ticket_id LIMIT ?" + std::to_string(++index);

  const std::string operation = "list tickets";
  auto q = impl.query(sql, operation);
  if (!q) return q.error();
  int at = 1;
  for (const auto& text : texts) q->bind(at++, std::string_view(text));
  for (const auto& [position, value] : numbers) q->bind(position, value);
  const auto limit =
      std::min<std::size_t>(query.limit, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()));
  q->bind(index, static_cast<std::int64_t>(limit));
  std::vector<std::string> ids;
  for (;;) {
    const int rc = q->step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return sqlite_error(impl.db, rc, operation);
    ids.emplace_back(q->text(0));
  }
  return ids;
}

}  // namespace

Result<std::optional<std::string>> SqliteTicketStore::find_by_group(const std::string& group_id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  if (impl_->in_unit) return reentered();
  return first_id(*impl_, sql_first_by_group, group_id, "look up the ticket of a group");
}

Result<std::optional<std::string>> SqliteTicketStore::find_by_request(const std::string& request_id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  if (impl_->in_unit) return reentered();
  return first_id(*impl_, sql_first_by_request, request_id, "look up the ticket of a request");
}

Result<std::vector<StoredTicket>> SqliteTicketStore::list(const TicketQuery& query) {
  auto listing = list_checked(query);
  if (!listing) return listing.error();
  return std::move(listing->tickets);
}

Result<std::vector<std::string>> SqliteTicketStore::list_ids(const TicketQuery& query) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  if (impl_->in_unit) return reentered();
  return matching_ids(*impl_, query);
}

Result<TicketListing> SqliteTicketStore::list_checked(const TicketQuery& query) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  if (impl_->in_unit) return reentered();
  // Ids and tickets from one snapshot (a read transaction), so that the listing is consistent.
  ReadSnapshot snapshot(*impl_);
  if (auto begun = snapshot.begin(); !begun) return begun.error();
  auto ids = matching_ids(*impl_, query);
  if (!ids) return ids.error();
  if (auto valid = impl_->revalidate_cache(); !valid) return valid.error();
  TicketListing listing;
  for (auto& ticket_id : *ids) {
    auto stored = read_ticket(*impl_, ticket_id);
    if (!stored) {
      // One damaged row must not hide every other ticket: reported, skipped. SQLite's own
      // failures (not a row's) fail the listing.
      if (stored.error().message.find("decode stored ticket") == std::string::npos) return stored.error();
      listing.unreadable.push_back(UnreadableTicket{std::move(ticket_id), stored.error()});
      continue;
    }
    if (*stored) listing.tickets.push_back(std::move(**stored));
  }
  return listing;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups

// ---------------------------------------------------------------------------------------------
// Dead letters (issue 10): rare, so plain prepared statements (not the connection's cache), one
// transaction per call under the store's lock.

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace {

/// A statement of its own, finalized when done.
class OwnStatement {
 public:
  OwnStatement() = default;
  OwnStatement(const OwnStatement&) = delete;
  OwnStatement& operator=(const OwnStatement&) = delete;
  ~OwnStatement() { sqlite3_finalize(statement_); }

  Result<void> prepare(sqlite3* db, const char* sql, const std::string& operation) {
    db_ = db;
    const int rc = sqlite3_prepare_v2(db, sql, -1, &statement_, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db, rc, operation);
    return {};
  }
  void text(int index, std::string_view value) {
    note(sqlite3_bind_text64(statement_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  void blob(int index, std::string_view value) {
    // A zero-length blob still binds as a blob (not NULL) with a non-null pointer.
    static const char empty = 0;
    note(sqlite3_bind_blob64(statement_, index, value.empty() ? &empty : value.data(), value.size(), SQLITE_TRANSIENT));
  }
  void int64(int index, std::int64_t value) { note(sqlite3_bind_int64(statement_, index, value)); }
  int step() { return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(statement_); }
  Result<void> run(const std::string& operation) {
    const int rc = step();
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
    return sqlite_error(db_, rc, operation);
  }
  std::int64_t column_int64(int column) const { return sqlite3_column_int64(statement_, column); }
  std::string column_bytes(int column) const {
    const void* data = sqlite3_column_blob(statement_, column);
    const int size = sqlite3_column_bytes(statement_, column);
    return data == nullptr ? std::string()
                           : std::string(static_cast<const char*>(data), static_cast<std::size_t>(size));
  }

 private:
  void note(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt* statement_ = nullptr;
  int bind_rc_ = SQLITE_OK;
};

ErrorCode error_code_named(const std::string& name) {
  for (ErrorCode code :
       {ErrorCode::invalid_argument, ErrorCode::unsupported, ErrorCode::transport, ErrorCode::graph_api,
        ErrorCode::decode, ErrorCode::unauthenticated, ErrorCode::conflict, ErrorCode::storage}) {
    if (name == to_string(code)) return code;
  }
  return ErrorCode::decode;  // a name from a later build: what a dead letter's error usually is
}

// Deletes the oldest letters past either bound (the newest always stays). Inside the caller's
// transaction.
Result<void> prune_dead_letters(sqlite3* db, const DeadLetterLimits& limits) {
  const std::string operation = "prune old dead letters";
  OwnStatement sizes;
  if (auto done = sizes.prepare(db, "SELECT id, length(body) FROM dead_letters ORDER BY id DESC", operation); !done)
    return done;
  std::size_t count = 0;
  std::size_t bytes = 0;
  std::optional<std::int64_t> cut;  // delete this id and every older one
  for (;;) {
    const int rc = sizes.step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return sqlite_error(db, rc, operation);
    ++count;
    bytes += static_cast<std::size_t>(sizes.column_int64(1));
    const bool too_many = limits.max_count > 0 && count > limits.max_count;
    const bool too_big = limits.max_total_bytes > 0 && bytes > limits.max_total_bytes;
    if (count > 1 && (too_many || too_big)) {
      cut = sizes.column_int64(0);
      break;
    }
  }
  if (!cut) return {};
  OwnStatement drop;
  if (auto done = drop.prepare(db, "DELETE FROM dead_letters WHERE id <= ?1", operation); !done) return done;
  drop.int64(1, *cut);
  return drop.run(operation);
}

}  // namespace

Result<std::int64_t> SqliteTicketStore::add_dead_letter(const DeadLetter& letter) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  if (impl_->in_unit) return reentered();
  const std::string operation = "add a dead letter";
  if (auto begun = impl_->exec("BEGIN IMMEDIATE", operation); !begun) return begun.error();
  auto work = [&]() -> Result<std::int64_t> {
    OwnStatement insert;
    if (auto done = insert.prepare(impl_->db,
                                   "INSERT INTO dead_letters (received_at, error_code, error_field, error_limit, "
                                   "error_message, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                   operation);
        !done)
      return done.error();
    insert.int64(1, letter.received_at);
    insert.text(2, to_string(letter.error.code));
    insert.text(3, letter.error.field);
    insert.text(4, letter.error.limit);
    insert.text(5, letter.error.message);
    insert.blob(6, letter.body);
    if (auto done = insert.run(operation); !done) return done.error();
    const std::int64_t id = sqlite3_last_insert_rowid(impl_->db);
    if (auto done = prune_dead_letters(impl_->db, impl_->options.dead_letters); !done) return done.error();
    if (auto done = impl_->exec("COMMIT", operation); !done) return done.error();
    return id;
  };
  auto id = work();
  if (!id) impl_->rollback();
  return id;
}

Result<std::vector<DeadLetter>> SqliteTicketStore::dead_letters(const DeadLetterQuery& query) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  if (impl_->in_unit) return reentered();
  const std::string operation = "list dead letters";
  OwnStatement select;
  if (auto done = select.prepare(impl_->db,
                                 "SELECT id, received_at, error_code, error_field, error_limit, error_message, body "
                                 "FROM dead_letters WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
                                 operation);
      !done)
    return done.error();
  select.int64(1, query.before_id.value_or(std::numeric_limits<std::int64_t>::max()));
  select.int64(2, static_cast<std::int64_t>(std::min<std::size_t>(
                      query.limit, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()))));
  std::vector<DeadLetter> out;
  for (;;) {
    const int rc = select.step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return sqlite_error(impl_->db, rc, operation);
    DeadLetter letter;
    letter.id = select.column_int64(0);
    letter.received_at = select.column_int64(1);
    letter.error.code = error_code_named(select.column_bytes(2));
    letter.error.field = select.column_bytes(3);
    letter.error.limit = select.column_bytes(4);
    letter.error.message = select.column_bytes(5);
    letter.body = select.column_bytes(6);
    out.push_back(std::move(letter));
  }
  return out;
}

Result<bool> SqliteTicketStore::erase_dead_letter(std::int64_t id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  if (impl_->in_unit) return reentered();
  const std::string operation = "erase a dead letter";
  OwnStatement erase;
  if (auto done = erase.prepare(impl_->db, "DELETE FROM dead_letters WHERE id = ?1", operation); !done)
    return done.error();
  erase.int64(1, id);
  if (auto done = erase.run(operation); !done) return done.error();
  return sqlite3_changes(impl_->db) > 0;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
