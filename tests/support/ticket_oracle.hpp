#pragma once

// An independent model of the documented ticket rules (docs/tickets.md and the comments of
// <wagroups/tickets/*.hpp>), for the oracle tests of issue 13. It shares no code with src/tickets:
// it keeps the *set* of facts it was given (deduplicated by its own event key) and the host's
// calls, and computes each expected ticket from scratch, the simplest way the docs allow. It covers
// a deliberately small part of the rules, the part its generator produces:
//
//   - groups created with a request id (the ticket is "T-<request_id>", assigned to the agent whose
//     `open_ticket` made it), or known only from their events ("G-<group_id>", `unlinked`);
//   - failed creates, deletion, suspension, subject changes (last writer by timestamp wins, and
//     any webhook's subject beats the agent's);
//   - members named by phone only: added, removed, left, and senders of inbound messages (the
//     latest fact by timestamp wins);
//   - inbound text messages, outbound messages recorded by the host, group statuses per participant
//     and group-wide (only forward: sent < delivered < read < played, failed beats only sent);
//   - agent resolve and close, the idle policy at a final tick, reopening on inbound.
//
// Invites, BSUIDs, creates without request id and descriptions are out of its scope.

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "wagroups/tickets/policy.hpp"
#include "wagroups/tickets/ticket.hpp"
#include "wagroups/webhook/events.hpp"

namespace wagroups_test {
namespace oracle {

/// A host call as the oracle sees it: what, on which ticket, at which second of the host's clock.
struct HostCall {
  enum class Kind { open_ticket, record_outbound, resolve, close };
  Kind kind = Kind::open_ticket;
  std::int64_t at = 0;
  std::string request_id;  // open_ticket
  std::string assignee;    // open_ticket
  std::string subject;     // open_ticket
  std::string ticket_id;   // the others
  std::string message_id;  // record_outbound
  std::string text;        // record_outbound
  std::string agent;       // record_outbound
};

/// What the oracle expects of one stored ticket: the fields the docs define for its scope.
struct ExpectedMember {
  std::string phone;
  wagroups::MemberStatus status = wagroups::MemberStatus::invited;
  std::int64_t status_since = 0;
  std::optional<std::int64_t> first_joined_at;
};

struct ExpectedMessage {
  std::string message_id;
  wagroups::MessageDirection direction = wagroups::MessageDirection::inbound;
  std::int64_t timestamp = 0;
  std::optional<std::string> sender_phone;  // inbound
  std::string type;                         // "" for an outbound message known only by its statuses
  std::optional<std::string> text;
  std::optional<std::string> agent;
  std::map<std::string, wagroups::DeliveryStatus> delivery;  // "phone:<number>" -> best status
  wagroups::DeliveryStatus group_status = wagroups::DeliveryStatus::unknown;
  std::size_t error_count = 0;
};

struct ExpectedTicket {
  std::string ticket_id;
  std::optional<std::string> group_id;
  std::optional<std::string> request_id;
  std::string phone_number_id;
  std::optional<std::string> subject;
  std::optional<std::int64_t> subject_changed_at;
  std::optional<std::string> assignee;
  bool opened_by_host = false;
  std::optional<std::string> invite_link;
  wagroups::TicketState state = wagroups::TicketState::unlinked;
  bool group_created = false;
  bool suspended = false;
  std::int64_t suspension_changed_at = 0;
  bool group_deleted = false;
  std::optional<std::int64_t> deleted_at;
  std::size_t creation_error_count = 0;
  std::vector<ExpectedMember> members;    // by phone
  std::vector<ExpectedMessage> timeline;  // by (timestamp, message id)
  std::optional<std::int64_t> created_at;
  std::optional<std::int64_t> first_join_at;
  std::int64_t last_activity_at = 0;
  std::optional<std::int64_t> last_inbound_at;
  std::optional<std::int64_t> resolved_at;
  std::optional<std::int64_t> closed_at;
};

/// The documented order of delivery statuses: a status only moves forward, `failed` beats `sent`
/// and nothing else.
inline int status_order(wagroups::DeliveryStatus s) {
  switch (s) {
    case wagroups::DeliveryStatus::unknown: return 0;
    case wagroups::DeliveryStatus::sent: return 1;
    case wagroups::DeliveryStatus::failed: return 2;
    case wagroups::DeliveryStatus::delivered: return 3;
    case wagroups::DeliveryStatus::read: return 4;
    case wagroups::DeliveryStatus::played: return 5;
  }
  return 0;
}

class TicketOracle {
 public:
  explicit TicketOracle(wagroups::ResolutionPolicy policy) : policy_(policy) {}

