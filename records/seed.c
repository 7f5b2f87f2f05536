/*
 * seed.c - the seed's record format (node data, watch data, transaction
 * data of one domain, as the project's seed design and its review describe
 * them) in this project's container: parser and writer.  The layout is in
 * FORMAT.md; everything is little-endian.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct seed_parser {
    const uint8_t *buf;
    size_t len;
    struct xsrec_idset txs;
    struct xsrec_scratch perms, txlist;
    struct xsrec_error *err;
};

/* "<letter><decimal domid>", canonical (no sign, no leading zeros). */
static int parse_perm(const char *s, struct xsrec_perm *p, size_t off,
                      struct xsrec_error *err)
{
    size_t n = strlen(s);
    unsigned long v = 0;

    if (n < 2 || n > 6)
        return xsrec__fail(err, off, "perm", "permission \"%.8s\" is not <r|w|b|n><domid>", s);
    for (size_t i = 1; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || (i == 1 && s[i] == '0' && n > 2))
            return xsrec__fail(err, off, "perm",
                               "permission \"%s\": domid is not a plain decimal", s);
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > UINT16_MAX)
        return xsrec__fail(err, off, "perm", "permission \"%s\": domid exceeds 65535", s);
    p->perm = s[0];
    p->flags = 0;
    p->domid = (uint16_t)v;
    return xsrec__check_perm(p, off, err);
}

/* node data: u32 perm-count, path NUL, perm-count strings NUL each, value. */
static int dec_node(struct seed_parser *sp, size_t off, uint32_t len,
                    struct xsrec_record *rec, struct xsrec_node *n)
{
    const uint8_t *b = sp->buf + off, *end = b + len;

    if (xsrec__check_fixed(rec, 4, true, sp->err))
        return -1;
    memset(n, 0, sizeof(*n));
    uint32_t count = xsrec__get32(b, false);
    const uint8_t *q = b + 4;
    const uint8_t *nul = memchr(q, 0, (size_t)(end - q));
    if (!nul)
        return xsrec__fail(sp->err, off + 4, "path", "path is not NUL-terminated");
    n->path = (const char *)q;
    if (xsrec__check_node_path(n->path, off + 4, sp->err))
        return -1;
    if (count == 0)
        return xsrec__fail(sp->err, off, "perm",
                           "a node needs at least its owner's permission");
    size_t perms_off = (size_t)(nul + 1 - sp->buf);
    size_t set_perms = (size_t)(nul - q) + 1;  /* what SET_PERMS would carry */
    q = nul + 1;
    for (uint32_t i = 0; i < count; i++) {
        size_t poff = (size_t)(q - sp->buf);
        nul = memchr(q, 0, (size_t)(end - q));
        if (!nul)
            return xsrec__fail(sp->err, poff, "perm",
                               "perm-count is %u but the record holds %u permissions",
                               count, i);
        /* Check as we go: count is untrusted, the payload is bounded. */
        set_perms += (size_t)(nul - q) + 1;
        if (set_perms > XENSTORE_PAYLOAD_MAX)
            return xsrec__fail(sp->err, off, "payload-limit",
                               "path and permissions exceed what a SET_PERMS can carry (%d)",
                               XENSTORE_PAYLOAD_MAX);
        struct xsrec_perm *perms = xsrec__scratch(&sp->perms, (i + 1) * sizeof(*perms));
        if (!perms)
            return xsrec__fail(sp->err, off, "no-memory", "out of memory");
        if (parse_perm((const char *)q, &perms[i], poff, sp->err))
            return -1;
        q = nul + 1;
    }
    n->perms = sp->perms.p;
    n->nperms = count;
    n->value = q;
    n->value_len = (size_t)(end - q);
    if (xsrec__check_node_limits(n, (size_t)(q - sp->buf), perms_off, sp->err))
        return -1;
    rec->node = n;
    return 0;
}

