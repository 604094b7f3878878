// The findings register (rig/findings/, report/findings.h): signatures that stay the same for the
// same defect on any layout, each failure new or known, and a known one that stopped failing.
#include "rig/report/findings.h"

#include <gtest/gtest.h>

#include <fstream>

#include "rig/app/scenario_selection.h"
#include "rig/base/errors.h"
#include "rig/report/results_report.h"

using namespace rig;

namespace {

CheckRecord failed(const std::string& name, const std::string& roles, const std::string& seen,
                   const std::string& detail = "") {
  CheckRecord c;
  c.name = name;
  c.status = CheckStatus::Fail;
  c.detail = detail;
  if (!roles.empty()) c.pages.push_back({0x1000, roles, "freed", seen, ""});
  return c;
}

ScenarioResult result(const std::string& scenario, const std::string& kernel, std::vector<CheckRecord> checks) {
  ScenarioResult r;
  r.scenario = scenario;
  r.kernel = kernel;
  r.checks = std::move(checks);
  r.verdict = r.checks.empty() || r.checks[0].status != CheckStatus::Fail ? Verdict::Pass : Verdict::Fail;
  return r;
}

const std::vector<RegisteredFinding> kNoRegister;

const char* kEntry = R"(title = "hot-added memmap lost"
status = "fixed"
signatures = ["memmap-freed [memmap] lost"]
affected = ["6.18.9"]
unaffected = ["6.18.5"]
fixed_in = "debian:7.2.13"
scenario = "rig/scenarios/hotplug-then-unplug.toml"
)";

}  // namespace

TEST(Findings, TheSameDefectHasOneSignatureOnAnyLayoutAndAnotherDefectAnother) {
  // Two layouts of the 6.18 leak: other pfns, sections, refcounts.
  const auto a = failure_signature(failed("memmap-freed", "memmap:32", "lost: refcount 0, no free buddy block: x"));
  const auto b = failure_signature(failed("memmap-freed", "memmap:512,memmap:513", "lost: refcount 0 at 0x3fb64: y"));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, "memmap-freed [memmap] lost");
  EXPECT_NE(a, failure_signature(failed("memmap-freed", "memmap:32", "never freed: no free of this page was traced")));
  EXPECT_NE(a, failure_signature(failed("memmap-freed", "pmd:32", "lost: refcount 0")));
  // Boot tags: what was seen, without its numbers.
  EXPECT_EQ(failure_signature(failed("boot-tags-pgdat", "pgdat:1",
                                     "pgdat of node 1: expected Reserved NODE_INFO info 1 refcount >= 2; saw Reserved "
                                     "refcount 1 untagged info 0 node 0 held")),
            "boot-tags-pgdat [pgdat] saw Reserved untagged held");
  // Without pages: the first clause, and how far off (a 1-page shortfall is not a 512-page one).
  const auto one = failure_signature(failed("memtotal-node-0", "", "",
                                            "node 0 MemTotal +4100 kB (+1025 pages); the "
                                            "model expects +1026 pages: short by 1 pages"));
  EXPECT_EQ(one, "memtotal-node-0 [] node N MemTotal +N kB (+N pages); short by 1 pages");
  EXPECT_NE(one, failure_signature(failed("memtotal-node-0", "", "",
                                          "node 0 MemTotal +4 kB (+1 pages); the model "
                                          "expects +513 pages: short by 512 pages")));
  ConsoleFinding crash;
  crash.kind = "bug";
  crash.headline = "BUG: unable to handle page fault for address: ffffea0004000000";
  EXPECT_EQ(crash_signature(crash), "console bug: BUG: unable to handle page fault for address: N");
  crash.headline = "BUG: unable to handle page fault for address: ffff8881abcd1234";
  EXPECT_EQ(crash_signature(crash), "console bug: BUG: unable to handle page fault for address: N")
      << "an address changes with every boot";
}