  /// One delivery of `event`. Returns true when the docs say it is applied, false when it is a
  /// redelivery (`duplicate_ignored`). Events outside the oracle's scope are a test bug: false.
  bool deliver(const wagroups::WebhookEvent& event) {
    const std::string key = key_of(event);
    if (key.empty()) return false;
    if (!keys_.insert(key).second) return false;
    facts_.push_back(event);
    return true;
  }

  void call(HostCall c) { calls_.push_back(std::move(c)); }

  /// Every ticket the store should hold after the final tick at `now` (0: no tick), by ticket id.
  std::map<std::string, ExpectedTicket> expected(std::int64_t now) const {
    std::map<std::string, Building> built;
    // Where a group's events go: the ticket of the request that created it, else its own G- ticket.
    std::map<std::string, std::string> home;
    for (const auto& e : facts_)
      if (const auto* c = std::get_if<wagroups::GroupCreated>(&e); c && c->request_id)
        home[c->group_id] = "T-" + *c->request_id;
    auto group_ticket = [&](const std::string& group_id) -> Building& {
      auto it = home.find(group_id);
      const std::string id = it != home.end() ? it->second : "G-" + group_id;
      Building& b = at(built, id);
      if (it == home.end()) b.t.group_id = group_id;
      return b;
    };

    for (const auto& c : calls_) {
      if (c.kind == HostCall::Kind::open_ticket) {
        Building& b = at(built, "T-" + c.request_id);
        b.t.request_id = c.request_id;
        b.t.opened_by_host = true;
        // The agent who opened it, and the subject they gave; a repeated call changes neither.
        if (!b.t.assignee) b.t.assignee = c.assignee;
        if (!b.agent_subject) b.agent_subject = c.subject;
        b.t.phone_number_id = kPhoneNumberId;
        min_into(b.t.created_at, c.at);
      } else if (c.kind == HostCall::Kind::record_outbound) {
        Building& b = at(built, c.ticket_id);
        Outbound& o = b.outbound[c.message_id];
        o.recorded = true;
        min_into(o.recorded_at, c.at);
        o.text = c.text;
        o.agent = c.agent;
      } else if (c.kind == HostCall::Kind::resolve) {
        max_into(at(built, c.ticket_id).t.resolved_at, c.at);
      } else {
        min_into(at(built, c.ticket_id).t.closed_at, c.at);
      }
    }

    for (const auto& e : facts_) {
      std::visit(
          [&](const auto& ev) {
            using E = std::decay_t<decltype(ev)>;
            const std::int64_t ts = ev.context.timestamp.value_or(0);
            (void)ts;  // not every kind of event uses it
            if constexpr (std::is_same_v<E, wagroups::GroupCreated>) {
              Building& b = group_ticket(ev.group_id);
              if (ev.request_id) b.t.request_id = ev.request_id;
              b.t.group_id = ev.group_id;
              b.t.group_created = true;
              b.t.invite_link = ev.invite_link;
              min_into(b.t.created_at, ts);
              if (ev.subject) b.webhook_subject(*ev.subject, ts);
            } else if constexpr (std::is_same_v<E, wagroups::GroupCreateFailed>) {
              Building& b = at(built, "T-" + *ev.request_id);
              b.t.request_id = ev.request_id;
              b.t.creation_error_count = ev.errors.size();  // every failure of one create carries the same
            } else if constexpr (std::is_same_v<E, wagroups::GroupDeleted>) {
              Building& b = group_ticket(ev.group_id);
              b.t.group_deleted = true;
              min_into(b.t.deleted_at, ts);
            } else if constexpr (std::is_same_v<E, wagroups::GroupSuspended> ||
                                 std::is_same_v<E, wagroups::GroupSuspensionCleared>) {
              Building& b = group_ticket(ev.group_id);
              if (ts >= b.t.suspension_changed_at) {  // the latest fact stands
                b.t.suspension_changed_at = ts;
                b.t.suspended = std::is_same_v<E, wagroups::GroupSuspended>;
              }
            } else if constexpr (std::is_same_v<E, wagroups::GroupSettingsUpdated>) {
              Building& b = group_ticket(ev.group_id);
              if (ev.group_subject && ev.group_subject->update_successful.value_or(false) && ev.group_subject->text)
                b.webhook_subject(*ev.group_subject->text, ts);
            } else if constexpr (std::is_same_v<E, wagroups::ParticipantsAdded>) {
              Building& b = group_ticket(ev.group_id);
              for (const auto& p : ev.added_participants) b.fact(*p.wa_id, wagroups::MemberStatus::joined, ts);
              if (!ev.added_participants.empty()) min_into(b.t.first_join_at, ts);
            } else if constexpr (std::is_same_v<E, wagroups::ParticipantsRemoved>) {
              Building& b = group_ticket(ev.group_id);
              const auto status = ev.initiated_by == wagroups::RemovalInitiator::participant
                                      ? wagroups::MemberStatus::left
                                      : wagroups::MemberStatus::removed;
              for (const auto& p : ev.removed_participants) b.fact(*p.wa_id, status, ts);
            } else if constexpr (std::is_same_v<E, wagroups::GroupMessageReceived>) {
              Building& b = group_ticket(*ev.group_id);
              ExpectedMessage m;
              m.message_id = ev.id;
              m.direction = wagroups::MessageDirection::inbound;
              m.timestamp = ts;
              m.sender_phone = ev.from;
              m.type = ev.type;
              m.text = ev.text;
              b.inbound.push_back(m);
              // The sender is a member who has joined.
              b.fact(*ev.from, wagroups::MemberStatus::joined, ts);
              min_into(b.t.first_join_at, ts);
              max_into(b.t.last_inbound_at, ts);
            } else if constexpr (std::is_same_v<E, wagroups::GroupMessageStatus>) {
              Building& b = group_ticket(*ev.group_id);
              Outbound& o = b.outbound[ev.id];
              min_into(o.first_status_at, ts);
              if (ev.recipient_participant_id) {
                auto& best = o.delivery["phone:" + *ev.recipient_participant_id];
                if (status_order(ev.delivery_status) > status_order(best)) best = ev.delivery_status;
              } else if (status_order(ev.delivery_status) > status_order(o.group_status)) {
                o.group_status = ev.delivery_status;
              }
              if (ev.delivery_status == wagroups::DeliveryStatus::failed) o.errors = ev.errors.size();
            }
          },
          e);
    }

    std::map<std::string, ExpectedTicket> out;
    for (auto& [id, b] : built) out.emplace(id, b.finish(id, policy_, now));
    return out;
  }

