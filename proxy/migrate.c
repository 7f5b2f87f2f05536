/*
 * migrate.c - saving a quiesced domain's xenstore state to a migration
 * stream (libxsrecords, upstream format) and restoring it on another host.
 *
 * Save: CONNECTION_DATA (the ring's event channel, the partly read request
 * xsproxy holds, the output not yet on the guest's ring), WATCH_DATA and
 * TRANSACTION_DATA from the shadow, and NODE_DATA for the domain's subtree
 * read from xenstored inside one transaction (a consistent snapshot).  The
 * ring page itself travels with the guest's memory.
 *
 * Restore: the domain exists on this host with its ring page copied; its
 * nodes are written (the source's domain id mapped to this one in paths
 * and permissions; the toolstack's domid, store/port and store/ring-ref stay
 * this host's), it is inserted quiesced, its watches are registered as it, its
 * transactions recreated, its pending output queued; then it is resumed
 * and the requests held on its ring are served.
 *
 * Open transactions travel as their logs (xsproxy's TX_OP records: each
 * operation with the answer it got).  On restore each is replayed into a
 * new xenstored transaction, as the guest, before the guest's ring is
 * served again; it goes on when every answer is the same, else its end is
 * EAGAIN (README, "Transactions across a migration").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "proxy.h"
#include "ring.h"
#include "xsrecords.h"

#define SAVE_CONN_ID 1u

static char perm_char(unsigned p)
{
    switch (p & (XS_PERM_READ | XS_PERM_WRITE)) {
    case XS_PERM_READ:
        return 'r';
    case XS_PERM_WRITE:
        return 'w';
    case XS_PERM_READ | XS_PERM_WRITE:
        return 'b';
    default:
        return 'n';
    }
}

static unsigned perm_bits(char c)
{
    return c == 'r' ? XS_PERM_READ : c == 'w' ? XS_PERM_WRITE
         : c == 'b' ? (XS_PERM_READ | XS_PERM_WRITE) : XS_PERM_NONE;
}

/* PATH and everything below it, parents first, as NODE_DATA. */
static int snapshot(struct xs_handle *xs, xs_transaction_t t, const char *path,
                    struct xsrec_stream *s, unsigned depth)
{
    if (depth > 64)
        return -1;
    unsigned len, nperms, nchildren;
    char *value = xs_read(xs, t, path, &len);
    struct xs_permissions *perms = xs_get_permissions(xs, t, path, &nperms);
    if (!value || !perms) {
        free(value);
        free(perms);
        return -1;
    }
    struct xsrec_perm *rp = calloc(nperms ? nperms : 1, sizeof(*rp));
    for (unsigned i = 0; rp && i < nperms; i++) {
        rp[i].perm = perm_char(perms[i].perms);
        rp[i].domid = (uint16_t)perms[i].id;
    }
    struct xsrec_node n = { .path = path, .value = (const uint8_t *)value, .value_len = len,
                            .perms = rp, .nperms = nperms };
    int rc = rp ? xsrec_add_node(s, &n) : -1;
    free(rp);
    free(value);
    free(perms);
    if (rc < 0)
        return -1;
    char **children = xs_directory(xs, t, path, &nchildren);
    if (!children)
        return -1;
    for (unsigned i = 0; i < nchildren && rc == 0; i++) {
        char *child;
        if (asprintf(&child, "%s/%s", path, children[i]) < 0)
            rc = -1;
        else {
            rc = snapshot(xs, t, child, s, depth + 1);
            free(child);
        }
    }
    free(children);
    return rc;
}

/* BUF into PATH, atomically (PATH.tmp, then rename).  0, or -1 with why
 * in ERR. */
