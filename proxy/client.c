/*
 * client.c - dom0 clients on xsproxy's socket.
 *
 * Each client gets its own connection to xenstored; its messages pass
 * through parsed (and traced), except those control.c answers.  Replies go
 * back in request order: a reply xsproxy makes itself waits in the client's
 * queue behind the requests xenstored has not answered yet.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proxy.h"
#include "share.h"
#include "transfer.h"
#include "unix_sock.h"
#include "xsd_conn.h"

#define CLIENT_OUT_LIMIT (1u << 20)   /* stop reading xenstored beyond this */

enum req_kind {
    REQ_FORWARDED, REQ_LOCAL, REQ_HELP, REQ_INTRODUCE, REQ_REINTRODUCE, REQ_RELEASE,
    REQ_DEFERRED,   /* xsproxy answers later (QUIESCE, ADD_DOMAIN_WATCHES) */
};

struct client_req {
    struct client_req *next;
    enum req_kind kind;
    struct xsd_sockmsg hdr;   /* the request's, for an error reply */
    uint32_t domid;           /* REQ_INTRODUCE, REQ_RELEASE */
    struct msg *reply;        /* REQ_LOCAL: the reply, ready */
    bool made_here;           /* ... and xsproxy made it, not xenstored */
};

struct client {
    struct client *next;
    struct proxy *px;
    unsigned id;
    int fd, backend_fd;
    ev_io rd, wr, be_rd, be_wr;
    bool stateful;       /* sent WATCH or TRANSACTION_START: xenstored holds
                            state for this connection */
    bool close_when_flushed;   /* that state died with xenstored: like a
                                  direct connection, it ends (after its
                                  error replies) */
    ev_timer be_retry;   /* xenstored's listen queue was full: connect again */
    bool be_waiting;     /* ... until then requests wait in to_backend */
    struct msg in, bin;
    struct bytequeue to_client, to_backend;
    struct client_req *q_head, **q_tail;
    bool raw;   /* the client sent what xenstored must judge unparsed:
                   from then on bytes pass both ways untouched */
    struct transfer *link_for;   /* answered `transfer send|receive`: the
                                    connection is that transfer's now */
    struct fair_flow fair_flow;  /* its requests at xenstored (dom0's share) */
    bool fair_held;      /* not read until dom0's turn (share.h) */
};

static void client_free(struct client *c);

static void trace(struct client *c, const char *dir, const struct msg *m, uint8_t flags)
{
    if (c->px->capture)
        proxy_capture(c->px, CAPTURE_CONN, c->id,
                      dir[0] == '-' ? CAPTURE_TO_XENSTORED : CAPTURE_FROM_XENSTORED, flags, m,
                      m->hdr.tx_id, m->hdr.tx_id);
    if (c->px->socket_trace) {
        char who[24];
        snprintf(who, sizeof(who), "conn%u", c->id);
        trace_msg(c->px->socket_trace, who, dir, m, m->hdr.tx_id, m->hdr.tx_id);
    }
}

static void want_write(struct client *c)
{
    if (bq_pending(&c->to_client) && !ev_is_active(&c->wr))
        ev_io_start(c->px->loop, &c->wr);
    if (c->backend_fd >= 0 && bq_pending(&c->to_backend) && !ev_is_active(&c->be_wr))
        ev_io_start(c->px->loop, &c->be_wr);
}

static void send_to_client(struct client *c, const struct msg *m, uint8_t flags)
{
    trace(c, "<-", m, flags);
    bq_push(&c->to_client, m->bytes, msg_wire_len(m));
}

static struct client_req *enqueue(struct client *c, enum req_kind kind,
                                  const struct xsd_sockmsg *hdr)
{
    struct client_req *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->kind = kind;
    if (hdr)
        r->hdr = *hdr;
    *c->q_tail = r;
    c->q_tail = &r->next;
    return r;
}

static struct client_req *dequeue(struct client *c)
{
    struct client_req *r = c->q_head;
    if (r) {
        c->q_head = r->next;
        if (!c->q_head)
            c->q_tail = &c->q_head;
    }
    return r;
}

