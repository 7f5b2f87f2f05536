// test_guests.cc - guests on rings against each daemon: two domains made as
// libxl makes them (`xssim domain create`), each speaking xenstore over its
// ring page and event channel.  Own nodes, other guests' nodes (EACCES),
// relative paths and watches, transactions and conflicts, @releaseDomain on
// destruction, and messages larger than the 1024-byte ring streaming both
// ways.
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include <xenstore.h>
}

#include "sim_host.h"

namespace xstest {
namespace {

constexpr int kWaitMs = 5000;

// One reply: its type, and the body ("OK", an error name, a value...).
struct Reply {
    uint32_t type = ~0u;
    uint32_t req_id = 0, tx_id = 0;
    std::string body;
    bool is_error() const { return type == XS_ERROR; }
    // the error's name without its NUL, or "" for a success
    std::string error() const { return is_error() ? std::string(body.c_str()) : ""; }
};

std::unique_ptr<xsg_msg> new_msg()
{
    return std::make_unique<xsg_msg>();
}

Reply to_reply(const xsg_msg &m)
{
    Reply r;
    r.type = m.hdr.type;
    r.req_id = m.hdr.req_id;
    r.tx_id = m.hdr.tx_id;
    r.body.assign(m.body, m.hdr.len);
    return r;
}

Reply request(struct xsg *g, uint32_t type, const std::string &payload, uint32_t tx = 0)
{
    auto m = new_msg();
    if (xsg_request(g, type, tx, payload.data(), (uint32_t)payload.size(), m.get(), kWaitMs) < 0) {
        ADD_FAILURE() << "xsg_request(" << xs_type_name(type) << "): " << strerror(errno);
        return Reply{};
    }
    return to_reply(*m);
}

std::string z(const std::string &s)   // NUL-terminated, as the wire wants
{
    return s + std::string(1, '\0');
}

// READ as a guest: the value, or "<ENAME>".
std::string gread(struct xsg *g, const std::string &path, uint32_t tx = 0)
{
    Reply r = request(g, XS_READ, z(path), tx);
    return r.is_error() ? "<" + r.error() + ">" : r.body;
}

// WRITE as a guest: "" or the error name.
std::string gwrite(struct xsg *g, const std::string &path, const std::string &value,
                   uint32_t tx = 0)
{
    Reply r = request(g, XS_WRITE, z(path) + value, tx);
    if (!r.is_error()) {
        EXPECT_EQ(r.body, z("OK"));
    }
    return r.error();
}

std::set<std::string> split_nul(const std::string &body)
{
    std::set<std::string> out;
    size_t start = 0;
    while (start < body.size()) {
        size_t end = body.find('\0', start);
        if (end == std::string::npos)
            end = body.size();
        out.insert(body.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

// The next watch event of G as {path, token}, or {} after TIMEOUT_MS.
std::vector<std::string> gevent(struct xsg *g, int timeout_ms = kWaitMs)
{
    auto m = new_msg();
    int rc = xsg_next_event(g, m.get(), timeout_ms);
    if (rc != 1)
        return {};
    std::string path(m->body);
    std::string token(m->body + path.size() + 1);
    EXPECT_EQ(m->hdr.len, path.size() + token.size() + 2);
    EXPECT_EQ(m->hdr.req_id, 0u);
    EXPECT_EQ(m->hdr.tx_id, 0u);
    return { path, token };
}

// dom0's next watch event over libxenstore, or {} after TIMEOUT_MS.
std::vector<std::string> xs_event(struct xs_handle *xs, int timeout_ms = kWaitMs)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        char **v = xs_check_watch(xs);
        if (v) {
            std::vector<std::string> ev = { v[XS_WATCH_PATH], v[XS_WATCH_TOKEN] };
            free(v);
            return ev;
        }
        if (errno != EAGAIN)
            return {};
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0)
            return {};
        struct pollfd p = { xs_fileno(xs), POLLIN, 0 };
        poll(&p, 1, (int)left);
    }
}

// Domains 1 and 2, introduced, each with a ring connection; dom0 over the
// socket.
class Guests : public DaemonTest {
protected:
    void SetUp() override
    {
        DaemonTest::SetUp();
        ASSERT_FALSE(HasFatalFailure());
        ASSERT_TRUE(host().create_domain(1));
        ASSERT_TRUE(host().create_domain(2));
        struct xssim *sim = host().attach();
        ASSERT_NE(sim, nullptr);
        g1_ = xsg_open(sim, 1);
        ASSERT_NE(g1_, nullptr) << strerror(errno);
        g2_ = xsg_open(sim, 2);
        ASSERT_NE(g2_, nullptr) << strerror(errno);
        xs_ = host().xs_open();
        ASSERT_NE(xs_, nullptr);
    }
    void TearDown() override
    {
        xsg_close(g1_);
        xsg_close(g2_);
        if (xs_)
            xs_close(xs_);
        DaemonTest::TearDown();
    }
    std::string dom0_read(const std::string &path)
    {
        unsigned len = 0;
        char *v = static_cast<char *>(xs_read(xs_, XBT_NULL, path.c_str(), &len));
        if (!v)
            return std::string("<") + xs_errno_name(errno) + ">";
        std::string s(v, len);
        free(v);
        return s;
    }

