// xsbench - xenstore round-trip benchmark on the simulated host.  For each
// daemon it starts a sim of its own and measures: a guest's serial READ over
// its ring, the same with 16 requests in flight, and dom0's serial READ over
// the socket with libxenstore.  It prints figures and never judges them.
//
// Every workload takes a Target (the sim, the guest's domain, the socket to
// use), so that a proxied mode can later run the same workloads with
// xsproxy between the clients and the daemon.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include <xenstore.h>
}

#include "sim_host.h"

namespace {

using Clock = std::chrono::steady_clock;

// What a workload runs against.  Direct mode: the daemon's socket and the
// guest's ring as the daemon sees it.  (A proxied mode fills in the proxy's
// socket; guests' rings are redirected by the shim's claims, transparently.)
struct Target {
    struct xssim *sim = nullptr;
    uint32_t guest = 1;          // a domain made by `xssim domain create`
    std::string socket;          // XENSTORED_PATH for dom0 clients
    std::string label;           // "oxenstored", later "oxenstored+xsproxy"
};

// How long each workload runs: N operations, or S seconds.
struct Budget {
    long ops = 0;
    double seconds = 2.0;
    bool done(long n, Clock::time_point start) const
    {
        if (ops > 0)
            return n >= ops;
        return std::chrono::duration<double>(Clock::now() - start).count() >= seconds;
    }
};

struct Result {
    std::string name;
    long ops = 0;
    double elapsed_s = 0;
    std::vector<double> lat_us;   // per operation, send to reply
    std::string error;            // non-empty: the workload failed
};

double percentile(std::vector<double> &v, double p)
{
    if (v.empty())
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(v.size() - 1) + 0.5);
    std::nth_element(v.begin(), v.begin() + (long)i, v.end());
    return v[i];
}

double us_since(Clock::time_point t)
{
    return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
}

const char kNode[] = "data/bench";
const char kValue[] = "0123456789abcdef";

// Guest READs one at a time over its ring.
Result ring_serial(const Target &t, const Budget &b)
{
    Result r;
    r.name = "guest ring, serial READ";
    struct xsg *g = xsg_open(t.sim, t.guest);
    if (!g) {
        r.error = std::string("xsg_open: ") + strerror(errno);
        return r;
    }
    if (xsg_write(g, 0, kNode, kValue, sizeof(kValue) - 1) != 0) {
        r.error = "cannot write the benchmark node";
        xsg_close(g);
        return r;
    }
    auto msg = std::make_unique<xsg_msg>();
    auto start = Clock::now();
    while (!b.done(r.ops, start)) {
        auto t0 = Clock::now();
        if (xsg_request(g, XS_READ, 0, kNode, sizeof(kNode), msg.get(), 10000) < 0 ||
            msg->hdr.type != XS_READ) {
            r.error = "READ failed";
            break;
        }
        r.lat_us.push_back(us_since(t0));
        r.ops++;
    }
    r.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
    xsg_close(g);
    return r;
}

// Guest READs with DEPTH requests in flight, each with its own req_id.
Result ring_pipelined(const Target &t, const Budget &b, unsigned depth)
{
    Result r;
    r.name = "guest ring, " + std::to_string(depth) + " READs in flight";
    struct xsg *g = xsg_open(t.sim, t.guest);
    if (!g) {
        r.error = std::string("xsg_open: ") + strerror(errno);
        return r;
    }
    if (xsg_write(g, 0, kNode, kValue, sizeof(kValue) - 1) != 0) {
        r.error = "cannot write the benchmark node";
        xsg_close(g);
        return r;
    }
    auto msg = std::make_unique<xsg_msg>();
    std::map<uint32_t, Clock::time_point> in_flight;
    uint32_t next_id = 0x10000;
    long sent = 0;
    auto start = Clock::now();
    bool stopping = false;
    while (!(stopping && in_flight.empty())) {
        if (!stopping && b.done(sent, start))
            stopping = true;
        while (!stopping && in_flight.size() < depth) {
            uint32_t id = next_id++;
            in_flight[id] = Clock::now();
            if (xsg_send(g, XS_READ, id, 0, kNode, sizeof(kNode), 10000) < 0) {
                r.error = std::string("xsg_send: ") + strerror(errno);
                break;
            }
            sent++;
            if (b.done(sent, start))
                stopping = true;
        }
        if (!r.error.empty())
            break;
        int rc = xsg_recv(g, msg.get(), 10000);
        if (rc != 1) {
            r.error = rc == 0 ? "timed out waiting for a reply" : strerror(errno);
            break;
        }
        auto it = in_flight.find(msg->hdr.req_id);
        if (it == in_flight.end() || msg->hdr.type != XS_READ) {
            r.error = "unexpected reply (type " + std::to_string(msg->hdr.type) + ", req_id " +
                      std::to_string(msg->hdr.req_id) + ")";
            break;
        }
        r.lat_us.push_back(us_since(it->second));
        in_flight.erase(it);
        r.ops++;
    }
    r.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
    xsg_close(g);
    return r;
}

