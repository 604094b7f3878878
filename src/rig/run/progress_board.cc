#include "rig/run/progress_board.h"

#include <fmt/format.h>

#include <algorithm>

namespace rig {

ProgressBoard::ProgressBoard(std::ostream& out, bool live, int width)
    : out_(out), live_(live), width_(std::max(40, width)) {}

ProgressBoard::~ProgressBoard() { close(); }

std::string ProgressBoard::live_line(const std::string& label, const std::string& phase, double elapsed_s, int width) {
  std::string p = phase;
  // Progress lines are indented for the plain log; the live line has its own columns.
  p.erase(0, p.find_first_not_of(' ') == std::string::npos ? p.size() : p.find_first_not_of(' '));
  std::string line = fmt::format("  {:>5.0f}s  {}  {}", elapsed_s, label, p);
  if (static_cast<int>(line.size()) > width) line = line.substr(0, static_cast<size_t>(width - 3)) + "...";
  return line;
}

bool ProgressBoard::notable(const std::string& line) {
  for (const char* word :
       {"failed", "MISMATCH", "XPASS", "XFAIL", "reproducer", "error", "refused", "crash", "kernel reported"})
    if (line.find(word) != std::string::npos) return true;
  return false;
}

void ProgressBoard::erase_live() {
  if (!live_ || drawn_ == 0) return;
  out_ << fmt::format("\x1b[{}A\x1b[J", drawn_);
  drawn_ = 0;
}

void ProgressBoard::draw_live() {
  if (!live_) return;
  const auto now = Clock::now();
  for (const auto& id : order_) {
    const Running& r = running_.at(id);
    out_ << live_line(r.label, r.phase, std::chrono::duration<double>(now - r.started).count(), width_) << "\n";
    ++drawn_;
  }
  std::string counts;
  for (const auto& [v, n] : verdicts_) counts += fmt::format(", {} {}", n, v);
  out_ << fmt::format("  {} running, {} done{}", running_.size(), finished_, counts) << "\n";
  ++drawn_;
  if (!status_.empty()) {
    std::optional<double> left;
    if (deadline_) left = std::chrono::duration<double>(*deadline_ - now).count();
    out_ << status_line(status_, left, width_) << "\n";
    ++drawn_;
  }
  out_.flush();
}

void ProgressBoard::handle(const RunEvent& e) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!live_) {
    switch (e.kind) {
      case RunEvent::Kind::Note: out_ << "[rig] " << e.text << "\n"; break;
      case RunEvent::Kind::Started: out_ << fmt::format("[rig] [{}] start: {}\n", e.run_id, e.text); break;
      case RunEvent::Kind::Line:
      case RunEvent::Kind::Finished: out_ << fmt::format("[rig] [{}] {}\n", e.run_id, e.text); break;
    }
    out_.flush();
    return;
  }
  erase_live();
  switch (e.kind) {
    case RunEvent::Kind::Note: out_ << "[rig] " << e.text << "\n"; break;
    case RunEvent::Kind::Started:
      running_[e.run_id] = {e.text, "starting", Clock::now()};
      order_.push_back(e.run_id);
      break;
    case RunEvent::Kind::Line:
      if (auto it = running_.find(e.run_id); it != running_.end()) it->second.phase = e.text;
      if (notable(e.text)) out_ << fmt::format("[rig] [{}] {}\n", e.run_id, e.text);
      break;
    case RunEvent::Kind::Finished:
      running_.erase(e.run_id);
      order_.erase(std::remove(order_.begin(), order_.end(), e.run_id), order_.end());
      ++finished_;
      if (e.result) ++verdicts_[verdict_name(e.result->verdict)];
      out_ << fmt::format("[rig] [{}] {}\n", e.run_id, e.text);
      break;
  }
  draw_live();
}

void ProgressBoard::tick() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!live_ || (running_.empty() && status_.empty())) return;
  erase_live();
  draw_live();
}

std::string ProgressBoard::status_line(const std::string& text, std::optional<double> left_s, int width) {
  std::string line = "  " + text;
  if (left_s) {
    const long s = std::max(0L, static_cast<long>(*left_s + 0.5));
    line += fmt::format(", {}:{:02d}:{:02d} left", s / 3600, s / 60 % 60, s % 60);
  }
  if (static_cast<int>(line.size()) > width) line = line.substr(0, static_cast<size_t>(width - 3)) + "...";
  return line;
}

void ProgressBoard::print(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  erase_live();
  out_ << line << "\n";
  if (!running_.empty() || !status_.empty()) draw_live();
  out_.flush();
}

void ProgressBoard::set_status(const std::string& text, std::optional<Clock::time_point> deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!live_) return;
  erase_live();
  status_ = text;
  deadline_ = deadline;
  draw_live();
}

void ProgressBoard::close() {
  std::lock_guard<std::mutex> lock(mu_);
  erase_live();
  out_.flush();
}

}  // namespace rig
