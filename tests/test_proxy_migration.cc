// test_proxy_migration.cc - the operations xsproxy adds for migration, on
// both daemons: QUIESCE holds a guest's requests on its ring (whole or
// partly written) and RESUME serves each exactly once; GET_DOMAIN_WATCHES
// pages a domain's watches with a gencnt; ADD_DOMAIN_WATCHES registers
// watches as the domain; guests cannot use any of them.

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sim_host.h"
#include "workload.h"
#include "xsproxy_wire.h"

extern "C" {
#include "xsrecords.h"
}

namespace xstest {
namespace {

class XsproxyMigrationOps : public ::testing::TestWithParam<xssim_daemon> {
protected:
    void SetUp() override
    {
        store_ = std::make_unique<Store>(GetParam(), true);
        ASSERT_TRUE(store_->ok());
        ASSERT_TRUE(store_->create_domain(5));
        guest_ = store_->guest(5);
        ASSERT_TRUE(guest_);
        dom0_ = store_->dom0();
        ASSERT_TRUE(dom0_);
    }

    // A dom0 operation; returns the reply (type 0xffffffff when none).
    WireMsg op(uint32_t type, const std::vector<std::string> &args)
    {
        WireMsg r;
        r.type = 0xffffffffu;
        EXPECT_TRUE(dom0_->request(type, 0, nul_join(args), &r)) << dom0_->error();
        return r;
    }

    std::string read(const std::string &path)
    {
        WireMsg r = op(XS_READ, { path });
        return r.type == XS_ERROR ? "ERR:" + r.body : r.body;
    }

    uint32_t ring_unread()
    {
        auto *ring = guest_->ring();
        return __atomic_load_n(&ring->req_prod, __ATOMIC_ACQUIRE) -
               __atomic_load_n(&ring->req_cons, __ATOMIC_ACQUIRE);
    }

    static WireMsg msg(uint32_t type, uint32_t req_id, const std::vector<std::string> &parts)
    {
        WireMsg m;
        m.type = type;
        m.req_id = req_id;
        m.body = nul_join(parts);
        return m;
    }

