// xsmigbench - migration figures through xsproxy, for each daemon (Debian's
// oxenstored and C xenstored on the simulated host):
//   - the time from QUIESCE to its answer, for an idle domain and with 20
//     of the guest's requests in flight (and those 20 requests' own time
//     without a QUIESCE, so that what QUIESCE adds shows);
//   - the time of `save` and `restore`, and the stream's size, for a
//     domain with 10,000 nodes and 1,000 watches, saved on one simulated
//     host and restored on a second one (two sims, two daemons of the same
//     kind, two xsproxies), under another domain id;
//   - how long another guest's requests wait while a save or a restore
//     runs, against the same requests on a quiet host;
//   - for reference, what the requests a save and a restore make cost
//     straight at the daemon's socket, one at a time and pipelined, and
//     save and restore against that pipelined floor.
// The project's goals are printed next to the figures.  It
// prints figures and never judges them: the exit code is non-zero only when
// something fails.
//
// Every operation is a message on xsproxy's socket, as a toolstack sends
// it (XSP_QUIESCE and XSP_RESUME, XS_CONTROL "save" and "restore"), so no
// process start-up is in a figure.
//
// Quotas.  The domain's 10,000 nodes are written by dom0 (pipelined, in
// transactions) and given to the domain with SET_PERMS, as a toolstack
// creates a guest's device/ subtrees: the domain owns them, as it owns what
// it writes itself.  That is ten times the daemons' per-domain node quota
// (1000), which binds what a domain creates, not what dom0 gives it: both
// daemons accept it (the domain could then create no node of its own, which
// nothing here needs), and nothing is raised for it.  Watches have to be the
// domain's own (registered on its ring), and both daemons limit them per
// domain: C xenstored to 128 by default, which the benchmark raises at run
// time on both hosts (XS_CONTROL "quota set watches"); oxenstored to its
// config's quota-maxwatch (100 in the sim's oxenstored.conf, written by
// tests/xensim/sim_daemon.c), which cannot change while it runs, so on oxenstored
// the domain has as many watches as that quota lets it register, and the
// output says how many.
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "sim_host.h"
#include "workload.h"
#include "xsproxy_wire.h"

