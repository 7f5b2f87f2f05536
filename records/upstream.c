/*
 * upstream.c - the upstream xenstore migration stream
 * (Xen's docs/designs/xenstore-migration.md, version 1): its parser, which
 * checks every rule and hands decoded records to a visitor, and its writer.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define GLOBAL_LEN 8u
#define CONN_FIXED 24u   /* conn-id .. out-data-len */
#define WATCH_FIXED 8u
#define TX_LEN 8u
#define NODE_FIXED 16u
#define PERM_LEN 4u
#define TX_OP_FIXED 24u  /* conn-id, tx-id, req-type, rsp-type, req-len, rsp-len */

struct up_parser {
    const uint8_t *buf;
    size_t len;
    bool big;
    bool swap;                   /* stream order differs from the host's */
    struct xsrec_idset conns;    /* conn-ids defined so far */
    struct xsrec_idset txs;      /* (conn-id, tx-id) defined so far */
    struct xsrec_scratch perms, data;
    struct xsrec_error *err;
};

/* Room for the view of any one record. */
union up_view {
    struct xsrec_global g;
    struct xsrec_conn c;
    struct xsrec_watch w;
    struct xsrec_tx t;
    struct xsrec_node n;
    struct xsrec_tx_op op;
};

/*
 * Each decoder checks one record body (at `off`, of the length in `rec`'s
 * header, which fits in the buffer with its padding), fills its view in
 * `v` and points `rec` at it, and returns the octets its contents take,
 * or -1.
 */
typedef long long up_decoder(struct up_parser *p, size_t off, struct xsrec_record *rec,
                             union up_view *v);

static long long dec_global(struct up_parser *p, size_t off, struct xsrec_record *rec,
                            union up_view *v)
{
    struct xsrec_global *g = &v->g;
    const uint8_t *b = p->buf + off;

    if (xsrec__check_fixed(rec, GLOBAL_LEN, false, p->err))
        return -1;
    g->socket_fd = (int32_t)xsrec__get32(b, p->big);
    g->evtchn_fd = (int32_t)xsrec__get32(b + 4, p->big);
    rec->global = g;
    return GLOBAL_LEN;
}

static long long dec_conn(struct up_parser *p, size_t off, struct xsrec_record *rec,
                          union up_view *v)
{
    struct xsrec_conn *c = &v->c;
    const uint8_t *b = p->buf + off;
    uint32_t len = rec->len;

    if (xsrec__check_fixed(rec, CONN_FIXED, true, p->err))
        return -1;
    memset(c, 0, sizeof(*c));
    c->id = xsrec__get32(b, p->big);
    c->type = xsrec__get16(b + 4, p->big);
    uint16_t fields = xsrec__get16(b + 6, p->big);
    if (c->id == 0)
        return xsrec__fail(p->err, off, "conn-id", "conn-id 0 is reserved");
    if (xsrec__idset_has(&p->conns, c->id))
        return xsrec__fail(p->err, off, "duplicate",
                           "conn-id %u is defined twice", c->id);
    if (c->type != XSREC_CONN_RING && c->type != XSREC_CONN_SOCKET)
        return xsrec__fail(p->err, off + 4, "conn-type",
                           "conn-type %u is neither ring (0) nor socket (1)", c->type);
    /* Later revisions put a "fields" bitmap here; version 1 has none. */
    if (fields)
        return xsrec__fail(p->err, off + 6, "reserved",
                           "octets 6-7 of CONNECTION_DATA must be 0 in version 1, not 0x%04x",
                           fields);
    if (c->type == XSREC_CONN_RING) {
        c->domid = xsrec__get16(b + 8, p->big);
        c->tdomid = xsrec__get16(b + 10, p->big);
        c->evtchn = xsrec__get32(b + 12, p->big);
    } else {
        c->socket_fd = (int32_t)xsrec__get32(b + 8, p->big);
        if (xsrec__get32(b + 12, p->big))
            return xsrec__fail(p->err, off + 12, "reserved",
                               "the pad of a socket connection's conn-spec is not 0");
    }
    c->in_len = xsrec__get16(b + 16, p->big);
    c->out_resp_len = xsrec__get16(b + 18, p->big);
    c->out_len = xsrec__get32(b + 20, p->big);
    uint64_t need = (uint64_t)CONN_FIXED + c->in_len + c->out_len;
    if (need > len)
        return xsrec__fail(p->err, off - 4, "record-length",
                           "in-data-len %zu and out-data-len %zu need %llu octets, len is %u",
                           c->in_len, c->out_len, (unsigned long long)need, len);
    if (c->out_resp_len > c->out_len)
        return xsrec__fail(p->err, off + 18, "conn-data",
                           "out-resp-len %zu exceeds out-data-len %zu",
                           c->out_resp_len, c->out_len);

