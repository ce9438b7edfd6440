#pragma once

/// @file
/// Umbrella header of the `wagroups::postgres` component: `PostgresTicketStore`.

#include "wagroups/postgres/ticket_store.hpp"
