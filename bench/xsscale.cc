// xsscale - one xsproxy with a thousand inserted domains, on the simulated
// host.  It starts one sim with a daemon (oxenstored by default) and
// xsproxy in front of it, and then:
//   - creates N domains (1000) through xsproxy's socket (`xssim domain
//     create D`, whose INTRODUCE xsproxy takes: each is inserted), and has
//     every guest register W watches (3) on its own ring, write a node, read
//     it back and see the watch events; every domain that does not answer
//     is listed;
//   - prints xsproxy's resident memory (VmRSS, split anon/file/shmem, from
//     /proc/PID/status) before and after, per idle domain, and per domain
//     besides its two ring pages (the guest's and the shadow, 8 KiB), next
//     to the goal of <= 32 KiB;
//   - churns, R rounds (1): C new domains (50), created without INTRODUCE,
//     are inserted and released (`insert D`, `remove D release`), then C
//     domains the daemon serves directly are inserted live and handed back
//     (`insert D`, `remove D`), each an XS_CONTROL message on xsproxy's
//     socket as xsproxyctl sends it, timed to the answer; for reference C
//     more new domains get INTRODUCE and RELEASE straight at the daemon.
//     Meanwhile B (100) of the N domains run a serial WRITE/READ loop on
//     their rings, whose latencies are compared with S (5) seconds of the
//     same loop without churn;
//   - finally asks every domain to answer again, and one more domain to be
//     created through xsproxy.
// It prints figures and never judges them: the exit code is non-zero only
// when something fails (a domain that does not answer, an insertion
// refused: those are listed, and the churn stops at the first).
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_common.h"
#include "sim_host.h"
#include "workload.h"

