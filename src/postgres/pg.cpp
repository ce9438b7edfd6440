// libpq wrapper for PostgresTicketStore. See pg.hpp.

#include "pg.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <utility>

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace pg {

namespace {

Error storage(std::string message) { return tickets_detail::store_error("PostgresTicketStore", std::move(message)); }

// The server's primary message only: libpq's full text may echo a DETAIL with row values (a
// customer's number in a unique violation) or, for connection failures, the host and user.
std::string primary_message(const PGresult* r, PGconn* conn) {
  const char* primary = r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (primary != nullptr && *primary != '\0') return primary;
  const char* text = conn != nullptr ? PQerrorMessage(conn) : nullptr;
  std::string out = text != nullptr ? text : "unknown error";
  // libpq's own text runs over several lines (hints); the first says what failed.
  if (const auto end = out.find('\n'); end != std::string::npos) out.resize(end);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The versioned schema, in the layout of SqliteTicketStore's v2 (docs/tickets.md): a header row
// per ticket with the indexed columns, one row per timeline message, member and invite, the
// message index, and the event keys, whose primary key makes dedupe atomic across receivers.
struct Migration {
  const char* description;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {"tickets as rows; message index; event keys; dead letters", R"sql(
CREATE TABLE tickets (
  ticket_id text PRIMARY KEY,
  group_id text,
  request_id text,
  state text NOT NULL,
  assignee text,
  last_activity_at bigint NOT NULL,
  resolved_at bigint,
  version bigint NOT NULL,
  body text NOT NULL
);
CREATE INDEX tickets_group_id ON tickets (group_id);
CREATE INDEX tickets_request_id ON tickets (request_id);
CREATE INDEX tickets_state ON tickets (state);
CREATE INDEX tickets_assignee ON tickets (assignee);
CREATE INDEX tickets_last_activity_at ON tickets (last_activity_at);
CREATE INDEX tickets_resolved_at ON tickets (resolved_at);
CREATE TABLE ticket_timeline (
  ticket_id text NOT NULL,
  message_id text NOT NULL,
  timestamp bigint NOT NULL,
  version bigint NOT NULL,
  body text NOT NULL,
  PRIMARY KEY (ticket_id, message_id)
);
CREATE TABLE ticket_members (
  ticket_id text NOT NULL,
  position integer NOT NULL,
  version bigint NOT NULL,
  body text NOT NULL,
  PRIMARY KEY (ticket_id, position)
);
CREATE TABLE ticket_invites (
  ticket_id text NOT NULL,
  position integer NOT NULL,
  version bigint NOT NULL,
  body text NOT NULL,
  PRIMARY KEY (ticket_id, position)
);
CREATE TABLE ticket_messages (
  message_id text PRIMARY KEY,
  ticket_id text NOT NULL
);
CREATE INDEX ticket_messages_ticket_id ON ticket_messages (ticket_id);
CREATE TABLE event_keys (
  key text PRIMARY KEY,
  applied_at bigint NOT NULL
);
CREATE INDEX event_keys_applied_at ON event_keys (applied_at);
CREATE TABLE dead_letters (
  id bigserial PRIMARY KEY,
  received_at bigint NOT NULL,
  error_code text NOT NULL,
  error_field text NOT NULL,
  error_limit text NOT NULL,
  error_message text NOT NULL,
  body bytea NOT NULL
);
)sql"},
};

constexpr int kLatest = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);

}  // namespace

int latest_schema_version() noexcept { return kLatest; }

bool valid_schema_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 63) return false;
  if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'))) return false;
  for (char c : name)
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return name.substr(0, 3) != "pg_";  // reserved for the system
}

