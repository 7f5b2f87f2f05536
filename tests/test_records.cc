// test_records.cc - libxsrecords and the xsrecords command: round trips of
// both formats in both byte orders, streams built by hand from the format
// documents compared byte for byte, every rule a malformed stream can break
// (with its rule name and offset), and the command's three verbs.
#include <gtest/gtest.h>

#include <xen/io/xs_wire.h>
#include <xsrecords.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

using Bytes = std::vector<uint8_t>;

// ------------------------------------------------------------ helpers

// Owns a model and frees it.
struct Model {
    xsrec_stream s{};
    Model() = default;
    Model(const Model &) = delete;
    Model &operator=(const Model &) = delete;
    ~Model() { xsrec_stream_free(&s); }
};

// A xenstore message (header in host order, as the model holds it).
Bytes msg(uint32_t type, uint32_t req, uint32_t tx, const std::string &payload,
          size_t keep = SIZE_MAX)
{
    uint32_t h[4] = {type, req, tx, (uint32_t)payload.size()};
    Bytes b((const uint8_t *)h, (const uint8_t *)h + sizeof(h));
    b.insert(b.end(), payload.begin(), payload.end());
    if (keep < b.size())
        b.resize(keep);
    return b;
}

Bytes cat(std::initializer_list<Bytes> parts)
{
    Bytes r;
    for (const Bytes &p : parts)
        r.insert(r.end(), p.begin(), p.end());
    return r;
}

std::string P(const char *s, size_t n) { return std::string(s, n); }

// The live-update-like sample: everything the upstream format can hold.
void build_full(xsrec_stream *s)
{
    ASSERT_EQ(0, xsrec_set_global(s, 5, 7));
    // A guest ring: one whole WRITE and a WRITE cut short in, the rest of a
    // response and a whole watch event out.
    Bytes in = cat({msg(11, 4, 0, P("/local/domain/3/a\0xyz", 21)),
                    msg(11, 5, 7, P("/local/domain/3/b\0hello", 23), 16 + 9)});
    Bytes out = cat({Bytes{'O', 'K', 0, 0, 0},
                     msg(15, 0, 0, P("/local/domain/3/a\0tok1\0", 23))});
    xsrec_conn ring{};
    ring.id = 1;
    ring.type = XSREC_CONN_RING;
    ring.domid = 3;
    ring.tdomid = XSREC_DOMID_INVALID;
    ring.evtchn = 12;
    ring.in_data = in.data();
    ring.in_len = in.size();
    ring.out_data = out.data();
    ring.out_len = out.size();
    ring.out_resp_len = 5;
    ASSERT_EQ(0, xsrec_add_conn(s, &ring));
    // A dom0 tool on the socket, with a header cut short in its input.
    Bytes sin = msg(2, 9, 0, "/x", 6);
    xsrec_conn sock{};
    sock.id = 2;
    sock.type = XSREC_CONN_SOCKET;
    sock.socket_fd = 9;
    sock.in_data = sin.data();
    sock.in_len = sin.size();
    ASSERT_EQ(0, xsrec_add_conn(s, &sock));
    ASSERT_EQ(0, xsrec_add_watch(s, 1, "/local/domain/3/device", "tok1"));
    ASSERT_EQ(0, xsrec_add_watch(s, 1, "data", "relative"));
    ASSERT_EQ(0, xsrec_add_watch(s, 2, "@releaseDomain", "rel"));
    ASSERT_EQ(0, xsrec_add_tx(s, 1, 7));
    ASSERT_EQ(0, xsrec_add_tx(s, 2, 3));

    const xsrec_perm root[] = {{'n', 0, 0}};
    const xsrec_perm dom[] = {{'n', 0, 3}, {'r', 0, 0}};
    const xsrec_perm stale[] = {{'b', 0, 3}, {'r', XSREC_PERM_STALE, 9}};
    const xsrec_perm special[] = {{'n', 0, 0}, {'r', 0, 3}};
    static const uint8_t nuls[] = {'a', 0, 'b', 0, 0, 'c'};
    xsrec_node n{};
    n.path = "@releaseDomain";
    n.perms = special;
    n.nperms = 2;
    ASSERT_EQ(0, xsrec_add_node(s, &n));
    n = {};
    n.path = "/";
    n.perms = root;
    n.nperms = 1;
    ASSERT_EQ(0, xsrec_add_node(s, &n));
    n.path = "/local/domain/3";
    n.value = (const uint8_t *)"guest";
    n.value_len = 5;
    n.perms = dom;
    n.nperms = 2;
    ASSERT_EQ(0, xsrec_add_node(s, &n));
    n.path = "/local/domain/3/bin";
    n.value = nuls;  // a value with NULs in it is fine
    n.value_len = sizeof(nuls);
    n.perms = stale;
    ASSERT_EQ(0, xsrec_add_node(s, &n));
    // Transaction 7 of conn 1 wrote a node and deleted another.
    n = {};
    n.conn_id = 1;
    n.tx_id = 7;
    n.access = XSREC_ACCESS_READ | XSREC_ACCESS_WRITTEN;
    n.path = "/local/domain/3/new";
    n.value = (const uint8_t *)"v";
    n.value_len = 1;
    n.perms = dom;
    n.nperms = 1;
    ASSERT_EQ(0, xsrec_add_node(s, &n));
    n = {};
    n.conn_id = 1;
    n.tx_id = 7;
    n.path = "/local/domain/3/gone";
    ASSERT_EQ(0, xsrec_add_node(s, &n));
}

// What the seed format holds: one domain's nodes, watches, transactions.
void build_seedable(xsrec_stream *s)
{
    xsrec_conn c{};
    c.id = XSREC_SEED_CONN_ID;
    c.type = XSREC_CONN_RING;
    c.domid = XSREC_DOMID_INVALID;
    c.tdomid = XSREC_DOMID_INVALID;
    ASSERT_EQ(0, xsrec_add_conn(s, &c));
    const xsrec_perm dom[] = {{'b', 0, 3}, {'r', 0, 0}, {'w', 0, 65535}};
    static const uint8_t nuls[] = {0, 1, 0};
    xsrec_node n{};
    n.path = "/local/domain/3";
    n.perms = dom;
    n.nperms = 3;
    ASSERT_EQ(0, xsrec_add_node(s, &n));
    n.path = "/local/domain/3/x";
    n.value = nuls;
    n.value_len = sizeof(nuls);
    n.nperms = 1;
    ASSERT_EQ(0, xsrec_add_node(s, &n));
    ASSERT_EQ(0, xsrec_add_watch(s, XSREC_SEED_CONN_ID, "/local/domain/3/x", "t1"));
    ASSERT_EQ(0, xsrec_add_watch(s, XSREC_SEED_CONN_ID, "device", ""));
    ASSERT_EQ(0, xsrec_add_tx(s, XSREC_SEED_CONN_ID, 4));
    ASSERT_EQ(0, xsrec_add_tx(s, XSREC_SEED_CONN_ID, 0x3ffffffe));
}

Bytes write_up(const xsrec_stream *s, xsrec_byteorder o, unsigned flags = 0)
{
    uint8_t *p = nullptr;
    size_t n = 0;
    xsrec_error err{};
    EXPECT_EQ(0, xsrec_write_upstream(s, o, flags, &p, &n, &err))
        << (err.rule ? err.rule : "") << ": " << err.message;
    Bytes b(p, p + n);
    free(p);
    return b;
}

Bytes write_seed(const xsrec_stream *s, unsigned flags = 0)
{
    uint8_t *p = nullptr;
    size_t n = 0;
    xsrec_error err{};
    EXPECT_EQ(0, xsrec_write_seed(s, flags, &p, &n, &err))
        << (err.rule ? err.rule : "") << ": " << err.message;
    Bytes b(p, p + n);
    free(p);
    return b;
}

// The verdict on a buffer: "ok" or "rule@offset".
std::string verdict(const Bytes &b)
{
    xsrec_error err{};
    xsrec_info info{};
    if (xsrec_verify(b.data(), b.size(), &info, &err) == 0) {
        EXPECT_EQ(nullptr, err.rule);
        return "ok";
    }
    EXPECT_NE(nullptr, err.rule);
    EXPECT_NE('\0', err.message[0]);
    // The reader agrees with verify, and leaves nothing behind.
    Model m;
    xsrec_error err2{};
    EXPECT_EQ(-1, xsrec_read(b.data(), b.size(), &m.s, nullptr, &err2));
    EXPECT_EQ(0u, m.s.nconns + m.s.nwatches + m.s.ntxs + m.s.nnodes);
    EXPECT_FALSE(m.s.has_global);
    EXPECT_STREQ(err.rule, err2.rule);
    EXPECT_EQ(err.offset, err2.offset);
    return std::string(err.rule) + "@" + std::to_string(err.offset);
}

