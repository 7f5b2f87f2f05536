/*
 * internal.h - what the files of libxsrecords share and callers never see:
 * byte-order access, a growable output buffer, id sets and scratch space
 * (buf.c), the rule checks common to both formats (verify.c) and the two
 * format parsers (upstream.c, seed.c).
 */
#ifndef XSREC_INTERNAL_H
#define XSREC_INTERNAL_H

#include "xsrecords.h"

#include <stdint.h>
#include <xen/io/xs_wire.h>

#define XSREC_UP_IDENT "xenstore"      /* 8 octets, no NUL */
#define XSREC_SEED_IDENT "xs-seed\0"   /* 8 octets, the last one NUL */
#define XSREC_IDENT_LEN 8
#define XSREC_HDR_LEN 16               /* both formats' file headers */
#define XSREC_VERSION 1u               /* the only version of either format */
#define XSREC_REC_HDR_LEN 8            /* both formats' record headers */
#define XSREC_MSG_HDR_LEN 16           /* struct xsd_sockmsg */

/* Round up to a multiple of 8, in 64 bits so a u32 length cannot wrap. */
static inline uint64_t xsrec__pad8(uint64_t n)
{
    return (n + 7u) & ~(uint64_t)7u;
}

/* Fill *err (if not NULL) and return -1. */
int xsrec__fail(struct xsrec_error *err, size_t offset, const char *rule,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Fixed-width fields in a chosen byte order; p need not be aligned. */
uint16_t xsrec__get16(const uint8_t *p, bool big);
uint32_t xsrec__get32(const uint8_t *p, bool big);
void xsrec__put16(uint8_t *p, uint16_t v, bool big);
void xsrec__put32(uint8_t *p, uint32_t v, bool big);

/* A growable output buffer; after an allocation failure `oom` stays set
 * and further writes are ignored, so writers check once at the end. */
struct xsrec_obuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};
void xsrec__ob_put(struct xsrec_obuf *b, const void *data, size_t n);
void xsrec__ob_zero(struct xsrec_obuf *b, size_t n);
void xsrec__ob_u16(struct xsrec_obuf *b, uint16_t v, bool big);
void xsrec__ob_u32(struct xsrec_obuf *b, uint32_t v, bool big);

/* A set of non-zero 64-bit keys (open addressing), for the dependency
 * rules: which conn-ids and (conn-id, tx-id) pairs came earlier. */
struct xsrec_idset {
    uint64_t *slot;
    size_t cap, n;
};
int xsrec__idset_add(struct xsrec_idset *s, uint64_t key); /* 1 new, 0 old, -1 oom */
bool xsrec__idset_has(const struct xsrec_idset *s, uint64_t key);
void xsrec__idset_free(struct xsrec_idset *s);

static inline uint64_t xsrec__txkey(uint32_t conn_id, uint32_t tx_id)
{
    return (uint64_t)conn_id << 32 | tx_id;
}

/* Reusable scratch memory for decoded records. */
struct xsrec_scratch {
    void *p;
    size_t cap;
};
void *xsrec__scratch(struct xsrec_scratch *s, size_t n);  /* NULL: oom */
void xsrec__scratch_free(struct xsrec_scratch *s);

/* ---- rule checks shared by both formats (verify.c) ---- */

/* A NUL-terminated string of exactly `len` octets (NUL included) at
 * buf[0..len): rule `rule`, offset `off` of its first octet. */
int xsrec__check_cstr(const uint8_t *p, size_t len, size_t off, const char *rule,
                      const char *what, struct xsrec_error *err);
