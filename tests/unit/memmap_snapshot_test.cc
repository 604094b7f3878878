// The probe's output parser (formats 1 and 2), the query coverage check and the query batching,
// on recorded probe output (tests/data/probe) and on small hand-written answers.
#include <gtest/gtest.h>

#include "test_data.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "rig/run/guest_memory.h"
#include "rig/spec/memmap_snapshot.h"

using namespace rig;

namespace {

using rig_test::data;

const std::string kHeader2 =
    "rig-probe 2\nkernel 6.12.117+deb12-amd64\nencoding index-private\ntypes section=12 mix=13 node=14\n"
    "struct_page 64\nsection_shift 27\npaging_levels 5\nS 0 nid=0 early=1 online=1\n"
    "N 0 pgdat_pfn=261078 pgdat_bytes=174208 online=1\n";
const std::string kState = "nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0";

std::string snapshot2(const std::string& p_lines, size_t count) {
  return kHeader2 + p_lines + "end " + std::to_string(count) + "\n";
}

// The message of the ProbeFormatError `f` throws ("" when it does not throw).
template <typename F>
std::string format_error(F f) {
  try {
    f();
  } catch (const ProbeFormatError& e) {
    return e.what();
  }
  return "";
}

PfnStateRun run(uint64_t pfn, uint64_t count) {
  PfnStateRun r;
  r.pfn = pfn;
  r.count = count;
  return r;
}

}  // namespace

TEST(ProbeFormat, Format1RecordingsStillParseWithoutAllocatorState) {
  auto s = parse_probe_snapshot(data("probe/movable-6.1-before.txt"));
  EXPECT_EQ(s.format, 1);
  ASSERT_FALSE(s.runs.empty());
  for (const auto& r : s.runs) EXPECT_FALSE(r.state.alloc_known);
  auto q = parse_probe_query(data("probe/movable-6.1-after.txt"));
  ASSERT_FALSE(q.empty());
  for (const auto& r : q) {
    EXPECT_FALSE(r.state.alloc_known);
    EXPECT_FALSE(r.state.in_allocator());
  }
}

TEST(ProbeFormat, Format2FieldsAndP4dRole) {
  const std::string text = snapshot2(
      "P 100 1 nid=0 res=0 priv=0 buddy=1 selfhosted=0 ref=0 type=0 info=0 free=buddy held=none roles=memmap:3\n"
      "P 101 511 " +
          kState +
          " free=buddy held=none roles=memmap:3\n"
          "P 700 2 " +
          kState +
          " free=pcp held=none roles=memmap:4\n"
          "P 800 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=slab roles=pte:5\n"
          "P 801 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=lru roles=pte:6\n"
          "P 802 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=pgtable roles=pmd:6\n"
          "P 803 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=12 info=6 free=no held=other roles=p4d:6,pud:6\n"
          "P 804 1 " +
          kState + " free=no held=none roles=usage:6\n",
      8);
  auto s = parse_probe_snapshot(text);
  EXPECT_EQ(s.format, 2);
  EXPECT_EQ(s.paging_levels, 5);
  ASSERT_EQ(s.runs.size(), 8u);
  for (const auto& r : s.runs) EXPECT_TRUE(r.state.alloc_known);
  EXPECT_TRUE(s.runs[0].state.free_block);
  EXPECT_TRUE(s.runs[0].state.buddy);
  EXPECT_TRUE(s.runs[1].state.free_block);
  EXPECT_FALSE(s.runs[1].state.buddy);
  EXPECT_TRUE(s.runs[1].state.in_allocator());
  EXPECT_TRUE(s.runs[2].state.on_pcp);
  EXPECT_FALSE(s.runs[2].state.free_block);
  EXPECT_TRUE(s.runs[3].state.slab);
  EXPECT_FALSE(s.runs[3].state.in_allocator());
  EXPECT_TRUE(s.runs[4].state.lru);
  EXPECT_TRUE(s.runs[5].state.pgtable);
  const auto& other = s.runs[6].state;
  EXPECT_FALSE(other.slab || other.lru || other.pgtable || other.in_allocator());
  ASSERT_EQ(s.runs[6].roles.size(), 2u);
  EXPECT_EQ(s.runs[6].roles[0].kind, PageRoleKind::P4d);
  EXPECT_EQ(s.runs[6].roles[0].owner, 6);
  EXPECT_STREQ(page_role_name(PageRoleKind::P4d), "p4d");
  EXPECT_FALSE(s.runs[7].state.in_allocator());
}

