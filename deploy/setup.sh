#!/bin/sh
# setup.sh - install what xsproxy needs (Debian 12 packages) and build it.
#
#   deploy/setup.sh [--asan] [--fuzz]
#
# Idempotent: packages already present are not touched and an up-to-date
# build does nothing.  Builds into build/ (and build-asan/ with --asan: the
# same code under AddressSanitizer + UndefinedBehaviorSanitizer; build-fuzz/
# with --fuzz: clang, the libFuzzer targets only, see tests/fuzz.cmake).
set -eu
cd "$(dirname "$0")/.."

asan=false fuzz=false
for arg in "$@"; do
    case $arg in
    --asan) asan=true ;;
    --fuzz) fuzz=true ;;
    *) echo "usage: deploy/setup.sh [--asan] [--fuzz]" >&2; exit 2 ;;
    esac
done

PACKAGES="build-essential cmake ninja-build pkg-config libxen-dev libev-dev
libgtest-dev googletest libpcap-dev xen-utils-4.17 xenstore-utils tshark python3
systemd clang libclang-rt-14-dev zlib1g-dev iproute2"

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

# Line tables only (-g1): backtraces and sanitizer reports keep file:line,
# and the three trees build about a third faster than with full -g (for a
# debugger's view of locals, configure a tree by hand without these flags).
flags="-O2 -g1 -DNDEBUG"
build() {   # build DIR [cmake args...]
    dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DCMAKE_C_FLAGS_RELWITHDEBINFO="$flags" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" \
            "$@" >/dev/null
    fi
    ninja -C "$dir" $targets >/dev/null || ninja -C "$dir" $targets   # show the errors if any
}

targets=""
build build
if $asan; then
    build build-asan -DXSPROXY_SANITIZE=ON
fi
if $fuzz; then
    # the fuzz targets alone: the rest of that tree is not built with clang
    # (every tests/fuzz_*.c is one)
    targets=$(cd tests && ls fuzz_*.c | sed 's/\.c$//' | tr '\n' ' ')
    build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
fi
