// Text for one-line error messages.
#pragma once

#include <cstddef>
#include <ctime>
#include <string>

namespace rig {

// `text` fit for a one-line message: control characters escaped (\xNN), and when longer than
// `max_chars` its middle cut (the start names the value, the end often says what is wrong).
std::string one_line(const std::string& text, size_t max_chars);

// `text` fit for XML or HTML text and attribute values: & < > " ' as entities, control
// characters other than newline and tab as a space.
std::string xml_escape(const std::string& text);

// A moment as ISO 8601 in UTC, to the second: "2026-12-03T17:05:12Z".
std::string utc_iso8601(std::time_t t);

}  // namespace rig
