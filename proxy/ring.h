/*
 * ring.h - moving bytes through one direction of a xenstore ring page.
 * Pure memory operations on struct xenstore_domain_interface (the caller
 * notifies the event channel); indexes are free-running and checked, since
 * the other side of a ring may be hostile.
 */
#ifndef XSPROXY_RING_H
#define XSPROXY_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

/* One direction: the byte array and its two indexes. */
struct ring_dir {
    char *buf;
    XENSTORE_RING_IDX *cons, *prod;
};

static inline struct ring_dir ring_req(struct xenstore_domain_interface *i)
{
    return (struct ring_dir){ i->req, &i->req_cons, &i->req_prod };
}

static inline struct ring_dir ring_rsp(struct xenstore_domain_interface *i)
{
    return (struct ring_dir){ i->rsp, &i->rsp_cons, &i->rsp_prod };
}

/* Bytes readable, or -1 when the indexes are out of range (prod - cons >
 * ring size: XENSTORE_ERROR_RINGIDX). */
int ring_avail(struct ring_dir r);
/* Free space for the producer, or -1 as above. */
int ring_space(struct ring_dir r);
/* Copy up to MAX readable bytes out and advance cons.  Returns the count,
 * or -1 for bad indexes. */
int ring_read(struct ring_dir r, void *dst, uint32_t max);
/* Copy up to MAX bytes from position POS (between cons and prod) without
 * consuming them.  Returns the count, or -1 for bad indexes or POS. */
int ring_peek(struct ring_dir r, XENSTORE_RING_IDX pos, void *dst, uint32_t max);
/* Copy up to LEN bytes in and advance prod.  Returns the count, -1. */
int ring_write(struct ring_dir r, const void *src, uint32_t len);

/* Live insertion: does the message stream written into BUF end at its
 * producer index PROD with a whole message?  True when nothing was ever
 * written (PROD 0), or when a header still in the ring names a payload that
 * ends exactly at PROD.  False when the last bytes are part of a message
 * still being written - or when the ring no longer holds the last header
 * (a message longer than the ring). */
bool ring_ends_message(const char *buf, XENSTORE_RING_IDX prod);

#endif
