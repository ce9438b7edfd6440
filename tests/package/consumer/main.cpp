// Smoke test of an installed wagroups: public headers only, no network.
//
// Built against the install tree by the `package.consumer` ctest test and reused by the Conan
// test_package (cmake/packaging/conan/test_package). Prints "wagroups <version> consumer OK" and
// returns 0 when every check holds; otherwise prints what differed and returns 1.

#include <wagroups/testing/fake_transport.hpp>
#include <wagroups/wagroups.hpp>
#ifdef WAGROUPS_CONSUMER_SQLITE
#include <wagroups/sqlite/ticket_store.hpp>
#endif

#include <cstring>
#include <iostream>
#include <memory>
#include <string>

namespace {

int failures = 0;

void check(bool condition, const std::string& what) {
  if (!condition) {
    std::cerr << "consumer check failed: " << what << "\n";
    ++failures;
  }
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

int main() {
  auto transport = std::make_shared<wagroups::testing::FakeTransport>();

  wagroups::ClientOptions options;
  options.access_token = "consumer-test-token";
  options.phone_number_id = "106540352242922";
  options.transport = transport;
  wagroups::Client client(options);

  // A successful create_group, answered by the fake transport.
  transport->enqueue(200, R"({"messaging_product":"whatsapp","request_id":"R1"})");
  wagroups::CreateGroupRequest request;
  request.subject = "Package consumer";
  const auto created = client.create_group(request);
  if (created) {
    check(created->request_id.has_value() && *created->request_id == "R1",
          "create_group: request_id should be \"R1\"");
  } else {
    check(false, "create_group failed: " + created.error().to_string());
  }
  check(transport->request_count() == 1, "create_group: exactly one request should be sent");
  const wagroups::HttpRequest sent = transport->last_request();
  check(sent.method == wagroups::HttpMethod::post,
        std::string("create_group: method should be POST, was ") + wagroups::to_string(sent.method));
  check(ends_with(sent.url, "/groups"), "create_group: URL should end in /groups, was " + sent.url);

  // Validation refuses an empty subject before anything is sent.
  wagroups::CreateGroupRequest empty;
  empty.subject = "";
  const auto refused = client.create_group(empty);
  if (refused) {
    check(false, "create_group with an empty subject should be refused");
  } else {
    check(refused.error().code == wagroups::ErrorCode::invalid_argument,
          std::string("empty subject: error code should be invalid_argument, was ") +
              wagroups::to_string(refused.error().code));
    check(refused.error().field == "subject",
          "empty subject: error field should be \"subject\", was \"" + refused.error().field + "\"");
  }
  check(transport->request_count() == 1, "empty subject: nothing should be sent");

  // The installed version.hpp and the linked library agree.
  check(std::strcmp(wagroups::version(), WAGROUPS_VERSION_STRING) == 0,
        std::string("version(): library says ") + wagroups::version() + ", header says " +
            WAGROUPS_VERSION_STRING);

#ifdef WAGROUPS_CONSUMER_SQLITE
  // wagroups::sqlite: a ticket written through one unit of work and read back (in memory, so the
  // check leaves no file behind).
  auto store = wagroups::SqliteTicketStore::open(":memory:");
  if (!store) {
    check(false, "SqliteTicketStore::open failed: " + store.error().to_string());
  } else {
    check((*store)->schema_version() == wagroups::SqliteTicketStore::latest_schema_version(),
          "sqlite: a new database should be at the latest schema version");
    const auto written = (*store)->transact([](wagroups::TicketTransaction& tx) -> wagroups::Result<void> {
      wagroups::Ticket ticket;
      ticket.ticket_id = wagroups::ticket_id_for_request("R1");
      ticket.request_id = "R1";
      ticket.subject = "Package consumer";
      ticket.state = wagroups::TicketState::create_requested;
      auto inserted = tx.insert(std::move(ticket));
      if (!inserted) return inserted.error();
      return tx.record("consumer-event");
    });
    check(written.ok(), "sqlite: transact failed: " + (written ? std::string() : written.error().to_string()));
    const auto found = (*store)->find_by_request("R1");
    check(found && *found && **found == "T-R1", "sqlite: find_by_request(\"R1\") should give \"T-R1\"");
    const auto loaded = (*store)->load("T-R1");
    check(loaded && *loaded && (*loaded)->version == 1 && (*loaded)->ticket.subject == std::string("Package consumer") &&
              (*loaded)->ticket.state == wagroups::TicketState::create_requested,
          "sqlite: the ticket should load back at version 1 with its subject and state");
  }
  std::cout << "sqlite component: used\n";
#else
  std::cout << "sqlite component: not available\n";
#endif

  if (failures != 0) {
    std::cerr << failures << " consumer check(s) failed\n";
    return 1;
  }
  std::cout << "wagroups " << wagroups::version() << " consumer OK\n";
  return 0;
}
