// The application layer's policy (src/rig/app/): defaults, which scenarios a command runs and the
// known failures merged into them, where a run's reports go, the one exit-status rule (rig run
// and rig explore alike) and how a command's exceptions become exit statuses.
#include <gtest/gtest.h>

#include <unistd.h>

#include <boost/filesystem.hpp>
#include <fstream>
#include <sstream>

#include "rig/app/command_status.h"
#include "rig/app/defaults.h"
#include "rig/app/explore_command.h"
#include "rig/app/kernel_commands.h"
#include "rig/app/run_command.h"
#include "rig/app/scenario_selection.h"
#include "rig/base/errors.h"
#include "rig/base/exit_status.h"
#include "rig/report/results_report.h"

namespace fs = boost::filesystem;
using namespace rig;

namespace {

// A rig home of its own: rig/scenarios/ with the given files, and known-failures.toml if given.
class Home {
 public:
  Home() : dir_(fs::temp_directory_path() / fs::unique_path("rig-app-test-%%%%%%%%")) {
    fs::create_directories(dir_ / "rig/scenarios");
  }
  ~Home() { fs::remove_all(dir_); }
  void add(const std::string& rel, const std::string& text) { std::ofstream(dir_ / rel) << text; }
  std::string path() const { return dir_.string(); }

 private:
  fs::path dir_;
};

std::string scenario_toml(const std::string& name, const std::string& suites) {
  return "name = \"" + name + "\"\nsuites = [" + suites +
         "]\n[machine]\nmaxmem = \"4G\"\nslots = 2\n[[node]]\nid = 0\ncpus = \"0-1\"\nmemory = \"1G\"\n";
}

const char* kKnown =
    "[[xfail]]\ncase = 4\ncheck = \"offline-skips-memmap\"\nkernel = \"\"\npattern = \"^memmap\"\n"
    "max_pages = 2\nevidence = \"docs/known-failures.md#x\"\n";

ExploreFinding finding(bool known, bool flaky) {
  ExploreFinding f;
  f.finding.known = known;
  f.flaky = flaky;
  return f;
}

}  // namespace

TEST(AppDefaults, OneDefaultKernelForEveryCommand) {
  EXPECT_STREQ(app::kDefaultKernel, "debian-6.1");
  EXPECT_EQ(app::kernels_or_default({}), std::vector<std::string>{"debian-6.1"});
  EXPECT_EQ(app::kernels_or_default({"debian-6.12", "/k/bzImage"}),
            (std::vector<std::string>{"debian-6.12", "/k/bzImage"}));
  EXPECT_EQ(app::ReproOptions{}.kernel, app::kDefaultKernel);
  EXPECT_TRUE(app::RunOptions{}.kernels.empty()) << "none given: kernels_or_default picks";
  EXPECT_EQ(app::RunOptions{}.artifacts, "rig-runs");
  EXPECT_EQ(app::RunOptions{}.qemu, "qemu-system-x86_64");
  EXPECT_EQ(app::ExploreCommandOptions{}.budget, "30m");
  EXPECT_EQ(app::ExploreCommandOptions{}.max_tries, 16);
  EXPECT_STREQ(app::default_libvirt_uri(), "qemu:///system");
}

TEST(AppScenarioSelection, FilesThenTheSuitesShippedScenariosWithTheKnownFailures) {
  Home home;
  home.add("rig/scenarios/b.toml", scenario_toml("b", "\"spec\""));
  home.add("rig/scenarios/a.toml", scenario_toml("a", "\"spec\", \"smoke\""));
  home.add("rig/scenarios/c.toml", scenario_toml("c", "\"other\""));
  home.add("rig/scenarios/notes.txt", "not a scenario");
  home.add("mine.toml", scenario_toml("mine", ""));
  home.add("rig/known-failures.toml", kKnown);

  const auto files = app::shipped_scenario_files(home.path());
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(fs::path(files[0]).filename(), "a.toml") << "sorted, .toml only";

  const auto spec = app::select_scenarios({{home.path() + "/mine.toml"}, "spec", home.path()});
  ASSERT_EQ(spec.size(), 3u);
  EXPECT_EQ(spec[0].name, "mine");
  EXPECT_EQ(spec[1].name, "a");
  EXPECT_EQ(spec[2].name, "b");
  for (const auto& s : spec) {
    ASSERT_EQ(s.xfails.size(), 1u) << s.name << ": the known failures apply to every scenario";
    EXPECT_EQ(s.xfails[0].check, "offline-skips-memmap");
  }
  EXPECT_EQ(app::select_scenarios({{}, "smoke", home.path()}).size(), 1u);
  // Several suites: the scenarios of any, each once, in file order.
  const auto both = app::select_scenarios({{}, "smoke,other", home.path()});
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].name, "a");
  EXPECT_EQ(both[1].name, "c");
  EXPECT_EQ(app::select_scenarios({{}, "spec,smoke", home.path()}).size(), 2u) << "a once";
  try {
    app::select_scenarios({{}, "spec,nope", home.path()});
    ADD_FAILURE() << "a suite with no scenario must be refused";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--suite spec,nope: no shipped scenario belongs to suite nope");
  }
  EXPECT_THROW(app::select_scenarios({{}, "spec,", home.path()}), UsageError);
}

TEST(AppScenarioSelection, NothingChosenOrAnEmptySuiteIsAUsageError) {
  Home home;
  home.add("rig/scenarios/a.toml", scenario_toml("a", "\"spec\""));
  EXPECT_THROW(app::select_scenarios({{}, "", home.path()}), UsageError);
  try {
    app::select_scenarios({{}, "nightly", home.path()});
    ADD_FAILURE() << "an empty suite must be refused";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--suite nightly: no shipped scenario belongs to that suite");
  }
  // Without known-failures.toml nothing is merged.
  const auto s = app::select_scenarios({{}, "spec", home.path()});
  ASSERT_EQ(s.size(), 1u);
  EXPECT_TRUE(s[0].xfails.empty());
  EXPECT_TRUE(app::known_failures(home.path()).empty());
}

