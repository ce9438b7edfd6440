#pragma once

// What every PostgreSQL test needs: the test server's connection string (skipping the test, with
// the reason, when there is none), a schema name no other test process uses at the same time, a
// store opened on it, and psql for the few checks that reach past the store (a damaged row).

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include <catch2/catch_test_macros.hpp>

#include "wagroups/postgres/ticket_store.hpp"

namespace wagroups_test {

inline std::string postgres_url() {
  const char* url = std::getenv("WAGROUPS_TEST_POSTGRES_URL");
  if (url == nullptr || *url == '\0') {
    SKIP(
        "WAGROUPS_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against "
        "(cmake/postgres-test-server.sh start prints one)");
  }
  return url;
}

/// Tests run in parallel against one server: each works in a schema of its own.
inline std::string fresh_schema(const std::string& what) {
  static std::atomic<int> next{0};
  return "wgt_" + what + "_" + std::to_string(::getpid()) + "_" + std::to_string(next++);
}

inline std::unique_ptr<wagroups::PostgresTicketStore> open_postgres(const std::string& url,
                                                                    wagroups::PostgresOptions options) {
  auto store = wagroups::PostgresTicketStore::open(url, std::move(options));
  if (!store && store.error().message.find("connect to the PostgreSQL server") != std::string::npos) {
    SKIP("the PostgreSQL server at WAGROUPS_TEST_POSTGRES_URL does not answer: " + store.error().message);
  }
  REQUIRE(store);
  return std::move(*store);
}

/// A store on `schema` that keeps every event key (the tests compare with the in-memory store).
inline std::unique_ptr<wagroups::PostgresTicketStore> open_postgres(const std::string& url, const std::string& schema) {
  wagroups::PostgresOptions options;
  options.schema = schema;
  options.event_key_retention = std::chrono::seconds(0);
  return open_postgres(url, std::move(options));
}

/// Runs `sql` with psql (from Debian's postgresql-client) on the test server; true when it worked.
/// The SQL must not hold a single quote (it is passed in one).
inline bool psql(const std::string& url, const std::string& sql) {
  const std::string command = "psql -q -v ON_ERROR_STOP=1 '" + url + "' -c '" + sql + "' >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

/// Runs `pg_ctl <action>` (e.g. "-m fast -w -t 60 restart") on the server of
/// cmake/postgres-test-server.sh in `dir`, as the cluster's owner, in its folder, as that script
/// runs pg_ctl (the server's own options come back from postmaster.opts); its output goes to
/// `dir`/pg_ctl-<log_name>.log. The exit status of the command; -1 when `dir` is no such server.
inline int pg_ctl(const std::string& dir, const std::string& action, const std::string& log_name) {
  std::ifstream marker(dir + "/.wagroups-postgres-test-server");
  std::string bindir;
  std::getline(marker, bindir);
  struct stat st {};
  if (bindir.empty() || ::stat((dir + "/data").c_str(), &st) != 0) return -1;
  const passwd* owner = ::getpwuid(st.st_uid);
  if (owner == nullptr) return -1;
  const std::string command = "cd '" + dir + "' && runuser -u '" + owner->pw_name + "' -- '" + bindir +
                              "/pg_ctl' -D '" + dir + "/data' -l '" + dir + "/server.log' " + action + " >'" + dir +
                              "/pg_ctl-" + log_name + ".log' 2>&1";
  return std::system(command.c_str());
}

}  // namespace wagroups_test
