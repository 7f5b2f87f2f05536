/*
 * domain.c - the relay for one inserted domain.
 *
 * xsproxy is the server on the guest's ring and the client on the shadow
 * ring that xenstored maps in its place.  domain_pump() runs a pass of the
 * relay (relay_step.c: requests from the guest ring to the shadow ring one
 * whole message at a time, replies and watch events back, through the
 * shadow state), and does what the pass asks for: the journal, the event
 * channels, the fair share's accounts, the capture and trace.  Here too:
 * the domain's insertion and removal, ring reconnection, and the ring's
 * fields other than the streams.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "job.h"
#include "proxy.h"
#include "claim.h"
#include "share.h"


struct domain *domain_find(struct proxy *px, uint32_t domid)
{
    for (struct domain *d = px->domains; d; d = d->next)
        if (d->domid == domid)
            return d;
    return NULL;
}

static int set_port(struct proxy *px, evtchn_port_t port, struct domain *d)
{
    if (port >= px->by_port_len) {
        size_t n = px->by_port_len ? px->by_port_len : 64;
        while (n <= port)
            n *= 2;
        struct domain **nb = realloc(px->by_port, n * sizeof(*nb));
        if (!nb)
            return -1;
        memset(nb + px->by_port_len, 0, (n - px->by_port_len) * sizeof(*nb));
        px->by_port = nb;
        px->by_port_len = n;
    }
    px->by_port[port] = d;
    return 0;
}

int domain_write_claim(const struct domain *d, enum claim_live live)
{
    char dir[300];
    struct claim c = { .port = d->shadow_port, .live = live };
    snprintf(dir, sizeof(dir), "%s/claims", d->px->cfg.run_dir);
    if (snprintf(c.page, sizeof(c.page), "%s", d->xsd_ring_file) >= (int)sizeof(c.page)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return claim_write(dir, d->domid, &c);
}

/* Everything of an insertion but what makes xenstored use the shadow: the
 * guest's page mapped, the shadow page and channel made.  A live insertion
 * binds the guest's channel only once xenstored has let it go. */
static struct domain *prepare(struct proxy *px, uint32_t domid, uint64_t gfn, uint32_t port,
                              bool quiesced, bool live, char *err, size_t errlen);
static void load_indexes(struct domain *d);
static bool relay(struct domain *d);
static void hold_kicks(struct domain *d);
/* notifications in a row that find nothing to do before the guest's port
 * is held (domain_on_port), and for how long */
#define DOMAIN_IDLE_KICKS_MAX 64u
#define KICKS_HELD_S 0.001
static void notify_forget(struct proxy *px, struct domain *d);

int domain_insert(struct proxy *px, uint32_t domid, uint64_t gfn, uint32_t port,
                  bool quiesced, char *err, size_t errlen)
{
    struct domain *d = prepare(px, domid, gfn, port, quiesced, false, err, errlen);
    if (!d)
        return -1;
    /* in the journal before xenstored can use the shadow: a restarted
     * xsproxy must know every domain xenstored serves through it */
    load_indexes(d);
    d->jnl.dirty = true;
    domain_publish(d);
    if (domain_write_claim(d, CLAIM_LIVE_NONE) < 0) {
        snprintf(err, errlen, "cannot publish the claim %s: %s", d->claim_file, strerror(errno));
        domain_discard(px, d);
        return -1;
    }
    domain_link(px, d);
    xlog(LOG_LVL_INFO, "domain %u inserted (guest port %u, shadow port %u)", domid,
         d->guest_port, d->shadow_port);
    domain_pump(d);
    return 0;
}

void domain_link(struct proxy *px, struct domain *d)
{
    d->next = px->domains;
    px->domains = d;
    px->nr_domains++;
}

struct domain *domain_prepare_live(struct proxy *px, uint32_t domid, uint64_t gfn, uint32_t port,
                                   char *err, size_t errlen)
{
    return prepare(px, domid, gfn, port, false, true, err, errlen);
}

