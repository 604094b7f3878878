#include "rig/app/environment.h"

namespace rig::app {

const Environment& environment() {
  static const Environment e = read_environment();
  return e;
}

}  // namespace rig::app