    std::unique_ptr<Store> store_;
    std::unique_ptr<RingConn> guest_;
    std::unique_ptr<SockConn> dom0_;
};

TEST_P(XsproxyMigrationOps, QuiesceHoldsRequestsOnTheRingAndResumeServesEachOnce)
{
    WireMsg r;
    ASSERT_TRUE(guest_->request(XS_WRITE, 0, std::string("data/n\0", 7) + "0", &r));
    ASSERT_EQ((uint32_t)XS_WRITE, r.type);
    ASSERT_EQ(0, store_->xsproxyctl({ "trace", "5", "on", store_->dir() + "/t5" }).exit_code);

    WireMsg q = op(XSP_QUIESCE, { "5" });
    ASSERT_EQ(XSP_QUIESCE, q.type) << escape(q.body);

    // three requests the guest sends while quiesced stay in its ring
    uint32_t before = ring_unread();
    std::vector<WireMsg> reqs = {
        msg(XS_WRITE, 101, { "data/a", "1" }),
        msg(XS_WRITE, 102, { "data/b", "2" }),
        msg(XS_WRITE, 103, { "data/n", "3" }),
    };
    reqs[0].body.pop_back();   // a WRITE's value has no NUL
    reqs[1].body.pop_back();
    reqs[2].body.pop_back();
    uint32_t bytes = 0;
    for (auto &m : reqs) {
        ASSERT_TRUE(guest_->send(m));
        bytes += 16 + (uint32_t)m.body.size();
    }
    sleep_ms(200);
    EXPECT_EQ(before + bytes, ring_unread()) << "xsproxy took bytes from a quiesced ring";
    EXPECT_EQ("0", read("/local/domain/5/data/n"));
    EXPECT_EQ("ERR:ENOENT", read("/local/domain/5/data/a").substr(0, 10));
    WireMsg none;
    EXPECT_EQ(0, guest_->recv(&none, 100)) << "a reply while quiesced";
    RunResult l = store_->xsproxyctl({ "list" });
    EXPECT_NE(std::string::npos, l.out.find("quiesced")) << l.out;

    // RESUME: each is served, once, in order
    WireMsg res = op(XSP_RESUME, { "5" });
    ASSERT_EQ(XSP_RESUME, res.type) << escape(res.body);
    for (uint32_t id = 101; id <= 103; id++) {
        WireMsg rep;
        ASSERT_EQ(1, guest_->recv(&rep, 5000)) << guest_->error();
        EXPECT_EQ(id, rep.req_id);
        EXPECT_EQ((uint32_t)XS_WRITE, rep.type) << escape(rep.body);
    }
    EXPECT_EQ(0, ring_unread());
    EXPECT_EQ("1", read("/local/domain/5/data/a"));
    EXPECT_EQ("3", read("/local/domain/5/data/n"));
    std::string trace = read_text(store_->dir() + "/t5");
    size_t writes = 0;
    for (size_t p = trace.find("-> WRITE"); p != std::string::npos;
         p = trace.find("-> WRITE", p + 1))
        writes++;
    EXPECT_EQ(3u, writes) << trace;
}

TEST_P(XsproxyMigrationOps, QuiesceAnswersOnlyOnceEverythingPassedOnIsAnswered)
{
    // a burst, then QUIESCE at once: every request xsproxy took is answered
    // before the QUIESCE reply; the rest stay on the ring
    const int n = 40;
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof(key), "data/k%02d", i);
        WireMsg m = msg(XS_WRITE, 1000 + i, { key, "v" });
        m.body.pop_back();
        ASSERT_TRUE(guest_->send(m));
    }
    WireMsg q = op(XSP_QUIESCE, { "5" });
    ASSERT_EQ(XSP_QUIESCE, q.type) << escape(q.body);
    std::vector<uint32_t> seen;
    WireMsg rep;
    while (guest_->recv(&rep, 200) == 1)
        seen.push_back(rep.req_id);
    uint32_t held = ring_unread();
    // what was taken was answered; what was not is still whole on the ring
    const uint32_t per = 16 + 9 + 1;   // header, "data/kNN\0", "v"
    for (size_t i = 0; i < seen.size(); i++)
        EXPECT_EQ(1000u + i, seen[i]);
    // the guest may have been part-way through writing the last request it
    // got onto the ring (40 of them do not fit in 1024 bytes): xsproxy then
    // holds the part it read, and the rest is on the ring
    EXPECT_EQ((size_t)n, seen.size() + (held + per - 1) / per);
    ASSERT_EQ(XSP_RESUME, op(XSP_RESUME, { "5" }).type);
    while (seen.size() < (size_t)n && guest_->recv(&rep, 5000) == 1)
        seen.push_back(rep.req_id);
    ASSERT_EQ((size_t)n, seen.size());
    for (int i = 0; i < n; i++)
        EXPECT_EQ(1000u + i, seen[i]) << "reply " << i;
    EXPECT_EQ(0, guest_->recv(&rep, 200)) << "a request was served twice";
}

TEST_P(XsproxyMigrationOps, APartlyWrittenRequestIsNeitherLostNorReadTwice)
{
    WireMsg m = msg(XS_WRITE, 77, { "data/p", "partial" });
    m.body.pop_back();
    std::string wire(16, '\0');
    uint32_t hdr[4] = { m.type, m.req_id, 0, (uint32_t)m.body.size() };
    memcpy(&wire[0], hdr, 16);
    wire += m.body;
    // the first 10 bytes, then QUIESCE, then the rest
    ASSERT_TRUE(guest_->send_bytes(wire.data(), 10));
    sleep_ms(100);
    ASSERT_EQ(XSP_QUIESCE, op(XSP_QUIESCE, { "5" }).type);
    uint32_t before = ring_unread();
    ASSERT_TRUE(guest_->send_bytes(wire.data() + 10, wire.size() - 10));
    sleep_ms(200);
    EXPECT_EQ(before + wire.size() - 10, ring_unread());
    EXPECT_EQ("ERR:ENOENT", read("/local/domain/5/data/p").substr(0, 10));
    ASSERT_EQ(XSP_RESUME, op(XSP_RESUME, { "5" }).type);
    WireMsg rep;
    ASSERT_EQ(1, guest_->recv(&rep, 5000)) << guest_->error();
    EXPECT_EQ(77u, rep.req_id);
    EXPECT_EQ((uint32_t)XS_WRITE, rep.type) << escape(rep.body);
    EXPECT_EQ("partial", read("/local/domain/5/data/p"));
    EXPECT_EQ(0, guest_->recv(&rep, 200));
}

