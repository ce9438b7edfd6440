#include "wagroups/client/client.hpp"

#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include "client/client_impl.hpp"
#include "client/validation.hpp"
#include "http/retry.hpp"
#include "json/codecs.hpp"
#include "util/text.hpp"
#include "wagroups/http/curl_transport.hpp"
#include "wagroups/version.hpp"
#include "wagroups/graph_codes.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

namespace {

using client_detail::Query;

constexpr int kMaxCursorRestarts = 3;

void add_page_query(Query& query, const PageRequest& page) {
  if (page.limit) query.emplace_back("limit", std::to_string(*page.limit));
  if (page.after) query.emplace_back("after", *page.after);
  if (page.before) query.emplace_back("before", *page.before);
}

// One walk over a cursor-paged list. An invalid cursor (131059) restarts from the first page and
// items already visited are skipped, so `visit` sees each id once.
template <typename Page, typename Item, typename Fetch, typename ItemsOf, typename IdOf>
Result<std::size_t> walk_pages(std::optional<int> page_size, Fetch fetch, ItemsOf items_of, IdOf id_of,
                               const std::function<bool(const Item&)>& visit, const PageProgress& progress) {
  std::set<std::string> seen;
  std::set<std::string> cursors;
  std::size_t pages = 0;
  std::size_t pages_this_pass = 0;  // since the walk (re)started
  std::size_t replayed_pages = 0;   // after a restart, pages that may hold only items seen before
  int restarts = 0;
  PageRequest page;
  page.limit = page_size;
  for (;;) {
    Result<Page> result = fetch(page);
    if (!result) {
      if (result.error().graph_code() == graph_codes::invalid_cursor && page.after && restarts < kMaxCursorRestarts) {
        ++restarts;
        page.after.reset();
        cursors.clear();
        replayed_pages = pages_this_pass;
        pages_this_pass = 0;
        continue;
      }
      return std::move(result).error();
    }
    ++pages;
    ++pages_this_pass;
    const std::size_t seen_before = seen.size();
    for (const Item& item : items_of(*result)) {
      if (!seen.insert(id_of(item)).second) continue;
      if (!visit(item)) {
        if (progress) progress(pages, seen.size());
        return seen.size();
      }
    }
    if (progress) progress(pages, seen.size());
    const Paging& paging = result->paging;
    const auto& items = items_of(*result);
    // Ends on an empty page, a missing cursor, a cursor already followed, or a page with nothing
    // new: a server that keeps handing out fresh cursors for old items cannot loop the walk.
    const bool nothing_new = seen.size() == seen_before && pages_this_pass > replayed_pages;
    if (items.empty() || !paging.after || nothing_new || !cursors.insert(*paging.after).second) return seen.size();
    // Graph marks the last page by leaving out `next`, but Meta's join-requests answer never
    // carries `next` at all: without it, only a short page proves the end.
    if (!paging.next && page.limit && items.size() < static_cast<std::size_t>(*page.limit)) return seen.size();
    page.after = paging.after;
  }
}

}  // namespace

namespace {

void add_form_field(std::string& body, const std::string& boundary, std::string_view name, std::string_view value) {
  body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"";
  body += name;
  body += "\"\r\n\r\n";
  body += value;
  body += "\r\n";
}

// Meta's picture upload follows the media-upload shape: exactly `messaging_product` and a `file`
// part (image/jpeg); subject and description never ride along (they go as JSON).
std::string encode_picture_multipart(const ProfilePicture& picture, const std::string& boundary) {
  std::string body;
  add_form_field(body, boundary, "messaging_product", "whatsapp");
  std::string filename;
  for (char c : picture.filename) {
    const auto u = static_cast<unsigned char>(c);
    filename += (c == '"' || c == '\\' || u < 0x20 || u == 0x7f) ? '_' : c;
  }
  body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename +
          "\"\r\nContent-Type: image/jpeg\r\n\r\n";
  body += picture.jpeg_bytes;
  body += "\r\n--" + boundary + "--\r\n";
  return body;
}

}  // namespace

Client::Client(ClientOptions options) : impl_(std::make_shared<const Impl>(std::move(options))) {}

