#include "rig/machine/machine.h"

#include <fmt/format.h>

#include <deque>
#include <fstream>
#include <thread>

#include "rig/base/clock.h"

namespace rig {

const char* unplug_result_name(UnplugResult r) {
  switch (r) {
    case UnplugResult::Removed: return "removed";
    case UnplugResult::Refused: return "refused";
    case UnplugResult::Timeout: return "timeout";
  }
  return "?";
}

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

namespace {
// Reports after which the guest cannot be trusted to finish the step: waiting for the step's
// timeout would only hide the report behind "timeout".
bool ends_step(const std::string& kind) {
  return kind == "bug" || kind == "oops" || kind == "kasan" || kind == "soft-lockup" || kind == "hung-task" ||
         kind == "rcu-stall";
}
}  // namespace

void throw_on_step_ending_report(const ConsoleParser& console, size_t& seen, const std::function<void()>& read_more) {
  for (; seen < console.findings().size(); ++seen) {
    if (!ends_step(console.findings()[seen].kind)) continue;
    // Let the report finish (its trace follows the headline) before the run ends.
    const Deadline by = deadline_in(2);
    while (Clock::now() < by) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
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