namespace {

using namespace xsbench;
using namespace xstest;

const int kCtlTimeoutMs = 60000;

// ---- /proc (cpu_seconds is bench_common.h's, read_rss workload.h's) -------

int open_fds(pid_t pid)
{
    DIR *d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (!d)
        return -1;
    int n = 0;
    while (struct dirent *e = readdir(d))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

// ---- domains and guests --------------------------------------------------

// `xssim domain create D [--no-introduce]` with XENSTORED_PATH at SOCKET.
bool create_domain(Store &store, unsigned d, const std::string &socket, bool introduce,
                   std::string *err)
{
    RunResult r = create_domain_at(store, d, socket, introduce, 30000);
    if (!r.ok()) {
        *err = "xssim domain create " + std::to_string(d) + " (exit " +
               std::to_string(r.exit_code) + "): " + r.err;
        return false;
    }
    return true;
}

std::string errtext(int rc)
{
    return rc < 0 ? std::string(strerror(errno)) : std::string(xs_errno_name(rc));
}

// The path of a guest's watch I: data/w, control/shutdown, device, then
// data/w3, data/w4...
std::string watch_path(unsigned i)
{
    static const char *const first[] = { "data/w", "control/shutdown", "device" };
    return i < 3 ? first[i] : "data/w" + std::to_string(i);
}

// Guest D on its ring: W watches (3 by default), a write of data/w and a
// read of it, and the write's watch event.  "" when every step was
// answered as it should be.
std::string guest_setup(struct xssim *sim, unsigned d, unsigned watches)
{
    struct xsg *g = xsg_open(sim, d);
    if (!g)
        return std::string("xsg_open: ") + strerror(errno);
    std::string err;
    for (unsigned i = 0; i < watches && err.empty(); i++) {
        int rc = xsg_watch(g, watch_path(i).c_str(), ("w" + std::to_string(i)).c_str());
        if (rc != 0)
            err = "WATCH " + watch_path(i) + ": " + errtext(rc);
    }
    std::string value = "v" + std::to_string(d);
    if (err.empty()) {
        int rc = xsg_write(g, 0, "data/w", value.data(), (unsigned)value.size());
        if (rc != 0)
            err = "WRITE: " + errtext(rc);
    }
    if (err.empty()) {
        char *v = nullptr;
        unsigned len = 0;
        int rc = xsg_read(g, 0, "data/w", &v, &len);
        if (rc != 0)
            err = "READ: " + errtext(rc);
        else if (std::string(v, len) != value)
            err = "READ: " + std::string(v, len) + " instead of " + value;
        free(v);
    }
    // the events: one per watch at registration, and data/w's for the write
    unsigned events = 0, want = watches ? watches + 1 : 0;
    auto msg = std::make_unique<xsg_msg>();
    while (err.empty() && events < want) {
        int rc = xsg_next_event(g, msg.get(), 5000);
        if (rc != 1) {
            err = "watch events: " + std::to_string(events) + " of " + std::to_string(want);
            break;
        }
        events++;
    }
    xsg_close(g);
    return err;
}

// Guest D reads data/w (set up by guest_setup) or, when EXPECT is empty,
// its own name: "" when answered.
std::string guest_check(struct xssim *sim, unsigned d, const std::string &expect)
{
    struct xsg *g = xsg_open(sim, d);
    if (!g)
        return std::string("xsg_open: ") + strerror(errno);
    std::string err;
    char *v = nullptr;
    unsigned len = 0;
    const char *path = expect.empty() ? "name" : "data/w";
    std::string want = expect.empty() ? "guest" + std::to_string(d) : expect;
    int rc = xsg_read(g, 0, path, &v, &len);
    if (rc != 0)
        err = std::string("READ ") + path + ": " + errtext(rc);
    else if (std::string(v, len) != want)
        err = std::string("READ ") + path + ": " + std::string(v, len) + " instead of " + want;
    free(v);
    xsg_close(g);
    return err;
}

// ---- the busy domains ----------------------------------------------------

struct Run {
    long ops = 0;
    double elapsed_s = 0;
    std::vector<double> lat_us;
    std::vector<long> per_domain;   // requests answered, per busy domain
    std::string error;
    double mean_us() const
    {
        double sum = 0;
        for (double v : lat_us)
            sum += v;
        return lat_us.empty() ? 0 : sum / (double)lat_us.size();
    }
};

// B guests, each with one request at a time on its ring, alternately
// WRITE and READ of data/busy; one poll over all their event channels.
class Busy {
public:
    Busy(struct xssim *sim, std::vector<unsigned> domains) : sim_(sim), domains_(std::move(domains)) {}
    ~Busy()
    {
        for (auto &gu : guests_)
            xsg_close(gu.g);
    }
    std::string open()
    {
        for (unsigned d : domains_) {
            Guest gu;
            gu.domid = d;
            gu.g = xsg_open(sim_, d);
            if (!gu.g)
                return "xsg_open(" + std::to_string(d) + "): " + strerror(errno);
            guests_.push_back(gu);
        }
        return "";
    }
    // Until STOP is set or SECONDS have passed; every request answered
    // before it returns.
    Run run(double seconds, const std::atomic<bool> *stop)
    {
        Run r;
        r.per_domain.assign(guests_.size(), 0);
        std::vector<struct pollfd> pfds;
        for (auto &gu : guests_)
            pfds.push_back({ xsg_fd(gu.g), POLLIN, 0 });
        auto msg = std::make_unique<xsg_msg>();
        const std::string path("data/busy", sizeof("data/busy"));   // with its NUL
        const std::string value = "0123456789abcdef";
        long outstanding = 0;
        bool stopping = false;
        auto start = Clock::now();
        r.lat_us.reserve(1 << 18);
        while (r.error.empty()) {
            if (!stopping &&
                ((stop && stop->load()) || seconds_since(start) >= seconds))
                stopping = true;
            for (auto &gu : guests_) {
                if (stopping || gu.in_flight)
                    continue;
                gu.write = !gu.write;
                std::string body = gu.write ? path + value : path;
                gu.req = next_req_++;
                gu.sent = Clock::now();
                if (xsg_send(gu.g, gu.write ? XS_WRITE : XS_READ, gu.req, 0, body.data(),
                             (uint32_t)body.size(), 1000) < 0) {
                    r.error = "domain " + std::to_string(gu.domid) + ": xsg_send: " +
                              strerror(errno);
                    break;
                }
                gu.in_flight = true;
                outstanding++;
            }
            if (!r.error.empty() || (stopping && outstanding == 0))
                break;
            int n = poll(pfds.data(), pfds.size(), 10000);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                r.error = n == 0 ? "no reply for 10 s (" + std::to_string(outstanding) +
                                       " requests in flight)"
                                 : std::string("poll: ") + strerror(errno);
                break;
            }
            for (size_t i = 0; i < guests_.size() && r.error.empty(); i++) {
                if (!(pfds[i].revents & POLLIN))
                    continue;
                Guest &gu = guests_[i];
                if (xsg_ack(gu.g) < 0) {
                    r.error = "domain " + std::to_string(gu.domid) + ": xsg_ack: " + strerror(errno);
                    break;
                }
                int rc;
                while ((rc = xsg_recv(gu.g, msg.get(), 0)) == 1) {
                    if (msg->hdr.type == XS_WATCH_EVENT)
                        continue;
                    if (!gu.in_flight || msg->hdr.req_id != gu.req) {
                        r.error = "domain " + std::to_string(gu.domid) + ": a reply to no request";
                        break;
                    }
                    if (msg->hdr.type == XS_ERROR) {
                        r.error = "domain " + std::to_string(gu.domid) + ": " +
                                  (gu.write ? "WRITE" : "READ") + " answered " + msg->body;
                        break;
                    }
                    r.lat_us.push_back(us_since(gu.sent));
                    gu.in_flight = false;
                    outstanding--;
                    r.ops++;
                    r.per_domain[i]++;
                }
                if (rc < 0 && r.error.empty())
                    r.error = "domain " + std::to_string(gu.domid) + ": xsg_recv: " + strerror(errno);
            }
        }
        r.elapsed_s = seconds_since(start);
        return r;
    }

private:
    struct Guest {
        unsigned domid = 0;
        struct xsg *g = nullptr;
        bool in_flight = false, write = false;
        uint32_t req = 0;
        Clock::time_point sent;
    };
    struct xssim *sim_;
    std::vector<unsigned> domains_;
    std::vector<Guest> guests_;
    uint32_t next_req_ = 0x20000;
};

// ---- insert and remove ---------------------------------------------------

struct Churn {
    std::vector<double> insert, release, live_insert, hand_back, ref_introduce, ref_release;
    std::vector<std::string> failures;
    std::vector<long> rss_after_round;   // xsproxy's VmRSS, KiB
    unsigned rounds = 0;
    double elapsed_s = 0;
};

// One XS_CONTROL (or other request) on a dom0 connection, timed to its
// answer (ms); -1 and *ERR when it failed or was refused.
double timed(SockConn &c, uint32_t type, const std::vector<std::string> &words, std::string *err)
{
    WireMsg r;
    auto t0 = Clock::now();
    bool ok = c.request(type, 0, nul_join(words), &r, kCtlTimeoutMs);
    double ms = ms_since(t0);
    std::string what = type_name(type);
    for (auto &w : words)
        what += " " + w;
    if (!ok) {
        *err = what + ": " + c.error();
        return -1;
    }
    if (r.type != type) {
        *err = what + ": " + type_name(r.type) + " " + escape(r.body);
        return -1;
    }
    return ms;
}

struct ChurnCtx {
    Store &store;
    SockConn &proxy;    // xsproxy's socket: insert, remove
    SockConn &daemon;   // the daemon's own socket: the reference rows
    Churn out;

