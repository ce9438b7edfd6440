// issue 13: a known access token never appears in an Error, whatever part of an answer or a
// failure carried it: Graph's error envelope (message, error_data.details, error_user_title,
// error_user_msg, type, fbtrace_id), a 2xx carrying that envelope, a body that is not Graph's, the
// answer's headers, a transport failure's text, a body that cannot be decoded. Every field of the
// Error is scanned, and so are its renderings (to_string, BadResultAccess::what).

#include <catch2/catch_test_macros.hpp>

#include <functional>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "wagroups/client/client.hpp"

using namespace wagroups;
using wagroups_test::FakeClient;

namespace {

const std::string kToken = "EAAtokenAbsence7Zx9QwErTy1234567890";

// Every text an Error holds or renders, with the name of where it came from.
std::vector<std::pair<std::string, std::string>> texts_of(const Error& e) {
  std::vector<std::pair<std::string, std::string>> out = {{"message", e.message},
                                                          {"field", e.field},
                                                          {"limit", e.limit},
                                                          {"to_string", e.to_string()},
                                                          {"what", BadResultAccess(e).what()}};
  if (e.graph) {
    const GraphError& g = *e.graph;
    out.emplace_back("graph.type", g.type);
    out.emplace_back("graph.message", g.message);
    if (g.details) out.emplace_back("graph.details", *g.details);
    if (g.fbtrace_id) out.emplace_back("graph.fbtrace_id", *g.fbtrace_id);
    if (g.error_user_title) out.emplace_back("graph.error_user_title", *g.error_user_title);
    if (g.error_user_msg) out.emplace_back("graph.error_user_msg", *g.error_user_msg);
  }
  return out;
}

void check_no_token(const Error& e) {
  for (const auto& [where, text] : texts_of(e)) {
    CAPTURE(where, text);
    CHECK(text.find(kToken) == std::string::npos);
  }
}

void check_no_token(const GraphError& g) {
  for (const std::string* text : {&g.type, &g.message}) CHECK(text->find(kToken) == std::string::npos);
  for (const auto* text : {&g.details, &g.fbtrace_id, &g.error_user_title, &g.error_user_msg}) {
    if (*text) CHECK((*text)->find(kToken) == std::string::npos);
  }
}

ClientOptions token_options() {
  ClientOptions o = FakeClient::base_options();
  o.access_token = kToken;
  o.retry.max_attempts = 2;  // a retried read goes through the retry loop's error path too
  return o;
}

// One operation: runs against a client whose transport always gives the same outcome, and returns
// every Error the call produced (fan-out: one per group).
struct Operation {
  std::string name;
  std::function<std::vector<Error>(const Client&)> run;
};

template <typename T>
std::vector<Error> errors_of(const Result<T>& r) {
  if (r) return {};
  return {r.error()};
}

GroupMessage text_message() {
  GroupMessage m;
  m.type = MessageType::text;
  m.text = "hello";
  return m;
}

std::vector<Operation> operations() {
  return {
      {"create_group (a write)",
       [](const Client& c) {
         return errors_of(c.create_group({"Orders", std::nullopt, std::nullopt}));
       }},
      {"get_group_info (a read, retried)",
       [](const Client& c) {
         return errors_of(c.get_group_info(GetGroupInfoRequest{"G1", {}}));
       }},
      {"list_all_groups (a paged read)", [](const Client& c) { return errors_of(c.list_all_groups()); }},
      {"send_text", [](const Client& c) { return errors_of(c.send_text("G1", "hi")); }},
      {"send_text_to_individual",
       [](const Client& c) {
         return errors_of(c.send_text_to_individual(IndividualRecipient::from_phone("+16505551234"), "hi"));
       }},
      {"send_to_groups (fan-out)",
       [](const Client& c) {
         FanOutOptions f;
         f.max_attempts = 1;
         f.messages_per_second = 0;
         auto report = c.send_to_groups({"G1", "G2"}, text_message(), f);
         std::vector<Error> out;
         if (!report) return std::vector<Error>{report.error()};
         for (const auto& r : report->results)
           if (r.error) out.push_back(*r.error);
         return out;
       }},
  };
}

// Runs every operation against a client whose transport answers every request with `outcome`;
// returns how many of them failed. With `each_fails`, every one must (the path under test is an
// error path for all); lenient decoders may accept some odd 2xx bodies, hence the choice.
std::size_t check_operations(const std::function<Result<HttpResponse>()>& outcome, bool each_fails = true) {
  std::size_t failed = 0;
  for (const Operation& op : operations()) {
    CAPTURE(op.name);
    FakeClient f(1.0, token_options());
    f.transport->set_handler([&](const HttpRequest&) { return outcome(); });
    const std::vector<Error> errors = op.run(f.client);
    if (each_fails) CHECK_FALSE(errors.empty());
    if (!errors.empty()) ++failed;
    for (const Error& e : errors) {
      CAPTURE(e.to_string());
      check_no_token(e);
    }
  }
  return failed;
}

Result<HttpResponse> answer(int status, std::string body, HttpHeaders headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

// Graph's envelope with the token in the named member (and nowhere else).
std::string envelope_with_token_in(const std::string& member, int code = 190) {
  std::string message = "(#" + std::to_string(code) + ") Invalid OAuth access token";
  std::string type = "OAuthException";
  std::string details = "The access token could not be decrypted";
  std::string title = "Session expired";
  std::string user_msg = "Log in again";
  std::string trace = "AbCdEf123";
  if (member == "message") message = "Malformed access token " + kToken;
  if (member == "type") type = kToken;
  if (member == "details") details = "token " + kToken + " is not valid";
  if (member == "error_user_title") title = "Token " + kToken;
  if (member == "error_user_msg") user_msg = "Your token " + kToken + " expired";
  if (member == "fbtrace_id") trace = kToken;
  if (member == "all") {
    message = "Malformed access token " + kToken;
    type = kToken;
    details = kToken;
    title = kToken;
    user_msg = kToken;
    trace = kToken;
  }
  return R"({"error":{"message":")" + message + R"(","type":")" + type + R"(","code":)" + std::to_string(code) +
         R"(,"error_subcode":463,"error_data":{"details":")" + details + R"("},"error_user_title":")" + title +
         R"(","error_user_msg":")" + user_msg + R"(","is_transient":false,"fbtrace_id":")" + trace + R"("}})";
}

}  // namespace

