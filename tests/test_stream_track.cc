// The shim's stream tracker (shim/stream_track.c): where a ring's messages
// end, followed forward, against the old look-back guess it replaces.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

extern "C" {
#include "stream_track.h"
}

namespace {

// A message as it goes on a ring.
std::string wire(uint32_t type, uint32_t req, const std::string &body)
{
    xsd_sockmsg h{ type, req, 0, static_cast<uint32_t>(body.size()) };
    return std::string(reinterpret_cast<const char *>(&h), sizeof(h)) + body;
}

struct Ring {
    char buf[XENSTORE_RING_SIZE] = {};
    XENSTORE_RING_IDX prod = 0;

    void put(const void *p, size_t n)
    {
        for (size_t i = 0; i < n; i++)
            buf[MASK_XENSTORE_IDX(prod++)] = static_cast<const char *>(p)[i];
    }
    void msg(uint32_t type, uint32_t req, const std::string &body, size_t stop_after = SIZE_MAX)
    {
        const std::string all = wire(type, req, body);
        put(all.data(), std::min(all.size(), stop_after));
    }
};

// C xenstored writes only up to the ring's end in one go: a watch event
// after a WRITE's "OK" reply, cut at index 4096 nine bytes into its header.
// Those nine bytes and the reply before them look like a header of type 3
// with an empty payload; the stream is in fact in the middle of a message.
TEST(StreamTrack, ReplyCutAtTheRingsEndIsNotAMessagesEnd)
{
    Ring r;
    struct stream_track t;
    stream_track_start(&t, r.buf, 0, true);
    r.prod = 0;
    int n = 0;
    // fill up to 4087 with whole messages, following each write
    while (r.prod < 4096 - 9 - 19 - 16 - 30) {
        n++;
        r.msg(XS_READ, n, std::string(1 + n % 7, 'x'));
        stream_track_feed(&t, r.buf, r.prod);
    }
    // pad with one message (0-29 bytes of payload) so that "OK\0" ends at 4087
    uint32_t pad = 4096 - 9 - 19 - r.prod - 16;
    r.msg(XS_READ, ++n, std::string(pad, 'p'));
    stream_track_feed(&t, r.buf, r.prod);
    r.msg(XS_WRITE, ++n, std::string("OK", 3));
    ASSERT_EQ(r.prod, 4096u - 9);
    stream_track_feed(&t, r.buf, r.prod);
    EXPECT_TRUE(stream_track_between(&t, r.buf, r.prod));
    const std::string event("data/seq\0w\0", 11);
    r.msg(XS_WATCH_EVENT, 0, event, 9);
    ASSERT_EQ(r.prod, 4096u);
    EXPECT_TRUE(stream_looks_whole(r.buf, r.prod)) << "the old guess is not fooled here";
    stream_track_feed(&t, r.buf, r.prod);
    EXPECT_FALSE(stream_track_between(&t, r.buf, r.prod));
    // the rest of the event comes with the next write
    const std::string all = wire(XS_WATCH_EVENT, 0, event);
    r.put(all.data() + 9, all.size() - 9);
    stream_track_feed(&t, r.buf, r.prod);
    EXPECT_TRUE(stream_track_between(&t, r.buf, r.prod));
}

TEST(StreamTrack, FollowsMessagesFedByteByByteAndAcrossTheWrap)
{
    Ring r;
    struct stream_track t;
    stream_track_start(&t, r.buf, 0, true);
    for (int i = 0; i < 300; i++) {
        const std::string all =
            wire(XS_WRITE, static_cast<uint32_t>(i), std::string(i % 40, static_cast<char>(i)));
        for (size_t k = 0; k < all.size(); k++) {
            r.put(&all[k], 1);
            stream_track_feed(&t, r.buf, r.prod);
            EXPECT_EQ(stream_track_between(&t, r.buf, r.prod), k + 1 == all.size())
                << "message " << i << " byte " << k;
        }
    }
    EXPECT_GT(r.prod, 4u * XENSTORE_RING_SIZE);
}

TEST(StreamTrack, MoreThanARingUnseenLosesTheTrackThenItsGuessHolds)
{
    Ring r;
    struct stream_track t;
    stream_track_start(&t, r.buf, 0, true);
    r.msg(XS_READ, 1, "a");
    stream_track_feed(&t, r.buf, r.prod);
    ASSERT_TRUE(t.synced);
    for (int i = 0; i < 100; i++)
        r.msg(XS_READ, 2 + i, "0123456789");
    stream_track_feed(&t, r.buf, r.prod);
    EXPECT_FALSE(t.synced);
    // lost: the answer is the guess, and the track starts again from it
    EXPECT_EQ(stream_track_between(&t, r.buf, r.prod), stream_looks_whole(r.buf, r.prod));
    stream_track_feed(&t, r.buf, r.prod);
    EXPECT_TRUE(t.synced);
    r.msg(XS_READ, 200, "abc", 10);
    stream_track_feed(&t, r.buf, r.prod);
    EXPECT_FALSE(stream_track_between(&t, r.buf, r.prod));
}

TEST(StreamTrack, AnImpossibleLengthLosesTheTrack)
{
    Ring r;
    struct stream_track t = {};
    stream_track_start(&t, r.buf, r.prod, true);
    xsd_sockmsg h{ XS_WRITE, 1, 0, XENSTORE_PAYLOAD_MAX + 1 };
    r.put(&h, sizeof(h));
    stream_track_feed(&t, r.buf, r.prod);
    EXPECT_FALSE(t.synced);
}

TEST(StreamTrack, AStartWithHistoryIsJudgedByItsBytes)
{
    Ring r;
    r.msg(XS_READ, 1, "abc");
    struct stream_track t;
    stream_track_start(&t, r.buf, r.prod, false);
    EXPECT_TRUE(t.synced);
    r.msg(XS_READ, 2, "abcdef", 12);
    stream_track_start(&t, r.buf, r.prod, false);
    EXPECT_FALSE(t.synced);
}

}  // namespace
