// test_proxy_xenstored_restart.cc - xenstored dies and a new one comes,
// against both daemons.  While it is gone, guests on their rings and dom0
// clients get error replies (EIO), never silence.  When a new xenstored
// (empty store) runs on the same host, xsproxy reconnects by itself,
// introduces every domain to it again and registers their watches again as
// the domain; the toolstack writes the domains' nodes again.  Then the guests
// go on over the SAME ring connection: requests answered with matching
// req_ids, the watches registered before the crash fire for new writes,
// nothing on the rings that does not parse, ring indexes never
// reset or out of range.  Cases: one restart with requests in flight;
// restarts in a row; xenstored down for a second while guests keep asking;
// xenstored hung (accepting nobody) while dom0 clients connect, then gone;
// xenstored dying while a reply too large for the ring is half delivered.
#include <gtest/gtest.h>

#include <signal.h>
#include <string.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "sim_host.h"
#include "workload.h"

namespace xstest {
namespace {

std::string describe(const WireMsg &m)
{
    return type_name(m.type) + " req " + std::to_string(m.req_id) + " tx " +
           std::to_string(m.tx_id) + " \"" + escape(m.body) + "\"";
}

bool is_eio(const WireMsg &m)
{
    return m.type == XS_ERROR && m.body == nul_join({ "EIO" });
}

// A connection read strictly: every message that arrives must be a watch
// event (queued in `events`) or the reply to the request waited for, with
// its req_id.  Another reply, silence, or a failed connection (for a ring:
// indexes out of range, a length over XENSTORE_PAYLOAD_MAX) is a failure.
class Peer {
public:
    Peer(std::string name, std::unique_ptr<XsConn> c) : name_(std::move(name)), c_(std::move(c))
    {
    }
    XsConn &conn() { return *c_; }
    std::deque<WireMsg> events;

    // Send without waiting; the req_id (0 when the send failed).
    uint32_t send(uint32_t type, uint32_t tx, const std::string &body)
    {
        WireMsg m;
        m.type = type;
        m.req_id = c_->next_req_id++;
        m.tx_id = tx;
        m.body = body;
        if (!c_->send(m, 3000)) {
            ADD_FAILURE() << name_ << ": send failed: " << c_->error();
            return 0;
        }
        return m.req_id;
    }

    ::testing::AssertionResult reply(uint32_t req_id, WireMsg *r, int timeout_ms = 3000)
    {
        int64_t deadline = mono_ms() + timeout_ms;
        for (;;) {
            int left = (int)std::max<int64_t>(0, deadline - mono_ms());
            int n = c_->recv(r, left);
            if (n < 0)
                return ::testing::AssertionFailure()
                       << name_ << ": the connection failed waiting for req " << req_id << ": "
                       << c_->error();
            if (n == 0)
                return ::testing::AssertionFailure()
                       << name_ << ": no reply to req " << req_id << " within " << timeout_ms
                       << " ms";
            if (r->type == XS_WATCH_EVENT) {
                events.push_back(*r);
                continue;
            }
            if (r->req_id != req_id)
                return ::testing::AssertionFailure()
                       << name_ << ": waiting for req " << req_id << ", got " << describe(*r);
            return ::testing::AssertionSuccess();
        }
    }

    ::testing::AssertionResult ask(uint32_t type, uint32_t tx, const std::string &body,
                                   WireMsg *r, int timeout_ms = 3000)
    {
        uint32_t id = send(type, tx, body);
        if (!id)
            return ::testing::AssertionFailure() << name_ << ": send failed";
        return reply(id, r, timeout_ms);
    }

    // The next watch event (queued or new); nothing but events may come.
    ::testing::AssertionResult event(WireMsg *ev, int timeout_ms = 3000)
    {
        if (!events.empty()) {
            *ev = events.front();
            events.pop_front();
            return ::testing::AssertionSuccess();
        }
        int n = c_->recv(ev, timeout_ms);
        if (n < 0)
            return ::testing::AssertionFailure()
                   << name_ << ": the connection failed waiting for an event: " << c_->error();
        if (n == 0)
            return ::testing::AssertionFailure()
                   << name_ << ": no watch event within " << timeout_ms << " ms";
        if (ev->type != XS_WATCH_EVENT)
            return ::testing::AssertionFailure()
                   << name_ << ": waiting for a watch event, got " << describe(*ev);
        return ::testing::AssertionSuccess();
    }