    bool fail(unsigned d, const std::string &what)
    {
        out.failures.push_back("domain " + std::to_string(d) + ": " + what);
        return false;
    }
    // D, created without INTRODUCE: insert, its guest reads, remove
    // release.  Then R, another such domain, for the reference: INTRODUCE
    // and RELEASE straight at the daemon.  (A released domain cannot come
    // back with the same nodes: C xenstored revokes a released domain's
    // permissions, so every round takes new domains.)
    bool fresh(unsigned d, unsigned r)
    {
        std::string err;
        double ms = timed(proxy, XS_CONTROL, { "insert", std::to_string(d) }, &err);
        if (ms < 0)
            return fail(d, err);
        out.insert.push_back(ms);
        if (!(err = guest_check(store.sim(), d, "")).empty())
            return fail(d, "inserted, then " + err);
        ms = timed(proxy, XS_CONTROL, { "remove", std::to_string(d), "release" }, &err);
        if (ms < 0)
            return fail(d, err);
        out.release.push_back(ms);

        struct xssim_dominfo di;
        if (xssim_domain_info(store.sim(), r, &di) < 0)
            return fail(r, std::string("xssim_domain_info: ") + strerror(errno));
        ms = timed(daemon, XS_INTRODUCE,
                   { std::to_string(r), std::to_string(di.ring_gfn), std::to_string(di.store_port) },
                   &err);
        if (ms < 0)
            return fail(r, err);
        out.ref_introduce.push_back(ms);
        ms = timed(daemon, XS_RELEASE, { std::to_string(r) }, &err);
        if (ms < 0)
            return fail(r, err);
        out.ref_release.push_back(ms);
        return true;
    }

