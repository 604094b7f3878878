// Builds a guest kernel from source for `rig run --kernel DIR`: patches applied in order, the
// rig's Kconfig fragments merged, out-of-tree build with ccache, cached by its inputs.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "rig/base/environment.h"
#include "rig/base/errors.h"

namespace rig {

struct KernelBuildRequest {
  std::string src;                     // tree, tarball, or debian-6.1 / debian-6.12 (linux-source-*)
  std::vector<std::string> patches;    // files, directories (series file or *.patch in order)
  std::vector<std::string> fragments;  // merged after guest-kernel-config/base.config
  std::string out;                     // kernel directory; default: in the cache, by inputs
  Environment env;                     // where the cache and the rig's own files are
};

// A fragment's settings: option -> value; "# CONFIG_X is not set" is "n".
using KconfigValues = std::map<std::string, std::string>;
KconfigValues parse_kconfig(const std::string& text);

// An option a --fragment sets differently from base.config (or from an earlier fragment):
// merge_config.sh lets the later file win, so the build uses `to`.
struct ConfigChange {
  std::string fragment;  // as given on the command line
  std::string option;    // CONFIG_MEMCG
  std::string from, to;  // "y" -> "n"
};
std::string describe(const ConfigChange& c);  // "fragment F: CONFIG_MEMCG=y -> n"

// Fragments in merge order (name as given, settings). Options base.config does not set are not
// changes; a later fragment changing an earlier one's value is.
std::vector<ConfigChange> fragment_changes(const KconfigValues& base,
                                           const std::vector<std::pair<std::string, KconfigValues>>& fragments);

// The options of required.list (comments and blank lines skipped).
std::vector<std::string> parse_required_list(const std::string& text);

// One line per required option that the last fragment setting it does not leave =y:
// "fragment F turns off CONFIG_X, which the rig needs (guest-kernel-config/required.list)".
std::vector<std::string> required_conflicts(const std::vector<std::string>& required,
                                            const std::vector<std::pair<std::string, KconfigValues>>& fragments);

struct KernelBuildResult {
  std::string dir;  // what --kernel takes: holds arch/x86/boot/bzImage and Module.symvers
  bool cached = false;
  double seconds = 0;
  std::vector<ConfigChange> changes;  // what the fragments changed relative to base.config
};

// The kernel build itself failed (build-kernel.sh exited non-zero, not for bad input): its exit
// status and everything it and make printed, so a caller can tell the kernel's source from the
// host (bisect_verdict.h diagnose_build_failure).
class KernelBuildFailed : public InfraError {
 public:
  KernelBuildFailed(const std::string& what, int exit_code, std::string log)
      : InfraError(what), exit_code_(exit_code), log_(std::move(log)) {}
  int exit_code() const { return exit_code_; }
  const std::string& log() const { return log_; }

 private:
  int exit_code_;
  std::string log_;
};

// Throws UsageError for bad input (missing source, a patch that does not apply, a fragment that
// turns off an option the rig needs), KernelBuildFailed when the build fails and InfraError when
// the host does (unpacking). Reports each ConfigChange through `progress` (describe()) before
// building. The build directory gets rig-kernel.json: inputs and config changes. A finished
// build is reused only when it is the user's alone (file_trust.h); one that is not is a
// UsageError, never built into.
KernelBuildResult build_kernel(const KernelBuildRequest& req, const std::function<void(const std::string&)>& progress);

// The patch files a --patch argument stands for, in order (pure file-system lookup).
std::vector<std::string> expand_patch_argument(const std::string& arg);

}  // namespace rig
