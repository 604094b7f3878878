// virtio-mem, phase 1 (docs/virtio-mem.md): the shipped grow-and-shrink scenario on Debian 6.1
// under QEMU. The guest loads virtio_mem from the initramfs, onlines what the device adds
// (memhp_default_state=online_movable) and gives it all back.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "integration/harness.h"

using nlohmann::json;
using namespace rig_it;

TEST(VirtioMem, GrowAndShrinkOnDebian61) {
  const std::string dir = fresh_dir("virtio-mem-grow-shrink");
  CommandResult r =
      run_command({RIG_BINARY, "run", std::string(RIG_SOURCE_DIR) + "/rig/scenarios/virtio-mem-grow-shrink.toml",
                   "--kernel", "debian-6.1", "--json", dir + "/o.json", "--artifacts", dir + "/runs"},
                  1200);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  json j = json::parse(read_file(dir + "/o.json"));
  ASSERT_EQ(j["results"].size(), 1u);
  const json& res = j["results"][0];
  EXPECT_EQ(res["verdict"], "pass") << res.value("reason", std::string());
  ASSERT_EQ(res["steps"].size(), 2u);
  EXPECT_EQ(res["steps"][0]["action"], "resize");
  EXPECT_EQ(res["steps"][0]["target"], "vm0");
  EXPECT_EQ(res["steps"][0]["outcome"], "reached");
  EXPECT_EQ(res["steps"][0]["detail"].get<std::string>().rfind("size 512M as requested (was 0)", 0), 0u)
      << res["steps"][0]["detail"];
  EXPECT_EQ(res["steps"][1]["outcome"], "reached");
  EXPECT_EQ(res["steps"][1]["detail"].get<std::string>().rfind("size 0 as requested (was 512M)", 0), 0u)
      << res["steps"][1]["detail"];
}
