#!/bin/bash
# Builds a guest kernel for the rig, out of tree.
# Usage: build-kernel.sh SRC_DIR OUT_DIR BASE_FRAGMENT [EXTRA_FRAGMENT...]
#   SRC_DIR  a configured-or-not kernel source tree (patches already applied)
#   OUT_DIR  O= directory; gets .config, arch/x86/boot/bzImage, Module.symvers
# tinyconfig, then the fragments merged with the kernel's own scripts/kconfig/merge_config.sh,
# then olddefconfig; fails naming every required option (required.list) that did not survive.
# Compiles with ccache when it is installed.
set -euo pipefail
src=$(cd "$1" && pwd)
out=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
jobs=$(nproc)
cc=gcc
command -v ccache >/dev/null 2>&1 && cc="ccache gcc"
# Kbuild compiles from the O= directory with absolute source paths; with a base directory over
# both trees ccache rewrites them relative, so another tree of the same layout (a patched copy,
# the next bisect step) hits the cache.
common=$(dirname "$src")
case "$out" in "$common"/*) ;; *) common=$(dirname "$common") ;; esac
export CCACHE_BASEDIR="$common"

echo "rig-kernel: configure (tinyconfig + $*)"
make -s -C "$src" O="$out" tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$@" >/dev/null
make -s -C "$src" O="$out" olddefconfig >/dev/null

missing=""
while read -r opt; do
  case "$opt" in ''|'#'*) continue ;; esac
  grep -q "^$opt=y" "$out/.config" || missing="$missing $opt"
done < "$here/required.list"
if [ -n "$missing" ]; then
  echo "rig-kernel: options the rig needs did not survive olddefconfig:$missing" >&2
  exit 2
fi

echo "rig-kernel: build bzImage and modules with $jobs jobs ($cc)"
# Progress: one line per 200 objects, every line that links, and errors; the whole log in build.log.
if ! make -C "$src" O="$out" -j"$jobs" CC="$cc" bzImage modules 2>&1 | tee "$out/build.log" |
    awk '/^  CC/ { n++; if (n % 200 == 0) { print "rig-kernel:   " n " objects compiled"; fflush() } }
         /^  LD  |^Kernel:|error:|Error / { print; fflush() }'; then
  echo "rig-kernel: the build failed; see $out/build.log" >&2
  exit 1
fi
[ -f "$out/arch/x86/boot/bzImage" ] || { echo "rig-kernel: the build failed (no bzImage); see $out/build.log" >&2; exit 1; }
[ -f "$out/Module.symvers" ] || { echo "rig-kernel: no Module.symvers: modules did not build" >&2; exit 1; }
echo "rig-kernel: built $out/arch/x86/boot/bzImage"
