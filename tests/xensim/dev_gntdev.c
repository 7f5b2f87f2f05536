/*
 * dev_gntdev.c - /dev/xen/gntdev as Linux's gntdev driver offers it
 * (<xen/sys/gntdev.h>), for the one grant a sim's domain has: its xenstore
 * ring page, grant reference 1 (GNTTAB_RESERVED_XENSTORE).
 *
 * IOCTL_GNTDEV_MAP_GRANT_REF reserves an offset; an mmap of the device at
 * that offset maps the granted pages (here: the domains' ring page files).
 * The reservation lasts until IOCTL_GNTDEV_UNMAP_GRANT_REF, whatever happens
 * to the mapping (libxengnttab asks the offset of an address, munmaps, then
 * unmaps the offset).  A mapping that goes - munmap, or another mmap with
 * MAP_FIXED over it - releases its grant: its address no longer has an
 * offset, and its offset can be mapped again.  An offset never reserved,
 * or unmapped, is EINVAL.
 */
#define _GNU_SOURCE
#include "dev.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/sys/gntdev.h>

#define GNTDEV_DEFAULT_LIMIT 1024u   /* Linux's gntdev limit, per open */

struct grant_map {
    struct grant_map *next;
    uint64_t index;          /* the mmap offset, bytes */
    uint32_t count;
    struct ioctl_gntdev_grant_ref *refs;
    void *addr;              /* where mapped now (NULL: not mapped) */
};

