#include "rig/report/results_report.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "rig/base/errors.h"
#include "rig/base/exit_status.h"
#include "rig/base/json_text.h"
#include "rig/base/safe_read.h"
#include "rig/base/text.h"
#include "rig/scenario/matrix.h"

namespace rig {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Pass: return "pass";
    case Verdict::Fail: return "fail";
    case Verdict::Error: return "error";
    case Verdict::Skip: return "skip";
    case Verdict::XFail: return "xfail";
    case Verdict::XPass: return "xpass";
  }
  return "?";
}

const char* check_status_name(CheckStatus s) {
  switch (s) {
    case CheckStatus::Pass: return "pass";
    case CheckStatus::Fail: return "fail";
    case CheckStatus::XFail: return "xfail";
    case CheckStatus::XPass: return "xpass";
    case CheckStatus::NotApplicable: return "n/a";
  }
  return "?";
}

namespace {
nlohmann::json entry_to_json(const ExpectedFailure& x) {
  return {{"case", x.case_no},    {"check", x.check},         {"kernel", x.kernel},
          {"pattern", x.pattern}, {"max_pages", x.max_pages}, {"evidence", x.evidence}};
}
}  // namespace

nlohmann::json result_to_json(const ScenarioResult& r) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : r.steps)
    steps.push_back({{"index", s.index},
                     {"cycle", s.cycle},
                     {"action", s.action},
                     {"target", s.target},
                     {"expected", s.expected},
                     {"outcome", s.outcome},
                     {"ok", s.ok},
                     {"detail", s.detail},
                     {"duration_s", s.duration_s},
                     {"analysis", s.analysis}});
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : r.checks) {
    nlohmann::json pages = nlohmann::json::array();
    for (const auto& p : c.pages)
      pages.push_back({{"pfn", p.pfn}, {"roles", p.roles}, {"expected", p.expected}, {"seen", p.seen}});
    nlohmann::json j = {
        {"step", c.step}, {"case", c.case_no},  {"name", c.name}, {"status", check_status_name(c.status)},
        {"ok", c.ok},     {"detail", c.detail}, {"pages", pages}};
    if (c.xfail) j["xfail"] = true;
    if (!c.evidence.empty()) j["evidence"] = c.evidence;
    if (!c.finding.empty()) j["finding"] = c.finding;
    checks.push_back(j);
  }
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : r.console_findings)
    findings.push_back({{"kind", f.kind},
                        {"severity", severity_name(f.severity)},
                        {"headline", f.headline},
                        {"line", f.line_no},
                        {"lines", f.lines}});
  nlohmann::json xpass = nlohmann::json::array();
  for (const auto& x : r.xpass) xpass.push_back(entry_to_json(x));
  nlohmann::json phases = nlohmann::json::object();
  for (const auto& p : r.phases) phases[p.name] = p.seconds;
  nlohmann::json nodes = nlohmann::json::array(), dimms = nlohmann::json::array();
  for (const auto& n : r.nodes) nodes.push_back({{"id", n.id}, {"cpus", n.cpus}, {"memory", n.memory}});
  for (const auto& d : r.dimms)
    dimms.push_back(
        {{"id", d.id}, {"size", d.size}, {"node", d.node}, {"addr", d.addr}, {"boot", d.boot}, {"present", d.present}});
  nlohmann::json vmems = nlohmann::json::array();
  for (const auto& v : r.virtio_mems)
    vmems.push_back({{"id", v.id},
                     {"size", v.size},
                     {"node", v.node},
                     {"addr", v.addr},
                     {"block_size", v.block_size},
                     {"requested", v.requested}});
  nlohmann::json j = {{"scenario", r.scenario},
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
                      {"cases_not_applicable", r.cases_not_applicable},
                      {"xpass", xpass},
                      {"steps", steps},
                      {"checks", checks},
                      {"console_findings", findings},
                      {"artifacts", r.artifacts},
                      {"reproducer", r.reproducer},
                      {"run", r.run},
                      {"start", r.start},
                      {"start_note", r.start_note},
                      {"snapshot", {{"file", r.snapshot}, {"key", r.snapshot_key}, {"note", r.snapshot_note}}},
                      {"phases", phases},
                      {"topology", {{"nodes", nodes}, {"dimms", dimms}}}};
  // Only when there are any: results of DIMM-only scenarios read as they always did.
  if (!vmems.empty()) j["topology"]["virtio_mems"] = vmems;
  // Which backend ran it; absent in reports from before there was a choice (all QEMU).
  if (!r.backend.empty()) j["backend"] = r.backend;
  // When the run began (UTC, ISO 8601); absent in reports from before it was recorded.
  if (!r.started.empty()) j["started"] = r.started;
  if (!r.cases_not_exercised.empty()) {
    nlohmann::json ne = nlohmann::json::array();
    for (const auto& [c, why] : r.cases_not_exercised) ne.push_back({{"case", c}, {"why", why}});
    j["cases_not_exercised"] = ne;
  }
  return j;
}

