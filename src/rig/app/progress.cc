#include "rig/app/progress.h"

#include "rig/base/clock.h"
#include "rig/base/timeouts.h"
#include "rig/app/environment.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

namespace rig::app {

void progress_to_stderr(const std::string& line) { std::cerr << "[rig] " << line << std::endl; }

bool stderr_is_live_terminal() {
  const std::string& term = environment().term;
  return ::isatty(2) && !term.empty() && term != "dumb";
}

ProgressTicker::ProgressTicker(ProgressBoard& board, bool live) : board_(board) {
  if (!live) return;  // ProgressBoard::tick() draws nothing elsewhere
  thread_ = std::thread([this] {
    while (!finished_) {
      pause_for(default_timeouts().progress_tick);
      board_.tick();
    }
  });
}

ProgressTicker::~ProgressTicker() { stop(); }

void ProgressTicker::stop() {
  finished_ = true;
  if (thread_.joinable()) thread_.join();
  board_.close();
}

}  // namespace rig::app
