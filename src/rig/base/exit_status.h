// The rig's exit statuses and the one rule that picks among them (README "Exit status").
#pragma once

namespace rig {

constexpr int kExitPassed = 0;  // all passed (xfail and xpass included)
constexpr int kExitFailed = 1;  // a check failed (a kernel bug shown)
constexpr int kExitUsage = 2;   // usage or scenario error: nothing booted
constexpr int kExitInfra = 3;   // infrastructure error: QEMU missing, a guest did not boot or was lost

// The status of a command that ran guests: an infrastructure error wins over a failure (its
// runs tested nothing, so a pass elsewhere would say too much), a failure over a pass.
constexpr int exit_status(bool failed, bool infra_error) {
  return infra_error ? kExitInfra : failed ? kExitFailed : kExitPassed;
}

}  // namespace rig
