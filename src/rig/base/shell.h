// Shell words: the one quoting function every shell line the rig writes goes through
// (run.sh of a reproducer, qemu-command.sh, QEMU's exec: migration URIs).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rig {

// `word` as one POSIX shell word that stands for exactly its bytes: wrapped in single quotes,
// each ' written as '\'' (newlines, $, `, \ and " included; nothing inside expands). Throws
// UsageError for a NUL byte, which no shell word (or argv entry) can hold.
std::string shell_quote(std::string_view word);

// `argv` as one shell command line: each word left bare when it holds only bytes no shell treats
// specially ([A-Za-z0-9] and -_,./:@+%, '=' except in the first word, where it would make an
// assignment), else shell_quote()d. An empty word is ''.
std::string shell_join(const std::vector<std::string>& argv);

// The inverse of shell_join() for what it writes, and what a person types alike: words split at
// unquoted blanks; '...' literal; \ outside quotes escapes the next byte; "..." keeps its bytes
// but \" and \\ (no expansion is done). nullopt for an unterminated quote.
std::optional<std::vector<std::string>> shell_split(std::string_view line);

}  // namespace rig
