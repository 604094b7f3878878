// The QEMU backend of Machine: one QEMU process, its QMP socket, its guest-agent socket and its
// console log, all in one private run directory.
#pragma once

#include <fstream>
#include <memory>

#include "rig/machine/launch_spec.h"
#include "rig/machine/machine.h"
#include "rig/machine/qmp/qmp_client.h"
#include "rig/host/qemu_process.h"
#include "rig/host/snapshot_cache.h"

namespace rig {

// The QEMU backend's snapshots: null boots every time. The key's inputs beside the launch are the
// suite's (hashed once per kernel): the kernel image, the guest image and QEMU's version.
struct QemuSnapshotSetup {
  SnapshotCache* snapshots = nullptr;
  std::string kernel_hash, initrd_hash, qemu_version;
  bool probe = false;  // the runner takes the probe's boot snapshot before saving
};

struct QemuMachineConfig : GuestBoot, QemuSnapshotSetup {
  std::vector<std::string> extra_kernel_args;
  std::string qemu_binary = "qemu-system-x86_64";
  // Artifacts of a hang (the guest's memory dump) may use at most this much of the run directory.
  uint64_t dump_budget = 2ull << 30;
};

// Pure: the snapshot inputs of a configuration (argv with run-specific paths as placeholders).
SnapshotInputs snapshot_inputs(const QemuMachineConfig& cfg);

class QemuMachine : public Machine {
 public:
  explicit QemuMachine(QemuMachineConfig cfg);
  ~QemuMachine() override;

  StartInfo start() override;
  SaveOutcome save_ready(const ReadyState& ready) override;
  PlugOutcome plug_dimm(const Dimm& d, double timeout_s) override;
  UnplugOutcome unplug_dimm(const Dimm& d, double timeout_s) override;
  ResizeOutcome resize_virtio_mem(const VirtioMem& v, uint64_t requested, double timeout_s) override;
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
  ResizeOutcome resize_virtio_mem_unguarded(const VirtioMem& v, uint64_t requested, double timeout_s);
  void stop_process();
  // Starts QEMU with `argv` and connects QMP and the agent's socket (QEMU still paused).
  void launch(const std::vector<std::string>& argv);
  void boot();
  // Restores the guest from `e`; throws (InfraError, GuestDown) when QEMU refuses it.
  void restore(const SnapshotEntry& e, const SnapshotReady& ready);
  // A hung guest: its console tail, run state and (within the budget) memory, for the reader.
  void save_hang_evidence();
  // Forget the QEMU that ran (its process, console and findings) before starting another;
  // its files are renamed with `prefix` when given, else removed.
  void reset_for_restart(const std::string& prefix);
  // A kernel report that ends the step at once (BUG, Oops, hung task, soft lockup).
  void check_reports();
  void read_console();
  [[noreturn]] void throw_down();
  std::string qemu_log_tail() const;
  std::string path(const std::string& name) const { return cfg_.run_dir + "/" + name; }
  // Where the rig reaches QEMU's socket `name`: QEMU makes it in the run directory (its working
  // directory); the rig goes through /proc/self/fd when that path is too long for a socket.
  std::string socket_path(const std::string& name) const { return socket_dir_ + "/" + name; }
  // Runs `op`; when it fails because the guest went away, reports that instead (GuestDown).
  template <class Op>
  auto guarded(Op op) -> decltype(op());

  std::string socket_dir_;
  int run_dir_fd_ = -1;  // held open while socket_dir_ goes through it

  QemuMachineConfig cfg_;
  std::vector<std::string> argv_;
  std::vector<std::string> restore_argv_;  // argv_ with the console appended to and -incoming
  std::string key_;
  double boot_s_ = 0;
  bool restored_ = false;
  size_t reports_seen_ = 0;
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
