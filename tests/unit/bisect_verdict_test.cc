#include "rig/bisect_verdict.h"

#include <gtest/gtest.h>

using namespace rig;

namespace {
ScenarioResult run(Verdict v, int failed_case = 0) {
  ScenarioResult r;
  r.scenario = "unplug-boot-dimm-movable";
  r.kernel = "6.1.192";
  r.verdict = v;
  r.reason = "why";
  if (failed_case) r.checks.push_back({0, failed_case, "memmap-freed-section-33", false, "pfn 0x3e7ff (1 pages): left Reserved", false, ""});
  return r;
}
}  // namespace

TEST(BisectVerdict, AllRunsPassIsGood) {
  auto d = decide_bisect_step(1, {run(Verdict::Pass), run(Verdict::XFail)});
  EXPECT_EQ(d.verdict, BisectVerdict::Good);
  EXPECT_EQ(bisect_exit_code(d.verdict), 0);
}

TEST(BisectVerdict, TheNamedCaseFailingEverywhereIsBadWithEvidence) {
  auto d = decide_bisect_step(1, {run(Verdict::Fail, 1), run(Verdict::Fail, 1)});
  EXPECT_EQ(d.verdict, BisectVerdict::Bad);
  EXPECT_EQ(bisect_exit_code(d.verdict), 1);
  EXPECT_EQ(d.evidence, "unplug-boot-dimm-movable on 6.1.192: case 1 memmap-freed-section-33: pfn 0x3e7ff (1 pages): left Reserved");
}

TEST(BisectVerdict, AnotherCaseACrashOrAnErrorIsASkipNeverBad) {
  EXPECT_EQ(decide_bisect_step(1, {run(Verdict::Fail, 5)}).verdict, BisectVerdict::Skip);
  EXPECT_EQ(decide_bisect_step(1, {run(Verdict::Fail)}).verdict, BisectVerdict::Skip);  // crash: no check failed
  EXPECT_EQ(decide_bisect_step(1, {run(Verdict::Error)}).verdict, BisectVerdict::Skip);
  EXPECT_EQ(decide_bisect_step(1, {run(Verdict::Fail, 1), run(Verdict::Error)}).verdict, BisectVerdict::Skip);
  EXPECT_EQ(decide_bisect_step(1, {}).verdict, BisectVerdict::Skip);
  EXPECT_EQ(bisect_exit_code(BisectVerdict::Skip), 125);
}

TEST(BisectVerdict, DisagreeingRunsAreSkippedAndSaySo) {
  auto d = decide_bisect_step(1, {run(Verdict::Fail, 1), run(Verdict::Pass), run(Verdict::Fail, 1)});
  EXPECT_EQ(d.verdict, BisectVerdict::Skip);
  EXPECT_EQ(d.why, "3 runs: 1 pass, 2 fail case 1, 0 other: the runs disagree, so this revision is skipped rather than risk a wrong verdict");
}
