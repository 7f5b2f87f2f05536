/*
 * preload_xen.c - the Xen library calls of libxsshim.so.
 *
 * With XSSIM_DIR set these are answered by the sim; without it they go on to
 * the real libxenevtchn / libxengnttab / libxenctrl (looked up with
 * dlsym(RTLD_NEXT)), so the same library can sit in a process on real Xen.
 * The calls cover what C xenstored and oxenstored 4.17 import, plus the few a
 * toolstack uses on a domain's xenstore connection.  Claimed domains (see
 * below) are redirected to xsproxy's shadow ring in either mode.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#include "sim_internal.h"

#define REAL(name) ((__typeof__(&name))real_sym(#name))

static void *real_sym(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f)
        errno = ENOSYS;
    return f;
}

/* ---- claims: domains xsproxy stands in front of ----------------------
 *
 * xsproxy writes $XSSHIM_CLAIMS/<domid> ("page=<file>\nport=<n>\n") before
 * it passes a domain's INTRODUCE on.  Mapping that domain's ring then maps
 * the shadow page, and binding its event channel binds the shadow port (an
 * unbound dom0 port of xsproxy's).  A file look-up per map or bind, never
 * per notify.
 */
struct claim {
    char page[PATH_MAX];
    uint32_t port;
};

static bool read_claim(uint32_t domid, struct claim *c)
{
    const char *dir = getenv("XSSHIM_CLAIMS");
    if (!dir || !*dir)
        return false;
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%u", dir, domid) >= (int)sizeof(path))
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[PATH_MAX + 64];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    c->page[0] = '\0';
    c->port = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "page=", 5) == 0 && strlen(line + 5) < sizeof(c->page))
            strcpy(c->page, line + 5);
        else if (strncmp(line, "port=", 5) == 0)
            c->port = (uint32_t)strtoul(line + 5, NULL, 10);
    }
    return c->page[0] && c->port;
}

/* Pages mapped through a claim, so that unmapping them is a munmap. */
static void *claimed_pages[256];
static pthread_mutex_t claimed_lock = PTHREAD_MUTEX_INITIALIZER;

