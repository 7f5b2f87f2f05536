/*
 * fuzz_tree_read.c - libFuzzer target for the save's walk of a subtree
 * (proxy/tree_read.c): whatever the daemon answers, in whatever order, the
 * walk must not crash or leak, its node list must stay parents first, and
 * it must never say done while a request is unanswered.
 *
 * The input is a list of answers.  Each takes three bytes and a payload:
 * which of the requests handed out and not answered yet it answers, how
 * (the right type, an error, E2BIG, another type), and the payload's
 * length; the payload's bytes follow.  A refused answer ends the walk, as
 * it ends a save's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/xs_wire.h>

#include "fuzz_check.h"
#include "tree_read.h"

#define MAX_OUT 4096

struct out {
    uint32_t tag, type;
};

static void check_parents_first(const struct tree_read *t)
{
    for (size_t i = 1; i < t->nnodes; i++) {
        const char *p = t->nodes[i].path;
        const char *slash = strrchr(p, '/');
        CHECK(slash && slash != p);
        size_t plen = (size_t)(slash - p);
        int found = 0;
        for (size_t k = 0; k < i && !found; k++)
            found = strlen(t->nodes[k].path) == plen && memcmp(t->nodes[k].path, p, plen) == 0;
        CHECK(found);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tree_read t;
    CHECK(tree_read_init(&t, "/local/domain/5") == 0);
    static struct out out[MAX_OUT];
    size_t nout = 0;
    for (size_t at = 0;;) {
        uint32_t tag, type;
        const char *path, *arg;
        while (nout < MAX_OUT && tree_read_next(&t, &tag, &type, &path, &arg)) {
            CHECK(path && path[0] == '/');
            CHECK((type == XS_DIRECTORY_PART) == (arg != NULL));
            out[nout++] = (struct out){ tag, type };
        }
        if (nout == 0) {
            CHECK(tree_read_done(&t));
            break;
        }
        CHECK(!tree_read_done(&t));
        if (at + 3 > size)
            break;
        size_t which = data[at] % nout;
        uint8_t how = data[at + 1] % 8;
        uint32_t len = data[at + 2];
        at += 3;
        if (len > size - at)
            len = (uint32_t)(size - at);
        const uint8_t *body = data + at;
        at += len;
        struct out o = out[which];
        out[which] = out[--nout];
        uint32_t atype = o.type;
        if (how == 5) {
            atype = XS_ERROR;
            body = (const uint8_t *)"ENOENT";
            len = 7;
        } else if (how == 6) {
            atype = XS_ERROR;
            body = (const uint8_t *)"E2BIG";
            len = 6;
        } else if (how == 7) {
            atype = XS_WRITE;
        }
        if (tree_read_answer(&t, o.tag, atype, body, len) < 0) {
            CHECK(t.error[0] != '\0');
            break;
        }
        CHECK(t.complete <= t.nnodes);
    }
    check_parents_first(&t);
    tree_read_free(&t);
    return 0;
}
