// A check of a list by name, for tests: a missing one is a test failure, never a crash.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rig/spec/case_checks.h"

namespace rig_test {

inline const rig::CaseCheck& named(const std::vector<rig::CaseCheck>& checks, const std::string& name) {
  for (const auto& c : checks)
    if (c.name == name) return c;
  ADD_FAILURE() << "no check " << name;
  static const rig::CaseCheck none;
  return none;
}

}  // namespace rig_test