struct dev_file {
    struct dev_listed l;   /* on the list of every open, for a mapping that goes */
    struct grant_map *maps;
    uint64_t next_index;
    uint32_t limit, in_use;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct dev_listed *opens;

static struct dev_file *gntdev_open(struct xssim *sim, int flags, int *fd)
{
    struct dev_file *f = dev_listed_open(&opens, &lock, sizeof(*f), sim, flags, fd);
    if (f)
        f->limit = GNTDEV_DEFAULT_LIMIT;   /* before the program has its descriptor */
    return f;
}

static void gntdev_close(struct dev_file *f)
{
    dev_listed_remove(&opens, &lock, &f->l);
    while (f->maps) {
        struct grant_map *m = f->maps;
        f->maps = m->next;
        free(m->refs);
        free(m);
    }
    dev_listed_free(&f->l);
}

static struct grant_map *map_at_index(struct dev_file *f, uint64_t index)
{
    for (struct grant_map *m = f->maps; m; m = m->next)
        if (m->index == index)
            return m;
    return NULL;
}

static long map_grant_ref(struct dev_file *f, struct ioctl_gntdev_map_grant_ref *op)
{
    if (op->count == 0 || op->count > f->limit - f->in_use) {
        errno = op->count ? ENOSPC : EINVAL;
        return -1;
    }
    struct grant_map *m = calloc(1, sizeof(*m));
    if (m)
        m->refs = malloc(op->count * sizeof(*m->refs));
    if (!m || !m->refs) {
        free(m);
        errno = ENOMEM;
        return -1;
    }
    memcpy(m->refs, op->refs, op->count * sizeof(*m->refs));
    m->count = op->count;
    m->index = f->next_index;
    f->next_index += (uint64_t)op->count * XSSIM_PAGE_SIZE;
    f->in_use += op->count;
    m->next = f->maps;
    f->maps = m;
    op->index = m->index;
    return 0;
}

static long unmap_grant_ref(struct dev_file *f, const struct ioctl_gntdev_unmap_grant_ref *op)
{
    for (struct grant_map **p = &f->maps; *p; p = &(*p)->next) {
        struct grant_map *m = *p;
        if (m->index != op->index || m->count != op->count)
            continue;
        *p = m->next;
        f->in_use -= m->count;
        free(m->refs);
        free(m);
        return 0;
    }
    errno = EINVAL;
    return -1;
}

static long offset_for_vaddr(struct dev_file *f, struct ioctl_gntdev_get_offset_for_vaddr *op)
{
    for (struct grant_map *m = f->maps; m; m = m->next)
        if (m->addr && (uintptr_t)m->addr == op->vaddr) {
            op->offset = m->index;
            op->count = m->count;
            return 0;
        }
    errno = EINVAL;
    return -1;
}

static long gntdev_ioctl(struct dev_file *f, unsigned long req, void *arg, enum xssim_call *call)
{
    pthread_mutex_lock(&lock);
    long rc;
    switch (req) {
    case IOCTL_GNTDEV_MAP_GRANT_REF:
        *call = XSSIM_GNTDEV_MAP;
        rc = map_grant_ref(f, arg);
        break;
    case IOCTL_GNTDEV_UNMAP_GRANT_REF:
        *call = XSSIM_GNTDEV_UNMAP;
        rc = unmap_grant_ref(f, arg);
        break;
    case IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR:
        *call = XSSIM_GNTDEV_OFFSET;
        rc = offset_for_vaddr(f, arg);
        break;
    case IOCTL_GNTDEV_SET_MAX_GRANTS: {
        *call = XSSIM_GNTDEV_MAX_GRANTS;
        const struct ioctl_gntdev_set_max_grants *op = arg;
        if (op->count < f->in_use) {
            errno = EBUSY;
            rc = -1;
        } else {
            f->limit = op->count;
            rc = 0;
        }
        break;
    }
    default:
        dev_unsupported("gntdev ioctl", req);
        errno = ENOTTY;
        rc = -1;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/* Page I of M, granted by its domain: the domain's ring page file. */
static int map_granted_page(struct dev_file *f, const struct ioctl_gntdev_grant_ref *ref,
                            void *at, int prot)
{
    char path[PATH_MAX];
    if (ref->ref != GNTTAB_RESERVED_XENSTORE || !sim_dom(f->l.sim, ref->domid) ||
        xssim_ring_path(f->l.sim, ref->domid, path, sizeof(path)) < 0) {
        errno = EINVAL;   /* a grant the domain never made */
        return -1;
    }
    int fd = real_open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    void *p = real_mmap(at, XSSIM_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED, fd, 0);
    int e = errno;
    real_close(fd);
    errno = e;
    return p == at ? 0 : -1;
}

static void *gntdev_mmap(struct dev_file *f, void *addr, size_t len, int prot, int flags,
                         off_t off)
{
    pthread_mutex_lock(&lock);
    struct grant_map *m = map_at_index(f, (uint64_t)off);
    void *at = MAP_FAILED;
    if (!m || m->addr || len != (size_t)m->count * XSSIM_PAGE_SIZE || !(flags & MAP_SHARED)) {
        errno = EINVAL;   /* a stale offset, mapped already, or not as a whole */
        goto out;
    }
    /* the whole range first (where the caller asked), then each page */
    at = real_mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | (flags & MAP_FIXED), -1,
                   0);
    if (at == MAP_FAILED)
        goto out;
    for (uint32_t i = 0; i < m->count; i++)
        if (map_granted_page(f, &m->refs[i], (char *)at + (size_t)i * XSSIM_PAGE_SIZE, prot) <
            0) {
            int e = errno;
            real_munmap(at, len);
            errno = e;
            at = MAP_FAILED;
            goto out;
        }
    m->addr = at;
out:
    pthread_mutex_unlock(&lock);
    return at;
}

void dev_gntdev_forget(void *addr, size_t len)
{
    uintptr_t lo = (uintptr_t)addr, hi = lo + len;
    pthread_mutex_lock(&lock);
    for (struct dev_listed *l = opens; l; l = l->next)
        for (struct grant_map *m = ((struct dev_file *)l)->maps; m; m = m->next)
            if (m->addr && (uintptr_t)m->addr < hi &&
                (uintptr_t)m->addr + (size_t)m->count * XSSIM_PAGE_SIZE > lo)
                m->addr = NULL;   /* the grant is released */
    pthread_mutex_unlock(&lock);
}

const struct dev_ops dev_gntdev_ops = {
    .path = "/dev/xen/gntdev",
    .libs = LIB_GNTTAB,
    .open_call = XSSIM_GNTDEV_OPEN,
    .open = gntdev_open,
    .close = gntdev_close,
    .ioctl = gntdev_ioctl,
    .mmap = gntdev_mmap,
};
