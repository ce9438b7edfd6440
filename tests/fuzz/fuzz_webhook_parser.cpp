// fuzz_webhook_parser: the webhook parser on raw bytes.
//
// Invariants, for every input:
//   - parse, parse_in_place and verify_and_parse never throw;
//   - an accepted body yields at most `max_events` events, each with a non-empty `field`, and
//     every string in every event (context, ids, texts, participants, errors, the kept raw JSON)
//     is valid UTF-8;
//   - parse, parse_in_place and verify_and_parse with the signature Meta would send give the same
//     outcome: the same error code, or events equal field by field (the parse behind the
//     signature check is the same parse);
//   - with a fuzz-chosen header (the input's first line, when it has one) the body is accepted
//     only when SignatureVerifier::verify accepts that header, and then parses as above;
//     a refusal for the signature is `unauthenticated`.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "fuzz_support.hpp"
#include "wagroups/webhook.hpp"

namespace {

using wagroups_fuzz::utf8;

/// Every field of every event, written into one string (so that two batches compare as one
/// string) while each piece is checked for UTF-8.
class Digest {
 public:
  void text(const std::string& s) {
    WAGROUPS_FUZZ_REQUIRE(utf8(s));
    out_ += std::to_string(s.size());
    out_ += ':';
    out_ += s;
  }
  void text(const std::optional<std::string>& s) {
    if (s) text(*s);
    else out_ += '-';
  }
  void number(long long n) { out_ += '#' + std::to_string(n); }
  template <typename T>
  void number(const std::optional<T>& n) {
    if (n) number(static_cast<long long>(*n));
    else out_ += '-';
  }
  void flag(const std::optional<bool>& b) { out_ += b ? (*b ? 'T' : 'F') : '-'; }
  void raw(const wagroups::RawJson& r) {
    if (r.empty()) out_ += "(none)";
    else text(r.str());
  }
  void context(const wagroups::WebhookContext& c) {
    text(c.waba_id);
    text(c.phone_number_id);
    text(c.display_phone_number);
    text(c.field);
    number(c.timestamp);
    number(static_cast<long long>(c.entry_index));
    number(static_cast<long long>(c.change_index));
    number(static_cast<long long>(c.item_index));
  }
  void participant(const wagroups::Participant& p) {
    text(p.wa_id);
    text(p.user_id);
    text(p.parent_user_id);
    text(p.username);
    text(p.input);
  }
  void participants(const std::vector<wagroups::Participant>& v) {
    number(static_cast<long long>(v.size()));
    for (const auto& p : v) participant(p);
  }
  void errors(const std::vector<wagroups::ItemError>& v) {
    number(static_cast<long long>(v.size()));
    for (const auto& e : v) {
      number(e.code);
      text(e.title);
      text(e.message);
      text(e.details);
      text(e.href);
    }
  }
  void setting(const std::optional<wagroups::SettingOutcome>& s) {
    if (!s) {
      out_ += '-';
      return;
    }
    text(s->text);
    text(s->mime_type);
    text(s->sha256);
    flag(s->update_successful);
    errors(s->errors);
  }
  void message(const wagroups::InboundMessage& m) {
    context(m.context);
    for (const auto* s : {&m.id, &m.type}) text(*s);
    for (const auto* s : {&m.group_id, &m.from, &m.from_user_id, &m.from_parent_user_id, &m.username, &m.contact_name,
                          &m.contact_wa_id, &m.text, &m.caption, &m.media_id, &m.mime_type, &m.sha256, &m.filename})
      text(*s);
    if (m.reply_to) {
      text(m.reply_to->from);
      text(m.reply_to->id);
    }
    errors(m.errors);
    raw(m.raw);
  }
  void status(const wagroups::MessageStatusData& m) {
    context(m.context);
    text(m.id);
    text(m.status);
    number(static_cast<int>(m.delivery_status));
    for (const auto* s :
         {&m.recipient_id, &m.recipient_type, &m.recipient_user_id, &m.group_id, &m.recipient_participant_id,
          &m.recipient_participant_user_id, &m.recipient_participant_parent_user_id, &m.contact_name, &m.username,
          &m.conversation_id, &m.pricing_category, &m.pricing_type, &m.pricing_model, &m.biz_opaque_callback_data})
      text(*s);
    flag(m.billable);
    errors(m.errors);
    raw(m.raw);
  }

