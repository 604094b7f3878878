#include "rig/base/size.h"

#include <cctype>
#include <fmt/format.h>

namespace rig {

std::optional<uint64_t> parse_size(const std::string& text) {
  if (text.empty()) return std::nullopt;
  size_t pos = 0;
  uint64_t value = 0;
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    pos = 2;
  }
  size_t digits = 0;
  for (; pos < text.size(); ++pos, ++digits) {
    char c = text[pos];
    int d;
    if (std::isdigit(static_cast<unsigned char>(c)))
      d = c - '0';
    else if (base == 16 && std::isxdigit(static_cast<unsigned char>(c)))
      d = std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    else
      break;
    if (value > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) return std::nullopt;
    value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  if (digits == 0) return std::nullopt;
  std::string suffix = text.substr(pos);
  uint64_t mult = 1;
  if (base == 16 && !suffix.empty()) return std::nullopt;
  if (suffix.empty() || suffix == "B")
    mult = 1;
  else if (suffix == "K" || suffix == "KiB" || suffix == "k")
    mult = KiB;
  else if (suffix == "M" || suffix == "MiB")
    mult = MiB;
  else if (suffix == "G" || suffix == "GiB")
    mult = GiB;
  else if (suffix == "T" || suffix == "TiB")
    mult = 1024 * GiB;
  else
    return std::nullopt;
  if (value > UINT64_MAX / mult) return std::nullopt;
  return value * mult;
}

std::string format_size(uint64_t bytes) {
  if (bytes != 0 && bytes % GiB == 0) return fmt::format("{}G", bytes / GiB);
  if (bytes != 0 && bytes % MiB == 0) return fmt::format("{}M", bytes / MiB);
  if (bytes != 0 && bytes % KiB == 0) return fmt::format("{}K", bytes / KiB);
  return fmt::format("{}", bytes);
}

std::string format_hex(uint64_t value) { return fmt::format("{:#x}", value); }

}  // namespace rig