/* Emit the replies xsproxy made itself that are now at the queue's head. */
static void flush_local(struct client *c)
{
    while (c->q_head && c->q_head->kind == REQ_LOCAL) {
        struct client_req *r = dequeue(c);
        send_to_client(c, r->reply, r->made_here ? CAPTURE_FLAG_LOCAL : 0);
        free(r->reply);
        free(r);
    }
    want_write(c);
}

static void reply_local(struct client *c, struct msg *reply)
{
    struct client_req *r = enqueue(c, REQ_LOCAL, &reply->hdr);
    if (!r) {
        free(reply);
        return;
    }
    r->reply = reply;
    r->made_here = true;
    flush_local(c);
}

/* xenstored is not there: every request waiting on it gets EIO. */
static void backend_lost(struct client *c)
{
    if (c->raw) {
        /* xenstored judged what the client sent and closed: so do we */
        client_free(c);
        return;
    }
    if (c->backend_fd >= 0) {
        ev_io_stop(c->px->loop, &c->be_rd);
        ev_io_stop(c->px->loop, &c->be_wr);
        close(c->backend_fd);
        c->backend_fd = -1;
        xlog(LOG_LVL_WARN, "conn%u: xenstored closed the connection", c->id);
    }
    if (c->be_waiting) {
        ev_timer_stop(c->px->loop, &c->be_retry);
        c->be_waiting = false;
    }
    bq_consume(&c->to_backend, bq_pending(&c->to_backend));
    msg_reset(&c->bin);
    fair_flow_reset(&c->fair_flow);
    for (struct client_req *r = c->q_head; r; r = r->next) {
        if (r->kind == REQ_LOCAL || r->kind == REQ_DEFERRED)
            continue;
        if (r->kind == REQ_INTRODUCE) {
            struct domain *d = domain_find(c->px, r->domid);
            if (d)
                domain_remove(c->px, d);   /* never introduced */
        }
        r->kind = REQ_LOCAL;
        r->made_here = true;
        r->reply = calloc(1, sizeof(*r->reply));
        if (r->reply)
            msg_build_error(r->reply, &r->hdr, "EIO");
    }
    if (c->stateful) {
        /* its watches and transactions are gone with xenstored: a new
         * backend connection would lose them silently */
        xlog(LOG_LVL_INFO, "conn%u: its watches or transactions went with xenstored; closing",
             c->id);
        c->close_when_flushed = true;
        c->stateful = false;
    }
    flush_local(c);
    if (c->close_when_flushed && !bq_pending(&c->to_client) && !c->q_head)
        client_free(c);
}

static void backend_rd_cb(struct ev_loop *loop, ev_io *w, int revents);
static void backend_wr_cb(struct ev_loop *loop, ev_io *w, int revents);

static void backend_retry_cb(struct ev_loop *loop, ev_timer *w, int revents);

static bool ensure_backend(struct client *c)
{
    if (c->backend_fd >= 0 || c->be_waiting)
        return true;
    /* never blocks: EAGAIN when xenstored's listen queue is full (busy, or
     * stopped) - a blocking connect would stall every domain and client */
    c->backend_fd = xsd_connect(c->px->cfg.backend_path);
    if (c->backend_fd < 0) {
        if (errno != EAGAIN)
            return false;
        c->be_waiting = true;   /* xenstored is there, busy: try again soon */
        ev_timer_init(&c->be_retry, backend_retry_cb, 0.02, 0.02);
        c->be_retry.data = c;
        ev_timer_start(c->px->loop, &c->be_retry);
        return true;
    }
    ev_io_init(&c->be_rd, backend_rd_cb, c->backend_fd, EV_READ);
    ev_io_init(&c->be_wr, backend_wr_cb, c->backend_fd, EV_WRITE);
    c->be_rd.data = c->be_wr.data = c;
    ev_io_start(c->px->loop, &c->be_rd);
    return true;
}

