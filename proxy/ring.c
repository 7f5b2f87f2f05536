/*
 * ring.c - bytes in and out of a xenstore ring direction (see ring.h).
 * Acquire/release ordering stands in for the rmb/wmb of the ring protocol.
 */
#include "ring.h"

#include <string.h>

int ring_avail(struct ring_dir r)
{
    XENSTORE_RING_IDX prod = __atomic_load_n(r.prod, __ATOMIC_ACQUIRE);
    XENSTORE_RING_IDX cons = __atomic_load_n(r.cons, __ATOMIC_ACQUIRE);
    uint32_t n = prod - cons;
    return n > XENSTORE_RING_SIZE ? -1 : (int)n;
}

int ring_space(struct ring_dir r)
{
    int n = ring_avail(r);
    return n < 0 ? -1 : XENSTORE_RING_SIZE - n;
}

/* N bytes of the ring at index AT into DST, across its end if need be. */
static void copy_from(const char *buf, XENSTORE_RING_IDX at, void *dst, uint32_t n)
{
    uint32_t first = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(at);
    if (first > n)
        first = n;
    memcpy(dst, buf + MASK_XENSTORE_IDX(at), first);
    memcpy((char *)dst + first, buf, n - first);
}

int ring_read(struct ring_dir r, void *dst, uint32_t max)
{
    int avail = ring_avail(r);
    if (avail < 0)
        return -1;
    XENSTORE_RING_IDX cons = *r.cons;
    uint32_t n = (uint32_t)avail < max ? (uint32_t)avail : max;
    copy_from(r.buf, cons, dst, n);
    __atomic_store_n(r.cons, cons + n, __ATOMIC_RELEASE);
    return (int)n;
}

int ring_peek(struct ring_dir r, XENSTORE_RING_IDX pos, void *dst, uint32_t max)
{
    XENSTORE_RING_IDX prod = __atomic_load_n(r.prod, __ATOMIC_ACQUIRE);
    XENSTORE_RING_IDX cons = __atomic_load_n(r.cons, __ATOMIC_ACQUIRE);
    if (prod - cons > XENSTORE_RING_SIZE || pos - cons > prod - cons)
        return -1;
    uint32_t n = prod - pos < max ? prod - pos : max;
    copy_from(r.buf, pos, dst, n);
    return (int)n;
}

int ring_write(struct ring_dir r, const void *src, uint32_t len)
{
    int space = ring_space(r);
    if (space < 0)
        return -1;
    XENSTORE_RING_IDX prod = *r.prod;
    uint32_t n = (uint32_t)space < len ? (uint32_t)space : len;
    uint32_t first = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(prod);
    if (first > n)
        first = n;
    memcpy(r.buf + MASK_XENSTORE_IDX(prod), src, first);
    memcpy(r.buf, (const char *)src + first, n - first);
    __atomic_store_n(r.prod, prod + n, __ATOMIC_RELEASE);
    return (int)n;
}

static void peek_header(const char *buf, XENSTORE_RING_IDX pos, struct xsd_sockmsg *h)
{
    uint8_t b[sizeof(*h)];
    for (uint32_t i = 0; i < sizeof(b); i++)
        b[i] = (uint8_t)buf[MASK_XENSTORE_IDX(pos + i)];
    memcpy(h, b, sizeof(b));
}

bool ring_ends_message(const char *buf, XENSTORE_RING_IDX prod)
{
    XENSTORE_RING_IDX oldest = prod > XENSTORE_RING_SIZE ? prod - XENSTORE_RING_SIZE : 0;
    if (prod == 0)
        return true;
    /* a header still in the ring whose payload ends at PROD, of a type a
     * guest sends (the bytes before it may be a message longer than the
     * ring, whose own header is gone, so the chain is not followed back) */
    for (uint32_t back = sizeof(struct xsd_sockmsg); back <= prod - oldest; back++) {
        struct xsd_sockmsg h;
        peek_header(buf, prod - back, &h);
        if (h.len == back - sizeof(h) && h.type < 64)
            return true;
    }
    return false;
}
