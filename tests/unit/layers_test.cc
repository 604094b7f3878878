// The folders of src/rig/ are the layers, in the order below: a file may include files of its own
// folder and of folders earlier in the list, never of a later one. docs/ARCHITECTURE.md's table
// lists the same folders in the same order (checked here, so the document stays true).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

namespace fs = std::filesystem;

namespace {

// Lowest first. A new folder goes here and into docs/ARCHITECTURE.md's table.
const std::vector<std::string> kLayerOrder = {
    "base",         "scenario",        "spec",   "host", "machine/qmp", "machine",
    "machine/qemu", "machine/libvirt", "report", "run",  "workflows",   "app",
};

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "machine/qemu/qemu_args.h" -> "machine/qemu"; "errors.h" (no folder) -> "".
std::string folder_of(const std::string& rel) {
  const auto slash = rel.rfind('/');
  return slash == std::string::npos ? "" : rel.substr(0, slash);
}

int rank_of(const std::vector<std::string>& order, const std::string& folder) {
  for (size_t i = 0; i < order.size(); ++i)
    if (order[i] == folder) return static_cast<int>(i);
  return -1;
}

struct Source {
  std::string rel;   // path under src/rig/
  std::string text;  // its content
};

// Every include that breaks the order, as "FILE:LINE ...", and every file in no layer.
std::vector<std::string> violations(const std::vector<std::string>& order, const std::vector<Source>& files) {
  std::vector<std::string> out;
  const std::regex include_re("^\\s*#\\s*include\\s+\"rig/([^\"]+)\"");
  for (const auto& f : files) {
    const int mine = rank_of(order, folder_of(f.rel));
    if (mine < 0) {
      out.push_back("src/rig/" + f.rel + " is in no layer folder");
      continue;
    }
    std::istringstream in(f.text);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      std::smatch m;
      if (!std::regex_search(line, m, include_re)) continue;
      const std::string inc = m[1];
      const int theirs = rank_of(order, folder_of(inc));
      if (theirs < 0)
        out.push_back("src/rig/" + f.rel + ":" + std::to_string(n) + " includes rig/" + inc + ", in no layer folder");
      else if (theirs > mine)
        out.push_back("src/rig/" + f.rel + ":" + std::to_string(n) + " (" + order[mine] + ") includes rig/" + inc +
                      " of the later layer " + order[theirs]);
    }
  }
  return out;
}

std::vector<Source> tree_sources() {
  std::vector<Source> out;
  const fs::path root = fs::path(RIG_SOURCE_DIR) / "src/rig";
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string ext = e.path().extension().string();
    if (!e.is_regular_file() || (ext != ".h" && ext != ".cc")) continue;
    out.push_back({fs::relative(e.path(), root).generic_string(), read(e.path())});
  }
  return out;
}

// The folders named in the first column of ARCHITECTURE.md's layer table, in order.
std::vector<std::string> doc_folders(const std::string& doc) {
  std::vector<std::string> out;
  std::istringstream in(doc);
  std::string line;
  bool in_table = false;
  const std::regex first_cell("^\\|\\s*`([a-z/]+)/`\\s*\\|");
  while (std::getline(in, line)) {
    if (line.rfind("| folder |", 0) == 0) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.rfind("|", 0) != 0) break;
    std::smatch m;
    if (std::regex_search(line, m, first_cell)) out.push_back(m[1]);
  }
  return out;
}

}  // namespace

TEST(Layers, TheRuleFailsOnAnIncludeOfALaterFolderAndOnAFileOutsideTheLayers) {
  const std::vector<Source> planted = {
      {"base/size.cc", "#include \"rig/base/size.h\"\n#include \"rig/run/scenario_runner.h\"\n"},
      {"spec/judge.cc", "#include \"rig/scenario/results.h\"\n"},
      {"loose.cc", ""},
      {"report/x.cc", "#include \"rig/nowhere/y.h\"\n"},
  };
  const auto v = violations(kLayerOrder, planted);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], "src/rig/base/size.cc:2 (base) includes rig/run/scenario_runner.h of the later layer run");
  EXPECT_EQ(v[1], "src/rig/loose.cc is in no layer folder");
  EXPECT_NE(v[2].find("in no layer folder"), std::string::npos);
}

TEST(Layers, NoFileIncludesALaterFolder) {
  const auto files = tree_sources();
  EXPECT_GT(files.size(), 90u);
  for (const auto& v : violations(kLayerOrder, files)) ADD_FAILURE() << v;
}

TEST(Layers, EveryFolderIsALayerAndTheArchitectureTableListsThemInOrder) {
  std::vector<std::string> on_disk;
  const fs::path root = fs::path(RIG_SOURCE_DIR) / "src/rig";
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_directory()) on_disk.push_back(fs::relative(e.path(), root).generic_string());
  for (const auto& d : on_disk)
    EXPECT_GE(rank_of(kLayerOrder, d), 0) << "src/rig/" << d << " is not in the layer order";
  EXPECT_EQ(doc_folders(read(fs::path(RIG_SOURCE_DIR) / "docs/ARCHITECTURE.md")), kLayerOrder);
}

// src/cli/ declares options and calls the application layer: its files include CLI11, the
// standard library, each other and rig/app/ only, never the library below app/.
TEST(Layers, TheCommandLineCallsOnlyTheApplicationLayer) {
  const std::regex include_re("^\\s*#\\s*include\\s+[\"<]([^\">]+)[\">]");
  int files = 0;
  for (const auto& e : fs::directory_iterator(fs::path(RIG_SOURCE_DIR) / "src/cli")) {
    ++files;
    std::istringstream in(read(e.path()));
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      std::smatch m;
      if (!std::regex_search(line, m, include_re)) continue;
      const std::string inc = m[1];
      if (inc.rfind("rig/", 0) == 0 && inc.rfind("rig/app/", 0) != 0)
        ADD_FAILURE() << "src/cli/" << e.path().filename().string() << ":" << n << " includes " << inc
                      << " (the CLI calls rig/app/ only)";
    }
  }
  EXPECT_GE(files, 1);
}
