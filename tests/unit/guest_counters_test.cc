// The memory counters and listings the kernel gives user space, around an unplug: recorded on
// Debian 6.1 (unplug-boot-dimm-movable: the 512 MiB boot DIMM of node 1 at 4 GiB removed), then
// each counter planted wrong.
#include "rig/spec/guest_counters.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_data.h"

using namespace rig;
using rig_test::data;

namespace {

const uint64_t kFirst = 0x100000000ull >> 12, kCount = 0x20000000ull >> 12;
// The model's MemTotal change for this removal: node 0 gets 2049 pages back (2048 memmap pages
// and the direct-map PMD table), node 1 loses its 131072.
const std::map<int, int64_t> kDelta = {{0, 2049}, {1, -131072}};

const CaseCheck* find(const std::vector<CaseCheck>& cs, const std::string& name) {
  for (const auto& c : cs)
    if (c.name == name) return &c;
  return nullptr;
}

std::vector<CaseCheck> judge(const std::string& after_text, bool removed = true) {
  const GuestCounters before = parse_guest_counters(data("counters/movable-6.1-before.txt"));
  return check_counters(before, parse_guest_counters(after_text), kFirst, kCount, 1, removed, kDelta);
}

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// `n` checks of case 2, each judged and passed.
void expect_all_pass(const std::vector<CaseCheck>& checks, size_t n) {
  ASSERT_EQ(checks.size(), n);
  for (const auto& c : checks) {
    EXPECT_TRUE(c.ok && c.applicable) << c.name << ": " << c.detail;
    EXPECT_EQ(c.case_no, 2) << c.name;
  }
}

// A counter planted wrong in a reading: `check` fails saying `says`, every other check passes.
struct Plant {
  std::string check, from, to, says;
};

void expect_only_the_planted_check_fails(const Plant& p, const std::vector<CaseCheck>& checks) {
  for (const auto& c : checks) {
    if (c.name == p.check) {
      EXPECT_FALSE(c.ok) << p.to;
      EXPECT_NE(c.detail.find(p.says), std::string::npos) << p.to << ": " << c.detail;
    } else {
      EXPECT_TRUE(c.ok) << "planting " << p.to << " failed " << c.name << ": " << c.detail;
    }
  }
}

}  // namespace

TEST(GuestCounters, ParsesARecordedReading) {
  const GuestCounters g = parse_guest_counters(data("counters/movable-6.1-before.txt"));
  EXPECT_EQ(*g.memtotal_kb, 1434652u);
  EXPECT_EQ(g.node_states.at("has_memory"), (std::set<int>{0, 1}));
  EXPECT_EQ(g.node_states.at("has_cpu"), (std::set<int>{0}));
  EXPECT_EQ(g.zones.at({1, "Movable"}).present, 131072u);
  EXPECT_EQ(g.block_bytes, 0x8000000u);
  EXPECT_EQ(g.blocks.at(32), "online");
  ASSERT_TRUE(g.firmware.has_value());
  EXPECT_EQ(g.firmware->size(), 7u);
  EXPECT_EQ(iomem_listing(g.iomem).count({0x100000000ull, 0x11fffffffull, "System RAM"}), 1u);
}

TEST(GuestCounters, TheRecordedRemovalPassesEveryCounter) {
  expect_all_pass(judge(data("counters/movable-6.1-after.txt")), 7);
}

TEST(GuestCounters, EachCounterFailsWhenPlantedWrong) {
  const std::string after = data("counters/movable-6.1-after.txt");
  const std::vector<Plant> plants = {
      {"counters-meminfo", "MemTotal:         918560 kB", "MemTotal:         918556 kB", "the model expects 918560 kB"},
      {"counters-node-states", "has_memory 0\n", "has_memory 0-1\n", "has_memory: 0,1 before, 0,1 after; expected 0"},
      {"counters-zones", "managed  225800", "managed  225799",
       "node 0 managed 227591 pages before, 229639 after; the model expects 229640"},
      {"counters-memory-blocks", "== firmware", "memory33/state:offline\n== firmware",
       "memory33 (offline) still present though its memory was removed"},
      {"counters-iomem", "3c0000000-43fffffff : PCI Bus 0000:00",
       "100000000-11fffffff : System RAM\n3c0000000-43fffffff : PCI Bus 0000:00",
       "present but not expected: 0x100000000-0x11fffffff System RAM"},
      {"counters-firmware-memmap", "/sys/firmware/memmap/6/type:Reserved", "/sys/firmware/memmap/6/type:System RAM",
       "expected but absent: 0xfd00000000-0xffffffffff Reserved"},
  };
  for (const auto& p : plants) expect_only_the_planted_check_fails(p, judge(replaced(after, p.from, p.to)));
  // A node that keeps memory elsewhere stays in has_memory: the removal of a part of node 1.
  const GuestCounters before = parse_guest_counters(data("counters/movable-6.1-before.txt"));
  auto half = check_counters(before, parse_guest_counters(after), kFirst, kCount / 2, 1, true, kDelta);
  EXPECT_FALSE(find(half, "counters-node-states")->ok) << find(half, "counters-node-states")->detail;
  EXPECT_FALSE(find(half, "counters-memory-blocks")->ok);
}