  static constexpr const char* kPhoneNumberId = "106540352242922";

 private:
  struct Outbound {
    bool recorded = false;
    std::optional<std::int64_t> recorded_at;
    std::optional<std::int64_t> first_status_at;
    std::string text;
    std::string agent;
    std::map<std::string, wagroups::DeliveryStatus> delivery;
    wagroups::DeliveryStatus group_status = wagroups::DeliveryStatus::unknown;
    std::size_t errors = 0;
  };
  struct Fact {
    wagroups::MemberStatus status;
    std::int64_t at;
  };
  struct Building {
    ExpectedTicket t;
    std::optional<std::string> agent_subject;
    std::map<std::string, std::vector<Fact>> facts;  // by phone
    std::vector<ExpectedMessage> inbound;
    std::map<std::string, Outbound> outbound;

    void webhook_subject(const std::string& subject, std::int64_t ts) {
      if (!t.subject_changed_at || ts > *t.subject_changed_at) {
        t.subject = subject;
        t.subject_changed_at = ts;
      }
    }
    void fact(const std::string& phone, wagroups::MemberStatus status, std::int64_t ts) {
      facts[phone].push_back(Fact{status, ts});
    }

    ExpectedTicket finish(const std::string& id, const wagroups::ResolutionPolicy& policy, std::int64_t now) {
      t.ticket_id = id;
      if (t.phone_number_id.empty()) t.phone_number_id = kPhoneNumberId;  // every event names it
      if (!t.subject_changed_at && agent_subject) t.subject = agent_subject;
      for (const auto& [phone, list] : facts) {
        ExpectedMember m;
        m.phone = phone;
        // The latest fact by timestamp (the generator never gives one person two facts at once).
        const Fact* latest = &list.front();
        for (const auto& f : list) {
          if (f.at > latest->at) latest = &f;
          if (f.status == wagroups::MemberStatus::joined) min_into(m.first_joined_at, f.at);
        }
        m.status = latest->status;
        m.status_since = latest->at;
        t.members.push_back(m);
      }
      t.timeline = inbound;
      for (const auto& [message_id, o] : outbound) {
        ExpectedMessage m;
        m.message_id = message_id;
        m.direction = wagroups::MessageDirection::outbound;
        // Sent when recorded; a status cannot precede the send, so the earliest status bounds it.
        std::optional<std::int64_t> when = o.recorded_at;
        if (o.first_status_at) min_into(when, *o.first_status_at);
        m.timestamp = when.value_or(0);
        if (o.recorded) {
          m.type = "text";
          m.text = o.text;
          m.agent = o.agent;
        }
        m.delivery = o.delivery;
        m.group_status = o.group_status;
        m.error_count = o.errors;
        t.timeline.push_back(m);
      }
      std::sort(t.timeline.begin(), t.timeline.end(), [](const ExpectedMessage& a, const ExpectedMessage& b) {
        return std::make_pair(a.timestamp, a.message_id) < std::make_pair(b.timestamp, b.message_id);
      });
      if (t.group_deleted) min_into(t.closed_at, *t.deleted_at);  // deletion closes
      t.last_activity_at = t.created_at.value_or(0);
      for (const auto& m : t.timeline) t.last_activity_at = std::max(t.last_activity_at, m.timestamp);
      t.state = state_of(policy);
      if (now != 0) {
        // The idle policy: resolved as of the moment the ticket became idle, closed as of the
        // moment it had been resolved long enough.
        const std::int64_t resolve_after = policy.auto_resolve_after.count() * 60;
        const std::int64_t close_after = policy.auto_close_after.count() * 60;
        if (t.state == wagroups::TicketState::open && resolve_after > 0 && now - t.last_activity_at >= resolve_after) {
          max_into(t.resolved_at, t.last_activity_at + resolve_after);
          t.state = state_of(policy);
        }
        if (t.state == wagroups::TicketState::resolved && close_after > 0 && now - *t.resolved_at >= close_after) {
          min_into(t.closed_at, *t.resolved_at + close_after);
          t.state = state_of(policy);
        }
      }
      return t;
    }

