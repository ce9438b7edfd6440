#pragma once

// The deterministic ticket stream of the tickets benchmark and the digest of the tickets it leaves,
// in a header of its own so that the same code compiles against this tree and against the v1 tree
// (commit a09291d, tests/bench/v1_digest.sh): it uses only the public API both have
// (TicketAggregator, InMemoryTicketStore's default constructor, TicketStore::list, to_json).
//
// The stream (seeded): N groups created over a simulated day, each with its creation webhook (95%
// carry the request id of an `open_ticket` made beforehand), 3-7 joins (5% of groups by approved
// join request), inbound member messages (text, image, reply; with the contact's name; some members
// known by BSUID, a few by BSUID alone), business messages each followed by the group-wide `sent`
// and a `delivered` and (80%) a `read` per participant, 0.5% of sends failing, leaves and removals,
// subject changes, deletions, some 1:1 messages (not applicable). Delivery is perturbed as Meta's
// is: 2% of events arrive 1-120 s late (a `read` can precede its `delivered`, a message its sender's
// join) and 1.5% are delivered a second time 10 s-1 h later (a retried body).

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "wagroups/tickets.hpp"
#include "wagroups/webhook.hpp"

namespace ticket_stream {

using namespace wagroups;

constexpr std::int64_t kDayStart = 1790000000;
constexpr const char* kWaba = "880011223344556";
constexpr const char* kPhoneNumberId = "771234567890123";

inline std::uint64_t mix(std::uint64_t x) {  // splitmix64: per-entity facts without RNG state
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// ---------------------------------------------------------------------------------------------
// The stream, compact: 24 bytes an event, materialised into WebhookEvents just before use.

enum class Kind : std::uint8_t {
  group_created,
  participant_added,
  join_request,
  participant_left,
  participant_removed,
  inbound,
  status,
  subject_changed,
  group_deleted,
  direct_message,
};

enum Status : std::uint8_t { st_sent, st_delivered, st_read, st_failed };
constexpr std::uint8_t kNoMember = 255;

struct Ev {
  std::int64_t ts = 0;  // the event's own timestamp
  std::uint32_t group = 0;
  std::uint32_t msg = 0;  // message index in the group, or a counter
  Kind kind = Kind::inbound;
  std::uint8_t member = kNoMember;
  std::uint8_t aux = 0;  // status, message type, or: the group has a request id
};

struct Delivery {
  std::int64_t at;  // when Meta delivers it
  std::uint64_t seq;
  Ev ev;
};

struct StreamStats {
  std::size_t events = 0, duplicates = 0, delayed = 0;
  std::size_t by_kind[10] = {};
};

struct World {
  unsigned seed;
  std::string group_id(std::uint32_t g) const {
    char buf[80];
    std::snprintf(buf, sizeof buf, "Y2FwaV9ncm91cDox%016" PRIx64 "%08xOjEyMDM2MzQwNDY5NAZD", mix(seed ^ g), g);
    return buf;
  }
  bool has_request(std::uint32_t g) const { return mix(seed + 7ULL * g) % 100 < 95; }
  std::string request_id(std::uint32_t g) const {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016" PRIx64 "%04x", mix(seed * 31ULL + g), g & 0xffff);
    return buf;
  }
  std::string wamid(std::uint32_t g, std::uint32_t m, char dir) const {
    char buf[96];
    std::snprintf(buf, sizeof buf, "wamid.HBgLMTY1MDU1NTEyMzQVAgAR%cBQ%016" PRIx64 "%06x%04xAA", dir,
                  mix((static_cast<std::uint64_t>(g) << 20) ^ m ^ seed), g, m);
    return buf;
  }
  // Members: 70% phone only, 25% phone and BSUID, 5% BSUID only (from 2026).
  int identity(std::uint32_t g, unsigned k) const {
    return static_cast<int>(mix(seed ^ (g * 8ULL + k) * 977ULL) % 100);
  }
  std::optional<std::string> phone(std::uint32_t g, unsigned k) const {
    if (identity(g, k) >= 95) return std::nullopt;
    char buf[24];
    std::snprintf(buf, sizeof buf, "1555%07u", static_cast<unsigned>((g * 8 + k) % 10000000));
    return std::string(buf);
  }
  std::optional<std::string> bsuid(std::uint32_t g, unsigned k) const {
    if (identity(g, k) < 70) return std::nullopt;
    char buf[40];
    std::snprintf(buf, sizeof buf, "US.%019" PRIu64,
                  static_cast<std::uint64_t>(mix(g * 8ULL + k) % 10000000000000000000ULL));
    return std::string(buf);
  }
  std::string contact_name(std::uint32_t g, unsigned k) const {
    return "Customer " + std::to_string(g) + "-" + std::to_string(k);
  }
  Participant participant(std::uint32_t g, unsigned k) const {
    Participant p;
    p.wa_id = phone(g, k);
    p.user_id = bsuid(g, k);
    return p;
  }
};

// How busy each group is: inbound member messages and business messages per group.
struct Shape {
  std::int64_t inbound_min = 5, inbound_max = 15;
  std::int64_t outbound_min = 8, outbound_max = 19;
};

inline std::vector<Ev> generate_group(const World& w, std::uint32_t g, std::mt19937_64& rng, const Shape& shape) {
  auto uni = [&rng](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  auto chance = [&rng](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  std::vector<Ev> out;
  const std::int64_t created = kDayStart + uni(0, 12 * 3600);
  Ev ev;
  ev.group = g;
  ev.ts = created;
  ev.kind = Kind::group_created;
  ev.aux = w.has_request(g) ? 1 : 0;
  out.push_back(ev);

  const unsigned members = static_cast<unsigned>(uni(3, 7));
  const bool approval = chance(0.05);
  std::vector<std::int64_t> joined_at(members);
  std::int64_t t = created;
  for (unsigned k = 0; k < members; ++k) {
    t += uni(30, 1800);
    if (approval) {
      out.push_back(Ev{t, g, 0, Kind::join_request, static_cast<std::uint8_t>(k), 0});
      t += uni(20, 600);
    }
    joined_at[k] = t;
    out.push_back(Ev{t, g, 0, Kind::participant_added, static_cast<std::uint8_t>(k), 0});
  }
  const std::int64_t first = joined_at[0];
  const std::int64_t span = uni(2 * 3600, 12 * 3600);
  std::int64_t left_at = INT64_MAX;
  unsigned leaver = 0;
  if (chance(0.13)) {  // someone leaves (10%) or is removed by the business (3%)
    leaver = static_cast<unsigned>(uni(0, members - 1));
    left_at = joined_at[leaver] + uni(600, span);
    out.push_back(Ev{left_at, g, 0, chance(0.77) ? Kind::participant_left : Kind::participant_removed,
                     static_cast<std::uint8_t>(leaver), 0});
  }
  auto present = [&](unsigned k, std::int64_t at) { return joined_at[k] <= at && !(k == leaver && at >= left_at); };

  const auto inbound = static_cast<std::uint32_t>(uni(shape.inbound_min, shape.inbound_max));
  const auto outbound = static_cast<std::uint32_t>(uni(shape.outbound_min, shape.outbound_max));
  for (std::uint32_t m = 0; m < inbound; ++m) {
    const std::int64_t at = first + uni(0, span);
    unsigned k = static_cast<unsigned>(uni(0, members - 1));
    for (unsigned tries = 0; tries < members && !present(k, at); ++tries) k = (k + 1) % members;
    if (!present(k, at)) continue;
    const int r = static_cast<int>(uni(0, 99));
    out.push_back(Ev{at, g, m, Kind::inbound, static_cast<std::uint8_t>(k),
                     static_cast<std::uint8_t>(r < 80   ? 0
                                               : r < 90 ? 1
                                                        : 2)});
  }
  for (std::uint32_t o = 0; o < outbound; ++o) {
    const std::uint32_t m = inbound + o;
    const std::int64_t at = first + uni(0, span);
    if (chance(0.005)) {  // the whole send failed
      out.push_back(Ev{at + 1, g, m, Kind::status, kNoMember, st_failed});
      continue;
    }
    out.push_back(Ev{at + 1, g, m, Kind::status, kNoMember, st_sent});
    for (unsigned k = 0; k < members; ++k) {
      if (!present(k, at)) continue;
      const std::int64_t delivered = at + uni(1, 30);
      out.push_back(Ev{delivered, g, m, Kind::status, static_cast<std::uint8_t>(k), st_delivered});
      if (chance(0.8))
        out.push_back(Ev{delivered + uni(5, 900), g, m, Kind::status, static_cast<std::uint8_t>(k), st_read});
    }
  }
  if (chance(0.03)) out.push_back(Ev{first + uni(0, span), g, 1, Kind::subject_changed, kNoMember, 0});
  for (int d = static_cast<int>(uni(0, 2)); d > 0; --d)
    out.push_back(Ev{first + uni(0, span), g, static_cast<std::uint32_t>(d), Kind::direct_message, 0, 0});
  if (chance(0.02)) out.push_back(Ev{first + span + uni(60, 3600), g, 0, Kind::group_deleted, kNoMember, 0});
  return out;
}

inline std::vector<Ev> generate_stream(const World& w, std::uint32_t groups, StreamStats& stats,
                                       const Shape& shape = Shape{}) {
  std::mt19937_64 rng(w.seed);
  std::vector<Delivery> deliveries;
  std::uint64_t seq = 0;
  auto uni = [&rng](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  for (std::uint32_t g = 0; g < groups; ++g) {
    for (const Ev& ev : generate_group(w, g, rng, shape)) {
      std::int64_t at = ev.ts;
      const std::int64_t r = uni(0, 9999);
      if (r < 200) {  // 2%: late
        at += uni(1, 120);
        ++stats.delayed;
      }
      deliveries.push_back(Delivery{at, seq++, ev});
      if (r >= 200 && r < 350) {  // 1.5%: delivered twice (a retried body)
        deliveries.push_back(Delivery{at + uni(10, 3600), seq++, ev});
        ++stats.duplicates;
      }
    }
  }
  std::sort(deliveries.begin(), deliveries.end(),
            [](const Delivery& a, const Delivery& b) { return a.at != b.at ? a.at < b.at : a.seq < b.seq; });
  std::vector<Ev> out;
  out.reserve(deliveries.size());
  for (const auto& d : deliveries) {
    out.push_back(d.ev);
    ++stats.by_kind[static_cast<int>(d.ev.kind)];
  }
  stats.events = out.size();
  return out;
}

inline WebhookContext context(const char* field, std::int64_t ts) {
  WebhookContext c;
  c.waba_id = kWaba;
  c.phone_number_id = kPhoneNumberId;
  c.display_phone_number = "15550001234";
  c.field = field;
  c.timestamp = ts;
  return c;
}

inline WebhookEvent materialise(const World& w, const Ev& ev) {
  const std::uint32_t g = ev.group;
  switch (ev.kind) {
    case Kind::group_created: {
      GroupCreated e;
      e.context = context("group_lifecycle_update", ev.ts);
      e.group_id = w.group_id(g);
      if (ev.aux) e.request_id = w.request_id(g);
      e.subject = "Order " + std::to_string(100000 + g);
      e.description = "Delivery question about order " + std::to_string(100000 + g);
      e.invite_link = "https://chat.whatsapp.com/" + w.request_id(g).substr(0, 22);
      return e;
    }
    case Kind::participant_added: {
      ParticipantsAdded e;
      e.context = context("group_participants_update", ev.ts);
      e.group_id = w.group_id(g);
      e.reason = "invite_link";
      e.added_participants.push_back(w.participant(g, ev.member));
      return e;
    }
    case Kind::join_request: {
      JoinRequestCreated e;
      e.context = context("group_participants_update", ev.ts);
      e.group_id = w.group_id(g);
      e.join_request_id = "MTY0NjcwNDM1OTU6" + std::to_string(g * 8 + ev.member);
      e.requester = w.participant(g, ev.member);
      return e;
    }
    case Kind::participant_left:
    case Kind::participant_removed: {
      ParticipantsRemoved e;
      e.context = context("group_participants_update", ev.ts);
      e.group_id = w.group_id(g);
      Participant p = w.participant(g, ev.member);
      if (ev.kind == Kind::participant_removed) {
        e.request_id = w.request_id(g ^ 0x5a5a5aU);
        e.initiated_by = RemovalInitiator::business;
        e.initiated_by_raw = "business";
        p.input = p.wa_id ? *p.wa_id : *p.user_id;
      } else {
        e.initiated_by = RemovalInitiator::participant;
        e.initiated_by_raw = "participant";
      }
      e.removed_participants.push_back(std::move(p));
      return e;
    }
    case Kind::inbound: {
      GroupMessageReceived e;
      e.context = context("messages", ev.ts);
      e.id = w.wamid(g, ev.msg, 'I');
      e.group_id = w.group_id(g);
      e.from = w.phone(g, ev.member);
      e.from_user_id = w.bsuid(g, ev.member);
      e.contact_name = w.contact_name(g, ev.member);
      e.contact_wa_id = e.from;
      if (ev.aux == 1) {
        e.type = "image";
        e.media_id = std::to_string(1000000000000000ULL + g * 1000ULL + ev.msg);
        e.mime_type = "image/jpeg";
        e.caption = "photo of the parcel";
      } else {
        e.type = "text";
        e.text = "Hello, about my order: is there any news on the delivery? (" + std::to_string(ev.msg) + ")";
        if (ev.aux == 2 && ev.msg > 0) {
          e.reply_to = ReplyContext{kPhoneNumberId, w.wamid(g, ev.msg - 1, 'I')};
        }
      }
      return e;
    }
    case Kind::status: {
      GroupMessageStatus e;
      e.context = context("messages", ev.ts);
      e.id = w.wamid(g, ev.msg, 'O');
      static const char* const names[] = {"sent", "delivered", "read", "failed"};
      e.status = names[ev.aux];
      e.delivery_status = parse_delivery_status(e.status);
      e.recipient_id = w.group_id(g);
      e.recipient_type = "group";
      e.group_id = e.recipient_id;
      e.pricing_category = "group_service";
      e.pricing_type = "regular";
      e.pricing_model = "PMP";
      e.billable = true;
      if (ev.member != kNoMember) {
        e.recipient_participant_id = w.phone(g, ev.member);
        e.recipient_participant_user_id = w.bsuid(g, ev.member);
        e.contact_name = w.contact_name(g, ev.member);
      }
      if (ev.aux == st_failed) {
        ItemError err;
        err.code = 131000;
        err.title = "Something went wrong";
        e.errors.push_back(err);
      }
      return e;
    }
    case Kind::subject_changed: {
      GroupSettingsUpdated e;
      e.context = context("group_settings_update", ev.ts);
      e.group_id = w.group_id(g);
      e.request_id = w.request_id(g ^ 0xa5a5a5U);
      SettingOutcome s;
      s.text = "Order " + std::to_string(100000 + g) + " (escalated)";
      s.update_successful = true;
      e.group_subject = s;
      return e;
    }
    case Kind::group_deleted: {
      GroupDeleted e;
      e.context = context("group_lifecycle_update", ev.ts);
      e.group_id = w.group_id(g);
      e.request_id = w.request_id(g ^ 0x3c3c3cU);
      return e;
    }
    case Kind::direct_message: {
      DirectMessageReceived e;
      e.context = context("messages", ev.ts);
      e.id = w.wamid(g, 900000 + ev.msg, 'D');
      e.type = "text";
      e.from = w.phone(g, 0);
      e.text = "hi";
      return e;
    }
  }
  return UnknownEvent{};
}

// ---------------------------------------------------------------------------------------------
// Tickets opened beforehand, and the digest

[[noreturn]] inline void fail(const char* what, const Error& e) {
  std::fprintf(stderr, "%s: %s\n", what, e.to_string().c_str());
  std::exit(1);
}

/// The aggregator's clock: the end of the simulated day (so resolution deadlines are the same in
/// every run and in every tree).
inline std::chrono::system_clock::time_point end_of_day() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(kDayStart + 86400));
}

/// Opens the tickets of the groups that have a request id (the host's create_group answers).
inline void open_tickets(const World& w, TicketAggregator& agg, std::uint32_t groups) {
  for (std::uint32_t g = 0; g < groups; ++g) {
    if (!w.has_request(g)) continue;
    OpenTicketRequest r;
    r.request_id = w.request_id(g);
    r.phone_number_id = kPhoneNumberId;
    r.assignee = "agent-" + std::to_string(g % 40);
    r.subject = "Order " + std::to_string(100000 + g);
    r.requested_at = kDayStart - 60;
    auto opened = agg.open_ticket(r);
    if (!opened) fail("open_ticket", opened.error());
  }
}

/// FNV-1a over every ticket's JSON (to_json), sorted, then xor the count: equal digests, equal
/// tickets, whatever the store, batching or concurrency. `average_json_bytes` is a by-product.
inline std::uint64_t digest_of(TicketStore& store, double* average_json_bytes = nullptr) {
  TicketQuery q;
  q.limit = std::numeric_limits<std::size_t>::max();
  auto all = store.list(q);
  if (!all) fail("list", all.error());
  std::vector<std::string> json;
  json.reserve(all->size());
  for (const auto& t : *all) json.push_back(to_json(t.ticket));
  std::sort(json.begin(), json.end());
  std::size_t bytes = 0;
  for (const auto& j : json) bytes += j.size();
  if (average_json_bytes)
    *average_json_bytes = json.empty() ? 0 : static_cast<double>(bytes) / static_cast<double>(json.size());
  std::uint64_t h = 1469598103934665603ULL;
  for (const auto& s : json) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
  }
  return h ^ all->size();
}

/// The reference stream every digest is taken on: this seed and group count, the default Shape.
constexpr unsigned kReferenceSeed = 20260705;
constexpr std::uint32_t kReferenceGroups = 2000;

/// Applies `stream` one event at a time to a fresh aggregator over `store` (after open_tickets)
/// and returns the digest: what tests/bench/v1_digest.sh runs against the v1 tree.
inline std::uint64_t reference_digest(TicketStore& store, unsigned seed = kReferenceSeed,
                                      std::uint32_t groups = kReferenceGroups) {
  const World w{seed};
  StreamStats stats;
  const std::vector<Ev> stream = generate_stream(w, groups, stats);
  TicketAggregator agg(store, ResolutionPolicy{}, end_of_day);
  open_tickets(w, agg, groups);
  for (const Ev& ev : stream) {
    auto o = agg.apply(materialise(w, ev));
    if (!o) fail("apply", o.error());
  }
  return digest_of(store);
}

}  // namespace ticket_stream
