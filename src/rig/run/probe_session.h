// The spec checks of one scenario run: what the probe saw at boot, before and after each unplug
// and after a plug, turned into raw check records. It does not judge: xfail entries, n/a and the
// verdict are judge()'s business (judge.h). The checks' author edits this file; the runner
// (scenario_runner.cc) only calls it.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "rig/spec/case_checks.h"
#include "rig/spec/guest_counters.h"
#include "rig/spec/page_accounting.h"
#include "rig/run/guest_memory.h"
#include "rig/machine/machine.h"
#include "rig/scenario/results.h"
#include "rig/scenario/scenario.h"

namespace rig {

// A spec check as a raw record: status is left for judge() to decide.
CheckRecord raw_check_record(int step, const CaseCheck& c);

class ProbeSession {
 public:
  // How often pages that look lost after a removal are read again before they count as lost.
  static constexpr int kSettleReads = 3;
  // Checks are appended to `checks`, probe artifacts written to `artifacts_dir`. Every guest
  // command waits at most `timeouts.guest_cmd`.
  ProbeSession(Machine& m, const Timeouts& timeouts, std::string artifacts_dir, std::vector<CheckRecord>& checks,
               std::function<void(const std::string&)> progress);

  // The boot-time tags. Returns the probe's raw snapshot (saved with a ready guest).
  std::string at_boot();
  // The same, for a guest restored from a snapshot: `raw` is the snapshot the probe took when that
  // guest was booted (the guest's memory is as it was then, so it is still the boot state).
  void at_boot_restored(const std::string& raw);
  // Empty when the kernel has bootmem info; else why the tag checks judge nothing (read from the
  // boot snapshot: encoding none).
  std::string no_tags() const;
  // Seconds spent reading the guest and judging pages so far.
  double seconds() const { return seconds_; }
  // Snapshot before unplugging `d` in step `step`; adds the case analysis to `r`.
  void before_unplug(int step, const Dimm& d, StepResult& r);
  // The page-exact checks after the unplug ended in `outcome`.
  void after_unplug(int step, const Dimm& d, UnplugResult outcome);
  // The counters before plugging `d` in step `step`.
  void before_plug(int step, const Dimm& d);
  // After the plug was acknowledged: the counters once the guest lists every memory block of
  // `d` (read again every `timeouts.poll`, for at most `timeout_s`; blocks that never came fail
  // counters-memory-blocks with what was seen), judged against the reading before; case 5:
  // memory returning to a node whose pgdat was tagged at boot.
  void after_plug(int step, const Dimm& d, double timeout_s);
  // Before resizing virtio-mem device `v` to `size` bytes: a shrink is read as before_unplug
  // reads a DIMM (the whole device range is left out of the free trace); a grow reads nothing.
  void before_resize(int step, const VirtioMem& v, uint64_t size);
  // After it (docs/virtio-mem.md): the memory blocks a shrink removed (the driver picks them:
  // those of the device listed before and not after) are judged page by page as a DIMM's
  // removal; a shrink that removed no block as pages unchanged and MemTotal down by what the
  // device unplugged; a grow of a node whose memory had gone as after_plug.
  void after_resize(int step, const VirtioMem& v, const ResizeOutcome& o, StepResult& r);

 private:
  // The state before removing [first_pfn, first_pfn + pfn_count): snapshot, MemTotals, counters,
  // and the free trace started with the range left out.
  void read_before(int step, uint64_t first_pfn, uint64_t pfn_count);
  // The pages of the snapshot before and of [first_pfn, first_pfn + pfn_count) now. Pages that
  // look lost against `settle` are read again (kSettleReads); then the step's free trace is read.
  std::map<uint64_t, PageState> read_pages_after(int step, uint64_t first_pfn, uint64_t pfn_count,
                                                 const std::vector<PageExpectation>* settle);
  // The case analysis of analysis_ as the step's analysis lines.
  void add_analysis(StepResult& r);
  void pgdat_back(int step, int node);
  void setup_free_trace();
  GuestCounters read_counters(const std::string& name);
  void record(int step, const CaseCheck& c);
  void boot_tags(const std::string& raw, const MemmapSnapshot& snap);
  // Writes an artifact; throws InfraError when the write fails.
  void save(const std::string& name, const std::string& text);
  void save_guest_state(const std::string& name);

  Machine& m_;
  Timeouts timeouts_;
  std::string dir_;
  std::vector<CheckRecord>& checks_;
  std::function<void(const std::string&)> progress_;
  MemmapSnapshot boot_, before_;
  NodeMemTotals mem_before_;
  GuestCounters counters_before_;
  RemovalAnalysis analysis_;
  size_t console_lines_ = 0;
  std::set<int> gone_nodes_;
  std::string no_trace_;                       // why the guest cannot trace page frees (empty: it can)
  bool step_traced_ = false;                   // this unplug step's trace was started
  bool shrinking_ = false;                     // the resize step under way shrinks its device
  std::map<std::string, uint64_t> requested_;  // virtio-mem id -> the size last requested
  std::set<std::string> unfinished_;           // virtio-mem ids whose last shrink ended partial
  bool after_partial_ = false;                 // the resize under way follows a partial shrink
  double seconds_ = 0;
};

}  // namespace rig
