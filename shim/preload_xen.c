/*
 * preload_xen.c - the Xen library calls of libxsshim.so.
 *
 * With XSSIM_DIR set these are answered by the sim; without it they go on to
 * the real libxenevtchn / libxengnttab / libxenctrl (looked up with
 * dlsym(RTLD_NEXT)), so the same library can sit in a process on real Xen.
 * The calls cover what C xenstored and oxenstored 4.17 import, plus the few a
 * toolstack uses on a domain's xenstore connection.  Claimed domains (see
 * below) are redirected to xsproxy's shadow ring in either mode.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#include "sim_internal.h"
#include "claim.h"
#include "ring_follow.h"

#define REAL(name) ((__typeof__(&name))real_sym(#name))

static void *real_sym(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f)
        errno = ENOSYS;
    return f;
}

/* ---- claims: domains xsproxy stands in front of ----------------------
 *
 * xsproxy writes $XSSHIM_CLAIMS/<domid> ("page=<file>\nport=<n>\n") before
 * it passes a domain's INTRODUCE on.  Mapping that domain's ring then maps
 * the shadow page, and binding its event channel binds the shadow port (an
 * unbound dom0 port of xsproxy's).  A file look-up per map or bind, never
 * per notify.  A claim may also ask for a live switch (`live=1`, `live=back`,
 * below); a claim saying `live=back` hands the domain back to xenstored and
 * redirects nothing.
 */
static const char *claims_dir(void)
{
    const char *dir = getenv("XSSHIM_CLAIMS");
    return dir && *dir ? dir : NULL;
}

/* DOMID's claim (claim.h).  0, or -1 (ENOENT: no claim, or no claims
 * directory); errno is left as it was either way. */
static int parse_claim(uint32_t domid, struct claim *c)
{
    int saved_errno = errno;
    const char *dir = claims_dir();
    int rc = dir ? claim_read(dir, domid, c) : -1;
    errno = saved_errno;
    return rc;
}

/* A claim that redirects DOMID's ring and channel to a shadow.  errno is
 * left as it was: the daemon that called the library must see it as the
 * real library leaves it (C xenstored 4.17 answers some bad requests with
 * its errno of the moment, and aborts when that is 0). */
static bool read_claim(uint32_t domid, struct claim *c)
{
    return parse_claim(domid, c) == 0 && c->page[0] && c->port && c->live != CLAIM_LIVE_BACK;
}

/* Pages mapped through a claim (or switched to one live), so that
 * unmapping them is a munmap. */
static void *claimed_pages[256];
static pthread_mutex_t claimed_lock = PTHREAD_MUTEX_INITIALIZER;

static void claimed_add(void *p)
{
    pthread_mutex_lock(&claimed_lock);
    for (size_t i = 0; i < sizeof(claimed_pages) / sizeof(claimed_pages[0]); i++)
        if (!claimed_pages[i]) {
            claimed_pages[i] = p;
            break;
        }
    pthread_mutex_unlock(&claimed_lock);
}

static bool claimed_forget(void *p)
{
    bool found = false;
    pthread_mutex_lock(&claimed_lock);
    for (size_t i = 0; i < sizeof(claimed_pages) / sizeof(claimed_pages[0]); i++)
        if (claimed_pages[i] == p) {
            claimed_pages[i] = NULL;
            found = true;
        }
    pthread_mutex_unlock(&claimed_lock);
    return found;
}

