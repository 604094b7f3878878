// QMP framing and message classification on arbitrary bytes: never an exception.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "rig/machine/qmp/qmp_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  rig::LineBuffer b(256 + data[0] * 16u);
  const size_t chunk = 1 + data[0] % 32;
  for (size_t at = 1; at < size; at += chunk) {
    b.feed(reinterpret_cast<const char*>(data) + at, std::min(chunk, size - at));
    while (auto line = b.pop()) {
      const rig::json j = rig::json::parse(*line, nullptr, false);
      if (!j.is_discarded()) (void)rig::classify_qmp_message(j);
    }
  }
  return 0;
}
