// test_proxy_restart.cc - xsproxy killed with SIGKILL and started again
// carries on from its journals: the guests keep their ring connections,
// watches and transactions; nothing they sent is lost or done twice; dom0
// clients are disconnected and connect again.  Both daemons.
//
// The big case: 20 guests under load (writes with sequence numbers, read
// backs, transactions, a watch each), xsproxy killed at 100 random moments.
// Afterwards every acknowledged write is in the store, every write's watch
// event came exactly once (a write done twice would fire twice), every
// reply answered the request it names, every watch still fires, and each
// guest's answers equal those of the same rounds run directly against the
// daemon with no xsproxy at all.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <sstream>
#include <fstream>
#include <random>
#include <thread>

#include "workload.h"

using namespace xstest;

namespace {

std::string describe(const WireMsg &m)
{
    return type_name(m.type) + " req " + std::to_string(m.req_id) + " tx " +
           std::to_string(m.tx_id) + " \"" + escape(m.body) + "\"";
}

class XsproxyCrash : public ::testing::TestWithParam<xssim_daemon> {};

// One guest's part of the load: a script of rounds, one request at a time,
// so that any reply naming another request (one done twice) shows.
struct GuestLoad {
    unsigned domid;
    std::unique_ptr<RingConn> conn;
    unsigned round = 0, step = 0;
    uint32_t tx = 0;                // the open transaction's id
    unsigned tx_seen = 0;           // transactions started, for naming ids
    uint32_t outstanding = 0;       // req_id waited for, 0: none
    uint32_t next_req = 1;
    unsigned acked = 0;             // last sequence number acknowledged
    std::vector<std::string> log;   // every reply, ids named by order
    std::vector<std::string> events;
    std::string failure;

    // The request of the current step; false when the round has no more.
    bool next(WireMsg *m)
    {
        std::string seq = std::to_string(round);
        bool tx_round = round % 4 == 3;
        switch (step) {
        case 0:
            *m = { XS_WRITE, 0, 0, nul_join({ "data/seq" }) + seq };
            return true;
        case 1:
            *m = { XS_READ, 0, 0, nul_join({ "data/seq" }) };
            return true;
        case 2:
            if (!tx_round)
                return false;
            *m = { XS_TRANSACTION_START, 0, 0, std::string("", 1) };
            return true;
        case 3:
            *m = { XS_READ, 0, tx, nul_join({ "data/seq" }) };
            return true;
        case 4:
            *m = { XS_WRITE, 0, tx, nul_join({ "data/t" }) + seq };
            return true;
        case 5:
            *m = { XS_TRANSACTION_END, 0, tx, nul_join({ "T" }) };
            return true;
        default:
            return false;
        }
    }

    bool send_next(int timeout_ms)
    {
        WireMsg m;
        if (!next(&m)) {
            round++;
            step = 0;
            next(&m);
        }
        m.req_id = outstanding = next_req++;
        if (!conn->send(m, timeout_ms)) {
            failure = "dom" + std::to_string(domid) + ": cannot send: " + conn->error();
            return false;
        }
        return true;
    }

