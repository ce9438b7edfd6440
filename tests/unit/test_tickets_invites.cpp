// send_invites: what it refuses before any request, the exact 1:1 template requests it sends, how
// each outcome lands on the ticket, and how 1:1 status webhooks then move the invites forward.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "test_support.hpp"
#include "wagroups/client/client.hpp"
#include "wagroups/testing/fake_transport.hpp"
#include "wagroups/tickets.hpp"

using namespace wagroups;
using wagroups_test::json_equal;

namespace {

const std::string kToken = "EAAinvite-secret-token-9";
const std::string kPhoneNumberId = "771234567890";
const std::string kMessagesUrl = "https://graph.facebook.com/v26.0/" + kPhoneNumberId + "/messages";
const std::string kGroup = "GRP-INV-1";
const std::string kLink = "https://chat.whatsapp.com/Kq2PzT7";
const std::string kTicket = "T-REQ-INV-1";
constexpr std::int64_t kT0 = 1790000000;

std::string sent_ok(const std::string& wamid) {
  return R"({"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":")" +
         wamid + R"("}]})";
}

// A store that can be told to fail its next transactions (a full disk, a lost database).
class FlakyStore final : public TicketStore {
 public:
  InMemoryTicketStore inner;
  int fail_transactions = 0;
  Result<void> transact(const std::function<Result<void>(TicketTransaction&)>& work) override {
    if (fail_transactions > 0) {
      --fail_transactions;
      Error e;
      e.code = ErrorCode::storage;
      e.message = "commit failed: disk I/O error";
      return e;
    }
    return inner.transact(work);
  }
  Result<std::optional<StoredTicket>> load(const std::string& id) override { return inner.load(id); }
  Result<std::optional<std::string>> find_by_group(const std::string& g) override { return inner.find_by_group(g); }
  Result<std::optional<std::string>> find_by_request(const std::string& r) override { return inner.find_by_request(r); }
  Result<std::vector<StoredTicket>> list(const TicketQuery& q) override { return inner.list(q); }
};

struct Fixture {
  std::shared_ptr<testing::FakeTransport> transport = std::make_shared<testing::FakeTransport>();
  std::shared_ptr<std::atomic<std::int64_t>> now = std::make_shared<std::atomic<std::int64_t>>(kT0);
  FlakyStore store;
  Client client{options()};
  TicketAggregator tickets{store, ResolutionPolicy{}, clock()};

  Clock clock() const {
    auto n = now;
    return [n] { return std::chrono::system_clock::time_point(std::chrono::seconds(n->load())); };
  }
  ClientOptions options() const {
    ClientOptions o;
    o.access_token = kToken;
    o.phone_number_id = kPhoneNumberId;
    o.transport = transport;
    o.sleeper = [](std::chrono::milliseconds) {};
    o.random = [] { return 1.0; };
    o.clock = clock();
    return o;
  }

  // The create request, the group's creation webhook and the first joins.
  void create_group(std::optional<std::string> link, const std::vector<std::string>& joined) {
    REQUIRE(tickets.open_ticket({"REQ-INV-1", kPhoneNumberId, "agent-4", std::string("Order 1042"), kT0 - 600}).ok());
    GroupCreated created;
    created.context.timestamp = kT0 - 500;
    created.group_id = kGroup;
    created.request_id = "REQ-INV-1";
    created.subject = "Order 1042";
    created.invite_link = std::move(link);
    REQUIRE(tickets.apply(WebhookEvent{created}).ok());
    if (!joined.empty()) add(joined, kT0 - 400);
  }
  void add(const std::vector<std::string>& phones, std::int64_t ts) {
    ParticipantsAdded added;
    added.context.timestamp = ts;
    added.group_id = kGroup;
    added.reason = "invite_link";
    for (const auto& p : phones) {
      Participant who;
      who.wa_id = p;
      added.added_participants.push_back(who);
    }
    REQUIRE(tickets.apply(WebhookEvent{added}).ok());
  }
  Ticket ticket() {
    auto t = store.load(kTicket);
    REQUIRE(t.ok());
    REQUIRE(t->has_value());
    return (*t)->ticket;
  }
};

