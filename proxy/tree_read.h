/*
 * tree_read.h - the reads a save makes of a domain's subtree, as a pure
 * state machine: it says which request to send next (READ, GET_PERMS and
 * DIRECTORY of each node, parents first) and takes the replies in any
 * order, so that the caller can keep many in flight.  No I/O: the caller
 * sends and receives (migrate_save.c), the unit tests and a fuzz target
 * drive it directly.
 */
#ifndef XSPROXY_TREE_READ_H
#define XSPROXY_TREE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tree_ask { TREE_READ, TREE_PERMS, TREE_DIR, TREE_ASKS };

#define TREE_MAX_DEPTH 64        /* below the base: deeper is refused */
#define TREE_MAX_NODES 1000000u  /* a tag (node * TREE_ASKS + ask) fits 32 bits */

struct tree_perm {
    char perm;        /* 'n', 'r', 'w' or 'b' */
    uint16_t domid;
};

struct tree_node {
    char *path;
    uint8_t *value;
    uint32_t value_len;
    struct tree_perm *perms;   /* perms[0] is the owner */
    uint32_t nperms;
    uint8_t depth;
    uint8_t answered;          /* a bit per enum tree_ask */
    /* a list too long for one DIRECTORY reply (E2BIG) comes in parts,
     * as libxenstore's xs_directory reads it: DIRECTORY_PART from byte
     * part_off, every part of the same generation */
    bool in_parts;
    char part_off[12];
    char part_gen[24];
};

struct tree_read {
    struct tree_node *nodes;   /* in the order found: every parent first */
    size_t nnodes, cap;
    uint32_t next_tag;         /* the first request not handed out yet */
    size_t *parts;             /* nodes whose next DIRECTORY_PART is due */
    size_t nparts, parts_cap;
    size_t complete;           /* nodes with all their answers */
    char error[24];            /* why it failed ("ENOENT", "EPROTO", ...) */
};

/* Start at BASE ("/local/domain/5").  0, or -1 out of memory. */
int tree_read_init(struct tree_read *t, const char *base);
void tree_read_free(struct tree_read *t);
/* The next request: its tag (node * TREE_ASKS + ask), the wire type, the
 * path and a second argument (DIRECTORY_PART's offset; else NULL).  False
 * when every node found so far has been asked for. */
bool tree_read_next(struct tree_read *t, uint32_t *tag, uint32_t *type, const char **path,
                    const char **arg);
/* The reply to TAG: its type (XS_ERROR or the request's) and payload.
 * 0, or -1 with t->error set: the reply was an error (a node went between
 * the reads: start again), or it was malformed, or out of memory. */
int tree_read_answer(struct tree_read *t, uint32_t tag, uint32_t type, const uint8_t *body,
                     uint32_t len);
/* Every node found has all its answers and none is left to ask for. */
bool tree_read_done(const struct tree_read *t);

#endif
