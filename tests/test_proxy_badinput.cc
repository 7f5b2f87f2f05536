// test_proxy_badinput.cc - bad input from a guest (len > 4096, unknown
// types, xsproxy's own and dom0-only types, ring indexes past the ring,
// garbage, a corrupted response ring) and from a dom0 socket client: what
// the guest sees through xsproxy must be what it sees directly from the
// same daemon (replies, the ring's error field, whether it is still served,
// ring reconnection), while a second guest is served correctly throughout
// and xsproxy stays up.  Also: requests while xenstored is gone (XsproxyBadInput),
// and domains inserted and removed while another guest is busy, destroyed
// mid-request, and xsproxy starting while xenstored is busy (XsproxyDomains).
#include <gtest/gtest.h>

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>

extern "C" {
#include "log_limit.h"   // LOG_LIMIT_BURST
}

#include "sim_host.h"
#include "workload.h"
#include "xsproxy_wire.h"

namespace xstest {
namespace {

// Guest 2 doing writes and reads with checked answers until stopped.
class Hammer {
public:
    explicit Hammer(std::unique_ptr<RingConn> g) : g_(std::move(g))
    {
        thread_ = std::thread([this] { run(); });
    }
    ~Hammer() { stop(); }
    void stop()
    {
        stop_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    unsigned ops() const { return ops_; }
    std::string problem() const { return problem_; }

private:
    void run()
    {
        for (unsigned i = 0; !stop_ && problem_.empty(); i++) {
            std::string v = "value" + std::to_string(i);
            WireMsg r;
            if (!g_->request(XS_WRITE, 0, nul_join({ "data/hammer" }) + v, &r, 5000) ||
                r.type != XS_WRITE) {
                problem_ = "write " + std::to_string(i) + ": " + type_name(r.type) + " " +
                           escape(r.body) + " " + g_->error();
                break;
            }
            if (!g_->request(XS_READ, 0, nul_join({ "data/hammer" }), &r, 5000) ||
                r.type != XS_READ || r.body != v) {
                problem_ = "read " + std::to_string(i) + ": " + type_name(r.type) + " " +
                           escape(r.body) + " " + g_->error();
                break;
            }
            ops_ += 2;
        }
    }
    std::unique_ptr<RingConn> g_;
    std::thread thread_;
    std::atomic<bool> stop_{ false };
    std::atomic<unsigned> ops_{ 0 };
    std::string problem_;
};

std::string describe(const WireMsg &m)
{
    return type_name(m.type) + " req " + std::to_string(m.req_id) + " tx " +
           std::to_string(m.tx_id) + " \"" + escape(m.body) + "\"";
}

// Whatever comes from the server for up to WAIT_MS (stopping early once
// something came and nothing more follows for 100 ms).
void collect(XsConn &c, std::vector<std::string> &log, int wait_ms)
{
    int64_t deadline = mono_ms() + wait_ms;
    bool got = false;
    while (mono_ms() < deadline) {
        WireMsg m;
        int r = c.recv(&m, got ? 100 : (int)std::max<int64_t>(1, deadline - mono_ms()));
        if (r == 0 && got)
            break;
        if (r < 0) {
            log.push_back("recv failed: " + c.error());
            break;
        }
        if (r == 1) {
            log.push_back("got " + describe(m));
            got = true;
        }
    }
}

uint32_t load(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

// Apply ACT to guest 1 (with guest 2 busy), and describe what guest 1 sees:
// messages, the ring's fields, whether it is still served, and what a ring
// reconnection gives.  Side checks (guest 2, xsproxy) become failures.
std::vector<std::string> observe(Store &store, const std::function<void(RingConn &)> &act)
{
    std::vector<std::string> log;
    if (!store.ok() || !store.create_domain(1) || !store.create_domain(2))
        return { "setup failed" };
    auto g1 = store.guest(1);
    if (!g1)
        return { "no guest 1" };
    WireMsg r;
    if (!g1->request(XS_READ, 0, nul_join({ "domid" }), &r) || r.body != "1")
        return { "guest 1 not served before the test" };
    struct xenstore_domain_interface *ring = g1->ring();
    log.push_back("features " + std::to_string(load(&ring->server_features)));
    Hammer hammer(store.guest(2));
    sleep_ms(50);

    act(*g1);

    // what comes back, and the error field (C xenstored sets it when it
    // gives up on the ring; xsproxy mirrors it from the shadow ring)
    size_t before = log.size();
    collect(*g1, log, 300);
    // xsproxy mirrors the field when it next looks at the ring (at the
    // latest its 1 s scan); a server that answered is not giving up
    // (a guest that fails to read its own broken ring has not been answered)
    bool answered = false;
    for (size_t i = before; i < log.size(); i++)
        answered = answered || log[i].find("recv failed") == std::string::npos;
    int64_t deadline = mono_ms() + (answered ? 200 : 1300);
    while (load(&ring->error) == 0 && mono_ms() < deadline)
        sleep_ms(10);
    log.push_back("error " + std::to_string(load(&ring->error)) + " connection " +
                  std::to_string(load(&ring->connection)));

    // still served?
    if (load(&ring->req_prod) - load(&ring->req_cons) > XENSTORE_RING_SIZE) {
        log.push_back("follow-up: request ring indexes are broken, not sent");
    } else {
        WireMsg m{ XS_READ, 0xabc, 0, nul_join({ "domid" }) };
        if (!g1->send(m, 1000)) {
            log.push_back("follow-up: cannot send: " + g1->error());
        } else {
            bool replied = false;
            int64_t until = mono_ms() + 1000;
            while (mono_ms() < until) {
                WireMsg got;
                int rc = g1->recv(&got, 200);
                if (rc < 0) {
                    log.push_back("follow-up: recv failed: " + g1->error());
                    break;
                }
                if (rc == 1 && got.req_id == 0xabc) {
                    log.push_back("follow-up: " + describe(got));
                    replied = true;
                    break;
                }
            }
            if (!replied)
                log.push_back("follow-up: no reply");
        }
    }

    // ring reconnection (both 4.17 daemons offer it): the guest asks, the
    // server resets the ring and clears `connection`
    if (load(&ring->server_features) & XENSTORE_SERVER_FEATURE_RECONNECTION) {
        bool done = reconnect_ring(*g1);
        log.push_back(std::string("reconnect: ") + (done ? "done" : "no answer") + ", error " +
                      std::to_string(load(&ring->error)) + ", rings " +
                      (ring->req_cons == ring->req_prod && ring->rsp_cons == ring->rsp_prod
                           ? "empty"
                           : "not empty"));
        if (done) {
            g1.reset();
            auto fresh = store.guest(1);
            if (fresh && fresh->request(XS_READ, 0, nul_join({ "domid" }), &r, 1500))
                log.push_back("after reconnect: " + type_name(r.type) + " \"" + escape(r.body) +
                              "\"");
            else
                log.push_back("after reconnect: no reply");
        }
    }

    // guest 2 was served throughout, and still is
    hammer.stop();
    EXPECT_EQ("", hammer.problem()) << "guest 2 was not served correctly";
    EXPECT_GT(hammer.ops(), 10u);
    auto g2 = store.guest(2);
    EXPECT_TRUE(g2 && g2->request(XS_READ, 0, nul_join({ "domid" }), &r) && r.body == "2");
    if (store.proxied()) {
        EXPECT_TRUE(store.proxy_alive()) << store.proxy_log();
        RunResult l = store.xsproxyctl({ "list" });
        EXPECT_TRUE(l.ok()) << l.err;
        EXPECT_NE(std::string::npos, l.out.find("domain 2 active")) << l.out;
        // and new domains can be inserted and served
        EXPECT_TRUE(store.create_domain(3));
        auto g3 = store.guest(3);
        EXPECT_TRUE(g3 && g3->request(XS_READ, 0, nul_join({ "domid" }), &r) && r.body == "3")
            << store.proxy_log();
    }
    return log;
}

// The same bad input directly and through xsproxy: guest 1 must see the same.
void differential(xssim_daemon daemon, const std::function<void(RingConn &)> &act)
{
    std::vector<std::string> direct, proxied;
    ASSERT_NO_FATAL_FAILURE(run_direct_and_proxied(
        daemon, [&](Store &store) { return observe(store, act); }, &direct, &proxied));
    std::string all;
    for (const auto &l : direct)
        all += "    " + l + "\n";
    std::cout << "  direct " << xssim_daemon_name(daemon) << ":\n" << all;
    EXPECT_EQ("", first_difference(direct, proxied));
}

void send_msg(RingConn &g, uint32_t type, uint32_t req, const std::string &payload)
{
    struct xsd_sockmsg h = { type, req, 0, (uint32_t)payload.size() };
    std::string bytes((const char *)&h, sizeof(h));
    bytes += payload;
    g.send_bytes(bytes.data(), bytes.size());
}

// A header with any LEN, followed by PAYLOAD (which need not match it).
void send_header(RingConn &g, uint32_t type, uint32_t req, uint32_t tx, uint32_t len,
                 const std::string &payload)
{
    struct xsd_sockmsg h = { type, req, tx, len };
    std::string bytes((const char *)&h, sizeof(h));
    bytes += payload;
    g.send_bytes(bytes.data(), bytes.size());
}

class XsproxyBadInput : public ::testing::TestWithParam<xssim_daemon> {};

TEST_P(XsproxyBadInput, LenAbove4096)
{
    differential(GetParam(), [](RingConn &g) {
        send_header(g, XS_WRITE, 7, 0, XENSTORE_PAYLOAD_MAX + 1, std::string(100, 'x'));
    });
}

TEST_P(XsproxyBadInput, HugeLen)
{
    differential(GetParam(),
                 [](RingConn &g) { send_header(g, XS_READ, 7, 0, 0xffffffffu, "domid"); });
}

TEST_P(XsproxyBadInput, UnknownType)
{
    differential(GetParam(), [](RingConn &g) {
        send_msg(g, 99, 7, nul_join({ "domid" }));
    });
}

TEST_P(XsproxyBadInput, NewerUpstreamTypes)
{
    // 23..26 (GET/SET_FEATURE, GET/SET_QUOTA) exist in newer Xen only
    differential(GetParam(), [](RingConn &g) {
        for (uint32_t t = 23; t <= 26; t++)
            send_msg(g, t, 70 + t, nul_join({ "1" }));
    });
}

TEST_P(XsproxyBadInput, DomZeroOnlyOperations)
{
    differential(GetParam(), [](RingConn &g) {
        send_msg(g, XS_INTRODUCE, 1, nul_join({ "5", "1", "1" }));
        send_msg(g, XS_RELEASE, 2, nul_join({ "2" }));
        send_msg(g, XS_CONTROL, 3, nul_join({ "check" }));
        send_msg(g, XS_CONTROL, 4, nul_join({ "list", "2" }));
        send_msg(g, XS_CONTROL, 5, nul_join({ "help" }));
        send_msg(g, XS_CONTROL, 6, nul_join({ "trace", "2", "on" }));
        send_msg(g, XS_SET_TARGET, 7, nul_join({ "1", "2" }));
        send_msg(g, XS_RESUME, 8, nul_join({ "2" }));
    });
}

TEST_P(XsproxyBadInput, RequestRingIndexesPastTheRing)
{
    differential(GetParam(), [](RingConn &g) {
        struct xenstore_domain_interface *r = g.ring();
        __atomic_store_n(&r->req_prod, r->req_cons + XENSTORE_RING_SIZE + 977,
                         __ATOMIC_RELEASE);
        g.notify();
    });
}

TEST_P(XsproxyBadInput, ResponseRingIndexesPastTheRing)
{
    differential(GetParam(), [](RingConn &g) {
        struct xenstore_domain_interface *r = g.ring();
        // the guest claims to have read what was never written
        __atomic_store_n(&r->rsp_cons, r->rsp_prod + 3000, __ATOMIC_RELEASE);
        send_msg(g, XS_READ, 9, nul_join({ "domid" }));
    });
}

// The three ring violations the daemon and xsproxy once answered
// differently.

// A header announcing 4097 octets, and 4097 octets after it: oxenstored
// reads them all and answers E2BIG (and then no more), C xenstored gives up
// on the ring at the header.
TEST_P(XsproxyBadInput, LenAbove4096WithAllItsPayload)
{
    differential(GetParam(), [](RingConn &g) {
        send_header(g, XS_WRITE, 7, 0, XENSTORE_PAYLOAD_MAX + 1,
                    std::string(XENSTORE_PAYLOAD_MAX + 1, 'x'));
    });
}

// The guest moves its response consumer past the producer, makes the
// server write, then puts the consumer back where it was: oxenstored serves
// the ring again once the index is sane.
TEST_P(XsproxyBadInput, ResponseConsumerPastTheProducerThenBack)
{
    differential(GetParam(), [](RingConn &g) {
        struct xenstore_domain_interface *r = g.ring();
        const uint32_t sane = load(&r->rsp_cons);
        __atomic_store_n(&r->rsp_cons, load(&r->rsp_prod) + 3000, __ATOMIC_RELEASE);
        send_msg(g, XS_READ, 9, nul_join({ "domid" }));
        sleep_ms(200);
        __atomic_store_n(&r->rsp_cons, sane, __ATOMIC_RELEASE);
        g.notify();
    });
}

// The same with the request ring: a producer past the ring, then put back
// and a request written properly.
TEST_P(XsproxyBadInput, RequestProducerPastTheRingThenBack)
{
    differential(GetParam(), [](RingConn &g) {
        struct xenstore_domain_interface *r = g.ring();
        const uint32_t sane = load(&r->req_prod);
        __atomic_store_n(&r->req_prod, load(&r->req_cons) + XENSTORE_RING_SIZE + 977,
                         __ATOMIC_RELEASE);
        g.notify();
        sleep_ms(200);
        __atomic_store_n(&r->req_prod, sane, __ATOMIC_RELEASE);
        send_msg(g, XS_READ, 9, nul_join({ "domid" }));
    });
}

// The guest asks for a ring reconnection half-way through writing a
// request, then takes it back (connection 0 again) and finishes it.  C
// xenstored 4.17 does not offer reconnection: it ignores the flag and goes
// on serving; oxenstored resets the ring.
TEST_P(XsproxyBadInput, ReconnectionAskedInTheMiddleOfARequest)
{
    differential(GetParam(), [](RingConn &g) {
        struct xenstore_domain_interface *r = g.ring();
        const std::string body = nul_join({ "domid" });
        struct xsd_sockmsg h = { XS_READ, 8, 0, (uint32_t)body.size() };
        g.send_bytes(&h, sizeof(h));
        __atomic_store_n(&r->connection, XENSTORE_RECONNECT, __ATOMIC_RELEASE);
        g.notify();
        sleep_ms(200);
        if (load(&r->connection) == XENSTORE_RECONNECT)   // not taken up
            __atomic_store_n(&r->connection, XENSTORE_CONNECTED, __ATOMIC_RELEASE);
        g.send_bytes(body.data(), body.size());
    });
}

TEST_P(XsproxyBadInput, GarbageBytes)
{
    differential(GetParam(), [](RingConn &g) {
        std::string junk;
        uint32_t x = 0x12345678;
        for (int i = 0; i < 300; i++) {
            x = x * 1103515245u + 12345u;
            junk.push_back((char)(x >> 24));
        }
        g.send_bytes(junk.data(), junk.size());
    });
}

TEST_P(XsproxyBadInput, TruncatedPayloadThenSilence)
{
    // a header announcing 100 bytes, only 10 of which ever come
    differential(GetParam(), [](RingConn &g) {
        send_header(g, XS_WRITE, 7, 0, 100, std::string("data/a\0xyz", 10));
    });
}

// xsproxy's own message types from a guest: EACCES, and nothing else
// changes.  (Directly, the daemon does not know these numbers at all.)
TEST_P(XsproxyBadInput, ProxyTypesFromAGuestGetEacces)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(1));
    ASSERT_TRUE(store.create_domain(2));
    auto g1 = store.guest(1);
    ASSERT_TRUE(g1);
    Hammer hammer(store.guest(2));
    WireMsg r;
    ASSERT_TRUE(g1->request(XS_WATCH, 0, nul_join({ "data", "tok" }), &r));
    for (uint32_t t = XSP_TYPE_BASE + 1; t < XSP_TYPE_END; t++) {
        ASSERT_TRUE(g1->request(t, 0, nul_join({ "2" }), &r)) << t << " " << g1->error();
        EXPECT_EQ((uint32_t)XS_ERROR, r.type) << t;
        EXPECT_EQ(std::string("EACCES", 7), r.body) << t;
        EXPECT_EQ(0u, r.tx_id);
    }
    // XSP_INSERT/REMOVE of another domain had no effect
    RunResult l = store.xsproxyctl({ "list" });
    EXPECT_NE(std::string::npos, l.out.find("domain 2 active")) << l.out;
    // the guest is still served, its watch still there
    ASSERT_TRUE(g1->request(XS_WRITE, 0, nul_join({ "data/x" }) + "1", &r));
    EXPECT_EQ((uint32_t)XS_WRITE, r.type);
    WireMsg ev;
    bool seen = false;
    while (g1->next_event(&ev, 500) == 1)
        seen |= ev.body == nul_join({ "data/x", "tok" });
    EXPECT_TRUE(seen);
    hammer.stop();
    EXPECT_EQ("", hammer.problem());
    EXPECT_TRUE(store.proxy_alive());