    // The next event is PATH with TOKEN.
    ::testing::AssertionResult event_is(const std::string &path, const std::string &token,
                                        int timeout_ms = 3000)
    {
        WireMsg ev;
        auto got = event(&ev, timeout_ms);
        if (!got)
            return got << " (expected " << path << " " << token << ")";
        if (ev.body != nul_join({ path, token }))
            return ::testing::AssertionFailure() << name_ << ": expected the event " << path
                                                 << " " << token << ", got " << describe(ev);
        return ::testing::AssertionSuccess();
    }

    // A request answered with nothing before its reply: no event, no stray
    // message was pending on the connection.
    ::testing::AssertionResult sync(const std::string &path)
    {
        WireMsg r;
        size_t before = events.size();
        auto ok = ask(XS_READ, 0, nul_join({ path }), &r);
        if (!ok)
            return ok;
        if (events.size() != before || before != 0)
            return ::testing::AssertionFailure()
                   << name_ << ": " << events.size() << " unexpected watch event(s), first "
                   << describe(events.front());
        return ::testing::AssertionSuccess();
    }

private:
    std::string name_;
    std::unique_ptr<XsConn> c_;
};

struct Guest {
    unsigned domid;
    std::string path, token;   // the watch registered before the crash
    RingConn *ring;
    std::unique_ptr<Peer> p;
    XENSTORE_RING_IDX req_prod0 = 0, rsp_prod0 = 0;   // indexes at the start
};

// The ring is whole: connected, no error, indexes in range and never moved
// back since the start (xsproxy must not reset the guest's ring).  IDLE:
// everything on it has been consumed both ways.
::testing::AssertionResult ring_sane(Guest &g, bool idle)
{
    struct xenstore_domain_interface *r = g.ring->ring();
    XENSTORE_RING_IDX rq_c = __atomic_load_n(&r->req_cons, __ATOMIC_ACQUIRE);
    XENSTORE_RING_IDX rq_p = __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE);
    XENSTORE_RING_IDX rs_c = __atomic_load_n(&r->rsp_cons, __ATOMIC_ACQUIRE);
    XENSTORE_RING_IDX rs_p = __atomic_load_n(&r->rsp_prod, __ATOMIC_ACQUIRE);
    std::string where = "domain " + std::to_string(g.domid) + "'s ring: req " +
                        std::to_string(rq_c) + ".." + std::to_string(rq_p) + " rsp " +
                        std::to_string(rs_c) + ".." + std::to_string(rs_p) + " error " +
                        std::to_string(r->error) + " connection " +
                        std::to_string(r->connection);
    if (rq_p - rq_c > XENSTORE_RING_SIZE || rs_p - rs_c > XENSTORE_RING_SIZE)
        return ::testing::AssertionFailure() << where << ": indexes out of range";
    if ((int32_t)(rq_p - g.req_prod0) < 0 || (int32_t)(rs_p - g.rsp_prod0) < 0)
        return ::testing::AssertionFailure() << where << ": indexes moved back (reset) from "
                                             << g.req_prod0 << "/" << g.rsp_prod0;
    if (r->error != 0 || r->connection != XENSTORE_CONNECTED)
        return ::testing::AssertionFailure() << where << ": not a healthy connection";
    if (idle && (rq_p != rq_c || rs_p != rs_c))
        return ::testing::AssertionFailure() << where << ": not idle";
    return ::testing::AssertionSuccess();
}

// Every node under PATH, "path = value perms", as dom0 reads them.
void subtree(Peer &c, const std::string &path, std::vector<std::string> *out)
{
    WireMsg v, p, d;
    ASSERT_TRUE(c.ask(XS_READ, 0, nul_join({ path }), &v));
    ASSERT_TRUE(c.ask(XS_GET_PERMS, 0, nul_join({ path }), &p));
    out->push_back(path + " = \"" + escape(v.body) + "\" " + escape(p.body));
    ASSERT_TRUE(c.ask(XS_DIRECTORY, 0, nul_join({ path }), &d));
    ASSERT_EQ((uint32_t)XS_DIRECTORY, d.type) << describe(d);
    size_t start = 0;
    while (start < d.body.size()) {
        size_t end = d.body.find('\0', start);
        if (end == std::string::npos)
            end = d.body.size();
        std::string child = d.body.substr(start, end - start);
        if (!child.empty())
            subtree(c, path + "/" + child, out);
        start = end + 1;
    }
}

// The end of xsproxy's log, for failure messages.
std::string log_tail(const Store &store)
{
    std::string log = store.proxy_log();
    if (log.size() > 3000)
        log = "..." + log.substr(log.size() - 3000);
    return "\nxsproxy's log:\n" + log;
}

// Wait until xsproxy has taken everything G wrote off its ring.  It passes
// a whole request on to xenstored's (shadow) ring in the same step, so the
// request is then in flight at xenstored.  (Not `xsproxyctl list`: while
// xenstored is stopped, every new client of xsproxy is a connection in
// xenstored's listen queue - see the report on client.c.)
::testing::AssertionResult wait_taken(Guest &g)
{
    struct xenstore_domain_interface *r = g.ring->ring();
    int64_t deadline = mono_ms() + 3000;
    while (__atomic_load_n(&r->req_cons, __ATOMIC_ACQUIRE) !=
           __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE)) {
        if (mono_ms() > deadline)
            return ::testing::AssertionFailure()
                   << "xsproxy did not take domain " << g.domid << "'s request off its ring";
        sleep_ms(2);
    }
    return ::testing::AssertionSuccess();
}