TEST_P(XsproxyMigrationOps, GetDomainWatchesPagesAtWatchBoundaries)
{
    std::vector<std::pair<std::string, std::string>> want;
    for (int i = 0; i < 60; i++) {
        std::string path = "data/" + std::string(80, 'a' + i % 26) + std::to_string(i);
        std::string token = "tok" + std::to_string(i);
        WireMsg r;
        ASSERT_TRUE(guest_->request(XS_WATCH, 0, nul_join({ path, token }), &r));
        ASSERT_EQ((uint32_t)XS_WATCH, r.type) << escape(r.body);
        want.emplace_back(path, token);
    }
    std::vector<std::pair<std::string, std::string>> got;
    std::string gencnt;
    int pages = 0;
    while (got.size() < want.size() && pages < 10) {
        WireMsg r = op(XSP_GET_DOMAIN_WATCHES, { "5", std::to_string(got.size()) });
        ASSERT_EQ(XSP_GET_DOMAIN_WATCHES, r.type) << escape(r.body);
        ASSERT_LE(r.body.size(), 4096u);
        std::vector<std::string> parts;
        for (size_t p = 0; p < r.body.size();) {
            size_t e = r.body.find('\0', p);
            ASSERT_NE(std::string::npos, e) << "not NUL-terminated";
            parts.push_back(r.body.substr(p, e - p));
            p = e + 1;
        }
        ASSERT_FALSE(parts.empty());
        if (gencnt.empty())
            gencnt = parts[0];
        EXPECT_EQ(gencnt, parts[0]) << "the list did not change between pages";
        ASSERT_EQ(1u, parts.size() % 2) << "cut inside a watch";
        for (size_t i = 1; i + 1 < parts.size(); i += 2)
            got.emplace_back(parts[i], parts[i + 1]);
        pages++;
    }
    EXPECT_GT(pages, 1) << "the test needs more than one page";
    EXPECT_EQ(want, got);
    // past the end: an empty list; a new watch: a new gencnt
    WireMsg r = op(XSP_GET_DOMAIN_WATCHES, { "5", "1000" });
    EXPECT_EQ(gencnt + std::string(1, '\0'), r.body);
    WireMsg w;
    ASSERT_TRUE(guest_->request(XS_WATCH, 0, nul_join({ "data/new", "t" }), &w));
    r = op(XSP_GET_DOMAIN_WATCHES, { "5", "1000" });
    EXPECT_NE(gencnt + std::string(1, '\0'), r.body);
}

