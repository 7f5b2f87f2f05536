// test_proxy_fair.cc - the fair share's pure part (proxy/fair.c): who may
// send, what replies are charged, how the cost model learns.  Time is
// made up here (ns), so every case is exact.
#include <gtest/gtest.h>

#include <string.h>

#include <vector>

extern "C" {
#include "fair.h"
#include "xsproxy_wire.h"
}

namespace {

constexpr uint64_t kUs = 1000, kMs = 1000 * kUs;

// One account with its flow, as a domain has.
struct Acct {
    fair_account a;
    fair_flow flow{};
    Acct()
    {
        fair_account_init(&a);
        flow.acct = &a;
    }
    ~Acct() { fair_flow_free(&flow); }
};

class Fair : public ::testing::Test {
protected:
    void SetUp() override { fair_init(&f); }
    void TearDown() override { fair_free(&f); }
    // ACCT sends a WRITE of LEN bytes at t (allowed or not: the caller
    // asked), answered at t + COST with the daemon busy COST.
    void serve(Acct &x, uint32_t len, uint64_t cost)
    {
        ASSERT_EQ(0, fair_sent(&f, &x.flow, XS_WRITE, len, t));
        t += cost;
        fair_answered(&f, &x.flow);
        fair_settle(&f, t, cost);
    }
    fair f;
    uint64_t t = 100 * kMs;
};

TEST_F(Fair, AloneAnAccountIsNeverHeldBackEvenPipelining)
{
    Acct x;
    for (int i = 0; i < 100; i++) {
        ASSERT_TRUE(fair_may_send(&f, &x.a, t, true));
        ASSERT_EQ(0, fair_sent(&f, &x.flow, XS_WRITE, 4000, t));
        t += 10 * kUs;
    }
    EXPECT_EQ(100u, x.a.inflight);
    EXPECT_FALSE(x.a.held);
    EXPECT_EQ(0u, fair_held_ns(&x.a, t));
}

TEST_F(Fair, APipeliningAccountAheadOfAnotherInItsWindowIsHeldUntilTheWindowEnds)
{
    Acct flood, good;
    ASSERT_TRUE(fair_may_send(&f, &good.a, t, false));
    serve(good, 10, 20 * kUs);   // good has had a little, and is in its window
    ASSERT_TRUE(fair_may_send(&f, &flood.a, t, true));
    ASSERT_EQ(0, fair_sent(&f, &flood.flow, XS_WRITE, 4000, t));   // its first: always
    flood.a.vtime = good.a.vtime + FAIR_SLACK_NS + 500 * kUs;     // well ahead
    t += kUs;
    EXPECT_FALSE(fair_may_send(&f, &flood.a, t, true)) << "a second request, ahead of the other";
    EXPECT_TRUE(flood.a.held);
    EXPECT_EQ(1u, f.nr_held);
    EXPECT_FALSE(fair_would_allow(&f, &flood.a, t));
    // the good guest, one request at a time, is never held back
    EXPECT_TRUE(fair_may_send(&f, &good.a, t, false));
    // ... and once it has been quiet for the window, the flood goes on
    t += FAIR_WINDOW_NS + kUs;
    EXPECT_TRUE(fair_would_allow(&f, &flood.a, t));
    EXPECT_TRUE(fair_may_send(&f, &flood.a, t, true));
    EXPECT_FALSE(flood.a.held);
    EXPECT_EQ(0u, f.nr_held);
    EXPECT_EQ(FAIR_WINDOW_NS + kUs, fair_held_ns(&flood.a, t));
}

TEST_F(Fair, OfTwoFloodsTheOneAheadWaitsForTheOther)
{
    Acct slow, fast;
    for (Acct *x : { &slow, &fast }) {
        ASSERT_TRUE(fair_may_send(&f, &x->a, t, true));
        ASSERT_EQ(0, fair_sent(&f, &x->flow, XS_WRITE, 100, t));
    }
    fast.a.vtime = slow.a.vtime + FAIR_SLACK_NS + kMs;
    t += kUs;
    EXPECT_TRUE(fair_may_send(&f, &slow.a, t, true));
    EXPECT_FALSE(fair_may_send(&f, &fast.a, t, true));
}

TEST_F(Fair, WeightsShareTheDaemonInTheirProportion)
{
    // two floods, each with more queued than the one it sends, at most one
    // request each at the daemon, which takes them in turn, 50 µs each
    Acct heavy, light;
    heavy.a.weight = 200;
    unsigned served[2] = { 0, 0 };
    Acct *acct[2] = { &heavy, &light };
    for (Acct *x : acct) {   // each has its first request there
        ASSERT_TRUE(fair_may_send(&f, &x->a, t, true));
        ASSERT_EQ(0, fair_sent(&f, &x->flow, XS_WRITE, 100, t));
    }
    for (int round = 0; round < 3000; round++) {
        // the daemon answers the older of the two, then whoever may sends
        Acct *done = acct[round % 2];
        if (done->a.inflight == 0)
            done = acct[(round + 1) % 2];
        ASSERT_EQ(1u, done->a.inflight);
        t += 50 * kUs;
        fair_answered(&f, &done->flow);
        fair_settle(&f, t, 50 * kUs);
        served[done == &light]++;
        for (Acct *x : acct)
            if (x->a.inflight == 0 && fair_may_send(&f, &x->a, t, true)) {
                ASSERT_EQ(0, fair_sent(&f, &x->flow, XS_WRITE, 100, t));
            }
    }
    double ratio = (double)served[0] / (double)served[1];
    EXPECT_NEAR(2.0, ratio, 0.15) << served[0] << " / " << served[1];
}

TEST_F(Fair, ABatchIsSharedInProportionToTheModelAndTheModelLearnsIt)
{
    Acct big, small;
    // alone, batch after batch: the model learns a write of 4 KiB costs
    // 200 µs and one of 10 bytes 20 µs
    for (int i = 0; i < 400; i++) {
        serve(big, 4096, 200 * kUs);
        serve(small, 10, 20 * kUs);
    }
    EXPECT_NEAR(200.0, fair_estimate(&f, XS_WRITE, 4096) / 1000.0, 10.0);
    EXPECT_NEAR(20.0, fair_estimate(&f, XS_WRITE, 10) / 1000.0, 5.0);
    // one batch with both: 220 µs, shared about 200 / 20
    uint64_t big0 = big.a.cost_ns, small0 = small.a.cost_ns;
    ASSERT_EQ(0, fair_sent(&f, &big.flow, XS_WRITE, 4096, t));
    ASSERT_EQ(0, fair_sent(&f, &small.flow, XS_WRITE, 10, t));
    t += 220 * kUs;
    fair_answered(&f, &big.flow);
    fair_answered(&f, &small.flow);
    fair_settle(&f, t, 220 * kUs);
    EXPECT_NEAR(200.0, (double)(big.a.cost_ns - big0) / 1000.0, 12.0);
    EXPECT_NEAR(20.0, (double)(small.a.cost_ns - small0) / 1000.0, 12.0);
}

TEST_F(Fair, WithoutTheDaemonsCpuTimeTheTimeSinceItLastFinishedOneIsTaken)
{
    Acct x;
    ASSERT_EQ(0, fair_sent(&f, &x.flow, XS_READ, 10, t));
    t += 30 * kUs;
    fair_answered(&f, &x.flow);
    fair_settle(&f, t, UINT64_MAX);
    EXPECT_EQ(30 * kUs, x.a.cost_ns);
    // sent before the last reply: its time starts at that reply
    ASSERT_EQ(0, fair_sent(&f, &x.flow, XS_READ, 10, t - 10 * kUs));
    t += 40 * kUs;
    fair_answered(&f, &x.flow);
    fair_settle(&f, t, UINT64_MAX);
    EXPECT_EQ(70 * kUs, x.a.cost_ns);
}

TEST_F(Fair, AnAccountBackAfterAPauseStartsWhereTheOthersAre)
{
    Acct away, busy;
    ASSERT_TRUE(fair_may_send(&f, &away.a, t, false));
    ASSERT_TRUE(fair_may_send(&f, &busy.a, t, false));
    for (int i = 0; i < 100; i++) {
        ASSERT_TRUE(fair_may_send(&f, &busy.a, t, false));
        serve(busy, 100, 50 * kUs);
    }
    t += 10 * FAIR_WINDOW_NS;
    ASSERT_TRUE(fair_may_send(&f, &busy.a, t, false));
    t += kUs;
    ASSERT_TRUE(fair_may_send(&f, &away.a, t, false));
    EXPECT_EQ(busy.a.vtime, away.a.vtime) << "it saved nothing up while away";
}

TEST_F(Fair, AnAccountDroppedOrResetLeavesNothingBehind)
{
    Acct gone, other;
    ASSERT_TRUE(fair_may_send(&f, &gone.a, t, false));
    ASSERT_TRUE(fair_may_send(&f, &other.a, t, false));
    ASSERT_EQ(0, fair_sent(&f, &gone.flow, XS_WRITE, 10, t));
    ASSERT_EQ(0, fair_sent(&f, &gone.flow, XS_WRITE, 10, t));
    fair_answered(&f, &gone.flow);   // in the batch, not settled yet
    fair_flow_reset(&gone.flow);     // the other will never be answered
    EXPECT_EQ(0u, gone.a.inflight);
    fair_account_drop(&f, &gone.a);
    for (fair_account *a = f.active; a; a = a->next_active)
        EXPECT_NE(&gone.a, a);
    t += 10 * kUs;
    fair_settle(&f, t, 10 * kUs);   // the dropped one's reply is charged to nobody
    EXPECT_EQ(0u, other.a.cost_ns);
    // an answer with nothing counted (sent before xsproxy counted) is ignored
    fair_answered(&f, &other.flow);
    EXPECT_EQ(0u, f.batch_len);
}

TEST_F(Fair, ShareIsTheWeightAmongThoseCompeting)
{
    Acct a, b, c;
    b.a.weight = 200;
    for (Acct *x : { &a, &b, &c })
        ASSERT_TRUE(fair_may_send(&f, &x->a, t, true));
    EXPECT_EQ(25u, fair_share_percent(&f, &a.a, t));
    EXPECT_EQ(50u, fair_share_percent(&f, &b.a, t));
    t += 2 * FAIR_WINDOW_NS;
    EXPECT_EQ(100u, fair_share_percent(&f, &a.a, t));
}

// A domain inserted a moment ago has an account not yet set up (all
// zeroes): `list` asks its share, alone or beside others.  This divided by
// zero (SIGFPE) and killed xsproxy when nobody else had competed within
// the window - under load, right after an insertion.
TEST_F(Fair, AnAccountNotYetSetUpHasTheDefaultWeight)
{
    struct fair_account fresh;
    memset(&fresh, 0, sizeof(fresh));
    EXPECT_EQ(FAIR_WEIGHT_DEFAULT, fair_weight(&fresh));
    EXPECT_EQ(100u, fair_share_percent(&f, &fresh, t));
    Acct b;
    ASSERT_TRUE(fair_may_send(&f, &b.a, t, true));
    EXPECT_EQ(50u, fair_share_percent(&f, &fresh, t));
}

}  // namespace
