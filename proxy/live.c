/*
 * live.c - live insertion and removal: putting xsproxy in front of a domain
 * xenstored already serves directly (a guest that has run for months and is
 * about to migrate), and handing a domain back to xenstored.
 *
 * The switch happens inside xenstored, in the preloaded shim (the protocol
 * is shim/claim.h; the shim's side is at the top of shim/switch.c): xsproxy
 * writes the domain's claim with live=1 or live=back, notifies the wake-up
 * port the shim published (CLAIMS/.wake) and waits for the shim's answer.  A switch-in happens wherever the guest and xenstored
 * stand: the answer hands over the requests xenstored has not answered,
 * the request the guest is half-way through and the reply xenstored is
 * half-way through (domain_adopt_switch).  The shim answers "busy" only
 * while xenstored holds part of a request, which lasts until the guest
 * writes the rest; xsproxy asks again for up to SWITCH_TRY_MS.
 *
 * An insertion or a removal is a job (job.h): the shim notifies the wake-up
 * port when its answer is written, and a timer ticks every TICK_S for the
 * timeouts, the asking again and, before a removal, the domain's coming to
 * rest; every other domain is served meanwhile.  A domain being inserted
 * is not linked, and its channels relay nothing, until the job is done.
 * The domain is journalled, marked switching, before its claim is written:
 * an xsproxy that dies during the switch leaves the next one a journal
 * that says to ask the shim how it ended (live_recover_switch).
 *
 * What xsproxy did not see before the insertion: oxenstored lists every
 * connection's watches (XS_CONTROL `watches`); C xenstored cannot, and the
 * shadow is then marked incomplete.  Transactions opened before are adopted
 * at their first use (shadow.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "claim.h"
#include "job.h"
#include "proxy.h"
#include "unix_sock.h"

#define SWITCH_TRY_MS 3000     /* keep asking while the shim says busy, in all */
#define SWITCH_ANSWER_MS 2000  /* for one answer */
#define DRAIN_MS 5000          /* for a domain to come to rest before removal */

static void claims_dir(const struct proxy *px, char *buf, size_t len)
{
    snprintf(buf, len, "%s/claims", px->cfg.run_dir);
}

