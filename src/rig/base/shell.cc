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

std::optional<std::vector<std::string>> shell_split(std::string_view line) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'') {
      const size_t end = line.find('\'', i + 1);
      if (end == std::string_view::npos) return std::nullopt;
      cur.append(line.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '"') {
      for (++i;; ++i) {
        if (i >= line.size()) return std::nullopt;
        if (line[i] == '"') break;
        if (line[i] == '\\' && i + 1 < line.size() && (line[i + 1] == '"' || line[i + 1] == '\\')) ++i;
        cur += line[i];
      }
    } else if (c == '\\' && i + 1 < line.size()) {
      cur += line[++i];
    } else {
      cur += c;
    }
  }
  if (in_word) out.push_back(cur);
  return out;
}

}  // namespace rig
