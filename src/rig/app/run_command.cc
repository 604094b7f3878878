#include "rig/app/run_command.h"
#include "rig/app/environment.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <boost/filesystem.hpp>

#include "rig/app/output_paths.h"
#include "rig/app/progress.h"
#include "rig/app/scenario_selection.h"
#include "rig/base/errors.h"
#include "rig/base/exit_status.h"
#include "rig/base/paths.h"
#include "rig/base/text.h"
#include "rig/host/kernel_locator.h"
#include "rig/host/qemu_process.h"
#include "rig/host/snapshot_cache.h"
#include "rig/report/html_report.h"
#include "rig/report/kcidb.h"
#include "rig/report/kernel_compare.h"
#include "rig/report/results_report.h"
#include "rig/report/test_reports.h"
#include "rig/base/atomic_file.h"
#include "rig/base/safe_read.h"
#include "rig/base/shell.h"
#include "rig/report/writeup.h"
#include "rig/scenario/scenario_file.h"
#include "rig/run/machine_factory.h"
#include "rig/run/progress_board.h"
#include "rig/run/suite_runner.h"
#include "rig/scenario/matrix.h"

namespace fs = boost::filesystem;

namespace rig::app {

RunOutputs run_outputs(const RunOptions& o) {
  RunOutputs r{o.json, o.junit, o.ktap, o.html, o.kcidb, o.artifacts};
  if (!o.out.empty()) {
    // One folder with everything a CI job keeps: reports and artifacts.
    if (r.json.empty()) r.json = o.out + "/results.json";
    if (r.junit.empty()) r.junit = o.out + "/junit.xml";
    if (r.ktap.empty()) r.ktap = o.out + "/results.ktap";
    if (!o.artifacts_given) r.artifacts = o.out + "/runs";
    if (r.kcidb.empty() && (!o.kcidb_origin.empty() || !o.kcidb_artifacts_url.empty())) r.kcidb = o.out + "/kcidb.json";
  }
  r.artifacts = fs::absolute(r.artifacts).lexically_normal().string();
  // report.html beside the JSON (or in --out), else in the artifacts folder: every run has one.
  if (r.html.empty())
    r.html =
        (r.json.empty() ? fs::path(r.artifacts) / "report.html" : fs::absolute(r.json).parent_path() / "report.html")
            .string();
  return r;
}

int run(const RunOptions& a) {
  // Everything the user gave is checked before anything boots.
  const BackendConfig backend{a.backend, a.qemu, a.accel, a.connect};
  validate_backend(backend);
  if (a.repeat < 1) throw UsageError(fmt::format("--repeat {}: must be at least 1", a.repeat));
  const KcidbOptions kcidb_opts{a.kcidb_origin.empty() ? "rig" : a.kcidb_origin, a.kcidb_artifacts_url};
  check_kcidb_options(kcidb_opts);
  if (a.kcidb.empty() && a.out.empty() && (!a.kcidb_origin.empty() || !a.kcidb_artifacts_url.empty()))
    throw UsageError(fmt::format("--{}: needs --kcidb FILE or --out DIR (where the KCIDB file goes)",
                                 a.kcidb_origin.empty() ? "kcidb-artifacts-url" : "kcidb-origin"));
  if (a.jobs < 0) throw UsageError(fmt::format("-j {}: must be at least 1 (or 0: as many as the host allows)", a.jobs));
  Shard shard;
  if (!a.shard.empty()) shard = parse_shard(a.shard);
  if (!a.no_snapshots) snapshot_cache_max(environment());
  const std::string home = a.home.empty() ? rig_home(environment()) : a.home;
  const std::vector<Scenario> scenarios = select_scenarios({a.scenarios, a.suite, home});
  const std::vector<RegisteredFinding> findings = findings_register(home);  // a bad entry is exit 2, before any boot
  check_backend_reachable(backend);                                         // the QEMU binary too, for the QEMU backend
  if (!a.out.empty()) make_private_dir(fs::absolute(a.out).string());
  const RunOutputs out = run_outputs(a);
  check_parent_dir("--json", out.json);
  check_parent_dir("--junit", out.junit);
  check_parent_dir("--ktap", out.ktap);
  check_parent_dir("--kcidb", out.kcidb);
  if (!a.html.empty()) check_parent_dir("--html", out.html);  // else in a folder made below
  // Last: a kernel named from Debian's archive is downloaded, after every cheaper check passed.
  std::vector<KernelImage> kernels;
  for (const auto& k : kernels_or_default(a.kernels)) kernels.push_back(locate_kernel(k, environment()));
  const std::string json_dir = out.json.empty() ? "" : fs::absolute(out.json).parent_path().string();

  SuiteOptions opts;
  opts.env = environment();
  opts.run.artifacts_root = out.artifacts;
  if (a.boot_timeout > 0) opts.run.timeouts.boot = a.boot_timeout;
  if (a.step_timeout > 0) opts.run.timeouts.step = a.step_timeout;
  opts.backend = a.backend;
  opts.connect = a.connect;
  opts.accel = a.accel;
  opts.qemu = a.qemu;
  opts.jobs = a.jobs;
  opts.repeat = a.repeat;
  opts.shard = shard;
  opts.snapshots = !a.no_snapshots;

  RunInfo info;
  info.shard = a.shard;
  info.jobs = a.jobs;
  info.repeat = a.repeat;
  const auto started = std::chrono::steady_clock::now();
  // Every report is rewritten after each run, atomically: a run that is killed or interrupted
  // leaves valid reports of what it finished.
  auto write_reports = [&](const std::vector<ScenarioResult>& results, bool complete) {
    info.complete = complete;
    info.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (!out.json.empty()) write_report_file(results, out.json, info);
    if (!out.junit.empty()) {
      std::ostringstream x;
      write_junit(results, x);
      write_file_atomically(out.junit, x.str());
    }
    if (!out.ktap.empty() && out.ktap != "-") {
      std::ostringstream x;
      write_ktap(results, x);
      write_file_atomically(out.ktap, x.str());
    }
    if (!out.kcidb.empty()) write_kcidb_file(results, kcidb_opts, out.kcidb);
    write_html_report(results, info, out.html, json_dir, ResultsOrigin::ThisRun);
  };
  opts.after_each = [&](const std::vector<ScenarioResult>& so_far) { write_reports(so_far, false); };
  make_private_dir(opts.run.artifacts_root);

  std::vector<ScenarioResult> results;
  {
    const bool live = stderr_is_live_terminal();
    ProgressBoard board(std::cerr, live);
    ProgressTicker ticker(board, live);
    results = run_suite(scenarios, kernels, opts, [&](const RunEvent& e) { board.handle(e); });
  }

  // Each failure new or known (rig/findings/), before the reports are written: they carry it.
  const std::vector<FindingNote> notes = match_findings(results, findings);
  if (out.ktap == "-")
    write_ktap(results, std::cout);
  else
    print_table(results, std::cout);
  // With KTAP on stdout the findings go to stderr: a KTAP stream has no place for them.
  std::ostream& said = out.ktap == "-" ? std::cerr : std::cout;
  for (const auto& n : notes) said << "finding: " << n.text() << "\n";
  write_reports(results, true);
  std::cerr << "[rig] report: " << out.html << std::endl;
  if (a.fail_on == "new") return exit_status_failing_on_new(results, notes);
  return exit_status_for(results);
}

int report(const ReportOptions& o) {
  const LoadedReport loaded = load_results_file(o.results);
  const fs::path dir = fs::absolute(o.results).parent_path();
  const std::string out = o.out.empty() ? (dir / "report.html").string() : o.out;
  check_parent_dir("-o", out);
  write_html_report(loaded.results, loaded.info, out, dir.string());
  std::cout << out << "\n";
  return 0;
}

namespace {

// The kernel of `kernels` that `name` names: equal, or the only one it begins.
std::string pick_kernel(const std::vector<std::string>& kernels, const std::string& name, const char* which) {
  std::vector<std::string> hits;
  for (const auto& k : kernels) {
    if (k == name) return k;
    if (k.rfind(name, 0) == 0) hits.push_back(k);
  }
  if (hits.size() == 1) return hits[0];
  std::string have;
  for (const auto& k : kernels) have += (have.empty() ? "" : ", ") + k;
  throw UsageError(fmt::format("-{} {}: {} kernel in the results (they have {})", which, name,
                               hits.empty() ? "no such" : "more than one", have));
}

}  // namespace

int findings(const FindingsOptions& o) {
  const auto reg = findings_register(o.home.empty() ? rig_home(environment()) : o.home);
  if (o.results.empty()) {
    for (const auto& f : reg) {
      std::cout << fmt::format("{} ({}{}): {}\n", f.id, f.status, f.fixed_in.empty() ? "" : ", fixed in " + f.fixed_in,
                               f.title);
      for (const auto& sig : f.signatures) std::cout << "  signature: " << sig << "\n";
      if (!f.note.empty()) std::cout << "  note: " << f.note << "\n";
    }
    return 0;
  }
  std::vector<ScenarioResult> all;
  for (const auto& file : o.results) {
    auto loaded = load_results_file(file);
    all.insert(all.end(), loaded.results.begin(), loaded.results.end());
  }
  bool fresh = false;
  for (const auto& n : match_findings(all, reg)) {
    std::cout << n.text() << "\n";
    fresh |= n.kind == FindingNote::New;
  }
  return fresh ? 1 : 0;
}

int writeup(const WriteupOptions& o) {
  const LoadedReport loaded = load_results_file(o.results);
  const std::vector<RegisteredFinding> reg = findings_register(o.home.empty() ? rig_home(environment()) : o.home);
  std::optional<RegisteredFinding> finding;
  if (!o.finding.empty()) {
    if (!o.check.empty()) throw UsageError("--finding and --check: the finding names its checks");
    for (const auto& f : reg)
      if (f.id == o.finding) finding = f;
    if (!finding)
      throw UsageError(
          fmt::format("--finding {}: no such entry in rig/findings/ (rig findings lists them)", o.finding));
  }
  const ScenarioResult* chosen = nullptr;
  for (const auto& r : loaded.results) {
    if (!o.scenario.empty() && r.scenario != o.scenario) continue;
    if (!o.kernel.empty() && r.kernel.rfind(o.kernel, 0) != 0) continue;
    if (finding) {
      if (finding_presence(*finding, r).kind != FindingPresence::Shows) continue;
      chosen = &r;
      break;
    }
    if (r.verdict != Verdict::Fail && !(r.verdict == Verdict::XFail && !o.check.empty())) continue;
    if (!o.check.empty() && std::none_of(r.checks.begin(), r.checks.end(), [&](const CheckRecord& c) {
          return c.name == o.check && (c.status == CheckStatus::Fail || c.status == CheckStatus::XFail);
        }))
      continue;
    chosen = &r;
    break;
  }
  if (!chosen) {
    std::cerr << fmt::format("rig: no {} in {}{}{}", finding ? "run showing finding " + finding->id : "failed run",
                             o.results, o.scenario.empty() ? "" : " of scenario " + o.scenario,
                             o.kernel.empty() ? "" : " on kernel " + o.kernel)
              << std::endl;
    return kExitFailed;
  }
  ScenarioResult run = *chosen;
  // The QEMU command line and the console from the run's artifacts, when they are still beside
  // the results; the scenario's steps from its file, when it is still where the run read it.
  std::vector<std::string> qemu;
  WriteupSources sources;
  const std::string dir =
      locate_run_artifacts(chosen->artifacts, fs::absolute(o.results).parent_path().string(), ResultsOrigin::File);
  if (!dir.empty()) {
    try {
      std::istringstream in(read_regular_file(dir + "/qemu-command.sh", 1 << 16, "the run's QEMU command"));
      for (std::string line; std::getline(in, line);)
        if (line.rfind("exec ", 0) == 0) qemu = shell_split(line.substr(5)).value_or(std::vector<std::string>{});
    } catch (const std::exception&) {
      // No command line in the report: it says how to reproduce without it.
    }
    try {
      std::istringstream in(read_regular_file(dir + "/console.log", 64 << 20, "the run's console"));
      for (std::string line; std::getline(in, line);) sources.console.push_back(line);
    } catch (const std::exception&) {
      // No console lines before the kernel's reports.
    }
  }
  // A shipped scenario is named as in the rig's tree (rig/scenarios/X.toml), so the report reads
  // the same from any checkout; such a name is looked up there.
  const std::string home = o.home.empty() ? rig_home(environment()) : o.home;
  std::string scenario_file = chosen->scenario_path;
  const std::string home_prefix = fs::path(home).lexically_normal().string() + "/";
  if (run.scenario_path.rfind(home_prefix, 0) == 0) {
    run.scenario_path = run.scenario_path.substr(home_prefix.size());
  } else if (const size_t at = run.scenario_path.rfind("/rig/scenarios/"); at != std::string::npos) {
    // Results from another checkout or machine: a shipped scenario of that name is this tree's.
    const std::string shipped = run.scenario_path.substr(at + 1);
    if (fs::is_regular_file(fs::path(home) / shipped)) {
      run.scenario_path = shipped;
      scenario_file = (fs::path(home) / shipped).string();
    }
  }
  if (!scenario_file.empty() && fs::path(scenario_file).is_relative() && !fs::exists(scenario_file))
    scenario_file = (fs::path(home) / scenario_file).string();
  try {
    if (!scenario_file.empty()) {
      const Scenario s = load_scenario_file(scenario_file);
      for (int c = 0; c < s.cycles; ++c)
        sources.planned_steps.insert(sources.planned_steps.end(), s.steps.begin(), s.steps.end());
    }
  } catch (const std::exception&) {
    // The steps the run finished only.
  }
  if (finding) {
    // That finding alone: the run's other failures are listed, not written up.
    restrict_to_finding(run, *finding, &sources.other_failures);
    // The steps as they went: another failure's step is listed under "Other failures", never
    // shown as having ended as asked.
    run.steps = chosen->steps;
    sources.finding = finding;
  } else {
    // The register's entry for the failure the write-up is headed by: its check (the one named,
    // or the first that failed), else its first kernel report.
    const std::vector<Failure> failures = failures_of(run);
    const Failure* head = nullptr;
    for (const auto& f : failures)
      if (!head && f.kind == Failure::Check && (o.check.empty() || f.check == o.check)) head = &f;
    for (const auto& f : failures)
      if (!head && f.kind == Failure::Report) head = &f;
    if (head)
      if (const RegisteredFinding* known = registered_finding(reg, run.scenario, run.kernel, *head))
        sources.finding = *known;
  }
  const std::string text = writeup_text(run, loaded.results, qemu, o.check, sources);
  if (o.out.empty()) {
    std::cout << text;
  } else {
    check_parent_dir("-o", o.out);
    write_file_atomically(o.out, text);
    std::cout << o.out << "\n";
  }
  return 0;
}

int kcidb(const KcidbCommandOptions& o) {
  const KcidbOptions k{o.origin.empty() ? "rig" : o.origin, o.artifacts_url};
  check_kcidb_options(k, "--origin", "--artifacts-url");
  if (!o.out.empty()) check_parent_dir("-o", o.out);
  const LoadedReport loaded = load_results_file(o.results);
  if (o.out.empty()) {
    std::cout << kcidb_report(loaded.results, k).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    write_kcidb_file(loaded.results, k, o.out);
    std::cout << o.out << "\n";
  }
  return 0;
}

int compare(const CompareOptions& o) {
  std::vector<ScenarioResult> all;
  for (const auto& f : o.results) {
    LoadedReport loaded = load_results_file(f);
    all.insert(all.end(), loaded.results.begin(), loaded.results.end());
  }
  const std::vector<std::string> kernels = kernels_of(all);
  if (kernels.size() < 2 && (o.a.empty() || o.b.empty()))
    throw UsageError(fmt::format("the results hold {} kernel{}: a comparison needs two", kernels.size(),
                                 kernels.size() == 1 ? "" : "s"));
  const std::string a = o.a.empty() ? kernels[0] : pick_kernel(kernels, o.a, "a");
  std::string b;
  if (!o.b.empty()) {
    b = pick_kernel(kernels, o.b, "b");
  } else {
    for (const auto& k : kernels)
      if (k != a) {
        b = k;
        break;
      }
  }
  if (a == b) throw UsageError(fmt::format("-a and -b name the same kernel, {}", a));
  const KernelComparison c = compare_kernels(all, a, b);
  std::cout << comparison_text(c, o.all);
  return c.changed() ? 1 : 0;
}

}  // namespace rig::app
