// The libvirt backend of Machine: one transient domain per run, driven through the libvirt C API
// over any connection URI. Everything the guest needs or says travels over that connection: the
// kernel and initramfs are uploaded to a storage pool (virStorageVolUpload), the console is a
// stream (virDomainOpenConsole), the agent is libvirt's pass-through (virDomainQemuAgentCommand),
// and events are libvirt's (device removed, removal failed, lifecycle) and QEMU's through the
// monitor-event callback. So a remote host works as the local one does. docs/libvirt.md.
#pragma once

#include <memory>
#include <optional>

#include "rig/machine/machine.h"
#include "rig/machine/qmp/qmp_protocol.h"
#include "rig/machine/libvirt/libvirt_uri.h"

namespace rig {

struct LibvirtMachineConfig : GuestBoot {
  std::string uri = default_libvirt_uri();
};

// The names libvirt's own domain events get in the machine's event queue, beside QEMU's
// monitor events (whose names are QEMU's): data {"device": alias}.
constexpr const char* kLibvirtDeviceRemoved = "libvirt:device-removed";
constexpr const char* kLibvirtDeviceRemovalFailed = "libvirt:device-removal-failed";

// Pure: what the events seen after an eject request of the DIMM with libvirt alias `alias` mean.
// libvirt's device-removed ends it as removed (libvirt has deleted the backend too); a failing
// _OST or libvirt's device-removal-failed as refused. Unit-tested on recorded event sequences.
class UnplugWatch {
 public:
  explicit UnplugWatch(std::string alias) : alias_(std::move(alias)) {}
  bool concerns(const QmpEvent& e) const;
  // The outcome once `e` decides it; nullopt while the eject is still open.
  std::optional<UnplugOutcome> feed(const QmpEvent& e);
  // What to report when the step's time ran out.
  UnplugOutcome timed_out() const;

 private:
  std::string alias_;
  int ost_status_ = -1;
};

// Pure: the scenario's DIMM id of a libvirt memory device alias ("ua-dimm1" -> "dimm1").
std::string dimm_id_of_alias(const std::string& alias);

// Opens and closes a connection to `uri`; throws InfraError with libvirt's reason when it cannot.
void libvirt_reachable(const std::string& uri);

class LibvirtMachine : public Machine {
 public:
  explicit LibvirtMachine(LibvirtMachineConfig cfg);
  ~LibvirtMachine() override;

  StartInfo start() override;
  PlugOutcome plug_dimm(const Dimm& d, double timeout_s) override;
  UnplugOutcome unplug_dimm(const Dimm& d, double timeout_s) override;
  std::vector<MemoryDevice> memory_devices() override;
  ResizeOutcome resize_virtio_mem(const VirtioMem& v, uint64_t requested, double timeout_s) override;
  GuestExecResult guest_exec(const std::string& script, double timeout_s) override;
  std::string guest_read_file(const std::string& path) override;
  void check_alive() override;
  const ConsoleParser& console() const override { return console_; }
  MachineInfo info() const override;
  void shutdown() override;

  const std::string& domain_name() const { return name_; }

 private:
  struct Impl;
  void boot();
  void stop_domain();
  void read_console();
  [[noreturn]] void throw_down(const std::string& why);
  void save_hang_evidence();
  std::string path(const std::string& name) const { return cfg_.run_dir + "/" + name; }

  LibvirtMachineConfig cfg_;
  std::string name_;
  std::unique_ptr<Impl> impl_;
  ConsoleParser console_;
  size_t reports_seen_ = 0;
  bool down_ = false;
};

}  // namespace rig
