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

struct shadow_tx {
    struct shadow_tx *next;
    uint32_t guest_id;     /* what the guest uses */
    uint32_t backend_id;   /* what xenstored gave */
    bool doomed;           /* restored from a migration stream without its
                              history: it ends in EAGAIN (the seed's rule) */
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
    bool internal;         /* xsproxy's own (re-registering a watch): the
                              reply is not the guest's */
};

struct shadow {
    struct shadow_watch *watches;
    unsigned nr_watches;
    uint32_t watch_gencnt;   /* bumped on every change of the list */
    struct shadow_tx *txs;
    unsigned nr_txs;
    struct inflight *q;      /* FIFO: xenstored answers a connection in order */
    unsigned q_head, q_len, q_cap;
    uint64_t unexpected;     /* replies with no request in flight */
};

enum shadow_reply { SHADOW_REPLY, SHADOW_EVENT, SHADOW_UNEXPECTED, SHADOW_INTERNAL };

void shadow_init(struct shadow *s);
/* Forget everything (RECONNECTION, domain removal). */
void shadow_clear(struct shadow *s);

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
/* Recreate the guest's transaction GUEST_ID (from a migration stream):
 * M is xsproxy's own TRANSACTION_START; on its reply the guest's id maps to
 * the new transaction, which ends in EAGAIN. */
int shadow_on_restore_tx(struct shadow *s, const struct msg *m, uint32_t guest_id);
/* Internal requests still waiting for xenstored. */
unsigned shadow_internal_inflight(const struct shadow *s);
/* GET_DOMAIN_WATCHES: "<gencnt>\0" then "<path>\0<token>\0" for the watches
 * from INDEX on, as many whole ones as fit in LEN.  Returns the length. */
uint32_t shadow_watch_page(const struct shadow *s, uint32_t index, char *buf, uint32_t len);
/* xenstored went away: every request in flight is lost (the caller
 * answers them first) and so are the transactions; watches stay, to be
 * registered again with the next xenstored. */
void shadow_backend_lost(struct shadow *s);

static inline unsigned shadow_inflight(const struct shadow *s) { return s->q_len; }
const struct inflight *shadow_inflight_at(const struct shadow *s, unsigned i);
/* The guest-visible id for xenstored's BACKEND_ID, 0 if none. */
uint32_t shadow_guest_tx(const struct shadow *s, uint32_t backend_id);
/* Append a readable description of S (the `list <domid>` output). */
size_t shadow_describe(const struct shadow *s, char *buf, size_t len);

#endif
