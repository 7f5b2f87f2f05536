/*
 * ring_follow.c - a ring's two streams and its unanswered requests (see
 * ring_follow.h).
 */
#include "ring_follow.h"

#include <stdlib.h>
#include <string.h>

void ring_follow_start(struct ring_follow *f, const struct xenstore_domain_interface *r)
{
    XENSTORE_RING_IDX req_cons = __atomic_load_n(&r->req_cons, __ATOMIC_ACQUIRE);
    XENSTORE_RING_IDX rsp_prod = __atomic_load_n(&r->rsp_prod, __ATOMIC_ACQUIRE);
    ring_follow_free(f);
    /* a fresh stream is between messages for sure; one with history (a
     * domain introduced again) only by the look of its bytes */
    stream_track_start(&f->req, r->req, req_cons, req_cons == 0);
    stream_track_start(&f->rsp, r->rsp, rsp_prod, rsp_prod == 0);
    /* and a ring with history may owe replies to requests nobody saw */
    f->unknown = !(req_cons == 0 && rsp_prod == 0);
}

void ring_follow_free(struct ring_follow *f)
{
    free(f->pending);
    memset(f, 0, sizeof(*f));
}

static void on_request(void *ctx, const struct xsd_sockmsg *hdr, XENSTORE_RING_IDX start,
                       bool whole)
{
    struct ring_follow *f = ctx;
    if (whole || f->unknown)
        return;
    if (f->len == f->cap) {
        unsigned cap = f->cap ? f->cap * 2 : 8;
        struct followed_req *np = cap <= RING_FOLLOW_PENDING_MAX
                                      ? realloc(f->pending, cap * sizeof(*np)) : NULL;
        if (!np) {
            f->unknown = true;
            f->len = 0;
            return;
        }
        f->pending = np;
        f->cap = cap;
    }
    f->pending[f->len++] = (struct followed_req){ *hdr, start };
}

/* A whole reply answers the oldest request of its id (both daemons answer
 * a connection in order; a watch event answers nothing). */
static void on_reply(void *ctx, const struct xsd_sockmsg *hdr, XENSTORE_RING_IDX start,
                     bool whole)
{
    struct ring_follow *f = ctx;
    (void)start;
    if (!whole || hdr->type == XS_WATCH_EVENT || f->unknown)
        return;
    for (unsigned i = 0; i < f->len; i++) {
        if (f->pending[i].hdr.req_id != hdr->req_id)
            continue;
        memmove(&f->pending[i], &f->pending[i + 1], (f->len - i - 1) * sizeof(f->pending[0]));
        f->len--;
        return;
    }
}

void ring_follow_feed(struct ring_follow *f, const struct xenstore_domain_interface *r,
                      XENSTORE_RING_IDX req_prod, XENSTORE_RING_IDX rsp_prod)
{
    stream_track_feed(&f->req, r->req, req_prod, on_request, f);
    stream_track_feed(&f->rsp, r->rsp, rsp_prod, on_reply, f);
    if (!f->req.synced || !f->rsp.synced) {
        f->unknown = true;
        f->len = 0;
    }
}

/* Is IDX strictly inside the LEN bytes from START (wrapping indexes)? */
static bool inside(XENSTORE_RING_IDX start, uint32_t len, XENSTORE_RING_IDX idx)
{
    return idx - start > 0 && idx - start < len;
}

/* The old rule, for streams whose history is not known: everything the
 * guest wrote taken, and both streams looking whole. */
static const char *guess(const struct xenstore_domain_interface *snap, struct switch_point *out)
{
    if (snap->req_cons != snap->req_prod)
        return "the daemon has not taken all of the guest's requests (the streams were "
               "not followed from their start)";
    if (!stream_looks_whole(snap->req, snap->req_prod))
        return "the guest is writing a request";
    if (!stream_looks_whole(snap->rsp, snap->rsp_prod))
        return "the daemon is writing a reply";
    out->guessed = true;
    return NULL;
}

const char *ring_follow_switch_point(struct ring_follow *f,
                                     const struct xenstore_domain_interface *snap,
                                     struct switch_point *out)
{
    memset(out, 0, sizeof(*out));
    ring_follow_feed(f, snap, snap->req_prod, snap->rsp_prod);
    out->req_cons = snap->req_cons;
    out->req_prod = snap->req_prod;
    out->rsp_prod = snap->rsp_prod;
    if (snap->req_prod - snap->req_cons > XENSTORE_RING_SIZE)
        return "the guest's request ring is broken";
    if (snap->rsp_prod - snap->rsp_cons > XENSTORE_RING_SIZE)
        return "the guest's response ring is broken";
    if (f->unknown)
        return guess(snap, out);
    out->req_part = stream_track_partial(&f->req);
    out->rsp_part = stream_track_partial(&f->rsp);
    if (out->rsp_part >= sizeof(struct xsd_sockmsg))
        memcpy(&out->rsp_hdr, f->rsp.hdr, sizeof(out->rsp_hdr));
    /* the request being written is the requester's to finish, not pending;
     * the daemon has part of it if it took any of its bytes (it goes on
     * past req_prod) */
    XENSTORE_RING_IDX part_start = snap->req_prod - out->req_part;
    if (out->req_part && inside(part_start, out->req_part + 1, snap->req_cons))
        return "the daemon has taken part of a request";
    unsigned whole = f->len;
    if (out->req_part >= sizeof(struct xsd_sockmsg) && whole &&
        f->pending[whole - 1].start == part_start)
        whole--;
    for (unsigned i = 0; i < whole; i++) {
        const struct followed_req *p = &f->pending[i];
        if (inside(p->start, sizeof(p->hdr) + p->hdr.len, snap->req_cons))
            return "the daemon has taken part of a request";
    }
    out->nr_pending = whole;
    return NULL;
}
