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
