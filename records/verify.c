/*
 * verify.c - the rules: format detection, the entry points that parse or
 * verify a buffer of either format, and the checks both formats share
 * (the file and record headers, padding, strings, paths, permissions,
 * payload limits, buffered messages).
 * FORMAT.md lists every rule by name.
 */
#include "internal.h"

#include <string.h>

enum xsrec_format xsrec_detect(const uint8_t *buf, size_t len)
{
    if (len >= XSREC_IDENT_LEN && !memcmp(buf, XSREC_UP_IDENT, XSREC_IDENT_LEN))
        return XSREC_FMT_UPSTREAM;
    if (len >= XSREC_IDENT_LEN && !memcmp(buf, XSREC_SEED_IDENT, XSREC_IDENT_LEN))
        return XSREC_FMT_SEED;
    return XSREC_FMT_UNKNOWN;
}

int xsrec_parse(const uint8_t *buf, size_t len, xsrec_visit_fn visit, void *ctx,
                struct xsrec_info *info, struct xsrec_error *err)
{
    if (info)
        memset(info, 0, sizeof(*info));
    if (err)
        memset(err, 0, sizeof(*err));
    switch (xsrec_detect(buf, len)) {
    case XSREC_FMT_UPSTREAM:
        return xsrec__parse_upstream(buf, len, visit, ctx, info, err);
    case XSREC_FMT_SEED:
        return xsrec__parse_seed(buf, len, visit, ctx, info, err);
    case XSREC_FMT_UNKNOWN:
        break;
    }
    /* A cut-off file is "truncated", not "not ours". */
    if (len < XSREC_IDENT_LEN && (len == 0 || !memcmp(buf, XSREC_UP_IDENT, len) ||
                                  !memcmp(buf, XSREC_SEED_IDENT, len)))
        return xsrec__fail(err, 0, "truncated",
                           "%zu octets: too short for a stream header", len);
    return xsrec__fail(err, 0, "magic",
                       "neither a xenstore migration stream (\"xenstore\") nor a "
                       "seed record file (\"xs-seed\")");
}

int xsrec_verify(const uint8_t *buf, size_t len, struct xsrec_info *info,
                 struct xsrec_error *err)
{
    return xsrec_parse(buf, len, NULL, NULL, info, err);
}

int xsrec__parse_file_header(const uint8_t *buf, size_t len, enum xsrec_format fmt,
                             struct xsrec_info *info, uint32_t *word,
                             struct xsrec_error *err)
{
    bool up = fmt == XSREC_FMT_UPSTREAM;
    const char *ident = up ? XSREC_UP_IDENT : XSREC_SEED_IDENT;
    const char *what = up ? "stream" : "file";
    memset(info, 0, sizeof(*info));
    info->format = fmt;

    size_t cmp = len < XSREC_IDENT_LEN ? len : XSREC_IDENT_LEN;
    if (cmp && memcmp(buf, ident, cmp))  /* buf may be NULL when len is 0 */
        return xsrec__fail(err, 0, "magic", "the %s does not start with \"%s\"", what, ident);
    if (len < XSREC_HDR_LEN)
        return xsrec__fail(err, 0, "truncated", "the header needs 16 octets, the %s has %zu",
                           what, len);
    info->version = xsrec__get32(buf + 8, up);
    *word = xsrec__get32(buf + 12, up);
    if (info->version != XSREC_VERSION)
        return xsrec__fail(err, 8, "version",
                           "version %u is not supported (only 1)", info->version);
    return 0;
}

int xsrec__read_rec_header(const uint8_t *buf, size_t len, size_t off, bool big,
                           enum xsrec_format fmt, struct xsrec_record *rec,
                           struct xsrec_error *err)
{
    size_t rem = len - off;
    if (rem < XSREC_REC_HDR_LEN)
        return xsrec__fail(err, off, "truncated",
                           "record header needs 8 octets, %zu left", rem);
    *rec = (struct xsrec_record){
        .format = fmt, .offset = off,
        .type = xsrec__get32(buf + off, big), .len = xsrec__get32(buf + off + 4, big),
    };
    return 0;
}

