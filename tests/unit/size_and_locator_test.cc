#include <gtest/gtest.h>

#include <fstream>

#include "rig/host/kernel_locator.h"
#include "rig/base/errors.h"
#include "rig/run/scenario_runner.h"

using namespace rig;

TEST(KernelLocator, SeriesNeverMatchesALongerSeries) {
  std::vector<std::string> boot = {"config-6.1.0-56-amd64", "vmlinuz-6.1.0-56-amd64", "vmlinuz-6.12.117+deb12-amd64",
                                   "vmlinuz-6.1.0-9-amd64", "System.map-6.1.0-56-amd64"};
  EXPECT_EQ(newest_kernel_for_series(boot, "6.1"), "vmlinuz-6.1.0-56-amd64");
  EXPECT_EQ(newest_kernel_for_series(boot, "6.12"), "vmlinuz-6.12.117+deb12-amd64");
  EXPECT_FALSE(newest_kernel_for_series(boot, "5.10"));
}

TEST(KernelLocator, ReadsTheReleaseFromTheSetupHeader) {
  std::string path = ::testing::TempDir() + "/fake-bzImage";
  std::string img(0x400, '\0');
  img.replace(0x202, 4, "HdrS");
  const uint16_t off = 0x100;  // the version string sits at off + 0x200
  img[0x20E] = static_cast<char>(off & 0xff);
  img[0x20F] = static_cast<char>(off >> 8);
  img.replace(0x300, 40, std::string("6.1.0-56-amd64 (debian-kernel@lists.de"));
  std::ofstream(path, std::ios::binary) << img;
  EXPECT_EQ(bzimage_release(path), "6.1.0-56-amd64");
}

namespace {
// A bzImage setup header whose kernel_version string is `version` (then a NUL).
std::string fake_bzimage(const std::string& name, const std::string& version) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::string img(0x600, '\0');
  img.replace(0x202, 4, "HdrS");
  const uint16_t off = 0x100;
  img[0x20E] = static_cast<char>(off & 0xff);
  img[0x20F] = static_cast<char>(off >> 8);
  img.replace(0x300, version.size(), version);
  std::ofstream(path, std::ios::binary) << img;
  return path;
}
}  // namespace

TEST(KernelLocator, AReleaseWithAShellLineIsRefusedWhereItIsRead) {
  // The release goes into file names, the image scripts' arguments and a reproducer's run.sh.
  for (const std::string& bad : {std::string("6.1\ntouch /tmp/PWNED (x)"), std::string("6.1;touch${IFS}/tmp/PWNED"),
                                 std::string("$(touch /tmp/PWNED)"), std::string("../../../etc"), std::string(".."),
                                 std::string("-rf"), std::string("6.1'x"), std::string("6.1\"x"), std::string("6.1/x"),
                                 std::string("6.1\x01"), std::string(65, '6')}) {
    const std::string path = fake_bzimage("bad-release", bad);
    try {
      bzimage_release(path);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("is not a kernel release"), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
    }
    EXPECT_THROW(locate_kernel(path), UsageError) << bad;
  }
  const std::vector<std::string> good_releases = {"6.1.0-56-amd64", "6.12.9+bpo-amd64", "6.13.0-rc1~exp1",
                                                  "6.1.0_rig.1", std::string(64, '6')};
  for (const std::string& good : good_releases)
    EXPECT_EQ(bzimage_release(fake_bzimage("good-release", good + " (builder@host) #1 SMP")), good);
  EXPECT_FALSE(valid_kernel_release(""));
  EXPECT_FALSE(valid_kernel_release("~6.1"));
  EXPECT_TRUE(valid_kernel_release("6.1.0-56-amd64"));
}

TEST(KernelLocator, RejectsWhatIsNotAKernel) {
  std::string path = ::testing::TempDir() + "/not-a-kernel";
  std::ofstream(path) << "hello";
  EXPECT_FALSE(bzimage_release(path));
  EXPECT_THROW(locate_kernel(path), UsageError);
  EXPECT_THROW(locate_kernel("/nonexistent/bzImage"), UsageError);
  EXPECT_THROW(locate_kernel("debian-2.4", Environment{}, ::testing::TempDir()), UsageError);
}

TEST(DimmBlocks, CoversEveryBlockOfTheDimm) {
  Dimm d;
  d.addr = 0x100000000ull;
  d.size = 512ull << 20;
  EXPECT_EQ(dimm_blocks(d, 128ull << 20), std::make_pair(uint64_t{32}, uint64_t{35}));
  EXPECT_EQ(dimm_blocks(d, 256ull << 20), std::make_pair(uint64_t{16}, uint64_t{17}));
}