static void *map_claimed_page(const struct claim *c)
{
    int fd = open(c->page, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    void *p = mmap(NULL, XSSIM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    claimed_add(p);
    return p;
}

static bool unmap_claimed_page(void *p)
{
    bool found = claimed_forget(p);
    if (found)
        munmap(p, XSSIM_PAGE_SIZE);
    return found;
}

static struct xssim *sim_mode(void)
{
    const char *dir = getenv("XSSIM_DIR");
    return dir && *dir ? xssim_default() : NULL;
}

struct xenevtchn_handle {
    struct xssim_evtchn *sim;
    xenevtchn_handle *real;
};

/* ---- live switching ----------------------------------------------------
 *
 * For the developers: how xsproxy takes over a domain that xenstored already
 * serves directly (switch in), and hands it back (switch back), without
 * xenstored knowing.  libxsshim.so inside xenstored owns every ring mapping
 * and event-channel call, so it switches a domain while xenstored's single
 * thread is inside one of its calls (xenevtchn_pending, xenevtchn_notify -
 * the last step of each write to a ring -, xc_domain_getinfo,
 * xc_domain_getinfolist) and not touching any ring.
 *
 * Following.  From the mapping on, the shim follows both streams of every
 * tracked ring message by message, and the requests not yet answered
 * (ring_follow.c): requests in each xenevtchn_pending, replies in each
 * xenevtchn_notify.  A switch-in happens wherever the streams stand, known
 * exactly rather than guessed from the bytes (C xenstored cuts a reply at
 * the ring's end, and the cut can look like a whole message): the answer
 * hands over the requests xenstored owes a reply (taken, or still on the
 * ring), the request the guest is half-way through and the reply xenstored
 * is half-way through.  Only a request xenstored has taken part of makes it
 * wait ("busy"): the requester could not tell xenstored's half from the
 * guest's.
 *
 * Tracking.  With XSSHIM_CLAIMS set, the shim records, per domain (not
 * dom0): the ring page it mapped for xenstored (grant ref 1 or the gfn: the
 * address, how, and which file the sim mapped there) and xenstored's
 * interdomain binding (handle, the guest's store port, the local port).
 * Unmapping (xengnttab_unmap, or munmap: oxenstored unmaps its foreign map
 * with a plain munmap), unbinding or closing the handle forgets them.
 * Domains introduced through a claim are tracked too, as already switched
 * in, so that they can be handed back the same way.
 *
 * The files, all in $XSSHIM_CLAIMS (xsproxy's RUN-DIR/claims), and their
 * formats are claim.h's: the claim <domid>, the switch board .switch (the
 * shim maps it lazily, creating it if missing, and compares its counter
 * with the last value it saw on every xenevtchn_pending, xenevtchn_notify
 * and xc_domain_getinfo* call: a memory read, no syscall) and the answer
 * <domid>.state.
 *
 * The requester (xsproxy) switching D in:
 *   1. maps D's real ring, creates the shadow page file (4096 bytes) and
 *      allocates an unbound dom0 port (bind_unbound_port(0)), as today;
 *   2. writes the claim with "live=1" (atomically: .tmp + rename);
 *   3. claim_request_switch(claims_dir, D): removes D.state, bumps .switch;
 *   4. xssim_raise_dom_exc() (sim) raises VIRQ_DOM_EXC: xenstored wakes,
 *      calls xenevtchn_pending and xc_domain_getinfo*, finds nobody dead;
 *   5. waits for D.state (switch_answer_read).  On "shadow": binds D's
 *      store port (now unbound for dom0), takes the streams over where the
 *      answer says they stood, and starts relaying.
 *   The shim, on seeing the new generation, for D (direct, claim live=1):
 *   checks the claim, rebinds xenstored's local port from (D, store port) to
 *   (0, claim port) keeping its number, copies the 4096 bytes of the ring
 *   page into the shadow page file, maps the shadow over the ring's address
 *   (mmap MAP_FIXED: xenstored's pointers stay valid and show the same bytes
 *   and indexes), marks xenstored's local port pending (it looks at the
 *   ring once), notifies the claim port once (xsproxy looks too), and
 *   writes the "shadow" answer: where the two streams stood, what was
 *   half-way and pending, and xenstored's local port (for an xsproxy that
 *   died before it learned it: the state file stays until the next
 *   request).  The copy is one moment: the guest may move req_prod or
 *   rsp_cons on its own page after it, and xenstored's queued output
 *   continues on the shadow.  So at "shadow" the requester takes the pages
 *   as equal at the shadow's indexes: request bytes below the shadow's
 *   req_prod are xenstored's already, response bytes below its rsp_prod
 *   are on the guest's page already; anything the guest added since is
 *   new.  The replies xenstored still owes answer the pending requests.
 *
 * Switching D back: the requester stops relaying when both pages agree
 * (same four indexes), unbinds its binding of D's store port, writes the
 * claim with "live=back", requests and raises as above.  The shim maps D's
 * real ring page again at the same address, rebinds the local port to (D,
 * store port) (EINVAL, "error", nothing changed, if that port is not
 * unbound for dom0), marks its local port pending, notifies the guest once
 * and writes "direct".  The shadow's contents are not copied back.  Then
 * the requester removes the claim (a "live=back" claim redirects nothing,
 * but the next INTRODUCE of the domain should find no claim at all).
 *
 * Answers: every claim with a live= line is looked at on every new
 * generation.  A switch attempted writes its outcome; a claim already
 * satisfied ("live=1" and switched in) gets its state written only when the
 * state file is missing.  A malformed claim, a page that cannot be opened,
 * a port that cannot be bound, a domain this xenstored does not serve:
 * "error ...", and nothing changes.  Without XSSIM_DIR (real Xen) every
 * live claim is answered "error unsupported ...": replacing a grant or
 * foreign mapping in place needs gntdev/privcmd work not done yet.
 */
enum ring_kind { RING_NONE, RING_GNTTAB, RING_FOREIGN };

struct tracked {
    uint32_t domid;
    /* the ring page xenstored reads */
    void *addr;                 /* NULL: none mapped */
    enum ring_kind kind;
    unsigned long mfn;          /* RING_FOREIGN: the gfn it was mapped from */
    bool ring_shadow;           /* addr shows a claim's shadow page */
    dev_t dev;                  /* the file mapped at addr (sim mode) */
    ino_t ino;
    /* xenstored's event channel for the domain */
    struct xenevtchn_handle *evh;   /* NULL: none bound */
    uint32_t guest_port;        /* the domain's store port */
    uint32_t local_port;
    bool bind_shadow;           /* local_port is bound to shadow_port */
    uint32_t shadow_port;
    /* both streams and the requests not yet answered, followed since the
     * ring was mapped: what a switch-in hands over */
    struct ring_follow follow;
};

static pthread_mutex_t track_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tracked *tracks;
static size_t tracks_len, tracks_cap;
static _Atomic size_t tracks_used;   /* entries in use: munmap's fast test */

static _Atomic(_Atomic uint32_t *) board;   /* the mapped .switch counter */
static uint32_t board_seen;
static _Atomic int64_t board_next_try;      /* pending(): retry at most 1/s */

static struct tracked *track_find(uint32_t domid)
{
    for (size_t i = 0; i < tracks_len; i++)
        if (tracks[i].domid == domid && (tracks[i].addr || tracks[i].evh))
            return &tracks[i];
    return NULL;
}

static struct tracked *track_get(uint32_t domid)
{
    struct tracked *t = track_find(domid);
    if (t)
        return t;
    for (size_t i = 0; i < tracks_len; i++)
        if (!tracks[i].addr && !tracks[i].evh) {
            t = &tracks[i];
            break;
        }
    if (!t) {
        if (tracks_len == tracks_cap) {
            size_t cap = tracks_cap ? tracks_cap * 2 : 16;
            struct tracked *nt = realloc(tracks, cap * sizeof(*nt));
            if (!nt)
                return NULL;
            tracks = nt;
            tracks_cap = cap;
        }
        t = &tracks[tracks_len++];
    }
    memset(t, 0, sizeof(*t));
    t->domid = domid;
    atomic_fetch_add(&tracks_used, 1);
    return t;
}

static void track_put(struct tracked *t)
{
    if (!t->addr && !t->evh) {
        atomic_fetch_sub(&tracks_used, 1);
        ring_follow_free(&t->follow);
        t->domid = UINT32_MAX;
    }
}

static bool file_id(const char *path, dev_t *dev, ino_t *ino)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return false;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return true;
}

static void board_open(void);

/* Ring indexes another side may move: read once, before the bytes they
 * cover. */
static XENSTORE_RING_IDX load_idx(const XENSTORE_RING_IDX *i)
{
    return __atomic_load_n(i, __ATOMIC_ACQUIRE);
}

/* Follow both streams of T's ring up to now, from xenstored's own thread:
 * its replies cannot move meanwhile.  Requests are followed before
 * xenstored reads them (it calls xenevtchn_pending first) and again after
 * each reply: a guest would have to write a ring's worth over bytes
 * xenstored took in between for one to go unseen, which the follow notices
 * when the guest published them (a switch is then judged by the look of
 * the bytes). */
static void follow(struct tracked *t)
{
    if (!t->addr)
        return;
    const struct xenstore_domain_interface *r = t->addr;
    bool was = !t->follow.unknown;
    ring_follow_feed(&t->follow, r, load_idx(&r->req_prod), load_idx(&r->rsp_prod));
    if (was && t->follow.unknown)
        fprintf(stderr, "xsshim: domain %u: lost track of its %s; a live switch-in judges its "
                "message boundaries by their look from now on\n", t->domid,
                !t->follow.req.synced ? "request stream" : !t->follow.rsp.synced
                                          ? "reply stream" : "unanswered requests");
}

/* Xenstored mapped DOMID's ring at ADDR (SHADOW: a claim's page, from
 * PAGE; else the domain's own). */
static void track_ring(uint32_t domid, void *addr, enum ring_kind kind, unsigned long mfn,
                       bool shadow, const char *page)
{
    if (!addr || domid == 0 || !claims_dir())
        return;
    dev_t dev = 0;
    ino_t ino = 0;
    char path[PATH_MAX];
    struct xssim *sim = sim_mode();
    if (shadow)
        file_id(page, &dev, &ino);
    else if (sim && xssim_ring_path(sim, domid, path, sizeof(path)) == 0)
        file_id(path, &dev, &ino);
    pthread_mutex_lock(&track_lock);
    struct tracked *t = track_get(domid);
    if (t) {
        if (!t->addr)
            ring_follow_start(&t->follow, addr);
        t->addr = addr;
        t->kind = kind;
        t->mfn = mfn;
        t->ring_shadow = shadow;
        t->dev = dev;
        t->ino = ino;
    }
    pthread_mutex_unlock(&track_lock);
    board_open();
}

static void track_bind(struct xenevtchn_handle *x, uint32_t domid, uint32_t guest_port,
                       uint32_t local_port, bool shadow, uint32_t shadow_port)
{
    if (domid == 0 || !claims_dir())
        return;
    pthread_mutex_lock(&track_lock);
    struct tracked *t = track_get(domid);
    if (t) {
        t->evh = x;
        t->guest_port = guest_port;
        t->local_port = local_port;
        t->bind_shadow = shadow;
        t->shadow_port = shadow ? shadow_port : 0;
    }
    pthread_mutex_unlock(&track_lock);
    board_open();
}

/* Forget bindings of X (every one when PORT is 0). */
static void track_unbind(struct xenevtchn_handle *x, uint32_t port)
{
    if (!atomic_load_explicit(&tracks_used, memory_order_relaxed))
        return;
    pthread_mutex_lock(&track_lock);
    for (size_t i = 0; i < tracks_len; i++) {
        struct tracked *t = &tracks[i];
        if (t->evh == x && (port == 0 || t->local_port == port)) {
            t->evh = NULL;
            track_put(t);
        }
    }
    pthread_mutex_unlock(&track_lock);
}

/* Forget rings mapped in [ADDR, ADDR+LEN). */
static void track_unmap(void *addr, size_t len)
{
    if (!atomic_load_explicit(&tracks_used, memory_order_relaxed))
        return;
    uintptr_t lo = (uintptr_t)addr, hi = lo + (len ? len : 1);
    pthread_mutex_lock(&track_lock);
    for (size_t i = 0; i < tracks_len; i++) {
        struct tracked *t = &tracks[i];
        if (t->addr && (uintptr_t)t->addr >= lo && (uintptr_t)t->addr < hi) {
            t->addr = NULL;
            track_put(t);
        }
    }
    pthread_mutex_unlock(&track_lock);
}

/* oxenstored unmaps its foreign ring mappings with munmap itself. */
int munmap(void *addr, size_t len)
{
    static int (*real_munmap)(void *, size_t);
    track_unmap(addr, len);
    if (!real_munmap)
        real_munmap = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
    if (!real_munmap) {
        errno = ENOSYS;
        return -1;
    }
    return real_munmap(addr, len);
}

static int64_t now_coarse_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec;
}

