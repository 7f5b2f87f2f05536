// test_proxy_xsa.cc - the guest inputs that Xen's security advisories about
// xenstored fixed (docs/xsa.md), each sent by a guest to each of Debian's
// 4.17 daemons, directly and through xsproxy: the guest gets what the
// table says, the same either way where xsproxy passes the input on, and
// the daemon goes on serving another guest and dom0.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <tuple>

#include "sim_host.h"
#include "workload.h"

namespace xstest {
namespace {

std::string wr(const std::string &path, const std::string &value)
{
    return path + std::string(1, '\0') + value;
}

// What the guest saw of one request: "TYPE body".
std::string ask(RingConn &g, uint32_t type, uint32_t tx, const std::string &body)
{
    WireMsg r;
    if (!g.request(type, tx, body, &r, 3000))
        return "no reply";
    return type_name(r.type) + " " + escape(r.body, 40);
}

// A watch event for PATH within 300 ms: "event" or "no event".
std::string event_for(RingConn &g, const std::string &path)
{
    WireMsg ev;
    while (g.next_event(&ev, 300) == 1)
        if (ev.body.compare(0, path.size() + 1, path + std::string(1, '\0')) == 0)
            return "event";
    return "no event";
}

// XSA-206: guest G writes data/hot in a loop (its own thread) while dom0
// runs transactions that read that node and write one of its own: each
// must commit within 50 tries (EAGAIN, then again), as the fixed daemons
// see to by throttling the writer.  Five transactions.
std::string transactions_under_writes(RingConn &g, Store &s)
{
    std::atomic<bool> stop{ false };
    std::atomic<unsigned> writes{ 0 };
    std::thread writer([&] {
        WireMsg r;
        for (unsigned i = 0; !stop; i++)
            if (g.request(XS_WRITE, 0, wr("data/hot", std::to_string(i)), &r, 3000))
                writes++;
    });
    // the writer is under way before the first transaction starts
    for (int64_t until = mono_ms() + 3000; writes < 20 && mono_ms() < until;)
        sleep_ms(1);
    auto d0 = s.dom0();
    std::string saw = "committed within 50 tries";
    unsigned worst = 0;
    for (int t = 0; t < 5 && d0; t++) {
        unsigned tries = 0;
        for (;;) {
            WireMsg r;
            tries++;
            if (!d0->request(XS_TRANSACTION_START, 0, std::string(1, '\0'), &r, 3000)) {
                saw = "no reply to TRANSACTION_START";
                break;
            }
            uint32_t tx = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
            d0->request(XS_READ, tx, nul_join({ "/local/domain/5/data/hot" }), &r, 3000);
            d0->request(XS_WRITE, tx, wr("/tool/seen", r.body), &r, 3000);
            if (!d0->request(XS_TRANSACTION_END, tx, nul_join({ "T" }), &r, 3000)) {
                saw = "no reply to TRANSACTION_END";
                break;
            }
            if (r.type == XS_TRANSACTION_END)
                break;
            if (r.body != std::string("EAGAIN", 7) || tries == 50) {
                saw = "the transaction ended " + escape(r.body) + " after " +
                      std::to_string(tries) + " tries";
                break;
            }
        }
        worst = std::max(worst, tries);
        if (saw != "committed within 50 tries")
            break;
    }
    stop = true;
    writer.join();
    if (writes < 20)
        return "the writer was not writing (" + std::to_string(writes) + " writes)";
    return saw;
}

// XSA-322, XSA-483: domain 7 writes new nodes until its quota refuses one
// and owns a node dom0 made for it; it is destroyed, and a new domain 7
// comes.  The new one may write as many again (its counts start afresh)
// and cannot read the old one's node (not its owner's any more).
std::string domid_reused(Store &s)
{
    auto d0 = s.dom0();
    WireMsg r;
    auto fill = [&](unsigned domid) {
        auto g = s.guest(domid);
        unsigned ok = 0;
        while (g && ok < 1100 &&
               g->request(XS_WRITE, 0, wr("data/q" + std::to_string(ok), "v"), &r, 3000) &&
               r.type == XS_WRITE)
            ok++;
        return ok;
    };
    if (!d0 || !s.create_domain(7))
        return "domain 7 not made";
    unsigned first = fill(7);
    if (!d0->request(XS_WRITE, 0, wr("/tool/of7", "secret"), &r, 3000) ||
        !d0->request(XS_SET_PERMS, 0, nul_join({ "/tool/of7", "n7" }), &r, 3000) ||
        r.type != XS_SET_PERMS)
        return "SET_PERMS refused: " + escape(r.body);
    if (!s.destroy_domain(7) || !s.create_domain(7))
        return "domain 7 not made again";
    unsigned second = fill(7);
    auto g = s.guest(7);
    if (!g)
        return "no ring for the new domain 7";
    std::string counts = first == second && first > 100 && first < 1100
                             ? "as many new nodes again"
                             : std::to_string(first) + " new nodes, then " +
                                   std::to_string(second);
    return counts + "; " + ask(*g, XS_READ, 0, nul_join({ "/tool/of7" }));
}

// XSA-326, its event flood: the guest watches data/ev and reads nothing
// while dom0 writes that node 1,500 times; then it reads its ring.  "N
// events" (the watch's first event included).
std::string unread_events(RingConn &g, Store &s)
{
    std::string w = ask(g, XS_WATCH, 0, nul_join({ "data/ev", "tok" }));
    auto d0 = s.dom0();
    WireMsg r;
    for (int i = 0; d0 && i < 1500; i++)
        if (!d0->request(XS_WRITE, 0, wr("/local/domain/5/data/ev", std::to_string(i)), &r, 3000))
            return w + "; dom0's write " + std::to_string(i) + " not answered";
    unsigned events = 0;
    WireMsg ev;
    while (g.next_event(&ev, 500) == 1)
        events++;
    // and the guest is served after
    return w + "; " + std::to_string(events) + " events; " +
           ask(g, XS_READ, 0, nul_join({ "data/ev" }));
}

struct Row {
    const char *xsa;
    const char *what;
    // the guest's sequence (dom0 and other guests of the store taking part
    // where the advisory needs them), what it saw
    std::function<std::string(RingConn &g, Store &s)> run;
    const char *oxenstored, *xenstored;   // what the table says it sees
    const char *shadow = nullptr;   // through xsproxy: in `xsproxyctl list 5` after
};

const Row kRows[] = {
    { "XSA-326e", "1,500 watch events the guest does not read, then does",
      [](RingConn &g, Store &s) { return unread_events(g, s); },
      // oxenstored keeps 1,024 events queued (quota-maxwatchevents) beyond
      // the ring's 37; C xenstored keeps none beyond the ring
      "WATCH OK\\0; 1061 events; READ 1499", "WATCH OK\\0; 37 events; READ 1499",
      " watches 1 transactions 0 " },
    { "XSA-322", "a domain id used again: the old one's quota counts and nodes",
      [](RingConn &, Store &s) { return domid_reused(s); },
      "as many new nodes again; ERROR ENOENT\\0", "as many new nodes again; ERROR EACCES\\0" },
    { "XSA-419", "writes outside the guest's home: another guest's, and /tool",
      [](RingConn &g, Store &) {
          return ask(g, XS_WRITE, 0, wr("/local/domain/6/data/x", "v")) + "; " +
                 ask(g, XS_WRITE, 0, wr("/tool/x", "v"));
      },
      "ERROR EACCES\\0; ERROR EACCES\\0", "ERROR EACCES\\0; ERROR EACCES\\0" },
    { "XSA-512", "70 watches, a ring reconnection, three times over: none piles up",
      [](RingConn &g, Store &) {
          std::string saw;
          for (int round = 0; round < 4; round++) {
              unsigned ok = 0;
              for (int i = 0; i < 70; i++)
                  ok += ask(g, XS_WATCH, 0,
                            nul_join({ "data/w" + std::to_string(i), "t" + std::to_string(i) })) ==
                        "WATCH OK\\0";
              saw += std::to_string(ok) + (round < 3 ? " " : "");
              WireMsg ev;
              while (round < 3 && g.next_event(&ev, 50) == 1) {
              }
              // read once served: xsproxy copies the daemon's features to
              // the guest's ring as it relays
              bool offered = __atomic_load_n(&g.ring()->server_features, __ATOMIC_ACQUIRE) &
                             XENSTORE_SERVER_FEATURE_RECONNECTION;
              if (round < 3 && !offered)
                  return saw + "; no ring reconnection offered";
              if (round < 3 && !reconnect_ring(g))
                  return saw + "; the reconnection was not done";
          }
          return saw;
      },
      "70 70 70 70", "70 ; no ring reconnection offered", " watches 70 transactions 0 " },
    { "XSA-206", "writes in a loop to a node dom0's transactions read: they still commit",
      [](RingConn &g, Store &s) { return transactions_under_writes(g, s); },
      "committed within 50 tries", "committed within 50 tries" },
    { "XSA-323", "a relative path of 1025 bytes (oxenstored's quota-path-max 1024)",
      [](RingConn &g, Store &) { return ask(g, XS_WRITE, 0, wr("data/" + std::string(1020, 'p'), "v")); },
      "ERROR EINVAL\\0", "WRITE OK\\0" },
    { "XSA-324", "a watch whose events exceed the 4096-byte payload",
      [](RingConn &g, Store &) {
          std::string w = ask(g, XS_WATCH, 0,
                              std::string("data/w") + '\0' + std::string(3900, 't') + '\0');
          std::string first = event_for(g, "data/w");
          std::string child = "data/w/" + std::string(250, 'c');
          std::string wrote = ask(g, XS_WRITE, 0, wr(child, "v"));
          return w + "; " + first + "; " + wrote + "; " + event_for(g, child);
      },
      "WATCH OK\\0; event; WRITE OK\\0; no event", "WATCH OK\\0; event; WRITE OK\\0; no event",
      " watches 1 transactions 0 " },
    { "XSA-481", "a path ending in /",
      [](RingConn &g, Store &) { return ask(g, XS_READ, 0, nul_join({ "/local/domain/" })); },
      "ERROR EINVAL\\0", "ERROR EINVAL\\0" },
    { "XSA-484", "RESET_WATCHES inside a transaction",
      [](RingConn &g, Store &) {
          WireMsg r;
          if (!g.request(XS_TRANSACTION_START, 0, std::string(1, '\0'), &r))
              return std::string("no reply");
          uint32_t tx = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
          std::string w = ask(g, XS_WATCH, 0, nul_join({ "data/x", "tok" }));
          event_for(g, "data/x");
          std::string reset = ask(g, XS_RESET_WATCHES, tx, "");
          std::string end = ask(g, XS_TRANSACTION_END, tx, nul_join({ "T" }));
          std::string wrote = ask(g, XS_WRITE, 0, wr("data/x", "1"));
          return w + "; " + reset + "; " + end + "; " + wrote + "; " + event_for(g, "data/x");
      },
      "WATCH OK\\0; RESET_WATCHES OK\\0; ERROR EIO\\0; WRITE OK\\0; no event",
      "WATCH OK\\0; RESET_WATCHES OK\\0; ERROR ENOENT\\0; WRITE OK\\0; no event",
      " watches 0 transactions 0 " },
    { "XSA-415", "nodes past the domain's node quota, outside and inside a transaction",
      [](RingConn &g, Store &) {
          std::vector<WireMsg> reqs, reps;
          for (int i = 0; i < 1100; i++)
              reqs.push_back(WireMsg{ XS_WRITE, 0, 0, wr("data/q" + std::to_string(i), "v") });
          std::string err;
          if (!pipeline(g, reqs, &reps, 8, &err))
              return err;
          std::string first = "no quota";
          for (const auto &r : reps)
              if (r.type == XS_ERROR) {
                  first = "ERROR " + escape(r.body, 40);
                  break;
              }
          WireMsg r;
          if (!g.request(XS_TRANSACTION_START, 0, std::string(1, '\0'), &r))
              return std::string("no reply");
          uint32_t tx = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
          std::string deep = ask(g, XS_WRITE, tx, wr("data/t/a/b/c", "v"));
          std::string end = ask(g, XS_TRANSACTION_END, tx, nul_join({ "T" }));
          std::string after = ask(g, XS_READ, 0, nul_join({ "data/t/a/b/c" }));
          return first + "; " + deep + "; " + end + "; " + after;
      },
      "ERROR EQUOTA\\0; ERROR EQUOTA\\0; TRANSACTION_END OK\\0; ERROR ENOENT\\0",
      "ERROR ENOSPC\\0; ERROR ENOSPC\\0; ERROR ENOMEM\\0; ERROR ENOENT\\0" },
    { "XSA-326", "40 requests sent before any reply is read, the replies 4 times the ring",
      [](RingConn &g, Store &) {
          std::string wrote = ask(g, XS_WRITE, 0, wr("data/x", std::string(100, 'x')));
          for (uint32_t id = 1000; id < 1040; id++)
              if (!g.send(WireMsg{ XS_READ, id, 0, nul_join({ "data/x" }) }))
                  return std::string("cannot send");
          sleep_ms(200);   // the daemon meets a full response ring meanwhile
          unsigned in_order = 0;
          WireMsg r;
          while (in_order < 40 && g.recv(&r, 3000) == 1)
              if (r.type == XS_READ && r.req_id == 1000 + in_order && r.body.size() == 100)
                  in_order++;
          return wrote + "; " + std::to_string(in_order) + " replies in order";
      },
      "WRITE OK\\0; 40 replies in order", "WRITE OK\\0; 40 replies in order" },
    { "XSA-418", "a chain of 500 nodes, then RM of its top",
      [](RingConn &g, Store &) {
          std::string deep = "data/a";
          for (int i = 1; i < 500; i++)
              deep += "/a";
          return ask(g, XS_WRITE, 0, wr(deep, "v")) + "; " +
                 ask(g, XS_RM, 0, nul_join({ "data/a" })) + "; " +
                 ask(g, XS_READ, 0, nul_join({ deep }));
      },
      "WRITE OK\\0; RM OK\\0; ERROR ENOENT\\0", "WRITE OK\\0; RM OK\\0; ERROR ENOENT\\0" },
    { "XSA-353", "a write to the root node",
      [](RingConn &g, Store &) { return ask(g, XS_WRITE, 0, wr("/", "x")); }, "ERROR EACCES\\0",
      "ERROR EACCES\\0" },
    { "XSA-115", "IS_DOMAIN_INTRODUCED from a guest",
      [](RingConn &g, Store &) { return ask(g, XS_IS_DOMAIN_INTRODUCED, 0, nul_join({ "0" })); },
      "ERROR EACCES\\0", "ERROR EACCES\\0" },
};

using Case = std::tuple<xssim_daemon, bool, size_t>;   // daemon, through xsproxy, row

class XsaRow : public ::testing::TestWithParam<Case> {};

// Another guest and dom0 are served: the daemon lives and serves.
void expect_others_served(Store &store)
{
    auto other = store.guest(6);
    ASSERT_TRUE(other);
    WireMsg r;
    ASSERT_TRUE(other->request(XS_WRITE, 0, wr("data/alive", "1"), &r, 3000));
    EXPECT_EQ((uint32_t)XS_WRITE, r.type) << escape(r.body);
    auto d0 = store.dom0();
    ASSERT_TRUE(d0);
    ASSERT_TRUE(d0->request(XS_READ, 0, nul_join({ "/local/domain/6/data/alive" }), &r, 3000));
    EXPECT_EQ("1", r.body);
}

TEST_P(XsaRow, TheGuestGetsWhatTheTableSaysAndOthersAreServed)
{
    auto [daemon, proxied, i] = GetParam();
    const Row &row = kRows[i];
    SCOPED_TRACE(std::string(row.xsa) + ": " + row.what);
    Store store(daemon, proxied);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(5) && store.create_domain(6));
    auto g = store.guest(5);
    ASSERT_TRUE(g);
    std::string saw = row.run(*g, store);
    EXPECT_EQ(daemon == XSSIM_OXENSTORED ? row.oxenstored : row.xenstored, saw);
    ASSERT_NO_FATAL_FAILURE(expect_others_served(store));
    if (proxied) {
        EXPECT_TRUE(store.proxy_alive()) << store.proxy_log();
        RunResult l = store.xsproxyctl({ "list", "5" });
        if (row.shadow) {
            EXPECT_NE(std::string::npos, l.out.find(row.shadow)) << l.out;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    Advisories, XsaRow,
    ::testing::Combine(::testing::Values(XSSIM_OXENSTORED, XSSIM_XENSTORED),
                       ::testing::Bool(),
                       ::testing::Range<size_t>(0, sizeof(kRows) / sizeof(kRows[0]))),
    [](const auto &info) {
        return std::string(kRows[std::get<2>(info.param)].xsa).replace(3, 1, "") + "_" +
               xssim_daemon_name(std::get<0>(info.param)) +
               (std::get<1>(info.param) ? "_proxied" : "_direct");
    });

}  // namespace
}  // namespace xstest
