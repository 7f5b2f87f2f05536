// test_proxy_shadow_codec.cc - unit tests of proxy/shadow_codec.c: a shadow
// built through shadow.c's own API (watches, logged transactions, a restore
// replaying, an adopted transaction, internal requests, a streamed reply)
// encodes, decodes to an equal shadow that goes on exactly as the original
// would, and no truncated, mutated or hostile encoding is taken.
//
// XSPROXY_CODEC_SEEDS=DIR writes the encodings of these states to DIR (the
// seeds of tests/fuzz/shadow_codec/, FuzzSeedsDecode).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "msg.h"
#include "shadow.h"
}

namespace {

using Bytes = std::vector<uint8_t>;

std::unique_ptr<msg> make(uint32_t type, uint32_t req_id, uint32_t tx_id, const std::string &body)
{
    auto m = std::make_unique<msg>();
    msg_build(m.get(), type, req_id, tx_id, body.data(), static_cast<uint32_t>(body.size()));
    return m;
}

std::string str0(const std::string &s)
{
    return s + std::string(1, '\0');
}

std::string body_of(msg *m)
{
    return std::string(reinterpret_cast<const char *>(msg_body(m)), m->hdr.len);
}

// S through one of the encoders: the whole state by default.
Bytes encode(const shadow &s, int (*encoder)(const shadow *, uint8_t **, size_t *,
                                             size_t *) = shadow_encode)
{
    uint8_t *buf = nullptr;
    size_t len = 0, cap = 0;
    EXPECT_EQ(0, encoder(&s, &buf, &len, &cap));
    Bytes out(buf, buf + len);
    free(buf);
    return out;
}

// The form that keeps the watch list apart.
Bytes encode_apart(const shadow &s)
{
    return encode(s, shadow_encode_apart);
}

// A shadow with init/clear around it.
struct Shadow {
    shadow s;
    Shadow() { shadow_init(&s); }
    ~Shadow() { shadow_clear(&s); }
    Shadow(const Shadow &) = delete;
    Shadow &operator=(const Shadow &) = delete;

