/*
 * xsrecords.h - libxsrecords: xenstore migration streams in memory.
 *
 * Two formats are read and written (records/FORMAT.md describes both):
 *
 *  - the upstream migration stream of Xen's docs/designs/xenstore-migration.md
 *    (version 1, as C xenstored 4.17 writes for live update): header
 *    "xenstore", then END, GLOBAL_DATA, CONNECTION_DATA, WATCH_DATA,
 *    TRANSACTION_DATA and NODE_DATA records;
 *  - the seed's record format (node data, watch data, transaction data for
 *    one domain) in a small container of this project's own.
 *
 * The library is pure: it encodes and decodes memory buffers and does no
 * I/O.  Every function that reads a buffer checks every rule listed in
 * FORMAT.md, never reads outside the buffer, and reports the first broken
 * rule as {offset, rule, message}.  A reader either fills the whole model or
 * leaves it empty.
 */
#ifndef XSRECORDS_H
#define XSRECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XSREC_DOMID_INVALID 0x7FF4u /* xen.h's DOMID_INVALID */

enum xsrec_format {
    XSREC_FMT_UNKNOWN = 0,
    XSREC_FMT_UPSTREAM,  /* docs/designs/xenstore-migration.md */
    XSREC_FMT_SEED,      /* the seed's records in the xsrecords container */
};

/* Values are the upstream header's endianness flag bit. */
enum xsrec_byteorder {
    XSREC_LITTLE_ENDIAN = 0,
    XSREC_BIG_ENDIAN = 1,
};

/* The byte order of this machine. */
enum xsrec_byteorder xsrec_host_order(void);

/* ---------------------------------------------------------------- errors */

/*
 * The first rule a buffer (or a model, when writing) breaks.  `rule` is a
 * static string naming the rule (the list is in FORMAT.md: "magic",
 * "version", "flags", "truncated", "end-missing", "trailing-data",
 * "record-type", "record-length", "padding", "reserved", "global-first",
 * "conn-id", "conn-type", "conn-data", "dependency", "duplicate", "tx-id", "path",
 * "token", "perm", "deleted-node", "payload-limit", "tx-op", "field-range",
 * "not-representable", "no-memory", "aborted"); NULL when there is no error.
 * `offset` is the octet offset of the offending field, or of the record
 * header for problems of a whole record.  When writing, it is an offset
 * into the stream that would have been written.
 */
struct xsrec_error {
    size_t offset;
    const char *rule;
    char message[200];
};

/* ----------------------------------------------------------------- model */

/* GLOBAL_DATA: only meaningful for live update. */
struct xsrec_global {
    int32_t socket_fd;  /* rw-socket-fd, -1 when unused */
    int32_t evtchn_fd;  /* evtchn-fd */
};

enum xsrec_conn_type {
    XSREC_CONN_RING = 0,
    XSREC_CONN_SOCKET = 1,
};

/*
 * CONNECTION_DATA.  The pending data is kept as the daemon held it:
 * in_data is what was read from the connection and not yet processed
 * (whole requests, then possibly one partially read request); out_data is
 * what was not yet written: first out_resp_len octets finishing a partly
 * written response, then whole messages.  Message headers inside both
 * buffers are in this machine's byte order (the readers and writers swap
 * them when the stream's order differs, see FORMAT.md).
 */
struct xsrec_conn {
    uint32_t id;            /* conn-id, non-zero */
    uint16_t type;          /* enum xsrec_conn_type */
    uint16_t domid;         /* ring: the domain owning the ring */
    uint16_t tdomid;        /* ring: SET_TARGET target or XSREC_DOMID_INVALID */
    uint32_t evtchn;        /* ring: event channel port */
    int32_t socket_fd;      /* socket: the connected socket's fd */
    const uint8_t *in_data;
    size_t in_len;          /* in-data-len, at most 65535 */
    const uint8_t *out_data;
    size_t out_len;         /* out-data-len */
    size_t out_resp_len;    /* out-resp-len, <= out_len, at most 65535 */
};

/* WATCH_DATA: a watch registered by connection conn_id. */
struct xsrec_watch {
    uint32_t conn_id;
    const char *path;       /* as given to WATCH: absolute, relative or @... */
    const char *token;
};

/* TRANSACTION_DATA: a transaction open on connection conn_id. */
struct xsrec_tx {
    uint32_t conn_id;
    uint32_t tx_id;
};

/*
 * TX_OP (xsproxy's own record type, XSREC_UP_TX_OP): one operation an open
 * transaction did, with the answer it got, in the order it did them.
 * xsproxy replays them into a new transaction on the destination and the
 * transaction survives when every answer is the same (FORMAT.md).
 * req_type XSREC_TX_OP_CUT (both lengths 0) says the log was cut short:
 * the transaction cannot be replayed.
 */
