#include "rig/run/reproducer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "rig/report/findings.h"
#include "rig/report/results_report.h"
#include "rig/spec/case_checks.h"
#include "rig/spec/case_classifier.h"
#include "rig/machine/console_parser.h"
#include "rig/spec/memmap_snapshot.h"
#include "rig/spec/page_accounting.h"
#include "rig/scenario/scenario_file.h"
#include "test_data.h"

using namespace rig;
using rig_test::data;

namespace {

Scenario scenario(const std::string& name) {
  return load_scenario_file(RIG_SOURCE_DIR "/rig/scenarios/" + name + ".toml");
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& l : lines_of(text))
    if (l.rfind(prefix, 0) == 0) out.push_back(l);
  return out;
}

std::string scratch(const std::string& name) {
  static const rig_test::ScratchDir dir;  // removed at exit
  return dir.path + "/" + name;
}

std::string write(const std::string& name, const std::string& text) {
  const std::string path = scratch(name);
  std::ofstream(path) << text;
  return path;
}

std::string shell(const std::string& cmd, int* status = nullptr) { return rig_test::run_shell(cmd, status); }

// The awk program a run.sh keeps in VAR='...' (no single quote inside), as a file.
std::string awk_program(const std::string& sh, const std::string& var) {
  const std::string open = var + "='\n";
  const size_t a = sh.find(open);
  EXPECT_NE(a, std::string::npos) << var;
  const size_t b = sh.find('\'', a + open.size());
  return write(var + ".awk", sh.substr(a + open.size(), b - a - open.size()));
}

CheckRecord record(int step, const CaseCheck& c) {
  CheckRecord r;
  r.step = step;
  r.case_no = c.case_no;
  r.name = c.name;
  r.ok = c.ok;
  r.detail = c.detail;
  r.status = c.ok ? CheckStatus::Pass : CheckStatus::Fail;
  for (const auto& p : c.offenders) r.pages.push_back({p.pfn, p.roles, p.expected, p.seen, p.evidence});
  return r;
}

StepResult step(int index, const std::string& action, const std::string& target, const std::string& expected,
                const std::string& outcome, bool ok, const std::string& detail = "") {
  StepResult r;
  r.index = index;
  r.action = action;
  r.target = target;
  r.expected = expected;
  r.outcome = outcome;
  r.ok = ok;
  r.detail = detail;
  return r;
}

// A failed run of `s` on `kernel`, for its reason.
ScenarioResult failed_run(const Scenario& s, const std::string& kernel, const std::string& reason) {
  ScenarioResult f;
  f.scenario = s.name;
  f.kernel = kernel;
  f.verdict = Verdict::Fail;
  f.reason = reason;
  return f;
}

std::vector<ConsoleFinding> findings_of(const std::string& console) {
  ConsoleParser p;
  p.feed(console);
  p.finish();
  return p.findings();
}

// The recorded R6 removal on Debian 6.1: a 256 MiB boot DIMM at 64 GiB whose PMD table leaks.
constexpr uint64_t k64gPfn = 0x1000000000ull >> 12;
constexpr uint64_t k64gPages = (256ull << 20) >> 12;

std::vector<CaseCheck> removal_64g_61() {
  MemmapSnapshot before = parse_probe_snapshot(data("probe/pt64-6.1-before.txt"));
  RemovalAnalysis a = analyze_removal(before, k64gPfn, k64gPages);
  return check_after_removal(a, before, {{0, 914452}, {1, 262144}}, k64gPfn, k64gPages,
                             states_by_pfn(parse_probe_query(data("probe/pt64-6.1-after.txt"))), {{0, 918552}});
}

const CaseCheck& find(const std::vector<CaseCheck>& checks, const std::string& name) {
  for (const auto& c : checks)
    if (c.name == name) return c;
  static const CaseCheck none;
  ADD_FAILURE() << "no check " << name;
  return none;
}

}  // namespace

