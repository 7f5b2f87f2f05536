/*
 * dev.c - libxensim.so's kernel side: the table of open simulated device
 * files, and the libc calls on them (interposed: read, write, ioctl, mmap,
 * munmap, close, dup2, dup3; the opens come from paths.c, which keeps the
 * daemons' fixed paths inside the sim).  Each call is counted with who made
 * it (sim_calls.c), told apart by the library its return address is in.
 */
#define _GNU_SOURCE
#include "dev.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define DEV_MAX_FD 16384   /* a device's descriptor is below this */

struct open_dev {
    const struct dev_ops *ops;
    struct dev_file *f;
};

static _Atomic(struct open_dev *) table[DEV_MAX_FD];
static _Atomic int devices_open;   /* the fast test of read and write */

#define REAL_FN(name, type)                                                    \
    static type real_##name##_fn(void)                                         \
    {                                                                          \
        static _Atomic(type) fn;                                               \
        type f = atomic_load_explicit(&fn, memory_order_acquire);              \
        if (!f) {                                                              \
            f = (type)dlsym(RTLD_NEXT, #name);                                 \
            atomic_store_explicit(&fn, f, memory_order_release);               \
        }                                                                      \
        return f;                                                              \
    }

typedef ssize_t (*read_t)(int, void *, size_t);
typedef ssize_t (*write_t)(int, const void *, size_t);
typedef int (*ioctl_t)(int, unsigned long, ...);
typedef void *(*mmap_t)(void *, size_t, int, int, int, off_t);
typedef int (*munmap_t)(void *, size_t);
typedef int (*close_t)(int);
typedef int (*dup2_t)(int, int);
typedef int (*dup3_t)(int, int, int);
typedef int (*open_t)(const char *, int, ...);
REAL_FN(read, read_t)
REAL_FN(write, write_t)
REAL_FN(ioctl, ioctl_t)
REAL_FN(mmap, mmap_t)
REAL_FN(munmap, munmap_t)
REAL_FN(close, close_t)
REAL_FN(dup2, dup2_t)
REAL_FN(dup3, dup3_t)
REAL_FN(open, open_t)

void *real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return real_mmap_fn()(addr, len, prot, flags, fd, off);
}

int real_munmap(void *addr, size_t len)
{
    return real_munmap_fn()(addr, len);
}

int real_close(int fd)
{
    return real_close_fn()(fd);
}

int real_open(const char *path, int flags, mode_t mode)
{
    return real_open_fn()(path, flags, mode);
}

int dev_placeholder_fd(int flags)
{
    return eventfd(0, (flags & O_CLOEXEC) ? EFD_CLOEXEC : 0);
}

void *dev_listed_open(struct dev_listed **opens, pthread_mutex_t *lock, size_t size,
                      struct xssim *sim, int flags, int *fd)
{
    struct dev_listed *l = calloc(1, size);
    if (!l)
        return NULL;
    l->fd = dev_placeholder_fd(flags);
    if (l->fd < 0) {
        free(l);
        return NULL;
    }
    l->sim = sim;
    pthread_mutex_lock(lock);
    l->next = *opens;
    *opens = l;
    pthread_mutex_unlock(lock);
    *fd = l->fd;
    return l;
}

void dev_listed_remove(struct dev_listed **opens, pthread_mutex_t *lock, struct dev_listed *l)
{
    pthread_mutex_lock(lock);
    for (struct dev_listed **p = opens; *p; p = &(*p)->next)
        if (*p == l) {
            *p = l->next;
            break;
        }
    pthread_mutex_unlock(lock);
}

void dev_listed_free(struct dev_listed *l)
{
    real_close(l->fd);
    free(l);
}

/* ---- who is calling -------------------------------------------------------- */

