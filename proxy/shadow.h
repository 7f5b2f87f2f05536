/*
 * shadow.h - xsproxy's shadow of one connection's xenstore state, kept from
 * the traffic it relays: watches (in order, paths as given), transactions
 * (guest-visible id <-> xenstored's id) and the requests in flight.
 *
 * A pure state machine: fed each request on its way to xenstored and each
 * message coming back, it translates transaction ids and records what
 * xenstored accepted.  No I/O, so it is unit-tested and fuzzed directly.
 */
#ifndef XSPROXY_SHADOW_H
#define XSPROXY_SHADOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct shadow_watch {
    struct shadow_watch *next;
    char *path;    /* as the guest gave it: relative paths stay relative */
    char *token;
};

/* One operation of a transaction with xenstored's answer: the log a
 * migrated transaction is replayed from (payloads as on the wire). */
struct tx_op {
    uint32_t type, rsp_type;
    uint32_t req_len, rsp_len;
    uint8_t *req, *rsp;
};

/* A transaction's log is kept up to this many octets of payloads; a longer
 * one is cut and the transaction cannot be replayed (it ends in EAGAIN if
 * migrated).  Drivers' transactions are a handful of small operations. */
#define SHADOW_TX_LOG_MAX (8u * 1024u)

struct shadow_tx {
    struct shadow_tx *next;
    uint32_t guest_id;     /* what the guest uses */
    uint32_t backend_id;   /* what xenstored gave (0: being restarted) */
    bool doomed;           /* it ends in EAGAIN: migrated without a usable
                              log, or its replay got another answer */
    struct tx_op *ops;     /* every READ, WRITE, MKDIR, RM, DIRECTORY,
                              DIRECTORY_PART, GET_PERMS, SET_PERMS in order */
    unsigned nops, cap_ops;
    size_t log_bytes;
    bool log_cut;          /* the log outgrew SHADOW_TX_LOG_MAX, or a reply
                              was too big to keep: not replayable */
    unsigned replay_next;  /* restored: ops[replay_next..] still to replay */
    bool replaying;        /* restored and its replay not yet all sent */
    bool adopted;          /* opened before xsproxy stood in front (live
                              insertion): known from its first use since,
                              its earlier operations unknown */
};

struct inflight {
    uint32_t req_id;
    uint32_t type;
    uint32_t guest_tx;     /* put back in the reply's header */
    char *watch_path;      /* WATCH/UNWATCH: what to add or remove on OK */
    char *watch_token;
    bool force_eagain;     /* a doomed transaction's END: xenstored aborts
                              it, the guest gets EAGAIN */
    uint32_t restore_tx;   /* an internal TRANSACTION_START recreating the
                              guest's transaction of this id */
    uint32_t replay_tx;    /* an internal request replaying op REPLAY_OP of
                              the guest's transaction of this id */
    unsigned replay_op;
    uint8_t *tx_req;       /* an operation in a transaction: its payload, to
                              log with the reply */
    uint32_t tx_req_len;
    bool internal;         /* xsproxy's own (re-registering a watch): the
                              reply is not the guest's */
};

/* What F owns (its watch's strings, its logged payload) freed, the
 * pointers cleared. */
void shadow_free_inflight(struct inflight *f);

struct shadow {
    struct shadow_watch *watches;
    unsigned nr_watches;
    uint32_t watch_gencnt;   /* bumped on every change of the list */
    struct shadow_tx *txs;
    unsigned nr_txs;
    struct inflight *q;      /* FIFO: xenstored answers a connection in order */
    unsigned q_head, q_len, q_cap;
    uint64_t unexpected;     /* replies with no request in flight */
    struct inflight streamed;  /* a logged or replayed request whose reply is
                                  too big for a ring: finished by
                                  shadow_on_streamed_end */
    bool has_streamed;
    bool adopt_unknown_tx;   /* live-inserted: a tx id the shadow does not
                                know was opened before; remember it */
    bool incomplete;         /* live-inserted on a daemon that could not say
                                which watches the domain had */
    uint32_t domid;          /* the domain (0: not known): its relative
                                paths are under /local/domain/<domid>, so
                                "x" and "/local/domain/<domid>/x" name the
                                same watch for xenstored */
};

enum shadow_reply {
    SHADOW_REPLY,        /* the guest's */
    SHADOW_EVENT,
    SHADOW_UNEXPECTED,   /* no request in flight */
    SHADOW_INTERNAL,     /* xsproxy's own (a watch it registered) */
    SHADOW_INTERNAL_TX,  /* xsproxy's own, restoring a transaction */
};

/* Does a reply so classed answer xsproxy's own request (not the guest's)? */
static inline bool shadow_reply_internal(enum shadow_reply r)
{
    return r == SHADOW_INTERNAL || r == SHADOW_INTERNAL_TX;
}

void shadow_init(struct shadow *s);
/* Forget everything (RECONNECTION, domain removal). */
void shadow_clear(struct shadow *s);
/* Forget the watches alone (bumps watch_gencnt). */
void shadow_clear_watches(struct shadow *s);

/* A request on its way to xenstored: translate its tx id in place and
 * remember it.  0, or -1 when out of memory (nothing changed then). */
int shadow_on_request(struct shadow *s, struct msg *m);
/* A message from xenstored on its way back: a reply ends the oldest request
 * in flight, updates the state, and gets the guest's tx id back (and a
 * TRANSACTION_START reply the guest-visible id).  A watch event passes. */
