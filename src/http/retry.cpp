#include "http/retry.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <string>

#include "json/codecs.hpp"
#include "util/text.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace retry {

namespace {

int month_index(std::string_view m) noexcept {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    if (m == kMonths[i]) return i;
  }
  return -1;
}

// Days since 1970-01-01 for a proleptic Gregorian date (no time zone database involved).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT"), the form RFC 9110 requires senders to use.
std::optional<std::int64_t> parse_http_date(std::string_view s) {
  if (s.size() != 29 || s[3] != ',' || s.substr(26) != "GMT") return std::nullopt;
  auto num = [&](std::size_t at, std::size_t len) -> int {
    int v = 0;
    for (std::size_t i = at; i < at + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  const int day = num(5, 2), year = num(12, 4), hh = num(17, 2), mm = num(20, 2), ss = num(23, 2);
  const int month = month_index(s.substr(8, 3));
  if (day < 1 || year < 0 || hh < 0 || mm < 0 || ss < 0 || month < 0 || hh > 23 || mm > 59 || ss > 60)
    return std::nullopt;
  return days_from_civil(year, static_cast<unsigned>(month + 1), static_cast<unsigned>(day)) * 86400 + hh * 3600 +
         mm * 60 + ss;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) {
  value = text::trim_ascii(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    // Leading zeros count for nothing ("0000000120" is 120 s); more than 9 digits is absurd, but
    // "later", not "now", and never less than a 9-digit wait: it saturates there.
    const std::size_t significant = value.find_first_not_of('0');
    if (significant == std::string_view::npos) return std::chrono::seconds(0);
    value.remove_prefix(significant);
    if (value.size() > 9) return std::chrono::seconds(999999999);
    return std::chrono::seconds(std::stoll(std::string(value)));
  }
  if (auto when = parse_http_date(value)) {
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    return std::chrono::seconds(std::max<std::int64_t>(0, *when - now_s));
  }
  return std::nullopt;
}

std::chrono::milliseconds backoff_delay(const RetryOptions& options, int retry_number, double random01) noexcept {
  const double base = static_cast<double>(options.initial_backoff.count());
  const double cap = static_cast<double>(options.max_backoff.count());
  const double grown = base * std::pow(std::max(1.0, options.multiplier), std::max(0, retry_number - 1));
  const double ceiling = std::min(cap, grown);
  const double r = std::clamp(random01, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(ceiling * r));
}

Error error_of_answer(const HttpResponse& response, const Hooks& hooks) {
  Error error = codec::decode_error_response(response, hooks.secret);
  if (auto header = response.header("Retry-After")) error.retry_after = parse_retry_after(*header, hooks.clock());
  return error;
}

bool provably_not_accepted(const Error& error) noexcept {
  if (error.code == ErrorCode::transport) return !error.request_may_have_been_sent;
  return error.is_rate_limited();
}

Result<HttpResponse> send_with_retries(Transport& transport, const HttpRequest& request,
                                       Idempotency idempotency, const RetryOptions& options,
                                       const Hooks& hooks) {
  const int max_attempts = std::max(1, options.max_attempts);
  for (int attempt = 1;; ++attempt) {
    Result<HttpResponse> sent = transport.send(request);
    Error error;
    if (sent) {
      if (sent->status >= 200 && sent->status < 300) return sent;
      error = error_of_answer(*sent, hooks);
    } else {
      error = std::move(sent).error();
    }
    error.attempts = attempt;

    const bool may_resend = idempotency == Idempotency::idempotent ||
                            (error.code == ErrorCode::transport && !error.request_may_have_been_sent);
    if (attempt >= max_attempts || !may_resend || !error.is_retryable()) return error;

    auto delay = backoff_delay(options, attempt, hooks.random());
    if (error.retry_after) {
      if (*error.retry_after > options.max_retry_after) return error;  // let the host reschedule
      delay = std::max(delay, *error.retry_after);
    }
    hooks.sleeper(delay);
  }
}

}  // namespace retry
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
