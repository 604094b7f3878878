// A scripted Machine for testing the runner without a guest: plug and unplug outcomes per DIMM,
// guest_exec answers keyed by a substring of the command, file contents, console text fed at a
// given moment, and GuestDown thrown at a given moment. Every call is logged.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rig/machine/console_parser.h"
#include "rig/machine/machine.h"
#include "rig/scenario/scenario.h"

namespace rig::testing {

struct FakeScript {
  // Moments are "start" (end of start()), "plug:ID" and "unplug:ID" (after the operation, before
  // it returns), "exec:KEY" (when a guest_exec answered by KEY runs).
  std::map<std::string, UnplugOutcome> unplug;  // DIMM id -> outcome; default removed
  std::map<std::string, PlugOutcome> plug;      // DIMM id -> outcome; default added
  std::set<std::string> qemu_keeps;             // QEMU still lists these DIMMs after a removal
  // virtio-mem device id -> the outcomes of its resizes in turn (the last repeats); default: the
  // requested size reached at once, from the size last requested.
  std::map<std::string, std::vector<ResizeOutcome>> resize;
  // guest_exec: the first key the command contains answers; a key with several answers gives
  // them in turn and then repeats the last. A command no key matches exits 127.
  std::vector<std::pair<std::string, std::vector<GuestExecResult>>> exec;
  std::map<std::string, std::string> files;        // guest_read_file
  std::map<std::string, std::string> console_at;   // moment -> console text fed then
  std::map<std::string, GuestDown::Kind> down_at;  // moment -> GuestDown thrown then
  std::optional<std::string> shutdown_error;       // shutdown() throws this
  SaveOutcome save;                                // what save_ready answers
};

struct FakeLog {
  std::vector<std::string> calls;  // "start", "plug:dimm1", "unplug:dimm1", "exec:<command>", ...
  bool shut_down = false;
  size_t count(const std::string& prefix) const;
};

class FakeMachine : public Machine {
 public:
  FakeMachine(const Scenario& s, FakeScript script, std::shared_ptr<FakeLog> log);

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

 private:
  void moment(const std::string& name);

  FakeScript script_;
  std::shared_ptr<FakeLog> log_;
  std::map<std::string, Dimm> listed_;
  std::map<std::string, size_t> answered_;
  std::map<std::string, uint64_t> vmem_size_;  // virtio-mem id -> its size now
  ConsoleParser console_;
  bool down_ = false;
  std::string down_why_;
  GuestDown::Kind down_kind_ = GuestDown::Kind::Crashed;
};

GuestExecResult exec_ok(std::string out = "");
GuestExecResult exec_exit(int code, std::string err = "");

}  // namespace rig::testing
