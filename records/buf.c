/*
 * buf.c - the plumbing of libxsrecords: error reporting, byte-order access
 * to unaligned fields, the growable output buffer, id sets and scratch.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum xsrec_byteorder xsrec_host_order(void)
{
    const uint16_t one = 1;
    uint8_t first;

    memcpy(&first, &one, 1);
    return first ? XSREC_LITTLE_ENDIAN : XSREC_BIG_ENDIAN;
}

int xsrec__fail(struct xsrec_error *err, size_t offset, const char *rule,
                const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return -1;
    err->offset = offset;
    err->rule = rule;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

int xsrec__visit_failed(struct xsrec_error *err, size_t offset)
{
    if (err && !err->rule)
        return xsrec__fail(err, offset, "aborted", "the visitor stopped the parse");
    return -1;
}

/* Byte by byte, so neither alignment nor host order matter. */
uint16_t xsrec__get16(const uint8_t *p, bool big)
{
    return big ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

uint32_t xsrec__get32(const uint8_t *p, bool big)
{
    if (big)
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

void xsrec__put16(uint8_t *p, uint16_t v, bool big)
{
    p[big ? 0 : 1] = (uint8_t)(v >> 8);
    p[big ? 1 : 0] = (uint8_t)v;
}

void xsrec__put32(uint8_t *p, uint32_t v, bool big)
{
    for (int i = 0; i < 4; i++)
        p[big ? 3 - i : i] = (uint8_t)(v >> (8 * i));
}

static uint8_t *ob_grow(struct xsrec_obuf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (n > SIZE_MAX - b->len) {
        b->oom = true;
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap = cap > SIZE_MAX / 2 ? b->len + n : cap * 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->len;
    b->len += n;
    return at;
}

void xsrec__ob_put(struct xsrec_obuf *b, const void *data, size_t n)
{
    uint8_t *at = ob_grow(b, n);
    if (at && n)
        memcpy(at, data, n);
}

void xsrec__ob_zero(struct xsrec_obuf *b, size_t n)
{
    uint8_t *at = ob_grow(b, n);
    if (at && n)
        memset(at, 0, n);
}

void xsrec__ob_u16(struct xsrec_obuf *b, uint16_t v, bool big)
{
    uint8_t *at = ob_grow(b, 2);
    if (at)
        xsrec__put16(at, v, big);
}

void xsrec__ob_u32(struct xsrec_obuf *b, uint32_t v, bool big)
{
    uint8_t *at = ob_grow(b, 4);
    if (at)
        xsrec__put32(at, v, big);
}

/* Mix the key so sequential ids spread over the table. */
static size_t id_hash(uint64_t key, size_t cap)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

static void idset_insert(uint64_t *slot, size_t cap, uint64_t key)
{
    size_t i = id_hash(key, cap);
    while (slot[i])
        i = (i + 1) & (cap - 1);
    slot[i] = key;
}

int xsrec__idset_add(struct xsrec_idset *s, uint64_t key)
{
    if (xsrec__idset_has(s, key))
        return 0;
    /* Keep the table at most half full. */
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint64_t *slot = calloc(cap, sizeof(*slot));
        if (!slot)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i])
                idset_insert(slot, cap, s->slot[i]);
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    idset_insert(s->slot, s->cap, key);
    s->n++;
    return 1;
}

bool xsrec__idset_has(const struct xsrec_idset *s, uint64_t key)
{
    if (!s->cap || !key)
        return false;
    for (size_t i = id_hash(key, s->cap); s->slot[i]; i = (i + 1) & (s->cap - 1))
        if (s->slot[i] == key)
            return true;
    return false;
}

void xsrec__idset_free(struct xsrec_idset *s)
{
    free(s->slot);
    s->slot = NULL;
    s->cap = s->n = 0;
}

void *xsrec__scratch(struct xsrec_scratch *s, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > s->cap) {
        void *p = realloc(s->p, n);
        if (!p)
            return NULL;
        s->p = p;
        s->cap = n;
    }
    return s->p;
}

void xsrec__scratch_free(struct xsrec_scratch *s)
{
    free(s->p);
    s->p = NULL;
    s->cap = 0;
}
