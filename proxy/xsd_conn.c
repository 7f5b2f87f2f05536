/*
 * xsd_conn.c - xsproxy's own asynchronous connections to xenstored (see
 * xsd_conn.h).  Thin libev callbacks: bytes in go through msg_feed, whole
 * messages to the owner's callback; bytes out come from a byte queue.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy.h"
#include "unix_sock.h"
#include "xsd_conn.h"

#define RETRY_S 0.02   /* a full listen queue: connect again after this */

struct xsd_conn {
    struct ev_loop *loop;
    char path[108];
    int fd;
    ev_io rd, wr;
    ev_timer retry;
    struct bytequeue out;
    struct msg in;
    unsigned in_flight;
    bool failed;
    bool in_callback;    /* the owner may close C from its callback: */
    bool close_pending;  /* ... then C is freed once the callback returns */
    xsd_reply_fn *fn;
    void *ctx;
};

int xsd_connect(const char *path)
{
    return unix_connect(path, SOCK_NONBLOCK);
}

static void destroy(struct xsd_conn *c)
{
    ev_io_stop(c->loop, &c->rd);
    ev_io_stop(c->loop, &c->wr);
    ev_timer_stop(c->loop, &c->retry);
    if (c->fd >= 0)
        close(c->fd);
    bq_free(&c->out);
    free(c);
}

/* Hand the owner a reply or a failure.  True when it closed C meanwhile:
 * C is gone then. */
static bool deliver(struct xsd_conn *c, const struct msg *m, int err)
{
    c->in_callback = true;
    c->fn(c->ctx, m, err);
    c->in_callback = false;
    if (!c->close_pending)
        return false;
    destroy(c);
    return true;
}

/* Stop everything and tell the owner, once. */
static void fail(struct xsd_conn *c, int err)
{
    if (c->failed)
        return;
    c->failed = true;
    ev_io_stop(c->loop, &c->rd);
    ev_io_stop(c->loop, &c->wr);
    ev_timer_stop(c->loop, &c->retry);
    deliver(c, NULL, err);
}

static void want_write(struct xsd_conn *c)
{
    if (c->fd >= 0 && bq_pending(&c->out) && !ev_is_active(&c->wr))
        ev_io_start(c->loop, &c->wr);
}

static void rd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct xsd_conn *c = w->data;
    uint8_t buf[16384];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        fail(c, n == 0 ? EIO : errno);
        return;
    }
    for (uint32_t off = 0; off < (uint32_t)n;) {
        uint32_t used;
        enum msg_feed f = msg_feed(&c->in, buf + off, (uint32_t)n - off, &used);
        off += used;
        if (f == MSGF_BAD_LEN) {
            fail(c, EPROTO);
            return;
        }
        if (f == MSGF_DONE) {
            if (c->in.hdr.type != XS_WATCH_EVENT && c->in_flight)
                c->in_flight--;
            if (deliver(c, &c->in, 0) || c->failed)
                return;
            msg_reset(&c->in);
        }
    }
}

static void wr_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct xsd_conn *c = w->data;
    if (bq_write(&c->out, c->fd) < 0) {
        fail(c, errno);
        return;
    }
    if (!bq_pending(&c->out))
        ev_io_stop(loop, w);
}

static void attach(struct xsd_conn *c)
{
    ev_io_init(&c->rd, rd_cb, c->fd, EV_READ);
    ev_io_init(&c->wr, wr_cb, c->fd, EV_WRITE);
    c->rd.data = c->wr.data = c;
    ev_io_start(c->loop, &c->rd);
    want_write(c);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct xsd_conn *c = w->data;
    c->fd = xsd_connect(c->path);
    if (c->fd >= 0) {
        ev_timer_stop(loop, w);
        attach(c);
    } else if (errno != EAGAIN) {
        fail(c, errno);
    }
}

struct xsd_conn *xsd_conn_open(struct ev_loop *loop, const char *path, xsd_reply_fn *fn,
                               void *ctx)
{
    struct xsd_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (strlen(path) >= sizeof(c->path)) {
        free(c);
        errno = ENAMETOOLONG;
        return NULL;
    }
    strcpy(c->path, path);
    c->loop = loop;
    c->fn = fn;
    c->ctx = ctx;
    ev_timer_init(&c->retry, retry_cb, RETRY_S, RETRY_S);
    c->retry.data = c;
    c->fd = xsd_connect(path);
    if (c->fd >= 0) {
        attach(c);
    } else if (errno == EAGAIN) {
        ev_timer_start(loop, &c->retry);
    } else {
        int e = errno;
        free(c);
        errno = e;
        return NULL;
    }
    return c;
}

int xsd_conn_send(struct xsd_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
                  const char *const *parts, unsigned nparts, const void *raw, uint32_t rawlen)
{
    size_t len = rawlen;
    for (unsigned i = 0; i < nparts; i++)
        len += strlen(parts[i]) + 1;
    if (len > XENSTORE_PAYLOAD_MAX || c->failed) {
        errno = c->failed ? EIO : E2BIG;
        return -1;
    }
    struct xsd_sockmsg h = { .type = type, .req_id = req_id, .tx_id = tx_id,
                             .len = (uint32_t)len };
    int rc = bq_push(&c->out, &h, sizeof(h));
    for (unsigned i = 0; rc == 0 && i < nparts; i++)
        rc = bq_push(&c->out, parts[i], strlen(parts[i]) + 1);
    if (rc == 0 && rawlen)
        rc = bq_push(&c->out, raw, rawlen);
    if (rc < 0) {
        errno = ENOMEM;
        return -1;
    }
    c->in_flight++;
    want_write(c);
    return 0;
}

unsigned xsd_conn_in_flight(const struct xsd_conn *c)
{
    return c->in_flight;
}

void xsd_conn_close(struct xsd_conn *c)
{
    if (!c)
        return;
    if (c->in_callback) {
        c->close_pending = true;
        c->failed = true;   /* nothing more is sent or delivered */
        ev_io_stop(c->loop, &c->rd);
        ev_io_stop(c->loop, &c->wr);
        return;
    }
    destroy(c);
}
