// test_proxy_transfer.cc - a guest sent from one simulated host to another
// over a link (xsproxyctl send / receive), for oxenstored -> C xenstored and
// C xenstored -> oxenstored: over a command's pipe (the ssh form) and TCP
// with a token; the link cut at many points, or either xsproxy killed, and
// resumed; bad peers and bad frames.  Each time the guest ends served on
// exactly one host: every request it had queued answered once, in order,
// its watches and open transaction there, its tree and answers the same as
// a direct run of its requests, nothing of it reaching the source's
// xenstored after the commit.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <fstream>
#include <random>
#include <string>
#include <tuple>

#include "sim_host.h"
#include "transfer_wire.h"
#include "workload.h"

namespace xstest {
namespace {

using Pairing = std::tuple<xssim_daemon, xssim_daemon>;

// What interrupts a transfer between two network namespaces.
enum class Interruption {
    kLinkCut,      // the interface taken down (packets dropped) or the connection reset
    kXsproxyKill,  // kill -9 of the source's or the destination's xsproxy, started again
};

std::string wr(const std::string &path, const std::string &value)
{
    return path + std::string(1, '\0') + value;
}

std::string ctl_path()
{
    return self_dir() + "/xsproxyctl";
}

int socket_connect_unix(const std::string &path)
{
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path.c_str());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// A hand-made peer: `transfer send|receive ...` on a connection of its
// own to one xsproxy, then frames both ways, as the other host's xsproxy
// would send them (or would never).
class Peer {
public:
    Peer(const std::string &socket, const std::vector<std::string> &args)
    {
        fd_ = socket_connect_unix(socket);
        std::string body = nul_join(args);
        xsd_sockmsg h{ XS_CONTROL, 1, 0, (uint32_t)body.size() };
        xsd_sockmsg r{};
        if (fd_ < 0 || write(fd_, &h, sizeof(h)) != sizeof(h) ||
            write(fd_, body.data(), body.size()) != (ssize_t)body.size() ||
            !read_exact(&r, sizeof(r)))
            return;
        std::string rb(r.len, '\0');
        ok_ = read_exact(&rb[0], r.len) && r.type == XS_CONTROL;
    }
    ~Peer()
    {
        if (fd_ >= 0)
            close(fd_);
    }
    bool ok() const { return ok_; }
    void send(const tw_frame &f)
    {
        std::vector<uint8_t> b(TW_HDR_LEN + TW_PAYLOAD_MAX);
        size_t n = tw_build(&f, b.data());
        ASSERT_GT(n, 0u);
        ASSERT_EQ((ssize_t)n, write(fd_, b.data(), n));
    }
    void send_raw(const std::string &bytes)
    {
        ASSERT_EQ((ssize_t)bytes.size(), write(fd_, bytes.data(), bytes.size()));
    }
    // The next frame other than REPORT and PING; type 0 when the link
    // closed or nothing came in TIMEOUT_MS.  DATA's bytes are kept in DATA.
    tw_frame next(std::string *data = nullptr, int timeout_ms = 5000)
    {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            tw_frame f{};
            size_t used = 0;
            char err[128];
            int rc = tw_parse((const uint8_t *)buf_.data(), buf_.size(), &f, &used, err,
                              sizeof(err));
            if (rc < 0) {
                ADD_FAILURE() << err;
                return tw_frame{};
            }
            if (rc == 1) {
                if (data && f.data)
                    data->assign((const char *)f.data, f.data_len);
                if (f.type == TW_ERROR)
                    last_error_.assign((const char *)f.data, f.data_len);
                buf_.erase(0, used);
                if (f.type == TW_REPORT || f.type == TW_PING)
                    continue;
                f.data = nullptr;
                return f;
            }
            int left = (int)std::chrono::duration_cast<std::chrono::milliseconds>(
                           deadline - std::chrono::steady_clock::now())
                           .count();
            pollfd p{ fd_, POLLIN, 0 };
            if (left <= 0 || poll(&p, 1, left) <= 0)
                return tw_frame{};
            char chunk[65536];
            ssize_t n = read(fd_, chunk, sizeof(chunk));
            if (n <= 0) {
                closed_ = true;
                return tw_frame{};
            }
            buf_.append(chunk, (size_t)n);
        }
    }
    bool closed() const { return closed_; }
    const std::string &last_error() const { return last_error_; }

private:
    bool read_exact(void *p, size_t n)
    {
        for (size_t got = 0; got < n;) {
            ssize_t r = read(fd_, (char *)p + got, n - got);
            if (r <= 0)
                return false;
            got += (size_t)r;
        }
        return true;
    }
    int fd_ = -1;
    bool ok_ = false, closed_ = false;
    std::string buf_, last_error_;
};

class XsproxyTransfer : public ::testing::TestWithParam<Pairing> {
protected:
    void SetUp() override
    {
        src_ = std::make_unique<Store>(std::get<0>(GetParam()), true);
        dst_ = std::make_unique<Store>(std::get<1>(GetParam()), true);
        ASSERT_TRUE(src_->ok() && dst_->ok());
        s0_ = src_->dom0();
        ASSERT_TRUE(s0_);
        ASSERT_NO_FATAL_FAILURE(populate());
    }

