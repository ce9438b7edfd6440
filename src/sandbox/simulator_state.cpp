// save_state / load_state: the whole simulation as one JSON document, so that a CLI run can stop
// and resume, or a test can start from a prepared world. The random streams and counters are
// saved too (as strings: they are 64-bit), so a resumed run draws the ids an unbroken one would.
// Queued webhooks are saved unsigned and signed again on load, with the loading run's secret.
//
// Version 2 adds `group_creation_disabled` (Meta's 131214 switch, changed at run time like
// `eligible`); version 1 states still load, with the switch from the options.
//
// State files are written 0600: a new temporary file (O_CREAT|O_EXCL, so no earlier file or
// symlink of that name is reused with its mode), fchmod against a umask that allows less, fsync,
// then rename over the target.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "sandbox/simulator_engine.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sandbox {
namespace sim {

namespace {

constexpr const char* kFormat = "wagroups-sandbox-state";
constexpr int kFormatVersion = 2;
constexpr int kOldestReadableVersion = 1;

void write_person(json::Writer& w, const Person& p) {
  w.begin_object();
  w.field("phone", p.phone);
  w.optional_field("user_id", p.user_id);
  w.optional_field("username", p.username);
  w.field("name", p.name);
  w.end_object();
}
void write_strings(json::Writer& w, const char* key, const std::vector<std::string>& v) {
  w.key(key).begin_array();
  for (const auto& x : v) w.string(x);
  w.end_array();
}

}  // namespace

std::string Engine::save() const {
  std::lock_guard<std::mutex> lock(mutex);
  json::Writer w;
  w.begin_object();
  w.field("format", kFormat);
  w.field("version", kFormatVersion);
  w.field("eligible", s.eligible);
  w.field("group_creation_disabled", s.creation_disabled);
  w.field("id_rng", std::to_string(s.id_rng));
  w.field("noise_rng", std::to_string(s.noise_rng));
  w.field("group_seq", std::to_string(s.group_seq));
  w.field("request_seq", std::to_string(s.request_seq));
  w.field("message_seq", std::to_string(s.message_seq));
  w.field("join_request_seq", std::to_string(s.join_request_seq));
  w.key("rate_window").begin_object().field("start", s.window_start).field("ops", s.window_ops).end_object();
  w.key("groups").begin_array();
  for (const auto& g : s.groups) {
    w.begin_object();
    w.field("group_id", g.group_id);
    w.field("seq", std::to_string(g.seq));
    w.field("subject", g.subject);
    w.optional_field("description", g.description);
    w.field("join_approval_mode", to_string(g.join_approval_mode));
    w.field("invite_link", g.invite_link);
    w.field("suspended", g.suspended);
    w.field("deleted", g.deleted);
    w.field("creation_timestamp", g.creation_timestamp);
    w.optional_field("picture_sha256", g.picture_sha256);
    w.key("members").begin_array();
    for (const auto& m : g.members) {
      w.begin_object();
      w.key("person");
      write_person(w, m.person);
      w.field("joined", m.joined);
      w.optional_field("join_request_id", m.join_request_id);
      w.field("since", m.since);
      w.field("seq", std::to_string(m.seq));
      w.end_object();
    }
    w.end_array();
    w.key("removed").begin_array();
    for (const auto& p : g.removed) write_person(w, p);
    w.end_array();
    write_strings(w, "business_message_ids", g.business_message_ids);
    write_strings(w, "message_ids", g.message_ids);
    write_strings(w, "pinned", g.pinned);
    w.end_object();
  }
  w.end_array();
  w.key("webhooks").begin_array();
  for (const auto& d : s.outbox) w.begin_object().field("field", d.field).field("body", d.body).end_object();
  w.end_array();
  w.end_object();
  return w.str();
}

Result<void> Engine::load(const std::string& text) {
  json::Document doc;
  std::string reason;
  auto bad = [](const std::string& where, const std::string& why) {
    Error e = Error::decode_failure(0, "sandbox state: " + where + ": " + why);
    e.field = where;
    return e;
  };
  if (!json::parse(text, doc, reason) || !doc.IsObject()) return bad("body", "not a JSON object (" + reason + ")");
  if (json::get_string(doc, "format").value_or("") != kFormat) return bad("format", "not a wagroups sandbox state");
  const auto version = json::get_int64(doc, "version").value_or(0);
  if (version < kOldestReadableVersion || version > kFormatVersion) return bad("version", "unsupported version");
  State next;
  auto u64 = [&](const json::Value& obj, const char* key, std::uint64_t& out) {
    const auto v = json::get_string(obj, key);
    const auto n = v ? parse_u64(*v) : std::nullopt;
    if (!n) return false;
    out = *n;
    return true;
  };
  next.eligible = json::get_bool(doc, "eligible").value_or(true);
  {
    std::lock_guard<std::mutex> lock(mutex);
    next.creation_disabled = json::get_bool(doc, "group_creation_disabled").value_or(options.group_creation_disabled);
  }
  if (!u64(doc, "id_rng", next.id_rng) || !u64(doc, "noise_rng", next.noise_rng) ||
      !u64(doc, "group_seq", next.group_seq) || !u64(doc, "request_seq", next.request_seq) ||
      !u64(doc, "message_seq", next.message_seq) || !u64(doc, "join_request_seq", next.join_request_seq))
    return bad("counters", "missing or not unsigned integers");
  if (const json::Value* rw = json::get_object(doc, "rate_window")) {
    next.window_start = json::get_int64(*rw, "start").value_or(0);
    next.window_ops = static_cast<int>(json::get_int64(*rw, "ops").value_or(0));
  }
  auto read_person = [](const json::Value& v) {
    Person p;
    p.phone = json::get_string(v, "phone").value_or("");
    p.user_id = json::get_string(v, "user_id");
    p.username = json::get_string(v, "username");
    p.name = json::get_string(v, "name").value_or("Customer");
    return p;
  };
  auto read_strings = [](const json::Value& obj, const char* key) {
    std::vector<std::string> out;
    if (const json::Value* arr = json::get_array(obj, key)) {
      for (const auto& x : arr->GetArray()) {
        if (auto str = json::as_string(x)) out.push_back(std::move(*str));
      }
    }
    return out;
  };
  const json::Value* groups = json::get_array(doc, "groups");
  if (!groups) return bad("groups", "missing");
  std::size_t index = 0;
  for (const auto& gv : groups->GetArray()) {
    const std::string where = "groups[" + std::to_string(index++) + "]";
    GroupState g;
    const auto id = json::get_string(gv, "group_id");
    const auto mode = parse_join_approval_mode(json::get_string(gv, "join_approval_mode").value_or(""));
    if (!id || id->empty() || !mode || !u64(gv, "seq", g.seq))
      return bad(where, "missing group_id, seq or join_approval_mode");
    g.group_id = *id;
    g.subject = json::get_string(gv, "subject").value_or("");
    g.description = json::get_string(gv, "description");
    g.join_approval_mode = *mode;
    g.invite_link = json::get_string(gv, "invite_link").value_or("");
    g.suspended = json::get_bool(gv, "suspended").value_or(false);
    g.deleted = json::get_bool(gv, "deleted").value_or(false);
    g.creation_timestamp = json::get_int64(gv, "creation_timestamp").value_or(0);
    g.picture_sha256 = json::get_string(gv, "picture_sha256");
    if (const json::Value* members = json::get_array(gv, "members")) {
      for (const auto& mv : members->GetArray()) {
        const json::Value* pv = json::get_object(mv, "person");
        if (!pv) return bad(where + ".members", "a member without person");
        MemberState m;
        m.person = read_person(*pv);
        m.joined = json::get_bool(mv, "joined").value_or(false);
        m.join_request_id = json::get_string(mv, "join_request_id");
        m.since = json::get_int64(mv, "since").value_or(0);
        if (!u64(mv, "seq", m.seq)) m.seq = 0;
        g.members.push_back(std::move(m));
      }
    }
    if (const json::Value* removed = json::get_array(gv, "removed")) {
      for (const auto& pv : removed->GetArray()) g.removed.push_back(read_person(pv));
    }
    g.business_message_ids = read_strings(gv, "business_message_ids");
    g.message_ids = read_strings(gv, "message_ids");
    g.pinned = read_strings(gv, "pinned");
    if (std::any_of(next.groups.begin(), next.groups.end(),
                    [&](const GroupState& o) { return o.group_id == g.group_id; }))
      return bad(where, "duplicate group_id");
    next.groups.push_back(std::move(g));
  }
  next.reindex();
  std::lock_guard<std::mutex> lock(mutex);
  if (const json::Value* hooks = json::get_array(doc, "webhooks")) {
    for (const auto& hv : hooks->GetArray()) {
      WebhookDelivery d;
      d.field = json::get_string(hv, "field").value_or("");
      d.body = json::get_string(hv, "body").value_or("");
      if (d.body.empty()) return bad("webhooks", "a webhook without a body");
      auto signature = sign(d.body);  // signed with this run's secret
      if (!signature) return bad("webhooks", "a webhook could not be signed");
      d.signature = std::move(*signature);
      next.outbox.push_back(std::move(d));
    }
  }
  s = std::move(next);
  options.eligible = s.eligible;
  options.group_creation_disabled = s.creation_disabled;
  return {};
}

namespace {

Error file_error(const std::string& what, const std::string& path, int err) {
  Error e;
  e.code = ErrorCode::storage;
  e.field = "path";
  e.message = "sandbox state: " + what + " " + path + ": " + std::strerror(err);
  return e;
}

}  // namespace

}  // namespace sim

