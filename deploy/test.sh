#!/bin/sh
# test.sh - set everything up and run the whole test suite: the plain build,
# then the same tests built with AddressSanitizer + UBSan.  Every test that
# needs a daemon starts oxenstored or C xenstored on a simulated host.
set -eu
cd "$(dirname "$0")/.."
deploy/setup.sh --asan
jobs=$(nproc)
[ "$jobs" -lt 4 ] && jobs=4   # most tests wait on daemons, not the CPU
echo "== tests (plain build)"
(cd build && ctest -j"$jobs" --output-on-failure --timeout 300)
echo "== tests (AddressSanitizer + UBSan build)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest -j"$jobs" --output-on-failure --timeout 300)
