#pragma once

// Helpers shared by the unit tests.

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <string>

#include <catch2/catch_test_macros.hpp>
#include "json/rapidjson.hpp"
#include <rapidjson/document.h>

#include "fixtures.hpp"  // read_file (tests/support)
#include "wagroups/client/client.hpp"
#include "wagroups/testing/fake_transport.hpp"

namespace wagroups_test {

/// Parses both texts and compares them as JSON values (member order ignored).
inline bool json_equal(const std::string& a, const std::string& b) {
  rapidjson::Document da, db;
  da.Parse(a.c_str(), a.size());
  db.Parse(b.c_str(), b.size());
  if (da.HasParseError() || db.HasParseError()) return false;
  return da == db;
}

/// True when the environment variable CI is set to anything but "", "0" or "false": there the
/// conformance corpus is required (tests/unit/CMakeLists.txt refuses to configure without it).
inline bool running_in_ci() {
  const char* ci = std::getenv("CI");
  if (ci == nullptr) return false;
  std::string value(ci);
  for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return !(value.empty() || value == "0" || value == "false");
}

/// The folder of the third-party payloads: the environment variable WAGROUPS_CONFORMANCE_DIR when
/// set, else the CMake cache variable of that name (../shared/conformance by default). When it is
/// absent, the test FAILS under CI and is SKIPPED elsewhere, naming the path either way.
inline std::string conformance_dir() {
  const char* from_env = std::getenv("WAGROUPS_CONFORMANCE_DIR");
  const std::string dir = from_env != nullptr && *from_env != '\0' ? from_env : WAGROUPS_CONFORMANCE_DIR;
  if (!std::ifstream(dir + "/README.md")) {
    if (running_in_ci()) FAIL("CI is set, but the conformance corpus is missing at " << dir);
    SKIP("no conformance corpus at " << dir << " (set WAGROUPS_CONFORMANCE_DIR; required when CI is set)");
  }
  return dir;
}

/// Reads a file of the conformance corpus (path relative to it): see conformance_dir() for an
/// absent corpus; a missing file inside it is a failure.
inline std::string conformance_file(const std::string& relative) {
  return read_file(conformance_dir() + "/" + relative);
}

/// A client over a FakeTransport that never sleeps (delays are recorded) and has fixed jitter.
struct FakeClient {
  std::shared_ptr<wagroups::testing::FakeTransport> transport = std::make_shared<wagroups::testing::FakeTransport>();
  wagroups::testing::RecordingSleeper sleeper;
  wagroups::Client client;

  explicit FakeClient(double jitter = 1.0, wagroups::ClientOptions options = base_options())
      : client(with_hooks(std::move(options), transport, sleeper, jitter)) {}

  static wagroups::ClientOptions base_options() {
    wagroups::ClientOptions o;
    o.access_token = "EAAtest-token-123";
    o.phone_number_id = "106540352242922";
    return o;
  }

 private:
  static wagroups::ClientOptions with_hooks(wagroups::ClientOptions o,
                                            std::shared_ptr<wagroups::testing::FakeTransport> t,
                                            wagroups::testing::RecordingSleeper& s, double jitter) {
    o.transport = std::move(t);
    o.sleeper = s.as_sleeper();
    o.random = [jitter] { return jitter; };
    o.clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1790000000)); };
    return o;
  }
};

}  // namespace wagroups_test
