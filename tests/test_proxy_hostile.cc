// test_proxy_hostile.cc - hostile guests, held to xsproxy's per-domain
// bounds so that the others are served.  One guest floods xsproxy on its
// ring: the largest requests at full rate without ever reading an answer,
// malformed messages, WATCH and TRANSACTION_START until the daemon's quotas
// refuse them and beyond, xsproxy's own (dom0-only) types that xsproxy
// answers itself, requests while xenstored is gone, and a few tricks that
// try to make xsproxy's shadow of the domain outgrow xenstored's own
// state.  Meanwhile a well-behaved guest does WRITE/READ and transactions and
// must get every answer right.  For each daemon:
//  - xsproxy stays up, and its state for the hostile domain stays within
//    the per-domain bounds (`xsproxyctl list`: output held for the guest
//    <= two rings' worth, requests at xenstored <= --max-outstanding,
//    watches and transactions <= what xenstored holds for the domain), and
//    its resident memory grows by less than kDomainMemoryMaxKiB;
//  - only the hostile guest is held back: a flood that never reads stops
//    being taken from its ring (and every request taken is answered, in
//    order, once it reads again); one that breaks the protocol loses its
//    connection; the good guest is served correctly throughout.
// Each case floods for about two seconds.  Latency under a flood is
// measured by the xshostile benchmark, not here.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "hostile_guest.h"
#include "sim_host.h"
#include "workload.h"
#include "xsproxy_wire.h"

