// The program every package consumer builds (tests/package/run_consumers.sh): public headers only,
// no network. One real call path through the components the consumer links:
//
//   Client over the in-process sandbox::Simulator -> create_group -> TicketAggregator::open_ticket
//   -> Simulator::flush() hands out the signed group_lifecycle_update webhook
//   -> WebhookEndpoint::handle_post(body, X-Hub-Signature-256, aggregator) with the simulator's
//      app secret -> the ticket is linked to the group (awaiting_first_join);
//   a customer joins through the invite link -> the next webhook opens the ticket (open);
//   a wrongly signed POST is refused with 401.
//
// The ticket store is SqliteTicketStore(":memory:") when the consumer links wagroups::sqlite
// (WAGROUPS_CONSUMER_SQLITE), else InMemoryTicketStore. With WAGROUPS_CONSUMER_TESTING it also
// runs a create_group over wagroups::testing's FakeTransport.
//
// Prints "<consumer name>: <n> checks passed" and returns 0 when every check holds; otherwise
// prints each mismatch and returns 1.

#include <wagroups/sandbox.hpp>
#include <wagroups/wagroups.hpp>
#ifdef WAGROUPS_CONSUMER_SQLITE
#include <wagroups/sqlite.hpp>
#endif
#ifdef WAGROUPS_CONSUMER_TESTING
#include <wagroups/testing.hpp>
#endif

#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#ifndef WAGROUPS_CONSUMER_NAME
#define WAGROUPS_CONSUMER_NAME "consumer"
#endif

