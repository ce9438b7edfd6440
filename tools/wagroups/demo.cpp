// `wagroups demo`: the whole journey offline, end to end over loopback HTTP.
//
// The sandbox (Simulator + SandboxServer) plays Meta: the Client reaches it with the real
// CurlTransport, and it POSTs signed webhooks to an endpoint in this process (cpp-httplib), which
// verifies them (SignatureVerifier), parses them (WebhookParser) and applies them (TicketAggregator)
// into a SqliteTicketStore in a fresh temporary folder. One demo clock drives the simulator, the
// aggregator and its policy, so an hour of idleness takes no time. The run ends by checking the
// final ticket against the journey, so the demo doubles as a smoke test (exit 0 only when it
// matches).

#include <httplib.h>
#include <httplib_server_guard.hpp>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include <wagroups/client/client.hpp>
#include <wagroups/http/curl_transport.hpp>
#include <wagroups/webhook/pending_operations.hpp>
#include <wagroups/sandbox/simulator.hpp>
#include <wagroups/sandbox/server.hpp>
#include <wagroups/sqlite/ticket_store.hpp>
#include <wagroups/tickets.hpp>
#include <wagroups/webhook.hpp>

#include "commands.hpp"
#include "output.hpp"
#include "ticket_view.hpp"

namespace wagroups_cli {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kDemoStart = 1772442000;  // 2026-03-02 09:00:00 UTC
constexpr const char* kAgent = "agent-7";
constexpr const char* kSubject = "Order #1042: damaged parcels";
constexpr std::chrono::milliseconds kWebhookWait = 10s;

// The time every part of the demo agrees on; only the demo moves it.
class DemoClock {
 public:
  std::int64_t now() const { return seconds_.load(); }
  void advance(std::chrono::seconds by) { seconds_.fetch_add(by.count()); }
  wagroups::Clock clock() const {
    return [this] { return std::chrono::system_clock::time_point(std::chrono::seconds(seconds_.load())); };
  }

 private:
  std::atomic<std::int64_t> seconds_{kDemoStart};
};

struct Customer {
  const char* name;
  const char* phone;
  const char* user_id;
  wagroups::sandbox::Person person() const {
    wagroups::sandbox::Person p;
    p.phone = phone;
    p.user_id = user_id;
    p.name = name;
    return p;
  }
};

const Customer kCustomers[] = {
    {"Ana Souza", "15550123001", "US.7001"},
    {"Ben Okafor", "15550123002", "US.7002"},
    {"Carla Jensen", "15550123003", "US.7003"},
};

std::string first_name(const std::string& phone) {
  for (const auto& c : kCustomers) {
    if (phone == c.phone) {
      const std::string name = c.name;
      return name.substr(0, name.find(' '));
    }
  }
  return phone;
}

std::string snippet(const std::string& text) {
  return text.size() <= 36 ? "\"" + text + "\"" : "\"" + text.substr(0, 33) + "...\"";
}

// The timeline: one line per step, "time  actor  what happened", printed whole from any thread.
class Timeline {
 public:
  explicit Timeline(const DemoClock& clock) : clock_(clock) {}
  void line(const std::string& actor, const std::string& what, std::optional<std::int64_t> at = std::nullopt) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out = format_clock(at.value_or(clock_.now())) + "  " + actor;
    if (actor.size() < 10) out.append(10 - actor.size(), ' ');
    write_line(out + "  " + what);
  }
  // Labels for the messages the business sent, so status lines can say which one.
  void label(const std::string& message_id, const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    labels_[message_id] = text;
  }
  std::string label_of(const std::string& message_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = labels_.find(message_id);
    return it == labels_.end() ? message_id : it->second;
  }

 private:
  const DemoClock& clock_;
  std::mutex mutex_;
  std::map<std::string, std::string> labels_;
};