TEST(Reproducer, ScriptRunsTheScenarioOverTheConsoleAndQmp) {
  Scenario s = scenario("hotplug-memmap-dependency");
  const std::string sh = reproducer_script(s, "6.1.0-56-amd64");
  // Only QEMU and sh: the exact command line under TCG, console and monitor on stdio.
  EXPECT_EQ(sh.rfind("#!/bin/sh\n", 0), 0u);
  EXPECT_NE(sh.find("exec \"${QEMU:-qemu-system-x86_64}\""), std::string::npos);
  EXPECT_NE(sh.find("'-accel' \\\n    'tcg'"), std::string::npos);
  EXPECT_NE(sh.find("'mon:stdio'"), std::string::npos);
  EXPECT_NE(sh.find("'memhp_default_state=offline console=ttyS0 panic=-1 trace_event=kmem:mm_page_free "
                    "trace_buf_size=4M rig.shell=1'"),
            std::string::npos);
  EXPECT_EQ(sh.find("'-S'"), std::string::npos) << "nobody sends cont: the guest must run at once";
  EXPECT_EQ(sh.find("rig "), std::string::npos) << "the reproducer must not need the rig";
  EXPECT_EQ(sh.find("python"), std::string::npos);
  // QMP on a FIFO and a file next to the script; sockets relative (a long directory would not fit).
  EXPECT_NE(sh.find("run_qemu -chardev pipe,id=rigqmp,path=qmp -mon chardev=rigqmp,mode=control <&3"),
            std::string::npos);
  EXPECT_NE(sh.find("'unix:qmp.sock,server=on,wait=off'"), std::string::npos);
  // The interactive mode still hands the terminal to QEMU.
  EXPECT_NE(sh.find("  --interactive)\n    rm -f qmp.sock qga.sock\n"), std::string::npos);
  // It waits for the guest's ready line before typing anything.
  EXPECT_NE(sh.find("wait_until \"$BOOT_WAIT\" console_has \"rig: guest ready\" 0"), std::string::npos);
  // The steps, in order: plug hotA (and wait for its _OST), online it as kernel memory, ..., the eject of hotA.
  const size_t plug = sh.find(
      "do_plug 0 'hotA' '{\"id\":\"mem-hotA\",\"qom-type\":\"memory-backend-ram\",\"size\":134217728}' "
      "'{\"addr\":4294967296,\"driver\":\"pc-dimm\",\"id\":\"hotA\",\"memdev\":\"mem-hotA\",\"node\":1}' "
      "\"$STEP_WAIT\" || return");
  const size_t online = sh.find("do_online 1 'hotA' 'cd /sys/devices/system/memory || exit 3;");
  const size_t unplug =
      sh.find("do_unplug 6 'hotA' '{\"id\":\"hotA\"}' '{\"id\":\"mem-hotA\"}' \"$STEP_WAIT\" || return");
  ASSERT_NE(plug, std::string::npos) << sh;
  ASSERT_NE(online, std::string::npos);
  ASSERT_NE(unplug, std::string::npos);
  EXPECT_LT(plug, online);
  EXPECT_LT(online, unplug);
  // The zone is quoted inside the guest command, which is quoted as a whole.
  EXPECT_NE(sh.find("echo '\\''online_kernel'\\'' > memory$b/state", online), std::string::npos);
  EXPECT_NE(sh.find("at_step 6 'unplug hotA' || return", unplug), std::string::npos);
  EXPECT_NE(sh.find("show 'rig-probe query 1048576-1081343' probe-after-step6.txt || return"), std::string::npos)
      << "after an unplug it queries the DIMM's pfns";
  EXPECT_NE(sh.find("show 'rig-probe snapshot' probe-boot.txt || return"), std::string::npos);
  // It ends with one verdict line and the exit status.
  EXPECT_NE(sh.find("finish 1 \"reproduced: $seen\""), std::string::npos);
  EXPECT_NE(sh.find("finish 2 \"could not tell: $unknown\""), std::string::npos);
  EXPECT_NE(sh.find("finish 0 \"not reproduced: "), std::string::npos);
  EXPECT_EQ(kReproReproduced, 1);
  EXPECT_EQ(kReproNotReproduced, 0);
  EXPECT_EQ(kReproCouldNotTell, 2);
}

TEST(Reproducer, ScriptIsValidShForEveryShippedScenario) {
  for (const char* name : {"hotplug-memmap-dependency", "unplug-boot-dimm-busy", "hotplug-cycles",
                           "unplug-boot-dimm-movable", "memmap-on-memory", "boot-dimm-64g"}) {
    const std::string path =
        write(std::string(name) + ".sh", reproducer_script(scenario(name), "6.12.117+deb12-amd64"));
    int st = -1;
    const std::string out = shell("sh -n " + path + " 2>&1", &st);
    EXPECT_EQ(st, 0) << name << ": " << out;
  }
}

TEST(Reproducer, EveryWaitIsBounded) {
  for (const char* name :
       {"hotplug-memmap-dependency", "unplug-boot-dimm-busy", "hotplug-cycles", "memmap-on-memory"}) {
    const std::string sh = reproducer_script(scenario(name), "6.1.0-56-amd64");
    SCOPED_TRACE(name);
    // No fixed sleeps standing in for waits: the only sleep is the poll tick inside bounded loops.
    EXPECT_EQ(sh.find("sleep 45"), std::string::npos);
    EXPECT_EQ(sh.find("sleep \"$BOOT_WAIT\""), std::string::npos);
    EXPECT_EQ(sh.find("sleep \"$STEP_WAIT\""), std::string::npos);
    static const std::regex sleep_re("sleep ([^;\\n]*)");
    for (auto it = std::sregex_iterator(sh.begin(), sh.end(), sleep_re); it != std::sregex_iterator(); ++it) {
      const std::string arg = (*it)[1];
      EXPECT_TRUE(arg == "\"$tick\"" || arg == "0.1 2>/dev/null") << "sleep " << arg;
    }
    // Every loop has a limit: a count compared with -lt/-le, the lines of a file, a list of words;
    // awk's loops count up to a bound.
    static const std::regex loop_re("(^|[;{(|&]|\\bdo|\\bthen)\\s*(while|until|for)\\s");
    static const std::regex wait_re("wait_until (\"\\$[A-Z0-9_]+\"|\"\\$[0-9]\"|[0-9]+) ");
    static const std::regex awk_for_re("for \\([^;]*; [^;]*<=? [^;]*;");
    for (std::string l : lines_of(sh)) {
      // Code only: comments go (there is no "$#" or "${#" in the script).
      const size_t hash = l.find('#');
      if (hash != std::string::npos && (hash == 0 || l[hash - 1] == ' ')) l.erase(hash);
      // A wait always names its limit.
      if (l.find("wait_until ") != std::string::npos && l.find("wait_until()") == std::string::npos) {
        EXPECT_TRUE(std::regex_search(l, wait_re)) << l;
      }
      EXPECT_EQ(l.find("while true"), std::string::npos) << l;
      EXPECT_EQ(l.find("while :"), std::string::npos) << l;
      std::smatch m;
      if (!std::regex_search(l, m, loop_re)) continue;
      EXPECT_NE(m[2], "until") << l;
      if (m[2] == "for") {
        EXPECT_TRUE(l.find(" in ") != std::string::npos || std::regex_search(l, awk_for_re)) << l;
      } else {
        EXPECT_TRUE(l.find(" -lt ") != std::string::npos || l.find(" -le ") != std::string::npos ||
                    l.find("while read -r") != std::string::npos ||
                    (l.find("getline") != std::string::npos && l.find("&& lines < ") != std::string::npos))
            << l;
      }
    }
    // The limits default to the timeouts table (TCG-sized) and can be raised.
    EXPECT_NE(sh.find("BOOT_WAIT=${BOOT_WAIT:-180}"), std::string::npos);
    EXPECT_NE(sh.find("STEP_WAIT=${STEP_WAIT:-120}"), std::string::npos);
    EXPECT_NE(sh.find("CMD_WAIT=${CMD_WAIT:-60}"), std::string::npos);
    EXPECT_NE(sh.find("QUIT_WAIT=${QUIT_WAIT:-15}"), std::string::npos);
    // Every step is bounded: each do_ call passes its limit, or waits only through guest/qmp.
    for (const auto& l : lines_starting(sh, "  do_")) {
      if (l.rfind("  do_expect_", 0) == 0) continue;
      EXPECT_NE(l.find("\"$STEP_WAIT\" || return"), std::string::npos) << l;
    }
    // A guest that never gets ready ends the script with a clear message.
    EXPECT_NE(
        sh.find(
            "mark_unknown \"the guest did not print 'rig: guest ready' within $BOOT_WAIT s (see output.log)\"; judge"),
        std::string::npos);
    EXPECT_NE(sh.find("not found (install QEMU or set QEMU=)"), std::string::npos);
  }
}