std::string at(const char *rule, size_t off) { return std::string(rule) + "@" + std::to_string(off); }

// Record offsets of a valid stream, by visiting it.
std::vector<size_t> record_offsets(const Bytes &b)
{
    std::vector<size_t> offs;
    auto visit = [](void *ctx, const xsrec_record *r, xsrec_error *) {
        if (r->kind != XSREC_K_HEADER)
            static_cast<std::vector<size_t> *>(ctx)->push_back(r->offset);
        return 0;
    };
    EXPECT_EQ(0, xsrec_parse(b.data(), b.size(), visit, &offs, nullptr, nullptr));
    return offs;
}

// -------------------------------------------- hand-built upstream streams

// Writes streams field by field as docs/designs/xenstore-migration.md draws
// them, without the library, so the library is checked against the doc.
struct Up {
    Bytes b;
    bool big;
    bool exact;  // len without padding (the doc's wording) or padded (C xenstored)

    explicit Up(bool big_ = false, bool exact_ = false, uint32_t version = 1,
                uint32_t flags = UINT32_MAX)
        : big(big_), exact(exact_)
    {
        put("xenstore", 8);
        u32be(version);
        u32be(flags == UINT32_MAX ? (big ? 1 : 0) : flags);
    }
    void put(const void *p, size_t n) { b.insert(b.end(), (const uint8_t *)p, (const uint8_t *)p + n); }
    void u8(uint8_t v) { b.push_back(v); }
    void u32be(uint32_t v)
    {
        for (int i = 3; i >= 0; i--)
            b.push_back((uint8_t)(v >> (8 * i)));
    }
    void u16(uint16_t v)
    {
        if (big) { u8(v >> 8); u8(v & 0xff); }
        else { u8(v & 0xff); u8(v >> 8); }
    }
    void u32(uint32_t v)
    {
        if (big) { u16(v >> 16); u16(v & 0xffff); }
        else { u16(v & 0xffff); u16(v >> 16); }
    }
    void str(const std::string &s) { put(s.c_str(), s.size() + 1); }
    size_t begin(uint32_t type)
    {
        size_t at = b.size();
        u32(type);
        u32(0);
        return at;
    }
    size_t end(size_t at)
    {
        size_t used = b.size() - at - 8;
        size_t padded = (used + 7) & ~size_t(7);
        uint32_t len = exact ? used : padded;
        for (int i = 0; i < 4; i++)
            b[at + 4 + i] = big ? (uint8_t)(len >> (8 * (3 - i))) : (uint8_t)(len >> (8 * i));
        b.resize(at + 8 + padded, 0);
        return at;
    }
    size_t global(int32_t sfd, int32_t efd)
    {
        size_t at = begin(1);
        u32(sfd);
        u32(efd);
        return end(at);
    }
    size_t ring(uint32_t id, uint16_t domid, uint16_t tdomid, uint32_t port,
                const Bytes &in = {}, uint16_t resp = 0, const Bytes &out = {})
    {
        size_t at = begin(2);
        u32(id);
        u16(0);  // conn-type: shared ring
        u16(0);  // (unnamed in version 1)
        u16(domid);
        u16(tdomid);
        u32(port);
        u16(in.size());
        u16(resp);
        u32(out.size());
        put(in.data(), in.size());
        put(out.data(), out.size());
        return end(at);
    }
    size_t socket(uint32_t id, int32_t fd)
    {
        size_t at = begin(2);
        u32(id);
        u16(1);
        u16(0);
        u32(fd);
        u32(0);  // pad
        u16(0);
        u16(0);
        u32(0);
        return end(at);
    }
    size_t watch(uint32_t conn, const std::string &path, const std::string &token)
    {
        size_t at = begin(3);
        u32(conn);
        u16(path.size() + 1);
        u16(token.size() + 1);
        str(path);
        str(token);
        return end(at);
    }
    size_t tx(uint32_t conn, uint32_t id)
    {
        size_t at = begin(4);
        u32(conn);
        u32(id);
        return end(at);
    }
    struct Perm { char perm; uint8_t flags; uint16_t domid; };
    size_t node(uint32_t conn, uint32_t txid, uint16_t access, const std::string &path,
                const std::string &value, std::vector<Perm> perms)
    {
        size_t at = begin(5);
        u32(conn);
        u32(txid);
        u16(path.size() + 1);
        u16(value.size());
        u16(access);
        u16(perms.size());
        for (const Perm &p : perms) {
            u8((uint8_t)p.perm);
            u8(p.flags);
            u16(p.domid);
        }
        str(path);
        put(value.data(), value.size());
        return end(at);
    }
    // xsproxy's TX_OP record (FORMAT.md): one logged operation
    size_t tx_op(uint32_t conn, uint32_t txid, uint32_t req_type, uint32_t rsp_type,
                 const std::string &req, const std::string &rsp)
    {
        size_t at = begin(XSREC_UP_TX_OP);
        u32(conn);
        u32(txid);
        u32(req_type);
        u32(rsp_type);
        u32(req.size());
        u32(rsp.size());
        put(req.data(), req.size());
        put(rsp.data(), rsp.size());
        return end(at);
    }
    size_t end_rec() { return end(begin(0)); }
};

// A small stream of every record type, and its model.
struct Small {
    Up up;
    size_t global, conn, watch, tx, node, tnode, end;
    explicit Small(bool big = false, bool exact = false) : up(big, exact)
    {
        global = up.global(-1, 4);
        conn = up.ring(1, 1, XSREC_DOMID_INVALID, 2);
        watch = up.watch(1, "/a", "t");
        tx = up.tx(1, 5);
        node = up.node(0, 0, 0, "/a", "xy", {{'b', 0, 1}});
        tnode = up.node(1, 5, 2, "/a/b", P("\0z", 2), {{'w', 0, 1}, {'n', 1, 0}});
        end = up.end_rec();
    }
    static void model(xsrec_stream *s)
    {
        xsrec_set_global(s, -1, 4);
        xsrec_conn c{};
        c.id = 1;
        c.domid = 1;
        c.tdomid = XSREC_DOMID_INVALID;
        c.evtchn = 2;
        xsrec_add_conn(s, &c);
        xsrec_add_watch(s, 1, "/a", "t");
        xsrec_add_tx(s, 1, 5);
        const xsrec_perm p1[] = {{'b', 0, 1}};
        const xsrec_perm p2[] = {{'w', 0, 1}, {'n', 1, 0}};
        xsrec_node n{};
        n.path = "/a";
        n.value = (const uint8_t *)"xy";
        n.value_len = 2;
        n.perms = p1;
        n.nperms = 1;
        xsrec_add_node(s, &n);
        n.conn_id = 1;
        n.tx_id = 5;
        n.access = 2;
        n.path = "/a/b";
        n.value = (const uint8_t *)"\0z";
        n.perms = p2;
        n.nperms = 2;
        xsrec_add_node(s, &n);
    }
};

void put_le32(Bytes &b, size_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[off + i] = (uint8_t)(v >> (8 * i));
}

void put_le16(Bytes &b, size_t off, uint16_t v)
{
    b[off] = (uint8_t)v;
    b[off + 1] = (uint8_t)(v >> 8);
}

// ------------------------------------------------ hand-built seed files

// The seed container (FORMAT.md): "xs-seed\0", u32 version, u32 count,
// then {u32 type, u32 len, data, zero padding to 8}, all little-endian.
struct Seed {
    Bytes b;
    uint32_t count = 0;
    Seed()
    {
        b.assign({'x', 's', '-', 's', 'e', 'e', 'd', 0});
        u32(1);
        u32(0);
    }
    void u32(uint32_t v)
    {
        for (int i = 0; i < 4; i++)
            b.push_back((uint8_t)(v >> (8 * i)));
    }
    void str(const std::string &s) { b.insert(b.end(), s.begin(), s.end()); b.push_back(0); }
    size_t rec(uint32_t type, const Bytes &data)
    {
        size_t at = b.size();
        u32(type);
        u32(data.size());
        b.insert(b.end(), data.begin(), data.end());
        b.resize((b.size() + 7) & ~size_t(7), 0);
        put_le32(b, 12, ++count);
        return at;
    }
    static Bytes node(uint32_t nperms, const std::string &path,
                      std::vector<std::string> perms, const std::string &value)
    {
        Seed d;
        d.b.clear();
        d.u32(nperms);
        d.str(path);
        for (auto &p : perms)
            d.str(p);
        d.b.insert(d.b.end(), value.begin(), value.end());
        return d.b;
    }
    static Bytes watch(const std::string &path, const std::string &token)
    {
        Seed d;
        d.b.clear();
        d.str(path);
        d.str(token);
        return d.b;
    }
    static Bytes txs(std::vector<uint32_t> ids)
    {
        Seed d;
        d.b.clear();
        d.u32(ids.size());
        for (uint32_t id : ids)
            d.u32(id);
        return d.b;
    }
};

