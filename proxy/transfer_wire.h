/*
 * transfer_wire.h - the frames of a host-to-host transfer (transfer.c):
 * what the source's and the destination's xsproxy say to each other over
 * the toolstack's channel (an ssh pipe, a TCP connection), which xsproxyctl
 * carries unchanged.  Pure: parse and build, no I/O.
 *
 * A frame is a 16-byte header - "XSPT", type, three zero bytes, payload
 * length and a CRC-32 of the payload, little-endian - and its payload.
 * A frame that is not whole yet waits; one that is malformed or fails its
 * CRC ends the link (the transfer pauses; nothing is applied).
 */
#ifndef XSPROXY_TRANSFER_WIRE_H
#define XSPROXY_TRANSFER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TW_HDR_LEN 16u
#define TW_PAYLOAD_MAX 65536u
#define TW_ID_LEN 16u          /* a transfer's id: random bytes */
#define TW_DATA_MAX 32768u     /* stream bytes in one DATA frame */

enum tw_type {
    TW_HELLO = 1,   /* source: id, domain ids, the stream's length and CRC */
    TW_STATE,       /* destination: where it stands with that id */
    TW_DATA,        /* source: stream bytes from an offset */
    TW_ACK,         /* destination: the stream is kept up to an offset */
    TW_HELD,        /* destination: restored, held (quiesced) */
    TW_COMMIT,      /* source: the domain is gone from the source */
    TW_DONE,        /* destination: the domain is served */
    TW_ABORT,       /* either: the transfer is given up (text: why) */
    TW_REPORT,      /* xsproxy to its own xsproxyctl only: a line to show */
    TW_ERROR,       /* either: the frame before made no sense here (text);
                       the link ends, the transfer pauses */
    TW_PING,        /* either, twice a second: the link is alive (xsproxyctl
                       takes a silent one for broken) */
    TW_TYPE_END
};

/* Where a destination stands with a transfer (TW_STATE). */
enum tw_phase {
    TW_PHASE_NONE = 0,   /* no such transfer here */
    TW_PHASE_RECEIVING,
    TW_PHASE_RESTORING,
    TW_PHASE_HELD,
    TW_PHASE_SERVING,
    TW_PHASE_ABORTED,
};

struct tw_frame {
    enum tw_type type;
    uint8_t id[TW_ID_LEN];   /* HELLO, STATE */
    uint32_t src_domid;      /* HELLO */
    uint32_t dst_domid;      /* HELLO, STATE */
    uint64_t length;         /* HELLO: the stream's; STATE, ACK, DATA: an offset */
    uint32_t crc;            /* HELLO: the stream's CRC-32 */
    uint32_t phase;          /* STATE: enum tw_phase */
    uint64_t held_us;        /* DONE: the destination's part of the hold */
    const uint8_t *data;     /* DATA: the bytes; ABORT, REPORT: the text */
    uint32_t data_len;
};

/* The frame at the start of BUF: 1 with *F (pointing into BUF) and *USED,
 * 0 when it is not whole yet, -1 with why in ERR when it is not a frame. */
int tw_parse(const uint8_t *buf, size_t len, struct tw_frame *f, size_t *used, char *err,
             size_t errlen);
/* F as a frame in OUT (room for TW_HDR_LEN + TW_PAYLOAD_MAX); its length,
 * or 0 when F does not fit. */
size_t tw_build(const struct tw_frame *f, uint8_t *out);
/* The type's name, for logs and traces. */
const char *tw_type_name(unsigned type);
const char *tw_phase_name(unsigned phase);
/* CRC-32 of BUF, going on from CRC (0 to begin). */
uint32_t tw_crc32(uint32_t crc, const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
