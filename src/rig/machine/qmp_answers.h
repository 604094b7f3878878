// What QEMU's QMP answers and events mean as the Machine's outcomes, for both backends (the
// libvirt backend relays QEMU's events and queries). Not part of the Machine interface: only the
// backends include this.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rig/machine/machine.h"
#include "rig/machine/qmp/qmp_protocol.h"

namespace rig {

// QEMU's query-memory-devices answer as the rig's devices; `id_of` maps QEMU's device id to the
// scenario's DIMM id (the libvirt backend's aliases carry a prefix).
std::vector<MemoryDevice> memory_devices_from_qmp(const nlohmann::json& ret,
                                                  const std::function<std::string(const std::string&)>& id_of);

// A plug as the guest's _OST (source 1, the device check) answered it; and what a plug the guest
// never answered is.
PlugOutcome plug_acknowledged(const QmpEvent& ost);
PlugOutcome plug_unacknowledged();

}  // namespace rig
