/*
 * fuzz_claim.c - libFuzzer target for the live-switch protocol's texts
 * (shim/claim.c), which cross from one process to another: xsproxy writes
 * claims and reads answers, the shim inside xenstored does the reverse.
 *
 * The first input byte chooses what the rest is (NUL-terminated by the
 * target):
 *   even: a shim's answer.  switch_answer_parse either refuses it with a
 *         reason or gives an answer whose fields are in range (a prefix of
 *         the reply's first bytes, or its header alone; pending lines
 *         within the bound, payloads within XENSTORE_PAYLOAD_MAX), which
 *         switch_answer_format writes as a text that parses back to the
 *         same answer.
 *   odd:  a claim.  claim_parse takes anything; a claim with a page and a
 *         port formats to a text that parses back to the same claim.
 * Any violation abort()s; ASan/UBSan/LSan report the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claim.h"
#include "fuzz_check.h"

static bool same_answer(const struct switch_answer *a, const struct switch_answer *b)
{
    if (a->kind != b->kind || strcmp(a->reason, b->reason) || a->already != b->already ||
        a->guessed != b->guessed || a->req_prod != b->req_prod || a->rsp_prod != b->rsp_prod ||
        a->port != b->port || a->req_cons != b->req_cons || a->req_part != b->req_part ||
        a->rsp_part != b->rsp_part || a->rsp_prefix_len != b->rsp_prefix_len ||
        memcmp(a->rsp_prefix, b->rsp_prefix, a->rsp_prefix_len) ||
        a->nr_pending != b->nr_pending)
        return false;
    return memcmp(a->pending, b->pending, a->nr_pending * sizeof(a->pending[0])) == 0;
}

static void answer(const char *text)
{
    static struct switch_answer a, b;
    static char out[SWITCH_ANSWER_TEXT_MAX];
    char err[128] = "";
    if (switch_answer_parse(text, &a, err, sizeof(err)) < 0) {
        CHECK(err[0]);
        return;
    }
    CHECK(a.kind >= SWITCH_SHADOW && a.kind <= SWITCH_ERROR);
    CHECK(a.req_part <= XENSTORE_RING_SIZE);
    CHECK(a.rsp_prefix_len <= SWITCH_PREFIX_MAX && a.rsp_prefix_len <= a.rsp_part);
    CHECK(a.rsp_prefix_len == a.rsp_part || a.rsp_prefix_len == sizeof(struct xsd_sockmsg));
    CHECK(a.nr_pending <= SWITCH_PENDING_MAX);
    for (unsigned i = 0; i < a.nr_pending; i++)
        CHECK(a.pending[i].len <= XENSTORE_PAYLOAD_MAX);
    int n = switch_answer_format(&a, out, sizeof(out));
    CHECK(n > 0 && (size_t)n < sizeof(out));
    CHECK(switch_answer_parse(out, &b, err, sizeof(err)) == 0);
    CHECK(same_answer(&a, &b));
}

static void claim(const char *text)
{
    struct claim c, back;
    claim_parse(text, &c);
    CHECK(strlen(c.page) < sizeof(c.page));
    CHECK(c.live >= CLAIM_LIVE_NONE && c.live <= CLAIM_LIVE_BAD);
    CHECK(!(c.bad_port && c.port));
    if (!c.page[0] || !c.port || strchr(c.page, '\n') || c.live == CLAIM_LIVE_BAD)
        return;
    char out[CLAIM_PATH_MAX + 64];
    CHECK(claim_format(&c, out, sizeof(out)) > 0);
    claim_parse(out, &back);
    CHECK(strcmp(back.page, c.page) == 0 && back.port == c.port && back.live == c.live);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] % 2 == 0)
        answer(text);
    else
        claim(text);
    free(text);
    return 0;
}