class XenstoredRestart : public ::testing::TestWithParam<xssim_daemon> {
protected:
    void SetUp() override
    {
        store_ = std::make_unique<Store>(GetParam(), true);
        ASSERT_TRUE(store_->ok());
        auto c = store_->dom0();
        ASSERT_TRUE(c);
        dom0_ = std::make_unique<Peer>("dom0", std::move(c));
        // guest 1 watches a relative path, guest 2 an absolute one
        const char *paths[] = { "data/x", "/local/domain/2/data/x" };
        for (unsigned d = 1; d <= 2; d++) {
            ASSERT_TRUE(store_->create_domain(d));
            std::vector<std::string> nodes;
            ASSERT_NO_FATAL_FAILURE(
                subtree(*dom0_, "/local/domain/" + std::to_string(d), &nodes));
            nodes_.push_back(nodes);
            auto g = std::make_unique<Guest>();
            g->domid = d;
            g->path = paths[d - 1];
            g->token = "tok" + std::to_string(d);
            auto rc = store_->guest(d);
            ASSERT_TRUE(rc);
            g->ring = rc.get();
            g->p = std::make_unique<Peer>("guest " + std::to_string(d), std::move(rc));
            g->req_prod0 = g->ring->ring()->req_prod;
            g->rsp_prod0 = g->ring->ring()->rsp_prod;
            WireMsg r;
            ASSERT_TRUE(g->p->ask(XS_WRITE, 0, nul_join({ "data/x" }) + "before", &r));
            ASSERT_EQ((uint32_t)XS_WRITE, r.type) << describe(r);
            ASSERT_TRUE(g->p->ask(XS_WATCH, 0, nul_join({ g->path, g->token }), &r));
            ASSERT_EQ((uint32_t)XS_WATCH, r.type) << describe(r);
            ASSERT_TRUE(g->p->event_is(g->path, g->token));   // fired once on WATCH
            guests_.push_back(std::move(g));
        }
        WireMsg r;
        ASSERT_TRUE(dom0_->ask(XS_READ, 0, nul_join({ "/local/domain/1/data/x" }), &r));
        ASSERT_EQ("before", r.body);
    }

    void TearDown() override
    {
        if (store_ && store_->ok()) {
            EXPECT_TRUE(store_->proxy_alive()) << log_tail(*store_);
        }
        guests_.clear();
        dom0_.reset();
        store_.reset();
    }

