/*
 * track.c - the shim's tracked domains and event-channel handles (see
 * track.h).
 */
#define _GNU_SOURCE
#include "track.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

pthread_mutex_t track_lock = PTHREAD_MUTEX_INITIALIZER;
_Thread_local bool track_held;

void track_lock_take(void)
{
    pthread_mutex_lock(&track_lock);
    track_held = true;
}

void track_lock_give(void)
{
    track_held = false;
    pthread_mutex_unlock(&track_lock);
}

static struct tracked *tracks;
static size_t tracks_len, tracks_cap;
static _Atomic size_t tracks_used;
static struct evh_state *handles;
static size_t handles_len, handles_cap;

const char *claims_dir(void)
{
    const char *dir = getenv("XSSHIM_CLAIMS");
    return dir && *dir ? dir : NULL;
}

bool track_any(void)
{
    return atomic_load_explicit(&tracks_used, memory_order_relaxed) != 0;
}

static bool in_use(const struct tracked *t)
{
    return t->addr || t->evh;
}

struct tracked *track_find(uint32_t domid)
{
    for (size_t i = 0; i < tracks_len; i++)
        if (tracks[i].domid == domid && in_use(&tracks[i]))
            return &tracks[i];
    return NULL;
}

struct tracked *track_get(uint32_t domid)
{
    struct tracked *t = track_find(domid);
    if (t)
        return t;
    for (size_t i = 0; i < tracks_len && !t; i++)
        if (!in_use(&tracks[i]))
            t = &tracks[i];
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
        memset(t, 0, sizeof(*t));
    }
    ring_follow_free(&t->follow);
    memset(t, 0, sizeof(*t));
    t->domid = domid;
    atomic_fetch_add(&tracks_used, 1);
    return t;
}

void track_put(struct tracked *t)
{
    if (!in_use(t)) {
        atomic_fetch_sub(&tracks_used, 1);
        ring_follow_free(&t->follow);
        t->domid = UINT32_MAX;
    }
}

struct tracked *track_by_addr(void *addr)
{
    for (size_t i = 0; i < tracks_len; i++)
        if (tracks[i].addr == addr)
            return &tracks[i];
    return NULL;
}

void track_each(void (*fn)(struct tracked *t, void *ctx), void *ctx)
{
    for (size_t i = 0; i < tracks_len; i++)
        if (in_use(&tracks[i]))
            fn(&tracks[i], ctx);
}

struct evh_state *evh_find(xenevtchn_handle *h)
{
    for (size_t i = 0; i < handles_len; i++)
        if (handles[i].h == h)
            return &handles[i];
    return NULL;
}

struct evh_state *evh_get(xenevtchn_handle *h)
{
    struct evh_state *e = evh_find(h);
    if (e)
        return e;
    if (handles_len == handles_cap) {
        size_t cap = handles_cap ? handles_cap * 2 : 4;
        struct evh_state *nh = realloc(handles, cap * sizeof(*nh));
        if (!nh)
            return NULL;
        handles = nh;
        handles_cap = cap;
    }
    e = &handles[handles_len++];
    memset(e, 0, sizeof(*e));
    e->h = h;
    return e;
}

void evh_drop(xenevtchn_handle *h)
{
    struct evh_state *e = evh_find(h);
    if (!e)
        return;
    port_map_free(&e->ports);
    *e = handles[--handles_len];
}

bool map_id_of(const void *addr, struct map_id *id)
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
                       &inode) != 7 ||
                (uintptr_t)addr < lo || (uintptr_t)addr >= hi)
                continue;
            done = true;
            found = perms[3] == 's';
            id->dev = makedev(ma, mi);
            id->ino = (ino_t)inode;
            id->off = off + ((uintptr_t)addr - lo);
        }
    }
    close(fd);
    return found;
}
