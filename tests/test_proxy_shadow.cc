// test_proxy_shadow.cc - pure unit tests of xsproxy's protocol library
// (xsproxy_proto): the shadow-state machine (proxy/shadow.c), message
// framing (proxy/msg.c) and ring-index arithmetic (proxy/ring.c).  No daemon,
// no sim: messages and ring pages are built in memory.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "msg.h"
#include "ring.h"
#include "shadow.h"
}

namespace {

// ---- helpers --------------------------------------------------------------

std::unique_ptr<msg> make(uint32_t type, uint32_t req_id, uint32_t tx_id, const std::string &body)
{
    auto m = std::make_unique<msg>();
    msg_build(m.get(), type, req_id, tx_id, body.data(), static_cast<uint32_t>(body.size()));
    return m;
}

std::string body_of(msg *m)
{
    return std::string(reinterpret_cast<const char *>(msg_body(m)), m->hdr.len);
}

std::string str0(const std::string &s)
{
    return s + std::string(1, '\0');
}

// A shadow with init/clear around it.
struct Shadow {
    shadow s;
    Shadow() { shadow_init(&s); }
    ~Shadow() { shadow_clear(&s); }
    // A request through shadow_on_request; returns the tx id as forwarded.
    uint32_t request(uint32_t type, uint32_t req_id, uint32_t tx, const std::string &body)
    {
        auto m = make(type, req_id, tx, body);
        EXPECT_EQ(0, shadow_on_request(&s, m.get()));
        return m->hdr.tx_id;
    }
    // A reply from xenstored; returns it as the guest would get it.
    std::unique_ptr<msg> reply(uint32_t type, uint32_t req_id, uint32_t backend_tx,
                               const std::string &body, shadow_reply expect = SHADOW_REPLY)
    {
        auto m = make(type, req_id, backend_tx, body);
        EXPECT_EQ(expect, shadow_on_reply(&s, m.get()));
        return m;
    }
    std::vector<std::pair<std::string, std::string>> watches() const
    {
        std::vector<std::pair<std::string, std::string>> v;
        for (const shadow_watch *w = s.watches; w; w = w->next)
            v.emplace_back(w->path, w->token);
        return v;
    }
    uint32_t start_tx(uint32_t req_id, uint32_t backend_id)
    {
        request(XS_TRANSACTION_START, req_id, 0, str0(""));
        auto r = reply(XS_TRANSACTION_START, req_id, 0, str0(std::to_string(backend_id)));
        return static_cast<uint32_t>(std::stoul(body_of(r.get())));
    }
};

using WatchList = std::vector<std::pair<std::string, std::string>>;

// ---- shadow: watches ------------------------------------------------------

TEST(XsproxyShadow, WatchAddedOnlyWhenXenstoredAccepts)
{
    Shadow sh;
    uint32_t gen0 = sh.s.watch_gencnt;
    sh.request(XS_WATCH, 1, 0, str0("data/a") + str0("tokA"));
    EXPECT_EQ(0u, sh.s.nr_watches) << "nothing changes before the reply";
    sh.reply(XS_WATCH, 1, 0, str0("OK"));
    EXPECT_EQ((WatchList{ { "data/a", "tokA" } }), sh.watches());
    EXPECT_NE(gen0, sh.s.watch_gencnt);

    sh.request(XS_WATCH, 2, 0, str0("/bad path") + str0("tokB"));
    uint32_t gen1 = sh.s.watch_gencnt;
    sh.reply(XS_ERROR, 2, 0, str0("EINVAL"));
    EXPECT_EQ(1u, sh.s.nr_watches) << "a refused WATCH is not recorded";
    EXPECT_EQ(gen1, sh.s.watch_gencnt);
}

TEST(XsproxyShadow, WatchesKeepOrderAndRelativePaths)
{
    Shadow sh;
    const char *paths[] = { "/local/domain/1/x", "data", "@releaseDomain", "/a/b" };
    for (uint32_t i = 0; i < 4; i++) {
        sh.request(XS_WATCH, 10 + i, 0, str0(paths[i]) + str0("t" + std::to_string(i)));
        sh.reply(XS_WATCH, 10 + i, 0, str0("OK"));
    }
    EXPECT_EQ((WatchList{ { "/local/domain/1/x", "t0" },
                          { "data", "t1" },
                          { "@releaseDomain", "t2" },
                          { "/a/b", "t3" } }),
              sh.watches());
    EXPECT_EQ(4u, sh.s.nr_watches);
}

TEST(XsproxyShadow, UnwatchRemovesOnlyTheMatchingPair)
{
    Shadow sh;
    for (auto [p, t] : WatchList{ { "a", "1" }, { "a", "2" }, { "b", "1" } }) {
        sh.request(XS_WATCH, 1, 0, str0(p) + str0(t));
        sh.reply(XS_WATCH, 1, 0, str0("OK"));
    }
    // refused: stays
    sh.request(XS_UNWATCH, 2, 0, str0("a") + str0("2"));
    sh.reply(XS_ERROR, 2, 0, str0("ENOENT"));
    EXPECT_EQ(3u, sh.s.nr_watches);
    // accepted
    uint32_t gen = sh.s.watch_gencnt;
    sh.request(XS_UNWATCH, 3, 0, str0("a") + str0("2"));
    sh.reply(XS_UNWATCH, 3, 0, str0("OK"));
    EXPECT_EQ((WatchList{ { "a", "1" }, { "b", "1" } }), sh.watches());
    EXPECT_NE(gen, sh.s.watch_gencnt);
    // an unknown pair accepted by xenstored (cannot happen, but harmless)
    sh.request(XS_UNWATCH, 4, 0, str0("zz") + str0("1"));
    sh.reply(XS_UNWATCH, 4, 0, str0("OK"));
    EXPECT_EQ(2u, sh.s.nr_watches);
}

TEST(XsproxyShadow, MalformedWatchPayloadIsForwardedButNotRecorded)
{
    Shadow sh;
    sh.request(XS_WATCH, 1, 0, std::string("only-a-path", 11));   // no NUL, one part
    ASSERT_EQ(1u, shadow_inflight(&sh.s));
    sh.reply(XS_WATCH, 1, 0, str0("OK"));
    EXPECT_EQ(0u, sh.s.nr_watches);
}

TEST(XsproxyShadow, ResetWatchesDropsWatchesAndTransactions)
{
    Shadow sh;
    sh.request(XS_WATCH, 1, 0, str0("a") + str0("1"));
    sh.reply(XS_WATCH, 1, 0, str0("OK"));
    sh.start_tx(2, 5);
    ASSERT_EQ(1u, sh.s.nr_txs);
    // refused: nothing changes
    sh.request(XS_RESET_WATCHES, 3, 0, "");
    sh.reply(XS_ERROR, 3, 0, str0("EINVAL"));
    EXPECT_EQ(1u, sh.s.nr_watches);
    EXPECT_EQ(1u, sh.s.nr_txs);
    sh.request(XS_RESET_WATCHES, 4, 0, "");
    sh.reply(XS_RESET_WATCHES, 4, 0, str0("OK"));
    EXPECT_EQ(0u, sh.s.nr_watches);
    EXPECT_EQ(nullptr, sh.s.watches);
    EXPECT_EQ(0u, sh.s.nr_txs);
    EXPECT_EQ(nullptr, sh.s.txs);
    EXPECT_EQ(0u, shadow_guest_tx(&sh.s, 5));
}

// XSA-484: RESET_WATCHES inside a transaction crashed C xenstored before
// its fix; it goes on outside one, the guest's id back in the reply.
TEST(XsproxyShadow, ResetWatchesInATransactionGoesOnOutsideIt)
{
    Shadow sh;
    uint32_t tx = sh.start_tx(1, 5);
    EXPECT_EQ(0u, sh.request(XS_RESET_WATCHES, 2, tx, ""));
    auto r = sh.reply(XS_RESET_WATCHES, 2, 0, str0("OK"));
    EXPECT_EQ(tx, r->hdr.tx_id);
    EXPECT_EQ(0u, sh.s.nr_txs);
}

TEST(XsproxyShadow, WatchEventPassesWithoutEndingARequest)
{
    Shadow sh;
    sh.request(XS_READ, 7, 0, str0("x"));
    auto ev = sh.reply(XS_WATCH_EVENT, 0, 0, str0("/x") + str0("tok"), SHADOW_EVENT);
    EXPECT_EQ(1u, shadow_inflight(&sh.s));
    EXPECT_EQ(str0("/x") + str0("tok"), body_of(ev.get()));
    EXPECT_EQ(0u, ev->hdr.tx_id);
    sh.reply(XS_READ, 7, 0, "v");
    EXPECT_EQ(0u, shadow_inflight(&sh.s));
    EXPECT_EQ(0u, sh.s.unexpected);
}

// ---- shadow: transaction ids ---------------------------------------------

TEST(XsproxyShadow, TransactionIdsAreTheIdentityUnlessForced)
{
    Shadow sh;
    EXPECT_EQ(5u, sh.start_tx(1, 5));
    EXPECT_EQ(9u, sh.start_tx(2, 9));
    EXPECT_EQ(2u, sh.s.nr_txs);
    EXPECT_EQ(5u, shadow_guest_tx(&sh.s, 5));
    EXPECT_EQ(9u, shadow_guest_tx(&sh.s, 9));
    // requests in a transaction go on with the same id, replies come back with it
    EXPECT_EQ(5u, sh.request(XS_WRITE, 3, 5, str0("a") + "v"));
    auto r = sh.reply(XS_WRITE, 3, 5, str0("OK"));
    EXPECT_EQ(5u, r->hdr.tx_id);
    EXPECT_EQ(str0("OK"), body_of(r.get()));
}

// ---- live insertion: what happened before xsproxy stood in front ----------

TEST(XsproxyShadow, WatchesLearnedFromOxenstoredsListKeepTokensWithSpaces)
{
    Shadow sh;
    const char *list = "watch D6: /local/domain/6 t2\n"
                       "watch D5: data/x tok with space\n"
                       "watch D50: data/y not-ours\n"
                       "watch D5: /local/domain/5/data/z  lead\n"
                       "watch A3: /tool x\n";
    EXPECT_EQ(2, shadow_learn_watches(&sh.s, 5, list));
    EXPECT_EQ((WatchList{ { "data/x", "tok with space" },
                          { "/local/domain/5/data/z", " lead" } }),
              sh.watches());
    EXPECT_EQ(0, shadow_learn_watches(&sh.s, 7, list));
    EXPECT_EQ(0, shadow_learn_watches(&sh.s, 7, ""));
    // anything else (C xenstored has no such command; an error text) is refused
    EXPECT_EQ(-1, shadow_learn_watches(&sh.s, 5, "EINVAL"));
    EXPECT_EQ(-1, shadow_learn_watches(&sh.s, 5, "watch D5: nospace\n"));
    EXPECT_EQ(2u, sh.s.nr_watches);
}

TEST(XsproxyShadow, LearningAWatchTheShadowHoldsCountsAndAddsNothing)
{
    // found by fuzz_relay: the count returned must be what the list gained
    Shadow sh;
    sh.s.domid = 5;   // so "data/a" and its absolute spelling are one watch
    EXPECT_EQ(1, shadow_learn_watches(&sh.s, 5, "watch D5: data/a t\nwatch D5: data/a t\n"));
    EXPECT_EQ(1, shadow_learn_watches(&sh.s, 5, "watch D5: /local/domain/5/data/a t\n"
                                                "watch D5: data/b t\n"));
    EXPECT_EQ((WatchList{ { "data/a", "t" }, { "data/b", "t" } }), sh.watches());
    EXPECT_EQ(2u, sh.s.nr_watches);
}

TEST(XsproxyShadow, TransactionOpenedBeforeInsertionIsAdoptedAtItsFirstUse)
{
    Shadow sh;
    // without adoption an unknown id passes, unremembered
    EXPECT_EQ(7u, sh.request(XS_READ, 1, 7, str0("a")));
    sh.reply(XS_READ, 1, 7, "v");
    EXPECT_EQ(0u, sh.s.nr_txs);
    sh.s.adopt_unknown_tx = true;
    EXPECT_EQ(7u, sh.request(XS_WRITE, 2, 7, str0("a") + "w"));
    sh.reply(XS_WRITE, 2, 7, str0("OK"));
    ASSERT_EQ(1u, sh.s.nr_txs);
    EXPECT_TRUE(sh.s.txs->adopted);
    EXPECT_TRUE(sh.s.txs->log_cut);   // its earlier operations are unknown
    EXPECT_EQ(7u, shadow_guest_tx(&sh.s, 7));
    // a READ of a missing node in it is not a sign the id was never open
    sh.request(XS_READ, 3, 7, str0("missing"));
    sh.reply(XS_ERROR, 3, 7, str0("ENOENT"));
    EXPECT_EQ(1u, sh.s.nr_txs);
    // oxenstored's EIO for an id it does not know: forgotten
    sh.request(XS_READ, 4, 9, str0("a"));
    EXPECT_EQ(2u, sh.s.nr_txs);
    sh.reply(XS_ERROR, 4, 9, str0("EIO"));
    EXPECT_EQ(1u, sh.s.nr_txs);
    // ended like any other
    sh.request(XS_TRANSACTION_END, 5, 7, str0("T"));
    sh.reply(XS_TRANSACTION_END, 5, 7, str0("OK"));
    EXPECT_EQ(0u, sh.s.nr_txs);
    char buf[512];
    sh.s.incomplete = true;
    shadow_describe(&sh.s, buf, sizeof(buf));
    EXPECT_NE(nullptr, strstr(buf, "INCOMPLETE")) << buf;
}

// A ring whose request stream is MSGS written back to back from index 0.
struct RingBytes {
    xenstore_domain_interface intf{};
    void write(const std::vector<std::pair<uint32_t, std::string>> &msgs, size_t partial = 0)
    {
        std::string all;
        for (const auto &[type, body] : msgs) {
            xsd_sockmsg h{ type, 1, 0, (uint32_t)body.size() };
            all += std::string((const char *)&h, sizeof(h)) + body;
        }
        all.resize(all.size() - partial);   // the last message half written
        ring_dir r = ring_req(&intf);
        for (size_t off = 0; off < all.size();) {
            int n = ring_write(r, all.data() + off, (uint32_t)(all.size() - off));
            ASSERT_GT(n, 0);
            off += (size_t)n;
            intf.req_cons = intf.req_prod;   // the daemon keeps up
        }
    }
};

TEST(XsproxyRing, EndsMessageFindsTheBoundaryAndRejectsHalfWrittenMessages)
{
    RingBytes empty;
    EXPECT_TRUE(ring_ends_message(empty.intf.req, 0));
    for (size_t n : { 1, 3, 40, 200 }) {
        std::vector<std::pair<uint32_t, std::string>> msgs;
        for (size_t i = 0; i < n; i++)
            msgs.push_back({ XS_WRITE, str0("data/n" + std::to_string(i)) + std::string(i % 50, 'v') });
        RingBytes whole;
        whole.write(msgs);
        EXPECT_TRUE(ring_ends_message(whole.intf.req, whole.intf.req_prod)) << n;
        for (size_t cut : { 1, 5, 16, 17 }) {
            RingBytes half;
            half.write(msgs, cut);
            EXPECT_FALSE(ring_ends_message(half.intf.req, half.intf.req_prod))
                << n << " messages, the last " << cut << " bytes short";
        }
        // only the header of a further message
        msgs.push_back({ XS_READ, str0("data/late") });
        RingBytes hdr_only;
        hdr_only.write(msgs, 10);
        EXPECT_FALSE(ring_ends_message(hdr_only.intf.req, hdr_only.intf.req_prod)) << n;
    }
    // a message longer than the ring: its header is gone, no boundary known
    RingBytes big;
    big.write({ { XS_WRITE, str0("data/big") + std::string(2000, 'x') } });
    EXPECT_FALSE(ring_ends_message(big.intf.req, big.intf.req_prod));
    // ... until a small one follows it
    RingBytes after;
    after.write({ { XS_WRITE, str0("data/big") + std::string(2000, 'x') },
                  { XS_READ, str0("data/x") } });
    EXPECT_TRUE(ring_ends_message(after.intf.req, after.intf.req_prod));
}

TEST(XsproxyShadow, ForcedTransactionIdRewritesStartReplyAndTranslatesBothWays)
{
    Shadow sh;
    // A restored transaction shows the guest id 7 for xenstored's 100.
    auto *restored = static_cast<shadow_tx *>(calloc(1, sizeof(shadow_tx)));
    restored->guest_id = 7;
    restored->backend_id = 100;
    sh.s.txs = restored;
    sh.s.nr_txs = 1;

    // xenstored now hands out 7: the guest must get another id
    sh.request(XS_TRANSACTION_START, 1, 0, str0(""));
    auto r = sh.reply(XS_TRANSACTION_START, 1, 0, str0("7"));
    std::string shown = body_of(r.get());
    ASSERT_FALSE(shown.empty());
    EXPECT_EQ('\0', shown.back()) << "the rewritten reply keeps its NUL";
    uint32_t gid = static_cast<uint32_t>(std::stoul(shown));
    EXPECT_NE(7u, gid);
    EXPECT_NE(0u, gid);
    EXPECT_EQ(MSG_HDR_LEN + r->hdr.len, r->got);
    EXPECT_EQ(2u, sh.s.nr_txs);
    EXPECT_EQ(gid, shadow_guest_tx(&sh.s, 7));
    EXPECT_EQ(7u, shadow_guest_tx(&sh.s, 100));

    // guest gid -> xenstored 7; guest 7 -> xenstored 100; replies map back
    EXPECT_EQ(7u, sh.request(XS_READ, 2, gid, str0("a")));
    EXPECT_EQ(100u, sh.request(XS_READ, 3, 7, str0("b")));
    auto r2 = sh.reply(XS_READ, 2, 7, "x");
    auto r3 = sh.reply(XS_READ, 3, 100, "y");
    EXPECT_EQ(gid, r2->hdr.tx_id);
    EXPECT_EQ(7u, r3->hdr.tx_id);

    // ending gid removes only that mapping
    EXPECT_EQ(7u, sh.request(XS_TRANSACTION_END, 4, gid, str0("T")));
    sh.reply(XS_TRANSACTION_END, 4, 7, str0("OK"));
    EXPECT_EQ(1u, sh.s.nr_txs);
    EXPECT_EQ(0u, shadow_guest_tx(&sh.s, 7));
    EXPECT_EQ(7u, shadow_guest_tx(&sh.s, 100));
}

TEST(XsproxyShadow, DuplicateBackendIdGetsAFreshGuestId)
{
    Shadow sh;
    EXPECT_EQ(1u, sh.start_tx(1, 1));
    // xenstored repeats 1 (a restore can make this happen): guest sees 2
    uint32_t g = sh.start_tx(2, 1);
    EXPECT_EQ(2u, g);
    EXPECT_EQ(1u, sh.request(XS_READ, 3, 2, str0("p")));
}

TEST(XsproxyShadow, TransactionEndOutcomes)
{
    Shadow sh;
    sh.start_tx(1, 3);
    sh.start_tx(2, 4);
    sh.start_tx(3, 6);
    // EINVAL: xenstored refused the argument, the transaction stays
    sh.request(XS_TRANSACTION_END, 4, 3, str0("X"));
    sh.reply(XS_ERROR, 4, 3, str0("EINVAL"));
    EXPECT_EQ(3u, sh.s.nr_txs);
    // EAGAIN: the transaction is over
    sh.request(XS_TRANSACTION_END, 5, 3, str0("T"));
    auto r = sh.reply(XS_ERROR, 5, 3, str0("EAGAIN"));
    EXPECT_EQ(3u, r->hdr.tx_id);
    EXPECT_EQ(2u, sh.s.nr_txs);
    EXPECT_EQ(0u, shadow_guest_tx(&sh.s, 3));
    // abort
    sh.request(XS_TRANSACTION_END, 6, 4, str0("F"));
    sh.reply(XS_TRANSACTION_END, 6, 4, str0("OK"));
    EXPECT_EQ(1u, sh.s.nr_txs);
    EXPECT_EQ(6u, shadow_guest_tx(&sh.s, 6));
}

TEST(XsproxyShadow, StartReplyThatIsNoIdPassesUntouched)
{
    Shadow sh;
    sh.request(XS_TRANSACTION_START, 1, 0, str0(""));
    auto r = sh.reply(XS_TRANSACTION_START, 1, 0, str0("bogus"));
    EXPECT_EQ(str0("bogus"), body_of(r.get()));
    EXPECT_EQ(0u, sh.s.nr_txs);
    sh.request(XS_TRANSACTION_START, 2, 0, str0(""));
    auto e = sh.reply(XS_ERROR, 2, 0, str0("ENOSPC"));
    EXPECT_EQ(str0("ENOSPC"), body_of(e.get()));
    EXPECT_EQ(0u, sh.s.nr_txs);
}

TEST(XsproxyShadow, UnknownGuestTransactionIdGoesOnUnchanged)
{
    Shadow sh;
    sh.start_tx(1, 3);
    EXPECT_EQ(42u, sh.request(XS_READ, 2, 42, str0("a")));
    auto r = sh.reply(XS_ERROR, 2, 42, str0("ENOENT"));
    EXPECT_EQ(42u, r->hdr.tx_id);
}

// ---- shadow: requests in flight -------------------------------------------

TEST(XsproxyShadow, InflightIsAFifoThatGrowsAcrossWraparound)
{
    Shadow sh;
    uint32_t next_req = 100, next_reply = 100;
    auto push = [&](unsigned n) {
        for (unsigned i = 0; i < n; i++, next_req++)
            sh.request(XS_READ, next_req, 0, str0("p"));
    };
    auto pop = [&](unsigned n) {
        for (unsigned i = 0; i < n; i++, next_reply++) {
            auto r = sh.reply(XS_READ, next_reply, 0, "v");
            EXPECT_EQ(next_reply, r->hdr.req_id);
        }
    };
    push(3);
    pop(2);   // head moves on
    push(5);  // wraps, then grows past the first capacity
    ASSERT_EQ(6u, shadow_inflight(&sh.s));
    for (unsigned i = 0; i < 6; i++) {
        const inflight *f = shadow_inflight_at(&sh.s, i);
        ASSERT_NE(nullptr, f);
        EXPECT_EQ(102u + i, f->req_id);
        EXPECT_EQ(static_cast<uint32_t>(XS_READ), f->type);
    }
    EXPECT_EQ(nullptr, shadow_inflight_at(&sh.s, 6));
    push(40);
    pop(46);
    EXPECT_EQ(0u, shadow_inflight(&sh.s));
    EXPECT_EQ(0u, sh.s.unexpected);
}

TEST(XsproxyShadow, InflightRecordsTypeAndGuestTx)
{
    Shadow sh;
    sh.start_tx(1, 8);
    sh.request(XS_WRITE, 2, 8, str0("a") + "b");
    sh.request(XS_DIRECTORY, 3, 0, str0("/"));
    const inflight *f0 = shadow_inflight_at(&sh.s, 0);
    const inflight *f1 = shadow_inflight_at(&sh.s, 1);
    ASSERT_TRUE(f0 && f1);
    EXPECT_EQ(static_cast<uint32_t>(XS_WRITE), f0->type);
    EXPECT_EQ(8u, f0->guest_tx);
    EXPECT_EQ(static_cast<uint32_t>(XS_DIRECTORY), f1->type);
    EXPECT_EQ(0u, f1->guest_tx);
}

TEST(XsproxyShadow, UnexpectedRepliesAreCounted)
{
    Shadow sh;
    sh.reply(XS_READ, 1, 0, "x", SHADOW_UNEXPECTED);
    EXPECT_EQ(1u, sh.s.unexpected);
    sh.request(XS_READ, 5, 0, str0("a"));
    auto r = sh.reply(XS_READ, 6, 0, "x");   // wrong req_id: still ends the oldest
    EXPECT_EQ(2u, sh.s.unexpected);
    EXPECT_EQ(0u, shadow_inflight(&sh.s));
    (void)r;
}

TEST(XsproxyShadow, ClearForgetsEverythingButKeepsGencntMoving)
{
    Shadow sh;
    sh.request(XS_WATCH, 1, 0, str0("a") + str0("1"));
    sh.reply(XS_WATCH, 1, 0, str0("OK"));
    sh.start_tx(2, 3);
    sh.request(XS_WATCH, 3, 0, str0("b") + str0("2"));   // left in flight
    sh.request(XS_READ, 4, 3, str0("c"));
    uint32_t gen = sh.s.watch_gencnt;
    shadow_clear(&sh.s);
    EXPECT_EQ(0u, sh.s.nr_watches);
    EXPECT_EQ(0u, sh.s.nr_txs);
    EXPECT_EQ(0u, shadow_inflight(&sh.s));
    EXPECT_GT(sh.s.watch_gencnt, gen) << "a reader of the watch list must see it changed";
    // usable again afterwards
    sh.request(XS_WATCH, 5, 0, str0("d") + str0("4"));
    sh.reply(XS_WATCH, 5, 0, str0("OK"));
    EXPECT_EQ((WatchList{ { "d", "4" } }), sh.watches());
}

TEST(XsproxyShadow, DescribeShowsWatchesTransactionsAndRequests)
{
    Shadow sh;
    sh.request(XS_WATCH, 1, 0, str0("data/x") + str0("mytok"));
    sh.reply(XS_WATCH, 1, 0, str0("OK"));
    sh.start_tx(2, 12);
    sh.request(XS_READ, 77, 12, str0("q"));
    char buf[1024];
    size_t n = shadow_describe(&sh.s, buf, sizeof(buf));
    std::string d(buf, n);
    EXPECT_NE(std::string::npos, d.find("watch data/x mytok")) << d;
    EXPECT_NE(std::string::npos, d.find("tx 12 -> xenstored 12")) << d;
    EXPECT_NE(std::string::npos, d.find("req 77")) << d;
    // a short buffer is never overrun and stays terminated
    char small[16];
    memset(small, 'Z', sizeof(small));
    size_t m = shadow_describe(&sh.s, small, 10);
    EXPECT_LT(m, 10u);
    EXPECT_EQ('Z', small[10]);
}


// ---- shadow: xsproxy's own requests, xenstored lost --------------------------

TEST(XsproxyShadow, InternalRequestsAreSwallowedInOrder)
{
    Shadow sh;
    sh.request(XS_WATCH, 1, 0, str0("a") + str0("1"));
    sh.reply(XS_WATCH, 1, 0, str0("OK"));
    // xsproxy registers the watch again as the guest, between guest requests
    sh.request(XS_READ, 2, 0, str0("x"));
    auto internal = make(XS_WATCH, 0x80000000u, 0, str0("a") + str0("1"));
    ASSERT_EQ(0, shadow_on_internal_request(&sh.s, internal.get(), false));
    sh.request(XS_READ, 3, 0, str0("y"));
    ASSERT_EQ(3u, shadow_inflight(&sh.s));
    EXPECT_TRUE(shadow_inflight_at(&sh.s, 1)->internal);
    EXPECT_FALSE(shadow_inflight_at(&sh.s, 0)->internal);
    sh.reply(XS_READ, 2, 0, "vx");
    sh.reply(XS_WATCH, 0x80000000u, 0, str0("OK"), SHADOW_INTERNAL);
    auto r = sh.reply(XS_READ, 3, 0, "vy");
    EXPECT_EQ(3u, r->hdr.req_id);
    EXPECT_EQ((WatchList{ { "a", "1" } }), sh.watches()) << "not recorded twice";
    // a refused internal request changes nothing either
    ASSERT_EQ(0, shadow_on_internal_request(&sh.s, internal.get(), false));
    sh.reply(XS_ERROR, 0x80000000u, 0, str0("EEXIST"), SHADOW_INTERNAL);
    EXPECT_EQ(1u, sh.s.nr_watches);
    EXPECT_EQ(0u, sh.s.unexpected);
}

TEST(XsproxyShadow, AddedWatchesAreRecordedOnlyWhenXenstoredTakesThem)
{
    Shadow sh;
    // ADD_DOMAIN_WATCHES: xsproxy's own WATCH, recorded on OK only
    auto ok = make(XS_WATCH, 0x80000001u, 0, str0("p") + str0("t"));
    ASSERT_EQ(0, shadow_on_internal_request(&sh.s, ok.get(), true));
    auto refused = make(XS_WATCH, 0x80000002u, 0, str0("q") + str0("u"));
    ASSERT_EQ(0, shadow_on_internal_request(&sh.s, refused.get(), true));
    EXPECT_EQ(2u, shadow_internal_inflight(&sh.s));
    sh.reply(XS_WATCH, 0x80000001u, 0, str0("OK"), SHADOW_INTERNAL);
    sh.reply(XS_ERROR, 0x80000002u, 0, str0("EEXIST"), SHADOW_INTERNAL);
    EXPECT_EQ((WatchList{ { "p", "t" } }), sh.watches());
    EXPECT_EQ(0u, shadow_internal_inflight(&sh.s));
}

TEST(XsproxyShadow, WatchPagesAreCutAtWatchBoundaries)
{
    Shadow sh;
    for (int i = 0; i < 5; i++) {
        std::string p = "path" + std::to_string(i), t = "tok" + std::to_string(i);
        sh.request(XS_WATCH, (uint32_t)i + 1, 0, str0(p) + str0(t));
        sh.reply(XS_WATCH, (uint32_t)i + 1, 0, str0("OK"));
    }
    char buf[64];
    uint32_t gen = sh.s.watch_gencnt;
    std::string g = std::to_string(gen);
    // room for the gencnt and two watches ("pathN\0tokN\0" is 11 bytes)
    uint32_t len = shadow_watch_page(&sh.s, 1, buf, (uint32_t)(g.size() + 1 + 22 + 5));
    EXPECT_EQ(str0(g) + str0("path1") + str0("tok1") + str0("path2") + str0("tok2"),
              std::string(buf, len));
    len = shadow_watch_page(&sh.s, 9, buf, sizeof(buf));
    EXPECT_EQ(str0(g), std::string(buf, len));
}

TEST(XsproxyShadow, BackendLostKeepsWatchesDropsTransactionsAndRequests)
{
    Shadow sh;
    sh.request(XS_WATCH, 1, 0, str0("a") + str0("1"));
    sh.reply(XS_WATCH, 1, 0, str0("OK"));
    sh.start_tx(2, 4);
    sh.request(XS_WATCH, 3, 0, str0("b") + str0("2"));
    sh.request(XS_WRITE, 4, 4, str0("c") + "v");
    shadow_backend_lost(&sh.s);
    EXPECT_EQ(0u, shadow_inflight(&sh.s));
    EXPECT_EQ(0u, sh.s.nr_txs);
    EXPECT_EQ((WatchList{ { "a", "1" } }), sh.watches());
    // a late reply from the old xenstored is unexpected, not a crash
    sh.reply(XS_WATCH, 3, 0, str0("OK"), SHADOW_UNEXPECTED);
    EXPECT_EQ((WatchList{ { "a", "1" } }), sh.watches());
    // and the queue works again
    sh.request(XS_READ, 5, 0, str0("d"));
    sh.reply(XS_READ, 5, 0, "x");
    EXPECT_EQ(0u, shadow_inflight(&sh.s));
}

// ---- shadow: transaction logs and their replay -----------------------------

const shadow_tx *find_tx(const shadow &s, uint32_t guest_id)
{
    for (const shadow_tx *t = s.txs; t; t = t->next)
        if (t->guest_id == guest_id)
            return t;
    return nullptr;
}

std::string op_req(const tx_op &o)
{
    return std::string(reinterpret_cast<const char *>(o.req), o.req_len);
}

std::string op_rsp(const tx_op &o)
{
    return std::string(reinterpret_cast<const char *>(o.rsp), o.rsp_len);
}

TEST(XsproxyShadow, TransactionsLogTheirOperationsWithTheAnswers)
{
    Shadow sh;
    uint32_t tx = sh.start_tx(1, 7);
    sh.request(XS_READ, 2, tx, str0("data/a"));
    sh.reply(XS_READ, 2, 7, "a0");
    sh.request(XS_WRITE, 3, tx, str0("data/b") + "v");
    sh.reply(XS_WRITE, 3, 7, str0("OK"));
    sh.request(XS_READ, 4, tx, str0("data/none"));
    sh.reply(XS_ERROR, 4, 7, str0("ENOENT"));
    // not in the transaction, or not an operation on the store: not logged
    sh.request(XS_READ, 5, 0, str0("data/a"));
    sh.reply(XS_READ, 5, 0, "a0");
    sh.request(XS_GET_DOMAIN_PATH, 6, tx, str0("1"));
    sh.reply(XS_GET_DOMAIN_PATH, 6, 7, str0("/local/domain/1"));
    const shadow_tx *t = find_tx(sh.s, tx);
    ASSERT_NE(nullptr, t);
    ASSERT_EQ(3u, t->nops);
    EXPECT_EQ((uint32_t)XS_READ, t->ops[0].type);
    EXPECT_EQ(str0("data/a"), op_req(t->ops[0]));
    EXPECT_EQ("a0", op_rsp(t->ops[0]));
    EXPECT_EQ(str0("data/b") + "v", op_req(t->ops[1]));
    EXPECT_EQ((uint32_t)XS_ERROR, t->ops[2].rsp_type);
    EXPECT_EQ(str0("ENOENT"), op_rsp(t->ops[2]));
    // the end frees the log with the transaction
    sh.request(XS_TRANSACTION_END, 7, tx, str0("T"));
    sh.reply(XS_TRANSACTION_END, 7, 7, str0("OK"));
    EXPECT_EQ(nullptr, find_tx(sh.s, tx));
}

TEST(XsproxyShadow, ATooLongLogIsCutAndTheTransactionCannotBeReplayed)
{
    Shadow sh;
    uint32_t tx = sh.start_tx(1, 3);
    std::string big(4000, 'x');
    uint32_t id = 2;
    for (size_t bytes = 0; bytes <= SHADOW_TX_LOG_MAX; bytes += big.size() + 3, id++) {
        sh.request(XS_WRITE, id, tx, str0("k") + big);
        sh.reply(XS_WRITE, id, 3, str0("OK"));
    }
    const shadow_tx *t = find_tx(sh.s, tx);
    ASSERT_NE(nullptr, t);
    EXPECT_TRUE(t->log_cut);
    EXPECT_EQ(0u, t->nops);
    // and it stays cut
    sh.request(XS_READ, id, tx, str0("k"));
    sh.reply(XS_READ, id, 3, "v");
    EXPECT_EQ(0u, find_tx(sh.s, tx)->nops);
}

TEST(XsproxyShadow, AStreamedReplyIsLoggedWhenWhole)
{
    Shadow sh;
    uint32_t tx = sh.start_tx(1, 3);
    sh.request(XS_READ, 2, tx, str0("big"));
    std::string value(3000, 'v');
    auto m = make(XS_READ, 2, 3, value);
    m->got = MSG_HDR_LEN;   // only the header is in: the rest streams
    EXPECT_EQ(SHADOW_REPLY, shadow_on_reply(&sh.s, m.get()));
    EXPECT_EQ(0u, find_tx(sh.s, tx)->nops);
    m->got = msg_wire_len(m.get());
    shadow_on_streamed_end(&sh.s, m.get());
    ASSERT_EQ(1u, find_tx(sh.s, tx)->nops);
    EXPECT_EQ(value, op_rsp(find_tx(sh.s, tx)->ops[0]));
}

// A restored transaction: xsproxy's TRANSACTION_START, then the log's
// operations in the new transaction, each answer compared.
struct Replay {
    Shadow sh;
    std::vector<std::string> reqs, rsps;
    std::vector<tx_op> ops;
    void add(uint32_t type, const std::string &req, uint32_t rsp_type, const std::string &rsp)
    {
        reqs.push_back(req);
        rsps.push_back(rsp);
        ops.push_back(tx_op{ type, rsp_type, 0, 0, nullptr, nullptr });
    }
    // Restore guest tx 5 as xenstored's 9; returns the replay requests sent.
    std::vector<std::unique_ptr<msg>> start(bool replayable = true)
    {
        for (size_t i = 0; i < ops.size(); i++) {
            ops[i].req = (uint8_t *)reqs[i].data();
            ops[i].req_len = (uint32_t)reqs[i].size();
            ops[i].rsp = (uint8_t *)rsps[i].data();
            ops[i].rsp_len = (uint32_t)rsps[i].size();
        }
        auto st = make(XS_TRANSACTION_START, 0x80000000u, 0, str0(""));
        EXPECT_EQ(0, shadow_on_restore_tx(&sh.s, st.get(), 5, ops.data(), (unsigned)ops.size(),
                                          replayable));
        std::vector<std::unique_ptr<msg>> sent;
        auto none = std::make_unique<msg>();
        EXPECT_EQ(0, shadow_next_replay(&sh.s, none.get(), 1)) << "before xenstored's id";
        sh.reply(XS_TRANSACTION_START, 0x80000000u, 0, str0("9"), SHADOW_INTERNAL_TX);
        for (uint32_t id = 0x80000001u;; id++) {
            auto m = std::make_unique<msg>();
            if (!shadow_next_replay(&sh.s, m.get(), id))
                break;
            sent.push_back(std::move(m));
        }
        EXPECT_EQ(0u, shadow_replays_pending(&sh.s));
        return sent;
    }
    void answer(const msg &req, uint32_t type, const std::string &body)
    {
        sh.reply(type, req.hdr.req_id, 9, body, SHADOW_INTERNAL_TX);
    }
    bool doomed() const { return find_tx(sh.s, 5)->doomed; }
};

TEST(XsproxyShadow, ReplaySendsTheLogInOrderInTheNewTransaction)
{
    Replay rp;
    rp.add(XS_READ, str0("data/a"), XS_READ, "a0");
    rp.add(XS_WRITE, str0("data/b") + "v", XS_WRITE, str0("OK"));
    auto sent = rp.start();
    ASSERT_EQ(2u, sent.size());
    EXPECT_EQ((uint32_t)XS_READ, sent[0]->hdr.type);
    EXPECT_EQ(9u, sent[0]->hdr.tx_id);
    EXPECT_EQ(str0("data/a"), body_of(sent[0].get()));
    EXPECT_EQ((uint32_t)XS_WRITE, sent[1]->hdr.type);
    rp.answer(*sent[0], XS_READ, "a0");
    rp.answer(*sent[1], XS_WRITE, str0("OK"));
    EXPECT_FALSE(rp.doomed());
    EXPECT_EQ(0u, shadow_internal_inflight(&rp.sh.s));
    // the guest's id maps to the new transaction, and it commits for real
    EXPECT_EQ(9u, rp.sh.request(XS_TRANSACTION_END, 20, 5, str0("T")));
    auto r = rp.sh.reply(XS_TRANSACTION_END, 20, 9, str0("OK"));
    EXPECT_EQ((uint32_t)XS_TRANSACTION_END, r->hdr.type);
}

TEST(XsproxyShadow, ALogCutInTheMiddleOfItsReplayStopsTheReplay)
{
    // found by fuzz_shadow_codec: the guest's own operations in a
    // transaction still being replayed grow its log past the limit; the
    // log is dropped, so the rest of the replay cannot be sent
    Replay rp;
    rp.add(XS_READ, str0("data/a"), XS_READ, "a0");
    rp.add(XS_READ, str0("data/b"), XS_READ, "b0");
    for (size_t i = 0; i < rp.ops.size(); i++) {
        rp.ops[i].req = (uint8_t *)rp.reqs[i].data();
        rp.ops[i].req_len = (uint32_t)rp.reqs[i].size();
        rp.ops[i].rsp = (uint8_t *)rp.rsps[i].data();
        rp.ops[i].rsp_len = (uint32_t)rp.rsps[i].size();
    }
    auto st = make(XS_TRANSACTION_START, 0x80000000u, 0, str0(""));
    ASSERT_EQ(0, shadow_on_restore_tx(&rp.sh.s, st.get(), 5, rp.ops.data(), 2, true));
    rp.sh.reply(XS_TRANSACTION_START, 0x80000000u, 0, str0("9"), SHADOW_INTERNAL_TX);
    auto first = std::make_unique<msg>();
    ASSERT_EQ(1, shadow_next_replay(&rp.sh.s, first.get(), 0x80000001u));
    rp.answer(*first, XS_READ, "a0");   // the answer the source had
    EXPECT_FALSE(rp.doomed());
    std::string big(4000, 'x');
    uint32_t id = 2;
    for (size_t bytes = 0; bytes <= SHADOW_TX_LOG_MAX; bytes += big.size() + 3, id++) {
        rp.sh.request(XS_WRITE, id, 5, str0("k") + big);
        rp.sh.reply(XS_WRITE, id, 9, str0("OK"));
    }
    const shadow_tx *t = find_tx(rp.sh.s, 5);
    ASSERT_NE(nullptr, t);
    EXPECT_TRUE(t->log_cut);
    EXPECT_FALSE(t->replaying);
    EXPECT_TRUE(t->doomed) << "what it was on the source cannot be checked any more";
    EXPECT_EQ(0u, shadow_replays_pending(&rp.sh.s));
    auto none = std::make_unique<msg>();
    EXPECT_EQ(0, shadow_next_replay(&rp.sh.s, none.get(), 0x80000002u));
}

TEST(XsproxyShadow, AReplayThatGetsAnotherAnswerEndsInEagain)
{
    Replay rp;
    rp.add(XS_READ, str0("data/c"), XS_READ, "c0");
    auto sent = rp.start();
    ASSERT_EQ(1u, sent.size());
    rp.answer(*sent[0], XS_READ, "c1");
    EXPECT_TRUE(rp.doomed());
    // its end is an abort at xenstored and EAGAIN for the guest
    auto end = make(XS_TRANSACTION_END, 21, 5, str0("T"));
    ASSERT_EQ(0, shadow_on_request(&rp.sh.s, end.get()));
    EXPECT_EQ(str0("F"), body_of(end.get()));
    auto r = rp.sh.reply(XS_TRANSACTION_END, 21, 9, str0("OK"));
    EXPECT_EQ((uint32_t)XS_ERROR, r->hdr.type);
    EXPECT_EQ(str0("EAGAIN"), body_of(r.get()));
}

TEST(XsproxyShadow, ReplayComparesErrorsListingsInAnyOrderButNotGenerationCounts)
{
    Replay rp;
    rp.add(XS_READ, str0("gone"), XS_ERROR, str0("ENOENT"));
    rp.add(XS_DIRECTORY, str0("d"), XS_DIRECTORY, str0("k1") + str0("k2"));
    rp.add(XS_DIRECTORY_PART, str0("d") + str0("0"), XS_DIRECTORY_PART,
           str0("17") + str0("k1") + str0("k2") + str0(""));
    auto sent = rp.start();
    ASSERT_EQ(3u, sent.size());
    rp.answer(*sent[0], XS_ERROR, str0("ENOENT"));
    rp.answer(*sent[1], XS_DIRECTORY, str0("k2") + str0("k1"));
    rp.answer(*sent[2], XS_DIRECTORY_PART, str0("4") + str0("k1") + str0("k2") + str0(""));
    EXPECT_FALSE(rp.doomed());

    Replay other;
    other.add(XS_READ, str0("gone"), XS_ERROR, str0("ENOENT"));
    other.add(XS_DIRECTORY, str0("d"), XS_DIRECTORY, str0("k1") + str0("k2"));
    sent = other.start();
    other.answer(*sent[0], XS_ERROR, str0("ENOENT"));
    other.answer(*sent[1], XS_DIRECTORY, str0("k1") + str0("k3"));
    EXPECT_TRUE(other.doomed());
}

TEST(XsproxyShadow, AnUnreplayableTransactionIsRecreatedDoomed)
{
    Replay rp;
    rp.add(XS_READ, str0("a"), XS_READ, "x");
    auto sent = rp.start(false);
    EXPECT_TRUE(sent.empty());
    EXPECT_TRUE(rp.doomed());
}

TEST(XsproxyShadow, AStartXenstoredRefusesDropsTheRestoredTransaction)
{
    Shadow sh;
    auto st = make(XS_TRANSACTION_START, 0x80000000u, 0, str0(""));
    ASSERT_EQ(0, shadow_on_restore_tx(&sh.s, st.get(), 5, nullptr, 0, true));
    EXPECT_NE(nullptr, find_tx(sh.s, 5));
    sh.reply(XS_ERROR, 0x80000000u, 0, str0("EQUOTA"), SHADOW_INTERNAL_TX);
    EXPECT_EQ(nullptr, find_tx(sh.s, 5));
    // and a stream cannot define a transaction twice
    ASSERT_EQ(0, shadow_on_restore_tx(&sh.s, st.get(), 6, nullptr, 0, true));
    EXPECT_EQ(-1, shadow_on_restore_tx(&sh.s, st.get(), 6, nullptr, 0, true));
}

// ---- msg -------------------------------------------------------------------

std::vector<uint8_t> wire(uint32_t type, uint32_t req, uint32_t tx, const std::string &body)
{
    xsd_sockmsg h{ type, req, tx, static_cast<uint32_t>(body.size()) };
    std::vector<uint8_t> v(sizeof(h) + body.size());
    memcpy(v.data(), &h, sizeof(h));
    memcpy(v.data() + sizeof(h), body.data(), body.size());
    return v;
}

std::string payload(size_t n, unsigned seed)
{
    std::string s(n, '\0');
    for (size_t i = 0; i < n; i++)
        s[i] = static_cast<char>((i * 131 + seed) & 0xff);
    return s;
}

TEST(XsproxyMsg, FeedAcrossEverySplitPoint)
{
    std::string body = payload(300, 7);
    auto w = wire(XS_WRITE, 99, 3, body);
    for (size_t split = 0; split <= w.size(); split++) {
        auto m = std::make_unique<msg>();
        msg_reset(m.get());
        uint32_t used = 0;
        enum msg_feed r = msg_feed(m.get(), w.data(), static_cast<uint32_t>(split), &used);
        EXPECT_EQ(split, used);
        if (split < w.size()) {
            ASSERT_EQ(MSGF_MORE, r) << split;
            r = msg_feed(m.get(), w.data() + split, static_cast<uint32_t>(w.size() - split), &used);
            EXPECT_EQ(w.size() - split, used);
        }
        ASSERT_EQ(MSGF_DONE, r) << split;
        EXPECT_EQ(static_cast<uint32_t>(XS_WRITE), m->hdr.type);
        EXPECT_EQ(99u, m->hdr.req_id);
        EXPECT_EQ(3u, m->hdr.tx_id);
        EXPECT_EQ(body, body_of(m.get()));
        EXPECT_EQ(0, msg_body(m.get())[m->hdr.len]) << "a NUL follows the payload";
        EXPECT_EQ(0u, msg_wanted(m.get()));
    }
}

TEST(XsproxyMsg, FeedInRandomPiecesAndBackToBackMessages)
{
    std::mt19937 rng(12345);
    std::vector<uint8_t> stream;
    std::vector<std::string> bodies;
    for (int i = 0; i < 50; i++) {
        size_t len = i % 10 == 0 ? XENSTORE_PAYLOAD_MAX : rng() % 1500;
        if (i % 7 == 0)
            len = 0;
        bodies.push_back(payload(len, static_cast<unsigned>(i)));
        auto w = wire(static_cast<uint32_t>(i % 23), static_cast<uint32_t>(i), 0, bodies.back());
        stream.insert(stream.end(), w.begin(), w.end());
    }
    auto m = std::make_unique<msg>();
    msg_reset(m.get());
    size_t off = 0, got = 0;
    while (off < stream.size()) {
        uint32_t chunk = 1 + rng() % 2000;
        if (chunk > stream.size() - off)
            chunk = static_cast<uint32_t>(stream.size() - off);
        uint32_t coff = 0;
        while (coff < chunk) {
            uint32_t used;
            enum msg_feed r = msg_feed(m.get(), stream.data() + off + coff, chunk - coff, &used);
            ASSERT_NE(MSGF_BAD_LEN, r);
            coff += used;
            if (r == MSGF_DONE) {
                ASSERT_LT(got, bodies.size());
                EXPECT_EQ(got, m->hdr.req_id);
                EXPECT_EQ(bodies[got], body_of(m.get())) << got;
                got++;
                msg_reset(m.get());
            } else {
                EXPECT_EQ(chunk, coff) << "MORE only when the input ran out";
            }
        }
        off += chunk;
    }
    EXPECT_EQ(bodies.size(), got);
}

TEST(XsproxyMsg, FeedNeverTakesBytesOfTheNextMessage)
{
    auto a = wire(XS_READ, 1, 0, "abc");
    auto b = wire(XS_READ, 2, 0, "defgh");
    std::vector<uint8_t> both(a);
    both.insert(both.end(), b.begin(), b.end());
    auto m = std::make_unique<msg>();
    msg_reset(m.get());
    uint32_t used;
    ASSERT_EQ(MSGF_DONE, msg_feed(m.get(), both.data(), static_cast<uint32_t>(both.size()), &used));
    EXPECT_EQ(a.size(), used);
    // a whole message fed again gives DONE at once, taking nothing
    ASSERT_EQ(MSGF_DONE, msg_feed(m.get(), both.data() + used, 5, &used));
    EXPECT_EQ(0u, used);
}

TEST(XsproxyMsg, LengthLimit)
{
    for (uint32_t len : { static_cast<uint32_t>(XENSTORE_PAYLOAD_MAX), static_cast<uint32_t>(XENSTORE_PAYLOAD_MAX + 1), 0xffffffffu }) {
        xsd_sockmsg h{ XS_WRITE, 1, 0, len };
        auto m = std::make_unique<msg>();
        msg_reset(m.get());
        EXPECT_EQ(MSG_HDR_LEN, msg_wanted(m.get()));
        uint32_t used;
        // header in two pieces
        EXPECT_EQ(MSGF_MORE, msg_feed(m.get(), &h, 5, &used));
        enum msg_feed r = msg_feed(m.get(), reinterpret_cast<uint8_t *>(&h) + 5,
                                   sizeof(h) - 5, &used);
        if (len <= XENSTORE_PAYLOAD_MAX) {
            EXPECT_EQ(MSGF_MORE, r);
            EXPECT_EQ(len, msg_wanted(m.get()));
        } else {
            EXPECT_EQ(MSGF_BAD_LEN, r) << len;
            EXPECT_EQ(0u, msg_wanted(m.get()));
            uint8_t more[8] = {};
            EXPECT_EQ(MSGF_BAD_LEN, msg_feed(m.get(), more, sizeof(more), &used));
            EXPECT_EQ(0u, used) << "nothing past a bad header is taken";
        }
    }
}

TEST(XsproxyMsg, Split)
{
    const char *parts[4];
    std::string b = str0("a") + str0("") + str0("ccc");
    ASSERT_EQ(3u, msg_split(reinterpret_cast<const uint8_t *>(b.data()), static_cast<uint32_t>(b.size()), parts, 4));
    EXPECT_STREQ("a", parts[0]);
    EXPECT_STREQ("", parts[1]);
    EXPECT_STREQ("ccc", parts[2]);
    EXPECT_EQ(2u, msg_split(reinterpret_cast<const uint8_t *>(b.data()), static_cast<uint32_t>(b.size()), parts, 2));
    EXPECT_EQ(0u, msg_split(reinterpret_cast<const uint8_t *>(b.data()), 0, parts, 4));
    // a trailing part without NUL counts (the caller's buffer has one after it)
    auto m = make(XS_WATCH, 1, 0, str0("path") + "tok");
    ASSERT_EQ(2u, msg_split(msg_body(m.get()), m->hdr.len, parts, 4));
    EXPECT_STREQ("path", parts[0]);
    EXPECT_STREQ("tok", parts[1]);
}

TEST(XsproxyMsg, BuildAndErrors)
{
    auto m = std::make_unique<msg>();
    msg_build(m.get(), XS_READ, 5, 6, "hello", 5);
    EXPECT_EQ(MSG_HDR_LEN + 5, m->got);
    EXPECT_EQ(MSG_HDR_LEN + 5, msg_wire_len(m.get()));
    EXPECT_EQ(0, msg_body(m.get())[5]);
    std::string big(XENSTORE_PAYLOAD_MAX + 100, 'x');
    msg_build(m.get(), XS_READ, 5, 6, big.data(), static_cast<uint32_t>(big.size()));
    EXPECT_EQ(static_cast<uint32_t>(XENSTORE_PAYLOAD_MAX), m->hdr.len) << "truncated, never overrun";
    xsd_sockmsg req{ XS_WRITE, 77, 3, 0 };
    msg_build_error(m.get(), &req, "EACCES");
    EXPECT_EQ(static_cast<uint32_t>(XS_ERROR), m->hdr.type);
    EXPECT_EQ(77u, m->hdr.req_id);
    EXPECT_EQ(3u, m->hdr.tx_id);
    EXPECT_EQ(str0("EACCES"), body_of(m.get()));
    EXPECT_STREQ("EACCES", msg_errno_name(EACCES));
    EXPECT_STREQ("EAGAIN", msg_errno_name(EAGAIN));
    EXPECT_STREQ("E2BIG", msg_errno_name(E2BIG));
    EXPECT_STREQ("EIO", msg_errno_name(12345));
}

TEST(XsproxyMsg, ParseU32)
{
    uint32_t v = 1;
    EXPECT_TRUE(msg_parse_u32("0", &v));
    EXPECT_EQ(0u, v);
    EXPECT_TRUE(msg_parse_u32("4294967295", &v));
    EXPECT_EQ(4294967295u, v);
    for (const char *bad : { "", "4294967296", "-1", "+1", " 1", "12a", "0x10", "99999999999999999999" })
        EXPECT_FALSE(msg_parse_u32(bad, &v)) << bad;
    EXPECT_FALSE(msg_parse_u32(nullptr, &v));
}

// ---- ring -------------------------------------------------------------------

struct Page {
    std::unique_ptr<xenstore_domain_interface> p{ new xenstore_domain_interface() };
};

TEST(XsproxyRing, RoundTripAcrossIndexWraparound)
{
    // start the indexes just below 2^32 so that the u32 and the mod-1024
    // wraparounds both happen
    for (uint32_t start : { 0u, 1000u, 0xffffffffu - 500u, 0xfffffc00u }) {
        Page pg;
        pg.p->req_cons = pg.p->req_prod = start;
        ring_dir r = ring_req(pg.p.get());
        std::mt19937 rng(start);
        std::string sent, recvd;
        unsigned seq = 0;
        for (int round = 0; round < 200; round++) {
            EXPECT_EQ(static_cast<int>(XENSTORE_RING_SIZE) - ring_avail(r), ring_space(r));
            uint32_t n = rng() % 700;
            std::string chunk;
            for (uint32_t i = 0; i < n; i++)
                chunk.push_back(static_cast<char>(seq++ * 7));
            int space = ring_space(r);
            int w = ring_write(r, chunk.data(), n);
            ASSERT_GE(w, 0);
            EXPECT_EQ(std::min<int>(space, static_cast<int>(n)), w);
            sent += chunk.substr(0, static_cast<size_t>(w));
            seq -= n - static_cast<uint32_t>(w);
            char buf[XENSTORE_RING_SIZE];
            int rd = ring_read(r, buf, rng() % 900);
            ASSERT_GE(rd, 0);
            recvd.append(buf, static_cast<size_t>(rd));
        }
        char buf[XENSTORE_RING_SIZE];
        int rd;
        while ((rd = ring_read(r, buf, sizeof(buf))) > 0)
            recvd.append(buf, static_cast<size_t>(rd));
        EXPECT_EQ(sent, recvd) << "start " << start;
        EXPECT_EQ(pg.p->req_prod, pg.p->req_cons);
        EXPECT_NE(start, pg.p->req_prod) << "the indexes moved";
    }
}

TEST(XsproxyRing, FullAndEmpty)
{
    Page pg;
    pg.p->rsp_cons = 0xfffffff0u;
    pg.p->rsp_prod = 0xfffffff0u;
    ring_dir r = ring_rsp(pg.p.get());
    EXPECT_EQ(0, ring_avail(r));
    EXPECT_EQ(static_cast<int>(XENSTORE_RING_SIZE), ring_space(r));
    char buf[2 * XENSTORE_RING_SIZE] = {};
    EXPECT_EQ(0, ring_read(r, buf, 10));
    EXPECT_EQ(static_cast<int>(XENSTORE_RING_SIZE), ring_write(r, buf, sizeof(buf)));
    EXPECT_EQ(static_cast<int>(XENSTORE_RING_SIZE), ring_avail(r)) << "exactly full is in range";
    EXPECT_EQ(0, ring_space(r));
    EXPECT_EQ(0, ring_write(r, buf, 1));
    EXPECT_EQ(0xfffffff0u + XENSTORE_RING_SIZE, pg.p->rsp_prod);
    // the request direction is untouched
    EXPECT_EQ(0u, pg.p->req_prod);
}

TEST(XsproxyRing, OutOfRangeIndexesAreDetected)
{
    struct Case {
        uint32_t cons, prod;
    } cases[] = {
        { 0, XENSTORE_RING_SIZE + 1 },
        { 100, 100 + 5000 },
        { 10, 5 },                        // prod behind cons
        { 0xfffffff0u, 0x00000800u },     // 2064 apart across the u32 wrap
        { 0, 0x80000000u },
    };
    for (const Case &c : cases) {
        Page pg;
        pg.p->req_cons = c.cons;
        pg.p->req_prod = c.prod;
        ring_dir r = ring_req(pg.p.get());
        char buf[16] = "abc";
        EXPECT_EQ(-1, ring_avail(r)) << c.cons << " " << c.prod;
        EXPECT_EQ(-1, ring_space(r));
        EXPECT_EQ(-1, ring_read(r, buf, sizeof(buf)));
        EXPECT_EQ(-1, ring_write(r, buf, 3));
        EXPECT_EQ(c.cons, pg.p->req_cons) << "bad indexes are never moved";
        EXPECT_EQ(c.prod, pg.p->req_prod);
    }
    // the in-range neighbour across the u32 wrap
    Page pg;
    pg.p->req_cons = 0xfffffe00u;
    pg.p->req_prod = 0x00000200u;   // 1024 apart
    EXPECT_EQ(static_cast<int>(XENSTORE_RING_SIZE), ring_avail(ring_req(pg.p.get())));
}

TEST(XsproxyRing, ReadGivesBytesInOrderAcrossTheEndOfTheArray)
{
    Page pg;
    for (unsigned i = 0; i < XENSTORE_RING_SIZE; i++)
        pg.p->req[i] = static_cast<char>(i & 0xff);
    pg.p->req_cons = XENSTORE_RING_SIZE * 5 - 3;   // 3 bytes before the end
    pg.p->req_prod = pg.p->req_cons + 6;
    char buf[8] = {};
    ASSERT_EQ(6, ring_read(ring_req(pg.p.get()), buf, sizeof(buf)));
    const char want[] = { static_cast<char>(1021 & 0xff), static_cast<char>(1022 & 0xff),
                          static_cast<char>(1023 & 0xff), 0, 1, 2 };
    EXPECT_EQ(0, memcmp(want, buf, 6));
}

}  // namespace
