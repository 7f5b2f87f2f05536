/*
 * shadow_codec.c - a shadow (shadow.h) as bytes and back, so a restarted
 * xsproxy carries on with every domain's watches, transactions (with their
 * logs) and requests in flight.  Pure: no I/O.
 *
 * Format, version 1, every integer little-endian, lists in order:
 *
 *   u32 magic "XSSH"   u32 version   u32 length of the whole encoding
 *   u32 flags (1 adopt_unknown_tx, 2 incomplete, 4 has_streamed)
 *   u32 watch_gencnt   u64 unexpected
 *   u32 nr_watches     { str path, str token }
 *   u32 nr_txs         { u32 guest_id, backend_id, flags (1 doomed,
 *                        2 log_cut, 4 replaying, 8 adopted), replay_next,
 *                        log_bytes, nops { u32 type, rsp_type, bytes req,
 *                        bytes rsp } }           (the list's order)
 *   u32 q_len          { inflight }              (oldest first)
 *   [inflight: the streamed one, when has_streamed]
 *
 *   Flag 8 (watches apart): nr_watches is 0 and the list is in an encoding
 *   of its own (shadow_encode_watches), which a journal commits only when
 *   the list changed:
 *
 *   u32 magic "XSWL"   u32 version   u32 length   u32 watch_gencnt
 *   u32 nr_watches     { str path, str token }
 *
 *   inflight: u32 req_id, type, guest_tx, restore_tx, replay_tx, replay_op,
 *             flags (1 force_eagain, 2 internal, 4 watch, 8 tx_req),
 *             [str watch_path, str watch_token] [bytes tx_req]
 *   str, bytes: u32 length, then that many bytes (no NUL; a str has none)
 *
 * The decoder takes nothing on trust: every length is checked against the
 * bytes left and a bound, every count is capped and must be backed by the
 * bytes it needs (so memory stays a small multiple of the input), and the
 * state must satisfy the invariants shadow.c relies on (a replay position
 * inside its log, a watch with both strings and only on a WATCH or UNWATCH
 * neither logged nor replayed, unique transaction ids...), so a decoded
 * shadow is used and freed by shadow.c like any other.  A state has one
 * encoding: what the decoder takes encodes back to the same bytes.
 *
 * The encoder writes any state shadow.c makes in a form the decoder takes:
 * the one exception to a faithful copy, a restored log past
 * SHADOW_TX_LOG_MAX, is written cut (put_tx).
 */
#define _GNU_SOURCE
#include "shadow.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODEC_MAGIC 0x48535358u   /* "XSSH" as bytes */
#define WATCHES_MAGIC 0x4c575358u /* "XSWL" as bytes */
#define CODEC_VERSION 1u

#define F_ADOPT_UNKNOWN 1u
#define F_INCOMPLETE 2u
#define F_STREAMED 4u
#define F_WATCHES_APART 8u

#define TF_DOOMED 1u
#define TF_LOG_CUT 2u
#define TF_REPLAYING 4u
#define TF_ADOPTED 8u

#define IF_FORCE_EAGAIN 1u
#define IF_INTERNAL 2u
#define IF_WATCH 4u
#define IF_TX_REQ 8u

/* Caps far above anything xenstored's quotas allow a domain (tens of
 * watches and transactions): a state past them is not one to restore. */
#define MAX_WATCHES (1u << 20)
#define MAX_TXS (1u << 16)
#define MAX_INFLIGHT (1u << 21)   /* re-registering every watch at once */
#define MAX_OPS (1u << 20)        /* per transaction: ops may be empty */

/* The least each element takes in the encoding: a count is refused when
 * the bytes left cannot hold that many. */
#define MIN_WATCH 8u
#define MIN_TX 24u
#define MIN_OP 16u
#define MIN_INFLIGHT 28u

/* ---- encoding ------------------------------------------------------------ */

struct wr {
    uint8_t **buf;
    size_t *len, *cap;
    bool oom;
};

static void put(struct wr *w, const void *p, size_t n)
{
    if (w->oom)
        return;
    if (n > SIZE_MAX - *w->len) {
        w->oom = true;
        return;
    }
    if (*w->len + n > *w->cap) {
        size_t cap = *w->cap ? *w->cap : 256;
        while (cap < *w->len + n) {
            if (cap > SIZE_MAX / 2) {
                w->oom = true;
                return;
            }
            cap *= 2;
        }
        uint8_t *nb = realloc(*w->buf, cap);
        if (!nb) {
            w->oom = true;
            return;
        }
        *w->buf = nb;
        *w->cap = cap;
    }
    if (n)
        memcpy(*w->buf + *w->len, p, n);
    *w->len += n;
}