TEST(Reproducer, AStepsOwnTimeoutIsItsLimit) {
  Scenario s = scenario("unplug-boot-dimm-busy");
  s.steps[0].timeout_s = 30.5;
  const std::string sh = reproducer_script(s, "6.1.0-56-amd64");
  EXPECT_NE(sh.find("do_unplug 0 'dimm1' '{\"id\":\"dimm1\"}' '{\"id\":\"mem-dimm1\"}' 31 || return"),
            std::string::npos);
}

TEST(Reproducer, CyclesAreUnrolledWithTheRunnersStepIndex) {
  Scenario s = scenario("hotplug-cycles");
  const std::string sh = reproducer_script(s, "6.1.0-56-amd64");
  EXPECT_NE(sh.find("# step 17, cycle 6: unplug hot1 (expected: removed)"), std::string::npos);
  EXPECT_NE(sh.find("at_step 17 'unplug hot1' || return"), std::string::npos);
  const std::string ex = reproducer_expect(s, nullptr);
  EXPECT_TRUE(has_line(ex, "expect 15 added"));
  EXPECT_TRUE(has_line(ex, "expect 16 online"));
  EXPECT_TRUE(has_line(ex, "expect 17 removed"));
  EXPECT_EQ(lines_starting(ex, "expect ").size(), 18u);
}

// ---- expect: what the script judges by ----

TEST(ReproducerExpect, NoFailureJudgesOnTheScenariosOwnExpectations) {
  const std::string ex = reproducer_expect(scenario("unplug-boot-dimm-busy"), nullptr);
  EXPECT_TRUE(has_line(ex, "mode scenario"));
  EXPECT_TRUE(has_line(ex, "expect 0 refused"));
  EXPECT_TRUE(has_line(ex, "expect 1 present"));
  EXPECT_TRUE(has_line(ex, "expect 2 present"));
  EXPECT_TRUE(has_line(ex, "console panic Kernel panic - not syncing"));
  // The console parser's own needles (console_rules()), spaces included.
  EXPECT_TRUE(has_line(ex, "console bug ^BUG: "));
  EXPECT_TRUE(has_line(ex, "console warning ^WARNING: "));
  EXPECT_TRUE(has_line(ex, "console hung-task  blocked for more than "));
  EXPECT_TRUE(has_line(ex, "ignore page dumped because: unmovable page"));
  EXPECT_TRUE(lines_starting(ex, "path ").empty());
  EXPECT_TRUE(lines_starting(ex, "last ").empty());
  EXPECT_TRUE(lines_starting(ex, "watch ").empty());
}

TEST(ReproducerExpect, ConsoleNeedlesAgreeWithTheConsoleParser) {
  // Every report the scenario mode looks for is one the rig fails a run on, of the same kind.
  for (const auto& l : lines_starting(reproducer_expect(scenario("unplug-boot-dimm-busy"), nullptr), "console ")) {
    std::istringstream in(l);
    std::string word, kind, needle;
    in >> word >> kind;
    std::getline(in, needle);
    needle = needle.substr(1);
    const bool at_start = needle[0] == '^';
    const std::string text = at_start ? needle.substr(1) + " something" : "x " + needle + " y";
    auto f = findings_of("[    1.000000] " + text + "\n");
    ASSERT_EQ(f.size(), 1u) << l;
    EXPECT_EQ(f[0].kind, kind) << l;
    EXPECT_NE(f[0].severity, Severity::Notice) << l;
  }
  auto notice = findings_of("[    4.290339] page dumped because: unmovable page\n");
  ASSERT_EQ(notice.size(), 1u);
  EXPECT_EQ(notice[0].severity, Severity::Notice) << "the refusal's page dump is what `ignore` skips";
}

