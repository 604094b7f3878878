#include "rig/base/json_text.h"

#include <fmt/format.h>

#include "rig/base/errors.h"
#include "rig/base/text.h"

namespace rig {

size_t json_depth(const std::string& text, size_t limit) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

nlohmann::json parse_json_text(const std::string& text, const std::string& name) {
  if (json_depth(text, kMaxJsonDepth) > kMaxJsonDepth)
    throw UsageError(
        fmt::format("{}: not a rig file: arrays or objects nested deeper than {}", one_line(name, 300), kMaxJsonDepth));
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // nlohmann's parse_error names the byte position and what it expected, and quotes the last
    // token read: keep only the words before that quote.
    std::string what = e.what();
    if (auto quote = what.find("last read: '"); quote != std::string::npos) what = what.substr(0, quote) + "...";
    throw UsageError(fmt::format("{}: not JSON: {}", one_line(name, 300), one_line(what, 200)));
  }
}

}  // namespace rig
