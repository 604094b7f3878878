#include "rig/scenario/matrix.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "rig/base/errors.h"

namespace rig {

Shard parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  auto number = [&](const std::string& part) {
    if (part.empty() || part.size() > 6 || part.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoi(part);
  };
  Shard s;
  if (slash != std::string::npos) {
    s.index = number(text.substr(0, slash));
    s.count = number(text.substr(slash + 1));
  }
  if (slash == std::string::npos || s.index < 1 || s.count < 1 || s.index > s.count)
    throw UsageError(fmt::format("--shard {}: expected I/N with 1 <= I <= N, e.g. 1/2", text));
  return s;
}

std::vector<MatrixItem> plan_matrix(const std::vector<std::string>& scenario_names,
                                    const std::vector<std::string>& kernel_names, int repeat, Shard shard) {
  struct Pair {
    size_t scenario, kernel;
  };
  std::vector<Pair> pairs;
  for (size_t k = 0; k < kernel_names.size(); ++k)
    for (size_t s = 0; s < scenario_names.size(); ++s) pairs.push_back({s, k});
  // Shards are cut from the order by names, which every machine of a CI matrix computes alike.
  std::vector<size_t> by_name(pairs.size());
  std::iota(by_name.begin(), by_name.end(), 0);
  std::stable_sort(by_name.begin(), by_name.end(), [&](size_t a, size_t b) {
    const auto ka = std::tie(scenario_names[pairs[a].scenario], kernel_names[pairs[a].kernel]);
    const auto kb = std::tie(scenario_names[pairs[b].scenario], kernel_names[pairs[b].kernel]);
    return ka < kb;
  });
  std::vector<bool> mine(pairs.size(), false);
  for (size_t pos = 0; pos < by_name.size(); ++pos)
    if (static_cast<int>(pos % static_cast<size_t>(shard.count)) == shard.index - 1) mine[by_name[pos]] = true;
  std::vector<MatrixItem> items;
  for (size_t i = 0; i < pairs.size(); ++i)
    if (mine[i])
      for (int r = 1; r <= std::max(1, repeat); ++r) items.push_back({pairs[i].scenario, pairs[i].kernel, r});
  return items;
}

GuestCost guest_cost(const Scenario& s) {
  GuestCost c;
  c.vcpus = std::max(1, s.machine.smp);
  c.ram = s.boot_ram() + (256ull << 20);  // QEMU itself, TCG's translation cache
  for (const auto& d : s.dimms) c.ram += d.size;
  return c;
}

HostBudget host_budget(int cpus, uint64_t mem_available, int jobs) {
  HostBudget b;
  b.cpus = std::max(1, cpus);
  b.ram = mem_available / 5 * 4;
  b.jobs = std::max(0, jobs);
  return b;
}

bool fits(const HostBudget& b, const std::vector<GuestCost>& running, const GuestCost& next) {
  if (running.empty()) return true;
  if (b.jobs > 0 && static_cast<int>(running.size()) >= b.jobs) return false;
  int vcpus = next.vcpus;
  uint64_t ram = next.ram;
  for (const auto& g : running) {
    vcpus += g.vcpus;
    ram += g.ram;
  }
  if (b.jobs == 0 && vcpus > b.cpus) return false;
  return ram <= b.ram;
}

int default_jobs(const HostBudget& b, const GuestCost& typical) {
  std::vector<GuestCost> running;
  while (running.size() < 1024 && fits(b, running, typical)) running.push_back(typical);
  return static_cast<int>(running.size());
}

std::vector<MatrixRow> matrix_rows(const std::vector<ScenarioResult>& results) {
  // Worst first: the verdict of a pair whose runs all passed or all failed.
  auto rank = [](Verdict v) {
    switch (v) {
      case Verdict::Error: return 0;
      case Verdict::Fail: return 1;
      case Verdict::XPass: return 2;
      case Verdict::XFail: return 3;
      case Verdict::Pass: return 4;
      case Verdict::Skip: return 5;
    }
    return 0;
  };
  std::vector<MatrixRow> rows;
  std::map<std::pair<std::string, std::string>, size_t> index;
  std::map<size_t, Verdict> worst;
  std::map<size_t, int> failed;
  for (const auto& r : results) {
    auto key = std::make_pair(r.scenario, r.kernel);
    auto [it, fresh] = index.emplace(key, rows.size());
    if (fresh) {
      rows.push_back({r.scenario, r.kernel, 0, 0, ""});
      worst[it->second] = r.verdict;
    }
    MatrixRow& row = rows[it->second];
    ++row.runs;
    const bool passed = r.verdict == Verdict::Pass || r.verdict == Verdict::XFail || r.verdict == Verdict::XPass;
    if (passed) ++row.passed;
    if (r.verdict == Verdict::Fail || r.verdict == Verdict::Error) ++failed[it->second];
    if (rank(r.verdict) < rank(worst[it->second])) worst[it->second] = r.verdict;
  }
  for (size_t i = 0; i < rows.size(); ++i)
    rows[i].verdict = rows[i].passed > 0 && failed[i] > 0 ? "flaky" : verdict_name(worst[i]);
  return rows;
}

}  // namespace rig