TEST(AppScenarioSelection, MergeAppendsAfterTheScenariosOwnEntries) {
  std::vector<Scenario> ss(2);
  ss[0].xfails.push_back({1, "own", "", "", 1, ""});
  app::merge_known_failures(ss, {{4, "k1", "", "", 1, ""}, {5, "k2", "6.12.", "", 1, ""}});
  ASSERT_EQ(ss[0].xfails.size(), 3u);
  EXPECT_EQ(ss[0].xfails[0].check, "own");
  EXPECT_EQ(ss[0].xfails[2].check, "k2");
  EXPECT_EQ(ss[1].xfails.size(), 2u);
}

TEST(AppShippedScenarios, TheSpecSuiteCarriesTheShippedKnownFailures) {
  const auto spec = app::select_scenarios({{}, "spec", RIG_SOURCE_DIR});
  EXPECT_GE(spec.size(), 10u);
  const auto known = app::known_failures(RIG_SOURCE_DIR);
  ASSERT_FALSE(known.empty());
  for (const auto& s : spec) EXPECT_GE(s.xfails.size(), known.size()) << s.name;
}

TEST(AppExitStatus, OneRuleForRunAndExplore) {
  EXPECT_EQ(exit_status(false, false), 0);
  EXPECT_EQ(exit_status(true, false), 1);
  EXPECT_EQ(exit_status(false, true), 3);
  EXPECT_EQ(exit_status(true, true), 3) << "an infrastructure error wins";

  ExploreSummary s;
  EXPECT_EQ(app::explore_exit_status(s), 0) << "nothing ran, nothing found";
  s.coverage.runs = 4;
  s.findings = {finding(true, false), finding(false, true)};
  EXPECT_EQ(app::explore_exit_status(s), 0) << "known and flaky findings do not fail";
  s.findings.push_back(finding(false, false));
  EXPECT_EQ(app::explore_exit_status(s), 1) << "a new finding that repeated (or had no budget to) fails";
  s.coverage.errors = 3;
  EXPECT_EQ(app::explore_exit_status(s), 1) << "some runs tested something";
  s.coverage.errors = 4;
  EXPECT_EQ(app::explore_exit_status(s), 3) << "every run an error: nothing was tested, as in rig run";
  s.findings.clear();
  EXPECT_EQ(app::explore_exit_status(s), 3);

  // rig run's results by the same rule.
  ScenarioResult pass, fail, error;
  pass.verdict = Verdict::Pass;
  fail.verdict = Verdict::Fail;
  error.verdict = Verdict::Error;
  EXPECT_EQ(exit_status_for({pass, fail}), exit_status(true, false));
  EXPECT_EQ(exit_status_for({fail, error}), exit_status(true, true));
}

TEST(AppRunOutputs, OutFillsWhatWasNotGivenAndTheHtmlFollowsTheJson) {
  app::RunOptions o;
  app::RunOutputs r = app::run_outputs(o);
  EXPECT_EQ(r.json, "");
  EXPECT_EQ(r.artifacts, (fs::current_path() / "rig-runs").string());
  EXPECT_EQ(r.html, (fs::current_path() / "rig-runs/report.html").string()) << "no JSON: in the artifacts";

  o.out = "/tmp/ci";
  r = app::run_outputs(o);
  EXPECT_EQ(r.json, "/tmp/ci/results.json");
  EXPECT_EQ(r.junit, "/tmp/ci/junit.xml");
  EXPECT_EQ(r.ktap, "/tmp/ci/results.ktap");
  EXPECT_EQ(r.artifacts, "/tmp/ci/runs");
  EXPECT_EQ(r.html, "/tmp/ci/report.html");

  o.json = "/elsewhere/r.json";
  o.ktap = "-";
  o.artifacts = "/a/../b";
  o.artifacts_given = true;
  r = app::run_outputs(o);
  EXPECT_EQ(r.json, "/elsewhere/r.json");
  EXPECT_EQ(r.ktap, "-");
  EXPECT_EQ(r.artifacts, "/b") << "--artifacts wins over OUT/runs";
  EXPECT_EQ(r.html, "/elsewhere/report.html") << "beside the JSON";
  o.html = "/x/page.html";
  EXPECT_EQ(app::run_outputs(o).html, "/x/page.html");
  EXPECT_EQ(app::run_outputs(o).kcidb, "") << "KCIDB only when asked for";
  o.kcidb_origin = "my_lab";
  EXPECT_EQ(app::run_outputs(o).kcidb, "/tmp/ci/kcidb.json") << "an origin with --out: OUT/kcidb.json";
  o.kcidb = "/k/kcidb.json";
  EXPECT_EQ(app::run_outputs(o).kcidb, "/k/kcidb.json");
}

TEST(AppCommandStatus, ExceptionsBecomeOneLineAndTheirExitStatus) {
  std::ostringstream err;
  EXPECT_EQ(app::call_command([] { return 1; }, err), 1);
  EXPECT_EQ(app::call_command([]() -> int { throw UsageError("--x: bad"); }, err), 2);
  EXPECT_EQ(app::call_command([]() -> int { throw InfraError("no qemu"); }, err), 3);
  EXPECT_EQ(app::call_command([]() -> int { throw std::runtime_error("oops"); }, err), 3);
  EXPECT_EQ(err.str(), "rig: error: --x: bad\nrig: infrastructure error: no qemu\nrig: internal error: oops\n");
}
