// One launch specification for every backend: what a guest is started from (kernel, initramfs,
// accelerator, kernel command line, console, sockets, a saved state to load). QEMU's command line
// (qemu_args.h) and libvirt's domain XML (libvirt_xml.h) are both drawn from it beside the
// Scenario, which keeps the topology (machine type, CPU model, NUMA nodes, DIMMs). Pure.
#pragma once

#include <string>
#include <vector>

#include "rig/machine/machine.h"
#include "rig/scenario/scenario.h"

namespace rig {

struct LaunchSpec {
  std::string qemu_binary = "qemu-system-x86_64";
  std::string accel = "tcg";  // "kvm" or "tcg" (libvirt: <domain type='kvm'> or 'qemu')
  std::string kernel;
  std::string initrd;  // empty: none
  // After memmap= and the scenario's own arguments: the rig's (rig_kernel_args()), then the caller's.
  std::vector<std::string> extra_kernel_args;
  // Where the serial console goes: a file the rig reads (`console_log`, appended to when
  // `console_append`: a restored guest's boot is already in it), or "mon:stdio" for a person
  // (console and monitor multiplexed on the terminal, Ctrl-A c switches). libvirt: always a pty
  // the rig reads over the connection.
  std::string serial = "file";
  std::string console_log;
  bool console_append = false;
  std::string qmp_socket;  // QEMU backend only: libvirt owns the monitor
  // The agent's channel; libvirt: empty, libvirt picks the path on its host and connects itself.
  std::string qga_socket;
  std::string incoming;  // "exec:cat FILE" (or "defer") to load a saved guest instead of booting
  bool paused = true;    // -S: the rig connects QMP, then sends "cont"
};

// Kernel arguments every rig guest gets: the console on the serial port, and a panic that ends
// QEMU at once (with -no-reboot or on_reboot=destroy) so it is reported as a crash, never as a
// timeout.
std::vector<std::string> rig_kernel_args();

// The launch of `boot` (its kernel, initramfs and accelerator), started paused: the rig's kernel
// arguments and then `extra_kernel_args`; the console in `boot.run_dir`/console.log; the sockets
// qmp.sock and qga.sock relative to the run directory, where QEMU runs.
LaunchSpec launch_spec(const GuestBoot& boot, const std::vector<std::string>& extra_kernel_args = {});

// memmap=SIZE@ADDR for each boot DIMM, then the scenario's own arguments, then `extra`.
std::string kernel_command_line(const Scenario& s, const std::vector<std::string>& extra);

}  // namespace rig
