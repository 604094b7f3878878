// Bisection over built kernels: the search, the runs of one kernel combined, the range named.
#include "rig/workflows/kernel_bisect.h"

#include <gtest/gtest.h>

#include <map>

#include "rig/base/errors.h"

using namespace rig;

namespace {

std::vector<std::string> ladder(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("k" + std::to_string(i));
  return out;
}

}  // namespace

TEST(KernelBisect, FindsTheFirstBadKernelTestingEachAtMostOnce) {
  const auto ks = ladder(9);
  std::map<std::string, int> tested;
  auto r = bisect_kernels(ks, [&](const std::string& k) {
    ++tested[k];
    const int i = std::stoi(k.substr(1));
    return BisectDecision{i >= 6 ? BisectVerdict::Bad : BisectVerdict::Good, "", ""};
  });
  ASSERT_TRUE(r.first_bad && r.last_good);
  EXPECT_EQ(*r.first_bad, 6u);
  EXPECT_EQ(*r.last_good, 5u);
  for (const auto& [k, n] : tested) EXPECT_EQ(n, 1) << k;
  EXPECT_LE(r.steps.size(), 5u) << "two ends and log2 of the rest";
  EXPECT_EQ(r.summary(ks), "first bad kernel: k6 (last good: k5)");
}

TEST(KernelBisect, ASkippedKernelIsSteppedAroundAndSaidSo) {
  const auto ks = ladder(6);
  auto r = bisect_kernels(ks, [&](const std::string& k) {
    const int i = std::stoi(k.substr(1));
    if (i == 2 || i == 3) return BisectDecision{BisectVerdict::Skip, "guest did not boot", ""};
    return BisectDecision{i >= 3 ? BisectVerdict::Bad : BisectVerdict::Good, "", ""};
  });
  ASSERT_TRUE(r.first_bad && r.last_good);
  EXPECT_EQ(*r.last_good, 1u);
  EXPECT_EQ(*r.first_bad, 4u);
  EXPECT_EQ(r.skipped.size(), 2u);
  EXPECT_EQ(r.summary(ks), "first bad kernel: k4 (last good: k1; 2 skipped between them)");
}

TEST(KernelBisect, EndsThatAreNotGoodAndBadOrAHostFailureStop) {
  const auto ks = ladder(4);
  auto all_good = bisect_kernels(ks, [](const std::string&) { return BisectDecision{BisectVerdict::Good, "", ""}; });
  EXPECT_FALSE(all_good.first_bad);
  EXPECT_EQ(all_good.summary(ks), "no bad kernel: k0 and k3 are both good");
  auto all_bad = bisect_kernels(ks, [](const std::string&) { return BisectDecision{BisectVerdict::Bad, "", ""}; });
  EXPECT_FALSE(all_bad.last_good);
  EXPECT_EQ(all_bad.steps.size(), 2u) << "the two ends, nothing between";
  EXPECT_EQ(all_bad.summary(ks),
            "every kernel is bad as far as the ends tell: k0 and k3 are both bad (no good kernel in the list)");
  auto first_skipped = bisect_kernels(ks, [](const std::string& k) {
    return BisectDecision{k == "k0" ? BisectVerdict::Skip : BisectVerdict::Bad, "", ""};
  });
  EXPECT_EQ(first_skipped.summary(ks), "k0 could not be judged");
  auto host = bisect_kernels(ks, [](const std::string&) { return BisectDecision{BisectVerdict::Stop, "no qemu", ""}; });
  EXPECT_EQ(host.summary(ks), "bisection stopped: k0: no qemu");
  EXPECT_THROW(bisect_kernels({"only"}, [](const std::string&) { return BisectDecision{}; }), UsageError);
}

