// `rig explore`: generated scenarios until the budget is spent, each new failure minimized.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rig/app/defaults.h"
#include "rig/workflows/explorer.h"

namespace rig::app {

struct ExploreCommandOptions {
  std::vector<std::string> kernels;  // none: kDefaultKernel
  std::string budget = kDefaultExploreBudget;
  uint64_t seed = kDefaultExploreSeed;
  std::string out;  // empty: rig-explore-SEED
  int jobs = 0;
  std::string accel = kDefaultAccel;
  std::string qemu = kDefaultQemu;
  bool no_snapshots = false;
  int max_tries = kDefaultMinimizeTries;
  std::string home;  // rig_home() when empty
};

// exit_status() of an exploration: failed when a finding is neither a known failure nor flaky
// (confirmed, or seen failing and never seen passing); an infrastructure error when every run was
// an error (nothing was tested). Pure.
int explore_exit_status(const ExploreSummary& s);

int explore(const ExploreCommandOptions& o);

}  // namespace rig::app