    struct xsg *g1_ = nullptr, *g2_ = nullptr;
    struct xs_handle *xs_ = nullptr;
};

TEST_P(Guests, OwnNodesRelativeAndAbsolute)
{
    // what libxl wrote for the domain, readable by it
    EXPECT_EQ(gread(g1_, "domid"), "1");
    EXPECT_EQ(gread(g2_, "domid"), "2");
    EXPECT_EQ(gread(g1_, "/local/domain/1/name"), "guest1");

    EXPECT_EQ(gwrite(g1_, "data/x", "v1"), "");
    EXPECT_EQ(gread(g1_, "data/x"), "v1");
    EXPECT_EQ(gread(g1_, "/local/domain/1/data/x"), "v1");
    EXPECT_EQ(gwrite(g1_, "/local/domain/1/data/y", "v2"), "");
    EXPECT_EQ(gread(g1_, "data/y"), "v2");
    EXPECT_EQ(gwrite(g2_, "data/x", "other"), "");
    EXPECT_EQ(gread(g2_, "data/x"), "other");
    EXPECT_EQ(gread(g1_, "data/x"), "v1");

    // dom0 sees them where the relative paths resolved
    EXPECT_EQ(dom0_read("/local/domain/1/data/x"), "v1");
    EXPECT_EQ(dom0_read("/local/domain/1/data/y"), "v2");
    EXPECT_EQ(dom0_read("/local/domain/2/data/x"), "other");

    // directory, mkdir, rm on own nodes, relative
    EXPECT_EQ(request(g1_, XS_MKDIR, z("data/dir")).error(), "");
    EXPECT_EQ(split_nul(request(g1_, XS_DIRECTORY, z("data")).body),
              (std::set<std::string>{ "x", "y", "dir" }));
    EXPECT_EQ(request(g1_, XS_RM, z("data/y")).error(), "");
    EXPECT_EQ(gread(g1_, "data/y"), "<ENOENT>");
    EXPECT_EQ(dom0_read("/local/domain/1/data/y"), "<ENOENT>");

    // the node a guest made is its own
    Reply perms = request(g1_, XS_GET_PERMS, z("data/x"));
    EXPECT_EQ(perms.body, z("n1"));

    Reply path = request(g1_, XS_GET_DOMAIN_PATH, z("1"));
    EXPECT_EQ(path.body, z("/local/domain/1"));
}

TEST_P(Guests, OtherGuestsNodesAreEacces)
{
    ASSERT_EQ(gwrite(g1_, "data/secret", "s"), "");
    EXPECT_EQ(gread(g2_, "/local/domain/1/data/secret"), "<EACCES>");
    EXPECT_EQ(gwrite(g2_, "/local/domain/1/data/secret", "x"), "EACCES");
    EXPECT_EQ(gwrite(g2_, "/local/domain/1/data/new", "x"), "EACCES");
    EXPECT_EQ(request(g2_, XS_DIRECTORY, z("/local/domain/1/data")).error(), "EACCES");
    EXPECT_EQ(request(g2_, XS_RM, z("/local/domain/1/data/secret")).error(), "EACCES");
    EXPECT_EQ(request(g2_, XS_GET_PERMS, z("/local/domain/1/data/secret")).error(), "EACCES");
    EXPECT_EQ(gwrite(g1_, "/local/domain/2/data/x", "x"), "EACCES");
    // dom0's own nodes
    EXPECT_EQ(gwrite(g1_, "/tool/x", "x"), "EACCES");
    // read-only to the guest: libxl's nodes in its directory
    EXPECT_EQ(gwrite(g1_, "domid", "7"), "EACCES");
    // privileged operations
    EXPECT_EQ(request(g1_, XS_INTRODUCE, z("5") + z("1") + z("1")).error(), "EACCES");
    EXPECT_EQ(request(g1_, XS_RELEASE, z("2")).error(), "EACCES");
    // nothing changed
    EXPECT_EQ(gread(g1_, "data/secret"), "s");
    EXPECT_EQ(dom0_read("/local/domain/2/data/x"), "<ENOENT>");
    EXPECT_EQ(dom0_read("/local/domain/1/domid"), "1");
}

TEST_P(Guests, RelativeWatchFiresWithRelativePath)
{
    ASSERT_EQ(xsg_watch(g1_, "data/w", "tok"), 0);
    EXPECT_EQ(gevent(g1_), (std::vector<std::string>{ "data/w", "tok" }));
    ASSERT_EQ(gwrite(g1_, "data/w/a", "1"), "");
    EXPECT_EQ(gevent(g1_), (std::vector<std::string>{ "data/w/a", "tok" }));
    // a change by dom0 is reported relative too
    ASSERT_TRUE(xs_write(xs_, XBT_NULL, "/local/domain/1/data/w/b", "2", 1));
    EXPECT_EQ(gevent(g1_), (std::vector<std::string>{ "data/w/b", "tok" }));
    // an absolute watch gives absolute paths
    ASSERT_EQ(xsg_watch(g1_, "/local/domain/1/data/abs", "abs"), 0);
    EXPECT_EQ(gevent(g1_), (std::vector<std::string>{ "/local/domain/1/data/abs", "abs" }));
    ASSERT_EQ(gwrite(g1_, "data/abs", "3"), "");
    EXPECT_EQ(gevent(g1_), (std::vector<std::string>{ "/local/domain/1/data/abs", "abs" }));
    // the other guest's watch on its own data does not see this one's
    ASSERT_EQ(xsg_watch(g2_, "data", "g2"), 0);
    EXPECT_EQ(gevent(g2_), (std::vector<std::string>{ "data", "g2" }));
    ASSERT_EQ(gwrite(g1_, "data/w/c", "4"), "");
    EXPECT_EQ(gevent(g1_), (std::vector<std::string>{ "data/w/c", "tok" }));
    EXPECT_EQ(gevent(g2_, 200), std::vector<std::string>{});
    // after UNWATCH nothing more
    EXPECT_EQ(request(g1_, XS_UNWATCH, z("data/w") + z("tok")).error(), "");
    ASSERT_EQ(gwrite(g1_, "data/w/d", "5"), "");
    EXPECT_EQ(gevent(g1_, 200), std::vector<std::string>{});
}

TEST_P(Guests, TransactionCommits)
{
    uint32_t tx = 0;
    ASSERT_EQ(xsg_transaction_start(g1_, &tx), 0);
    EXPECT_NE(tx, 0u);
    EXPECT_EQ(gwrite(g1_, "data/t/a", "1", tx), "");
    EXPECT_EQ(gwrite(g1_, "data/t/b", "2", tx), "");
    EXPECT_EQ(gread(g1_, "data/t/a", tx), "1");
    // invisible outside the transaction until it commits
    EXPECT_EQ(gread(g1_, "data/t/a"), "<ENOENT>");
    EXPECT_EQ(dom0_read("/local/domain/1/data/t/a"), "<ENOENT>");
    ASSERT_EQ(xsg_transaction_end(g1_, tx, true), 0);
    EXPECT_EQ(gread(g1_, "data/t/a"), "1");
    EXPECT_EQ(dom0_read("/local/domain/1/data/t/b"), "2");

    // an aborted one leaves nothing
    ASSERT_EQ(xsg_transaction_start(g1_, &tx), 0);
    EXPECT_EQ(gwrite(g1_, "data/t/c", "3", tx), "");
    ASSERT_EQ(xsg_transaction_end(g1_, tx, false), 0);
    EXPECT_EQ(gread(g1_, "data/t/c"), "<ENOENT>");
    // an ended transaction is gone
    EXPECT_NE(gread(g1_, "data/t/a", tx), "1");
}

// `xssim guest` as a person (or the demo) uses it: each command a process of
// its own on the guest's ring, so a transaction and a watch outlive the
// command that made them, as a guest driver's would.
TEST_P(Guests, XssimGuestTransactionAndWatchSpanCommands)
{
    auto guest = [&](const std::vector<std::string> &args) {
        std::vector<std::string> a = { "guest", "1" };
        a.insert(a.end(), args.begin(), args.end());
        return host().xssim(a);
    };
    RunResult r = guest({ "watch-add", "data/w", "wtok" });
    ASSERT_TRUE(r.ok()) << r.err;
    r = guest({ "events" });
    EXPECT_EQ(r.out, "data/w wtok\n");   // the registration's event
    r = guest({ "start" });
    ASSERT_TRUE(r.ok()) << r.err;
    const std::string tx = r.out.substr(0, r.out.find('\n'));
    ASSERT_NE(std::stoul(tx), 0u);
    ASSERT_TRUE(guest({ "--tx", tx, "write", "data/w", "in-tx" }).ok());
    EXPECT_EQ(guest({ "--tx", tx, "read", "data/w" }).out, "in-tx\n");
    EXPECT_EQ(dom0_read("/local/domain/1/data/w"), "<ENOENT>");
    r = guest({ "commit", tx });
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_EQ(dom0_read("/local/domain/1/data/w"), "in-tx");
    // the watch registered by an earlier command still fires (the commit's
    // own event went to the commit's process, which read past it)
    ASSERT_TRUE(xs_write(xs_, XBT_NULL, "/local/domain/1/data/w", "dom0", 4));
    EXPECT_EQ(guest({ "events", "1" }).out, "data/w wtok\n");
    // an ended transaction cannot end again; a bad id is refused up front
    r = guest({ "commit", tx });
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("couldn't commit transaction " + tx), std::string::npos) << r.err;
    EXPECT_EQ(guest({ "--tx", "x1", "read", "data/w" }).exit_code, 2);
    EXPECT_EQ(guest({ "abort", "-" }).exit_code, 2);
    // no events waiting: nothing printed, after a second
    EXPECT_EQ(guest({ "events" }).out, "");
}

TEST_P(Guests, ConflictingTransactionsGiveExactlyOneEagain)
{
    // a node both guests may write
    ASSERT_TRUE(xs_write(xs_, XBT_NULL, "/shared/c", "0", 1));
    struct xs_permissions perms[3] = {
        { 0, XS_PERM_NONE }, { 1, XS_PERM_READ | XS_PERM_WRITE }, { 2, XS_PERM_READ | XS_PERM_WRITE }
    };
    ASSERT_TRUE(xs_set_permissions(xs_, XBT_NULL, "/shared/c", perms, 3));

    uint32_t t1 = 0, t2 = 0;
    ASSERT_EQ(xsg_transaction_start(g1_, &t1), 0);
    ASSERT_EQ(xsg_transaction_start(g2_, &t2), 0);
    EXPECT_EQ(gread(g1_, "/shared/c", t1), "0");
    EXPECT_EQ(gread(g2_, "/shared/c", t2), "0");
    EXPECT_EQ(gwrite(g1_, "/shared/c", "1", t1), "");
    EXPECT_EQ(gwrite(g2_, "/shared/c", "2", t2), "");
    int r1 = xsg_transaction_end(g1_, t1, true);
    int r2 = xsg_transaction_end(g2_, t2, true);
    std::multiset<int> results = { r1, r2 };
    EXPECT_EQ(results, (std::multiset<int>{ 0, EAGAIN }));
    std::string winner = r1 == 0 ? "1" : "2";
    EXPECT_EQ(dom0_read("/shared/c"), winner);
    EXPECT_EQ(gread(g1_, "/shared/c"), winner);
}

TEST_P(Guests, DestroyFiresReleaseDomain)
{
    ASSERT_TRUE(xs_watch(xs_, "@releaseDomain", "rel"));
    EXPECT_EQ(xs_event(xs_), (std::vector<std::string>{ "@releaseDomain", "rel" }));
    EXPECT_TRUE(xs_is_domain_introduced(xs_, 2));
    // no domain died yet: nothing more
    EXPECT_EQ(xs_event(xs_, 200), std::vector<std::string>{});

    xsg_close(g2_);
    g2_ = nullptr;
    ASSERT_TRUE(host().destroy_domain(2));
    EXPECT_EQ(xs_event(xs_), (std::vector<std::string>{ "@releaseDomain", "rel" }));
    EXPECT_FALSE(xs_is_domain_introduced(xs_, 2));
    EXPECT_TRUE(xs_is_domain_introduced(xs_, 1));
    EXPECT_EQ(dom0_read("/local/domain/2/domid"), "<ENOENT>");
    // the survivor carries on
    EXPECT_EQ(gwrite(g1_, "data/after", "1"), "");
    EXPECT_EQ(gread(g1_, "data/after"), "1");
}

// The largest value each daemon lets a guest write, found by bisection; the
// reply reading it back (> 1024 bytes) streams through the ring.
TEST_P(Guests, LargestAcceptedValueRoundTrips)
{
    const std::string path = "data/big";
    size_t lo = 0, hi = XENSTORE_PAYLOAD_MAX - (path.size() + 1);   // lo accepted
    std::string hi_error = gwrite(g1_, path, std::string(hi, 'v'));
    if (hi_error.empty())
        lo = hi;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        std::string err = gwrite(g1_, path, std::string(mid, 'v'));
        if (err.empty()) {
            lo = mid;
        } else {
            hi = mid;
            hi_error = err;
        }
    }
    RecordProperty("largest_guest_value", std::to_string(lo));
    std::printf("%s: largest value a guest may write at %s: %zu bytes (%zu+1 gives %s)\n",
                host().daemon_name(), path.c_str(), lo, lo, hi_error.c_str());
    ASSERT_GT(lo, (size_t)XENSTORE_RING_SIZE) << "too small to test streaming";
    // pattern the value so that misplaced bytes show
    std::string value;
    for (size_t i = 0; i < lo; i++)
        value += (char)('a' + i % 23);
    ASSERT_EQ(gwrite(g1_, path, value), "");
    EXPECT_EQ(gread(g1_, path), value);
    EXPECT_EQ(dom0_read("/local/domain/1/" + path), value);
    if (lo < XENSTORE_PAYLOAD_MAX - (path.size() + 1)) {
        // one byte more is refused, and the connection stays in step
        EXPECT_NE(gwrite(g1_, path, value + "x"), "");
        EXPECT_EQ(gread(g1_, path), value);
    }
}

