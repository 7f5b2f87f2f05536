/*
 * save.c - `save D FILE`: a quiesced domain's xenstore state as a
 * migration stream (libxsrecords, upstream format).
 *
 * CONNECTION_DATA (the ring's event channel, the partly read request
 * xsproxy holds, the output not yet on the guest's ring), WATCH_DATA and
 * TRANSACTION_DATA come from the shadow at once.  NODE_DATA for the
 * domain's subtree is read from xenstored by a job (migrate.h) that keeps
 * up to JOB_WINDOW of the walk's requests (tree_read.h) in flight on
 * its own connection, while the event loop serves everybody else.
 *
 * The view must be consistent.  The guest, quiesced, writes nothing; dom0
 * might.  A transaction would say so, but C xenstored spends about 0.2 ms
 * on each request inside one (30 times its cost outside), and every other
 * domain waits behind that.  So the walk is guarded by a watch on the
 * subtree instead, set on the same connection before the first read: the
 * daemon queues a connection's watch events and replies in the order they
 * happen, so when the last reply has come and no event but the watch's
 * first (which both daemons fire when it is set) came before it, nothing
 * in the subtree changed while it was read.  Otherwise the walk starts
 * again on a new connection.  The ring page itself travels with the
 * guest's memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "migrate.h"
#include "ring.h"
#include "tree_read.h"

#define SAVE_CONN_ID 1u
#define SAVE_ATTEMPTS 10            /* walks before giving up on a busy subtree */
#define TAG_WATCH 0xFFFFFFF0u   /* a request tag besides the walk's */

struct save_job {
    struct job job;     /* first: the job is the save */
    char file[512];
    struct xsrec_stream s;      /* the shadow's records, then the nodes */
    size_t in_len, out_len;     /* for the answer */
    struct tree_read tree;
    bool watch_set;             /* the guard's WATCH was answered */
    unsigned events;            /* its events so far: 1 is the first firing */
    int attempt;
};

/* CONNECTION_DATA, WATCH_DATA, TRANSACTION_DATA and TX_OP: what the
 * shadow holds of D.  0 or ENOMEM. */
static int add_shadow_records(struct save_job *sj, struct domain *d)
{
    struct xsrec_stream *s = &sj->s;
    /* what the guest is owed: the output xsproxy holds, then what
     * xenstored has written to the shadow ring and xsproxy has not read */
    struct bytequeue out = { 0 };
    bq_push(&out, bq_head(&d->rl.to_guest), bq_pending(&d->rl.to_guest));
    XENSTORE_RING_IDX sp = __atomic_load_n(&d->xsd_ring->rsp_prod, __ATOMIC_ACQUIRE);
    uint32_t unread = sp - d->rl.out_rd;
    if (!d->rl.rsp_corrupt && unread <= XENSTORE_RING_SIZE && unread) {
        uint8_t buf[XENSTORE_RING_SIZE];
        int n = ring_peek(ring_rsp(d->xsd_ring), d->rl.out_rd, buf, unread);
        if (n > 0)
            bq_push(&out, buf, (size_t)n);
    }
    struct xsrec_conn c = {
        .id = SAVE_CONN_ID, .type = XSREC_CONN_RING, .domid = (uint16_t)d->domid,
        .tdomid = XSREC_DOMID_INVALID, .evtchn = d->remote_port, .socket_fd = -1,
        .in_data = d->rl.in.bytes, .in_len = d->rl.in.got,
        .out_data = bq_head(&out), .out_len = bq_pending(&out),
        .out_resp_len = d->rl.g_msg_left <= bq_pending(&out) ? d->rl.g_msg_left : 0,
    };
    sj->in_len = c.in_len;
    sj->out_len = c.out_len;
    int rc = 0;
    if (xsrec_set_global(s, -1, -1) < 0 || xsrec_add_conn(s, &c) < 0)
        rc = ENOMEM;
    bq_free(&out);
    for (const struct shadow_watch *w = d->sh.watches; !rc && w; w = w->next)
        if (xsrec_add_watch(s, SAVE_CONN_ID, w->path, w->token) < 0)
            rc = ENOMEM;
    for (const struct shadow_tx *t = d->sh.txs; !rc && t; t = t->next) {
        if (xsrec_add_tx(s, SAVE_CONN_ID, t->guest_id) < 0)
            rc = ENOMEM;
        struct xsrec_tx_op op = { .conn_id = SAVE_CONN_ID, .tx_id = t->guest_id };
        if (!rc && (t->log_cut || t->doomed)) {
            op.req_type = XSREC_TX_OP_CUT;   /* it can only end in EAGAIN */
            if (xsrec_add_tx_op(s, &op) < 0)
                rc = ENOMEM;
            continue;
        }
        for (unsigned i = 0; !rc && i < t->nops; i++) {
            const struct tx_op *o = &t->ops[i];
            op.req_type = o->type;
            op.rsp_type = o->rsp_type;
            op.req = o->req;
            op.req_len = o->req_len;
            op.rsp = o->rsp;
            op.rsp_len = o->rsp_len;
            if (xsrec_add_tx_op(s, &op) < 0)
                rc = ENOMEM;
        }
    }
    return rc;
}

