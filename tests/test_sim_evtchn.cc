// test_sim_evtchn.cc - the sim's hypervisor semantics, without a daemon:
// the domain table (create/destroy/shutdown/list/info and their errnos) and
// interdomain event channels (bind, notify, pending, unbind, VIRQ_DOM_EXC),
// including that notifies coalesce but are never lost and that two sims side
// by side are isolated.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <xen/sched.h>
#include <xen/xen.h>

#include "sim_host.h"
#include "sim_test_hooks.h"

namespace xstest {
namespace {

constexpr int kWaitMs = 5000;

// A sim in a temp dir, with no daemon.
class SimTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        ASSERT_FALSE(tmp_.path().empty());
        sim_ = xssim_create(tmp_.sub("sim").c_str());
        ASSERT_NE(sim_, nullptr) << strerror(errno);
    }
    void TearDown() override
    {
        for (auto *h : handles_)
            xssim_evtchn_close(h);
        xssim_detach(sim_);
    }
    // A handle acting for DOMID, with a non-blocking fd; closed in TearDown.
    struct xssim_evtchn *open(uint32_t domid, struct xssim *sim = nullptr)
    {
        struct xssim_evtchn *h = xssim_evtchn_open(sim ? sim : sim_, domid);
        EXPECT_NE(h, nullptr) << strerror(errno);
        if (h) {
            int fd = xssim_evtchn_fd(h);
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            handles_.push_back(h);
        }
        return h;
    }
    void close(struct xssim_evtchn *h)
    {
        for (auto it = handles_.begin(); it != handles_.end(); ++it)
            if (*it == h) {
                handles_.erase(it);
                break;
            }
        xssim_evtchn_close(h);
    }

    TempDir tmp_{ "xssim-evtchn" };
    struct xssim *sim_ = nullptr;
    std::vector<struct xssim_evtchn *> handles_;
};

// The next pending port of H, waiting up to TIMEOUT_MS; -1 if none came.
int wait_pending(struct xssim_evtchn *h, int timeout_ms = kWaitMs)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        int port = xssim_evtchn_pending(h);
        if (port >= 0)
            return port;
        if (errno != EAGAIN)
            return -1;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0)
            return -1;
        struct pollfd p = { xssim_evtchn_fd(h), POLLIN, 0 };
        poll(&p, 1, (int)left);
    }
}

// True when H has nothing pending now (EAGAIN from its non-blocking fd).
bool nothing_pending(struct xssim_evtchn *h)
{
    int port = xssim_evtchn_pending(h);
    return port < 0 && errno == EAGAIN;
}

// Bind an interdomain pair: an unbound port in A's domain for B's domain,
// bound by B.  Returns {port in A, port in B}.
std::pair<int, int> bind_pair(struct xssim_evtchn *a, uint32_t dom_a, struct xssim_evtchn *b,
                              uint32_t dom_b)
{
    int pa = xssim_evtchn_bind_unbound(a, dom_b);
    EXPECT_GT(pa, 0) << strerror(errno);
    int pb = xssim_evtchn_bind_interdomain(b, dom_a, (uint32_t)pa);
    EXPECT_GT(pb, 0) << strerror(errno);
    return { pa, pb };
}

// ---- domains --------------------------------------------------------------

TEST_F(SimTest, Dom0ExistsAndIsPrivileged)
{
    struct xssim_dominfo di;
    ASSERT_EQ(xssim_domain_info(sim_, 0, &di), 0);
    EXPECT_EQ(di.domid, 0u);
    EXPECT_TRUE(di.privileged);
    EXPECT_EQ(di.state, XSSIM_RUNNING);
    EXPECT_GT(di.store_port, 0u);
    // what /proc/xen/xsd_port holds for the daemons: no newline
    EXPECT_EQ(read_text(tmp_.sub("sim/fs/proc/xen/xsd_port")), std::to_string(di.store_port));
}

