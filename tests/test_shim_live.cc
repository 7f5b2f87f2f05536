// test_shim_live.cc - the shim's half of live insertion, against each daemon:
// a domain that xenstored serves directly is switched to a shadow ring (the
// test plays xsproxy: shadow page, an unbound dom0 port, the claim with
// live=1, a notify of the shim's wake-up port named in CLAIMS/.wake) and
// back (live=back), and a malformed claim leaves it alone.  The protocol is
// at the top of shim/switch.c.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include <xenstore.h>

#include "claim.h"
}

#include "sim_host.h"

namespace xstest {
namespace {

constexpr uint32_t kDom = 5;
constexpr int kWaitMs = 5000;

std::string z(const std::string &s)   // NUL-terminated, as the wire wants
{
    return s + std::string(1, '\0');
}

struct Indexes {
    uint32_t req_cons, req_prod, rsp_cons, rsp_prod;
    bool operator==(const Indexes &o) const
    {
        return req_cons == o.req_cons && req_prod == o.req_prod && rsp_cons == o.rsp_cons &&
               rsp_prod == o.rsp_prod;
    }
};

std::ostream &operator<<(std::ostream &os, const Indexes &i)
{
    return os << "req " << i.req_cons << "/" << i.req_prod << " rsp " << i.rsp_cons << "/"
              << i.rsp_prod;
}

Indexes indexes(const xenstore_domain_interface *r)
{
    return { __atomic_load_n(&r->req_cons, __ATOMIC_ACQUIRE),
             __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE),
             __atomic_load_n(&r->rsp_cons, __ATOMIC_ACQUIRE),
             __atomic_load_n(&r->rsp_prod, __ATOMIC_ACQUIRE) };
}

// One message read from a response ring.
struct Msg {
    xsd_sockmsg hdr{};
    std::string body;
};

// The test as xsproxy: its dom0 event-channel handle, the shadow page and
// the claim port, the claims directory of the daemon.
class ShimLiveTest : public DaemonTest {
protected:
    void SetUp() override
    {
        DaemonTest::SetUp();
        if (HasFatalFailure())
            return;
        sim_ = host().attach();
        ASSERT_NE(sim_, nullptr);
        claims_ = host().dir() + "/proxy/claims";
        // the shim makes the claims directory as xenstored binds its
        // VIRQ_DOM_EXC, which may be just after xenstored's socket is up, to
        // publish its wake-up port there
        uint32_t wport;
        int wpid;
        for (int i = 0; i < 500 && wake_read(claims_.c_str(), &wport, &wpid) < 0; i++)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        ASSERT_EQ(wake_read(claims_.c_str(), &wport, &wpid), 0) << strerror(errno);
        h0_ = xssim_evtchn_open(sim_, 0);
        ASSERT_NE(h0_, nullptr) << strerror(errno);
        int fd = xssim_evtchn_fd(h0_);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

        ASSERT_EQ(mkdir((host().dir() + "/proxy/shadow").c_str(), 0700), 0);
        xs_ = host().xs_open();
        ASSERT_NE(xs_, nullptr);
        ASSERT_NO_FATAL_FAILURE(prepare_shadow(kDom));
        ASSERT_NO_FATAL_FAILURE(create_guest(kDom));
    }

    // Domain DOM made and introduced as libxl does (directly, unless a
    // claim for it is there already); G_ speaks for it on its ring.
    void create_guest(uint32_t dom)
    {
        ASSERT_TRUE(host().create_domain(dom));
        struct xssim_dominfo di;
        ASSERT_EQ(xssim_domain_info(sim_, dom, &di), 0);
        store_port_ = di.store_port;
        xsg_close(g_);
        g_ = xsg_open(sim_, dom);
        ASSERT_NE(g_, nullptr) << strerror(errno);
        real_ = xsg_ring(g_);
    }

