/*
 * xsproxyctl_transfer.c - `xsproxyctl send` and `receive`: carry a
 * transfer's link (transfer.h) between this host's xsproxy and the other
 * host's, over standard input and output, a command's pipe (--ssh), or TCP
 * with a one-time token.  The frames pass unchanged; xsproxy's REPORT
 * frames are shown here, never sent on.
 */
#define _GNU_SOURCE
#include "xsproxyctl_transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "bytequeue.h"
#include "control_table.h"
#include "transfer_wire.h"
#include "unix_sock.h"

#define TOKEN_LINE "XSPT-TOKEN "
#define TOKEN_WAIT_MS 10000

struct opts {
    const char *domid, *from, *to, *listen, *token, *ssh, *timeout;
    bool resume, abort, force;
};

/* send, receive and migrate-status, in the form of xsproxy's commands
 * (control_table.h): xsproxyctl's usage lists them after those. */
static const struct control_doc docs[] = {
    { "send",
      "<domid> [--resume] [--timeout <s>] [--ssh <cmd>]\n"
      "<domid> [--resume] [--timeout <s>] --to <host:port> --token <t>",
      "quiesce the domain and send it to another host's xsproxy\n"
      "(standard input and output, a command, or TCP)" },
    { "receive",
      "<domid> [--from-domid <s>] [--resume]\n"
      "<domid> [--from-domid <s>] [--resume] --listen <addr:port> [--token <t>]",
      "take a domain sent from another host; serve it once\n"
      "the source has let go of it" },
    { "send|receive", "<domid> --abort [--force]", "give a transfer up" },
    { "migrate-status", "<domid>", "where a transfer stands" },
};

void xsproxyctl_transfer_usage(FILE *out)
{
    char text[2048];
    control_docs_format(docs, sizeof(docs) / sizeof(docs[0]), text, sizeof(text));
    fputs(text, out);
}

static int usage(void)
{
    fputs("usage: xsproxyctl [--socket PATH] then one of:\n", stderr);
    xsproxyctl_transfer_usage(stderr);
    return 2;
}

static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **val = strcmp(a, "--from-domid") == 0 ? &o->from
                         : strcmp(a, "--to") == 0        ? &o->to
                         : strcmp(a, "--listen") == 0    ? &o->listen
                         : strcmp(a, "--token") == 0     ? &o->token
                         : strcmp(a, "--ssh") == 0       ? &o->ssh
                         : strcmp(a, "--timeout") == 0   ? &o->timeout
                                                         : NULL;
        if (val && i + 1 < argc)
            *val = argv[++i];
        else if (strcmp(a, "--resume") == 0)
            o->resume = true;
        else if (strcmp(a, "--abort") == 0)
            o->abort = true;
        else if (strcmp(a, "--force") == 0)
            o->force = true;
        else if (!o->domid && a[0] != '-')
            o->domid = a;
        else
            return -1;
    }
    return o->domid ? 0 : -1;
}

/* ---- xsproxy's socket ------------------------------------------------- */

/* `transfer ARGS...` on a connection of its own: 0 with the reply's text
 * in TEXT, -1 when xsproxy refused (TEXT: its error name), -2 when the
 * connection ended first (xsproxy stopped or was killed). */
static int ask(int fd, const char *const *args, unsigned n, char *text, size_t len)
{
    char body[512];
    size_t off = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t l = strlen(args[i]) + 1;
        if (off + l > sizeof(body))
            return -1;
        memcpy(body + off, args[i], l);
        off += l;
    }
    struct xsd_sockmsg h = { .type = XS_CONTROL, .req_id = 1, .len = (uint32_t)off };
    struct xsd_sockmsg r;
    if (!io_all(fd, &h, sizeof(h), false) || !io_all(fd, body, off, false) ||
        !io_all(fd, &r, sizeof(r), true) || r.len >= len || r.len > XENSTORE_PAYLOAD_MAX ||
        !io_all(fd, text, r.len, true)) {
        snprintf(text, len, "no answer from xsproxy");
        return -2;
    }
    text[r.len] = '\0';
    return r.type == XS_ERROR ? -1 : 0;
}

/* ---- the peer ------------------------------------------------------------ */

static int split_hostport(const char *spec, char *host, size_t hlen, const char **port)
{
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= hlen)
        return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    if (host[0] == '[') {   /* [v6]:port */
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    *port = colon + 1;
    return 0;
}