namespace {

using namespace xsbench;
using namespace xstest;

const unsigned kSrcDomid = 5;
const unsigned kOtherDomid = 6;      // another guest on the source
const unsigned kDstDomid = 7;        // the first restore's; then 8, 9, ...
const unsigned kNodesPerDir = 100;   // a directory and its 99 leaves
const unsigned kNodesPerTx = 200;
const unsigned kWatchWindow = 10;    // watches in flight while registering
const unsigned kInFlight = 20;       // xsproxy's --max-outstanding default
const int kLongMs = 120000;          // save and restore of a big domain

bool ok_reply(const WireMsg &r) { return r.type != XS_ERROR; }

std::string reply_text(const WireMsg &r)
{
    std::string s = r.body;
    while (!s.empty() && (s.back() == '\0' || s.back() == '\n'))
        s.pop_back();
    return s;
}

// Node I of the domain's NODES, relative to /local/domain/D: every 100th
// is a directory data/nGGG, the others its leaves data/nGGG/kK.
std::string node_rel(unsigned i)
{
    char b[48];
    if (i % kNodesPerDir == 0)
        snprintf(b, sizeof(b), "data/n%03u", i / kNodesPerDir);
    else
        snprintf(b, sizeof(b), "data/n%03u/k%u", i / kNodesPerDir, i % kNodesPerDir - 1);
    return b;
}

// 24 bytes, different for each node.
std::string node_value(unsigned i)
{
    char b[32];
    snprintf(b, sizeof(b), "value-%06u-0123456789ab", i);
    return b;
}

// The requests that write nodes FROM..TO-1 under BASE in transaction TX
// (MKDIR or WRITE, then SET_PERMS to PERMS, each), appended to REQS.
void node_writes(const std::string &base, unsigned from, unsigned to, uint32_t tx,
                 const std::string &perms, std::vector<WireMsg> *reqs)
{
    for (unsigned i = from; i < to; i++) {
        std::string p = base + node_rel(i);
        if (i % kNodesPerDir == 0)
            reqs->push_back({ XS_MKDIR, 0, tx, nul_join({ p }) });
        else
            reqs->push_back({ XS_WRITE, 0, tx, nul_join({ p }) + node_value(i) });
        reqs->push_back({ XS_SET_PERMS, 0, tx, nul_join({ p }) + perms });
    }
}

std::string fmt(const char *f, double v)
{
    char b[64];
    snprintf(b, sizeof(b), f, v);
    return b;
}

// One row of the table: the label, the figures, the aim.
void row(const std::string &label, const std::string &figures, const std::string &aim = "")
{
    if (aim.empty())
        printf("  %-38s %s\n", label.c_str(), figures.c_str());
    else
        printf("  %-38s %-44s %s\n", label.c_str(), figures.c_str(), aim.c_str());
}

std::string p50_p99_max(const std::vector<double> &v)
{
    char b[96];
    snprintf(b, sizeof(b), "p50 %7.3f  p99 %7.3f  max %7.3f ms", percentile(v, 50),
             percentile(v, 99), percentile(v, 100));
    return b;
}

std::string median_max(const std::vector<double> &v)
{
    char b[96];
    snprintf(b, sizeof(b), "median %8.1f  max %8.1f ms", percentile(v, 50), percentile(v, 100));
    return b;
}

std::string min_median(const std::vector<double> &v)
{
    char b[96];
    snprintf(b, sizeof(b), "min %8.1f  median %8.1f ms", percentile(v, 0), percentile(v, 50));
    return b;
}

// Another guest's serial READs on a thread of their own, each one's time
// kept, from construction until stop(): what a guest sees while something
// else loads the daemon.
class ReadsMeanwhile {
public:
    explicit ReadsMeanwhile(RingConn &g) : g_(g), t_([this] { run(); }) {}
    ~ReadsMeanwhile() { stop(); }
    std::vector<double> stop()
    {
        stop_ = true;
        if (t_.joinable())
            t_.join();
        return lat_;
    }
    bool ok() const { return ok_; }

private:
    void run()
    {
        while (!stop_) {
            WireMsg r;
            auto t0 = Clock::now();
            if (!g_.request(XS_READ, 0, nul_join({ "domid" }), &r, 30000) || r.type == XS_ERROR) {
                ok_ = false;
                return;
            }
            lat_.push_back(ms_since(t0));
        }
    }
    RingConn &g_;
    std::atomic<bool> stop_{ false };
    std::atomic<bool> ok_{ true };
    std::vector<double> lat_;
    std::thread t_;
};

// What a bench of one daemon found; any error ends it.
struct Bench {
    xssim_daemon daemon;
    const char *name;
    unsigned nodes, watches, repeat;
    std::string error;

    bool fail(const std::string &what)
    {
        if (error.empty())
            error = what;
        return false;
    }

    // C xenstored: the watch quota raised to WANT (never lowered below its
    // default, 128); for oxenstored, the quota its config sets.  Returns the
    // quota as text.
    std::string watch_quota(Store &s, unsigned want)
    {
        auto d = SockConn::connect(s.host().socket_path());   // the daemon itself
        WireMsg r;
        if (daemon == XSSIM_XENSTORED) {
            want = std::max(want, 128u);
            if (!d || !d->request(XS_CONTROL, 0,
                                  nul_join({ "quota", "set", "watches", std::to_string(want) }),
                                  &r) ||
                !ok_reply(r))
                return "unchanged (XS_CONTROL quota set refused: " + escape(r.body) + ")";
            return std::to_string(want) + " (raised with XS_CONTROL quota set watches)";
        }
        std::string conf = read_text(s.dir() + "/oxenstored.conf");
        size_t at = conf.find("quota-maxwatch");
        if (at == std::string::npos)
            return "unknown";
        size_t eq = conf.find('=', at), nl = conf.find('\n', at);
        std::string v = conf.substr(eq + 1, nl - eq - 1);
        v.erase(0, v.find_first_not_of(' '));
        return v + " (oxenstored.conf quota-maxwatch; fixed while it runs)";
    }

    // 1. QUIESCE of an idle domain, answered; RESUME.  RUNS times.
    bool quiesce_idle(SockConn &c, unsigned runs, std::vector<double> *out)
    {
        const std::string dom = nul_join({ std::to_string(kSrcDomid) });
        for (unsigned i = 0; i < runs; i++) {
            WireMsg r;
            auto t0 = Clock::now();
            if (!c.request(XSP_QUIESCE, 0, dom, &r, 10000) || !ok_reply(r))
                return fail("QUIESCE: " + c.error() + escape(r.body));
            out->push_back(ms_since(t0));
            if (!c.request(XSP_RESUME, 0, dom, &r, 10000) || !ok_reply(r))
                return fail("RESUME: " + c.error() + escape(r.body));
        }
        return true;
    }

