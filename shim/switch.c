/*
 * switch.c - live switching: xsproxy takes over a domain that xenstored
 * already serves directly (switch in), and hands it back (switch back),
 * without xenstored knowing, using only what Xen offers a dom0 process.
 *
 * Waking xenstored.  Once xenstored has bound VIRQ_DOM_EXC, the shim binds
 * a port of its own in the same event-channel handle, open to dom0, and
 * publishes its number in CLAIMS/.wake ("port=<n>\npid=<pid>\n").  xsproxy
 * binds to it and notifies it after writing a claim; xenstored's next
 * xenevtchn_pending gets that port, and the shim acts on every claim that
 * asks for a switch, notifies the port back (the answers are written), and
 * hands xenstored one of its own ports instead (wake_take).
 *
 * Switching in (claim live=1), inside that call, xenstored not touching any
 * ring: the shim judges one snapshot of the ring with the follow of both
 * streams (ring_follow.c) - only a request xenstored holds part of makes it
 * wait - writes the snapshot to the shadow page, moves xenstored's channel
 * from the guest's port to xsproxy's shadow port (unbind, bind; xenstored
 * keeps its port number, ports.h), and puts the shadow page where the ring
 * was (xenstored's own grant unmapped first through libxengnttab, then an
 * mmap with MAP_FIXED at the same address: xenstored's pointers stay valid
 * and show the same bytes and indexes).  The answer says where the streams
 * stood and what is pending (claim.h).
 *
 * Switching back (claim live=back), once xsproxy has relayed everything:
 * the shim maps the guest's page once to compare (both pages must agree on
 * what xenstored will read back), moves the channel back to the guest's
 * port, and maps the guest's page at the ring's address itself: gntdev's
 * map ioctl and an mmap at the same address (MAP_FIXED), or privcmd's
 * mmap and MMAPBATCH for a ring xenstored had mapped by its gfn.
 */
#define _GNU_SOURCE
#include "switch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "claim.h"
#include "real.h"   /* xenctrl.h first: it sets up Xen's public headers */
#include <xen/grant_table.h>
#include <xen/sys/gntdev.h>
#include <xen/sys/privcmd.h>

#define PAGE 4096u

/* ---- the guest's page, mapped by the shim itself ------------------------ */

static int own_device(int *fd, const char *path)
{
    if (*fd < 0)
        *fd = open(path, O_RDWR | O_CLOEXEC);
    return *fd;
}

static int gntdev_fd = -1, privcmd_fd = -1;

/* T's guest page mapped at AT (MAP_FIXED) or anywhere (AT NULL): by grant
 * when xenstored mapped it by grant, else by its gfn.  The address, or NULL
 * + errno; *KIND and *INDEX say how, for undoing it. */
static void *map_guest_page(const struct tracked *t, bool by_grant, void *at,
                            enum ring_kind *kind, uint64_t *index)
{
    int flags = MAP_SHARED | (at ? MAP_FIXED : 0);
    if (by_grant) {
        int fd = own_device(&gntdev_fd, "/dev/xen/gntdev");
        struct ioctl_gntdev_map_grant_ref op = { .count = 1 };
        op.refs[0].domid = t->domid;
        op.refs[0].ref = GNTTAB_RESERVED_XENSTORE;
        if (fd < 0 || ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, &op) < 0)
            return NULL;
        void *p = mmap(at, PAGE, PROT_READ | PROT_WRITE, flags, fd, (off_t)op.index);
        if (p == MAP_FAILED) {
            int e = errno;
            struct ioctl_gntdev_unmap_grant_ref un = { .index = op.index, .count = 1 };
            ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &un);
            errno = e;
            return NULL;
        }
        *kind = RING_SHIM_GRANT;
        *index = op.index;
        return p;
    }
    int fd = own_device(&privcmd_fd, "/dev/xen/privcmd");
    void *p = fd < 0 ? MAP_FAILED : mmap(at, PAGE, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (p == MAP_FAILED)
        return NULL;
    xen_pfn_t gfn = t->gfn;
    int err = 0;
    privcmd_mmapbatch_v2_t b = { .num = 1, .dom = (domid_t)t->domid, .addr = (uintptr_t)p,
                                 .arr = &gfn, .err = &err };
    if (ioctl(fd, IOCTL_PRIVCMD_MMAPBATCH_V2, &b) < 0 || err) {
        int e = err ? -err : errno;
        if (!at)
            munmap(p, PAGE);
        errno = e;
        return NULL;
    }
    *kind = RING_SHIM_FOREIGN;
    *index = 0;
    return p;
}

