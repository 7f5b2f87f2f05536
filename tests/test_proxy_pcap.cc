// test_proxy_pcap.cc - xsproxy's pcap captures, checked against what was
// really sent and against tshark with the Wireshark dissector
// (deploy/wireshark/xenstore.lua):
//  - the differential workload (workload.cc) runs through xsproxy with a
//    capture on; every message each guest ring and dom0 connection of the
//    test sent or received is in the capture, in order, byte for byte;
//  - tshark decodes every record, and each field it shows (direction,
//    source, domain or connection, type, req_id, tx_id, len, every path,
//    value, token, permission, child, error name, transaction id) equals an
//    independent decode of the bytes; counts per type agree; every reply
//    is paired with its request (response_to / response_in);
//  - run-time filters (domain, connection, type) and size-capped rotation.
// For oxenstored and C xenstored.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "sim_host.h"
#include "workload.h"
#include "xsproxy_type_names.h"

namespace xstest {
namespace {

constexpr char kAgg = '\x1e';   // between a field's occurrences in tshark's output

struct Rec {
    unsigned frame = 0;
    uint8_t version = 0, dir = 0, source = 0, flags = 0;
    uint32_t id = 0, guest_tx = 0, backend_tx = 0;
    WireMsg m;
};

uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

// The capture read back with libpcap, decoded here without Wireshark.
std::vector<Rec> read_capture(const std::string &path, std::string *err)
{
    std::vector<Rec> out;
    char ebuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path.c_str(), ebuf);
    if (!p) {
        *err = ebuf;
        return out;
    }
    if (pcap_datalink(p) != 147)
        *err = "link type " + std::to_string(pcap_datalink(p)) + ", not USER0";
    struct pcap_pkthdr *h;
    const unsigned char *data;
    unsigned frame = 0;
    while (err->empty() && pcap_next_ex(p, &h, &data) == 1) {
        frame++;
        if (h->caplen != h->len || h->caplen < 32) {
            *err = "frame " + std::to_string(frame) + " is short";
            break;
        }
        Rec r;
        r.frame = frame;
        r.version = data[0];
        r.dir = data[1];
        r.source = data[2];
        r.flags = data[3];
        r.id = be32(data + 4);
        r.guest_tx = be32(data + 8);
        r.backend_tx = be32(data + 12);
        struct xsd_sockmsg x;
        memcpy(&x, data + 16, sizeof(x));
        r.m.type = x.type;
        r.m.req_id = x.req_id;
        r.m.tx_id = x.tx_id;
        if (16 + sizeof(x) + x.len != h->caplen) {
            *err = "frame " + std::to_string(frame) + ": len does not match the record";
            break;
        }
        r.m.body.assign((const char *)data + 16 + sizeof(x), x.len);
        out.push_back(r);
    }
    pcap_close(p);
    return out;
}

std::vector<std::string> split(const std::string &s, char sep)
{
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == sep) {
            out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    out.push_back(cur);
    return out;
}

// NUL-terminated parts of a payload (a last part without a NUL counts).
std::vector<std::string> parts_of(const std::string &body)
{
    std::vector<std::string> out;
    size_t at = 0;
    while (at < body.size()) {
        size_t nul = body.find('\0', at);
        if (nul == std::string::npos) {
            out.push_back(body.substr(at));
            break;
        }
        out.push_back(body.substr(at, nul - at));
        at = nul + 1;
    }
    return out;
}

std::string join(const std::vector<std::string> &v)
{
    std::string out;
    for (size_t i = 0; i < v.size(); i++)
        out += (i ? std::string(1, kAgg) : "") + v[i];
    return out;
}

// What the payload of R holds, by field, decoded from the protocol's rules
// (docs/misc/xenstore.txt), for the fields this test compares.
std::map<std::string, std::vector<std::string>> expected_parts(const Rec &r)
{
    std::map<std::string, std::vector<std::string>> f;
    const std::string &b = r.m.body;
    auto p = parts_of(b);
    auto first = [&] { return p.empty() ? std::string() : p[0]; };
    if (r.dir == 0) {
        switch (r.m.type) {
        case XS_READ: case XS_MKDIR: case XS_RM: case XS_DIRECTORY: case XS_GET_PERMS:
            f["path"] = { first() };
            break;
        case XS_WRITE: {
            size_t nul = b.find('\0');
            f["path"] = { b.substr(0, nul) };
            f["value"] = { nul == std::string::npos ? "" : b.substr(nul + 1) };
            break;
        }
        case XS_SET_PERMS:
            f["path"] = { first() };
            f["perm"] = std::vector<std::string>(p.begin() + (p.empty() ? 0 : 1), p.end());
            break;
        case XS_WATCH: case XS_UNWATCH:
            f["path"] = { first() };
            f["token"] = { p.size() > 1 ? p[1] : "" };
            break;
        case XS_DIRECTORY_PART:
            f["path"] = { first() };
            break;
        default:
            break;
        }
        return f;
    }
    switch (r.m.type) {
    case XS_ERROR:
        f["error"] = { first() };
        break;
    case XS_WATCH_EVENT:
        f["path"] = { first() };
        f["token"] = { p.size() > 1 ? p[1] : "" };
        break;
    case XS_READ:
        f["value"] = { b };
        break;
    case XS_DIRECTORY:
        f["child"] = p;
        break;
    case XS_GET_PERMS:
        f["perm"] = p;
        break;
    case XS_TRANSACTION_START:
        f["txid"] = { first() };
        break;
    default:
        break;
    }
    return f;
}

bool printable(const std::string &s)
{
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

struct Tshark {
    bool ok = false;
    std::string err;
    std::vector<std::map<std::string, std::string>> rows;   // by field name
};

const std::vector<std::string> kFields = {
    "frame.number", "xenstore.dir", "xenstore.source", "xenstore.domid", "xenstore.conn",
    "xenstore.flags", "xenstore.guest_tx", "xenstore.type", "xenstore.req_id", "xenstore.tx_id",
    "xenstore.len", "xenstore.path", "xenstore.value", "xenstore.token", "xenstore.perm",
    "xenstore.child", "xenstore.error", "xenstore.txid", "xenstore.response_to",
    "xenstore.response_in", "_ws.col.Protocol",
};

Tshark run_tshark(const std::string &file)
{
    Tshark t;
    std::vector<std::string> argv = {
        "tshark", "-n", "-2", "-X", "lua_script:" XSPROXY_SOURCE_DIR "/deploy/wireshark/xenstore.lua",
        "-r", file, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E",
        std::string("aggregator=") + kAgg, "-E", "quote=n",
    };
    for (const auto &f : kFields) {
        argv.push_back("-e");
        argv.push_back(f);
    }
    RunResult r = run_program(argv, {}, 120000);
    t.err = r.err;
    if (!r.ok())
        return t;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        auto cols = split(line, '\t');
        if (cols.size() != kFields.size()) {
            t.err += "\na line with " + std::to_string(cols.size()) + " columns: " + line;
            return t;
        }
        std::map<std::string, std::string> row;
        for (size_t i = 0; i < cols.size(); i++)
            row[kFields[i]] = cols[i];
        t.rows.push_back(row);
    }
    t.ok = true;
    return t;
}

bool same_msg(const WireMsg &a, const WireMsg &b)
{
    return a.type == b.type && a.req_id == b.req_id && a.tx_id == b.tx_id && a.body == b.body;
}

std::string show(const WireMsg &m)
{
    return type_name(m.type) + " req " + std::to_string(m.req_id) + " tx " +
           std::to_string(m.tx_id) + " \"" + escape(m.body) + "\"";
}

// A message as the test's side of the connection saw it: in the capture,
// a request carries the guest's tx id in the pseudo-header.
WireMsg as_seen(const Rec &r)
{
    WireMsg m = r.m;
    if (r.dir == 0)
        m.tx_id = r.guest_tx;
    return m;
}

// SENT must equal CAP_SENT; RECEIVED must be a prefix of CAP_RECEIVED (the
// test may not have read the last events before it closed).
void expect_stream(const std::string &who, const std::vector<WireMsg> &sent,
                   const std::vector<WireMsg> &received, const std::vector<WireMsg> &cap_sent,
                   const std::vector<WireMsg> &cap_received)
{
    ASSERT_EQ(sent.size(), cap_sent.size()) << who << ": requests sent vs captured";
    for (size_t i = 0; i < sent.size(); i++)
        ASSERT_TRUE(same_msg(sent[i], cap_sent[i]))
            << who << " request " << i << ": sent " << show(sent[i]) << ", captured "
            << show(cap_sent[i]);
    ASSERT_LE(received.size(), cap_received.size()) << who << ": received vs captured";
    for (size_t i = 0; i < received.size(); i++)
        ASSERT_TRUE(same_msg(received[i], cap_received[i]))
            << who << " message " << i << ": received " << show(received[i]) << ", captured "
            << show(cap_received[i]);
}

class XsproxyCapture : public ::testing::TestWithParam<xssim_daemon> {};

TEST_P(XsproxyCapture, DifferentialWorkloadDecodedByTsharkFieldByField)
{
    TempDir tmp("xscap");
    const std::string file = tmp.sub("workload.pcap");
    std::vector<TapEntry> tapped;
    std::vector<std::string> log;
    {
        Store store(GetParam(), true);
        ASSERT_TRUE(store.ok());
        RunResult r = store.xsproxyctl({ "capture", "start", file });
        ASSERT_TRUE(r.ok()) << r.err;
        wire_tap = &tapped;
        log = run_standard_workload(store);
        wire_tap = nullptr;
        r = store.xsproxyctl({ "capture", "stop" });
        ASSERT_TRUE(r.ok()) << r.err;
        EXPECT_TRUE(store.proxy_alive()) << store.proxy_log();
    }
    ASSERT_GE(log.size(), 300u);
    std::string err;
    std::vector<Rec> recs = read_capture(file, &err);
    ASSERT_EQ(err, "");
    ASSERT_GE(recs.size(), 600u);

    // 1. the capture holds every message of the test's connections
    std::map<unsigned, std::vector<WireMsg>> ring_sent, ring_recv, cap_ring_sent, cap_ring_recv;
    std::map<const XsConn *, std::pair<std::vector<WireMsg>, std::vector<WireMsg>>> socks;
    std::vector<const XsConn *> sock_order;
    for (const auto &t : tapped) {
        if (t.ring) {
            (t.sent ? ring_sent : ring_recv)[t.domid].push_back(t.m);
        } else {
            if (!socks.count(t.conn))
                sock_order.push_back(t.conn);
            (t.sent ? socks[t.conn].first : socks[t.conn].second).push_back(t.m);
        }
    }
    std::map<uint32_t, std::pair<std::vector<WireMsg>, std::vector<WireMsg>>> cap_conns;
    for (const auto &r : recs) {
        ASSERT_EQ(r.version, 1);
        ASSERT_TRUE(r.source == 1 || r.source == 2) << r.frame;
        ASSERT_TRUE(r.dir == 0 || r.dir == 1) << r.frame;
        if (r.flags & 0x02)
            continue;   // xsproxy's own requests as the domain: nobody's
        if (r.source == 1)
            (r.dir == 0 ? cap_ring_sent : cap_ring_recv)[r.id].push_back(as_seen(r));
        else
            (r.dir == 0 ? cap_conns[r.id].first : cap_conns[r.id].second).push_back(as_seen(r));
    }
    ASSERT_GE(ring_sent.size(), 3u);
    for (const auto &[domid, sent] : ring_sent)
        expect_stream("dom" + std::to_string(domid), sent, ring_recv[domid], cap_ring_sent[domid],
                      cap_ring_recv[domid]);
    ASSERT_GE(sock_order.size(), 2u);
    std::set<uint32_t> matched;
    for (const XsConn *c : sock_order) {
        // the capture's connection numbers are xsproxy's: find the one whose
        // requests are exactly this connection's
        const auto &[sent, received] = socks[c];
        bool found = false;
        for (const auto &[id, cap] : cap_conns) {
            if (matched.count(id) || cap.first.size() != sent.size() ||
                !std::equal(sent.begin(), sent.end(), cap.first.begin(), same_msg))
                continue;
            matched.insert(id);
            found = true;
            expect_stream("conn" + std::to_string(id), sent, received, cap.first, cap.second);
            break;
        }
        ASSERT_TRUE(found) << "no captured connection sent what a test connection sent ("
                           << sent.size() << " requests, the first "
                           << (sent.empty() ? "-" : show(sent[0])) << ")";
    }

    // 2. tshark shows each record's fields as they are in the bytes
    Tshark t = run_tshark(file);
    ASSERT_TRUE(t.ok) << t.err;
    EXPECT_EQ(t.err.find("Lua"), std::string::npos) << t.err;
    ASSERT_EQ(t.rows.size(), recs.size());
    std::map<std::string, size_t> tshark_types, capture_types;
    size_t compared_values = 0, unprintable = 0;
    for (size_t i = 0; i < recs.size(); i++) {
        const Rec &r = recs[i];
        auto &row = t.rows[i];
        const std::string at = "frame " + std::to_string(r.frame) + " (" + show(r.m) + ")";
        ASSERT_EQ(row["frame.number"], std::to_string(r.frame));
        EXPECT_EQ(row["_ws.col.Protocol"], "XENSTORE") << at;
        EXPECT_EQ(row["xenstore.dir"], std::to_string(r.dir)) << at;
        EXPECT_EQ(row["xenstore.source"], std::to_string(r.source)) << at;
        EXPECT_EQ(row[r.source == 1 ? "xenstore.domid" : "xenstore.conn"], std::to_string(r.id))
            << at;
        EXPECT_EQ(row[r.source == 1 ? "xenstore.conn" : "xenstore.domid"], "") << at;
        EXPECT_EQ(row["xenstore.guest_tx"], std::to_string(r.guest_tx)) << at;
        EXPECT_EQ(row["xenstore.type"], std::to_string(r.m.type)) << at;
        EXPECT_EQ(row["xenstore.req_id"], std::to_string(r.m.req_id)) << at;
        EXPECT_EQ(row["xenstore.tx_id"], std::to_string(r.m.tx_id)) << at;
        EXPECT_EQ(row["xenstore.len"], std::to_string(r.m.body.size())) << at;
        tshark_types[row["xenstore.type"] + (r.dir ? "<-" : "->")]++;
        capture_types[std::to_string(r.m.type) + (r.dir ? "<-" : "->")]++;
        for (const auto &[field, want] : expected_parts(r)) {
            std::string shown = row["xenstore." + field];
            if (!std::all_of(want.begin(), want.end(), printable)) {
                unprintable++;   // tshark escapes those: compare the count only
                EXPECT_EQ(split(shown, kAgg).size(), want.empty() ? 1 : want.size()) << at;
                continue;
            }
            EXPECT_EQ(shown, join(want)) << at << " field " << field;
            compared_values++;
        }
    }
    EXPECT_EQ(tshark_types, capture_types);
    EXPECT_GE(tshark_types.size(), 25u);   // the workload uses every operation
    EXPECT_GE(compared_values, 1000u);
    EXPECT_LE(unprintable, compared_values / 10);

    // counts per type of what the test's connections sent equal tshark's
    std::map<uint32_t, size_t> sent_types, shown_types;
    for (const auto &tp : tapped)
        if (tp.sent)
            sent_types[tp.m.type]++;
    for (size_t i = 0; i < recs.size(); i++) {
        const Rec &r = recs[i];
        if (r.dir != 0 || (r.flags & 0x02) || (r.source == 2 && !matched.count(r.id)))
            continue;
        shown_types[(uint32_t)std::stoul(t.rows[i]["xenstore.type"])]++;
    }
    EXPECT_EQ(sent_types, shown_types);

    // 3. pairing: each reply points at the oldest unanswered request of its
    // domain or connection with its req_id, and that request points back
    std::map<std::tuple<int, uint32_t, uint32_t>, std::vector<unsigned>> open;
    size_t paired = 0;
    for (size_t i = 0; i < recs.size(); i++) {
        const Rec &r = recs[i];
        auto key = std::make_tuple((int)r.source, r.id, r.m.req_id);
        const std::string at = "frame " + std::to_string(r.frame) + " (" + show(r.m) + ")";
        if (r.dir == 0) {
            open[key].push_back(r.frame);
            continue;
        }
        if (r.m.type == XS_WATCH_EVENT) {
            EXPECT_EQ(t.rows[i]["xenstore.response_to"], "") << at;
            continue;
        }
        auto &q = open[key];
        if (q.empty() && r.frame == 1 && r.m.type == XS_CONTROL) {
            // `capture start` itself: its request came before the capture
            EXPECT_EQ(t.rows[i]["xenstore.response_to"], "") << at;
            continue;
        }
        ASSERT_FALSE(q.empty()) << at << ": a reply with no request in the capture";
        unsigned req = q.front();
        q.erase(q.begin());
        EXPECT_EQ(t.rows[i]["xenstore.response_to"], std::to_string(req)) << at;
        EXPECT_EQ(t.rows[req - 1]["xenstore.response_in"], std::to_string(r.frame)) << at;
        paired++;
    }
    for (const auto &[key, q] : open)
        for (unsigned f : q)
            EXPECT_EQ(t.rows[f - 1]["xenstore.response_in"], "")
                << "frame " << f << " has no reply in the capture";
    EXPECT_GE(paired, 300u);
}

// Records of one domain or connection, as "dir type req body" lines.
std::vector<std::string> lines(const std::vector<Rec> &recs)
{
    std::vector<std::string> out;
    for (const auto &r : recs)
        out.push_back(std::string(r.source == 1 ? "dom" : "conn") +
                      (r.source == 1 ? std::to_string(r.id) : "") + (r.dir ? " <- " : " -> ") +
                      type_name(r.m.type) + " " + escape(r.m.body));
    return out;
}

std::string joined(const std::vector<std::string> &v)
{
    std::string out;
    for (const auto &l : v)
        out += l + "\n";
    return out;
}

TEST_P(XsproxyCapture, FiltersChosenAtRunTime)
{
    TempDir tmp("xscap");
    const std::string file = tmp.sub("f.pcap");
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(5));
    ASSERT_TRUE(store.create_domain(6));
    auto g5 = store.guest(5), g6 = store.guest(6);
    auto d0 = store.dom0();
    ASSERT_TRUE(g5 && g6 && d0);
    WireMsg rep;
    ASSERT_TRUE(g5->request(XS_WATCH, 0, nul_join({ "data", "tok" }), &rep));
    WireMsg ev;
    ASSERT_EQ(g5->next_event(&ev, 5000), 1);   // the watch's first event
    // only domain 5, only WRITE (with its replies, errors too) and events
    RunResult r = store.xsproxyctl(
        { "capture", "start", file, "dom=5", "conn=none", "type=WRITE,WATCH_EVENT" });
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_NE(r.out.find("filter dom=5 conn=none type=WRITE,WATCH_EVENT size=64M files=4"),
              std::string::npos)
        << r.out;
    ASSERT_TRUE(g5->request(XS_WRITE, 0, std::string("data/a\0one", 10), &rep));
    ASSERT_EQ(g5->next_event(&ev, 5000), 1);
    ASSERT_TRUE(g5->request(XS_WRITE, 0, std::string("/local/domain/0/x\0no", 20), &rep));
    ASSERT_EQ(rep.type, (uint32_t)XS_ERROR);
    ASSERT_TRUE(g5->request(XS_READ, 0, nul_join({ "data/a" }), &rep));
    ASSERT_TRUE(g6->request(XS_WRITE, 0, std::string("data/b\0six", 10), &rep));
    ASSERT_TRUE(d0->request(XS_WRITE, 0, std::string("/tool/x\0zero", 12), &rep));
    // then: everything of domain 6 and of dom0 connections, nothing of 5
    r = store.xsproxyctl({ "capture", "filter", "dom=6", "conn=all", "type=all" });
    ASSERT_TRUE(r.ok()) << r.err;
    ASSERT_TRUE(g5->request(XS_WRITE, 0, std::string("data/a\0two", 10), &rep));
    ASSERT_TRUE(g6->request(XS_READ, 0, nul_join({ "data/b" }), &rep));
    ASSERT_TRUE(d0->request(XS_READ, 0, nul_join({ "/tool/x" }), &rep));
    r = store.xsproxyctl({ "capture", "stop" });
    ASSERT_TRUE(r.ok()) << r.err;
    std::string err;
    auto recs = read_capture(file, &err);
    ASSERT_EQ(err, "");
    // the stop request's own connection is a dom0 connection too: drop
    // xsproxyctl's CONTROL messages, which depend on nothing here
    std::vector<Rec> kept;
    for (const auto &rc : recs)
        if (rc.m.type != XS_CONTROL)
            kept.push_back(rc);
    std::vector<std::string> want = {
        "dom5 -> WRITE data/a\\0one",
        "dom5 <- WRITE OK\\0",
        "dom5 <- WATCH_EVENT data/a\\0tok\\0",
        "dom5 -> WRITE /local/domain/0/x\\0no",
        "dom5 <- ERROR EACCES\\0",
        "dom6 -> READ data/b\\0",
        "dom6 <- READ six",
        "conn -> READ /tool/x\\0",
        "conn <- READ zero",
    };
    // C xenstored sends the event before the WRITE's reply, oxenstored after
    if (GetParam() == XSSIM_XENSTORED)
        std::swap(want[1], want[2]);
    EXPECT_EQ(joined(lines(kept)), joined(want));
}

