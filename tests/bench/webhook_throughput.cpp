// Webhook receive throughput: signature check + parse + typed events, against a naive floor.
//
//   wagroups_bench_webhook_throughput [--rounds N] [--bodies N] [--passes N] [--seed N]
//                                     [--profile ours|floor] [--summary]
//
// --summary adds the BENCH line webhook_vs_floor (target >= 1.5) for tests/bench/run.sh;
// --profile runs one side's full path alone, for `perf record` or callgrind.
//
// Ours, per body: copy the body into a fresh std::string (standing for the buffer a server hands
// over; the copy is timed on our side), move it into WebhookParser::verify_and_parse with a
// SignatureVerifier built once, touch every event's main fields, and destroy the batch (also
// timed). The parser works in that string: it needs no padding, so nothing is copied again.
// The floor, per body: one-shot OpenSSL HMAC() and a hex comparison, then a fresh
// rapidjson::Document::Parse (default flags) of the body where it lies (no copy), and a recursive
// walk touching every value. It is compiled with the library's own RapidJSON configuration
// (src/json/rapidjson.hpp), so neither side gains or loses by a configuration.
//
// The corpus is generated (seeded): inbound group texts with their contact, aggregated statuses
// of a message read by seven participants, lifecycle / participants / settings events, and
// batched bodies of several entries and changes; compact JSON as Meta's serializer writes it,
// non-ASCII text as \uXXXX escapes. Each round times every side over the whole corpus, the sides
// interleaved (the order rotating from round to round), so load from elsewhere hits all alike;
// times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so time spent descheduled is not counted.
// Reported: per-round throughput ratios ours/floor (higher is better) and their median, for the
// full path and for its verify-only and parse-only halves.

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "json/rapidjson.hpp"
#include <rapidjson/document.h>

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "wagroups/webhook.hpp"

namespace {

using namespace wagroups;

// This thread's CPU time: on a shared machine, time spent descheduled is not the code's.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

constexpr const char* kSecret = "bench-app-secret-0f1e2d3c4b5a69788796a5b4c3d2e1f0";

struct Settings {
  int rounds = 31;
  int bodies = 400;
  int passes = 5;  // passes over the corpus per side and round
  unsigned seed = 20260612;
  int only = -1;         // --profile SIDE: run only that side (0..5), for perf / callgrind
  bool summary = false;  // --summary: BENCH lines after the report
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--rounds N] [--bodies N] [--passes N] [--seed N] [--profile ours|floor] [--summary]\n",
               argv0);
  std::exit(2);
}

Settings parse_args(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--summary") {
      s.summary = true;
      continue;
    }
    if (i + 1 >= argc) usage(argv[0]);
    if (arg == "--profile") {
      const std::string side = argv[++i];
      if (side == "ours") s.only = 0;
      else if (side == "floor") s.only = 1;
      else usage(argv[0]);
      continue;
    }
    char* end = nullptr;
    const long value = std::strtol(argv[i + 1], &end, 10);
    if (end == argv[i + 1] || *end != '\0' || value < 1 || value > 100000000) usage(argv[0]);
    ++i;
    if (arg == "--rounds") s.rounds = static_cast<int>(value);
    else if (arg == "--bodies") s.bodies = static_cast<int>(value);
    else if (arg == "--passes") s.passes = static_cast<int>(value);
    else if (arg == "--seed") s.seed = static_cast<unsigned>(value);
    else usage(argv[0]);
  }
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// ---------------------------------------------------------------------------------------------
// Corpus

