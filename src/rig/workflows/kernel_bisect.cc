#include "rig/workflows/kernel_bisect.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "rig/base/errors.h"
#include "rig/host/debian_archive.h"

namespace rig {

std::string KernelBisectResult::summary(const std::vector<std::string>& kernels) const {
  if (!stopped.empty()) return "bisection stopped: " + stopped;
  if (first_bad && last_good && fix)
    return fmt::format(
        "fixed in: {} is the first good kernel (last bad: {}{})", kernels[*last_good], kernels[*first_bad],
        *last_good - *first_bad > 1 ? fmt::format("; {} skipped between them", *last_good - *first_bad - 1) : "");
  if (first_bad && last_good)
    return fmt::format(
        "first bad kernel: {} (last good: {}{})", kernels[*first_bad], kernels[*last_good],
        *first_bad - *last_good > 1 ? fmt::format("; {} skipped between them", *first_bad - *last_good - 1) : "");
  if (kernels.empty()) return "no kernels";
  auto verdict_of = [&](size_t i) -> std::optional<BisectVerdict> {
    for (const auto& st : steps)
      if (st.index == i) return st.decision.verdict;
    return std::nullopt;
  };
  const auto first = verdict_of(0), last = verdict_of(kernels.size() - 1);
  if (first == BisectVerdict::Bad && last == BisectVerdict::Bad)
    return fmt::format(
        "every kernel is bad as far as the ends tell: {} and {} are both bad (no good kernel in the list)",
        kernels.front(), kernels.back());
  if (first == BisectVerdict::Good && last == BisectVerdict::Good)
    return fmt::format("no bad kernel: {} and {} are both good", kernels.front(), kernels.back());
  if (!first || *first == BisectVerdict::Skip) return fmt::format("{} could not be judged", kernels.front());
  return fmt::format("{} could not be judged", kernels.back());
}

KernelBisectResult bisect_kernels(const std::vector<std::string>& kernels,
                                  const std::function<BisectDecision(const std::string&)>& test) {
  KernelBisectResult r;
  if (kernels.size() < 2) throw UsageError("--kernels: a bisection needs at least two kernels");
  auto run = [&](size_t i) {
    BisectDecision d = test(kernels[i]);
    r.steps.push_back({i, kernels[i], d});
    if (d.verdict == BisectVerdict::Skip) r.skipped.push_back(i);
    if (d.verdict == BisectVerdict::Stop) r.stopped = fmt::format("{}: {}", kernels[i], d.why);
    return d.verdict;
  };
  const BisectVerdict first = run(0);
  if (!r.stopped.empty() || first == BisectVerdict::Skip) return r;
  const BisectVerdict last = run(kernels.size() - 1);
  if (!r.stopped.empty() || last == BisectVerdict::Skip || last == first) return r;
  // A regression: lo good, hi bad. A fix: lo bad, hi good. `lo_verdict` is what lo's side is.
  r.fix = first == BisectVerdict::Bad;
  const BisectVerdict lo_verdict = first;
  size_t lo = 0, hi = kernels.size() - 1;
  std::set<size_t> skipped;
  while (hi - lo > 1) {
    // The middle, or the untested kernel nearest to it when it was skipped.
    const size_t mid = lo + (hi - lo) / 2;
    std::optional<size_t> pick;
    for (size_t d = 0; d < hi - lo && !pick; ++d) {
      if (mid + d < hi && !skipped.count(mid + d))
        pick = mid + d;
      else if (mid >= d + 1 && mid - d > lo && !skipped.count(mid - d))
        pick = mid - d;
    }
    if (!pick) break;  // every kernel between them was skipped
    const BisectVerdict v = run(*pick);
    if (!r.stopped.empty()) return r;
    if (v == lo_verdict)
      lo = *pick;
    else if (v == BisectVerdict::Good || v == BisectVerdict::Bad)
      hi = *pick;
    else
      skipped.insert(*pick);
  }
  if (r.fix) {
    r.first_bad = lo;  // the last bad
    r.last_good = hi;  // the first good
  } else {
    r.last_good = lo;
    r.first_bad = hi;
  }
  return r;
}

BisectDecision combine_kernel_runs(const BisectTarget& target, const std::vector<ScenarioResult>& runs) {
  std::optional<BisectDecision> good, skip;
  for (const auto& run : runs) {
    BisectDecision d = decide_bisect_step(target, {run});
    if (d.verdict == BisectVerdict::Stop || d.verdict == BisectVerdict::Bad) return d;
    if (d.verdict == BisectVerdict::Good && !good) good = d;
    if (d.verdict == BisectVerdict::Skip && !skip) skip = d;
  }
  if (good) return *good;
  if (skip) return *skip;
  return {BisectVerdict::Skip, "no run", ""};
}

BisectDecision combine_kernel_runs(int case_no, const std::vector<ScenarioResult>& runs) {
  BisectTarget t;
  t.case_no = case_no;
  return combine_kernel_runs(t, runs);
}

std::vector<std::string> kernel_list_from(const std::string& spec, const std::vector<AvailableKernel>& available) {
  const auto dots = spec.find("..");
  if (dots == std::string::npos) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= spec.size()) {
      const size_t comma = spec.find(',', start);
      const std::string k = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!k.empty()) out.push_back(k);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return out;
  }
  auto version_of = [&](std::string end) {
    if (end.rfind("debian:", 0) != 0)
      throw UsageError(fmt::format("--kernels {}: a range is between two debian:VERSION kernels", spec));
    end = end.substr(7);
    for (const auto& k : available)
      if (k.release == end || k.upstream == end || k.release.rfind(end + "+", 0) == 0) return k.upstream;
    throw UsageError(fmt::format("--kernels {}: the Debian archive offers no {}", spec, end));
  };
  const std::string from = version_of(spec.substr(0, dots)), to = version_of(spec.substr(dots + 2));
  std::vector<AvailableKernel> in;
  for (const auto& k : available)
    if (compare_debian_versions(k.upstream, from) >= 0 && compare_debian_versions(k.upstream, to) <= 0) in.push_back(k);
  std::sort(in.begin(), in.end(), [](const AvailableKernel& a, const AvailableKernel& b) {
    return compare_debian_versions(a.upstream, b.upstream) < 0;
  });
  std::vector<std::string> out;
  for (const auto& k : in)
    if (out.empty() || out.back() != "debian:" + k.release) out.push_back("debian:" + k.release);
  return out;
}

std::string upstream_tag(const std::string& kernel, const std::vector<AvailableKernel>& available) {
  if (kernel.rfind("debian:", 0) != 0) return "";  // a path, debian-6.1 (its ABI name): not known here
  for (const auto& k : available)
    if (kernel == "debian:" + k.release) return k.upstream.empty() ? "" : "v" + k.upstream;
  const size_t end = kernel.find_first_of("+-", 7);
  const std::string v = kernel.substr(7, end - 7);
  if (v.empty() || v.find_first_not_of("0123456789.") != std::string::npos) return "";
  // "6.1.0-50-amd64": Debian's ABI name, whose "6.1.0" is no upstream version.
  if (end != std::string::npos && kernel[end] == '-') return "";
  return "v" + v;
}

}  // namespace rig
