// WebhookDispatcher: which handlers run for which event, in what order, and what dispatch counts.
// Events are built directly, so these tests do not depend on the parser.

#include <any>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "wagroups/webhook.hpp"

using namespace wagroups;

namespace {

WebhookContext context_for(std::string field, std::size_t item = 0) {
  WebhookContext c;
  c.waba_id = "WABA-77";
  c.phone_number_id = "PN-5";
  c.field = std::move(field);
  c.item_index = item;
  return c;
}

GroupCreated created(std::string group_id) {
  GroupCreated e;
  e.context = context_for("group_lifecycle_update");
  e.group_id = std::move(group_id);
  return e;
}

GroupDeleted deleted(std::string group_id) {
  GroupDeleted e;
  e.context = context_for("group_lifecycle_update");
  e.group_id = std::move(group_id);
  return e;
}

UnknownEvent unknown(std::string field) {
  UnknownEvent e;
  e.context = context_for(std::move(field));
  return e;
}

CustomEvent custom(std::any payload, std::string field = "crm_sync", std::size_t item = 0) {
  CustomEvent e;
  e.context = context_for(std::move(field), item);
  e.payload = std::move(payload);
  return e;
}

// Two host payload types for custom routing.
struct TicketUpdate {
  int ticket = 0;
};
struct AgentNote {
  std::string text;
};

}  // namespace

TEST_CASE("dispatch runs the handlers of the event's own type only", "[webhook][dispatcher]") {
  std::vector<std::string> seen;
  WebhookDispatcher d;
  d.on<GroupCreated>([&](const GroupCreated& e) { seen.push_back("created:" + e.group_id); })
      .on<GroupDeleted>([&](const GroupDeleted& e) { seen.push_back("deleted:" + e.group_id); });

  CHECK(d.dispatch(WebhookEvent(created("G1"))) == 1);
  CHECK(d.dispatch(WebhookEvent(deleted("G2"))) == 1);
  CHECK(d.dispatch(WebhookEvent(GroupSuspended{})) == 0);  // no handler, no fallback
  CHECK(seen == std::vector<std::string>{"created:G1", "deleted:G2"});
}

