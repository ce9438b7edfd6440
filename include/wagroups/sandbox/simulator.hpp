#pragma once

/// @file
/// `wagroups::sandbox`: an offline simulation of Meta's Groups API, so that the demo, the examples
/// and host tests run with no Meta account. It answers the Graph paths the `Client` uses, with
/// Meta's limits and error codes, and emits signed webhooks shaped like Meta's.
///
/// Two ways to use it:
///  - in process: `Simulator::transport()` goes into `ClientOptions::transport`; webhooks queue up
///    and `flush()` hands them to a sink (deterministic, for host unit tests);
///  - over loopback HTTP: `SandboxServer` (sandbox_server.hpp, component wagroups::sandbox_server)
///    serves the Graph paths on 127.0.0.1 and POSTs its webhooks to a host URL, so the real
///    `CurlTransport` and a real webhook endpoint run end to end.
///
///     sandbox::Simulator sim;                      // eligible number, app secret "sandbox-secret"
///     ClientOptions options;
///     options.access_token = "any";
///     options.phone_number_id = sim.options().phone_number_id;
///     options.transport = sim.transport();
///     Client client(options);
///     auto created = client.create_group({"Order #1042"});   // request_id now
///     sim.flush();                                            // the signed group_create webhook

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wagroups/result.hpp"
#include "wagroups/export.hpp"
#include "wagroups/models/common.hpp"
#include "wagroups/client/options.hpp"
#include "wagroups/http/transport.hpp"
#include "wagroups/limits.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sandbox {

/// How the simulator answers the asynchronous operations (create, settings, delete, remove).
enum class AsyncAnswers {
  /// As Meta's pages document them: create `{"messaging_product":"whatsapp","request_id":...}`,
  /// delete `{"success":true}`, settings and a full removal HTTP 200 with an empty body. Only the
  /// webhooks carry the `request_id` of the other three.
  documented,
  /// Every answer carries the webhook's `request_id` (settings `{"messaging_product","request_id",
  /// "success"}`, delete and removal `{"success":true,"request_id":...}`), as the simulator did
  /// before Meta's documented shapes were followed.
  spec_request_ids,
};

/// An error the simulator reports where Meta documents the shape of a failure but no code: in a
/// failed webhook (create, delete, settings) or a `failed` message status.
struct SimulatedError {
  int code = 131000;  ///< Cloud API "Something went wrong"
  std::string title = "Something went wrong";
  std::string details = "The simulator was configured to fail this operation (SimulatorOptions::async_failures).";
};

/// Which accepted asynchronous operations Meta later reports as failed in their webhook.
struct AsyncFailures {
  bool group_create = false;       ///< group_create with `errors[]`; no group is created
  bool group_delete = false;       ///< group_delete with `errors[]`; the group stays
  bool group_subject = false;      ///< group_settings_update: `group_subject.update_successful` false
  bool group_description = false;  ///< ... `group_description` likewise
  bool profile_picture = false;    ///< ... `profile_picture` likewise
  /// A business message to a group: one `failed` status (no `sent`, `delivered` or `read`).
  bool group_messages = false;
  SimulatedError error;
};

/// What `GET /{phone-number-id}?fields=...` answers (field names of Meta's phone number node).
/// Groups eligibility follows it: not an Official Business Account, a WhatsApp Business app
/// number (coexistence) or a `platform_type` other than CLOUD_API answers 131215 on every group
/// operation, as `eligible = false` does.
/// `messaging_limit_tier` is reported only: Meta documents no tier requirement for Groups.
struct NumberProfile {
  bool is_official_business_account = true;
  bool is_on_biz_app = false;
  std::string platform_type = "CLOUD_API";
  std::string messaging_limit_tier = "TIER_100K";  ///< TIER_50 ... TIER_100K, TIER_UNLIMITED
  std::string status = "CONNECTED";
  std::string throughput_level = "STANDARD";  ///< throughput{level}
  std::string verified_name = "Sandbox Business";
  std::string quality_rating = "GREEN";
  std::string code_verification_status = "VERIFIED";
  std::string name_status = "APPROVED";
  std::string account_mode = "LIVE";
  std::string health_can_send_message = "AVAILABLE";  ///< health_status{can_send_message}
};