TEST(ProbeFormat, Format2RejectsUnknownOrMissingAllocatorFields) {
  auto with = [&](const std::string& fields) {
    return snapshot2("P 100 1 " + kState + " " + fields + " roles=memmap:3\n", 1);
  };
  EXPECT_NO_THROW(parse_probe_snapshot(with("free=no held=other")));
  const std::string line = "probe output line 10";
  EXPECT_NE(format_error([&] { parse_probe_snapshot(with("free=maybe held=none")); }).find(line), std::string::npos);
  EXPECT_NE(format_error([&] { parse_probe_snapshot(with("free=maybe held=none")); }).find("free=maybe"),
            std::string::npos);
  EXPECT_NE(format_error([&] { parse_probe_snapshot(with("free=no held=kernel")); }).find("held= value: kernel"),
            std::string::npos);
  EXPECT_NE(format_error([&] { parse_probe_snapshot(with("held=none")); }).find("missing field 'free'"),
            std::string::npos);
  EXPECT_NE(format_error([&] { parse_probe_snapshot(with("free=no")); }).find("missing field 'held'"),
            std::string::npos);
  EXPECT_NE(format_error([&] { parse_probe_snapshot(with("free=pcp held=slab")); }).find(line), std::string::npos);
  // Unknown format versions are refused.
  std::string v3 = with("free=no held=none");
  v3.replace(0, 11, "rig-probe 3");
  EXPECT_NE(format_error([&] { parse_probe_snapshot(v3); }).find("unknown probe format 3"), std::string::npos);
}

TEST(ProbeFormat, OverflowIsAnErrorNotATruncation) {
  const std::string p = "P 100 1 " + kState + " free=no held=none roles=memmap:3\n";
  auto err = format_error([&] { parse_probe_snapshot(kHeader2 + p + "overflow entries 17\nend 1\n"); });
  EXPECT_NE(err.find("line 11"), std::string::npos) << err;
  EXPECT_NE(err.find("17 entries"), std::string::npos) << err;
  err = format_error([&] { parse_probe_snapshot(kHeader2 + p + "overflow pcp 3\nend 1\n"); });
  EXPECT_NE(err.find("3 pcp"), std::string::npos) << err;
  err = format_error([&] {
    parse_probe_query("rig-probe-query 2\nQ 100 1 " + kState + " free=no held=none\noverflow pcp 2\nend 1\n");
  });
  EXPECT_NE(err.find("line 3"), std::string::npos) << err;
  // A short read: no 'end', or an 'end' that counts other lines than it ends.
  EXPECT_NE(format_error([&] { parse_probe_snapshot(kHeader2 + p); }).find("truncated"), std::string::npos);
  EXPECT_NE(format_error([&] { parse_probe_snapshot(kHeader2 + p + "end 2\n"); }).find("'end' counts"),
            std::string::npos);
}

TEST(ProbeFormat, QueryFormat2) {
  auto q = parse_probe_query("rig-probe-query 2\nQ 100 3 " + kState + " free=pcp held=none\nQ 103 1 gone\nend 2\n");
  ASSERT_EQ(q.size(), 2u);
  EXPECT_TRUE(q[0].state.alloc_known);
  EXPECT_TRUE(q[0].state.on_pcp);
  EXPECT_FALSE(q[1].state.online);
  EXPECT_NE(format_error([&] {
              parse_probe_query("rig-probe-query 2\nQ 100 3 " + kState + " free=pcp held=none\n");
            }).find("truncated"),
            std::string::npos);
  EXPECT_NE(format_error([&] {
              parse_probe_query("rig-probe-query 2\nQ 100 3 " + kState + " free=pcp held=none\nend 2\n");
            }).find("'end' counts"),
            std::string::npos);
  EXPECT_NE(format_error([&] {
              parse_probe_query("rig-probe-query 2\nQ 100 3 " + kState + " free=?? held=none\nend 1\n");
            }).find("line 2"),
            std::string::npos);
  EXPECT_NE(format_error([&] { parse_probe_query("rig-probe-query 3\nend 0\n"); }).find("line 1"), std::string::npos);
  EXPECT_NE(format_error([&] { parse_probe_query(""); }).find("empty"), std::string::npos);
}

