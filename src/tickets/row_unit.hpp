#pragma once

// The unit of work of a store that keeps a ticket as rows (schema v2: a header row, and a row per
// member, invite and timeline message), shared by SqliteTicketStore and PostgresTicketStore. The
// database's statements sit behind RowBackend; RowUnit holds what both stores do with them:
// - tickets are fetched once per unit (from the connection's TicketCache when still current);
// - at the unit's end, only the rows that differ from what was fetched are written: for a ticket
//   fetched with `edit`, the header, the member and invite rows that differ from a snapshot of
//   the head taken at fetch (it is small), and the messages the unit declared; for one fetched
//   with `ticket`, the rows that differ from a snapshot of the whole ticket. A ticket only read
//   costs no write and keeps its version;
// - a timeline the rows cannot keep (out of order, an id twice: a host's own doing through
//   `ticket()`) is stored whole in the header row instead.
// The caller begins and commits the database's transaction around `run`.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "wagroups/result.hpp"
#include "wagroups/tickets/store.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace tickets_detail {

// ---------------------------------------------------------------------------------------------
// What a decoded ticket costs in memory (the cache's budget): estimates that grow with the same
// things the real footprint does.

/// A message's heap blocks (its slot in the timeline vector is counted with the head).
WAGROUPS_API std::size_t message_bytes(const TimelineMessage& m);
/// Everything but the messages' own heap blocks.
WAGROUPS_API std::size_t head_bytes(const Ticket& t);
WAGROUPS_API std::size_t ticket_bytes(const Ticket& t);

/// Whether the timeline can be stored a row per message and read back the same: ordered by
/// (timestamp, message_id), as the aggregator keeps it, with no id twice.
WAGROUPS_API bool rows_keep_timeline(const std::vector<TimelineMessage>& timeline);

/// Orders a timeline read from rows (distinct ids: the order is total) as the other stores keep it.
WAGROUPS_API void sort_timeline(std::vector<TimelineMessage>& timeline);

/// The message of the error a stored ticket that does not decode gives ("decode stored ticket
/// ..."); such a failure is the ticket's, not the unit's (`work` may go on without it).
WAGROUPS_API Error decode_error(std::string_view store, const std::string& ticket_id, const std::string& part,
                                const Error& error);
WAGROUPS_API bool is_decode_error(const Error& error);

/// A dead letter's error code as a store kept it (`to_string(ErrorCode)`); a name from a later
/// build reads as ErrorCode::decode, what a dead letter's error usually is.
WAGROUPS_API ErrorCode dead_letter_code(std::string_view name);

/// An ErrorCode::storage error of `store` ("SqliteTicketStore: ...").
WAGROUPS_API Error store_error(std::string_view store, std::string message);

// ---------------------------------------------------------------------------------------------
// The cache of decoded tickets

/// A ticket as a committed unit left it (or as read from its rows).
struct CachedTicket {
  std::unique_ptr<Ticket> ticket;
  std::int64_t version = 0;
  std::string head;        // the header row's body, for the next unit's "did it change" check
  bool whole_row = false;  // the header row holds the whole ticket (no member/invite/message rows)
  std::size_t bytes = 0;   // ticket_bytes()
  // What the database says of the header row's last write, when `version` alone cannot tell
  // (PostgreSQL: its xmin, since a ticket erased and inserted again restarts at version 1).
  std::string stamp;
};

/// Decoded tickets kept between units of one connection, least recently used dropped first,
/// within a budget of estimated memory. A unit takes its tickets out (so a failed unit leaves
/// nothing stale behind) and puts them back after its commit; loading a busy ticket's rows on
/// every unit would otherwise cost as much as the rest of the unit. The store decides when an
/// entry is still current (SQLite: nobody else committed; PostgreSQL: the header row's version
/// and stamp are unchanged).
class WAGROUPS_API TicketCache {
 public:
  void set_budget(std::size_t bytes) { budget_ = bytes; }
  std::optional<CachedTicket> take(const std::string& id);
  const CachedTicket* peek(const std::string& id) const;
  void put(const std::string& id, CachedTicket entry);
  void clear();
  /// The estimated bytes of the entries within the budget (the large one apart).
  std::size_t bytes() const noexcept { return bytes_; }

 private:
  struct Slot {
    CachedTicket entry;
    std::list<std::string>::iterator at;
  };
  static std::size_t cost(const std::string& id, const CachedTicket& entry);
  void drop(std::unordered_map<std::string, Slot>::iterator slot);

  std::unordered_map<std::string, Slot> slots_;
  std::list<std::string> order_;  // most recently used first
  std::size_t bytes_ = 0;
  std::optional<CachedTicket> large_;  // the latest ticket costing more than half the budget
  std::string large_id_;
  std::size_t budget_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The database side

/// The statements a RowUnit runs, on the unit's connection, inside its transaction. Each returns
/// the database's failure as an Error (RowUnit then fails the unit).
class RowBackend {
 public:
  enum class Part { members, invites };
  /// A ticket linked to a group or request: its id, and whether it lacks a request id.
  struct Linked {
    bool lacks_request = false;
    std::string ticket_id;
  };

  virtual ~RowBackend() = default;

  /// The ticket as stored (none: absent), taken from the connection's cache when current, else
  /// read from its rows; a ticket whose rows do not decode fails with a decode_error.
  virtual Result<std::optional<CachedTicket>> fetch(const std::string& ticket_id) = 0;
  virtual Result<bool> ticket_exists(const std::string& ticket_id) = 0;
  virtual Result<bool> message_row_exists(const std::string& ticket_id, const std::string& message_id) = 0;
  /// Stored tickets whose group id (`by_group`) or request id equals `value`.
  virtual Result<std::vector<Linked>> linked(bool by_group, const std::string& value) = 0;
  /// The ticket the message index names for `message_id`.
  virtual Result<std::optional<std::string>> message_ticket(const std::string& message_id) = 0;
  /// Whether an earlier, committed unit recorded `key`.
  virtual Result<bool> key_stored(const std::string& key) = 0;

