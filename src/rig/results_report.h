// Reporters: results as JSON (the machine-readable contract) and as a short table for people.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "rig/results.h"

namespace rig {

nlohmann::json result_to_json(const ScenarioResult& r);
// The whole report: every result plus a summary with counts per verdict.
nlohmann::json report_to_json(const std::vector<ScenarioResult>& results);
void write_result_file(const ScenarioResult& r, const std::string& path);
void write_report_file(const std::vector<ScenarioResult>& results, const std::string& path);
void print_table(const std::vector<ScenarioResult>& results, std::ostream& out);

// 0 all pass (xfail and xpass included), 1 a check failed, 3 an infrastructure error (it wins: nothing can be trusted).
int exit_status_for(const std::vector<ScenarioResult>& results);

}  // namespace rig