std::string Simulator::save_state() const { return impl_->engine->save(); }

Result<void> Simulator::load_state(const std::string& json) { return impl_->engine->load(json); }

Result<void> write_state_file(const std::string& path, const std::string& contents) {
  if (path.empty()) return Error::invalid_argument("path", "a file path", "no state file named");
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  // A leftover temporary of a crashed run with this pid is ours to replace; O_EXCL then makes sure
  // the file written is the one created here, with the mode given here.
  if (::unlink(temporary.c_str()) != 0 && errno != ENOENT) return sim::file_error("cannot replace", temporary, errno);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return sim::file_error("cannot create", temporary, errno);
  auto abandon = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    return sim::file_error(what, temporary, err);
  };
  if (::fchmod(fd, S_IRUSR | S_IWUSR) != 0) return abandon("cannot restrict");
  std::size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return abandon("cannot write");
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return abandon("cannot sync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temporary.c_str());
    return sim::file_error("cannot close", temporary, err);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temporary.c_str());
    return sim::file_error("cannot replace", path, err);
  }
  return {};
}

Result<void> Simulator::save_state_file(const std::string& path) const { return write_state_file(path, save_state()); }

Result<void> Simulator::load_state_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return sim::file_error("cannot open", path, errno);
  std::string text;
  char buffer[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) return sim::file_error("cannot read", path, err);
  return load_state(text);
}

}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
