// Scenario text with one piece replaced, and what `rig check` says of it: for the validation tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "rig/base/errors.h"
#include "rig/scenario/scenario_file.h"

namespace rig_test {

// `text` with the first occurrence of `from` replaced by `to`: the one-line error, or "(accepted)".
inline std::string scenario_error(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  try {
    rig::parse_scenario(text, "x.toml");
  } catch (const rig::UsageError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace rig_test
