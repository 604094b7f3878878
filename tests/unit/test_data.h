// Recorded test data (tests/data), read whole; a scratch directory and a shell command line for the
// tests that run generated shell.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace rig_test {

inline std::string data(const std::string& name) {
  std::ifstream in(std::string(RIG_TEST_DATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A private directory under /tmp (mkdtemp), removed with everything in it when it goes; `path`
// is empty when it could not be made.
struct ScratchDir {
  std::string path;
  ScratchDir() {
    char tmpl[] = "/tmp/rig-unit-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    path = made ? made : "";
  }
  ~ScratchDir() {
    if (!path.empty()) (void)std::system(("rm -rf '" + path + "'").c_str());  // mkdtemp's name: no quote in it
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

// Runs a shell command line, returns its stdout; `status` gets the exit status.
inline std::string run_shell(const std::string& cmd, int* status = nullptr) {
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; p && (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int st = p ? ::pclose(p) : -1;
  if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

}  // namespace rig_test