    Guest &guest(unsigned d) { return *guests_.at(d - 1); }

    // Requests of both guests and dom0 at xenstored, xenstored stopped so
    // that they stay there; then kill -9.  Each gets EIO; so does each new
    // request, also from a new dom0 client.
    void crash()
    {
        pid_t daemon = store_->host().daemon_pid();
        ASSERT_GT(daemon, 0);
        // dom0's connection to xenstored made again (after a restart)
        WireMsg r;
        ASSERT_TRUE(dom0_->ask(XS_READ, 0, nul_join({ "/local/domain/1/domid" }), &r));
        ASSERT_EQ(0, kill(daemon, SIGSTOP));
        uint32_t g1 = guest(1).p->send(XS_READ, 0, nul_join({ "data/x" }));
        uint32_t g2 = guest(2).p->send(XS_WRITE, 0, nul_join({ "data/y" }) + "lost");
        uint32_t c = dom0_->send(XS_READ, 0, nul_join({ "/local/domain/1/domid" }));
        ASSERT_TRUE(g1 && g2 && c);
        ASSERT_TRUE(wait_taken(guest(1)));
        ASSERT_TRUE(wait_taken(guest(2)));
        store_->daemon_killed();
        ASSERT_EQ(0, kill(daemon, SIGKILL));
        ASSERT_TRUE(wait_pid_gone(daemon, 5000));

        ASSERT_TRUE(guest(1).p->reply(g1, &r)) << "silence for a request xenstored took";
        EXPECT_TRUE(is_eio(r)) << describe(r);
        ASSERT_TRUE(guest(2).p->reply(g2, &r)) << "silence for a request xenstored took";
        EXPECT_TRUE(is_eio(r)) << describe(r);
        ASSERT_TRUE(dom0_->reply(c, &r)) << "silence for a request xenstored took";
        EXPECT_TRUE(is_eio(r)) << describe(r);
        ASSERT_NO_FATAL_FAILURE(expect_all_eio());
    }

    // While xenstored is gone: a request of every guest, of dom0 and of a
    // new dom0 client is answered EIO.
    void expect_all_eio()
    {
        WireMsg r;
        for (auto &g : guests_) {
            ASSERT_TRUE(g->p->ask(XS_WRITE, 0, nul_join({ "data/x" }) + "while-gone", &r));
            EXPECT_TRUE(is_eio(r)) << describe(r);
            EXPECT_TRUE(g->p->events.empty()) << describe(g->p->events.front());
            EXPECT_TRUE(ring_sane(*g, true));
        }
        ASSERT_TRUE(dom0_->ask(XS_DIRECTORY, 0, nul_join({ "/local/domain" }), &r));
        EXPECT_TRUE(is_eio(r)) << describe(r);
        auto c = store_->dom0();
        ASSERT_TRUE(c) << "xsproxy no longer accepts clients";
        Peer fresh("new dom0 client", std::move(c));
        ASSERT_TRUE(fresh.ask(XS_READ, 0, nul_join({ "/local/domain/2/domid" }), &r));
        EXPECT_TRUE(is_eio(r)) << describe(r);
    }

    // A guest asks until it is served again (every answer before is EIO);
    // xsproxy must reconnect by itself within 5 s.  The first answer that
    // is not EIO comes after the watch events of the re-registration, which
    // xsproxy sent xenstored before the guest's request.
    void wait_served(Guest &g)
    {
        int64_t start = mono_ms();
        for (;;) {
            WireMsg r;
            ASSERT_TRUE(g.p->ask(XS_READ, 0, nul_join({ "domid" }), &r));
            if (!is_eio(r))
                break;
            ASSERT_TRUE(g.p->events.empty()) << describe(g.p->events.front());
            ASSERT_LT(mono_ms() - start, 5000)
                << "domain " << g.domid << " not served 5 s after xenstored came back"
                << log_tail(*store_);
            sleep_ms(20);
        }
    }

