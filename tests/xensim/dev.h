/*
 * dev.h - the simulated kernel devices of libxensim.so: what Xen's Linux
 * user-space libraries open, ioctl, read, write and mmap.  dev.c keeps the
 * table of open device files and takes the libc calls (interposed); each
 * device is a table of operations (dev_evtchn.c, dev_gntdev.c,
 * dev_privcmd.c).  Only with a sim attached (XSSIM_DIR): without one every
 * call goes to the real kernel.
 */
#ifndef XENSIM_DEV_H
#define XENSIM_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sim_internal.h"

struct dev_file;   /* one open of a device: its own state */

/* The libraries a call may come from (dev.c tells them by the return
 * address); each device names those that are its own. */
enum dev_lib {
    LIB_EVTCHN = 1 << 0, LIB_GNTTAB = 1 << 1, LIB_CALL = 1 << 2, LIB_FOREIGNMEMORY = 1 << 3,
    LIB_DEVICEMODEL = 1 << 4, LIB_TOOLCORE = 1 << 5, LIB_SHIM = 1 << 6, LIB_OTHER = 1 << 7,
};

struct dev_ops {
    const char *path;         /* "/dev/xen/evtchn" */
    unsigned libs;            /* enum dev_lib: the device's own libraries */
    enum xssim_call open_call;
    /* A new open: its state, and the descriptor the program gets (a real
     * one, so that poll and close work).  NULL + errno. */
    struct dev_file *(*open)(struct xssim *sim, int flags, int *fd);
    void (*close)(struct dev_file *f);
    /* The ioctl's result (>= 0) or -1 + errno; CALL says what it was, for
     * the counts (XSSIM_UNSUPPORTED when the device does not model it). */
    long (*ioctl)(struct dev_file *f, unsigned long req, void *arg, enum xssim_call *call);
    ssize_t (*read)(struct dev_file *f, void *buf, size_t len);     /* NULL: EINVAL */
    ssize_t (*write)(struct dev_file *f, const void *buf, size_t len);
    /* mmap of the device at OFF: the address, or MAP_FAILED + errno. */
    void *(*mmap)(struct dev_file *f, void *addr, size_t len, int prot, int flags, off_t off);
};

extern const struct dev_ops dev_evtchn_ops, dev_gntdev_ops, dev_privcmd_ops;

/* An open of PATH by code at RET: the descriptor of a simulated device,
 * -1 + errno (a device the sim has as absent), or -2 when PATH is not a
 * Xen device (or no sim is attached): the real open's to do. */
int dev_open(const char *path, int flags, const void *ret);

/* The descriptor of an open with nothing behind it in the kernel (the
 * device is here, in this process): a real one, so that poll, dup and close
 * work.  FLAGS: the open's (O_CLOEXEC).  -1 + errno. */
int dev_placeholder_fd(int flags);

/* What the state of a device that keeps a list of its opens begins with
 * (gntdev and privcmd: a mapping that goes is looked for in every open). */
struct dev_listed {
    struct dev_listed *next;
    struct xssim *sim;
    int fd;   /* the placeholder descriptor the program has */
};
/* A new open of SIZE octets (at least a struct dev_listed, which it
 * begins with), zeroed but for SIM and a placeholder descriptor (FLAGS as
 * dev_placeholder_fd's), also in *FD; put on *OPENS under LOCK.
 * NULL + errno. */
void *dev_listed_open(struct dev_listed **opens, pthread_mutex_t *lock, size_t size,
                      struct xssim *sim, int flags, int *fd);
/* L off *OPENS, under LOCK; the device frees what it holds, then
 * dev_listed_free(L). */
void dev_listed_remove(struct dev_listed **opens, pthread_mutex_t *lock, struct dev_listed *l);
/* L's descriptor closed, and L freed. */
void dev_listed_free(struct dev_listed *l);

/* The real libc calls, looked up once. */
void *real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int real_munmap(void *addr, size_t len);
int real_close(int fd);
int real_open(const char *path, int flags, mode_t mode);

/* Memory [ADDR, ADDR+LEN) is about to be unmapped or mapped over: the
 * devices forget what they had mapped there (gntdev releases the grant,
 * privcmd the foreign mapping, as Linux does when the VMA goes). */
void dev_gntdev_forget(void *addr, size_t len);
void dev_privcmd_forget(void *addr, size_t len);

/* The hypercalls of privcmd's IOCTL_PRIVCMD_HYPERCALL (hypercall.c): the
 * hypercall's return value (>= 0, or -errno as Xen gives), CALL as above. */
long sim_hypercall(struct xssim *sim, unsigned long op, const unsigned long arg[5],
                   enum xssim_call *call);

/* A gap shows instead of hiding: what the sim does not model is said on
 * stderr, once per kind. */
void dev_unsupported(const char *what, unsigned long code);

#endif
