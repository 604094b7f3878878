// Reporters: results as JSON (the machine-readable contract) and as a short table for people.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "rig/base/atomic_file.h"
#include "rig/scenario/results.h"

namespace rig {

// How the whole run went, for the report's summary.
struct RunInfo {
  std::string shard;  // "1/2", empty when the whole matrix ran
  int jobs = 0;       // -j, 0 when by the host's budget
  int repeat = 1;
  double wall_s = 0;
  bool complete = true;  // false while the run is still going (reports written as results come)
};

nlohmann::json result_to_json(const ScenarioResult& r);
// The whole report: every result plus a summary with counts per verdict and the matrix (each
// scenario x kernel pair with its runs, passes and verdict, "flaky" when runs disagreed).
nlohmann::json report_to_json(const std::vector<ScenarioResult>& results, const RunInfo& info = {});
// Readers of the above, for `rig report`: a whole report (rig-results/1 or /2) or one run's
// result.json. Fields a file lacks take their defaults (rig-results/1 had no check status: it is
// derived from ok and xfail). Throws UsageError naming what is wrong.
struct LoadedReport {
  std::vector<ScenarioResult> results;
  RunInfo info;
};
ScenarioResult result_from_json(const nlohmann::json& j);
LoadedReport report_from_json(const nlohmann::json& j);
// Reads a results file (or one run's result.json) as `rig report` does: a regular file of at most
// kMaxResultsBytes, JSON nested at most kMaxJsonDepth deep. Throws UsageError, one line naming
// the file and what is wrong, never quoting its content.
constexpr size_t kMaxResultsBytes = size_t{256} << 20;
LoadedReport load_results_file(const std::string& path);

void write_result_file(const ScenarioResult& r, const std::string& path);
void write_report_file(const std::vector<ScenarioResult>& results, const std::string& path, const RunInfo& info = {});
// Files are written with write_file_atomically (base/atomic_file.h). Throws FileWriteError.
void print_table(const std::vector<ScenarioResult>& results, std::ostream& out);

// exit_status() (base/exit_status.h) of the results: failed when a run failed, an infrastructure
// error when a run was an error (it wins: nothing can be trusted).
int exit_status_for(const std::vector<ScenarioResult>& results);

}  // namespace rig
