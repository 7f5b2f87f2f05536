#!/bin/sh
# setup.sh - install what xsproxy needs (Debian 12 packages) and build it.
#
#   deploy/setup.sh [--asan]
#
# Idempotent: packages already present are not touched and an up-to-date
# build does nothing.  Builds into build/ (and build-asan/ with --asan: the
# same code under AddressSanitizer + UndefinedBehaviorSanitizer).
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential cmake ninja-build pkg-config libxen-dev libev-dev
libgtest-dev googletest libpcap-dev xen-utils-4.17 xenstore-utils tshark python3
systemd"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    # xen-utils pulls in a hypervisor and grub hooks we do not use here
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

build() {   # build DIR [cmake args...]
    dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    fi
    ninja -C "$dir" >/dev/null || ninja -C "$dir"   # show the errors if any
}

build build
if [ "${1:-}" = "--asan" ]; then
    build build-asan -DXSPROXY_SANITIZE=ON
fi
