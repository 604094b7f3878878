// The one place that picks a Machine backend. The runner and the suite get a MachineFactory built
// here and never name a backend's class nor compare its name: what differs between backends
// (snapshots, whether guests run on this host, what must be installed) is asked here. Adding a
// backend touches this file and its own files.
#pragma once

#include <memory>
#include <string>

#include "rig/machine/machine.h"
#include "rig/host/snapshot_cache.h"
#include "rig/machine/libvirt/libvirt_uri.h"
#include "rig/machine/qemu/qemu_machine.h"

namespace rig {

// What the user chose: the backend and what it needs (QEMU binary and accelerator, or a libvirt
// connection URI).
struct BackendConfig {
  std::string backend = "qemu";  // "qemu" or "libvirt"
  std::string qemu = "qemu-system-x86_64";
  std::string accel = "auto";  // auto, kvm or tcg
  std::string connect;         // libvirt URI (libvirt_uri.h); empty: default_libvirt_uri
};

// The backends, as a type: the one place a backend's name is read is backend_of.
enum class Backend { Qemu, Libvirt };
// The backend `b` names; throws UsageError (one line) for a name no backend has.
Backend backend_of(const BackendConfig& b);

// Checks the choice before anything boots; throws UsageError with a one-line reason.
void validate_backend(const BackendConfig& b);

// Throws InfraError (one line) when the backend cannot run before anything boots: for QEMU, its
// binary is not installed; for libvirt, a connection to the URI is opened and closed again.
void check_backend_reachable(const BackendConfig& b);

// Whether the backend saves ready guests and restores them (snapshot_cache.h): QEMU does, libvirt
// does not yet (docs/libvirt.md). Pure.
bool backend_saves_snapshots(const BackendConfig& b);

// Why the chosen backend cannot run `s` faithfully (the run is a skip with this reason); empty if
// it can.
std::string backend_skip_reason(const BackendConfig& b, const Scenario& s);

// Whether the guests run on this host, so that they take its cores (host_slots.h): always under
// QEMU; under libvirt unless the URI names another host (localhost and 127.x/::1 are this one).
// `this_host` is this machine's name (gethostname). Pure.
bool guests_run_here(const BackendConfig& b, const std::string& this_host);

// What every backend needs to bring up one guest of one run; the snapshot part is the QEMU
// backend's only (the libvirt backend always boots).
struct MachineSetup : GuestBoot, QemuSnapshotSetup {};

// Builds the machine of the chosen backend. Throws UsageError for a backend it does not know and
// InfraError for one that cannot run here.
std::unique_ptr<Machine> make_machine(const BackendConfig& b, const MachineSetup& setup);

}  // namespace rig
