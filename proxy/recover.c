/*
 * recover.c - a restarted xsproxy carries on where the last one stopped.
 *
 * Everything that outlives the process is in the run directory, which is a
 * tmpfs: each domain's journal (its state, persist.c), its shadow ring page
 * and its claim.  xenstored still has the shadow ring mapped and still
 * serves it: the domain's watches, transactions and requests in flight are
 * alive there.  The guest's ring is in the guest.  Only the event channels
 * died with the process, and their other ends (the guest's port,
 * xenstored's port) were left unbound, waiting for a new peer.  So the new
 * xsproxy maps both pages again, binds to both ports again, lets the rings
 * see the indexes of the last commit (the rings never saw later ones), and
 * relays on.  Nothing sent in either direction is lost or sent twice: every
 * byte taken from a ring is in the journal before the ring learns it was
 * taken.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proxy.h"
#include "transfer.h"

/* Is V within [LO, HI] going forward from LO (free-running indexes)? */
static bool between(XENSTORE_RING_IDX lo, XENSTORE_RING_IDX v, XENSTORE_RING_IDX hi)
{
    return (XENSTORE_RING_IDX)(v - lo) <= (XENSTORE_RING_IDX)(hi - lo);
}

/* Let the rings see the journal's indexes.  The rings are never ahead of
 * the journal; they may be behind it by what the last pass of the relay
 * did.  An index outside where it can be means the journal does not go
 * with these rings: then nothing is touched. */
static int restore_indexes(struct domain *d, char *err, size_t errlen)
{
    struct xenstore_domain_interface *g = d->guest, *s = d->xsd_ring;
    bool ok = between(g->req_cons, d->g_req_cons, g->req_prod) &&
              between(s->rsp_cons, d->s_rsp_cons, s->rsp_prod) &&
              between(s->req_prod, d->s_req_prod, s->req_cons + XENSTORE_RING_SIZE) &&
              between(g->rsp_prod, d->g_rsp_prod, g->rsp_cons + XENSTORE_RING_SIZE);
    if (!ok && d->rl.state == DOM_ACTIVE && !d->rl.rsp_corrupt) {
        snprintf(err, errlen,
                 "the rings do not go with the journal (guest req %u/%u rsp %u/%u, shadow req "
                 "%u/%u rsp %u/%u; journal %u %u %u %u)",
                 g->req_cons, g->req_prod, g->rsp_cons, g->rsp_prod, s->req_cons, s->req_prod,
                 s->rsp_cons, s->rsp_prod, d->g_req_cons, d->g_rsp_prod, d->s_req_prod,
                 d->s_rsp_cons);
        return -1;
    }
    domain_publish(d);
    return 0;
}

static bool domain_alive(struct proxy *px, uint32_t domid)
{
    xc_dominfo_t info;
    int n = xc_domain_getinfo(px->xch, domid, 1, &info);
    if (n < 0)
        return errno != ESRCH;   /* ESRCH: no domain at or above it; else unknown, kept */
    return n == 1 && info.domid == domid && !info.dying;
}

/* Remove what a dead domain left in the run directory. */
static void forget(struct proxy *px, uint32_t domid, struct journal *j, struct journal *jw)
{
    char path[300];
    journal_close(jw);
    watch_journal_path(px, domid, path, sizeof(path));
    unlink(path);
    snprintf(path, sizeof(path), "%s/claims/%u", px->cfg.run_dir, domid);
    unlink(path);
    snprintf(path, sizeof(path), "%s/shadow/dom%u", px->cfg.run_dir, domid);
    unlink(path);
    journal_delete(j);
}

/* A journal made and never written: the insertion stopped before its
 * first commit, so before its claim - xenstored was never shown the shadow
 * ring.  Its files go; the domain is as it was before. */
