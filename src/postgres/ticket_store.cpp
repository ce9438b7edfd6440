// PostgresTicketStore: the v2 row layout of SqliteTicketStore on PostgreSQL, for several
// receivers at once (see include/wagroups/postgres/ticket_store.hpp). The unit of work is
// tickets_detail::RowUnit (src/tickets/row_unit.hpp), shared with SQLite; this file holds its
// statements (PgRows), the reads outside a unit, and the dead letters.

#include "wagroups/postgres/ticket_store.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "../tickets/row_unit.hpp"
#include "../tickets/ticket_json.hpp"
#include "pg.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

struct PostgresTicketStore::Impl {
  PostgresOptions options;
  pg::Pool pool;
  int schema_version = 0;

  Impl(const std::string& conninfo, PostgresOptions o)
      : options(std::move(o)), pool(conninfo, options.schema, options.pool_size, options.acquire_timeout) {}

  std::int64_t now() const {
    const auto at = options.clock ? options.clock() : std::chrono::system_clock::now();
    return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
  }

  /// Each pooled connection has a cache of its own: the store's budget shared between them.
  std::size_t cache_budget() const { return options.ticket_cache_bytes / std::max<std::size_t>(1, options.pool_size); }

  // Event-key pruning, after a unit's COMMIT and outside it (inside, every receiver's unit would
  // delete the same oldest rows and fail the others' SERIALIZABLE units): at most once per
  // kPruneEveryUnits units or kPruneEverySeconds of the store's clock, a bounded number of rows.
  std::mutex prune_mutex;
  std::optional<std::int64_t> last_prune_at;
  std::size_t units_since_prune = 0;
  std::size_t keys_since_prune = 0;
  void prune_keys(pg::Connection& c, std::int64_t now, std::size_t recorded);
};

namespace {
// The store whose unit this thread is running (calling the store from inside `work` would take a
// second connection, commit on its own, and could wait on the unit's own row locks forever).
thread_local const void* store_in_unit = nullptr;

Result<void> refuse_nested(const void* store) {
  if (store_in_unit != store) return {};
  Error e;
  e.code = ErrorCode::storage;
  e.message =
      "PostgresTicketStore: the store was called from inside a unit of work; use the TicketTransaction "
      "given to `work`";
  return e;
}
}  // namespace

