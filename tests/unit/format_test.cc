// Every C++ file of the tree is as clang-format (Debian's) and the root .clang-format leave it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sstream>
#include <set>
#include <regex>
#include <vector>

namespace fs = std::filesystem;

namespace {

// The files clang-format would change, one per line ("" when none). Runs the tool once for all;
// a run that failed without naming a file (a bad .clang-format, a crash) is reported as such.
std::string unformatted(const std::vector<fs::path>& files, const fs::path& style_dir) {
  std::string cmd = "cd '" + style_dir.string() + "' && clang-format --dry-run --Werror";
  for (const auto& f : files) cmd += " '" + f.string() + "'";
  cmd += " 2>&1; echo \"clang-format-exit $?\"";
  std::string all;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) all.append(buf, n);
    pclose(p);
  }
  std::set<std::string> named;
  std::istringstream in(all);
  std::string line;
  static const std::regex error_re("^([^:]+):[0-9]+:[0-9]+: error");
  bool clean_exit = false;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, error_re)) named.insert(m[1]);
    if (line == "clang-format-exit 0") clean_exit = true;
  }
  std::string out;
  for (const auto& f : named) out += f + "\n";
  if (out.empty() && !clean_exit) out = "clang-format failed: " + all.substr(0, 500);
  return out;
}

bool have_clang_format() { return std::system("clang-format --version >/dev/null 2>&1") == 0; }

}  // namespace

TEST(Format, AnUnformattedFileIsFound) {
  ASSERT_TRUE(have_clang_format()) << "clang-format is missing (setup.sh installs it)";
  const fs::path dir = fs::temp_directory_path() / ("rig-format-" + std::to_string(getpid()));
  fs::create_directories(dir);
  fs::copy_file(fs::path(RIG_SOURCE_DIR) / ".clang-format", dir / ".clang-format");
  std::ofstream(dir / "bad.cc") << "int  f( int x ){return x;}\n";
  std::ofstream(dir / "good.cc") << "int f(int x) { return x; }\n";
  const std::string out = unformatted({dir / "bad.cc", dir / "good.cc"}, dir);
  fs::remove_all(dir);
  EXPECT_NE(out.find("bad.cc"), std::string::npos) << out;
  EXPECT_EQ(out.find("good.cc"), std::string::npos) << out;
}

TEST(Format, TheTreeIsFormatted) {
  ASSERT_TRUE(have_clang_format()) << "clang-format is missing (setup.sh installs it)";
  std::vector<fs::path> files;
  for (const char* top : {"src", "tests"})
    for (const auto& e : fs::recursive_directory_iterator(fs::path(RIG_SOURCE_DIR) / top)) {
      const auto ext = e.path().extension();
      if (e.is_regular_file() && (ext == ".cc" || ext == ".h") &&
          e.path().string().find("/tests/data/") == std::string::npos)
        files.push_back(e.path());
    }
  ASSERT_GT(files.size(), 100u);
  EXPECT_EQ(unformatted(files, RIG_SOURCE_DIR), "") << "run: clang-format -i on these files";
}
