// xshostile - the other guests' latency while one guest floods: how well
// xsproxy keeps a hostile guest from slowing the others.  For each daemon,
// and for each kind of flood, it starts a fresh sim with xsproxy in front of
// the daemon (tests/workload.h's Store), one hostile guest (domain 1, raw
// ring access: tests/hostile_guest.h) and G (4) well-behaved guests (domains
// 2..G+1), each running a serial loop of WRITE then READ of its own node
// (every answer checked).  It measures the good guests' request latency for S
// (3) seconds with the hostile guest idle, then S seconds while it floods,
// and prints p50/p99/p99.9 of both and the ratio flood/quiet.  The floods:
//   largest-noread   4096-byte WRITEs as fast as the ring takes them, never
//                    reading an answer (the ring stays full once xsproxy
//                    holds the answers)
//   largest          the same, reading (and dropping) every answer
//   dom0only-noread  xsproxy's own types, which it answers itself (EACCES),
//                    never reading
//   malformed        26 kinds of malformed messages (tests/hostile_guest.h),
//                    reading
//   watches          the largest WATCHes, on past the watch quota, reading
//   transactions     TRANSACTION_START past the quota, and tiny READs in
//                    the open transactions (each logged by xsproxy), reading
//   all              all of the above in turn, message by message, reading
//   notify           event-channel notifications only, as fast as possible
// With --direct the same runs are made without xsproxy, for reference
// (what the daemon alone does to the other guests).  By default every
// process here shares the machine's CPUs, the flooding guest's own thread
// included.  With --own-cpu the flooding guest's thread runs on the last
// CPU alone and everything else (daemon, xsproxy, good guests, in both
// windows) on the others, as on Xen, where a guest's vCPU is not dom0's:
// what remains is the flood's cost to the daemon and xsproxy.
// It prints figures and never judges them: the exit code is non-zero only
// when something fails (a daemon or xsproxy dies, a good guest gets a wrong
// answer or none).
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "guest_latency.h"
#include "hostile_guest.h"
#include "sim_host.h"
#include "workload.h"
#include "xsproxy_wire.h"