int xsrec__rec_fits(const struct xsrec_record *rec, size_t len, uint64_t *padded,
                    struct xsrec_error *err)
{
    size_t left = len - rec->offset - XSREC_REC_HDR_LEN;
    *padded = xsrec__pad8(rec->len);
    if (*padded > left)
        return xsrec__fail(err, rec->offset, "truncated",
                           "%s of %u octets (%llu padded) runs past the end, %zu left",
                           xsrec_type_name(rec->format, rec->type), rec->len,
                           (unsigned long long)*padded, left);
    return 0;
}

int xsrec__check_fixed(const struct xsrec_record *rec, uint32_t min, bool at_least,
                       struct xsrec_error *err)
{
    if (rec->len >= min)
        return 0;
    return xsrec__fail(err, rec->offset + 4, "record-length", "%s needs %s%u octets, len is %u",
                       xsrec_type_name(rec->format, rec->type), at_least ? "at least " : "",
                       min, rec->len);
}

int xsrec__check_padding(const uint8_t *buf, size_t from, size_t to, struct xsrec_error *err)
{
    for (size_t i = from; i < to; i++)
        if (buf[i])
            return xsrec__fail(err, i, "padding", "padding octet is 0x%02x, not 0", buf[i]);
    return 0;
}

int xsrec__visit(xsrec_visit_fn visit, void *ctx, const struct xsrec_record *rec,
                 struct xsrec_error *err)
{
    if (visit && visit(ctx, rec, err))
        return xsrec__visit_failed(err, rec->offset);
    return 0;
}

int xsrec__visit_header(enum xsrec_format fmt, const struct xsrec_info *info,
                        xsrec_visit_fn visit, void *ctx, struct xsrec_error *err)
{
    struct xsrec_record hdr = { .format = fmt, .kind = XSREC_K_HEADER, .info = info };
    return xsrec__visit(visit, ctx, &hdr, err);
}

int xsrec__check_cstr(const uint8_t *p, size_t len, size_t off, const char *rule,
                      const char *what, struct xsrec_error *err)
{
    if (len == 0)
        return xsrec__fail(err, off, rule, "%s length is 0: no room for its NUL", what);
    const uint8_t *nul = memchr(p, 0, len);
    if (!nul)
        return xsrec__fail(err, off + len - 1, rule, "%s is not NUL-terminated", what);
    if ((size_t)(nul - p) != len - 1)
        return xsrec__fail(err, off + (size_t)(nul - p), rule,
                           "%s has a NUL at octet %zu of %zu", what,
                           (size_t)(nul - p), len);
    return 0;
}

int xsrec__check_node_path(const char *path, size_t off, struct xsrec_error *err)
{
    size_t n = strlen(path);

    if (path[0] != '/' && path[0] != '@')
        return xsrec__fail(err, off, "path",
                           "node path \"%.40s\" is neither absolute nor special (@...)",
                           path);
    if (n > XENSTORE_ABS_PATH_MAX)
        return xsrec__fail(err, off, "path", "node path of %zu octets exceeds %d",
                           n, XENSTORE_ABS_PATH_MAX);
    return 0;
}

int xsrec__check_watch_path(const char *path, size_t off, struct xsrec_error *err)
{
    size_t n = strlen(path);
    bool relative = path[0] != '/' && path[0] != '@';
    size_t max = relative ? XENSTORE_REL_PATH_MAX : XENSTORE_ABS_PATH_MAX;

    if (n == 0)
        return xsrec__fail(err, off, "path", "empty watch path");
    if (n > max)
        return xsrec__fail(err, off, "path", "%s watch path of %zu octets exceeds %zu",
                           relative ? "relative" : "absolute", n, max);
    return 0;
}

int xsrec__check_perm(const struct xsrec_perm *p, size_t off, struct xsrec_error *err)
{
    if (!memchr("rwbn", p->perm, 4))
        return xsrec__fail(err, off, "perm",
                           "permission 0x%02x is none of 'r', 'w', 'b', 'n'",
                           (unsigned)(uint8_t)p->perm);
    if (p->flags & ~XSREC_PERM_STALE)
        return xsrec__fail(err, off + 1, "perm", "unknown permission flags 0x%02x",
                           p->flags);
    return 0;
}

