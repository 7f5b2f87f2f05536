/*
 * restore.c - `restore D FILE [S]`: a domain's xenstore state back from a
 * migration stream saved on another host (save.c).
 *
 * The domain exists on this host with its ring page copied.  A job
 * (migrate.h), on a connection of its own with its requests pipelined,
 * reads this host's store/port and store/ring-ref for the domain, then
 * writes its nodes in one transaction, all or nothing (the source's domain
 * id mapped to this one in paths and permissions; the toolstack's domid,
 * store/port and store/ring-ref stay this host's), and INTRODUCEs it.  The
 * rest is xsproxy's own, at once: the domain is inserted quiesced, its
 * watches are registered as it, its transactions recreated, its pending
 * output queued; then it is resumed and the requests held on its ring are
 * served.  Every other domain is served throughout.
 *
 * Open transactions travel as their logs (xsproxy's TX_OP records: each
 * operation with the answer it got).  On restore each is replayed into a
 * new xenstored transaction, as the guest, before the guest's ring is
 * served again; it goes on when every answer is the same, else its end is
 * EAGAIN (docs/design.md, "Transactions across a migration").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"

#define RESTORE_ATTEMPTS 10   /* commits tried before giving up (EAGAIN) */
/* request tags: the nodes' writes are 2 * node (WRITE) and 2 * node + 1
 * (SET_PERMS); these are the others */
#define TAG_PORT 0xFFFFFFF0u
#define TAG_RING 0xFFFFFFF1u
#define TAG_TX_START 0xFFFFFFF2u
#define TAG_TX_END 0xFFFFFFF3u
#define TAG_INTRODUCE 0xFFFFFFF4u

struct restore_job {
    struct job job;       /* first: the job is the restore */
    char file[512];
    struct xsrec_stream s;
    const struct xsrec_conn *c;   /* the stream's ring connection, or NULL */
    uint32_t from;                /* the domain's id on the source */
    bool held;                    /* kept quiesced when restored (a transfer) */
    uint32_t port;                /* this host's store/port, store/ring-ref */
    uint64_t gfn;
    unsigned host_answers;
    uint32_t tx;
    uint32_t next_tag;            /* the next write to send */
    size_t sent, answered;
    int attempt;
};

static void fail(struct restore_job *rj, int rc, const char *fmt, const char *why)
{
    snprintf(rj->job.text, sizeof(rj->job.text), fmt, rj->job.domid, why);
    job_finish(&rj->job, rc);
}

/* Nodes this host's toolstack wrote for the new domain, which the
 * source's values must not overwrite: its id and its ring and channel. */
static bool is_host_node(const char *path, uint32_t domid)
{
    static const char *const own[] = { "domid", "store/port", "store/ring-ref" };
    char p[64];
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        snprintf(p, sizeof(p), "/local/domain/%u/%s", domid, own[i]);
        if (strcmp(path, p) == 0)
            return true;
    }
    return false;
}

/* N's permissions, the source's domain id mapped, as SET_PERMS's
 * NUL-ended parts after the path.  Their length, or 0 when they do not
 * fit. */
static uint32_t mapped_perms(const struct restore_job *rj, const struct xsrec_node *n, char *buf,
                             uint32_t cap)
{
    uint32_t len = 0;
    for (size_t k = 0; k < n->nperms; k++) {
        uint32_t id = n->perms[k].domid == rj->from ? rj->job.domid : n->perms[k].domid;
        int w = snprintf(buf + len, cap - len, "%c%u",
                         migrate_perm_char(migrate_perm_bits(n->perms[k].perm)), id);
        if (w < 0 || (uint32_t)w + 1 > cap - len)
            return 0;
        len += (uint32_t)w + 1;
    }
    return len;
}

/* Send the write TAG names: 1 sent, 0 nothing to send for it, -1. */
static int send_write(struct restore_job *rj, uint32_t tag)
{
    const struct xsrec_node *n = &rj->s.nodes[tag / 2];
    bool perms = tag % 2;
    if (n->conn_id || (perms && n->nperms == 0))
        return 0;   /* a transaction's view (replayed later), or no perms */
    char *p = migrate_map_path(n->path, rj->from, rj->job.domid);
    if (!p)
        return -1;
    int rc = 0;
    if (!is_host_node(p, rj->job.domid)) {
        const char *path[] = { p };
        static char buf[XENSTORE_PAYLOAD_MAX];
        uint32_t len = perms ? mapped_perms(rj, n, buf, sizeof(buf)) : 0;
        if (perms && !len)
            rc = -1;
        else if (perms)
            rc = xsd_conn_send(rj->job.conn, XS_SET_PERMS, tag, rj->tx, path, 1, buf, len);
        else
            rc = xsd_conn_send(rj->job.conn, XS_WRITE, tag, rj->tx, path, 1, n->value,
                               (uint32_t)n->value_len);
        rc = rc < 0 ? -1 : 1;
    }
    free(p);
    return rc;
}

