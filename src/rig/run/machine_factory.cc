#include "rig/run/machine_factory.h"

#include <fmt/format.h>

#include "rig/base/errors.h"
#include "rig/host/qemu_process.h"
#include "rig/machine/libvirt/libvirt_machine.h"
#include "rig/machine/libvirt/libvirt_xml.h"
#include "rig/machine/qemu/qemu_machine.h"

namespace rig {

Backend backend_of(const BackendConfig& b) {
  if (b.backend == "qemu") return Backend::Qemu;
  if (b.backend == "libvirt") return Backend::Libvirt;
  throw UsageError(fmt::format("--backend {}: unknown backend (qemu or libvirt)", b.backend));
}

void validate_backend(const BackendConfig& b) {
  const Backend kind = backend_of(b);
  if (b.accel != "auto" && b.accel != "kvm" && b.accel != "tcg")
    throw UsageError(fmt::format("--accel {}: must be auto, kvm or tcg", b.accel));
  if (kind == Backend::Qemu && !b.connect.empty())
    throw UsageError(
        fmt::format("--connect {}: only the libvirt backend connects to a URI (add --backend libvirt)", b.connect));
  if (kind == Backend::Libvirt) checked_libvirt_uri(b.connect);
}

void check_backend_reachable(const BackendConfig& b) {
  switch (backend_of(b)) {
    case Backend::Qemu:
      if (find_program(b.qemu).empty())
        throw InfraError(fmt::format("{} not found (apt-get install qemu-system-x86)", b.qemu));
      return;
    case Backend::Libvirt: libvirt_reachable(checked_libvirt_uri(b.connect)); return;
  }
}

bool backend_saves_snapshots(const BackendConfig& b) { return backend_of(b) == Backend::Qemu; }

std::string backend_skip_reason(const BackendConfig& b, const Scenario& s) {
  if (backend_of(b) == Backend::Libvirt) {
    const std::string why = libvirt_skip_reason(s);
    return why.empty() ? "" : "the libvirt backend cannot run it as the QEMU backend does: " + why;
  }
  return "";
}

bool guests_run_here(const BackendConfig& b, const std::string& this_host) {
  if (backend_of(b) != Backend::Libvirt) return true;
  // The one URI parser (machine/libvirt/libvirt_uri.h): "" for the local transports.
  std::string host = parse_libvirt_uri(checked_libvirt_uri(b.connect)).host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host.empty() || host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1" || host == this_host;
}

std::unique_ptr<Machine> make_machine(const BackendConfig& b, const MachineSetup& setup) {
  validate_backend(b);
  switch (backend_of(b)) {
    case Backend::Qemu: {
      QemuMachineConfig cfg;
      static_cast<GuestBoot&>(cfg) = setup;
      cfg.qemu_binary = b.qemu;
      static_cast<QemuSnapshotSetup&>(cfg) = setup;
      return std::make_unique<QemuMachine>(cfg);
    }
    case Backend::Libvirt: {
      LibvirtMachineConfig cfg;
      static_cast<GuestBoot&>(cfg) = setup;
      cfg.uri = checked_libvirt_uri(b.connect);
      return std::make_unique<LibvirtMachine>(cfg);
    }
  }
  throw UsageError(fmt::format("--backend {}: no machine for it", b.backend));
}

}  // namespace rig
