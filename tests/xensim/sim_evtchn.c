/*
 * sim_evtchn.c - interdomain event channels with Xen's semantics.
 *
 * Ports live in each domain's port space in the shared table.  A handle
 * (one "open of /dev/xen/evtchn") owns the ports it bound and has a datagram
 * socket with an abstract name; that socket is the fd callers poll.  Raising
 * a port sets its pending flag and, if it was clear, sends the port number
 * to the owner: one sendto, no file look-up.  pending() clears the flag, so
 * a notify after that sends again; repeated notifies in between coalesce, as
 * Xen's pending bit does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>

#include "sim_internal.h"

socklen_t sim_handle_addr(const struct xssim *sim, uint64_t id, struct sockaddr_un *addr)
{
    static const char hex[] = "0123456789abcdef";
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    char *p = addr->sun_path;
    *p++ = '\0';
    memcpy(p, "xssim-", 6);
    p += 6;
    uint64_t v = sim->hdr->sim_id;
    for (int i = 60; i >= 0; i -= 4)
        *p++ = hex[(v >> i) & 15];
    *p++ = '-';
    for (int i = 60; i >= 0; i -= 4)
        *p++ = hex[(id >> i) & 15];
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)(p - addr->sun_path));
}

/* One unbound datagram socket per process for sending wake-ups. */
static int send_socket(void)
{
    static _Atomic int fd = -1;
    int cur = atomic_load(&fd);
    if (cur >= 0)
        return cur;
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return -1;
    int expected = -1;
    if (!atomic_compare_exchange_strong(&fd, &expected, s)) {
        close(s);
        return expected;
    }
    return s;
}

static void wake_owner(struct xssim *sim, uint64_t owner, uint32_t port)
{
    struct sim_handle *hd = &sim->hdr->handles[SIM_HANDLE_SLOT(owner)];
    /* Its queue overflowed and it has not rescanned yet: the rescan, which
     * clears the flag first, finds this port's pending flag (set before
     * this call).  Two sendtos that would fail are spared: with a hundred
     * busy domains they were most of the sim's cost. */
    if (atomic_load(&hd->overflow) && atomic_load(&hd->id) == owner)
        return;
    struct sockaddr_un addr;
    socklen_t alen = sim_handle_addr(sim, owner, &addr);
    int s = send_socket();
    if (s < 0)
        return;
    if (sendto(s, &port, sizeof(port), MSG_DONTWAIT, (struct sockaddr *)&addr, alen) < 0 &&
        (errno == EAGAIN || errno == ENOBUFS)) {
        /* The owner's queue is full, so it is awake anyway: tell it to
         * rescan its ports. */
        if (atomic_load(&hd->id) == owner) {
            atomic_store(&hd->overflow, 1);
            /* The owner may have drained its queue between the failed send
             * and the flag: kick it once more.  If that fails too, the queue
             * is still full, so the owner will call pending() and see the
             * flag. */
            uint32_t kick = 0;
            sendto(s, &kick, sizeof(kick), MSG_DONTWAIT, (struct sockaddr *)&addr, alen);
        }
    }
    /* ECONNREFUSED: the owner died; whoever adopts the port re-raises it. */
}

void sim_raise(struct xssim *sim, struct sim_domain *d, uint32_t port)
{
    struct sim_port *p = sim_port(sim, d, port);
    if (!p)
        return;
    if (atomic_exchange(&p->pending, 1) == 0 && !atomic_load(&p->masked)) {
        uint64_t owner = atomic_load(&p->owner);
        if (owner)
            wake_owner(sim, owner, port);
    }
}

void sim_raise_dom_exc(struct xssim *sim)
{
    struct sim_domain *d0 = sim_dom(sim, 0);
    if (!d0)
        return;
    for (uint32_t port = 1; port < d0->nr_ports; port++) {
        struct sim_port *p = sim_port(sim, d0, port);
        if (atomic_load(&p->state) == PORT_VIRQ && p->virq == VIRQ_DOM_EXC)
            sim_raise(sim, d0, port);
    }
}