/* watch data: path NUL token NUL, nothing after. */
static int dec_watch(struct seed_parser *sp, size_t off, uint32_t len,
                     struct xsrec_record *rec, struct xsrec_watch *w)
{
    const uint8_t *b = sp->buf + off, *end = b + len;
    const uint8_t *nul = memchr(b, 0, len);

    if (!nul)
        return xsrec__fail(sp->err, off, "path", "watch path is not NUL-terminated");
    const uint8_t *tok = nul + 1;
    const uint8_t *tnul = memchr(tok, 0, (size_t)(end - tok));
    if (!tnul)
        return xsrec__fail(sp->err, (size_t)(tok - sp->buf), "token",
                           "token is not NUL-terminated");
    if (tnul + 1 != end)
        return xsrec__fail(sp->err, off - 4, "record-length",
                           "%zu octets follow the token", (size_t)(end - tnul - 1));
    w->conn_id = XSREC_SEED_CONN_ID;
    w->path = (const char *)b;
    w->token = (const char *)tok;
    if (xsrec__check_watch_path(w->path, off, sp->err))
        return -1;
    if (len > XENSTORE_PAYLOAD_MAX)
        return xsrec__fail(sp->err, off, "payload-limit",
                           "path and token of %u octets do not fit a WATCH (%d)",
                           len, XENSTORE_PAYLOAD_MAX);
    rec->watch = w;
    return 0;
}

/* transaction data: u32 count, then count u32 transaction ids. */
static int dec_tx(struct seed_parser *sp, size_t off, uint32_t len,
                  struct xsrec_record *rec)
{
    const uint8_t *b = sp->buf + off;

    if (xsrec__check_fixed(rec, 4, true, sp->err))
        return -1;
    uint32_t count = xsrec__get32(b, false);
    if ((uint64_t)len != 4 + 4 * (uint64_t)count)
        return xsrec__fail(sp->err, off - 4, "record-length",
                           "%u transaction ids need %llu octets, len is %u", count,
                           4 + 4 * (unsigned long long)count, len);
    struct xsrec_tx *t = xsrec__scratch(&sp->txlist, count * sizeof(*t));
    if (!t)
        return xsrec__fail(sp->err, off, "no-memory", "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        size_t ioff = off + 4 + 4 * (size_t)i;
        t[i].conn_id = XSREC_SEED_CONN_ID;
        t[i].tx_id = xsrec__get32(sp->buf + ioff, false);
        if (t[i].tx_id == 0)
            return xsrec__fail(sp->err, ioff, "tx-id", "tx-id 0 means no transaction");
        int r = xsrec__idset_add(&sp->txs, xsrec__txkey(XSREC_SEED_CONN_ID, t[i].tx_id));
        if (r < 0)
            return xsrec__fail(sp->err, off, "no-memory", "out of memory");
        if (r == 0)
            return xsrec__fail(sp->err, ioff, "duplicate",
                               "transaction %u appears twice", t[i].tx_id);
    }
    rec->txs = t;
    rec->ntxs = count;
    return 0;
}

