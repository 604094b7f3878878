// The names of a run's artifact files, defined once: the probe session and the runner write
// them, the HTML report reads them back (report/html_report_model.cc), so both use these.
#pragma once

#include <string>

namespace rig::artifact {

inline const std::string kResult = "result.json";
inline const std::string kConsole = "console.log";
inline const std::string kSnapshotBoot = "snapshot-boot.txt";

// The probe's snapshot before an unplug step, and after a plug that reused a node.
inline std::string snapshot_before(int step) { return "snapshot-before-step" + std::to_string(step) + ".txt"; }
inline std::string snapshot_after(int step) { return "snapshot-after-step" + std::to_string(step) + ".txt"; }
// The probe's query after an unplug, and its re-reads of pages that looked lost (again = 1, 2, ...).
inline std::string query_after(int step) { return "query-after-step" + std::to_string(step) + ".txt"; }
inline std::string query_reread(int step, int again) {
  return "query-after-step" + std::to_string(step) + "-reread" + std::to_string(again) + ".txt";
}
// The page frees the guest's kernel traced during an unplug step (rig-probe frees stop).
inline std::string frees_after(int step) { return "frees-step" + std::to_string(step) + ".txt"; }
// Every memory counter and listing the kernel shows user space, around an unplug or plug step.
inline std::string counters_before(int step) { return "counters-before-step" + std::to_string(step) + ".txt"; }
inline std::string counters_after(int step) { return "counters-after-step" + std::to_string(step) + ".txt"; }
// The guest's meminfo, zoneinfo, vmstat and memory-block states around an unplug.
inline std::string guest_state_before(int step) { return "guest-state-before-step" + std::to_string(step) + ".txt"; }
inline std::string guest_state_after(int step) { return "guest-state-after-step" + std::to_string(step) + ".txt"; }

// What the report reads of a run folder: names starting with one of these and ending in ".txt".
inline bool read_by_report(const std::string& name) {
  const auto starts = [&](const char* p) { return name.rfind(p, 0) == 0; };
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".txt") == 0 &&
         (starts("snapshot-") || starts("query-after-") || starts("guest-state-") || starts("frees-step"));
}

}  // namespace rig::artifact