TEST(ProbeFormat, PageStateEqualityComparesAllocatorState) {
  PageState a;
  a.online = true;
  a.alloc_known = true;
  PageState b = a;
  EXPECT_EQ(a, b);
  b.on_pcp = true;
  EXPECT_NE(a, b);
  b = a;
  b.free_block = true;
  EXPECT_NE(a, b);
  b = a;
  b.slab = true;
  EXPECT_NE(a, b);
  b = a;
  b.lru = true;
  EXPECT_NE(a, b);
  b = a;
  b.pgtable = true;
  EXPECT_NE(a, b);
  b = a;
  b.alloc_known = false;
  EXPECT_NE(a, b);
}

TEST(ProbeFormat, OfflinePagesAreAllAlike) {
  // An offline pfn has no struct page to read: whatever else the state holds, two offline states
  // are the same, and differ from any online one.
  PageState off;
  PageState other = off;
  other.ref = 5;
  other.nid = 1;
  EXPECT_EQ(off, off);
  EXPECT_EQ(off, other);
  PageState on = off;
  on.online = true;
  EXPECT_NE(off, on);
}

TEST(QueryCoverage, ExactCoverPasses) {
  // Runs may split or join asked ranges; a pfn asked twice is answered twice, in order.
  EXPECT_NO_THROW(check_query_covers({run(10, 5), run(15, 1), run(20, 2), run(22, 9)}, "10-15 20-30"));
  EXPECT_NO_THROW(check_query_covers({run(10, 3), run(13, 3), run(20, 1)}, "10-12 13-15 20"));
  EXPECT_NO_THROW(check_query_covers({run(10, 2), run(11, 1)}, "10-11 11"));
  EXPECT_NO_THROW(check_query_covers({run(16, 16)}, "0x10-0x1f"));
  EXPECT_NO_THROW(check_query_covers({}, ""));
}

TEST(QueryCoverage, MissingExtraAndTruncatedAnswersThrow) {
  // A pfn left out in the middle.
  auto err = format_error([] { check_query_covers({run(10, 2), run(13, 3)}, "10-15"); });
  EXPECT_NE(err.find("missing pfn 12"), std::string::npos) << err;
  // A pfn that was not asked.
  err = format_error([] { check_query_covers({run(10, 7)}, "10-15"); });
  EXPECT_NE(err.find("extra pfns from 16"), std::string::npos) << err;
  err = format_error([] { check_query_covers({run(9, 7)}, "10-15"); });
  EXPECT_NE(err.find("extra pfn 9"), std::string::npos) << err;
  // Truncated: the answer stops early.
  err = format_error([] { check_query_covers({run(10, 6)}, "10-15 20-30"); });
  EXPECT_NE(err.find("misses pfns 20-30"), std::string::npos) << err;
  err = format_error([] { check_query_covers({run(10, 3)}, "10-15"); });
  EXPECT_NE(err.find("misses pfns 13-15"), std::string::npos) << err;
  // Out of order, and a duplicate answer.
  EXPECT_FALSE(format_error([] { check_query_covers({run(20, 1), run(10, 1)}, "10 20"); }).empty());
  EXPECT_FALSE(format_error([] { check_query_covers({run(10, 1), run(10, 1)}, "10"); }).empty());
  // A malformed query is refused before anything is compared.
  EXPECT_FALSE(format_error([] { check_query_covers({}, "12-10"); }).empty());
  EXPECT_FALSE(format_error([] { check_query_covers({}, "1x"); }).empty());
  EXPECT_FALSE(format_error([] { check_query_covers({}, "'; reboot"); }).empty());
}

