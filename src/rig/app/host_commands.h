// The commands that tend the host: `rig cache list|clear` and `rig cleanup`.
#pragma once

#include <string>

namespace rig::app {

// The snapshot cache: its entries and size (list), or emptied (clear).
int cache_list();
int cache_clear();

// Destroys and undefines the rig-... domains and pools a crashed run left on `uri` (empty: the
// default). A URI the rig does not take (libvirt_uri.h) is a UsageError before anything connects.
int cleanup(const std::string& uri);

}  // namespace rig::app
