#include "integration/harness.h"

#include <stdlib.h>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <boost/process.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "rig/base/paths.h"

namespace bp = boost::process;
namespace fs = boost::filesystem;

namespace rig_it {

CommandResult run_command(const std::vector<std::string>& argv, double timeout_s) {
  CommandResult r;
  const std::string dir = fresh_dir("cmd");
  bp::child c(bp::exe = argv[0], bp::args = std::vector<std::string>(argv.begin() + 1, argv.end()),
              bp::std_out > dir + "/out", bp::std_err > dir + "/err", bp::std_in < bp::null);
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  while (true) {
    pid_t p = ::waitpid(c.id(), &status, WNOHANG);
    if (p == c.id()) break;
    if (std::chrono::steady_clock::now() > until) {
      ::kill(c.id(), SIGINT);
      ::waitpid(c.id(), &status, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  c.detach();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(dir + "/out");
  r.err = read_file(dir + "/err");
  return r;
}

struct BackgroundCommand::Impl {
  bp::child child;
  bool reaped = false;
  int status = 0;
  std::string dir;
};

BackgroundCommand::BackgroundCommand(const std::vector<std::string>& argv) : impl_(std::make_unique<Impl>()) {
  const std::string dir = fresh_dir("bg");
  impl_->dir = dir;
  impl_->child = bp::child(bp::exe = argv[0], bp::args = std::vector<std::string>(argv.begin() + 1, argv.end()),
                           bp::std_out > dir + "/out", bp::std_err > dir + "/err", bp::std_in < bp::null);
}

BackgroundCommand::~BackgroundCommand() {
  if (!impl_->reaped) {
    ::kill(impl_->child.id(), SIGKILL);
    wait(10);
  }
  impl_->child.detach();
}

void BackgroundCommand::signal(int sig) { ::kill(impl_->child.id(), sig); }

bool BackgroundCommand::wait(double timeout_s) {
  return wait_for(
      [&] {
        if (impl_->reaped) return true;
        if (::waitpid(impl_->child.id(), &impl_->status, WNOHANG) == impl_->child.id()) impl_->reaped = true;
        return impl_->reaped;
      },
      timeout_s);
}

int BackgroundCommand::exit_code() const {
  if (!impl_->reaped) return -1;
  return WIFEXITED(impl_->status) ? WEXITSTATUS(impl_->status) : 128 + WTERMSIG(impl_->status);
}

std::string BackgroundCommand::out() const { return read_file(impl_->dir + "/out"); }
std::string BackgroundCommand::err() const { return read_file(impl_->dir + "/err"); }

namespace {
// Never destroyed: the exit handler that removes the folder runs after static destructors.
std::string& fresh_dir_base() {
  static std::string* base = new std::string;
  return *base;
}
}  // namespace

std::string fresh_dir(const std::string& name) {
  // One new directory per test process (mkdtemp): a folder left by an earlier process whose pid
  // was the same would hand its old files to this one (Boost.Process does not truncate an output
  // file it redirects into, so a command's stdout ended with an older command's).
  static const std::string base = [] {
    std::string tmpl = fs::temp_directory_path().string() + "/rig-it-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
    // Gone at exit unless a test failed (its commands' output is then worth reading): a run
    // folder with a guest's artifacts is about a gigabyte, and hundreds of them filled the disk.
    std::atexit([] {
      if (::testing::UnitTest::GetInstance()->failed_test_count() == 0 && !std::getenv("RIG_IT_KEEP")) {
        boost::system::error_code ec;
        fs::remove_all(fresh_dir_base(), ec);
      }
    });
    fresh_dir_base() = tmpl;
    return tmpl;
  }();
  static int n = 0;
  std::string dir = base + "/" + name + "-" + std::to_string(n++);
  fs::create_directories(dir);
  return dir;
}

std::string read_file(const std::string& path) { return rig::read_text_file(path); }

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

bool path_exists(const std::string& path) { return fs::exists(path); }

bool wait_for(const std::function<bool()>& cond, double timeout_s) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

std::vector<int> qemu_pids_mentioning(const std::string& needle) {
  std::vector<int> pids;
  for (fs::directory_iterator it("/proc"), end; it != end; ++it) {
    const std::string name = it->path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = read_file(it->path().string() + "/cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.rfind("qemu-system", 0) == 0 || cmd.find("/qemu-system") != std::string::npos)
      if (cmd.find(needle) != std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

}  // namespace rig_it
