// xsbench - xenstore round-trip benchmark on the simulated host, directly
// against each daemon and through xsproxy.  For each daemon it starts one
// sim (tests/workload.h's Store) with xsproxy in front of the daemon, and
// creates two sets of N domains on it: 1..N introduced to the daemon
// directly (their rings go to the daemon), N+1..2N introduced through
// xsproxy (inserted: their rings go through xsproxy).  The same workloads
// then run on both sets, direct and proxied alternately:
//   - guests on their rings, serial READ, serial WRITE and DEPTH (16) READs
//     in flight, each on 1 domain and on N (100) domains at once;
//   - dom0's serial xs_read over a socket (the daemon's, xsproxy's).
// It prints each run, then per daemon the proxied/direct comparison (ops/s
// ratio, p50 added) with the goal beside each, and xsproxy's resident
// memory per inserted idle domain.
// It prints figures and never judges them: the exit code is non-zero only
// when a workload (or setting it up) fails.
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

extern "C" {
#include <xenstore.h>
}

#include "bench_common.h"
#include "null_relay.h"
#include "sim_host.h"
#include "workload.h"

namespace {

using namespace xsbench;

// What a workload runs against: the sim, the guests' domains (introduced to
// the daemon directly, or through xsproxy), dom0's socket.
struct Target {
    struct xssim *sim = nullptr;
    std::vector<uint32_t> domains;
    std::string socket;          // XENSTORED_PATH for dom0 clients
    std::string label;           // "oxenstored" or "oxenstored+xsproxy"
    pid_t daemon = -1;           // xenstored's pid, for its event counts
};

// How long each workload runs: N operations, or S seconds.
struct Budget {
    long ops = 0;
    double seconds = 2.0;
    bool done(long n, Clock::time_point start) const
    {
        if (ops > 0)
            return n >= ops;
        return seconds_since(start) >= seconds;
    }
};

struct Result {
    long ops = 0;
    double elapsed_s = 0;
    std::vector<double> lat_us;   // per operation, send to reply
    std::string error;            // non-empty: the workload failed
    double daemon_reads = -1;     // the daemon's reads of its event channel
                                  // per operation (-1: unknown): how many
                                  // requests it finds per wake-up