namespace {

using Params = std::vector<std::optional<std::string_view>>;
using pg::PgResult;

using tickets_detail::CachedTicket;

constexpr std::size_t kPruneEveryUnits = 256;
constexpr std::int64_t kPruneEverySeconds = 60;
constexpr std::size_t kPruneAtLeast = 1024;

Error storage_error(std::string message) {
  return tickets_detail::store_error("PostgresTicketStore", std::move(message));
}

std::optional<std::string_view> opt(const std::optional<std::string>& s) {
  return s ? std::optional<std::string_view>(*s) : std::nullopt;
}

std::string_view cell(const PgResult& r, int row, int column) {
  return std::string_view(PQgetvalue(r.get(), row, column),
                          static_cast<std::size_t>(PQgetlength(r.get(), row, column)));
}

// Statements by name (prepared once per connection).
struct Sql {
  const char* name;
  const char* text;
};
// xmin: the transaction that wrote the row last (see PgRows::fetch).
constexpr Sql kSelectTicketLocked{"t_select_locked",
                                  "SELECT version, xmin::text, body FROM tickets WHERE ticket_id = $1 FOR UPDATE"};
constexpr Sql kSelectTicket{"t_select", "SELECT version, xmin::text, body FROM tickets WHERE ticket_id = $1"};
constexpr Sql kSelectMembers{"t_members", "SELECT body FROM ticket_members WHERE ticket_id = $1 ORDER BY position"};
constexpr Sql kSelectInvites{"t_invites", "SELECT body FROM ticket_invites WHERE ticket_id = $1 ORDER BY position"};
constexpr Sql kSelectTimeline{"t_timeline", "SELECT body FROM ticket_timeline WHERE ticket_id = $1"};
constexpr Sql kTicketExists{"t_exists", "SELECT 1 FROM tickets WHERE ticket_id = $1"};
constexpr Sql kInsertTicket{
    "t_insert",
    "INSERT INTO tickets (ticket_id, group_id, request_id, state, assignee, last_activity_at, "
    "resolved_at, version, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING xmin::text"};
constexpr Sql kUpdateTicket{"t_update",
                            "UPDATE tickets SET group_id = $2, request_id = $3, state = $4, assignee = $5, "
                            "last_activity_at = $6, resolved_at = $7, version = $8, body = $9 WHERE ticket_id = $1 "
                            "RETURNING xmin::text"};
constexpr Sql kDeleteTicket{"t_delete", "DELETE FROM tickets WHERE ticket_id = $1"};
constexpr Sql kDeleteMembers{"t_delete_members", "DELETE FROM ticket_members WHERE ticket_id = $1"};
constexpr Sql kDeleteInvites{"t_delete_invites", "DELETE FROM ticket_invites WHERE ticket_id = $1"};
constexpr Sql kDeleteTimeline{"t_delete_timeline", "DELETE FROM ticket_timeline WHERE ticket_id = $1"};
constexpr Sql kDeleteTicketMessages{"t_delete_index", "DELETE FROM ticket_messages WHERE ticket_id = $1"};
constexpr Sql kTrimMembers{"t_trim_members", "DELETE FROM ticket_members WHERE ticket_id = $1 AND position >= $2"};
constexpr Sql kTrimInvites{"t_trim_invites", "DELETE FROM ticket_invites WHERE ticket_id = $1 AND position >= $2"};
constexpr Sql kUpsertMember{"t_upsert_member",
                            "INSERT INTO ticket_members (ticket_id, position, version, body) VALUES ($1, $2, $3, $4) "
                            "ON CONFLICT (ticket_id, position) DO UPDATE SET version = excluded.version, "
                            "body = excluded.body"};
constexpr Sql kUpsertInvite{"t_upsert_invite",
                            "INSERT INTO ticket_invites (ticket_id, position, version, body) VALUES ($1, $2, $3, $4) "
                            "ON CONFLICT (ticket_id, position) DO UPDATE SET version = excluded.version, "
                            "body = excluded.body"};
constexpr Sql kUpsertMessage{"t_upsert_message",
                             "INSERT INTO ticket_timeline (ticket_id, message_id, timestamp, version, body) VALUES "
                             "($1, $2, $3, $4, $5) ON CONFLICT (ticket_id, message_id) DO UPDATE SET "
                             "timestamp = excluded.timestamp, version = excluded.version, body = excluded.body"};
constexpr Sql kDeleteMessage{"t_delete_message",
                             "DELETE FROM ticket_timeline WHERE ticket_id = $1 AND message_id = $2"};
constexpr Sql kMessageRowExists{"t_message_exists",
                                "SELECT 1 FROM ticket_timeline WHERE ticket_id = $1 AND message_id = $2"};
constexpr Sql kByGroup{"t_by_group", "SELECT ticket_id, request_id IS NULL FROM tickets WHERE group_id = $1"};
constexpr Sql kByRequest{"t_by_request", "SELECT ticket_id, false FROM tickets WHERE request_id = $1"};
constexpr Sql kFirstByGroup{"t_first_by_group",
                            "SELECT ticket_id FROM tickets WHERE group_id = $1 "
                            "ORDER BY request_id IS NULL, ticket_id COLLATE \"C\" LIMIT 1"};
constexpr Sql kFirstByRequest{
    "t_first_by_request",
    "SELECT ticket_id FROM tickets WHERE request_id = $1 ORDER BY ticket_id COLLATE \"C\" LIMIT 1"};
constexpr Sql kMessageTicket{"t_message_ticket", "SELECT ticket_id FROM ticket_messages WHERE message_id = $1"};
constexpr Sql kUpsertIndex{"t_upsert_index",
                           "INSERT INTO ticket_messages (message_id, ticket_id) VALUES ($1, $2) "
                           "ON CONFLICT (message_id) DO UPDATE SET ticket_id = excluded.ticket_id"};
constexpr Sql kKeyExists{"t_key_exists", "SELECT 1 FROM event_keys WHERE key = $1"};
constexpr Sql kInsertKey{"t_insert_key",
                         "INSERT INTO event_keys (key, applied_at) VALUES ($1, $2) ON CONFLICT DO NOTHING"};
constexpr Sql kPruneKeys{"t_prune_keys",
                         "DELETE FROM event_keys WHERE key IN (SELECT key FROM event_keys WHERE applied_at < $1 "
                         "ORDER BY applied_at LIMIT $2)"};

Result<PgResult> run(pg::Connection& c, const Sql& sql, const Params& params, std::string_view operation) {
  return c.run(sql.name, sql.text, params, operation);
}

constexpr std::string_view kStore = "PostgresTicketStore";

/// The header row's version, xmin and body; none when absent. `lock`: FOR UPDATE (inside a unit).
Result<std::optional<CachedTicket>> read_header(pg::Connection& c, const std::string& id, bool lock) {
  auto header = run(c, lock ? kSelectTicketLocked : kSelectTicket, {id}, "load ticket \"" + id + "\"");
  if (!header) return header.error();
  if (PQntuples(header->get()) == 0) return std::optional<CachedTicket>();
  CachedTicket out;
  out.version = std::strtoll(PQgetvalue(header->get(), 0, 0), nullptr, 10);
  out.stamp = std::string(cell(*header, 0, 1));
  out.head = std::string(cell(*header, 0, 2));
  return std::optional<CachedTicket>(std::move(out));
}

/// Decodes the ticket of a header read by read_header: its head, then (unless the header row holds
/// the whole ticket) its member, invite and message rows.
Result<void> decode_rows(pg::Connection& c, const std::string& id, CachedTicket& out) {
  auto head = tickets_detail::head_from_json(out.head, out.whole_row);
  if (!head) return tickets_detail::decode_error(kStore, id, "", head.error());
  out.ticket = std::make_unique<Ticket>(std::move(*head));
  Ticket& t = *out.ticket;
  if (!out.whole_row) {
    const std::string operation = "load the rows of ticket \"" + id + "\"";
    auto rows = [&](const Sql& sql, const char* what, auto decode, auto& into) -> Result<void> {
      auto r = run(c, sql, {id}, operation);
      if (!r) return r.error();
      const int n = PQntuples(r->get());
      into.reserve(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) {
        auto item = decode(cell(*r, i, 0));
        if (!item) {
          return tickets_detail::decode_error(kStore, id, std::string(" ") + what + " " + std::to_string(i),
                                              item.error());
        }
        into.push_back(std::move(*item));
      }
      return {};
    };
    if (auto done = rows(
            kSelectMembers, "member", [](std::string_view j) { return tickets_detail::member_from_json(j); },
            t.members);
        !done) {
      return done;
    }
    if (auto done = rows(
            kSelectInvites, "invite", [](std::string_view j) { return tickets_detail::invite_from_json(j); },
            t.invites);
        !done) {
      return done;
    }
    if (auto done = rows(
            kSelectTimeline, "message", [](std::string_view j) { return tickets_detail::message_from_json(j); },
            t.timeline);
        !done) {
      return done;
    }
    tickets_detail::sort_timeline(t.timeline);
  }
  out.bytes = tickets_detail::ticket_bytes(t);
  return {};
}

/// A ticket outside a unit (inside the caller's snapshot): none when absent.
Result<std::optional<StoredTicket>> read_ticket(pg::Connection& c, const std::string& id) {
  auto header = read_header(c, id, false);
  if (!header) return header.error();
  if (!*header) return std::optional<StoredTicket>();
  if (auto done = decode_rows(c, id, **header); !done) return done.error();
  return std::optional<StoredTicket>(StoredTicket{std::move(*(*header)->ticket), (*header)->version});
}

/// The statements of one unit, a SERIALIZABLE transaction on one pooled connection.
class PgRows final : public tickets_detail::RowBackend {
 public:
  /// `now`: the store's clock, for the keys' stamps.
  PgRows(pg::Connection& c, std::int64_t now) : c_(c), now_(now) {}

