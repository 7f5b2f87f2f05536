/*
 * persist.c - what of a domain goes into its journal, and back: everything
 * xsproxy cannot learn again from the rings after a crash.  That is the
 * relay's position in both streams (the message being read from the guest,
 * how much of it went on, the message being read from xenstored, output
 * not yet on the guest's ring, xsproxy's own requests not yet sent), the
 * ring indexes that go with it, the flags (quiesce, restoring...) and the
 * shadow (watches, transaction ids, requests in flight; shadow_codec.c).
 * The watch list of a domain that has had many goes into a journal of its
 * own (persist_encode_watches), committed only when it changed: at the
 * watch quota it is about 0.5 MiB, which every relay pass would otherwise
 * copy.  A few stay inline, sparing an idle domain a second file's page.
 *
 * Pure: bytes in, bytes out.  Host byte order, since a journal never
 * leaves the host (migration uses records/).  Every length is checked on
 * the way back in: a damaged journal is refused with a reason.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

#define PERSIST_MAGIC 0x44505358u   /* "XSPD" */
#define PERSIST_VERSION 2u   /* 2 added in_on_shadow, out_skip, s_req_prod_sane,
                                raw_off; 1 is read too */

enum {
    PF_IN_QUEUED = 1 << 0,
    PF_OUT_STREAMING = 1 << 1,
    PF_OUT_DISCARD = 1 << 2,
    PF_RSP_CORRUPT = 1 << 3,
    PF_QUIESCE = 1 << 4,
    PF_RESTORING = 1 << 5,
    PF_LIVE = 1 << 6,
    PF_DIVERGED = 1 << 7,
    PF_SWITCHING = 1 << 8,
    PF_REQ_CORRUPT = 1 << 9,
    PF_RAW = 1 << 10,
};

/* The fixed part, as one struct: simple to write, checked field by field
 * when read. */
struct persist_fixed {
    uint32_t magic, version;
    uint32_t domid, remote_port, xsd_port, state, flags;
    uint32_t in_got, in_sent, out_got, out_rd, g_msg_left, next_internal_id;
    uint32_t g_req_cons, s_req_prod, s_rsp_cons, g_rsp_prod;
    uint32_t to_guest_len, inject_len;
    uint64_t gfn, requests, replies, events;
    char inject_error[16];
    uint32_t in_on_shadow, out_skip, s_req_prod_sane, raw_off;   /* version 2 */
};

/* The fixed part of a version 1 journal: without the last two fields. */
#define PERSIST_FIXED_V1 offsetof(struct persist_fixed, in_on_shadow)

struct growbuf {
    uint8_t **buf;
    size_t *len, *cap;
};

static int put(struct growbuf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;   /* P may be NULL then (an empty queue) */
    if (*b->len + n > *b->cap) {
        size_t cap = *b->cap ? *b->cap : 1024;
        while (cap < *b->len + n)
            cap *= 2;
        uint8_t *nb = realloc(*b->buf, cap);
        if (!nb)
            return -1;
        *b->buf = nb;
        *b->cap = cap;
    }
    memcpy(*b->buf + *b->len, p, n);
    *b->len += n;
    return 0;
}

int persist_encode(const struct domain *d, uint8_t **buf, size_t *len, size_t *cap)
{
    struct persist_fixed f;
    memset(&f, 0, sizeof(f));
    f.magic = PERSIST_MAGIC;
    f.version = PERSIST_VERSION;
    f.domid = d->domid;
    f.remote_port = d->remote_port;
    f.xsd_port = d->xsd_port;
    f.state = d->rl.state;
    f.flags = (d->rl.in_queued ? PF_IN_QUEUED : 0) | (d->rl.out_streaming ? PF_OUT_STREAMING : 0) |
              (d->rl.out_discard ? PF_OUT_DISCARD : 0) | (d->rl.rsp_corrupt ? PF_RSP_CORRUPT : 0) |
              (d->rl.quiesce ? PF_QUIESCE : 0) | (d->rl.restoring ? PF_RESTORING : 0) |
              (d->sw.live ? PF_LIVE : 0) | (d->sw.diverged ? PF_DIVERGED : 0) |
              (d->sw.switching ? PF_SWITCHING : 0) | (d->rl.req_corrupt ? PF_REQ_CORRUPT : 0) |
              (d->rl.raw ? PF_RAW : 0);
    f.in_got = d->rl.in.got;
    f.in_sent = d->rl.in_sent;
    f.out_got = d->rl.out.got;
    f.out_rd = d->rl.out_rd;
    f.g_msg_left = d->rl.g_msg_left;
    f.next_internal_id = d->rl.next_internal_id;
    f.g_req_cons = d->g_req_cons;
    f.s_req_prod = d->s_req_prod;
    f.s_rsp_cons = d->s_rsp_cons;
    f.g_rsp_prod = d->g_rsp_prod;
    f.to_guest_len = (uint32_t)bq_pending(&d->rl.to_guest);
    f.inject_len = (uint32_t)bq_pending(&d->rl.inject);
    f.gfn = d->gfn;
    f.requests = d->requests;
    f.replies = d->replies;
    f.events = d->events;
    memcpy(f.inject_error, d->inject_error, sizeof(f.inject_error));
    f.in_on_shadow = d->rl.in_on_shadow;
    f.out_skip = d->rl.out_skip;
    f.s_req_prod_sane = d->rl.s_req_prod_sane;
    f.raw_off = d->rl.raw_off;
    *len = 0;
    struct growbuf b = { buf, len, cap };
    if (put(&b, &f, sizeof(f)) < 0 || put(&b, d->rl.in.bytes, d->rl.in.got) < 0 ||
        put(&b, d->rl.out.bytes, d->rl.out.got) < 0 ||
        put(&b, bq_head(&d->rl.to_guest), f.to_guest_len) < 0 ||
        put(&b, bq_head(&d->rl.inject), f.inject_len) < 0)
        return -1;
    return (d->jnl.watches ? shadow_encode_apart : shadow_encode)(&d->sh, buf, len, cap);
}