    // The next guest to move, on the same two hosts: source domain S()+1,
    // destination D()+1.
    void next_guest()
    {
        sid_++;
        did_++;
        sent_.clear();
        ASSERT_NO_FATAL_FAILURE(populate());
    }
    std::string S() const { return std::to_string(sid_); }
    std::string D() const { return std::to_string(did_); }

    // Source domain S() made, with nodes and watches.
    void populate()
    {
        ASSERT_TRUE(src_->create_domain(sid_));
        g_ = src_->guest(sid_);
        ASSERT_TRUE(g_);
        // a subtree big enough for the stream to take several frames
        std::vector<WireMsg> reqs;
        for (int i = 0; i < 200; i++)
            reqs.push_back(WireMsg{ XS_WRITE, 0, 0,
                                    wr("data/n" + std::to_string(i), std::string(200, 'a' + i % 26)) });
        for (int i = 0; i < 20; i++)
            reqs.push_back(WireMsg{
                XS_WATCH, 0, 0, nul_join({ "data/w" + std::to_string(i), "t" + std::to_string(i) }) });
        ASSERT_NO_FATAL_FAILURE(send_all(reqs));
        WireMsg ev;
        while (g_->next_event(&ev, 200) == 1) {
        }
        tx_ = 0;
    }

    // A request of the guest's, kept for the direct run (TX: 0, or tx_).
    bool req(uint32_t type, uint32_t tx, const std::string &body, WireMsg *r)
    {
        sent_.push_back({ type, tx != 0, body });
        return g_->request(type, tx, body, r);
    }

    // REQS (outside a transaction) pipelined, each answered as it asked,
    // kept for the direct run.
    void send_all(std::vector<WireMsg> &reqs)
    {
        std::vector<WireMsg> reps;
        std::string err;
        for (const auto &m : reqs)
            sent_.push_back({ m.type, false, m.body });
        ASSERT_TRUE(pipeline(*g_, reqs, &reps, 8, &err)) << err;
        for (size_t i = 0; i < reqs.size(); i++)
            ASSERT_EQ(reqs[i].type, reps[i].type) << escape(reps[i].body);
    }

    // More stream (about 200 KB: acknowledgements come every 64 KiB),
    // within both daemons' quotas: a transfer that takes a while.
    void add_bulk()
    {
        std::vector<WireMsg> reqs;
        for (int i = 0; i < 250; i++)
            reqs.push_back(
                WireMsg{ XS_WRITE, 0, 0, wr("data/big/m" + std::to_string(i), std::string(600, 'z')) });
        ASSERT_NO_FATAL_FAILURE(send_all(reqs));
    }

    // An open transaction of the guest's, which goes with it.  (Only where
    // a test moves one guest: C xenstored 4.17 slows every write by about
    // 30 ms while any transaction is open, and the source's daemon keeps a
    // moved guest's connection, so its transactions, until the domain dies.)
    void open_transaction()
    {
        WireMsg r;
        ASSERT_TRUE(req(XS_WRITE, 0, wr("data/intx", "0"), &r));
        ASSERT_TRUE(req(XS_TRANSACTION_START, 0, std::string(1, '\0'), &r));
        tx_ = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
        ASSERT_NE(0u, tx_);
        ASSERT_TRUE(req(XS_READ, tx_, nul_join({ "data/n1" }), &r));
        ASSERT_TRUE(req(XS_WRITE, tx_, wr("data/intx", "1"), &r));
        ASSERT_EQ((uint32_t)XS_WRITE, r.type) << escape(r.body);
    }

    // The requests the guest queues while it is quiesced, held on its ring
    // (req_ids kHeldId...): writes after writes to one node, the
    // write-after-write case, then a read of it.
    static std::vector<std::pair<uint32_t, std::string>> held_requests()
    {
        return { { XS_WRITE, wr("data/held", "1") },
                 { XS_MKDIR, nul_join({ "data/heldir" }) },
                 { XS_WRITE, wr("data/held", "2") },
                 { XS_RM, nul_join({ "data/n0" }) },
                 { XS_WRITE, wr("data/held", "once") },
                 { XS_READ, nul_join({ "data/held" }) } };
    }
    static constexpr uint32_t kHeldId = 4242;

    // The held requests onto G's ring, their replies not waited for.
    static void send_held(RingConn &g)
    {
        uint32_t id = kHeldId;
        for (const auto &h : held_requests())
            ASSERT_TRUE(g.send(WireMsg{ h.first, id++, 0, h.second }));
    }

    // What a toolstack does before the xenstore state goes: the guest is
    // quiesced (its requests left held on its ring), its memory - the ring
    // page - copied into the domain on the other host.
    void quiesce_and_copy()
    {
        ASSERT_EQ(0, src_->xsproxyctl({ "quiesce", S() }).exit_code);
        ASSERT_NO_FATAL_FAILURE(send_held(*g_));
        sleep_ms(100);
        ASSERT_TRUE(dst_->create_domain(did_, false));
        std::ifstream in(src_->dir() + "/mem/dom" + S(), std::ios::binary);
        std::string page((std::istreambuf_iterator<char>(in)), {});
        ASSERT_EQ(4096u, page.size());
        std::ofstream out(dst_->dir() + "/mem/dom" + D(), std::ios::binary | std::ios::in);
        out.write(page.data(), (std::streamsize)page.size());
    }

