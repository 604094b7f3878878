// How a command ends: what it returns, or what it throws mapped to the exit status
// (base/exit_status.h) with one line on stderr.
#pragma once

#include <functional>
#include <ostream>

namespace rig::app {

// Once at start: the signal handlers that take QEMU children along with the rig.
void prepare_process();

// `command()`'s status; a UsageError is "rig: error: ..." and 2, an InfraError "rig:
// infrastructure error: ..." and 3, any other exception "rig: internal error: ..." and 3.
int call_command(const std::function<int()>& command, std::ostream& err);

}  // namespace rig::app
