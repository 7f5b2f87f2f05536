/*
 * relay_step.h - one pass of the relay for one domain, without I/O: the
 * guest's requests from its ring to the shadow ring (the page xenstored
 * reads), one whole message at a time and taking from the guest's ring only
 * the bytes of the current message, and xenstored's replies and watch
 * events back, feeding the shadow state (shadow.h) on the way.
 *
 * relay_step() goes round until nothing moves and says what happened: what
 * progressed, which side to notify, whether the journal needs a commit.
 * Everything else is its caller's (domain.c): event channels, the journal,
 * the fair share's decision (asked through relay_env), traces and the log
 * (told through relay_env's callbacks, which may be NULL).  So the code the
 * daemon runs is the code the unit tests and the fuzzer drive.
 */
#ifndef XSPROXY_RELAY_STEP_H
#define XSPROXY_RELAY_STEP_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

#include "bytequeue.h"
#include "log_level.h"
#include "msg.h"
#include "ring.h"
#include "shadow.h"

enum domain_state {
    DOM_ACTIVE,       /* relaying */
    DOM_BROKEN,       /* the guest broke the ring protocol: its request bytes
                         go to xenstored unparsed, xenstored's replies come
                         back, until it reconnects */
    DOM_RECONNECTING, /* the guest asked for RECONNECTION; xenstored has
                         been asked too and has not finished (domain.c:
                         relay_step is not called meanwhile) */
};

/* What the relay keeps of a domain between passes: the messages under way
 * both ways, what waits for each ring, and what holds the guest's ring. */
struct relay {
    enum domain_state state;
    struct msg in;              /* request being read from the guest */
    bool in_queued;             /* `in` is whole and goes to the shadow */
    uint32_t in_sent;           /* bytes of `in` written to the shadow */
    uint32_t in_on_shadow;      /* bytes of `in` the guest wrote before a live
                                   switch: on the shadow ring already */
    struct msg out;             /* message being read from the shadow */
    bool out_streaming;         /* `out` is too big for a ring: its bytes go
                                   on to the guest as they come */
    bool out_discard;           /* ... except that it answers xsproxy's own
                                   request, so they go nowhere */
    uint32_t out_skip;          /* bytes of `out` xenstored wrote before a live
                                   switch: on the guest's ring already */
    XENSTORE_RING_IDX out_rd;   /* how far xsproxy has read the shadow's
                                   response ring; its rsp_cons trails this by
                                   what the guest has not taken yet */
    bool rsp_corrupt;           /* the guest's response indexes are out of
                                   range (so are the shadow's, mirrored) */
    bool req_corrupt;           /* its request indexes are: the shadow's
                                   req_prod is past the ring, s_req_prod_sane
                                   is where it stood */
    XENSTORE_RING_IDX s_req_prod_sane;
    bool raw;                   /* DOM_BROKEN's bytes are being passed on raw:
                                   guest index = shadow index + raw_off */
    uint32_t raw_off;
    uint32_t g_msg_left;        /* bytes of the message at the head of
                                   to_guest not yet on the guest's ring */
    bool quiesce;               /* QUIESCE: take nothing more from the
                                   guest's ring until RESUME */
    bool restoring;             /* restored: the guest's ring waits until its
                                   transactions are replayed */
    bool transfer_held;         /* restored by a transfer (transfer.c): stays
                                   quiesced until the source commits */
    bool removing;              /* being handed back: finish the request being
                                   read, take no other */
    struct bytequeue to_guest;  /* replies and events for the guest ring */
    struct bytequeue inject;    /* xsproxy's own requests for the shadow */
    uint32_t next_internal_id;
};

/* The four ring directions of a pass.  The indexes xsproxy writes (the
 * guest's req_cons and rsp_prod, the shadow's req_prod and rsp_cons) may
 * point at copies: domain.c lets the rings see them only once the journal
 * holds the state that goes with them. */
struct relay_rings {
    struct ring_dir greq, grsp;   /* the guest's page */
    struct ring_dir sreq, srsp;   /* the shadow page */
};

/* What a pass tells its caller as it goes, one note per message, right
 * after the shadow call it goes with (so a checker may look at the shadow
 * then). */
enum relay_note_kind {
    RELAY_NOTE_SENT,      /* the guest's request M is on its way to xenstored,
                             its tx id translated (GUEST_TX: the guest's) */
    RELAY_NOTE_LOCAL,     /* the guest's request M is answered by xsproxy
                             with REPLY (NULL: out of memory), not sent */
    RELAY_NOTE_INJECTED,  /* xsproxy's own request M is queued for the
                             shadow ring (relay_inject) */
    RELAY_NOTE_RECEIVED,  /* a whole message M from xenstored, as
                             shadow_on_reply classed it (HOW; BACKEND_TX: its
                             tx id before): for the guest unless internal */
    RELAY_NOTE_STREAM,    /* the header M of a message too big for a ring,
                             classed as HOW: its bytes follow as they come */
    RELAY_NOTE_STREAMED,  /* ... and its end, M whole; HOW is SHADOW_INTERNAL
                             when it answered xsproxy's own request, else
                             SHADOW_REPLY */
};

struct relay_note {
    enum relay_note_kind kind;
    const struct msg *m;
    const struct msg *reply;     /* RELAY_NOTE_LOCAL */
    enum shadow_reply how;       /* RECEIVED, STREAM, STREAMED */
    uint32_t guest_tx;           /* SENT */
    uint32_t backend_tx;         /* RECEIVED */
};

/* What a pass may ask and tell its caller; any callback may be NULL. */
struct relay_env {
    unsigned max_outstanding;   /* requests of the guest at xenstored */
    bool backend_up;            /* false: the guest's requests get EIO */
    void *ctx;                  /* passed to the callbacks */
    /* The fair share: a new request is on the guest's ring and nothing
     * else holds it (FLOOD: more are behind it, or it is too big for a
     * ring).  May the relay start taking it?  NULL: yes. */
    bool (*may_start)(void *ctx, bool flood);
    /* The guest has nothing to start on, or is quiesced. */
    void (*idle)(void *ctx);
    void (*note)(void *ctx, const struct relay_note *n);
    /* Something for the log (LEVEL: LOG_LVL_*); LIMITED when the guest can
     * cause it in a loop, so that it goes through the domain's log limit. */
    void (*log)(void *ctx, int level, bool limited, const char *text);
};

struct relay_result {
    bool moved;           /* some bytes or indexes moved */
    bool notify_guest;    /* the guest may wait for what moved */
    bool notify_shadow;   /* so may xenstored */
    bool journal;         /* the relay's state changed: commit it */
};

/* One pass: relay between RINGS until nothing moves. */
struct relay_result relay_step(struct relay *r, struct shadow *sh,
                               const struct relay_rings *rings, const struct relay_env *env);

/* Queue xsproxy's own request M for the shadow ring (a watch registered
 * again, a transaction replayed), noted as RELAY_NOTE_INJECTED.  0, or -1
 * when out of memory. */
int relay_inject(struct relay *r, const struct relay_env *env, const struct msg *m);
/* A restored transaction's TRANSACTION_START or a replayed operation was
 * answered: inject what of the replays can go now; once every one is
 * answered the guest's ring is served again (it waited, so that none of
 * its requests overtakes its transactions' replay). */
void relay_replay_progress(struct relay *r, struct shadow *sh, const struct relay_env *env);
/* Forget the message being read from xenstored. */
void relay_reset_out(struct relay *r);

#endif
