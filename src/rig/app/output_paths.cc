#include "rig/app/output_paths.h"

#include <fmt/format.h>

#include <boost/filesystem.hpp>

#include "rig/base/errors.h"

namespace fs = boost::filesystem;

namespace rig::app {

void check_parent_dir(const std::string& option, const std::string& file) {
  if (file.empty() || file == "-") return;
  boost::system::error_code ec;
  if (fs::is_directory(file, ec)) throw UsageError(fmt::format("{} {}: is a directory, not a file", option, file));
  const fs::path parent = fs::absolute(file).parent_path();
  if (!fs::is_directory(parent))
    throw UsageError(fmt::format("{} {}: directory {} does not exist", option, file, parent.string()));
}

}  // namespace rig::app
