/*
 * real.h - Xen's own library calls, which libxsshim.so stands in front of
 * inside xenstored: looked up once (dlsym(RTLD_NEXT)), and called for
 * everything the shim does not redirect.
 */
#ifndef XSSHIM_REAL_H
#define XSSHIM_REAL_H

#include <stddef.h>
#include <stdint.h>
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

struct real_xen {
    xenevtchn_port_or_error_t (*evtchn_bind_interdomain)(xenevtchn_handle *, uint32_t,
                                                         evtchn_port_t);
    xenevtchn_port_or_error_t (*evtchn_bind_unbound_port)(xenevtchn_handle *, uint32_t);
    xenevtchn_port_or_error_t (*evtchn_bind_virq)(xenevtchn_handle *, unsigned int);
    int (*evtchn_unbind)(xenevtchn_handle *, evtchn_port_t);
    int (*evtchn_notify)(xenevtchn_handle *, evtchn_port_t);
    xenevtchn_port_or_error_t (*evtchn_pending)(xenevtchn_handle *);
    int (*evtchn_unmask)(xenevtchn_handle *, evtchn_port_t);
    int (*evtchn_close)(xenevtchn_handle *);
    void *(*gnttab_map_grant_ref)(xengnttab_handle *, uint32_t, uint32_t, int);
    int (*gnttab_unmap)(xengnttab_handle *, void *, uint32_t);
    void *(*xc_map_foreign_range)(xc_interface *, uint32_t, int, int, unsigned long);
    int (*munmap)(void *, size_t);
};

/* The real calls (a missing one answers ENOSYS). */
const struct real_xen *real_xen(void);

#endif