  /// The header row is locked first (every writer of the ticket locks it), so that what the unit
  /// reads of the ticket stays as read until it commits. The connection's cached copy is used
  /// when the row's version and xmin are those it was cached with: any other receiver's write,
  /// or an erase and a new insert under the same id, changes the xmin.
  Result<std::optional<CachedTicket>> fetch(const std::string& ticket_id) override {
    std::optional<CachedTicket> cached = c_.cache.take(ticket_id);
    auto header = read_header(c_, ticket_id, true);
    if (!header || !*header) return header;
    if (cached && cached->version == (*header)->version && cached->stamp == (*header)->stamp &&
        cached->head == (*header)->head) {
      return cached;
    }
    if (auto done = decode_rows(c_, ticket_id, **header); !done) return done.error();
    return header;
  }

  Result<bool> ticket_exists(const std::string& ticket_id) override {
    return any_row(kTicketExists, {ticket_id}, "look up ticket \"" + ticket_id + "\"");
  }

  Result<bool> message_row_exists(const std::string& ticket_id, const std::string& message_id) override {
    return any_row(kMessageRowExists, {ticket_id, message_id}, "look up a message of ticket \"" + ticket_id + "\"");
  }

  Result<std::vector<Linked>> linked(bool by_group, const std::string& value) override {
    auto r = run(c_, by_group ? kByGroup : kByRequest, {value}, "look up the ticket of a group or request");
    if (!r) return r.error();
    std::vector<Linked> found;
    for (int i = 0; i < PQntuples(r->get()); ++i)
      found.push_back(Linked{cell(*r, i, 1) == "t", std::string(cell(*r, i, 0))});
    return found;
  }

