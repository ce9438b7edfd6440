// Fallback for a copy of the recipe outside the repository; in the repository test_package builds
// tests/package/consumer/main.cpp instead. One create_group call over FakeTransport, no network.
#include <wagroups/testing/fake_transport.hpp>
#include <wagroups/wagroups.hpp>

#include <iostream>
#include <memory>

int main() {
  auto transport = std::make_shared<wagroups::testing::FakeTransport>();
  transport->enqueue(200, R"({"messaging_product":"whatsapp","request_id":"R1"})");

  wagroups::ClientOptions options;
  options.access_token = "test-package-token";
  options.phone_number_id = "106540352242922";
  options.transport = transport;
  wagroups::Client client(options);

  wagroups::CreateGroupRequest request;
  request.subject = "test_package";
  const auto created = client.create_group(request);
  if (!created || created->request_id.value_or("") != "R1") {
    std::cerr << "create_group over FakeTransport did not return request_id R1\n";
    return 1;
  }
  std::cout << "wagroups " << wagroups::version() << " consumer OK\n";
  return 0;
}