void switch_release_page(enum ring_kind kind, uint64_t index)
{
    if (kind == RING_SHIM_GRANT) {
        struct ioctl_gntdev_unmap_grant_ref un = { .index = index, .count = 1 };
        ioctl(gntdev_fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &un);
    }
}

/* ---- answers ------------------------------------------------------------- */

static void write_answer(uint32_t domid, const struct switch_answer *a)
{
    const char *dir = claims_dir();
    if (dir && switch_answer_write(dir, domid, a) < 0)
        fprintf(stderr, "xsshim: cannot write the answer for domain %u: %s\n", domid,
                strerror(errno));
    if (a->kind == SWITCH_ERROR)
        fprintf(stderr, "xsshim: live switch of domain %u: error %s\n", domid, a->reason);
}

static struct switch_answer the_answer;   /* under track_lock, as all of this */

/* A busy or error answer with its reason, or a bare direct or shadow. */
static void answer(uint32_t domid, enum switch_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void answer(uint32_t domid, enum switch_kind kind, const char *fmt, ...)
{
    struct switch_answer *a = &the_answer;
    memset(a, 0, offsetof(struct switch_answer, pending));
    a->kind = kind;
    a->already = kind == SWITCH_SHADOW;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
    va_end(ap);
    write_answer(domid, a);
}

static bool answer_missing(uint32_t domid)
{
    char path[CLAIM_PATH_MAX];
    const char *dir = claims_dir();
    if (!dir || claim_path(dir, domid, ".state", path, sizeof(path)) < 0)
        return false;
    return access(path, F_OK) < 0 && errno == ENOENT;
}

/* The answer to a switch-in at SNAP: where the streams stood, the bytes of
 * a reply half on the guest's ring, the requests not yet answered (see
 * claim.h).  False when there are more of them than an answer carries. */
static bool shadow_answer(const struct tracked *t, const struct xenstore_domain_interface *snap,
                          const struct switch_point *sp, uint32_t port)
{
    struct switch_answer *a = &the_answer;
    memset(a, 0, offsetof(struct switch_answer, pending));
    a->kind = SWITCH_SHADOW;
    a->req_prod = sp->req_prod;
    a->rsp_prod = sp->rsp_prod;
    a->req_cons = sp->req_cons;
    a->port = port;
    a->req_part = sp->req_part;
    a->rsp_part = sp->rsp_part;
    a->guessed = sp->guessed;
    if (sp->rsp_part <= SWITCH_PREFIX_MAX) {
        for (uint32_t i = 0; i < sp->rsp_part; i++)
            a->rsp_prefix[i] =
                (uint8_t)snap->rsp[MASK_XENSTORE_IDX(sp->rsp_prod - sp->rsp_part + i)];
        a->rsp_prefix_len = sp->rsp_part;
    } else {
        memcpy(a->rsp_prefix, &sp->rsp_hdr, sizeof(sp->rsp_hdr));
        a->rsp_prefix_len = sizeof(sp->rsp_hdr);
    }
    if (sp->nr_pending > SWITCH_PENDING_MAX)
        return false;
    for (unsigned i = 0; i < sp->nr_pending; i++) {
        const struct followed_req *p = &t->follow.pending[i];
        a->pending[i] = (struct switch_pending){ p->hdr.type, p->hdr.req_id, p->hdr.tx_id,
                                                 p->hdr.len, p->start };
    }
    a->nr_pending = sp->nr_pending;
    return true;
}

/* ---- the channel ---------------------------------------------------------- */

/* xenstored's end of T's channel, moved to (DOM, PORT) keeping its number.
 * Xen's new port, or -1 + errno with the old binding restored if it can
 * be. */
static int move_channel(struct tracked *t, uint32_t dom, uint32_t port, uint32_t back_dom,
                        uint32_t back_port)
{
    const struct real_xen *r = real_xen();
    struct evh_state *e = evh_find(t->evh);
    if (!e) {
        errno = ENOENT;
        return -1;
    }
    if (r->evtchn_unbind(t->evh, port_to_actual(&e->ports, t->port)) < 0)
        return -1;
    int now = r->evtchn_bind_interdomain(t->evh, dom, port);
    if (now < 0) {
        int err = errno;
        int again = r->evtchn_bind_interdomain(t->evh, back_dom, back_port);
        if (again >= 0)
            port_rebind(&e->ports, t->port, (uint32_t)again);
        errno = err;
        return -1;
    }
    port_rebind(&e->ports, t->port, (uint32_t)now);
    return now;
}

/* ---- switching in ----------------------------------------------------- */

/* Judge, copy and answer: the snapshot of T's ring goes to the shadow
 * page FD.  NULL, or why not. */
static const char *take_snapshot(struct tracked *t, int fd, struct switch_point *sp,
                                 char *snap)
{
    const struct xenstore_domain_interface *live = t->addr;
    /* the indexes first: the bytes copied after them cover them */
    XENSTORE_RING_IDX req_prod = __atomic_load_n(&live->req_prod, __ATOMIC_ACQUIRE);
    XENSTORE_RING_IDX rsp_cons = __atomic_load_n(&live->rsp_cons, __ATOMIC_ACQUIRE);
    memcpy(snap, t->addr, PAGE);
    struct xenstore_domain_interface *si = (void *)snap;
    si->req_prod = req_prod;
    si->rsp_cons = rsp_cons;
    const char *busy = ring_follow_switch_point(&t->follow, si, sp);
    if (busy)
        return busy;
    if (pwrite(fd, snap, PAGE, 0) != (ssize_t)PAGE)
        return "cannot write the shadow page";
    return NULL;
}

/* Put the page of FD at T's ring address, in place of the guest's. */
static int map_shadow_over(struct tracked *t, int fd)
{
    if (t->kind == RING_GRANT && real_xen()->gnttab_unmap(t->gnt, t->addr, 1) < 0)
        return -1;   /* xenstored's grant, let go through its own library */
    if (mmap(t->addr, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) != t->addr)
        return -1;
    if (t->kind == RING_SHIM_GRANT)
        switch_release_page(t->kind, t->shim_index);
    return 0;
}

static bool switch_in(struct tracked *t, const struct claim *c, uint32_t *look)
{
    if (!c->page[0] || !c->port) {
        answer(t->domid, SWITCH_ERROR, "%s", !c->page[0] ? "the claim has no page= line"
                                         : c->bad_port ? "the claim's port= is not a port number"
                                                       : "the claim has no port= line");
        return false;
    }
    int fd = open(c->page, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < PAGE) {
        answer(t->domid, SWITCH_ERROR, "cannot use the shadow page %s: %s", c->page,
               fd < 0 ? strerror(errno) : "not 4096 bytes");
        if (fd >= 0)
            close(fd);
        return false;
    }
    struct map_id now;
    if (!map_id_of(t->addr, &now) || now.dev != t->id.dev || now.ino != t->id.ino ||
        now.off != t->id.off) {
        answer(t->domid, SWITCH_ERROR, "the domain's ring is no longer mapped where it was");
        close(fd);
        return false;
    }
    static struct switch_point sp;
    static char snap[PAGE];
    const char *busy = take_snapshot(t, fd, &sp, snap);
    uint32_t port = t->port;
    if (!busy && !shadow_answer(t, (void *)snap, &sp, port))
        busy = "more requests in flight than an answer carries";
    if (busy) {
        answer(t->domid, SWITCH_BUSY, "%s", busy);
        close(fd);
        return false;
    }
    int actual = move_channel(t, 0, c->port, t->domid, t->guest_port);
    if (actual < 0) {
        answer(t->domid, SWITCH_ERROR, "cannot bind the shadow port %u: %s", c->port,
               strerror(errno));
        close(fd);
        return false;
    }
    if (map_shadow_over(t, fd) < 0) {
        int e = errno;
        close(fd);
        move_channel(t, t->domid, t->guest_port, 0, c->port);
        answer(t->domid, SWITCH_ERROR, "cannot map the shadow page over the ring: %s",
               strerror(e));
        return false;
    }
    close(fd);
    t->kind = RING_SHADOW;
    map_id_of(t->addr, &t->id);
    t->bind_shadow = true;
    t->shadow_port = c->port;
    write_answer(t->domid, &the_answer);
    real_xen()->evtchn_notify(t->evh, (uint32_t)actual);   /* xsproxy looks at the shadow */
    *look = t->port;
    fprintf(stderr, "xsshim: domain %u switched to the shadow ring (its port %u: guest port "
            "%u -> dom0 port %u)\n", t->domid, t->port, t->guest_port, c->port);
    return true;
}

/* ---- switching back ----------------------------------------------------- */

/* Do the shadow page at T and the guest's page agree on all xenstored will
 * read back?  NULL, or how they differ. */
static const char *pages_differ(const struct tracked *t, bool by_grant, char *why, size_t len)
{
    enum ring_kind kind;
    uint64_t index;
    const struct xenstore_domain_interface *g = map_guest_page(t, by_grant, NULL, &kind, &index);
    if (!g) {
        snprintf(why, len, "error cannot map the domain's ring page: %s", strerror(errno));
        return why;
    }
    const struct xenstore_domain_interface *sh = t->addr;
    const char *rc = NULL;
    if (sh->rsp_prod != g->rsp_prod || sh->req_cons != sh->req_prod ||
        sh->req_prod != g->req_cons) {
        snprintf(why, len, "busy the pages differ (shadow req %u/%u rsp %u, guest req_cons %u "
                 "rsp_prod %u)", sh->req_cons, sh->req_prod, sh->rsp_prod, g->req_cons,
                 g->rsp_prod);
        rc = why;
    }
    munmap((void *)g, PAGE);
    switch_release_page(kind, index);
    return rc;
}

/* The shadow page of claim C back at T's ring address (a switch back that
 * failed half-way). */
static void remap_shadow(struct tracked *t, const struct claim *c)
{
    int fd = c->page[0] ? open(c->page, O_RDWR | O_CLOEXEC) : -1;
    if (fd < 0 ||
        mmap(t->addr, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) != t->addr)
        fprintf(stderr, "xsshim: domain %u: cannot map its shadow page back: %s\n", t->domid,
                strerror(errno));
    if (fd >= 0)
        close(fd);
}

static bool switch_back(struct tracked *t, const struct claim *c, bool by_grant, uint32_t *look)
{
    char why[300];
    const char *diff = pages_differ(t, by_grant, why, sizeof(why));
    if (diff) {
        bool busy = strncmp(diff, "busy ", 5) == 0;
        answer(t->domid, busy ? SWITCH_BUSY : SWITCH_ERROR, "%s", diff + (busy ? 5 : 6));
        return false;
    }
    int actual = move_channel(t, t->domid, t->guest_port, 0, t->shadow_port);
    if (actual < 0) {
        answer(t->domid, SWITCH_ERROR,
               "cannot bind the guest's store port %u (still bound by xsproxy?): %s",
               t->guest_port, strerror(errno));
        return false;
    }
    enum ring_kind kind;
    uint64_t index;
    if (!map_guest_page(t, by_grant, t->addr, &kind, &index)) {
        int e = errno;
        if (!by_grant)
            remap_shadow(t, c);   /* privcmd's mapping took the address first */
        move_channel(t, 0, t->shadow_port, t->domid, t->guest_port);
        answer(t->domid, SWITCH_ERROR, "cannot map the ring page again: %s", strerror(e));
        return false;
    }
    uint32_t old_shadow = t->shadow_port;
    t->kind = kind;
    t->shim_index = index;
    map_id_of(t->addr, &t->id);
    t->bind_shadow = false;
    t->shadow_port = 0;
    real_xen()->evtchn_notify(t->evh, (uint32_t)actual);   /* the guest looks at its ring */
    answer(t->domid, SWITCH_DIRECT, "%s", "");
    *look = t->port;
    fprintf(stderr, "xsshim: domain %u switched back to its own ring (its port %u: dom0 port "
            "%u -> guest port %u)\n", t->domid, t->port, old_shadow, t->guest_port);
    return true;
}

/* ---- claims ---------------------------------------------------------- */

/* One claim that asks for a switch.  True when the domain switched
 * (*LOOK: xenstored's port for it). */
static bool switch_one(uint32_t domid, const struct claim *c, uint32_t *look)
{
    struct tracked *t = track_find(domid);
    if (c->live == CLAIM_LIVE_BAD) {
        answer(domid, SWITCH_ERROR, "the claim's live= is neither 1 nor back");
        return false;
    }
    if (!t || !t->addr || !t->evh) {
        if (answer_missing(domid))
            answer(domid, SWITCH_ERROR, "domain %u is not served by this xenstored (not "
                   "introduced, or its ring or channel is gone)", domid);
        return false;
    }
    bool shadow = t->kind == RING_SHADOW;
    if (shadow != t->bind_shadow) {
        answer(domid, SWITCH_ERROR, "the ring and the channel are half switched: ring on the "
               "%s, channel on the %s", shadow ? "shadow" : "guest page",
               t->bind_shadow ? "shadow port" : "guest port");
        return false;
    }
    bool by_grant = t->by_grant;
    if (c->live == CLAIM_LIVE_IN) {
        if (!shadow)
            return switch_in(t, c, look);
        if (answer_missing(domid))
            answer(domid, SWITCH_SHADOW, "%s", "");
        return false;
    }
    if (shadow)
        return switch_back(t, c, by_grant, look);
    if (answer_missing(domid))
        answer(domid, SWITCH_DIRECT, "%s", "");
    return false;
}

/* Every claim with a live= line.  How many domains switched; *LOOK the
 * port of the last. */
static unsigned switch_scan(uint32_t *look)
{
    const char *dir = claims_dir();
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d)
        return 0;
    unsigned switched = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (!*n || strspn(n, "0123456789") != strlen(n) || strlen(n) > 5)
            continue;
        uint32_t domid = (uint32_t)strtoul(n, NULL, 10);
        struct claim c;
        if (domid == 0 || claim_read(dir, domid, &c) < 0 || c.live == CLAIM_LIVE_NONE)
            continue;
        switched += switch_one(domid, &c, look);
    }
    closedir(d);
    return switched;
}