// ======================================================= round trips

class RoundTrip : public ::testing::TestWithParam<std::tuple<xsrec_byteorder, unsigned>> {};

TEST_P(RoundTrip, UpstreamModelBytesModel)
{
    auto [order, flags] = GetParam();
    Model a;
    build_full(&a.s);
    Bytes b = write_up(&a.s, order, flags);
    ASSERT_EQ("ok", verdict(b));
    Model c;
    xsrec_error err{};
    xsrec_info info{};
    ASSERT_EQ(0, xsrec_read(b.data(), b.size(), &c.s, &info, &err)) << err.rule << ": " << err.message;
    EXPECT_EQ(XSREC_FMT_UPSTREAM, info.format);
    EXPECT_EQ(order, info.order);
    EXPECT_EQ(1u, info.version);
    // global, 2 conns, 3 watches, 2 txs, 6 nodes, END
    EXPECT_EQ(15u, info.nrecords);
    EXPECT_TRUE(xsrec_stream_equal(&a.s, &c.s));
    // And bytes -> model -> bytes is the identity.
    EXPECT_EQ(b, write_up(&c.s, order, flags));
}

INSTANTIATE_TEST_SUITE_P(Records, RoundTrip,
    ::testing::Combine(::testing::Values(XSREC_LITTLE_ENDIAN, XSREC_BIG_ENDIAN),
                       ::testing::Values(0u, XSREC_UP_EXACT_LEN)),
    [](const ::testing::TestParamInfo<RoundTrip::ParamType> &i) {
        return std::string(std::get<0>(i.param) == XSREC_BIG_ENDIAN ? "big" : "little") +
               (std::get<1>(i.param) ? "_exact_len" : "_padded_len");
    });

TEST(Upstream, ByteOrderFlagAndFields)
{
    Model a;
    build_full(&a.s);
    Bytes le = write_up(&a.s, XSREC_LITTLE_ENDIAN), be = write_up(&a.s, XSREC_BIG_ENDIAN);
    ASSERT_EQ(le.size(), be.size());
    // Header: big-endian whatever the flag; flag bit 0 is the order.
    EXPECT_EQ(0, memcmp(le.data(), "xenstore\0\0\0\1\0\0\0\0", 16));
    EXPECT_EQ(0, memcmp(be.data(), "xenstore\0\0\0\1\0\0\0\1", 16));
    // First record GLOBAL_DATA: type 1, len 8, fds 5 and 7 in each order.
    EXPECT_EQ(Bytes({1, 0, 0, 0, 8, 0, 0, 0, 5, 0, 0, 0, 7, 0, 0, 0}),
              Bytes(le.begin() + 16, le.begin() + 32));
    EXPECT_EQ(Bytes({0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 5, 0, 0, 0, 7}),
              Bytes(be.begin() + 16, be.begin() + 32));
    // The buffered messages follow the stream's order: the first in-data
    // header (type 11 = WRITE) of conn 1 sits at 32 + 8 + 24.
    EXPECT_EQ(Bytes({11, 0, 0, 0}), Bytes(le.begin() + 64, le.begin() + 68));
    EXPECT_EQ(Bytes({0, 0, 0, 11}), Bytes(be.begin() + 64, be.begin() + 68));
    // Both read back to the same model.
    Model l, b;
    ASSERT_EQ(0, xsrec_read_upstream(le.data(), le.size(), &l.s, nullptr));
    ASSERT_EQ(0, xsrec_read_upstream(be.data(), be.size(), &b.s, nullptr));
    EXPECT_TRUE(xsrec_stream_equal(&l.s, &b.s));
    EXPECT_TRUE(xsrec_stream_equal(&a.s, &b.s));
}

TEST(Upstream, ByteExactAgainstTheDocument)
{
    for (bool big : {false, true}) {
        for (bool exact : {false, true}) {
            SCOPED_TRACE(std::string(big ? "big" : "little") + (exact ? " exact" : " padded"));
            Small hand(big, exact);
            Model m;
            Small::model(&m.s);
            Bytes lib = write_up(&m.s, big ? XSREC_BIG_ENDIAN : XSREC_LITTLE_ENDIAN,
                                 exact ? XSREC_UP_EXACT_LEN : 0);
            EXPECT_EQ(hand.up.b, lib);
            Model r;
            ASSERT_EQ(0, xsrec_read_upstream(hand.up.b.data(), hand.up.b.size(), &r.s, nullptr));
            EXPECT_TRUE(xsrec_stream_equal(&m.s, &r.s));
        }
    }
    // Spot-check the hand-built bytes themselves (little-endian, padded):
    // the WATCH_DATA body is conn-id 1, wpath-len 3, token-len 2, "/a\0t\0",
    // 13 octets, padded to 16 and len says 16, as C xenstored writes it.
    Small s;
    const Bytes watch = {3, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 3, 0, 2, 0,
                         '/', 'a', 0, 't', 0, 0, 0, 0};
    EXPECT_EQ(watch, Bytes(s.up.b.begin() + s.watch, s.up.b.begin() + s.watch + 24));
    Small e(false, true);  // the doc's literal len: 13
    EXPECT_EQ(13, e.up.b[e.watch + 4]);
    EXPECT_EQ(Bytes({0, 0, 0, 0, 0, 0, 0, 0}), Bytes(e.up.b.end() - 8, e.up.b.end()));
}

TEST(Upstream, EmptyStreamIsJustEnd)
{
    Model m;
    Bytes b = write_up(&m.s, XSREC_LITTLE_ENDIAN);
    EXPECT_EQ(Bytes({'x', 'e', 'n', 's', 't', 'o', 'r', 'e', 0, 0, 0, 1, 0, 0, 0, 0,
                     0, 0, 0, 0, 0, 0, 0, 0}), b);
    xsrec_info info{};
    EXPECT_EQ(0, xsrec_verify(b.data(), b.size(), &info, nullptr));
    EXPECT_EQ(1u, info.nrecords);
}

TEST(Seed, RoundTrip)
{
    Model a;
    build_seedable(&a.s);
    Bytes b = write_seed(&a.s);
    ASSERT_EQ("ok", verdict(b));
    Model c;
    xsrec_info info{};
    xsrec_error err{};
    ASSERT_EQ(0, xsrec_read(b.data(), b.size(), &c.s, &info, &err)) << err.message;
    EXPECT_EQ(XSREC_FMT_SEED, info.format);
    EXPECT_EQ(5u, info.nrecords);  // 2 nodes, 2 watches, 1 transaction list
    EXPECT_TRUE(xsrec_stream_equal(&a.s, &c.s));
    EXPECT_EQ(b, write_seed(&c.s));
}

TEST(Seed, ByteExact)
{
    Model a;
    build_seedable(&a.s);
    Seed s;
    s.rec(1, Seed::node(3, "/local/domain/3", {"b3", "r0", "w65535"}, ""));
    s.rec(1, Seed::node(1, "/local/domain/3/x", {"b3"}, P("\0\1\0", 3)));
    s.rec(2, Seed::watch("/local/domain/3/x", "t1"));
    s.rec(2, Seed::watch("device", ""));
    s.rec(3, Seed::txs({4, 0x3ffffffe}));
    EXPECT_EQ(s.b, write_seed(&a.s));
    // The node record begins with its aligned perm-count.
    EXPECT_EQ(Bytes({1, 0, 0, 0, 4 + 16 + 3 + 3 + 7, 0, 0, 0, 3, 0, 0, 0}),
              Bytes(s.b.begin() + 16, s.b.begin() + 28));
}

TEST(Seed, EmptySeedHasNoConnection)
{
    Model m;
    Bytes b = write_seed(&m.s);
    EXPECT_EQ(16u, b.size());
    Model r;
    ASSERT_EQ(0, xsrec_read_seed(b.data(), b.size(), &r.s, nullptr));
    EXPECT_EQ(0u, r.s.nconns);
}

// ========================================================= conversion

TEST(Convert, SeedToUpstreamAndBack)
{
    Model a;
    build_seedable(&a.s);
    Bytes seed = write_seed(&a.s);
    Model m;
    ASSERT_EQ(0, xsrec_read(seed.data(), seed.size(), &m.s, nullptr, nullptr));
    for (auto order : {XSREC_LITTLE_ENDIAN, XSREC_BIG_ENDIAN}) {
        Bytes up = write_up(&m.s, order);
        ASSERT_EQ("ok", verdict(up));
        Model u;
        ASSERT_EQ(0, xsrec_read(up.data(), up.size(), &u.s, nullptr, nullptr));
        EXPECT_TRUE(xsrec_stream_equal(&a.s, &u.s));
        EXPECT_EQ(seed, write_seed(&u.s));
    }
}

