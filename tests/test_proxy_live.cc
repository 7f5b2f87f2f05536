// test_proxy_live.cc - live insertion: xsproxy put in front of a domain
// xenstored already serves directly, and handed back, with the guest
// noticing nothing.  For oxenstored and C xenstored:
//  - what happened before is learned (oxenstored's watch list; a
//    transaction opened before is adopted at its next use; C xenstored's
//    shadow says it is incomplete and save refuses it unless forced);
//  - 100 insert/remove cycles while the guest and another guest run a busy
//    workload with a watch and transactions: every answer is the one a
//    direct run gives, none lost or repeated, the watch keeps firing;
//  - a live-inserted domain migrates to another host end to end.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "sim_host.h"
#include "workload.h"

#ifndef XSTEST_CYCLES
#define XSTEST_CYCLES 100
#endif
namespace xstest {
namespace {

std::string wr(const std::string &path, const std::string &value)
{
    return path + std::string(1, '\0') + value;
}

// One request and its reply, strictly: the next message that is not a
// watch event must answer it (a lost request times out, a repeated one
// shows as a reply nobody asked for).  Events are counted in EVENTS.
bool strict(XsConn &c, uint32_t type, uint32_t tx, const std::string &body, WireMsg *reply,
            std::string *why, std::atomic<int> *events = nullptr)
{
    WireMsg m;
    m.type = type;
    m.req_id = c.next_req_id++;
    m.tx_id = tx;
    m.body = body;
    if (!c.send(m)) {
        *why = "send: " + c.error();
        return false;
    }
    for (;;) {
        int r = c.recv(reply, 10000);
        if (r <= 0) {
            *why = type_name(type) + " " + escape(body) + ": no reply (" + c.error() + ")";
            return false;
        }
        if (reply->type == XS_WATCH_EVENT) {
            if (events)
                (*events)++;
            continue;
        }
        if (reply->req_id != m.req_id) {
            *why = "reply " + std::to_string(reply->req_id) + " to request " +
                   std::to_string(m.req_id) + " (" + type_name(reply->type) + " " +
                   escape(reply->body) + ")";
            return false;
        }
        return true;
    }
}

class XsproxyLive : public ::testing::TestWithParam<xssim_daemon> {
protected:
    // Domain D created as a toolstack does straight at the daemon: xenstored
    // serves it directly, xsproxy knows nothing of it.
    void direct_domain(Store &s, unsigned d) { ASSERT_TRUE(s.host().create_domain(d)); }
    static std::string list(Store &s, unsigned d)
    {
        return s.xsproxyctl({ "list", std::to_string(d) }).out;
    }
};

TEST_P(XsproxyLive, InsertLearnsThePastAndRemoveHandsBack)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_NO_FATAL_FAILURE(direct_domain(store, 5));
    auto g = store.guest(5);
    ASSERT_TRUE(g);
    std::string why;
    WireMsg r;
    ASSERT_TRUE(strict(*g, XS_WRITE, 0, wr("data/x", "1"), &r, &why)) << why;
    ASSERT_TRUE(strict(*g, XS_WATCH, 0, nul_join({ "data/x", "tok with space" }), &r, &why));
    WireMsg ev;
    ASSERT_EQ(g->next_event(&ev, 5000), 1);
    ASSERT_TRUE(strict(*g, XS_TRANSACTION_START, 0, std::string(1, '\0'), &r, &why)) << why;
    const uint32_t tx = (uint32_t)std::stoul(r.body);
    ASSERT_TRUE(strict(*g, XS_WRITE, tx, wr("data/y", "in-tx"), &r, &why)) << why;
    EXPECT_EQ(list(store, 5), "") << "xsproxy stands in front of it already";

