#pragma once

// Each command group of `wagroups` registers its subcommands from its own file; main.cpp only
// builds the app and calls these. A command's callback stores its exit code in `CommandState`.

#include <CLI/CLI.hpp>

#include "output.hpp"

namespace wagroups_cli {

struct CommandState {
  int exit_code = exit_ok;
};

/// `wagroups webhook parse` (and the `webhook` group that `webhook serve` joins).
void register_webhook_commands(CLI::App& app, CommandState& state);
/// `wagroups groups create|list|info|update|delete`, `invite-link get|reset|delete`,
/// `join-requests list|approve|reject`, `participants remove`.
void register_groups_commands(CLI::App& app, CommandState& state);
/// `wagroups send text|media|template|pin`.
void register_send_commands(CLI::App& app, CommandState& state);
/// `wagroups sandbox webhooks|join|request|say|leave|suspend|config`.
void register_sandbox_commands(CLI::App& app, CommandState& state);

/// `wagroups tickets list|show`.
void register_tickets_commands(CLI::App& app, CommandState& state);
/// `wagroups invite send`.
void register_invite_commands(CLI::App& app, CommandState& state);
/// `wagroups webhook serve` (after register_webhook_commands).
void register_webhook_serve(CLI::App& app, CommandState& state);
/// `wagroups number check`.
void register_number_commands(CLI::App& app, CommandState& state);
/// `wagroups demo`.
void register_demo_command(CLI::App& app, CommandState& state);

}  // namespace wagroups_cli
