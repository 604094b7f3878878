#include "rig/machine/console_parser.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace rig;

namespace {

std::string recorded(const std::string& name) {
  std::ifstream in(std::string(RIG_TEST_DATA) + "/console/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Feeds in uneven chunks, as the console file grows while the guest runs.
ConsoleParser parse_in_chunks(const std::string& text, size_t chunk) {
  ConsoleParser p;
  for (size_t at = 0; at < text.size(); at += chunk) p.feed(std::string_view(text).substr(at, chunk));
  p.finish();
  return p;
}

}  // namespace

TEST(ConsoleParser, CleanRemovalHasNoFindings) {
  ConsoleParser p = parse_in_chunks(recorded("movable-removed-6.1.log"), 97);
  EXPECT_TRUE(p.findings().empty()) << p.findings().front().headline;
  EXPECT_FALSE(p.panicked());
  EXPECT_GT(p.lines_seen(), 200u);
}

TEST(ConsoleParser, RefusedOfflineDumpsAreNoticesWithTheirPage) {
  for (const char* log : {"busy-refusal-6.1.log", "busy-refusal-6.12.log"}) {
    ConsoleParser p = parse_in_chunks(recorded(log), 4096);
    ASSERT_FALSE(p.findings().empty()) << log;
    for (const auto& f : p.findings()) {
      EXPECT_EQ(f.kind, "page-dump") << log;
      EXPECT_EQ(f.severity, Severity::Notice) << log;
      ASSERT_GE(f.lines.size(), 3u);
      EXPECT_EQ(f.lines.front().rfind("page:", 0), 0u)
          << "context starts at the dump's first line: " << f.lines.front();
      EXPECT_EQ(f.lines.back(), "page dumped because: unmovable page");
    }
    EXPECT_TRUE(p.saw("Offline failed.")) << log;
    EXPECT_FALSE(p.panicked());
  }
}

TEST(ConsoleParser, PanicIsACrashWithItsStack) {
  ConsoleParser p = parse_in_chunks(recorded("panic-no-root-6.1.log"), 13);
  ASSERT_TRUE(p.panicked());
  const ConsoleFinding* panic = nullptr;
  for (const auto& f : p.findings())
    if (f.kind == "panic") panic = &f;
  ASSERT_NE(panic, nullptr);
  EXPECT_EQ(panic->severity, Severity::Crash);
  EXPECT_EQ(panic->headline, "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)");
  EXPECT_EQ(panic->line_no, 325u);
  bool has_trace = false;
  for (const auto& l : panic->lines) has_trace |= l.find("Call Trace:") != std::string::npos;
  EXPECT_TRUE(has_trace);
}

TEST(ConsoleParser, KernelBugsAreFailures) {
  // Lines in the format 6.1 prints (WARN, Bad page state, BUG_ON), as they would arrive.
  const std::string log =
      "[   10.000001] ------------[ cut here ]------------\n"
      "[   10.000002] WARNING: CPU: 1 PID: 57 at mm/bootmem_info.c:40 put_page_bootmem+0x9a/0xb0\n"
      "[   10.000003] Modules linked in: rig_probe(OE)\n"
      "[   10.000004] ---[ end trace 0000000000000000 ]---\n"
      "[   11.000000] BUG: Bad page state in process kworker/u4:1  pfn:11fe00\n"
      "[   11.000001] page:00000000c6a8e1b1 refcount:0 mapcount:0 mapping:0000000000000000 index:0xc pfn:0x11fe00\n"
      "[   11.000002] page dumped because: PAGE_FLAGS_CHECK_AT_FREE flag(s) set\n"
      "[   12.000000] kernel BUG at mm/bootmem_info.c:39!\n"
      "[   12.000001] invalid opcode: 0000 [#1] PREEMPT SMP NOPTI\n";
  ConsoleParser p = parse_in_chunks(log, 7);
  ASSERT_EQ(p.findings().size(), 4u);
  EXPECT_EQ(p.findings()[0].kind, "warning");
  EXPECT_EQ(p.findings()[0].lines.size(), 3u) << "collection stops at the end-of-trace marker";
  EXPECT_EQ(p.findings()[1].kind, "bad-page-state");
  EXPECT_EQ(p.findings()[2].kind, "page-dump");
  EXPECT_EQ(p.findings()[2].severity, Severity::Failure) << "a dump for any reason but 'unmovable page' is a failure";
  EXPECT_EQ(p.findings()[3].kind, "bug");
  for (const auto& f : p.findings()) EXPECT_EQ(f.severity, Severity::Failure);
}

TEST(ConsoleParser, StripsTimestampsOnly) {
  EXPECT_EQ(strip_timestamp("[    3.494806] virtio_console: x"), "virtio_console: x");
  EXPECT_EQ(strip_timestamp("[mem 0x100000000] x"), "[mem 0x100000000] x");
  EXPECT_EQ(strip_timestamp("plain\r"), "plain");
}
