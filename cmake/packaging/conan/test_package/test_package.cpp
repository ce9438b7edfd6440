// Consumer check of an installed wagroups package (Conan test_package, and the vcpkg consumer
// built from the same sources; see cmake/packaging/README.md). Public headers only, no network
// beyond 127.0.0.1. Each component the package was asked for is exercised:
//   core            version() agrees with the header; validation refuses an empty subject
//   testing         create_group over FakeTransport
//   sandbox         Client on the in-process Simulator -> create_group -> flush() the signed
//                   webhooks -> WebhookEndpoint (verify + parse) -> TicketAggregator -> ticket exists
//   sqlite          the aggregator's store is SqliteTicketStore(":memory:") (else InMemoryTicketStore)
//   postgres        PostgresTicketStore links (libpq included): latest_schema_version(), and open()
//                   on a closed loopback port fails with ErrorCode::storage (no server is needed)
//   sandbox_server  SandboxServer on 127.0.0.1, Client over the real CurlTransport -> create_group
// Prints one line per component and "wagroups <version> test_package OK"; returns 1 on any failure.

#include <wagroups/wagroups.hpp>
#ifdef WAGROUPS_TP_TESTING
#include <wagroups/testing.hpp>
#endif
#ifdef WAGROUPS_TP_SANDBOX
#include <wagroups/sandbox.hpp>
#endif
#ifdef WAGROUPS_TP_SANDBOX_SERVER
#include <wagroups/sandbox_server.hpp>
#endif
#ifdef WAGROUPS_TP_SQLITE
#include <wagroups/sqlite.hpp>
#endif
#ifdef WAGROUPS_TP_POSTGRES
#include <wagroups/postgres.hpp>
#endif

#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

int failures = 0;

void check(bool condition, const std::string& what) {
  if (!condition) {
    std::cerr << "test_package check failed: " << what << "\n";
    ++failures;
  }
}

std::string error_text(const wagroups::Error& error) { return error.to_string(); }

// The store every ticket check uses: SQLite in memory when the sqlite component is linked.
std::unique_ptr<wagroups::TicketStore> make_store() {
#ifdef WAGROUPS_TP_SQLITE
  auto opened = wagroups::SqliteTicketStore::open(":memory:");
  if (!opened) {
    check(false, "SqliteTicketStore::open(\":memory:\") failed: " + error_text(opened.error()));
    return std::make_unique<wagroups::InMemoryTicketStore>();
  }
  check((*opened)->schema_version() == wagroups::SqliteTicketStore::latest_schema_version(),
        "sqlite: a new database should be at the latest schema version");
  std::cout << "sqlite: SqliteTicketStore(\":memory:\") schema " << (*opened)->schema_version() << "\n";
  return std::move(*opened);
#else
  return std::make_unique<wagroups::InMemoryTicketStore>();
#endif
}

}  // namespace

