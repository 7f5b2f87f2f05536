// test_proxy_live.cc - live insertion: xsproxy put in front of a domain
// xenstored already serves directly, and handed back, with the guest
// noticing nothing.  For oxenstored and C xenstored:
//  - what happened before is learned (oxenstored's watch list; a
//    transaction opened before is adopted at its next use; C xenstored's
//    shadow says it is incomplete and save refuses it unless forced);
//  - 100 insert/remove cycles while the guest and another guest run a busy
//    workload with a watch and transactions: the sequence of answers equals
//    a direct run's, none lost or repeated, the watch fires once per write;
//  - xsproxy killed in the middle of an insertion, before and after the
//    shim switched the ring, or right after a hand-back: the next xsproxy
//    leaves the domain with xenstored or finishes the insertion, and the
//    guest is served;
//  - a live-inserted domain migrates to another host end to end.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

#include "busy_guest.h"
#include "sim_host.h"
#include "workload.h"

#ifndef XSTEST_CYCLES
#define XSTEST_CYCLES 100
#endif
namespace xstest {
namespace {

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

// 100 cycles of insert and remove of domain 5 while it and domain 6 (served
// directly throughout) run busy_guest; then the same rounds on a fresh host
// without xsproxy: the answers must be the same, in the same order.
TEST_P(XsproxyLive, HundredCyclesUnderLoadAnswerAsADirectRun)
{
    Worker w5, w6;
    {
        Store store(GetParam(), true);
        ASSERT_TRUE(store.ok());
        ASSERT_NO_FATAL_FAILURE(direct_domain(store, 5));
        ASSERT_NO_FATAL_FAILURE(direct_domain(store, 6));
        std::atomic<bool> stop{ false };
        std::thread t5(busy_guest, std::ref(store), 5u, &w5, std::cref(stop), -1);
        std::thread t6(busy_guest, std::ref(store), 6u, &w6, std::cref(stop), -1);
        auto ctl = store.dom0();
        ASSERT_TRUE(ctl);
        int cycles = 0, retries = 0;
        std::string failure;
        for (; cycles < 100 && w5.problem.empty() && w6.problem.empty(); cycles++) {
            WireMsg r;
            if (!ctl->request(XS_CONTROL, 0, nul_join({ "insert", "5" }), &r, 10000) ||
                r.type == XS_ERROR) {
                failure = "insert: " + escape(r.body);
                break;
            }
            // an operator retries a removal the busy guest did not let settle
            bool removed = false;
            for (int attempt = 0; attempt < 3 && !removed; attempt++) {
                if (!ctl->request(XS_CONTROL, 0, nul_join({ "remove", "5" }), &r, 10000))
                    break;
                removed = r.type != XS_ERROR;
                retries += !removed && r.body == nul_join({ "EBUSY" });
                if (!removed && r.body != nul_join({ "EBUSY" }))
                    break;
            }
            if (!removed) {
                failure = "remove: " + escape(r.body);
                break;
            }
        }
        sleep_ms(100);   // some work after the last handing back
        stop = true;
        t5.join();
        t6.join();
        EXPECT_EQ(failure, "") << store.proxy_log();
        EXPECT_EQ(cycles, 100);
        EXPECT_LE(retries, 10) << "removals refused as busy";
        EXPECT_EQ(list(store, 5), "");
        EXPECT_TRUE(store.proxy_alive());
        const std::string log = store.proxy_log();
        EXPECT_EQ(log.find(" error:"), std::string::npos) << log;
        // the shim never refused, and every reply had its request
        EXPECT_EQ(log.find("did not switch"), std::string::npos) << log;
        EXPECT_EQ(log.find("no request in flight"), std::string::npos) << log;
    }
    ASSERT_EQ(w5.problem, "");
    ASSERT_EQ(w6.problem, "");
    EXPECT_GT(w5.rounds, 100);
    EXPECT_GT(w6.rounds, 100);
    EXPECT_GT(w5.txs, 20);
    // every write fired the watch, once (and its registration once).  Under
    // a heavily loaded host C xenstored was seen to miss one event, for a
    // domain xsproxy never touched as well: one is tolerated, never an
    // extra one (the lost-event race this found on oxenstored lost three)
    EXPECT_LE(w5.events.load(), w5.writes + 1);
    EXPECT_GE(w5.events.load(), w5.writes);
    EXPECT_LE(w6.events.load(), w6.writes + 1);
    EXPECT_GE(w6.events.load(), w6.writes);

    // the same rounds with no xsproxy at all
    Worker d5, d6;
    {
        Store direct(GetParam(), false);
        ASSERT_TRUE(direct.ok());
        ASSERT_TRUE(direct.create_domain(5));
        ASSERT_TRUE(direct.create_domain(6));
        std::atomic<bool> never{ false };
        std::thread t5(busy_guest, std::ref(direct), 5u, &d5, std::cref(never), w5.rounds);
        std::thread t6(busy_guest, std::ref(direct), 6u, &d6, std::cref(never), w6.rounds);
        t5.join();
        t6.join();
    }
    ASSERT_EQ(d5.problem, "");
    EXPECT_EQ(w5.log.size(), d5.log.size());
    EXPECT_TRUE(w5.log == d5.log) << "domain 5's answers differ from a direct run";
    EXPECT_TRUE(w6.log == d6.log) << "domain 6's answers differ from a direct run";
}

// The guest has sent ten READs of a 600-octet value without reading a reply:
// its response ring holds one and a half of them, and xenstored holds the
// rest, some taken and not answered, some not taken yet.  Inserted live at
// that moment (and, with CRASH, xsproxy killed right after the switch and
// started again), every request gets its reply once, in order, and the
// shadow knows each request it answers.
void insert_with_replies_queued(xssim_daemon daemon, bool crash)
{
    if (crash)
        setenv("XSPROXY_CRASH_AT", "live-switched", 1);
    Store store(daemon, true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.host().create_domain(5));
    auto g = store.guest(5);
    ASSERT_TRUE(g);
    std::string why;
    WireMsg r;
    const std::string value(600, 'v');
    ASSERT_TRUE(strict(*g, XS_WRITE, 0, wr("data/big", value), &r, &why)) << why;
    const uint32_t first = g->next_req_id;
    for (int i = 0; i < 10; i++) {
        WireMsg m;
        m.type = XS_READ;
        m.req_id = g->next_req_id++;
        m.body = nul_join({ "data/big" });
        ASSERT_TRUE(g->send(m)) << g->error();
    }
    sleep_ms(50);   // xenstored takes what it can, its replies pile up
    RunResult ins = store.xsproxyctl({ "insert", "5" });
    if (crash) {
        EXPECT_FALSE(ins.ok());
        for (int i = 0; i < 100 && store.proxy_alive(); i++)
            sleep_ms(20);
        unsetenv("XSPROXY_CRASH_AT");
        ASSERT_TRUE(store.restart_proxy(&why)) << why;
    } else {
        ASSERT_TRUE(ins.ok()) << ins.err << store.proxy_log();
    }
    for (int i = 0; i < 10; i++) {
        ASSERT_EQ(g->recv(&r, 10000), 1) << "reply " << i << ": " << g->error()
                                         << store.proxy_log();
        EXPECT_EQ(r.type, (uint32_t)XS_READ) << escape(r.body);
        EXPECT_EQ(r.req_id, first + (uint32_t)i);
        EXPECT_EQ(r.body, value);
    }
    EXPECT_EQ(g->recv(&r, 200), 0) << "a reply too many: " << r.req_id;
    // through xsproxy from here on, with nothing left in flight
    ASSERT_TRUE(strict(*g, XS_READ, 0, nul_join({ "data/big" }), &r, &why)) << why;
    const std::string l = store.xsproxyctl({ "list", "5" }).out;
    EXPECT_NE(l.find("in-flight 0 "), std::string::npos) << l;
    const std::string log = store.proxy_log();
    EXPECT_EQ(log.find("no request in flight"), std::string::npos) << log;
    EXPECT_EQ(log.find("did not switch"), std::string::npos) << log;
    EXPECT_NE(log.find(crash ? "finishing it" : "inserted live"), std::string::npos) << log;
}

TEST_P(XsproxyLive, InsertedWhileRepliesPileUpEachRequestIsAnsweredOnce)
{
    insert_with_replies_queued(GetParam(), false);
}

TEST_P(XsproxyLive, ACrashRightAfterSuchASwitchAnswersEachRequestOnce)
{
    insert_with_replies_queued(GetParam(), true);
}

// The guest is half-way through a WRITE (its header and part of the path on
// the ring, xenstored not told) when it is inserted; it writes the rest a
// moment later.  Whether the shim handed the half request over (xsproxy
// finishes it) or xenstored had taken part of it (the switch waits for the
// rest), the write is answered once and lands once.
// A WRITE put on a guest's request ring up to 5 bytes into its payload
// (xenstored takes that part, and waits for the rest); finish() writes the
// rest and notifies.
class HalfWrittenRequest {
public:
    HalfWrittenRequest(RingConn &g, uint32_t req_id, const std::string &body) : g_(g)
    {
        struct xsd_sockmsg h = { XS_WRITE, req_id, 0, (uint32_t)body.size() };
        all_.assign(reinterpret_cast<const char *>(&h), sizeof(h));
        all_ += body;
        put(0, sizeof(h) + 5);
    }
    void notify() { g_.notify(); }
    void finish()
    {
        put(sizeof(struct xsd_sockmsg) + 5, all_.size());
        g_.notify();
    }

private:
    void put(size_t from, size_t to)
    {
        struct xenstore_domain_interface *ring = g_.ring();
        for (size_t i = from; i < to; i++)
            ring->req[MASK_XENSTORE_IDX(ring->req_prod + (uint32_t)(i - from))] = all_[i];
        __atomic_store_n(&ring->req_prod, ring->req_prod + (uint32_t)(to - from),
                         __ATOMIC_RELEASE);
    }
    RingConn &g_;
    std::string all_;
};

TEST_P(XsproxyLive, InsertedWhileTheGuestIsHalfWayThroughARequest)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.host().create_domain(5));
    auto g = store.guest(5);
    ASSERT_TRUE(g);
    std::string why;
    WireMsg r;
    ASSERT_TRUE(strict(*g, XS_WRITE, 0, wr("data/x", "0"), &r, &why)) << why;
    HalfWrittenRequest half(*g, 4242, wr("data/half", "written"));
    std::thread rest([&] {
        sleep_ms(300);
        half.finish();
    });
    RunResult ins = store.xsproxyctl({ "insert", "5" });
    rest.join();
    ASSERT_TRUE(ins.ok()) << ins.err << store.proxy_log();
    ASSERT_EQ(g->recv(&r, 10000), 1) << g->error() << store.proxy_log();
    EXPECT_EQ(r.req_id, 4242u);
    EXPECT_EQ(r.type, (uint32_t)XS_WRITE) << escape(r.body);
    EXPECT_EQ(g->recv(&r, 200), 0) << "a reply too many: " << r.req_id;
    ASSERT_TRUE(strict(*g, XS_READ, 0, nul_join({ "data/half" }), &r, &why)) << why;
    EXPECT_EQ(r.body, "written");
    const std::string l = list(store, 5);
    EXPECT_NE(l.find("in-flight 0 "), std::string::npos) << l;
    EXPECT_EQ(store.proxy_log().find("no request in flight"), std::string::npos)
        << store.proxy_log();
}