static const struct {
    const char *soname;
    enum dev_lib lib;
} known_libs[] = {
    { "libxenevtchn.so.1", LIB_EVTCHN },     { "libxengnttab.so.1", LIB_GNTTAB },
    { "libxencall.so.1", LIB_CALL },         { "libxenforeignmemory.so.1", LIB_FOREIGNMEMORY },
    { "libxendevicemodel.so.1", LIB_DEVICEMODEL }, { "libxentoolcore.so.1", LIB_TOOLCORE },
    { "libxsshim.so", LIB_SHIM },
};

static enum dev_lib lib_of(const void *ret)
{
    /* a small cache: the same few call sites make every call */
    static _Atomic uint64_t cache[256];
    uintptr_t key = (uintptr_t)ret;
    _Atomic uint64_t *slot = &cache[(key >> 4) & 255];
    uint64_t v = atomic_load_explicit(slot, memory_order_relaxed);
    if (v && (v >> 8) == (uint64_t)key)
        return (enum dev_lib)(v & 255);
    enum dev_lib lib = LIB_OTHER;
    Dl_info info;
    if (dladdr(ret, &info) && info.dli_fname) {
        const char *base = strrchr(info.dli_fname, '/');
        base = base ? base + 1 : info.dli_fname;
        for (size_t i = 0; i < sizeof(known_libs) / sizeof(known_libs[0]); i++)
            if (strcmp(base, known_libs[i].soname) == 0)
                lib = known_libs[i].lib;
    }
    atomic_store_explicit(slot, ((uint64_t)key << 8) | lib, memory_order_relaxed);
    return lib;
}

static enum xssim_caller caller(const struct dev_ops *ops, const void *ret)
{
    enum dev_lib lib = lib_of(ret);
    return lib & ops->libs ? XSSIM_BY_XEN_LIB : lib == LIB_SHIM ? XSSIM_BY_SHIM : XSSIM_BY_OTHER;
}

/* Counted without touching errno: the call's own errno is the caller's. */
static void count(const struct dev_ops *ops, enum xssim_call call, const void *ret)
{
    int saved = errno;
    struct xssim *sim = xssim_default();
    if (sim)
        sim_count(sim, call, caller(ops, ret));
    errno = saved;
}

void dev_unsupported(const char *what, unsigned long code)
{
    static _Atomic unsigned long said[16];
    for (unsigned i = 0; i < 16; i++) {
        unsigned long cur = atomic_load(&said[i]);
        if (cur == code + 1)
            return;
        if (cur == 0 && atomic_compare_exchange_strong(&said[i], &cur, code + 1))
            break;
    }
    fprintf(stderr, "xensim: %s %#lx is not modelled by the simulated Xen: answered as "
            "unsupported\n", what, code);
}

/* ---- the table ------------------------------------------------------------- */

static struct open_dev *dev_at(int fd)
{
    if (fd < 0 || fd >= DEV_MAX_FD || !atomic_load_explicit(&devices_open, memory_order_relaxed))
        return NULL;
    return atomic_load_explicit(&table[fd], memory_order_acquire);
}

static const struct dev_ops *const devices[] = { &dev_evtchn_ops, &dev_gntdev_ops,
                                                  &dev_privcmd_ops };

/* Paths of Xen's devices the sim answers as absent, as older kernels do
 * (libxencall then allocates its hypercall buffers itself). */
static const char *const absent[] = { "/dev/xen/hypercall", "/dev/xen/gntalloc",
                                      "/dev/xen/xenbus", "/dev/xen/xenbus_backend",
                                      "/proc/xen/privcmd", "/dev/xen/privcmd-mmap" };