static void put_u32(struct wr *w, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    /* most of an encoding is these words, and the buffer has grown to fit
     * by the second one: store them in place (a call to put and memcpy each
     * was a sixth of xsproxy's instructions per relayed message) */
    if (!w->oom && *w->cap - *w->len >= sizeof(b)) {
        memcpy(*w->buf + *w->len, b, sizeof(b));
        *w->len += sizeof(b);
        return;
    }
    put(w, b, sizeof(b));
}

static void put_u64(struct wr *w, uint64_t v)
{
    put_u32(w, (uint32_t)v);
    put_u32(w, (uint32_t)(v >> 32));
}

static void put_bytes(struct wr *w, const void *p, size_t n)
{
    if (n > UINT32_MAX) {
        w->oom = true;
        return;
    }
    put_u32(w, (uint32_t)n);
    put(w, p, n);
}

static void put_str(struct wr *w, const char *s)
{
    put_bytes(w, s, strlen(s));
}

static void put_inflight(struct wr *w, const struct inflight *f)
{
    /* a watch is recorded with both strings or neither (shadow.c) */
    bool watch = f->watch_path && f->watch_token;
    uint32_t flags = (f->force_eagain ? IF_FORCE_EAGAIN : 0) | (f->internal ? IF_INTERNAL : 0) |
                     (watch ? IF_WATCH : 0) | (f->tx_req ? IF_TX_REQ : 0);
    put_u32(w, f->req_id);
    put_u32(w, f->type);
    put_u32(w, f->guest_tx);
    put_u32(w, f->restore_tx);
    put_u32(w, f->replay_tx);
    put_u32(w, f->replay_op);
    put_u32(w, flags);
    if (watch) {
        put_str(w, f->watch_path);
        put_str(w, f->watch_token);
    }
    if (f->tx_req)
        put_bytes(w, f->tx_req, f->tx_req_len);
}

/* A log the decoder would refuse.  Only a restored transaction can have
 * one (shadow_on_restore_tx takes a stream's log as it is, and mapping the
 * domain id can lengthen it past what logging keeps). */
static bool log_too_big(const struct shadow_tx *t)
{
    if (t->log_bytes > SHADOW_TX_LOG_MAX || t->nops > MAX_OPS)
        return true;
    for (unsigned i = 0; i < t->nops; i++)
        if (t->ops[i].req_len > XENSTORE_PAYLOAD_MAX || t->ops[i].rsp_len > XENSTORE_PAYLOAD_MAX)
            return true;
    return false;
}

static void put_tx(struct wr *w, const struct shadow_tx *t)
{
    /* such a log is dropped as shadow.c drops one that outgrows its limit;
     * being restored, the transaction then ends in EAGAIN, as it would had
     * it come without a log */
    bool cut = !t->log_cut && log_too_big(t);
    bool log_cut = t->log_cut || cut;
    unsigned nops = log_cut ? 0 : t->nops;
    /* a replay with nothing left to send cannot go on: EAGAIN too */
    bool replaying = t->replaying && t->replay_next < nops;
    bool doomed = t->doomed || cut || (t->replaying && !replaying);
    uint32_t flags = (doomed ? TF_DOOMED : 0) | (log_cut ? TF_LOG_CUT : 0) |
                     (replaying ? TF_REPLAYING : 0) | (t->adopted ? TF_ADOPTED : 0);
    put_u32(w, t->guest_id);
    put_u32(w, t->backend_id);
    put_u32(w, flags);
    put_u32(w, t->replay_next);
    put_u32(w, log_cut ? 0 : (uint32_t)t->log_bytes);
    put_u32(w, nops);
    for (unsigned i = 0; i < nops; i++) {
        const struct tx_op *o = &t->ops[i];
        put_u32(w, o->type);
        put_u32(w, o->rsp_type);
        put_bytes(w, o->req, o->req_len);
        put_bytes(w, o->rsp, o->rsp_len);
    }
}

/* Counts from the list itself: it is what is written. */
static void put_watches(struct wr *w, const struct shadow *s)
{
    uint32_t n = 0;
    for (const struct shadow_watch *x = s->watches; x; x = x->next)
        n++;
    put_u32(w, n);
    for (const struct shadow_watch *x = s->watches; x; x = x->next) {
        put_str(w, x->path);
        put_str(w, x->token);
    }
}

