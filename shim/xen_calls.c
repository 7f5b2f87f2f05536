/*
 * xen_calls.c - the calls libxsshim.so takes from xenstored, in front of
 * Xen's own libxenevtchn, libxengnttab and libxenctrl (and munmap, which
 * oxenstored unmaps its foreign mappings with).  Everything goes on to the
 * real libraries (real.c); what the shim adds:
 *
 *  - claims (claim.h): a domain xsproxy stands in front of has its ring
 *    mapped from xsproxy's shadow page and its channel bound to xsproxy's
 *    shadow port, a file look-up per map or bind, never per notify;
 *  - with $XSSHIM_CLAIMS set, the tracking live switching needs
 *    (track.c): every domain's ring and binding, both streams followed,
 *    xenstored's port numbers kept in front of Xen's, and the wake-up port
 *    (switch.c).  Without it the shim passes every call straight on.
 *
 * errno is left as the real library leaves it: C xenstored 4.17 answers
 * some bad requests with its errno of the moment, and aborts when it is 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "claim.h"
#include "real.h"   /* xenctrl.h first: it sets up Xen's public headers */
#include "switch.h"
#include "track.h"
#include <xen/grant_table.h>

#define EXPORT __attribute__((visibility("default")))
#define PAGE 4096u

/* ---- claims ------------------------------------------------------------ */

/* A claim that redirects DOMID's ring and channel to a shadow. */
static bool read_claim(uint32_t domid, struct claim *c)
{
    int saved = errno;
    const char *dir = claims_dir();
    bool claimed = dir && domid != 0 && claim_read(dir, domid, c) == 0 && c->page[0] &&
                   c->port && c->live != CLAIM_LIVE_BACK;
    errno = saved;
    return claimed;
}

/* Map DOMID's ring through its claim?  Not while xenstored's channel for
 * it is bound straight to the guest: a live switch moves both. */
static bool claimed_for_map(uint32_t domid, struct claim *c)
{
    if (!read_claim(domid, c))
        return false;
    track_lock_take();
    struct tracked *t = track_find(domid);
    bool direct_channel = t && t->evh && !t->bind_shadow;
    track_lock_give();
    return !direct_channel;
}

static void *map_claim_page(const struct claim *c)
{
    int fd = open(c->page, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    errno = e;
    return p == MAP_FAILED ? NULL : p;
}

/* xenstored has DOMID's ring at ADDR now. */
static void track_ring(uint32_t domid, void *addr, enum ring_kind kind, bool by_grant,
                       xengnttab_handle *gnt, unsigned long gfn)
{
    if (!addr || domid == 0 || !claims_dir())
        return;
    int saved = errno;
    track_lock_take();
    struct tracked *t = track_get(domid);
    if (t) {
        if (!t->addr)
            ring_follow_start(&t->follow, addr);
        t->addr = addr;
        t->kind = kind;
        t->by_grant = by_grant;
        t->gnt = gnt;
        t->gfn = gfn;
        map_id_of(addr, &t->id);
    }
    track_lock_give();
    errno = saved;
}

/* ---- libxenevtchn ------------------------------------------------------ */

/* Xen's ACTUAL port, new in H: the number xenstored gets. */
static uint32_t bound(xenevtchn_handle *h, uint32_t actual)
{
    struct evh_state *e = evh_get(h);
    return e ? port_bound(&e->ports, actual) : actual;
}

EXPORT xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *h, uint32_t domid,
                                                            evtchn_port_t remote_port)
{
    const struct real_xen *r = real_xen();
    if (!claims_dir() || domid == 0)
        return r->evtchn_bind_interdomain(h, domid, remote_port);
    struct claim c;
    bool claimed = read_claim(domid, &c);
    if (claimed) {
        /* a domain whose ring is the guest's own stays direct until a live
         * switch moves both */
        track_lock_take();
        struct tracked *t = track_find(domid);
        if (t && t->addr && t->kind != RING_SHADOW)
            claimed = false;
        track_lock_give();
    }
    int port = claimed ? r->evtchn_bind_interdomain(h, 0, c.port)   /* xsproxy's shadow */
                       : r->evtchn_bind_interdomain(h, domid, remote_port);
    if (port < 0)
        return port;
    int saved = errno;
    track_lock_take();
    uint32_t virt = bound(h, (uint32_t)port);
    struct tracked *t = track_get(domid);
    if (t) {
        t->evh = h;
        t->guest_port = remote_port;
        t->port = virt;
        t->bind_shadow = claimed;
        t->shadow_port = claimed ? c.port : 0;
    }
    track_lock_give();
    errno = saved;
    return (xenevtchn_port_or_error_t)virt;
}

