// SqliteTicketStore: tickets in one SQLite database in WAL mode, schema v2: a header row per ticket
// (indexed columns and the head as JSON), one row per timeline message, member and invite.
//
// One connection per store, guarded by a recursive mutex (recursive only so that a `work` which
// wrongly calls back into the store gets an error instead of a deadlock). A unit of work is one
// `BEGIN IMMEDIATE` transaction: SQLite's write lock, so units are serialized across processes too,
// and everything a unit read stays valid until it commits. The unit itself (what is fetched, and
// which rows are written at its end) is tickets_detail::RowUnit, shared with PostgresTicketStore
// (src/tickets/row_unit.hpp); this file holds its statements (SqliteRows), the connection's
// cache of decoded tickets (valid while no other connection committed) and the event-key index.

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
#include "../tickets/row_unit.hpp"
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
  tickets_detail::TicketCache cache;
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
  /// keys other connections added, and how far they (or this one, see `SqliteRows::committed`)
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
  return tickets_detail::decode_error("SqliteTicketStore", ticket_id, part, error);
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
  tickets_detail::sort_timeline(out.ticket.timeline);
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
    const bool split = ticket->ticket_id == id && tickets_detail::rows_keep_timeline(ticket->timeline);
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
// One unit of work: tickets_detail::RowUnit over this connection's statements

namespace {

using sqlite_detail::Connection;
using sqlite_detail::KeyIndex;
using tickets_detail::CachedTicket;
using tickets_detail::RowBackend;

// Past this many committed units or this many seconds, a commit also prunes expired event keys.
constexpr std::size_t kPruneEveryUnits = 256;
constexpr std::int64_t kPruneEverySeconds = 60;
constexpr std::int64_t kPruneAtLeast = 1024;

/// The statements of one unit. The unit holds SQLite's write lock from BEGIN IMMEDIATE to COMMIT,
/// so everything it reads stays valid until then, and the connection's cache (revalidated at
/// BEGIN) is current.
class SqliteRows final : public RowBackend {
 public:
  explicit SqliteRows(Connection& impl) : impl_(impl) {}

  Result<std::optional<CachedTicket>> fetch(const std::string& ticket_id) override {
    if (auto cached = impl_.cache.take(ticket_id)) return cached;
    auto loaded = impl_.load(ticket_id);
    if (!loaded) return loaded.error();
    if (!*loaded) return std::optional<CachedTicket>();
    CachedTicket out;
    out.ticket = std::make_unique<Ticket>(std::move((*loaded)->ticket));
    out.version = (*loaded)->version;
    out.head = std::move((*loaded)->head);
    out.whole_row = (*loaded)->whole_row;
    out.bytes = tickets_detail::ticket_bytes(*out.ticket);
    return std::optional<CachedTicket>(std::move(out));
  }

  Result<bool> ticket_exists(const std::string& ticket_id) override {
    return exists(sql_ticket_exists, ticket_id, nullptr, Op("look up ticket \"", ticket_id, "\""));
  }

  Result<bool> message_row_exists(const std::string& ticket_id, const std::string& message_id) override {
    return exists(sql_timeline_row_exists, ticket_id, &message_id,
                  Op("look up a message of ticket \"", ticket_id, "\""));
  }

  Result<std::vector<Linked>> linked(bool by_group, const std::string& value) override {
    const Op operation("look up the ticket of a ", by_group ? "group" : "request");
    auto q = impl_.query(by_group ? sql_tickets_by_group : sql_tickets_by_request, operation);
    if (!q) return q.error();
    q->bind_static(1, value);
    std::vector<Linked> found;
    for (;;) {
      const int rc = q->step();
      if (rc == SQLITE_DONE) return found;
      if (rc != SQLITE_ROW) return sqlite_error(impl_.db, rc, operation);
      found.push_back(Linked{q->int64(1) == 0, std::string(q->text(0))});
    }
  }

  Result<std::optional<std::string>> message_ticket(const std::string& message_id) override {
    const Op operation("look up message \"", message_id, "\"");
    auto q = impl_.query(sql_message_ticket, operation);
    if (!q) return q.error();
    q->bind_static(1, message_id);
    const int rc = q->step();
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    if (rc != SQLITE_ROW) return sqlite_error(impl_.db, rc, operation);
    return std::optional<std::string>(std::string(q->text(0)));
  }

  /// Whether an earlier unit recorded `key`: the index's candidates, confirmed by their rows.
  Result<bool> key_stored(const std::string& key) override {
    const Op operation("look up an event key");
    std::optional<Error> error;
    const bool found = impl_.keys.any_of(KeyIndex::hash(key), [&](std::int64_t id) {
      auto q = impl_.query(sql_key_at, operation);
      if (!q) {
        error = q.error();
        return true;
      }
      q->bind(1, id);
      const int rc = q->step();
      if (rc == SQLITE_ROW) return q->text(0) == key;
      if (rc != SQLITE_DONE) {
        error = sqlite_error(impl_.db, rc, operation);
        return true;
      }
      return false;  // pruned since
    });
    if (error) return *error;
    return found;
  }

  Result<void> insert_header(const Ticket& t, std::int64_t version, const std::string& body, std::string&) override {
    return impl_.write_header(true, t, version, body);
  }

