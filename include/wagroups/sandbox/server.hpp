#pragma once

/// @file
/// `SandboxServer`: the `Simulator` over loopback HTTP (cpp-httplib), for end-to-end runs with the
/// real `CurlTransport` and a real webhook endpoint. Optional component: link
/// `wagroups::sandbox_server` (`find_package(wagroups COMPONENTS sandbox_server)`), built with
/// `WAGROUPS_WITH_SANDBOX_SERVER=ON` (needs cpp-httplib).

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "wagroups/result.hpp"
#include "wagroups/export.hpp"
#include "wagroups/sandbox/simulator.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sandbox {

/// The simulator over loopback HTTP (cpp-httplib), for end-to-end runs with `CurlTransport`.
struct ServerOptions {
  /// Loopback only: "127.0.0.1", "::1" or "localhost" (bound as 127.0.0.1); anything else is
  /// refused with `invalid_argument`.
  std::string host = "127.0.0.1";
  int port = 0;  ///< 0: an ephemeral port
  /// Where webhooks are POSTed (e.g. "http://127.0.0.1:8080/webhook"); unset: they stay queued.
  std::optional<std::string> webhook_url;
  /// Asynchronous like Meta: queued webhooks are POSTed by a background thread after this delay.
  std::chrono::milliseconds webhook_delay{20};
  /// A webhook the host does not answer 200 is retried this many times, then dropped (logged).
  int webhook_retries = 3;
  /// A client must send each whole request (line, headers, body) within this time, else its
  /// connection is closed; so a slow client holds one of the server's 8 workers for no longer.
  std::chrono::milliseconds request_timeout{10000};
};

/// Requests are refused before their body is read when it is chunked or has no Content-Length
/// (411), is compressed (415) or is declared larger than 16 MiB (413); the connection is then
/// closed. The port is bound without SO_REUSEPORT, so a port another server holds is an error.
///
/// While it runs, the server owns the simulator's webhook sink (when `webhook_url` is set); the
/// simulator must outlive it. Webhooks still queued when it stops are not delivered.
class WAGROUPS_SANDBOX_SERVER_API SandboxServer {
 public:
  /// Binds and starts serving in background threads. A port that cannot be bound (in use) is an
  /// `ErrorCode::transport` error naming the address.
  static Result<std::unique_ptr<SandboxServer>> start(Simulator& simulator, ServerOptions options = {});
  ~SandboxServer();  ///< stops
  SandboxServer(const SandboxServer&) = delete;
  SandboxServer& operator=(const SandboxServer&) = delete;

  int port() const noexcept;
  /// "http://127.0.0.1:<port>": put it in `ClientOptions::base_url`.
  std::string base_url() const;
  /// Blocks until every queued webhook has been delivered (or dropped) or `timeout` passes; true
  /// when none is left. Without a `webhook_url` it does not wait: true when the simulator holds none.
  bool wait_for_webhooks(std::chrono::milliseconds timeout);
  /// Webhooks POSTed and answered 200 so far.
  std::size_t webhooks_delivered() const noexcept;
  void stop();

 private:
  struct Impl;
  explicit SandboxServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
