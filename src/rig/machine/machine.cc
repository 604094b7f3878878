#include "rig/machine/machine.h"

#include <fmt/format.h>

#include <deque>
#include <fstream>

#include "rig/base/clock.h"
#include "rig/base/errors.h"
#include "rig/base/paths.h"
#include "rig/base/size.h"

namespace rig {

const char* resize_result_name(ResizeResult r) {
  switch (r) {
    case ResizeResult::Reached: return "reached";
    case ResizeResult::Partial: return "partial";
    case ResizeResult::Refused: return "refused";
  }
  return "?";
}

ResizeResult resize_result(uint64_t requested, uint64_t before, uint64_t after, bool timed_out) {
  (void)timed_out;  // the sizes decide; a wait ends early only once the size is the one requested
  if (after == requested) return ResizeResult::Reached;
  return after == before ? ResizeResult::Refused : ResizeResult::Partial;
}

std::string resize_detail(const ResizeOutcome& o) {
  if (o.result == ResizeResult::Reached)
    return fmt::format("size {} as requested (was {}) after {:.1f} s", format_size(o.after), format_size(o.before),
                       o.seconds);
  return fmt::format("size {} of the requested {} (was {}) {} {:.1f} s", format_size(o.after), format_size(o.requested),
                     format_size(o.before), o.timed_out ? "when the wait ended after" : "after", o.seconds);
}

ResizeOutcome run_resize(const ResizeIo& io, uint64_t requested, Deadline by, double poll) {
  io.check_alive();
  ResizeOutcome out;
  out.requested = requested;
  out.before = io.size_now();
  const auto started = Clock::now();
  io.set_requested(requested);
  for (;;) {
    io.check_alive();
    out.after = io.size_now();
    if (out.after == requested) break;
    if (Clock::now() >= by) {
      out.timed_out = true;
      break;
    }
    io.wait_size_change(std::min(by, deadline_in(poll)));
  }
  out.seconds = seconds_since(started);
  out.result = resize_result(requested, out.before, out.after, out.timed_out);
  out.detail = resize_detail(out);
  return out;
}

ResizeOutcome Machine::resize_virtio_mem(const VirtioMem& v, uint64_t requested, double timeout_s) {
  (void)requested;
  (void)timeout_s;
  throw InfraError(fmt::format("virtio-mem device {}: this backend cannot resize virtio-mem devices", v.id));
}

const char* unplug_result_name(UnplugResult r) {
  switch (r) {
    case UnplugResult::Removed: return "removed";
    case UnplugResult::Refused: return "refused";
    case UnplugResult::Timeout: return "timeout";
  }
  return "?";
}

namespace {
// Reports after which the guest cannot be trusted to finish the step: waiting for the step's
// timeout would only hide the report behind "timeout".
bool ends_step(const std::string& kind) {
  return kind == "bug" || kind == "oops" || kind == "kasan" || kind == "soft-lockup" || kind == "hung-task" ||
         kind == "rcu-stall";
}
}  // namespace

void throw_on_step_ending_report(const ConsoleParser& console, size_t& seen, const Timeouts& t,
                                 const std::function<void()>& read_more) {
  for (; seen < console.findings().size(); ++seen) {
    if (!ends_step(console.findings()[seen].kind)) continue;
    // Let the report finish (its trace follows the headline) before the run ends.
    const Deadline by = deadline_in(t.report_settle);
    while (Clock::now() < by) {
      pause_for(t.report_poll);
      read_more();
    }
    const ConsoleFinding f = console.findings()[seen++];
    throw GuestDown(GuestDown::Kind::Reported,
                    fmt::format("kernel reported {} (console line {}): {}", f.kind, f.line_no, f.headline));
  }
}

void throw_guest_gone(const ConsoleParser& console, const std::string& otherwise) {
  for (const auto& f : console.findings())
    if (f.severity == Severity::Crash)
      throw GuestDown(GuestDown::Kind::Crashed,
                      fmt::format("kernel crashed: {} (console line {})", f.headline, f.line_no));
  throw GuestDown(GuestDown::Kind::Exited, otherwise);
}

void check_watchdog(Clock::time_point last, double watchdog_s, const std::function<bool()>& answers,
                    const std::function<void()>& on_hang) {
  if (seconds_since(last) <= watchdog_s) return;
  // Silence alone is not a hang: ask the agent before calling it one.
  if (answers()) return;
  on_hang();
  throw GuestDown(
      GuestDown::Kind::Hung,
      fmt::format(
          "no console output and no answer from the guest for {:.0f} s (evidence: hang-*.txt in the run directory)",
          watchdog_s));
}

bool boot_again_under_tcg(const std::string& accel, GuestDown::Kind kind, const std::string& console) {
  if (accel != "tcg") return false;
  if (kind == GuestDown::Kind::Exited) return false;  // QEMU itself went away: not the guest's boot
  // "Run /init as init process": from there on, what the guest does is part of the result.
  return console.find(" as init process") == std::string::npos;
}

std::string boot_once_more_under_tcg(const std::string& accel, const std::string& console_path,
                                     const std::function<void()>& boot, const std::function<void()>& forget_first) {
  try {
    boot();
    return "";
  } catch (const GuestDown& d) {
    if (!boot_again_under_tcg(accel, d.kind(), read_text_file(console_path))) throw;
    const std::string note = fmt::format(
        "the first boot under TCG ended before /init ran ({}); its files are boot1-* in the run directory; booted "
        "again",
        d.what());
    forget_first();
    boot();
    return note;
  }
}

void write_console_tail(const std::string& console_path, const std::string& out_path, size_t lines) {
  std::ifstream in(console_path);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::ofstream out(out_path);
  for (const auto& l : tail) out << l << "\n";
}

}  // namespace rig
