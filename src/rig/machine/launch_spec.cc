#include "rig/machine/launch_spec.h"

#include <fmt/format.h>

#include "rig/base/size.h"

namespace rig {

// The page-free trace event (rig-probe frees, docs/probe-format.md) is enabled on the command
// line, while only the boot CPU runs: enabling a tracepoint later patches kernel text on a live
// SMP guest (text_poke_bp), which under TCG gave int3 Oopses, RCU stalls and soft lockups in CI.
// Its buffer is sized there too, so that its memory is never charged to a step.
std::vector<std::string> rig_kernel_args() {
  return {"console=ttyS0", "panic=-1", "trace_event=kmem:mm_page_free", "trace_buf_size=4M"};
}

LaunchSpec launch_spec(const GuestBoot& boot, const std::vector<std::string>& extra_kernel_args) {
  LaunchSpec spec;
  spec.accel = boot.accel;
  spec.kernel = boot.kernel_path;
  spec.initrd = boot.initrd;
  spec.extra_kernel_args = rig_kernel_args();
  spec.extra_kernel_args.insert(spec.extra_kernel_args.end(), extra_kernel_args.begin(), extra_kernel_args.end());
  spec.console_log = boot.run_dir + "/console.log";
  spec.qmp_socket = "qmp.sock";
  spec.qga_socket = "qga.sock";
  return spec;
}

std::string kernel_command_line(const Scenario& s, const std::vector<std::string>& extra) {
  std::vector<std::string> args;
  for (const auto& d : s.dimms)
    if (d.boot) args.push_back(fmt::format("memmap={}@{}", format_size(d.size), format_hex(d.addr)));
  args.insert(args.end(), s.machine.kernel_args.begin(), s.machine.kernel_args.end());
  args.insert(args.end(), extra.begin(), extra.end());
  std::string out;
  for (const auto& a : args) out += (out.empty() ? "" : " ") + a;
  return out;
}

}  // namespace rig
