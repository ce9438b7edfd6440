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

/// How the simulated number and Meta behave.
struct SimulatorOptions {
  std::string waba_id = "100000000000001";
  std::string phone_number_id = "200000000000002";
  std::string display_phone_number = "15550100100";
  std::string app_secret = "sandbox-secret";  ///< signs every webhook
  /// When set, requests must carry `Authorization: Bearer <token>` (else Graph error 190).
  std::optional<std::string> access_token;
  bool eligible = true;                                               ///< false: every group operation answers 131215
  int max_groups = static_cast<int>(limits::max_groups_per_number);   ///< active groups per number (131211 beyond)
  int max_participants = static_cast<int>(limits::max_participants);  ///< including the business (131204 beyond)
  /// Group operations (create, settings, delete, remove, invite link, join-request actions) allowed
  /// per `rate_window` per number; beyond: HTTP 429 + Retry-After + code 131208. 0 = no limit.
  int group_ops_per_window = 0;
  std::chrono::seconds rate_window{60};
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

  // --- Graph API -------------------------------------------------------------------------------
  /// Answers one Graph request (path after the version, query, method, JSON or multipart body)
  /// as Meta would. Unknown paths: 404 with a Graph error envelope.
  /// `request.url` may be absolute or a path ("/v23.0/..."); any version prefix, or none, is taken.
  /// Codes where Meta documents none: an unsupported type in a group (interactive, reaction,
  /// location, contacts) 130501; a send before anyone joined 131020; an unknown or deleted group
  /// 131041; a removal naming no member 131212 (some members: HTTP 206 with 131201); generic
  /// validation 100 / 131008 / 131009. Create, settings and delete answer with a `request_id`.
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