static void backend_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct client *c = w->data;
    ev_timer_stop(loop, w);
    c->be_waiting = false;
    if (ensure_backend(c))
        want_write(c);   /* connected (or still waiting) */
    else
        backend_lost(c);   /* gone meanwhile: what waited gets EIO */
}

static void client_request(struct client *c, struct msg *m)
{
    trace(c, "->", m, 0);
    struct msg *reply = malloc(sizeof(*reply));
    if (!reply)
        return;
    struct wait_for wait = { .kind = WAIT_NONE };
    if (control_handle(c->px, m, reply, &wait)) {
        if (wait.kind == WAIT_LINK) {
            c->link_for = wait.transfer;
            reply_local(c, reply);
            return;
        }
        if (wait.kind == WAIT_NONE) {
            reply_local(c, reply);
            return;
        }
        free(reply);
        struct client_req *r = enqueue(c, REQ_DEFERRED, &m->hdr);
        if (r)
            waiter_add(c->px, c, r, &m->hdr, &wait);
        else if (wait.kind == WAIT_JOB)
            job_abandon(wait.job);   /* out of memory: nobody to answer */
        return;
    }
    if (m->hdr.type == XS_WATCH || m->hdr.type == XS_TRANSACTION_START)
        c->stateful = true;
    if (c->close_when_flushed || !ensure_backend(c)) {
        msg_build_error(reply, &m->hdr, "EIO");
        reply_local(c, reply);
        return;
    }
    enum req_kind kind = REQ_FORWARDED;
    uint32_t domid = 0;
    if (m->hdr.type == XS_CONTROL) {
        const char *parts[1];
        if (msg_split(msg_body(m), m->hdr.len, parts, 1) == 1 && strcmp(parts[0], "help") == 0)
            kind = REQ_HELP;
    } else if (m->hdr.type == XS_INTRODUCE || m->hdr.type == XS_RELEASE) {
        /* Passed on this client's own connection, so that its replies and
         * the @introduceDomain / @releaseDomain events it watches come in
         * xenstored's order.  INTRODUCE inserts the domain first (xenstored
         * must find the claim); its reply says whether that stands. */
        char err[256];
        int rc = control_introduce_release(c->px, m, &domid, err, sizeof(err));
        if (rc > 0) {
            xlog(LOG_LVL_WARN, "%s", err);
            msg_build_error(reply, &m->hdr, msg_errno_name(rc));
            reply_local(c, reply);
            return;
        }
        if (rc == 0)
            kind = m->hdr.type == XS_INTRODUCE ? REQ_INTRODUCE : REQ_RELEASE;
        else if (rc == -2)
            kind = REQ_REINTRODUCE;
    }
    free(reply);
    struct client_req *r = enqueue(c, kind, &m->hdr);
    if (!r)
        return;
    r->domid = domid;
    fair_sent(&c->px->fair, &c->fair_flow, m->hdr.type, m->hdr.len, share_now());
    bq_push(&c->to_backend, m->bytes, msg_wire_len(m));
    want_write(c);
}

static void backend_message(struct client *c, struct msg *m)
{
    if (m->hdr.type == XS_WATCH_EVENT) {
        send_to_client(c, m, 0);
        want_write(c);
        return;
    }
    /* the oldest request xenstored has not answered yet */
    struct client_req *r = c->q_head;
    while (r && (r->kind == REQ_LOCAL || r->kind == REQ_DEFERRED))
        r = r->next;
    if (!r) {
        xlog(LOG_LVL_WARN, "conn%u: a reply from xenstored with no request", c->id);
        send_to_client(c, m, 0);
        want_write(c);
        return;
    }
    fair_answered(&c->px->fair, &c->fair_flow);
    struct domain *d = domain_find(c->px, r->domid);
    if (r->kind == REQ_HELP)
        control_extend_help(m);
    else if (r->kind == REQ_INTRODUCE && m->hdr.type == XS_ERROR && d)
        domain_remove(c->px, d);
    else if (r->kind == REQ_RELEASE && m->hdr.type != XS_ERROR && d)
        domain_remove(c->px, d);
    else if (r->kind == REQ_REINTRODUCE && d)
        domain_pump(d);   /* see what xenstored did to the ring before the
                             toolstack (and then the guest) goes on */
    if (r == c->q_head) {
        free(dequeue(c));
        send_to_client(c, m, 0);
    } else {
        /* an answer xsproxy owes comes first: keep this one until then */
        r->reply = malloc(sizeof(*r->reply));
        if (r->reply)
            memcpy(r->reply, m, sizeof(*m));
        r->kind = REQ_LOCAL;
    }
    flush_local(c);
}