    /* Pending data goes to the visitor in host order (see xsrecords.h). */
    const uint8_t *in = b + CONN_FIXED, *out = in + c->in_len;
    uint8_t *copy = NULL;
    if (p->swap) {
        copy = xsrec__scratch(&p->data, c->in_len + c->out_len);
        if (!copy)
            return xsrec__fail(p->err, off, "no-memory", "out of memory");
        memcpy(copy, in, c->in_len + c->out_len);
    }
    size_t in_off = off + CONN_FIXED;
    if (xsrec__walk_msgs(in, c->in_len, p->big, true, copy, in_off, "in-data", p->err))
        return -1;
    if (xsrec__walk_msgs(out + c->out_resp_len, c->out_len - c->out_resp_len, p->big,
                         false, copy ? copy + c->in_len + c->out_resp_len : NULL,
                         in_off + c->in_len + c->out_resp_len, "out-data", p->err))
        return -1;
    c->in_data = copy ? copy : in;
    c->out_data = copy ? copy + c->in_len : out;
    if (xsrec__idset_add(&p->conns, c->id) < 0)
        return xsrec__fail(p->err, off, "no-memory", "out of memory");
    rec->conn = c;
    return (long long)need;
}

/* A record naming conn-id `id` needs an earlier CONNECTION_DATA. */
static int need_conn(struct up_parser *p, uint32_t id, size_t off, const char *what)
{
    if (id == 0)
        return xsrec__fail(p->err, off, "conn-id", "%s names conn-id 0", what);
    if (!xsrec__idset_has(&p->conns, id))
        return xsrec__fail(p->err, off, "dependency",
                           "%s for conn-id %u, which no earlier CONNECTION_DATA defines",
                           what, id);
    return 0;
}

static long long dec_watch(struct up_parser *p, size_t off, struct xsrec_record *rec,
                           union up_view *v)
{
    struct xsrec_watch *w = &v->w;
    const uint8_t *b = p->buf + off;
    uint32_t len = rec->len;

    if (xsrec__check_fixed(rec, WATCH_FIXED, true, p->err))
        return -1;
    w->conn_id = xsrec__get32(b, p->big);
    uint16_t plen = xsrec__get16(b + 4, p->big), tlen = xsrec__get16(b + 6, p->big);
    uint64_t need = (uint64_t)WATCH_FIXED + plen + tlen;
    if (need > len)
        return xsrec__fail(p->err, off - 4, "record-length",
                           "wpath-len %u and token-len %u need %llu octets, len is %u",
                           plen, tlen, (unsigned long long)need, len);
    if (need_conn(p, w->conn_id, off, "WATCH_DATA"))
        return -1;
    size_t poff = off + WATCH_FIXED, toff = poff + plen;
    if (xsrec__check_cstr(b + WATCH_FIXED, plen, poff, "path", "wpath", p->err) ||
        xsrec__check_cstr(b + WATCH_FIXED + plen, tlen, toff, "token", "token", p->err))
        return -1;
    w->path = (const char *)b + WATCH_FIXED;
    w->token = (const char *)b + WATCH_FIXED + plen;
    if (xsrec__check_watch_path(w->path, poff, p->err))
        return -1;
    /* It must be re-registrable: WATCH <path>|<token>| */
    if ((size_t)plen + tlen > XENSTORE_PAYLOAD_MAX)
        return xsrec__fail(p->err, off + 4, "payload-limit",
                           "path and token of %u octets do not fit a WATCH (%d)",
                           plen + tlen, XENSTORE_PAYLOAD_MAX);
    rec->watch = w;
    return (long long)need;
}