namespace xstest {
namespace {

// ---- the bounds ----------------------------------------------------------------

// Output xsproxy holds for one guest: what came from xenstored is held to
// the free space of the guest's response ring (xenstored keeps the rest, as
// it would for the guest directly), and what xsproxy answers itself waits
// while a ring's worth is held: at most two rings.
constexpr uint64_t kPendingOutputMax = 2 * XENSTORE_RING_SIZE;
// xsproxy's default --max-outstanding.
constexpr uint64_t kMaxOutstanding = 20;
// The daemons' default quotas (the sim's oxenstored.conf: quota-maxwatch
// 100, quota-transaction 10; C xenstored: 128 watches, 10 transactions).
// A watch beyond is allowed for the same reason as a transaction (below).
uint64_t watch_quota(xssim_daemon d)
{
    return d == XSSIM_XENSTORED ? 128 : 100;
}
// Both let a domain open one more than the quota (they refuse only once
// it is exceeded).
constexpr uint64_t kTxQuota = 11;
// Transactions xsproxy adopts at their first use on a live-inserted domain
// (opened before it stood in front) at most: SHADOW_TX_ADOPT_MAX.
constexpr uint64_t kAdoptMax = 64;
// xsproxy's memory for one domain at its worst (defaults): 129 watches of
// up to 4 KiB (0.5 MiB), 11 transaction logs of 8 KiB counting 96 bytes
// per operation (88 KiB), 20 requests in flight of up to 4 KiB (80 KiB),
// two rings of output and the domain's own structure (12 KiB): about
// 0.7 MiB; with the allocator's slack, within 2 MiB of resident memory.
constexpr long kDomainMemoryMaxKiB = 2048;
// Under AddressSanitizer, memory xsproxy frees stays resident in ASan's
// quarantine (up to 256 MiB) and every block has red zones: its resident
// growth says nothing about its own bounds there.  Its `memory` figure,
// checked in both builds, does.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kResidentMemoryMeansSomething = false;
#else
constexpr bool kResidentMemoryMeansSomething = true;
#endif

// ---- the good guest ----------------------------------------------------------------

// WRITE/READ with checked answers, and a transaction now and then, until
// stopped.  With EXPECT_EIO (xenstored gone) every answer must be EIO.
class GoodGuest {
public:
    GoodGuest(std::unique_ptr<RingConn> g, unsigned domid, bool expect_eio = false)
        : g_(std::move(g)), domid_(domid), eio_(expect_eio)
    {
        thread_ = std::thread([this] { run(); });
    }
    ~GoodGuest() { stop(); }
    void stop()
    {
        stop_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    unsigned ops() const { return ops_; }
    std::string problem() const
    {
        std::lock_guard<std::mutex> l(mu_);
        return problem_;
    }
    RingConn &conn() { return *g_; }

private:
    bool check(uint32_t type, uint32_t tx, const std::string &body, uint32_t want_type,
               std::string want_body, WireMsg *r)
    {
        bool ok = g_->request(type, tx, body, r, 5000);
        if (eio_) {
            want_type = XS_ERROR;
            want_body = std::string("EIO", 4);
        }
        bool right = ok && r->type == want_type && (want_body.empty() || r->body == want_body);
        // a transaction may always end in EAGAIN (a daemon's conflict
        // check is its own); a well-behaved guest would try again
        if (ok && type == XS_TRANSACTION_END && !eio_ && r->type == XS_ERROR &&
            r->body == std::string("EAGAIN", 7))
            right = true;
        if (right) {
            ops_++;
            return true;
        }
        std::lock_guard<std::mutex> l(mu_);
        problem_ = "guest " + std::to_string(domid_) + ", op " + std::to_string(ops_) + ": " +
                   type_name(type) + " " + escape(body, 40) + " -> " +
                   (ok ? type_name(r->type) + " \"" + escape(r->body, 40) + "\""
                       : "no reply: " + g_->error());
        return false;
    }
    void run()
    {
        WireMsg r;
        for (unsigned i = 0; !stop_; i++) {
            std::string v = "value" + std::to_string(i);
            if (!check(XS_WRITE, 0, nul_join({ "data/good" }) + v, XS_WRITE, std::string("OK", 3), &r))
                return;
            if (!check(XS_READ, 0, nul_join({ "data/good" }), XS_READ, v, &r))
                return;
            if (i % 8 == 7 && !eio_) {
                if (!check(XS_TRANSACTION_START, 0, std::string(1, '\0'), XS_TRANSACTION_START, "",
                           &r))
                    return;
                uint32_t tx = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
                if (!check(XS_WRITE, tx, nul_join({ "data/txgood" }) + v, XS_WRITE,
                           std::string("OK", 3), &r) ||
                    !check(XS_READ, tx, nul_join({ "data/txgood" }), XS_READ, v, &r) ||
                    !check(XS_TRANSACTION_END, tx, nul_join({ "T" }), XS_TRANSACTION_END, "",
                           &r))
                    return;
            }
        }
    }
    std::unique_ptr<RingConn> g_;
    unsigned domid_;
    bool eio_;
    std::thread thread_;
    std::atomic<bool> stop_{ false };
    std::atomic<unsigned> ops_{ 0 };
    mutable std::mutex mu_;
    std::string problem_;
};

// ---- watching xsproxy ------------------------------------------------------------

// One domain's line of `list`.
struct DomLine {
    bool found = false;
    std::string state;
    uint64_t watches = 0, transactions = 0, in_flight = 0, pending_output = 0, requests = 0,
             replies = 0;
    uint64_t memory = 0;   // xsproxy's own figure for the domain, when it gives one
};

DomLine parse_list(const std::string &text, unsigned domid)
{
    DomLine d;
    std::istringstream in(text);
    std::string line, prefix = "domain " + std::to_string(domid) + " ";
    while (std::getline(in, line)) {
        if (line.compare(0, prefix.size(), prefix) != 0)
            continue;
        d.found = true;
        std::istringstream w(line.substr(prefix.size()));
        w >> d.state;
        std::string key;
        while (w >> key) {
            uint64_t *f = key == "watches"          ? &d.watches
                          : key == "transactions"   ? &d.transactions
                          : key == "in-flight"      ? &d.in_flight
                          : key == "pending-output" ? &d.pending_output
                          : key == "requests"       ? &d.requests
                          : key == "replies"        ? &d.replies
                          : key == "memory"         ? &d.memory
                                                    : nullptr;
            if (f) {
                std::string v;
                w >> v;
                *f = strtoull(v.c_str(), nullptr, 10);
            }
        }
    }
    return d;
}

// Samples xsproxy every 50 ms: the hostile domain's line of `list` (over a
// dom0 connection of its own) and xsproxy's resident anonymous memory.
class Monitor {
public:
    Monitor(Store &store, unsigned domid) : store_(store), domid_(domid)
    {
        ctl_ = store.dom0();
        base_kib_ = read_rss(store.proxy_pid()).anon;
        sample();
        thread_ = std::thread([this] {
            while (!stop_) {
                sleep_ms(50);
                sample();
            }
        });
    }
    ~Monitor() { stop(); }
    void stop()
    {
        stop_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    DomLine sample()
    {
        WireMsg r;
        DomLine d;
        {
            // the test's thread samples too: one request at a time on ctl_
            std::lock_guard<std::mutex> c(ctl_mu_);
            if (ctl_ && ctl_->request(XS_CONTROL, 0, nul_join({ "list" }), &r, 5000))
                d = parse_list(r.body, domid_);
        }
        long anon = read_rss(store_.proxy_pid()).anon;
        std::lock_guard<std::mutex> l(mu_);
        if (d.found) {
            last_ = d;
            max_.watches = std::max(max_.watches, d.watches);
            max_.transactions = std::max(max_.transactions, d.transactions);
            max_.in_flight = std::max(max_.in_flight, d.in_flight);
            max_.pending_output = std::max(max_.pending_output, d.pending_output);
            max_.memory = std::max(max_.memory, d.memory);
            samples_++;
        }
        max_anon_kib_ = std::max(max_anon_kib_, anon);
        return d;
    }
    DomLine max() const
    {
        std::lock_guard<std::mutex> l(mu_);
        return max_;
    }
    DomLine last() const
    {
        std::lock_guard<std::mutex> l(mu_);
        return last_;
    }
    long growth_kib() const
    {
        std::lock_guard<std::mutex> l(mu_);
        return max_anon_kib_ - base_kib_;
    }
    unsigned samples() const
    {
        std::lock_guard<std::mutex> l(mu_);
        return samples_;
    }

private:
    Store &store_;
    unsigned domid_;
    std::unique_ptr<SockConn> ctl_;
    long base_kib_ = 0, max_anon_kib_ = 0;
    DomLine max_, last_;
    unsigned samples_ = 0;
    std::mutex ctl_mu_;
    mutable std::mutex mu_;
    std::thread thread_;
    std::atomic<bool> stop_{ false };
};

// ---- the scene -------------------------------------------------------------------

constexpr unsigned kHostile = 1, kGood = 2;
constexpr int kFloodMs = 2000;

class XsproxyHostile : public ::testing::TestWithParam<xssim_daemon> {
protected:
    void SetUp() override
    {
        store_ = std::make_unique<Store>(GetParam(), true);
        ASSERT_TRUE(store_->ok());
        if (!live_hostile_) {
            ASSERT_TRUE(store_->create_domain(kHostile));
        } else {
            // xenstored serves it directly; xsproxy is put in front of it
            ASSERT_TRUE(store_->host().create_domain(kHostile));
            RunResult r = store_->xsproxyctl({ "insert", std::to_string(kHostile) });
            ASSERT_TRUE(r.ok()) << r.out << r.err;
        }
        ASSERT_TRUE(store_->create_domain(kGood));
        hostile_ = RawGuest::open(store_->sim(), kHostile);
        ASSERT_TRUE(hostile_);
        WireMsg r;
        ASSERT_TRUE(hostile_->request(XS_READ, nul_join({ "domid" }), &r, 5000));
        ASSERT_EQ("1", r.body);
    }
    void TearDown() override
    {
        hostile_.reset();
        store_.reset();
    }