/* ---- the wake-up port -------------------------------------------------- */

static uint32_t wake_published;   /* the port .wake names (0: not yet) */
static uint32_t wake_to_publish;
static time_t wake_next_try;

/* DIR and its parents, made if missing (0700: xsproxy's run directory). */
static void make_dirs(const char *dir)
{
    char path[CLAIM_PATH_MAX];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return;
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    mkdir(path, 0700);
}

static void publish(uint32_t port)
{
    const char *dir = claims_dir();
    if (!dir)
        return;
    /* xenstored usually starts before xsproxy: the directory is made here
     * if it is not there yet, so that the port is there when xsproxy is */
    make_dirs(dir);
    if (wake_write(dir, port, (int)getpid()) == 0)
        wake_published = port;
}

void wake_setup(struct evh_state *e)
{
    if (e->wake_port || !claims_dir())
        return;
    int p = real_xen()->evtchn_bind_unbound_port(e->h, 0);
    if (p < 0) {
        fprintf(stderr, "xsshim: no wake-up port for live switching: %s\n", strerror(errno));
        return;
    }
    e->wake_port = (uint32_t)p;
    wake_to_publish = (uint32_t)p;
    publish(wake_to_publish);
}

void wake_publish_retry(void)
{
    if (!wake_to_publish || wake_published == wake_to_publish)
        return;
    time_t now = time(NULL);
    if (now < wake_next_try)
        return;
    wake_next_try = now + 1;
    publish(wake_to_publish);
}

