// The one way the rig reads a file someone else may have made (scenario files, results JSON,
// probe snapshots, a run folder's artifacts): regular files only (a FIFO, a device, a socket or a
// directory is refused without blocking on it), at most `max_bytes` (a file that is larger, or
// grows past it while read, is refused), and a refusal says why in one line without quoting the
// file's content. Inside a run folder, names are resolved relative to the folder's descriptor
// without following symlinks (O_NOFOLLOW), so nothing outside the folder is read.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "rig/base/errors.h"

namespace rig {

// A file that is not to be read, or could not be. A usage error: the input is wrong (exit 2).
class FileReadError : public UsageError {
 public:
  using UsageError::UsageError;
};

constexpr size_t kMaxScenarioFileBytes = size_t{1} << 20;  // 1 MiB: shipped ones are under 4 KiB
constexpr size_t kMaxArtifactBytes = size_t{64} << 20;     // 64 MiB: a probe snapshot is under 2 MiB

// Reads the regular file `path` (a symlink the user named is followed to a regular file; anything
// else is refused). `what` names it in messages ("scenario file"). Throws FileReadError.
std::string read_regular_file(const std::string& path, size_t max_bytes, const char* what);

// A directory opened for reading files relative to it. Movable, closes on destruction.
class DirReader {
 public:
  // Throws FileReadError when `path` is not a directory that can be opened.
  explicit DirReader(const std::string& path);
  ~DirReader();
  DirReader(DirReader&& other) noexcept;
  DirReader& operator=(DirReader&&) = delete;
  DirReader(const DirReader&) = delete;
  DirReader& operator=(const DirReader&) = delete;

  // The file `name` (one path component: no '/', not "." or "..") of the directory, if it is a
  // regular file (not a symlink, FIFO, device, socket or directory) of at most `max_bytes`;
  // otherwise nullopt and `why` (when given) says what it is, never what is in it.
  std::optional<std::string> read(const std::string& name, size_t max_bytes, std::string* why = nullptr) const;

  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

}  // namespace rig
