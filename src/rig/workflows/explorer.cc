#include "rig/workflows/explorer.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <map>
#include <nlohmann/json.hpp>

#include "rig/base/clock.h"
#include "rig/base/errors.h"
#include "rig/base/paths.h"
#include "rig/report/results_report.h"
#include "rig/scenario/scenario_writer.h"

namespace fs = boost::filesystem;

namespace rig {

namespace {

std::string slug(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (ok)
      out += c;
    else if (c >= 'A' && c <= 'Z')
      out += static_cast<char>(c - 'A' + 'a');
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.substr(0, 60);
}

std::string dimm_classes(const Draw& d) {
  std::string out;
  for (const auto& [id, c] : d.dimm_class) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", id, c);
  return out;
}

nlohmann::json summary_json(const ExploreOptions& o, const ExploreSummary& s, bool complete) {
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : s.findings)
    findings.push_back({{"signature", f.finding.signature},
                        {"kind", f.finding.kind},
                        {"case", f.finding.case_no},
                        {"check", f.finding.check},
                        {"role", f.finding.role},
                        {"boundary", f.finding.boundary},
                        {"headline", f.finding.headline},
                        {"known", f.finding.known},
                        {"finding", f.finding.finding_id},
                        {"xfail", f.finding.xfail},
                        {"kernel", f.kernel},
                        {"found_in", f.found_in},
                        {"minimized", f.minimized},
                        {"reproducer", f.reproducer},
                        {"confirmed", f.confirmed},
                        {"flaky", f.flaky},
                        {"minimize_tries", f.minimize_tries},
                        {"with", f.with}});
  nlohmann::json kernels = nlohmann::json::array();
  for (const auto& k : o.kernels) kernels.push_back(k.release);
  const Coverage& c = s.coverage;
  return {{"format", "rig-explore/1"},
          {"seed", o.seed},
          {"budget_s", o.budget_s},
          {"kernels", kernels},
          {"seconds", s.seconds},
          {"complete", complete},
          {"findings", findings},
          {"coverage",
           {{"runs", c.runs},
            {"errors", c.errors},
            {"seconds_per_run", c.runs ? c.run_seconds / c.runs : 0.0},
            {"boundaries", c.boundaries},
            {"drawn", c.features},
            {"cases", c.cases},
            {"roles", c.roles}}}};
}

// "known ID" or "NEW", as rig run says it.
std::string known_text(const Finding& f) { return f.known ? "known " + f.finding_id : std::string("NEW"); }

bool has_signature(const ScenarioResult& r, const Scenario& s, const std::vector<RegisteredFinding>& reg,
                   const std::string& signature) {
  for (const auto& f : findings_of(r, s, reg))
    if (f.signature == signature) return true;
  return false;
}

}  // namespace

