// Issue 10 item 10 in SqliteTicketStore: dead letters round-trip byte for byte, stay bounded,
// survive reopening, and the endpoint keeps a refused verified body there; and a message text
// holding U+0000 (a \u0000 escape on the wire) round-trips through the store.

#include "sqlite_test_support.hpp"

#include <catch2/catch_test_macros.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include <wagroups/webhook.hpp>

using namespace wagroups;
using wagroups_sqlite_test::open_store;
using wagroups_sqlite_test::TempDir;

namespace {

DeadLetter letter(std::string body, std::int64_t at = 1760000000) {
  DeadLetter d;
  d.received_at = at;
  d.body = std::move(body);
  d.error = Error::malformed_webhook("entry[0].changes", "an array of objects",
                                     "webhook body: entry[0].changes is not an array of objects");
  return d;
}

}  // namespace

TEST_CASE("issue10 item 10: SQLite dead letters round-trip byte for byte, newest first", "[sqlite][issue10]") {
  TempDir dir;
  const std::string path = dir.file("tickets.db");
  // Every byte value, NUL and invalid UTF-8 included: the body is a blob, not text.
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  std::vector<std::int64_t> ids;
  {
    auto store = open_store(path);
    auto empty = store->dead_letters({});
    REQUIRE(empty.ok());
    CHECK(empty->empty());
    for (const std::string& body : {std::string("first"), bytes, std::string()}) {
      auto id = store->add_dead_letter(letter(body));
      REQUIRE(id.ok());
      ids.push_back(*id);
    }
  }
  CHECK(ids[0] < ids[1]);
  CHECK(ids[1] < ids[2]);
  auto store = open_store(path);  // reopened: kept on disk, the table not created twice
  auto all = store->dead_letters({});
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK(all->at(0).id == ids[2]);
  CHECK(all->at(0).body.empty());
  CHECK(all->at(1).body == bytes);
  CHECK(all->at(2).body == "first");
  const DeadLetter& d = all->at(1);
  CHECK(d.received_at == 1760000000);
  CHECK(d.error.code == ErrorCode::decode);
  CHECK(d.error.field == "entry[0].changes");
  CHECK(d.error.limit == "an array of objects");
  CHECK(d.error.message == "webhook body: entry[0].changes is not an array of objects");

  DeadLetterQuery older;
  older.before_id = ids[2];
  older.limit = 1;
  auto page = store->dead_letters(older);
  REQUIRE(page.ok());
  REQUIRE(page->size() == 1);
  CHECK(page->front().id == ids[1]);

  auto erased = store->erase_dead_letter(ids[1]);
  REQUIRE(erased.ok());
  CHECK(*erased);
  CHECK_FALSE(*store->erase_dead_letter(ids[1]));
  CHECK(store->dead_letters({})->size() == 2);
  // The schema version is untouched: the table lives beside the versioned schema.
  CHECK(store->schema_version() == SqliteTicketStore::latest_schema_version());
}

TEST_CASE("issue10 item 10: SQLite dead letters stay within their count and byte bounds", "[sqlite][issue10]") {
  TempDir dir;
  SqliteOptions options;
  options.dead_letters.max_count = 3;
  options.dead_letters.max_total_bytes = 0;
  auto store = open_store(dir.file("tickets.db"), options);
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(*store->add_dead_letter(letter(std::string(100, 'x'))));
  auto kept = store->dead_letters({});
  REQUIRE(kept->size() == 3);
  CHECK(kept->front().id == ids[9]);
  CHECK(kept->back().id == ids[7]);
  // Ids are never reused after pruning.
  const std::int64_t next = *store->add_dead_letter(letter("y"));
  CHECK(next > ids[9]);

  TempDir other;
  SqliteOptions by_bytes;
  by_bytes.dead_letters.max_count = 0;
  by_bytes.dead_letters.max_total_bytes = 250;
  auto small = open_store(other.file("tickets.db"), by_bytes);
  for (int i = 0; i < 5; ++i) REQUIRE(small->add_dead_letter(letter(std::string(100, 'z'))).ok());
  CHECK(small->dead_letters({})->size() == 2);
  // One letter larger than the whole budget is still kept (the newest always is).
  REQUIRE(small->add_dead_letter(letter(std::string(1000, 'w'))).ok());
  auto big = small->dead_letters({});
  REQUIRE(big->size() == 1);
  CHECK(big->front().body.size() == 1000);
}

TEST_CASE("issue10 item 10: the endpoint keeps a verified body it cannot parse in the SQLite store",
          "[sqlite][issue10]") {
  TempDir dir;
  auto store = open_store(dir.file("tickets.db"));
  TicketAggregator tickets(*store);
  WebhookEndpointOptions options;
  options.app_secret = "sqlite-dead-letter-secret";
  const WebhookEndpoint endpoint(options);
  const std::string body = R"({"object":"whatsapp_business_account","entry":[{"changes":{}}]})";
  const WebhookResponse r = endpoint.handle_post(body, compute_signature(body, options.app_secret), tickets);
  CHECK(r.http_status == 200);
  CHECK(r.dead_lettered);
  auto kept = store->dead_letters({});
  REQUIRE(kept.ok());
  REQUIRE(kept->size() == 1);
  CHECK(kept->front().body == body);
  CHECK(kept->front().error.code == ErrorCode::decode);
  // Unsigned: 401 and nothing more kept.
  CHECK(endpoint.handle_post(body, "sha256=" + std::string(64, 'f'), tickets).http_status == 401);
  CHECK(store->dead_letters({})->size() == 1);
}

TEST_CASE("issue10 item 10: message text with U+0000 round-trips through the SQLite store", "[sqlite][issue10]") {
  TempDir dir;
  const std::string path = dir.file("tickets.db");
  const std::string group = "120363298765432101@g.us";
  const std::string body =
      R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{)"
      R"("messaging_product":"whatsapp","metadata":{"display_phone_number":"15557654321","phone_number_id":"1087"},)"
      R"("contacts":[{"profile":{"name":"Ana"},"wa_id":"16505551234"}],"messages":[)"
      R"({"from":"16505551234","id":"wamid.N1","timestamp":"1760000000","type":"text","group_id":")" +
      group +
      R"(","text":{"body":"x\u0000y"}},)"
      R"({"from":"16505551234","id":"wamid.N2","timestamp":"1760000001","type":"text","group_id":")" +
      group + R"(","text":{"body":"plain"}}]}}]}]})";
  auto batch = parse_webhook(body);
  REQUIRE(batch.ok());
  REQUIRE(batch->events.size() == 2);
  {
    auto store = open_store(path);
    TicketAggregator tickets(*store);
    REQUIRE(tickets.apply(*batch).ok());
  }
  auto store = open_store(path);  // read back from disk, not from the connection's cache
  auto id = store->find_by_group(group);
  REQUIRE(id.ok());
  REQUIRE(id->has_value());
  auto loaded = store->load(**id);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  std::vector<std::string> texts;
  for (const auto& m : (*loaded)->ticket.timeline) texts.push_back(m.text.value_or("<none>"));
  REQUIRE(texts.size() == 2);
  CHECK(texts[0] == std::string("x\0y", 3));
  CHECK(texts[1] == "plain");
  auto listed = store->list({});
  REQUIRE(listed.ok());
  CHECK(listed->size() == 1);
}
