#include "rig/reproducer.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <boost/filesystem.hpp>
#include <fstream>

#include "rig/errors.h"
#include "rig/qemu_args.h"
#include "rig/qemu_machine.h"
#include "rig/scenario_runner.h"

namespace fs = boost::filesystem;

namespace rig {
namespace {

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string blocks(const Dimm& d) {
  auto [first, last] = dimm_blocks(d, kMemoryBlockSize);
  std::string out;
  for (uint64_t b = first; b <= last; ++b) out += fmt::format("{}{}", out.empty() ? "" : " ", b);
  return out;
}

}  // namespace

std::string reproducer_script(const Scenario& s, const std::string& kernel_release) {
  QemuLaunchSpec spec;
  spec.kernel = "$here/bzImage";
  spec.initrd = "$here/initramfs.cpio.gz";
  spec.qmp_socket = "$here/qmp.sock";
  spec.qga_socket = "$here/qga.sock";
  spec.serial = "mon:stdio";
  spec.paused = false;
  spec.extra_kernel_args = rig_kernel_args();
  spec.extra_kernel_args.push_back("rig.shell=1");
  std::vector<std::string> argv = qemu_argv(s, spec);
  argv[0] = "${QEMU:-qemu-system-x86_64}";
  std::string cmd;
  for (const auto& a : argv) {
    // $here and $QEMU expand; everything else is quoted as is.
    const bool expand = a.find("$here") != std::string::npos || a.rfind("${QEMU", 0) == 0;
    cmd += (cmd.empty() ? "" : " \\\n    ") + (expand ? "\"" + a + "\"" : sh_quote(a));
  }

  std::string steps;
  auto line = [&steps](const std::string& l) { steps += "  " + l + "\n"; };
  line("sleep \"$BOOT_WAIT\"   # boot to the guest shell");
  line("guest 'uname -r; cat /sys/devices/system/node/online'");
  line("guest 'cat /sys/kernel/debug/rig_probe/snapshot'");
  for (size_t i = 0; i < s.steps.size(); ++i) {
    const Step& st = s.steps[i];
    const Dimm* d = s.find_dimm(st.dimm);
    line(fmt::format("echo '# step {}: {} {}' >&2", i, step_action_name(st.action), d ? d->id : fmt::format("node{}", st.node)));
    switch (st.action) {
      case StepAction::Plug:
        line(fmt::format("monitor 'object_add memory-backend-ram,id={},size={}'", memory_backend_id(*d), d->size));
        line(fmt::format("monitor 'device_add pc-dimm,id={},memdev={},node={},addr={:#x}'", d->id, memory_backend_id(*d), d->node, d->addr));
        line("sleep \"$STEP_WAIT\"");
        break;
      case StepAction::Online:
        line(fmt::format("guest 'for b in {}; do echo {} > /sys/devices/system/memory/memory$b/state; cat /sys/devices/system/memory/memory$b/state; done'",
                         blocks(*d), st.zone));
        break;
      case StepAction::Unplug:
        line(fmt::format("guest 'cat /sys/kernel/debug/rig_probe/snapshot'"));
        line(fmt::format("monitor 'device_del {}'   # the scenario expects: {}", d->id, st.expect));
        line("sleep \"$STEP_WAIT\"");
        line("monitor 'info memory-devices'");
        line(fmt::format("guest 'echo {}-{} > /sys/kernel/debug/rig_probe/query; cat /sys/kernel/debug/rig_probe/query'", d->addr >> 12,
                         ((d->addr + d->size) >> 12) - 1));
        line("guest 'for n in /sys/devices/system/node/node*; do grep MemTotal $n/meminfo; done'");
        break;
      case StepAction::ExpectNode:
        line(fmt::format("guest 'ls -d /sys/devices/system/node/node{}   # expected: {}'", st.node, st.expect));
        break;
      case StepAction::ExpectDimm:
        line(fmt::format("monitor 'info memory-devices'   # {} expected: {}", d->id, st.expect));
        break;
    }
  }
  line("guest 'dmesg | tail -n 40'");
  line("monitor 'quit'");

  return fmt::format(R"SH(#!/bin/sh
# Reproducer for scenario '{scenario}' on kernel {release}, written by the rig.
# Needs only QEMU (qemu-system-x86_64) and a POSIX shell. Everything is in this directory.
#   ./run.sh                 run the steps, console and monitor output to the terminal and output.log
#   ./run.sh --interactive   boot and hand over the terminal: guest shell on the console,
#                            Ctrl-A c for the QEMU monitor, Ctrl-A x to quit
# BOOT_WAIT (default 45) and STEP_WAIT (default 20) are seconds; raise them on a slow host.
here=$(cd "$(dirname "$0")" && pwd)
BOOT_WAIT=${{BOOT_WAIT:-45}}
STEP_WAIT=${{STEP_WAIT:-20}}
rm -f "$here/qmp.sock" "$here/qga.sock"

run_qemu() {{
  {cmd}
}}

if [ "${{1:-}}" = "--interactive" ]; then
  echo "QMP: socat - UNIX-CONNECT:$here/qmp.sock   guest agent: socat - UNIX-CONNECT:$here/qga.sock"
  run_qemu
  exit $?
fi

# One stdin feeds both: guest shell lines go to the serial console; Ctrl-A c switches to the
# QEMU monitor and back.
guest() {{ printf '%s\n' "$1"; sleep 3; }}
monitor() {{ printf '\001c%s\n\001c' "$1"; sleep 2; }}
{{
{steps}}} | run_qemu 2>&1 | tee "$here/output.log"
)SH",
                     fmt::arg("scenario", s.name), fmt::arg("release", kernel_release), fmt::arg("cmd", cmd), fmt::arg("steps", steps));
}

