// JSON from files someone else may have written (results, result.json): nesting bounded before
// the parser sees it (a file nested 100,000 deep would otherwise exhaust the stack), and a parse
// error as one line without the file's content.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace rig {

// Deeper than any file the rig writes (results nest 6 levels).
constexpr size_t kMaxJsonDepth = 64;

// The deepest nesting of arrays and objects in `text` (brackets inside strings not counted),
// scanning no further than one past `limit`. Pure, iterative.
size_t json_depth(const std::string& text, size_t limit);

// Parses `text`; `name` names it in messages. Throws UsageError: nested deeper than
// kMaxJsonDepth, or not JSON (with the parser's position, never the content).
nlohmann::json parse_json_text(const std::string& text, const std::string& name);

}  // namespace rig