InviteTemplate positional_template() {
  InviteTemplate t;
  t.name = "order_group_invite";
  t.language = "en_US";
  t.link_parameter_index = 2;
  t.other_parameters = {"Ana", "Order 1042"};
  t.link_as_group_id = false;  // the link as text
  return t;
}

DirectMessageStatus direct_status(const std::string& wamid, const std::string& status, std::int64_t ts) {
  DirectMessageStatus s;
  s.context.field = "messages";
  s.context.timestamp = ts;
  s.id = wamid;
  s.status = status;
  s.delivery_status = parse_delivery_status(status);
  s.recipient_id = "16505550101";
  return s;
}

void check_refused(const Result<std::vector<InviteOutcome>>& r, const std::string& field, const std::string& limit) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::invalid_argument);
  CHECK(r.error().field == field);
  CHECK(r.error().limit == limit);
}

}  // namespace

TEST_CASE("send_invites sends a positional template with the link at its index", "[tickets][invites]") {
  Fixture f;
  f.create_group(kLink, {"447700900001"});
  f.transport->enqueue(200, sent_ok("wamid.INV-A"));
  f.transport->enqueue(200, sent_ok("wamid.INV-B"));

  auto r = send_invites(f.client, f.tickets, kTicket, positional_template(), {"+1 (650) 555-0101", "4915112345678"});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 2);
  CHECK((*r)[0].phone == "16505550101");
  CHECK((*r)[0].message_id == std::optional<std::string>("wamid.INV-A"));
  CHECK_FALSE((*r)[0].error);
  CHECK((*r)[1].phone == "4915112345678");
  CHECK((*r)[1].message_id == std::optional<std::string>("wamid.INV-B"));

  auto requests = f.transport->requests();
  REQUIRE(requests.size() == 2);
  const std::vector<std::string> to = {"16505550101", "4915112345678"};
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(requests[i].method == HttpMethod::post);
    CHECK(requests[i].url == kMessagesUrl);
    CHECK(json_equal(requests[i].body, R"({"messaging_product":"whatsapp","to":")" + to[i] +
                                           R"(","type":"template","template":{"name":"order_group_invite",
        "language":{"policy":"deterministic","code":"en_US"},"components":[{"type":"body","parameters":[
        {"type":"text","text":"Ana"},{"type":"text","text":")" +
                                           kLink + R"("},{"type":"text","text":"Order 1042"}]}]}})"));
  }

  Ticket t = f.ticket();
  REQUIRE(t.invites.size() == 2);
  CHECK(t.invites[0].phone == "16505550101");
  CHECK(t.invites[0].sent_at == kT0);
  CHECK(t.invites[0].message_id == std::optional<std::string>("wamid.INV-A"));
  CHECK(t.invites[0].status == DeliveryStatus::unknown);
  CHECK_FALSE(t.invites[0].error);
  CHECK(t.invites[1].message_id == std::optional<std::string>("wamid.INV-B"));
  CHECK(t.seats_taken() == 4);  // the business, one member, two outstanding invites
}