/* Fill in the length word of the encoding that began at START, or undo it
 * when something failed. */
static int finish(struct wr *w, size_t start)
{
    size_t total = *w->len - start;
    if (!w->oom && total > UINT32_MAX)
        w->oom = true;
    if (w->oom) {
        *w->len = start;
        return -1;
    }
    uint8_t *p = *w->buf + start + 8;
    p[0] = (uint8_t)total;
    p[1] = (uint8_t)(total >> 8);
    p[2] = (uint8_t)(total >> 16);
    p[3] = (uint8_t)(total >> 24);
    return 0;
}

/* What every encoding begins with: MAGIC, the version, and a length word
 * that finish fills in. */
static void put_head(struct wr *w, uint32_t magic)
{
    put_u32(w, magic);
    put_u32(w, CODEC_VERSION);
    put_u32(w, 0);
}

static int encode(const struct shadow *s, bool watches, uint8_t **buf, size_t *len, size_t *cap)
{
    struct wr w = { buf, len, cap, false };
    size_t start = *len;
    uint32_t flags = (s->adopt_unknown_tx ? F_ADOPT_UNKNOWN : 0) |
                     (s->incomplete ? F_INCOMPLETE : 0) | (s->has_streamed ? F_STREAMED : 0) |
                     (watches ? 0 : F_WATCHES_APART);
    put_head(&w, CODEC_MAGIC);
    put_u32(&w, flags);
    put_u32(&w, s->watch_gencnt);
    put_u64(&w, s->unexpected);
    if (watches)
        put_watches(&w, s);
    else
        put_u32(&w, 0);
    uint32_t n = 0;
    for (const struct shadow_tx *t = s->txs; t; t = t->next)
        n++;
    put_u32(&w, n);
    for (const struct shadow_tx *t = s->txs; t; t = t->next)
        put_tx(&w, t);
    put_u32(&w, s->q_len);
    for (unsigned i = 0; i < s->q_len; i++)
        put_inflight(&w, &s->q[(s->q_head + i) % s->q_cap]);
    if (s->has_streamed)
        put_inflight(&w, &s->streamed);
    return finish(&w, start);
}

int shadow_encode(const struct shadow *s, uint8_t **buf, size_t *len, size_t *cap)
{
    return encode(s, true, buf, len, cap);
}

int shadow_encode_apart(const struct shadow *s, uint8_t **buf, size_t *len, size_t *cap)
{
    return encode(s, false, buf, len, cap);
}

int shadow_encode_watches(const struct shadow *s, uint8_t **buf, size_t *len, size_t *cap)
{
    struct wr w = { buf, len, cap, false };
    size_t start = *len;
    put_head(&w, WATCHES_MAGIC);
    put_u32(&w, s->watch_gencnt);
    put_watches(&w, s);
    return finish(&w, start);
}

/* ---- decoding ------------------------------------------------------------ */

struct rd {
    const uint8_t *p;
    size_t off, len;
    char *err;
    size_t errlen;
    bool bad;
};

/* Record the first failure (with where it was found); later ones are its
 * consequences. */