/* Close one port (locked): an interdomain peer becomes unbound again, so
 * that it can be re-bound, as Xen's evtchn_close leaves it. */
static void close_port(struct xssim *sim, struct sim_domain *d, uint32_t port)
{
    struct sim_port *p = sim_port(sim, d, port);
    if (atomic_load(&p->state) == PORT_INTERDOMAIN) {
        struct sim_domain *rd = sim_dom(sim, p->remote_dom);
        struct sim_port *rp = sim_port(sim, rd, p->remote_port);
        if (rp && atomic_load(&rp->state) == PORT_INTERDOMAIN &&
            rp->remote_dom == d->domid && rp->remote_port == port) {
            /* A raise is two steps here (the flag, then the datagram), one
             * in Xen: a process killed between them (kill -9 of a notifying
             * xsproxy) leaves the peer's flag set and its owner never told,
             * and every later raise coalesces into that flag.  Tell the
             * owner now: a spare wake-up is harmless, pending() takes the
             * flag once. */
            uint64_t owner = atomic_load(&rp->owner);
            if (atomic_load(&rp->pending) && owner)
                wake_owner(sim, owner, p->remote_port);
            rp->remote_port = 0;
            atomic_store(&rp->state, PORT_UNBOUND);
        }
    }
    atomic_store(&p->state, PORT_FREE);
    atomic_store(&p->owner, 0);
    atomic_store(&p->pending, 0);
    atomic_store(&p->masked, 0);
    p->remote_dom = p->remote_port = p->virq = 0;
}

void sim_close_domain_ports(struct xssim *sim, struct sim_domain *d)
{
    for (uint32_t port = 1; port < d->nr_ports; port++)
        if (atomic_load(&sim_port(sim, d, port)->state) != PORT_FREE)
            close_port(sim, d, port);
}

/* What the kernel does when a process dies: its evtchn handles close, so
 * their ports close and interdomain peers become unbound (re-bindable by a
 * restarted daemon).  Run under the lock where a bind may depend on it. */
static void reap_dead_handles(struct xssim *sim)
{
    for (uint32_t slot = 0; slot < SIM_MAX_HANDLES; slot++) {
        struct sim_handle *hd = &sim->hdr->handles[slot];
        uint64_t id = atomic_load(&hd->id);
        if (!id || hd->pid <= 0 || sim_pid_alive(hd->pid))
            continue;
        struct sim_domain *d = sim_dom(sim, hd->domid);
        for (uint32_t port = 1; d && port < d->nr_ports; port++) {
            struct sim_port *p = sim_port(sim, d, port);
            if (atomic_load(&p->owner) != id)
                continue;
            if (hd->domid == 0)
                close_port(sim, d, port);
            else
                atomic_store(&p->owner, 0);   /* a guest's kernel keeps its
                                                 ports when a test process
                                                 speaking for it exits */
        }
        atomic_store(&hd->id, 0);
    }
}

/* A free port of D (locked).  The domain's high-water mark follows it, so
 * that an overflow rescan never looks past the ports in use. */
static int alloc_port(struct xssim *sim, struct sim_domain *d)
{
    for (uint32_t port = 1; port < d->nr_ports; port++)
        if (atomic_load(&sim_port(sim, d, port)->state) == PORT_FREE) {
            if (port > __atomic_load_n(&d->port_hwm, __ATOMIC_RELAXED))
                __atomic_store_n(&d->port_hwm, port, __ATOMIC_RELEASE);
            return (int)port;
        }
    errno = ENOSPC;
    return -1;
}

