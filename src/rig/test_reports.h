// Results for other tools: JUnit XML for CI dashboards, KTAP for kernel people.
#pragma once

#include <ostream>
#include <vector>

#include "rig/results.h"

namespace rig {

// One <testsuite> per kernel, one <testcase> per scenario; failed checks go in the failure
// text, xfail is reported as skipped with its evidence.
void write_junit(const std::vector<ScenarioResult>& results, std::ostream& out);

// KTAP version 1: one test per scenario run, each with a subtest per spec check and step.
void write_ktap(const std::vector<ScenarioResult>& results, std::ostream& out);

}  // namespace rig
