// `rig cleanup`: destroys and undefines the domains a crashed or interrupted run left behind,
// recognised by the rig's domain prefix (libvirt_xml.h). Speaks the libvirt C API.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace rig {

// Every domain on `uri` whose name carries the rig's prefix is destroyed (if running) and
// undefined (if persistent), and every storage pool with that prefix (its volumes, directory and
// definition); returns the names it removed. Throws InfraError when libvirt cannot
// be reached or a domain cannot be removed (with libvirt's message).
std::vector<std::string> cleanup_rig_domains(const std::string& uri,
                                             const std::function<void(const std::string&)>& log);

}  // namespace rig
