// Two kernels side by side (`rig compare`, and report.html when a run has several kernels): per
// scenario, each check (a page role's fate, a counter, a tag check) on both, and what changed.
// Pure: results in, a comparison out, and its text.
#pragma once

#include <string>
#include <vector>

#include "rig/scenario/results.h"

namespace rig {

struct CheckSide {
  bool present = false;
  std::string status;  // check_status_name()
  size_t pages = 0;    // offending pages
  std::string detail;
};

struct CheckComparison {
  int step = -1;
  int case_no = 0;
  std::string name;
  CheckSide a, b;
  bool changed() const { return a.present != b.present || a.status != b.status || a.pages != b.pages; }
};

struct ScenarioComparison {
  std::string scenario;
  bool in_a = false, in_b = false;
  std::string verdict_a, verdict_b;
  std::string reason_a, reason_b;
  std::vector<CheckComparison> checks;  // in step order, then as the runs listed them
  size_t changed() const;
};

struct KernelComparison {
  std::string kernel_a, kernel_b;  // release strings
  std::vector<ScenarioComparison> scenarios;
  size_t changed() const;  // scenarios whose verdict or any check changed, or that ran on one side only
};

// The kernels of `results`, in the order they first appear.
std::vector<std::string> kernels_of(const std::vector<ScenarioResult>& results);
// Kernel `a` against kernel `b` over `results` (each scenario's first run on each).
KernelComparison compare_kernels(const std::vector<ScenarioResult>& results, const std::string& a,
                                 const std::string& b);
// Plain text: one block per scenario with its verdicts, then the checks that changed (all checks
// with `all`), each with both statuses, offending pages and details.
std::string comparison_text(const KernelComparison& c, bool all);

}  // namespace rig
