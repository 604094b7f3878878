#include "rig/scenario/scenario.h"

#include <algorithm>

#include "rig/base/size.h"

namespace rig {

uint64_t Scenario::boot_ram() const {
  uint64_t total = 0;
  for (const auto& n : nodes) total += n.memory;
  return total;
}

const Dimm* Scenario::find_dimm(const std::string& id) const {
  for (const auto& d : dimms)
    if (d.id == id) return &d;
  return nullptr;
}

const VirtioMem* Scenario::find_virtio_mem(const std::string& id) const {
  for (const auto& v : virtio_mems)
    if (v.id == id) return &v;
  return nullptr;
}

const char* step_action_name(StepAction a) {
  switch (a) {
    case StepAction::Plug: return "plug";
    case StepAction::Online: return "online";
    case StepAction::Unplug: return "unplug";
    case StepAction::ExpectNode: return "expect-node";
    case StepAction::ExpectDimm: return "expect-dimm";
    case StepAction::Resize: return "resize";
  }
  return "?";
}

DeviceMemoryWindow device_memory_window(const MachineSpec& m, uint64_t ram) {
  // Mirrors hw/i386/pc_piix.c and pc_q35.c: RAM above the PCI hole moves over 4 GiB.
  uint64_t below_4g = ram;
  if (m.type == "q35" && ram >= 0xb0000000ull) below_4g = 0x80000000ull;
  if (m.type == "pc" && ram >= 0xe0000000ull) below_4g = 0xc0000000ull;
  const uint64_t above_4g = ram - below_4g;
  DeviceMemoryWindow w;
  w.base = (4 * GiB + above_4g + GiB - 1) / GiB * GiB;
  w.size = m.maxmem > ram ? m.maxmem - ram : 0;
  return w;
}

void place_virtio_mems(Scenario& s) {
  uint64_t next = device_memory_window(s.machine, s.boot_ram()).base;
  for (const auto& d : s.dimms) next = std::max(next, d.addr + d.size);
  for (auto& v : s.virtio_mems) {
    // Both powers of two (validated; anything else still gives an aligned address).
    const uint64_t align = std::max(v.block_size, kMemoryBlockSize);
    v.addr = align != 0 && next % align != 0 ? (next / align + 1) * align : next;
    next = v.addr + v.size;
  }
}

}  // namespace rig