TEST_F(SimTest, DomainCreateInfoDestroy)
{
    ASSERT_EQ(xssim_domain_create(sim_, 5), 0) << strerror(errno);
    struct xssim_dominfo di;
    ASSERT_EQ(xssim_domain_info(sim_, 5, &di), 0);
    EXPECT_EQ(di.domid, 5u);
    EXPECT_FALSE(di.privileged);
    EXPECT_EQ(di.state, XSSIM_RUNNING);
    EXPECT_GT(di.store_port, 0u);
    struct xssim_dominfo d0;
    ASSERT_EQ(xssim_domain_info(sim_, 0, &d0), 0);
    EXPECT_NE(di.ring_gfn, d0.ring_gfn);

    // the ring page exists and is shared: what one mapping writes, another sees
    void *a = xssim_map_ring(sim_, 5), *b = xssim_map_ring(sim_, 5);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(static_cast<unsigned char *>(a)[100], 0);
    static_cast<unsigned char *>(a)[100] = 0x5a;
    EXPECT_EQ(static_cast<unsigned char *>(b)[100], 0x5a);
    xssim_unmap_ring(a);
    xssim_unmap_ring(b);

    ASSERT_EQ(xssim_domain_destroy(sim_, 5), 0) << strerror(errno);
    errno = 0;
    EXPECT_EQ(xssim_domain_info(sim_, 5, &di), -1);
    EXPECT_EQ(errno, ESRCH);
    errno = 0;
    EXPECT_EQ(xssim_map_ring(sim_, 5), nullptr);
    EXPECT_EQ(errno, ESRCH);

    // the id can be used again, with a fresh page
    ASSERT_EQ(xssim_domain_create(sim_, 5), 0) << strerror(errno);
    a = xssim_map_ring(sim_, 5);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(static_cast<unsigned char *>(a)[100], 0);
    xssim_unmap_ring(a);
}

TEST_F(SimTest, DomainErrnos)
{
    ASSERT_EQ(xssim_domain_create(sim_, 7), 0);
    errno = 0;
    EXPECT_EQ(xssim_domain_create(sim_, 7), -1);
    EXPECT_EQ(errno, EEXIST);
    errno = 0;
    EXPECT_EQ(xssim_domain_create(sim_, 0), -1);
    EXPECT_EQ(errno, EEXIST);
    errno = 0;
    EXPECT_EQ(xssim_domain_create(sim_, XSSIM_MAX_DOMID + 1), -1);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(xssim_domain_create(sim_, XSSIM_MAX_DOMID), 0) << strerror(errno);

    errno = 0;
    EXPECT_EQ(xssim_domain_destroy(sim_, 8), -1);
    EXPECT_EQ(errno, ESRCH);
    errno = 0;
    EXPECT_EQ(xssim_domain_destroy(sim_, XSSIM_MAX_DOMID + 1), -1);
    EXPECT_EQ(errno, ESRCH);
    errno = 0;
    EXPECT_EQ(xssim_domain_destroy(sim_, 0), -1);   // dom0 never dies
    EXPECT_EQ(errno, EPERM);
    errno = 0;
    EXPECT_EQ(xssim_domain_shutdown(sim_, 8, 0), -1);
    EXPECT_EQ(errno, ESRCH);
    struct xssim_dominfo di;
    errno = 0;
    EXPECT_EQ(xssim_domain_info(sim_, 8, &di), -1);
    EXPECT_EQ(errno, ESRCH);

    ASSERT_EQ(xssim_domain_destroy(sim_, 7), 0);
    errno = 0;
    EXPECT_EQ(xssim_domain_destroy(sim_, 7), -1);
    EXPECT_EQ(errno, ESRCH);
}

TEST_F(SimTest, DomainListIsAscendingAndPaged)
{
    for (uint32_t id : { 9u, 3u, 12u, 4u })
        ASSERT_EQ(xssim_domain_create(sim_, id), 0);
    struct xssim_dominfo di[16];
    int n = xssim_domain_list(sim_, 0, 16, di);
    ASSERT_EQ(n, 5);
    std::vector<uint32_t> ids;
    for (int i = 0; i < n; i++)
        ids.push_back(di[i].domid);
    EXPECT_EQ(ids, (std::vector<uint32_t>{ 0, 3, 4, 9, 12 }));

    n = xssim_domain_list(sim_, 4, 2, di);
    ASSERT_EQ(n, 2);
    EXPECT_EQ(di[0].domid, 4u);
    EXPECT_EQ(di[1].domid, 9u);
    EXPECT_EQ(xssim_domain_list(sim_, 13, 16, di), 0);

    ASSERT_EQ(xssim_domain_destroy(sim_, 4), 0);
    n = xssim_domain_list(sim_, 1, 16, di);
    ASSERT_EQ(n, 3);
    EXPECT_EQ(di[0].domid, 3u);
    EXPECT_EQ(di[1].domid, 9u);
    EXPECT_EQ(di[2].domid, 12u);
}

