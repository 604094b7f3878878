#include "rig/base/size.h"

#include <gtest/gtest.h>

using namespace rig;

TEST(Size, ParsesSuffixesAndHex) {
  EXPECT_EQ(parse_size("512M"), 512 * MiB);
  EXPECT_EQ(parse_size("1G"), GiB);
  EXPECT_EQ(parse_size("128MiB"), 128 * MiB);
  EXPECT_EQ(parse_size("0x100000000"), 4 * GiB);
  EXPECT_EQ(parse_size("4096"), 4096u);
}

TEST(Size, RejectsGarbageAndOverflow) {
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("M"));
  EXPECT_FALSE(parse_size("12X"));
  EXPECT_FALSE(parse_size("0x10M"));
  EXPECT_FALSE(parse_size("99999999999999999999"));
  EXPECT_FALSE(parse_size("20000000000T"));
}

TEST(Size, FormatsShortestExactUnit) {
  EXPECT_EQ(format_size(512 * MiB), "512M");
  EXPECT_EQ(format_size(8 * GiB), "8G");
  EXPECT_EQ(format_size(1536 * MiB), "1536M");
  EXPECT_EQ(format_size(100), "100");
}