TEST_CASE("send_invites puts the link first, last, or alone", "[tickets][invites]") {
  Fixture f;
  f.create_group(kLink, {});
  auto t = positional_template();
  t.link_parameter_index = 1;
  f.transport->enqueue(200, sent_ok("wamid.1"));
  REQUIRE(send_invites(f.client, f.tickets, kTicket, t, {"16505550101"}).ok());
  CHECK(json_equal(f.transport->last_request().body, R"({"messaging_product":"whatsapp",
      "to":"16505550101","type":"template","template":{"name":"order_group_invite","language":{"policy":"deterministic","code":"en_US"},
      "components":[{"type":"body","parameters":[{"type":"text","text":")" +
                                                         kLink + R"("},
      {"type":"text","text":"Ana"},{"type":"text","text":"Order 1042"}]}]}})"));

  t.link_parameter_index = 3;
  f.transport->enqueue(200, sent_ok("wamid.2"));
  REQUIRE(send_invites(f.client, f.tickets, kTicket, t, {"16505550102"}).ok());
  CHECK(json_equal(f.transport->last_request().body, R"({"messaging_product":"whatsapp",
      "to":"16505550102","type":"template","template":{"name":"order_group_invite","language":{"policy":"deterministic","code":"en_US"},
      "components":[{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"Order 1042"},
      {"type":"text","text":")" + kLink + R"("}]}]}})"));

  InviteTemplate plain;
  plain.name = "join_us";
  plain.link_as_group_id = false;
  f.transport->enqueue(200, sent_ok("wamid.3"));
  REQUIRE(send_invites(f.client, f.tickets, kTicket, plain, {"16505550103"}).ok());
  CHECK(json_equal(f.transport->last_request().body, R"({"messaging_product":"whatsapp",
      "to":"16505550103","type":"template","template":{"name":"join_us","language":{"policy":"deterministic","code":"en_US"},
      "components":[{"type":"body","parameters":[{"type":"text","text":")" +
                                                         kLink + R"("}]}]}})"));
}

TEST_CASE("send_invites names every parameter of a named-parameter template", "[tickets][invites]") {
  Fixture f;
  f.create_group(kLink, {});
  InviteTemplate t;
  t.name = "named_group_invite";
  t.language = "pt_BR";
  t.link_parameter_name = "group_link";
  t.other_named_parameters = {{"customer_name", "Ana"}, {"order", "1042"}};
  t.link_as_group_id = false;
  f.transport->enqueue(200, sent_ok("wamid.N1"));
  auto r = send_invites(f.client, f.tickets, kTicket, t, {"5511987654321"});
  REQUIRE(r.ok());
  CHECK(json_equal(f.transport->last_request().body, R"({"messaging_product":"whatsapp",
      "to":"5511987654321","type":"template","template":{"name":"named_group_invite","language":{"policy":"deterministic","code":"pt_BR"},
      "components":[{"type":"body","parameters":[
        {"type":"text","parameter_name":"group_link","text":")" +
                                                         kLink + R"("},
        {"type":"text","parameter_name":"customer_name","text":"Ana"},
        {"type":"text","parameter_name":"order","text":"1042"}]}]}})"));
}

TEST_CASE("send_invites with link_as_group_id lets Meta fill in the link and fetches nothing", "[tickets][invites]") {
  Fixture f;
  f.create_group(std::nullopt, {});  // no link on the ticket: still no GET
  InviteTemplate t;
  t.name = "group_invite_link";
  t.language = "en";
  t.link_as_group_id = true;
  f.transport->enqueue(200, sent_ok("wamid.G1"));
  REQUIRE(send_invites(f.client, f.tickets, kTicket, t, {"16505550101"}).ok());
  REQUIRE(f.transport->request_count() == 1);
  CHECK(json_equal(f.transport->last_request().body, R"({"messaging_product":"whatsapp",
      "to":"16505550101","type":"template","template":{"name":"group_invite_link","language":{"policy":"deterministic","code":"en"},
      "components":[{"type":"body","parameters":[{"type":"group_id","group_id":")" +
                                                         kGroup + R"("}]}]}})"));
}

TEST_CASE("send_invites fetches the invite link when the ticket has none", "[tickets][invites]") {
  Fixture f;
  f.create_group(std::nullopt, {"447700900001"});
  f.transport->enqueue(200, R"({"messaging_product":"whatsapp","invite_link":"https://chat.whatsapp.com/Fetched9"})");
  f.transport->enqueue(200, sent_ok("wamid.F1"));
  InviteTemplate t;
  t.name = "join_us";
  t.link_as_group_id = false;
  auto r = send_invites(f.client, f.tickets, kTicket, t, {"16505550101"});
  REQUIRE(r.ok());
  auto requests = f.transport->requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].method == HttpMethod::get);
  CHECK(requests[0].url == "https://graph.facebook.com/v26.0/" + kGroup + "/invite_link");
  CHECK(requests[1].url == kMessagesUrl);
  CHECK(json_equal(requests[1].body, R"({"messaging_product":"whatsapp",
      "to":"16505550101","type":"template","template":{"name":"join_us","language":{"policy":"deterministic","code":"en_US"},
      "components":[{"type":"body","parameters":[{"type":"text","text":"https://chat.whatsapp.com/Fetched9"}]}]}})"));
}

