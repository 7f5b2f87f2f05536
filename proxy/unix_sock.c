/*
 * unix_sock.c - Unix stream sockets by path and whole-buffer I/O (see
 * unix_sock.h).
 */
#include "unix_sock.h"

#include "bytequeue.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int unix_socket(const char *path, int flags, struct sockaddr_un *a)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(a->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(a->sun_path, path);
    return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
}

int unix_connect(const char *path, int flags)
{
    struct sockaddr_un a;
    int s = unix_socket(path, flags, &a);
    if (s < 0)
        return -1;
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    return s;
}

bool io_all(int fd, void *buf, size_t len, bool rd)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = rd ? read(fd, (char *)buf + done, len - done)
                       : write(fd, (const char *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += (size_t)n;
    }
    return true;
}

int bq_write(struct bytequeue *q, int fd)
{
    ssize_t n = write(fd, bq_head(q), bq_pending(q));
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        return -1;
    if (n > 0)
        bq_consume(q, (size_t)n);
    return 0;
}
