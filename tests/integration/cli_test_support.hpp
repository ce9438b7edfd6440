#pragma once

// Running the `wagroups` CLI from tests: a private temporary folder per test (its sandbox state,
// its ticket store), an environment that never leaks the developer's credentials into the child,
// and strict JSON reading of what the CLI prints.

#include "json/rapidjson.hpp"
#include <rapidjson/document.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "temp_dir.hpp"

#include "subprocess.hpp"

namespace wagroups_cli_test {

using wagroups_test::EnvChanges;
using wagroups_test::ProcessResult;

/// A fresh directory under the system temp dir, removed with everything in it at scope exit
/// (tests/support/temp_dir.hpp).
class TempDir : public wagroups_test::TempDir {
 public:
  TempDir() : wagroups_test::TempDir("wagroups-cli-test") {}
};

/// The child's environment: the sandbox state in `dir`, no token, no secrets, no webhook URL,
/// loopback never through a proxy. `extra` overrides.
inline EnvChanges cli_env(const TempDir& dir, const EnvChanges& extra = {}) {
  EnvChanges env{{"WAGROUPS_ACCESS_TOKEN", std::nullopt},
                 {"WAGROUPS_PHONE_NUMBER_ID", std::nullopt},
                 {"WAGROUPS_APP_SECRET", std::nullopt},
                 {"WAGROUPS_VERIFY_TOKEN", std::nullopt},
                 {"WAGROUPS_WEBHOOK_URL", std::nullopt},
                 {"WAGROUPS_TICKETS_DB", std::nullopt},
                 {"WAGROUPS_STORE", std::nullopt},
                 {"WAGROUPS_STORE_SCHEMA", std::nullopt},
                 {"WAGROUPS_SANDBOX_STATE", dir.file("sandbox.json")},
                 {"no_proxy", std::string("127.0.0.1,localhost")},
                 {"NO_PROXY", std::string("127.0.0.1,localhost")}};
  for (const auto& [name, value] : extra) env[name] = value;
  return env;
}

inline ProcessResult cli(const TempDir& dir, std::vector<std::string> args, const EnvChanges& extra = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  args.insert(args.begin(), WAGROUPS_CLI_PATH);
  return wagroups_test::run_process(args, {}, cli_env(dir, extra), timeout);
}

/// The CLI's stdout lines.
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

/// One line of JSON, parsed strictly (the test fails when it is not a JSON object).
inline rapidjson::Document json_of(const std::string& line) {
  rapidjson::Document d;
  d.Parse(line.c_str(), line.size());
  INFO(line);
  REQUIRE_FALSE(d.HasParseError());
  REQUIRE(d.IsObject());
  return d;
}

/// The only stdout line as JSON.
inline rapidjson::Document single_json(const ProcessResult& r) {
  const auto lines = lines_of(r.out);
  INFO(r.out);
  REQUIRE(lines.size() == 1);
  return json_of(lines.front());
}

inline std::string str(const rapidjson::Value& object, const char* key) {
  INFO(key);
  REQUIRE(object.IsObject());
  REQUIRE(object.HasMember(key));
  REQUIRE(object[key].IsString());
  return std::string(object[key].GetString(), object[key].GetStringLength());
}

inline std::int64_t integer(const rapidjson::Value& object, const char* key) {
  INFO(key);
  REQUIRE(object.IsObject());
  REQUIRE(object.HasMember(key));
  REQUIRE(object[key].IsInt64());
  return object[key].GetInt64();
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// Exit codes, as the README documents them.
namespace exit_codes {
inline constexpr int ok = 0;
inline constexpr int usage = 2;
inline constexpr int api = 5;
inline constexpr int rate_limited = 6;
inline constexpr int invalid = 8;
inline constexpr int storage = 9;
inline constexpr int not_found = 10;
}  // namespace exit_codes

}  // namespace wagroups_cli_test