__attribute__((format(printf, 2, 3))) static void fail(struct rd *r, const char *fmt, ...)
{
    if (r->bad)
        return;
    r->bad = true;
    if (!r->err || !r->errlen)
        return;
    int n = snprintf(r->err, r->errlen, "shadow encoding, offset %zu: ", r->off);
    if (n < 0 || (size_t)n >= r->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static size_t left(const struct rd *r)
{
    return r->len - r->off;
}

static bool need(struct rd *r, size_t n, const char *what)
{
    if (r->bad)
        return false;
    if (n > left(r)) {
        fail(r, "truncated in %s (%zu bytes wanted, %zu left)", what, n, left(r));
        return false;
    }
    return true;
}

static uint32_t get_u32(struct rd *r, const char *what)
{
    if (!need(r, 4, what))
        return 0;
    const uint8_t *b = r->p + r->off;
    r->off += 4;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_u64(struct rd *r, const char *what)
{
    uint64_t lo = get_u32(r, what);
    return lo | (uint64_t)get_u32(r, what) << 32;
}

/* A count of elements taking at least MIN bytes each, at most MAX. */
static uint32_t get_count(struct rd *r, const char *what, uint32_t max, size_t min)
{
    uint32_t n = get_u32(r, what);
    if (r->bad)
        return 0;
    if (n > max) {
        fail(r, "%u %s (at most %u)", n, what, max);
        return 0;
    }
    if ((size_t)n * min > left(r)) {
        fail(r, "%u %s cannot fit in the %zu bytes left", n, what, left(r));
        return 0;
    }
    return n;
}

/* Length-prefixed bytes, copied (as shadow.c's own copies: never NULL, one
 * byte allocated for none).  NULL on failure. */
static uint8_t *get_bytes(struct rd *r, const char *what, uint32_t max, uint32_t *len)
{
    uint32_t n = get_u32(r, what);
    if (r->bad)
        return NULL;
    if (n > max) {
        fail(r, "%s of %u bytes (at most %u)", what, n, max);
        return NULL;
    }
    if (!need(r, n, what))
        return NULL;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        fail(r, "out of memory");
        return NULL;
    }
    if (n)
        memcpy(b, r->p + r->off, n);
    r->off += n;
    *len = n;
    return b;
}

/* A string: no NUL inside (it becomes a C string). */
static char *get_str(struct rd *r, const char *what)
{
    uint32_t n = get_u32(r, what);
    if (r->bad)
        return NULL;
    if (n > XENSTORE_PAYLOAD_MAX) {
        fail(r, "%s of %u bytes (at most %u)", what, n, (unsigned)XENSTORE_PAYLOAD_MAX);
        return NULL;
    }
    if (!need(r, n, what))
        return NULL;
    if (memchr(r->p + r->off, 0, n)) {
        fail(r, "%s holds a NUL", what);
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        fail(r, "out of memory");
        return NULL;
    }
    memcpy(s, r->p + r->off, n);
    s[n] = '\0';
    r->off += n;
    return s;
}

static bool get_flag_word(struct rd *r, const char *what, uint32_t known, uint32_t *flags)
{
    *flags = get_u32(r, what);
    if (r->bad)
        return false;
    if (*flags & ~known) {
        fail(r, "%s 0x%x: unknown bits", what, *flags);
        return false;
    }
    return true;
}

/* One inflight into F (zeroed first); on failure F owns nothing. */
static bool get_inflight(struct rd *r, struct inflight *f)
{
    memset(f, 0, sizeof(*f));
    f->req_id = get_u32(r, "request id");
    f->type = get_u32(r, "request type");
    f->guest_tx = get_u32(r, "request tx id");
    f->restore_tx = get_u32(r, "request restore_tx");
    f->replay_tx = get_u32(r, "request replay_tx");
    f->replay_op = get_u32(r, "request replay_op");
    uint32_t flags;
    if (!get_flag_word(r, "request flags", IF_FORCE_EAGAIN | IF_INTERNAL | IF_WATCH | IF_TX_REQ,
                       &flags))
        return false;
    f->force_eagain = flags & IF_FORCE_EAGAIN;
    f->internal = flags & IF_INTERNAL;
    if (flags & IF_WATCH) {
        f->watch_path = get_str(r, "request's watch path");
        f->watch_token = f->watch_path ? get_str(r, "request's watch token") : NULL;
    }
    if (!r->bad && (flags & IF_TX_REQ))
        f->tx_req = get_bytes(r, "request payload", XENSTORE_PAYLOAD_MAX, &f->tx_req_len);
    /* only a WATCH or UNWATCH carries a watch, and never one that is logged
     * or replayed: shadow_on_reply copies such a request aside while its
     * reply streams, and two owners of the strings would free them twice */
    if (!r->bad && f->watch_path &&
        ((f->type != XS_WATCH && f->type != XS_UNWATCH) || f->tx_req || f->replay_tx))
        fail(r, "a watch on request %u of type %u, logged or replayed", f->req_id, f->type);
    if (r->bad) {
        shadow_free_inflight(f);
        return false;
    }
    return true;
}

static void get_watches(struct rd *r, struct shadow *s)
{
    uint32_t n = get_count(r, "watches", MAX_WATCHES, MIN_WATCH);
    struct shadow_watch **tail = &s->watches;
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        char *path = get_str(r, "watch path");
        char *token = path ? get_str(r, "watch token") : NULL;
        struct shadow_watch *w = token ? calloc(1, sizeof(*w)) : NULL;
        if (!w) {
            if (token)
                fail(r, "out of memory");
            free(path);
            free(token);
            return;
        }
        w->path = path;
        w->token = token;
        *tail = w;
        tail = &w->next;
        s->nr_watches++;
    }
}

/* One transaction, linked at *TAIL as soon as it exists so that a failure
 * half-way leaves it to shadow_clear. */
static struct shadow_tx *get_tx(struct rd *r, struct shadow *s, struct shadow_tx **tail)
{
    struct shadow_tx *t = calloc(1, sizeof(*t));
    if (!t) {
        fail(r, "out of memory");
        return NULL;
    }
    *tail = t;
    s->nr_txs++;
    t->guest_id = get_u32(r, "transaction id");
    t->backend_id = get_u32(r, "xenstored's transaction id");
    uint32_t flags;
    if (!get_flag_word(r, "transaction flags", TF_DOOMED | TF_LOG_CUT | TF_REPLAYING | TF_ADOPTED,
                       &flags))
        return NULL;
    t->doomed = flags & TF_DOOMED;
    t->log_cut = flags & TF_LOG_CUT;
    t->replaying = flags & TF_REPLAYING;
    t->adopted = flags & TF_ADOPTED;
    t->replay_next = get_u32(r, "replay position");
    uint32_t log_bytes = get_u32(r, "log size");
    uint32_t nops = get_count(r, "logged operations", MAX_OPS, MIN_OP);
    if (r->bad)
        return NULL;
    if (log_bytes > SHADOW_TX_LOG_MAX) {
        fail(r, "transaction %u: a log of %u bytes (at most %u)", t->guest_id, log_bytes,
             SHADOW_TX_LOG_MAX);
        return NULL;
    }
    if (nops) {
        t->ops = calloc(nops, sizeof(*t->ops));
        if (!t->ops) {
            fail(r, "out of memory");
            return NULL;
        }
        t->cap_ops = nops;
    }
    size_t sum = 0;
    for (uint32_t i = 0; i < nops; i++) {
        struct tx_op o = { 0 };
        o.type = get_u32(r, "logged operation type");
        o.rsp_type = get_u32(r, "logged answer type");
        o.req = get_bytes(r, "logged request", XENSTORE_PAYLOAD_MAX, &o.req_len);
        o.rsp = o.req ? get_bytes(r, "logged answer", XENSTORE_PAYLOAD_MAX, &o.rsp_len) : NULL;
        if (!o.rsp) {
            free(o.req);
            return NULL;
        }
        t->ops[t->nops++] = o;
        sum += (size_t)o.req_len + o.rsp_len;
    }
    /* the log's size as shadow.c counts it: its payloads and what it
     * charges for each operation besides (its own business) */
    t->log_bytes = log_bytes;
    /* what shadow.c keeps true, and relies on */
    if (log_bytes < sum)
        fail(r, "transaction %u: a log of %u bytes holds %zu bytes of payloads", t->guest_id,
             log_bytes, sum);
    else if (!nops && log_bytes)
        fail(r, "transaction %u: an empty log of %u bytes", t->guest_id, log_bytes);
    else if (t->log_cut && nops)
        fail(r, "transaction %u: a cut log with operations", t->guest_id);
    else if (t->adopted && !t->log_cut)
        fail(r, "transaction %u: adopted, yet its log is not cut", t->guest_id);
    else if (t->replaying && t->replay_next >= nops)
        fail(r, "transaction %u: replaying from operation %u of %u", t->guest_id,
             t->replay_next, nops);
    return r->bad ? NULL : t;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void get_txs(struct rd *r, struct shadow *s)
{
    uint32_t n = get_count(r, "transactions", MAX_TXS, MIN_TX);
    struct shadow_tx **tail = &s->txs;
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        struct shadow_tx *t = get_tx(r, s, tail);
        if (t)
            tail = &t->next;
    }
    if (r->bad || n < 2)
        return;
    /* one transaction per guest id: shadow.c finds them by it */
    uint32_t *ids = malloc(n * sizeof(*ids));
    if (!ids) {
        fail(r, "out of memory");
        return;
    }
    uint32_t k = 0;
    for (const struct shadow_tx *t = s->txs; t; t = t->next)
        ids[k++] = t->guest_id;
    qsort(ids, k, sizeof(*ids), cmp_u32);
    for (uint32_t i = 1; i < k; i++)
        if (ids[i] == ids[i - 1]) {
            fail(r, "transaction %u twice", ids[i]);
            break;
        }
    free(ids);
}

static void get_queue(struct rd *r, struct shadow *s)
{
    uint32_t n = get_count(r, "requests in flight", MAX_INFLIGHT, MIN_INFLIGHT);
    if (r->bad || !n)
        return;
    /* a ring of exactly N: shadow.c grows it when it is full */
    s->q = malloc(n * sizeof(*s->q));
    if (!s->q) {
        fail(r, "out of memory");
        return;
    }
    s->q_cap = n;
    s->q_head = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!get_inflight(r, &s->q[i]))
            return;
        s->q_len++;
    }
}