    // The receiving side as a command for `send --ssh`; FILTER_IN and
    // FILTER_OUT (shell) sit in the link's two directions.
    std::string receiver(const std::string &extra, const std::string &filter_in = "",
                         const std::string &filter_out = "")
    {
        std::string cmd = ctl_path() + " --socket " + dst_->store_socket() + " receive " + D() + " --timeout 1.5 " + extra +
                          " 2>>" + dst_->dir() + "/receive.log";
        if (!filter_in.empty())
            cmd = filter_in + " | " + cmd;
        if (!filter_out.empty())
            cmd += " | " + filter_out;
        return cmd;
    }

    // The replies to the held requests on G, each expected once and in
    // order: "type body" each.  (The restored watches' first events come
    // too, and on a loaded machine a pause may fall between them and the
    // replies: wait for the last reply itself, then long enough for a
    // repeated one to show.)
    std::vector<std::string> held_replies(RingConn &g, const std::string &log)
    {
        const size_t n = held_requests().size();
        std::vector<std::string> got;
        std::vector<int> count(n, 0);
        WireMsg rep;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        auto take = [&] {
            if (rep.type == XS_WATCH_EVENT || rep.req_id < kHeldId || rep.req_id >= kHeldId + n)
                return;
            size_t i = rep.req_id - kHeldId;
            EXPECT_EQ(got.size(), i) << "the held requests' replies out of order\n" << log;
            count[i]++;
            got.push_back(type_name(rep.type) + " " + escape(rep.body));
        };
        while (count[n - 1] == 0 && std::chrono::steady_clock::now() < deadline)
            if (g.recv(&rep, 300) == 1)
                take();
        while (g.recv(&rep, 150) == 1)   // a repeated reply would follow at once
            take();
        for (size_t i = 0; i < n; i++)
            EXPECT_EQ(1, count[i]) << "replies to held request " << i << "\n" << log;
        return got;
    }

    // The differential check: the guest's requests - those before the
    // move, then the held ones - run directly on a store of the
    // destination's daemon, as domain D(): the same answers to the held
    // requests, the same tree.
    void expect_as_direct(const std::vector<std::string> &replies)
    {
        if (!direct_) {
            direct_ = std::make_unique<Store>(std::get<1>(GetParam()), false);
            ASSERT_TRUE(direct_->ok());
        }
        ASSERT_TRUE(direct_->create_domain(did_));
        auto g = direct_->guest(did_);
        ASSERT_TRUE(g);
        // pipelined, up to each TRANSACTION_START, whose id the rest needs
        uint32_t tx = 0;
        for (size_t k = 0; k < sent_.size();) {
            std::vector<WireMsg> reqs, reps;
            do {
                const Sent &m = sent_[k++];
                reqs.push_back(WireMsg{ m.type, 0, m.in_tx ? tx : 0, m.body });
            } while (k < sent_.size() && reqs.back().type != XS_TRANSACTION_START);
            std::string err;
            ASSERT_TRUE(pipeline(*g, reqs, &reps, 8, &err)) << err;
            if (reqs.back().type == XS_TRANSACTION_START)
                tx = (uint32_t)strtoul(reps.back().body.c_str(), nullptr, 10);
        }
        ASSERT_NO_FATAL_FAILURE(send_held(*g));
        EXPECT_EQ(held_replies(*g, ""), replies) << "the held requests' answers, directly";
        auto d0 = direct_->dom0(), m0 = dst_->dom0();
        ASSERT_TRUE(d0 && m0);
        std::string base = "/local/domain/" + D() + "/data";
        auto want = subtree(*d0, base, D()), got = subtree(*m0, base, D());
        EXPECT_FALSE(want.empty());
        for (const auto &w : want)
            EXPECT_EQ(w.second, got.count(w.first) ? got[w.first] : "(missing)") << w.first;
        for (const auto &o : got)
            EXPECT_TRUE(want.count(o.first)) << o.first << " only through the transfer";
    }

