#include "rig/app/kernel_commands.h"
#include "rig/app/environment.h"
#include "rig/host/debian_archive.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <boost/filesystem.hpp>

#include "rig/app/progress.h"
#include "rig/app/scenario_selection.h"
#include "rig/base/atomic_file.h"
#include "rig/base/errors.h"
#include "rig/base/exit_status.h"
#include "rig/base/paths.h"
#include "rig/base/safe_read.h"
#include "rig/report/findings.h"
#include "rig/workflows/bisect_verdict.h"
#include "rig/report/results_report.h"
#include "rig/base/shell.h"
#include "rig/host/guest_image.h"
#include "rig/host/kernel_locator.h"
#include "rig/run/reproducer.h"
#include "rig/scenario/scenario_file.h"
#include "rig/run/suite_runner.h"
#include "rig/workflows/kernel_bisect.h"

namespace fs = boost::filesystem;

namespace rig::app {

int kernel_list(bool available) {
  std::cout << kernel_list_text(environment(), available, "/boot", progress_to_stderr);
  return 0;
}

int kernel_build(KernelBuildRequest req) {
  req.env = environment();
  KernelBuildResult r;
  try {
    r = build_kernel(req, progress_to_stderr);
  } catch (const KernelBuildFailed& e) {
    // Say whose failure it is: the kernel's source (a compile error) or the host (disk, tools).
    std::cerr << "rig: kernel build failed: " << diagnose_build_failure(e.exit_code(), e.log()).why << std::endl;
    return kExitInfra;
  }
  KernelImage k = locate_kernel(r.dir);
  if (!r.cached) std::cerr << fmt::format("[rig] built {} in {:.0f} s", k.release, r.seconds) << std::endl;
  // The probe and the guest image are part of a usable kernel: build them now, not at first run.
  const GuestImage image = guest_image(k, environment());
  if (image.probe.empty()) throw InfraError(image.probe_problem);
  std::cerr << fmt::format("[rig] probe {}", image.probe) << std::endl;
  std::cout << r.dir << "\n";
  return 0;
}

namespace {

// The finding's failures on `k`, seen in one run of `s` made for the reproducer: the run's
// artifacts go into DIR/rig-run. Empty, with `why`, when the finding did not show there.
std::optional<ScenarioResult> finding_run(Scenario s, const KernelImage& k, const RegisteredFinding& f,
                                          const std::string& dir, std::string& why) {
  s.xfails.clear();  // a known finding fails as it did before it was known
  SuiteOptions so;
  so.run.artifacts_root = dir + "/rig-run";
  so.env = environment();
  so.snapshots = false;
  make_private_dir(so.run.artifacts_root);
  std::vector<ScenarioResult> runs = run_suite({s}, {k}, so, progress_to_stderr);
  if (runs.empty()) throw InfraError("the scenario did not run");
  ScenarioResult r = runs.front();
  if (is_host_failure(r)) throw InfraError(fmt::format("{}: {}", r.scenario, r.reason));
  if (restrict_to_finding(r, f) == 0) {
    why = fmt::format(
        "finding {} did not show on {} (the run: {}{}; artifacts {}): nothing to reproduce; a kernel without it is "
        "judged with --signs-of the reproducer of one with it",
        f.id, k.release, verdict_name(r.verdict), r.reason.empty() ? "" : ", " + r.reason, r.artifacts);
    return std::nullopt;
  }
  return r;
}

}  // namespace

int repro(const ReproOptions& o) {
  if (!o.finding.empty() && !o.signs_of.empty())
    throw UsageError("--finding and --signs-of: the signs come from one or the other");
  Scenario s = load_scenario_file(o.scenario);
  const std::string home = o.home.empty() ? rig_home(environment()) : o.home;
  std::optional<RegisteredFinding> finding;
  if (!o.finding.empty()) {
    for (auto& f : findings_register(home))
      if (f.id == o.finding) finding = f;
    if (!finding)
      throw UsageError(
          fmt::format("--finding {}: no such entry in {}/rig/findings/ (rig findings lists them)", o.finding, home));
  }
  std::string expect, expect_from;
  if (!o.signs_of.empty()) {
    // Another user's folder may be named: read the file, never a link (safe_read.h).
    expect_from = (fs::path(o.signs_of) / "expect").string();
    expect = read_regular_file(expect_from, 1 << 20, "reproducer's expect file");
    const std::string from = "# From the failed run of " + s.name + " on ";
    if (expect.find("\nmode failure") == std::string::npos)
      throw UsageError(fmt::format("--signs-of {}: its expect holds no failed run's signs", o.signs_of));
    if (expect.find(from) == std::string::npos)
      throw UsageError(fmt::format("--signs-of {}: its signs are not of a run of scenario {}", o.signs_of, s.name));
  }
  KernelImage k = locate_kernel(o.kernel, environment());
  const std::string out = fs::absolute(o.out.empty() ? fmt::format("repro-{}-{}", s.name, k.release) : o.out).string();
  const GuestImage image = guest_image(k, environment());
  std::optional<ScenarioResult> failure;
  if (finding) {
    std::string why;
    failure = finding_run(s, k, *finding, out, why);
    if (!failure) {
      std::cerr << "rig: " << why << std::endl;
      return kExitFailed;
    }
  }
  const std::string dir =
      write_reproducer(s, k, image.initramfs, out, failure ? &*failure : nullptr, expect, expect_from);
  std::cout << dir << "/run.sh\n";
  if (!o.interactive) return 0;
  std::cout.flush();
  ::execl("/bin/sh", "sh", (dir + "/run.sh").c_str(), "--interactive", static_cast<char*>(nullptr));
  throw InfraError("cannot run the reproducer");
}

namespace {

// --case N or --finding ID (exactly one), checked; a finding's register entry read.
BisectTarget bisect_target(const BisectCommandOptions& a, const std::string& home) {
  BisectTarget t;
  if (!a.finding.empty()) {
    if (a.case_no != 0) throw UsageError("--case and --finding: name one of them");
    for (auto& f : findings_register(home))
      if (f.id == a.finding) t.finding = f;
    if (!t.finding)
      throw UsageError(
          fmt::format("--finding {}: no such entry in {}/rig/findings/ (rig findings lists them)", a.finding, home));
    if (t.finding->signatures.empty())
      throw UsageError(fmt::format("--finding {}: its entry has no signatures to look for", a.finding));
    return t;
  }
  if (a.case_no < 1 || a.case_no > 5)
    throw UsageError(a.case_no == 0 ? std::string("rig bisect needs --case N (1-5) or --finding ID")
                                    : fmt::format("--case {}: the spec has cases 1 to 5", a.case_no));
  t.case_no = a.case_no;
  return t;
}

// --scenario, else the finding's minimal scenario, else the shipped spec scenarios of the case.
std::vector<Scenario> bisect_scenarios(const BisectCommandOptions& a, const BisectTarget& t, const std::string& home) {
  if (!a.scenarios.empty()) return select_scenarios({a.scenarios, "", home});
  if (t.finding) {
    if (t.finding->scenario.empty())
      throw UsageError(
          fmt::format("--finding {}: its entry names no scenario; name one with --scenario", t.finding->id));
    const fs::path p = fs::path(t.finding->scenario).is_absolute() ? fs::path(t.finding->scenario)
                                                                   : fs::path(home) / t.finding->scenario;
    return select_scenarios({{p.string()}, "", home});
  }
  std::vector<Scenario> out = scenarios_for_case(select_scenarios({{}, "spec", home}), t.case_no);
  if (out.empty())
    throw UsageError(fmt::format("--case {}: no shipped scenario exercises it; name one with --scenario", t.case_no));
  return out;
}

// What continues the bisection in another command: --case N or --finding ID.
std::vector<std::string> target_args(const BisectTarget& t) {
  if (t.finding) return {"--finding", t.finding->id};
  return {"--case", std::to_string(t.case_no)};
}

}  // namespace

BisectOptions bisect_options(const BisectCommandOptions& a) {
  BisectOptions o;
  if (a.runs < 1) throw UsageError("--runs must be at least 1");
  const std::string home = a.home.empty() ? rig_home(environment()) : a.home;
  o.target = bisect_target(a, home);
  o.scenarios = bisect_scenarios(a, o.target, home);
  o.fix = a.fix || !a.fixed.empty();
  for (const auto& f : a.fragments) o.fragments.push_back(fs::absolute(f).string());
  o.runs = a.runs;
  o.src = fs::absolute(a.src).lexically_normal().string();
  if (!fs::exists(fs::path(o.src) / "Makefile")) throw UsageError(fmt::format("--src {}: not a kernel tree", a.src));
  o.log = fs::absolute(a.log).string();
  o.artifacts = fs::absolute(a.artifacts).lexically_normal().string();
  // One build directory for the whole bisection: each step rebuilds only what changed.
  o.kernel_out = a.kernel_out.empty() ? cache_dir(environment()) + "/kernels/bisect-" + content_hash(o.src)
                                      : fs::absolute(a.kernel_out).string();
  o.accel = a.accel;
  o.env = environment();
  return o;
}

int bisect_step(const BisectCommandOptions& a) {
  BisectOptions o;
  try {
    o = bisect_options(a);
  } catch (const UsageError& e) {
    // git bisect run aborts on exit codes above 127 only; a usage error must stop it, not skip.
    std::cerr << kBisectStopPrefix << e.what() << std::endl;
    return kBisectStopExit;
  }
  try {
    return rig::bisect_step(o, progress_to_stderr);
  } catch (const std::exception& e) {
    // The rig itself cannot work here (no QEMU, no disk, git failing): stop the bisection, do
    // not call the revision bad (1-127) or skip it (125) for a problem that is not the kernel's.
    std::cerr << kBisectStopPrefix << e.what() << std::endl;
    return kBisectStopExit;
  }
}

namespace {

// rig bisect --kernels: the last good and first bad of an ordered list of kernels the rig can name.
int bisect_over_kernels(const BisectCommandOptions& a) {
  if (a.runs < 1) throw UsageError("--runs must be at least 1");
  if (!a.good.empty() || !a.bad.empty() || !a.broken.empty() || !a.fixed.empty() || a.src != kDefaultBisectSrc)
    throw UsageError("--kernels bisects kernels the rig can name: not with --src, --good, --bad, --broken or --fixed");
  const Environment env = environment();
  const std::string home = a.home.empty() ? rig_home(env) : a.home;
  const BisectTarget target = bisect_target(a, home);
  std::vector<Scenario> scenarios = bisect_scenarios(a, target, home);
  if (a.count_known_failures)
    for (auto& sc : scenarios) sc.xfails.clear();
  std::vector<AvailableKernel> available;
  if (a.kernels.find("..") != std::string::npos)
    for (const auto& k : DebianArchive(env).available(progress_to_stderr)) available.push_back({k.release, k.upstream});
  const std::vector<std::string> kernels = kernel_list_from(a.kernels, available);
  std::cerr << fmt::format("[rig] bisecting {} kernels: {}", kernels.size(), fmt::join(kernels, " ")) << std::endl;

  SuiteOptions so;
  so.run.artifacts_root = fs::absolute(a.artifacts).lexically_normal().string();
  so.accel = a.accel;
  so.env = env;
  so.repeat = a.runs;
  so.snapshots = a.runs > 1;
  make_private_dir(so.run.artifacts_root);
  // Every run of the bisection, written after each kernel as results.json beside the runs: rig
  // compare and rig writeup take it (the first bad kernel against the last good one).
  std::vector<ScenarioResult> all;
  const std::string results_file = so.run.artifacts_root + "/results.json";
  auto test = [&](const std::string& name) -> BisectDecision {
    KernelImage k;
    try {
      k = locate_kernel(name, env);
    } catch (const UsageError& e) {
      return {BisectVerdict::Skip, fmt::format("cannot be named: {}", e.what()), ""};
    } catch (const std::exception& e) {
      return {BisectVerdict::Stop, e.what(), ""};
    }
    const std::vector<ScenarioResult> runs = run_suite(scenarios, {k}, so, progress_to_stderr);
    all.insert(all.end(), runs.begin(), runs.end());
    write_report_file(all, results_file);
    BisectDecision d = combine_kernel_runs(target, runs);
    std::cerr << fmt::format("[rig] {}: {} ({})", name, bisect_verdict_name(d.verdict), d.why) << std::endl;
    return d;
  };
  const KernelBisectResult r = bisect_kernels(kernels, test);
  for (const auto& st : r.steps)
    std::cout << fmt::format("{}: {}{}{}\n", st.kernel, bisect_verdict_name(st.decision.verdict),
                             st.decision.why.empty() ? "" : " (" + st.decision.why + ")",
                             st.decision.evidence.empty() ? "" : "; evidence: " + st.decision.evidence);
  std::cout << r.summary(kernels) << "\n";
  if (!r.stopped.empty()) return kExitInfra;
  if (!r.first_bad || !r.last_good) return kExitFailed;
  std::cout << "runs: " << results_file << " (rig compare, rig writeup --finding)\n";
  // The upstream tags where Debian's builds name them; else the reader names the two revisions.
  const std::string good = upstream_tag(kernels[*r.last_good], available),
                    bad = upstream_tag(kernels[*r.first_bad], available);
  // For a fix, the last bad kernel is where it is still broken and the first good where fixed.
  std::vector<std::string> next = {"rig",
                                   "bisect",
                                   "--src",
                                   "TREE",
                                   r.fix ? "--broken" : "--good",
                                   r.fix ? (bad.empty() ? "BROKEN" : bad) : (good.empty() ? "GOOD" : good),
                                   r.fix ? "--fixed" : "--bad",
                                   r.fix ? (good.empty() ? "FIXED" : good) : (bad.empty() ? "BAD" : bad)};
  for (const auto& w : target_args(target)) next.push_back(w);
  for (const auto& sc : scenarios) next.insert(next.end(), {"--scenario", fs::absolute(sc.path).string()});
  std::cout << "continue in your kernel tree"
            << (good.empty() || bad.empty()
                    ? (r.fix ? " (BROKEN, FIXED: their revisions)" : " (GOOD, BAD: their revisions)")
                    : "")
            << ": " << shell_join(next) << "\n";
  return 0;
}

}  // namespace

int bisect(const BisectCommandOptions& a) {
  if (!a.kernels.empty()) return bisect_over_kernels(a);
  if (a.count_known_failures)
    throw UsageError("--count-known-failures is for --kernels (a git bisection judges each step on its own)");
  const bool fix = !a.broken.empty() || !a.fixed.empty();
  if (fix && (!a.good.empty() || !a.bad.empty()))
    throw UsageError("--broken/--fixed look for a fix, --good/--bad for a regression: not both");
  if (fix ? (a.broken.empty() || a.fixed.empty()) : (a.good.empty() || a.bad.empty()))
    throw UsageError(
        "rig bisect needs --src TREE --good REV --bad REV (a regression), --src TREE --broken REV --fixed REV (a fix), "
        "or --kernels debian:A..debian:B");
  BisectOptions o = bisect_options(a);
  const std::string old_rev = fix ? a.broken : a.good, new_rev = fix ? a.fixed : a.bad;
  std::vector<std::string> step = {fs::canonical("/proc/self/exe").string(), "bisect-step"};
  for (const auto& w : target_args(o.target)) step.push_back(w);
  if (fix) step.push_back("--fix");
  step.insert(step.end(), {"--src", o.src, "--log", o.log, "--artifacts", o.artifacts, "--kernel-out", o.kernel_out,
                           "--runs", std::to_string(o.runs), "--accel", o.accel});
  for (const auto& s : o.scenarios) step.insert(step.end(), {"--scenario", fs::absolute(s.path).string()});
  for (const auto& f : o.fragments) step.insert(step.end(), {"--fragment", f});
  if (!o.log.empty())
    append_to_file(o.log, fmt::format("# rig bisect --{} --{} {} --{} {} in {}\n", o.target.name(),
                                      fix ? "broken" : "good", old_rev, fix ? "fixed" : "bad", new_rev, o.src));
  BisectRunResult r = bisect_run(o, old_rev, new_rev, step, progress_to_stderr);
  if (!r.stopped.empty()) {
    std::cerr << "rig: bisection stopped: " << r.stopped << std::endl;
    return kExitInfra;
  }
  if (r.first_bad.empty()) {
    std::cerr << "rig: git bisect named no first " << (fix ? "fixed" : "bad") << " commit; see " << o.log << std::endl;
    return kExitFailed;
  }
  std::cout << fmt::format("first {} commit: {} {}\n", fix ? "fixed" : "bad", r.first_bad, r.subject);
  if (!r.evidence.empty()) std::cout << "evidence: " << r.evidence << "\n";
  std::cout << "log: " << o.log << "\n";
  return 0;
}

}  // namespace rig::app