size_t xsrec__perm_strlen(const struct xsrec_perm *p)
{
    size_t n = 2;  /* the letter and at least one digit */
    for (unsigned d = p->domid; d >= 10; d /= 10)
        n++;
    return n;
}

int xsrec__check_node_limits(const struct xsrec_node *n, size_t value_off,
                             size_t perms_off, struct xsrec_error *err)
{
    /* The node must be restorable: WRITE <path>|<value> ... */
    size_t plen = strlen(n->path) + 1;
    if (plen + n->value_len > XENSTORE_PAYLOAD_MAX)
        return xsrec__fail(err, value_off, "payload-limit",
                           "path and value of %zu octets do not fit a WRITE (%d)",
                           plen + n->value_len, XENSTORE_PAYLOAD_MAX);
    /* ... and SET_PERMS <path>|<perm>|+ */
    size_t sp = plen;
    for (size_t i = 0; i < n->nperms; i++)
        sp += xsrec__perm_strlen(&n->perms[i]) + 1;
    if (sp > XENSTORE_PAYLOAD_MAX)
        return xsrec__fail(err, perms_off, "payload-limit",
                           "path and %zu permissions need %zu octets, more than a "
                           "SET_PERMS can carry (%d)", n->nperms, sp, XENSTORE_PAYLOAD_MAX);
    return 0;
}

int xsrec__walk_msgs(const uint8_t *data, size_t len, bool big, bool partial_tail,
                     uint8_t *swap_to, size_t off, const char *what,
                     struct xsrec_error *err)
{
    size_t pos = 0;

    while (pos < len) {
        size_t rem = len - pos;
        uint32_t w[4];

        if (rem < XSREC_MSG_HDR_LEN) {
            if (!partial_tail)
                return xsrec__fail(err, off + pos, "conn-data",
                                   "%s ends inside a message header (%zu of 16 octets)",
                                   what, rem);
            /* Only whole words can change byte order; see FORMAT.md. */
            for (size_t i = 0; swap_to && i + 4 <= rem; i += 4)
                xsrec__put32(swap_to + pos + i, xsrec__get32(data + pos + i, big), !big);
            break;
        }
        /* Read the whole header before writing: swap_to may be data. */
        for (int i = 0; i < 4; i++)
            w[i] = xsrec__get32(data + pos + 4 * i, big);
        if (w[3] > XENSTORE_PAYLOAD_MAX)
            return xsrec__fail(err, off + pos + 12, "conn-data",
                               "%s: message length %u exceeds %d", what, w[3],
                               XENSTORE_PAYLOAD_MAX);
        for (int i = 0; swap_to && i < 4; i++)
            xsrec__put32(swap_to + pos + 4 * i, w[i], !big);
        if (rem - XSREC_MSG_HDR_LEN < w[3]) {
            if (!partial_tail)
                return xsrec__fail(err, off + pos, "conn-data",
                                   "%s ends inside a message: %zu of %u payload octets",
                                   what, rem - XSREC_MSG_HDR_LEN, w[3]);
            break;
        }
        pos += XSREC_MSG_HDR_LEN + w[3];
    }
    return 0;
}

const char *xsrec_format_name(enum xsrec_format f)
{
    switch (f) {
    case XSREC_FMT_UPSTREAM: return "upstream";
    case XSREC_FMT_SEED: return "seed";
    case XSREC_FMT_UNKNOWN: break;
    }
    return "unknown";
}

const char *xsrec_type_name(enum xsrec_format f, uint32_t type)
{
    static const char *const up[] = {
        "END", "GLOBAL_DATA", "CONNECTION_DATA", "WATCH_DATA",
        "TRANSACTION_DATA", "NODE_DATA", "GLOBAL_QUOTA_DATA", "DOMAIN_DATA",
        "WATCH_DATA_EXTENDED",
    };
    static const char *const seed[] = {
        "invalid", "node-data", "watch-data", "transaction-data",
    };

    if (f == XSREC_FMT_UPSTREAM && type < sizeof(up) / sizeof(up[0]))
        return up[type];
    if (f == XSREC_FMT_UPSTREAM && type == XSREC_UP_TX_OP)
        return "TX_OP";
    if (f == XSREC_FMT_SEED && type < sizeof(seed) / sizeof(seed[0]))
        return seed[type];
    return "unknown";
}