TEST_F(SimTest, ShutdownSetsStateAndReason)
{
    ASSERT_EQ(xssim_domain_create(sim_, 2), 0);
    struct xssim_evtchn *h0 = open(0);
    ASSERT_NE(h0, nullptr);
    int virq = xssim_evtchn_bind_virq(h0, VIRQ_DOM_EXC);
    ASSERT_GT(virq, 0);
    ASSERT_EQ(xssim_domain_shutdown(sim_, 2, SHUTDOWN_reboot), 0);
    struct xssim_dominfo di;
    ASSERT_EQ(xssim_domain_info(sim_, 2, &di), 0);
    EXPECT_EQ(di.state, XSSIM_SHUTDOWN);
    EXPECT_EQ(di.shutdown_reason, (uint32_t)SHUTDOWN_reboot);
    EXPECT_EQ(wait_pending(h0), virq);
}

// ---- event channels ---------------------------------------------------------

TEST_F(SimTest, InterdomainNotifyBothWays)
{
    ASSERT_EQ(xssim_domain_create(sim_, 5), 0);
    struct xssim_evtchn *h5 = open(5), *h0 = open(0);
    ASSERT_TRUE(h5 && h0);
    int p5 = xssim_evtchn_bind_unbound(h5, 0);
    ASSERT_GT(p5, 0) << strerror(errno);
    EXPECT_TRUE(nothing_pending(h5));
    int p0 = xssim_evtchn_bind_interdomain(h0, 5, (uint32_t)p5);
    ASSERT_GT(p0, 0) << strerror(errno);
    // as Xen does, the new local port starts pending (the remote may have
    // notified before the bind)
    EXPECT_EQ(wait_pending(h0), p0);
    EXPECT_TRUE(nothing_pending(h0));
    EXPECT_TRUE(nothing_pending(h5));

    ASSERT_EQ(xssim_evtchn_notify(h0, (uint32_t)p0), 0) << strerror(errno);
    EXPECT_EQ(wait_pending(h5), p5);
    EXPECT_EQ(xssim_evtchn_unmask(h5, (uint32_t)p5), 0);
    EXPECT_TRUE(nothing_pending(h0));   // a notify does not echo
    ASSERT_EQ(xssim_evtchn_notify(h5, (uint32_t)p5), 0) << strerror(errno);
    EXPECT_EQ(wait_pending(h0), p0);
    EXPECT_TRUE(nothing_pending(h5));

    // a blocking fd waits for the event
    int fd = xssim_evtchn_fd(h5);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    std::thread t([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        xssim_evtchn_notify(h0, (uint32_t)p0);
    });
    EXPECT_EQ(xssim_evtchn_pending(h5), p5);
    t.join();
}

TEST_F(SimTest, StorePortIsUnboundForDom0AndAdoptable)
{
    ASSERT_EQ(xssim_domain_create(sim_, 6), 0);
    struct xssim_dominfo di;
    ASSERT_EQ(xssim_domain_info(sim_, 6, &di), 0);
    struct xssim_evtchn *h0 = open(0), *h6 = open(6);
    ASSERT_TRUE(h0 && h6);
    // dom0 notifies before the guest side has an owner: the event waits
    int p0 = xssim_evtchn_bind_interdomain(h0, 6, di.store_port);
    ASSERT_GT(p0, 0) << strerror(errno);
    ASSERT_EQ(xssim_evtchn_notify(h0, (uint32_t)p0), 0);
    ASSERT_EQ(xssim_evtchn_adopt(h6, di.store_port), (int)di.store_port) << strerror(errno);
    EXPECT_EQ(wait_pending(h6), (int)di.store_port);
    ASSERT_EQ(xssim_evtchn_notify(h6, di.store_port), 0);
    EXPECT_EQ(wait_pending(h0), p0);
    // a free port cannot be adopted
    errno = 0;
    EXPECT_EQ(xssim_evtchn_adopt(h6, di.store_port + 1), -1);
    EXPECT_EQ(errno, EINVAL);
}