nlohmann::json report_to_json(const std::vector<ScenarioResult>& results, const RunInfo& info) {
  nlohmann::json all = nlohmann::json::array();
  nlohmann::json counts = {{"pass", 0}, {"fail", 0}, {"error", 0}, {"skip", 0}, {"xfail", 0}, {"xpass", 0}};
  std::set<int> covered, not_applicable;
  int checks = 0;
  std::map<CheckStatus, int> by_status;
  nlohmann::json xpass = nlohmann::json::array();
  nlohmann::json excused = nlohmann::json::array();
  for (const auto& r : results) {
    all.push_back(result_to_json(r));
    for (const auto& [c, why] : r.cases_not_exercised)
      excused.push_back({{"scenario", r.scenario}, {"kernel_release", r.kernel}, {"case", c}, {"why", why}});
    counts[verdict_name(r.verdict)] = counts[verdict_name(r.verdict)].get<int>() + 1;
    covered.insert(r.cases_covered.begin(), r.cases_covered.end());
    not_applicable.insert(r.cases_not_applicable.begin(), r.cases_not_applicable.end());
    for (const auto& c : r.checks) {
      ++checks;
      ++by_status[c.status];
    }
    for (const auto& x : r.xpass) {
      nlohmann::json e = entry_to_json(x);
      e["scenario"] = r.scenario;
      e["kernel_release"] = r.kernel;
      xpass.push_back(e);
    }
  }
  for (int c : covered) not_applicable.erase(c);
  counts["total"] = results.size();
  // Covered: a check that could have failed ran (pass, fail, xfail or xpass). Not applicable:
  // cases whose checks, in every run, could not have failed.
  counts["cases_covered"] = covered;
  counts["cases_not_applicable"] = not_applicable;
  counts["checks"] = checks;
  counts["checks_failed"] = by_status[CheckStatus::Fail];
  counts["checks_xfail"] = by_status[CheckStatus::XFail];
  counts["checks_xpass"] = by_status[CheckStatus::XPass];
  counts["checks_not_applicable"] = by_status[CheckStatus::NotApplicable];
  counts["xpass_entries"] = xpass;
  // Declared cases a scenario excused ([not_exercised]) where no check could fail on them.
  counts["cases_not_exercised"] = excused;
  nlohmann::json matrix = nlohmann::json::array();
  int flaky = 0;
  for (const auto& row : matrix_rows(results)) {
    matrix.push_back({{"scenario", row.scenario},
                      {"kernel", row.kernel},
                      {"runs", row.runs},
                      {"passed", row.passed},
                      {"verdict", row.verdict}});
    flaky += row.verdict == "flaky";
  }
  counts["matrix"] = matrix;
  counts["flaky"] = flaky;
  counts["shard"] = info.shard;
  counts["jobs"] = info.jobs;
  counts["repeat"] = info.repeat;
  counts["wall_s"] = info.wall_s;
  counts["complete"] = info.complete;
  return {{"format", "rig-results/2"}, {"results", all}, {"summary", counts}};
}

namespace {

Verdict verdict_from_name(const std::string& v) {
  for (Verdict x : {Verdict::Pass, Verdict::Fail, Verdict::Error, Verdict::Skip, Verdict::XFail, Verdict::XPass})
    if (v == verdict_name(x)) return x;
  throw UsageError(fmt::format("unknown verdict \"{}\"", v));
}

CheckStatus check_status_from_name(const std::string& v) {
  for (CheckStatus x :
       {CheckStatus::Pass, CheckStatus::Fail, CheckStatus::XFail, CheckStatus::XPass, CheckStatus::NotApplicable})
    if (v == check_status_name(x)) return x;
  throw UsageError(fmt::format("unknown check status \"{}\"", v));
}

template <typename T>
T get_or(const nlohmann::json& j, const char* key, T fallback) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? fallback : it->get<T>();
}

}  // namespace