EXPORT xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *h, uint32_t domid)
{
    int port = real_xen()->evtchn_bind_unbound_port(h, domid);
    if (port < 0 || !claims_dir())
        return port;
    track_lock_take();
    uint32_t virt = bound(h, (uint32_t)port);
    track_lock_give();
    return (xenevtchn_port_or_error_t)virt;
}

EXPORT xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *h, unsigned int virq)
{
    int port = real_xen()->evtchn_bind_virq(h, virq);
    if (port < 0 || !claims_dir())
        return port;
    int saved = errno;
    track_lock_take();
    uint32_t virt = bound(h, (uint32_t)port);
    struct evh_state *e = evh_get(h);
    if (e && virq == VIRQ_DOM_EXC) {
        e->virq_port = virt;
        wake_setup(e);
    }
    track_lock_give();
    errno = saved;
    return (xenevtchn_port_or_error_t)virt;
}

/* Forget T's binding if it is H's port VIRT (every one of H's, VIRT 0). */
struct unbound {
    xenevtchn_handle *h;
    uint32_t virt;
};

static void forget_binding(struct tracked *t, void *ctx)
{
    const struct unbound *u = ctx;
    if (t->evh == u->h && (u->virt == 0 || t->port == u->virt)) {
        t->evh = NULL;
        track_put(t);
    }
}

EXPORT int xenevtchn_unbind(xenevtchn_handle *h, evtchn_port_t port)
{
    uint32_t actual = port;
    if (claims_dir()) {
        track_lock_take();
        struct evh_state *e = evh_find(h);
        if (e) {
            actual = port_to_actual(&e->ports, port);
            port_forget(&e->ports, port);
        }
        struct unbound u = { h, port };
        track_each(forget_binding, &u);
        track_lock_give();
    }
    return real_xen()->evtchn_unbind(h, actual);
}

/* The track bound on H's VIRT follows its replies (xenstored notifies after
 * each write to a ring, while every byte of it is still there). */
struct notified {
    xenevtchn_handle *h;
    uint32_t virt;
};

static void follow_if_notified(struct tracked *t, void *ctx)
{
    const struct notified *n = ctx;
    if (t->evh == n->h && t->port == n->virt && t->addr) {
        const struct xenstore_domain_interface *r = t->addr;
        ring_follow_feed(&t->follow, r, __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE),
                         __atomic_load_n(&r->rsp_prod, __ATOMIC_ACQUIRE));
    }
}

EXPORT int xenevtchn_notify(xenevtchn_handle *h, evtchn_port_t port)
{
    const struct real_xen *r = real_xen();
    if (!track_any())
        return r->evtchn_notify(h, port);
    track_lock_take();
    struct evh_state *e = evh_find(h);
    uint32_t actual = e ? port_to_actual(&e->ports, port) : port;
    track_lock_give();
    int rc = r->evtchn_notify(h, actual);
    int saved = errno;
    track_lock_take();
    struct notified n = { h, port };
    track_each(follow_if_notified, &n);
    track_lock_give();
    errno = saved;
    return rc;
}

static void follow_ring(struct tracked *t, void *ctx)
{
    (void)ctx;
    if (!t->addr)
        return;
    const struct xenstore_domain_interface *r = t->addr;
    ring_follow_feed(&t->follow, r, __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE),
                     __atomic_load_n(&r->rsp_prod, __ATOMIC_ACQUIRE));
}

EXPORT xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *h)
{
    const struct real_xen *r = real_xen();
    if (!claims_dir())
        return r->evtchn_pending(h);
    /* before xenstored reads any ring: follow what the guests wrote */
    int saved = errno;
    track_lock_take();
    track_each(follow_ring, NULL);
    wake_publish_retry();
    track_lock_give();
    errno = saved;
    int port = r->evtchn_pending(h);   /* may wait: not under the lock */
    if (port < 0)
        return port;
    saved = errno;
    track_lock_take();
    struct evh_state *e = evh_find(h);
    uint32_t virt = e ? wake_take(e, (uint32_t)port) : (uint32_t)port;
    track_lock_give();
    errno = saved;
    return (xenevtchn_port_or_error_t)virt;
}