TEST(GuestCounters, ARefusalChangesNothingAndAnyChangeFails) {
  const std::string before = data("counters/movable-6.1-before.txt");
  for (const auto& c : judge(before, false)) EXPECT_TRUE(c.ok && c.applicable) << c.name << ": " << c.detail;
  const auto moved = judge(replaced(before, "memory35/state:online", "memory35/state:offline"), false);
  EXPECT_FALSE(find(moved, "counters-memory-blocks")->ok);
  EXPECT_NE(find(moved, "counters-memory-blocks")->detail.find("memory35 online before, offline after"),
            std::string::npos);
  const auto gone = judge(data("counters/movable-6.1-after.txt"), false);
  for (const char* name :
       {"counters-meminfo", "counters-node-states", "counters-zones", "counters-memory-blocks", "counters-iomem"})
    EXPECT_FALSE(find(gone, name)->ok) << name;
}

TEST(GuestCounters, NoFirmwareMapIsNotApplicableAndOneThatVanishesFails) {
  auto without_map = [](std::string text) {
    return text.substr(0, text.find("== firmware")) + "== firmware absent\n" + text.substr(text.find("== iomem"));
  };
  const std::string before = data("counters/movable-6.1-before.txt"), after = data("counters/movable-6.1-after.txt");
  const auto none = check_counters(parse_guest_counters(without_map(before)), parse_guest_counters(without_map(after)),
                                   kFirst, kCount, 1, true, kDelta);
  EXPECT_FALSE(find(none, "counters-firmware-memmap")->applicable);
  const auto vanished = judge(without_map(after));
  EXPECT_TRUE(find(vanished, "counters-firmware-memmap")->applicable);
  EXPECT_FALSE(find(vanished, "counters-firmware-memmap")->ok);
}

TEST(GuestCounters, RejectsTextItCannotRead) {
  const std::string good = data("counters/movable-6.1-after.txt");
  for (const std::string& bad :
       {std::string(""), good.substr(0, good.find("== end")), replaced(good, "MemTotal:", "MemTotal"),
        replaced(good, "== blocks 8000000", "== blocks 0"), replaced(good, "== blocks 8000000", "== blocks zz"),
        replaced(good, "has_memory 0", "has_memory 0-99999"), replaced(good, "== states", "== nonsense"),
        replaced(good, "memory0/state:online", "mem0/state:online"), good + "trailing\n",
        replaced(good, "00001000-0009fbff : System RAM", "00001000 : System RAM"),
        replaced(good, "Node 0, zone      DMA", "Node x, zone      DMA")})
    EXPECT_THROW(parse_guest_counters(bad), ProbeFormatError) << bad.substr(0, 200);
}

// Boot memory in one "System RAM" resource: the removal of its lower half leaves the upper half
// (release_mem_region_adjustable(); seen on Debian 6.1 in boot-dimms-movablecore); the whole
// resource left in place fails.
TEST(GuestCounters, ASystemRamResourceTheRangeLiesInIsTrimmed) {
  const GuestCounters before = parse_guest_counters(data("counters/movable-6.1-before.txt"));
  const std::string after = data("counters/movable-6.1-after.txt");
  const std::string upper = replaced(after, "3c0000000-43fffffff : PCI Bus 0000:00",
                                     "110000000-11fffffff : System RAM\n3c0000000-43fffffff : PCI Bus 0000:00");
  auto half = check_counters(before, parse_guest_counters(upper), kFirst, kCount / 2, 1, true, kDelta);
  EXPECT_TRUE(find(half, "counters-iomem")->ok) << find(half, "counters-iomem")->detail;
  auto whole = check_counters(before, parse_guest_counters(after), kFirst, kCount / 2, 1, true, kDelta);
  EXPECT_FALSE(find(whole, "counters-iomem")->ok);
  EXPECT_NE(find(whole, "counters-iomem")->detail.find("expected but absent: 0x110000000-0x11fffffff System RAM"),
            std::string::npos)
      << find(whole, "counters-iomem")->detail;
}

