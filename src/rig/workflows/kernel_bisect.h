// Bisection over built kernels (`rig bisect --kernels debian:A..debian:B`): the last good and
// first bad kernel of an ordered list by binary search, each kernel judged by a caller-supplied
// test (run the scenarios --runs times). Pure: the search and the combining of runs.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "rig/workflows/bisect_verdict.h"

namespace rig {

struct KernelBisectStep {
  size_t index = 0;
  std::string kernel;
  BisectDecision decision;
};

struct KernelBisectResult {
  std::optional<size_t> last_good, first_bad;  // indexes into the list
  // The list's first kernel was bad and its last good: the search looked for the fix, and
  // first_bad / last_good read "last bad" / "first good" (first_bad < last_good).
  bool fix = false;
  std::vector<KernelBisectStep> steps;  // in the order tested
  std::vector<size_t> skipped;          // kernels that could not be judged, and why in steps
  std::string stopped;                  // a host failure ended the search
  // One line: "first bad kernel: B (last good: A)", or why there is none.
  std::string summary(const std::vector<std::string>& kernels) const;
};

// Tests the first and the last kernel, then halves the range between the last good and first
// bad; a skipped kernel is replaced by its nearest untested neighbour in the range. Each kernel is
// tested at most once. `test` returns Good, Bad, Skip or Stop. The ends good then bad: the first
// bad kernel (a regression); bad then good: the first good one (the fix, `fix` set); both bad:
// every kernel of the list is bad as far as its ends tell (the summary says so).
KernelBisectResult bisect_kernels(const std::vector<std::string>& kernels,
                                  const std::function<BisectDecision(const std::string&)>& test);

// One kernel's runs of the scenarios combined: bad when any run fails the case (a kernel that
// fails once is bad), good when none fails and one judged it, skip when none could (a kernel that
// does not boot), stop when the host failed.
BisectDecision combine_kernel_runs(const BisectTarget& target, const std::vector<ScenarioResult>& runs);
BisectDecision combine_kernel_runs(int case_no, const std::vector<ScenarioResult>& runs);

// "debian:6.18.5..debian:6.18.15" -> the Debian builds between the two (inclusive), oldest first,
// from `available` (release strings with their upstream versions); a comma-separated list is
// taken as given. UsageError for a range whose ends the list lacks.
struct AvailableKernel {
  std::string release;   // 6.18.9+deb13-amd64
  std::string upstream;  // 6.18.9
};
std::vector<std::string> kernel_list_from(const std::string& spec, const std::vector<AvailableKernel>& available);

// "v6.18.9" from "debian:6.18.9+deb13-amd64" or "debian:6.18.9": the upstream tag to continue in a
// git tree; "" for any other name (a path, debian-6.1), whose upstream version is not known here.
// With `available`, a "debian:RELEASE" the archive lists is its upstream version
// (debian:6.1.0-50-amd64 -> v6.1.176); an ABI release it does not list ("6.1.0-50") is "".
std::string upstream_tag(const std::string& kernel, const std::vector<AvailableKernel>& available = {});

}  // namespace rig
