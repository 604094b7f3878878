#include <gtest/gtest.h>

#include "rig/base/errors.h"
#include "rig/report/results_report.h"

#include <sstream>

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
  r.backend = "libvirt";
  StepResult st;
  st.action = "unplug";
  st.target = "dimm1";
  st.expected = "removed";
  st.outcome = "refused";
  st.detail = "the guest refused the eject: _OST 0x82 (device busy)";
  r.steps.push_back(st);
  auto j = report_to_json({r, result(Verdict::Pass)});
  const auto& first = j["results"][0];
  for (const char* key :
       {"scenario", "kernel", "verdict", "duration_s", "steps", "artifacts", "backend", "cpu", "accel"})
    EXPECT_TRUE(first.contains(key)) << key;
  EXPECT_EQ(first["verdict"], "fail");
  EXPECT_EQ(first["backend"], "libvirt");
  EXPECT_FALSE(j["results"][1].contains("backend")) << "unknown (an older report's) stays absent";
  EXPECT_EQ(first["steps"][0]["outcome"], "refused");
  EXPECT_EQ(j["summary"]["fail"], 1);
  EXPECT_EQ(j["summary"]["pass"], 1);
  EXPECT_EQ(j["summary"]["total"], 2);
}

#include "rig/report/test_reports.h"

namespace {
CheckRecord record(int step, int case_no, const std::string& name, CheckStatus status, const std::string& detail,
                   const std::string& evidence = "") {
  CheckRecord c;
  c.step = step;
  c.case_no = case_no;
  c.name = name;
  c.status = status;
  c.ok = status == CheckStatus::Pass || status == CheckStatus::XPass || status == CheckStatus::NotApplicable;
  c.applicable = status != CheckStatus::NotApplicable;
  c.xfail = status == CheckStatus::XFail;
  c.detail = detail;
  c.evidence = evidence;
  return c;
}

std::vector<ScenarioResult> mixed_results() {
  ScenarioResult fail = result(Verdict::Fail);
  fail.scenario = "leaky <&>";
  fail.reason = "case 1 check memmap-freed-section-33 failed";
  fail.checks.push_back(
      record(0, 1, "memmap-freed-section-33", CheckStatus::Fail, "pfn 0x3e600-0x3e7ff (512 pages): left Reserved"));
  fail.checks.back().pages.push_back({0x3e600, "memmap:33", "freed", "Reserved refcount 1"});
  fail.checks.push_back(record(-1, 5, "boot-tags-pgdat", CheckStatus::Pass, "86 pgdat pages"));
  fail.cases_covered = {1, 5};
  ScenarioResult xf = result(Verdict::XFail);
  xf.scenario = "shared-pgdat";
  xf.reason = "known kernel failure";
  xf.checks.push_back(
      record(-1, 5, "boot-tags-pgdat", CheckStatus::XFail, "one page # holds two pgdats", "docs/known-failures.md#x"));
  xf.checks.push_back(record(2, 4, "isolation-skips-memmap", CheckStatus::NotApplicable, "the unplug was refused"));
  xf.cases_covered = {5};
  xf.cases_not_applicable = {4};
  return {fail, xf, result(Verdict::Pass)};
}

ScenarioResult xpass_result() {
  ScenarioResult r = result(Verdict::XPass);
  r.scenario = "stale";
  r.reason = "known failure not seen, its check passed: case 5 boot-tags-pgdat";
  r.checks.push_back(
      record(-1, 5, "boot-tags-pgdat", CheckStatus::XPass, "86 pgdat pages", "docs/known-failures.md#y"));
  ExpectedFailure x;
  x.case_no = 5;
  x.check = "boot-tags-pgdat";
  x.kernel = "6.1.";
  x.pattern = "NODE_INFO";
  x.evidence = "docs/known-failures.md#y";
  r.xpass.push_back(x);
  r.cases_covered = {5};
  return r;
}
}  // namespace