// A refused eject whose rollback onlined a block back into another zone (ACPI's rollback onlines
// with MMOP_ONLINE: ZONE_NORMAL; seen on both Debian kernels in boot-dimms-movablecore): the
// node's sum of present pages is the same, its zones are not.
TEST(GuestCounters, ARefusalThatMovesPagesBetweenZonesFails) {
  const std::string before = data("counters/movable-6.1-before.txt");
  // Node 1: Normal 0 -> 32768, Movable 131072 -> 98304.
  std::string moved = before;
  const auto normal = moved.find("Node 1, zone   Normal");
  ASSERT_NE(normal, std::string::npos);
  moved.replace(moved.find("present  0", normal), 10, "present  32768");
  const auto movable = moved.find("Node 1, zone  Movable");
  moved.replace(moved.find("present  131072", movable), 15, "present  98304");
  const auto checks = judge(moved, false);
  const CaseCheck* z = find(checks, "counters-zones");
  EXPECT_FALSE(z->ok);
  EXPECT_NE(z->detail.find("node 1 zone Normal present 0 before, 32768 after; expected 0"), std::string::npos)
      << z->detail;
  EXPECT_NE(z->detail.find("node 1 zone Movable present 131072 before, 98304 after"), std::string::npos) << z->detail;
}

// Nothing passes on an empty reading: a listing missing or empty is an error, and a removal whose
// range the readings before did not hold (its blocks, its "System RAM") fails.
TEST(GuestCounters, EmptyReadingsAndARangeNotListedBeforeDoNotPass) {
  const std::string before = data("counters/movable-6.1-before.txt"), after = data("counters/movable-6.1-after.txt");
  auto cut = [](const std::string& text, const std::string& from, const std::string& to) {
    return text.substr(0, text.find(from) + from.size() + 1) + text.substr(text.find(to));
  };
  EXPECT_THROW(parse_guest_counters(cut(after, "== iomem", "== end")), ProbeFormatError);
  EXPECT_THROW(parse_guest_counters(cut(after, "== zoneinfo", "== blocks")), ProbeFormatError);
  EXPECT_THROW(parse_guest_counters(replaced(after, "== states", "== meminfo")), ProbeFormatError);
  // The same removal judged with a range two blocks further up: nothing of it was listed before.
  const GuestCounters b = parse_guest_counters(before), a = parse_guest_counters(after);
  const uint64_t elsewhere = kFirst + (64ull << 20 >> 12) * 64;  // 4 GiB + 16 GiB
  const auto checks = check_counters(b, a, elsewhere, kCount, 1, true, kDelta);
  EXPECT_NE(
      find(checks, "counters-memory-blocks")->detail.find("memory blocks of the removed range were listed before"),
      std::string::npos)
      << find(checks, "counters-memory-blocks")->detail;
  EXPECT_NE(find(checks, "counters-iomem")->detail.find("no \"System RAM\" resource held"), std::string::npos)
      << find(checks, "counters-iomem")->detail;
}

// /proc/iomem as the kernel prints it, children two spaces deeper: the recorded reading with its
// iomem section replaced.
namespace {

std::string with_iomem(const std::string& reading, const std::string& iomem) {
  return reading.substr(0, reading.find("== iomem\n") + 9) + iomem + "== end\n";
}

// A virtio-mem device's window with two plugged parts, and a top-level "System RAM" with a child.
const char* kVirtioIomem =
    "00000000-00000fff : Reserved\n"
    "00100000-3ffdffff : System RAM\n"
    "  01000000-01ffffff : Kernel code\n"
    "100000000-13fffffff : System RAM\n"
    "140000000-1bfffffff : virtio0\n"
    "  140000000-15fffffff : System RAM (virtio_mem)\n"
    "  180000000-19fffffff : System RAM (virtio_mem)\n"
    "3c0000000-43fffffff : PCI Bus 0000:00\n";

IomemTree iomem_of(const std::string& iomem) {
  return parse_guest_counters(with_iomem(data("counters/movable-6.1-before.txt"), iomem)).iomem;
}

const CaseCheck& iomem_check(const std::string& before_iomem, const std::string& after_iomem, uint64_t first,
                             uint64_t bytes) {
  static std::vector<CaseCheck> checks;
  const std::string reading = data("counters/movable-6.1-before.txt");
  checks =
      check_counters(parse_guest_counters(with_iomem(reading, before_iomem)),
                     parse_guest_counters(with_iomem(reading, after_iomem)), first >> 12, bytes >> 12, 1, true, kDelta);
  return *find(checks, "counters-iomem");
}

std::string text_replaced(std::string s, const std::string& from, const std::string& to) {
  return replaced(s, from, to);
}

}  // namespace

