/*
 * hypercall.c - the hypercalls of the simulated Xen, as privcmd passes them
 * on: exactly what the 4.17 daemons, libxenctrl and the project's programs
 * make on a xenstore host.  Arguments are the caller's own memory (the
 * buffers libxencall allocated), read and written in place.  Interface
 * versions are checked as Xen checks them (-EACCES); what is not modelled
 * answers -ENOSYS, as an unknown hypercall does, and says so on stderr.
 *
 *   domctl   getdomaininfo (the first domain at or above the id asked for,
 *            as Xen 4.17 answers it)
 *   sysctl   getdomaininfolist
 *   event_channel_op   alloc_unbound, status
 */
#define __XEN_TOOLS__ 1
#include "dev.h"

#include <errno.h>
#include <string.h>
#include <stdint.h>
#include <xen/domctl.h>
#include <xen/event_channel.h>
#include <xen/sched.h>
#include <xen/sysctl.h>
#include <xen/xen.h>

/* What Xen's getdomaininfo fills for DI. */
static void domaininfo(const struct xssim_dominfo *di, struct xen_domctl_getdomaininfo *out)
{
    memset(out, 0, sizeof(*out));
    out->domain = (domid_t)di->domid;
    out->nr_online_vcpus = 1;
    out->max_vcpu_id = 0;
    out->flags = XEN_DOMINF_running;
    if (di->state == XSSIM_DYING)
        out->flags |= XEN_DOMINF_dying;
    if (di->state == XSSIM_SHUTDOWN)
        out->flags = XEN_DOMINF_shutdown | (di->shutdown_reason << XEN_DOMINF_shutdownshift);
    out->tot_pages = out->max_pages = 1;
}

static long domctl(struct xssim *sim, struct xen_domctl *op, enum xssim_call *call)
{
    *call = XSSIM_PRIVCMD_DOMCTL;
    if (op->interface_version != XEN_DOMCTL_INTERFACE_VERSION)
        return -EACCES;
    if (op->cmd != XEN_DOMCTL_getdomaininfo) {
        *call = XSSIM_UNSUPPORTED;
        dev_unsupported("domctl", op->cmd);
        return -ENOSYS;
    }
    if (op->domain >= DOMID_FIRST_RESERVED)
        return -EINVAL;
    struct xssim_dominfo di;
    if (xssim_domain_list(sim, op->domain, 1, &di) != 1)
        return -ESRCH;
    domaininfo(&di, &op->u.getdomaininfo);
    op->domain = (domid_t)di.domid;
    return 0;
}

static long sysctl(struct xssim *sim, struct xen_sysctl *op, enum xssim_call *call)
{
    *call = XSSIM_PRIVCMD_SYSCTL;
    if (op->interface_version != XEN_SYSCTL_INTERFACE_VERSION)
        return -EACCES;
    if (op->cmd != XEN_SYSCTL_getdomaininfolist) {
        *call = XSSIM_UNSUPPORTED;
        dev_unsupported("sysctl", op->cmd);
        return -ENOSYS;
    }
    struct xen_sysctl_getdomaininfolist *l = &op->u.getdomaininfolist;
    xen_domctl_getdomaininfo_t *buf = l->buffer.p;
    uint32_t first = l->first_domain, done = 0;
    struct xssim_dominfo di[64];
    while (done < l->max_domains) {
        unsigned want = l->max_domains - done < 64 ? l->max_domains - done : 64;
        int n = xssim_domain_list(sim, first, want, di);
        for (int i = 0; i < n; i++)
            domaininfo(&di[i], &buf[done + (unsigned)i]);
        done += (unsigned)n;
        if ((unsigned)n < want)
            break;
        first = di[n - 1].domid + 1;
    }
    l->num_domains = done;
    return 0;
}

static long evtchn_op(struct xssim *sim, unsigned long cmd, void *arg, enum xssim_call *call)
{
    *call = XSSIM_PRIVCMD_EVTCHN_OP;
    switch (cmd) {
    case EVTCHNOP_alloc_unbound: {
        struct evtchn_alloc_unbound *a = arg;
        uint32_t dom = a->dom == DOMID_SELF ? 0 : a->dom;
        int port = xssim_evtchn_alloc_unbound(sim, dom, a->remote_dom);
        if (port < 0)
            return -errno;
        a->port = (evtchn_port_t)port;
        return 0;
    }
    case EVTCHNOP_status: {
        struct evtchn_status *st = arg;
        uint32_t dom = st->dom == DOMID_SELF ? 0 : st->dom;
        struct xssim_port_status ps;
        if (xssim_evtchn_status(sim, dom, st->port, &ps) < 0)
            return -errno;
        static const uint32_t map[] = { EVTCHNSTAT_closed, EVTCHNSTAT_unbound,
                                        EVTCHNSTAT_interdomain, EVTCHNSTAT_virq };
        st->status = map[ps.state];
        st->vcpu = 0;
        if (ps.state == XSSIM_PORT_INTERDOMAIN) {
            st->u.interdomain.dom = (domid_t)ps.remote_dom;
            st->u.interdomain.port = ps.remote_port;
        } else if (ps.state == XSSIM_PORT_UNBOUND) {
            st->u.unbound.dom = (domid_t)ps.remote_dom;
        } else if (ps.state == XSSIM_PORT_VIRQ) {
            st->u.virq = ps.virq;
        }
        return 0;
    }
    default:
        *call = XSSIM_UNSUPPORTED;
        dev_unsupported("event_channel_op", cmd);
        return -ENOSYS;
    }
}

long sim_hypercall(struct xssim *sim, unsigned long op, const unsigned long arg[5],
                   enum xssim_call *call)
{
    switch (op) {
    case __HYPERVISOR_domctl:
        return domctl(sim, (struct xen_domctl *)arg[0], call);
    case __HYPERVISOR_sysctl:
        return sysctl(sim, (struct xen_sysctl *)arg[0], call);
    case __HYPERVISOR_event_channel_op:
        return evtchn_op(sim, arg[0], (void *)arg[1], call);
    default:
        *call = XSSIM_UNSUPPORTED;
        dev_unsupported("hypercall", op);
        return -ENOSYS;
    }
}