    // Wait for the reply to the outstanding request; events on the way are
    // logged.  False (with FAILURE) on silence, an error reply or a reply to
    // another request.
    bool finish(int timeout_ms)
    {
        for (;;) {
            WireMsg r;
            int n = conn->recv(&r, timeout_ms);
            if (n != 1) {
                failure = "dom" + std::to_string(domid) + ": no reply to req " +
                          std::to_string(outstanding) + " (round " + std::to_string(round) +
                          " step " + std::to_string(step) + ") within " +
                          std::to_string(timeout_ms) + " ms: " + conn->error();
                return false;
            }
            if (r.type == XS_WATCH_EVENT) {
                events.push_back(escape(r.body));
                continue;
            }
            if (r.req_id != outstanding) {
                failure = "dom" + std::to_string(domid) + ": waiting for req " +
                          std::to_string(outstanding) + ", got " + describe(r) +
                          " (a request answered twice?)";
                return false;
            }
            outstanding = 0;
            std::string body = r.body;
            if (r.type == XS_TRANSACTION_START && r.type != XS_ERROR) {
                tx = (uint32_t)strtoul(body.c_str(), nullptr, 10);
                body = "T" + std::to_string(++tx_seen);
            }
            if (r.type == XS_ERROR) {
                failure = "dom" + std::to_string(domid) + ": error reply " + describe(r) +
                          " at round " + std::to_string(round) + " step " + std::to_string(step);
                return false;
            }
            log.push_back(std::to_string(round) + "." + std::to_string(step) + " " +
                          type_name(r.type) + " " + escape(body));
            if (step == 0)
                acked = round;
            step++;
            return true;
        }
    }
};

// The load on NGUESTS guests (domains 1..N) of STORE, round after round,
// until STOP is set and each has done at least MIN_ROUNDS; or exactly ROUNDS
// rounds each when ROUNDS is not empty (the direct run).
void run_load(std::vector<GuestLoad> &gs, const std::atomic<bool> *stop, unsigned min_rounds,
              const std::vector<unsigned> *rounds)
{
    for (;;) {
        bool all_done = true;
        for (auto &g : gs) {
            bool done = rounds ? g.round >= (*rounds)[&g - &gs[0]] && g.step == 0
                               : stop->load() && g.round >= min_rounds && g.step == 0;
            if (!done)
                all_done = false;
        }
        if (all_done)
            return;
        std::vector<GuestLoad *> sent;
        for (auto &g : gs) {
            bool done = rounds ? g.round >= (*rounds)[&g - &gs[0]] && g.step == 0
                               : stop->load() && g.round >= min_rounds && g.step == 0;
            if (done || !g.failure.empty())
                continue;
            if (g.send_next(10000))
                sent.push_back(&g);
        }
        for (GuestLoad *g : sent)
            g->finish(10000);
        for (auto &g : gs)
            if (!g.failure.empty())
                return;
        // a round ends at step 2 (no transaction) or 6: name it by the round
        for (auto &g : gs) {
            WireMsg m;
            if (!g.next(&m) && g.step != 0) {
                g.round++;
                g.step = 0;
            }
        }
    }
}

bool setup_guests(Store &store, unsigned n, std::vector<GuestLoad> *gs, std::string *why)
{
    for (unsigned i = 0; i < n; i++) {
        unsigned domid = i + 1;
        if (!store.create_domain(domid)) {
            *why = "cannot create domain " + std::to_string(domid);
            return false;
        }
        GuestLoad g;
        g.domid = domid;
        g.conn = store.guest(domid);
        if (!g.conn) {
            *why = "cannot attach to domain " + std::to_string(domid);
            return false;
        }
        WireMsg r;
        if (!g.conn->request(XS_WRITE, 0, nul_join({ "data/seq" }) + "start", &r) ||
            r.type != XS_WRITE ||
            !g.conn->request(XS_WATCH, 0, nul_join({ "data/seq", "seq" }), &r) ||
            r.type != XS_WATCH) {
            *why = "dom" + std::to_string(domid) + ": set-up failed: " + describe(r);
            return false;
        }
        WireMsg ev;   // the watch's initial event: not one of the load's
        if (g.conn->next_event(&ev, 3000) != 1) {
            *why = "dom" + std::to_string(domid) + ": no initial watch event";
            return false;
        }
        g.next_req = 100;
        gs->push_back(std::move(g));
    }
    return true;
}

// Every guest's events, once all its requests are answered: the initial
// event of its watch, then one per write of data/seq.
void drain_events(std::vector<GuestLoad> &gs)
{
    for (auto &g : gs) {
        // a request on the same ring: events queued before its reply
        WireMsg r;
        g.conn->request(XS_READ, 0, nul_join({ "data/seq" }), &r);
        WireMsg ev;
        while (g.conn->next_event(&ev, 0) == 1)
            g.events.push_back(escape(ev.body));
    }
}

// For a failure: the guest's ring indexes, its shadow ring's, and what
// xsproxy says of the domain.
std::string where_it_stands(Store &store, GuestLoad &g)
{
    std::ostringstream o;
    const xenstore_domain_interface *r = g.conn->ring();
    o << "guest ring: req " << r->req_cons << "/" << r->req_prod << " rsp " << r->rsp_cons << "/"
      << r->rsp_prod << "\n";
    std::ifstream f(store.dir() + "/proxy/shadow/dom" + std::to_string(g.domid), std::ios::binary);
    xenstore_domain_interface s;
    if (f.read(reinterpret_cast<char *>(&s), sizeof(s)))
        o << "shadow ring: req " << s.req_cons << "/" << s.req_prod << " rsp " << s.rsp_cons << "/"
          << s.rsp_prod << "\n";
    o << store.xsproxyctl({ "list", std::to_string(g.domid) }).out << "\n";
    return o.str();
}

TEST_P(XsproxyCrash, KilledProxyCarriesOnWithWatchesTransactionsAndRequestsInFlight)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(1));
    auto g = store.guest(1);
    ASSERT_TRUE(g);
    WireMsg r;
    ASSERT_TRUE(g->request(XS_MKDIR, 0, nul_join({ "data/w" }), &r)) << g->error();
    ASSERT_TRUE(g->request(XS_WATCH, 0, nul_join({ "data/w", "tok" }), &r)) << g->error();
    WireMsg ev;
    ASSERT_EQ(1, g->next_event(&ev, 3000)) << "the watch's initial event";
    // the transaction works in a subtree of its own: a conflict with the
    // write below would end it in EAGAIN on C xenstored, crash or not
    ASSERT_TRUE(g->request(XS_MKDIR, 0, nul_join({ "data/tx" }), &r));
    ASSERT_TRUE(g->request(XS_TRANSACTION_START, 0, std::string("", 1), &r));
    ASSERT_EQ((uint32_t)XS_TRANSACTION_START, r.type) << describe(r);
    uint32_t tx = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
    ASSERT_TRUE(g->request(XS_WRITE, tx, nul_join({ "data/tx/in-tx" }) + "1", &r));
    ASSERT_EQ((uint32_t)XS_WRITE, r.type) << describe(r);
    auto c = store.dom0();
    ASSERT_TRUE(c);

    // a request in flight at xenstored (stopped) when xsproxy dies
    pid_t daemon = store.host().daemon_pid();
    ASSERT_EQ(0, kill(daemon, SIGSTOP));
    ASSERT_TRUE(g->send({ XS_WRITE, 777, 0, nul_join({ "data/w/flight" }) + "x" }));
    sleep_ms(50);
    ASSERT_EQ(0, kill(store.proxy_pid(), SIGKILL));
    ASSERT_TRUE(wait_pid_gone(store.proxy_pid(), 5000));
    // xenstored answers while no xsproxy is there: into the shadow ring
    ASSERT_EQ(0, kill(daemon, SIGCONT));
    sleep_ms(50);
    std::string why;
    ASSERT_TRUE(store.restart_proxy(&why)) << why;

    // answered once, on the same ring connection, and its watch event
    // (which C xenstored sends first, oxenstored after)
    std::vector<WireMsg> got;
    while (got.size() < 2 && g->recv(&r, 5000) == 1)
        got.push_back(r);
    ASSERT_EQ(2u, got.size()) << "the request in flight or its event is lost: " << g->error();
    EXPECT_EQ(0, g->recv(&r, 200)) << "something more: " << describe(r);
    if (got[0].type == XS_WATCH_EVENT)
        std::swap(got[0], got[1]);
    EXPECT_EQ(777u, got[0].req_id) << describe(got[0]);
    EXPECT_EQ((uint32_t)XS_WRITE, got[0].type) << describe(got[0]);
    EXPECT_EQ((uint32_t)XS_WATCH_EVENT, got[1].type) << describe(got[1]);
    EXPECT_NE(std::string::npos, got[1].body.find("data/w/flight")) << describe(got[1]);

    // the transaction goes on and commits
    ASSERT_TRUE(g->request(XS_WRITE, tx, nul_join({ "data/tx/in-tx2" }) + "2", &r));
    EXPECT_EQ((uint32_t)XS_WRITE, r.type) << describe(r);
    ASSERT_TRUE(g->request(XS_TRANSACTION_END, tx, nul_join({ "T" }), &r));
    EXPECT_EQ((uint32_t)XS_TRANSACTION_END, r.type) << describe(r);
    ASSERT_TRUE(g->request(XS_READ, 0, nul_join({ "data/tx/in-tx2" }), &r));
    EXPECT_EQ("2", r.body) << describe(r);

    // the old dom0 client was disconnected; a new one works
    EXPECT_EQ(-1, c->recv(&r, 2000)) << "the old socket client is still connected";
    auto c2 = store.dom0();
    ASSERT_TRUE(c2);
    ASSERT_TRUE(c2->request(XS_READ, 0, nul_join({ "/local/domain/1/data/w/flight" }), &r));
    EXPECT_EQ("x", r.body) << describe(r);
    RunResult l = store.xsproxyctl({ "list", "1" });
    EXPECT_NE(std::string::npos, l.out.find("watches 1")) << l.out;
    EXPECT_NE(std::string::npos, store.proxy_log().find("domain 1 recovered"))
        << store.proxy_log();

    // a stop (SIGTERM) keeps the domain too
    ASSERT_EQ(0, kill(store.proxy_pid(), SIGTERM));
    ASSERT_TRUE(store.restart_proxy(&why)) << why;
    ASSERT_TRUE(g->request(XS_WRITE, 0, nul_join({ "data/w/after-stop" }) + "y", &r));
    EXPECT_EQ((uint32_t)XS_WRITE, r.type) << describe(r);
    ASSERT_EQ(1, g->next_event(&ev, 3000)) << "the watch no longer fires after a stop";
}