TEST(GuestCounters, ParsesTheNestingOfProcIomem) {
  const IomemTree t = iomem_of(kVirtioIomem);
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[1].children.size(), 1u);
  EXPECT_EQ(t[1].children[0].range.name, "Kernel code");
  ASSERT_EQ(t[3].children.size(), 2u);
  EXPECT_EQ(t[3].children[1].range, (NamedRange{0x180000000ull, 0x19fffffffull, "System RAM (virtio_mem)"}));
  EXPECT_EQ(iomem_listing(t).count(
                {0x180000000ull, 0x19fffffffull, "System RAM (virtio_mem) in 0x140000000-0x1bfffffff virtio0"}),
            1u);
  // Odd indentation, a level skipped, a child outside its parent, a range that ends before it starts.
  for (const std::string& bad : {std::string("00000000-00000fff : Reserved\n   00000000-000000ff : odd\n"),
                                 std::string("00000000-00000fff : Reserved\n    00000000-000000ff : skipped a level\n"),
                                 std::string("  00000000-00000fff : a child first\n"),
                                 std::string("00000000-00000fff : Reserved\n  00001000-00001fff : outside\n"),
                                 std::string("00001000-00000fff : backwards\n")})
    EXPECT_THROW(iomem_of(bad), ProbeFormatError) << bad;
}

// release_mem_region_adjustable() acts on the one busy system-RAM resource that contains the
// range, wherever it hangs, and on nothing else.
TEST(GuestCounters, TheReleaseModelFollowsTheKernel) {
  const IomemTree t = iomem_of(kVirtioIomem);
  auto listing = [](const std::optional<IomemTree>& x) { return iomem_listing(*x); };
  // The upper half of the first virtio-mem part: its end is adjusted; virtio0 stays whole.
  auto trimmed = iomem_after_release(t, 0x150000000ull, 0x15fffffffull);
  ASSERT_TRUE(trimmed);
  EXPECT_EQ(listing(trimmed).count(
                {0x140000000ull, 0x14fffffffull, "System RAM (virtio_mem) in 0x140000000-0x1bfffffff virtio0"}),
            1u);
  EXPECT_EQ(listing(trimmed).count({0x140000000ull, 0x1bfffffffull, "virtio0"}), 1u);
  // Exactly the second part: dropped.
  auto dropped = iomem_after_release(t, 0x180000000ull, 0x19fffffffull);
  ASSERT_TRUE(dropped);
  EXPECT_EQ((*dropped)[3].children.size(), 1u);
  // The middle of a top-level resource: split, the child stays with the lower part.
  auto split = iomem_after_release(t, 0x10000000ull, 0x1fffffffull);
  ASSERT_TRUE(split);
  EXPECT_EQ((*split)[1].range, (NamedRange{0x100000ull, 0xfffffffull, "System RAM"}));
  EXPECT_EQ((*split)[1].children.size(), 1u);
  EXPECT_EQ((*split)[2].range, (NamedRange{0x20000000ull, 0x3ffdffffull, "System RAM"}));
  EXPECT_TRUE((*split)[2].children.empty());
  // The start of a resource: adjusted.
  auto start = iomem_after_release(t, 0x100000000ull, 0x10fffffffull);
  ASSERT_TRUE(start);
  EXPECT_EQ((*start)[2].range, (NamedRange{0x110000000ull, 0x13fffffffull, "System RAM"}));
  // No busy resource holds the range: across two resources, in a window's hole, in a PCI window.
  EXPECT_FALSE(iomem_after_release(t, 0x130000000ull, 0x14fffffffull));
  EXPECT_FALSE(iomem_after_release(t, 0x160000000ull, 0x16fffffffull));
  EXPECT_FALSE(iomem_after_release(t, 0x3c0000000ull, 0x3cfffffffull));
}

TEST(GuestCounters, IomemFailsWhenAWrongResourceIsCut) {
  const std::string before = kVirtioIomem;
  const std::string kernel = text_replaced(before, "  140000000-15fffffff : System RAM (virtio_mem)\n",
                                           "  140000000-14fffffff : System RAM (virtio_mem)\n");
  EXPECT_TRUE(iomem_check(before, kernel, 0x150000000ull, 0x10000000ull).ok)
      << iomem_check(before, kernel, 0x150000000ull, 0x10000000ull).detail;
  // The device's window trimmed as well as (or instead of) the part.
  const std::string window = text_replaced(kernel, "140000000-1bfffffff : virtio0", "140000000-1afffffff : virtio0");
  const CaseCheck& w = iomem_check(before, window, 0x150000000ull, 0x10000000ull);
  EXPECT_FALSE(w.ok);
  EXPECT_NE(w.detail.find("; 0x140000000-0x1bfffffff virtio0;"), std::string::npos) << w.detail;
  EXPECT_NE(w.detail.find("present but not expected: "), std::string::npos) << w.detail;
  // The other part cut instead.
  const std::string other = text_replaced(before, "  180000000-19fffffff : System RAM (virtio_mem)\n",
                                          "  180000000-18fffffff : System RAM (virtio_mem)\n");
  EXPECT_FALSE(iomem_check(before, other, 0x150000000ull, 0x10000000ull).ok);
  // A top-level System RAM the range does not lie in trimmed too (the rig's model before it
  // followed the kernel trimmed every "System RAM" the range touched).
  const std::string touched =
      text_replaced(kernel, "100000000-13fffffff : System RAM", "100000000-12fffffff : System RAM");
  EXPECT_FALSE(iomem_check(before, touched, 0x150000000ull, 0x10000000ull).ok);
  // A child left behind by a split (the kernel keeps children in the lower part).
  const std::string split = text_replaced(before, "00100000-3ffdffff : System RAM\n  01000000-01ffffff : Kernel code\n",
                                          "00100000-0fffffff : System RAM\n  01000000-01ffffff : Kernel code\n"
                                          "20000000-3ffdffff : System RAM\n");
  EXPECT_TRUE(iomem_check(before, split, 0x10000000ull, 0x10000000ull).ok)
      << iomem_check(before, split, 0x10000000ull, 0x10000000ull).detail;
  const std::string moved = text_replaced(split, "  01000000-01ffffff : Kernel code\n20000000-3ffdffff : System RAM\n",
                                          "20000000-3ffdffff : System RAM\n  21000000-21ffffff : Kernel code\n");
  EXPECT_FALSE(iomem_check(before, moved, 0x10000000ull, 0x10000000ull).ok);
  // A range across two resources: the kernel releases nothing, and the check says why.
  const CaseCheck& across = iomem_check(before, before, 0x130000000ull, 0x20000000ull);
  EXPECT_FALSE(across.ok);
  EXPECT_NE(across.detail.find("no \"System RAM\" resource held 0x130000000-0x14fffffff"), std::string::npos)
      << across.detail;
}

