/*
 * relay_step.c - one pass of the relay between a guest's ring and its
 * shadow ring (see relay_step.h).  Whole requests from the guest go to the
 * shadow ring one at a time, through the shadow state; replies and events
 * come back through it.  A guest that breaks the ring protocol has the same
 * violation passed on to xenstored, so that it gets exactly what xenstored
 * gives, mirrored back.
 */
#include "relay_step.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsproxy_wire.h"

/* One pass: its arguments, and what it found so far. */
struct pass {
    struct relay *r;
    struct shadow *sh;
    const struct relay_rings *rings;
    const struct relay_env *env;
    struct relay_result res;
};

static void say(const struct relay_env *env, int level, bool limited, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void say(const struct relay_env *env, int level, bool limited, const char *fmt, ...)
{
    if (!env->log)
        return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    env->log(env->ctx, level, limited, text);
}

static void note(const struct relay_env *env, const struct relay_note *n)
{
    if (env->note)
        env->note(env->ctx, n);
}

/* ---- the guest's requests ---------------------------------------------- */

/* The guest violated the ring protocol.  Pass the same violation on to
 * xenstored so that its reaction (error field, dropped state, an error
 * reply, serving the ring again) is the one the guest gets, mirrored back:
 * from now on the guest's request bytes go to xenstored as they are,
 * unparsed (copy_raw_requests), until the ring is reconnected. */
static void guest_broke(struct pass *p, const char *why)
{
    say(p->env, LOG_LVL_WARN, true, "%s", why);
    p->r->state = DOM_BROKEN;
    p->res.journal = true;
}

/* Answer the guest's request (r->in) with the error NAME, without
 * xenstored. */
static void error_locally(struct pass *p, const char *name)
{
    struct msg *m = &p->r->in;
    struct msg *reply = malloc(sizeof(*reply));
    if (reply)
        msg_build_error(reply, &m->hdr, name);
    note(p->env, &(struct relay_note){ .kind = RELAY_NOTE_LOCAL, .m = m, .reply = reply });
    if (reply && bq_push(&p->r->to_guest, reply->bytes, msg_wire_len(reply)) < 0)
        say(p->env, LOG_LVL_ERROR, false, "out of memory for a reply");
    free(reply);
    msg_reset(m);
}

/* xsproxy answers a request itself only after the replies to the requests
 * before it (also one still streaming), and only while less than a ring's
 * worth of output waits for the guest: a guest that does not read its
 * replies is not read either (as xenstored stops reading a domain whose
 * replies pile up), so what waits for it stays within two rings. */
static bool may_answer_locally(const struct pass *p)
{
    return shadow_inflight(p->sh) == 0 && !p->r->out_streaming &&
           bq_pending(&p->r->to_guest) < XENSTORE_RING_SIZE;
}

/* A whole request from the guest.  Returns false when it must wait (a
 * reply xsproxy gives itself waits for the earlier replies). */
static bool guest_request(struct pass *p)
{
    struct relay *r = p->r;
    struct msg *m = &r->in;
    /* a request partly on the shadow ring since a live switch is
     * xenstored's to answer, whatever it is: it has its first bytes */
    bool local = r->in_on_shadow == 0;
    if (local && (xsp_is_proxy_type(m->hdr.type) || !p->env->backend_up)) {
        if (!may_answer_locally(p))
            return false;
        /* dom0-only operations: the guest gets EACCES and nothing happens;
         * xenstored gone: EIO, never silence */
        error_locally(p, xsp_is_proxy_type(m->hdr.type) ? "EACCES" : "EIO");
        return true;
    }
    uint32_t guest_tx = m->hdr.tx_id;
    if (shadow_on_request(p->sh, m) < 0)
        return false;   /* out of memory: try again later */
    note(p->env, &(struct relay_note){ .kind = RELAY_NOTE_SENT, .m = m, .guest_tx = guest_tx });
    r->in_queued = true;
    r->in_sent = r->in_on_shadow;
    r->in_on_shadow = 0;
    return true;
}

/* The guest's request indexes are out of range: xenstored's are made so
 * too, where it reads (a producer past the ring), remembering where they
 * stood for when the guest's are in range again. */
static void mirror_request_overrun(struct pass *p)
{
    struct relay *r = p->r;
    struct ring_dir sreq = p->rings->sreq;
    if (!r->req_corrupt)
        r->s_req_prod_sane = *sreq.prod;
    r->req_corrupt = true;
    *sreq.prod = *sreq.cons + XENSTORE_RING_SIZE + 1;
    p->res.journal = true;
}

/* Does the guest ask for more than the ring's worth at once (WAITING bytes
 * from where the relay reads)?  More than one request waiting, or one too
 * big for the ring: a flood queues them, or streams requests that take
 * the daemon several passes each; a guest doing one thing after another
 * has one small request there at most. */
static bool more_than_one_request(const struct pass *p, XENSTORE_RING_IDX waiting)
{
    struct xsd_sockmsg hdr;
    if (waiting <= MSG_HDR_LEN || waiting > XENSTORE_RING_SIZE)
        return false;
    struct ring_dir greq = p->rings->greq;
    if (ring_peek(greq, *greq.cons, &hdr, MSG_HDR_LEN) != MSG_HDR_LEN)
        return false;
    return hdr.len < waiting - MSG_HDR_LEN || MSG_HDR_LEN + hdr.len > XENSTORE_RING_SIZE;
}

/* May the relay start on, or go on with, the guest's next request?  A new
 * one waits for the domain's turn at xenstored (env->may_start) while
 * others compete; it stays on the guest's ring meanwhile. */
static bool may_take_request(const struct pass *p)
{
    const struct relay *r = p->r;
    const struct relay_env *env = p->env;
    bool may = r->state == DOM_ACTIVE && !r->quiesce && !(r->removing && r->in.got == 0) &&
               !r->in_queued && !bq_pending(&r->inject) &&
               shadow_inflight(p->sh) < env->max_outstanding;
    struct ring_dir greq = p->rings->greq;
    XENSTORE_RING_IDX waiting = __atomic_load_n(greq.prod, __ATOMIC_ACQUIRE) - *greq.cons;
    bool starting = r->in.got == 0 && waiting;
    if (may && starting)
        return !env->may_start || env->may_start(env->ctx, more_than_one_request(p, waiting));
    if ((!starting || r->quiesce) && env->idle)
        env->idle(env->ctx);
    return may;
}

/* 1. the guest's next request, only the bytes it is made of.  True when it
 * moved. */
static bool take_request(struct pass *p)
{
    struct relay *r = p->r;
    struct ring_dir greq = p->rings->greq;
    bool progress = false;
    uint32_t want = msg_wanted(&r->in);
    if (want) {
        /* like xenstored: a guest waits for room only when it saw its ring
         * full, so only then does taking bytes need a wake-up.  Checked
         * after the read against the consumer index before it: the guest
         * may fill the ring meanwhile. */
        XENSTORE_RING_IDX cons_before = *greq.cons;
        int n = ring_read(greq, r->in.bytes + r->in.got, want);
        if (n < 0) {
            mirror_request_overrun(p);
            p->res.notify_shadow = true;
            guest_broke(p, "request ring indexes out of range");
        } else if (n > 0) {
            r->in.got += (uint32_t)n;
            progress = true;
            if (__atomic_load_n(greq.prod, __ATOMIC_ACQUIRE) - cons_before >= XENSTORE_RING_SIZE)
                p->res.notify_guest = true;
        }
    }
    bool header = r->state == DOM_ACTIVE && r->in.got >= MSG_HDR_LEN;
    if (header && r->in.hdr.len > XENSTORE_PAYLOAD_MAX) {
        /* pass the bad header on, as the guest wrote it */
        r->in.got = MSG_HDR_LEN;
        r->in_queued = true;
        r->in_sent = 0;
        guest_broke(p, "message longer than XENSTORE_PAYLOAD_MAX");
    } else if (header && msg_wanted(&r->in) == 0) {
        r->in.bytes[r->in.got] = 0;
        if (guest_request(p))
            progress = true;
    }
    return progress;
}

/* 1'. A guest that broke the protocol has its request bytes passed on as
 * it wrote them, as far as the shadow ring has room, so that xenstored
 * reads what it would have read (the payload of a bad header, the next
 * requests) and answers as it would; and the guest sees them taken only as
 * xenstored takes them (a daemon that gave up on the ring leaves them
 * there, as it would directly).  Overrun indexes are mirrored both ways.
 * True when bytes or indexes moved. */
static bool copy_raw_requests(struct pass *p)
{
    struct relay *r = p->r;
    struct ring_dir greq = p->rings->greq, sreq = p->rings->sreq;
    bool moved = false;
    if (r->req_corrupt) {
        if (ring_avail(greq) < 0)
            return false;
        r->req_corrupt = false;   /* in range again */
        *sreq.prod = r->s_req_prod_sane;
        say(p->env, LOG_LVL_INFO, true, "request ring indexes in range again");
        moved = true;
    }
    if (!r->raw) {
        r->raw = true;
        r->raw_off = *greq.cons - *sreq.prod;
        moved = true;
    }
    /* the guest's consumer follows xenstored's */
    XENSTORE_RING_IDX cons_before = *greq.cons;
    XENSTORE_RING_IDX taken = __atomic_load_n(sreq.cons, __ATOMIC_ACQUIRE) + r->raw_off;
    if ((int32_t)(taken - *greq.cons) > 0 && taken - *greq.cons <= *greq.prod - *greq.cons) {
        *greq.cons = taken;
        moved = true;
    }
    /* and what it wrote after what was passed on goes on */
    uint8_t buf[XENSTORE_RING_SIZE];
    int room = ring_space(sreq);
    int n = room > 0 ? ring_peek(greq, *sreq.prod + r->raw_off, buf, (uint32_t)room) : 0;
    if (n < 0 && ring_avail(greq) < 0) {
        mirror_request_overrun(p);
        return true;
    }
    if (n > 0) {
        ring_write(sreq, buf, (uint32_t)n);
        moved = true;
    }
    if (*greq.cons != cons_before &&
        __atomic_load_n(greq.prod, __ATOMIC_ACQUIRE) - cons_before >= XENSTORE_RING_SIZE)
        p->res.notify_guest = true;
    if (moved)
        p->res.journal = true;
    return moved;
}

/* 0. xsproxy's own requests (watches restored) go first.  True when bytes
 * moved. */
static bool send_injected(struct pass *p)
{
    struct relay *r = p->r;
    if (r->in_queued || !bq_pending(&r->inject))
        return false;
    int n = ring_write(p->rings->sreq, bq_head(&r->inject), (uint32_t)bq_pending(&r->inject));
    if (n <= 0)
        return false;
    bq_consume(&r->inject, (size_t)n);
    return true;
}

/* 2. the guest's request on to the shadow ring.  True when bytes moved. */
static bool send_request(struct pass *p)
{
    struct relay *r = p->r;
    if (!r->in_queued)
        return false;
    uint32_t total = r->in.got;
    int n = ring_write(p->rings->sreq, r->in.bytes + r->in_sent, total - r->in_sent);
    if (n > 0)
        r->in_sent += (uint32_t)n;
    if (r->in_sent == total) {
        r->in_queued = false;
        r->in_sent = 0;
        msg_reset(&r->in);
    }
    return n > 0;
}

/* ---- xenstored's replies and events ------------------------------------ */

void relay_reset_out(struct relay *r)
{
    msg_reset(&r->out);
    r->out_streaming = false;
    r->out_discard = false;
    r->out_skip = 0;
}

int relay_inject(struct relay *r, const struct relay_env *env, const struct msg *m)
{
    note(env, &(struct relay_note){ .kind = RELAY_NOTE_INJECTED, .m = m });
    return bq_push(&r->inject, m->bytes, msg_wire_len(m));
}

void relay_replay_progress(struct relay *r, struct shadow *sh, const struct relay_env *env)
{
    struct msg *m = malloc(sizeof(*m));
    while (m && shadow_next_replay(sh, m, r->next_internal_id)) {
        r->next_internal_id++;
        relay_inject(r, env, m);
    }
    free(m);
    if (!r->restoring || shadow_replays_pending(sh) || shadow_internal_inflight(sh))
        return;
    r->restoring = false;
    r->quiesce = r->transfer_held;
    for (const struct shadow_tx *t = sh->txs; t; t = t->next)
        say(env, LOG_LVL_INFO, false, "transaction %u %s", t->guest_id,
            t->doomed ? "ends in EAGAIN (not replayable, or its replay got another answer)"
                      : "replayed: it goes on");
}

/* The message being read from xenstored goes to the guest, up to END: from
 * its start, or from where it stood at a live switch (SKIP, out_skip), the
 * guest's ring having the bytes before.  The guest is then in the middle
 * of that message, which is the first in to_guest. */
static void out_to_guest(struct pass *p, uint32_t skip, uint32_t end)
{
    struct relay *r = p->r;
    uint32_t from = skip < end ? skip : end;
    if (from)
        r->g_msg_left = msg_wire_len(&r->out) - from;
    if (bq_push(&r->to_guest, r->out.bytes + from, end - from) < 0)
        say(p->env, LOG_LVL_ERROR, false, "out of memory for a reply");
}

static void backend_message(struct pass *p)
{
    struct relay *r = p->r;
    struct msg *m = &r->out;
    uint32_t skip = r->out_skip;
    r->out_skip = 0;
    uint32_t backend_tx = m->hdr.tx_id;
    enum shadow_reply how = shadow_on_reply(p->sh, m);
    note(p->env, &(struct relay_note){ .kind = RELAY_NOTE_RECEIVED, .m = m, .how = how,
                                       .backend_tx = backend_tx });
    if (!shadow_reply_internal(how))
        out_to_guest(p, skip, msg_wire_len(m));
    msg_reset(m);
    if (how == SHADOW_INTERNAL_TX)
        relay_replay_progress(r, p->sh, p->env);
}

/* A reply or event too big for a ring (a large READ or DIRECTORY, a long
 * watch path): it cannot be whole in the shadow ring, so once its header is
 * in, translate the header and let the rest through as it arrives.  Only
 * small replies carry what the shadow state needs from a body. */
static void start_streaming(struct pass *p)
{
    struct relay *r = p->r;
    struct msg *m = &r->out;
    uint32_t skip = r->out_skip;
    r->out_skip = 0;
    enum shadow_reply how = shadow_on_reply(p->sh, m);
    r->out_streaming = true;
    note(p->env, &(struct relay_note){ .kind = RELAY_NOTE_STREAM, .m = m, .how = how });
    if (shadow_reply_internal(how))
        r->out_discard = true;   /* xsproxy's own: nothing for the guest */
    else
        out_to_guest(p, skip, m->got);   /* the header (and what came with it) */
}

static void end_streaming(struct pass *p)
{
    struct relay *r = p->r;
    shadow_on_streamed_end(p->sh, &r->out);
    bool own = r->out_discard;
    note(p->env, &(struct relay_note){ .kind = RELAY_NOTE_STREAMED, .m = &r->out,
                                       .how = own ? SHADOW_INTERNAL : SHADOW_REPLY });
    relay_reset_out(r);
    if (own)
        relay_replay_progress(r, p->sh, p->env);
}

/* What xsproxy has read from the shadow's response ring and not yet put
 * on the guest's. */
static uint32_t held_for_guest(const struct relay *r)
{
    return (uint32_t)bq_pending(&r->to_guest) + (r->out_streaming ? 0 : r->out.got - r->out_skip);
}

/* Is M's header in, and one of a message that can be read whole? */
static bool header_in(const struct msg *m)
{
    return m->got >= MSG_HDR_LEN && m->hdr.len <= XENSTORE_PAYLOAD_MAX;
}

/* 3. xenstored's replies and events, read no faster than the guest takes
 * them (see sync_shadow_cons).  True when bytes moved. */
static bool read_replies(struct pass *p)
{
    struct relay *r = p->r;
    if (r->rsp_corrupt)
        return false;
    int gfree = ring_space(p->rings->grsp);
    uint32_t held = held_for_guest(r);
    uint32_t budget = gfree > 0 && (uint32_t)gfree > held ? (uint32_t)gfree - held : 0;
    if (r->quiesce)
        budget = XENSTORE_PAYLOAD_MAX + MSG_HDR_LEN;   /* gather it all: it is what
                                                          a save carries */
    uint32_t want = msg_wanted(&r->out);
    if (r->out.got >= MSG_HDR_LEN && r->out.hdr.len > XENSTORE_PAYLOAD_MAX) {
        say(p->env, LOG_LVL_ERROR, false, "xenstored sent a message of %u bytes",
            r->out.hdr.len);
        msg_reset(&r->out);
        want = 0;
    }
    uint32_t take = want < budget ? want : budget;
    int n = take ? ring_peek(p->rings->srsp, r->out_rd, r->out.bytes + r->out.got, take) : 0;
    if (n <= 0)
        return false;
    if (r->out_streaming && !r->out_discard)
        bq_push(&r->to_guest, r->out.bytes + r->out.got, (size_t)n);
    r->out.got += (uint32_t)n;
    r->out_rd += (uint32_t)n;
    if (!r->out_streaming && header_in(&r->out) &&
        MSG_HDR_LEN + r->out.hdr.len > XENSTORE_RING_SIZE)
        start_streaming(p);
    /* looked at again: the shadow may have rewritten the header */
    if (header_in(&r->out) && msg_wanted(&r->out) == 0) {
        r->out.bytes[r->out.got] = 0;
        if (r->out_streaming)
            end_streaming(p);
        else
            backend_message(p);
    }
    return true;
}

/* Keep track of message boundaries in what goes to the guest (a save
 * records how much of a partly written reply is still to come). */
static void note_written(struct relay *r, uint32_t n)
{
    const uint8_t *at = bq_head(&r->to_guest);
    while (n) {
        if (r->g_msg_left == 0) {
            struct xsd_sockmsg hdr;
            memcpy(&hdr, at, sizeof(hdr));
            r->g_msg_left = MSG_HDR_LEN + (hdr.len <= XENSTORE_PAYLOAD_MAX ? hdr.len : 0);
        }
        uint32_t take = n < r->g_msg_left ? n : r->g_msg_left;
        r->g_msg_left -= take;
        n -= take;
        at += take;
    }
}

/* 4. on to the guest's response ring.  True when bytes moved. */
static bool write_to_guest(struct pass *p)
{
    struct relay *r = p->r;
    if (!bq_pending(&r->to_guest) || r->rsp_corrupt)
        return false;
    int n = ring_write(p->rings->grsp, bq_head(&r->to_guest), (uint32_t)bq_pending(&r->to_guest));
    if (n <= 0)
        return false;
    note_written(r, (uint32_t)n);
    bq_consume(&r->to_guest, (size_t)n);
    return true;
}

/* The guest's response indexes out of range, or sane again: xenstored's are
 * made so too (a consumer past its producer), so that it reacts as it would
 * to the guest - C xenstored gives up on the ring, oxenstored waits until
 * the index is sane.  What xsproxy holds for the guest waits meanwhile, as
 * it would in xenstored.  True when the shadow's index moved. */
static bool mirror_response_indexes(struct pass *p)
{
    struct relay *r = p->r;
    struct ring_dir grsp = p->rings->grsp, srsp = p->rings->srsp;
    bool broken = ring_space(grsp) < 0;
    if (broken == r->rsp_corrupt)
        return false;
    r->rsp_corrupt = broken;
    p->res.journal = true;
    if (broken) {
        *srsp.cons = *srsp.prod - XENSTORE_RING_SIZE - 1;
        say(p->env, LOG_LVL_WARN, true, "response ring indexes out of range");
    } else {
        *srsp.cons = r->out_rd - ((*grsp.prod - *grsp.cons) + held_for_guest(r));
        say(p->env, LOG_LVL_INFO, true, "response ring indexes in range again");
    }
    return true;
}

/* The shadow's response ring is consumed in step with the guest's: its
 * rsp_cons trails xsproxy's read position by what is still on its way to,
 * or unread on, the guest's ring.  So xenstored sees the guest's own
 * back-pressure, and keeps (and coalesces) what the guest is slow to take
 * exactly as it would directly; and xsproxy holds at most a ring's worth of
 * a domain's output.  True when rsp_cons moved. */
static bool sync_shadow_cons(struct pass *p)
{
    const struct relay *r = p->r;
    struct ring_dir grsp = p->rings->grsp, srsp = p->rings->srsp;
    if (r->rsp_corrupt)
        return false;
    uint32_t g_occ = *grsp.prod - *grsp.cons;
    if (g_occ > XENSTORE_RING_SIZE)
        return false;   /* the guest broke its ring: step 4 deals with it */
    XENSTORE_RING_IDX want = r->out_rd - (g_occ + held_for_guest(r));
    if ((int32_t)(want - *srsp.cons) <= 0 || (int32_t)(r->out_rd - want) < 0)
        return false;
    *srsp.cons = want;
    return true;
}

/* ---- the pass ---------------------------------------------------------- */

struct relay_result relay_step(struct relay *r, struct shadow *sh,
                               const struct relay_rings *rings, const struct relay_env *env)
{
    struct pass p = { .r = r, .sh = sh, .rings = rings, .env = env };
    if (mirror_response_indexes(&p))
        p.res.notify_shadow = true;
    for (;;) {   /* steps 0. to 4. above, until nothing moves */
        bool progress = false;
        if (send_injected(&p))
            progress = p.res.notify_shadow = true;
        if (may_take_request(&p) && take_request(&p))
            progress = true;
        /* 1'. or, the guest having broken the protocol, its bytes as they are */
        if (r->state == DOM_BROKEN && !r->quiesce && !r->in_queued && !bq_pending(&r->inject) &&
            copy_raw_requests(&p))
            progress = p.res.notify_shadow = true;
        if (send_request(&p))
            progress = p.res.notify_shadow = true;
        if (read_replies(&p))
            progress = true;
        if (write_to_guest(&p))
            progress = p.res.notify_guest = true;
        if (sync_shadow_cons(&p))
            p.res.notify_shadow = true;
        if (!progress)
            break;
        p.res.moved = true;
        p.res.journal = true;
    }
    return p.res;
}