void client_complete(struct client *c, void *req, struct msg *reply)
{
    struct client_req *r = req;
    r->reply = reply;
    r->kind = REQ_LOCAL;
    r->made_here = true;
    flush_local(c);
}

/* Feed bytes into M, handling each whole message; false on a bad one. */
/* The connection is C->link_for's link now: its answer is written (a
 * fresh connection's socket takes a short reply at once), the rest of what
 * was read goes with it; the client is freed, its descriptor kept. */
static void hand_over(struct client *c, const uint8_t *rest, size_t len)
{
    struct transfer *t = c->link_for;   /* paused until a link comes */
    bool alone = c->q_head == NULL;
    ssize_t n = alone ? write(c->fd, bq_head(&c->to_client), bq_pending(&c->to_client)) : -1;
    if (!alone || n != (ssize_t)bq_pending(&c->to_client)) {
        xlog(LOG_LVL_WARN, "conn%u: a transfer's link must be a connection of its own, its "
             "answer written at once; closed", c->id);
        c->link_for = NULL;
        client_free(c);
        return;
    }
    int fd = c->fd;
    c->fd = -1;
    c->link_for = NULL;
    client_free(c);
    transfer_attach(t, fd, rest, len);
}

static bool feed(struct client *c, struct msg *m, const uint8_t *buf, size_t n, bool from_client)
{
    size_t off = 0;
    while (off < n) {
        uint32_t used;
        enum msg_feed r = msg_feed(m, buf + off, (uint32_t)(n - off), &used);
        off += used;
        if (r == MSGF_BAD_LEN && from_client && ensure_backend(c)) {
            /* xenstored's call: oxenstored answers EINVAL and reads on, C
             * xenstored drops the connection.  Pass it, and all that
             * follows, on unparsed. */
            xlog(LOG_LVL_WARN, "conn%u: message longer than XENSTORE_PAYLOAD_MAX; "
                 "passing the connection through unparsed", c->id);
            c->raw = true;
            bq_push(&c->to_backend, m->bytes, m->got);
            bq_push(&c->to_backend, buf + off, n - off);
            msg_reset(m);
            want_write(c);
            return true;
        }
        if (r == MSGF_BAD_LEN)
            return false;
        if (r == MSGF_DONE) {
            if (from_client)
                client_request(c, m);
            else
                backend_message(c, m);
            msg_reset(m);
            if (c->link_for) {
                hand_over(c, buf + off, n - off);
                return true;
            }
        }
    }
    return true;
}

static void client_rd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct client *c = w->data;
    if (!c->raw && !fair_may_send(&c->px->fair, &c->px->dom0_fair, share_now(),
                                  c->fair_flow.len > 0)) {
        /* dom0's clients have had their share for now: their requests wait
         * in their sockets */
        ev_io_stop(loop, &c->rd);
        c->fair_held = true;
        if (!ev_is_active(&c->px->fair_timer))
            ev_timer_start(loop, &c->px->fair_timer);
        return;
    }
    uint8_t buf[16384];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        client_free(c);
        return;
    }
    if (n > 0 && c->raw) {
        bq_push(&c->to_backend, buf, (size_t)n);
        want_write(c);
    } else if (n > 0 && !feed(c, &c->in, buf, (size_t)n, true)) {
        xlog(LOG_LVL_WARN, "conn%u: message longer than XENSTORE_PAYLOAD_MAX; closing", c->id);
        client_free(c);
    }
}