const ClientOptions& Client::options() const noexcept { return impl_->options; }

Result<CreateGroupResponse> Client::create_group(const CreateGroupRequest& request, const CallOptions& call) const {
  if (auto r = impl_->check_credentials(true); !r) return r.error();
  if (auto r = validation::check(request); !r) return r.error();
  return impl_->call(HttpMethod::post, impl_->url({impl_->options.phone_number_id, "groups"}),
                     codec::encode_create_group(request), Idempotency::non_idempotent, call,
                     [](HttpResponse& resp) { return codec::decode_create_group(resp.body); });
}

Result<ListGroupsResponse> Client::list_groups(const ListGroupsRequest& request, const CallOptions& call) const {
  if (auto r = impl_->check_credentials(true); !r) return r.error();
  if (auto r = validation::check_page(request.page); !r) return r.error();
  Query query;
  add_page_query(query, request.page);
  return impl_->call(HttpMethod::get, impl_->url({impl_->options.phone_number_id, "groups"}, query), {},
                     Idempotency::idempotent, call,
                     [](HttpResponse& resp) { return codec::decode_list_groups(resp.body); });
}

Result<std::size_t> Client::for_each_group(const std::function<bool(const GroupSummary&)>& visit, int page_size,
                                           const PageProgress& progress, const CallOptions& call) const {
  if (auto r = validation::check_page(PageRequest{page_size, std::nullopt, std::nullopt}); !r) return r.error();
  return walk_pages<ListGroupsResponse, GroupSummary>(
      page_size, [&](const PageRequest& page) { return list_groups(ListGroupsRequest{page}, call); },
      [](const ListGroupsResponse& r) -> const std::vector<GroupSummary>& { return r.groups; },
      [](const GroupSummary& g) { return g.id; }, visit, progress);
}

Result<std::vector<GroupSummary>> Client::list_all_groups(int page_size, const PageProgress& progress,
                                                          const CallOptions& call) const {
  std::vector<GroupSummary> all;
  auto walked = for_each_group(
      [&](const GroupSummary& g) {
        all.push_back(g);
        return true;
      },
      page_size, progress, call);
  if (!walked) return std::move(walked).error();
  return all;
}

Result<GroupInfo> Client::get_group_info(const GetGroupInfoRequest& request, const CallOptions& call) const {
  if (auto r = impl_->check_group(request.group_id); !r) return r.error();
  static constexpr GroupField kAll[] = {GroupField::subject,           GroupField::description,
                                        GroupField::participants,      GroupField::total_participant_count,
                                        GroupField::suspended,         GroupField::creation_timestamp,
                                        GroupField::join_approval_mode};
  std::string fields;
  auto append = [&](GroupField f) {
    if (!fields.empty()) fields += ',';
    fields += to_string(f);
  };
  if (request.fields.empty()) {
    for (GroupField f : kAll) append(f);
  } else {
    for (GroupField f : request.fields) append(f);
  }
  return impl_->call(HttpMethod::get, impl_->url({request.group_id}, {{"fields", fields}}), {},
                     Idempotency::idempotent, call,
                     [](HttpResponse& resp) { return codec::decode_group_info(resp.body); });
}