static long long dec_tx(struct up_parser *p, size_t off, struct xsrec_record *rec,
                        union up_view *v)
{
    struct xsrec_tx *t = &v->t;
    const uint8_t *b = p->buf + off;

    if (xsrec__check_fixed(rec, TX_LEN, false, p->err))
        return -1;
    t->conn_id = xsrec__get32(b, p->big);
    t->tx_id = xsrec__get32(b + 4, p->big);
    if (need_conn(p, t->conn_id, off, "TRANSACTION_DATA"))
        return -1;
    if (t->tx_id == 0)
        return xsrec__fail(p->err, off + 4, "tx-id", "tx-id 0 means no transaction");
    int r = xsrec__idset_add(&p->txs, xsrec__txkey(t->conn_id, t->tx_id));
    if (r < 0)
        return xsrec__fail(p->err, off, "no-memory", "out of memory");
    if (r == 0)
        return xsrec__fail(p->err, off + 4, "duplicate",
                           "transaction %u of conn-id %u is defined twice",
                           t->tx_id, t->conn_id);
    rec->txs = t;
    rec->ntxs = 1;
    return TX_LEN;
}

static long long dec_node(struct up_parser *p, size_t off, struct xsrec_record *rec,
                          union up_view *v)
{
    struct xsrec_node *n = &v->n;
    const uint8_t *b = p->buf + off;
    uint32_t len = rec->len;

    if (xsrec__check_fixed(rec, NODE_FIXED, true, p->err))
        return -1;
    memset(n, 0, sizeof(*n));
    n->conn_id = xsrec__get32(b, p->big);
    n->tx_id = xsrec__get32(b + 4, p->big);
    uint16_t plen = xsrec__get16(b + 8, p->big);
    n->value_len = xsrec__get16(b + 10, p->big);
    n->access = xsrec__get16(b + 12, p->big);
    n->nperms = xsrec__get16(b + 14, p->big);
    uint64_t need = (uint64_t)NODE_FIXED + PERM_LEN * n->nperms + plen + n->value_len;
    if (need > len)
        return xsrec__fail(p->err, off - 4, "record-length",
                           "%zu permissions, path-len %u and value-len %zu need %llu "
                           "octets, len is %u", n->nperms, plen, n->value_len,
                           (unsigned long long)need, len);
    if (n->conn_id) {
        /* A pending node: its transaction must come first. */
        if (!xsrec__idset_has(&p->txs, xsrec__txkey(n->conn_id, n->tx_id)))
            return xsrec__fail(p->err, off, "dependency",
                               "NODE_DATA for transaction %u of conn-id %u, which no "
                               "earlier TRANSACTION_DATA defines", n->tx_id, n->conn_id);
        if (n->access & ~(XSREC_ACCESS_READ | XSREC_ACCESS_WRITTEN))
            return xsrec__fail(p->err, off + 12, "reserved",
                               "unknown access bits 0x%04x", n->access);
        if (n->nperms == 0 && n->value_len)
            return xsrec__fail(p->err, off + 10, "deleted-node",
                               "a node deleted in its transaction has value-len %zu, not 0",
                               n->value_len);
        if (n->nperms == 0 && n->access)
            return xsrec__fail(p->err, off + 12, "deleted-node",
                               "a node deleted in its transaction has access 0x%x, not 0",
                               n->access);
    } else if (n->nperms == 0) {
        return xsrec__fail(p->err, off + 14, "perm",
                           "a committed node needs at least its owner's permission");
    }