int dev_open(const char *path, int flags, const void *ret)
{
    if (!path || (strncmp(path, "/dev/xen/", 9) != 0 && strcmp(path, "/proc/xen/privcmd") != 0))
        return -2;
    struct xssim *sim = xssim_default();
    if (!sim)
        return -2;   /* no sim here: the real kernel's */
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        if (strcmp(path, absent[i]) == 0) {
            errno = ENOENT;
            return -1;
        }
    for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
        const struct dev_ops *ops = devices[i];
        if (strcmp(path, ops->path) != 0)
            continue;
        count(ops, ops->open_call, ret);
        struct open_dev *od = malloc(sizeof(*od));
        int fd = -1;
        struct dev_file *f = od ? ops->open(sim, flags, &fd) : NULL;
        if (!f) {
            int e = od ? errno : ENOMEM;
            free(od);
            errno = e;
            return -1;
        }
        if (fd < 0 || fd >= DEV_MAX_FD) {
            ops->close(f);
            free(od);
            errno = EMFILE;
            return -1;
        }
        od->ops = ops;
        od->f = f;
        atomic_store_explicit(&table[fd], od, memory_order_release);
        atomic_fetch_add(&devices_open, 1);
        return fd;
    }
    errno = ENOENT;
    return -1;
}

/* FD is closed (or another file dup'ed over it, which closes it first):
 * its device state goes, and the device closes the descriptor. */
static void dev_drop(int fd)
{
    if (fd < 0 || fd >= DEV_MAX_FD)
        return;
    struct open_dev *od = atomic_exchange(&table[fd], NULL);
    if (!od)
        return;
    atomic_fetch_sub(&devices_open, 1);
    od->ops->close(od->f);
    free(od);
}

/* ---- the libc calls ---------------------------------------------------------- */

/* Mappings at [ADDR, ADDR+LEN) go: the devices forget theirs. */
static void forget(void *addr, size_t len)
{
    if (atomic_load_explicit(&devices_open, memory_order_relaxed)) {
        dev_gntdev_forget(addr, len);
        dev_privcmd_forget(addr, len);
    }
}

ssize_t read(int fd, void *buf, size_t len)
{
    struct open_dev *od = dev_at(fd);
    if (!od)
        return real_read_fn()(fd, buf, len);
    count(od->ops, XSSIM_EVTCHN_READ, __builtin_return_address(0));
    if (!od->ops->read) {
        errno = EINVAL;
        return -1;
    }
    return od->ops->read(od->f, buf, len);
}

ssize_t write(int fd, const void *buf, size_t len)
{
    struct open_dev *od = dev_at(fd);
    if (!od)
        return real_write_fn()(fd, buf, len);
    count(od->ops, XSSIM_EVTCHN_WRITE, __builtin_return_address(0));
    if (!od->ops->write) {
        errno = EINVAL;
        return -1;
    }
    return od->ops->write(od->f, buf, len);
}

int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    struct open_dev *od = dev_at(fd);
    if (!od)
        return real_ioctl_fn()(fd, req, arg);
    enum xssim_call call = XSSIM_UNSUPPORTED;
    long rc = od->ops->ioctl(od->f, req, arg, &call);
    count(od->ops, call, __builtin_return_address(0));
    return (int)rc;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    struct open_dev *od = (flags & MAP_ANONYMOUS) ? NULL : dev_at(fd);
    if (od) {
        count(od->ops, od->ops == &dev_gntdev_ops ? XSSIM_GNTDEV_MMAP : XSSIM_PRIVCMD_MMAP,
              __builtin_return_address(0));
        if (!od->ops->mmap) {
            errno = ENODEV;
            return MAP_FAILED;
        }
        if ((flags & MAP_FIXED) && addr)
            forget(addr, len);
        return od->ops->mmap(od->f, addr, len, prot, flags, off);
    }
    if ((flags & MAP_FIXED) && addr)
        forget(addr, len);   /* whatever was there is gone */
    return real_mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
    __attribute__((alias("mmap")));

int munmap(void *addr, size_t len)
{
    forget(addr, len);
    return real_munmap(addr, len);
}

int close(int fd)
{
    if (dev_at(fd)) {
        dev_drop(fd);
        return 0;
    }
    return real_close_fn()(fd);
}

int dup2(int old, int new)
{
    if (old != new && dev_at(old) == NULL)
        dev_drop(new);   /* the kernel closes it as it dups */
    return real_dup2_fn()(old, new);
}

int dup3(int old, int new, int flags)
{
    if (old != new && dev_at(old) == NULL)
        dev_drop(new);
    return real_dup3_fn()(old, new, flags);
}
