// The machine layer: one interface for a guest the rig drives, whatever runs it: QEMU
// (qemu_machine.h) or libvirt (libvirt_machine.h). Nothing above this interface
// speaks QMP or builds a command line, and nothing assumes the rig booted the guest itself.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "rig/base/clock.h"
#include "rig/base/timeouts.h"
#include "rig/machine/console_parser.h"
#include "rig/machine/qmp/guest_agent.h"
#include "rig/scenario/scenario.h"

namespace rig {

// What every backend boots: the scenario's machine, the kernel and guest image, where the run's
// files go and how long each wait may take.
struct GuestBoot {
  Scenario scenario;
  std::string kernel_path;
  std::string kernel_release;
  std::string initrd;
  std::string accel = "tcg";  // kvm or tcg (libvirt: <domain type='kvm'> or 'qemu')
  std::string run_dir;        // exists, mode 0700; the machine writes its sockets, console and logs here
  Timeouts timeouts;
};

// The guest stopped being a guest: it crashed (panic, QEMU exited), hung, or the rig lost it.
class GuestDown : public std::runtime_error {
 public:
  // Crashed: panic or QEMU ended by the kernel; Reported: the kernel printed a report (BUG, Oops,
  // a hung task, a soft lockup) and the step was ended at once; Hung: silent and not answering;
  // Exited: QEMU went away (killed, QMP closed).
  enum class Kind { Crashed, Reported, Hung, Exited };
  GuestDown(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

enum class UnplugResult { Removed, Refused, Timeout };
const char* unplug_result_name(UnplugResult r);

struct UnplugOutcome {
  UnplugResult result = UnplugResult::Timeout;
  int ost_status = -1;  // last _OST status the guest reported, -1 if none
  std::string detail;
};

// What a virtio-mem resize came to once its wait was over: the device's size reached the
// requested size, moved towards it without reaching it, or did not move at all.
enum class ResizeResult { Reached, Partial, Refused };
const char* resize_result_name(ResizeResult r);  // "reached", "partial", "refused"

struct ResizeOutcome {
  ResizeResult result = ResizeResult::Refused;
  uint64_t requested = 0;
  uint64_t before = 0;  // the device's size (QOM `size`) before requested-size was set
  uint64_t after = 0;   // and when the wait ended
  bool timed_out = false;
  double seconds = 0;  // from setting requested-size to the end of the wait
  std::string detail;
};

// Pure: the result of a resize whose wait ended with the device at `after` bytes (`timed_out`:
// the step's time ran out first). Reached when after == requested, whatever the clock said;
// otherwise partial when the size moved at all (before != after), refused when it did not.
ResizeResult resize_result(uint64_t requested, uint64_t before, uint64_t after, bool timed_out);
// Pure: `o` in words for the step's detail ("size 256M of the requested 512M (was 0) after 60.0 s").
std::string resize_detail(const ResizeOutcome& o);

// A backend's hands on a virtio-mem device, for the one wait every backend runs (run_resize).
struct ResizeIo {
  std::function<uint64_t()> size_now;              // the device's plugged size (QOM `size`)
  std::function<void(uint64_t)> set_requested;     // QOM `requested-size`
  std::function<void(Deadline)> wait_size_change;  // until the device's MEMORY_DEVICE_SIZE_CHANGE or then
  std::function<void()> check_alive;               // throws GuestDown when the guest is gone
};
// Reads the size, sets `requested`, then reads the size after each size-change event and at
// least every `poll` seconds until it is `requested` or `by` passed: bounded, whatever the guest
// does. QEMU throttles the event to about one a second, so the event only wakes the wait early.
ResizeOutcome run_resize(const ResizeIo& io, uint64_t requested, Deadline by, double poll);

struct PlugOutcome {
  bool added = false;
  int ost_status = -1;
  std::string detail;
};

struct MemoryDevice {
  std::string id;
  uint64_t addr = 0;
  uint64_t size = 0;
  int node = -1;
};

// What the runner set up in a guest before its first step (the probe's boot-time snapshot). A
// backend that saves ready guests keeps it beside the guest's state and hands it back on restore.
struct ReadyState {
  std::string probe_snapshot;  // raw text of the probe's boot-time snapshot; empty: no probe
};

// What save_ready did, for the result: saved the ready guest, tried and could not (the run goes on
// without a snapshot), or had nothing to do (no cache, a restored guest, already saved).
struct SaveOutcome {
  enum class Kind { Nothing, Saved, NotSaved };
  Kind kind = Kind::Nothing;
  std::string dir;         // Saved: the snapshot's directory in the cache
  std::string state_file;  // Saved: the guest's state in it (StartInfo::snapshot of later restores)
  std::string reason;      // NotSaved: why
};

// How the guest got to the point where its agent answers.
struct StartInfo {
  bool restored = false;
  std::string snapshot;  // restored: the snapshot file it came from; booted: the one saved, if any
  std::string key;       // the snapshot key (kernel, topology, guest image, QEMU version)
  std::string fallback;  // why a cached snapshot was not used (missing, stale, refused); empty if none
  std::string note;      // a boot that had to be repeated, and why; empty if none
  ReadyState ready;      // restored: what the runner saved with it
  double seconds = 0;    // boot or restore time
};

struct MachineInfo {
  std::string backend;  // "qemu"
  std::string accel;    // "kvm" or "tcg"
  std::string cpu;
  std::string kernel_release;
  std::string command_line;  // how to start it again by hand
};

// What every backend does with its console, whatever carries it.
//
// Throws GuestDown(Reported) for the first kernel report past `seen` after which the guest
// cannot be trusted to finish the step (BUG, Oops, KASAN, a soft lockup, a hung task, an RCU
// stall), after `read_more` has had `t.report_settle` to bring in the rest of the report.
void throw_on_step_ending_report(const ConsoleParser& console, size_t& seen, const Timeouts& t,
                                 const std::function<void()>& read_more);
// The guest is gone: Crashed with the console's crash headline if it has one, else Exited with
// `otherwise`.
[[noreturn]] void throw_guest_gone(const ConsoleParser& console, const std::string& otherwise);
// The no-output watchdog: after `watchdog_s` of silence since `last`, asks `answers` (the agent)
// before calling it a hang; a hang runs `on_hang` (mark down, save evidence) and throws Hung.
void check_watchdog(Clock::time_point last, double watchdog_s, const std::function<bool()>& answers,
                    const std::function<void()>& on_hang);
// Pure: whether a cold boot that ended in `kind` is booted once more. Only under TCG, whose
// multi-threaded translation has crashed, hung and soft-locked these kernels at boot about once
// in a hundred boots (docs/performance.md), and only when the kernel never got to run /init
// (`console` is the boot's console text): a crash, report or hang the guest's own userspace
// meets, QEMU going away, and anything under KVM, is the result. A boot that fails the same way
// twice is reported.
bool boot_again_under_tcg(const std::string& accel, GuestDown::Kind kind, const std::string& console);

// Every backend's cold boot: runs `boot`; when it ends in GuestDown and boot_again_under_tcg says
// so (the console read from `console_path`), runs `forget_first` (the backend stops the first
// guest and keeps its files as boot1-*) and `boot` once more, whose failure is the result.
// Returns what StartInfo::note says about it: empty when the first boot came up.
std::string boot_once_more_under_tcg(const std::string& accel, const std::string& console_path,
                                     const std::function<void()>& boot, const std::function<void()>& forget_first);

// The last `lines` lines of the console log at `console_path`, written to `out_path`.
void write_console_tail(const std::string& console_path, const std::string& out_path, size_t lines = 200);

class Machine {
 public:
  virtual ~Machine() = default;

  // Brings the guest to the point where its agent answers. Throws GuestDown (the kernel
  // crashed or hung on the way) or InfraError (the backend could not start).
  virtual StartInfo start() = 0;
  // Called once the runner's ready state is taken (booted guests only). A backend with a snapshot
  // cache saves the guest and `ready` now; returns what it did (for the record), never throws for
  // a cache problem (the run goes on without a snapshot).
  virtual SaveOutcome save_ready(const ReadyState& ready) {
    (void)ready;
    return {};
  }
  virtual PlugOutcome plug_dimm(const Dimm& d, double timeout_s) = 0;
  virtual UnplugOutcome unplug_dimm(const Dimm& d, double timeout_s) = 0;
  // Sets a virtio-mem device's requested size and waits, at most `timeout_s`, for its size to
  // follow. A backend that cannot throws InfraError (the scenario should have been skipped).
  virtual ResizeOutcome resize_virtio_mem(const VirtioMem& v, uint64_t requested, double timeout_s);
  virtual std::vector<MemoryDevice> memory_devices() = 0;
  virtual GuestExecResult guest_exec(const std::string& script, double timeout_s) = 0;
  virtual std::string guest_read_file(const std::string& path) = 0;
  // Reads pending console output and events; throws GuestDown if the guest died or hung.
  virtual void check_alive() = 0;
  virtual const ConsoleParser& console() const = 0;
  virtual MachineInfo info() const = 0;
  // Stops the guest and releases everything; safe to call twice and after a crash.
  virtual void shutdown() = 0;
};

}  // namespace rig
