#pragma once

/// @file
/// Umbrella header of the core library (`wagroups::wagroups`): client, webhooks, tickets,
/// in-memory store. Optional components have their own: sqlite.hpp, sandbox.hpp, sandbox_server.hpp, testing.hpp.

#include "wagroups/client/client.hpp"
#include "wagroups/client/options.hpp"
#include "wagroups/error.hpp"
#include "wagroups/graph_codes.hpp"
#include "wagroups/http/curl_transport.hpp"
#include "wagroups/http/transport.hpp"
#include "wagroups/limits.hpp"
#include "wagroups/models/common.hpp"
#include "wagroups/models/groups.hpp"
#include "wagroups/models/invite_link.hpp"
#include "wagroups/models/join_requests.hpp"
#include "wagroups/models/messages.hpp"
#include "wagroups/models/participants.hpp"
#include "wagroups/result.hpp"
#include "wagroups/tickets.hpp"
#include "wagroups/version.hpp"
#include "wagroups/webhook.hpp"
