// Progress for the commands that run guests: plain "[rig] ..." lines on stderr, and on a terminal
// a ProgressBoard whose live lines a ticker thread redraws.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "rig/run/progress_board.h"

namespace rig::app {

// How often the live lines are redrawn (their elapsed times move on).

// One "[rig] LINE" on stderr.
void progress_to_stderr(const std::string& line);

// Whether stderr is a terminal that can redraw lines (not TERM=dumb).
bool stderr_is_live_terminal();

// Redraws `board` every Timeouts::progress_tick on a thread of its own while the board is live; the
// destructor (or stop()) ends the thread and closes the board, also when the command throws.
class ProgressTicker {
 public:
  ProgressTicker(ProgressBoard& board, bool live);
  ~ProgressTicker();
  ProgressTicker(const ProgressTicker&) = delete;
  ProgressTicker& operator=(const ProgressTicker&) = delete;
  void stop();

 private:
  ProgressBoard& board_;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace rig::app