/* The shim's answer about DOMID (claim.h: CLAIMS/<domid>.state). */
static void unlink_state(const struct proxy *px, uint32_t domid)
{
    char dir[300], path[320];
    claims_dir(px, dir, sizeof(dir));
    if (claim_path(dir, domid, ".state", path, sizeof(path)) == 0)
        unlink(path);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_error(struct switch_answer *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(struct switch_answer *a, const char *fmt, ...)
{
    a->kind = SWITCH_ERROR;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
    va_end(ap);
}

/* Wake the shim inside xenstored: notify its wake-up port (claim.h:
 * CLAIMS/.wake), bound on this side first if it is not yet, or if a new
 * xenstored has published another.  0, or -1 with why in WHY. */
static int wake_shim(struct proxy *px, char *why, size_t len)
{
    char dir[300];
    claims_dir(px, dir, sizeof(dir));
    uint32_t port;
    int pid;
    if (wake_read(dir, &port, &pid) < 0) {
        snprintf(why, len, "xenstored's shim has published no wake-up port (.wake: %s): is "
                 "libxsshim.so preloaded into xenstored, with XSSHIM_CLAIMS set to xsproxy's "
                 "claims directory?", strerror(errno));
        return -1;
    }
    if (px->wake_port && (px->wake_remote != port || px->wake_pid != pid)) {
        xenevtchn_unbind(px->xce, px->wake_port);   /* an earlier xenstored's */
        px->wake_port = 0;
    }
    if (!px->wake_port) {
        int p = xenevtchn_bind_interdomain(px->xce, 0, port);
        if (p < 0) {
            snprintf(why, len, "cannot bind xenstored's wake-up port %u: %s", port,
                     strerror(errno));
            return -1;
        }
        px->wake_port = (evtchn_port_t)p;
        px->wake_remote = port;
        px->wake_pid = pid;
    }
    /* the count first: the shim may act on it on xenstored's next pass,
     * before the port's turn comes (claim.h) */
    if (!px->claims_asked)
        px->claims_asked = asked_map(dir);
    if (px->claims_asked)
        asked_bump(px->claims_asked);
    if (xenevtchn_notify(px->xce, px->wake_port) < 0) {
        snprintf(why, len, "cannot notify xenstored's wake-up port: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Ask the shim to act on DOMID's claim.  0, or -1 (A says why). */
static int request_switch(struct proxy *px, uint32_t domid, struct switch_answer *a)
{
    char dir[300];
    claims_dir(px, dir, sizeof(dir));
    if (claim_request_switch(dir, domid) < 0) {
        set_error(a, "cannot ask for the switch: %s", strerror(errno));
        return -1;
    }
    char why[sizeof(a->reason)];
    if (wake_shim(px, why, sizeof(why)) < 0) {
        set_error(a, "%s", why);
        return -1;
    }
    return 0;
}

/* The answer as the operator reads it. */
static const char *answer_text(const struct switch_answer *a)
{
    switch (a->kind) {
    case SWITCH_SHADOW: return a->already ? "switched in before (no positions)" : "switched in";
    case SWITCH_DIRECT: return "direct";
    case SWITCH_BUSY: return "busy";   /* the reason follows */
    case SWITCH_ERROR: return a->reason;
    }
    return "?";
}

#define WATCHES_MAX (16u << 20)   /* the largest `watches` answer taken */

/* XS_CONTROL `watches` on a connection of its own: oxenstored answers with
 * every connection's watches in one message, longer than the protocol's
 * 4096 bytes once a few dozen domains have watches - which libxenstore
 * refuses by closing the connection.  NULL when the daemon has no such
 * command (C xenstored) or the answer is not usable. */
static char *control_watches(struct proxy *px)
{
    int fd = unix_connect(px->cfg.backend_path, 0);
    if (fd < 0)
        return NULL;
    struct timeval tv = { 5, 0 };   /* never hang the loop on a daemon */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    static const char cmd[] = "watches";
    struct xsd_sockmsg h = { XS_CONTROL, 1, 0, sizeof(cmd) };
    char *text = NULL;
    if (io_all(fd, &h, sizeof(h), false) &&
        io_all(fd, (void *)cmd, sizeof(cmd), false) && io_all(fd, &h, sizeof(h), true) &&
        h.type == XS_CONTROL && h.len < WATCHES_MAX && (text = malloc(h.len + 1)) &&
        io_all(fd, text, h.len, true)) {
        text[h.len] = '\0';
    } else {
        free(text);
        text = NULL;
    }
    close(fd);
    return text;
}

/* What oxenstored says the domain watches; false when the daemon cannot
 * say (C xenstored) or said something else. */
static bool learn_watches(struct proxy *px, struct domain *d, int *n)
{
    char *text = control_watches(px);
    if (!text)
        return false;
    *n = shadow_learn_watches(&d->sh, d->domid, text);
    free(text);
    return *n >= 0;
}

/* The streams of D, switched (a shadow answer A), become xsproxy's where
 * they stood; the watches the daemon can list are learned.  How many, or
 * -1 with ERR. */
static int take_over(struct proxy *px, struct domain *d, const struct switch_answer *a,
                     char *err, size_t errlen)
{
    d->sh.adopt_unknown_tx = true;
    if (domain_adopt_switch(d, a, err, errlen) < 0)
        return -1;
    int learned = 0;
    if (!learn_watches(px, d, &learned))
        d->sh.incomplete = true;
    d->sw.switching = false;
    return learned;
}

/* The shim switched D (a shadow answer A): bind the guest's channel, take
 * the streams over where they stood, learn what the daemon can tell.  0,
 * or -1 with ERR (D is as the switch left it). */
static int finish_insert(struct proxy *px, struct domain *d, const struct switch_answer *a,
                         char *err, size_t errlen)
{
    int p = xenevtchn_bind_interdomain(px->xce, d->domid, d->remote_port);
    if (p < 0 || domain_set_port(px, (evtchn_port_t)p, d) < 0) {
        snprintf(err, errlen, "domain %u: cannot bind its event channel %u after the switch: %s",
                 d->domid, d->remote_port, strerror(errno));
        if (p >= 0)
            xenevtchn_unbind(px->xce, (evtchn_port_t)p);
        return -1;
    }
    d->guest_port = (evtchn_port_t)p;
    d->xsd_port = a->port;
    int learned = take_over(px, d, a, err, errlen);
    if (learned < 0)
        return -1;
    /* committed before anything is relayed: a crash from here on finds the
     * adopted streams in the journal, not the shim's answer, which the
     * shadow page no longer backs once the relay writes to it */
    if (domain_journal_now(d) < 0) {
        snprintf(err, errlen, "cannot write the journal of domain %u: %s", d->domid,
                 strerror(errno));
        return -1;
    }
    if (d->sh.incomplete)
        snprintf(err, errlen,
                 "domain %u inserted live; the daemon cannot list its watches: the shadow is "
                 "incomplete (save refuses it unless forced)\n",
                 d->domid);
    else
        snprintf(err, errlen, "domain %u inserted live, %d watches learned from the daemon\n",
                 d->domid, learned);
    xlog(LOG_LVL_INFO, "%.*s (requests at %u, %u of one being written; replies at %u, %u of "
         "one being written; %u requests taken over%s)", (int)strcspn(err, "\n"), err,
         a->req_prod, a->req_part, a->rsp_prod, a->rsp_part, a->nr_pending,
         a->guessed ? "; the shim judged the streams by their look" : "");
    return 0;
}

/* Nothing of D is on its way anywhere: xenstored could take its ring. */
static bool at_rest(const struct domain *d)
{
    const struct xenstore_domain_interface *s = d->xsd_ring;
    return shadow_inflight(&d->sh) == 0 && !d->rl.in_queued && d->rl.in.got == 0 &&
           !bq_pending(&d->rl.to_guest) && !bq_pending(&d->rl.inject) && d->rl.out.got == 0 &&
           s->req_cons == s->req_prod && d->rl.out_rd == s->rsp_prod;
}

/* Why xenstored could not take D back as it is, or NULL. */
static const char *cannot_hand_back(const struct domain *d)
{
    if (d->sw.diverged)
        return "xsproxy sent requests of its own as the domain (a restore, watches registered "
               "again): its ring's indexes at xenstored are no longer the guest's";
    for (const struct shadow_tx *t = d->sh.txs; t; t = t->next)
        if (t->guest_id != t->backend_id)
            return "xsproxy remapped a transaction id the guest uses (after a restore)";
    if (d->rl.state != DOM_ACTIVE)
        return "the domain's ring is broken or reconnecting";
    return NULL;
}

/* Bind the guest's channel again (after a handing back that did not
 * happen) and serve the domain. */
static void stay(struct proxy *px, struct domain *d)
{
    if (!d->guest_port) {
        int p = xenevtchn_bind_interdomain(px->xce, d->domid, d->remote_port);
        if (p >= 0) {
            d->guest_port = (evtchn_port_t)p;
            domain_set_port(px, d->guest_port, d);
        } else {
            xlog(LOG_LVL_ERROR, "domain %u: cannot bind its channel again: %s", d->domid,
                 strerror(errno));
        }
    }
    domain_write_claim(d, CLAIM_LIVE_IN);
    d->rl.removing = d->sw.handing_back = false;
    domain_pump(d);
}

/* ---- the jobs ----------------------------------------------------------- */

#define TICK_S 0.001

enum live_phase {
    LIVE_IN,        /* insert: asking until switched in */
    LIVE_UNDO,      /* insert failed after the switch: giving the ring back */
    LIVE_DRAIN,     /* remove: waiting for the domain to come to rest */
    LIVE_OUT,       /* remove: asking for the hand-back */
};

struct live_job {
    struct job job;             /* first: the job is the insertion or removal */
    enum live_phase phase;
    struct domain *d;           /* insert: prepared, not linked (the job's) */
    ev_timer tick;
    bool asking;                /* an answer is due, by answer_until */
    int64_t answer_until, try_until;
    struct switch_answer a;
    char why[1024];             /* LIVE_UNDO: why the insertion failed */
};

static void live_fail(struct live_job *lj, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void live_end(struct live_job *lj, int rc)
{
    ev_timer_stop(lj->job.px->loop, &lj->tick);
    job_finish(&lj->job, rc);
}

static void live_fail(struct live_job *lj, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lj->job.text, sizeof(lj->job.text), fmt, ap);
    va_end(ap);
    live_end(lj, rc);
}

/* Ask the shim; its answer is awaited (live_answer).  False when asking
 * failed (A says why). */
static bool ask(struct live_job *lj)
{
    if (request_switch(lj->job.px, lj->job.domid, &lj->a) < 0)
        return false;
    lj->asking = true;
    lj->answer_until = now_ms() + SWITCH_ANSWER_MS;
    return true;
}

/* The shim's answer, when it is there: 1 (in A), 0 not yet, -1 (A says
 * why: unreadable, or none in time). */
static int live_answer(struct live_job *lj)
{
    char dir[300];
    claims_dir(lj->job.px, dir, sizeof(dir));
    int rc = switch_answer_read(dir, lj->job.domid, &lj->a);
    if (rc < 0)
        set_error(&lj->a, "cannot read the switch's answer: %s", strerror(errno));
    else if (rc == 0 && now_ms() >= lj->answer_until)
        set_error(&lj->a, "xenstored did not answer within %d ms", SWITCH_ANSWER_MS);
    else if (rc == 0)
        return 0;
    lj->asking = false;
    return rc == 1 ? 1 : -1;
}

/* Insert: the answer to a switch-in. */
static void inserted(struct live_job *lj)
{
    struct proxy *px = lj->job.px;
    struct domain *d = lj->d;
    struct switch_answer *a = &lj->a;
    if (a->kind == SWITCH_BUSY && now_ms() < lj->try_until) {
        if (!ask(lj)) {
            lj->d = NULL;
            domain_discard(px, d);
            live_fail(lj, EIO, "domain %u: %s", lj->job.domid, a->reason);
        }
        return;
    }
    if (a->kind != SWITCH_SHADOW || a->already) {
        uint32_t domid = d->domid;
        lj->d = NULL;
        domain_discard(px, d);
        live_fail(lj, a->kind == SWITCH_BUSY ? EBUSY : EIO,
                  "domain %u: xenstored's shim did not switch it: %s%s%s", domid,
                  answer_text(a), a->kind == SWITCH_BUSY ? ": " : "",
                  a->kind == SWITCH_BUSY ? a->reason : "");
        return;
    }
    crash_point("live-switched");
    /* xenstored now serves the shadow, and has let the guest's channel go */
    if (finish_insert(px, d, a, lj->job.text, sizeof(lj->job.text)) < 0) {
        /* give it back as it was: nothing was relayed */
        snprintf(lj->why, sizeof(lj->why), "%s", lj->job.text);
        lj->phase = LIVE_UNDO;
        lj->try_until = now_ms() + SWITCH_TRY_MS;
        if (domain_write_claim(d, CLAIM_LIVE_BACK) < 0 || !ask(lj)) {
            xlog(LOG_LVL_ERROR, "domain %u: cannot hand it back either: %s", d->domid,
                 strerror(errno));
            live_fail(lj, EIO, "%s", lj->why);
        }
        return;
    }
    lj->d = NULL;
    domain_link(px, d);
    domain_pump(d);
    live_end(lj, 0);
}

/* Insert failed after the switch: the answer to giving the ring back. */
static void undone(struct live_job *lj)
{
    if (lj->a.kind == SWITCH_BUSY && now_ms() < lj->try_until && ask(lj))
        return;
    if (lj->a.kind == SWITCH_DIRECT) {
        domain_discard(lj->job.px, lj->d);
    } else {
        /* it stays switched, and stays the job's until xsproxy stops: its
         * journal then tells the next one to ask the shim */
        xlog(LOG_LVL_ERROR, "domain %u: cannot hand it back either: %s", lj->job.domid,
             answer_text(&lj->a));
        domain_let_go(lj->job.px, lj->d, false);
        free(lj->d);
    }
    lj->d = NULL;
    live_fail(lj, EIO, "%s", lj->why);
}

static void drain(struct live_job *lj, struct domain *d);

/* Remove: the answer to a hand-back. */
static void handed_back(struct live_job *lj, struct domain *d)
{
    struct proxy *px = lj->job.px;
    struct switch_answer *a = &lj->a;
    if (a->kind == SWITCH_DIRECT) {
        crash_point("handed-back");
        snprintf(lj->job.text, sizeof(lj->job.text), "domain %u handed back to xenstored\n",
                 d->domid);
        domain_remove(px, d);
        live_end(lj, 0);
        return;
    }
    stay(px, d);
    if (a->kind == SWITCH_BUSY) {
        /* xenstored wrote more meanwhile (an event it had queued): relay
         * that, and ask again once the domain is at rest once more */
        d->rl.removing = true;
        lj->phase = LIVE_DRAIN;
        drain(lj, d);
        return;
    }
    live_fail(lj, EBUSY, "domain %u: not handed back: %s; it stays inserted", d->domid,
              answer_text(a));
}

/* Remove: when D is at rest and its rings agree, let its channel go and
 * ask for the hand-back. */
static void drain(struct live_job *lj, struct domain *d)
{
    struct proxy *px = lj->job.px;
    if (now_ms() >= lj->try_until) {
        stay(px, d);
        live_fail(lj, EBUSY, "domain %u: not handed back: it did not come to rest within %d ms "
                  "(requests in flight, or output it does not read); it stays inserted",
                  d->domid, DRAIN_MS);
        return;
    }
    domain_pump(d);
    const struct xenstore_domain_interface *s = d->xsd_ring, *g = d->guest;
    if (!at_rest(d) || s->req_prod != g->req_cons || s->rsp_prod != g->rsp_prod)
        return;   /* the next tick looks again */
    /* the shim binds the guest's channel to xenstored again: let it go;
     * and from here until the shim answers nothing of D moves (a reply
     * relayed to the guest's ring while xenstored takes it back would be
     * written twice) */
    if (d->guest_port < px->by_port_len)
        px->by_port[d->guest_port] = NULL;
    xenevtchn_unbind(px->xce, d->guest_port);
    d->guest_port = 0;
    d->sw.handing_back = true;
    if (domain_write_claim(d, CLAIM_LIVE_BACK) < 0) {
        int e = errno;
        stay(px, d);
        live_fail(lj, EBUSY, "domain %u: not handed back: cannot write the claim: %s; it "
                  "stays inserted", d->domid, strerror(e));
        return;
    }
    lj->phase = LIVE_OUT;
    if (!ask(lj)) {
        stay(px, d);
        live_fail(lj, EBUSY, "domain %u: not handed back: %s; it stays inserted", d->domid,
                  lj->a.reason);
    }
}

/* Whatever is due now: an answer come, a timeout, the next look. */
static void live_step(struct live_job *lj)
{
    struct domain *d = lj->d;
    if (lj->phase == LIVE_DRAIN || lj->phase == LIVE_OUT) {
        d = domain_find(lj->job.px, lj->job.domid);
        if (!d) {
            live_fail(lj, ENOENT, "domain %u went away while it was handed back",
                      lj->job.domid);
            return;
        }
    }
    if (lj->phase == LIVE_DRAIN) {
        drain(lj, d);
        return;
    }
    int rc = live_answer(lj);
    if (rc == 0)
        return;
    if (rc < 0 && lj->phase == LIVE_OUT) {
        stay(lj->job.px, d);
        live_fail(lj, EBUSY, "domain %u: not handed back: %s; it stays inserted", d->domid,
                  lj->a.reason);
        return;
    }
    if (lj->phase == LIVE_IN)
        inserted(lj);
    else if (lj->phase == LIVE_UNDO)
        undone(lj);
    else
        handed_back(lj, d);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    live_step(w->data);
}

static void live_wake(struct job *j)
{
    struct live_job *lj = (struct live_job *)j;
    if (lj->asking)
        live_step(lj);
}

static void live_cancel(struct job *j)
{
    struct live_job *lj = (struct live_job *)j;
    ev_timer_stop(j->px->loop, &lj->tick);
    if (lj->d) {   /* its journal says switching: the next xsproxy asks the shim */
        domain_let_go(j->px, lj->d, false);
        free(lj->d);
        lj->d = NULL;
    }
}

static void live_free(struct job *j)
{
    free(j);
}

static struct live_job *live_job_new(struct proxy *px, const char *what, uint32_t domid,
                                     enum live_phase phase)
{
    struct live_job *lj = calloc(1, sizeof(*lj));
    if (!lj)
        return NULL;
    lj->phase = phase;
    lj->job.on_wake = live_wake;
    lj->job.on_cancel = live_cancel;
    lj->job.free_own = live_free;
    ev_timer_init(&lj->tick, tick_cb, TICK_S, TICK_S);
    lj->tick.data = lj;
    job_start(px, &lj->job, what, domid);
    ev_timer_start(px->loop, &lj->tick);
    return lj;
}

int live_insert(struct proxy *px, uint32_t domid, uint64_t gfn, uint32_t port,
                struct job **job, char *err, size_t errlen)
{
    if (job_busy(px, domid, err, errlen))
        return EBUSY;
    struct domain *d = domain_prepare_live(px, domid, gfn, port, err, errlen);
    if (!d)
        return EINVAL;
    /* journalled before the claim: a crash from here on leaves a journal
     * that tells the next xsproxy to ask the shim (live_recover_switch) */
    d->sw.live = d->sw.switching = true;
    unlink_state(px, domid);   /* an answer found after a crash is this switch's */
    int rc = 0;
    if (domain_journal_now(d) < 0) {
        snprintf(err, errlen, "cannot write the journal of domain %u: %s", domid,
                 strerror(errno));
        rc = EIO;
    } else if (domain_write_claim(d, CLAIM_LIVE_IN) < 0) {
        snprintf(err, errlen, "cannot publish the claim %s: %s", d->claim_file, strerror(errno));
        rc = EIO;
    }
    struct live_job *lj = rc ? NULL : live_job_new(px, "insert", domid, LIVE_IN);
    if (!rc && !lj) {
        snprintf(err, errlen, "out of memory");
        rc = ENOMEM;
    }
    if (rc) {
        domain_discard(px, d);
        return rc;
    }
    lj->d = d;
    crash_point("live-claimed");
    lj->try_until = now_ms() + SWITCH_TRY_MS;
    if (!ask(lj)) {
        snprintf(err, errlen, "domain %u: xenstored's shim did not switch it: %s", domid,
                 lj->a.reason);
        ev_timer_stop(px->loop, &lj->tick);
        lj->d = NULL;
        domain_discard(px, d);
        job_discard(&lj->job);
        return EIO;
    }
    *job = &lj->job;
    return 0;
}

/* The shim's answer about D: a shadow one with its positions in A (1), or
 * none of that (0). */
static int switched_answer(struct proxy *px, const struct domain *d, struct switch_answer *a)
{
    char dir[300];
    claims_dir(px, dir, sizeof(dir));
    return switch_answer_read(dir, d->domid, a) == 1 && a->kind == SWITCH_SHADOW &&
           !a->already;
}

int live_recover_switch(struct proxy *px, struct domain *d, struct switch_answer *a,
                        char *err, size_t errlen)
{
    if (!switched_answer(px, d, a)) {
        /* not switched (not asked yet, busy, refused): take the claim away
         * so that no later switch request finds it, then look once more -
         * the shim may have been reading it at that very moment */
        unlink(d->claim_file);
        char why[256];
        wake_shim(px, why, sizeof(why));   /* no wake-up port: nothing to wait for */
        usleep(100 * 1000);   /* at start-up (recover.c), before the loop serves anyone */
        if (!switched_answer(px, d, a)) {
            unlink_state(px, d->domid);
            return 0;
        }
    }
    if (a->port == 0) {
        snprintf(err, errlen, "the shim's answer names no port");
        return -1;
    }
    /* finished as live_insert does after the switch (live_finish_recovered),
     * once the pages are mapped again; nothing was relayed since */
    d->xsd_port = a->port;
    return 1;
}

int live_finish_recovered(struct proxy *px, struct domain *d, const struct switch_answer *a,
                          char *err, size_t errlen)
{
    if (take_over(px, d, a, err, errlen) < 0)
        return -1;
    d->jnl.dirty = true;
    return 0;
}

bool live_handed_back(struct proxy *px, uint32_t domid)
{
    char dir[300];
    claims_dir(px, dir, sizeof(dir));
    struct switch_answer *a = malloc(sizeof(*a));
    bool back = a && switch_answer_read(dir, domid, a) == 1 && a->kind == SWITCH_DIRECT;
    free(a);
    return back;
}

void crash_point(const char *name)
{
    const char *at = getenv("XSPROXY_CRASH_AT");
    if (at && strcmp(at, name) == 0) {
        xlog(LOG_LVL_WARN, "XSPROXY_CRASH_AT=%s: killing myself here", name);
        raise(SIGKILL);
    }
}

int live_remove(struct proxy *px, struct domain *d, struct job **job, char *err,
                size_t errlen)
{
    uint32_t domid = d->domid;
    if (job_busy(px, domid, err, errlen))
        return EBUSY;
    const char *why = cannot_hand_back(d);
    if (why) {
        snprintf(err, errlen, "domain %u cannot be handed back to xenstored: %s (`remove %u "
                              "release` releases it instead)",
                 domid, why, domid);
        return EBUSY;
    }
    /* finish the request being read, take no other, relay what is in flight;
     * then ask */
    struct live_job *lj = live_job_new(px, "remove", domid, LIVE_DRAIN);
    if (!lj) {
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    d->rl.removing = true;
    lj->try_until = now_ms() + DRAIN_MS;
    *job = &lj->job;
    live_step(lj);   /* an idle domain goes at once */
    return 0;
}