Result<std::unique_ptr<Connection>> Connection::connect(const std::string& conninfo, const std::string& schema) {
  if (!valid_schema_name(schema)) {
    return Error::invalid_argument("schema", "a lower-case identifier of at most 63 bytes, not pg_*",
                                   "the PostgreSQL schema name is not a plain identifier");
  }
  // libpq's own texts quote the connection string it could not parse, and the host, user or
  // database it could not reach, any of which may hold (part of) a password: a string that does
  // not parse is refused without libpq's text, and every value it names is masked in a failure
  // to connect.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &parse_error);
  if (parse_error != nullptr) PQfreemem(parse_error);
  if (parsed == nullptr) {
    return storage(
        "connect to the PostgreSQL server: the connection string does not parse (its text is not "
        "repeated here: it may hold a password)");
  }
  std::vector<std::string> values;
  for (const PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view value(o->val);
    const bool digits = value.find_first_not_of("0123456789") == std::string_view::npos;
    if (value.size() >= 2 && !digits) values.emplace_back(value);
  }
  PQconninfoFree(parsed);
  PGconn* raw = PQconnectdb(conninfo.c_str());
  if (raw == nullptr) return storage("connect to the PostgreSQL server: out of memory");
  std::unique_ptr<Connection> c(new Connection(raw));
  // The server's notices (e.g. "schema already exists, skipping") are not the host's stderr's.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  if (PQstatus(raw) != CONNECTION_OK) {
    std::string message = primary_message(nullptr, raw);
    // Longest first, so that a value inside another is not left half masked.
    std::sort(values.begin(), values.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const auto& value : values) {
      for (auto at = message.find(value); at != std::string::npos; at = message.find(value, at + 3)) {
        message.replace(at, value.size(), "***");
      }
    }
    return storage("connect to the PostgreSQL server: " + message);
  }
  // Every statement of the store names its tables unqualified: they are the schema's.
  const std::string set_path = "SET search_path TO " + schema;
  if (auto done = c->exec(set_path.c_str(), "select the schema"); !done) return done.error();
  return c;
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

Error Connection::failure(const PGresult* r, std::string_view operation) {
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  const Failure kind = sqlstate.empty() && PQstatus(conn_) != CONNECTION_OK ? Failure::connection : classify(sqlstate);
  if (kind == Failure::connection) broken_ = true;
  Error e = storage(std::string(operation) + ": " + primary_message(r, conn_) +
                    (sqlstate.empty() ? std::string() : " (SQLSTATE " + sqlstate + ")"));
  if (kind == Failure::retry) e.code = ErrorCode::conflict;
  if (kind == Failure::data) e.code = ErrorCode::invalid_argument;
  return e;
}

Result<void> Connection::commit(std::string_view operation) {
  PgResult r(PQexec(conn_, "COMMIT"));
  const ExecStatusType status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK) return failure(r.get(), operation);
  // COMMIT of a transaction that failed earlier answers "ROLLBACK", not an error.
  if (std::string_view(PQcmdStatus(r.get())) != "COMMIT") {
    return storage(std::string(operation) + ": the transaction had failed and was rolled back");
  }
  return {};
}

Result<void> Connection::exec(const char* sql, std::string_view operation) {
  PgResult r(PQexec(conn_, sql));
  const ExecStatusType status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return failure(r.get(), operation);
  return {};
}

Result<PgResult> Connection::run(const char* name, const char* sql,
                                 const std::vector<std::optional<std::string_view>>& params,
                                 std::string_view operation) {
  for (const auto& p : params) {
    if (p && p->find('\0') != std::string_view::npos) {
      return Error::invalid_argument("value", "no NUL byte",
                                     std::string("PostgresTicketStore: ") + std::string(operation) +
                                         ": a value holds a NUL byte, which PostgreSQL text cannot store");
    }
  }
  if (prepared_.count(name) == 0) {
    PgResult p(PQprepare(conn_, name, sql, static_cast<int>(params.size()), nullptr));
    if (!p || PQresultStatus(p.get()) != PGRES_COMMAND_OK) return failure(p.get(), operation);
    prepared_.insert(name);
  }
  // Text parameters need NUL-terminated copies (libpq reads C strings unless lengths are given
  // with binary formats; text format takes the length too, but the value must not hold a NUL,
  // which PostgreSQL text refuses anyway).
  std::vector<std::string> copies;
  copies.reserve(params.size());
  std::vector<const char*> values(params.size(), nullptr);
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!params[i]) continue;
    copies.emplace_back(*params[i]);
    values[i] = copies.back().c_str();
  }
  PgResult r(PQexecPrepared(conn_, name, static_cast<int>(params.size()), values.data(), nullptr, nullptr, 0));
  const ExecStatusType status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return failure(r.get(), operation);
  return r;
}

