#!/bin/sh
# build-deb.sh - build the Debian package xsproxy_<version>_<arch>.deb:
# a build configured for /usr (the shim's path is compiled in), without the
# tests, then cpack: the packages xsproxy and xsproxy-sim (the simulated
# Xen, to try it without Xen).  Prints their paths.
#
#   deploy/build-deb.sh [BUILD-DIR]      (default build-deb/)
set -eu
cd "$(dirname "$0")/.."
given=${1:-build-deb}
case $given in /*) dir=$given ;; *) dir=$PWD/$given ;; esac
if [ ! -f "$dir/build.ninja" ]; then
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_INSTALL_PREFIX=/usr -DXSPROXY_TESTS=OFF >/dev/null
fi
ninja -C "$dir" >/dev/null || ninja -C "$dir"   # show the errors if any
(cd "$dir" && cpack -G DEB >cpack.log 2>&1) || { cat "$dir/cpack.log" >&2; exit 1; }
ls -d "$given"/xsproxy_*.deb "$given"/xsproxy-sim_*.deb   # relative to the source tree, as given
