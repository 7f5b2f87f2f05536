// The shim's stream tracker (shim/stream_track.c): where a ring's messages
// end, followed forward, against the old look-back guess it replaces; and
// the ring follower on top of it (shim/ring_follow.c): the requests a
// daemon has not answered, and where a live switch can hand a ring over.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "ring_follow.h"
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
        stream_track_feed(&t, r.buf, r.prod, NULL, NULL);
    }
    // pad with one message (0-29 bytes of payload) so that "OK\0" ends at 4087
    uint32_t pad = 4096 - 9 - 19 - r.prod - 16;
    r.msg(XS_READ, ++n, std::string(pad, 'p'));
    stream_track_feed(&t, r.buf, r.prod, NULL, NULL);
    r.msg(XS_WRITE, ++n, std::string("OK", 3));
    ASSERT_EQ(r.prod, 4096u - 9);
    stream_track_feed(&t, r.buf, r.prod, NULL, NULL);
    EXPECT_TRUE(stream_track_between(&t, r.buf, r.prod));
    const std::string event("data/seq\0w\0", 11);
    r.msg(XS_WATCH_EVENT, 0, event, 9);
    ASSERT_EQ(r.prod, 4096u);
    EXPECT_TRUE(stream_looks_whole(r.buf, r.prod)) << "the old guess is not fooled here";
    stream_track_feed(&t, r.buf, r.prod, NULL, NULL);
    EXPECT_FALSE(stream_track_between(&t, r.buf, r.prod));
    // the rest of the event comes with the next write
    const std::string all = wire(XS_WATCH_EVENT, 0, event);
    r.put(all.data() + 9, all.size() - 9);
    stream_track_feed(&t, r.buf, r.prod, NULL, NULL);
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
            stream_track_feed(&t, r.buf, r.prod, NULL, NULL);
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
    stream_track_feed(&t, r.buf, r.prod, NULL, NULL);
    ASSERT_TRUE(t.synced);
    for (int i = 0; i < 100; i++)
        r.msg(XS_READ, 2 + i, "0123456789");
    stream_track_feed(&t, r.buf, r.prod, NULL, NULL);
    EXPECT_FALSE(t.synced);
    // lost: the answer is the guess, and the track starts again from it
    EXPECT_EQ(stream_track_between(&t, r.buf, r.prod), stream_looks_whole(r.buf, r.prod));
    stream_track_feed(&t, r.buf, r.prod, NULL, NULL);
    EXPECT_TRUE(t.synced);
    r.msg(XS_READ, 200, "abc", 10);
    stream_track_feed(&t, r.buf, r.prod, NULL, NULL);
    EXPECT_FALSE(stream_track_between(&t, r.buf, r.prod));
}