TEST(ReproducerExpect, ARefusedUnplugIsTheDimmStillListed) {
  // unplug-boot-dimm-movable expects the removal; the recorded busy refusal (6.1) is what it got.
  Scenario s = scenario("unplug-boot-dimm-movable");
  ScenarioResult f = failed_run(s, "6.1.0-56-amd64", "step 0 unplug dimm1: expected removed, got refused");
  f.artifacts = "/runs/unplug-boot-dimm-movable--6.1.0-56-amd64--x";
  f.steps.push_back(step(0, "unplug", "dimm1", "removed", "refused", false,
                         "the guest refused the eject: _OST 0x82 (device busy); QEMU still lists the DIMM"));
  f.steps[0].qemu_lists = true;
  f.console_findings = findings_of(data("console/busy-refusal-6.1.log"));
  ASSERT_FALSE(f.console_findings.empty());
  const std::string ex = reproducer_expect(s, &f);
  EXPECT_TRUE(has_line(ex, "mode failure"));
  EXPECT_TRUE(has_line(ex, "listed 0 dimm1 yes")) << ex;
  EXPECT_TRUE(has_line(ex, "last 0"));
  EXPECT_TRUE(lines_starting(ex, "path ").empty()) << "the failing step is the first";
  EXPECT_TRUE(lines_starting(ex, "console ").empty()) << "the refusal's page dumps are notices, not reports";
  EXPECT_TRUE(has_line(ex, "watch panic Kernel panic - not syncing")) << "other reports are shown";
  EXPECT_TRUE(has_line(ex, "ignore page dumped because: unmovable page"));
  EXPECT_NE(ex.find("# From the failed run of unplug-boot-dimm-movable on 6.1.0-56-amd64: step 0 unplug dimm1"),
            std::string::npos);

  // The script for it unplugs, asks QEMU, and judges that step.
  const std::string sh = reproducer_script(s, f.kernel);
  EXPECT_NE(sh.find("do_unplug 0 'dimm1'"), std::string::npos);
  EXPECT_NE(sh.find("look_listed \"$1\" || return 1"), std::string::npos);
  EXPECT_NE(sh.find("mark_seen \"after step $1 QEMU $l_text $l_dimm (query-memory-devices), as after the failed run\""),
            std::string::npos);

  // A timeout leaves the DIMM listed too; an unexpected removal, or QEMU dropping a refused DIMM, does not.
  f.steps[0] = step(0, "unplug", "dimm1", "removed", "timeout", false,
                    "no answer from the guest (no ACPI_DEVICE_OST, no DEVICE_DELETED)");
  EXPECT_TRUE(has_line(reproducer_expect(s, &f), "listed 0 dimm1 yes"));
  // What QEMU listed is the step's typed field, not its words.
  f.steps[0] = step(0, "unplug", "dimm1", "removed", "refused", false, "the guest refused the eject");
  f.steps[0].qemu_lists = false;
  EXPECT_TRUE(has_line(reproducer_expect(s, &f), "listed 0 dimm1 no"));
  f.steps[0].detail = "QEMU still lists the DIMM";  // words the reproducer no longer reads
  EXPECT_TRUE(has_line(reproducer_expect(s, &f), "listed 0 dimm1 no"));
  Scenario busy = scenario("unplug-boot-dimm-busy");
  f.steps[0] = step(0, "unplug", "dimm1", "refused", "removed", false, "DEVICE_DELETED");
  EXPECT_TRUE(has_line(reproducer_expect(busy, &f), "listed 0 dimm1 no"));
}

