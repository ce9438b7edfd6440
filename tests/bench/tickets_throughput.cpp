// Ticket aggregation throughput: events/s through TicketAggregator::apply, per store and batching.
//
//   wagroups_bench_tickets_throughput [--groups N] [--sqlite-groups N] [--sqlite-single-groups N]
//                                     [--runs N] [--seed N] [--dir PATH] [--only memory|sqlite]
//                                     [--filter TEXT]   (e.g. --filter "in place single")
//
// The stream is generated (seeded, deterministic): N groups created over a simulated day, each
// with its creation webhook (95% carry the request id of an `open_ticket` made beforehand, not
// timed), 3-7 joins (5% of groups by approved join request), 20-60 inbound member messages (text,
// image, reply; with the contact's name; some members known by BSUID, a few by BSUID alone),
// 30-75 business messages each followed by the group-wide `sent` and a `delivered` and (80%) a
// `read` per participant (Meta aggregates 7-participant statuses into one body; each is one
// event), 0.5% of sends failing, leaves and removals, subject changes, deletions, and some 1:1
// messages (not applicable). Then delivery is perturbed as Meta's is: 2% of events arrive 1-120 s
// late (so a `read` can precede its `delivered`, a message its sender's join) and 1.5% are
// delivered a second time 10 s-1 h later (a retried body). Events are delivered in that order.
//
// Modes: `single` calls apply(event) per event (a host applying each event as it dequeues it);
// `batch B` calls apply(events) with B consecutive events, one store transaction each (a host
// applying one webhook body, or draining up to B queued events, at once). Only the apply calls
// are timed: the WebhookEvent objects are built before, 1,000 at a time, from a compact form.
// The in-memory stores get the N-group stream (default 2,000 groups, about 1.05M events);
// SQLite, which writes each touched ticket whole at every commit, gets streams of the same shape
// over fewer groups: --sqlite-groups (default 400, about 210k events) for the batches and
// --sqlite-single-groups (default 10) for single events. The DB files go to a fresh directory
// under --dir (default: the temp directory, TMPDIR), removed at the end.
//
// Each configuration runs --runs times in this process, each on a fresh store. Reported: the
// median events/s by the wall clock ("wall"), the slowest and fastest run; the median by the wall
// clock less the time the thread waited for a CPU ("own": the run on an idle machine, fsync waits
// included); by this thread's CPU time ("cpu": fsync waits excluded, so for SQLite "own" is the
// figure); the peak RSS during the configuration's runs (VmHWM, reset before them); duplicates
// ignored; a digest of the final tickets (equal digests: equal tickets, whatever the store and
// batching) and their average JSON size. The stream line says how many tickets a batch touches.

#include <sys/resource.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <time.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "wagroups/tickets.hpp"
#if defined(WAGROUPS_BENCH_HAVE_SQLITE)
#include "wagroups/sqlite/ticket_store.hpp"
#endif

