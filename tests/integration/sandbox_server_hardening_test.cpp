// issue 10 item 8: the SandboxServer against hostile HTTP clients (hostile_http.hpp): chunked,
// length-less and compressed bodies refused before reading, a declared length over its 16 MiB
// limit, and slow clients that would otherwise hold every worker. (A second server on a port in
// use: sandbox_server_test.cpp.)

#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include <catch2/catch_test_macros.hpp>

#include "hostile_http.hpp"
#include "loopback_server.hpp"
#include "wagroups/sandbox/server.hpp"
#include "wagroups/sandbox/simulator.hpp"

using namespace std::chrono_literals;
using wagroups::sandbox::SandboxServer;
using wagroups::sandbox::ServerOptions;
using wagroups::sandbox::Simulator;

namespace {

std::unique_ptr<SandboxServer> start(Simulator& sim, ServerOptions options = {}) {
  wagroups_test::prepare_process_for_loopback();
  auto started = SandboxServer::start(sim, std::move(options));
  if (!started) FAIL("SandboxServer::start: " << started.error().to_string());
  return std::move(*started);
}

// A Graph call the simulator answers (with an error envelope: no token); its status or 0.
int graph_post(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  const auto r =
      client.Post("/v23.0/123/groups", R"({"messaging_product":"whatsapp","subject":"x"})", "application/json");
  return r ? r->status : 0;
}

constexpr const char* kPath = "/v23.0/123/groups";

}  // namespace

TEST_CASE(
    "issue10 item 8: the sandbox server refuses chunked (411), length-less (411), compressed (415) and "
    "oversized (413) bodies before reading them",
    "[integration][sandbox][issue10]") {
  Simulator sim;
  auto server = start(sim);
  const int port = server->port();
  const auto normal = [port] { return graph_post(port); };
  wagroups_test::check_chunked_post_refused(port, static_cast<int>(::getpid()), kPath, normal);
  wagroups_test::check_lengthless_post_refused(port, kPath);
  wagroups_test::check_compressed_post_refused(port, kPath, normal);
  wagroups_test::check_declared_length_refused(port, kPath, 16u * 1024u * 1024u);
  CHECK(graph_post(port) > 0);
}

TEST_CASE("issue10 item 8: slow clients on every worker do not starve a Graph call to the sandbox server",
          "[integration][sandbox][issue10][concurrent]") {
  Simulator sim;
  ServerOptions options;
  options.request_timeout = 2s;
  auto server = start(sim, options);
  const int port = server->port();
  wagroups_test::check_slow_clients_do_not_starve(port, kPath, 12, [port] { return graph_post(port); });
}

TEST_CASE("issue10 item 8: the sandbox server refuses a request timeout of zero", "[integration][sandbox][issue10]") {
  Simulator sim;
  ServerOptions options;
  options.request_timeout = 0ms;
  auto started = SandboxServer::start(sim, options);
  REQUIRE_FALSE(started.ok());
  CHECK(started.error().field == "request_timeout");
}

TEST_CASE(
    "issue10 item 8: the sandbox server closes after httplib's own 414, refuses headers over 64 KiB with 400 (its "
    "body limit is 16 MiB), and idle or silent connections do not starve it",
    "[integration][sandbox][issue10][concurrent]") {
  Simulator sim;
  auto server = start(sim);
  const int port = server->port();
  const auto normal = [port] { return graph_post(port); };
  wagroups_test::check_early_error_closes(port, kPath, normal);
  wagroups_test::check_header_flood_refused(port, kPath, normal);
  wagroups_test::check_idle_and_silent_connections_do_not_starve(port, kPath, normal);
}