/* The head put_head wrote, checked to be MAGIC's (WHAT names that kind of
 * encoding) in this version: its length word, for the caller to check. */
static uint32_t get_head(struct rd *r, uint32_t magic, const char *what)
{
    uint32_t m = get_u32(r, "magic");
    if (!r->bad && m != magic)
        fail(r, "not %s (magic 0x%08x)", what, m);
    uint32_t version = get_u32(r, "version");
    if (!r->bad && version != CODEC_VERSION)
        fail(r, "version %u (this xsproxy reads %u)", version, CODEC_VERSION);
    return get_u32(r, "length");
}

int shadow_decode(struct shadow *s, const uint8_t *buf, size_t len, size_t *used, char *err,
                  size_t errlen)
{
    return shadow_decode_apart(s, buf, len, used, NULL, err, errlen);
}

int shadow_decode_watches(struct shadow *s, const uint8_t *buf, size_t len, char *err,
                          size_t errlen)
{
    struct rd r = { buf, 0, len, err, errlen, false };
    if (err && errlen)
        err[0] = '\0';
    if (s->watches) {
        fail(&r, "the shadow to decode watches into has watches");
        return -1;
    }
    uint32_t total = get_head(&r, WATCHES_MAGIC, "a watch list's encoding");
    if (!r.bad && total != len)
        fail(&r, "an encoding of %u bytes in %zu", total, len);
    uint32_t gen = get_u32(&r, "watch generation");
    get_watches(&r, s);
    if (!r.bad && r.off != r.len)
        fail(&r, "%zu bytes left inside the encoding", r.len - r.off);
    if (r.bad) {
        uint32_t before = s->watch_gencnt;
        shadow_clear_watches(s);
        s->watch_gencnt = before;
        return -1;
    }
    s->watch_gencnt = gen;
    return 0;
}