// A request with the largest payload the protocol allows (4096 bytes) as
// dom0 over dom0's ring: the reply must be what the same request gets over
// the socket, and the request must have streamed through the ring.
TEST_P(Guests, MaxPayloadWriteOverRingMatchesSocket)
{
    struct xsg *d0 = xsg_open(host().attach(), 0);
    ASSERT_NE(d0, nullptr) << strerror(errno);
    const std::string ring_path = "/big/ring", sock_path = "/big/sock";
    std::string value;
    for (size_t i = 0; i < XENSTORE_PAYLOAD_MAX - (ring_path.size() + 1); i++)
        value += (char)('A' + i % 26);
    ASSERT_EQ(ring_path.size() + 1 + value.size(), (size_t)XENSTORE_PAYLOAD_MAX);

    struct xenstore_domain_interface *ring = xsg_ring(d0);
    uint32_t cons_before = ring->req_cons;
    Reply over_ring = request(d0, XS_WRITE, z(ring_path) + value);
    EXPECT_EQ(ring->req_cons - cons_before, sizeof(xsd_sockmsg) + XENSTORE_PAYLOAD_MAX);

    bool ok = xs_write(xs_, XBT_NULL, sock_path.c_str(), value.data(), (unsigned)value.size());
    std::string over_socket = ok ? "" : xs_errno_name(errno);
    std::printf("%s: WRITE of a %u-byte payload by dom0: %s\n", host().daemon_name(),
                XENSTORE_PAYLOAD_MAX, ok ? "OK" : over_socket.c_str());
    EXPECT_EQ(over_ring.error(), over_socket);
    if (ok) {
        EXPECT_EQ(over_ring.body, z("OK"));
        // and the value comes back through the ring, also > 1024 bytes
        EXPECT_EQ(gread(d0, ring_path), value);
        EXPECT_EQ(dom0_read(ring_path), value);
    } else {
        EXPECT_EQ(gread(d0, ring_path), "<ENOENT>");
    }
    // the ring connection is still in step
    EXPECT_EQ(gwrite(d0, "/big/small", "s"), "");
    EXPECT_EQ(gread(d0, "/big/small"), "s");
    xsg_close(d0);
}

