// Results for other tools: JUnit XML for CI dashboards, KTAP for kernel people.
#pragma once

#include <ostream>
#include <vector>

#include "rig/scenario/results.h"

namespace rig {

// One <testsuite> per kernel, one <testcase> per scenario (failed checks in the failure text,
// xfail skipped with its reason, xpass passed with a note in system-out) followed by one
// <testcase> per spec check (n/a and xfail skipped with their reason).
void write_junit(const std::vector<ScenarioResult>& results, std::ostream& out);

// KTAP version 1: one test per scenario run, each with a subtest per spec check and step. n/a
// checks are "# SKIP", xfail "# XFAIL"; KTAP has no XPASS directive, so an xpass is a plain ok
// after a "# XPASS ..." comment line.
void write_ktap(const std::vector<ScenarioResult>& results, std::ostream& out);

}  // namespace rig