static struct domain *prepare(struct proxy *px, uint32_t domid, uint64_t gfn, uint32_t port,
                              bool quiesced, bool live, char *err, size_t errlen)
{
    if (domain_find(px, domid)) {
        snprintf(err, errlen, "domain %u is already inserted", domid);
        return NULL;
    }
    struct domain *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->px = px;
    d->domid = domid;
    d->gfn = gfn;
    d->remote_port = port;
    d->rl.next_internal_id = 0x80000000u;
    d->rl.quiesce = quiesced;
    d->rl.state = DOM_ACTIVE;
    d->guest_port = d->shadow_port = 0;
    shadow_init(&d->sh);
    d->sh.domid = domid;   /* relative watch paths are under its home */
    int shadow_fd = -1;

    d->guest = xengnttab_map_grant_ref(px->xgt, domid, 1, PROT_READ | PROT_WRITE);
    if (!d->guest) {
        snprintf(err, errlen, "cannot map domain %u's ring (grant ref 1, gfn %#llx): %s",
                 domid, (unsigned long long)gfn, strerror(errno));
        goto fail;
    }
    int p;
    if (!live) {
        p = xenevtchn_bind_interdomain(px->xce, domid, port);
        if (p < 0) {
            snprintf(err, errlen, "cannot bind domain %u's event channel %u: %s", domid, port,
                     strerror(errno));
            goto fail;
        }
        d->guest_port = (evtchn_port_t)p;
    }

    snprintf(d->xsd_ring_file, sizeof(d->xsd_ring_file), "%s/shadow/dom%u", px->cfg.run_dir, domid);
    snprintf(d->claim_file, sizeof(d->claim_file), "%s/claims/%u", px->cfg.run_dir, domid);
    unlink(d->xsd_ring_file);
    shadow_fd = open(d->xsd_ring_file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (shadow_fd < 0 || ftruncate(shadow_fd, XC_PAGE_SIZE) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", d->xsd_ring_file, strerror(errno));
        goto fail;
    }
    d->xsd_ring = mmap(NULL, XC_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, shadow_fd, 0);
    close(shadow_fd);
    shadow_fd = -1;
    if (d->xsd_ring == MAP_FAILED) {
        d->xsd_ring = NULL;
        snprintf(err, errlen, "cannot map %s: %s", d->xsd_ring_file, strerror(errno));
        goto fail;
    }
    p = xenevtchn_bind_unbound_port(px->xce, 0);
    if (p < 0) {
        snprintf(err, errlen, "cannot allocate a shadow event channel: %s", strerror(errno));
        goto fail;
    }
    char jpath[300];
    snprintf(jpath, sizeof(jpath), "%s/journal/dom%u", px->cfg.run_dir, domid);
    d->jnl.main = journal_create(jpath, err, errlen);
    if (!d->jnl.main)
        goto fail;
    crash_point("prepared");
    d->shadow_port = (evtchn_port_t)p;
    if ((d->guest_port && set_port(px, d->guest_port, d) < 0) ||
        set_port(px, d->shadow_port, d) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return d;
fail:
    if (shadow_fd >= 0)
        close(shadow_fd);
    domain_let_go(px, d, true);
    free(d);
    xlog(LOG_LVL_WARN, "insert %u: %s", domid, err);
    return NULL;
}

int domain_set_port(struct proxy *px, evtchn_port_t port, struct domain *d)
{
    return set_port(px, port, d);
}

void watch_journal_path(const struct proxy *px, uint32_t domid, char *buf, size_t len)
{
    snprintf(buf, len, "%s/journal/dom%u.watches", px->cfg.run_dir, domid);
}

static void unlink_watch_journal(const struct proxy *px, uint32_t domid)
{
    char path[300];
    watch_journal_path(px, domid, path, sizeof(path));
    unlink(path);
}

void domain_let_go(struct proxy *px, struct domain *d, bool remove_files)
{
    notify_forget(px, d);
    if (d->storm.held) {
        d->storm.held = false;
        px->nr_kicks_held--;
    }
    share_domain_gone(d);
    if (d->guest_port && d->guest_port < px->by_port_len)
        px->by_port[d->guest_port] = NULL;
    if (d->shadow_port && d->shadow_port < px->by_port_len)
        px->by_port[d->shadow_port] = NULL;
    if (d->guest_port)
        xenevtchn_unbind(px->xce, d->guest_port);
    if (d->shadow_port)
        xenevtchn_unbind(px->xce, d->shadow_port);
    if (d->guest)
        xengnttab_unmap(px->xgt, d->guest, 1);
    if (d->xsd_ring)
        munmap(d->xsd_ring, XC_PAGE_SIZE);
    d->guest_port = d->shadow_port = 0;
    d->guest = d->xsd_ring = NULL;
    if (remove_files) {
        if (d->claim_file[0])
            unlink(d->claim_file);
        if (d->xsd_ring_file[0])
            unlink(d->xsd_ring_file);
        journal_delete(d->jnl.main);
        journal_delete(d->jnl.watches);
        unlink_watch_journal(px, d->domid);   /* one a crash left unused */
    } else {
        journal_close(d->jnl.main);
        journal_close(d->jnl.watches);
    }
    d->jnl.main = d->jnl.watches = NULL;
}

void domain_discard(struct proxy *px, struct domain *d)
{
    domain_let_go(px, d, true);
    free(d);
}

void domain_remove(struct proxy *px, struct domain *d)
{
    for (struct domain **p = &px->domains; *p; p = &(*p)->next)
        if (*p == d) {
            *p = d->next;
            break;
        }
    px->nr_domains--;
    domain_let_go(px, d, true);
    shadow_clear(&d->sh);
    bq_free(&d->rl.to_guest);
    bq_free(&d->rl.inject);
    if (d->trace)
        fclose(d->trace);
    xlog(LOG_LVL_INFO, "domain %u removed", d->domid);
    free(d);
    if (px->waiters)
        waiters_check(px);   /* whoever waited on it gets ENOENT */
}

void domain_on_port(struct proxy *px, evtchn_port_t port)
{
    if (port == px->virq_port) {
        domain_check_dead(px);
        return;
    }
    if (port == px->wake_port && port) {
        jobs_wake(px);   /* the shim's answers are written: live.c reads them */
        return;
    }
    /* a domain being inserted live relays nothing until its streams are
     * taken over (live.c) */
    struct domain *d = port < px->by_port_len ? px->by_port[port] : NULL;
    if (!d || d->sw.switching || (d->storm.held && port == d->guest_port))
        return;
    bool moved = relay(d);
    if (port != d->guest_port || moved)
        d->storm.idle_kicks = 0;
    if (port == d->guest_port && moved)
        d->storm.logged = false;
    else if (++d->storm.idle_kicks >= DOMAIN_IDLE_KICKS_MAX)
        hold_kicks(d);
}

/* A guest that notifies its port again and again with nothing to do (a
 * notification storm) has the port left masked for KICKS_HELD_S, then
 * looked at: its storm no longer wakes xsproxy each time.  A guest asking
 * something notifies once per request, so it never gets here. */
static void kicks_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct proxy *px = w->data;
    for (struct domain *d = px->domains; d && px->nr_kicks_held; d = d->next) {
        if (!d->storm.held)
            continue;
        d->storm.held = false;
        d->storm.idle_kicks = DOMAIN_IDLE_KICKS_MAX - 1;   /* one more for nothing: held again */
        px->nr_kicks_held--;
        xenevtchn_unmask(px->xce, d->guest_port);
        relay(d);
    }
}

static void hold_kicks(struct domain *d)
{
    struct proxy *px = d->px;
    d->storm.held = true;
    px->nr_kicks_held++;
    if (!d->storm.logged)
        domain_log(d, LOG_LVL_INFO, "%u notifications in a row with nothing to do: its port "
                   "is looked at every %.0f ms for now", DOMAIN_IDLE_KICKS_MAX,
                   KICKS_HELD_S * 1000);
    d->storm.logged = true;
    if (!ev_is_active(&px->kicks_timer)) {
        ev_timer_init(&px->kicks_timer, kicks_cb, KICKS_HELD_S, 0);
        px->kicks_timer.data = px;
        ev_timer_start(px->loop, &px->kicks_timer);
    }
}

bool domain_port_held(const struct proxy *px, evtchn_port_t port)
{
    const struct domain *d = port < px->by_port_len ? px->by_port[port] : NULL;
    return d && d->storm.held && port == d->guest_port;
}

void domain_check_dead(struct proxy *px)
{
    struct domain *next;
    for (struct domain *d = px->domains; d; d = next) {
        next = d->next;
        xc_dominfo_t info;
        int n = xc_domain_getinfo(px->xch, d->domid, 1, &info);
        /* Xen answers the first domain at or above the id, and ESRCH when
         * there is none: D is gone either way */
        if (n < 0 && errno != ESRCH)
            continue;
        if (n != 1 || info.domid != d->domid || info.dying) {
            xlog(LOG_LVL_INFO, "domain %u died", d->domid);
            domain_remove(px, d);
        }
    }
}

/* ---- the relay --------------------------------------------------------- */

static void record(struct domain *d, const char *dir, uint8_t flags, const struct msg *m,
                   uint32_t guest_tx, uint32_t backend_tx)
{
    if (d->px->capture)
        proxy_capture(d->px, CAPTURE_DOMAIN, d->domid,
                      dir[0] == '-' ? CAPTURE_TO_XENSTORED : CAPTURE_FROM_XENSTORED, flags, m,
                      guest_tx, backend_tx);
    if (d->trace && !(flags & CAPTURE_FLAG_INTERNAL)) {
        char who[16];
        snprintf(who, sizeof(who), "dom%u", d->domid);
        trace_msg(d->trace, who, dir, m, guest_tx, backend_tx);
    }
}

static void trace(struct domain *d, const char *dir, const struct msg *m, uint32_t guest_tx,
                  uint32_t backend_tx)
{
    record(d, dir, 0, m, guest_tx, backend_tx);
}

/* ---- what the relay step asks and tells (relay_step.h) ----------------- */

static bool relay_may_start(void *ctx, bool flood)
{
    return share_may_take(ctx, flood);
}

static void relay_idle(void *ctx)
{
    share_idle(ctx);
}

static void relay_log(void *ctx, int level, bool limited, const char *text)
{
    struct domain *d = ctx;
    if (limited)
        domain_log(d, level, "%s", text);
    else
        xlog(level, "domain %u: %s", d->domid, text);
}

/* A message from xenstored for the guest, whole or the start of a stream:
 * counted, and a reply charged to the domain's share. */
static void counted(struct domain *d, enum shadow_reply how)
{
    if (how == SHADOW_EVENT)
        d->events++;
    else
        d->replies++;
    if (how == SHADOW_REPLY)
        share_answered(d);
}

/* xenstored answered a request of xsproxy's own: the capture shows it,
 * flagged, and ADD_DOMAIN_WATCHES learns of the first refusal. */
static void own_answered(struct domain *d, const struct relay_note *n)
{
    const struct msg *m = n->m;
    record(d, "<-", CAPTURE_FLAG_INTERNAL, m, m->hdr.tx_id, n->backend_tx);
    if (n->how != SHADOW_INTERNAL || m->hdr.type != XS_ERROR)
        return;
    const char *error = (const char *)m->bytes + MSG_HDR_LEN;
    xlog(LOG_LVL_WARN, "domain %u: xenstored refused a watch xsproxy registered: %s", d->domid,
         error);
    if (!d->inject_error[0])
        snprintf(d->inject_error, sizeof(d->inject_error), "%s", error);
}

/* The relay's messages go to the capture and the trace, and into the
 * domain's counters and its share. */
static void relay_noted(void *ctx, const struct relay_note *n)
{
    struct domain *d = ctx;
    const struct msg *m = n->m;
    switch (n->kind) {
    case RELAY_NOTE_SENT:
        trace(d, "->", m, n->guest_tx, m->hdr.tx_id);
        share_sent(d, m);
        d->requests++;
        break;
    case RELAY_NOTE_LOCAL:
        record(d, "->", CAPTURE_FLAG_LOCAL, m, m->hdr.tx_id, 0);
        if (n->reply)
            record(d, "<-", CAPTURE_FLAG_LOCAL, n->reply, n->reply->hdr.tx_id, 0);
        break;
    case RELAY_NOTE_INJECTED:
        record(d, "->", CAPTURE_FLAG_INTERNAL, m, m->hdr.tx_id, m->hdr.tx_id);
        d->sw.diverged = true;   /* the shadow ring's stream is no longer the guest's */
        break;
    case RELAY_NOTE_RECEIVED:
        if (shadow_reply_internal(n->how)) {
            own_answered(d, n);
            break;
        }
        counted(d, n->how);
        if (n->how == SHADOW_UNEXPECTED)
            xlog(LOG_LVL_WARN, "domain %u: reply %u from xenstored with no request in flight",
                 d->domid, m->hdr.req_id);
        trace(d, "<-", m, m->hdr.tx_id, n->backend_tx);
        break;
    case RELAY_NOTE_STREAM:
        if (!shadow_reply_internal(n->how))
            counted(d, n->how);
        break;
    case RELAY_NOTE_STREAMED:
        record(d, "<-", n->how == SHADOW_INTERNAL ? CAPTURE_FLAG_INTERNAL : 0, m, m->hdr.tx_id,
               m->hdr.tx_id);
        break;
    }
}

static struct relay_env relay_env_of(struct domain *d)
{
    return (struct relay_env){
        .max_outstanding = d->px->cfg.max_outstanding,
        .backend_up = d->px->backend_up,
        .ctx = d,
        .may_start = relay_may_start,
        .idle = relay_idle,
        .note = relay_noted,
        .log = relay_log,
    };
}

/* A request xsproxy sends xenstored as the domain (watches registered
 * again, transactions replayed): the capture shows it, flagged. */
int domain_inject(struct domain *d, const struct msg *m)
{
    struct relay_env env = relay_env_of(d);
    return relay_inject(&d->rl, &env, m);
}

/* What the guest can cause, it can cause in a loop: such messages go
 * through the domain's log limit, and the next one let through says how
 * many were held back. */
void domain_log(struct domain *d, int level, const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint32_t missed;
    if (!xlog_enabled(level) ||
        !log_limit_take(&d->log_limit, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, &missed))
        return;
    if (missed)
        xlog(LOG_LVL_WARN, "domain %u: %u messages suppressed (at most %d a minute)", d->domid,
             missed, LOG_LIMIT_BURST);
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    xlog(level, "domain %u: %s", d->domid, text);
}

static void queue_to_guest(struct domain *d, const struct msg *m)
{
    if (bq_push(&d->rl.to_guest, m->bytes, msg_wire_len(m)) < 0)
        xlog(LOG_LVL_ERROR, "domain %u: out of memory for a reply", d->domid);
}

/* Does xenstored offer ring reconnection (it says so in the shadow ring's
 * features, as it does to a guest)?  C xenstored 4.17 does not. */
static bool offers_reconnection(const struct domain *d)
{
    return __atomic_load_n(&d->xsd_ring->server_features, __ATOMIC_ACQUIRE) &
           XENSTORE_SERVER_FEATURE_RECONNECTION;
}

/* xenstored dropped the connection's state and the output it had not
 * written yet: so does xsproxy. */
static void drop_state(struct domain *d)
{
    shadow_clear(&d->sh);
    share_reset(d);
    bq_consume(&d->rl.to_guest, bq_pending(&d->rl.to_guest));
    d->rl.g_msg_left = 0;
}

/* The connection starts afresh (the guest's reconnection, or xenstored's
 * reset of it): what was under way either way is dropped with the rest. */
static void reset_connection(struct domain *d)
{
    msg_reset(&d->rl.in);
    d->rl.in_queued = false;
    d->rl.in_sent = 0;
    relay_reset_out(&d->rl);
    drop_state(d);
}

/* The ring's other fields between the two pages: the features and an error
 * xenstored sets go to the guest; the connection field the guest sets goes
 * to xenstored as it is, unless xenstored offers reconnection (relay() then
 * carries the reconnection out on both rings). */
static void mirror_fields(struct domain *d)
{
    if (!offers_reconnection(d)) {
        uint32_t c = __atomic_load_n(&d->guest->connection, __ATOMIC_ACQUIRE);
        if (__atomic_load_n(&d->xsd_ring->connection, __ATOMIC_ACQUIRE) != c)
            __atomic_store_n(&d->xsd_ring->connection, c, __ATOMIC_RELEASE);
    }
    uint32_t f = __atomic_load_n(&d->xsd_ring->server_features, __ATOMIC_ACQUIRE);
    if ((d->guest->server_features & f) != f)
        __atomic_or_fetch(&d->guest->server_features, f, __ATOMIC_RELEASE);
    uint32_t e = __atomic_load_n(&d->xsd_ring->error, __ATOMIC_ACQUIRE);
    if (e && d->guest->error != e) {
        /* xenstored gave up on the connection and dropped its state, and
         * the output it had not written: so does xsproxy */
        __atomic_store_n(&d->guest->error, e, __ATOMIC_RELEASE);
        d->rl.state = DOM_BROKEN;
        d->jnl.dirty = true;
        drop_state(d);
        xenevtchn_notify(d->px->xce, d->guest_port);
    }
}

static void start_reconnect(struct domain *d)
{
    domain_log(d, LOG_LVL_INFO, "ring reconnection");
    d->rl.state = DOM_RECONNECTING;
    reset_connection(d);
    __atomic_store_n(&d->xsd_ring->connection, XENSTORE_RECONNECT, __ATOMIC_RELEASE);
    xenevtchn_notify(d->px->xce, d->shadow_port);
}

/* Do to the guest's ring what xenstored did to the shadow ring when it
 * emptied it: zero the indexes, or move each consumer up to its producer. */
static void mirror_ring_reset(struct domain *d)
{
    struct xenstore_domain_interface *s = d->xsd_ring, *g = d->guest;
    if (!s->req_cons && !s->req_prod && !s->rsp_cons && !s->rsp_prod) {
        g->req_cons = g->req_prod = g->rsp_cons = g->rsp_prod = 0;
    } else {
        g->req_cons = g->req_prod;
        g->rsp_prod = g->rsp_cons;
    }
}

/* xenstored emptied the shadow ring on its own (C xenstored's reset of a
 * connection on a repeated INTRODUCE): its response ring no longer holds
 * what xsproxy read.  Everything of the connection is gone at xenstored;
 * the guest gets the same. */
static bool shadow_ring_was_reset(struct domain *d)
{
    XENSTORE_RING_IDX sc = d->xsd_ring->rsp_cons, sp = d->xsd_ring->rsp_prod;
    if (d->rl.rsp_corrupt || sp - sc > XENSTORE_RING_SIZE)
        return false;
    if (d->rl.out_rd - sc <= sp - sc)
        return false;
    domain_log(d, LOG_LVL_INFO, "xenstored reset the connection");
    d->jnl.dirty = true;
    reset_connection(d);
    mirror_ring_reset(d);
    d->rl.out_rd = d->xsd_ring->rsp_cons;
    xenevtchn_notify(d->px->xce, d->guest_port);
    return true;
}

/* xenstored has reset the shadow ring: do to the guest's ring what it did
 * to the shadow, then the guest may go on. */
static void finish_reconnect(struct domain *d)
{
    struct xenstore_domain_interface *s = d->xsd_ring, *g = d->guest;
    if (__atomic_load_n(&s->connection, __ATOMIC_ACQUIRE) != XENSTORE_CONNECTED)
        return;
    mirror_ring_reset(d);
    d->jnl.dirty = true;
    g->error = s->error;
    d->rl.out_rd = s->rsp_cons;
    d->rl.rsp_corrupt = d->rl.req_corrupt = d->rl.raw = false;
    __atomic_store_n(&g->connection, XENSTORE_CONNECTED, __ATOMIC_RELEASE);
    d->rl.state = s->error ? DOM_BROKEN : DOM_ACTIVE;
    xenevtchn_notify(d->px->xce, d->guest_port);
    domain_log(d, LOG_LVL_INFO, "reconnected");
}

/* The relay's copies of the indexes it writes, from the rings (where
 * everything outside a pass of the relay leaves them). */
static void load_indexes(struct domain *d)
{
    d->g_req_cons = __atomic_load_n(&d->guest->req_cons, __ATOMIC_ACQUIRE);
    d->g_rsp_prod = __atomic_load_n(&d->guest->rsp_prod, __ATOMIC_ACQUIRE);
    d->s_req_prod = __atomic_load_n(&d->xsd_ring->req_prod, __ATOMIC_ACQUIRE);
    d->s_rsp_cons = __atomic_load_n(&d->xsd_ring->rsp_cons, __ATOMIC_ACQUIRE);
}

void domain_pump(struct domain *d)
{
    d->jnl.dirty = true;   /* called after a change elsewhere */
    relay(d);
}

void domain_poll(struct domain *d)
{
    relay(d);
}

static void send_notifications(struct domain *d)
{
    if (d->notify_guest_due)
        xenevtchn_notify(d->px->xce, d->guest_port);
    if (d->notify_shadow_due)
        xenevtchn_notify(d->px->xce, d->shadow_port);
    d->notify_guest_due = d->notify_shadow_due = false;
}

/* While a batch of events is handled, notifications wait for its end: the
 * daemon then finds every request of the batch on its rings when it wakes,
 * as it does when guests talk to it directly, instead of waking for the
 * first and looking again for each of the others. */
static void notify(struct domain *d, bool guest, bool shadow)
{
    struct proxy *px = d->px;
    bool noted = d->notify_guest_due || d->notify_shadow_due;
    d->notify_guest_due |= guest;
    d->notify_shadow_due |= shadow;
    if (!px->batching) {
        send_notifications(d);
        return;
    }
    if (noted || !(guest || shadow))
        return;
    if (px->notify_due_len == px->notify_due_cap) {
        size_t n = px->notify_due_cap ? 2 * px->notify_due_cap : 64;
        struct domain **nd = realloc(px->notify_due, n * sizeof(*nd));
        if (!nd) {
            send_notifications(d);
            return;
        }
        px->notify_due = nd;
        px->notify_due_cap = n;
    }
    px->notify_due[px->notify_due_len++] = d;
}

void domain_notify_flush(struct proxy *px)
{
    for (size_t i = 0; i < px->notify_due_len; i++)
        if (px->notify_due[i])
            send_notifications(px->notify_due[i]);
    px->notify_due_len = 0;
    share_settle(px);
}

/* D's ports are about to go: what it noted is sent now, and the batch
 * forgets it. */
static void notify_forget(struct proxy *px, struct domain *d)
{
    send_notifications(d);
    for (size_t i = 0; i < px->notify_due_len; i++)
        if (px->notify_due[i] == d)
            px->notify_due[i] = NULL;
}

/* Before a pass: a reconnection finished or started, the ring's other
 * fields mirrored, a reset by xenstored followed.  False while a
 * reconnection is under way: nothing is relayed, the indexes as they are
 * are published. */
static bool connection_ready(struct domain *d)
{
    if (d->rl.state == DOM_RECONNECTING) {
        finish_reconnect(d);
        if (d->rl.state == DOM_RECONNECTING) {
            load_indexes(d);
            domain_publish(d);
            return false;
        }
    }
    mirror_fields(d);
    shadow_ring_was_reset(d);
    if (__atomic_load_n(&d->guest->connection, __ATOMIC_ACQUIRE) == XENSTORE_RECONNECT &&
        offers_reconnection(d)) {
        start_reconnect(d);
        load_indexes(d);
        d->jnl.dirty = true;
        domain_publish(d);
        return false;
    }
    return true;
}

/* A pass of the relay (relay_step.c), then what it asks for: the journal,
 * the notifications, the fair share's accounts, waiters.  Returns whether
 * anything moved, for domain_on_port. */
static bool relay(struct domain *d)
{
    if (d->sw.handing_back)
        return true;   /* the shim is switching it back to xenstored (live.c) */
    if (!connection_ready(d))
        return true;
    /* the relay moves its own copies of the indexes it writes; see
     * domain_publish */
    load_indexes(d);
    struct relay_rings rings = {
        .greq = { d->guest->req, &d->g_req_cons, &d->guest->req_prod },
        .grsp = { d->guest->rsp, &d->guest->rsp_cons, &d->g_rsp_prod },
        .sreq = { d->xsd_ring->req, &d->xsd_ring->req_cons, &d->s_req_prod },
        .srsp = { d->xsd_ring->rsp, &d->s_rsp_cons, &d->xsd_ring->rsp_prod },
    };
    struct relay_env env = relay_env_of(d);
    struct relay_result r = relay_step(&d->rl, &d->sh, &rings, &env);
    if (r.journal)
        d->jnl.dirty = true;
    domain_publish(d);
    notify(d, r.notify_guest, r.notify_shadow);
    if (!d->px->batching)
        share_settle(d->px);
    if (d->px->waiters)
        waiters_check(d->px);
    return r.moved || r.notify_guest || r.notify_shadow;
}
bool domain_is_quiesced(const struct domain *d)
{
    return d->rl.quiesce && !d->rl.in_queued && shadow_inflight(&d->sh) == 0 &&
           !bq_pending(&d->rl.inject) && d->rl.out.got == 0;
}

int domain_add_watches(struct domain *d, const char *const *parts, unsigned n)
{
    d->inject_error[0] = '\0';
    for (unsigned i = 0; i + 1 < n; i += 2) {
        size_t pl = strlen(parts[i]) + 1, tl = strlen(parts[i + 1]) + 1;
        if (pl + tl > XENSTORE_PAYLOAD_MAX)
            return -1;
        struct msg *m = malloc(sizeof(*m));
        if (!m)
            return -1;
        char buf[XENSTORE_PAYLOAD_MAX];
        memcpy(buf, parts[i], pl);
        memcpy(buf + pl, parts[i + 1], tl);
        msg_build(m, XS_WATCH, d->rl.next_internal_id++, 0, buf, (uint32_t)(pl + tl));
        int rc = shadow_on_internal_request(&d->sh, m, true);
        if (rc == 0)
            rc = domain_inject(d, m);
        free(m);
        if (rc < 0)
            return -1;
    }
    domain_pump(d);
    return 0;
}

void domain_backend_lost(struct domain *d)
{
    /* A reply too big for the ring was on its way to the guest, header
     * (with its length) already gone: the rest will never come.  Finish it
     * with NULs, so that what follows (the EIOs below) is read as the next
     * messages and not as the rest of this one. */
    if (d->rl.out_streaming && !d->rl.out_discard && d->rl.out.got >= MSG_HDR_LEN) {
        static const uint8_t zeros[256];
        uint32_t left = MSG_HDR_LEN + d->rl.out.hdr.len - d->rl.out.got;
        xlog(LOG_LVL_WARN, "domain %u: xenstored gone in the middle of a %u-byte reply "
             "(req %u): its last %u bytes are NULs", d->domid, d->rl.out.hdr.len,
             d->rl.out.hdr.req_id, left);
        while (left) {
            uint32_t n = left < sizeof(zeros) ? left : (uint32_t)sizeof(zeros);
            bq_push(&d->rl.to_guest, zeros, n);
            left -= n;
        }
    }
    for (unsigned i = 0; i < shadow_inflight(&d->sh); i++) {
        const struct inflight *f = shadow_inflight_at(&d->sh, i);
        if (f->internal)
            continue;
        struct msg *reply = malloc(sizeof(*reply));
        if (!reply)
            break;
        struct xsd_sockmsg hdr = { .type = f->type, .req_id = f->req_id, .tx_id = f->guest_tx };
        msg_build_error(reply, &hdr, "EIO");
        trace(d, "<-", reply, reply->hdr.tx_id, 0);
        queue_to_guest(d, reply);
        free(reply);
    }
    shadow_backend_lost(&d->sh);
    share_reset(d);
    /* a request half written to the dead ring is answered above */
    if (d->rl.in_queued) {
        d->rl.in_queued = false;
        d->rl.in_sent = 0;
        msg_reset(&d->rl.in);
    }
    relay_reset_out(&d->rl);
    bq_consume(&d->rl.inject, bq_pending(&d->rl.inject));
    if (d->rl.restoring) {
        /* its transactions went with xenstored: nothing to wait for */
        d->rl.restoring = false;
        d->rl.quiesce = d->rl.transfer_held;
    }
    domain_pump(d);
}

int domain_reintroduce(struct domain *d)
{
    /* a fresh xenstored expects a fresh ring */
    memset(d->xsd_ring, 0, XC_PAGE_SIZE);
    d->rl.out_rd = 0;
    d->rl.rsp_corrupt = d->rl.req_corrupt = d->rl.raw = false;
    if (!xs_introduce_domain(d->px->xs, d->domid, d->gfn, d->remote_port)) {
        xlog(LOG_LVL_ERROR, "domain %u: the new xenstored refused INTRODUCE: %s", d->domid,
             strerror(errno));
        return -1;
    }
    /* register the guest's watches again, as the guest, in order */
    unsigned n = 0;
    for (const struct shadow_watch *w = d->sh.watches; w; w = w->next) {
        size_t pl = strlen(w->path) + 1, tl = strlen(w->token) + 1;
        struct msg *m = malloc(sizeof(*m));
        if (!m || pl + tl > XENSTORE_PAYLOAD_MAX) {
            free(m);
            continue;
        }
        char buf[XENSTORE_PAYLOAD_MAX];
        memcpy(buf, w->path, pl);
        memcpy(buf + pl, w->token, tl);
        msg_build(m, XS_WATCH, d->rl.next_internal_id++, 0, buf, (uint32_t)(pl + tl));
        if (shadow_on_internal_request(&d->sh, m, false) == 0)
            domain_inject(d, m);
        free(m);
        n++;
    }
    xlog(LOG_LVL_INFO, "domain %u: introduced to the new xenstored, %u watches restored",
         d->domid, n);
    domain_pump(d);
    return 0;
}

size_t domain_describe(const struct domain *d, bool detail, char *buf, size_t len)
{
    static const char *const states[] = { "active", "broken", "reconnecting" };
    int n = snprintf(buf, len,
                     "domain %u %s%s guest-port %u shadow-port %u watches %u transactions %u "
                     "in-flight %u pending-output %zu memory %zu requests %llu replies %llu "
                     "events %llu trace %s",
                     d->domid, states[d->rl.state],
                     d->rl.quiesce ? (domain_is_quiesced(d) ? " quiesced" : " quiescing") : "",
                     d->guest_port, d->shadow_port,
                     d->sh.nr_watches, d->sh.nr_txs, shadow_inflight(&d->sh),
                     bq_pending(&d->rl.to_guest),
                     sizeof(*d) + d->rl.to_guest.cap + d->rl.inject.cap + shadow_memory(&d->sh),
                     (unsigned long long)d->requests,
                     (unsigned long long)d->replies, (unsigned long long)d->events,
                     d->trace ? "on" : "off");
    size_t off = n > 0 ? (size_t)n : 0;
    if (off < len)
        off += share_describe(d->px, &d->fair, buf + off, len - off);
    if (off + 1 < len) {
        buf[off++] = '\n';
        buf[off] = '\0';
    }
    if (off >= len)
        return len ? len - 1 : 0;
    if (detail)
        off += shadow_describe(&d->sh, buf + off, len - off);
    return off;
}

/* ---- taking streams over from a live switch ----------------------------- */

/* Is [START, START+LEN) of the request stream between the daemon's read
 * position and the guest's write position at the switch: on the shadow page
 * as the guest wrote it? */
static bool on_shadow(const struct switch_answer *a, XENSTORE_RING_IDX start, uint32_t len)
{
    return start - a->req_cons <= a->req_prod - a->req_cons && len <= a->req_prod - start;
}

static void shadow_req_bytes(const struct domain *d, XENSTORE_RING_IDX from, uint32_t n,
                             uint8_t *out)
{
    for (uint32_t i = 0; i < n; i++)
        out[i] = (uint8_t)d->xsd_ring->req[MASK_XENSTORE_IDX(from + i)];
}

/* The requests xenstored owes a reply become D's requests in flight, in
 * order: with their payload where the shadow page has it whole (what the
 * shadow learns from a WATCH), else as headers alone (taken by the daemon
 * before the switch; a watch it registered then is learned from the
 * daemon, a transaction's earlier operations are unknown anyway). */
static int adopt_pending(struct domain *d, const struct switch_answer *a)
{
    struct msg *m = malloc(sizeof(*m));
    if (!m)
        return -1;
    for (unsigned i = 0; i < a->nr_pending; i++) {
        const struct switch_pending *p = &a->pending[i];
        uint32_t len = on_shadow(a, p->start, MSG_HDR_LEN + p->len) ? p->len : 0;
        msg_reset(m);
        m->hdr = (struct xsd_sockmsg){ p->type, p->req_id, p->tx_id, len };
        shadow_req_bytes(d, p->start + MSG_HDR_LEN, len, msg_body(m));
        m->got = MSG_HDR_LEN + len;
        if (shadow_on_request(&d->sh, m) < 0) {
            free(m);
            return -1;
        }
        d->requests++;   /* not traced: xsproxy did not pass it on */
    }
    free(m);
    return 0;
}

int domain_adopt_switch(struct domain *d, const struct switch_answer *a, char *err,
                        size_t errlen)
{
    if (a->req_part && !on_shadow(a, a->req_prod - a->req_part, a->req_part)) {
        snprintf(err, errlen, "the shim's answer does not go with the rings (a request "
                 "of %u octets before %u, the daemon at %u)", a->req_part, a->req_prod,
                 a->req_cons);
        return -1;
    }
    if (adopt_pending(d, a) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* the request the guest is writing: its first bytes are on the shadow */
    shadow_req_bytes(d, a->req_prod - a->req_part, a->req_part, d->rl.in.bytes);
    d->rl.in.got = d->rl.in_on_shadow = a->req_part;
    /* the reply xenstored is writing: its first bytes are on the guest's ring */
    memcpy(d->rl.out.bytes, a->rsp_prefix, a->rsp_prefix_len);
    d->rl.out.got = d->rl.out_skip = a->rsp_part;
    d->rl.out_rd = a->rsp_prod;
    /* everything up to req_prod is on the shadow: taken, for the guest */
    __atomic_store_n(&d->guest->req_cons, a->req_prod, __ATOMIC_RELEASE);
    d->jnl.dirty = true;
    return 0;
}

/* ---- the journal ------------------------------------------------------- */

/* xenstored's end of the shadow channel, once it has bound it: what a
 * restarted xsproxy binds to again. */
static void learn_xsd_port(struct domain *d)
{
    xc_evtchn_status_t st = { .dom = DOMID_SELF, .port = d->shadow_port };
    if (xc_evtchn_status(d->px->xch, &st) == 0 && st.status == EVTCHNSTAT_interdomain)
        d->xsd_port = st.u.interdomain.port;
}

int domain_journal_now(struct domain *d)
{
    struct proxy *px = d->px;
    if (!d->jnl.main || persist_encode(d, &px->jbuf, &px->jbuf_len, &px->jbuf_cap) < 0 ||
        journal_commit(d->jnl.main, px->jbuf, px->jbuf_len) < 0)
        return -1;
    return 0;
}

void domain_publish(struct domain *d)
{
    struct proxy *px = d->px;
    struct xenstore_domain_interface *g = d->guest, *s = d->xsd_ring;
    bool moved = g->req_cons != d->g_req_cons || g->rsp_prod != d->g_rsp_prod ||
                 s->req_prod != d->s_req_prod || s->rsp_cons != d->s_rsp_cons;
    if (!d->xsd_port && d->shadow_port)
        learn_xsd_port(d);
    if (d->jnl.main && !d->jnl.watches && d->sh.nr_watches > JOURNAL_WATCHES_INLINE) {
        /* many watches: the list gets a journal of its own from now on */
        char path[300], err[256];
        watch_journal_path(px, d->domid, path, sizeof(path));
        d->jnl.watches = journal_create(path, err, sizeof(err));
        if (!d->jnl.watches)
            xlog(LOG_LVL_WARN, "domain %u: its watches stay in its journal: %s", d->domid, err);
        d->jnl.watches_stale = true;
        d->jnl.dirty = true;
    }
    if (d->jnl.main && (moved || d->jnl.dirty)) {
        /* the watch list first: after a crash between the two commits, a
         * WATCH or UNWATCH reply is read again and applied again, which
         * changes nothing (shadow.c) */
        bool watches = d->jnl.watches &&
                       (d->jnl.watches_stale || d->jnl.watch_gen != d->sh.watch_gencnt);
        if ((watches &&
             (persist_encode_watches(d, &px->jbuf, &px->jbuf_len, &px->jbuf_cap) < 0 ||
              journal_commit(d->jnl.watches, px->jbuf, px->jbuf_len) < 0)) ||
            persist_encode(d, &px->jbuf, &px->jbuf_len, &px->jbuf_cap) < 0 ||
            journal_commit(d->jnl.main, px->jbuf, px->jbuf_len) < 0) {
            /* a journal behind the rings would do harm after a crash: none
             * is better */
            xlog(LOG_LVL_ERROR,
                 "domain %u: cannot write its journal (%s); it is removed, and a restart of "
                 "xsproxy would not find this domain",
                 d->domid, strerror(errno));
            journal_delete(d->jnl.main);
            journal_delete(d->jnl.watches);
            d->jnl.main = d->jnl.watches = NULL;
        } else if (watches) {
            d->jnl.watch_gen = d->sh.watch_gencnt;
            d->jnl.watches_stale = false;
        }
        px->commits++;
    }
    d->jnl.dirty = false;
    if (!moved)
        return;
    /* the stores that let the other sides see what the relay did: data
     * first (written already), then the index (release) */
    if (g->req_cons != d->g_req_cons)
        __atomic_store_n(&g->req_cons, d->g_req_cons, __ATOMIC_RELEASE);
    if (s->req_prod != d->s_req_prod)
        __atomic_store_n(&s->req_prod, d->s_req_prod, __ATOMIC_RELEASE);
    if (s->rsp_cons != d->s_rsp_cons)
        __atomic_store_n(&s->rsp_cons, d->s_rsp_cons, __ATOMIC_RELEASE);
    if (g->rsp_prod != d->g_rsp_prod)
        __atomic_store_n(&g->rsp_prod, d->g_rsp_prod, __ATOMIC_RELEASE);
}

void domain_detach(struct proxy *px, struct domain *d)
{
    for (struct domain **p = &px->domains; *p; p = &(*p)->next)
        if (*p == d) {
            *p = d->next;
            break;
        }
    px->nr_domains--;
    if (d->jnl.main) {
        load_indexes(d);
        d->jnl.dirty = true;
        domain_publish(d);   /* the latest state, for the next xsproxy */
    }
    domain_let_go(px, d, false);
    shadow_clear(&d->sh);
    bq_free(&d->rl.to_guest);
    bq_free(&d->rl.inject);
    if (d->trace)
        fclose(d->trace);
    xlog(LOG_LVL_INFO, "domain %u detached (its journal, claim and shadow ring stay)", d->domid);
    free(d);
}
