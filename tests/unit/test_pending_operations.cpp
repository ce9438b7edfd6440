// PendingOperations: correlating request ids with their outcome webhooks, early arrivals, expiry on
// an injected clock, and waiting across threads (these few use real time, with wide margins).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "wagroups/webhook/pending_operations.hpp"

using namespace wagroups;
using namespace std::chrono_literals;

namespace {

using TimePoint = std::chrono::system_clock::time_point;

/// A clock the test moves by hand; safe to read from several threads.
struct FakeClock {
  std::shared_ptr<std::atomic<std::int64_t>> ms = std::make_shared<std::atomic<std::int64_t>>(1'790'000'000'000);
  Clock clock() const {
    auto p = ms;
    return [p] { return TimePoint(std::chrono::milliseconds(p->load())); };
  }
  TimePoint now() const { return TimePoint(std::chrono::milliseconds(ms->load())); }
  void advance(std::chrono::milliseconds d) { ms->fetch_add(d.count()); }
};

ItemError item_error(int code, std::string title) {
  ItemError e;
  e.code = code;
  e.title = std::move(title);
  return e;
}

WebhookContext lifecycle() {
  WebhookContext c;
  c.waba_id = "WABA-9";
  c.field = "group_lifecycle_update";
  return c;
}

GroupCreated created(std::string request_id, std::string group_id) {
  GroupCreated e;
  e.context = lifecycle();
  e.request_id = std::move(request_id);
  e.group_id = std::move(group_id);
  e.subject = "Case 1042";
  return e;
}

GroupCreateFailed create_failed(std::string request_id, std::vector<ItemError> errors) {
  GroupCreateFailed e;
  e.context = lifecycle();
  e.request_id = std::move(request_id);
  e.errors = std::move(errors);
  return e;
}

GroupDeleted deleted(std::string request_id, std::string group_id) {
  GroupDeleted e;
  e.context = lifecycle();
  e.request_id = std::move(request_id);
  e.group_id = std::move(group_id);
  return e;
}

GroupDeleteFailed delete_failed(std::string request_id, std::string group_id, std::vector<ItemError> errors) {
  GroupDeleteFailed e;
  e.context = lifecycle();
  e.request_id = std::move(request_id);
  e.group_id = std::move(group_id);
  e.errors = std::move(errors);
  return e;
}

SettingOutcome setting(std::optional<bool> ok, std::vector<ItemError> errors = {}) {
  SettingOutcome s;
  s.text = "New subject";
  s.update_successful = ok;
  s.errors = std::move(errors);
  return s;
}

GroupSettingsUpdated settings(std::string request_id, std::string group_id) {
  GroupSettingsUpdated e;
  e.context.field = "group_settings_update";
  e.request_id = std::move(request_id);
  e.group_id = std::move(group_id);
  return e;
}

ParticipantsRemoved removed(std::optional<std::string> request_id, std::string group_id) {
  ParticipantsRemoved e;
  e.context.field = "group_participants_update";
  e.request_id = std::move(request_id);
  e.group_id = std::move(group_id);
  e.initiated_by = e.request_id ? RemovalInitiator::business : RemovalInitiator::participant;
  Participant p;
  p.wa_id = "15550001111";
  e.removed_participants.push_back(p);
  return e;
}

FailedParticipant failed_participant(std::string phone, ItemError error) {
  FailedParticipant f;
  f.participant.wa_id = std::move(phone);
  f.errors.push_back(std::move(error));
  return f;
}

std::vector<int> codes(const std::vector<ItemError>& errors) {
  std::vector<int> out;
  for (const auto& e : errors) out.push_back(e.code);
  return out;
}

}  // namespace

TEST_CASE("operation kinds and states have stable names", "[webhook][pending]") {
  CHECK(std::string(to_string(OperationKind::create_group)) == "create_group");
  CHECK(std::string(to_string(OperationKind::delete_group)) == "delete_group");
  CHECK(std::string(to_string(OperationKind::update_settings)) == "update_settings");
  CHECK(std::string(to_string(OperationKind::remove_participants)) == "remove_participants");
  CHECK(std::string(to_string(OperationState::pending)) == "pending");
  CHECK(std::string(to_string(OperationState::succeeded)) == "succeeded");
  CHECK(std::string(to_string(OperationState::failed)) == "failed");
  CHECK(std::string(to_string(OperationState::expired)) == "expired");
}

TEST_CASE("create: tracked, then resolved by group_create, learning the group id", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  const TimePoint tracked = clock.now();
  REQUIRE(ops.track("req-create-1", OperationKind::create_group));

  auto before = ops.find("req-create-1");
  REQUIRE(before);
  CHECK(before->request_id == "req-create-1");
  CHECK(before->kind == OperationKind::create_group);
  CHECK(before->state == OperationState::pending);
  CHECK_FALSE(before->group_id);
  CHECK_FALSE(before->event);
  CHECK(before->tracked_at == tracked);
  CHECK_FALSE(before->resolved_at);
  CHECK(ops.pending_count() == 1);

  clock.advance(1500ms);
  CHECK(ops.observe(WebhookEvent(created("req-create-1", "120363000000000001"))));
  auto after = ops.find("req-create-1");
  REQUIRE(after);
  CHECK(after->state == OperationState::succeeded);
  CHECK(after->group_id == std::optional<std::string>("120363000000000001"));
  CHECK(after->errors.empty());
  REQUIRE(after->event);
  REQUIRE(std::holds_alternative<GroupCreated>(*after->event));
  CHECK(std::get<GroupCreated>(*after->event).subject == std::optional<std::string>("Case 1042"));
  CHECK(after->tracked_at == tracked);
  CHECK(after->resolved_at == std::optional<TimePoint>(clock.now()));
  CHECK(ops.pending_count() == 0);
}