// While an insertion waits for the shim (here: xenstored holds part of the
// guest's request, and the shim says busy until the guest writes the
// rest), xsproxy's loop goes on serving every other domain.
TEST_P(XsproxyLive, OtherDomainsAreServedWhileAnInsertionWaits)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.host().create_domain(5));
    ASSERT_TRUE(store.create_domain(6));   // through xsproxy
    auto g = store.guest(5), other = store.guest(6);
    ASSERT_TRUE(g && other);
    std::string why;
    WireMsg r;
    ASSERT_TRUE(strict(*g, XS_WRITE, 0, wr("data/x", "0"), &r, &why)) << why;
    HalfWrittenRequest half(*g, 4343, wr("data/half", "written"));
    half.notify();
    RunResult ins;
    std::atomic<bool> answered{ false };
    std::thread inserter([&] {
        ins = store.xsproxyctl({ "insert", "5" });
        answered = true;
    });
    // domain 6 is answered throughout, each READ at once
    unsigned reads = 0;
    int64_t slowest = 0;
    for (int64_t t0 = mono_ms(); mono_ms() - t0 < 400;) {
        int64_t t = mono_ms();
        ASSERT_TRUE(strict(*other, XS_READ, 0, nul_join({ "domid" }), &r, &why)) << why;
        slowest = std::max(slowest, mono_ms() - t);
        reads++;
    }
    EXPECT_FALSE(answered) << "the insertion did not wait: " << ins.out;
    half.finish();
    inserter.join();
    ASSERT_TRUE(ins.ok()) << ins.err << store.proxy_log();
    EXPECT_GE(reads, 50u);
    EXPECT_LT(slowest, 200) << "domain 6 waited for the insertion";
    ASSERT_EQ(g->recv(&r, 10000), 1) << g->error() << store.proxy_log();
    EXPECT_EQ(r.req_id, 4343u);
    EXPECT_EQ(r.type, (uint32_t)XS_WRITE) << escape(r.body);
}