TEST(Convert, UpstreamToSeedRefusesOrDrops)
{
    Model full;
    build_full(&full.s);
    uint8_t *p = nullptr;
    size_t n = 0;
    xsrec_error err{};
    // Watches of two connections: never.
    EXPECT_EQ(-1, xsrec_write_seed(&full.s, XSREC_SEED_ALLOW_LOSS, &p, &n, &err));
    EXPECT_STREQ("not-representable", err.rule);
    EXPECT_EQ(nullptr, p);

    Model one;  // the same without conn 2's watch and transaction
    build_full(&one.s);
    one.s.nwatches = 2;
    one.s.ntxs = 1;
    struct xsrec_seed_loss loss;
    EXPECT_TRUE(xsrec_seed_loss(&one.s, &loss));
    EXPECT_TRUE(loss.global);
    EXPECT_EQ(2u, loss.conns);
    EXPECT_EQ(1u, loss.domains);
    EXPECT_EQ(2u, loss.tx_nodes);
    EXPECT_EQ(1u, loss.perm_flags);
    EXPECT_EQ(full.s.conns[0].in_len + full.s.conns[0].out_len + full.s.conns[1].in_len,
              loss.pending_octets);
    EXPECT_EQ(-1, xsrec_write_seed(&one.s, 0, &p, &n, &err));
    EXPECT_STREQ("not-representable", err.rule);
    Bytes seed = write_seed(&one.s, XSREC_SEED_ALLOW_LOSS);
    Model r;
    ASSERT_EQ(0, xsrec_read_seed(seed.data(), seed.size(), &r.s, nullptr));
    EXPECT_FALSE(r.s.has_global);
    ASSERT_EQ(1u, r.s.nconns);
    EXPECT_EQ(XSREC_DOMID_INVALID, r.s.conns[0].domid);
    ASSERT_EQ(2u, r.s.nwatches);
    EXPECT_STREQ("data", r.s.watches[1].path);  // relative paths stay relative
    ASSERT_EQ(1u, r.s.ntxs);
    EXPECT_EQ(7u, r.s.txs[0].tx_id);
    ASSERT_EQ(4u, r.s.nnodes);  // the committed ones
    EXPECT_EQ(0, r.s.nodes[3].perms[1].flags);  // the stale flag is gone
    EXPECT_EQ(6u, r.s.nodes[3].value_len);
    // Restore the counts so the model frees everything it owns.
    one.s.nwatches = 3;
    one.s.ntxs = 2;
}

TEST(Upstream, WatchesAreGroupedByConnection)
{
    Model a;
    xsrec_conn c{};
    c.type = XSREC_CONN_SOCKET;
    for (uint32_t id : {1u, 2u}) {
        c.id = id;
        c.socket_fd = (int32_t)id + 10;
        ASSERT_EQ(0, xsrec_add_conn(&a.s, &c));
    }
    xsrec_add_watch(&a.s, 2, "/b", "1");
    xsrec_add_watch(&a.s, 1, "/a", "1");
    xsrec_add_tx(&a.s, 2, 8);
    xsrec_add_watch(&a.s, 2, "/b", "2");
    xsrec_add_tx(&a.s, 1, 9);
    Bytes b = write_up(&a.s, XSREC_LITTLE_ENDIAN);
    // conn 1, its watch, its transaction, conn 2, its watches, its transaction
    std::vector<uint32_t> types;
    auto visit = [](void *ctx, const xsrec_record *r, xsrec_error *) {
        if (r->kind != XSREC_K_HEADER)
            static_cast<std::vector<uint32_t> *>(ctx)->push_back(r->type);
        return 0;
    };
    ASSERT_EQ(0, xsrec_parse(b.data(), b.size(), visit, &types, nullptr, nullptr));
    EXPECT_EQ(std::vector<uint32_t>({2, 3, 4, 2, 3, 3, 4, 0}), types);
    Model r;
    ASSERT_EQ(0, xsrec_read(b.data(), b.size(), &r.s, nullptr, nullptr));
    EXPECT_STREQ("/a", r.s.watches[0].path);
    EXPECT_TRUE(xsrec_stream_equal(&a.s, &r.s));
    // Within one connection the order is state.
    Model d;
    for (uint32_t id : {1u, 2u}) {
        c.id = id;
        c.socket_fd = (int32_t)id + 10;
        xsrec_add_conn(&d.s, &c);
    }
    xsrec_add_watch(&d.s, 2, "/b", "2");
    xsrec_add_watch(&d.s, 1, "/a", "1");
    xsrec_add_watch(&d.s, 2, "/b", "1");
    xsrec_add_tx(&d.s, 1, 9);
    xsrec_add_tx(&d.s, 2, 8);
    EXPECT_FALSE(xsrec_stream_equal(&a.s, &d.s));
    std::swap(d.s.watches[0], d.s.watches[2]);
    EXPECT_TRUE(xsrec_stream_equal(&a.s, &d.s));
}

// A state dump C xenstored 4.17 wrote during a live update on the sim
// (dom0 and domain 5 on rings, xenstore-watch on the socket, the live
// update's own connection with its pending "OK"): it verifies, reads, and
// re-encodes to the very same octets.
TEST(Upstream, XenstoredLiveUpdateDump)
{
    std::ifstream f(XSRECORDS_TESTDATA "/xenstored-4.17-live-update.dump", std::ios::binary);
    Bytes b((std::istreambuf_iterator<char>(f)), {});
    ASSERT_EQ(1896u, b.size());
    xsrec_info info{};
    ASSERT_EQ(0, xsrec_verify(b.data(), b.size(), &info, nullptr));
    EXPECT_EQ(37u, info.nrecords);
    Model m;
    ASSERT_EQ(0, xsrec_read_upstream(b.data(), b.size(), &m.s, nullptr));
    EXPECT_TRUE(m.s.has_global);
    ASSERT_EQ(4u, m.s.nconns);
    EXPECT_EQ(5, m.s.conns[1].domid);
    EXPECT_EQ(XSREC_DOMID_INVALID, m.s.conns[1].tdomid);
    EXPECT_EQ(XSREC_CONN_SOCKET, m.s.conns[3].type);
    EXPECT_EQ(msg(0, 2, 0, P("OK\0", 3)),
              Bytes(m.s.conns[3].out_data, m.s.conns[3].out_data + m.s.conns[3].out_len));
    ASSERT_EQ(1u, m.s.nwatches);
    EXPECT_EQ(3u, m.s.watches[0].conn_id);
    EXPECT_STREQ("@releaseDomain", m.s.nodes[0].path);
    EXPECT_EQ(b, write_up(&m.s, XSREC_LITTLE_ENDIAN));
    Bytes be = write_up(&m.s, XSREC_BIG_ENDIAN);
    Model r;
    ASSERT_EQ(0, xsrec_read_upstream(be.data(), be.size(), &r.s, nullptr));
    EXPECT_TRUE(xsrec_stream_equal(&m.s, &r.s));
}

// ================================================ malformed upstream

TEST(Malformed, EveryPrefixOfAnUpstreamStream)
{
    for (auto order : {XSREC_LITTLE_ENDIAN, XSREC_BIG_ENDIAN}) {
        for (unsigned flags : {0u, XSREC_UP_EXACT_LEN}) {
            Model a;
            build_full(&a.s);
            Bytes b = write_up(&a.s, order, flags);
            std::vector<size_t> offs = record_offsets(b);
            ASSERT_EQ(15u, offs.size());
            for (size_t len = 0; len < b.size(); len++) {
                Bytes p(b.begin(), b.begin() + len);
                std::string want;
                if (len < 16) {
                    want = at("truncated", 0);
                } else {
                    // The last record that starts at or before the cut.
                    size_t rec = 16;
                    for (size_t o : offs)
                        if (o <= len)
                            rec = o;
                    want = rec == len ? at("end-missing", len) : at("truncated", rec);
                }
                ASSERT_EQ(want, verdict(p)) << "prefix of " << len << " octets";
            }
        }
    }
}

TEST(Malformed, Header)
{
    Small s;
    Bytes b = s.up.b;
    b[3] = 'S';
    EXPECT_EQ(at("magic", 0), verdict(b));
    EXPECT_EQ(at("magic", 0), verdict(Bytes{'x', 'e', 'n', 'x'}));
    EXPECT_EQ(at("truncated", 0), verdict(Bytes{'x', 'e', 'n'}));
    EXPECT_EQ(at("truncated", 0), verdict(Bytes{}));
    EXPECT_EQ(at("version", 8), verdict(Up(false, false, 2).b));
    EXPECT_EQ(at("version", 8), verdict(Up(false, false, 0).b));
    EXPECT_EQ(at("flags", 12), verdict(Up(false, false, 1, 2).b));
    EXPECT_EQ(at("flags", 12), verdict(Up(false, false, 1, 0x80000001).b));
    // The header is big-endian: little-endian version 1 is version 2^24.
    Up le(false, false, 0x01000000);
    EXPECT_EQ(at("version", 8), verdict(le.b));
}

