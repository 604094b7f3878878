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

TEST(KernelLocator, RejectsWhatIsNotAKernel) {
  std::string path = ::testing::TempDir() + "/not-a-kernel";
  std::ofstream(path) << "hello";
  EXPECT_FALSE(bzimage_release(path));
  EXPECT_THROW(locate_kernel(path), UsageError);
  EXPECT_THROW(locate_kernel("/nonexistent/bzImage"), UsageError);
  EXPECT_THROW(locate_kernel("debian-2.4", ::testing::TempDir()), UsageError);
}

TEST(DimmBlocks, CoversEveryBlockOfTheDimm) {
  Dimm d;
  d.addr = 0x100000000ull;
  d.size = 512ull << 20;
  EXPECT_EQ(dimm_blocks(d, 128ull << 20), std::make_pair(uint64_t{32}, uint64_t{35}));
  EXPECT_EQ(dimm_blocks(d, 256ull << 20), std::make_pair(uint64_t{16}, uint64_t{17}));
}
