// Scenario files: accepted, or a UsageError with a one-line message. Anything else aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "rig/base/errors.h"
#include "rig/scenario/scenario_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    rig::parse_scenario(text, "fuzz.toml");
  } catch (const rig::UsageError& e) {
    for (const char* p = e.what(); *p; ++p)
      if (static_cast<unsigned char>(*p) < 0x20) std::abort();  // one line, no control characters
  }
  return 0;
}
