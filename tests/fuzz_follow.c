/*
 * fuzz_follow.c - libFuzzer target for the shim's ring follower
 * (shim/ring_follow.c, on shim/stream_track.c): what a live switch hands
 * over must be the truth of the ring, whatever the guest and the daemon were
 * doing at that moment.
 *
 * The input drives a model of one ring: a guest that writes requests in
 * chunks of any size (ids chosen by the input, repeats included) and reads
 * replies, and a daemon that takes request bytes in chunks, answers the
 * requests it has taken in order and puts watch events between messages,
 * writing each message in chunks.  Each input byte pair is an action:
 *   0 the guest writes (a chunk of its current request, or a new one)
 *   1 the daemon takes request bytes      2 the daemon writes (a chunk of its
 *   3 the daemon starts a watch event       current reply, or a new reply)
 *   4 the guest reads replies             5 the follower is fed
 *   6 a switch is tried at this moment
 * At 6 the follower's answer must equal the model's truth: the requests
 * written whole and not answered by a whole reply (ids and where each
 * began), the bytes of the request and of the reply being written, and
 * "the daemon has taken part of a request" exactly when it has.  A
 * follower that was not fed for more than a ring's worth of bytes may have
 * lost the streams; it must then say so (and judge by the bytes' look).
 * Any violation abort()s; ASan/UBSan/LSan report the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring_follow.h"
#include "fuzz_check.h"

#define HDR ((uint32_t)sizeof(struct xsd_sockmsg))
#define MAX_REQS 512

/* A request of the model, from the moment its first byte is written. */
struct mreq {
    struct xsd_sockmsg hdr;
    XENSTORE_RING_IDX start;
    uint32_t written;   /* bytes of it on the ring */
    bool answered;      /* a whole reply went out */
};

/* A message the daemon is writing. */
struct mout {
    bool active;
    uint8_t bytes[HDR + 64];
    uint32_t len, written;
    int answers;   /* index into reqs, -1 for a watch event */
};

struct model {
    struct xenstore_domain_interface r;
    struct mreq reqs[MAX_REQS];
    unsigned nreqs;
    struct mout out;
    int next_answer;   /* the oldest request the daemon has not answered */
    XENSTORE_RING_IDX fed_req, fed_rsp;   /* where the follower was fed to */
    bool may_be_lost;
};

static uint8_t payload_byte(const struct mreq *q, uint32_t i)
{
    return (uint8_t)(q->hdr.req_id * 31u + i);
}

static uint8_t req_byte(const struct mreq *q, uint32_t i)
{
    return i < HDR ? ((const uint8_t *)&q->hdr)[i] : payload_byte(q, i - HDR);
}

static struct mreq *writing(struct model *m)
{
    if (!m->nreqs)
        return NULL;
    struct mreq *q = &m->reqs[m->nreqs - 1];
    return q->written < HDR + q->hdr.len ? q : NULL;
}

static void guest_writes(struct model *m, uint8_t arg)
{
    struct mreq *q = writing(m);
    if (!q) {
        if (m->nreqs == MAX_REQS)
            return;
        q = &m->reqs[m->nreqs++];
        memset(q, 0, sizeof(*q));
        /* payloads up to more than a ring: the prefix may not fit */
        uint32_t len = arg & 0x80 ? (uint32_t)(arg & 0x7f) * 12u : arg & 0x1f;
        q->hdr = (struct xsd_sockmsg){ XS_READ, arg % 5, 0, len };
        q->start = m->r.req_prod;
    }
    uint32_t room = XENSTORE_RING_SIZE - (m->r.req_prod - m->r.req_cons);
    uint32_t n = 1 + arg % 40;
    uint32_t left = HDR + q->hdr.len - q->written;
    n = n < room ? n : room;
    n = n < left ? n : left;
    for (uint32_t i = 0; i < n; i++)
        m->r.req[MASK_XENSTORE_IDX(m->r.req_prod + i)] = (char)req_byte(q, q->written + i);
    m->r.req_prod += n;
    q->written += n;
}

static void daemon_takes(struct model *m, uint8_t arg)
{
    uint32_t avail = m->r.req_prod - m->r.req_cons;
    uint32_t n = arg % 48u;
    m->r.req_cons += n < avail ? n : avail;
}

static void start_out(struct model *m, uint32_t type, uint32_t req_id, uint32_t len, int answers)
{
    struct xsd_sockmsg h = { type, req_id, 0, len };
    memcpy(m->out.bytes, &h, HDR);
    for (uint32_t i = 0; i < len; i++)
        m->out.bytes[HDR + i] = (uint8_t)(i + type);
    m->out.len = HDR + len;
    m->out.written = 0;
    m->out.answers = answers;
    m->out.active = true;
}

