// Writes tests/data/sqlite-v1/tickets-v1.db: a schema v1 database written by the v1 code
// (wagroups at commit a09291d, issue 10), for the v1 -> v2 migration test. Not part of the build:
// compiled by hand against the v1 tree, see README.md in this directory.
//
//   make_v1_db <output.db>
//
// Everything goes through the v1 TicketAggregator over the v1 SqliteTicketStore, as a host's
// database would have been written: randomized group lives (members by phone and/or BSUID,
// invites with statuses and errors, outbound messages with per-participant delivery and
// failures, unlinked fragments, failed creations, resolved and closed tickets), a few hand-made
// tickets with non-ASCII text, and dead letters. Deterministic: fixed seeds, fixed clocks.

#include <wagroups/sqlite/ticket_store.hpp>
#include <wagroups/tickets.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ticket_scenarios.hpp"

namespace {

int fail(const std::string& what, const wagroups::Error& error) {
  std::fprintf(stderr, "make_v1_db: %s: %s\n", what.c_str(), error.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_v1_db <output.db>\n");
    return 2;
  }
  auto opened = wagroups::SqliteTicketStore::open(argv[1]);
  if (!opened) return fail("open", opened.error());
  wagroups::SqliteTicketStore& store = **opened;
  if (store.schema_version() != 1) {
    std::fprintf(stderr, "make_v1_db: built against schema %d, not the v1 code\n", store.schema_version());
    return 1;
  }

  // Randomized lives, delivered shuffled and duplicated as Meta would, then one tick each.
  for (std::uint64_t seed = 101; seed <= 112; ++seed) {
    const auto scenario = wagroups_test::make_ticket_scenario(seed);
    if (auto failed = wagroups_test::run_plan(store, scenario, wagroups_test::shuffled_plan(scenario, seed))) {
      std::fprintf(stderr, "make_v1_db: seed %llu: %s\n", static_cast<unsigned long long>(seed), failed->c_str());
      return 1;
    }
  }

  // Hand-made: non-ASCII text everywhere a host or a member can put it, a BSUID-only member,
  // an invite refused at send time, a per-participant failure.
  namespace ev = wagroups_test::events;
  std::int64_t now = 1760000000;
  wagroups::TicketAggregator tickets(store, wagroups::ResolutionPolicy{}, [&now] {
    return std::chrono::system_clock::time_point(std::chrono::seconds(now));
  });
  auto check = [](const char* what, const wagroups::Result<wagroups::ApplyOutcome>& r) {
    if (!r) {
      std::fprintf(stderr, "make_v1_db: %s: %s\n", what, r.error().to_string().c_str());
      std::exit(1);
    }
  };
  const std::string group = "120363099000000001";
  check("open", tickets.open_ticket(
                    {"req-unicode", "106540352242922", "agente-José", std::string("Soporte técnico — 支持 🚀"), now}));
  check("created", tickets.apply(ev::created(group, std::string("req-unicode"), now + 1,
                                             std::string("Soporte técnico — 支持 🚀"))));
  check("joined",
        tickets.apply(ev::added(group, {ev::person("5511987654321"), ev::person("", "BR.1122334455")}, now + 5)));
  check("inbound", tickets.apply(ev::message(group, "wamid.unicode.in.1", "5511987654321", now + 10,
                                             "Olá! Привет! مرحبا 👋🏽 ñandú")));
  check("inbound bsuid",
        tickets.apply(ev::message(group, "wamid.unicode.in.2", "", now + 11, "only my BSUID — ✓", "BR.1122334455")));
  check("outbound", tickets.record_outbound("T-req-unicode", "wamid.unicode.out.1", "text",
                                            std::string("Claro, ¿en qué ayudo? 😊"), std::string("agente-José")));
  check("delivered", tickets.apply(ev::status(group, "wamid.unicode.out.1", wagroups::DeliveryStatus::delivered,
                                              now + 20, "5511987654321")));
  check("failed", tickets.apply(ev::status(group, "wamid.unicode.out.1", wagroups::DeliveryStatus::failed, now + 21, "",
                                           "BR.1122334455")));
  wagroups::Invite refused;
  refused.phone = "5511900000000";
  refused.sent_at = now + 30;
  refused.error = "graph_api: (#131030) Recipient phone number not in allowed list";
  check("invite refused", tickets.record_invite("T-req-unicode", refused));
  wagroups::Invite sent;
  sent.phone = "5511911111111";
  sent.sent_at = now + 31;
  sent.message_id = "wamid.unicode.inv.1";
  check("invite sent", tickets.record_invite("T-req-unicode", sent));
  check("invite read", tickets.apply(ev::direct_status("wamid.unicode.inv.1", wagroups::DeliveryStatus::read, now + 40,
                                                       "5511911111111")));

  // A creation that failed, and a group known only by its events (an unlinked fragment).
  check("open failing", tickets.open_ticket({"req-fails", "106540352242922", "agent-2", std::string("Falla"), now}));
  check("create failed", tickets.apply(ev::create_failed("req-fails", now + 2)));
  check("fragment", tickets.apply(ev::message("120363099000000002", "wamid.fragment.1", "447700900123", now + 3,
                                              "日本語のメッセージ")));

  // Dead letters: bodies the parser refused, kept in their table.
  wagroups::DeadLetter letter;
  letter.received_at = now + 50;
  letter.body = R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":"not an array"}]})";
  letter.error = wagroups::Error::decode_failure(0, "entry[0].changes must be an array");
  letter.error.field = "entry[0].changes";
  letter.error.limit = "an array";
  if (auto added = store.add_dead_letter(letter); !added) return fail("dead letter", added.error());
  letter.received_at = now + 51;
  letter.body = std::string("{\"object\":\"whatsapp_business_account\",\"entry\":[\xff]}");
  letter.error = wagroups::Error::decode_failure(0, "the body is not valid UTF-8");
  letter.error.field = "body";
  letter.error.limit = "UTF-8";
  if (auto added = store.add_dead_letter(letter); !added) return fail("dead letter", added.error());
  return 0;
}