TEST_CASE("create: group_create with errors fails the operation and keeps the errors", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  REQUIRE(ops.track("req-create-2", OperationKind::create_group));
  CHECK(ops.observe(WebhookEvent(create_failed("req-create-2", {item_error(131211, "Group limit reached")}))));
  auto s = ops.find("req-create-2");
  REQUIRE(s);
  CHECK(s->state == OperationState::failed);
  CHECK(codes(s->errors) == std::vector<int>{131211});
  CHECK(s->errors[0].title == std::optional<std::string>("Group limit reached"));
  CHECK_FALSE(s->group_id);
}

TEST_CASE("delete: group_delete succeeds or fails the operation", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  REQUIRE(ops.track("req-del-ok", OperationKind::delete_group, std::string("G-A")));
  REQUIRE(ops.track("req-del-bad", OperationKind::delete_group, std::string("G-B")));
  CHECK(ops.pending_count() == 2);

  CHECK(ops.observe(WebhookEvent(deleted("req-del-ok", "G-A"))));
  CHECK(ops.observe(WebhookEvent(delete_failed("req-del-bad", "G-B", {item_error(131041, "Group not found")}))));

  auto ok = ops.find("req-del-ok");
  REQUIRE(ok);
  CHECK(ok->state == OperationState::succeeded);
  CHECK(ok->group_id == std::optional<std::string>("G-A"));
  CHECK(ok->errors.empty());
  auto bad = ops.find("req-del-bad");
  REQUIRE(bad);
  CHECK(bad->state == OperationState::failed);
  CHECK(codes(bad->errors) == std::vector<int>{131041});
  CHECK(ops.pending_count() == 0);
}

TEST_CASE("settings: all settings successful succeeds; any failure fails with every error", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  for (const char* id : {"set-ok", "set-partial", "set-flag-only"}) {
    REQUIRE(ops.track(id, OperationKind::update_settings, std::string("G-S")));
  }

  auto ok = settings("set-ok", "G-S");
  ok.group_subject = setting(true);
  ok.group_description = setting(std::nullopt);  // absent flag, no errors: success
  CHECK(ops.observe(WebhookEvent(ok)));

  auto partial = settings("set-partial", "G-S");
  partial.errors = {item_error(131000, "Something went wrong")};
  partial.group_subject = setting(true);
  partial.profile_picture = setting(false, {item_error(131209, "Aspect ratio"), item_error(131210, "Too small")});
  partial.group_description = setting(false, {item_error(100, "Bad description")});
  CHECK(ops.observe(WebhookEvent(partial)));

  auto flag_only = settings("set-flag-only", "G-S");
  flag_only.group_subject = setting(false);  // failed without saying why
  CHECK(ops.observe(WebhookEvent(flag_only)));

  auto s_ok = ops.find("set-ok");
  REQUIRE(s_ok);
  CHECK(s_ok->state == OperationState::succeeded);
  CHECK(s_ok->errors.empty());

  auto s_partial = ops.find("set-partial");
  REQUIRE(s_partial);
  CHECK(s_partial->state == OperationState::failed);
  // Overall first, then subject, description, picture.
  CHECK(codes(s_partial->errors) == std::vector<int>{131000, 100, 131209, 131210});

  auto s_flag = ops.find("set-flag-only");
  REQUIRE(s_flag);
  CHECK(s_flag->state == OperationState::failed);
  CHECK(s_flag->errors.empty());
}

TEST_CASE("remove participants: failed participants or an overall error fail the operation", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  for (const char* id : {"rm-ok", "rm-some", "rm-overall"}) {
    REQUIRE(ops.track(id, OperationKind::remove_participants, std::string("G-R")));
  }

  CHECK(ops.observe(WebhookEvent(removed(std::string("rm-ok"), "G-R"))));

  auto some = removed(std::string("rm-some"), "G-R");
  some.failed_participants = {failed_participant("15550002222", item_error(131212, "Not in group")),
                              failed_participant("15550003333", item_error(131000, "Try later"))};
  CHECK(ops.observe(WebhookEvent(some)));

  auto overall = removed(std::string("rm-overall"), "G-R");
  overall.errors = {item_error(131207, "Group suspended")};
  CHECK(ops.observe(WebhookEvent(overall)));

  CHECK(ops.find("rm-ok")->state == OperationState::succeeded);
  CHECK(ops.find("rm-ok")->errors.empty());
  auto s_some = ops.find("rm-some");
  REQUIRE(s_some);
  CHECK(s_some->state == OperationState::failed);
  CHECK(codes(s_some->errors) == std::vector<int>{131212, 131000});
  auto s_overall = ops.find("rm-overall");
  REQUIRE(s_overall);
  CHECK(s_overall->state == OperationState::failed);
  CHECK(codes(s_overall->errors) == std::vector<int>{131207});
}

