/*
 * sim_state.c - creating and attaching to a sim, and its domain table.
 *
 * DIR/state is the shared table (struct sim_header); DIR/mem/domN is domain
 * N's ring page; DIR/fs/ holds the redirected daemon paths (/run/xenstored,
 * /var/log/xen, /proc/xen/xsd_kva and xsd_port, ...).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdint.h>
#include <xen/xen.h>

#include "sim_internal.h"

int sim_path(const char *dir, const char *sub, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", dir, sub);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    if (strlen(path) >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(tmp, path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

bool sim_pid_alive(pid_t pid)
{
    if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
        return false;
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno != ENOENT;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return true;
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return !(paren && paren[1] == ' ' && paren[2] == 'Z');
}

void sim_lock(struct xssim *sim)
{
    int rc = pthread_mutex_lock(&sim->hdr->lock);
    if (rc == EOWNERDEAD)   /* a process died holding it: the table is
                               only changed in whole steps, so carry on */
        pthread_mutex_consistent(&sim->hdr->lock);
}

void sim_unlock(struct xssim *sim)
{
    pthread_mutex_unlock(&sim->hdr->lock);
}

struct sim_domain *sim_dom(struct xssim *sim, uint32_t domid)
{
    if (domid > XSSIM_MAX_DOMID)
        return NULL;
    int slot = __atomic_load_n(&sim->hdr->slot_of[domid], __ATOMIC_ACQUIRE);
    if (slot < 0)
        return NULL;
    struct sim_domain *d = &sim->hdr->doms[slot];
    return d->in_use && d->domid == domid ? d : NULL;
}

struct sim_port *sim_port(struct xssim *sim, struct sim_domain *d, uint32_t port)
{
    if (!d || port == 0 || port >= d->nr_ports)
        return NULL;
    return &sim->hdr->ports[d->port_base + port];
}

static struct xssim *map_state(const char *dir, int fd)
{
    struct xssim *sim = calloc(1, sizeof(*sim));
    if (!sim)
        return NULL;
    sim->dir = strdup(dir);
    sim->fd = fd;
    sim->hdr = mmap(NULL, sizeof(struct sim_header), PROT_READ | PROT_WRITE,
                    MAP_SHARED, fd, 0);
    if (!sim->dir || sim->hdr == MAP_FAILED) {
        int e = errno;
        free(sim->dir);
        free(sim);
        close(fd);
        errno = e;
        return NULL;
    }
    return sim;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    close(fd);
    if (w != (ssize_t)n) {
        errno = EIO;
        return -1;
    }
    return 0;
}

struct xssim *xssim_create(const char *dir)
{
    static const char *const subdirs[] = {
        "mem", "fs/run/xenstored", "fs/run/xen", "fs/var/log/xen",
        "fs/var/lib/xenstored", "fs/var/lib/xen", "fs/proc/xen", "run",
    };
    char path[PATH_MAX];
    if (mkdir_p(dir) < 0)
        return NULL;
    for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
        if (sim_path(dir, subdirs[i], path, sizeof(path)) < 0 || mkdir_p(path) < 0)
            return NULL;
    }
    if (sim_path(dir, "state", path, sizeof(path)) < 0)
        return NULL;
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return NULL;
    if (ftruncate(fd, sizeof(struct sim_header)) < 0) {
        int e = errno;
        close(fd);
        unlink(path);
        errno = e;
        return NULL;
    }
    struct xssim *sim = map_state(dir, fd);
    if (!sim)
        return NULL;
    struct sim_header *h = sim->hdr;
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&h->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    if (getrandom(&h->sim_id, sizeof(h->sim_id), 0) != sizeof(h->sim_id))
        h->sim_id = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
    atomic_store(&h->next_handle, 1);
    memset(h->slot_of, 0xff, sizeof(h->slot_of));
    for (uint32_t s = 0; s < SIM_MAX_SLOTS; s++) {
        h->doms[s].nr_ports = s == 0 ? SIM_DOM0_PORTS : SIM_DOMU_PORTS;
        h->doms[s].port_base = s == 0 ? 0 : SIM_DOM0_PORTS + (s - 1) * SIM_DOMU_PORTS;
    }
    __atomic_store_n(&h->magic, SIM_MAGIC, __ATOMIC_RELEASE);

    /* dom0: its ring is what /proc/xen/xsd_kva maps, its store port what
     * /proc/xen/xsd_port names; /proc/xen/capabilities says it is the
     * control domain, as xencommons' scripts check. */
    if (xssim_domain_create(sim, 0) < 0)
        goto fail;
    struct xssim_dominfo d0;
    xssim_domain_info(sim, 0, &d0);
    char num[16];
    snprintf(num, sizeof(num), "%u", d0.store_port);   /* no newline */
    char ring[PATH_MAX];
    if (sim_path(dir, "fs/proc/xen/xsd_port", path, sizeof(path)) < 0 ||
        write_file(path, num) < 0 ||
        xssim_ring_path(sim, 0, ring, sizeof(ring)) < 0 ||
        sim_path(dir, "fs/proc/xen/xsd_kva", path, sizeof(path)) < 0 ||
        link(ring, path) < 0 ||
        sim_path(dir, "fs/proc/xen/capabilities", path, sizeof(path)) < 0 ||
        write_file(path, "control_d\n") < 0)
        goto fail;
    return sim;
