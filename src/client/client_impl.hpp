#pragma once

// Client::Impl, shared by the client's operations (client.cpp) and its fan-out (fanout.cpp).

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "client/validation.hpp"
#include "http/retry.hpp"
#include "json/codecs.hpp"
#include "util/secret.hpp"
#include "util/text.hpp"
#include "wagroups/client/client.hpp"
#include "wagroups/http/curl_transport.hpp"
#include "wagroups/version.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace client_detail {

inline constexpr std::size_t kExcerptBytes = 200;

inline bool is_unreserved(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// Percent-encodes everything outside RFC 3986's unreserved set (and `keep`).
inline std::string percent_encode(std::string_view text, std::string_view keep = {}) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || keep.find(ch) != std::string_view::npos) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

using Query = std::vector<std::pair<std::string, std::string>>;

}  // namespace client_detail

struct Client::Impl {
  ClientOptions options;
  std::shared_ptr<Transport> transport;
  std::string user_agent;
  std::string authorization;  // "Bearer <token>", built once
  retry::Hooks hooks;
  mutable std::mutex rng_mutex;
  mutable std::mt19937_64 rng{seed()};

  // Jitter only needs to differ between processes; std::random_device may throw where no entropy
  // source exists, and a constructor must not.
  static std::uint64_t seed() noexcept {
    try {
      return std::random_device{}();
    } catch (...) {
      return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
  }

  explicit Impl(ClientOptions o) : options(std::move(o)) {
    if (options.transport) {
      transport = options.transport;
    } else {
      CurlTransportOptions curl;
      curl.connect_timeout = options.connect_timeout;
      curl.request_timeout = options.request_timeout;
      transport = make_curl_transport(std::move(curl));
    }
    user_agent = std::string("wagroups/") + WAGROUPS_VERSION_STRING;
    authorization = "Bearer " + options.access_token;
    if (!options.user_agent_suffix.empty()) user_agent += " " + options.user_agent_suffix;
    while (!options.base_url.empty() && options.base_url.back() == '/') options.base_url.pop_back();
    hooks.sleeper =
        options.sleeper ? options.sleeper : [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
    hooks.clock = options.clock ? options.clock : [] { return std::chrono::system_clock::now(); };
    hooks.secret = options.access_token;
    if (options.random) {
      hooks.random = options.random;
    } else {
      hooks.random = [this] {
        std::lock_guard<std::mutex> lock(rng_mutex);
        return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
      };
    }
  }

  // The token's copies are wiped before their memory goes back to the heap (util/secret.hpp).
  ~Impl() {
    secret::cleanse(options.access_token);
    secret::cleanse(authorization);
    secret::cleanse(hooks.secret);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  /// Wipes a request's "Authorization" values once it was sent (the request is about to be freed).
  static void wipe_credentials(HttpRequest& r) noexcept {
    for (auto& header : r.headers) {
      if (text::iequals_ascii(header.first, "Authorization")) secret::cleanse(header.second);
    }
  }

  // The options are checked on every call (a constructor cannot return an Error); each check is a
  // few comparisons.
  Result<void> check_credentials(bool needs_phone) const {
    if (options.access_token.empty())
      return Error::invalid_argument("access_token", "non-empty", "ClientOptions.access_token is not set");
    if (options.api_version.empty())
      return Error::invalid_argument("api_version", "non-empty, e.g. v26.0", "ClientOptions.api_version is empty");
    if (auto r = validation::require_path_id("api_version", options.api_version); !r) return r;
    if (options.base_url.empty())
      return Error::invalid_argument("base_url", "non-empty", "ClientOptions.base_url is empty");
    if (auto r = validation::check_base_url(options.base_url, options.allow_insecure_http); !r) return r;
    if (auto r = validation::check_user_agent_suffix(options.user_agent_suffix); !r) return r;
    if (needs_phone) {
      if (options.phone_number_id.empty())
        return Error::invalid_argument("phone_number_id", "non-empty",
                                       "ClientOptions.phone_number_id is not set; this operation needs it");
      return validation::require_path_id("phone_number_id", options.phone_number_id);
    }
    return {};
  }

  // Credentials and a group id that becomes a path segment: the common checks of group operations.
  Result<void> check_group(const std::string& group_id) const {
    if (auto r = check_credentials(false); !r) return r;
    return validation::require_path_id("group_id", group_id);
  }

  using Query = client_detail::Query;

  std::string url(std::initializer_list<std::string_view> segments, const Query& query = {}) const {
    std::string out = options.base_url + "/" + options.api_version;
    for (std::string_view s : segments) {
      out += '/';
      out += client_detail::percent_encode(s);
    }
    char sep = '?';
    for (const auto& [k, v] : query) {
      out += sep;
      out += client_detail::percent_encode(k);
      out += '=';
      out += client_detail::percent_encode(v, ",");
      sep = '&';
    }
    return out;
  }

  HttpRequest request(HttpMethod method, std::string target, std::string body, const CallOptions& call,
                      std::string content_type = "application/json") const {
    HttpRequest r;
    r.method = method;
    r.url = std::move(target);
    r.headers.reserve(4);
    r.headers.emplace_back("Authorization", authorization);
    r.headers.emplace_back("Accept", "application/json");
    r.headers.emplace_back("User-Agent", user_agent);
    if (!body.empty()) r.headers.emplace_back("Content-Type", std::move(content_type));
    r.body = std::move(body);
    r.timeout = call.timeout.value_or(options.request_timeout);
    return r;
  }

  // Graph echoes a malformed token back in its message ("Malformed access token EAA..."): an
  // Error must never carry it, whatever part of a response it was copied from.
  Error redact(Error e) const {
    const std::string& token = options.access_token;
    for (std::string* text : {&e.message, &e.field, &e.limit}) text::redact(*text, token);
    if (e.graph) redact(*e.graph);
    return e;
  }
  // Every text member: `type` and `fbtrace_id` are rendered by Error::to_string too.
  void redact(GraphError& g) const {
    const std::string& token = options.access_token;
    text::redact(g.type, token);
    text::redact(g.message, token);
    for (auto* text : {&g.details, &g.fbtrace_id, &g.error_user_title, &g.error_user_msg}) {
      if (*text) text::redact(**text, token);
    }
  }
  // A partial success is data, not an Error, but carries Graph's texts all the same.
  void redact(std::optional<GraphError>& partial_error, std::vector<ItemError>& errors) const {
    if (partial_error) redact(*partial_error);
    for (ItemError& item : errors) {
      for (auto* text : {&item.title, &item.message, &item.details}) {
        if (*text) text::redact(**text, options.access_token);
      }
    }
  }

  // Takes the request (built for this call) to wipe its Authorization header after the last attempt.
  Result<HttpResponse> execute(HttpRequest r, Idempotency idempotency, const CallOptions& call) const {
    auto sent = retry::send_with_retries(*transport, r, call.idempotency.value_or(idempotency),
                                         call.retry.value_or(options.retry), hooks);
    wipe_credentials(r);
    if (!sent) return redact(std::move(sent).error());
    return sent;
  }

  // Sends and decodes: the common shape of every operation.
  template <typename Decode>
  auto call(HttpMethod method, std::string target, std::string body, Idempotency idempotency,
            const CallOptions& call_options, Decode decode, std::string content_type = "application/json") const
      -> decltype(decode(std::declval<HttpResponse&>())) {
    auto sent = execute(request(method, std::move(target), std::move(body), call_options, std::move(content_type)),
                        idempotency, call_options);
    if (!sent) return std::move(sent).error();
    return decode_answer(*sent, decode);
  }

  // Decodes a 2xx answer; one carrying Graph's error envelope is an error of the API.
  template <typename Decode>
  auto decode_answer(HttpResponse& response, Decode decode) const -> decltype(decode(std::declval<HttpResponse&>())) {
    auto decoded = decode(response);
    if (!decoded) {
      // A 2xx carrying Graph's error envelope is an error of the API, not of decoding.
      Error graph = codec::decode_error_response(response, options.access_token);
      if (graph.graph) return redact(std::move(graph));
      Error& e = decoded.error();
      e.http_status = response.status;
      e.message += " (body: " + text::excerpt(response.body, options.access_token, client_detail::kExcerptBytes) + ")";
      e = redact(std::move(e));
    }
    return decoded;
  }

  // The request that sends one message to one group, after every check: `send_group_message` and
  // the fan-out build it here, so that both validate and encode alike.
  Result<std::string> group_message_body(const GroupMessage& message) const {
    if (auto r = validation::check(message); !r) return r.error();
    return codec::encode_group_message(message);
  }
  // The request around a body from group_message_body (credentials checked by the caller).
  HttpRequest group_message_request(std::string body, const CallOptions& call) const {
    return request(HttpMethod::post, url({options.phone_number_id, "messages"}), std::move(body), call);
  }

  static Result<SendMessageResponse> decode_sent_message(HttpResponse& response) {
    return codec::decode_send_message(response.body);
  }

  std::string multipart_boundary(const ProfilePicture& picture) const {
    for (;;) {
      std::uint64_t n;
      {
        std::lock_guard<std::mutex> lock(rng_mutex);
        n = rng();
      }
      std::string boundary = "wagroups-" + std::to_string(n);
      if (picture.jpeg_bytes.find(boundary) == std::string::npos) return boundary;
    }
  }
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
