#!/bin/sh
# Builds the rig's probe module (images/probe) with kbuild against one kernel's build tree.
# Usage: build-probe.sh KERNEL_BUILD_DIR OUT.ko
# KERNEL_BUILD_DIR is /lib/modules/RELEASE/build for a Debian kernel (linux-headers-*), or the
# output tree of a kernel the rig built. The rig caches the result (guest_image.cc).
set -eu
kdir=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$kdir/Makefile" ] || { echo "build-probe: $kdir is not a kernel build tree (install linux-headers for this kernel)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/probe/rig_probe.c" "$here/probe/Makefile" "$work/"
make -s -C "$kdir" M="$work" modules
mkdir -p "$(dirname "$out")"
cp "$work/rig_probe.ko" "$out"