static void fail(struct save_job *sj, int rc, const char *why)
{
    snprintf(sj->job.text, sizeof(sj->job.text), "cannot read domain %u's nodes: %s",
             sj->job.domid, why);
    job_finish(&sj->job, rc);
}

static void pump(struct save_job *sj);

/* A walk from the top on a new connection, behind a watch on the subtree. */
static int begin_walk(struct save_job *sj)
{
    char base[64];
    snprintf(base, sizeof(base), "/local/domain/%u", sj->job.domid);
    tree_read_free(&sj->tree);
    sj->watch_set = false;
    sj->events = 0;
    if (tree_read_init(&sj->tree, base) < 0)
        return ENOMEM;
    int rc = job_connect(&sj->job);
    if (rc)
        return rc;
    const char *watch[] = { base, "xsproxy-save" };
    if (xsd_conn_send(sj->job.conn, XS_WATCH, TAG_WATCH, 0, watch, 2, NULL, 0))
        return errno;
    pump(sj);
    return 0;
}

/* The walk met a node that went, or the subtree changed meanwhile. */
static void walk_again(struct save_job *sj, const char *why)
{
    if (++sj->attempt >= SAVE_ATTEMPTS) {
        fail(sj, msg_errno_value(why), why);
        return;
    }
    xlog(LOG_LVL_INFO, "save %u: %s while it was read; reading it again", sj->job.domid,
         strcmp(why, "ENOENT") == 0 ? "a node went" : "the subtree changed");
    int rc = begin_walk(sj);
    if (rc)
        fail(sj, rc, strerror(rc));
}

static void write_stream(struct save_job *sj);

/* Keep the window full; once every node is read and the watch set, and it
 * fired no more than its first time, the view is consistent. */
static void pump(struct save_job *sj)
{
    uint32_t tag, type;
    const char *path, *arg;
    while (xsd_conn_in_flight(sj->job.conn) < JOB_WINDOW &&
           tree_read_next(&sj->tree, &tag, &type, &path, &arg)) {
        const char *parts[2] = { path, arg };
        if (xsd_conn_send(sj->job.conn, type, tag, 0, parts, arg ? 2 : 1, NULL, 0) < 0) {
            fail(sj, errno, strerror(errno));
            return;
        }
    }
    if (sj->watch_set && tree_read_done(&sj->tree))
        write_stream(sj);
}

