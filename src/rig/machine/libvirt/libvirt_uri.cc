#include "rig/machine/libvirt/libvirt_uri.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "rig/base/errors.h"
#include "rig/base/text.h"

namespace rig {

namespace {

// Query parameters the rig passes on, each with its only values: none of them names a program,
// a socket or a file. Everything else (command, socket, netcat, keyfile, pkipath, known_hosts,
// no_verify, proxy, name, ...) is refused.
const std::map<std::string, std::set<std::string>>& allowed_params() {
  static const std::map<std::string, std::set<std::string>> params = {
      {"no_tty", {"0", "1"}},                  // ssh: never ask for a password on a terminal
      {"mode", {"auto", "legacy", "direct"}},  // unix: libvirtd or the modular virtqemud
  };
  return params;
}

[[noreturn]] void refuse(const std::string& uri, const std::string& why) {
  throw UsageError(fmt::format("--connect {}: {}", one_line(uri, 200), why));
}

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool all_of(const std::string& s, const std::string& extra) {
  return std::all_of(s.begin(), s.end(), [&](char c) { return is_alnum(c) || extra.find(c) != std::string::npos; });
}

}  // namespace

LibvirtUri parse_libvirt_uri(const std::string& uri) {
  const std::string not_qemu = "not a libvirt QEMU URI (e.g. qemu:///system or qemu+tcp://HOST/system)";
  for (unsigned char c : uri)
    if (c <= 0x20 || c >= 0x7f) refuse(uri, "a space, control or non-ASCII character in the URI");
  if (uri.find('%') != std::string::npos) refuse(uri, "percent-encoding is not accepted");
  if (uri.find('#') != std::string::npos) refuse(uri, "a fragment (#) is not accepted");
  if (uri.find(';') != std::string::npos) refuse(uri, "';' is not accepted");
  const size_t sep = uri.find("://");
  if (sep == std::string::npos) refuse(uri, not_qemu);
  const std::string scheme = uri.substr(0, sep);
  if (scheme.rfind("qemu", 0) != 0) refuse(uri, not_qemu);
  LibvirtUri out;
  if (scheme.size() > 4) {
    if (scheme[4] != '+') refuse(uri, not_qemu);
    out.transport = scheme.substr(5);
    if (out.transport != "unix" && out.transport != "ssh" && out.transport != "tcp" && out.transport != "tls")
      refuse(uri, fmt::format("transport '{}' is not supported (qemu://, qemu+unix://, qemu+ssh://, qemu+tcp:// or "
                              "qemu+tls://; docs/libvirt.md)",
                              out.transport));
  }
  const std::string rest = uri.substr(sep + 3);
  const size_t path_at = rest.find_first_of("/?");
  const std::string authority = rest.substr(0, path_at);
  const size_t query_at = rest.find('?');
  out.path = path_at == std::string::npos || rest[path_at] == '?' ? "" : rest.substr(path_at, query_at - path_at);
  const std::string query = query_at == std::string::npos ? "" : rest.substr(query_at + 1);

  const bool remote = out.transport == "ssh" || out.transport == "tcp" || out.transport == "tls";
  if (!remote && !authority.empty())
    refuse(uri, out.transport.empty()
                    ? "a host needs its transport named (qemu+ssh://HOST/system, qemu+tls://HOST/system)"
                    : "qemu+unix:// connects to this host's socket and takes no host");
  if (remote) {
    std::string hostport = authority;
    if (const size_t at = authority.rfind('@'); at != std::string::npos) {
      out.user = authority.substr(0, at);
      hostport = authority.substr(at + 1);
      if (out.user.empty() || out.user[0] == '-' || !all_of(out.user, "._-"))
        refuse(uri, "the user name may hold letters, digits, '.', '_' and '-' only, not first '-'");
    }
    std::string port;
    if (!hostport.empty() && hostport[0] == '[') {  // [::1]:16509
      const size_t close = hostport.find(']');
      if (close == std::string::npos) refuse(uri, "an IPv6 host without its closing ']'");
      out.host = hostport.substr(1, close - 1);
      if (out.host.empty() || !std::all_of(out.host.begin(), out.host.end(), [](char c) {
            return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
          }))
        refuse(uri, "not an IPv6 address between '[' and ']'");
      const std::string after = hostport.substr(close + 1);
      if (!after.empty() && after[0] != ':') refuse(uri, "text after the IPv6 address's ']'");
      if (!after.empty()) port = after.substr(1);
      if (!after.empty() && port.empty()) refuse(uri, "an empty port");
    } else {
      const size_t colon = hostport.find(':');
      out.host = hostport.substr(0, colon);
      if (colon != std::string::npos) {
        port = hostport.substr(colon + 1);
        if (port.empty()) refuse(uri, "an empty port");
      }
      if (out.host.empty())
        refuse(uri, fmt::format("qemu+{}:// needs a host (qemu+{}://HOST/system)", out.transport, out.transport));
      if (out.host[0] == '-' || out.host[0] == '.' || !all_of(out.host, ".-"))
        refuse(uri, "the host may hold letters, digits, '.' and '-' only, not first '-' or '.'");
    }
    if (!port.empty()) {
      const bool digits = std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
      out.port = digits && port.size() <= 5 ? std::stoi(port) : 0;
      if (out.port < 1 || out.port > 65535) refuse(uri, "the port is not a number from 1 to 65535");
    }
  }
  if (out.path != "/system" && out.path != "/session")
    refuse(uri, "the path must be /system or /session (qemu:///system, qemu+ssh://HOST/system)");

  if (query_at != std::string::npos) {
    std::set<std::string> seen;
    size_t start = 0;
    while (true) {
      const size_t amp = query.find('&', start);
      const std::string param = query.substr(start, amp - start);
      const size_t eq = param.find('=');
      const std::string name = param.substr(0, eq);
      const std::string value = eq == std::string::npos ? "" : param.substr(eq + 1);
      const auto it = allowed_params().find(name);
      if (it == allowed_params().end())
        refuse(uri, fmt::format("query parameter '{}' is not accepted (only no_tty=0|1 and mode=auto|legacy|direct; "
                                "docs/libvirt.md)",
                                one_line(name, 40)));
      if (!it->second.count(value))
        refuse(uri, fmt::format("query parameter {}={} is not accepted ({} takes {})", name, one_line(value, 40), name,
                                fmt::join(it->second, ", ")));
      if (!seen.insert(name).second) refuse(uri, fmt::format("query parameter '{}' given twice", name));
      out.params.emplace_back(name, value);
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  return out;
}

std::string checked_libvirt_uri(const std::string& given) {
  const std::string uri = given.empty() ? default_libvirt_uri() : given;
  parse_libvirt_uri(uri);
  return uri;
}

}  // namespace rig