    uint32_t request(uint32_t type, uint32_t req_id, uint32_t tx, const std::string &body)
    {
        auto m = make(type, req_id, tx, body);
        EXPECT_EQ(0, shadow_on_request(&s, m.get()));
        return m->hdr.tx_id;
    }
    std::unique_ptr<msg> reply(uint32_t type, uint32_t req_id, uint32_t backend_tx,
                               const std::string &body, shadow_reply expect = SHADOW_REPLY)
    {
        auto m = make(type, req_id, backend_tx, body);
        EXPECT_EQ(expect, shadow_on_reply(&s, m.get()));
        return m;
    }
    uint32_t start_tx(uint32_t req_id, uint32_t backend_id)
    {
        request(XS_TRANSACTION_START, req_id, 0, str0(""));
        auto r = reply(XS_TRANSACTION_START, req_id, 0, str0(std::to_string(backend_id)));
        return static_cast<uint32_t>(std::stoul(body_of(r.get())));
    }
    void watch(uint32_t req_id, const std::string &path, const std::string &token)
    {
        request(XS_WATCH, req_id, 0, str0(path) + str0(token));
        reply(XS_WATCH, req_id, 0, str0("OK"));
    }
    const shadow_tx *tx(uint32_t guest_id) const
    {
        for (const shadow_tx *t = s.txs; t; t = t->next)
            if (t->guest_id == guest_id)
                return t;
        return nullptr;
    }
    bool empty() const
    {
        shadow zero;
        memset(&zero, 0, sizeof(zero));
        return memcmp(&zero, &s, sizeof(s)) == 0;
    }
};

// Restore guest transaction GUEST_ID with a log of OPS (request, answer).
void restore(Shadow &sh, uint32_t req_id, uint32_t guest_id,
             const std::vector<std::pair<std::string, std::string>> &ops, bool replayable)
{
    std::vector<tx_op> v;
    for (const auto &o : ops)
        v.push_back(tx_op{ XS_READ, XS_READ, (uint32_t)o.first.size(), (uint32_t)o.second.size(),
                           (uint8_t *)o.first.data(), (uint8_t *)o.second.data() });
    auto st = make(XS_TRANSACTION_START, req_id, 0, str0(""));
    ASSERT_EQ(0, shadow_on_restore_tx(&sh.s, st.get(), guest_id, v.data(), (unsigned)v.size(),
                                      replayable));
}

// A shadow with a bit of everything, and with all of it in flight:
//  - watches a, c (b was removed), relative paths, a token with a space;
//  - one unexpected reply;
//  - restored transaction 5 (xenstored's 9), its first of 3 operations
//    replayed and in flight;
//  - transaction 7 (xenstored's 7) with 2 logged operations and a third
//    whose reply is being streamed;
//  - transaction 1 (xenstored's 5: 5 is the restored one's), its END in
//    flight;
//  - transaction 42 adopted at its first use, a READ in it in flight;
//  - in flight also: a WATCH, an UNWATCH, xsproxy's own WATCH adding a
//    watch, a WRITE logged in transaction 7, a plain READ and the START of
//    restored transaction 6 that cannot be replayed (doomed);
//  - live insertion's flags set.
void build_rich(Shadow &sh)
{
    // answered requests first, so that what is left in flight wraps around
    // the end of the FIFO's ring
    for (uint32_t i = 0; i < 14; i++)
        sh.request(XS_READ, 100 + i, 0, str0("warm"));
    for (uint32_t i = 0; i < 14; i++)
        sh.reply(XS_READ, 100 + i, 0, "w");
    sh.watch(1, "data/a", "tok a");
    sh.watch(2, "/local/domain/3/b", "tb");
    sh.watch(3, "data/c", "tc");
    sh.request(XS_UNWATCH, 4, 0, str0("/local/domain/3/b") + str0("tb"));
    sh.reply(XS_UNWATCH, 4, 0, str0("OK"));
    sh.reply(XS_READ, 99, 0, "stray", SHADOW_UNEXPECTED);

    restore(sh, 0x80000000u, 5,
            { { str0("data/r1"), "v1" }, { str0("data/r2"), "v2" }, { str0("data/r3"), "v3" } },
            true);
    sh.reply(XS_TRANSACTION_START, 0x80000000u, 0, str0("9"), SHADOW_INTERNAL_TX);

    EXPECT_EQ(7u, sh.start_tx(10, 7));
    EXPECT_EQ(1u, sh.start_tx(11, 5));   // 5 shows the restored one
    sh.request(XS_READ, 12, 7, str0("data/x"));
    sh.reply(XS_READ, 12, 7, "x0");
    sh.request(XS_WRITE, 13, 7, str0("data/y") + "y0");
    sh.reply(XS_WRITE, 13, 7, str0("OK"));
    // a READ whose answer streams: only its header is in
    sh.request(XS_READ, 14, 7, str0("data/big"));
    auto big = make(XS_READ, 14, 7, std::string(3000, 'b'));
    big->got = MSG_HDR_LEN;
    EXPECT_EQ(SHADOW_REPLY, shadow_on_reply(&sh.s, big.get()));
    EXPECT_TRUE(sh.s.has_streamed);

    // in flight from here on
    sh.s.adopt_unknown_tx = true;
    EXPECT_EQ(42u, sh.request(XS_READ, 20, 42, str0("data/old")));
    auto rp = make(0, 0, 0, "");
    ASSERT_EQ(1, shadow_next_replay(&sh.s, rp.get(), 0x80000001u));
    sh.request(XS_WATCH, 21, 0, str0("data/d") + str0("td"));
    sh.request(XS_UNWATCH, 22, 0, str0("data/a") + str0("tok a"));
    auto iw = make(XS_WATCH, 0x80000002u, 0, str0("data/e") + str0("te"));
    ASSERT_EQ(0, shadow_on_internal_request(&sh.s, iw.get(), true));
    EXPECT_EQ(7u, sh.request(XS_WRITE, 23, 7, str0("data/z") + "z0"));
    EXPECT_EQ(5u, sh.request(XS_TRANSACTION_END, 24, 1, str0("T")));
    sh.request(XS_READ, 25, 0, str0("data/plain"));
    restore(sh, 0x80000003u, 6, { { str0("data/q"), "q" } }, false);
    sh.s.incomplete = true;
}

// The replies xenstored gives to build_rich's requests in flight, in order,
// then what the guest goes on with.  Returns what each shadow_on_reply or
// request gave, as text, to compare two shadows' answers.
std::string go_on(Shadow &sh)
{
    std::string out;
    auto note = [&](const std::string &what, msg *m, int r) {
        out += what + " " + std::to_string(r) + " type " + std::to_string(m->hdr.type) + " tx " +
               std::to_string(m->hdr.tx_id) + " [" + body_of(m) + "]\n";
    };
    auto reply = [&](uint32_t type, uint32_t req_id, uint32_t tx, const std::string &body) {
        auto m = make(type, req_id, tx, body);
        int r = shadow_on_reply(&sh.s, m.get());
        note("reply", m.get(), r);
    };
    auto request = [&](uint32_t type, uint32_t req_id, uint32_t tx, const std::string &body) {
        auto m = make(type, req_id, tx, body);
        int r = shadow_on_request(&sh.s, m.get());
        note("request", m.get(), r);
    };
    // the streamed answer is whole: logged in transaction 7
    auto big = make(XS_READ, 14, 7, std::string(3000, 'b'));
    shadow_on_streamed_end(&sh.s, big.get());
    reply(XS_READ, 20, 42, "old");
    reply(XS_READ, 0x80000001u, 9, "v1");   // the replay agrees so far
    reply(XS_WATCH, 21, 0, str0("OK"));
    reply(XS_UNWATCH, 22, 0, str0("OK"));
    reply(XS_WATCH, 0x80000002u, 0, str0("OK"));
    reply(XS_WRITE, 23, 7, str0("OK"));
    reply(XS_TRANSACTION_END, 24, 5, str0("OK"));
    reply(XS_READ, 25, 0, "plain");
    reply(XS_TRANSACTION_START, 0x80000003u, 0, str0("11"));
    // the rest of the replay, the second answer differing: doomed
    for (uint32_t id = 0x80000004u;; id++) {
        auto m = make(0, 0, 0, "");
        if (!shadow_next_replay(&sh.s, m.get(), id))
            break;
        note("replay", m.get(), 1);
        reply(m->hdr.type, id, 9, id == 0x80000004u ? "other" : "v3");
    }
    request(XS_TRANSACTION_END, 30, 5, str0("T"));
    reply(XS_TRANSACTION_END, 30, 9, str0("OK"));
    request(XS_READ, 31, 7, str0("data/x"));
    reply(XS_READ, 31, 7, "x0");
    request(XS_TRANSACTION_END, 32, 7, str0("T"));
    reply(XS_TRANSACTION_END, 32, 7, str0("OK"));
    request(XS_TRANSACTION_END, 33, 6, str0("T"));
    reply(XS_TRANSACTION_END, 33, 11, str0("OK"));
    reply(XS_READ, 34, 0, "nothing in flight");
    char text[4096];
    shadow_describe(&sh.s, text, sizeof(text));
    out += text;
    return out;
}

// Everything the codec carries, field by field (not the ring's layout nor
// the log arrays' capacity, which are the allocator's business).
void expect_same_inflight(const inflight &a, const inflight &b, const std::string &where)
{
    SCOPED_TRACE(where);
    EXPECT_EQ(a.req_id, b.req_id);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.guest_tx, b.guest_tx);
    EXPECT_EQ(!a.watch_path, !b.watch_path);
    if (a.watch_path && b.watch_path) {
        EXPECT_STREQ(a.watch_path, b.watch_path);
        EXPECT_STREQ(a.watch_token, b.watch_token);
    }
    EXPECT_EQ(a.force_eagain, b.force_eagain);
    EXPECT_EQ(a.restore_tx, b.restore_tx);
    EXPECT_EQ(a.replay_tx, b.replay_tx);
    EXPECT_EQ(a.replay_op, b.replay_op);
    EXPECT_EQ(!a.tx_req, !b.tx_req);
    if (a.tx_req && b.tx_req) {
        ASSERT_EQ(a.tx_req_len, b.tx_req_len);
        EXPECT_EQ(0, memcmp(a.tx_req, b.tx_req, a.tx_req_len));
    }
    EXPECT_EQ(a.internal, b.internal);
}

