// RowUnit and TicketCache: see row_unit.hpp.

#include "row_unit.hpp"

#include <algorithm>
#include <exception>
#include <limits>

#include "ticket_json.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace tickets_detail {

// ---------------------------------------------------------------------------------------------
// Memory estimates: the objects and their heap blocks, roughly as glibc's malloc lays them out
// (16 bytes of header, strings past the 15 bytes kept inline).

namespace {

constexpr std::size_t kMallocOverhead = 16;

std::size_t heap_of(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 + kMallocOverhead : 0; }
std::size_t heap_of(const std::optional<std::string>& s) { return s ? heap_of(*s) : 0; }
std::size_t heap_of(const PersonKey& p) { return heap_of(p.phone) + heap_of(p.bsuid) + heap_of(p.username); }
std::size_t heap_of(const std::vector<ItemError>& errors) {
  std::size_t n = errors.capacity() == 0 ? 0 : errors.capacity() * sizeof(ItemError) + kMallocOverhead;
  for (const auto& e : errors) n += heap_of(e.title) + heap_of(e.message) + heap_of(e.details) + heap_of(e.href);
  return n;
}

constexpr std::string_view kDecodePrefix = "decode stored ticket \"";
constexpr const char* kDecodeField = "stored_ticket";

}  // namespace

std::size_t message_bytes(const TimelineMessage& m) {
  std::size_t n = heap_of(m.message_id) + heap_of(m.sender) + heap_of(m.contact_name) + heap_of(m.agent) +
                  heap_of(m.type) + heap_of(m.text) + heap_of(m.caption) + heap_of(m.media_id) + heap_of(m.reply_to) +
                  heap_of(m.errors);
  // A std::map node: three pointers and a color, the pair, the allocator's header.
  constexpr std::size_t node = 32 + sizeof(std::pair<const std::string, DeliveryStatus>) + kMallocOverhead;
  for (const auto& [who, status] : m.delivery) n += node + heap_of(who);
  return n;
}

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

void sort_timeline(std::vector<TimelineMessage>& timeline) {
  // By bytes, in memory: the database's collation of message ids may differ.
  std::sort(timeline.begin(), timeline.end(), [](const TimelineMessage& a, const TimelineMessage& b) {
    return a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.message_id < b.message_id;
  });
}

ErrorCode dead_letter_code(std::string_view name) {
  for (ErrorCode code :
       {ErrorCode::invalid_argument, ErrorCode::unsupported, ErrorCode::transport, ErrorCode::graph_api,
        ErrorCode::decode, ErrorCode::unauthenticated, ErrorCode::conflict, ErrorCode::storage}) {
    if (name == to_string(code)) return code;
  }
  return ErrorCode::decode;
}

Error store_error(std::string_view store, std::string message) {
  Error e;
  e.code = ErrorCode::storage;
  e.message = std::string(store) + ": " + message;
  e.request_may_have_been_sent = false;
  return e;
}

Error decode_error(std::string_view store, const std::string& ticket_id, const std::string& part, const Error& error) {
  Error e = store_error(store, std::string(kDecodePrefix) + ticket_id + "\"" + part + ": " + error.message);
  e.field = kDecodeField;
  return e;
}

// By a field of its own, not by its text: a ticket id may hold any text.
bool is_decode_error(const Error& error) { return error.code == ErrorCode::storage && error.field == kDecodeField; }

// ---------------------------------------------------------------------------------------------
// TicketCache

std::optional<CachedTicket> TicketCache::take(const std::string& id) {
  if (large_ && large_id_ == id) {
    std::optional<CachedTicket> out = std::move(large_);
    large_.reset();
    return out;
  }
  auto found = slots_.find(id);
  if (found == slots_.end()) return std::nullopt;
  // Counted before the move: a moved-from entry costs less than what `put` added (its strings are
  // gone), and the difference would pile up until the cache thought itself full.
  bytes_ -= cost(found->first, found->second.entry);
  CachedTicket out = std::move(found->second.entry);
  order_.erase(found->second.at);
  slots_.erase(found);
  return out;
}

