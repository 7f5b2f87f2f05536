/*
 * real.c - the real Xen library calls, looked up once (see real.h).
 */
#define _GNU_SOURCE
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

static struct real_xen real;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* What a call of a library xenstored does not have gives: ENOSYS. */
#define NONE(name, ret, bad, ...)                                              \
    static ret none_##name(__VA_ARGS__)                                        \
    {                                                                          \
        errno = ENOSYS;                                                        \
        return bad;                                                            \
    }
#define U __attribute__((unused))
NONE(evtchn_bind_interdomain, int, -1, xenevtchn_handle *h U, uint32_t d U, evtchn_port_t p U)
NONE(evtchn_bind_unbound_port, int, -1, xenevtchn_handle *h U, uint32_t d U)
NONE(evtchn_bind_virq, int, -1, xenevtchn_handle *h U, unsigned int v U)
NONE(evtchn_unbind, int, -1, xenevtchn_handle *h U, evtchn_port_t p U)
NONE(evtchn_notify, int, -1, xenevtchn_handle *h U, evtchn_port_t p U)
NONE(evtchn_pending, int, -1, xenevtchn_handle *h U)
NONE(evtchn_unmask, int, -1, xenevtchn_handle *h U, evtchn_port_t p U)
NONE(evtchn_close, int, -1, xenevtchn_handle *h U)
NONE(gnttab_map_grant_ref, void *, NULL, xengnttab_handle *h U, uint32_t d U, uint32_t r U,
     int p U)
NONE(gnttab_unmap, int, -1, xengnttab_handle *h U, void *a U, uint32_t c U)
NONE(xc_map_foreign_range, void *, NULL, xc_interface *x U, uint32_t d U, int s U, int p U,
     unsigned long m U)
NONE(munmap, int, -1, void *a U, size_t l U)

#define LOOK_UP(field, name)                                                    \
    do {                                                                        \
        void *f_ = dlsym(RTLD_NEXT, name);                                      \
        real.field = f_ ? (__typeof__(real.field))f_ : none_##field;            \
    } while (0)

static void look_up(void)
{
    LOOK_UP(evtchn_bind_interdomain, "xenevtchn_bind_interdomain");
    LOOK_UP(evtchn_bind_unbound_port, "xenevtchn_bind_unbound_port");
    LOOK_UP(evtchn_bind_virq, "xenevtchn_bind_virq");
    LOOK_UP(evtchn_unbind, "xenevtchn_unbind");
    LOOK_UP(evtchn_notify, "xenevtchn_notify");
    LOOK_UP(evtchn_pending, "xenevtchn_pending");
    LOOK_UP(evtchn_unmask, "xenevtchn_unmask");
    LOOK_UP(evtchn_close, "xenevtchn_close");
    LOOK_UP(gnttab_map_grant_ref, "xengnttab_map_grant_ref");
    LOOK_UP(gnttab_unmap, "xengnttab_unmap");
    LOOK_UP(xc_map_foreign_range, "xc_map_foreign_range");
    LOOK_UP(munmap, "munmap");
}

const struct real_xen *real_xen(void)
{
    pthread_once(&once, look_up);
    return &real;
}
