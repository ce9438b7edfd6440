#pragma once

/// @file
/// The one seam between the client and the network: `Transport::send` (and
/// `Transport::send_concurrently`, for fan-out).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wagroups/result.hpp"
#include "wagroups/export.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

enum class HttpMethod { get, post, delete_ };

/// "GET", "POST" or "DELETE".
WAGROUPS_API const char* to_string(HttpMethod method) noexcept;

/// Header fields in order; names compare case-insensitively through `find_header`.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

/// The value of the first header named `name` (ASCII case-insensitive), if any.
WAGROUPS_API std::optional<std::string_view> find_header(const HttpHeaders& headers, std::string_view name) noexcept;

struct HttpRequest {
  HttpMethod method = HttpMethod::get;
  std::string url;  ///< absolute URL, query included
  HttpHeaders headers;
  std::string body;  ///< raw bytes (JSON or multipart); empty for none
  /// Whole-exchange limit for this request; zero means the transport's default.
  std::chrono::milliseconds timeout{0};

  std::optional<std::string_view> header(std::string_view name) const noexcept { return find_header(headers, name); }
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;

  std::optional<std::string_view> header(std::string_view name) const noexcept { return find_header(headers, name); }
};

/// The caller's side of `Transport::send_concurrently`: hands out requests one at a time and takes
/// their outcomes. The transport calls both methods from the thread that called
/// `send_concurrently`, never two at once.
class WAGROUPS_API ConcurrentRequests {
 public:
  /// What `next` asks the transport to do.
  struct Next {
    enum class Kind {
      request,  ///< start `request`; its outcome comes back to `completed` with `tag`
      later,    ///< nothing to start now: ask again after `wait` or when a request completes
      done,     ///< nothing more will be started; the transport finishes what is in flight
    };
    Kind kind = Kind::done;
    HttpRequest request;
    std::uint64_t tag = 0;
    std::chrono::milliseconds wait{0};
  };

  virtual ~ConcurrentRequests();
  /// Called whenever the transport could start a request. `in_flight` is how many it has started
  /// whose outcome has not been reported yet. With nothing in flight, `later` is not allowed: the
  /// implementation waits itself (with its own, injectable, sleeper) until it can answer
  /// `request` or `done`.
  virtual Next next(std::size_t in_flight) = 0;
  /// The outcome of the request started with `tag`, exactly once per started request.
  virtual void completed(std::uint64_t tag, Result<HttpResponse> response) = 0;
};

/// Sends one HTTP request. An HTTP 4xx or 5xx answer is a *successful* send (the caller maps it);
/// only a failure to complete the exchange is an `Error` (kind `transport`), with
/// `request_may_have_been_sent` false when nothing left this host.
///
/// Implementations must be safe to call from several threads at once.
class WAGROUPS_API Transport {
 public:
  virtual ~Transport();
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;

  /// Runs the requests `work` hands out with at most `max_in_flight` of them under way at once,
  /// until `work` answers `done` and every started request has been reported. The default runs
  /// them one after another over `send` (so a transport that implements only `send` works, one at
  /// a time); `CurlTransport` runs them concurrently on one curl multi handle, multiplexed over
  /// HTTP/2 where the server offers it. A transport must never re-send a request on its own.
  virtual void send_concurrently(ConcurrentRequests& work, std::size_t max_in_flight);
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