TEST(Findings, EachFailureIsNewOrKnownAndAKnownOneThatStoppedFailingIsSaid) {
  const RegisteredFinding f = parse_finding(kEntry, "rig/findings/6.18-leak.toml");
  EXPECT_EQ(f.id, "6.18-leak");
  std::vector<ScenarioResult> results = {
      result("hotplug-then-unplug", "6.18.15+deb13-amd64",
             {failed("memmap-freed", "memmap:32", "lost: refcount 0"),
              failed("memmap-freed-x", "memmap:32", "never freed: no free")}),
      result("hotplug-then-unplug", "7.3.4+deb13-amd64", {}),
      result("hotplug-then-unplug", "6.18.5+deb13-amd64", {}),
  };
  CheckRecord pass;
  pass.name = "memmap-freed";
  pass.status = CheckStatus::Pass;
  results[1].checks.push_back(pass);
  results[2].checks.push_back(pass);
  const std::vector<RegisteredFinding> reg = {f};
  auto notes = match_findings(results, reg);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].kind, FindingNote::Known);
  EXPECT_EQ(results[0].checks[0].finding, "6.18-leak");
  EXPECT_EQ(notes[1].kind, FindingNote::New);
  EXPECT_EQ(results[0].checks[1].finding, "new");
  EXPECT_NE(notes[1].text().find("NEW hotplug-then-unplug on 6.18.15+deb13-amd64"), std::string::npos);
  // Not fixed yet in the register: the pass on 7.3.4 is said; 6.18.5 is listed unaffected.
  RegisteredFinding open = f;
  open.status = "known";
  open.fixed_in.clear();
  const std::vector<RegisteredFinding> reg_open = {open};  // notes point into the register
  notes = match_findings(results, reg_open);
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_EQ(notes[2].kind, FindingNote::NotSeen);
  EXPECT_EQ(notes[2].kernel, "7.3.4+deb13-amd64");
  EXPECT_NE(notes[2].text().find("fixed in 7.3.4+deb13-amd64?"), std::string::npos) << notes[2].text();
}

TEST(Findings, AKernelReportDuringAStepIsAFindingAndAPageDumpIsNot) {
  ScenarioResult r = result("boot-dimm-64g", "6.1.0-57-amd64", {});
  ConsoleFinding bug;
  bug.kind = "bug";
  bug.headline = "kernel BUG at mm/memory_hotplug.c:1987!";
  ConsoleFinding dump;
  dump.kind = "page-dump";
  dump.headline = "page dumped because: unmovable page";
  r.console_findings = {bug, dump};
  std::vector<ScenarioResult> results = {r};
  auto notes = match_findings(results, kNoRegister);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].signature, "console bug: kernel BUG at mm/memory_hotplug.c:N!");
}

// The same signature on a kernel the entry lists as unaffected is a regression: new. A failed or
// errored run without a failed check, step or report is a failure by its reason, not nothing.
TEST(Findings, ARegressionIsNewAndARunThatFailedWithoutACheckIsNoted) {
  const std::vector<RegisteredFinding> reg = {parse_finding(kEntry, "rig/findings/6.18-leak.toml")};
  std::vector<ScenarioResult> results = {
      result("hotplug-then-unplug", "6.18.5+deb13-amd64", {failed("memmap-freed", "memmap:32", "lost: refcount 0")}),
      result("hotplug-then-unplug", "6.18.9+deb13-amd64", {failed("memmap-freed", "memmap:32", "lost: refcount 0")}),
      result("hotplug-cycles", "6.1.0-57-amd64", {})};
  results[2].verdict = Verdict::Error;
  results[2].reason = "no console output and no answer from the guest for 120 s";
  const auto notes = match_findings(results, reg);
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_EQ(notes[0].kind, FindingNote::New) << "6.18.5 is listed unaffected";
  EXPECT_EQ(notes[1].kind, FindingNote::Known);
  EXPECT_EQ(notes[2].kind, FindingNote::New);
  EXPECT_EQ(notes[2].signature, "verdict error: no console output and no answer from the guest for N s");
}