    RunResult ins = store.xsproxyctl({ "insert", "5" });
    ASSERT_TRUE(ins.ok()) << ins.err << store.proxy_log();
    const bool ox = GetParam() == XSSIM_OXENSTORED;
    if (ox) {
        EXPECT_EQ(ins.out, "domain 5 inserted live, 1 watches learned from the daemon\n");
        // GET_DOMAIN_WATCHES lists the watch registered before the insertion
        RunResult w = store.xsproxyctl({ "get-domain-watches", "5" });
        EXPECT_EQ(w.out, "1\ndata/x tok with space\n");
    } else {
        EXPECT_NE(ins.out.find("the shadow is incomplete"), std::string::npos) << ins.out;
        EXPECT_NE(list(store, 5).find("INCOMPLETE"), std::string::npos) << list(store, 5);
    }
    // the guest goes on through xsproxy, on the same ring
    ASSERT_TRUE(strict(*g, XS_READ, tx, nul_join({ "data/y" }), &r, &why)) << why;
    EXPECT_EQ(r.body, "in-tx");   // the transaction opened before is adopted
    EXPECT_NE(list(store, 5).find("opened before the insertion"), std::string::npos)
        << list(store, 5);
    ASSERT_TRUE(strict(*g, XS_TRANSACTION_END, tx, nul_join({ "T" }), &r, &why)) << why;
    EXPECT_EQ(r.type, (uint32_t)XS_TRANSACTION_END) << escape(r.body);
    auto d0 = store.dom0();
    ASSERT_TRUE(d0->request(XS_WRITE, 0, wr("/local/domain/5/data/x", "2"), &r));
    ASSERT_EQ(g->next_event(&ev, 5000), 1);
    EXPECT_EQ(ev.body, nul_join({ "data/x", "tok with space" }));
    EXPECT_NE(list(store, 5).find("requests 2 replies 2 events 1"), std::string::npos)
        << list(store, 5);
    // C xenstored's incomplete shadow: save refuses, unless forced
    if (!ox) {
        ASSERT_TRUE(store.xsproxyctl({ "quiesce", "5" }).ok());
        TempDir tmp("xslive");
        RunResult sv = store.xsproxyctl({ "save", "5", tmp.sub("s.xs") });
        EXPECT_NE(sv.exit_code, 0);
        EXPECT_NE(store.proxy_log().find("a save would miss the ones registered before"),
                  std::string::npos);
        sv = store.xsproxyctl({ "save", "5", tmp.sub("s.xs"), "--force" });
        EXPECT_TRUE(sv.ok()) << sv.err;
        ASSERT_TRUE(store.xsproxyctl({ "resume", "5" }).ok());
    }

    // hand it back: xenstored serves it directly again, watch and all
    RunResult rm = store.xsproxyctl({ "remove", "5" });
    ASSERT_TRUE(rm.ok()) << rm.err << store.proxy_log();
    EXPECT_EQ(rm.out, "domain 5 handed back to xenstored\n");
    EXPECT_EQ(list(store, 5), "");
    ASSERT_TRUE(strict(*g, XS_READ, 0, nul_join({ "data/y" }), &r, &why)) << why;
    EXPECT_EQ(r.body, "in-tx");
    ASSERT_TRUE(d0->request(XS_WRITE, 0, wr("/local/domain/5/data/x", "3"), &r));
    ASSERT_EQ(g->next_event(&ev, 5000), 1);
    EXPECT_EQ(ev.body, nul_join({ "data/x", "tok with space" }));
    RunResult l = store.xsproxyctl({ "list" });
    EXPECT_EQ(l.out, "no domains inserted\n");
    EXPECT_TRUE(store.proxy_alive());
}

// 100 cycles of insert and remove while domain 5 and domain 6 (served
// directly throughout) work: writes with sequence numbers read back,
// transactions, a watch fired by every write.
TEST_P(XsproxyLive, HundredCyclesUnderLoadLoseAndRepeatNothing)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_NO_FATAL_FAILURE(direct_domain(store, 5));
    ASSERT_NO_FATAL_FAILURE(direct_domain(store, 6));
    std::atomic<bool> stop{ false };
    struct Worker {
        std::string problem;
        int ops = 0, txs = 0, eagain = 0, writes = -1;
        std::atomic<int> events{ 0 };
    } w5, w6;
    auto work = [&](unsigned domid, Worker *w) {
        auto g = store.guest(domid);
        if (!g) {
            w->problem = "no ring";
            return;
        }
        WireMsg r;
        if (!strict(*g, XS_WATCH, 0, nul_join({ "data/seq", "w" }), &r, &w->problem, &w->events))
            return;
        int writes = 0;
        for (int i = 0; !stop && w->problem.empty(); i++, writes++) {
            const std::string v = std::to_string(i);
            if (!strict(*g, XS_WRITE, 0, wr("data/seq", v), &r, &w->problem, &w->events))
                return;
            if (r.body != nul_join({ "OK" })) {
                w->problem = "write " + v + ": " + escape(r.body);
                return;
            }
            if (!strict(*g, XS_READ, 0, nul_join({ "data/seq" }), &r, &w->problem, &w->events))
                return;
            if (r.body != v) {
                w->problem = "read back " + escape(r.body) + " after writing " + v;
                return;
            }
            w->ops += 2;
            if (i % 5 == 0) {   // a transaction: start, write, read, commit
                if (!strict(*g, XS_TRANSACTION_START, 0, std::string(1, '\0'), &r, &w->problem,
                            &w->events))
                    return;
                uint32_t tx = (uint32_t)std::stoul(r.body);
                if (!strict(*g, XS_WRITE, tx, wr("data/t", v), &r, &w->problem, &w->events) ||
                    !strict(*g, XS_READ, tx, nul_join({ "data/t" }), &r, &w->problem,
                            &w->events))
                    return;
                if (r.body != v) {
                    w->problem = "read in tx " + escape(r.body);
                    return;
                }
                if (!strict(*g, XS_TRANSACTION_END, tx, nul_join({ "T" }), &r, &w->problem,
                            &w->events))
                    return;
                if (r.type == XS_ERROR && r.body == nul_join({ "EAGAIN" }))
                    w->eagain++;
                else if (r.type != XS_TRANSACTION_END) {
                    w->problem = "commit: " + escape(r.body);
                    return;
                }
                w->txs++;
            }
        }
        // a last request: the events of every write came before its reply
        if (w->problem.empty() &&
            strict(*g, XS_READ, 0, nul_join({ "data/seq" }), &r, &w->problem, &w->events))
            w->writes = writes;
    };
    std::thread t5(work, 5u, &w5), t6(work, 6u, &w6);
    auto ctl = store.dom0();
    ASSERT_TRUE(ctl);
    int cycles = 0;
    std::string failure;
    for (; cycles < XSTEST_CYCLES && w5.problem.empty() && w6.problem.empty(); cycles++) {
        WireMsg r;
        if (!ctl->request(XS_CONTROL, 0, nul_join({ "insert", "5" }), &r, 10000) ||
            r.type == XS_ERROR) {
            failure = "insert: " + escape(r.body);
            break;
        }
        if (!ctl->request(XS_CONTROL, 0, nul_join({ "remove", "5" }), &r, 10000) ||
            r.type == XS_ERROR) {
            failure = "remove: " + escape(r.body);
            break;
        }
    }
    // the last cycle's guest work happened through xsproxy and after it
    sleep_ms(100);
    stop = true;
    t5.join();
    t6.join();
    EXPECT_EQ(failure, "") << store.proxy_log();
    EXPECT_EQ(cycles, 100);
    EXPECT_EQ(w5.problem, "");
    EXPECT_EQ(w6.problem, "");
    EXPECT_GT(w5.ops, 200);
    EXPECT_GT(w6.ops, 200);
    EXPECT_GT(w5.txs, 10);
    // every write fired the watch, once (and its registration once)
    EXPECT_EQ(w5.events.load(), w5.writes + 1);
    EXPECT_EQ(w6.events.load(), w6.writes + 1);
    EXPECT_EQ(list(store, 5), "");
    EXPECT_TRUE(store.proxy_alive());
    std::string log = store.proxy_log();
    EXPECT_EQ(log.find(" error:"), std::string::npos) << log;
}

