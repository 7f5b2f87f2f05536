// test_proxy_tools.cc - stock Xen tools through xsproxy's socket: Xen's
// test-xenstore passes, the xenstore-* commands print the same as directly,
// and xenstore-control (the 4.17 binary, not the /usr/bin wrapper that wants
// a hypervisor) shows xenstored's commands plus xsproxy's and drives
// `list` and `trace` (one line per message, checked field by field).
#include <gtest/gtest.h>

#include <poll.h>
#include <unistd.h>

#include <regex>
#include <sstream>

#include "sim_host.h"
#include "workload.h"

namespace xstest {
namespace {

const char *const kXenBin = "/usr/lib/xen-4.17/bin";

std::string tool(const std::string &name)
{
    return std::string(kXenBin) + "/" + name;
}

std::vector<std::string> lines_of(const std::string &s)
{
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}

class XsproxyTools : public ::testing::TestWithParam<xssim_daemon> {};

TEST_P(XsproxyTools, TestXenstorePassesThroughTheProxy)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    RunResult r = store.run({ tool("test-xenstore"), "-i", "3" }, 60000);
    EXPECT_TRUE(r.ok()) << "exit " << r.exit_code << " signal " << r.term_signal << "\n"
                        << r.out << r.err << store.proxy_log();
    // every test ran (one result line each)
    RunResult list = store.run({ tool("test-xenstore"), "-l" });
    ASSERT_TRUE(list.ok());
    size_t tests = lines_of(list.out).size();
    EXPECT_GE(tests, 10u);
    EXPECT_EQ(tests, lines_of(r.out).size()) << r.out;
    // random operations for a while too
    r = store.run({ tool("test-xenstore"), "-r", "1" }, 60000);
    EXPECT_TRUE(r.ok()) << r.out << r.err;
    EXPECT_TRUE(store.proxy_alive()) << store.proxy_log();
}

// A watcher: `xenstore-watch -n N PATH`, started and known to be registered
// (its first line, the registration event, has been printed).
struct Watcher {
    Child child;
    std::string seen;
    bool start(Store &store, int n, const std::string &path)
    {
        child = spawn_program({ "xenstore-watch", "-n", std::to_string(n), path }, store.env());
        if (child.pid < 0)
            return false;
        int64_t deadline = mono_ms() + 5000;
        while (seen.find('\n') == std::string::npos && mono_ms() < deadline) {
            struct pollfd p = { child.out_fd, POLLIN, 0 };
            if (poll(&p, 1, 100) > 0) {
                char b[256];
                ssize_t got = read(child.out_fd, b, sizeof(b));
                if (got <= 0)
                    break;
                seen.append(b, (size_t)got);
            }
        }
        return seen.find('\n') != std::string::npos;
    }
    std::string finish()
    {
        RunResult r = finish_program(child, 5000);
        return seen + r.out + (r.timed_out ? "(timed out)" : "");
    }
};

std::vector<std::string> tool_session(Store &store)
{
    std::vector<std::string> log;
    if (!store.ok() || !store.create_domain(1) || !store.create_domain(2))
        return { "setup failed" };
    auto run = [&](const std::vector<std::string> &argv) {
        RunResult r = store.run(argv);
        std::string cmd;
        for (const auto &a : argv)
            cmd += a + " ";
        log.push_back("$ " + cmd + "=> exit " + std::to_string(r.exit_code) +
                      (r.timed_out ? " (timed out)" : ""));
        for (const auto &l : lines_of(r.out))
            log.push_back("  out: " + l);
        for (const auto &l : lines_of(r.err))
            log.push_back("  err: " + l);
    };
    Watcher w;
    if (!w.start(store, 6, "/tool"))
        log.push_back("watcher did not start");
    run({ "xenstore-write", "/tool/a", "1", "/tool/b", "two words", "/tool/c/d", "deep" });
    run({ "xenstore-read", "/tool/a", "/tool/b" });
    run({ "xenstore-read", "-p", "/tool/c/d" });
    run({ "xenstore-read", "/tool/missing" });
    run({ "xenstore-exists", "/tool/a" });
    run({ "xenstore-exists", "/tool/missing" });
    run({ "xenstore-ls", "/tool" });
    run({ "xenstore-ls", "-p", "/tool" });
    run({ "xenstore-ls", "-f", "/local/domain/1" });
    run({ "xenstore-ls", "/nonexistent" });
    run({ "xenstore-list", "/tool" });
    run({ "xenstore-list", "-p", "/local/domain" });
    run({ "xenstore-chmod", "/tool/a", "n0", "r1", "w2" });
    run({ "xenstore-chmod", "-r", "/tool/c", "b1" });
    run({ "xenstore-chmod", "/tool/a", "q7" });
    run({ "xenstore-ls", "-p", "/tool" });
    run({ "xenstore-rm", "/tool/b" });
    run({ "xenstore-rm", "-t", "/tool/c/d" });
    run({ "xenstore-list", "/tool" });
    run({ "xenstore-rm", "/tool/missing" });
    run({ "xenstore-write", "/tool/e", "" });
    run({ "xenstore-read", "/tool/e" });
    run({ "xenstore", "read", "/tool/a" });
    run({ "xenstore", "ls", "/local/domain/2" });
    std::string watched = w.finish();
    for (const auto &l : lines_of(watched))
        log.push_back("  watch: " + l);
    return log;
}

TEST_P(XsproxyTools, StockToolsPrintTheSameAsDirectly)
{
    std::vector<std::string> direct, proxied;
    ASSERT_NO_FATAL_FAILURE(run_direct_and_proxied(GetParam(), tool_session, &direct, &proxied));
    if (getenv("XSTEST_VERBOSE"))
        for (const auto &l : direct)
            std::cout << l << "\n";
    EXPECT_GE(direct.size(), 60u);
    size_t watch_lines = 0;
    for (const auto &l : direct)
        watch_lines += l.rfind("  watch: ", 0) == 0;
    EXPECT_EQ(6u, watch_lines) << "xenstore-watch -n 6 saw its events";
    EXPECT_EQ("", first_difference(direct, proxied));
}

TEST_P(XsproxyTools, XenstoreControlHelpListsDaemonAndProxyCommands)
{
    RunResult direct_help;
    {
        Store store(GetParam(), false);
        ASSERT_TRUE(store.ok());
        direct_help = store.run({ tool("xenstore-control"), "help" });
    }
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    RunResult help = store.run({ tool("xenstore-control"), "help" });
    ASSERT_TRUE(help.ok()) << help.err << store.proxy_log();
    if (getenv("XSTEST_VERBOSE"))
        std::cout << help.out;
    // xenstored's own answer first, unchanged
    std::string daemon_part = direct_help.out;
    while (!daemon_part.empty() && (daemon_part.back() == '\n' || daemon_part.back() == '\0'))
        daemon_part.pop_back();
    EXPECT_EQ(0u, help.out.find(daemon_part)) << "direct:\n" << direct_help.out << "\nproxied:\n"
                                              << help.out;
    // then xsproxy's commands
    std::string extra = help.out.substr(std::min(help.out.size(), daemon_part.size()));
    for (const char *cmd : { "insert", "remove", "list", "trace" })
        EXPECT_NE(std::string::npos, extra.find(std::string("\n") + cmd + " ")) << extra;
    EXPECT_EQ(direct_help.exit_code, help.exit_code);
}

TEST_P(XsproxyTools, XenstoreControlListAndTrace)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(3));
    ASSERT_TRUE(store.create_domain(4));
    RunResult l = store.run({ tool("xenstore-control"), "list" });
    ASSERT_TRUE(l.ok()) << l.err;
    EXPECT_NE(std::string::npos, l.out.find("domain 3 active")) << l.out;
    EXPECT_NE(std::string::npos, l.out.find("domain 4 active")) << l.out;
    l = store.run({ tool("xenstore-control"), "list", "3" });
    ASSERT_TRUE(l.ok()) << l.err;
    EXPECT_NE(std::string::npos, l.out.find("watches 0")) << l.out;

    std::string file = store.dir() + "/trace3.log";
    RunResult t = store.run({ tool("xenstore-control"), "trace", "3", "on", file });
    ASSERT_TRUE(t.ok()) << t.out << t.err;
    auto g = store.guest(3);
    ASSERT_TRUE(g);
    // each of these is one request and one reply; the WATCH and the WRITE
    // each bring one event too
    WireMsg r;
    unsigned messages = 0;
    auto req = [&](uint32_t type, uint32_t tx, const std::string &body) {
        ASSERT_TRUE(g->request(type, tx, body, &r)) << g->error();
        messages += 2;
    };
    WireMsg ev;
    // (each step's event is awaited before the next request, so that the
    // trace's order does not depend on timing)
    req(XS_WATCH, 0, nul_join({ "data", "tk" }));
    messages++;
    ASSERT_EQ(1, g->next_event(&ev, 3000));
    req(XS_TRANSACTION_START, 0, nul_join({ "" }));
    uint32_t tx = (uint32_t)strtoul(r.body.c_str(), nullptr, 10);
    ASSERT_NE(0u, tx);
    req(XS_WRITE, tx, nul_join({ "data/q" }) + "say \"hi\"\\\n\x01");
    req(XS_TRANSACTION_END, tx, nul_join({ "T" }));
    messages++;
    ASSERT_EQ(1, g->next_event(&ev, 3000));
    req(XS_READ, 0, nul_join({ "/local/domain/4/data" }));   // EACCES
    // the list shows the watch now
    l = store.run({ tool("xenstore-control"), "list", "3" });
    EXPECT_NE(std::string::npos, l.out.find("watch data tk")) << l.out;
    t = store.run({ tool("xenstore-control"), "trace", "3", "off" });
    EXPECT_TRUE(t.ok()) << t.err;
    req(XS_READ, 0, nul_join({ "domid" }));   // not traced

    std::vector<std::string> lines = lines_of(read_text(file));
    EXPECT_EQ(messages - 2, lines.size()) << read_text(file);
    // 2026-11-22T08:00:01.123456 dom3 -> WRITE req 7 tx 3/9 len 9 "data/x\0001"
    std::regex line_re(
        R"re(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6} dom3 (->|<-) ([A-Z_]+) req (\d+) tx (\d+)/(\d+) len (\d+) "(([^"\\]|\\.)*)"$)re");
    std::vector<std::string> types;
    for (const auto &line : lines) {
        std::smatch m;
        ASSERT_TRUE(std::regex_match(line, m, line_re)) << line;
        types.push_back(m[1].str() + " " + m[2].str());
        // the escaped payload has exactly `len` bytes
        std::string p = m[7].str();
        size_t n = 0;
        for (size_t i = 0; i < p.size(); i++, n++)
            if (p[i] == '\\')
                i += (p[i + 1] >= '0' && p[i + 1] <= '7') ? 3 : 1;
        EXPECT_EQ(std::stoul(m[6].str()), n) << line;
        if (m[2].str() == "WRITE" && m[1].str() == "->") {
            EXPECT_EQ(std::to_string(tx), m[4].str()) << "the guest's tx id: " << line;
            EXPECT_NE(std::string::npos, line.find(R"(data/q\000say \"hi\"\\\012\001")"))
                << line;
        }
    }
    std::vector<std::string> want = {
        "-> WATCH", "<- WATCH", "<- WATCH_EVENT", "-> TRANSACTION_START", "<- TRANSACTION_START",
        "-> WRITE", "<- WRITE", "-> TRANSACTION_END", "<- WATCH_EVENT", "<- TRANSACTION_END",
        "-> READ", "<- ERROR",
    };
    // C xenstored sends a commit's events before its reply, oxenstored after
    if (types.size() == want.size() && types[8] == "<- TRANSACTION_END")
        std::swap(want[8], want[9]);
    EXPECT_EQ(want, types);

    // dom0 sockets can be traced as well
    std::string sfile = store.dir() + "/trace-sockets.log";
    ASSERT_TRUE(store.xsproxyctl({ "trace", "sockets", "on", sfile }).ok());
    store.run({ "xenstore-read", "/local/domain/3/domid" });
    ASSERT_TRUE(store.xsproxyctl({ "trace", "sockets", "off" }).ok());
    std::string st = read_text(sfile);
    EXPECT_NE(std::string::npos, st.find(R"(-> READ req )")) << st;
    EXPECT_NE(std::string::npos, st.find(R"("/local/domain/3/domid\000")")) << st;
    EXPECT_NE(std::string::npos, st.find(R"(<- READ req )")) << st;

    // errors: no such domain, bad arguments
    EXPECT_FALSE(store.run({ tool("xenstore-control"), "trace", "99", "on" }).ok());
    EXPECT_FALSE(store.run({ tool("xenstore-control"), "trace", "3", "sideways" }).ok());
    EXPECT_FALSE(store.run({ tool("xenstore-control"), "list", "99" }).ok());
    EXPECT_TRUE(store.proxy_alive());
}

INSTANTIATE_TEST_SUITE_P(Daemons, XsproxyTools, both_daemons(), DaemonName());

}  // namespace
}  // namespace xstest