    // The guest puts kInFlight WRITEs on its ring without waiting, and waits
    // until xsproxy has taken them all (all then went on to xenstored).
    bool put_writes(RingConn &g, uint32_t base)
    {
        for (unsigned i = 0; i < kInFlight; i++) {
            WireMsg w{ XS_WRITE, base + i, 0,
                       nul_join({ "data/q" + std::to_string(i) }) + "v" + std::to_string(base) };
            if (!g.send(w))
                return fail("guest send: " + g.error());
        }
        auto *ring = g.ring();
        auto t0 = Clock::now();
        while (__atomic_load_n(&ring->req_cons, __ATOMIC_ACQUIRE) !=
               __atomic_load_n(&ring->req_prod, __ATOMIC_ACQUIRE)) {
            if (ms_since(t0) > 10000)
                return fail("xsproxy did not take the guest's requests");
            sched_yield();
        }
        return true;
    }

    // Replies to the guest's kInFlight WRITEs (req_ids BASE...).
    bool drain_writes(RingConn &g, uint32_t base)
    {
        WireMsg m;
        for (unsigned got = 0; got < kInFlight;) {
            if (g.recv(&m, 10000) != 1)
                return fail("guest: a reply missing: " + g.error());
            if (m.type == XS_WATCH_EVENT)
                continue;
            if (m.req_id < base || m.req_id >= base + kInFlight || !ok_reply(m))
                return fail("guest: unexpected reply " + type_name(m.type) + " " + escape(m.body));
            got++;
        }
        return true;
    }

    // Replies of whole messages on the guest's response ring not yet read
    // (each reply to those WRITEs is 16 + 3 bytes).
    static unsigned replies_waiting(RingConn &g)
    {
        auto *ring = g.ring();
        uint32_t bytes = __atomic_load_n(&ring->rsp_prod, __ATOMIC_ACQUIRE) -
                         __atomic_load_n(&ring->rsp_cons, __ATOMIC_ACQUIRE);
        return bytes / (16 + 3);
    }

    // 2. With kInFlight requests in flight, alternately: the 20 alone, from
    //    the first sent to the last answered; and the 20 again with QUIESCE
    //    sent once xsproxy has taken them all, from the first sent to
    //    QUIESCE's answer (BOTH) and from QUIESCE sent to its answer (Q).
    bool quiesce_busy(SockConn &c, RingConn &g, unsigned runs, std::vector<double> *alone,
                      std::vector<double> *both, std::vector<double> *q, double *unanswered)
    {
        const std::string dom = nul_join({ std::to_string(kSrcDomid) });
        uint32_t base = 1000;
        unsigned waiting = 0;
        for (unsigned i = 0; i < runs; i++, base += 2 * kInFlight) {
            auto t0 = Clock::now();
            if (!put_writes(g, base) || !drain_writes(g, base))
                return false;
            alone->push_back(ms_since(t0));

            t0 = Clock::now();
            if (!put_writes(g, base + kInFlight))
                return false;
            waiting += replies_waiting(g);
            WireMsg r;
            auto tq = Clock::now();
            if (!c.request(XSP_QUIESCE, 0, dom, &r, 10000) || !ok_reply(r))
                return fail("QUIESCE: " + c.error() + escape(r.body));
            q->push_back(ms_since(tq));
            both->push_back(ms_since(t0));
            if (!c.request(XSP_RESUME, 0, dom, &r, 10000) || !ok_reply(r))
                return fail("RESUME: " + c.error() + escape(r.body));
            if (!drain_writes(g, base + kInFlight))
                return false;
        }
        *unanswered = kInFlight - (double)waiting / runs;
        return true;
    }

