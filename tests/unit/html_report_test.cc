// The HTML report's model and renderer on a recorded run (tests/data/report/xfail-and-pass: Debian
// 6.1 under TCG, `rig run boot-dimm-64g hotplug-memmap-dependency unplug-boot-dimm-busy --out`),
// with its probe snapshots, queries and guest states.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "rig/base/errors.h"
#include "rig/report/html_report.h"
#include "rig/report/html_report_model.h"
#include "rig/report/results_report.h"
#include "test_data.h"

using namespace rig;

namespace {

const std::string kDir = std::string(RIG_TEST_DATA) + "/report/xfail-and-pass";

LoadedReport recorded() {
  return report_from_json(nlohmann::json::parse(rig_test::data("report/xfail-and-pass/results.json")));
}

const ScenarioResult& by_name(const LoadedReport& r, const std::string& name) {
  for (const auto& x : r.results)
    if (x.scenario == name) return x;
  throw std::runtime_error("no result " + name);
}

RunArtifacts artifacts_of(const ScenarioResult& r) {
  return read_run_artifacts(kDir + "/runs/" + std::filesystem::path(r.artifacts).filename().string());
}

const StepView& step(const ScenarioView& v, int index) {
  for (const auto& s : v.steps)
    if (s.index == index) return s;
  throw std::runtime_error("no step");
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(ResultsJson, ARecordedReportReadsBackToTheSameJson) {
  const auto original = nlohmann::json::parse(rig_test::data("report/xfail-and-pass/results.json"));
  const LoadedReport r = report_from_json(original);
  ASSERT_EQ(r.results.size(), 3u);
  EXPECT_EQ(report_to_json(r.results, r.info)["results"], original["results"]);
  EXPECT_TRUE(r.info.complete);
  EXPECT_EQ(by_name(r, "boot-dimm-64g").dimms.at(0).addr, 0x1000000000ull);
}

TEST(ResultsJson, OlderFilesReadAndForeignOnesFailWithOneLine) {
  auto j = nlohmann::json::parse(rig_test::data("report/xfail-and-pass/results.json"));
  // rig-results/1: no topology, no check status (derived from ok and xfail).
  j["format"] = "rig-results/1";
  for (auto& r : j["results"]) {
    r.erase("topology");
    for (auto& c : r["checks"]) c.erase("status");
  }
  const LoadedReport old = report_from_json(j);
  const auto& x = by_name(old, "boot-dimm-64g");
  EXPECT_TRUE(x.dimms.empty());
  int xfail = 0;
  for (const auto& c : x.checks) xfail += c.status == CheckStatus::XFail;
  EXPECT_EQ(xfail, 2);

  // One run's result.json.
  EXPECT_EQ(report_from_json(j["results"][0]).results.size(), 1u);

  auto fails_with = [](const nlohmann::json& bad, const std::string& words) {
    try {
      report_from_json(bad);
      ADD_FAILURE() << "accepted: " << bad.dump().substr(0, 80);
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  };
  fails_with({{"format", "rig-results/9"}, {"results", nlohmann::json::array()}}, "rig-results/9");
  fails_with({{"format", "rig-results/2"}}, "results");
  fails_with(nlohmann::json::array(), "neither");
  fails_with({{"format", "rig-results/2"}, {"results", {{{"scenario", "s"}, {"verdict", "great"}}}}}, "great");
  fails_with(
      {{"format", "rig-results/2"}, {"results", {{{"scenario", "s"}, {"verdict", "pass"}, {"duration_s", "long"}}}}},
      "malformed");
}

TEST(ReportModel, BlockSizeComesFromTheGuestsBlocksAndTheSections) {
  const auto r = recorded();
  const auto a = artifacts_of(by_name(r, "boot-dimm-64g"));
  // Boot RAM ends above 64 GiB: x86 makes the block 256 MiB, two sections (memory256 is 64 GiB).
  EXPECT_EQ(infer_block_sections(a.at("guest-state-before-step0.txt"), {0, 1, 2, 3, 4, 5, 6, 7, 512, 513}), 2u);
  EXPECT_EQ(infer_block_sections("memory0/state:online\nmemory1/state:online\n", {0, 1}), 1u);
  EXPECT_EQ(infer_block_sections("no blocks here\n", {0}), 0u);
}

TEST(ReportModel, TheLeakedPmdTableAt64GiBIsOnTheSectionItSitsOnAndLinkedFromItsCheck) {
  const auto r = recorded();
  const auto& res = by_name(r, "boot-dimm-64g");
  const ScenarioView v = build_scenario_view(res, artifacts_of(res), "run-1");
  ASSERT_TRUE(v.has_map);
  EXPECT_EQ(v.columns, (std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 512, 513}));
  EXPECT_EQ(v.nodes, (std::vector<int>{0, 1}));
  ASSERT_EQ(v.dimms.size(), 1u);
  EXPECT_EQ(v.dimms[0].node, 1);
  EXPECT_EQ(v.dimms[0].first_section, 512u);
  EXPECT_EQ(v.dimms[0].last_section, 513u);

  // At boot: node 0's sections 0-7 and the DIMM's 512-513 on node 1, all boot memory; every
  // memmap lives on section 7 (case 1 for the others, case 3 for 7), with both pgdats and the
  // vmemmap page tables.
  for (uint64_t nr : v.columns) {
    const SectionCell& c = v.boot.cells.at(nr);
    EXPECT_EQ(c.state, CellState::Boot) << nr;
    EXPECT_EQ(c.node, nr < 8 ? 0 : 1) << nr;
  }
  // No step before the unplug changed memory: the blocks read before it are the boot state.
  EXPECT_EQ(v.boot.cells.at(512).zone, "Movable");
  const SectionCell& host = v.boot.cells.at(7);
  EXPECT_EQ(host.hosts_memmap_of, (std::set<uint64_t>{0, 1, 2, 3, 4, 5, 6, 512, 513}));
  EXPECT_EQ(host.memmap_case(), 3);
  EXPECT_EQ(host.pgdat_of, (std::set<int>{0, 1}));
  EXPECT_GT(host.table_pages, 0);
  EXPECT_EQ(v.boot.cells.at(512).memmap_hosts.count(7), 1u);
  EXPECT_EQ(v.boot.cells.at(512).memmap_case(), 1);
  EXPECT_EQ(v.boot.cells.at(512).dimm, "dimm64g");

  const StepView& s = step(v, 0);
  ASSERT_TRUE(s.has_frames);
  EXPECT_TRUE(s.before.cells.at(512).departing);
  EXPECT_EQ(s.before.cells.at(512).cases, (std::set<int>{1}));
  EXPECT_FALSE(s.before.cells.at(7).departing);
  EXPECT_EQ(s.before.cells.at(512).zone, "Movable");
  EXPECT_EQ(s.before.cells.at(1).zone, "mixed");  // 256 MiB blocks: memory0 (sections 0-1) spans DMA and DMA32
  EXPECT_EQ(s.before.cells.at(2).zone, "DMA32");
  EXPECT_EQ(s.after.cells.at(512).state, CellState::Removed);
  EXPECT_EQ(s.after.cells.at(513).state, CellState::Removed);
  EXPECT_EQ(s.after.cells.at(7).hosts_memmap_of, (std::set<uint64_t>{0, 1, 2, 3, 4, 5, 6}));

  // Exactly one page differs from the model: the PMD table that mapped only 512-513, leaked.
  EXPECT_GT(s.pages_judged, 1000);
  ASSERT_EQ(s.bad.size(), 1u);
  EXPECT_EQ(s.bad[0].pfn, 261060u);
  EXPECT_EQ(s.bad[0].section, 7u);
  EXPECT_EQ(s.bad[0].kind, "leaked");
  EXPECT_EQ(s.bad[0].roles, "pmd:512,pmd:513");
  EXPECT_EQ(s.bad[0].expected, "freed");
  ASSERT_EQ(s.after.cells.at(7).bad.size(), 1u);
  for (uint64_t nr : v.columns) EXPECT_TRUE(nr == 7 || s.after.cells.at(nr).bad.empty()) << nr;

  // The xfail check names that pfn: linked to section 7 of the frame after the step; the
  // MemTotal check to node 0's row.
  bool tables = false, memtotal = false;
  for (const auto& c : v.checks) {
    if (c.name == "page-tables-freed") {
      tables = true;
      EXPECT_EQ(c.status, "xfail");
      EXPECT_EQ(c.frame, s.after.id);
      EXPECT_EQ(c.pfns, (std::vector<uint64_t>{261060}));
      EXPECT_EQ(c.sections, (std::set<uint64_t>{7}));
    }
    if (c.name == "memtotal-node-0") {
      memtotal = true;
      EXPECT_EQ(c.node, 0);
      EXPECT_EQ(c.frame, s.after.id);
    }
  }
  EXPECT_TRUE(tables && memtotal);
  EXPECT_EQ(s.after.cells.at(7).failed_checks, (std::vector<std::string>{"page-tables-freed"}));
}

TEST(ReportModel, Case3ShowsTheMemmapOnAnotherHotAddedSectionAndTheRemovalOrder) {
  const auto r = recorded();
  const auto& res = by_name(r, "hotplug-memmap-dependency");
  const ScenarioView v = build_scenario_view(res, artifacts_of(res), "run-2");
  // hotA (section 32) and hotB (33) are not plugged at boot.
  EXPECT_EQ(v.boot.cells.at(32).state, CellState::Absent);
  EXPECT_EQ(v.boot.cells.at(33).state, CellState::Absent);
  EXPECT_EQ(v.boot.cells.at(33).node, 1);
  EXPECT_EQ(v.boot.cells.at(0).zone, "");  // hotA was plugged before the blocks were first read

  const StepView& refused = step(v, 4);
  EXPECT_EQ(refused.outcome, "refused");
  EXPECT_EQ(refused.before.cells.at(32).state, CellState::HotAdded);
  EXPECT_EQ(refused.before.cells.at(32).zone, "Normal");
  EXPECT_EQ(refused.before.cells.at(33).zone, "Movable");
  EXPECT_EQ(refused.before.cells.at(33).memmap_hosts.count(32), 1u);
  EXPECT_EQ(refused.before.cells.at(32).hosts_memmap_of, (std::set<uint64_t>{33}));
  EXPECT_EQ(refused.before.cells.at(32).cases, (std::set<int>{1, 3}));
  ASSERT_FALSE(refused.order.empty());
  EXPECT_NE(refused.order[0].find("33 before section 32"), std::string::npos) << refused.order[0];
  EXPECT_EQ(refused.after.cells.at(32).state, CellState::HotAdded);
  EXPECT_TRUE(refused.bad.empty());

  const StepView& b = step(v, 5);
  EXPECT_EQ(b.after.cells.at(33).state, CellState::Removed);
  EXPECT_TRUE(b.after.cells.at(32).hosts_memmap_of.empty());
  EXPECT_TRUE(b.bad.empty());
  const StepView& a = step(v, 6);
  EXPECT_EQ(a.before.cells.at(33).state, CellState::Removed);  // gone since step 5
  EXPECT_EQ(a.after.cells.at(32).state, CellState::Removed);
  EXPECT_TRUE(a.bad.empty());
  // Plug and online steps have no snapshots: rows only.
  EXPECT_FALSE(step(v, 0).has_frames);
}

TEST(ReportModel, MatrixHasEveryScenarioAndKernelWithTotalsAndRelativeLinks) {
  auto r = recorded();
  std::vector<RunArtifacts> a;
  for (auto& x : r.results) {
    a.push_back(artifacts_of(x));
    x.artifacts = "/ci/out/runs/" + std::filesystem::path(x.artifacts).filename().string();
  }
  const ReportView rv = build_report_view(r.results, a, r.info, "/ci/out");
  EXPECT_EQ(rv.matrix.scenarios.size(), 3u);
  ASSERT_EQ(rv.matrix.kernels, (std::vector<std::string>{"6.1.0-56-amd64"}));
  EXPECT_EQ(rv.matrix.totals.at("pass"), 2);
  EXPECT_EQ(rv.matrix.totals.at("xfail"), 1);
  EXPECT_EQ(rv.matrix.runs, 3);
  const MatrixCell& c = rv.matrix.cells.at({"boot-dimm-64g", "6.1.0-56-amd64"});
  EXPECT_EQ(c.verdict, "xfail");
  EXPECT_EQ(c.anchors, (std::vector<std::string>{"run-1"}));
  ASSERT_EQ(c.artifacts.size(), 1u);
  EXPECT_EQ(c.artifacts[0].rfind("runs/boot-dimm-64g--", 0), 0u) << c.artifacts[0];
  EXPECT_GT(c.seconds, 0);
}

TEST(ReportModel, MissingArtifactsGiveVerdictsAndANoteNotAPicture) {
  auto r = recorded();
  const auto& res = by_name(r, "boot-dimm-64g");
  const ScenarioView v = build_scenario_view(res, {}, "run-1");
  EXPECT_FALSE(v.has_map);
  ASSERT_FALSE(v.notes.empty());
  EXPECT_NE(v.notes[0].find("snapshot-boot.txt"), std::string::npos);
  RunArtifacts broken = artifacts_of(res);
  broken["snapshot-before-step0.txt"] = "rig-probe 7\n";
  const ScenarioView w = build_scenario_view(res, broken, "run-1");
  EXPECT_TRUE(w.has_map);
  EXPECT_FALSE(step(w, 0).has_frames);
  bool noted = false;
  for (const auto& n : w.notes) noted |= n.find("snapshot-before-step0.txt could not be read") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(HtmlReport, OneCellPerSectionPerFrameLinksAndNothingUnescaped) {
  auto r = recorded();
  r.results[0].reason = "<script>alert('x')</script> & \"quotes\"";
  std::vector<RunArtifacts> a;
  for (const auto& x : r.results) a.push_back(artifacts_of(x));
  const ReportView rv = build_report_view(r.results, a, r.info, "");
  const std::string html = render_html_report(rv);
  // Frames: boot-dimm-64g boot + before/after step 0 (10 sections each); hotplug-memmap-dependency
  // boot + 3 steps x 2 (10 sections); unplug-boot-dimm-busy boot + 2.
  size_t cells = 0;
  for (const auto& v : rv.scenarios) {
    size_t frames = v.boot.id.empty() ? 0 : 1;
    for (const auto& s : v.steps)
      frames += s.has_frames ? (s.before.id.empty() ? 0 : 1) + (s.after.id.empty() ? 0 : 1) : 0;
    cells += frames * v.columns.size();
  }
  EXPECT_EQ(count(html, "<g class=\"cell st-"), cells);
  EXPECT_EQ(count(html, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"map\""), 3u + 7u + 3u);
  // The leaked page: its cell is marked and links to its row; the check links back to the cell.
  EXPECT_NE(
      html.find(
          "<a href=\"#run-1-s0-after-bad-7\"><g class=\"cell st-boot bad check-failed\" id=\"run-1-s0-after-sec-7\""),
      std::string::npos);
  EXPECT_NE(html.find("id=\"run-1-s0-after-bad-7\""), std::string::npos);
  EXPECT_NE(html.find("href=\"#run-1-s0-after-sec-7\">section 7</a>"), std::string::npos);
  EXPECT_NE(html.find("href=\"#run-1-s0-after-node-0\">node 0</a>"), std::string::npos);
  // Hover text.
  EXPECT_NE(html.find("<title>section 512 - node 1\npfn 16777216-16809983 (32768 pages, 128 MiB at 0x1000000000)"),
            std::string::npos);
  // Escaped, self-contained, no script.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; &quot;quotes&quot;"), std::string::npos);
  EXPECT_EQ(std::regex_search(html, std::regex("(src|href)=\"https?:")), false);
  EXPECT_EQ(count(html, "http://"), count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
}

TEST(HtmlReport, RebuiltFromAMovedFolderFindsTheArtifactsUnderRuns) {
  auto r = recorded();
  for (auto& x : r.results) x.artifacts = "/gone/elsewhere/" + std::filesystem::path(x.artifacts).filename().string();
  const std::string out = ::testing::TempDir() + "/rig-report-test.html";
  write_html_report(r.results, r.info, out, kDir);
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string html = ss.str();
  EXPECT_NE(html.find("id=\"run-1-s0-after-bad-7\""), std::string::npos);
  EXPECT_EQ(html.find("/gone/elsewhere"), std::string::npos);
  EXPECT_EQ(locate_run_artifacts("/gone/nothing-like-it", kDir), "");
  std::filesystem::remove(out);
}

TEST(ReportModel, TheGuestsBlockSizeLineWinsOverTheInference) {
  const auto r = recorded();
  const auto& res = by_name(r, "boot-dimm-64g");
  RunArtifacts a = artifacts_of(res);
  // Recorded before block_size_bytes was read: 256 MiB blocks inferred, memory0 (sections 0-1)
  // spans two zones. Said to be 128 MiB, section 1 is memory1's alone: DMA32.
  for (const char* name : {"guest-state-before-step0.txt", "guest-state-after-step0.txt"}) {
    std::string& text = a.at(name);
    const auto at = text.find("== memory blocks\n");
    ASSERT_NE(at, std::string::npos);
    text.insert(at + 17, "block_size_bytes:8000000\n");
  }
  const ScenarioView v = build_scenario_view(res, a, "run-1");
  EXPECT_EQ(step(v, 0).before.cells.at(1).zone, "DMA32");
  EXPECT_EQ(step(v, 0).before.cells.at(0).zone, "mixed");
}

TEST(ReportModel, AnImplausibleDimmInEditedResultsIsANoteNotAHang) {
  auto r = recorded();
  ScenarioResult res = by_name(r, "boot-dimm-64g");
  const RunArtifacts a = artifacts_of(res);
  res.dimms[0].size = ~0ull - 5;
  const ScenarioView v = build_scenario_view(res, a, "run-1");
  EXPECT_TRUE(v.dimms.empty());
  EXPECT_EQ(v.columns.size(), 10u);
  bool noted = false;
  for (const auto& n : v.notes) noted |= n.find("DIMM dimm64g") != std::string::npos;
  EXPECT_TRUE(noted);
}

// Two kernels, three scenarios (tests/data/report/two-kernels: only the 6.12 boot-dimm-64g run's
// artifacts kept). On 6.12 node 1's pgdat shares a page with node 0's (boot-tags-pgdat-shared-page,
// xfail): the boot map's cell of that page links to the check.
TEST(ReportModel, TwoKernelsAMatrixAndABootCheckLinkedFromItsCell) {
  const std::string dir = std::string(RIG_TEST_DATA) + "/report/two-kernels";
  auto r = report_from_json(nlohmann::json::parse(rig_test::data("report/two-kernels/results.json")));
  std::vector<RunArtifacts> a;
  for (const auto& x : r.results)
    a.push_back(read_run_artifacts(dir + "/runs/" + std::filesystem::path(x.artifacts).filename().string()));
  const ReportView rv = build_report_view(r.results, a, r.info, "");
  EXPECT_EQ(rv.matrix.kernels, (std::vector<std::string>{"6.1.0-56-amd64", "6.12.117+deb12-amd64"}));
  EXPECT_EQ(rv.matrix.scenarios.size(), 3u);
  EXPECT_EQ(rv.matrix.cells.at({"unplug-boot-dimm-movable", "6.12.117+deb12-amd64"}).verdict, "xfail");
  EXPECT_EQ(rv.matrix.cells.at({"unplug-boot-dimm-movable", "6.1.0-56-amd64"}).verdict, "pass");
  EXPECT_EQ(rv.matrix.totals.at("xfail"), 3);

  const ScenarioView* v = nullptr;
  for (const auto& s : rv.scenarios)
    if (s.result->scenario == "boot-dimm-64g" && s.result->kernel.rfind("6.12", 0) == 0) v = &s;
  ASSERT_TRUE(v && v->has_map);
  const uint64_t pgdat_section = 261129 >> 15;
  const SectionCell& cell = v->boot.cells.at(pgdat_section);
  ASSERT_EQ(cell.failed_checks, (std::vector<std::string>{"boot-tags-pgdat-shared-page"}));
  EXPECT_EQ(v->checks.at(cell.failed_check_rows.at(0)).name, "boot-tags-pgdat-shared-page");
  const StepView& s = step(*v, 0);
  ASSERT_EQ(s.bad.size(), 1u);
  EXPECT_EQ(s.bad[0].kind, "leaked");
  EXPECT_EQ(s.bad[0].roles, "pmd:512,pmd:513");
  // Runs whose folders were not kept: verdicts, no map, a note.
  int without = 0;
  for (const auto& x : rv.scenarios) without += !x.has_map && !x.notes.empty();
  EXPECT_EQ(without, 5);
  const std::string html = render_html_report(rv);
  EXPECT_NE(
      html.find(fmt::format("<a href=\"#{}-check-{}\"><g class=\"cell st-boot check-failed\" id=\"{}-boot-sec-{}\"",
                            v->id, cell.failed_check_rows[0], v->id, pgdat_section)),
      std::string::npos);
}

// Every hostile recording (tests/data/hostile) in place of each artifact the report reads: the
// view is built, the page rendered, and what could not be read is a note; nothing throws.
TEST(ReportModel, HostileArtifactsAreNotesNeverAThrow) {
  const auto r = recorded();
  const auto& res = by_name(r, "boot-dimm-64g");
  const RunArtifacts good = artifacts_of(res);
  for (const auto& entry : std::filesystem::directory_iterator(std::string(RIG_TEST_DATA) + "/hostile")) {
    const std::string text = rig_test::data("hostile/" + entry.path().filename().string());
    for (const auto& [name, unused] : good) {
      RunArtifacts a = good;
      a[name] = text;
      ScenarioView v;
      EXPECT_NO_THROW(v = build_scenario_view(res, a, "run-1")) << entry.path() << " as " << name;
      ReportView rv;
      rv.scenarios.push_back(v);
      EXPECT_NO_THROW(render_html_report(rv)) << entry.path() << " as " << name;
    }
  }
}

// Issue #19: a run over several kernels says, per pair of neighbours, what changed (rig compare).
TEST(HtmlReport, SeveralKernelsAreComparedNeighbourByNeighbour) {
  auto r = recorded();
  std::vector<RunArtifacts> a;
  for (const auto& x : r.results) a.push_back(artifacts_of(x));
  EXPECT_EQ(render_html_report(build_report_view(r.results, a, r.info, "")).find("Kernels compared"), std::string::npos)
      << "one kernel: nothing to compare";
  std::vector<ScenarioResult> two = r.results;
  ScenarioResult other = r.results[0];
  other.kernel = "7.3.4+deb13-amd64<b>";
  other.verdict = Verdict::Fail;
  ASSERT_FALSE(other.checks.empty());
  other.checks[0].status = CheckStatus::Fail;
  other.checks[0].pages.resize(3);
  two.push_back(other);
  a.push_back(artifacts_of(other));
  const std::string html = render_html_report(build_report_view(two, a, r.info, ""));
  EXPECT_NE(html.find("<h2 id=\"kernels\">Kernels compared</h2>"), std::string::npos);
  EXPECT_NE(html.find("&#8594; 7.3.4+deb13-amd64&lt;b&gt;: 3 of 3 scenarios changed</h3>"), std::string::npos) << html;
  EXPECT_NE(html.find(" &#8594; fail (3 pages)"), std::string::npos) << "the changed check, A to B";
  EXPECT_NE(html.find("<td>not run</td>"), std::string::npos) << "scenarios run on one kernel only";
}