TEST(GuestCounters, TheRequestModelPutsTheNewResourceWhereTheKernelDoes) {
  const IomemTree t = iomem_of(kVirtioIomem);
  // Top level, between its neighbours.
  auto top = iomem_after_request(t, 0x200000000ull, 0x20fffffffull, "System RAM");
  ASSERT_TRUE(top);
  EXPECT_EQ((*top)[4].range, (NamedRange{0x200000000ull, 0x20fffffffull, "System RAM"}));
  // Under a window that is not busy (a virtio-mem device's), beside its siblings by address.
  auto inside = iomem_after_request(t, 0x160000000ull, 0x17fffffffull, "System RAM (virtio_mem)");
  ASSERT_TRUE(inside);
  ASSERT_EQ((*inside)[3].children.size(), 3u);
  EXPECT_EQ((*inside)[3].children[1].range.first, 0x160000000ull);
  // Over a busy System RAM, or half in a window: the kernel refuses (-EBUSY).
  EXPECT_FALSE(iomem_after_request(t, 0x130000000ull, 0x13fffffffull, "System RAM"));
  EXPECT_FALSE(iomem_after_request(t, 0x1b0000000ull, 0x1cfffffffull, "System RAM"));
}

// Around a plug: recorded on Debian 6.1 (hotplug-then-unplug: a 256 MiB DIMM plugged on
// memory-less node 1 at 4 GiB under memhp_default_state=offline, 2026-12-03).
namespace {

const uint64_t kPlugFirst = 0x100000000ull >> 12, kPlugCount = 0x10000000ull >> 12;

std::vector<CaseCheck> judge_plug(const std::string& after_text, uint64_t memmap = 0, double waited = 0,
                                  const std::string& before_text = data("counters/hotplug-6.1-plug-before.txt")) {
  return check_counters_after_plug(parse_guest_counters(before_text), parse_guest_counters(after_text), kPlugFirst,
                                   kPlugCount, 1, memmap, waited);
}

// The recorded plug with its two blocks onlined movable: node 1's Movable zone, has_memory and
// MemTotal grow by their 65536 pages, less `memmap` pages that hold their own memmap.
std::string onlined(uint64_t memmap) {
  std::string s = data("counters/hotplug-6.1-plug-after.txt");
  s = replaced(s, "memory32/state:offline", "memory32/state:online");
  s = replaced(s, "memory33/state:offline", "memory33/state:online");
  s = replaced(s, "has_memory 0\n", "has_memory 0-1\n");
  s = replaced(s, "MemTotal:         917024 kB", fmt::format("MemTotal:        {} kB", 917024 + (65536 - memmap) * 4));
  const auto movable = s.find("Node 1, zone  Movable");
  s.replace(s.find("spanned  0", movable), 10, "spanned  65536");
  s.replace(s.find("present  0", movable), 10, "present  65536");
  s.replace(s.find("managed  0", movable), 10, fmt::format("managed  {}", 65536 - memmap));
  return s;
}

}  // namespace