/* The requesters' count of switches asked for (claim.h, .asked), mapped
 * once it can be; and the count at the last scan. */
static uint32_t *asked;
static uint32_t asked_seen;
static time_t asked_next_try;

static bool asked_more(void)
{
    if (!asked) {
        time_t now = time(NULL);
        if (now < asked_next_try || !claims_dir())
            return false;
        asked_next_try = now + 1;
        if (!(asked = asked_map(claims_dir())))
            return false;
    }
    uint32_t n = __atomic_load_n(asked, __ATOMIC_ACQUIRE);
    if (n == asked_seen)
        return false;
    asked_seen = n;
    return true;
}

uint32_t wake_take(struct evh_state *e, uint32_t actual)
{
    if (!e->wake_port)
        return port_to_virt(&e->ports, actual);
    const struct real_xen *r = real_xen();
    uint32_t look = 0;
    if (actual != e->wake_port) {
        /* a switch asked for since the last scan is made now, before the
         * wake-up port's own turn comes */
        uint32_t virt = port_to_virt(&e->ports, actual);
        if (asked_more()) {
            switch_scan(&look);
            r->evtchn_notify(e->h, e->wake_port);
        }
        return virt;
    }
    r->evtchn_unmask(e->h, actual);
    asked_more();   /* what it counts is scanned now */
    unsigned switched = switch_scan(&look);
    r->evtchn_notify(e->h, e->wake_port);   /* the answers are there */
    return switched == 1 ? look : e->virq_port;
}