static void client_wr_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct client *c = w->data;
    if (bq_write(&c->to_client, c->fd) < 0) {
        client_free(c);
        return;
    }
    if (!bq_pending(&c->to_client) && c->close_when_flushed && !c->q_head) {
        client_free(c);
        return;
    }
    if (!bq_pending(&c->to_client))
        ev_io_stop(loop, w);
    if (c->backend_fd >= 0 && bq_pending(&c->to_client) < CLIENT_OUT_LIMIT &&
        !ev_is_active(&c->be_rd))
        ev_io_start(loop, &c->be_rd);
}

static void backend_rd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct client *c = w->data;
    uint8_t buf[16384];
    ssize_t n = read(c->backend_fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        backend_lost(c);
        return;
    }
    if (n > 0 && c->raw) {
        flush_local(c);
        bq_push(&c->to_client, buf, (size_t)n);
        want_write(c);
    } else if (n > 0 && !feed(c, &c->bin, buf, (size_t)n, false)) {
        xlog(LOG_LVL_ERROR, "conn%u: bad message from xenstored", c->id);
        backend_lost(c);
        return;
    }
    if (bq_pending(&c->to_client) >= CLIENT_OUT_LIMIT)
        ev_io_stop(loop, w);   /* the client is not reading: let xenstored wait */
    share_settle(c->px);
}

static void backend_wr_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct client *c = w->data;
    if (bq_write(&c->to_backend, c->backend_fd) < 0) {
        backend_lost(c);
        return;
    }
    if (!bq_pending(&c->to_backend))
        ev_io_stop(loop, w);
}

void client_accept(struct proxy *px, int listen_fd)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct client *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->px = px;
    c->id = ++px->next_client_id;
    c->fd = fd;
    c->backend_fd = -1;
    c->q_tail = &c->q_head;
    c->fair_flow.acct = &px->dom0_fair;
    ev_io_init(&c->rd, client_rd_cb, fd, EV_READ);
    ev_io_init(&c->wr, client_wr_cb, fd, EV_WRITE);
    c->rd.data = c->wr.data = c;
    ev_io_start(px->loop, &c->rd);
    if (!ensure_backend(c))
        xlog(LOG_LVL_WARN, "conn%u: cannot reach xenstored at %s: %s", c->id,
             px->cfg.backend_path, strerror(errno));
    c->next = px->clients;
    px->clients = c;
}

static void client_free(struct client *c)
{
    struct proxy *px = c->px;
    waiters_drop_client(px, c);
    for (struct client **p = &px->clients; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    ev_io_stop(px->loop, &c->rd);
    ev_io_stop(px->loop, &c->wr);
    if (c->be_waiting)
        ev_timer_stop(px->loop, &c->be_retry);
    if (c->fd >= 0)
        close(c->fd);
    if (c->backend_fd >= 0) {
        ev_io_stop(px->loop, &c->be_rd);
        ev_io_stop(px->loop, &c->be_wr);
        close(c->backend_fd);
    }
    struct client_req *r;
    while ((r = dequeue(c))) {
        free(r->reply);
        free(r);
    }
    bq_free(&c->to_client);
    bq_free(&c->to_backend);
    fair_flow_free(&c->fair_flow);
    free(c);
    bool held = false;
    for (struct client *o = px->clients; o && !held; o = o->next)
        held = o->fair_held;
    if (!held)
        fair_idle(&px->fair, &px->dom0_fair, share_now());
}

void client_fair_resume(struct proxy *px)
{
    bool any = false;
    for (struct client *c = px->clients; c; c = c->next)
        if (c->fair_held) {
            c->fair_held = false;
            ev_io_start(px->loop, &c->rd);
            any = true;
        }
    if (!any)
        fair_idle(&px->fair, &px->dom0_fair, share_now());
}

void client_close_all(struct proxy *px)
{
    while (px->clients)
        client_free(px->clients);
}
