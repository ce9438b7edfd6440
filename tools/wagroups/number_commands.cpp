// `wagroups number check`: whether the business number can use the Groups API, reason by reason
// (Client::check_number_eligibility), before a create answers 131215.

#include <memory>
#include <string>

#include <wagroups/client/client.hpp>
#include <wagroups/models/phone_number.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "output.hpp"

namespace wagroups_cli {
namespace {

struct NumberOptions {
  BackendOptions backend;
};

void write_verdict_json(const wagroups::NumberEligibility& v) {
  JsonWriter w;
  w.begin_object().member("eligibility", wagroups::to_string(v.overall));
  w.key("number").begin_object();
  const wagroups::PhoneNumberFields& n = v.number;
  w.member("id", n.id).member("display_phone_number", n.display_phone_number);
  w.member("verified_name", n.verified_name).member("status", n.status);
  w.member("is_official_business_account", n.is_official_business_account).member("is_on_biz_app", n.is_on_biz_app);
  w.member("platform_type", n.platform_type).member("messaging_limit_tier", n.messaging_limit_tier);
  w.member("throughput_level", n.throughput_level).member("can_send_message", n.health_can_send_message);
  w.end_object();
  w.key("reasons").begin_array();
  for (const auto& r : v.reasons) {
    w.begin_object().member("criterion", r.criterion);
    if (!r.field.empty()) w.member("field", r.field);
    w.member("value", r.value).member("status", wagroups::to_string(r.status));
    w.member("basis", wagroups::to_string(r.basis)).member("explanation", r.explanation).end_object();
  }
  w.end_array().end_object();
  write_line(w.text());
}

void write_verdict_text(const wagroups::NumberEligibility& v) {
  const wagroups::PhoneNumberFields& n = v.number;
  std::string who = n.display_phone_number.value_or(n.id.value_or("this number"));
  if (n.verified_name) who += " (" + *n.verified_name + ")";
  write_line(who + ": " + wagroups::to_string(v.overall) + " for the Groups API");
  for (const auto& r : v.reasons) {
    std::string line = "  " + std::string(wagroups::to_string(r.status)) + "  " + r.criterion;
    if (!r.field.empty()) line += " (" + r.field + " = " + r.value.value_or("absent") + ")";
    if (r.basis != wagroups::CriterionBasis::documented) line += " [" + std::string(wagroups::to_string(r.basis)) + "]";
    line += ": " + r.explanation;
    write_line(line);
  }
}

int run_check(Session& session) {
  const auto verdict = session.client().check_number_eligibility();
  if (!verdict) return report_error("number check", verdict.error());
  if (session.options().json) {
    write_verdict_json(*verdict);
  } else {
    write_verdict_text(*verdict);
  }
  // Not eligible is what a 131215 would report: the same exit code as that API error. Unknown
  // (a field was absent) is not a refusal: the verdict says what could not be read.
  return verdict->overall == wagroups::Eligibility::not_eligible ? exit_api : exit_ok;
}

}  // namespace

void register_number_commands(CLI::App& app, CommandState& state) {
  CLI::App* number = app.add_subcommand("number", "The business phone number");
  number->require_subcommand(1);
  auto o = std::make_shared<NumberOptions>();
  CLI::App* cmd =
      number->add_subcommand("check",
                             "Read the number's fields and say whether it can use the Groups API, reason by reason "
                             "(exit 5 when not eligible)");
  add_backend_options(*cmd, o->backend);
  cmd->callback([o, &state] {
    with_session(o->backend, Session::Need::any_backend, state.exit_code, [](Session& s) { return run_check(s); });
  });
}

}  // namespace wagroups_cli
