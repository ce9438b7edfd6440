#pragma once

/// @file
/// Umbrella header: group tickets (model, store contract, in-memory store, aggregator, group commit, policy,
/// invites).

#include "wagroups/tickets/aggregator.hpp"
#include "wagroups/tickets/group_commit.hpp"
#include "wagroups/tickets/invites.hpp"
#include "wagroups/tickets/memory_store.hpp"
#include "wagroups/tickets/policy.hpp"
#include "wagroups/tickets/store.hpp"
#include "wagroups/tickets/ticket.hpp"
