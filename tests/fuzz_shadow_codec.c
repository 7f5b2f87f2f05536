/*
 * fuzz_shadow_codec.c - libFuzzer target for proxy/shadow_codec.c: any
 * input goes to shadow_decode_apart (the whole state, or all but the watch
 * list), and what it refuses to shadow_decode_watches (the list alone).
 * Build with clang (tests/fuzz.cmake); run: fuzz_shadow_codec [corpus].
 *
 * Checked for every input:
 *  - a refused input leaves the shadow exactly as shadow_init made it and
 *    says why;
 *  - a decoded one encodes back to the very bytes it took (the format has
 *    one encoding per state), and is a shadow shadow.c can use: the rest of
 *    the input, after the encoding, is a script of operations on it
 *    (below), with the shadow's invariants checked after each, ending in
 *    shadow_clear with nothing left allocated (LeakSanitizer).
 *
 * Script: one byte per operation (mod 8) and its arguments:
 *   0 OK to the oldest request (a START gets an id: [id])
 *   1 an error to it ([which])
 *   2 a reply to it streamed: header first, then the whole ([length])
 *   3 every replay request there is to send
 *   4 a guest request ([type][tx: one of the shadow's, or raw][len]bytes)
 *   5 describe, and a watch page ([buffer length])
 *   6 encode (whole, or in two parts: [which]), decode into a new shadow
 *     and go on with that one
 *   7 xenstored lost, or live insertion's flags ([which])
 * Any violation abort()s; ASan/UBSan/LSan report the rest.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "shadow.h"
#include "fuzz_check.h"

struct in {
    const uint8_t *p, *end;
};

static uint8_t u8(struct in *in) { return in->p < in->end ? *in->p++ : 0; }

static bool is_empty(const struct shadow *s)
{
    static const struct shadow zero;
    return memcmp(s, &zero, sizeof(zero)) == 0;
}

/* What shadow.c keeps true, and what the decoder promised. */
static void check_shadow(const struct shadow *s)
{
    unsigned n = 0;
    for (const struct shadow_watch *w = s->watches; w; w = w->next, n++)
        CHECK(w->path && w->token);
    CHECK(n == s->nr_watches);
    n = 0;
    for (const struct shadow_tx *t = s->txs; t; t = t->next, n++) {
        for (const struct shadow_tx *u = t->next; u; u = u->next)
            CHECK(u->guest_id != t->guest_id);
        CHECK(t->nops <= t->cap_ops);
        CHECK(!t->log_cut || t->nops == 0);
        size_t sum = 0;
        for (unsigned i = 0; i < t->nops; i++) {
            CHECK(t->ops[i].req && t->ops[i].rsp);
            sum += t->ops[i].req_len + t->ops[i].rsp_len;
        }
        /* the payloads, and what shadow.c charges per operation besides */
        CHECK(sum <= t->log_bytes && t->log_bytes <= SHADOW_TX_LOG_MAX);
        CHECK(t->nops || !t->log_bytes);
        CHECK(!t->replaying || t->replay_next < t->nops);
    }
    CHECK(n == s->nr_txs);
    CHECK(s->q_len <= s->q_cap && (s->q_cap == 0 || s->q_head < s->q_cap));
    for (unsigned i = 0; i < s->q_len; i++) {
        const struct inflight *f = shadow_inflight_at(s, i);
        CHECK(!f->watch_path == !f->watch_token);
    }
}

/* Decode BUF into a fresh *S; true when taken, checking both verdicts. */
static bool decode(struct shadow *s, const uint8_t *buf, size_t len, size_t *used)
{
    char err[160];
    memset(err, 'x', sizeof(err));
    shadow_init(s);
    bool apart = false;
    int rc = shadow_decode_apart(s, buf, len, used, &apart, err, sizeof(err));
    CHECK(rc == 0 || rc == -1);
    CHECK(memchr(err, 0, sizeof(err)));
    if (rc < 0) {
        CHECK(err[0] != '\0');
        CHECK(is_empty(s));
        return false;
    }
    CHECK(*used <= len);
    /* one encoding per state: it writes back to what it took */
    uint8_t *out = NULL;
    size_t olen = 0, cap = 0;
    CHECK((apart ? shadow_encode_apart : shadow_encode)(s, &out, &olen, &cap) == 0);
    CHECK(olen == *used && memcmp(out, buf, olen) == 0);
    free(out);
    CHECK(!apart || !s->watches);
    check_shadow(s);
    return true;
}

/* BUF as a watch list alone: refused with a reason and no watch left, or
 * taken and written back to the very same bytes. */