    double rate() const { return elapsed_s > 0 ? (double)ops / elapsed_s : 0; }
};

std::string domains_text(size_t n)
{
    return std::to_string(n) + (n == 1 ? " domain" : " domains");
}

const char kNode[] = "data/bench";   // relative: /local/domain/D/data/bench
const char kValue[] = "0123456789abcdef";

// One workload: guests on their rings (DOMAINS of them at once, DEPTH
// requests in flight each, OP READ or WRITE), or dom0 over the socket.
struct Workload {
    std::string name;
    bool socket = false;
    unsigned domains = 1;
    unsigned depth = 1;
    uint32_t op = XS_READ;
    // the project's performance goal: proxied/direct ops
    // ratio at least this, and p50 added at most this (0: none)
    double goal_ratio = 0, goal_p50_added_us = 0;
};

// The goal column's text for W.
std::string goal_text(const Workload &w)
{
    char b[64] = "";
    if (w.goal_ratio > 0 && w.goal_p50_added_us > 0)
        snprintf(b, sizeof(b), ">= %.2f, +<= %.0f us", w.goal_ratio, w.goal_p50_added_us);
    else if (w.goal_ratio > 0)
        snprintf(b, sizeof(b), ">= %.2f", w.goal_ratio);
    return b[0] ? b : "-";
}

// req_ids are unique over the whole run, so a late reply to a workload that
// failed is recognised as such by the next one on the same ring.
uint32_t next_req_id = 0x10000;

struct Guest {
    uint32_t domid = 0;
    struct xsg *g = nullptr;
    std::vector<std::pair<uint32_t, Clock::time_point>> in_flight;   // <= depth
};

// The driver: every guest opens its ring and writes its node first; then
// the loop tops every guest up to DEPTH requests in flight, polls all rings'
// event channels at once, and takes the replies from the rings that were
// notified, each matched to its request by req_id.  A request is only put
// on the ring when the whole of it fits, so xsg_send never waits (waiting
// would consume notifications meant for this loop).
Result ring_run(const Target &t, const Workload &w, const Budget &b)
{
    Result r;
    if (w.domains > t.domains.size()) {
        r.error = "not enough domains";
        return r;
    }
    std::vector<Guest> guests(w.domains);
    auto close_all = [&] {
        for (auto &gu : guests)
            xsg_close(gu.g);
    };
    for (unsigned i = 0; i < w.domains; i++) {
        guests[i].domid = t.domains[i];
        guests[i].g = xsg_open(t.sim, guests[i].domid);
        if (!guests[i].g) {
            r.error = "xsg_open(" + std::to_string(guests[i].domid) + "): " + strerror(errno);
            close_all();
            return r;
        }
        int rc = xsg_write(guests[i].g, 0, kNode, kValue, sizeof(kValue) - 1);
        if (rc != 0) {
            r.error = "domain " + std::to_string(guests[i].domid) +
                      " cannot write its node: " + strerror(rc < 0 ? errno : rc);
            close_all();
            return r;
        }
    }
    std::string payload(kNode, sizeof(kNode));   // with its NUL
    if (w.op == XS_WRITE)
        payload.append(kValue, sizeof(kValue) - 1);
    const uint32_t msg_len = (uint32_t)(sizeof(struct xsd_sockmsg) + payload.size());
    const uint32_t first_id = next_req_id;
    std::vector<struct pollfd> pfds(w.domains);
    for (unsigned i = 0; i < w.domains; i++)
        pfds[i] = { xsg_fd(guests[i].g), POLLIN, 0 };
    auto msg = std::make_unique<xsg_msg>();
    r.lat_us.reserve(1 << 16);
    long sent = 0, outstanding = 0;
    bool stopping = false;
    auto start = Clock::now();
    while (r.error.empty()) {
        for (auto &gu : guests) {
            if (stopping)
                break;
            struct xenstore_domain_interface *ring = xsg_ring(gu.g);
            while (gu.in_flight.size() < w.depth) {
                XENSTORE_RING_IDX cons = __atomic_load_n(&ring->req_cons, __ATOMIC_ACQUIRE);
                if (XENSTORE_RING_SIZE - (ring->req_prod - cons) < msg_len)
                    break;   // the rest after the next reply
                uint32_t id = next_req_id++;
                gu.in_flight.emplace_back(id, Clock::now());
                if (xsg_send(gu.g, w.op, id, 0, payload.data(), (uint32_t)payload.size(), 1000) < 0) {
                    r.error = "domain " + std::to_string(gu.domid) + ": xsg_send: " + strerror(errno);
                    break;
                }
                sent++;
                outstanding++;
                if (b.done(sent, start)) {
                    stopping = true;
                    break;
                }
            }
            if (!r.error.empty())
                break;
        }
        if (!r.error.empty())
            break;
        if (outstanding == 0) {
            if (!stopping)
                r.error = "no ring has room for a request";
            break;   // stopping, and every reply is in
        }
        int n = poll(pfds.data(), pfds.size(), 10000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r.error = std::string("poll: ") + strerror(errno);
            break;
        }
        if (n == 0) {
            r.error = "no reply for 10 s (" + std::to_string(outstanding) + " requests in flight)";
            break;
        }
        for (unsigned i = 0; i < w.domains && r.error.empty(); i++) {
            if (!(pfds[i].revents & POLLIN))
                continue;
            Guest &gu = guests[i];
            if (xsg_ack(gu.g) < 0) {
                r.error = "domain " + std::to_string(gu.domid) + ": xsg_ack: " + strerror(errno);
                break;
            }
            int rc;
            while ((rc = xsg_recv(gu.g, msg.get(), 0)) == 1) {
                uint32_t id = msg->hdr.req_id;
                if (msg->hdr.type == XS_WATCH_EVENT)
                    continue;
                auto it = std::find_if(gu.in_flight.begin(), gu.in_flight.end(),
                                       [id](const auto &p) { return p.first == id; });
                if (it == gu.in_flight.end()) {
                    if (id >= 0x10000 && id < first_id)
                        continue;   // a late reply to a workload that failed
                    r.error = "domain " + std::to_string(gu.domid) + ": a reply to no request (" +
                              xs_type_name(msg->hdr.type) + ", req_id " + std::to_string(id) + ")";
                    break;
                }
                if (msg->hdr.type != w.op) {
                    r.error = "domain " + std::to_string(gu.domid) + ": " + xs_type_name(w.op) +
                              " answered " + xs_type_name(msg->hdr.type) +
                              (msg->hdr.type == XS_ERROR ? std::string(" ") + msg->body : "");
                    break;
                }
                r.lat_us.push_back(us_since(it->second));
                *it = gu.in_flight.back();
                gu.in_flight.pop_back();
                outstanding--;
                r.ops++;
            }
            if (rc < 0 && r.error.empty())
                r.error = "domain " + std::to_string(gu.domid) + ": xsg_recv: " + strerror(errno);
        }
    }
    r.elapsed_s = seconds_since(start);
    close_all();
    return r;
}

// dom0 READs one at a time over the socket, with libxenstore.
Result socket_serial(const Target &t, const Budget &b)
{
    Result r;
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
    r.lat_us.reserve(1 << 16);
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
    r.elapsed_s = seconds_since(start);
    xs_close(xs);
    return r;
}

uint64_t evtchn_reads(const Target &t)
{
    struct xssim_calls c;
    if (t.daemon <= 0 || xssim_calls_of(t.sim, t.daemon, &c) < 0)
        return 0;
    uint64_t n = 0;
    for (unsigned w = 0; w < XSSIM_NR_CALLERS; w++)
        n += c.n[XSSIM_EVTCHN_READ][w];
    return n;
}

Result run_workload(const Target &t, const Workload &w, const Budget &b)
{
    uint64_t reads = evtchn_reads(t);
    Result r = w.socket ? socket_serial(t, b) : ring_run(t, w, b);
    uint64_t after = evtchn_reads(t);
    if (reads && after >= reads && r.ops > 0)
        r.daemon_reads = (double)(after - reads) / (double)r.ops;
    return r;
}

void print_header()
{
    printf("%-20s %-36s %9s %11s %9s %9s %9s\n", "target", "workload", "ops", "ops/s",
           "mean us", "p50 us", "p99 us");
}

void print_result(const Target &t, const Workload &w, Result &r)
{
    if (!r.error.empty()) {
        printf("%-20s %-36s FAILED: %s\n", t.label.c_str(), w.name.c_str(), r.error.c_str());
        fflush(stdout);
        return;
    }
    double mean = r.ops ? r.elapsed_s * 1e6 / (double)r.ops : 0;
    double p50 = percentile(r.lat_us, 50), p99 = percentile(r.lat_us, 99);
    printf("%-20s %-36s %9ld %11.0f %9.1f %9.1f %9.1f\n", t.label.c_str(), w.name.c_str(), r.ops,
           r.rate(), mean, p50, p99);
    fflush(stdout);
}

void print_comparison(const char *daemon, const std::vector<Workload> &ws,
                      std::vector<std::pair<Result, Result>> &rs)
{
    printf("\n%s: through xsproxy / direct\n", daemon);
    printf("%-36s %11s %11s %6s %8s %8s %8s %8s %8s %6s %6s  %s\n", "workload", "direct/s",
           "proxied/s", "ratio", "p50 dir", "p50 prx", "p50 +us", "p99 dir", "p99 prx", "ev dir",
           "ev prx", "goal");
    for (size_t i = 0; i < ws.size(); i++) {
        Result &d = rs[i].first, &p = rs[i].second;
        if (!d.error.empty() || !p.error.empty()) {
            printf("%-36s FAILED\n", ws[i].name.c_str());
            continue;
        }
        double d50 = percentile(d.lat_us, 50), p50 = percentile(p.lat_us, 50);
        double d99 = percentile(d.lat_us, 99), p99 = percentile(p.lat_us, 99);
        printf("%-36s %11.0f %11.0f %6.2f %8.1f %8.1f %8.1f %8.1f %8.1f %6.2f %6.2f  %s\n",
               ws[i].name.c_str(), d.rate(), p.rate(), ratio(p.rate(), d.rate()),
               d50, p50, p50 - d50, d99, p99, d.daemon_reads, p.daemon_reads,
               goal_text(ws[i]).c_str());
    }
    fflush(stdout);
}

// The same serial socket workload through a relay that only copies bytes
// (null_relay.h): what one more process costs a serial client here, the
// ceiling of any proxy's serial ratio.  SOCKET's results are the last
// workload's (dom0 socket), direct and through xsproxy.
void print_hop_floor(xstest::Store &store, const Target &direct, const Budget &b,
                     const std::pair<Result, Result> &socket)
{
    xstest::NullRelay relay = xstest::null_relay_start(store.dir() + "/null-relay.sock", direct.socket);
    if (relay.pid < 0) {
        printf("one more process: cannot start a null relay\n");
        return;
    }
    Target t = direct;
    t.socket = relay.path;
    Result r = socket_serial(t, b);
    xstest::null_relay_stop(relay);
    const Result &d = socket.first, &p = socket.second;
    if (!r.error.empty() || !d.error.empty() || !p.error.empty() || d.rate() <= 0 ||
        r.rate() <= 0) {
        printf("one more process: FAILED %s\n", r.error.c_str());
        return;
    }
    printf("one more process (dom0 socket, serial xs_read through a null relay): %.0f/s, "
           "p50 %.1f us: %.2f of direct, the ceiling of a serial ratio here; xsproxy gives "
           "%.2f of it\n",
           r.rate(), percentile(r.lat_us, 50), r.rate() / d.rate(), p.rate() / r.rate());
    fflush(stdout);
}

using xstest::read_rss;
using xstest::Rss;

// `xssim domain create D` for each of DOMAINS, with XENSTORED_PATH at SOCKET
// (the INTRODUCE goes there).  Prints how long it took.
bool create_domains(xstest::Store &store, const std::vector<uint32_t> &domains,
                    const std::string &socket, const char *what)
{
    auto t0 = Clock::now();
    for (uint32_t d : domains) {
        xstest::RunResult r = create_domain_at(store, d, socket, true);
        if (!r.ok()) {
            fprintf(stderr, "xsbench: xssim domain create %u (%s, exit %d): %s\n", d, what,
                    r.exit_code, r.err.c_str());
            return false;
        }
    }
    printf("%s created %s in %.1f s\n", domains_text(domains.size()).c_str(), what,
           seconds_since(t0));
    fflush(stdout);
    return true;
}

void usage(FILE *f)
{
    fprintf(f,
            "usage: xsbench [--seconds S | --ops N] [--daemon oxenstored|xenstored|both]\n"
            "               [--mode direct|proxied|both] [--domains N] [--depth D]\n"
            "For each daemon, starts one sim with xsproxy in front of the daemon, creates\n"
            "N (100) domains introduced to the daemon directly and N inserted in xsproxy,\n"
            "and runs the same workloads on both, direct and proxied alternately: guests'\n"
            "serial READ, serial WRITE and D (16) READs in flight over their rings, each\n"
            "on 1 domain and on N domains at once, and dom0's serial xs_read over the\n"
            "socket (the daemon's, xsproxy's).  Each workload runs S seconds (default 2)\n"
            "or N operations in all.  \"mean us\" is wall time per operation\n"
            "(1/throughput); p50/p99 are per-request latencies, send to reply.  With\n"
            "--mode both it then prints proxied/direct per workload (ops/s ratio, p50\n"
            "added) and xsproxy's resident memory per inserted idle domain.\n"
            "--mode direct runs without xsproxy; proxied only through it.\n");
}

}  // namespace