// What one webhook said, for the timeline.
std::vector<std::string> describe_batch(const wagroups::WebhookBatch& batch, Timeline& timeline) {
  using namespace wagroups;
  std::vector<std::string> lines;
  // Statuses arrive aggregated (one webhook per status type): one line per message and status.
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> statuses;
  for (const auto& event : batch.events) {
    std::visit(
        [&](const auto& e) {
          using T = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<T, GroupCreated>) {
            lines.push_back("group_create: the group is live, invite link " + e.invite_link.value_or("?"));
          } else if constexpr (std::is_same_v<T, JoinRequestCreated>) {
            lines.push_back("join request from " + first_name(e.requester.wa_id.value_or("?")));
          } else if constexpr (std::is_same_v<T, ParticipantsAdded>) {
            std::string who;
            for (const auto& p : e.added_participants)
              who += (who.empty() ? "" : ", ") + first_name(p.wa_id.value_or(p.input.value_or("?")));
            lines.push_back("participants_add: " + who + " joined (" + e.reason.value_or("?") + ")");
          } else if constexpr (std::is_same_v<T, GroupMessageReceived>) {
            lines.push_back("message from " + first_name(e.from.value_or("?")) + ": " + snippet(e.text.value_or("")));
          } else if constexpr (std::is_same_v<T, GroupMessageStatus>) {
            const std::string what = snippet(timeline.label_of(e.id));
            auto& who = statuses[{what, e.status}];
            if (e.recipient_participant_id) who.push_back(first_name(*e.recipient_participant_id));
          } else if constexpr (std::is_same_v<T, DirectMessageStatus>) {
            lines.push_back("1:1 status " + e.status + ": " + timeline.label_of(e.id));
          } else {
            lines.push_back(std::string(kind_of(event)));
          }
        },
        event);
  }
  for (const auto& [key, who] : statuses) {
    std::string people;
    for (const auto& w : who) people += (people.empty() ? "" : ", ") + w;
    lines.push_back("status " + key.second + ": " + key.first + (people.empty() ? " (group)" : " for " + people));
  }
  return lines;
}

struct DemoOptions {
  bool keep = false;
};

// Collects what did not match; the demo fails when any did.
class Expectations {
 public:
  void check(bool ok, const std::string& what) {
    if (!ok) failures_.push_back(what);
  }
  const std::vector<std::string>& failures() const { return failures_; }

 private:
  std::vector<std::string> failures_;
};

class Demo {
 public:
  explicit Demo(const DemoOptions& options) : options_(options), timeline_(clock_) {}

  int run() {
    const auto started = std::chrono::steady_clock::now();
    if (!set_up()) {
      tear_down();
      return exit_failure;
    }
    const int code = journey();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    tear_down();
    if (code == exit_ok) {
      char took[32];
      std::snprintf(took, sizeof took, "%.2f", seconds);
      write_line("demo OK in " + std::string(took) + " s: the final ticket matches the journey; " +
                 std::to_string(webhooks_.load()) + " webhooks were delivered over HTTP, verified and applied");
    }
    return code;
  }

 private:
  bool fail(const std::string& message) {
    print_error("demo: " + message);
    return false;
  }

  bool set_up() {
    // A fresh folder for the ticket store.
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/wagroups-demo-XXXXXX";
    if (!::mkdtemp(pattern.data())) return fail("cannot create a temporary folder in " + pattern);
    dir_ = pattern;
    wagroups::SqliteOptions sqlite;
    sqlite.durability = wagroups::SqliteOptions::Durability::normal;  // a demo: a crash loses nothing of value
    int code = exit_ok;
    store_ = open_ticket_store(dir_ + "/tickets.db", code, false, sqlite);
    if (!store_) return false;
    wagroups::ResolutionPolicy policy;
    policy.auto_resolve_after = 30min;
    policy.auto_close_after = 60min;
    tickets_ = std::make_unique<wagroups::TicketAggregator>(*store_, policy, clock_.clock());

    // Secrets of this run only.
    std::random_device random;
    const std::string secret = "demo-secret-" + std::to_string(random()) + std::to_string(random());
    const std::string token = "demo-token-" + std::to_string(random());
    wagroups::WebhookEndpointOptions endpoint;
    endpoint.app_secret = secret;
    webhook_endpoint_.emplace(endpoint);

    // The webhook endpoint: verify, parse, observe, apply; 200 only after the store committed.
    endpoint_.Post("/webhook", [this](const httplib::Request& req, httplib::Response& res) { receive(req, res); });
    endpoint_port_ = endpoint_.bind_to_any_port("127.0.0.1");
    if (endpoint_port_ <= 0) return fail("cannot listen on 127.0.0.1");
    endpoint_thread_ = std::thread([this] { endpoint_.listen_after_bind(); });
    // stop() is lost on a server that is not listening yet; tear_down relies on it.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!endpoint_.is_running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    if (!endpoint_.is_running()) return fail("the webhook endpoint did not start");

    wagroups::sandbox::SimulatorOptions sim;
    sim.app_secret = secret;
    sim.access_token = token;
    sim.clock = clock_.clock();
    simulator_ = std::make_unique<wagroups::sandbox::Simulator>(sim);
    wagroups::sandbox::ServerOptions server;
    server.webhook_url = "http://127.0.0.1:" + std::to_string(endpoint_port_) + "/webhook";
    auto started = wagroups::sandbox::SandboxServer::start(*simulator_, server);
    if (!started) return fail("the sandbox server did not start: " + started.error().to_string());
    server_ = std::move(*started);

    wagroups::ClientOptions client;
    wagroups::CurlTransportOptions curl;
    curl.proxy = std::string();                              // loopback: never through a proxy from the environment
    client.transport = wagroups::make_curl_transport(curl);  // the real CurlTransport, over loopback HTTP
    client.access_token = token;
    client.phone_number_id = sim.phone_number_id;
    client.base_url = server_->base_url();
    client.allow_insecure_http = true;  // the in-process sandbox server on loopback
    client.user_agent_suffix = std::string("wagroups-demo/") + WAGROUPS_VERSION_STRING;
    client.clock = clock_.clock();  // invitations are stamped with the demo's time
    client_.emplace(client);

    write_line("wagroups demo: the whole journey offline");
    write_line("  Graph API:  the sandbox at " + server_->base_url() + " (the Client uses CurlTransport)");
    write_line("  webhooks:   signed POSTs to " + *server.webhook_url + " (verified, parsed, applied)");
    write_line("  tickets:    " + dir_ + "/tickets.db (SQLite); policy: resolve after 30 min idle, close 60 min later");
    write_line("  clock:      a demo clock shared by the sandbox, the aggregator and its policy (no real waiting)");
    write_line("");
    return true;
  }