    // The guest is served on the destination: each held request answered
    // once, in order, as a direct run answers it, the watches fire there;
    // it is gone from the source.
    void expect_moved()
    {
        auto g7 = dst_->guest(did_);
        ASSERT_TRUE(g7);
        std::vector<std::string> replies = held_replies(*g7, dst_->proxy_log());
        ASSERT_NO_FATAL_FAILURE(expect_as_direct(replies));
        auto d0 = dst_->dom0();
        ASSERT_TRUE(d0);
        WireMsg r;
        ASSERT_TRUE(d0->request(XS_READ, 0, nul_join({ "/local/domain/" + D() + "/data/held" }), &r));
        EXPECT_EQ("once", r.body);
        ASSERT_TRUE(d0->request(XS_READ, 0, nul_join({ "/local/domain/" + D() + "/data/n7" }), &r));
        EXPECT_EQ(std::string(200, 'h'), r.body);
        if (r.type == XS_ERROR) {
            WireMsg dir;
            d0->request(XS_DIRECTORY, 0, nul_join({ "/local/domain/" + D() + "/data" }), &dir);
            ADD_FAILURE() << escape(dir.body).substr(0, 600);
        }
        WireMsg ev;
        while (g7->next_event(&ev, 100) == 1) {
        }
        ASSERT_TRUE(d0->request(XS_WRITE, 0, wr("/local/domain/" + D() + "/data/w3", "x"), &r));
        ASSERT_EQ(1, g7->next_event(&ev, 3000));
        EXPECT_EQ(nul_join({ "data/w3", "t3" }), ev.body);
        // the source: the request never reached its xenstored, resume is refused
        ASSERT_TRUE(s0_->request(XS_READ, 0, nul_join({ "/local/domain/" + S() + "/data/held" }), &r));
        EXPECT_EQ((uint32_t)XS_ERROR, r.type) << "served on the source too";
        EXPECT_NE(0, src_->xsproxyctl({ "resume", S() }).exit_code);
        EXPECT_NE(0, src_->xsproxyctl({ "send", S(), "--abort" }).exit_code);
        if (!tx_)
            return;
        // the open transaction goes on there and commits
        ASSERT_TRUE(g7->request(XS_READ, tx_, nul_join({ "data/intx" }), &r));
        EXPECT_EQ("1", r.body);
        ASSERT_TRUE(g7->request(XS_TRANSACTION_END, tx_, nul_join({ "T" }), &r));
        EXPECT_EQ((uint32_t)XS_TRANSACTION_END, r.type) << escape(r.body) << dst_->proxy_log();
        ASSERT_TRUE(d0->request(XS_READ, 0, nul_join({ "/local/domain/" + D() + "/data/intx" }),
                                &r));
        EXPECT_EQ("1", r.body);
    }

    // Domain 5 still runs on the source, nothing of it on the destination.
    void expect_stayed()
    {
        ASSERT_EQ(0, src_->xsproxyctl({ "resume", S() }).exit_code);
        held_replies(*g_, src_->proxy_log());
        RunResult l = dst_->xsproxyctl({ "list", D() });
        EXPECT_NE(0, l.exit_code) << l.out;
    }

    void move_across(Interruption how, int moments);   // below, after NetPair