// Counters checks: every clause but what was expected, with the node and the zone. The refused
// eject's zone change as Debian 6.1 and 7.0.13 showed it (other managed counts) is one signature;
// the same change on another node, or another counter, is another.
TEST(Findings, ACountersSignatureKeepsEveryClauseAndTheNode) {
  const auto zones = [](const std::string& detail) {
    return failure_signature(failed("counters-zones", "", "", detail));
  };
  const std::string on61 =
      "node 1 zone Movable present 65536 before, 32768 after; expected 65536; node 1 zone Movable managed 64262 "
      "before, "
      "31494 after; expected 64262; node 1 zone Normal present 0 before, 32768 after; expected 0; node 1 zone Normal "
      "managed 0 before, 32768 after; expected 0";
  const std::string on70 =
      "node 1 zone Movable present 65536 before, 32768 after; expected 65536; node 1 zone Movable managed 64260 "
      "before, "
      "31492 after; expected 64260; node 1 zone Normal present 0 before, 32768 after; expected 0; node 1 zone Normal "
      "managed 0 before, 32768 after; expected 0";
  EXPECT_EQ(zones(on61), zones(on70));
  EXPECT_EQ(zones(on61),
            "counters-zones [] node 1 zone Movable present N before, N after; node 1 zone Movable managed N before, N "
            "after; node 1 zone Normal present N before, N after; node 1 zone Normal managed N before, N after");
  // The first clause alike, a later one not: another defect (the old signature stopped at the
  // first clause and called these one).
  EXPECT_NE(zones(on61), zones("node 1 zone Movable present 65536 before, 32768 after; expected 65536"));
  EXPECT_NE(zones(on61), zones("node 1 zone Movable present 65536 before, 32768 after; expected 65536; node 1 zone "
                               "DMA32 present 0 before, 32768 after; expected 0"));
  // Another node.
  std::string on_node2 = on61;
  for (size_t at; (at = on_node2.find("node 1")) != std::string::npos;) on_node2.replace(at, 6, "node 2");
  EXPECT_NE(zones(on61), zones(on_node2));
  // The 64 GiB table in node 0's managed pages, on two kernels: one signature; short by another
  // count, or on node 1: another.
  const auto managed =
      zones("node 0 managed 228613 pages before, 229638 after; the model expects 229639; short by 1 pages");
  EXPECT_EQ(managed,
            zones("node 0 managed 229231 pages before, 230256 after; the model expects 230257; short by 1 pages"));
  EXPECT_EQ(managed, "counters-zones [] node 0 managed N pages before, N after; short by 1 pages");
  EXPECT_NE(managed,
            zones("node 0 managed 228613 pages before, 229637 after; the model expects 229639; short by 2 pages"));
  EXPECT_NE(managed,
            zones("node 1 managed 228613 pages before, 229638 after; the model expects 229639; short by 1 pages"));
  // Another counter with the same numbers.
  EXPECT_NE(failure_signature(failed("counters-meminfo", "", "",
                                     "MemTotal 1176596 kB before, 918552 kB after; the model "
                                     "expects 918556 kB (-64510 pages); short by 1 pages")),
            managed);
  EXPECT_EQ(failure_signature(failed("counters-meminfo", "", "",
                                     "MemTotal 1176596 kB before, 918552 kB after; the model expects 918556 kB (-64510 "
                                     "pages); short by 1 pages")),
            "counters-meminfo [] MemTotal N kB before, N kB after; short by 1 pages");
  // Node states: which node joined is the defect.
  const auto states = [](const std::string& detail) {
    return failure_signature(failed("counters-node-states", "", "", detail));
  };
  EXPECT_EQ(states("has_normal_memory: 0 before, 0,1 after; expected 0"),
            "counters-node-states [] has_normal_memory: 0 before, 0,1 after");
  EXPECT_NE(states("has_normal_memory: 0 before, 0,1 after; expected 0"),
            states("has_normal_memory: 0 before, 0,2 after; expected 0"));
  EXPECT_NE(states("has_normal_memory: 0 before, 0,1 after; expected 0"),
            states("has_memory: 0 before, 0,1 after; expected 0"));
}

