/*
 * tree_read.c - the save's walk of a subtree (tree_read.h).  A DIRECTORY
 * answer adds the children at the end of the node list, so the list stays
 * parents first however the replies interleave.
 */
#define _GNU_SOURCE
#include "tree_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/xs_wire.h>

#include "msg.h"

static int failed(struct tree_read *t, const char *why)
{
    snprintf(t->error, sizeof(t->error), "%s", why);
    return -1;
}

static int add_node(struct tree_read *t, char *path, uint8_t depth)
{
    if (t->nnodes >= TREE_MAX_NODES) {
        free(path);
        return failed(t, "E2BIG");
    }
    if (t->nnodes == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        struct tree_node *n = realloc(t->nodes, cap * sizeof(*n));
        if (!n) {
            free(path);
            return failed(t, "ENOMEM");
        }
        t->nodes = n;
        t->cap = cap;
    }
    t->nodes[t->nnodes++] = (struct tree_node){ .path = path, .depth = depth };
    return 0;
}

int tree_read_init(struct tree_read *t, const char *base)
{
    memset(t, 0, sizeof(*t));
    char *p = strdup(base);
    return p ? add_node(t, p, 0) : failed(t, "ENOMEM");
}

void tree_read_free(struct tree_read *t)
{
    for (size_t i = 0; i < t->nnodes; i++) {
        free(t->nodes[i].path);
        free(t->nodes[i].value);
        free(t->nodes[i].perms);
    }
    free(t->nodes);
    free(t->parts);
    memset(t, 0, sizeof(*t));
}

bool tree_read_next(struct tree_read *t, uint32_t *tag, uint32_t *type, const char **path,
                    const char **arg)
{
    *arg = NULL;
    if (t->nparts) {
        size_t node = t->parts[--t->nparts];
        *tag = (uint32_t)(node * TREE_ASKS + TREE_DIR);
        *type = XS_DIRECTORY_PART;
        *path = t->nodes[node].path;
        *arg = t->nodes[node].part_off;
        return true;
    }
    size_t node = t->next_tag / TREE_ASKS;
    if (node >= t->nnodes)
        return false;
    static const uint32_t types[TREE_ASKS] = { XS_READ, XS_GET_PERMS, XS_DIRECTORY };
    *tag = t->next_tag++;
    *type = types[*tag % TREE_ASKS];
    *path = t->nodes[node].path;
    return true;
}

/* "b5\0r0\0" into N's permissions. */
static int take_perms(struct tree_read *t, struct tree_node *n, const uint8_t *body, uint32_t len)
{
    /* split a NUL-ended copy: the payload need not end in a NUL */
    static char copy[XENSTORE_PAYLOAD_MAX + 1];
    if (len > XENSTORE_PAYLOAD_MAX)
        return failed(t, "EPROTO");
    memcpy(copy, body, len);
    copy[len] = '\0';
    const char *parts[XENSTORE_PAYLOAD_MAX / 2];
    unsigned k = msg_split((const uint8_t *)copy, len, parts, XENSTORE_PAYLOAD_MAX / 2);
    if (k == 0)
        return failed(t, "EPROTO");
    struct tree_perm *perms = calloc(k, sizeof(*perms));
    if (!perms)
        return failed(t, "ENOMEM");
    for (unsigned i = 0; i < k; i++) {
        uint32_t id;
        if (!parts[i][0] || !strchr("nrwb", parts[i][0]) || !msg_parse_u32(parts[i] + 1, &id) ||
            id > UINT16_MAX) {
            free(perms);
            return failed(t, "EPROTO");
        }
        perms[i] = (struct tree_perm){ .perm = parts[i][0], .domid = (uint16_t)id };
    }
    n->perms = perms;
    n->nperms = k;
    return 0;
}

/* Each child of node NODE (its DIRECTORY answer) at the end of the list. */
static int take_children(struct tree_read *t, size_t node, const uint8_t *body, uint32_t len)
{
    for (uint32_t q = 0; q < len;) {
        const uint8_t *e = memchr(body + q, '\0', len - q);
        uint32_t clen = e ? (uint32_t)(e - (body + q)) : len - q;
        if (clen == 0)
            break;   /* a trailing NUL: the end of the list */
        if (memchr(body + q, '/', clen))
            return failed(t, "EPROTO");
        if (t->nodes[node].depth >= TREE_MAX_DEPTH)
            return failed(t, "ELOOP");
        char *p;
        if (asprintf(&p, "%s/%.*s", t->nodes[node].path, (int)clen, (const char *)body + q) < 0)
            return failed(t, "ENOMEM");
        if (add_node(t, p, (uint8_t)(t->nodes[node].depth + 1)) < 0)
            return -1;
        q += clen + 1;
    }
    return 0;
}

