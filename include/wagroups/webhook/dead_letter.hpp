#pragma once

/// @file
/// `DeadLetter`: a webhook body whose signature checked out but which the parser refused, kept
/// with the reason so that nothing Meta delivered is lost (see `WebhookEndpointOptions` and
/// `TicketStore::add_dead_letter`).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "wagroups/error.hpp"
#include "wagroups/export.hpp"
#include "wagroups/result.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// A verified body the parser refused. Only bodies whose `X-Hub-Signature-256` verified are ever
/// dead-lettered (an unsigned body is answered 401 and kept nowhere: a stranger cannot fill the
/// store), so every dead letter came from Meta, or from whoever holds the app secret.
struct DeadLetter {
  std::int64_t id = 0;           ///< assigned by the store (0 before it is stored); grows with each letter
  std::int64_t received_at = 0;  ///< Unix seconds when the endpoint received it
  std::string body;              ///< the raw body bytes exactly as received (bounded by `WebhookLimits`)
  /// Why it was refused: for the parser, `ErrorCode::decode` with `field` (where) and `limit` (which
  /// rule); a host `FieldDecoder` may refuse with any code. Only `code`, `message`, `field` and
  /// `limit` are kept by the stores.
  Error error;
};

/// Keeps a dead letter. Return an error when it could not be kept: the endpoint then answers 5xx
/// (the error's own 5xx, else 500) so that Meta delivers the body again. Return
/// `ErrorCode::unsupported` to decline (the endpoint then answers 400, as without a sink).
using DeadLetterSink = std::function<Result<void>(const DeadLetter&)>;

/// Filters for listing dead letters, newest first.
struct DeadLetterQuery {
  std::size_t limit = 100;
  /// Only letters with an id below this (paging backwards through older letters).
  std::optional<std::int64_t> before_id;
};

/// How many dead letters a store keeps: past either bound the oldest are dropped (the newest is
/// always kept, whatever its size). 0 means no bound of that kind.
struct DeadLetterLimits {
  std::size_t max_count = 1000;
  std::size_t max_total_bytes = std::size_t{64} << 20;  ///< 64 MiB of bodies
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