    // The good guest runs and the monitor watches while FLOOD runs for
    // kFloodMs; then both stop and the common bounds are checked.
    void during(Flood &flood, bool expect_eio = false)
    {
        GoodGuest good(store_->guest(kGood), kGood, expect_eio);
        sleep_ms(kFloodMs);
        // a flood that is not answered any more is not taken any more:
        // how far xsproxy consumed the hostile guest's request ring in the
        // last half second
        XENSTORE_RING_IDX mid = load(&hostile_->ring()->req_cons);
        sleep_ms(500);
        late_ = monitor_->sample();
        late_bytes_taken_ = load(&hostile_->ring()->req_cons) - mid;
        good.stop();
        flood.stop();
        flood_sent_ = flood.sent();
        monitor_->stop();
        EXPECT_TRUE(flood.finished())
            << "the hostile guest could not finish its last message within 5 s of reading "
               "again: "
            << describe_hostile();
        EXPECT_EQ("", good.problem()) << "the good guest was not served correctly";
        EXPECT_GT(good.ops(), 50u) << "the good guest was hardly served";
        std::cout << "  hostile: " << flood_sent_ << " messages sent, xsproxy took "
                  << late_.requests << "; good guest: " << good.ops()
                  << " answers; xsproxy's memory +" << monitor_->growth_kib() << " KiB";
        if (monitor_->max().memory)
            std::cout << " (its figure for the domain: at most " << monitor_->max().memory / 1024
                      << " KiB)";
        struct stat st;
        std::string jnl = store_->dir() + "/proxy/journal/dom" + std::to_string(kHostile);
        if (stat(jnl.c_str(), &st) == 0)
            std::cout << "; its journal " << st.st_size / 1024 << " KiB";
        std::cout << "\n";
        check_bounds();
    }
    void check_bounds()
    {
        DomLine m = monitor_->max();
        EXPECT_GT(monitor_->samples(), 10u);
        EXPECT_TRUE(store_->proxy_alive()) << store_->proxy_log();
        EXPECT_LE(m.pending_output, kPendingOutputMax) << "output held for the hostile guest";
        EXPECT_LE(m.in_flight, kMaxOutstanding);
        EXPECT_LE(m.watches, watch_quota(GetParam()) + 1);
        EXPECT_LE(m.transactions, live_hostile_ ? kTxQuota + kAdoptMax : kTxQuota);
        if (kResidentMemoryMeansSomething) {
            EXPECT_LE(monitor_->growth_kib(), kDomainMemoryMaxKiB) << "xsproxy's resident memory";
        }
        EXPECT_GT(m.memory, 0u) << "`list` gives no memory figure";
        EXPECT_LE(m.memory, (uint64_t)kDomainMemoryMaxKiB * 1024) << "xsproxy's figure";
    }
    // What xsproxy and the hostile guest's ring look like (for failures).
    std::string describe_hostile()
    {
        struct xenstore_domain_interface *r = hostile_->ring();
        RunResult l = store_->xsproxyctl({ "list", std::to_string(kHostile) });
        return "req " + std::to_string(load(&r->req_cons)) + ".." +
               std::to_string(load(&r->req_prod)) + " rsp " + std::to_string(load(&r->rsp_cons)) +
               ".." + std::to_string(load(&r->rsp_prod)) + "\n" + l.out;
    }
    // The good guest can still register a watch, see it fire, and the
    // store has its writes; xsproxy lists it active.
    void good_guest_still_fine()
    {
        auto g = store_->guest(kGood);
        ASSERT_TRUE(g);
        WireMsg r, ev;
        ASSERT_TRUE(g->request(XS_WATCH, 0, nul_join({ "data/final", "ftok" }), &r));
        EXPECT_EQ((uint32_t)XS_WATCH, r.type) << escape(r.body);
        ASSERT_EQ(1, g->next_event(&ev, 3000));
        ASSERT_TRUE(g->request(XS_WRITE, 0, nul_join({ "data/final" }) + "x", &r));
        EXPECT_EQ((uint32_t)XS_WRITE, r.type);
        ASSERT_EQ(1, g->next_event(&ev, 3000));
        EXPECT_EQ(nul_join({ "data/final", "ftok" }), ev.body);
        RunResult l = store_->xsproxyctl({ "list" });
        EXPECT_NE(std::string::npos, l.out.find("domain 2 active")) << l.out;
    }
    // A hostile guest that never read: once it reads, every request xsproxy
    // took from its ring is answered, in order, and it is served again.
    void hostile_recovers(const std::string &answer_kind)
    {
        hostile_->settle(300, 10000);
        DomLine now = monitor_->sample();
        EXPECT_EQ("", hostile_->r.first_problem);
        EXPECT_EQ(0u, hostile_->r.out_of_order);
        EXPECT_EQ(flood_sent_, hostile_->r.replies) << "a request without an answer, or two";
        if (!answer_kind.empty()) {
            EXPECT_EQ(hostile_->r.replies, hostile_->r.by_kind[answer_kind]) << answer_kind;
        }
        EXPECT_EQ(0u, now.pending_output);
        WireMsg r;
        ASSERT_TRUE(hostile_->request(XS_READ, nul_join({ "domid" }), &r, 5000))
            << "the hostile guest is not served once it reads again";
        EXPECT_EQ("1", r.body);
    }