int shadow_decode_apart(struct shadow *s, const uint8_t *buf, size_t len, size_t *used,
                        bool *apart, char *err, size_t errlen)
{
    struct rd r = { buf, 0, len, err, errlen, false };
    if (err && errlen)
        err[0] = '\0';
    if (s->watches || s->txs || s->q || s->q_len || s->has_streamed) {
        /* its contents are the caller's: say so rather than free them */
        fail(&r, "the shadow to decode into is not empty");
        return -1;
    }
    uint32_t total = get_head(&r, CODEC_MAGIC, "a shadow encoding");
    if (!r.bad && (total < r.off || total > len))
        fail(&r, "an encoding of %u bytes in %zu", total, len);
    if (!r.bad)
        r.len = total;   /* nothing of it is read past its own end */
    uint32_t flags = 0;
    get_flag_word(&r, "flags", F_ADOPT_UNKNOWN | F_INCOMPLETE | F_STREAMED | F_WATCHES_APART,
                  &flags);
    s->watch_gencnt = get_u32(&r, "watch generation");
    s->unexpected = get_u64(&r, "unexpected replies");
    s->adopt_unknown_tx = flags & F_ADOPT_UNKNOWN;
    s->incomplete = flags & F_INCOMPLETE;
    if (apart)
        *apart = flags & F_WATCHES_APART;
    get_watches(&r, s);
    if (!r.bad && (flags & F_WATCHES_APART) && s->watches)
        fail(&r, "watches in an encoding that keeps them apart");
    get_txs(&r, s);
    get_queue(&r, s);
    if (!r.bad && (flags & F_STREAMED) && get_inflight(&r, &s->streamed)) {
        s->has_streamed = true;
        /* shadow_on_streamed_end finishes only a logged or replayed one */
        if (!s->streamed.tx_req && !s->streamed.replay_tx)
            fail(&r, "a streamed reply that is neither logged nor replayed");
    }
    if (!r.bad && r.off != r.len)
        fail(&r, "%zu bytes left inside the encoding", r.len - r.off);
    if (r.bad) {
        shadow_clear(s);
        shadow_init(s);
        return -1;
    }
    if (used)
        *used = r.off;
    return 0;
}