    // D, served by the daemon: live insertion, its guest reads, hand back,
    // its guest reads (now straight from the daemon).
    bool live(unsigned d)
    {
        std::string err;
        double ms = timed(proxy, XS_CONTROL, { "insert", std::to_string(d) }, &err);
        if (ms < 0)
            return fail(d, err);
        out.live_insert.push_back(ms);
        if (!(err = guest_check(store.sim(), d, "")).empty())
            return fail(d, "inserted live, then " + err);
        ms = timed(proxy, XS_CONTROL, { "remove", std::to_string(d) }, &err);
        if (ms < 0)
            return fail(d, err);
        out.hand_back.push_back(ms);
        if (!(err = guest_check(store.sim(), d, "")).empty())
            return fail(d, "handed back, then " + err);
        return true;
    }
};

// ---- output --------------------------------------------------------------

void print_rss_row(const char *what, const Rss &r)
{
    printf("  %-34s %8ld %8ld %8ld %8ld\n", what, r.total, r.anon, r.file, r.shmem);
}

void print_per_domain(const char *what, const Rss &a, const Rss &b, unsigned n)
{
    double k = (double)n;
    printf("  %-34s %8.1f %8.1f %8.1f %8.1f\n", what, (double)(b.total - a.total) / k,
           (double)(b.anon - a.anon) / k, (double)(b.file - a.file) / k,
           (double)(b.shmem - a.shmem) / k);
}

void print_ops(const char *what, const std::vector<double> &v)
{
    if (v.empty()) {
        printf("  %-38s %5s\n", what, "none");
        return;
    }
    printf("  %-38s %5zu %8.2f %8.2f %8.2f\n", what, v.size(), percentile(v, 50),
           percentile(v, 99), *std::max_element(v.begin(), v.end()));
}

void print_run(const char *what, Run &r)
{
    if (!r.error.empty()) {
        printf("  %-22s FAILED: %s\n", what, r.error.c_str());
        return;
    }
    long lo = 0, hi = 0;
    if (!r.per_domain.empty()) {
        lo = *std::min_element(r.per_domain.begin(), r.per_domain.end());
        hi = *std::max_element(r.per_domain.begin(), r.per_domain.end());
    }
    printf("  %-22s %5.1f %8ld %7.0f %8.1f %8.1f %8.1f %8.1f %6ld..%ld\n", what, r.elapsed_s, r.ops,
           ratio((double)r.ops, r.elapsed_s), r.mean_us() / 1000, percentile(r.lat_us, 50) / 1000,
           percentile(r.lat_us, 99) / 1000,
           r.lat_us.empty() ? 0 : *std::max_element(r.lat_us.begin(), r.lat_us.end()) / 1000, lo,
           hi);
}

void list_failures(const std::vector<std::pair<unsigned, std::string>> &f, size_t max = 10)
{
    for (size_t i = 0; i < f.size() && i < max; i++)
        printf("    domain %u: %s\n", f[i].first, f[i].second.c_str());
    if (f.size() > max)
        printf("    ... and %zu more\n", f.size() - max);
}

struct Options {
    unsigned domains = 1000, churn = 50, busy = 100, watches = 3, rounds = 1;
    double seconds = 5;
};

int run_daemon(xssim_daemon daemon, const Options &o)
{
    const char *name = xssim_daemon_name(daemon);
    int failures = 0;
    printf("xsscale: %s with xsproxy in front; %u domains inserted, %u of them busy; %u new and "
           "%u live domains churned\n",
           name, o.domains, o.busy, o.churn, o.churn);
    fflush(stdout);
    Store store(daemon, true);
    if (!store.ok()) {
        fprintf(stderr, "xsscale: %s+xsproxy did not come up\n", name);
        return 1;
    }
    struct xssim *sim = store.sim();
    pid_t proxy = store.proxy_pid(), dpid = store.host().daemon_pid();
    const std::string proxy_socket = store.store_socket();
    const std::string daemon_socket = store.host().socket_path();

    // -- 1. N domains through xsproxy, each guest busy for a moment
    printf("\n== %u domains created through xsproxy's socket (each inserted at its INTRODUCE)\n",
           o.domains);
    fflush(stdout);
    Rss before = read_rss(proxy);
    int fds_before = open_fds(proxy);
    std::vector<std::pair<unsigned, std::string>> bad;
    auto t0 = Clock::now();
    std::vector<unsigned> created;
    for (unsigned d = 1; d <= o.domains; d++) {
        std::string err;
        if (create_domain(store, d, proxy_socket, true, &err))
            created.push_back(d);
        else
            bad.emplace_back(d, err);
    }
    double create_s = seconds_since(t0);
    printf("  created %zu of %u in %.1f s (%.1f ms each: `xssim domain create`, a process,\n"
           "  libxl's nodes in a transaction and INTRODUCE)\n",
           created.size(), o.domains, create_s, create_s * 1000 / o.domains);
    if (!bad.empty()) {
        printf("  NOT CREATED: %zu\n", bad.size());
        list_failures(bad);
        failures += (int)bad.size();
        bad.clear();
    }
    fflush(stdout);
    Rss idle = read_rss(proxy);

    t0 = Clock::now();
    std::vector<unsigned> served;
    for (unsigned d : created) {
        std::string err = guest_setup(sim, d, o.watches);
        if (err.empty())
            served.push_back(d);
        else
            bad.emplace_back(d, err);
    }
    printf("  guests: %u watches, a write, a read and the watch events each, in %.1f s: %zu of "
           "%zu answered\n",
           o.watches, seconds_since(t0), served.size(), created.size());
    if (!bad.empty()) {
        printf("  DID NOT ANSWER: %zu\n", bad.size());
        list_failures(bad);
        failures += (int)bad.size();
        bad.clear();
    }
    sleep_ms(500);   // let xsproxy settle before reading its memory
    Rss watched = read_rss(proxy);
    int fds_after = open_fds(proxy);
    double cpu0 = cpu_seconds(proxy), dcpu0 = cpu_seconds(dpid);
    auto c0 = Clock::now();
    sleep_ms(2000);
    double idle_s = seconds_since(c0);
    double proxy_cpu = (cpu_seconds(proxy) - cpu0) / idle_s * 100;
    double daemon_cpu = (cpu_seconds(dpid) - dcpu0) / idle_s * 100;

    // -- 2. memory
    unsigned n = o.domains;
    printf("\n== xsproxy's memory (VmRSS, KiB)           %8s %8s %8s %8s\n", "total", "anon",
           "file", "shmem");
    print_rss_row("before", before);
    print_rss_row("domains inserted, idle", idle);
    print_rss_row("after the guests' requests", watched);
    print_per_domain("per domain, idle", before, idle, n);
    print_per_domain(("per domain, with its " + std::to_string(o.watches) + " watches").c_str(),
                     before, watched, n);
    double per_domain = (double)(watched.total - before.total) / n;
    double besides = per_domain - 8.0;
    printf("  besides the two ring pages (8 KiB)  %8.1f KiB per domain  (goal <= 32 KiB)\n", besides);
    printf("  open files: %d before, %d after; CPU while all idle: xsproxy %.1f%%, %s %.1f%%\n",
           fds_before, fds_after, proxy_cpu, name, daemon_cpu);
    fflush(stdout);

    // -- 3. churn while B domains are busy
    // C domains the daemon serves (introduced straight to it), and for
    // every round 2C created without INTRODUCE (half for xsproxy's insert,
    // half for the reference), all made now: the churn itself is only
    // messages on xsproxy's and the daemon's sockets, and guests' reads
    std::vector<unsigned> live, pool;
    unsigned next_domid = o.domains + 1;
    for (unsigned i = 0; i < o.churn; i++) {
        unsigned l = next_domid++;
        std::string err;
        if (create_domain(store, l, daemon_socket, true, &err))
            live.push_back(l);
        else
            bad.emplace_back(l, err);
    }
    for (unsigned i = 0; i < 2 * o.churn * o.rounds; i++) {
        unsigned f = next_domid++;
        std::string err;
        if (create_domain(store, f, proxy_socket, false, &err))
            pool.push_back(f);
        else
            bad.emplace_back(f, err);
    }
    if (!bad.empty()) {
        printf("  churn domains NOT CREATED: %zu\n", bad.size());
        list_failures(bad);
        failures += (int)bad.size();
        bad.clear();
    }
    std::vector<unsigned> busy_doms(served.begin(),
                                    served.begin() + std::min<size_t>(o.busy, served.size()));
    Busy busy(sim, busy_doms);
    std::string err = busy.open();
    auto ctl = SockConn::connect(proxy_socket);
    auto dctl = SockConn::connect(daemon_socket);
    if (!err.empty() || !ctl || !dctl) {
        fprintf(stderr, "xsscale: %s\n", err.empty() ? "cannot connect" : err.c_str());
        return failures + 1;
    }
    Run quiet = busy.run(o.seconds, nullptr);
    std::atomic<bool> stop{ false };
    Run during;
    std::thread loader([&] { during = busy.run(1e9, &stop); });
    ChurnCtx cx{ store, *ctl, *dctl, {} };
    Churn &ch = cx.out;
    Rss pre_churn = read_rss(proxy);
    sleep_ms(200);   // the loop is running
    // R rounds: C domains inserted and released (and C introduced and
    // released straight at the daemon), then the C live ones inserted and
    // handed back; the churn stops at the first failure
    auto cstart = Clock::now();
    size_t next = 0;
    for (unsigned r = 0; r < o.rounds && ch.failures.empty(); r++) {
        for (unsigned i = 0; i < o.churn && next + 1 < pool.size(); i++, next += 2)
            if (!cx.fresh(pool[next], pool[next + 1]))
                break;
        for (size_t i = 0; i < live.size() && ch.failures.empty(); i++)
            if (!cx.live(live[i]))
                break;
        ch.rounds++;
        ch.rss_after_round.push_back(read_rss(proxy).total);
    }
    ch.elapsed_s = seconds_since(cstart);
    stop = true;
    loader.join();
    failures += (int)ch.failures.size() + !quiet.error.empty() + !during.error.empty();

    printf("\n== insert and remove, timed to the answer on xsproxy's socket, while %zu domains are "
           "busy\n",
           busy_doms.size());
    printf("  %-38s %5s %8s %8s %8s\n", "(ms)", "n", "p50", "p99", "max");
    print_ops("insert D, created without INTRODUCE", ch.insert);
    print_ops("remove D release", ch.release);
    print_ops("insert D, served by the daemon (live)", ch.live_insert);
    print_ops("remove D (handed back to the daemon)", ch.hand_back);
    printf("  reference, straight at the daemon's socket:\n");
    print_ops("  INTRODUCE D", ch.ref_introduce);
    print_ops("  RELEASE D", ch.ref_release);
    printf("  %u round%s of %u + %u new and %zu live domains in %.1f s, every guest's read "
           "checked: %zu failed%s\n",
           ch.rounds, ch.rounds == 1 ? "" : "s", o.churn, o.churn, live.size(), ch.elapsed_s,
           ch.failures.size(), ch.failures.empty() ? "" : ", the churn stopped at the first");
    for (size_t i = 0; i < ch.failures.size() && i < 10; i++)
        printf("    %s\n", ch.failures[i].c_str());
    if (!ch.failures.empty()) {   // xsproxy logs why it refused
        std::string log = store.proxy_log();
        std::vector<std::string> lines;
        std::istringstream in(log);
        for (std::string l; std::getline(in, l);)
            if (l.find("warn") != std::string::npos || l.find("error") != std::string::npos)
                lines.push_back(l);
        printf("  xsproxy's log, its last warnings:\n");
        for (size_t i = lines.size() > 6 ? lines.size() - 6 : 0; i < lines.size(); i++)
            printf("    %s\n", lines[i].c_str());
    }

    printf("\n== the %zu busy domains: serial WRITE/READ on each ring\n", busy_doms.size());
    printf("  %-22s %5s %8s %7s %8s %8s %8s %8s %s\n", "(latency in ms)", "s", "requests",
           "per s", "mean", "p50", "p99", "max", "per domain");
    print_run("without churn", quiet);
    print_run("during the churn", during);

    // -- 4. everyone still answers
    t0 = Clock::now();
    size_t answered = 0;
    for (unsigned d : served) {
        std::string e = guest_check(sim, d, "v" + std::to_string(d));
        if (e.empty())
            answered++;
        else
            bad.emplace_back(d, e);
    }
    unsigned extra = next_domid++;
    std::string extra_err;
    bool extra_ok = create_domain(store, extra, proxy_socket, true, &extra_err) &&
                    (extra_err = guest_setup(sim, extra, o.watches)).empty();
    printf("\n== afterwards\n");
    printf("  a new domain through xsproxy's socket: %s\n",
           extra_ok ? "inserted and answered" : ("FAILED: " + extra_err).c_str());
    failures += !extra_ok;
    printf("  %zu of %zu domains answered again (%.1f s)%s\n", answered, served.size(),
           seconds_since(t0), store.proxy_alive() ? "" : "; xsproxy DIED");
    std::string rounds_rss;
    for (long k : ch.rss_after_round)
        rounds_rss += (rounds_rss.empty() ? "" : ", ") + std::to_string(k);
    printf("  xsproxy's VmRSS: %ld KiB before the busy loop, %ld before the churn, after each "
           "round %s\n",
           watched.total, pre_churn.total, rounds_rss.c_str());
    if (!bad.empty()) {
        list_failures(bad);
        failures += (int)bad.size();
    }
    if (!store.proxy_alive()) {
        fprintf(stderr, "xsscale: xsproxy died; the end of its log:\n%s\n", store.proxy_log().c_str());
        failures++;
    }
    printf("\n%s, %u domains: %.1f KiB/domain besides rings = %.2f of the 32 KiB goal; p50 insert "
           "%.1f / release %.1f / live insert %.1f / hand back %.1f ms; busy during churn: mean "
           "x%.2f, p99 x%.2f, throughput x%.2f\n",
           name, o.domains, besides, besides / 32.0, percentile(ch.insert, 50),
           percentile(ch.release, 50), percentile(ch.live_insert, 50),
           percentile(ch.hand_back, 50), ratio(during.mean_us(), quiet.mean_us()),
           ratio(percentile(during.lat_us, 99), percentile(quiet.lat_us, 99)),
           ratio((double)during.ops / std::max(1e-9, during.elapsed_s),
                 (double)quiet.ops / std::max(1e-9, quiet.elapsed_s)));
    fflush(stdout);
    return failures;
}

void usage(FILE *f)
{
    fprintf(f,
            "usage: xsscale [--daemon oxenstored|xenstored|both] [--domains N] [--churn C]\n"
            "               [--busy B] [--seconds S] [--watches W] [--rounds R]\n"
            "One xsproxy with N (1000) domains inserted through its socket, each guest with\n"
            "W (3) watches, a write and a read: xsproxy's memory per domain; then R (1)\n"
            "rounds of C (50) insertions and releases of domains created without INTRODUCE\n"
            "and C live insertions and hand-backs of domains the daemon serves, timed,\n"
            "while B (100) of the domains run a serial WRITE/READ loop, whose latency is\n"
            "compared with S (5) seconds of the same loop without churn.\n"
            "Prints figures; the exit code is non-zero only when something fails (a domain\n"
            "that does not answer, an insertion refused).\n");
}

}  // namespace