static void *map_claimed_page(const struct claim *c)
{
    int fd = open(c->page, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    void *p = mmap(NULL, XSSIM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    pthread_mutex_lock(&claimed_lock);
    for (size_t i = 0; i < sizeof(claimed_pages) / sizeof(claimed_pages[0]); i++)
        if (!claimed_pages[i]) {
            claimed_pages[i] = p;
            break;
        }
    pthread_mutex_unlock(&claimed_lock);
    return p;
}

static bool unmap_claimed_page(void *p)
{
    bool found = false;
    pthread_mutex_lock(&claimed_lock);
    for (size_t i = 0; i < sizeof(claimed_pages) / sizeof(claimed_pages[0]); i++)
        if (claimed_pages[i] == p) {
            claimed_pages[i] = NULL;
            found = true;
        }
    pthread_mutex_unlock(&claimed_lock);
    if (found)
        munmap(p, XSSIM_PAGE_SIZE);
    return found;
}

static struct xssim *sim_mode(void)
{
    const char *dir = getenv("XSSIM_DIR");
    return dir && *dir ? xssim_default() : NULL;
}

/* ---- libxenevtchn ---------------------------------------------------- */

struct xenevtchn_handle {
    struct xssim_evtchn *sim;
    xenevtchn_handle *real;
};

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    struct xenevtchn_handle *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    struct xssim *sim = sim_mode();
    if (sim) {
        x->sim = xssim_evtchn_open(sim, 0);
    } else if (getenv("XSSIM_DIR") && *getenv("XSSIM_DIR")) {
        /* XSSIM_DIR names no sim: fail rather than touch real Xen */
    } else if (REAL(xenevtchn_open)) {
        x->real = REAL(xenevtchn_open)(logger, open_flags);
    }
    if (!x->sim && !x->real) {
        int e = errno;
        free(x);
        errno = e;
        return NULL;
    }
    return x;
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd,
                                   unsigned open_flags)
{
    if (sim_mode() || !REAL(xenevtchn_fdopen)) {
        errno = ENOSYS;   /* only live update uses it; the sim has none */
        return NULL;
    }
    struct xenevtchn_handle *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->real = REAL(xenevtchn_fdopen)(logger, fd, open_flags);
    if (!x->real) {
        free(x);
        return NULL;
    }
    return x;
}

int xenevtchn_close(xenevtchn_handle *x)
{
    if (!x)
        return 0;
    int rc = 0;
    if (x->sim)
        xssim_evtchn_close(x->sim);
    else
        rc = REAL(xenevtchn_close)(x->real);
    free(x);
    return rc;
}

int xenevtchn_fd(xenevtchn_handle *x)
{
    return x->sim ? xssim_evtchn_fd(x->sim) : REAL(xenevtchn_fd)(x->real);
}

int xenevtchn_notify(xenevtchn_handle *x, evtchn_port_t port)
{
    return x->sim ? xssim_evtchn_notify(x->sim, port) : REAL(xenevtchn_notify)(x->real, port);
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *x, uint32_t domid)
{
    return x->sim ? xssim_evtchn_bind_unbound(x->sim, domid)
                  : REAL(xenevtchn_bind_unbound_port)(x->real, domid);
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *x, uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    struct claim c;
    if (read_claim(domid, &c)) {
        domid = 0;   /* xsproxy's shadow channel: a dom0 loopback port */
        remote_port = c.port;
    }
    return x->sim ? xssim_evtchn_bind_interdomain(x->sim, domid, remote_port)
                  : REAL(xenevtchn_bind_interdomain)(x->real, domid, remote_port);
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *x, unsigned int virq)
{
    return x->sim ? xssim_evtchn_bind_virq(x->sim, virq)
                  : REAL(xenevtchn_bind_virq)(x->real, virq);
}

int xenevtchn_unbind(xenevtchn_handle *x, evtchn_port_t port)
{
    return x->sim ? xssim_evtchn_unbind(x->sim, port) : REAL(xenevtchn_unbind)(x->real, port);
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *x)
{
    return x->sim ? xssim_evtchn_pending(x->sim) : REAL(xenevtchn_pending)(x->real);
}

int xenevtchn_unmask(xenevtchn_handle *x, evtchn_port_t port)
{
    return x->sim ? xssim_evtchn_unmask(x->sim, port) : REAL(xenevtchn_unmask)(x->real, port);
}

int xenevtchn_restrict(xenevtchn_handle *x, domid_t domid)
{
    if (x->sim) {
        errno = ENOSYS;
        return -1;
    }
    return REAL(xenevtchn_restrict)(x->real, domid);
}

/* ---- libxengnttab ---------------------------------------------------- */

struct xengntdev_handle {
    struct xssim *sim;
    xengnttab_handle *real;
};

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    struct xengntdev_handle *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->sim = sim_mode();
    if (!x->sim && !(getenv("XSSIM_DIR") && *getenv("XSSIM_DIR")) && REAL(xengnttab_open))
        x->real = REAL(xengnttab_open)(logger, open_flags);
    if (!x->sim && !x->real) {
        free(x);
        return NULL;
    }
    return (xengnttab_handle *)x;
}

int xengnttab_close(xengnttab_handle *xh)
{
    struct xengntdev_handle *x = (struct xengntdev_handle *)xh;
    if (!x)
        return 0;
    int rc = x->real ? REAL(xengnttab_close)(x->real) : 0;
    free(x);
    return rc;
}

int xengnttab_set_max_grants(xengnttab_handle *xh, uint32_t nr)
{
    struct xengntdev_handle *x = (struct xengntdev_handle *)xh;
    return x->real ? REAL(xengnttab_set_max_grants)(x->real, nr) : 0;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xh, uint32_t domid, uint32_t ref, int prot)
{
    struct xengntdev_handle *x = (struct xengntdev_handle *)xh;
    struct claim c;
    if (ref == 1 && read_claim(domid, &c))
        return map_claimed_page(&c);
    if (x->real)
        return REAL(xengnttab_map_grant_ref)(x->real, domid, ref, prot);
    (void)prot;
    if (ref != 1) {   /* the sim grants only the xenstore page */
        errno = EINVAL;
        return NULL;
    }
    return xssim_map_ring(x->sim, domid);
}

int xengnttab_unmap(xengnttab_handle *xh, void *start, uint32_t count)
{
    struct xengntdev_handle *x = (struct xengntdev_handle *)xh;
    if (count == 1 && unmap_claimed_page(start))
        return 0;
    if (x->real)
        return REAL(xengnttab_unmap)(x->real, start, count);
    return munmap(start, (size_t)count * XSSIM_PAGE_SIZE);
}

/* ---- libxenctrl ------------------------------------------------------ */