ScenarioResult result_from_json(const nlohmann::json& j) {
  try {
    if (!j.is_object() || !j.contains("scenario") || !j.contains("verdict"))
      throw UsageError("a result without \"scenario\" or \"verdict\"");
    ScenarioResult r;
    r.scenario = j.at("scenario").get<std::string>();
    r.scenario_path = get_or<std::string>(j, "scenario_path", "");
    r.kernel = get_or<std::string>(j, "kernel", "");
    r.kernel_name = get_or<std::string>(j, "kernel_name", "");
    r.kernel_path = get_or<std::string>(j, "kernel_path", "");
    r.verdict = verdict_from_name(j.at("verdict").get<std::string>());
    r.reason = get_or<std::string>(j, "reason", "");
    r.duration_s = get_or<double>(j, "duration_s", 0);
    r.boot_s = get_or<double>(j, "boot_s", 0);
    r.backend = get_or<std::string>(j, "backend", "");
    r.accel = get_or<std::string>(j, "accel", "");
    r.cpu = get_or<std::string>(j, "cpu", "");
    r.cases = get_or<std::vector<int>>(j, "scenario_cases", {});
    r.cases_covered = get_or<std::vector<int>>(j, "cases", {});
    r.cases_not_applicable = get_or<std::vector<int>>(j, "cases_not_applicable", {});
    for (const auto& e : get_or<nlohmann::json>(j, "cases_not_exercised", nlohmann::json::array())) {
      const int c = e.is_object() ? get_or<int>(e, "case", 0) : 0;
      if (c < 1 || c > 5) throw UsageError("cases_not_exercised: an entry without a case from 1 to 5");
      r.cases_not_exercised[c] = get_or<std::string>(e, "why", "");
    }
    for (const auto& s : get_or<nlohmann::json>(j, "steps", nlohmann::json::array())) {
      StepResult st;
      st.index = get_or<int>(s, "index", 0);
      st.cycle = get_or<int>(s, "cycle", 1);
      st.action = get_or<std::string>(s, "action", "");
      st.target = get_or<std::string>(s, "target", "");
      st.expected = get_or<std::string>(s, "expected", "");
      st.outcome = get_or<std::string>(s, "outcome", "");
      st.ok = get_or<bool>(s, "ok", false);
      st.detail = get_or<std::string>(s, "detail", "");
      st.duration_s = get_or<double>(s, "duration_s", 0);
      st.analysis = get_or<std::vector<std::string>>(s, "analysis", {});
      r.steps.push_back(std::move(st));
    }
    for (const auto& c : get_or<nlohmann::json>(j, "checks", nlohmann::json::array())) {
      CheckRecord rec;
      rec.step = get_or<int>(c, "step", -1);
      rec.case_no = get_or<int>(c, "case", 0);
      rec.name = get_or<std::string>(c, "name", "");
      rec.ok = get_or<bool>(c, "ok", false);
      rec.detail = get_or<std::string>(c, "detail", "");
      rec.xfail = get_or<bool>(c, "xfail", false);
      rec.evidence = get_or<std::string>(c, "evidence", "");
      rec.finding = get_or<std::string>(c, "finding", "");
      // rig-results/1 had no status: derive it as judge() did then.
      rec.status = c.contains("status") ? check_status_from_name(c.at("status").get<std::string>())
                   : rec.xfail          ? CheckStatus::XFail
                   : rec.ok             ? CheckStatus::Pass
                                        : CheckStatus::Fail;
      rec.applicable = rec.status != CheckStatus::NotApplicable;
      for (const auto& p : get_or<nlohmann::json>(c, "pages", nlohmann::json::array()))
        rec.pages.push_back({p.at("pfn").get<uint64_t>(), get_or<std::string>(p, "roles", ""),
                             get_or<std::string>(p, "expected", ""), get_or<std::string>(p, "seen", "")});
      r.checks.push_back(std::move(rec));
    }
    for (const auto& x : get_or<nlohmann::json>(j, "xpass", nlohmann::json::array())) {
      ExpectedFailure e;
      e.case_no = get_or<int>(x, "case", 0);
      e.check = get_or<std::string>(x, "check", "");
      e.kernel = get_or<std::string>(x, "kernel", "");
      e.pattern = get_or<std::string>(x, "pattern", "");
      e.max_pages = get_or<uint64_t>(x, "max_pages", 1);
      e.evidence = get_or<std::string>(x, "evidence", "");
      r.xpass.push_back(std::move(e));
    }
    for (const auto& f : get_or<nlohmann::json>(j, "console_findings", nlohmann::json::array())) {
      ConsoleFinding cf;
      cf.kind = get_or<std::string>(f, "kind", "");
      const std::string sev = get_or<std::string>(f, "severity", "");
      cf.severity = sev == "notice" ? Severity::Notice : sev == "crash" ? Severity::Crash : Severity::Failure;
      cf.headline = get_or<std::string>(f, "headline", "");
      cf.line_no = get_or<size_t>(f, "line", 0);
      cf.lines = get_or<std::vector<std::string>>(f, "lines", {});
      r.console_findings.push_back(std::move(cf));
    }
    r.artifacts = get_or<std::string>(j, "artifacts", "");
    r.reproducer = get_or<std::string>(j, "reproducer", "");
    r.run = get_or<int>(j, "run", 1);
    r.started = get_or<std::string>(j, "started", "");
    r.start = get_or<std::string>(j, "start", "");
    r.start_note = get_or<std::string>(j, "start_note", "");
    if (auto snap = j.find("snapshot"); snap != j.end() && snap->is_object()) {
      r.snapshot = get_or<std::string>(*snap, "file", "");
      r.snapshot_key = get_or<std::string>(*snap, "key", "");
      r.snapshot_note = get_or<std::string>(*snap, "note", "");
    }
    const nlohmann::json phases = get_or<nlohmann::json>(j, "phases", nlohmann::json::object());
    for (const auto& [name, secs] : phases.items()) r.phases.push_back({name, secs.get<double>()});
    if (auto topo = j.find("topology"); topo != j.end() && topo->is_object()) {
      for (const auto& n : get_or<nlohmann::json>(*topo, "nodes", nlohmann::json::array()))
        r.nodes.push_back(
            {n.at("id").get<int>(), get_or<std::string>(n, "cpus", ""), get_or<uint64_t>(n, "memory", 0)});
      for (const auto& d : get_or<nlohmann::json>(*topo, "dimms", nlohmann::json::array())) {
        Dimm dm;
        dm.id = d.at("id").get<std::string>();
        dm.size = d.at("size").get<uint64_t>();
        dm.node = get_or<int>(d, "node", 0);
        dm.addr = d.at("addr").get<uint64_t>();
        dm.boot = get_or<bool>(d, "boot", false);
        dm.present = get_or<bool>(d, "present", dm.boot);
        r.dimms.push_back(std::move(dm));
      }
      for (const auto& d : get_or<nlohmann::json>(*topo, "virtio_mems", nlohmann::json::array())) {
        VirtioMem v;
        v.id = d.at("id").get<std::string>();
        v.size = d.at("size").get<uint64_t>();
        v.node = get_or<int>(d, "node", 0);
        v.addr = d.at("addr").get<uint64_t>();
        v.block_size = get_or<uint64_t>(d, "block_size", v.block_size);
        v.requested = get_or<uint64_t>(d, "requested", 0);
        r.virtio_mems.push_back(std::move(v));
      }
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(fmt::format("a result is malformed: {}", e.what()));
  }
}

LoadedReport report_from_json(const nlohmann::json& j) {
  LoadedReport out;
  try {
    if (j.is_object() && j.contains("format")) {
      const std::string format = j.at("format").get<std::string>();
      if (format != "rig-results/1" && format != "rig-results/2")
        throw UsageError(
            fmt::format("format \"{}\" is not one this rig reads (rig-results/1 or rig-results/2)", format));
      if (!j.contains("results") || !j.at("results").is_array()) throw UsageError("no \"results\" array");
      for (const auto& r : j.at("results")) out.results.push_back(result_from_json(r));
      if (auto s = j.find("summary"); s != j.end() && s->is_object()) {
        out.info.shard = get_or<std::string>(*s, "shard", "");
        out.info.jobs = get_or<int>(*s, "jobs", 0);
        out.info.repeat = get_or<int>(*s, "repeat", 1);
        out.info.wall_s = get_or<double>(*s, "wall_s", 0);
        out.info.complete = get_or<bool>(*s, "complete", true);
      }
    } else if (j.is_object() && j.contains("scenario")) {
      out.results.push_back(result_from_json(j));  // one run's result.json
    } else {
      throw UsageError("neither a rig results file (\"format\": \"rig-results/N\") nor a run's result.json");
    }
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(fmt::format("malformed results: {}", e.what()));
  }
  return out;
}

LoadedReport load_results_file(const std::string& path) {
  const nlohmann::json j = parse_json_text(read_regular_file(path, kMaxResultsBytes, "results file"), path);
  try {
    return report_from_json(j);
  } catch (const UsageError& e) {
    throw UsageError(fmt::format("{}: {}", one_line(path, 300), one_line(e.what(), 300)));
  }
}

namespace {
void write_json(const nlohmann::json& j, const std::string& path) { write_file_atomically(path, j.dump(2) + "\n"); }
}  // namespace

void write_result_file(const ScenarioResult& r, const std::string& path) { write_json(result_to_json(r), path); }

void write_report_file(const std::vector<ScenarioResult>& results, const std::string& path, const RunInfo& info) {
  write_json(report_to_json(results, info), path);
}

void print_table(const std::vector<ScenarioResult>& results, std::ostream& out) {
  out << fmt::format("{:<32} {:<24} {:<7} {:>8}  {}\n", "SCENARIO", "KERNEL", "VERDICT", "TIME", "DETAIL");
  for (const auto& r : results) {
    std::string detail = r.reason;
    if (detail.size() > 100) detail = detail.substr(0, 97) + "...";
    out << fmt::format("{:<32} {:<24} {:<7} {:>7.1f}s  {}\n", r.scenario, r.kernel, verdict_name(r.verdict),
                       r.duration_s, detail);
  }
  auto j = report_to_json(results)["summary"];
  auto list = [](const nlohmann::json& a) {
    std::string out;
    for (int c : a) out += fmt::format("{}{}", out.empty() ? "" : ",", c);
    return out.empty() ? std::string("none") : out;
  };
  out << fmt::format("spec cases covered: {}; only n/a: {}; checks: {} ({} failed, {} xfail, {} xpass, {} n/a)\n",
                     list(j["cases_covered"]), list(j["cases_not_applicable"]), j["checks"].get<int>(),
                     j["checks_failed"].get<int>(), j["checks_xfail"].get<int>(), j["checks_xpass"].get<int>(),
                     j["checks_not_applicable"].get<int>());
  for (const auto& x : j["xpass_entries"])
    out << fmt::format("XPASS {} on {}: xfail entry case {} {} (evidence: {}) no longer fails: remove or narrow it\n",
                       x["scenario"].get<std::string>(), x["kernel_release"].get<std::string>(), x["case"].get<int>(),
                       x["check"].get<std::string>(), x["evidence"].get<std::string>());
  for (const auto& row : matrix_rows(results))
    if (row.runs > 1 || row.verdict == "flaky")
      out << fmt::format("{} on {}: {} of {} runs passed: {}\n", row.scenario, row.kernel, row.passed, row.runs,
                         row.verdict);
  out << fmt::format("{} passed, {} failed, {} errors, {} skipped, {} xfail, {} xpass{}\n", j["pass"].get<int>(),
                     j["fail"].get<int>(), j["error"].get<int>(), j["skip"].get<int>(), j["xfail"].get<int>(),
                     j["xpass"].get<int>(),
                     j["flaky"].get<int>() > 0 ? fmt::format("; {} flaky", j["flaky"].get<int>()) : "");
}

int exit_status_for(const std::vector<ScenarioResult>& results) {
  bool fail = false, error = false;
  for (const auto& r : results) {
    fail |= r.verdict == Verdict::Fail;
    error |= r.verdict == Verdict::Error;
  }
  return exit_status(fail, error);
}

}  // namespace rig
