#include "rig/bisect_verdict.h"

#include <fmt/format.h>

namespace rig {

int bisect_exit_code(BisectVerdict v) {
  switch (v) {
    case BisectVerdict::Good: return 0;
    case BisectVerdict::Bad: return 1;
    case BisectVerdict::Skip: return 125;
  }
  return 125;
}

const char* bisect_verdict_name(BisectVerdict v) {
  switch (v) {
    case BisectVerdict::Good: return "good";
    case BisectVerdict::Bad: return "bad";
    case BisectVerdict::Skip: return "skip";
  }
  return "?";
}

BisectDecision decide_bisect_step(int case_no, const std::vector<ScenarioResult>& runs) {
  int good = 0, bad = 0, other = 0;
  std::string evidence, other_why;
  for (const auto& r : runs) {
    if (r.verdict == Verdict::Pass || r.verdict == Verdict::XFail) {
      ++good;
      continue;
    }
    bool case_failed = false;
    for (const auto& c : r.checks)
      if (!c.ok && !c.xfail && c.case_no == case_no) {
        case_failed = true;
        if (evidence.empty()) evidence = fmt::format("{} on {}: case {} {}: {}", r.scenario, r.kernel, c.case_no, c.name, c.detail);
      }
    if (r.verdict == Verdict::Fail && case_failed) {
      ++bad;
    } else {
      ++other;
      if (other_why.empty()) other_why = fmt::format("{}: {} ({})", r.scenario, verdict_name(r.verdict), r.reason);
    }
  }
  BisectDecision d;
  const std::string counts = fmt::format("{} runs: {} pass, {} fail case {}, {} other", runs.size(), good, bad, case_no, other);
  if (runs.empty()) {
    d.why = "no runs";
  } else if (bad > 0 && good > 0) {
    d.why = counts + ": the runs disagree, so this revision is skipped rather than risk a wrong verdict";
  } else if (bad > 0 && other == 0) {
    d.verdict = BisectVerdict::Bad;
    d.why = counts;
    d.evidence = evidence;
  } else if (bad > 0) {
    d.why = counts + ": case " + std::to_string(case_no) + " failed, but other runs did not get that far (" + other_why + ")";
  } else if (other > 0) {
    d.why = counts + ": " + other_why;
  } else {
    d.verdict = BisectVerdict::Good;
    d.why = counts;
  }
  return d;
}

}  // namespace rig
