#pragma once

/// @file
/// Umbrella header: receiving Meta's webhooks (signature, parser, events, dispatcher, endpoint,
/// pending operations).

#include "wagroups/webhook/dead_letter.hpp"
#include "wagroups/webhook/dispatcher.hpp"
#include "wagroups/webhook/endpoint.hpp"
#include "wagroups/webhook/events.hpp"
#include "wagroups/webhook/parser.hpp"
#include "wagroups/webhook/pending_operations.hpp"
#include "wagroups/webhook/raw_json.hpp"
#include "wagroups/webhook/signature.hpp"