    wagroups::TicketState state_of(const wagroups::ResolutionPolicy& policy) const {
      using S = wagroups::TicketState;
      if (t.closed_at) return S::closed;  // by an agent, the policy or deletion; final
      if (!t.group_created) {
        if (t.creation_error_count > 0) return S::creation_failed;
        return t.request_id ? S::create_requested : S::unlinked;
      }
      const bool reopened =
          policy.reopen_on_inbound && t.resolved_at && t.last_inbound_at && *t.last_inbound_at > *t.resolved_at;
      if (t.resolved_at && !reopened) return S::resolved;
      return t.first_join_at ? S::open : S::awaiting_first_join;
    }
  };

  static Building& at(std::map<std::string, Building>& built, const std::string& id) { return built[id]; }
  static void min_into(std::optional<std::int64_t>& into, std::int64_t v) {
    if (!into || v < *into) into = v;
  }
  static void max_into(std::optional<std::int64_t>& into, std::int64_t v) {
    if (!into || v > *into) into = v;
  }

  /// The documented dedupe key: the message id for messages; message id, status and participant
  /// for statuses; group, type, request id, timestamp and the people involved for group events.
  static std::string key_of(const wagroups::WebhookEvent& event) {
    return std::visit(
        [](const auto& ev) -> std::string {
          using E = std::decay_t<decltype(ev)>;
          const std::string ts = std::to_string(ev.context.timestamp.value_or(0));
          (void)ts;
          if constexpr (std::is_same_v<E, wagroups::GroupMessageReceived>) {
            return "message " + ev.id;
          } else if constexpr (std::is_same_v<E, wagroups::GroupMessageStatus>) {
            return "status " + ev.id + " " + ev.status + " " + ev.recipient_participant_id.value_or("");
          } else if constexpr (std::is_same_v<E, wagroups::GroupCreated>) {
            return "created " + ev.group_id + " " + ev.request_id.value_or("") + " " + ts;
          } else if constexpr (std::is_same_v<E, wagroups::GroupCreateFailed>) {
            return "create failed " + ev.request_id.value_or("") + " " + ts;
          } else if constexpr (std::is_same_v<E, wagroups::GroupDeleted>) {
            return "deleted " + ev.group_id + " " + ts;
          } else if constexpr (std::is_same_v<E, wagroups::GroupSuspended>) {
            return "suspended " + ev.group_id + " " + ts;
          } else if constexpr (std::is_same_v<E, wagroups::GroupSuspensionCleared>) {
            return "cleared " + ev.group_id + " " + ts;
          } else if constexpr (std::is_same_v<E, wagroups::GroupSettingsUpdated>) {
            return "settings " + ev.group_id + " " + ts;
          } else if constexpr (std::is_same_v<E, wagroups::ParticipantsAdded>) {
            std::string k = "added " + ev.group_id + " " + ts;
            for (const auto& p : ev.added_participants) k += " " + p.wa_id.value_or("");
            return k;
          } else if constexpr (std::is_same_v<E, wagroups::ParticipantsRemoved>) {
            std::string k = "removed " + ev.group_id + " " + ts;
            for (const auto& p : ev.removed_participants) k += " " + p.wa_id.value_or("");
            return k;
          } else {
            return std::string();
          }
        },
        event);
  }

  wagroups::ResolutionPolicy policy_;
  std::set<std::string> keys_;
  std::vector<wagroups::WebhookEvent> facts_;
  std::vector<HostCall> calls_;
};

}  // namespace oracle
}  // namespace wagroups_test