/* A line from FD within MS, into BUF (without its newline). */
static int read_line(int fd, char *buf, size_t len, int ms)
{
    size_t got = 0;
    while (got + 1 < len) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, ms) <= 0)
            return -1;
        if (read(fd, buf + got, 1) != 1)
            return -1;
        if (buf[got] == '\n') {
            buf[got] = '\0';
            return 0;
        }
        got++;
    }
    return -1;
}

/* connect() on a non-blocking FD, given up after MS (a host that drops
 * packets would hold a blocking one for minutes); FD blocking again. */
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len, int ms)
{
    if (connect(fd, sa, len) < 0 && errno != EINPROGRESS)
        return -1;
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int err = 0;
    socklen_t el = sizeof(err);
    if (poll(&p, 1, ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
        errno = err ? err : ETIMEDOUT;
        return -1;
    }
    return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
}

static int dial(const char *spec, const char *token, int silence_ms)
{
    char host[256];
    const char *port;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    if (split_hostport(spec, host, sizeof(host), &port) < 0) {
        fprintf(stderr, "xsproxyctl: --to %s: say HOST:PORT\n", spec);
        return -1;
    }
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        fprintf(stderr, "xsproxyctl: %s: %s\n", spec, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd >= 0 && connect_within(fd, a->ai_addr, a->ai_addrlen, silence_ms) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "xsproxyctl: cannot connect to %s: %s\n", spec, strerror(errno));
        return -1;
    }
    char line[128];
    snprintf(line, sizeof(line), TOKEN_LINE "%s\n", token);
    if (!io_all(fd, line, strlen(line), false) || read_line(fd, line, sizeof(line), silence_ms) < 0 ||
        strcmp(line, "OK") != 0) {
        fprintf(stderr, "xsproxyctl: %s refused the token\n", spec);
        close(fd);
        return -1;
    }
    return fd;
}

static bool same_token(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned)(a[i] ^ b[i]);
    return diff == 0;
}

/* The first peer at SPEC that presents TOKEN; others are turned away. */
static int await_peer(const char *spec, const char *token)
{
    char host[256];
    const char *port;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res = NULL;
    if (split_hostport(spec, host, sizeof(host), &port) < 0 ||
        getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0) {
        fprintf(stderr, "xsproxyctl: --listen %s: say ADDR:PORT\n", spec);
        return -1;
    }
    int lfd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    int one = 1;
    if (lfd >= 0)
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, res->ai_addr, res->ai_addrlen) < 0 || listen(lfd, 4) < 0) {
        fprintf(stderr, "xsproxyctl: cannot listen on %s: %s\n", spec, strerror(errno));
        freeaddrinfo(res);
        if (lfd >= 0)
            close(lfd);
        return -1;
    }
    freeaddrinfo(res);
    printf("listening on %s, token %s\n", spec, token);
    fflush(stdout);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            close(lfd);
            return -1;
        }
        char line[160];
        bool ok = read_line(fd, line, sizeof(line), TOKEN_WAIT_MS) == 0 &&
                  strncmp(line, TOKEN_LINE, strlen(TOKEN_LINE)) == 0 &&
                  same_token(line + strlen(TOKEN_LINE), token);
        if (ok && io_all(fd, "OK\n", 3, false)) {
            close(lfd);
            return fd;
        }
        if (!ok && io_all(fd, "DENIED\n", 7, false)) {
        }
        fprintf(stderr, "xsproxyctl: turned away a peer without the token\n");
        close(fd);
    }
}

/* The command's standard input and output, as one descriptor. */
static int run_command(const char *cmd, pid_t *pid)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    *pid = fork();
    if (*pid < 0)
        return -1;
    if (*pid == 0) {
        dup2(sv[1], 0);
        dup2(sv[1], 1);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    return sv[0];
}

/* ---- carrying the link ------------------------------------------------------ */

/* What of P fits on FD now: a socket is never waited on (a peer that
 * drops packets would hold a blocking write past the silence check); a
 * pipe is written as it takes it.  -1 when FD is gone. */
static ssize_t write_some(int fd, const void *p, size_t n)
{
    ssize_t r = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0 && errno == ENOTSOCK)
        r = write(fd, p, n);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    return r;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum outcome { OUT_NONE, OUT_DONE, OUT_PAUSED, OUT_ABORTED };