    struct xsrec_perm *perms = xsrec__scratch(&p->perms, n->nperms * sizeof(*perms));
    if (!perms)
        return xsrec__fail(p->err, off, "no-memory", "out of memory");
    size_t poff = off + NODE_FIXED;
    for (size_t i = 0; i < n->nperms; i++, poff += PERM_LEN) {
        const uint8_t *q = p->buf + poff;
        perms[i].perm = (char)q[0];
        perms[i].flags = q[1];
        perms[i].domid = xsrec__get16(q + 2, p->big);
        if (xsrec__check_perm(&perms[i], poff, p->err))
            return -1;
    }
    n->perms = perms;
    if (xsrec__check_cstr(p->buf + poff, plen, poff, "path", "path", p->err))
        return -1;
    n->path = (const char *)p->buf + poff;
    if (xsrec__check_node_path(n->path, poff, p->err))
        return -1;
    n->value = p->buf + poff + plen;
    if (xsrec__check_node_limits(n, off + 10, off + 14, p->err))
        return -1;
    rec->node = n;
    return (long long)need;
}

/* The operations a transaction's log may hold: those a transaction reads
 * or writes the store with. */
static bool tx_op_type_ok(uint32_t t)
{
    switch (t) {
    case XS_READ: case XS_WRITE: case XS_MKDIR: case XS_RM: case XS_DIRECTORY:
    case XS_DIRECTORY_PART: case XS_GET_PERMS: case XS_SET_PERMS:
        return true;
    default:
        return false;
    }
}

static long long dec_tx_op(struct up_parser *p, size_t off, struct xsrec_record *rec,
                           union up_view *v)
{
    struct xsrec_tx_op *op = &v->op;
    const uint8_t *b = p->buf + off;
    uint32_t len = rec->len;

    if (xsrec__check_fixed(rec, TX_OP_FIXED, true, p->err))
        return -1;
    memset(op, 0, sizeof(*op));
    op->conn_id = xsrec__get32(b, p->big);
    op->tx_id = xsrec__get32(b + 4, p->big);
    op->req_type = xsrec__get32(b + 8, p->big);
    op->rsp_type = xsrec__get32(b + 12, p->big);
    op->req_len = xsrec__get32(b + 16, p->big);
    op->rsp_len = xsrec__get32(b + 20, p->big);
    if (op->req_len > XENSTORE_PAYLOAD_MAX || op->rsp_len > XENSTORE_PAYLOAD_MAX)
        return xsrec__fail(p->err, off + (op->req_len > XENSTORE_PAYLOAD_MAX ? 16 : 20),
                           "payload-limit", "a payload of %zu octets is over %d",
                           op->req_len > XENSTORE_PAYLOAD_MAX ? op->req_len : op->rsp_len,
                           XENSTORE_PAYLOAD_MAX);
    uint64_t need = (uint64_t)TX_OP_FIXED + op->req_len + op->rsp_len;
    if (need > len)
        return xsrec__fail(p->err, off - 4, "record-length",
                           "req-len %zu and rsp-len %zu need %llu octets, len is %u",
                           op->req_len, op->rsp_len, (unsigned long long)need, len);
    if (need_conn(p, op->conn_id, off, "TX_OP"))
        return -1;
    if (!xsrec__idset_has(&p->txs, xsrec__txkey(op->conn_id, op->tx_id)))
        return xsrec__fail(p->err, off + 4, "dependency",
                           "TX_OP for transaction %u of conn-id %u, which no earlier "
                           "TRANSACTION_DATA defines", op->tx_id, op->conn_id);
    if (op->req_type == XSREC_TX_OP_CUT) {
        if (op->rsp_type || op->req_len || op->rsp_len)
            return xsrec__fail(p->err, off + 12, "tx-op",
                               "a cut-short marker has no reply and no payloads");
    } else if (!tx_op_type_ok(op->req_type)) {
        return xsrec__fail(p->err, off + 8, "tx-op",
                           "request type %u is not an operation of a transaction's log",
                           op->req_type);
    } else if (op->rsp_type != op->req_type && op->rsp_type != XS_ERROR) {
        return xsrec__fail(p->err, off + 12, "tx-op",
                           "reply type %u answers neither request type %u nor is an error",
                           op->rsp_type, op->req_type);
    }
    op->req = b + TX_OP_FIXED;
    op->rsp = b + TX_OP_FIXED + op->req_len;
    rec->tx_op = op;
    return (long long)need;
}