TEST_P(XsproxyMigrationOps, AddDomainWatchesRegistersAsTheDomain)
{
    WireMsg r = op(XSP_ADD_DOMAIN_WATCHES,
                   { "5", "data/x", "rel", "/local/domain/5/data/y", "abs" });
    ASSERT_EQ(XSP_ADD_DOMAIN_WATCHES, r.type) << escape(r.body);
    // each fires once on registration, to the guest, with its path as given
    std::vector<std::string> events;
    WireMsg ev;
    while (events.size() < 2 && guest_->next_event(&ev, 3000) == 1)
        events.push_back(ev.body);
    ASSERT_EQ(2u, events.size());
    EXPECT_EQ(nul_join({ "data/x", "rel" }), events[0]);
    EXPECT_EQ(nul_join({ "/local/domain/5/data/y", "abs" }), events[1]);
    ASSERT_EQ((uint32_t)XS_WRITE, op(XS_WRITE, { "/local/domain/5/data/x", "1" }).type);
    ASSERT_EQ(1, guest_->next_event(&ev, 3000));
    EXPECT_EQ(nul_join({ "data/x", "rel" }), ev.body);
    // they are the domain's: xsproxy's shadow lists them, and the guest can
    // remove them itself
    r = op(XSP_GET_DOMAIN_WATCHES, { "5", "0" });
    EXPECT_NE(std::string::npos, r.body.find(nul_join({ "data/x", "rel" })));
    WireMsg u;
    ASSERT_TRUE(guest_->request(XS_UNWATCH, 0, nul_join({ "data/x", "rel" }), &u));
    EXPECT_EQ((uint32_t)XS_UNWATCH, u.type) << escape(u.body);
    // a watch xenstored refuses (the guest cannot see dom0's node under
    // oxenstored's permission rules, or a duplicate) gives an error
    r = op(XSP_ADD_DOMAIN_WATCHES, { "5", "/local/domain/5/data/y", "abs" });
    EXPECT_EQ((uint32_t)XS_ERROR, r.type) << "a duplicate watch: " << escape(r.body);
}

TEST_P(XsproxyMigrationOps, GuestsCannotUseThemAndUnknownDomainsAreENOENT)
{
    for (uint32_t type : { XSP_QUIESCE, XSP_RESUME, XSP_GET_DOMAIN_WATCHES,
                           XSP_ADD_DOMAIN_WATCHES }) {
        WireMsg r;
        ASSERT_TRUE(guest_->request(type, 0, nul_join({ "5", "data", "t" }), &r));
        EXPECT_EQ((uint32_t)XS_ERROR, r.type);
        EXPECT_EQ(std::string("EACCES") + '\0', r.body);
    }
    // nothing happened: the guest is still served
    WireMsg r;
    ASSERT_TRUE(guest_->request(XS_WRITE, 0, std::string("data/still\0", 11) + "yes", &r));
    EXPECT_EQ((uint32_t)XS_WRITE, r.type);
    EXPECT_EQ(std::string("ENOENT") + '\0', op(XSP_QUIESCE, { "9" }).body);
    EXPECT_EQ(std::string("EINVAL") + '\0', op(XSP_QUIESCE, { "x" }).body);
    // and through XS_CONTROL, as xenstore-control sends them
    RunResult q = store_->xsproxyctl({ "quiesce", "5" });
    EXPECT_EQ(0, q.exit_code) << q.err;
    RunResult w = store_->xsproxyctl({ "get-domain-watches", "5" });
    EXPECT_EQ(0, w.exit_code) << w.err;
    RunResult s = store_->xsproxyctl({ "resume", "5" });
    EXPECT_EQ(0, s.exit_code) << s.err;
    ASSERT_TRUE(guest_->request(XS_READ, 0, nul_join({ "data/still" }), &r));
    EXPECT_EQ("yes", r.body);
}