static void daemon_writes(struct model *m, uint8_t arg)
{
    if (!m->out.active) {
        /* the oldest request it has taken whole, if any */
        if (m->next_answer >= (int)m->nreqs)
            return;
        const struct mreq *q = &m->reqs[m->next_answer];
        if (q->written < HDR + q->hdr.len || m->r.req_cons - q->start < HDR + q->hdr.len ||
            m->r.req_cons - q->start > m->r.req_prod - q->start)
            return;
        start_out(m, arg & 1 ? XS_ERROR : XS_READ, q->hdr.req_id, arg % 50u, m->next_answer);
        m->next_answer++;
    }
    uint32_t room = XENSTORE_RING_SIZE - (m->r.rsp_prod - m->r.rsp_cons);
    uint32_t n = 1 + arg % 24u, left = m->out.len - m->out.written;
    n = n < room ? n : room;
    n = n < left ? n : left;
    for (uint32_t i = 0; i < n; i++)
        m->r.rsp[MASK_XENSTORE_IDX(m->r.rsp_prod + i)] = (char)m->out.bytes[m->out.written + i];
    m->r.rsp_prod += n;
    m->out.written += n;
    if (m->out.written == m->out.len) {
        m->out.active = false;
        if (m->out.answers >= 0)
            m->reqs[m->out.answers].answered = true;
    }
}

static void feed(struct model *m, struct ring_follow *f)
{
    if (m->r.req_prod - m->fed_req > XENSTORE_RING_SIZE ||
        m->r.rsp_prod - m->fed_rsp > XENSTORE_RING_SIZE)
        m->may_be_lost = true;   /* bytes overwritten unseen */
    ring_follow_feed(f, &m->r, m->r.req_prod, m->r.rsp_prod);
    m->fed_req = m->r.req_prod;
    m->fed_rsp = m->r.rsp_prod;
}

static bool strictly_inside(XENSTORE_RING_IDX start, uint32_t len, XENSTORE_RING_IDX idx)
{
    return idx - start > 0 && idx - start < len;
}

static void try_switch(struct model *m, struct ring_follow *f)
{
    static struct switch_point sp;
    if (m->r.req_prod - m->fed_req > XENSTORE_RING_SIZE ||
        m->r.rsp_prod - m->fed_rsp > XENSTORE_RING_SIZE)
        m->may_be_lost = true;
    const char *busy = ring_follow_switch_point(f, &m->r, &sp);
    m->fed_req = m->r.req_prod;
    m->fed_rsp = m->r.rsp_prod;
    if (f->unknown) {
        CHECK(m->may_be_lost);
        CHECK(busy || (sp.guessed && sp.nr_pending == 0));
        return;
    }
    /* the truth */
    const struct mreq *w = writing(m);
    uint32_t req_part = w ? w->written : 0;
    uint32_t rsp_part = m->out.active ? m->out.written : 0;
    bool taken_part = w && req_part && strictly_inside(w->start, req_part + 1, m->r.req_cons);
    unsigned pending = 0;
    for (unsigned i = 0; i < m->nreqs; i++) {
        const struct mreq *q = &m->reqs[i];
        if (q == w || q->answered)
            continue;
        taken_part |= strictly_inside(q->start, HDR + q->hdr.len, m->r.req_cons);
        if (!busy && !taken_part && pending < sp.nr_pending) {
            CHECK(f->pending[pending].hdr.req_id == q->hdr.req_id);
            CHECK(f->pending[pending].start == q->start);
            CHECK(f->pending[pending].hdr.len == q->hdr.len);
        }
        pending++;
    }
    if (taken_part) {
        CHECK(busy && strcmp(busy, "the daemon has taken part of a request") == 0);
        return;
    }
    CHECK(!busy);
    CHECK(!sp.guessed);
    CHECK(sp.nr_pending == pending);
    CHECK(sp.req_part == req_part);
    CHECK(sp.rsp_part == rsp_part);
    CHECK(sp.req_cons == m->r.req_cons && sp.req_prod == m->r.req_prod &&
          sp.rsp_prod == m->r.rsp_prod);
    if (rsp_part >= HDR)
        CHECK(memcmp(&sp.rsp_hdr, m->out.bytes, HDR) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct model m;
    static struct ring_follow f;
    memset(&m, 0, sizeof(m));
    ring_follow_start(&f, &m.r);
    for (size_t i = 0; i + 1 < size; i += 2) {
        uint8_t arg = data[i + 1];
        switch (data[i] % 7) {
        case 0: guest_writes(&m, arg); break;
        case 1: daemon_takes(&m, arg); break;
        case 2: daemon_writes(&m, arg); break;
        case 3:
            if (!m.out.active)
                start_out(&m, XS_WATCH_EVENT, 0, arg % 30u, -1);
            break;
        case 4: {
            uint32_t unread = m.r.rsp_prod - m.r.rsp_cons, n = arg % 64u;
            m.r.rsp_cons += n < unread ? n : unread;
            break;
        }
        case 5: feed(&m, &f); break;
        case 6: try_switch(&m, &f); break;
        }
    }
    try_switch(&m, &f);
    ring_follow_free(&f);
    return 0;
}
