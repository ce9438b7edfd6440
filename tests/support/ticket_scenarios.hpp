#pragma once

// Randomized group lives for the ticket property test, shared by every TicketStore's tests.
// Public API only (wagroups/tickets.hpp), so that tests linking just the installed library (the
// SQLite store's) run the same property:
//
//     auto report = wagroups_test::run_ticket_property(
//         [] { return std::make_unique<wagroups::InMemoryTicketStore>(false); },   // reference
//         [](std::uint64_t seed) { return make_my_store(seed); },                  // under test
//         /*count=*/200, /*base_seed=*/42);
//     INFO(report.summary());
//     REQUIRE(!report.failure);
//
// A scenario is the true order of one to three groups' lives: host actions (open_ticket,
// record_outbound, record_invite, resolve, close) and the webhook events they and the members
// cause. The reference applies each step once, in order, one call each. The test delivers each
// event 1-3 times, each delivery displaced by up to K positions (repeats later still), singly and
// in batches of random size; host actions stay where they were (they are the host's own calls),
// and a 1:1 invite status never precedes the record of its invite (before it, the store has no
// way to know the message, and the event is rightly not applicable). Both end with the same
// tick. Every ticket must then be equal (operator==) and both stores must list the same tickets.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "wagroups/tickets.hpp"
#include "wagroups/webhook/events.hpp"

namespace wagroups_test {

/// splitmix64: tiny, fast, and the same sequence on every platform (std distributions are not).
class ScenarioRng {
 public:
  explicit ScenarioRng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [lo, hi].
  std::int64_t range(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  bool chance(int percent) { return range(0, 99) < percent; }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<std::size_t>(range(0, static_cast<std::int64_t>(v.size()) - 1))];
  }

 private:
  std::uint64_t state_;
};

/// Builders for single events with the fields tickets use (for hand-written tests).
namespace events {

inline wagroups::WebhookContext at(std::int64_t ts, const char* field = "group_participants_update") {
  wagroups::WebhookContext c;
  c.waba_id = "102290129340398";
  c.phone_number_id = "106540352242922";
  c.field = field;
  c.timestamp = ts;
  return c;
}

/// A person named by phone and/or BSUID (empty string = not named that way).
inline wagroups::Participant person(const std::string& phone, const std::string& bsuid = {}) {
  wagroups::Participant p;
  if (!phone.empty()) p.wa_id = phone;
  if (!bsuid.empty()) p.user_id = bsuid;
  return p;
}

inline wagroups::GroupCreated created(const std::string& group_id, std::optional<std::string> request_id,
                                      std::int64_t ts, std::optional<std::string> subject = std::nullopt) {
  wagroups::GroupCreated e;
  e.context = at(ts, "group_lifecycle_update");
  e.group_id = group_id;
  e.request_id = std::move(request_id);
  e.subject = std::move(subject);
  e.invite_link = "https://chat.whatsapp.com/" + group_id;
  return e;
}

inline wagroups::GroupCreateFailed create_failed(const std::string& request_id, std::int64_t ts, int code = 131211) {
  wagroups::GroupCreateFailed e;
  e.context = at(ts, "group_lifecycle_update");
  e.request_id = request_id;
  wagroups::ItemError err;
  err.code = code;
  err.title = "Group creation failed";
  e.errors.push_back(err);
  return e;
}

inline wagroups::GroupDeleted deleted(const std::string& group_id, std::int64_t ts) {
  wagroups::GroupDeleted e;
  e.context = at(ts, "group_lifecycle_update");
  e.group_id = group_id;
  return e;
}

inline wagroups::ParticipantsAdded added(const std::string& group_id, std::vector<wagroups::Participant> people,
                                         std::int64_t ts) {
  wagroups::ParticipantsAdded e;
  e.context = at(ts);
  e.group_id = group_id;
  e.reason = "invite_link";
  e.added_participants = std::move(people);
  return e;
}

inline wagroups::ParticipantsRemoved removed(const std::string& group_id, std::vector<wagroups::Participant> people,
                                             std::int64_t ts,
                                             wagroups::RemovalInitiator by = wagroups::RemovalInitiator::business) {
  wagroups::ParticipantsRemoved e;
  e.context = at(ts);
  e.group_id = group_id;
  e.initiated_by = by;
  e.removed_participants = std::move(people);
  return e;
}

inline wagroups::JoinRequestCreated join_requested(const std::string& group_id, const std::string& join_request_id,
                                                   wagroups::Participant who, std::int64_t ts) {
  wagroups::JoinRequestCreated e;
  e.context = at(ts);
  e.group_id = group_id;
  e.join_request_id = join_request_id;
  e.requester = std::move(who);
  return e;
}

inline wagroups::GroupSettingsUpdated subject_changed(const std::string& group_id, const std::string& subject,
                                                      std::int64_t ts, bool succeeded = true) {
  wagroups::GroupSettingsUpdated e;
  e.context = at(ts, "group_settings_update");
  e.group_id = group_id;
  wagroups::SettingOutcome o;
  o.text = subject;
  o.update_successful = succeeded;
  e.group_subject = o;
  return e;
}

inline wagroups::GroupMessageReceived message(const std::string& group_id, const std::string& id,
                                              const std::string& from, std::int64_t ts,
                                              const std::string& text = "hello", const std::string& from_user_id = {}) {
  wagroups::GroupMessageReceived e;
  e.context = at(ts, "messages");
  e.id = id;
  e.type = "text";
  e.group_id = group_id;
  if (!from.empty()) e.from = from;
  if (!from_user_id.empty()) e.from_user_id = from_user_id;
  e.text = text;
  return e;
}

/// A group status; `phone` / `bsuid` empty for a group-wide one.
inline wagroups::GroupMessageStatus status(const std::string& group_id, const std::string& id,
                                           wagroups::DeliveryStatus s, std::int64_t ts, const std::string& phone = {},
                                           const std::string& bsuid = {}) {
  wagroups::GroupMessageStatus e;
  e.context = at(ts, "messages");
  e.id = id;
  e.status = wagroups::to_string(s);
  e.delivery_status = s;
  e.recipient_id = group_id;
  e.recipient_type = "group";
  e.group_id = group_id;
  if (!phone.empty()) e.recipient_participant_id = phone;
  if (!bsuid.empty()) e.recipient_participant_user_id = bsuid;
  if (s == wagroups::DeliveryStatus::failed) {
    wagroups::ItemError err;
    err.code = 131026;
    err.title = "Message undeliverable";
    e.errors.push_back(err);
  }
  return e;
}

inline wagroups::DirectMessageStatus direct_status(const std::string& id, wagroups::DeliveryStatus s, std::int64_t ts,
                                                   const std::string& phone) {
  wagroups::DirectMessageStatus e;
  e.context = at(ts, "messages");
  e.id = id;
  e.status = wagroups::to_string(s);
  e.delivery_status = s;
  e.recipient_id = phone;
  if (s == wagroups::DeliveryStatus::failed) {
    wagroups::ItemError err;
    err.code = 131026;
    err.title = "Message undeliverable";
    e.errors.push_back(err);
  }
  return e;
}

}  // namespace events