/* Map $XSSHIM_CLAIMS/.switch if it is not mapped yet (creating it). */
static void board_open(void)
{
    if (atomic_load(&board))
        return;
    const char *dir = claims_dir();
    if (!dir)
        return;
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/.switch", dir) >= (int)sizeof(path))
        return;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;   /* no claims directory yet: no xsproxy yet */
    struct stat st;
    void *p = MAP_FAILED;
    if (fstat(fd, &st) == 0 && (st.st_size >= XSSIM_PAGE_SIZE ||
                                ftruncate(fd, XSSIM_PAGE_SIZE) == 0))
        p = mmap(NULL, XSSIM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return;
    _Atomic uint32_t *expected = NULL;
    if (!atomic_compare_exchange_strong(&board, &expected, (_Atomic uint32_t *)p))
        munmap(p, XSSIM_PAGE_SIZE);
}

static void write_answer(uint32_t domid, const struct switch_answer *a)
{
    const char *dir = claims_dir();
    if (dir && switch_answer_write(dir, domid, a) < 0)
        fprintf(stderr, "xsshim: cannot write the answer for domain %u: %s\n", domid,
                strerror(errno));
    if (a->kind == SWITCH_ERROR)
        fprintf(stderr, "xsshim: live switch of domain %u: error %s\n", domid, a->reason);
}

/* A busy or error answer with its reason, or a bare direct or shadow. */
static void answer(uint32_t domid, enum switch_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void answer(uint32_t domid, enum switch_kind kind, const char *fmt, ...)
{
    static struct switch_answer a;   /* under track_lock */
    memset(&a, 0, offsetof(struct switch_answer, pending));
    a.kind = kind;
    a.already = kind == SWITCH_SHADOW;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a.reason, sizeof(a.reason), fmt, ap);
    va_end(ap);
    write_answer(domid, &a);
}

static const char *switch_where = "?";   /* the call a switch happens in */

static bool state_missing(uint32_t domid)
{
    char path[PATH_MAX];
    const char *dir = claims_dir();
    if (!dir || claim_path(dir, domid, ".state", path, sizeof(path)) < 0)
        return false;
    return access(path, F_OK) < 0 && errno == ENOENT;
}

/* Is the 4096-byte page at ADDR a shared mapping of the file DEV/INO?  A
 * switch never maps over anything else (a ring unmapped behind our back). */
static bool mapping_is(void *addr, dev_t dev, ino_t ino)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[8192], line[1024];
    size_t ll = 0;
    bool found = false, done = false;
    ssize_t n;
    while (!done && (n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n && !done; i++) {
            if (buf[i] != '\n') {
                if (ll < sizeof(line) - 1)
                    line[ll++] = buf[i];
                continue;
            }
            line[ll] = '\0';
            ll = 0;
            unsigned long lo, hi, off, ma, mi, inode;
            char perms[8];
            if (sscanf(line, "%lx-%lx %7s %lx %lx:%lx %lu", &lo, &hi, perms, &off, &ma, &mi,
                       &inode) != 7)
                continue;
            if ((uintptr_t)addr < lo || (uintptr_t)addr >= hi)
                continue;
            done = true;
            found = (uintptr_t)addr + XSSIM_PAGE_SIZE <= hi && perms[3] == 's' &&
                    off + ((uintptr_t)addr - lo) == 0 && ma == major(dev) &&
                    mi == minor(dev) && inode == (unsigned long)ino;
        }
    }
    close(fd);
    return found;
}

