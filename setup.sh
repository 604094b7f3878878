#!/bin/sh
# Installs what the rig needs on Debian 12 (QEMU, both Debian kernels and their headers, the
# guest-image packages, the C++ toolchain and libraries, Chromium for the HTML report's browser
# test, python3-jsonschema for the KCIDB schema test) and builds it into ./build.
# Safe to run again: apt-get skips what is installed and the build is incremental.
set -eu
cd "$(dirname "$0")"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
packages="qemu-system-x86 qemu-utils busybox-static qemu-guest-agent cpio xz-utils kmod socat
  linux-image-amd64 linux-headers-amd64 linux-image-6.12-amd64 linux-headers-6.12-amd64
  build-essential cmake libboost-dev libboost-filesystem-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libtomlplusplus-dev libgtest-dev ccache clang-format shellcheck file zstd
  libvirt-daemon-system libvirt-dev libvirt-clients pkg-config
  linux-source-6.1 linux-source-6.12 flex bison bc libelf-dev libssl-dev git patch chromium
  python3-jsonschema"
missing=$(dpkg-query -W -f='${Package} ${Status}\n' $packages 2>/dev/null | awk '$NF != "installed" {print $1}'; \
          for p in $packages; do dpkg-query -W "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $packages
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