void expect_same(const shadow &a, const shadow &b)
{
    EXPECT_EQ(a.nr_watches, b.nr_watches);
    EXPECT_EQ(a.watch_gencnt, b.watch_gencnt);
    const shadow_watch *wa = a.watches, *wb = b.watches;
    for (; wa && wb; wa = wa->next, wb = wb->next) {
        EXPECT_STREQ(wa->path, wb->path);
        EXPECT_STREQ(wa->token, wb->token);
    }
    EXPECT_TRUE(!wa && !wb) << "watch lists of different lengths";

    EXPECT_EQ(a.nr_txs, b.nr_txs);
    const shadow_tx *ta = a.txs, *tb = b.txs;
    for (; ta && tb; ta = ta->next, tb = tb->next) {
        SCOPED_TRACE("tx " + std::to_string(ta->guest_id));
        EXPECT_EQ(ta->guest_id, tb->guest_id);
        EXPECT_EQ(ta->backend_id, tb->backend_id);
        EXPECT_EQ(ta->doomed, tb->doomed);
        EXPECT_EQ(ta->log_bytes, tb->log_bytes);
        EXPECT_EQ(ta->log_cut, tb->log_cut);
        EXPECT_EQ(ta->replay_next, tb->replay_next);
        EXPECT_EQ(ta->replaying, tb->replaying);
        EXPECT_EQ(ta->adopted, tb->adopted);
        ASSERT_EQ(ta->nops, tb->nops);
        EXPECT_LE(tb->nops, tb->cap_ops);
        for (unsigned i = 0; i < ta->nops; i++) {
            const tx_op &x = ta->ops[i], &y = tb->ops[i];
            EXPECT_EQ(x.type, y.type);
            EXPECT_EQ(x.rsp_type, y.rsp_type);
            ASSERT_EQ(x.req_len, y.req_len);
            ASSERT_EQ(x.rsp_len, y.rsp_len);
            ASSERT_TRUE(y.req && y.rsp);
            EXPECT_EQ(0, memcmp(x.req, y.req, x.req_len));
            EXPECT_EQ(0, memcmp(x.rsp, y.rsp, x.rsp_len));
        }
    }
    EXPECT_TRUE(!ta && !tb) << "transaction lists of different lengths";

    ASSERT_EQ(shadow_inflight(&a), shadow_inflight(&b));
    for (unsigned i = 0; i < shadow_inflight(&a); i++)
        expect_same_inflight(*shadow_inflight_at(&a, i), *shadow_inflight_at(&b, i),
                             "in flight " + std::to_string(i));
    EXPECT_EQ(a.unexpected, b.unexpected);
    EXPECT_EQ(a.has_streamed, b.has_streamed);
    if (a.has_streamed && b.has_streamed)
        expect_same_inflight(a.streamed, b.streamed, "streamed");
    EXPECT_EQ(a.adopt_unknown_tx, b.adopt_unknown_tx);
    EXPECT_EQ(a.incomplete, b.incomplete);
}

// Decode BUF into SH; the reason in *WHY on failure.
int decode(Shadow &sh, const Bytes &buf, size_t *used = nullptr, std::string *why = nullptr)
{
    char err[256];
    memset(err, 'x', sizeof(err));
    int rc = shadow_decode(&sh.s, buf.data(), buf.size(), used, err, sizeof(err));
    EXPECT_NE(nullptr, memchr(err, 0, sizeof(err)));
    if (why)
        *why = err;
    return rc;
}

// ---- little-endian building blocks for hand-made encodings ---------------

void u32(Bytes &b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b.push_back((uint8_t)(v >> (8 * i)));
}

void set_u32(Bytes &b, size_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[off + i] = (uint8_t)(v >> (8 * i));
}

// Header fields of the format (shadow_codec.c's comment).
constexpr size_t OFF_LENGTH = 8;

