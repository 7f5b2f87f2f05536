/*
 * xsd_conn.h - a connection of xsproxy's own to xenstored's socket, driven
 * by the event loop: requests are queued and written as the socket takes
 * them, replies are handed to a callback as they come.  Long operations
 * (save, restore) pipeline their requests on one of these, so that the
 * loop serves every other domain meanwhile; libxenstore's connection
 * (px->xs) would block it for each round trip.
 */
#ifndef XSPROXY_XSD_CONN_H
#define XSPROXY_XSD_CONN_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "msg.h"

struct xsd_conn;

/* A reply (REPLY->hdr.req_id names the request), or REPLY NULL when the
 * connection failed (ERR: an errno); after that nothing more comes.  The
 * owner may close the connection from here. */
typedef void xsd_reply_fn(void *ctx, const struct msg *reply, int err);

/* Connect to xenstored at PATH; never blocks (a full listen queue is tried
 * again on a timer, requests wait meanwhile).  NULL with errno set. */
struct xsd_conn *xsd_conn_open(struct ev_loop *loop, const char *path, xsd_reply_fn *fn,
                               void *ctx);
/* Queue a request; REQ_ID is the caller's tag for it, which xenstored
 * echoes.  The payload is PARTS, each NUL-ended, then RAW as it is.  0,
 * or -1 (E2BIG: over XENSTORE_PAYLOAD_MAX; EIO: C failed; nothing queued). */
int xsd_conn_send(struct xsd_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
                  const char *const *parts, unsigned nparts, const void *raw, uint32_t rawlen);
/* Requests sent and not answered yet. */
unsigned xsd_conn_in_flight(const struct xsd_conn *c);
void xsd_conn_close(struct xsd_conn *c);

/* A non-blocking connection to a Unix socket, or -1 with errno (EAGAIN:
 * the listen queue is full: busy, or stopped). */
int xsd_connect(const char *path);

#endif