// A FIFO (or a directory) named for a stream, a capture or a trace is
// refused at once (xsproxyctl's error, the reason in xsproxy's log, as for
// every refused command): opening a FIFO would wait for its other
// end with xsproxy's whole loop, and every guest, stalled.  Guest 5 is
// served all the while (each command is followed by a guest request within
// a bound far below what a stalled open would take), and nothing else
// changes: no domain 7, domain 5 not saved, no capture running.
TEST_P(XsproxyMigrationOps, AFifoOrADirectoryIsRefusedAtOnceAndTheGuestsAreServed)
{
    TempDir tmp("xsfifo");
    const std::string fifo = tmp.sub("stream");
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << strerror(errno);
    ASSERT_TRUE(store_->xsproxyctl({ "quiesce", "5" }).ok());
    ASSERT_TRUE(store_->xsproxyctl({ "resume", "5" }).ok());
    ASSERT_TRUE(store_->host().create_domain(7));   // served by the daemon, not inserted
    struct Case {
        std::vector<std::string> args;
        std::string path;
    };
    const std::vector<Case> cases = {
        { { "restore", "7", fifo }, fifo },
        { { "restore", "7", tmp.path() }, tmp.path() },
        { { "trace", "5", "on", fifo }, fifo },
        { { "capture", "start", fifo }, fifo },
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.args[0] + " " + c.path);
        int64_t t0 = mono_ms();
        RunResult r = store_->xsproxyctl(c.args, 3000);
        EXPECT_FALSE(r.timed_out) << "xsproxy's loop stalled";
        EXPECT_NE(r.exit_code, 0) << r.out;
        const std::string what = c.path == fifo ? "a FIFO" : "a directory";
        EXPECT_NE(store_->proxy_log().find(c.path + ": not a regular file (" + what + ")"),
                  std::string::npos)
            << r.err << store_->proxy_log();
        EXPECT_LT(mono_ms() - t0, 2000);
        WireMsg reply;
        ASSERT_TRUE(guest_->request(XS_READ, 0, nul_join({ "domid" }), &reply, 1000))
            << guest_->error();
        EXPECT_EQ(reply.body, "5");
    }
    // save needs a quiesced domain, and refuses before reading its nodes
    ASSERT_TRUE(store_->xsproxyctl({ "quiesce", "5" }).ok());
    RunResult sv = store_->xsproxyctl({ "save", "5", fifo }, 3000);
    EXPECT_FALSE(sv.timed_out);
    EXPECT_NE(sv.exit_code, 0);
    EXPECT_NE(store_->proxy_log().find("save 5: " + fifo + ": not a regular file (a FIFO)"),
              std::string::npos)
        << store_->proxy_log();
    ASSERT_TRUE(store_->xsproxyctl({ "resume", "5" }).ok());
    EXPECT_EQ(store_->xsproxyctl({ "list", "7" }).out, "");
    EXPECT_FALSE(path_exists(fifo + ".tmp"));
    EXPECT_EQ(store_->xsproxyctl({ "capture", "status" }).out.find("capturing to"),
              std::string::npos);
    EXPECT_TRUE(store_->proxy_alive());
}

// A save reads the domain's subtree on a connection of its own, its
// requests pipelined, while xsproxy's loop serves everybody else: another
// guest's requests are answered all through a save of 10,000 nodes.
TEST_P(XsproxyMigrationOps, AnotherDomainIsAnsweredWhileATenThousandNodeSaveRuns)
{
    const unsigned kNodes = 10000;
    std::vector<WireMsg> writes, replies;
    for (unsigned i = 0; i < kNodes; i++) {
        WireMsg w = msg(XS_WRITE, 0, { "/local/domain/5/data/d" + std::to_string(i / 100) +
                                       "/k" + std::to_string(i % 100) });
        w.body += "value-" + std::to_string(i);
        writes.push_back(w);
    }
    std::string err;
    ASSERT_TRUE(pipeline(*dom0_, writes, &replies, 64, &err)) << err;
    for (const WireMsg &r : replies)
        ASSERT_NE(r.type, XS_ERROR) << r.body;
    ASSERT_TRUE(store_->create_domain(6));
    auto other = store_->guest(6);
    ASSERT_TRUE(other);
    ASSERT_EQ(op(XSP_QUIESCE, { "5" }).type, XSP_QUIESCE);

    TempDir tmp("xssave");
    const std::string file = tmp.sub("dom5.xs");
    ASSERT_TRUE(dom0_->send(msg(XS_CONTROL, 77, { "save", "5", file })));
    int64_t t0 = mono_ms();
    unsigned answered_during = 0;
    WireMsg saved;
    saved.type = 0xffffffffu;
    while (mono_ms() - t0 < 120000) {
        WireMsg r;
        ASSERT_TRUE(other->request(XS_READ, 0, nul_join({ "domid" }), &r, 2000))
            << "domain 6 was not answered during the save: " << other->error();
        ASSERT_EQ(r.body, "6");
        if (dom0_->recv(&saved, 0) == 1)
            break;
        answered_during++;
    }
    ASSERT_EQ(saved.req_id, 77u);
    ASSERT_EQ(saved.type, XS_CONTROL) << saved.body << store_->proxy_log();
    unsigned long nodes = 0;
    size_t at = saved.body.find(": ");
    ASSERT_NE(at, std::string::npos) << saved.body;
    nodes = strtoul(saved.body.c_str() + at + 2, nullptr, 10);
    EXPECT_GT(nodes, kNodes) << saved.body;   // and their parents
    // a save made in the loop answers nobody until it is done
    EXPECT_GE(answered_during, 20u) << "in " << mono_ms() - t0 << " ms";
    struct stat st = {};
    EXPECT_EQ(stat(file.c_str(), &st), 0);
    EXPECT_GT(st.st_size, (off_t)(kNodes * 20));
    EXPECT_TRUE(store_->proxy_alive());
}