// dom0 READs one at a time over the socket, with libxenstore.
Result socket_serial(const Target &t, const Budget &b)
{
    Result r;
    r.name = "dom0 socket, serial xs_read";
    setenv("XENSTORED_PATH", t.socket.c_str(), 1);
    struct xs_handle *xs = xs_open(0);
    if (!xs) {
        r.error = std::string("xs_open: ") + strerror(errno);
        return r;
    }
    const char path[] = "/bench/dom0";
    if (!xs_write(xs, XBT_NULL, path, kValue, sizeof(kValue) - 1)) {
        r.error = std::string("xs_write: ") + strerror(errno);
        xs_close(xs);
        return r;
    }
    auto start = Clock::now();
    while (!b.done(r.ops, start)) {
        auto t0 = Clock::now();
        unsigned len = 0;
        void *v = xs_read(xs, XBT_NULL, path, &len);
        if (!v) {
            r.error = std::string("xs_read: ") + strerror(errno);
            break;
        }
        free(v);
        r.lat_us.push_back(us_since(t0));
        r.ops++;
    }
    r.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
    xs_close(xs);
    return r;
}

void print_header()
{
    printf("%-26s %-34s %9s %11s %9s %9s %9s\n", "target", "workload", "ops", "ops/s",
           "mean us", "p50 us", "p99 us");
}

void print_result(const Target &t, Result &r)
{
    if (!r.error.empty()) {
        printf("%-26s %-34s FAILED: %s\n", t.label.c_str(), r.name.c_str(), r.error.c_str());
        return;
    }
    double mean = r.ops ? r.elapsed_s * 1e6 / (double)r.ops : 0;
    double rate = r.elapsed_s > 0 ? (double)r.ops / r.elapsed_s : 0;
    double p50 = percentile(r.lat_us, 50), p99 = percentile(r.lat_us, 99);
    printf("%-26s %-34s %9ld %11.0f %9.1f %9.1f %9.1f\n", t.label.c_str(), r.name.c_str(), r.ops,
           rate, mean, p50, p99);
    fflush(stdout);
}

void usage(FILE *f)
{
    fprintf(f,
            "usage: xsbench [--seconds S | --ops N] [--daemon oxenstored|xenstored|both]\n"
            "               [--depth D]\n"
            "Starts each daemon on a sim of its own and measures xenstore round trips:\n"
            "a guest's serial READ over its ring, D (16) READs in flight, and dom0's\n"
            "serial xs_read over the socket.  Each workload runs S seconds (default 2)\n"
            "or N operations.  \"mean us\" is wall time per operation (1/throughput);\n"
            "p50/p99 are per-request latencies.\n");
}

}  // namespace

int main(int argc, char **argv)
{
    Budget budget;
    unsigned depth = 16;
    std::vector<xssim_daemon> daemons = { XSSIM_OXENSTORED, XSSIM_XENSTORED };
    static const struct option opts[] = {
        { "seconds", required_argument, nullptr, 's' },
        { "ops", required_argument, nullptr, 'n' },
        { "daemon", required_argument, nullptr, 'd' },
        { "depth", required_argument, nullptr, 'D' },
        { "help", no_argument, nullptr, 'h' },
        { nullptr, 0, nullptr, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "s:n:d:D:h", opts, nullptr)) != -1) {
        switch (c) {
        case 's':
            budget.seconds = atof(optarg);
            budget.ops = 0;
            if (budget.seconds <= 0) {
                usage(stderr);
                return 2;
            }
            break;
        case 'n':
            budget.ops = atol(optarg);
            if (budget.ops <= 0) {
                usage(stderr);
                return 2;
            }
            break;
        case 'd':
            if (strcmp(optarg, "oxenstored") == 0)
                daemons = { XSSIM_OXENSTORED };
            else if (strcmp(optarg, "xenstored") == 0)
                daemons = { XSSIM_XENSTORED };
            else if (strcmp(optarg, "both") == 0)
                daemons = { XSSIM_OXENSTORED, XSSIM_XENSTORED };
            else {
                usage(stderr);
                return 2;
            }
            break;
        case 'D':
            depth = (unsigned)atoi(optarg);
            if (depth < 1 || depth > 32) {
                fprintf(stderr, "xsbench: --depth must be 1..32 (32 READs fill the 1024-byte ring)\n");
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    if (budget.ops > 0)
        printf("xsbench: %ld operations per workload\n", budget.ops);
    else
        printf("xsbench: %.1f s per workload\n", budget.seconds);
    print_header();
    int failures = 0;
    for (xssim_daemon d : daemons) {
        xstest::SimHost host(d);
        if (!host.ok()) {
            fprintf(stderr, "xsbench: %s did not come up\n", xssim_daemon_name(d));
            failures++;
            continue;
        }
        Target t;
        t.label = xssim_daemon_name(d);
        t.sim = host.attach();
        t.socket = host.socket_path();
        if (!t.sim || !host.create_domain(t.guest)) {
            failures++;
            continue;
        }
        std::vector<std::function<Result()>> workloads = {
            [&] { return ring_serial(t, budget); },
            [&] { return ring_pipelined(t, budget, depth); },
            [&] { return socket_serial(t, budget); },
        };
        for (auto &w : workloads) {
            Result r = w();
            print_result(t, r);
            if (!r.error.empty())
                failures++;
        }
    }
    return failures ? 1 : 0;
}
