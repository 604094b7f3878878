#include "rig/machine/libvirt/libvirt_api.h"

#include <fmt/format.h>

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "rig/base/clock.h"
#include "rig/base/timeouts.h"
#include "rig/machine/libvirt/libvirt_uri.h"

namespace rig {

namespace {
void quiet(void*, virErrorPtr) {}
}  // namespace

std::string libvirt_error() {
  const virError* e = virGetLastError();
  return e != nullptr && e->message != nullptr ? e->message : "unknown libvirt error";
}

void silence_libvirt_errors() { virSetErrorFunc(nullptr, quiet); }

virConnectPtr open_libvirt(const std::string& uri) {
  parse_libvirt_uri(uri);
  return virConnectOpen(uri.c_str());
}

void ensure_libvirt_event_loop() {
  static std::once_flag once;
  static std::string problem;
  std::call_once(once, [] {
    silence_libvirt_errors();
    if (virEventRegisterDefaultImpl() < 0) {
      problem = "cannot register libvirt's event loop: " + libvirt_error();
      return;
    }
    // The loop runs for the life of the process: connections of later runs use it too.
    std::thread([] {
      while (true)
        if (virEventRunDefaultImpl() < 0) pause_for(default_timeouts().event_loop_retry);
    }).detach();
  });
  if (!problem.empty()) throw std::runtime_error(problem);
}

std::string remove_storage_pool(virStoragePoolPtr pool) {
  std::string problem;
  auto note = [&](const std::string& what) {
    problem += (problem.empty() ? "" : "; ") + what + ": " + libvirt_error();
  };
  // Volumes can only be listed and deleted in a running pool.
  if (virStoragePoolIsActive(pool) != 1 && virStoragePoolCreate(pool, 0) != 0) note("start pool");
  if (virStoragePoolIsActive(pool) == 1) {
    virStorageVolPtr* vols = nullptr;
    const int n = virStoragePoolListAllVolumes(pool, &vols, 0);
    if (n < 0) note("list volumes");
    for (int i = 0; i < n; ++i) {
      if (virStorageVolDelete(vols[i], 0) != 0) {
        const std::string err = libvirt_error();  // virStorageVolGetName resets it
        problem +=
            fmt::format("{}delete volume {}: {}", problem.empty() ? "" : "; ", virStorageVolGetName(vols[i]), err);
      }
      virStorageVolFree(vols[i]);
    }
    free(vols);  // NOLINT: libvirt allocates the array with malloc
    if (virStoragePoolDestroy(pool) != 0) note("stop pool");
  }
  if (virStoragePoolDelete(pool, 0) != 0) note("remove the pool's directory");
  if (virStoragePoolUndefine(pool) != 0) note("undefine pool");
  return problem;
}

}  // namespace rig
