// rig explore for real: a short budget on a Debian kernel draws scenarios that `rig check`
// accepts, runs them, and leaves explore.json, the generated files and no QEMU behind.
#include <gtest/gtest.h>

#include <boost/filesystem.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "integration/harness.h"

using nlohmann::json;
using namespace rig_it;

TEST(Explore, ShortBudgetRunsGeneratedScenarios) {
  const std::string dir = fresh_dir("explore");
  CommandResult r = run_command({RIG_BINARY, "explore", "--kernel", "debian-6.12", "--budget", "40s", "--seed", "7",
                                 "-j", "2", "--max-tries", "2", "--out", dir + "/out"},
                                900);
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.exit_code << "\n" << r.err;
  json j = json::parse(read_file(dir + "/out/explore.json"));
  EXPECT_EQ(j["format"], "rig-explore/1");
  EXPECT_TRUE(j["complete"].get<bool>());
  EXPECT_EQ(j["seed"], 7);
  EXPECT_GE(j["coverage"]["runs"].get<int>(), 2) << r.err;
  EXPECT_EQ(j["coverage"]["errors"], 0) << r.err;
  EXPECT_NE(r.err.find("coverage: "), std::string::npos) << r.err;
  std::vector<std::string> generated;
  for (boost::filesystem::directory_iterator it(dir + "/out/generated"), end; it != end; ++it)
    generated.push_back(it->path().string());
  ASSERT_GE(generated.size(), 2u);
  std::vector<std::string> check = {RIG_BINARY, "check"};
  check.insert(check.end(), generated.begin(), generated.end());
  CommandResult c = run_command(check, 60);
  EXPECT_EQ(c.exit_code, 0) << "a generated scenario is an ordinary scenario file: " << c.out << c.err;
  // Every finding names the draw that showed it; a minimized scenario when the budget allowed one.
  for (const auto& f : j["findings"]) {
    EXPECT_TRUE(boost::filesystem::exists(f["found_in"].get<std::string>())) << f.dump();
    const std::string m = f["minimized"];
    if (!m.empty()) {
      EXPECT_TRUE(boost::filesystem::exists(m)) << f.dump();
    }
  }
  EXPECT_TRUE(qemu_pids_mentioning(dir).empty());
}

TEST(Explore, BadBudgetIsRejectedBeforeAnythingBoots) {
  const std::string dir = fresh_dir("explore-bad");
  CommandResult r = run_command({RIG_BINARY, "explore", "--budget", "20 minutes", "--out", dir + "/out"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "rig: error: --budget 20 minutes: not a duration (e.g. 20m, 1h30m, 90s)\n");
  EXPECT_FALSE(path_exists(dir + "/out"));
}
