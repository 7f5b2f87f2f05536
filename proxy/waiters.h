/*
 * waiters.h - dom0 requests that wait for a domain to reach a state (waiters.c).
 */
#ifndef XSPROXY_WAITERS_H
#define XSPROXY_WAITERS_H

#include "proxy.h"

/* Answer the waiters whose domain has reached what they wait for (D NULL:
 * all domains; a waiter whose domain is gone gets ENOENT). */
void waiters_check(struct proxy *px);
void waiter_add(struct proxy *px, struct client *c, void *req, const struct xsd_sockmsg *hdr,
                const struct wait_for *what);
void waiters_drop_client(struct proxy *px, struct client *c);

#endif