/* xsproxy's REPORT: shown; its first word says how the run ends. */
static void show(const struct tw_frame *f, enum outcome *out)
{
    const char *t = (const char *)f->data;
    int n = (int)f->data_len;
    bool progress = n > 9 && strncmp(t, "progress ", 9) == 0;
    if (progress && !isatty(2))
        return;
    fprintf(stderr, progress ? "\rxsproxyctl: %.*s" : "xsproxyctl: %.*s\n", n, t);
    if ((n >= 5 && strncmp(t, "done:", 5) == 0) || (n >= 7 && strncmp(t, "serving", 7) == 0))
        *out = OUT_DONE;
    else if (n >= 6 && strncmp(t, "paused", 6) == 0)
        *out = OUT_PAUSED;
    else if (n >= 7 && strncmp(t, "aborted", 7) == 0)
        *out = OUT_ABORTED;
    else if (n >= 10 && strncmp(t, "the source", 10) == 0)
        *out = OUT_ABORTED;
}

/* Frames from xsproxy in FROM: REPORTs shown, the rest to TO. */
static int sort_frames(struct bytequeue *from, struct bytequeue *to, enum outcome *out)
{
    size_t off = 0;
    for (;;) {
        struct tw_frame f;
        size_t used;
        char err[128];
        int rc = tw_parse(bq_head(from) + off, bq_pending(from) - off, &f, &used, err,
                          sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "xsproxyctl: from xsproxy: %s\n", err);
            return -1;
        }
        if (rc == 0)
            break;
        if (f.type == TW_REPORT)
            show(&f, out);
        else if (bq_push(to, bq_head(from) + off, used) < 0)
            return -1;
        off += used;
    }
    bq_consume(from, off);
    return 0;
}

/* One link being carried: xsproxy's end (LINK) and the other host's. */
struct carrier {
    int link, peer_in, peer_out;
    struct bytequeue from_x, to_peer, to_x;
    enum outcome out;
    bool x_open, peer_open, x_shut;
    long long heard;   /* the other host, last */
    uint8_t chunk[65536];
};

/* Frames from xsproxy: REPORTs shown, the rest queued for the peer. */
static void from_xsproxy(struct carrier *c)
{
    ssize_t n = read(c->link, c->chunk, sizeof(c->chunk));
    if (n <= 0) {
        c->x_open = false;
    } else if (bq_push(&c->from_x, c->chunk, (size_t)n) < 0 ||
               sort_frames(&c->from_x, &c->to_peer, &c->out) < 0) {
        c->x_open = false;
    }
}

/* What the other host sent, queued for xsproxy; -1 out of memory. */
static int from_peer(struct carrier *c)
{
    ssize_t n = read(c->peer_in, c->chunk, sizeof(c->chunk));
    c->heard = now_ms();
    if (n <= 0)
        c->peer_open = false;   /* the link to the other host broke */
    else if (bq_push(&c->to_x, c->chunk, (size_t)n) < 0)
        return -1;
    return 0;
}

static void to_peer(struct carrier *c)
{
    ssize_t n = write_some(c->peer_out, bq_head(&c->to_peer), bq_pending(&c->to_peer));
    if (n < 0) {
        bq_consume(&c->to_peer, bq_pending(&c->to_peer));   /* gone: xsproxy hears below */
        c->peer_out = -1;
        c->peer_open = false;
    } else {
        bq_consume(&c->to_peer, (size_t)n);
    }
}

static void to_xsproxy(struct carrier *c)
{
    ssize_t n = write_some(c->link, bq_head(&c->to_x), bq_pending(&c->to_x));
    if (n < 0)
        c->x_open = false;
    else
        bq_consume(&c->to_x, (size_t)n);
}

/* Both xsproxies send PING twice a second: a peer silent for SILENCE_MS
 * is a link that broke without closing (packets dropped, a cable pulled). */