    // What xsproxy makes for DOM before it claims it: the shadow page
    // (RUN-DIR/shadow/domD) and the shadow channel (an unbound dom0 port
    // for dom0, i.e. xenstored).  The helpers below act on DOM from now on.
    void prepare_shadow(uint32_t dom)
    {
        dom_ = dom;
        if (shadow_)
            munmap(shadow_, XSSIM_PAGE_SIZE);
        shadow_ = nullptr;
        shadow_file_ = host().dir() + "/proxy/shadow/dom" + std::to_string(dom);
        int sfd = open(shadow_file_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ASSERT_GE(sfd, 0) << strerror(errno);
        ASSERT_EQ(ftruncate(sfd, XSSIM_PAGE_SIZE), 0);
        void *p = mmap(nullptr, XSSIM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
        close(sfd);
        ASSERT_NE(p, MAP_FAILED);
        shadow_ = static_cast<xenstore_domain_interface *>(p);
        int cp = xssim_evtchn_bind_unbound(h0_, 0);
        ASSERT_GT(cp, 0) << strerror(errno);
        claim_port_ = (uint32_t)cp;
    }

    void TearDown() override
    {
        if (xs_)
            xs_close(xs_);
        xsg_close(g_);
        xssim_evtchn_close(h0_);
        if (shadow_)
            munmap(shadow_, XSSIM_PAGE_SIZE);
        DaemonTest::TearDown();
    }

    // Write the claim for DOM_ atomically, as xsproxy does.
    void write_claim(const std::string &text)
    {
        std::string path = claims_ + "/" + std::to_string(dom_);
        {
            std::ofstream f(path + ".tmp");
            f << text;
        }
        ASSERT_EQ(rename((path + ".tmp").c_str(), path.c_str()), 0) << strerror(errno);
    }
    std::string claim_text(const char *live)
    {
        return "page=" + shadow_file_ + "\nport=" + std::to_string(claim_port_) + "\nlive=" +
               live + "\n";
    }

    // Notify the shim's wake-up port (claims/.wake), bound on first use.
    bool wake()
    {
        uint32_t port;
        int pid;
        if (wake_read(claims_.c_str(), &port, &pid) < 0) {
            ADD_FAILURE() << "no wake-up port published: " << strerror(errno);
            return false;
        }
        EXPECT_EQ(pid, host().daemon_pid());
        if (!wake_port_) {
            int p = xssim_evtchn_bind_interdomain(h0_, 0, port);
            if (p <= 0) {
                ADD_FAILURE() << "cannot bind the shim's wake-up port " << port << ": "
                              << strerror(errno);
                return false;
            }
            wake_port_ = (uint32_t)p;
        }
        EXPECT_EQ(xssim_evtchn_notify(h0_, wake_port_), 0) << strerror(errno);
        return true;
    }

    // Request the switch and wait for the shim's answer ("" on timeout).
    std::string request_switch()
    {
        if (claim_request_switch(claims_.c_str(), dom_) < 0) {
            ADD_FAILURE() << "claim_request_switch: " << strerror(errno);
            return "";
        }
        if (!wake())
            return "";
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
        while (std::chrono::steady_clock::now() < deadline) {
            int rc = switch_answer_read(claims_.c_str(), dom_, &answer_);
            if (rc < 0) {
                ADD_FAILURE() << "switch_answer_read: " << strerror(errno);
                return "";
            }
            if (rc == 1) {   // its first line, as the tests compare it
                std::string text = read_text(claims_ + "/" + std::to_string(dom_) + ".state");
                return text.substr(0, text.find('\n'));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        ADD_FAILURE() << "no answer from the shim in " << xssim_daemon_name(GetParam());
        return "";
    }

    // Switch DOM_ in; the test then binds the guest's store port.
    void switch_in()
    {
        write_claim(claim_text("1"));
        // "shadow req_prod=N rsp_prod=M": where the two streams stood
        const std::string state = request_switch();
        ASSERT_EQ(state.rfind("shadow req_prod=", 0), 0u) << state;
        ASSERT_NO_FATAL_FAILURE(take_guest_port());
    }
    // As xsproxy, bind the guest's store port (free once xenstored let it go).
    void take_guest_port()
    {
        int gp = xssim_evtchn_bind_interdomain(h0_, dom_, store_port_);
        ASSERT_GT(gp, 0) << "the guest's store port is not free after the switch: "
                         << strerror(errno);
        guest_port_ = (uint32_t)gp;
    }

    // Hand DOM_ back: unbind the guest port, make the pages agree.
    void switch_back()
    {
        ASSERT_EQ(xssim_evtchn_unbind(h0_, guest_port_), 0) << strerror(errno);
        guest_port_ = 0;
        Indexes s = indexes(shadow_);
        real_->req_cons = s.req_cons;
        real_->req_prod = s.req_prod;
        real_->rsp_cons = s.rsp_cons;
        real_->rsp_prod = s.rsp_prod;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        write_claim(claim_text("back"));
        ASSERT_EQ(request_switch(), "direct");
    }

    // A request written into the shadow ring as xsproxy would relay it.
    void shadow_send(uint32_t type, uint32_t req_id, const std::string &payload)
    {
        xsd_sockmsg hdr{};
        hdr.type = type;
        hdr.req_id = req_id;
        hdr.len = (uint32_t)payload.size();
        std::string bytes(reinterpret_cast<const char *>(&hdr), sizeof(hdr));
        bytes += payload;
        uint32_t prod = shadow_->req_prod;
        ASSERT_LE(prod - shadow_->req_cons + bytes.size(), XENSTORE_RING_SIZE);
        for (char c : bytes)
            shadow_->req[MASK_XENSTORE_IDX(prod++)] = c;
        __atomic_store_n(&shadow_->req_prod, prod, __ATOMIC_RELEASE);
        ASSERT_EQ(xssim_evtchn_notify(h0_, claim_port_), 0) << strerror(errno);
    }

    // The next whole message on the shadow's response ring, or hdr.type
    // ~0 after TIMEOUT_MS.
    Msg shadow_recv(int timeout_ms = kWaitMs)
    {
        Msg m;
        m.hdr.type = ~0u;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            uint32_t cons = shadow_->rsp_cons;
            uint32_t prod = __atomic_load_n(&shadow_->rsp_prod, __ATOMIC_ACQUIRE);
            if (prod - cons >= sizeof(xsd_sockmsg)) {
                xsd_sockmsg hdr;
                auto *h = reinterpret_cast<char *>(&hdr);
                for (size_t i = 0; i < sizeof(hdr); i++)
                    h[i] = shadow_->rsp[MASK_XENSTORE_IDX(cons + (uint32_t)i)];
                if (prod - cons >= sizeof(hdr) + hdr.len) {
                    m.hdr = hdr;
                    for (uint32_t i = 0; i < hdr.len; i++)
                        m.body += shadow_->rsp[MASK_XENSTORE_IDX(cons + sizeof(hdr) + i)];
                    __atomic_store_n(&shadow_->rsp_cons, cons + (uint32_t)sizeof(hdr) + hdr.len,
                                     __ATOMIC_RELEASE);
                    xssim_evtchn_notify(h0_, claim_port_);   // room again
                    return m;
                }
            }
            if (std::chrono::steady_clock::now() >= deadline)
                return m;
            struct pollfd pfd = { xssim_evtchn_fd(h0_), POLLIN, 0 };
            poll(&pfd, 1, 10);
            while (xssim_evtchn_pending(h0_) >= 0)
                ;
        }
    }

    void expect_answered_directly(const std::vector<uint32_t> &req_ids);
    bool refused_for_part_taken(const std::string &state);

    // Raw bytes on the guest's request ring, published, the daemon not told.
    void put_request_bytes(const void *p, size_t n)
    {
        for (size_t i = 0; i < n; i++)
            real_->req[MASK_XENSTORE_IDX(real_->req_prod + i)] = ((const char *)p)[i];
        __atomic_store_n(&real_->req_prod, real_->req_prod + (uint32_t)n, __ATOMIC_RELEASE);
    }

    // The guest's side: read and write as domain DOM_ on its own ring.
    std::string gread(const std::string &path)
    {
        char *v = nullptr;
        unsigned len = 0;
        int rc = xsg_read(g_, 0, path.c_str(), &v, &len);
        if (rc != 0)
            return "<" + std::string(rc > 0 ? xs_errno_name(rc) : strerror(errno)) + ">";
        std::string out(v, len);
        free(v);
        return out;
    }
    int gwrite(const std::string &path, const std::string &value)
    {
        return xsg_write(g_, 0, path.c_str(), value.data(), (unsigned)value.size());
    }
    // The guest's next watch event as "path|token", "" after TIMEOUT_MS.
    std::string gevent(int timeout_ms = kWaitMs)
    {
        xsg_msg ev;
        if (xsg_next_event(g_, &ev, timeout_ms) != 1)
            return "";
        std::string path(ev.body);
        return path + "|" + std::string(ev.body + path.size() + 1);
    }
    // The lowest free port of DOM (each bind takes the lowest one), to
    // compare before and after: a leak shows as a higher number.
    int lowest_free_port(uint32_t dom)
    {
        struct xssim_evtchn *h = xssim_evtchn_open(sim_, dom);
        if (!h)
            return -1;
        int p = xssim_evtchn_bind_unbound(h, 0);
        xssim_evtchn_close(h);
        return p;
    }
    // The guest's ring works directly: a write and a read as the guest.
    void expect_guest_works(const std::string &value)
    {
        EXPECT_EQ(gwrite("data/x", value), 0);
        EXPECT_EQ(gread("data/x"), value);
    }

    struct xssim *sim_ = nullptr;
    std::string claims_, shadow_file_;
    struct switch_answer answer_ {};   // the last one request_switch() read
    struct xssim_evtchn *h0_ = nullptr;
    struct xsg *g_ = nullptr;
    struct xs_handle *xs_ = nullptr;
    xenstore_domain_interface *real_ = nullptr, *shadow_ = nullptr;
    uint32_t dom_ = kDom, store_port_ = 0, claim_port_ = 0, guest_port_ = 0, wake_port_ = 0;
};

// (a) and (b): switch in, serve on the shadow as the domain, switch back.
TEST_P(ShimLiveTest, SwitchInServesTheShadowAndSwitchBackServesTheGuest)
{
    ASSERT_EQ(gwrite("data/x", "hello"), 0);
    ASSERT_EQ(xsg_watch(g_, "data/w", "tok"), 0);
    EXPECT_EQ(gevent(), "data/w|tok");   // the watch's first event
    // dom0 (xenstored) holds the guest's store port: nobody else binds it
    errno = 0;
    EXPECT_EQ(xssim_evtchn_bind_interdomain(h0_, kDom, store_port_), -1);
    EXPECT_EQ(errno, EINVAL);

    Indexes before = indexes(real_);
    std::vector<char> page_before((char *)real_, (char *)real_ + XSSIM_PAGE_SIZE);
    ASSERT_NO_FATAL_FAILURE(switch_in());
    // the shadow holds the guest page as it was, indexes and all
    EXPECT_EQ(indexes(shadow_), before);
    EXPECT_EQ(memcmp(shadow_, page_before.data(), XSSIM_PAGE_SIZE), 0);
    EXPECT_EQ(indexes(real_), before);

    // xenstored answers on the shadow ring as the domain (relative path)
    shadow_send(XS_READ, 77, z("data/x"));
    Msg m = shadow_recv();
    ASSERT_EQ(m.hdr.type, (uint32_t)XS_READ) << m.body;
    EXPECT_EQ(m.hdr.req_id, 77u);
    EXPECT_EQ(m.body, "hello");
    // its own node: a write as the domain on the shadow
    shadow_send(XS_WRITE, 78, z("data/y") + "shadowed");
    m = shadow_recv();
    ASSERT_EQ(m.hdr.type, (uint32_t)XS_WRITE) << m.body;
    EXPECT_EQ(m.body, z("OK"));
    unsigned len = 0;
    char *v = (char *)xs_read(xs_, XBT_NULL, "/local/domain/5/data/y", &len);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(std::string(v, len), "shadowed");
    free(v);

    // a watch event goes to the shadow, not to the guest's ring
    ASSERT_TRUE(xs_write(xs_, XBT_NULL, "/local/domain/5/data/w", "1", 1));
    m = shadow_recv();
    ASSERT_EQ(m.hdr.type, (uint32_t)XS_WATCH_EVENT) << m.body;
    EXPECT_EQ(m.body, z("data/w") + z("tok"));
    EXPECT_EQ(indexes(real_), before);
    EXPECT_EQ(gevent(200), "");

    // (b) back
    ASSERT_NO_FATAL_FAILURE(switch_back());
    expect_guest_works("again");
    EXPECT_EQ(gread("data/y"), "shadowed");
    ASSERT_TRUE(xs_write(xs_, XBT_NULL, "/local/domain/5/data/w", "2", 1));
    EXPECT_EQ(gevent(), "data/w|tok");
    // the shadow hears nothing more, and the guest port is xenstored's again
    EXPECT_EQ(shadow_recv(200).hdr.type, ~0u);
    errno = 0;
    EXPECT_EQ(xssim_evtchn_bind_interdomain(h0_, kDom, store_port_), -1);
    EXPECT_EQ(errno, EINVAL);
    // the claim port is unbound again: the switch let it go
    EXPECT_EQ(xssim_evtchn_notify(h0_, claim_port_), 0);
}

// The requests the guest put on its ring (REQ_IDS, all reads of data/x)
// are answered directly, each once, with what the store holds: whatever
// state a refused switch found, it changed nothing.  A last request of the
// guest's tells the daemon of them, as a guest's notification would.
void ShimLiveTest::expect_answered_directly(const std::vector<uint32_t> &req_ids)
{
    xsg_ack(g_);
    const std::string body = z("data/x");
    ASSERT_EQ(xsg_send(g_, XS_READ, 99, 0, body.data(), (uint32_t)body.size(), kWaitMs), 0);
    struct xsg_msg *m = (struct xsg_msg *)malloc(sizeof(*m));
    std::vector<uint32_t> got;
    while (xsg_recv(g_, m, kWaitMs) == 1) {
        EXPECT_EQ(m->hdr.type, (uint32_t)XS_READ);
        EXPECT_EQ(std::string(m->body, m->hdr.len), "1");
        if (m->hdr.req_id == 99)
            break;
        got.push_back(m->hdr.req_id);
    }
    free(m);
    EXPECT_EQ(got, req_ids) << "each answered once, directly, in order";
}

// Did the switch refuse because the daemon had taken part of a request?
// (The daemon was not told of the guest's new bytes, but both read a ring
// on their own too: after a reply, and while the guest's last
// notifications give it credit.)
bool ShimLiveTest::refused_for_part_taken(const std::string &state)
{
    if (state.rfind("busy", 0) != 0)
        return false;
    EXPECT_EQ(state, "busy the daemon has taken part of a request");
    return true;
}

// A request the guest has half written is handed over: the answer says how
// many of its bytes are on the shadow already (the daemon has not taken
// any of them), and what the guest writes next is the requester's to pass
// on.  If the daemon had taken part of it the switch waits, and nothing
// changes.
TEST_P(ShimLiveTest, AHalfWrittenRequestIsHandedOver)
{
    ASSERT_EQ(gwrite("data/x", "1"), 0);
    const std::string body = z("data/x");
    struct xsd_sockmsg h = { XS_READ, 42, 0, (uint32_t)body.size() };
    const uint32_t start = real_->req_prod;
    put_request_bytes(&h, sizeof(h));   // the header alone, the daemon not told
    write_claim(claim_text("1"));
    const std::string state = request_switch();
    if (refused_for_part_taken(state)) {
        // it has the header, and nothing more was written
        EXPECT_EQ(real_->req_cons - start, sizeof(h));
        put_request_bytes(body.data(), body.size());
        ASSERT_NO_FATAL_FAILURE(expect_answered_directly({ 42 }));
        ASSERT_NO_FATAL_FAILURE(switch_in());
        ASSERT_NO_FATAL_FAILURE(switch_back());
        expect_guest_works("after");
        return;
    }
    ASSERT_EQ(state.rfind("shadow req_prod=", 0), 0u) << state;
    EXPECT_EQ(answer_.req_prod, start + (uint32_t)sizeof(h));
    EXPECT_EQ(answer_.req_cons, start);
    EXPECT_EQ(answer_.req_part, sizeof(h));
    EXPECT_EQ(answer_.rsp_part, 0u);
    EXPECT_EQ(answer_.nr_pending, 0u);
    ASSERT_NO_FATAL_FAILURE(take_guest_port());
    // as xsproxy: the rest of the request goes on after the header
    uint32_t prod = shadow_->req_prod;
    for (char c : body)
        shadow_->req[MASK_XENSTORE_IDX(prod++)] = c;
    __atomic_store_n(&shadow_->req_prod, prod, __ATOMIC_RELEASE);
    ASSERT_EQ(xssim_evtchn_notify(h0_, claim_port_), 0);
    Msg m = shadow_recv();
    ASSERT_EQ(m.hdr.type, (uint32_t)XS_READ) << m.body;
    EXPECT_EQ(m.hdr.req_id, 42u);
    EXPECT_EQ(m.body, "1");
    // the guest's ring is the requester's to move on: what is on the shadow
    // counts as taken
    real_->req_cons = real_->req_prod;
    real_->rsp_prod = real_->rsp_cons;
    ASSERT_NO_FATAL_FAILURE(switch_back());
    expect_guest_works("after");
}

// Requests the guest wrote whole (three, the daemon not told) are handed
// over as pending, in order, with where each began, unless the daemon has
// answered them already: the answer is checked against the truth of the
// guest's ring, whichever moment the switch found.  The daemon then answers
// the pending ones on the shadow.
TEST_P(ShimLiveTest, RequestsNotYetAnsweredAreHandedOver)
{
    ASSERT_EQ(gwrite("data/x", "1"), 0);
    const uint32_t start = real_->req_prod, rsp_start = real_->rsp_prod;
    const std::string body = z("data/x");
    const uint32_t one = (uint32_t)(sizeof(xsd_sockmsg) + body.size());
    for (uint32_t id = 50; id < 53; id++) {
        struct xsd_sockmsg h = { XS_READ, id, 0, (uint32_t)body.size() };
        put_request_bytes(&h, sizeof(h));
        put_request_bytes(body.data(), body.size());
    }
    write_claim(claim_text("1"));
    const std::string state = request_switch();
    if (refused_for_part_taken(state)) {
        // those answered before the switch was asked are on the ring too
        ASSERT_NO_FATAL_FAILURE(expect_answered_directly({ 50, 51, 52 }));
        return;
    }
    ASSERT_EQ(state.rfind("shadow req_prod=", 0), 0u) << state;
    EXPECT_EQ(answer_.req_part, 0u);
    EXPECT_EQ(answer_.rsp_part, 0u);
    EXPECT_EQ((answer_.req_cons - start) % one, 0u) << "whole requests taken, or none";
    // the replies the daemon wrote before the switch are on the guest's ring
    std::vector<uint32_t> answered;
    for (uint32_t pos = rsp_start; pos != answer_.rsp_prod;) {
        xsd_sockmsg hdr;
        for (size_t i = 0; i < sizeof(hdr); i++)
            reinterpret_cast<char *>(&hdr)[i] = real_->rsp[MASK_XENSTORE_IDX(pos + (uint32_t)i)];
        answered.push_back(hdr.req_id);
        pos += (uint32_t)sizeof(hdr) + hdr.len;
    }
    // and the others are pending, oldest first
    std::vector<uint32_t> want, got;
    for (uint32_t id = 50 + (uint32_t)answered.size(); id < 53; id++)
        want.push_back(id);
    for (unsigned i = 0; i < answer_.nr_pending; i++) {
        got.push_back(answer_.pending[i].req_id);
        EXPECT_EQ(answer_.pending[i].type, (uint32_t)XS_READ);
        EXPECT_EQ(answer_.pending[i].start, start + (answer_.pending[i].req_id - 50) * one);
    }
    EXPECT_EQ(got, want) << read_text(claims_ + "/5.state");
    ASSERT_NO_FATAL_FAILURE(take_guest_port());
    // as xsproxy: what xenstored writes from rsp_prod on is new; below it the
    // shadow holds a copy of what is on the guest's ring already
    __atomic_store_n(&shadow_->rsp_cons, answer_.rsp_prod, __ATOMIC_RELEASE);
    for (uint32_t id : want) {
        Msg m = shadow_recv();
        ASSERT_EQ(m.hdr.type, (uint32_t)XS_READ) << m.body;
        EXPECT_EQ(m.hdr.req_id, id);
        EXPECT_EQ(m.body, "1");
    }
    real_->req_cons = real_->req_prod;
    real_->rsp_prod = real_->rsp_cons = shadow_->rsp_prod;
    ASSERT_NO_FATAL_FAILURE(switch_back());
    expect_guest_works("after");
}

// (c) twenty cycles with the guest idle in between.
TEST_P(ShimLiveTest, TwentyCyclesLeakNothing)
{
    ASSERT_EQ(xsg_watch(g_, "data/w", "tok"), 0);
    EXPECT_EQ(gevent(), "data/w|tok");
    expect_guest_works("v0");
    ASSERT_TRUE(wake());   // the test's end of the wake-up channel, bound once
    int free0 = lowest_free_port(0), free5 = lowest_free_port(kDom);
    ASSERT_GT(free0, 0);
    ASSERT_GT(free5, 0);
    for (int i = 0; i < 20; i++) {
        SCOPED_TRACE("cycle " + std::to_string(i));
        ASSERT_NO_FATAL_FAILURE(switch_in());
        ASSERT_NO_FATAL_FAILURE(switch_back());
    }
    EXPECT_EQ(lowest_free_port(0), free0);
    EXPECT_EQ(lowest_free_port(kDom), free5);
    expect_guest_works("v20");
    ASSERT_TRUE(xs_write(xs_, XBT_NULL, "/local/domain/5/data/w", "3", 1));
    EXPECT_EQ(gevent(), "data/w|tok");
    // one more in, serving on the shadow, proves the last back left it whole
    ASSERT_NO_FATAL_FAILURE(switch_in());
    shadow_send(XS_READ, 9, z("data/x"));
    Msg m = shadow_recv();
    EXPECT_EQ(m.body, "v20");
    ASSERT_NO_FATAL_FAILURE(switch_back());
    expect_guest_works("v21");
}

// (d) malformed claims: an error state, and the domain stays direct.
TEST_P(ShimLiveTest, MalformedClaimsChangeNothing)
{
    expect_guest_works("before");
    const std::string port = "port=" + std::to_string(claim_port_) + "\n";
    struct Case {
        const char *what;
        std::string claim;
    } cases[] = {
        { "no page line", port + "live=1\n" },
        { "a page that does not exist", "page=" + host().dir() + "/nothing\n" + port + "live=1\n" },
        { "no port line", "page=" + shadow_file_ + "\nlive=1\n" },
        { "a port that is not a number", "page=" + shadow_file_ + "\nport=x7\nlive=1\n" },
        { "a port that is not unbound", "page=" + shadow_file_ + "\nport=" +
                                            std::to_string(claim_port_ + 100) + "\nlive=1\n" },
        { "a bad live value", claim_text("sideways") },
        { "switching back a direct domain... is a no-op", claim_text("back") },
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.what);
        write_claim(c.claim);
        std::string state = request_switch();
        if (c.claim.find("live=back") != std::string::npos)
            EXPECT_EQ(state, "direct");
        else
            EXPECT_EQ(state.rfind("error ", 0), 0u) << state;
        expect_guest_works(std::string("after ") + c.what);
        errno = 0;
        EXPECT_EQ(xssim_evtchn_bind_interdomain(h0_, kDom, store_port_), -1);
        EXPECT_EQ(errno, EINVAL);
    }
    // a missing claim cannot even be requested
    ASSERT_EQ(unlink((claims_ + "/" + std::to_string(kDom)).c_str()), 0);
    errno = 0;
    EXPECT_EQ(claim_request_switch(claims_.c_str(), kDom), -1);
    EXPECT_EQ(errno, ENOENT);
    // and a good claim after all that still switches
    ASSERT_NO_FATAL_FAILURE(switch_in());
    ASSERT_NO_FATAL_FAILURE(switch_back());
    expect_guest_works("at last");
}

// A switch asked for (the claim, and .asked counted) is made at xenstored's
// next event, whatever port it is for: the wake-up port's own turn can come
// a second later behind busy domains on a slow daemon.
TEST_P(ShimLiveTest, ASwitchAskedForIsMadeAtXenstoredsNextEvent)
{
    write_claim(claim_text("1"));
    ASSERT_EQ(claim_request_switch(claims_.c_str(), dom_), 0) << strerror(errno);
    uint32_t *asked = asked_map(claims_.c_str());
    ASSERT_NE(asked, nullptr) << strerror(errno);
    asked_bump(asked);
    // the wake-up port is not notified: nothing happens until an event
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(switch_answer_read(claims_.c_str(), dom_, &answer_), 0);
    // another domain's request is xenstored's next event
    ASSERT_TRUE(host().create_domain(kDom + 1));
    xsg *other = xsg_open(sim_, kDom + 1);
    ASSERT_NE(other, nullptr) << strerror(errno);
    EXPECT_EQ(xsg_write(other, 0, "data/o", "1", 1), 0);
    int rc = 0;
    for (int i = 0; i < kWaitMs && (rc = switch_answer_read(claims_.c_str(), dom_, &answer_)) == 0;
         i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_EQ(rc, 1) << "no switch without the wake-up port";
    EXPECT_EQ(answer_.kind, SWITCH_SHADOW) << answer_.reason;
    xsg_close(other);
    munmap(asked, 4096);
    ASSERT_NO_FATAL_FAILURE(take_guest_port());
    // the shadow serves the domain now
    shadow_send(XS_WRITE, 90, z("data/s") + "v");
    EXPECT_EQ(shadow_recv().body, z("OK"));
    ASSERT_NO_FATAL_FAILURE(switch_back());
    expect_guest_works("after");
}

// A domain introduced through a claim (xsproxy's INTRODUCE path) is served
// on its shadow from the start, and can be handed back live the same way.
TEST_P(ShimLiveTest, DomainIntroducedThroughAClaimIsHandedBack)
{
    constexpr uint32_t kDom6 = 6;
    ASSERT_NO_FATAL_FAILURE(prepare_shadow(kDom6));
    write_claim("page=" + shadow_file_ + "\nport=" + std::to_string(claim_port_) + "\n");
    ASSERT_NO_FATAL_FAILURE(create_guest(kDom6));
    // xenstored bound the shadow port, not the guest's: xsproxy binds that
    ASSERT_NO_FATAL_FAILURE(take_guest_port());
    shadow_send(XS_WRITE, 1, z("data/z") + "claimed");
    Msg m = shadow_recv();
    ASSERT_EQ(m.hdr.type, (uint32_t)XS_WRITE) << m.body;
    EXPECT_EQ(indexes(real_), (Indexes{ 0, 0, 0, 0 }));   // the guest's ring untouched

    ASSERT_NO_FATAL_FAILURE(switch_back());
    EXPECT_EQ(gread("data/z"), "claimed");
    expect_guest_works("direct now");
    // and in again, live this time
    ASSERT_NO_FATAL_FAILURE(switch_in());
    shadow_send(XS_READ, 2, z("data/x"));
    EXPECT_EQ(shadow_recv().body, "direct now");
}

// A domain that dies while switched in is released by xenstored as usual;
// the shim forgets it, and a new domain of the same id starts direct.
TEST_P(ShimLiveTest, DeathWhileSwitchedInAndANewDomain)
{
    expect_guest_works("first life");
    ASSERT_NO_FATAL_FAILURE(switch_in());
    ASSERT_EQ(xssim_evtchn_unbind(h0_, guest_port_), 0);
    xsg_close(g_);
    g_ = nullptr;
    ASSERT_TRUE(host().destroy_domain(kDom));
    // xenstored released it: the shadow channel is unbound again, and the
    // shim knows the domain no more
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
    while (xs_is_domain_introduced(xs_, kDom) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_FALSE(xs_is_domain_introduced(xs_, kDom));
    write_claim(claim_text("back"));
    std::string state = request_switch();
    EXPECT_EQ(state.rfind("error ", 0), 0u) << state;

    // a new domain 5, introduced while the live=back claim is still there:
    // it is the guest's own ring that xenstored serves
    ASSERT_NO_FATAL_FAILURE(create_guest(kDom));
    expect_guest_works("second life");
    errno = 0;
    EXPECT_EQ(xssim_evtchn_bind_interdomain(h0_, kDom, store_port_), -1);
    EXPECT_EQ(errno, EINVAL);
    ASSERT_NO_FATAL_FAILURE(switch_in());
    shadow_send(XS_READ, 3, z("data/x"));
    EXPECT_EQ(shadow_recv().body, "second life");
    ASSERT_NO_FATAL_FAILURE(switch_back());
    expect_guest_works("still");
}

INSTANTIATE_TEST_SUITE_P(Daemons, ShimLiveTest, both_daemons(), DaemonName());

}  // namespace
}  // namespace xstest
