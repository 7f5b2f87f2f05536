#!/bin/sh
# demo.sh - set everything up, then show a simulated Xen host at work: an
# unmodified oxenstored on the sim, two guests talking xenstore over their
# rings, permissions, a watch, a domain's death.
set -eu
cd "$(dirname "$0")/.."
deploy/setup.sh
X="$PWD/build/bin/xssim"
SIM=$(mktemp -d "${TMPDIR:-/tmp}/xsproxy-demo.XXXXXX")
trap '"$X" --dir "$SIM" down' EXIT INT TERM
export XSSIM_DIR="$SIM"

step() { printf '\n== %s\n' "$*"; }
run()  { printf '$ %s\n' "$*"; "$@"; }

step "1. A simulated host: Debian's unmodified oxenstored, with libxsshim.so as its hypervisor"
eval "$("$X" up --daemon oxenstored)"
"$X" env

step "2. The toolstack creates domains 1 and 2 (nodes as libxl makes them, then INTRODUCE)"
run "$X" domain create 1
run "$X" domain create 2
run "$X" domain list

step "3. Guest 1 writes over its own xenstore ring; dom0's stock tools see it"
run "$X" guest 1 write data/greeting "hello from guest 1"
run "$X" guest 1 read data/greeting
run xenstore-read /local/domain/1/data/greeting

step "4. Permissions are xenstored's own: guest 2 cannot read guest 1's data"
if "$X" guest 2 read /local/domain/1/data/greeting; then
    echo "unexpected: guest 2 read it"; exit 1
fi

step "5. Guest 2 watches its data/ (relative path); dom0 writes there"
"$X" guest 2 watch data 2 > "$SIM/watch.out" &
watcher=$!
sleep 0.5
run xenstore-write /local/domain/2/data/ping pong
wait $watcher
echo "guest 2's watch fired with (relative paths, first the registration event):"
sed 's/^/    /' "$SIM/watch.out"

step "6. Domain 1 dies: the sim raises VIRQ_DOM_EXC and oxenstored fires @releaseDomain"
xenstore-watch -n 2 @releaseDomain > "$SIM/release.out" &
watcher=$!
sleep 0.5
run "$X" domain destroy 1
wait $watcher
sed 's/^/    /' "$SIM/release.out"
run "$X" domain list

step "Done: the sim and its daemon are removed on exit"
