// Runs one scenario's steps on a machine and judges the outcome. It knows the Machine interface
// only: how the guest was started (booted, restored, another backend) is the factory's business.
#pragma once

#include <functional>
#include <memory>

#include "rig/host/kernel_locator.h"
#include "rig/machine/machine.h"
#include "rig/scenario/results.h"
#include "rig/scenario/scenario.h"

namespace rig {

// Creates (not starts) the machine for a scenario, with its files in `run_dir`.
using MachineFactory = std::function<std::unique_ptr<Machine>(const Scenario&, const std::string& run_dir)>;
// Progress for people, one line at a time.
using ProgressSink = std::function<void(const std::string&)>;

struct RunOptions {
  std::string artifacts_root = "rig-runs";
  Timeouts timeouts;
};

// A result for scenario `s` on `kernel` (run `run`) that names them and carries the topology, before
// anything ran.
ScenarioResult result_of(const Scenario& s, const KernelImage& kernel, int run);

// `run` numbers repeated runs of the same scenario on the same kernel (1-based).
ScenarioResult run_scenario(const Scenario& s, const KernelImage& kernel, const RunOptions& opts,
                            const MachineFactory& make_machine, const ProgressSink& progress, int run = 1);

// Writes `r` to its run folder's result.json. The one rule for a result that cannot be saved
// (both runners use it): the verdict becomes `error`, its reason the write's failure followed by
// the run's own verdict and reason; a result nobody can read back is not one to rely on.
void save_result(ScenarioResult& r);

// The guest memory blocks [first, last] a DIMM covers, for a block size in bytes.
std::pair<uint64_t, uint64_t> dimm_blocks(const Dimm& d, uint64_t block_size);

}  // namespace rig