/* The nodes into the stream, encoded, into the file. */
static void write_stream(struct save_job *sj)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < sj->tree.nnodes; i++) {
        const struct tree_node *t = &sj->tree.nodes[i];
        struct xsrec_perm *rp = calloc(t->nperms ? t->nperms : 1, sizeof(*rp));
        for (uint32_t k = 0; rp && k < t->nperms; k++)
            rp[k] = (struct xsrec_perm){ .perm = t->perms[k].perm, .domid = t->perms[k].domid };
        struct xsrec_node n = { .path = t->path, .value = t->value, .value_len = t->value_len,
                                .perms = rp, .nperms = t->nperms };
        if (!rp || xsrec_add_node(&sj->s, &n) < 0)
            rc = ENOMEM;
        free(rp);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    struct xsrec_error xe = { 0 };
    char *text = sj->job.text;
    size_t tlen = sizeof(sj->job.text);
    if (rc) {
        snprintf(text, tlen, "out of memory");
    } else if (xsrec_write_upstream(&sj->s, xsrec_host_order(), 0, &buf, &len, &xe) < 0) {
        snprintf(text, tlen, "cannot encode the stream: %s: %s", xe.rule, xe.message);
        rc = EINVAL;
    } else if (migrate_write_file(sj->file, buf, len, text, tlen) < 0) {
        rc = errno ? errno : EIO;
    } else {
        snprintf(text, tlen, "domain %u saved to %s: %zu nodes, %zu watches, %zu transactions, "
                 "%zu bytes held, %zu bytes of output\n",
                 sj->job.domid, sj->file, sj->s.nnodes, sj->s.nwatches, sj->s.ntxs, sj->in_len,
                 sj->out_len);
    }
    free(buf);
    job_finish(&sj->job, rc);
}

static void on_reply(struct job *j, const struct msg *m, int err)
{
    struct save_job *sj = (struct save_job *)j;
    if (!m) {
        fail(sj, err, err == EIO ? "xenstored closed the connection" : strerror(err));
        return;
    }
    const uint8_t *body = msg_body((struct msg *)m);
    uint32_t tag = m->hdr.req_id;
    if (m->hdr.type == XS_WATCH_EVENT) {
        if (++sj->events > 1)
            walk_again(sj, "EAGAIN");   /* something in the subtree changed */
    } else if (tag == TAG_WATCH) {
        if (m->hdr.type == XS_ERROR) {
            fail(sj, msg_errno_value((const char *)body), (const char *)body);
        } else {
            sj->watch_set = true;
            pump(sj);
        }
    } else if (tree_read_answer(&sj->tree, tag, m->hdr.type, body, m->hdr.len) < 0) {
        const char *why = sj->tree.error;
        if (strcmp(why, "ENOENT") == 0 || strcmp(why, "EAGAIN") == 0)
            walk_again(sj, why);   /* a node went, or a list changed, meanwhile */
        else
            fail(sj, msg_errno_value(why), why);
    } else {
        pump(sj);
    }
}

static void free_own(struct job *j)
{
    struct save_job *sj = (struct save_job *)j;
    tree_read_free(&sj->tree);
    xsrec_stream_free(&sj->s);
    free(sj);
}

int migrate_save(struct proxy *px, struct domain *d, const char *file,
                 struct job **job, char *err, size_t errlen)
{
    if (!domain_is_quiesced(d)) {
        snprintf(err, errlen, "domain %u is not quiesced: QUIESCE it first", d->domid);
        return EBUSY;
    }
    if (job_busy(px, d->domid, err, errlen))
        return EBUSY;
    if (strlen(file) >= sizeof(((struct save_job *)0)->file)) {
        snprintf(err, errlen, "%s: name too long", file);
        return ENAMETOOLONG;
    }
    if (file_check_regular(file, err, errlen) < 0)
        return EINVAL;   /* before anything is read from xenstored */
    struct save_job *sj = calloc(1, sizeof(*sj));
    if (!sj) {
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    strcpy(sj->file, file);
    sj->job.on_reply = on_reply;
    sj->job.free_own = free_own;
    job_start(px, &sj->job, "save", d->domid);
    int rc = add_shadow_records(sj, d);
    if (!rc)
        rc = begin_walk(sj);
    if (rc) {
        snprintf(err, errlen, "%s", sj->job.text[0] ? sj->job.text : strerror(rc));
        job_discard(&sj->job);
        return rc;
    }
    *job = &sj->job;
    return 0;
}
