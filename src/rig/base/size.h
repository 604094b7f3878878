// Byte sizes as people write them in scenario files ("512M", "1G", "0x100000000").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace rig {

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;
constexpr uint64_t GiB = 1024 * MiB;

// Parses "512M", "512MiB", "1G", "4096", "0x100000000". Returns nullopt on anything else,
// including overflow, so callers can name the offending key in their own error.
std::optional<uint64_t> parse_size(const std::string& text);

// The shortest exact spelling the kernel's memparse() and QEMU accept: "512M", "1G", "4096".
std::string format_size(uint64_t bytes);

std::string format_hex(uint64_t value);

}  // namespace rig