class Generator {
 public:
  explicit Generator(unsigned seed) : rng_(seed) {}

  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  std::string digits(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<char>('0' + pick(10));
    return s;
  }
  std::string token(std::size_t n) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += kAlphabet[pick(sizeof kAlphabet - 1)];
    return s;
  }
  std::string phone() { return "1555" + digits(7); }
  std::string bsuid() { return "US." + digits(20); }
  std::string group_id() { return token(56); }
  std::string wamid() { return "wamid." + token(54) + "="; }  // (one random call: order-safe)
  std::string timestamp() { return std::to_string(1760000000 + pick(5000000)); }

  // Words, some with accents or in Devanagari, and now and then an emoji: as \uXXXX escapes.
  std::string text(std::size_t words) {
    static const char* kWords[] = {"order",  "parcel", "delivery", "tomorrow", "thanks", "please",  "invoice",
                                   "refund", "colour", "size",     "address",  "when",   "arrives", "status"};
    static const char* kEscaped[] = {"caf\\u00e9",        "entreg\\u00e1",
                                     "\\u0927\\u0928\\u094d\\u092f\\u0935\\u093e\\u0926",
                                     "\\u00bfc\\u00f3mo", "\\ud83d\\udce6",
                                     "\\ud83d\\ude4f",    "na\\u00efve"};
    std::string s;
    for (std::size_t i = 0; i < words; ++i) {
      if (i) s += ' ';
      const bool escaped = pick(6) == 0;
      s += escaped ? kEscaped[pick(7)] : kWords[pick(14)];
    }
    return s;
  }

  // Concatenation whose parts are evaluated in order (a braced list guarantees it; a chain of `+`
  // would not), so that the corpus is the same whichever compiler builds the benchmark.
  static std::string cat(std::initializer_list<std::string> parts) {
    std::string out;
    for (const auto& p : parts) out += p;
    return out;
  }

  static std::string metadata() {
    return R"("messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881",)"
           R"("phone_number_id":"106540352242922"})";
  }

  std::string group_text_value() {
    const std::string from = phone();
    const std::string user = bsuid();
    return cat({"{", metadata(), R"(,"contacts":[{"profile":{"name":")", text(2), R"(","username":"@)", token(10),
                R"("},"wa_id":")", from, R"(","user_id":")", user, R"("}],"messages":[{"from":")", from,
                R"(","from_user_id":")", user, R"(","group_id":")", group_id(), R"(","id":")", wamid(),
                R"(","timestamp":")", timestamp(), R"(","type":"text","text":{"body":")", text(20 + pick(120)),
                R"("}}]})"});
  }

  std::string statuses_value(std::size_t participants) {
    const std::string group = group_id();
    const std::string id = wamid();
    const std::string ts = timestamp();
    const std::string status = pick(2) ? "read" : "delivered";
    std::string contacts;
    std::string statuses;
    for (std::size_t i = 0; i < participants; ++i) {
      const std::string p = phone();
      const std::string user = bsuid();
      if (i) {
        contacts += ',';
        statuses += ',';
      }
      contacts += cat({R"({"profile":{"name":")", text(2), R"("},"wa_id":")", p, R"(","user_id":")", user, R"("})"});
      statuses += cat({R"({"id":")", id, R"(","status":")", status, R"(","timestamp":")", ts, R"(","recipient_id":")",
                       group, R"(","recipient_type":"group","recipient_participant_id":")", p,
                       R"(","recipient_participant_user_id":")", user, R"(","conversation":{"id":")", token(32),
                       R"(","origin":{"type":"utility"}},"pricing":{"billable":true,"pricing_model":"PMP",)",
                       R"("category":"group_utility","type":"regular"}})"});
    }
    return cat({"{", metadata(), R"(,"contacts":[)", contacts, R"(],"statuses":[)", statuses, "]}"});
  }

  std::string participants(std::size_t n, bool input) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
      if (i) s += ',';
      const std::string p = phone();
      s += input ? cat({R"({"input":")", p, R"(","wa_id":")", p, R"("})"})
                 : cat({R"({"wa_id":")", p, R"(","user_id":")", bsuid(), R"(","username":"@)", token(8), R"("})"});
    }
    return s;
  }

  std::string error() {
    return cat({R"({"code":131212,"message":"Participant is not in the group","title":"Participant not in group",)",
                R"("error_data":{"details":")", text(8), R"("}})"});
  }

  // One group item of a random type, and the field it arrives in.
  std::pair<std::string, std::string> group_item() {
    const std::string head = cat({R"({"timestamp":")", timestamp(), R"(","group_id":")", group_id(), R"(",)"});
    switch (pick(7)) {
      case 0:
        return {"group_lifecycle_update",
                cat({head, R"("type":"group_create","request_id":")", token(32), R"(","subject":")", text(4),
                     R"(","description":")", text(25), R"(","invite_link":"https://chat.whatsapp.com/)", token(22),
                     R"(","join_approval_mode":"approval_required"})"})};
      case 1:
        return {"group_lifecycle_update", cat({head, R"("type":"group_delete","request_id":")", token(32), R"("})"})};
      case 2:
        return {"group_participants_update",
                cat({head, R"("type":"group_participants_add","reason":"invite_link","added_participants":[)",
                     participants(1 + pick(3), false), "]}"})};
      case 3:
        return {"group_participants_update",
                cat({head, R"("type":"group_participants_remove","request_id":")", token(32),
                     R"(","initiated_by":"business","removed_participants":[)", participants(1 + pick(4), true),
                     R"(],"failed_participants":[{"input":")", phone(), R"(","errors":[)", error(), "]}]}"})};
      case 4:
        return {"group_participants_update",
                cat({head, R"("type":"group_join_request_created","join_request_id":")", token(20),
                     R"(","wa_id":")", phone(), R"(","user_id":")", bsuid(), R"("})"})};
      case 5:
        return {"group_settings_update",
                cat({head, R"("type":"group_settings_update","request_id":")", token(32),
                     R"(","profile_picture":{"mime_type":"image/jpeg","sha256":")", token(44),
                     R"(","update_successful":true},"group_subject":{"text":")", text(4),
                     R"(","update_successful":true},"group_description":{"text":")", text(30),
                     R"(","update_successful":false,"errors":[)", error(), "]}}"})};
      default:
        return {"group_status_update", cat({head, R"("type":"group_suspend"})"})};
    }
  }

  std::string group_value(const std::string& items) { return "{" + metadata() + R"(,"groups":[)" + items + "]}"; }

  static std::string change(const std::string& field, const std::string& value) {
    return R"({"value":)" + value + R"(,"field":")" + field + R"("})";
  }
  static std::string body(const std::vector<std::string>& entries) {
    std::string s = R"({"object":"whatsapp_business_account","entry":[)";
    for (std::size_t i = 0; i < entries.size(); ++i) s += (i ? "," : "") + entries[i];
    return s + "]}";
  }
  std::string entry(const std::vector<std::string>& changes) {
    std::string s = R"({"id":"102290129340398","changes":[)";
    for (std::size_t i = 0; i < changes.size(); ++i) s += (i ? "," : "") + changes[i];
    return s + "]}";
  }

  // A random change of any kind.
  std::string any_change() {
    switch (pick(3)) {
      case 0: return change("messages", group_text_value());
      case 1: {
        const std::size_t participants = 1 + pick(3);
        return change("messages", statuses_value(participants));
      }
      default: {
        auto [field, item] = group_item();
        return change(field, group_value(item));
      }
    }
  }

  std::pair<std::string, std::string> next() {
    const std::size_t kind = pick(10);
    if (kind < 3) return {"group text", body({entry({change("messages", group_text_value())})})};
    if (kind < 5) return {"7 statuses", body({entry({change("messages", statuses_value(7))})})};
    if (kind < 8) {
      auto [field, item] = group_item();
      return {"group event", body({entry({change(field, group_value(item))})})};
    }
    std::vector<std::string> entries;
    const std::size_t n_entries = 1 + pick(2);
    for (std::size_t e = 0; e < n_entries; ++e) {
      std::vector<std::string> changes;
      const std::size_t n_changes = 1 + pick(3);
      for (std::size_t c = 0; c < n_changes; ++c) changes.push_back(any_change());
      entries.push_back(entry(changes));
    }
    return {"batched", body(entries)};
  }

 private:
  std::mt19937 rng_;
};