static uint32_t evh_dom(struct xenevtchn_handle *x)
{
    return x->sim->domid;
}

/* Xenstored looks at the ring once: its local port pending, as if the
 * guest had notified. */
static void wake_local(struct tracked *t)
{
    struct xssim *sim = t->evh->sim->sim;
    sim_raise(sim, sim_dom(sim, evh_dom(t->evh)), t->local_port);
}

/* The answer to a switch-in at SNAP: where the streams stood, the bytes of
 * a reply half on the guest's ring, the requests not yet answered (see
 * claim.h).  False when there are more of them than an answer carries. */
static bool shadow_answer(struct tracked *t, const struct xenstore_domain_interface *snap,
                          const struct switch_point *sp, struct switch_answer *a)
{
    memset(a, 0, offsetof(struct switch_answer, pending));
    a->kind = SWITCH_SHADOW;
    a->req_prod = sp->req_prod;
    a->rsp_prod = sp->rsp_prod;
    a->req_cons = sp->req_cons;
    a->port = t->local_port;
    a->req_part = sp->req_part;
    a->rsp_part = sp->rsp_part;
    a->guessed = sp->guessed;
    if (sp->rsp_part <= SWITCH_PREFIX_MAX) {
        for (uint32_t i = 0; i < sp->rsp_part; i++)
            a->rsp_prefix[i] = (uint8_t)snap->rsp[MASK_XENSTORE_IDX(sp->rsp_prod - sp->rsp_part + i)];
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

static void switch_in(struct tracked *t, const struct claim *c)
{
    struct xssim_evtchn *h = t->evh->sim;
    if (!c->page[0]) {
        answer(t->domid, SWITCH_ERROR, "the claim has no page= line");
        return;
    }
    if (!c->port) {
        answer(t->domid, SWITCH_ERROR, "%s", c->bad_port ? "the claim's port= is not a port number"
                                                         : "the claim has no port= line");
        return;
    }
    int fd = open(c->page, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        answer(t->domid, SWITCH_ERROR, "cannot open the shadow page %s: %s", c->page,
                    strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size < XSSIM_PAGE_SIZE) {
        answer(t->domid, SWITCH_ERROR, "the shadow page %s is not %u bytes", c->page,
                    XSSIM_PAGE_SIZE);
        close(fd);
        return;
    }
    if (!mapping_is(t->addr, t->dev, t->ino)) {
        answer(t->domid, SWITCH_ERROR, "the domain's ring is no longer mapped where it was");
        close(fd);
        return;
    }
    /* xenstored is inside this call: nothing moves its indexes now, but the
     * guest may write; judge and copy one snapshot */
    static char snap[XSSIM_PAGE_SIZE];
    const struct xenstore_domain_interface *live = t->addr;
    XENSTORE_RING_IDX req_prod = load_idx(&live->req_prod), rsp_cons = load_idx(&live->rsp_cons);
    memcpy(snap, t->addr, sizeof(snap));
    struct xenstore_domain_interface *si = (void *)snap;
    si->req_prod = req_prod;   /* the bytes copied cover these */
    si->rsp_cons = rsp_cons;
    static struct switch_point sp;
    static struct switch_answer ans;   /* under track_lock, as all of this */
    const char *busy = ring_follow_switch_point(&t->follow, si, &sp);
    if (!busy && !shadow_answer(t, si, &sp, &ans))
        busy = "more requests in flight than an answer carries";
    if (busy) {
        answer(t->domid, SWITCH_BUSY, "%s", busy);
        close(fd);
        return;
    }
    if (xssim_evtchn_rebind(h, t->local_port, 0, c->port) < 0) {
        answer(t->domid, SWITCH_ERROR, "cannot bind the shadow port %u: %s", c->port,
                    strerror(errno));
        close(fd);
        return;
    }
    if (pwrite(fd, snap, XSSIM_PAGE_SIZE, 0) != (ssize_t)XSSIM_PAGE_SIZE ||
        mmap(t->addr, XSSIM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) !=
            t->addr) {
        int e = errno;
        close(fd);
        xssim_evtchn_rebind(h, t->local_port, t->domid, t->guest_port);
        if (!mapping_is(t->addr, t->dev, t->ino)) {
            /* a failed MAP_FIXED may have unmapped the ring: map it back */
            char ring[PATH_MAX];
            int rfd = xssim_ring_path(h->sim, t->domid, ring, sizeof(ring)) == 0
                          ? open(ring, O_RDWR | O_CLOEXEC) : -1;
            if (rfd >= 0) {
                mmap(t->addr, XSSIM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                     rfd, 0);
                close(rfd);
            }
        }
        answer(t->domid, SWITCH_ERROR, "cannot map the shadow page over the ring: %s",
                    strerror(e));
        return;
    }
    close(fd);
    t->ring_shadow = t->bind_shadow = true;
    t->shadow_port = c->port;
    t->dev = st.st_dev;
    t->ino = st.st_ino;
    claimed_add(t->addr);
    wake_local(t);
    xssim_evtchn_notify(h, t->local_port);   /* xsproxy looks at the shadow */
    /* where the streams stood: what xsproxy relays starts there */
    write_answer(t->domid, &ans);
    fprintf(stderr, "xsshim: domain %u switched to the shadow ring (local port %u: guest "
            "port %u -> dom0 port %u), in %s\n", t->domid, t->local_port, t->guest_port,
            c->port, switch_where);
}

static void switch_back(struct tracked *t)
{
    struct xssim_evtchn *h = t->evh->sim;
    char ring[PATH_MAX];
    int fd = -1;
    if (xssim_ring_path(h->sim, t->domid, ring, sizeof(ring)) == 0)
        fd = open(ring, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        answer(t->domid, SWITCH_ERROR, "cannot open the domain's ring page: %s", strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        answer(t->domid, SWITCH_ERROR, "cannot stat the domain's ring page: %s", strerror(errno));
        close(fd);
        return;
    }
    if (!mapping_is(t->addr, t->dev, t->ino)) {
        answer(t->domid, SWITCH_ERROR, "the shadow page is no longer mapped where it was");
        close(fd);
        return;
    }
    /* xenstored is inside this call: the shadow's indexes stand still.  The
     * two pages must agree on everything xenstored will read back: all it
     * wrote is on the guest's ring (an event it queued may have gone out
     * after xsproxy looked), all the guest wrote that xsproxy passed on was
     * taken.  Else xsproxy relays the rest and asks again. */
    const struct xenstore_domain_interface *sh = t->addr;
    struct xenstore_domain_interface real;
    if (pread(fd, &real, sizeof(real), 0) != (ssize_t)sizeof(real)) {
        answer(t->domid, SWITCH_ERROR, "cannot read the domain's ring page: %s", strerror(errno));
        close(fd);
        return;
    }
    if (sh->rsp_prod != real.rsp_prod || sh->req_cons != sh->req_prod ||
        sh->req_prod != real.req_cons) {
        answer(t->domid, SWITCH_BUSY, "the pages differ (shadow req %u/%u rsp %u, guest req_cons "
                    "%u rsp_prod %u)", sh->req_cons, sh->req_prod, sh->rsp_prod, real.req_cons,
                    real.rsp_prod);
        close(fd);
        return;
    }
    if (xssim_evtchn_rebind(h, t->local_port, t->domid, t->guest_port) < 0) {
        answer(t->domid, SWITCH_ERROR,
               "cannot bind the guest's store port %u (still bound by xsproxy?): %s",
               t->guest_port, strerror(errno));
        close(fd);
        return;
    }
    if (mmap(t->addr, XSSIM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) !=
        t->addr) {
        int e = errno;
        close(fd);
        xssim_evtchn_rebind(h, t->local_port, 0, t->shadow_port);
        answer(t->domid, SWITCH_ERROR, "cannot map the ring page again: %s", strerror(e));
        return;
    }
    close(fd);
    claimed_forget(t->addr);
    uint32_t old_shadow = t->shadow_port;
    t->ring_shadow = t->bind_shadow = false;
    t->shadow_port = 0;
    t->dev = st.st_dev;
    t->ino = st.st_ino;
    wake_local(t);
    xssim_evtchn_notify(h, t->local_port);   /* the guest looks at its ring */
    answer(t->domid, SWITCH_DIRECT, "%s", "");
    fprintf(stderr, "xsshim: domain %u switched back to its own ring (local port %u: dom0 "
            "port %u -> guest port %u), in %s\n", t->domid, t->local_port, old_shadow,
            t->guest_port, switch_where);
}

/* One live claim.  Locked. */
static void switch_one(uint32_t domid, const struct claim *c)
{
    struct tracked *t = track_find(domid);
    bool served = t && t->addr && t->evh;
    if (c->live == CLAIM_LIVE_BAD) {
        answer(domid, SWITCH_ERROR, "the claim's live= is neither 1 nor back");
        return;
    }
    if (!served) {
        if (state_missing(domid))
            answer(domid, SWITCH_ERROR, "domain %u is not served by this xenstored "
                               "(not introduced, or its ring or channel is gone)", domid);
        return;
    }
    if (!t->evh->sim) {
        if (state_missing(domid))
            answer(domid, SWITCH_ERROR, "unsupported: live switching works only on the sim "
                               "(XSSIM_DIR) so far");
        return;
    }
    bool shadow = t->ring_shadow && t->bind_shadow;
    bool direct = !t->ring_shadow && !t->bind_shadow;
    if (!shadow && !direct) {
        answer(domid, SWITCH_ERROR, "the ring and the channel are half switched: ring on the %s, "
                           "channel on the %s",
                    t->ring_shadow ? "shadow" : "guest page",
                    t->bind_shadow ? "shadow port" : "guest port");
        return;
    }
    if (c->live == CLAIM_LIVE_IN) {
        if (direct)
            switch_in(t, c);
        else if (state_missing(domid))
            answer(domid, SWITCH_SHADOW, "%s", "");
    } else {
        if (shadow)
            switch_back(t);
        else if (state_missing(domid))
            answer(domid, SWITCH_DIRECT, "%s", "");
    }
}

/* The generation changed: act on every claim that asks for a switch. */
static void switch_scan(void)
{
    int saved_errno = errno;
    const char *dir = claims_dir();
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) {
        errno = saved_errno;
        return;
    }
    struct dirent *e;
    pthread_mutex_lock(&track_lock);
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (!*n || strspn(n, "0123456789") != strlen(n) || strlen(n) > 5)
            continue;
        uint32_t domid = (uint32_t)strtoul(n, NULL, 10);
        struct claim c;
        if (domid == 0 || domid > XSSIM_MAX_DOMID || parse_claim(domid, &c) < 0 ||
            c.live == CLAIM_LIVE_NONE)
            continue;
        switch_one(domid, &c);
    }
    pthread_mutex_unlock(&track_lock);
    closedir(d);
    errno = saved_errno;
}

/* Map DOMID's ring through its claim?  Not while xenstored's channel for
 * it is bound directly to the guest: a live switch moves both. */
static bool claimed_for_map(uint32_t domid, struct claim *c)
{
    if (!read_claim(domid, c))
        return false;
    bool direct_channel = false;
    if (domid != 0 && claims_dir()) {
        pthread_mutex_lock(&track_lock);
        struct tracked *t = track_find(domid);
        direct_channel = t && t->evh && !t->bind_shadow;
        pthread_mutex_unlock(&track_lock);
    }
    return !direct_channel;
}

/* Called from xenevtchn_pending (MAY_OPEN false: at most one attempt to map
 * the board a second) and xc_domain_getinfo* (MAY_OPEN true). */
static inline void switch_poll(bool may_open, const char *where)
{
    _Atomic uint32_t *b = atomic_load_explicit(&board, memory_order_acquire);
    if (!b) {
        if (!atomic_load_explicit(&tracks_used, memory_order_relaxed))
            return;
        if (!may_open) {
            int64_t now = now_coarse_s();
            if (now < atomic_load_explicit(&board_next_try, memory_order_relaxed))
                return;
            atomic_store_explicit(&board_next_try, now + 1, memory_order_relaxed);
        }
        board_open();
        b = atomic_load_explicit(&board, memory_order_acquire);
        if (!b)
            return;
    }
    uint32_t gen = atomic_load_explicit(b, memory_order_acquire);
    if (gen == board_seen)
        return;
    board_seen = gen;
    switch_where = where;
    switch_scan();
}

/* ---- libxenevtchn ---------------------------------------------------- */

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    struct xenevtchn_handle *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    struct xssim *sim = sim_mode();
    if (sim) {
        x->sim = xssim_evtchn_open(sim, 0);
    } else if (getenv("XSSIM_DIR") && *getenv("XSSIM_DIR")) {
        /* XSSIM_DIR names no sim: fail rather than touch real Xen */
    } else if (REAL(xenevtchn_open)) {
        x->real = REAL(xenevtchn_open)(logger, open_flags);
    }
    if (!x->sim && !x->real) {
        int e = errno;
        free(x);
        errno = e;
        return NULL;
    }
    return x;
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd,
                                   unsigned open_flags)
{
    if (sim_mode() || !REAL(xenevtchn_fdopen)) {
        errno = ENOSYS;   /* only live update uses it; the sim has none */
        return NULL;
    }
    struct xenevtchn_handle *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->real = REAL(xenevtchn_fdopen)(logger, fd, open_flags);
    if (!x->real) {
        free(x);
        return NULL;
    }
    return x;
}

int xenevtchn_close(xenevtchn_handle *x)
{
    if (!x)
        return 0;
    int rc = 0;
    track_unbind(x, 0);
    if (x->sim)
        xssim_evtchn_close(x->sim);
    else
        rc = REAL(xenevtchn_close)(x->real);
    free(x);
    return rc;
}

int xenevtchn_fd(xenevtchn_handle *x)
{
    return x->sim ? xssim_evtchn_fd(x->sim) : REAL(xenevtchn_fd)(x->real);
}

int xenevtchn_notify(xenevtchn_handle *x, evtchn_port_t port)
{
    int rc = x->sim ? xssim_evtchn_notify(x->sim, port) : REAL(xenevtchn_notify)(x->real, port);
    if (!atomic_load_explicit(&tracks_used, memory_order_relaxed))
        return rc;
    int saved_errno = errno;
    /* xenstored notifies after each write to a ring: follow its replies
     * while every byte of them is still there */
    pthread_mutex_lock(&track_lock);
    for (size_t i = 0; i < tracks_len; i++)
        if (tracks[i].evh == x && tracks[i].local_port == port)
            follow(&tracks[i]);
    pthread_mutex_unlock(&track_lock);
    /* Just after a reply is the moment a guest that waits for each reply
     * is between requests: a switch asked for is tried here too (in
     * xenevtchn_pending alone, that guest's next request would nearly
     * always be there already).  After the notify, so that the guest
     * hears of the reply whatever happens. */
    switch_poll(false, "xenevtchn_notify");
    errno = saved_errno;
    return rc;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *x, uint32_t domid)
{
    return x->sim ? xssim_evtchn_bind_unbound(x->sim, domid)
                  : REAL(xenevtchn_bind_unbound_port)(x->real, domid);
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *x, uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    struct claim c;
    uint32_t guest_dom = domid, guest_port = remote_port;
    bool claimed = read_claim(domid, &c);
    if (claimed && domid != 0 && claims_dir()) {
        /* a domain whose ring is the guest's own stays direct until a
         * live switch moves both */
        pthread_mutex_lock(&track_lock);
        struct tracked *t = track_find(domid);
        if (t && t->addr && !t->ring_shadow)
            claimed = false;
        pthread_mutex_unlock(&track_lock);
    }
    if (claimed) {
        domid = 0;   /* xsproxy's shadow channel: a dom0 loopback port */
        remote_port = c.port;
    }
    int port = x->sim ? xssim_evtchn_bind_interdomain(x->sim, domid, remote_port)
                      : REAL(xenevtchn_bind_interdomain)(x->real, domid, remote_port);
    if (port >= 0)
        track_bind(x, guest_dom, guest_port, (uint32_t)port, claimed, claimed ? c.port : 0);
    return port;
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *x, unsigned int virq)
{
    return x->sim ? xssim_evtchn_bind_virq(x->sim, virq)
                  : REAL(xenevtchn_bind_virq)(x->real, virq);
}

int xenevtchn_unbind(xenevtchn_handle *x, evtchn_port_t port)
{
    track_unbind(x, port);
    return x->sim ? xssim_evtchn_unbind(x->sim, port) : REAL(xenevtchn_unbind)(x->real, port);
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *x)
{
    /* before xenstored reads any ring: follow what the guests wrote */
    if (atomic_load_explicit(&tracks_used, memory_order_relaxed)) {
        pthread_mutex_lock(&track_lock);
        for (size_t i = 0; i < tracks_len; i++)
            follow(&tracks[i]);
        pthread_mutex_unlock(&track_lock);
    }
    switch_poll(false, "xenevtchn_pending");
    return x->sim ? xssim_evtchn_pending(x->sim) : REAL(xenevtchn_pending)(x->real);
}

int xenevtchn_unmask(xenevtchn_handle *x, evtchn_port_t port)
{
    return x->sim ? xssim_evtchn_unmask(x->sim, port) : REAL(xenevtchn_unmask)(x->real, port);
}

int xenevtchn_restrict(xenevtchn_handle *x, domid_t domid)
{
    if (x->sim) {
        errno = ENOSYS;
        return -1;
    }
    return REAL(xenevtchn_restrict)(x->real, domid);
}

/* ---- libxengnttab ---------------------------------------------------- */

struct xengntdev_handle {
    struct xssim *sim;
    xengnttab_handle *real;
};

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    struct xengntdev_handle *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->sim = sim_mode();
    if (!x->sim && !(getenv("XSSIM_DIR") && *getenv("XSSIM_DIR")) && REAL(xengnttab_open))
        x->real = REAL(xengnttab_open)(logger, open_flags);
    if (!x->sim && !x->real) {
        free(x);
        return NULL;
    }
    return (xengnttab_handle *)x;
}

