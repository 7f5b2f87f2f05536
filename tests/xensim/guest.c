/*
 * guest.c - the guest's end of a xenstore ring, as a PV kernel's xenbus
 * driver drives it: requests streamed into req[], responses and watch events
 * read from rsp[], an event-channel notify after each step.  Used by tests,
 * benchmarks and `xssim guest`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim_internal.h"
#include "xsproxy_type_names.h"

struct queued_msg {
    struct queued_msg *next;
    struct xsg_msg msg;
};

struct xsg {
    struct xssim *sim;
    uint32_t domid;
    uint32_t port;
    struct xssim_evtchn *evtchn;
    struct xenstore_domain_interface *ring;
    uint32_t next_req_id;
    /* a response being read in pieces */
    struct xsg_msg partial;
    unsigned partial_got;
    /* watch events that arrived while waiting for a reply */
    struct queued_msg *events_head, **events_tail;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct xsg *xsg_open(struct xssim *sim, uint32_t domid)
{
    struct xssim_dominfo info;
    if (xssim_domain_info(sim, domid, &info) < 0)
        return NULL;
    struct xsg *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->sim = sim;
    g->domid = domid;
    g->port = info.store_port;
    g->events_tail = &g->events_head;
    g->next_req_id = (uint32_t)getpid() << 16;
    g->ring = xssim_map_ring(sim, domid);
    if (!g->ring)
        goto fail;
    g->evtchn = xssim_evtchn_open(sim, domid);
    if (!g->evtchn)
        goto fail;
    int fd = xssim_evtchn_fd(g->evtchn);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (xssim_evtchn_adopt(g->evtchn, g->port) < 0)
        goto fail;
    return g;
fail:;
    int e = errno;
    xsg_close(g);
    errno = e;
    return NULL;
}

void xsg_close(struct xsg *g)
{
    if (!g)
        return;
    /* the store port stays with the domain: give it back to nobody rather
     * than closing it, as a guest kernel keeps it across processes */
    if (g->evtchn) {
        sim_lock(g->sim);
        struct sim_domain *d = sim_dom(g->sim, g->domid);
        struct sim_port *p = sim_port(g->sim, d, g->port);
        if (p && atomic_load(&p->owner) == g->evtchn->id)
            atomic_store(&p->owner, 0);
        sim_unlock(g->sim);
        xssim_evtchn_close(g->evtchn);
    }
    xssim_unmap_ring(g->ring);
    while (g->events_head) {
        struct queued_msg *q = g->events_head;
        g->events_head = q->next;
        free(q);
    }
    free(g);
}

int xsg_fd(struct xsg *g)
{
    return xssim_evtchn_fd(g->evtchn);
}

struct xenstore_domain_interface *xsg_ring(struct xsg *g)
{
    return g->ring;
}

int xsg_ack(struct xsg *g)
{
    /* xsg_open made the fd non-blocking: pending() fails with EAGAIN once
     * the socket is empty; each call re-arms the port it returns */
    int n = 0;
    while (xssim_evtchn_pending(g->evtchn) >= 0)
        n++;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return -1;
    return n;
}

/* Wait until the server notifies (or the deadline passes). 0, or -1 with
 * ETIMEDOUT. */
static int wait_event(struct xsg *g, int64_t deadline)
{
    int timeout = -1;
    if (deadline >= 0) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        timeout = left > 1000 ? 1000 : (int)left;
    } else {
        timeout = 1000;   /* re-check the ring now and then regardless */
    }
    struct pollfd pfd = { .fd = xsg_fd(g), .events = POLLIN };
    int n = poll(&pfd, 1, timeout);
    if (n < 0 && errno != EINTR)
        return -1;
    xsg_ack(g);   /* drain: each pending() re-arms its port */
    return 0;
}

static void notify(struct xsg *g)
{
    xssim_evtchn_notify(g->evtchn, g->port);
}

int xsg_send(struct xsg *g, uint32_t type, uint32_t req_id, uint32_t tx_id,
             const void *payload, uint32_t len, int timeout_ms)
{
    struct xsd_sockmsg hdr = { .type = type, .req_id = req_id, .tx_id = tx_id, .len = len };
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    const char *parts[2] = { (const char *)&hdr, payload };
    uint32_t lens[2] = { sizeof(hdr), len };
    struct xenstore_domain_interface *r = g->ring;
    for (int i = 0; i < 2; i++) {
        const char *data = parts[i];
        uint32_t left = lens[i];
        while (left) {
            XENSTORE_RING_IDX cons = __atomic_load_n(&r->req_cons, __ATOMIC_ACQUIRE);
            XENSTORE_RING_IDX prod = r->req_prod;
            if (prod - cons > XENSTORE_RING_SIZE) {
                errno = EIO;   /* the server broke the ring */
                return -1;
            }
            uint32_t space = XENSTORE_RING_SIZE - (prod - cons);
            if (space == 0) {
                notify(g);
                if (wait_event(g, deadline) < 0)
                    return -1;
                continue;
            }
            uint32_t chunk = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(prod);
            if (chunk > space)
                chunk = space;
            if (chunk > left)
                chunk = left;
            memcpy(r->req + MASK_XENSTORE_IDX(prod), data, chunk);
            __atomic_store_n(&r->req_prod, prod + chunk, __ATOMIC_RELEASE);
            data += chunk;
            left -= chunk;
        }
    }
    notify(g);
    return 0;
}