TEST_CASE("send_invites returns the invite-link failure before sending any invite", "[tickets][invites]") {
  Fixture f;
  f.create_group(std::nullopt, {});
  f.transport->enqueue(400, R"({"error":{"message":"(#131041) Group unknown","type":"OAuthException","code":131041,
                                "fbtrace_id":"AbCdEf"}})");
  InviteTemplate t;
  t.name = "join_us";
  t.link_as_group_id = false;
  auto r = send_invites(f.client, f.tickets, kTicket, t, {"16505550101", "16505550102"});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::graph_api);
  CHECK(r.error().graph_code() == 131041);
  CHECK(f.transport->request_count() == 1);
  CHECK(f.ticket().invites.empty());
}

TEST_CASE("send_invites refuses more than 8 seats before any request", "[tickets][invites]") {
  Fixture f;
  // The business and six members: 7 seats.
  f.create_group(kLink, {"447700900001", "447700900002", "447700900003", "447700900004", "447700900005",
                         "447700900006"});
  REQUIRE(f.ticket().seats_taken() == 7);
  auto r = send_invites(f.client, f.tickets, kTicket, positional_template(), {"16505550101", "16505550102"});
  check_refused(r, "invitees", "at most 8 participants including the business");
  CHECK(f.transport->request_count() == 0);
  CHECK(f.ticket().invites.empty());

  // One more fits exactly; after it the group is full.
  f.transport->enqueue(200, sent_ok("wamid.8TH"));
  REQUIRE(send_invites(f.client, f.tickets, kTicket, positional_template(), {"16505550101"}).ok());
  CHECK(f.ticket().seats_taken() == 8);
  check_refused(send_invites(f.client, f.tickets, kTicket, positional_template(), {"16505550102"}), "invitees",
                "at most 8 participants including the business");
  CHECK(f.transport->request_count() == 1);
}

TEST_CASE("a failed invite frees its seat; a member who joined stops counting as an invite", "[tickets][invites]") {
  Fixture f;
  f.create_group(kLink, {"447700900001", "447700900002", "447700900003", "447700900004", "447700900005"});
  Invite failed;
  failed.phone = "16505550109";
  failed.sent_at = kT0 - 50;
  failed.status = DeliveryStatus::failed;
  failed.error = "graph_api: undeliverable";
  REQUIRE(f.tickets.record_invite(kTicket, failed).ok());
  Invite joined_later;
  joined_later.phone = "447700900005";  // already a member
  joined_later.sent_at = kT0 - 60;
  joined_later.message_id = "wamid.OLD";
  REQUIRE(f.tickets.record_invite(kTicket, joined_later).ok());
  REQUIRE(f.ticket().seats_taken() == 6);

  f.transport->enqueue(200, sent_ok("wamid.A"));
  f.transport->enqueue(200, sent_ok("wamid.B"));
  auto r = send_invites(f.client, f.tickets, kTicket, positional_template(), {"16505550109", "16505550110"});
  REQUIRE(r.ok());
  CHECK(f.transport->request_count() == 2);
  CHECK(f.ticket().seats_taken() == 8);
}