int xengnttab_close(xengnttab_handle *xh)
{
    struct xengntdev_handle *x = (struct xengntdev_handle *)xh;
    if (!x)
        return 0;
    int rc = x->real ? REAL(xengnttab_close)(x->real) : 0;
    free(x);
    return rc;
}

int xengnttab_set_max_grants(xengnttab_handle *xh, uint32_t nr)
{
    struct xengntdev_handle *x = (struct xengntdev_handle *)xh;
    return x->real ? REAL(xengnttab_set_max_grants)(x->real, nr) : 0;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xh, uint32_t domid, uint32_t ref, int prot)
{
    struct xengntdev_handle *x = (struct xengntdev_handle *)xh;
    struct claim c;
    if (ref == 1 && claimed_for_map(domid, &c)) {
        void *p = map_claimed_page(&c);
        track_ring(domid, p, RING_GNTTAB, 0, true, c.page);
        return p;
    }
    void *p;
    if (x->real) {
        p = REAL(xengnttab_map_grant_ref)(x->real, domid, ref, prot);
    } else if (ref != 1) {   /* the sim grants only the xenstore page */
        errno = EINVAL;
        return NULL;
    } else {
        p = xssim_map_ring(x->sim, domid);
    }
    if (ref == 1)
        track_ring(domid, p, RING_GNTTAB, 0, false, NULL);
    return p;
}