/* The record types of this revision (and xsproxy's TX_OP): their kinds
 * and decoders (END has no contents). */
struct up_type {
    uint32_t type;
    enum xsrec_kind kind;
    up_decoder *dec;
};
static const struct up_type up_types[] = {
    { XSREC_UP_END, XSREC_K_END, NULL },
    { XSREC_UP_GLOBAL, XSREC_K_GLOBAL, dec_global },
    { XSREC_UP_CONN, XSREC_K_CONN, dec_conn },
    { XSREC_UP_WATCH, XSREC_K_WATCH, dec_watch },
    { XSREC_UP_TX, XSREC_K_TX, dec_tx },
    { XSREC_UP_NODE, XSREC_K_NODE, dec_node },
    { XSREC_UP_TX_OP, XSREC_K_TX_OP, dec_tx_op },
};

/* TYPE's entry in up_types, or NULL. */
static const struct up_type *up_type(uint32_t type)
{
    for (size_t i = 0; i < sizeof(up_types) / sizeof(up_types[0]); i++)
        if (up_types[i].type == type)
            return &up_types[i];
    return NULL;
}

/* REC's body at BODY, decoded into V by its type's decoder: the octets its
 * contents take, or -1.  Its type is one of up_types (check_type). */
static long long dec_record(struct up_parser *p, size_t body, struct xsrec_record *rec,
                            union up_view *v)
{
    const struct up_type *t = up_type(rec->type);
    rec->kind = t->kind;
    return t->dec ? t->dec(p, body, rec, v) : 0;
}

/* A type of up_types, in its place: GLOBAL_DATA first and once. */
static int check_type(struct up_parser *p, const struct xsrec_record *rec,
                      const struct xsrec_info *info)
{
    uint32_t type = rec->type;
    if (!up_type(type))
        return xsrec__fail(p->err, rec->offset, "record-type",
                           type <= 8 ? "record type %u (%s) belongs to later revisions "
                                       "of the format and is not supported"
                                     : "unknown record type %u%s",
                           type, type <= 8 ? xsrec_type_name(XSREC_FMT_UPSTREAM, type)
                                           : "");
    if (type == XSREC_UP_GLOBAL && info->nrecords)
        return xsrec__fail(p->err, rec->offset, "global-first",
                           "GLOBAL_DATA must be the first record and appear once");
    return 0;
}

static int parse_records(struct up_parser *p, xsrec_visit_fn visit, void *ctx,
                         struct xsrec_info *info)
{
    size_t off = XSREC_HDR_LEN;
    bool end = false;

    while (!end && off < p->len) {
        struct xsrec_record rec;
        uint64_t padded;
        if (xsrec__read_rec_header(p->buf, p->len, off, p->big, XSREC_FMT_UPSTREAM, &rec,
                                   p->err) ||
            check_type(p, &rec, info) || xsrec__rec_fits(&rec, p->len, &padded, p->err))
            return -1;
        size_t body = off + XSREC_REC_HDR_LEN;
        uint32_t len = rec.len;
        union up_view v;
        long long used = dec_record(p, body, &rec, &v);
        if (used < 0)
            return -1;
        end = rec.kind == XSREC_K_END;
        /* len is the contents, or the contents padded (C xenstored). */
        if (len != (uint64_t)used && len != xsrec__pad8((uint64_t)used))
            return xsrec__fail(p->err, off + 4, "record-length",
                               "len %u matches neither the %lld octets of the %s "
                               "contents nor their padded size", len, used,
                               xsrec_type_name(XSREC_FMT_UPSTREAM, rec.type));
        if (xsrec__check_padding(p->buf, body + (size_t)used, body + (size_t)padded, p->err))
            return -1;
        if (xsrec__visit(visit, ctx, &rec, p->err))
            return -1;
        info->nrecords++;
        off = body + (size_t)padded;
    }
    if (!end)
        return xsrec__fail(p->err, off, "end-missing",
                           "the stream ends after %zu records without an END record",
                           info->nrecords);
    if (off != p->len)
        return xsrec__fail(p->err, off, "trailing-data",
                           "%zu octets follow the END record", p->len - off);
    return 0;
}