// xsproxy killed in the middle of a live insertion of domain 5, at POINT
// (XSPROXY_CRASH_AT: proxy/live.c), then started again on the same run
// directory.  Returns with the store, the guest (a watch on data/x,
// registered before) and xsproxy serving again.
void crash_in_live_insertion(Store &store, const char *point, std::unique_ptr<RingConn> *g,
                             std::string *why)
{
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.host().create_domain(5));
    ASSERT_TRUE(store.host().create_domain(6));
    *g = store.guest(5);
    ASSERT_TRUE(*g);
    WireMsg r, ev;
    ASSERT_TRUE(strict(**g, XS_WRITE, 0, wr("data/x", "1"), &r, why)) << *why;
    ASSERT_TRUE(strict(**g, XS_WATCH, 0, nul_join({ "data/x", "tok" }), &r, why)) << *why;
    ASSERT_EQ((*g)->next_event(&ev, 5000), 1);
    RunResult ins = store.xsproxyctl({ "insert", "5" });
    EXPECT_FALSE(ins.ok()) << "xsproxy did not die at " << point << ": " << ins.out;
    for (int i = 0; i < 100 && store.proxy_alive(); i++)
        sleep_ms(20);
    ASSERT_FALSE(store.proxy_alive());
    ASSERT_NE(store.proxy_log().find(std::string("XSPROXY_CRASH_AT=") + point),
              std::string::npos)
        << store.proxy_log();
    unsetenv("XSPROXY_CRASH_AT");   // not for the next xsproxy
    ASSERT_TRUE(store.restart_proxy(why)) << *why;
}