    // After a restart: xsproxy reconnects, re-registers the watches of each
    // guest (WATCHES: in order, each fires once), the toolstack writes the
    // domains' nodes again, and everybody is served on the same connections.
    void check_back(const std::vector<std::vector<std::pair<std::string, std::string>>> &watches)
    {
        for (auto &g : guests_) {
            SCOPED_TRACE("domain " + std::to_string(g->domid));
            ASSERT_NO_FATAL_FAILURE(wait_served(*g));
            for (const auto &w : watches.at(g->domid - 1))
                EXPECT_TRUE(g->p->event_is(w.first, w.second, 0))
                    << "the re-registered watch fires once, as on any WATCH";
            EXPECT_TRUE(g->p->events.empty()) << describe(g->p->events.front());
        }
        // the toolstack's part: the new xenstored's store is empty
        WireMsg r;
        for (auto &g : guests_) {
            ASSERT_TRUE(store_->write_domain_nodes(g->domid));
            std::vector<std::string> nodes;
            ASSERT_NO_FATAL_FAILURE(
                subtree(*dom0_, "/local/domain/" + std::to_string(g->domid), &nodes));
            EXPECT_EQ(nodes_.at(g->domid - 1), nodes);
        }
        for (auto &g : guests_) {
            SCOPED_TRACE("domain " + std::to_string(g->domid));
            Peer &p = *g->p;
            ASSERT_TRUE(p.ask(XS_READ, 0, nul_join({ "domid" }), &r));
            EXPECT_EQ(std::to_string(g->domid), r.body) << describe(r);
            ASSERT_TRUE(p.ask(XS_READ, 0, nul_join({ "data/x" }), &r));
            EXPECT_EQ(nul_join({ "ENOENT" }), r.body) << "the old store is gone: " << describe(r);
            // its own write fires its watch
            std::string v = "guest-after-" + std::to_string(++round_);
            ASSERT_TRUE(p.ask(XS_WRITE, 0, nul_join({ "data/x" }) + v, &r));
            EXPECT_EQ((uint32_t)XS_WRITE, r.type) << describe(r);
            EXPECT_TRUE(p.event_is(g->path, g->token));
            ASSERT_TRUE(p.ask(XS_READ, 0, nul_join({ "data/x" }), &r));
            EXPECT_EQ(v, r.body) << describe(r);
            // dom0's write fires it too
            std::string base = "/local/domain/" + std::to_string(g->domid);
            ASSERT_TRUE(dom0_->ask(XS_WRITE, 0, nul_join({ base + "/data/x" }) + "dom0", &r));
            EXPECT_EQ((uint32_t)XS_WRITE, r.type) << describe(r);
            EXPECT_TRUE(p.event_is(g->path, g->token));
            ASSERT_TRUE(p.ask(XS_READ, 0, nul_join({ "data/x" }), &r));
            EXPECT_EQ("dom0", r.body) << describe(r);
            // a new watch, a transaction
            ASSERT_TRUE(p.ask(XS_WATCH, 0, nul_join({ "data/w", "new" }), &r));
            EXPECT_EQ((uint32_t)XS_WATCH, r.type) << describe(r);
            EXPECT_TRUE(p.event_is("data/w", "new"));
            ASSERT_TRUE(p.ask(XS_TRANSACTION_START, 0, nul_join({ "" }), &r));
            ASSERT_EQ((uint32_t)XS_TRANSACTION_START, r.type) << describe(r);
            uint32_t tx = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
            ASSERT_TRUE(p.ask(XS_WRITE, tx, nul_join({ "data/w" }) + "t", &r));
            EXPECT_EQ((uint32_t)XS_WRITE, r.type) << describe(r);
            ASSERT_TRUE(p.ask(XS_TRANSACTION_END, tx, nul_join({ "T" }), &r));
            EXPECT_EQ((uint32_t)XS_TRANSACTION_END, r.type) << describe(r);
            EXPECT_TRUE(p.event_is("data/w", "new"));
            ASSERT_TRUE(p.ask(XS_UNWATCH, 0, nul_join({ "data/w", "new" }), &r));
            EXPECT_EQ((uint32_t)XS_UNWATCH, r.type) << describe(r);
            EXPECT_TRUE(p.sync("domid"));
            EXPECT_TRUE(ring_sane(*g, true));
        }
        // dom0: the old connection and a new one
        ASSERT_TRUE(dom0_->ask(XS_READ, 0, nul_join({ "/local/domain/2/data/x" }), &r));
        EXPECT_EQ("dom0", r.body) << describe(r);
        auto c = store_->dom0();
        ASSERT_TRUE(c);
        Peer fresh("new dom0 client", std::move(c));
        ASSERT_TRUE(fresh.ask(XS_DIRECTORY, 0, nul_join({ "/local/domain" }), &r));
        EXPECT_EQ((uint32_t)XS_DIRECTORY, r.type) << describe(r);
        EXPECT_NE(std::string::npos, r.body.find(nul_join({ "1" }))) << describe(r);
        EXPECT_NE(std::string::npos, r.body.find(nul_join({ "2" }))) << describe(r);
        // xsproxy's view: active, the watch, nothing in flight
        for (auto &g : guests_) {
            RunResult l = store_->xsproxyctl({ "list", std::to_string(g->domid) });
            EXPECT_TRUE(l.ok()) << l.err;
            EXPECT_NE(std::string::npos,
                      l.out.find("domain " + std::to_string(g->domid) + " active "))
                << l.out;
            EXPECT_NE(std::string::npos, l.out.find(" in-flight 0 ")) << l.out;
            EXPECT_NE(std::string::npos, l.out.find("watch " + g->path + " " + g->token))
                << l.out;
        }
        EXPECT_TRUE(store_->proxy_alive()) << log_tail(*store_);
    }

