// Where the rig finds its own files (scenarios, image recipe) and keeps its caches.
#pragma once
#include <sys/types.h>

#include <string>

#include "rig/base/environment.h"

namespace rig {
// RIG_HOME if set, else the source tree the binary was built from.
std::string rig_home(const Environment& env);
// Pure: RIG_CACHE_DIR, else $XDG_CACHE_HOME/rig, else HOME's (or the passwd entry's) .cache/rig,
// else /tmp/rig-cache-UID: never a directory shared between users.
std::string cache_dir_path(const Environment& env, uid_t uid);
// cache_dir_path for this user, created on demand (mode 0700). Throws UsageError when it is not
// the user's alone (file_trust.h: someone else's, or writable by others, or under such a
// directory), InfraError when it cannot be created.
std::string cache_dir(const Environment& env);
// Creates `dir` and its missing parents with mode 0700 (existing ones are left as they are, never
// followed into and changed), then returns why the user cannot trust it as its own
// (file_trust.h dir_distrust, DirUse::Private), "" when it can. Throws InfraError when a
// directory cannot be created.
std::string make_own_dir(const std::string& dir);
std::string read_text_file(const std::string& path);  // a regular file (at most 1 GiB); empty when unreadable
// FNV-1a 64 over bytes, as 16 hex digits: a cache key, not a security hash.
std::string content_hash(const std::string& bytes);
// Makes a directory with mode 0700 (and its parents). Throws UsageError when it is another
// user's, or a symbolic link of another user's (neither followed nor changed), InfraError when it
// cannot be made.
void make_private_dir(const std::string& path);
}  // namespace rig