const CachedTicket* TicketCache::peek(const std::string& id) const {
  if (large_ && large_id_ == id) return &*large_;
  auto found = slots_.find(id);
  return found == slots_.end() ? nullptr : &found->second.entry;
}

void TicketCache::put(const std::string& id, CachedTicket entry) {
  if (budget_ == 0) return;
  const std::size_t size = cost(id, entry);
  if (large_ && large_id_ == id) large_.reset();
  if (auto old = slots_.find(id); old != slots_.end()) drop(old);
  if (size > budget_ / 2) {
    // A long conversation would push out most of the others, and be pushed out by the next
    // small ticket, then reloaded whole on its next event: it gets a slot of its own, one at a
    // time (the latest), beside the budget. A unit holds it whole in memory anyway, so this adds
    // at most one such ticket to the peak, and the hot long group costs no reload.
    large_id_ = id;
    large_ = std::move(entry);
    return;
  }
  order_.push_front(id);
  slots_.emplace(id, Slot{std::move(entry), order_.begin()});
  bytes_ += size;
  while (bytes_ > budget_) drop(slots_.find(order_.back()));
}

void TicketCache::clear() {
  slots_.clear();
  order_.clear();
  bytes_ = 0;
  large_.reset();
}

std::size_t TicketCache::cost(const std::string& id, const CachedTicket& entry) {
  // The slot, its list node and the id (twice: map key and list) on top of the ticket.
  return entry.bytes + entry.head.capacity() + entry.stamp.capacity() + 2 * (id.size() + 32) + 128;
}

void TicketCache::drop(std::unordered_map<std::string, Slot>::iterator slot) {
  bytes_ -= cost(slot->first, slot->second.entry);
  order_.erase(slot->second.at);
  slots_.erase(slot);
}

// ---------------------------------------------------------------------------------------------
// RowUnit: the TicketTransaction

Result<Ticket*> RowUnit::ticket(const std::string& ticket_id) {
  auto entry = fetch(ticket_id);
  if (!entry) return entry.error();
  Entry& e = **entry;
  if (e.ticket) make_whole(e);
  return e.ticket.get();
}

Result<Ticket*> RowUnit::edit(const std::string& ticket_id) {
  auto entry = fetch(ticket_id);
  if (!entry) return entry.error();
  Entry& e = **entry;
  if (e.ticket && e.mode == Mode::unset) {
    e.mode = Mode::edit;
    Ticket& t = *e.ticket;
    // The head only: a copy that costs the head, not the conversation.
    std::vector<TimelineMessage> timeline = std::move(t.timeline);
    t.timeline.clear();
    e.before = t;
    t.timeline = std::move(timeline);
  }
  return e.ticket.get();
}

Result<void> RowUnit::changing_message(const std::string& ticket_id, const std::string& message_id) {
  auto found = touched_.find(ticket_id);
  if (found == touched_.end() || !found->second.ticket) return {};
  Entry& e = found->second;
  if (e.mode != Mode::edit || e.declared.count(message_id) != 0) return {};
  // A unit's messages are usually the last ones. Past those, the row says whether the message was
  // there at fetch (undeclared messages are as fetched), so a new message costs no scan of a long
  // timeline.
  const auto& tl = e.ticket->timeline;
  const std::size_t recent = tl.size() > 64 ? tl.size() - 64 : 0;
  const TimelineMessage* now = nullptr;
  for (std::size_t i = tl.size(); i-- > recent && now == nullptr;)
    if (tl[i].message_id == message_id) now = &tl[i];
  if (now == nullptr && recent > 0) {
    bool stored = true;
    if (e.in_db && !e.whole_row) {
      auto exists = noted(rows_.message_row_exists(ticket_id, message_id));
      if (!exists) return exists.error();
      stored = *exists;
    }
    if (stored) now = e.ticket->find_message(message_id);
  }
  e.declared.emplace(message_id, now != nullptr ? std::optional<TimelineMessage>(*now) : std::nullopt);
  return {};
}

