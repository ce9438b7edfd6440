// The libcurl-backed Transport: a pool of easy handles (each one keeps its own kept-alive
// connections) plus one share handle for DNS and TLS session data.

#include "wagroups/http/curl_transport.hpp"

#include "util/text.hpp"

#include <curl/curl.h>

#include <array>
#include <atomic>
#include <climits>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

namespace {

// ---------------------------------------------------------------------------------------------
// curl_global_init, once per process. Never paired with curl_global_cleanup: the host may still be
// using libcurl when our static destructors run.

std::once_flag g_global_init_once;
CURLcode g_global_init_result = CURLE_OK;

CURLcode global_init_once() {
  std::call_once(g_global_init_once, [] { g_global_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return g_global_init_result;
}

// ---------------------------------------------------------------------------------------------
// Share-handle locking: one mutex per curl_lock_data value.

constexpr std::size_t kLockSlots = static_cast<std::size_t>(CURL_LOCK_DATA_LAST);

struct ShareLocks {
  std::array<std::mutex, kLockSlots> mutexes;
};

void share_lock_cb(CURL* /*handle*/, curl_lock_data data, curl_lock_access /*access*/,
                   void* userptr) {
  auto index = static_cast<std::size_t>(data);
  if (userptr != nullptr && index < kLockSlots) static_cast<ShareLocks*>(userptr)->mutexes[index].lock();
}

void share_unlock_cb(CURL* /*handle*/, curl_lock_data data, void* userptr) {
  auto index = static_cast<std::size_t>(data);
  if (userptr != nullptr && index < kLockSlots) static_cast<ShareLocks*>(userptr)->mutexes[index].unlock();
}

// ---------------------------------------------------------------------------------------------
// Response collection.

using text::trim_ascii;

struct ResponseSink {
  HttpHeaders headers;
  std::string body;
  std::size_t max_body = 0;  // 0: no limit
  bool too_large = false;
};

std::size_t on_header_cb(char* buffer, std::size_t size, std::size_t nitems, void* userdata) {
  const std::size_t total = size * nitems;
  auto* sink = static_cast<ResponseSink*>(userdata);
  try {
    std::string_view line(buffer, total);
    if (line.size() >= 5 && line.compare(0, 5, "HTTP/") == 0) {
      // A new status line: an interim (1xx) or redirect response's headers must not mix in.
      sink->headers.clear();
      return total;
    }
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      // Obsolete line folding: continues the previous header's value.
      std::string_view more = trim_ascii(line);
      if (!sink->headers.empty() && !more.empty()) {
        std::string& value = sink->headers.back().second;
        if (!value.empty()) value += ' ';
        value.append(more.data(), more.size());
      }
      return total;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return total;  // the blank line ending the block, or junk
    std::string_view name = trim_ascii(line.substr(0, colon));
    std::string_view value = trim_ascii(line.substr(colon + 1));
    if (name.empty()) return total;
    sink->headers.emplace_back(std::string(name), std::string(value));
    return total;
  } catch (...) {
    return 0;  // makes libcurl fail the transfer (CURLE_WRITE_ERROR) instead of unwinding through C
  }
}

std::size_t on_body_cb(char* data, std::size_t size, std::size_t nmemb, void* userdata) {
  const std::size_t total = size * nmemb;
  try {
    auto* sink = static_cast<ResponseSink*>(userdata);
    if (sink->max_body != 0 && sink->body.size() + total > sink->max_body) {
      sink->too_large = true;
      return 0;  // libcurl aborts the transfer
    }
    sink->body.append(data, total);
    return total;
  } catch (...) {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

long to_curl_millis(std::chrono::milliseconds d) noexcept {
  const auto count = d.count();
  if (count <= 0) return 0;
  if (count > static_cast<std::chrono::milliseconds::rep>(LONG_MAX)) return LONG_MAX;
  return static_cast<long>(count);
}

long to_curl_seconds(std::chrono::seconds d) noexcept {
  const auto count = d.count();
  if (count <= 0) return 0;
  if (count > static_cast<std::chrono::seconds::rep>(LONG_MAX)) return LONG_MAX;
  return static_cast<long>(count);
}

// A header name must be a non-empty token without ':'; neither part may carry CR, LF or NUL (which
// would let a value smuggle extra header lines onto the wire).
bool header_is_safe(std::string_view name, std::string_view value) noexcept {
  if (name.empty()) return false;
  for (char c : name) {
    if (c == ':' || c == '\r' || c == '\n' || c == '\0' || c == ' ' || c == '\t') return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// Belt and braces: libcurl's messages do not quote request headers, but should one ever do so,
// credentials are masked before the text reaches an Error.
void redact_credentials(std::string& message, const HttpHeaders& headers) {
  for (const auto& header : headers) {
    if (!text::iequals_ascii(header.first, "Authorization") &&
        !text::iequals_ascii(header.first, "Proxy-Authorization"))
      continue;
    std::string_view value = trim_ascii(header.second);
    const std::size_t space = value.find(' ');
    std::string_view credential = space == std::string_view::npos ? value : trim_ascii(value.substr(space + 1));
    text::redact(message, value);
    text::redact(message, credential);
  }
}

struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// Appends one line to the list; false when libcurl could not allocate.
bool slist_append(SlistPtr& list, const std::string& line) {
  curl_slist* grown = curl_slist_append(list.get(), line.c_str());
  if (grown == nullptr) return false;
  (void)list.release();
  list.reset(grown);
  return true;
}

}  // namespace

// -------------------------------------------------------------------------------------------------

struct CurlTransport::Impl {
  CurlTransportOptions options;
  CURLcode init_result = CURLE_OK;
  ShareLocks share_locks;
  CURLSH* share = nullptr;

  std::mutex pool_mutex;
  std::vector<CURL*> idle;  // LIFO: the most recently used handle has the warmest connection

  std::atomic<long> connects{0};

  explicit Impl(CurlTransportOptions opts) : options(std::move(opts)) {
    if (options.global_init) init_result = global_init_once();
    if (init_result != CURLE_OK) return;
    share = curl_share_init();
    if (share == nullptr) return;  // handles then work unshared
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock_cb);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock_cb);
    curl_share_setopt(share, CURLSHOPT_USERDATA, static_cast<void*>(&share_locks));
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }

  ~Impl() {
    // Easy handles first: a share handle still attached to one cannot be cleaned up.
    for (CURL* handle : idle) curl_easy_cleanup(handle);
    idle.clear();
    if (share != nullptr) curl_share_cleanup(share);
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Options that never change between requests are set once, when a handle is created; send()
  // sets every per-request option (URL, method, body, headers, timeout, buffers) on each use, so
  // nothing of one request carries over to the next. (A curl_easy_reset per request would cost a
  // few thousand instructions for nothing; live connections are kept either way.)
  CURLcode configure(CURL* h) const {
    CURLcode rc = CURLE_OK;
    if (share != nullptr) rc = curl_easy_setopt(h, CURLOPT_SHARE, share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85.0
    if (rc == CURLE_OK) rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (rc == CURLE_OK && options.ca_bundle) rc = curl_easy_setopt(h, CURLOPT_CAINFO, options.ca_bundle->c_str());
    if (rc == CURLE_OK && options.proxy) rc = curl_easy_setopt(h, CURLOPT_PROXY, options.proxy->c_str());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, to_curl_millis(options.connect_timeout));
    if (options.low_speed_time.count() > 0) {
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, to_curl_seconds(options.low_speed_time));
    }
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                     static_cast<long>(options.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1));
    if (rc == CURLE_OK) rc = curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header_cb);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body_cb);
    return rc;
  }

  // An idle handle, or a new configured one; nullptr (and `error` set) when none can be made.
  CURL* check_out(CURLcode& error) {
    {
      std::lock_guard<std::mutex> lock(pool_mutex);
      if (!idle.empty()) {
        CURL* handle = idle.back();
        idle.pop_back();
        return handle;
      }
    }
    CURL* handle = curl_easy_init();
    if (handle == nullptr) {
      error = CURLE_FAILED_INIT;
      return nullptr;
    }
    error = configure(handle);
    if (error != CURLE_OK) {
      curl_easy_cleanup(handle);
      return nullptr;
    }
    return handle;
  }

  void check_in(CURL* handle) noexcept {
    // Drop the pointers into the finished request's buffers (libcurl may report an error while it
    // closes an idle connection later); the handle keeps its connections and caches.
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, static_cast<void*>(nullptr));
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, static_cast<void*>(nullptr));
    {
      std::lock_guard<std::mutex> lock(pool_mutex);
      if (idle.size() < options.max_idle_handles) {
        try {
          idle.push_back(handle);
          return;
        } catch (...) {
          // no room to keep it: close it below
        }
      }
    }
    curl_easy_cleanup(handle);
  }

  // Returns the handle to the pool however send() leaves.
  class Lease {
   public:
    Lease(Impl& impl, CURL* handle) noexcept : impl_(impl), handle_(handle) {}
    ~Lease() {
      if (handle_ != nullptr) impl_.check_in(handle_);
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    CURL* get() const noexcept { return handle_; }

   private:
    Impl& impl_;
    CURL* handle_;
  };
};