int xengnttab_unmap(xengnttab_handle *xh, void *start, uint32_t count)
{
    struct xengntdev_handle *x = (struct xengntdev_handle *)xh;
    track_unmap(start, (size_t)count * XSSIM_PAGE_SIZE);
    if (count == 1 && unmap_claimed_page(start))
        return 0;
    if (x->real)
        return REAL(xengnttab_unmap)(x->real, start, count);
    return munmap(start, (size_t)count * XSSIM_PAGE_SIZE);
}

/* ---- libxenctrl ------------------------------------------------------ */

struct xc_sim_interface {
    struct xssim *sim;
    xc_interface *real;
};

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    struct xc_sim_interface *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->sim = sim_mode();
    if (!x->sim && !(getenv("XSSIM_DIR") && *getenv("XSSIM_DIR")) && REAL(xc_interface_open))
        x->real = REAL(xc_interface_open)(logger, dombuild_logger, open_flags);
    if (!x->sim && !x->real) {
        free(x);
        return NULL;
    }
    return (xc_interface *)x;
}

int xc_interface_close(xc_interface *xh)
{
    struct xc_sim_interface *x = (struct xc_sim_interface *)xh;
    if (!x)
        return 0;
    int rc = x->real ? REAL(xc_interface_close)(x->real) : 0;
    free(x);
    return rc;
}

