#include "rig/scenario.h"

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

const char* step_action_name(StepAction a) {
  switch (a) {
    case StepAction::Plug: return "plug";
    case StepAction::Online: return "online";
    case StepAction::Unplug: return "unplug";
    case StepAction::ExpectNode: return "expect-node";
    case StepAction::ExpectDimm: return "expect-dimm";
  }
  return "?";
}

}  // namespace rig
