/*
 * model.c - the in-memory stream: building it, comparing, releasing it,
 * and the readers, which fill it from a parse and keep nothing of a parse
 * that fails.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void *dup_mem(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

static char *dup_str(const char *s)
{
    return dup_mem(s, strlen(s) + 1);
}

static void free_conn(struct xsrec_conn *c)
{
    free((void *)c->in_data);
    free((void *)c->out_data);
}

static void free_node(struct xsrec_node *n)
{
    free((void *)n->path);
    free((void *)n->value);
    free((void *)n->perms);
}

void xsrec_stream_free(struct xsrec_stream *s)
{
    for (size_t i = 0; i < s->nconns; i++)
        free_conn(&s->conns[i]);
    for (size_t i = 0; i < s->nwatches; i++) {
        free((void *)s->watches[i].path);
        free((void *)s->watches[i].token);
    }
    for (size_t i = 0; i < s->nnodes; i++)
        free_node(&s->nodes[i]);
    for (size_t i = 0; i < s->ntx_ops; i++) {
        free((void *)s->tx_ops[i].req);
        free((void *)s->tx_ops[i].rsp);
    }
    free(s->tx_ops);
    free(s->conns);
    free(s->watches);
    free(s->txs);
    free(s->nodes);
    memset(s, 0, sizeof(*s));
}

int xsrec_set_global(struct xsrec_stream *s, int32_t socket_fd, int32_t evtchn_fd)
{
    s->has_global = true;
    s->global.socket_fd = socket_fd;
    s->global.evtchn_fd = evtchn_fd;
    return 0;
}

/*
 * The arrays grow at 4, 8, 16...: reserve() makes sure element n can be
 * written, reallocating when n reaches a power of two (n >= 4) or 0.
 */
static int reserve(void **arr, size_t n, size_t size)
{
    if (n != 0 && (n < 4 || (n & (n - 1))))
        return 0;
    size_t cap = n ? 2 * n : 4;
    if (cap > SIZE_MAX / size)
        return -1;
    void *p = realloc(*arr, cap * size);
    if (!p)
        return -1;
    *arr = p;
    return 0;
}

int xsrec_add_conn(struct xsrec_stream *s, const struct xsrec_conn *c)
{
    if (reserve((void **)&s->conns, s->nconns, sizeof(*s->conns)))
        return -1;
    struct xsrec_conn copy = *c;
    copy.in_data = dup_mem(c->in_data, c->in_len);
    copy.out_data = dup_mem(c->out_data, c->out_len);
    if (!copy.in_data || !copy.out_data) {
        free_conn(&copy);
        return -1;
    }
    s->conns[s->nconns++] = copy;
    return 0;
}

int xsrec_add_watch(struct xsrec_stream *s, uint32_t conn_id,
                    const char *path, const char *token)
{
    if (reserve((void **)&s->watches, s->nwatches, sizeof(*s->watches)))
        return -1;
    struct xsrec_watch w = { conn_id, dup_str(path), dup_str(token) };
    if (!w.path || !w.token) {
        free((void *)w.path);
        free((void *)w.token);
        return -1;
    }
    s->watches[s->nwatches++] = w;
    return 0;
}

int xsrec_add_tx(struct xsrec_stream *s, uint32_t conn_id, uint32_t tx_id)
{
    if (reserve((void **)&s->txs, s->ntxs, sizeof(*s->txs)))
        return -1;
    s->txs[s->ntxs].conn_id = conn_id;
    s->txs[s->ntxs].tx_id = tx_id;
    s->ntxs++;
    return 0;
}

int xsrec_add_node(struct xsrec_stream *s, const struct xsrec_node *n)
{
    if (reserve((void **)&s->nodes, s->nnodes, sizeof(*s->nodes)))
        return -1;
    struct xsrec_node copy = *n;
    copy.path = dup_str(n->path);
    copy.value = dup_mem(n->value, n->value_len);
    copy.perms = dup_mem(n->perms, n->nperms * sizeof(*n->perms));
    if (!copy.path || !copy.value || !copy.perms) {
        free_node(&copy);
        return -1;
    }
    s->nodes[s->nnodes++] = copy;
    return 0;
}

