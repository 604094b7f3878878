#include <gtest/gtest.h>

#include "rig/results_report.h"

using namespace rig;

namespace {
ScenarioResult result(Verdict v) {
  ScenarioResult r;
  r.scenario = "s";
  r.kernel = "6.1.0-56-amd64";
  r.verdict = v;
  return r;
}
}  // namespace

TEST(Results, ExitStatusFollowsTheWorstVerdict) {
  EXPECT_EQ(exit_status_for({result(Verdict::Pass), result(Verdict::Skip)}), 0);
  EXPECT_EQ(exit_status_for({result(Verdict::Pass), result(Verdict::Fail)}), 1);
  EXPECT_EQ(exit_status_for({result(Verdict::Fail), result(Verdict::Error)}), 3);
}

TEST(Results, JsonCarriesTheContractFields) {
  ScenarioResult r = result(Verdict::Fail);
  StepResult st;
  st.action = "unplug";
  st.target = "dimm1";
  st.expected = "removed";
  st.outcome = "refused";
  st.detail = "the guest refused the eject: _OST 0x82 (device busy)";
  r.steps.push_back(st);
  auto j = report_to_json({r, result(Verdict::Pass)});
  const auto& first = j["results"][0];
  for (const char* key : {"scenario", "kernel", "verdict", "duration_s", "steps", "artifacts", "cpu", "accel"})
    EXPECT_TRUE(first.contains(key)) << key;
  EXPECT_EQ(first["verdict"], "fail");
  EXPECT_EQ(first["steps"][0]["outcome"], "refused");
  EXPECT_EQ(j["summary"]["fail"], 1);
  EXPECT_EQ(j["summary"]["pass"], 1);
  EXPECT_EQ(j["summary"]["total"], 2);
}

#include <sstream>

#include "rig/test_reports.h"

namespace {
std::vector<ScenarioResult> mixed_results() {
  ScenarioResult fail = result(Verdict::Fail);
  fail.scenario = "leaky <&>";
  fail.reason = "case 1 check memmap-freed-section-33 failed";
  fail.checks.push_back({0, 1, "memmap-freed-section-33", false, "pfn 0x3e600-0x3e7ff (512 pages): left Reserved", false, ""});
  fail.checks.push_back({-1, 5, "boot-tags-pgdat", true, "86 pgdat pages", false, ""});
  ScenarioResult xf = result(Verdict::XFail);
  xf.scenario = "shared-pgdat";
  xf.reason = "known kernel failure";
  xf.checks.push_back({-1, 5, "boot-tags-pgdat", false, "one page # holds two pgdats", true, "docs/known-failures.md#x"});
  return {fail, xf, result(Verdict::Pass)};
}
}  // namespace

TEST(TestReports, JunitCountsAndEscapes) {
  std::ostringstream out;
  write_junit(mixed_results(), out);
  const std::string x = out.str();
  EXPECT_NE(x.find("<testsuites name=\"rig\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\">"), std::string::npos) << x;
  EXPECT_NE(x.find("name=\"leaky &lt;&amp;&gt;\""), std::string::npos);
  EXPECT_NE(x.find("<failure message=\"case 1 check memmap-freed-section-33 failed\">"), std::string::npos);
  EXPECT_NE(x.find("<skipped message=\"xfail: known kernel failure\"/>"), std::string::npos);
  EXPECT_EQ(x.find("<failure", x.find("shared-pgdat")), std::string::npos) << "an xfail is not a failure";
}

TEST(TestReports, KtapHasPlansSubtestsAndDirectives) {
  std::ostringstream out;
  write_ktap(mixed_results(), out);
  const std::string k = out.str();
  EXPECT_EQ(k.rfind("KTAP version 1\n1..3\n", 0), 0u) << k;
  EXPECT_NE(k.find("    not ok 1 case1-memmap-freed-section-33\n    # pfn 0x3e600-0x3e7ff (512 pages): left Reserved\n"), std::string::npos) << k;
  EXPECT_NE(k.find("    ok 1 case5-boot-tags-pgdat # XFAIL docs/known-failures.md x\n"), std::string::npos) << k;
  EXPECT_NE(k.find("not ok 1 leaky <&>@6.1.0-56-amd64 # case 1 check"), std::string::npos) << k;
  EXPECT_NE(k.find("ok 2 shared-pgdat@6.1.0-56-amd64 # XFAIL known kernel failure\n"), std::string::npos) << k;
  EXPECT_NE(k.find("ok 3 s@6.1.0-56-amd64\n"), std::string::npos) << k;
}
