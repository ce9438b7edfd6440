// issue 12 item 2: how the `wagroups` CLI names its ticket store (tools/wagroups/store_spec.cpp,
// compiled into this test alone): which store a command opens (--store, then $WAGROUPS_STORE, then
// $WAGROUPS_TICKETS_DB, then the default file), and that a PostgreSQL password is never shown,
// whichever way the URI carries it.

#include <map>
#include <optional>
#include <string>

#include <catch2/catch_test_macros.hpp>

#include "store_spec.hpp"

using wagroups_cli::choose_schema;
using wagroups_cli::choose_store;
using wagroups_cli::is_postgres_store;
using wagroups_cli::looks_like_conninfo;
using wagroups_cli::masked_store_uris;
using wagroups_cli::shown_store;
using wagroups_cli::StoreSource;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// An environment of our own: the test process's is never read or changed.
wagroups_cli::EnvLookup env_of(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

}  // namespace

TEST_CASE("issue12 item 2: shown_store masks a URI's userinfo password and keeps the rest", "[cli][issue12]") {
  CHECK(shown_store("postgresql://wagroups:S3cret@127.0.0.1:5432/postgres") ==
        "postgresql://wagroups:***@127.0.0.1:5432/postgres");
  CHECK(shown_store("postgres://u:pw@db.internal/tickets?sslmode=require") ==
        "postgres://u:***@db.internal/tickets?sslmode=require");
  // Several hosts, a port on each.
  CHECK(shown_store("postgresql://u:pw@h1:5432,h2:5433/db") == "postgresql://u:***@h1:5432,h2:5433/db");
  // Percent-encoded: neither the encoded nor the decoded form survives.
  const std::string encoded = shown_store("postgresql://u:p%40ss%2Fw%3Ard@h/db");
  CHECK(encoded == "postgresql://u:***@h/db");
  // A raw '@', '/' or '?' in a password (libpq would misread it; it is still not shown).
  for (const char* raw : {"postgresql://u:p@ss@h/db", "postgresql://u:p/ss@h/db", "postgresql://u:p?ss@h/db"}) {
    INFO(raw);
    const std::string shown = shown_store(raw);
    CHECK_FALSE(contains(shown, "ss@"));
    CHECK_FALSE(contains(shown, "p@"));
    CHECK_FALSE(contains(shown, "p/"));
    CHECK_FALSE(contains(shown, "p?"));
    CHECK(contains(shown, "***@h/db"));
  }
  // No password: unchanged, and the user or port is not mistaken for one.
  for (const char* plain : {"postgresql://wagroups@127.0.0.1:5432/postgres", "postgresql://127.0.0.1:5432/db",
                            "postgresql:///db?host=/tmp/pg", "postgres://h/db?sslmode=disable&connect_timeout=5"}) {
    INFO(plain);
    CHECK(shown_store(plain) == plain);
  }
}

TEST_CASE("issue12 item 2: shown_store masks a password given as a query parameter", "[cli][issue12]") {
  CHECK(shown_store("postgresql://u@h/db?password=S3cret") == "postgresql://u@h/db?password=***");
  CHECK(shown_store("postgresql://u@h/db?sslmode=require&password=S3cret&application_name=wg") ==
        "postgresql://u@h/db?sslmode=require&password=***&application_name=wg");
  CHECK(shown_store("postgresql://u@h/db?sslpassword=Key1&password=S3cret") ==
        "postgresql://u@h/db?sslpassword=***&password=***");
  // libpq decodes the parameter's name too.
  CHECK(shown_store("postgresql://u@h/db?pass%77ord=S3cret") == "postgresql://u@h/db?pass%77ord=***");
  CHECK(shown_store("postgresql://u@h/db?password=p%26w%3D1") == "postgresql://u@h/db?password=***");
  // Both at once.
  const std::string both = shown_store("postgresql://u:One1@h/db?password=Two2");
  CHECK_FALSE(contains(both, "One1"));
  CHECK_FALSE(contains(both, "Two2"));
  // A libpq key=value string (refused by the CLI, but never printed with its password either).
  const std::string words = shown_store("host=h dbname=db password = 'a b\\'c' user=u");
  CHECK(words == "host=h dbname=db password = *** user=u");
}