  void receive(const httplib::Request& req, httplib::Response& res) {
    // The library's endpoint verifies, parses and answers; the handler observes and applies, and
    // its store error becomes a 500 so that the sandbox (as Meta would) delivers it again.
    std::optional<wagroups::ApplyOutcome> applied;
    const wagroups::WebhookResponse r = webhook_endpoint_->handle_post(
        std::string(req.body), req.get_header_value("X-Hub-Signature-256"),
        [&](const wagroups::WebhookBatch& batch) -> wagroups::Result<void> {
          // Wait while the agent's side records what it just sent, so statuses find their message.
          std::lock_guard<std::mutex> gate(gate_);
          pending_.observe(batch);
          const std::int64_t at = batch.events.empty()
                                      ? clock_.now()
                                      : wagroups::context_of(batch.events.front()).timestamp.value_or(clock_.now());
          for (const auto& line : describe_batch(batch, timeline_)) timeline_.line("meta", "webhook " + line, at);
          auto outcome = tickets_->apply(batch);
          if (!outcome) return outcome.error();
          applied = std::move(*outcome);
          return {};
        });
    res.status = r.http_status;
    if (r.error) {
      if (r.http_status < 500) refused_.fetch_add(1);
      print_error("demo endpoint answered " + std::to_string(r.http_status) + ": " + r.error->to_string());
      return;
    }
    if (applied) print_changes(*applied, "crm");
    webhooks_.fetch_add(1);
  }

  void print_changes(const wagroups::ApplyOutcome& outcome, const std::string& actor) {
    for (const auto& c : outcome.changes) {
      if (c.kind == wagroups::TicketChangeKind::ticket_created) {
        timeline_.line(actor, "ticket " + c.ticket_id + " created");
      } else if (c.kind == wagroups::TicketChangeKind::ticket_linked) {
        timeline_.line(actor, "ticket " + c.ticket_id + " linked to its group");
      } else if (c.kind == wagroups::TicketChangeKind::state_changed && c.to_state) {
        timeline_.line(actor, "ticket " + c.ticket_id + ": " +
                                  (c.from_state ? wagroups::to_string(*c.from_state) : std::string("-")) + " -> " +
                                  wagroups::to_string(*c.to_state));
      }
    }
  }

  bool settle() {
    if (!server_->wait_for_webhooks(kWebhookWait)) return fail("webhooks were not delivered within 10 s");
    if (refused_.load() > 0) return fail("the endpoint refused a webhook");
    return true;
  }

  bool step(std::chrono::seconds later) {
    if (!settle()) return false;
    clock_.advance(later);
    return true;
  }