// The guest is served (directly or not), its watch fires once per write,
// and a switch of domain 6 - a new switch request, on which the shim looks
// at every live claim - leaves it served.
void still_served(Store &store, RingConn &g, const std::string &value)
{
    std::string why;
    WireMsg r, ev;
    auto d0 = store.dom0();
    ASSERT_TRUE(d0->request(XS_WRITE, 0, wr("/local/domain/5/data/x", value), &r));
    ASSERT_EQ(g.next_event(&ev, 5000), 1) << store.proxy_log();
    EXPECT_EQ(ev.body, nul_join({ "data/x", "tok" }));
    ASSERT_TRUE(strict(g, XS_READ, 0, nul_join({ "data/x" }), &r, &why)) << why;
    EXPECT_EQ(r.body, value);
    // domain 6 inserted live, or handed back: a switch request either way
    bool six_in = !store.xsproxyctl({ "list", "6" }).out.empty();
    RunResult sw6 = store.xsproxyctl({ six_in ? "remove" : "insert", "6" });
    ASSERT_TRUE(sw6.ok()) << sw6.err << store.proxy_log();
    // the guest's own write: C xenstored sends the event before the reply
    std::atomic<int> events{ 0 };
    ASSERT_TRUE(strict(g, XS_WRITE, 0, wr("data/x", value + "+"), &r, &why, &events)) << why;
    if (events == 0)
        ASSERT_EQ(g.next_event(&ev, 5000), 1);
    else
        EXPECT_EQ(events, 1);
    ASSERT_TRUE(strict(g, XS_READ, 0, nul_join({ "data/x" }), &r, &why, &events)) << why;
    EXPECT_EQ(r.body, value + "+");
    EXPECT_EQ(g.next_event(&ev, 200), 0) << "an event too many: " << escape(ev.body);
    EXPECT_LE(events, 1);
}

