/*
 * relay_step.h - the relay's state of one domain between passes: the
 * messages under way between the guest's ring and the shadow ring, what
 * waits for each, and what holds the guest's ring.
 */
#ifndef XSPROXY_RELAY_STEP_H
#define XSPROXY_RELAY_STEP_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

#include "bytequeue.h"
#include "msg.h"

enum domain_state {
    DOM_ACTIVE,       /* relaying */
    DOM_BROKEN,       /* the guest broke the ring protocol: its request bytes
                         go to xenstored unparsed, xenstored's replies come
                         back, until it reconnects */
    DOM_RECONNECTING, /* the guest asked for RECONNECTION; xenstored has
                         been asked too and has not finished */
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

#endif
