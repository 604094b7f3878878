// Where the rig finds its own files (scenarios, image recipe) and keeps its caches.
#pragma once
#include <string>

namespace rig {
// RIG_HOME if set, else the source tree the binary was built from.
std::string rig_home();
// RIG_CACHE_DIR, else $XDG_CACHE_HOME/rig, else ~/.cache/rig; created on demand.
std::string cache_dir();
std::string read_text_file(const std::string& path);  // empty when unreadable
// FNV-1a 64 over bytes, as 16 hex digits: a cache key, not a security hash.
std::string content_hash(const std::string& bytes);
// Makes a directory with mode 0700 (and its parents). Throws InfraError.
void make_private_dir(const std::string& path);
}  // namespace rig
