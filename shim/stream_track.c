/*
 * stream_track.c - following a ring's byte stream message by message (see
 * stream_track.h for why).
 */
#include "stream_track.h"

#include <string.h>

bool stream_looks_whole(const char *buf, XENSTORE_RING_IDX prod)
{
    XENSTORE_RING_IDX oldest = prod > XENSTORE_RING_SIZE ? prod - XENSTORE_RING_SIZE : 0;
    if (prod == 0)
        return true;
    for (uint32_t back = sizeof(struct xsd_sockmsg); back <= prod - oldest; back++) {
        uint8_t b[sizeof(struct xsd_sockmsg)];
        for (uint32_t i = 0; i < sizeof(b); i++)
            b[i] = (uint8_t)buf[MASK_XENSTORE_IDX(prod - back + i)];
        struct xsd_sockmsg h;
        memcpy(&h, b, sizeof(h));
        if (h.len == back - sizeof(h) && h.type < 64)
            return true;
    }
    return false;
}

void stream_track_start(struct stream_track *s, const char *buf, XENSTORE_RING_IDX start,
                        bool known)
{
    memset(s, 0, sizeof(*s));
    s->pos = s->msg_start = start;
    s->synced = known || stream_looks_whole(buf, start);
}

void stream_track_feed(struct stream_track *s, const char *buf, XENSTORE_RING_IDX prod,
                       stream_track_fn *fn, void *ctx)
{
    if (!s->synced) {
        if (stream_looks_whole(buf, prod))
            stream_track_start(s, buf, prod, true);
        return;
    }
    XENSTORE_RING_IDX n = prod - s->pos;
    if (n > XENSTORE_RING_SIZE) {
        /* also a PROD behind POS: nothing a writer does */
        s->synced = false;
        return;
    }
    struct xsd_sockmsg h;
    while (s->pos != prod) {
        if (s->body_left) {
            uint32_t take = prod - s->pos < s->body_left ? prod - s->pos : s->body_left;
            s->body_left -= take;
            s->pos += take;
            if (s->body_left == 0 && fn) {
                memcpy(&h, s->hdr, sizeof(h));
                fn(ctx, &h, s->msg_start, true);
            }
            continue;
        }
        if (s->hdr_got == sizeof(s->hdr))
            s->hdr_got = 0;   /* the last message ended: a new one begins */
        if (s->hdr_got == 0)
            s->msg_start = s->pos;
        s->hdr[s->hdr_got++] = (uint8_t)buf[MASK_XENSTORE_IDX(s->pos)];
        s->pos++;
        if (s->hdr_got < sizeof(s->hdr))
            continue;
        memcpy(&h, s->hdr, sizeof(h));
        if (h.len > XENSTORE_PAYLOAD_MAX) {
            /* no end either side keeps such a stream: take no position */
            s->synced = false;
            return;
        }
        s->body_left = h.len;
        if (fn) {
            fn(ctx, &h, s->msg_start, false);
            if (h.len == 0)
                fn(ctx, &h, s->msg_start, true);
        }
    }
}

uint32_t stream_track_partial(const struct stream_track *s)
{
    if (s->hdr_got < sizeof(s->hdr))
        return s->hdr_got;
    if (s->body_left == 0)
        return 0;   /* the header's message ended at pos */
    return s->pos - s->msg_start;
}

bool stream_track_between(const struct stream_track *s, const char *buf, XENSTORE_RING_IDX prod)
{
    if (!s->synced)
        return stream_looks_whole(buf, prod);
    return s->pos == prod && stream_track_partial(s) == 0;
}
