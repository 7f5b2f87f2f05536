// test_proxy_transfer.cc - a guest sent from one simulated host to another
// over a link (xsproxyctl send / receive), for oxenstored -> C xenstored and
// C xenstored -> oxenstored: over a command's pipe (the ssh form) and TCP
// with a token; the link cut at many points and resumed; bad peers and bad
// frames.  Each time the guest ends served on exactly one host: its held
// request answered once, its watches there, nothing of it reaching the
// source's xenstored after the commit.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <string>
#include <tuple>

#include "sim_host.h"
#include "workload.h"

namespace xstest {
namespace {

using Pairing = std::tuple<xssim_daemon, xssim_daemon>;

std::string wr(const std::string &path, const std::string &value)
{
    return path + std::string(1, '\0') + value;
}

std::string ctl_path()
{
    return self_dir() + "/xsproxyctl";
}

class XsproxyTransfer : public ::testing::TestWithParam<Pairing> {
protected:
    void SetUp() override
    {
        src_ = std::make_unique<Store>(std::get<0>(GetParam()), true);
        dst_ = std::make_unique<Store>(std::get<1>(GetParam()), true);
        ASSERT_TRUE(src_->ok() && dst_->ok());
        ASSERT_TRUE(src_->create_domain(5));
        g_ = src_->guest(5);
        s0_ = src_->dom0();
        ASSERT_TRUE(g_ && s0_);
        WireMsg r;
        // a subtree big enough for the stream to take several frames
        for (int i = 0; i < 200; i++)
            ASSERT_TRUE(g_->request(
                XS_WRITE, 0, wr("data/n" + std::to_string(i), std::string(200, 'a' + i % 26)), &r));
        for (int i = 0; i < 20; i++)
            ASSERT_TRUE(g_->request(
                XS_WATCH, 0, nul_join({ "data/w" + std::to_string(i), "t" + std::to_string(i) }),
                &r));
        WireMsg ev;
        while (g_->next_event(&ev, 200) == 1) {
        }
    }

    // What a toolstack does before the xenstore state goes: the guest is
    // quiesced (a request of it left held on its ring), its memory - the
    // ring page - copied into domain 7 on the other host.
    void quiesce_and_copy()
    {
        ASSERT_EQ(0, src_->xsproxyctl({ "quiesce", "5" }).exit_code);
        ASSERT_TRUE(g_->send(WireMsg{ XS_WRITE, 4242, 0, wr("data/held", "once") }));
        sleep_ms(100);
        ASSERT_TRUE(dst_->create_domain(7, false));
        std::ifstream in(src_->dir() + "/mem/dom5", std::ios::binary);
        std::string page((std::istreambuf_iterator<char>(in)), {});
        ASSERT_EQ(4096u, page.size());
        std::ofstream out(dst_->dir() + "/mem/dom7", std::ios::binary | std::ios::in);
        out.write(page.data(), (std::streamsize)page.size());
    }

    // The receiving side as a command for `send --ssh`; FILTER_IN and
    // FILTER_OUT (shell) sit in the link's two directions.
    std::string receiver(const std::string &extra, const std::string &filter_in = "",
                         const std::string &filter_out = "")
    {
        std::string cmd = ctl_path() + " --socket " + dst_->store_socket() + " receive 7 --timeout 1.5 " + extra +
                          " 2>>" + dst_->dir() + "/receive.log";
        if (!filter_in.empty())
            cmd = filter_in + " | " + cmd;
        if (!filter_out.empty())
            cmd += " | " + filter_out;
        return cmd;
    }