/* Keep the window full; commit once every write is answered. */
static void pump(struct restore_job *rj)
{
    while (xsd_conn_in_flight(rj->job.conn) < JOB_WINDOW && rj->next_tag < 2 * rj->s.nnodes) {
        int r = send_write(rj, rj->next_tag++);
        if (r < 0) {
            fail(rj, E2BIG, "cannot write domain %u's nodes: %s", "a node does not fit a message");
            return;
        }
        rj->sent += (size_t)r;
    }
    if (rj->next_tag == 2 * rj->s.nnodes && rj->answered == rj->sent) {
        const char *commit[] = { "T" };
        rj->next_tag++;   /* past the end: sent once */
        if (xsd_conn_send(rj->job.conn, XS_TRANSACTION_END, TAG_TX_END, rj->tx, commit, 1, NULL,
                          0) < 0)
            fail(rj, EIO, "cannot write domain %u's nodes: %s", strerror(errno));
    }
}

/* The nodes, in a new transaction on a new connection. */
static void begin_writes(struct restore_job *rj)
{
    rj->tx = 0;
    rj->next_tag = 0;
    rj->sent = rj->answered = 0;
    int rc = job_connect(&rj->job);
    const char *empty[] = { "" };
    if (!rc && xsd_conn_send(rj->job.conn, XS_TRANSACTION_START, TAG_TX_START, 0, empty, 1,
                             NULL, 0) < 0)
        rc = errno;
    if (rc)
        fail(rj, rc, "cannot write domain %u's nodes: %s", strerror(rc));
}

/* The domain's store/port and store/ring-ref on this host, as its
 * toolstack wrote them.  0, or -1. */
static int ask_host_nodes(struct restore_job *rj)
{
    char port[64], ring[64];
    snprintf(port, sizeof(port), "/local/domain/%u/store/port", rj->job.domid);
    snprintf(ring, sizeof(ring), "/local/domain/%u/store/ring-ref", rj->job.domid);
    const char *p[] = { port }, *r[] = { ring };
    if (xsd_conn_send(rj->job.conn, XS_READ, TAG_PORT, 0, p, 1, NULL, 0) < 0 ||
        xsd_conn_send(rj->job.conn, XS_READ, TAG_RING, 0, r, 1, NULL, 0) < 0)
        return -1;
    return 0;
}

static void host_node(struct restore_job *rj, const struct msg *m)
{
    const char *v = (const char *)msg_body((struct msg *)m);
    if (m->hdr.type != XS_ERROR && m->hdr.req_id == TAG_PORT)
        rj->port = (uint32_t)strtoul(v, NULL, 10);
    else if (m->hdr.type != XS_ERROR)
        rj->gfn = strtoull(v, NULL, 10);
    if (++rj->host_answers < 2)
        return;
    if (!rj->port)
        fail(rj, ENOENT, "domain %u has no store/port on this host: %s", "create it first");
    else
        begin_writes(rj);
}

