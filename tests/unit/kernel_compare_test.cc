// rig compare: two kernels' checks side by side, and only real changes called changes.
#include "rig/report/kernel_compare.h"

#include <gtest/gtest.h>

using namespace rig;

namespace {

CheckRecord check(int step, const std::string& name, CheckStatus st, size_t pages = 0, const std::string& detail = "") {
  CheckRecord c;
  c.step = step;
  c.case_no = 1;
  c.name = name;
  c.status = st;
  c.ok = st != CheckStatus::Fail;
  c.detail = detail;
  c.pages.resize(pages);
  return c;
}

ScenarioResult result(const std::string& scenario, const std::string& kernel, Verdict v,
                      std::vector<CheckRecord> checks) {
  ScenarioResult r;
  r.scenario = scenario;
  r.kernel = kernel;
  r.verdict = v;
  r.checks = std::move(checks);
  return r;
}

}  // namespace

TEST(KernelCompare, SaysWhatChangedPerScenarioAndCheck) {
  std::vector<ScenarioResult> rs = {
      result("hotplug-cycles", "7.2.13", Verdict::Pass,
             {check(-1, "boot-tags-memmap", CheckStatus::Pass), check(0, "memmap-freed", CheckStatus::Pass)}),
      result("hotplug-cycles", "7.3.4", Verdict::Fail,
             {check(-1, "boot-tags-memmap", CheckStatus::NotApplicable, 0, "this kernel has no bootmem info"),
              check(0, "memmap-freed", CheckStatus::Fail, 1022, "1022 pages kept")}),
      result("same", "7.2.13", Verdict::Pass, {check(0, "memmap-freed", CheckStatus::Pass)}),
      result("same", "7.3.4", Verdict::Pass, {check(0, "memmap-freed", CheckStatus::Pass)}),
      result("only-a", "7.2.13", Verdict::Pass, {}),
  };
  EXPECT_EQ(kernels_of(rs), (std::vector<std::string>{"7.2.13", "7.3.4"}));
  const KernelComparison c = compare_kernels(rs, "7.2.13", "7.3.4");
  ASSERT_EQ(c.scenarios.size(), 3u);
  EXPECT_EQ(c.changed(), 2u) << "hotplug-cycles changed, only-a ran on one side, same did not change";
  const ScenarioComparison& hc = c.scenarios[0];
  EXPECT_EQ(hc.scenario, "hotplug-cycles");
  EXPECT_EQ(hc.verdict_a, "pass");
  EXPECT_EQ(hc.verdict_b, "fail");
  ASSERT_EQ(hc.checks.size(), 2u);
  EXPECT_EQ(hc.checks[0].name, "boot-tags-memmap");
  EXPECT_EQ(hc.checks[0].b.status, "n/a");
  EXPECT_TRUE(hc.checks[1].changed());
  EXPECT_EQ(hc.checks[1].b.pages, 1022u);
  EXPECT_EQ(c.scenarios[1].scenario, "only-a");
  EXPECT_FALSE(c.scenarios[1].in_b);
  EXPECT_EQ(c.scenarios[2].changed(), 0u);

  const std::string text = comparison_text(c, false);
  EXPECT_NE(text.find("hotplug-cycles: A pass, B fail  (changed: 2 checks)"), std::string::npos) << text;
  EXPECT_NE(text.find("step 0 memmap-freed (case 1): A pass | B fail (1022 pages)  <- changed"), std::string::npos)
      << text;
  EXPECT_NE(text.find("B: 1022 pages kept"), std::string::npos) << text;
  EXPECT_NE(text.find("same: A pass, B pass  (same)"), std::string::npos) << text;
  EXPECT_NE(text.find("only-a: A pass, B not run"), std::string::npos) << text;
  EXPECT_NE(text.find("2 of 3 scenarios changed between 7.2.13 and 7.3.4"), std::string::npos) << text;
  EXPECT_EQ(text.find("same: A pass, B pass  (same)\n  step 0"), std::string::npos)
      << "without --all an unchanged check is not listed";
  EXPECT_NE(
      comparison_text(c, true).find("same: A pass, B pass  (same)\n  step 0 memmap-freed (case 1): A pass | B pass\n"),
      std::string::npos);
}

TEST(KernelCompare, AStatusChangeWithTheSamePageCountIsAChange) {
  std::vector<ScenarioResult> rs = {
      result("s", "a", Verdict::Pass, {check(0, "usage-freed", CheckStatus::Pass)}),
      result("s", "b", Verdict::Pass, {check(0, "usage-freed", CheckStatus::NotApplicable)})};
  EXPECT_EQ(compare_kernels(rs, "a", "b").changed(), 1u);
}
