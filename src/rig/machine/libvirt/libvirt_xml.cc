#include "rig/machine/libvirt/libvirt_xml.h"

#include "rig/base/text.h"

#include <fmt/format.h>

#include "rig/base/errors.h"
#include "rig/base/size.h"

namespace rig {

namespace {

uint64_t kib(uint64_t bytes) { return bytes / 1024; }

}  // namespace

std::string domain_name(long pid, int n, const std::string& scenario) {
  std::string clean;
  for (char c : scenario) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    clean += ok ? c : '_';
  }
  return fmt::format("{}{}-{}-{}", rig_domain_prefix(), pid, n, clean);
}

bool is_rig_domain(const std::string& name) { return name.rfind(rig_domain_prefix(), 0) == 0; }

std::string libvirt_domain_type(const std::string& accel) { return accel == "kvm" ? "kvm" : "qemu"; }

std::string dimm_alias(const Dimm& d) { return "ua-" + d.id; }

std::string virtio_mem_alias(const VirtioMem& v) { return "ua-" + v.id; }

std::string libvirt_skip_reason(const Scenario& s) {
  if (s.machine.type != "pc" && s.machine.type != "q35")
    return fmt::format("machine type {}: the libvirt backend knows pc and q35 only", s.machine.type);
  if (s.machine.cpu != "qemu64" && s.machine.cpu != "max")
    return fmt::format("cpu {}: the libvirt backend maps qemu64 and max only", s.machine.cpu);
  if (s.nodes.empty()) return "no NUMA node: libvirt's <numa> needs at least one cell";
  if (s.dimms.size() > static_cast<size_t>(s.machine.slots))
    return fmt::format("{} DIMMs in {} slots: libvirt pins each DIMM to a slot of its own", s.dimms.size(),
                       s.machine.slots);
  for (const auto& v : s.virtio_mems)
    if (v.size % 1024 != 0 || v.block_size % 1024 != 0 || v.requested % 1024 != 0)
      return fmt::format("virtio-mem {}: a size not a whole number of KiB", v.id);
  for (const auto& n : s.nodes)
    if (n.memory % 1024 != 0) return fmt::format("node {}: memory not a whole number of KiB", n.id);
  for (const auto& d : s.dimms)
    if (d.size % 1024 != 0) return fmt::format("DIMM {}: size not a whole number of KiB", d.id);
  return "";
}

std::string libvirt_machine_type(const Scenario& s) {
  bool memoryless = false;
  for (const auto& n : s.nodes) memoryless = memoryless || n.memory == 0;
  if (!memoryless) return s.machine.type;
  return s.machine.type == "q35" ? "pc-q35-5.0" : "pc-i440fx-5.0";
}

int dimm_slot(const Scenario& s, const Dimm& d) {
  for (size_t i = 0; i < s.dimms.size(); ++i)
    if (s.dimms[i].id == d.id) return static_cast<int>(i);
  throw UsageError(fmt::format("DIMM {}: not in scenario {}", d.id, s.name));
}

std::string dimm_device_xml(const Dimm& d, int slot) {
  return fmt::format(
      "<memory model='dimm'>\n"
      "  <alias name='{}'/>\n"
      "  <target>\n"
      "    <size unit='KiB'>{}</size>\n"
      "    <node>{}</node>\n"
      "  </target>\n"
      "  <address type='dimm' slot='{}' base='{}'/>\n"
      "</memory>\n",
      xml_escape(dimm_alias(d)), kib(d.size), d.node, slot, format_hex(d.addr));
}

std::string virtio_mem_device_xml(const VirtioMem& v, uint64_t requested) {
  return fmt::format(
      "<memory model='virtio-mem'>\n"
      "  <alias name='{}'/>\n"
      "  <target>\n"
      "    <size unit='KiB'>{}</size>\n"
      "    <node>{}</node>\n"
      "    <block unit='KiB'>{}</block>\n"
      "    <requested unit='KiB'>{}</requested>\n"
      "  </target>\n"
      "</memory>\n",
      xml_escape(virtio_mem_alias(v)), kib(v.size), v.node, kib(v.block_size), kib(requested));
}

std::string virtio_mem_update_xml(const std::string& live, const std::string& alias, uint64_t requested) {
  const std::string open = "<memory model='virtio-mem'", close = "</memory>";
  for (size_t at = live.find(open); at != std::string::npos; at = live.find(open, at + 1)) {
    const size_t end = live.find(close, at);
    if (end == std::string::npos) return "";
    std::string dev = live.substr(at, end + close.size() - at);
    if (dev.find(fmt::format("<alias name='{}'/>", xml_escape(alias))) == std::string::npos) continue;
    const size_t r0 = dev.find("<requested"), r1 = dev.find("</requested>");
    if (r0 == std::string::npos || r1 == std::string::npos || r1 < r0) return "";
    return dev.substr(0, r0) + fmt::format("<requested unit='KiB'>{}</requested>", kib(requested)) +
           dev.substr(r1 + std::string("</requested>").size()) + "\n";
  }
  return "";
}

