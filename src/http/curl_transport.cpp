// The libcurl-backed Transport: a pool of easy handles (each one keeps its own kept-alive
// connections) plus one share handle for DNS and TLS session data.

#include "wagroups/http/curl_transport.hpp"

#include "util/secret.hpp"
#include "util/text.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <thread>
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

// Header lines carry the access token ("Authorization: Bearer ..."): each is wiped before libcurl
// frees it (util/secret.hpp).
struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept {
    for (curl_slist* item = list; item != nullptr; item = item->next) {
      if (item->data != nullptr) secret::cleanse(item->data, std::strlen(item->data));
    }
    curl_slist_free_all(list);
  }
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

// Everything one request needs while libcurl runs it; it must outlive the transfer.
struct Exchange {
  SlistPtr header_list;
  std::shared_ptr<curl_slist> shared_headers;  // a fan-out's requests share one list when equal
  ResponseSink sink;
  char error_buffer[CURL_ERROR_SIZE];
  int prereq_calls = 0;
  bool forbid_resend = false;   // not a GET: a second copy could be a second message
  bool resend_refused = false;  // libcurl tried to send it again and was stopped

  Exchange() { error_buffer[0] = '\0'; }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
};

// libcurl re-sends a request on a fresh connection by itself when a reused one breaks before any
// answer byte arrived, though the server may have read (and acted on) the first copy. This hook
// runs before every send of the transfer; a second call is that re-send, refused for anything but
// a GET, so the caller sees "may have been sent" instead of a silent duplicate.
int on_prereq_cb(void* clientp, char* /*conn_primary_ip*/, char* /*conn_local_ip*/, int /*conn_primary_port*/,
                 int /*conn_local_port*/) {
  auto* exchange = static_cast<Exchange*>(clientp);
  if (exchange == nullptr) return CURL_PREREQFUNC_OK;
  if (++exchange->prereq_calls > 1 && exchange->forbid_resend) {
    exchange->resend_refused = true;
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
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
  std::vector<CURLM*> idle_multis;  // kept with their connection caches, for the next fan-out

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
    for (CURLM* multi : idle_multis) curl_multi_cleanup(multi);
    idle_multis.clear();
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
    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq_cb);
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
    curl_easy_setopt(handle, CURLOPT_PREREQDATA, static_cast<void*>(nullptr));
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

  CURLM* check_out_multi() {
    {
      std::lock_guard<std::mutex> lock(pool_mutex);
      if (!idle_multis.empty()) {
        CURLM* multi = idle_multis.back();
        idle_multis.pop_back();
        return multi;
      }
    }
    CURLM* multi = curl_multi_init();
    if (multi == nullptr) return nullptr;
    // Several requests share one HTTP/2 connection where the server offers it.
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, options.http2 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING);
    return multi;
  }

  void check_in_multi(CURLM* multi) noexcept {
    {
      std::lock_guard<std::mutex> lock(pool_mutex);
      if (idle_multis.empty()) {
        try {
          idle_multis.push_back(multi);
          return;
        } catch (...) {
        }
      }
    }
    curl_multi_cleanup(multi);
  }

  // The header list of `request`; an Error (nothing sent) when a header would split the block.
  static Result<void> build_headers(const HttpRequest& request, SlistPtr& header_list) {
    for (const auto& header : request.headers) {
      if (!header_is_safe(header.first, header.second)) {
        // Refused before anything is sent, and not worth retrying. The value is not echoed (it may
        // be a credential).
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
      const bool appended = slist_append(header_list, line);
      secret::cleanse(line);  // libcurl keeps its own copy
      if (!appended) {
        return Error::transport_failure(static_cast<int>(CURLE_OUT_OF_MEMORY), "curl: out of memory", false);
      }
    }
    // No "Expect: 100-continue" round trip before a larger body.
    if (has_body(request) && !request.header("Expect") && !slist_append(header_list, "Expect:")) {
      return Error::transport_failure(static_cast<int>(CURLE_OUT_OF_MEMORY), "curl: out of memory", false);
    }
    return {};
  }

  static bool has_body(const HttpRequest& request) noexcept {
    return request.method == HttpMethod::post || !request.body.empty();
  }

  // Checks `request` and builds what its transfer needs; an Error when it cannot be sent.
  // The last header block built in a fan-out, reused while requests carry the same headers.
  struct HeaderCache {
    HttpHeaders headers;
    bool had_body = false;
    std::shared_ptr<curl_slist> list;
    HeaderCache() = default;
    HeaderCache(const HeaderCache&) = delete;
    HeaderCache& operator=(const HeaderCache&) = delete;
    ~HeaderCache() {
      for (auto& header : headers) secret::cleanse(header.second);  // the Authorization value among them
    }
  };

  Result<void> prepare(const HttpRequest& request, Exchange& exchange, HeaderCache* cache = nullptr) const {
    if (init_result != CURLE_OK) {
      return Error::transport_failure(static_cast<int>(init_result),
                                      std::string("curl: curl_global_init failed: ") + curl_easy_strerror(init_result),
                                      false);
    }
    if (request.method == HttpMethod::get && !request.body.empty()) {
      return Error::invalid_argument("body", "empty for a GET", "a GET request cannot carry a body");
    }
    if (cache != nullptr && cache->list && cache->had_body == has_body(request) && cache->headers == request.headers) {
      exchange.shared_headers = cache->list;
    } else {
      if (auto built = build_headers(request, exchange.header_list); !built) return built;
      if (cache != nullptr) {
        cache->list = std::shared_ptr<curl_slist>(exchange.header_list.release(), SlistDeleter{});
        for (auto& header : cache->headers) secret::cleanse(header.second);  // before its buffers are reused
        cache->headers = request.headers;
        cache->had_body = has_body(request);
        exchange.shared_headers = cache->list;
      }
    }
    exchange.sink.headers.reserve(12);
    exchange.sink.max_body = options.max_response_bytes;
    exchange.forbid_resend = request.method != HttpMethod::get;
    return {};
  }

  // Every option a previous request on this handle may have set is set again here. Only the
  // options that copy a string can fail, and they are checked.
  Result<void> apply(CURL* h, const HttpRequest& request, Exchange& exchange) const {
    const std::chrono::milliseconds timeout = request.timeout.count() > 0 ? request.timeout : options.request_timeout;
    CURLcode rc = curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, exchange.error_buffer);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to_curl_millis(timeout));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER,
                     exchange.shared_headers ? exchange.shared_headers.get() : exchange.header_list.get());
    curl_easy_setopt(h, CURLOPT_HEADERDATA, static_cast<void*>(&exchange.sink));
    curl_easy_setopt(h, CURLOPT_WRITEDATA, static_cast<void*>(&exchange.sink));
    curl_easy_setopt(h, CURLOPT_PREREQDATA, static_cast<void*>(&exchange));
    const char* custom_method = request.method == HttpMethod::delete_ ? "DELETE" : nullptr;
    if (rc == CURLE_OK) rc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, custom_method);
    if (has_body(request)) {
      // An explicit size: a body (multipart) may hold NUL bytes, so libcurl must not strlen it.
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());  // makes it a POST (or DELETE)
    } else {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);  // a GET (or a DELETE without a body)
    }
    if (rc != CURLE_OK) {
      return Error::transport_failure(
          static_cast<int>(rc), std::string("curl: could not configure the request: ") + curl_easy_strerror(rc), false);
    }
    return {};
  }

  // The outcome of a finished transfer.
  Result<HttpResponse> outcome(CURL* h, CURLcode result, Exchange& exchange, const HttpRequest& request) {
    long opened = 0;
    if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK && opened > 0) connects.fetch_add(opened);

    if (result == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      HttpResponse response;
      response.status = static_cast<int>(status);
      response.headers = std::move(exchange.sink.headers);
      response.body = std::move(exchange.sink.body);
      return response;
    }
    if (exchange.sink.too_large) {
      return Error::transport_failure(static_cast<int>(CURLE_FILESIZE_EXCEEDED),
                                      "curl: the response body exceeds max_response_bytes (" +
                                          std::to_string(options.max_response_bytes) + " bytes)",
                                      true);
    }
    if (exchange.resend_refused) {
      return Error::transport_failure(static_cast<int>(result),
                                      "curl: the connection broke after the request was sent; it may have been "
                                      "received, so it was not sent again",
                                      true);
    }
    long request_size = 0;
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &request_size);
    const bool may_have_been_sent = request_size > 0 && result != CURLE_COULDNT_RESOLVE_HOST &&
                                    result != CURLE_COULDNT_RESOLVE_PROXY && result != CURLE_COULDNT_CONNECT;

    // Neither the URL nor any request header goes into the message.
    std::string message = "curl: ";
    message += curl_easy_strerror(result);
    exchange.error_buffer[CURL_ERROR_SIZE - 1] = '\0';
    std::string_view detail = trim_ascii(std::string_view(exchange.error_buffer, std::strlen(exchange.error_buffer)));
    if (!detail.empty()) {
      message += ": ";
      message.append(detail.data(), detail.size());
    }
    redact_credentials(message, request.headers);
    return Error::transport_failure(static_cast<int>(result), std::move(message), may_have_been_sent);
  }
};