fail:;
    int e = errno;
    xssim_detach(sim);
    errno = e;
    return NULL;
}

struct xssim *xssim_attach(const char *dir)
{
    char path[PATH_MAX];
    if (sim_path(dir, "state", path, sizeof(path)) < 0)
        return NULL;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(struct sim_header)) {
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    struct xssim *sim = map_state(dir, fd);
    if (sim && __atomic_load_n(&sim->hdr->magic, __ATOMIC_ACQUIRE) != SIM_MAGIC) {
        xssim_detach(sim);
        errno = EINVAL;
        return NULL;
    }
    return sim;
}

struct xssim *xssim_default(void)
{
    static struct xssim *cached;
    static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&once);
    if (!cached) {
        const char *dir = getenv("XSSIM_DIR");
        if (dir && *dir)
            cached = xssim_attach(dir);
        else
            errno = ENOENT;
    }
    pthread_mutex_unlock(&once);
    return cached;
}

void xssim_detach(struct xssim *sim)
{
    if (!sim)
        return;
    munmap(sim->hdr, sizeof(struct sim_header));
    close(sim->fd);
    free(sim->dir);
    free(sim);
}

const char *xssim_dir(const struct xssim *sim)
{
    return sim->dir;
}

int xssim_ring_path(struct xssim *sim, uint32_t domid, char *buf, size_t len)
{
    char sub[32];
    snprintf(sub, sizeof(sub), "mem/dom%u", domid);
    return sim_path(sim->dir, sub, buf, len);
}

