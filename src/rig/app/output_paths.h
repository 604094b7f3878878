// Checks on the files a command will write, before anything runs.
#pragma once

#include <string>

namespace rig::app {

// Throws UsageError "OPTION FILE: directory D does not exist" when FILE's folder is missing; ""
// and "-" (stdout) pass.
void check_parent_dir(const std::string& option, const std::string& file);

}  // namespace rig::app