TEST_P(XsproxyCapture, RotationKeepsAtMostFilesOfAtMostSize)
{
    TempDir tmp("xscap");
    const std::string file = tmp.sub("r.pcap");
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(5));
    auto g5 = store.guest(5);
    ASSERT_TRUE(g5);
    RunResult r = store.xsproxyctl({ "capture", "start", file, "dom=5", "conn=none", "size=8k", "files=3" });
    ASSERT_TRUE(r.ok()) << r.err;
    const int kWrites = 300;   // ~190 bytes a pair: about 7 files' worth
    WireMsg rep;
    for (int i = 0; i < kWrites; i++) {
        std::string body = "data/seq";
        body += '\0';
        body += std::to_string(i) + std::string(100, 'x');
        ASSERT_TRUE(g5->request(XS_WRITE, 0, body, &rep));
        ASSERT_EQ(rep.type, (uint32_t)XS_WRITE);
    }
    r = store.xsproxyctl({ "capture", "status" });
    ASSERT_TRUE(r.ok());
    EXPECT_NE(r.out.find(std::to_string(2 * kWrites) + " messages"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find(" 0 rotations"), std::string::npos) << r.out;
    ASSERT_TRUE(store.xsproxyctl({ "capture", "stop" }).ok());
    EXPECT_FALSE(path_exists(file + ".3"));
    // oldest first: FILE.2, FILE.1, FILE - each a whole capture of at most
    // the size plus the record that crossed it, the writes continuous
    int expect_next = -1;
    size_t total = 0;
    for (const std::string &f : std::vector<std::string>{ file + ".2", file + ".1", file }) {
        ASSERT_TRUE(path_exists(f)) << f;
        EXPECT_LE(read_text(f).size(), 8192u + 16 + 16 + 16 + 4096) << f;
        std::string err;
        auto recs = read_capture(f, &err);
        ASSERT_EQ(err, "") << f;
        ASSERT_FALSE(recs.empty()) << f;
        for (const auto &rc : recs) {
            total++;
            if (rc.dir != 0)
                continue;
            int seq = std::stoi(rc.m.body.substr(9));
            if (expect_next >= 0) {
                EXPECT_EQ(seq, expect_next) << f;
            }
            expect_next = seq + 1;
        }
    }
    EXPECT_EQ(expect_next, kWrites);   // the newest file ends with the last
    EXPECT_GE(total, 60u);             // three files' worth were kept
    EXPECT_LT(total, (size_t)2 * kWrites);
}

