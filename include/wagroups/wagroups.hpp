#pragma once

/// @file
/// Umbrella header: everything a host needs to call the Groups API.

#include "wagroups/client.hpp"
#include "wagroups/curl_transport.hpp"
#include "wagroups/error.hpp"
#include "wagroups/models/common.hpp"
#include "wagroups/models/groups.hpp"
#include "wagroups/models/invite_link.hpp"
#include "wagroups/models/join_requests.hpp"
#include "wagroups/models/messages.hpp"
#include "wagroups/models/participants.hpp"
#include "wagroups/options.hpp"
#include "wagroups/pending_operations.hpp"
#include "wagroups/sandbox.hpp"
#include "wagroups/tickets.hpp"
#include "wagroups/transport.hpp"
#include "wagroups/version.hpp"
#include "wagroups/webhook.hpp"
#include "wagroups/webhook_events.hpp"