  /// The header row: `body` is the head (or the whole ticket when the rows cannot keep it).
  /// `stamp` receives what CachedTicket::stamp should be after this write.
  virtual Result<void> insert_header(const Ticket& t, std::int64_t version, const std::string& body,
                                     std::string& stamp) = 0;
  /// Updates the header of `t`, stored as `before` (null: rewrite every column; else the indexed
  /// columns that differ from it).
  virtual Result<void> update_header(const Ticket& t, const Ticket* before, std::int64_t version,
                                     const std::string& body, std::string& stamp) = 0;
  virtual Result<void> write_member(const std::string& id, std::size_t position, std::int64_t version,
                                    const Member& m) = 0;
  virtual Result<void> write_invite(const std::string& id, std::size_t position, std::int64_t version,
                                    const Invite& i) = 0;
  /// `same_timestamp`: the row exists with this timestamp (only the body and version change).
  virtual Result<void> write_message(const std::string& id, std::int64_t version, const TimelineMessage& m,
                                     bool same_timestamp) = 0;
  virtual Result<void> delete_message(const std::string& id, const std::string& message_id) = 0;
  /// Deletes the member or invite rows at `size` and past it.
  virtual Result<void> trim(Part part, const std::string& id, std::size_t size) = 0;
  /// Deletes every member, invite and message row of the ticket.
  virtual Result<void> delete_parts(const std::string& id) = 0;
  /// Deletes the ticket: its message index rows, its parts and its header.
  virtual Result<void> delete_ticket(const std::string& id) = 0;
  virtual Result<void> index_message(const std::string& message_id, const std::string& ticket_id) = 0;
  /// Records the unit's event keys (none recorded before this unit asked, as far as it knows;
  /// the backend decides what a key recorded meanwhile by another unit means) and prunes old ones.
  virtual Result<void> record_keys(const std::vector<std::string>& keys) = 0;
};

// ---------------------------------------------------------------------------------------------
// The unit

class WAGROUPS_API RowUnit final : public TicketTransaction {
 public:
  /// `store`: the store's name, for errors ("SqliteTicketStore").
  RowUnit(RowBackend& rows, std::string_view store) : rows_(rows), store_(store) {}

  Result<Ticket*> ticket(const std::string& ticket_id) override;
  Result<Ticket*> edit(const std::string& ticket_id) override;
  Result<void> changing_message(const std::string& ticket_id, const std::string& message_id) override;
  Result<void> changing_timeline(const std::string& ticket_id) override;
  Result<Ticket*> insert(Ticket ticket) override;
  Result<void> erase(const std::string& ticket_id) override;
  Result<std::optional<std::string>> find_by_group(const std::string& group_id) override;
  Result<std::optional<std::string>> find_by_request(const std::string& request_id) override;
  Result<std::optional<std::string>> find_by_message(const std::string& message_id) override;
  Result<void> index_message(const std::string& message_id, const std::string& ticket_id) override;
  Result<bool> applied(const std::string& event_key) override;
  Result<void> record(const std::string& event_key) override;

  /// Runs `work`, then writes what it changed: the part of `transact` between BEGIN and COMMIT.
  /// A throwing `work` fails like an error; a database failure `work` ignored fails the unit too.
  Result<void> run(const std::function<Result<void>(TicketTransaction&)>& work);

  /// After COMMIT: the unit's tickets, as now stored, go (back) to `cache`.
  void keep_in(TicketCache& cache);

  /// The event keys the unit recorded, in order.
  const std::vector<std::string>& recorded_keys() const noexcept { return keys_; }

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
    std::string stamp;               // CachedTicket::stamp
    std::size_t bytes = 0;           // ticket_bytes() as fetched; after write(), as written
    std::size_t head_bytes = 0;      // head_bytes() as fetched
    Mode mode = Mode::unset;
    std::optional<Ticket> before;
    std::map<std::string, std::optional<TimelineMessage>> declared;
    bool written = false;  // write() brought the rows in line with `ticket`
  };

  template <typename T>
  T noted(T done) {
    if (!done && !failure_) failure_ = done.error();
    return done;
  }

  Result<void> write();
  void make_whole(Entry& e);
  Result<Entry*> fetch(const std::string& ticket_id);
  Result<void> write_ticket(const std::string& id, Entry& e);
  Result<void> write_timeline(const std::string& id, Entry& e, std::int64_t version, bool& changed, std::size_t& bytes);
  Result<void> write_parts(const Ticket& t, std::int64_t version);
  template <typename T, typename Write>
  Result<void> write_list(const std::string& id, const std::vector<T>& before, const std::vector<T>& now,
                          RowBackend::Part part, bool& changed, Write write_one);
  Result<std::optional<std::string>> find_linked(const std::string& value, bool by_group);
  bool gone(const std::string& ticket_id) const;
  Error conflict(const std::string& id) const;

  RowBackend& rows_;
  std::string_view store_;
  std::map<std::string, Entry> touched_;  // ordered: commits write in ticket id order
  std::map<std::string, std::string> messages_;
  // find_linked's rows by (kind, value), as stored when the unit began: nothing is written
  // before the unit's end, so they stay as read (a batch asks for the same group once per event).
  std::map<std::pair<bool, std::string>, std::vector<RowBackend::Linked>> linked_rows_;
  std::vector<std::string> keys_;
  std::unordered_set<std::string> key_set_;
  std::optional<Error> failure_;
};

}  // namespace tickets_detail
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