TEST(ReproducerExpect, AFailedCheckNamesItsPagesForTheProbe) {
  // The recorded PMD table leak at 64 GiB on Debian 6.1, as the checks report it.
  auto checks = removal_64g_61();
  const CaseCheck& pt = find(checks, "page-tables-freed");
  ASSERT_FALSE(pt.ok);
  ASSERT_EQ(pt.offenders.size(), 1u);
  Scenario s = scenario("boot-dimm-64g");
  ScenarioResult f = failed_run(s, "6.1.0-56-amd64", "case 1 page-tables-freed failed");
  f.steps.push_back(step(0, "unplug", "dimm64g", "removed", "removed", true, "DEVICE_DELETED"));
  f.steps.push_back(step(1, "expect-node", "node1", "absent", "absent", true));
  f.checks.push_back(record(0, pt));
  f.checks.push_back(record(0, find(checks, "memtotal-node-0")));
  f.checks.push_back(record(0, find(checks, "memmap-freed")));  // passed: no evidence
  const std::string ex = reproducer_expect(s, &f);
  EXPECT_TRUE(has_line(ex, "page 0 261065 page-tables-freed priv=1 type=tagged")) << ex;
  EXPECT_TRUE(has_line(ex, "query 0 261065"));
  EXPECT_TRUE(has_line(ex, "path 0 removed")) << "the removal must happen again for the pages to compare";
  EXPECT_TRUE(has_line(ex, "last 0")) << "nothing after step 0 matters";
  EXPECT_FALSE(lines_starting(ex, "note memtotal-node-0: a check without pages").empty()) << ex;
  EXPECT_TRUE(lines_starting(ex, "page 0 ").size() == 1u);

  // The script's matcher on the recorded probe output: the failed run's query shows the page
  // again (reproduced); the same page given back to the allocator does not.
  const std::string sh = reproducer_script(s, f.kernel);
  const std::string awk = awk_program(sh, "page_awk");
  const std::string exp = write("pt64.expect", ex);
  const std::string boot = write("pt64-boot.txt", data("probe/pt64-6.1-before.txt"));
  const std::string after = write("pt64-after.txt", data("probe/pt64-6.1-after.txt"));
  EXPECT_EQ(shell("awk -v s=0 -f " + awk + " " + boot + " " + after + " " + exp),
            "seen 261065 page-tables-freed priv=1 type=tagged\n");
  std::string freed_text = data("probe/pt64-6.1-after.txt");
  const std::string leaked = "Q 261065 1 nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=2 type=13 info=513";
  ASSERT_NE(freed_text.find(leaked), std::string::npos);
  freed_text.replace(freed_text.find(leaked), leaked.size(),
                     "Q 261065 1 nid=0 res=0 priv=0 buddy=1 selfhosted=0 ref=0 type=0 info=0");
  const std::string freed = write("pt64-freed.txt", freed_text);
  EXPECT_EQ(shell("awk -v s=0 -f " + awk + " " + boot + " " + freed + " " + exp),
            "clear 261065 page-tables-freed priv=1 type=tagged\n");
  // A pfn the answer does not cover cannot be judged; nor can a bootmem type without the snapshot's types line.
  const std::string empty = write("empty.txt", "");
  EXPECT_EQ(shell("awk -v s=0 -f " + awk + " " + boot + " " + empty + " " + exp),
            "unknown 261065 page-tables-freed priv=1 type=tagged\n");
  EXPECT_EQ(shell("awk -v s=0 -f " + awk + " " + empty + " " + after + " " + exp),
            "unknown 261065 page-tables-freed priv=1 type=tagged\n");
}

TEST(ReproducerExpect, PageTokensFollowWhatTheCheckExpected) {
  // probe_evidence() reads the typed page state, never describe_state()'s words.
  BootmemTypes t{12, 13, 14};
  PageState leaked;
  leaked.online = true;
  leaked.reserved = leaked.private_ = true;
  leaked.ref = 2;
  leaked.type = 13;
  leaked.info = 513;
  leaked.nid = 0;
  leaked.alloc_known = true;
  leaked.held_other = true;
  EXPECT_EQ(probe_evidence(leaked, t, PageEvidence::Freed), "res=1 priv=1 type=tagged");
  // Kept or unchanged: exactly the state seen.
  EXPECT_EQ(probe_evidence(leaked, t, PageEvidence::Same),
            "res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=MIX_SECTION_INFO info=513 nid=0 free=no held=other");
  PageState lost;
  lost.online = true;
  lost.nid = 0;
  lost.alloc_known = true;
  EXPECT_EQ(probe_evidence(lost, t, PageEvidence::Freed), "ref=0 free=no held=none");
  PageState in_buddy = lost;
  in_buddy.free_block = true;
  EXPECT_EQ(probe_evidence(in_buddy, t, PageEvidence::Same),
            "res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=untagged info=0 nid=0 free=buddy");
  // A freed page given back but not the way the failed run saw: exactly as seen.
  EXPECT_EQ(probe_evidence(in_buddy, t, PageEvidence::Freed),
            "res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=untagged info=0 nid=0 free=buddy");
  PageState gone;
  EXPECT_EQ(probe_evidence(gone, t, PageEvidence::Same), "gone");
  EXPECT_EQ(probe_evidence(gone, t, PageEvidence::Freed), "gone");
  EXPECT_EQ(probe_evidence(in_buddy, t, PageEvidence::Gone), "online");
  // A boot tag: the tag as seen, in the kernel's words, mapped to numbers from the rerun's snapshot.
  PageState wrong_tag = leaked;
  wrong_tag.alloc_known = false;
  EXPECT_EQ(probe_evidence(wrong_tag, t, PageEvidence::Same),
            "res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=MIX_SECTION_INFO info=513 nid=0");
  // A type number the snapshot does not name: no type token.
  wrong_tag.type = 99;
  EXPECT_EQ(probe_evidence(wrong_tag, t, PageEvidence::Same), "res=1 priv=1 buddy=0 selfhosted=0 ref=2 info=513 nid=0");
  // Each flag as seen.
  PageState flags = wrong_tag;
  flags.buddy = flags.selfhosted = true;
  flags.reserved = flags.private_ = false;
  EXPECT_EQ(probe_evidence(flags, t, PageEvidence::Same), "res=0 priv=0 buddy=1 selfhosted=1 ref=2 info=513 nid=0");
  // A check's page without evidence (no page state): nothing to compare, a note instead.
  Scenario s = scenario("boot-dimm-64g");
  ScenarioResult f;
  f.scenario = s.name;
  f.verdict = Verdict::Fail;
  CheckRecord c;
  c.step = 0;
  c.name = "offline-skips-memmap";
  c.status = CheckStatus::Fail;
  c.pages.push_back(
      {0x11fc00, "memmap:35", "", "offline stopped at pfn 0x11fc00 ... refcount 1 untagged info 0 node 0"});
  f.checks.push_back(c);
  const std::string ex = reproducer_expect(s, &f);
  EXPECT_TRUE(lines_starting(ex, "page ").empty()) << "the words of `seen` are not read: " << ex;
  EXPECT_FALSE(lines_starting(ex, "note offline-skips-memmap: 1 of its pages name no state").empty()) << ex;
}

