// The console parser on arbitrary bytes, fed in chunks whose sizes come from the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "rig/machine/console_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  rig::ConsoleParser p;
  for (size_t at = 0; at < text.size(); at += chunk) p.feed(text.substr(at, chunk));
  p.finish();
  (void)p.panicked();
  (void)p.saw("BUG");
  return 0;
}