static void mark_answered(struct tree_read *t, size_t node, unsigned ask)
{
    struct tree_node *n = &t->nodes[node];   /* the list may have moved */
    n->answered |= (uint8_t)(1u << ask);
    if (n->answered == (1u << TREE_ASKS) - 1)
        t->complete++;
}

static int want_part(struct tree_read *t, size_t node, uint32_t off)
{
    if (t->nparts == t->parts_cap) {
        size_t cap = t->parts_cap ? 2 * t->parts_cap : 16;
        size_t *p = realloc(t->parts, cap * sizeof(*p));
        if (!p)
            return failed(t, "ENOMEM");
        t->parts = p;
        t->parts_cap = cap;
    }
    snprintf(t->nodes[node].part_off, sizeof(t->nodes[node].part_off), "%u", off);
    t->parts[t->nparts++] = node;
    return 0;
}

/* A DIRECTORY_PART answer: "GEN\0" then children, each NUL-ended, and one
 * more NUL after the last part's.  1 when the list is whole, 0 when
 * another part is due, -1. */
static int take_part(struct tree_read *t, size_t node, const uint8_t *body, uint32_t len)
{
    struct tree_node *n = &t->nodes[node];
    const uint8_t *e = memchr(body, '\0', len);
    if (!e || e == body || (size_t)(e - body) >= sizeof(n->part_gen))
        return failed(t, "EPROTO");
    uint32_t genlen = (uint32_t)(e - body) + 1;
    if (n->part_gen[0] && strcmp(n->part_gen, (const char *)body) != 0)
        return failed(t, "EAGAIN");   /* the list changed between parts */
    memcpy(n->part_gen, body, genlen);
    bool last = len >= genlen + 1 && body[len - 1] == '\0' &&
                (len == genlen + 1 || body[len - 2] == '\0');
    uint32_t names = len - genlen - (last ? 1 : 0);
    if (!last && (names == 0 || body[len - 1] != '\0'))
        return failed(t, "EPROTO");   /* a part that moves nowhere */
    if (take_children(t, node, body + genlen, names) < 0)
        return -1;
    if (last)
        return 1;
    uint32_t off = (uint32_t)strtoul(t->nodes[node].part_off, NULL, 10) + names;
    return want_part(t, node, off) < 0 ? -1 : 0;
}

int tree_read_answer(struct tree_read *t, uint32_t tag, uint32_t type, const uint8_t *body,
                     uint32_t len)
{
    size_t node = tag / TREE_ASKS;
    unsigned ask = tag % TREE_ASKS;
    if (tag >= t->next_tag || (t->nodes[node].answered & (1u << ask)))
        return failed(t, "EPROTO");   /* never asked, or answered twice */
    struct tree_node *n = &t->nodes[node];
    if (ask == TREE_DIR && type == XS_ERROR && !n->in_parts && len >= 5 &&
        memcmp(body, "E2BIG", 5) == 0) {
        n->in_parts = true;   /* too many children for one reply */
        return want_part(t, node, 0);
    }
    if (ask == TREE_DIR && n->in_parts && type == XS_DIRECTORY_PART) {
        int r = take_part(t, node, body, len);
        if (r > 0)
            mark_answered(t, node, ask);
        return r < 0 ? -1 : 0;
    }
    if (type == XS_ERROR) {
        uint32_t elen = len && body[len - 1] == '\0' ? len - 1 : len;
        snprintf(t->error, sizeof(t->error), "%.*s", (int)(elen < 16 ? elen : 16),
                 (const char *)body);
        return -1;
    }
    static const uint32_t types[TREE_ASKS] = { XS_READ, XS_GET_PERMS, XS_DIRECTORY };
    if (type != types[ask] || (ask == TREE_DIR && n->in_parts))
        return failed(t, "EPROTO");
    int rc = 0;
    if (ask == TREE_READ) {
        n->value = malloc(len ? len : 1);
        if (!n->value)
            return failed(t, "ENOMEM");
        memcpy(n->value, body, len);
        n->value_len = len;
    } else if (ask == TREE_PERMS) {
        rc = take_perms(t, n, body, len);
    } else {
        rc = take_children(t, node, body, len);
    }
    if (rc < 0)
        return -1;
    mark_answered(t, node, ask);
    return 0;
}

bool tree_read_done(const struct tree_read *t)
{
    return t->complete == t->nnodes;
}