/// A call the host makes itself, at `at` (the aggregator's clock during the call).
struct HostAction {
  enum class Kind { open_ticket, record_outbound, record_invite, resolve, close };
  Kind kind = Kind::open_ticket;
  std::int64_t at = 0;
  std::string ticket_id;
  wagroups::OpenTicketRequest open;  // open_ticket
  std::string message_id;            // record_outbound
  std::string type;
  std::optional<std::string> text;
  std::optional<std::string> agent;
  wagroups::Invite invite;  // record_invite
};

struct ScenarioStep {
  bool is_event = true;
  wagroups::WebhookEvent event;
  HostAction action;
  /// Deliveries of this event must come after step `after` (a 1:1 invite status after its record).
  std::optional<std::size_t> after;
};

struct TicketScenario {
  std::uint64_t seed = 0;
  std::vector<ScenarioStep> steps;  ///< in true order
  wagroups::ResolutionPolicy policy;
  std::int64_t end_time = 0;  ///< the final tick
  std::size_t event_count() const {
    return static_cast<std::size_t>(
        std::count_if(steps.begin(), steps.end(), [](const ScenarioStep& s) { return s.is_event; }));
  }
};

namespace scenario_detail {

inline constexpr const char* kPhoneNumberId = "106540352242922";

struct Person {
  std::optional<std::string> phone;
  std::string bsuid;
  std::optional<std::string> username;
  std::string name;
  wagroups::MemberStatus status = wagroups::MemberStatus::invited;  // the generator's own view
};

class Builder {
 public:
  explicit Builder(std::uint64_t seed) : rng_(seed) { scenario_.seed = seed; }