TEST_P(XsproxyCapture, BadCaptureRequestsSayWhyAndChangeNothing)
{
    TempDir tmp("xscap");
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    // a file that cannot be written: refused, nothing on
    RunResult r = store.xsproxyctl({ "capture", "start", "/nonexistent/dir/x.pcap" });
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("capture failed"), std::string::npos) << r.err;
    EXPECT_NE(store.proxy_log().find("cannot write /nonexistent/dir/x.pcap"), std::string::npos)
        << store.proxy_log();
    r = store.xsproxyctl({ "capture", "status" });
    EXPECT_EQ(r.out, "capture off\n");
    // a bad filter: xsproxyctl says what is wrong before asking
    r = store.xsproxyctl({ "capture", "start", tmp.sub("y.pcap"), "type=WRTIE" });
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("'WRTIE' is not a message type"), std::string::npos) << r.err;
    EXPECT_FALSE(path_exists(tmp.sub("y.pcap")));
    // ... and xsproxy itself refuses it too (xenstore-control has no check)
    r = store.run({ "xenstore-control", "capture", "start", tmp.sub("y.pcap"), "files=0" });
    EXPECT_NE(r.exit_code, 0);
    EXPECT_FALSE(path_exists(tmp.sub("y.pcap")));
    // a running capture survives a bad start, a bad filter and `filter` alone
    ASSERT_TRUE(store.xsproxyctl({ "capture", "start", tmp.sub("z.pcap"), "dom=3" }).ok());
    EXPECT_NE(store.xsproxyctl({ "capture", "start", "/nonexistent/z.pcap" }).exit_code, 0);
    EXPECT_NE(store.run({ "xenstore-control", "capture", "filter", "dom=x" }).exit_code, 0);
    r = store.xsproxyctl({ "capture", "status" });
    EXPECT_NE(r.out.find("capture " + tmp.sub("z.pcap") + ":"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("filter dom=3 conn=all type=all"), std::string::npos) << r.out;
    EXPECT_NE(store.xsproxyctl({ "capture", "frob" }).exit_code, 0);
    EXPECT_TRUE(store.proxy_alive());
    ASSERT_TRUE(store.xsproxyctl({ "capture", "stop" }).ok());
    EXPECT_NE(store.xsproxyctl({ "capture", "stop" }).exit_code, 0);   // none on
    // bad capture options on xsproxy's command line: exit 2, with the reason
    for (const auto &args : std::vector<std::vector<std::string>>{
             { "--capture-filter", "type=FOO" },
             { "--capture-size", "12" },
             { "--capture-files", "0" },
             { "--capture-filter", "size=1M" } }) {
        std::vector<std::string> argv = { self_dir() + "/xsproxy", "--run-dir", tmp.sub("px") };
        argv.insert(argv.end(), args.begin(), args.end());
        r = run_program(argv);
        EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1];
        EXPECT_NE(r.err.find("xsproxy: " + args[0] + ": capture: "), std::string::npos) << r.err;
    }
    EXPECT_TRUE(store.proxy_alive());
}

