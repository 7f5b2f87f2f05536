// xsmigbench - migration figures through xsproxy, for each daemon: the time
// from QUIESCE to quiesced with 0 and with 20 requests in flight, and the
// time and stream size of save and restore for a domain with 10,000 nodes
// and (up to) 1,000 watches.  It prints figures and never judges them.
//
// Every operation is sent over xsproxy's socket as a toolstack would
// (XSP_QUIESCE/XSP_RESUME, XS_CONTROL save/restore), so no process start-up
// is in a figure.
#include <getopt.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "sim_host.h"
#include "workload.h"
#include "xsproxy_wire.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace xstest;

double ms_since(Clock::time_point t)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double pct(std::vector<double> v, double p)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return v[(size_t)(p / 100.0 * (double)(v.size() - 1) + 0.5)];
}

bool ok_reply(const WireMsg &r) { return r.type != XS_ERROR; }

// QUIESCE answered; then RESUME.  Returns the QUIESCE time in ms, or -1.
double quiesce_once(SockConn &c, unsigned domid)
{
    WireMsg r;
    auto t0 = Clock::now();
    if (!c.request(XSP_QUIESCE, 0, nul_join({ std::to_string(domid) }), &r, 10000) ||
        !ok_reply(r))
        return -1;
    double ms = ms_since(t0);
    if (!c.request(XSP_RESUME, 0, nul_join({ std::to_string(domid) }), &r, 10000) || !ok_reply(r))
        return -1;
    return ms;
}

// The guest puts N WRITEs on its ring without waiting; returns once all
// are answered (their own time), or with QUIESCE sent right after them.
bool put_writes(RingConn &g, unsigned n, uint32_t base)
{
    for (unsigned i = 0; i < n; i++) {
        WireMsg w{ XS_WRITE, base + i, 0, nul_join({ "data/q" + std::to_string(i % 4) }) + "v" };
        if (!g.send(w))
            return false;
    }
    return true;
}

bool drain_replies(RingConn &g, unsigned n)
{
    WireMsg m;
    for (unsigned got = 0; got < n;) {
        if (g.recv(&m, 10000) != 1)
            return false;
        if (m.type != XS_WATCH_EVENT)
            got++;
    }
    return true;
}