    // 3. The domain's nodes: dom0 writes them over xsproxy's socket,
    //    pipelined, kNodesPerTx to a transaction, each given to the domain
    //    (SET_PERMS n<domid>, as the guest's own nodes are).
    bool build_nodes(SockConn &c, double *ms)
    {
        const std::string base = "/local/domain/" + std::to_string(kSrcDomid) + "/";
        const std::string perms = nul_join({ "n" + std::to_string(kSrcDomid) });
        auto t0 = Clock::now();
        for (unsigned done = 0, attempts = 0; done < nodes; attempts++) {
            if (attempts > 10 * (nodes / kNodesPerTx + 1))
                return fail("the node transactions kept ending in EAGAIN");
            WireMsg r;
            if (!c.request(XS_TRANSACTION_START, 0, std::string(1, '\0'), &r) || !ok_reply(r))
                return fail("TRANSACTION_START: " + c.error() + escape(r.body));
            uint32_t tx = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
            std::vector<WireMsg> reqs, reps;
            unsigned batch = std::min(kNodesPerTx, nodes - done);
            node_writes(base, done, done + batch, tx, perms, &reqs);
            std::string err;
            if (!pipeline(c, reqs, &reps, 64, &err))
                return fail("writing nodes: " + err);
            for (size_t i = 0; i < reps.size(); i++)
                if (!ok_reply(reps[i]))
                    return fail(type_name(reqs[i].type) + " " + escape(reqs[i].body) + ": " +
                                escape(reps[i].body));
            if (!c.request(XS_TRANSACTION_END, tx, nul_join({ "T" }), &r))
                return fail("TRANSACTION_END: " + c.error());
            if (ok_reply(r))
                done += batch;
            else if (r.body != std::string("EAGAIN") + '\0')
                return fail("TRANSACTION_END: " + escape(r.body));
        }
        *ms = ms_since(t0);
        return true;
    }

    // 4. The domain's watches, registered by the guest on its ring (paths
    //    relative, tokens distinct), kWatchWindow at a time, reading the
    //    event each fires at registration as a guest does.  Stops at the
    //    first refusal (the daemon's quota); *TAKEN is how many it took and
    //    *WHY the refusal.
    bool register_watches(RingConn &g, unsigned *taken, std::string *why)
    {
        unsigned groups = std::max(1u, nodes / kNodesPerDir);
        *taken = 0;
        bool refused = false;
        for (unsigned w = 0; w < watches && !refused;) {
            std::vector<WireMsg> reqs, reps;
            for (unsigned i = 0; i < kWatchWindow && w < watches; i++, w++) {
                unsigned n = (w % groups) * kNodesPerDir + 1 + (w / groups) % (kNodesPerDir - 1);
                reqs.push_back({ XS_WATCH, 0, 0,
                                 nul_join({ node_rel(std::min(n, nodes - 1)),
                                            "tok" + std::to_string(w) }) });
            }
            std::string err;
            if (!pipeline(g, reqs, &reps, kWatchWindow, &err))
                return fail("registering watches: " + err);
            for (auto &r : reps) {
                if (ok_reply(r) && !refused)
                    (*taken)++;
                else if (!refused) {
                    refused = true;
                    *why = reply_text(r);
                }
            }
        }
        // their first events (pipeline() skipped those it met)
        for (WireMsg ev; g.next_event(&ev, 300) == 1;) {
        }
        return true;
    }

    // Copy the source guest's ring page into domain DOMID's on DST (the
    // guest's memory moves with it).
    bool copy_ring(Store &src, Store &dst, unsigned domid)
    {
        char from[512], to[512];
        if (xssim_ring_path(src.sim(), kSrcDomid, from, sizeof(from)) < 0 ||
            xssim_ring_path(dst.sim(), domid, to, sizeof(to)) < 0)
            return fail("xssim_ring_path");
        std::ifstream in(from, std::ios::binary);
        std::string page((std::istreambuf_iterator<char>(in)), {});
        std::ofstream out(to, std::ios::binary | std::ios::in);
        out.write(page.data(), (std::streamsize)page.size());
        out.close();
        if (page.size() != 4096 || !out)
            return fail(std::string("copying the ring page to ") + to);
        return true;
    }

    // Send XS_CONTROL BODY on C and, right after it, a READ by the guest
    // OTHER (another domain on the same xsproxy): the time until each is
    // answered.  The control command's answer in *REPLY.
    // Another guest's serial READs: each one's time from sent to answered.
    bool other_reads(RingConn &other, unsigned n, std::vector<double> *lat)
    {
        for (unsigned i = 0; i < n; i++) {
            WireMsg r;
            auto t0 = Clock::now();
            if (!other.request(XS_READ, 0, nul_join({ "domid" }), &r, kLongMs) || !ok_reply(r))
                return fail("the other guest's READ: " + other.error() + escape(r.body));
            lat->push_back(ms_since(t0));
        }
        return true;
    }

