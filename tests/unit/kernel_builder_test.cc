#include "rig/kernel_builder.h"

#include <gtest/gtest.h>

#include <boost/filesystem.hpp>
#include <fstream>

#include "rig/errors.h"

using namespace rig;
namespace fs = boost::filesystem;

namespace {
std::string dir_with(const std::string& name, const std::vector<std::pair<std::string, std::string>>& files) {
  const std::string d = ::testing::TempDir() + "/patches-" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  for (const auto& [f, text] : files) std::ofstream(d + "/" + f) << text;
  return d;
}
}  // namespace

TEST(KernelBuilder, PatchDirectoryFollowsItsSeriesFile) {
  const std::string d = dir_with("series", {{"series", "# order matters\n0002-b.patch\n0001-a.patch -p1\n"}, {"0001-a.patch", ""}, {"0002-b.patch", ""}});
  EXPECT_EQ(expand_patch_argument(d), (std::vector<std::string>{d + "/0002-b.patch", d + "/0001-a.patch"}));
}

TEST(KernelBuilder, PatchDirectoryWithoutSeriesIsSorted) {
  const std::string d = dir_with("sorted", {{"0002-b.patch", ""}, {"0001-a.diff", ""}, {"notes.txt", ""}});
  EXPECT_EQ(expand_patch_argument(d), (std::vector<std::string>{d + "/0001-a.diff", d + "/0002-b.patch"}));
  EXPECT_EQ(expand_patch_argument(d + "/0002-b.patch"), (std::vector<std::string>{d + "/0002-b.patch"}));
}

TEST(KernelBuilder, BadPatchArgumentsAreUsageErrors) {
  EXPECT_THROW(expand_patch_argument("/nonexistent.patch"), UsageError);
  EXPECT_THROW(expand_patch_argument(dir_with("empty", {{"README", ""}})), UsageError);
  EXPECT_THROW(expand_patch_argument(dir_with("broken-series", {{"series", "missing.patch\n"}})), UsageError);
}

TEST(KernelBuilder, MissingSourceIsAUsageErrorBeforeAnyWork) {
  KernelBuildRequest req;
  req.src = "/nonexistent/linux";
  EXPECT_THROW(build_kernel(req, [](const std::string&) {}), UsageError);
  req.src = ::testing::TempDir();  // a directory, but not a kernel tree
  EXPECT_THROW(build_kernel(req, [](const std::string&) {}), UsageError);
}
