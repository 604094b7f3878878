#include "rig/host/guest_image.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/filesystem.hpp>

#include "rig/base/errors.h"
#include "rig/base/file_trust.h"
#include "rig/host/host_command.h"
#include "rig/base/paths.h"
#include "rig/host/qemu_process.h"

namespace rig {
namespace {

// Size and mtime stand for a host file's content: cheap, and they change when a package upgrades.
std::string file_stamp(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return "absent";
  return fmt::format("{}:{}:{}", path, st.st_size, st.st_mtime);
}

// A folder of the cache (the user's, checked like the cache itself).
std::string cache_subdir(const Environment& env, const std::string& name) {
  const std::string dir = cache_dir(env) + "/" + name;
  if (const std::string problem = make_own_dir(dir); !problem.empty())
    throw UsageError(fmt::format("the cache directory is not yours alone: {}", problem));
  return dir;
}

}  // namespace

// Builds the probe against the kernel's build tree, cached by source and tree.
std::string probe_module(const KernelImage& kernel, const Environment& env, std::string* problem, std::string* note) {
  if (kernel.build_dir.empty()) {
    // An installed Debian kernel's headers are a package; a kernel from the archive's newer suites
    // has none that bookworm can use (docs/probe-format.md), and needs none.
    *problem = kernel.path.rfind("/boot/", 0) == 0
                   ? fmt::format("no kernel build tree for {} (apt-get install linux-headers-{})", kernel.release,
                                 kernel.release)
                   : fmt::format("no kernel build tree for {}", kernel.release);
    return "";
  }
  // kbuild runs the tree's Makefiles and scripts: never those of a tree someone else could have
  // written (root building in another user's tree would run their code as root).
  if (const std::string why = dir_distrust(kernel.build_dir, ::geteuid(), DirUse::Shared); !why.empty()) {
    *problem =
        fmt::format("not building the probe in {}: {} (kbuild would run what is in it as you)", kernel.build_dir, why);
    return "";
  }
  const std::string images = rig_home(env) + "/images";
  std::string key = read_text_file(images + "/probe/rig_probe.c") + read_text_file(images + "/build-probe.sh") +
                    kernel.release + file_stamp(kernel.build_dir + "/Module.symvers") +
                    file_stamp(kernel.build_dir + "/.config");
  const std::string dir = cache_subdir(env, "probes");
  const std::string out = fmt::format("{}/rig_probe-{}-{}.ko", dir, kernel.release, content_hash(key));
  if (usable_cached_file(out, note)) return out;
  const std::string log = out + ".log";
  int rc = run_to_log({"/bin/sh", images + "/build-probe.sh", kernel.build_dir, out}, log);
  keep_to_myself(out);  // whatever the umask: used again next time
  if (rc != 0 || !boost::filesystem::exists(out)) {
    *problem = fmt::format("building the probe for {} failed (exit {}); see {}", kernel.release, rc, log);
    return "";
  }
  return out;
}

std::string guest_initramfs(const KernelImage& kernel, const Environment& env) {
  return guest_image(kernel, env).initramfs;
}

GuestImage guest_image(const KernelImage& kernel, const Environment& env) {
  GuestImage img;
  img.probe = probe_module(kernel, env, &img.probe_problem, &img.note);
  const std::string images = rig_home(env) + "/images";
  const std::string script = images + "/build-initramfs.sh";
  if (!boost::filesystem::exists(script)) throw InfraError(fmt::format("image recipe missing: {}", script));
  std::string qga = find_program("qemu-ga");
  if (qga.empty() && boost::filesystem::exists("/usr/sbin/qemu-ga")) qga = "/usr/sbin/qemu-ga";
  if (qga.empty()) throw InfraError("qemu-ga not found (apt-get install qemu-guest-agent)");
  const std::string busybox = find_program("busybox");
  if (busybox.empty()) throw InfraError("busybox not found (apt-get install busybox-static)");

  std::string key_material = read_text_file(script) + read_text_file(images + "/init") +
                             read_text_file(images + "/probe/rig-probe.c") + kernel.release + "\n" + file_stamp(qga) +
                             file_stamp(busybox) + file_stamp(img.probe);
  // Modules from elsewhere than /lib/modules/RELEASE (a Debian kernel extracted into the cache).
  const bool own_modules = !kernel.modules_dir.empty() && kernel.modules_dir != "/lib/modules/" + kernel.release;
  if (own_modules) key_material += "modules:" + kernel.modules_dir + "\n";
  const std::string dir = cache_subdir(env, "images");
  img.initramfs = fmt::format("{}/initramfs-{}-{}.cpio.gz", dir, kernel.release, content_hash(key_material));
  if (usable_cached_file(img.initramfs, &img.note)) return img;

  const std::string log = img.initramfs + ".log";
  std::vector<std::string> argv = {"/bin/sh", script, img.initramfs, kernel.release};
  if (own_modules) argv.insert(argv.begin(), {"/usr/bin/env", "RIG_MODULES_DIR=" + kernel.modules_dir});
  if (!img.probe.empty()) argv.push_back(img.probe);
  int rc = run_to_log(argv, log);
  keep_to_myself(img.initramfs);
  if (rc != 0 || !boost::filesystem::exists(img.initramfs))
    throw InfraError(fmt::format("building the guest image failed (exit {}); see {}", rc, log));
  return img;
}

}  // namespace rig
