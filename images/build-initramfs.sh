#!/bin/sh
# Builds the guest initramfs from Debian packages already on the host: busybox-static,
# qemu-guest-agent with the libraries it links, the virtio modules of one kernel release, and the
# probe program (compiled here, static).
# Usage: build-initramfs.sh OUT.cpio.gz [KERNEL_RELEASE] [EXTRA_MODULE.ko...]
# RIG_MODULES_DIR: the release's modules elsewhere than /lib/modules/RELEASE (a kernel in the cache).
# The rig caches the output by content (guest_image.cc); this script always rebuilds.
set -eu
out=$1
release=${2:-}
shift; [ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")" && pwd)

for tool in busybox qemu-ga cpio gzip ldd; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || { echo "build-initramfs: '$tool' is missing (apt-get install busybox-static qemu-guest-agent cpio)" >&2; exit 1; }
done
busybox=$(command -v busybox)
qga=$(command -v qemu-ga || echo /usr/sbin/qemu-ga)
file "$busybox" 2>/dev/null | grep -q 'dynamically linked' && { echo "build-initramfs: $busybox is not static (install busybox-static)" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/sbin" "$root/etc" "$root/lib/modules/rig" "$root/proc" "$root/sys" "$root/dev" "$root/run" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$qga" "$root/bin/qemu-ga"
# The agent's shared libraries, at the paths the dynamic loader looks for them.
ldd "$qga" | awk '/=>/ {print $3} /^\t\/lib/ {print $1}' | while read -r lib; do
  [ -n "$lib" ] || continue
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp "$here/init" "$root/init"
chmod 755 "$root/init"
# The probe as a program (images/probe/rig-probe.c): static, so it runs on any kernel's initramfs
# without the libraries of the host; it reads the kernel's BTF, kallsyms and /proc/kcore.
command -v cc >/dev/null 2>&1 || { echo "build-initramfs: no C compiler for the probe (apt-get install build-essential)" >&2; exit 1; }
cc -static -O2 -Wall -Wextra -Werror -o "$root/bin/rig-probe" "$here/probe/rig-probe.c"

# virtio transport, console and virtio-mem (docs/virtio-mem.md), in dependency order. 6.1 ships
# them as modules; 6.12 builds the transport in. A module the release does not have is left out
# (built in, or not there at all). Compressed modules are unpacked: busybox insmod reads only
# plain .ko files.
: > "$root/etc/rig-modules"
moddir=${RIG_MODULES_DIR:-/lib/modules/$release}
if [ -n "$release" ] && [ -d "$moddir" ]; then
  for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_console virtio_mem; do
    f=$(find "$moddir/kernel/drivers" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | head -n 1)
    [ -n "$f" ] || continue
    case "$f" in
      *.xz) xz -dc "$f" > "$root/lib/modules/rig/$m.ko" ;;
      *.zst) zstd -dc "$f" > "$root/lib/modules/rig/$m.ko" ;;
      *) cp "$f" "$root/lib/modules/rig/$m.ko" ;;
    esac
    echo "$m.ko" >> "$root/etc/rig-modules"
  done
fi
# Extra modules (the rig's probe) load after the virtio ones.
for extra in "$@"; do
  cp "$extra" "$root/lib/modules/rig/"
  basename "$extra" >> "$root/etc/rig-modules"
done

mkdir -p "$(dirname "$out")"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -9 > "$out.tmp"
mv "$out.tmp" "$out"