// A guest's WATCH whose payload is 4096 bytes (a long token): the request
// streams to the daemon and the watch event (also 4096 bytes) streams back.
TEST_P(Guests, MaxPayloadWatchStreamsBothWays)
{
    const std::string path = "data/ww";
    std::string token;
    for (size_t i = 0; i < XENSTORE_PAYLOAD_MAX - (path.size() + 1) - 1; i++)
        token += (char)('a' + i % 26);
    std::string payload = z(path) + z(token);
    ASSERT_EQ(payload.size(), (size_t)XENSTORE_PAYLOAD_MAX);
    struct xenstore_domain_interface *ring = xsg_ring(g1_);
    uint32_t cons_before = ring->req_cons, rsp_before = ring->rsp_prod;
    Reply r = request(g1_, XS_WATCH, payload);
    ASSERT_FALSE(r.is_error()) << r.error();
    EXPECT_EQ(r.body, z("OK"));
    EXPECT_EQ(ring->req_cons - cons_before, sizeof(xsd_sockmsg) + XENSTORE_PAYLOAD_MAX);

    // the event on registration: path and token, 4096 bytes
    std::vector<std::string> ev = gevent(g1_);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0], path);
    EXPECT_TRUE(ev[1] == token) << "token of " << ev[1].size() << " bytes differs";
    EXPECT_GE(ring->rsp_prod - rsp_before, 2 * sizeof(xsd_sockmsg) + XENSTORE_PAYLOAD_MAX + 3);

    // an event for a child would exceed 4096 bytes: neither daemon sends it
    ASSERT_EQ(gwrite(g1_, "data/ww/x", "1"), "");
    EXPECT_EQ(gevent(g1_, 300).size(), 0u);
    // the watched node itself fits again
    ASSERT_EQ(gwrite(g1_, "data/ww", "2"), "");
    ev = gevent(g1_);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0], path);
    EXPECT_TRUE(ev[1] == token) << "token of " << ev[1].size() << " bytes differs";
}

