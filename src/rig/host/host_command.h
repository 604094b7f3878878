// Host commands the rig runs to completion (image and kernel builds, tar, patch), with their
// output in a log file that error messages point to.
#pragma once

#include <string>
#include <vector>

namespace rig {

// Runs argv (argv[0] an absolute path), stdout and stderr to `log`, no stdin; returns the exit
// status.
int run_to_log(const std::vector<std::string>& argv, const std::string& log);

// Runs argv[0] (searched in PATH) and returns its standard output; stderr is dropped.
std::string run_capture(const std::vector<std::string>& argv);
// The first line of run_capture(argv), without its newline.
std::string first_line(const std::string& text);

}  // namespace rig
