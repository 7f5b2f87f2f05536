/*
 * unix_sock.h - Unix stream sockets by path, a buffer read or written
 * whole, and a byte queue written to a descriptor: what xsproxy (its
 * backend, live insertion, listening socket) and
 * xsproxyctl (its transfer link) both need.
 */
#ifndef XSPROXY_UNIX_SOCK_H
#define XSPROXY_UNIX_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/un.h>

/* A Unix stream socket (close-on-exec, and FLAGS: SOCK_NONBLOCK or 0),
 * and in A the address of PATH: its descriptor, or -1 with errno
 * (ENAMETOOLONG: PATH does not fit an address). */
int unix_socket(const char *path, int flags, struct sockaddr_un *a);
/* A stream connection to the socket at PATH (close-on-exec, and FLAGS:
 * SOCK_NONBLOCK or 0), or -1 with errno. */
int unix_connect(const char *path, int flags);
/* LEN bytes of BUF read from FD (RD) or written to it, going on after
 * EINTR.  False when FD failed or ended first. */
bool io_all(int fd, void *buf, size_t len, bool rd);

struct bytequeue;
/* What of Q the descriptor FD takes now, written and consumed: 0 (also
 * when it takes nothing now: EAGAIN, EINTR), or -1 with errno when FD
 * failed.  Here, not in bytequeue.c: the byte queue is pure memory. */
int bq_write(struct bytequeue *q, int fd);

#endif