namespace {

using namespace wagroups;

constexpr std::int64_t kDayStart = 1790000000;
constexpr const char* kWaba = "880011223344556";
constexpr const char* kPhoneNumberId = "771234567890123";

std::uint64_t mix(std::uint64_t x) {  // splitmix64: per-entity facts without RNG state
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
  std::int64_t ts = 0;       // the event's own timestamp
  std::uint32_t group = 0;
  std::uint32_t msg = 0;     // message index in the group, or a counter
  Kind kind = Kind::inbound;
  std::uint8_t member = kNoMember;
  std::uint8_t aux = 0;      // status, message type, or: the group has a request id
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
  int identity(std::uint32_t g, unsigned k) const { return static_cast<int>(mix(seed ^ (g * 8ULL + k) * 977ULL) % 100); }
  std::optional<std::string> phone(std::uint32_t g, unsigned k) const {
    if (identity(g, k) >= 95) return std::nullopt;
    char buf[24];
    std::snprintf(buf, sizeof buf, "1555%07u", static_cast<unsigned>((g * 8 + k) % 10000000));
    return std::string(buf);
  }
  std::optional<std::string> bsuid(std::uint32_t g, unsigned k) const {
    if (identity(g, k) < 70) return std::nullopt;
    char buf[40];
    std::snprintf(buf, sizeof buf, "US.%019" PRIu64, static_cast<std::uint64_t>(mix(g * 8ULL + k) % 10000000000000000000ULL));
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

std::vector<Ev> generate_group(const World& w, std::uint32_t g, std::mt19937_64& rng) {
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
  auto present = [&](unsigned k, std::int64_t at) {
    return joined_at[k] <= at && !(k == leaver && at >= left_at);
  };

  const auto inbound = static_cast<std::uint32_t>(uni(20, 60));
  const auto outbound = static_cast<std::uint32_t>(uni(30, 75));
  for (std::uint32_t m = 0; m < inbound; ++m) {
    const std::int64_t at = first + uni(0, span);
    unsigned k = static_cast<unsigned>(uni(0, members - 1));
    for (unsigned tries = 0; tries < members && !present(k, at); ++tries) k = (k + 1) % members;
    if (!present(k, at)) continue;
    const int r = static_cast<int>(uni(0, 99));
    out.push_back(Ev{at, g, m, Kind::inbound, static_cast<std::uint8_t>(k),
                     static_cast<std::uint8_t>(r < 80 ? 0 : r < 90 ? 1 : 2)});
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

std::vector<Ev> generate_stream(const World& w, std::uint32_t groups, StreamStats& stats) {
  std::mt19937_64 rng(w.seed);
  std::vector<Delivery> deliveries;
  std::uint64_t seq = 0;
  auto uni = [&rng](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  for (std::uint32_t g = 0; g < groups; ++g) {
    for (const Ev& ev : generate_group(w, g, rng)) {
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

WebhookContext context(const char* field, std::int64_t ts) {
  WebhookContext c;
  c.waba_id = kWaba;
  c.phone_number_id = kPhoneNumberId;
  c.display_phone_number = "15550001234";
  c.field = field;
  c.timestamp = ts;
  return c;
}

WebhookEvent materialise(const World& w, const Ev& ev) {
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
// Measuring

long vm_hwm_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

void reset_peak_rss() {  // Linux >= 4.0: "5" resets VmHWM to the current RSS
#if defined(__GLIBC__)
  malloc_trim(0);  // hand back what earlier configurations freed, so it does not count here
#endif
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
}

[[noreturn]] void fail(const char* what, const Error& e) {
  std::fprintf(stderr, "%s: %s\n", what, e.to_string().c_str());
  std::exit(1);
}

// This thread's CPU time: on a shared machine, time spent descheduled is not the code's. (Waiting
// for fsync is not CPU time either: for SQLite the wall-clock figure is the one that counts.)
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Time this thread spent runnable but waiting for a CPU (/proc schedstat, Linux): taken off the
// wall clock it gives what the run would take on a machine of its own, fsync waits included.
double runqueue_wait_seconds() {
  std::ifstream in("/proc/thread-self/schedstat");
  unsigned long long run_ns = 0, wait_ns = 0;
  if (!(in >> run_ns >> wait_ns)) return 0;
  return static_cast<double>(wait_ns) * 1e-9;
}

struct RunResult {
  double seconds = 0;
  double cpu = 0;
  double waiting = 0;  // for a CPU
  std::size_t events = 0;
  std::size_t duplicates_ignored = 0;
  std::uint64_t digest = 0;
  double average_json_bytes = 0;
};

constexpr std::size_t kChunk = 1000;  // events materialised at a time (batch sizes divide it)

// Opens the tickets of the groups that have a request id (the host's create_group answers).
void open_tickets(const World& w, TicketAggregator& agg, std::uint32_t groups) {
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

std::uint64_t digest_of(TicketStore& store, double& average_json_bytes) {
  TicketQuery q;
  q.limit = static_cast<std::size_t>(-1);
  auto all = store.list(q);
  if (!all) fail("list", all.error());
  std::vector<std::string> json;
  json.reserve(all->size());
  for (const auto& t : *all) json.push_back(to_json(t.ticket));
  std::sort(json.begin(), json.end());
  std::size_t bytes = 0;
  for (const auto& j : json) bytes += j.size();
  average_json_bytes = json.empty() ? 0 : static_cast<double>(bytes) / static_cast<double>(json.size());
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a over the sorted tickets
  for (const auto& s : json) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
  }
  return h ^ all->size();
}

// batch 0 = single events.
RunResult run(const World& w, const std::vector<Ev>& stream, std::uint32_t groups, TicketStore& store,
              std::size_t batch) {
  TicketAggregator agg(store, ResolutionPolicy{}, [] {
    return std::chrono::system_clock::time_point(std::chrono::seconds(kDayStart + 86400));
  });
  open_tickets(w, agg, groups);
  RunResult r;
  std::vector<WebhookEvent> chunk;
  std::vector<std::vector<WebhookEvent>> batches;
  auto count = [&r](const ApplyOutcome& o) {
    for (const auto& c : o.changes)
      if (c.kind == TicketChangeKind::duplicate_ignored) ++r.duplicates_ignored;
  };
  for (std::size_t at = 0; at < stream.size(); at += kChunk) {
    const std::size_t end = std::min(stream.size(), at + kChunk);
    if (batch == 0) {
      chunk.clear();
      for (std::size_t i = at; i < end; ++i) chunk.push_back(materialise(w, stream[i]));
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_seconds();
      const double w0 = runqueue_wait_seconds();
      for (const auto& ev : chunk) {
        auto o = agg.apply(ev);
        if (!o) fail("apply", o.error());
        count(*o);
      }
      r.cpu += cpu_seconds() - c0;
      r.waiting += runqueue_wait_seconds() - w0;
      r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } else {
      batches.clear();
      for (std::size_t i = at; i < end; i += batch) {
        batches.emplace_back();
        for (std::size_t j = i; j < std::min(end, i + batch); ++j) batches.back().push_back(materialise(w, stream[j]));
      }
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_seconds();
      const double w0 = runqueue_wait_seconds();
      for (const auto& b : batches) {
        auto o = agg.apply(b);
        if (!o) fail("apply", o.error());
        count(*o);
      }
      r.cpu += cpu_seconds() - c0;
      r.waiting += runqueue_wait_seconds() - w0;
      r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    r.events += end - at;
  }
  r.digest = digest_of(store, r.average_json_bytes);
  return r;
}

struct Row {
  std::string store, mode;
  std::size_t events = 0;
  std::vector<double> rates;
  std::vector<double> cpu_rates;
  std::vector<double> own_rates;  // wall clock less the runqueue wait
  long peak_rss_kib = 0;
  std::size_t duplicates_ignored = 0;
  std::uint64_t digest = 0;
  double average_json_bytes = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string g_filter;

void measure(const std::string& store_name, std::size_t batch, int runs, const World& w,
             const std::vector<Ev>& stream, std::uint32_t groups,
             const std::function<std::unique_ptr<TicketStore>()>& make_store) {
  Row row;
  row.store = store_name;
  row.mode = batch == 0 ? "single" : "batch " + std::to_string(batch);
  if (!g_filter.empty() && (row.store + " " + row.mode).find(g_filter) == std::string::npos) return;
  reset_peak_rss();
  for (int i = 0; i < runs; ++i) {
    auto store = make_store();
    RunResult r = run(w, stream, groups, *store, batch);
    row.events = r.events;
    row.rates.push_back(static_cast<double>(r.events) / r.seconds);
    row.cpu_rates.push_back(static_cast<double>(r.events) / r.cpu);
    row.own_rates.push_back(static_cast<double>(r.events) / std::max(r.seconds - r.waiting, r.cpu));
    row.duplicates_ignored = r.duplicates_ignored;
    if (i > 0 && r.digest != row.digest) {
      std::fprintf(stderr, "%s %s: run %d ended with different tickets\n", store_name.c_str(), row.mode.c_str(), i);
      std::exit(1);
    }
    row.digest = r.digest;
    row.average_json_bytes = r.average_json_bytes;
  }
  row.peak_rss_kib = vm_hwm_kib();
  std::printf("%-21s %-10s %9zu %11.0f %11.0f %11.0f %11.0f %11.0f %9.1f %6zu  %016" PRIx64 " %7.1f\n",
              row.store.c_str(), row.mode.c_str(), row.events, median(row.rates),
              *std::min_element(row.rates.begin(), row.rates.end()),
              *std::max_element(row.rates.begin(), row.rates.end()), median(row.own_rates), median(row.cpu_rates),
              static_cast<double>(row.peak_rss_kib) / 1024.0, row.duplicates_ignored, row.digest,
              row.average_json_bytes / 1024.0);
  std::fflush(stdout);
}

struct Settings {
  std::uint32_t groups = 2000;
  std::uint32_t sqlite_groups = 400;
  std::uint32_t sqlite_single_groups = 10;
  int runs = 3;
  unsigned seed = 20260705;
  std::string dir;
  std::string only;
  std::string filter;  // run only the configurations whose "store mode" label contains it
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--groups N] [--sqlite-groups N] [--sqlite-single-groups N] [--runs N] [--seed N]\n"
               "          [--dir PATH] [--only memory|sqlite] [--filter TEXT]\n",
               argv0);
  std::exit(2);
}

Settings parse_args(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage(argv[0]);
    const std::string value = argv[++i];
    if (arg == "--dir") { s.dir = value; continue; }
    if (arg == "--filter") { s.filter = value; continue; }
    if (arg == "--only") {
      if (value != "memory" && value != "sqlite") usage(argv[0]);
      s.only = value;
      continue;
    }
    char* end = nullptr;
    const long n = std::strtol(value.c_str(), &end, 10);
    if (end == value.c_str() || *end != '\0' || n < 1 || n > 10000000) usage(argv[0]);
    if (arg == "--groups") s.groups = static_cast<std::uint32_t>(n);
    else if (arg == "--sqlite-groups") s.sqlite_groups = static_cast<std::uint32_t>(n);
    else if (arg == "--sqlite-single-groups") s.sqlite_single_groups = static_cast<std::uint32_t>(n);
    else if (arg == "--runs") s.runs = static_cast<int>(n);
    else if (arg == "--seed") s.seed = static_cast<unsigned>(n);
    else usage(argv[0]);
  }
  return s;
}

// How many tickets a batch of `batch` consecutive events touches, on average.
double distinct_groups_per_batch(const std::vector<Ev>& stream, std::size_t batch) {
  std::size_t total = 0, batches = 0;
  std::vector<std::uint32_t> groups;
  for (std::size_t at = 0; at + batch <= stream.size(); at += batch, ++batches) {
    groups.clear();
    for (std::size_t i = at; i < at + batch; ++i) groups.push_back(stream[i].group);
    std::sort(groups.begin(), groups.end());
    total += static_cast<std::size_t>(std::unique(groups.begin(), groups.end()) - groups.begin());
  }
  return batches ? static_cast<double>(total) / static_cast<double>(batches) : 0;
}

void describe(const char* name, std::uint32_t groups, const StreamStats& s, const std::vector<Ev>& stream) {
  static const char* const kinds[] = {"created", "added", "join_req", "left", "removed", "inbound",
                                      "status", "subject", "deleted", "1:1"};
  std::printf("stream %s: %u groups, %zu events (%zu delivered twice, %zu late):", name, groups, s.events,
              s.duplicates, s.delayed);
  for (int k = 0; k < 10; ++k) std::printf(" %s %zu", kinds[k], s.by_kind[k]);
  std::printf("; tickets touched per batch of 100: %.1f, of 1000: %.1f\n", distinct_groups_per_batch(stream, 100),
              distinct_groups_per_batch(stream, 1000));
}

}  // namespace

int main(int argc, char** argv) {
  const Settings s = parse_args(argc, argv);
  g_filter = s.filter;
  const World world{s.seed};
  std::printf("seed %u, %d runs per configuration, median events/s of the timed apply calls\n", s.seed, s.runs);

  auto print_header = [] {
    std::printf("%-21s %-10s %9s %11s %11s %11s %11s %11s %9s %6s  %-16s %s\n", "store", "mode", "events",
                "wall ev/s", "min wall", "max wall", "own ev/s", "cpu ev/s", "peak MiB", "dups", "tickets digest",
                "KiB/ticket");
  };

  if (s.only.empty() || s.only == "memory") {
    StreamStats stats;
    const auto stream = generate_stream(world, s.groups, stats);
    describe("memory", s.groups, stats, stream);
    print_header();
    for (bool cow : {true, false}) {
      for (std::size_t batch : {std::size_t{0}, std::size_t{100}, std::size_t{1000}}) {
        measure(cow ? "memory copy_on_write" : "memory in place", batch, s.runs, world, stream, s.groups,
                [cow] { return std::make_unique<InMemoryTicketStore>(cow); });
      }
    }
  }

#if defined(WAGROUPS_BENCH_HAVE_SQLITE)
  if (s.only.empty() || s.only == "sqlite") {
    namespace fs = std::filesystem;
    fs::path base = s.dir.empty() ? fs::temp_directory_path() : fs::path(s.dir);
    std::string templ = (base / "wagroups-bench-XXXXXX").string();
    if (!mkdtemp(templ.data())) {
      std::perror("mkdtemp");
      return 1;
    }
    const fs::path dir = templ;
    struct statfs fsinfo {};
    statfs(dir.c_str(), &fsinfo);
    std::printf("sqlite files in %s (filesystem magic 0x%lx%s)\n", dir.c_str(),
                static_cast<unsigned long>(fsinfo.f_type),
                static_cast<unsigned long>(fsinfo.f_type) == 0x01021994UL ? ", tmpfs: fsync is free" : "");
    int file_no = 0;
    auto sqlite_store = [&dir, &file_no](SqliteOptions::Durability d) {
      return [&dir, &file_no, d]() -> std::unique_ptr<TicketStore> {
        const fs::path file = dir / ("tickets-" + std::to_string(file_no++) + ".db");
        for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
        SqliteOptions o;
        o.durability = d;
        auto opened = SqliteTicketStore::open(file.string(), o);
        if (!opened) fail("SqliteTicketStore::open", opened.error());
        return std::move(*opened);
      };
    };
    for (std::uint32_t groups : {s.sqlite_groups, s.sqlite_single_groups}) {
      StreamStats stats;
      const auto stream = generate_stream(world, groups, stats);
      describe(groups == s.sqlite_groups ? "sqlite batched" : "sqlite single", groups, stats, stream);
      print_header();
      for (auto d : {SqliteOptions::Durability::full, SqliteOptions::Durability::normal}) {
        const std::string name = d == SqliteOptions::Durability::full ? "sqlite FULL" : "sqlite NORMAL";
        if (groups == s.sqlite_groups) {
          for (std::size_t batch : {std::size_t{1000}, std::size_t{100}})
            measure(name, batch, s.runs, world, stream, groups, sqlite_store(d));
        } else {
          measure(name, 0, s.runs, world, stream, groups, sqlite_store(d));
        }
      }
    }
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
#else
  if (s.only == "sqlite") std::printf("built without wagroups::sqlite\n");
#endif
  return 0;
}