  TicketScenario build() {
    auto& policy = scenario_.policy;
    policy.auto_resolve_after = std::chrono::minutes(rng_.chance(60) ? rng_.range(5, 90) : 0);
    policy.auto_close_after = std::chrono::minutes(rng_.chance(50) ? rng_.range(5, 240) : 0);
    policy.reopen_on_inbound = rng_.chance(75);
    const int groups = rng_.chance(60) ? 1 : static_cast<int>(rng_.range(2, 3));
    // Each group's life is generated on its own, then the lives are interleaved by time.
    std::vector<std::vector<std::pair<std::int64_t, ScenarioStep>>> lives;
    for (int g = 0; g < groups; ++g) lives.push_back(group_life(g));
    std::vector<std::size_t> next(lives.size(), 0);
    std::vector<std::size_t> first_step(lives.size(), 0);
    std::vector<std::vector<std::size_t>> placed(lives.size());
    for (;;) {
      std::size_t best = lives.size();
      for (std::size_t g = 0; g < lives.size(); ++g) {
        if (next[g] >= lives[g].size()) continue;
        if (best == lives.size() || lives[g][next[g]].first < lives[best][next[best]].first) best = g;
      }
      if (best == lives.size()) break;
      ScenarioStep step = std::move(lives[best][next[best]].second);
      end_ = std::max(end_, lives[best][next[best]].first);
      if (step.after) step.after = placed[best][*step.after];  // from the life's index to the scenario's
      placed[best].push_back(scenario_.steps.size());
      scenario_.steps.push_back(std::move(step));
      ++next[best];
    }
    scenario_.end_time = end_ + rng_.range(0, 6 * 3600);
    return std::move(scenario_);
  }

 private:
  using Life = std::vector<std::pair<std::int64_t, ScenarioStep>>;

  wagroups::WebhookContext context(const char* field, std::int64_t ts) {
    wagroups::WebhookContext c;
    c.waba_id = "102290129340398";
    c.phone_number_id = kPhoneNumberId;
    c.display_phone_number = "15550783881";
    c.field = field;
    if (!rng_.chance(1)) c.timestamp = ts;  // now and then Meta's placeholder: no timestamp
    return c;
  }

  void event(Life& life, std::int64_t ts, wagroups::WebhookEvent e, std::optional<std::size_t> after = std::nullopt) {
    ScenarioStep s;
    s.event = std::move(e);
    s.after = after;
    life.emplace_back(ts, std::move(s));
  }
  std::size_t host(Life& life, HostAction a) {
    ScenarioStep s;
    s.is_event = false;
    const std::int64_t at = a.at;
    s.action = std::move(a);
    life.emplace_back(at, std::move(s));
    return life.size() - 1;
  }

  /// How an event names a person: by phone, by BSUID, or both (never contradicting).
  wagroups::Participant name(const Person& p) {
    wagroups::Participant out;
    const int mode = p.phone ? static_cast<int>(rng_.range(0, 2)) : 1;
    if (mode == 0 || mode == 2) out.wa_id = p.phone;
    if (mode == 1 || mode == 2) out.user_id = p.bsuid;
    if (rng_.chance(30)) out.username = p.username;
    return out;
  }

