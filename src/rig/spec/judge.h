// The verdict of one scenario run, from what the run produced and nothing else. Pure: no
// machine, no files, no clock, so every rule is unit-tested (tests/unit/judge_test.cc).
//
// Rules, in order:
// - the run ended with an exception: a guest that crashed after boot is `fail` (the kernel
//   broke); a guest that never came up, hung, exited, or any other error is `error`;
// - a teardown error is `error` (QEMU may be left behind), whatever else happened;
// - a step whose outcome differs from its expectation is `fail`;
// - a check with status fail is `fail`; a kernel failure on the console (any finding but a
//   notice) is `fail`;
// - otherwise any xfail check makes `xfail`, else any xpass check makes `xpass`, else `pass`.
// Checks: not applicable -> n/a (never pass, never coverage); failed and matched by an xfail
// entry (match_expected_failure) -> xfail; failed otherwise -> fail; passed and named by an
// entry for this kernel that matched no failure of the check in this run -> xpass.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "rig/scenario/console_finding.h"
#include "rig/scenario/results.h"
#include "rig/scenario/scenario.h"

namespace rig {

// How the execution part of a run ended.
enum class RunEnd {
  Completed,     // the steps ran (a step may have mismatched)
  GuestCrashed,  // the kernel crashed (panic, QEMU exited on it)
  GuestHung,     // no output and no answer
  GuestExited,   // QEMU went away
  Error,         // any other error: infrastructure, probe, artifacts
};

// What execute() and teardown() produced, before judging.
struct RawOutcome {
  bool booted = false;
  RunEnd end = RunEnd::Completed;
  std::string error;           // the exception's message, when end != Completed
  std::string teardown_error;  // shutdown failed
  std::vector<StepResult> steps;
  std::vector<CheckRecord> checks;  // raw: ok, applicable, pages
  std::vector<ConsoleFinding> console_findings;
  std::vector<int> declared_cases;           // the scenario's `cases`
  std::map<int, std::string> not_exercised;  // declared cases it excuses, with why
  // Set when the kernel has no bootmem info (the probe's boot snapshot: encoding none): why.
  // A declared case whose every check was n/a, among them a tag check ("boot-tags-*"), is then
  // excused with this reason (on a kernel with tags that check would have judged it), never
  // counted as covered.
  std::string no_tags;
};

struct Judgement {
  Verdict verdict = Verdict::Error;
  std::string reason;
  std::vector<CheckRecord> checks;  // the raw checks with status (and xfail, evidence) set
  std::vector<int> cases_covered;
  std::vector<int> cases_not_applicable;
  std::map<int, std::string> cases_not_exercised;  // declared, no check could fail, excused
  std::vector<ExpectedFailure> xpass;              // entries whose check ran and passed
};

// Whether an entry's kernel prefix covers this release ("6.1" covers 6.1.x, not 6.12).
// Whether `release` starts with `prefix` at a component boundary ("6.1" covers 6.1.0-57-amd64,
// never 6.12.117); an empty prefix covers every release.
bool release_has_prefix(const std::string& release, const std::string& prefix);
bool kernel_matches(const ExpectedFailure& x, const std::string& release);

Judgement judge(const RawOutcome& raw, const std::vector<ExpectedFailure>& xfails, const std::string& kernel_release);

// "ROLES expected EXPECTED; seen SEEN": the text an entry's pattern is matched against.
std::string page_evidence(const CheckPage& p);

// Whether entry `x` explains the failed check `c` on `kernel_release`: same case, exact name,
// kernel release prefix, at most x.max_pages pages and every page's evidence (or, for a check
// without pages, its detail) matching x.pattern. False for a check that did not fail.
bool match_expected_failure(const ExpectedFailure& x, const CheckRecord& c, const std::string& kernel_release);

}  // namespace rig