    struct Sent {
        uint32_t type;
        bool in_tx;   // in the open transaction
        std::string body;
    };
    std::unique_ptr<Store> src_, dst_;
    std::unique_ptr<Store> direct_;   // the destination's daemon without xsproxy
    std::vector<Sent> sent_;          // the guest's requests before the move
    unsigned sid_ = 5, did_ = 7;   // the guest on the source, on the destination
    uint32_t tx_ = 0;              // its open transaction
    std::unique_ptr<RingConn> g_;
    std::unique_ptr<SockConn> s0_;
};

TEST_P(XsproxyTransfer, OverACommandsPipeTheGuestMovesOnce)
{
    ASSERT_NO_FATAL_FAILURE(open_transaction());
    ASSERT_NO_FATAL_FAILURE(quiesce_and_copy());
    RunResult s = src_->xsproxyctl({ "send", "5", "--ssh", receiver("--from-domid 5") }, 30000);
    ASSERT_EQ(0, s.exit_code) << s.out << s.err << src_->proxy_log() << dst_->proxy_log();
    EXPECT_NE(std::string::npos, s.err.find("done: domain 5 held")) << s.err;
    ASSERT_NO_FATAL_FAILURE(expect_moved());
}

// The link cut at 20 random moments - in either direction, after a random
// number of bytes, so also inside a frame - each time resumed over a new one
// (the namespace tests below cut it 50 times more, by time): the transfer
// goes on from where it was acknowledged, and the guest ends served once, on
// the destination only.
TEST_P(XsproxyTransfer, CutAfterRandomByteCountsAndResumed)
{
    std::mt19937 rng(GetParam() == Pairing{ XSSIM_OXENSTORED, XSSIM_XENSTORED } ? 11 : 12);
    int cuts = 0;
    for (int round = 0; cuts < 20; round++) {
        SCOPED_TRACE("round " + std::to_string(round));
        if (round) {
            ASSERT_NO_FATAL_FAILURE(next_guest());
        }
        ASSERT_NO_FATAL_FAILURE(add_bulk());
        ASSERT_NO_FATAL_FAILURE(quiesce_and_copy());
        RunResult s;
        for (int attempt = 0;; attempt++) {
            // a cut after a random number of bytes, either way (back: the
            // acknowledgements and the handshake, a few hundred bytes)
            bool forward = rng() % 3 != 0;
            std::string cut = "stdbuf -o0 head -c " +
                              std::to_string(forward ? rng() % 120000 : rng() % 400);
            std::vector<std::string> args = { "send", S(), "--timeout", "1.5" };
            if (attempt)
                args.push_back("--resume");
            args.push_back("--ssh");
            args.push_back(receiver("--from-domid " + S() + " --resume", forward ? cut : "",
                                    forward ? "" : cut));
            s = src_->xsproxyctl(args, 30000);
            ASSERT_TRUE(s.exit_code == 3 || s.exit_code == 0)
                << "attempt " << attempt << " (" << (forward ? "forward " : "back ") << cut
                << "): " << s.exit_code << s.err << src_->proxy_log()
                << dst_->proxy_log() << read_text(dst_->dir() + "/receive.log");
            if (s.exit_code == 0)
                break;
            cuts++;
            RunResult st = src_->xsproxyctl({ "migrate-status", S() });
            EXPECT_EQ(0, st.exit_code) << st.err;
        }
        EXPECT_NE(std::string::npos, s.err.find("done: domain " + S() + " held")) << s.err;
        ASSERT_NO_FATAL_FAILURE(expect_moved());
    }
}

// A filter for a link's direction: frames pass until one of type TYPE,
// where the direction ends.
std::string frames_until(tw_type type)
{
    return "python3 -c 'import sys\n"
           "i, o = sys.stdin.buffer, sys.stdout.buffer\n"
           "while True:\n"
           "    h = i.read(16)\n"
           "    if len(h) < 16 or h[4] == " + std::to_string((int)type) + ":\n"
           "        break\n"
           "    o.write(h + i.read(int.from_bytes(h[8:12], \"little\")))\n"
           "    o.flush()'";
}

// Aborted before the commit, the guest stays where it was: a transfer
// paused by a broken link, then aborted by both toolstacks - the
// destination's first while it has only part of the stream, or the
// source's first once the destination holds the domain (the destination
// then refuses without force: for all it knows the source committed) -
// leaves the guest served on the source, its held requests answered there
// once, and nothing of it in the destination's xsproxy or xenstored's
// domains (its restored nodes go when that host's toolstack destroys the
// domain it made for the migration, as after a failed `xl migrate`).
TEST_P(XsproxyTransfer, AbortedBeforeTheCommitTheGuestStaysOnTheSource)
{
    for (int round = 0; round < 2; round++) {
        SCOPED_TRACE(round ? "the destination holds it" : "the destination has part of it");
        if (round) {
            ASSERT_NO_FATAL_FAILURE(next_guest());
        }
        ASSERT_NO_FATAL_FAILURE(quiesce_and_copy());
        std::string rx = round ? receiver("--from-domid " + S(), "", frames_until(TW_HELD))
                               : receiver("--from-domid " + S(), "stdbuf -o0 head -c 20000");
        RunResult s = src_->xsproxyctl({ "send", S(), "--timeout", "1", "--ssh", rx }, 30000);
        ASSERT_EQ(3, s.exit_code) << s.err << src_->proxy_log();
        RunResult st = src_->xsproxyctl({ "migrate-status", S() });
        EXPECT_NE(std::string::npos, st.out.find("sending")) << st.out;
        RunResult dst = dst_->xsproxyctl({ "migrate-status", D() });
        EXPECT_NE(std::string::npos, dst.out.find(round ? "held" : "receiving")) << dst.out;
        if (round) {
            RunResult held = dst_->xsproxyctl({ "receive", D(), "--abort" });
            EXPECT_NE(0, held.exit_code) << held.out;
            EXPECT_NE(std::string::npos, (held.out + held.err).find("force")) << held.out << held.err;
            RunResult a = src_->xsproxyctl({ "send", S(), "--abort" });
            EXPECT_EQ(0, a.exit_code) << a.err << src_->proxy_log();
            RunResult b = dst_->xsproxyctl({ "receive", D(), "--abort", "--force" });
            EXPECT_EQ(0, b.exit_code) << b.err << dst_->proxy_log();
        } else {
            RunResult b = dst_->xsproxyctl({ "receive", D(), "--abort" });
            EXPECT_EQ(0, b.exit_code) << b.err << dst_->proxy_log();
            RunResult a = src_->xsproxyctl({ "send", S(), "--abort" });
            EXPECT_EQ(0, a.exit_code) << a.err << src_->proxy_log();
            EXPECT_NE(std::string::npos, a.out.find("runs here")) << a.out;
        }
        EXPECT_NE(0, dst_->xsproxyctl({ "migrate-status", D() }).exit_code);
        ASSERT_NO_FATAL_FAILURE(expect_stayed());
        WireMsg r;
        ASSERT_TRUE(s0_->request(XS_READ, 0, nul_join({ "/local/domain/" + S() + "/data/held" }),
                                 &r));
        EXPECT_EQ("once", r.body) << "the held requests were not served on the source";
        auto d0 = dst_->dom0();
        ASSERT_TRUE(d0);
        ASSERT_TRUE(d0->request(XS_IS_DOMAIN_INTRODUCED, 0, nul_join({ D() }), &r));
        EXPECT_STREQ("F", r.body.c_str()) << "the destination's xenstored still has the domain";
    }
}

// At the source: acknowledgements twice, out of order, past what was sent,
// and frames a destination never sends - each a clear error on the link,
// and nothing changes: the transfer resumes and completes afterwards.
TEST_P(XsproxyTransfer, BadAcknowledgementsAreRefusedAndChangeNothing)
{
    ASSERT_NO_FATAL_FAILURE(quiesce_and_copy());
    struct Case {
        const char *what;
        int ack;   // 0: the first DATA's end again; 1: past what was sent; 2: a COMMIT
    } cases[] = { { "an acknowledgement twice", 0 },
                  { "an acknowledgement past what was sent", 1 },
                  { "a COMMIT from the destination", 2 } };
    {   // the transfer starts: the source quiesces, saves, says HELLO
        Peer first(src_->store_socket(), { "transfer", "send", "5" });
        ASSERT_TRUE(first.ok()) << src_->proxy_log();
        ASSERT_EQ(TW_HELLO, first.next().type);
    }
    // the real checks, on links that resume the transfer started above
    for (const auto &c : cases) {
        SCOPED_TRACE(c.what);
        Peer p(src_->store_socket(), { "transfer", "send", "5", "resume" });
        ASSERT_TRUE(p.ok()) << src_->proxy_log();
        tw_frame h = p.next();
        ASSERT_EQ(TW_HELLO, h.type);
        tw_frame st{};
        st.type = TW_STATE;
        memcpy(st.id, h.id, TW_ID_LEN);
        st.phase = TW_PHASE_RECEIVING;
        p.send(st);
        std::string data;
        tw_frame d = p.next(&data);
        ASSERT_EQ(TW_DATA, d.type);
        tw_frame a{};
        a.type = TW_ACK;
        a.length = data.size();
        if (c.ack == 0) {
            p.send(a);
            p.send(a);
        } else if (c.ack == 1) {
            a.length = h.length + 1;
            p.send(a);
        } else {
            tw_frame commit{};
            commit.type = TW_COMMIT;
            p.send(commit);
        }
        while (p.next().type != 0) {
        }
        EXPECT_TRUE(p.closed());
        EXPECT_FALSE(p.last_error().empty());
        RunResult st2 = src_->xsproxyctl({ "migrate-status", "5" });
        EXPECT_NE(std::string::npos, st2.out.find("sending")) << st2.out;
    }
    // nothing changed: the guest still waits on the source, and the real
    // transfer completes
    WireMsg r;
    ASSERT_TRUE(s0_->request(XS_READ, 0, nul_join({ "/local/domain/5/data/held" }), &r));
    EXPECT_EQ((uint32_t)XS_ERROR, r.type);
    RunResult s = src_->xsproxyctl({ "send", "5", "--resume", "--ssh",
                                     receiver("--from-domid 5") }, 30000);
    ASSERT_EQ(0, s.exit_code) << s.err << src_->proxy_log() << dst_->proxy_log();
    ASSERT_NO_FATAL_FAILURE(expect_moved());
}

// At the destination: a frame with a bad CRC, bytes that are no frame, a
// stream out of order - each a clear error; nothing of the domain there,
// and an abort leaves nothing at all.
TEST_P(XsproxyTransfer, CorruptOrMisplacedFramesAtTheDestinationChangeNothing)
{
    std::string stream(5000, 'x');
    tw_frame hello{};
    hello.type = TW_HELLO;
    memset(hello.id, 7, TW_ID_LEN);
    hello.src_domid = 5;
    hello.length = stream.size();
    hello.crc = tw_crc32(0, (const uint8_t *)stream.data(), stream.size());
    for (int kind = 0; kind < 3; kind++) {
        SCOPED_TRACE(kind);
        Peer p(dst_->store_socket(), { "transfer", "receive", "7", "5", "resume" });
        ASSERT_TRUE(p.ok()) << dst_->proxy_log();
        p.send(hello);
        tw_frame st = p.next();
        ASSERT_EQ(TW_STATE, st.type);
        EXPECT_EQ((uint32_t)TW_PHASE_RECEIVING, st.phase);
        if (kind == 0) {   // a DATA frame whose payload changed on the way
            std::vector<uint8_t> b(TW_HDR_LEN + TW_PAYLOAD_MAX);
            tw_frame d{};
            d.type = TW_DATA;
            d.length = st.length;
            d.data = (const uint8_t *)stream.data();
            d.data_len = 1000;
            size_t n = tw_build(&d, b.data());
            b[TW_HDR_LEN + 20] ^= 1;
            p.send_raw(std::string((const char *)b.data(), n));
        } else if (kind == 1) {
            p.send_raw("GET / HTTP/1.0\r\n\r\n");
        } else {   // stream bytes from the wrong offset
            tw_frame d{};
            d.type = TW_DATA;
            d.length = st.length + 100;
            d.data = (const uint8_t *)stream.data();
            d.data_len = 10;
            p.send(d);
        }
        while (p.next().type != 0) {
        }
        EXPECT_TRUE(p.closed());
        EXPECT_EQ(0u, st.length) << "bytes were kept from a bad frame";
        EXPECT_NE(0, dst_->xsproxyctl({ "list", "7" }).exit_code);
    }
    RunResult a = dst_->xsproxyctl({ "receive", "7", "--abort" });
    EXPECT_EQ(0, a.exit_code) << a.err << dst_->proxy_log();
    EXPECT_NE(0, dst_->xsproxyctl({ "migrate-status", "7" }).exit_code);
}

// TCP: the receiving side listens with a token; a peer without it is
// turned away, the one with it gets the domain.
TEST_P(XsproxyTransfer, OverTcpOnlyThePeerWithTheTokenIsTaken)
{
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    ASSERT_EQ(0, bind(probe, (sockaddr *)&sa, sizeof(sa)));
    ASSERT_EQ(0, getsockname(probe, (sockaddr *)&sa, &sl));
    close(probe);
    std::string where = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
    ASSERT_NO_FATAL_FAILURE(quiesce_and_copy());
    Child rx = dst_->host().spawn({ ctl_path(), "--socket", dst_->store_socket(), "receive", "7",
                             "--from-domid", "5", "--listen", where, "--token", "s3cret" });
    // the listener is up once a connection is taken
    int bad = -1;
    for (int i = 0; i < 200 && bad < 0; i++) {
        bad = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(bad, (sockaddr *)&sa, sizeof(sa)) < 0) {
            close(bad);
            bad = -1;
            sleep_ms(10);
        }
    }
    ASSERT_GE(bad, 0);
    const char wrong[] = "XSPT-TOKEN guess\n";
    ASSERT_EQ((ssize_t)strlen(wrong), write(bad, wrong, strlen(wrong)));
    char answer[16] = "";
    ssize_t n = read(bad, answer, sizeof(answer) - 1);
    close(bad);
    EXPECT_EQ("DENIED\n", std::string(answer, n > 0 ? (size_t)n : 0));
    RunResult s = src_->xsproxyctl({ "send", "5", "--to", where, "--token", "s3cret" }, 30000);
    RunResult r = finish_program(rx, 10000);
    ASSERT_EQ(0, s.exit_code) << s.err << src_->proxy_log() << dst_->proxy_log();
    EXPECT_EQ(0, r.exit_code) << r.out << r.err;
    EXPECT_NE(std::string::npos, r.out.find("token s3cret")) << r.out;
    ASSERT_NO_FATAL_FAILURE(expect_moved());
}

