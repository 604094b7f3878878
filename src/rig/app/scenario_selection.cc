#include "rig/app/scenario_selection.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/filesystem.hpp>

#include "rig/app/environment.h"
#include "rig/base/errors.h"
#include "rig/base/safe_read.h"
#include "rig/scenario/scenario_file.h"

namespace fs = boost::filesystem;

namespace rig::app {

std::vector<std::string> shipped_scenario_files(const std::string& home) {
  std::vector<std::string> files;
  boost::system::error_code ec;
  for (fs::directory_iterator it(home + "/rig/scenarios", ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".toml") files.push_back(it->path().string());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<ExpectedFailure> known_failures(const std::string& home) {
  const std::string known = home + "/rig/known-failures.toml";
  return fs::exists(known) ? load_known_failures(known) : std::vector<ExpectedFailure>{};
}

std::vector<RegisteredFinding> findings_register(const std::string& home) {
  std::vector<std::string> files;
  boost::system::error_code ec;
  for (fs::directory_iterator it(home + "/rig/findings", ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".toml") files.push_back(it->path().string());
  std::sort(files.begin(), files.end());
  std::vector<RegisteredFinding> out;
  for (const auto& f : files) out.push_back(parse_finding(read_regular_file(f, 1 << 16, "finding file"), f));
  return out;
}

void merge_known_failures(std::vector<Scenario>& scenarios, const std::vector<ExpectedFailure>& known) {
  for (auto& s : scenarios) s.xfails.insert(s.xfails.end(), known.begin(), known.end());
}

std::vector<Scenario> select_scenarios(const ScenarioSelection& sel) {
  std::vector<Scenario> out;
  for (const auto& f : sel.files) out.push_back(load_scenario_file(f));
  if (!sel.suite.empty()) {
    // "spec,virtio-mem": the shipped scenarios of any of them, each once, in file order.
    std::vector<std::string> wanted;
    for (size_t at = 0; at <= sel.suite.size();) {
      const size_t comma = std::min(sel.suite.find(',', at), sel.suite.size());
      const std::string one = sel.suite.substr(at, comma - at);
      if (one.empty()) throw UsageError(fmt::format("--suite {}: an empty suite name", sel.suite));
      wanted.push_back(one);
      at = comma + 1;
    }
    const size_t named = out.size();
    for (const auto& f : shipped_scenario_files(sel.home)) {
      Scenario s = load_scenario_file(f);
      if (std::any_of(wanted.begin(), wanted.end(), [&](const std::string& w) {
            return std::find(s.suites.begin(), s.suites.end(), w) != s.suites.end();
          }))
        out.push_back(s);
    }
    for (const auto& w : wanted) {
      bool any = false;
      for (size_t i = named; i < out.size() && !any; ++i)
        any = std::find(out[i].suites.begin(), out[i].suites.end(), w) != out[i].suites.end();
      if (!any)
        throw UsageError(wanted.size() == 1
                             ? fmt::format("--suite {}: no shipped scenario belongs to that suite", sel.suite)
                             : fmt::format("--suite {}: no shipped scenario belongs to suite {}", sel.suite, w));
    }
  }
  if (out.empty()) throw UsageError("no scenario given (name scenario files or use --suite)");
  merge_known_failures(out, known_failures(sel.home));
  // RIG_PROBE=kcore|module: the guest's probe reads the kernel that way (images/probe/rig-probe.c).
  const std::string& route = environment().probe_route;
  if (route == "kcore" || route == "module") {
    for (auto& s : out) s.machine.kernel_args.push_back("rig.probe=" + route);
  } else if (!route.empty() && route != "auto") {
    throw UsageError(fmt::format("RIG_PROBE={}: the probe reads the kernel by kcore, module or auto", route));
  }
  return out;
}

}  // namespace rig::app