  Life group_life(int g) {
    Life life;
    const std::string tag = std::to_string(scenario_.seed) + "-" + std::to_string(g);
    const std::string group_id = "1203630" + std::to_string(scenario_.seed % 100000000) + std::to_string(g);
    const std::string request_id = "req-" + tag;
    std::int64_t t = 1780000000 + rng_.range(0, 3600);
    const std::int64_t opened = t;  // no host action precedes open_ticket
    auto step = [&] {
      t += rng_.chance(15) ? 0 : rng_.range(1, 40);     // equal timestamps now and then
      if (rng_.chance(3)) t += rng_.range(1800, 7200);  // an idle stretch
      return t;
    };

    // 0: the agent opens the ticket and the group is created; 1: creation fails; 2: created with a
    // request id nobody opened here; 3: created without request id; 4: never seen created.
    const std::int64_t roll = rng_.range(0, 99);
    const int mode = roll < 60 ? 0 : roll < 68 ? 1 : roll < 78 ? 2 : roll < 88 ? 3 : 4;
    const bool hosted = mode <= 1;
    const std::string ticket_id = wagroups::ticket_id_for_request(request_id);

    if (hosted) {
      HostAction open;
      open.kind = HostAction::Kind::open_ticket;
      open.at = t;
      open.ticket_id = ticket_id;
      open.open.request_id = request_id;
      open.open.phone_number_id = kPhoneNumberId;
      open.open.assignee = "agent-" + std::to_string(rng_.range(1, 9));
      if (rng_.chance(80)) open.open.subject = "Order #" + tag;
      if (rng_.chance(50)) open.open.requested_at = t;
      host(life, open);
    }
    if (mode == 1) {
      wagroups::GroupCreateFailed f;
      f.context = context("group_lifecycle_update", step());
      f.request_id = request_id;
      if (rng_.chance(50)) f.group_id = group_id;
      wagroups::ItemError err;
      err.code = 131211;
      err.title = "Group creation limit reached";
      f.errors.push_back(err);
      if (rng_.chance(30)) {
        err.code = 131215;
        err.message = "Not eligible";
        f.errors.push_back(err);
      }
      event(life, t, f);
      return life;
    }
    if (mode <= 3) {
      wagroups::GroupCreated c;
      c.context = context("group_lifecycle_update", step());
      c.group_id = group_id;
      if (mode != 3) c.request_id = request_id;
      c.subject = "Order #" + tag;
      if (rng_.chance(50)) c.description = "Delivery questions";
      c.invite_link = "https://chat.whatsapp.com/" + tag;
      event(life, t, c);
    }

    std::vector<Person> people;
    const int n = static_cast<int>(rng_.range(2, 7));
    for (int i = 0; i < n; ++i) {
      Person p;
      if (rng_.chance(80)) p.phone = "1555" + std::to_string(100000 + (scenario_.seed * 7 + g * 10 + i) % 900000);
      p.bsuid = "US." + std::to_string(9000000 + scenario_.seed * 13 % 1000000) + std::to_string(g) + std::to_string(i);
      if (rng_.chance(40)) p.username = "user" + std::to_string(i);
      p.name = "Member " + std::to_string(i);
      people.push_back(std::move(p));
    }

    std::vector<std::string> outbound;  // ids of messages the business sent
    const int steps = static_cast<int>(rng_.chance(8) ? rng_.range(0, 3) : rng_.range(6, 26));
    int messages = 0;
    int invites = 0;
    for (int k = 0; k < steps; ++k) {
      const std::int64_t r = rng_.range(0, 99);
      Person& p = people[static_cast<std::size_t>(rng_.range(0, n - 1))];
      if (r < 18) {  // someone joins (by link, or an approved request)
        wagroups::ParticipantsAdded a;
        a.context = context("group_participants_update", step());
        a.group_id = group_id;
        a.reason = "invite_link";
        a.added_participants.push_back(name(p));
        p.status = wagroups::MemberStatus::joined;
        if (rng_.chance(25)) {
          Person& q = people[static_cast<std::size_t>(rng_.range(0, n - 1))];
          if (&q != &p) {
            a.added_participants.push_back(name(q));
            q.status = wagroups::MemberStatus::joined;
          }
        }
        event(life, t, a);
      } else if (r < 25) {  // a join request, sometimes revoked
        wagroups::JoinRequestCreated j;
        j.context = context("group_participants_update", step());
        j.group_id = group_id;
        j.join_request_id = "jr-" + tag + "-" + std::to_string(k);
        j.requester = name(p);
        event(life, t, j);
        if (rng_.chance(40)) {
          wagroups::JoinRequestRevoked v;
          v.context = context("group_participants_update", step());
          v.group_id = group_id;
          v.join_request_id = j.join_request_id;
          v.requester = name(p);
          event(life, t, v);
        }
      } else if (r < 50) {  // a member writes (sometimes one whose join webhook never came)
        wagroups::GroupMessageReceived m;
        m.context = context("messages", step());
        m.id = "wamid.in." + tag + "." + std::to_string(messages++);
        m.group_id = group_id;
        m.from = p.phone;
        if (!p.phone || rng_.chance(50)) m.from_user_id = p.bsuid;
        m.username = p.username;
        if (rng_.chance(70)) m.contact_name = rng_.chance(80) ? p.name : p.name + " (work)";
        if (rng_.chance(80)) {
          m.type = "text";
          m.text = "message " + std::to_string(k);
        } else {
          m.type = "image";
          m.media_id = "media-" + std::to_string(k);
          if (rng_.chance(50)) m.caption = "photo";
        }
        if (!outbound.empty() && rng_.chance(20))
          m.reply_to = wagroups::ReplyContext{std::nullopt, rng_.pick(outbound)};
        event(life, t, m);
      } else if (r < 72) {  // the business sends, and statuses follow
        const std::string id = "wamid.out." + tag + "." + std::to_string(messages++);
        outbound.push_back(id);
        const std::int64_t sent = step();
        if (hosted && rng_.chance(85)) {
          HostAction a;
          a.kind = HostAction::Kind::record_outbound;
          a.at = std::max(opened, sent + rng_.range(-1, 2));  // the host's clock, near Meta's
          a.ticket_id = ticket_id;
          a.message_id = id;
          a.type = "text";
          a.text = "reply " + std::to_string(k);
          if (rng_.chance(70)) a.agent = "agent-" + std::to_string(rng_.range(1, 3));
          host(life, a);
        }
        if (rng_.chance(90)) status(life, id, group_id, nullptr, wagroups::DeliveryStatus::sent, sent);
        for (auto& q : people) {
          if (q.status != wagroups::MemberStatus::joined || rng_.chance(15)) continue;
          std::int64_t at = sent;
          if (rng_.chance(10)) {
            status(life, id, group_id, &q, wagroups::DeliveryStatus::failed, at += rng_.range(0, 5));
            continue;
          }
          if (rng_.chance(80))
            status(life, id, group_id, &q, wagroups::DeliveryStatus::delivered, at += rng_.range(0, 20));
          if (rng_.chance(60)) status(life, id, group_id, &q, wagroups::DeliveryStatus::read, at += rng_.range(0, 90));
        }
        if (rng_.chance(3)) status(life, id, group_id, nullptr, wagroups::DeliveryStatus::failed, step());
      } else if (r < 78) {  // leaves, or is removed by the business
        wagroups::ParticipantsRemoved x;
        x.context = context("group_participants_update", step());
        x.group_id = group_id;
        if (rng_.chance(50)) {
          x.initiated_by = wagroups::RemovalInitiator::participant;
          x.removed_participants.push_back(name(p));
        } else {
          x.initiated_by = rng_.chance(80) ? wagroups::RemovalInitiator::business : wagroups::RemovalInitiator::unknown;
          x.request_id = "rm-" + tag + "-" + std::to_string(k);
          wagroups::Participant who;
          who.input = p.phone && rng_.chance(60) ? *p.phone : p.bsuid;
          x.removed_participants.push_back(who);
          if (rng_.chance(20)) {
            wagroups::FailedParticipant failed;
            failed.participant.input = "15550000000";
            x.failed_participants.push_back(failed);
          }
        }
        p.status = wagroups::MemberStatus::left;
        event(life, t, x);
      } else if (r < 84) {  // settings
        wagroups::GroupSettingsUpdated s;
        s.context = context("group_settings_update", step());
        s.group_id = group_id;
        s.request_id = "set-" + tag + "-" + std::to_string(k);
        wagroups::SettingOutcome o;
        o.text = "Subject " + std::to_string(rng_.range(0, 3));
        o.update_successful = !rng_.chance(20);
        if (rng_.chance(70)) s.group_subject = o;
        o.text = "Description " + std::to_string(rng_.range(0, 3));
        o.update_successful = !rng_.chance(20);
        if (rng_.chance(50)) s.group_description = o;
        event(life, t, s);
      } else if (r < 88) {  // suspension
        if (rng_.chance(50)) {
          wagroups::GroupSuspended s;
          s.context = context("group_status_update", step());
          s.group_id = group_id;
          event(life, t, s);
        } else {
          wagroups::GroupSuspensionCleared s;
          s.context = context("group_status_update", step());
          s.group_id = group_id;
          event(life, t, s);
        }
      } else if (r < 95) {  // an invite by 1:1 template, and its statuses
        if (!hosted || !p.phone) continue;
        HostAction a;
        a.kind = HostAction::Kind::record_invite;
        a.at = step();
        a.ticket_id = ticket_id;
        a.invite.phone = *p.phone;
        a.invite.sent_at = a.at;
        if (rng_.chance(10)) {
          a.invite.error = "131026: Message undeliverable";
          host(life, a);
          continue;
        }
        const std::string id = "wamid.inv." + tag + "." + std::to_string(invites++);
        a.invite.message_id = id;
        const std::size_t recorded = host(life, a);
        std::int64_t at = a.at;
        for (auto s : {wagroups::DeliveryStatus::sent, wagroups::DeliveryStatus::delivered,
                       wagroups::DeliveryStatus::read, wagroups::DeliveryStatus::failed}) {
          if (!rng_.chance(s == wagroups::DeliveryStatus::failed ? 10 : 70)) continue;
          wagroups::DirectMessageStatus d;
          at += rng_.range(0, 30);
          d.context = context("messages", at);
          d.id = id;
          d.status = wagroups::to_string(s);
          d.delivery_status = s;
          d.recipient_id = p.phone;
          if (s == wagroups::DeliveryStatus::failed) {
            wagroups::ItemError e;
            e.code = 131026;
            e.title = "Message undeliverable";
            d.errors.push_back(e);
          }
          event(life, at, d, recorded);
        }
      } else if (r < 98) {  // the agent resolves (or, rarely, closes)
        if (!hosted) continue;
        HostAction a;
        a.kind = rng_.chance(80) ? HostAction::Kind::resolve : HostAction::Kind::close;
        a.at = step();
        a.ticket_id = ticket_id;
        host(life, a);
      } else {  // something tickets ignore
        wagroups::GroupDeleteFailed d;
        d.context = context("group_lifecycle_update", step());
        d.group_id = group_id;
        event(life, t, d);
      }
    }
    if (rng_.chance(10)) {
      wagroups::GroupDeleted d;
      d.context = context("group_lifecycle_update", step());
      d.group_id = group_id;
      d.request_id = "del-" + tag;
      event(life, t, d);
    }
    // Events in a life are in time order except the statuses generated ahead: sort stably by time.
    std::vector<std::size_t> order(life.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return life[a].first < life[b].first; });
    std::vector<std::size_t> where(life.size());
    for (std::size_t i = 0; i < order.size(); ++i) where[order[i]] = i;
    Life sorted;
    sorted.reserve(life.size());
    for (std::size_t i : order) {
      auto entry = std::move(life[i]);
      if (entry.second.after) entry.second.after = where[*entry.second.after];
      sorted.push_back(std::move(entry));
    }
    return sorted;
  }