  Result<void> update_header(const Ticket& t, const Ticket* before, std::int64_t version, const std::string& body,
                             std::string&) override {
    if (before == nullptr) return impl_.write_header(false, t, version, body);
    return impl_.update_header(t, *before, version, body);
  }

  Result<void> write_member(const std::string& id, std::size_t position, std::int64_t version,
                            const Member& m) override {
    return impl_.write_member(id, position, version, m);
  }

  Result<void> write_invite(const std::string& id, std::size_t position, std::int64_t version,
                            const Invite& i) override {
    return impl_.write_invite(id, position, version, i);
  }

  Result<void> write_message(const std::string& id, std::int64_t version, const TimelineMessage& m,
                             bool same_timestamp) override {
    return impl_.write_message(id, version, m, same_timestamp);
  }

  Result<void> delete_message(const std::string& id, const std::string& message_id) override {
    return impl_.delete_message(id, message_id);
  }

  Result<void> trim(Part part, const std::string& id, std::size_t size) override {
    return impl_.trim(part == Part::members ? sql_trim_members : sql_trim_invites, id, size,
                      Op("delete members or invites of ticket \"", id, "\""));
  }

  Result<void> delete_parts(const std::string& id) override { return impl_.delete_parts(id); }

  Result<void> delete_ticket(const std::string& id) override {
    if (auto done = impl_.run_id(sql_delete_ticket_messages, id, Op("delete the messages of ticket \"", id, "\""));
        !done) {
      return done;
    }
    if (auto done = impl_.delete_parts(id); !done) return done;
    return impl_.run_id(sql_delete_ticket, id, Op("delete ticket \"", id, "\""));
  }

  Result<void> index_message(const std::string& message_id, const std::string& ticket_id) override {
    const Op operation("index message \"", message_id, "\"");
    auto q = impl_.query(sql_upsert_message, operation);
    if (!q) return q.error();
    q->bind_static(1, message_id).bind_static(2, ticket_id);
    return q->run(operation);
  }

  Result<void> record_keys(const std::vector<std::string>& keys) override {
    const std::int64_t now = impl_.now();
    for (const auto& key : keys) {
      // A host's unit may record a key without asking `applied` first: the log keeps one row each.
      auto known = key_stored(key);
      if (!known) return known.error();
      if (*known) continue;
      auto q = impl_.query(sql_insert_key, "record an event key");
      if (!q) return q.error();
      q->bind_static(1, key).bind(2, now);
      if (auto done = q->run("record an event key"); !done) return done;
      new_keys_.emplace_back(KeyIndex::hash(key), sqlite3_last_insert_rowid(impl_.db));
    }
    recorded_ = keys.size();
    if (!keys.empty() && impl_.options.max_event_keys > 0) {
      capped_ = true;
      auto q = impl_.query(sql_prune_keys, "prune old event keys");
      if (!q) return q.error();
      const auto keep = std::min<std::size_t>(impl_.options.max_event_keys,
                                              static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()));
      q->bind(1, static_cast<std::int64_t>(keep));
      if (auto done = q->run("prune old event keys"); !done) return done;
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
      impl_.keys_since_prune += recorded_;
    }
  }

 private:
  Result<bool> exists(const char* sql, const std::string& first, const std::string* second, const Op& operation) {
    auto q = impl_.query(sql, operation);
    if (!q) return q.error();
    q->bind_static(1, first);
    if (second != nullptr) q->bind_static(2, *second);
    const int rc = q->step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite_error(impl_.db, rc, operation);
    return rc == SQLITE_ROW;
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
    auto q = impl_.query(sql_prune_old_keys, operation);
    if (!q) return q.error();
    const auto recent = static_cast<std::int64_t>(
        std::min<std::size_t>(impl_.keys_since_prune + recorded_, std::numeric_limits<std::int64_t>::max() / 4));
    q->bind(1, now - retention).bind(2, std::max(kPruneAtLeast, 2 * recent));
    if (auto done = q->run(operation); !done) return done;
    pruned_ = true;
    pruned_at_ = now;
    return {};
  }

  Connection& impl_;
  std::vector<std::pair<std::uint64_t, std::int64_t>> new_keys_;  // (hash, id) inserted by record_keys
  std::size_t recorded_ = 0;                                      // keys the unit recorded
  bool capped_ = false;                                           // max_event_keys pruning ran
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
  SqliteRows rows(*impl_);
  tickets_detail::RowUnit unit(rows, "SqliteTicketStore");
  if (auto done = unit.run(work); !done) return done;  // rolled back by `leave`
  if (auto done = impl_->exec("COMMIT", "commit a unit of work"); !done) return done;
  rows.committed();
  unit.keep_in(impl_->cache);
  return {};
}

namespace {

/// A stored ticket outside a unit: a copy of the cached one when the cache is current, else read
/// from its rows.
Result<std::optional<StoredTicket>> read_ticket(Connection& impl, const std::string& ticket_id) {
  if (const tickets_detail::CachedTicket* cached = impl.cache.peek(ticket_id)) {
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
      if (!tickets_detail::is_decode_error(stored.error())) return stored.error();
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
    letter.error.code = tickets_detail::dead_letter_code(select.column_bytes(2));
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
