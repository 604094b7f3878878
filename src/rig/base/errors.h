// Error kinds that cross module boundaries. Outcomes a test expects (a refused unplug, a failed
// check) are values, never exceptions; these are for what stops a run: bad input before boot, and
// infrastructure that did not work. Each maps to one exit status of the CLI.
#pragma once

#include <stdexcept>
#include <string>

namespace rig {

// The user's input is wrong (command line, scenario file). Exit status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The rig or the host failed (QEMU missing, socket died, guest never booted). Exit status 3.
class InfraError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace rig
