// xsxferbench - how long a guest is held by a host-to-host transfer
// (xsproxyctl send / receive over a command's pipe, as the ssh form runs),
// from QUIESCE on the source to the destination serving it, for a domain
// with N nodes and W watches, R times per pairing of daemons.  Prints
// p50/p99/max of the hold and of the whole `send`; exits non-zero only when
// a transfer fails.

#include <getopt.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bench_common.h"
#include "sim_host.h"
#include "workload.h"

using namespace xsbench;
using namespace xstest;

namespace {

// The value at rank P/100 * N of V (bench_common's percentile takes the
// nearest rank instead: a p99 of 100 runs would be the second largest).
double pct(std::vector<double> v, double p)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[std::min(v.size() - 1, (size_t)(p / 100.0 * (double)v.size()))];
}

std::string wr(const std::string &path, const std::string &value)
{
    return path + std::string(1, '\0') + value;
}

// One transfer of domain SRC_ID on SRC to DST_ID on DST: its hold (from
// send's output) and the whole send, in ms.
bool transfer_once(Store &src, Store &dst, unsigned src_id, unsigned dst_id, unsigned nodes,
                   unsigned watches, double *held, double *whole, std::string *why)
{
    if (!src.create_domain(src_id) || !dst.create_domain(dst_id, false)) {
        *why = "cannot create the domains";
        return false;
    }
    auto g = src.guest(src_id);
    auto s0 = src.dom0();
    WireMsg r;
    std::string base = "/local/domain/" + std::to_string(src_id) + "/data/";
    for (unsigned i = 0; i < nodes; i++)
        if (!s0->request(XS_WRITE, 0, wr(base + "n" + std::to_string(i), "value of a node"), &r)) {
            *why = "cannot write the nodes";
            return false;
        }
    for (unsigned i = 0; i < watches; i++)
        if (!g->request(XS_WATCH, 0,
                        nul_join({ "data/n" + std::to_string(i), "w" + std::to_string(i) }), &r)) {
            *why = "cannot register the watches";
            return false;
        }
    WireMsg ev;
    while (g->next_event(&ev, 50) == 1) {
    }
    // a request held on the ring, and the ring page moved, as migration does
    if (src.xsproxyctl({ "quiesce", std::to_string(src_id) }).exit_code != 0 ||
        !g->send(WireMsg{ XS_WRITE, 4242, 0, wr("data/held", "once") })) {
        *why = "cannot quiesce";
        return false;
    }
    sleep_ms(20);
    {
        std::ifstream in(src.dir() + "/mem/dom" + std::to_string(src_id), std::ios::binary);
        std::string page((std::istreambuf_iterator<char>(in)), {});
        std::ofstream out(dst.dir() + "/mem/dom" + std::to_string(dst_id),
                          std::ios::binary | std::ios::in);
        out.write(page.data(), (std::streamsize)page.size());
    }
    std::string rx = self_dir() + "/xsproxyctl --socket " + dst.store_socket() + " receive " +
                     std::to_string(dst_id) + " --from-domid " + std::to_string(src_id);
    auto t0 = Clock::now();
    RunResult s = src.xsproxyctl({ "send", std::to_string(src_id), "--ssh", rx }, 60000);
    *whole = ms_since(t0);
    size_t at = s.err.find(" held ");
    if (s.exit_code != 0 || at == std::string::npos) {
        *why = "send failed: " + s.err + src.proxy_log() + dst.proxy_log();
        return false;
    }
    *held = atof(s.err.c_str() + at + 6);
    return true;
}

}  // namespace

int main(int argc, char **argv)
{
    unsigned nodes = 200, watches = 20, repeat = 20;
    int c;
    while ((c = getopt(argc, argv, "n:w:r:h")) != -1) {
        if (c == 'n')
            nodes = (unsigned)atoi(optarg);
        else if (c == 'w')
            watches = (unsigned)atoi(optarg);
        else if (c == 'r' && atoi(optarg) > 0)
            repeat = (unsigned)atoi(optarg);
        else {
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: xsxferbench [-n NODES (200)] [-w WATCHES (20)] [-r RUNS (20)]\n"
                    "The hold of a guest sent host to host (QUIESCE to the destination serving\n"
                    "it), oxenstored -> C xenstored and back, through xsproxyctl send --ssh.\n");
            return c == 'h' ? 0 : 2;
        }
    }
    printf("xsxferbench: %u nodes, %u watches, %u transfers per pairing, over a command's "
           "pipe\n", nodes, watches, repeat);
    printf("%-28s %8s %8s %8s %10s %10s\n", "pairing", "held p50", "p99", "max",
           "send p50", "send p99");
    int failures = 0;
    const std::pair<xssim_daemon, xssim_daemon> pairings[] = {
        { XSSIM_OXENSTORED, XSSIM_XENSTORED }, { XSSIM_XENSTORED, XSSIM_OXENSTORED } };
    for (auto p : pairings) {
        Store src(p.first, true), dst(p.second, true);
        std::vector<double> held, whole;
        std::string why;
        for (unsigned i = 0; i < repeat && src.ok() && dst.ok(); i++) {
            double h = 0, w = 0;
            if (!transfer_once(src, dst, 5 + i, 100 + i, nodes, watches, &h, &w, &why))
                break;
            held.push_back(h);
            whole.push_back(w);
        }
        std::string name = std::string(xssim_daemon_name(p.first)) + " -> " +
                           xssim_daemon_name(p.second);
        if (held.size() != repeat) {
            fprintf(stderr, "xsxferbench: %s: %s\n", name.c_str(),
                    why.empty() ? "the hosts did not start" : why.c_str());
            failures++;
            continue;
        }
        printf("%-28s %8.1f %8.1f %8.1f %10.1f %10.1f   (ms)\n", name.c_str(), pct(held, 50),
               pct(held, 99), pct(held, 100), pct(whole, 50), pct(whole, 99));
        fflush(stdout);
    }
    return failures ? 1 : 0;
}