  Result<std::optional<std::string>> message_ticket(const std::string& message_id) override {
    auto r = run(c_, kMessageTicket, {message_id}, "look up message \"" + message_id + "\"");
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0) return std::optional<std::string>();
    return std::optional<std::string>(std::string(cell(*r, 0, 0)));
  }

  Result<bool> key_stored(const std::string& key) override {
    return any_row(kKeyExists, {key}, "look up an event key");
  }

  Result<void> insert_header(const Ticket& t, std::int64_t version, const std::string& body,
                             std::string& stamp) override {
    return write_header(kInsertTicket, t, version, body, stamp);
  }

  Result<void> update_header(const Ticket& t, const Ticket*, std::int64_t version, const std::string& body,
                             std::string& stamp) override {
    return write_header(kUpdateTicket, t, version, body, stamp);
  }

  Result<void> write_member(const std::string& id, std::size_t position, std::int64_t version,
                            const Member& m) override {
    return write_part(kUpsertMember, id, position, version, tickets_detail::member_to_json(m), "a member");
  }

  Result<void> write_invite(const std::string& id, std::size_t position, std::int64_t version,
                            const Invite& i) override {
    return write_part(kUpsertInvite, id, position, version, tickets_detail::invite_to_json(i), "an invite");
  }

  Result<void> write_message(const std::string& id, std::int64_t version, const TimelineMessage& m, bool) override {
    const std::string json = tickets_detail::message_to_json(m);
    const std::string ts = std::to_string(m.timestamp);
    const std::string v = std::to_string(version);
    return done(run(c_, kUpsertMessage, {id, m.message_id, ts, v, json}, "write a message of ticket \"" + id + "\""));
  }

  Result<void> delete_message(const std::string& id, const std::string& message_id) override {
    return done(run(c_, kDeleteMessage, {id, message_id}, "delete a message of ticket \"" + id + "\""));
  }

  Result<void> trim(Part part, const std::string& id, std::size_t size) override {
    const std::string at = std::to_string(size);
    return done(run(c_, part == Part::members ? kTrimMembers : kTrimInvites, {id, at},
                    "delete members or invites of ticket \"" + id + "\""));
  }

  Result<void> delete_parts(const std::string& id) override {
    for (const Sql* sql : {&kDeleteMembers, &kDeleteInvites, &kDeleteTimeline}) {
      if (auto r = run(c_, *sql, {id}, "delete the rows of ticket \"" + id + "\""); !r) return r.error();
    }
    return {};
  }

