#!/bin/sh
# test.sh - set everything up and run the whole test suite: the plain build,
# then the same tests built with AddressSanitizer + UBSan, then a short run
# of each libFuzzer target (clang).  Every test that needs a daemon starts
# oxenstored or C xenstored on a simulated host.
set -eu
cd "$(dirname "$0")/.."
deploy/setup.sh --asan --fuzz
jobs=$(nproc)
[ "$jobs" -lt 4 ] && jobs=4   # most tests wait on daemons, not the CPU
echo "== tests (plain build)"
(cd build && ctest -j"$jobs" --output-on-failure --timeout 300)
echo "== tests (AddressSanitizer + UBSan build)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest -j"$jobs" --output-on-failure --timeout 300)
fuzz_s=$(sed -n 's/^XSPROXY_FUZZ_SECONDS:[A-Z]*=//p' build-fuzz/CMakeCache.txt)
echo "== fuzzing (libFuzzer, ${fuzz_s:-15} s per target)"
(cd build-fuzz && ctest -R '^fuzz\.' -j"$(nproc)" --output-on-failure)