struct xssim_evtchn *xssim_evtchn_open(struct xssim *sim, uint32_t domid)
{
    struct xssim_evtchn *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->sim = sim;
    h->domid = domid;
    h->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (h->sock < 0)
        goto fail;
    sim_lock(sim);
    reap_dead_handles(sim);
    uint32_t slot = 0;
    for (; slot < SIM_MAX_HANDLES; slot++)
        if (atomic_load(&sim->hdr->handles[slot].id) == 0)
            break;
    if (slot == SIM_MAX_HANDLES) {
        sim_unlock(sim);
        errno = EMFILE;
        goto fail;
    }
    uint64_t gen = atomic_fetch_add(&sim->hdr->next_handle, 1);
    h->id = (gen << 12) | slot;
    struct sim_handle *hd = &sim->hdr->handles[slot];
    atomic_store(&hd->overflow, 0);
    hd->domid = domid;
    hd->pid = getpid();
    atomic_store(&hd->id, h->id);
    sim_unlock(sim);
    struct sockaddr_un addr;
    socklen_t alen = sim_handle_addr(sim, h->id, &addr);
    if (bind(h->sock, (struct sockaddr *)&addr, alen) < 0) {
        atomic_store(&hd->id, 0);
        goto fail;
    }
    return h;
fail:;
    int e = errno;
    if (h->sock >= 0)
        close(h->sock);
    free(h);
    errno = e;
    return NULL;
}

/* Close every port H owns.  Locked. */
static void close_owned(struct xssim_evtchn *h)
{
    struct xssim *sim = h->sim;
    struct sim_domain *d = sim_dom(sim, h->domid);
    if (d)
        for (uint32_t port = 1; port < d->nr_ports; port++)
            if (atomic_load(&sim_port(sim, d, port)->owner) == h->id)
                close_port(sim, d, port);
}

int xssim_evtchn_reset(struct xssim_evtchn *h)
{
    sim_lock(h->sim);
    close_owned(h);
    sim_unlock(h->sim);
    return 0;
}

void xssim_evtchn_close(struct xssim_evtchn *h)
{
    if (!h)
        return;
    struct xssim *sim = h->sim;
    sim_lock(sim);
    close_owned(h);
    atomic_store(&sim->hdr->handles[SIM_HANDLE_SLOT(h->id)].id, 0);
    sim_unlock(sim);
    close(h->sock);
    free(h->backlog);
    free(h);
}

int xssim_evtchn_fd(struct xssim_evtchn *h)
{
    return h->sock;
}

/* An unbound port in DOM for REMOTE, owned by OWNER (0: nobody yet). */
static int alloc_unbound(struct xssim *sim, uint32_t dom, uint32_t remote, uint64_t owner)
{
    sim_lock(sim);
    int port = -1;
    struct sim_domain *d = sim_dom(sim, dom);
    if (!d || !sim_dom(sim, remote)) {
        errno = ESRCH;
        goto out;
    }
    port = alloc_port(sim, d);
    if (port < 0)
        goto out;
    struct sim_port *p = sim_port(sim, d, (uint32_t)port);
    p->remote_dom = remote;
    p->remote_port = 0;
    atomic_store(&p->owner, owner);
    atomic_store(&p->state, PORT_UNBOUND);
out:
    sim_unlock(sim);
    return port;
}

int xssim_evtchn_bind_unbound(struct xssim_evtchn *h, uint32_t remote_dom)
{
    return alloc_unbound(h->sim, h->domid, remote_dom, h->id);
}

int xssim_evtchn_alloc_unbound(struct xssim *sim, uint32_t dom, uint32_t remote)
{
    return alloc_unbound(sim, dom, remote, 0);
}

int xssim_evtchn_bind_interdomain(struct xssim_evtchn *h, uint32_t remote_dom,
                                  uint32_t remote_port)
{
    struct xssim *sim = h->sim;
    sim_lock(sim);
    int port = -1;
    struct sim_domain *d = sim_dom(sim, h->domid);
    struct sim_domain *rd = sim_dom(sim, remote_dom);
    if (!d || !rd) {
        errno = ESRCH;
        goto out;
    }
    struct sim_port *rp = sim_port(sim, rd, remote_port);
    if (rp && atomic_load(&rp->state) == PORT_INTERDOMAIN)
        reap_dead_handles(sim);   /* its peer may have died */
    if (!rp || atomic_load(&rp->state) != PORT_UNBOUND || rp->remote_dom != h->domid) {
        errno = EINVAL;
        goto out;
    }
    port = alloc_port(sim, d);
    if (port < 0)
        goto out;
    struct sim_port *p = sim_port(sim, d, (uint32_t)port);
    p->remote_dom = remote_dom;
    p->remote_port = remote_port;
    atomic_store(&p->pending, 0);
    atomic_store(&p->masked, 0);
    atomic_store(&p->owner, h->id);
    atomic_store(&p->state, PORT_INTERDOMAIN);
    rp->remote_dom = h->domid;
    rp->remote_port = (uint32_t)port;
    atomic_store(&rp->state, PORT_INTERDOMAIN);
    /* Xen marks the new local port pending: the remote end may have sent
     * before the bind. */
    sim_raise(sim, d, (uint32_t)port);
out:
    sim_unlock(sim);
    return port;
}

