/*
 * files.c - opening operator-named files without blocking (see files.h).
 */
#define _GNU_SOURCE
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind(mode_t m)
{
    return S_ISFIFO(m) ? "a FIFO" : S_ISDIR(m) ? "a directory" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a plain file";
}

static int refuse(const char *path, mode_t m, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: not a regular file (%s)", path, kind(m));
    errno = EINVAL;
    return -1;
}

int file_check_regular(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return refuse(path, st.st_mode, err, errlen);
    return 0;
}

int file_open_regular(const char *path, int flags, mode_t mode, char *err, size_t errlen)
{
    struct stat st;
    /* looked at first, so that nothing else is even opened */
    if (file_check_regular(path, err, errlen) < 0)
        return -1;
    /* and again on what was opened, which may have been swapped meanwhile:
     * O_NONBLOCK keeps that open from waiting */
    int fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        mode_t m = st.st_mode;
        close(fd);
        return refuse(path, m, err, errlen);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}
