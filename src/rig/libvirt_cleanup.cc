#include "rig/libvirt_cleanup.h"

#include <fmt/format.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "rig/errors.h"
#include "rig/libvirt_xml.h"

namespace rig {

namespace {

std::string last_libvirt_error() {
  const virError* e = virGetLastError();
  return e != nullptr && e->message != nullptr ? e->message : "unknown libvirt error";
}

// libvirt prints every error on stderr by default; the rig reports them itself.
void quiet(void*, virErrorPtr) {}

}  // namespace

std::vector<std::string> cleanup_rig_domains(const std::string& uri, const std::function<void(const std::string&)>& log) {
  virSetErrorFunc(nullptr, quiet);
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (conn == nullptr) throw InfraError(fmt::format("cannot connect to libvirt at {}: {}", uri, last_libvirt_error()));
  std::vector<std::string> removed;
  std::string problem;
  virDomainPtr* domains = nullptr;
  const int n = virConnectListAllDomains(conn, &domains, 0);
  if (n < 0) problem = fmt::format("cannot list the domains of {}: {}", uri, last_libvirt_error());
  for (int i = 0; i < n; ++i) {
    virDomainPtr d = domains[i];
    const char* raw = virDomainGetName(d);
    const std::string name = raw != nullptr ? raw : "";
    if (is_rig_domain(name)) {
      bool ok = true;
      if (virDomainIsActive(d) == 1 && virDomainDestroy(d) != 0) {
        ok = false;
        problem = fmt::format("cannot destroy {}: {}", name, last_libvirt_error());
      }
      if (ok && virDomainIsPersistent(d) == 1 && virDomainUndefine(d) != 0) {
        ok = false;
        problem = fmt::format("cannot undefine {}: {}", name, last_libvirt_error());
      }
      if (ok) {
        removed.push_back(name);
        log(fmt::format("removed domain {}", name));
      }
    }
    virDomainFree(d);
  }
  free(domains);  // NOLINT: libvirt allocates the array with malloc
  virConnectClose(conn);
  if (!problem.empty()) throw InfraError(problem);
  return removed;
}

}  // namespace rig