static int write_file(const char *path, const uint8_t *buf, size_t len, char *err,
                      size_t errlen)
{
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = file_open_regular(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600, err, errlen);
    if (fd < 0)
        return -1;
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n <= 0) {
            snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(n < 0 ? errno : EIO));
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int migrate_save(struct proxy *px, struct domain *d, const char *file, char *err, size_t errlen)
{
    if (!domain_is_quiesced(d)) {
        snprintf(err, errlen, "domain %u is not quiesced: QUIESCE it first", d->domid);
        return EBUSY;
    }
    if (file_check_regular(file, err, errlen) < 0)
        return EINVAL;   /* before anything is read from xenstored */
    struct xsrec_stream s = { 0 };
    /* what the guest is owed: the output xsproxy holds, then what
     * xenstored has written to the shadow ring and xsproxy has not read */
    struct bytequeue out = { 0 };
    bq_push(&out, bq_head(&d->to_guest), bq_pending(&d->to_guest));
    XENSTORE_RING_IDX sp = __atomic_load_n(&d->shadow->rsp_prod, __ATOMIC_ACQUIRE);
    uint32_t unread = sp - d->out_rd;
    if (!d->rsp_corrupt && unread <= XENSTORE_RING_SIZE && unread) {
        uint8_t buf[XENSTORE_RING_SIZE];
        int n = ring_peek(ring_rsp(d->shadow), d->out_rd, buf, unread);
        if (n > 0)
            bq_push(&out, buf, (size_t)n);
    }
    struct xsrec_conn c = {
        .id = SAVE_CONN_ID, .type = XSREC_CONN_RING, .domid = (uint16_t)d->domid,
        .tdomid = XSREC_DOMID_INVALID, .evtchn = d->remote_port, .socket_fd = -1,
        .in_data = d->in.bytes, .in_len = d->in.got,
        .out_data = bq_head(&out), .out_len = bq_pending(&out),
        .out_resp_len = d->g_msg_left <= bq_pending(&out) ? d->g_msg_left : 0,
    };
    int rc = 0;
    if (xsrec_set_global(&s, -1, -1) < 0 || xsrec_add_conn(&s, &c) < 0)
        rc = ENOMEM;
    for (const struct shadow_watch *w = d->sh.watches; !rc && w; w = w->next)
        if (xsrec_add_watch(&s, SAVE_CONN_ID, w->path, w->token) < 0)
            rc = ENOMEM;
    for (const struct shadow_tx *t = d->sh.txs; !rc && t; t = t->next) {
        if (xsrec_add_tx(&s, SAVE_CONN_ID, t->guest_id) < 0)
            rc = ENOMEM;
        struct xsrec_tx_op op = { .conn_id = SAVE_CONN_ID, .tx_id = t->guest_id };
        if (!rc && (t->log_cut || t->doomed)) {
            op.req_type = XSREC_TX_OP_CUT;   /* it can only end in EAGAIN */
            if (xsrec_add_tx_op(&s, &op) < 0)
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
            if (xsrec_add_tx_op(&s, &op) < 0)
                rc = ENOMEM;
        }
    }
    bq_free(&out);
    /* the subtree, as one transaction sees it */
    char base[64];
    snprintf(base, sizeof(base), "/local/domain/%u", d->domid);
    for (int attempt = 0; !rc && attempt < 10; attempt++) {
        xs_transaction_t t = xs_transaction_start(px->xs);
        if (t == XBT_NULL) {
            rc = errno ? errno : EIO;
            break;
        }
        size_t keep = s.nnodes;
        int r = snapshot(px->xs, t, base, &s, 0);
        int e = errno;
        xs_transaction_end(px->xs, t, true);
        if (r == 0)
            break;
        /* read failed part-way (a node went): drop what this try added */
        while (s.nnodes > keep) {
            s.nnodes--;
            free((void *)s.nodes[s.nnodes].path);
            free((void *)s.nodes[s.nnodes].value);
            free((void *)s.nodes[s.nnodes].perms);
        }
        if (attempt == 9)
            rc = e ? e : EIO;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    struct xsrec_error xe = { 0 };
    if (!rc && xsrec_write_upstream(&s, xsrec_host_order(), 0, &buf, &len, &xe) < 0) {
        snprintf(err, errlen, "cannot encode the stream: %s: %s", xe.rule, xe.message);
        rc = EINVAL;
    } else if (!rc && write_file(file, buf, len, err, errlen) < 0) {
        rc = errno ? errno : EIO;
    } else if (!rc) {
        snprintf(err, errlen, "domain %u saved to %s: %zu nodes, %zu watches, %zu transactions, "
                 "%zu bytes held, %zu bytes of output\n",
                 d->domid, file, s.nnodes, s.nwatches, s.ntxs, c.in_len, c.out_len);
    } else {
        snprintf(err, errlen, "cannot read domain %u's nodes: %s", d->domid, strerror(rc));
    }
    free(buf);
    xsrec_stream_free(&s);
    return rc;
}

/* "/local/domain/FROM[/...]" -> "/local/domain/TO[/...]"; other paths as
 * they are.  Returns a malloc'd string. */
static char *map_path(const char *path, uint32_t from, uint32_t to)
{
    char prefix[48];
    int n = snprintf(prefix, sizeof(prefix), "/local/domain/%u", from);
    char *out;
    if (strncmp(path, prefix, (size_t)n) == 0 && (path[n] == '\0' || path[n] == '/')) {
        if (asprintf(&out, "/local/domain/%u%s", to, path + n) < 0)
            return NULL;
        return out;
    }
    return strdup(path);
}

/* A permission list ("b5\0r0\0...") with domain FROM written as TO,
 * appended to OUT.  False when it does not fit. */
static bool map_perms(const char *const *parts, unsigned n, uint32_t from, uint32_t to,
                      char *out, size_t cap, size_t *len)
{
    for (unsigned i = 0; i < n; i++) {
        uint32_t id;
        int w;
        if (parts[i][0] && msg_parse_u32(parts[i] + 1, &id) && id == from)
            w = snprintf(out + *len, cap - *len, "%c%u", parts[i][0], to);
        else
            w = snprintf(out + *len, cap - *len, "%s", parts[i]);
        if (w < 0 || (size_t)w + 1 > cap - *len)
            return false;
        *len += (size_t)w + 1;
    }
    return true;
}

/* One logged operation with the source's domain id mapped to this host's:
 * the path it names (absolute paths under /local/domain/FROM), the
 * permissions SET_PERMS sets and GET_PERMS answered.  Values and directory
 * listings stay as they are (a listing of /local/domain then differs, and
 * the transaction ends in EAGAIN: the conservative side).  False when the
 * mapped payload would not fit a message. */
static bool map_op(const struct xsrec_tx_op *in, uint32_t from, uint32_t to, struct tx_op *out,
                   char req[XENSTORE_PAYLOAD_MAX], char rsp[XENSTORE_PAYLOAD_MAX])
{
    const char *parts[XENSTORE_PAYLOAD_MAX / 2];
    /* a stream's payloads need not end in a NUL: split NUL-ended copies */
    static char reqz[XENSTORE_PAYLOAD_MAX + 1], rspz[XENSTORE_PAYLOAD_MAX + 1];
    if (in->req_len > XENSTORE_PAYLOAD_MAX || in->rsp_len > XENSTORE_PAYLOAD_MAX)
        return false;
    memcpy(reqz, in->req, in->req_len);
    reqz[in->req_len] = '\0';
    memcpy(rspz, in->rsp, in->rsp_len);
    rspz[in->rsp_len] = '\0';
    unsigned n = msg_split((const uint8_t *)reqz, (uint32_t)in->req_len, parts,
                           XENSTORE_PAYLOAD_MAX / 2);
    size_t len = 0;
    if (n == 0)
        return false;
    char *path = map_path(parts[0], from, to);
    if (!path)
        return false;
    /* the path, then the rest as it was (WRITE's value may hold NULs) */
    size_t plen = strlen(path) + 1, rest = in->req_len - (strlen(parts[0]) + 1);
    if (in->req_len < strlen(parts[0]) + 1)
        rest = 0;
    bool ok = plen + rest <= XENSTORE_PAYLOAD_MAX;
    if (ok) {
        memcpy(req, path, plen);
        len = plen;
        if (in->req_type == XS_SET_PERMS)
            ok = map_perms(parts + 1, n - 1, from, to, req, XENSTORE_PAYLOAD_MAX, &len);
        else {
            memcpy(req + len, in->req + (in->req_len - rest), rest);
            len += rest;
        }
    }
    free(path);
    if (!ok)
        return false;
    out->type = in->req_type;
    out->rsp_type = in->rsp_type;
    out->req = (uint8_t *)req;
    out->req_len = (uint32_t)len;
    out->rsp = (uint8_t *)rsp;
    if (in->req_type == XS_GET_PERMS && in->rsp_type == XS_GET_PERMS) {
        unsigned k = msg_split((const uint8_t *)rspz, (uint32_t)in->rsp_len, parts,
                               XENSTORE_PAYLOAD_MAX / 2);
        len = 0;
        if (!map_perms(parts, k, from, to, rsp, XENSTORE_PAYLOAD_MAX, &len))
            return false;
        out->rsp_len = (uint32_t)len;
    } else {
        memcpy(rsp, in->rsp, in->rsp_len);
        out->rsp_len = (uint32_t)in->rsp_len;
    }
    return true;
}

/* Recreate the guest's transaction TX_ID from the stream: its log mapped to
 * this host, sent after xsproxy's own TRANSACTION_START for it. */
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
            !map_op(op, from, to, &ops[k], bufs[2 * k], bufs[2 * k + 1]))
            replayable = false;
        k++;
    }
    struct msg *m = malloc(sizeof(*m));
    if (m) {
        msg_build(m, XS_TRANSACTION_START, d->next_internal_id++, 0, "", 1);
        if (shadow_on_restore_tx(&d->sh, m, tx_id, ops, replayable ? k : 0, replayable) == 0)
            domain_inject(d, m);
        else
            xlog(LOG_LVL_ERROR, "domain %u: cannot recreate transaction %u", d->domid, tx_id);
    }
    free(m);
    free(ops);
    free(bufs);
}