// An encoding whose body after the watch count is BODY, its length right.
Bytes handmade(const Bytes &body, uint32_t flags = 0)
{
    Bytes b;
    u32(b, 0x48535358u);
    u32(b, 1);
    u32(b, 0);
    u32(b, flags);
    u32(b, 3);        // gencnt
    u32(b, 0);
    u32(b, 0);        // unexpected
    b.insert(b.end(), body.begin(), body.end());
    set_u32(b, OFF_LENGTH, (uint32_t)b.size());
    return b;
}

Bytes str_field(const std::string &s)
{
    Bytes b;
    u32(b, (uint32_t)s.size());
    b.insert(b.end(), s.begin(), s.end());
    return b;
}

Bytes cat(std::initializer_list<Bytes> parts)
{
    Bytes b;
    for (const auto &p : parts)
        b.insert(b.end(), p.begin(), p.end());
    return b;
}

Bytes words(std::initializer_list<uint32_t> v)
{
    Bytes b;
    for (uint32_t x : v)
        u32(b, x);
    return b;
}

void expect_refused(const Bytes &buf, const std::string &reason_part)
{
    Shadow sh;
    std::string why;
    EXPECT_EQ(-1, decode(sh, buf, nullptr, &why));
    EXPECT_NE(std::string::npos, why.find(reason_part)) << why;
    EXPECT_TRUE(sh.empty());
}

// ---- round trips ------------------------------------------------------------

TEST(XsproxyShadowCodec, EmptyShadowRoundTrips)
{
    Shadow a;
    Bytes e = encode(a.s);
    EXPECT_EQ(40u, e.size());
    Shadow b;
    size_t used = 0;
    ASSERT_EQ(0, decode(b, e, &used));
    EXPECT_EQ(e.size(), used);
    expect_same(a.s, b.s);
    EXPECT_EQ(e, encode(b.s));
}

TEST(XsproxyShadowCodec, EverythingRoundTripsFieldByFieldAndByteForByte)
{
    Shadow a;
    build_rich(a);
    // what the state is meant to hold
    ASSERT_EQ(2u, a.s.nr_watches);
    ASSERT_EQ(5u, a.s.nr_txs);
    ASSERT_EQ(9u, shadow_inflight(&a.s));
    ASSERT_EQ(1u, a.s.unexpected);
    ASSERT_TRUE(a.tx(5)->replaying);
    ASSERT_EQ(1u, a.tx(5)->replay_next);
    ASSERT_TRUE(a.tx(6)->doomed);
    ASSERT_TRUE(a.tx(42)->adopted);
    ASSERT_EQ(2u, a.tx(7)->nops);
    ASSERT_GT(a.s.q_head + a.s.q_len, a.s.q_cap) << "the FIFO's ring should wrap";

    Bytes e = encode(a.s);
    Shadow b;
    size_t used = 0;
    std::string why;
    ASSERT_EQ(0, decode(b, e, &used, &why)) << why;
    EXPECT_EQ(e.size(), used);
    expect_same(a.s, b.s);
    EXPECT_EQ(e, encode(b.s));
    // the description (xsproxyctl list) is the same
    char da[4096], db[4096];
    shadow_describe(&a.s, da, sizeof(da));
    shadow_describe(&b.s, db, sizeof(db));
    EXPECT_STREQ(da, db);
}

TEST(XsproxyShadowCodec, ADecodedShadowGoesOnAsTheOriginal)
{
    Shadow a;
    build_rich(a);
    Shadow b;
    ASSERT_EQ(0, decode(b, encode(a.s)));
    std::string ra = go_on(a), rb = go_on(b);
    EXPECT_EQ(ra, rb);
    expect_same(a.s, b.s);
    EXPECT_EQ(encode(a.s), encode(b.s));

    // and what it went through, on the decoded one
    std::vector<std::pair<std::string, std::string>> w;
    for (const shadow_watch *x = b.s.watches; x; x = x->next)
        w.emplace_back(x->path, x->token);
    std::vector<std::pair<std::string, std::string>> want = {
        { "data/c", "tc" }, { "data/d", "td" }, { "data/e", "te" } };
    EXPECT_EQ(want, w) << "WATCH OKs added, the UNWATCH removed data/a";
    EXPECT_EQ(nullptr, b.tx(1)) << "its TRANSACTION_END reply removed it";
    EXPECT_EQ(nullptr, b.tx(5)) << "ended (in EAGAIN: its replay differed)";
    EXPECT_NE(std::string::npos, rb.find("reply 0 type 16 tx 5 [EAGAIN")) << rb;
    EXPECT_NE(std::string::npos, rb.find("reply 0 type 16 tx 6 [EAGAIN")) << "6 was doomed";
    ASSERT_NE(nullptr, b.tx(42));
    EXPECT_EQ(2u, b.s.unexpected);
}

