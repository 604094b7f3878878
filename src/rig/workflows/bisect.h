// `git bisect` support: one step (build the checkout, run the scenarios, judge the case) and a
// driver that runs `git bisect run` with it and reports the first bad commit with its evidence.
#pragma once

#include <string>
#include <vector>

#include "rig/base/environment.h"
#include "rig/workflows/bisect_verdict.h"
#include "rig/scenario/scenario.h"
#include "rig/run/scenario_runner.h"

namespace rig {

struct BisectOptions {
  BisectTarget target;  // the case, or the finding, whose failure makes a revision bad
  // Look for the commit that fixed it: git bisect's terms are broken (old) and fixed (new), and a
  // step exits 0 where the target fails, 1 where it holds (bisect_exit_code(v, true)).
  bool fix = false;
  std::vector<Scenario> scenarios;  // already loaded and validated
  std::vector<std::string> fragments;
  int runs = 1;
  std::string src = ".";
  std::string log;         // appended: one line per step
  std::string artifacts;   // scenario artifacts
  std::string kernel_out;  // reused build directory, so each step builds incrementally
  std::string accel = "auto";
  Environment env;  // read once at the entry point: caches, snapshots, host slots
};

// What a step prints (stderr, one line) when it stops the bisection; `rig bisect` looks for it.
constexpr const char* kBisectStopPrefix = "rig: bisect stopped: ";

// Builds and tests the checkout in opts.src; returns 0 (good), 1 (bad), 125 (skip: the kernel
// does not build because of its source, or cannot be tested) or kBisectStopExit after printing
// one kBisectStopPrefix line (the host failed: disk, git, tools, QEMU). Throws for errors of the
// rig itself, which the caller also turns into a stop (see bisect_verdict.h for the rules).
int bisect_step(const BisectOptions& opts, const ProgressSink& progress);

struct BisectRunResult {
  std::string first_bad;  // commit id, empty when git bisect did not name one
  std::string subject;
  std::string evidence;  // the failing check, from the step log
  std::string stopped;   // why a step stopped the bisection (host failure), empty otherwise
};

// git bisect start BAD GOOD; git bisect run RIG bisect-step ...; git bisect reset. With opts.fix,
// `bad` is the fixed revision and `good` the broken one (git bisect start --term-old=broken
// --term-new=fixed FIXED BROKEN), and first_bad the first fixed commit.
BisectRunResult bisect_run(const BisectOptions& opts, const std::string& good, const std::string& bad,
                           const std::vector<std::string>& step_args, const ProgressSink& progress);

// Scenarios that exercise `case_no` among the shipped ones.
std::vector<Scenario> scenarios_for_case(const std::vector<Scenario>& all, int case_no);

}  // namespace rig