#define STREAM_MAX (64u << 20)   /* the largest stream restored */

/* The whole of a regular file.  0, or -1 with why in ERR.  A regular file
 * is read at the speed of the page cache, never waiting on anybody: a FIFO,
 * whose open or read would wait for a writer with every guest stalled, is
 * refused. */
static int read_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
    int fd = file_open_regular(path, O_RDONLY, 0, err, errlen);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > STREAM_MAX) {
        snprintf(err, errlen, "%s: larger than %u MiB", path, STREAM_MAX >> 20);
        close(fd);
        errno = EFBIG;
        return -1;
    }
    *buf = malloc((size_t)st.st_size + 1);
    size_t off = 0;
    while (*buf && off < (size_t)st.st_size) {
        ssize_t n = read(fd, *buf + off, (size_t)st.st_size - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fd);
    *len = off;
    if (!*buf) {
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        return -1;
    }
    return 0;
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

int migrate_restore(struct proxy *px, uint32_t domid, const char *file, uint32_t from_domid,
                    char *err, size_t errlen)
{
    if (domain_find(px, domid)) {
        snprintf(err, errlen, "domain %u is inserted already", domid);
        return EEXIST;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    char why[400];
    if (read_file(file, &buf, &len, why, sizeof(why)) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot read %s", why);
        return e;
    }
    struct xsrec_stream s = { 0 };
    struct xsrec_info info;
    struct xsrec_error xe = { 0 };
    if (xsrec_read(buf, len, &s, &info, &xe) < 0) {
        snprintf(err, errlen, "%s: offset %#zx: %s: %s", file, xe.offset, xe.rule, xe.message);
        free(buf);
        return EINVAL;
    }
    free(buf);
    int rc = 0;
    const struct xsrec_conn *c = NULL;
    for (size_t i = 0; i < s.nconns; i++)
        if (s.conns[i].type == XSREC_CONN_RING)
            c = &s.conns[i];
    if (!c && (s.nwatches || s.ntxs)) {
        snprintf(err, errlen, "%s: watches or transactions without a ring connection", file);
        rc = EINVAL;
        goto out;
    }
    if (c && from_domid == UINT32_MAX)
        from_domid = c->domid;
    if (from_domid == UINT32_MAX)
        from_domid = domid;
    if (c && (c->in_len > MSG_MAX_LEN || c->out_len > (1u << 20))) {
        snprintf(err, errlen, "%s: the connection's pending data is too large", file);
        rc = EINVAL;
        goto out;
    }
    /* this host's ring and channel for the domain, as its toolstack wrote */
    char path[96];
    unsigned vlen;
    snprintf(path, sizeof(path), "/local/domain/%u/store/port", domid);
    char *port_s = xs_read(px->xs, XBT_NULL, path, &vlen);
    snprintf(path, sizeof(path), "/local/domain/%u/store/ring-ref", domid);
    char *gfn_s = xs_read(px->xs, XBT_NULL, path, &vlen);
    uint32_t port = port_s ? (uint32_t)strtoul(port_s, NULL, 10) : 0;
    uint64_t gfn = gfn_s ? strtoull(gfn_s, NULL, 10) : 0;
    free(port_s);
    free(gfn_s);
    if (!port) {
        snprintf(err, errlen, "domain %u has no store/port on this host: create it first",
                 domid);
        rc = ENOENT;
        goto out;
    }
    /* 1. the nodes, all or nothing */
    for (int attempt = 0;; attempt++) {
        xs_transaction_t t = xs_transaction_start(px->xs);
        if (t == XBT_NULL) {
            rc = errno ? errno : EIO;
            break;
        }
        bool ok = true;
        for (size_t i = 0; ok && i < s.nnodes; i++) {
            const struct xsrec_node *n = &s.nodes[i];
            if (n->conn_id)
                continue;   /* a transaction's view: not replayed yet */
            char *p = map_path(n->path, from_domid, domid);
            if (!p) {
                ok = false;
                break;
            }
            if (!is_host_node(p, domid)) {
                struct xs_permissions *perms = calloc(n->nperms ? n->nperms : 1, sizeof(*perms));
                ok = perms && xs_write(px->xs, t, p, n->value, (unsigned)n->value_len);
                for (size_t k = 0; ok && k < n->nperms; k++) {
                    perms[k].id = n->perms[k].domid == from_domid ? domid : n->perms[k].domid;
                    perms[k].perms = perm_bits(n->perms[k].perm);
                }
                ok = ok && (n->nperms == 0 ||
                            xs_set_permissions(px->xs, t, p, perms, (unsigned)n->nperms));
                free(perms);
            }
            free(p);
        }
        int e = errno;
        if (!ok) {
            xs_transaction_end(px->xs, t, true);
            rc = e ? e : EIO;
            break;
        }
        if (xs_transaction_end(px->xs, t, false))
            break;
        if (errno != EAGAIN || attempt == 9) {
            rc = errno ? errno : EIO;
            break;
        }
    }
    if (rc) {
        snprintf(err, errlen, "cannot write domain %u's nodes: %s", domid, strerror(rc));
        goto out;
    }
    /* 2. insert it quiesced: nothing from its ring before its state is back */
    if (domain_insert(px, domid, gfn, port, true, err, errlen) < 0) {
        rc = EINVAL;
        goto out;
    }
    struct domain *d = domain_find(px, domid);
    if (!xs_introduce_domain(px->xs, domid, gfn, port)) {
        rc = errno ? errno : EIO;
        snprintf(err, errlen, "xenstored refused INTRODUCE of domain %u: %s", domid,
                 strerror(rc));
        domain_remove(px, d);
        goto out;
    }
    /* 3. watches (as the domain, in order), transactions, pending data */
    for (size_t i = 0; i < s.nwatches; i++) {
        char *p = map_path(s.watches[i].path, from_domid, domid);
        const char *pair[2] = { p, s.watches[i].token };
        if (p)
            domain_add_watches(d, pair, 2);
        free(p);
    }
    for (size_t i = 0; i < s.ntxs; i++)
        restore_tx(d, &s, s.txs[i].conn_id, s.txs[i].tx_id, from_domid, domid);
    if (c) {
        bq_push(&d->to_guest, c->out_data, c->out_len);
        d->g_msg_left = (uint32_t)c->out_resp_len;
        if (c->in_len) {
            memcpy(d->in.bytes, c->in_data, c->in_len);
            d->in.got = (uint32_t)c->in_len;
        }
    }
    /* 4. serve it, once its transactions are replayed */
    if (s.ntxs)
        d->restoring = true;
    else
        d->quiesce = false;
    domain_pump(d);
    snprintf(err, errlen, "domain %u restored from %s (domain %u there): %zu nodes, %zu watches, "
             "%zu transactions\n", domid, file, from_domid, s.nnodes, s.nwatches, s.ntxs);
out:
    xsrec_stream_free(&s);
    return rc;
}
