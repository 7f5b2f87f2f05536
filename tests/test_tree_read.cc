// test_tree_read - proxy/tree_read.c, the reads a save makes of a
// domain's subtree: what it asks, in what order, and what the answers
// (in any order, errors, lists in parts, bad ones) do to it.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

extern "C" {
#include "tree_read.h"
#include <xen/io/xs_wire.h>
}

namespace {

struct Ask {
    uint32_t tag, type;
    std::string path, arg;
};

// Every request it has to give now.
std::vector<Ask> drain(struct tree_read *t)
{
    std::vector<Ask> out;
    uint32_t tag, type;
    const char *path, *arg;
    while (tree_read_next(t, &tag, &type, &path, &arg))
        out.push_back({ tag, type, path, arg ? arg : "" });
    return out;
}

int answer(struct tree_read *t, uint32_t tag, uint32_t type, const std::string &body)
{
    return tree_read_answer(t, tag, type, (const uint8_t *)body.data(), (uint32_t)body.size());
}

// A store: path -> value, children, perms (as GET_PERMS answers them).
struct Node {
    std::string value, children, perms;
};

// Answer every request from STORE, last asked first; the result of each.
bool answer_all(struct tree_read *t, std::map<std::string, Node> &store)
{
    for (;;) {
        std::vector<Ask> asks = drain(t);
        if (asks.empty())
            return tree_read_done(t);
        for (auto it = asks.rbegin(); it != asks.rend(); ++it) {
            const Node &n = store[it->path];
            const std::string &body = it->type == XS_READ ? n.value
                                    : it->type == XS_GET_PERMS ? n.perms : n.children;
            if (answer(t, it->tag, it->type, body) < 0)
                return false;
        }
    }
}

TEST(TreeRead, AsksThreeThingsOfEachNodeAndKeepsParentsFirstWhateverTheOrder)
{
    std::map<std::string, Node> store = {
        { "/local/domain/5", { "", std::string("a\0b\0", 4), std::string("n0\0r5\0", 6) } },
        { "/local/domain/5/a", { "va", std::string("c\0", 2), std::string("b5\0", 3) } },
        { "/local/domain/5/b", { std::string("v\0b", 3), "", std::string("w5\0", 3) } },
        { "/local/domain/5/a/c", { "vc", "", std::string("n5\0r0\0", 6) } },
    };
    struct tree_read t;
    ASSERT_EQ(tree_read_init(&t, "/local/domain/5"), 0);
    std::vector<Ask> first = drain(&t);
    ASSERT_EQ(first.size(), 3u);
    EXPECT_EQ(first[0].type, (uint32_t)XS_READ);
    EXPECT_EQ(first[1].type, (uint32_t)XS_GET_PERMS);
    EXPECT_EQ(first[2].type, (uint32_t)XS_DIRECTORY);
    EXPECT_FALSE(tree_read_done(&t));
    // the listing first: the children are asked for before the value came
    ASSERT_EQ(answer(&t, first[2].tag, XS_DIRECTORY, store["/local/domain/5"].children), 0);
    ASSERT_EQ(answer(&t, first[0].tag, XS_READ, ""), 0);
    ASSERT_EQ(answer(&t, first[1].tag, XS_GET_PERMS, store["/local/domain/5"].perms), 0);
    ASSERT_TRUE(answer_all(&t, store)) << t.error;
    ASSERT_EQ(t.nnodes, 4u);
    std::vector<std::string> paths;
    for (size_t i = 0; i < t.nnodes; i++)
        paths.push_back(t.nodes[i].path);
    EXPECT_EQ(paths, (std::vector<std::string>{ "/local/domain/5", "/local/domain/5/a",
                                                "/local/domain/5/b", "/local/domain/5/a/c" }));
    EXPECT_EQ(std::string((char *)t.nodes[2].value, t.nodes[2].value_len), std::string("v\0b", 3));
    ASSERT_EQ(t.nodes[0].nperms, 2u);
    EXPECT_EQ(t.nodes[0].perms[0].perm, 'n');
    EXPECT_EQ(t.nodes[0].perms[1].perm, 'r');
    EXPECT_EQ(t.nodes[0].perms[1].domid, 5u);
    EXPECT_EQ(t.nodes[3].depth, 2u);
    tree_read_free(&t);
}

TEST(TreeRead, AnErrorAnswerFailsWithItsName)
{
    struct tree_read t;
    ASSERT_EQ(tree_read_init(&t, "/local/domain/5"), 0);
    std::vector<Ask> a = drain(&t);
    ASSERT_EQ(answer(&t, a[0].tag, XS_ERROR, std::string("ENOENT\0", 7)), -1);
    EXPECT_STREQ(t.error, "ENOENT");
    tree_read_free(&t);
}

TEST(TreeRead, ALongListComesInPartsOfOneGeneration)
{
    struct tree_read t;
    ASSERT_EQ(tree_read_init(&t, "/d"), 0);
    std::vector<Ask> a = drain(&t);
    ASSERT_EQ(answer(&t, a[0].tag, XS_READ, ""), 0);
    ASSERT_EQ(answer(&t, a[1].tag, XS_GET_PERMS, std::string("n0\0", 3)), 0);
    // too long for one reply: as libxenstore does, DIRECTORY_PART from 0
    ASSERT_EQ(answer(&t, a[2].tag, XS_ERROR, std::string("E2BIG\0", 6)), 0);
    std::vector<Ask> p = drain(&t);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].type, (uint32_t)XS_DIRECTORY_PART);
    EXPECT_EQ(p[0].arg, "0");
    ASSERT_EQ(answer(&t, p[0].tag, XS_DIRECTORY_PART, std::string("7\0x\0yy\0", 7)), 0);
    p = drain(&t);
    // the children found so far, and the next part from byte 5
    ASSERT_EQ(p.size(), 7u);
    EXPECT_EQ(p[0].type, (uint32_t)XS_DIRECTORY_PART);
    EXPECT_EQ(p[0].arg, "5");
    // the last part ends in one more NUL
    ASSERT_EQ(answer(&t, p[0].tag, XS_DIRECTORY_PART, std::string("7\0z\0\0", 5)), 0);
    EXPECT_EQ(t.nnodes, 4u);
    EXPECT_EQ(std::string(t.nodes[3].path), "/d/z");
    // a part of another generation: the list changed, start again
    struct tree_read u;
    ASSERT_EQ(tree_read_init(&u, "/d"), 0);
    a = drain(&u);
    ASSERT_EQ(answer(&u, a[2].tag, XS_ERROR, std::string("E2BIG\0", 6)), 0);
    p = drain(&u);
    ASSERT_EQ(answer(&u, p[0].tag, XS_DIRECTORY_PART, std::string("7\0x\0", 4)), 0);
    p = drain(&u);
    ASSERT_EQ(answer(&u, p[0].tag, XS_DIRECTORY_PART, std::string("8\0z\0\0", 5)), -1);
    EXPECT_STREQ(u.error, "EAGAIN");
    tree_read_free(&t);
    tree_read_free(&u);
}

