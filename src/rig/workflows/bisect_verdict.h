// What one bisect step concludes, for `git bisect run`: good (0), bad (1), skip (125), or stop
// (128: git bisect run aborts). Pure, so each rule below is unit tested.
//
// - good: every run passed, and no check of any case has status Fail (an xfail counts only when
//   its evidence pattern matched, i.e. status XFail; XPass and n/a checks are fine).
// - bad: in every run the named case has a check with status Fail and no other case has one.
// - skip: the revision cannot be tested: its kernel does not build because of its source (a
//   compile or link error, a Kconfig without an option the rig needs), it does not boot, it
//   crashes, another case fails, or the runs disagree. One wrong "bad" sends a whole bisection
//   down the wrong path, so anything unclear about the kernel is a skip, never bad.
// - stop: the host failed (disk full, git or ccache failing, a missing tool, QEMU missing, a
//   build that failed without any error in the kernel's source). Skipping would test revision
//   after revision on a broken host; the bisection stops with one line saying why.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "rig/report/findings.h"
#include "rig/scenario/results.h"

namespace rig {

enum class BisectVerdict { Good, Bad, Skip, Stop };
int bisect_exit_code(BisectVerdict v);  // 0, 1, 125, 128
// Looking for a fix (git bisect start --term-old=broken --term-new=fixed): a revision where the
// target fails is old (0), one where it holds new (1); skip and stop as above.
int bisect_exit_code(BisectVerdict v, bool fix);
const char* bisect_verdict_name(BisectVerdict v);
constexpr int kBisectStopExit = 128;  // git bisect run aborts on 128 and above

struct BisectDecision {
  BisectVerdict verdict = BisectVerdict::Skip;
  std::string why;       // one line for the log
  std::string evidence;  // the failing check of the case, for a bad revision
};

BisectDecision decide_bisect_step(int case_no, const std::vector<ScenarioResult>& runs);

// What a bisection looks for: a spec case failing (--case N), or a finding of the register
// (--finding ID). With a finding a run is
// - bad when one of its failures (report/findings.h failures_of: a failed or xfail check, a step
//   that ended otherwise, a kernel report) has one of the finding's signatures, whatever else
//   failed (a kernel with two defects has this one);
// - good when none has, and the run judged what the finding is about: one of the finding's
//   checks passed, its step ended as the scenario asked, or, for a kernel report, the run got to
//   its end;
// - other (skip) when it could not have shown: the guest did not boot, the step never came,
//   the checks were n/a or failed otherwise.
// The runs are then combined by the same rules as for a case.
struct BisectTarget {
  int case_no = 0;
  std::optional<RegisteredFinding> finding;
  std::string name() const;  // "case 3", "finding ID"
};
BisectDecision decide_bisect_step(const BisectTarget& target, const std::vector<ScenarioResult>& runs);

// A run that tested nothing because of the host, not the kernel: an error before the guest was
// started (QEMU missing, artifacts not writable). "guest did not boot" is the kernel's, and so is
// a probe that cannot read it (that comes after the boot).
bool is_host_failure(const ScenarioResult& r);

// Why a kernel build failed. `exit_code` is build-kernel.sh's (1 compile, 3 configure, 4 an
// option the rig needs is not in this kernel's Kconfig; see the script); `log` is what the
// build printed (script output and make's log). Host signs win over compiler errors: a compiler
// that hits a full disk prints "error:" too.
struct BuildFailureDiagnosis {
  bool kernel = false;  // the kernel's source is at fault: skip; otherwise the host: stop
  std::string why;      // one line: the kind and the log line that decided it
};
BuildFailureDiagnosis diagnose_build_failure(int exit_code, const std::string& log);

}  // namespace rig
