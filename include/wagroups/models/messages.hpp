#pragma once

/// @file
/// Messages to a group (`recipient_type: "group"`, `to: <group id>`) and the 1:1 sends (template,
/// text) addressed by phone number and/or business-scoped user id.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wagroups/export.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// Cloud API message types. Groups accept text, media, non-authentication templates and pin;
/// the client refuses the others before sending (kind `unsupported`).
enum class MessageType {
  text,
  image,
  video,
  audio,
  document,
  sticker,
  template_,
  pin,
  // Not supported in groups:
  interactive,
  reaction,
  location,
  contacts,
};

/// The wire name ("text", "template", ...).
WAGROUPS_API const char* to_string(MessageType type) noexcept;
/// Whether Meta allows this type in a group.
WAGROUPS_API bool is_supported_in_groups(MessageType type) noexcept;

/// Whether `text` has the shape of a business-scoped user id: an upper-case country code, then
/// optional upper-case segments, each after a dot, then a dot and digits ("US.13491208655302741918";
/// a parent BSUID such as "US.ENT.11815799212886844830" too). Shape only: nothing is looked up.
WAGROUPS_API bool looks_like_bsuid(std::string_view text) noexcept;

/// Who a 1:1 message goes to. Meta addresses a phone number with `to` and a business-scoped user
/// id (BSUID) with `recipient`; with both, both are sent (Meta uses the phone when it can). At
/// least one must be set.
struct IndividualRecipient {
  std::optional<std::string> phone;  ///< sent as `to`, e.g. "+16505551234"
  std::optional<std::string> bsuid;  ///< sent as `recipient`, e.g. "US.13491208655302741918"

  static IndividualRecipient from_phone(std::string number) {
    IndividualRecipient r;
    r.phone = std::move(number);
    return r;
  }
  static IndividualRecipient from_bsuid(std::string user_id) {
    IndividualRecipient r;
    r.bsuid = std::move(user_id);
    return r;
  }
  static IndividualRecipient from_phone_and_bsuid(std::string number, std::string user_id) {
    IndividualRecipient r;
    r.phone = std::move(number);
    r.bsuid = std::move(user_id);
    return r;
  }
  /// One string that is either: a BSUID (see `looks_like_bsuid`) becomes `bsuid`, anything else
  /// `phone` (and is then checked as a phone number when sent).
  static IndividualRecipient from_string(std::string phone_or_bsuid) {
    return looks_like_bsuid(phone_or_bsuid) ? from_bsuid(std::move(phone_or_bsuid))
                                            : from_phone(std::move(phone_or_bsuid));
  }
};

/// A media object by uploaded media `id` or public `link` (exactly one of the two).
struct MediaRef {
  std::optional<std::string> id;
  std::optional<std::string> link;
  std::optional<std::string> caption;   ///< image, video, document; at most 1024 characters
  std::optional<std::string> filename;  ///< document only

  static MediaRef from_id(std::string media_id) { MediaRef m; m.id = std::move(media_id); return m; }
  static MediaRef from_link(std::string url) { MediaRef m; m.link = std::move(url); return m; }
};

/// One template parameter. `type` is Meta's parameter type ("text", "image", "document", "video",
/// "group_id", "payload", ...); the member matching it is serialised.
struct TemplateParameter {
  std::string type = "text";
  std::optional<std::string> text;
  std::optional<std::string> parameter_name;  ///< for templates with named parameters
  std::optional<MediaRef> media;              ///< for image / document / video
  std::optional<std::string> group_id;        ///< Meta turns it into the group's invite link
  std::optional<std::string> payload;         ///< quick-reply button payload

  static TemplateParameter text_value(std::string value) {
    TemplateParameter p; p.type = "text"; p.text = std::move(value); return p;
  }
  /// The invite-link parameter Meta documents for its Template Library invite template:
  /// `{"type":"group_id","group_id":"<GROUP_ID>"}`; Meta replaces the id with the group's link.
  static TemplateParameter invite_link_for(std::string group) {
    TemplateParameter p; p.type = "group_id"; p.group_id = std::move(group); return p;
  }
  static TemplateParameter media_value(std::string media_type, MediaRef ref) {
    TemplateParameter p; p.type = std::move(media_type); p.media = std::move(ref); return p;
  }
};

struct TemplateComponent {
  std::string type = "body";          ///< "header", "body" or "button"
  std::optional<std::string> sub_type;  ///< buttons: "quick_reply", "url", ...
  std::optional<int> index;             ///< buttons: position
  std::vector<TemplateParameter> parameters;
};

/// What the template was approved as; authentication templates are not allowed in groups.
enum class TemplateCategory { marketing, utility, authentication };

/// Sent as `language: {"policy": "deterministic", "code": ...}`: Meta's only policy (the template in
/// exactly this language, never a fallback).
struct TemplateMessage {
  std::string name;
  std::string language = "en";  ///< language.code, e.g. "en_US"
  std::vector<TemplateComponent> components;
  /// What Meta approved the template as. Required for a group send (an authentication template is
  /// refused there before sending); optional for a 1:1 send.
  std::optional<TemplateCategory> category;
};

enum class PinOperation { pin, unpin };

struct PinMessage {
  PinOperation operation = PinOperation::pin;
  std::string message_id;              ///< the wamid to pin or unpin
  std::optional<int> expiration_days;  ///< 1-30, required to pin
};

/// Any message to a group. `type` selects which payload member is sent; the convenience methods
/// of `Client` fill this in for you.
struct GroupMessage {
  std::string group_id;
  MessageType type = MessageType::text;
  std::optional<std::string> text;  ///< text: 1-4096 characters
  bool preview_url = false;         ///< text: render a link preview
  std::optional<MediaRef> media;    ///< image, video, audio, document, sticker
  std::optional<TemplateMessage> template_message;
  std::optional<PinMessage> pin;
  std::optional<std::string> reply_to;  ///< context.message_id: reply to this wamid
  std::optional<std::string> biz_opaque_callback_data;
};

struct SentContact {
  std::optional<std::string> input;
  std::optional<std::string> wa_id;
  std::optional<std::string> user_id;
};

struct SentMessage {
  std::string id;  ///< wamid
  std::optional<std::string> message_status;  ///< accepted | held_for_quality_assessment | paused
};

struct SendMessageResponse {
  std::optional<std::string> messaging_product;
  std::vector<SentContact> contacts;
  std::vector<SentMessage> messages;
  /// The first message id, or empty when Meta sent none.
  std::string message_id() const { return messages.empty() ? std::string() : messages.front().id; }
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