  Result<void> delete_ticket(const std::string& id) override {
    if (auto r = run(c_, kDeleteTicketMessages, {id}, "delete the messages of ticket \"" + id + "\""); !r) {
      return r.error();
    }
    if (auto parts = delete_parts(id); !parts) return parts;
    return done(run(c_, kDeleteTicket, {id}, "delete ticket \"" + id + "\""));
  }

  Result<void> index_message(const std::string& message_id, const std::string& ticket_id) override {
    return done(run(c_, kUpsertIndex, {message_id, ticket_id}, "index message \"" + message_id + "\""));
  }

  /// The key is the primary key. A key another receiver recorded since this unit's snapshot fails
  /// the INSERT with a serialization failure (ErrorCode::conflict: the unit is rerun and then
  /// finds the key); no row back means the key was stored before the unit began (a host's unit
  /// that records without asking `applied`): kept as it is, as SQLite does.
  Result<void> record_keys(const std::vector<std::string>& keys) override {
    const std::string at = std::to_string(now_);
    for (const auto& key : keys) {
      if (auto r = run(c_, kInsertKey, {key, at}, "record an event key"); !r) return r.error();
    }
    return {};
  }

 private:
  static Result<void> done(const Result<PgResult>& r) {
    if (!r) return r.error();
    return {};
  }

  Result<bool> any_row(const Sql& sql, const Params& params, std::string_view operation) {
    auto r = run(c_, sql, params, operation);
    if (!r) return r.error();
    return PQntuples(r->get()) != 0;
  }

  Result<void> write_header(const Sql& sql, const Ticket& t, std::int64_t version, const std::string& body,
                            std::string& stamp) {
    const std::string state = to_string(t.state);
    const std::string last = std::to_string(t.last_activity_at);
    const std::optional<std::string> resolved =
        t.resolved_at ? std::optional<std::string>(std::to_string(*t.resolved_at)) : std::nullopt;
    const std::string v = std::to_string(version);
    auto r =
        run(c_, sql,
            {t.ticket_id, opt(t.group_id), opt(t.request_id), state, opt(t.assignee), last, opt(resolved), v, body},
            "write ticket \"" + t.ticket_id + "\"");
    if (!r) return r.error();
    if (PQntuples(r->get()) != 1) return storage_error("write ticket \"" + t.ticket_id + "\": no row written");
    stamp = std::string(cell(*r, 0, 0));
    return {};
  }

  Result<void> write_part(const Sql& sql, const std::string& id, std::size_t position, std::int64_t version,
                          const std::string& json, const char* what) {
    const std::string at = std::to_string(position);
    const std::string v = std::to_string(version);
    return done(run(c_, sql, {id, at, v, json}, std::string("write ") + what + " of ticket \"" + id + "\""));
  }

  pg::Connection& c_;
  std::int64_t now_;
};

}  // namespace

PostgresTicketStore::PostgresTicketStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresTicketStore::~PostgresTicketStore() = default;

int PostgresTicketStore::latest_schema_version() noexcept { return pg::latest_schema_version(); }
int PostgresTicketStore::schema_version() const noexcept { return impl_->schema_version; }

Result<std::unique_ptr<PostgresTicketStore>> PostgresTicketStore::open(const std::string& conninfo,
                                                                       PostgresOptions options) {
  if (!pg::valid_schema_name(options.schema)) {
    return Error::invalid_argument("schema", "a lower-case identifier of at most 63 bytes, not pg_*",
                                   "the PostgreSQL schema name is not a plain identifier");
  }
  auto impl = std::make_unique<Impl>(conninfo, std::move(options));
  auto lease = impl->pool.acquire();
  if (!lease) return lease.error();
  auto version = pg::migrate(**lease, impl->options.schema);
  if (!version) return version.error();
  impl->schema_version = *version;
  return std::unique_ptr<PostgresTicketStore>(new PostgresTicketStore(std::move(impl)));
}