TEST(Malformed, RecordTypes)
{
    for (uint32_t type : {6u, 7u, 8u, 9u, 0xffffffffu}) {
        Up u;
        u.global(1, 2);
        size_t r = u.begin(type);
        u.end(r);
        u.end_rec();
        EXPECT_EQ(at("record-type", r), verdict(u.b)) << type;
    }
}

TEST(Malformed, EndAndTrailingData)
{
    Up u;
    u.global(1, 2);
    EXPECT_EQ(at("end-missing", u.b.size()), verdict(u.b));
    u.end_rec();
    size_t end = u.b.size();
    u.watch(1, "/a", "t");
    EXPECT_EQ(at("trailing-data", end), verdict(u.b));
    Up v;
    v.end_rec();
    v.b.push_back(0);
    EXPECT_EQ(at("trailing-data", 24), verdict(v.b));
    // END with a body.
    Up w;
    size_t r = w.begin(0);
    w.u32(0);
    w.end(r);
    EXPECT_EQ(at("record-length", r + 4), verdict(w.b));
}

TEST(Malformed, Lengths)
{
    Small s;
    // A len running past the end of the stream.
    Bytes b = s.up.b;
    put_le32(b, s.node + 4, 0x7ffffff8);
    EXPECT_EQ(at("truncated", s.node), verdict(b));
    b = s.up.b;
    put_le32(b, s.node + 4, 0xffffffff);
    EXPECT_EQ(at("truncated", s.node), verdict(b));
    // Field lengths larger than the record.
    b = s.up.b;
    put_le16(b, s.watch + 8 + 4, 0xffff);  // wpath-len
    EXPECT_EQ(at("record-length", s.watch + 4), verdict(b));
    b = s.up.b;
    put_le16(b, s.node + 8 + 10, 0x1000);  // value-len
    EXPECT_EQ(at("record-length", s.node + 4), verdict(b));
    b = s.up.b;
    put_le16(b, s.node + 8 + 14, 40);  // perm-count
    EXPECT_EQ(at("record-length", s.node + 4), verdict(b));
    b = s.up.b;
    put_le32(b, s.conn + 8 + 20, 0x80000000);  // out-data-len
    EXPECT_EQ(at("record-length", s.conn + 4), verdict(b));
    // len neither the contents (13) nor padded (16): 14, or 24 with a
    // whole extra zero word.
    b = s.up.b;
    put_le32(b, s.watch + 4, 14);
    EXPECT_EQ(at("record-length", s.watch + 4), verdict(b));
    // A field length smaller than its string: wpath-len 2 makes "/a" lack
    // its NUL.
    b = s.up.b;
    put_le16(b, s.watch + 8 + 4, 2);
    EXPECT_EQ(at("path", s.watch + 8 + 8 + 1), verdict(b));
    // GLOBAL_DATA and TRANSACTION_DATA are 8 octets exactly.
    Up g;
    size_t r = g.begin(1);
    g.u32(1);
    g.u32(2);
    g.u32(3);
    g.end(r);
    g.end_rec();
    EXPECT_EQ(at("record-length", r + 4), verdict(g.b));
    Up t(false, true);  // len 4; padded it would read as tx-id 0
    t.ring(1, 1, 1, 1);
    r = t.begin(4);
    t.u32(1);
    t.end(r);
    t.end_rec();
    EXPECT_EQ(at("record-length", r + 4), verdict(t.b));
}

TEST(Malformed, Padding)
{
    for (bool exact : {false, true}) {
        Small s(false, exact);
        Bytes b = s.up.b;
        // "/a\0t\0" ends at watch + 8 + 13; octets 13..15 are padding.
        b[s.watch + 8 + 15] = 1;
        EXPECT_EQ(at("padding", s.watch + 8 + 15), verdict(b));
        b = s.up.b;
        b[s.watch + 8 + 13] = 0x80;
        EXPECT_EQ(at("padding", s.watch + 8 + 13), verdict(b));
    }
}

TEST(Malformed, DependencyOrder)
{
    {   // a watch before its connection
        Up u;
        size_t w = u.watch(1, "/a", "t");
        u.ring(1, 1, 1, 1);
        u.end_rec();
        EXPECT_EQ(at("dependency", w + 8), verdict(u.b));
    }
    {   // a transaction of an unknown connection
        Up u;
        u.ring(1, 1, 1, 1);
        size_t t = u.tx(2, 1);
        u.end_rec();
        EXPECT_EQ(at("dependency", t + 8), verdict(u.b));
    }
    {   // a transaction node before its transaction
        Up u;
        u.ring(1, 1, 1, 1);
        size_t n = u.node(1, 9, 1, "/a", "", {{'b', 0, 1}});
        u.tx(1, 9);
        u.end_rec();
        EXPECT_EQ(at("dependency", n + 8), verdict(u.b));
    }
    {   // a node of another connection's transaction 9
        Up u;
        u.ring(1, 1, 1, 1);
        u.ring(2, 2, 2, 2);
        u.tx(1, 9);
        size_t n = u.node(2, 9, 1, "/a", "", {{'b', 0, 1}});
        u.end_rec();
        EXPECT_EQ(at("dependency", n + 8), verdict(u.b));
    }
    {   // GLOBAL_DATA second
        Up u;
        u.ring(1, 1, 1, 1);
        size_t g = u.global(1, 2);
        u.end_rec();
        EXPECT_EQ(at("global-first", g), verdict(u.b));
    }
    {   // GLOBAL_DATA twice
        Up u;
        u.global(1, 2);
        size_t g = u.global(1, 2);
        u.end_rec();
        EXPECT_EQ(at("global-first", g), verdict(u.b));
    }
    {   // no GLOBAL_DATA at all is fine: migration streams have none
        Up u;
        u.ring(1, 1, 1, 1);
        u.end_rec();
        EXPECT_EQ("ok", verdict(u.b));
    }
}

TEST(TxOps, ReadWrittenAndRoundTripped)
{
    for (bool big : {false, true}) {
        Up u(big);
        u.ring(1, 5, XSREC_DOMID_INVALID, 1);
        // (the writer's order: a connection's transactions, then their logs)
        u.tx(1, 3);
        u.tx(1, 4);
        u.tx_op(1, 3, XS_READ, XS_READ, P("data/a\0", 7), "a0");
        u.tx_op(1, 3, XS_WRITE, XS_ERROR, P("data/b\0v", 8), P("EACCES\0", 7));
        u.tx_op(1, 4, XSREC_TX_OP_CUT, 0, "", "");
        u.end_rec();
        ASSERT_EQ("ok", verdict(u.b));
        Model m;
        xsrec_error err{};
        ASSERT_EQ(0, xsrec_read(u.b.data(), u.b.size(), &m.s, nullptr, &err)) << err.message;
        ASSERT_EQ(3u, m.s.ntx_ops);
        EXPECT_EQ(3u, m.s.tx_ops[0].tx_id);
        EXPECT_EQ((uint32_t)XS_READ, m.s.tx_ops[0].req_type);
        EXPECT_EQ(P("data/a\0", 7), std::string((const char *)m.s.tx_ops[0].req, m.s.tx_ops[0].req_len));
        EXPECT_EQ("a0", std::string((const char *)m.s.tx_ops[0].rsp, m.s.tx_ops[0].rsp_len));
        EXPECT_EQ((uint32_t)XS_ERROR, m.s.tx_ops[1].rsp_type);
        EXPECT_EQ(XSREC_TX_OP_CUT, m.s.tx_ops[2].req_type);
        // the library writes the same octets back, and reads what it wrote
        uint8_t *out = nullptr;
        size_t len = 0;
        ASSERT_EQ(0, xsrec_write_upstream(&m.s, big ? XSREC_BIG_ENDIAN : XSREC_LITTLE_ENDIAN, 0,
                                          &out, &len, &err)) << err.message;
        EXPECT_EQ(u.b, Bytes(out, out + len));
        Model again;
        ASSERT_EQ(0, xsrec_read(out, len, &again.s, nullptr, &err));
        EXPECT_TRUE(xsrec_stream_equal(&m.s, &again.s));
        free(out);
        // the seed format cannot carry a transaction's log
        ASSERT_EQ(-1, xsrec_write_seed(&m.s, 0, &out, &len, &err));
        EXPECT_STREQ("not-representable", err.rule);
    }
}