Result<void> RowUnit::changing_timeline(const std::string& ticket_id) {
  auto found = touched_.find(ticket_id);
  if (found != touched_.end() && found->second.ticket) make_whole(found->second);
  return {};
}

Result<Ticket*> RowUnit::insert(Ticket ticket) {
  if (ticket.ticket_id.empty()) {
    return Error::invalid_argument("ticket_id", "non-empty", "a ticket needs an id to be stored");
  }
  const std::string id = ticket.ticket_id;
  auto found = touched_.find(id);
  if (found == touched_.end()) {
    auto exists = noted(rows_.ticket_exists(id));
    if (!exists) return exists.error();
    if (*exists) return conflict(id);
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

Result<void> RowUnit::erase(const std::string& ticket_id) {
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

Result<std::optional<std::string>> RowUnit::find_by_group(const std::string& group_id) {
  return find_linked(group_id, true);
}

Result<std::optional<std::string>> RowUnit::find_by_request(const std::string& request_id) {
  return find_linked(request_id, false);
}

Result<std::optional<std::string>> RowUnit::find_by_message(const std::string& message_id) {
  auto declared = messages_.find(message_id);
  if (declared != messages_.end()) {
    if (gone(declared->second)) return std::optional<std::string>();
    return std::optional<std::string>(declared->second);
  }
  auto found = noted(rows_.message_ticket(message_id));
  if (!found || !*found) return found;
  // An erased ticket's message rows are deleted at commit.
  auto touched = touched_.find(**found);
  if (touched != touched_.end() && touched->second.erased) return std::optional<std::string>();
  return found;
}

Result<void> RowUnit::index_message(const std::string& message_id, const std::string& ticket_id) {
  messages_[message_id] = ticket_id;
  return {};
}

Result<bool> RowUnit::applied(const std::string& event_key) {
  if (key_set_.count(event_key) != 0) return true;
  return noted(rows_.key_stored(event_key));
}

Result<void> RowUnit::record(const std::string& event_key) {
  if (key_set_.insert(event_key).second) keys_.push_back(event_key);
  return {};
}

// ---------------------------------------------------------------------------------------------
// RowUnit: running and writing

Result<void> RowUnit::run(const std::function<Result<void>(TicketTransaction&)>& work) {
  Result<void> done;
  // No exception crosses the API: a throwing `work` fails its unit like an error (as in memory).
  try {
    done = work(*this);
  } catch (const std::exception& e) {
    return store_error(store_, std::string("the unit of work threw: ") + e.what());
  } catch (...) {
    return store_error(store_, "the unit of work threw");
  }
  if (!done) return done;
  if (failure_) return *failure_;
  if (done = write(); !done) return done;
  if (failure_) return *failure_;
  return {};
}

Result<void> RowUnit::write() {
  for (auto& [id, entry] : touched_) {
    if (auto done = noted(write_ticket(id, entry)); !done) return done;
  }
  for (const auto& [message_id, ticket_id] : messages_) {
    if (gone(ticket_id)) continue;  // declared for a ticket erased since: it would dangle
    if (auto done = noted(rows_.index_message(message_id, ticket_id)); !done) return done;
  }
  return noted(rows_.record_keys(keys_));
}

void RowUnit::keep_in(TicketCache& cache) {
  for (auto& [id, entry] : touched_) {
    if (!entry.ticket || !entry.written) continue;
    cache.put(id, CachedTicket{std::move(entry.ticket), entry.version, std::move(entry.stored_head), entry.whole_row,
                               entry.bytes, std::move(entry.stamp)});
  }
}

void RowUnit::make_whole(Entry& e) {
  // From here on the whole ticket counts as written: `before` becomes the whole ticket as
  // fetched, when that is still known (no message declared yet, so the timeline is as fetched).
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

Result<RowUnit::Entry*> RowUnit::fetch(const std::string& ticket_id) {
  auto found = touched_.find(ticket_id);
  if (found != touched_.end()) return &found->second;
  auto fetched = rows_.fetch(ticket_id);
  if (!fetched) {
    // A damaged row is never overwritten. A decoding failure is the ticket's, not the unit's
    // (`work` may go on without it); the database's own failures fail the unit.
    if (!is_decode_error(fetched.error()) && !failure_) failure_ = fetched.error();
    return fetched.error();
  }
  Entry entry;
  if (*fetched) {
    CachedTicket& c = **fetched;
    entry.ticket = std::move(c.ticket);
    entry.version = c.version;
    entry.stored_head = std::move(c.head);
    entry.whole_row = c.whole_row;
    entry.bytes = c.bytes;
    entry.stamp = std::move(c.stamp);
    entry.in_db = true;
    entry.head_bytes = head_bytes(*entry.ticket);
  }
  return &touched_.emplace(ticket_id, std::move(entry)).first->second;
}

Result<void> RowUnit::write_parts(const Ticket& t, std::int64_t version) {
  for (std::size_t i = 0; i < t.members.size(); ++i) {
    if (auto done = rows_.write_member(t.ticket_id, i, version, t.members[i]); !done) return done;
  }
  for (std::size_t i = 0; i < t.invites.size(); ++i) {
    if (auto done = rows_.write_invite(t.ticket_id, i, version, t.invites[i]); !done) return done;
  }
  for (const auto& m : t.timeline) {
    if (auto done = rows_.write_message(t.ticket_id, version, m, false); !done) return done;
  }
  return {};
}

Result<void> RowUnit::write_ticket(const std::string& id, Entry& e) {
  if (!e.ticket) {
    if (!e.in_db) return {};
    return rows_.delete_ticket(id);
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
  std::string head;
  std::size_t bytes = 0;
  if (from_scratch) {
    if (e.in_db && !rows_fit && e.whole_row && e.before && t == *e.before) {
      e.written = true;  // unchanged, and stored whole as it is
      return {};
    }
    if (e.in_db) {
      if (auto done = rows_.delete_parts(id); !done) return done;
    }
    head = rows_fit ? head_to_json(t) : to_json(t);
    auto done = e.in_db ? rows_.update_header(t, nullptr, version, head, e.stamp)
                        : rows_.insert_header(t, version, head, e.stamp);
    if (!done) return done;
    if (rows_fit) {
      if (auto parts = write_parts(t, version); !parts) return parts;
    }
    bytes = ticket_bytes(t);
  } else {
    // Incremental: the rows that differ from `before` (the head, or the whole ticket).
    const Ticket& before = *e.before;
    bool changed = false;
    if (auto done = write_list(id, before.members, t.members, RowBackend::Part::members, changed,
                               [&](std::size_t i, const Member& m) { return rows_.write_member(id, i, version, m); });
        !done) {
      return done;
    }
    if (auto done = write_list(id, before.invites, t.invites, RowBackend::Part::invites, changed,
                               [&](std::size_t i, const Invite& in) { return rows_.write_invite(id, i, version, in); });
        !done) {
      return done;
    }
    if (auto done = write_timeline(id, e, version, changed, bytes); !done) return done;
    head = head_to_json(t);
    if (!changed && head == e.stored_head) {
      e.written = true;  // unchanged: as stored
      e.bytes = bytes;
      return {};
    }
    if (auto done = rows_.update_header(t, &before, version, head, e.stamp); !done) return done;
  }
  e.version = version;
  e.stored_head = std::move(head);
  e.whole_row = !rows_fit;
  e.in_db = true;
  e.bytes = bytes;
  e.written = true;
  return {};
}

Result<void> RowUnit::write_timeline(const std::string& id, Entry& e, std::int64_t version, bool& changed,
                                     std::size_t& bytes) {
  const Ticket& t = *e.ticket;
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
        if (auto done = rows_.write_message(id, version, *now, same_timestamp); !done) return done;
      } else if (auto done = rows_.delete_message(id, message_id); !done) {
        return done;
      }
    }
    const auto estimate = static_cast<std::int64_t>(e.bytes) - static_cast<std::int64_t>(e.head_bytes) +
                          static_cast<std::int64_t>(head_bytes(t)) + static_cast<std::int64_t>(grown) -
                          static_cast<std::int64_t>(shrunk);
    bytes = static_cast<std::size_t>(std::max<std::int64_t>(estimate, static_cast<std::int64_t>(head_bytes(t))));
    return {};
  }
  const auto& before = e.before->timeline;
  if (!(t.timeline == before)) {
    std::unordered_map<std::string_view, const TimelineMessage*> old;
    old.reserve(before.size());
    for (const auto& m : before) old.emplace(m.message_id, &m);
    for (const auto& m : t.timeline) {
      auto was = old.find(m.message_id);
      const bool known = was != old.end();
      const bool same = known && *was->second == m;
      const bool same_timestamp = known && was->second->timestamp == m.timestamp;
      if (known) old.erase(was);
      if (same) continue;
      changed = true;
      if (auto done = rows_.write_message(id, version, m, same_timestamp); !done) return done;
    }
    for (const auto& [message_id, was] : old) {
      changed = true;
      if (auto done = rows_.delete_message(id, was->message_id); !done) return done;
    }
  }
  bytes = ticket_bytes(t);
  return {};
}

template <typename T, typename Write>
Result<void> RowUnit::write_list(const std::string& id, const std::vector<T>& before, const std::vector<T>& now,
                                 RowBackend::Part part, bool& changed, Write write_one) {
  // A row per position that differs, and the rows past the new end deleted.
  for (std::size_t i = 0; i < now.size(); ++i) {
    if (i < before.size() && before[i] == now[i]) continue;
    changed = true;
    if (auto done = write_one(i, now[i]); !done) return done;
  }
  if (before.size() > now.size()) {
    changed = true;
    return rows_.trim(part, id, now.size());
  }
  return {};
}

Result<std::optional<std::string>> RowUnit::find_linked(const std::string& value, bool by_group) {
  // Every ticket of the unit first, since any may have been relinked in place; then the stored
  // rows of tickets the unit has not touched. When several tickets match, one linked to a create
  // request wins (an unlinked fragment is merged into it), then the smallest id.
  std::optional<std::pair<bool, std::string>> best;  // (lacks a request id, ticket id): smallest wins
  auto consider = [&](bool lacks_request, const std::string& id) {
    std::pair<bool, std::string> candidate(lacks_request, id);
    if (!best || candidate < *best) best = std::move(candidate);
  };
  // Ids of one kind differ mostly at the end: the last character first spares most comparisons.
  for (const auto& [id, entry] : touched_) {
    if (!entry.ticket) continue;
    const std::optional<std::string>& linked = by_group ? entry.ticket->group_id : entry.ticket->request_id;
    if (!linked || linked->size() != value.size() || (!value.empty() && linked->back() != value.back())) continue;
    if (*linked == value) consider(!entry.ticket->request_id.has_value(), id);
  }
  auto rows = linked_rows_.find(std::make_pair(by_group, value));
  if (rows == linked_rows_.end()) {
    auto found = noted(rows_.linked(by_group, value));
    if (!found) return found.error();
    rows = linked_rows_.emplace(std::make_pair(by_group, value), std::move(*found)).first;
  }
  for (const auto& row : rows->second) {
    if (touched_.count(row.ticket_id) != 0) continue;  // the unit's copy (above) is the current one
    consider(row.lacks_request, row.ticket_id);
  }
  if (!best) return std::optional<std::string>();
  return std::optional<std::string>(std::move(best->second));
}

bool RowUnit::gone(const std::string& ticket_id) const {
  auto found = touched_.find(ticket_id);
  return found != touched_.end() && !found->second.ticket;
}

Error RowUnit::conflict(const std::string& id) const {
  Error error;
  error.code = ErrorCode::conflict;
  error.field = "ticket_id";
  error.message = std::string(store_) + ": ticket \"" + id + "\" already exists";
  error.request_may_have_been_sent = false;
  return error;
}

}  // namespace tickets_detail
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
