// Progress for people. On a terminal: one live line per running guest (what runs, its latest
// phase, elapsed time) redrawn in place, with finished runs and notable lines printed above it.
// Elsewhere (CI logs): one plain line per event, prefixed with the run.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "rig/run/suite_runner.h"

namespace rig {

class ProgressBoard {
 public:
  using Clock = std::chrono::steady_clock;
  ProgressBoard(std::ostream& out, bool live, int width = 120);
  ~ProgressBoard();

  void handle(const RunEvent& e);
  // Redraws the live lines (elapsed times move on); call about once a second.
  void tick();
  // Removes the live lines (before the final table).
  void close();
  // A line of its own: above the live lines on a terminal, as is elsewhere.
  void print(const std::string& line);
  // On a terminal, the last live line: `text` and, with a deadline, the time left to it
  // (rig explore: runs done, findings, budget left). Ignored elsewhere.
  void set_status(const std::string& text, std::optional<Clock::time_point> deadline = std::nullopt);
  // Pure: the status line.
  static std::string status_line(const std::string& text, std::optional<double> left_s, int width);

  // Pure: a live line, cut to `width`.
  static std::string live_line(const std::string& label, const std::string& phase, double elapsed_s, int width);
  // Whether a progress line is worth keeping above the live lines on a terminal.
  static bool notable(const std::string& line);

 private:
  struct Running {
    std::string label, phase;
    Clock::time_point started;
  };
  void erase_live();
  void draw_live();

  std::mutex mu_;
  std::ostream& out_;
  bool live_;
  int width_;
  std::vector<std::string> order_;  // run ids, in start order
  std::map<std::string, Running> running_;
  size_t drawn_ = 0;  // live lines on screen
  int finished_ = 0;
  std::map<std::string, int> verdicts_;
  std::string status_;
  std::optional<Clock::time_point> deadline_;
};

}  // namespace rig
