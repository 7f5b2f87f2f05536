// test_dom0.cc - dom0 on each daemon over the sim's socket: libxenstore
// (write/read/directory/rm/perms/watch/transactions) and the stock
// xenstore-* tools (write, read, ls, list, rm, chmod, exists, watch -n).
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include <xenstore.h>
}

#include "sim_host.h"

namespace xstest {
namespace {

constexpr int kWaitMs = 5000;

// A libxenstore handle closed at scope exit.
struct Xs {
    struct xs_handle *h = nullptr;
    explicit Xs(struct xs_handle *x) : h(x) {}
    ~Xs()
    {
        if (h)
            xs_close(h);
    }
    operator struct xs_handle *() const { return h; }
};

// The value at PATH, or "<ERRNO-NAME>" on failure.
std::string read_or_error(struct xs_handle *xs, xs_transaction_t t, const char *path)
{
    unsigned len = 0;
    char *v = static_cast<char *>(xs_read(xs, t, path, &len));
    if (!v)
        return std::string("<") + xs_errno_name(errno) + ">";
    std::string s(v, len);
    free(v);
    return s;
}

std::set<std::string> directory(struct xs_handle *xs, const char *path)
{
    unsigned n = 0;
    char **d = xs_directory(xs, XBT_NULL, path, &n);
    std::set<std::string> out;
    if (!d)
        return { std::string("<") + xs_errno_name(errno) + ">" };
    for (unsigned i = 0; i < n; i++)
        out.insert(d[i]);
    free(d);
    return out;
}

// The next watch event {path, token}, or {} after TIMEOUT_MS.
std::vector<std::string> next_watch(struct xs_handle *xs, int timeout_ms = kWaitMs)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        char **v = xs_check_watch(xs);
        if (v) {
            std::vector<std::string> ev = { v[XS_WATCH_PATH], v[XS_WATCH_TOKEN] };
            free(v);
            return ev;
        }
        if (errno != EAGAIN)
            return {};
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0)
            return {};
        struct pollfd p = { xs_fileno(xs), POLLIN, 0 };
        poll(&p, 1, (int)left);
    }
}

using Dom0 = DaemonTest;

TEST_P(Dom0, WriteReadDirectoryRm)
{
    Xs xs(host().xs_open());
    ASSERT_TRUE(xs.h);
    ASSERT_TRUE(xs_write(xs, XBT_NULL, "/test/a", "hello", 5)) << strerror(errno);
    EXPECT_EQ(read_or_error(xs, XBT_NULL, "/test/a"), "hello");
    // binary values and empty values survive
    const char bin[] = { 'x', '\0', 'y', '\n' };
    ASSERT_TRUE(xs_write(xs, XBT_NULL, "/test/bin", bin, sizeof(bin)));
    EXPECT_EQ(read_or_error(xs, XBT_NULL, "/test/bin"), std::string(bin, sizeof(bin)));
    ASSERT_TRUE(xs_write(xs, XBT_NULL, "/test/empty", "", 0));
    EXPECT_EQ(read_or_error(xs, XBT_NULL, "/test/empty"), "");
    // overwrite
    ASSERT_TRUE(xs_write(xs, XBT_NULL, "/test/a", "bye", 3));
    EXPECT_EQ(read_or_error(xs, XBT_NULL, "/test/a"), "bye");

    // a write makes the missing parents
    ASSERT_TRUE(xs_write(xs, XBT_NULL, "/test/d/x", "1", 1));
    ASSERT_TRUE(xs_write(xs, XBT_NULL, "/test/d/y", "2", 1));
    ASSERT_TRUE(xs_mkdir(xs, XBT_NULL, "/test/d/z"));
    EXPECT_EQ(directory(xs, "/test/d"), (std::set<std::string>{ "x", "y", "z" }));
    EXPECT_EQ(directory(xs, "/test"), (std::set<std::string>{ "a", "bin", "d", "empty" }));
    EXPECT_EQ(read_or_error(xs, XBT_NULL, "/test/d/z"), "");

    EXPECT_EQ(read_or_error(xs, XBT_NULL, "/test/missing"), "<ENOENT>");
    EXPECT_EQ(directory(xs, "/test/missing"), (std::set<std::string>{ "<ENOENT>" }));

    ASSERT_TRUE(xs_rm(xs, XBT_NULL, "/test/d/x"));
    EXPECT_EQ(directory(xs, "/test/d"), (std::set<std::string>{ "y", "z" }));
    ASSERT_TRUE(xs_rm(xs, XBT_NULL, "/test/d"));   // removes the subtree
    EXPECT_EQ(read_or_error(xs, XBT_NULL, "/test/d/y"), "<ENOENT>");
    EXPECT_EQ(directory(xs, "/test"), (std::set<std::string>{ "a", "bin", "empty" }));

    // another connection sees the same store
    Xs other(host().xs_open());
    ASSERT_TRUE(other.h);
    EXPECT_EQ(read_or_error(other, XBT_NULL, "/test/a"), "bye");
}