TEST_CASE("issue12 item 2: stderr's safety net masks every store URI in a line", "[cli][issue12]") {
  const std::string line =
      "The following arguments were not expected: postgresql://u:S3cret@h/db \"postgres://v:T4@h2/x?password=Z9\"";
  const std::string masked = masked_store_uris(line);
  CHECK_FALSE(contains(masked, "S3cret"));
  CHECK_FALSE(contains(masked, "T4"));
  CHECK_FALSE(contains(masked, "Z9"));
  CHECK(contains(masked, "postgresql://u:***@h/db \"postgres://v:***@h2/x?password=***\""));
  CHECK(masked_store_uris("no store here: ./wagroups-tickets.db") == "no store here: ./wagroups-tickets.db");
}

TEST_CASE("issue12 item 2: PostgreSQL is named by a URI; a key=value string is recognised", "[cli][issue12]") {
  CHECK(is_postgres_store("postgresql://h/db"));
  CHECK(is_postgres_store("postgres://h/db"));
  CHECK_FALSE(is_postgres_store("./wagroups-tickets.db"));
  CHECK_FALSE(is_postgres_store("POSTGRESQL://h/db"));  // libpq's prefix is lower case
  CHECK(looks_like_conninfo("host=127.0.0.1 dbname=postgres"));
  CHECK(looks_like_conninfo("  dbname = x"));
  CHECK_FALSE(looks_like_conninfo("./tickets.db"));
  CHECK_FALSE(looks_like_conninfo("a=b.db"));
  CHECK_FALSE(looks_like_conninfo("postgresql://h/db?host=x"));
}

TEST_CASE("issue12 item 2: the store is the flag, then WAGROUPS_STORE, then WAGROUPS_TICKETS_DB, then the default",
          "[cli][issue12]") {
  const auto both = env_of({{"WAGROUPS_STORE", "postgresql://h/a"}, {"WAGROUPS_TICKETS_DB", "old.db"}});
  const auto flag = choose_store(std::string("flag.db"), both, false);
  CHECK(flag.spec == "flag.db");
  CHECK(flag.source == StoreSource::flag);
  const auto store_env = choose_store(std::nullopt, both, false);
  CHECK(store_env.spec == "postgresql://h/a");
  CHECK(store_env.source == StoreSource::store_env);
  const auto legacy = choose_store(std::nullopt, env_of({{"WAGROUPS_TICKETS_DB", "old.db"}}), false);
  CHECK(legacy.spec == "old.db");
  CHECK(legacy.source == StoreSource::legacy_env);
  // An empty variable is unset.
  const auto fallback = choose_store(std::nullopt, env_of({{"WAGROUPS_STORE", ""}}), false);
  CHECK(fallback.spec == "./wagroups-tickets.db");
  CHECK(fallback.source == StoreSource::default_file);

  // Optional stores (send, groups create): the flag or WAGROUPS_STORE, never the older variable.
  CHECK(choose_store(std::nullopt, both, true).spec == "postgresql://h/a");
  const auto none = choose_store(std::nullopt, env_of({{"WAGROUPS_TICKETS_DB", "old.db"}}), true);
  CHECK(none.spec.empty());
  CHECK(none.source == StoreSource::none);
  CHECK(choose_store(std::string("f.db"), env_of({}), true).spec == "f.db");
}

TEST_CASE("issue12 item 2: the schema is --store-schema, then WAGROUPS_STORE_SCHEMA, then wagroups", "[cli][issue12]") {
  const auto env = env_of({{"WAGROUPS_STORE_SCHEMA", "tenant_b"}});
  CHECK(choose_schema(std::string("tenant_a"), env).schema == "tenant_a");
  CHECK(choose_schema(std::string("tenant_a"), env).from_flag);
  CHECK(choose_schema(std::nullopt, env).schema == "tenant_b");
  CHECK_FALSE(choose_schema(std::nullopt, env).from_flag);
  CHECK(choose_schema(std::nullopt, env_of({})).schema == "wagroups");
}
