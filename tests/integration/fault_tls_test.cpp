// issue 13: CurlTransport and Client over TLS against a local CA. The keys and certificates are made
// at test time with Debian's openssl CLI in a scratch directory (none is committed); a small
// OpenSSL server on 127.0.0.1 (an ephemeral port) presents them. A certificate the CA signed for
// 127.0.0.1 passes; one for another name, or a CA the client was not given, fails as `transport`
// and is never retried: the server sees one handshake, and the injected sleeper is never called.

#include <catch2/catch_test_macros.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "loopback_server.hpp"  // prepare_process_for_loopback
#include "temp_dir.hpp"
#include "wagroups/client/client.hpp"
#include "wagroups/http/curl_transport.hpp"
#include "wagroups/testing/fake_transport.hpp"

using namespace std::chrono_literals;
using wagroups::ErrorCode;

namespace {

constexpr const char* kToken = "EAAtlsTestToken0123456789abcdef";
constexpr const char* kInviteLink =
    R"({"messaging_product":"whatsapp","invite_link":"https://chat.whatsapp.com/TlsTlsTls"})";

// Runs one openssl command (its output goes to openssl.log in `dir`); throws naming it on failure.
void openssl(const wagroups_test::TempDir& dir, const std::string& args) {
  const std::string command = "cd '" + dir.path() + "' && openssl " + args + " >>openssl.log 2>&1";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: openssl " + args + " (see openssl.log)");
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

const std::string kEcKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

// A self-signed CA: `name`.pem and `name`.key.
void make_ca(const wagroups_test::TempDir& dir, const std::string& name) {
  openssl(dir, "req -x509 " + kEcKey + " -keyout " + name + ".key -out " + name + ".pem -days 2 -subj '/CN=wagroups " +
                   name + " test CA' -addext basicConstraints=critical,CA:TRUE" +
                   " -addext keyUsage=critical,keyCertSign,cRLSign");
}

// A server certificate `name`.pem (key `name`.key) for `san`, signed by CA `ca`.
void make_leaf(const wagroups_test::TempDir& dir, const std::string& name, const std::string& ca,
               const std::string& san) {
  openssl(dir, "req " + kEcKey + " -keyout " + name + ".key -out " + name + ".csr -subj '/CN=wagroups test server'");
  write_file(dir.file(name + ".ext"), "subjectAltName=" + san +
                                          "\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                          "extendedKeyUsage=serverAuth\n");
  openssl(dir, "x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca + ".key -CAcreateserial -out " + name +
                   ".pem -days 2 -extfile " + name + ".ext");
}

// The test PKI: CA "local" signs "good" (127.0.0.1, localhost) and "wrong_name" (another host);
// CA "other" signs nothing the server presents.
struct Pki {
  wagroups_test::TempDir dir{"wagroups-tls"};
  Pki() {
    make_ca(dir, "local");
    make_ca(dir, "other");
    make_leaf(dir, "good", "local", "IP:127.0.0.1,DNS:localhost");
    make_leaf(dir, "wrong_name", "local", "DNS:wrong-name.example.invalid");
  }
};

// A TLS server on 127.0.0.1 that answers every request with an invite link, one connection at a
// time, and counts the handshakes it was offered and those that completed.
class TlsServer {
 public:
  TlsServer(const std::string& cert_pem, const std::string& key_pem) {
    wagroups_test::prepare_process_for_loopback();
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (ctx_ == nullptr || SSL_CTX_use_certificate_chain_file(ctx_, cert_pem.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, key_pem.c_str(), SSL_FILETYPE_PEM) != 1) {
      cleanup();
      throw std::runtime_error("TlsServer: cannot load " + cert_pem);
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 8) != 0) {
      cleanup();
      throw std::runtime_error("TlsServer: cannot listen on 127.0.0.1");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~TlsServer() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    cleanup();
  }
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  std::string base_url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  int handshakes() const noexcept { return handshakes_.load(); }
  int completed() const noexcept { return completed_.load(); }
  /// Requests read (their head whole): what crossed a completed handshake.
  int requests() const noexcept { return requests_.load(); }

 private:
  void cleanup() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    ctx_ = nullptr;
  }

  void run() {
    while (!stopping_.load()) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) continue;
      handshakes_.fetch_add(1);
      timeval tv{5, 0};  // a client that goes quiet cannot hold the test
      ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      serve(client);
      ::close(client);
    }
  }

