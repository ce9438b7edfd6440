#pragma once

// Helpers shared by the unit tests.

#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch_test_macros.hpp>
#include "json/rapidjson.hpp"
#include <rapidjson/document.h>

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

/// Reads a file of ../shared/conformance (path relative to that folder). Skips the test when the
/// folder is absent (a checkout without ../shared); a missing file inside it is a failure.
inline std::string conformance_file(const std::string& relative) {
  const std::string dir = WAGROUPS_CONFORMANCE_DIR;
  if (!std::ifstream(dir + "/README.md")) SKIP("no conformance corpus at " << dir);
  const std::string path = dir + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("conformance file missing: " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
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