// Killed with the domain's journal made and nothing in it yet: the next
// xsproxy removes what the insertion left, and the domain stays with
// xenstored.
TEST_P(XsproxyLive, ACrashBeforeTheFirstCommitLeavesNothingBehind)
{
    setenv("XSPROXY_CRASH_AT", "prepared", 1);
    Store store(GetParam(), true);
    std::unique_ptr<RingConn> g;
    std::string why;
    ASSERT_NO_FATAL_FAILURE(crash_in_live_insertion(store, "prepared", &g, &why));
    std::string log = store.proxy_log();
    EXPECT_NE(log.find("domain 5: an insertion cut short before its first commit left a "
                       "journal with nothing in it; removed"),
              std::string::npos)
        << log;
    EXPECT_EQ(log.find("cannot recover"), std::string::npos) << log;
    EXPECT_EQ(list(store, 5), "");
    ASSERT_NO_FATAL_FAILURE(still_served(store, *g, "2"));
    RunResult ins = store.xsproxyctl({ "insert", "5" });
    ASSERT_TRUE(ins.ok()) << ins.err << store.proxy_log();
    ASSERT_NO_FATAL_FAILURE(still_served(store, *g, "3"));
}

// Killed after writing the claim, before asking the shim: the next xsproxy
// takes the claim away, and the domain stays with xenstored.
TEST_P(XsproxyLive, ACrashBeforeTheSwitchLeavesTheDomainWithXenstored)
{
    setenv("XSPROXY_CRASH_AT", "live-claimed", 1);
    Store store(GetParam(), true);
    std::unique_ptr<RingConn> g;
    std::string why;
    ASSERT_NO_FATAL_FAILURE(crash_in_live_insertion(store, "live-claimed", &g, &why));
    EXPECT_NE(store.proxy_log().find("domain 5: its live insertion was cut short before the "
                                     "switch; it stays with xenstored"),
              std::string::npos)
        << store.proxy_log();
    EXPECT_EQ(list(store, 5), "");
    ASSERT_NO_FATAL_FAILURE(still_served(store, *g, "2"));
    EXPECT_EQ(list(store, 5), "");
    // and it can be inserted after all
    RunResult ins = store.xsproxyctl({ "insert", "5" });
    ASSERT_TRUE(ins.ok()) << ins.err << store.proxy_log();
    ASSERT_NO_FATAL_FAILURE(still_served(store, *g, "3"));
}