    // BODY as an XS_CONTROL on C, and another guest's READ sent with it:
    // the time of the operation and of the READ.  With LAT, the guest goes
    // on sending READs one after another until the answer, and the time of
    // each is appended to LAT (the operation then shares the CPUs with
    // them: its time is not a figure).
    bool control_with_probe(SockConn &c, const std::string &body, RingConn &other,
                            double *op_ms, double *probe_ms, WireMsg *reply,
                            std::vector<double> *lat = nullptr)
    {
        WireMsg m{ XS_CONTROL, c.next_req_id++, 0, body };
        auto t0 = Clock::now();
        if (!c.send(m))
            return fail("XS_CONTROL: " + c.error());
        for (bool first = true;; first = false) {
            std::vector<double> one;
            if (!other_reads(other, 1, &one))
                return false;
            if (first)
                *probe_ms = ms_since(t0);
            if (lat)
                lat->push_back(one[0]);
            int got = c.recv(reply, lat ? 0 : kLongMs);
            if (got < 0)
                return fail("XS_CONTROL: no answer: " + c.error());
            if (got == 1 && reply->req_id == m.req_id)
                break;
        }
        *op_ms = ms_since(t0);
        if (!ok_reply(*reply))
            return fail(escape(body) + ": " + escape(reply->body));
        return true;
    }

    // 5. Restore on DST as DOMID: the time of the XS_CONTROL restore, and
    //    until the restored guest's first request is answered (after its
    //    watches are registered again), reading the events that come.
    bool restore_once(Store &src, Store &dst, RingConn &other, unsigned domid,
                      const std::string &file, double *restore_ms, double *served_ms,
                      double *probe_ms, std::string *text, std::vector<double> *lat)
    {
        if (!dst.create_domain(domid, false))
            return fail("xssim domain create " + std::to_string(domid) + " --no-introduce");
        if (!copy_ring(src, dst, domid))
            return false;
        auto d = SockConn::connect(dst.store_socket());
        auto g = dst.guest(domid);
        if (!d || !g)
            return fail("connecting to the destination");
        WireMsg r;
        auto t0 = Clock::now();
        if (!control_with_probe(*d,
                                nul_join({ "restore", std::to_string(domid), file,
                                           std::to_string(kSrcDomid) }),
                                other, restore_ms, probe_ms, &r, lat))
            return false;
        *text = reply_text(r);
        WireMsg rd{ XS_READ, 777777, 0, nul_join({ node_rel(1) }) };
        if (!g->send(rd))
            return fail("restored guest: " + g->error());
        for (;;) {
            WireMsg m;
            if (g->recv(&m, 30000) != 1)
                return fail("restored guest: no answer: " + g->error());
            if (m.type == XS_WATCH_EVENT)
                continue;
            if (m.req_id != rd.req_id || m.body != node_value(1))
                return fail("restored guest: " + type_name(m.type) + " " + escape(m.body));
            break;
        }
        *served_ms = ms_since(t0);
        // leave the destination as it was for the next run
        g.reset();
        if (!d->request(XS_CONTROL, 0, nul_join({ "remove", std::to_string(domid), "release" }), &r, 10000) ||
            !ok_reply(r))
            return fail("remove " + std::to_string(domid) + ": " + escape(r.body));
        if (!dst.destroy_domain(domid))
            return fail("xssim domain destroy " + std::to_string(domid));
        return true;
    }

    // The reads a save makes (READ, GET_PERMS, DIRECTORY for each node of
    // /local/domain/D; xsproxy's go outside a transaction, behind a watch),
    // straight at the daemon's socket, in one transaction or none: one at
    // a time, and pipelined a level of the tree at a time.
    bool save_reads(const std::string &sock, bool pipelined, bool in_tx, double *ms, size_t *nreq)
    {
        auto c = SockConn::connect(sock);
        if (!c)
            return fail("connecting to " + sock);
        auto t0 = Clock::now();
        WireMsg r;
        uint32_t tx = 0;
        if (in_tx) {
            if (!c->request(XS_TRANSACTION_START, 0, std::string(1, '\0'), &r) || !ok_reply(r))
                return fail("TRANSACTION_START: " + escape(r.body));
            tx = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
        }
        std::vector<std::string> level = { "/local/domain/" + std::to_string(kSrcDomid) };
        *nreq = 0;
        while (!level.empty()) {
            std::vector<WireMsg> reqs, reps;
            for (auto &p : level)
                for (uint32_t t : { XS_READ, XS_GET_PERMS, XS_DIRECTORY })
                    reqs.push_back({ t, 0, tx, nul_join({ p }) });
            std::string err;
            if (!pipeline(*c, reqs, &reps, pipelined ? 256 : 1, &err))
                return fail("reading the domain's nodes: " + err);
            *nreq += reqs.size();
            std::vector<std::string> next;
            for (size_t i = 0; i < level.size(); i++) {
                const std::string &dir = reps[3 * i + 2].body;
                if (!ok_reply(reps[3 * i + 2]))
                    return fail("DIRECTORY " + level[i] + ": " + escape(dir));
                for (size_t q = 0; q < dir.size();) {
                    size_t e = dir.find('\0', q);
                    if (e == std::string::npos || e == q)
                        break;
                    next.push_back(level[i] + "/" + dir.substr(q, e - q));
                    q = e + 1;
                }
            }
            level.swap(next);
        }
        if (in_tx)
            c->request(XS_TRANSACTION_END, tx, nul_join({ "F" }), &r);
        *ms = ms_since(t0);
        return true;
    }