    std::vector<std::vector<std::pair<std::string, std::string>>> initial_watches()
    {
        std::vector<std::vector<std::pair<std::string, std::string>>> w;
        for (auto &g : guests_)
            w.push_back({ { g->path, g->token } });
        return w;
    }

    std::unique_ptr<Store> store_;
    std::unique_ptr<Peer> dom0_;
    std::vector<std::unique_ptr<Guest>> guests_;
    std::vector<std::vector<std::string>> nodes_;   // each domain's, as created
    unsigned round_ = 0;
};

TEST_P(XenstoredRestart, GuestsAndDom0GoOnAfterARestart)
{
    ASSERT_NO_FATAL_FAILURE(crash());
    ASSERT_TRUE(store_->host().restart_daemon());
    ASSERT_NO_FATAL_FAILURE(check_back(initial_watches()));
}

TEST_P(XenstoredRestart, RestartedTwiceInARow)
{
    ASSERT_NO_FATAL_FAILURE(crash());
    ASSERT_TRUE(store_->host().restart_daemon());
    // back (the watches re-registered), then at once gone again, with
    // requests in flight, and back again
    auto watches = initial_watches();
    for (auto &g : guests_) {
        ASSERT_NO_FATAL_FAILURE(wait_served(*g));
        EXPECT_TRUE(g->p->event_is(g->path, g->token, 0));
    }
    ASSERT_NO_FATAL_FAILURE(crash());
    ASSERT_TRUE(store_->host().restart_daemon());
    ASSERT_NO_FATAL_FAILURE(check_back(watches));
    // and once more, with a watch guest 1 added in between: both come back
    WireMsg r;
    ASSERT_TRUE(guest(1).p->ask(XS_WATCH, 0, nul_join({ "data/z", "zz" }), &r));
    ASSERT_EQ((uint32_t)XS_WATCH, r.type) << describe(r);
    ASSERT_TRUE(guest(1).p->event_is("data/z", "zz"));
    watches[0].push_back({ "data/z", "zz" });
    ASSERT_NO_FATAL_FAILURE(crash());
    ASSERT_TRUE(store_->host().restart_daemon());
    ASSERT_NO_FATAL_FAILURE(check_back(watches));
    ASSERT_TRUE(dom0_->ask(XS_WRITE, 0, nul_join({ "/local/domain/1/data/z" }) + "1", &r));
    EXPECT_TRUE(guest(1).p->event_is("data/z", "zz"));
    EXPECT_TRUE(guest(1).p->sync("domid"));
}

