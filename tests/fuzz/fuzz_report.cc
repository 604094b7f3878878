// `rig report`: the results reader and the run-folder artifacts it reads (probe snapshots,
// queries, guest states), through the model and the renderer. The input is NUL-separated:
// results JSON, then artifact name and text pairs. Accepted, or a UsageError in one line; the
// page never links anything but an anchor or a safe relative path. The same results as KCIDB JSON
// (report/kcidb.h): dumped without a throw, every log_excerpt within the schema's limit and free
// of NUL bytes, every test path of the schema's form. Anything else aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "rig/base/errors.h"
#include "rig/base/json_text.h"
#include "rig/report/html_report.h"
#include "rig/report/html_report_model.h"
#include "rig/report/kcidb.h"
#include "rig/report/results_report.h"

namespace {

void one_line_or_abort(const char* what) {
  for (const char* p = what; *p; ++p)
    if (static_cast<unsigned char>(*p) < 0x20) std::abort();
}

// A spec run with unplug steps, for artifacts that come without readable results.
rig::ScenarioResult synthetic() {
  rig::ScenarioResult r;
  r.scenario = "fuzz";
  r.kernel = "6.1";
  r.verdict = rig::Verdict::Fail;
  r.cases = {1, 2, 3};
  r.artifacts = "runs/fuzz";
  rig::Dimm d;
  d.id = "d0";
  d.addr = uint64_t{4} << 30;
  d.size = uint64_t{256} << 20;
  r.dimms = {d};
  for (int i = 0; i < 3; ++i) {
    rig::StepResult s;
    s.index = i;
    s.action = i == 1 ? "plug" : "unplug";
    s.target = "d0";
    s.outcome = i == 2 ? "refused" : "removed";
    r.steps.push_back(s);
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0)
      parts.emplace_back();
    else
      parts.back() += static_cast<char>(data[i]);
  }
  std::vector<rig::ScenarioResult> results;
  rig::RunInfo info;
  try {
    rig::LoadedReport r = rig::report_from_json(rig::parse_json_text(parts[0], "fuzz.json"));
    results = std::move(r.results);
    info = r.info;
  } catch (const rig::UsageError& e) {
    one_line_or_abort(e.what());
  }
  if (results.empty()) results.push_back(synthetic());
  {
    const nlohmann::json doc = rig::kcidb_report(results);
    (void)doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    static const std::regex path(R"re(^([a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*)?$)re");
    for (const auto& t : doc["tests"]) {
      const std::string p = t["path"];
      if (!std::regex_match(p, path)) std::abort();
      if (t.contains("log_excerpt")) {
        const std::string log = t["log_excerpt"];
        if (log.size() > rig::kKcidbMaxExcerpt || log.find('\0') != std::string::npos) std::abort();
      }
    }
  }
  rig::RunArtifacts artifacts;
  for (size_t i = 1; i + 1 < parts.size(); i += 2) artifacts[parts[i]] = parts[i + 1];
  const std::vector<rig::RunArtifacts> all(results.size(), artifacts);
  const rig::ReportView view = rig::build_report_view(results, all, info, "/fuzz");
  const std::string page = rig::render_html_report(view);
  static const std::regex href(R"re((href|src)="([^"#][^"]*)")re");
  for (std::sregex_iterator it(page.begin(), page.end(), href), end; it != end; ++it) {
    if (!rig::is_safe_relative_link((*it)[2])) std::abort();
  }
  return 0;
}
