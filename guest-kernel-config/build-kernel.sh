#!/bin/bash
# Builds a guest kernel for the rig, out of tree.
# Usage: build-kernel.sh SRC_DIR OUT_DIR BASE_FRAGMENT [EXTRA_FRAGMENT...]
#   SRC_DIR  a configured-or-not kernel source tree (patches already applied)
#   OUT_DIR  O= directory; gets .config, arch/x86/boot/bzImage, Module.symvers
# tinyconfig, then the fragments merged in order with the kernel's own
# scripts/kconfig/merge_config.sh (a later fragment wins over base.config), then olddefconfig;
# fails naming every required option (required.list) that did not survive.
# Compiles with ccache when it is installed.
# Exit status: 0 built; 1 the build failed (build.log); 2 bad arguments; 3 configuring failed
# (config.log); 4 an option the rig needs is not in this kernel's configuration. Anything else
# (set -e) is the host. The rig tells the kernel's failures from the host's by the logs.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: build-kernel.sh SRC_DIR OUT_DIR BASE_FRAGMENT [EXTRA_FRAGMENT...]" >&2; exit 2; }
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

# Logs of an earlier attempt in the same directory (bisect steps) must not be mistaken for this one's.
rm -f "$out/config.log" "$out/build.log"
echo "rig-kernel: configure (tinyconfig + $*)"
if ! { make -s -C "$src" O="$out" tinyconfig &&
       "$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$@" &&
       make -s -C "$src" O="$out" olddefconfig; } >"$out/config.log" 2>&1; then
  tail -n 5 "$out/config.log" >&2 || true
  echo "rig-kernel: configuring failed; see $out/config.log" >&2
  exit 3
fi

# Extra fragments win over base.config; say where Kconfig did not keep what one asked for (an
# option whose dependencies are off, or that something selects), base.config included.
if [ $# -gt 0 ]; then
  awk -v cfg="$out/.config" '
    function setting(line,   m) {
      if (line ~ /^CONFIG_[A-Za-z0-9_]+=/) { m = index(line, "="); opt = substr(line, 1, m - 1); val = substr(line, m + 1); return 1 }
      if (line ~ /^# CONFIG_[A-Za-z0-9_]+ is not set$/) { opt = $2; val = "n"; return 1 }
      return 0
    }
    FILENAME == cfg { if (setting($0)) have[opt] = val; next }
    { if (setting($0)) { want[opt] = val; from[opt] = FILENAME } }
    END {
      for (o in want) {
        h = (o in have) ? have[o] : "n"
        if (h != want[o]) print "rig-kernel: warning: " from[o] " sets " o "=" want[o] ", but the configuration has " o "=" h " (Kconfig dependencies)"
      }
    }' "$out/.config" "$@"
fi

missing=""
while read -r opt cond; do
  case "$opt" in ''|'#'*) continue ;; esac
  if [ "$cond" = where-kconfig-has-it ] &&
     ! grep -rqsx --include='Kconfig*' "config ${opt#CONFIG_}" "$src/mm" "$src/arch/x86" "$src/init"; then
    continue
  fi
  grep -q "^$opt=y" "$out/.config" || missing="$missing $opt"
done < "$here/required.list"
if [ -n "$missing" ]; then
  echo "rig-kernel: options the rig needs are not in this kernel's configuration (its Kconfig lacks them, or a fragment turned off what they depend on):$missing" >&2
  exit 4
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
