// The agent's journey through the Groups API, offline: a FakeTransport plays Meta's part, answering
// each request the way the Graph API documents, so this runs with no account and no network.
// Swap the transport for `wagroups::make_curl_transport()` and a real token to talk to Meta.

#include <iostream>
#include <memory>
#include <string>

#include <wagroups/testing/fake_transport.hpp>
#include <wagroups/wagroups.hpp>

namespace {

const char* kGroupId = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD";

// A scripted Graph API: one canned answer per endpoint.
wagroups::Result<wagroups::HttpResponse> graph_api(const wagroups::HttpRequest& request) {
  wagroups::HttpResponse response;
  response.status = 200;
  const std::string& url = request.url;
  auto ends_with = [&](const std::string& suffix) {
    const auto path_end = url.find('?') == std::string::npos ? url.size() : url.find('?');
    return path_end >= suffix.size() && url.compare(path_end - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with("/groups") && request.method == wagroups::HttpMethod::post) {
    response.body = R"({"messaging_product":"whatsapp","request_id":"784D93D0C468593037EA0B1ECA245D9C"})";
  } else if (ends_with("/groups")) {
    response.body = std::string(R"({"data":{"groups":[{"id":")") + kGroupId +
                    R"(","subject":"Order #1042: delivery","created_at":"1750269342"}]},"paging":{"cursors":{}}})";
  } else if (ends_with("/invite_link")) {
    response.body = R"({"messaging_product":"whatsapp","invite_link":"https://chat.whatsapp.com/LINK1042"})";
  } else if (ends_with("/messages")) {
    response.body = R"({"messaging_product":"whatsapp","contacts":[{"input":"x"}],"messages":[{"id":"wamid.HBgLMTY1"}]})";
  } else {
    response.status = 404;
    response.body = R"({"error":{"message":"(#131041) Group unknown","type":"OAuthException","code":131041}})";
  }
  return response;
}

void print_request(const wagroups::HttpRequest& r) {
  std::cout << "    -> " << wagroups::to_string(r.method) << " " << r.url << "\n";
  if (!r.body.empty()) std::cout << "       " << r.body << "\n";
}

}  // namespace

int main() {
  auto transport = std::make_shared<wagroups::testing::FakeTransport>();
  transport->set_handler(graph_api);

  wagroups::ClientOptions options;
  options.access_token = "offline-demo-token";
  options.phone_number_id = "106540352242922";
  options.transport = transport;
  wagroups::Client client(options);

  std::cout << "wagroups " << wagroups::version() << " quick start (offline: a FakeTransport plays the Graph API)\n";

  std::cout << "1. The agent opens a group for the case\n";
  auto created = client.create_group({"Order #1042: delivery", "Customer, courier and agent", std::nullopt});
  if (!created) return std::cerr << created.error().to_string() << "\n", 1;
  print_request(transport->last_request());
  std::cout << "   request_id " << created->request_id.value_or("?")
            << " (the group id arrives later in a group_lifecycle_update webhook)\n";

  std::cout << "2. The group shows up among the number's active groups\n";
  auto groups = client.list_all_groups();
  if (!groups) return std::cerr << groups.error().to_string() << "\n", 1;
  print_request(transport->last_request());
  for (const auto& g : *groups) std::cout << "   " << g.id << "  " << g.subject.value_or("") << "\n";

  std::cout << "3. Fetch the invite link\n";
  auto link = client.get_invite_link(kGroupId);
  if (!link) return std::cerr << link.error().to_string() << "\n", 1;
  print_request(transport->last_request());
  std::cout << "   " << link->invite_link << "\n";

  std::cout << "4. Invite the customer with the group-invite template (Meta fills in the link)\n";
  wagroups::TemplateMessage invite;
  invite.name = "group_invite_link";
  invite.language = "en";
  wagroups::TemplateComponent body;
  body.parameters.push_back(wagroups::TemplateParameter::invite_link_for(kGroupId));
  invite.components.push_back(body);
  auto sent_invite = client.send_template_to_phone("+16505551234", invite);
  if (!sent_invite) return std::cerr << sent_invite.error().to_string() << "\n", 1;
  print_request(transport->last_request());
  std::cout << "   invite message " << sent_invite->message_id() << "\n";

  std::cout << "5. Once someone has joined, the business writes to the group\n";
  auto text = client.send_text(kGroupId, "Hi! Your courier and I are both here.");
  if (!text) return std::cerr << text.error().to_string() << "\n", 1;
  print_request(transport->last_request());
  std::cout << "   group message " << text->message_id() << "\n";

  std::cout << "6. What groups cannot do is refused before anything is sent\n";
  wagroups::GroupMessage reaction;
  reaction.group_id = kGroupId;
  reaction.type = wagroups::MessageType::reaction;
  auto refused = client.send_group_message(reaction);
  std::cout << "   " << refused.error().to_string() << "\n";
  auto too_long = client.create_group({std::string(129, 'x'), std::nullopt, std::nullopt});
  std::cout << "   " << too_long.error().to_string() << "\n";

  std::cout << "Sent " << transport->request_count() << " requests; done.\n";
  return 0;
}
