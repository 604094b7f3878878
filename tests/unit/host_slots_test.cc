// The host's cores leased across rig processes: flock(2) on slot files in a scratch directory,
// taken all or nothing, waited for, and given back when a holder closes them or dies.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "rig/base/errors.h"
#include "rig/host/host_slots.h"

using rig::HostSlots;

namespace {

std::string scratch_dir() {
  char tmpl[] = "/tmp/rig-slots-test-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  EXPECT_NE(d, nullptr);
  return std::string(d ? d : "/tmp") + "/slots";  // created by the first use
}

TEST(HostSlots, AllOrNothingAndGivenBackOnRelease) {
  HostSlots h(scratch_dir(), 3);
  auto a = h.try_acquire(2);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->slots(), 2u);
  EXPECT_FALSE(h.try_acquire(2)) << "only one core is free";
  auto c = h.try_acquire(1);  // the failed try above kept nothing
  ASSERT_TRUE(c);
  EXPECT_EQ(h.held(), 3);
  a->release();
  EXPECT_EQ(h.held(), 1);
  EXPECT_TRUE(h.try_acquire(2));
}

TEST(HostSlots, AGuestBiggerThanTheHostTakesEveryCoreAndRunsAlone) {
  HostSlots h(scratch_dir(), 2);
  auto big = h.try_acquire(8);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->slots(), 2u);
  EXPECT_FALSE(h.try_acquire(1));
  EXPECT_EQ(HostSlots(h.dir(), 0).capacity(), 1);
}

TEST(HostSlots, AcquireWaitsForTheCoresAndSaysWhyOnce) {
  HostSlots h(scratch_dir(), 2);
  auto holder = h.try_acquire(2);
  ASSERT_TRUE(holder);
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    holder->release();
  });
  std::vector<std::string> said;
  const auto t0 = std::chrono::steady_clock::now();
  HostSlots::Lease l = h.acquire(1, [&](const std::string& s) { said.push_back(s); });
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t.join();
  EXPECT_EQ(l.slots(), 1u);
  EXPECT_GE(waited, 0.5);
  ASSERT_EQ(said.size(), 1u);
  EXPECT_EQ(said[0],
            "waiting for 1 of the host's 2 cores: guests of this or other rig processes hold 2 (" + h.dir() + ")");
  // Free slots: no waiting, nothing said.
  said.clear();
  HostSlots::Lease m = h.acquire(1, [&](const std::string& s) { said.push_back(s); });
  EXPECT_TRUE(said.empty());
}

TEST(HostSlots, WaitersAreServedInTurnNotByWhoeverTriesLast) {
  HostSlots h(scratch_dir(), 2);
  auto h1 = h.try_acquire(1);
  auto h2 = h.try_acquire(1);
  ASSERT_TRUE(h1 && h2);
  std::mutex mu;
  std::vector<std::string> order;
  std::atomic<bool> first_waits{false}, newcomer_has{false};
  std::thread first([&] {
    HostSlots::Lease l = h.acquire(2, [&](const std::string&) { first_waits = true; });
    {
      std::lock_guard<std::mutex> lock(mu);
      order.push_back("first (2 cores)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  });
  for (int i = 0; i < 200 && !first_waits; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(first_waits);
  // One core comes free: a newcomer wanting one core must not take it ahead of the first waiter.
  h1->release();
  std::thread newcomer([&] {
    HostSlots::Lease l = h.acquire(1);
    newcomer_has = true;
    std::lock_guard<std::mutex> lock(mu);
    order.push_back("newcomer (1 core)");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_FALSE(newcomer_has) << "the newcomer took the free core ahead of the first in line";
  h2->release();
  first.join();
  newcomer.join();
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], "first (2 cores)");
  EXPECT_EQ(order[1], "newcomer (1 core)");
}

TEST(HostSlots, AKilledHolderLeavesNothingHeld) {
  HostSlots h(scratch_dir(), 2);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto l = h.try_acquire(2);
    const char c = l ? 'y' : 'n';
    if (::write(ready[1], &c, 1) != 1) ::_exit(2);
    ::pause();
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_EQ(c, 'y');
  EXPECT_FALSE(h.try_acquire(1)) << "the other process holds both cores";
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(h.try_acquire(2)) << "the kernel dropped the dead holder's locks";
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(HostSlots, TheEnvironmentNamesTheDirectoryAndTheCores) {
  const std::string dir = scratch_dir();
  rig::Environment env;
  env.slot_dir = dir;
  env.host_cpus = "3";
  HostSlots h = HostSlots::for_this_host(env);
  EXPECT_EQ(h.dir(), dir);
  EXPECT_EQ(h.capacity(), 3);
  for (const char* bad : {"0", "two", "3x", "-1", ""}) {
    env.host_cpus = bad;
    if (*bad == '\0') {
      EXPECT_GE(HostSlots::for_this_host(env).capacity(), 1) << "empty: the online cores";
      continue;
    }
    try {
      HostSlots::for_this_host(env);
      ADD_FAILURE() << bad;
    } catch (const rig::UsageError& e) {
      EXPECT_EQ(std::string(e.what()), std::string("RIG_HOST_CPUS=") + bad + ": not a number of cores (1 to 4096)");
    }
  }
}

TEST(HostSlots, AnUnusableDirectoryIsAnErrorNotAWait) {
  EXPECT_THROW(HostSlots("/proc/rig-cannot-be-here", 2), rig::InfraError);
}

}  // namespace