    // The writes a restore makes (WRITE or MKDIR, and SET_PERMS, for each
    // node, in one transaction, committed), pipelined straight at the
    // daemon's socket, into a subtree of no domain removed afterwards.
    bool restore_writes(const std::string &sock, double *ms, size_t *nreq)
    {
        auto c = SockConn::connect(sock);
        if (!c)
            return fail("connecting to " + sock);
        const std::string top = "/xsmigbench-reference", base = top + "/";
        const std::string perms = nul_join({ "n" + std::to_string(kSrcDomid) });
        auto t0 = Clock::now();
        WireMsg r;
        if (!c->request(XS_TRANSACTION_START, 0, std::string(1, '\0'), &r) || !ok_reply(r))
            return fail("TRANSACTION_START: " + escape(r.body));
        uint32_t tx = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
        std::vector<WireMsg> reqs, reps;
        node_writes(base, 0, nodes, tx, perms, &reqs);
        std::string err;
        if (!pipeline(*c, reqs, &reps, 256, &err))
            return fail("reference writes: " + err);
        if (!c->request(XS_TRANSACTION_END, tx, nul_join({ "T" }), &r, kLongMs) || !ok_reply(r))
            return fail("reference writes: TRANSACTION_END: " + c->error() + escape(r.body));
        *ms = ms_since(t0);
        *nreq = reqs.size();
        if (!c->request(XS_RM, 0, nul_join({ top }), &r, kLongMs) || !ok_reply(r))
            return fail("removing " + top + ": " + escape(r.body));
        return true;
    }