int main() {
  // --- core -----------------------------------------------------------------------------------
  check(std::strcmp(wagroups::version(), WAGROUPS_VERSION_STRING) == 0,
        std::string("version(): library says ") + wagroups::version() + ", header says " +
            WAGROUPS_VERSION_STRING);
  {
    wagroups::ClientOptions options;
    options.access_token = "test-package-token";
    options.phone_number_id = "106540352242922";
    wagroups::Client client(options);  // the default CurlTransport; nothing is sent below
    wagroups::CreateGroupRequest empty;
    const auto refused = client.create_group(empty);
    check(!refused && refused.error().code == wagroups::ErrorCode::invalid_argument,
          "core: an empty subject should be refused with invalid_argument before sending");
    std::cout << "core: wagroups::wagroups " << wagroups::version() << "\n";
  }

#ifdef WAGROUPS_TP_TESTING
  {
    auto transport = std::make_shared<wagroups::testing::FakeTransport>();
    transport->enqueue(200, R"({"messaging_product":"whatsapp","request_id":"R1"})");
    wagroups::ClientOptions options;
    options.access_token = "test-package-token";
    options.phone_number_id = "106540352242922";
    options.transport = transport;
    wagroups::Client client(options);
    wagroups::CreateGroupRequest request;
    request.subject = "test_package";
    const auto created = client.create_group(request);
    check(created && created->request_id.value_or("") == "R1",
          "testing: create_group over FakeTransport should return request_id R1");
    check(transport->request_count() == 1, "testing: exactly one request should be sent");
    std::cout << "testing: FakeTransport create_group request_id "
              << (created ? created->request_id.value_or("?") : std::string("-")) << "\n";
  }
#endif

#ifdef WAGROUPS_TP_POSTGRES
  {
    // No server here: open() must reach libpq, fail to connect, and say so as a storage error.
    // Port 1 on loopback refuses at once; connect_timeout bounds it if something filters instead.
    const int latest = wagroups::PostgresTicketStore::latest_schema_version();
    check(latest >= 1, "postgres: latest_schema_version() should be at least 1");
    wagroups::PostgresOptions options;
    options.pool_size = 1;
    options.acquire_timeout = std::chrono::milliseconds(3000);
    const auto opened =
        wagroups::PostgresTicketStore::open("postgresql://nobody@127.0.0.1:1/x?connect_timeout=1", options);
    check(!opened && opened.error().code == wagroups::ErrorCode::storage,
          "postgres: open() on an unreachable server should fail with ErrorCode::storage" +
              (opened ? std::string(" (it succeeded)") : ", got: " + error_text(opened.error())));
    std::cout << "postgres: PostgresTicketStore latest schema " << latest << "; open(127.0.0.1:1) -> "
              << (opened ? std::string("opened?!") : error_text(opened.error())) << "\n";
  }
#endif

  auto store = make_store();
  wagroups::TicketAggregator tickets(*store);

#ifdef WAGROUPS_TP_SANDBOX
  {
    wagroups::sandbox::Simulator sim;
    std::vector<wagroups::sandbox::WebhookDelivery> deliveries;
    sim.set_webhook_sink([&](const wagroups::sandbox::WebhookDelivery& d) { deliveries.push_back(d); });

    wagroups::ClientOptions options;
    options.access_token = "any";
    options.phone_number_id = sim.options().phone_number_id;
    options.transport = sim.transport();
    wagroups::Client client(options);
    wagroups::CreateGroupRequest request;
    request.subject = "Order #1042";
    const auto created = client.create_group(request);
    check(created && created->request_id, "sandbox: create_group on the Simulator should return a request_id");
    const std::string request_id = created && created->request_id ? *created->request_id : "";

    const auto opened = tickets.open_ticket({request_id, sim.options().phone_number_id, "agent-7", request.subject, {}});
    check(opened.ok(), "sandbox: open_ticket failed: " + (opened ? std::string() : error_text(opened.error())));

    const std::size_t flushed = sim.flush();
    check(flushed >= 1 && deliveries.size() == flushed, "sandbox: flush() should deliver the group_create webhook");

    wagroups::WebhookEndpoint endpoint({sim.options().app_secret, "verify-token", {}});
    int answered_200 = 0;
    for (const auto& d : deliveries) {
      const wagroups::WebhookResponse r = endpoint.handle_post(d.body, d.signature, tickets);
      if (r.ok()) ++answered_200;
      else check(false, "sandbox: WebhookEndpoint answered " + std::to_string(r.http_status) + " to " + d.field +
                        (r.error ? ": " + error_text(*r.error) : std::string()));
    }
    // A forged signature must be refused.
    if (!deliveries.empty()) {
      const auto forged = endpoint.handle_post(deliveries.front().body, "sha256=00", tickets);
      check(forged.http_status == 401, "sandbox: a wrong signature should be answered 401");
    }

    const auto found = store->find_by_request(request_id);
    check(found && *found && **found == wagroups::ticket_id_for_request(request_id),
          "sandbox: the ticket of request " + request_id + " should exist");
    if (found && *found) {
      const auto loaded = store->load(**found);
      check(loaded && *loaded && (*loaded)->ticket.group_created && (*loaded)->ticket.group_id,
            "sandbox: the group_create webhook should have linked the ticket to its group");
      if (loaded && *loaded)
        std::cout << "sandbox: " << flushed << " webhook(s), " << answered_200 << " answered 200; ticket "
                  << (*loaded)->ticket.ticket_id << " group " << (*loaded)->ticket.group_id.value_or("?")
                  << " state " << wagroups::to_string((*loaded)->ticket.state) << "\n";
    }
  }
#else
  {
    // No simulator: the agent's create request alone must still make a ticket in the store.
    const auto opened = tickets.open_ticket({"R-store", "106540352242922", "agent-7", std::string("test_package"), {}});
    check(opened.ok(), "store: open_ticket failed: " + (opened ? std::string() : error_text(opened.error())));
    const auto found = store->find_by_request("R-store");
    check(found && *found && **found == "T-R-store", "store: the ticket T-R-store should exist");
    std::cout << "store: ticket " << (found && *found ? **found : std::string("-")) << "\n";
  }
#endif

#ifdef WAGROUPS_TP_SANDBOX_SERVER
  {
    wagroups::sandbox::Simulator sim;
    auto started = wagroups::sandbox::SandboxServer::start(sim);
    check(started.ok(), "sandbox_server: start failed: " + (started ? std::string() : error_text(started.error())));
    if (started) {
      auto& server = **started;
      wagroups::ClientOptions options;
      options.access_token = "any";
      options.phone_number_id = sim.options().phone_number_id;
      options.base_url = server.base_url();  // the real CurlTransport over loopback HTTP
      wagroups::Client client(options);
      wagroups::CreateGroupRequest request;
      request.subject = "Over HTTP";
      const auto created = client.create_group(request);
      check(created && created->request_id,
            "sandbox_server: create_group over HTTP failed: " + (created ? std::string("no request_id") : error_text(created.error())));
      check(sim.groups().size() == 1, "sandbox_server: the simulator should hold the new group");
      std::cout << "sandbox_server: " << server.base_url() << " create_group request_id "
                << (created && created->request_id ? *created->request_id : std::string("-")) << "\n";
      server.stop();
    }
  }
#endif

  if (failures != 0) {
    std::cerr << failures << " test_package check(s) failed\n";
    return 1;
  }
  std::cout << "wagroups " << wagroups::version() << " test_package OK\n";
  return 0;
}