// Past 8 watches a domain's watch list has a journal of its own, written
// only when the list changes (docs/design.md): killed with such a list, changed
// and killed again, xsproxy still knows exactly the watches the guest has,
// and each fires once.  The file goes with the domain.
TEST_P(XsproxyCrash, AWatchListJournalledApartOutlivesKills)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(1));
    auto g = store.guest(1);
    ASSERT_TRUE(g);
    WireMsg r, ev;
    const unsigned kWatches = 12;
    const std::string apart = store.dir() + "/proxy/journal/dom1.watches";
    struct stat st;
    for (unsigned i = 0; i < kWatches; i++) {
        if (i == 8) {   // a few watches stay in the domain's one journal
            EXPECT_NE(0, stat(apart.c_str(), &st)) << apart << " with 8 watches";
        }
        const std::string n = std::to_string(i);
        ASSERT_TRUE(g->request(XS_WATCH, 0, nul_join({ "data/w" + n, "t" + n }), &r))
            << g->error();
        ASSERT_EQ((uint32_t)XS_WATCH, r.type) << describe(r);
        ASSERT_EQ(1, g->next_event(&ev, 3000)) << "watch " << i << "'s initial event";
    }
    EXPECT_EQ(0, stat(apart.c_str(), &st)) << apart << " missing";
    std::string why;
    auto kill_and_restart = [&] {
        ASSERT_EQ(0, kill(store.proxy_pid(), SIGKILL));
        ASSERT_TRUE(wait_pid_gone(store.proxy_pid(), 5000));
        ASSERT_TRUE(store.restart_proxy(&why)) << why;
    };
    ASSERT_NO_FATAL_FAILURE(kill_and_restart());
    RunResult l = store.xsproxyctl({ "list", "1" });
    EXPECT_NE(std::string::npos, l.out.find("watches 12 ")) << l.out;
    // two removed, one of them under the other spelling of its path
    ASSERT_TRUE(g->request(XS_UNWATCH, 0, nul_join({ "data/w3", "t3" }), &r));
    ASSERT_EQ((uint32_t)XS_UNWATCH, r.type) << describe(r);
    ASSERT_TRUE(g->request(XS_UNWATCH, 0, nul_join({ "/local/domain/1/data/w7", "t7" }), &r));
    ASSERT_EQ((uint32_t)XS_UNWATCH, r.type) << describe(r);
    ASSERT_NO_FATAL_FAILURE(kill_and_restart());
    l = store.xsproxyctl({ "list", "1" });
    EXPECT_NE(std::string::npos, l.out.find("watches 10 ")) << l.out << store.proxy_log();
    // each remaining watch fires once for a write under it, the others not
    auto c = store.dom0();
    ASSERT_TRUE(c);
    for (unsigned i = 0; i < kWatches; i++) {
        const std::string n = std::to_string(i);
        ASSERT_TRUE(c->request(XS_WRITE, 0, nul_join({ "/local/domain/1/data/w" + n }) + "v", &r));
        ASSERT_EQ((uint32_t)XS_WRITE, r.type) << describe(r);
    }
    std::vector<std::string> tokens;
    while (g->next_event(&ev, 1000) == 1)
        tokens.push_back(ev.body.substr(ev.body.find('\0') + 1));
    std::sort(tokens.begin(), tokens.end());
    std::vector<std::string> want;
    for (unsigned i = 0; i < kWatches; i++)
        if (i != 3 && i != 7)
            want.push_back(nul_join({ "t" + std::to_string(i) }));
    std::sort(want.begin(), want.end());
    EXPECT_EQ(want, tokens);
    // gone with the domain
    ASSERT_TRUE(store.destroy_domain(1));
    for (int i = 0; i < 100 && stat(apart.c_str(), &st) == 0; i++)
        sleep_ms(20);
    EXPECT_NE(0, stat(apart.c_str(), &st)) << apart << " outlived its domain";
}