INSTANTIATE_TEST_SUITE_P(Daemons, XsproxyLive, both_daemons(), DaemonName());

// A live-inserted domain migrates: oxenstored's host A, where it ran
// directly for a while, to C xenstored's host B.
TEST(XsproxyLiveMigration, LiveInsertedDomainMigratesEndToEnd)
{
    Store a(XSSIM_OXENSTORED, true), b(XSSIM_XENSTORED, true);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE(a.host().create_domain(5));
    std::string why;
    WireMsg r, ev;
    {
        auto g = a.guest(5);
        ASSERT_TRUE(strict(*g, XS_WRITE, 0, wr("data/x", "1"), &r, &why)) << why;
        ASSERT_TRUE(strict(*g, XS_WATCH, 0, nul_join({ "data/x", "mytoken" }), &r, &why));
        ASSERT_EQ(g->next_event(&ev, 5000), 1);
    }
    ASSERT_TRUE(a.xsproxyctl({ "insert", "5" }).ok()) << a.proxy_log();
    ASSERT_TRUE(a.xsproxyctl({ "quiesce", "5" }).ok());
    TempDir tmp("xslive");
    RunResult sv = a.xsproxyctl({ "save", "5", tmp.sub("dom5.xs") });
    ASSERT_TRUE(sv.ok()) << sv.err << a.proxy_log();
    EXPECT_NE(sv.out.find("1 watches"), std::string::npos) << sv.out;
    ASSERT_TRUE(b.create_domain(7, false));
    {
        std::ifstream in(a.dir() + "/mem/dom5", std::ios::binary);
        std::ofstream out(b.dir() + "/mem/dom7", std::ios::binary);
        out << in.rdbuf();
    }
    RunResult rs = b.xsproxyctl({ "restore", "7", tmp.sub("dom5.xs"), "--from-domid", "5" });
    ASSERT_TRUE(rs.ok()) << rs.err << b.proxy_log();
    ASSERT_TRUE(a.destroy_domain(5));
    auto g7 = b.guest(7);
    ASSERT_TRUE(strict(*g7, XS_READ, 0, nul_join({ "data/x" }), &r, &why)) << why;
    EXPECT_EQ(r.body, "1");
    auto d0 = b.dom0();
    ASSERT_TRUE(d0->request(XS_WRITE, 0, wr("/local/domain/7/data/x", "2"), &r));
    bool fired = false;   // (the restore's re-registration fires once too)
    for (int i = 0; i < 3 && !fired && g7->next_event(&ev, 5000) == 1; i++)
        fired = ev.body == nul_join({ "data/x", "mytoken" });
    EXPECT_TRUE(fired) << "the watch registered before the live insertion, on host A";
}

}  // namespace
}  // namespace xstest
