// The findings register (rig/findings/, report/findings.h): signatures that stay the same for the
// same defect on any layout, each failure new or known, and a known one that stopped failing.
#include "rig/report/findings.h"

#include <gtest/gtest.h>

#include <fstream>

#include "rig/app/scenario_selection.h"
#include "rig/base/errors.h"

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