TEST(KernelBisect, ARangeOfDebianKernelsIsTheArchivesBuildsBetweenItsEndsInVersionOrder) {
  const std::vector<AvailableKernel> av = {{"6.18.15+deb13-amd64", "6.18.15"}, {"6.18.5+deb13-amd64", "6.18.5"},
                                           {"6.18.9+deb13-amd64", "6.18.9"},   {"6.18.12+deb13-amd64", "6.18.12"},
                                           {"7.0.13+deb13-amd64", "7.0.13"},   {"6.12.117+deb13-amd64", "6.12.117"}};
  EXPECT_EQ(kernel_list_from("debian:6.18.5..debian:6.18.15", av),
            (std::vector<std::string>{"debian:6.18.5+deb13-amd64", "debian:6.18.9+deb13-amd64",
                                      "debian:6.18.12+deb13-amd64", "debian:6.18.15+deb13-amd64"}));
  EXPECT_EQ(kernel_list_from("debian-6.1,debian:7.3", av), (std::vector<std::string>{"debian-6.1", "debian:7.3"}));
  EXPECT_THROW(kernel_list_from("debian:6.18.5..debian:6.18.99", av), UsageError);
  EXPECT_THROW(kernel_list_from("6.18.5..debian:6.18.15", av), UsageError);
  EXPECT_EQ(upstream_tag("debian:6.18.9+deb13-amd64"), "v6.18.9");
  EXPECT_EQ(upstream_tag("debian:7.3"), "v7.3");
  EXPECT_EQ(upstream_tag("debian-6.1"), "") << "an ABI name, not an upstream version";
  EXPECT_EQ(upstream_tag("/boot/vmlinuz-6.1.0-57-amd64"), "");
  EXPECT_EQ(upstream_tag("debian:6.1.0-50-amd64"), "") << "Debian 6.1's ABI name: 6.1.0 is no upstream version";
  EXPECT_EQ(upstream_tag("debian:6.1.0-50-amd64", {{"6.1.0-50-amd64", "6.1.176"}}), "v6.1.176")
      << "the archive says which upstream version it is";
}

TEST(KernelBisect, AKernelThatFailsOnceIsBad) {
  ScenarioResult pass, fail;
  pass.scenario = fail.scenario = "s";
  pass.verdict = Verdict::Pass;
  pass.boot_s = fail.boot_s = 1;
  CheckRecord c;
  c.case_no = 1;
  c.name = "memmap-freed";
  c.status = CheckStatus::Pass;
  c.ok = true;
  pass.checks = {c};
  pass.cases_covered = {1};
  fail = pass;
  fail.verdict = Verdict::Fail;
  fail.checks[0].status = CheckStatus::Fail;
  fail.checks[0].ok = false;
  fail.reason = "case 1 check memmap-freed failed";
  EXPECT_EQ(combine_kernel_runs(1, {pass, fail, pass}).verdict, BisectVerdict::Bad);
  EXPECT_EQ(combine_kernel_runs(1, {pass, pass}).verdict, BisectVerdict::Good);
}

TEST(KernelBisect, BadThenGoodEndsFindTheFirstGoodKernelTheFix) {
  const auto ks = ladder(7);
  auto r = bisect_kernels(ks, [&](const std::string& k) {
    const int i = std::stoi(k.substr(1));
    if (i == 4) return BisectDecision{BisectVerdict::Skip, "guest did not boot", ""};
    return BisectDecision{i >= 4 ? BisectVerdict::Good : BisectVerdict::Bad, "", ""};
  });
  ASSERT_TRUE(r.first_bad && r.last_good);
  EXPECT_TRUE(r.fix);
  EXPECT_EQ(*r.first_bad, 3u) << "the last bad";
  EXPECT_EQ(*r.last_good, 5u) << "the first good past the skipped k4";
  EXPECT_EQ(r.summary(ks), "fixed in: k5 is the first good kernel (last bad: k3; 1 skipped between them)");
  auto regression = bisect_kernels(ks, [&](const std::string& k) {
    return BisectDecision{std::stoi(k.substr(1)) >= 2 ? BisectVerdict::Bad : BisectVerdict::Good, "", ""};
  });
  EXPECT_FALSE(regression.fix);
  EXPECT_EQ(regression.summary(ks), "first bad kernel: k2 (last good: k1)");
}
