#!/bin/sh
# migrate-demo.sh - show a non-cooperative migration on two simulated hosts,
# step by step: host A runs Debian's oxenstored, host B C xenstored, each
# with xsproxy in front.  A guest with nodes, two watches and a request held
# on its ring moves from domain 5 on A to domain 7 on B without its help.
#
#   deploy/migrate-demo.sh
#   XSPROXY_BUILD=/path/to/build deploy/migrate-demo.sh
#
# Runs deploy/setup.sh first (installs what is missing, builds build/).  With
# XSPROXY_BUILD set, the programs of that build are used as they are and
# setup.sh is not run.  Both hosts are removed on exit.
set -eu
if [ -n "${XSPROXY_BUILD:-}" ]; then
    BUILD=$(cd "$XSPROXY_BUILD" && pwd)
    cd "$(dirname "$0")/.."
else
    cd "$(dirname "$0")/.."
    deploy/setup.sh
    BUILD="$PWD/build"
fi
for p in xssim xsproxyctl xsrecords; do
    [ -x "$BUILD/bin/$p" ] || { echo "migrate-demo: no $BUILD/bin/$p (build first)" >&2; exit 1; }
done
PATH="$BUILD/bin:$PATH"
export PATH

TMP=$(mktemp -d "${TMPDIR:-/tmp}/xsproxy-migrate.XXXXXX")
cleanup() {
    xssim --dir "$TMP/A" down 2>/dev/null || true
    xssim --dir "$TMP/B" down 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$TMP"           # the hosts are A/ and B/ in here, the stream dom5.xs

step() { printf '\n== %s\n' "$*"; }
say()  { printf '%s\n' "$@"; }
run()  { printf '$ %s\n' "$1"; eval "$1"; }      # show a command line, run it
die()  { echo "migrate-demo: unexpected: $*" >&2; exit 1; }
# wait until FILE has at least N lines matching PATTERN (at most 5 s)
wait_lines() {
    i=0
    while [ "$(grep -c -e "$3" "$1" 2>/dev/null || true)" -lt "$2" ]; do
        i=$((i + 1)); [ $i -le 50 ] || die "$1: no $2 lines matching $3"
        sleep 0.1
    done
}
# the ring page's four indexes (struct xenstore_domain_interface, offset 2048)
ring_idx() { od -A n -t u4 -j 2048 -N 16 "$1"; }

step "1. Two simulated hosts: A runs oxenstored, B runs C xenstored, each behind xsproxy"
say "Each host is a directory: a simulated Xen (libxensim.so, below Xen's own" \
    "libraries) shared by the daemon, xsproxy and the guests' rings. Toolstacks" \
    "talk to xsproxy's socket."
run "xssim --dir A up --daemon oxenstored --proxy >/dev/null"
run "xssim --dir B up --daemon xenstored --proxy >/dev/null"
run "xssim --dir A env"
run "xssim --dir B env"

step "2. A's toolstack creates domain 5 through xsproxy, whose INTRODUCE inserts it"
say "libxl's nodes, then INTRODUCE on XENSTORED_PATH = A's xsproxy socket: xsproxy" \
    "maps the guest's ring and puts a shadow ring of its own between it and oxenstored."
run "XENSTORED_PATH=A/proxy/socket xssim --dir A domain create 5"
run "xsproxyctl --socket A/proxy/socket list"
say "Trace domain 5's ring on A, to see later what reached oxenstored:"
run "xsproxyctl --socket A/proxy/socket trace 5 on >/dev/null"

step "3. The guest works: nodes over its ring, a relative and an absolute watch"
run "xssim --dir A guest 5 write data/x 1"
run "xssim --dir A guest 5 write data/sub/v hello"
say "Watches a guest keeps stay registered; add-domain-watches registers them as" \
    "domain 5, on its ring's shadow, exactly as the guest's own WATCH would."
run "xsproxyctl --socket A/proxy/socket add-domain-watches 5 data/x reltoken /local/domain/5/data/sub abstoken"
say "(xssim guest has no transaction command, so this guest has no transaction" \
    "open; docs/design.md's 'Transactions across a migration' says how they move.)"
run "xsproxyctl --socket A/proxy/socket list 5"
run "xsproxyctl --socket A/proxy/socket get-domain-watches 5"

step "4. Quiesce: xsproxy takes nothing more from domain 5's ring"
run "xsproxyctl --socket A/proxy/socket quiesce 5"
say "The guest writes data/late now. Nobody takes the request: it stays on the ring," \
    "in the guest's own memory, and travels with it (the writer gives up after 1 s)."
rc=0
run "timeout 1 xssim --dir A guest 5 write data/late 2" || rc=$?
[ "$rc" -eq 124 ] || die "the held write ended with status $rc, not 124 (timeout)"
say "    (no answer: timeout stopped the writer, status $rc)"
say "The ring page's indexes req_cons req_prod rsp_cons rsp_prod:"
run "od -A n -t u4 -j 2048 -N 16 A/mem/dom5"
# shellcheck disable=SC2046
set -- $(ring_idx A/mem/dom5)
[ $(($2 - $1)) -eq 27 ] || die "$(($2 - $1)) bytes held on the ring, not 27"
say "    req_prod - req_cons = $(($2 - $1)) bytes: the 16-byte header, \"data/late\\0\" and \"2\"."
say "xsproxy: domain 5 quiesced, still 2 requests taken - the held one is not among them:"
run "xsproxyctl --socket A/proxy/socket list"

step "5. Save: domain 5's state as a migration stream (Xen's xenstore-migration format)"
say "Watches and connection from xsproxy's shadow, nodes of /local/domain/5 from" \
    "oxenstored in one transaction. 0 bytes held: the whole request is on the ring."
run "xsproxyctl --socket A/proxy/socket save 5 dom5.xs"
run "xsrecords verify dom5.xs"
say "Its records, without the NODE_DATA of libxl's nodes outside data/:"
run "xsrecords dump dom5.xs | awk '!/NODE_DATA/ || /domain\\/5\\/data/'"

step "6. A's oxenstored gets nothing more from domain 5"
say "A dom0 write on A to the node the guest watches: oxenstored is alive and fires" \
    "the watch (xsproxy still passes events out: a spurious event, which xenstore" \
    "clients tolerate). The guest's held write never reaches oxenstored:"
run "XENSTORED_PATH=A/proxy/socket xenstore-write /local/domain/5/data/x 99"
wait_lines A/proxy/trace-dom5.log 3 WATCH_EVENT
run "XENSTORED_PATH=A/run/socket xenstore-read /local/domain/5/data/late 2>&1" \
    && die "the held request reached host A"
say "    (asked oxenstored's own socket: no data/late on host A)"
say "Domain 5's trace on A: '->' went to oxenstored, '<-' came back. No request after" \
    "the quiesce:"
run "cut -d' ' -f2- A/proxy/trace-dom5.log"
grep -q 'data/late' A/proxy/trace-dom5.log && die "data/late is in A's trace"

step "7. On B: the toolstack creates domain 7, the guest's memory moves, xsproxy restores"
say "Domain 7 is created without INTRODUCE: restore inserts it. Its ring page comes" \
    "with the guest's memory, the held request in it."
run "XENSTORED_PATH=B/proxy/socket xssim --dir B domain create 7 --no-introduce"
run "cp A/mem/dom5 B/mem/dom7"
run "xsproxyctl --socket B/proxy/socket restore 7 dom5.xs --from-domid 5"
say "Restore wrote the nodes (5 mapped to 7), registered the watches as domain 7," \
    "and only then served the ring: 1 request, 1 reply - the held write, once."
run "xsproxyctl --socket B/proxy/socket list 7"
xsproxyctl --socket B/proxy/socket list 7 | grep -q 'requests 1 replies 1 ' \
    || die "domain 7 did not serve exactly one request"
run "od -A n -t u4 -j 2048 -N 16 B/mem/dom7"
# shellcheck disable=SC2046
set -- $(ring_idx B/mem/dom7)
[ "$1" -eq "$2" ] || die "B's xsproxy left $(($2 - $1)) bytes on the ring"
say "    req_cons = req_prod: the held request was taken on B."

step "8. On B: the nodes arrived, data/late landed once, the watches are domain 7's"
run "XENSTORED_PATH=B/proxy/socket xenstore-ls /local/domain/7/data"
[ "$(XENSTORED_PATH=B/proxy/socket xenstore-read /local/domain/7/data/late)" = 2 ] \
    || die "no data/late on B"
run "xssim --dir B guest 7 read data/late"
run "xsproxyctl --socket B/proxy/socket get-domain-watches 7"
say "dom0 writes under both watched paths on B; the trace of domain 7's ring shows" \
    "the events going to the guest with the tokens it registered on A:"
run "xsproxyctl --socket B/proxy/socket trace 7 on >/dev/null"
run "XENSTORED_PATH=B/proxy/socket xenstore-write /local/domain/7/data/x 3"
run "XENSTORED_PATH=B/proxy/socket xenstore-write /local/domain/7/data/sub/w 4"
wait_lines B/proxy/trace-dom7.log 2 WATCH_EVENT
run "cut -d' ' -f2- B/proxy/trace-dom7.log"

step "9. A's toolstack destroys domain 5: the guest lives on as domain 7 on B"
run "xssim --dir A domain destroy 5"
i=0
while xsproxyctl --socket A/proxy/socket list | grep -q 'domain 5 '; do
    i=$((i + 1)); [ $i -le 50 ] || die "A's xsproxy still has domain 5"
    sleep 0.1
done
run "xssim --dir A domain list"
run "xsproxyctl --socket A/proxy/socket list"
run "xsproxyctl --socket B/proxy/socket list"

step "Done: both simulated hosts are removed on exit"