/* Copy what the response ring has into the partial message.  1 when a
 * whole message is there, 0 when more is needed, -1 EPROTO/EIO. */
static int pull_response(struct xsg *g)
{
    struct xenstore_domain_interface *r = g->ring;
    int progressed = 0;
    for (;;) {
        XENSTORE_RING_IDX prod = __atomic_load_n(&r->rsp_prod, __ATOMIC_ACQUIRE);
        XENSTORE_RING_IDX cons = r->rsp_cons;
        if (prod - cons > XENSTORE_RING_SIZE) {
            errno = EIO;
            return -1;
        }
        unsigned want;
        char *dst;
        if (g->partial_got < sizeof(struct xsd_sockmsg)) {
            want = sizeof(struct xsd_sockmsg) - g->partial_got;
            dst = (char *)&g->partial.hdr + g->partial_got;
        } else {
            if (g->partial.hdr.len > XENSTORE_PAYLOAD_MAX) {
                errno = EPROTO;
                return -1;
            }
            unsigned body_got = g->partial_got - sizeof(struct xsd_sockmsg);
            want = g->partial.hdr.len - body_got;
            dst = g->partial.body + body_got;
        }
        if (want == 0) {
            g->partial.body[g->partial.hdr.len] = '\0';
            g->partial_got = 0;
            if (progressed)
                notify(g);
            return 1;
        }
        uint32_t avail = prod - cons;
        if (avail == 0) {
            if (progressed)
                notify(g);
            return 0;
        }
        uint32_t chunk = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(cons);
        if (chunk > avail)
            chunk = avail;
        if (chunk > want)
            chunk = want;
        memcpy(dst, r->rsp + MASK_XENSTORE_IDX(cons), chunk);
        __atomic_store_n(&r->rsp_cons, cons + chunk, __ATOMIC_RELEASE);
        g->partial_got += chunk;
        progressed = 1;
    }
}

int xsg_recv(struct xsg *g, struct xsg_msg *msg, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        int rc = pull_response(g);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            memcpy(&msg->hdr, &g->partial.hdr, sizeof(msg->hdr));
            memcpy(msg->body, g->partial.body, g->partial.hdr.len + 1);
            return 1;
        }
        if (timeout_ms == 0)
            return 0;
        if (wait_event(g, deadline) < 0)
            return errno == ETIMEDOUT ? 0 : -1;
    }
}

int xsg_request(struct xsg *g, uint32_t type, uint32_t tx_id, const void *payload,
                uint32_t len, struct xsg_msg *reply, int timeout_ms)
{
    uint32_t req_id = g->next_req_id++;
    if (xsg_send(g, type, req_id, tx_id, payload, len, timeout_ms) < 0)
        return -1;
    for (;;) {
        int rc = xsg_recv(g, reply, timeout_ms);
        if (rc <= 0) {
            if (rc == 0)
                errno = ETIMEDOUT;
            return -1;
        }
        if (reply->hdr.type == XS_WATCH_EVENT) {
            struct queued_msg *q = malloc(sizeof(*q));
            if (!q)
                return -1;
            q->next = NULL;
            memcpy(&q->msg, reply, sizeof(*reply));
            *g->events_tail = q;
            g->events_tail = &q->next;
            continue;
        }
        if (reply->hdr.req_id == req_id)
            return 0;
        /* a late reply to a request an earlier user of the ring gave up
         * on: not ours */
    }
}

int xsg_next_event(struct xsg *g, struct xsg_msg *ev, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        if (g->events_head) {
            struct queued_msg *q = g->events_head;
            g->events_head = q->next;
            if (!g->events_head)
                g->events_tail = &g->events_head;
            memcpy(ev, &q->msg, sizeof(*ev));
            free(q);
            return 1;
        }
        int left = -1;
        if (deadline >= 0) {
            int64_t l = deadline - now_ms();
            left = l < 0 ? 0 : (int)l;
        }
        int rc = xsg_recv(g, ev, left);
        if (rc <= 0)
            return rc;
        if (ev->hdr.type == XS_WATCH_EVENT)
            return 1;
    }
}

/* ---- helpers for the common operations ------------------------------- */