static void restore_tx(struct domain *d, const struct xsrec_stream *s, uint32_t conn_id,
                       uint32_t tx_id, uint32_t from, uint32_t to)
{
    unsigned nops = 0;
    for (size_t i = 0; i < s->ntx_ops; i++)
        nops += s->tx_ops[i].conn_id == conn_id && s->tx_ops[i].tx_id == tx_id;
    struct tx_op *ops = calloc(nops ? nops : 1, sizeof(*ops));
    char (*bufs)[XENSTORE_PAYLOAD_MAX] = calloc(2 * (size_t)(nops ? nops : 1), sizeof(*bufs));
    bool replayable = ops && bufs;
    unsigned k = 0;
    for (size_t i = 0; replayable && i < s->ntx_ops; i++) {
        const struct xsrec_tx_op *op = &s->tx_ops[i];
        if (op->conn_id != conn_id || op->tx_id != tx_id)
            continue;
        if (op->req_type == XSREC_TX_OP_CUT ||
            !migrate_map_op(op, from, to, &ops[k], bufs[2 * k], bufs[2 * k + 1]))
            replayable = false;
        k++;
    }
    struct msg *m = malloc(sizeof(*m));
    if (m) {
        msg_build(m, XS_TRANSACTION_START, d->rl.next_internal_id++, 0, "", 1);
        if (shadow_on_restore_tx(&d->sh, m, tx_id, ops, replayable ? k : 0, replayable) == 0)
            domain_inject(d, m);
        else
            xlog(LOG_LVL_ERROR, "domain %u: cannot recreate transaction %u", d->domid, tx_id);
    }
    free(m);
    free(ops);
    free(bufs);
}

/* The nodes are in: insert the domain quiesced (nothing from its ring
 * before its state is back) and introduce it. */
static void insert(struct restore_job *rj)
{
    char err[400] = "";
    if (domain_insert(rj->job.px, rj->job.domid, rj->gfn, rj->port, true, err,
                      sizeof(err)) < 0) {
        fail(rj, EINVAL, "cannot insert domain %u: %s", err);
        return;
    }
    char id[16], gfn[24], port[16];
    snprintf(id, sizeof(id), "%u", rj->job.domid);
    snprintf(gfn, sizeof(gfn), "%llu", (unsigned long long)rj->gfn);
    snprintf(port, sizeof(port), "%u", rj->port);
    const char *parts[] = { id, gfn, port };
    if (xsd_conn_send(rj->job.conn, XS_INTRODUCE, TAG_INTRODUCE, 0, parts, 3, NULL, 0) < 0) {
        domain_remove(rj->job.px, domain_find(rj->job.px, rj->job.domid));
        fail(rj, EIO, "cannot introduce domain %u: %s", strerror(errno));
    }
}

/* Watches (as the domain, in order), transactions, pending data; then
 * serve it, once its transactions are replayed. */
static void finish(struct restore_job *rj, struct domain *d)
{
    const struct xsrec_stream *s = &rj->s;
    for (size_t i = 0; i < s->nwatches; i++) {
        char *p = migrate_map_path(s->watches[i].path, rj->from, d->domid);
        const char *pair[2] = { p, s->watches[i].token };
        if (p)
            domain_add_watches(d, pair, 2);
        free(p);
    }
    for (size_t i = 0; i < s->ntxs; i++)
        restore_tx(d, s, s->txs[i].conn_id, s->txs[i].tx_id, rj->from, d->domid);
    const struct xsrec_conn *c = rj->c;
    if (c) {
        bq_push(&d->rl.to_guest, c->out_data, c->out_len);
        d->rl.g_msg_left = (uint32_t)c->out_resp_len;
        if (c->in_len) {
            memcpy(d->rl.in.bytes, c->in_data, c->in_len);
            d->rl.in.got = (uint32_t)c->in_len;
        }
    }
    d->rl.transfer_held = rj->held;
    if (s->ntxs)
        d->rl.restoring = true;
    else if (!rj->held)
        d->rl.quiesce = false;
    domain_pump(d);
    snprintf(rj->job.text, sizeof(rj->job.text),
             "domain %u restored from %s (domain %u there): %zu nodes, %zu watches, "
             "%zu transactions\n",
             d->domid, rj->file, rj->from, s->nnodes, s->nwatches, s->ntxs);
    job_finish(&rj->job, 0);
}

static void introduced(struct restore_job *rj, const struct msg *m)
{
    struct domain *d = domain_find(rj->job.px, rj->job.domid);
    const char *body = (const char *)msg_body((struct msg *)m);
    if (m->hdr.type == XS_ERROR) {
        if (d)
            domain_remove(rj->job.px, d);
        fail(rj, msg_errno_value(body), "xenstored refused INTRODUCE of domain %u: %s", body);
    } else if (!d) {
        fail(rj, ENOENT, "domain %u was removed while it was restored%s", "");
    } else {
        finish(rj, d);
    }
}

