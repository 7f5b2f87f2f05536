/*
 * bytequeue.h - a growable byte queue: output waiting for a ring or a
 * socket.  Pure memory, so the relay step (relay_step.h) that fills and
 * drains one is unit-tested and fuzzed without the daemon.
 */
#ifndef XSPROXY_BYTEQUEUE_H
#define XSPROXY_BYTEQUEUE_H

#include <stddef.h>
#include <stdint.h>

struct bytequeue {
    uint8_t *data;
    size_t off, len, cap;
};
/* Append N bytes of P: 0, or -1 when out of memory (Q unchanged). */
int bq_push(struct bytequeue *q, const void *p, size_t n);
static inline size_t bq_pending(const struct bytequeue *q) { return q->len - q->off; }
static inline const uint8_t *bq_head(const struct bytequeue *q) { return q->data + q->off; }
void bq_consume(struct bytequeue *q, size_t n);
void bq_free(struct bytequeue *q);

#endif
