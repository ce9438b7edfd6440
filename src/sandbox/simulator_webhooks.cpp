// The webhook outbox: every change the business would hear of becomes a signed delivery shaped
// like Meta's samples, queued until `flush` (or `take_webhooks`) hands it over.
//
// Realism draws from its own seeded stream, three draws per delivery whatever the shares, so a
// run with duplicates, reordering or Meta's other spellings keeps the same ids as a plain run.

#include <deque>
#include <functional>
#include <iterator>
#include <mutex>
#include <string_view>

#include "sandbox/simulator_engine.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sandbox {
namespace sim {

namespace {

void write_contact(json::Writer& w, const Person& p) {
  w.begin_object();
  w.key("profile").begin_object().field("name", p.name);
  if (p.username) w.field("username", *p.username);
  w.end_object();
  if (!p.phone.empty()) w.field("wa_id", p.phone);
  if (p.user_id) w.field("user_id", *p.user_id);
  w.end_object();
}

void write_timestamp(json::Writer& w, std::int64_t t, bool variant) {
  w.key("timestamp");
  if (variant) w.integer(t);  // Meta's unquoted spelling (the OpenAPI schema's integer)
  else w.string(std::to_string(t));
}

struct Pricing {
  bool billable = false;
  const char* category = "group_service";
  const char* type = "free_group_customer_service";
};

// Pricing beside `conversation` (most samples), or inside it (the aggregated-status sample).
void write_pricing(json::Writer& w, const Pricing& p, bool variant, const std::string& conversation_id) {
  auto body = [&] {
    w.begin_object();
    w.field("billable", p.billable);
    w.field("pricing_model", "PMP");
    w.field("category", p.category);
    w.field("type", p.type);
    w.end_object();
  };
  if (variant) {
    w.key("conversation").begin_object().field("id", conversation_id);
    w.key("origin").begin_object().field("type", p.category).end_object();
    w.key("pricing");
    body();
    w.end_object();
  } else {
    w.key("pricing");
    body();
  }
}

std::string conversation_id_of(const std::string& message_id) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a: stable, and draws nothing from the id stream
  for (char c : message_id) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return hex_upper(h);
}

}  // namespace

void write_identity(json::Writer& w, const Person& p) {
  if (!p.phone.empty()) w.field("wa_id", p.phone);
  if (p.user_id) w.field("user_id", *p.user_id);
  if (p.username) w.field("username", *p.username);
}

// --- webhooks ----------------------------------------------------------------------------------
std::optional<std::string> Engine::sign(const std::string& body) const {
  if (options.signer) return options.signer(body);
  return hmac_sha256_signature(body, options.app_secret);
}

void Engine::queue(const char* field, const char* variant_field, const ValueWriter& write_value) {
  // Three draws per delivery whatever the shares, so that the stream stays aligned.
  const bool variant = noise() < options.spelling_variant_share;
  const bool duplicate = noise() < options.duplicate_share;
  const bool reorder = noise() < options.reorder_share;
  WebhookDelivery d;
  d.field = variant && variant_field ? variant_field : field;
  json::Writer w;
  w.begin_object();
  w.field("object", "whatsapp_business_account");
  w.key("entry").begin_array().begin_object();
  w.field("id", options.waba_id);
  w.key("changes").begin_array().begin_object();
  w.key("value").begin_object();
  w.field("messaging_product", "whatsapp");
  w.key("metadata").begin_object();
  w.field("display_phone_number", options.display_phone_number);
  w.field("phone_number_id", options.phone_number_id);
  w.end_object();
  write_value(w, variant);
  w.end_object();
  w.field("field", d.field);
  w.end_object().end_array();
  w.end_object().end_array();
  w.end_object();
  d.body = w.str();
  auto signature = sign(d.body);
  if (!signature) {
    // Fail closed: an unsigned (or wrongly signed) delivery is never queued.
    signing_failed = true;
    return;
  }
  d.signature = std::move(*signature);
  // Out of order: this delivery goes before the one queued just before it.
  std::size_t at = reorder && !s.outbox.empty() ? s.outbox.size() - 1 : s.outbox.size();
  s.outbox.insert(s.outbox.begin() + static_cast<std::ptrdiff_t>(at), d);
  if (duplicate) s.outbox.insert(s.outbox.begin() + static_cast<std::ptrdiff_t>(at + 1), d);
}

