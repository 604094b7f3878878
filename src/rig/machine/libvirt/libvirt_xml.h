// Pure translation of a scenario and its launch specification (launch_spec.h) into libvirt domain
// XML and device XML (the libvirt backend's counterpart of qemu_args.h). No I/O: unit-tested
// against golden files.
#pragma once

#include <string>
#include <vector>

#include "rig/machine/launch_spec.h"
#include "rig/scenario/scenario.h"
#include "rig/base/text.h"

namespace rig {

// The launch as libvirt gets it: the domain type follows `accel` (kvm: 'kvm', tcg: 'qemu'); the
// console is a pty and QEMU's monitor is libvirt's, so `serial`, `console_log`, `qmp_socket`,
// `incoming` and `paused` do not apply (the machine starts the domain paused itself). A non-empty
// `qga_socket` binds the org.qemu.guest_agent.0 channel there; empty: libvirt picks the path.
// libvirt connects to it itself (verified), so a LibvirtMachine reaches the agent through
// virDomainQemuAgentCommand.
struct LibvirtDomainSpec : LaunchSpec {
  std::string name;  // domain_name(): carries the rig's prefix
};

// <domain type=...> for an accelerator: "kvm" for kvm, "qemu" (TCG) otherwise.
std::string libvirt_domain_type(const std::string& accel);

// Every domain the rig defines starts with this; `rig cleanup` removes the ones left behind.
inline const char* rig_domain_prefix() { return "rig-"; }
// rig-<pid>-<n>-<scenario>, the scenario reduced to [A-Za-z0-9_-].
std::string domain_name(long pid, int n, const std::string& scenario);
bool is_rig_domain(const std::string& name);

// The libvirt user alias of a DIMM (libvirt requires the "ua-" prefix); QEMU's device id is the same.
std::string dimm_alias(const Dimm& d);
// The same for a virtio-mem device: QEMU's id, so its QOM path is /machine/peripheral/ua-ID.
std::string virtio_mem_alias(const VirtioMem& v);

// Why this backend cannot run the scenario as the QEMU backend does; empty if it can.
std::string libvirt_skip_reason(const Scenario& s);

// The machine type libvirt is given: pc-i440fx-5.0 or pc-q35-5.0 when a node has no memory
// (newer types make a 0-byte backend per cell, which QEMU rejects), else the scenario's.
std::string libvirt_machine_type(const Scenario& s);

// The whole domain: direct kernel boot with the QEMU backend's kernel command line (memmap= for
// boot DIMMs), NUMA cells, present DIMMs at their pinned bases, console file, agent channel.
// Throws UsageError for a scenario with a skip reason.
std::string domain_xml(const Scenario& s, const LibvirtDomainSpec& spec);

// One <memory model='dimm'> device, for the domain and for virDomainAttachDeviceFlags. libvirt
// requires a slot beside the base; a DIMM's slot is its index in the scenario's DIMM list, so a
// DIMM keeps its slot over unplug and re-plug.
std::string dimm_device_xml(const Dimm& d, int slot);
int dimm_slot(const Scenario& s, const Dimm& d);

// One <memory model='virtio-mem'> device (libvirt 9.0: size, node, block, requested), for the
// domain and, with another requested size, for virDomainUpdateDeviceFlags. libvirt 9.0 has no
// way to give its address: QEMU places it, and the backend checks it is where the rig placed it.
std::string virtio_mem_device_xml(const VirtioMem& v, uint64_t requested);
// What virDomainUpdateDeviceFlags needs to resize a running device: libvirt finds the device by
// its whole definition (the address and the rest libvirt filled in), so the device's element is
// taken from the live domain XML and only its <requested> is replaced. Empty when the live XML
// has no virtio-mem device with `alias` or it has no <requested>.
std::string virtio_mem_update_xml(const std::string& live_domain_xml, const std::string& alias, uint64_t requested);

// The directory pool a run's kernel and initramfs are uploaded to (virStorageVolUpload), named
// like its domain, under /var/lib/libvirt/images on the libvirt host, readable by QEMU whatever
// user libvirt runs it as.
std::string storage_pool_xml(const std::string& name);
// One raw volume of `bytes` in that pool, readable by QEMU.
std::string storage_volume_xml(const std::string& name, uint64_t bytes);

}  // namespace rig