TEST_F(SimTest, BindErrors)
{
    ASSERT_EQ(xssim_domain_create(sim_, 5), 0);
    ASSERT_EQ(xssim_domain_create(sim_, 7), 0);
    struct xssim_evtchn *h0 = open(0), *h5 = open(5), *h7 = open(7);
    ASSERT_TRUE(h0 && h5 && h7);

    // unknown domains: ESRCH
    errno = 0;
    EXPECT_EQ(xssim_evtchn_bind_unbound(h5, 99), -1);
    EXPECT_EQ(errno, ESRCH);
    errno = 0;
    EXPECT_EQ(xssim_evtchn_bind_interdomain(h0, 99, 1), -1);
    EXPECT_EQ(errno, ESRCH);
    errno = 0;
    EXPECT_EQ(xssim_evtchn_alloc_unbound(sim_, 99, 0), -1);
    EXPECT_EQ(errno, ESRCH);

    // a free port: EINVAL
    errno = 0;
    EXPECT_EQ(xssim_evtchn_bind_interdomain(h0, 5, 40), -1);
    EXPECT_EQ(errno, EINVAL);
    // port out of the domain's range: EINVAL
    errno = 0;
    EXPECT_EQ(xssim_evtchn_bind_interdomain(h0, 5, 1u << 20), -1);
    EXPECT_EQ(errno, EINVAL);

    // an unbound port meant for another domain: EINVAL
    int for7 = xssim_evtchn_bind_unbound(h5, 7);
    ASSERT_GT(for7, 0);
    errno = 0;
    EXPECT_EQ(xssim_evtchn_bind_interdomain(h0, 5, (uint32_t)for7), -1);
    EXPECT_EQ(errno, EINVAL);
    int p7 = xssim_evtchn_bind_interdomain(h7, 5, (uint32_t)for7);
    EXPECT_GT(p7, 0) << strerror(errno);

    // an already bound port: EINVAL, for anyone
    errno = 0;
    EXPECT_EQ(xssim_evtchn_bind_interdomain(h7, 5, (uint32_t)for7), -1);
    EXPECT_EQ(errno, EINVAL);
    errno = 0;
    EXPECT_EQ(xssim_evtchn_bind_interdomain(h0, 5, (uint32_t)for7), -1);
    EXPECT_EQ(errno, EINVAL);

    // bad VIRQ number
    errno = 0;
    EXPECT_EQ(xssim_evtchn_bind_virq(h0, NR_VIRQS), -1);
    EXPECT_EQ(errno, EINVAL);
}

TEST_F(SimTest, PortOwnershipErrors)
{
    ASSERT_EQ(xssim_domain_create(sim_, 5), 0);
    struct xssim_evtchn *h0 = open(0), *other0 = open(0), *h5 = open(5);
    ASSERT_TRUE(h0 && other0 && h5);
    auto [p5, p0] = bind_pair(h5, 5, h0, 0);
    ASSERT_GT(p0, 0);

    // another handle of the same domain does not own the port: ENOTCONN
    errno = 0;
    EXPECT_EQ(xssim_evtchn_notify(other0, (uint32_t)p0), -1);
    EXPECT_EQ(errno, ENOTCONN);
    errno = 0;
    EXPECT_EQ(xssim_evtchn_unbind(other0, (uint32_t)p0), -1);
    EXPECT_EQ(errno, ENOTCONN);
    // unmask of a port another handle owns: Linux's evtchn driver ignores
    // it; whatever it returns, it must not move the port to this handle
    xssim_evtchn_unmask(other0, (uint32_t)p0);
    // a free port in range: ENOTCONN
    errno = 0;
    EXPECT_EQ(xssim_evtchn_notify(h5, (uint32_t)p5 + 10), -1);
    EXPECT_EQ(errno, ENOTCONN);
    // out of range: EINVAL
    for (uint32_t bad : { 0u, 1u << 20, 0xffffffffu }) {
        errno = 0;
        EXPECT_EQ(xssim_evtchn_notify(h0, bad), -1) << bad;
        EXPECT_EQ(errno, EINVAL) << bad;
        errno = 0;
        EXPECT_EQ(xssim_evtchn_unbind(h0, bad), -1) << bad;
        EXPECT_EQ(errno, EINVAL) << bad;
        errno = 0;
        EXPECT_EQ(xssim_evtchn_unmask(h0, bad), -1) << bad;
        EXPECT_EQ(errno, EINVAL) << bad;
    }
    // the owner still owns it: it notifies, and its peer's events reach it
    EXPECT_EQ(wait_pending(h0), p0);   // the bind's initial event
    EXPECT_EQ(xssim_evtchn_notify(h0, (uint32_t)p0), 0);
    EXPECT_EQ(wait_pending(h5), p5);
    EXPECT_EQ(xssim_evtchn_notify(h5, (uint32_t)p5), 0);
    EXPECT_EQ(wait_pending(h0), p0);
    EXPECT_TRUE(nothing_pending(other0));
}