struct Body {
  std::string kind;
  std::string text;
  std::string signature;
};

// ---------------------------------------------------------------------------------------------
// The two sides

std::uint64_t touch(const WebhookEvent& event) {
  std::uint64_t sink = event.index() + context_of(event).item_index;
  std::visit(
      [&sink](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_base_of_v<InboundMessage, T>) {
          sink += e.id.size() + (e.text ? e.text->size() : 0) + (e.from ? e.from->size() : 0) +
                  (e.group_id ? e.group_id->size() : 0);
        } else if constexpr (std::is_base_of_v<MessageStatusData, T>) {
          sink += e.id.size() + static_cast<std::uint64_t>(e.delivery_status) +
                  (e.recipient_participant_id ? e.recipient_participant_id->size() : 0) +
                  (e.group_id ? e.group_id->size() : 0);
        } else if constexpr (std::is_same_v<T, UnknownEvent> || std::is_same_v<T, CustomEvent>) {
          sink += e.context.field.size();
        } else if constexpr (std::is_same_v<T, GroupCreateFailed>) {
          sink += e.errors.size();
        } else {
          sink += e.group_id.size();
        }
      },
      event);
  return sink;
}

struct Ours {
  SignatureVerifier verifier{kSecret};
  WebhookParser parser;

  // The body as a server would hand it over: in a std::string of its own.
  static std::string receive(const std::string& text) { return std::string(text); }