static int reply_status(const struct xsg_msg *m)
{
    if (m->hdr.type == XS_ERROR)
        return xs_errno_from_name(m->body);
    return 0;
}

int xsg_read(struct xsg *g, uint32_t tx, const char *path, char **value, unsigned *len)
{
    struct xsg_msg *m = malloc(sizeof(*m));
    if (!m)
        return -1;
    int rc = xsg_request(g, XS_READ, tx, path, (uint32_t)strlen(path) + 1, m, 10000);
    if (rc == 0 && (rc = reply_status(m)) == 0) {
        if (value) {
            *value = malloc(m->hdr.len + 1);
            if (!*value) {
                free(m);
                return -1;
            }
            memcpy(*value, m->body, m->hdr.len + 1);
        }
        if (len)
            *len = m->hdr.len;
    }
    free(m);
    return rc;
}

int xsg_write(struct xsg *g, uint32_t tx, const char *path, const void *value, unsigned len)
{
    size_t plen = strlen(path) + 1;
    if (plen + len > XENSTORE_PAYLOAD_MAX) {
        errno = E2BIG;
        return -1;
    }
    char *buf = malloc(plen + len);
    struct xsg_msg *m = malloc(sizeof(*m));
    int rc = -1;
    if (buf && m) {
        memcpy(buf, path, plen);
        memcpy(buf + plen, value, len);
        rc = xsg_request(g, XS_WRITE, tx, buf, (uint32_t)(plen + len), m, 10000);
        if (rc == 0)
            rc = reply_status(m);
    }
    free(buf);
    free(m);
    return rc;
}

int xsg_simple(struct xsg *g, uint32_t type, uint32_t tx, const char *arg)
{
    struct xsg_msg *m = malloc(sizeof(*m));
    if (!m)
        return -1;
    int rc = xsg_request(g, type, tx, arg, (uint32_t)strlen(arg) + 1, m, 10000);
    if (rc == 0)
        rc = reply_status(m);
    free(m);
    return rc;
}

int xsg_watch(struct xsg *g, const char *path, const char *token)
{
    size_t pl = strlen(path) + 1, tl = strlen(token) + 1;
    if (pl + tl > XENSTORE_PAYLOAD_MAX) {
        errno = E2BIG;
        return -1;
    }
    char buf[XENSTORE_PAYLOAD_MAX];
    memcpy(buf, path, pl);
    memcpy(buf + pl, token, tl);
    struct xsg_msg *m = malloc(sizeof(*m));
    if (!m)
        return -1;
    int rc = xsg_request(g, XS_WATCH, 0, buf, (uint32_t)(pl + tl), m, 10000);
    if (rc == 0)
        rc = reply_status(m);
    free(m);
    return rc;
}

int xsg_transaction_start(struct xsg *g, uint32_t *tx)
{
    struct xsg_msg *m = malloc(sizeof(*m));
    if (!m)
        return -1;
    int rc = xsg_request(g, XS_TRANSACTION_START, 0, "", 1, m, 10000);
    if (rc == 0 && (rc = reply_status(m)) == 0)
        *tx = (uint32_t)strtoul(m->body, NULL, 10);
    free(m);
    return rc;
}

int xsg_transaction_end(struct xsg *g, uint32_t tx, bool commit)
{
    return xsg_simple(g, XS_TRANSACTION_END, tx, commit ? "T" : "F");
}

/* ---- names ------------------------------------------------------------ */

static const struct { int err; const char *name; } error_names[] = {
    { EINVAL, "EINVAL" }, { EACCES, "EACCES" }, { EEXIST, "EEXIST" },
    { EISDIR, "EISDIR" }, { ENOENT, "ENOENT" }, { ENOMEM, "ENOMEM" },
    { ENOSPC, "ENOSPC" }, { EIO, "EIO" }, { ENOTEMPTY, "ENOTEMPTY" },
    { ENOSYS, "ENOSYS" }, { EROFS, "EROFS" }, { EBUSY, "EBUSY" },
    { EAGAIN, "EAGAIN" }, { EISCONN, "EISCONN" }, { E2BIG, "E2BIG" },
    { EPERM, "EPERM" }, { EDQUOT, "EQUOTA" },
};

int xs_errno_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(error_names) / sizeof(error_names[0]); i++)
        if (strcmp(name, error_names[i].name) == 0)
            return error_names[i].err;
    return EINVAL;
}

const char *xs_errno_name(int err)
{
    for (size_t i = 0; i < sizeof(error_names) / sizeof(error_names[0]); i++)
        if (error_names[i].err == err)
            return error_names[i].name;
    return "EINVAL";
}

const char *xs_type_name(uint32_t type)
{
    const char *name = xsp_type_name(type);
    return name ? name : "UNKNOWN";
}