// A guest of its own on a host, busy with serial WRITE and READ on a thread
// of its own until stop(): every request must be answered.
class Busy {
public:
    Busy(Store &host, unsigned domid) : ok_(host.create_domain(domid))
    {
        if (ok_)
            g_ = host.guest(domid);
        ok_ = ok_ && g_;
        if (ok_)
            t_ = std::thread([this] { run(); });
    }
    ~Busy() { stop(); }
    // the requests answered, or -1 when one was not
    long stop()
    {
        stop_ = true;
        if (t_.joinable())
            t_.join();
        return ok_ ? done_.load() : -1L;
    }

private:
    void run()
    {
        for (long i = 0; !stop_ && ok_; i++) {
            WireMsg r;
            std::string v = std::to_string(i);
            if (!g_->request(XS_WRITE, 0, wr("data/busy", v), &r, 10000) ||
                r.type != XS_WRITE || !g_->request(XS_READ, 0, nul_join({ "data/busy" }), &r,
                                                   10000) ||
                r.body != v)
                ok_ = false;
            else
                done_ += 2;
        }
    }
    std::atomic<bool> ok_{ false }, stop_{ false };
    std::atomic<long> done_{ 0 };
    std::unique_ptr<RingConn> g_;
    std::thread t_;
};

// Two network namespaces joined by a veth pair, made here and removed
// after: each host's xsproxyctl in its own, talking TCP across.
class NetPair {
public:
    NetPair()
    {
        std::string id = std::to_string(getpid());
        a_ = "xspt" + id + "a";
        b_ = "xspt" + id + "b";
        va_ = "xa" + id;
        vb_ = "xb" + id;
        ok_ = ip({ "netns", "add", a_ }) && ip({ "netns", "add", b_ }) &&
              ip({ "link", "add", va_, "netns", a_, "type", "veth", "peer", "name", vb_,
                   "netns", b_ }) &&
              ip({ "-n", a_, "addr", "add", "10.77.0.1/24", "dev", va_ }) &&
              ip({ "-n", b_, "addr", "add", "10.77.0.2/24", "dev", vb_ }) &&
              ip({ "-n", a_, "link", "set", va_, "up" }) &&
              ip({ "-n", b_, "link", "set", vb_, "up" });
    }
    ~NetPair()
    {
        ip({ "netns", "del", a_ });   // the veth pair goes with them
        ip({ "netns", "del", b_ });
    }
    bool ok() const { return ok_; }
    bool ip(const std::vector<std::string> &args)
    {
        std::vector<std::string> argv = { "ip" };
        argv.insert(argv.end(), args.begin(), args.end());
        RunResult r = run_program(argv);
        if (!r.ok())
            ADD_FAILURE() << "ip " << args[0] << " " << args[1] << ": " << r.err;
        return r.ok();
    }
    std::vector<std::string> in_a(const std::vector<std::string> &argv)
    {
        std::vector<std::string> v = { "ip", "netns", "exec", a_ };
        v.insert(v.end(), argv.begin(), argv.end());
        return v;
    }
    std::vector<std::string> in_b(const std::vector<std::string> &argv)
    {
        std::vector<std::string> v = { "ip", "netns", "exec", b_ };
        v.insert(v.end(), argv.begin(), argv.end());
        return v;
    }
    const std::string &a() const { return a_; }
    const std::string &va() const { return va_; }

private:
    std::string a_, b_, va_, vb_;
    bool ok_ = false;
};