int xc_domain_getinfo(xc_interface *xh, uint32_t first, unsigned int max, xc_dominfo_t *info)
{
    struct xc_sim_interface *x = (struct xc_sim_interface *)xh;
    switch_poll(true, "xc_domain_getinfo");
    if (x->real)
        return REAL(xc_domain_getinfo)(x->real, first, max, info);
    struct xssim_dominfo buf[64];
    unsigned done = 0;
    while (done < max) {
        unsigned want = max - done < 64 ? max - done : 64;
        int n = xssim_domain_list(x->sim, first, want, buf);
        for (int i = 0; i < n; i++) {
            xc_dominfo_t *o = &info[done + (unsigned)i];
            memset(o, 0, sizeof(*o));
            o->domid = buf[i].domid;
            o->dying = buf[i].state == XSSIM_DYING;
            o->shutdown = buf[i].state == XSSIM_SHUTDOWN;
            o->crashed = o->shutdown && buf[i].shutdown_reason == SHUTDOWN_crash;
            o->shutdown_reason = buf[i].shutdown_reason;
            o->running = buf[i].state == XSSIM_RUNNING;
            o->nr_online_vcpus = 1;
            o->max_vcpu_id = 0;
            o->xenstore = 0;
        }
        done += (unsigned)n;
        if ((unsigned)n < want)
            break;
        first = buf[n - 1].domid + 1;
    }
    return (int)done;
}

