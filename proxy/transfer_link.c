/*
 * transfer_link.c - a transfer's link to the other host's xsproxy: the
 * connection xsproxyctl handed over, frames read and parsed (a bad one ends
 * the link: the transfer pauses), frames queued and written without
 * blocking, a PING twice a second, the stream sent in DATA frames within
 * the acknowledgement window.
 */
#define _GNU_SOURCE
#include "transfer_int.h"
#include "unix_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void xfer_send_frame(struct transfer *t, const struct tw_frame *f)
{
    struct link *l = t->link;
    if (!l || l->closing)
        return;
    static uint8_t buf[TW_HDR_LEN + TW_PAYLOAD_MAX];
    size_t n = tw_build(f, buf);
    if (n && bq_push(&l->out, buf, n) == 0)
        ev_io_start(t->px->loop, &l->wr);
}

void xfer_send_text(struct transfer *t, enum tw_type type, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    struct tw_frame f = { .type = type, .data = (const uint8_t *)text,
                          .data_len = (uint32_t)strlen(text) };
    xfer_send_frame(t, &f);
}

/* A line for the operator, in the log and on xsproxyctl's terminal. */
void xfer_report(struct transfer *t, const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    xlog(LOG_LVL_INFO, "transfer %s domain %u: %s", t->sender ? "of" : "to", t->domid, text);
    xfer_send_text(t, TW_REPORT, "%s", text);
}

/* The link ends once what is queued is written; the transfer pauses
 * where it stands, unless it is over. */
void xfer_link_end(struct transfer *t, const char *why)
{
    if (!t->link)
        return;
    if (why) {
        snprintf(t->note, sizeof(t->note), "%s", why);
        xfer_report(t, "paused (%s): %s", xfer_phase_names[t->phase], why);
    }
    t->link->closing = true;
    ev_io_stop(t->px->loop, &t->link->rd);
    if (!bq_pending(&t->link->out))
        xfer_link_close(t);
}

/* A frame that makes no sense here: the peer is told, the link ends,
 * nothing changes. */
void xfer_refuse(struct transfer *t, const char *fmt, const char *what)
{
    char why[300];
    snprintf(why, sizeof(why), fmt, what);
    xlog(LOG_LVL_WARN, "transfer %s domain %u: %s", t->sender ? "of" : "to", t->domid, why);
    xfer_send_text(t, TW_ERROR, "%s", why);
    xfer_link_end(t, why);
}

void xfer_link_close(struct transfer *t)
{
    struct link *l = t->link;
    if (!l)
        return;
    ev_io_stop(t->px->loop, &l->rd);
    ev_io_stop(t->px->loop, &l->wr);
    ev_timer_stop(t->px->loop, &l->ping);
    close(l->fd);
    free(l->in);
    bq_free(&l->out);
    free(l);
    t->link = NULL;
}

static void link_rd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct transfer *t = w->data;
    struct link *l = t->link;
    if (l->in_cap - l->in_len < TW_DATA_MAX) {
        size_t cap = l->in_cap ? 2 * l->in_cap : 2 * (TW_HDR_LEN + TW_PAYLOAD_MAX);
        uint8_t *in = realloc(l->in, cap);
        if (!in) {
            xfer_link_end(t, "out of memory");
            return;
        }
        l->in = in;
        l->in_cap = cap;
    }
    ssize_t n = read(l->fd, l->in + l->in_len, l->in_cap - l->in_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        xfer_link_end(t, n == 0 ? "the link closed" : strerror(errno));
        xfer_link_close(t);
        return;
    }
    l->in_len += (size_t)n;
    size_t off = 0;
    while (t->link == l && !l->closing && !t->gone) {
        struct tw_frame f;
        size_t used = 0;
        char err[128];
        int rc = tw_parse(l->in + off, l->in_len - off, &f, &used, err, sizeof(err));
        if (rc < 0) {
            xfer_refuse(t, "bad frame from the peer: %s", err);
            return;
        }
        if (rc == 0)
            break;
        off += used;
        xfer_on_frame(t, &f);
    }
    if (t->link == l) {
        memmove(l->in, l->in + off, l->in_len - off);
        l->in_len -= off;
    }
}

static void link_wr_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct transfer *t = w->data;
    struct link *l = t->link;
    if (bq_write(&l->out, l->fd) < 0) {
        xfer_link_end(t, strerror(errno));
        xfer_link_close(t);
        return;
    }
    if (bq_pending(&l->out))
        return;   /* the rest when the socket takes it (EAGAIN: all of it) */
    ev_io_stop(loop, w);
    if (l->closing)
        xfer_link_close(t);
    else if (t->sender)
        xfer_pump_data(t);
}

static void ping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct transfer *t = w->data;
    if (t->link && !bq_pending(&t->link->out))
        xfer_send_frame(t, &(struct tw_frame){ .type = TW_PING });
}

void transfer_attach(struct transfer *t, int fd, const uint8_t *rest, size_t len)
{
    struct link *l = calloc(1, sizeof(*l));
    if (!l) {
        close(fd);
        return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    l->fd = fd;
    ev_io_init(&l->rd, link_rd_cb, fd, EV_READ);
    ev_io_init(&l->wr, link_wr_cb, fd, EV_WRITE);
    l->rd.data = l->wr.data = t;
    ev_timer_init(&l->ping, ping_cb, 0.5, 0.5);
    l->ping.data = t;
    ev_timer_start(t->px->loop, &l->ping);
    t->link = l;
    t->peer_said = false;
    t->note[0] = '\0';
    if (len && (l->in = malloc(len))) {
        memcpy(l->in, rest, len);
        l->in_len = l->in_cap = len;
    }
    ev_io_start(t->px->loop, &l->rd);
    xfer_report(t, "link up (%s)", xfer_phase_names[t->phase]);
    if (t->sender && t->has_id) {
        struct tw_frame f = { .type = TW_HELLO, .src_domid = t->domid,
                              .dst_domid = t->peer_domid, .length = t->length, .crc = t->crc };
        memcpy(f.id, t->id, TW_ID_LEN);
        xfer_send_frame(t, &f);
    }
    /* a quiescing or saving source says HELLO once the stream is saved */
}

void xfer_pump_data(struct transfer *t)
{
    if (t->phase != P_SENDING || !t->link || t->link->closing || !t->peer_said)
        return;
    while (t->sent < t->length && t->sent - t->acked < WINDOW &&
           bq_pending(&t->link->out) < 2 * TW_DATA_MAX) {
        uint64_t n = t->length - t->sent;
        if (n > TW_DATA_MAX)
            n = TW_DATA_MAX;
        struct tw_frame f = { .type = TW_DATA, .length = t->sent, .data = t->stream + t->sent,
                              .data_len = (uint32_t)n };
        xfer_send_frame(t, &f);
        t->sent += n;
    }
}
