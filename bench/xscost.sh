#!/bin/sh
# xscost: xsproxy's user-space instructions per relayed message, counted by
# callgrind.  xsbench runs its four one-domain workloads twice under
# callgrind (XSSIM_PROXY_WRAPPER), with SMALL and LARGE operations each; the
# difference of the two counts divided by the extra messages (a request and
# its reply each) leaves out start-up and shutdown.  Prints the figure per
# object (xsproxy's own code, libc, libev, the simulated Xen) beside the goal.
#
#   sh bench/xscost.sh [BUILD_DIR] [DAEMON] [SMALL] [LARGE]
set -eu
build=${1:-build}
daemon=${2:-xenstored}
small=${3:-4000}
large=${4:-20000}
command -v valgrind >/dev/null || { echo "xscost: needs valgrind" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for n in "$small" "$large"; do
    XSSIM_PROXY_WRAPPER="valgrind --tool=callgrind --callgrind-out-file=$out/cg.$n" \
        "$build/bin/xsbench" --ops "$n" --daemon "$daemon" --mode proxied --domains 1 \
        >"$out/xsbench.$n.log"
    callgrind_annotate --threshold=100 "$out/cg.$n" >"$out/fn.$n"
done
# 4 workloads, each operation one request and one reply
python3 - "$out/fn.$small" "$out/fn.$large" "$(( (large - small) * 4 * 2 ))" "$daemon" <<'EOF'
import re, sys
def load(path):
    d = {}
    for line in open(path):
        m = re.match(r'\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S+)\s+\[(.*)\]', line)
        if m:
            d[(m.group(2), m.group(3))] = int(m.group(1).replace(',', ''))
    return d
a, b, msgs, daemon = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
per_obj, own_fn = {}, {}
for k in set(a) | set(b):
    v = (b.get(k, 0) - a.get(k, 0)) / msgs
    obj = k[1].rsplit('/', 1)[-1]
    per_obj[obj] = per_obj.get(obj, 0) + v
    if obj == 'xsproxy':
        own_fn[k[0].rsplit('/', 1)[-1]] = v
journal = sum(v for f, v in own_fn.items()
              if f.split(':')[0] in ('shadow_codec.c', 'persist.c', 'journal.c')
              or f.endswith(':domain_publish'))
sim = per_obj.get('libxensim.so', 0)
total = sum(per_obj.values())
print(f"xscost: {daemon}, 1 domain, {msgs} relayed messages counted")
print(f"{'instructions per relayed message':46} {'figure':>8} {'goal':>8}")
print(f"{'xsproxy code':46} {per_obj.get('xsproxy', 0):8.0f} {'<= 1500':>8}")
print(f"{'  of which the journal (encode and commit)':46} {journal:8.0f}")
for obj in sorted(per_obj, key=per_obj.get, reverse=True):
    if obj != 'xsproxy' and per_obj[obj] >= 5:
        print(f"{obj:46} {per_obj[obj]:8.0f}")
print(f"{'whole process, less the simulated Xen':46} {total - sim:8.0f}")
print("largest functions of xsproxy's own:")
for f in sorted(own_fn, key=own_fn.get, reverse=True)[:8]:
    print(f"  {f:44} {own_fn[f]:8.0f}")
EOF