TEST_CASE("several handlers of one type all run, in registration order, and are counted", "[webhook][dispatcher]") {
  std::vector<int> order;
  WebhookDispatcher d;
  d.on<GroupCreated>([&](const GroupCreated&) { order.push_back(1); });
  d.on<GroupCreated>([&](const GroupCreated&) { order.push_back(2); });
  d.on<GroupCreated>([&](const GroupCreated&) { order.push_back(3); });
  CHECK(d.dispatch(WebhookEvent(created("G1"))) == 3);
  CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("event types sharing a base struct are routed apart", "[webhook][dispatcher]") {
  // GroupMessageReceived and DirectMessageReceived both derive from InboundMessage.
  int group = 0, direct = 0, group_status = 0, direct_status = 0;
  WebhookDispatcher d;
  d.on<GroupMessageReceived>([&](const GroupMessageReceived& m) {
     CHECK(m.id == "wamid.group");
     ++group;
   })
      .on<DirectMessageReceived>([&](const DirectMessageReceived& m) {
        CHECK(m.id == "wamid.direct");
        ++direct;
      })
      .on<GroupMessageStatus>([&](const GroupMessageStatus&) { ++group_status; })
      .on<DirectMessageStatus>([&](const DirectMessageStatus&) { ++direct_status; });

  GroupMessageReceived gm;
  gm.id = "wamid.group";
  DirectMessageReceived dm;
  dm.id = "wamid.direct";
  CHECK(d.dispatch(WebhookEvent(gm)) == 1);
  CHECK(d.dispatch(WebhookEvent(dm)) == 1);
  CHECK(d.dispatch(WebhookEvent(DirectMessageStatus{})) == 1);
  CHECK(group == 1);
  CHECK(direct == 1);
  CHECK(group_status == 0);
  CHECK(direct_status == 1);
}

TEST_CASE("on_any runs first for every event and is not counted", "[webhook][dispatcher]") {
  std::vector<std::string> log;
  WebhookDispatcher d;
  d.on<GroupCreated>([&](const GroupCreated&) { log.push_back("specific"); });
  d.on_any([&](const WebhookEvent& e) { log.push_back(std::string("any1:") + (std::holds_alternative<GroupCreated>(e) ? "c" : "x")); });
  d.on_any([&](const WebhookEvent&) { log.push_back("any2"); });
  d.otherwise([&](const WebhookEvent&) { log.push_back("otherwise"); });

  CHECK(d.dispatch(WebhookEvent(created("G1"))) == 1);
  CHECK(log == std::vector<std::string>{"any1:c", "any2", "specific"});

  log.clear();
  CHECK(d.dispatch(WebhookEvent(deleted("G1"))) == 1);  // the fallback is a specific handler here
  CHECK(log == std::vector<std::string>{"any1:x", "any2", "otherwise"});

  // With only on_any handlers, they still run, but nothing specific did.
  WebhookDispatcher only_any;
  int calls = 0;
  only_any.on_any([&](const WebhookEvent&) { ++calls; });
  CHECK(only_any.dispatch(WebhookEvent(created("G1"))) == 0);
  CHECK(calls == 1);
}

TEST_CASE("unknown events route by field, and the UnknownEvent type handler is more specific", "[webhook][dispatcher]") {
  std::vector<std::string> log;
  WebhookDispatcher by_field;
  by_field.on_unknown_field("account_update", [&](const UnknownEvent& e) { log.push_back("account:" + e.context.field); })
      .on_unknown_field("calls", [&](const UnknownEvent&) { log.push_back("calls"); })
      .on_unknown_field("calls", [&](const UnknownEvent&) { log.push_back("calls2"); })
      .otherwise([&](const WebhookEvent& e) { log.push_back("otherwise:" + std::get<UnknownEvent>(e).context.field); });

  CHECK(by_field.dispatch(WebhookEvent(unknown("account_update"))) == 1);
  CHECK(by_field.dispatch(WebhookEvent(unknown("calls"))) == 2);
  CHECK(by_field.dispatch(WebhookEvent(unknown("Account_Update"))) == 1);  // fields match exactly
  CHECK(log == std::vector<std::string>{"account:account_update", "calls", "calls2", "otherwise:Account_Update"});

  log.clear();
  by_field.on<UnknownEvent>([&](const UnknownEvent& e) { log.push_back("typed:" + e.context.field); });
  CHECK(by_field.dispatch(WebhookEvent(unknown("account_update"))) == 1);
  CHECK(log == std::vector<std::string>{"typed:account_update"});
}

TEST_CASE("custom events route by payload type", "[webhook][dispatcher]") {
  std::vector<std::string> log;
  WebhookDispatcher d;
  d.on_custom<TicketUpdate>([&](const TicketUpdate& t, const WebhookContext& c) {
     log.push_back("ticket:" + std::to_string(t.ticket) + "@" + c.field + "#" + std::to_string(c.item_index));
   })
      .on_custom<AgentNote>([&](const AgentNote& n, const WebhookContext&) { log.push_back("note:" + n.text); })
      .on_custom<AgentNote>([&](const AgentNote&, const WebhookContext&) { log.push_back("note2"); })
      .on_unknown_field("crm_sync", [&](const UnknownEvent&) { log.push_back("unknown-field"); })
      .otherwise([&](const WebhookEvent& e) {
        CHECK(std::holds_alternative<CustomEvent>(e));
        log.push_back("otherwise");
      });

  CHECK(d.dispatch(WebhookEvent(custom(TicketUpdate{1042}, "crm_sync", 3))) == 1);
  CHECK(d.dispatch(WebhookEvent(custom(AgentNote{"call back"}))) == 2);
  CHECK(d.dispatch(WebhookEvent(custom(42))) == 1);   // int: no handler for it -> fallback
  CHECK(d.dispatch(WebhookEvent(custom(std::any{}))) == 1);  // empty payload -> fallback
  CHECK(log == std::vector<std::string>{"ticket:1042@crm_sync#3", "note:call back", "note2", "otherwise", "otherwise"});

  // A handler for the CustomEvent type itself takes every custom event.
  log.clear();
  d.on<CustomEvent>([&](const CustomEvent& e) { log.push_back(std::string("typed:") + (e.payload.has_value() ? "v" : "e")); });
  CHECK(d.dispatch(WebhookEvent(custom(TicketUpdate{7}))) == 1);
  CHECK(log == std::vector<std::string>{"typed:v"});
}

TEST_CASE("otherwise takes every event no other handler took, and only those", "[webhook][dispatcher]") {
  std::vector<std::size_t> fallback;  // variant indexes of the events the fallback saw
  int typed = 0;
  WebhookDispatcher d;
  d.on<GroupCreated>([&](const GroupCreated&) { ++typed; });
  d.otherwise([&](const WebhookEvent& e) { fallback.push_back(e.index()); });

  const std::vector<WebhookEvent> events = {WebhookEvent(created("G1")), WebhookEvent(deleted("G1")),
                                            WebhookEvent(ParticipantsAdded{}), WebhookEvent(unknown("calls")),
                                            WebhookEvent(custom(TicketUpdate{1}))};
  std::size_t total = 0;
  for (const auto& e : events) total += d.dispatch(e);
  CHECK(total == 5);  // one typed handler, four fallbacks
  CHECK(typed == 1);
  CHECK(fallback == std::vector<std::size_t>{events[1].index(), events[2].index(), events[3].index(),
                                             events[4].index()});

  // Without a fallback, nothing runs and nothing is counted.
  WebhookDispatcher empty;
  for (const auto& e : events) CHECK(empty.dispatch(e) == 0);
}

TEST_CASE("dispatch(batch) handles the events in order and sums the counts", "[webhook][dispatcher]") {
  std::vector<std::string> log;
  WebhookDispatcher d;
  d.on_any([&](const WebhookEvent&) { log.push_back("any"); });
  d.on<GroupCreated>([&](const GroupCreated& e) { log.push_back("created:" + e.group_id); });
  d.on<GroupCreated>([&](const GroupCreated& e) { log.push_back("created2:" + e.group_id); });
  d.on<GroupDeleted>([&](const GroupDeleted& e) { log.push_back("deleted:" + e.group_id); });
  d.on_custom<AgentNote>([&](const AgentNote& n, const WebhookContext&) { log.push_back("note:" + n.text); });

  WebhookBatch batch;
  batch.object = "whatsapp_business_account";
  batch.events = {WebhookEvent(deleted("G3")), WebhookEvent(created("G1")), WebhookEvent(GroupSuspended{}),
                  WebhookEvent(custom(AgentNote{"hi"})), WebhookEvent(deleted("G2"))};

  CHECK(d.dispatch(batch) == 5);  // 1 + 2 + 0 + 1 + 1
  CHECK(log == std::vector<std::string>{"any", "deleted:G3", "any", "created:G1", "created2:G1", "any", "any",
                                        "note:hi", "any", "deleted:G2"});

  CHECK(d.dispatch(WebhookBatch{}) == 0);
}

TEST_CASE("a const dispatcher can be shared by threads once registered", "[webhook][dispatcher][concurrent]") {
  std::atomic<int> created_count{0};
  std::atomic<int> any_count{0};
  WebhookDispatcher d;
  d.on<GroupCreated>([&](const GroupCreated&) { ++created_count; });
  d.on_any([&](const WebhookEvent&) { ++any_count; });
  const WebhookDispatcher& shared = d;

  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        shared.dispatch(WebhookEvent(created("G" + std::to_string(i))));
        shared.dispatch(WebhookEvent(deleted("G" + std::to_string(i))));
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(created_count == 2000);
  CHECK(any_count == 4000);
}