// A DIRECTORY reply larger than the ring streams back whole.
TEST_P(Guests, LargeDirectoryStreamsBack)
{
    std::set<std::string> names;
    for (int i = 0; i < 50; i++) {   // 1700 bytes of names: C xenstored's
        // node size quota (2048 for a guest) counts a node's child names
        char name[64];
        snprintf(name, sizeof(name), "child-with-a-fairly-long-name-%03d", i);
        names.insert(name);
        ASSERT_EQ(gwrite(g1_, std::string("data/dir/") + name, "x"), "") << name;
    }
    Reply r = request(g1_, XS_DIRECTORY, z("data/dir"));
    ASSERT_FALSE(r.is_error()) << r.error();
    EXPECT_GT(r.body.size(), (size_t)XENSTORE_RING_SIZE);
    EXPECT_EQ(split_nul(r.body), names);
    // and dom0 over the socket agrees
    unsigned n = 0;
    char **d = xs_directory(xs_, XBT_NULL, "/local/domain/1/data/dir", &n);
    ASSERT_NE(d, nullptr);
    std::set<std::string> dom0_names(d, d + n);
    free(d);
    EXPECT_EQ(dom0_names, names);
}

INSTANTIATE_TEST_SUITE_P(Daemons, Guests, both_daemons(), DaemonName());

}  // namespace
}  // namespace xstest
