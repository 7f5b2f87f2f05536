/*
 * journal.c - a file in the run directory (tmpfs) that always holds one
 * whole, consistent copy of a blob, however the process dies.
 *
 * The file is mapped shared, so what the process stores into it outlives a
 * kill -9 (a tmpfs file is memory, and a process's stores reach it when
 * they retire).  It has two slots.  A commit writes the blob into the slot
 * not in use, then publishes the slot's length and a sequence number higher
 * than the other's, the sequence number last (a release store).  Reading
 * takes the slot with the higher sequence number: a crash in the middle of
 * a commit leaves the previous one in force.  A slot that is too small is
 * moved to the end of the grown file; the old place is simply abandoned.
 * No syscall on a commit unless the file grows: this runs after every batch
 * of ring traffic.  No descriptor is kept either (a file grows by its path):
 * a thousand domains would otherwise hold a thousand, near the usual limit
 * of 1024.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"

#define JOURNAL_MAGIC "XSPJRNL1"
#define JOURNAL_HDR 128u           /* the header; then both slots share the first
                                      page while the blob is small (an idle
                                      domain's is a few hundred octets) */
#define JOURNAL_SLOT0 ((4096u - JOURNAL_HDR) / 2)
#define JOURNAL_MAX (64u << 20)   /* a blob this big is a bug, not a state */

struct journal_slot {
    uint64_t seq;   /* written last; 0: never used */
    uint64_t off, cap, len;
};

struct journal_hdr {
    char magic[8];
    struct journal_slot slot[2];
};
_Static_assert(sizeof(struct journal_hdr) <= JOURNAL_HDR, "the header fits its place");

struct journal {
    int fd;        /* while the file is being mapped; then -1 */
    uint8_t *map;
    size_t size;   /* of the file and the mapping */
    char path[300];
};

static struct journal_hdr *hdr(struct journal *j) { return (struct journal_hdr *)j->map; }

static int remap(struct journal *j, size_t size)
{
    if ((j->fd >= 0 ? ftruncate(j->fd, (off_t)size) : truncate(j->path, (off_t)size)) < 0)
        return -1;
    void *p = j->map ? mremap(j->map, j->size, size, MREMAP_MAYMOVE)
                     : mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd, 0);
    if (p == MAP_FAILED)
        return -1;
    j->map = p;
    j->size = size;
    return 0;
}

static struct journal *journal_alloc(const char *path)
{
    struct journal *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->fd = -1;
    snprintf(j->path, sizeof(j->path), "%s", path);
    return j;
}

struct journal *journal_create(const char *path, char *err, size_t errlen)
{
    struct journal *j = journal_alloc(path);
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char tmp[320];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    /* made whole under another name: a half-made journal is never found */
    j->fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (j->fd < 0 || remap(j, 4096u) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        goto fail;
    }
    struct journal_hdr *h = hdr(j);
    memcpy(h->magic, JOURNAL_MAGIC, 8);
    h->slot[0] = (struct journal_slot){ 0, JOURNAL_HDR, JOURNAL_SLOT0, 0 };
    h->slot[1] = (struct journal_slot){ 0, JOURNAL_HDR + JOURNAL_SLOT0, JOURNAL_SLOT0, 0 };
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        goto fail;
    }
    close(j->fd);
    j->fd = -1;
    return j;
fail:
    unlink(tmp);
    journal_close(j);
    return NULL;
}

/* The slot in force, or -1 when none holds a commit. */
static int current(struct journal *j)
{
    struct journal_hdr *h = hdr(j);
    uint64_t s0 = __atomic_load_n(&h->slot[0].seq, __ATOMIC_ACQUIRE);
    uint64_t s1 = __atomic_load_n(&h->slot[1].seq, __ATOMIC_ACQUIRE);
    if (!s0 && !s1)
        return -1;
    return s1 > s0 ? 1 : 0;
}

struct journal *journal_open(const char *path, const uint8_t **data, size_t *len, char *err,
                             size_t errlen)
{
    struct journal *j = journal_alloc(path);
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct stat st;
    j->fd = open(path, O_RDWR | O_CLOEXEC);
    if (j->fd < 0 || fstat(j->fd, &st) < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    if (st.st_size < (off_t)JOURNAL_HDR || st.st_size > (off_t)(4 * JOURNAL_MAX)) {
        snprintf(err, errlen, "%s: not a journal (size %lld)", path, (long long)st.st_size);
        goto fail;
    }
    j->map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd, 0);
    if (j->map == MAP_FAILED) {
        j->map = NULL;
        snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
        goto fail;
    }
    j->size = (size_t)st.st_size;
    struct journal_hdr *h = hdr(j);
    if (memcmp(h->magic, JOURNAL_MAGIC, 8) != 0) {
        snprintf(err, errlen, "%s: not a journal (bad magic)", path);
        goto fail;
    }
    for (int i = 0; i < 2; i++) {
        const struct journal_slot *s = &h->slot[i];
        if (s->off < JOURNAL_HDR || s->cap > JOURNAL_MAX || s->len > s->cap ||
            s->off > j->size || s->cap > j->size - s->off) {
            snprintf(err, errlen, "%s: slot %d out of the file", path, i);
            goto fail;
        }
    }
    int c = current(j);
    if (c < 0) {
        snprintf(err, errlen, "%s: nothing committed", path);
        journal_close(j);
        errno = ENODATA;
        return NULL;
    }
    *data = j->map + h->slot[c].off;
    *len = h->slot[c].len;
    close(j->fd);
    j->fd = -1;
    return j;
fail:
    journal_close(j);
    return NULL;
}

int journal_commit(struct journal *j, const void *data, size_t len)
{
    if (len > JOURNAL_MAX) {
        errno = EFBIG;
        return -1;
    }
    int c = current(j);
    int next = c == 0 ? 1 : 0;
    struct journal_hdr *h = hdr(j);
    uint64_t seq = c < 0 ? 1 : h->slot[c].seq + 1;
    if (h->slot[next].cap < len) {
        /* grow: a new place for this slot at the end of the file */
        size_t cap = h->slot[next].cap;
        while (cap < len)
            cap *= 2;
        size_t off = j->size;
        if (remap(j, off + cap) < 0)
            return -1;
        h = hdr(j);
        /* the slot is not in force, so moving it is safe */
        h->slot[next].off = off;
        h->slot[next].cap = cap;
    }
    memcpy(j->map + h->slot[next].off, data, len);
    h->slot[next].len = len;
    __atomic_store_n(&h->slot[next].seq, seq, __ATOMIC_RELEASE);
    return 0;
}

void journal_close(struct journal *j)
{
    if (!j)
        return;
    if (j->map)
        munmap(j->map, j->size);
    if (j->fd >= 0)
        close(j->fd);
    free(j);
}

void journal_delete(struct journal *j)
{
    if (!j)
        return;
    unlink(j->path);
    journal_close(j);
}