// One item of `value.groups`.
void Engine::queue_group_event(const char* field, const char* variant_field, const GroupState& g, std::int64_t t,
                               const char* type, const char* variant_type,
                               const std::function<void(json::Writer&)>& members) {
  const std::string gid = g.group_id;
  queue(field, variant_field, [&](json::Writer& w, bool variant) {
    w.key("groups").begin_array().begin_object();
    write_timestamp(w, t, variant);
    w.field("group_id", gid);
    w.field("type", variant && variant_type ? variant_type : type);
    members(w);
    w.end_object().end_array();
  });
}
void Engine::queue_participants_event(const GroupState& g, std::int64_t t, const char* type, const char* variant_type,
                                      const std::function<void(json::Writer&)>& members) {
  queue_group_event("group_participants_update", "group_participant_update", g, t, type, variant_type, members);
}

void Engine::queue_added(const GroupState& g, std::int64_t t, const std::vector<Person>& people, bool with_input) {
  queue_participants_event(g, t, "group_participants_add", "group_add_participants", [&](json::Writer& w) {
    w.field("reason", "invite_link");
    w.key("added_participants").begin_array();
    for (const Person& p : people) {
      w.begin_object();
      if (with_input) w.field("input", p.phone.empty() ? p.user_id.value_or("") : p.phone);
      write_identity(w, p);
      w.end_object();
    }
    w.end_array();
  });
}

void Engine::queue_join_request_event(const GroupState& g, std::int64_t t, const char* type, const MemberState& m) {
  const std::string& reason = std::string_view(type) == "group_join_request_revoked"
                                  ? options.join_request_revoked_reason
                                  : options.join_request_created_reason;
  queue_participants_event(g, t, type, nullptr, [&](json::Writer& w) {
    if (!reason.empty()) w.field("reason", reason);
    w.field("join_request_id", m.join_request_id.value_or(""));
    write_identity(w, m.person);
  });
}

// A business message to a group: one group-wide `sent`, then each member's `delivered` and
// `read`, aggregated into one webhook per status type; or, when group messages are set to fail,
// one group-wide `failed` with its error (Meta's "Group message failed" sample).
void Engine::queue_group_statuses(const GroupState& g, const std::string& wamid, const char* pricing_category,
                                  std::int64_t t) {
  const std::string gid = g.group_id;
  if (options.async_failures.group_messages) {
    queue("messages", nullptr, [&](json::Writer& w, bool variant) {
      w.key("statuses").begin_array().begin_object();
      w.field("id", wamid);
      w.field("recipient_id", gid);
      w.field("recipient_type", "group");
      w.field("status", "failed");
      write_timestamp(w, t, variant);
      w.key("errors").begin_array();
      const Failure f = simulated(options.async_failures.error);
      w.begin_object();
      w.field("code", f.code);
      w.field("title", f.title);
      w.field("message", "(#" + std::to_string(f.code) + ") " + f.title);
      w.key("error_data").begin_object().field("details", f.details).end_object();
      w.field("href", "/docs/whatsapp/cloud-api/support/error-codes/");
      w.end_object();
      w.end_array();
      w.end_object().end_array();
    });
    return;
  }
  queue("messages", nullptr, [&](json::Writer& w, bool variant) {
    w.key("statuses").begin_array().begin_object();
    w.field("id", wamid);
    w.field("status", "sent");
    write_timestamp(w, t, variant);
    w.field("recipient_id", gid);
    w.field("recipient_type", "group");
    w.end_object().end_array();
  });
  if (!options.auto_statuses) return;
  std::vector<Person> people;
  for (const auto& m : g.members) {
    if (m.joined) people.push_back(m.person);
  }
  if (people.empty()) return;
  Pricing pricing;
  if (pricing_category) pricing = Pricing{true, pricing_category, "regular"};
  const std::string conversation = conversation_id_of(wamid);
  for (const char* status : {"delivered", "read"}) {
    queue("messages", nullptr, [&](json::Writer& w, bool variant) {
      w.key("contacts").begin_array();
      for (const Person& p : people) write_contact(w, p);
      w.end_array();
      w.key("statuses").begin_array();
      for (const Person& p : people) {
        w.begin_object();
        w.field("id", wamid);
        w.field("status", status);
        write_timestamp(w, t, variant);
        w.field("recipient_id", gid);
        w.field("recipient_type", "group");
        if (!p.phone.empty()) w.field(variant ? "participant_recipient_id" : "recipient_participant_id", p.phone);
        if (p.user_id) w.field("recipient_participant_user_id", *p.user_id);
        write_pricing(w, pricing, variant, conversation);
        w.end_object();
      }
      w.end_array();
    });
  }
}

