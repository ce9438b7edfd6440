#pragma once

// Naming the ticket store (issue 12): which store a command opens (the flag, then the
// environment, then the default file), whether it is PostgreSQL, and how it may be printed. Plain
// functions of strings, without CLI11 or the SDK, so that tests can compile this file alone
// (tests/integration/cli_store_spec_test.cpp).
//
// Choices:
// - A PostgreSQL store is named by a `postgres://` or `postgresql://` URI only. A libpq
//   `key=value` string (`host=... password=...`) would otherwise be taken for a SQLite file name
//   and created on disk, password and all: `looks_like_conninfo` lets the caller refuse it.
// - `shown_store` over-masks rather than under-masks: everything between the first ':' of the
//   authority and its last '@' (a password with a raw '@' or '/' is masked whole), and every
//   query parameter whose percent-decoded name ends in "password" (`password`, `sslpassword`).

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace wagroups_cli {

inline constexpr const char* kDefaultTicketDb = "./wagroups-tickets.db";
inline constexpr const char* kDefaultStoreSchema = "wagroups";
/// The store, for every command that opens one; wins over the older kLegacyStoreEnv.
inline constexpr const char* kStoreEnv = "WAGROUPS_STORE";
/// The store before issue 12 (`webhook serve`, `tickets`, `invite send` only).
inline constexpr const char* kLegacyStoreEnv = "WAGROUPS_TICKETS_DB";
inline constexpr const char* kStoreSchemaEnv = "WAGROUPS_STORE_SCHEMA";

/// Whether `spec` names a PostgreSQL store (a `postgres://` or `postgresql://` URI).
bool is_postgres_store(const std::string& spec);

/// Whether `spec` starts like a libpq `key=value` connection string (`host=`, `dbname=`, ...),
/// which the CLI does not accept (only URIs).
bool looks_like_conninfo(const std::string& spec);

/// `spec` as it may be printed: a URI's userinfo password, and any `password=` setting (query
/// parameter or key=value), replaced by "***", so that no output or log of the CLI carries it.
std::string shown_store(const std::string& spec);

/// `text` with every `postgres://` or `postgresql://` URI in it (up to a blank or a quote) shown as
/// shown_store shows it: the safety net of every stderr line (a URI mistyped as an argument comes
/// back in CLI11's own errors).
std::string masked_store_uris(std::string_view text);

/// Where the chosen store's name came from.
enum class StoreSource { flag, store_env, legacy_env, default_file, none };

struct StoreChoice {
  std::string spec;  ///< empty when `source` is none
  StoreSource source = StoreSource::none;
};

/// Reads an environment variable: null (or empty) when unset.
using EnvLookup = std::function<const char*(const char*)>;

/// The store a command opens: `flag` when given, then $WAGROUPS_STORE, then $WAGROUPS_TICKETS_DB,
/// then kDefaultTicketDb. An `optional` store (`send`, `groups create`: recording is opt-in)
/// takes the flag or $WAGROUPS_STORE only, else none: $WAGROUPS_TICKETS_DB never applied there.
StoreChoice choose_store(const std::optional<std::string>& flag, const EnvLookup& env, bool optional);

struct SchemaChoice {
  std::string schema;
  bool from_flag = false;  ///< given on the command line (rather than the environment or default)
};

/// The PostgreSQL schema: `flag` when given, then $WAGROUPS_STORE_SCHEMA, then kDefaultStoreSchema.
SchemaChoice choose_schema(const std::optional<std::string>& flag, const EnvLookup& env);

}  // namespace wagroups_cli
