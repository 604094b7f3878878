#include "rig/base/shell.h"

#include "rig/base/errors.h"

namespace rig {

std::string shell_quote(std::string_view word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\0') throw UsageError("a shell word cannot hold a NUL byte");
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string shell_join(const std::vector<std::string>& argv) {
  // Bytes no shell treats specially. '=' is plain text in an argument, but a first word `A=B`
  // is an assignment.
  static const std::string kBare = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_,./:@+%";
  static const std::string kBareArg = kBare + "=";
  std::string out;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    const bool bare = !arg.empty() && arg.find_first_not_of(i == 0 ? kBare : kBareArg) == std::string::npos;
    out += (i == 0 ? "" : " ") + (bare ? arg : shell_quote(arg));
  }
  return out;
}

}  // namespace rig
