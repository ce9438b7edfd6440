#pragma once

// libpq, wrapped for PostgresTicketStore: one connection with its prepared statements (and its
// cache of decoded tickets), errors classified by SQLSTATE, a bounded pool, and the versioned
// schema in a host-chosen schema name. Never included by a public header.
//
// Errors never carry the connection string (it may hold a password): only the operation, the
// SQLSTATE and the server's primary message.

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "wagroups/error.hpp"
#include "wagroups/result.hpp"

#include "../tickets/row_unit.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace pg {

/// What a failed statement means for the unit that ran it.
enum class Failure {
  retry,       // serialization failure, deadlock, or a unique key taken by a concurrent unit: rerun
  connection,  // the connection is gone (server down, restarted, network): drop it, fail the unit
  data,        // a value the server refuses (class 22: invalid UTF-8, out of range): the input's fault
  other,       // anything else: fail the unit
};

/// Classifies by SQLSTATE class: 40001 serialization_failure, 40P01 deadlock_detected and 23505
/// unique_violation are a concurrent unit's doing (the unit is safe to rerun); class 08 and 57P
/// (admin shutdown, crash shutdown, cannot connect now) mean the connection is lost; class 22
/// (data exception) is a value the server refuses.
inline Failure classify(std::string_view sqlstate) noexcept {
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "23505") return Failure::retry;
  if (sqlstate.substr(0, 2) == "08" || sqlstate.substr(0, 3) == "57P") return Failure::connection;
  if (sqlstate.substr(0, 2) == "22") return Failure::data;
  return Failure::other;
}

/// An owned PGresult.
struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

/// A statement's failure as an Error: ErrorCode::conflict when rerunning the unit may succeed,
/// ErrorCode::storage otherwise. `lost` tells the pool to drop the connection.
struct Failed {
  Error error;
  bool lost = false;
};

class Connection {
 public:
  /// Connects; the error names the host side only by "the PostgreSQL server" (no connection string).
  static Result<std::unique_ptr<Connection>> connect(const std::string& conninfo, const std::string& schema);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// COMMIT, failing (ErrorCode::storage) when the server rolled back instead (a transaction
  /// that failed earlier).
  Result<void> commit(std::string_view operation);

  /// Runs `sql` (no parameters; DDL, BEGIN, COMMIT).
  Result<void> exec(const char* sql, std::string_view operation);

  /// Runs a statement prepared once per connection under `name`, with text parameters (nullopt:
  /// SQL NULL). A result with rows (or none) on success. A value holding a NUL byte (which the
  /// text protocol would cut short, and PostgreSQL text cannot hold) is refused before sending,
  /// as ErrorCode::invalid_argument.
  Result<PgResult> run(const char* name, const char* sql, const std::vector<std::optional<std::string_view>>& params,
                       std::string_view operation);

  /// Whether the last failure lost the connection (the pool then drops it).
  bool broken() const noexcept { return broken_ || PQstatus(conn_) != CONNECTION_OK; }
  /// Whether a transaction is open (after a failure inside one: roll back before reuse).
  bool in_transaction() const noexcept { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }

  /// Decoded tickets kept between this connection's units (PgRows::fetch says when one is current).
  tickets_detail::TicketCache cache;

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  Error failure(const PGresult* r, std::string_view operation);

  PGconn* conn_;
  std::unordered_set<std::string> prepared_;
  bool broken_ = false;
};

/// A bounded pool: `acquire` hands out an idle connection or opens one while fewer than `size`
/// exist, else waits up to `timeout`. A lease returns its connection on destruction, unless it
/// broke (it is closed, and the next acquire opens a new one).
class Pool {
 public:
  Pool(std::string conninfo, std::string schema, std::size_t size, std::chrono::milliseconds timeout)
      : conninfo_(std::move(conninfo)), schema_(std::move(schema)), size_(size == 0 ? 1 : size), timeout_(timeout) {}

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> c) : pool_(&pool), c_(std::move(c)) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), c_(std::move(other.c_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (c_) pool_->give_back(std::move(c_));
    }
    Connection& operator*() const noexcept { return *c_; }
    Connection* operator->() const noexcept { return c_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> c_;
  };

  Result<Lease> acquire();

  /// A connection with a transaction begun by `begin_sql`. An idle connection the server dropped
  /// meanwhile (a restart) fails its BEGIN: nothing was done on it, so it is closed and the next
  /// one tried, up to a fresh connection, rather than failing the caller's unit.
  Result<Lease> begin(const char* begin_sql, std::string_view operation);

 private:
  void give_back(std::unique_ptr<Connection> c);

  std::string conninfo_;
  std::string schema_;
  std::size_t size_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;  // connections that exist (idle or leased)
};

/// A schema name the host chose: a plain lower-case identifier (so it needs no quoting anywhere
/// and cannot carry SQL), at most 63 bytes as PostgreSQL allows.
bool valid_schema_name(std::string_view name) noexcept;

/// Creates the schema when missing and brings it to `latest_schema_version()`, in one transaction
/// under an advisory lock (receivers starting together migrate once). A schema newer than this
/// build knows is refused. Returns the version.
Result<int> migrate(Connection& c, const std::string& schema);
int latest_schema_version() noexcept;

}  // namespace pg
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
