/*
 * backend.c - is xenstored there?  xsproxy keeps one idle connection to
 * xenstored's socket; xenstored never writes to an idle connection, so
 * when it becomes readable xenstored has gone.  Then every request waiting
 * on it gets EIO (never silence), new ones get EIO at once, and a timer
 * tries to reconnect; a new xenstored gets every domain introduced again,
 * with its watches registered again as the domain.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy.h"
#include "share.h"
#include "unix_sock.h"

static int connect_probe(const char *path)
{
    /* a blocking connect: a busy xenstored's full listen queue means
     * "wait", not "gone" */
    int s = unix_connect(path, 0);
    if (s < 0)
        return -1;
    fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
    return s;
}

static void probe_cb(struct ev_loop *loop, ev_io *w, int revents);

static void went_away(struct proxy *px)
{
    xlog(LOG_LVL_ERROR, "xenstored at %s has gone; answering EIO until it is back",
         px->cfg.backend_path);
    px->backend_up = false;
    ev_io_stop(px->loop, &px->probe_watcher);
    close(px->probe_fd);
    px->probe_fd = -1;
    share_backend_changed(px);
    struct domain *next;
    for (struct domain *d = px->domains; d; d = next) {
        next = d->next;
        domain_backend_lost(d);
    }
    ev_timer_again(px->loop, &px->reconnect_timer);
}

static void came_back(struct proxy *px, int fd)
{
    px->probe_fd = fd;
    ev_io_init(&px->probe_watcher, probe_cb, fd, EV_READ);
    ev_io_start(px->loop, &px->probe_watcher);
    /* libxenstore's connection died with the old xenstored */
    struct xs_handle *xs = xs_open(0);
    if (!xs) {
        ev_io_stop(px->loop, &px->probe_watcher);
        close(fd);
        px->probe_fd = -1;
        return;
    }
    if (px->xs)
        xs_close(px->xs);
    px->xs = xs;
    px->backend_up = true;
    ev_timer_stop(px->loop, &px->reconnect_timer);
    xlog(LOG_LVL_INFO, "xenstored is back at %s", px->cfg.backend_path);
    struct domain *next;
    for (struct domain *d = px->domains; d; d = next) {
        next = d->next;
        domain_reintroduce(d);
    }
}

static void probe_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct proxy *px = w->data;
    char c;
    ssize_t n = recv(px->probe_fd, &c, 1, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    went_away(px);
}

static void reconnect_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct proxy *px = w->data;
    int fd = connect_probe(px->cfg.backend_path);
    if (fd >= 0)
        came_back(px, fd);
}

int backend_start(struct proxy *px)
{
    ev_init(&px->reconnect_timer, reconnect_cb);
    px->reconnect_timer.repeat = 0.2;
    px->reconnect_timer.data = px;
    px->probe_watcher.data = px;
    for (int i = 0; i < 50; i++) {
        px->probe_fd = connect_probe(px->cfg.backend_path);
        if (px->probe_fd >= 0)
            break;
        usleep(100 * 1000);
    }
    if (px->probe_fd < 0)
        return -1;
    ev_io_init(&px->probe_watcher, probe_cb, px->probe_fd, EV_READ);
    px->probe_watcher.data = px;
    ev_io_start(px->loop, &px->probe_watcher);
    px->backend_up = true;
    return 0;
}

void backend_stop(struct proxy *px)
{
    ev_timer_stop(px->loop, &px->reconnect_timer);
    if (px->probe_fd >= 0) {
        ev_io_stop(px->loop, &px->probe_watcher);
        close(px->probe_fd);
        px->probe_fd = -1;
    }
}
