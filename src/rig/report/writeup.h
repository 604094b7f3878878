// `rig writeup`: one failed run as a plain-text bug report for a kernel mailing list (72
// columns, no HTML): subject, affected and unaffected kernels from the same results, the
// scenario and its steps, the evidence (pages with role, refcount, tag and holder; the counters;
// the console's reports), where in the kernel that role is freed or kept, how to reproduce (the
// reproducer and the QEMU command line), and what the rig could not tell. Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "rig/report/findings.h"
#include "rig/scenario/results.h"
#include "rig/scenario/scenario.h"

namespace rig {

constexpr size_t kWriteupColumns = 72;

// The kernel functions that free or keep what a check is about (docs/kernel-semantics.md).
std::string where_to_look(const std::string& check_name);

// What the run's folder and scenario file add, when they can still be read.
struct WriteupSources {
  // The scenario's steps, cycles unrolled: a step the run did not finish (the kernel went down
  // during it) is listed as such after those it did.
  std::vector<Step> planned_steps;
  // The run's console.log: the kernel's lines just before each report (what it printed on the
  // way there, such as the warning before a BUG) go with the report.
  std::vector<std::string> console;
  // The register's entry for the failure the write-up is headed by (report/findings.h), when it
  // has one: the kernels affected are those whose runs show it, those not affected the ones that
  // judged it absent (finding_presence), and the reproducer is `rig repro --finding ID`, which
  // looks for its signs only.
  std::optional<RegisteredFinding> finding;
  // The run's failures that are not the finding's (restrict_to_finding's left_out): listed by
  // their signatures, not written up.
  std::vector<std::string> other_failures;
};

// Where to look for a kernel report without a failed check: the function the report names (its
// RIP line), what called it, and what is known of that function (try_remove_memory()).
std::string where_to_look_report(const ConsoleFinding& f);

// `r` failed; `all` are the results it came with (the same scenario on other kernels says which
// kernels are affected; only a pass counts as not affected); `qemu_argv` is the run's QEMU
// command line (empty when unknown). A run that a kernel report (BUG, Oops, ...) failed without a
// failed check is headed by that report.
std::string writeup_text(const ScenarioResult& r, const std::vector<ScenarioResult>& all,
                         const std::vector<std::string>& qemu_argv, const std::string& check = "",
                         const WriteupSources& sources = {});

// Words wrapped to `width` columns, each line after the first indented by `indent`.
std::string wrap_text(const std::string& text, size_t width, const std::string& first_indent,
                      const std::string& indent);

}  // namespace rig
