/*
 * paths.c - libxensim.so's file system: the Xen devices' opens go to the
 * simulated devices (dev.c), and a daemon's fixed paths stay inside its sim.
 *
 * oxenstored's socket path is fixed, both daemons log under /var/log/xen and
 * read /proc/xen/xsd_kva and xsd_port; tests run many sims side by side, so
 * with XSSIM_DIR set those paths are rewritten to XSSIM_DIR/fs/<path>
 * (/var/run is taken as /run).  setrlimit is clamped to the hard limit,
 * which oxenstored exceeds in a sandbox.  Without XSSIM_DIR nothing changes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dev.h"

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

static const char *const redirected[] = {
    "/run/xenstored", "/run/xen", "/var/log/xen", "/var/lib/xenstored",
    "/var/lib/xen", "/proc/xen",
};

/* PATH rewritten into BUF, or PATH itself when it is not redirected. */
static const char *redirect(const char *path, char *buf, size_t len)
{
    const char *dir = getenv("XSSIM_DIR");
    if (!dir || !*dir || !path || path[0] != '/')
        return path;
    const char *p = path;
    if (strncmp(p, "/var/run/", 9) == 0)
        p += 4;   /* "/var/run/x" -> "/run/x" */
    for (size_t i = 0; i < sizeof(redirected) / sizeof(redirected[0]); i++) {
        size_t n = strlen(redirected[i]);
        if (strncmp(p, redirected[i], n) == 0 && (p[n] == '\0' || p[n] == '/')) {
            int w = snprintf(buf, len, "%s/fs%s", dir, p);
            return w > 0 && (size_t)w < len ? buf : path;
        }
    }
    return path;
}

#define REDIRECT(path) char rbuf_[PATH_MAX]; path = redirect(path, rbuf_, sizeof(rbuf_))

static mode_t open_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

/* A device, or the real open of the (redirected) path. */
#define OPEN(real, path, ...)                                                  \
    do {                                                                       \
        int fd_ = dev_open(path, flags, __builtin_return_address(0));          \
        if (fd_ != -2)                                                         \
            return fd_;                                                        \
        REDIRECT(path);                                                        \
        return REAL(real)(__VA_ARGS__);                                        \
    } while (0)

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    OPEN(open, path, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    OPEN(open64, path, path, flags, mode);
}

/* the fortified opens (_FORTIFY_SOURCE), which Debian's libraries call */
int __open_2(const char *path, int flags)
{
    OPEN(__open_2, path, path, flags);
}

int __open64_2(const char *path, int flags)
{
    OPEN(__open64_2, path, path, flags);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    OPEN(openat, path, dirfd, path, flags, mode);
}

int __openat_2(int dirfd, const char *path, int flags)
{
    OPEN(__openat_2, path, dirfd, path, flags);
}

FILE *fopen(const char *path, const char *mode)
{
    REDIRECT(path);
    return REAL(fopen)(path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
    REDIRECT(path);
    return REAL(fopen64)(path, mode);
}

int stat(const char *path, struct stat *st)
{
    REDIRECT(path);
    return REAL(stat)(path, st);
}

int stat64(const char *path, struct stat64 *st)
{
    REDIRECT(path);
    return REAL(stat64)(path, st);
}

int lstat(const char *path, struct stat *st)
{
    REDIRECT(path);
    return REAL(lstat)(path, st);
}

int lstat64(const char *path, struct stat64 *st)
{
    REDIRECT(path);
    return REAL(lstat64)(path, st);
}

int access(const char *path, int mode)
{
    REDIRECT(path);
    return REAL(access)(path, mode);
}

int mkdir(const char *path, mode_t mode)
{
    REDIRECT(path);
    return REAL(mkdir)(path, mode);
}

int rmdir(const char *path)
{
    REDIRECT(path);
    return REAL(rmdir)(path);
}

int unlink(const char *path)
{
    REDIRECT(path);
    return REAL(unlink)(path);
}

int chmod(const char *path, mode_t mode)
{
    REDIRECT(path);
    return REAL(chmod)(path, mode);
}

int rename(const char *from, const char *to)
{
    char b1[PATH_MAX], b2[PATH_MAX];
    return REAL(rename)(redirect(from, b1, sizeof(b1)), redirect(to, b2, sizeof(b2)));
}

DIR *opendir(const char *path)
{
    REDIRECT(path);
    return REAL(opendir)(path);
}

/* bind/connect: a unix socket path may be redirected too. */
static const struct sockaddr *redirect_addr(const struct sockaddr *addr, socklen_t *len,
                                            struct sockaddr_un *out)
{
    if (!addr || addr->sa_family != AF_UNIX || *len <= offsetof(struct sockaddr_un, sun_path))
        return addr;
    const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
    size_t plen = *len - offsetof(struct sockaddr_un, sun_path);
    char path[sizeof(un->sun_path) + 1];
    if (plen == 0 || un->sun_path[0] == '\0' || plen > sizeof(un->sun_path))
        return addr;
    memcpy(path, un->sun_path, plen);
    path[plen] = '\0';
    char buf[PATH_MAX];
    const char *np = redirect(path, buf, sizeof(buf));
    if (np == path || strlen(np) >= sizeof(out->sun_path))
        return addr;
    memset(out, 0, sizeof(*out));
    out->sun_family = AF_UNIX;
    strcpy(out->sun_path, np);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(np) + 1);
    return (const struct sockaddr *)out;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct sockaddr_un un;
    addr = redirect_addr(addr, &len, &un);
    return REAL(bind)(fd, addr, len);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct sockaddr_un un;
    addr = redirect_addr(addr, &len, &un);
    return REAL(connect)(fd, addr, len);
}

int setrlimit(__rlimit_resource_t res, const struct rlimit *rl)
{
    const char *dir = getenv("XSSIM_DIR");
    struct rlimit cur, want = *rl;
    if (dir && *dir && getrlimit(res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY) {
        if (want.rlim_max == RLIM_INFINITY || want.rlim_max > cur.rlim_max)
            want.rlim_max = cur.rlim_max;
        if (want.rlim_cur == RLIM_INFINITY || want.rlim_cur > want.rlim_max)
            want.rlim_cur = want.rlim_max;
    }
    return REAL(setrlimit)(res, &want);
}