struct xc_sim_interface {
    struct xssim *sim;
    xc_interface *real;
};

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    struct xc_sim_interface *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->sim = sim_mode();
    if (!x->sim && !(getenv("XSSIM_DIR") && *getenv("XSSIM_DIR")) && REAL(xc_interface_open))
        x->real = REAL(xc_interface_open)(logger, dombuild_logger, open_flags);
    if (!x->sim && !x->real) {
        free(x);
        return NULL;
    }
    return (xc_interface *)x;
}

int xc_interface_close(xc_interface *xh)
{
    struct xc_sim_interface *x = (struct xc_sim_interface *)xh;
    if (!x)
        return 0;
    int rc = x->real ? REAL(xc_interface_close)(x->real) : 0;
    free(x);
    return rc;
}

int xc_domain_getinfo(xc_interface *xh, uint32_t first, unsigned int max, xc_dominfo_t *info)
{
    struct xc_sim_interface *x = (struct xc_sim_interface *)xh;
    if (x->real)
        return REAL(xc_domain_getinfo)(x->real, first, max, info);
    struct xssim_dominfo buf[64];
    unsigned done = 0;
    while (done < max) {
        unsigned want = max - done < 64 ? max - done : 64;
        int n = xssim_domain_list(x->sim, first, want, buf);
        for (int i = 0; i < n; i++) {
            xc_dominfo_t *o = &info[done + (unsigned)i];
            memset(o, 0, sizeof(*o));
            o->domid = buf[i].domid;
            o->dying = buf[i].state == XSSIM_DYING;
            o->shutdown = buf[i].state == XSSIM_SHUTDOWN;
            o->crashed = o->shutdown && buf[i].shutdown_reason == SHUTDOWN_crash;
            o->shutdown_reason = buf[i].shutdown_reason;
            o->running = buf[i].state == XSSIM_RUNNING;
            o->nr_online_vcpus = 1;
            o->max_vcpu_id = 0;
            o->xenstore = 0;
        }
        done += (unsigned)n;
        if ((unsigned)n < want)
            break;
        first = buf[n - 1].domid + 1;
    }
    return (int)done;
}

int xc_domain_getinfolist(xc_interface *xh, uint32_t first, unsigned int max, xc_domaininfo_t *info)
{
    struct xc_sim_interface *x = (struct xc_sim_interface *)xh;
    if (x->real)
        return REAL(xc_domain_getinfolist)(x->real, first, max, info);
    struct xssim_dominfo buf[64];
    unsigned done = 0;
    while (done < max) {
        unsigned want = max - done < 64 ? max - done : 64;
        int n = xssim_domain_list(x->sim, first, want, buf);
        for (int i = 0; i < n; i++) {
            xc_domaininfo_t *o = &info[done + (unsigned)i];
            memset(o, 0, sizeof(*o));
            o->domain = (domid_t)buf[i].domid;
            if (buf[i].state == XSSIM_DYING)
                o->flags |= XEN_DOMINF_dying;
            if (buf[i].state == XSSIM_SHUTDOWN)
                o->flags |= XEN_DOMINF_shutdown |
                            (buf[i].shutdown_reason << XEN_DOMINF_shutdownshift);
            if (buf[i].state == XSSIM_RUNNING)
                o->flags |= XEN_DOMINF_running;
            o->nr_online_vcpus = 1;
        }
        done += (unsigned)n;
        if ((unsigned)n < want)
            break;
        first = buf[n - 1].domid + 1;
    }
    return (int)done;
}

void *xc_map_foreign_range(xc_interface *xh, uint32_t dom, int size, int prot, unsigned long mfn)
{
    struct xc_sim_interface *x = (struct xc_sim_interface *)xh;
    struct claim c;
    if (read_claim(dom, &c))
        return map_claimed_page(&c);
    if (x->real)
        return REAL(xc_map_foreign_range)(x->real, dom, size, prot, mfn);
    struct xssim_dominfo di;
    if (xssim_domain_info(x->sim, dom, &di) < 0)
        return NULL;   /* ESRCH */
    if (mfn != di.ring_gfn || size <= 0 || (unsigned)size > XSSIM_PAGE_SIZE) {
        errno = EINVAL;   /* the sim's guests have one mappable page */
        return NULL;
    }
    return xssim_map_ring(x->sim, dom);
}

xc_evtchn_port_or_error_t xc_evtchn_alloc_unbound(xc_interface *xh, uint32_t dom, uint32_t remote)
{
    struct xc_sim_interface *x = (struct xc_sim_interface *)xh;
    if (x->real)
        return REAL(xc_evtchn_alloc_unbound)(x->real, dom, remote);
    return xssim_evtchn_alloc_unbound(x->sim, dom, remote);
}
