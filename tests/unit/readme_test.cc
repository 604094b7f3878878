// The README's set-up commands are what CI runs: keep them from drifting apart.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace {
std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST(Readme, CiRunsTheReadmeTestCommand) {
  const std::string ci = slurp(RIG_SOURCE_DIR "/.ci/run");
  const std::string readme = slurp(RIG_SOURCE_DIR "/README.md");
  const std::string command = "./setup.sh && ctest --test-dir build -j2 -LE slow --output-on-failure";
  EXPECT_NE(ci.find("\n" + command + "\n"), std::string::npos) << ".ci/run must run: " << command;
  EXPECT_NE(readme.find("    " + command + "\n"), std::string::npos) << "README must show: " << command;
  EXPECT_NE(readme.find("    ./setup.sh && ./build/rig run --suite spec --kernel debian-6.1 --json results.json\n"),
            std::string::npos);
}