TEST(XsproxyShadowCodec, TransactionIdsTranslateTheSameAfterDecoding)
{
    Shadow a;
    build_rich(a);
    Shadow b;
    ASSERT_EQ(0, decode(b, encode(a.s)));
    for (uint32_t backend : { 0u, 5u, 7u, 9u, 42u, 43u })
        EXPECT_EQ(shadow_guest_tx(&a.s, backend), shadow_guest_tx(&b.s, backend)) << backend;
    EXPECT_EQ(1u, shadow_guest_tx(&b.s, 5));
    EXPECT_EQ(5u, shadow_guest_tx(&b.s, 9));
    // a request in transaction 1 goes to xenstored as 5, in 5 as 9
    Shadow c;
    ASSERT_EQ(0, decode(c, encode(a.s)));
    EXPECT_EQ(5u, c.request(XS_READ, 40, 1, str0("k")));
    EXPECT_EQ(9u, c.request(XS_READ, 41, 5, str0("k")));
    // a new transaction xenstored numbers 7 shows the guest a free id
    Shadow d;
    ASSERT_EQ(0, decode(d, encode(a.s)));
    for (unsigned i = 0; i < 9; i++)   // answer what is in flight first
        shadow_on_reply(&d.s, make(XS_ERROR, shadow_inflight_at(&d.s, 0)->req_id, 0,
                                   str0("EINVAL")).get());
    shadow_on_streamed_end(&d.s, make(XS_READ, 14, 7, "v").get());
    EXPECT_EQ(2u, d.start_tx(50, 7));   // 7 is taken, and 1 (EINVAL left it)
}

TEST(XsproxyShadowCodec, EncodingAppendsAndDecodingSaysWhereItEnds)
{
    Shadow a;
    build_rich(a);
    Shadow e0;
    uint8_t *buf = (uint8_t *)malloc(3);
    memcpy(buf, "pre", 3);
    size_t len = 3, cap = 3;
    ASSERT_EQ(0, shadow_encode(&a.s, &buf, &len, &cap));
    size_t first = len;
    ASSERT_EQ(0, shadow_encode(&e0.s, &buf, &len, &cap));
    EXPECT_LE(len, cap);
    EXPECT_EQ(0, memcmp(buf, "pre", 3));
    Bytes all(buf, buf + len);
    free(buf);
    all.push_back(0xee);   // a caller's own data after it

    Shadow b, c;
    size_t used = 0;
    char err[128];
    ASSERT_EQ(0, shadow_decode(&b.s, all.data() + 3, all.size() - 3, &used, err, sizeof(err)));
    EXPECT_EQ(first - 3, used);
    expect_same(a.s, b.s);
    size_t used2 = 0;
    ASSERT_EQ(0, shadow_decode(&c.s, all.data() + first, all.size() - first, &used2, err,
                               sizeof(err)));
    EXPECT_EQ(40u, used2);
    EXPECT_EQ(0u, c.s.nr_watches);
    // NULL for USED and ERR are fine
    Shadow d;
    EXPECT_EQ(0, shadow_decode(&d.s, all.data() + 3, all.size() - 3, nullptr, nullptr, 0));
    Shadow f;
    EXPECT_EQ(-1, shadow_decode(&f.s, all.data(), all.size(), nullptr, nullptr, 0));
}

TEST(XsproxyShadowCodec, ARestoredLogTooBigToKeepIsEncodedAsEndingInEagain)
{
    // shadow_on_restore_tx keeps a stream's log as it is, even past the
    // limit logging keeps to: such a transaction is carried as cut
    Shadow a;
    std::vector<std::pair<std::string, std::string>> ops;
    for (int i = 0; i < 20; i++)
        ops.emplace_back(str0("data/" + std::to_string(i)), std::string(4000, 'v'));
    restore(a, 0x80000000u, 3, ops, true);
    a.reply(XS_TRANSACTION_START, 0x80000000u, 0, str0("4"), SHADOW_INTERNAL_TX);
    auto m = make(0, 0, 0, "");
    ASSERT_EQ(1, shadow_next_replay(&a.s, m.get(), 0x80000001u));
    ASSERT_GT(a.tx(3)->log_bytes, SHADOW_TX_LOG_MAX);
    Shadow b;
    Bytes e = encode(a.s);
    ASSERT_EQ(0, decode(b, e));
    const shadow_tx *t = b.tx(3);
    ASSERT_NE(nullptr, t);
    EXPECT_TRUE(t->doomed && t->log_cut);
    EXPECT_FALSE(t->replaying);
    EXPECT_EQ(0u, t->nops);
    EXPECT_EQ(0u, t->log_bytes);
    EXPECT_EQ(4u, t->backend_id);
    EXPECT_EQ(e, encode(b.s));
    // the replay in flight is answered harmlessly, and the end is EAGAIN
    b.reply(XS_READ, 0x80000001u, 4, std::string(4000, 'v'), SHADOW_INTERNAL_TX);
    EXPECT_EQ(0, shadow_next_replay(&b.s, m.get(), 0x80000002u));
    b.request(XS_TRANSACTION_END, 5, 3, str0("T"));
    auto r = b.reply(XS_TRANSACTION_END, 5, 4, str0("OK"));
    EXPECT_EQ((uint32_t)XS_ERROR, r->hdr.type);
    EXPECT_EQ(str0("EAGAIN"), body_of(r.get()));
}

// ---- refusals ---------------------------------------------------------------

TEST(XsproxyShadowCodec, EveryTruncationIsRefused)
{
    Shadow a;
    build_rich(a);
    Bytes e = encode(a.s);
    for (size_t n = 0; n < e.size(); n++) {
        Bytes cut(e.begin(), e.begin() + (long)n);
        Shadow b;
        std::string why;
        ASSERT_EQ(-1, decode(b, cut, nullptr, &why)) << n;
        EXPECT_FALSE(why.empty()) << n;
        ASSERT_TRUE(b.empty()) << n;
    }
    // also with the length field saying the cut length: the parts run out
    for (size_t n = 40; n < e.size(); n += 7) {
        Bytes cut(e.begin(), e.begin() + (long)n);
        set_u32(cut, OFF_LENGTH, (uint32_t)n);
        Shadow b;
        ASSERT_EQ(-1, decode(b, cut)) << n;
        ASSERT_TRUE(b.empty());
    }
}