Result<void> PostgresTicketStore::transact(const std::function<Result<void>(TicketTransaction&)>& work) {
  // SERIALIZABLE, not READ COMMITTED with row locks: a unit also decides on what is absent (no
  // ticket for this group yet, no fragment to merge), which no row lock covers. Under READ
  // COMMITTED, four receivers left a duplicate fragment ticket in 10 of 30 shuffled scenarios;
  // under SERIALIZABLE one of two such units fails with 40001 (ErrorCode::conflict) and the
  // aggregator reruns it. FOR UPDATE on fetched tickets makes a unit wait for another writing
  // the same ticket (then fail as a conflict if that one committed) rather than race it.
  if (auto nested = refuse_nested(this); !nested) return nested;
  struct InUnit {
    explicit InUnit(const void* store) { store_in_unit = store; }
    ~InUnit() { store_in_unit = nullptr; }
  } in_unit(this);
  auto lease = impl_->pool.begin("BEGIN ISOLATION LEVEL SERIALIZABLE", "begin a unit of work");
  if (!lease) return lease.error();
  pg::Connection& c = **lease;
  struct Rollback {
    pg::Connection& c;
    bool armed = true;
    ~Rollback() {
      if (armed && !c.broken()) (void)c.exec("ROLLBACK", "roll back a unit of work");
    }
  } rollback{c};
  // A failed unit drops the tickets it took from the connection's cache; a committed one puts
  // them back as written.
  c.cache.set_budget(impl_->cache_budget());
  const std::int64_t now = impl_->now();
  PgRows rows(c, now);
  tickets_detail::RowUnit unit(rows, "PostgresTicketStore");
  if (auto done = unit.run(work); !done) return done;
  if (auto done = c.commit("commit a unit of work"); !done) return done;
  rollback.armed = false;
  unit.keep_in(c.cache);
  impl_->prune_keys(c, now, unit.recorded_keys().size());
  return {};
}

void PostgresTicketStore::Impl::prune_keys(pg::Connection& c, std::int64_t now, std::size_t recorded) {
  const auto retention = options.event_key_retention.count();
  if (retention <= 0) return;
  std::size_t limit = 0;
  {
    std::lock_guard<std::mutex> lock(prune_mutex);
    units_since_prune += 1;
    keys_since_prune += recorded;
    const bool due =
        !last_prune_at || units_since_prune >= kPruneEveryUnits || now - *last_prune_at >= kPruneEverySeconds;
    if (!due) return;
    // Enough to keep up with what was recorded since the last pruning: the table stays bounded.
    limit = std::max<std::size_t>(kPruneAtLeast, 2 * keys_since_prune);
    last_prune_at = now;
    units_since_prune = 0;
    keys_since_prune = 0;
  }
  // Its own statement, in READ COMMITTED: receivers pruning at once delete disjoint rows or wait,
  // and no unit is failed by it. A failure is left for the next pruning (the unit has committed).
  const std::int64_t cutoff = retention >= now ? 0 : now - retention;
  const std::string before = std::to_string(cutoff);
  const std::string count = std::to_string(limit);
  (void)run(c, kPruneKeys, {before, count}, "prune expired event keys");
}

namespace {

// Reads outside a unit see one snapshot: a ticket is several SELECTs.
template <typename Body>
auto in_snapshot(pg::Pool& pool, Body&& body) -> decltype(body(std::declval<pg::Connection&>())) {
  auto lease = pool.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin a read");
  if (!lease) return lease.error();
  pg::Connection& c = **lease;
  auto out = body(c);
  (void)c.exec(out ? "COMMIT" : "ROLLBACK", "end a read");
  return out;
}

Result<std::optional<std::string>> first_id(pg::Pool& pool, const Sql& sql, const std::string& value) {
  return in_snapshot(pool, [&](pg::Connection& c) -> Result<std::optional<std::string>> {
    auto r = run(c, sql, {value}, "look up a ticket");
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0) return std::optional<std::string>();
    return std::optional<std::string>(std::string(cell(*r, 0, 0)));
  });
}