TEST(GuestCounters, TheRecordedPlugPassesEveryCounter) {
  const auto checks = judge_plug(data("counters/hotplug-6.1-plug-after.txt"));
  expect_all_pass(checks, 6);
  EXPECT_EQ(find(checks, "counters-memory-blocks")->detail, "10 memory blocks, as expected after the plug");
  // Onlined by the guest's policy: the blocks' state says so and the counters follow it.
  for (uint64_t memmap : {0u, 1024u})
    for (const auto& c : judge_plug(onlined(memmap), memmap))
      EXPECT_TRUE(c.ok) << memmap << " " << c.name << ": " << c.detail;
}

TEST(GuestCounters, EachCounterFailsWhenAPlugIsPlantedWrong) {
  const std::string after = data("counters/hotplug-6.1-plug-after.txt");
  const std::vector<Plant> plants = {
      {"counters-meminfo", "MemTotal:         917024 kB", "MemTotal:         917028 kB", "the model expects 917024 kB"},
      {"counters-node-states", "online 0-1\n", "online 0\n", "online: 0 before, 0 after; expected 0,1"},
      {"counters-zones", "Node 1, zone  Movable\n        spanned  0\n        present  0",
       "Node 1, zone  Movable\n        spanned  0\n        present  32768",
       "node 1 present 0 pages before, 32768 after; expected 0"},
      {"counters-memory-blocks", "memory33/state:offline\n", "", "memory33 of the plugged range absent"},
      {"counters-memory-blocks", "memory7/state:online", "memory7/state:offline",
       "memory7 online before, offline after"},
      {"counters-iomem", "100000000-10fffffff : System RAM", "100000000-11fffffff : System RAM",
       "expected but absent: 0x100000000-0x10fffffff System RAM"},
      {"counters-iomem", "100000000-10fffffff : System RAM\n", "", "expected but absent"},
      {"counters-firmware-memmap", "/sys/firmware/memmap/7/end:0x10fffffff", "/sys/firmware/memmap/7/end:0x11fffffff",
       "expected but absent: 0x100000000-0x10fffffff System RAM"},
  };
  for (const auto& p : plants) expect_only_the_planted_check_fails(p, judge_plug(replaced(after, p.from, p.to)));
  // Online blocks whose memmap the model does not know of: managed and MemTotal are 1024 pages
  // short of what it expects, present is not.
  const auto short_by = judge_plug(onlined(1024), 0);
  EXPECT_FALSE(find(short_by, "counters-meminfo")->ok);
  EXPECT_NE(find(short_by, "counters-zones")
                ->detail.find("node 1 managed 0 pages before, 64512 after; the model expects "
                              "65536; short by 1024 pages"),
            std::string::npos)
      << find(short_by, "counters-zones")->detail;
  // Online blocks but no has_memory, or no MemTotal growth.
  EXPECT_FALSE(
      find(judge_plug(replaced(onlined(0), "has_memory 0-1\n", "has_memory 0\n")), "counters-node-states")->ok);
  EXPECT_FALSE(find(judge_plug(replaced(onlined(0), "MemTotal:        1179168 kB", "MemTotal:         917024 kB")),
                    "counters-meminfo")
                   ->ok);
  // A block of the range listed before the plug; blocks that never came within the wait.
  const auto listed = judge_plug(after, 0, 0,
                                 replaced(data("counters/hotplug-6.1-plug-before.txt"), "memory4/state:online",
                                          "memory32/state:offline\nmemory4/state:online"));
  EXPECT_NE(
      find(listed, "counters-memory-blocks")->detail.find("memory32 of the plugged range was listed before the plug"),
      std::string::npos);
  const auto never =
      judge_plug(replaced(replaced(after, "memory32/state:offline\n", ""), "memory33/state:offline\n", ""), 0, 5);
  EXPECT_NE(find(never, "counters-memory-blocks")
                ->detail.find("memory32 memory33 of the plugged range never appeared "
                              "(waited 5.0 s)"),
            std::string::npos)
      << find(never, "counters-memory-blocks")->detail;
  EXPECT_EQ(missing_blocks(parse_guest_counters(after), kPlugFirst, kPlugCount), std::vector<uint64_t>{});
  EXPECT_EQ(missing_blocks(parse_guest_counters(data("counters/hotplug-6.1-plug-before.txt")), kPlugFirst, kPlugCount),
            (std::vector<uint64_t>{32, 33}));
}