Result<UpdateGroupSettingsResponse> Client::update_group_settings(const UpdateGroupSettingsRequest& request,
                                                                  const CallOptions& call) const {
  // Everything, the picture included, is checked before the first request leaves.
  if (auto r = impl_->check_credentials(false); !r) return r.error();
  if (auto r = validation::check(request); !r) return r.error();
  const std::string target = impl_->url({request.group_id});
  auto send = [&](std::string body, std::string content_type) -> Result<SettingsRequestResult> {
    int status = 0;
    auto decoded = impl_->call(
        HttpMethod::post, target, std::move(body), Idempotency::non_idempotent, call,
        [&](HttpResponse& resp) {
          status = resp.status;
          return codec::decode_update_settings(resp.body);
        },
        std::move(content_type));
    if (!decoded) return std::move(decoded).error();
    SettingsRequestResult r;
    r.http_status = status;
    r.request_id = std::move(decoded->request_id);
    r.success = decoded->success;
    return r;
  };

  UpdateGroupSettingsResponse out;
  if (request.subject || request.description) {
    auto fields = send(codec::encode_update_settings(request), "application/json");
    if (!fields) return std::move(fields).error();  // nothing was applied
    out.fields = std::move(*fields);
  }
  if (request.profile_picture) {
    const std::string boundary = impl_->multipart_boundary(*request.profile_picture);
    auto picture =
        send(encode_picture_multipart(*request.profile_picture, boundary), "multipart/form-data; boundary=" + boundary);
    if (!picture) {
      // Alone, the picture's failure is the call's. After the fields were accepted it is data, so
      // that the host sees both: the first change applied, the second refused.
      if (!out.fields) return std::move(picture).error();
      SettingsRequestResult failed;
      failed.http_status = picture.error().http_status;
      failed.error = std::move(picture).error();
      out.picture = std::move(failed);
    } else {
      out.picture = std::move(*picture);
    }
  }
  const SettingsRequestResult& first = out.fields ? *out.fields : *out.picture;
  out.request_id = first.request_id;
  // A host that reads only `success` must not take a refused picture for a done update.
  out.success = out.picture && !out.picture->ok() ? std::optional<bool>(false) : first.success;
  return out;
}

Result<DeleteGroupResponse> Client::delete_group(const std::string& group_id, const CallOptions& call) const {
  if (auto r = impl_->check_group(group_id); !r) return r.error();
  return impl_->call(HttpMethod::delete_, impl_->url({group_id}), {}, Idempotency::non_idempotent, call,
                     [](HttpResponse& resp) { return codec::decode_delete_group(resp.body); });
}

Result<InviteLink> Client::get_invite_link(const std::string& group_id, const CallOptions& call) const {
  if (auto r = impl_->check_group(group_id); !r) return r.error();
  return impl_->call(HttpMethod::get, impl_->url({group_id, "invite_link"}), {}, Idempotency::idempotent, call,
                     [](HttpResponse& resp) { return codec::decode_invite_link(resp.body); });
}

Result<InviteLink> Client::reset_invite_link(const std::string& group_id, const CallOptions& call) const {
  if (auto r = impl_->check_group(group_id); !r) return r.error();
  return impl_->call(HttpMethod::post, impl_->url({group_id, "invite_link"}), codec::encode_messaging_product_only(),
                     Idempotency::non_idempotent, call,
                     [](HttpResponse& resp) { return codec::decode_invite_link(resp.body); });
}

Result<DeleteInviteLinkResponse> Client::delete_invite_link(const std::string& group_id,
                                                            const CallOptions& call) const {
  if (auto r = impl_->check_group(group_id); !r) return r.error();
  return impl_->call(HttpMethod::delete_, impl_->url({group_id, "invite_link"}),
                     codec::encode_messaging_product_only(), Idempotency::non_idempotent, call,
                     [](HttpResponse& resp) { return codec::decode_delete_invite_link(resp.body); });
}

Result<JoinRequestsPage> Client::list_join_requests(const ListJoinRequestsRequest& request,
                                                    const CallOptions& call) const {
  if (auto r = impl_->check_group(request.group_id); !r) return r.error();
  if (auto r = validation::check_page(request.page); !r) return r.error();
  Query query;
  add_page_query(query, request.page);
  return impl_->call(HttpMethod::get, impl_->url({request.group_id, "join_requests"}, query), {},
                     Idempotency::idempotent, call,
                     [](HttpResponse& resp) { return codec::decode_join_requests(resp.body); });
}

Result<std::vector<JoinRequest>> Client::list_all_join_requests(const std::string& group_id,
                                                                const PageProgress& progress,
                                                                const CallOptions& call) const {
  if (auto r = validation::require_path_id("group_id", group_id); !r) return r.error();
  std::vector<JoinRequest> all;
  // Meta documents no page-size parameter for join requests: let it choose.
  auto walked = walk_pages<JoinRequestsPage, JoinRequest>(
      std::nullopt,
      [&](const PageRequest& page) { return list_join_requests(ListJoinRequestsRequest{group_id, page}, call); },
      [](const JoinRequestsPage& p) -> const std::vector<JoinRequest>& { return p.data; },
      [](const JoinRequest& j) { return j.join_request_id; },
      std::function<bool(const JoinRequest&)>([&](const JoinRequest& j) {
        all.push_back(j);
        return true;
      }),
      progress);
  if (!walked) return std::move(walked).error();
  return all;
}