TEST(XsproxyShadowCodec, RandomMutationsNeverCrashAndWhatIsTakenIsCanonical)
{
    Shadow a;
    build_rich(a);
    Shadow r;
    restore(r, 1, 8, { { str0("p"), "" }, { "", "x" } }, true);
    const std::vector<Bytes> bases = { encode(a.s), encode(r.s), Bytes(encode(Shadow().s)) };
    std::mt19937 rng(20240613);
    unsigned taken = 0;
    for (int i = 0; i < 6000; i++) {
        Bytes m = bases[(size_t)i % bases.size()];
        int edits = 1 + (int)(rng() % 4);
        for (int k = 0; k < edits; k++) {
            size_t at = rng() % m.size();
            switch (rng() % 4) {
            case 0:
                m[at] ^= (uint8_t)(1u << (rng() % 8));
                break;
            case 1:
                m[at] = (uint8_t)rng();
                break;
            case 2:   // a word: 0, small, or huge
                if (at + 4 <= m.size()) {
                    static const uint32_t vals[] = { 0, 1, 2, 0xff, 4096, 4097, 65536,
                                                     0x7fffffff, 0xffffffff };
                    set_u32(m, at & ~(size_t)3, vals[rng() % 9]);
                }
                break;
            default:   // bytes removed or added
                if (rng() % 2)
                    m.erase(m.begin() + (long)at);
                else
                    m.insert(m.begin() + (long)at, (uint8_t)rng());
                break;
            }
        }
        if (rng() % 3 == 0 && m.size() >= 12)
            set_u32(m, OFF_LENGTH, (uint32_t)m.size());   // past the length check
        Shadow b;
        size_t used = 0;
        if (decode(b, m, &used) == 0) {
            taken++;
            // anything taken is a state the encoder writes back as it was
            // (in the same form: the flags word's 8 keeps the watches apart)
            Bytes again = (m[12] & 8) ? encode_apart(b.s) : encode(b.s);
            ASSERT_EQ(Bytes(m.begin(), m.begin() + (long)used), again) << i;
            // and usable (ASan watches): a description, a reply streamed to
            // its oldest request, one whole to the next, a replay
            char text[1 << 14];
            shadow_describe(&b.s, text, sizeof(text));
            shadow_on_streamed_end(&b.s, make(XS_READ, 1, 0, "v").get());
            if (const inflight *f = shadow_inflight_at(&b.s, 0)) {
                auto m = make(f->type, f->req_id, 0, str0("OK"));
                m->got = MSG_HDR_LEN;
                shadow_on_reply(&b.s, m.get());
                m->got = msg_wire_len(m.get());
                shadow_on_streamed_end(&b.s, m.get());
            }
            if (const inflight *f = shadow_inflight_at(&b.s, 0))
                shadow_on_reply(&b.s, make(f->type, f->req_id, 0, str0("OK")).get());
            auto rp = make(0, 0, 0, "");
            shadow_next_replay(&b.s, rp.get(), 1);
        } else {
            ASSERT_TRUE(b.empty()) << i;
        }
    }
    EXPECT_GT(taken, 0u) << "some mutations (a byte of a payload) are valid";
}

TEST(XsproxyShadowCodec, HugeCountsAndLengthsAreRefused)
{
    Bytes no_txs_q = words({ 0, 0 });
    // counts: more than the caps, or more than the bytes could hold
    expect_refused(handmade(cat({ words({ 0xffffffffu }), no_txs_q })), "watches");
    expect_refused(handmade(cat({ words({ 1000 }), no_txs_q })), "cannot fit");
    expect_refused(handmade(words({ 0, 0xffffffffu, 0 })), "transactions");
    expect_refused(handmade(words({ 0, 0, 0x7fffffffu })), "requests in flight");
    expect_refused(handmade(words({ 0, 0, 100 })), "cannot fit");
    // a transaction claiming a huge log
    expect_refused(handmade(words({ 0, 1, 3, 3, 0, 0, 0, 0xffffffffu, 0 })),
                   "logged operations");
    expect_refused(handmade(words({ 0, 1, 3, 3, 0, 0, 0x7fffffffu, 0, 0 })), "a log of");
    // lengths: a string or payload longer than a message could be
    expect_refused(handmade(cat({ words({ 1, 0xfffffff0u }), no_txs_q })), "watch path");
    expect_refused(handmade(cat({ words({ 1, XENSTORE_PAYLOAD_MAX + 1 }),
                                  Bytes(XENSTORE_PAYLOAD_MAX + 1, 'a'), str_field("t"),
                                  no_txs_q })),
                   "at most");
    expect_refused(handmade(cat({ words({ 0, 1, 3, 3, 0, 0, 8000, 1, XS_READ, XS_READ,
                                          5000 }),
                                  Bytes(5000, 'r'), str_field("x"), words({ 0 }) })),
                   "logged request");
    // the whole length: bigger than the buffer, or smaller than its header
    Bytes e = encode(Shadow().s);
    set_u32(e, OFF_LENGTH, 0xffffffffu);
    expect_refused(e, "encoding of");
    set_u32(e, OFF_LENGTH, 4);
    expect_refused(e, "encoding of");
}

