#pragma once

// Running the example programs from tests (POSIX): spawn a binary with its own environment,
// talk to it through pipes, and never wait past a deadline (a hung child is killed).
//
//   auto r = run_process({cli, "webhook", "parse", ...}, body, {{"WAGROUPS_APP_SECRET", "s"}});
//   CHECK(r.exit_code == 0);  // r.out, r.err
//
//   ChildProcess server({receiver, "--port", "0"}, env);
//   auto line = server.read_line(5s);  // stdout, one line
//   server.send_signal(SIGTERM);
//   auto status = server.wait(10s);

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace wagroups_test {

using SteadyClock = std::chrono::steady_clock;

/// Environment changes for a child: a value sets the variable, `std::nullopt` removes it. The
/// rest of this process's environment is inherited; this process's own is never modified, so
/// tests stay safe to run in parallel.
using EnvChanges = std::map<std::string, std::optional<std::string>>;

struct ProcessResult {
  int exit_code = -1;      ///< the exit status, or 128 + signal when killed by one
  bool timed_out = false;  ///< killed by us at the deadline
  std::string out;
  std::string err;
};

namespace detail {

inline void ignore_sigpipe() {
  static std::once_flag once;
  // A child that exits without reading its stdin must not kill the test with SIGPIPE.
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

inline void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

struct Pipe {
  int read = -1;
  int write = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    read = fds[0];
    write = fds[1];
  }
};

struct Spawned {
  pid_t pid = -1;
  int in = -1;   // our end of the child's stdin (-1 when stdin is /dev/null)
  int out = -1;  // our end of the child's stdout
  int err = -1;  // our end of the child's stderr
};

inline Spawned spawn(const std::vector<std::string>& argv, const EnvChanges& env, bool pipe_stdin) {
  ignore_sigpipe();
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string name(entry.substr(0, entry.find('=')));
    if (env.count(name) == 0) env_strings.emplace_back(entry);
  }
  for (const auto& [name, value] : env)
    if (value) env_strings.push_back(name + "=" + *value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args(argv);
  std::vector<char*> argp;
  for (auto& s : args) argp.push_back(s.data());
  argp.push_back(nullptr);

  Spawned child;
  Pipe out, err;
  std::optional<Pipe> in;
  if (pipe_stdin) in.emplace();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (in) {
    posix_spawn_file_actions_adddup2(&actions, in->read, 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out.write, 1);
  posix_spawn_file_actions_adddup2(&actions, err.write, 2);
  const int rc = posix_spawn(&child.pid, argp[0], &actions, nullptr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close_fd(out.write);
  close_fd(err.write);
  if (in) close_fd(in->read);
  if (rc != 0) {
    close_fd(out.read);
    close_fd(err.read);
    if (in) close_fd(in->write);
    throw std::runtime_error("cannot spawn " + argv.at(0) + ": " + std::strerror(rc));
  }
  child.out = out.read;
  child.err = err.read;
  if (in) {
    child.in = in->write;
    ::fcntl(child.in, F_SETFL, ::fcntl(child.in, F_GETFL) | O_NONBLOCK);
  }
  return child;
}

/// Moves bytes: `input` into the child's stdin (closed once written), its stdout and stderr into
/// `out`/`err`, until `done()` or the deadline. False on timeout.
inline bool pump(Spawned& child, std::string_view& input, std::string& out, std::string& err,
                 SteadyClock::time_point deadline, const std::function<bool()>& done) {
  while (!done()) {
    if (child.in >= 0 && input.empty()) close_fd(child.in);
    std::vector<pollfd> fds;
    if (child.in >= 0) fds.push_back({child.in, POLLOUT, 0});
    if (child.out >= 0) fds.push_back({child.out, POLLIN, 0});
    if (child.err >= 0) fds.push_back({child.err, POLLIN, 0});
    if (fds.empty()) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return false;
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return false;
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == child.in) {
        const ssize_t n = ::write(child.in, input.data(), input.size());
        if (n > 0) {
          input.remove_prefix(static_cast<std::size_t>(n));
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          input = {};  // the child closed its stdin (EPIPE): stop feeding it
          close_fd(child.in);
        }
        continue;
      }
      int& fd = p.fd == child.out ? child.out : child.err;
      std::string& sink = p.fd == child.out ? out : err;
      char buffer[4096];
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n > 0) {
        sink.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close_fd(fd);
      }
    }
  }
  return true;
}

/// Waits for the child's exit until the deadline, then kills it. Returns the exit code (128 +
/// signal when a signal ended it); sets `timed_out` when we had to kill it.
inline int wait_for_exit(pid_t pid, SteadyClock::time_point deadline, bool& timed_out) {
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return -1;
    if (SteadyClock::now() >= deadline) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace detail

/// Runs a program to completion with `input` on its stdin; kills it after `timeout`.
inline ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = {},
                                 const EnvChanges& env = {},
                                 std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = SteadyClock::now() + timeout;
  detail::Spawned child = detail::spawn(argv, env, /*pipe_stdin=*/true);
  ProcessResult result;
  std::string_view pending(input);
  const bool drained = detail::pump(child, pending, result.out, result.err, deadline,
                                    [&] { return child.out < 0 && child.err < 0; });
  detail::close_fd(child.in);
  detail::close_fd(child.out);
  detail::close_fd(child.err);
  result.exit_code = detail::wait_for_exit(child.pid, drained ? deadline : SteadyClock::now(), result.timed_out);
  return result;
}

/// A long-running child (a server): read its stdout line by line, signal it, wait for it.
/// The destructor kills it if it is still running.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const EnvChanges& env)
      : child_(detail::spawn(argv, env, /*pipe_stdin=*/false)) {}
  ~ChildProcess() {
    if (!exited_) {
      ::kill(child_.pid, SIGKILL);
      ::waitpid(child_.pid, nullptr, 0);
    }
    detail::close_fd(child_.out);
    detail::close_fd(child_.err);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// The next stdout line (without '\n'); unset at end of output or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    std::string_view no_input;
    detail::pump(child_, no_input, out_, err_, SteadyClock::now() + timeout,
                 [&] { return out_.find('\n') != std::string::npos || child_.out < 0; });
    const auto newline = out_.find('\n');
    if (newline == std::string::npos) return std::nullopt;
    std::string line = out_.substr(0, newline);
    out_.erase(0, newline + 1);
    return line;
  }

  /// Reads stdout lines until one contains `needle`; returns it, or unset after `timeout`.
  std::optional<std::string> read_line_containing(std::string_view needle, std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
      if (left.count() <= 0) return std::nullopt;
      auto line = read_line(left);
      if (!line) return std::nullopt;
      if (line->find(needle) != std::string::npos) return line;
    }
  }

  void send_signal(int signal_number) { ::kill(child_.pid, signal_number); }

  pid_t pid() const noexcept { return child_.pid; }

  /// Collects the rest of its output and its exit code; kills it after `timeout`.
  ProcessResult wait(std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    ProcessResult result;
    std::string_view no_input;
    const bool drained = detail::pump(child_, no_input, out_, err_, deadline,
                                      [&] { return child_.out < 0 && child_.err < 0; });
    result.exit_code = detail::wait_for_exit(child_.pid, drained ? deadline : SteadyClock::now(), result.timed_out);
    exited_ = true;
    result.out = out_;
    result.err = err_;
    return result;
  }

  /// Stderr received so far (stdout reads collect it as they go).
  const std::string& err() const noexcept { return err_; }

 private:
  detail::Spawned child_;
  std::string out_;
  std::string err_;
  bool exited_ = false;
};

}  // namespace wagroups_test