  void status(Life& life, const std::string& id, const std::string& group_id, const Person* p,
              wagroups::DeliveryStatus s, std::int64_t ts) {
    wagroups::GroupMessageStatus st;
    st.context = context("messages", ts);
    st.id = id;
    st.status = wagroups::to_string(s);
    st.delivery_status = s;
    st.recipient_id = group_id;
    st.recipient_type = "group";
    st.group_id = group_id;
    if (p) {
      const int mode = p->phone ? static_cast<int>(rng_.range(0, 2)) : 1;
      if (mode != 1) st.recipient_participant_id = p->phone;
      if (mode != 0) st.recipient_participant_user_id = p->bsuid;
    }
    if (s == wagroups::DeliveryStatus::failed) {
      wagroups::ItemError e;
      e.code = 131026;
      e.title = "Message undeliverable";
      st.errors.push_back(e);
    }
    event(life, ts, st);
  }

  ScenarioRng rng_;
  TicketScenario scenario_;
  std::int64_t end_ = 0;
};

}  // namespace scenario_detail

/// The scenario of `seed`: the same on every run and platform.
inline TicketScenario make_ticket_scenario(std::uint64_t seed) { return scenario_detail::Builder(seed).build(); }

/// One call into the aggregator: a host action, one event, or several events in one `apply`.
struct Delivery {
  enum class Kind { action, single, batch, webhook_batch };
  Kind kind = Kind::single;
  std::vector<std::size_t> steps;  ///< indices into TicketScenario::steps
};
using DeliveryPlan = std::vector<Delivery>;