namespace {

using namespace xsbench;
using namespace xstest;

constexpr unsigned kHostile = 1;
// A p99 ratio (flood / quiet) this close to 1 is within the noise between
// runs: the flood did not slow the others.
constexpr double kUnslowed = 1.15;

// --own-cpu: the flooding guest's CPU (the last), -1 when it shares them all.
int g_flood_cpu = -1;

struct Stats {
    size_t n = 0;
    double seconds = 0, p50 = 0, p99 = 0, p999 = 0, max = 0;
    double px_cpu = -1, xsd_cpu = -1;   // % of one CPU over the phase
    double px_cpu_s = -1, xsd_cpu_s = -1;
    std::vector<double> lat;            // µs, every request
    double ops() const { return seconds > 0 ? (double)n / seconds : 0; }
};

Stats summarize(std::vector<double> lat, double seconds, double px_cpu_s, double xsd_cpu_s)
{
    Stats s;
    s.n = lat.size();
    s.seconds = seconds;
    s.p50 = percentile(lat, 50);
    s.p99 = percentile(lat, 99);
    s.p999 = percentile(lat, 99.9);
    s.max = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
    s.px_cpu_s = px_cpu_s;
    s.xsd_cpu_s = xsd_cpu_s;
    if (px_cpu_s >= 0 && seconds > 0)
        s.px_cpu = 100.0 * px_cpu_s / seconds;
    if (xsd_cpu_s >= 0 && seconds > 0)
        s.xsd_cpu = 100.0 * xsd_cpu_s / seconds;
    s.lat = std::move(lat);
    return s;
}

// Several windows as one.
Stats pooled(const std::vector<Stats> &windows)
{
    std::vector<double> lat;
    double seconds = 0, px = 0, xsd = 0;
    for (const auto &w : windows) {
        lat.insert(lat.end(), w.lat.begin(), w.lat.end());
        seconds += w.seconds;
        px = px < 0 || w.px_cpu_s < 0 ? -1 : px + w.px_cpu_s;
        xsd = xsd < 0 || w.xsd_cpu_s < 0 ? -1 : xsd + w.xsd_cpu_s;
    }
    return summarize(std::move(lat), seconds, px, xsd);
}

// The good guests' latencies over SECONDS, with the CPU xsproxy (PROXY, if
// any) and the daemon used meanwhile.
Stats measure(GoodGuests &gg, double seconds, pid_t proxy, pid_t daemon)
{
    double p0 = proxy > 0 ? cpu_seconds(proxy) : -1, d0 = cpu_seconds(daemon);
    double el = 0;
    std::vector<double> all = gg.record(seconds, &el);
    double p1 = proxy > 0 ? cpu_seconds(proxy) : -1, d1 = cpu_seconds(daemon);
    return summarize(std::move(all), el, p0 >= 0 && p1 >= 0 ? p1 - p0 : -1,
                     d0 >= 0 && d1 >= 0 ? d1 - d0 : -1);
}

// The floods, by name (FloodKind: how message I is made, and whether the
// guest reads answers).
std::vector<FloodKind> make_modes(const std::vector<uint32_t> *txs)
{
    static const std::string wpath = "data/" + std::string(1900, 'w');
    auto watch = [](uint32_t i) {
        return msg_bytes(XS_WATCH, i, 0,
                         nul_join({ wpath, std::to_string(i) + std::string(2000, 't') }));
    };
    auto tx = [txs](uint32_t i) {
        if (i % 8 == 0 || txs->empty())
            return msg_bytes(XS_TRANSACTION_START, i, 0, std::string(1, '\0'));
        return msg_bytes(XS_READ, i, (*txs)[i % txs->size()], nul_join({ "e" }));
    };
    std::vector<FloodKind> m;
    m.push_back({ "largest-noread", false, false, largest_write });
    m.push_back({ "largest", true, false, largest_write });
    m.push_back({ "dom0only-noread", false, false, dom0_only });
    m.push_back({ "malformed", true, false,
                  [](uint32_t i) { return malformed(i, (i / 7) % kMalformedKinds); } });
    m.push_back({ "watches", true, false, watch });
    m.push_back({ "transactions", true, false, tx });
    m.push_back({ "all", true, false, [=](uint32_t i) {
                     switch (i % 6) {
                     case 0: return largest_write(i);
                     case 1: return malformed(i, (i / 6) % kMalformedKinds);
                     case 2: return watch(i);
                     case 3: return tx(i);
                     case 4: return tx(i + 1);
                     default: return dom0_only(i);
                     }
                 } });
    m.push_back({ "notify", true, true, nullptr });
    return m;
}

struct Result {
    std::string daemon, via, mode;
    Stats quiet, flood;
    double hostile_rate = 0;   // hostile messages written per second
    // through xsproxy (`xsproxyctl list`): the flooding domain's part of
    // the daemon's cost as xsproxy measured it, and of the time it was held
    // back, over the flood windows (-1: not known)
    double hostile_cost_pct = -1, hostile_held_pct = -1;
    std::string failure;
};

void print_header()
{
    printf("%-10s %-7s %-16s %8s %7s %7s %8s | %8s %7s %8s %9s | %6s %6s | %9s %9s %9s %6s "
           "%6s\n",
           "daemon", "via", "flood", "quiet/s", "p50us", "p99us", "p99.9us", "flood/s", "p50us",
           "p99us", "p99.9us", "p50x", "p99x", "hostile/s", "xsproxy%", "daemon%", "cost%",
           "held%");
}

void print_row(const Result &r)
{
    if (!r.failure.empty()) {
        printf("%-10s %-7s %-16s FAILED: %s\n", r.daemon.c_str(), r.via.c_str(), r.mode.c_str(),
               r.failure.c_str());
        return;
    }
    char cpu[32] = "-", xsd[32] = "-";
    if (r.flood.px_cpu >= 0)
        snprintf(cpu, sizeof(cpu), "%.0f>%.0f", r.quiet.px_cpu, r.flood.px_cpu);
    if (r.flood.xsd_cpu >= 0)
        snprintf(xsd, sizeof(xsd), "%.0f>%.0f", r.quiet.xsd_cpu, r.flood.xsd_cpu);
    char cost[16] = "-", held[16] = "-";
    if (r.hostile_cost_pct >= 0) {
        snprintf(cost, sizeof(cost), "%.0f", r.hostile_cost_pct);
        snprintf(held, sizeof(held), "%.0f", r.hostile_held_pct);
    }
    printf("%-10s %-7s %-16s %8.0f %7.0f %7.0f %8.0f | %8.0f %7.0f %8.0f %9.0f | %6.2f %6.2f | "
           "%9.0f %9s %9s %6s %6s\n",
           r.daemon.c_str(), r.via.c_str(), r.mode.c_str(), r.quiet.ops(), r.quiet.p50,
           r.quiet.p99, r.quiet.p999, r.flood.ops(), r.flood.p50, r.flood.p99, r.flood.p999,
           ratio(r.flood.p50, r.quiet.p50), ratio(r.flood.p99, r.quiet.p99), r.hostile_rate,
           cpu, xsd, cost, held);
    fflush(stdout);
}

// What `xsproxyctl list` says of the domains' cost and held time (ms).
struct Shares {
    double all_cost = 0, hostile_cost = 0, hostile_held = 0;
};

Shares shares(Store &store)
{
    Shares s;
    std::istringstream in(store.xsproxyctl({ "list" }).out);
    std::string line;
    while (std::getline(in, line)) {
        unsigned domid = 0;
        size_t c = line.find(" cost-ms "), h = line.find(" held-ms ");
        if (sscanf(line.c_str(), "domain %u", &domid) != 1 || c == std::string::npos ||
            h == std::string::npos)
            continue;
        double cost = atof(line.c_str() + c + 9), held = atof(line.c_str() + h + 9);
        s.all_cost += cost;
        if (domid == kHostile) {
            s.hostile_cost = cost;
            s.hostile_held = held;
        }
    }
    return s;
}

Result run_one(xssim_daemon daemon, bool proxied, const std::string &mode_name, unsigned guests,
               unsigned rounds, double seconds, double flood_rate)
{
    Result res;
    res.daemon = xssim_daemon_name(daemon);
    res.via = proxied ? "xsproxy" : "direct";
    res.mode = mode_name;
    Store store(daemon, proxied);
    if (!store.ok()) {
        res.failure = "the sim did not come up";
        return res;
    }
    std::vector<unsigned> good;
    for (unsigned d = kHostile; d <= kHostile + guests; d++) {
        if (!store.create_domain(d)) {
            res.failure = "cannot create domain " + std::to_string(d);
            return res;
        }
        if (d != kHostile)
            good.push_back(d);
    }
    auto hostile = RawGuest::open(store.sim(), kHostile);
    WireMsg r;
    if (!hostile || !hostile->request(XS_WRITE, nul_join({ "e" }), &r, 5000)) {
        res.failure = "the hostile guest is not served";
        return res;
    }
    // the transactions the "transactions" flood works in: as many as the
    // quota lets it open, opened as each flood starts
    std::vector<uint32_t> txs;
    auto open_txs = [&] {
        txs.clear();
        for (int i = 0; (mode_name == "transactions" || mode_name == "all") && i < 20; i++) {
            if (!hostile->request(XS_TRANSACTION_START, std::string(1, '\0'), &r, 5000) ||
                r.type != XS_TRANSACTION_START)
                break;
            txs.push_back((uint32_t)strtoul(r.body.c_str(), nullptr, 10));
        }
    };
    uint32_t msg_base = 1;   // the flood's req ids go on from round to round
    std::vector<FloodKind> modes = make_modes(&txs);
    const FloodKind *mode = nullptr;
    for (const auto &m : modes)
        if (m.name == mode_name)
            mode = &m;
    if (!mode) {
        res.failure = "no such flood";
        return res;
    }
    pid_t px = proxied ? store.proxy_pid() : -1, xsd = store.host().daemon_pid();
    GoodGuests gg(store, good, "data/bench");
    sleep_ms(500);   // warm up
    // quiet and flood windows in turn, pooled: the machine's own noise
    // falls on both alike
    std::vector<Stats> quiet, flooded;
    uint64_t sent = 0;
    double flood_time = 0;
    double flood_cost = 0, flood_hostile_cost = 0, flood_held = 0, flood_window = 0;   // ms
    for (unsigned round = 0; round < rounds && gg.problem().empty(); round++) {
        quiet.push_back(measure(gg, seconds, px, xsd));
        open_txs();
        auto t0 = Clock::now();
        auto next = mode->next;
        if (!mode->notify_only && flood_rate > 0) {
            // message I of this flood is made no sooner than I/rate s in
            auto start = Clock::now();
            uint32_t first = msg_base;
            next = [next, start, first, flood_rate](uint32_t i) {
                std::this_thread::sleep_until(
                    start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>((i - first) / flood_rate)));
                return next(i);
            };
        }
        HostileLoad load(*hostile, mode->notify_only, next, mode->drain, msg_base, g_flood_cpu);
        sleep_ms(200);
        Shares s0 = proxied ? shares(store) : Shares{};
        flooded.push_back(measure(gg, seconds, px, xsd));
        if (proxied) {
            Shares s1 = shares(store);
            flood_cost += s1.all_cost - s0.all_cost;
            flood_hostile_cost += s1.hostile_cost - s0.hostile_cost;
            flood_held += s1.hostile_held - s0.hostile_held;
            flood_window += flooded.back().seconds * 1000;
        }
        flood_time += seconds_since(t0);
        uint64_t n = load.stop();
        sent += n;
        if (!mode->notify_only)
            msg_base += (uint32_t)n;
        // before the next quiet window: the guest reads what it did not,
        // and drops its watches and transactions (a quiet window is one
        // without the flood, and without what it left behind)
        hostile->settle(100, 3000);
        hostile->request(XS_RESET_WATCHES, "", &r, 5000);
    }
    res.quiet = pooled(quiet);
    res.flood = pooled(flooded);
    double el = flood_time;
    res.hostile_rate = (double)sent / el;
    if (proxied && flood_cost > 0) {
        res.hostile_cost_pct = 100.0 * flood_hostile_cost / flood_cost;
        res.hostile_held_pct = 100.0 * flood_held / flood_window;
    }
    gg.stop();
    if (!gg.problem().empty())
        res.failure = "a good guest: " + gg.problem();
    else if (proxied && !store.proxy_alive())
        res.failure = "xsproxy died";
    else if (!pid_alive(xsd)) {
        res.failure = std::string(store.host().daemon_name()) + " died";
        store.daemon_killed();
    }
    return res;
}

