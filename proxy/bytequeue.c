/*
 * bytequeue.c - the byte queues of bytequeue.h.
 */
#include "bytequeue.h"

#include <stdlib.h>
#include <string.h>

int bq_push(struct bytequeue *q, const void *p, size_t n)
{
    if (n == 0)
        return 0;   /* P may be NULL then */
    if (q->off && q->off == q->len)
        q->off = q->len = 0;
    if (q->len + n > q->cap) {
        if (q->off) {   /* slide down before growing */
            memmove(q->data, q->data + q->off, q->len - q->off);
            q->len -= q->off;
            q->off = 0;
        }
        if (q->len + n > q->cap) {
            size_t cap = q->cap ? q->cap : 4096;
            while (cap < q->len + n)
                cap *= 2;
            uint8_t *nd = realloc(q->data, cap);
            if (!nd)
                return -1;
            q->data = nd;
            q->cap = cap;
        }
    }
    memcpy(q->data + q->len, p, n);
    q->len += n;
    return 0;
}

void bq_consume(struct bytequeue *q, size_t n)
{
    q->off += n;
    if (q->off >= q->len) {
        q->off = q->len = 0;
        if (q->cap > 65536) {   /* give a burst's memory back */
            free(q->data);
            q->data = NULL;
            q->cap = 0;
        }
    }
}

void bq_free(struct bytequeue *q)
{
    free(q->data);
    memset(q, 0, sizeof(*q));
}
