/*
 * fair.h - a fair share of xenstored between the domains that compete for
 * it.  Pure: the caller gives every time (ns, monotonic) and does the I/O.
 *
 * Cost.  What a batch of replies (those xsproxy found at one wake-up)
 * cost the daemon is the CPU time it used since the batch before, read
 * from the kernel where xsproxy can (xenstored a process of this host);
 * elsewhere, the time since the daemon last finished a request, as it
 * serves one request at a time (which counts what else ran on its CPU).
 * A batch's cost is shared among its replies in proportion to a model, a
 * request costing a[type] + b x its size, which learns from every batch by
 * normalised least mean squares (so that types that only come in mixed
 * batches still tell themselves apart).
 *
 * Share.  Each account (a domain, or all dom0 socket clients together) has
 * a virtual time: the cost it was served, divided by its weight.  An
 * account asking for one request at a time always has it: the daemon
 * serves the connections in turn, one request each, and a guest doing one
 * thing after another never waits for xsproxy.  What a flood asks beyond
 * that - a request while another of its own is at the daemon, or with more
 * queued behind it - it gets, while other accounts compete (have a request
 * held back, or sent one or had one answered within FAIR_WINDOW_NS), only
 * while its virtual time is not more than FAIR_SLACK_NS ahead of the least
 * of theirs.  So the
 * others keep their turn in the gaps between their requests, and a flood
 * gets the daemon's time they leave, up to its share.  Alone, an account
 * is never held back (work-conserving but for the window).  An account
 * that comes back after a pause starts from the virtual time of the
 * others: idleness is not saved up.
 */
#ifndef XSPROXY_FAIR_H
#define XSPROXY_FAIR_H

#include <stdbool.h>
#include <stdint.h>

#define FAIR_WEIGHT_DEFAULT 100u
#define FAIR_WEIGHT_MAX 10000u
/* A domain counts as competing this long after its last request.  The
 * window bridges the gap between a reply and the next request of a guest
 * doing one thing after another (tens of microseconds, up to a scheduling
 * delay), so that a flooding domain does not slip in there; it is the only
 * time the scheduler may hold a domain back while the daemon idles. */
#define FAIR_WINDOW_NS 2000000ull

/* How far ahead of the least of the others an account that asks for more
 * than one request at a time may be and still have it: a few requests'
 * worth, so that many domains each keeping requests in flight keep the
 * daemon busy instead of taking turns one request at a time, and a flood
 * gets that much ahead of a guest doing one thing after another at most. */
#define FAIR_SLACK_NS 1000000ull

/* request types whose cost is learnt apart (the last: any other) */
#define FAIR_TYPES 32u

struct fair_account {
    struct fair_account *next_active;   /* on fair.active */
    bool on_active;
    unsigned weight;
    uint64_t vtime;        /* cost served x FAIR_WEIGHT_DEFAULT / weight, ns */
    uint64_t last_active;  /* last request sent or found waiting */
    unsigned inflight;     /* requests at the daemon */
    bool held;             /* it has a request it may not send yet */
    bool queued;           /* ... with more queued behind it */
    uint64_t held_since;
    uint64_t cost_ns;      /* measured cost of what it was served */
    uint64_t held_ns;      /* time it was held back, in all */
};

/* One request at the daemon: when it went, what it is, what it was
 * charged when it went. */
struct fair_flight {
    uint64_t sent;
    uint32_t est;
    uint32_t len;
    uint16_t type;
};

/* One connection's requests at the daemon, in order (a daemon answers each
 * connection's requests in order). */
struct fair_flow {
    struct fair_account *acct;
    struct fair_flight *q;
    unsigned head, len, cap;
};

struct fair_done {
    struct fair_account *acct;
    struct fair_flight req;
};

struct fair {
    struct fair_account *active;   /* accounts that competed lately */
    uint64_t vclock;               /* the virtual time of an account that
                                      was served just its share; where a
                                      returning account starts */
    uint64_t last_done;            /* when the daemon last finished one */
    double per_type[FAIR_TYPES];   /* ns: the model's a[type] */
    double per_kib;                /* ns per KiB of payload: its b */
    struct fair_done *batch;       /* replies seen since fair_settle */
    unsigned batch_len, batch_cap;
    unsigned nr_held;              /* accounts held back now */
};

void fair_init(struct fair *f);
void fair_free(struct fair *f);
void fair_account_init(struct fair_account *a);
/* A's owner goes: it no longer counts, nothing points at it. */
void fair_account_drop(struct fair *f, struct fair_account *a);
/* Is A competing at NOW? */
bool fair_competing(const struct fair_account *a, uint64_t now);
/* A has a request to send at NOW (QUEUED: and more behind it): may it?
 * Records that A is active, and whether (and since when) it is held back. */
bool fair_may_send(struct fair *f, struct fair_account *a, uint64_t now, bool queued);
/* A has nothing to send (or may not send anything: quiesced): it is no
 * longer held back. */
void fair_idle(struct fair *f, struct fair_account *a, uint64_t now);
/* The same question as fair_may_send, changing nothing (whom to wake). */
bool fair_would_allow(const struct fair *f, const struct fair_account *a, uint64_t now);
/* A request of TYPE with LEN payload bytes went on FLOW at NOW: charge its
 * estimated cost.  0, or -1 (out of memory: it is not counted). */
int fair_sent(struct fair *f, struct fair_flow *flow, uint32_t type, uint32_t len, uint64_t now);
/* FLOW's oldest request was answered.  Its cost is settled by fair_settle. */
void fair_answered(struct fair *f, struct fair_flow *flow);
/* The replies seen since the last call were all there at NOW: share the
 * daemon's time among them and charge their accounts.  BUSY is the CPU
 * time the daemon used since the last call, when known (UINT64_MAX: not
 * known; the time since it last finished a request is taken instead). */
void fair_settle(struct fair *f, uint64_t now, uint64_t busy);
/* FLOW's requests will not be answered (the daemon went, the flow ends). */
void fair_flow_reset(struct fair_flow *flow);
void fair_flow_free(struct fair_flow *flow);
/* What the model says a request of TYPE with LEN payload bytes costs, ns. */
uint32_t fair_estimate(const struct fair *f, uint32_t type, uint32_t len);
/* A's weight: FAIR_WEIGHT_DEFAULT for an account never initialised (a
 * domain's is set up at its first request, share.c). */
static inline unsigned fair_weight(const struct fair_account *a)
{
    return a->weight ? a->weight : FAIR_WEIGHT_DEFAULT;
}
/* A's share at NOW among the accounts competing, in percent (100 alone;
 * also for an account never initialised). */
unsigned fair_share_percent(const struct fair *f, const struct fair_account *a, uint64_t now);
/* Held time including a hold still going on at NOW. */
uint64_t fair_held_ns(const struct fair_account *a, uint64_t now);

#endif