TEST(ReproducerExpect, AConsoleReportIsLookedForAgain) {
  // The recorded panic (6.1 without a root fs): a crash, the failed run's only sign.
  Scenario s = scenario("unplug-boot-dimm-busy");
  ScenarioResult f = failed_run(s, "6.1.0-56-amd64", "the guest crashed");
  f.steps.push_back(step(0, "unplug", "dimm1", "refused", "refused", true));
  f.console_findings = findings_of(data("console/panic-no-root-6.1.log"));
  const std::string ex = reproducer_expect(s, &f);
  EXPECT_TRUE(has_line(ex, "console panic Kernel panic - not syncing")) << ex;
  EXPECT_TRUE(has_line(ex, "# was: Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"));
  EXPECT_TRUE(lines_starting(ex, "watch panic").empty());
  EXPECT_TRUE(has_line(ex, "watch oops Oops:"));
  EXPECT_TRUE(has_line(ex, "path 0 refused"));
  EXPECT_TRUE(has_line(ex, "last 1"))
      << "a report may come at any step of the run: all of them run, and the one the run did not record";

  // A BUG that took the guest down during the first step (boot-end-64g5-small-dimm, recorded on
  // Debian 6.1): no step was recorded, and the rerun must still eject the DIMM.
  Scenario bug = scenario("boot-end-64g5-small-dimm");
  ScenarioResult b = failed_run(bug, "6.1.0-57-amd64",
                                "kernel reported bug (console line 390): kernel BUG at mm/memory_hotplug.c:2075!");
  b.console_findings = findings_of(data("writeup/bug-64g5-6.1-console.log"));
  const std::string bex = reproducer_expect(bug, &b);
  EXPECT_TRUE(has_line(bex, "console bug kernel BUG at")) << bex;
  EXPECT_TRUE(has_line(bex, "last 0")) << "the unplug the BUG interrupted runs again: " << bex;

  // The script's console matcher on the recorded logs (timestamps stripped as run.sh does).
  const std::string awk = awk_program(reproducer_script(s, f.kernel), "console_awk");
  auto matches = [&](const std::string& expect_text, const std::string& log) {
    const std::string e = write("c.expect", expect_text);
    const std::string l = write("c.log", log);
    return shell("tr -d '\\r' < " + l + " | sed 's/^\\[ *[0-9]*\\.[0-9]*\\] //' > " + l + ".txt && awk -f " + awk +
                 " " + e + " " + l + ".txt");
  };
  EXPECT_EQ(matches(ex, data("console/panic-no-root-6.1.log")),
            "console panic Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n");
  EXPECT_EQ(matches(ex, data("console/busy-refusal-6.1.log")), "") << "a refusal is not a report";
  // Without a failed run every kind is looked for; the refusal's page dumps are still not reports.
  EXPECT_EQ(matches(reproducer_expect(s, nullptr), data("console/busy-refusal-6.1.log")), "");
  EXPECT_EQ(matches(reproducer_expect(s, nullptr), data("console/movable-removed-6.1.log")), "");
  EXPECT_EQ(
      matches(reproducer_expect(s, nullptr), "[    5.1] WARNING: CPU: 1 PID: 7 at mm/memory_hotplug.c:1234 f+0x1\n"),
      "console warning WARNING: CPU: 1 PID: 7 at mm/memory_hotplug.c:1234 f+0x1\n");
}

TEST(ReproducerExpect, AFailureWithoutSignsTheScriptCanSeeSaysSo) {
  Scenario s = scenario("hotplug-cycles");
  ScenarioResult f;
  f.verdict = Verdict::Fail;
  f.reason = "cycles-memtotal-stable failed";
  for (int i = 0; i < 18; ++i)
    f.steps.push_back(step(i, "x", "hot1", "", i % 3 == 0 ? "added" : i % 3 == 1 ? "online" : "removed", true));
  CheckRecord c;
  c.step = -1;
  c.case_no = 1;
  c.name = "cycles-memtotal-stable";
  c.ok = false;
  c.status = CheckStatus::Fail;
  c.detail = "node 1 MemTotal short by 64 kB after cycle 3";
  f.checks.push_back(c);
  const std::string ex = reproducer_expect(s, &f);
  EXPECT_FALSE(lines_starting(ex, "note cycles-memtotal-stable: a check without pages").empty());
  EXPECT_TRUE(has_line(ex, "last 17"));
  EXPECT_TRUE(lines_starting(ex, "page ").empty());
  // The script says "could not tell" when expect names nothing it can look for.
  EXPECT_NE(reproducer_script(s, "6.1").find("could not tell: ./expect names nothing this script can look for"),
            std::string::npos);
}