/* Move an existing local port of H to another peer, keeping its number
 * (what a live switch of a xenstore connection needs: xenstored keeps using
 * its port).  The old peer, if it still points back, becomes unbound for
 * H's domain again, as after an unbind; the new one must be unbound for
 * H's domain, as for a bind.  The local port's pending flag is left alone:
 * the caller raises it if it wants the owner to look.  Under the lock; the
 * notify path reads the peer without it, and sees either end whole: the new
 * peer's fields are written before its state turns INTERDOMAIN. */
int xssim_evtchn_status(struct xssim *sim, uint32_t dom, uint32_t port,
                        struct xssim_port_status *st)
{
    sim_lock(sim);
    int rc = -1;
    struct sim_domain *d = sim_dom(sim, dom);
    struct sim_port *p = d ? sim_port(sim, d, port) : NULL;
    if (!d) {
        errno = ESRCH;
    } else if (port == 0) {
        /* Xen reserves port 0 of every domain: valid, and closed */
        memset(st, 0, sizeof(*st));
        st->state = XSSIM_PORT_CLOSED;
        rc = 0;
    } else if (!p) {
        errno = EINVAL;
    } else {
        if (atomic_load(&p->state) == PORT_INTERDOMAIN)
            reap_dead_handles(sim);   /* a dead peer's end is closed */
        static const uint32_t map[] = { XSSIM_PORT_CLOSED, XSSIM_PORT_UNBOUND,
                                        XSSIM_PORT_INTERDOMAIN, XSSIM_PORT_VIRQ };
        uint32_t state = atomic_load(&p->state);
        st->state = state < 4 ? map[state] : XSSIM_PORT_CLOSED;
        st->remote_dom = p->remote_dom;
        st->remote_port = state == PORT_INTERDOMAIN ? p->remote_port : 0;
        st->virq = state == PORT_VIRQ ? p->virq : 0;
        rc = 0;
    }
    sim_unlock(sim);
    return rc;
}

int xssim_evtchn_bind_virq(struct xssim_evtchn *h, uint32_t virq)
{
    struct xssim *sim = h->sim;
    if (virq >= NR_VIRQS) {
        errno = EINVAL;
        return -1;
    }
    sim_lock(sim);
    int port = -1;
    struct sim_domain *d = sim_dom(sim, h->domid);
    if (!d) {
        errno = ESRCH;
        goto out;
    }
    port = alloc_port(sim, d);
    if (port < 0)
        goto out;
    struct sim_port *p = sim_port(sim, d, (uint32_t)port);
    p->virq = virq;
    atomic_store(&p->owner, h->id);
    atomic_store(&p->state, PORT_VIRQ);
out:
    sim_unlock(sim);
    return port;
}

int xssim_evtchn_adopt(struct xssim_evtchn *h, uint32_t port)
{
    struct xssim *sim = h->sim;
    sim_lock(sim);
    int rc = -1;
    struct sim_domain *d = sim_dom(sim, h->domid);
    struct sim_port *p = sim_port(sim, d, port);
    if (!d) {
        errno = ESRCH;
    } else if (!p || atomic_load(&p->state) == PORT_FREE) {
        errno = EINVAL;
    } else {
        atomic_store(&p->owner, h->id);
        /* a wake-up may have gone to the previous owner (which may also
         * have left it masked): raise again */
        atomic_store(&p->masked, 0);
        atomic_store(&p->pending, 0);
        sim_raise(sim, d, port);
        rc = (int)port;
    }
    sim_unlock(sim);
    return rc;
}

