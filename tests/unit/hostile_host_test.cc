// Another local user against the rig on a shared host (docs/security.md): planted links,
// FIFOs, directories and cache entries of someone else's. Each test performs the attack and sees
// it refused or harmless. Another user is simulated by chown-ing to nobody (65534) or by a child
// that changes to that user, so the attacks need root; as another user they are skipped.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <fstream>
#include <map>
#include <sstream>

#include "rig/base/environment.h"
#include "rig/scenario/scenario_file.h"
#include "rig/run/reproducer.h"
#include "rig/base/errors.h"
#include "rig/base/file_trust.h"
#include "rig/base/paths.h"
#include "rig/host/accel_probe.h"
#include "rig/host/guest_image.h"
#include "rig/host/host_slots.h"
#include "rig/host/snapshot_cache.h"
#include "rig/workflows/kernel_builder.h"

namespace fs = boost::filesystem;
using namespace rig;

namespace {

constexpr uid_t kNobody = 65534;

// A fresh directory of this user's, mode 0700, under /tmp.
std::string own_dir() {
  char tmpl[] = "/tmp/rig-hostile-host-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  EXPECT_NE(d, nullptr);
  return d ? d : "/tmp";
}

void give_to_nobody(const std::string& path) { ASSERT_EQ(::lchown(path.c_str(), kNobody, kNobody), 0) << path; }

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <typename F>
std::string usage_error_of(F f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a usage error: ") + e.what();
  }
  return "no error";
}

#define NEED_ROOT() \
  if (::geteuid() != 0) GTEST_SKIP() << "simulating another user needs root"

}  // namespace

// ---- the environment, read once ----

TEST(Environment, IsReadThroughOneReaderAndHomeFallsBackToThePasswdEntry) {
  std::map<std::string, std::string> vars = {
      {"HOME", "/home/u"},        {"RIG_CACHE_DIR", "/c"}, {"RIG_SNAPSHOT_DIR", "/s"}, {"RIG_SNAPSHOT_CACHE_MAX", "2G"},
      {"RIG_SLOT_DIR", "/slots"}, {"RIG_HOST_CPUS", "4"},  {"RIG_HOME", "/rig"},       {"XDG_CACHE_HOME", "/x"}};
  auto get = [&](const char* n) { return vars.count(n) ? vars[n].c_str() : nullptr; };
  int asked = 0;
  auto passwd = [&] {
    ++asked;
    return std::string("/from/passwd");
  };
  Environment e = environment_from(get, passwd);
  EXPECT_EQ(e.home, "/home/u");
  EXPECT_EQ(asked, 0) << "the passwd entry only when HOME is unset";
  EXPECT_EQ(e.cache_dir, "/c");
  EXPECT_EQ(e.snapshot_dir, "/s");
  EXPECT_EQ(e.snapshot_cache_max, "2G");
  EXPECT_EQ(e.slot_dir, "/slots");
  EXPECT_EQ(e.host_cpus, "4");
  EXPECT_EQ(e.rig_home, "/rig");
  EXPECT_EQ(e.xdg_cache_home, "/x");
  vars.erase("HOME");
  EXPECT_EQ(environment_from(get, passwd).home, "/from/passwd");
  // Nothing under src/rig/ reads the environment but the reader.
  for (fs::recursive_directory_iterator it(std::string(RIG_SOURCE_DIR) + "/src/rig"), end; it != end; ++it) {
    if (!fs::is_regular_file(it->path()) || it->path().filename() == "environment.cc") continue;
    EXPECT_EQ(slurp(it->path().string()).find("getenv"), std::string::npos) << it->path();
  }
}

TEST(Environment, WithoutAnyHomeTheCacheIsTheUsersOwnNotASharedOne) {
  Environment e;
  EXPECT_EQ(cache_dir_path(e, 1234), "/tmp/rig-cache-1234");
  e.home = "/home/u";
  EXPECT_EQ(cache_dir_path(e, 1234), "/home/u/.cache/rig");
  e.xdg_cache_home = "/x";
  EXPECT_EQ(cache_dir_path(e, 1234), "/x/rig");
  e.cache_dir = "/c";
  EXPECT_EQ(cache_dir_path(e, 1234), "/c");
  EXPECT_EQ(snapshot_cache_max(Environment{}), kDefaultSnapshotCacheMax);
  e.snapshot_cache_max = "12 apples";
  EXPECT_EQ(usage_error_of([&] { snapshot_cache_max(e); }),
            "RIG_SNAPSHOT_CACHE_MAX=12 apples: not a size (e.g. 20G, 512M)");
}