// rig repro --finding: the reproducer of one finding looks for its signs only, on a run that
// showed other failures too (another check, a kernel report, a step). Recorded: the 64 GiB PMD
// table on Debian 6.1, with the BUG of another scenario's console added.
TEST(ReproducerExpect, RestrictedToAFindingItLooksForThatFindingsSignsOnly) {
  auto checks = removal_64g_61();
  Scenario s = scenario("boot-dimm-64g");
  ScenarioResult f = failed_run(s, "6.1.0-56-amd64", "case 1 page-tables-freed failed");
  f.steps.push_back(step(0, "unplug", "dimm64g", "removed", "removed", true, "DEVICE_DELETED"));
  f.steps.push_back(step(1, "expect-node", "node1", "absent", "present", false));
  f.checks.push_back(record(0, find(checks, "page-tables-freed")));
  f.checks.back().status = CheckStatus::XFail;  // known: a finding of the register
  f.checks.push_back(record(0, find(checks, "memtotal-node-0")));
  f.console_findings = findings_of(data("writeup/bug-64g5-6.1-console.log"));
  RegisteredFinding pmd;
  pmd.id = "pmd-table-at-64-gib";
  pmd.signatures = {failure_signature(f.checks[0])};
  EXPECT_EQ(pmd.signatures[0], "page-tables-freed [pmd] leaked") << "as rig/findings/pmd-table-at-64-gib.toml names it";

  ScenarioResult only = f;
  EXPECT_EQ(restrict_to_finding(only, pmd), 1u);
  EXPECT_EQ(only.checks[0].status, CheckStatus::Fail) << "its xfail is what the reproducer looks for";
  EXPECT_EQ(only.checks[1].status, CheckStatus::NotApplicable);
  EXPECT_EQ(only.checks[1].detail.rfind("not finding pmd-table-at-64-gib, left out: ", 0), 0u) << only.checks[1].detail;
  EXPECT_TRUE(only.steps[1].ok) << "another step's failure is not this finding's sign";
  const std::string ex = reproducer_expect(s, &only);
  EXPECT_TRUE(has_line(ex, "page 0 261065 page-tables-freed priv=1 type=tagged")) << ex;
  EXPECT_TRUE(lines_starting(ex, "note memtotal-node-0").empty()) << ex;
  EXPECT_TRUE(lines_starting(ex, "outcome 1").empty()) << ex;
  EXPECT_TRUE(lines_starting(ex, "console bug").empty()) << "the BUG is only watched: " << ex;
  EXPECT_TRUE(has_line(ex, "watch bug kernel BUG at")) << ex;
  // Unrestricted, all of them are signs.
  const std::string all = reproducer_expect(s, &f);
  EXPECT_TRUE(has_line(all, "console bug kernel BUG at")) << all;
  EXPECT_TRUE(has_line(all, "outcome 1 present")) << all;

  // A finding that did not show keeps nothing.
  RegisteredFinding other;
  other.id = "other";
  other.signatures = {"memmap-freed [memmap] lost"};
  ScenarioResult none = f;
  EXPECT_EQ(restrict_to_finding(none, other), 0u);
}

// A zone change without pages (the refused eject that onlines movable memory into ZONE_NORMAL,
// recorded on Debian 6.1): its counters-zones clauses become zone items, and run.sh's zoneinfo
// matcher says seen when the zone holds what the failed run saw, clear when what was due.
TEST(ReproducerExpect, AZoneChangeIsLookedForInZoneinfo) {
  const LoadedReport loaded =
      load_results_file(RIG_TEST_DATA "/findings/refusal-onlines-movable-memory-into-normal/results.json");
  const ScenarioResult* run = nullptr;
  for (const auto& r : loaded.results)
    if (r.kernel.rfind("6.1.0", 0) == 0) run = &r;
  ASSERT_NE(run, nullptr);
  Scenario s = scenario("boot-dimms-movablecore");
  ScenarioResult f = *run;
  const std::string ex = reproducer_expect(s, &f);
  const std::vector<std::string> zones = lines_starting(ex, "zone ");
  ASSERT_EQ(zones.size(), 2u) << ex;
  int step = -1;
  for (const auto& c : f.checks)
    if (c.name == "counters-zones" && c.status != CheckStatus::Pass) step = c.step;
  ASSERT_GE(step, 0);
  EXPECT_TRUE(has_line(ex, fmt::format("zone {} 1 Movable present 32768 65536", step))) << ex;
  EXPECT_TRUE(has_line(ex, fmt::format("zone {} 1 Normal present 32768 0", step))) << ex;
  EXPECT_TRUE(lines_starting(ex, "note counters-zones").empty()) << "judged, not only shown: " << ex;

  const std::string awk = awk_program(reproducer_script(s, f.kernel), "zone_awk");
  const std::string exp = write("zones.expect", ex);
  auto zoneinfo = [](int movable, int normal) {
    return fmt::format(
        "(grep -E '^Node|^ +present ' /proc/zoneinfo); echo \"rig-end-$((7)):$?\"\n"
        "Node 0, zone      DMA\n        present  3998\nNode 0, zone    DMA32\n        present  258048\n"
        "Node 1, zone   Normal\n        present  {}\nNode 1, zone  Movable\n        present  {}\n",
        normal, movable);
  };
  const std::string s_arg = " -v s=" + std::to_string(step) + " -f " + awk + " ";
  EXPECT_EQ(shell("awk" + s_arg + write("z-bad.txt", zoneinfo(32768, 32768)) + " " + exp),
            "seen 1 Movable 32768 32768 65536\nseen 1 Normal 32768 32768 0\n");
  EXPECT_EQ(shell("awk" + s_arg + write("z-good.txt", zoneinfo(65536, 0)) + " " + exp),
            "clear 1 Movable 65536 32768 65536\nclear 1 Normal 0 32768 0\n");
  EXPECT_EQ(shell("awk" + s_arg + write("z-none.txt", "Node 0, zone   Normal\n        present 1\n") + " " + exp),
            "unknown 1 Movable - 32768 65536\nunknown 1 Normal - 32768 0\n");
}

