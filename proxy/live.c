/*
 * live.c - live insertion and removal: putting xsproxy in front of a domain
 * xenstored already serves directly (a guest that has run for months and is
 * about to migrate), and handing a domain back to xenstored.
 *
 * The switch happens inside xenstored, in the preloaded shim (the protocol
 * is at the top of the live-switch code in shim/preload_xen.c): xsproxy
 * writes the domain's claim with live=1 or live=back, bumps the switch
 * board, wakes xenstored and waits for the shim's answer.  The shim
 * switches only between messages, so that the relay starts at a message
 * boundary; "busy" means ask again a moment later.  The wait is synchronous:
 * a switch takes a few milliseconds, during which other domains wait.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "proxy.h"
#include "xssim.h"

#define SWITCH_TRY_MS 3000     /* keep asking while the shim says busy */
#define SWITCH_ANSWER_MS 2000  /* for one answer */
#define DRAIN_MS 5000          /* for a domain to come to rest before removal */

static void claims_dir(const struct proxy *px, char *buf, size_t len)
{
    snprintf(buf, len, "%s/claims", px->cfg.run_dir);
}

/* The shim's answer about DOMID (shim/preload_xen.c: CLAIMS/<domid>.state). */
static void unlink_state(const struct proxy *px, uint32_t domid)
{
    char dir[300], path[320];
    claims_dir(px, dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/%u.state", dir, domid);
    unlink(path);
}

/* One request to the shim; its answer in STATE.  0, or -1 (STATE says). */
static int ask_shim(struct proxy *px, uint32_t domid, char *state, size_t len)
{
    struct xssim *sim = xssim_default();
    if (!sim) {
        snprintf(state, len, "error live switching works on the simulated host only "
                             "(XSSIM_DIR): on Xen there is no way yet to wake xenstored");
        return -1;
    }
    char dir[300];
    claims_dir(px, dir, sizeof(dir));
    if (xssim_switch_request(dir, domid) < 0) {
        snprintf(state, len, "error cannot ask for the switch: %s", strerror(errno));
        return -1;
    }
    xssim_raise_dom_exc(sim);
    for (int ms = 0; ms < SWITCH_ANSWER_MS; ms++) {
        int rc = xssim_switch_state(dir, domid, state, len);
        if (rc == 1)
            return 0;
        if (rc < 0) {
            snprintf(state, len, "error cannot read the switch's state: %s", strerror(errno));
            return -1;
        }
        usleep(1000);
    }
    snprintf(state, len, "error xenstored did not answer within %d ms", SWITCH_ANSWER_MS);
    return -1;
}

/* Ask until the shim is not busy.  0 with its answer, or -1. */
static int switch_now(struct proxy *px, uint32_t domid, char *state, size_t len)
{
    for (int ms = 0; ms < SWITCH_TRY_MS; ms++) {
        if (ask_shim(px, domid, state, len) < 0)
            return -1;
        if (strncmp(state, "busy", 4) != 0)
            return 0;
        usleep(1000);
    }
    return -1;   /* STATE: the last "busy ..." */
}

#define WATCHES_MAX (16u << 20)   /* the largest `watches` answer taken */

static bool io_all(int fd, void *buf, size_t len, bool rd)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = rd ? read(fd, (char *)buf + done, len - done)
                       : write(fd, (const char *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += (size_t)n;
    }
    return true;
}

/* XS_CONTROL `watches` on a connection of its own: oxenstored answers with
 * every connection's watches in one message, longer than the protocol's
 * 4096 bytes once a few dozen domains have watches - which libxenstore
 * refuses by closing the connection.  NULL when the daemon has no such
 * command (C xenstored) or the answer is not usable. */
static char *control_watches(struct proxy *px)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(px->cfg.backend_path) >= sizeof(a.sun_path))
        return NULL;
    strcpy(a.sun_path, px->cfg.backend_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    struct timeval tv = { 5, 0 };   /* never hang the loop on a daemon */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    static const char cmd[] = "watches";
    struct xsd_sockmsg h = { XS_CONTROL, 1, 0, sizeof(cmd) };
    char *text = NULL;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && io_all(fd, &h, sizeof(h), false) &&
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

int live_insert(struct proxy *px, uint32_t domid, uint64_t gfn, uint32_t port, char *err,
                size_t errlen)
{
    struct domain *d = domain_prepare_live(px, domid, gfn, port, err, errlen);
    if (!d)
        return EINVAL;
    char state[256];
    /* journalled before the claim: a crash from here on leaves a journal
     * that tells the next xsproxy to ask the shim (live_recover_switch) */
    d->live = d->switching = true;
    unlink_state(px, domid);   /* an answer found after a crash is this switch's */
    if (domain_journal_now(d) < 0) {
        snprintf(err, errlen, "cannot write the journal of domain %u: %s", domid,
                 strerror(errno));
        domain_discard(px, d);
        return EIO;
    }
    if (domain_write_claim(d, "1") < 0) {
        snprintf(err, errlen, "cannot publish the claim %s: %s", d->claim_file, strerror(errno));
        domain_discard(px, d);
        return EIO;
    }
    crash_point("live-claimed");
    unsigned long req_prod, rsp_prod;
    if (switch_now(px, domid, state, sizeof(state)) < 0 ||
        sscanf(state, "shadow req_prod=%lu rsp_prod=%lu", &req_prod, &rsp_prod) != 2) {
        snprintf(err, errlen, "domain %u: xenstored's shim did not switch it: %s", domid, state);
        domain_discard(px, d);
        return strncmp(state, "busy", 4) == 0 ? EBUSY : EIO;
    }
    crash_point("live-switched");
    /* xenstored now serves the shadow, and has let the guest's channel go */
    int p = xenevtchn_bind_interdomain(px->xce, domid, port);
    if (p < 0 || domain_set_port(px, (evtchn_port_t)p, d) < 0) {
        snprintf(err, errlen, "domain %u: cannot bind its event channel %u after the switch: %s",
                 domid, port, strerror(errno));
        if (p >= 0)
            xenevtchn_unbind(px->xce, (evtchn_port_t)p);
        /* give it back as it was: nothing was relayed */
        if (domain_write_claim(d, "back") == 0 && switch_now(px, domid, state, sizeof(state)) == 0)
            domain_discard(px, d);
        else
            xlog(LOG_LVL_ERROR, "domain %u: cannot hand it back either: %s", domid, state);
        return EIO;
    }
    d->guest_port = (evtchn_port_t)p;
    /* replies and events up to here were on the guest's ring already */
    d->out_rd = (XENSTORE_RING_IDX)rsp_prod;
    d->sh.adopt_unknown_tx = true;
    int learned = 0;
    if (!learn_watches(px, d, &learned))
        d->sh.incomplete = true;
    d->switching = false;   /* the first commit, in domain_pump below */
    domain_link(px, d);
    if (d->sh.incomplete)
        snprintf(err, errlen,
                 "domain %u inserted live; the daemon cannot list its watches: the shadow is "
                 "incomplete (save refuses it unless forced)\n",
                 domid);
    else
        snprintf(err, errlen, "domain %u inserted live, %d watches learned from the daemon\n",
                 domid, learned);
    xlog(LOG_LVL_INFO, "%.*s (request stream at %lu, replies at %lu)",
         (int)strcspn(err, "\n"), err, req_prod, rsp_prod);
    domain_pump(d);
    return 0;
}

int live_recover_switch(struct proxy *px, struct domain *d, char *err, size_t errlen)
{
    char dir[300], state[256] = "";
    claims_dir(px, dir, sizeof(dir));
    unsigned long req_prod, rsp_prod;
    unsigned xsd_port;
    const char *how = "shadow req_prod=%lu rsp_prod=%lu port=%u";
    if (xssim_switch_state(dir, d->domid, state, sizeof(state)) != 1 ||
        sscanf(state, how, &req_prod, &rsp_prod, &xsd_port) != 3) {
        /* not switched (not asked yet, busy, refused): take the claim away
         * so that no later switch request finds it, then look once more -
         * the shim may have been reading it at that very moment */
        unlink(d->claim_file);
        struct xssim *sim = xssim_default();
        if (sim)
            xssim_raise_dom_exc(sim);
        usleep(100 * 1000);
        state[0] = '\0';
        if (xssim_switch_state(dir, d->domid, state, sizeof(state)) != 1 ||
            sscanf(state, how, &req_prod, &rsp_prod, &xsd_port) != 3) {
            unlink_state(px, d->domid);
            return 0;
        }
    }
    if (xsd_port == 0) {
        snprintf(err, errlen, "the shim's answer names no port: %s", state);
        return -1;
    }
    /* as live_insert does after the switch; nothing was relayed since */
    d->xsd_port = xsd_port;
    d->out_rd = (XENSTORE_RING_IDX)rsp_prod;
    d->sh.adopt_unknown_tx = true;
    int learned = 0;
    if (!learn_watches(px, d, &learned))
        d->sh.incomplete = true;
    d->switching = false;
    d->jnl_dirty = true;
    return 1;
}

bool live_handed_back(struct proxy *px, uint32_t domid)
{
    char dir[300], state[256] = "";
    claims_dir(px, dir, sizeof(dir));
    return xssim_switch_state(dir, domid, state, sizeof(state)) == 1 &&
           strcmp(state, "direct") == 0;
}

void crash_point(const char *name)
{
    const char *at = getenv("XSPROXY_CRASH_AT");
    if (at && strcmp(at, name) == 0) {
        xlog(LOG_LVL_WARN, "XSPROXY_CRASH_AT=%s: killing myself here", name);
        raise(SIGKILL);
    }
}

/* Nothing of D is on its way anywhere: xenstored could take its ring. */
static bool at_rest(const struct domain *d)
{
    const struct xenstore_domain_interface *s = d->shadow;
    return shadow_inflight(&d->sh) == 0 && !d->in_queued && d->in.got == 0 &&
           !bq_pending(&d->to_guest) && !bq_pending(&d->inject) && d->out.got == 0 &&
           s->req_cons == s->req_prod && d->out_rd == s->rsp_prod;
}

/* Why xenstored could not take D back as it is, or NULL. */
static const char *cannot_hand_back(const struct domain *d)
{
    if (d->diverged)
        return "xsproxy sent requests of its own as the domain (a restore, watches registered "
               "again): its ring's indexes at xenstored are no longer the guest's";
    for (const struct shadow_tx *t = d->sh.txs; t; t = t->next)
        if (t->guest_id != t->backend_id)
            return "xsproxy remapped a transaction id the guest uses (after a restore)";
    if (d->state != DOM_ACTIVE)
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
    domain_write_claim(d, "1");
    d->removing = false;
    domain_pump(d);
}

int live_remove(struct proxy *px, struct domain *d, char *err, size_t errlen)
{
    uint32_t domid = d->domid;
    const char *why = cannot_hand_back(d);
    if (why) {
        snprintf(err, errlen, "domain %u cannot be handed back to xenstored: %s (`remove %u "
                              "release` releases it instead)",
                 domid, why, domid);
        return EBUSY;
    }
    /* finish the request being read, take no other, relay what is in flight;
     * then ask.  The shim says busy if xenstored wrote more meanwhile (an
     * event it had queued): relay that too and ask again. */
    d->removing = true;
    char state[256] = "";
    for (int ms = 0; ms < DRAIN_MS; ms++) {
        domain_pump(d);
        const struct xenstore_domain_interface *s = d->shadow, *g = d->guest;
        if (!at_rest(d) || s->req_prod != g->req_cons || s->rsp_prod != g->rsp_prod) {
            usleep(1000);
            continue;
        }
        /* the shim binds the guest's channel to xenstored again: let it go */
        if (d->guest_port < px->by_port_len)
            px->by_port[d->guest_port] = NULL;
        xenevtchn_unbind(px->xce, d->guest_port);
        d->guest_port = 0;
        if (domain_write_claim(d, "back") < 0) {
            snprintf(state, sizeof(state), "cannot write the claim: %s", strerror(errno));
            break;
        }
        if (ask_shim(px, domid, state, sizeof(state)) < 0)
            break;
        if (strcmp(state, "direct") == 0) {
            crash_point("handed-back");
            xlog(LOG_LVL_INFO, "domain %u handed back to xenstored", domid);
            domain_remove(px, d);
            return 0;
        }
        if (strncmp(state, "busy", 4) != 0)
            break;
        /* serve it again while it comes to rest once more */
        stay(px, d);
        d->removing = true;
    }
    if (!state[0])
        snprintf(state, sizeof(state),
                 "it did not come to rest within %d ms (requests in flight, or output it "
                 "does not read)", DRAIN_MS);
    snprintf(err, errlen, "domain %u: not handed back: %s; it stays inserted", domid, state);
    stay(px, d);
    return EBUSY;
}