TEST(XsproxyShadowCodec, InconsistentStatesAreRefused)
{
    Bytes none = words({ 0 });
    // sanity: the hand-made form is right
    {
        Shadow b;
        std::string why;
        ASSERT_EQ(0, decode(b, handmade(cat({ words({ 1 }), str_field("p"), str_field("t"),
                                              words({ 1, 4, 4, 0, 0, 0, 0 }), none })),
                            nullptr, &why))
            << why;
        EXPECT_EQ(1u, b.s.nr_watches);
        EXPECT_EQ(1u, b.s.nr_txs);
        EXPECT_EQ(3u, b.s.watch_gencnt);
    }
    expect_refused(Bytes{ 'n', 'o', 'p', 'e' }, "magic");
    Bytes v2 = encode(Shadow().s);
    set_u32(v2, 4, 2);
    expect_refused(v2, "version 2");
    expect_refused(handmade(words({ 0, 0, 0 }), 0x80), "unknown bits");
    expect_refused(handmade(cat({ words({ 1 }), str_field(std::string("p\0q", 3)),
                                  str_field("t"), words({ 0, 0 }) })),
                   "NUL");
    // transactions: a log smaller than its payloads, an empty one with a
    // size, a cut log with operations, adopted with a log, a replay past
    // the log, the same id twice
    Bytes op = cat({ words({ XS_READ, XS_READ }), str_field("k"), str_field("v") });
    expect_refused(handmade(cat({ words({ 0, 1, 4, 4, 0, 0, 1, 1 }), op, none })), "payloads");
    expect_refused(handmade(words({ 0, 1, 4, 4, 0, 0, 5, 0, 0 })), "empty log");
    expect_refused(handmade(cat({ words({ 0, 1, 4, 4, 2, 0, 2, 1 }), op, none })), "cut log");
    expect_refused(handmade(words({ 0, 1, 4, 4, 8, 0, 0, 0, 0 })), "adopted");
    expect_refused(handmade(cat({ words({ 0, 1, 4, 4, 4, 1, 2, 1 }), op, none })),
                   "replaying");
    expect_refused(handmade(words({ 0, 2, 4, 4, 0, 0, 0, 0, 4, 5, 0, 0, 0, 0, 0 })), "twice");
    // requests: unknown flags; a streamed one that is neither logged nor
    // replayed; anything after the last part inside the length
    expect_refused(handmade(words({ 0, 0, 1, 1, 2, 0, 0, 0, 0, 16 })), "unknown bits");
    expect_refused(handmade(words({ 0, 0, 0, 1, 2, 0, 0, 0, 0, 0 }), 4), "neither");
    // a watch only on a WATCH or UNWATCH, neither logged nor replayed (its
    // strings would have two owners while its reply streams)
    Bytes watch = cat({ str_field("p"), str_field("t") });
    expect_refused(handmade(cat({ words({ 0, 0, 1, 1, XS_READ, 0, 0, 0, 0, 4 }), watch })),
                   "a watch on");
    expect_refused(handmade(cat({ words({ 0, 0, 1, 1, XS_WATCH, 3, 0, 0, 0, 12 }), watch,
                                  str_field("x") })),
                   "a watch on");
    expect_refused(handmade(cat({ words({ 0, 0, 1, 1, XS_WATCH, 0, 0, 3, 0, 4 }), watch })),
                   "a watch on");
    expect_refused(handmade(words({ 0, 0, 0, 0 })), "left inside");
}

TEST(XsproxyShadowCodec, ANonEmptyShadowIsNotDecodedInto)
{
    Shadow a;
    a.watch(1, "w", "t");
    Bytes e = encode(a.s);
    std::string why;
    EXPECT_EQ(-1, decode(a, e, nullptr, &why));
    EXPECT_NE(std::string::npos, why.find("not empty"));
    EXPECT_EQ(1u, a.s.nr_watches) << "left as it was";
}