    // for the record: what the daemon itself says to these numbers
    Store direct(GetParam(), false);
    ASSERT_TRUE(direct.ok());
    ASSERT_TRUE(direct.create_domain(1));
    auto d1 = direct.guest(1);
    if (d1 && d1->request(XSP_QUIESCE, 0, nul_join({ "2" }), &r, 2000))
        std::cout << "  " << xssim_daemon_name(GetParam()) << " directly answers type "
                  << XSP_QUIESCE << " with " << describe(r) << "\n";
    else
        std::cout << "  " << xssim_daemon_name(GetParam()) << " directly: no answer to type "
                  << XSP_QUIESCE << "\n";
}

// ---- dom0 socket clients ------------------------------------------------------

// What a dom0 client that sends BYTES sees, and whether others are still
// served (run_direct_and_proxied checks that xsproxy is still up).
std::vector<std::string> observe_socket(Store &store, const std::string &bytes)
{
    std::vector<std::string> log;
    auto c = store.dom0();
    if (!c)
        return { "no connection" };
    WireMsg r;
    if (!c->request(XS_READ, 0, nul_join({ "/local" }), &r))
        return { "not served before" };
    c->send_bytes(bytes.data(), bytes.size());
    collect(*c, log, 500);
    WireMsg m{ XS_GET_DOMAIN_PATH, 0x55, 0, nul_join({ "1" }) };
    if (!c->send(m, 1000)) {
        log.push_back("follow-up: cannot send");
    } else {
        int rc = c->recv(&r, 1000);
        log.push_back(rc == 1 ? "follow-up: " + describe(r)
                              : rc == 0 ? "follow-up: no reply" : "follow-up: " + c->error());
    }
    log.push_back(std::string("closed: ") + (c->closed() ? "yes" : "no"));
    // others are served, and new clients too
    auto other = store.dom0();
    EXPECT_TRUE(other && other->request(XS_GET_DOMAIN_PATH, 0, nul_join({ "2" }), &r) &&
                r.body == nul_join({ "/local/domain/2" }));
    return log;
}

void socket_differential(xssim_daemon daemon, const std::string &bytes)
{
    std::vector<std::string> direct, proxied;
    ASSERT_NO_FATAL_FAILURE(run_direct_and_proxied(
        daemon, [&](Store &store) { return observe_socket(store, bytes); }, &direct, &proxied));
    for (const auto &l : direct)
        std::cout << "    direct " << xssim_daemon_name(daemon) << ": " << l << "\n";
    EXPECT_EQ("", first_difference(direct, proxied));
}

std::string header(uint32_t type, uint32_t req, uint32_t tx, uint32_t len)
{
    struct xsd_sockmsg h = { type, req, tx, len };
    return std::string((const char *)&h, sizeof(h));
}

TEST_P(XsproxyBadInput, SocketLenAbove4096)
{
    socket_differential(GetParam(), header(XS_WRITE, 3, 0, 5000) + std::string(5000, 'a'));
}

TEST_P(XsproxyBadInput, SocketUnknownType)
{
    socket_differential(GetParam(), header(99, 3, 0, 2) + std::string("1", 2));
}

// ---- xenstored gone -------------------------------------------------------------

TEST_P(XsproxyBadInput, DaemonGoneSocketClientsGetErrorReplies)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(1));
    auto c = store.dom0();
    ASSERT_TRUE(c);
    WireMsg r;
    ASSERT_TRUE(c->request(XS_READ, 0, nul_join({ "/local/domain/1/domid" }), &r));
    pid_t daemon = store.host().daemon_pid();
    ASSERT_GT(daemon, 0);

