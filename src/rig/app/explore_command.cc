#include "rig/app/explore_command.h"

#include <fmt/format.h>

#include <functional>
#include <iostream>
#include <boost/filesystem.hpp>

#include "rig/app/defaults.h"
#include "rig/app/environment.h"
#include "rig/app/progress.h"
#include "rig/app/scenario_selection.h"
#include "rig/base/clock.h"
#include "rig/base/errors.h"
#include "rig/base/exit_status.h"
#include "rig/base/paths.h"
#include "rig/host/kernel_locator.h"
#include "rig/host/qemu_process.h"
#include "rig/host/snapshot_cache.h"
#include "rig/run/machine_factory.h"
#include "rig/run/progress_board.h"

namespace fs = boost::filesystem;

namespace rig::app {

int explore_exit_status(const ExploreSummary& s) {
  bool failed = false;
  for (const auto& f : s.findings) failed |= !f.finding.known && !f.flaky;
  return exit_status(failed, s.coverage.runs > 0 && s.coverage.errors == s.coverage.runs);
}

int explore(const ExploreCommandOptions& a) {
  // Everything checked before anything boots.
  const auto budget = parse_duration(a.budget);
  if (!budget) throw UsageError(fmt::format("--budget {}: not a duration (e.g. 20m, 1h30m, 90s)", a.budget));
  if (a.jobs < 0) throw UsageError(fmt::format("-j {}: must be at least 1 (or 0: as many as the host allows)", a.jobs));
  if (a.max_tries < 0) throw UsageError(fmt::format("--max-tries {}: must not be negative", a.max_tries));
  ExploreOptions o;
  o.budget_s = *budget;
  o.seed = a.seed;
  o.out = fs::absolute(a.out.empty() ? fmt::format("rig-explore-{}", a.seed) : a.out).lexically_normal().string();
  o.max_minimize_tries = a.max_tries;
  // The factory's checks, as rig run makes them (the QEMU binary among them), before a kernel
  // is fetched.
  const BackendConfig backend{kDefaultBackend, a.qemu, a.accel, ""};
  validate_backend(backend);
  check_backend_reachable(backend);
  const std::string home = a.home.empty() ? rig_home(environment()) : a.home;
  o.known = known_failures(home);
  o.findings_register = findings_register(home);  // a bad entry is exit 2, before any boot
  const std::vector<std::string> kernels = kernels_or_default(a.kernels);
  for (const auto& k : kernels) o.kernels.push_back(locate_kernel(k, environment()));
  o.suite.accel = a.accel;
  o.suite.qemu = a.qemu;
  o.suite.jobs = a.jobs;
  o.suite.snapshots = !a.no_snapshots;
  o.suite.env = environment();
  if (!a.no_snapshots) snapshot_cache_max(environment());
  progress_to_stderr(fmt::format("explore: seed {}, budget {:.0f} s, kernels {}, output {}", o.seed, o.budget_s,
                                 fmt::join(kernels, " "), o.out));
  // On a terminal: the guests' live lines and a status line with the budget left; elsewhere one
  // line per run.
  const bool live = stderr_is_live_terminal();
  ProgressBoard board(std::cerr, live);
  std::function<void(const std::string&)> progress = progress_to_stderr;
  if (live) {
    const auto deadline = ProgressBoard::Clock::now() + as_duration(o.budget_s);
    o.on_event = [&](const RunEvent& e) {
      if (e.kind != RunEvent::Kind::Note) board.handle(e);
    };
    o.status = [&board, deadline](const std::string& text) { board.set_status(text, deadline); };
    // A finished guest has its own line above the live ones; the plain "run N: ..." would repeat it.
    progress = [&](const std::string& line) {
      if (line.rfind("run ", 0) != 0) board.print(line);
    };
  }
  ExploreSummary s;
  {
    ProgressTicker ticker(board, live);
    s = rig::explore(o, progress);
  }
  return explore_exit_status(s);
}

}  // namespace rig::app