// A journal keeps the watch list apart from the rest (it commits the list
// only when it changed): the two parts make the same shadow as the whole.
TEST(XsproxyShadowCodec, TheWatchListApartAndTheRestMakeTheWholeShadow)
{
    Shadow a;
    build_rich(a);
    ASSERT_GT(a.s.nr_watches, 0u);
    uint8_t *buf = nullptr, *wbuf = nullptr;
    size_t len = 0, cap = 0, wlen = 0, wcap = 0;
    ASSERT_EQ(0, shadow_encode_apart(&a.s, &buf, &len, &cap));
    ASSERT_EQ(0, shadow_encode_watches(&a.s, &wbuf, &wlen, &wcap));
    Bytes rest(buf, buf + len), list(wbuf, wbuf + wlen);
    free(buf);
    free(wbuf);
    EXPECT_LT(rest.size(), encode(a.s).size());

    Shadow b;
    bool apart = false;
    size_t used = 0;
    char err[160];
    ASSERT_EQ(0, shadow_decode_apart(&b.s, rest.data(), rest.size(), &used, &apart, err,
                                     sizeof(err))) << err;
    EXPECT_TRUE(apart);
    EXPECT_EQ(rest.size(), used);
    EXPECT_EQ(nullptr, b.s.watches);
    ASSERT_EQ(0, shadow_decode_watches(&b.s, list.data(), list.size(), err, sizeof(err))) << err;
    expect_same(a.s, b.s);
    EXPECT_TRUE(encode(a.s) == encode(b.s));

    // the whole form says so
    Shadow c;
    Bytes whole = encode(a.s);
    apart = true;
    ASSERT_EQ(0, shadow_decode_apart(&c.s, whole.data(), whole.size(), nullptr, &apart, err,
                                     sizeof(err)));
    EXPECT_FALSE(apart);

    // a second list is not added to a shadow that has one
    EXPECT_EQ(-1, shadow_decode_watches(&c.s, list.data(), list.size(), err, sizeof(err)));
    EXPECT_EQ(a.s.nr_watches, c.s.nr_watches);
    // every cut, and the rest's encoding, are refused with no watch left
    for (size_t n = 0; n < list.size(); n++) {
        Shadow d;
        EXPECT_EQ(-1, shadow_decode_watches(&d.s, list.data(), n, err, sizeof(err))) << n;
        EXPECT_NE('\0', err[0]);
        EXPECT_TRUE(d.empty()) << n;
    }
    Shadow e;
    EXPECT_EQ(-1, shadow_decode_watches(&e.s, rest.data(), rest.size(), err, sizeof(err)));
    EXPECT_NE(std::string::npos, std::string(err).find("not a watch list"));
    // a list inside the form that keeps it apart is refused
    Bytes bad = whole;
    bad[12] |= 8;   // the flags word
    Shadow f;
    EXPECT_EQ(-1, shadow_decode_apart(&f.s, bad.data(), bad.size(), nullptr, nullptr, err,
                                      sizeof(err)));
    EXPECT_NE(std::string::npos, std::string(err).find("keeps them apart")) << err;
    EXPECT_TRUE(f.empty());
}

// After a crash between the watch list's commit and the rest's, the WATCH
// reply is read again: the watch is not added twice (xenstored itself
// refuses a second of the same path and token).
TEST(XsproxyShadowCodec, AWatchReplyReadAgainAddsNothing)
{
    Shadow a;
    a.s.domid = 3;
    a.watch(1, "w", "t");
    uint32_t gen = a.s.watch_gencnt;
    a.watch(2, "w", "t");
    a.watch(3, "/local/domain/3/w", "t");
    EXPECT_EQ(1u, a.s.nr_watches);
    EXPECT_EQ(gen, a.s.watch_gencnt);
    a.watch(4, "w", "u");
    EXPECT_EQ(2u, a.s.nr_watches);
}

// The seeds of the fuzz target (tests/fuzz/shadow_codec/): each decodes,
// the script after it left for the target.  Written to DIR with
// XSPROXY_CODEC_SEEDS=DIR.
TEST(XsproxyShadowCodec, FuzzSeedsDecode)
{
    // each encoding followed by a script of operations on the decoded shadow
    // (fuzz_shadow_codec.c): OK to what is in flight (the START gets id 11,
    // READ 25 streams), the replays, a WRITE in a transaction and its OK, a
    // round trip, a description, xenstored lost
    const Bytes script = { 0, 0, 0, 0, 0, 0, 0, 2, 20, 0, 11, 3, 4, 11, 0x80, 3,
                           'a', 0, 'b', 0, 6, 5, 10, 10, 7, 4 };
    std::vector<std::pair<std::string, Bytes>> seeds;
    Shadow rich;
    build_rich(rich);
    seeds.emplace_back("rich", encode(rich.s));
    Shadow r;
    restore(r, 1, 8, { { str0("data/p"), "v" }, { str0("data/q"), str0("OK") } }, true);
    r.reply(XS_TRANSACTION_START, 1, 0, str0("3"), SHADOW_INTERNAL_TX);
    seeds.emplace_back("restoring", encode(r.s));
    Shadow w;
    w.watch(1, "device/vif", "tok");
    w.watch(2, "/local/domain/1/control", "ctl");
    uint32_t tx = w.start_tx(3, 1);
    w.request(XS_WRITE, 4, tx, str0("data/x") + "1");
    seeds.emplace_back("watches-and-tx", encode(w.s));
    seeds.emplace_back("apart", encode_apart(w.s));

    const char *dir = getenv("XSPROXY_CODEC_SEEDS");
    // the watch list alone, as journalled apart
    uint8_t *wl = nullptr;
    size_t wlen = 0, wcap = 0;
    ASSERT_EQ(0, shadow_encode_watches(&w.s, &wl, &wlen, &wcap));
    Bytes list(wl, wl + wlen);
    free(wl);
    Shadow l;
    char err[160];
    ASSERT_EQ(0, shadow_decode_watches(&l.s, list.data(), list.size(), err, sizeof(err))) << err;
    EXPECT_EQ(2u, l.s.nr_watches);
    if (dir) {
        std::ofstream f(std::string(dir) + "/watch-list", std::ios::binary);
        f.write((const char *)list.data(), (std::streamsize)list.size());
        ASSERT_TRUE(f.good());
    }
    for (auto &[name, bytes] : seeds) {
        size_t n = bytes.size();
        if (name != "watches-and-tx")
            bytes.insert(bytes.end(), script.begin(), script.end());
        Shadow b;
        size_t used = 0;
        ASSERT_EQ(0, decode(b, bytes, &used)) << name;
        EXPECT_EQ(n, used) << name;
        if (dir) {
            std::ofstream f(std::string(dir) + "/" + name, std::ios::binary);
            f.write((const char *)bytes.data(), (std::streamsize)bytes.size());
            ASSERT_TRUE(f.good()) << name;
        }
    }
}

}  // namespace
