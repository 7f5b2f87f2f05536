/*
 * client.h - dom0's socket clients (client.c).
 */
#ifndef XSPROXY_CLIENT_H
#define XSPROXY_CLIENT_H

#include "proxy.h"

void client_accept(struct proxy *px, int listen_fd);
void client_close_all(struct proxy *px);
/* Give a deferred request its reply (takes REPLY). */
void client_complete(struct client *c, void *req, struct msg *reply);
/* dom0's share lets its clients be read again. */
void client_fair_resume(struct proxy *px);

#endif