TEST_CASE("events without a request id, or that are not outcomes, match nothing and are not kept",
          "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());

  // A participant leaving on their own carries no request id.
  CHECK_FALSE(ops.observe(WebhookEvent(removed(std::nullopt, "G-R"))));
  // An empty request id is no request id.
  CHECK_FALSE(ops.observe(WebhookEvent(created("", "G-E"))));
  // Joins are not operations the business started, even with a request id.
  ParticipantsAdded added;
  added.group_id = "G-R";
  added.request_id = "req-added";
  CHECK_FALSE(ops.observe(WebhookEvent(added)));
  CHECK_FALSE(ops.observe(WebhookEvent(GroupSuspended{})));
  CHECK_FALSE(ops.observe(WebhookEvent(UnknownEvent{})));

  // Nothing was remembered for a later track.
  REQUIRE(ops.track("req-added", OperationKind::remove_participants));
  CHECK(ops.find("req-added")->state == OperationState::pending);
  CHECK_FALSE(ops.track("", OperationKind::create_group));
  CHECK_FALSE(ops.find(""));
  CHECK(ops.pending_count() == 1);
}

TEST_CASE("unknown request ids are not found and do not match", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  REQUIRE(ops.track("req-known", OperationKind::create_group));
  CHECK_FALSE(ops.find("req-unknown"));
  CHECK_FALSE(ops.observe(WebhookEvent(created("req-unknown", "G-U"))));
  CHECK_FALSE(ops.find("req-unknown"));  // an early outcome is not a tracked operation
  CHECK(ops.find("req-known")->state == OperationState::pending);
}

TEST_CASE("a webhook that beats track is adopted by track", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(10min, clock.clock());
  const TimePoint arrived = clock.now();
  CHECK_FALSE(ops.observe(WebhookEvent(created("req-early", "G-EARLY"))));
  CHECK(ops.pending_count() == 0);

  clock.advance(2s);
  REQUIRE(ops.track("req-early", OperationKind::create_group));
  auto s = ops.find("req-early");
  REQUIRE(s);
  CHECK(s->state == OperationState::succeeded);
  CHECK(s->kind == OperationKind::create_group);
  CHECK(s->group_id == std::optional<std::string>("G-EARLY"));
  CHECK(s->resolved_at == std::optional<TimePoint>(arrived));
  CHECK(s->tracked_at == clock.now());
  REQUIRE(s->event);
  CHECK(std::holds_alternative<GroupCreated>(*s->event));
  CHECK(ops.pending_count() == 0);

  // wait finds it resolved at once.
  auto w = ops.wait("req-early", 0ms);
  REQUIRE(w);
  CHECK(w->state == OperationState::succeeded);

  // An early failure is adopted too, errors included.
  CHECK_FALSE(ops.observe(WebhookEvent(delete_failed("req-early-2", "G-X", {item_error(131041, "Group unknown")}))));
  REQUIRE(ops.track("req-early-2", OperationKind::delete_group, std::string("G-X")));
  CHECK(ops.find("req-early-2")->state == OperationState::failed);
  CHECK(codes(ops.find("req-early-2")->errors) == std::vector<int>{131041});
}

TEST_CASE("an early outcome is kept for the time to live only", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1000ms, clock.clock());
  CHECK_FALSE(ops.observe(WebhookEvent(created("req-stale", "G-1"))));
  CHECK_FALSE(ops.observe(WebhookEvent(created("req-fresh", "G-2"))));
  clock.advance(999ms);
  REQUIRE(ops.track("req-fresh", OperationKind::create_group));
  CHECK(ops.find("req-fresh")->state == OperationState::succeeded);
  clock.advance(1ms);
  REQUIRE(ops.track("req-stale", OperationKind::create_group));
  CHECK(ops.find("req-stale")->state == OperationState::pending);
}

TEST_CASE("a kind mismatch still resolves, keeping the tracked kind", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  REQUIRE(ops.track("req-mix", OperationKind::create_group));
  CHECK(ops.observe(WebhookEvent(deleted("req-mix", "G-M"))));
  auto s = ops.find("req-mix");
  REQUIRE(s);
  CHECK(s->kind == OperationKind::create_group);
  CHECK(s->state == OperationState::succeeded);
  CHECK(std::holds_alternative<GroupDeleted>(*s->event));

  // The same for an early outcome adopted by a track of another kind.
  CHECK_FALSE(ops.observe(WebhookEvent(create_failed("req-mix-2", {item_error(131214, "Creation disabled")}))));
  REQUIRE(ops.track("req-mix-2", OperationKind::update_settings));
  CHECK(ops.find("req-mix-2")->kind == OperationKind::update_settings);
  CHECK(ops.find("req-mix-2")->state == OperationState::failed);
}