enum shadow_reply shadow_on_reply(struct shadow *s, struct msg *m);

/* A request xsproxy sends as the guest (M's tx id is xenstored's); its
 * reply is xsproxy's, not the guest's.  With ADDS_WATCH, an OK to a WATCH
 * adds the watch to the shadow (ADD_DOMAIN_WATCHES); without, the watch is
 * known already (registered again with a new xenstored). */
int shadow_on_internal_request(struct shadow *s, const struct msg *m, bool adds_watch);
/* Recreate the guest's transaction GUEST_ID from a migration stream, with
 * its log OPS (payloads already mapped to this host's domain id; copied),
 * or, when REPLAYABLE is false, as a transaction that ends in EAGAIN.
 * M is xsproxy's own TRANSACTION_START for it; once xenstored answers,
 * shadow_next_replay gives the log's operations to send in the new
 * transaction.  The transaction goes on only if each gets the answer it got
 * on the source; otherwise its TRANSACTION_END is aborted and the guest
 * gets EAGAIN.  0, or -1 when out of memory. */
int shadow_on_restore_tx(struct shadow *s, const struct msg *m, uint32_t guest_id,
                         const struct tx_op *ops, unsigned nops, bool replayable);
/* The next replay request to send (built in M with REQ_ID and remembered
 * as in flight): 1, or 0 when there is none now. */
int shadow_next_replay(struct shadow *s, struct msg *m, uint32_t req_id);
/* Restored transactions whose replay is not all sent yet. */
unsigned shadow_replays_pending(const struct shadow *s);
/* The whole of a reply shadow_on_reply saw only the header of (it was
 * streamed): log it or compare it, as its request needs. */
void shadow_on_streamed_end(struct shadow *s, const struct msg *m);
/* Internal requests still waiting for xenstored. */
unsigned shadow_internal_inflight(const struct shadow *s);
/* GET_DOMAIN_WATCHES: "<gencnt>\0" then "<path>\0<token>\0" for the watches
 * from INDEX on, as many whole ones as fit in LEN.  Returns the length. */
uint32_t shadow_watch_page(const struct shadow *s, uint32_t index, char *buf, uint32_t len);
/* Live insertion: the watches a domain registered before xsproxy stood in
 * front, from oxenstored's answer to XS_CONTROL `watches` (a line
 * "watch D<domid>: <path> <token>" per watch of every connection; the path
 * has no space, the token is the rest of the line).  Adds DOMID's in order,
 * each once; returns how many the list gained, or -1 when TEXT is not in
 * that form. */
int shadow_learn_watches(struct shadow *s, uint32_t domid, const char *text);

/* xenstored went away: every request in flight is lost (the caller
 * answers them first) and so are the transactions; watches stay, to be
 * registered again with the next xenstored. */
void shadow_backend_lost(struct shadow *s);

static inline unsigned shadow_inflight(const struct shadow *s) { return s->q_len; }
const struct inflight *shadow_inflight_at(const struct shadow *s, unsigned i);
/* The guest-visible id for xenstored's BACKEND_ID, 0 if none. */
uint32_t shadow_guest_tx(const struct shadow *s, uint32_t backend_id);
/* Bytes S holds on the heap (watches, transactions with their logs,
 * requests in flight), roughly: the `memory` figure of `list`. */
size_t shadow_memory(const struct shadow *s);
/* Append a readable description of S (the `list <domid>` output). */
size_t shadow_describe(const struct shadow *s, char *buf, size_t len);

/* The shadow as bytes (shadow_codec.c), for a restarted xsproxy to carry
 * on: every watch, transaction (with its log) and request in flight, in a
 * versioned little-endian format.  Pure, no I/O.
 *
 * Append S's encoding to the growable *BUF (*LEN used of *CAP; realloc'd,
 * the caller frees it).  0, or -1 when out of memory (*LEN unchanged). */
int shadow_encode(const struct shadow *s, uint8_t **buf, size_t *len, size_t *cap);
/* Rebuild S (initialised with shadow_init, empty) from the encoding at the
 * start of BUF; *USED (if not NULL) says how many bytes it took, so other
 * data may follow.  0, or -1 with a reason in ERR when BUF does not start
 * with a whole, valid encoding; S is then left empty (everything freed).
 * An S that is not empty is refused and left as it is. */
int shadow_decode(struct shadow *s, const uint8_t *buf, size_t len, size_t *used, char *err,
                  size_t errlen);

/* The same state in two parts, for a journal that commits the watch list
 * (large at the quota, and seldom changing) only when watch_gencnt moved:
 * shadow_encode_apart writes everything but the list, shadow_encode_watches
 * the list (and watch_gencnt) alone.  shadow_decode_apart takes either
 * form, saying in *APART (if not NULL) which; shadow_decode_watches adds a
 * list to a shadow that has none (on failure S has none again). */
int shadow_encode_apart(const struct shadow *s, uint8_t **buf, size_t *len, size_t *cap);
int shadow_encode_watches(const struct shadow *s, uint8_t **buf, size_t *len, size_t *cap);
int shadow_decode_apart(struct shadow *s, const uint8_t *buf, size_t len, size_t *used,
                        bool *apart, char *err, size_t errlen);
int shadow_decode_watches(struct shadow *s, const uint8_t *buf, size_t len, char *err,
                          size_t errlen);

#endif