Result<JoinRequestsOutcome> Client::approve_join_requests(const JoinRequestsAction& request,
                                                          const CallOptions& call) const {
  if (auto r = impl_->check_credentials(false); !r) return r.error();
  if (auto r = validation::check(request); !r) return r.error();
  return impl_->call(
      HttpMethod::post, impl_->url({request.group_id, "join_requests"}), codec::encode_join_request_ids(request),
      Idempotency::non_idempotent, call, [&](HttpResponse& resp) {
        auto outcome = codec::decode_join_requests_result(resp, "approved_join_requests", request.join_request_ids);
        if (outcome) impl_->redact(outcome->partial_error, outcome->errors);
        return outcome;
      });
}

Result<JoinRequestsOutcome> Client::reject_join_requests(const JoinRequestsAction& request,
                                                         const CallOptions& call) const {
  if (auto r = impl_->check_credentials(false); !r) return r.error();
  if (auto r = validation::check(request); !r) return r.error();
  return impl_->call(
      HttpMethod::delete_, impl_->url({request.group_id, "join_requests"}), codec::encode_join_request_ids(request),
      Idempotency::non_idempotent, call, [&](HttpResponse& resp) {
        auto outcome = codec::decode_join_requests_result(resp, "rejected_join_requests", request.join_request_ids);
        if (outcome) impl_->redact(outcome->partial_error, outcome->errors);
        return outcome;
      });
}

Result<RemoveParticipantsResponse> Client::remove_participants(const RemoveParticipantsRequest& request,
                                                               const CallOptions& call) const {
  if (auto r = impl_->check_credentials(false); !r) return r.error();
  if (auto r = validation::check(request); !r) return r.error();
  RemoveParticipantsRequest trimmed = request;
  for (auto& p : trimmed.participants) p = validation::trim(p);
  return impl_->call(HttpMethod::delete_, impl_->url({request.group_id, "participants"}),
                     codec::encode_remove_participants(trimmed), Idempotency::non_idempotent, call,
                     [&](HttpResponse& resp) {
                       auto removed = codec::decode_remove_participants(resp);
                       if (removed) impl_->redact(removed->partial_error, removed->errors);
                       return removed;
                     });
}

Result<SendMessageResponse> Client::send_group_message(const GroupMessage& message, const CallOptions& call) const {
  auto body = impl_->group_message_body(message);
  if (!body) return std::move(body).error();
  if (auto r = impl_->check_credentials(true); !r) return r.error();
  auto sent = impl_->execute(impl_->group_message_request(std::move(*body), call), Idempotency::non_idempotent, call);
  if (!sent) return std::move(sent).error();
  return impl_->decode_answer(*sent, &Impl::decode_sent_message);
}

Result<SendMessageResponse> Client::send_text(const std::string& group_id, const std::string& body, bool preview_url,
                                              const CallOptions& call) const {
  GroupMessage m;
  m.group_id = group_id;
  m.type = MessageType::text;
  m.text = body;
  m.preview_url = preview_url;
  return send_group_message(m, call);
}

Result<SendMessageResponse> Client::send_media(const std::string& group_id, MessageType type, const MediaRef& media,
                                               const CallOptions& call) const {
  if (!validation::is_media(type) && is_supported_in_groups(type))
    return Error::invalid_argument("type", "one of image, video, audio, document, sticker",
                                   std::string("send_media takes a media type, not '") + to_string(type) + "'");
  GroupMessage m;
  m.group_id = group_id;
  m.type = type;
  m.media = media;
  return send_group_message(m, call);
}

Result<SendMessageResponse> Client::send_template(const std::string& group_id, const TemplateMessage& template_message,
                                                  const CallOptions& call) const {
  GroupMessage m;
  m.group_id = group_id;
  m.type = MessageType::template_;
  m.template_message = template_message;
  return send_group_message(m, call);
}

