// The QEMU backend of Machine: one QEMU process, its QMP socket, its guest-agent socket and its
// console log, all in one private run directory.
#pragma once

#include <fstream>
#include <memory>

#include "rig/machine.h"
#include "rig/qmp_client.h"
#include "rig/qemu_process.h"

namespace rig {

struct QemuMachineConfig {
  Scenario scenario;
  std::string kernel_path;
  std::string kernel_release;
  std::string initrd;
  std::string accel = "tcg";
  std::string run_dir;  // exists, mode 0700; the machine writes its sockets and logs here
  Timeouts timeouts;
  std::vector<std::string> extra_kernel_args;
  std::string qemu_binary = "qemu-system-x86_64";
};

// Kernel arguments every rig guest gets: the console on the serial port, and a panic that ends
// QEMU at once (with -no-reboot) so it is reported as a crash, never as a timeout.
std::vector<std::string> rig_kernel_args();

class QemuMachine : public Machine {
 public:
  explicit QemuMachine(QemuMachineConfig cfg);
  ~QemuMachine() override;

  void start() override;
  PlugOutcome plug_dimm(const Dimm& d, double timeout_s) override;
  UnplugOutcome unplug_dimm(const Dimm& d, double timeout_s) override;
  std::vector<MemoryDevice> memory_devices() override;
  GuestExecResult guest_exec(const std::string& script, double timeout_s) override;
  std::string guest_read_file(const std::string& path) override;
  void check_alive() override;
  const ConsoleParser& console() const override { return console_; }
  MachineInfo info() const override;
  void shutdown() override;

  const std::vector<std::string>& argv() const { return argv_; }

 private:
  PlugOutcome plug_dimm_unguarded(const Dimm& d, double timeout_s);
  UnplugOutcome unplug_dimm_unguarded(const Dimm& d, double timeout_s);
  void stop_process();
  void read_console();
  [[noreturn]] void throw_down();
  std::string qemu_log_tail() const;
  std::string path(const std::string& name) const { return cfg_.run_dir + "/" + name; }
  std::string socket_path(const std::string& name) const { return socket_dir_ + "/" + name; }
  // Runs `op`; when it fails because the guest went away, reports that instead (GuestDown).
  template <class Op>
  auto guarded(Op op) -> decltype(op());

  std::string socket_dir_;
  bool own_socket_dir_ = false;

  QemuMachineConfig cfg_;
  std::vector<std::string> argv_;
  std::ofstream transcript_;
  std::unique_ptr<QemuProcess> process_;
  QmpClient qmp_;
  GuestAgent agent_;
  ConsoleParser console_;
  std::ifstream console_in_;
  Clock::time_point console_activity_;
  bool down_ = false;
};

}  // namespace rig