TEST_CASE("the first record and the first outcome win", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  REQUIRE(ops.track("req-dup", OperationKind::create_group));
  clock.advance(5s);
  CHECK(ops.track("req-dup", OperationKind::delete_group, std::string("G-OTHER")));  // keeps the first
  auto s = ops.find("req-dup");
  REQUIRE(s);
  CHECK(s->kind == OperationKind::create_group);
  CHECK_FALSE(s->group_id);
  CHECK(s->tracked_at == clock.now() - 5s);

  CHECK(ops.observe(WebhookEvent(created("req-dup", "G-FIRST"))));
  const auto first_resolution = ops.find("req-dup")->resolved_at;
  clock.advance(1s);
  // Meta redelivers webhooks; a second outcome matches but changes nothing.
  CHECK(ops.observe(WebhookEvent(create_failed("req-dup", {item_error(1, "Unknown")}))));
  s = ops.find("req-dup");
  CHECK(s->state == OperationState::succeeded);
  CHECK(s->group_id == std::optional<std::string>("G-FIRST"));
  CHECK(s->errors.empty());
  CHECK(s->resolved_at == first_resolution);
}

TEST_CASE("operations expire after the time to live on the injected clock", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1000ms, clock.clock());
  REQUIRE(ops.track("req-exp", OperationKind::create_group));
  REQUIRE(ops.track("req-done", OperationKind::delete_group));
  CHECK(ops.observe(WebhookEvent(deleted("req-done", "G-D"))));

  clock.advance(999ms);
  CHECK(ops.find("req-exp")->state == OperationState::pending);
  CHECK(ops.pending_count() == 1);
  CHECK(ops.expire() == 0);

  clock.advance(1ms);
  CHECK(ops.find("req-exp")->state == OperationState::expired);  // seen lazily by a lookup
  CHECK(ops.pending_count() == 0);
  CHECK(ops.find("req-done")->state == OperationState::succeeded);  // resolved records never expire
  CHECK(ops.expire() == 1);
  CHECK(ops.expire() == 0);
  CHECK(ops.find("req-exp")->state == OperationState::expired);

  // A webhook after expiry still tells the truth.
  clock.advance(200ms);
  CHECK(ops.observe(WebhookEvent(created("req-exp", "G-LATE"))));
  auto s = ops.find("req-exp");
  REQUIRE(s);
  CHECK(s->state == OperationState::succeeded);
  CHECK(s->group_id == std::optional<std::string>("G-LATE"));
}

TEST_CASE("records are forgotten twice the time to live after their last change", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1000ms, clock.clock());
  REQUIRE(ops.track("req-old", OperationKind::create_group));
  REQUIRE(ops.track("req-resolved", OperationKind::create_group));
  clock.advance(1500ms);
  CHECK(ops.expire() == 2);
  CHECK(ops.observe(WebhookEvent(created("req-resolved", "G-R"))));  // resolved at +1500 ms

  clock.advance(499ms);  // +1999 ms
  CHECK(ops.expire() == 0);
  CHECK(ops.find("req-old"));
  clock.advance(1ms);  // +2000 ms: req-old is twice the time to live old
  CHECK_FALSE(ops.find("req-old"));
  CHECK(ops.expire() == 0);
  CHECK_FALSE(ops.find("req-old"));
  CHECK_FALSE(ops.wait("req-old", 0ms));
  REQUIRE(ops.find("req-resolved"));

  clock.advance(1500ms);  // resolved 2000 ms ago
  CHECK_FALSE(ops.find("req-resolved"));

  // A forgotten id can be tracked afresh.
  REQUIRE(ops.track("req-old", OperationKind::delete_group));
  CHECK(ops.find("req-old")->state == OperationState::pending);
  CHECK(ops.find("req-old")->kind == OperationKind::delete_group);
}

TEST_CASE("a pending operation past twice the time to live is counted expired once, then forgotten",
          "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1000ms, clock.clock());
  REQUIRE(ops.track("req-a", OperationKind::create_group));
  REQUIRE(ops.track("req-b", OperationKind::create_group));
  clock.advance(2500ms);
  CHECK(ops.pending_count() == 0);
  CHECK(ops.expire() == 2);
  CHECK_FALSE(ops.find("req-a"));
  CHECK_FALSE(ops.find("req-b"));
  CHECK(ops.expire() == 0);
}

