// `rig kernel build`, `rig repro`, `rig bisect-step` and `rig bisect`: the kernel developer's
// workflows (docs/workflows.md).
#pragma once

#include <string>
#include <vector>

#include "rig/app/defaults.h"
#include "rig/workflows/bisect.h"
#include "rig/workflows/kernel_builder.h"

namespace rig::app {

// Builds (or finds in the cache) a patched kernel with its probe and guest image; prints the
// directory --kernel takes. A build that fails is exit 3 with whose failure it is.
int kernel_build(KernelBuildRequest req);
// `rig kernel list [--available]` (host/debian_archive.h).
int kernel_list(bool available);

struct ReproOptions {
  std::string scenario;  // file
  std::string kernel = kDefaultKernel;
  std::string out;  // empty: repro-SCENARIO-RELEASE
  bool interactive = false;
  // Judge one finding of the register: run the scenario once on the kernel (expected failures
  // not applied) and write the signs of that finding's failures only.
  std::string finding;
  // Judge by another reproducer's signs (its DIR/expect): the same failure on this kernel.
  std::string signs_of;
  std::string home;  // rig_home() when empty
};
// Writes a QEMU-only reproducer and prints its run.sh; with `interactive`, runs it in place of
// the rig.
int repro(const ReproOptions& o);

struct BisectCommandOptions {
  int case_no = 0;
  std::string finding;                 // instead of a case: the id of a finding of the register (rig/findings/ID.toml)
  std::vector<std::string> scenarios;  // none: the shipped spec scenarios of the case
  std::vector<std::string> fragments;
  int runs = 1;
  std::string src = kDefaultBisectSrc;
  std::string log = kDefaultBisectLog;
  std::string artifacts = kDefaultBisectArtifacts;
  std::string kernel_out;  // empty: in the cache, by the tree
  std::string accel = kDefaultAccel;
  std::string good, bad;  // rig bisect only
  // rig bisect looking for the fix: where it still fails, where it holds (instead of good/bad).
  std::string broken, fixed;
  bool fix = false;     // rig bisect-step: a step of such a bisection (exit 0 broken, 1 fixed)
  std::string kernels;  // rig bisect --kernels: "debian:A..debian:B" or "K1,K2,...", instead of --src/--good/--bad
  // Judge without expected failures (rig/known-failures.toml, a scenario's [[xfail]]): a known
  // finding then fails its case as it did before it was known, so it can be bisected.
  bool count_known_failures = false;
  std::string home;  // rig_home() when empty
};
// The options of a step, checked, scenarios loaded. Throws UsageError.
BisectOptions bisect_options(const BisectCommandOptions& a);

// For git bisect run: 0 good, 1 bad, 125 skip, kBisectStopExit (after one kBisectStopPrefix line)
// when the rig or the host cannot work, usage errors included.
int bisect_step(const BisectCommandOptions& a);

// Drives git bisect with bisect-step; prints the first bad commit and its evidence.
int bisect(const BisectCommandOptions& a);

}  // namespace rig::app
