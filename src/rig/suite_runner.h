// Runs scenarios on kernels under QEMU: builds each kernel's guest image, picks the
// accelerator, runs every scenario, writes a reproducer for each failure. Shared by `rig run`
// and `rig bisect-step`.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "rig/kernel_locator.h"
#include "rig/results.h"
#include "rig/scenario.h"
#include "rig/scenario_runner.h"

namespace rig {

struct SuiteOptions {
  RunOptions run;
  std::string accel = "auto";
  std::string qemu = "qemu-system-x86_64";
  int repeat = 1;  // runs of each scenario
  // Called after every scenario run with all results so far (to keep a report current).
  std::function<void(const std::vector<ScenarioResult>&)> after_each;
};

std::vector<ScenarioResult> run_suite(const std::vector<Scenario>& scenarios, const std::vector<KernelImage>& kernels,
                                      const SuiteOptions& opts, const ProgressSink& progress);

}  // namespace rig