Result<SendMessageResponse> Client::pin_message(const std::string& group_id, const std::string& message_id,
                                                int expiration_days, const CallOptions& call) const {
  GroupMessage m;
  m.group_id = group_id;
  m.type = MessageType::pin;
  m.pin = PinMessage{PinOperation::pin, message_id, expiration_days};
  return send_group_message(m, call);
}

Result<SendMessageResponse> Client::unpin_message(const std::string& group_id, const std::string& message_id,
                                                  const CallOptions& call) const {
  GroupMessage m;
  m.group_id = group_id;
  m.type = MessageType::pin;
  m.pin = PinMessage{PinOperation::unpin, message_id, std::nullopt};
  return send_group_message(m, call);
}

Result<SendMessageResponse> Client::send_template_to_phone(const std::string& phone_number,
                                                           const TemplateMessage& template_message,
                                                           const CallOptions& call) const {
  // Kept for the string callers: a BSUID given here is still sent as `recipient`.
  return send_template_to_individual(IndividualRecipient::from_string(phone_number), template_message, call);
}

Result<SendMessageResponse> Client::send_template_to_individual(const IndividualRecipient& recipient,
                                                                const TemplateMessage& template_message,
                                                                const CallOptions& call) const {
  if (auto r = validation::check(recipient); !r) return r.error();
  if (auto r = validation::check_template(template_message, false); !r) return r.error();
  if (auto r = impl_->check_credentials(true); !r) return r.error();
  return impl_->call(HttpMethod::post, impl_->url({impl_->options.phone_number_id, "messages"}),
                     codec::encode_template_to_individual(recipient, template_message), Idempotency::non_idempotent,
                     call, [](HttpResponse& resp) { return codec::decode_send_message(resp.body); });
}

Result<SendMessageResponse> Client::send_text_to_individual(const IndividualRecipient& recipient,
                                                            const std::string& body, bool preview_url,
                                                            const CallOptions& call) const {
  if (auto r = validation::check(recipient); !r) return r.error();
  if (auto r = validation::check_text("text", body); !r) return r.error();
  if (auto r = impl_->check_credentials(true); !r) return r.error();
  return impl_->call(HttpMethod::post, impl_->url({impl_->options.phone_number_id, "messages"}),
                     codec::encode_text_to_individual(recipient, body, preview_url), Idempotency::non_idempotent, call,
                     [](HttpResponse& resp) { return codec::decode_send_message(resp.body); });
}

Result<NumberEligibility> Client::check_number_eligibility(const CallOptions& call) const {
  if (auto r = impl_->check_credentials(true); !r) return r.error();
  return impl_->call(
      HttpMethod::get,
      impl_->url({impl_->options.phone_number_id}, {{"fields", codec::phone_number_eligibility_fields()}}), {},
      Idempotency::idempotent, call, [](HttpResponse& resp) -> Result<NumberEligibility> {
        auto fields = codec::decode_phone_number(resp.body);
        if (!fields) return std::move(fields).error();
        return assess_groups_eligibility(*fields);
      });
}

bool is_loopback_http_url(std::string_view url) noexcept {
  constexpr std::string_view kScheme = "http://";
  if (url.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = url[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return false;
  }
  std::string_view rest = url.substr(kScheme.size());
  const std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (authority.find('@') != std::string_view::npos) return false;  // "http://127.0.0.1@elsewhere"
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    const std::string_view after = host.substr(close + 1);
    if (!after.empty() && after.front() != ':') return false;
    host = host.substr(0, close + 1);
  } else if (const std::size_t colon = host.find(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host == "localhost" || host == "[::1]") return true;
  // 127.0.0.0/8 in dotted-quad form only.
  if (host.substr(0, 4) != "127.") return false;
  int parts = 0;
  std::size_t i = 0;
  while (i <= host.size()) {
    const std::size_t dot = host.find('.', i);
    const std::string_view part = host.substr(i, dot == std::string_view::npos ? std::string_view::npos : dot - i);
    if (part.empty() || part.size() > 3) return false;
    int v = 0;
    for (char c : part) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    if (v > 255) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    i = dot + 1;
  }
  return parts == 4;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