/* The port, if this handle owns it; else NULL with errno as Linux's evtchn
 * driver gives (EINVAL out of range, ENOTCONN not bound here). */
static struct sim_port *owned_port(struct xssim_evtchn *h, uint32_t port,
                                   struct sim_domain **dp)
{
    struct sim_domain *d = sim_dom(h->sim, h->domid);
    struct sim_port *p = sim_port(h->sim, d, port);
    if (!p) {
        errno = EINVAL;
        return NULL;
    }
    if (atomic_load(&p->owner) != h->id || atomic_load(&p->state) == PORT_FREE) {
        errno = ENOTCONN;
        return NULL;
    }
    if (dp)
        *dp = d;
    return p;
}

int xssim_evtchn_unbind(struct xssim_evtchn *h, uint32_t port)
{
    sim_lock(h->sim);
    struct sim_domain *d;
    struct sim_port *p = owned_port(h, port, &d);
    if (p)
        close_port(h->sim, d, port);
    sim_unlock(h->sim);
    return p ? 0 : -1;
}

int xssim_evtchn_notify(struct xssim_evtchn *h, uint32_t port)
{
    struct sim_port *p = owned_port(h, port, NULL);
    if (!p)
        return -1;
    if (atomic_load(&p->state) != PORT_INTERDOMAIN)
        return 0;   /* nobody at the other end yet: Xen drops it too */
    uint32_t rdom = p->remote_dom, rport = p->remote_port;
    struct sim_domain *rd = sim_dom(h->sim, rdom);
    if (rd)
        sim_raise(h->sim, rd, rport);
    return 0;
}

static int backlog_push(struct xssim_evtchn *h, uint32_t port)
{
    if (h->backlog_len == h->backlog_cap) {
        unsigned cap = h->backlog_cap ? h->backlog_cap * 2 : 64;
        uint32_t *nb = realloc(h->backlog, cap * sizeof(*nb));
        if (!nb)
            return -1;
        h->backlog = nb;
        h->backlog_cap = cap;
    }
    h->backlog[h->backlog_len++] = port;
    return 0;
}

static void kick_self(struct xssim_evtchn *h)
{
    uint32_t zero = 0;
    struct sockaddr_un addr;
    socklen_t alen = sim_handle_addr(h->sim, h->id, &addr);
    int s = send_socket();
    if (s >= 0)
        sendto(s, &zero, sizeof(zero), MSG_DONTWAIT, (struct sockaddr *)&addr, alen);
}

/* The overflow fallback: put every port of D that H owns and finds pending
 * into the (empty) backlog, in port order, starting where the previous
 * rescan's ports were served up to and wrapping round, so that over
 * successive rescans every port comes first in its turn.  Only ports up to
 * the domain's high-water mark can be in use. */
static void rescan(struct xssim_evtchn *h, struct sim_domain *d)
{
    uint32_t top = __atomic_load_n(&d->port_hwm, __ATOMIC_ACQUIRE);
    if (top < d->store_port)
        top = d->store_port;
    if (top >= d->nr_ports)
        top = d->nr_ports - 1;
    if (top < 1)
        return;
    uint32_t start = h->scan_next >= 1 && h->scan_next <= top ? h->scan_next : 1;
    struct sim_port *base = sim_port(h->sim, d, 1) - 1;   /* base[port] */
    uint32_t port = start;
    do {
        struct sim_port *p = &base[port];
        if (atomic_load_explicit(&p->pending, memory_order_relaxed) &&
            !atomic_load_explicit(&p->masked, memory_order_relaxed) &&
            atomic_load_explicit(&p->owner, memory_order_relaxed) == h->id &&
            backlog_push(h, port) < 0) {
            /* out of memory: look again once the backlog is served */
            atomic_store(&h->sim->hdr->handles[SIM_HANDLE_SLOT(h->id)].overflow, 1);
            break;
        }
        port = port == top ? 1 : port + 1;
    } while (port != start);
}