// Pages are found again by their roles: the kernel may put the hot-added memmap, a pgdat or a
// page table elsewhere on another boot or kernel. reproducer_expect names each page's place among
// the pages of its roles in the failed run's snapshot (at items), and run.sh's reloc_awk finds the
// same place in the rerun's snapshot; roles no page has there are not seen.
TEST(ReproducerExpect, PagesAreFoundAgainByTheirRoles) {
  Scenario s = scenario("hotplug-then-unplug");
  ScenarioResult f = failed_run(s, "6.18.9+deb13-amd64", "case 1 check memmap-freed failed");
  CheckRecord c;
  c.step = 2;
  c.case_no = 1;
  c.name = "memmap-freed";
  c.status = CheckStatus::Fail;
  for (uint64_t pfn = 0x4201; pfn <= 0x4203; ++pfn) {
    CheckPage p;
    p.pfn = pfn;
    p.roles = "memmap:32";
    p.evidence = "ref=0 free=no held=none";
    c.pages.push_back(p);
  }
  CheckPage pg;
  pg.pfn = 0x3fbcc;
  pg.roles = "pgdat:0,pgdat:1";
  pg.evidence = "res=1 ref=2";
  c.pages.push_back(pg);
  f.checks = {c};
  const RoleAnchors anchors = {
      {"before-step2",
       snapshot_role_anchors("P 16896 1 nid=0 res=0 ref=1 roles=memmap:32\nP 16897 511 nid=0 ref=1 roles=memmap:32\n"
                             "P 261068 1 nid=0 res=1 ref=2 roles=pgdat:0,pgdat:1\nP 5 1 nid=0 ref=1\n")}};
  EXPECT_EQ(anchors.at("before-step2").at("memmap:32"), 16896u) << "the lowest pfn of the roles";
  const std::string ex = reproducer_expect(s, &f, &anchors);
  EXPECT_TRUE(has_line(ex, "at 2 16897 probe-before-step2.txt 1 memmap:32")) << ex;
  EXPECT_TRUE(has_line(ex, "at 2 16899 probe-before-step2.txt 3 memmap:32")) << ex;
  EXPECT_TRUE(has_line(ex, "at 2 261068 probe-before-step2.txt 0 pgdat:0,pgdat:1")) << ex;
  EXPECT_FALSE(has_line(reproducer_expect(s, &f), "at 2 16897 probe-before-step2.txt 1 memmap:32"))
      << "without the failed run's snapshot, pages are named by pfn";

  // The rerun's snapshot: the memmap block 0x800 pfns higher, the two pgdats in separate pages.
  const std::string dir = scratch("reloc");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  write("reloc/probe-before-step2.txt",
        "rig-probe 2\nP 18944 512 nid=0 ref=1 roles=memmap:32\nP 261000 1 nid=0 res=1 ref=2 roles=pgdat:0\n"
        "P 261001 1 nid=1 res=1 ref=2 roles=pgdat:1\n");
  write("reloc/expect", ex);
  const std::string awk = awk_program(reproducer_script(s, f.kernel), "reloc_awk");
  const std::string out = shell("cd " + dir + " && awk -v s=2 -f " + awk + " expect");
  EXPECT_TRUE(has_line(out, "page 2 18945 memmap-freed ref=0 free=no held=none")) << out;
  EXPECT_TRUE(has_line(out, "page 2 18947 memmap-freed ref=0 free=no held=none")) << out;
  EXPECT_TRUE(has_line(out, "query 2 18945-18947")) << out;
  EXPECT_TRUE(has_line(out, "reloc 2 moved 16897 memmap-freed 18945")) << out;
  EXPECT_TRUE(has_line(out, "reloc 2 absent 261068 memmap-freed pgdat:0,pgdat:1")) << out;
  EXPECT_TRUE(lines_starting(out, "page 2 261068").empty()) << "a relation the rerun does not have is not seen";
  // Without the snapshot run.sh cannot place them: it says so rather than compare other pages.
  ASSERT_EQ(::unlink((dir + "/probe-before-step2.txt").c_str()), 0);
  const std::string none = shell("cd " + dir + " && awk -v s=2 -f " + awk + " expect");
  EXPECT_TRUE(has_line(none, "reloc 2 nosnap 16897 memmap-freed memmap:32")) << none;
  // A snapshot that left pages out cannot say the roles are absent; a file that is not one of
  // run.sh's snapshots (an edited or borrowed expect) is never read.
  write("reloc/probe-before-step2.txt", "rig-probe 2\noverflow entries 3\nP 18944 512 nid=0 ref=1 roles=memmap:32\n");
  const std::string over = shell("cd " + dir + " && awk -v s=2 -f " + awk + " expect");
  EXPECT_TRUE(has_line(over, "reloc 2 nosnap 261068 memmap-freed pgdat:0,pgdat:1")) << over;
  std::string foreign = ex;
  for (size_t at; (at = foreign.find("probe-before-step2.txt")) != std::string::npos;)
    foreign.replace(at, 22, "/etc/hostname");
  write("reloc/expect", foreign);
  const std::string elsewhere = shell("cd " + dir + " && awk -v s=2 -f " + awk + " expect");
  EXPECT_TRUE(has_line(elsewhere, "reloc 2 nosnap 16897 memmap-freed memmap:32")) << elsewhere;
}