TEST_P(Dom0, Permissions)
{
    Xs xs(host().xs_open());
    ASSERT_TRUE(xs.h);
    ASSERT_TRUE(xs_write(xs, XBT_NULL, "/test/p", "v", 1));
    unsigned n = 0;
    struct xs_permissions *got = xs_get_permissions(xs, XBT_NULL, "/test/p", &n);
    ASSERT_NE(got, nullptr) << strerror(errno);
    ASSERT_EQ(n, 1u);
    EXPECT_EQ(got[0].id, 0u);   // dom0 owns what it made
    free(got);

    struct xs_permissions set[3] = {
        { 0, XS_PERM_NONE }, { 3, XS_PERM_READ }, { 4, XS_PERM_READ | XS_PERM_WRITE }
    };
    ASSERT_TRUE(xs_set_permissions(xs, XBT_NULL, "/test/p", set, 3)) << strerror(errno);
    got = xs_get_permissions(xs, XBT_NULL, "/test/p", &n);
    ASSERT_NE(got, nullptr);
    ASSERT_EQ(n, 3u);
    for (unsigned i = 0; i < 3; i++) {
        EXPECT_EQ(got[i].id, set[i].id) << i;
        EXPECT_EQ(got[i].perms, set[i].perms) << i;
    }
    free(got);
    // children inherit the parent's permissions
    ASSERT_TRUE(xs_write(xs, XBT_NULL, "/test/p/child", "c", 1));
    got = xs_get_permissions(xs, XBT_NULL, "/test/p/child", &n);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(n, 3u);
    free(got);
    EXPECT_EQ(xs_get_permissions(xs, XBT_NULL, "/test/missing", &n), nullptr);
    EXPECT_EQ(errno, ENOENT);
}

TEST_P(Dom0, Watch)
{
    Xs xs(host().xs_open()), writer(host().xs_open());
    ASSERT_TRUE(xs.h && writer.h);
    ASSERT_TRUE(xs_watch(xs, "/test/w", "tok")) << strerror(errno);
    // a watch fires once when it is registered
    EXPECT_EQ(next_watch(xs), (std::vector<std::string>{ "/test/w", "tok" }));
    ASSERT_TRUE(xs_write(writer, XBT_NULL, "/test/w/c", "1", 1));
    EXPECT_EQ(next_watch(xs), (std::vector<std::string>{ "/test/w/c", "tok" }));
    // writes elsewhere do not fire it
    ASSERT_TRUE(xs_write(writer, XBT_NULL, "/test/other", "1", 1));
    EXPECT_EQ(next_watch(xs, 200), std::vector<std::string>{});
    ASSERT_TRUE(xs_rm(writer, XBT_NULL, "/test/w/c"));
    EXPECT_EQ(next_watch(xs), (std::vector<std::string>{ "/test/w/c", "tok" }));
    ASSERT_TRUE(xs_unwatch(xs, "/test/w", "tok"));
    ASSERT_TRUE(xs_write(writer, XBT_NULL, "/test/w/d", "1", 1));
    EXPECT_EQ(next_watch(xs, 200), std::vector<std::string>{});
}

TEST_P(Dom0, Transactions)
{
    Xs xs(host().xs_open()), other(host().xs_open());
    ASSERT_TRUE(xs.h && other.h);
    ASSERT_TRUE(xs_write(xs, XBT_NULL, "/test/t/base", "0", 1));

    xs_transaction_t t = xs_transaction_start(xs);
    ASSERT_NE(t, XBT_NULL) << strerror(errno);
    ASSERT_TRUE(xs_write(xs, t, "/test/t/new", "1", 1));
    EXPECT_EQ(read_or_error(xs, t, "/test/t/new"), "1");
    // not visible outside until it commits
    EXPECT_EQ(read_or_error(other, XBT_NULL, "/test/t/new"), "<ENOENT>");
    ASSERT_TRUE(xs_transaction_end(xs, t, false)) << strerror(errno);
    EXPECT_EQ(read_or_error(other, XBT_NULL, "/test/t/new"), "1");

    // an aborted transaction leaves nothing
    t = xs_transaction_start(xs);
    ASSERT_NE(t, XBT_NULL);
    ASSERT_TRUE(xs_write(xs, t, "/test/t/aborted", "1", 1));
    ASSERT_TRUE(xs_rm(xs, t, "/test/t/base"));
    ASSERT_TRUE(xs_transaction_end(xs, t, true));
    EXPECT_EQ(read_or_error(other, XBT_NULL, "/test/t/aborted"), "<ENOENT>");
    EXPECT_EQ(read_or_error(other, XBT_NULL, "/test/t/base"), "0");

    // a conflicting change from outside makes the commit fail with EAGAIN
    t = xs_transaction_start(xs);
    ASSERT_NE(t, XBT_NULL);
    EXPECT_EQ(read_or_error(xs, t, "/test/t/base"), "0");
    ASSERT_TRUE(xs_write(xs, t, "/test/t/base", "1", 1));
    ASSERT_TRUE(xs_write(other, XBT_NULL, "/test/t/base", "2", 1));
    EXPECT_FALSE(xs_transaction_end(xs, t, false));
    EXPECT_EQ(errno, EAGAIN);
    EXPECT_EQ(read_or_error(other, XBT_NULL, "/test/t/base"), "2");
}

