/*
 * capture.h - pcap captures of the xenstore messages xsproxy relays.
 *
 * Each record is a 16-byte xsproxy pseudo-header and then one whole
 * xenstore message as on the wire, in a pcap file of link type USER0
 * (147), written through libpcap.  deploy/wireshark/xenstore.lua decodes
 * it.  The pseudo-header (multi-byte fields big-endian):
 *
 *   0  u8   version (1)
 *   1  u8   direction: 0 towards xenstored, 1 from xenstored
 *   2  u8   source: 1 a guest domain's ring, 2 a dom0 socket connection
 *   3  u8   flags: CAPTURE_FLAG_*
 *   4  u32  domid, or the connection's number
 *   8  u32  transaction id as the guest sees it
 *  12  u32  transaction id as xenstored sees it
 *
 * The filter and pairing logic (capture_filter.c) is pure, for unit tests;
 * capture.c does the file I/O and rotation.
 */
#ifndef XSPROXY_CAPTURE_H
#define XSPROXY_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define CAPTURE_VERSION 1
#define CAPTURE_PSEUDO_LEN 16
#define CAPTURE_LINKTYPE 147            /* LINKTYPE_USER0 */
#define CAPTURE_DEFAULT_SIZE (64ull << 20)
#define CAPTURE_DEFAULT_FILES 4u
#define CAPTURE_MAX_FILES 1000u
#define CAPTURE_MIN_SIZE 4096ull        /* a file holds at least a message */

enum capture_source { CAPTURE_DOMAIN = 1, CAPTURE_CONN = 2 };
enum capture_dir { CAPTURE_TO_XENSTORED = 0, CAPTURE_FROM_XENSTORED = 1 };
#define CAPTURE_FLAG_LOCAL 0x01      /* answered by xsproxy, not xenstored */
#define CAPTURE_FLAG_INTERNAL 0x02   /* xsproxy's own request as a domain */

/* A set of numbers (domids, connection numbers, message types): all of
 * them, none, or a list. */
struct capture_set {
    bool all;
    uint32_t *ids;
    size_t n;
};

struct capture_filter {
    struct capture_set doms, conns, types;
};

struct capture_settings {
    struct capture_filter filter;
    uint64_t max_size;   /* rotate when a file reaches this many bytes */
    unsigned files;      /* FILE, FILE.1 ... FILE.<files-1> */
};

/* Everything captured, CAPTURE_DEFAULT_SIZE, CAPTURE_DEFAULT_FILES. */
void capture_settings_init(struct capture_settings *s);
void capture_settings_free(struct capture_settings *s);
/* DST (uninitialised) becomes a copy of SRC with sets of its own.  0/-1. */
int capture_settings_copy(struct capture_settings *dst, const struct capture_settings *src);
/* Apply SPEC, space-separated `key=value` words: dom=, conn=, type= (a
 * comma-separated list, `all` or `none`), and, when ALLOW_FILES, size=
 * (bytes, suffix k/M/G) and files=.  Keys not named keep their values.  On
 * error S is unchanged and ERR says why; returns 0 or -1. */
int capture_settings_parse(struct capture_settings *s, const char *spec, bool allow_files,
                           char *err, size_t errlen);
/* "dom=5,7 conn=all type=WRITE,READ size=64M files=4" */
size_t capture_settings_describe(const struct capture_settings *s, char *buf, size_t len);

/* Which replies belong to captured requests: a type filter keeps a
 * request's reply (an ERROR too) with it. */
struct capture_pending {
    struct capture_key {
        uint8_t source;
        uint32_t id, req_id;
    } *keys;
    size_t n, cap;
};

#define CAPTURE_PENDING_MAX 65536   /* beyond this the oldest are forgotten */

/* Decide whether a message goes into the capture, remembering captured
 * requests so that their replies follow them. */
bool capture_wanted(const struct capture_filter *f, struct capture_pending *p,
                    enum capture_source source, uint32_t id, enum capture_dir dir,
                    const struct xsd_sockmsg *hdr);
void capture_pending_free(struct capture_pending *p);

void capture_pseudo_header(uint8_t out[CAPTURE_PSEUDO_LEN], enum capture_source source,
                           uint32_t id, enum capture_dir dir, uint8_t flags, uint32_t guest_tx,
                           uint32_t backend_tx);

/* ---- capture.c: the file ---------------------------------------------- */

struct capture;

/* Start writing to PATH (replaced if it exists).  NULL with ERR on failure. */
struct capture *capture_open(const char *path, const struct capture_settings *s, char *err,
                             size_t errlen);
void capture_close(struct capture *c);
/* Record M if the filter wants it.  False when the capture failed (a
 * write error, the disk full): it has logged why and must be closed. */
bool capture_msg(struct capture *c, enum capture_source source, uint32_t id,
                 enum capture_dir dir, uint8_t flags, const struct msg *m, uint32_t guest_tx,
                 uint32_t backend_tx);
/* Change the filter of a running capture (size and files stay). */
int capture_set_filter(struct capture *c, const char *spec, char *err, size_t errlen);
size_t capture_describe(const struct capture *c, char *buf, size_t len);

#endif