TEST_CASE("send_invites refuses duplicates, members and outstanding invites", "[tickets][invites]") {
  Fixture f;
  f.create_group(kLink, {"447700900001"});
  JoinRequestCreated jr;
  jr.context.timestamp = kT0 - 300;
  jr.group_id = kGroup;
  jr.join_request_id = "JR-1";
  jr.requester.wa_id = "447700900002";
  REQUIRE(f.tickets.apply(WebhookEvent{jr}).ok());
  f.add({"447700900003", "447700900004"}, kT0 - 290);
  ParticipantsRemoved removed;
  removed.context.timestamp = kT0 - 200;
  removed.group_id = kGroup;
  removed.request_id = "REQ-RM";
  removed.initiated_by = RemovalInitiator::business;
  Participant gone;
  gone.input = "447700900003";
  gone.wa_id = "447700900003";
  removed.removed_participants.push_back(gone);
  REQUIRE(f.tickets.apply(WebhookEvent{removed}).ok());
  ParticipantsRemoved left = removed;
  left.request_id.reset();
  left.initiated_by = RemovalInitiator::participant;
  left.removed_participants[0].input.reset();
  left.removed_participants[0].wa_id = "447700900004";
  REQUIRE(f.tickets.apply(WebhookEvent{left}).ok());
  Invite outstanding;
  outstanding.phone = "16505550199";
  outstanding.sent_at = kT0 - 100;
  outstanding.message_id = "wamid.PENDING";
  REQUIRE(f.tickets.record_invite(kTicket, outstanding).ok());
  const auto t = positional_template();

  SECTION("two spellings of one number") {
    check_refused(send_invites(f.client, f.tickets, kTicket, t, {"16505550101", "+1 650-555-0101"}), "invitees[1]",
                  "each number once");
  }
  SECTION("a joined member, in another spelling") {
    check_refused(send_invites(f.client, f.tickets, kTicket, t, {"16505550101", "+44 7700 900001"}), "invitees[1]",
                  "not already a member or invited");
  }
  SECTION("a pending join request") {
    check_refused(send_invites(f.client, f.tickets, kTicket, t, {"447700900002"}), "invitees[0]",
                  "not already a member or invited");
  }
  SECTION("an outstanding invite") {
    check_refused(send_invites(f.client, f.tickets, kTicket, t, {"+1 (650) 555-0199"}), "invitees[0]",
                  "not already a member or invited");
  }
  SECTION("a removed participant, whom the link no longer admits") {
    auto r = send_invites(f.client, f.tickets, kTicket, t, {"447700900003"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "invitees[0]");
    CHECK(r.error().limit.find("removed") != std::string::npos);
  }
  SECTION("invalid numbers and an empty list") {
    check_refused(send_invites(f.client, f.tickets, kTicket, t, {}), "invitees", "at least one phone number");
    for (const std::string bad : {"", "   ", "+", "US.13491208655302741918", "16505550101x", "1650;5550101"}) {
      auto r = send_invites(f.client, f.tickets, kTicket, t, {"16505550111", bad});
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == ErrorCode::invalid_argument);
      CHECK(r.error().field == "invitees[1]");
    }
  }
  SECTION("someone who left may be invited again") {
    f.transport->enqueue(200, sent_ok("wamid.BACK"));
    REQUIRE(send_invites(f.client, f.tickets, kTicket, t, {"447700900004"}).ok());
    CHECK(f.transport->request_count() == 1);
    CHECK(f.ticket().invites.size() == 2);
    return;
  }
  // Every refusal above happened before any request and recorded nothing.
  CHECK(f.transport->request_count() == 0);
  CHECK(f.ticket().invites.size() == 1);
}