CurlTransport::CurlTransport(CurlTransportOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

CurlTransport::~CurlTransport() = default;

long CurlTransport::connections_opened() const noexcept { return impl_->connects.load(); }

Result<HttpResponse> CurlTransport::send(const HttpRequest& request) {
  Impl& impl = *impl_;
  // Declared before the lease, so that it outlives the handle's use.
  Exchange exchange;
  if (auto prepared = impl.prepare(request, exchange); !prepared) return std::move(prepared).error();

  CURLcode rc = CURLE_OK;
  CURL* raw = impl.check_out(rc);
  if (raw == nullptr) {
    return Error::transport_failure(static_cast<int>(rc),
                                    std::string("curl: cannot create a handle: ") + curl_easy_strerror(rc), false);
  }
  Impl::Lease lease(impl, raw);
  if (auto applied = impl.apply(lease.get(), request, exchange); !applied) return std::move(applied).error();
  const CURLcode result = curl_easy_perform(lease.get());
  return impl.outcome(lease.get(), result, exchange, request);
}

namespace {

// One request of a fan-out while it runs on the multi handle.
struct Transfer {
  std::uint64_t tag = 0;
  HttpRequest request;
  Exchange exchange;
  CURL* handle = nullptr;
};

}  // namespace

namespace {

// The multi handle itself failed (curl_multi_perform or curl_multi_poll): nothing more is started
// on it, what is in flight may have been sent (reported so, never repeated), the groups never
// started stay with the caller (a fan-out reports them not_sent), and the handle is cleaned up
// rather than pooled.
template <typename ImplT>
void fail_multi(ImplT& impl, bool& broken, CURLM* multi, std::vector<std::unique_ptr<Transfer>>& active,
                ConcurrentRequests& work, CURLMcode code) {
  broken = true;
  std::vector<std::unique_ptr<Transfer>> failed;
  failed.swap(active);
  for (auto& t : failed) {
    curl_multi_remove_handle(multi, t->handle);
    impl.check_in(t->handle);
    t->handle = nullptr;
  }
  for (auto& t : failed) {
    work.completed(t->tag, Error::transport_failure(static_cast<int>(CURLE_SEND_ERROR),
                                                    std::string("curl: ") + curl_multi_strerror(code), true));
  }
}

}  // namespace

void CurlTransport::send_concurrently(ConcurrentRequests& work, std::size_t max_in_flight) {
  Impl& impl = *impl_;
  if (impl.init_result != CURLE_OK) return Transport::send_concurrently(work, max_in_flight);  // reports the error
  CURLM* multi = impl.check_out_multi();
  if (multi == nullptr) return Transport::send_concurrently(work, max_in_flight);  // one at a time
  if (max_in_flight == 0) max_in_flight = 1;

  std::vector<std::unique_ptr<Transfer>> active;
  active.reserve(max_in_flight);
  // However this returns (a callback may throw), no handle stays on the multi.
  struct Cleanup {
    Impl& impl;
    CURLM* multi;
    std::vector<std::unique_ptr<Transfer>>& active;
    bool broken = false;  // the multi handle failed: not fit for the next fan-out
    ~Cleanup() {
      for (auto& t : active) {
        curl_multi_remove_handle(multi, t->handle);
        impl.check_in(t->handle);
      }
      active.clear();
      if (broken) {
        curl_multi_cleanup(multi);
      } else {
        impl.check_in_multi(multi);
      }
    }
  } cleanup{impl, multi, active};

  Impl::HeaderCache header_cache;
  bool source_done = false;
  for (;;) {
    std::chrono::milliseconds wait_hint{1000};
    while (!source_done && active.size() < max_in_flight) {
      ConcurrentRequests::Next next = work.next(active.size());
      if (next.kind == ConcurrentRequests::Next::Kind::done) {
        source_done = true;
        break;
      }
      if (next.kind == ConcurrentRequests::Next::Kind::later) {
        wait_hint = std::max(std::chrono::milliseconds(1), std::min(next.wait, wait_hint));
        break;
      }
      auto transfer = std::make_unique<Transfer>();
      transfer->tag = next.tag;
      transfer->request = std::move(next.request);
      if (auto prepared = impl.prepare(transfer->request, transfer->exchange, &header_cache); !prepared) {
        work.completed(transfer->tag, std::move(prepared).error());
        continue;
      }
      CURLcode rc = CURLE_OK;
      transfer->handle = impl.check_out(rc);
      if (transfer->handle == nullptr) {
        work.completed(
            transfer->tag,
            Error::transport_failure(static_cast<int>(rc),
                                     std::string("curl: cannot create a handle: ") + curl_easy_strerror(rc), false));
        continue;
      }
      auto applied = impl.apply(transfer->handle, transfer->request, transfer->exchange);
      if (applied) {
        // Over TLS, wait for the connection that may turn out to multiplex (HTTP/2) rather than
        // open one per request; plain http:// stays HTTP/1.1 here, where waiting only delays.
        const bool may_multiplex = impl.options.http2 && transfer->request.url.compare(0, 8, "https://") == 0;
        curl_easy_setopt(transfer->handle, CURLOPT_PIPEWAIT, may_multiplex ? 1L : 0L);
      }
      const CURLMcode added = applied ? curl_multi_add_handle(multi, transfer->handle) : CURLM_OK;
      if (!applied || added != CURLM_OK) {
        impl.check_in(transfer->handle);
        work.completed(transfer->tag,
                       applied
                           ? Error::transport_failure(
                                 static_cast<int>(CURLE_FAILED_INIT),
                                 std::string("curl: cannot start the transfer: ") + curl_multi_strerror(added), false)
                           : std::move(applied).error());
        continue;
      }
      active.push_back(std::move(transfer));
    }
    if (active.empty()) {
      if (source_done) return;
      // `later` with nothing in flight breaks the contract; wait instead of spinning.
      std::this_thread::sleep_for(wait_hint);
      continue;
    }

    int running = 0;
    const CURLMcode performed = curl_multi_perform(multi, &running);
    bool any_done = false;
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* h = msg->easy_handle;
      const CURLcode result = msg->data.result;
      auto it = std::find_if(active.begin(), active.end(), [h](const auto& t) { return t->handle == h; });
      if (it == active.end()) continue;
      std::unique_ptr<Transfer> done = std::move(*it);
      active.erase(it);
      Result<HttpResponse> outcome = impl.outcome(h, result, done->exchange, done->request);
      curl_multi_remove_handle(multi, h);
      impl.check_in(h);
      any_done = true;
      work.completed(done->tag, std::move(outcome));
    }
    if (performed != CURLM_OK) return fail_multi(impl, cleanup.broken, multi, active, work, performed);
    if (any_done) continue;
    const CURLMcode polled = curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait_hint.count()), nullptr);
    if (polled != CURLM_OK) return fail_multi(impl, cleanup.broken, multi, active, work, polled);
  }
}

std::shared_ptr<Transport> make_curl_transport(CurlTransportOptions options) {
  return std::make_shared<CurlTransport>(std::move(options));
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