static void on_reply(struct job *j, const struct msg *m, int err)
{
    struct restore_job *rj = (struct restore_job *)j;
    if (!m) {
        fail(rj, err, "cannot restore domain %u: %s",
             err == EIO ? "xenstored closed the connection" : strerror(err));
        return;
    }
    const char *body = (const char *)msg_body((struct msg *)m);
    bool error = m->hdr.type == XS_ERROR;
    switch (m->hdr.req_id) {
    case TAG_PORT:
    case TAG_RING:
        host_node(rj, m);
        return;
    case TAG_TX_START:
        if (error || !msg_parse_u32(body, &rj->tx))
            fail(rj, error ? msg_errno_value(body) : EPROTO,
                 "cannot write domain %u's nodes: TRANSACTION_START: %s", error ? body : "?");
        else
            pump(rj);
        return;
    case TAG_TX_END:
        if (!error)
            insert(rj);
        else if (strcmp(body, "EAGAIN") == 0 && ++rj->attempt < RESTORE_ATTEMPTS)
            begin_writes(rj);   /* somebody wrote there meanwhile: again */
        else
            fail(rj, msg_errno_value(body), "cannot write domain %u's nodes: %s", body);
        return;
    case TAG_INTRODUCE:
        introduced(rj, m);
        return;
    default:
        if (error) {   /* the transaction dies with the connection */
            fail(rj, msg_errno_value(body), "cannot write domain %u's nodes: %s", body);
            return;
        }
        rj->answered++;
        pump(rj);
    }
}

static void free_own(struct job *j)
{
    struct restore_job *rj = (struct restore_job *)j;
    xsrec_stream_free(&rj->s);
    free(rj);
}

/* FILE's stream into RJ, checked.  0, or an errno with why in ERR. */
static int read_stream(struct restore_job *rj, const char *file, uint32_t from_domid, char *err,
                       size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char why[400];
    if (migrate_read_file(file, &buf, &len, why, sizeof(why)) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot read %s", why);
        return e;
    }
    struct xsrec_info info;
    struct xsrec_error xe = { 0 };
    int rc = xsrec_read(buf, len, &rj->s, &info, &xe);
    free(buf);
    if (rc < 0) {
        snprintf(err, errlen, "%s: offset %#zx: %s: %s", file, xe.offset, xe.rule, xe.message);
        return EINVAL;
    }
    const struct xsrec_stream *s = &rj->s;
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i].type == XSREC_CONN_RING)
            rj->c = &s->conns[i];
    if (!rj->c && (s->nwatches || s->ntxs)) {
        snprintf(err, errlen, "%s: watches or transactions without a ring connection", file);
        return EINVAL;
    }
    if (rj->c && (rj->c->in_len > MSG_MAX_LEN || rj->c->out_len > (1u << 20))) {
        snprintf(err, errlen, "%s: the connection's pending data is too large", file);
        return EINVAL;
    }
    if (s->nnodes > UINT32_MAX / 2 - 16) {
        snprintf(err, errlen, "%s: too many nodes", file);
        return EINVAL;
    }
    rj->from = from_domid != UINT32_MAX ? from_domid
             : rj->c ? rj->c->domid : rj->job.domid;
    return 0;
}

int migrate_restore(struct proxy *px, uint32_t domid, const char *file, uint32_t from_domid,
                    bool held, struct job **job, char *err, size_t errlen)
{
    if (domain_find(px, domid)) {
        snprintf(err, errlen, "domain %u is inserted already", domid);
        return EEXIST;
    }
    if (job_busy(px, domid, err, errlen))
        return EBUSY;
    if (strlen(file) >= sizeof(((struct restore_job *)0)->file)) {
        snprintf(err, errlen, "%s: name too long", file);
        return ENAMETOOLONG;
    }
    struct restore_job *rj = calloc(1, sizeof(*rj));
    if (!rj) {
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    strcpy(rj->file, file);
    rj->held = held;
    rj->job.on_reply = on_reply;
    rj->job.free_own = free_own;
    job_start(px, &rj->job, "restore", domid);
    int rc = read_stream(rj, file, from_domid, err, errlen);
    if (!rc && (rc = job_connect(&rj->job)) != 0)
        snprintf(err, errlen, "%s", rj->job.text);
    if (!rc && ask_host_nodes(rj) < 0) {
        rc = errno;
        snprintf(err, errlen, "cannot ask xenstored: %s", strerror(rc));
    }
    if (rc) {
        job_discard(&rj->job);
        return rc;
    }
    *job = &rj->job;
    return 0;
}
