#!/bin/sh
# fuzz.sh - a long libFuzzer run of each fuzz target (tests/fuzz_*.c): builds
# them in build-fuzz/ with clang (as deploy/setup.sh --fuzz does, which
# installs clang), fuzzes each for SECONDS (600) with two jobs side by side,
# and prints one line per target: executions, coverage, corpus size and
# whether it found anything.
#
#   deploy/fuzz.sh [SECONDS] [msg|relay|records|shadow_codec|tree_read|claim|follow ...]
#
# New inputs accumulate in build-fuzz/tests/fuzz-corpus/<target>/ (merged
# down to the inputs that make a difference after each run), the corpus
# the short runs of deploy/test.sh start from too; the seeds in
# tests/fuzz/<target>/ are only read.  A crash, leak, timeout or sanitizer
# report is written to build-fuzz/fuzz-run/<target>/ (crash-*, leak-*,
# timeout-*, oom-*), with each job's log (fuzz-<job>.log); reproduce it
# with build-fuzz/bin/fuzz_<target> FILE.  Exit status 1 when anything was
# found.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${1:-600}
[ $# -gt 0 ] && shift
targets=${*:-$(cd tests && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//' | tr '\n' ' ')}
case $secs in *[!0-9]* | "") echo "usage: deploy/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2 ;; esac

command -v clang >/dev/null || { echo "fuzz.sh: no clang: run deploy/setup.sh --fuzz" >&2; exit 2; }
if [ ! -f build-fuzz/build.ninja ]; then
    cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
fi
bins=$(for t in $targets; do printf 'fuzz_%s ' "$t"; done)
ninja -C build-fuzz $bins >/dev/null || ninja -C build-fuzz $bins   # show the errors if any

status=0
for t in $targets; do
    bin=$root/build-fuzz/bin/fuzz_$t
    [ -x "$bin" ] || { echo "fuzz.sh: no target fuzz_$t" >&2; exit 2; }
    run=$root/build-fuzz/fuzz-run/$t
    corpus=$root/build-fuzz/tests/fuzz-corpus/$t
    rm -rf "$run"
    mkdir -p "$run" "$corpus"
    dict=""
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=$root/tests/fuzz/$t.dict"
    echo "fuzz_$t: ${secs} s, 2 jobs ($run)"
    (cd "$run" && "$bin" -jobs=2 -workers=2 -max_total_time="$secs" -timeout=5 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$run/" $dict \
        "$corpus" "$root/tests/fuzz/$t" >/dev/null 2>&1) || true
    execs=$(cat "$run"/fuzz-*.log | sed -n 's/^stat::number_of_executed_units: *//p' |
        awk '{ s += $1 } END { print s + 0 }')
    rate=$(cat "$run"/fuzz-*.log | sed -n 's/^stat::average_exec_per_sec: *//p' |
        awk '{ s += $1 } END { print s + 0 }')
    cov=$(cat "$run"/fuzz-*.log | sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) .*/\1 \2/p' |
        sort -n | tail -1)
    # keep the smallest corpus with the same coverage
    rm -rf "$corpus.merged" && mkdir "$corpus.merged"
    if "$bin" -merge=1 -timeout=5 -rss_limit_mb=2048 "$corpus.merged" "$corpus" \
        >"$run/merge.log" 2>&1; then
        rm -rf "$corpus" && mv "$corpus.merged" "$corpus"
    else
        rm -rf "$corpus.merged"
    fi
    files=$(find "$corpus" -type f | wc -l)
    kib=$(find "$corpus" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s / 1024 }')
    found=$(cd "$run" && ls crash-* leak-* timeout-* oom-* 2>/dev/null || true)
    if [ -n "$found" ]; then
        status=1
        verdict="FOUND: $(echo $found)"
    else
        verdict="nothing found"
    fi
    printf 'fuzz_%-8s %8s execs %6s/s  cov %s ft %s  corpus %s files (%s KiB)  %s\n' \
        "$t" "$execs" "$rate" "${cov% *}" "${cov#* }" "$files" "$kib" "$verdict"
done
exit $status