  void operator()(const wagroups::GroupCreated& e) {
    context(e.context);
    text(e.group_id);
    for (const auto* s : {&e.request_id, &e.subject, &e.description, &e.invite_link}) text(*s);
    number(e.join_approval_mode ? static_cast<int>(*e.join_approval_mode) : -1);
    participants(e.added_participants);
    raw(e.raw);
  }
  void operator()(const wagroups::GroupCreateFailed& e) {
    context(e.context);
    for (const auto* s : {&e.group_id, &e.request_id, &e.subject, &e.description}) text(*s);
    errors(e.errors);
    raw(e.raw);
  }
  void operator()(const wagroups::GroupDeleted& e) {
    context(e.context);
    text(e.group_id);
    text(e.request_id);
    raw(e.raw);
  }
  void operator()(const wagroups::GroupDeleteFailed& e) {
    context(e.context);
    text(e.group_id);
    text(e.request_id);
    errors(e.errors);
    raw(e.raw);
  }
  void operator()(const wagroups::ParticipantsAdded& e) {
    context(e.context);
    text(e.group_id);
    text(e.reason);
    text(e.request_id);
    participants(e.added_participants);
    raw(e.raw);
  }
  void operator()(const wagroups::ParticipantsRemoved& e) {
    context(e.context);
    text(e.group_id);
    text(e.request_id);
    number(static_cast<int>(e.initiated_by));
    text(e.initiated_by_raw);
    participants(e.removed_participants);
    number(static_cast<long long>(e.failed_participants.size()));
    for (const auto& f : e.failed_participants) {
      participant(f.participant);
      errors(f.errors);
    }
    errors(e.errors);
    raw(e.raw);
  }
  template <typename JoinRequest>
  void join_request(const JoinRequest& e) {
    context(e.context);
    text(e.group_id);
    text(e.join_request_id);
    text(e.reason);
    participant(e.requester);
    raw(e.raw);
  }
  void operator()(const wagroups::JoinRequestCreated& e) { join_request(e); }
  void operator()(const wagroups::JoinRequestRevoked& e) { join_request(e); }
  void operator()(const wagroups::GroupSettingsUpdated& e) {
    context(e.context);
    text(e.group_id);
    text(e.request_id);
    setting(e.group_subject);
    setting(e.group_description);
    setting(e.profile_picture);
    errors(e.errors);
    raw(e.raw);
  }
  void operator()(const wagroups::GroupSuspended& e) {
    context(e.context);
    text(e.group_id);
    raw(e.raw);
  }
  void operator()(const wagroups::GroupSuspensionCleared& e) {
    context(e.context);
    text(e.group_id);
    raw(e.raw);
  }
  void operator()(const wagroups::GroupMessageReceived& e) { message(e); }
  void operator()(const wagroups::DirectMessageReceived& e) { message(e); }
  void operator()(const wagroups::GroupMessageStatus& e) { status(e); }
  void operator()(const wagroups::DirectMessageStatus& e) { status(e); }
  void operator()(const wagroups::UnknownEvent& e) {
    context(e.context);
    text(e.type);
    raw(e.raw);
  }
  void operator()(const wagroups::CustomEvent& e) {  // no decoder is registered: never produced
    context(e.context);
    raw(e.raw);
  }

  const std::string& str() const noexcept { return out_; }

 private:
  std::string out_;
};

/// The outcome of one parse as a string: "error <code>" or every event's fields.
std::string outcome(const wagroups::Result<wagroups::WebhookBatch>& result, const wagroups::WebhookLimits& limits) {
  if (!result.ok()) return "error " + std::to_string(static_cast<int>(result.error().code));
  WAGROUPS_FUZZ_REQUIRE(result->events.size() <= limits.max_events);
  Digest digest;
  digest.text(result->object);
  for (const auto& event : result->events) {
    digest.text(std::string(wagroups::kind_of(event)));
    digest.context(wagroups::context_of(event));
    digest.text(wagroups::group_id_of(event));
    digest.text(wagroups::request_id_of(event));
    std::visit(digest, event);
  }
  return "ok " + digest.str();
}

const char kSecret[] = "fuzz-app-secret-0123456789";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const wagroups::WebhookParser parser;
  static const wagroups::SignatureVerifier verifier(kSecret);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    // 1. The whole input as a body: parse, parse_in_place and verify_and_parse agree.
    const std::string plain = outcome(parser.parse(input), parser.limits());
    const std::string in_place = outcome(parser.parse_in_place(std::string(input)), parser.limits());
    WAGROUPS_FUZZ_REQUIRE(plain == in_place);
    const std::string signature = verifier.sign(input);
    WAGROUPS_FUZZ_REQUIRE(signature.size() == 7 + 64);
    WAGROUPS_FUZZ_REQUIRE(verifier.verify(input, signature).ok());
    const std::string verified =
        outcome(parser.verify_and_parse(std::string(input), signature, verifier), parser.limits());
    WAGROUPS_FUZZ_REQUIRE(plain == verified);

    // 2. The first line as the header, the rest as the body.
    const std::size_t newline = input.find('\n');
    if (newline != std::string_view::npos) {
      const std::string_view header = input.substr(0, newline);
      const std::string_view body = input.substr(newline + 1);
      const bool genuine = verifier.verify(body, header).ok();
      auto result = parser.verify_and_parse(std::string(body), header, verifier);
      if (genuine) {
        WAGROUPS_FUZZ_REQUIRE(outcome(result, parser.limits()) == outcome(parser.parse(body), parser.limits()));
      } else {
        WAGROUPS_FUZZ_REQUIRE(!result.ok());
        WAGROUPS_FUZZ_REQUIRE(
            result.error().code == wagroups::ErrorCode::unauthenticated ||
            (body.size() > parser.limits().max_body_bytes && result.error().code == wagroups::ErrorCode::decode));
      }
    }
  } catch (...) {
    wagroups_fuzz::fail("the webhook parser threw", __FILE__, __LINE__);
  }
  return 0;
}
