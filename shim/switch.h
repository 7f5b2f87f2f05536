/*
 * switch.h - live switching inside xenstored: the shim's wake-up channel,
 * and moving a domain between the guest's ring and xsproxy's shadow ring
 * while xenstored is inside one of the shim's calls (switch.c).
 */
#ifndef XSSHIM_SWITCH_H
#define XSSHIM_SWITCH_H

#include <stdint.h>

#include "track.h"

/* xenstored bound its VIRQ_DOM_EXC in E's handle: bind the shim's wake-up
 * port there too (a port for dom0, which xsproxy binds to) and publish it.
 * Locked. */
void wake_setup(struct evh_state *e);
/* Publish the wake-up port if it is not yet (the claims directory may
 * appear after xenstored started); at most once a second.  Locked. */
void wake_publish_retry(void);
/* Xen's ACTUAL port was pending on E's handle.  The shim's own wake-up: the
 * claims that ask for a switch are acted on, xsproxy is told the answers
 * are there, and xenstored is handed a port of its own instead - the
 * domain just switched (it looks at that ring once), or its VIRQ_DOM_EXC
 * (it finds nobody dead).  Anything else: xenstored's number for it.
 * Locked. */
uint32_t wake_take(struct evh_state *e, uint32_t actual);

/* A page the shim mapped itself (RING_SHIM_GRANT at gntdev offset INDEX)
 * is unmapped or mapped over: let go of its grant. */
void switch_release_page(enum ring_kind kind, uint64_t index);

#endif