TEST_CASE("send_invites refuses a ticket without a created, open group", "[tickets][invites]") {
  Fixture f;
  const auto t = positional_template();
  check_refused(send_invites(f.client, f.tickets, "T-NOPE", t, {"16505550101"}), "ticket_id", "an existing ticket");

  REQUIRE(f.tickets.open_ticket({"REQ-INV-1", kPhoneNumberId, "agent-4", std::string("Order 1042"), kT0}).ok());
  check_refused(send_invites(f.client, f.tickets, kTicket, t, {"16505550101"}), "ticket_id", "a created, open group");

  GroupCreateFailed failed;
  failed.context.timestamp = kT0;
  failed.request_id = "REQ-INV-2";
  ItemError err;
  err.code = 131211;
  err.title = "Group creation limit";
  failed.errors.push_back(err);
  REQUIRE(f.tickets.apply(WebhookEvent{failed}).ok());
  check_refused(send_invites(f.client, f.tickets, "T-REQ-INV-2", t, {"16505550101"}), "ticket_id",
                "a created, open group");

  // Events of a group whose creation this store never saw: an unlinked fragment.
  GroupMessageReceived m;
  m.context.timestamp = kT0;
  m.id = "wamid.IN-1";
  m.type = "text";
  m.group_id = "GRP-ORPHAN";
  m.from = "447700900001";
  m.text = "hello";
  REQUIRE(f.tickets.apply(WebhookEvent{m}).ok());
  check_refused(send_invites(f.client, f.tickets, "G-GRP-ORPHAN", t, {"16505550101"}), "ticket_id",
                "a created, open group");

  GroupCreated created;
  created.context.timestamp = kT0;
  created.group_id = kGroup;
  created.request_id = "REQ-INV-1";
  created.invite_link = kLink;
  REQUIRE(f.tickets.apply(WebhookEvent{created}).ok());
  REQUIRE(f.tickets.close(kTicket).ok());
  REQUIRE(f.ticket().state == TicketState::closed);
  check_refused(send_invites(f.client, f.tickets, kTicket, t, {"16505550101"}), "ticket_id", "a created, open group");
  CHECK(f.transport->request_count() == 0);
}

TEST_CASE("send_invites refuses a link position outside the template", "[tickets][invites]") {
  Fixture f;
  f.create_group(kLink, {});
  auto t = positional_template();  // two other parameters: positions 1-3
  for (int bad : {0, -1, 4}) {
    t.link_parameter_index = bad;
    check_refused(send_invites(f.client, f.tickets, kTicket, t, {"16505550101"}), "invite_template.link_parameter_index",
                  "1 to 3 (the other parameters plus the link)");
  }
  t.link_parameter_index = 1;
  t.link_parameter_name = "link";  // named, with positional values it cannot name
  auto r = send_invites(f.client, f.tickets, kTicket, t, {"16505550101"});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().field == "invite_template.other_parameters");
  t.name.clear();
  t.other_parameters.clear();
  r = send_invites(f.client, f.tickets, kTicket, t, {"16505550101"});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().field == "template.name");
  CHECK(f.transport->request_count() == 0);
}