TEST_CASE("issue13 token absence: Graph's error envelope, each member, each status", "[issue13][errors]") {
  for (const std::string member :
       {"message", "details", "error_user_title", "error_user_msg", "type", "fbtrace_id", "all"}) {
    for (const int status : {400, 401, 403, 429, 500, 503, 200}) {
      CAPTURE(member, status);
      const std::string body = envelope_with_token_in(member);
      check_operations([&] { return answer(status, body, {{"Content-Type", "application/json"}}); });
    }
  }
}

TEST_CASE("issue13 token absence: the members are kept, only the token is replaced", "[issue13][errors]") {
  FakeClient f(1.0, token_options());
  f.transport->set_handler([](const HttpRequest&) { return answer(400, envelope_with_token_in("all", 100)); });
  auto r = f.client.create_group({"Orders", std::nullopt, std::nullopt});
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.error().graph.has_value());
  const GraphError& g = *r.error().graph;
  CHECK(g.code == 100);
  CHECK(g.error_subcode == std::optional<int>(463));
  // Redacted in place: a host still sees that Graph said something there.
  CHECK(g.message == "Malformed access token [redacted]");
  CHECK(g.details == std::optional<std::string>("[redacted]"));
  CHECK(g.error_user_title == std::optional<std::string>("[redacted]"));
  CHECK(g.error_user_msg == std::optional<std::string>("[redacted]"));
  CHECK(g.type == "[redacted]");
  CHECK(g.fbtrace_id == std::optional<std::string>("[redacted]"));
}

TEST_CASE("issue13 token absence: bodies that are not Graph's and headers that echo the token", "[issue13][errors]") {
  const std::string filler(190, 'x');  // the token straddles the 200-byte excerpt's end
  for (const int status : {400, 401, 429, 500, 502}) {
    CAPTURE(status);
    check_operations([&] { return answer(status, "<html>bad token " + kToken + "</html>"); });
    check_operations([&] { return answer(status, filler + kToken + filler); });
    check_operations([&] {
      return answer(status, "",
                    {{"WWW-Authenticate", "Bearer error=\"invalid_token\", token=\"" + kToken + "\""},
                     {"Retry-After", kToken},
                     {"X-Echo-Authorization", "Bearer " + kToken}});
    });
  }
}

TEST_CASE("issue13 token absence: transport failures whose text quotes the token", "[issue13][errors]") {
  for (const bool sent : {false, true}) {
    CAPTURE(sent);
    check_operations([&]() -> Result<HttpResponse> {
      return Error::transport_failure(56, "curl: Recv failure near 'Authorization: Bearer " + kToken + "'", sent);
    });
  }
}

TEST_CASE("issue13 token absence: 2xx bodies that cannot be decoded", "[issue13][errors]") {
  const std::vector<std::string> bodies = {
      "{\"truncated\": \"" + kToken,                                     // not JSON
      "[\"" + kToken + "\"]",                                            // JSON of the wrong shape
      R"({"messages":")" + kToken + R"(","data":")" + kToken + R"("})",  // members of the wrong type
      R"({"messages":[{"id":[")" + kToken + R"("]}],"data":{"groups":[{"id":[")" + kToken +
          R"("]}]}})",  // ids not strings
      std::string(150, ' ') + kToken + std::string(150, 'y'),
  };
  for (const std::string& body : bodies) {
    CAPTURE(body);
    CHECK(check_operations([&] { return answer(200, body, {{"Content-Type", "application/json"}}); }, false) > 0);
  }
}

TEST_CASE("issue13 token absence: a partial success's Graph envelope is data, scrubbed too", "[issue13][errors]") {
  FakeClient f(1.0, token_options());
  f.transport->set_handler([](const HttpRequest&) { return answer(206, envelope_with_token_in("all", 131201)); });
  auto removed = f.client.remove_participants({"G1", {"+16505551234"}});
  REQUIRE(removed.ok());
  REQUIRE(removed->partial_error.has_value());
  check_no_token(*removed->partial_error);

  auto approved = f.client.approve_join_requests({"G1", {"J1"}});
  REQUIRE(approved.ok());
  if (approved->partial_error) check_no_token(*approved->partial_error);
}