  void serve(int client) {
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx_), &SSL_free);
    if (!ssl || SSL_set_fd(ssl.get(), client) != 1) return;
    if (SSL_accept(ssl.get()) != 1) {
      ERR_clear_error();  // the client refused our certificate: expected in the failure tests
      return;
    }
    completed_.fetch_add(1);
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      const int n = SSL_read(ssl.get(), buffer, sizeof buffer);
      if (n <= 0) {
        ERR_clear_error();
        return;
      }
      request.append(buffer, static_cast<std::size_t>(n));
    }
    requests_.fetch_add(1);
    const std::string body = kInviteLink;
    const std::string response =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n" + body;
    SSL_write(ssl.get(), response.data(), static_cast<int>(response.size()));
    SSL_shutdown(ssl.get());
    ERR_clear_error();
  }

  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> handshakes_{0};
  std::atomic<int> completed_{0};
  std::atomic<int> requests_{0};
};

wagroups::ClientOptions tls_options(const std::string& base_url, std::optional<std::string> ca_bundle,
                                    wagroups::testing::RecordingSleeper& sleeper) {
  wagroups::ClientOptions o;
  o.base_url = base_url;  // https://: no allow_insecure_http
  o.access_token = kToken;
  o.phone_number_id = "106540352242922";
  wagroups::CurlTransportOptions curl;
  curl.ca_bundle = std::move(ca_bundle);
  curl.proxy = "";  // never through a proxy
  curl.connect_timeout = 5s;
  o.transport = wagroups::make_curl_transport(curl);
  o.sleeper = sleeper.as_sleeper();
  o.random = [] { return 1.0; };
  o.retry.max_attempts = 4;
  return o;
}

using Call = std::function<std::optional<wagroups::Error>(const wagroups::Client&)>;

const Call read_invite_link = [](const wagroups::Client& c) -> std::optional<wagroups::Error> {
  auto r = c.get_invite_link("G1");
  if (r) return std::nullopt;
  return r.error();
};
const Call delete_group = [](const wagroups::Client& c) -> std::optional<wagroups::Error> {
  auto r = c.delete_group("G1");
  if (r) return std::nullopt;
  return r.error();
};

// A server presenting `cert`/`key` to a client trusting `ca_bundle`: `call` fails as transport,
// not retryable, after one handshake at most and no request, with no sleep and no token in the error.
void check_refused(const std::string& cert, const std::string& key, std::optional<std::string> ca_bundle,
                   const Call& call) {
  TlsServer server(cert, key);
  wagroups::testing::RecordingSleeper sleeper;
  wagroups::Client client(tls_options(server.base_url(), std::move(ca_bundle), sleeper));
  const std::optional<wagroups::Error> error = call(client);
  REQUIRE(error.has_value());
  const wagroups::Error& e = *error;
  CAPTURE(e.to_string());
  CHECK(e.code == ErrorCode::transport);
  // 60 CURLE_PEER_FAILED_VERIFICATION; 77 CURLE_SSL_CACERT_BADFILE where no default bundle exists.
  CHECK((e.curl_code == 60 || e.curl_code == 77));
  CHECK_FALSE(e.is_retryable());
  CHECK(e.attempts == 1);
  CHECK(server.handshakes() <= 1);
  // curl checks the host name once the handshake is done, so a wrong name may complete one; no
  // request (and no token) ever crosses it.
  CHECK(server.requests() == 0);
  CHECK(sleeper.delays().empty());
  CHECK(e.to_string().find(kToken) == std::string::npos);
}

}  // namespace

TEST_CASE("issue13 TLS with a local CA: good, wrong name, unknown CA", "[issue13][integration][tls]") {
  const Pki pki;
  const std::string local_ca = pki.dir.file("local.pem");

  SECTION("a certificate the CA signed for 127.0.0.1 passes") {
    TlsServer server(pki.dir.file("good.pem"), pki.dir.file("good.key"));
    wagroups::testing::RecordingSleeper sleeper;
    wagroups::Client client(tls_options(server.base_url(), local_ca, sleeper));
    auto r = client.get_invite_link("G1");
    INFO((r ? std::string("ok") : r.error().to_string()));
    REQUIRE(r.ok());
    CHECK(r->invite_link == "https://chat.whatsapp.com/TlsTlsTls");
    CHECK(server.completed() == 1);
    CHECK(server.requests() == 1);
    CHECK(sleeper.delays().empty());
  }

  SECTION("a certificate for another host name fails as transport, a read and a write alike, never retried") {
    check_refused(pki.dir.file("wrong_name.pem"), pki.dir.file("wrong_name.key"), local_ca, read_invite_link);
    check_refused(pki.dir.file("wrong_name.pem"), pki.dir.file("wrong_name.key"), local_ca, delete_group);
  }

  SECTION("a CA the client was not given fails as transport, never retried") {
    check_refused(pki.dir.file("good.pem"), pki.dir.file("good.key"), pki.dir.file("other.pem"), read_invite_link);
  }

  SECTION("the system's default bundle does not know the local CA either") {
    check_refused(pki.dir.file("good.pem"), pki.dir.file("good.key"), std::nullopt, read_invite_link);
  }
}
