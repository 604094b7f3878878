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

// Where a result's artifacts are now: its recorded directory if it still exists, else a directory
// of the same name under `results_dir/runs/` or `results_dir/` (a CI job that moved the folder).
// Empty when none exists.
std::string locate_run_artifacts(const std::string& recorded, const std::string& results_dir);

// Reads each run's artifacts (located from `results_dir`, the folder of the results JSON), builds
// the view and writes `path` atomically. Throws InfraError when it cannot write.
void write_html_report(const std::vector<ScenarioResult>& results, const RunInfo& info, const std::string& path,
                       const std::string& results_dir);

}  // namespace rig
