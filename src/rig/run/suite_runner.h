// Runs the matrix (scenarios x kernels x repeats, or one shard of it) under QEMU: builds each
// kernel's guest image, picks the accelerator, runs as many guests at once as the host's cores
// and memory allow (or -j), restores ready guests from snapshots when they are cached, and writes
// a reproducer for each failure. Shared by `rig run` and `rig bisect-step`.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "rig/base/environment.h"
#include "rig/host/kernel_locator.h"
#include "rig/scenario/matrix.h"
#include "rig/scenario/results.h"
#include "rig/scenario/scenario.h"
#include "rig/run/scenario_runner.h"

namespace rig {

// What the suite tells its caller while it runs; calls come from several threads, one at a time.
struct RunEvent {
  enum class Kind { Note, Started, Line, Finished };
  Kind kind = Kind::Note;
  std::string run_id;  // "scenario@kernel" (+ "#N" for repeats); empty for notes
  std::string text;    // Started: what runs; Line: a progress line; Finished: the verdict line; Note
  const ScenarioResult* result = nullptr;  // Finished
};
using RunEventSink = std::function<void(const RunEvent&)>;

struct SuiteOptions {
  RunOptions run;
  std::string backend = "qemu";  // machine_factory.h: qemu or libvirt
  std::string accel = "auto";
  std::string qemu = "qemu-system-x86_64";
  std::string connect;  // libvirt URI; empty: qemu:///system
  int repeat = 1;       // runs of each scenario on each kernel
  int jobs = 0;         // guests at once; 0: as many as cores and memory allow
  Shard shard;
  bool snapshots = true;
  Environment env;  // the caller's (read once at the entry point): cache, snapshot and slot settings
  // Called after every run with all results so far, in matrix order (to keep reports current).
  std::function<void(const std::vector<ScenarioResult>&)> after_each;
};

std::vector<ScenarioResult> run_suite(const std::vector<Scenario>& scenarios, const std::vector<KernelImage>& kernels,
                                      const SuiteOptions& opts, const RunEventSink& events);
// The same, with every event as one progress line.
std::vector<ScenarioResult> run_suite(const std::vector<Scenario>& scenarios, const std::vector<KernelImage>& kernels,
                                      const SuiteOptions& opts, const ProgressSink& progress);

// The host's budget for guests: its cores, 80 % of MemAvailable, and -j.
HostBudget this_host_budget(int jobs);

}  // namespace rig