static void decode_watches(const uint8_t *buf, size_t len)
{
    struct shadow s;
    shadow_init(&s);
    char err[160];
    memset(err, 'x', sizeof(err));
    int rc = shadow_decode_watches(&s, buf, len, err, sizeof(err));
    CHECK(memchr(err, 0, sizeof(err)));
    if (rc < 0) {
        CHECK(rc == -1 && err[0] != '\0' && is_empty(&s));
    } else {
        CHECK(rc == 0);
        uint8_t *out = NULL;
        size_t olen = 0, cap = 0;
        CHECK(shadow_encode_watches(&s, &out, &olen, &cap) == 0);
        CHECK(olen == len && memcmp(out, buf, olen) == 0);
        free(out);
        check_shadow(&s);
    }
    shadow_clear(&s);
}

static const char *const errors[] = { "EINVAL", "EAGAIN", "EIO", "ENOENT", "EACCES", "E2BIG" };

static void reply(struct shadow *s, struct in *in, unsigned how, struct msg *m)
{
    const struct inflight *f = shadow_inflight_at(s, 0);
    uint32_t type = f ? f->type : XS_READ, req_id = f ? f->req_id : 0;
    uint32_t tx = f ? f->guest_tx : 0;
    if (how == 1) {
        const char *e = errors[u8(in) % (sizeof(errors) / sizeof(errors[0]))];
        msg_build(m, XS_ERROR, req_id, tx, e, (uint32_t)strlen(e) + 1);
    } else if (how == 0 && type == XS_TRANSACTION_START) {
        char id[16];
        int n = snprintf(id, sizeof(id), "%u", u8(in));
        msg_build(m, type, req_id, tx, id, (uint32_t)n + 1);
    } else if (how == 0) {
        msg_build(m, type, req_id, tx, "OK", 3);
    } else {
        static uint8_t body[XENSTORE_PAYLOAD_MAX];
        uint32_t len = (uint32_t)u8(in) * 16;
        memset(body, 'v', len);
        msg_build(m, type, req_id, tx, body, len);
    }
    if (how == 2) {
        uint32_t wire = m->got;
        m->got = MSG_HDR_LEN;
        shadow_on_reply(s, m);
        m->got = wire;
        shadow_on_streamed_end(s, m);
    } else {
        shadow_on_reply(s, m);
    }
}

static void request(struct shadow *s, struct in *in, struct msg *m)
{
    uint32_t type = u8(in) % 32;
    uint8_t b = u8(in);
    uint32_t tx = b & 0x7f;
    if ((b & 0x80) && s->nr_txs) {   /* one of the shadow's */
        const struct shadow_tx *t = s->txs;
        for (unsigned k = tx % s->nr_txs; k; k--)
            t = t->next;
        tx = t->guest_id;
    }
    uint8_t body[256];
    uint32_t len = u8(in);
    for (uint32_t i = 0; i < len; i++)
        body[i] = u8(in);
    msg_build(m, type, 1, tx, body, len);
    shadow_on_request(s, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct shadow s;
    size_t used = 0;
    if (!decode(&s, data, size, &used)) {
        decode_watches(data, size);
        return 0;
    }
    struct msg *m = calloc(1, sizeof(*m));
    CHECK(m);
    struct in in = { data + used, data + size };
    uint32_t next_id = 0x10000;
    while (in.p < in.end) {
        unsigned op = u8(&in) % 8;
        switch (op) {
        case 0: case 1: case 2:
            reply(&s, &in, op, m);
            break;
        case 3:
            while (shadow_next_replay(&s, m, next_id)) {
                CHECK(m->hdr.req_id == next_id && m->hdr.tx_id != 0);
                next_id++;
            }
            break;
        case 4:
            request(&s, &in, m);
            break;
        case 5: {
            char text[512];
            shadow_describe(&s, text, 1 + u8(&in) * 2);
            shadow_watch_page(&s, 0, text, 1 + u8(&in) * 2);
            break;
        }
        case 6: {
            uint8_t *buf = NULL, *wbuf = NULL;
            size_t len = 0, cap = 0, took = 0, wlen = 0, wcap = 0;
            bool parts = u8(&in) & 1;
            CHECK((parts ? shadow_encode_apart : shadow_encode)(&s, &buf, &len, &cap) == 0);
            struct shadow t;
            CHECK(decode(&t, buf, len, &took) && took == len);
            if (parts) {
                char err[160];
                CHECK(shadow_encode_watches(&s, &wbuf, &wlen, &wcap) == 0);
                CHECK(shadow_decode_watches(&t, wbuf, wlen, err, sizeof(err)) == 0);
                CHECK(t.nr_watches == s.nr_watches && t.watch_gencnt == s.watch_gencnt);
                free(wbuf);
            }
            free(buf);
            shadow_clear(&s);
            s = t;
            break;
        }
        default: {
            uint8_t f = u8(&in);
            if (f & 4)
                shadow_backend_lost(&s);
            s.adopt_unknown_tx = f & 1;
            s.incomplete = f & 2;
            break;
        }
        }
        check_shadow(&s);
    }
    shadow_clear(&s);
    free(m);
    return 0;
}