int main(int argc, char **argv)
{
    Options o;
    std::vector<xssim_daemon> daemons = { XSSIM_OXENSTORED };
    static const struct option opts[] = {
        { "daemon", required_argument, nullptr, 'd' },
        { "domains", required_argument, nullptr, 'N' },
        { "churn", required_argument, nullptr, 'c' },
        { "busy", required_argument, nullptr, 'b' },
        { "seconds", required_argument, nullptr, 's' },
        { "watches", required_argument, nullptr, 'w' },
        { "rounds", required_argument, nullptr, 'r' },
        { "help", no_argument, nullptr, 'h' },
        { nullptr, 0, nullptr, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "d:N:c:b:s:w:r:h", opts, nullptr)) != -1) {
        switch (c) {
        case 'd':
            if (!parse_daemons(optarg, &daemons)) {
                usage(stderr);
                return 2;
            }
            break;
        case 'N':
            o.domains = (unsigned)atoi(optarg);
            break;
        case 'c':
            o.churn = (unsigned)atoi(optarg);
            break;
        case 'b':
            o.busy = (unsigned)atoi(optarg);
            break;
        case 's':
            o.seconds = atof(optarg);
            break;
        case 'w':
            o.watches = (unsigned)atoi(optarg);
            break;
        case 'r':
            o.rounds = (unsigned)atoi(optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || o.domains < 1 || o.rounds < 1 || o.domains + o.churn * (1 + 2 * o.rounds) > 4000 || o.busy < 1 ||
        o.seconds <= 0 || o.watches > 100) {
        usage(stderr);
        return 2;
    }
    int failures = 0;
    for (size_t i = 0; i < daemons.size(); i++) {
        if (i)
            printf("\n");
        failures += run_daemon(daemons[i], o);
    }
    return failures ? 1 : 0;
}