    auto g = store.guest(1);
    ASSERT_TRUE(g);
    ASSERT_TRUE(g->request(XS_READ, 0, nul_join({ "domid" }), &r));

    // requests in flight at xenstored when it dies
    ASSERT_EQ(0, kill(daemon, SIGSTOP));
    ASSERT_TRUE(c->send({ XS_READ, 4242, 0, nul_join({ "/local/domain/1/domid" }) }));
    ASSERT_TRUE(g->send({ XS_READ, 5252, 0, nul_join({ "domid" }) }));
    sleep_ms(100);
    store.daemon_killed();
    ASSERT_EQ(0, kill(daemon, SIGKILL));
    ASSERT_TRUE(wait_pid_gone(daemon, 5000));

    ASSERT_EQ(1, c->recv(&r, 3000)) << "silence for a request xenstored took and never answered";
    EXPECT_EQ((uint32_t)XS_ERROR, r.type);
    EXPECT_EQ(4242u, r.req_id) << "the error reply must answer the request: " << describe(r);

    // a request on the same connection after xenstored is gone
    ASSERT_TRUE(c->send({ XS_WRITE, 4343, 0, nul_join({ "/x" }) + "y" }));
    ASSERT_EQ(1, c->recv(&r, 3000)) << "silence";
    EXPECT_EQ((uint32_t)XS_ERROR, r.type);
    EXPECT_EQ(4343u, r.req_id) << describe(r);

