// Unit tests of proxy/capture_filter.c: the capture's run-time filter, its
// text form, the request/reply pairing under a type filter, and the pcap
// pseudo-header.  No daemon, no file.
#include <gtest/gtest.h>

#include <string>

extern "C" {
#include "capture.h"
#include "xsproxy_wire.h"
}

namespace {

struct Settings {
    capture_settings s;
    Settings() { capture_settings_init(&s); }
    ~Settings() { capture_settings_free(&s); }
    std::string text() const
    {
        char buf[1024];
        capture_settings_describe(&s, buf, sizeof(buf));
        return buf;
    }
    int parse(const char *spec, bool files = true)
    {
        err[0] = '\0';
        return capture_settings_parse(&s, spec, files, err, sizeof(err));
    }
    char err[256];
};

xsd_sockmsg hdr(uint32_t type, uint32_t req_id)
{
    xsd_sockmsg h{};
    h.type = type;
    h.req_id = req_id;
    return h;
}

TEST(CaptureSettings, DefaultsCaptureEverythingWithABoundedDisk)
{
    Settings st;
    EXPECT_EQ(st.text(), "dom=all conn=all type=all size=64M files=4");
}

TEST(CaptureSettings, ParsesEveryKeyAndDescribesItBack)
{
    Settings st;
    ASSERT_EQ(st.parse("dom=5,7 conn=none type=write,WATCH_EVENT,quiesce size=16M files=2"), 0)
        << st.err;
    EXPECT_EQ(st.text(), "dom=5,7 conn=none type=WRITE,WATCH_EVENT,QUIESCE size=16M files=2");
    // keys not named keep their values; sizes take k, M, G, with or without B/iB
    ASSERT_EQ(st.parse("conn=3 size=100k"), 0) << st.err;
    EXPECT_EQ(st.text(), "dom=5,7 conn=3 type=WRITE,WATCH_EVENT,QUIESCE size=100k files=2");
    ASSERT_EQ(st.parse("size=1GiB type=all dom=all"), 0) << st.err;
    EXPECT_EQ(st.text(), "dom=all conn=3 type=all size=1G files=2");
    ASSERT_EQ(st.parse("size=5000 type=TYPE_7,2"), 0) << st.err;
    EXPECT_EQ(st.text(), "dom=all conn=3 type=TRANSACTION_END,READ size=5000 files=2");
    ASSERT_EQ(st.parse(""), 0);   // nothing named, nothing changed
    EXPECT_EQ(st.text(), "dom=all conn=3 type=TRANSACTION_END,READ size=5000 files=2");
}

TEST(CaptureSettings, BadSpecsSayWhyAndChangeNothing)
{
    Settings st;
    ASSERT_EQ(st.parse("dom=5 type=READ"), 0);
    const std::string before = st.text();
    const struct {
        const char *spec;
        const char *says;
    } bad[] = {
        { "dom=5,x", "'x' is not a number" },
        { "type=READ,FROB", "'FROB' is not a message type" },
        { "dom=", "not key=value" },
        { "colour=red", "unknown key 'colour'" },
        { "size=10", "at least 4096" },
        { "size=-5M", "give bytes" },
        { "size=5T", "give bytes" },
        { "size=\v-4096", "give bytes" },   // strtoull would skip it and take the sign
        { "size=+8k", "give bytes" },
        { "size=99999999999999999999G", "give bytes" },
        { "files=0", "give 1..1000" },
        { "files=1001", "give 1..1000" },
        { "dom=1 words", "'words' is not key=value" },
        { "conn=,", "needs a list" },
        // a valid key before a bad one is not applied either
        { "dom=9 files=x", "files=x" },
    };
    for (const auto &b : bad) {
        EXPECT_EQ(st.parse(b.spec), -1) << b.spec;
        EXPECT_NE(std::string(st.err).find(b.says), std::string::npos) << b.spec << ": " << st.err;
        EXPECT_EQ(st.text(), before) << b.spec;
    }
    // a running capture's filter cannot change its files
    EXPECT_EQ(st.parse("size=1M", false), -1);
    EXPECT_NE(std::string(st.err).find("unknown key 'size'"), std::string::npos) << st.err;
}

TEST(CaptureSettings, CopyOwnsItsSets)
{
    Settings a;
    ASSERT_EQ(a.parse("dom=1,2 type=READ"), 0);
    capture_settings b;
    ASSERT_EQ(capture_settings_copy(&b, &a.s), 0);
    ASSERT_EQ(a.parse("dom=3"), 0);   // frees a's old list
    char buf[256];
    capture_settings_describe(&b, buf, sizeof(buf));
    EXPECT_STREQ(buf, "dom=1,2 conn=all type=READ size=64M files=4");
    capture_settings_free(&b);
}

TEST(CaptureFilter, DomainsAndConnectionsAreFilteredApart)
{
    Settings st;
    ASSERT_EQ(st.parse("dom=5 conn=2"), 0);
    capture_pending p{};
    auto h = hdr(XS_READ, 1);
    EXPECT_TRUE(capture_wanted(&st.s.filter, &p, CAPTURE_DOMAIN, 5, CAPTURE_TO_XENSTORED, &h));
    EXPECT_FALSE(capture_wanted(&st.s.filter, &p, CAPTURE_DOMAIN, 2, CAPTURE_TO_XENSTORED, &h));
    EXPECT_TRUE(capture_wanted(&st.s.filter, &p, CAPTURE_CONN, 2, CAPTURE_FROM_XENSTORED, &h));
    EXPECT_FALSE(capture_wanted(&st.s.filter, &p, CAPTURE_CONN, 5, CAPTURE_FROM_XENSTORED, &h));
    ASSERT_EQ(st.parse("dom=none conn=all"), 0);
    EXPECT_FALSE(capture_wanted(&st.s.filter, &p, CAPTURE_DOMAIN, 5, CAPTURE_TO_XENSTORED, &h));
    EXPECT_TRUE(capture_wanted(&st.s.filter, &p, CAPTURE_CONN, 77, CAPTURE_TO_XENSTORED, &h));
    EXPECT_EQ(p.n, 0u);   // no type filter: nothing to pair
    capture_pending_free(&p);
}

TEST(CaptureFilter, ARequestsReplyFollowItEvenAsAnError)
{
    Settings st;
    ASSERT_EQ(st.parse("type=WRITE,WATCH_EVENT"), 0);
    capture_pending p{};
    const auto *f = &st.s.filter;
    auto w1 = hdr(XS_WRITE, 1), r2 = hdr(XS_READ, 2), w3 = hdr(XS_WRITE, 3);
    EXPECT_TRUE(capture_wanted(f, &p, CAPTURE_DOMAIN, 5, CAPTURE_TO_XENSTORED, &w1));
    EXPECT_FALSE(capture_wanted(f, &p, CAPTURE_DOMAIN, 5, CAPTURE_TO_XENSTORED, &r2));
    EXPECT_TRUE(capture_wanted(f, &p, CAPTURE_DOMAIN, 6, CAPTURE_TO_XENSTORED, &w3));
    // the READ's ENOENT is not captured, the WRITE's EACCES is
    auto e2 = hdr(XS_ERROR, 2), e1 = hdr(XS_ERROR, 1), ok3 = hdr(XS_WRITE, 3);
    EXPECT_FALSE(capture_wanted(f, &p, CAPTURE_DOMAIN, 5, CAPTURE_FROM_XENSTORED, &e2));
    EXPECT_TRUE(capture_wanted(f, &p, CAPTURE_DOMAIN, 5, CAPTURE_FROM_XENSTORED, &e1));
    // a reply is paired within its own domain only: domain 5's stray WRITE
    // reply is judged by its type, and domain 6's WRITE still waits
    EXPECT_TRUE(capture_wanted(f, &p, CAPTURE_DOMAIN, 5, CAPTURE_FROM_XENSTORED, &ok3));
    EXPECT_EQ(p.n, 1u);
    EXPECT_TRUE(capture_wanted(f, &p, CAPTURE_DOMAIN, 6, CAPTURE_FROM_XENSTORED, &ok3));
    EXPECT_EQ(p.n, 0u);
    // events are judged by their own type; the same req_id twice pairs in order
    auto ev = hdr(XS_WATCH_EVENT, 0);
    EXPECT_TRUE(capture_wanted(f, &p, CAPTURE_DOMAIN, 5, CAPTURE_FROM_XENSTORED, &ev));
    auto a = hdr(XS_WRITE, 9);
    EXPECT_TRUE(capture_wanted(f, &p, CAPTURE_CONN, 1, CAPTURE_TO_XENSTORED, &a));
    EXPECT_TRUE(capture_wanted(f, &p, CAPTURE_CONN, 1, CAPTURE_TO_XENSTORED, &a));
    auto err9 = hdr(XS_ERROR, 9);
    EXPECT_TRUE(capture_wanted(f, &p, CAPTURE_CONN, 1, CAPTURE_FROM_XENSTORED, &err9));
    EXPECT_TRUE(capture_wanted(f, &p, CAPTURE_CONN, 1, CAPTURE_FROM_XENSTORED, &err9));
    EXPECT_FALSE(capture_wanted(f, &p, CAPTURE_CONN, 1, CAPTURE_FROM_XENSTORED, &err9));
    capture_pending_free(&p);
}

TEST(CaptureFilter, PendingRequestsAreBounded)
{
    Settings st;
    ASSERT_EQ(st.parse("type=READ"), 0);
    capture_pending p{};
    for (uint32_t i = 0; i < CAPTURE_PENDING_MAX + 10; i++) {
        auto h = hdr(XS_READ, i);
        ASSERT_TRUE(capture_wanted(&st.s.filter, &p, CAPTURE_DOMAIN, 1, CAPTURE_TO_XENSTORED, &h));
    }
    EXPECT_EQ(p.n, (size_t)CAPTURE_PENDING_MAX);
    // the oldest were forgotten: their errors are judged alone (dropped)
    auto old_err = hdr(XS_ERROR, 3), new_err = hdr(XS_ERROR, CAPTURE_PENDING_MAX + 9);
    EXPECT_FALSE(
        capture_wanted(&st.s.filter, &p, CAPTURE_DOMAIN, 1, CAPTURE_FROM_XENSTORED, &old_err));
    EXPECT_TRUE(
        capture_wanted(&st.s.filter, &p, CAPTURE_DOMAIN, 1, CAPTURE_FROM_XENSTORED, &new_err));
    capture_pending_free(&p);
}

TEST(CaptureFormat, PseudoHeaderIsBigEndianAndVersioned)
{
    uint8_t b[CAPTURE_PSEUDO_LEN];
    capture_pseudo_header(b, CAPTURE_CONN, 0x01020304, CAPTURE_FROM_XENSTORED,
                          CAPTURE_FLAG_LOCAL, 7, 0x0a0b0c0d);
    const uint8_t want[CAPTURE_PSEUDO_LEN] = { 1, 1, 2, 1, 1, 2, 3, 4, 0, 0, 0, 7, 10, 11, 12, 13 };
    EXPECT_EQ(0, memcmp(b, want, sizeof(want)));
}

TEST(MsgTypes, NamesRoundTrip)
{
    char buf[24];
    for (uint32_t t = 0; t < 27; t++) {   // up to SET_QUOTA (26), newer than this header
        uint32_t back = ~0u;
        ASSERT_TRUE(msg_type_parse(msg_type_name(t, buf, sizeof(buf)), &back)) << t;
        EXPECT_EQ(back, t);
    }
    for (uint32_t t = XSP_QUIESCE; t < XSP_TYPE_END; t++) {
        uint32_t back = 0;
        ASSERT_TRUE(msg_type_parse(msg_type_name(t, buf, sizeof(buf)), &back)) << t;
        EXPECT_EQ(back, t);
    }
    EXPECT_STREQ(msg_type_name(999, buf, sizeof(buf)), "TYPE_999");
    EXPECT_STREQ(msg_type_name(XSP_TYPE_END, buf, sizeof(buf)), "TYPE_1481637896");
    uint32_t t;
    EXPECT_TRUE(msg_type_parse("debug", &t));
    EXPECT_EQ(t, (uint32_t)XS_CONTROL);
    EXPECT_FALSE(msg_type_parse("WRITEX", &t));
    EXPECT_FALSE(msg_type_parse("", &t));
}

}  // namespace
