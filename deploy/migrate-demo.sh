#!/bin/sh
# migrate-demo.sh - show a non-cooperative migration on two simulated hosts:
# host A runs oxenstored, host B C xenstored, each with xsproxy in front.
# A guest with nodes, a watch and a request held on its ring moves from
# domain 5 on A to domain 7 on B without its help.
set -eu
cd "$(dirname "$0")/.."
[ -n "${XSPROXY_BUILD:-}" ] || deploy/setup.sh
B="${XSPROXY_BUILD:-$PWD/build}/bin"
X="$B/xssim"
CTL="$B/xsproxyctl"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/xsproxy-migrate.XXXXXX")
A_DIR="$TMP/hostA"
B_DIR="$TMP/hostB"
cleanup() {
    "$X" --dir "$A_DIR" down 2>/dev/null || true
    "$X" --dir "$B_DIR" down 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

step() { printf '\n== %s\n' "$*"; }
run()  { printf '$ %s\n' "$*"; "$@"; }
on_a() { XENSTORED_PATH="$A_DIR/proxy/socket" "$@"; }
on_b() { XENSTORED_PATH="$B_DIR/proxy/socket" "$@"; }

step "1. Two simulated hosts: A runs oxenstored, B runs C xenstored, each behind xsproxy"
run "$X" --dir "$A_DIR" up --daemon oxenstored --proxy >/dev/null
run "$X" --dir "$B_DIR" up --daemon xenstored --proxy >/dev/null
"$X" --dir "$A_DIR" env | sed 's/^/    A: /'
"$X" --dir "$B_DIR" env | sed 's/^/    B: /'

step "2. A's toolstack creates domain 5; its INTRODUCE goes through xsproxy, which inserts it"
run on_a "$X" --dir "$A_DIR" domain create 5
run on_a "$CTL" --socket "$A_DIR/proxy/socket" list

step "3. The guest works over its ring: nodes, and a watch registered as the guest"
run "$X" --dir "$A_DIR" guest 5 write data/x 1
run "$X" --dir "$A_DIR" guest 5 write data/sub/v hello
run "$CTL" --socket "$A_DIR/proxy/socket" add-domain-watches 5 data/x mytoken
run "$CTL" --socket "$A_DIR/proxy/socket" get-domain-watches 5

step "4. QUIESCE: xsproxy takes nothing more from domain 5's ring"
run "$CTL" --socket "$A_DIR/proxy/socket" quiesce 5
echo "The guest writes data/late now. The request stays on its ring, in its own"
echo "memory: nobody answers it here (the write gives up after 1 s), and it travels"
echo "with the guest."
run timeout 1 "$X" --dir "$A_DIR" guest 5 write data/late 2 || true

step "5. Save: xsproxy writes domain 5's state from its shadow as a migration stream"
run "$CTL" --socket "$A_DIR/proxy/socket" save 5 "$TMP/dom5.xs"
run "$B/xsrecords" verify "$TMP/dom5.xs"
"$B/xsrecords" dump "$TMP/dom5.xs" | head -8
echo "    ..."

step "6. A's xenstored saw nothing more of domain 5: the held write never landed there"
if XENSTORED_PATH="$A_DIR/run/socket" xenstore-read /local/domain/5/data/late 2>/dev/null; then
    echo "unexpected: the held request reached host A"; exit 1
fi
echo "    (no /local/domain/5/data/late on host A)"

step "7. On B: the toolstack creates domain 7, the guest's memory moves, xsproxy restores"
run on_b "$X" --dir "$B_DIR" domain create 7 --no-introduce
run cp "$A_DIR/mem/dom5" "$B_DIR/mem/dom7"
run "$CTL" --socket "$B_DIR/proxy/socket" restore 7 "$TMP/dom5.xs" --from-domid 5

step "8. On B: the nodes arrived, the held write was served once, the watch is domain 7's"
run on_b xenstore-ls /local/domain/7/data
run "$CTL" --socket "$B_DIR/proxy/socket" get-domain-watches 7
"$X" --dir "$B_DIR" guest 7 watch data/x 2 > "$TMP/watch.out" &
watcher=$!
sleep 0.5
run on_b xenstore-write /local/domain/7/data/x 3
wait $watcher
echo "domain 7's watch on data/x fired (first the registration event, then the write):"
sed 's/^/    /' "$TMP/watch.out"

step "9. The source's domain 5 is destroyed; the guest lives on as domain 7 on B"
run "$X" --dir "$A_DIR" domain destroy 5
run on_b "$CTL" --socket "$B_DIR/proxy/socket" list

step "Done: both simulated hosts are removed on exit"
