#!/bin/sh
# demo.sh - the whole story in under a minute, on two simulated hosts:
# oxenstored behind xsproxy on host A, C xenstored behind xsproxy on host B,
# both started by xsproxy-launch with a capture on; two guests on A busy
# with watches and a transaction; one of them migrated to B without its
# help, its watch and its open transaction intact; the trace decoded by
# tshark.  Each step says what it proved, and checks it.
#
#   deploy/demo.sh                  install what is missing, build, show
#   XSPROXY_BUILD=DIR deploy/demo.sh   use that build as it is
#
# Both hosts are removed on exit.
set -eu
if [ -n "${XSPROXY_BUILD:-}" ]; then
    BUILD=$(cd "$XSPROXY_BUILD" && pwd)
    cd "$(dirname "$0")/.."
else
    cd "$(dirname "$0")/.."
    deploy/setup.sh
    BUILD="$PWD/build"
fi
SRC=$PWD
PATH="$BUILD/bin:$PATH"
export PATH
for p in xssim xsproxyctl xsproxy-launch tshark; do
    command -v $p >/dev/null || { echo "demo: no $p (run deploy/setup.sh)" >&2; exit 1; }
done
unset XENSTORED_PATH XSPROXY_SOCKET XSSIM_DIR

TMP=$(mktemp -d "${TMPDIR:-/tmp}/xsproxy-demo.XXXXXX")
cleanup() {
    [ -n "${busy:-}" ] && kill "$busy" 2>/dev/null
    xsproxy-launch --config "$TMP/A.conf" stop >/dev/null 2>&1 || true
    xsproxy-launch --config "$TMP/B.conf" stop >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$TMP"

step() { printf '\n== %s\n' "$*"; }
say()  { printf '   %s\n' "$@"; }
run()  { printf '$ %s\n' "$1"; eval "$1"; }
ok()   { printf '   ✓ %s\n' "$*"; }
die()  { echo "demo: unexpected: $*" >&2; exit 1; }
A() { XENSTORED_PATH="$TMP/A/proxy/socket" XSPROXY_SOCKET="$TMP/A/proxy/socket" XSSIM_DIR="$TMP/A" "$@"; }
B() { XENSTORED_PATH="$TMP/B/proxy/socket" XSPROXY_SOCKET="$TMP/B/proxy/socket" XSSIM_DIR="$TMP/B" "$@"; }
# tshark with the dissector, as the package installs it (from a clone it
# is named with -X); its warning about running as root is not news
tshark() { command tshark -n -X "lua_script:$SRC/deploy/wireshark/xenstore.lua" "$@" 2>/dev/null; }

step "1. Two simulated hosts, each started by xsproxy-launch from one config file"
cat > A.conf <<EOF
XSSIM_DIR=$TMP/A
XENSTORED=oxenstored
XSPROXY_ARGS="--capture $TMP/A.pcap"
EOF
sed "s/oxenstored/xenstored/; s|/A|/B|g; s|A.pcap|B.pcap|" A.conf > B.conf
run "cat A.conf"
run "xsproxy-launch --config A.conf start | head -3"
xsproxy-launch --config B.conf start >/dev/null
ok "A: Debian's unmodified oxenstored, libxsshim.so preloaded, xsproxy in front, capturing"
ok "B: the same with C xenstored (B.conf names xenstored)"

step "2. Two guests on A, created through xsproxy; both busy"
A xssim domain create 5
A xssim domain create 6
say "guest 5: a node, a watch on it, and a transaction left open with a write in it"
run "A xssim guest 5 write data/x 1"
run "A xssim guest 5 watch-add data/x mytoken"
A xssim guest 5 events >/dev/null          # the watch's first event
run "T=\$(A xssim guest 5 start); echo \"transaction \$T open\""
run "A xssim guest 5 --tx \$T write data/y inside"
[ "$(A xssim guest 5 read data/y 2>&1)" = "xssim guest: couldn't read path data/y: ENOENT" ] \
    || die "the transaction's write is visible outside it"
ok "outside the transaction, data/y does not exist yet"
say "guest 6: writes data/n 1, 2, 3, ... in a loop, all through the migration"
(i=0; while [ ! -e stop6 ]; do i=$((i + 1)); A xssim guest 6 write data/n $i || exit; echo $i > n6; done) \
    >/dev/null 2>&1 &
busy=$!
sleep 0.3

step "3. Migrate guest 5 from A to B (as domain 7), without its help"
run "A xsproxyctl quiesce 5"
run "A xsproxyctl save 5 dom5.xs"
run "B xssim domain create 7 --no-introduce"
run "cp A/mem/dom5 B/mem/dom7        # the ring page travels with the guest's memory"
run "B xsproxyctl restore 7 dom5.xs --from-domid 5"
run "A xssim domain destroy 5"
ok "xsproxy saved the watch and the open transaction from its shadow - oxenstored keeps no such record"

step "4. On B, guest 7 goes on where guest 5 stopped"
run "B xsproxyctl get-domain-watches 7"
run "B xssim guest 7 --tx \$T read data/y"
[ "$(B xssim guest 7 --tx "$T" read data/y)" = inside ] || die "the transaction lost its write"
ok "transaction $T is still open on B and sees its own write"
run "B xssim guest 7 commit \$T"
run "B xssim guest 7 read data/y"
ok "it committed on C xenstored: the write landed once"
run "B xenstore-write /local/domain/7/data/x 2"
run "B xssim guest 7 events 1"
[ "$(B xssim guest 7 read data/x)" = 2 ] || die "no data/x on B"
ok "the watch guest 5 registered on A fires on B, with its token"

step "5. Guest 6 on A was not disturbed"
sleep 0.3
touch stop6; wait "$busy" || die "guest 6's writes failed"; busy=
last=$(cat n6)
got=$(A xssim guest 6 read data/n)
run "A xssim guest 6 read data/n"
[ "$got" = "$last" ] || die "guest 6 wrote $last last, the store has $got"
ok "$last writes during the migration, the last one in the store"

step "6. The trace, decoded by tshark with the dissector (deploy/wireshark/xenstore.lua)"
xsproxy-launch --config A.conf stop >/dev/null
xsproxy-launch --config B.conf stop >/dev/null
say "host A: guest 5's last messages, then dom0's quiesce and save - and nothing more of domain 5:"
run "tshark -r A.pcap -Y 'xenstore.domid == 5 || xenstore.type == 0' | tail -8 | cut -c1-112"
say "host B: xsproxy replays the transaction as the guest ([internal]), then guest 7 goes on:"
run "tshark -r B.pcap -Y 'xenstore.domid == 7' | sed -n '/internal/,\$p' | head -14 | cut -c1-112"
frames=$(tshark -r A.pcap | wc -l)
decoded=$(tshark -r A.pcap -Y 'xenstore.type && !_ws.expert' | wc -l)
[ "$frames" -gt 100 ] && [ "$frames" = "$decoded" ] || die "$decoded of $frames frames decoded"
framesB=$(tshark -r B.pcap | wc -l)
decodedB=$(tshark -r B.pcap -Y 'xenstore.type && !_ws.expert' | wc -l)
[ "$framesB" = "$decodedB" ] || die "$decodedB of $framesB frames decoded on B"
ok "every message decoded: $frames of $frames on A, $framesB of $framesB on B"

step "Done: both simulated hosts are removed on exit"