  std::uint64_t full(const Body& b) const {
    auto batch = parser.verify_and_parse(receive(b.text), b.signature, verifier);
    if (!batch) {
      std::fprintf(stderr, "ours refused a body: %s\n", batch.error().to_string().c_str());
      std::exit(1);
    }
    std::uint64_t sink = batch->events.size();
    for (const auto& e : batch->events) sink += touch(e);
    return sink;
  }
  std::uint64_t verify(const Body& b) const { return verifier.verify(b.text, b.signature).ok() ? 1 : 0; }
  std::uint64_t parse(const Body& b) const {
    auto batch = parser.parse_in_place(receive(b.text));
    std::uint64_t sink = batch->events.size();
    for (const auto& e : batch->events) sink += touch(e);
    return sink;
  }
};

std::uint64_t walk(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kObjectType: {
      std::uint64_t sink = v.MemberCount();
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) sink += it->name.GetStringLength() + walk(it->value);
      return sink;
    }
    case rapidjson::kArrayType: {
      std::uint64_t sink = v.Size();
      for (auto it = v.Begin(); it != v.End(); ++it) sink += walk(*it);
      return sink;
    }
    case rapidjson::kStringType:
      return v.GetStringLength() + static_cast<unsigned char>(v.GetString()[0]);
    case rapidjson::kNumberType:
      return v.IsUint64() ? v.GetUint64() : static_cast<std::uint64_t>(v.GetDouble());
    case rapidjson::kTrueType:
      return 1;
    default:
      return 0;
  }
}

struct Floor {
  std::string secret = kSecret;

  bool verify_only(const Body& b) const {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(b.text.data()), b.text.size(), mac, &length);
    static constexpr char kHex[] = "0123456789abcdef";
    char hex[64];
    for (unsigned i = 0; i < 32; ++i) {
      hex[2 * i] = kHex[mac[i] >> 4];
      hex[2 * i + 1] = kHex[mac[i] & 15];
    }
    return b.signature.size() == 71 && CRYPTO_memcmp(hex, b.signature.data() + 7, 64) == 0;
  }
  std::uint64_t parse(const Body& b) const {
    rapidjson::Document doc;
    doc.Parse(b.text.c_str(), b.text.size());
    if (doc.HasParseError()) {
      std::fprintf(stderr, "the floor refused a body\n");
      std::exit(1);
    }
    return walk(doc);
  }
  std::uint64_t full(const Body& b) const {
    if (!verify_only(b)) {
      std::fprintf(stderr, "the floor's signature check failed\n");
      std::exit(1);
    }
    return parse(b);
  }
  std::uint64_t verify(const Body& b) const { return verify_only(b) ? 1 : 0; }
};

}  // namespace