/* The next port with an event for H.  Wake-ups come from the socket (one
 * datagram per port raised) or, after an overflow, from a rescan of the
 * domain's ports (the backlog, served first-in first-out before the socket
 * is read again).  A port is returned only if this call takes its pending
 * flag, so a wake-up whose event was already served by another route (the
 * rescan found it, then its datagram is read) is not a second event. */
int xssim_evtchn_pending(struct xssim_evtchn *h)
{
    struct sim_handle *hd = &h->sim->hdr->handles[SIM_HANDLE_SLOT(h->id)];
    struct sim_domain *d = sim_dom(h->sim, h->domid);
    if (!d) {
        errno = ESRCH;
        return -1;
    }
    bool consumed = false;   /* this call took something from the socket */
    int stale = -1;          /* a port whose wake-up was already served */
    for (;;) {
        if (h->backlog_head == h->backlog_len && atomic_exchange(&hd->overflow, 0)) {
            h->backlog_head = h->backlog_len = 0;
            rescan(h, d);
            /* Keep the fd readable until the backlog is served: while it
             * is not empty nothing is read from the socket, so one datagram
             * there is enough (if the queue is full, it is there already). */
            if (h->backlog_len)
                kick_self(h);
        }
        uint32_t port;
        if (h->backlog_head < h->backlog_len) {
            port = h->backlog[h->backlog_head++];
            h->scan_next = port + 1;
            if (h->backlog_head == h->backlog_len)
                h->backlog_head = h->backlog_len = 0;
        } else {
            ssize_t n = recv(h->sock, &port, sizeof(port), consumed ? MSG_DONTWAIT : 0);
            if (n < 0) {
                if (consumed && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                    /* The fd was readable, but only with wake-ups already
                     * served.  A caller on a non-blocking fd hears EAGAIN;
                     * one on a blocking fd (a daemon that polled first) must
                     * not block here while its other clients wait: it gets a
                     * spurious event, which Xen may give too. */
                    int fl = fcntl(h->sock, F_GETFL);
                    if (fl >= 0 && !(fl & O_NONBLOCK)) {
                        if (stale < 0 && h->last_port) {
                            struct sim_port *lp = sim_port(h->sim, d, h->last_port);
                            if (lp && atomic_load(&lp->owner) == h->id &&
                                atomic_load(&lp->state) != PORT_FREE)
                                stale = (int)h->last_port;
                        }
                        if (stale > 0)
                            return stale;
                        consumed = false;   /* nothing to give: wait, as before */
                        continue;
                    }
                    errno = EAGAIN;
                }
                return -1;
            }
            consumed = true;
            if (n != sizeof(port) || port == 0)
                continue;   /* a kick: look at the overflow flag again */
        }
        struct sim_port *p = sim_port(h->sim, d, port);
        if (!p || atomic_load(&p->owner) != h->id)
            continue;   /* closed, or moved to a handle that was woken */
        if (!atomic_exchange(&p->pending, 0)) {
            stale = (int)port;
            continue;
        }
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load(&p->owner) != h->id) {
            /* adopted by another handle between the two looks: its event
             * is the new owner's */
            sim_raise(h->sim, d, port);
            continue;
        }
        h->last_port = port;
        return (int)port;
    }
}

void xssim_evtchn_mask(struct xssim_evtchn *h, uint32_t port)
{
    struct sim_port *p = sim_port(h->sim, sim_dom(h->sim, h->domid), port);
    if (p && atomic_load(&p->owner) == h->id)
        atomic_store(&p->masked, 1);
}

int xssim_evtchn_unmask(struct xssim_evtchn *h, uint32_t port)
{
    /* A port unbound since it fired is ignored, as Linux's evtchn driver
     * does: daemons unmask what pending() returned, even if handling it
     * closed the port.  What was raised while it was masked is told now. */
    struct sim_port *p = sim_port(h->sim, sim_dom(h->sim, h->domid), port);
    if (!p) {
        errno = EINVAL;
        return -1;
    }
    if (atomic_exchange(&p->masked, 0) && atomic_load(&p->pending)) {
        uint64_t owner = atomic_load(&p->owner);
        if (owner)
            wake_owner(h->sim, owner, port);
    }
    return 0;
}
