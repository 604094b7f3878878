// The libvirt connection URIs the rig accepts (docs/libvirt.md). A libvirt URI can make libvirt
// run a program (`qemu+ext:///system?command=PROG`, `?netcat=`), talk to any socket (`?socket=`),
// read any key (`?keyfile=`) or run QEMU inside the rig (`qemu:///embed?root=`): the rig takes
// only the QEMU driver over the transports below, the /system and /session daemons, and a short
// allow-list of query parameters with fixed values. Every place that opens a connection checks
// the URI with this first. Pure.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace rig {

// `--connect` when none is given.
inline const char* default_libvirt_uri() { return "qemu:///system"; }

struct LibvirtUri {
  std::string transport;                                    // "" (the local socket), "unix", "ssh", "tcp" or "tls"
  std::string user;                                         // ssh, tcp, tls: user@ (may be empty)
  std::string host;                                         // ssh, tcp, tls: required; "" for the local transports
  int port = 0;                                             // 0: the transport's default
  std::string path;                                         // "/system" or "/session"
  std::vector<std::pair<std::string, std::string>> params;  // from the allow-list only
};

// Parses and checks `uri`; throws UsageError "--connect URI: reason" (one line, the URI's control
// characters escaped) for anything outside what the rig supports.
LibvirtUri parse_libvirt_uri(const std::string& uri);

// The URI to connect to: `given`, or the default when empty; checked as above.
std::string checked_libvirt_uri(const std::string& given);

}  // namespace rig