Result<std::vector<std::string>> matching_ids(pg::Connection& c, const TicketQuery& query) {
  std::string sql = "SELECT ticket_id FROM tickets";
  std::vector<std::string> values;
  const char* joiner = " WHERE ";
  auto filter = [&](const char* condition, std::string value) {
    values.push_back(std::move(value));
    sql += joiner;
    sql += condition;
    sql += " $" + std::to_string(values.size());
    joiner = " AND ";
  };
  if (query.state) filter("state =", to_string(*query.state));
  if (query.assignee) filter("assignee =", *query.assignee);
  if (query.group_id) filter("group_id =", *query.group_id);
  if (query.last_activity_at_most) filter("last_activity_at <=", std::to_string(*query.last_activity_at_most));
  if (query.resolved_at_most) filter("resolved_at <=", std::to_string(*query.resolved_at_most));
  const auto limit =
      std::min<std::size_t>(query.limit, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()));
  values.push_back(std::to_string(limit));
  sql += " ORDER BY ticket_id COLLATE \"C\" LIMIT $" + std::to_string(values.size());
  // One prepared statement per shape of filter (at most 2^5 of them): named by the shape.
  std::string name = "t_list";
  for (bool on : {query.state.has_value(), query.assignee.has_value(), query.group_id.has_value(),
                  query.last_activity_at_most.has_value(), query.resolved_at_most.has_value()})
    name += on ? '1' : '0';
  Params params;
  for (const auto& v : values) params.emplace_back(v);
  auto r = c.run(name.c_str(), sql.c_str(), params, "list tickets");
  if (!r) return r.error();
  std::vector<std::string> ids;
  for (int i = 0; i < PQntuples(r->get()); ++i) ids.emplace_back(cell(*r, i, 0));
  return ids;
}

}  // namespace

Result<std::optional<StoredTicket>> PostgresTicketStore::load(const std::string& ticket_id) {
  if (auto nested = refuse_nested(this); !nested) return nested.error();
  return in_snapshot(impl_->pool, [&](pg::Connection& c) { return read_ticket(c, ticket_id); });
}

Result<std::optional<std::string>> PostgresTicketStore::find_by_group(const std::string& group_id) {
  if (auto nested = refuse_nested(this); !nested) return nested.error();
  return first_id(impl_->pool, kFirstByGroup, group_id);
}

Result<std::optional<std::string>> PostgresTicketStore::find_by_request(const std::string& request_id) {
  if (auto nested = refuse_nested(this); !nested) return nested.error();
  return first_id(impl_->pool, kFirstByRequest, request_id);
}

Result<std::vector<std::string>> PostgresTicketStore::list_ids(const TicketQuery& query) {
  if (auto nested = refuse_nested(this); !nested) return nested.error();
  return in_snapshot(impl_->pool, [&](pg::Connection& c) { return matching_ids(c, query); });
}

Result<TicketListing> PostgresTicketStore::list_checked(const TicketQuery& query) {
  if (auto nested = refuse_nested(this); !nested) return nested.error();
  return in_snapshot(impl_->pool, [&](pg::Connection& c) -> Result<TicketListing> {
    auto ids = matching_ids(c, query);
    if (!ids) return ids.error();
    TicketListing out;
    for (const auto& id : *ids) {
      auto ticket = read_ticket(c, id);
      if (!ticket) {
        if (!tickets_detail::is_decode_error(ticket.error())) return ticket.error();
        out.unreadable.push_back(UnreadableTicket{id, ticket.error()});
      } else if (*ticket) {
        out.tickets.push_back(std::move(**ticket));
      }
    }
    return out;
  });
}

Result<std::vector<StoredTicket>> PostgresTicketStore::list(const TicketQuery& query) {
  auto listing = list_checked(query);
  if (!listing) return listing.error();
  return std::move(listing->tickets);
}

// ---------------------------------------------------------------------------------------------
// Dead letters: outside any unit, bounded by PostgresOptions::dead_letters. Bodies travel as hex
// (the statements take text parameters), stored as bytea.

