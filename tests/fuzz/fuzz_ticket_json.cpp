// fuzz_ticket_json: ticket_from_json, the reader of every stored ticket (SqliteTicketStore, hosts'
// own stores).
//
// Invariants, for every input:
//   - ticket_from_json never throws; a refusal is an Error with a message;
//   - an accepted ticket serialises (to_json) to valid UTF-8 that ticket_from_json accepts again,
//     as an equal ticket (operator==) that serialises to the same bytes: nothing stored can
//     become unreadable or change on the next save.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "wagroups/tickets/ticket.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    const auto ticket = wagroups::ticket_from_json(input);
    if (!ticket.ok()) {
      WAGROUPS_FUZZ_REQUIRE(!ticket.error().message.empty());
      return 0;
    }
    const std::string saved = wagroups::to_json(*ticket);
    WAGROUPS_FUZZ_REQUIRE(wagroups_fuzz::utf8(saved));
    const auto again = wagroups::ticket_from_json(saved);
    WAGROUPS_FUZZ_REQUIRE(again.ok());
    WAGROUPS_FUZZ_REQUIRE(*again == *ticket);
    WAGROUPS_FUZZ_REQUIRE(wagroups::to_json(*again) == saved);
  } catch (...) {
    wagroups_fuzz::fail("ticket_from_json or to_json threw", __FILE__, __LINE__);
  }
  return 0;
}