ExploreSummary explore(const ExploreOptions& o, const std::function<void(const std::string&)>& progress) {
  const auto started = Clock::now();
  auto left = [&] { return o.budget_s - seconds_since(started); };
  for (const char* sub : {"", "/generated", "/findings", "/runs"}) make_private_dir(o.out + sub);
  ExploreSummary sum;
  std::map<std::string, size_t> by_signature;
  SuiteOptions so = o.suite;
  so.run.artifacts_root = o.out + "/runs";
  so.repeat = 1;
  so.after_each = nullptr;
  const int jobs = so.jobs > 0 ? so.jobs : 2;
  const size_t batch = static_cast<size_t>(std::max(2, 2 * jobs));
  auto save = [&](bool complete) {
    sum.seconds = seconds_since(started);
    write_file_atomically(o.out + "/explore.json", summary_json(o, sum, complete).dump(2) + "\n");
  };
  const std::function<void(const RunEvent&)> quiet = o.on_event ? o.on_event : [](const RunEvent&) {};
  auto status = [&] {
    if (o.status)
      o.status(fmt::format("explore: {} runs, {} findings ({} not known), {:.1f} s per run", sum.coverage.runs,
                           sum.findings.size(),
                           std::count_if(sum.findings.begin(), sum.findings.end(),
                                         [](const ExploreFinding& f) { return !f.finding.known; }),
                           sum.coverage.runs ? sum.coverage.run_seconds / sum.coverage.runs : 0.0));
  };
  status();

  uint64_t index = 0;
  while (left() > 0) {
    std::vector<Draw> draws;
    std::vector<Scenario> scenarios;
    for (size_t i = 0; i < batch; ++i) {
      Draw d = draw_scenario(o.seed, index++);
      d.scenario.xfails.insert(d.scenario.xfails.end(), o.known.begin(), o.known.end());
      d.scenario.path = fmt::format("{}/generated/{}.toml", o.out, d.scenario.name);
      Scenario plain = d.scenario;
      plain.xfails.clear();  // the file holds the draw only; known failures come from rig/known-failures.toml
      write_file_atomically(d.scenario.path,
                            scenario_toml(plain, fmt::format("rig explore --seed {}, draw {}\nboundary classes: {}",
                                                             o.seed, index - 1, dimm_classes(d))));
      scenarios.push_back(d.scenario);
      draws.push_back(std::move(d));
    }
    std::vector<ScenarioResult> results = run_suite(scenarios, o.kernels, so, quiet);
    for (const auto& r : results) {
      const auto dit =
          std::find_if(draws.begin(), draws.end(), [&](const Draw& d) { return d.scenario.name == r.scenario; });
      if (dit == draws.end())
        throw InfraError(fmt::format("explore: a result for {}, which this batch did not draw", r.scenario));
      const Draw& draw = *dit;
      sum.coverage.add(r, draw);
      const auto found = findings_of(r, draw.scenario, o.findings_register);
      status();
      progress(fmt::format("run {}: {} on {}: {} ({:.1f} s){}; {} findings, {:.0f} s left", sum.coverage.runs,
                           r.scenario, r.kernel, verdict_name(r.verdict), r.duration_s,
                           r.verdict == Verdict::Error ? ": " + r.reason.substr(0, 120) : "", sum.findings.size(),
                           std::max(0.0, left())));
      size_t first_new = 0;  // 1-based: the finding of this run that gets minimized
      for (const auto& f : found) {
        if (by_signature.count(f.signature)) continue;
        by_signature[f.signature] = sum.findings.size();
        ExploreFinding ef;
        ef.finding = f;
        ef.kernel = r.kernel;
        ef.found_in = draw.scenario.path;
        ef.reproducer = r.reproducer;
        progress(fmt::format("finding {}: {} ({} on {}): {}: {}", sum.findings.size() + 1, known_text(f), r.scenario,
                             r.kernel, f.signature, f.headline));
        sum.findings.push_back(ef);
        status();
        save(false);
        // Several new signatures from one run are most often one defect seen by several checks
        // (a leaked page fails its check and MemTotal): the first is minimized, the others go
        // with its scenario.
        if (first_new) {
          sum.findings.back().with = first_new;
          sum.findings.back().minimized = sum.findings[first_new - 1].minimized;
          sum.findings.back().confirmed = sum.findings[first_new - 1].confirmed;
          sum.findings.back().flaky = sum.findings[first_new - 1].flaky;
          continue;
        }
        // A known finding (in the register) has its scenario and evidence already: recorded, not
        // minimized.
        if (f.known) {
          sum.findings.back().minimized = draw.scenario.path;
          continue;
        }
        first_new = sum.findings.size();
        if (left() <= 0) continue;

        // Minimize on the kernel that showed it, every candidate run twice at once.
        const auto kit = std::find_if(o.kernels.begin(), o.kernels.end(),
                                      [&](const KernelImage& k) { return k.release == r.kernel; });
        if (kit == o.kernels.end()) continue;
        ExploreFinding& cur = sum.findings.back();
        const size_t n = sum.findings.size();
        int tries = 0;
        auto still_fails = [&](const Scenario& candidate) {
          if (left() <= 0) return false;
          Scenario c = candidate;
          c.name = fmt::format("explore-finding-{}-try{}", n, ++tries);
          SuiteOptions twice = so;
          twice.repeat = 2;
          auto rs = run_suite({c}, {*kit}, twice, quiet);
          bool all = !rs.empty();
          for (const auto& x : rs) all = all && has_signature(x, c, o.findings_register, f.signature);
          progress(fmt::format("  minimize {}: try {}: {} DIMMs, {} steps: {}", n, tries, c.dimms.size(),
                               c.steps.size(), all ? "fails twice, kept" : "does not repeat it"));
          if (all) cur.reproducer = rs.back().reproducer;
          return all;
        };
        Minimized m = minimize(draw.scenario, still_fails, o.max_minimize_tries);
        cur.minimize_tries = m.tries;
        // Nothing smaller failed: the draw itself must still fail twice to be confirmed. With the
        // budget spent first it stays unconfirmed, which is not flaky: nobody saw it pass.
        if (m.steps_taken > 0) {
          cur.confirmed = true;
        } else if (left() > 0) {
          cur.confirmed = still_fails(draw.scenario);
          cur.flaky = !cur.confirmed && left() > 0;
        }
        const std::string status = cur.confirmed ? "fails twice"
                                   : cur.flaky   ? "NOT confirmed: it did not fail twice (flaky)"
                                                 : "not confirmed: the budget was spent first";
        Scenario out = m.scenario;
        out.name = fmt::format("explore-finding-{}-{}", n, slug(f.signature));
        out.description = fmt::format("found by rig explore (seed {}) on {}: {}", o.seed, r.kernel, f.signature);
        out.xfails.clear();
        const std::string dir = fmt::format("{}/findings/{}-{}", o.out, n, slug(f.signature));
        make_private_dir(dir);
        cur.minimized = dir + "/scenario.toml";
        write_file_atomically(
            cur.minimized,
            scenario_toml(out, fmt::format("{}\n{}\nfound in {} on {}; minimized in {} runs of 2 ({} steps taken); {}",
                                           f.signature, f.headline.substr(0, 200), draw.scenario.path, r.kernel,
                                           m.tries, m.steps_taken, status)));
        progress(fmt::format("finding {} minimized: {} ({} DIMMs, {} steps){}", n, cur.minimized, out.dimms.size(),
                             out.steps.size(), cur.confirmed ? "" : "; " + status));
        save(false);
      }
      // The companions of this run's first finding share its minimized scenario.
      for (auto& f : sum.findings)
        if (first_new && f.with == first_new) {
          f.minimized = sum.findings[first_new - 1].minimized;
          f.confirmed = sum.findings[first_new - 1].confirmed;
          f.flaky = sum.findings[first_new - 1].flaky;
        }
    }
    save(false);
  }
  save(true);
  progress(coverage_table(sum.coverage, sum.findings.size()));
  for (size_t i = 0; i < sum.findings.size(); ++i) {
    const auto& f = sum.findings[i];
    progress(fmt::format("finding {}: {}: {}{}{} on {}\n  {}\n  scenario: {}\n  reproducer: {}", i + 1,
                         known_text(f.finding), f.finding.signature,
                         f.confirmed || f.finding.known ? ""  // a known one is not run again
                         : f.flaky                      ? " (flaky: did not fail twice)"
                                                        : " (not confirmed)",
                         f.with ? fmt::format(" (with finding {})", f.with) : "", f.kernel, f.finding.headline,
                         f.minimized.empty() ? f.found_in : f.minimized, f.reproducer.empty() ? "-" : f.reproducer));
  }
  return sum;
}

}  // namespace rig