/* A node path (absolute or special "@..."), NUL-terminated already. */
int xsrec__check_node_path(const char *path, size_t off, struct xsrec_error *err);
/* A watch path as given to WATCH (absolute, special or relative). */
int xsrec__check_watch_path(const char *path, size_t off, struct xsrec_error *err);
/* One permission specifier. */
int xsrec__check_perm(const struct xsrec_perm *p, size_t off, struct xsrec_error *err);
/* Length of a permission as a SET_PERMS string ("b12"), NUL excluded. */
size_t xsrec__perm_strlen(const struct xsrec_perm *p);
/* The node's WRITE and SET_PERMS requests fit in a message payload. */
int xsrec__check_node_limits(const struct xsrec_node *n, size_t value_off,
                             size_t perms_off, struct xsrec_error *err);

/*
 * Walk the xenstore messages in data[0..len), whose headers are in byte
 * order `big`: each header's len must be at most XENSTORE_PAYLOAD_MAX and,
 * unless `partial_tail`, the last message must be complete.  If `swap_to`
 * is not NULL it holds a copy of data (it may be data itself) whose header
 * words get byte-swapped; the words of a trailing header cut short stay as
 * they are.  `off` is data's offset in the stream, for errors.
 */
int xsrec__walk_msgs(const uint8_t *data, size_t len, bool big, bool partial_tail,
                     uint8_t *swap_to, size_t off, const char *what,
                     struct xsrec_error *err);

/* ---- the container both formats share: a file header, then records of
 * an 8-octet header (type, length) and a body padded to 8 octets ---- */

/*
 * The 16-octet file header of format FMT at buf[0..len): its ident, a
 * version that must be XSREC_VERSION and a word of the format's own
 * (upstream's flags, the seed's record count) in *WORD.  INFO is cleared
 * and given the format and version.  Upstream's header is big-endian
 * whatever its flags say; the seed's is little-endian, like all of it.
 */
int xsrec__parse_file_header(const uint8_t *buf, size_t len, enum xsrec_format fmt,
                             struct xsrec_info *info, uint32_t *word,
                             struct xsrec_error *err);
/* The record header at OFF (< LEN), in byte order BIG: REC is set to a
 * record of format FMT with that offset, type and length.  0, or -1 when
 * fewer than 8 octets are left. */
int xsrec__read_rec_header(const uint8_t *buf, size_t len, size_t off, bool big,
                           enum xsrec_format fmt, struct xsrec_record *rec,
                           struct xsrec_error *err);
/* REC's body, padded, must fit in the LEN octets of the buffer: its
 * padded length in *PADDED, or -1. */
int xsrec__rec_fits(const struct xsrec_record *rec, size_t len, uint64_t *padded,
                    struct xsrec_error *err);
/* REC's body holds the MIN octets of its fixed part; AT_LEAST: a part of
 * varying length follows them (it only changes the wording).  0, or -1
 * with the error at the header's len field. */
int xsrec__check_fixed(const struct xsrec_record *rec, uint32_t min, bool at_least,
                       struct xsrec_error *err);
/* Octets [from, to) of BUF, a body's padding, must be zero. */
int xsrec__check_padding(const uint8_t *buf, size_t from, size_t to, struct xsrec_error *err);
/* A record that passed every check to VISIT (if any): 0, or -1 when the
 * visitor stopped the parse. */
int xsrec__visit(xsrec_visit_fn visit, void *ctx, const struct xsrec_record *rec,
                 struct xsrec_error *err);
/* The stream's header, as a record of its own (offset 0), likewise. */
int xsrec__visit_header(enum xsrec_format fmt, const struct xsrec_info *info,
                        xsrec_visit_fn visit, void *ctx, struct xsrec_error *err);

/* ---- the format parsers ---- */
int xsrec__parse_upstream(const uint8_t *buf, size_t len, xsrec_visit_fn visit,
                          void *ctx, struct xsrec_info *info, struct xsrec_error *err);
int xsrec__parse_seed(const uint8_t *buf, size_t len, xsrec_visit_fn visit,
                      void *ctx, struct xsrec_info *info, struct xsrec_error *err);

/* A visitor's failure: keep its error, or name it "aborted". */
int xsrec__visit_failed(struct xsrec_error *err, size_t offset);

#endif /* XSREC_INTERNAL_H */