TEST(TxOps, Malformed)
{
    auto stream = [](auto add) {
        Up u;
        u.ring(1, 5, XSREC_DOMID_INVALID, 1);
        u.tx(1, 3);
        size_t at = add(u);
        u.end_rec();
        return std::make_pair(u.b, at);
    };
    {   // before its transaction, or of no transaction at all
        Up u;
        u.ring(1, 5, XSREC_DOMID_INVALID, 1);
        size_t op = u.tx_op(1, 3, XS_READ, XS_READ, P("a\0", 2), "");
        u.tx(1, 3);
        u.end_rec();
        EXPECT_EQ(at("dependency", op + 12), verdict(u.b));
    }
    auto [b1, o1] = stream([](Up &u) { return u.tx_op(2, 3, XS_READ, XS_READ, P("a\0", 2), ""); });
    EXPECT_EQ(at("dependency", o1 + 8), verdict(b1));
    auto [b2, o2] = stream([](Up &u) { return u.tx_op(1, 3, XS_WATCH, XS_WATCH, P("a\0t\0", 4), P("OK\0", 3)); });
    EXPECT_EQ(at("tx-op", o2 + 16), verdict(b2));
    auto [b3, o3] = stream([](Up &u) { return u.tx_op(1, 3, XS_READ, XS_WRITE, P("a\0", 2), ""); });
    EXPECT_EQ(at("tx-op", o3 + 20), verdict(b3));
    auto [b4, o4] = stream([](Up &u) { return u.tx_op(1, 3, XSREC_TX_OP_CUT, 0, "x", ""); });
    EXPECT_EQ(at("tx-op", o4 + 20), verdict(b4));
    auto [b5, o5] = stream([](Up &u) { return u.tx_op(1, 3, XS_READ, XS_READ, std::string(4097, 'a'), ""); });
    EXPECT_EQ(at("payload-limit", o5 + 24), verdict(b5));
    {   // lengths that run past the record
        auto [b, o] = stream([](Up &u) { return u.tx_op(1, 3, XS_READ, XS_READ, P("a\0", 2), "v"); });
        put_le32(b, o + 8 + 20, 100);
        EXPECT_EQ(at("record-length", o + 4), verdict(b));
    }
    {   // every prefix is an error, never a crash
        auto [b, o] = stream([](Up &u) { return u.tx_op(1, 3, XS_READ, XS_READ, P("a\0", 2), "v"); });
        for (size_t n = 0; n < b.size(); n++)
            EXPECT_NE("ok", verdict(Bytes(b.begin(), b.begin() + (long)n))) << n;
    }
}

TEST(Malformed, Connections)
{
    {
        Up u;
        size_t c = u.ring(0, 1, 1, 1);
        u.end_rec();
        EXPECT_EQ(at("conn-id", c + 8), verdict(u.b));
    }
    {
        Up u;
        u.ring(1, 1, 1, 1);
        size_t c = u.socket(1, 5);
        u.end_rec();
        EXPECT_EQ(at("duplicate", c + 8), verdict(u.b));
    }
    {
        Up u;
        size_t c = u.ring(1, 1, 1, 1);
        u.end_rec();
        put_le16(u.b, c + 8 + 4, 2);
        EXPECT_EQ(at("conn-type", c + 8 + 4), verdict(u.b));
        put_le16(u.b, c + 8 + 4, 0);
        put_le16(u.b, c + 8 + 6, 1);  // "fields" of later revisions
        EXPECT_EQ(at("reserved", c + 8 + 6), verdict(u.b));
    }
    {
        Up u;
        size_t c = u.socket(1, 5);
        u.end_rec();
        u.b[c + 8 + 12] = 1;  // the socket's pad
        EXPECT_EQ(at("reserved", c + 8 + 12), verdict(u.b));
    }
    {
        Up u;
        u.ring(1, 1, 1, 1);
        u.tx(1, 4);
        size_t t = u.tx(1, 4);
        size_t z = u.tx(1, 0);
        u.end_rec();
        EXPECT_EQ(at("duplicate", t + 8 + 4), verdict(u.b));
        put_le32(u.b, t + 8 + 4, 5);
        EXPECT_EQ(at("tx-id", z + 8 + 4), verdict(u.b));
    }
}

TEST(Malformed, ConnectionData)
{
    Bytes whole = msg(2, 1, 0, P("/a\0", 3));
    {   // out-resp-len larger than out-data-len
        Up u;
        size_t c = u.ring(1, 1, 1, 1, {}, 4, Bytes{1, 2, 3});
        u.end_rec();
        EXPECT_EQ(at("conn-data", c + 8 + 18), verdict(u.b));
    }
    {   // out-data must end on a message boundary
        Bytes cut(whole.begin(), whole.end() - 1);
        Up u;
        size_t c = u.ring(1, 1, 1, 1, {}, 0, cut);
        u.end_rec();
        EXPECT_EQ(at("conn-data", c + 8 + 24), verdict(u.b));
        Up v;
        c = v.ring(1, 1, 1, 1, {}, 0, cat({whole, Bytes{1, 0, 0}}));
        v.end_rec();
        EXPECT_EQ(at("conn-data", c + 8 + 24 + whole.size()), verdict(v.b));
    }
    {   // in-data may end inside a message, but lengths stay <= 4096
        Up u;
        u.ring(1, 1, 1, 1, cat({whole, Bytes(whole.begin(), whole.begin() + 17)}));
        u.end_rec();
        EXPECT_EQ("ok", verdict(u.b));
        Bytes big = msg(11, 1, 0, "x");
        big[12] = 0x01;
        big[13] = 0x10;  // len 4097
        Up v;
        size_t c = v.ring(1, 1, 1, 1, big);
        v.end_rec();
        EXPECT_EQ(at("conn-data", c + 8 + 24 + 12), verdict(v.b));
    }
    {   // a partial response may be anything, the messages after it not
        Up u;
        u.ring(1, 1, 1, 1, {}, 5, cat({Bytes{9, 9, 9, 9, 9}, whole}));
        u.end_rec();
        EXPECT_EQ("ok", verdict(u.b));
    }
}

TEST(Malformed, Permissions)
{
    Small s;
    size_t perm = s.node + 8 + 16;
    Bytes b = s.up.b;
    b[perm] = 'x';
    EXPECT_EQ(at("perm", perm), verdict(b));
    b = s.up.b;
    b[perm] = 0;
    EXPECT_EQ(at("perm", perm), verdict(b));
    b = s.up.b;
    b[perm + 1] = 0x02;  // only 0x01 (stale) is defined
    EXPECT_EQ(at("perm", perm + 1), verdict(b));
    for (char c : {'r', 'w', 'b', 'n'}) {
        b = s.up.b;
        b[perm] = c;
        EXPECT_EQ("ok", verdict(b));
    }
    // A committed node needs an owner; only a transaction may delete.
    Up u;
    size_t n = u.node(0, 0, 0, "/a", "", {});
    u.end_rec();
    EXPECT_EQ(at("perm", n + 8 + 14), verdict(u.b));
}

TEST(Malformed, DeletedNodes)
{
    auto stream = [](const std::string &value, uint16_t access, size_t *n) {
        Up u;
        u.ring(1, 1, 1, 1);
        u.tx(1, 2);
        *n = u.node(1, 2, access, "/gone", value, {});
        u.end_rec();
        return u.b;
    };
    size_t n;
    EXPECT_EQ("ok", verdict(stream("", 0, &n)));
    Bytes b = stream("v", 0, &n);
    EXPECT_EQ(at("deleted-node", n + 8 + 10), verdict(b));
    b = stream("", 1, &n);
    EXPECT_EQ(at("deleted-node", n + 8 + 12), verdict(b));
    Up u;
    u.ring(1, 1, 1, 1);
    u.tx(1, 2);
    n = u.node(1, 2, 4, "/a", "", {{'b', 0, 1}});
    u.end_rec();
    EXPECT_EQ(at("reserved", n + 8 + 12), verdict(u.b));
}