  // The business writes to the group; recorded on the ticket before any status can arrive.
  bool business_says(const std::string& text) {
    std::lock_guard<std::mutex> gate(gate_);
    timeline_.line(kAgent, "to the group: " + snippet(text));
    const auto sent = client_->send_text(group_id_, text);
    if (!sent) return fail("send_text: " + sent.error().to_string());
    timeline_.label(sent->message_id(), text);
    const auto recorded = tickets_->record_outbound(ticket_id_, sent->message_id(), "text", text, std::string(kAgent));
    if (!recorded) return fail("record_outbound: " + recorded.error().to_string());
    return true;
  }

  bool customer_says(const Customer& who, const std::string& text) {
    timeline_.line(first_name(who.phone), "writes: " + snippet(text));
    const auto sent = simulator_->send_text(group_id_, who.person(), text);
    if (!sent) return fail(std::string(who.name) + " could not write: " + sent.error().to_string());
    return true;
  }

  bool opens_link(const Customer& who) {
    timeline_.line(first_name(who.phone), "opens the invite link (the group requires approval: a join request)");
    const auto joined = simulator_->join_by_link(invite_link_, who.person());
    if (!joined) return fail(std::string(who.name) + " could not open the link: " + joined.error().to_string());
    return true;
  }

  bool approve_pending(std::size_t expected) {
    const auto requests = client_->list_all_join_requests(group_id_);
    if (!requests) return fail("list_all_join_requests: " + requests.error().to_string());
    if (requests->size() != expected)
      return fail("expected " + std::to_string(expected) + " join request(s), found " +
                  std::to_string(requests->size()));
    std::vector<std::string> ids;
    std::string who;
    for (const auto& r : *requests) {
      ids.push_back(r.join_request_id);
      who += (who.empty() ? "" : " and ") + first_name(r.requester.wa_id.value_or("?"));
    }
    timeline_.line(kAgent, "lists " + std::to_string(ids.size()) + " join request(s) and approves " + who);
    const auto approved = client_->approve_join_requests({group_id_, ids});
    if (!approved) return fail("approve_join_requests: " + approved.error().to_string());
    if (!approved->all_succeeded()) return fail("some join requests were not approved");
    return true;
  }

  bool tick(const std::string& why) {
    timeline_.line("policy", why);
    const auto ticked = tickets_->tick();
    if (!ticked) return fail("tick: " + ticked.error().to_string());
    print_changes(*ticked, "policy");
    return true;
  }