    // Domain 7 is served on the destination: the held request's reply
    // comes once, the watches fire there; domain 5 is gone from the source.
    void expect_moved()
    {
        auto g7 = dst_->guest(7);
        ASSERT_TRUE(g7);
        WireMsg rep;
        int replies = 0;
        // (the restored watches' first events come too)
        while (g7->recv(&rep, 300) == 1)
            if (rep.type != XS_WATCH_EVENT && rep.req_id == 4242)
                replies++;
        EXPECT_EQ(1, replies) << "the held request's replies on the destination\n"
                              << dst_->proxy_log();
        auto d0 = dst_->dom0();
        ASSERT_TRUE(d0);
        WireMsg r;
        ASSERT_TRUE(d0->request(XS_READ, 0, nul_join({ "/local/domain/7/data/held" }), &r));
        EXPECT_EQ("once", r.body);
        ASSERT_TRUE(d0->request(XS_READ, 0, nul_join({ "/local/domain/7/data/n7" }), &r));
        EXPECT_EQ(std::string(200, 'h'), r.body);
        if (r.type == XS_ERROR) {
            WireMsg dir;
            d0->request(XS_DIRECTORY, 0, nul_join({ "/local/domain/7/data" }), &dir);
            ADD_FAILURE() << escape(dir.body).substr(0, 600);
        }
        WireMsg ev;
        while (g7->next_event(&ev, 100) == 1) {
        }
        ASSERT_TRUE(d0->request(XS_WRITE, 0, wr("/local/domain/7/data/w3", "x"), &r));
        ASSERT_EQ(1, g7->next_event(&ev, 3000));
        EXPECT_EQ(nul_join({ "data/w3", "t3" }), ev.body);
        // the source: the request never reached its xenstored, resume is refused
        ASSERT_TRUE(s0_->request(XS_READ, 0, nul_join({ "/local/domain/5/data/held" }), &r));
        EXPECT_EQ((uint32_t)XS_ERROR, r.type) << "served on the source too";
        EXPECT_NE(0, src_->xsproxyctl({ "resume", "5" }).exit_code);
        EXPECT_NE(0, src_->xsproxyctl({ "send", "5", "--abort" }).exit_code);
    }

    // Domain 5 still runs on the source, nothing of it on the destination.
    void expect_stayed()
    {
        ASSERT_EQ(0, src_->xsproxyctl({ "resume", "5" }).exit_code);
        WireMsg rep;
        int replies = 0;
        while (g_->recv(&rep, 300) == 1)
            if (rep.type != XS_WATCH_EVENT && rep.req_id == 4242)
                replies++;
        EXPECT_EQ(1, replies) << src_->proxy_log();
        RunResult l = dst_->xsproxyctl({ "list", "7" });
        EXPECT_NE(0, l.exit_code) << l.out;
    }