    // a new client
    auto c2 = store.dom0();
    ASSERT_TRUE(c2) << "xsproxy no longer accepts clients";
    ASSERT_TRUE(c2->send({ XS_DIRECTORY, 4444, 0, nul_join({ "/" }) }));
    ASSERT_EQ(1, c2->recv(&r, 3000)) << "silence";
    EXPECT_EQ((uint32_t)XS_ERROR, r.type);
    EXPECT_EQ(4444u, r.req_id) << describe(r);

    // xsproxy's own commands still work
    RunResult l = store.xsproxyctl({ "list" });
    EXPECT_TRUE(l.ok()) << l.err;
    EXPECT_NE(std::string::npos, l.out.find("domain 1")) << l.out;
    EXPECT_TRUE(store.proxy_alive()) << store.proxy_log();

    // a guest on a ring: its request in flight, and a new one
    ASSERT_EQ(1, g->recv(&r, 3000)) << "silence for the guest's request in flight";
    EXPECT_EQ((uint32_t)XS_ERROR, r.type) << describe(r);
    EXPECT_EQ(5252u, r.req_id) << describe(r);
    ASSERT_TRUE(g->send({ XS_WRITE, 5353, 0, nul_join({ "data/x" }) + "1" }));
    ASSERT_EQ(1, g->recv(&r, 3000)) << "silence for a guest's new request";
    EXPECT_EQ((uint32_t)XS_ERROR, r.type) << describe(r);
    EXPECT_EQ(5353u, r.req_id) << describe(r);
    EXPECT_TRUE(store.proxy_alive()) << store.proxy_log();
}

