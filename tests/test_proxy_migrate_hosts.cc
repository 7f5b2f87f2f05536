// test_proxy_migrate_hosts.cc - a guest moved between two simulated hosts
// (two sims, two daemons, two xsproxies), for every pairing of oxenstored
// and C xenstored: quiesced and saved on the source with a request held on
// its ring, its ring page copied as migration copies guest memory, restored
// under another domain id on the destination and resumed.  Its subtree
// arrives (ids remapped), its watches fire, the held request is served
// once there and never on the source.  Its two open transactions are
// replayed there: the one whose reads still hold goes on and commits, the
// one that read a node changed before the save ends in EAGAIN.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <tuple>

#include "sim_host.h"
#include "workload.h"
#include "xsproxy_wire.h"

namespace xstest {
namespace {

using Pairing = std::tuple<xssim_daemon, xssim_daemon>;

class XsproxyMigrateHosts : public ::testing::TestWithParam<Pairing> {};

std::string wr(const std::string &path, const std::string &value)
{
    return path + std::string(1, '\0') + value;
}

TEST_P(XsproxyMigrateHosts, GuestMovesWithWatchesNodesAndHeldRequests)
{
    Store src(std::get<0>(GetParam()), true), dst(std::get<1>(GetParam()), true);
    ASSERT_TRUE(src.ok() && dst.ok());
    ASSERT_TRUE(src.create_domain(5));
    auto g = src.guest(5);
    auto s0 = src.dom0();
    ASSERT_TRUE(g && s0);
    WireMsg r;
    ASSERT_TRUE(g->request(XS_WRITE, 0, wr("data/x", "1"), &r));
    ASSERT_TRUE(g->request(XS_MKDIR, 0, nul_join({ "data/sub" }), &r));
    ASSERT_TRUE(g->request(XS_WRITE, 0, wr("data/sub/v", std::string("a\0b", 3)), &r));
    ASSERT_TRUE(g->request(XS_WATCH, 0, nul_join({ "data/x", "rel" }), &r));
    ASSERT_TRUE(g->request(XS_WATCH, 0, nul_join({ "/local/domain/5/data/sub", "abs" }), &r));
    WireMsg ev;
    while (g->next_event(&ev, 300) == 1) {
    }
    // two open transactions: A reads nodes nothing changes (one missing,
    // one listed, one's permissions) and writes; B reads data/c, which
    // dom0 changes before the save, and writes
    ASSERT_TRUE(g->request(XS_WRITE, 0, wr("data/a", "a0"), &r));
    ASSERT_TRUE(g->request(XS_WRITE, 0, wr("data/c", "c0"), &r));
    ASSERT_TRUE(g->request(XS_WRITE, 0, wr("data/adir/k1", "1"), &r));
    ASSERT_TRUE(g->request(XS_WRITE, 0, wr("data/adir/k2", "2"), &r));
    // (A changes a node that exists: creating one would change data/'s
    // children, which the held write below changes too, a real conflict)
    ASSERT_TRUE(g->request(XS_WRITE, 0, wr("data/intx", "0"), &r));
    auto start_tx = [&](uint32_t *id) {
        ASSERT_TRUE(g->request(XS_TRANSACTION_START, 0, std::string(1, '\0'), &r));
        *id = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
        ASSERT_NE(0u, *id);
    };
    uint32_t txa = 0, txb = 0;
    start_tx(&txa);
    start_tx(&txb);
    ASSERT_TRUE(g->request(XS_READ, txa, nul_join({ "data/a" }), &r));
    ASSERT_EQ("a0", r.body);
    ASSERT_TRUE(g->request(XS_READ, txb, nul_join({ "data/c" }), &r));
    ASSERT_EQ("c0", r.body);
    ASSERT_TRUE(g->request(XS_READ, txa, nul_join({ "data/adir/none" }), &r));
    ASSERT_EQ((uint32_t)XS_ERROR, r.type);
    ASSERT_TRUE(g->request(XS_DIRECTORY, txa, nul_join({ "data/adir" }), &r));
    ASSERT_TRUE(g->request(XS_GET_PERMS, txa, nul_join({ "/local/domain/5/data/a" }), &r));
    ASSERT_EQ((uint32_t)XS_GET_PERMS, r.type);
    ASSERT_NE(std::string::npos, r.body.find("5")) << escape(r.body);
    ASSERT_TRUE(g->request(XS_WRITE, txa, wr("data/intx", "1"), &r));
    ASSERT_TRUE(g->request(XS_WRITE, txb, wr("data/fromb", "1"), &r));
    auto before = subtree(*s0, "/local/domain/5", "5");
    ASSERT_FALSE(before.empty());

    // source: quiesce, a request held on the ring, save
    ASSERT_EQ(0, src.xsproxyctl({ "quiesce", "5" }).exit_code);
    ASSERT_TRUE(s0->request(XS_WRITE, 0, wr("/local/domain/5/data/c", "c1"), &r));
    before["/data/c"] = subtree(*s0, "/local/domain/5", "5")["/data/c"];
    WireMsg held{ XS_WRITE, 4242, 0, wr("data/held", "once") };
    ASSERT_TRUE(g->send(held));
    sleep_ms(100);
    std::string stream = src.dir() + "/dom5.xs";
    RunResult sv = src.xsproxyctl({ "save", "5", stream });
    ASSERT_EQ(0, sv.exit_code) << sv.out << sv.err << src.proxy_log();

    // the guest's memory moves: its ring page, into domain 7 on the other host
    ASSERT_TRUE(dst.create_domain(7, false));
    {
        std::ifstream in(src.dir() + "/mem/dom5", std::ios::binary);
        std::string page((std::istreambuf_iterator<char>(in)), {});
        ASSERT_EQ(4096u, page.size());
        std::ofstream out(dst.dir() + "/mem/dom7", std::ios::binary | std::ios::in);
        out.write(page.data(), (std::streamsize)page.size());
    }
    RunResult rs = dst.xsproxyctl({ "restore", "7", stream, "--from-domid", "5" });
    ASSERT_EQ(0, rs.exit_code) << rs.out << rs.err << dst.proxy_log();

    // the guest, now domain 7 on the destination, gets its held reply
    auto g7 = dst.guest(7);
    ASSERT_TRUE(g7);
    WireMsg rep;
    bool got = false;
    for (int i = 0; i < 20 && !got; i++) {
        if (g7->recv(&rep, 250) == 1 && rep.type != XS_WATCH_EVENT)
            got = rep.req_id == 4242;
    }
    ASSERT_TRUE(got) << "the held request was not served on the destination";
    EXPECT_EQ((uint32_t)XS_WRITE, rep.type) << escape(rep.body);
    auto d0 = dst.dom0();
    ASSERT_TRUE(d0);
    ASSERT_TRUE(d0->request(XS_READ, 0, nul_join({ "/local/domain/7/data/held" }), &r));
    EXPECT_EQ("once", r.body);
    // ... and never reached the source's xenstored
    ASSERT_TRUE(s0->request(XS_READ, 0, nul_join({ "/local/domain/5/data/held" }), &r));
    EXPECT_EQ((uint32_t)XS_ERROR, r.type) << "served on the source: " << escape(r.body);

    // the subtree arrived, ids remapped (plus the held write; the toolstack's
    // own domid/store nodes are the destination's)
    auto after = subtree(*d0, "/local/domain/7", "7");
    before["/data/held"] = after["/data/held"];
    for (const char *own : { "/domid", "/store/port", "/store/ring-ref" }) {
        before.erase(own);
        after.erase(own);
    }
    EXPECT_EQ(before, after);

    // watches: registered as domain 7, each fires for a change
    while (g7->next_event(&ev, 200) == 1) {
    }
    ASSERT_TRUE(d0->request(XS_WRITE, 0, wr("/local/domain/7/data/x", "2"), &r));
    ASSERT_EQ(1, g7->next_event(&ev, 3000));
    EXPECT_EQ(nul_join({ "data/x", "rel" }), ev.body);
    ASSERT_TRUE(d0->request(XS_WRITE, 0, wr("/local/domain/7/data/sub/w", "3"), &r));
    ASSERT_EQ(1, g7->next_event(&ev, 3000));
    EXPECT_EQ(nul_join({ "/local/domain/7/data/sub/w", "abs" }), ev.body);

    // transaction A goes on where it was: it sees its own write, nobody
    // else does until it commits, and it commits
    ASSERT_TRUE(g7->request(XS_READ, txa, nul_join({ "data/intx" }), &r));
    EXPECT_EQ("1", r.body) << "the replay did not redo A's write";
    ASSERT_TRUE(d0->request(XS_READ, 0, nul_join({ "/local/domain/7/data/intx" }), &r));
    EXPECT_EQ("0", r.body) << "A's write is visible before its commit";
    ASSERT_TRUE(g7->request(XS_TRANSACTION_END, txa, nul_join({ "T" }), &r));
    EXPECT_EQ((uint32_t)XS_TRANSACTION_END, r.type) << escape(r.body) << dst.proxy_log();
    ASSERT_TRUE(d0->request(XS_READ, 0, nul_join({ "/local/domain/7/data/intx" }), &r));
    EXPECT_EQ("1", r.body);
    // transaction B read data/c before dom0 changed it: EAGAIN, its write is
    // gone, and the guest can retry
    ASSERT_TRUE(g7->request(XS_TRANSACTION_END, txb, nul_join({ "T" }), &r));
    EXPECT_EQ((uint32_t)XS_ERROR, r.type);
    EXPECT_EQ(std::string("EAGAIN") + '\0', r.body);
    ASSERT_TRUE(d0->request(XS_READ, 0, nul_join({ "/local/domain/7/data/fromb" }), &r));
    EXPECT_EQ((uint32_t)XS_ERROR, r.type) << "B's write landed: " << escape(r.body);
    ASSERT_TRUE(g7->request(XS_TRANSACTION_START, 0, std::string(1, '\0'), &r));
    uint32_t tx2 = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
    ASSERT_TRUE(g7->request(XS_READ, tx2, nul_join({ "data/c" }), &r));
    EXPECT_EQ("c1", r.body);
    ASSERT_TRUE(g7->request(XS_WRITE, tx2, wr("data/fromb", "2"), &r));
    ASSERT_TRUE(g7->request(XS_TRANSACTION_END, tx2, nul_join({ "T" }), &r));
    EXPECT_EQ((uint32_t)XS_TRANSACTION_END, r.type) << escape(r.body);
}

TEST_P(XsproxyMigrateHosts, SaveRefusesAnUnquiescedDomainAndRestoreABadStream)
{
    Store src(std::get<0>(GetParam()), true);
    ASSERT_TRUE(src.ok());
    ASSERT_TRUE(src.create_domain(5));
    RunResult sv = src.xsproxyctl({ "save", "5", src.dir() + "/x.xs" });
    EXPECT_NE(0, sv.exit_code);
    // a truncated stream changes nothing
    ASSERT_EQ(0, src.xsproxyctl({ "quiesce", "5" }).exit_code);
    ASSERT_EQ(0, src.xsproxyctl({ "save", "5", src.dir() + "/x.xs" }).exit_code);
    std::ifstream in(src.dir() + "/x.xs", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(src.dir() + "/cut.xs", std::ios::binary).write(all.data(), (std::streamsize)all.size() / 2);
    ASSERT_TRUE(src.create_domain(6, false));
    RunResult rs = src.xsproxyctl({ "restore", "6", src.dir() + "/cut.xs", "--from-domid", "5" });
    EXPECT_NE(0, rs.exit_code);
    RunResult l = src.xsproxyctl({ "list" });
    EXPECT_EQ(std::string::npos, l.out.find("domain 6")) << l.out;
}

std::string pairing_name(const ::testing::TestParamInfo<Pairing> &info)
{
    return std::string(xssim_daemon_name(std::get<0>(info.param))) + "_to_" +
           xssim_daemon_name(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Pairings, XsproxyMigrateHosts,
                         ::testing::Combine(::testing::Values(XSSIM_OXENSTORED, XSSIM_XENSTORED),
                                            ::testing::Values(XSSIM_OXENSTORED, XSSIM_XENSTORED)),
                         pairing_name);

}  // namespace
}  // namespace xstest