namespace {

int failures = 0;
int checks = 0;

bool check(bool condition, const std::string& what) {
  ++checks;
  if (!condition) {
    std::cerr << WAGROUPS_CONSUMER_NAME << ": check failed: " << what << "\n";
    ++failures;
  }
  return condition;
}

std::string state_name(const std::optional<wagroups::StoredTicket>& t) {
  return t ? wagroups::to_string(t->ticket.state) : "(no ticket)";
}

// Hands every queued webhook to the endpoint; returns the responses.
std::vector<wagroups::WebhookResponse> deliver(wagroups::sandbox::Simulator& sim,
                                               const wagroups::WebhookEndpoint& endpoint,
                                               wagroups::TicketAggregator& tickets) {
  std::vector<wagroups::WebhookResponse> responses;
  sim.set_webhook_sink([&](const wagroups::sandbox::WebhookDelivery& d) {
    responses.push_back(endpoint.handle_post(d.body, d.signature, tickets));
  });
  const std::size_t n = sim.flush();
  check(n == responses.size(), "flush() should report as many deliveries as the sink received");
  return responses;
}

void simulator_flow(wagroups::TicketStore& store) {
  wagroups::sandbox::Simulator sim;
  wagroups::ClientOptions options;
  options.transport = sim.transport();
  options.access_token = "package-consumer-token";
  options.phone_number_id = sim.options().phone_number_id;
  wagroups::Client client(options);

  wagroups::TicketAggregator tickets(store);
  wagroups::WebhookEndpoint endpoint({sim.options().app_secret, "verify-me", {}});

  // 1. The agent creates the group; the ticket waits for Meta's lifecycle webhook.
  const std::string subject = "Order #1042 (package consumer)";
  const auto created = client.create_group({subject, std::string("Delivery question"), std::nullopt});
  if (!check(created.ok(), "create_group failed: " + (created ? std::string() : created.error().to_string())) ||
      !check(created->request_id.has_value(), "create_group: no request_id")) {
    return;
  }
  const std::string request_id = *created->request_id;
  const auto opened =
      tickets.open_ticket({request_id, sim.options().phone_number_id, "agent-7", subject, std::nullopt});
  check(opened.ok(), "open_ticket failed: " + (opened ? std::string() : opened.error().to_string()));
  const std::string ticket_id = wagroups::ticket_id_for_request(request_id);
  auto loaded = store.load(ticket_id);
  check(loaded && *loaded && (*loaded)->ticket.state == wagroups::TicketState::create_requested,
        "after open_ticket the ticket should be create_requested, is " +
            (loaded ? state_name(*loaded) : "(load failed)"));

  // 2. The signed group_create webhook through the endpoint.
  auto responses = deliver(sim, endpoint, tickets);
  check(!responses.empty(), "flush() delivered no webhook after create_group");
  for (const auto& r : responses) {
    check(r.http_status == 200, "handle_post answered " + std::to_string(r.http_status) +
                                    (r.error ? ": " + r.error->to_string() : std::string()));
    check(!r.batch.events.empty(), "a verified webhook should carry events");
    check(r.applied.has_value() && r.applied->changed_anything(), "the lifecycle webhook should change the ticket");
  }
  const auto groups = sim.groups();
  if (!check(groups.size() == 1, "the simulator should hold one group, holds " + std::to_string(groups.size()))) return;
  const wagroups::sandbox::SimGroup& group = groups.front();

  loaded = store.load(ticket_id);
  if (!check(loaded && *loaded, "ticket " + ticket_id + " should exist after the webhook")) return;
  const wagroups::Ticket& linked = (*loaded)->ticket;
  check(linked.state == wagroups::TicketState::awaiting_first_join,
        std::string("ticket state should be awaiting_first_join, is ") + wagroups::to_string(linked.state));
  check(linked.group_id == group.group_id, "ticket group_id should be " + group.group_id);
  check(linked.subject == subject,
        "ticket subject should be \"" + subject + "\", is \"" + linked.subject.value_or("") + "\"");
  check(linked.assignee == std::string("agent-7"), "ticket assignee should be agent-7");
  check(linked.group_created, "ticket should record the group's creation");
  const auto by_group = store.find_by_group(group.group_id);
  check(by_group && *by_group && **by_group == ticket_id, "find_by_group should give " + ticket_id);

  // 3. A customer joins through the invite link: the ticket opens.
  wagroups::sandbox::Person customer;
  customer.phone = "15550123001";
  customer.user_id = "US.1001";
  customer.name = "Customer One";
  const auto joined = sim.join_by_link(group.invite_link, customer);
  check(joined.ok(), "join_by_link failed: " + (joined ? std::string() : joined.error().to_string()));
  responses = deliver(sim, endpoint, tickets);
  check(!responses.empty(), "flush() delivered no webhook after the join");
  for (const auto& r : responses) {
    check(r.http_status == 200, "handle_post (join) answered " + std::to_string(r.http_status));
  }
  loaded = store.load(ticket_id);
  check(loaded && *loaded && (*loaded)->ticket.state == wagroups::TicketState::open,
        "after the join the ticket should be open, is " + (loaded ? state_name(*loaded) : "(load failed)"));
  if (loaded && *loaded) {
    const wagroups::Member* member = (*loaded)->ticket.find_member({customer.phone, customer.user_id, std::nullopt});
    check(member != nullptr && member->status == wagroups::MemberStatus::joined,
          "the customer should be a joined member");
  }

  // 4. A POST signed with another secret is refused and changes nothing.
  const std::int64_t version = (loaded && *loaded) ? (*loaded)->version : -1;
  const auto said = sim.send_text(group.group_id, customer, "hello?");
  check(said.ok(), "send_text failed: " + (said ? std::string() : said.error().to_string()));
  auto forged = sim.take_webhooks();
  if (check(!forged.empty(), "send_text should queue a webhook")) {
    const wagroups::WebhookResponse r = endpoint.handle_post(
        forged.front().body, wagroups::compute_signature(forged.front().body, "wrong-secret"), tickets);
    check(r.http_status == 401, "a wrongly signed POST should get 401, got " + std::to_string(r.http_status));
    loaded = store.load(ticket_id);
    check(loaded && *loaded && (*loaded)->version == version, "a refused POST must not write the ticket");
  }
}

#ifdef WAGROUPS_CONSUMER_TESTING
void fake_transport_flow() {
  auto transport = std::make_shared<wagroups::testing::FakeTransport>();
  wagroups::ClientOptions options;
  options.access_token = "consumer-test-token";
  options.phone_number_id = "106540352242922";
  options.transport = transport;
  wagroups::Client client(options);

  transport->enqueue(200, R"({"messaging_product":"whatsapp","request_id":"R1"})");
  const auto created = client.create_group({"Package consumer", std::nullopt, std::nullopt});
  check(created.ok() && created->request_id == std::string("R1"),
        "FakeTransport: create_group should give request_id R1");
  check(transport->request_count() == 1, "FakeTransport: exactly one request should be sent");
  const wagroups::HttpRequest sent = transport->last_request();
  check(sent.method == wagroups::HttpMethod::post, "FakeTransport: create_group should POST");
  const std::string suffix = "/106540352242922/groups";
  check(
      sent.url.size() >= suffix.size() && sent.url.compare(sent.url.size() - suffix.size(), suffix.size(), suffix) == 0,
      "FakeTransport: URL should end in " + suffix + ", was " + sent.url);

  // Validation refuses an empty subject before anything is sent.
  const auto refused = client.create_group({"", std::nullopt, std::nullopt});
  check(!refused.ok() && refused.error().code == wagroups::ErrorCode::invalid_argument,
        "FakeTransport: an empty subject should be refused with invalid_argument");
  check(transport->request_count() == 1, "FakeTransport: a refused request should not be sent");
}
#endif

}  // namespace

int main() {
  check(std::strcmp(wagroups::version(), WAGROUPS_VERSION_STRING) == 0,
        std::string("version(): library says ") + wagroups::version() + ", header says " + WAGROUPS_VERSION_STRING);

  std::string store_kind;
#ifdef WAGROUPS_CONSUMER_SQLITE
  auto sqlite = wagroups::SqliteTicketStore::open(":memory:");
  if (!check(sqlite.ok(), "SqliteTicketStore::open(\":memory:\") failed: " +
                              (sqlite ? std::string() : sqlite.error().to_string()))) {
    return 1;
  }
  simulator_flow(**sqlite);
  store_kind = "sqlite";
#else
  wagroups::InMemoryTicketStore memory;
  simulator_flow(memory);
  store_kind = "memory";
#endif
#ifdef WAGROUPS_CONSUMER_TESTING
  fake_transport_flow();
  store_kind += "+fake_transport";
#endif

  if (failures != 0) {
    std::cerr << WAGROUPS_CONSUMER_NAME << ": " << failures << " of " << checks << " checks failed\n";
    return 1;
  }
  std::cout << WAGROUPS_CONSUMER_NAME << ": wagroups " << wagroups::version() << ", C++" << (__cplusplus / 100 % 100)
            << ", store " << store_kind << ", " << checks << " checks passed\n";
  return 0;
}