TEST(GuestCounters, MemmapPagesCountOnlyInTheRangesOnlineBlocks) {
  MemmapSnapshot snap;
  PageRun own{kPlugFirst, 512, {}, {{PageRoleKind::Memmap, 32}}};             // block 32's memmap on itself
  PageRun second{kPlugFirst + 32768, 512, {}, {{PageRoleKind::Memmap, 33}}};  // block 33's
  PageRun table{kPlugFirst + 512, 1, {}, {{PageRoleKind::Pmd, 0}}};           // not a memmap page
  PageRun outside{kPlugFirst - 512, 512, {}, {{PageRoleKind::Memmap, 31}}};   // below the range
  snap.runs = {outside, own, table, second};
  GuestCounters after = parse_guest_counters(data("counters/hotplug-6.1-plug-after.txt"));
  EXPECT_EQ(memmap_pages_in_online_blocks(snap, after, kPlugFirst, kPlugCount), 0u) << "both blocks offline";
  after.blocks[33] = "online";
  EXPECT_EQ(memmap_pages_in_online_blocks(snap, after, kPlugFirst, kPlugCount), 512u);
  after.blocks[32] = "online";
  EXPECT_EQ(memmap_pages_in_online_blocks(snap, after, kPlugFirst, kPlugCount), 1024u);
  // A run across the blocks' boundary counts in the online block only.
  snap.runs = {PageRun{kPlugFirst + 32768 - 256, 512, {}, {{PageRoleKind::Memmap, 32}}}};
  after.blocks[32] = "offline";
  EXPECT_EQ(memmap_pages_in_online_blocks(snap, after, kPlugFirst, kPlugCount), 256u);
  EXPECT_EQ(memmap_pages_in_online_blocks(snap, after, kPlugFirst, 32768), 0u) << "block 33 is not in that range";
}

// The zones' spans after a removal (shrink_zone_span()): node 1's Movable zone spans the DIMM's
// pfns 1048576-1179647 before; readings with start_pfn, as /proc/zoneinfo prints it.
namespace {

std::string with_zone(std::string reading, const std::string& zone, uint64_t spanned, uint64_t present,
                      std::optional<uint64_t> start) {
  const auto at = reading.find(zone);
  EXPECT_NE(at, std::string::npos) << zone;
  const auto end =
      reading.find("\nNode", at + 1) == std::string::npos ? reading.find("\n==", at) : reading.find("\nNode", at + 1);
  reading.replace(at, end - at,
                  fmt::format("{}\n        spanned  {}\n        present  {}\n        managed  {}{}", zone, spanned,
                              present, present, start ? fmt::format("\n  start_pfn:           {}", *start) : ""));
  return reading;
}

const std::string kMovable = "Node 1, zone  Movable", kDma32 = "Node 0, zone    DMA32";

std::string span_before() {
  std::string r = with_zone(data("counters/movable-6.1-before.txt"), kMovable, 131072, 131072, 1048576);
  return with_zone(r, kDma32, 258016, 258016, 4096);
}

// Node 1's Movable zone after a removal of `count` pages from `first` as given, node 0 as before.
const CaseCheck& span_check(uint64_t first, uint64_t count, uint64_t spanned, uint64_t present,
                            std::optional<uint64_t> start, uint64_t dma32_start = 4096) {
  static std::vector<CaseCheck> checks;
  std::string after = with_zone(span_before(), kMovable, spanned, present, start);
  after = with_zone(after, kDma32, 258016, 258016, dma32_start);
  checks =
      check_counters(parse_guest_counters(span_before()), parse_guest_counters(after), first, count, 1, true, kDelta);
  return *find(checks, "counters-zone-span");
}

}  // namespace

TEST(GuestCounters, ZoneSpansShrinkOnlyAtTheEdgesTheRemovalTook) {
  const uint64_t half = kCount / 2;
  EXPECT_EQ(parse_guest_counters(span_before()).zones.at({1, "Movable"}).start_pfn, 1048576u);
  // The lower half: the start moves past it, the end stays.
  EXPECT_TRUE(span_check(kFirst, half, half, half, kFirst + half).ok);
  const CaseCheck& stuck = span_check(kFirst, half, kCount, half, kFirst);
  EXPECT_FALSE(stuck.ok);
  EXPECT_NE(stuck.detail.find("node 1 zone Movable spanned pfns 1048576-1179647 before, 1048576-1179647 after "
                              "(removed 1048576-1114111): begins inside the removed range"),
            std::string::npos)
      << stuck.detail;
  EXPECT_FALSE(span_check(kFirst, half, half / 2, half, kFirst + half).ok) << "end moved";
  // The upper half: the end moves back before it.
  EXPECT_TRUE(span_check(kFirst + half, half, half, half, kFirst).ok);
  EXPECT_NE(span_check(kFirst + half, half, kCount, half, kFirst).detail.find("ends inside the removed range"),
            std::string::npos);
  // A hole in the middle: the span stays as it was, shrunk is wrong.
  EXPECT_TRUE(span_check(kFirst + half / 2, half, kCount, half, kFirst).ok);
  EXPECT_FALSE(span_check(kFirst + half / 2, half, half / 2, half, kFirst).ok);
  // Everything: a zone with nothing present spans nothing.
  EXPECT_TRUE(span_check(kFirst, kCount, 0, 0, std::nullopt).ok);
  EXPECT_NE(
      span_check(kFirst, kCount, kCount, 0, std::nullopt).detail.find("has no present pages left but spans 131072"),
      std::string::npos);
  // Another node's zone moved.
  EXPECT_NE(span_check(kFirst, half, half, half, kFirst + half, 8192).detail.find("node 0 zone DMA32"),
            std::string::npos);
  // Readings without start_pfn (older ones) judge only zones left empty, else nothing.
  const GuestCounters plain = parse_guest_counters(data("counters/movable-6.1-before.txt"));
  const auto none = check_counters(plain, plain, kFirst, half, 1, true, kDelta);
  EXPECT_FALSE(find(none, "counters-zone-span")->applicable);
  EXPECT_TRUE(find(judge(data("counters/movable-6.1-after.txt")), "counters-zone-span")->applicable);
  // Not judged after a refusal.
  EXPECT_EQ(find(judge(data("counters/movable-6.1-before.txt"), false), "counters-zone-span"), nullptr);
  EXPECT_THROW(parse_guest_counters(replaced(span_before(), "start_pfn:", "end_pfn:")), ProbeFormatError);
}