TEST_CASE("a failed send is recorded and the others go on; 1:1 statuses then update the invites",
          "[tickets][invites]") {
  Fixture f;
  f.create_group(kLink, {"447700900001"});
  f.transport->enqueue(200, sent_ok("wamid.P1"));
  f.transport->enqueue(400, R"({"error":{"message":"(#132001) Template name does not exist in the translation",
      "type":"OAuthException","code":132001,"fbtrace_id":"Xy12"}})");
  f.transport->enqueue(200, sent_ok("wamid.P3"));

  auto r = send_invites(f.client, f.tickets, kTicket, positional_template(),
                        {"16505550101", "16505550102", "16505550103"});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  CHECK((*r)[0].message_id == std::optional<std::string>("wamid.P1"));
  CHECK_FALSE((*r)[1].message_id);
  REQUIRE((*r)[1].error);
  CHECK((*r)[1].error->graph_code() == 132001);
  CHECK((*r)[2].message_id == std::optional<std::string>("wamid.P3"));
  CHECK(f.transport->request_count() == 3);  // a 400 is not retried

  Ticket t = f.ticket();
  REQUIRE(t.invites.size() == 3);
  const Invite& bad = t.invites[1];
  CHECK(bad.phone == "16505550102");
  CHECK_FALSE(bad.message_id);
  CHECK(bad.status == DeliveryStatus::failed);
  REQUIRE(bad.error);
  CHECK(bad.error->find("132001") != std::string::npos);
  CHECK(bad.error->find(kToken) == std::string::npos);
  CHECK(t.seats_taken() == 4);  // business, member, two outstanding invites

  // The 1:1 status webhooks of the invites.
  auto applied = f.tickets.apply(std::vector<WebhookEvent>{direct_status("wamid.P1", "sent", kT0 + 1),
                                                           direct_status("wamid.P1", "delivered", kT0 + 2),
                                                           direct_status("wamid.P1", "read", kT0 + 30)});
  REQUIRE(applied.ok());
  bool invite_updated = false;
  for (const auto& c : applied->changes)
    if (c.kind == TicketChangeKind::invite_updated && c.ticket_id == kTicket) invite_updated = true;
  CHECK(invite_updated);
  CHECK(f.ticket().invites[0].status == DeliveryStatus::read);

  // A late "delivered" does not move it back; a repeat is ignored.
  REQUIRE(f.tickets.apply(WebhookEvent{direct_status("wamid.P1", "delivered", kT0 + 2)}).ok());
  CHECK(f.ticket().invites[0].status == DeliveryStatus::read);

  auto failed = direct_status("wamid.P3", "failed", kT0 + 5);
  ItemError e;
  e.code = 131026;
  e.title = "Message undeliverable";
  failed.errors.push_back(e);
  REQUIRE(f.tickets.apply(WebhookEvent{failed}).ok());
  t = f.ticket();
  CHECK(t.invites[2].status == DeliveryStatus::failed);
  REQUIRE(t.invites[2].error);
  CHECK(t.invites[2].error->find("131026") != std::string::npos);
  CHECK(t.seats_taken() == 3);  // the failed delivery frees its seat

  // 1:1 traffic unrelated to any invite touches no ticket.
  auto unrelated = f.tickets.apply(WebhookEvent{direct_status("wamid.ELSEWHERE", "read", kT0 + 9)});
  REQUIRE(unrelated.ok());
  CHECK_FALSE(unrelated->changed_anything());
  CHECK(f.ticket() == t);

  // Both failed invitees may be invited again, later.
  f.now->store(kT0 + 60);
  f.transport->enqueue(200, sent_ok("wamid.P2b"));
  f.transport->enqueue(200, sent_ok("wamid.P3b"));
  REQUIRE(send_invites(f.client, f.tickets, kTicket, positional_template(), {"16505550102", "16505550103"}).ok());
  t = f.ticket();
  CHECK(t.seats_taken() == 5);
  bool retried = false;
  for (const Invite& i : t.invites)
    if (i.phone == "16505550102" && i.message_id == std::optional<std::string>("wamid.P2b")) retried = i.sent_at == kT0 + 60;
  CHECK(retried);
}

TEST_CASE("a store failure while recording stops the round and says what was sent", "[tickets][invites]") {
  Fixture f;
  f.create_group(kLink, {});
  f.transport->enqueue(200, sent_ok("wamid.S1"));
  f.transport->enqueue(200, sent_ok("wamid.S2"));
  f.store.fail_transactions = 1;
  auto r = send_invites(f.client, f.tickets, kTicket, positional_template(), {"16505550101", "16505550102"});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::storage);
  CHECK(r.error().message.find("invitees[0] 16505550101 was sent as wamid.S1") != std::string::npos);
  CHECK(r.error().message.find("1 later invitee(s) were not sent") != std::string::npos);
  CHECK(f.transport->request_count() == 1);
  CHECK(f.ticket().invites.empty());

  // What the host does: record the sent one, send to the rest.
  Invite sent;
  sent.phone = "16505550101";
  sent.sent_at = kT0;
  sent.message_id = "wamid.S1";
  REQUIRE(f.tickets.record_invite(kTicket, sent).ok());
  check_refused(send_invites(f.client, f.tickets, kTicket, positional_template(), {"16505550101"}), "invitees[0]",
                "not already a member or invited");
  REQUIRE(send_invites(f.client, f.tickets, kTicket, positional_template(), {"16505550102"}).ok());
  CHECK(f.ticket().invites.size() == 2);
}
