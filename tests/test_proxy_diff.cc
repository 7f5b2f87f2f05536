// test_proxy_diff.cc - the differential suite: the scripted workload of
// workload.cc (every operation type, three guests on rings and dom0 on
// sockets) runs once directly against a fresh sim's daemon and once through
// xsproxy on another fresh sim; every reply and watch event must be the
// same, transaction ids aside.  For oxenstored and C xenstored.
#include <gtest/gtest.h>

#include <fstream>

#include "sim_host.h"
#include "workload.h"

namespace xstest {
namespace {

class XsproxyDiff : public ::testing::TestWithParam<xssim_daemon> {};

void dump(const std::vector<std::string> &log, const std::string &path)
{
    std::ofstream f(path);
    for (const auto &l : log)
        f << l << "\n";
}

TEST_P(XsproxyDiff, StandardWorkloadDirectAndProxiedAgree)
{
    std::vector<std::string> direct, proxied;
    ASSERT_NO_FATAL_FAILURE(
        run_direct_and_proxied(GetParam(), run_standard_workload, &direct, &proxied));
    if (const char *d = getenv("XSTEST_DUMP")) {
        dump(direct, std::string(d) + "/direct-" + xssim_daemon_name(GetParam()) + ".log");
        dump(proxied, std::string(d) + "/proxied-" + xssim_daemon_name(GetParam()) + ".log");
    }
    // the workload did what it is meant to
    EXPECT_GE(direct.size(), 300u);
    size_t eagain = 0, events = 0, errors = 0, starts = 0;
    for (const auto &l : direct) {
        eagain += l.find("\"EAGAIN\\0\"") != std::string::npos;
        events += l.find(" event \"") != std::string::npos;
        errors += l.find("=> ERROR") != std::string::npos;
        starts += l.find("=> TRANSACTION_START") != std::string::npos;
    }
    EXPECT_GE(eagain, 2u);
    EXPECT_GE(events, 20u);
    EXPECT_GE(errors, 30u);
    EXPECT_GE(starts, 8u);
    for (const auto &l : direct)
        EXPECT_EQ(std::string::npos, l.find("no reply")) << l;
    EXPECT_EQ("", first_difference(direct, proxied));
}


// A toolstack connection that watches @introduceDomain/@releaseDomain and
// itself introduces and releases a domain: xsproxy answers INTRODUCE and
// RELEASE itself, and the daemon's events for that same connection must
// still come in the daemon's order relative to the reply.
std::vector<std::string> introduce_on_watching_connection(Store &store)
{
    Recorder R;
    if (!store.ok() || !store.create_domain(1) || !store.create_domain(2, false))
        return { "setup failed" };
    const int tk = R.add("toolstack", store.dom0(), 0);
    const int g1 = R.add("g1", store.guest(1), 1);
    R.op(tk, XS_WATCH, { "@introduceDomain", "intro" });
    R.op(tk, XS_WATCH, { "@releaseDomain", "rel" });
    R.op(tk, XS_WATCH, { "/local/domain/2", "dom2" });
    struct xssim_dominfo info = {};
    xssim_domain_info(store.sim(), 2, &info);
    R.op(tk, XS_INTRODUCE,
         { "2", std::to_string(info.ring_gfn), std::to_string(info.store_port) });
    const int g2 = R.add("g2", store.guest(2), 2);
    R.op(g2, XS_WRITE, { "data/a", "1" });
    R.op(g1, XS_READ, { "domid" });
    R.retire(g2);
    sleep_ms(20);   // see the RELEASE in run_standard_workload()
    R.op(tk, XS_RELEASE, { "2" });
    R.op(tk, XS_IS_DOMAIN_INTRODUCED, { "2" });
    R.op(g1, XS_READ, { "domid" });
    return R.log();
}

TEST_P(XsproxyDiff, IntroduceAndReleaseOnAWatchingConnection)
{
    std::vector<std::string> direct, proxied;
    ASSERT_NO_FATAL_FAILURE(
        run_direct_and_proxied(GetParam(), introduce_on_watching_connection, &direct, &proxied));
    ASSERT_GE(direct.size(), 10u);
    EXPECT_EQ("", first_difference(direct, proxied));
}

// What the sessions below run on: domain 1, its guest's ring and a dom0
// connection; FAILURE says what is missing, if anything.
struct GuestAndDom0 {
    std::unique_ptr<RingConn> g;
    std::unique_ptr<SockConn> d;
    std::string failure;
};

GuestAndDom0 guest_and_dom0(Store &store)
{
    GuestAndDom0 c;
    if (!store.ok() || !store.create_domain(1)) {
        c.failure = "setup failed";
        return c;
    }
    c.g = store.guest(1);
    c.d = store.dom0();
    if (!c.g || !c.d)
        c.failure = "no connections";
    return c;
}

// Requests pipelined on one guest's ring and one dom0 socket (more than
// xsproxy lets be outstanding at xenstored at once), with watch events for
// the same connection mixed in: every connection's stream of replies and
// events must be the same.
std::vector<std::string> pipelined(Store &store)
{
    GuestAndDom0 conns = guest_and_dom0(store);
    if (!conns.failure.empty())
        return { conns.failure };
    RingConn &g = *conns.g;
    SockConn &d = *conns.d;
    std::vector<std::string> log;
    auto send_all = [&](XsConn &c, const std::string &base, bool absolute) {
        std::vector<WireMsg> reqs;
        uint32_t id = 100;
        reqs.push_back({ XS_WATCH, id++, 0, nul_join({ base, "pipe" }) });
        for (int i = 0; i < 60; i++) {
            // distinct nodes, so that no two events are alike (C xenstored
            // drops an event identical to one still pending: that depends on
            // how fast the guest reads, see WatchEventsCoalescing below)
            std::string p = base + "/n" + std::to_string(i);
            switch (i % 5) {
            case 0: reqs.push_back({ XS_WRITE, id++, 0, p + std::string(1, '\0') + std::to_string(i) }); break;
            case 1: reqs.push_back({ XS_READ, id++, 0, nul_join({ p }) }); break;
            case 2: reqs.push_back({ XS_DIRECTORY, id++, 0, nul_join({ base }) }); break;
            case 3: reqs.push_back({ XS_RM, id++, 0, nul_join({ p }) }); break;
            case 4: reqs.push_back({ XS_GET_PERMS, id++, 0, nul_join({ absolute ? "/nonexistent" : p }) }); break;
            }
        }
        for (const auto &m : reqs)
            if (!c.send(m, 5000))
                log.push_back("send failed: " + c.error());
        size_t replies = 0;
        while (replies < reqs.size()) {
            WireMsg m;
            int r = c.recv(&m, 5000);
            if (r <= 0) {
                log.push_back("no more messages: " + c.error());
                break;
            }
            log.push_back(type_name(m.type) + " req " + std::to_string(m.req_id) + " tx " +
                          std::to_string(m.tx_id) + " \"" + escape(m.body) + "\"");
            if (m.type != XS_WATCH_EVENT)
                replies++;
        }
    };
    send_all(g, "data", false);
    send_all(d, "/pipe", true);
    return log;
}

TEST_P(XsproxyDiff, PipelinedRequestsAgree)
{
    std::vector<std::string> direct, proxied;
    ASSERT_NO_FATAL_FAILURE(run_direct_and_proxied(GetParam(), pipelined, &direct, &proxied));
    EXPECT_GE(direct.size(), 122u);
    EXPECT_EQ("", first_difference(direct, proxied));
}


// A guest that does not read its response ring while watched nodes change.
// C xenstored drops a watch event identical to one it still holds for the
// connection (XSA-326), so what the guest gets depends on what xenstored
// could not yet deliver.  Made deterministic here: the guest first fills its
// own response ring with a reply larger than the ring, then dom0 changes
// one watched node three times, then the guest reads everything.
std::vector<std::string> slow_reader(Store &store)
{
    GuestAndDom0 conns = guest_and_dom0(store);
    if (!conns.failure.empty())
        return { conns.failure };
    RingConn &g = *conns.g;
    SockConn &d = *conns.d;
    std::vector<std::string> log;
    auto record = [&](const WireMsg &m) {
        log.push_back(type_name(m.type) + " req " + std::to_string(m.req_id) + " \"" +
                      escape(m.body) + "\"");
    };
    WireMsg r;
    if (!g.request(XS_WRITE, 0, nul_join({ "data/big" }) + std::string(2000, 'b'), &r))
        return { "write failed" };
    if (!g.request(XS_WATCH, 0, nul_join({ "data/a", "tok" }), &r))
        return { "watch failed" };
    record(r);
    // the WATCH's own event comes before the reply to a later request
    g.request(XS_GET_DOMAIN_PATH, 0, nul_join({ "1" }), &r);
    WireMsg ev;
    while (g.next_event(&ev, 0) == 1)
        record(ev);
    // a reply of 2016 bytes: xenstored can put only 1024 on the ring
    g.send({ XS_READ, 500, 0, nul_join({ "data/big" }) });
    struct xenstore_domain_interface *ring = g.ring();
    int64_t deadline = mono_ms() + 5000;
    while (__atomic_load_n(&ring->rsp_prod, __ATOMIC_ACQUIRE) - ring->rsp_cons <
               XENSTORE_RING_SIZE &&
           mono_ms() < deadline)
        sleep_ms(1);
    log.push_back("response ring full: " +
                  std::to_string(ring->rsp_prod - ring->rsp_cons == XENSTORE_RING_SIZE));
    for (const char *v : { "1", "2", "3" }) {
        d.request(XS_WRITE, 0, nul_join({ "/local/domain/1/data/a" }) + v, &r);
        log.push_back("dom0 write " + std::string(v) + ": " + type_name(r.type));
    }
    // now read everything, up to the reply of a last request
    g.send({ XS_GET_DOMAIN_PATH, 501, 0, nul_join({ "1" }) });
    for (;;) {
        if (g.recv(&r, 5000) <= 0) {
            log.push_back("no reply: " + g.error());
            break;
        }
        record(r);
        if (r.req_id == 501)
            break;
    }
    return log;
}

TEST_P(XsproxyDiff, WatchEventsCoalescedForASlowReaderAgree)
{
    std::vector<std::string> direct, proxied;
    ASSERT_NO_FATAL_FAILURE(run_direct_and_proxied(GetParam(), slow_reader, &direct, &proxied));
    ASSERT_GE(direct.size(), 7u);
    EXPECT_EQ("response ring full: 1", direct[2]);
    EXPECT_EQ("", first_difference(direct, proxied));
}

INSTANTIATE_TEST_SUITE_P(Daemons, XsproxyDiff, both_daemons(), DaemonName());

}  // namespace
}  // namespace xstest
