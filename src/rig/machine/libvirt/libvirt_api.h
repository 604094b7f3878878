// The libvirt C API as the rig uses it: errors as text, the process's event loop, and the rig's
// storage pools. Only the libvirt backend's own files include this (libvirt types stay out of
// everything else).
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <functional>
#include <string>
#include <vector>

namespace rig {

// The calling thread's last libvirt error message.
std::string libvirt_error();

// libvirt prints every error on stderr by default; the rig reports them itself. Call before the
// first connection.
void silence_libvirt_errors();

// Opens a connection to `uri` once libvirt_uri.h has checked it (UsageError for a URI the rig does
// not take: no program, socket or key a URI names is ever used); null when libvirt cannot connect
// (libvirt_error() says why).
virConnectPtr open_libvirt(const std::string& uri);

// Registers libvirt's default event loop and runs it on a thread of its own, once per process.
// Domain events, QEMU monitor events, console streams and keepalives need it; it must be running
// before the connection that uses them is opened.
void ensure_libvirt_event_loop();

// Deletes the pool's volumes, stops it, removes its directory and undefines it. Returns what
// failed (empty: all went); never throws.
std::string remove_storage_pool(virStoragePoolPtr pool);

}  // namespace rig