/// Every step once, in the true order, one call each.
inline DeliveryPlan in_order_plan(const TicketScenario& s) {
  DeliveryPlan plan;
  for (std::size_t i = 0; i < s.steps.size(); ++i)
    plan.push_back(Delivery{s.steps[i].is_event ? Delivery::Kind::single : Delivery::Kind::action, {i}});
  return plan;
}

/// Each event delivered 1-3 times: the first delivery displaced by up to `max_displacement`
/// positions either way, repeats up to 3x that later; host actions in place; consecutive events
/// grouped into `apply` calls of 1..max_batch.
inline DeliveryPlan shuffled_plan(const TicketScenario& s, std::uint64_t seed, int max_displacement = 6,
                                  int max_batch = 6) {
  ScenarioRng rng(seed ^ 0x5DEECE66Dull);
  struct Slot {
    double position;
    std::uint64_t tie;
    std::size_t step;
  };
  std::vector<Slot> slots;
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    const auto& step = s.steps[i];
    const double base = static_cast<double>(i);
    if (!step.is_event) {
      slots.push_back(Slot{base, 0, i});
      continue;
    }
    const double floor = step.after ? static_cast<double>(*step.after) + 0.5 : -1e18;
    const int copies = rng.chance(35) ? static_cast<int>(rng.range(2, 3)) : 1;
    double first = base + static_cast<double>(rng.range(-max_displacement, max_displacement)) + 0.25;
    slots.push_back(Slot{std::max(first, floor), rng.next(), i});
    for (int c = 1; c < copies; ++c) {
      const double later = first + static_cast<double>(rng.range(0, 3 * max_displacement)) + 0.5;
      slots.push_back(Slot{std::max(later, floor), rng.next(), i});
    }
  }
  std::stable_sort(slots.begin(), slots.end(), [](const Slot& a, const Slot& b) {
    return a.position < b.position || (a.position == b.position && a.tie < b.tie);
  });
  DeliveryPlan plan;
  std::size_t i = 0;
  while (i < slots.size()) {
    if (!s.steps[slots[i].step].is_event) {
      plan.push_back(Delivery{Delivery::Kind::action, {slots[i].step}});
      ++i;
      continue;
    }
    const std::size_t want = static_cast<std::size_t>(rng.range(1, max_batch));
    Delivery d;
    while (i < slots.size() && d.steps.size() < want && s.steps[slots[i].step].is_event)
      d.steps.push_back(slots[i++].step);
    d.kind = d.steps.size() == 1 && rng.chance(70) ? Delivery::Kind::single
             : rng.chance(50)                      ? Delivery::Kind::batch
                                                   : Delivery::Kind::webhook_batch;
    plan.push_back(std::move(d));
  }
  return plan;
}

