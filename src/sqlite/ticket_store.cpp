// SqliteTicketStore: tickets as JSON rows (to_json) in one SQLite database in WAL mode.
//
// One connection per store, guarded by a recursive mutex (recursive only so that a `work` which
// wrongly calls back into the store gets an error instead of a deadlock). A unit of work is one
// `BEGIN IMMEDIATE` transaction: SQLite's write lock, so units are serialized across processes too,
// and everything a unit read stays valid until it commits. Tickets are decoded once per unit (or
// taken from the connection's cache of decoded tickets, see TicketCache) and written back at
// commit only when their JSON changed (dirty = the serialized ticket differs from the stored
// body), so a ticket only read costs no write and keeps its version.

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

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace {

// ---------------------------------------------------------------------------------------------
// Schema history, oldest first. A new schema version is one more entry at the end; a released
// entry is never edited (databases in the field already ran it). Each runs in its own transaction
// together with its schema_migrations row and the user_version bump.

struct Migration {
  const char* description;
  const char* sql;
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
)sql"},
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

// "<operation>: <SQLite's message> (<result code name>)". SQLite's messages name tables, columns
// and files, never bound values, so no ticket content or secret reaches the error.
Error sqlite_error(sqlite3* db, int rc, const std::string& operation) {
  std::string text = operation + ": ";
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

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
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
  Result<void> run(const std::string& operation) {
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
    "INSERT INTO tickets (ticket_id, group_id, request_id, state, assignee, last_activity_at, version, body) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char* sql_update_ticket =
    "UPDATE tickets SET group_id = ?2, request_id = ?3, state = ?4, assignee = ?5, last_activity_at = ?6, "
    "version = ?7, body = ?8 WHERE ticket_id = ?1";
constexpr const char* sql_delete_ticket = "DELETE FROM tickets WHERE ticket_id = ?1";
constexpr const char* sql_delete_ticket_messages = "DELETE FROM ticket_messages WHERE ticket_id = ?1";
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
constexpr const char* sql_key_exists = "SELECT 1 FROM event_keys WHERE key = ?1";
constexpr const char* sql_insert_key = "INSERT OR IGNORE INTO event_keys (key, applied_at) VALUES (?1, ?2)";
// Rowids grow by one per inserted key (keys are only ever deleted oldest first), so this keeps
// the newest ?1 keys without counting the table.
constexpr const char* sql_prune_keys = "DELETE FROM event_keys WHERE rowid <= (SELECT max(rowid) FROM event_keys) - ?1";
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

/// A ticket as the last unit of this connection left it.
struct CachedTicket {
  std::unique_ptr<Ticket> ticket;
  std::int64_t version = 0;
  std::string body;  // the stored JSON, for the next unit's "did it change" check
};

/// Decoded tickets kept between units, least recently used dropped first, within a budget of
/// JSON bytes. A unit takes its tickets out (so a failed unit leaves nothing stale behind) and
/// puts them back after its commit; decoding a busy ticket's JSON on every unit would otherwise
/// cost as much as the rest of the unit.
class TicketCache {
 public:
  void set_budget(std::size_t bytes) { budget_ = bytes; }

  std::optional<CachedTicket> take(const std::string& id) {
    auto found = slots_.find(id);
    if (found == slots_.end()) return std::nullopt;
    CachedTicket out = std::move(found->second.entry);
    bytes_ -= cost(id, out);
    order_.erase(found->second.at);
    slots_.erase(found);
    return out;
  }

  void put(const std::string& id, CachedTicket entry) {
    const std::size_t size = cost(id, entry);
    if (size > budget_) return;
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
  }

 private:
  struct Slot {
    CachedTicket entry;
    std::list<std::string>::iterator at;
  };
  static std::size_t cost(const std::string& id, const CachedTicket& entry) { return id.size() + entry.body.size(); }

  std::unordered_map<std::string, Slot> slots_;
  std::list<std::string> order_;  // most recently used first
  std::size_t bytes_ = 0;
  std::size_t budget_ = 0;
};

struct Connection {
  sqlite3* db = nullptr;
  SqliteOptions options;
  std::string path;
  int schema_version = 0;
  std::recursive_mutex mutex;
  bool in_unit = false;  // a unit of work is running (on the thread holding `mutex`)
  std::unordered_map<std::string, sqlite3_stmt*> statements;
  TicketCache cache;
  // PRAGMA data_version when the cache was last known valid: it changes when another connection
  // (this process's or another's) commits, and then the cache may be stale.
  std::optional<std::int64_t> data_version;

  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    for (auto& entry : statements) sqlite3_finalize(entry.second);
    // _v2: closes once any statement still alive is finalized (none is: all finalized above).
    if (db != nullptr) sqlite3_close_v2(db);
  }

  /// The cached prepared statement for `sql` (prepared on first use, kept for the connection).
  Result<Query> query(const std::string& sql, const std::string& operation);

  /// Runs statements without results (DDL, pragmas, BEGIN/COMMIT).
  Result<void> exec(const std::string& sql, const std::string& operation) {
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

  Result<void> migrate();
  Result<StoredTicket> decode_row(const std::string& ticket_id, std::int64_t version, std::string_view body);
};

Result<Query> Connection::query(const std::string& sql, const std::string& operation) {
  auto found = statements.find(sql);
  if (found == statements.end()) {
    sqlite3_stmt* statement = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()) + 1, SQLITE_PREPARE_PERSISTENT,
                                      &statement, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(statement);
      return sqlite_error(db, rc, operation);
    }
    found = statements.emplace(sql, statement).first;
  }
  return Query(db, found->second);
}

Result<StoredTicket> Connection::decode_row(const std::string& ticket_id, std::int64_t version, std::string_view body) {
  auto ticket = ticket_from_json(body);
  if (!ticket) {
    return storage_error("decode stored ticket \"" + ticket_id + "\": " + ticket.error().message);
  }
  return StoredTicket{std::move(*ticket), version};
}

Result<void> Connection::migrate() {
  std::vector<Migration> migrations(std::begin(builtin_migrations), std::end(builtin_migrations));
  for (const auto& sql : options.extra_migrations_for_testing) {
    migrations.push_back({"testing", sql.c_str()});
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

  while (*current < latest) {
    const int next = *current + 1;
    const Migration& migration = migrations[static_cast<std::size_t>(next - 1)];
    const std::string operation =
        "migrate the schema to version " + std::to_string(next) + " (" + migration.description + ")";
    if (auto begun = exec("BEGIN IMMEDIATE", operation); !begun) return begun;
    // Another process may have migrated while this one waited for the lock.
    current = user_version();
    if (!current) {
      rollback();
      return current.error();
    }
    if (*current >= next) {
      rollback();
      if (*current > latest) return refuse_newer(*current);
      continue;
    }
    auto step = [&]() -> Result<void> {
      if (auto done = exec(migration.sql, operation); !done) return done;
      auto row =
          query("INSERT INTO schema_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)", operation);
      if (!row) return row.error();
      row->bind(1, static_cast<std::int64_t>(next)).bind(2, migration.description).bind(3, unix_now());
      if (auto done = row->run(operation); !done) return done;
      // PRAGMA takes no parameters; `next` is an integer this code computed.
      if (auto done = exec("PRAGMA user_version = " + std::to_string(next), operation); !done) return done;
      return exec("COMMIT", operation);
    };
    if (auto done = step(); !done) {
      rollback();
      return done;
    }
    current = next;
  }
  schema_version = *current;
  return {};
}

}  // namespace sqlite_detail

struct SqliteTicketStore::Impl : sqlite_detail::Connection {};

// ---------------------------------------------------------------------------------------------
// One unit of work

namespace {

using sqlite_detail::CachedTicket;
using sqlite_detail::Connection;

class SqliteUnit final : public TicketTransaction {
 public:
  explicit SqliteUnit(Connection& impl) : impl_(impl) {}

  Result<Ticket*> ticket(const std::string& ticket_id) override {
    auto entry = fetch(ticket_id);
    if (!entry) return entry.error();
    return (*entry)->ticket.get();
  }

  Result<Ticket*> insert(Ticket ticket) override {
    if (ticket.ticket_id.empty()) {
      return Error::invalid_argument("ticket_id", "non-empty", "a ticket needs an id to be stored");
    }
    const std::string id = ticket.ticket_id;
    auto found = touched_.find(id);
    if (found == touched_.end()) {
      auto q = query(sql_ticket_exists, "look up ticket \"" + id + "\"");
      if (!q) return q.error();
      q->bind(1, id);
      const int rc = q->step();
      if (rc == SQLITE_ROW) return conflict(id);
      if (rc != SQLITE_DONE) return fail(rc, "look up ticket \"" + id + "\"");
      found = touched_.emplace(id, Entry{}).first;
    } else if (found->second.ticket) {
      return conflict(id);
    }
    found->second.ticket = std::make_unique<Ticket>(std::move(ticket));
    return found->second.ticket.get();
  }

  Result<void> erase(const std::string& ticket_id) override {
    auto entry = fetch(ticket_id);
    if (!entry) return entry.error();
    Entry& e = **entry;
    if (e.ticket) {
      e.ticket.reset();
      e.erased = true;
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
    const std::string operation = "look up message \"" + message_id + "\"";
    auto q = query(sql_message_ticket, operation);
    if (!q) return q.error();
    q->bind(1, message_id);
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
    const std::string operation = "look up an event key";
    auto q = query(sql_key_exists, operation);
    if (!q) return q.error();
    q->bind(1, event_key);
    const int rc = q->step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return fail(rc, operation);
  }

  Result<void> record(const std::string& event_key) override {
    if (key_set_.insert(event_key).second) keys_.push_back(event_key);
    return {};
  }

  /// After COMMIT: the unit's tickets, as now stored, go (back) to the connection's cache.
  void keep_in_cache() {
    for (auto& [id, entry] : touched_) {
      if (!entry.ticket || !entry.written) continue;
      impl_.cache.put(id, CachedTicket{std::move(entry.ticket), entry.version, std::move(entry.stored_body)});
    }
  }

  /// The first SQLite failure seen by this unit, even one `work` ignored: the unit then fails.
  const std::optional<Error>& failure() const noexcept { return failure_; }

  /// Writes what the unit changed (the caller commits or rolls back).
  Result<void> write() {
    for (auto& [id, entry] : touched_) {
      if (entry.erased && entry.in_db) {
        if (auto done = run_with_id(sql_delete_ticket_messages, id, "delete the messages of ticket \"" + id + "\"");
            !done) {
          return done;
        }
      }
      if (entry.ticket) {
        if (entry.ticket->ticket_id != id) {
          return Error::invalid_argument("ticket_id", "unchanged", "ticket \"" + id + "\" had its id changed in place");
        }
        std::string body = to_json(*entry.ticket);
        if (entry.in_db && body == entry.stored_body) {
          entry.written = true;  // unchanged: as stored
          continue;
        }
        const bool fresh = !entry.in_db;
        const std::string operation = (fresh ? "insert ticket \"" : "update ticket \"") + id + "\"";
        auto q = query(fresh ? sql_insert_ticket : sql_update_ticket, operation);
        if (!q) return q.error();
        const Ticket& t = *entry.ticket;
        q->bind(1, id)
            .bind(2, t.group_id)
            .bind(3, t.request_id)
            .bind(4, std::string_view(to_string(t.state)))
            .bind(5, t.assignee)
            .bind(6, t.last_activity_at)
            .bind(7, entry.version + 1)
            .bind(8, body);
        if (auto done = run(*q, operation); !done) return done;
        // What the row holds once the unit commits.
        entry.version += 1;
        entry.stored_body = std::move(body);
        entry.in_db = true;
        entry.written = true;
      } else if (entry.in_db) {
        if (auto done = run_with_id(sql_delete_ticket, id, "delete ticket \"" + id + "\""); !done) return done;
      }
    }
    for (const auto& [message_id, ticket_id] : messages_) {
      if (gone(ticket_id)) continue;  // declared for a ticket erased since: it would dangle
      const std::string operation = "index message \"" + message_id + "\"";
      auto q = query(sql_upsert_message, operation);
      if (!q) return q.error();
      q->bind(1, message_id).bind(2, ticket_id);
      if (auto done = run(*q, operation); !done) return done;
    }
    if (!keys_.empty()) {
      const std::int64_t now = unix_now();
      for (const auto& key : keys_) {
        auto q = query(sql_insert_key, "record an event key");
        if (!q) return q.error();
        q->bind(1, key).bind(2, now);
        if (auto done = run(*q, "record an event key"); !done) return done;
      }
      if (impl_.options.max_event_keys > 0) {
        auto q = query(sql_prune_keys, "prune old event keys");
        if (!q) return q.error();
        const auto keep = std::min<std::size_t>(impl_.options.max_event_keys,
                                                static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()));
        q->bind(1, static_cast<std::int64_t>(keep));
        if (auto done = run(*q, "prune old event keys"); !done) return done;
      }
    }
    return {};
  }

 private:
  struct Entry {
    std::unique_ptr<Ticket> ticket;  // null: absent (never stored, or erased in this unit)
    std::int64_t version = 0;        // the stored version (0: not stored)
    bool in_db = false;              // a row exists at the start of the unit
    bool erased = false;             // erased in this unit (its message rows go with it)
    std::string stored_body;         // the row's JSON, to skip writing unchanged tickets
    bool written = false;            // write() brought the row in line with `ticket`
  };

  Result<Query> query(const char* sql, const std::string& operation) {
    auto q = impl_.query(sql, operation);
    if (!q) note(q.error());
    return q;
  }

  Error fail(int rc, const std::string& operation) {
    Error error = sqlite_error(impl_.db, rc, operation);
    note(error);
    return error;
  }

  void note(const Error& error) {
    if (!failure_) failure_ = error;
  }

  Result<void> run(Query& q, const std::string& operation) {
    const int rc = q.step();
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
    return fail(rc, operation);
  }

  Result<void> run_with_id(const char* sql, const std::string& id, const std::string& operation) {
    auto q = query(sql, operation);
    if (!q) return q.error();
    q->bind(1, id);
    return run(*q, operation);
  }

  /// The unit's entry for `ticket_id`, loading (and decoding) the row on first use.
  Result<Entry*> fetch(const std::string& ticket_id) {
    auto found = touched_.find(ticket_id);
    if (found != touched_.end()) return &found->second;
    if (auto cached = impl_.cache.take(ticket_id)) {
      Entry entry;
      entry.ticket = std::move(cached->ticket);
      entry.version = cached->version;
      entry.stored_body = std::move(cached->body);
      entry.in_db = true;
      return &touched_.emplace(ticket_id, std::move(entry)).first->second;
    }
    const std::string operation = "load ticket \"" + ticket_id + "\"";
    auto q = query(sql_select_ticket, operation);
    if (!q) return q.error();
    q->bind(1, ticket_id);
    const int rc = q->step();
    Entry entry;
    if (rc == SQLITE_ROW) {
      entry.version = q->int64(0);
      entry.stored_body = std::string(q->text(1));
      auto decoded = impl_.decode_row(ticket_id, entry.version, entry.stored_body);
      if (!decoded) return decoded.error();  // not cached: a corrupt row is never overwritten
      entry.ticket = std::make_unique<Ticket>(std::move(decoded->ticket));
      entry.in_db = true;
    } else if (rc != SQLITE_DONE) {
      return fail(rc, operation);
    }
    return &touched_.emplace(ticket_id, std::move(entry)).first->second;
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
    for (const auto& [id, entry] : touched_) {
      if (entry.ticket && field(*entry.ticket) == value) consider(!entry.ticket->request_id.has_value(), id);
    }
    const std::string operation = std::string("look up the ticket of a ") + what;
    auto q = query(sql, operation);
    if (!q) return q.error();
    q->bind(1, value);
    for (;;) {
      const int rc = q->step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return fail(rc, operation);
      std::string id(q->text(0));
      if (touched_.count(id) != 0) continue;  // the unit's copy (above) is the current one
      consider(q->int64(1) == 0, id);
    }
    if (!best) return std::optional<std::string>();
    return std::optional<std::string>(std::move(best->second));
  }

  Connection& impl_;
  std::map<std::string, Entry> touched_;  // ordered: commits write in ticket id order
  std::map<std::string, std::string> messages_;
  std::vector<std::string> keys_;
  std::unordered_set<std::string> key_set_;
  std::optional<Error> failure_;
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
  // Tickets are stored whole, so a unit touching a few hundred busy tickets reads megabytes: a
  // page cache larger than SQLite's 2 MiB default keeps them out of the read() path.
  if (auto done = impl->exec("PRAGMA cache_size = -16384", where + ": set cache_size"); !done) {
    return done.error();
  }
  // Busy tickets are rewritten whole by unit after unit: checkpointing every 16 MiB of WAL rather
  // than 4 copies each hot page into the database file a quarter as often. The WAL file is cut
  // back to 64 MiB after a larger (one-off, huge) unit.
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
  if (done = impl_->exec("COMMIT", "commit a unit of work"); !done) return done;
  unit.keep_in_cache();
  return {};
}

Result<std::optional<StoredTicket>> SqliteTicketStore::load(const std::string& ticket_id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  if (impl_->in_unit) return reentered();
  const std::string operation = "load ticket \"" + ticket_id + "\"";
  auto q = impl_->query(sql_select_ticket, operation);
  if (!q) return q.error();
  q->bind(1, ticket_id);
  const int rc = q->step();
  if (rc == SQLITE_DONE) return std::optional<StoredTicket>();
  if (rc != SQLITE_ROW) return sqlite_error(impl_->db, rc, operation);
  auto stored = impl_->decode_row(ticket_id, q->int64(0), q->text(1));
  if (!stored) return stored.error();
  return std::optional<StoredTicket>(std::move(*stored));
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

Result<TicketListing> SqliteTicketStore::list_checked(const TicketQuery& query) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  if (impl_->in_unit) return reentered();
  // One statement per combination of filters (at most 8, each cached), so that each can use its
  // index; a catch-all "(?1 IS NULL OR state = ?1)" would scan the table.
  std::string sql = "SELECT ticket_id, version, body FROM tickets";
  std::vector<std::string> values;
  const char* joiner = " WHERE ";
  auto filter = [&](const char* column, const std::string& value) {
    sql += joiner;
    sql += column;
    sql += " = ?" + std::to_string(values.size() + 1);
    values.push_back(value);
    joiner = " AND ";
  };
  if (query.state) filter("state", to_string(*query.state));
  if (query.assignee) filter("assignee", *query.assignee);
  if (query.group_id) filter("group_id", *query.group_id);
  sql += " ORDER BY ticket_id LIMIT ?" + std::to_string(values.size() + 1);

  const std::string operation = "list tickets";
  auto q = impl_->query(sql, operation);
  if (!q) return q.error();
  int index = 1;
  for (const auto& value : values) q->bind(index++, std::string_view(value));
  const auto limit =
      std::min<std::size_t>(query.limit, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()));
  q->bind(index, static_cast<std::int64_t>(limit));

  TicketListing listing;
  for (;;) {
    const int rc = q->step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return sqlite_error(impl_->db, rc, operation);
    std::string ticket_id(q->text(0));
    auto stored = impl_->decode_row(ticket_id, q->int64(1), q->text(2));
    if (!stored) {
      // One damaged row must not hide every other ticket: reported, skipped.
      listing.unreadable.push_back(UnreadableTicket{std::move(ticket_id), stored.error()});
      continue;
    }
    listing.tickets.push_back(std::move(*stored));
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
