// test_proxy_xsa.cc - the guest inputs that Xen's security advisories about
// xenstored fixed (docs/xsa.md), each sent by a guest to each of Debian's
// 4.17 daemons, directly and through xsproxy: the guest gets what the
// table says, the same either way where xsproxy passes the input on, and
// the daemon goes on serving another guest and dom0.
#include <gtest/gtest.h>

#include <functional>
#include <string>
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

struct Row {
    const char *xsa;
    const char *what;
    // the guest's sequence, what it saw
    std::function<std::string(RingConn &g)> run;
    const char *oxenstored, *xenstored;   // what the table says it sees
    const char *shadow = nullptr;   // through xsproxy: in `xsproxyctl list 5` after
};

const Row kRows[] = {
    { "XSA-323", "a relative path of 1025 bytes (oxenstored's quota-path-max 1024)",
      [](RingConn &g) { return ask(g, XS_WRITE, 0, wr("data/" + std::string(1020, 'p'), "v")); },
      "ERROR EINVAL\\0", "WRITE OK\\0" },
    { "XSA-324", "a watch whose events exceed the 4096-byte payload",
      [](RingConn &g) {
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
      [](RingConn &g) { return ask(g, XS_READ, 0, nul_join({ "/local/domain/" })); },
      "ERROR EINVAL\\0", "ERROR EINVAL\\0" },
    { "XSA-484", "RESET_WATCHES inside a transaction",
      [](RingConn &g) {
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
      [](RingConn &g) {
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
      [](RingConn &g) {
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
      [](RingConn &g) {
          std::string deep = "data/a";
          for (int i = 1; i < 500; i++)
              deep += "/a";
          return ask(g, XS_WRITE, 0, wr(deep, "v")) + "; " +
                 ask(g, XS_RM, 0, nul_join({ "data/a" })) + "; " +
                 ask(g, XS_READ, 0, nul_join({ deep }));
      },
      "WRITE OK\\0; RM OK\\0; ERROR ENOENT\\0", "WRITE OK\\0; RM OK\\0; ERROR ENOENT\\0" },
    { "XSA-353", "a write to the root node",
      [](RingConn &g) { return ask(g, XS_WRITE, 0, wr("/", "x")); }, "ERROR EACCES\\0",
      "ERROR EACCES\\0" },
    { "XSA-115", "IS_DOMAIN_INTRODUCED from a guest",
      [](RingConn &g) { return ask(g, XS_IS_DOMAIN_INTRODUCED, 0, nul_join({ "0" })); },
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
    std::string saw = row.run(*g);
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