TEST(Malformed, Paths)
{
    // Node paths: absolute or special, at most 3072 octets.
    {
        Up u;
        size_t n = u.node(0, 0, 0, "/" + std::string(3071, 'a'), "", {{'n', 0, 0}});
        u.end_rec();
        EXPECT_EQ("ok", verdict(u.b));
        Up v;
        n = v.node(0, 0, 0, "/" + std::string(3072, 'a'), "", {{'n', 0, 0}});
        v.end_rec();
        EXPECT_EQ(at("path", n + 8 + 16 + 4), verdict(v.b));
        Up w;
        n = w.node(0, 0, 0, "relative", "", {{'n', 0, 0}});
        w.end_rec();
        EXPECT_EQ(at("path", n + 8 + 16 + 4), verdict(w.b));
        Up x;
        n = x.node(0, 0, 0, "", "", {{'n', 0, 0}});
        x.end_rec();
        EXPECT_EQ(at("path", n + 8 + 16 + 4), verdict(x.b));
    }
    // An embedded NUL in a path, a path-len of 0.
    {
        Small s;
        Bytes b = s.up.b;
        size_t path = s.node + 8 + 16 + 4;
        b[path + 1] = 0;  // "/\0\0"
        EXPECT_EQ(at("path", path + 1), verdict(b));
        b = s.up.b;
        put_le16(b, s.watch + 8 + 4, 0);
        put_le16(b, s.watch + 8 + 6, 5);  // all of "/a\0t\0" is now the token
        EXPECT_EQ(at("path", s.watch + 8 + 8), verdict(b));
    }
    // Watch paths: relative ones at most 2048, absolute 3072.
    {
        Up u;
        u.ring(1, 1, 1, 1);
        size_t w = u.watch(1, std::string(2049, 'r'), "t");
        u.end_rec();
        EXPECT_EQ(at("path", w + 8 + 8), verdict(u.b));
        Up v;
        v.ring(1, 1, 1, 1);
        v.watch(1, std::string(2048, 'r'), "t");
        v.watch(1, "@introduceDomain", "");
        v.end_rec();
        EXPECT_EQ("ok", verdict(v.b));
    }
    // A token with a NUL inside.
    {
        Up u;
        u.ring(1, 1, 1, 1);
        size_t r = u.begin(3);
        u.u32(1);
        u.u16(3);
        u.u16(4);
        u.put("/a\0t\0u\0", 7);
        u.end(r);
        u.end_rec();
        EXPECT_EQ(at("token", r + 8 + 8 + 3 + 1), verdict(u.b));
    }
}

TEST(Malformed, PayloadLimits)
{
    // WRITE <path>|<value> must fit 4096 octets; values may hold NULs.
    std::string path = "/a";  // 3 octets with its NUL
    Up u;
    u.node(0, 0, 0, path, std::string(4093, '\0'), {{'n', 0, 0}});
    u.end_rec();
    EXPECT_EQ("ok", verdict(u.b));
    Up v;
    size_t n = v.node(0, 0, 0, path, std::string(4094, 'v'), {{'n', 0, 0}});
    v.end_rec();
    EXPECT_EQ(at("payload-limit", n + 8 + 10), verdict(v.b));
    // SET_PERMS <path>|<perm>|+ too: 1000 "b65535" do not fit.
    std::vector<Up::Perm> perms(1000, Up::Perm{'b', 0, 65535});
    Up w;
    n = w.node(0, 0, 0, path, "", perms);
    w.end_rec();
    EXPECT_EQ(at("payload-limit", n + 8 + 14), verdict(w.b));
    // WATCH <path>|<token>|
    Up x;
    x.ring(1, 1, 1, 1);
    size_t wa = x.watch(1, "/a", std::string(4093, 't'));
    x.end_rec();
    EXPECT_EQ(at("payload-limit", wa + 8 + 4), verdict(x.b));
}

// A valid stream with single octets changed: never a crash, never a read
// out of bounds (run under ASan/valgrind), and what reads back re-encodes.
TEST(Malformed, EveryOctetMutated)
{
    Model a;
    build_full(&a.s);
    for (auto order : {XSREC_LITTLE_ENDIAN, XSREC_BIG_ENDIAN}) {
        Bytes b = write_up(&a.s, order);
        for (size_t i = 0; i < b.size(); i++) {
            for (uint8_t v : {0x00, 0x01, 0x7f, 0xff}) {
                Bytes m = b;
                m[i] = v;
                Model r;
                xsrec_error err{};
                xsrec_info info{};
                if (xsrec_read(m.data(), m.size(), &r.s, &info, &err))
                    continue;
                Bytes again = write_up(&r.s, info.order);
                Model r2;
                ASSERT_EQ(0, xsrec_read(again.data(), again.size(), &r2.s, nullptr, nullptr));
                ASSERT_TRUE(xsrec_stream_equal(&r.s, &r2.s)) << "octet " << i;
            }
        }
    }
}

// ==================================================== malformed seeds

TEST(MalformedSeed, EveryPrefix)
{
    Model a;
    build_seedable(&a.s);
    Bytes b = write_seed(&a.s);
    std::vector<size_t> offs = record_offsets(b);
    ASSERT_EQ(5u, offs.size());
    for (size_t len = 0; len < b.size(); len++) {
        Bytes p(b.begin(), b.begin() + len);
        size_t rec = 16;
        for (size_t o : offs)
            if (o <= len)
                rec = o;
        std::string want = len < 16 ? at("truncated", 0) : at("truncated", rec);
        ASSERT_EQ(want, verdict(p)) << "prefix of " << len << " octets";
    }
}

TEST(MalformedSeed, Records)
{
    auto one = [](uint32_t type, const Bytes &data) {
        Seed s;
        s.rec(type, data);
        return s.b;
    };
    Bytes good = one(1, Seed::node(1, "/a", {"b0"}, "v"));
    EXPECT_EQ("ok", verdict(good));
    Bytes b = good;
    b[8] = 2;
    EXPECT_EQ(at("version", 8), verdict(b));
    b = good;
    put_le32(b, 12, 2);  // the header promises two records
    EXPECT_EQ(at("truncated", good.size()), verdict(b));
    b = good;
    b.insert(b.end(), 8, 0);
    EXPECT_EQ(at("trailing-data", good.size()), verdict(b));
    b = good;
    b[16 + 8 + 4 + 3 + 3 + 1] = 1;  // after "v"
    EXPECT_EQ(at("padding", 16 + 8 + 11), verdict(b));
    for (uint32_t type : {0u, 4u, 0x100u})
        EXPECT_EQ(at("record-type", 16), verdict(one(type, Bytes{})));

    // node data
    EXPECT_EQ(at("record-length", 20), verdict(one(1, Bytes{1, 0})));
    EXPECT_EQ(at("perm", 24), verdict(one(1, Seed::node(0, "/a", {}, ""))));
    EXPECT_EQ(at("perm", 34), verdict(one(1, Seed::node(2, "/a", {"b0"}, ""))));
    for (const char *p : {"x1", "r", "r01", "r65536", "r-1", "r+1", "rr", "b1234567"})
        EXPECT_EQ(at("perm", 31), verdict(one(1, Seed::node(1, "/a", {p}, "")))) << p;
    EXPECT_EQ("ok", verdict(one(1, Seed::node(1, "/a", {"n65535"}, P("\0\0", 2)))));
    EXPECT_EQ(at("path", 28), verdict(one(1, Seed::node(1, "a", {"b0"}, ""))));
    Bytes nonul = {1, 0, 0, 0, '/', 'a'};
    EXPECT_EQ(at("path", 28), verdict(one(1, nonul)));
    EXPECT_EQ(at("payload-limit", 34),
              verdict(one(1, Seed::node(1, "/a", {"b0"}, std::string(4094, 'v')))));

    // watch data
    EXPECT_EQ("ok", verdict(one(2, Seed::watch("rel", ""))));
    EXPECT_EQ(at("path", 24), verdict(one(2, Bytes{'/', 'a'})));
    EXPECT_EQ(at("token", 27), verdict(one(2, Bytes{'/', 'a', 0, 't'})));
    EXPECT_EQ(at("record-length", 20), verdict(one(2, Bytes{'/', 'a', 0, 't', 0, 0})));
    EXPECT_EQ(at("path", 24), verdict(one(2, Seed::watch("", "t"))));

    // transaction data
    EXPECT_EQ(at("record-length", 20), verdict(one(3, Bytes{2, 0, 0, 0, 1, 0, 0, 0})));
    EXPECT_EQ(at("record-length", 20), verdict(one(3, Bytes{0, 0})));
    EXPECT_EQ(at("tx-id", 28), verdict(one(3, Seed::txs({0}))));
    EXPECT_EQ(at("duplicate", 32), verdict(one(3, Seed::txs({5, 5}))));
    Seed two;
    two.rec(3, Seed::txs({5}));
    two.rec(3, Seed::txs({5}));
    EXPECT_EQ(at("duplicate", 44), verdict(two.b));
    EXPECT_EQ("ok", verdict(one(3, Seed::txs({}))));
}

// ================================================ writers refuse bad models

