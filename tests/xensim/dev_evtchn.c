/*
 * dev_evtchn.c - /dev/xen/evtchn as Linux's evtchn driver offers it
 * (<xen/sys/evtchn.h>): the bind ioctls return the local port, read()
 * gives pending ports (four bytes each), write() unmasks them, and the
 * descriptor is one poll and epoll see readable when a port is pending (the
 * sim handle's socket, sim_evtchn.c).
 */
#define _GNU_SOURCE
#include "dev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <xen/xen.h>
#include <xen/sys/evtchn.h>

struct dev_file {
    struct xssim_evtchn *h;
    bool restricted;         /* IOCTL_EVTCHN_RESTRICT_DOMID: binds only to */
    uint32_t restrict_domid;
};

static struct dev_file *evtchn_open(struct xssim *sim, int flags, int *fd)
{
    struct dev_file *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->h = xssim_evtchn_open(sim, 0);
    if (!f->h) {
        int e = errno;
        free(f);
        errno = e;
        return NULL;
    }
    *fd = xssim_evtchn_fd(f->h);
    if (flags & O_NONBLOCK)
        fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
    if (!(flags & O_CLOEXEC))
        fcntl(*fd, F_SETFD, 0);
    return f;
}

static void evtchn_close(struct dev_file *f)
{
    xssim_evtchn_close(f->h);   /* closes the descriptor */
    free(f);
}

/* A bind to DOM is refused after a restriction to another domain. */
static bool allowed(const struct dev_file *f, uint32_t dom)
{
    if (f->restricted && dom != f->restrict_domid) {
        errno = EPERM;
        return false;
    }
    return true;
}

static long evtchn_ioctl(struct dev_file *f, unsigned long req, void *arg, enum xssim_call *call)
{
    switch (req) {
    case IOCTL_EVTCHN_BIND_VIRQ: {
        *call = XSSIM_EVTCHN_BIND_VIRQ;
        const struct ioctl_evtchn_bind_virq *b = arg;
        return xssim_evtchn_bind_virq(f->h, b->virq);
    }
    case IOCTL_EVTCHN_BIND_INTERDOMAIN: {
        *call = XSSIM_EVTCHN_BIND_INTERDOMAIN;
        const struct ioctl_evtchn_bind_interdomain *b = arg;
        return allowed(f, b->remote_domain)
                   ? xssim_evtchn_bind_interdomain(f->h, b->remote_domain, b->remote_port)
                   : -1;
    }
    case IOCTL_EVTCHN_BIND_UNBOUND_PORT: {
        *call = XSSIM_EVTCHN_BIND_UNBOUND;
        const struct ioctl_evtchn_bind_unbound_port *b = arg;
        return allowed(f, b->remote_domain) ? xssim_evtchn_bind_unbound(f->h, b->remote_domain)
                                            : -1;
    }
    case IOCTL_EVTCHN_UNBIND: {
        *call = XSSIM_EVTCHN_UNBIND;
        const struct ioctl_evtchn_unbind *u = arg;
        return xssim_evtchn_unbind(f->h, u->port);
    }
    case IOCTL_EVTCHN_NOTIFY: {
        *call = XSSIM_EVTCHN_NOTIFY;
        const struct ioctl_evtchn_notify *n = arg;
        return xssim_evtchn_notify(f->h, n->port);
    }
    case IOCTL_EVTCHN_RESET:
        *call = XSSIM_EVTCHN_RESET;
        return xssim_evtchn_reset(f->h);
    case IOCTL_EVTCHN_RESTRICT_DOMID: {
        *call = XSSIM_EVTCHN_RESTRICT;
        const struct ioctl_evtchn_restrict_domid *r = arg;
        if (f->restricted) {
            errno = EINVAL;   /* once only, as Linux's */
            return -1;
        }
        f->restricted = true;
        f->restrict_domid = r->domid;
        return 0;
    }
    default:
        dev_unsupported("evtchn ioctl", req);
        errno = ENOTTY;
        return -1;
    }
}

static ssize_t evtchn_read(struct dev_file *f, void *buf, size_t len)
{
    if (len < sizeof(uint32_t)) {
        errno = EINVAL;
        return -1;
    }
    int port = xssim_evtchn_pending(f->h);
    if (port < 0)
        return -1;
    xssim_evtchn_mask(f->h, (uint32_t)port);   /* until write() unmasks it */
    uint32_t p = (uint32_t)port;
    memcpy(buf, &p, sizeof(p));
    return sizeof(p);
}

static ssize_t evtchn_write(struct dev_file *f, const void *buf, size_t len)
{
    if (len % sizeof(uint32_t)) {
        errno = EINVAL;
        return -1;
    }
    for (size_t off = 0; off < len; off += sizeof(uint32_t)) {
        uint32_t p;
        memcpy(&p, (const char *)buf + off, sizeof(p));
        xssim_evtchn_unmask(f->h, p);   /* a port not bound here is ignored */
    }
    return (ssize_t)len;
}

const struct dev_ops dev_evtchn_ops = {
    .path = "/dev/xen/evtchn",
    .libs = LIB_EVTCHN,
    .open_call = XSSIM_EVTCHN_OPEN,
    .open = evtchn_open,
    .close = evtchn_close,
    .ioctl = evtchn_ioctl,
    .read = evtchn_read,
    .write = evtchn_write,
};