std::string write_reproducer(const Scenario& s, const KernelImage& kernel, const std::string& initramfs, const std::string& dir,
                             const ScenarioResult* failure) {
  fs::create_directories(dir);
  boost::system::error_code ec;
  fs::copy_file(kernel.path, dir + "/bzImage", fs::copy_option::overwrite_if_exists, ec);
  if (ec) throw InfraError(fmt::format("reproducer: cannot copy {}: {}", kernel.path, ec.message()));
  fs::copy_file(initramfs, dir + "/initramfs.cpio.gz", fs::copy_option::overwrite_if_exists, ec);
  if (ec) throw InfraError(fmt::format("reproducer: cannot copy {}: {}", initramfs, ec.message()));
  {
    std::ofstream out(dir + "/run.sh");
    out << reproducer_script(s, kernel.release);
  }
  ::chmod((dir + "/run.sh").c_str(), 0755);
  std::ofstream readme(dir + "/README.md");
  readme << fmt::format("# Reproducer: {} on {}\n\n{}\n\n", s.name, kernel.release, s.description);
  if (failure) {
    readme << fmt::format("## What failed\n\nVerdict **{}**: {}\n\n", verdict_name(failure->verdict), failure->reason);
    for (const auto& c : failure->checks)
      if (!c.ok) readme << fmt::format("- case {} `{}` (step {}): {}\n", c.case_no, c.name, c.step, c.detail);
    for (const auto& st : failure->steps)
      if (!st.ok) readme << fmt::format("- step {} {} {}: expected {}, got {}: {}\n", st.index, st.action, st.target, st.expected, st.outcome, st.detail);
    readme << fmt::format("\nThe rig's own artifacts of that run: `{}`.\n\n", failure->artifacts);
  }
  readme << "## Run it\n\n    ./run.sh                 # the steps, then quit; output in output.log\n"
            "    ./run.sh --interactive   # guest shell on the terminal; Ctrl-A c: QEMU monitor\n\n"
            "Only QEMU (`qemu-system-x86_64`, or set `QEMU=`) and `sh` are needed. Raise `BOOT_WAIT` / `STEP_WAIT` on a slow host.\n\n"
            "## What to look at\n\n"
            "- `info memory-devices` after each `device_del`: a DIMM that is still listed was not removed.\n"
            "- The kernel log: `memory memoryN: Offline failed.` and `page dumped because: unmovable page` mean the\n"
            "  guest refused (the page it names is what blocked the offline); Oops, BUG, WARNING or `Bad page state` are kernel bugs.\n"
            "- The probe (`/sys/kernel/debug/rig_probe/snapshot`, format in the rig's docs/probe-format.md): where each\n"
            "  section's memmap lives and the state of every bootmem page; `query` after the removal shows what became of them.\n";
  return dir;
}

}  // namespace rig
