// report.html: the report model (html_report_model.h) as one self-contained page: inline CSS and
// SVG, no script, no network, every text escaped. Hovering a section cell shows its <title>.
#pragma once

#include <string>
#include <vector>

#include "rig/report/html_report_model.h"

namespace rig {

// & < > " ' as entities; other control characters but newline and tab as spaces.
std::string html_escape(const std::string& text);

std::string render_html_report(const ReportView& view);

// Whose results these are: the rig's own run (its recorded run folders are where it put them) or
// a results file from elsewhere (`rig report`), whose recorded paths may name any directory.
enum class ResultsOrigin { ThisRun, File };

// Where a result's artifacts are now. For this run: its recorded directory if it still exists.
// Then (and for a results file, only) a directory of the recorded folder's name under
// `results_dir/runs/` or `results_dir/` (a CI job that moved the folder), neither of them nor
// `runs` a symbolic link. Empty when none exists.
std::string locate_run_artifacts(const std::string& recorded, const std::string& results_dir,
                                 ResultsOrigin origin = ResultsOrigin::File);

// Reads each run's artifacts (located from `results_dir`, the folder of the results JSON), builds
// the view and writes `path` atomically. Throws InfraError when it cannot write.
void write_html_report(const std::vector<ScenarioResult>& results, const RunInfo& info, const std::string& path,
                       const std::string& results_dir, ResultsOrigin origin = ResultsOrigin::File);

}  // namespace rig
