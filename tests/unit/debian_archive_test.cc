// Debian kernels by name: version order, apt-cache output recorded from the archive
// (tests/data/debian-archive/, the mirror's host name replaced), which build a request names.
#include "rig/host/debian_archive.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <fstream>

#include "rig/base/errors.h"
#include "rig/host/kernel_locator.h"
#include "test_data.h"

using namespace rig;

namespace {

std::vector<DebianKernel> recorded_kernels() {
  auto records = parse_package_records(rig_test::data("debian-archive/apt-cache-show.txt"));
  add_suites_from_madison(rig_test::data("debian-archive/apt-cache-madison.txt"), &records);
  return debian_kernels(records);
}

const DebianKernel* find(const std::vector<DebianKernel>& ks, const std::string& release) {
  for (const auto& k : ks)
    if (k.release == release) return &k;
  return nullptr;
}

}  // namespace

// Each pair as `dpkg --compare-versions` orders it (checked on Debian 12).
TEST(DebianVersion, OrdersAsDpkgDoes) {
  EXPECT_LT(compare_debian_versions("7.3.4-1~bpo13+1", "7.3.4-1"), 0);
  EXPECT_GT(compare_debian_versions("6.18.15-1~bpo13+1", "6.18.9-1~bpo13+1"), 0);
  EXPECT_LT(compare_debian_versions("1.0~rc1", "1.0"), 0);
  EXPECT_GT(compare_debian_versions("1:0.1", "2.0"), 0);
  EXPECT_GT(compare_debian_versions("1.0a", "1.0"), 0);
  EXPECT_GT(compare_debian_versions("1.0+b1", "1.0"), 0);
  EXPECT_LT(compare_debian_versions("1.0-1", "1.0-1+b1"), 0);
  EXPECT_GT(compare_debian_versions("7.2.13-1", "7.2.12-1~bpo13+1"), 0);
  EXPECT_LT(compare_debian_versions("1.0~~", "1.0~"), 0);
  EXPECT_EQ(compare_debian_versions("1.01", "1.1"), 0);
  EXPECT_EQ(compare_debian_versions("2.0-1", "2.0-01"), 0);
  EXPECT_GT(compare_debian_versions("7.10", "7.9"), 0);
  EXPECT_GT(compare_debian_versions("6.12", "6.1"), 0);
}

TEST(DebianArchive, ParsesRecordedAptCacheShow) {
  const auto records = parse_package_records(rig_test::data("debian-archive/apt-cache-show.txt"));
  ASSERT_GT(records.size(), 50u);
  const DebPackage* binary = nullptr;
  for (const auto& r : records)
    if (r.name == "linux-binary-7.3.4+deb13-amd64") binary = &r;
  ASSERT_NE(binary, nullptr);
  EXPECT_EQ(binary->version, "7.3.4-1~bpo13+1");
  EXPECT_EQ(binary->size, 14138336u);
  EXPECT_NE(binary->filename.find("pool/main/l/linux-signed-amd64/linux-binary-7.3.4"), std::string::npos);
}

TEST(DebianArchive, TellsKernelOnlyFromKernelWithModules) {
  const auto ks = recorded_kernels();
  // trixie-backports 6.18: linux-image with the modules inside, no headers.
  const auto* k618 = find(ks, "6.18.15+deb13-amd64");
  ASSERT_NE(k618, nullptr);
  EXPECT_EQ(k618->kind(), "linux-image");
  EXPECT_TRUE(k618->has_modules);
  EXPECT_FALSE(k618->has_headers);
  EXPECT_EQ(k618->upstream, "6.18.15");
  EXPECT_EQ(k618->series, "6.18");
  EXPECT_EQ(k618->suite, "trixie-backports");
  // 7.0: linux-binary only (its linux-modules package is gone from the archive).
  const auto* k70 = find(ks, "7.0.13+deb13-amd64");
  ASSERT_NE(k70, nullptr);
  EXPECT_EQ(k70->kind(), "linux-binary");
  EXPECT_FALSE(k70->has_modules);
  EXPECT_FALSE(k70->modules);
  // 7.3.4: linux-binary, linux-modules, linux-base (config) and headers.
  const auto* k73 = find(ks, "7.3.4+deb13-amd64");
  ASSERT_NE(k73, nullptr);
  EXPECT_EQ(k73->kind(), "linux-binary");
  EXPECT_TRUE(k73->has_modules);
  ASSERT_TRUE(k73->modules);
  EXPECT_EQ(k73->modules->name, "linux-modules-7.3.4+deb13-amd64");
  ASSERT_TRUE(k73->base);
  EXPECT_TRUE(k73->has_headers);
  // sid's 7.2.13 (+deb14).
  const auto* k7213 = find(ks, "7.2.13+deb14-amd64");
  ASSERT_NE(k7213, nullptr);
  EXPECT_EQ(k7213->suite, "sid");
  // No rt, cloud, dbg or unsigned flavours; no meta packages.
  for (const auto& k : ks) {
    EXPECT_EQ(k.release.find("-rt-"), std::string::npos) << k.release;
    EXPECT_EQ(k.release.find("cloud"), std::string::npos) << k.release;
    EXPECT_NE(k.release.find_first_of("0123456789"), std::string::npos) << k.release;
  }
}