// The free-memory cycles check: how much a cycle lost for good, not the detail's constant first
// words. The 6.18 leak on 6.18.15 and 7.0.13 (other readings, the same 2 x 511 pages a cycle) is
// one signature; a cycle losing a 2 MiB block, or 64 MiB, is another.
TEST(Findings, ACyclesLeakSignatureSaysHowMuchACycleLost) {
  const auto cycles = [](const std::string& losses) {
    return failure_signature(failed("cycles-no-free-memory-leak", "", "",
                                    "free memory change of each cycle against the one before (kB): -4512, -4324; "
                                    "worst drop 4512 kB, worst that no later reading gave back 4512 kB (slack 1024 kB "
                                    "per cycle): " +
                                        losses));
  };
  const auto a = cycles(
      "cycle 1 lost 4464 kB of free memory that never came back; cycle 2 lost 4272 kB of free memory that never came "
      "back; cycle 3 lost 3960 kB of free memory that never came back");
  const auto b = cycles(
      "cycle 1 lost 3084 kB of free memory that never came back; cycle 2 lost 4256 kB of free memory that never came "
      "back; cycle 3 lost 4064 kB of free memory that never came back; cycle 4 lost 4088 kB of free memory that never "
      "came back");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, "cycles-no-free-memory-leak [] a cycle lost about 4 MiB of free memory for good");
  EXPECT_NE(a, cycles("cycle 1 lost 2100 kB of free memory that never came back; cycle 2 lost 2040 kB of free memory "
                      "that never came back"));
  EXPECT_NE(a, cycles("cycle 1 lost 65600 kB of free memory, 65536 kB of it never came back"));
  EXPECT_EQ(cycles("cycle 1 lost 9000 kB of free memory, 4100 kB of it never came back"), a)
      << "what never came back counts, not the drop";
  EXPECT_NO_THROW(cycles("cycle 1 lost 99999999999999999999999999 kB of free memory that never came back"))
      << "a number no integer holds, from a results file of elsewhere";
}

// A step's signature names its DIMM: one unplug refused is not another DIMM's; the same DIMM's
// refusal on two kernels is one.
TEST(Findings, AStepSignatureNamesItsDimm) {
  const StepResult s{6, 1, "unplug", "hotA", "removed", "refused", false, "", 0, {}, std::nullopt};
  EXPECT_EQ(step_signature(s), "step unplug hotA: refused (expected removed)");
  StepResult other = s;
  other.target = "hotB";
  EXPECT_NE(step_signature(s), step_signature(other));
  ScenarioResult a = result("hotplug-memmap-dependency", "6.18.5+deb13-amd64", {});
  a.verdict = Verdict::Fail;
  a.steps = {s};
  ScenarioResult b = a;
  b.kernel = "7.3.4+deb13-amd64";
  b.steps[0].detail = "the guest refused the eject: _OST 0x82 (device busy) after 3.2 s";
  ScenarioResult c = a;
  c.steps = {other};
  const auto fa = failures_of(a), fb = failures_of(b), fc = failures_of(c);
  ASSERT_EQ(fa.size(), 1u);
  ASSERT_EQ(fb.size(), 1u);
  ASSERT_EQ(fc.size(), 1u);
  EXPECT_EQ(fa[0].signature, fb[0].signature);
  EXPECT_NE(fa[0].signature, fc[0].signature);
  // Known in its own scenario only.
  const std::vector<RegisteredFinding> reg = {parse_finding(R"toml(title = "slab page"
status = "known"
signatures = ["step unplug hotA: refused (expected removed)"]
scenario = "rig/scenarios/hotplug-memmap-dependency.toml"
)toml",
                                                            "slab.toml")};
  EXPECT_NE(registered_finding(reg, a.scenario, a.kernel, fa[0]), nullptr);
  EXPECT_EQ(registered_finding(reg, a.scenario, a.kernel, fc[0]), nullptr);
  EXPECT_EQ(registered_finding(reg, "hotplug-then-unplug", a.kernel, fa[0]), nullptr);
}