// A virtio-mem shrink recorded on Debian 6.1 (virtio-mem-grow-shrink, 2026-12-03): the device's
// 512 MiB "System RAM (virtio_mem)", a child of "virtio0", goes whole; the device's window stays.
TEST(GuestCounters, ARecordedVirtioMemShrinkDropsTheChildAndKeepsTheWindow) {
  const std::string before = data("counters/virtio-mem-6.1-shrink-before.txt"),
                    after = data("counters/virtio-mem-6.1-shrink-after.txt");
  const uint64_t first = 0x100000000ull >> 12, count = 0x20000000ull >> 12;
  auto iomem = [&](const std::string& a) {
    static std::vector<CaseCheck> checks;
    checks = check_counters(parse_guest_counters(before), parse_guest_counters(a), first, count, 1, true, {});
    return *find(checks, "counters-iomem");
  };
  EXPECT_TRUE(iomem(after).ok) << iomem(after).detail;
  EXPECT_EQ(parse_guest_counters(before).iomem.at(13).children.size(), 1u);
  // The child left, the window dropped with it, the window trimmed instead.
  const std::string child = "  100000000-11fffffff : System RAM (virtio_mem)\n";
  EXPECT_FALSE(iomem(before).ok);
  EXPECT_FALSE(iomem(replaced(after, "100000000-13fffffff : virtio0\n", "")).ok);
  const CaseCheck trimmed = iomem(replaced(after, "100000000-13fffffff : virtio0", "120000000-13fffffff : virtio0"));
  EXPECT_FALSE(trimmed.ok);
  EXPECT_NE(trimmed.detail.find("expected but absent: 0x100000000-0x13fffffff virtio0"), std::string::npos)
      << trimmed.detail;
  // Half the child: trimmed, under the same window.
  const std::string half =
      replaced(after, "100000000-13fffffff : virtio0\n", "100000000-13fffffff : virtio0\n" + child);
  const auto halves = check_counters(parse_guest_counters(before),
                                     parse_guest_counters(replaced(half, "100000000-11fffffff", "110000000-11fffffff")),
                                     first, count / 2, 1, true, {});
  EXPECT_TRUE(find(halves, "counters-iomem")->ok) << find(halves, "counters-iomem")->detail;
}

// A 128 MiB DIMM plugged and onlined movable by the guest's policy with memmap_on_memory, recorded
// on Debian 6.1 (2026-12-03, memhp_default_state=online_movable): the block's first 512 pages hold
// its memmap, present grows by 32768 pages, managed and MemTotal by 32256.
TEST(GuestCounters, ARecordedSelfHostingPlugLeavesItsMemmapOutOfManagedPages) {
  const GuestCounters before = parse_guest_counters(data("counters/mom-6.1-plug-before.txt")),
                      after = parse_guest_counters(data("counters/mom-6.1-plug-after.txt"));
  const MemmapSnapshot snap = parse_probe_snapshot(data("counters/mom-6.1-plug-snapshot.txt"));
  const uint64_t first = 0x100000000ull >> 12, count = 0x8000000ull >> 12;
  const uint64_t memmap = memmap_pages_in_online_blocks(snap, after, first, count);
  EXPECT_EQ(memmap, 512u);
  expect_all_pass(check_counters_after_plug(before, after, first, count, 1, memmap), 6);
  // A model that forgot the self-hosted memmap expects 512 pages more.
  const auto forgot = check_counters_after_plug(before, after, first, count, 1, 0);
  EXPECT_NE(find(forgot, "counters-meminfo")->detail.find("short by 512 pages"), std::string::npos)
      << find(forgot, "counters-meminfo")->detail;
  EXPECT_NE(find(forgot, "counters-zones")->detail.find("node 1 managed 0 pages before, 32256 after"),
            std::string::npos)
      << find(forgot, "counters-zones")->detail;
}
