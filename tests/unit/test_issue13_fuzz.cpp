// Regressions for what the libFuzzer targets (tests/fuzz, issue 13) found.

#include <chrono>
#include <optional>

#include <catch2/catch_test_macros.hpp>

#include "http/retry.hpp"

using namespace std::chrono_literals;
namespace retry = wagroups::retry;

// fuzz_retry_after: Retry-After "1000000000" (10 digits) read as one year, shorter than
// "999999999" (about 31.7 years), and "0000000120" as one year instead of two minutes.
TEST_CASE("Retry-After delta-seconds ignore leading zeros and never read a longer wait as shorter", "[issue13][fuzz]") {
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1790000000));
  using Wait = std::optional<std::chrono::milliseconds>;
  CHECK(retry::parse_retry_after("0000000120", now) == Wait(120s));
  CHECK(retry::parse_retry_after("000", now) == Wait(0s));
  CHECK(retry::parse_retry_after("0000000000000000000000", now) == Wait(0s));
  const auto nine = retry::parse_retry_after("999999999", now);
  REQUIRE(nine == Wait(999999999s));
  for (const char* longer : {"1000000000", "66666666666666", "99999999999999999999999999"}) {
    INFO(longer);
    const auto wait = retry::parse_retry_after(longer, now);
    REQUIRE(wait);
    CHECK(*wait >= *nine);
  }
}