// --repeat N: a finding seen in some runs and not in others is one note, "seen in k of N runs",
// never both known and not seen; a finding seen in none of N runs is one not-seen note.
TEST(Findings, RepeatsGiveOneNotePerFindingSeenInKOfNRuns) {
  RegisteredFinding open = parse_finding(kEntry, "rig/findings/6.18-leak.toml");
  open.status = "known";
  open.fixed_in.clear();
  const std::vector<RegisteredFinding> reg = {open};
  CheckRecord pass;
  pass.name = "memmap-freed";
  pass.status = CheckStatus::Pass;
  auto run_of = [&](const std::string& kernel, int run, bool fails) {
    ScenarioResult r =
        result("hotplug-then-unplug", kernel, {fails ? failed("memmap-freed", "memmap:32", "lost: refcount 0") : pass});
    r.run = run;
    return r;
  };
  std::vector<ScenarioResult> results = {
      run_of("6.18.15+deb13-amd64", 1, true), run_of("6.18.15+deb13-amd64", 2, false),
      run_of("6.18.15+deb13-amd64", 3, true), run_of("7.3.4+deb13-amd64", 1, false),
      run_of("7.3.4+deb13-amd64", 2, false),  run_of("7.3.4+deb13-amd64", 3, false)};
  const auto notes = match_findings(results, reg);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].kind, FindingNote::Known);
  EXPECT_EQ(notes[0].kernel, "6.18.15+deb13-amd64");
  EXPECT_EQ(notes[0].seen, 2);
  EXPECT_EQ(notes[0].runs, 3);
  EXPECT_NE(notes[0].text().find("(seen in 2 of 3 runs)"), std::string::npos) << notes[0].text();
  EXPECT_EQ(notes[1].kind, FindingNote::NotSeen);
  EXPECT_EQ(notes[1].kernel, "7.3.4+deb13-amd64");
  EXPECT_EQ(notes[1].seen, 0);
  EXPECT_NE(notes[1].text().find("passed memmap-freed in all 3 runs"), std::string::npos) << notes[1].text();
  EXPECT_EQ(results[0].checks[0].finding, "6.18-leak");
  EXPECT_EQ(results[2].checks[0].finding, "6.18-leak");
  // One run: no count.
  std::vector<ScenarioResult> once = {run_of("6.18.15+deb13-amd64", 1, true)};
  const auto one = match_findings(once, reg);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].text().find("seen in"), std::string::npos) << one[0].text();
}

TEST(Findings, BadEntriesAreOneLineUsageErrors) {
  const std::string good = kEntry;
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"status = \"fixed\"", "status = \"maybe\""},
           {"signatures = [\"memmap-freed [memmap] lost\"]", "signatures = []"},
           {"fixed_in = \"debian:7.2.13\"", ""},
           {"title", "colour"},
           {"affected = [\"6.18.9\"]", "affected = \"6.18.9\""},
           {"title = \"hot-added memmap lost\"", "title = 3"}}) {
    std::string text = good;
    text.replace(text.find(from), from.size(), to);
    EXPECT_THROW(parse_finding(text, "x.toml"), UsageError) << to;
  }
  EXPECT_THROW(parse_finding("title = ", "x.toml"), UsageError);
}

