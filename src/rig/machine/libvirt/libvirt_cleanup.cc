#include "rig/machine/libvirt/libvirt_cleanup.h"

#include <fmt/format.h>

#include "rig/base/errors.h"
#include "rig/machine/libvirt/libvirt_api.h"
#include "rig/machine/libvirt/libvirt_xml.h"

namespace rig {

std::vector<std::string> cleanup_rig_domains(const std::string& uri,
                                             const std::function<void(const std::string&)>& log) {
  silence_libvirt_errors();
  virConnectPtr conn = open_libvirt(uri);
  if (conn == nullptr) throw InfraError(fmt::format("cannot connect to libvirt at {}: {}", uri, libvirt_error()));
  std::vector<std::string> removed;
  std::string problem;
  virDomainPtr* domains = nullptr;
  const int n = virConnectListAllDomains(conn, &domains, 0);
  if (n < 0) problem = fmt::format("cannot list the domains of {}: {}", uri, libvirt_error());
  for (int i = 0; i < n; ++i) {
    virDomainPtr d = domains[i];
    const char* raw = virDomainGetName(d);
    const std::string name = raw != nullptr ? raw : "";
    if (is_rig_domain(name)) {
      bool ok = true;
      if (virDomainIsActive(d) == 1 && virDomainDestroy(d) != 0) {
        ok = false;
        problem = fmt::format("cannot destroy {}: {}", name, libvirt_error());
      }
      if (ok && virDomainIsPersistent(d) == 1 && virDomainUndefine(d) != 0) {
        ok = false;
        problem = fmt::format("cannot undefine {}: {}", name, libvirt_error());
      }
      if (ok) {
        removed.push_back(name);
        log(fmt::format("removed domain {}", name));
      }
    }
    virDomainFree(d);
  }
  free(domains);  // NOLINT: libvirt allocates the array with malloc
  // The storage pools a run uploads its kernel and initramfs to, named like its domain.
  virStoragePoolPtr* pools = nullptr;
  const int np = virConnectListAllStoragePools(conn, &pools, 0);
  if (np < 0) problem = fmt::format("cannot list the storage pools of {}: {}", uri, libvirt_error());
  for (int i = 0; i < np; ++i) {
    const char* raw = virStoragePoolGetName(pools[i]);
    const std::string name = raw != nullptr ? raw : "";
    if (is_rig_domain(name)) {
      const std::string failed = remove_storage_pool(pools[i]);
      if (failed.empty()) {
        removed.push_back(name);
        log(fmt::format("removed storage pool {}", name));
      } else {
        problem = fmt::format("cannot remove storage pool {}: {}", name, failed);
      }
    }
    virStoragePoolFree(pools[i]);
  }
  free(pools);  // NOLINT: as above
  virConnectClose(conn);
  if (!problem.empty()) throw InfraError(problem);
  return removed;
}

}  // namespace rig