EXPORT int xenevtchn_unmask(xenevtchn_handle *h, evtchn_port_t port)
{
    uint32_t actual = port;
    if (track_any()) {
        track_lock_take();
        struct evh_state *e = evh_find(h);
        if (e)
            actual = port_to_actual(&e->ports, port);
        track_lock_give();
    }
    return real_xen()->evtchn_unmask(h, actual);
}

EXPORT int xenevtchn_close(xenevtchn_handle *h)
{
    if (claims_dir()) {
        track_lock_take();
        struct unbound u = { h, 0 };
        track_each(forget_binding, &u);
        evh_drop(h);
        track_lock_give();
    }
    return real_xen()->evtchn_close(h);
}

/* ---- libxengnttab ------------------------------------------------------ */

EXPORT void *xengnttab_map_grant_ref(xengnttab_handle *xh, uint32_t domid, uint32_t ref,
                                     int prot)
{
    struct claim c;
    if (ref == GNTTAB_RESERVED_XENSTORE && claimed_for_map(domid, &c)) {
        void *p = map_claim_page(&c);
        track_ring(domid, p, RING_SHADOW, true, NULL, 0);
        return p;
    }
    void *p = real_xen()->gnttab_map_grant_ref(xh, domid, ref, prot);
    if (ref == GNTTAB_RESERVED_XENSTORE)
        track_ring(domid, p, RING_GRANT, true, xh, 0);
    return p;
}

/* The ring at ADDR is gone: how it was mapped, for undoing it (RING_NONE:
 * not a tracked ring). */
static enum ring_kind untrack(void *addr, uint64_t *index)
{
    enum ring_kind kind = RING_NONE;
    track_lock_take();
    struct tracked *t = track_by_addr(addr);
    if (t) {
        kind = t->kind;
        *index = t->shim_index;
        t->addr = NULL;
        track_put(t);
    }
    track_lock_give();
    return kind;
}

EXPORT int xengnttab_unmap(xengnttab_handle *xh, void *start, uint32_t count)
{
    const struct real_xen *r = real_xen();
    if (count != 1 || !track_any())
        return r->gnttab_unmap(xh, start, count);
    uint64_t index = 0;
    switch (untrack(start, &index)) {
    case RING_SHADOW:
    case RING_SHIM_FOREIGN:
        return r->munmap(start, PAGE);
    case RING_SHIM_GRANT: {
        int rc = r->munmap(start, PAGE);
        switch_release_page(RING_SHIM_GRANT, index);
        return rc;
    }
    default:
        return r->gnttab_unmap(xh, start, count);
    }
}

/* ---- libxenctrl --------------------------------------------------------- */

EXPORT void *xc_map_foreign_range(xc_interface *xch, uint32_t dom, int size, int prot,
                                  unsigned long mfn)
{
    struct claim c;
    if (size == (int)PAGE && claimed_for_map(dom, &c)) {
        void *p = map_claim_page(&c);
        track_ring(dom, p, RING_SHADOW, false, NULL, mfn);
        return p;
    }
    void *p = real_xen()->xc_map_foreign_range(xch, dom, size, prot, mfn);
    if (size == (int)PAGE)
        track_ring(dom, p, RING_FOREIGN, false, NULL, mfn);
    return p;
}

/* ---- munmap -------------------------------------------------------------- */

struct unmapped {
    uintptr_t lo, hi;
};

static void forget_mapping(struct tracked *t, void *ctx)
{
    const struct unmapped *u = ctx;
    if (t->addr && (uintptr_t)t->addr >= u->lo && (uintptr_t)t->addr < u->hi) {
        if (t->kind == RING_SHIM_GRANT)
            switch_release_page(RING_SHIM_GRANT, t->shim_index);
        t->addr = NULL;
        track_put(t);
    }
}

/* oxenstored unmaps its foreign ring mappings with munmap itself.  The
 * shim's own calls (track_held) pass straight on. */
EXPORT int munmap(void *addr, size_t len)
{
    if (!track_held && track_any()) {
        track_lock_take();
        struct unmapped u = { (uintptr_t)addr, (uintptr_t)addr + (len ? len : 1) };
        track_each(forget_mapping, &u);
        track_lock_give();
    }
    return real_xen()->munmap(addr, len);
}
