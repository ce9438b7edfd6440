#pragma once

// Helpers shared by the SqliteTicketStore tests: scratch directories and small tickets.

#include <wagroups/sqlite/ticket_store.hpp>
#include <wagroups/tickets.hpp>

#include <catch2/catch_test_macros.hpp>

#include "temp_dir.hpp"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

namespace wagroups_sqlite_test {

/// A fresh directory under the system temp dir, removed with everything in it at scope exit
/// (tests/support/temp_dir.hpp).
class TempDir : public wagroups_test::TempDir {
 public:
  TempDir() : wagroups_test::TempDir("wagroups-sqlite") {}
};

inline wagroups::Ticket make_ticket(const std::string& id, std::optional<std::string> group_id = std::nullopt,
                                    std::optional<std::string> request_id = std::nullopt) {
  wagroups::Ticket ticket;
  ticket.ticket_id = id;
  ticket.group_id = std::move(group_id);
  ticket.request_id = std::move(request_id);
  ticket.phone_number_id = "15550001111";
  ticket.subject = "Subject of " + id;
  ticket.created_at = 1700000000;
  ticket.last_activity_at = 1700000000;
  return ticket;
}

/// Opens a store or fails the test with the error.
inline std::unique_ptr<wagroups::SqliteTicketStore> open_store(const std::string& path,
                                                              wagroups::SqliteOptions options = {}) {
  auto opened = wagroups::SqliteTicketStore::open(path, std::move(options));
  if (!opened) FAIL("open " << path << ": " << opened.error().to_string());
  return std::move(*opened);
}

/// Inserts tickets in one unit, failing the test on error.
template <typename... Tickets>
void insert_all(wagroups::TicketStore& store, Tickets... tickets) {
  auto done = store.transact([&](wagroups::TicketTransaction& tx) -> wagroups::Result<void> {
    for (auto* ticket : {&tickets...}) {
      auto inserted = tx.insert(*ticket);
      if (!inserted) return inserted.error();
    }
    return {};
  });
  if (!done) FAIL("insert: " << done.error().to_string());
}

/// The stored version of a ticket (0 when absent), failing the test on a store error.
inline std::int64_t version_of(wagroups::TicketStore& store, const std::string& id) {
  auto loaded = store.load(id);
  if (!loaded) FAIL("load " << id << ": " << loaded.error().to_string());
  return *loaded ? (*loaded)->version : 0;
}

}  // namespace wagroups_sqlite_test