size_t count(const std::string &text, const std::string &what)
{
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        n++;
    return n;
}

// A guest reconnecting its ring in a loop is served after every
// reconnection, and does not fill dom0's log: its messages stop at the
// domain's limit, and another domain's still get through.
TEST_P(XsproxyBadInput, ReconnectingInALoopDoesNotFillTheLog)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(1) && store.create_domain(2));
    WireMsg r;
    {
        // xsproxy offers what the daemon offers: oxenstored has ring
        // reconnection, C xenstored 4.17 has not (a guest of it cannot
        // loop: a ring it broke stays broken)
        auto g = store.guest(1);
        ASSERT_TRUE(g && g->request(XS_READ, 0, nul_join({ "domid" }), &r, 3000));
        bool offered = load(&g->ring()->server_features) & XENSTORE_SERVER_FEATURE_RECONNECTION;
        ASSERT_EQ(GetParam() == XSSIM_OXENSTORED, offered);
        if (!offered)
            return;
    }
    for (int i = 0; i < 30; i++) {
        auto g = store.guest(1);
        ASSERT_TRUE(g);
        ASSERT_TRUE(reconnect_ring(*g)) << "reconnection " << i << "\n" << store.proxy_log();
        g.reset();
        auto fresh = store.guest(1);
        ASSERT_TRUE(fresh && fresh->request(XS_READ, 0, nul_join({ "domid" }), &r, 3000))
            << "after reconnection " << i;
        EXPECT_EQ("1", r.body);
    }
    auto g2 = store.guest(2);
    ASSERT_TRUE(g2 && reconnect_ring(*g2));
    g2.reset();
    auto fresh2 = store.guest(2);
    ASSERT_TRUE(fresh2 && fresh2->request(XS_READ, 0, nul_join({ "domid" }), &r, 3000));
    EXPECT_EQ("2", r.body);
    std::string log = store.proxy_log();
    // 30 reconnections are 60 messages ("ring reconnection", "reconnected")
    EXPECT_EQ((size_t)LOG_LIMIT_BURST, count(log, "domain 1: ")) << log;
    EXPECT_EQ(2u, count(log, "domain 2: ")) << log;
    EXPECT_TRUE(store.proxy_alive());
}