#define XSREC_TX_OP_CUT 0xFFFFFFFFu
struct xsrec_tx_op {
    uint32_t conn_id;
    uint32_t tx_id;
    uint32_t req_type;      /* READ, WRITE, MKDIR, RM, DIRECTORY,
                               DIRECTORY_PART, GET_PERMS, SET_PERMS, or CUT */
    uint32_t rsp_type;      /* req_type, or XS_ERROR */
    const uint8_t *req;     /* the request's payload */
    size_t req_len;         /* at most XENSTORE_PAYLOAD_MAX */
    const uint8_t *rsp;     /* the reply's payload */
    size_t rsp_len;
};

/* A node permission: 'r', 'w', 'b' or 'n' for domain domid. */
#define XSREC_PERM_STALE 0x01 /* flags: stale, ignored when checking */
struct xsrec_perm {
    char perm;
    uint8_t flags;
    uint16_t domid;
};

#define XSREC_ACCESS_READ    0x0001
#define XSREC_ACCESS_WRITTEN 0x0002

/*
 * NODE_DATA.  conn_id 0: a committed node (tx_id and access are ignored by
 * readers of the stream but kept here so a stream round-trips).  Otherwise
 * the node as pending transaction (conn_id, tx_id) sees it; nperms 0 means
 * "deleted in that transaction" (then value_len and access are 0).
 */
struct xsrec_node {
    uint32_t conn_id;
    uint32_t tx_id;
    uint16_t access;        /* XSREC_ACCESS_* for transaction nodes */
    const char *path;       /* absolute, or a special "@..." node */
    const uint8_t *value;   /* may contain NULs */
    size_t value_len;
    const struct xsrec_perm *perms;  /* perms[0] is the owner */
    size_t nperms;
};

/*
 * A whole stream.  Records of each kind keep their stream order.  The
 * upstream writer emits GLOBAL_DATA, then each connection followed by its
 * watches and its transactions (as C xenstored 4.17 does), then the nodes:
 * "records depended on come first" holds whenever the model is consistent.
 * The stream owns every pointer in it: fill it with the xsrec_add_*
 * functions, release it with xsrec_stream_free.  A zero-initialised struct
 * is an empty stream.
 */
struct xsrec_stream {
    bool has_global;
    struct xsrec_global global;
    struct xsrec_conn *conns;     size_t nconns;
    struct xsrec_watch *watches;  size_t nwatches;
    struct xsrec_tx *txs;         size_t ntxs;
    struct xsrec_node *nodes;     size_t nnodes;
    struct xsrec_tx_op *tx_ops;   size_t ntx_ops;
};

void xsrec_stream_free(struct xsrec_stream *s);  /* leaves s empty */

/* Builders: each copies its arguments; 0 on success, -1 when out of memory. */
int xsrec_set_global(struct xsrec_stream *s, int32_t socket_fd, int32_t evtchn_fd);
int xsrec_add_conn(struct xsrec_stream *s, const struct xsrec_conn *c);
int xsrec_add_watch(struct xsrec_stream *s, uint32_t conn_id,
                    const char *path, const char *token);
int xsrec_add_tx(struct xsrec_stream *s, uint32_t conn_id, uint32_t tx_id);
int xsrec_add_node(struct xsrec_stream *s, const struct xsrec_node *n);
int xsrec_add_tx_op(struct xsrec_stream *s, const struct xsrec_tx_op *op);

/*
 * Deep equality of two models.  Watches and transactions are compared per
 * connection: their order within a connection counts, how they interleave
 * with other connections' does not (no stream keeps that).
 */
bool xsrec_stream_equal(const struct xsrec_stream *a, const struct xsrec_stream *b);

/* ------------------------------------------------------- reading, visiting */

enum xsrec_kind {
    XSREC_K_HEADER,  /* the stream's header (offset 0) */
    XSREC_K_END,     /* upstream END */
    XSREC_K_GLOBAL,
    XSREC_K_CONN,
    XSREC_K_WATCH,
    XSREC_K_TX,      /* upstream: one transaction; seed: a list of them */
    XSREC_K_NODE,
    XSREC_K_TX_OP,   /* xsproxy's transaction log (upstream streams only) */
};

/* Upstream record type numbers. */
#define XSREC_UP_END     0u
#define XSREC_UP_GLOBAL  1u
#define XSREC_UP_CONN    2u
#define XSREC_UP_WATCH   3u
#define XSREC_UP_TX      4u
#define XSREC_UP_NODE    5u
/* xsproxy's own record (not upstream's; see FORMAT.md): "XS" + 1, far
 * from the numbers later revisions of the format take. */
#define XSREC_UP_TX_OP   0x58530001u
/* Seed record type numbers. */
#define XSREC_SEED_NODE  1u
#define XSREC_SEED_WATCH 2u
#define XSREC_SEED_TX    3u

/* The connection id seed streams are read into (the seed has no conn-id). */
#define XSREC_SEED_CONN_ID 1u

/* What a parse learnt about the stream as a whole. */
struct xsrec_info {
    enum xsrec_format format;
    enum xsrec_byteorder order;  /* of the stream's fields */
    uint32_t version;
    size_t nrecords;             /* records after the header (END included) */
};

/*
 * One decoded record, handed to a visitor.  Only the pointer matching
 * `kind` is set; everything it points to lives until the visitor returns.
 * Connection data is already in host byte order.
 */
