/*
 * fair.c - the fair share of xenstored (see fair.h): what requests cost,
 * learnt from the replies' timing, and which account may send next.
 */
#include "fair.h"

#include <stdlib.h>
#include <string.h>

/* What a request of any type is taken to cost before anything is learnt,
 * and the least a type is taken to cost after (so that a batch's time is
 * never split by zeros). */
#define FAIR_EST_FIRST 20000.0
#define FAIR_EST_MIN 1000.0
/* each batch moves the model this part of the way to fitting it */
#define FAIR_LEARN 0.125

void fair_init(struct fair *f)
{
    memset(f, 0, sizeof(*f));
    for (unsigned i = 0; i < FAIR_TYPES; i++)
        f->per_type[i] = FAIR_EST_FIRST;
}

void fair_free(struct fair *f)
{
    free(f->batch);
    f->batch = NULL;
    f->batch_len = f->batch_cap = 0;
}

void fair_account_init(struct fair_account *a)
{
    memset(a, 0, sizeof(*a));
    a->weight = FAIR_WEIGHT_DEFAULT;
}

static void deactivate(struct fair *f, struct fair_account *a)
{
    for (struct fair_account **p = &f->active; *p; p = &(*p)->next_active)
        if (*p == a) {
            *p = a->next_active;
            break;
        }
    a->on_active = false;
    a->next_active = NULL;
}

static void unhold(struct fair *f, struct fair_account *a, uint64_t now)
{
    if (!a->held)
        return;
    a->held = false;
    a->held_ns += now - a->held_since;
    f->nr_held--;
}

void fair_idle(struct fair *f, struct fair_account *a, uint64_t now)
{
    unhold(f, a, now);
}

void fair_account_drop(struct fair *f, struct fair_account *a)
{
    unhold(f, a, a->held_since);
    if (a->on_active)
        deactivate(f, a);
    for (unsigned i = 0; i < f->batch_len; i++)
        if (f->batch[i].acct == a)
            f->batch[i].acct = NULL;
}

/* Requests at the daemon do not count by themselves: one whose reply
 * never comes (the daemon went) would make its account compete for ever. */
bool fair_competing(const struct fair_account *a, uint64_t now)
{
    return a->held || now - a->last_active < FAIR_WINDOW_NS;
}

/* Does B's virtual time bound A's?  Only when A asks for more than one
 * request at a time: one while another of its own is at the daemon, or
 * with more queued behind it on its ring.  Then every account competing
 * bounds it, a guest doing one thing after another in the gaps between its
 * requests too, which is what keeps that guest's latency.  A guest asking
 * one request at a time is bound by none: it takes its turn at the daemon,
 * which serves the connections in turn, one request each. */
static bool bounds(const struct fair_account *a, const struct fair_account *b, uint64_t now)
{
    return b != a && (a->inflight > 0 || a->queued) && fair_competing(b, now);
}

/* The least virtual time among the accounts that bound A at NOW; false
 * when none does.  With UPDATE, accounts no longer competing leave the
 * active list on the way, and the scheduler's virtual time moves up to the
 * least of those competing (where a returning account starts). */
static bool floor_for(struct fair *f, const struct fair_account *a, uint64_t now, bool update,
                      uint64_t *floor)
{
    bool any = false;
    uint64_t least = a->vtime;
    struct fair_account **p = &f->active;
    while (*p) {
        struct fair_account *b = *p;
        if (b != a && !fair_competing(b, now)) {
            if (update) {
                *p = b->next_active;
                b->on_active = false;
                b->next_active = NULL;
                continue;
            }
        } else if (b != a && b->vtime < least) {
            least = b->vtime;
        }
        if (bounds(a, b, now) && (!any || b->vtime < *floor)) {
            *floor = b->vtime;
            any = true;
        }
        p = &b->next_active;
    }
    if (update && least > f->vclock)
        f->vclock = least;
    return any;
}

bool fair_would_allow(const struct fair *f, const struct fair_account *a, uint64_t now)
{
    uint64_t floor = 0;
    if (!floor_for((struct fair *)f, a, now, false, &floor))
        return true;
    uint64_t vt = a->vtime;
    if (!fair_competing(a, now) && vt < f->vclock)
        vt = f->vclock;
    return vt <= floor + FAIR_SLACK_NS;
}

bool fair_may_send(struct fair *f, struct fair_account *a, uint64_t now, bool queued)
{
    a->queued = queued;
    if (!fair_competing(a, now) && a->vtime < f->vclock)
        a->vtime = f->vclock;   /* back after a pause: idleness is not saved up */
    a->last_active = now;
    if (!a->on_active) {
        a->next_active = f->active;
        f->active = a;
        a->on_active = true;
    }
    uint64_t floor = 0;
    bool bound = floor_for(f, a, now, true, &floor);
    bool ok = !bound || a->vtime <= floor + FAIR_SLACK_NS;
    if (!ok && !a->held) {
        a->held = true;
        a->held_since = now;
        f->nr_held++;
    } else if (ok) {
        unhold(f, a, now);
    }
    return ok;
}

static unsigned type_slot(uint32_t type)
{
    return type < FAIR_TYPES ? type : FAIR_TYPES - 1;
}

uint32_t fair_estimate(const struct fair *f, uint32_t type, uint32_t len)
{
    double e = f->per_type[type_slot(type)] + f->per_kib * (double)len / 1024.0;
    return e < FAIR_EST_MIN ? (uint32_t)FAIR_EST_MIN : e > 1e9 ? 1000000000u : (uint32_t)e;
}

