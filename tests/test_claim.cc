// The live-switch protocol between xsproxy and the shim (shim/claim.c): a
// claim's text, the shim's answer's text, both ways, and what a damaged
// text is taken for; the files in a claims directory.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstring>
#include <string>

extern "C" {
#include "claim.h"
}

#include "sim_host.h"

namespace {

using xstest::read_text;
using xstest::TempDir;

TEST(Claim, TextRoundTrips)
{
    struct claim c = {};
    strcpy(c.page, "/run/xsproxy/shadow/dom5");
    c.port = 17;
    for (enum claim_live live : { CLAIM_LIVE_NONE, CLAIM_LIVE_IN, CLAIM_LIVE_BACK }) {
        c.live = live;
        char buf[512];
        ASSERT_GT(claim_format(&c, buf, sizeof(buf)), 0);
        struct claim back;
        claim_parse(buf, &back);
        EXPECT_STREQ(back.page, c.page);
        EXPECT_EQ(back.port, 17u);
        EXPECT_EQ(back.live, live);
        EXPECT_FALSE(back.bad_port);
    }
    char small[8];
    EXPECT_EQ(claim_format(&c, small, sizeof(small)), -1);
}

TEST(Claim, WhatIsMalformedShowsInTheFields)
{
    struct claim c;
    claim_parse("page=/p\nport=12x\nlive=maybe\n", &c);
    EXPECT_STREQ(c.page, "/p");
    EXPECT_EQ(c.port, 0u);
    EXPECT_TRUE(c.bad_port);
    EXPECT_EQ(c.live, CLAIM_LIVE_BAD);
    claim_parse("port=0\n", &c);
    EXPECT_TRUE(c.bad_port);
    claim_parse("port=4294967296\n", &c);
    EXPECT_TRUE(c.bad_port);
    claim_parse("port=-1\n", &c);
    EXPECT_TRUE(c.bad_port);
    claim_parse("nothing here", &c);
    EXPECT_STREQ(c.page, "");
    EXPECT_EQ(c.port, 0u);
    EXPECT_EQ(c.live, CLAIM_LIVE_NONE);
}

struct switch_answer full_answer()
{
    struct switch_answer a = {};
    a.kind = SWITCH_SHADOW;
    a.req_prod = 4000000000u;
    a.rsp_prod = 77;
    a.port = 9;
    a.req_cons = 3999999990u;
    a.req_part = 5;
    a.rsp_part = 20;
    a.rsp_prefix_len = 20;
    for (unsigned i = 0; i < 20; i++)
        a.rsp_prefix[i] = (uint8_t)(i * 13);
    a.nr_pending = 2;
    a.pending[0] = { XS_WRITE, 1, 0, 12, 3999999970u };
    a.pending[1] = { XS_WATCH, 2, 5, 7, 3999999998u };
    return a;
}

TEST(SwitchAnswer, EveryKindRoundTrips)
{
    std::vector<struct switch_answer> answers;
    answers.push_back(full_answer());
    struct switch_answer a = {};
    a.kind = SWITCH_DIRECT;
    answers.push_back(a);
    a.kind = SWITCH_SHADOW;
    a.already = true;
    answers.push_back(a);
    a = {};
    a.kind = SWITCH_BUSY;
    strcpy(a.reason, "the daemon has taken part of a request");
    answers.push_back(a);
    a.kind = SWITCH_ERROR;
    strcpy(a.reason, "cannot open the shadow page /x: No such file or directory");
    answers.push_back(a);
    a = full_answer();
    a.guessed = true;
    a.rsp_part = 3000;   // longer than a ring: its header alone
    a.rsp_prefix_len = sizeof(xsd_sockmsg);
    answers.push_back(a);
    for (const auto &want : answers) {
        std::vector<char> text(SWITCH_ANSWER_TEXT_MAX);
        ASSERT_GT(switch_answer_format(&want, text.data(), text.size()), 0);
        struct switch_answer got;
        char err[128] = "";
        ASSERT_EQ(switch_answer_parse(text.data(), &got, err, sizeof(err)), 0)
            << err << "\n" << text.data();
        EXPECT_EQ(got.kind, want.kind);
        EXPECT_STREQ(got.reason, want.reason);
        EXPECT_EQ(got.already, want.already);
        EXPECT_EQ(got.guessed, want.guessed);
        EXPECT_EQ(got.req_prod, want.req_prod);
        EXPECT_EQ(got.rsp_prod, want.rsp_prod);
        EXPECT_EQ(got.port, want.port);
        EXPECT_EQ(got.req_cons, want.req_cons);
        EXPECT_EQ(got.req_part, want.req_part);
        EXPECT_EQ(got.rsp_part, want.rsp_part);
        ASSERT_EQ(got.rsp_prefix_len, want.rsp_prefix_len);
        EXPECT_EQ(memcmp(got.rsp_prefix, want.rsp_prefix, got.rsp_prefix_len), 0);
        ASSERT_EQ(got.nr_pending, want.nr_pending);
        for (unsigned i = 0; i < got.nr_pending; i++) {
            EXPECT_EQ(got.pending[i].type, want.pending[i].type);
            EXPECT_EQ(got.pending[i].req_id, want.pending[i].req_id);
            EXPECT_EQ(got.pending[i].tx_id, want.pending[i].tx_id);
            EXPECT_EQ(got.pending[i].len, want.pending[i].len);
            EXPECT_EQ(got.pending[i].start, want.pending[i].start);
        }
    }
    // the first line says the positions, as the shim always wrote them
    std::vector<char> text(SWITCH_ANSWER_TEXT_MAX);
    struct switch_answer f = full_answer();
    switch_answer_format(&f, text.data(), text.size());
    EXPECT_EQ(std::string(text.data()).substr(0, std::string(text.data()).find('\n')),
              "shadow req_prod=4000000000 rsp_prod=77 port=9");
}

TEST(SwitchAnswer, WhatIsNotAnAnswerIsRefused)
{
    const char *bad[] = {
        "",
        "maybe\n",
        "shadowy\n",
        "shadow req_prod=1\n",
        "shadow req_prod=1 rsp_prod=2 port=3\n",   // the second line is missing
        "shadow req_prod=1 rsp_prod=2 port=3\nreq_cons=1 req_part=0 rsp_part=0\n",
        "shadow req_prod=1 rsp_prod=2 port=3\nreq_cons=1 req_part=0 rsp_part=2\nrsp_prefix=ab\n",
        "shadow req_prod=1 rsp_prod=2 port=3\nreq_cons=1 req_part=0 rsp_part=0\nrsp_prefix=a\n",
        "shadow req_prod=1 rsp_prod=2 port=3\nreq_cons=1 req_part=0 rsp_part=0\nrsp_prefix=\n"
        "pending 1 2 3\n",
        "shadow req_prod=1 rsp_prod=2 port=3\nreq_cons=1 req_part=0 rsp_part=0\nrsp_prefix=\n"
        "pending 1 2 3 5000 4\n",   // longer than a payload can be
        "shadow req_prod=1 rsp_prod=2 port=3\nreq_cons=1 req_part=2000 rsp_part=0\n"
        "rsp_prefix=\n",            // more of a request than a ring holds
        "shadow req_prod=1 rsp_prod=2 port=3\nreq_cons=1 req_part=0 rsp_part=0\nrsp_prefix=\n"
        "something else\n",
        "direct and more\n",
        "busy\n",
        "busy first\nsecond\n",
    };
    for (const char *text : bad) {
        struct switch_answer a;
        char err[128] = "";
        EXPECT_EQ(switch_answer_parse(text, &a, err, sizeof(err)), -1) << text;
        EXPECT_STRNE(err, "") << text;
    }
}

TEST(ClaimFiles, WrittenReadAndAskedFor)
{
    TempDir dir("xsclaim");
    struct claim c = {};
    strcpy(c.page, "/somewhere/dom5");
    c.port = 3;
    c.live = CLAIM_LIVE_IN;
    // no claim: nothing to ask for
    errno = 0;
    EXPECT_EQ(claim_request_switch(dir.path().c_str(), 5), -1);
    EXPECT_EQ(errno, ENOENT);
    ASSERT_EQ(claim_write(dir.path().c_str(), 5, &c), 0);
    EXPECT_EQ(read_text(dir.sub("5")), "page=/somewhere/dom5\nport=3\nlive=1\n");
    struct claim back;
    ASSERT_EQ(claim_read(dir.path().c_str(), 5, &back), 0);
    EXPECT_EQ(back.live, CLAIM_LIVE_IN);
    // an answer there is the last request's: asking again removes it
    struct switch_answer a = {};
    a.kind = SWITCH_DIRECT;
    ASSERT_EQ(switch_answer_write(dir.path().c_str(), 5, &a), 0);
    struct switch_answer got;
    EXPECT_EQ(switch_answer_read(dir.path().c_str(), 5, &got), 1);
    EXPECT_EQ(got.kind, SWITCH_DIRECT);
    ASSERT_EQ(claim_request_switch(dir.path().c_str(), 5), 0);
    EXPECT_EQ(switch_answer_read(dir.path().c_str(), 5, &got), 0);
    // the wake-up port: as written, and nothing else taken for it
    uint32_t port;
    int pid;
    errno = 0;
    EXPECT_EQ(wake_read(dir.path().c_str(), &port, &pid), -1);
    EXPECT_EQ(errno, ENOENT);
    ASSERT_EQ(wake_write(dir.path().c_str(), 17, 4242), 0);
    EXPECT_EQ(read_text(dir.sub(".wake")), "port=17\npid=4242\n");
    ASSERT_EQ(wake_read(dir.path().c_str(), &port, &pid), 0);
    EXPECT_EQ(port, 17u);
    EXPECT_EQ(pid, 4242);
    for (const char *bad : { "port=0\npid=1\n", "port=3\n", "port=3\npid=1\nmore", "pid=1\n" }) {
        FILE *w = fopen(dir.sub(".wake").c_str(), "w");
        fputs(bad, w);
        fclose(w);
        errno = 0;
        EXPECT_EQ(wake_read(dir.path().c_str(), &port, &pid), -1) << bad;
        EXPECT_EQ(errno, EBADMSG) << bad;
    }
    // a damaged answer is an error, not an answer
    FILE *f = fopen(dir.sub("5.state").c_str(), "w");
    fputs("shadow req_prod=x\n", f);
    fclose(f);
    errno = 0;
    EXPECT_EQ(switch_answer_read(dir.path().c_str(), 5, &got), -1);
    EXPECT_EQ(errno, EBADMSG);
}

}  // namespace