int bench(xssim_daemon daemon, unsigned nodes, unsigned watches)
{
    const char *name = xssim_daemon_name(daemon);
    Store src(daemon, true), dst(daemon, true);
    if (!src.ok() || !dst.ok() || !src.create_domain(5)) {
        fprintf(stderr, "xsmigbench: %s: the sims did not come up\n", name);
        return 1;
    }
    auto c = SockConn::connect(src.store_socket());
    auto g = src.guest(5);
    if (!c || !g)
        return 1;

    // 1. QUIESCE of an idle domain
    std::vector<double> idle;
    for (int i = 0; i < 200; i++) {
        double ms = quiesce_once(*c, 5);
        if (ms < 0)
            return 1;
        idle.push_back(ms);
    }
    // 2. QUIESCE with 20 requests in flight, against those requests' own time
    std::vector<double> busy, own;
    for (int i = 0; i < 50; i++) {
        auto t0 = Clock::now();
        if (!put_writes(*g, 20, 1000) || !drain_replies(*g, 20))
            return 1;
        own.push_back(ms_since(t0));
        if (!put_writes(*g, 20, 2000))
            return 1;
        double ms = quiesce_once(*c, 5);
        if (ms < 0 || !drain_replies(*g, 20))
            return 1;
        busy.push_back(ms);
    }
    printf("%-11s quiesce, idle domain          p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms   (aim <= 1 ms)\n",
           name, pct(idle, 50), pct(idle, 99), pct(idle, 100));
    printf("%-11s quiesce, 20 requests in flight p50 %7.3f ms  p99 %7.3f ms  (the 20 alone: p50 %.3f ms; aim <= 1 ms + that)\n",
           name, pct(busy, 50), pct(busy, 99), pct(own, 50));

    // 3. a big domain: NODES nodes (written by dom0, in transactions of 500,
    //    pipelined) and as many of WATCHES watches as xenstored takes
    auto t0 = Clock::now();
    for (unsigned done = 0; done < nodes;) {
        WireMsg r;
        if (!c->request(XS_TRANSACTION_START, 0, std::string(1, '\0'), &r) || !ok_reply(r)) {
            fprintf(stderr, "xsmigbench: TRANSACTION_START: %s\n", escape(r.body).c_str());
            return 1;
        }
        uint32_t tx = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
        unsigned batch = std::min(500u, nodes - done);
        for (unsigned i = 0; i < batch; i++) {
            unsigned k = done + i;
            std::string p = "/local/domain/5/big/n" + std::to_string(k / 100) + "/k" +
                            std::to_string(k % 100);
            if (!c->send({ XS_WRITE, 100000 + i, tx, p + std::string(1, '\0') + "value-" + std::to_string(k) }))
                return 1;
        }
        for (unsigned i = 0; i < batch; i++)
            if (c->recv(&r, 10000) != 1 || !ok_reply(r)) {
                fprintf(stderr, "xsmigbench: WRITE %u: %s\n", i, escape(r.body).c_str());
                return 1;
            }
        if (!c->request(XS_TRANSACTION_END, tx, nul_join({ "T" }), &r) || !ok_reply(r))
            continue;   /* EAGAIN: the batch again */
        done += batch;
    }
    unsigned nwatch = 0;
    for (; nwatch < watches; nwatch++) {
        WireMsg r;
        std::string path = "big/n" + std::to_string(nwatch % 100) + "/k" + std::to_string(nwatch / 100);
        // the guest reads its watches' first events, as a guest does (else
        // its ring fills and xenstored waits, rightly, for it to make room)
        for (WireMsg ev; g->recv(&ev, 0) == 1;) {
        }
        if (!c->request(XSP_ADD_DOMAIN_WATCHES, 0,
                        nul_join({ "5", path, "tok" + std::to_string(nwatch) }), &r, 10000) ||
            !ok_reply(r)) {
            printf("%-11s ADD_DOMAIN_WATCHES stopped at watch %u: %s\n", name, nwatch + 1,
                   escape(r.body).c_str());
            break;   /* xenstored's watch quota for a domain */
        }
    }
    printf("%-11s domain 5 built: %u nodes written in %.0f ms, %u watches (of %u asked; xenstored's quota stops the rest)\n",
           name, nodes, ms_since(t0), nwatch, watches);

    // 4. save, restore on the other host (as domain 7)
    WireMsg r;
    if (!c->request(XSP_QUIESCE, 0, nul_join({ "5" }), &r, 10000) || !ok_reply(r)) {
        fprintf(stderr, "xsmigbench: quiesce: %s\n", escape(r.body).c_str());
        return 1;
    }
    std::string file = src.dir() + "/dom5.xs";
    t0 = Clock::now();
    if (!c->request(XS_CONTROL, 0, nul_join({ "save", "5", file }), &r, 60000) || !ok_reply(r)) {
        fprintf(stderr, "xsmigbench: save: %s\n", r.body.c_str());
        return 1;
    }
    double save_ms = ms_since(t0);
    struct stat st;
    stat(file.c_str(), &st);
    if (!dst.create_domain(7, false))
        return 1;
    {
        std::ifstream in(src.dir() + "/mem/dom5", std::ios::binary);
        std::string page((std::istreambuf_iterator<char>(in)), {});
        std::ofstream out(dst.dir() + "/mem/dom7", std::ios::binary | std::ios::in);
        out.write(page.data(), (std::streamsize)page.size());
    }
    auto d = SockConn::connect(dst.store_socket());
    if (!d)
        return 1;
    t0 = Clock::now();
    if (!d->request(XS_CONTROL, 0, nul_join({ "restore", "7", file, "5" }), &r, 60000) ||
        !ok_reply(r)) {
        fprintf(stderr, "xsmigbench: restore: %s\n", r.body.c_str());
        return 1;
    }
    double restore_ms = ms_since(t0);
    printf("%-11s save    %8.1f ms  (aim <= 50 ms)   stream %lld bytes\n", name, save_ms,
           (long long)st.st_size);
    printf("%-11s restore %8.1f ms  (aim <= 100 ms)\n", name, restore_ms);
    fflush(stdout);
    return 0;
}

}  // namespace

int main(int argc, char **argv)
{
    std::vector<xssim_daemon> daemons = { XSSIM_OXENSTORED, XSSIM_XENSTORED };
    unsigned nodes = 10000, watches = 1000;
    int c;
    while ((c = getopt(argc, argv, "d:n:w:h")) != -1) {
        if (c == 'd' && !strcmp(optarg, "oxenstored"))
            daemons = { XSSIM_OXENSTORED };
        else if (c == 'd' && !strcmp(optarg, "xenstored"))
            daemons = { XSSIM_XENSTORED };
        else if (c == 'n' && atoi(optarg) > 0)
            nodes = (unsigned)atoi(optarg);
        else if (c == 'w' && atoi(optarg) >= 0)
            watches = (unsigned)atoi(optarg);
        else {
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: xsmigbench [-d oxenstored|xenstored] [-n NODES] [-w WATCHES]\n"
                    "Quiesce time (idle, 20 in flight) and save/restore time and size of a\n"
                    "domain with NODES (10000) nodes and WATCHES (1000) watches, through\n"
                    "xsproxy on two simulated hosts per daemon.\n");
            return c == 'h' ? 0 : 2;
        }
    }
    int failures = 0;
    for (xssim_daemon d : daemons)
        failures += bench(d, nodes, watches);
    return failures ? 1 : 0;
}