int xc_domain_getinfolist(xc_interface *xh, uint32_t first, unsigned int max, xc_domaininfo_t *info)
{
    struct xc_sim_interface *x = (struct xc_sim_interface *)xh;
    switch_poll(true, "xc_domain_getinfolist");
    if (x->real)
        return REAL(xc_domain_getinfolist)(x->real, first, max, info);
    struct xssim_dominfo buf[64];
    unsigned done = 0;
    while (done < max) {
        unsigned want = max - done < 64 ? max - done : 64;
        int n = xssim_domain_list(x->sim, first, want, buf);
        for (int i = 0; i < n; i++) {
            xc_domaininfo_t *o = &info[done + (unsigned)i];
            memset(o, 0, sizeof(*o));
            o->domain = (domid_t)buf[i].domid;
            if (buf[i].state == XSSIM_DYING)
                o->flags |= XEN_DOMINF_dying;
            if (buf[i].state == XSSIM_SHUTDOWN)
                o->flags |= XEN_DOMINF_shutdown |
                            (buf[i].shutdown_reason << XEN_DOMINF_shutdownshift);
            if (buf[i].state == XSSIM_RUNNING)
                o->flags |= XEN_DOMINF_running;
            o->nr_online_vcpus = 1;
        }
        done += (unsigned)n;
        if ((unsigned)n < want)
            break;
        first = buf[n - 1].domid + 1;
    }
    return (int)done;
}

void *xc_map_foreign_range(xc_interface *xh, uint32_t dom, int size, int prot, unsigned long mfn)
{
    struct xc_sim_interface *x = (struct xc_sim_interface *)xh;
    struct claim c;
    if (claimed_for_map(dom, &c)) {
        void *p = map_claimed_page(&c);
        track_ring(dom, p, RING_FOREIGN, mfn, true, c.page);
        return p;
    }
    void *p;
    if (x->real) {
        p = REAL(xc_map_foreign_range)(x->real, dom, size, prot, mfn);
    } else {
        struct xssim_dominfo di;
        if (xssim_domain_info(x->sim, dom, &di) < 0)
            return NULL;   /* ESRCH */
        if (mfn != di.ring_gfn || size <= 0 || (unsigned)size > XSSIM_PAGE_SIZE) {
            errno = EINVAL;   /* the sim's guests have one mappable page */
            return NULL;
        }
        p = xssim_map_ring(x->sim, dom);
    }
    if (size == (int)XSSIM_PAGE_SIZE)
        track_ring(dom, p, RING_FOREIGN, mfn, false, NULL);
    return p;
}

int xc_evtchn_status(xc_interface *xh, xc_evtchn_status_t *status)
{
    struct xc_sim_interface *x = (struct xc_sim_interface *)xh;
    if (x->real)
        return REAL(xc_evtchn_status)(x->real, status);
    struct xssim_port_status st;
    uint32_t dom = status->dom == DOMID_SELF ? 0 : status->dom;
    if (xssim_evtchn_status(x->sim, dom, status->port, &st) < 0)
        return -1;
    static const uint32_t map[] = { EVTCHNSTAT_closed, EVTCHNSTAT_unbound,
                                    EVTCHNSTAT_interdomain, EVTCHNSTAT_virq };
    status->status = map[st.state];
    status->vcpu = 0;
    if (st.state == XSSIM_PORT_INTERDOMAIN) {
        status->u.interdomain.dom = (domid_t)st.remote_dom;
        status->u.interdomain.port = st.remote_port;
    } else if (st.state == XSSIM_PORT_UNBOUND) {
        status->u.unbound.dom = (domid_t)st.remote_dom;
    }
    return 0;
}

xc_evtchn_port_or_error_t xc_evtchn_alloc_unbound(xc_interface *xh, uint32_t dom, uint32_t remote)
{
    struct xc_sim_interface *x = (struct xc_sim_interface *)xh;
    if (x->real)
        return REAL(xc_evtchn_alloc_unbound)(x->real, dom, remote);
    return xssim_evtchn_alloc_unbound(x->sim, dom, remote);
}
