// Scenario -> TOML, the format scenario_file.h reads: what `rig explore` writes for every
// scenario it generates and every finding it minimizes, so that nothing runs that a user could
// not write by hand, and parse_scenario(scenario_toml(s)) gives s back.
#pragma once

#include <string>

#include "rig/scenario/scenario.h"

namespace rig {

// `header` (comment lines, without the leading "# ") goes first.
std::string scenario_toml(const Scenario& s, const std::string& header = "");

}  // namespace rig
