// Whether this user can trust a directory or file on a host shared with other local users: that
// nobody else can have written it, replaced it, or planted it there (docs/security.md).
#pragma once

#include <sys/types.h>

#include <string>

namespace rig {

enum class DirUse {
  Private,  // the user's own (a cache): owned by the user, writable by nobody else
  Shared,   // shared by every user's rig (the host slots): owned by root or the user, and not
            // writable by others unless sticky (like /tmp)
};

// Why `uid` should not trust the directory `path`, as "PATH: reason", or "" when it can: `path`
// must be a directory that satisfies `use`; every directory from / down to it (after symbolic
// links) owned by root or `uid` and not writable by group or others unless sticky; every symbolic
// link on the way owned by root or `uid`.
std::string dir_distrust(const std::string& path, uid_t uid, DirUse use);

// Why `uid` should not trust `path`, an entry of a directory it trusts, as "PATH: reason", or "":
// not a symbolic link, owned by `uid`, not writable by group or others.
std::string entry_distrust(const std::string& path, uid_t uid);

// Whether the cached file `path`, in a directory the user trusts as its own, is there to be used:
// false when it is missing; when it is not the user's alone (entry_distrust) it is removed (nobody
// else can put it back into the user's directory), `note` gets a clause saying so, and false.
// Throws InfraError when it cannot be removed.
bool usable_cached_file(const std::string& path, std::string* note);

// Takes write permission for group and others away from `path`, a file or directory of the
// user's, without following a symbolic link; so what the rig wrote under a umask such as 002 stays
// trusted (entry_distrust). Does nothing to anything else.
void keep_to_myself(const std::string& path);

// "uid 65534 (nobody)"
std::string describe_uid(uid_t uid);

}  // namespace rig