TEST_F(SimTest, UnbindLeavesPeerUnboundAndRebindable)
{
    ASSERT_EQ(xssim_domain_create(sim_, 5), 0);
    struct xssim_evtchn *h0 = open(0), *h5 = open(5);
    ASSERT_TRUE(h0 && h5);
    auto [p5, p0] = bind_pair(h5, 5, h0, 0);
    ASSERT_GT(p0, 0);
    EXPECT_EQ(wait_pending(h0), p0);

    ASSERT_EQ(xssim_evtchn_unbind(h0, (uint32_t)p0), 0) << strerror(errno);
    // the unbound port is gone from h0
    errno = 0;
    EXPECT_EQ(xssim_evtchn_notify(h0, (uint32_t)p0), -1);
    EXPECT_EQ(errno, ENOTCONN);
    // the peer is unbound again: notifying it goes nowhere, without error
    EXPECT_EQ(xssim_evtchn_notify(h5, (uint32_t)p5), 0);
    EXPECT_TRUE(nothing_pending(h0));
    // and dom0 can bind it again
    int again = xssim_evtchn_bind_interdomain(h0, 5, (uint32_t)p5);
    ASSERT_GT(again, 0) << strerror(errno);
    EXPECT_EQ(wait_pending(h0), again);
    ASSERT_EQ(xssim_evtchn_notify(h0, (uint32_t)again), 0);
    EXPECT_EQ(wait_pending(h5), p5);
    ASSERT_EQ(xssim_evtchn_notify(h5, (uint32_t)p5), 0);
    EXPECT_EQ(wait_pending(h0), again);

    // closing a handle closes its ports: the peer becomes unbound again
    close(h0);
    struct xssim_evtchn *h0b = open(0);
    ASSERT_NE(h0b, nullptr);
    int third = xssim_evtchn_bind_interdomain(h0b, 5, (uint32_t)p5);
    EXPECT_GT(third, 0) << strerror(errno);
}

// A raise is two steps in the sim (the pending flag, then a datagram to the
// owner), one in Xen.  A process killed between them (kill -9 of xsproxy
// while it notifies xenstored) left the peer's flag set with its owner never
// told, and every later notify coalesced into that flag: xenstored never
// looked at that ring again.  When the dead process's port is closed (a new
// process binds to the peer), the owner is told.
TEST_F(SimTest, ARaiseCutShortByADeadNotifierIsDeliveredWhenItsPortCloses)
{
    struct xssim_evtchn *xsd = open(0);
    ASSERT_TRUE(xsd);
    int p = xssim_evtchn_bind_unbound(xsd, 0);   // xenstored's end
    ASSERT_GT(p, 0) << strerror(errno);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // the notifier: binds to P, sets P's flag as a raise does first,
        // and dies before telling P's owner
        struct xssim_evtchn *h = xssim_evtchn_open(sim_, 0);
        if (!h || xssim_evtchn_bind_interdomain(h, 0, (uint32_t)p) < 0)
            _exit(1);
        _exit(sim_test_set_pending(sim_, 0, (uint32_t)p) == 0 ? 0 : 2);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    EXPECT_TRUE(nothing_pending(xsd)) << "the owner was told before the close";
    // a new notifier binds to P (the dead one's port is closed) and notifies
    struct xssim_evtchn *again = open(0);
    ASSERT_TRUE(again);
    int q = xssim_evtchn_bind_interdomain(again, 0, (uint32_t)p);
    ASSERT_GT(q, 0) << strerror(errno);
    ASSERT_EQ(xssim_evtchn_notify(again, (uint32_t)q), 0);
    EXPECT_EQ(wait_pending(xsd), p) << "P's event is lost";
}

