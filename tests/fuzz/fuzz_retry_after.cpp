// fuzz_retry_after: the Retry-After parser (delta-seconds or an IMF-fixdate HTTP-date).
//
// The input is read as: 8 bytes for `now` (seconds, folded into 1970..2255), 6 bytes that pick
// a date for the differential check, and the rest the header value. Invariants:
//   - parse_retry_after never throws, and never answers a negative delay;
//   - blanks around the value do not change the answer;
//   - digits are that many seconds, leading zeros ignored; past 9 significant digits the wait
//     saturates, never below the longest 9-digit one (a longer wait never reads as shorter);
//   - an IMF-fixdate built from a chosen date and time parses to exactly the seconds between it
//     and `now` (0 when it is past), computed here with timegm, independently of the parser.

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "http/retry.hpp"

namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  wagroups_fuzz::Reader in(data, size);
  // 1970 .. 2255: system_clock counts nanoseconds in 64 bits, about 292 years either side.
  const auto now_s = static_cast<std::int64_t>(in.u64() % 9000000000ULL);
  const system_clock::time_point now{seconds(now_s)};
  const std::uint8_t pick[6] = {in.byte(), in.byte(), in.byte(), in.byte(), in.byte(), in.byte()};
  const std::string_view value = in.rest();
  namespace retry = wagroups::retry;
  try {
    const auto answer = retry::parse_retry_after(value, now);
    if (answer) WAGROUPS_FUZZ_REQUIRE(answer->count() >= 0);
    const auto padded = retry::parse_retry_after(" \t" + std::string(value) + "\r\n ", now);
    WAGROUPS_FUZZ_REQUIRE(padded == answer);
    const std::string_view trimmed = wagroups::text::trim_ascii(value);
    if (all_digits(trimmed)) {
      WAGROUPS_FUZZ_REQUIRE(answer.has_value());
      const std::size_t significant = std::min(trimmed.find_first_not_of('0'), trimmed.size());
      const std::string_view digits = trimmed.substr(significant);
      if (digits.size() <= 9) {
        WAGROUPS_FUZZ_REQUIRE(*answer == seconds(digits.empty() ? 0 : std::stoll(std::string(digits))));
      } else {
        WAGROUPS_FUZZ_REQUIRE(*answer >= seconds(999999999));  // a longer wait never reads shorter
      }
    }

    // Differential: a well-formed date against timegm.
    static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static const int kMonthDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    struct tm when {};
    when.tm_year = (pick[0] << 8 | pick[1]) % 10000 - 1900;
    when.tm_mon = pick[2] % 12;
    when.tm_mday = 1 + pick[3] % kMonthDays[when.tm_mon];
    when.tm_hour = pick[4] % 24;
    when.tm_min = pick[5] % 60;
    when.tm_sec = (pick[4] ^ pick[5]) % 60;
    const auto epoch = static_cast<std::int64_t>(timegm(&when));  // also fills tm_wday
    char text[64];
    std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[when.tm_wday % 7], when.tm_mday,
                  kMonths[when.tm_mon], when.tm_year + 1900, when.tm_hour, when.tm_min, when.tm_sec);
    const auto dated = retry::parse_retry_after(text, now);
    WAGROUPS_FUZZ_REQUIRE(dated.has_value());
    WAGROUPS_FUZZ_REQUIRE(*dated == seconds(std::max<std::int64_t>(0, epoch - now_s)));
  } catch (...) {
    wagroups_fuzz::fail("parse_retry_after threw", __FILE__, __LINE__);
  }
  return 0;
}
