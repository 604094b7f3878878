// Files put in place whole: written or copied to a temporary name created exclusively in the
// target's directory (mkstemp: never an existing file or a planted symlink), then renamed over
// the target. Works across filesystems (no rename or copy_file_range between them) and leaves no
// partial file behind on any error: the target is the old file or the whole new one.
#pragma once

#include <string>
#include <sys/types.h>

namespace rig {

// Copies `from` to `to`, with the permission bits of `from` (Debian's kernels are 0600, and stay
// so). InfraError naming the file and errno's text on failure.
void copy_file_whole(const std::string& from, const std::string& to);

// Writes `text` to `to` with `mode`. InfraError on failure.
void write_file_whole(const std::string& to, const std::string& text, mode_t mode = 0644);

}  // namespace rig