TEST_F(SimTest, DestroyRaisesVirqDomExcAndUnbindsPeers)
{
    ASSERT_EQ(xssim_domain_create(sim_, 5), 0);
    struct xssim_evtchn *h0 = open(0), *h5 = open(5);
    ASSERT_TRUE(h0 && h5);
    int virq = xssim_evtchn_bind_virq(h0, VIRQ_DOM_EXC);
    ASSERT_GT(virq, 0);
    auto [p5, p0] = bind_pair(h5, 5, h0, 0);
    ASSERT_GT(p0, 0);
    EXPECT_EQ(wait_pending(h0), p0);
    EXPECT_TRUE(nothing_pending(h0));

    ASSERT_EQ(xssim_domain_destroy(sim_, 5), 0);
    EXPECT_EQ(wait_pending(h0), virq);
    EXPECT_TRUE(nothing_pending(h0));
    // dom0's end is still h0's, now unbound: notify goes nowhere
    EXPECT_EQ(xssim_evtchn_notify(h0, (uint32_t)p0), 0);
    EXPECT_TRUE(nothing_pending(h0));
    // and nothing reaches a new domain of the same id
    ASSERT_EQ(xssim_domain_create(sim_, 5), 0);
    struct xssim_evtchn *n5 = open(5);
    ASSERT_NE(n5, nullptr);
    EXPECT_EQ(xssim_evtchn_notify(h0, (uint32_t)p0), 0);
    EXPECT_TRUE(nothing_pending(n5));
}

TEST_F(SimTest, NotifiesCoalesce)
{
    ASSERT_EQ(xssim_domain_create(sim_, 5), 0);
    struct xssim_evtchn *h0 = open(0), *h5 = open(5);
    ASSERT_TRUE(h0 && h5);
    auto [p5, p0] = bind_pair(h5, 5, h0, 0);
    ASSERT_GT(p0, 0);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(xssim_evtchn_notify(h0, (uint32_t)p0), 0);
    EXPECT_EQ(wait_pending(h5), p5);
    EXPECT_TRUE(nothing_pending(h5));
    // after pending() the port is re-armed: the next notify is seen
    ASSERT_EQ(xssim_evtchn_notify(h0, (uint32_t)p0), 0);
    EXPECT_EQ(wait_pending(h5), p5);
    EXPECT_TRUE(nothing_pending(h5));
}

// A notifier thread hammers one port; the receiver must always see a
// pending event after the last notify (nothing is lost), and never more
// events than notifies.
TEST_F(SimTest, NotifiesFromAThreadAreNeverLost)
{
    constexpr int kNotifies = 10000;
    ASSERT_EQ(xssim_domain_create(sim_, 5), 0);
    struct xssim_evtchn *h0 = open(0), *h5 = open(5);
    ASSERT_TRUE(h0 && h5);
    auto [p5, p0] = bind_pair(h5, 5, h0, 0);
    ASSERT_GT(p0, 0);
    std::atomic<int> sent{ 0 };
    std::atomic<int> errors{ 0 };
    std::thread sender([&, port0 = p0] {   // C++17 lambdas cannot capture a binding
        for (int i = 1; i <= kNotifies; i++) {
            sent.store(i);
            if (xssim_evtchn_notify(h0, (uint32_t)port0) != 0)
                errors++;
        }
    });
    int events = 0, seen = 0;
    while (seen < kNotifies) {
        int port = wait_pending(h5);
        if (port < 0)
            break;   // an event was lost: nothing more will come
        EXPECT_EQ(port, p5);
        events++;
        seen = sent.load();
    }
    sender.join();
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(seen, kNotifies) << "the receiver stopped seeing events after notify " << seen;
    EXPECT_GE(events, 1);
    EXPECT_LE(events, kNotifies);
}