std::string domain_xml(const Scenario& s, const LibvirtDomainSpec& spec) {
  const std::string skip = libvirt_skip_reason(s);
  if (!skip.empty()) throw UsageError(fmt::format("{}: {}", s.name, skip));
  uint64_t total = 0;
  for (const auto& n : s.nodes) total += n.memory;
  for (const auto& d : s.dimms)
    if (d.present) total += d.size;
  for (const auto& v : s.virtio_mems) total += v.size;  // libvirt counts a device's whole size
  std::string x;
  x += fmt::format("<domain type='{}'>\n", xml_escape(libvirt_domain_type(spec.accel)));
  x += fmt::format("  <name>{}</name>\n", xml_escape(spec.name));
  x += fmt::format("  <maxMemory slots='{}' unit='KiB'>{}</maxMemory>\n", s.machine.slots, kib(s.machine.maxmem));
  x += fmt::format("  <memory unit='KiB'>{}</memory>\n", kib(total));
  x += fmt::format("  <vcpu placement='static'>{}</vcpu>\n", s.machine.smp);
  x += "  <os>\n";
  x += fmt::format("    <type arch='x86_64' machine='{}'>hvm</type>\n", xml_escape(libvirt_machine_type(s)));
  x += fmt::format("    <kernel>{}</kernel>\n", xml_escape(spec.kernel));
  if (!spec.initrd.empty()) x += fmt::format("    <initrd>{}</initrd>\n", xml_escape(spec.initrd));
  x += fmt::format("    <cmdline>{}</cmdline>\n", xml_escape(kernel_command_line(s, spec.extra_kernel_args)));
  x += "  </os>\n";
  // ACPI is what memory hot-plug and the guest's _OST answers go through (QEMU has it by default).
  x += "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n";
  if (s.machine.cpu == "max")
    x += "  <cpu mode='maximum' migratable='off'>\n";
  else
    x += fmt::format("  <cpu mode='custom' match='exact' check='none'>\n    <model fallback='forbid'>{}</model>\n",
                     xml_escape(s.machine.cpu));
  x += "    <numa>\n";
  for (const auto& n : s.nodes) {
    x += fmt::format("      <cell id='{}'", n.id);
    if (!n.cpus.empty()) x += fmt::format(" cpus='{}'", xml_escape(n.cpus));
    x += fmt::format(" memory='{}' unit='KiB'/>\n", kib(n.memory));
  }
  x += "    </numa>\n";
  x += "  </cpu>\n";
  // Like -no-reboot and panic=-1: a guest that stops or panics is gone, and the rig sees it.
  x += "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n  <on_crash>destroy</on_crash>\n";
  x += "  <devices>\n";
  // The serial console is a pty that the rig reads through virDomainOpenConsole (a stream over
  // the libvirt connection, so it works the same on another host); it is opened before the guest
  // runs, so no line is lost.
  x += "    <serial type='pty'>\n      <target port='0'/>\n    </serial>\n";
  x += "    <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n";
  // The agent's channel: libvirt connects to it itself (virDomainQemuAgentCommand) and picks the
  // socket's path on its own host unless one is given.
  x += "    <channel type='unix'>\n";
  if (!spec.qga_socket.empty())
    x += fmt::format("      <source mode='bind' path='{}'/>\n", xml_escape(spec.qga_socket));
  x += "      <target type='virtio' name='org.qemu.guest_agent.0'/>\n    </channel>\n";
  // Each device indented by four spaces.
  const auto indented = [](const std::string& dev) {
    std::string out;
    size_t start = 0;
    while (start < dev.size()) {
      const size_t end = dev.find('\n', start);
      out += "    " + dev.substr(start, end - start + 1);
      start = end + 1;
    }
    return out;
  };
  for (const auto& d : s.dimms)
    if (d.present) x += indented(dimm_device_xml(d, dimm_slot(s, d)));
  for (const auto& v : s.virtio_mems) x += indented(virtio_mem_device_xml(v, v.requested));
  // No defaults a bare QEMU run does not have either: no NIC, no graphics, no balloon, no USB.
  x += "    <controller type='usb' model='none'/>\n";
  x += "    <memballoon model='none'/>\n";
  x += "  </devices>\n";
  x += "</domain>\n";
  return x;
}

std::string storage_pool_xml(const std::string& name) {
  return fmt::format(
      "<pool type='dir'>\n  <name>{0}</name>\n  <target>\n    <path>/var/lib/libvirt/images/{0}</path>\n"
      "    <permissions>\n      <mode>0755</mode>\n    </permissions>\n  </target>\n</pool>\n",
      xml_escape(name));
}

std::string storage_volume_xml(const std::string& name, uint64_t bytes) {
  return fmt::format(
      "<volume>\n  <name>{}</name>\n  <capacity unit='bytes'>{}</capacity>\n  <target>\n    <format type='raw'/>\n"
      "    <permissions>\n      <mode>0644</mode>\n    </permissions>\n  </target>\n</volume>\n",
      xml_escape(name), bytes);
}

}  // namespace rig