void usage()
{
    fprintf(stderr,
            "usage: xshostile [--daemon oxenstored|xenstored|both] [--guests G] [--rounds R]\n"
            "                 [--seconds S] [--flood NAME[,NAME...]] [--direct] [--own-cpu]\n"
            "                 [--flood-rate MSGS_PER_S]\n"
            "floods: largest-noread largest dom0only-noread malformed watches transactions "
            "all notify\n");
}

}  // namespace

int main(int argc, char **argv)
{
    std::vector<xssim_daemon> daemons = { XSSIM_OXENSTORED, XSSIM_XENSTORED };
    unsigned guests = 4, rounds = 5;
    double seconds = 1.5;
    bool direct = false, own_cpu = false;
    double flood_rate = 0;   // messages per second, 0: as fast as it can
    std::vector<std::string> floods;
    for (const auto &m : make_modes(nullptr))
        floods.push_back(m.name);
    static const struct option opts[] = { { "daemon", required_argument, nullptr, 'd' },
                                          { "guests", required_argument, nullptr, 'g' },
                                          { "seconds", required_argument, nullptr, 's' },
                                          { "rounds", required_argument, nullptr, 'r' },
                                          { "flood", required_argument, nullptr, 'f' },
                                          { "direct", no_argument, nullptr, 'D' },
                                          { "own-cpu", no_argument, nullptr, 'C' },
                                          { "flood-rate", required_argument, nullptr, 'R' },
                                          { "help", no_argument, nullptr, 'h' },
                                          { nullptr, 0, nullptr, 0 } };
    for (int c; (c = getopt_long(argc, argv, "d:g:s:r:f:DCR:h", opts, nullptr)) != -1;) {
        switch (c) {
        case 'd':
            if (!parse_daemons(optarg, &daemons))
                return usage(), 2;
            break;
        case 'g':
            guests = (unsigned)atoi(optarg);
            if (guests < 1 || guests > 100)
                return usage(), 2;
            break;
        case 's':
            seconds = atof(optarg);
            if (seconds <= 0)
                return usage(), 2;
            break;
        case 'r':
            rounds = (unsigned)atoi(optarg);
            if (rounds < 1 || rounds > 1000)
                return usage(), 2;
            break;
        case 'f': {
            floods.clear();
            std::istringstream in(optarg);
            for (std::string f; std::getline(in, f, ',');)
                floods.push_back(f);
            break;
        }
        case 'D':
            direct = true;
            break;
        case 'C':
            own_cpu = true;
            break;
        case 'R':
            flood_rate = atof(optarg);
            if (flood_rate <= 0)
                return usage(), 2;
            break;
        default:
            return usage(), c == 'h' ? 0 : 2;
        }
    }
    if (own_cpu && (g_flood_cpu = keep_off_last_cpu()) < 0) {
        fprintf(stderr, "xshostile: --own-cpu needs 2 CPUs or more, and sched_setaffinity\n");
        return 2;
    }
    printf("xshostile: %u good guests (serial WRITE/READ each); %u rounds of %.1f s quiet then "
           "%.1f s with one guest flooding, pooled; a fresh sim per run; %ld CPUs%s\n",
           guests, rounds, seconds, seconds, sysconf(_SC_NPROCESSORS_ONLN),
           own_cpu ? ", the flooding guest alone on the last" : "");
    printf("latency of the good guests' requests in µs; p50x/p99x: flood / quiet; hostile/s: "
           "its messages (or notifications) per second; xsproxy%%, daemon%%: their CPU, "
           "quiet>flood; cost%%: the flooding domain's part of the daemon's cost as xsproxy "
           "measured it (its fair share: 1/%u), held%%: of the time it was held back\n\n",
           guests + 1);
    print_header();
    std::vector<Result> all;
    bool failed = false;
    for (auto daemon : daemons) {
        for (int via = 0; via < (direct ? 2 : 1); via++) {
            for (const auto &f : floods) {
                Result r = run_one(daemon, via == 0, f, guests, rounds, seconds, flood_rate);
                print_row(r);
                failed |= !r.failure.empty();
                all.push_back(r);
            }
        }
    }
    if (direct) {
        // the goal: through xsproxy within 1.5x of quiet, and better than
        // the daemon alone
        printf("\nthe others' p99 under each flood / quiet: through xsproxy, directly "
               "(goal: through xsproxy <= 1.50 and below directly, or both <= %.2f)\n",
               kUnslowed);
        for (const auto &p : all) {
            if (p.via != "xsproxy" || !p.failure.empty() || p.quiet.p99 <= 0)
                continue;
            for (const auto &d : all) {
                if (d.via != "direct" || d.daemon != p.daemon || d.mode != p.mode ||
                    !d.failure.empty() || d.quiet.p99 <= 0)
                    continue;
                double px = p.flood.p99 / p.quiet.p99, dx = d.flood.p99 / d.quiet.p99;
                // "below directly" where the daemon alone is slowed; a
                // flood neither slows (both within the runs' noise of
                // quiet) meets it too
                const char *verdict = px > 1.5                      ? "not met"
                                      : px < dx                     ? "met"
                                      : px <= kUnslowed && dx <= kUnslowed ? "met (neither slowed)"
                                                                           : "not met";
                printf("  %-10s %-16s %7.2f %7.2f  %s\n", p.daemon.c_str(), p.mode.c_str(), px,
                       dx, verdict);
            }
        }
    }
    printf("\nthrough xsproxy, the worst p99 ratio (flood / quiet) per daemon:\n");
    for (auto daemon : daemons) {
        double worst = 0;
        std::string which;
        for (const auto &r : all)
            if (r.via == "xsproxy" && r.daemon == xssim_daemon_name(daemon) && r.failure.empty() &&
                r.quiet.p99 > 0 && r.flood.p99 / r.quiet.p99 > worst) {
                worst = r.flood.p99 / r.quiet.p99;
                which = r.mode;
            }
        printf("  %-10s %.2f (%s)\n", xssim_daemon_name(daemon), worst, which.c_str());
    }
    return failed ? 1 : 0;
}