// Many ports raised at once overflow the owner's wake-up queue; every one of
// them must still be reported pending.
TEST_F(SimTest, ManyPortsAtOnceAreAllDelivered)
{
    constexpr int kPorts = 1000;
    struct xssim_evtchn *rx = open(0), *tx = open(0);
    ASSERT_TRUE(rx && tx);
    std::vector<int> rx_ports, tx_ports;
    for (int i = 0; i < kPorts; i++) {
        auto [pr, pt] = bind_pair(rx, 0, tx, 0);   // dom0 to itself
        ASSERT_GT(pt, 0);
        rx_ports.push_back(pr);
        tx_ports.push_back(pt);
    }
    while (wait_pending(tx, 50) >= 0)   // the binds' initial events
        ;
    for (int round = 0; round < 3; round++) {
        for (int p : tx_ports)
            ASSERT_EQ(xssim_evtchn_notify(tx, (uint32_t)p), 0);
        std::set<int> got;
        while (got.size() < rx_ports.size()) {
            int port = wait_pending(rx);
            if (port < 0)
                break;
            got.insert(port);
        }
        EXPECT_EQ(got, std::set<int>(rx_ports.begin(), rx_ports.end())) << "round " << round;
        while (wait_pending(rx, 20) >= 0)   // duplicates after a rescan are harmless
            ;
    }
}

// Busy ports that overflow the owner's wake-up queue are all served in
// turn: the receiver takes one event at a time and raises that port again at
// once (a domain with the next request ready), so every wake-up after the
// first burst goes through the overflow rescan.  Each port must come round
// once per pass over all of them, not some ports again and again while
// others wait.
TEST_F(SimTest, OverflowRescanServesBusyPortsInTurn)
{
    constexpr int kPorts = 200, kRounds = 5;
    struct xssim_evtchn *rx = open(0), *tx = open(0);
    ASSERT_TRUE(rx && tx);
    std::vector<int> tx_ports;
    std::map<int, int> index;   // rx port -> its pair
    for (int i = 0; i < kPorts; i++) {
        auto [pr, pt] = bind_pair(rx, 0, tx, 0);
        ASSERT_GT(pt, 0);
        index[pr] = i;
        tx_ports.push_back(pt);
    }
    while (wait_pending(tx, 50) >= 0)   // the binds' initial events
        ;
    for (int p : tx_ports)
        ASSERT_EQ(xssim_evtchn_notify(tx, (uint32_t)p), 0);
    std::vector<long> last(kPorts, -1), count(kPorts, 0);
    long max_gap = 0;
    for (long n = 0; n < (long)kPorts * kRounds; n++) {
        int port = wait_pending(rx);
        ASSERT_GE(port, 0) << "no event after " << n;
        ASSERT_TRUE(index.count(port)) << port;
        int i = index[port];
        max_gap = std::max(max_gap, n - last[i]);   // the first: since the start
        last[i] = n;
        count[i]++;
        ASSERT_EQ(xssim_evtchn_notify(tx, (uint32_t)tx_ports[(size_t)i]), 0);
    }
    long least = *std::min_element(count.begin(), count.end());
    EXPECT_GE(least, kRounds - 1) << "a port was starved";
    EXPECT_LE(max_gap, 2L * kPorts) << "a port waited for more than two passes";
}

// Many ports hammered from a thread, far more than the wake-up queue holds:
// for every port, the receiver's last event comes after that port's last
// notify (nothing lost, whichever route - datagram or rescan - brought it).
TEST_F(SimTest, ManyPortsFromAThreadAreNeverLost)
{
    constexpr int kPorts = 100, kNotifies = 20000;
    struct xssim_evtchn *rx = open(0), *tx = open(0);
    ASSERT_TRUE(rx && tx);
    std::vector<int> tx_ports;
    std::map<int, int> index;
    for (int i = 0; i < kPorts; i++) {
        auto [pr, pt] = bind_pair(rx, 0, tx, 0);
        ASSERT_GT(pt, 0);
        index[pr] = i;
        tx_ports.push_back(pt);
    }
    while (wait_pending(tx, 50) >= 0)
        ;
    std::vector<std::atomic<int>> sent(kPorts);
    for (auto &s : sent)
        s.store(0);
    std::atomic<int> errors{ 0 };
    std::atomic<bool> done{ false };
    std::thread sender([&] {
        for (int n = 1; n <= kNotifies; n++) {
            int i = (int)(((unsigned)n * 2654435761u) % kPorts);   // scattered
            sent[(size_t)i].store(n);
            if (xssim_evtchn_notify(tx, (uint32_t)tx_ports[(size_t)i]) != 0)
                errors++;
        }
        done.store(true);
    });
    std::vector<int> seen(kPorts, 0);
    for (;;) {
        bool finished = done.load();
        int port = wait_pending(rx, finished ? 200 : kWaitMs);
        if (port < 0) {
            if (finished)
                break;
            continue;
        }
        ASSERT_TRUE(index.count(port)) << port;
        int i = index[port];
        seen[(size_t)i] = std::max(seen[(size_t)i], sent[(size_t)i].load());
    }
    sender.join();
    EXPECT_EQ(errors.load(), 0);
    for (int i = 0; i < kPorts; i++)
        EXPECT_EQ(seen[(size_t)i], sent[(size_t)i].load()) << "port pair " << i;
}

