// rig writeup: a failed run as a plain-text report for a kernel mailing list, golden-file tested
// on a recorded run (Debian 6.18.9 losing the hot-added memmap; 6.18.12 the same; 6.18.5 not).
#include "rig/report/writeup.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <boost/filesystem.hpp>
#include <nlohmann/json.hpp>

#include "rig/app/run_command.h"
#include "rig/base/shell.h"
#include "rig/report/results_report.h"
#include "rig/scenario/scenario_file.h"
#include "test_data.h"

using namespace rig;
using rig_test::data;

namespace {

RegisteredFinding registered(const std::string& id) {
  return parse_finding(data("../../rig/findings/" + id + ".toml"), id + ".toml");
}

// The recorded 6.18 runs, written up as the register's finding (as `rig writeup` does).
std::string recorded_writeup() {
  const LoadedReport loaded = load_results_file(std::string(RIG_SOURCE_DIR) + "/tests/data/writeup/hotplug-6.18.json");
  const ScenarioResult* failed = nullptr;
  for (const auto& r : loaded.results)
    if (r.verdict == Verdict::Fail && r.kernel.rfind("6.18.9", 0) == 0) failed = &r;
  EXPECT_NE(failed, nullptr);
  std::string qemu = data("writeup/qemu-command.txt");
  const auto argv = shell_split(qemu.substr(5, qemu.find('\n') - 5));  // without "exec "
  EXPECT_TRUE(argv.has_value());
  WriteupSources sources;
  sources.finding = registered("6.18-hot-added-memmap-leak");
  return failed && argv ? writeup_text(*failed, loaded.results, *argv, "", sources) : "";
}

}  // namespace

namespace {
// RIG_UPDATE_GOLDEN=1 writes the new text over the golden file (then read the diff).
void update_golden(const std::string& path, const std::string& text) {
  if (std::getenv("RIG_UPDATE_GOLDEN")) std::ofstream(path, std::ios::binary) << text;
}
}  // namespace

TEST(Writeup, TheRecordedFailureReadsAsTheGoldenReport) {
  const std::string text = recorded_writeup();
  update_golden(std::string(RIG_TEST_DATA) + "/writeup/hotplug-6.18.9.txt", text);
  EXPECT_EQ(text, data("writeup/hotplug-6.18.9.txt")) << "golden file changed; the new text:\n" << text;
}

TEST(Writeup, SaysWhoIsAffectedWhereToLookAndFitsSeventyTwoColumns) {
  const std::string text = recorded_writeup();
  EXPECT_EQ(text.rfind("Subject: [BUG] memory hot-remove: hotplug-then-unplug fails memmap-freed", 0), 0u) << text;
  EXPECT_NE(text.find("Affected: 6.18.12+deb13-amd64, 6.18.9+deb13-amd64\n"), std::string::npos);
  EXPECT_NE(text.find("Not affected: 6.18.5+deb13-amd64\n"), std::string::npos);
  EXPECT_NE(text.find("pfn 0x3601-0x37ff (511 pages), roles memmap:32"), std::string::npos);
  EXPECT_NE(text.find("free_pagetable()"), std::string::npos) << "where the kernel frees that role";
  EXPECT_NE(text.find("    rig repro rig/scenarios/hotplug-then-unplug.toml --kernel \\\n      debian:6.18.9 "
                      "--finding 6.18-hot-added-memmap-leak\n"),
            std::string::npos)
      << "the reproducer of the finding, which looks for its pages: " << text;
  EXPECT_NE(text.find("      -kernel bzImage \\\n"), std::string::npos) << "the run's own paths are not in it";
  EXPECT_EQ(text.find("/root/"), std::string::npos);
  EXPECT_EQ(text.find('<'), std::string::npos) << "plain text, no HTML";
  // A failure the register does not know: the failed run's own reproducer, which rig run writes.
  const LoadedReport loaded = load_results_file(std::string(RIG_SOURCE_DIR) + "/tests/data/writeup/hotplug-6.18.json");
  for (const auto& r : loaded.results)
    if (r.verdict == Verdict::Fail && r.kernel.rfind("6.18.9", 0) == 0) {
      const std::string unknown = writeup_text(r, loaded.results, {});
      EXPECT_NE(unknown.find("    rig run rig/scenarios/hotplug-then-unplug.toml --kernel \\\n      debian:6.18.9\n"),
                std::string::npos)
          << unknown;
      EXPECT_NE(unknown.find("(repro/run.sh)"), std::string::npos) << unknown;
    }
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > kWriteupColumns) {
      EXPECT_EQ(line.rfind("      -", 0), 0u) << "over 72 columns: " << line;
    }
  }
}

