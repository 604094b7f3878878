// Reproducers that judge: a generated run.sh moved to another directory and run there by sh and
// QEMU alone (TCG), against the real Debian 6.12 kernel. Each must end with one verdict line and
// its exit status within a bounded time, and leave no QEMU behind.
#include <gtest/gtest.h>

#include <chrono>

#include "integration/harness.h"
#include "rig/host/guest_image.h"
#include "rig/host/kernel_locator.h"
#include "rig/run/reproducer.h"
#include "rig/scenario/scenario_file.h"

using namespace rig_it;

namespace {

const std::string kBusy = std::string(RIG_SOURCE_DIR) + "/rig/scenarios/unplug-boot-dimm-busy.toml";

struct Rerun {
  CommandResult r;
  std::string dir;  // where it ran
  double seconds = 0;
};

// Moves `written` to BASE/elsewhere and runs it there from /, stdin closed, with `env` (VAR=x ...).
Rerun rerun_elsewhere(const std::string& written, const std::string& base, const std::string& env = "",
                      double limit_s = 240) {
  Rerun out;
  out.dir = base + "/elsewhere";
  const auto t0 = std::chrono::steady_clock::now();
  out.r =
      run_command({"/bin/sh", "-c",
                   "mv " + written + " " + out.dir + " && cd / && " + env + " sh " + out.dir + "/run.sh < /dev/null"},
                  limit_s);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

// A reproducer written by the library from `failure` (as `rig run` does for a failed run).
std::string write_from(const rig::Scenario& s, const std::string& dir, const rig::ScenarioResult* failure) {
  rig::KernelImage k = rig::locate_kernel("debian-6.12");
  const rig::GuestImage image = rig::guest_image(k, rig::read_environment());
  EXPECT_FALSE(image.probe.empty()) << image.probe_problem;
  return rig::write_reproducer(s, k, image.initramfs, dir, failure);
}

rig::StepResult step(int index, const std::string& action, const std::string& target, const std::string& expected,
                     const std::string& outcome, bool ok, const std::string& detail) {
  rig::StepResult r;
  r.index = index;
  r.action = action;
  r.target = target;
  r.expected = expected;
  r.outcome = outcome;
  r.ok = ok;
  r.detail = detail;
  return r;
}

void expect_one_verdict_line(const Rerun& x, int status, const std::string& verdict_start) {
  EXPECT_FALSE(x.r.timed_out) << x.r.err;
  EXPECT_EQ(x.r.exit_code, status) << x.r.out << x.r.err;
  EXPECT_EQ(x.r.out.rfind(verdict_start, 0), 0u) << x.r.out << x.r.err;
  EXPECT_EQ(x.r.out.find('\n'), x.r.out.size() - 1) << "one line on stdout: " << x.r.out;
  EXPECT_EQ(read_file(x.dir + "/verdict"), x.r.out);
  EXPECT_TRUE(qemu_pids_mentioning(x.dir).empty()) << "the script quits QEMU at its end";
}

}  // namespace

TEST(CliRepro, ReproducerRerunsARefusalFromAnotherDirectory) {
  // `rig repro` without a failed run: judged on the scenario's own expectations, which Debian
  // 6.12 meets (the eject is refused, the DIMM and node 1 stay).
  const std::string dir = fresh_dir("repro");
  CommandResult w = run_command({RIG_BINARY, "repro", kBusy, "--kernel", "debian-6.12", "-o", dir + "/written"}, 300);
  ASSERT_EQ(w.exit_code, 0) << w.err;
  EXPECT_EQ(w.out, dir + "/written/run.sh\n");
  Rerun x = rerun_elsewhere(dir + "/written", dir);
  expect_one_verdict_line(x, rig::kReproNotReproduced, "not reproduced: every step ended as the scenario expects");
  EXPECT_LT(x.seconds, 180);
  const std::string log = read_file(x.dir + "/output.log");
  EXPECT_NE(log.find("rig: guest ready"), std::string::npos);
  EXPECT_NE(log.find("rig-probe 2"), std::string::npos) << "the probe answered in the guest shell";
  EXPECT_NE(read_file(x.dir + "/probe-boot.txt").find("types section="), std::string::npos);
  EXPECT_NE(log.find("Offline failed."), std::string::npos) << "the guest refused, as in the rig's run";
  const std::string qmp = read_file(x.dir + "/qmp.out");
  EXPECT_NE(qmp.find("\"event\": \"ACPI_DEVICE_OST\""), std::string::npos);
  EXPECT_NE(qmp.find("\"id\": \"dimm1\""), std::string::npos) << "and QEMU still lists the DIMM";
  EXPECT_NE(x.r.err.find("run.sh: step 0 unplug dimm1: refused"), std::string::npos) << x.r.err;
  EXPECT_NE(x.r.err.find("run.sh: step 2 expect-node node1: present"), std::string::npos) << x.r.err;
}

TEST(Repro, ARefusalTheFailedRunSawIsReproduced) {
  // A scenario that expects the busy boot DIMM to go; the failed run saw the guest refuse it.
  rig::Scenario s = rig::load_scenario_file(kBusy);
  s.name = "unplug-boot-dimm-busy-expecting-removal";
  s.steps[0].expect = "removed";
  s.steps[1].expect = "absent";
  s.steps[2].expect = "absent";
  rig::ScenarioResult f;
  f.scenario = s.name;
  f.kernel = "6.12.117+deb12-amd64";
  f.verdict = rig::Verdict::Fail;
  f.reason = "step 0 unplug dimm1: expected removed, got refused";
  f.steps.push_back(step(0, "unplug", "dimm1", "removed", "refused", false,
                         "the guest refused the eject: _OST 0x82 (device busy); QEMU still lists the DIMM"));
  const std::string dir = fresh_dir("repro-refusal");
  write_from(s, dir + "/written", &f);
  EXPECT_NE(read_file(dir + "/written/expect").find("\nlisted 0 dimm1 yes\n"), std::string::npos);
  Rerun x = rerun_elsewhere(dir + "/written", dir);
  expect_one_verdict_line(x, rig::kReproReproduced, "reproduced: after step 0 QEMU still lists dimm1");
  EXPECT_LT(x.seconds, 180);
  EXPECT_EQ(x.r.err.find("step 1 "), std::string::npos) << "the failed run ended at step 0; so does the rerun";
}

TEST(Repro, AFailureThatDoesNotHappenHereIsNotReproduced) {
  // A failed run that claims what Debian 6.12 does not do: after the refused eject the DIMM's
  // first page was gone, and then QEMU no longer listed the DIMM.
  rig::Scenario s = rig::load_scenario_file(kBusy);
  rig::ScenarioResult f;
  f.scenario = s.name;
  f.kernel = "6.12.117+deb12-amd64";
  f.verdict = rig::Verdict::Fail;
  f.reason = "case 2 refusal-changed-nothing failed";
  f.steps.push_back(
      step(0, "unplug", "dimm1", "refused", "refused", true, "the guest refused the eject: _OST 0x82 (device busy)"));
  f.steps.push_back(step(1, "expect-dimm", "dimm1", "present", "absent", false, "query-memory-devices"));
  rig::CheckRecord c;
  c.step = 0;
  c.case_no = 2;
  c.name = "refusal-changed-nothing";
  c.ok = false;
  c.status = rig::CheckStatus::Fail;
  c.detail = "pfn 0x100000 (1 pages): gone after a refusal";
  c.pages.push_back(
      {0x100000, "memmap:32", "unchanged",
       "gone, but it lies on memory that stays: was refcount 1 untagged info 0 node 1; now gone (offline or removed)",
       "gone"});  // CheckPage::evidence, as probe_evidence() makes it of a page the probe no longer found
  f.checks.push_back(c);
  const std::string dir = fresh_dir("repro-not");
  write_from(s, dir + "/written", &f);
  const std::string expect = read_file(dir + "/written/expect");
  EXPECT_NE(expect.find("\npath 0 refused\n"), std::string::npos) << expect;
  EXPECT_NE(expect.find("\npage 0 1048576 refusal-changed-nothing gone\n"), std::string::npos) << expect;
  EXPECT_NE(expect.find("\noutcome 1 absent\n"), std::string::npos) << expect;
  Rerun x = rerun_elsewhere(dir + "/written", dir);
  expect_one_verdict_line(x, rig::kReproNotReproduced, "not reproduced: none of the failed run's signs");
  EXPECT_LT(x.seconds, 180);
  // It did look: the probe answered for the pfn, and the step ran.
  EXPECT_NE(read_file(x.dir + "/probe-evidence-step0.txt").find("Q 10485"), std::string::npos);
  EXPECT_NE(x.r.err.find("pfn 0x100000 (refusal-changed-nothing) is no longer gone"), std::string::npos) << x.r.err;
  EXPECT_NE(x.r.err.find("step 1 expect-dimm dimm1 ended present, in the failed run absent"), std::string::npos)
      << x.r.err;
}

TEST(Repro, CouldNotTellWithoutQemuOrAGuestThatGetsReady) {
  const std::string dir = fresh_dir("repro-cannot");
  write_from(rig::load_scenario_file(kBusy), dir + "/written", nullptr);
  // QEMU missing: at once.
  CommandResult q =
      run_command({"/bin/sh", "-c", "QEMU=/nonexistent/qemu sh " + dir + "/written/run.sh < /dev/null"}, 30);
  EXPECT_EQ(q.exit_code, rig::kReproCouldNotTell) << q.out << q.err;
  EXPECT_EQ(q.out, "could not tell: /nonexistent/qemu not found (install QEMU or set QEMU=)\n");
  // A guest that is not ready in time (1 s is far too little under TCG): a clear message, bounded.
  Rerun x = rerun_elsewhere(dir + "/written", dir, "BOOT_WAIT=1", 60);
  expect_one_verdict_line(x, rig::kReproCouldNotTell,
                          "could not tell: the guest did not print 'rig: guest ready' within 1 s");
  EXPECT_LT(x.seconds, 40);
  // And a wait that is not a number is refused before anything starts.
  CommandResult bad = run_command({"/bin/sh", "-c", "STEP_WAIT=forever sh " + x.dir + "/run.sh < /dev/null"}, 30);
  EXPECT_EQ(bad.exit_code, rig::kReproCouldNotTell);
  EXPECT_NE(bad.err.find("not 'forever'"), std::string::npos) << bad.err;
}

// rig repro --finding: one run on the bad kernel, its reproducer looks for that finding's signs
// only (here Debian 6.12's shared pgdat page, 612-pgdat-shares-a-page), and says reproduced
// there; the same signs judge Debian 6.1, which gives each node's pgdat its own page: not
// reproduced. The page is found by its roles (pgdat:0,pgdat:1), not its pfn.
TEST(CliRepro, AFindingsReproducerSaysReproducedOnItsKernelAndNotOnAGoodOne) {
  const std::string dir = fresh_dir("repro-finding");
  const std::string scenario = std::string(RIG_SOURCE_DIR) + "/rig/scenarios/unplug-boot-dimm-movable.toml";
  CommandResult w = run_command({RIG_BINARY, "repro", scenario, "--kernel", "debian-6.12", "--finding",
                                 "612-pgdat-shares-a-page", "-o", dir + "/bad"},
                                600);
  ASSERT_EQ(w.exit_code, 0) << w.out << w.err;
  const std::string expect = read_file(dir + "/bad/expect");
  EXPECT_NE(expect.find("\npage -1 "), std::string::npos) << expect;
  EXPECT_NE(expect.find(" probe-boot.txt 0 pgdat:0,pgdat:1\n"), std::string::npos) << "found by roles: " << expect;
  CommandResult bad = run_command({"/bin/sh", "-c", "cd / && sh " + dir + "/bad/run.sh < /dev/null"}, 300);
  EXPECT_EQ(bad.exit_code, rig::kReproReproduced) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("(boot-tags-pgdat-shared-page) is again"), std::string::npos) << bad.out;

  CommandResult g = run_command(
      {RIG_BINARY, "repro", scenario, "--kernel", "debian-6.1", "--signs-of", dir + "/bad", "-o", dir + "/good"}, 300);
  ASSERT_EQ(g.exit_code, 0) << g.out << g.err;
  EXPECT_EQ(read_file(dir + "/good/expect"), expect) << "the bad kernel's signs";
  CommandResult good = run_command({"/bin/sh", "-c", "cd / && sh " + dir + "/good/run.sh < /dev/null"}, 300);
  EXPECT_EQ(good.exit_code, rig::kReproNotReproduced) << good.out << good.err;
  EXPECT_NE(good.err.find("no page has roles pgdat:0,pgdat:1"), std::string::npos) << good.err;

  // A finding that does not show on the kernel: nothing to write, said so, exit 1.
  CommandResult none = run_command({RIG_BINARY, "repro", scenario, "--kernel", "debian-6.1", "--finding",
                                    "612-pgdat-shares-a-page", "-o", dir + "/none"},
                                   600);
  EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
  EXPECT_NE(none.err.find("finding 612-pgdat-shares-a-page did not show on 6.1.0"), std::string::npos) << none.err;
}
