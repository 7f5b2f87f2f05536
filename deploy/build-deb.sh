#!/bin/sh
# build-deb.sh - build the Debian package xsproxy_<version>_<arch>.deb:
# a build configured for /usr (the shim's path is compiled in), without the
# tests, then cpack.  Prints the package's path.
#
#   deploy/build-deb.sh [BUILD-DIR]      (default build-deb/)
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build-deb}
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
if [ ! -f "$dir/build.ninja" ]; then
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_INSTALL_PREFIX=/usr -DXSPROXY_TESTS=OFF >/dev/null
fi
ninja -C "$dir" >/dev/null || ninja -C "$dir"   # show the errors if any
(cd "$dir" && cpack -G DEB >cpack.log 2>&1) || { cat "$dir/cpack.log" >&2; exit 1; }
ls "$dir"/xsproxy_*.deb