INSTANTIATE_TEST_SUITE_P(Daemons, XsproxyBadInput, both_daemons(), DaemonName());

// ---- domains inserted and removed while others are busy -------------------------

// Wait until xsproxy no longer shows DOMID and its claim file is gone.
bool wait_domain_removed(Store &store, unsigned domid, std::string *why)
{
    std::string claim = store.dir() + "/proxy/claims/" + std::to_string(domid);
    std::string needle = "domain " + std::to_string(domid) + " ";
    int64_t deadline = mono_ms() + 3000;
    RunResult l;
    for (;;) {
        l = store.xsproxyctl({ "list" });
        bool listed = !l.ok() || l.out.find(needle) != std::string::npos;
        if (!listed && !path_exists(claim))
            return true;
        if (mono_ms() > deadline) {
            *why = "after 3 s: list says \"" + l.out + "\" (exit " +
                   std::to_string(l.exit_code) + "), claim file " +
                   (path_exists(claim) ? "still there" : "gone");
            return false;
        }
        sleep_ms(20);
    }
}

class XsproxyDomains : public ::testing::TestWithParam<xssim_daemon> {};

TEST_P(XsproxyDomains, InsertAndRemoveWhileAnotherGuestIsBusy)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(1));
    Hammer hammer(store.guest(1));
    auto tk = store.dom0();
    ASSERT_TRUE(tk);
    for (unsigned d = 2; d <= 13; d++) {
        SCOPED_TRACE("domain " + std::to_string(d));
        ASSERT_TRUE(store.create_domain(d));
        EXPECT_TRUE(path_exists(store.dir() + "/proxy/claims/" + std::to_string(d)));
        RunResult l = store.xsproxyctl({ "list" });
        EXPECT_NE(std::string::npos, l.out.find("domain " + std::to_string(d) + " active"))
            << l.out;
        auto g = store.guest(d);
        ASSERT_TRUE(g);
        WireMsg r;
        ASSERT_TRUE(g->request(XS_WATCH, 0, nul_join({ "data", "w" }), &r));
        uint32_t tx = 0;
        ASSERT_TRUE(g->request(XS_TRANSACTION_START, 0, nul_join({ "" }), &r));
        tx = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
        ASSERT_TRUE(g->request(XS_WRITE, tx, nul_join({ "data/x" }) + "v", &r));
        ASSERT_TRUE(g->request(XS_READ, 0, nul_join({ "domid" }), &r));
        EXPECT_EQ(std::to_string(d), r.body);
        l = store.xsproxyctl({ "list", std::to_string(d) });
        EXPECT_NE(std::string::npos, l.out.find("watch data w")) << l.out;
        EXPECT_NE(std::string::npos, l.out.find("transactions 1")) << l.out;
        // three ways out: the domain dies; the toolstack releases it, then it
        // dies; xsproxyctl remove, then it dies.  (The pause first: the sim
        // makes C xenstored die when a port it was notified on goes before it
        // unmasks it - see workload.cc.)
        sleep_ms(20);
        switch (d % 3) {
        case 0:
            break;
        case 1:
            ASSERT_TRUE(tk->request(XS_RELEASE, 0, nul_join({ std::to_string(d) }), &r));
            EXPECT_EQ(nul_join({ "OK" }), r.body) << describe(r);
            break;
        case 2:
            l = store.xsproxyctl({ "remove", std::to_string(d) });
            EXPECT_TRUE(l.ok()) << l.out << l.err;
            break;
        }
        g.reset();
        ASSERT_TRUE(store.destroy_domain(d));
        std::string why;
        EXPECT_TRUE(wait_domain_removed(store, d, &why)) << why;
        ASSERT_TRUE(tk->request(XS_IS_DOMAIN_INTRODUCED, 0, nul_join({ std::to_string(d) }), &r));
        EXPECT_EQ(nul_join({ "F" }), r.body);
    }
    hammer.stop();
    EXPECT_EQ("", hammer.problem());
    EXPECT_GT(hammer.ops(), 50u);
    RunResult l = store.xsproxyctl({ "list" });
    EXPECT_NE(std::string::npos, l.out.find("domain 1 active")) << l.out;
    EXPECT_EQ(1u, std::count(l.out.begin(), l.out.end(), '\n')) << l.out;
    EXPECT_TRUE(store.proxy_alive()) << store.proxy_log();
}