TEST(QueryCoverage, BatchesStayWithinTheProbesLimits) {
  EXPECT_EQ(query_batches("10-15 0x10 20"), (std::vector<std::string>{"10-15 16 20"}));
  EXPECT_TRUE(query_batches("").empty());
  // One range of 5M pfns: two queries, the second going on where the first stopped.
  const uint64_t big = 5ull << 20;
  auto b = query_batches(fmt::format("100-{} 7", 100 + big - 1));
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0], fmt::format("100-{}", 100 + kProbeQueryMaxPfns - 1));
  EXPECT_EQ(b[1], fmt::format("{}-{} 7", 100 + kProbeQueryMaxPfns, 100 + big - 1));
  // Many single pfns: split by text length, none lost, order kept.
  std::string many;
  for (uint64_t i = 0; i < 20000; ++i) many += fmt::format("{} ", 1000000 + 2 * i);
  auto parts = query_batches(many);
  EXPECT_GT(parts.size(), 1u);
  std::string joined;
  for (const auto& p : parts) {
    EXPECT_LE(p.size(), kProbeQueryMaxText);
    joined += p + " ";
  }
  EXPECT_EQ(joined, many);
}

namespace {

struct FreedCounts {
  uint64_t pcp = 0, buddy = 0, slab = 0, lru = 0, pgtable = 0, other = 0, gone = 0;
};

// Recorded on a real guest (unplug-boot-dimm-movable: the 512M DIMM at 4G with sections 32-35
// on node 1, whose memmap lives in node 0): the snapshot before the unplug and the query after.
void check_recorded_pair(const std::string& kernel, const FreedCounts& want) {
  SCOPED_TRACE(kernel);
  auto before = parse_probe_snapshot(data("probe/movable-" + kernel + "-v2-before.txt"));
  EXPECT_EQ(before.format, 2);
  const std::string after_text = data("probe/movable-" + kernel + "-v2-after.txt");
  auto after = parse_probe_query(after_text);
  // The rig's own query: the snapshot's pfns, then every pfn of the departing DIMM.
  const std::string asked = query_ranges(before) + " 1048576-1179647";
  EXPECT_NO_THROW(check_query_covers(after, asked));
  ASSERT_FALSE(after.empty());
  EXPECT_FALSE(after.back().state.online);  // the removed DIMM's pfns are gone
  EXPECT_EQ(after.back().count, 131072u);

  const auto now = states_by_pfn(after);
  FreedCounts got;
  uint64_t staying = 0;
  for (const auto& r : before.runs) {
    EXPECT_TRUE(r.state.alloc_known);
    for (const auto& role : r.roles) {
      if (role.kind != PageRoleKind::Memmap) continue;
      // Before the unplug every memmap page is allocated (reserved, bootmem-tagged).
      EXPECT_FALSE(r.state.in_allocator()) << r.pfn;
      for (uint64_t p = r.pfn; p < r.pfn + r.count; ++p) {
        const PageState& s = now.at(p);
        if (role.owner < 32) {  // node 0's own memmap stays allocated
          EXPECT_TRUE(s.online && !s.in_allocator() && s.reserved) << p;
          ++staying;
          continue;
        }
        if (!s.online)
          ++got.gone;
        else if (s.on_pcp)
          ++got.pcp;
        else if (s.free_block)
          ++got.buddy;
        else if (s.slab)
          ++got.slab;
        else if (s.lru)
          ++got.lru;
        else if (s.pgtable)
          ++got.pgtable;
        else
          ++got.other;
      }
    }
  }
  EXPECT_EQ(staying, 8u * 512u);
  EXPECT_EQ(got.pcp, want.pcp);
  EXPECT_EQ(got.buddy, want.buddy);
  EXPECT_EQ(got.slab, want.slab);
  EXPECT_EQ(got.lru, want.lru);
  EXPECT_EQ(got.pgtable, want.pgtable);
  EXPECT_EQ(got.other, want.other);
  EXPECT_EQ(got.gone, 0u);
  EXPECT_EQ(got.pcp + got.buddy + got.slab + got.lru + got.pgtable + got.other, 2048u);

  // The same answer with one line dropped, one pfn too many, or cut short is refused.
  auto drop = after;
  drop.erase(drop.begin() + 3);
  EXPECT_THROW(check_query_covers(drop, asked), ProbeFormatError);
  auto extra = after;
  extra[3].count += 1;
  EXPECT_THROW(check_query_covers(extra, asked), ProbeFormatError);
  auto cut = after;
  cut.pop_back();
  EXPECT_THROW(check_query_covers(cut, asked), ProbeFormatError);
  EXPECT_THROW(parse_probe_query(after_text.substr(0, after_text.rfind("end"))), ProbeFormatError);
}

}  // namespace