// Every xfail entry of rig/known-failures.toml has a register entry: the case 4 one (a boot
// section's memmap stops the offline: the spec's "not implemented yet", no kernel defect) is
// known by the signature its check gives, with the note that says why it has no write-up.
TEST(Findings, TheCaseFourKnownFailureIsKnownAndSaysWhyItIsNoDefect) {
  const auto reg = app::findings_register(RIG_SOURCE_DIR);
  CheckRecord c;
  c.case_no = 4;
  c.name = "offline-skips-memmap";
  c.status = CheckStatus::XFail;
  c.pages.push_back({0x11fc00, "memmap:35", "",
                     "offline stopped at a memmap page of the departing memory (section 35, memmap of section 35): "
                     "isolation did not skip it; page:(____ptrval____) refcount:2 mapcount:0 "
                     "mapping:0000000000000000 index:0xc pfn:0x11fc00",
                     ""});
  ScenarioResult r = result("unplug-boot-dimm-busy", "6.1.192", {c});
  r.verdict = Verdict::XFail;
  std::vector<ScenarioResult> results = {r};
  const auto notes = match_findings(results, reg);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].kind, FindingNote::Known) << notes[0].signature;
  EXPECT_EQ(notes[0].finding->id, "offline-skips-bootmem-memmap");
  EXPECT_EQ(notes[0].finding->note.rfind("Not a kernel defect", 0), 0u);
  EXPECT_EQ(parse_finding(std::string(kEntry) + "note = \"why\"\n", "x.toml").note, "why");
}

TEST(Findings, TheShippedRegisterParses) {
  const auto reg = app::findings_register(RIG_SOURCE_DIR);
  EXPECT_GE(reg.size(), 6u);
  for (const auto& f : reg) {
    EXPECT_FALSE(f.writeup.empty()) << f.id;
    const std::string writeup = f.writeup.substr(0, f.writeup.find('#'));
    EXPECT_TRUE(std::ifstream(std::string(RIG_SOURCE_DIR) + "/" + writeup).good()) << f.id << ": " << writeup;
    EXPECT_TRUE(std::ifstream(std::string(RIG_SOURCE_DIR) + "/" + f.scenario).good()) << f.id << ": " << f.scenario;
  }
}

// rig run --fail-on new: known failures are reported and do not fail the run; a new one, a
// known one on a kernel the entry lists as unaffected (a regression), or an error does.
TEST(Findings, FailingOnNewFailsOnlyWhatTheRegisterDoesNotKnow) {
  const std::vector<RegisteredFinding> reg = {parse_finding(kEntry, "rig/findings/6.18-leak.toml")};
  std::vector<ScenarioResult> known = {
      result("hotplug-then-unplug", "6.18.15+deb13-amd64", {failed("memmap-freed", "memmap:32", "lost: refcount 0")})};
  auto notes = match_findings(known, reg);
  EXPECT_EQ(exit_status_for(known), 1) << "by default any failure fails";
  EXPECT_EQ(exit_status_failing_on_new(known, notes), 0);
  std::vector<ScenarioResult> fresh = known;
  fresh[0].checks.push_back(failed("memmap-freed-x", "memmap:32", "never freed: no free"));
  notes = match_findings(fresh, reg);
  EXPECT_EQ(exit_status_failing_on_new(fresh, notes), 1) << "a new failure beside a known one";
  std::vector<ScenarioResult> regression = {
      result("hotplug-then-unplug", "6.18.5+deb13-amd64", {failed("memmap-freed", "memmap:32", "lost: refcount 0")})};
  notes = match_findings(regression, reg);
  EXPECT_EQ(exit_status_failing_on_new(regression, notes), 1) << "known, but on a kernel listed unaffected";
  std::vector<ScenarioResult> error = known;
  error.push_back(result("hotplug-then-unplug", "7.3.4+deb13-amd64", {}));
  error.back().verdict = Verdict::Error;
  error.back().reason = "guest did not boot";
  notes = match_findings(error, reg);
  EXPECT_EQ(exit_status_failing_on_new(error, notes), 3);
}