static int carry(int link, int peer_in, int peer_out, int silence_ms, bool *silent)
{
    struct carrier cr = { .link = link, .peer_in = peer_in, .peer_out = peer_out,
                          .out = OUT_NONE, .x_open = true, .peer_open = true,
                          .heard = now_ms() };
    struct carrier *c = &cr;
    while (c->x_open || bq_pending(&c->to_peer)) {
        struct pollfd p[4];
        int np = 0, ix = -1, ipin = -1, ipout = -1, ixout = -1;
        if (c->x_open)
            p[ix = np++] = (struct pollfd){ .fd = link, .events = POLLIN };
        if (c->peer_open)
            p[ipin = np++] = (struct pollfd){ .fd = peer_in, .events = POLLIN };
        if (bq_pending(&c->to_peer) && c->peer_out >= 0)
            p[ipout = np++] = (struct pollfd){ .fd = c->peer_out, .events = POLLOUT };
        if (bq_pending(&c->to_x) && c->x_open)
            p[ixout = np++] = (struct pollfd){ .fd = link, .events = POLLOUT };
        long long left = c->heard + silence_ms - now_ms();
        int ready = poll(p, (nfds_t)np, c->peer_open ? (int)(left > 0 ? left : 0) : -1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            break;
        if (c->peer_open && now_ms() - c->heard >= silence_ms) {
            fprintf(stderr, "xsproxyctl: nothing from the other host for %d ms: the link is "
                    "taken for broken\n", silence_ms);
            c->peer_open = false;
            c->peer_out = -1;
            bq_consume(&c->to_peer, bq_pending(&c->to_peer));
            *silent = true;
            continue;
        }
        if (ix >= 0 && p[ix].revents)
            from_xsproxy(c);
        if (ipin >= 0 && p[ipin].revents && from_peer(c) < 0)
            break;
        if (ipout >= 0 && p[ipout].revents)
            to_peer(c);
        if (ixout >= 0 && p[ixout].revents)
            to_xsproxy(c);
        if (!c->peer_open && !bq_pending(&c->to_x) && c->x_open && !c->x_shut) {
            /* what the other host sent is passed on first; then xsproxy
             * hears that the link ended, and pauses */
            shutdown(link, SHUT_WR);
            c->x_shut = true;
        }
        if (!c->x_open && c->peer_out < 0)
            break;
    }
    bq_free(&c->from_x);
    bq_free(&c->to_peer);
    bq_free(&c->to_x);
    return c->out == OUT_DONE ? 0 : c->out == OUT_ABORTED ? 4 : 3;
}

/* Read and drop what FD still sends, until it closes or is silent. */
static void drain(int fd, int silence_ms)
{
    char chunk[4096];
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, silence_ms) <= 0 || read(fd, chunk, sizeof(chunk)) <= 0)
            return;
    }
}

/* ---- the commands ------------------------------------------------------- */

/* What a refusal of `transfer VERB` means, for the operator (the wire
 * carries only the errno's name; xsproxy's log has the details). */
static const struct {
    const char *verb, *err, *hint;
} refusals[] = {
    { "abort", "EBUSY", "the domain is held here and the source may have committed it: resume "
                        "the transfer to learn the outcome, or abort on the source first, then "
                        "here with --force" },
    { "abort", "EPERM", "the transfer is past its commit: the domain belongs to the destination" },
    { "abort", "ENOENT", "no transfer of that domain here" },
    { "status", "ENOENT", "no transfer of that domain here" },
};

static const char *refusal_hint(const char *verb, const char *err)
{
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
        if (strcmp(refusals[i].verb, verb) == 0 && strcmp(refusals[i].err, err) == 0)
            return refusals[i].hint;
    return "xsproxy's log says why";
}

static int simple(const char *sock, const char *const *args, unsigned n)
{
    int fd = unix_connect(sock, 0);
    if (fd < 0) {
        fprintf(stderr, "xsproxyctl: cannot connect to xsproxy at %s: %s\n", sock,
                strerror(errno));
        return 1;
    }
    char text[XENSTORE_PAYLOAD_MAX + 1];
    int rc = ask(fd, args, n, text, sizeof(text));
    close(fd);
    if (rc < 0) {
        fprintf(stderr, "xsproxyctl: transfer %s %s: %s (%s)\n", args[1], args[2], text,
                refusal_hint(args[1], text));
        return 1;
    }
    fputs(text, stdout);
    return 0;
}

/* A connection to xsproxy that has become the transfer's link: `transfer
 * send|receive` asked and granted.  Its descriptor, or -1 with the exit
 * code in *RC. */