int main(int argc, char** argv) {
  const Settings settings = parse_args(argc, argv);
  Generator gen(settings.seed);
  std::vector<Body> corpus;
  std::size_t total_bytes = 0;
  std::size_t largest = 0;
  std::vector<std::pair<std::string, int>> kinds;
  for (int i = 0; i < settings.bodies; ++i) {
    auto generated = gen.next();  // (kind, text); not a structured binding: C++17 lambdas cannot capture one
    const std::string kind = generated.first;
    Body b;
    b.kind = kind;
    b.text = std::move(generated.second);
    b.signature = compute_signature(b.text, kSecret);
    total_bytes += b.text.size();
    largest = std::max(largest, b.text.size());
    auto it = std::find_if(kinds.begin(), kinds.end(), [&](const auto& k) { return k.first == kind; });
    if (it == kinds.end()) kinds.emplace_back(kind, 1);
    else ++it->second;
    corpus.push_back(std::move(b));
  }

  Ours ours;
  const Floor floor;
  std::size_t events = 0;
  for (const auto& b : corpus) {
    auto batch = ours.parser.parse(b.text);
    if (!batch) {
      std::fprintf(stderr, "generated body refused: %s\n", batch.error().to_string().c_str());
      return 1;
    }
    events += batch->events.size();
  }

  std::printf("wagroups webhook throughput: verify + parse + typed events\n");
  std::printf("corpus: %zu bodies, %zu bytes (mean %.0f, largest %zu), %zu events;", corpus.size(), total_bytes,
              static_cast<double>(total_bytes) / static_cast<double>(corpus.size()), largest, events);
  for (const auto& [kind, count] : kinds) std::printf(" %s %d", kind.c_str(), count);
  std::printf("\n%d rounds x %d passes per side; ours copies each body into a fresh std::string first (timed)\n",
              settings.rounds, settings.passes);

  // Side i: 0 ours full, 1 floor full, 2 ours verify, 3 floor verify, 4 ours parse, 5 floor parse.
  const std::function<std::uint64_t(const Body&)> sides[6] = {
      [&](const Body& b) { return ours.full(b); },   [&](const Body& b) { return floor.full(b); },
      [&](const Body& b) { return ours.verify(b); }, [&](const Body& b) { return floor.verify(b); },
      [&](const Body& b) { return ours.parse(b); },  [&](const Body& b) { return floor.parse(b); }};
  volatile std::uint64_t sink = 0;
  auto run = [&](int side) {
    const double start = cpu_seconds();
    std::uint64_t local = 0;
    for (int p = 0; p < settings.passes; ++p) {
      for (const auto& b : corpus) local += sides[side](b);
    }
    sink = sink + local;
    return cpu_seconds() - start;
  };
  if (settings.only >= 0) {
    // Profiling: one side's full path, nothing else in the samples.
    double seconds = 0;
    for (int round = 0; round < settings.rounds; ++round) seconds += run(settings.only);
    std::printf("%s only: %.0f bodies/s\n", settings.only == 0 ? "ours" : "floor",
                static_cast<double>(corpus.size()) * settings.passes * settings.rounds / seconds);
    return sink == 42 ? 3 : 0;
  }
  for (int side = 0; side < 6; ++side) run(side);  // warm-up

  const double bodies_per_run = static_cast<double>(corpus.size()) * settings.passes;
  const double bytes_per_run = static_cast<double>(total_bytes) * settings.passes;
  std::vector<double> ratio_full, ratio_verify, ratio_parse, ours_rate, floor_rate;
  for (int round = 0; round < settings.rounds; ++round) {
    double seconds[6] = {};
    for (int k = 0; k < 6; ++k) {
      const int side = (k + round) % 6;  // rotate who goes first
      seconds[side] = run(side);
    }
    ratio_full.push_back(seconds[1] / seconds[0]);
    ratio_verify.push_back(seconds[3] / seconds[2]);
    ratio_parse.push_back(seconds[5] / seconds[4]);
    ours_rate.push_back(bodies_per_run / seconds[0]);
    floor_rate.push_back(bodies_per_run / seconds[1]);
    std::printf("  round %2d: ours %8.0f bodies/s %6.1f MB/s | floor %8.0f bodies/s %6.1f MB/s | ours/floor %.2f "
                "(verify %.2f, parse %.2f)\n",
                round + 1, bodies_per_run / seconds[0], bytes_per_run / seconds[0] / 1e6, bodies_per_run / seconds[1],
                bytes_per_run / seconds[1] / 1e6, ratio_full.back(), ratio_verify.back(), ratio_parse.back());
  }
  const double mean_bytes = static_cast<double>(total_bytes) / static_cast<double>(corpus.size());
  std::printf("ours:  median %.0f bodies/s, %.1f MB/s (SignatureVerifier + WebhookParser::verify_and_parse)\n",
              median(ours_rate), median(ours_rate) * mean_bytes / 1e6);
  std::printf("floor: median %.0f bodies/s, %.1f MB/s (HMAC() + Document::Parse + walk)\n", median(floor_rate),
              median(floor_rate) * mean_bytes / 1e6);
  const double ratio = median(ratio_full);
  std::printf("median ratio ours/floor (throughput, higher is better): %.2f  (target >= 1.5)\n", ratio);
  std::printf("  verify only: %.2f   parse only (copy + parse + typed events vs Parse + walk): %.2f\n",
              median(ratio_verify), median(ratio_parse));
  if (settings.summary) {
    std::printf("BENCH\twebhook_vs_floor\t%.2f\tx\t>= 1.5\t%s\n", ratio, ratio >= 1.5 ? "pass" : "FAIL");
  }
  return sink == 42 ? 3 : 0;  // (keeps the work observable)
}
