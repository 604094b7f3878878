// One clock for every deadline in the rig. The durations come from the timeouts table
// (base/timeouts.h); these helpers take them as parameters.
#pragma once
#include <chrono>
#include <thread>

namespace rig {
using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// `seconds` as the clock's duration.
inline Clock::duration as_duration(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}
inline Deadline deadline_in(double seconds) { return Clock::now() + as_duration(seconds); }
// Pauses the calling thread for `seconds`.
inline void pause_for(double seconds) { std::this_thread::sleep_for(as_duration(seconds)); }
inline double seconds_left(Deadline d) { return std::chrono::duration<double>(d - Clock::now()).count(); }
inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace rig
