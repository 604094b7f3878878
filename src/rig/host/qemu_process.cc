#include "rig/host/qemu_process.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <thread>

#include "rig/base/clock.h"
#include "rig/base/errors.h"
#include "rig/base/timeouts.h"

namespace bp = boost::process;

namespace rig {
namespace {

// Process groups of live QEMUs, readable from a signal handler (lock-free, fixed size).
constexpr int kMaxChildren = 64;
std::atomic<pid_t> g_children[kMaxChildren];

void register_child(pid_t pgid) {
  for (auto& slot : g_children) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pgid)) return;
  }
}

void unregister_child(pid_t pgid) {
  for (auto& slot : g_children) {
    pid_t expected = pgid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

extern "C" void kill_children_and_reraise(int sig) {
  for (auto& slot : g_children) {
    pid_t p = slot.load();
    if (p > 0) ::kill(-p, SIGKILL);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

std::string ProcessExit::describe() const {
  return signaled ? fmt::format("killed by signal {} ({})", code, strsignal(code)) : fmt::format("exit code {}", code);
}

struct QemuProcess::Impl {
  bp::child child;
};

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  auto p = bp::search_path(name);
  return p.empty() ? "" : p.string();
}

QemuProcess::QemuProcess(const std::vector<std::string>& argv, const std::string& log_path,
                         const std::string& work_dir) {
  if (argv.empty()) throw InfraError("no command to start");
  std::string exe = find_program(argv[0]);
  if (exe.empty()) throw InfraError(fmt::format("{} not found in PATH (apt-get install qemu-system-x86)", argv[0]));
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  const pid_t parent = ::getpid();
  try {
    impl_ = std::make_unique<Impl>();
    impl_->child = bp::child(
        bp::exe = exe, bp::args = args, (bp::std_out & bp::std_err) > log_path, bp::std_in < bp::null,
        bp::start_dir = work_dir.empty() ? std::string(".") : work_dir, bp::extend::on_exec_setup = [parent](auto&) {
          // Own process group: the rig kills the whole group. Parent-death signal: a rig that
          // dies without running any handler (SIGKILL, OOM) still takes QEMU with it.
          ::setpgid(0, 0);
          ::prctl(PR_SET_PDEATHSIG, SIGKILL);
          if (::getppid() != parent) ::_exit(127);
        });
  } catch (const bp::process_error& e) {
    throw InfraError(fmt::format("cannot start {}: {}", exe, e.what()));
  }
  register_child(impl_->child.id());
}

QemuProcess::~QemuProcess() {
  if (impl_ && !exit_) terminate(0);
}

int QemuProcess::pid() const { return impl_->child.id(); }

bool QemuProcess::running() {
  if (exit_) return false;
  int status = 0;
  pid_t r = ::waitpid(impl_->child.id(), &status, WNOHANG);
  if (r == 0) return true;
  ProcessExit e;
  if (r == impl_->child.id()) {
    e.signaled = WIFSIGNALED(status);
    e.code = e.signaled ? WTERMSIG(status) : WEXITSTATUS(status);
  }
  exit_ = e;
  // The group may still hold helpers; they must not outlive QEMU either.
  ::kill(-impl_->child.id(), SIGKILL);
  unregister_child(impl_->child.id());
  impl_->child.detach();
  return false;
}

bool QemuProcess::wait_exit(double seconds) {
  Deadline d = deadline_in(seconds);
  while (running()) {
    if (Clock::now() >= d) return false;
    pause_for(default_timeouts().fast_poll);
  }
  return true;
}

void QemuProcess::terminate(double grace) {
  if (!running()) return;
  ::kill(-impl_->child.id(), SIGTERM);
  if (grace > 0 && wait_exit(grace)) return;
  ::kill(-impl_->child.id(), SIGKILL);
  wait_exit(default_timeouts().kill_wait);
}

void install_child_reaper_signal_handlers() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) {
    struct sigaction sa {};
    sa.sa_handler = kill_children_and_reraise;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    ::sigaction(sig, &sa, nullptr);
  }
}

}  // namespace rig
