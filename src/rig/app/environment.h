// The process environment, read once at the edge (the first call) and passed from here into the
// library as a plain value: nothing below app/ reads the environment (base/environment.h).
#pragma once

#include "rig/base/environment.h"

namespace rig::app {

const Environment& environment();

}  // namespace rig::app