// xenstored restarted too while xsproxy was down: the shadow channel's
// other end is gone, so the restarted xsproxy introduces the domain to the
// new xenstored and registers its watch again, as it does when xenstored
// restarts under it; the guest keeps its ring.
TEST_P(XsproxyCrash, BothRestartedTheDomainIsIntroducedToTheNewXenstored)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(1));
    auto g = store.guest(1);
    ASSERT_TRUE(g);
    WireMsg r, ev;
    ASSERT_TRUE(g->request(XS_WATCH, 0, nul_join({ "data/w", "tok" }), &r)) << g->error();
    ASSERT_EQ(1, g->next_event(&ev, 3000));
    ASSERT_EQ(0, kill(store.proxy_pid(), SIGKILL));
    ASSERT_TRUE(wait_pid_gone(store.proxy_pid(), 5000));
    store.daemon_killed();
    ASSERT_TRUE(store.host().restart_daemon());
    std::string why;
    ASSERT_TRUE(store.restart_proxy(&why)) << why;
    ASSERT_TRUE(store.write_domain_nodes(1));   // the toolstack, for the new store
    // the watch registered again fires once, as on any WATCH
    ASSERT_EQ(1, g->next_event(&ev, 3000)) << store.proxy_log();
    EXPECT_EQ(nul_join({ "data/w", "tok" }), ev.body) << escape(ev.body);
    ASSERT_TRUE(g->request(XS_WRITE, 0, nul_join({ "data/w/x" }) + "1", &r)) << g->error();
    EXPECT_EQ((uint32_t)XS_WRITE, r.type) << describe(r) << store.proxy_log();
    ASSERT_EQ(1, g->next_event(&ev, 3000)) << "the watch does not fire";
    EXPECT_EQ(nul_join({ "data/w/x", "tok" }), ev.body) << escape(ev.body);
    EXPECT_NE(std::string::npos, store.proxy_log().find("xenstored is a new one"));
}