    bool run()
    {
        Store src(daemon, true), dst(daemon, true);
        if (!src.ok() || !dst.ok())
            return fail("the sims did not come up");
        std::string quota = watch_quota(src, watches);
        watch_quota(dst, watches);
        if (!src.create_domain(kSrcDomid))
            return fail("xssim domain create " + std::to_string(kSrcDomid));
        auto c = SockConn::connect(src.store_socket());
        auto g = src.guest(kSrcDomid);
        if (!c || !g)
            return fail("connecting to the source");

        printf("\n%s: two simulated hosts, each %s with xsproxy in front\n", name, name);
        std::vector<double> idle, alone, both, q, added;
        double unanswered = 0;
        if (!quiesce_idle(*c, 200, &idle))
            return false;
        row("quiesce, idle domain (200 runs)", p50_p99_max(idle), "goal <= 1 ms");
        if (!quiesce_busy(*c, *g, 100, &alone, &both, &q, &unanswered))
            return false;
        for (size_t i = 0; i < both.size(); i++)
            added.push_back(both[i] - alone[i]);
        row("quiesce, 20 requests in flight (100)", p50_p99_max(q));
        row("  unanswered when QUIESCE was sent", fmt("%.1f of 20 on average", unanswered));
        row("  the 20 alone: sent to last answer", p50_p99_max(alone));
        row("  the 20 + QUIESCE: to its answer", p50_p99_max(both));
        row("  what QUIESCE adds (difference)", p50_p99_max(added), "goal <= 1 ms");
        fflush(stdout);

        double build_ms = 0;
        unsigned taken = 0;
        std::string why;
        if (!build_nodes(*c, &build_ms) || !register_watches(*g, &taken, &why))
            return false;
        row("the domain's nodes, given by dom0",
            fmt("%.0f", nodes) + ", owned by it, written in " + fmt("%.0f ms", build_ms) +
                " (pipelined)");
        row("its watches, registered by the guest",
            fmt("%.0f", taken) + " of " + fmt("%.0f", watches) +
                (taken < watches ? " (then " + why + ")" : ""));
        row("  the daemon's watch quota", quota);
        fflush(stdout);

        // save, REPEAT times (the domain stays quiesced after a save)
        WireMsg r;
        if (!c->request(XSP_QUIESCE, 0, nul_join({ std::to_string(kSrcDomid) }), &r, 10000) ||
            !ok_reply(r))
            return fail("QUIESCE: " + escape(r.body));
        // another guest on each host sends a READ right after the save or
        // restore is sent: when is it answered?
        if (!src.create_domain(kOtherDomid) || !dst.create_domain(kOtherDomid))
            return fail("xssim domain create " + std::to_string(kOtherDomid));
        auto other = src.guest(kOtherDomid), other_dst = dst.guest(kOtherDomid);
        if (!other || !other_dst)
            return fail("connecting as guest " + std::to_string(kOtherDomid));
        // the other guests' READs on a quiet host, to compare with
        std::vector<double> quiet, quiet_dst, during_save, during_restore;
        if (!other_reads(*other, 2000, &quiet) || !other_reads(*other_dst, 2000, &quiet_dst))
            return false;
        std::vector<double> saves, waits;
        std::string file, saved;
        for (unsigned i = 0; i <= repeat; i++) {   // the last with READs meanwhile
            file = src.dir() + "/dom" + std::to_string(kSrcDomid) + "-" + std::to_string(i) + ".xs";
            double sm = 0, wm = 0;
            if (!control_with_probe(*c, nul_join({ "save", std::to_string(kSrcDomid), file }),
                                    *other, &sm, &wm, &r, i == repeat ? &during_save : nullptr))
                return false;
            if (i == repeat)
                break;
            saves.push_back(sm);
            waits.push_back(wm);
            saved = reply_text(r);
        }
        struct stat st = {};
        if (stat(file.c_str(), &st) < 0)
            return fail("the stream " + file + " is missing");
        size_t colon = saved.find(": ");
        row("save (" + std::to_string(repeat) + " runs)", min_median(saves));
        row("  the stream", fmt("%.0f bytes: ", (double)st.st_size) +
                                (colon == std::string::npos ? saved : saved.substr(colon + 2)));
        row("  another guest's READ sent with it", "answered after: " + median_max(waits));
        row("  its READs during a save (" + std::to_string(during_save.size()) + ")",
            p50_p99_max(during_save));
        row("    the same READs, quiet (2000)", p50_p99_max(quiet));
        row("    p99 meanwhile / p99 quiet",
            fmt("%.2f", percentile(during_save, 99) / percentile(quiet, 99)), "goal <= 1.5");
        fflush(stdout);

        std::vector<double> restores, served, dwaits;
        std::string restored;
        for (unsigned i = 0; i <= repeat; i++) {   // the last with READs meanwhile
            double rm = 0, sm = 0, wm = 0;
            if (!restore_once(src, dst, *other_dst, kDstDomid + i, file, &rm, &sm, &wm, &restored,
                              i == repeat ? &during_restore : nullptr))
                return false;
            if (i == repeat)
                break;
            restores.push_back(rm);
            served.push_back(sm);
            dwaits.push_back(wm);
        }
        row("restore on the other host (" + std::to_string(repeat) + ")", min_median(restores));
        row("  until the guest's first answer", min_median(served));
        row("  another guest's READ sent with it", "answered after: " + median_max(dwaits));
        row("  its READs during a restore (" + std::to_string(during_restore.size()) + ")",
            p50_p99_max(during_restore));
        row("    the same READs, quiet (2000)", p50_p99_max(quiet_dst));
        row("    p99 meanwhile / p99 quiet",
            fmt("%.2f", percentile(during_restore, 99) / percentile(quiet_dst, 99)),
            "goal <= 1.5");
        fflush(stdout);

        // for reference: the same requests straight at the daemon
        double serial_ms = 0, piped_ms = 0, notx_ms = 0, write_ms = 0;
        size_t nreads = 0, nwrites = 0;
        const std::string sock = src.host().socket_path();
        std::vector<double> piped_during, write_during;
        if (!save_reads(sock, false, true, &serial_ms, &nreads))
            return false;
        {
            ReadsMeanwhile m(*other);
            bool ok = save_reads(sock, true, true, &piped_ms, &nreads);
            piped_during = m.stop();
            if (!ok || !m.ok())
                return fail(ok ? "the other guest's READs failed" : error);
        }
        if (!save_reads(sock, true, false, &notx_ms, &nreads))
            return false;
        {
            ReadsMeanwhile m(*other);
            bool ok = restore_writes(sock, &write_ms, &nwrites);
            write_during = m.stop();
            if (!ok || !m.ok())
                return fail(ok ? "the other guest's READs failed" : error);
        }
        printf("  reference, the same requests straight at %s's socket:\n", name);
        row("  save's " + std::to_string(nreads) + " reads, in a tx",
            fmt("one at a time %.1f ms, ", serial_ms) + fmt("pipelined %.1f ms", piped_ms));
        row("  the same reads, no tx", fmt("pipelined %.1f ms", notx_ms));
        row("  restore's " + std::to_string(nwrites) + " writes, in a tx",
            fmt("pipelined %.1f ms", write_ms));
        row("  another guest's READs during the reads", p50_p99_max(piped_during));
        row("    p99 then / p99 quiet",
            fmt("%.2f", percentile(piped_during, 99) / percentile(quiet, 99)));
        row("  another guest's READs during the writes", p50_p99_max(write_during));
        row("    p99 then / p99 quiet",
            fmt("%.2f", percentile(write_during, 99) / percentile(quiet, 99)));
        // the goal: no slower than the daemon answers the same requests
        // (a save reads outside any transaction, behind a watch)
        row("save / the same reads, no tx", fmt("%.2f", percentile(saves, 50) / notx_ms),
            "goal <= 1.2");
        row("restore / its writes, in a tx", fmt("%.2f", percentile(restores, 50) / write_ms),
            "goal <= 1.2");
        fflush(stdout);
        if (!src.proxy_alive() || !dst.proxy_alive())
            return fail("xsproxy died:\n" + src.proxy_log() + dst.proxy_log());
        return true;
    }
};

void usage(FILE *f)
{
    fprintf(f,
            "usage: xsmigbench [--daemon oxenstored|xenstored|both] [--nodes N] [--watches W]\n"
            "                  [--repeat R]\n"
            "For each daemon, on two simulated hosts with xsproxy in front of the daemon:\n"
            "the time from QUIESCE to its answer (idle, and with 20 requests in flight),\n"
            "and the time and stream size of save and restore for a domain with N (10000)\n"
            "nodes and W (1000) watches, each R (3) times.  Prints figures and the goals;\n"
            "exits non-zero only when something fails.\n");
}

}  // namespace