int xsrec_add_tx_op(struct xsrec_stream *s, const struct xsrec_tx_op *op)
{
    if (reserve((void **)&s->tx_ops, s->ntx_ops, sizeof(*s->tx_ops)))
        return -1;
    struct xsrec_tx_op copy = *op;
    copy.req = dup_mem(op->req, op->req_len);
    copy.rsp = dup_mem(op->rsp, op->rsp_len);
    if (!copy.req || !copy.rsp) {
        free((void *)copy.req);
        free((void *)copy.rsp);
        return -1;
    }
    s->tx_ops[s->ntx_ops++] = copy;
    return 0;
}

static bool mem_eq(const void *a, const void *b, size_t n)
{
    return n == 0 || !memcmp(a, b, n);
}

static bool tx_op_eq(const struct xsrec_tx_op *a, const struct xsrec_tx_op *b)
{
    return a->conn_id == b->conn_id && a->tx_id == b->tx_id && a->req_type == b->req_type &&
           a->rsp_type == b->rsp_type && a->req_len == b->req_len &&
           a->rsp_len == b->rsp_len && mem_eq(a->req, b->req, a->req_len) &&
           mem_eq(a->rsp, b->rsp, a->rsp_len);
}

static bool conn_eq(const struct xsrec_conn *a, const struct xsrec_conn *b)
{
    return a->id == b->id && a->type == b->type && a->domid == b->domid &&
           a->tdomid == b->tdomid && a->evtchn == b->evtchn &&
           a->socket_fd == b->socket_fd && a->in_len == b->in_len &&
           a->out_len == b->out_len && a->out_resp_len == b->out_resp_len &&
           mem_eq(a->in_data, b->in_data, a->in_len) &&
           mem_eq(a->out_data, b->out_data, a->out_len);
}

static bool node_eq(const struct xsrec_node *a, const struct xsrec_node *b)
{
    if (a->conn_id != b->conn_id || a->tx_id != b->tx_id || a->access != b->access ||
        strcmp(a->path, b->path) || a->value_len != b->value_len ||
        !mem_eq(a->value, b->value, a->value_len) || a->nperms != b->nperms)
        return false;
    for (size_t i = 0; i < a->nperms; i++)
        if (a->perms[i].perm != b->perms[i].perm ||
            a->perms[i].flags != b->perms[i].flags ||
            a->perms[i].domid != b->perms[i].domid)
            return false;
    return true;
}

/*
 * Watches and transactions compare per connection: the order of one
 * connection's watches is state (and kept), their interleaving with other
 * connections' is not (the writer groups them by connection).  Items of no
 * connection in the model compare as one more group.
 */
static bool owned(const struct xsrec_stream *s, uint32_t id, size_t conn)
{
    if (conn < s->nconns)
        return id == s->conns[conn].id;
    for (size_t c = 0; c < s->nconns; c++)
        if (s->conns[c].id == id)
            return false;
    return true;
}

static bool watches_eq(const struct xsrec_stream *a, const struct xsrec_stream *b,
                       size_t conn)
{
    size_t i = 0, j = 0;
    for (;;) {
        while (i < a->nwatches && !owned(a, a->watches[i].conn_id, conn))
            i++;
        while (j < b->nwatches && !owned(b, b->watches[j].conn_id, conn))
            j++;
        if (i == a->nwatches || j == b->nwatches)
            return i == a->nwatches && j == b->nwatches;
        if (a->watches[i].conn_id != b->watches[j].conn_id ||
            strcmp(a->watches[i].path, b->watches[j].path) ||
            strcmp(a->watches[i].token, b->watches[j].token))
            return false;
        i++;
        j++;
    }
}

static bool txs_eq(const struct xsrec_stream *a, const struct xsrec_stream *b, size_t conn)
{
    size_t i = 0, j = 0;
    for (;;) {
        while (i < a->ntxs && !owned(a, a->txs[i].conn_id, conn))
            i++;
        while (j < b->ntxs && !owned(b, b->txs[j].conn_id, conn))
            j++;
        if (i == a->ntxs || j == b->ntxs)
            return i == a->ntxs && j == b->ntxs;
        if (a->txs[i].conn_id != b->txs[j].conn_id || a->txs[i].tx_id != b->txs[j].tx_id)
            return false;
        i++;
        j++;
    }
}

