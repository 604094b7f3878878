// Reads a scenario TOML file and validates it completely before anything boots. Every rejection
// is a UsageError whose message is one line: "FILE: KEY: reason".
#pragma once

#include <string>
#include <vector>

#include "rig/scenario/scenario.h"

namespace rig {

Scenario load_scenario_file(const std::string& path);

// Same, from text (path is used only in messages). For tests.
Scenario parse_scenario(const std::string& text, const std::string& path);

// Known kernel failures that apply to every scenario (rig/known-failures.toml): [[xfail]]
// tables as in a scenario file.
std::vector<ExpectedFailure> load_known_failures(const std::string& path);

// Checks the cross-field rules (alignment, overlap, maxmem, slots, references). Throws
// UsageError. Exposed so scenarios built in code get the same checks.
void validate_scenario(const Scenario& s);

}  // namespace rig