TEST_CASE("wait returns as soon as another thread observes the outcome", "[webhook][pending][concurrent]") {
  PendingOperations ops;  // system clock
  REQUIRE(ops.track("req-wait", OperationKind::create_group));
  std::thread webhook([&] {
    std::this_thread::sleep_for(20ms);
    ops.observe(WebhookEvent(created("req-wait", "G-W")));
  });
  const auto start = std::chrono::steady_clock::now();
  auto s = ops.wait("req-wait", 30s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  webhook.join();
  REQUIRE(s);
  CHECK(s->state == OperationState::succeeded);
  CHECK(s->group_id == std::optional<std::string>("G-W"));
  CHECK(elapsed < 10s);  // woken, not timed out (normally ~20 ms)
}

TEST_CASE("wait gives up after its timeout and reports pending", "[webhook][pending]") {
  PendingOperations ops;
  REQUIRE(ops.track("req-slow", OperationKind::delete_group, std::string("G-SLOW")));
  const auto start = std::chrono::steady_clock::now();
  auto s = ops.wait("req-slow", 50ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(s);
  CHECK(s->state == OperationState::pending);
  CHECK(s->group_id == std::optional<std::string>("G-SLOW"));
  CHECK(elapsed >= 50ms);
  CHECK(elapsed < 10s);

  // A zero or negative timeout is a plain lookup.
  CHECK(ops.wait("req-slow", 0ms)->state == OperationState::pending);
  CHECK(ops.wait("req-slow", -5ms)->state == OperationState::pending);
}

TEST_CASE("wait on an id never tracked returns at once, unset", "[webhook][pending]") {
  PendingOperations ops;
  // Even an early outcome does not make an id tracked.
  CHECK_FALSE(ops.observe(WebhookEvent(created("req-early-only", "G"))));
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(ops.wait("req-never", 10s));
  CHECK_FALSE(ops.wait("req-early-only", 10s));
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("expire wakes a waiter whose operation ran out of time on the injected clock",
          "[webhook][pending][concurrent]") {
  FakeClock clock;
  PendingOperations ops(1000ms, clock.clock());
  REQUIRE(ops.track("req-timeout", OperationKind::update_settings));
  std::thread sweeper([&] {
    std::this_thread::sleep_for(20ms);
    clock.advance(1000ms);
    ops.expire();
  });
  const auto start = std::chrono::steady_clock::now();
  auto s = ops.wait("req-timeout", 30s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  sweeper.join();
  REQUIRE(s);
  CHECK(s->state == OperationState::expired);
  CHECK(elapsed < 10s);
}

TEST_CASE("with the system clock, wait ends as expired when the time to live runs out", "[webhook][pending]") {
  PendingOperations ops(40ms);
  REQUIRE(ops.track("req-short", OperationKind::create_group));
  const auto start = std::chrono::steady_clock::now();
  auto s = ops.wait("req-short", 30s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(s);
  CHECK(s->state == OperationState::expired);
  CHECK(elapsed < 10s);
}

TEST_CASE("huge time to live and timeout do not overflow", "[webhook][pending][concurrent]") {
  PendingOperations ops(std::chrono::milliseconds::max());
  REQUIRE(ops.track("req-forever", OperationKind::create_group));
  CHECK(ops.find("req-forever")->state == OperationState::pending);
  CHECK(ops.expire() == 0);
  std::thread webhook([&] {
    std::this_thread::sleep_for(20ms);
    ops.observe(WebhookEvent(created("req-forever", "G-F")));
  });
  auto s = ops.wait("req-forever", std::chrono::milliseconds::max());
  webhook.join();
  REQUIRE(s);
  CHECK(s->state == OperationState::succeeded);
}

TEST_CASE("concurrent track and observe from several threads resolve every operation",
          "[webhook][pending][concurrent]") {
  PendingOperations ops;
  constexpr int kIds = 2000;
  constexpr int kThreads = 4;
  auto id = [](int i) { return "req-" + std::to_string(i); };
  auto group = [](int i) { return "G-" + std::to_string(i); };

  // Thread t tracks ids i with i % kThreads == t (ascending) and observes the outcomes of ids
  // i % kThreads == (t + 1) % kThreads (descending), so outcomes arrive both before and after track.
  std::atomic<int> matched_first{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kIds; i += kThreads) ops.track(id(i), OperationKind::create_group);
      for (int i = kIds - 1; i >= 0; --i) {
        if (i % kThreads == (t + 1) % kThreads && ops.observe(WebhookEvent(created(id(i), group(i))))) ++matched_first;
      }
    });
  }
  // Waiters on some ids, woken by whichever thread resolves them.
  std::atomic<int> waited_resolved{0};
  std::vector<std::thread> waiters;
  for (int w = 0; w < 2; ++w) {
    waiters.emplace_back([&, w] {
      for (int i = w; i < kIds; i += 97) {
        // The id may not be tracked yet; retry until it is.
        for (;;) {
          auto s = ops.wait(id(i), 30s);
          if (!s) {
            std::this_thread::yield();
            continue;
          }
          if (s->state == OperationState::succeeded) ++waited_resolved;
          break;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& w : waiters) w.join();

  CHECK(matched_first.load() <= kIds);
  CHECK(ops.pending_count() == 0);
  int resolved = 0;
  for (int i = 0; i < kIds; ++i) {
    auto s = ops.find(id(i));
    if (s && s->state == OperationState::succeeded && s->group_id == group(i)) ++resolved;
  }
  CHECK(resolved == kIds);
  CHECK(waited_resolved.load() == (kIds + 96) / 97 + (kIds - 1 + 96) / 97);

  // A second, concurrent delivery of every outcome matches every tracked id exactly once.
  std::atomic<int> matched_again{0};
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kIds; i += kThreads) {
        if (ops.observe(WebhookEvent(created(id(i), "G-REDELIVERED")))) ++matched_again;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(matched_again.load() == kIds);
  CHECK(ops.find(id(7))->group_id == std::optional<std::string>(group(7)));
  CHECK(ops.expire() == 0);
}

TEST_CASE("observe(batch) resolves each outcome and counts the matches", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  REQUIRE(ops.track("b-1", OperationKind::create_group));
  REQUIRE(ops.track("b-2", OperationKind::remove_participants, std::string("G-B")));
  REQUIRE(ops.track("b-3", OperationKind::delete_group, std::string("G-C")));

  auto partial = removed(std::string("b-2"), "G-B");
  partial.failed_participants = {failed_participant("15550004444", item_error(131212, "Not in group"))};

  WebhookBatch batch;
  batch.object = "whatsapp_business_account";
  batch.events = {WebhookEvent(created("b-1", "G-A")),        // matches
                  WebhookEvent(GroupSuspended{}),             // not an outcome
                  WebhookEvent(created("b-early", "G-E")),    // outcome, not tracked yet
                  WebhookEvent(removed(std::nullopt, "G-B")),  // a participant left
                  WebhookEvent(partial)};                     // matches
  CHECK(ops.observe(batch) == 2);
  CHECK(ops.observe(WebhookBatch{}) == 0);

  CHECK(ops.find("b-1")->state == OperationState::succeeded);
  CHECK(ops.find("b-2")->state == OperationState::failed);
  CHECK(ops.find("b-3")->state == OperationState::pending);
  CHECK(ops.pending_count() == 1);
  REQUIRE(ops.track("b-early", OperationKind::create_group));
  CHECK(ops.find("b-early")->group_id == std::optional<std::string>("G-E"));
}

// ---------------------------------------------------------------------------------------------
// Operations whose answer carried no request_id (issue 10, item 2)

TEST_CASE("issue10 item 2: a settings update tracked by group resolves from its webhook", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  const auto handle = ops.track_by_group(OperationKind::update_settings, "G1");
  REQUIRE(handle);
  CHECK(handle->rfind("op:", 0) == 0);
  auto status = ops.find(*handle);
  REQUIRE(status);
  CHECK(status->state == OperationState::pending);
  CHECK(status->handle == *handle);
  CHECK(status->request_id.empty());
  CHECK(status->group_id == std::optional<std::string>("G1"));

  // Another group's and another kind's outcomes are not this operation's.
  auto other_group = settings("req-s-9", "G2");
  other_group.group_subject = setting(true);
  CHECK_FALSE(ops.observe(other_group));
  CHECK_FALSE(ops.observe(deleted("req-d-9", "G1")));
  CHECK(ops.find(*handle)->state == OperationState::pending);

  clock.advance(2s);
  auto outcome = settings("req-s-1", "G1");
  outcome.group_subject = setting(true);
  CHECK(ops.observe(outcome));
  status = ops.find(*handle);
  REQUIRE(status);
  CHECK(status->state == OperationState::succeeded);
  CHECK(status->request_id == "req-s-1");  // learnt from the webhook
  CHECK(status->handle == *handle);
  CHECK(ops.pending_count() == 0);
  // The wait returns at once for a resolved operation.
  auto waited = ops.wait(*handle, 0ms);
  REQUIRE(waited);
  CHECK(waited->state == OperationState::succeeded);
}

TEST_CASE(
    "issue10 item 2: two pending settings updates on one group resolve oldest first, and a redelivery "
    "resolves nothing more",
    "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  const auto first = ops.track_by_group(OperationKind::update_settings, "G1");
  clock.advance(1s);
  const auto second = ops.track_by_group(OperationKind::update_settings, "G1");
  REQUIRE(first);
  REQUIRE(second);
  CHECK(*first != *second);

  auto failed = settings("req-a", "G1");
  failed.group_subject = setting(false, {item_error(131009, "Parameter value is not valid")});
  failed.errors.push_back(item_error(131009, "Parameter value is not valid"));
  CHECK(ops.observe(failed));
  CHECK(ops.find(*first)->state == OperationState::failed);
  CHECK(ops.find(*second)->state == OperationState::pending);

  // Meta redelivers the same webhook (same request id): not a second outcome.
  CHECK(ops.observe(failed));
  CHECK(ops.find(*second)->state == OperationState::pending);

  auto ok = settings("req-b", "G1");
  ok.group_subject = setting(true);
  CHECK(ops.observe(ok));
  CHECK(ops.find(*second)->state == OperationState::succeeded);
  CHECK(ops.find(*second)->request_id == "req-b");
  CHECK(ops.find(*first)->state == OperationState::failed);
}

TEST_CASE("issue10 item 2: a request id tracked both ways still matches exactly", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  const auto by_group = ops.track_by_group(OperationKind::delete_group, "G1");
  REQUIRE(by_group);
  REQUIRE(ops.track("req-del-7", OperationKind::delete_group, std::string("G1")));
  // The webhook names req-del-7: the operation tracked by that id, not the older one by group.
  CHECK(ops.observe(deleted("req-del-7", "G1")));
  CHECK(ops.find("req-del-7")->state == OperationState::succeeded);
  CHECK(ops.find(*by_group)->state == OperationState::pending);
}

TEST_CASE("issue10 item 2: an outcome before track_by_group is adopted; one outside the window is not",
          "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock(), 10min);
  CHECK_FALSE(ops.observe(removed(std::string("req-r-1"), "G1")));
  clock.advance(1min);
  const auto handle = ops.track_by_group(OperationKind::remove_participants, "G1");
  REQUIRE(handle);
  auto status = ops.find(*handle);
  REQUIRE(status);
  CHECK(status->state == OperationState::succeeded);
  CHECK(status->request_id == "req-r-1");
  CHECK(status->handle == *handle);
  // Adopted once: a second operation of the key waits for its own webhook.
  const auto next = ops.track_by_group(OperationKind::remove_participants, "G1");
  REQUIRE(next);
  CHECK(ops.find(*next)->state == OperationState::pending);

  // An early outcome older than the window is not adopted; a pending operation older than the
  // window is not matched.
  CHECK_FALSE(ops.observe(deleted("req-d-1", "G5")));
  clock.advance(11min);
  const auto late = ops.track_by_group(OperationKind::delete_group, "G5");
  REQUIRE(late);
  CHECK(ops.find(*late)->state == OperationState::pending);
  clock.advance(11min);
  CHECK_FALSE(ops.observe(deleted("req-d-2", "G5")));
  CHECK(ops.find(*late)->state == OperationState::pending);
}

TEST_CASE("issue10 item 2: a create without request id is tracked by phone number id and subject",
          "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  CHECK_FALSE(ops.track_create("", "Case 1042"));
  CHECK_FALSE(ops.track_create("106540352242922", ""));
  CHECK_FALSE(ops.track_by_group(OperationKind::create_group, "G1"));
  CHECK_FALSE(ops.track_by_group(OperationKind::delete_group, ""));

  const auto handle = ops.track_create("106540352242922", "Case 1042");
  REQUIRE(handle);
  auto other_number = created("req-c-0", "G0");
  other_number.context.phone_number_id = "999";
  CHECK_FALSE(ops.observe(other_number));
  auto other_subject = created("req-c-2", "G2");
  other_subject.context.phone_number_id = "106540352242922";
  other_subject.subject = "Case 9";
  CHECK_FALSE(ops.observe(other_subject));

  auto outcome = created("req-c-1", "G1");
  outcome.context.phone_number_id = "106540352242922";
  CHECK(ops.observe(outcome));
  auto status = ops.find(*handle);
  REQUIRE(status);
  CHECK(status->state == OperationState::succeeded);
  CHECK(status->kind == OperationKind::create_group);
  CHECK(status->group_id == std::optional<std::string>("G1"));
  CHECK(status->request_id == "req-c-1");
}

TEST_CASE("issue10 item 2: a participant leaving on their own resolves no removal tracked by group",
          "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  const auto handle = ops.track_by_group(OperationKind::remove_participants, "G1");
  REQUIRE(handle);
  CHECK_FALSE(ops.observe(removed(std::nullopt, "G1")));  // initiated by the participant
  CHECK(ops.find(*handle)->state == OperationState::pending);
  // A business removal whose webhook carries no request id is still this operation's outcome.
  auto business = removed(std::nullopt, "G1");
  business.initiated_by = RemovalInitiator::business;
  CHECK(ops.observe(business));
  CHECK(ops.find(*handle)->state == OperationState::succeeded);
}

TEST_CASE("issue10 item 2: operations tracked by group expire and are forgotten like the others",
          "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(10min, clock.clock());
  const auto handle = ops.track_by_group(OperationKind::update_settings, "G1");
  REQUIRE(handle);
  clock.advance(10min);
  CHECK(ops.expire() == 1);
  CHECK(ops.find(*handle)->state == OperationState::expired);
  clock.advance(11min);
  ops.expire();
  CHECK_FALSE(ops.find(*handle));
  // Nothing left behind matches a late webhook.
  auto late = settings("req-late", "G1");
  late.group_subject = setting(true);
  CHECK_FALSE(ops.observe(late));
}

// ---------------------------------------------------------------------------------------------
// Issue 10 item 2, review fixes: an id-less outcome is adopted only by an operation it can belong
// to (by the webhook's timestamp), a redelivery of one is dropped, subjects are trimmed.

namespace {

std::int64_t seconds_at(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

GroupSettingsUpdated idless_settings(std::string group_id, std::int64_t ts, bool picture) {
  auto e = settings("", std::move(group_id));
  e.request_id = std::nullopt;
  e.context.timestamp = ts;
  if (picture) {
    SettingOutcome p;
    p.sha256 = "abc123";
    p.update_successful = true;
    e.profile_picture = p;
  } else {
    e.group_subject = setting(true);
  }
  return e;
}

}  // namespace

TEST_CASE("issue10 item 2: an old id-less outcome is not adopted by a fresh operation", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  // A settings update with fields and a picture: two requests, two webhooks. The host tracked once.
  const auto first = ops.track_by_group(OperationKind::update_settings, "G1");
  REQUIRE(first);
  const std::int64_t sent = seconds_at(clock.now());
  CHECK(ops.observe(idless_settings("G1", sent + 1, false)));
  CHECK(ops.find(*first)->state == OperationState::succeeded);
  CHECK_FALSE(ops.observe(idless_settings("G1", sent + 2, true)));  // nobody waits: kept early

  // A minute later the host starts another update: the picture's old outcome is not its outcome.
  clock.advance(60s);
  const auto second = ops.track_by_group(OperationKind::update_settings, "G1");
  REQUIRE(second);
  CHECK(ops.find(*second)->state == OperationState::pending);
  // Its own webhook resolves it.
  CHECK(ops.observe(idless_settings("G1", seconds_at(clock.now()) + 1, false)));
  CHECK(ops.find(*second)->state == OperationState::succeeded);

  // An outcome stamped a little before the tracking (within the 5 s skew) is still adopted.
  const std::int64_t now_s = seconds_at(clock.now());
  CHECK_FALSE(ops.observe(deleted("", "G7")));  // no timestamp: cannot be judged, adopted as before
  auto early = deleted("", "G8");
  early.request_id = std::nullopt;
  early.context.timestamp = now_s - 4;
  CHECK_FALSE(ops.observe(early));
  const auto del7 = ops.track_by_group(OperationKind::delete_group, "G7");
  const auto del8 = ops.track_by_group(OperationKind::delete_group, "G8");
  REQUIRE(del7);
  REQUIRE(del8);
  CHECK(ops.find(*del7)->state == OperationState::succeeded);
  CHECK(ops.find(*del8)->state == OperationState::succeeded);
}

TEST_CASE("issue10 item 2: a late redelivery of an old id-less outcome resolves no newer operation",
          "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  const std::int64_t then = seconds_at(clock.now());
  const auto first = ops.track_by_group(OperationKind::update_settings, "G1");
  REQUIRE(first);
  CHECK(ops.observe(idless_settings("G1", then + 1, false)));
  CHECK(ops.find(*first)->state == OperationState::succeeded);

  clock.advance(2min);
  const auto second = ops.track_by_group(OperationKind::update_settings, "G1");
  REQUIRE(second);
  // Meta redelivers the first webhook: same group, kind and timestamp. It resolves nothing.
  CHECK(ops.observe(idless_settings("G1", then + 1, false)));  // it is the first operation's outcome
  CHECK(ops.find(*second)->state == OperationState::pending);
  CHECK(ops.find(*first)->state == OperationState::succeeded);
  CHECK(ops.pending_count() == 1);
}

TEST_CASE("issue10 item 2: a redelivered id-less outcome nobody waited for is kept once", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  const std::int64_t now_s = seconds_at(clock.now());
  auto removal = removed(std::nullopt, "G1");
  removal.initiated_by = RemovalInitiator::business;
  removal.context.timestamp = now_s;
  CHECK_FALSE(ops.observe(removal));
  CHECK_FALSE(ops.observe(removal));  // redelivered before the host tracked
  clock.advance(1s);
  const auto a = ops.track_by_group(OperationKind::remove_participants, "G1");
  const auto b = ops.track_by_group(OperationKind::remove_participants, "G1");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(ops.find(*a)->state == OperationState::succeeded);
  CHECK(ops.find(*b)->state == OperationState::pending);  // the repeat was not a second outcome

  // Another removal in the same second (another participant) is another outcome.
  auto other = removal;
  other.removed_participants[0].wa_id = "15550002222";
  CHECK(ops.observe(other));
  CHECK(ops.find(*b)->state == OperationState::succeeded);
}

TEST_CASE("issue10 item 2: a settings update with fields and a picture, tracked twice, resolves both",
          "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  const auto fields = ops.track_by_group(OperationKind::update_settings, "G1");
  const auto picture = ops.track_by_group(OperationKind::update_settings, "G1");
  REQUIRE(fields);
  REQUIRE(picture);
  const std::int64_t now_s = seconds_at(clock.now());
  // Both webhooks in one second: different outcomes, not a redelivery.
  CHECK(ops.observe(idless_settings("G1", now_s, false)));
  CHECK(ops.observe(idless_settings("G1", now_s, true)));
  CHECK(ops.find(*fields)->state == OperationState::succeeded);
  CHECK(ops.find(*picture)->state == OperationState::succeeded);
}

TEST_CASE("issue10 item 2: track_create trims the subject as the client does", "[webhook][pending]") {
  FakeClock clock;
  PendingOperations ops(1h, clock.clock());
  CHECK_FALSE(ops.track_create("106540352242922", "  \t"));
  const auto handle = ops.track_create("106540352242922", "Order 1 ");
  REQUIRE(handle);
  auto outcome = created("", "G1");
  outcome.request_id = std::nullopt;
  outcome.subject = "Order 1";
  outcome.context.phone_number_id = "106540352242922";
  CHECK(ops.observe(outcome));
  CHECK(ops.find(*handle)->state == OperationState::succeeded);
}