TEST(Writer, RefusesInconsistentModels)
{
    uint8_t *p = nullptr;
    size_t n = 0;
    xsrec_error err{};
    {
        Model m;
        xsrec_add_watch(&m.s, 4, "/a", "t");  // no connection 4
        EXPECT_EQ(-1, xsrec_write_upstream(&m.s, XSREC_LITTLE_ENDIAN, 0, &p, &n, &err));
        EXPECT_STREQ("dependency", err.rule);
        EXPECT_EQ(nullptr, p);
    }
    {
        Model m;
        std::string big(70000, 'v');
        const xsrec_perm perm[] = {{'b', 0, 0}};
        xsrec_node node{};
        node.path = "/a";
        node.value = (const uint8_t *)big.data();
        node.value_len = big.size();
        node.perms = perm;
        node.nperms = 1;
        xsrec_add_node(&m.s, &node);
        EXPECT_EQ(-1, xsrec_write_upstream(&m.s, XSREC_LITTLE_ENDIAN, 0, &p, &n, &err));
        EXPECT_STREQ("field-range", err.rule);
        EXPECT_EQ(-1, xsrec_write_seed(&m.s, 0, &p, &n, &err));
        EXPECT_STREQ("payload-limit", err.rule);
    }
    {
        Model m;
        Bytes bad = msg(2, 1, 0, "x");
        bad.pop_back();  // out-data cut inside a message
        xsrec_conn c{};
        c.id = 1;
        c.out_data = bad.data();
        c.out_len = bad.size();
        xsrec_add_conn(&m.s, &c);
        for (auto order : {XSREC_LITTLE_ENDIAN, XSREC_BIG_ENDIAN}) {
            EXPECT_EQ(-1, xsrec_write_upstream(&m.s, order, 0, &p, &n, &err));
            EXPECT_STREQ("conn-data", err.rule);
        }
    }
}

// =========================================================== the command

struct CmdResult {
    int status;
    std::string out;
};

CmdResult run(const std::string &args)
{
    std::string cmd = std::string(XSRECORDS_BIN) + " " + args + " 2>&1";
    CmdResult r{-1, ""};
    FILE *f = popen(cmd.c_str(), "r");
    if (!f)
        return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        r.out.append(buf, n);
    int st = pclose(f);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

class Command : public ::testing::Test {
protected:
    std::string dir;
    void SetUp() override
    {
        char tmpl[] = "/tmp/test_records.XXXXXX";
        ASSERT_NE(nullptr, mkdtemp(tmpl));
        dir = tmpl;
    }
    void TearDown() override { std::system(("rm -rf " + dir).c_str()); }
    std::string file(const std::string &name, const Bytes &b)
    {
        std::string path = dir + "/" + name;
        std::ofstream(path, std::ios::binary).write((const char *)b.data(), b.size());
        return path;
    }
    Bytes slurp(const std::string &path)
    {
        std::ifstream f(path, std::ios::binary);
        return Bytes(std::istreambuf_iterator<char>(f), {});
    }
};

TEST_F(Command, Help)
{
    CmdResult r = run("--help");
    EXPECT_EQ(0, r.status);
    EXPECT_NE(std::string::npos, r.out.find("convert --to upstream|seed"));
    EXPECT_EQ(2, run("").status);
    EXPECT_EQ(2, run("frobnicate x").status);
}

TEST_F(Command, VerifyOkAndBroken)
{
    Model a;
    build_full(&a.s);
    std::string good = file("good", write_up(&a.s, XSREC_BIG_ENDIAN));
    CmdResult r = run("verify " + good);
    EXPECT_EQ(0, r.status);
    EXPECT_EQ(good + ": ok (15 records)\n", r.out);

    Small s;
    Bytes b = s.up.b;
    b[s.node + 8 + 16] = 'x';
    std::string bad = file("bad", b);
    r = run("verify " + bad);
    EXPECT_EQ(1, r.status);
    char want[64];
    snprintf(want, sizeof(want), ": offset 0x%zx: perm: ", s.node + 8 + 16);
    EXPECT_EQ(0u, r.out.find(bad + want)) << r.out;
    EXPECT_EQ(2, run("verify " + dir + "/missing").status);
}

TEST_F(Command, Dump)
{
    Model a;
    build_full(&a.s);
    std::string f = file("full", write_up(&a.s, XSREC_LITTLE_ENDIAN));
    CmdResult r = run("dump " + f);
    EXPECT_EQ(0, r.status) << r.out;
    const char *const want[] = {
        "0x000000 header upstream version 1 little-endian\n",
        "0x000010 GLOBAL_DATA len 8: rw-socket-fd 5 evtchn-fd 7\n",
        " CONNECTION_DATA len ",
        ": conn 1 ring domid 3 tdomid invalid evtchn 12 in-data-len 62 out-resp-len 5 "
        "out-data-len 44 in[WRITE(11) req 4 tx 0 len 21 \"/local/domain/3/a\\x00xyz\"] "
        "in[WRITE(11) req 5 tx 7 len 23 \"/local/do\" partial, 9 of 23 octets] "
        "out[rest of a response \"OK\\x00\\x00\\x00\"] "
        "out[WATCH_EVENT(15) req 0 tx 0 len 23 \"/local/domain/3/a\\x00tok1\\x00\"]\n",
        ": conn 2 socket fd 9 in-data-len 6 out-resp-len 0 out-data-len 0 "
        "in[partial header, 6 of 16 octets]\n",
        " WATCH_DATA len 32: conn 2 path \"@releaseDomain\" token \"rel\"\n",
        " TRANSACTION_DATA len 8: conn 1 tx 7\n",
        " NODE_DATA len 56: path \"/local/domain/3/bin\" perms b3,r9(stale) value-len 6 "
        "value \"a\\x00b\\x00\\x00c\"\n",
        " NODE_DATA len 48: conn 1 tx 7 access rw path \"/local/domain/3/new\" perms n3 "
        "value-len 1 value \"v\"\n",
        " NODE_DATA len 40: conn 1 tx 7 access - path \"/local/domain/3/gone\" deleted\n",
        " END len 0:\n",
    };
    for (const char *w : want)
        EXPECT_NE(std::string::npos, r.out.find(w)) << w << "\n--- in ---\n" << r.out;
    EXPECT_EQ(15u + 1, (size_t)std::count(r.out.begin(), r.out.end(), '\n'));

    // A broken stream: the records before the problem, then the error.
    Small s;
    Bytes b = s.up.b;
    b.resize(s.end);
    r = run("dump " + file("noend", b));
    EXPECT_EQ(1, r.status);
    EXPECT_NE(std::string::npos, r.out.find("NODE_DATA len 32: conn 1 tx 5 access w path \"/a/b\" "
                                            "perms w1,n0(stale) value-len 2 value \"\\x00z\""));
    EXPECT_NE(std::string::npos, r.out.find(": end-missing: "));
}

TEST_F(Command, ConvertBothWays)
{
    Model a;
    build_seedable(&a.s);
    Bytes seed = write_seed(&a.s);
    std::string in = file("in.seed", seed);
    std::string up = dir + "/out.xs", back = dir + "/back.seed";
    CmdResult r = run("convert --to upstream --big-endian --domid 3 --evtchn 12 " + in + " " + up);
    EXPECT_EQ(0, r.status) << r.out;
    Bytes ub = slurp(up);
    Model m;
    xsrec_info info{};
    ASSERT_EQ(0, xsrec_read(ub.data(), ub.size(), &m.s, &info, nullptr));
    EXPECT_EQ(XSREC_BIG_ENDIAN, info.order);
    ASSERT_EQ(1u, m.s.nconns);
    EXPECT_EQ(3, m.s.conns[0].domid);
    EXPECT_EQ(12u, m.s.conns[0].evtchn);
    // Back to seed: domid 3 is not representable any more.
    r = run("convert --to seed " + up + " " + back);
    EXPECT_EQ(1, r.status);
    EXPECT_NE(std::string::npos, r.out.find("refused")) << r.out;
    EXPECT_NE(std::string::npos, r.out.find("1 CONNECTION_DATA")) << r.out;
    EXPECT_NE(0, access(back.c_str(), F_OK));  // nothing written
    r = run("convert --to seed --allow-loss " + up + " " + back);
    EXPECT_EQ(0, r.status) << r.out;
    EXPECT_NE(std::string::npos, r.out.find("warning")) << r.out;
    EXPECT_EQ(seed, slurp(back));
    // Without --domid the placeholder is kept, with a warning.
    r = run("convert --to upstream " + in + " " + up);
    EXPECT_EQ(0, r.status);
    EXPECT_NE(std::string::npos, r.out.find("warning")) << r.out;
    r = run("convert --to seed " + up + " " + back);
    EXPECT_EQ(0, r.status) << r.out;
    EXPECT_EQ(seed, slurp(back));
    // Bad input is reported like verify does.
    r = run("convert --to seed " + file("junk", Bytes{'j', 'u', 'n', 'k', 0, 0, 0, 0}) + " " + back);
    EXPECT_EQ(1, r.status);
    EXPECT_NE(std::string::npos, r.out.find("offset 0x0: magic: ")) << r.out;
    EXPECT_EQ(2, run("convert --to nowhere " + in + " " + back).status);
    EXPECT_EQ(2, run("convert --to seed --domid 3 " + up + " " + back).status);
}

}  // namespace