TEST(DebianArchive, PicksTheNewestBuildOfASeries) {
  const auto ks = recorded_kernels();
  for (size_t i = 1; i < ks.size(); ++i) EXPECT_GE(compare_debian_versions(ks[i - 1].version, ks[i].version), 0);
  EXPECT_EQ(pick_kernel(ks, "7.3").release, "7.3.4+deb13-amd64");
  EXPECT_EQ(pick_kernel(ks, "6.18").release, "6.18.15+deb13-amd64");  // 6.18.15 over 6.18.5, 6.18.9
  EXPECT_EQ(pick_kernel(ks, "6.18.5").release, "6.18.5+deb13-amd64");
  EXPECT_EQ(pick_kernel(ks, "7.2.13").release, "7.2.13+deb14-amd64");
  EXPECT_EQ(pick_kernel(ks, "7.3.4+deb13-amd64").release, "7.3.4+deb13-amd64");
  EXPECT_EQ(pick_kernel(ks, "7.3.4+deb13").release, "7.3.4+deb13-amd64");
  EXPECT_EQ(pick_kernel(ks, "7").series, "7.3");
  // "6.1" is the 6.1 series, never 6.12 or 6.18.
  EXPECT_EQ(pick_kernel(ks, "6.1").series, "6.1");
}

TEST(DebianArchive, AnUnknownVersionSaysWhatTheSeriesOffers) {
  const auto ks = recorded_kernels();
  try {
    pick_kernel(ks, "7.3.9");
    FAIL();
  } catch (const UsageError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("series 7.3 offers 7.3.4"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  try {
    pick_kernel(ks, "5.10");
    FAIL();
  } catch (const UsageError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("no 5.10 series"), std::string::npos) << m;
    EXPECT_NE(m.find("7.3"), std::string::npos) << m;
    EXPECT_NE(m.find("6.18"), std::string::npos) << m;
  }
}

TEST(DebianArchive, ListsWhatTheArchiveOffersNewestSeriesFirst) {
  const std::string text = format_available(recorded_kernels());
  const auto p73 = text.find("7.3.4+deb13-amd64"), p72 = text.find("7.2.13+deb14-amd64"),
             p7212 = text.find("7.2.12+deb13-amd64"), p618 = text.find("6.18.15+deb13-amd64"),
             p6185 = text.find("6.18.5+deb13-amd64"), p61 = text.find("\n6.1 ");
  ASSERT_NE(p73, std::string::npos);
  EXPECT_LT(p73, p72);
  EXPECT_LT(p72, p7212);
  EXPECT_LT(p7212, p618);
  EXPECT_LT(p618, p6185);
  EXPECT_LT(p6185, p61);
  const auto line = text.substr(text.rfind('\n', p73) + 1, text.find('\n', p73) - text.rfind('\n', p73) - 1);
  EXPECT_NE(line.find("linux-binary"), std::string::npos) << line;
  EXPECT_NE(line.find("yes      yes"), std::string::npos) << line;
}

TEST(DebianArchive, FindsTheArchiveInTheSystemsAptSources) {
  const auto deb822 = parse_apt_sources(rig_test::data("debian-archive/debian.sources"), true);
  ASSERT_EQ(deb822.size(), 2u);
  const auto archive = debian_archive_source(deb822);
  ASSERT_TRUE(archive);
  EXPECT_EQ(archive->uri, "http://mirror.example/debian");
  EXPECT_EQ(archive->signed_by, "/usr/share/keyrings/debian-archive-keyring.gpg");

  const auto one_line = parse_apt_sources(
      "# comment\n"
      "deb https://packages.cloud.example/apt cloud-sdk main\n"
      "deb http://mirror.example/debian-security bookworm-security main\n"
      "deb [arch=amd64 signed-by=/k.gpg] http://snapshot.example/archive/debian/20250520T000000Z/ bookworm main\n",
      false);
  ASSERT_EQ(one_line.size(), 3u);
  const auto snap = debian_archive_source(one_line);
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->uri, "http://snapshot.example/archive/debian/20250520T000000Z/");
  EXPECT_EQ(snap->signed_by, "/k.gpg");
  EXPECT_FALSE(
      debian_archive_source(parse_apt_sources("Types: deb\nURIs: https://deb.nodesource.example/node_20.x\n"
                                              "Suites: nodistro\nComponents: main\n",
                                              true)));
  const std::string list = rig_sources_list(*snap, {"trixie", "sid"});
  EXPECT_NE(list.find("deb [arch=amd64 signed-by=/k.gpg] http://snapshot.example/archive/debian/20250520T000000Z "
                      "trixie main\n"),
            std::string::npos)
      << list;
  EXPECT_NE(list.find(" sid main\n"), std::string::npos);
}