int xsrec__parse_upstream(const uint8_t *buf, size_t len, xsrec_visit_fn visit,
                          void *ctx, struct xsrec_info *info, struct xsrec_error *err)
{
    struct xsrec_info local;
    if (!info)
        info = &local;
    uint32_t flags;
    if (xsrec__parse_file_header(buf, len, XSREC_FMT_UPSTREAM, info, &flags, err))
        return -1;
    if (flags & ~1u)
        return xsrec__fail(err, 12, "flags",
                           "reserved flag bits 0x%08x are set", flags & ~1u);
    info->order = (flags & 1u) ? XSREC_BIG_ENDIAN : XSREC_LITTLE_ENDIAN;

    struct up_parser p = {
        .buf = buf, .len = len, .big = info->order == XSREC_BIG_ENDIAN,
        .swap = info->order != xsrec_host_order(), .err = err,
    };
    int rc = xsrec__visit_header(XSREC_FMT_UPSTREAM, info, visit, ctx, err);
    if (!rc)
        rc = parse_records(&p, visit, ctx, info);
    xsrec__idset_free(&p.conns);
    xsrec__idset_free(&p.txs);
    xsrec__scratch_free(&p.perms);
    xsrec__scratch_free(&p.data);
    return rc;
}

/* ------------------------------------------------------------- writer */

struct up_writer {
    struct xsrec_obuf ob;
    bool big;
    bool exact_len;
    struct xsrec_error *err;
};

static size_t rec_begin(struct up_writer *w, uint32_t type)
{
    size_t at = w->ob.len;
    xsrec__ob_u32(&w->ob, type, w->big);
    xsrec__ob_u32(&w->ob, 0, w->big);  /* len, set by rec_end */
    return at;
}

static void rec_end(struct up_writer *w, size_t at)
{
    if (w->ob.oom)
        return;
    size_t used = w->ob.len - at - XSREC_REC_HDR_LEN;
    size_t padded = (size_t)xsrec__pad8(used);
    xsrec__put32(w->ob.p + at + 4, (uint32_t)(w->exact_len ? used : padded), w->big);
    xsrec__ob_zero(&w->ob, padded - used);
}

static int range(struct up_writer *w, uint64_t v, uint64_t max, const char *what)
{
    if (v <= max)
        return 0;
    return xsrec__fail(w->err, w->ob.len, "field-range",
                       "%s %llu does not fit its field (at most %llu)", what,
                       (unsigned long long)v, (unsigned long long)max);
}

static int put_conn(struct up_writer *w, const struct xsrec_conn *c)
{
    if (range(w, c->in_len, UINT16_MAX, "in-data-len") ||
        range(w, c->out_resp_len, UINT16_MAX, "out-resp-len") ||
        range(w, c->out_len, UINT32_MAX, "out-data-len"))
        return -1;
    if (c->out_resp_len > c->out_len)
        return xsrec__fail(w->err, w->ob.len, "conn-data",
                           "out-resp-len %zu exceeds out-data-len %zu",
                           c->out_resp_len, c->out_len);
    size_t at = rec_begin(w, XSREC_UP_CONN);
    xsrec__ob_u32(&w->ob, c->id, w->big);
    xsrec__ob_u16(&w->ob, c->type, w->big);
    xsrec__ob_u16(&w->ob, 0, w->big);
    if (c->type == XSREC_CONN_SOCKET) {
        xsrec__ob_u32(&w->ob, (uint32_t)c->socket_fd, w->big);
        xsrec__ob_u32(&w->ob, 0, w->big);
    } else {
        xsrec__ob_u16(&w->ob, c->domid, w->big);
        xsrec__ob_u16(&w->ob, c->tdomid, w->big);
        xsrec__ob_u32(&w->ob, c->evtchn, w->big);
    }
    xsrec__ob_u16(&w->ob, (uint16_t)c->in_len, w->big);
    xsrec__ob_u16(&w->ob, (uint16_t)c->out_resp_len, w->big);
    xsrec__ob_u32(&w->ob, (uint32_t)c->out_len, w->big);
    size_t data = w->ob.len;
    xsrec__ob_put(&w->ob, c->in_data, c->in_len);
    xsrec__ob_put(&w->ob, c->out_data, c->out_len);
    if (w->ob.oom)
        return 0;  /* reported once, by the caller */
    /* The model's message headers are in host order; the stream's may differ. */
    if (w->big != (xsrec_host_order() == XSREC_BIG_ENDIAN)) {
        bool host_big = !w->big;
        uint8_t *d = w->ob.p + data;
        if (xsrec__walk_msgs(d, c->in_len, host_big, true, d, data, "in-data", w->err) ||
            xsrec__walk_msgs(d + c->in_len + c->out_resp_len, c->out_len - c->out_resp_len,
                             host_big, false, d + c->in_len + c->out_resp_len,
                             data + c->in_len + c->out_resp_len, "out-data", w->err))
            return -1;
    }
    rec_end(w, at);
    return 0;
}