/* Add DELTA ns of cost (negative: a correction) to A's virtual time. */
static void charge(struct fair_account *a, int64_t delta)
{
    if (!a->weight)
        a->weight = FAIR_WEIGHT_DEFAULT;
    int64_t scaled = delta * (int64_t)FAIR_WEIGHT_DEFAULT / (int64_t)a->weight;
    if (scaled < 0 && (uint64_t)-scaled > a->vtime)
        a->vtime = 0;
    else
        a->vtime += (uint64_t)scaled;
}

int fair_sent(struct fair *f, struct fair_flow *flow, uint32_t type, uint32_t len, uint64_t now)
{
    if (flow->len == flow->cap) {
        unsigned n = flow->cap ? 2 * flow->cap : 4;
        struct fair_flight *q = malloc(n * sizeof(*q));
        if (!q)
            return -1;
        for (unsigned i = 0; i < flow->len; i++)
            q[i] = flow->q[(flow->head + i) % flow->cap];
        free(flow->q);
        flow->q = q;
        flow->head = 0;
        flow->cap = n;
    }
    struct fair_flight *fl = &flow->q[(flow->head + flow->len++) % flow->cap];
    *fl = (struct fair_flight){ .sent = now, .est = fair_estimate(f, type, len), .len = len,
                                .type = (uint16_t)type_slot(type) };
    struct fair_account *a = flow->acct;
    a->inflight++;
    a->last_active = now;
    charge(a, fl->est);
    return 0;
}

void fair_answered(struct fair *f, struct fair_flow *flow)
{
    if (!flow->len)
        return;   /* sent before xsproxy counted (a live switch) */
    struct fair_flight fl = flow->q[flow->head];
    flow->head = (flow->head + 1) % flow->cap;
    flow->len--;
    if (flow->acct->inflight)
        flow->acct->inflight--;
    if (f->batch_len == f->batch_cap) {
        unsigned n = f->batch_cap ? 2 * f->batch_cap : 16;
        struct fair_done *b = realloc(f->batch, n * sizeof(*b));
        if (!b)
            return;   /* its estimate stays charged */
        f->batch = b;
        f->batch_cap = n;
    }
    f->batch[f->batch_len++] = (struct fair_done){ .acct = flow->acct, .req = fl };
}

/* Fit the model a little better to a batch that took GAP ns: normalised
 * LMS on the batch's features (how many requests of each type, how many
 * KiB), so that types that come in mixed batches still tell themselves
 * apart, and the size's part is learnt across types. */
static void learn(struct fair *f, double gap)
{
    double count[FAIR_TYPES] = { 0 }, kib = 0, predicted = 0;
    for (unsigned i = 0; i < f->batch_len; i++) {
        const struct fair_flight *r = &f->batch[i].req;
        count[r->type] += 1;
        kib += (double)r->len / 1024.0;
        predicted += f->per_type[r->type] + f->per_kib * (double)r->len / 1024.0;
    }
    double norm = kib * kib;
    for (unsigned t = 0; t < FAIR_TYPES; t++)
        norm += count[t] * count[t];
    double step = FAIR_LEARN * (gap - predicted) / norm;
    for (unsigned t = 0; t < FAIR_TYPES; t++) {
        f->per_type[t] += step * count[t];
        if (f->per_type[t] < FAIR_EST_MIN)
            f->per_type[t] = FAIR_EST_MIN;
    }
    f->per_kib += step * kib;
    if (f->per_kib < 0)
        f->per_kib = 0;
}

/* What the batch's replies cost together (see fair.h) is charged to each
 * in proportion to the model. */
void fair_settle(struct fair *f, uint64_t now, uint64_t busy)
{
    if (!f->batch_len)
        return;
    uint64_t start = UINT64_MAX, sum = 0;
    for (unsigned i = 0; i < f->batch_len; i++) {
        const struct fair_flight *r = &f->batch[i].req;
        if (r->sent < start)
            start = r->sent;
        sum += fair_estimate(f, r->type, r->len);
    }
    if (start < f->last_done)
        start = f->last_done;
    uint64_t gap = busy != UINT64_MAX ? busy : now > start ? now - start : 0;
    for (unsigned i = 0; i < f->batch_len; i++) {
        struct fair_done *d = &f->batch[i];
        if (!d->acct)
            continue;
        uint64_t share = gap * fair_estimate(f, d->req.type, d->req.len) / sum;
        charge(d->acct, (int64_t)share - (int64_t)d->req.est);
        d->acct->cost_ns += share;
        /* a reply, too, starts the window: a guest doing one thing after
         * another sends its next request just after */
        if (now > d->acct->last_active)
            d->acct->last_active = now;
    }
    learn(f, (double)gap);
    f->last_done = now;
    f->batch_len = 0;
}

void fair_flow_reset(struct fair_flow *flow)
{
    if (flow->acct)
        flow->acct->inflight =
            flow->acct->inflight > flow->len ? flow->acct->inflight - flow->len : 0;
    flow->head = flow->len = 0;
}

void fair_flow_free(struct fair_flow *flow)
{
    fair_flow_reset(flow);
    free(flow->q);
    flow->q = NULL;
    flow->cap = 0;
}

unsigned fair_share_percent(const struct fair *f, const struct fair_account *a, uint64_t now)
{
    /* never divided by 0: `list` asks about a domain inserted a moment ago,
     * its account not yet set up, while no other account competes */
    uint64_t sum = fair_weight(a);
    for (const struct fair_account *o = f->active; o; o = o->next_active)
        if (o != a && fair_competing(o, now))
            sum += fair_weight(o);
    return (unsigned)((100u * (uint64_t)fair_weight(a) + sum / 2) / sum);
}

uint64_t fair_held_ns(const struct fair_account *a, uint64_t now)
{
    return a->held_ns + (a->held ? now - a->held_since : 0);
}
