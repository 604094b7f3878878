#include "rig/machine/qmp_answers.h"

#include <fmt/format.h>

namespace rig {

std::vector<MemoryDevice> memory_devices_from_qmp(const nlohmann::json& ret,
                                                  const std::function<std::string(const std::string&)>& id_of) {
  std::vector<MemoryDevice> out;
  if (!ret.is_array()) return out;
  for (const auto& dev : ret) {
    const nlohmann::json& data = dev.value("data", nlohmann::json::object());
    MemoryDevice m;
    m.id = id_of(data.value("id", ""));
    m.addr = data.value("addr", uint64_t{0});
    m.size = data.value("size", uint64_t{0});
    m.node = data.value("node", -1);
    out.push_back(m);
  }
  return out;
}

PlugOutcome plug_acknowledged(const QmpEvent& ost) {
  PlugOutcome out;
  out.ost_status = ost.data.is_object() && ost.data.contains("info") ? ost.data["info"].value("status", -1) : -1;
  out.added = out.ost_status == kOstSuccess;
  out.detail =
      fmt::format("guest acknowledged the device: _OST {:#x} ({})", out.ost_status, ost_status_name(out.ost_status));
  return out;
}

PlugOutcome plug_unacknowledged() {
  PlugOutcome out;
  out.detail = "the guest did not acknowledge the new DIMM (no ACPI_DEVICE_OST) in time";
  return out;
}

}  // namespace rig