TEST(Results, CheckStatusNames) {
  EXPECT_STREQ(check_status_name(CheckStatus::Pass), "pass");
  EXPECT_STREQ(check_status_name(CheckStatus::Fail), "fail");
  EXPECT_STREQ(check_status_name(CheckStatus::XFail), "xfail");
  EXPECT_STREQ(check_status_name(CheckStatus::XPass), "xpass");
  EXPECT_STREQ(check_status_name(CheckStatus::NotApplicable), "n/a");
  EXPECT_STREQ(verdict_name(Verdict::XPass), "xpass");
}

TEST(Results, XpassExitsZeroLikePass) {
  EXPECT_EQ(exit_status_for({result(Verdict::XPass), result(Verdict::XFail)}), 0);
  EXPECT_EQ(exit_status_for({result(Verdict::XPass), result(Verdict::Fail)}), 1);
}

TEST(Results, JsonChecksCarryStatusPagesAndCoverage) {
  auto rs = mixed_results();
  rs.push_back(xpass_result());
  auto j = report_to_json(rs);
  const auto& leak = j["results"][0]["checks"][0];
  EXPECT_EQ(leak["status"], "fail");
  EXPECT_EQ(leak["ok"], false);
  ASSERT_EQ(leak["pages"].size(), 1u);
  EXPECT_EQ(leak["pages"][0]["pfn"], 0x3e600);
  EXPECT_EQ(leak["pages"][0]["roles"], "memmap:33");
  EXPECT_EQ(leak["pages"][0]["expected"], "freed");
  EXPECT_EQ(leak["pages"][0]["seen"], "Reserved refcount 1");
  const auto& xf = j["results"][1]["checks"];
  EXPECT_EQ(xf[0]["status"], "xfail");
  EXPECT_EQ(xf[0]["xfail"], true);
  EXPECT_EQ(xf[0]["evidence"], "docs/known-failures.md#x");
  EXPECT_EQ(xf[1]["status"], "n/a");
  EXPECT_EQ(j["results"][1]["cases"], nlohmann::json({5}));
  EXPECT_EQ(j["results"][1]["cases_not_applicable"], nlohmann::json({4}));
  EXPECT_EQ(j["results"][3]["verdict"], "xpass");
  EXPECT_EQ(j["results"][3]["xpass"][0]["check"], "boot-tags-pgdat");
  const auto& sum = j["summary"];
  EXPECT_EQ(sum["cases_covered"], nlohmann::json({1, 5}));
  EXPECT_EQ(sum["cases_not_applicable"], nlohmann::json({4}));
  EXPECT_EQ(sum["checks"], 5);
  EXPECT_EQ(sum["checks_failed"], 1);
  EXPECT_EQ(sum["checks_xfail"], 1);
  EXPECT_EQ(sum["checks_xpass"], 1);
  EXPECT_EQ(sum["checks_not_applicable"], 1);
  EXPECT_EQ(sum["xpass"], 1);
  EXPECT_EQ(sum["xpass_entries"][0]["scenario"], "stale");
}