TEST_P(XenstoredRestart, DownForASecondEveryRequestAnswered)
{
    ASSERT_NO_FATAL_FAILURE(crash());
    // a second without xenstored: the guests and dom0 keep asking, each
    // request answered at once with EIO
    unsigned asked = 0;
    int64_t start = mono_ms();
    while (mono_ms() - start < 1000) {
        WireMsg r;
        for (auto &g : guests_) {
            ASSERT_TRUE(g->p->ask(XS_READ, 0, nul_join({ "data/x" }), &r, 1000));
            ASSERT_TRUE(is_eio(r)) << describe(r);
        }
        ASSERT_TRUE(dom0_->ask(XS_READ, 0, nul_join({ "/local/domain/1/data/x" }), &r, 1000));
        ASSERT_TRUE(is_eio(r)) << describe(r);
        asked++;
        sleep_ms(5);
    }
    EXPECT_GT(asked, 20u);
    for (auto &g : guests_)
        EXPECT_TRUE(ring_sane(*g, true));
    ASSERT_TRUE(store_->host().restart_daemon());
    ASSERT_NO_FATAL_FAILURE(check_back(initial_watches()));
}

// xenstored hangs (stopped: it accepts no connection; its listen queue
// holds one) while dom0 clients keep connecting, then dies.  xsproxy must
// not wait for xenstored to accept: its own commands are answered all the
// while, and when xenstored dies every client's request gets EIO.
TEST_P(XenstoredRestart, HungThenGoneWhileNewClientsConnect)
{
    pid_t daemon = store_->host().daemon_pid();
    ASSERT_GT(daemon, 0);
    ASSERT_EQ(0, kill(daemon, SIGSTOP));
    std::vector<std::unique_ptr<Peer>> clients;
    std::vector<uint32_t> ids;
    for (int i = 0; i < 4; i++) {
        auto c = store_->dom0();
        ASSERT_TRUE(c);
        clients.push_back(std::make_unique<Peer>("client " + std::to_string(i), std::move(c)));
        ids.push_back(clients.back()->send(XS_READ, 0, nul_join({ "/local/domain/1/domid" })));
        ASSERT_NE(0u, ids.back());
    }
    RunResult l = store_->xsproxyctl({ "list" }, 3000);
    EXPECT_TRUE(l.ok()) << "xsproxy's loop is stuck while xenstored accepts nobody"
                        << (l.timed_out ? " (xsproxyctl timed out)" : "") << l.err
                        << log_tail(*store_);
    store_->daemon_killed();
    ASSERT_EQ(0, kill(daemon, SIGKILL));
    ASSERT_TRUE(wait_pid_gone(daemon, 5000));
    for (size_t i = 0; i < clients.size(); i++) {
        WireMsg r;
        ASSERT_TRUE(clients[i]->reply(ids[i], &r));
        EXPECT_TRUE(is_eio(r)) << describe(r);
    }
    ASSERT_NO_FATAL_FAILURE(expect_all_eio());
    ASSERT_TRUE(store_->host().restart_daemon());
    ASSERT_NO_FATAL_FAILURE(check_back(initial_watches()));
}