void Engine::queue_direct_statuses(const std::string& recipient, bool is_bsuid, const std::string& wamid,
                                   bool is_template, std::int64_t t) {
  const Pricing pricing =
      is_template ? Pricing{true, "utility", "regular"} : Pricing{false, "service", "free_customer_service"};
  const std::string conversation = conversation_id_of(wamid);
  std::vector<const char*> statuses{"sent"};
  if (options.auto_statuses) {
    statuses.push_back("delivered");
    statuses.push_back("read");
  }
  for (const char* status : statuses) {
    queue("messages", nullptr, [&](json::Writer& w, bool variant) {
      w.key("statuses").begin_array().begin_object();
      w.field("id", wamid);
      w.field("status", status);
      write_timestamp(w, t, variant);
      w.field(is_bsuid ? "recipient_user_id" : "recipient_id", recipient);
      write_pricing(w, pricing, variant, conversation);
      w.end_object().end_array();
    });
  }
}

void Engine::queue_inbound_text(const Person& from, const std::optional<std::string>& group_id,
                                const std::string& wamid, const std::string& body, std::int64_t t) {
  queue_inbound(from, group_id, wamid, t, [&](json::Writer& w) {
    w.key("text").begin_object().field("body", body).end_object();
    w.field("type", "text");
  });
}

void Engine::queue_inbound(const Person& from, const std::optional<std::string>& group_id, const std::string& wamid,
                           std::int64_t t, const std::function<void(json::Writer&)>& content) {
  queue("messages", nullptr, [&](json::Writer& w, bool variant) {
    w.key("contacts").begin_array();
    write_contact(w, from);
    w.end_array();
    w.key("messages").begin_array().begin_object();
    if (!from.phone.empty()) w.field("from", from.phone);
    if (from.user_id) w.field("from_user_id", *from.user_id);
    if (group_id) w.field("group_id", *group_id);
    w.field("id", wamid);
    write_timestamp(w, t, variant);
    content(w);
    w.end_object().end_array();
  });
}

}  // namespace sim

void Simulator::set_webhook_sink(std::function<void(const WebhookDelivery&)> sink) {
  std::lock_guard<std::mutex> lock(impl_->engine->mutex);
  impl_->engine->sink = std::move(sink);
}

std::size_t Simulator::flush() {
  std::function<void(const WebhookDelivery&)> sink;
  std::deque<WebhookDelivery> batch;
  {
    std::lock_guard<std::mutex> lock(impl_->engine->mutex);
    if (!impl_->engine->sink) return 0;
    sink = impl_->engine->sink;
    batch.swap(impl_->engine->s.outbox);
  }
  // Outside the lock: the sink may call back into the simulator (e.g. a host answering a message).
  for (const auto& d : batch) sink(d);
  return batch.size();
}

std::vector<WebhookDelivery> Simulator::take_webhooks() {
  std::lock_guard<std::mutex> lock(impl_->engine->mutex);
  std::vector<WebhookDelivery> out(std::make_move_iterator(impl_->engine->s.outbox.begin()),
                                   std::make_move_iterator(impl_->engine->s.outbox.end()));
  impl_->engine->s.outbox.clear();
  return out;
}

std::size_t Simulator::pending_webhooks() const {
  std::lock_guard<std::mutex> lock(impl_->engine->mutex);
  return impl_->engine->s.outbox.size();
}

}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
