#include "rig/workflows/bisect_verdict.h"

#include <gtest/gtest.h>

using namespace rig;

namespace {
CheckRecord check(int case_no, CheckStatus status, const std::string& name = "memmap-freed-section-33") {
  CheckRecord c;
  c.case_no = case_no;
  c.name = name;
  c.status = status;
  c.ok = status == CheckStatus::Pass || status == CheckStatus::XPass || status == CheckStatus::NotApplicable;
  c.xfail = status == CheckStatus::XFail;
  c.detail = c.ok ? "" : "pfn 0x3e7ff (1 pages): left Reserved";
  return c;
}

ScenarioResult run(Verdict v, int failed_case = 0) {
  ScenarioResult r;
  r.scenario = "unplug-boot-dimm-movable";
  r.kernel = "6.1.192";
  r.verdict = v;
  r.reason = "why";
  r.boot_s = 3;
  r.checks.push_back(check(1, CheckStatus::Pass, "boot-tags-memmap"));
  if (failed_case) r.checks.push_back(check(failed_case, CheckStatus::Fail));
  return r;
}

ScenarioResult with(ScenarioResult r, const CheckRecord& c) {
  r.checks.push_back(c);
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
  EXPECT_EQ(
      d.evidence,
      "unplug-boot-dimm-movable on 6.1.192: case 1 memmap-freed-section-33: pfn 0x3e7ff (1 pages): left Reserved");
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
  EXPECT_EQ(d.why,
            "3 runs: 1 pass, 2 fail case 1, 0 other: the runs disagree, so this revision is skipped rather than risk a "
            "wrong verdict");
}

TEST(BisectVerdict, ReadsCheckStatusNotTheRunVerdict) {
  // An xfail counts as good only when its pattern matched (status XFail); an xfail entry whose
  // pattern did not match leaves the check Fail, which is not covered.
  EXPECT_EQ(decide_bisect_step(1, {with(run(Verdict::XFail), check(1, CheckStatus::XFail))}).verdict,
            BisectVerdict::Good);
  EXPECT_EQ(decide_bisect_step(1, {with(run(Verdict::Pass), check(3, CheckStatus::XPass, "dependents-first"))}).verdict,
            BisectVerdict::Good);
  EXPECT_EQ(
      decide_bisect_step(1, {with(run(Verdict::XPass), check(5, CheckStatus::XPass, "boot-tags-pgdat-shared-page"))})
          .verdict,
      BisectVerdict::Good)
      << "a stale xfail entry is no reason to skip a revision";
  EXPECT_EQ(
      decide_bisect_step(1, {with(run(Verdict::Pass), check(4, CheckStatus::NotApplicable, "offline-skips-memmap"))})
          .verdict,
      BisectVerdict::Good);
  // A run whose verdict says pass but that carries a failed check is not good.
  EXPECT_EQ(decide_bisect_step(1, {with(run(Verdict::XFail), check(1, CheckStatus::Fail))}).verdict,
            BisectVerdict::Skip);
  EXPECT_EQ(decide_bisect_step(1, {with(run(Verdict::Pass), check(5, CheckStatus::Fail, "pgdat-kept"))}).verdict,
            BisectVerdict::Skip);
  // ok=false with a status other than Fail (a matched xfail) is not a failure of the case.
  EXPECT_EQ(decide_bisect_step(1, {with(run(Verdict::Fail), check(1, CheckStatus::XFail))}).verdict,
            BisectVerdict::Skip);
}

TEST(BisectVerdict, AFailedCheckOfAnotherCaseMakesTheRunOther) {
  auto d = decide_bisect_step(1, {with(run(Verdict::Fail, 1), check(5, CheckStatus::Fail, "pgdat-kept"))});
  EXPECT_EQ(d.verdict, BisectVerdict::Skip);
  EXPECT_EQ(d.why, "1 runs: 0 pass, 0 fail case 1, 1 other: unplug-boot-dimm-movable: case 5 pgdat-kept failed");
  // The case's own failures alongside matched xfails of other cases are still bad.
  EXPECT_EQ(
      decide_bisect_step(1, {with(run(Verdict::Fail, 1), check(4, CheckStatus::XFail, "memmap-on-memory"))}).verdict,
      BisectVerdict::Bad);
}

TEST(BisectVerdict, AHostFailureStopsTheBisection) {
  ScenarioResult no_qemu = run(Verdict::Error);
  no_qemu.boot_s = 0;
  no_qemu.reason = "cannot start qemu-system-x86_64: No such file or directory";
  auto d = decide_bisect_step(1, {run(Verdict::Fail, 1), no_qemu});
  EXPECT_EQ(d.verdict, BisectVerdict::Stop);
  EXPECT_EQ(bisect_exit_code(d.verdict), 128);
  EXPECT_GE(bisect_exit_code(d.verdict), 128) << "git bisect run aborts only on 128 and above";
  EXPECT_EQ(d.why,
            "host failure, not the kernel's: unplug-boot-dimm-movable: cannot start qemu-system-x86_64: No such file "
            "or directory");
  // A kernel that does not boot, or against which the probe does not build, is the kernel's: skip.
  ScenarioResult no_boot = no_qemu;
  no_boot.reason = "guest did not boot: no console output and no answer from the guest for 120 s";
  EXPECT_EQ(decide_bisect_step(1, {no_boot}).verdict, BisectVerdict::Skip);
  // The probe runs after the guest booted: a kernel it cannot read is the kernel's, not the host's.
  ScenarioResult no_probe = no_qemu;
  no_probe.boot_s = 4.2;
  no_probe.reason = "the probe failed in the guest (exit 1): rig-probe: this kernel's BTF has no struct page";
  EXPECT_FALSE(is_host_failure(no_probe));
  EXPECT_EQ(decide_bisect_step(1, {no_probe}).verdict, BisectVerdict::Skip);
  // An error after the guest booted (a lost guest) is not blamed on the host.
  ScenarioResult lost = run(Verdict::Error);
  lost.reason = "QEMU exited unexpectedly (signal 9)";
  EXPECT_FALSE(is_host_failure(lost));
}

TEST(BisectVerdict, ACompileErrorInTheKernelIsASkip) {
  auto d =
      diagnose_build_failure(1,
                             "rig-kernel: build bzImage and modules with 2 jobs (ccache gcc)\n"
                             "  CC      mm/memory_hotplug.o\n"
                             "/src/mm/memory_hotplug.c:1234:5: error: 'foo' undeclared (first use in this function)\n"
                             "make[3]: *** [scripts/Makefile.build:250: mm/memory_hotplug.o] Error 1\n"
                             "rig-kernel: the build failed; see /out/build.log\n");
  EXPECT_TRUE(d.kernel);
  EXPECT_EQ(d.why,
            "the kernel does not build (compile error): /src/mm/memory_hotplug.c:1234:5: error: 'foo' undeclared "
            "(first use in this function)");
  EXPECT_TRUE(
      diagnose_build_failure(1, "ld: vmlinux.o: in function `x':\nfoo.c:(.text+0x1): undefined reference to `bar'\n")
          .kernel);
  EXPECT_TRUE(
      diagnose_build_failure(1, "include/linux/mm.h:12:10: fatal error: linux/gone.h: No such file or directory\n")
          .kernel);
  EXPECT_TRUE(diagnose_build_failure(1, "ERROR: modpost: \"foo\" [drivers/x.ko] undefined!\n").kernel);
  EXPECT_TRUE(diagnose_build_failure(3, "arch/x86/Kconfig:12: syntax error\n").kernel);
  auto lacks = diagnose_build_failure(
      4, "rig-kernel: options the rig needs are not in this kernel's configuration: CONFIG_MEMORY_HOTREMOVE\n");
  EXPECT_TRUE(lacks.kernel);
  EXPECT_EQ(lacks.why,
            "this kernel's Kconfig lacks an option the rig needs: rig-kernel: options the rig needs are not in this "
            "kernel's configuration: CONFIG_MEMORY_HOTREMOVE");
}

TEST(BisectVerdict, AHostFailureDuringTheBuildStopsEvenWhenTheCompilerReportsIt) {
  // A full disk makes the compiler print "error:" too: host signs win.
  auto full = diagnose_build_failure(
      1,
      "  CC      mm/page_alloc.o\n"
      "/src/mm/page_alloc.c:1:1: fatal error: error writing to /tmp/ccX.s: No space left on device\n");
  EXPECT_FALSE(full.kernel);
  EXPECT_EQ(full.why,
            "host failure (disk full): /src/mm/page_alloc.c:1:1: fatal error: error writing to /tmp/ccX.s: No space "
            "left on device");
  EXPECT_FALSE(diagnose_build_failure(
                   1, "ccache: error: Failed to create temporary file for /root/.ccache/tmp/x: Read-only file system\n")
                   .kernel);
  EXPECT_FALSE(diagnose_build_failure(1, "/bin/sh: 1: gcc: not found\n").kernel);
  EXPECT_FALSE(diagnose_build_failure(1, "make: bc: command not found\n").kernel);
  EXPECT_FALSE(
      diagnose_build_failure(1, "fatal: not a git repository (or any of the parent directories): .git\n").kernel);
  EXPECT_FALSE(diagnose_build_failure(1, "gcc: fatal error: Killed signal terminated program cc1\n").kernel);
  // A failure with no error in the kernel's source is not blamed on the kernel.
  auto unknown = diagnose_build_failure(1, "make[1]: *** [Makefile:1234: vmlinux] Error 2\n");
  EXPECT_FALSE(unknown.kernel);
  EXPECT_EQ(unknown.why,
            "host failure: the build failed (exit 1) without a compile, link or Kconfig error in the kernel's source; "
            "last line: make[1]: *** "
            "[Makefile:1234: vmlinux] Error 2");
  EXPECT_FALSE(diagnose_build_failure(1, "").kernel);
}

namespace {

// The 7.2 finding: two checks of two cases, either one showing it.
BisectTarget finding_target() {
  RegisteredFinding f;
  f.id = "7.2-usage-and-pgdat-untagged";
  f.signatures = {"boot-tags-pgdat [pgdat] saw Reserved untagged held",
                  "boot-tags-page-tables [usage] saw Reserved untagged held"};
  BisectTarget t;
  t.finding = f;
  return t;
}

CheckRecord tag_check(int case_no, const std::string& name, CheckStatus status, const std::string& roles,
                      const std::string& seen) {
  CheckRecord c = check(case_no, status, name);
  if (status == CheckStatus::Fail || status == CheckStatus::XFail) {
    CheckPage p;
    p.pfn = 0x3fb00;
    p.roles = roles;
    p.seen = seen;
    c.pages = {p};
  }
  return c;
}

}  // namespace

TEST(BisectVerdict, AFindingIsBadWhenOneOfItsSignaturesShowsWhateverElseFailed) {
  const BisectTarget t = finding_target();
  ScenarioResult r = run(Verdict::Fail);
  r.checks.push_back(
      tag_check(3, "boot-tags-page-tables", CheckStatus::Fail, "usage", "saw Reserved untagged held: refcount 1"));
  r.checks.push_back(check(1, CheckStatus::Fail, "memmap-freed"));  // another defect of the same kernel
  ASSERT_EQ(failure_signature(r.checks[1]), t.finding->signatures[1]);
  BisectDecision d = decide_bisect_step(t, {r});
  EXPECT_EQ(d.verdict, BisectVerdict::Bad) << d.why;
  EXPECT_NE(d.evidence.find("boot-tags-page-tables"), std::string::npos) << d.evidence;
  // Known (an xfail) it is still the finding showing.
  r.checks[1].status = CheckStatus::XFail;
  EXPECT_EQ(decide_bisect_step(t, {r}).verdict, BisectVerdict::Bad);
  // By the case rules the same run is a skip: two cases failed.
  r.checks[1].status = CheckStatus::Fail;
  EXPECT_EQ(decide_bisect_step(3, {r}).verdict, BisectVerdict::Skip);
}

TEST(BisectVerdict, AFindingIsGoodOnlyWhenWhatItIsAboutWasJudged) {
  const BisectTarget t = finding_target();
  ScenarioResult r = run(Verdict::Fail);
  r.checks.push_back(tag_check(3, "boot-tags-page-tables", CheckStatus::Pass, "", ""));
  r.checks.push_back(check(1, CheckStatus::Fail, "memmap-freed"));
  BisectDecision d = decide_bisect_step(t, {r});
  EXPECT_EQ(d.verdict, BisectVerdict::Good) << "another defect does not hide this one's absence: " << d.why;
  EXPECT_NE(d.why.find("boot-tags-page-tables passed"), std::string::npos) << d.why;
  // Its checks n/a (a kernel without bootmem info): nothing judged, a skip.
  r.checks[1].status = CheckStatus::NotApplicable;
  d = decide_bisect_step(t, {r});
  EXPECT_EQ(d.verdict, BisectVerdict::Skip) << d.why;
  EXPECT_NE(d.why.find("boot-tags-page-tables n/a"), std::string::npos) << d.why;
  // Its check failed with another signature: cannot tell.
  r.checks[1] = tag_check(3, "boot-tags-page-tables", CheckStatus::Fail, "memmap", "refcount 2 outside 1..1");
  d = decide_bisect_step(t, {r});
  EXPECT_EQ(d.verdict, BisectVerdict::Skip) << d.why;
  EXPECT_NE(d.why.find("failed otherwise"), std::string::npos) << d.why;
  // A guest that did not boot judged nothing.
  ScenarioResult dead = run(Verdict::Error);
  dead.checks.clear();
  dead.reason = "guest did not boot: no login within 300 s";
  d = decide_bisect_step(t, {dead});
  EXPECT_EQ(d.verdict, BisectVerdict::Skip);
  EXPECT_NE(d.why.find("none of the finding's checks or steps ran (error: guest did not boot"), std::string::npos)
      << d.why;
}

TEST(BisectVerdict, AStepFindingIsGoodWhenThatStepEndedAsAsked) {
  RegisteredFinding f;
  f.id = "slab-page-blocks-kernel-zone-unplug";
  f.signatures = {"step unplug hotA: refused (expected removed)"};
  BisectTarget t;
  t.finding = f;
  ScenarioResult r = run(Verdict::Fail);
  StepResult st;
  st.index = 3;
  st.action = "unplug";
  st.target = "hotA";
  st.expected = "removed";
  st.outcome = "refused";
  r.steps = {st};
  EXPECT_EQ(decide_bisect_step(t, {r}).verdict, BisectVerdict::Bad);
  r.steps[0].outcome = "removed";
  r.steps[0].ok = true;
  r.verdict = Verdict::Pass;
  BisectDecision d = decide_bisect_step(t, {r});
  EXPECT_EQ(d.verdict, BisectVerdict::Good) << d.why;
  EXPECT_NE(d.why.find("step unplug hotA ended removed"), std::string::npos) << d.why;
  StepResult earlier = r.steps[0];  // an earlier unplug of hotA, expected to be refused, and refused
  earlier.index = 1;
  earlier.expected = earlier.outcome = "refused";
  r.steps = {earlier};
  EXPECT_EQ(decide_bisect_step(t, {r}).verdict, BisectVerdict::Skip) << "says nothing of the one to be removed";
  r.steps[0] = st;
  r.steps[0].outcome = "removed";
  r.steps[0].ok = true;
  r.steps[0].target = "hotB";  // another DIMM's unplug says nothing of hotA's
  EXPECT_EQ(decide_bisect_step(t, {r}).verdict, BisectVerdict::Skip);
}

// Looking for a fix, git bisect's terms are broken (old, 0) and fixed (new, 1): a revision where
// the case fails is broken, one where it holds fixed; skip and stop keep their codes.
TEST(BisectVerdict, LookingForAFixBrokenIsOldAndFixedIsNew) {
  EXPECT_EQ(bisect_exit_code(BisectVerdict::Bad, true), 0);
  EXPECT_EQ(bisect_exit_code(BisectVerdict::Good, true), 1);
  EXPECT_EQ(bisect_exit_code(BisectVerdict::Skip, true), 125);
  EXPECT_EQ(bisect_exit_code(BisectVerdict::Stop, true), kBisectStopExit);
  EXPECT_EQ(bisect_exit_code(BisectVerdict::Bad, false), 1);
  EXPECT_EQ(bisect_exit_code(BisectVerdict::Good, false), 0);
}

// A kernel report as the finding (the BUG at 64.5 GiB): bad where it shows, good only where the
// run got to its end without any report, a skip where another report may have ended it first.
TEST(BisectVerdict, AKernelReportFindingIsJudgedOnlyByARunThatGotToItsEnd) {
  ConsoleFinding bug;
  bug.kind = "bug";
  bug.headline = "kernel BUG at mm/memory_hotplug.c:2075!";
  RegisteredFinding f;
  f.id = "partial-memory-block-eject-bug";
  f.signatures = {crash_signature(bug)};
  EXPECT_EQ(f.signatures[0], "console bug: kernel BUG at mm/memory_hotplug.c:N!");
  BisectTarget t;
  t.finding = f;
  ScenarioResult r = run(Verdict::Fail);
  bug.headline = "kernel BUG at mm/memory_hotplug.c:2295!";  // another kernel's line
  r.console_findings = {bug};
  EXPECT_EQ(decide_bisect_step(t, {r}).verdict, BisectVerdict::Bad);
  ConsoleFinding oops;
  oops.kind = "oops";
  oops.headline = "Oops: general protection fault";
  r.console_findings = {oops};
  BisectDecision d = decide_bisect_step(t, {r});
  EXPECT_EQ(d.verdict, BisectVerdict::Skip) << d.why;
  EXPECT_NE(d.why.find("another kernel report first: Oops"), std::string::npos) << d.why;
  r.console_findings.clear();
  r.verdict = Verdict::Pass;
  EXPECT_EQ(decide_bisect_step(t, {r}).verdict, BisectVerdict::Good);
  r.verdict = Verdict::Error;
  r.reason = "guest did not boot";
  EXPECT_EQ(decide_bisect_step(t, {r}).verdict, BisectVerdict::Skip);
}