TEST(Writeup, WrapCutsAWordLongerThanALine) {
  const std::string w = wrap_text("a " + std::string(100, 'x') + " b", 20, "", "  ");
  std::istringstream in(w);
  for (std::string line; std::getline(in, line);) EXPECT_LE(line.size(), 20u) << line;
  EXPECT_NE(w.find("a\n"), std::string::npos) << w;
  std::string bytes;
  for (char c : w)
    if (c != ' ' && c != '\n') bytes += c;
  EXPECT_EQ(bytes, "a" + std::string(100, 'x') + "b") << "cut, never dropped: " << w;
}

TEST(Writeup, WhereToLookNamesTheFunctionThatFreesTheRole) {
  EXPECT_NE(where_to_look("usage-freed").find("section_deactivate()"), std::string::npos);
  EXPECT_NE(where_to_look("memmap-freed").find("free_pagetable()"), std::string::npos);
  EXPECT_NE(where_to_look("boot-tags-pgdat").find("register_page_bootmem_info_node()"), std::string::npos);
}

// Only a pass says a kernel is not affected: an xfail is a known failure, a different one.
TEST(Writeup, AnXfailIsNotCountedAsNotAffected) {
  LoadedReport loaded = load_results_file(std::string(RIG_SOURCE_DIR) + "/tests/data/writeup/hotplug-6.18.json");
  const ScenarioResult* failed = nullptr;
  for (auto& r : loaded.results) {
    if (r.kernel.rfind("6.18.5", 0) == 0) r.verdict = Verdict::XFail;
    if (r.verdict == Verdict::Fail && r.kernel.rfind("6.18.9", 0) == 0) failed = &r;
  }
  ASSERT_NE(failed, nullptr);
  const std::string text = writeup_text(*failed, loaded.results, {});
  EXPECT_NE(text.find("Not affected: none in these results\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Otherwise: 6.18.5+deb13-amd64 (xfail)\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("QEMU command line"), std::string::npos) << "no command line when none is known";
}

// A known failure (xfail) is written up like a failure when its check is named: the subject names
// that check, and a kernel where the same check is xfail counts as affected.
TEST(Writeup, AKnownFailureIsWrittenUpByItsCheck) {
  LoadedReport loaded = load_results_file(std::string(RIG_SOURCE_DIR) + "/tests/data/writeup/hotplug-6.18.json");
  ScenarioResult* failed = nullptr;
  for (auto& r : loaded.results)
    if (r.verdict == Verdict::Fail && r.kernel.rfind("6.18.9", 0) == 0) failed = &r;
  ASSERT_NE(failed, nullptr);
  CheckRecord* memmap = nullptr;
  for (auto& c : failed->checks)
    if (c.status == CheckStatus::Fail && !memmap) memmap = &c;
  ASSERT_NE(memmap, nullptr);
  memmap->status = CheckStatus::XFail;
  failed->verdict = Verdict::XFail;
  // 6.18.12 fails the same check as a known failure too: it counts as affected.
  for (auto& r : loaded.results)
    if (r.kernel.rfind("6.18.12", 0) == 0) {
      r.verdict = Verdict::XFail;
      for (auto& c : r.checks)
        if (c.name == memmap->name && c.status == CheckStatus::Fail) c.status = CheckStatus::XFail;
    }
  const std::string text = writeup_text(*failed, loaded.results, {}, memmap->name);
  EXPECT_NE(text.find("fails " + memmap->name), std::string::npos) << text.substr(0, 300);
  EXPECT_NE(text.find("Affected: 6.18.12"), std::string::npos) << text.substr(0, 300);
}

// A run a kernel BUG ended (boot memory ending at 64.5 GiB, a 256 MiB boot DIMM ejected: Debian
// 6.1 to 7.3.4): the report is the headline, the step it interrupted is listed as not finished,
// the kernel's warning just before the BUG goes with it, the register dump and code bytes do not,
// and where to look names the function that BUG_ON()s and why. The shipped write-up
// (docs/findings/partial-memory-block-eject-bug.txt) is exactly what the tool writes from this
// recorded run.
TEST(Writeup, AKernelBugHeadsItsWriteupWithTheStepItInterrupted) {
  const LoadedReport loaded = load_results_file(std::string(RIG_SOURCE_DIR) + "/tests/data/writeup/bug-64g5.json");
  const ScenarioResult* bug = nullptr;
  for (const auto& r : loaded.results)
    if (r.kernel.rfind("6.1.0", 0) == 0) bug = &r;
  ASSERT_NE(bug, nullptr);
  ASSERT_TRUE(bug->steps.empty()) << "the guest went down during the first step";
  WriteupSources sources;
  std::istringstream console(data("writeup/bug-64g5-6.1-console.log"));
  for (std::string line; std::getline(console, line);) sources.console.push_back(line);
  sources.planned_steps =
      load_scenario_file(std::string(RIG_SOURCE_DIR) + "/rig/scenarios/boot-end-64g5-small-dimm.toml").steps;
  const std::string qemu = data("writeup/bug-64g5-qemu-command.txt");
  const auto argv = shell_split(qemu.substr(5, qemu.find('\n') - 5));
  ASSERT_TRUE(argv.has_value());
  sources.finding = registered("partial-memory-block-eject-bug");
  const std::string text = writeup_text(*bug, loaded.results, *argv, "", sources);
  EXPECT_EQ(text.rfind("Subject: [BUG] memory hot-remove: boot-end-64g5-small-dimm: kernel BUG\n  at "
                       "mm/memory_hotplug.c:2075! on 6.1.0-57-amd64\n",
                       0),
            0u)
      << text;
  EXPECT_NE(text.find("    0 unplug dimmA: not finished (expected removed)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  before it: Block size [0x20000000] unaligned hotplug range"), std::string::npos) << text;
  EXPECT_NE(text.find("    RIP: 0010:try_remove_memory+0x145/0x170\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    acpi_memory_device_remove+0x73/0xe0\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("Code:"), std::string::npos) << "code bytes and registers are left out";
  EXPECT_EQ(text.find("RAX:"), std::string::npos);
  EXPECT_NE(text.find("BUG_ON(check_hotplug_memory_range(start,"), std::string::npos) << text;
  EXPECT_EQ(text.find('<'), std::string::npos) << "plain text, no HTML";
  update_golden(std::string(RIG_SOURCE_DIR) + "/docs/findings/partial-memory-block-eject-bug.txt", text);
  std::ifstream shipped(std::string(RIG_SOURCE_DIR) + "/docs/findings/partial-memory-block-eject-bug.txt");
  std::stringstream shipped_text;
  shipped_text << shipped.rdbuf();
  EXPECT_EQ(text, shipped_text.str()) << "the shipped write-up is not what the tool writes; the new text:\n" << text;
  // Without the run's folder and scenario file: the same report, less the step and the warning.
  const std::string bare = writeup_text(*bug, loaded.results, *argv);
  EXPECT_EQ(bare.find("not finished"), std::string::npos);
  EXPECT_EQ(bare.find("before it:"), std::string::npos);
  EXPECT_EQ(bare.rfind("Subject: [BUG] memory hot-remove: boot-end-64g5-small-dimm: kernel BUG", 0), 0u);
}

TEST(Writeup, WhereToLookForAReportNamesItsFunctionAndCallers) {
  ConsoleFinding f;
  f.kind = "bug";
  f.headline = "kernel BUG at mm/sparse.c:42!";
  f.lines = {f.headline,
             "RIP: 0010:section_deactivate+0x10/0x20",
             "Call Trace:",
             " <TASK>",
             " ? something+0x1/0x2",
             " sparse_remove_section+0x1/0x2",
             " __remove_pages+0x3/0x4",
             " </TASK>"};
  const std::string w = where_to_look_report(f);
  EXPECT_EQ(w.rfind("The kernel's report: kernel BUG at mm/sparse.c:42!, in section_deactivate(), called from "
                    "sparse_remove_section(), from __remove_pages(). ",
                    0),
            0u)
      << w;
  EXPECT_NE(w.find("mm/memory_hotplug.c (offline_pages()"), std::string::npos) << "an unknown function: the usual";
}

// Every write-up of the register whose runs are recorded (tests/data/findings/ID/: the results of
// `rig bisect --finding ID --kernels ...`, with the QEMU command line of the run written up) is
// exactly what `rig writeup RESULTS --finding ID --kernel FIRST_BAD` writes from them (the last
// bad for a fix): docs/findings/ is the tool's output, not hand-edited. RIG_UPDATE_GOLDEN=1
// rewrites them.
TEST(Writeup, EachRecordedFindingsWriteupIsWhatTheToolWrites) {
  namespace fs = boost::filesystem;
  const std::string home = RIG_SOURCE_DIR;
  static const rig_test::ScratchDir scratch;
  std::vector<std::string> written;
  for (fs::directory_iterator it(home + "/rig/findings"), end; it != end; ++it) {
    if (it->path().extension() != ".toml") continue;
    const RegisteredFinding f =
        parse_finding(data("../../rig/findings/" + it->path().filename().string()), it->path().filename().string());
    const std::string recorded = std::string(RIG_TEST_DATA) + "/findings/" + f.id;
    if (f.writeup.rfind("docs/findings/", 0) != 0 || !fs::exists(recorded + "/results.json")) continue;
    app::WriteupOptions o;
    o.results = recorded + "/results.json";
    o.finding = f.id;
    // The first bad kernel, or for a fix the last bad one: the run written up.
    const std::string kernel = !f.first_bad.empty() ? f.first_bad : f.last_bad;
    o.kernel = kernel.rfind("debian:", 0) == 0 ? kernel.substr(7) : "";
    o.out = scratch.path + "/" + f.id + ".txt";
    o.home = home;
    ASSERT_EQ(app::writeup(o), 0) << f.id;
    std::ifstream got_in(o.out);
    std::stringstream got;
    got << got_in.rdbuf();
    update_golden(home + "/" + f.writeup, got.str());
    EXPECT_EQ(got.str(), data("../../" + f.writeup))
        << f.id << ": the shipped write-up is not what the tool writes; the new text:\n"
        << got.str();
    const std::string text = got.str();
    const size_t how = text.find("How to reproduce\n    rig repro ");
    ASSERT_NE(how, std::string::npos) << text;
    const std::string repro = text.substr(how, text.find("runs the scenario once", how) - how);
    EXPECT_NE(repro.find("--finding"), std::string::npos) << "its reproducer: " << repro;
    EXPECT_NE(repro.find(f.id), std::string::npos) << "its reproducer: " << repro;
    written.push_back(f.id);
  }
  EXPECT_GE(written.size(), 6u) << "the register's defects with recorded runs";
}

// Results from another checkout or machine name the scenario by that machine's path: a shipped
// scenario of that name is written as this tree's (rig/scenarios/X.toml), and its steps read.
TEST(Writeup, AShippedScenarioFromAnotherCheckoutIsNamedAsInTheTree) {
  static const rig_test::ScratchDir scratch;
  std::string text = data("findings/refusal-onlines-movable-memory-into-normal/results.json");
  const std::string rel = "\"scenario_path\":\"rig/scenarios/boot-dimms-movablecore.toml\"";
  ASSERT_NE(text.find(rel), std::string::npos);
  for (size_t at; (at = text.find(rel)) != std::string::npos;)
    text.replace(at, rel.size(), "\"scenario_path\":\"/elsewhere/ci/rig/scenarios/boot-dimms-movablecore.toml\"");
  std::ofstream(scratch.path + "/results.json") << text;
  app::WriteupOptions o;
  o.results = scratch.path + "/results.json";
  o.finding = "refusal-onlines-movable-memory-into-normal";
  o.out = scratch.path + "/w.txt";
  o.home = RIG_SOURCE_DIR;
  ASSERT_EQ(app::writeup(o), 0);
  std::ifstream in(o.out);
  std::stringstream w;
  w << in.rdbuf();
  EXPECT_NE(w.str().find("rig repro rig/scenarios/boot-dimms-movablecore.toml"), std::string::npos) << w.str();
  EXPECT_EQ(w.str().find("/elsewhere/"), std::string::npos) << w.str();
}

// Written up as one finding, a run's other failed step still reads as failed in its steps, and
// is listed among the other failures: restricting to the finding hides nothing of what happened.
TEST(Writeup, AnotherFailedStepOfTheRunStillReadsAsFailed) {
  static const rig_test::ScratchDir scratch;
  nlohmann::json j = nlohmann::json::parse(data("findings/6.18-hot-added-memmap-leak/results.json"));
  for (auto& r : j["results"])
    if (r["kernel"].get<std::string>().rfind("6.18.9", 0) == 0) {
      r["steps"][3]["outcome"] = "present";
      r["steps"][3]["ok"] = false;
    }
  std::ofstream(scratch.path + "/results.json") << j.dump();
  app::WriteupOptions o;
  o.results = scratch.path + "/results.json";
  o.finding = "6.18-hot-added-memmap-leak";
  o.kernel = "6.18.9";
  o.out = scratch.path + "/w.txt";
  o.home = RIG_SOURCE_DIR;
  ASSERT_EQ(app::writeup(o), 0);
  std::ifstream in(o.out);
  std::stringstream w;
  w << in.rdbuf();
  EXPECT_NE(w.str().find("    3 expect-dimm hot1: present (expected absent)\n"), std::string::npos) << w.str();
  EXPECT_NE(w.str().find("  step 3: step expect-dimm hot1: present (expected absent)\n"), std::string::npos) << w.str();
  EXPECT_NE(w.str().find("Evidence: memmap-freed"), std::string::npos) << "still the finding's report: " << w.str();
}