/// Applies `plan` through a TicketAggregator over `store` (the clock reads each host action's
/// time), then ticks at the scenario's end. Returns what failed, if anything did.
inline std::optional<std::string> run_plan(wagroups::TicketStore& store, const TicketScenario& s,
                                           const DeliveryPlan& plan) {
  std::int64_t now = 0;
  wagroups::TicketAggregator tickets(
      store, s.policy, [&now] { return std::chrono::system_clock::time_point(std::chrono::seconds(now)); });
  auto failed = [&](const char* what, std::size_t step, const wagroups::Error& e) {
    return std::string(what) + " at step " + std::to_string(step) + ": " + e.to_string();
  };
  for (const auto& d : plan) {
    if (d.kind == Delivery::Kind::action) {
      const HostAction& a = s.steps[d.steps.front()].action;
      now = a.at;
      wagroups::Result<wagroups::ApplyOutcome> r = wagroups::ApplyOutcome{};
      switch (a.kind) {
        case HostAction::Kind::open_ticket: r = tickets.open_ticket(a.open); break;
        case HostAction::Kind::record_outbound:
          r = tickets.record_outbound(a.ticket_id, a.message_id, a.type, a.text, a.agent);
          break;
        case HostAction::Kind::record_invite: r = tickets.record_invite(a.ticket_id, a.invite); break;
        case HostAction::Kind::resolve: r = tickets.resolve(a.ticket_id); break;
        case HostAction::Kind::close: r = tickets.close(a.ticket_id); break;
      }
      if (!r) return failed("host action", d.steps.front(), r.error());
      continue;
    }
    wagroups::Result<wagroups::ApplyOutcome> r = wagroups::ApplyOutcome{};
    if (d.kind == Delivery::Kind::single) {
      r = tickets.apply(s.steps[d.steps.front()].event);
    } else if (d.kind == Delivery::Kind::batch) {
      std::vector<wagroups::WebhookEvent> events;
      for (std::size_t i : d.steps) events.push_back(s.steps[i].event);
      r = tickets.apply(events);
    } else {
      wagroups::WebhookBatch batch;
      batch.object = "whatsapp_business_account";
      for (std::size_t i : d.steps) batch.events.push_back(s.steps[i].event);
      r = tickets.apply(batch);
    }
    if (!r) return failed("apply", d.steps.front(), r.error());
  }
  auto ticked = tickets.tick(std::chrono::system_clock::time_point(std::chrono::seconds(s.end_time)));
  if (!ticked) return "tick: " + ticked.error().to_string();
  return std::nullopt;
}

/// Every ticket of a store, by id.
inline wagroups::Result<std::vector<wagroups::StoredTicket>> all_tickets(wagroups::TicketStore& store) {
  wagroups::TicketQuery q;
  q.limit = std::numeric_limits<std::size_t>::max();
  return store.list(q);
}

/// The first difference between two stores' tickets, described with both tickets' JSON.
inline std::optional<std::string> compare_stores(wagroups::TicketStore& expected, wagroups::TicketStore& actual) {
  auto a = all_tickets(expected);
  auto b = all_tickets(actual);
  if (!a) return "listing the reference store: " + a.error().to_string();
  if (!b) return "listing the store under test: " + b.error().to_string();
  std::ostringstream out;
  if (a->size() != b->size()) {
    out << "ticket count " << a->size() << " (reference) vs " << b->size() << ":";
    for (const auto& t : *a) out << " ref:" << t.ticket.ticket_id;
    for (const auto& t : *b) out << " test:" << t.ticket.ticket_id;
    return out.str();
  }
  for (std::size_t i = 0; i < a->size(); ++i) {
    const auto& x = (*a)[i].ticket;
    const auto& y = (*b)[i].ticket;
    if (x == y) continue;
    out << "ticket " << x.ticket_id << " differs\n  reference: " << wagroups::to_json(x)
        << "\n  under test: " << wagroups::to_json(y);
    return out.str();
  }
  return std::nullopt;
}