// Guest 2 leaves a request unanswered (in flight at a paused xenstored, or
// half written on its ring) and is destroyed: xsproxy stays up, guest 1 is
// served throughout, domain 2 is gone from xsproxy, and a new domain 2 can
// be created and served.
void destroyed_mid_request(Store &store, bool pause_daemon, bool half_written)
{
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(1));
    ASSERT_TRUE(store.create_domain(2));
    Hammer hammer(store.guest(1));
    {
        auto g2 = store.guest(2);
        ASSERT_TRUE(g2);
        WireMsg r;
        ASSERT_TRUE(g2->request(XS_WATCH, 0, nul_join({ "data", "w" }), &r));
        pid_t daemon = store.host().daemon_pid();
        if (pause_daemon) {
            ASSERT_EQ(0, kill(daemon, SIGSTOP));
        }
        if (half_written) {
            send_header(*g2, XS_WRITE, 9, 0, 3000, nul_join({ "data/x" }) + std::string(500, 'h'));
        } else {
            ASSERT_TRUE(g2->send({ XS_WRITE, 9, 0, nul_join({ "data/x" }) + std::string(2500, 'v') }));
        }
        sleep_ms(50);
        ASSERT_EQ(0, xssim_domain_destroy(store.sim(), 2));
        if (pause_daemon) {
            sleep_ms(100);
            ASSERT_EQ(0, kill(daemon, SIGCONT));
        }
    }
    std::string why;
    EXPECT_TRUE(wait_domain_removed(store, 2, &why)) << why;
    EXPECT_TRUE(store.proxy_alive()) << store.proxy_log();
    // libxl's part of the clean-up, then a new domain 2
    RunResult rm = store.run({ "xenstore-rm", "/local/domain/2" });
    EXPECT_TRUE(rm.ok()) << rm.err;
    ASSERT_TRUE(store.create_domain(2)) << store.proxy_log();
    auto g2 = store.guest(2);
    ASSERT_TRUE(g2);
    WireMsg r;
    ASSERT_TRUE(g2->request(XS_READ, 0, nul_join({ "domid" }), &r, 3000)) << g2->error();
    EXPECT_EQ("2", r.body);
    RunResult l = store.xsproxyctl({ "list", "2" });
    EXPECT_NE(std::string::npos, l.out.find("watches 0")) << "nothing of the old domain 2: " << l.out;
    hammer.stop();
    EXPECT_EQ("", hammer.problem());
    EXPECT_TRUE(store.proxy_alive()) << store.proxy_log();
}

