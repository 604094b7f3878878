#include "rig/workflows/bisect.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <boost/process.hpp>
#include <fstream>
#include <iostream>

#include "rig/workflows/bisect_verdict.h"
#include "rig/base/clock.h"
#include "rig/base/atomic_file.h"
#include "rig/base/errors.h"
#include "rig/host/host_command.h"
#include "rig/workflows/kernel_builder.h"
#include "rig/host/kernel_locator.h"
#include "rig/base/paths.h"
#include "rig/run/suite_runner.h"

namespace bp = boost::process;
namespace fs = boost::filesystem;

namespace rig {
namespace {

std::string git_line(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-C", dir});
  return first_line(run_capture(args));
}

// git that must work: a failure is the host's (git missing or broken, the tree unreadable).
std::string git_checked(const std::string& dir, const std::vector<std::string>& args) {
  const auto git = bp::search_path("git");
  if (git.empty()) throw InfraError("git not found");
  std::vector<std::string> argv = {"-C", dir};
  argv.insert(argv.end(), args.begin(), args.end());
  bp::ipstream out, err;
  bp::child c(git, argv, bp::std_out > out, bp::std_err > err, bp::std_in < bp::null);
  std::string text, line, first_err;
  while (std::getline(out, line)) text += line + "\n";
  while (std::getline(err, line))
    if (first_err.empty()) first_err = line;
  c.wait();
  if (c.exit_code() != 0)
    throw InfraError(fmt::format("git {} failed in {} (exit {}): {}", args[0], dir, c.exit_code(), first_err));
  return first_line(text);
}

void append_log(const std::string& path, const std::string& line) {
  if (path.empty()) return;
  append_to_file(path, line + "\n");
}

}  // namespace

std::vector<Scenario> scenarios_for_case(const std::vector<Scenario>& all, int case_no) {
  std::vector<Scenario> out;
  for (const auto& s : all)
    if (std::find(s.cases.begin(), s.cases.end(), case_no) != s.cases.end()) out.push_back(s);
  return out;
}

int bisect_step(const BisectOptions& opts, const ProgressSink& progress) {
  const std::string rev = git_checked(opts.src, {"rev-parse", "--short=12", "HEAD"});
  const auto started = Clock::now();
  auto stop = [&](const std::string& why) {
    // Not the kernel's fault: say so once, in the log and on stderr, and abort git bisect run.
    try {
      append_log(opts.log, fmt::format("{} stop after {:.0f} s: {}", rev, seconds_since(started), why));
    } catch (const std::exception&) {
    }
    std::cerr << kBisectStopPrefix << rev << ": " << why << std::endl;
    return kBisectStopExit;
  };
  KernelBuildRequest req;
  req.src = opts.src;
  req.fragments = opts.fragments;
  req.out = opts.kernel_out;
  req.env = opts.env;
  KernelImage kernel;
  try {
    KernelBuildResult built = build_kernel(req, progress);
    kernel = locate_kernel(built.dir);
  } catch (const KernelBuildFailed& e) {
    // Only a kernel whose source does not build is skipped; a build the host broke stops.
    const BuildFailureDiagnosis d = diagnose_build_failure(e.exit_code(), e.log());
    if (!d.kernel) return stop(d.why);
    append_log(opts.log, fmt::format("{} build failed after {:.0f} s: skip ({})", rev, seconds_since(started), d.why));
    progress(fmt::format("bisect-step {}: build failed: skip ({})", rev, d.why));
    return bisect_exit_code(BisectVerdict::Skip);
  } catch (const UsageError& e) {
    return stop(e.what());  // e.g. a fragment that turns off what the rig needs: same on every revision
  } catch (const std::exception& e) {
    return stop(fmt::format("host failure, not the kernel's: {}", e.what()));
  }
  const double build_s = seconds_since(started);

  SuiteOptions so;
  so.run.artifacts_root = opts.artifacts;
  so.accel = opts.accel;
  so.env = opts.env;
  so.repeat = opts.runs;
  so.snapshots = opts.runs > 1;  // every step is a new kernel: a snapshot pays only for its repeats
  make_private_dir(opts.artifacts);
  std::vector<ScenarioResult> results = run_suite(opts.scenarios, {kernel}, so, progress);
  BisectDecision d = decide_bisect_step(opts.target, results);
  if (d.verdict == BisectVerdict::Stop) return stop(d.why);
  append_log(opts.log, fmt::format("{} {} build {:.0f} s, test {:.0f} s: {}: {}{}", rev, kernel.release, build_s,
                                   seconds_since(started) - build_s, bisect_verdict_name(d.verdict), d.why,
                                   d.evidence.empty() ? "" : "; evidence: " + d.evidence));
  progress(fmt::format("bisect-step {}: {} ({})", rev, bisect_verdict_name(d.verdict), d.why));
  return bisect_exit_code(d.verdict, opts.fix);
}

BisectRunResult bisect_run(const BisectOptions& opts, const std::string& good, const std::string& bad,
                           const std::vector<std::string>& step_args, const ProgressSink& progress) {
  const std::string git = bp::search_path("git").string();
  if (git.empty()) throw UsageError("git not found");
  if (git_line(opts.src, {"rev-parse", "--verify", good + "^{commit}"}).empty())
    throw UsageError(fmt::format("--good {}: not a commit in {}", good, opts.src));
  if (git_line(opts.src, {"rev-parse", "--verify", bad + "^{commit}"}).empty())
    throw UsageError(fmt::format("--bad {}: not a commit in {}", bad, opts.src));

  bp::system(git, "-C", opts.src, "bisect", "reset", bp::std_out > bp::null, bp::std_err > bp::null);
  const int started = opts.fix
                          ? bp::system(git, "-C", opts.src, "bisect", "start", "--term-old=broken", "--term-new=fixed",
                                       bad, good, bp::std_out > bp::null, bp::std_err > bp::null)
                          : bp::system(git, "-C", opts.src, "bisect", "start", bad, good, bp::std_out > bp::null,
                                       bp::std_err > bp::null);
  if (started != 0) throw UsageError("git bisect start failed (is the tree clean?)");

  std::vector<std::string> args = {"-C", opts.src, "bisect", "run"};
  args.insert(args.end(), step_args.begin(), step_args.end());
  bp::ipstream out;
  bp::child c(git, args, (bp::std_out & bp::std_err) > out);
  BisectRunResult res;
  std::string line;
  const std::string stop_prefix = kBisectStopPrefix;
  while (std::getline(out, line)) {
    progress(line);
    if (line.rfind(stop_prefix, 0) == 0 && res.stopped.empty()) res.stopped = line.substr(stop_prefix.size());
    auto at = line.find(opts.fix ? " is the first fixed commit" : " is the first bad commit");
    if (at != std::string::npos) res.first_bad = line.substr(0, at);
  }
  c.wait();
  if (!res.first_bad.empty()) {
    res.subject = git_line(opts.src, {"log", "-1", "--format=%s", res.first_bad});
    std::ifstream log(opts.log);
    const std::string short_id = res.first_bad.substr(0, 12);
    while (std::getline(log, line))
      if (line.rfind(short_id, 0) == 0 && line.find("; evidence: ") != std::string::npos)
        res.evidence = line.substr(line.find("; evidence: ") + 12);
  }
  bp::system(git, "-C", opts.src, "bisect", "reset", bp::std_out > bp::null, bp::std_err > bp::null);
  return res;
}

}  // namespace rig