// The dissector's own check: synthetic captures with every type, edge
// cases (truncated records, a bad header version, binary values), decoded
// by tshark field by field.
TEST(XsproxyCaptureDissector, SelfTestPasses)
{
    RunResult r = run_program({ "python3", XSPROXY_SOURCE_DIR "/deploy/wireshark/selftest.py",
                                XSPROXY_SOURCE_DIR "/deploy/wireshark/xenstore.lua" },
                              {}, 120000);
    EXPECT_TRUE(r.ok()) << r.out << r.err;
    EXPECT_NE(r.out.find("selftest: ok"), std::string::npos) << r.out;
}

// The names in the Lua table called TABLE, in order: what stands between
// `local TABLE = {` and the next `}`.
std::vector<std::string> lua_names(const std::string &lua, const std::string &table)
{
    std::vector<std::string> names;
    size_t at = lua.find("local " + table + " = {");
    if (at == std::string::npos)
        return names;
    size_t end = lua.find('}', at);
    for (size_t q = lua.find('"', at); q < end; q = lua.find('"', q + 1)) {
        size_t close = lua.find('"', q + 1);
        names.push_back(lua.substr(q + 1, close - q - 1));
        q = close;
    }
    return names;
}

// The dissector keeps its own copy of the type names (it is Lua): the same
// as the C table xsproxy and the tools use, type for type.
TEST(XsproxyCaptureDissector, NamesTheTypesAsTheCTable)
{
    std::ifstream f(XSPROXY_SOURCE_DIR "/deploy/wireshark/xenstore.lua");
    std::stringstream lua;
    lua << f.rdbuf();
    const struct {
        const char *table;
        uint32_t first;
    } ranges[] = { { "XS_TYPES", 0 }, { "XSP_TYPES", XSP_TYPE_BASE + 1 } };
    for (const auto &r : ranges) {
        std::vector<std::string> names = lua_names(lua.str(), r.table);
        ASSERT_FALSE(names.empty()) << r.table;
        for (size_t i = 0; i < names.size(); i++) {
            const char *c = xsp_type_name(r.first + (uint32_t)i);
            EXPECT_EQ(names[i], c ? c : "(none)") << r.table << " " << i;
        }
        EXPECT_EQ(xsp_type_name(r.first + (uint32_t)names.size()), nullptr)
            << r.table << ": the C table names more types";
    }
}

INSTANTIATE_TEST_SUITE_P(Daemons, XsproxyCapture, both_daemons(), DaemonName());

}  // namespace
}  // namespace xstest