    std::unique_ptr<Store> src_, dst_;
    std::unique_ptr<RingConn> g_;
    std::unique_ptr<SockConn> s0_;
};

TEST_P(XsproxyTransfer, OverACommandsPipeTheGuestMovesOnce)
{
    ASSERT_NO_FATAL_FAILURE(quiesce_and_copy());
    RunResult s = src_->xsproxyctl({ "send", "5", "--ssh", receiver("--from-domid 5") }, 30000);
    ASSERT_EQ(0, s.exit_code) << s.out << s.err << src_->proxy_log() << dst_->proxy_log();
    EXPECT_NE(std::string::npos, s.err.find("done: domain 5 held")) << s.err;
    ASSERT_NO_FATAL_FAILURE(expect_moved());
}

// The link cut at 50 random moments - in either direction, after a random
// number of bytes - each time resumed over a new one: the transfer goes on
// from where it was acknowledged, and the guest ends served once, on the
// destination only.
TEST_P(XsproxyTransfer, CutAtFiftyMomentsAndResumed)
{
    std::mt19937 rng(GetParam() == Pairing{ XSSIM_OXENSTORED, XSSIM_XENSTORED } ? 11 : 12);
    int cuts = 0;
    for (int round = 0; cuts < 50; round++) {
        SCOPED_TRACE("round " + std::to_string(round));
        if (round) {   // two new hosts
            g_.reset();
            s0_.reset();
            src_.reset();
            dst_.reset();
            ASSERT_NO_FATAL_FAILURE(SetUp());
        }
        WireMsg r;
        // more stream (about 200 KB: acknowledgements come every 64 KiB),
        // within both daemons' quotas
        for (int i = 0; i < 250; i++)
            ASSERT_TRUE(g_->request(
                XS_WRITE, 0, wr("data/big/m" + std::to_string(i), std::string(600, 'z')), &r));
        ASSERT_EQ((uint32_t)XS_WRITE, r.type) << escape(r.body);
        ASSERT_NO_FATAL_FAILURE(quiesce_and_copy());
        RunResult s;
        for (int attempt = 0;; attempt++) {
            // a cut after a random number of bytes, either way (back: the
            // acknowledgements and the handshake, a few hundred bytes)
            bool forward = rng() % 3 != 0;
            std::string cut = "stdbuf -o0 head -c " +
                              std::to_string(forward ? rng() % 120000 : rng() % 400);
            std::vector<std::string> args = { "send", "5", "--timeout", "1.5" };
            if (attempt)
                args.push_back("--resume");
            args.push_back("--ssh");
            args.push_back(receiver("--from-domid 5 --resume", forward ? cut : "",
                                    forward ? "" : cut));
            s = src_->xsproxyctl(args, 30000);
            ASSERT_TRUE(s.exit_code == 3 || s.exit_code == 0)
                << "attempt " << attempt << " (" << (forward ? "forward " : "back ") << cut
                << "): " << s.exit_code << s.err << src_->proxy_log()
                << dst_->proxy_log() << read_text(dst_->dir() + "/receive.log");
            if (s.exit_code == 0)
                break;
            cuts++;
            RunResult st = src_->xsproxyctl({ "migrate-status", "5" });
            EXPECT_EQ(0, st.exit_code) << st.err;
        }
        EXPECT_NE(std::string::npos, s.err.find("done: domain 5 held")) << s.err;
        ASSERT_NO_FATAL_FAILURE(expect_moved());
    }
}

// Either xsproxy killed (kill -9) while the transfer is paused at a random
// point, started again on its journals, then the transfer resumed: the
// same outcome as without the crash.
TEST_P(XsproxyTransfer, EitherXsproxyKilledAtRandomPointsThenResumed)
{
    std::mt19937 rng(GetParam() == Pairing{ XSSIM_OXENSTORED, XSSIM_XENSTORED } ? 21 : 22);
    int kills = 0;
    for (int round = 0; round < 6; round++) {
        SCOPED_TRACE("round " + std::to_string(round));
        if (round) {
            g_.reset();
            s0_.reset();
            src_.reset();
            dst_.reset();
            ASSERT_NO_FATAL_FAILURE(SetUp());
        }
        ASSERT_NO_FATAL_FAILURE(quiesce_and_copy());
        RunResult s;
        for (int attempt = 0; attempt < 6; attempt++) {
            bool forward = rng() % 3 != 0;
            std::string cut = "stdbuf -o0 head -c " +
                              std::to_string(forward ? rng() % 60000 : rng() % 300);
            std::vector<std::string> args = { "send", "5", "--timeout", "1.5" };
            if (attempt)
                args.push_back("--resume");
            args.push_back("--ssh");
            args.push_back(receiver("--from-domid 5 --resume", forward ? cut : "",
                                    forward ? "" : cut));
            s = src_->xsproxyctl(args, 30000);
            if (s.exit_code == 0)
                break;
            ASSERT_EQ(3, s.exit_code) << s.err << src_->proxy_log();
            // kill -9 the source's or the destination's xsproxy, and start it again
            Store &victim = (round + attempt) % 2 ? *dst_ : *src_;
            std::string why;
            ASSERT_TRUE(victim.restart_proxy(&why)) << why;
            kills++;
            if (&victim == src_.get())
                s0_ = src_->dom0();
        }
        if (s.exit_code != 0)
            s = src_->xsproxyctl({ "send", "5", "--resume", "--ssh", receiver("--resume") },
                                 30000);
        ASSERT_EQ(0, s.exit_code) << s.err << src_->proxy_log() << dst_->proxy_log()
                                  << read_text(dst_->dir() + "/receive.log");
        ASSERT_NO_FATAL_FAILURE(expect_moved());
    }
    EXPECT_GE(kills, 6) << "the cuts rarely left a transfer to crash in";
}

INSTANTIATE_TEST_SUITE_P(Pairings, XsproxyTransfer,
                         ::testing::Values(Pairing{ XSSIM_OXENSTORED, XSSIM_XENSTORED },
                                           Pairing{ XSSIM_XENSTORED, XSSIM_OXENSTORED }),
                         [](const auto &info) {
                             return std::string(xssim_daemon_name(std::get<0>(info.param))) +
                                    "_to_" + xssim_daemon_name(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace xstest
