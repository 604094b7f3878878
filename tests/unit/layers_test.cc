// The layer table in docs/ARCHITECTURE.md is the rule: a file in src/rig/ may include files of
// its own layer and of layers above it in the table (lower layers), never of a later one.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Layer {
  std::string name;
  std::vector<std::string> patterns;  // "size.*" (any extension) or "machine.h"
};

// The rows of the table under "| layer | files | job |", in order.
std::vector<Layer> layers_from_doc(const std::string& doc) {
  std::vector<Layer> out;
  std::istringstream in(doc);
  std::string line;
  bool in_table = false;
  const std::regex tick("`([^`]+)`");
  while (std::getline(in, line)) {
    if (line.rfind("| layer | files |", 0) == 0) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.rfind("|", 0) != 0) break;
    if (line.rfind("|---", 0) == 0) continue;
    std::vector<std::string> cells;
    std::stringstream row(line.substr(1));
    std::string cell;
    while (std::getline(row, cell, '|')) cells.push_back(cell);
    if (cells.size() < 2) continue;
    Layer l;
    l.name = cells[0];
    l.name.erase(0, l.name.find_first_not_of(' '));
    l.name.erase(l.name.find_last_not_of(' ') + 1);
    for (std::sregex_iterator it(cells[1].begin(), cells[1].end(), tick), end; it != end; ++it) {
      const std::string f = (*it)[1];
      if (f.find('/') == std::string::npos) l.patterns.push_back(f);  // src/cli/main.cc is outside src/rig
    }
    out.push_back(l);
  }
  return out;
}

bool matches(const std::string& pattern, const std::string& file) {
  if (pattern.size() > 2 && pattern.compare(pattern.size() - 2, 2, ".*") == 0) {
    const std::string stem = pattern.substr(0, pattern.size() - 1);  // "size."
    return file.rfind(stem, 0) == 0 && file.find('.', stem.size()) == std::string::npos;
  }
  return pattern == file;
}

// File name -> layer index; -1 when no row names it.
int layer_of(const std::vector<Layer>& layers, const std::string& file) {
  for (size_t i = 0; i < layers.size(); ++i)
    for (const auto& p : layers[i].patterns)
      if (matches(p, file)) return static_cast<int>(i);
  return -1;
}

}  // namespace

TEST(Layers, TableParses) {
  auto layers = layers_from_doc(read(fs::path(RIG_SOURCE_DIR) / "docs/ARCHITECTURE.md"));
  ASSERT_GE(layers.size(), 10u);
  EXPECT_EQ(layer_of(layers, "errors.h"), 0);
  EXPECT_GE(layer_of(layers, "scenario_runner.cc"), 0);
  EXPECT_TRUE(matches("size.*", "size.cc"));
  EXPECT_FALSE(matches("size.*", "size_test.cc"));
}

TEST(Layers, NoFileIncludesAHigherLayer) {
  auto layers = layers_from_doc(read(fs::path(RIG_SOURCE_DIR) / "docs/ARCHITECTURE.md"));
  const std::regex include_re("^\\s*#\\s*include\\s+\"rig/([^\"]+)\"");
  int files = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(RIG_SOURCE_DIR) / "src/rig")) {
    const std::string file = entry.path().filename().string();
    const std::string ext = entry.path().extension().string();
    if (ext != ".h" && ext != ".cc") continue;
    ++files;
    const int mine = layer_of(layers, file);
    if (mine < 0) {
      ADD_FAILURE() << "src/rig/" << file << " is in no layer of docs/ARCHITECTURE.md";
      continue;
    }
    std::istringstream in(read(entry.path()));
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      std::smatch m;
      if (!std::regex_search(line, m, include_re)) continue;
      const std::string inc = m[1];
      const int theirs = layer_of(layers, inc);
      if (theirs < 0)
        ADD_FAILURE() << "src/rig/" << file << ":" << n << " includes rig/" << inc << ", which is in no layer";
      else if (theirs > mine)
        ADD_FAILURE() << "src/rig/" << file << ":" << n << " (layer '" << layers[mine].name << "') includes rig/" << inc
                      << " of the higher layer '" << layers[theirs].name << "'";
    }
  }
  EXPECT_GT(files, 20);
}