int main(int argc, char **argv)
{
    Budget budget;
    unsigned depth = 16, ndomains = 100;
    bool run_direct = true, run_proxied = true;
    std::vector<xssim_daemon> daemons = { XSSIM_OXENSTORED, XSSIM_XENSTORED };
    static const struct option opts[] = {
        { "seconds", required_argument, nullptr, 's' },
        { "ops", required_argument, nullptr, 'n' },
        { "daemon", required_argument, nullptr, 'd' },
        { "depth", required_argument, nullptr, 'D' },
        { "domains", required_argument, nullptr, 'N' },
        { "mode", required_argument, nullptr, 'm' },
        { "help", no_argument, nullptr, 'h' },
        { nullptr, 0, nullptr, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "s:n:d:D:N:m:h", opts, nullptr)) != -1) {
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
            if (!parse_daemons(optarg, &daemons)) {
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
        case 'N':
            ndomains = (unsigned)atoi(optarg);
            if (ndomains < 1 || ndomains > 1000) {
                fprintf(stderr, "xsbench: --domains must be 1..1000\n");
                return 2;
            }
            break;
        case 'm':
            run_direct = strcmp(optarg, "direct") == 0 || strcmp(optarg, "both") == 0;
            run_proxied = strcmp(optarg, "proxied") == 0 || strcmp(optarg, "both") == 0;
            if (!run_direct && !run_proxied) {
                usage(stderr);
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

    std::vector<Workload> workloads;
    std::vector<unsigned> sizes = { 1 };
    if (ndomains > 1)
        sizes.push_back(ndomains);
    for (unsigned n : sizes) {
        std::string doms = domains_text(n);
        bool many = n >= 100;   // the goals are for 1 and 100 domains
        workloads.push_back({ "ring serial READ, " + doms, false, n, 1, XS_READ,
                              many ? 0.9 : 0.7, many ? 0 : 12.0 });
        workloads.push_back({ "ring serial WRITE, " + doms, false, n, 1, XS_WRITE,
                              many ? 0.9 : 0, 0 });
        workloads.push_back({ "ring " + std::to_string(depth) + " READs in flight, " + doms,
                              false, n, depth, XS_READ, many && depth == 16 ? 0.95 : 0, 0 });
    }
    workloads.push_back({ "dom0 socket, serial xs_read", true, 0, 1, XS_READ, 0.9, 0 });

    if (budget.ops > 0)
        printf("xsbench: %ld operations per workload", budget.ops);
    else
        printf("xsbench: %.1f s per workload", budget.seconds);
    printf(", %s, %s\n", domains_text(ndomains).c_str(),
           run_direct && run_proxied ? "direct and through xsproxy"
           : run_direct              ? "direct"
                                     : "through xsproxy");
    int failures = 0;
    for (xssim_daemon d : daemons) {
        const char *name = xssim_daemon_name(d);
        printf("\n");
        xstest::Store store(d, run_proxied);
        if (!store.ok()) {
            fprintf(stderr, "xsbench: %s%s did not come up\n", name, run_proxied ? "+xsproxy" : "");
            failures++;
            continue;
        }
        Target direct, proxied;
        direct.label = name;
        direct.sim = proxied.sim = store.sim();
        direct.socket = store.host().socket_path();
        direct.daemon = proxied.daemon = store.host().daemon_pid();
        proxied.label = std::string(name) + "+xsproxy";
        proxied.socket = store.store_socket();
        for (uint32_t i = 1; i <= ndomains; i++) {
            direct.domains.push_back(i);
            proxied.domains.push_back(ndomains + i);
        }
        if (!direct.sim) {
            failures++;
            continue;
        }
        if (run_direct && !create_domains(store, direct.domains, direct.socket, "directly")) {
            failures++;
            continue;
        }
        Rss before, after;
        if (run_proxied) {
            before = read_rss(store.proxy_pid());
            if (!create_domains(store, proxied.domains, proxied.socket, "through xsproxy")) {
                failures++;
                continue;
            }
            after = read_rss(store.proxy_pid());
        }

        print_header();
        std::vector<std::pair<Result, Result>> results(workloads.size());
        for (size_t i = 0; i < workloads.size(); i++) {
            if (run_direct) {
                results[i].first = run_workload(direct, workloads[i], budget);
                print_result(direct, workloads[i], results[i].first);
                failures += !results[i].first.error.empty();
            }
            if (run_proxied) {
                results[i].second = run_workload(proxied, workloads[i], budget);
                print_result(proxied, workloads[i], results[i].second);
                failures += !results[i].second.error.empty();
            }
        }
        if (run_direct && run_proxied) {
            print_comparison(name, workloads, results);
            print_hop_floor(store, direct, budget, results.back());
        }
        if (run_proxied) {
            if (!store.proxy_alive()) {
                fprintf(stderr, "xsbench: xsproxy died; the end of its log:\n%s\n",
                        store.proxy_log().c_str());
                failures++;
            }
            if (before.total >= 0 && after.total >= 0) {
                double n = (double)ndomains;
                printf("%s+xsproxy resident memory: %ld KiB before, %ld KiB with %s inserted "
                       "(idle): %.1f KiB per domain (anon %.1f, file %.1f, shmem %.1f)\n",
                       name, before.total, after.total, domains_text(ndomains).c_str(),
                       (double)(after.total - before.total) / n,
                       (double)(after.anon - before.anon) / n,
                       (double)(after.file - before.file) / n,
                       (double)(after.shmem - before.shmem) / n);
            } else {
                printf("%s+xsproxy resident memory: cannot read /proc/%d/status\n", name,
                       (int)store.proxy_pid());
            }
            fflush(stdout);
        }
    }
    return failures ? 1 : 0;
}