TEST(Results, TableSummaryNamesCoverageAndXpass) {
  auto rs = mixed_results();
  rs.push_back(xpass_result());
  std::ostringstream out;
  print_table(rs, out);
  const std::string t = out.str();
  EXPECT_NE(t.find("spec cases covered: 1,5; only n/a: 4; checks: 5 (1 failed, 1 xfail, 1 xpass, 1 n/a)\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("XPASS stale on 6.1.0-56-amd64: xfail entry case 5 boot-tags-pgdat"), std::string::npos) << t;
  EXPECT_NE(t.find("1 passed, 1 failed, 0 errors, 0 skipped, 1 xfail, 1 xpass\n"), std::string::npos) << t;
}

TEST(TestReports, JunitCountsAndEscapes) {
  std::ostringstream out;
  write_junit(mixed_results(), out);
  const std::string x = out.str();
  // 3 scenarios and 4 checks; skipped: the xfail scenario, its xfail check and its n/a check.
  EXPECT_NE(x.find("<testsuites name=\"rig\" tests=\"7\" failures=\"2\" errors=\"0\" skipped=\"3\">"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("name=\"leaky &lt;&amp;&gt;\""), std::string::npos);
  EXPECT_NE(x.find("<failure message=\"case 1 check memmap-freed-section-33 failed\">"), std::string::npos);
  EXPECT_NE(x.find("<skipped message=\"xfail: known kernel failure\"/>"), std::string::npos);
  EXPECT_EQ(x.find("<failure", x.find("shared-pgdat")), std::string::npos) << "an xfail is not a failure";
  EXPECT_NE(x.find("name=\"case4-isolation-skips-memmap-step2\" time=\"0\">\n      <skipped message=\"n/a: the unplug "
                   "was refused\"/>"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("name=\"case1-memmap-freed-section-33-step0\" time=\"0\">\n      <failure message="),
            std::string::npos)
      << x;
}

TEST(TestReports, JunitXpassPassesWithANote) {
  std::ostringstream out;
  write_junit({xpass_result()}, out);
  const std::string x = out.str();
  EXPECT_NE(x.find("tests=\"2\" failures=\"0\" errors=\"0\" skipped=\"0\""), std::string::npos) << x;
  EXPECT_NE(x.find("<system-out>XPASS: xfail entry case 5 boot-tags-pgdat (6.1.) no longer fails on 6.1.0-56-amd64"),
            std::string::npos)
      << x;
}

TEST(TestReports, KtapHasPlansSubtestsAndDirectives) {
  std::ostringstream out;
  write_ktap(mixed_results(), out);
  const std::string k = out.str();
  EXPECT_EQ(k.rfind("KTAP version 1\n1..3\n", 0), 0u) << k;
  EXPECT_NE(
      k.find("    not ok 1 case1-memmap-freed-section-33\n    # pfn 0x3e600-0x3e7ff (512 pages): left Reserved\n"),
      std::string::npos)
      << k;
  EXPECT_NE(
      k.find("    ok 1 case5-boot-tags-pgdat # XFAIL docs/known-failures.md x\n    # one page   holds two pgdats\n"),
      std::string::npos)
      << k;
  EXPECT_NE(k.find("    ok 2 case4-isolation-skips-memmap # SKIP n/a: the unplug was refused\n"), std::string::npos)
      << k;
  EXPECT_NE(k.find("not ok 1 leaky <&>@6.1.0-56-amd64 # case 1 check"), std::string::npos) << k;
  EXPECT_NE(k.find("ok 2 shared-pgdat@6.1.0-56-amd64 # XFAIL known kernel failure\n"), std::string::npos) << k;
  EXPECT_NE(k.find("ok 3 s@6.1.0-56-amd64\n"), std::string::npos) << k;
}

TEST(TestReports, KtapXpassIsAnOkAfterAComment) {
  std::ostringstream out;
  write_ktap({xpass_result()}, out);
  const std::string k = out.str();
  EXPECT_NE(k.find("    # XPASS docs/known-failures.md y\n    ok 1 case5-boot-tags-pgdat\n"), std::string::npos) << k;
  EXPECT_NE(k.find("# XPASS case 5 boot-tags-pgdat (docs/known-failures.md y)\nok 1 stale@6.1.0-56-amd64\n"),
            std::string::npos)
      << k;
}

TEST(Results, ExcusedCasesSurviveTheJsonAndABadEntryIsRefused) {
  ScenarioResult r = result(Verdict::Pass);
  r.cases_not_exercised = {{4, "no memmap_on_memory on this kernel"}};
  const nlohmann::json j = report_to_json({r});
  EXPECT_EQ(j["summary"]["cases_not_exercised"][0]["case"], 4);
  const LoadedReport back = report_from_json(j);
  ASSERT_EQ(back.results.size(), 1u);
  EXPECT_EQ(back.results[0].cases_not_exercised, r.cases_not_exercised);
  nlohmann::json bad = j;
  bad["results"][0]["cases_not_exercised"] = nlohmann::json::array({{{"why", "x"}}});
  EXPECT_THROW(report_from_json(bad), UsageError);
}