static int parse_records(struct seed_parser *sp, uint32_t count, xsrec_visit_fn visit,
                         void *ctx, struct xsrec_info *info)
{
    size_t off = XSREC_HDR_LEN;

    for (uint32_t i = 0; i < count; i++) {
        if (off == sp->len)
            return xsrec__fail(sp->err, off, "truncated",
                               "the header announces %u records, the file ends after %u",
                               count, i);
        struct xsrec_record rec;
        if (xsrec__read_rec_header(sp->buf, sp->len, off, false, XSREC_FMT_SEED, &rec,
                                   sp->err))
            return -1;
        uint32_t type = rec.type, len = rec.len;
        if (type < XSREC_SEED_NODE || type > XSREC_SEED_TX)
            return xsrec__fail(sp->err, off, "record-type",
                               "record type %u is none of node-data (1), watch-data (2), "
                               "transaction-data (3)", type);
        uint64_t padded;
        if (xsrec__rec_fits(&rec, sp->len, &padded, sp->err))
            return -1;
        size_t body = off + XSREC_REC_HDR_LEN;
        struct xsrec_node n;
        struct xsrec_watch w;
        int rc;
        switch (type) {
        case XSREC_SEED_NODE:
            rec.kind = XSREC_K_NODE;
            rc = dec_node(sp, body, len, &rec, &n);
            break;
        case XSREC_SEED_WATCH:
            rec.kind = XSREC_K_WATCH;
            rc = dec_watch(sp, body, len, &rec, &w);
            break;
        default:
            rec.kind = XSREC_K_TX;
            rc = dec_tx(sp, body, len, &rec);
            break;
        }
        if (rc || xsrec__check_padding(sp->buf, body + len, body + (size_t)padded, sp->err))
            return -1;
        if (xsrec__visit(visit, ctx, &rec, sp->err))
            return -1;
        info->nrecords++;
        off = body + (size_t)padded;
    }
    if (off != sp->len)
        return xsrec__fail(sp->err, off, "trailing-data",
                           "%zu octets follow the %u records the header announces",
                           sp->len - off, count);
    return 0;
}

int xsrec__parse_seed(const uint8_t *buf, size_t len, xsrec_visit_fn visit,
                      void *ctx, struct xsrec_info *info, struct xsrec_error *err)
{
    struct xsrec_info local;
    if (!info)
        info = &local;
    uint32_t count;
    /* info->order stays XSREC_LITTLE_ENDIAN, as cleared: all of it is */
    if (xsrec__parse_file_header(buf, len, XSREC_FMT_SEED, info, &count, err))
        return -1;

    struct seed_parser sp = { .buf = buf, .len = len, .err = err };
    int rc = xsrec__visit_header(XSREC_FMT_SEED, info, visit, ctx, err);
    if (!rc)
        rc = parse_records(&sp, count, visit, ctx, info);
    xsrec__idset_free(&sp.txs);
    xsrec__scratch_free(&sp.perms);
    xsrec__scratch_free(&sp.txlist);
    return rc;
}

/* ------------------------------------------------------------- writer */

static bool is_placeholder(const struct xsrec_conn *c)
{
    return c->id == XSREC_SEED_CONN_ID && c->type == XSREC_CONN_RING &&
           c->domid == XSREC_DOMID_INVALID && c->tdomid == XSREC_DOMID_INVALID &&
           c->evtchn == 0 && c->in_len == 0 && c->out_len == 0;
}

bool xsrec_seed_loss(const struct xsrec_stream *s, struct xsrec_seed_loss *loss)
{
    memset(loss, 0, sizeof(*loss));
    loss->global = s->has_global;
    for (size_t i = 0; i < s->nconns; i++) {
        if (is_placeholder(&s->conns[i]))
            continue;
        loss->conns++;
        loss->pending_octets += s->conns[i].in_len + s->conns[i].out_len;
    }
    for (size_t i = 0; i < s->nnodes; i++) {
        if (s->nodes[i].conn_id) {
            loss->tx_nodes++;
            continue;
        }
        for (size_t j = 0; j < s->nodes[i].nperms; j++)
            if (s->nodes[i].perms[j].flags)
                loss->perm_flags++;
    }
    loss->tx_ops = s->ntx_ops;
    /* Two distinct owners are enough to make the model unwritable. */
    uint32_t first = 0;
    for (size_t i = 0; i < s->nwatches + s->ntxs; i++) {
        uint32_t id = i < s->nwatches ? s->watches[i].conn_id
                                      : s->txs[i - s->nwatches].conn_id;
        if (!loss->domains) {
            first = id;
            loss->domains = 1;
        } else if (id != first) {
            loss->domains = 2;
            break;
        }
    }
    return loss->global || loss->conns || loss->tx_nodes || loss->tx_ops ||
           loss->perm_flags || loss->domains > 1;
}

static size_t rec_begin(struct xsrec_obuf *ob, uint32_t type)
{
    size_t at = ob->len;
    xsrec__ob_u32(ob, type, false);
    xsrec__ob_u32(ob, 0, false);
    return at;
}

