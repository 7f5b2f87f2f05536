/*
 * ring_follow.h - both streams of one xenstore ring followed from outside
 * (stream_track.h), and the requests the server has taken or has yet to
 * take but not answered: what a live switch hands over.
 *
 * Inside xenstored the shim follows every ring it maps.  A switch to the
 * shadow ring may happen at any moment the daemon is inside a shim call,
 * whatever the guest is doing: the requests the daemon still owes a reply
 * (taken before the switch, or left on the ring) become requests in flight
 * of xsproxy's shadow, a request the guest is half-way through writing is
 * finished by xsproxy, and a reply the daemon is half-way through writing
 * is finished on the shadow ring.  The one state that has no such hand-over
 * is a request the daemon has taken part of: xsproxy could not tell the
 * daemon's half from the guest's.  Pure: the caller passes ring snapshots.
 */
#ifndef XSSHIM_RING_FOLLOW_H
#define XSSHIM_RING_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

#include "stream_track.h"

/* A request whose header went by, not yet answered. */
struct followed_req {
    struct xsd_sockmsg hdr;
    XENSTORE_RING_IDX start;   /* where its header began in the request stream */
};

/* Unanswered requests followed at most (C xenstored 4.17 takes 20 at a
 * time and a ring holds 64 more; oxenstored answers as it reads).  Past
 * it the list is unknown from then on. */
#define RING_FOLLOW_PENDING_MAX 4096u

struct ring_follow {
    struct stream_track req, rsp;
    struct followed_req *pending;   /* oldest first (malloc'd, grown) */
    unsigned len, cap;
    bool unknown;   /* a stream was lost or the list overflowed: which
                       requests are unanswered is not known */
};

/* Where a switch at a snapshot leaves the requester. */
struct switch_point {
    XENSTORE_RING_IDX req_cons, req_prod, rsp_prod;
    uint32_t req_part;   /* bytes of a request the guest is writing, before
                            req_prod (0: between requests) */
    uint32_t rsp_part;   /* bytes of a reply or event the daemon is writing,
                            before rsp_prod (0: between messages) */
    struct xsd_sockmsg rsp_hdr;   /* that message's header (rsp_part >= 16) */
    unsigned nr_pending;          /* whole requests not answered: the first
                                     nr_pending of the follow's list */
    bool guessed;        /* the streams were lost: judged by the look of the
                            bytes, with nothing pending known */
};

/* Start following the ring R where the daemon stands (it reads requests
 * from req_cons, writes replies at rsp_prod).  A ring the daemon has
 * served before (introduced again) has a history nobody followed: its
 * unanswered requests are unknown. */
void ring_follow_start(struct ring_follow *f, const struct xenstore_domain_interface *r);
/* Let go of F's memory (it may be started again). */
void ring_follow_free(struct ring_follow *f);
/* Follow both streams up to REQ_PROD and RSP_PROD. */
void ring_follow_feed(struct ring_follow *f, const struct xenstore_domain_interface *r,
                      XENSTORE_RING_IDX req_prod, XENSTORE_RING_IDX rsp_prod);
/* Could the ring switch at SNAP, a copy of the page taken while the daemon
 * stands still?  Follows SNAP first.  NULL and the hand-over in *OUT, or
 * why not. */
const char *ring_follow_switch_point(struct ring_follow *f,
                                     const struct xenstore_domain_interface *snap,
                                     struct switch_point *out);

#endif
