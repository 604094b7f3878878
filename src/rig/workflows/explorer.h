// `rig explore`: draws scenarios (explore.h), runs them on the matrix runner until the budget is
// spent, names each failure by its signature and says whether the findings register knows it
// (by its id) or it is new, minimizes every new one to a scenario file ready
// to commit (each candidate run twice: a failure is kept only when it repeats, the flaky rule of
// bisect-step) with the reproducer of its last run, and ends with a coverage table.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "rig/workflows/explore.h"
#include "rig/host/kernel_locator.h"
#include "rig/run/suite_runner.h"

namespace rig {

struct ExploreOptions {
  std::vector<KernelImage> kernels;
  double budget_s = 1800;
  uint64_t seed = 1;
  std::string out;                                   // explore.json, generated/, findings/, runs/
  std::vector<ExpectedFailure> known;                // rig/known-failures.toml, applied to every draw
  std::vector<RegisteredFinding> findings_register;  // rig/findings/: each finding known (its id) or new
  SuiteOptions suite;                                // -j, snapshots, timeouts, artifacts under out/runs
  int max_minimize_tries = 16;                       // candidates tried per finding
  // Live progress: every guest's events (default: none), and a status after each run (runs
  // done, findings); the plain one-line-per-run progress goes to explore()'s `progress`.
  std::function<void(const RunEvent&)> on_event;
  std::function<void(const std::string&)> status;
};

struct ExploreFinding {
  Finding finding;
  std::string kernel;
  std::string found_in;    // the generated scenario file that showed it first
  std::string minimized;   // the minimized scenario file (findings/N-.../scenario.toml)
  std::string reproducer;  // the reproducer of the minimized scenario's last failing run
  int minimize_tries = 0;
  bool confirmed = false;  // the minimized scenario failed twice with this signature
  bool flaky = false;      // tried twice and did not fail both times (not confirmed because the
                           // budget ran out first is neither: the run that showed it did fail)
  size_t with = 0;         // seen in the same run as finding N (1-based), minimized with it
};

struct ExploreSummary {
  std::vector<ExploreFinding> findings;
  Coverage coverage;
  double seconds = 0;
};

ExploreSummary explore(const ExploreOptions& opts, const std::function<void(const std::string&)>& progress);

}  // namespace rig
