/*
 * xensim_probe.c - test equipment: Debian's own libxenevtchn, libxengnttab,
 * libxenctrl (and below it libxencall and libxenforeignmemory) and dom0's
 * /proc/xen, driven directly on the simulated Xen (run with libxensim.so
 * preloaded and XSSIM_DIR set, by test_xensim.cc), each step printed as
 * "name: result" for the test to judge.  The sim must answer as Xen and
 * Linux do, failures included.  Usage:
 *
 *   xensim_probe DOMID STORE_PORT      (a domain of the sim, not introduced)
 */
#define _GNU_SOURCE
#define XC_WANT_COMPAT_MAP_FOREIGN_API   /* xc_map_foreign_range, as oxenstored's */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xen/sys/gntdev.h>
#include <xen/sys/privcmd.h>

#define PAGE 4096u

/* EXPR's result and the errno it left (read after it, in that order) */
#define say(what, expr, ignored)                                               \
    do {                                                                       \
        int rc_ = (expr);                                                      \
        int e_ = errno;                                                        \
        say_result(what, rc_, e_);                                             \
    } while (0)

static void say_result(const char *what, int rc, int err)
{
    if (rc < 0)
        printf("%s: -1 %s\n", what, strerror(err));
    else
        printf("%s: %d\n", what, rc);
}

/* libxenevtchn: an interdomain channel to the guest's store port, a loop
 * back in dom0, VIRQ_DOM_EXC, and what a bad port gives. */
static void evtchn(uint32_t domid, uint32_t store_port)
{
    xenevtchn_handle *a = xenevtchn_open(NULL, 0), *b = xenevtchn_open(NULL, 0);
    say("evtchn open", a && b ? 0 : -1, errno);
    if (!a || !b)
        return;
    int fd = xenevtchn_fd(a);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int p = xenevtchn_bind_interdomain(a, domid, store_port);
    say("evtchn bind guest", p < 0 ? -1 : 0, errno);
    /* a new interdomain binding is pending at once, as Xen makes it */
    int first = xenevtchn_pending(a);
    printf("evtchn bound port pending: %s\n", first == p ? "yes" : "no");
    xenevtchn_unmask(a, (uint32_t)first);
    int again = xenevtchn_bind_interdomain(b, domid, store_port);
    say("evtchn bind guest twice", again, errno);   /* EINVAL: bound already */
    int u = xenevtchn_bind_unbound_port(a, 0);
    int l = u < 0 ? -1 : xenevtchn_bind_interdomain(b, 0, (uint32_t)u);
    say("evtchn loopback", l < 0 ? -1 : 0, errno);
    for (int q; (q = xenevtchn_pending(a)) >= 0;)   /* the binding's own */
        xenevtchn_unmask(a, (uint32_t)q);
    say("evtchn notify", xenevtchn_notify(b, (uint32_t)l), errno);
    int got = xenevtchn_pending(a);
    printf("evtchn pending is the loopback's: %s\n", got == u ? "yes" : "no");
    say("evtchn unmask", xenevtchn_unmask(a, (uint32_t)got), errno);
    /* nothing pending now: a non-blocking read says so */
    say("evtchn pending none", xenevtchn_pending(a), errno);
    /* closing one end leaves the other unbound, bindable again */
    say("evtchn unbind", xenevtchn_unbind(b, (uint32_t)l), errno);
    say("evtchn notify unbound", xenevtchn_notify(b, (uint32_t)l), errno);   /* ENOTCONN */
    int r = xenevtchn_bind_interdomain(b, 0, (uint32_t)u);
    say("evtchn rebind", r < 0 ? -1 : 0, errno);
    say("evtchn bind virq", xenevtchn_bind_virq(a, VIRQ_DOM_EXC) < 0 ? -1 : 0, errno);
    xenevtchn_close(a);
    xenevtchn_close(b);
}

/* libxengnttab: the guest's xenstore grant maps its ring page; any other
 * grant does not.  An unmapped grant is released: its offset is stale. */
static void gnttab(uint32_t domid)
{
    xengnttab_handle *g = xengnttab_open(NULL, 0);
    say("gnttab open", g ? 0 : -1, errno);
    if (!g)
        return;
    say("gnttab set max", xengnttab_set_max_grants(g, 16), errno);
    volatile uint32_t *ring = xengnttab_map_grant_ref(g, domid, 1, PROT_READ | PROT_WRITE);
    say("gnttab map ref 1", ring ? 0 : -1, errno);
    void *other = xengnttab_map_grant_ref(g, domid, 7, PROT_READ | PROT_WRITE);
    say("gnttab map ref 7", other ? 0 : -1, errno);
    void *nodom = xengnttab_map_grant_ref(g, 30000, 1, PROT_READ | PROT_WRITE);
    say("gnttab map no domain", nodom ? 0 : -1, errno);
    if (ring) {
        /* the same page another mapping of it shows */
        volatile uint32_t *twice = xengnttab_map_grant_ref(g, domid, 1, PROT_READ | PROT_WRITE);
        ring[300] = 0x5a5a5a5a;
        printf("gnttab same page: %s\n", twice && twice[300] == 0x5a5a5a5a ? "yes" : "no");
        say("gnttab unmap", xengnttab_unmap(g, (void *)ring, 1), errno);
        say("gnttab unmap again", xengnttab_unmap(g, (void *)ring, 1), errno);   /* EINVAL */
        if (twice)
            xengnttab_unmap(g, (void *)twice, 1);
    }
    xengnttab_close(g);

    /* gntdev itself, as the shim's switch-back uses it: a mapping replaced
     * with MAP_FIXED releases the grant (no offset for the address), the
     * offset can be mapped again at the same address; an offset unmapped
     * is stale */
    int fd = open("/dev/xen/gntdev", O_RDWR | O_CLOEXEC);
    struct ioctl_gntdev_map_grant_ref op = { .count = 1 };
    op.refs[0].domid = domid;
    op.refs[0].ref = 1;
    say("gntdev map ioctl", ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, &op), errno);
    void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)op.index);
    say("gntdev mmap", p == MAP_FAILED ? -1 : 0, errno);
    void *q = mmap(p, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    struct ioctl_gntdev_get_offset_for_vaddr off = { .vaddr = (uintptr_t)p };
    say("gntdev offset after MAP_FIXED over it",
        ioctl(fd, IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, &off), errno);   /* EINVAL */
    void *r = mmap(q, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, (off_t)op.index);
    say("gntdev mmap again at the same address", r == p ? 0 : -1, errno);
    struct ioctl_gntdev_unmap_grant_ref un = { .index = op.index, .count = 1 };
    munmap(r, PAGE);
    say("gntdev unmap ioctl", ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &un), errno);
    void *s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)op.index);
    say("gntdev mmap a stale offset", s == MAP_FAILED ? -1 : 0, errno);   /* EINVAL */
    say("gntdev unknown ioctl", ioctl(fd, _IOC(_IOC_NONE, 'G', 99, 0), NULL), errno);
    close(fd);
}

