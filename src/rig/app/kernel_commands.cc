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
#include "rig/base/errors.h"
#include "rig/base/exit_status.h"
#include "rig/base/paths.h"
#include "rig/host/guest_image.h"
#include "rig/host/kernel_locator.h"
#include "rig/run/reproducer.h"
#include "rig/scenario/scenario_file.h"

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

int repro(const ReproOptions& o) {
  Scenario s = load_scenario_file(o.scenario);
  KernelImage k = locate_kernel(o.kernel, environment());
  const std::string out = o.out.empty() ? fmt::format("repro-{}-{}", s.name, k.release) : o.out;
  const GuestImage image = guest_image(k, environment());
  const std::string dir = write_reproducer(s, k, image.initramfs, fs::absolute(out).string(), nullptr);
  std::cout << dir << "/run.sh\n";
  if (!o.interactive) return 0;
  std::cout.flush();
  ::execl("/bin/sh", "sh", (dir + "/run.sh").c_str(), "--interactive", static_cast<char*>(nullptr));
  throw InfraError("cannot run the reproducer");
}

BisectOptions bisect_options(const BisectCommandOptions& a) {
  BisectOptions o;
  o.case_no = a.case_no;
  if (a.case_no < 1 || a.case_no > 5) throw UsageError(fmt::format("--case {}: the spec has cases 1 to 5", a.case_no));
  if (a.runs < 1) throw UsageError("--runs must be at least 1");
  const std::string home = a.home.empty() ? rig_home(environment()) : a.home;
  o.scenarios = a.scenarios.empty() ? scenarios_for_case(select_scenarios({{}, "spec", home}), a.case_no)
                                    : select_scenarios({a.scenarios, "", home});
  if (o.scenarios.empty())
    throw UsageError(fmt::format("--case {}: no shipped scenario exercises it; name one with --scenario", a.case_no));
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

int bisect(const BisectCommandOptions& a) {
  BisectOptions o = bisect_options(a);
  std::vector<std::string> step = {fs::canonical("/proc/self/exe").string(),
                                   "bisect-step",
                                   "--case",
                                   std::to_string(o.case_no),
                                   "--src",
                                   o.src,
                                   "--log",
                                   o.log,
                                   "--artifacts",
                                   o.artifacts,
                                   "--kernel-out",
                                   o.kernel_out,
                                   "--runs",
                                   std::to_string(o.runs),
                                   "--accel",
                                   o.accel};
  for (const auto& s : o.scenarios) step.insert(step.end(), {"--scenario", fs::absolute(s.path).string()});
  for (const auto& f : o.fragments) step.insert(step.end(), {"--fragment", f});
  std::ofstream(o.log, std::ios::app) << fmt::format("# rig bisect --case {} good {} bad {} in {}\n", o.case_no, a.good,
                                                     a.bad, o.src);
  BisectRunResult r = bisect_run(o, a.good, a.bad, step, progress_to_stderr);
  if (!r.stopped.empty()) {
    std::cerr << "rig: bisection stopped: " << r.stopped << std::endl;
    return kExitInfra;
  }
  if (r.first_bad.empty()) {
    std::cerr << "rig: git bisect named no first bad commit; see " << o.log << std::endl;
    return kExitFailed;
  }
  std::cout << fmt::format("first bad commit: {} {}\n", r.first_bad, r.subject);
  if (!r.evidence.empty()) std::cout << "evidence: " << r.evidence << "\n";
  std::cout << "log: " << o.log << "\n";
  return 0;
}

}  // namespace rig::app
