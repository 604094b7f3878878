// Helpers for integration tests: run the rig binary, find QEMU processes, temporary dirs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rig_it {

struct CommandResult {
  int exit_code = -1;
  bool timed_out = false;
  std::string out, err;
};

// Runs a command to completion (killed after `timeout_s`), capturing stdout and stderr.
CommandResult run_command(const std::vector<std::string>& argv, double timeout_s);

class BackgroundCommand {
 public:
  explicit BackgroundCommand(const std::vector<std::string>& argv);
  ~BackgroundCommand();
  void signal(int sig);
  bool wait(double timeout_s);
  // The exit status once wait() returned true (128 + signal when killed), -1 before.
  int exit_code() const;
  std::string out() const;
  std::string err() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string fresh_dir(const std::string& name);
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);
bool path_exists(const std::string& path);
bool wait_for(const std::function<bool()>& cond, double timeout_s);
// PIDs of qemu-system processes whose command line contains `needle`.
std::vector<int> qemu_pids_mentioning(const std::string& needle);

}  // namespace rig_it
