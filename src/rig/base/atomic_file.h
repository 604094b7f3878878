// The one way the rig writes a file a user relies on (results, reports, result.json, scenario
// files): a temporary file created exclusively beside the target (mkstemp: a new name, never a
// file or symlink someone planted), every write, fchmod, fsync, close and rename checked, then
// renamed over the target. A reader sees the old file or the new one, never half of one; a
// symlink at the target's name is replaced, never followed; on any failure the temporary file is
// removed and the target left as it was.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "rig/base/errors.h"

namespace rig {

// A file could not be written. One line: the path and why (strerror).
class FileWriteError : public InfraError {
 public:
  using InfraError::InfraError;
};

// Writes `text` to `path` with permissions `mode` as above. Throws FileWriteError.
void write_file_atomically(const std::string& path, const std::string& text, mode_t mode = 0644);

// Copies the regular file `from` to `to` as above, with the permission bits of `from` (Debian's
// kernels are 0600, and stay so): onto any filesystem (no rename across them), no partial file.
// InfraError when `from` cannot be read or is not a regular file (a FIFO is refused, not waited
// on); FileWriteError when `to` cannot be written.
void copy_file_atomically(const std::string& from, const std::string& to);

// The mechanism of both: `fill` writes the temporary file's descriptor and returns "" or why it
// could not; then mode, fsync, close and rename, each checked.
void put_file_atomically(const std::string& path, mode_t mode, const std::function<std::string(int fd)>& fill);

// Appends `text` to the log file `path` (a bisect log the user names, perhaps in a shared
// directory): created 0644 if absent; never through a symlink (O_NOFOLLOW), and only to a regular
// file owned by the rig's user. Throws FileWriteError with the reason.
void append_to_file(const std::string& path, const std::string& text);

}  // namespace rig