// ---- the stock tools ---------------------------------------------------------

TEST_P(Dom0, ToolsWriteReadExistsListLsRm)
{
    RunResult r = host().run({ "xenstore-write", "/tt/t/a", "1", "/tt/t/b", "two words" });
    ASSERT_TRUE(r.ok()) << r.err;
    r = host().run({ "xenstore-read", "/tt/t/a", "/tt/t/b" });
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_EQ(r.out, "1\ntwo words\n");

    EXPECT_EQ(host().run({ "xenstore-exists", "/tt/t/a" }).exit_code, 0);
    EXPECT_EQ(host().run({ "xenstore-exists", "/tt/t/nope" }).exit_code, 1);
    r = host().run({ "xenstore-read", "/tt/t/nope" });
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("/tt/t/nope"), std::string::npos) << r.err;

    r = host().run({ "xenstore-list", "/tt/t" });
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_EQ(r.out, "a\nb\n");
    r = host().run({ "xenstore-ls", "/tt" });
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_EQ(r.out, "t = \"\"\n a = \"1\"\n b = \"two words\"\n");
    r = host().run({ "xenstore-ls", "-f", "/tt" });
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_EQ(r.out, "/tt/t = \"\"\n/tt/t/a = \"1\"\n/tt/t/b = \"two words\"\n");

    r = host().run({ "xenstore-rm", "/tt/t/a" });
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_EQ(host().run({ "xenstore-exists", "/tt/t/a" }).exit_code, 1);
    r = host().run({ "xenstore-list", "/tt/t" });
    EXPECT_EQ(r.out, "b\n");

    // what the tools wrote, libxenstore reads
    Xs xs(host().xs_open());
    ASSERT_TRUE(xs.h);
    EXPECT_EQ(read_or_error(xs, XBT_NULL, "/tt/t/b"), "two words");
}

TEST_P(Dom0, ToolsChmod)
{
    ASSERT_TRUE(host().run({ "xenstore-write", "/tool/c", "v" }).ok());
    RunResult r = host().run({ "xenstore-chmod", "/tool/c", "n0", "r5", "w6", "b7" });
    ASSERT_TRUE(r.ok()) << r.err;
    Xs xs(host().xs_open());
    ASSERT_TRUE(xs.h);
    unsigned n = 0;
    struct xs_permissions *p = xs_get_permissions(xs, XBT_NULL, "/tool/c", &n);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(n, 4u);
    EXPECT_EQ(p[0].id, 0u);
    EXPECT_EQ(p[0].perms, XS_PERM_NONE);
    EXPECT_EQ(p[1].id, 5u);
    EXPECT_EQ(p[1].perms, XS_PERM_READ);
    EXPECT_EQ(p[2].id, 6u);
    EXPECT_EQ(p[2].perms, XS_PERM_WRITE);
    EXPECT_EQ(p[3].id, 7u);
    EXPECT_EQ(p[3].perms, XS_PERM_READ | XS_PERM_WRITE);
    free(p);
    r = host().run({ "xenstore-ls", "-p", "/tool" });
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_NE(r.out.find("(n0,r5,w6,b7)"), std::string::npos) << r.out;
}

TEST_P(Dom0, ToolsWatch)
{
    Child w = host().spawn({ "xenstore-watch", "-n", "2", "/tool/w" });
    ASSERT_GT(w.pid, 0);
    // wait for the registration event before causing the second one
    std::string first;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
    while (first.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        struct pollfd p = { w.out_fd, POLLIN, 0 };
        if (poll(&p, 1, 100) > 0) {
            char c;
            if (read(w.out_fd, &c, 1) != 1)
                break;
            first += c;
        }
    }
    EXPECT_EQ(first, "/tool/w\n");
    RunResult wr = host().run({ "xenstore-write", "/tool/w/x", "1" });
    EXPECT_TRUE(wr.ok()) << wr.err;
    RunResult r = finish_program(w, kWaitMs);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "/tool/w/x\n");
}

INSTANTIATE_TEST_SUITE_P(Daemons, Dom0, both_daemons(), DaemonName());

}  // namespace
}  // namespace xstest