/* libxenctrl: domain info and channel status as Xen answers them, and a
 * foreign map of the ring's gfn. */
static void ctrl(uint32_t domid, uint32_t store_port)
{
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    say("xc open", xch ? 0 : -1, errno);
    if (!xch)
        return;
    xc_dominfo_t info;
    int n = xc_domain_getinfo(xch, domid, 1, &info);
    printf("xc getinfo: %d domid %u %s\n", n, n == 1 ? info.domid : 0,
           n == 1 && !info.dying && !info.shutdown ? "running" : "?");
    n = xc_domain_getinfo(xch, domid + 1, 1, &info);
    say("xc getinfo above the last", n, errno);   /* -1 ESRCH */
    xc_domaininfo_t list[8];
    say("xc getinfolist", xc_domain_getinfolist(xch, 0, 8, list), errno);
    xc_evtchn_status_t st = { .dom = (domid_t)domid, .port = store_port };
    say("xc evtchn status", xc_evtchn_status(xch, &st), errno);
    printf("xc evtchn status: %s remote %u\n",
           st.status == EVTCHNSTAT_unbound ? "unbound" : "other", st.u.unbound.dom);
    int u = xc_evtchn_alloc_unbound(xch, domid, 0);
    say("xc evtchn alloc unbound", u < 0 ? -1 : 0, errno);
    void *ring = xc_map_foreign_range(xch, domid, PAGE, PROT_READ | PROT_WRITE, 0xfeff0000ul + domid);
    say("xc map foreign ring", ring ? 0 : -1, errno);
    if (ring)
        munmap(ring, PAGE);
    void *bad = xc_map_foreign_range(xch, domid, PAGE, PROT_READ | PROT_WRITE, 0x1234);
    say("xc map foreign other gfn", bad ? 0 : -1, errno);
    xc_interface_close(xch);

    /* privcmd itself: a domctl of another interface version, a hypercall
     * the sim does not model */
    int fd = open("/dev/xen/privcmd", O_RDWR | O_CLOEXEC);
    struct xen_domctl dc = { .cmd = XEN_DOMCTL_getdomaininfo, .interface_version = 1,
                             .domain = (domid_t)domid };
    privcmd_hypercall_t h = { .op = __HYPERVISOR_domctl, .arg = { (uintptr_t)&dc } };
    say("privcmd domctl of another version", ioctl(fd, IOCTL_PRIVCMD_HYPERCALL, &h), errno);
    privcmd_hypercall_t v = { .op = __HYPERVISOR_xen_version };
    say("privcmd unmodelled hypercall", ioctl(fd, IOCTL_PRIVCMD_HYPERCALL, &v), errno);
    close(fd);
}

/* /proc/xen as dom0 reads it: what the daemons' init checks and what
 * xenstored maps its own ring by. */
static void proc_xen(void)
{
    char buf[64] = "";
    int fd = open("/proc/xen/capabilities", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    printf("proc capabilities: %s\n", n > 0 ? buf : "unreadable");
    fd = open("/proc/xen/xsd_port", O_RDONLY);
    n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (fd >= 0)
        close(fd);
    printf("proc xsd_port: %s\n", n > 0 && atoi(buf) > 0 ? "a port" : "unreadable");
    fd = open("/proc/xen/xsd_kva", O_RDWR);
    void *ring = fd < 0 ? MAP_FAILED : mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fd >= 0)
        close(fd);
    say("proc xsd_kva mmap", ring == MAP_FAILED ? -1 : 0, errno);
    if (ring != MAP_FAILED)
        munmap(ring, PAGE);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: xensim_probe DOMID STORE_PORT\n");
        return 2;
    }
    uint32_t domid = (uint32_t)strtoul(argv[1], NULL, 10);
    uint32_t port = (uint32_t)strtoul(argv[2], NULL, 10);
    setvbuf(stdout, NULL, _IOLBF, 0);
    ctrl(domid, port);
    evtchn(domid, port);
    gnttab(domid);
    proc_xen();
    return 0;
}
