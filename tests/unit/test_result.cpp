// Result<T> semantics.

#include <catch2/catch_test_macros.hpp>

#include <string>
#include <vector>

#include "wagroups/result.hpp"

using namespace wagroups;

TEST_CASE("Result holds a value or an error", "[result]") {
  Result<int> good = 42;
  REQUIRE(good.ok());
  CHECK(static_cast<bool>(good));
  CHECK(*good == 42);
  CHECK(good.value() == 42);

  Result<int> bad = Error::invalid_argument("limit", "1-1024");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().field == "limit");
  CHECK(bad.value_or(7) == 7);
  CHECK_THROWS_AS(bad.value(), BadResultAccess);
  try {
    (void)bad.value();
  } catch (const BadResultAccess& e) {
    CHECK(e.error().code == ErrorCode::invalid_argument);
    CHECK(std::string(e.what()).find("limit") != std::string::npos);
  }
}

TEST_CASE("Result<void> and moves", "[result]") {
  Result<void> ok;
  CHECK(ok.ok());
  CHECK_NOTHROW(ok.value());
  Result<void> failed = Error::unsupported("type", "reactions are not supported in groups");
  CHECK_FALSE(failed.ok());
  CHECK(failed.error().code == ErrorCode::unsupported);
  CHECK_THROWS_AS(failed.value(), BadResultAccess);

  Result<std::string> s = std::string(1000, 'x');
  std::string moved = *std::move(s);
  CHECK(moved.size() == 1000);
}

TEST_CASE("Error::to_string names the kind, field, limit and Graph detail", "[result]") {
  Error e = Error::invalid_argument("subject", "1-128 characters after trimming");
  const std::string text = e.to_string();
  CHECK(text.find("invalid_argument") != std::string::npos);
  CHECK(text.find("subject") != std::string::npos);
  CHECK(text.find("1-128") != std::string::npos);

  Error g;
  g.code = ErrorCode::graph_api;
  g.http_status = 429;
  g.graph = GraphError{131208, "OAuthException", "(#131208) Group Rate Limit Hit", 2494055, std::nullopt,
                       std::string("Az8or"), std::nullopt, std::nullopt, std::nullopt};
  g.message = g.graph->message;
  const std::string graph_text = g.to_string();
  CHECK(graph_text.find("131208") != std::string::npos);
  CHECK(graph_text.find("Az8or") != std::string::npos);
  CHECK(graph_text.find("HTTP 429") != std::string::npos);
}

TEST_CASE("dereferencing a temporary Result yields a value that outlives it", "[result]") {
  auto make = [] { return Result<std::vector<std::string>>(std::vector<std::string>{"a", "b", "c"}); };
  std::string joined;
  for (const auto& s : *make()) joined += s;  // would dangle if operator*() && returned a reference
  CHECK(joined == "abc");
  CHECK(make().value().size() == 3);
  Error e = Result<int>(Error::invalid_argument("limit", "1-1024")).error();
  CHECK(e.field == "limit");
}
