#pragma once

/// @file
/// The libcurl-backed `Transport` (curl itself stays out of this header).

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "wagroups/export.hpp"
#include "wagroups/http/transport.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

struct CurlTransportOptions {
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  /// Whole-exchange limit for a request that carries none (`Client` always sets one, from
  /// `ClientOptions::request_timeout`).
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  /// Abort a transfer slower than 1 byte/s for this long (0 disables the stall check).
  std::chrono::seconds low_speed_time{30};
  /// CA bundle file for TLS verification; the system default when unset. Verification is always on.
  std::optional<std::string> ca_bundle;
  /// Proxy URL. Unset: libcurl's default, which honours the http_proxy / https_proxy / no_proxy
  /// environment variables. Empty string: never use a proxy.
  std::optional<std::string> proxy;
  /// A response body larger than this aborts the transfer with a transport error (curl code 63,
  /// not retried); 0 disables the limit. A 1024-group page is about 100 KB.
  std::size_t max_response_bytes = 64u * 1024u * 1024u;
  /// Prefer HTTP/2 over TLS where libcurl supports it (plain-HTTP URLs stay on HTTP/1.1).
  bool http2 = true;
  /// Easy handles (and so kept-alive connections) kept idle for reuse; more concurrent callers
  /// still work, their extra handles are closed after use.
  std::size_t max_idle_handles = 16;
  /// Call `curl_global_init` once (thread-safe, on first use). Turn off only when the host
  /// initialises libcurl itself before creating a transport.
  bool global_init = true;
};

/// A thread-safe transport over libcurl's easy interface (and its multi interface for
/// `send_concurrently`). Each call checks a handle out of a small
/// pool, so sequential calls reuse the same kept-alive connection; DNS and TLS session data are
/// shared across handles. Signals are never used (`CURLOPT_NOSIGNAL`): hosts should ignore SIGPIPE.
class WAGROUPS_API CurlTransport final : public Transport {
 public:
  explicit CurlTransport(CurlTransportOptions options = {});
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  Result<HttpResponse> send(const HttpRequest& request) override;
  /// Runs the requests on one curl multi handle (kept, with its connections, for the next call):
  /// multiplexed over one HTTP/2 connection where the server offers it (`http2`, over TLS), one
  /// kept-alive connection per request in flight otherwise.
  void send_concurrently(ConcurrentRequests& work, std::size_t max_in_flight) override;

  /// How many connections libcurl opened over this transport's life (a reuse diagnostic).
  long connections_opened() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Convenience: `std::make_shared<CurlTransport>(options)`.
WAGROUPS_API std::shared_ptr<Transport> make_curl_transport(CurlTransportOptions options = {});

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
