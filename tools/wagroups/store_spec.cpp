// Naming the ticket store: see store_spec.hpp.

#include "store_spec.hpp"

#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>

namespace wagroups_cli {
namespace {

constexpr const char* kMask = "***";

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A URI component's percent-decoding, as libpq decodes a query parameter's name.
std::string percent_decoded(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

bool names_a_password(std::string_view key) {
  std::string lower;
  for (const char c : percent_decoded(key)) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ends_with(lower, "password");
}

// ?a=1&password=x&b=2: each parameter whose name is a password keeps its name, not its value.
void mask_query(std::string& out, std::size_t query_start) {
  std::size_t p = query_start;
  while (p <= out.size()) {
    std::size_t end = out.find('&', p);
    if (end == std::string::npos) end = out.size();
    const std::size_t eq = out.find('=', p);
    if (eq != std::string::npos && eq < end && names_a_password(std::string_view(out).substr(p, eq - p))) {
      out.replace(eq + 1, end - eq - 1, kMask);
      end = eq + 1 + std::char_traits<char>::length(kMask);
    }
    p = end + 1;
  }
}

// key=value words (libpq's other form, or a file name that happens to hold one): the value of
// every key ending in "password", up to the next blank (or its closing quote).
void mask_words(std::string& out) {
  for (std::size_t eq = out.find('='); eq != std::string::npos; eq = out.find('=', eq + 1)) {
    std::size_t key_end = eq;
    while (key_end > 0 && out[key_end - 1] == ' ') --key_end;
    std::size_t key_start = key_end;
    while (key_start > 0 && out[key_start - 1] != ' ' && out[key_start - 1] != '=') --key_start;
    if (!names_a_password(std::string_view(out).substr(key_start, key_end - key_start))) continue;
    std::size_t value = eq + 1;
    while (value < out.size() && out[value] == ' ') ++value;
    std::size_t end = value;
    if (value < out.size() && out[value] == '\'') {
      for (end = value + 1; end < out.size() && out[end] != '\''; ++end)
        if (out[end] == '\\') ++end;
      end = end < out.size() ? end + 1 : out.size();
    } else {
      while (end < out.size() && out[end] != ' ') ++end;
    }
    out.replace(value, end - value, kMask);
    eq = value;
  }
}

}  // namespace

bool is_postgres_store(const std::string& spec) {
  return starts_with(spec, "postgres://") || starts_with(spec, "postgresql://");
}

bool looks_like_conninfo(const std::string& spec) {
  static constexpr const char* kKeywords[] = {"host",    "hostaddr",        "port",     "dbname",
                                              "user",    "password",        "passfile", "service",
                                              "sslmode", "connect_timeout", "options",  "application_name"};
  std::size_t start = 0;
  while (start < spec.size() && spec[start] == ' ') ++start;
  std::size_t end = start;
  while (end < spec.size() && (std::isalnum(static_cast<unsigned char>(spec[end])) || spec[end] == '_')) ++end;
  std::size_t eq = end;
  while (eq < spec.size() && spec[eq] == ' ') ++eq;
  if (eq >= spec.size() || spec[eq] != '=') return false;
  const std::string_view key = std::string_view(spec).substr(start, end - start);
  for (const char* k : kKeywords)
    if (key == k) return true;
  return false;
}

std::string shown_store(const std::string& spec) {
  std::string out = spec;
  if (!is_postgres_store(spec)) {
    mask_words(out);
    return out;
  }
  // postgresql://user:password@host:port,host2/db?param=...: the userinfo ends at the last '@'
  // before the query's '?'. libpq wants a '@', '/' or '?' in a password percent-encoded, but a raw
  // one must not leave part of it shown: with no '@' before the first '?', the last '@' of all.
  const std::size_t authority = out.find("://") + 3;
  const std::size_t first_query = out.find('?', authority);
  std::size_t at = std::string::npos;
  if (first_query != std::string::npos && first_query > authority) at = out.rfind('@', first_query - 1);
  if (at == std::string::npos || at < authority) at = out.rfind('@');
  if (at != std::string::npos && at < authority) at = std::string::npos;
  if (at != std::string::npos) {
    const std::size_t colon = out.find(':', authority);
    if (colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, kMask);
      at = colon + 1 + std::char_traits<char>::length(kMask);
    }
  }
  const std::size_t query = out.find('?', at == std::string::npos ? authority : at);
  const std::size_t query_start = query == std::string::npos ? std::string::npos : query + 1;
  if (query_start != std::string::npos) mask_query(out, query_start);
  return out;
}

std::string masked_store_uris(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t done = 0;
  for (std::size_t p = text.find("postgres"); p != std::string_view::npos; p = text.find("postgres", p + 1)) {
    const std::string_view rest = text.substr(p);
    if (p < done || !(starts_with(rest, "postgres://") || starts_with(rest, "postgresql://"))) continue;
    std::size_t end = p;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) && text[end] != '"' &&
           text[end] != '\'' && text[end] != '`')
      ++end;
    out.append(text.substr(done, p - done));
    out += shown_store(std::string(text.substr(p, end - p)));
    done = end;
  }
  out.append(text.substr(done));
  return out;
}

StoreChoice choose_store(const std::optional<std::string>& flag, const EnvLookup& env, bool optional) {
  if (flag) return {*flag, StoreSource::flag};
  const auto from_env = [&env](const char* name) -> std::optional<std::string> {
    const char* value = env ? env(name) : nullptr;
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
  if (auto spec = from_env(kStoreEnv)) return {std::move(*spec), StoreSource::store_env};
  if (optional) return {};
  if (auto spec = from_env(kLegacyStoreEnv)) return {std::move(*spec), StoreSource::legacy_env};
  return {kDefaultTicketDb, StoreSource::default_file};
}

SchemaChoice choose_schema(const std::optional<std::string>& flag, const EnvLookup& env) {
  if (flag) return {*flag, true};
  const char* value = env ? env(kStoreSchemaEnv) : nullptr;
  if (value != nullptr && *value != '\0') return {value, false};
  return {kDefaultStoreSchema, false};
}

}  // namespace wagroups_cli
