/*
 * dev_privcmd.c - /dev/xen/privcmd as Linux's privcmd driver offers it
 * (<xen/sys/privcmd.h>): IOCTL_PRIVCMD_HYPERCALL runs the hypercalls the
 * sim models (hypercall.c) on the caller's own buffers, and foreign maps
 * are an mmap of the device (a mapping with nothing in it yet) filled by
 * IOCTL_PRIVCMD_MMAPBATCH_V2 - here with the domains' ring pages, the one
 * page of theirs a sim has (at gfn SIM_GFN_BASE + domid).  /dev/xen/hypercall
 * is absent (dev.c), as on older kernels: libxencall then uses ordinary
 * memory for its buffers.
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
#include <xen/sys/privcmd.h>

/* A mapping of the device: MMAPBATCH fills pages only inside one. */
struct vma {
    struct vma *next;
    void *addr;
    size_t len;
    int prot;
};

struct dev_file {
    struct dev_listed l;   /* on the list of every open, for a mapping that goes */
    struct vma *vmas;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct dev_listed *opens;

static struct dev_file *privcmd_open(struct xssim *sim, int flags, int *fd)
{
    return dev_listed_open(&opens, &lock, sizeof(struct dev_file), sim, flags, fd);
}

static void privcmd_close(struct dev_file *f)
{
    dev_listed_remove(&opens, &lock, &f->l);
    while (f->vmas) {
        struct vma *v = f->vmas;
        f->vmas = v->next;
        free(v);
    }
    dev_listed_free(&f->l);
}

static void *privcmd_mmap(struct dev_file *f, void *addr, size_t len, int prot, int flags,
                          off_t off)
{
    if (off != 0 || !(flags & MAP_SHARED) || len == 0) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    struct vma *v = malloc(sizeof(*v));
    if (!v) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    /* nothing mapped yet: touching it before MMAPBATCH faults, as on Linux */
    void *p = real_mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | (flags & MAP_FIXED),
                        -1, 0);
    if (p == MAP_FAILED) {
        free(v);
        return MAP_FAILED;
    }
    *v = (struct vma){ .addr = p, .len = len, .prot = prot };
    pthread_mutex_lock(&lock);
    v->next = f->vmas;
    f->vmas = v;
    pthread_mutex_unlock(&lock);
    return p;
}

static const struct vma *vma_holding(const struct dev_file *f, uintptr_t lo, size_t len)
{
    for (const struct vma *v = f->vmas; v; v = v->next)
        if ((uintptr_t)v->addr <= lo && lo + len <= (uintptr_t)v->addr + v->len)
            return v;
    return NULL;
}

/* The ring page of DOM at AT, if GFN is its ring's.  0 or -errno. */
static int map_foreign_page(struct dev_file *f, uint32_t dom, xen_pfn_t gfn, void *at, int prot)
{
    char path[PATH_MAX];
    if (!sim_dom(f->l.sim, dom))
        return -ESRCH;
    if (gfn != SIM_GFN_BASE + dom || xssim_ring_path(f->l.sim, dom, path, sizeof(path)) < 0)
        return -EINVAL;   /* a page the sim's domains do not have */
    int fd = real_open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    void *p = real_mmap(at, XSSIM_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED, fd, 0);
    int e = errno;
    real_close(fd);
    return p == at ? 0 : -e;
}

static long mmapbatch(struct dev_file *f, const struct privcmd_mmapbatch_v2 *b)
{
    size_t len = (size_t)b->num * XSSIM_PAGE_SIZE;
    const struct vma *v = b->num ? vma_holding(f, (uintptr_t)b->addr, len) : NULL;
    if (!v) {
        errno = EINVAL;   /* not inside a mapping of privcmd */
        return -1;
    }
    bool any_enoent = false;
    for (unsigned i = 0; i < b->num; i++) {
        void *at = (char *)(uintptr_t)b->addr + (size_t)i * XSSIM_PAGE_SIZE;
        int rc = map_foreign_page(f, b->dom, b->arr[i], at, v->prot);
        b->err[i] = rc;
        any_enoent |= rc == -ENOENT;
    }
    if (any_enoent) {
        errno = ENOENT;
        return -1;
    }
    return 0;
}

static long privcmd_ioctl(struct dev_file *f, unsigned long req, void *arg, enum xssim_call *call)
{
    switch (req) {
    case IOCTL_PRIVCMD_HYPERCALL: {
        const privcmd_hypercall_t *h = arg;
        unsigned long args[5];
        for (int i = 0; i < 5; i++)
            args[i] = (unsigned long)h->arg[i];
        long rc = sim_hypercall(f->l.sim, (unsigned long)h->op, args, call);
        if (rc < 0) {
            errno = (int)-rc;
            return -1;
        }
        return rc;
    }
    case IOCTL_PRIVCMD_MMAPBATCH_V2: {
        *call = XSSIM_PRIVCMD_MMAPBATCH;
        pthread_mutex_lock(&lock);
        long rc = mmapbatch(f, arg);
        pthread_mutex_unlock(&lock);
        return rc;
    }
    case IOCTL_PRIVCMD_RESTRICT:
        return 0;   /* the sim's hypercalls are all about domains anyway */
    case IOCTL_PRIVCMD_UNIMPLEMENTED:   /* libxenforeignmemory's probe of the errno */
    case IOCTL_PRIVCMD_DM_OP:           /* libxendevicemodel's probe: absent, as on an
                                           older kernel (nothing here needs it) */
        *call = XSSIM_PRIVCMD_PROBE;
        errno = ENOTTY;
        return -1;
    default:
        dev_unsupported("privcmd ioctl", req);
        errno = ENOTTY;
        return -1;
    }
}

void dev_privcmd_forget(void *addr, size_t len)
{
    uintptr_t lo = (uintptr_t)addr, hi = lo + len;
    pthread_mutex_lock(&lock);
    for (struct dev_listed *l = opens; l; l = l->next)
        for (struct vma **p = &((struct dev_file *)l)->vmas; *p;) {
            struct vma *v = *p;
            if ((uintptr_t)v->addr < hi && (uintptr_t)v->addr + v->len > lo) {
                *p = v->next;   /* unmapped, or mapped over */
                free(v);
            } else {
                p = &v->next;
            }
        }
    pthread_mutex_unlock(&lock);
}

const struct dev_ops dev_privcmd_ops = {
    .path = "/dev/xen/privcmd",
    .libs = LIB_CALL | LIB_FOREIGNMEMORY | LIB_DEVICEMODEL | LIB_TOOLCORE,
    .open_call = XSSIM_PRIVCMD_OPEN,
    .open = privcmd_open,
    .close = privcmd_close,
    .ioctl = privcmd_ioctl,
    .mmap = privcmd_mmap,
};