struct xsrec_record {
    enum xsrec_format format;
    enum xsrec_kind kind;
    size_t offset;       /* of the record's header */
    uint32_t type;       /* the type number in the stream (0 for a header) */
    uint32_t len;        /* the length field as found (0 for a header) */
    const struct xsrec_info *info;   /* for XSREC_K_HEADER */
    const struct xsrec_global *global;
    const struct xsrec_conn *conn;
    const struct xsrec_watch *watch;
    const struct xsrec_tx *txs;      /* XSREC_K_TX: ntxs of them */
    size_t ntxs;
    const struct xsrec_node *node;
    const struct xsrec_tx_op *tx_op;
};

/*
 * Called for each record after it passed every check.  Return 0 to go on;
 * anything else stops the parse, which then fails with the error the
 * visitor put into `err` (or rule "aborted" if it left err->rule NULL).
 */
typedef int (*xsrec_visit_fn)(void *ctx, const struct xsrec_record *rec,
                              struct xsrec_error *err);

/* Which format a buffer holds, from its first octets. */
enum xsrec_format xsrec_detect(const uint8_t *buf, size_t len);

/*
 * Check every rule of the detected format, calling `visit` (may be NULL)
 * for each good record in order.  `info` (may be NULL) is filled as far as
 * the parse got.  0 when the whole buffer is a valid stream, else -1 and
 * `err` says why.
 */
int xsrec_parse(const uint8_t *buf, size_t len, xsrec_visit_fn visit, void *ctx,
                struct xsrec_info *info, struct xsrec_error *err);

/* xsrec_parse without a visitor. */
int xsrec_verify(const uint8_t *buf, size_t len, struct xsrec_info *info,
                 struct xsrec_error *err);

/*
 * Readers: on success `out` (which must be empty) holds the whole stream;
 * on failure it stays empty.  xsrec_read detects the format; the others
 * insist on theirs.  A seed stream that has watches or transactions gets
 * one placeholder connection, XSREC_SEED_CONN_ID, of type ring with domid,
 * tdomid XSREC_DOMID_INVALID and evtchn 0, that they refer to.
 */
int xsrec_read(const uint8_t *buf, size_t len, struct xsrec_stream *out,
               struct xsrec_info *info, struct xsrec_error *err);
int xsrec_read_upstream(const uint8_t *buf, size_t len, struct xsrec_stream *out,
                        struct xsrec_error *err);
int xsrec_read_seed(const uint8_t *buf, size_t len, struct xsrec_stream *out,
                    struct xsrec_error *err);

/* --------------------------------------------------------------- writing */

/*
 * Upstream writer flags.  By default each record's len counts the body
 * with its padding, as C xenstored 4.17 writes it (its reader steps by len
 * alone); XSREC_UP_EXACT_LEN writes the body length without padding, the
 * literal reading of the design document.  Both are accepted on read.
 */
#define XSREC_UP_EXACT_LEN 0x1u

/*
 * Encode `s` into a new buffer (*out, *out_len; release with free()).  The
 * model must be consistent (ids referenced exist, fields in range, every
 * rule of FORMAT.md holds): the writer checks its own output with the
 * reader's rules and fails rather than write a stream that breaks one.
 * 0 on success, -1 with `err` set.
 */
int xsrec_write_upstream(const struct xsrec_stream *s, enum xsrec_byteorder order,
                         unsigned flags, uint8_t **out, size_t *out_len,
                         struct xsrec_error *err);

/*
 * What the seed format cannot carry of a model (see FORMAT.md).
 * xsrec_seed_loss returns true when anything would be lost.
 */
struct xsrec_seed_loss {
    bool global;            /* GLOBAL_DATA present */
    size_t conns;           /* connections other than the seed placeholder */
    size_t pending_octets;  /* their buffered in/out data */
    size_t tx_nodes;        /* NODE_DATA of pending transactions */
    size_t tx_ops;          /* transactions' operation logs (TX_OP) */
    size_t perm_flags;      /* permissions with flags (stale) set */
    size_t domains;         /* distinct conn-ids owning watches/transactions */
};
bool xsrec_seed_loss(const struct xsrec_stream *s, struct xsrec_seed_loss *loss);

/* Seed writer flag: drop what the seed cannot carry instead of failing. */
#define XSREC_SEED_ALLOW_LOSS 0x1u

/*
 * Encode `s` in the seed format.  Fails with rule "not-representable" when
 * something would be lost and XSREC_SEED_ALLOW_LOSS is not given, and
 * always when watches or transactions belong to more than one connection
 * (the seed's records are one domain's).
 */
int xsrec_write_seed(const struct xsrec_stream *s, unsigned flags,
                     uint8_t **out, size_t *out_len, struct xsrec_error *err);

/* Names for printing. */
const char *xsrec_format_name(enum xsrec_format f);
const char *xsrec_type_name(enum xsrec_format f, uint32_t type);

#ifdef __cplusplus
}
#endif

#endif /* XSRECORDS_H */
