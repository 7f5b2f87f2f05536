/*
 * shadow.c - the shadow-state machine (see shadow.h).
 *
 * Transaction ids: xsproxy owns the guest-visible id space.  A new
 * transaction keeps xenstored's id unless another live transaction already
 * shows the guest that id (possible after a restore), so that the mapping
 * is the identity wherever nothing forces otherwise.
 */
#define _POSIX_C_SOURCE 200809L
#define _GNU_SOURCE
#include "shadow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What an operation in a log costs besides its payloads: its struct tx_op
 * (with the array's slack) and two allocations.  Counted against
 * SHADOW_TX_LOG_MAX, so that a log of empty READs is bounded in memory,
 * not only in payload bytes. */
#define SHADOW_TX_OP_COST 96u

void shadow_init(struct shadow *s)
{
    memset(s, 0, sizeof(*s));
}

void shadow_free_inflight(struct inflight *f)
{
    free(f->watch_path);
    free(f->watch_token);
    free(f->tx_req);
    f->watch_path = f->watch_token = NULL;
    f->tx_req = NULL;
}

static void free_log(struct shadow_tx *t)
{
    for (unsigned i = 0; i < t->nops; i++) {
        free(t->ops[i].req);
        free(t->ops[i].rsp);
    }
    free(t->ops);
    t->ops = NULL;
    t->nops = t->cap_ops = 0;
    t->log_bytes = 0;
}

/* T's log grew too big (or memory ran out): it is dropped, and T can no
 * longer be replayed - not even the rest of a replay under way, which then
 * ends in EAGAIN like any transaction that cannot be replayed. */
static void cut_log(struct shadow_tx *t)
{
    free_log(t);
    t->log_cut = true;
    if (t->replaying) {
        t->replaying = false;
        t->doomed = true;
    }
}

static void free_tx(struct shadow_tx *t)
{
    free_log(t);
    free(t);
}

void shadow_clear_watches(struct shadow *s)
{
    while (s->watches) {
        struct shadow_watch *w = s->watches;
        s->watches = w->next;
        free(w->path);
        free(w->token);
        free(w);
    }
    s->nr_watches = 0;
    s->watch_gencnt++;
}

static void clear_txs(struct shadow *s)
{
    while (s->txs) {
        struct shadow_tx *t = s->txs;
        s->txs = t->next;
        free_tx(t);
    }
    s->nr_txs = 0;
}

void shadow_clear(struct shadow *s)
{
    shadow_clear_watches(s);
    clear_txs(s);
    for (unsigned i = 0; i < s->q_len; i++)
        shadow_free_inflight(&s->q[(s->q_head + i) % s->q_cap]);
    free(s->q);
    shadow_free_inflight(&s->streamed);
    uint32_t gen = s->watch_gencnt, domid = s->domid;
    memset(s, 0, sizeof(*s));
    s->watch_gencnt = gen;
    s->domid = domid;
}

const struct inflight *shadow_inflight_at(const struct shadow *s, unsigned i)
{
    return i < s->q_len ? &s->q[(s->q_head + i) % s->q_cap] : NULL;
}

static struct shadow_tx *tx_by_guest(const struct shadow *s, uint32_t id)
{
    for (struct shadow_tx *t = s->txs; t; t = t->next)
        if (t->guest_id == id)
            return t;
    return NULL;
}

uint32_t shadow_guest_tx(const struct shadow *s, uint32_t backend_id)
{
    for (struct shadow_tx *t = s->txs; t; t = t->next)
        if (t->backend_id == backend_id)
            return t->guest_id;
    return 0;
}

static int push_inflight(struct shadow *s, const struct inflight *f)
{
    if (s->q_len == s->q_cap) {
        unsigned cap = s->q_cap ? s->q_cap * 2 : 4;
        struct inflight *nq = malloc(cap * sizeof(*nq));
        if (!nq)
            return -1;
        for (unsigned i = 0; i < s->q_len; i++)
            nq[i] = s->q[(s->q_head + i) % s->q_cap];
        free(s->q);
        s->q = nq;
        s->q_cap = cap;
        s->q_head = 0;
    }
    s->q[(s->q_head + s->q_len) % s->q_cap] = *f;
    s->q_len++;
    return 0;
}

/* The operations a transaction's log keeps: those that read or change the
 * store, whose answers a replay compares. */
static bool logged_type(uint32_t type)
{
    switch (type) {
    case XS_READ: case XS_WRITE: case XS_MKDIR: case XS_RM: case XS_DIRECTORY:
    case XS_DIRECTORY_PART: case XS_GET_PERMS: case XS_SET_PERMS:
        return true;
    default:
        return false;
    }
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

/* A transaction the guest opened before xsproxy stood in front of it: its
 * ids are xenstored's (nothing remapped them), and what it did before is
 * unknown, so it cannot be replayed (a migration ends it in EAGAIN). */
static int adopt_tx(struct shadow *s, uint32_t id)
{
    struct shadow_tx *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    t->guest_id = t->backend_id = id;
    t->adopted = t->log_cut = true;
    t->next = s->txs;
    s->txs = t;
    s->nr_txs++;
    return 0;
}

/* Transactions adopted at their first use (live insertion) at most: a
 * domain cannot have had more open than xenstored's quota (10 by default),
 * and a guest that makes ids up must not grow the shadow without end (C
 * xenstored answers ENOENT to an id it does not know, and an adopted id
 * that gets ENOENT stays).  Beyond it, unknown ids go on unchanged and
 * xenstored judges them. */
#define SHADOW_TX_ADOPT_MAX 64u

static unsigned adopted_txs(const struct shadow *s)
{
    unsigned n = 0;
    for (const struct shadow_tx *t = s->txs; t; t = t->next)
        n += t->adopted;
    return n;
}

/* The path and token of the (UN)WATCH request M, kept in F for its answer
 * (nothing kept when M lacks either).  -1 when out of memory, F freed. */
static int note_watch(struct inflight *f, const struct msg *m)
{
    const char *parts[2];
    if (msg_split(m->bytes + MSG_HDR_LEN, m->hdr.len, parts, 2) != 2)
        return 0;
    f->watch_path = strdup(parts[0]);
    f->watch_token = strdup(parts[1]);
    if (!f->watch_path || !f->watch_token) {
        shadow_free_inflight(f);
        return -1;
    }
    return 0;
}

int shadow_on_request(struct shadow *s, struct msg *m)
{
    struct inflight f = { .req_id = m->hdr.req_id, .type = m->hdr.type, .guest_tx = m->hdr.tx_id };
    struct shadow_tx *lt = m->hdr.tx_id ? tx_by_guest(s, m->hdr.tx_id) : NULL;
    if (lt && !lt->log_cut && logged_type(m->hdr.type)) {
        f.tx_req = dup_bytes(msg_body(m), m->hdr.len);
        f.tx_req_len = m->hdr.len;
        if (!f.tx_req)
            return -1;
    }
    if ((m->hdr.type == XS_WATCH || m->hdr.type == XS_UNWATCH) && note_watch(&f, m) < 0)
        return -1;
    if (push_inflight(s, &f) < 0) {
        shadow_free_inflight(&f);
        return -1;
    }
    /* the guest's id becomes xenstored's; an id xsproxy does not know goes
     * on unchanged and xenstored judges it */
    struct shadow_tx *t = m->hdr.tx_id ? tx_by_guest(s, m->hdr.tx_id) : NULL;
    if (!t && m->hdr.tx_id && s->adopt_unknown_tx && adopted_txs(s) < SHADOW_TX_ADOPT_MAX &&
        adopt_tx(s, m->hdr.tx_id) == 0)
        t = tx_by_guest(s, m->hdr.tx_id);   /* opened before the insertion */
    if (t)
        m->hdr.tx_id = t->backend_id;
    if (m->hdr.type == XS_RESET_WATCHES) {
        /* It ends every transaction of the connection whatever its id; one
         * sent inside a transaction crashed C xenstored before XSA-484's
         * fix.  Passed outside: the fixed daemons' answer, on any daemon
         * (the reply keeps the guest's id). */
        m->hdr.tx_id = 0;
    }
    if (t && t->doomed && m->hdr.type == XS_TRANSACTION_END) {
        /* abort it at xenstored; the guest learns it conflicted */
        s->q[(s->q_head + s->q_len - 1) % s->q_cap].force_eagain = true;
        msg_build(m, m->hdr.type, m->hdr.req_id, m->hdr.tx_id, "F", 2);
    }
    return 0;
}

static bool add_watch(struct shadow *s, char *path, char *token);

int shadow_on_internal_request(struct shadow *s, const struct msg *m, bool adds_watch)
{
    struct inflight f = { .req_id = m->hdr.req_id, .type = m->hdr.type,
                          .guest_tx = m->hdr.tx_id, .internal = true };
    if (adds_watch && m->hdr.type == XS_WATCH && note_watch(&f, m) < 0)
        return -1;
    if (push_inflight(s, &f) < 0) {
        shadow_free_inflight(&f);
        return -1;
    }
    return 0;
}

int shadow_on_restore_tx(struct shadow *s, const struct msg *m, uint32_t guest_id,
                         const struct tx_op *ops, unsigned nops, bool replayable)
{
    if (tx_by_guest(s, guest_id))
        return -1;   /* a stream defines each transaction once */
    struct shadow_tx *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    t->guest_id = guest_id;
    t->doomed = !replayable;
    t->log_cut = !replayable;
    if (replayable && nops) {
        t->ops = calloc(nops, sizeof(*t->ops));
        t->cap_ops = nops;
        for (unsigned i = 0; t->ops && i < nops; i++) {
            struct tx_op *o = &t->ops[t->nops];
            *o = ops[i];
            o->req = dup_bytes(ops[i].req, ops[i].req_len);
            o->rsp = dup_bytes(ops[i].rsp, ops[i].rsp_len);
            t->nops++;
            t->log_bytes += ops[i].req_len + ops[i].rsp_len + SHADOW_TX_OP_COST;
            if (!o->req || !o->rsp)
                break;
        }
        if (!t->ops || t->nops < nops || !t->ops[nops - 1].req || !t->ops[nops - 1].rsp) {
            free_tx(t);
            return -1;
        }
    }
    t->replaying = replayable && nops > 0;
    struct inflight f = { .req_id = m->hdr.req_id, .type = m->hdr.type, .guest_tx = 0,
                          .internal = true, .restore_tx = guest_id };
    if (push_inflight(s, &f) < 0) {
        free_tx(t);
        return -1;
    }
    /* known now, so no other can take its id; usable once it has xenstored's */
    t->next = s->txs;
    s->txs = t;
    s->nr_txs++;
    return 0;
}

int shadow_next_replay(struct shadow *s, struct msg *m, uint32_t req_id)
{
    for (struct shadow_tx *t = s->txs; t; t = t->next) {
        if (!t->replaying || !t->backend_id)
            continue;
        const struct tx_op *o = &t->ops[t->replay_next];
        msg_build(m, o->type, req_id, t->backend_id, o->req, o->req_len);
        struct inflight f = { .req_id = req_id, .type = o->type, .guest_tx = t->guest_id,
                              .internal = true, .replay_tx = t->guest_id,
                              .replay_op = t->replay_next };
        if (push_inflight(s, &f) < 0)
            return 0;
        if (++t->replay_next == t->nops)
            t->replaying = false;
        return 1;
    }
    return 0;
}

unsigned shadow_replays_pending(const struct shadow *s)
{
    unsigned n = 0;
    for (const struct shadow_tx *t = s->txs; t; t = t->next)
        n += t->replaying;
    return n;
}

unsigned shadow_internal_inflight(const struct shadow *s)
{
    unsigned n = 0;
    for (unsigned i = 0; i < s->q_len; i++)
        n += s->q[(s->q_head + i) % s->q_cap].internal;
    return n;
}

uint32_t shadow_watch_page(const struct shadow *s, uint32_t index, char *buf, uint32_t len)
{
    int n = snprintf(buf, len, "%u", s->watch_gencnt);
    if (n < 0 || (uint32_t)n + 1 > len)
        return 0;
    uint32_t off = (uint32_t)n + 1;
    uint32_t i = 0;
    for (const struct shadow_watch *w = s->watches; w; w = w->next, i++) {
        if (i < index)
            continue;
        size_t pl = strlen(w->path) + 1, tl = strlen(w->token) + 1;
        if (off + pl + tl > len)
            break;   /* cut at a watch boundary */
        memcpy(buf + off, w->path, pl);
        memcpy(buf + off + pl, w->token, tl);
        off += (uint32_t)(pl + tl);
    }
    return off;
}

void shadow_backend_lost(struct shadow *s)
{
    for (unsigned i = 0; i < s->q_len; i++)
        shadow_free_inflight(&s->q[(s->q_head + i) % s->q_cap]);
    s->q_head = s->q_len = 0;
    shadow_free_inflight(&s->streamed);
    s->has_streamed = false;
    clear_txs(s);
}

static bool same_watch_path(const struct shadow *s, const char *a, const char *b);

/* A watch xenstored accepted.  One the list has already (xenstored refuses
 * a second of the same path and token) is a reply read again after a
 * restart of xsproxy, whose watch list was journalled just before the
 * crash: it changes nothing.  Returns whether the list grew. */
static bool add_watch(struct shadow *s, char *path, char *token)
{
    struct shadow_watch **tail = &s->watches;
    for (; *tail; tail = &(*tail)->next)
        if (strcmp((*tail)->token, token) == 0 && same_watch_path(s, (*tail)->path, path)) {
            free(path);
            free(token);
            return false;
        }
    struct shadow_watch *w = calloc(1, sizeof(*w));
    if (!w) {
        free(path);
        free(token);
        return false;
    }
    w->path = path;
    w->token = token;
    *tail = w;
    s->nr_watches++;
    s->watch_gencnt++;
    return true;
}

/* A and B name the same watch path for xenstored: equal, or one relative
 * and the other the same path under the domain's home. */
static bool same_watch_path(const struct shadow *s, const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    bool rel_a = a[0] != '/' && a[0] != '@', rel_b = b[0] != '/' && b[0] != '@';
    if (rel_a == rel_b || !s->domid)
        return false;
    const char *rel = rel_a ? a : b, *abs = rel_a ? b : a;
    char home[32];
    int n = snprintf(home, sizeof(home), "/local/domain/%u/", s->domid);
    return n > 0 && strncmp(abs, home, (size_t)n) == 0 && strcmp(abs + n, rel) == 0;
}

/* UNWATCH was accepted: drop the watch xenstored dropped, whichever way its
 * path was spelt (it refuses a second spelling of a watch it has, so there
 * is one). */
static void remove_watch(struct shadow *s, const char *path, const char *token)
{
    for (struct shadow_watch **p = &s->watches; *p; p = &(*p)->next) {
        struct shadow_watch *w = *p;
        if (strcmp(w->token, token) == 0 && same_watch_path(s, w->path, path)) {
            *p = w->next;
            free(w->path);
            free(w->token);
            free(w);
            s->nr_watches--;
            s->watch_gencnt++;
            return;
        }
    }
}

static void remove_tx(struct shadow *s, uint32_t guest_id)
{
    for (struct shadow_tx **p = &s->txs; *p; p = &(*p)->next) {
        if ((*p)->guest_id == guest_id) {
            struct shadow_tx *t = *p;
            *p = t->next;
            free_tx(t);
            s->nr_txs--;
            return;
        }
    }
}

static uint32_t pick_guest_id(const struct shadow *s, uint32_t backend_id)
{
    if (backend_id && !tx_by_guest(s, backend_id))
        return backend_id;
    for (uint32_t id = 1;; id++)
        if (!tx_by_guest(s, id))
            return id;
}

static void started_tx(struct shadow *s, struct msg *m)
{
    uint32_t backend_id;
    if (!msg_parse_u32((const char *)msg_body(m), &backend_id))
        return;   /* not an id: pass xenstored's answer on untouched */
    struct shadow_tx *t = calloc(1, sizeof(*t));
    if (!t)
        return;
    t->backend_id = backend_id;
    t->guest_id = pick_guest_id(s, backend_id);
    t->next = s->txs;
    s->txs = t;
    s->nr_txs++;
    if (t->guest_id != backend_id) {
        char id[16];
        int n = snprintf(id, sizeof(id), "%u", t->guest_id);
        msg_build(m, m->hdr.type, m->hdr.req_id, m->hdr.tx_id, id, (uint32_t)n + 1);
    }
}

/* Add the answered operation F (its payload moves to the log) to its
 * transaction's log, or cut the log when it grows too big. */
static void log_op(struct shadow *s, struct inflight *f, const struct msg *m)
{
    struct shadow_tx *t = tx_by_guest(s, f->guest_tx);
    if (!t || t->log_cut)
        return;
    size_t add = f->tx_req_len + m->hdr.len + SHADOW_TX_OP_COST;
    if (t->log_bytes + add > SHADOW_TX_LOG_MAX) {
        cut_log(t);
        return;
    }
    if (t->nops == t->cap_ops) {
        unsigned cap = t->cap_ops ? 2 * t->cap_ops : 8;
        struct tx_op *n = realloc(t->ops, cap * sizeof(*n));
        if (!n) {
            cut_log(t);
            return;
        }
        t->ops = n;
        t->cap_ops = cap;
    }
    uint8_t *rsp = dup_bytes(m->bytes + MSG_HDR_LEN, m->hdr.len);
    if (!rsp) {
        cut_log(t);
        return;
    }
    t->ops[t->nops++] = (struct tx_op){ .type = f->type, .rsp_type = m->hdr.type,
                                        .req_len = f->tx_req_len, .rsp_len = m->hdr.len,
                                        .req = f->tx_req, .rsp = rsp };
    f->tx_req = NULL;
    t->log_bytes += add;
}

/* Skip DIRECTORY_PART's first field, the node's generation count: it is
 * xenstored's own, and differs between hosts without meaning a change. */
static const uint8_t *answer(const struct tx_op *o, const uint8_t *body, uint32_t len,
                             uint32_t type, uint32_t *alen)
{
    *alen = len;
    if (o->type != XS_DIRECTORY_PART || type == XS_ERROR)
        return body;
    const uint8_t *nul = memchr(body, 0, len);
    if (!nul)
        return body;
    *alen = len - (uint32_t)(nul + 1 - body);
    return nul + 1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Two DIRECTORY answers name the same children, in whatever order (C
 * xenstored and oxenstored list them in different orders). */
static bool same_children(const uint8_t *a, uint32_t la, const uint8_t *b, uint32_t lb)
{
    if (la != lb)
        return false;
    /* split NUL-ended copies: a logged answer (from a migration stream) may
     * lack its last NUL, and strcmp must not run past it */
    char *ca = malloc(la + 1), *cb = malloc(lb + 1);
    const char **pa = malloc((la + 1) * sizeof(*pa)), **pb = malloc((lb + 1) * sizeof(*pb));
    bool same = ca && cb && pa && pb;
    unsigned na = 0, nb = 0;
    if (same) {
        memcpy(ca, a, la);
        ca[la] = '\0';
        memcpy(cb, b, lb);
        cb[lb] = '\0';
        na = msg_split((const uint8_t *)ca, la, pa, la + 1);
        nb = msg_split((const uint8_t *)cb, lb, pb, lb + 1);
        same = na == nb;
    }
    if (same) {
        qsort(pa, na, sizeof(*pa), cmp_names);
        qsort(pb, nb, sizeof(*pb), cmp_names);
        for (unsigned i = 0; same && i < na; i++)
            same = strcmp(pa[i], pb[i]) == 0;
    }
    free(pa);
    free(pb);
    free(ca);
    free(cb);
    return same;
}

/* A replayed operation's answer: the transaction goes on only if it is
 * the answer the guest got on the source. */
static void check_replay(struct shadow *s, const struct inflight *f, const struct msg *m)
{
    struct shadow_tx *t = tx_by_guest(s, f->replay_tx);
    if (!t || f->replay_op >= t->nops)
        return;
    const struct tx_op *o = &t->ops[f->replay_op];
    uint32_t la, lb;
    const uint8_t *a = answer(o, o->rsp, o->rsp_len, o->rsp_type, &la);
    const uint8_t *b = answer(o, m->bytes + MSG_HDR_LEN, m->hdr.len, m->hdr.type, &lb);
    bool same;
    if (o->rsp_type != m->hdr.type)
        same = false;
    else if (o->type == XS_DIRECTORY && m->hdr.type == XS_DIRECTORY)
        same = same_children(a, la, b, lb);
    else
        same = la == lb && (!la || !memcmp(a, b, la));
    if (!same)
        t->doomed = true;
}

void shadow_on_streamed_end(struct shadow *s, const struct msg *m)
{
    if (!s->has_streamed)
        return;
    if (s->streamed.replay_tx)
        check_replay(s, &s->streamed, m);
    else if (s->streamed.tx_req)
        log_op(s, &s->streamed, m);
    shadow_free_inflight(&s->streamed);
    s->has_streamed = false;
}

/* The answer to one of xsproxy's own requests: a transaction restored, an
 * operation replayed or a watch put back. */
static enum shadow_reply on_internal_reply(struct shadow *s, struct inflight *f,
                                           struct msg *m, bool whole)
{
    uint32_t backend_id;
    if (f->restore_tx) {
        struct shadow_tx *t = tx_by_guest(s, f->restore_tx);
        if (t && m->hdr.type == XS_TRANSACTION_START &&
            msg_parse_u32((const char *)msg_body(m), &backend_id) && backend_id)
            t->backend_id = backend_id;
        else if (t)
            remove_tx(s, f->restore_tx);   /* xenstored refused a new one */
    }
    if (f->replay_tx && whole)
        check_replay(s, f, m);
    bool tx = f->restore_tx || f->replay_tx;
    if (f->type == XS_WATCH && m->hdr.type != XS_ERROR && f->watch_path) {
        add_watch(s, f->watch_path, f->watch_token);
        f->watch_path = f->watch_token = NULL;
    }
    return tx ? SHADOW_INTERNAL_TX : SHADOW_INTERNAL;
}

/* What the answer M to a guest's request F changes in the shadow's
 * transactions and watches. */
static void track_reply(struct shadow *s, struct inflight *f, struct msg *m)
{
    bool ok = m->hdr.type != XS_ERROR;
    if (!ok && f->guest_tx && f->type != XS_TRANSACTION_END) {
        /* an id adopted at its first use that oxenstored does not know
         * either (EIO): it was never open.  (C xenstored says ENOENT, which
         * a READ in a real transaction says too: such an id stays, and ends
         * in EAGAIN if the domain migrates.) */
        struct shadow_tx *t = tx_by_guest(s, f->guest_tx);
        if (t && t->adopted && strcmp((const char *)msg_body(m), "EIO") == 0)
            remove_tx(s, f->guest_tx);
    }
    switch (f->type) {
    case XS_TRANSACTION_START:
        if (ok)
            started_tx(s, m);
        break;
    case XS_TRANSACTION_END:
        /* xenstored ends the transaction whatever the outcome, except when
         * it refused the argument itself */
        if (ok || strcmp((const char *)msg_body(m), "EINVAL") != 0)
            remove_tx(s, f->guest_tx);
        if (f->force_eagain)
            msg_build(m, XS_ERROR, m->hdr.req_id, m->hdr.tx_id, "EAGAIN", 7);
        break;
    case XS_WATCH:
        if (ok && f->watch_path) {
            add_watch(s, f->watch_path, f->watch_token);
            f->watch_path = f->watch_token = NULL;
        }
        break;
    case XS_UNWATCH:
        if (ok && f->watch_path)
            remove_watch(s, f->watch_path, f->watch_token);
        break;
    case XS_RESET_WATCHES:
        if (ok) {
            shadow_clear_watches(s);
            clear_txs(s);
        }
        break;
    default:
        break;
    }
}

enum shadow_reply shadow_on_reply(struct shadow *s, struct msg *m)
{
    if (m->hdr.type == XS_WATCH_EVENT)
        return SHADOW_EVENT;
    if (s->q_len == 0) {
        s->unexpected++;
        return SHADOW_UNEXPECTED;
    }
    struct inflight f = s->q[s->q_head];
    s->q_head = (s->q_head + 1) % s->q_cap;
    s->q_len--;
    if (f.req_id != m->hdr.req_id)
        s->unexpected++;   /* out of order: xenstored never does this */
    bool whole = m->got >= msg_wire_len(m);
    if (!whole && (f.replay_tx || f.tx_req)) {
        /* its body is still on the way: finish when it is whole */
        shadow_free_inflight(&s->streamed);
        s->streamed = f;
        s->has_streamed = true;
        f.tx_req = NULL;
    }
    if (f.internal) {
        enum shadow_reply r = on_internal_reply(s, &f, m, whole);
        shadow_free_inflight(&f);
        return r;
    }
    if (f.tx_req && whole)
        log_op(s, &f, m);
    m->hdr.tx_id = f.guest_tx;
    track_reply(s, &f, m);
    shadow_free_inflight(&f);
    return SHADOW_REPLY;
}

size_t shadow_memory(const struct shadow *s)
{
    size_t n = (size_t)s->q_cap * sizeof(struct inflight);
    for (const struct shadow_watch *w = s->watches; w; w = w->next)
        n += sizeof(*w) + strlen(w->path) + 1 + strlen(w->token) + 1;
    for (const struct shadow_tx *t = s->txs; t; t = t->next) {
        n += sizeof(*t) + (size_t)t->cap_ops * sizeof(struct tx_op);
        for (unsigned i = 0; i < t->nops; i++)
            n += t->ops[i].req_len + t->ops[i].rsp_len;
    }
    for (unsigned i = 0; i < s->q_len; i++) {
        const struct inflight *f = shadow_inflight_at(s, i);
        n += (f->watch_path ? strlen(f->watch_path) + 1 : 0) +
             (f->watch_token ? strlen(f->watch_token) + 1 : 0) + (f->tx_req ? f->tx_req_len : 0);
    }
    return n;
}

size_t shadow_describe(const struct shadow *s, char *buf, size_t len)
{
    size_t off = 0;
#define OUT(...)                                                                  \
    do {                                                                          \
        int n_ = snprintf(buf + off, off < len ? len - off : 0, __VA_ARGS__);     \
        if (n_ > 0)                                                               \
            off += (size_t)n_;                                                    \
    } while (0)
    OUT("watches %u (gencnt %u)%s\n", s->nr_watches, s->watch_gencnt,
        s->incomplete ? ", INCOMPLETE: watches registered before the live insertion "
                        "are unknown (the daemon cannot list them)" : "");
    for (const struct shadow_watch *w = s->watches; w; w = w->next)
        OUT("  watch %s %s\n", w->path, w->token);
    OUT("transactions %u\n", s->nr_txs);
    for (const struct shadow_tx *t = s->txs; t; t = t->next) {
        OUT("  tx %u -> xenstored %u, ", t->guest_id, t->backend_id);
        if (t->adopted)
            OUT("opened before the insertion, its operations unknown");
        else if (t->log_cut)
            OUT("log cut short");
        else
            OUT("%u operations logged", t->nops);
        OUT("%s%s\n", t->replaying ? ", replaying" : "", t->doomed ? ", ends in EAGAIN" : "");
    }
    OUT("in flight %u\n", s->q_len);
    for (unsigned i = 0; i < s->q_len; i++) {
        const struct inflight *f = shadow_inflight_at(s, i);
        OUT("  req %u type %u tx %u\n", f->req_id, f->type, f->guest_tx);
    }
#undef OUT
    return off < len ? off : (len ? len - 1 : 0);
}

int shadow_learn_watches(struct shadow *s, uint32_t domid, const char *text)
{
    char prefix[32];
    int plen = snprintf(prefix, sizeof(prefix), "watch D%u: ", domid);
    int n = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len && strncmp(line, "watch ", 6) != 0)
            return -1;   /* not oxenstored's list */
        if (len > (size_t)plen && strncmp(line, prefix, (size_t)plen) == 0) {
            const char *p = line + plen, *sp = memchr(p, ' ', len - (size_t)plen);
            if (!sp || sp == p)
                return -1;
            char *path = strndup(p, (size_t)(sp - p));
            char *token = strndup(sp + 1, len - (size_t)(sp + 1 - line));
            if (!path || !token) {
                free(path);
                free(token);
                return -1;
            }
            if (add_watch(s, path, token))
                n++;
        }
        line += len + (end ? 1 : 0);
    }
    return n;
}
