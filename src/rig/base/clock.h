// One clock for every deadline in the rig.
#pragma once
#include <chrono>

namespace rig {
using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

inline Deadline deadline_in(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}
inline double seconds_left(Deadline d) { return std::chrono::duration<double>(d - Clock::now()).count(); }
inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace rig