// A reply larger than the ring goes to the guest in pieces, as the guest
// takes them.  xenstored dies with such a reply half delivered: the guest
// must still get a whole message for that request (its header said how
// long), then EIO for the next one - not the EIO's bytes read as the rest
// of the big reply, and not silence.
TEST_P(XenstoredRestart, DiesWhileALargeReplyIsHalfDelivered)
{
    Guest &g = guest(1);
    std::string big(2000, 'v');   // twice the ring, under the daemons' quotas
    for (size_t i = 0; i < big.size(); i++)
        big[i] = (char)('a' + i % 26);
    WireMsg r;
    ASSERT_TRUE(dom0_->ask(XS_WRITE, 0, nul_join({ "/local/domain/1/big" }) + big, &r));
    ASSERT_EQ((uint32_t)XS_WRITE, r.type) << describe(r);
    // the guest asks for it and does not read: its response ring fills
    uint32_t id = g.p->send(XS_READ, 0, nul_join({ "big" }));
    ASSERT_NE(0u, id);
    struct xenstore_domain_interface *ring = g.ring->ring();
    int64_t deadline = mono_ms() + 3000;
    while (__atomic_load_n(&ring->rsp_prod, __ATOMIC_ACQUIRE) - ring->rsp_cons <
           XENSTORE_RING_SIZE) {
        ASSERT_LT(mono_ms(), deadline) << "the guest's response ring never filled";
        sleep_ms(5);
    }
    pid_t daemon = store_->host().daemon_pid();
    store_->daemon_killed();
    ASSERT_EQ(0, kill(daemon, SIGKILL));
    ASSERT_TRUE(wait_pid_gone(daemon, 5000));
    // another request of the guest, once xsproxy knows (a guest request
    // answered EIO from another guest tells)
    ASSERT_TRUE(guest(2).p->ask(XS_READ, 0, nul_join({ "domid" }), &r));
    ASSERT_TRUE(is_eio(r)) << describe(r);
    uint32_t next = g.p->send(XS_READ, 0, nul_join({ "domid" }));
    ASSERT_NE(0u, next);
    ASSERT_TRUE(g.p->reply(id, &r)) << "the half-delivered reply";
    if (r.type == XS_READ) {
        EXPECT_EQ(big.size(), r.body.size());
        // what arrived before xenstored died is the value's beginning
        EXPECT_EQ(big.substr(0, 512), r.body.substr(0, 512));
    }
    ASSERT_TRUE(g.p->reply(next, &r)) << "the request after it";
    EXPECT_TRUE(is_eio(r)) << describe(r);
    EXPECT_TRUE(ring_sane(g, true));
    ASSERT_TRUE(store_->host().restart_daemon());
    ASSERT_NO_FATAL_FAILURE(check_back(initial_watches()));
}

// A dom0 client that registered a watch loses it with xenstored: like a
// direct connection, its connection ends (after the error replies), so it
// knows to connect and register again; a client with no such state is only
// answered EIO and stays.
TEST_P(XenstoredRestart, Dom0ClientWithAWatchIsClosedLikeADirectOne)
{
    auto watcher = store_->dom0();
    auto plain = store_->dom0();
    ASSERT_TRUE(watcher && plain);
    WireMsg r, ev;
    ASSERT_TRUE(watcher->request(XS_WATCH, 0, nul_join({ "/local/domain/1", "t" }), &r));
    ASSERT_EQ((uint32_t)XS_WATCH, r.type) << describe(r);
    ASSERT_EQ(1, watcher->next_event(&ev, 3000));
    ASSERT_TRUE(plain->request(XS_READ, 0, nul_join({ "/local/domain/1/domid" }), &r));
    pid_t daemon = store_->host().daemon_pid();
    store_->daemon_killed();
    ASSERT_EQ(0, kill(daemon, SIGKILL));
    ASSERT_TRUE(wait_pid_gone(daemon, 5000));
    EXPECT_EQ(-1, watcher->recv(&r, 3000)) << "still connected: " << describe(r);
    EXPECT_TRUE(watcher->closed());
    ASSERT_TRUE(plain->request(XS_READ, 0, nul_join({ "/local/domain/1/domid" }), &r));
    EXPECT_EQ((uint32_t)XS_ERROR, r.type) << describe(r);
    EXPECT_FALSE(plain->closed());
    ASSERT_TRUE(store_->host().restart_daemon());
    // a new connection watches again
    auto again = store_->dom0();
    ASSERT_TRUE(again);
    int64_t deadline = mono_ms() + 5000;
    do {
        ASSERT_TRUE(again->request(XS_WATCH, 0, nul_join({ "/local", "t2" }), &r));
    } while (r.type == XS_ERROR && mono_ms() < deadline && (sleep_ms(20), true));
    EXPECT_EQ((uint32_t)XS_WATCH, r.type) << describe(r);
}

INSTANTIATE_TEST_SUITE_P(Daemons, XenstoredRestart, both_daemons(), DaemonName());

}  // namespace
}  // namespace xstest