// The source's xsproxyctl in one namespace, the destination's in another,
// TCP over the veth pair, guests busy on both hosts; one guest after
// another moved, each transfer interrupted at a random moment of the
// transfer and handshake, until MOMENTS interruptions fell inside one, and
// resumed each time over a new connection.
void XsproxyTransfer::move_across(Interruption how, int moments)
{
    NetPair net;
    ASSERT_TRUE(net.ok());
    Busy busy_src(*src_, 200), busy_dst(*dst_, 201);   // the hosts' other guests
    std::mt19937 rng((GetParam() == Pairing{ XSSIM_OXENSTORED, XSSIM_XENSTORED } ? 31 : 32) +
                     (how == Interruption::kXsproxyKill ? 10 : 0));
    int hits = 0, downs = 0, resets = 0, kills[2] = { 0, 0 };
    for (int round = 0; hits < moments; round++) {
        SCOPED_TRACE("round " + std::to_string(round));
        if (round) {
            ASSERT_NO_FATAL_FAILURE(next_guest());
        }
        ASSERT_NO_FATAL_FAILURE(add_bulk());
        ASSERT_NO_FATAL_FAILURE(quiesce_and_copy());
        for (int attempt = 0;; attempt++) {
            std::string port = std::to_string(20000 + (rng() % 20000));
            Child rx = spawn_program(
                net.in_b({ ctl_path(), "--socket", dst_->store_socket(), "receive", D(),
                           "--from-domid", S(), "--resume", "--listen", "10.77.0.2:" + port,
                           "--token", "tok", "--timeout", "1" }),
                {});
            // its first line says it listens
            char c;
            std::string line;
            while (read(rx.out_fd, &c, 1) == 1 && c != '\n')
                line += c;
            ASSERT_NE(std::string::npos, line.find("listening")) << line;
            std::vector<std::string> send = { ctl_path(), "--socket", src_->store_socket(),
                                              "send", S(), "--to", "10.77.0.2:" + port,
                                              "--token", "tok", "--timeout", "1" };
            if (attempt)
                send.push_back("--resume");
            std::string line_of_send;
            for (const auto &a : send)
                line_of_send += a + " ";
            // (its messages on the pipe too: the moment starts once its
            // link is up, so that it falls inside the transfer)
            Child tx = spawn_program(net.in_a({ "sh", "-c", line_of_send + "2>&1" }), {});
            line.clear();
            while (line.find("link up") == std::string::npos && read(tx.out_fd, &c, 1) == 1)
                line += c;
            bool hit = hits < moments, down = false;
            int victim = -1;   // 0: the source's xsproxy, 1: the destination's
            if (hit) {
                sleep_ms((int)(rng() % 80));
                if (how == Interruption::kXsproxyKill) {
                    victim = (int)(rng() % 2);
                    std::string why;
                    ASSERT_TRUE((victim ? *dst_ : *src_).restart_proxy(&why)) << why;
                    if (!victim)
                        s0_ = src_->dom0();
                } else if ((down = rng() % 5 == 0)) {
                    net.ip({ "-n", net.a(), "link", "set", net.va(), "down" });
                } else {
                    run_program(net.in_a({ "ss", "-K", "dst", "10.77.0.2" }));
                }
            }
            RunResult t = finish_program(tx, 30000);
            // (one still waiting for a peer that never came is stopped)
            RunResult r = finish_program(rx, 1500);
            if (down)
                net.ip({ "-n", net.a(), "link", "set", net.va(), "up" });
            ASSERT_TRUE(t.exit_code == 0 || t.exit_code == 3)
                << t.exit_code << line << t.out << src_->proxy_log() << dst_->proxy_log();
            if (t.exit_code == 0)
                break;
            if (hit) {   // it fell inside the transfer
                hits++;
                if (victim >= 0)
                    kills[victim]++;
                else if (down)
                    downs++;
                else
                    resets++;
            }
            ASSERT_LT(attempt, 60) << "the transfer does not get through";
        }
        ASSERT_NO_FATAL_FAILURE(expect_moved());
    }
    EXPECT_GT(busy_src.stop(), 0) << "the source's other guest was not served throughout";
    EXPECT_GT(busy_dst.stop(), 0) << "the destination's other guest was not served throughout";
    if (how == Interruption::kLinkCut) {
        EXPECT_GT(downs, 4);
        EXPECT_GT(resets, 5);
    } else {
        EXPECT_GT(kills[0], 10) << "the source's xsproxy killed inside a transfer";
        EXPECT_GT(kills[1], 10) << "the destination's xsproxy killed inside a transfer";
    }
}

TEST_P(XsproxyTransfer, BetweenTwoNetworkNamespacesTheLinkCutFiftyTimes)
{
    move_across(Interruption::kLinkCut, 50);
}

TEST_P(XsproxyTransfer, BetweenTwoNetworkNamespacesEitherXsproxyKilledFiftyTimes)
{
    move_across(Interruption::kXsproxyKill, 50);
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
