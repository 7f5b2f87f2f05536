/*
 * transfer_wire.c - parse and build a transfer's frames (transfer_wire.h).
 * The payload of each type is fixed fields, little-endian, then for DATA,
 * ABORT and REPORT the bytes; nothing else is accepted.
 */
#include "transfer_wire.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

static const char magic[4] = { 'X', 'S', 'P', 'T' };

/* The fixed part of each type's payload. */
static const uint32_t fixed_len[TW_TYPE_END] = {
    [TW_HELLO] = TW_ID_LEN + 4 + 4 + 8 + 4,
    [TW_STATE] = TW_ID_LEN + 4 + 4 + 8,
    [TW_DATA] = 8,
    [TW_ACK] = 8,
    [TW_HELD] = 0,
    [TW_COMMIT] = 0,
    [TW_DONE] = 8,
    [TW_ABORT] = 0,
    [TW_REPORT] = 0,
    [TW_ERROR] = 0,
    [TW_PING] = 0,
};

static bool has_bytes(unsigned type)
{
    return type == TW_DATA || type == TW_ABORT || type == TW_REPORT || type == TW_ERROR;
}

uint32_t tw_crc32(uint32_t crc, const uint8_t *buf, size_t len)
{
    while (len) {
        uInt n = len > 1u << 30 ? 1u << 30 : (uInt)len;
        crc = (uint32_t)crc32(crc, buf, n);
        buf += n;
        len -= n;
    }
    return crc;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
    return put32(put32(p, (uint32_t)v), (uint32_t)(v >> 32));
}

/* The fixed fields of F's payload at P. */
static void get_fields(struct tw_frame *f, const uint8_t *p)
{
    switch (f->type) {
    case TW_HELLO:
        memcpy(f->id, p, TW_ID_LEN);
        f->src_domid = get32(p + 16);
        f->dst_domid = get32(p + 20);
        f->length = get64(p + 24);
        f->crc = get32(p + 32);
        break;
    case TW_STATE:
        memcpy(f->id, p, TW_ID_LEN);
        f->dst_domid = get32(p + 16);
        f->phase = get32(p + 20);
        f->length = get64(p + 24);
        break;
    case TW_DATA:
    case TW_ACK:
        f->length = get64(p);
        break;
    case TW_DONE:
        f->held_us = get64(p);
        break;
    default:
        break;
    }
}

int tw_parse(const uint8_t *buf, size_t len, struct tw_frame *f, size_t *used, char *err,
             size_t errlen)
{
    if (len >= 4 && memcmp(buf, magic, 4) != 0) {
        snprintf(err, errlen, "not a transfer frame (no XSPT)");
        return -1;
    }
    if (len < TW_HDR_LEN)
        return 0;
    unsigned type = buf[4];
    uint32_t plen = get32(buf + 8), crc = get32(buf + 12);
    if (type == 0 || type >= TW_TYPE_END || buf[5] || buf[6] || buf[7]) {
        snprintf(err, errlen, "unknown frame type %u", type);
        return -1;
    }
    if (plen > TW_PAYLOAD_MAX || plen < fixed_len[type] ||
        (!has_bytes(type) && plen != fixed_len[type]) ||
        (type == TW_DATA && plen - fixed_len[type] > TW_DATA_MAX)) {
        snprintf(err, errlen, "%s frame of %u bytes", tw_type_name(type), plen);
        return -1;
    }
    if (len - TW_HDR_LEN < plen)
        return 0;
    const uint8_t *p = buf + TW_HDR_LEN;
    if (tw_crc32(0, p, plen) != crc) {
        snprintf(err, errlen, "%s frame fails its CRC", tw_type_name(type));
        return -1;
    }
    memset(f, 0, sizeof(*f));
    f->type = (enum tw_type)type;
    get_fields(f, p);
    if (has_bytes(type)) {
        f->data = p + fixed_len[type];
        f->data_len = plen - fixed_len[type];
    }
    if (type == TW_STATE && f->phase > TW_PHASE_ABORTED) {
        snprintf(err, errlen, "STATE frame with phase %u", f->phase);
        return -1;
    }
    *used = TW_HDR_LEN + plen;
    return 1;
}

size_t tw_build(const struct tw_frame *f, uint8_t *out)
{
    if (f->type == 0 || f->type >= TW_TYPE_END)
        return 0;
    uint32_t extra = has_bytes(f->type) ? f->data_len : 0;
    uint32_t plen = fixed_len[f->type] + extra;
    if (plen > TW_PAYLOAD_MAX || (f->type == TW_DATA && extra > TW_DATA_MAX))
        return 0;
    uint8_t *p = out + TW_HDR_LEN;
    switch (f->type) {
    case TW_HELLO:
        memcpy(p, f->id, TW_ID_LEN);
        put32(put64(put32(put32(p + 16, f->src_domid), f->dst_domid), f->length), f->crc);
        break;
    case TW_STATE:
        memcpy(p, f->id, TW_ID_LEN);
        put64(put32(put32(p + 16, f->dst_domid), f->phase), f->length);
        break;
    case TW_DATA:
    case TW_ACK:
        put64(p, f->length);
        break;
    case TW_DONE:
        put64(p, f->held_us);
        break;
    default:
        break;
    }
    if (extra)
        memcpy(p + fixed_len[f->type], f->data, extra);
    memcpy(out, magic, 4);
    out[4] = (uint8_t)f->type;
    out[5] = out[6] = out[7] = 0;
    put32(out + 8, plen);
    put32(out + 12, tw_crc32(0, p, plen));
    return TW_HDR_LEN + plen;
}

const char *tw_type_name(unsigned type)
{
    static const char *const names[TW_TYPE_END] = {
        [TW_HELLO] = "HELLO", [TW_STATE] = "STATE", [TW_DATA] = "DATA",
        [TW_ACK] = "ACK",     [TW_HELD] = "HELD",   [TW_COMMIT] = "COMMIT",
        [TW_DONE] = "DONE",   [TW_ABORT] = "ABORT", [TW_REPORT] = "REPORT",
        [TW_ERROR] = "ERROR", [TW_PING] = "PING",
    };
    return type < TW_TYPE_END && names[type] ? names[type] : "?";
}

const char *tw_phase_name(unsigned phase)
{
    static const char *const names[] = { "none", "receiving", "restoring",
                                         "held", "serving", "aborted" };
    return phase < sizeof(names) / sizeof(names[0]) ? names[phase] : "?";
}
