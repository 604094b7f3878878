#include "rig/machine/qemu/qemu_args.h"

#include <fmt/format.h>

#include <algorithm>

#include "rig/base/size.h"

namespace rig {

// A value inside QEMU's KEY=VALUE,... option syntax: a comma is written twice (a run directory
// under --artifacts a,b must not end the path and start an option).
std::string qemu_opt_value(const std::string& v) {
  std::string out;
  for (char c : v) out += c == ',' ? std::string(",,") : std::string(1, c);
  return out;
}

std::string memory_backend_id(const Dimm& d) { return "mem-" + d.id; }

std::string virtio_mem_backend_id(const VirtioMem& v) { return "mem-" + v.id; }

std::string virtio_mem_qom_path(const VirtioMem& v) { return "/machine/peripheral/" + v.id; }

nlohmann::json memory_backend_object_args(const Dimm& d) {
  return {{"qom-type", "memory-backend-ram"}, {"id", memory_backend_id(d)}, {"size", d.size}};
}

nlohmann::json dimm_device_args(const Dimm& d) {
  return {{"driver", "pc-dimm"}, {"id", d.id}, {"memdev", memory_backend_id(d)}, {"node", d.node}, {"addr", d.addr}};
}

std::vector<std::string> qemu_argv(const Scenario& s, const LaunchSpec& spec) {
  std::vector<std::string> a = {spec.qemu_binary};
  auto add = [&a](std::initializer_list<std::string> xs) { a.insert(a.end(), xs); };
  add({"-machine", s.machine.type, "-accel", spec.accel, "-cpu", s.machine.cpu});
  add({"-smp", fmt::format("{}", s.machine.smp)});
  add({"-m", fmt::format("{},slots={},maxmem={}", format_size(s.boot_ram()), s.machine.slots,
                         format_size(s.machine.maxmem))});
  for (const auto& n : s.nodes) {
    std::string node = fmt::format("node,nodeid={}", n.id);
    // A CPU list "0-1,4" is one cpus= option per range to QEMU (validated: digits, '-', ',').
    for (size_t at = 0; !n.cpus.empty() && at <= n.cpus.size();) {
      const size_t comma = std::min(n.cpus.find(',', at), n.cpus.size());
      node += ",cpus=" + n.cpus.substr(at, comma - at);
      at = comma + 1;
    }
    if (n.memory > 0) {
      const std::string mem = fmt::format("ram-node{}", n.id);
      add({"-object", fmt::format("memory-backend-ram,id={},size={}", mem, format_size(n.memory))});
      node += ",memdev=" + mem;
    }
    add({"-numa", node});
  }
  for (const auto& d : s.dimms) {
    if (!d.present) continue;
    add({"-object", fmt::format("memory-backend-ram,id={},size={}", memory_backend_id(d), format_size(d.size))});
    add({"-device", fmt::format("pc-dimm,id={},memdev={},node={},addr={}", d.id, memory_backend_id(d), d.node,
                                format_hex(d.addr))});
  }
  // virtio-mem: present from the start at the address the scenario placed it (place_virtio_mems),
  // resized with qom-set of requested-size (virtio_mem_qom_path).
  for (const auto& v : s.virtio_mems) {
    add({"-object", fmt::format("memory-backend-ram,id={},size={}", virtio_mem_backend_id(v), format_size(v.size))});
    add({"-device", fmt::format("virtio-mem-pci,id={},memdev={},node={},block-size={},requested-size={},memaddr={}",
                                v.id, virtio_mem_backend_id(v), v.node, format_size(v.block_size),
                                format_size(v.requested), format_hex(v.addr))});
  }
  add({"-kernel", spec.kernel});
  if (!spec.initrd.empty()) add({"-initrd", spec.initrd});
  add({"-append", kernel_command_line(s, spec.extra_kernel_args)});
  // No defaults: no NIC, no VGA, no monitor on stdio. The console goes to a file the rig reads
  // while the guest runs (a file never blocks QEMU the way an unread socket can).
  add({"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"});
  if (spec.serial == "mon:stdio")
    add({"-serial", "mon:stdio"});
  else
    add({"-chardev",
         fmt::format("file,id=console,path={}{}", qemu_opt_value(spec.console_log),
                     spec.console_append ? ",append=on" : ""),
         "-serial", "chardev:console"});
  add({"-qmp", fmt::format("unix:{},server=on,wait=off", qemu_opt_value(spec.qmp_socket))});
  add({"-chardev", fmt::format("socket,id=qga,path={},server=on,wait=off", qemu_opt_value(spec.qga_socket))});
  add({"-device", "virtio-serial-pci,id=vser0", "-device",
       "virtserialport,bus=vser0.0,chardev=qga,name=org.qemu.guest_agent.0"});
  // Start paused: the rig connects QMP first, so no event is missed, then sends "cont".
  if (spec.paused) add({"-S"});
  if (!spec.incoming.empty()) add({"-incoming", spec.incoming});
  return a;
}

}  // namespace rig