Result<Pool::Lease> Pool::acquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    if (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(c));
    }
    if (open_ < size_) {
      ++open_;
      lock.unlock();  // connecting takes a round trip or more: not under the pool's lock
      auto c = Connection::connect(conninfo_, schema_);
      if (!c) {
        std::lock_guard<std::mutex> relock(mutex_);
        --open_;
        available_.notify_one();
        return c.error();
      }
      return Lease(*this, std::move(*c));
    }
    if (available_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= size_) {
      return storage("no PostgreSQL connection free within the pool's acquire timeout");
    }
  }
}

Result<Pool::Lease> Pool::begin(const char* begin_sql, std::string_view operation) {
  for (std::size_t attempt = 0;; ++attempt) {
    auto lease = acquire();
    if (!lease) return lease.error();
    auto begun = (*lease)->exec(begin_sql, operation);
    if (begun) return lease;
    // Every idle connection may be stale after a restart: at most one try each, then a new one.
    if (!(*lease)->broken() || attempt > size_) return begun.error();
  }
}

void Pool::give_back(std::unique_ptr<Connection> c) {
  if (c->in_transaction() && !c->broken()) (void)c->exec("ROLLBACK", "roll back an abandoned unit");
  std::lock_guard<std::mutex> lock(mutex_);
  if (c->broken() || c->in_transaction()) {  // never handed out again inside an old transaction
    --open_;  // closed as `c` goes; the next acquire connects anew
  } else {
    idle_.push_back(std::move(c));
  }
  available_.notify_one();
}

Result<int> migrate(Connection& c, const std::string& schema) {
  if (auto begun = c.exec("BEGIN", "begin the schema migration"); !begun) return begun.error();
  auto fail = [&](Error e) -> Result<int> {
    (void)c.exec("ROLLBACK", "roll back the schema migration");
    return e;
  };
  // One migration at a time per schema, across every receiver starting at once.
  const std::string lock_key = "wagroups:" + schema;
  if (auto locked = c.run("wagroups_migration_lock", "SELECT pg_advisory_xact_lock(hashtext($1))", {lock_key},
                          "lock the schema for migration");
      !locked) {
    return fail(locked.error());
  }
  const std::string create = "CREATE SCHEMA IF NOT EXISTS " + schema;
  if (auto done = c.exec(create.c_str(), "create the schema"); !done) return fail(done.error());
  if (auto done = c.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                         "description text NOT NULL, applied_at bigint NOT NULL)",
                         "create the migrations table");
      !done) {
    return fail(done.error());
  }
  auto current = c.run("wagroups_schema_version", "SELECT coalesce(max(version), 0) FROM schema_migrations", {},
                       "read the schema version");
  if (!current) return fail(current.error());
  const int found = std::atoi(PQgetvalue(current->get(), 0, 0));
  if (found > kLatest) {
    return fail(storage("the schema is at version " + std::to_string(found) + ", newer than this build knows (" +
                        std::to_string(kLatest) + "): written by a later wagroups"));
  }
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (int next = found + 1; next <= kLatest; ++next) {
    const Migration& m = kMigrations[next - 1];
    if (auto done = c.exec(m.sql, "migrate the schema"); !done) return fail(done.error());
    const std::string version = std::to_string(next);
    const std::string at = std::to_string(now);
    if (auto done = c.run("wagroups_record_migration",
                          "INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)",
                          {version, std::string_view(m.description), at}, "record the migration");
        !done) {
      return fail(done.error());
    }
  }
  if (auto done = c.exec("COMMIT", "commit the schema migration"); !done) return fail(done.error());
  return kLatest;
}

}  // namespace pg
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