/// How the simulated number and Meta behave.
struct SimulatorOptions {
  std::string waba_id = "100000000000001";
  std::string phone_number_id = "200000000000002";
  std::string display_phone_number = "15550100100";
  std::string app_secret = "sandbox-secret";  ///< signs every webhook
  /// When set, requests must carry `Authorization: Bearer <token>` (else Graph error 190).
  std::optional<std::string> access_token;
  /// false: every group operation answers 131215 (for reasons `number` cannot say, e.g. a
  /// Multi-solution Conversations number).
  bool eligible = true;
  NumberProfile number;
  /// Meta's 131214 (creation disabled after excessive marketing messages): every create answers it.
  bool group_creation_disabled = false;
  int max_groups = static_cast<int>(limits::max_groups_per_number);   ///< active groups per number (131211 beyond)
  int max_participants = static_cast<int>(limits::max_participants);  ///< including the business (131204 beyond)
  /// Group operations (create, settings, delete, remove, invite link, join-request actions) allowed
  /// per `rate_window` per number; beyond: HTTP 429 + Retry-After + code 131208. 0 = no limit.
  int group_ops_per_window = 0;
  std::chrono::seconds rate_window{60};
  AsyncAnswers async_answers = AsyncAnswers::documented;
  AsyncFailures async_failures;
  /// Template names Meta has in the MARKETING category: their group statuses are priced
  /// `group_marketing` (others `group_utility`).
  std::vector<std::string> marketing_templates;
  /// `reason` on join-request webhooks (Meta enumerates no values; empty: no `reason`).
  std::string join_request_created_reason = "invite_link";
  std::string join_request_revoked_reason = "user_revoked";
  /// After a business message to a group: each member's `delivered` and `read` statuses
  /// (aggregated into one webhook per status type, as Meta may).
  bool auto_statuses = true;
  /// Webhook realism, to exercise hosts (0 = never): a share of deliveries with Meta's other
  /// spellings (group_participant_update, group_add_participants, participant_recipient_id, ...),
  /// delivered twice, or swapped with the next one.
  double spelling_variant_share = 0;
  double duplicate_share = 0;
  double reorder_share = 0;
  std::uint64_t seed = 1;
  /// Timestamps in webhooks and ids; default: the system clock.
  Clock clock;
  /// Computes `X-Hub-Signature-256` for a body; default: the simulator's own HMAC-SHA256 with
  /// `app_secret`. A host may inject wrong signatures to test its receiver. No value (a failed
  /// signature) fails closed: the webhook is not queued and the call that caused it answers an
  /// error (Graph code 1, HTTP 500; a people-side call an `Error` with that code). The change
  /// itself stands, as after a 500 from Meta; a saved state whose webhooks cannot be signed again
  /// does not load. Called with the simulator's lock held: it must not call the simulator.
  std::function<std::optional<std::string>(const std::string& body)> signer;
};

/// An inbound media message a member sends (`send_media`).
struct InboundMedia {
  std::string type = "image";  ///< image, video, audio, document or sticker
  std::string mime_type = "image/jpeg";
  std::optional<std::string> caption;   ///< image, video and document
  std::optional<std::string> filename;  ///< document
};

/// A simulated WhatsApp user.
struct Person {
  std::string phone;                   ///< digits, e.g. "15550123001"
  std::optional<std::string> user_id;  ///< BSUID, e.g. "US.1001"
  std::optional<std::string> username;
  std::string name = "Customer";  ///< profile name in contacts[]
};

/// One webhook POST as Meta would send it.
struct WebhookDelivery {
  std::string body;       ///< the JSON body, byte-exact as signed
  std::string signature;  ///< the X-Hub-Signature-256 value: "sha256=<hex>"
  std::string field;      ///< changes[0].field, for logs and filters
};

/// A member as the simulator sees it.
struct SimMember {
  Person person;
  bool joined = false;  ///< false: a pending join request
  std::optional<std::string> join_request_id;
};

struct SimGroup {
  std::string group_id;
  std::string subject;
  std::optional<std::string> description;
  JoinApprovalMode join_approval_mode = JoinApprovalMode::auto_approve;
  std::string invite_link;
  bool suspended = false;
  bool deleted = false;
  std::int64_t creation_timestamp = 0;
  std::vector<SimMember> members;  ///< customers (the business is implicit and takes one seat)
  std::vector<std::string> business_message_ids;
};

/// The simulated Graph API and its webhook outbox. Thread-safe.
class WAGROUPS_SANDBOX_API Simulator {
 public:
  explicit Simulator(SimulatorOptions options = {});
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  const SimulatorOptions& options() const noexcept;
  /// Changes eligibility at run time (e.g. to test 131215 after setup).
  void set_eligible(bool eligible);
  /// Meta disables / re-enables group creation at run time (131214 on create).
  void set_group_creation_disabled(bool disabled);

