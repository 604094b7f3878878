#include "rig/host/host_command.h"

#include <boost/process.hpp>
#include <iterator>

namespace bp = boost::process;

namespace rig {

int run_to_log(const std::vector<std::string>& argv, const std::string& log) {
  return bp::system(bp::exe = argv[0], bp::args = std::vector<std::string>(argv.begin() + 1, argv.end()),
                    (bp::std_out & bp::std_err) > log, bp::std_in < bp::null);
}

std::string run_capture(const std::vector<std::string>& argv) {
  bp::ipstream out;
  bp::child c(bp::search_path(argv[0]), std::vector<std::string>(argv.begin() + 1, argv.end()), bp::std_out > out,
              bp::std_err > bp::null, bp::std_in < bp::null);
  std::string text((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  c.wait();
  return text;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace rig