TEST_F(SimTest, TwoSimsDoNotSeeEachOthersEvents)
{
    TempDir other_dir("xssim-evtchn-b");
    struct xssim *other = xssim_create(other_dir.sub("sim").c_str());
    ASSERT_NE(other, nullptr) << strerror(errno);
    // the same layout in both sims: same domain, same port numbers
    ASSERT_EQ(xssim_domain_create(sim_, 5), 0);
    ASSERT_EQ(xssim_domain_create(other, 5), 0);
    struct xssim_evtchn *a0 = open(0), *a5 = open(5);
    struct xssim_evtchn *b0 = open(0, other), *b5 = open(5, other);
    ASSERT_TRUE(a0 && a5 && b0 && b5);
    auto [ap5, ap0] = bind_pair(a5, 5, a0, 0);
    auto [bp5, bp0] = bind_pair(b5, 5, b0, 0);
    ASSERT_EQ(ap5, bp5);
    ASSERT_EQ(ap0, bp0);
    int avirq = xssim_evtchn_bind_virq(a0, VIRQ_DOM_EXC);
    int bvirq = xssim_evtchn_bind_virq(b0, VIRQ_DOM_EXC);
    ASSERT_GT(avirq, 0);
    ASSERT_GT(bvirq, 0);
    wait_pending(a0);
    wait_pending(b0);

    ASSERT_EQ(xssim_evtchn_notify(a0, (uint32_t)ap0), 0);
    EXPECT_EQ(wait_pending(a5), ap5);
    EXPECT_TRUE(nothing_pending(b5));
    ASSERT_EQ(xssim_evtchn_notify(b5, (uint32_t)bp5), 0);
    EXPECT_EQ(wait_pending(b0), bp0);
    EXPECT_TRUE(nothing_pending(a0));

    // a domain's life is per sim
    ASSERT_EQ(xssim_domain_destroy(other, 5), 0);
    EXPECT_EQ(wait_pending(b0), bvirq);
    EXPECT_TRUE(nothing_pending(a0));
    struct xssim_dominfo di;
    EXPECT_EQ(xssim_domain_info(sim_, 5, &di), 0);
    ASSERT_EQ(xssim_evtchn_notify(a0, (uint32_t)ap0), 0);
    EXPECT_EQ(wait_pending(a5), ap5);

    // handles of the other sim are closed before it is detached
    close(b0);
    close(b5);
    xssim_detach(other);
}

TEST(SimAttach, AttachSeesTheSameSimAndMissingIsEnoent)
{
    TempDir tmp("xssim-attach");
    errno = 0;
    EXPECT_EQ(xssim_attach(tmp.sub("nothing").c_str()), nullptr);
    EXPECT_EQ(errno, ENOENT);
    struct xssim *a = xssim_create(tmp.sub("sim").c_str());
    ASSERT_NE(a, nullptr);
    errno = 0;
    EXPECT_EQ(xssim_create(tmp.sub("sim").c_str()), nullptr);   // already a sim
    EXPECT_EQ(errno, EEXIST);
    struct xssim *b = xssim_attach(tmp.sub("sim").c_str());
    ASSERT_NE(b, nullptr);
    ASSERT_EQ(xssim_domain_create(a, 11), 0);
    struct xssim_dominfo di;
    EXPECT_EQ(xssim_domain_info(b, 11, &di), 0);
    EXPECT_EQ(di.domid, 11u);
    ASSERT_EQ(xssim_domain_destroy(b, 11), 0);
    EXPECT_EQ(xssim_domain_info(a, 11, &di), -1);
    xssim_detach(b);
    xssim_detach(a);
}

}  // namespace
}  // namespace xstest