TEST(DebianArchive, FindsTheFilesOfAnExtractedKernel) {
  namespace fs = boost::filesystem;
  const std::string dir = ::testing::TempDir() + "/debian-kernel-" + std::to_string(::getpid());
  const std::string rel = "7.3.4+deb13-amd64";
  fs::create_directories(dir + "/usr/lib/modules/" + rel + "/kernel/drivers");
  std::ofstream(dir + "/usr/lib/modules/" + rel + "/vmlinuz") << "x";
  std::ofstream(dir + "/usr/lib/modules/" + rel + "/config") << "x";
  auto k = scan_extracted_kernel(dir, rel);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->vmlinuz, dir + "/usr/lib/modules/" + rel + "/vmlinuz");
  EXPECT_EQ(k->modules_dir, dir + "/usr/lib/modules/" + rel);
  EXPECT_EQ(k->config, dir + "/usr/lib/modules/" + rel + "/config");
  EXPECT_TRUE(k->system_map.empty());
  EXPECT_FALSE(scan_extracted_kernel(dir, "6.18.15+deb13-amd64"));
  fs::remove_all(dir);
}

TEST(DebianArchive, ABadNameIsAUsageErrorBeforeAnyDownload) {
  EXPECT_THROW(locate_kernel("debian:"), UsageError);
  EXPECT_THROW(locate_kernel("debian:../../etc"), UsageError);
  EXPECT_THROW(locate_kernel("debian:-o"), UsageError);
}

// QEMU runs in the run directory: a relative --kernel must come back absolute.
TEST(KernelLocator, MakesARelativeKernelPathAbsolute) {
  namespace fs = boost::filesystem;
  const std::string dir = ::testing::TempDir() + "/relative-kernel-" + std::to_string(::getpid());
  fs::create_directories(dir + "/sub");
  std::string img(0x400, '\0');
  img.replace(0x202, 4, "HdrS");
  img[0x20E] = 0x00;
  img[0x20F] = 0x01;  // version string at 0x100 + 0x200
  img.replace(0x300, 17, "7.3.4+deb13-amd64");
  std::ofstream(dir + "/sub/bzImage", std::ios::binary) << img;
  const fs::path old = fs::current_path();
  fs::current_path(dir);
  KernelImage k;
  EXPECT_NO_THROW(k = locate_kernel("./sub/../sub/bzImage"));
  fs::current_path(old);
  EXPECT_EQ(k.path, fs::path(dir + "/sub/bzImage").lexically_normal().string());
  EXPECT_TRUE(fs::path(k.path).is_absolute());
  fs::remove_all(dir);
}

// What a package or the environment names goes into the cache's paths and the rig's apt files:
// a package whose release has other characters is not a kernel, a vmlinuz that is a link in the
// package is not found, and a mirror address that could add apt options or lines is refused.
TEST(DebianArchive, NamesFromPackagesAndTheEnvironmentAreCheckedBeforeTheyAreUsed) {
  namespace fs = boost::filesystem;
  DebPackage odd;
  odd.name = "linux-image-7.3.4+deb13;x-amd64";
  odd.version = "7.3.4-1";
  EXPECT_TRUE(debian_kernels({odd}).empty());

  const std::string dir = ::testing::TempDir() + "/debian-link-" + std::to_string(::getpid());
  const std::string rel = "7.3.4+deb13-amd64";
  fs::create_directories(dir + "/boot");
  fs::create_symlink("/etc/passwd", dir + "/boot/vmlinuz-" + rel);
  EXPECT_FALSE(scan_extracted_kernel(dir, rel)) << "a link to the host's file is not the kernel";
  fs::remove_all(dir);

  for (const char* mirror : {"http://x/debian]\ndeb [trusted=yes] http://evil/ sid main", "ftp://x/", "http://x/\"a"}) {
    Environment env;
    env.debian_mirror = mirror;
    const std::string root = ::testing::TempDir() + "/debian-mirror-" + std::to_string(::getpid());
    DebianArchive archive(root + "/archive", root + "/kernels", env);
    EXPECT_THROW(archive.available(), UsageError) << mirror;
    fs::remove_all(root);
  }
}