    std::unique_ptr<Store> store_;
    std::unique_ptr<RawGuest> hostile_;
    std::unique_ptr<Monitor> monitor_;
    bool live_hostile_ = false;
    DomLine late_;
    uint32_t late_bytes_taken_ = 0;
    uint64_t flood_sent_ = 0;
};

// The largest requests (4096-byte WRITEs) as fast as the ring takes them,
// never reading an answer: xsproxy takes no more from the ring once
// xenstored's answers wait for the guest; nothing is lost.
TEST_P(XsproxyHostile, LargestRequestsAtFullRateNeverReading)
{
    monitor_ = std::make_unique<Monitor>(*store_, kHostile);
    Flood flood(*hostile_, largest_write, false);
    during(flood);
    EXPECT_EQ(0u, late_bytes_taken_) << "the flood is still taken from the ring";
    EXPECT_LT(late_.requests, 1000u);
    good_guest_still_fine();
    // both daemons refuse a node this big (node size quota 2048), each
    // with its own error: one kind of answer to all of them
    hostile_recovers("");
    EXPECT_EQ(1u, hostile_->r.by_kind.size());
    if (!hostile_->r.by_kind.empty()) {
        EXPECT_EQ("ERROR", hostile_->r.by_kind.begin()->first.substr(0, 5));
    }
}

// xsproxy's own operations (dom0 only), which xsproxy answers itself with
// EACCES, as fast as the ring takes them, never reading.
TEST_P(XsproxyHostile, DomZeroOnlyTypesNeverReading)
{
    monitor_ = std::make_unique<Monitor>(*store_, kHostile);
    Flood flood(*hostile_, dom0_only, false);
    during(flood);
    EXPECT_EQ(0u, late_bytes_taken_) << "the flood is still taken from the ring";
    good_guest_still_fine();
    hostile_recovers("ERROR EACCES");
}

// Event-channel notifications only, as fast as the guest can make them,
// with nothing on the ring: xsproxy leaves the port masked a moment at a
// time (the sim masks a port read through /dev/xen/evtchn, as Linux's
// driver does), says so once, serves the other guest meanwhile, and
// answers the storming guest as soon as it asks something.
TEST_P(XsproxyHostile, NotificationsOnlyAreHeldOff)
{
    std::atomic<bool> stop{ false };
    std::atomic<uint64_t> kicks{ 0 };
    std::thread storm([&] {
        while (!stop) {
            hostile_->notify();
            kicks++;
        }
    });
    sleep_ms(300);
    good_guest_still_fine();
    stop = true;
    storm.join();
    EXPECT_GT(kicks.load(), 1000u);
    EXPECT_TRUE(store_->proxy_alive()) << store_->proxy_log();
    const std::string log = store_->proxy_log();
    EXPECT_NE(std::string::npos, log.find("notifications in a row with nothing to do")) << log;
    WireMsg r;
    ASSERT_TRUE(hostile_->request(XS_READ, nul_join({ "domid" }), &r, 5000))
        << "the storming guest is not served once it asks";
    EXPECT_EQ("1", r.body);
}

// xenstored is gone: xsproxy answers every request EIO itself.  The
// hostile guest floods without reading; the good guest gets its EIOs.
TEST_P(XsproxyHostile, RequestsWhileXenstoredIsGoneNeverReading)
{
    pid_t daemon = store_->host().daemon_pid();
    ASSERT_GT(daemon, 0);
    store_->daemon_killed();
    ASSERT_EQ(0, kill(daemon, SIGKILL));
    ASSERT_TRUE(wait_pid_gone(daemon, 5000));
    sleep_ms(200);
    monitor_ = std::make_unique<Monitor>(*store_, kHostile);
    Flood flood(*hostile_,
                [](uint32_t i) { return msg_bytes(XS_READ, i, 0, nul_join({ "domid" })); },
                false);
    during(flood, true);
    EXPECT_EQ(0u, late_bytes_taken_) << "the flood is still taken from the ring";
    hostile_->settle(300, 10000);
    EXPECT_EQ(0u, hostile_->r.out_of_order);
    EXPECT_EQ(flood_sent_, hostile_->r.replies);
    EXPECT_EQ(hostile_->r.replies, hostile_->r.by_kind["ERROR EIO"]);
}

// Malformed messages at full rate (the guest reads and drops what comes
// back, so that xsproxy has to deal with every one), then a header whose
// len is above 4096: the guest has broken the protocol and loses its
// connection, as it would directly; nobody else notices.
TEST_P(XsproxyHostile, MalformedMessagesThenABrokenHeader)
{
    monitor_ = std::make_unique<Monitor>(*store_, kHostile);
    Flood flood(*hostile_, [](uint32_t i) { return malformed(i, i % kMalformedKinds); },
                true);
    during(flood);
    // what the flood got: answers in order, no request left unanswered
    hostile_->settle(300, 5000);
    EXPECT_EQ("", hostile_->r.first_problem);
    EXPECT_EQ(0u, hostile_->r.out_of_order);
    EXPECT_GT(hostile_->r.replies, 100u);
    // the header that breaks the protocol
    std::string bad = msg_bytes(XS_WRITE, 0x7e000001u, 0, std::string(100, 'x'),
                                XENSTORE_PAYLOAD_MAX + 1);
    ASSERT_TRUE(hostile_->write(bad, [] { return true; }, [] { return false; }, 3000));
    int64_t until = mono_ms() + 3000;
    DomLine d;
    while (mono_ms() < until) {
        d = monitor_->sample();
        if (d.state == "broken")
            break;
        sleep_ms(50);
    }
    EXPECT_EQ("broken", d.state) << "xsproxy goes on relaying a guest that broke the protocol";
    WireMsg r;
    EXPECT_FALSE(hostile_->request(XS_READ, nul_join({ "domid" }), &r, 1000))
        << "a guest that broke the protocol is still served";
    good_guest_still_fine();
    EXPECT_TRUE(store_->proxy_alive());
}

// The one path argument of DIRECTORY, READ, GET_PERMS, MKDIR and RM
// without its NUL, empty, or two strings: C xenstored 4.17 answers these
// with whatever errno it had last (ENOENT, ENOMEM... directly), and aborts
// on an assertion when that is 0 - which it is right after the shim has
// read a claim.  No guest may bring xenstored down through xsproxy.
TEST_P(XsproxyHostile, PathArgumentsThatAreNotOneString)
{
    const uint32_t types[] = { XS_DIRECTORY, XS_READ, XS_GET_PERMS, XS_MKDIR, XS_RM };
    const std::string bodies[] = { "data", "", std::string("a\0b\0", 4), std::string(8, '\0') };
    pid_t daemon = store_->host().daemon_pid();
    unsigned next_dom = 10;
    for (uint32_t type : types) {
        for (const auto &body : bodies) {
            // a claim read (a new domain) just before, as after the set-up
            ASSERT_TRUE(store_->create_domain(next_dom++));
            WireMsg r;
            ASSERT_TRUE(hostile_->request(type, body, &r, 5000))
                << type_name(type) << " \"" << escape(body) << "\": no answer";
            EXPECT_EQ((uint32_t)XS_ERROR, r.type)
                << type_name(type) << " \"" << escape(body) << "\": " << escape(r.body);
            ASSERT_TRUE(pid_alive(daemon))
                << type_name(type) << " \"" << escape(body) << "\" brought "
                << store_->host().daemon_name() << " down";
        }
    }
    WireMsg r;
    ASSERT_TRUE(hostile_->request(XS_READ, nul_join({ "domid" }), &r, 5000));
    EXPECT_EQ("1", r.body);
    good_guest_still_fine();
}

// WATCH until xenstored's quota refuses, and on: the largest watches
// (path and token near 4 KiB together), the guest reading and dropping
// every answer and event.  xsproxy's shadow holds what xenstored holds.
TEST_P(XsproxyHostile, EndlessWatchesBeyondTheQuota)
{
    monitor_ = std::make_unique<Monitor>(*store_, kHostile);
    std::string path = "data/" + std::string(1900, 'w');
    Flood flood(*hostile_,
                [&](uint32_t i) {
                    std::string token = std::to_string(i) + std::string(2000, 't');
                    return msg_bytes(XS_WATCH, i, 0, nul_join({ path, token }));
                },
                true);
    during(flood);
    hostile_->settle(300, 5000);
    uint64_t accepted = hostile_->r.by_kind["WATCH"];
    EXPECT_GT(hostile_->r.replies, accepted) << "the quota never refused a watch";
    EXPECT_LE(accepted, watch_quota(GetParam()) + 1);
    EXPECT_EQ(accepted, monitor_->sample().watches) << "xsproxy's shadow is not xenstored's";
    EXPECT_EQ(0u, hostile_->r.out_of_order);
    good_guest_still_fine();
}

// A watch registered under one spelling of its path and removed under the
// other (relative and absolute: the same watch for xenstored), endlessly.
// xsproxy's shadow must not keep what xenstored removed.
TEST_P(XsproxyHostile, WatchesRemovedUnderAnotherSpelling)
{
    monitor_ = std::make_unique<Monitor>(*store_, kHostile);
    std::string abs = "/local/domain/" + std::to_string(kHostile) + "/data/alias";
    Flood flood(*hostile_,
                [&](uint32_t i) {
                    uint32_t pair = (i - 1) / 2;
                    std::string token = "tok" + std::to_string(pair);
                    bool rel_first = pair % 2 == 0;
                    std::string add = rel_first ? "data/alias" : abs;
                    std::string del = rel_first ? abs : "data/alias";
                    if (i % 2 == 1)
                        return msg_bytes(XS_WATCH, i, 0, nul_join({ add, token }));
                    return msg_bytes(XS_UNWATCH, i, 0, nul_join({ del, token }));
                },
                true);
    during(flood);
    hostile_->settle(300, 5000);
    EXPECT_EQ(0u, hostile_->r.out_of_order);
    EXPECT_GT(hostile_->r.by_kind["UNWATCH"], 100u) << "xenstored did not take the other spelling";
    EXPECT_EQ(0u, hostile_->r.by_kind["ERROR ENOENT"]);
    // xenstored holds at most the last one; so must xsproxy
    EXPECT_LE(monitor_->sample().watches, 1u) << "xsproxy keeps watches xenstored removed";
    good_guest_still_fine();
}

// TRANSACTION_START until the quota refuses, and on; then tiny operations
// in every open transaction, as many as the guest can send (each is logged
// for a migration: the log must stay within its bound in memory, not only
// in payload bytes).
TEST_P(XsproxyHostile, EndlessTransactionsAndTheirLogs)
{
    WireMsg r;
    ASSERT_TRUE(hostile_->request(XS_WRITE, nul_join({ "e" }), &r, 5000));   // an empty node
    monitor_ = std::make_unique<Monitor>(*store_, kHostile);
    std::vector<uint32_t> txs;
    {
        Flood starts(*hostile_,
                     [](uint32_t i) { return msg_bytes(XS_TRANSACTION_START, i, 0, std::string(1, '\0')); },
                     true);
        sleep_ms(500);
        starts.stop();
        hostile_->settle(200, 3000);
    }
    uint64_t started = hostile_->r.by_kind["TRANSACTION_START"];
    EXPECT_GT(hostile_->r.replies, started) << "the quota never refused a transaction";
    EXPECT_LE(started, kTxQuota);
    EXPECT_EQ(started, monitor_->sample().transactions);
    // the ids: xsproxy shows the guest ids it chose; ask which (1..) are open
    DomLine line = monitor_->sample();
    RunResult l = store_->xsproxyctl({ "list", std::to_string(kHostile) });
    std::istringstream in(l.out);
    std::string s;
    while (std::getline(in, s)) {
        unsigned id;
        if (sscanf(s.c_str(), "  tx %u ->", &id) == 1)
            txs.push_back(id);
    }
    ASSERT_EQ(started, txs.size()) << l.out;
    ASSERT_FALSE(txs.empty());
    Flood ops(*hostile_,
              [&](uint32_t i) { return msg_bytes(XS_READ, i, txs[i % txs.size()], nul_join({ "e" })); },
              true);
    // the requests need new req ids from 1: a new count
    hostile_->r = Replies();
    during(ops);
    EXPECT_LE(monitor_->max().transactions, kTxQuota);
    (void)line;
    good_guest_still_fine();
}

// A domain xsproxy was put in front of while xenstored served it: a
// transaction id xsproxy has not seen may be one opened before, so it is
// adopted at its first use.  A hostile guest uses a new made-up id in
// every request: the shadow must not collect them.
class XsproxyHostileLive : public XsproxyHostile {
protected:
    void SetUp() override
    {
        live_hostile_ = true;
        XsproxyHostile::SetUp();
    }
};

TEST_P(XsproxyHostileLive, MadeUpTransactionIdsAfterALiveInsertion)
{
    monitor_ = std::make_unique<Monitor>(*store_, kHostile);
    Flood flood(*hostile_,
                [](uint32_t i) { return msg_bytes(XS_READ, i, 1000 + i, nul_join({ "domid" })); },
                true);
    during(flood);
    hostile_->settle(300, 5000);
    EXPECT_EQ(0u, hostile_->r.out_of_order);
    EXPECT_GT(hostile_->r.replies, 1000u);
    EXPECT_EQ(0u, hostile_->r.by_kind["READ"]) << "a made-up transaction id was accepted";
    good_guest_still_fine();
}

INSTANTIATE_TEST_SUITE_P(Daemons, XsproxyHostile, both_daemons(), DaemonName());
INSTANTIATE_TEST_SUITE_P(Daemons, XsproxyHostileLive, both_daemons(), DaemonName());

}  // namespace
}  // namespace xstest