TEST(StreamTrack, AnImpossibleLengthLosesTheTrack)
{
    Ring r;
    struct stream_track t = {};
    stream_track_start(&t, r.buf, r.prod, true);
    xsd_sockmsg h{ XS_WRITE, 1, 0, XENSTORE_PAYLOAD_MAX + 1 };
    r.put(&h, sizeof(h));
    stream_track_feed(&t, r.buf, r.prod, NULL, NULL);
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

// A whole page as a guest and a daemon share it: the guest writes
// requests and reads replies, the daemon takes requests and writes replies.
struct Page {
    xenstore_domain_interface r{};

    void put(char *ring, XENSTORE_RING_IDX *prod, const std::string &bytes)
    {
        for (char c : bytes)
            ring[MASK_XENSTORE_IDX((*prod)++)] = c;
    }
    void request(uint32_t req, const std::string &body, size_t stop_after = SIZE_MAX)
    {
        const std::string all = wire(XS_READ, req, body);
        put(r.req, &r.req_prod, all.substr(0, std::min(all.size(), stop_after)));
    }
    void rest_of_request(uint32_t req, const std::string &body, size_t from)
    {
        put(r.req, &r.req_prod, wire(XS_READ, req, body).substr(from));
    }
    void reply(uint32_t type, uint32_t req, const std::string &body, size_t stop_after = SIZE_MAX)
    {
        const std::string all = wire(type, req, body);
        put(r.rsp, &r.rsp_prod, all.substr(0, std::min(all.size(), stop_after)));
    }
    // the daemon takes N request bytes, the guest reads every reply
    void take(uint32_t n) { r.req_cons += n; }
    void read_replies() { r.rsp_cons = r.rsp_prod; }
};

uint32_t wire_len(const std::string &body)
{
    return static_cast<uint32_t>(sizeof(xsd_sockmsg) + body.size());
}

std::vector<uint32_t> pending_ids(const ring_follow &f, const switch_point &sp)
{
    std::vector<uint32_t> ids;
    for (unsigned i = 0; i < sp.nr_pending; i++)
        ids.push_back(f.pending[i].hdr.req_id);
    return ids;
}

// The moment of the flake that live insertion had on C xenstored: the
// daemon took a request, wrote a watch event and has the reply queued.  The
// request is handed over as pending, with where it began.
TEST(RingFollow, ARequestTakenAndNotAnsweredIsPending)
{
    Page p;
    ring_follow f{};
    ring_follow_start(&f, &p.r);
    p.request(1, "a");
    p.take(wire_len("a"));
    p.reply(XS_READ, 1, "x");
    p.read_replies();
    p.request(2, "bb");
    p.take(wire_len("bb"));
    p.reply(XS_WATCH_EVENT, 0, std::string("p\0t\0", 4));
    switch_point sp;
    ASSERT_EQ(ring_follow_switch_point(&f, &p.r, &sp), nullptr);
    EXPECT_EQ(pending_ids(f, sp), std::vector<uint32_t>{ 2 });
    EXPECT_EQ(f.pending[0].start, wire_len("a"));
    EXPECT_EQ(f.pending[0].hdr.len, 2u);
    EXPECT_EQ(sp.req_part, 0u);
    EXPECT_EQ(sp.rsp_part, 0u);
    EXPECT_FALSE(sp.guessed);
    ring_follow_free(&f);
}

// Requests the daemon has not taken yet are pending too, in order; a reply
// ends the oldest request of its id, whatever order the daemon answers in.
TEST(RingFollow, RequestsLeftOnTheRingArePendingInOrder)
{
    Page p;
    ring_follow f{};
    ring_follow_start(&f, &p.r);
    for (uint32_t id = 10; id < 14; id++)
        p.request(id, "k" + std::to_string(id));
    p.take(2 * wire_len("k10"));
    p.reply(XS_READ, 11, "v");
    p.reply(XS_ERROR, 10, std::string("ENOENT\0", 7));
    switch_point sp;
    ASSERT_EQ(ring_follow_switch_point(&f, &p.r, &sp), nullptr);
    EXPECT_EQ(pending_ids(f, sp), (std::vector<uint32_t>{ 12, 13 }));
    EXPECT_EQ(sp.req_cons, 2 * wire_len("k10"));
    ring_follow_free(&f);
}

// A request the guest is half-way through writing is the requester's to
// finish: it is not pending, and req_part says how much of it is there.
// Taking part of it is what the daemon must not have done.
TEST(RingFollow, AHalfWrittenRequestIsHandedOverUnlessTheDaemonTookPartOfIt)
{
    for (size_t cut : { 5u, 16u, 20u }) {
        SCOPED_TRACE("cut " + std::to_string(cut));
        Page p;
        ring_follow f{};
        ring_follow_start(&f, &p.r);
        p.request(1, "first");
        p.take(wire_len("first"));
        p.request(2, "second-one", cut);
        switch_point sp;
        ASSERT_EQ(ring_follow_switch_point(&f, &p.r, &sp), nullptr);
        EXPECT_EQ(sp.req_part, cut);
        EXPECT_EQ(pending_ids(f, sp), std::vector<uint32_t>{ 1 });
        p.take(1);   // the daemon takes one byte of it
        EXPECT_STREQ(ring_follow_switch_point(&f, &p.r, &sp),
                     "the daemon has taken part of a request");
        p.take(static_cast<uint32_t>(cut) - 1);   // all that is there: still part
        EXPECT_STREQ(ring_follow_switch_point(&f, &p.r, &sp),
                     "the daemon has taken part of a request");
        p.rest_of_request(2, "second-one", cut);
        p.take(wire_len("second-one") - static_cast<uint32_t>(cut));
        ASSERT_EQ(ring_follow_switch_point(&f, &p.r, &sp), nullptr);
        EXPECT_EQ(sp.req_part, 0u);
        EXPECT_EQ(pending_ids(f, sp), (std::vector<uint32_t>{ 1, 2 }));
        ring_follow_free(&f);
    }
}

// A reply the daemon is half-way through writing (C xenstored writes the
// header and the payload with a notify each, and cuts at the ring's end):
// rsp_part says how much of it the guest has, its request stays pending
// until the reply is whole.
TEST(RingFollow, AHalfWrittenReplyKeepsItsRequestPending)
{
    Page p;
    ring_follow f{};
    ring_follow_start(&f, &p.r);
    p.request(7, "k");
    p.take(wire_len("k"));
    p.reply(XS_READ, 7, "value", sizeof(xsd_sockmsg));
    switch_point sp;
    ASSERT_EQ(ring_follow_switch_point(&f, &p.r, &sp), nullptr);
    EXPECT_EQ(sp.rsp_part, sizeof(xsd_sockmsg));
    EXPECT_EQ(sp.rsp_hdr.req_id, 7u);
    EXPECT_EQ(sp.rsp_hdr.len, 5u);
    EXPECT_EQ(pending_ids(f, sp), std::vector<uint32_t>{ 7 });
    p.put(p.r.rsp, &p.r.rsp_prod, "value");
    ASSERT_EQ(ring_follow_switch_point(&f, &p.r, &sp), nullptr);
    EXPECT_EQ(sp.rsp_part, 0u);
    EXPECT_EQ(sp.nr_pending, 0u);
    ring_follow_free(&f);
}

// A ring the daemon served before the follow began (introduced again) may
// owe replies nobody saw asked for: the switch falls back to the look of
// the bytes, with everything taken and nothing pending.
TEST(RingFollow, ARingWithHistoryIsJudgedByItsLook)
{
    Page p;
    p.request(1, "a");
    p.take(wire_len("a"));
    ring_follow f{};
    ring_follow_start(&f, &p.r);
    EXPECT_TRUE(f.unknown);
    p.request(2, "b");
    switch_point sp;
    EXPECT_NE(ring_follow_switch_point(&f, &p.r, &sp), nullptr);
    p.take(wire_len("b"));
    ASSERT_EQ(ring_follow_switch_point(&f, &p.r, &sp), nullptr);
    EXPECT_TRUE(sp.guessed);
    EXPECT_EQ(sp.nr_pending, 0u);
    ring_follow_free(&f);
}

// Broken indexes are never a switch point.
TEST(RingFollow, BrokenIndexesAreNoSwitchPoint)
{
    Page p;
    ring_follow f{};
    ring_follow_start(&f, &p.r);
    p.r.rsp_prod = 2 * XENSTORE_RING_SIZE;
    switch_point sp;
    EXPECT_STREQ(ring_follow_switch_point(&f, &p.r, &sp), "the guest's response ring is broken");
    ring_follow_free(&f);
}

// A guest that piles up requests the daemon never answers fills the list
// up to its bound; past it the list is unknown, and the switch judged by
// the look of the bytes.  Nothing grows without end.
TEST(RingFollow, TheListOfPendingRequestsIsBounded)
{
    Page p;
    ring_follow f{};
    ring_follow_start(&f, &p.r);
    for (uint32_t i = 0; i <= RING_FOLLOW_PENDING_MAX; i++) {
        p.request(i, "");
        p.take(sizeof(xsd_sockmsg));
        ring_follow_feed(&f, &p.r, p.r.req_prod, p.r.rsp_prod);
    }
    EXPECT_TRUE(f.unknown);
    EXPECT_LE(f.cap, RING_FOLLOW_PENDING_MAX);
    switch_point sp;
    ASSERT_EQ(ring_follow_switch_point(&f, &p.r, &sp), nullptr);
    EXPECT_TRUE(sp.guessed);
    ring_follow_free(&f);
}

}  // namespace