namespace {

constexpr Sql kInsertLetter{"d_insert",
                            "INSERT INTO dead_letters (received_at, error_code, error_field, error_limit, "
                            "error_message, body) VALUES ($1, $2, $3, $4, $5, decode($6, 'hex')) RETURNING id"};
// The oldest letters past either bound ($1 letters, $2 bytes; 0: no bound), the newest always kept.
constexpr Sql kPruneLetters{"d_prune",
                            "DELETE FROM dead_letters WHERE id <= (SELECT id FROM (SELECT id, "
                            "row_number() OVER (ORDER BY id DESC) AS n, "
                            "sum(octet_length(body)) OVER (ORDER BY id DESC) AS bytes FROM dead_letters) newest "
                            "WHERE n > 1 AND (($1 > 0 AND n > $1) OR ($2 > 0 AND bytes > $2)) "
                            "ORDER BY id DESC LIMIT 1)"};
constexpr Sql kSelectLetters{"d_select",
                             "SELECT id, received_at, error_code, error_field, error_limit, error_message, "
                             "encode(body, 'hex') FROM dead_letters WHERE id < $1 ORDER BY id DESC LIMIT $2"};
constexpr Sql kEraseLetter{"d_erase", "DELETE FROM dead_letters WHERE id = $1 RETURNING 1"};

std::string to_hex(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string from_hex(std::string_view hex) {
  auto value = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<char>(value(hex[2 * i]) << 4 | value(hex[2 * i + 1]));
  return out;
}

std::string clamp_int64(std::size_t n) {
  return std::to_string(std::min<std::size_t>(n, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
}

}  // namespace

Result<std::int64_t> PostgresTicketStore::add_dead_letter(const DeadLetter& letter) {
  if (auto nested = refuse_nested(this); !nested) return nested.error();
  auto lease = impl_->pool.begin("BEGIN", "add a dead letter");
  if (!lease) return lease.error();
  pg::Connection& c = **lease;
  auto work = [&]() -> Result<std::int64_t> {
    const std::string at = std::to_string(letter.received_at);
    const std::string code = to_string(letter.error.code);
    const std::string body = to_hex(letter.body);
    auto inserted =
        run(c, kInsertLetter, {at, code, letter.error.field, letter.error.limit, letter.error.message, body},
            "add a dead letter");
    if (!inserted) return inserted.error();
    const std::int64_t id = std::strtoll(PQgetvalue(inserted->get(), 0, 0), nullptr, 10);
    const std::string count = clamp_int64(impl_->options.dead_letters.max_count);
    const std::string bytes = clamp_int64(impl_->options.dead_letters.max_total_bytes);
    if (auto pruned = run(c, kPruneLetters, {count, bytes}, "prune old dead letters"); !pruned) return pruned.error();
    if (auto done = c.commit("add a dead letter"); !done) return done.error();
    return id;
  };
  auto id = work();
  if (!id && !c.broken()) (void)c.exec("ROLLBACK", "roll back a dead letter");
  return id;
}

Result<std::vector<DeadLetter>> PostgresTicketStore::dead_letters(const DeadLetterQuery& query) {
  if (auto nested = refuse_nested(this); !nested) return nested.error();
  const std::string before = std::to_string(query.before_id.value_or(std::numeric_limits<std::int64_t>::max()));
  const std::string limit = clamp_int64(query.limit);
  return in_snapshot(impl_->pool, [&](pg::Connection& c) -> Result<std::vector<DeadLetter>> {
    auto r = run(c, kSelectLetters, {before, limit}, "list dead letters");
    if (!r) return r.error();
    std::vector<DeadLetter> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      DeadLetter letter;
      letter.id = std::strtoll(PQgetvalue(r->get(), i, 0), nullptr, 10);
      letter.received_at = std::strtoll(PQgetvalue(r->get(), i, 1), nullptr, 10);
      letter.error.code = tickets_detail::dead_letter_code(std::string(cell(*r, i, 2)));
      letter.error.field = std::string(cell(*r, i, 3));
      letter.error.limit = std::string(cell(*r, i, 4));
      letter.error.message = std::string(cell(*r, i, 5));
      letter.body = from_hex(cell(*r, i, 6));
      out.push_back(std::move(letter));
    }
    return out;
  });
}

Result<bool> PostgresTicketStore::erase_dead_letter(std::int64_t id) {
  if (auto nested = refuse_nested(this); !nested) return nested.error();
  auto lease = impl_->pool.begin("BEGIN", "erase a dead letter");
  if (!lease) return lease.error();
  const std::string which = std::to_string(id);
  auto r = run(**lease, kEraseLetter, {which}, "erase a dead letter");
  if (!r) return r.error();
  if (auto done = (*lease)->commit("erase a dead letter"); !done) return done.error();
  return PQntuples(r->get()) != 0;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
