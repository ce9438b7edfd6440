#pragma once

/// @file
/// Invite links: get (GET), reset (POST; every earlier link stops working), delete (DELETE, the
/// OpenAPI spec's verb).

#include <optional>
#include <string>

#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

struct InviteLink {
  std::string invite_link;  ///< "https://chat.whatsapp.com/<LINK_ID>"
  std::optional<std::string> messaging_product;
};

struct DeleteInviteLinkResponse {
  std::optional<bool> success;  ///< the spec sends the string "true"; accepted either way
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