TEST_P(XsproxyDomains, DestroyedWithARequestInFlight)
{
    Store store(GetParam(), true);
    destroyed_mid_request(store, true, false);
}

TEST_P(XsproxyDomains, DestroyedBeforeReadingItsReply)
{
    Store store(GetParam(), true);
    destroyed_mid_request(store, false, false);
}

TEST_P(XsproxyDomains, DestroyedHalfwayThroughWritingARequest)
{
    Store store(GetParam(), true);
    destroyed_mid_request(store, false, true);
}


// ---- xsproxy starting while xenstored is busy ---------------------------------

// Both 4.17 daemons listen with a tiny backlog.  A client that connects
// while xenstored is busy waits (blocking connect) or gets EAGAIN
// (non-blocking); xsproxy starting at such a moment must wait for
// xenstored, not give up.
TEST_P(XsproxyDomains, ProxyStartsWhileXenstoredsListenQueueIsFull)
{
    Store store(GetParam(), false);
    ASSERT_TRUE(store.ok());
    pid_t daemon = store.host().daemon_pid();
    ASSERT_EQ(0, kill(daemon, SIGSTOP));
    std::vector<int> fillers;
    std::string path = store.host().socket_path();
    for (int i = 0; i < 64; i++) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = {};
        a.sun_family = AF_UNIX;
        strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            close(fd);
            break;   // EAGAIN: the queue is full
        }
        fillers.push_back(fd);
    }
    pid_t proxy = -1;
    // not die_with_parent: that follows the starting thread, which ends here;
    // the sim's teardown stops xsproxy (it is in DIR/pids)
    std::thread starter([&] { proxy = xssim_start_proxy(store.dir().c_str(), nullptr, false); });
    sleep_ms(300);
    kill(daemon, SIGCONT);
    starter.join();
    for (int fd : fillers)
        close(fd);
    std::string log = store.dir() + "/proxy/xsproxy.log";
    ASSERT_GT(proxy, 0) << "xsproxy gave up:\n" << read_text(log);
    sleep_ms(200);
    EXPECT_TRUE(pid_alive(proxy)) << "xsproxy gave up:\n" << read_text(log);
    auto c = SockConn::connect(store.dir() + "/proxy/socket");
    ASSERT_TRUE(c);
    WireMsg r;
    ASSERT_TRUE(c->request(XS_DIRECTORY, 0, nul_join({ "/" }), &r)) << c->error();
    EXPECT_EQ((uint32_t)XS_DIRECTORY, r.type);
    c.reset();
    store.host().down();
    wait_pid_gone(proxy, 5000);
}

INSTANTIATE_TEST_SUITE_P(Daemons, XsproxyDomains, both_daemons(), DaemonName());


}  // namespace
}  // namespace xstest
