// What a run produced: plain values that the reporters turn into JSON, tables and, later, JUnit.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rig/scenario/console_finding.h"
#include "rig/scenario/scenario.h"

namespace rig {

struct StepResult {
  int index = 0;
  int cycle = 1;
  std::string action;    // "plug", "unplug", ...
  std::string target;    // DIMM id or "node1"
  std::string expected;  // what the scenario asked for
  std::string outcome;   // what happened: "removed", "refused", "timeout", "added", "online", ...
  bool ok = false;
  std::string detail;
  double duration_s = 0;
  std::vector<std::string> analysis;  // unplug: the case of each departing section, removal order
  // Unplug and expect-dimm: whether QEMU's query-memory-devices listed the DIMM after the step
  // (typed, for the reproducer; `detail` says it in words). Unset when QEMU was not asked.
  std::optional<bool> qemu_lists;
};

// What became of one check. Only pass, fail, xfail and xpass count as coverage: an n/a check
// could not have failed in that run.
enum class CheckStatus { Pass, Fail, XFail, XPass, NotApplicable };
const char* check_status_name(CheckStatus s);  // "pass", "fail", "xfail", "xpass", "n/a"

// One page a failed check names (see case_checks.h OffendingPage).
struct CheckPage {
  uint64_t pfn = 0;
  std::string roles, expected, seen;
  // What a reproducer's probe query must show of the page for the failure to count as seen again
  // (probe_evidence() in spec/page_accounting.h, from the typed page state); empty: nothing to
  // compare. Not in the results JSON: the reproducer is written from the run's own result.
  std::string evidence;
};

// One spec check, as a result. The probe session records it raw (ok, applicable, pages); judge()
// sets `status`, and for a known kernel failure `xfail` and `evidence` (judge.h).
struct CheckRecord {
  int step = -1;  // -1: at boot
  int case_no = 0;
  std::string name;
  bool ok = false;
  std::string detail;
  bool xfail = false;    // status == XFail (kept for readers of older reports)
  std::string evidence;  // XFail and XPass: the entry's write-up
  std::string finding;   // failed or xfail: its entry in rig/findings/ ("new": none); report/findings.h
  bool applicable = true;
  CheckStatus status = CheckStatus::Pass;
  std::vector<CheckPage> pages;  // offending pages of a failed check
};

// xpass: every check that ran passed, but an xfail entry for this kernel names a check that
// passed: the entry is stale. Exit status 0, like pass, but counted and printed.
enum class Verdict { Pass, Fail, Error, Skip, XFail, XPass };
const char* verdict_name(Verdict v);

// Time spent in one phase of a run: "boot" or "restore", "probe" (guest reads and page
// judging), "steps" (plug/unplug and the rest, without the probe), "save" (a snapshot),
// "teardown", "judge".
struct Phase {
  std::string name;
  double seconds = 0;
};

struct ScenarioResult {
  std::string scenario;
  std::string scenario_path;
  std::string kernel;       // release string
  std::string kernel_name;  // as given on the command line
  std::string kernel_path;
  Verdict verdict = Verdict::Error;
  std::string reason;  // one line: why it is not a pass
  double duration_s = 0;
  double boot_s = 0;
  std::string backend;  // "qemu" or "libvirt"
  std::string accel;
  std::string cpu;
  std::vector<int> cases;
  std::vector<StepResult> steps;
  std::vector<CheckRecord> checks;
  std::vector<int> cases_covered;         // spec cases with a check that could fail (pass, fail, xfail, xpass)
  std::vector<int> cases_not_applicable;  // spec cases whose checks were all n/a
  // Declared cases no check could fail on, excused by the scenario's [not_exercised]: case, why.
  std::map<int, std::string> cases_not_exercised;
  std::vector<ExpectedFailure> xpass;  // xfail entries whose check ran and passed
  std::vector<ConsoleFinding> console_findings;
  std::string artifacts;
  std::string reproducer;  // failed runs: a self-contained reproducer directory
  int run = 1;             // which run of the scenario on this kernel (--repeat)
  std::string started;     // when the run began, UTC ISO 8601 ("2026-12-03T17:05:12Z"); "" if older
  std::string start;       // "boot" or "restore" ("" when the guest never started)
  std::string snapshot;    // the snapshot restored from, or the one this boot saved
  std::string snapshot_key;
  std::string snapshot_note;  // why a snapshot was not used or not saved
  std::string start_note;     // a boot that had to be repeated (TCG), and why; empty if none
  std::vector<Phase> phases;
  // The scenario's topology (for the HTML report's memory map: DIMM brackets, node rows). Results
  // written before it was recorded lack it; the report then reads the scenario file if it still
  // exists.
  std::vector<NumaNode> nodes;
  std::vector<Dimm> dimms;
  std::vector<VirtioMem> virtio_mems;
};

}  // namespace rig
