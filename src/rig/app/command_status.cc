#include "rig/app/command_status.h"

#include <exception>

#include "rig/base/errors.h"
#include "rig/base/exit_status.h"
#include "rig/host/qemu_process.h"

namespace rig::app {

void prepare_process() { install_child_reaper_signal_handlers(); }

int call_command(const std::function<int()>& command, std::ostream& err) {
  try {
    return command();
  } catch (const UsageError& e) {
    err << "rig: error: " << e.what() << std::endl;
    return kExitUsage;
  } catch (const InfraError& e) {
    err << "rig: infrastructure error: " << e.what() << std::endl;
    return kExitInfra;
  } catch (const std::exception& e) {
    err << "rig: internal error: " << e.what() << std::endl;
    return kExitInfra;
  }
}

}  // namespace rig::app