static int open_link(const char *sock, const char *cmd, const struct opts *o, bool sending,
                     int *rc)
{
    int link = unix_connect(sock, 0);
    if (link < 0) {
        fprintf(stderr, "xsproxyctl: cannot connect to xsproxy at %s: %s\n", sock,
                strerror(errno));
        *rc = 1;
        return -1;
    }
    const char *args[6] = { "transfer", sending ? "send" : "receive", o->domid };
    unsigned n = 3;
    if (!sending && o->from)
        args[n++] = o->from;
    if (o->resume)
        args[n++] = "resume";
    char text[XENSTORE_PAYLOAD_MAX + 1];
    int asked = ask(link, args, n, text, sizeof(text));
    if (asked == -2) {
        /* whatever it had journalled, its next start holds, paused */
        fprintf(stderr, "xsproxyctl: %s %s: xsproxy went away: once it is back, `%s %s "
                "--resume` goes on\n", cmd, o->domid, cmd, o->domid);
        close(link);
        *rc = 3;
        return -1;
    }
    if (asked < 0) {
        fprintf(stderr, "xsproxyctl: %s %s: %s (`xsproxyctl migrate-status %s`, and xsproxy's "
                "log, say why)\n", cmd, o->domid, text, o->domid);
        close(link);
        *rc = 1;
        return -1;
    }
    return link;
}

/* --token's, or a new random one: at most 32 characters, in TOKEN[40]. */
static int listen_token(const struct opts *o, char *token)
{
    if (o->token) {
        snprintf(token, 40, "%.32s", o->token);
        return 0;
    }
    uint8_t r[16];
    if (getrandom(r, sizeof(r), 0) != sizeof(r))
        return -1;
    for (int i = 0; i < 16; i++)
        sprintf(token + 2 * i, "%02x", r[i]);
    return 0;
}

/* The other host's end: dialled, awaited, a command's pipe, or standard
 * input and output (the defaults already in *PEER_IN and *PEER_OUT).
 * -1 when no token could be made. */
static int reach_peer(const struct opts *o, int silence_ms, int *peer_in, int *peer_out,
                      pid_t *child)
{
    char token[40];
    if (o->to) {
        *peer_in = *peer_out = dial(o->to, o->token, silence_ms);
    } else if (o->listen) {
        if (listen_token(o, token) < 0)
            return -1;
        *peer_in = *peer_out = await_peer(o->listen, token);
    } else if (o->ssh) {
        *peer_in = *peer_out = run_command(o->ssh, child);
    }
    return 0;
}

/* The carrying is over: the other host's end closed as it should be. */
static void close_peer(int peer_in, bool silent, int silence_ms)
{
    if (peer_in > 1) {
        /* a TCP peer's close with its PINGs unread would be a reset, which
         * may lose the last frame on the way: say we are done, let the other
         * side close first */
        shutdown(peer_in, SHUT_WR);
        if (!silent)   /* a silent peer would only make us wait as long again */
            drain(peer_in, silence_ms);
        close(peer_in);
    } else {
        close(1);
    }
}

int xsproxyctl_transfer(const char *sock, int argc, char **argv)
{
    struct opts o;
    const char *cmd = argv[0];
    if (parse(argc, argv, &o) < 0)
        return usage();
    if (strcmp(cmd, "migrate-status") == 0)
        return simple(sock, (const char *[]){ "transfer", "status", o.domid }, 3);
    bool sending = strcmp(cmd, "send") == 0;
    if (o.abort)
        return simple(sock, (const char *[]){ "transfer", "abort", o.domid, "force" },
                      o.force ? 4 : 3);
    if ((o.to && !o.token) || (sending && o.listen) || (!sending && (o.to || o.ssh)))
        return usage();
    signal(SIGPIPE, SIG_IGN);
    int rc;
    int link = open_link(sock, cmd, &o, sending, &rc);
    if (link < 0)
        return rc;
    int silence_ms = o.timeout ? (int)(atof(o.timeout) * 1000) : 10000;
    if (silence_ms < 1000)
        silence_ms = 1000;   /* above the PINGs' half second */
    int peer_in = 0, peer_out = 1;
    pid_t child = -1;
    if (reach_peer(&o, silence_ms, &peer_in, &peer_out, &child) < 0)
        return 1;
    if (peer_in < 0) {
        close(link);   /* xsproxy pauses the transfer */
        return 3;
    }
    bool silent = false;
    rc = carry(link, peer_in, peer_out, silence_ms, &silent);
    close(link);
    close_peer(peer_in, silent, silence_ms);
    if (child > 0)
        waitpid(child, NULL, 0);
    if (rc == 3)
        fprintf(stderr, "xsproxyctl: the transfer is paused: `%s %s --resume` over a new "
                "link goes on\n", cmd, o.domid);
    return rc;
}
