// test_proxy_log_limit - proxy/log_limit.c: a domain's log messages, a
// burst per minute, the rest counted and reported with the next one.
#include <gtest/gtest.h>

extern "C" {
#include "log_limit.h"
}

namespace {

TEST(LogLimit, ABurstPerWindowThenCountsWhatItHoldsBack)
{
    struct log_limit l = {};
    int64_t t = 5000000;   // any monotonic time
    uint32_t missed = 99;
    for (int i = 0; i < LOG_LIMIT_BURST; i++) {
        ASSERT_TRUE(log_limit_take(&l, t + i, &missed)) << i;
        EXPECT_EQ(0u, missed);
    }
    for (int i = 0; i < 25; i++)
        EXPECT_FALSE(log_limit_take(&l, t + 100 + i, &missed));
    // still the same window a moment before it ends
    EXPECT_FALSE(log_limit_take(&l, t + LOG_LIMIT_WINDOW_MS - 1, &missed));
    // the next window: the first one through reports the 26 held back
    ASSERT_TRUE(log_limit_take(&l, t + LOG_LIMIT_WINDOW_MS, &missed));
    EXPECT_EQ(26u, missed);
    ASSERT_TRUE(log_limit_take(&l, t + LOG_LIMIT_WINDOW_MS + 1, &missed));
    EXPECT_EQ(0u, missed);
}

TEST(LogLimit, AQuietSourceIsNeverHeldBack)
{
    struct log_limit l = {};
    uint32_t missed = 0;
    // one message every 7 s for an hour: under 10 a minute
    for (int64_t t = 0; t < 3600000; t += 7000) {
        ASSERT_TRUE(log_limit_take(&l, t, &missed)) << t;
        EXPECT_EQ(0u, missed);
    }
}

TEST(LogLimit, AClockThatGoesBackStartsAWindow)
{
    struct log_limit l = {};
    uint32_t missed = 0;
    for (int i = 0; i < LOG_LIMIT_BURST; i++)
        ASSERT_TRUE(log_limit_take(&l, 100000, &missed));
    EXPECT_FALSE(log_limit_take(&l, 100000, &missed));
    ASSERT_TRUE(log_limit_take(&l, 50000, &missed));
    EXPECT_EQ(1u, missed);
}

}  // namespace
