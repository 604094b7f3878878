#include "rig/report/kernel_compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "rig/base/text.h"

namespace rig {

size_t ScenarioComparison::changed() const {
  size_t n = 0;
  for (const auto& c : checks) n += c.changed();
  return n;
}

size_t KernelComparison::changed() const {
  size_t n = 0;
  for (const auto& s : scenarios) n += s.in_a != s.in_b || s.verdict_a != s.verdict_b || s.changed() > 0;
  return n;
}

std::vector<std::string> kernels_of(const std::vector<ScenarioResult>& results) {
  std::vector<std::string> out;
  for (const auto& r : results)
    if (std::find(out.begin(), out.end(), r.kernel) == out.end()) out.push_back(r.kernel);
  return out;
}

namespace {

const ScenarioResult* first_run(const std::vector<ScenarioResult>& results, const std::string& scenario,
                                const std::string& kernel) {
  const ScenarioResult* best = nullptr;
  for (const auto& r : results)
    if (r.scenario == scenario && r.kernel == kernel && (!best || r.run < best->run)) best = &r;
  return best;
}

CheckSide side_of(const CheckRecord& c) { return {true, check_status_name(c.status), c.pages.size(), c.detail}; }

std::string side_text(const CheckSide& s) {
  if (!s.present) return "absent";
  return s.pages ? fmt::format("{} ({} pages)", s.status, s.pages) : s.status;
}

}  // namespace

KernelComparison compare_kernels(const std::vector<ScenarioResult>& results, const std::string& a,
                                 const std::string& b) {
  KernelComparison out;
  out.kernel_a = a;
  out.kernel_b = b;
  std::vector<std::string> names;
  for (const auto& r : results)
    if ((r.kernel == a || r.kernel == b) && std::find(names.begin(), names.end(), r.scenario) == names.end())
      names.push_back(r.scenario);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    ScenarioComparison sc;
    sc.scenario = name;
    const ScenarioResult* ra = first_run(results, name, a);
    const ScenarioResult* rb = first_run(results, name, b);
    sc.in_a = ra != nullptr;
    sc.in_b = rb != nullptr;
    if (ra) sc.verdict_a = verdict_name(ra->verdict), sc.reason_a = ra->reason;
    if (rb) sc.verdict_b = verdict_name(rb->verdict), sc.reason_b = rb->reason;
    // Checks are matched by (step, name); a check a run lists twice is matched in order.
    std::map<std::pair<int, std::string>, std::vector<size_t>> index;
    auto add = [&](const CheckRecord& c, bool is_a) {
      const auto key = std::make_pair(c.step, c.name);
      auto& slots = index[key];
      for (size_t i : slots) {
        CheckSide& s = is_a ? sc.checks[i].a : sc.checks[i].b;
        if (!s.present) {
          s = side_of(c);
          return;
        }
      }
      CheckComparison cc;
      cc.step = c.step;
      cc.case_no = c.case_no;
      cc.name = c.name;
      (is_a ? cc.a : cc.b) = side_of(c);
      slots.push_back(sc.checks.size());
      sc.checks.push_back(cc);
    };
    if (ra)
      for (const auto& c : ra->checks) add(c, true);
    if (rb)
      for (const auto& c : rb->checks) add(c, false);
    std::stable_sort(sc.checks.begin(), sc.checks.end(),
                     [](const CheckComparison& x, const CheckComparison& y) { return x.step < y.step; });
    out.scenarios.push_back(sc);
  }
  return out;
}

std::string comparison_text(const KernelComparison& c, bool all) {
  std::string out = fmt::format("A: {}\nB: {}\n", c.kernel_a, c.kernel_b);
  for (const auto& s : c.scenarios) {
    const bool verdict_changed = s.in_a != s.in_b || s.verdict_a != s.verdict_b;
    const size_t changed = s.changed();
    out += fmt::format("\n{}: A {}, B {}{}\n", s.scenario, s.in_a ? s.verdict_a : "not run",
                       s.in_b ? s.verdict_b : "not run",
                       verdict_changed || changed ? fmt::format("  (changed: {} checks)", changed) : "  (same)");
    if (s.in_a && !s.reason_a.empty() && s.verdict_a != "pass") out += "  A: " + one_line(s.reason_a, 160) + "\n";
    if (s.in_b && !s.reason_b.empty() && s.verdict_b != "pass") out += "  B: " + one_line(s.reason_b, 160) + "\n";
    for (const auto& ck : s.checks) {
      if (!all && !ck.changed()) continue;
      out += fmt::format("  {} {} (case {}): A {} | B {}{}\n", ck.step < 0 ? "boot" : fmt::format("step {}", ck.step),
                         ck.name, ck.case_no, side_text(ck.a), side_text(ck.b), ck.changed() ? "  <- changed" : "");
      if (ck.changed()) {
        if (ck.a.present && !ck.a.detail.empty()) out += "      A: " + one_line(ck.a.detail, 150) + "\n";
        if (ck.b.present && !ck.b.detail.empty()) out += "      B: " + one_line(ck.b.detail, 150) + "\n";
      }
    }
  }
  out += fmt::format("\n{} of {} scenarios changed between {} and {}\n", c.changed(), c.scenarios.size(), c.kernel_a,
                     c.kernel_b);
  return out;
}

}  // namespace rig