  int journey() {
    // 1. The agent creates the group; the ticket is opened with the request id at once.
    std::string request_id;
    {
      std::lock_guard<std::mutex> gate(gate_);
      timeline_.line(kAgent, std::string("creates the group ") + snippet(kSubject) + " (join approval required)");
      wagroups::CreateGroupRequest create{kSubject, std::string("Three customers, one shipment"),
                                          wagroups::JoinApprovalMode::approval_required};
      const auto created = client_->create_group(create);
      if (!created || !created->request_id) {
        fail("create_group: " + (created ? std::string("no request_id") : created.error().to_string()));
        return exit_failure;
      }
      request_id = *created->request_id;
      pending_.track(request_id, wagroups::OperationKind::create_group);
      const auto opened = tickets_->open_ticket(
          {request_id, client_->options().phone_number_id, kAgent, std::string(kSubject), std::nullopt});
      if (!opened) {
        fail("open_ticket: " + opened.error().to_string());
        return exit_failure;
      }
      ticket_id_ = wagroups::ticket_id_for_request(request_id);
      timeline_.line("crm", "ticket " + ticket_id_ + " opened for request " + request_id.substr(0, 8) +
                                "..., assigned to " + kAgent);
    }
    // 2. The group_create webhook brings the group id (PendingOperations pairs it with the request).
    const auto outcome = pending_.wait(request_id, kWebhookWait);
    if (!outcome || outcome->state != wagroups::OperationState::succeeded || !outcome->group_id) {
      fail("the group_create webhook did not arrive");
      return exit_failure;
    }
    group_id_ = *outcome->group_id;
    if (!step(1min)) return exit_failure;

    // 3. The invite link, and invitations to three customers by template (1:1).
    const auto link = client_->get_invite_link(group_id_);
    if (!link) {
      fail("get_invite_link: " + link.error().to_string());
      return exit_failure;
    }
    invite_link_ = link->invite_link;
    timeline_.line(kAgent, "fetches the invite link " + invite_link_);
    clock_.advance(1min);
    {
      std::lock_guard<std::mutex> gate(gate_);
      timeline_.line(kAgent, "invites Ana, Ben and Carla by the template \"group_invite\" (1:1)");
      wagroups::InviteTemplate invite;
      invite.name = "group_invite";
      invite.language = "en_US";
      invite.other_parameters = {"order #1042"};
      invite.link_parameter_index = 2;
      std::vector<std::string> phones;
      for (const auto& c : kCustomers) phones.push_back(c.phone);
      const auto sent = wagroups::send_invites(*client_, *tickets_, ticket_id_, invite, phones);
      if (!sent) {
        fail("send_invites: " + sent.error().to_string());
        return exit_failure;
      }
      for (const auto& r : *sent) {
        if (r.error || !r.message_id) {
          fail("the invite to " + r.phone + " failed: " + (r.error ? r.error->to_string() : "no message id"));
          return exit_failure;
        }
        timeline_.label(*r.message_id, "invite to " + first_name(r.phone));
      }
    }
    if (!step(8min)) return exit_failure;

    // 4. Ana and Ben open the link (join requests, the group requires approval); both approved.
    if (!opens_link(kCustomers[0]) || !step(2min)) return exit_failure;
    if (!opens_link(kCustomers[1]) || !step(3min)) return exit_failure;
    if (!approve_pending(2) || !step(1min)) return exit_failure;

    // 5. The conversation, with per-participant statuses for each business message.
    if (!business_says("Hello Ana and Ben, thanks for joining. Could you send photos of the damage?") || !step(4min))
      return exit_failure;
    if (!customer_says(kCustomers[0], "Here you go: the box was crushed on one side.") || !step(2min))
      return exit_failure;
    if (!customer_says(kCustomers[1], "Same for mine, the lid is cracked.") || !step(8min)) return exit_failure;

    // 6. Carla asks to join later and is approved on her own.
    if (!opens_link(kCustomers[2]) || !step(1min)) return exit_failure;
    if (!approve_pending(1) || !step(1min)) return exit_failure;
    if (!customer_says(kCustomers[2], "Hi all, my parcel came with a broken handle.") || !step(3min))
      return exit_failure;
    if (!business_says("Thank you all. Replacements ship today; tracking numbers follow by email.") || !step(31min))
      return exit_failure;

    // 7. Idle for 31 minutes: the policy resolves the ticket; a new message reopens it.
    if (!tick("no message for 31 minutes (auto-resolve after 30)")) return exit_failure;
    clock_.advance(14min);
    if (!customer_says(kCustomers[0], "My tracking number has not arrived yet.") || !step(5min)) return exit_failure;
    if (!business_says("Sorry Ana, it is in your inbox now: RX-55120.") || !step(31min)) return exit_failure;
    if (!tick("no message for 31 minutes again")) return exit_failure;
    clock_.advance(61min);
    if (!tick("61 minutes after the resolution (auto-close after 60)")) return exit_failure;
    if (!settle()) return exit_failure;

    // 8. The final ticket, as the store has it.
    const auto stored = store_->load(ticket_id_);
    if (!stored || !*stored) {
      fail("the ticket is not in the store");
      return exit_failure;
    }
    const wagroups::Ticket& ticket = (*stored)->ticket;
    write_line("");
    write_line("final ticket (from " + dir_ + "/tickets.db, version " + std::to_string((*stored)->version) + "):");
    for (const auto& line : render_ticket(ticket, TimeStyle::clock)) write_line(line);
    write_line("");
    return verify(ticket);
  }

