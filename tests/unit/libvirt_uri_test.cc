// libvirt URIs: the transports the rig supports pass; a URI that would make libvirt run a
// program, open another socket, read a key or run QEMU in-process is a usage error (exit 2)
// before anything connects (issue 17).
#include "rig/machine/libvirt/libvirt_uri.h"

#include <gtest/gtest.h>

#include "rig/base/errors.h"
#include "rig/machine/libvirt/libvirt_api.h"
#include "rig/machine/libvirt/libvirt_cleanup.h"
#include "rig/machine/libvirt/libvirt_machine.h"
#include "rig/run/machine_factory.h"

using namespace rig;

namespace {

std::string refusal(const std::string& uri) {
  try {
    parse_libvirt_uri(uri);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(LibvirtUri, SupportedTransportsPass) {
  for (const char* uri :
       {"qemu:///system", "qemu:///session", "qemu+unix:///system", "qemu+unix:///session?mode=legacy",
        "qemu+ssh://lab2/system", "qemu+ssh://root@lab2.example.org:2222/system?no_tty=1",
        "qemu+tcp://127.0.0.1:16599/system", "qemu+tls://[fd00::7]/system", "qemu+tcp://[::1]:16509/system",
        "qemu+tls://host-7/session", "qemu:///system?mode=direct"})
    EXPECT_EQ(refusal(uri), "") << uri;
  const LibvirtUri u = parse_libvirt_uri("qemu+ssh://ci_user@lab2:2222/system?no_tty=1");
  EXPECT_EQ(u.transport, "ssh");
  EXPECT_EQ(u.user, "ci_user");
  EXPECT_EQ(u.host, "lab2");
  EXPECT_EQ(u.port, 2222);
  EXPECT_EQ(u.path, "/system");
  ASSERT_EQ(u.params.size(), 1u);
  EXPECT_EQ(u.params[0], std::make_pair(std::string("no_tty"), std::string("1")));
  EXPECT_EQ(parse_libvirt_uri("qemu+tls://[fd00::7]:16514/system").host, "fd00::7");
}

TEST(LibvirtUri, ProgramsSocketsAndKeysAreRefused) {
  const std::vector<std::pair<std::string, std::string>> hostile = {
      {"qemu+ext:///system?command=/bin/true", "transport 'ext' is not supported"},
      {"qemu+ext:///system", "transport 'ext' is not supported"},
      {"qemu+libssh2://h/system?known_hosts=/tmp/k", "transport 'libssh2' is not supported"},
      {"qemu+libssh://h/system", "transport 'libssh' is not supported"},
      {"qemu+unix:///system?socket=/tmp/evil.sock", "query parameter 'socket' is not accepted"},
      {"qemu:///system?socket=/tmp/evil.sock", "query parameter 'socket' is not accepted"},
      {"qemu+ssh://h/system?netcat=/tmp/evil", "query parameter 'netcat' is not accepted"},
      {"qemu+ssh://h/system?command=/tmp/evil", "query parameter 'command' is not accepted"},
      {"qemu+ssh://h/system?keyfile=/root/.ssh/id_rsa", "query parameter 'keyfile' is not accepted"},
      {"qemu+ssh://h/system?proxy=netcat", "query parameter 'proxy' is not accepted"},
      {"qemu+tls://h/system?no_verify=1", "query parameter 'no_verify' is not accepted"},
      {"qemu+tls://h/system?pkipath=/tmp/pki", "query parameter 'pkipath' is not accepted"},
      {"qemu:///system?name=qemu+ext:///system", "query parameter 'name' is not accepted"},
      {"qemu+ssh://h/system?no_tty=1&command=/bin/sh", "query parameter 'command' is not accepted"},
      {"qemu+ssh://h/system?no_tty=1;command=/bin/sh", "';' is not accepted"},
      {"qemu+ssh://h/system?no_tty=yes", "no_tty=yes is not accepted"},
      {"qemu+ssh://h/system?no_tty=1&no_tty=0", "given twice"},
      {"qemu+ssh://h/system?%63ommand=/bin/sh", "percent-encoding"},
      {"qemu:///embed?root=/tmp/x", "the path must be /system or /session"},
      {"qemu:///system/../embed", "the path must be /system or /session"},
      {"qemu://", "the path must be /system or /session"},
      {"qemu+ssh://-oProxyCommand=sh/system", "not first '-'"},
      {"qemu+ssh://-l@h/system", "the user name"},
      {"qemu+ssh://h;id/system", "';' is not accepted"},
      {"qemu+ssh://h$(id)/system", "the host may hold"},
      {"qemu+ssh:///system", "needs a host"},
      {"qemu+tcp://h:0/system", "the port"},
      {"qemu+tcp://h:99999/system", "the port"},
      {"qemu+tcp://h:/system", "an empty port"},
      {"qemu+tcp://[fd00::7/system", "closing ']'"},
      {"qemu+tcp://[evil]/system", "not an IPv6 address"},
      {"qemu://lab2/system", "a host needs its transport named"},
      {"qemu+unix://lab2/system", "takes no host"},
      {"qemu:///system#x", "fragment"},
      {"qemu:///system\n--connect", "control"},
      {"qemu:///sys tem", "control"},
      {"http://127.0.0.1/", "not a libvirt QEMU URI"},
      {"xen:///system", "not a libvirt QEMU URI"},
      {"qemux:///system", "not a libvirt QEMU URI"},
      {"default", "not a libvirt QEMU URI"},
      {"", "not a libvirt QEMU URI"},
  };
  for (const auto& [uri, why] : hostile) {
    const std::string e = refusal(uri);
    EXPECT_NE(e.find(why), std::string::npos) << uri << " -> " << e;
    EXPECT_EQ(e.rfind("--connect ", 0), 0u) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << "one line: " << e;
  }
}

TEST(LibvirtUri, OneCheckForRunAndCleanup) {
  EXPECT_EQ(checked_libvirt_uri(""), "qemu:///system");
  EXPECT_EQ(checked_libvirt_uri("qemu+tcp://127.0.0.1:16599/system"), "qemu+tcp://127.0.0.1:16599/system");
  EXPECT_THROW(checked_libvirt_uri("qemu+ext:///system?command=/bin/true"), UsageError);
  // rig run --backend libvirt checks the same way before anything boots.
  EXPECT_THROW(validate_backend({"libvirt", "qemu-system-x86_64", "auto", "qemu+ext:///system?command=/bin/true"}),
               UsageError);
  EXPECT_THROW(validate_backend({"libvirt", "qemu-system-x86_64", "auto", "qemu+unix:///system?socket=/tmp/s"}),
               UsageError);
  // And every connection the rig opens checks again, before libvirt sees the URI.
  const std::string hostile = "qemu+ext:///system?command=/bin/true";
  EXPECT_THROW(open_libvirt(hostile), UsageError);
  EXPECT_THROW(libvirt_reachable(hostile), UsageError);
  EXPECT_THROW(cleanup_rig_domains(hostile, [](const std::string&) {}), UsageError);
}