CurlTransport::CurlTransport(CurlTransportOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

CurlTransport::~CurlTransport() = default;

long CurlTransport::connections_opened() const noexcept { return impl_->connects.load(); }

Result<HttpResponse> CurlTransport::send(const HttpRequest& request) {
  Impl& impl = *impl_;
  if (impl.init_result != CURLE_OK) {
    return Error::transport_failure(static_cast<int>(impl.init_result),
                                    std::string("curl: curl_global_init failed: ") +
                                        curl_easy_strerror(impl.init_result),
                                    false);
  }

  if (request.method == HttpMethod::get && !request.body.empty()) {
    return Error::invalid_argument("body", "empty for a GET", "a GET request cannot carry a body");
  }

  // Header lines are built before a handle is taken. A request whose headers would split the
  // header block is refused outright; the value is not echoed (it may be a credential).
  SlistPtr header_list;
  for (const auto& header : request.headers) {
    if (!header_is_safe(header.first, header.second)) {
      // Refused before anything is sent, and not worth retrying.
      const std::string name = header_is_safe(header.first, {}) ? header.first : std::string("?");
      return Error::invalid_argument("headers[" + name + "]", "no CR, LF or NUL; a non-empty token name",
                                     "header \"" + name + "\" cannot be sent: invalid name or value");
    }
    // "Name;" is libcurl's spelling for a header sent with an empty value ("Name:" would remove it).
    std::string line;
    line.reserve(header.first.size() + 2 + header.second.size());
    line += header.first;
    if (header.second.empty()) {
      line += ';';
    } else {
      line += ": ";
      line += header.second;
    }
    if (!slist_append(header_list, line)) {
      return Error::transport_failure(static_cast<int>(CURLE_OUT_OF_MEMORY), "curl: out of memory", false);
    }
  }
  const bool has_body = request.method == HttpMethod::post || !request.body.empty();
  // No "Expect: 100-continue" round trip before a larger body.
  if (has_body && !request.header("Expect") && !slist_append(header_list, "Expect:")) {
    return Error::transport_failure(static_cast<int>(CURLE_OUT_OF_MEMORY), "curl: out of memory", false);
  }

  // Declared before the lease, so that they outlive the handle's use.
  char error_buffer[CURL_ERROR_SIZE];
  error_buffer[0] = '\0';
  ResponseSink sink;
  sink.headers.reserve(12);
  sink.max_body = impl.options.max_response_bytes;

  CURLcode rc = CURLE_OK;
  CURL* raw = impl.check_out(rc);
  if (raw == nullptr) {
    return Error::transport_failure(static_cast<int>(rc),
                                    std::string("curl: cannot create a handle: ") + curl_easy_strerror(rc),
                                    false);
  }
  Impl::Lease lease(impl, raw);
  CURL* h = lease.get();

  const std::chrono::milliseconds timeout =
      request.timeout.count() > 0 ? request.timeout : impl.options.request_timeout;

  // Every option a previous request on this handle may have set is set again here. Only the
  // options that copy a string can fail, and they are checked.
  rc = curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to_curl_millis(timeout));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(h, CURLOPT_HEADERDATA, static_cast<void*>(&sink));
  curl_easy_setopt(h, CURLOPT_WRITEDATA, static_cast<void*>(&sink));
  const char* custom_method = request.method == HttpMethod::delete_ ? "DELETE" : nullptr;
  if (rc == CURLE_OK) rc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, custom_method);
  if (has_body) {
    // An explicit size: a body (multipart) may hold NUL bytes, so libcurl must not strlen it.
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());  // makes it a POST (or DELETE)
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);  // a GET (or a DELETE without a body)
  }

  if (rc != CURLE_OK) {
    return Error::transport_failure(static_cast<int>(rc),
                                    std::string("curl: could not configure the request: ") +
                                        curl_easy_strerror(rc),
                                    false);
  }

  const CURLcode result = curl_easy_perform(h);

  long connects = 0;
  if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0) {
    impl.connects.fetch_add(connects);
  }

  if (result == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    HttpResponse response;
    response.status = static_cast<int>(status);
    response.headers = std::move(sink.headers);
    response.body = std::move(sink.body);
    return response;
  }

  if (sink.too_large) {
    return Error::transport_failure(static_cast<int>(CURLE_FILESIZE_EXCEEDED),
                                    "curl: the response body exceeds max_response_bytes (" +
                                        std::to_string(impl.options.max_response_bytes) + " bytes)",
                                    true);
  }

  long request_size = 0;
  curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &request_size);
  const bool may_have_been_sent = request_size > 0 && result != CURLE_COULDNT_RESOLVE_HOST &&
                                  result != CURLE_COULDNT_RESOLVE_PROXY &&
                                  result != CURLE_COULDNT_CONNECT;

  // Neither the URL nor any request header goes into the message.
  std::string message = "curl: ";
  message += curl_easy_strerror(result);
  error_buffer[CURL_ERROR_SIZE - 1] = '\0';
  std::string_view detail = trim_ascii(std::string_view(error_buffer, std::strlen(error_buffer)));
  if (!detail.empty()) {
    message += ": ";
    message.append(detail.data(), detail.size());
  }
  redact_credentials(message, request.headers);
  return Error::transport_failure(static_cast<int>(result), std::move(message), may_have_been_sent);
}

std::shared_ptr<Transport> make_curl_transport(CurlTransportOptions options) {
  return std::make_shared<CurlTransport>(std::move(options));
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
