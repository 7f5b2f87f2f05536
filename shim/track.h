/*
 * track.h - what the shim knows of the domains xenstored serves: for each,
 * the ring page xenstored has mapped (and how: its own grant or foreign
 * mapping, a claim's shadow page, or the guest's page mapped back by the
 * shim), xenstored's event-channel binding for it, and both streams of the
 * ring followed message by message (ring_follow.h).  Per event-channel
 * handle: xenstored's port numbers in front of Xen's (ports.h), its
 * VIRQ_DOM_EXC port, and the shim's wake-up port.  Only with
 * $XSSHIM_CLAIMS set (an xsproxy on the host); one lock for all of it.
 */
#ifndef XSSHIM_TRACK_H
#define XSSHIM_TRACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#include "ports.h"
#include "ring_follow.h"

enum ring_kind {
    RING_NONE,
    RING_GRANT,         /* xenstored's own grant mapping (through `gnt`) */
    RING_FOREIGN,       /* xenstored's own foreign mapping of `gfn` */
    RING_SHADOW,        /* a claim's shadow page */
    RING_SHIM_GRANT,    /* the guest's page mapped back by the shim's gntdev */
    RING_SHIM_FOREIGN,  /* the guest's page mapped back by the shim's privcmd */
};

/* Which file, at which offset, a page is a mapping of (/proc/self/maps). */
struct map_id {
    dev_t dev;
    ino_t ino;
    unsigned long off;
};

struct tracked {
    uint32_t domid;
    /* the ring page xenstored reads */
    void *addr;                 /* NULL: none mapped */
    enum ring_kind kind;
    xengnttab_handle *gnt;      /* RING_GRANT */
    bool by_grant;              /* xenstored maps the guest's page by its grant
                                   (libxengnttab), not by its gfn */
    unsigned long gfn;          /* the gfn a foreign mapping was made of */
    uint64_t shim_index;        /* RING_SHIM_GRANT: the shim's gntdev offset */
    struct map_id id;           /* what is mapped at addr */
    /* xenstored's event channel for the domain */
    xenevtchn_handle *evh;      /* NULL: none bound */
    uint32_t guest_port;        /* the domain's store port */
    uint32_t port;              /* xenstored's number for its end */
    bool bind_shadow;           /* bound to xsproxy's shadow port instead */
    uint32_t shadow_port;
    struct ring_follow follow;
};

struct evh_state {
    xenevtchn_handle *h;
    struct port_map ports;
    uint32_t virq_port;         /* VIRQ_DOM_EXC, xenstored's number (0: none) */
    uint32_t wake_port;         /* the shim's wake-up port, Xen's (0: none) */
};

extern pthread_mutex_t track_lock;

/* Set while this thread holds track_lock: the shim's own calls into Xen's
 * libraries (which munmap) must not come back into the shim. */
extern _Thread_local bool track_held;
void track_lock_take(void);
void track_lock_give(void);

/* Is tracking on (a claims directory named)?  The directory, or NULL. */
const char *claims_dir(void);
/* Any tracked domain at all: the fast test of the hot paths. */
bool track_any(void);

/* Locked, all of these. */
struct tracked *track_find(uint32_t domid);
struct tracked *track_get(uint32_t domid);       /* made if new; NULL: no memory */
void track_put(struct tracked *t);               /* gone if nothing is left */
struct tracked *track_by_addr(void *addr);
void track_each(void (*fn)(struct tracked *t, void *ctx), void *ctx);
struct evh_state *evh_find(xenevtchn_handle *h);
struct evh_state *evh_get(xenevtchn_handle *h);
void evh_drop(xenevtchn_handle *h);

/* What is mapped at ADDR now.  false when nothing is. */
bool map_id_of(const void *addr, struct map_id *id);

#endif
