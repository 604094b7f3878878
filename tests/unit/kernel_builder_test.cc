#include "rig/workflows/kernel_builder.h"

#include <gtest/gtest.h>

#include <boost/filesystem.hpp>
#include <algorithm>
#include <fstream>

#include "rig/base/errors.h"

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
  const std::string d = dir_with(
      "series",
      {{"series", "# order matters\n0002-b.patch\n0001-a.patch -p1\n"}, {"0001-a.patch", ""}, {"0002-b.patch", ""}});
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

namespace {
const std::string kConfigDir = std::string(RIG_SOURCE_DIR) + "/guest-kernel-config";
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
}  // namespace

TEST(KernelBuilder, ParsesFragmentsIncludingNotSet) {
  auto v = parse_kconfig(
      "# a comment\nCONFIG_MEMCG=y\n# CONFIG_KASAN is not set\nCONFIG_NR_CPUS=8\nCONFIG_CMDLINE=\"a b\"\n"
      "# CONFIG_FOO is not set because\n  CONFIG_BAR=m  \n");
  EXPECT_EQ(v, (KconfigValues{{"CONFIG_MEMCG", "y"},
                              {"CONFIG_KASAN", "n"},
                              {"CONFIG_NR_CPUS", "8"},
                              {"CONFIG_CMDLINE", "\"a b\""},
                              {"CONFIG_BAR", "m"}}));
}

TEST(KernelBuilder, AFragmentWinsOverBaseAndEachChangeIsOneLine) {
  const KconfigValues base = {{"CONFIG_MEMCG", "y"}, {"CONFIG_NR_CPUS", "8"}, {"CONFIG_NUMA", "y"}};
  auto changes =
      fragment_changes(base, {{"no-memcg.config", {{"CONFIG_MEMCG", "n"}, {"CONFIG_NUMA", "y"}, {"CONFIG_KASAN", "y"}}},
                              {"late.config", {{"CONFIG_NR_CPUS", "4"}, {"CONFIG_KASAN", "n"}}}});
  std::vector<std::string> lines;
  for (const auto& c : changes) lines.push_back(describe(c));
  // Same values and options base.config does not set are not changes; a later fragment that
  // overrides an earlier one is.
  EXPECT_EQ(lines, (std::vector<std::string>{"fragment no-memcg.config: CONFIG_MEMCG=y -> n",
                                             "fragment late.config: CONFIG_KASAN=y -> n",
                                             "fragment late.config: CONFIG_NR_CPUS=8 -> 4"}));
  EXPECT_TRUE(fragment_changes(base, {}).empty());
}

TEST(KernelBuilder, TheShippedNoMemcgFragmentChangesExactlyMemcg) {
  auto changes = fragment_changes(
      parse_kconfig(slurp(kConfigDir + "/base.config")),
      {{"F", parse_kconfig(slurp(std::string(RIG_SOURCE_DIR) + "/tests/data/fragments/no-memcg.config"))}});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(describe(changes[0]), "fragment F: CONFIG_MEMCG=y -> n");
}

TEST(KernelBuilder, RequiredOptionsAFragmentTurnsOffAreNamedWithTheFragment) {
  const std::vector<std::string> required = {"CONFIG_MEMORY_HOTREMOVE", "CONFIG_MODULES", "CONFIG_VIRTIO_CONSOLE"};
  EXPECT_TRUE(required_conflicts(required, {{"no-memcg.config", {{"CONFIG_MEMCG", "n"}}}}).empty());
  EXPECT_EQ(required_conflicts(required, {{"a.config", {{"CONFIG_MODULES", "y"}}},
                                          {"b.config", {{"CONFIG_MODULES", "n"}}},
                                          {"c.config", {{"CONFIG_VIRTIO_CONSOLE", "m"}}}}),
            (std::vector<std::string>{
                "fragment b.config turns off CONFIG_MODULES, which the rig needs (guest-kernel-config/required.list)",
                "fragment c.config sets CONFIG_VIRTIO_CONSOLE=m; the rig needs CONFIG_VIRTIO_CONSOLE=y "
                "(guest-kernel-config/required.list)"}));
  // The last fragment to set an option decides, as in merge_config.sh.
  EXPECT_TRUE(
      required_conflicts(required, {{"a.config", {{"CONFIG_MODULES", "n"}}}, {"b.config", {{"CONFIG_MODULES", "y"}}}})
          .empty());
}

TEST(KernelBuilder, RequiredListNamesOnlyWhatTheRigNeeds) {
  const auto required = parse_required_list(slurp(kConfigDir + "/required.list"));
  auto has = [&](const std::string& o) { return std::find(required.begin(), required.end(), o) != required.end(); };
  // The kernel under test may have MEMCG or not: that is the user's choice (a fragment), not the rig's.
  EXPECT_FALSE(has("CONFIG_MEMCG"));
  for (const char* o : {"CONFIG_MEMORY_HOTREMOVE", "CONFIG_ACPI_HOTPLUG_MEMORY", "CONFIG_MODULES", "CONFIG_DEBUG_FS",
                        "CONFIG_VIRTIO_CONSOLE", "CONFIG_BLK_DEV_INITRD", "CONFIG_DEVTMPFS"})
    EXPECT_TRUE(has(o)) << o;
  // Everything required is turned on by base.config itself.
  const auto base = parse_kconfig(slurp(kConfigDir + "/base.config"));
  for (const auto& o : required) {
    auto it = base.find(o);
    EXPECT_TRUE(o == "CONFIG_HAVE_BOOTMEM_INFO_NODE" || (it != base.end() && it->second == "y"))
        << o << " is required but not set in base.config";
  }
}

TEST(KernelBuilder, AFragmentTurningOffARequiredOptionIsRefusedBeforeAnyWork) {
  const std::string tree = dir_with("fake-tree", {{"Makefile", ""}, {"off.config", "# CONFIG_MODULES is not set\n"}});
  KernelBuildRequest req;
  req.src = tree;
  req.fragments = {tree + "/off.config"};
  req.out = tree + "/out";
  try {
    build_kernel(req, [](const std::string&) {});
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "fragment " + tree +
                  "/off.config turns off CONFIG_MODULES, which the rig needs (guest-kernel-config/required.list)");
  }
  EXPECT_FALSE(fs::exists(tree + "/out")) << "refused before creating the build directory";
}

// 7.3 has no CONFIG_HAVE_BOOTMEM_INFO_NODE: the list marks it as required only where the
// kernel's Kconfig defines it (build-kernel.sh asks the tree), and the option is still the name.
TEST(KernelBuilder, AConditionalRequirementIsReadAsItsOptionName) {
  const auto required = parse_required_list("# comment\nCONFIG_A\nCONFIG_B where-kconfig-has-it\n");
  EXPECT_EQ(required, (std::vector<std::string>{"CONFIG_A", "CONFIG_B"}));
  EXPECT_NE(slurp(kConfigDir + "/required.list").find("CONFIG_HAVE_BOOTMEM_INFO_NODE where-kconfig-has-it\n"),
            std::string::npos);
}