  int verify(const wagroups::Ticket& t) {
    using wagroups::DeliveryStatus;
    using wagroups::MessageDirection;
    Expectations expect;
    expect.check(t.state == wagroups::TicketState::closed,
                 std::string("state is ") + wagroups::to_string(t.state) + ", not closed");
    expect.check(t.assignee == std::optional<std::string>(kAgent), "assignee is not agent-7");
    expect.check(t.subject == std::optional<std::string>(kSubject), "subject differs");
    expect.check(t.group_id == std::optional<std::string>(group_id_), "group id differs");
    expect.check(t.group_created, "the group_create webhook was not applied");
    expect.check(t.resolved_at.has_value() && t.closed_at.has_value(), "resolved_at/closed_at missing");
    expect.check(t.first_join_at.has_value(), "first_join_at missing");
    std::size_t joined = 0;
    for (const auto& c : kCustomers) {
      const wagroups::Member* m = nullptr;
      for (const auto& candidate : t.members) {
        if (candidate.person.phone == std::optional<std::string>(c.phone)) m = &candidate;
      }
      expect.check(m != nullptr, std::string(c.name) + " is not on the roster");
      if (m && m->status == wagroups::MemberStatus::joined) ++joined;
    }
    expect.check(joined == 3, std::to_string(joined) + " member(s) joined, not 3");
    expect.check(t.invites.size() == 3, std::to_string(t.invites.size()) + " invite(s), not 3");
    for (const auto& i : t.invites) {
      expect.check(i.message_id.has_value() && !i.error, "the invite to " + i.phone + " was not sent");
      expect.check(i.status == DeliveryStatus::read,
                   "the invite to " + i.phone + " is " + wagroups::to_string(i.status) + ", not read");
    }
    const auto inbound = std::count_if(t.timeline.begin(), t.timeline.end(),
                                       [](const auto& m) { return m.direction == MessageDirection::inbound; });
    const auto outbound = std::count_if(t.timeline.begin(), t.timeline.end(),
                                        [](const auto& m) { return m.direction == MessageDirection::outbound; });
    expect.check(inbound == 4, std::to_string(inbound) + " inbound message(s), not 4");
    expect.check(outbound == 3, std::to_string(outbound) + " outbound message(s), not 3");
    // Every business message reached every member who had joined when it was sent: read by each.
    const std::size_t readers_expected[] = {2, 3, 3};
    std::size_t index = 0;
    for (const auto& m : t.timeline) {
      if (m.direction != MessageDirection::outbound) continue;
      std::size_t read = 0;
      for (const auto& [who, status] : m.delivery) {
        (void)who;
        if (status == DeliveryStatus::read) ++read;
      }
      if (index < 3) {
        expect.check(read == readers_expected[index] && m.delivery.size() == readers_expected[index],
                     "business message " + std::to_string(index + 1) + " was read by " + std::to_string(read) + " of " +
                         std::to_string(m.delivery.size()) + " member(s), not " +
                         std::to_string(readers_expected[index]));
      }
      ++index;
    }
    for (const auto& failure : expect.failures()) print_error("demo: FAILED: " + failure);
    return expect.failures().empty() ? exit_ok : exit_failure;
  }

  void tear_down() {
    // Clients first: a kept-alive connection holds a server's worker until its keep-alive timeout.
    client_.reset();
    server_.reset();  // stops the deliveries (and closes its connection to the endpoint)
    endpoint_.stop();
    if (endpoint_thread_.joinable()) endpoint_thread_.join();
    tickets_.reset();
    store_.reset();
    if (dir_.empty()) return;
    if (options_.keep) {
      write_line("kept " + dir_ + ": wagroups tickets show " + ticket_id_ + " --db " + dir_ + "/tickets.db");
    } else {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  DemoOptions options_;
  DemoClock clock_;
  Timeline timeline_;
  std::string dir_;
  std::unique_ptr<wagroups::TicketStore> store_;
  std::unique_ptr<wagroups::TicketAggregator> tickets_;
  std::optional<wagroups::WebhookEndpoint> webhook_endpoint_;
  wagroups::PendingOperations pending_;
  wagroups_httplib_guard::GuardedServer endpoint_;  // bound alone, bodies refused before reading them
  int endpoint_port_ = 0;
  std::thread endpoint_thread_;
  std::unique_ptr<wagroups::sandbox::Simulator> simulator_;
  std::unique_ptr<wagroups::sandbox::SandboxServer> server_;
  std::optional<wagroups::Client> client_;
  std::mutex gate_;  // held by the agent's side while it sends and records; the endpoint waits
  std::atomic<int> webhooks_{0};
  std::atomic<int> refused_{0};
  std::string ticket_id_;
  std::string group_id_;
  std::string invite_link_;
};

}  // namespace

void register_demo_command(CLI::App& app, CommandState& state) {
  auto o = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "The whole journey offline: sandbox Graph API and signed webhooks over loopback HTTP, tickets in SQLite "
      "(a temporary folder); prints the timeline and the final ticket, exit 0 when it matches");
  cmd->add_flag("--keep", o->keep, "Keep the temporary folder with the ticket store");
  cmd->callback([o, &state] {
    Demo demo(*o);
    state.exit_code = demo.run();
  });
}

}  // namespace wagroups_cli