void *xssim_map_ring(struct xssim *sim, uint32_t domid)
{
    if (!sim_dom(sim, domid)) {
        errno = ESRCH;
        return NULL;
    }
    char path[PATH_MAX];
    if (xssim_ring_path(sim, domid, path, sizeof(path)) < 0)
        return NULL;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    void *p = mmap(NULL, XSSIM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    errno = e;
    return p == MAP_FAILED ? NULL : p;
}

void xssim_unmap_ring(void *page)
{
    if (page)
        munmap(page, XSSIM_PAGE_SIZE);
}

static void fill_info(const struct sim_domain *d, struct xssim_dominfo *out)
{
    out->domid = d->domid;
    out->state = (enum xssim_dom_state)d->state;
    out->shutdown_reason = d->shutdown_reason;
    out->ring_gfn = SIM_GFN_BASE + d->domid;
    out->store_port = d->store_port;
    out->privileged = d->domid == 0;
}

int xssim_domain_create(struct xssim *sim, uint32_t domid)
{
    if (domid > XSSIM_MAX_DOMID) {
        errno = EINVAL;
        return -1;
    }
    char path[PATH_MAX];
    if (xssim_ring_path(sim, domid, path, sizeof(path)) < 0)
        return -1;
    sim_lock(sim);
    struct sim_header *h = sim->hdr;
    int rc = -1;
    if (sim_dom(sim, domid)) {
        errno = EEXIST;
        goto out;
    }
    /* dom0 always takes slot 0: it has the big port space */
    uint32_t slot = domid == 0 ? 0 : 1;
    if (domid != 0) {
        while (slot < SIM_MAX_SLOTS && h->doms[slot].in_use)
            slot++;
        if (slot == SIM_MAX_SLOTS) {
            errno = ENOSPC;
            goto out;
        }
    } else if (h->doms[0].in_use) {
        errno = EEXIST;
        goto out;
    }
    unlink(path);   /* a page left by an earlier domain of this id */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        goto out;
    if (ftruncate(fd, XSSIM_PAGE_SIZE) < 0) {
        int e = errno;
        close(fd);
        unlink(path);
        errno = e;
        goto out;
    }
    close(fd);
    struct sim_domain *d = &h->doms[slot];
    memset(&h->ports[d->port_base], 0, d->nr_ports * sizeof(struct sim_port));
    d->domid = domid;
    d->state = XSSIM_RUNNING;
    d->shutdown_reason = 0;
    d->in_use = 1;
    /* the store port: unbound in the domain, for dom0 (xenstored) to bind */
    struct sim_port *p = &h->ports[d->port_base + 1];
    p->remote_dom = 0;
    p->remote_port = 0;
    atomic_store(&p->owner, 0);
    atomic_store(&p->state, PORT_UNBOUND);
    d->store_port = 1;
    __atomic_store_n(&h->slot_of[domid], (int16_t)slot, __ATOMIC_RELEASE);
    rc = 0;
out:
    sim_unlock(sim);
    return rc;
}

int xssim_domain_destroy(struct xssim *sim, uint32_t domid)
{
    sim_lock(sim);
    struct sim_domain *d = sim_dom(sim, domid);
    if (!d || domid == 0) {
        sim_unlock(sim);
        errno = d ? EPERM : ESRCH;
        return -1;
    }
    d->state = XSSIM_DYING;
    sim_close_domain_ports(sim, d);
    __atomic_store_n(&sim->hdr->slot_of[domid], (int16_t)-1, __ATOMIC_RELEASE);
    d->in_use = 0;
    sim_raise_dom_exc(sim);
    sim_unlock(sim);
    char path[PATH_MAX];
    if (xssim_ring_path(sim, domid, path, sizeof(path)) == 0)
        unlink(path);   /* mappings stay valid until unmapped */
    return 0;
}

int xssim_domain_shutdown(struct xssim *sim, uint32_t domid, uint32_t reason)
{
    sim_lock(sim);
    struct sim_domain *d = sim_dom(sim, domid);
    if (!d) {
        sim_unlock(sim);
        errno = ESRCH;
        return -1;
    }
    d->state = XSSIM_SHUTDOWN;
    d->shutdown_reason = reason;
    sim_raise_dom_exc(sim);
    sim_unlock(sim);
    return 0;
}

int xssim_domain_info(struct xssim *sim, uint32_t domid, struct xssim_dominfo *out)
{
    sim_lock(sim);
    struct sim_domain *d = sim_dom(sim, domid);
    if (d)
        fill_info(d, out);
    sim_unlock(sim);
    if (!d) {
        errno = ESRCH;
        return -1;
    }
    return 0;
}

int xssim_domain_list(struct xssim *sim, uint32_t first, unsigned max,
                      struct xssim_dominfo *out)
{
    unsigned n = 0;
    sim_lock(sim);
    for (uint32_t id = first; id <= XSSIM_MAX_DOMID && n < max; id++) {
        struct sim_domain *d = sim_dom(sim, id);
        if (d)
            fill_info(d, &out[n++]);
    }
    sim_unlock(sim);
    return (int)n;
}