TEST(TreeRead, BadAnswersAreRefusedAndChangeNothingElse)
{
    struct tree_read t;
    ASSERT_EQ(tree_read_init(&t, "/d"), 0);
    std::vector<Ask> a = drain(&t);
    EXPECT_EQ(answer(&t, 99, XS_READ, "x"), -1);   // never asked
    EXPECT_STREQ(t.error, "EPROTO");
    ASSERT_EQ(answer(&t, a[0].tag, XS_READ, "v"), 0);
    EXPECT_EQ(answer(&t, a[0].tag, XS_READ, "v"), -1);   // twice
    EXPECT_EQ(answer(&t, a[1].tag, XS_READ, "v"), -1);   // the wrong type
    EXPECT_EQ(answer(&t, a[1].tag, XS_GET_PERMS, std::string("q5\0", 3)), -1);
    EXPECT_EQ(answer(&t, a[1].tag, XS_GET_PERMS, std::string("r70000\0", 7)), -1);
    EXPECT_EQ(answer(&t, a[1].tag, XS_GET_PERMS, std::string("n", 1)), -1);   // no NUL, short
    EXPECT_EQ(answer(&t, a[2].tag, XS_DIRECTORY, std::string("a/b\0", 4)), -1);
    EXPECT_STREQ(t.error, "EPROTO");
    EXPECT_EQ(t.nnodes, 1u);
    EXPECT_FALSE(tree_read_done(&t));
    tree_read_free(&t);
}

TEST(TreeRead, ATreeDeeperThanTheLimitIsRefused)
{
    struct tree_read t;
    ASSERT_EQ(tree_read_init(&t, "/d"), 0);
    int rc = 0;
    for (unsigned depth = 0; rc == 0 && depth <= TREE_MAX_DEPTH; depth++) {
        for (const Ask &a : drain(&t)) {
            std::string body = a.type == XS_GET_PERMS ? std::string("n0\0", 3)
                             : a.type == XS_DIRECTORY ? std::string("x\0", 2) : "";
            if ((rc = answer(&t, a.tag, a.type, body)) < 0)
                break;
        }
    }
    EXPECT_EQ(rc, -1);
    EXPECT_STREQ(t.error, "ELOOP");
    EXPECT_EQ(t.nnodes, (size_t)TREE_MAX_DEPTH + 1);
    tree_read_free(&t);
}

}  // namespace
