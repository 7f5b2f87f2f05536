// xslivebench - live insertion of a busy guest, timed.  On a simulated host
// with xsproxy in front of the daemon, domains 5 and 6 (served by the
// daemon directly) run the busy workload of the live-insertion suite
// (busy_guest.h: serial writes read back, a transaction every fifth round,
// a watch fired by every write).  After S seconds (2) of that alone, domain
// 5 is inserted live and handed back N times (100), each an XS_CONTROL
// message on xsproxy's socket as xsproxyctl sends it, timed to its answer;
// a removal refused as busy is asked again, as an operator would.  It
// prints the insert and remove times beside their goals and both guests'
// rate during the cycles against their rate alone, from one run.  It
// never judges: the exit code is non-zero only when something fails (an
// insertion refused, a guest that stops being answered).
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "busy_guest.h"
#include "sim_host.h"
#include "workload.h"

namespace {

using namespace xsbench;
using namespace xstest;

// Goals (milliseconds): an insertion or a hand-back of a busy guest, and
// the bound live.c keeps to (SWITCH_TRY_MS + SWITCH_ANSWER_MS).
const double kGoalP99Ms = 50, kBoundMs = 5000;

struct Options {
    std::vector<xssim_daemon> daemons{ XSSIM_OXENSTORED, XSSIM_XENSTORED };
    int cycles = 100;
    int quiet_s = 2;
};

struct Figures {
    std::vector<double> insert_ms, remove_ms;
    int refused = 0;
    double quiet_rate[2] = {}, busy_rate[2] = {};
    std::string failure;
};

// Rounds per second of W over MS milliseconds, from START rounds.
double rate(const Worker &w, int start, int64_t ms)
{
    return ms > 0 ? (w.rounds_done - start) * 1000.0 / (double)ms : 0;
}

// A control command on CTL, timed; "" when it succeeded, else the error.
std::string control(SockConn &ctl, const std::string &cmd, unsigned dom, double *ms)
{
    WireMsg r;
    auto start = Clock::now();
    bool sent = ctl.request(XS_CONTROL, 0, nul_join({ cmd, std::to_string(dom) }), &r, 10000);
    *ms = ms_since(start);
    if (!sent)
        return "no answer: " + ctl.error();
    return r.type == XS_ERROR ? escape(r.body) : "";
}

Figures run(xssim_daemon daemon, const Options &o)
{
    Figures f;
    Store store(daemon, true);
    if (!store.ok() || !store.host().create_domain(5) || !store.host().create_domain(6)) {
        f.failure = "the host did not come up";
        return f;
    }
    Worker w[2];
    std::atomic<bool> stop{ false };
    std::thread t5(busy_guest, std::ref(store), 5u, &w[0], std::cref(stop), -1);
    std::thread t6(busy_guest, std::ref(store), 6u, &w[1], std::cref(stop), -1);
    auto ctl = store.dom0();
    int64_t t0 = mono_ms();
    sleep_ms(o.quiet_s * 1000);
    int64_t t1 = mono_ms();
    int at1[2] = { w[0].rounds_done, w[1].rounds_done };
    for (int i = 0; i < 2; i++)
        f.quiet_rate[i] = rate(w[i], 0, t1 - t0);
    for (int c = 0; c < o.cycles && f.failure.empty() && w[0].problem.empty() &&
                    w[1].problem.empty();
         c++) {
        double ms;
        std::string err = control(*ctl, "insert", 5, &ms);
        if (!err.empty()) {
            f.failure = "insert 5, cycle " + std::to_string(c) + ": " + err;
            break;
        }
        f.insert_ms.push_back(ms);
        for (int attempt = 0;; attempt++) {
            err = control(*ctl, "remove", 5, &ms);
            if (err.empty()) {
                f.remove_ms.push_back(ms);
                break;
            }
            if (err != escape(nul_join({ "EBUSY" })) || attempt == 10) {
                f.failure = "remove 5, cycle " + std::to_string(c) + ": " + err;
                break;
            }
            f.refused++;
        }
    }
    int64_t t2 = mono_ms();
    for (int i = 0; i < 2; i++)
        f.busy_rate[i] = rate(w[i], at1[i], t2 - t1);
    stop = true;
    t5.join();
    t6.join();
    for (int i = 0; i < 2 && f.failure.empty(); i++)
        if (!w[i].problem.empty())
            f.failure = "domain " + std::to_string(5 + i) + ": " + w[i].problem;
    if (!store.proxy_alive())
        f.failure += "; xsproxy died";
    return f;
}

void print_times(const char *what, const std::vector<double> &v)
{
    double p99 = percentile(v, 99);
    printf("  %-26s %5zu %8.2f %8.2f %8.2f   p99 goal <= %.0f: %s\n", what, v.size(),
           percentile(v, 50), p99, percentile(v, 100), kGoalP99Ms,
           v.empty() ? "-" : p99 <= kGoalP99Ms ? "met" : "MISSED");
}

void print(xssim_daemon daemon, const Options &o, const Figures &f)
{
    printf("%s: %d live insertions and hand-backs of domain 5 while it and domain 6 run a "
           "busy workload\n", xssim_daemon_name(daemon), o.cycles);
    printf("  %-26s %5s %8s %8s %8s   (ms; every one bounded by %.0f)\n", "", "n", "p50", "p99",
           "max", kBoundMs);
    print_times("insert 5 (live)", f.insert_ms);
    print_times("remove 5 (hand back)", f.remove_ms);
    printf("  removals refused as busy, asked again: %d\n", f.refused);
    for (int i = 0; i < 2; i++)
        printf("  domain %d rounds/s: %.0f alone, %.0f during the cycles (ratio %.2f)\n", 5 + i,
               f.quiet_rate[i], f.busy_rate[i], ratio(f.busy_rate[i], f.quiet_rate[i]));
    if (!f.failure.empty())
        printf("  FAILED: %s\n", f.failure.c_str());
}

void usage(FILE *to)
{
    fprintf(to, "usage: xslivebench [--daemon oxenstored|xenstored|both] [--cycles N] "
                "[--quiet S]\n");
}

}  // namespace

int main(int argc, char **argv)
{
    Options o;
    static const struct option opts[] = { { "daemon", required_argument, nullptr, 'd' },
                                           { "cycles", required_argument, nullptr, 'c' },
                                           { "quiet", required_argument, nullptr, 'q' },
                                           { "help", no_argument, nullptr, 'h' },
                                           { nullptr, 0, nullptr, 0 } };
    for (int c; (c = getopt_long(argc, argv, "", opts, nullptr)) != -1;) {
        switch (c) {
        case 'd':
            if (!parse_daemons(optarg, &o.daemons)) {
                usage(stderr);
                return 2;
            }
            break;
        case 'c': o.cycles = atoi(optarg); break;
        case 'q': o.quiet_s = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || o.cycles <= 0 || o.quiet_s <= 0) {
        usage(stderr);
        return 2;
    }
    int rc = 0;
    for (xssim_daemon d : o.daemons) {
        Figures f = run(d, o);
        print(d, o, f);
        rc |= !f.failure.empty();
    }
    return rc;
}