/// Runs a shuffled plan of `s` (seed `seed * 10 + i` for thread i) on `threads` threads at once,
/// all over the one `store`, each thread with its own aggregator (as the workers of one receiver
/// have). A thread whose plan failed delivers it again, whole, up to `attempts` times (Meta
/// redelivers what was not acknowledged; everything applied before is a duplicate by then).
/// Returns the last failure of a thread that never got through, if one did not.
inline std::optional<std::string> run_plans_concurrently(wagroups::TicketStore& store, const TicketScenario& s,
                                                         std::uint64_t seed, int threads = 4, int attempts = 1) {
  std::mutex mutex;
  std::optional<std::string> failure;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const auto plan = shuffled_plan(s, seed * 10 + static_cast<std::uint64_t>(t));
      std::optional<std::string> failed;
      for (int attempt = 0; attempt < attempts; ++attempt) {
        failed = run_plan(store, s, plan);
        if (!failed) return;
      }
      std::lock_guard<std::mutex> lock(mutex);
      failure = "thread " + std::to_string(t) + ": " + *failed;
    });
  }
  for (auto& w : workers) w.join();
  return failure;
}

/// A message id that some ticket's timeline holds twice, if one does (an event applied twice).
inline std::optional<std::string> message_applied_twice(wagroups::TicketStore& store) {
  auto all = all_tickets(store);
  if (!all) return "listing the store: " + all.error().to_string();
  for (const auto& t : *all) {
    std::set<std::string> seen;
    for (const auto& m : t.ticket.timeline)
      if (!seen.insert(m.message_id).second) return t.ticket.ticket_id + " holds " + m.message_id + " twice";
  }
  return std::nullopt;
}

/// The scenario of `seed` delivered by `threads` threads at once to the one, empty `shared` store
/// (run_plans_concurrently), then compared with one in-order delivery to an in-memory store: what
/// failed or differs first, if anything did (a message applied twice included).
inline std::optional<std::string> concurrent_apply_problem(wagroups::TicketStore& shared, std::uint64_t seed,
                                                           int threads = 4, int attempts = 1) {
  const auto s = make_ticket_scenario(seed);
  wagroups::InMemoryTicketStore expected(false);
  if (auto failed = run_plan(expected, s, in_order_plan(s))) return "the in-order reference: " + *failed;
  if (auto failed = run_plans_concurrently(shared, s, seed, threads, attempts)) return failed;
  if (auto twice = message_applied_twice(shared)) return twice;
  return compare_stores(expected, shared);
}

struct PropertyReport {
  std::size_t scenarios = 0;
  std::size_t events = 0;      ///< distinct events over all scenarios
  std::size_t deliveries = 0;  ///< event deliveries to the stores under test
  std::optional<std::uint64_t> failed_seed;
  std::optional<std::string> failure;
  std::string summary() const {
    std::ostringstream out;
    out << scenarios << " scenarios, " << events << " events, " << deliveries << " deliveries";
    if (failure)
      out << "; FAILED with seed " << *failed_seed << " (reproduce: make_ticket_scenario(" << *failed_seed
          << ")): " << *failure;
    return out.str();
  }
};

/// The property over `count` scenarios with seeds base_seed, base_seed+1, ...: for each, the
/// reference store (one in-order delivery) and the store under test (duplicated, displaced,
/// batched deliveries) must hold equal tickets. Stops at the first failure.
inline PropertyReport run_ticket_property(
    const std::function<std::unique_ptr<wagroups::TicketStore>()>& make_reference,
    const std::function<std::unique_ptr<wagroups::TicketStore>(std::uint64_t seed)>& make_test, std::size_t count,
    std::uint64_t base_seed) {
  PropertyReport report;
  for (std::size_t n = 0; n < count; ++n) {
    const std::uint64_t seed = base_seed + n;
    const TicketScenario scenario = make_ticket_scenario(seed);
    const DeliveryPlan shuffled = shuffled_plan(scenario, seed);
    auto fail = [&](std::string why) {
      report.failed_seed = seed;
      report.failure = std::move(why);
      return report;
    };
    auto reference = make_reference();
    auto test = make_test(seed);
    if (!reference || !test) return fail("could not create the stores");
    if (auto e = run_plan(*reference, scenario, in_order_plan(scenario))) return fail("reference run: " + *e);
    if (auto e = run_plan(*test, scenario, shuffled)) return fail("shuffled run: " + *e);
    if (auto diff = compare_stores(*reference, *test)) return fail(*diff);
    ++report.scenarios;
    report.events += scenario.event_count();
    for (const auto& d : shuffled)
      if (d.kind != Delivery::Kind::action) report.deliveries += d.steps.size();
  }
  return report;
}

}  // namespace wagroups_test