static int forget_unwritten(struct proxy *px, uint32_t domid, const char *path, char *err,
                            size_t errlen)
{
    char other[300];
    snprintf(other, sizeof(other), "%s/claims/%u", px->cfg.run_dir, domid);
    if (access(other, F_OK) == 0)
        return -1;   /* a claim without a commit: not ours to judge; ERR says */
    unlink(path);
    snprintf(other, sizeof(other), "%s/shadow/dom%u", px->cfg.run_dir, domid);
    unlink(other);
    xlog(LOG_LVL_INFO, "domain %u: an insertion cut short before its first commit left a "
         "journal with nothing in it; removed", domid);
    err[0] = '\0';
    (void)errlen;
    return 0;
}

/* A domain on its way back: what recover_one's steps share.  Until the
 * domain is linked, the journals are the recovery's, not the domain's. */
struct recovery {
    struct proxy *px;
    struct domain *d;
    struct journal *j, *jw;          /* its journal, and its watch list's */
    struct switch_answer *answer;    /* a live switch's, when cut short */
    bool switched_live;              /* a live insertion cut short after the switch */
    bool new_xenstored;              /* xenstored's end of the shadow channel is gone */
    char *err;
    size_t errlen;
};

/* The domain is to be left as it is without us: its files go, and the
 * recovery stops with no error.  -1, as a failed step. */
static int let_domain_be(struct recovery *r)
{
    forget(r->px, r->d->domid, r->j, r->jw);
    r->j = r->jw = NULL;
    r->err[0] = '\0';
    return -1;
}

/* The watch list, journalled apart. */
static int read_watch_journal(struct recovery *r)
{
    const uint8_t *data;
    size_t len;
    char wpath[300];
    watch_journal_path(r->px, r->d->domid, wpath, sizeof(wpath));
    r->jw = journal_open(wpath, &data, &len, r->err, r->errlen);
    if (!r->jw || persist_decode_watches(r->d, data, len, r->err, r->errlen) < 0) {
        char why[256];
        snprintf(why, sizeof(why), "%s", r->err);
        if (snprintf(r->err, r->errlen, "its watch list: %s", why) < 0)
            r->err[0] = '\0';
        journal_close(r->jw);
        r->jw = NULL;
        return -1;
    }
    r->d->jnl.watch_gen = r->d->sh.watch_gencnt;
    return 0;
}

/* Is the journal's domain still ours to serve? */
static int still_ours(struct recovery *r)
{
    struct domain *d = r->d;
    if (domain_find(r->px, d->domid)) {
        snprintf(r->err, r->errlen, "domain %u has two journals", d->domid);
        return -1;
    }
    if (!domain_alive(r->px, d->domid)) {
        xlog(LOG_LVL_INFO, "domain %u is gone: its journal, claim and shadow ring removed",
             d->domid);
        return let_domain_be(r);
    }
    return 0;
}

/* A live insertion cut short: was the ring switched? */
static int settle_live_switch(struct recovery *r)
{
    struct domain *d = r->d;
    if (!d->sw.switching)
        return 0;
    if (!(r->answer = malloc(sizeof(*r->answer)))) {
        snprintf(r->err, r->errlen, "out of memory");
        return -1;
    }
    int s = live_recover_switch(r->px, d, r->answer, r->err, r->errlen);
    if (s < 0)
        return -1;
    if (s == 0) {
        xlog(LOG_LVL_WARN,
             "domain %u: its live insertion was cut short before the switch; it stays "
             "with xenstored, served directly",
             d->domid);
        return let_domain_be(r);
    }
    r->switched_live = true;
    return 0;
}

/* The guest's ring page, and the shadow ring from its file. */
static int map_rings(struct recovery *r)
{
    struct domain *d = r->d;
    d->guest = xengnttab_map_grant_ref(r->px->xgt, d->domid, 1, PROT_READ | PROT_WRITE);
    if (!d->guest) {
        snprintf(r->err, r->errlen, "cannot map domain %u's ring: %s", d->domid,
                 strerror(errno));
        return -1;
    }
    int shadow_fd = open(d->xsd_ring_file, O_RDWR | O_CLOEXEC);
    if (shadow_fd >= 0)
        d->xsd_ring = mmap(NULL, XC_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, shadow_fd, 0);
    if (shadow_fd < 0 || d->xsd_ring == MAP_FAILED) {
        d->xsd_ring = NULL;
        snprintf(r->err, r->errlen, "cannot map its shadow ring %s: %s", d->xsd_ring_file,
                 strerror(errno));
        if (shadow_fd >= 0)
            close(shadow_fd);
        return -1;
    }
    close(shadow_fd);
    return 0;
}