// A crash is not a silent exit: xsproxy's log says which signal ended it
// (its own handler's backtrace, or the sanitizer's report in that build),
// and the next xsproxy carries on.
TEST_P(XsproxyCrash, ACrashIsWrittenToTheLog)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(1));
    auto g = store.guest(1);
    ASSERT_TRUE(g);
    WireMsg r;
    ASSERT_TRUE(g->request(XS_READ, 0, nul_join({ "domid" }), &r)) << g->error();
    ASSERT_EQ(0, kill(store.proxy_pid(), SIGSEGV));
    ASSERT_TRUE(wait_pid_gone(store.proxy_pid(), 5000));
    EXPECT_NE(std::string::npos, store.proxy_log().find("SEGV")) << store.proxy_log();
    std::string why;
    ASSERT_TRUE(store.restart_proxy(&why)) << why;
    ASSERT_TRUE(g->request(XS_READ, 0, nul_join({ "domid" }), &r)) << g->error();
    EXPECT_EQ("1", r.body);
}

TEST_P(XsproxyCrash, HundredKillsUnderLoadLoseNothingAndAnswerAsADirectRun)
{
    const unsigned kGuests = 20, kKills = 100;
    struct Answers {
        std::vector<std::string> log, events;
    };
    std::vector<Answers> proxied_answers, direct_answers;
    std::vector<unsigned> rounds;
    {
        Store store(GetParam(), true);
        ASSERT_TRUE(store.ok());
        std::vector<GuestLoad> proxied;   // after the store: gone before it
        std::string why;
        ASSERT_TRUE(setup_guests(store, kGuests, &proxied, &why)) << why;
        std::atomic<bool> stop{ false };
        std::thread load([&] { run_load(proxied, &stop, 10, nullptr); });
        std::mt19937 rng(GetParam() == XSSIM_OXENSTORED ? 6 : 9);
        unsigned kills = 0;
        std::vector<long long> restart_us;
        for (; kills < kKills; kills++) {
            sleep_ms(5 + (int)(rng() % 40));
            auto t0 = std::chrono::steady_clock::now();
            if (!store.restart_proxy(&why))
                break;
            restart_us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::steady_clock::now() - t0)
                                     .count());
        }
        std::sort(restart_us.begin(), restart_us.end());
        stop = true;
        load.join();
        ASSERT_EQ(kKills, kills) << why;
        for (auto &g : proxied)
            ASSERT_EQ("", g.failure) << where_it_stands(store, g) << store.proxy_log().substr(0, 20000);
        drain_events(proxied);

        // every acknowledged write is in the store
        auto c = store.dom0();
        ASSERT_TRUE(c);
        unsigned total_rounds = 0;
        for (auto &g : proxied) {
            WireMsg r;
            std::string path = "/local/domain/" + std::to_string(g.domid) + "/data/seq";
            ASSERT_TRUE(c->request(XS_READ, 0, nul_join({ path }), &r));
            EXPECT_EQ(std::to_string(g.acked), r.body) << "dom" << g.domid;
            rounds.push_back(g.round);
            total_rounds += g.round;
        }
        // every watch still fires: a write from dom0
        for (auto &g : proxied) {
            WireMsg r, ev;
            std::string path = "/local/domain/" + std::to_string(g.domid) + "/data/seq";
            ASSERT_TRUE(c->request(XS_WRITE, 0, nul_join({ path }) + "end", &r));
            ASSERT_EQ(1, g.conn->next_event(&ev, 3000)) << "dom" << g.domid << "'s watch";
        }
        for (auto &g : proxied)
            proxied_answers.push_back({ g.log, g.events });
        printf("%u kills; %u rounds by %u guests (%.1f per guest); kill to serving again: "
               "p50 %.1f ms, max %.1f ms\n",
               kills, total_rounds, kGuests, (double)total_rounds / kGuests,
               restart_us.empty() ? 0.0 : restart_us[restart_us.size() / 2] / 1000.0,
               restart_us.empty() ? 0.0 : restart_us.back() / 1000.0);
    }

    // the same rounds, directly
    {
        Store store(GetParam(), false);
        ASSERT_TRUE(store.ok());
        std::vector<GuestLoad> direct;
        std::string why;
        ASSERT_TRUE(setup_guests(store, kGuests, &direct, &why)) << why;
        run_load(direct, nullptr, 0, &rounds);
        for (auto &g : direct)
            ASSERT_EQ("", g.failure);
        drain_events(direct);
        for (auto &g : direct)
            direct_answers.push_back({ g.log, g.events });
    }
    for (unsigned i = 0; i < kGuests; i++) {
        EXPECT_EQ(direct_answers[i].log, proxied_answers[i].log) << "dom" << i + 1
                                                                  << "'s answers";
        // one event per write: none lost, none twice
        EXPECT_EQ(direct_answers[i].events, proxied_answers[i].events)
            << "dom" << i + 1 << "'s watch events";
        EXPECT_EQ(rounds[i], proxied_answers[i].events.size()) << "dom" << i + 1;
    }
}

INSTANTIATE_TEST_SUITE_P(Daemons, XsproxyCrash, both_daemons(), DaemonName());

}   // namespace
