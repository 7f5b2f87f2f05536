/*
 * share.c - the fair share of xenstored (fair.h) in xsproxy: the relay's
 * questions and reports, waking whoever was held back, the `share`
 * command and what `list` shows.  Requests held back stay on the guest's
 * ring (or in a dom0 client's socket), as with QUIESCE.
 */
#define _GNU_SOURCE
#include "share.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proxy.h"

/* How often the held back are looked at while nothing else happens: the
 * competitor they wait for may have gone quiet (its window ends). */
#define SHARE_RECHECK_S 0.0005
#define SHARE_SETTLE_NS 5000000ull

uint64_t share_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void recheck_cb(struct ev_loop *loop, ev_timer *w, int revents);

void share_init(struct proxy *px)
{
    px->xsd_stat_fd = -1;
    fair_init(&px->fair);
    fair_account_init(&px->dom0_fair);
    ev_timer_init(&px->fair_timer, recheck_cb, SHARE_RECHECK_S, SHARE_RECHECK_S);
    px->fair_timer.data = px;
}

void share_stop(struct proxy *px)
{
    share_backend_changed(px);
    ev_timer_stop(px->loop, &px->fair_timer);
    fair_free(&px->fair);
}

static struct fair_flow *flow_of(struct domain *d)
{
    if (!d->fair_flow.acct) {   /* however D was made: inserted, recovered */
        if (!d->fair.weight)
            fair_account_init(&d->fair);
        d->fair_flow.acct = &d->fair;
    }
    return &d->fair_flow;
}

bool share_may_take(struct domain *d, bool queued)
{
    struct proxy *px = d->px;
    flow_of(d);
    if (fair_may_send(&px->fair, &d->fair, share_now(), queued))
        return true;
    if (!ev_is_active(&px->fair_timer))
        ev_timer_start(px->loop, &px->fair_timer);
    return false;
}

void share_idle(struct domain *d)
{
    if (d->fair.held)
        fair_idle(&d->px->fair, &d->fair, share_now());
}

void share_sent(struct domain *d, const struct msg *m)
{
    fair_sent(&d->px->fair, flow_of(d), m->hdr.type, m->hdr.len, share_now());
}

void share_answered(struct domain *d)
{
    fair_answered(&d->px->fair, flow_of(d));
}

void share_reset(struct domain *d)
{
    fair_flow_reset(flow_of(d));
}

void share_domain_gone(struct domain *d)
{
    fair_account_drop(&d->px->fair, &d->fair);
    fair_flow_free(&d->fair_flow);
}

/* Serve those held back whose turn it is now: collected first, as serving
 * one changes the list. */
static void wake(struct proxy *px)
{
    if (px->fair_waking || !px->fair.nr_held)
        return;
    px->fair_waking = true;
    uint64_t now = share_now();
    struct fair_account *go[64];
    unsigned n = 0;
    for (struct fair_account *a = px->fair.active; a && n < 64; a = a->next_active)
        if (a->held && fair_would_allow(&px->fair, a, now))
            go[n++] = a;
    for (unsigned i = 0; i < n; i++) {
        if (go[i] == &px->dom0_fair) {
            client_fair_resume(px);
            continue;
        }
        struct domain *d = (struct domain *)((char *)go[i] - offsetof(struct domain, fair));
        if (!d->sw.switching)   /* as domain_on_port: a live switch relays nothing yet */
            domain_poll(d);
    }
    px->fair_waking = false;
}

/* The daemon's CPU time (ns) from the kernel's schedstat, when xenstored
 * is a process here: its pid is its socket's peer (the probe connection,
 * backend.c).  UINT64_MAX when it is not known. */
static uint64_t daemon_cpu(struct proxy *px)
{
    if (px->xsd_stat_fd < 0 && px->probe_fd >= 0 && !px->xsd_stat_tried) {
        px->xsd_stat_tried = true;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        char path[64];
        if (getsockopt(px->probe_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0) {
            snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)cred.pid);
            px->xsd_stat_fd = open(path, O_RDONLY | O_CLOEXEC);
        }
    }
    if (px->xsd_stat_fd < 0)
        return UINT64_MAX;
    char buf[96];
    ssize_t n = pread(px->xsd_stat_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0) {   /* that xenstored is gone */
        share_backend_changed(px);
        return UINT64_MAX;
    }
    buf[n] = '\0';
    return strtoull(buf, NULL, 10);
}

void share_backend_changed(struct proxy *px)
{
    if (px->xsd_stat_fd >= 0)
        close(px->xsd_stat_fd);
    px->xsd_stat_fd = -1;
    px->xsd_stat_tried = false;
    px->xsd_cpu_last = 0;
}

void share_settle(struct proxy *px)
{
    /* Settled a few milliseconds at a time: what the daemon does for a
     * request comes before its reply (reading a large one takes several
     * passes over the ring), so a longer span ties its cost to it. */
    uint64_t now = share_now();
    if (!px->fair.batch_len || now - px->fair_settled < SHARE_SETTLE_NS) {
        wake(px);
        return;
    }
    px->fair_settled = now;
    uint64_t cpu = daemon_cpu(px), busy = UINT64_MAX;
    if (cpu != UINT64_MAX) {
        if (px->xsd_cpu_last && cpu >= px->xsd_cpu_last)
            busy = cpu - px->xsd_cpu_last;
        px->xsd_cpu_last = cpu;
    }
    fair_settle(&px->fair, now, busy);
    wake(px);
}

static void recheck_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct proxy *px = w->data;
    wake(px);
    if (!px->fair.nr_held)
        ev_timer_stop(loop, w);
}

size_t share_describe(struct proxy *px, const struct fair_account *a, char *buf, size_t len)
{
    uint64_t now = share_now();
    int n = snprintf(buf, len, " weight %u share %u%% cost-ms %.1f held-ms %.1f",
                     fair_weight(a),
                     fair_share_percent(&px->fair, a, now), (double)a->cost_ns / 1e6,
                     (double)fair_held_ns(a, now) / 1e6);
    return n < 0 ? 0 : (size_t)n >= len ? (len ? len - 1 : 0) : (size_t)n;
}

int share_command(struct proxy *px, const char *who, const char *weight, char *text,
                  size_t len)
{
    struct fair_account *a = NULL;
    uint32_t domid = 0, w = 0;
    if (who && strcmp(who, "dom0") == 0) {
        a = &px->dom0_fair;
    } else if (who && msg_parse_u32(who, &domid)) {
        struct domain *d = domain_find(px, domid);
        if (!d) {
            snprintf(text, len, "share %s: domain %u is not inserted", who, domid);
            return ENOENT;
        }
        flow_of(d);
        a = &d->fair;
    } else {
        snprintf(text, len, "share: say a domain id or dom0");
        return EINVAL;
    }
    if (weight && (!msg_parse_u32(weight, &w) || w == 0 || w > FAIR_WEIGHT_MAX)) {
        snprintf(text, len, "share %s: the weight is 1 to %u (%u: an equal share)", who,
                 FAIR_WEIGHT_MAX, FAIR_WEIGHT_DEFAULT);
        return EINVAL;
    }
    if (weight)
        a->weight = w;
    int n = snprintf(text, len, "%s", who);
    if (n > 0 && (size_t)n < len)
        share_describe(px, a, text + n, len - (size_t)n);
    wake(px);   /* a weight changed: someone's turn may have come */
    return 0;
}