TEST(Environment, ACacheDirectoryPlantedByAnotherUserIsRefusedInOneLine) {
  NEED_ROOT();
  const std::string d = own_dir() + "/rig-cache";
  Environment e;
  e.cache_dir = d;
  EXPECT_EQ(cache_dir(e), d) << "made on demand";
  EXPECT_EQ(mode_of(d), 0700u);
  give_to_nobody(d);
  const std::string err = usage_error_of([&] { cache_dir(e); });
  EXPECT_NE(err.find(d + ": owned by uid 65534"), std::string::npos) << err;
  EXPECT_NE(err.find("set RIG_CACHE_DIR"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos);
}

// ---- what "trusted" means ----

TEST(FileTrust, APrivateDirectoryMustBeMineAndWritableByNobodyElse) {
  NEED_ROOT();
  const std::string d = own_dir();
  EXPECT_EQ(dir_distrust(d, ::geteuid(), DirUse::Private), "");
  ::chmod(d.c_str(), 0770);
  EXPECT_NE(dir_distrust(d, ::geteuid(), DirUse::Private).find("writable by its group (mode 0770)"), std::string::npos);
  ::chmod(d.c_str(), 01777);
  EXPECT_NE(dir_distrust(d, ::geteuid(), DirUse::Private).find("writable by every user"), std::string::npos)
      << "sticky does not make a private directory private";
  EXPECT_EQ(dir_distrust(d, ::geteuid(), DirUse::Shared), "") << "a sticky shared one is fine";
  ::chmod(d.c_str(), 0700);
  ::mkdir((d + "/sub").c_str(), 0700);
  give_to_nobody(d);
  EXPECT_NE(dir_distrust(d + "/sub", ::geteuid(), DirUse::Private).find("(above " + d + "/sub): owned by uid 65534"),
            std::string::npos)
      << "whoever owns a directory above can swap what is below";
}

TEST(FileTrust, ALinkOfAnotherUserOnTheWayIsRefusedEvenToAGoodDirectory) {
  NEED_ROOT();
  const std::string d = own_dir();
  ::mkdir((d + "/good").c_str(), 0700);
  ASSERT_EQ(::symlink((d + "/good").c_str(), (d + "/link").c_str()), 0);
  EXPECT_EQ(dir_distrust(d + "/link", ::geteuid(), DirUse::Private), "") << "my own link to my own directory";
  give_to_nobody(d + "/link");
  EXPECT_NE(dir_distrust(d + "/link", ::geteuid(), DirUse::Private).find("a symbolic link owned by uid 65534"),
            std::string::npos);
}

// ---- host slots ----

TEST(HostSlotsAttack, APlantedSlotLinkIsRefusedAndItsTargetKeepsItsMode) {
  const std::string victim_dir = own_dir();
  const std::string victim = victim_dir + "/secret";
  std::ofstream(victim) << "keep me";
  // 0666: the mode the rig would turn into 0644 on a slot file it opened, so following the link
  // would show here (a 0600 target could not show it).
  ::chmod(victim.c_str(), 0666);
  for (const char* name : {"slot-0", "slot-1", "queue"}) {
    const std::string slots = own_dir();
    ASSERT_EQ(::symlink(victim.c_str(), (slots + "/" + name).c_str()), 0);
    const std::string err = usage_error_of([&] { HostSlots(slots, 2); });
    EXPECT_EQ(err, fmt::format("host slot file {}/{}: a symbolic link (planted?); remove it", slots, name));
    EXPECT_EQ(mode_of(victim), 0666u) << name;
    EXPECT_EQ(slurp(victim), "keep me");
  }
}

TEST(HostSlotsAttack, APlantedFifoIsRefusedWithoutHanging) {
  const std::string slots = own_dir();
  ASSERT_EQ(::mkfifo((slots + "/slot-1").c_str(), 0666), 0);
  EXPECT_EQ(usage_error_of([&] { HostSlots(slots, 2); }),
            fmt::format("host slot file {}/slot-1: not a regular file (planted?); remove it", slots));
}

TEST(HostSlotsAttack, ADirectoryOfAnotherUserIsRefusedInOneLine) {
  NEED_ROOT();
  const std::string slots = own_dir() + "/slots";
  HostSlots(slots, 1);
  give_to_nobody(slots);
  const std::string err = usage_error_of([&] { HostSlots(slots, 1); });
  EXPECT_NE(err.find(slots + ": owned by uid 65534"), std::string::npos) << err;
  EXPECT_NE(err.find("not by root or you"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos);
  // A link to it (or to anything) in its place is refused as well.
  const std::string link = own_dir() + "/slots";
  ASSERT_EQ(::symlink(slots.c_str(), link.c_str()), 0);
  const std::string err2 = usage_error_of([&] { HostSlots(link, 1); });
  EXPECT_NE(err2.find("a symbolic link"), std::string::npos) << err2;
}

TEST(HostSlotsAttack, ADirectoryWritableByOthersMustBeSticky) {
  NEED_ROOT();
  const std::string slots = own_dir() + "/slots";
  ::mkdir(slots.c_str(), 0700);
  ::chmod(slots.c_str(), 0777);
  EXPECT_NE(usage_error_of([&] { HostSlots(slots, 1); }).find("writable by every user (mode 0777, not sticky)"),
            std::string::npos);
  ::chmod(slots.c_str(), 01777);
  EXPECT_NO_THROW(HostSlots(slots, 1));
}

TEST(HostSlotsAttack, NoFileIsWorldWritableAndAnotherUsersFileIsNotChanged) {
  NEED_ROOT();
  const std::string slots = own_dir() + "/slots";
  HostSlots h(slots, 3, 01777);
  EXPECT_EQ(mode_of(slots), 01777u) << "the shared directory as root makes it";
  for (const char* name : {"slot-0", "slot-1", "slot-2", "queue"}) EXPECT_EQ(mode_of(slots + "/" + name), 0644u);
  // An older rig's world-writable file of this user's is mended; another user's stays as it is,
  // and its lock still counts.
  ::chmod((slots + "/slot-0").c_str(), 0666);
  give_to_nobody(slots + "/slot-1");
  ::chmod((slots + "/slot-1").c_str(), 0666);
  auto all = h.try_acquire(3);
  ASSERT_TRUE(all);
  EXPECT_EQ(mode_of(slots + "/slot-0"), 0644u);
  EXPECT_EQ(mode_of(slots + "/slot-1"), 0666u);
  EXPECT_FALSE(h.try_acquire(1));
}

TEST(HostSlotsAttack, AnotherUsersRigSharesRootsSlotsWithoutWritingThem) {
  NEED_ROOT();
  const std::string parent = own_dir();
  ::chmod(parent.c_str(), 0755);
  const std::string slots = parent + "/slots";
  HostSlots root_slots(slots, 2, 01777);
  auto held = root_slots.try_acquire(1);  // root's guest holds slot-0
  ASSERT_TRUE(held);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(10);
    try {
      HostSlots mine(slots, 2);
      if (mine.try_acquire(2)) ::_exit(11);  // root's lock must count
      if (mine.held() != 1) ::_exit(12);
      if (!mine.try_acquire(1)) ::_exit(12);
      ::_exit(0);
    } catch (...) {
      ::_exit(13);
    }
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10 setuid, 11 overcommitted, 12 no slot, 13 refused";
  for (const char* name : {"slot-0", "slot-1", "queue"}) {
    struct stat st {};
    ASSERT_EQ(::stat((slots + "/" + name).c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u) << name;
    EXPECT_EQ(st.st_mode & 07777, 0644u) << name;
  }
}

TEST(HostSlotsAttack, TheDefaultDirectoryIsSharedOnlyWhenRootMadeIt) {
  Environment e;
  EXPECT_EQ(slot_dir_for(e, 0, false).dir, "/tmp/rig-host-slots");
  EXPECT_EQ(slot_dir_for(e, 0, false).create_mode, 01777u);
  EXPECT_EQ(slot_dir_for(e, 1000, true).dir, "/tmp/rig-host-slots") << "root made it: shared";
  EXPECT_EQ(slot_dir_for(e, 1000, false).dir, "/tmp/rig-host-slots-1000") << "never one a user made for all";
  EXPECT_EQ(slot_dir_for(e, 1000, false).create_mode, 0700u);
  e.slot_dir = "/srv/slots";
  EXPECT_EQ(slot_dir_for(e, 1000, true).dir, "/srv/slots");
}

// ---- snapshot cache ----

namespace {

const std::string kKey = "00000000000000aa";

// A complete entry written as the rig writes one.
std::string saved_entry(SnapshotCache& cache) {
  const std::string tmp = cache.begin(kKey);
  std::ofstream(tmp + "/state.mig") << "QEVM";
  cache.write_ready(tmp, {"console", "", "what", 1.0});
  return cache.commit(kKey, tmp);
}

}  // namespace

TEST(SnapshotCacheAttack, APlantedStateOfAnotherUserIsNeverHandedOut) {
  NEED_ROOT();
  SnapshotCache cache(own_dir() + "/snapshots", 1ull << 30);
  const std::string entry = saved_entry(cache);
  ASSERT_TRUE(cache.find(kKey)) << "the user's own entry is used";
  give_to_nobody(entry + "/state.mig");
  std::string why;
  EXPECT_FALSE(cache.find(kKey, &why));
  EXPECT_NE(why.find("snapshot 00000000000000aa ignored, booted instead: not yours alone: " + entry +
                     "/state.mig: owned by uid 65534"),
            std::string::npos)
      << why;
  std::vector<std::string> ignored;
  EXPECT_TRUE(cache.list(&ignored).empty());
  ASSERT_EQ(ignored.size(), 1u);
  cache.clear();
  EXPECT_TRUE(fs::exists(entry + "/state.mig")) << "another user's file is left alone, not removed";
  // Saving the same key again does not claim their entry as this run's.
  const std::string tmp = cache.begin(kKey);
  std::ofstream(tmp + "/state.mig") << "QEVM";
  cache.write_ready(tmp, {"console", "", "what", 1.0});
  EXPECT_THROW(cache.commit(kKey, tmp), InfraError);
}

TEST(SnapshotCacheAttack, ALinkedOrWritableEntryIsNeverHandedOut) {
  NEED_ROOT();
  const std::string elsewhere = own_dir() + "/state.mig";
  std::ofstream(elsewhere) << "QEVM";
  for (int attack = 0; attack < 3; ++attack) {
    SnapshotCache cache(own_dir() + "/snapshots", 1ull << 30);
    const std::string entry = saved_entry(cache);
    if (attack == 0) {
      fs::remove(entry + "/state.mig");
      ASSERT_EQ(::symlink(elsewhere.c_str(), (entry + "/state.mig").c_str()), 0);
    } else if (attack == 1) {
      ::chmod((entry + "/ready.json").c_str(), 0666);
    } else {
      give_to_nobody(entry);
    }
    std::string why;
    EXPECT_FALSE(cache.find(kKey, &why)) << attack;
    EXPECT_NE(why.find("ignored, booted instead"), std::string::npos) << attack << ": " << why;
  }
}

TEST(SnapshotCacheAttack, ACacheDirectoryOfAnotherUserIsIgnoredWithANote) {
  NEED_ROOT();
  const std::string root = own_dir() + "/snapshots";
  SnapshotCache cache(root, 1ull << 30);
  saved_entry(cache);
  give_to_nobody(root);
  std::string why;
  EXPECT_FALSE(cache.find(kKey, &why));
  EXPECT_NE(why.find("snapshot cache ignored, booted instead: not yours alone: " + root + ": owned by uid 65534"),
            std::string::npos)
      << why;
  EXPECT_THROW(cache.begin(kKey), InfraError) << "nothing is saved into it either";
  EXPECT_NE(usage_error_of([&] { cache.clear(); }).find("owned by uid 65534"), std::string::npos);
}

// ---- images, probes and kernels in the cache ----

TEST(CacheAttack, ACachedFileNotTheUsersAloneIsRemovedAndBuiltAgain) {
  NEED_ROOT();
  const std::string d = own_dir();
  const std::string f = d + "/initramfs-x.cpio.gz";
  std::string note;
  EXPECT_FALSE(usable_cached_file(f, &note)) << "missing";
  std::ofstream(f) << "cpio";
  EXPECT_TRUE(usable_cached_file(f, &note));
  EXPECT_EQ(note, "");
  give_to_nobody(f);
  EXPECT_FALSE(usable_cached_file(f, &note));
  EXPECT_FALSE(fs::exists(f));
  EXPECT_NE(note.find("ignored a cached file not yours alone (" + f + ": owned by uid 65534"), std::string::npos)
      << note;
  ASSERT_EQ(::symlink("/etc/passwd", f.c_str()), 0);
  EXPECT_FALSE(usable_cached_file(f, &note));
  EXPECT_FALSE(fs::is_symlink(f));
}

TEST(CacheAttack, AKernelBuildOfAnotherUserIsNeitherUsedNorBuiltInto) {
  NEED_ROOT();
  const std::string tree = own_dir();
  std::ofstream(tree + "/Makefile") << "";
  const std::string out = own_dir() + "/kernel";
  fs::create_directories(out + "/arch/x86/boot");
  std::ofstream(out + "/arch/x86/boot/bzImage") << "planted";
  give_to_nobody(out);
  KernelBuildRequest req;
  req.src = tree;
  req.out = out;
  const std::string err = usage_error_of([&] { build_kernel(req, [](const std::string&) {}); });
  EXPECT_NE(err.find("kernel directory not yours alone: " + out + ": owned by uid 65534"), std::string::npos) << err;
}

TEST(CacheAttack, UnderAGroupUmaskTheUsersOwnEntriesStayUsable) {
  const mode_t old = ::umask(002);
  SnapshotCache cache(own_dir() + "/snapshots", 1ull << 30);
  const std::string entry = saved_entry(cache);
  ::umask(old);
  std::string why;
  EXPECT_TRUE(cache.find(kKey, &why)) << why;
  EXPECT_EQ(mode_of(entry + "/state.mig") & 022, 0u);
  // Another user's file is not touched.
  const std::string f = own_dir() + "/f";
  std::ofstream(f) << "x";
  ::chmod(f.c_str(), 0666);
  if (::geteuid() == 0) {
    give_to_nobody(f);
    keep_to_myself(f);
    EXPECT_EQ(mode_of(f), 0666u);
  }
}

TEST(PrivateDirAttack, ALinkOrDirectoryOfAnotherUserIsNeitherFollowedNorChanged) {
  NEED_ROOT();
  const std::string shared = own_dir();
  ::chmod(shared.c_str(), 01777);  // a shared folder such as /tmp, where `rig run` makes rig-runs/
  const std::string victim = own_dir();
  ::chmod(victim.c_str(), 0755);
  ASSERT_EQ(::symlink(victim.c_str(), (shared + "/rig-runs").c_str()), 0);
  give_to_nobody(shared + "/rig-runs");
  EXPECT_NE(usage_error_of([&] { make_private_dir(shared + "/rig-runs"); }).find("a symbolic link owned by uid 65534"),
            std::string::npos);
  EXPECT_EQ(mode_of(victim), 0755u) << "the link's target keeps its mode";
  ::mkdir((shared + "/out").c_str(), 0777);
  give_to_nobody(shared + "/out");
  EXPECT_NE(usage_error_of([&] { make_private_dir(shared + "/out"); }).find("owned by uid 65534"), std::string::npos);
  // The user's own link to the user's own directory is fine, and an existing directory keeps
  // its mode: `rig run --out /tmp` as root must not make /tmp 0700.
  ASSERT_EQ(::symlink(victim.c_str(), (shared + "/mine").c_str()), 0);
  make_private_dir(shared + "/mine");
  EXPECT_EQ(mode_of(victim), 0755u);
  make_private_dir(shared);
  EXPECT_EQ(mode_of(shared), 01777u) << "a sticky shared folder keeps its mode";
}

TEST(PrivateDir, ANewDirectoryIs0700AndAnExistingOneOthersMayWriteWithoutStickyIsRefused) {
  const std::string base = own_dir();
  make_private_dir(base + "/new/deeper");
  EXPECT_EQ(mode_of(base + "/new/deeper"), 0700u);
  const std::string open_dir = base + "/open";
  ::mkdir(open_dir.c_str(), 0777);
  ::chmod(open_dir.c_str(), 0777);
  EXPECT_NE(usage_error_of([&] { make_private_dir(open_dir); }).find("writable by others and not sticky"),
            std::string::npos);
  EXPECT_EQ(mode_of(open_dir), 0777u) << "refused, not changed";
}

TEST(PrivateDirAttack, AReproducerFolderAnotherUserMadeFirstIsRefused) {
  NEED_ROOT();
  // `rig repro` writes repro-NAME-RELEASE/ in the working directory; another user who made it
  // first in a shared folder could swap run.sh before root runs it.
  const std::string shared = own_dir();
  ::chmod(shared.c_str(), 01777);
  const std::string theirs = shared + "/repro-x";
  ::mkdir(theirs.c_str(), 0777);
  give_to_nobody(theirs);
  Scenario s = load_scenario_file(std::string(RIG_SOURCE_DIR) + "/rig/scenarios/hotplug-then-unplug.toml");
  KernelImage k;
  k.path = "/nonexistent";
  k.release = "6.1.0-test";
  EXPECT_NE(usage_error_of([&] { write_reproducer(s, k, "/nonexistent", theirs, nullptr); }).find("owned by uid 65534"),
            std::string::npos);
  EXPECT_FALSE(boost::filesystem::exists(theirs + "/run.sh"));
}

// A snapshot's ready.json is read like any file from elsewhere: regular, size-limited, its JSON
// nesting bounded. A FIFO or a deeply nested file is a refusal (InfraError: the guest boots),
// never a hang or a crash.
TEST(SnapshotCacheAttack, AReadyJsonThatIsAFifoOrNestedDeepIsRefusedWithoutHanging) {
  SnapshotCache cache(own_dir() + "/snapshots-ready", 1ull << 30);
  const std::string entry = saved_entry(cache);
  auto found = cache.find(kKey);
  ASSERT_TRUE(found);
  EXPECT_EQ(cache.read_ready(*found).description, "what");
  std::ofstream(entry + "/ready.json") << std::string(100000, '[') << std::string(100000, ']');
  EXPECT_THROW(cache.read_ready(*found), InfraError);
  ::unlink((entry + "/ready.json").c_str());
  ASSERT_EQ(::mkfifo((entry + "/ready.json").c_str(), 0600), 0);
  EXPECT_THROW(cache.read_ready(*found), InfraError);  // returns at once: opened non-blocking
}

// `--kernel DIR` in another user's tree: kbuild would run their Makefile as root. The probe
// module is not built there (the kernel is still probed through BTF and /proc/kcore), and the
// planted Makefile never runs.
TEST(KernelTreeAttack, AnotherUsersBuildTreeIsNotBuiltIn) {
  NEED_ROOT();
  const std::string tree = own_dir();
  const std::string flag = own_dir() + "/ran";
  std::ofstream(tree + "/Makefile") << "modules:\n\ttouch " << flag << "\n";
  give_to_nobody(tree);
  KernelImage k;
  k.release = "6.1.0-planted";
  k.path = tree + "/bzImage";
  k.build_dir = tree;
  Environment env = read_environment();
  env.cache_dir = own_dir();
  std::string problem, note;
  EXPECT_EQ(probe_module(k, env, &problem, &note), "");
  EXPECT_NE(problem.find("not building the probe in " + tree + ": " + tree + ": owned by uid 65534"), std::string::npos)
      << problem;
  EXPECT_FALSE(fs::exists(flag)) << "the planted Makefile ran";
}

// The KVM probe's cache: a planted "kvm" of another user is removed and ignored (every run would
// go to a KVM that hangs); an answer that is neither kvm nor tcg is ignored; the user's own is used.
TEST(CacheAttack, APlantedKvmProbeAnswerIsNotTrusted) {
  NEED_ROOT();
  const std::string dir = own_dir();
  const std::string cache = dir + "/kvm-probe";
  std::ofstream(cache) << "BOOT kvm planted\n";
  give_to_nobody(cache);
  EXPECT_FALSE(read_cached_accel(cache, "BOOT").has_value());
  EXPECT_FALSE(fs::exists(cache)) << "another user's answer is removed";
  std::ofstream(cache) << "BOOT bogus why\n";
  EXPECT_FALSE(read_cached_accel(cache, "BOOT").has_value());
  std::ofstream(cache) << "BOOT tcg KVM does not work here\n";
  ::chmod(cache.c_str(), 0600);
  EXPECT_FALSE(read_cached_accel(cache, "OTHERBOOT").has_value()) << "another boot of the host";
  auto mine = read_cached_accel(cache, "BOOT");
  ASSERT_TRUE(mine.has_value());
  EXPECT_EQ(mine->accel, "tcg");
}
