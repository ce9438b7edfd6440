#pragma once

/// @file
/// The one seam between the client and the network: `Transport::send`.

#include <chrono>
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

/// Sends one HTTP request. An HTTP 4xx or 5xx answer is a *successful* send (the caller maps it);
/// only a failure to complete the exchange is an `Error` (kind `transport`), with
/// `request_may_have_been_sent` false when nothing left this host.
///
/// Implementations must be safe to call from several threads at once.
class WAGROUPS_API Transport {
 public:
  virtual ~Transport();
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
