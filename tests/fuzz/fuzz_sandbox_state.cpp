// fuzz_sandbox_state: the simulator's load_state, the reader of the CLI's sandbox state file.
//
// Invariants, for every input:
//   - load_state never throws;
//   - an accepted state saves (save_state) as valid UTF-8 that a fresh simulator loads again and
//     saves byte for byte the same: a state once accepted never becomes unreadable or drifts.
//
// Seeds: with WAGROUPS_FUZZ_WRITE_SEED=<file> in the environment the binary writes a saved state
// of a small world (two groups, members, a pending join request, messages, queued webhooks) to
// <file> and exits; tests/fuzz/make-corpus.sh uses it when it is given the build directory.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "wagroups/client/client.hpp"
#include "wagroups/sandbox/simulator.hpp"

namespace {

namespace sandbox = wagroups::sandbox;

sandbox::SimulatorOptions options() {
  sandbox::SimulatorOptions o;
  o.seed = 7;
  o.clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1790000000)); };
  return o;
}

int write_seed(const char* path) {
  sandbox::Simulator sim(options());
  wagroups::ClientOptions c;
  c.access_token = "sandbox-token-0001";
  c.phone_number_id = sim.options().phone_number_id;
  c.transport = sim.transport();
  c.clock = sim.options().clock;
  const wagroups::Client client(c);
  bool ok = client.create_group({"Order #1042", std::string("Delivery question"), std::nullopt}).ok();
  ok = ok && client.create_group({"Moderated", std::nullopt, wagroups::JoinApprovalMode::approval_required}).ok();
  const auto groups = sim.groups();
  ok = ok && groups.size() == 2;
  if (ok) {
    const sandbox::Person ana{"15550123001", std::string("US.1001"), std::string("ana"), "Ana \xC3\x9Flo"};
    const sandbox::Person bo{"15550123002", std::nullopt, std::nullopt, "Bo"};
    for (const auto& g : groups) {
      ok = ok && sim.join_by_link(g.invite_link, ana).ok() && sim.join_by_link(g.invite_link, bo).ok();
    }
    ok = ok && sim.send_text(groups[0].group_id, ana, "Hello \xE2\x9C\x93 \"quoted\"\n").ok();
    ok = ok && client.send_text(groups[0].group_id, "On its way").ok();
  }
  std::FILE* f = ok ? std::fopen(path, "wb") : nullptr;
  if (!f) {
    std::fprintf(stderr, "fuzz_sandbox_state: could not build or write the seed state\n");
    return 1;
  }
  const std::string state = sim.save_state();
  const bool written = std::fwrite(state.data(), 1, state.size(), f) == state.size();
  return std::fclose(f) == 0 && written ? 0 : 1;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* path = std::getenv("WAGROUPS_FUZZ_WRITE_SEED")) std::exit(write_seed(path));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  try {
    sandbox::Simulator sim(options());
    if (!sim.load_state(input).ok()) return 0;
    const std::string saved = sim.save_state();
    WAGROUPS_FUZZ_REQUIRE(wagroups_fuzz::utf8(saved));
    sandbox::Simulator fresh(options());
    const auto reloaded = fresh.load_state(saved);
    if (!reloaded.ok()) std::fprintf(stderr, "reload refused: %s\n", reloaded.error().to_string().c_str());
    WAGROUPS_FUZZ_REQUIRE(reloaded.ok());
    WAGROUPS_FUZZ_REQUIRE(fresh.save_state() == saved);
  } catch (...) {
    wagroups_fuzz::fail("load_state or save_state threw", __FILE__, __LINE__);
  }
  return 0;
}
