// What one bisect step concludes from its runs, for `git bisect run`: good (0), bad (1) or
// skip (125). Pure. A revision is bad only when the named case failed and no run passed; a
// crash, a failure of another case, or an infrastructure error is a skip, never "bad": one
// wrong "bad" sends a whole bisection down the wrong path.
#pragma once

#include <string>
#include <vector>

#include "rig/results.h"

namespace rig {

enum class BisectVerdict { Good, Bad, Skip };
int bisect_exit_code(BisectVerdict v);
const char* bisect_verdict_name(BisectVerdict v);

struct BisectDecision {
  BisectVerdict verdict = BisectVerdict::Skip;
  std::string why;       // one line for the log
  std::string evidence;  // the failing check of the case, for a bad revision
};

BisectDecision decide_bisect_step(int case_no, const std::vector<ScenarioResult>& runs);

}  // namespace rig
