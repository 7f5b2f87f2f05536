/*
 * bytequeue.h - a byte queue: output waiting for a ring or a socket, in
 * xsproxy and in xsproxyctl's transfer link.
 */
#ifndef XSPROXY_BYTEQUEUE_H
#define XSPROXY_BYTEQUEUE_H

#include <stddef.h>
#include <stdint.h>

struct bytequeue {
    uint8_t *data;
    size_t off, len, cap;
};
int bq_push(struct bytequeue *q, const void *p, size_t n);
static inline size_t bq_pending(const struct bytequeue *q) { return q->len - q->off; }
static inline const uint8_t *bq_head(const struct bytequeue *q) { return q->data + q->off; }
void bq_consume(struct bytequeue *q, size_t n);
void bq_free(struct bytequeue *q);
/* What of Q the descriptor FD takes now, written and consumed: 0 (also
 * when it takes nothing now: EAGAIN, EINTR), or -1 with errno when FD
 * failed. */
int bq_write(struct bytequeue *q, int fd);

#endif
