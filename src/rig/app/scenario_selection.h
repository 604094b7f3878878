// Which scenarios a command runs: the files named, the shipped ones of a suite, each with the
// known kernel failures of rig/known-failures.toml (docs/known-failures.md) merged in.
#pragma once

#include <string>
#include <vector>

#include "rig/report/findings.h"

#include "rig/scenario/scenario.h"

namespace rig::app {

// The shipped scenario files (HOME/rig/scenarios/*.toml), sorted; none when the folder is missing.
std::vector<std::string> shipped_scenario_files(const std::string& home);

// HOME/rig/known-failures.toml's entries; none when the file is missing.
std::vector<ExpectedFailure> known_failures(const std::string& home);
// HOME/rig/findings/*.toml (report/findings.h), in name order; none when the folder is missing.
std::vector<RegisteredFinding> findings_register(const std::string& home);

// Appends `known` to every scenario's xfail entries.
void merge_known_failures(std::vector<Scenario>& scenarios, const std::vector<ExpectedFailure>& known);

struct ScenarioSelection {
  std::vector<std::string> files;  // scenario files named on the command line
  std::string suite;               // with it, also the shipped scenarios of this suite ("a,b": of either)
  std::string home;                // rig_home(): where the shipped scenarios and known failures are
};

// The files, then the suite's shipped scenarios, loaded and validated, with the known failures
// merged. Throws UsageError when a file is bad, the suite has no scenario, or nothing is chosen.
std::vector<Scenario> select_scenarios(const ScenarioSelection& s);

}  // namespace rig::app