static int put_watch(struct up_writer *w, const struct xsrec_watch *wa)
{
    size_t plen = strlen(wa->path) + 1, tlen = strlen(wa->token) + 1;
    if (range(w, plen, UINT16_MAX, "wpath-len") || range(w, tlen, UINT16_MAX, "token-len"))
        return -1;
    size_t at = rec_begin(w, XSREC_UP_WATCH);
    xsrec__ob_u32(&w->ob, wa->conn_id, w->big);
    xsrec__ob_u16(&w->ob, (uint16_t)plen, w->big);
    xsrec__ob_u16(&w->ob, (uint16_t)tlen, w->big);
    xsrec__ob_put(&w->ob, wa->path, plen);
    xsrec__ob_put(&w->ob, wa->token, tlen);
    rec_end(w, at);
    return 0;
}

static int put_node(struct up_writer *w, const struct xsrec_node *n)
{
    size_t plen = strlen(n->path) + 1;
    if (range(w, plen, UINT16_MAX, "path-len") ||
        range(w, n->value_len, UINT16_MAX, "value-len") ||
        range(w, n->nperms, UINT16_MAX, "perm-count"))
        return -1;
    size_t at = rec_begin(w, XSREC_UP_NODE);
    xsrec__ob_u32(&w->ob, n->conn_id, w->big);
    xsrec__ob_u32(&w->ob, n->tx_id, w->big);
    xsrec__ob_u16(&w->ob, (uint16_t)plen, w->big);
    xsrec__ob_u16(&w->ob, (uint16_t)n->value_len, w->big);
    xsrec__ob_u16(&w->ob, n->access, w->big);
    xsrec__ob_u16(&w->ob, (uint16_t)n->nperms, w->big);
    for (size_t i = 0; i < n->nperms; i++) {
        uint8_t pf[2] = { (uint8_t)n->perms[i].perm, n->perms[i].flags };
        xsrec__ob_put(&w->ob, pf, 2);
        xsrec__ob_u16(&w->ob, n->perms[i].domid, w->big);
    }
    xsrec__ob_put(&w->ob, n->path, plen);
    xsrec__ob_put(&w->ob, n->value, n->value_len);
    rec_end(w, at);
    return 0;
}

static int put_tx_op(struct up_writer *w, const struct xsrec_tx_op *op)
{
    if (range(w, op->req_len, XENSTORE_PAYLOAD_MAX, "req-len") ||
        range(w, op->rsp_len, XENSTORE_PAYLOAD_MAX, "rsp-len"))
        return -1;
    size_t at = rec_begin(w, XSREC_UP_TX_OP);
    xsrec__ob_u32(&w->ob, op->conn_id, w->big);
    xsrec__ob_u32(&w->ob, op->tx_id, w->big);
    xsrec__ob_u32(&w->ob, op->req_type, w->big);
    xsrec__ob_u32(&w->ob, op->rsp_type, w->big);
    xsrec__ob_u32(&w->ob, (uint32_t)op->req_len, w->big);
    xsrec__ob_u32(&w->ob, (uint32_t)op->rsp_len, w->big);
    xsrec__ob_put(&w->ob, op->req, op->req_len);
    xsrec__ob_put(&w->ob, op->rsp, op->rsp_len);
    rec_end(w, at);
    return 0;
}