/* Both event channels again: the guest's port and xenstored's were left
 * unbound when the last xsproxy died. */
static int bind_ports(struct recovery *r)
{
    struct proxy *px = r->px;
    struct domain *d = r->d;
    int p = xenevtchn_bind_interdomain(px->xce, d->domid, d->remote_port);
    if (p < 0 && d->sw.live && live_handed_back(px, d->domid)) {
        /* xenstored holds the guest's channel again: a hand-back the last
         * xsproxy did not get to finish */
        xlog(LOG_LVL_INFO, "domain %u was handed back to xenstored just before the crash: its "
             "journal, claim and shadow ring removed", d->domid);
        return let_domain_be(r);
    }
    if (p < 0) {
        snprintf(r->err, r->errlen, "cannot bind domain %u's event channel %u again: %s",
                 d->domid, d->remote_port, strerror(errno));
        return -1;
    }
    d->guest_port = (evtchn_port_t)p;
    /* xenstored's port too: it keeps its number, so xenstored notices
     * nothing.  Not known if xenstored had not bound it yet: then a new
     * port, which the claim names for when it does. */
    p = d->xsd_port ? xenevtchn_bind_interdomain(px->xce, 0, d->xsd_port) : -1;
    /* a port that is no longer waiting for us: xenstored itself is a new
     * one, which knows nothing of the domain */
    r->new_xenstored = p < 0 && d->xsd_port;
    if (p < 0)
        p = xenevtchn_bind_unbound_port(px->xce, 0);
    if (p < 0) {
        snprintf(r->err, r->errlen,
                 "cannot bind xenstored's end %u of domain %u's shadow channel: %s",
                 d->xsd_port, d->domid, strerror(errno));
        return -1;
    }
    d->shadow_port = (evtchn_port_t)p;
    if (domain_set_port(px, d->guest_port, d) < 0 || domain_set_port(px, d->shadow_port, d) < 0) {
        snprintf(r->err, r->errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* The ring indexes the relay goes on from. */
static int take_indexes(struct recovery *r)
{
    struct domain *d = r->d;
    if (!r->switched_live)
        return restore_indexes(d, r->err, r->errlen);
    /* the journal has no indexes yet: the rings' are where the switch
     * left them, as live_insert takes them */
    if (live_finish_recovered(r->px, d, r->answer, r->err, r->errlen) < 0)
        return -1;
    d->g_req_cons = d->guest->req_cons;
    d->g_rsp_prod = d->guest->rsp_prod;
    d->s_req_prod = d->xsd_ring->req_prod;
    d->s_rsp_cons = d->xsd_ring->rsp_cons;
    xlog(LOG_LVL_INFO, "domain %u: its live insertion was cut short after the switch; "
         "finishing it", d->domid);
    free(r->answer);
    r->answer = NULL;
    return 0;
}

/* A recovered domain, linked: it is relayed again. */
static void relay_again(struct recovery *r)
{
    struct proxy *px = r->px;
    struct domain *d = r->d;
    xlog(LOG_LVL_INFO,
         "domain %u recovered: %u watches, %u transactions, %u requests in flight, %u octets "
         "of a request and %zu of output held%s",
         d->domid, d->sh.nr_watches, d->sh.nr_txs, shadow_inflight(&d->sh), d->rl.in.got,
         bq_pending(&d->rl.to_guest), d->rl.quiesce ? "; quiesced" : "");
    if (r->new_xenstored) {
        /* as when xenstored restarts under a running xsproxy: what was in
         * flight gets EIO, then the domain and its watches are introduced
         * to the new one */
        xlog(LOG_LVL_WARN,
             "domain %u: xenstored's end %u of its shadow channel is gone: xenstored is a new "
             "one; introducing the domain to it again",
             d->domid, d->xsd_port);
        d->xsd_port = 0;
        domain_backend_lost(d);
        domain_reintroduce(d);
        return;
    }
    /* events sent to the dead process are lost: both sides look again */
    xenevtchn_notify(px->xce, d->guest_port);
    xenevtchn_notify(px->xce, d->shadow_port);
    transfer_hold_at_recovery(px, d);   /* before anything of it is relayed */
    domain_pump(d);
}

/* A step failed, or found the domain is not to be served: undo the rest.
 * -1 with ERR, or 0 when ERR was cleared (nothing wrong). */
static int recovery_failed(struct recovery *r)
{
    struct domain *d = r->d;
    free(r->answer);
    d->jnl.main = d->jnl.watches = NULL;
    domain_let_go(r->px, d, false);   /* the files stay, for a look */
    shadow_clear(&d->sh);
    bq_free(&d->rl.to_guest);
    bq_free(&d->rl.inject);
    free(d);
    journal_close(r->j);
    journal_close(r->jw);
    return r->err[0] ? -1 : 0;
}

static int recover_one(struct proxy *px, const char *path, uint32_t domid, char *err,
                       size_t errlen)
{
    const uint8_t *data;
    size_t len;
    struct journal *j = journal_open(path, &data, &len, err, errlen);
    if (!j)
        return errno == ENODATA ? forget_unwritten(px, domid, path, err, errlen) : -1;
    struct domain *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        journal_close(j);
        return -1;
    }
    d->px = px;
    shadow_init(&d->sh);
    bool apart = false;
    if (persist_decode(d, data, len, &apart, err, errlen) < 0) {
        free(d);
        journal_close(j);
        return -1;
    }
    struct recovery r = { .px = px, .d = d, .j = j, .err = err, .errlen = errlen };
    if (apart && read_watch_journal(&r) < 0)
        return recovery_failed(&r);
    d->sh.domid = d->domid;   /* relative watch paths are under its home */
    if (still_ours(&r) < 0)
        return recovery_failed(&r);
    snprintf(d->xsd_ring_file, sizeof(d->xsd_ring_file), "%s/shadow/dom%u", px->cfg.run_dir,
             d->domid);
    snprintf(d->claim_file, sizeof(d->claim_file), "%s/claims/%u", px->cfg.run_dir, d->domid);
    if (settle_live_switch(&r) < 0 || map_rings(&r) < 0 || bind_ports(&r) < 0)
        return recovery_failed(&r);
    if (domain_write_claim(d, d->sw.live ? CLAIM_LIVE_IN : CLAIM_LIVE_NONE) < 0) {
        snprintf(err, errlen, "cannot write the claim %s: %s", d->claim_file, strerror(errno));
        return recovery_failed(&r);
    }
    d->jnl.main = r.j;
    d->jnl.watches = r.jw;
    if (take_indexes(&r) < 0)
        return recovery_failed(&r);
    domain_link(px, d);
    relay_again(&r);
    return 0;
}

int domain_recover_all(struct proxy *px)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/journal", px->cfg.run_dir);
    DIR *dh = opendir(dir);
    if (!dh)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dh))) {
        unsigned domid;
        char extra;
        char path[600], err[512] = "";
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        size_t nl = strlen(e->d_name);
        if (nl > 4 && strcmp(e->d_name + nl - 4, ".new") == 0) {
            unlink(path);   /* a journal whose making was cut short */
            continue;
        }
        if (sscanf(e->d_name, "dom%u%c", &domid, &extra) != 1)
            continue;
        if (transfer_sent_away(px, domid)) {
            /* committed to another host just before a crash: nothing of
             * it is relayed again */
            char wpath[300];
            watch_journal_path(px, domid, wpath, sizeof(wpath));
            unlink(path);
            unlink(wpath);
            xlog(LOG_LVL_INFO, "domain %u went to another host: its journal is removed", domid);
            continue;
        }
        if (recover_one(px, path, domid, err, sizeof(err)) < 0)
            xlog(LOG_LVL_ERROR, "cannot recover from %s: %s (left in place)", path, err);
        else if (domain_find(px, domid))
            n++;
    }
    closedir(dh);
    return n;
}