// Killed after the shim switched the ring, before anything was relayed or
// xsproxy learned xenstored's port: the next xsproxy finishes the insertion.
TEST_P(XsproxyLive, ACrashAfterTheSwitchIsFinishedByTheNextXsproxy)
{
    setenv("XSPROXY_CRASH_AT", "live-switched", 1);
    Store store(GetParam(), true);
    std::unique_ptr<RingConn> g;
    std::string why;
    ASSERT_NO_FATAL_FAILURE(crash_in_live_insertion(store, "live-switched", &g, &why));
    EXPECT_NE(store.proxy_log().find("domain 5: its live insertion was cut short after the "
                                     "switch; finishing it"),
              std::string::npos)
        << store.proxy_log();
    EXPECT_NE(list(store, 5).find("domain 5 active"), std::string::npos) << list(store, 5);
    if (GetParam() == XSSIM_OXENSTORED) {
        RunResult w = store.xsproxyctl({ "get-domain-watches", "5" });
        EXPECT_EQ(w.out, "1\ndata/x tok\n");   // learned from oxenstored, as live_insert does
    }
    ASSERT_NO_FATAL_FAILURE(still_served(store, *g, "2"));
    EXPECT_NE(list(store, 5).find("domain 5 active"), std::string::npos) << list(store, 5);
    // handed back, it is served directly again
    RunResult rm = store.xsproxyctl({ "remove", "5" });
    ASSERT_TRUE(rm.ok()) << rm.err << store.proxy_log();
    EXPECT_EQ(list(store, 5), "");
    ASSERT_NO_FATAL_FAILURE(still_served(store, *g, "3"));
}

// Killed once the shim has handed the domain back, before xsproxy let go of
// it: the next xsproxy finds xenstored holding the guest's channel and the
// shim saying "direct", and removes what the domain left.
TEST_P(XsproxyLive, ACrashRightAfterAHandBackLeavesTheDomainWithXenstored)
{
    setenv("XSPROXY_CRASH_AT", "handed-back", 1);
    Store store(GetParam(), true);
    unsetenv("XSPROXY_CRASH_AT");   // not for the next xsproxy
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.host().create_domain(5));
    ASSERT_TRUE(store.host().create_domain(6));
    auto g = store.guest(5);
    ASSERT_TRUE(g);
    std::string why;
    WireMsg r, ev;
    ASSERT_TRUE(strict(*g, XS_WATCH, 0, nul_join({ "data/x", "tok" }), &r, &why)) << why;
    ASSERT_EQ(g->next_event(&ev, 5000), 1);
    RunResult ins = store.xsproxyctl({ "insert", "5" });
    ASSERT_TRUE(ins.ok()) << ins.err << store.proxy_log();
    ASSERT_NO_FATAL_FAILURE(still_served(store, *g, "1"));
    RunResult rm = store.xsproxyctl({ "remove", "5" });
    EXPECT_FALSE(rm.ok()) << "xsproxy did not die after handing back: " << rm.out;
    for (int i = 0; i < 100 && store.proxy_alive(); i++)
        sleep_ms(20);
    ASSERT_FALSE(store.proxy_alive());
    ASSERT_TRUE(store.restart_proxy(&why)) << why;
    ASSERT_TRUE(store.restart_proxy(&why)) << why;   // and once more: nothing left over
    std::string log = store.proxy_log();
    EXPECT_NE(log.find("domain 5 was handed back to xenstored just before the crash"),
              std::string::npos)
        << log;
    EXPECT_EQ(log.find("cannot recover"), std::string::npos) << log;
    EXPECT_EQ(list(store, 5), "");
    ASSERT_NO_FATAL_FAILURE(still_served(store, *g, "2"));
    ins = store.xsproxyctl({ "insert", "5" });
    ASSERT_TRUE(ins.ok()) << ins.err << store.proxy_log();
    ASSERT_NO_FATAL_FAILURE(still_served(store, *g, "3"));
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