/* Every watch and transaction must belong to a connection of the model. */
static int check_owners(struct up_writer *w, const struct xsrec_stream *s)
{
    for (size_t i = 0; i < s->nwatches + s->ntxs; i++) {
        uint32_t id = i < s->nwatches ? s->watches[i].conn_id
                                      : s->txs[i - s->nwatches].conn_id;
        size_t c = 0;
        while (c < s->nconns && s->conns[c].id != id)
            c++;
        if (c == s->nconns)
            return xsrec__fail(w->err, 0, "dependency", "%s %zu belongs to conn-id %u, "
                               "which is none of the model's connections",
                               i < s->nwatches ? "watch" : "transaction",
                               i < s->nwatches ? i : i - s->nwatches, id);
    }
    return 0;
}

int xsrec_write_upstream(const struct xsrec_stream *s, enum xsrec_byteorder order,
                         unsigned flags, uint8_t **out, size_t *out_len,
                         struct xsrec_error *err)
{
    struct up_writer w = {
        .big = order == XSREC_BIG_ENDIAN,
        .exact_len = flags & XSREC_UP_EXACT_LEN,
        .err = err,
    };
    *out = NULL;
    *out_len = 0;
    if (err)
        memset(err, 0, sizeof(*err));

    xsrec__ob_put(&w.ob, XSREC_UP_IDENT, XSREC_IDENT_LEN);
    xsrec__ob_u32(&w.ob, XSREC_VERSION, true);  /* big-endian */
    xsrec__ob_u32(&w.ob, w.big ? 1 : 0, true);  /* flags, big-endian */
    if (s->has_global) {
        size_t at = rec_begin(&w, XSREC_UP_GLOBAL);
        xsrec__ob_u32(&w.ob, (uint32_t)s->global.socket_fd, w.big);
        xsrec__ob_u32(&w.ob, (uint32_t)s->global.evtchn_fd, w.big);
        rec_end(&w, at);
    }
    /* Each connection followed by its watches and transactions, as C
     * xenstored writes it; a watch or transaction of no connection in the
     * model is an error (it would otherwise vanish). */
    int rc = check_owners(&w, s);
    for (size_t i = 0; !rc && i < s->nconns; i++) {
        uint32_t id = s->conns[i].id;
        rc = put_conn(&w, &s->conns[i]);
        for (size_t j = 0; !rc && j < s->nwatches; j++)
            if (s->watches[j].conn_id == id)
                rc = put_watch(&w, &s->watches[j]);
        for (size_t j = 0; !rc && j < s->ntxs; j++) {
            if (s->txs[j].conn_id != id)
                continue;
            size_t at = rec_begin(&w, XSREC_UP_TX);
            xsrec__ob_u32(&w.ob, id, w.big);
            xsrec__ob_u32(&w.ob, s->txs[j].tx_id, w.big);
            rec_end(&w, at);
        }
        /* then their logs, which depend on them (xsproxy's records) */
        for (size_t j = 0; !rc && j < s->ntx_ops; j++)
            if (s->tx_ops[j].conn_id == id)
                rc = put_tx_op(&w, &s->tx_ops[j]);
    }
    for (size_t i = 0; !rc && i < s->nnodes; i++)
        rc = put_node(&w, &s->nodes[i]);
    if (!rc)
        rec_end(&w, rec_begin(&w, XSREC_UP_END));
    if (!rc && w.ob.oom)
        rc = xsrec__fail(err, 0, "no-memory", "out of memory");
    /* Never hand out a stream that breaks a rule. */
    if (!rc)
        rc = xsrec__parse_upstream(w.ob.p, w.ob.len, NULL, NULL, NULL, err);
    if (rc) {
        free(w.ob.p);
        return -1;
    }
    *out = w.ob.p;
    *out_len = w.ob.len;
    return 0;
}