bool xsrec_stream_equal(const struct xsrec_stream *a, const struct xsrec_stream *b)
{
    if (a->has_global != b->has_global || a->nconns != b->nconns ||
        a->nwatches != b->nwatches || a->ntxs != b->ntxs || a->nnodes != b->nnodes ||
        a->ntx_ops != b->ntx_ops)
        return false;
    if (a->has_global && (a->global.socket_fd != b->global.socket_fd ||
                          a->global.evtchn_fd != b->global.evtchn_fd))
        return false;
    for (size_t i = 0; i < a->nconns; i++)
        if (!conn_eq(&a->conns[i], &b->conns[i]))
            return false;
    /* conn == nconns: the group of items owned by no connection. */
    for (size_t c = 0; c <= a->nconns; c++)
        if (!watches_eq(a, b, c) || !txs_eq(a, b, c))
            return false;
    for (size_t i = 0; i < a->nnodes; i++)
        if (!node_eq(&a->nodes[i], &b->nodes[i]))
            return false;
    /* the writer emits each transaction's log in order, by connection */
    for (size_t i = 0; i < a->ntx_ops; i++)
        if (!tx_op_eq(&a->tx_ops[i], &b->tx_ops[i]))
            return false;
    return true;
}

/* ------------------------------------------------------------- readers */

/* The visitor that copies each record into the model. */
static int add_record(void *ctx, const struct xsrec_record *rec, struct xsrec_error *err)
{
    struct xsrec_stream *s = ctx;
    int rc = 0;

    switch (rec->kind) {
    case XSREC_K_HEADER:
    case XSREC_K_END:
        break;
    case XSREC_K_GLOBAL:
        rc = xsrec_set_global(s, rec->global->socket_fd, rec->global->evtchn_fd);
        break;
    case XSREC_K_CONN:
        rc = xsrec_add_conn(s, rec->conn);
        break;
    case XSREC_K_WATCH:
        rc = xsrec_add_watch(s, rec->watch->conn_id, rec->watch->path, rec->watch->token);
        break;
    case XSREC_K_TX:
        for (size_t i = 0; !rc && i < rec->ntxs; i++)
            rc = xsrec_add_tx(s, rec->txs[i].conn_id, rec->txs[i].tx_id);
        break;
    case XSREC_K_NODE:
        rc = xsrec_add_node(s, rec->node);
        break;
    case XSREC_K_TX_OP:
        rc = xsrec_add_tx_op(s, rec->tx_op);
        break;
    }
    if (rc)
        return xsrec__fail(err, rec->offset, "no-memory", "out of memory");
    return 0;
}

/* Seed watches and transactions refer to a connection the seed lacks. */
static int add_placeholder(struct xsrec_stream *s, struct xsrec_error *err)
{
    if (!s->nwatches && !s->ntxs)
        return 0;
    struct xsrec_conn c = {
        .id = XSREC_SEED_CONN_ID, .type = XSREC_CONN_RING,
        .domid = XSREC_DOMID_INVALID, .tdomid = XSREC_DOMID_INVALID,
    };
    if (xsrec_add_conn(s, &c))
        return xsrec__fail(err, 0, "no-memory", "out of memory");
    return 0;
}

static int read_as(enum xsrec_format want, const uint8_t *buf, size_t len,
                   struct xsrec_stream *out, struct xsrec_info *info,
                   struct xsrec_error *err)
{
    struct xsrec_info local;
    int rc;

    if (!info)
        info = &local;
    memset(out, 0, sizeof(*out));
    if (err)
        memset(err, 0, sizeof(*err));
    if (want == XSREC_FMT_UPSTREAM)
        rc = xsrec__parse_upstream(buf, len, add_record, out, info, err);
    else if (want == XSREC_FMT_SEED)
        rc = xsrec__parse_seed(buf, len, add_record, out, info, err);
    else
        rc = xsrec_parse(buf, len, add_record, out, info, err);
    if (!rc && info->format == XSREC_FMT_SEED)
        rc = add_placeholder(out, err);
    if (rc)
        xsrec_stream_free(out);  /* all or nothing */
    return rc;
}

int xsrec_read(const uint8_t *buf, size_t len, struct xsrec_stream *out,
               struct xsrec_info *info, struct xsrec_error *err)
{
    return read_as(XSREC_FMT_UNKNOWN, buf, len, out, info, err);
}

int xsrec_read_upstream(const uint8_t *buf, size_t len, struct xsrec_stream *out,
                        struct xsrec_error *err)
{
    return read_as(XSREC_FMT_UPSTREAM, buf, len, out, NULL, err);
}

int xsrec_read_seed(const uint8_t *buf, size_t len, struct xsrec_stream *out,
                    struct xsrec_error *err)
{
    return read_as(XSREC_FMT_SEED, buf, len, out, NULL, err);
}