static void rec_end(struct xsrec_obuf *ob, size_t at)
{
    if (ob->oom)
        return;
    size_t used = ob->len - at - XSREC_REC_HDR_LEN;
    xsrec__put32(ob->p + at + 4, (uint32_t)used, false);
    xsrec__ob_zero(ob, (size_t)xsrec__pad8(used) - used);
}

int xsrec_write_seed(const struct xsrec_stream *s, unsigned flags,
                     uint8_t **out, size_t *out_len, struct xsrec_error *err)
{
    struct xsrec_seed_loss loss;
    struct xsrec_obuf ob = { 0 };
    uint32_t count = 0;

    *out = NULL;
    *out_len = 0;
    if (err)
        memset(err, 0, sizeof(*err));
    if (xsrec_seed_loss(s, &loss)) {
        if (loss.domains > 1)
            return xsrec__fail(err, 0, "not-representable",
                               "watches and transactions of several connections: the "
                               "seed format carries one domain's");
        if (!(flags & XSREC_SEED_ALLOW_LOSS))
            return xsrec__fail(err, 0, "not-representable",
                               "the seed format cannot carry %s%zu connection(s), %zu "
                               "transaction node(s), %zu transaction operation(s), %zu "
                               "permission flag(s)",
                               loss.global ? "GLOBAL_DATA, " : "", loss.conns,
                               loss.tx_nodes, loss.tx_ops, loss.perm_flags);
    }

    xsrec__ob_put(&ob, XSREC_SEED_IDENT, XSREC_IDENT_LEN);
    xsrec__ob_u32(&ob, XSREC_VERSION, false);
    xsrec__ob_u32(&ob, 0, false);  /* record count, set at the end */
    /* Restore order: nodes, then watches (each fires once, on the restored
     * nodes), then the transactions. */
    for (size_t i = 0; i < s->nnodes; i++) {
        const struct xsrec_node *n = &s->nodes[i];
        if (n->conn_id)
            continue;
        size_t at = rec_begin(&ob, XSREC_SEED_NODE);
        xsrec__ob_u32(&ob, (uint32_t)n->nperms, false);
        xsrec__ob_put(&ob, n->path, strlen(n->path) + 1);
        for (size_t j = 0; j < n->nperms; j++) {
            char ps[16];
            int k = snprintf(ps, sizeof(ps), "%c%u", n->perms[j].perm,
                             (unsigned)n->perms[j].domid);
            xsrec__ob_put(&ob, ps, (size_t)k + 1);
        }
        xsrec__ob_put(&ob, n->value, n->value_len);
        rec_end(&ob, at);
        count++;
    }
    for (size_t i = 0; i < s->nwatches; i++) {
        size_t at = rec_begin(&ob, XSREC_SEED_WATCH);
        xsrec__ob_put(&ob, s->watches[i].path, strlen(s->watches[i].path) + 1);
        xsrec__ob_put(&ob, s->watches[i].token, strlen(s->watches[i].token) + 1);
        rec_end(&ob, at);
        count++;
    }
    if (s->ntxs) {
        size_t at = rec_begin(&ob, XSREC_SEED_TX);
        xsrec__ob_u32(&ob, (uint32_t)s->ntxs, false);
        for (size_t i = 0; i < s->ntxs; i++)
            xsrec__ob_u32(&ob, s->txs[i].tx_id, false);
        rec_end(&ob, at);
        count++;
    }
    int rc = 0;
    if (ob.oom)
        rc = xsrec__fail(err, 0, "no-memory", "out of memory");
    else
        xsrec__put32(ob.p + 12, count, false);
    /* Never hand out a file that breaks a rule. */
    if (!rc)
        rc = xsrec__parse_seed(ob.p, ob.len, NULL, NULL, NULL, err);
    if (rc) {
        free(ob.p);
        return -1;
    }
    *out = ob.p;
    *out_len = ob.len;
    return 0;
}