// The save's view is one moment's: dom0 writes two nodes, far apart in
// the walk, together in one transaction again and again while the save
// reads; the save reads again until nothing changed meanwhile, and the
// stream holds the two nodes equal.
TEST_P(XsproxyMigrationOps, ASaveWhileDomZeroWritesHoldsOneMomentsView)
{
    std::vector<WireMsg> writes, replies;
    for (unsigned i = 0; i < 3000; i++) {
        WireMsg w = msg(XS_WRITE, 0, { "/local/domain/5/data/d" + std::to_string(i / 100) +
                                       "/k" + std::to_string(i % 100) });
        w.body += "v";
        writes.push_back(w);
    }
    std::string err;
    ASSERT_TRUE(pipeline(*dom0_, writes, &replies, 64, &err)) << err;
    const std::string a = "/local/domain/5/a", b = "/local/domain/5/data/d29/k99/b";
    auto writer = store_->dom0();
    ASSERT_TRUE(writer);
    auto write_pair = [&](const std::string &v) {
        WireMsg r;
        ASSERT_TRUE(writer->request(XS_TRANSACTION_START, 0, std::string(1, '\0'), &r));
        uint32_t tx = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
        ASSERT_TRUE(writer->request(XS_WRITE, tx, nul_join({ a }) + v, &r));
        ASSERT_TRUE(writer->request(XS_WRITE, tx, nul_join({ b }) + v, &r));
        ASSERT_TRUE(writer->request(XS_TRANSACTION_END, tx, nul_join({ "T" }), &r));
    };
    write_pair("0");
    ASSERT_EQ(op(XSP_QUIESCE, { "5" }).type, XSP_QUIESCE);
    TempDir tmp("xssave");
    const std::string file = tmp.sub("dom5.xs");
    ASSERT_TRUE(dom0_->send(msg(XS_CONTROL, 78, { "save", "5", file })));
    for (int i = 1; i <= 5; i++)
        write_pair(std::to_string(i));   // EAGAIN ones just leave the pair as it was
    WireMsg saved;
    ASSERT_EQ(dom0_->recv(&saved, 60000), 1);
    ASSERT_EQ(saved.type, XS_CONTROL) << saved.body << store_->proxy_log();
    std::ifstream in(file, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    struct xsrec_stream s = {};
    struct xsrec_info info;
    struct xsrec_error xe = {};
    ASSERT_EQ(xsrec_read(bytes.data(), bytes.size(), &s, &info, &xe), 0) << xe.message;
    std::string va = "?", vb = "?";
    for (size_t i = 0; i < s.nnodes; i++) {
        std::string v((const char *)s.nodes[i].value, s.nodes[i].value_len);
        if (a == s.nodes[i].path)
            va = v;
        if (b == s.nodes[i].path)
            vb = v;
    }
    xsrec_stream_free(&s);
    EXPECT_NE(va, "?");
    EXPECT_EQ(va, vb) << "the stream mixes two moments";
    EXPECT_TRUE(store_->proxy_alive());
}

INSTANTIATE_TEST_SUITE_P(Daemons, XsproxyMigrationOps, both_daemons(), DaemonName());

}  // namespace
}  // namespace xstest