  // --- Graph API -------------------------------------------------------------------------------
  /// Answers one Graph request (path after the version, query, method, JSON or multipart body)
  /// as Meta would. Unknown paths or methods: HTTP 400, Graph's `GraphMethodException` code 100
  /// (subcode 33, "Unsupported get request. ...").
  /// `request.url` may be absolute or a path ("/v23.0/..."); any version prefix, or none, is taken.
  /// Codes where Meta documents none: an unsupported type in a group (interactive, reaction,
  /// location, contacts) 130501; a send before anyone joined 131020; an unknown or deleted group
  /// 131041; a removal naming no member 131212 (some members: HTTP 206 with 131201); join-request
  /// actions where some ids fail: HTTP 206 with 131201; generic validation 100 / 131008 / 131009.
  /// Answer bodies of the asynchronous operations: see `AsyncAnswers`.
  /// `GET /{phone-number-id}?fields=...` answers from `SimulatorOptions::number`.
  HttpResponse handle(const HttpRequest& request);
  /// A Transport calling `handle` in process; use any base URL (the path is what counts).
  std::shared_ptr<Transport> transport();

  // --- Webhooks ---------------------------------------------------------------------------------
  /// Where `flush` delivers. Without a sink, deliveries stay queued until `take_webhooks`.
  void set_webhook_sink(std::function<void(const WebhookDelivery&)> sink);
  /// Delivers every queued webhook to the sink, in queue order; returns how many.
  std::size_t flush();
  /// Removes and returns the queued webhooks.
  std::vector<WebhookDelivery> take_webhooks();
  std::size_t pending_webhooks() const;

  // --- Simulated people ------------------------------------------------------------------------
  /// Someone opens an invite link: joins (auto_approve) or files a join request
  /// (approval_required). Errors: unknown/reset link, group full (131204), already a member.
  /// People-side errors are `invalid_argument` (`field` "invite_link" or "person") for misuse, or
  /// `graph_api` with Meta's code (131204, 131207, 131041, 131212, 131213) for what Meta refuses.
  Result<void> join_by_link(const std::string& invite_link, const Person& person);
  /// Cancels a pending join request (group_join_request_revoked).
  Result<void> cancel_join_request(const std::string& group_id, const Person& person);
  /// A member leaves (group_participants_remove initiated by the participant).
  Result<void> leave(const std::string& group_id, const Person& person);
  /// A member writes to the group; returns the new message id (an inbound messages webhook).
  Result<std::string> send_text(const std::string& group_id, const Person& sender, const std::string& text);
  /// A member sends media to the group (an inbound `image`/`video`/... webhook with a media id,
  /// `mime_type`, `sha256` and the caption); returns the new message id.
  Result<std::string> send_media(const std::string& group_id, const Person& sender, const InboundMedia& media);
  /// A member sends something Groups do not support (a poll, a view-once, ...): an inbound
  /// `type: "unsupported"` message with error 130501; returns the new message id.
  Result<std::string> send_unsupported(const std::string& group_id, const Person& sender);
  /// Someone replies 1:1 to the business (an inbound 1:1 message webhook).
  Result<std::string> send_direct_text(const Person& sender, const std::string& text);
  /// Meta suspends the group / lifts the suspension (group_status_update).
  Result<void> suspend(const std::string& group_id);
  Result<void> clear_suspension(const std::string& group_id);

  // --- Inspection -------------------------------------------------------------------------------
  std::optional<SimGroup> group(const std::string& group_id) const;
  std::vector<SimGroup> groups() const;

  // --- Persistence (for the CLI, whose invocations are separate processes) ----------------------
  /// The whole simulated state (groups, members, links, pending webhooks, counters) as JSON.
  std::string save_state() const;
  Result<void> load_state(const std::string& json);
  /// save_state() written to `path` atomically (a new temporary file, then rename), readable by
  /// the owner only (0600): the state holds people's numbers and messages.
  Result<void> save_state_file(const std::string& path) const;
  Result<void> load_state_file(const std::string& path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Writes `contents` to `path` as `save_state_file` does (owner-only 0600, atomic replace), for
/// hosts that keep the state inside a file of their own (the CLI adds its settings).
WAGROUPS_SANDBOX_API Result<void> write_state_file(const std::string& path, const std::string& contents);

}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