TEST(ProbeFormat, RecordedFormat2PairDebian61) {
  FreedCounts want;
  want.pcp = 2037;
  want.slab = 8;
  want.pgtable = 3;
  check_recorded_pair("6.1", want);
}

TEST(ProbeFormat, RecordedFormat2PairDebian612) {
  FreedCounts want;
  want.pcp = 2037;
  want.slab = 2;
  want.pgtable = 9;
  check_recorded_pair("6.12", want);
}

TEST(ProbeFormat, TheProbeLineNamesTheRoute) {
  const std::string body = "P 100 1 " + kState + " free=no held=none roles=memmap:3\n";
  const std::string plain = snapshot2(body, 1);
  EXPECT_EQ(parse_probe_snapshot(plain).probe, "") << "the module's own file has no probe line";
  const std::string kcore = "rig-probe 2\nprobe kcore\n" + plain.substr(plain.find('\n') + 1);
  EXPECT_EQ(parse_probe_snapshot(kcore).probe, "kcore");
  const std::string module = "rig-probe 2\nprobe module\n" + plain.substr(plain.find('\n') + 1);
  EXPECT_EQ(parse_probe_snapshot(module).probe, "module");
  EXPECT_THROW(parse_probe_snapshot("rig-probe 2\nprobe guess\n" + plain.substr(plain.find('\n') + 1)),
               ProbeFormatError);
  EXPECT_THROW(parse_probe_snapshot("rig-probe 2\nprobe kcore\nprobe kcore\n" + plain.substr(plain.find('\n') + 1)),
               ProbeFormatError);
}

// A bad token in the pfn ranges is quoted cut in the middle to 120 characters at most: its first
// 60 and last 30 characters.
TEST(ProbeFormat, ABadQueryRangeIsQuotedCutToItsEnds) {
  const auto error_of = [](const std::string& ranges) {
    try {
      parse_query_ranges(ranges);
    } catch (const ProbeFormatError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::string garbage = std::string(100, 'a') + std::string(100, 'z');
  EXPECT_EQ(error_of(garbage),
            "bad pfn range in a probe query: '" + std::string(60, 'a') + "..." + std::string(30, 'z') + "'");
  const std::string reversed = std::string(118, '0') + "2-1";  // 121 characters
  EXPECT_EQ(error_of(reversed), "bad pfn range in a probe query (last < first): '" + reversed.substr(0, 60) + "..." +
                                    reversed.substr(91) + "'");
  const std::string fits = std::string(117, '0') + "2-1";  // 120 characters: whole
  EXPECT_EQ(error_of(fits), "bad pfn range in a probe query (last < first): '" + fits + "'");
}

TEST(ProbeFormat, QueryRangesListEachRunOnce) {
  MemmapSnapshot s;
  s.runs = {PageRun{5, 1, {}, {}}, PageRun{10, 3, {}, {}}};
  EXPECT_EQ(query_ranges(s), "5 10-12");
  EXPECT_EQ(query_ranges(MemmapSnapshot{}), "");
}