int persist_encode_watches(const struct domain *d, uint8_t **buf, size_t *len, size_t *cap)
{
    *len = 0;
    return shadow_encode_watches(&d->sh, buf, len, cap);
}

int persist_decode_watches(struct domain *d, const uint8_t *buf, size_t len, char *err,
                           size_t errlen)
{
    return shadow_decode_watches(&d->sh, buf, len, err, errlen);
}

/* The fixed part at the start of BUF, checked: its fields in F, its length
 * (which goes by the version) in *FIXED, and what the whole journal needs
 * for the messages and queues it announces in *NEED.  0, or -1 with ERR. */
static int read_fixed(const uint8_t *buf, size_t len, struct persist_fixed *f, size_t *fixed,
                      size_t *need, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    if (len < PERSIST_FIXED_V1) {
        snprintf(err, errlen, "truncated (%zu octets)", len);
        return -1;
    }
    memcpy(f, buf, PERSIST_FIXED_V1);
    if (f->magic != PERSIST_MAGIC || (f->version != PERSIST_VERSION && f->version != 1)) {
        snprintf(err, errlen, "not a domain's state (magic %#x version %u)", f->magic,
                 f->version);
        return -1;
    }
    *fixed = f->version == 1 ? PERSIST_FIXED_V1 : sizeof(*f);
    if (len < *fixed) {
        snprintf(err, errlen, "truncated (%zu octets)", len);
        return -1;
    }
    memcpy(f, buf, *fixed);
    if (f->state > DOM_RECONNECTING || f->in_got > MSG_MAX_LEN || f->in_sent > f->in_got ||
        f->out_got > MSG_MAX_LEN || f->g_msg_left > MSG_MAX_LEN ||
        f->in_on_shadow > f->in_got || f->out_skip > f->out_got) {
        snprintf(err, errlen, "a field is out of range");
        return -1;
    }
    *need = *fixed + (size_t)f->in_got + f->out_got + f->to_guest_len + f->inject_len;
    if (len < *need) {
        snprintf(err, errlen, "truncated: %zu octets of %zu", len, *need);
        return -1;
    }
    return 0;
}

/* The fixed part's ports, flags, positions, indexes and counters into D. */
static void take_fixed(struct domain *d, const struct persist_fixed *f)
{
    d->domid = f->domid;
    d->gfn = f->gfn;
    d->remote_port = f->remote_port;
    d->xsd_port = f->xsd_port;
    d->rl.state = (enum domain_state)f->state;
    d->rl.in_queued = f->flags & PF_IN_QUEUED;
    d->rl.out_streaming = f->flags & PF_OUT_STREAMING;
    d->rl.out_discard = f->flags & PF_OUT_DISCARD;
    d->rl.rsp_corrupt = f->flags & PF_RSP_CORRUPT;
    d->rl.quiesce = f->flags & PF_QUIESCE;
    d->rl.restoring = f->flags & PF_RESTORING;
    d->sw.live = f->flags & PF_LIVE;
    d->sw.diverged = f->flags & PF_DIVERGED;
    d->sw.switching = f->flags & PF_SWITCHING;
    d->rl.req_corrupt = f->flags & PF_REQ_CORRUPT;
    d->rl.s_req_prod_sane = f->s_req_prod_sane;
    d->rl.raw = f->flags & PF_RAW;
    d->rl.raw_off = f->raw_off;
    d->rl.in_sent = f->in_sent;
    d->rl.in_on_shadow = f->in_on_shadow;
    d->rl.out_skip = f->out_skip;
    d->rl.out_rd = f->out_rd;
    d->rl.g_msg_left = f->g_msg_left;
    d->rl.next_internal_id = f->next_internal_id;
    d->g_req_cons = f->g_req_cons;
    d->s_req_prod = f->s_req_prod;
    d->s_rsp_cons = f->s_rsp_cons;
    d->g_rsp_prod = f->g_rsp_prod;
    d->requests = f->requests;
    d->replies = f->replies;
    d->events = f->events;
    memcpy(d->inject_error, f->inject_error, sizeof(d->inject_error));
    d->inject_error[sizeof(d->inject_error) - 1] = '\0';
}

int persist_decode(struct domain *d, const uint8_t *buf, size_t len, bool *watches_apart,
                   char *err, size_t errlen)
{
    struct persist_fixed f;
    size_t fixed, need;
    if (read_fixed(buf, len, &f, &fixed, &need, err, errlen) < 0)
        return -1;
    take_fixed(d, &f);
    const uint8_t *p = buf + fixed;
    msg_reset(&d->rl.in);
    memcpy(d->rl.in.bytes, p, f.in_got);
    d->rl.in.got = f.in_got;
    p += f.in_got;
    msg_reset(&d->rl.out);
    memcpy(d->rl.out.bytes, p, f.out_got);
    d->rl.out.got = f.out_got;
    p += f.out_got;
    if ((f.to_guest_len && bq_push(&d->rl.to_guest, p, f.to_guest_len) < 0) ||
        (f.inject_len && bq_push(&d->rl.inject, p + f.to_guest_len, f.inject_len) < 0)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    p += f.to_guest_len + f.inject_len;
    size_t used = 0;
    if (shadow_decode_apart(&d->sh, p, len - need, &used, watches_apart, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    bq_free(&d->rl.to_guest);
    bq_free(&d->rl.inject);
    return -1;
}
