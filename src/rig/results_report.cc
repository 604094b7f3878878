#include "rig/results_report.h"

#include <fmt/format.h>

#include <fstream>
#include <set>

#include "rig/errors.h"

namespace rig {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Pass: return "pass";
    case Verdict::Fail: return "fail";
    case Verdict::Error: return "error";
    case Verdict::Skip: return "skip";
    case Verdict::XFail: return "xfail";
  }
  return "?";
}

nlohmann::json result_to_json(const ScenarioResult& r) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : r.steps)
    steps.push_back({{"index", s.index}, {"cycle", s.cycle}, {"action", s.action}, {"target", s.target}, {"expected", s.expected},
                     {"outcome", s.outcome}, {"ok", s.ok}, {"detail", s.detail}, {"duration_s", s.duration_s},
                     {"analysis", s.analysis}});
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : r.checks) {
    nlohmann::json j = {{"step", c.step}, {"case", c.case_no}, {"name", c.name}, {"ok", c.ok}, {"detail", c.detail}};
    if (c.xfail) {
      j["xfail"] = true;
      j["evidence"] = c.evidence;
    }
    checks.push_back(j);
  }
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : r.console_findings)
    findings.push_back({{"kind", f.kind}, {"severity", severity_name(f.severity)}, {"headline", f.headline},
                        {"line", f.line_no}, {"lines", f.lines}});
  return {{"scenario", r.scenario},
          {"scenario_path", r.scenario_path},
          {"kernel", r.kernel},
          {"kernel_name", r.kernel_name},
          {"kernel_path", r.kernel_path},
          {"verdict", verdict_name(r.verdict)},
          {"reason", r.reason},
          {"duration_s", r.duration_s},
          {"boot_s", r.boot_s},
          {"accel", r.accel},
          {"cpu", r.cpu},
          {"scenario_cases", r.cases},
          {"cases", r.cases_covered},
          {"steps", steps},
          {"checks", checks},
          {"console_findings", findings},
          {"artifacts", r.artifacts},
          {"reproducer", r.reproducer}};
}

nlohmann::json report_to_json(const std::vector<ScenarioResult>& results) {
  nlohmann::json all = nlohmann::json::array();
  nlohmann::json counts = {{"pass", 0}, {"fail", 0}, {"error", 0}, {"skip", 0}, {"xfail", 0}};
  std::set<int> covered;
  int checks = 0, failed_checks = 0;
  for (const auto& r : results) {
    all.push_back(result_to_json(r));
    counts[verdict_name(r.verdict)] = counts[verdict_name(r.verdict)].get<int>() + 1;
    covered.insert(r.cases_covered.begin(), r.cases_covered.end());
    for (const auto& c : r.checks) {
      ++checks;
      failed_checks += c.ok ? 0 : 1;
    }
  }
  counts["total"] = results.size();
  counts["cases_covered"] = covered;
  counts["checks"] = checks;
  counts["checks_failed"] = failed_checks;
  return {{"format", "rig-results/1"}, {"results", all}, {"summary", counts}};
}

namespace {
void write_json(const nlohmann::json& j, const std::string& path) {
  std::ofstream out(path + ".tmp");
  out << j.dump(2) << "\n";
  out.close();
  if (!out || std::rename((path + ".tmp").c_str(), path.c_str()) != 0)
    throw InfraError(fmt::format("cannot write {}", path));
}
}  // namespace

void write_result_file(const ScenarioResult& r, const std::string& path) { write_json(result_to_json(r), path); }

void write_report_file(const std::vector<ScenarioResult>& results, const std::string& path) {
  write_json(report_to_json(results), path);
}

void print_table(const std::vector<ScenarioResult>& results, std::ostream& out) {
  out << fmt::format("{:<32} {:<24} {:<7} {:>8}  {}\n", "SCENARIO", "KERNEL", "VERDICT", "TIME", "DETAIL");
  for (const auto& r : results) {
    std::string detail = r.reason;
    if (detail.size() > 100) detail = detail.substr(0, 97) + "...";
    out << fmt::format("{:<32} {:<24} {:<7} {:>7.1f}s  {}\n", r.scenario, r.kernel, verdict_name(r.verdict), r.duration_s, detail);
  }
  auto j = report_to_json(results)["summary"];
  std::string cases;
  for (int c : j["cases_covered"]) cases += fmt::format("{}{}", cases.empty() ? "" : ",", c);
  out << fmt::format("spec cases covered: {}; checks: {} ({} failed)\n", cases.empty() ? "none" : cases, j["checks"].get<int>(),
                     j["checks_failed"].get<int>());
  out << fmt::format("{} passed, {} failed, {} errors, {} skipped, {} xfail\n", j["pass"].get<int>(), j["fail"].get<int>(),
                     j["error"].get<int>(), j["skip"].get<int>(), j["xfail"].get<int>());
}

int exit_status_for(const std::vector<ScenarioResult>& results) {
  bool fail = false, error = false;
  for (const auto& r : results) {
    fail |= r.verdict == Verdict::Fail;
    error |= r.verdict == Verdict::Error;
  }
  return error ? 3 : fail ? 1 : 0;
}

}  // namespace rig