int main(int argc, char **argv)
{
    std::vector<xssim_daemon> daemons = { XSSIM_OXENSTORED, XSSIM_XENSTORED };
    unsigned nodes = 10000, watches = 1000, repeat = 3;
    static const struct option opts[] = {
        { "daemon", required_argument, nullptr, 'd' },
        { "nodes", required_argument, nullptr, 'n' },
        { "watches", required_argument, nullptr, 'w' },
        { "repeat", required_argument, nullptr, 'r' },
        { "help", no_argument, nullptr, 'h' },
        { nullptr, 0, nullptr, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "d:n:w:r:h", opts, nullptr)) != -1) {
        if (c == 'd') {
            if (!parse_daemons(optarg, &daemons)) {
                usage(stderr);
                return 2;
            }
        } else if (c == 'n' && atoi(optarg) >= 2)
            nodes = (unsigned)atoi(optarg);
        else if (c == 'w' && atoi(optarg) >= 0)
            watches = (unsigned)atoi(optarg);
        else if (c == 'r' && atoi(optarg) > 0)
            repeat = (unsigned)atoi(optarg);
        else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    printf("xsmigbench: %u nodes, %u watches, save and restore %u times; every operation on\n"
           "xsproxy's socket (XSP_QUIESCE, XSP_RESUME, XS_CONTROL save/restore), no process\n"
           "start-up in a figure\n",
           nodes, watches, repeat);
    int failures = 0;
    for (xssim_daemon d : daemons) {
        Bench b{ d, xssim_daemon_name(d), nodes, watches, repeat, "" };
        if (!b.run()) {
            fprintf(stderr, "xsmigbench: %s: %s\n", b.name, b.error.c_str());
            failures++;
        }
        fflush(stdout);
    }
    return failures ? 1 : 0;
}
