// One QEMU child process. It runs in its own process group with a parent-death signal, and it is
// registered so that Ctrl-C, SIGTERM or a crash of the rig kills it: no QEMU outlives the rig.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rig {

struct ProcessExit {
  bool signaled = false;
  int code = 0;  // exit code, or the signal number when signaled
  std::string describe() const;
};

class QemuProcess {
 public:
  // Starts argv[0] (searched in PATH) with stdout and stderr to `log_path`, in `work_dir` when
  // given. Throws InfraError when the binary is missing or cannot start.
  QemuProcess(const std::vector<std::string>& argv, const std::string& log_path, const std::string& work_dir = "");
  ~QemuProcess();  // kills the process group if it still runs
  QemuProcess(const QemuProcess&) = delete;
  QemuProcess& operator=(const QemuProcess&) = delete;

  int pid() const;
  bool running();
  std::optional<ProcessExit> exit_status() const { return exit_; }
  // Waits up to `seconds` for the process to end by itself.
  bool wait_exit(double seconds);
  // SIGTERM to the group, wait `grace` seconds, then SIGKILL; always reaps.
  void terminate(double grace);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::optional<ProcessExit> exit_;
};

// Installs the handlers that kill every registered QEMU on SIGINT, SIGTERM, SIGHUP and on fatal
// signals of the rig itself, then let the signal take its normal course. Call once from main.
void install_child_reaper_signal_handlers();

// Finds an executable in PATH; empty when absent.
std::string find_program(const std::string& name);

}  // namespace rig
