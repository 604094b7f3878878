// The timeouts table: every wait and pause in the rig, in seconds, named here and nowhere else
// (tests/unit/timeouts_test.cc fails on a literal duration anywhere else in src/rig/). Sized for
// emulation: TCG is 10-50x slower than KVM. A run's table travels in GuestBoot and RunOptions (the
// CLI sets `boot` and `step`); code below the machine layer (host processes, sockets, the guest
// agent) uses the defaults, default_timeouts().
#pragma once

namespace rig {

struct Timeouts {
  // What a run may change (rig run --boot-timeout, --step-timeout).
  double boot = 180;      // QEMU start to a guest agent that answers
  double step = 120;      // one plug or unplug, unless the step sets its own
  double guest_cmd = 60;  // one command through the guest agent
  double shutdown = 15;   // QMP quit to process exit, before SIGTERM
  double watchdog = 90;   // no console output, no QMP or agent answer: the guest is hung
  double poll = 0.2;      // pause between two looks at something the guest does asynchronously

  // The machine layer (both backends).
  double qmp_command = 10;   // one QMP command that QEMU answers at once (cont, stop, query-*)
  double event_slice = 0.5;  // one wait for a QMP or libvirt event between two liveness checks
  double report_settle = 2;  // a kernel report's trace to follow its headline
  double report_poll = 0.1;  // between two console reads while a report settles
  double watchdog_ask = 10;  // the agent's answer that tells a silent guest from a hung one
  double panic_exit = 5;     // a panicked guest's QEMU (or domain) to end
  double min_guest_cmd = 1;  // the least time a guest command gets when a step is almost over
  double cycle_settle = 2;   // between two reads of free memory that no cycle gave back

  // The QEMU backend.
  double qemu_sockets = 20;      // QEMU start to its QMP and agent sockets
  double agent_sync = 2;         // one guest-sync attempt while the agent comes up
  double exit_grace = 3;         // QEMU closes its sockets a moment before it exits
  double restore = 60;           // loading a snapshot (at most `boot`)
  double restored_agent = 30;    // a restored guest's agent to answer (at most `boot`)
  double migration_poll = 0.05;  // between two looks at a migration (at most `poll`)
  double quit = 5;               // QEMU's answer to quit (the wait for its exit is `shutdown`)
  double terminate = 5;          // SIGTERM to SIGKILL
  double hang_status = 5;        // query-status of a hung guest, for the evidence
  double hang_dump = 120;        // dump-guest-memory of a hung guest

  // The libvirt backend.
  double libvirt_agent_ping = 5;   // one guest-ping while the agent comes up
  double libvirt_boot_poll = 0.5;  // between two guest-pings while the agent comes up
  double libvirt_monitor = 30;     // QEMU's monitor to answer through libvirt (which has no limit)
  double console_end = 2;          // the console's last bytes (or the domain's end) once it ended
  double refusal_settle = 3;       // libvirt's device-removal-failed after a refusing _OST
  int libvirt_keepalive = 5;       // keepalive interval, whole seconds (3 unanswered: gone)
  double event_loop_retry = 0.1;   // libvirt's event loop after an error

  // Below the machine layer (default_timeouts()).
  double channel_poll_slice = 1.0;   // the longest single poll() on a QMP or agent socket within a wait
  double fast_poll = 0.02;           // a socket QEMU has not made yet, a process that has not exited yet
  double kill_wait = 10;             // a SIGKILLed process group to be reaped
  double agent_resend = 3;           // a guest-sync request the agent has not answered is sent again
  double agent_exec_poll = 0.005;    // the first pause between two guest-exec-status calls, doubled
  double agent_exec_poll_max = 0.1;  // ... up to this
  double kvm_probe = 15;             // a KVM test guest's first kernel line
  double kvm_probe_poll = 0.1;       // between two looks at its console
  double slot_poll_min = 0.1;        // between two tries for host cores (drawn in [min, max])
  double slot_poll_max = 0.3;
  double capacity_poll = 0.5;           // the suite's look at whether the next guest fits the host
  double debian_index_max_age = 86400;  // the rig's copy of the Debian archive's index is read again after

  // The application layer.
  double progress_tick = 0.25;  // between two redraws of the live progress lines
};

inline const Timeouts& default_timeouts() {
  static const Timeouts t;
  return t;
}

}  // namespace rig
