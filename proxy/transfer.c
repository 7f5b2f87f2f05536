/*
 * transfer.c - a domain sent to, or received from, another host's xsproxy
 * (transfer.h): the two sides' state machines, their journals, their link.
 * The frames are transfer_wire.c's; the stream is the save's and the
 * restore's (save.c, restore.c), run as jobs.  Every step is an event: a
 * frame, a job's end, a timer; nothing here blocks the loop.  The journals
 * are written atomically (a new file renamed over the old) and, like the
 * domains' journals and the save's stream, not fsync'd: a sync would hold
 * the loop for the disk's time, they are there for a crash of xsproxy, and
 * a host that loses its power loses its guests with it.
 */
#define _GNU_SOURCE
#include "transfer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "job.h"
#include "migrate.h"
#include "transfer_wire.h"

#define WINDOW (1u << 20)        /* stream bytes sent and not acknowledged */
#define ACK_EVERY (64u << 10)    /* the destination acknowledges this often */
#define STREAM_MAX (256u << 20)  /* the largest stream a destination takes */

enum phase {
    /* source */
    P_QUIESCING, P_SAVING, P_SENDING, P_COMMITTED, P_SENT,
    /* destination */
    P_WAITING, P_RECEIVING, P_RESTORING, P_HELD, P_SERVING,
};

static const char *const phase_names[] = {
    [P_QUIESCING] = "quiescing", [P_SAVING] = "saving",     [P_SENDING] = "sending",
    [P_COMMITTED] = "committed", [P_SENT] = "sent",         [P_WAITING] = "waiting",
    [P_RECEIVING] = "receiving", [P_RESTORING] = "restoring", [P_HELD] = "held",
    [P_SERVING] = "serving",
};

struct link {
    int fd;
    ev_io rd, wr;
    uint8_t *in;
    size_t in_len, in_cap;
    struct bytequeue out;
    bool closing;   /* close once OUT is written */
    ev_timer ping;
};

struct transfer {
    struct transfer *next;
    struct proxy *px;
    bool sender;
    uint32_t domid, peer_domid;   /* the source's id, for a destination */
    uint8_t id[TW_ID_LEN];
    enum phase phase;
    bool has_id;
    char state_path[512], stream_path[512];
    uint64_t length, sent, acked, received, acked_sent;
    uint32_t crc;
    uint8_t *stream;             /* source: the saved stream */
    int stream_fd;               /* destination: the stream as it comes */
    uint64_t quiesced_at_us;     /* source: for the hold time (wall clock) */
    struct link *link;           /* NULL: paused (or not yet attached) */
    bool peer_said;              /* source: this link's STATE came */
    struct job *job;             /* the save or the restore under way */
    ev_timer quiesce_timer;
    ev_timer reap;               /* frees it, out of any callback of its own */
    bool gone;
    char note[256];              /* the last thing that went wrong */
};

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static bool unhex(const char *s, uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return false;
        b[i] = (uint8_t)v;
    }
    return strlen(s) == 2 * n;
}

/* ---- the journal ------------------------------------------------------ */

static void paths(struct transfer *t)
{
    const char *dir = t->px->cfg.run_dir;
    snprintf(t->state_path, sizeof(t->state_path), "%s/transfer/dom%u.%s", dir, t->domid,
             t->sender ? "send" : "recv");
    snprintf(t->stream_path, sizeof(t->stream_path), "%s/transfer/dom%u.%s-stream", dir,
             t->domid, t->sender ? "send" : "recv");
}

/* T's phase and what goes with it, atomically. */
static int journal_write(struct transfer *t)
{
    char id[2 * TW_ID_LEN + 1], text[512], tmp[600];
    hex(t->id, TW_ID_LEN, id);
    int n = snprintf(text, sizeof(text),
                     "id=%s\ndomid=%u\npeer=%u\nphase=%s\nlength=%llu\ncrc=%u\nquiesced_at=%llu\n",
                     id, t->domid, t->peer_domid, phase_names[t->phase],
                     (unsigned long long)t->length, t->crc,
                     (unsigned long long)t->quiesced_at_us);
    snprintf(tmp, sizeof(tmp), "%s.tmp", t->state_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    bool ok = write(fd, text, (size_t)n) == n;
    close(fd);
    if (!ok || rename(tmp, t->state_path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int journal_read(struct transfer *t)
{
    FILE *f = fopen(t->state_path, "re");
    if (!f)
        return -1;
    char line[256], id[64] = "", phase[32] = "";
    unsigned long long length = 0, at = 0;
    unsigned domid = 0, peer = 0, crc = 0;
    int got = 0;
    while (fgets(line, sizeof(line), f))
        got += sscanf(line, "id=%63s", id) + sscanf(line, "domid=%u", &domid) +
               sscanf(line, "peer=%u", &peer) + sscanf(line, "phase=%31s", phase) +
               sscanf(line, "length=%llu", &length) + sscanf(line, "crc=%u", &crc) +
               sscanf(line, "quiesced_at=%llu", &at);
    fclose(f);
    int p = -1;
    for (unsigned i = 0; i < sizeof(phase_names) / sizeof(phase_names[0]); i++)
        if (phase_names[i] && strcmp(phase, phase_names[i]) == 0)
            p = (int)i;
    if (got != 7 || p < 0 || domid != t->domid || !unhex(id, t->id, TW_ID_LEN)) {
        errno = EBADMSG;
        return -1;
    }
    t->has_id = true;
    t->phase = (enum phase)p;
    t->peer_domid = peer;
    t->length = length;
    t->crc = crc;
    t->quiesced_at_us = at;
    return 0;
}

static void journal_remove(struct transfer *t)
{
    unlink(t->state_path);
    unlink(t->stream_path);
}

/* ---- the link ------------------------------------------------------------ */

static void link_close(struct transfer *t);
static void on_frame(struct transfer *t, const struct tw_frame *f);

static void send_frame(struct transfer *t, const struct tw_frame *f)
{
    struct link *l = t->link;
    if (!l || l->closing)
        return;
    static uint8_t buf[TW_HDR_LEN + TW_PAYLOAD_MAX];
    size_t n = tw_build(f, buf);
    if (n && bq_push(&l->out, buf, n) == 0)
        ev_io_start(t->px->loop, &l->wr);
}

static void send_text(struct transfer *t, enum tw_type type, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    struct tw_frame f = { .type = type, .data = (const uint8_t *)text,
                          .data_len = (uint32_t)strlen(text) };
    send_frame(t, &f);
}

/* A line for the operator, in the log and on xsproxyctl's terminal. */
static void report(struct transfer *t, const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    xlog(LOG_LVL_INFO, "transfer %s domain %u: %s", t->sender ? "of" : "to", t->domid, text);
    send_text(t, TW_REPORT, "%s", text);
}

/* The link ends once what is queued is written; the transfer pauses
 * where it stands, unless it is over. */
static void link_end(struct transfer *t, const char *why)
{
    if (!t->link)
        return;
    if (why) {
        snprintf(t->note, sizeof(t->note), "%s", why);
        report(t, "paused (%s): %s", phase_names[t->phase], why);
    }
    t->link->closing = true;
    ev_io_stop(t->px->loop, &t->link->rd);
    if (!bq_pending(&t->link->out))
        link_close(t);
}

/* A frame that makes no sense here: the peer is told, the link ends,
 * nothing changes. */
static void refuse(struct transfer *t, const char *fmt, const char *what)
{
    char why[300];
    snprintf(why, sizeof(why), fmt, what);
    xlog(LOG_LVL_WARN, "transfer %s domain %u: %s", t->sender ? "of" : "to", t->domid, why);
    send_text(t, TW_ERROR, "%s", why);
    link_end(t, why);
}

static void link_close(struct transfer *t)
{
    struct link *l = t->link;
    if (!l)
        return;
    ev_io_stop(t->px->loop, &l->rd);
    ev_io_stop(t->px->loop, &l->wr);
    ev_timer_stop(t->px->loop, &l->ping);
    close(l->fd);
    free(l->in);
    bq_free(&l->out);
    free(l);
    t->link = NULL;
}

static void link_rd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct transfer *t = w->data;
    struct link *l = t->link;
    if (l->in_cap - l->in_len < TW_DATA_MAX) {
        size_t cap = l->in_cap ? 2 * l->in_cap : 2 * (TW_HDR_LEN + TW_PAYLOAD_MAX);
        uint8_t *in = realloc(l->in, cap);
        if (!in) {
            link_end(t, "out of memory");
            return;
        }
        l->in = in;
        l->in_cap = cap;
    }
    ssize_t n = read(l->fd, l->in + l->in_len, l->in_cap - l->in_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        link_end(t, n == 0 ? "the link closed" : strerror(errno));
        link_close(t);
        return;
    }
    l->in_len += (size_t)n;
    size_t off = 0;
    while (t->link == l && !l->closing && !t->gone) {
        struct tw_frame f;
        size_t used = 0;
        char err[128];
        int rc = tw_parse(l->in + off, l->in_len - off, &f, &used, err, sizeof(err));
        if (rc < 0) {
            refuse(t, "bad frame from the peer: %s", err);
            return;
        }
        if (rc == 0)
            break;
        off += used;
        on_frame(t, &f);
    }
    if (t->link == l) {
        memmove(l->in, l->in + off, l->in_len - off);
        l->in_len -= off;
    }
}

static void pump_data(struct transfer *t);

static void link_wr_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct transfer *t = w->data;
    struct link *l = t->link;
    ssize_t n = write(l->fd, bq_head(&l->out), bq_pending(&l->out));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        link_end(t, strerror(errno));
        link_close(t);
        return;
    }
    bq_consume(&l->out, (size_t)n);
    if (bq_pending(&l->out))
        return;
    ev_io_stop(loop, w);
    if (l->closing)
        link_close(t);
    else if (t->sender)
        pump_data(t);
}

static void ping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct transfer *t = w->data;
    if (t->link && !bq_pending(&t->link->out))
        send_frame(t, &(struct tw_frame){ .type = TW_PING });
}

void transfer_attach(struct transfer *t, int fd, const uint8_t *rest, size_t len)
{
    struct link *l = calloc(1, sizeof(*l));
    if (!l) {
        close(fd);
        return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    l->fd = fd;
    ev_io_init(&l->rd, link_rd_cb, fd, EV_READ);
    ev_io_init(&l->wr, link_wr_cb, fd, EV_WRITE);
    l->rd.data = l->wr.data = t;
    ev_timer_init(&l->ping, ping_cb, 0.5, 0.5);
    l->ping.data = t;
    ev_timer_start(t->px->loop, &l->ping);
    t->link = l;
    t->peer_said = false;
    t->note[0] = '\0';
    if (len && (l->in = malloc(len))) {
        memcpy(l->in, rest, len);
        l->in_len = l->in_cap = len;
    }
    ev_io_start(t->px->loop, &l->rd);
    report(t, "link up (%s)", phase_names[t->phase]);
    if (t->sender && t->has_id) {
        struct tw_frame f = { .type = TW_HELLO, .src_domid = t->domid,
                              .dst_domid = t->peer_domid, .length = t->length, .crc = t->crc };
        memcpy(f.id, t->id, TW_ID_LEN);
        send_frame(t, &f);
    }
    /* a quiescing or saving source says HELLO once the stream is saved */
}

/* ---- the source ------------------------------------------------------------ */

static void pump_data(struct transfer *t)
{
    if (t->phase != P_SENDING || !t->link || t->link->closing || !t->peer_said)
        return;
    while (t->sent < t->length && t->sent - t->acked < WINDOW &&
           bq_pending(&t->link->out) < 2 * TW_DATA_MAX) {
        uint64_t n = t->length - t->sent;
        if (n > TW_DATA_MAX)
            n = TW_DATA_MAX;
        struct tw_frame f = { .type = TW_DATA, .length = t->sent, .data = t->stream + t->sent,
                              .data_len = (uint32_t)n };
        send_frame(t, &f);
        t->sent += n;
    }
}

static void transfer_free(struct transfer *t);
static void reap_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* The commit: from here on D is the destination's. */
static void commit(struct transfer *t)
{
    if (t->phase == P_SENDING) {
        t->phase = P_COMMITTED;
        if (journal_write(t) < 0) {
            t->phase = P_SENDING;
            link_end(t, "cannot journal the commit");
            return;
        }
        struct domain *d = domain_find(t->px, t->domid);
        if (d)
            domain_remove(t->px, d);   /* nothing of it relayed again */
        free(t->stream);
        t->stream = NULL;
        unlink(t->stream_path);
        report(t, "committed: domain %u is the destination's now", t->domid);
    }
    send_frame(t, &(struct tw_frame){ .type = TW_COMMIT });
}

/* The source gives up before its commit: D runs here again. */
static void source_abort(struct transfer *t, const char *why)
{
    struct domain *d = domain_find(t->px, t->domid);
    if (d) {
        d->quiesce = false;
        domain_pump(d);
    }
    report(t, "aborted, domain %u runs here: %s", t->domid, why);
    journal_remove(t);
    link_end(t, NULL);
    transfer_free(t);
}

static void source_state(struct transfer *t, const struct tw_frame *f)
{
    if (f->phase != TW_PHASE_NONE && memcmp(f->id, t->id, TW_ID_LEN) != 0) {
        refuse(t, "the destination answers for another transfer%s", "");
        return;
    }
    bool committed = t->phase != P_SENDING;
    t->peer_said = true;
    switch (f->phase) {
    case TW_PHASE_NONE:
    case TW_PHASE_RECEIVING:
        if (committed) {
            refuse(t, "the destination has lost a transfer the source committed%s", "");
            return;
        }
        if (f->length > t->length) {
            refuse(t, "the destination holds more than the stream%s", "");
            return;
        }
        t->sent = t->acked = f->length;
        report(t, "sending from byte %llu of %llu", (unsigned long long)t->sent,
               (unsigned long long)t->length);
        pump_data(t);
        return;
    case TW_PHASE_RESTORING:
        return;   /* HELD comes */
    case TW_PHASE_HELD:
        commit(t);
        return;
    case TW_PHASE_SERVING:
        if (!committed)
            refuse(t, "the destination serves a domain the source has not committed%s", "");
        else
            commit(t);   /* its DONE was lost: COMMIT again asks for it */
        return;
    case TW_PHASE_ABORTED:
        if (committed)
            refuse(t, "the destination aborted a committed transfer%s", "");
        else
            source_abort(t, "the destination aborted");
        return;
    }
}

static void source_frame(struct transfer *t, const struct tw_frame *f)
{
    switch (f->type) {
    case TW_STATE:
        source_state(t, f);
        return;
    case TW_ACK:
        if (t->phase != P_SENDING || f->length <= t->acked || f->length > t->sent) {
            refuse(t, "an acknowledgement out of order (%s)", "not after the last, or past "
                                                             "what was sent");
            return;
        }
        t->acked = f->length;
        report(t, "progress %llu/%llu bytes", (unsigned long long)t->acked,
               (unsigned long long)t->length);
        pump_data(t);
        return;
    case TW_HELD:
        if (t->phase == P_SENDING && t->acked != t->length) {
            refuse(t, "HELD before the whole stream was acknowledged%s", "");
            return;
        }
        commit(t);
        return;
    case TW_DONE:
        if (t->phase != P_COMMITTED && t->phase != P_SENT) {
            refuse(t, "DONE before the commit%s", "");
            return;
        }
        if (t->phase == P_COMMITTED) {
            t->phase = P_SENT;
            journal_write(t);
        }
        report(t, "done: domain %u held %.1f ms, from QUIESCE to the destination serving it",
               t->domid, (double)(wall_us() - t->quiesced_at_us) / 1000.0);
        link_end(t, NULL);
        return;
    case TW_ABORT:
        if (t->phase == P_SENDING)
            source_abort(t, "the destination aborted");
        else
            refuse(t, "ABORT after the commit%s", "");
        return;
    default:
        refuse(t, "%s frame unexpected at the source", tw_type_name(f->type));
    }
}

/* J is done: its answer into *RC and TEXT, the job discarded.  Its
 * transfer, or NULL when that was given up meanwhile. */
static struct transfer *job_ended(struct job *j, int *rc, char *text, size_t len)
{
    struct transfer *t = j->owner;
    *rc = j->rc;
    snprintf(text, len, "%s", j->text);
    job_discard(j);
    if (t)
        t->job = NULL;
    return t;
}

static void saved(struct job *j)
{
    int rc;
    char text[sizeof(j->text)];
    struct transfer *t = job_ended(j, &rc, text, sizeof(text));
    if (!t)
        return;
    size_t len = 0;
    char err[256];
    if (rc || migrate_read_file(t->stream_path, &t->stream, &len, err, sizeof(err)) < 0) {
        source_abort(t, rc ? text : err);
        return;
    }
    t->length = len;
    t->crc = tw_crc32(0, t->stream, len);
    t->phase = P_SENDING;
    if (getrandom(t->id, TW_ID_LEN, 0) != TW_ID_LEN || journal_write(t) < 0) {
        source_abort(t, "cannot journal the transfer");
        return;
    }
    t->has_id = true;
    report(t, "saved: %llu bytes", (unsigned long long)t->length);
    struct tw_frame f = { .type = TW_HELLO, .src_domid = t->domid, .dst_domid = t->peer_domid,
                          .length = t->length, .crc = t->crc };
    memcpy(f.id, t->id, TW_ID_LEN);
    send_frame(t, &f);
}

static void quiesce_check(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct transfer *t = w->data;
    struct domain *d = domain_find(t->px, t->domid);
    if (!d) {
        ev_timer_stop(loop, w);
        source_abort(t, "the domain went");
        return;
    }
    if (!domain_is_quiesced(d))
        return;
    ev_timer_stop(loop, w);
    t->phase = P_SAVING;
    char err[512];
    int rc = migrate_save(t->px, d, t->stream_path, &t->job, err, sizeof(err));
    if (rc) {
        source_abort(t, err);
        return;
    }
    t->job->on_done = saved;
    t->job->owner = t;
}

/* ---- the destination ------------------------------------------------------ */

static void send_state(struct transfer *t, enum tw_phase phase)
{
    struct tw_frame f = { .type = TW_STATE, .dst_domid = t->domid, .phase = phase,
                          .length = t->received };
    memcpy(f.id, t->id, TW_ID_LEN);
    send_frame(t, &f);
}

static enum tw_phase wire_phase(const struct transfer *t)
{
    switch (t->phase) {
    case P_RECEIVING: return TW_PHASE_RECEIVING;
    case P_RESTORING: return TW_PHASE_RESTORING;
    case P_HELD: return TW_PHASE_HELD;
    case P_SERVING: return TW_PHASE_SERVING;
    default: return TW_PHASE_NONE;
    }
}

/* The destination lets go of what it received (and restored: D is
 * removed and released; the toolstack destroys the domain itself). */
static void dest_discard(struct transfer *t)
{
    struct domain *d = domain_find(t->px, t->domid);
    if (d && (t->phase == P_HELD || t->phase == P_RESTORING)) {
        domain_remove(t->px, d);
        xs_release_domain(t->px->xs, t->domid);
    }
    if (t->stream_fd >= 0)
        close(t->stream_fd);
    t->stream_fd = -1;
    journal_remove(t);
}

static void restored(struct job *j)
{
    int rc;
    char text[sizeof(j->text)];
    struct transfer *t = job_ended(j, &rc, text, sizeof(text));
    if (!t)
        return;
    if (rc) {
        report(t, "cannot restore: %s", text);
        send_text(t, TW_ABORT, "the destination cannot restore: %s", text);
        dest_discard(t);
        link_end(t, NULL);
        transfer_free(t);
        return;
    }
    t->phase = P_HELD;
    if (journal_write(t) < 0) {
        link_end(t, "cannot journal HELD");
        return;
    }
    report(t, "restored and held");
    send_frame(t, &(struct tw_frame){ .type = TW_HELD });
}

static void begin_restore(struct transfer *t)
{
    if (t->stream_fd >= 0)
        close(t->stream_fd);
    t->stream_fd = -1;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[512];
    if (migrate_read_file(t->stream_path, &buf, &len, err, sizeof(err)) < 0 ||
        len != t->length || tw_crc32(0, buf, len) != t->crc) {
        free(buf);
        /* a stream that fails its CRC is asked again, from the start */
        t->received = t->acked_sent = 0;
        t->stream_fd = open(t->stream_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        refuse(t, "the stream received fails its CRC: it is asked again%s", "");
        return;
    }
    free(buf);
    t->phase = P_RESTORING;
    journal_write(t);
    int rc = migrate_restore(t->px, t->domid, t->stream_path, t->peer_domid, true, &t->job, err,
                             sizeof(err));
    if (rc) {
        t->phase = P_RECEIVING;
        journal_write(t);
        refuse(t, "cannot restore: %s", err);
        return;
    }
    t->job->on_done = restored;
    t->job->owner = t;
}

static void dest_hello(struct transfer *t, const struct tw_frame *f)
{
    if (t->has_id && memcmp(f->id, t->id, TW_ID_LEN) != 0) {
        if (t->phase >= P_RESTORING) {
            refuse(t, "another transfer of this domain is %s here", phase_names[t->phase]);
            return;
        }
        dest_discard(t);   /* a new attempt of the source's */
        t->has_id = false;
    }
    if (!t->has_id) {
        if (f->length > STREAM_MAX) {
            refuse(t, "a stream of %s bytes is more than this side takes", "too many");
            return;
        }
        memcpy(t->id, f->id, TW_ID_LEN);
        t->length = f->length;
        t->crc = f->crc;
        if (!t->peer_domid)
            t->peer_domid = f->src_domid;
        t->phase = P_RECEIVING;
        t->received = 0;
        t->stream_fd = open(t->stream_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (t->stream_fd < 0 || journal_write(t) < 0) {
            link_end(t, "cannot keep the stream");
            return;
        }
        t->has_id = true;
    }
    xlog(LOG_LVL_INFO, "transfer to domain %u: the source (domain %u) is there; here %s, %llu "
         "of %llu bytes", t->domid, f->src_domid, phase_names[t->phase],
         (unsigned long long)t->received, (unsigned long long)t->length);
    send_state(t, wire_phase(t));
    if (t->phase == P_RECEIVING && t->received == t->length)
        begin_restore(t);
}

static void dest_data(struct transfer *t, const struct tw_frame *f)
{
    if (t->phase != P_RECEIVING || f->length != t->received ||
        f->data_len > t->length - t->received) {
        refuse(t, "stream bytes out of order%s", "");
        return;
    }
    if (write(t->stream_fd, f->data, f->data_len) != (ssize_t)f->data_len) {
        link_end(t, "cannot keep the stream");
        return;
    }
    t->received += f->data_len;
    if (t->received - t->acked_sent >= ACK_EVERY || t->received == t->length) {
        t->acked_sent = t->received;
        send_frame(t, &(struct tw_frame){ .type = TW_ACK, .length = t->received });
    }
    if (t->received == t->length)
        begin_restore(t);
}

/* The source has committed: serve D. */
static void dest_commit(struct transfer *t)
{
    if (t->phase == P_HELD) {
        uint64_t t0 = wall_us();
        t->phase = P_SERVING;
        if (journal_write(t) < 0) {
            t->phase = P_HELD;
            link_end(t, "cannot journal the commit");
            return;
        }
        unlink(t->stream_path);
        struct domain *d = domain_find(t->px, t->domid);
        if (d) {
            d->transfer_held = false;
            if (!d->restoring)
                d->quiesce = false;
            domain_pump(d);
        }
        report(t, "serving domain %u", t->domid);
        send_frame(t, &(struct tw_frame){ .type = TW_DONE, .held_us = wall_us() - t0 });
    } else if (t->phase == P_SERVING) {
        send_frame(t, &(struct tw_frame){ .type = TW_DONE });
    } else {
        refuse(t, "COMMIT before the domain was held here%s", "");
        return;
    }
    link_end(t, NULL);
}

static void dest_frame(struct transfer *t, const struct tw_frame *f)
{
    switch (f->type) {
    case TW_HELLO:
        dest_hello(t, f);
        return;
    case TW_DATA:
        dest_data(t, f);
        return;
    case TW_COMMIT:
        dest_commit(t);
        return;
    case TW_ABORT:
        if (t->phase == P_SERVING) {
            refuse(t, "ABORT after the commit%s", "");
            return;
        }
        report(t, "the source aborted: %.*s", (int)f->data_len, (const char *)f->data);
        dest_discard(t);
        link_end(t, NULL);
        transfer_free(t);
        return;
    default:
        refuse(t, "%s frame unexpected at the destination", tw_type_name(f->type));
    }
}

static void on_frame(struct transfer *t, const struct tw_frame *f)
{
    if (f->type == TW_ERROR) {
        char why[300];
        snprintf(why, sizeof(why), "the peer: %.*s", (int)f->data_len, (const char *)f->data);
        link_end(t, why);
        return;
    }
    if (f->type == TW_PING)
        return;
    if (f->type == TW_REPORT) {
        refuse(t, "%s frame from the peer", "REPORT");
        return;
    }
    if (t->sender)
        source_frame(t, f);
    else
        dest_frame(t, f);
}

/* ---- the list, the commands ------------------------------------------------ */

static struct transfer *find(const struct proxy *px, uint32_t domid, int sender)
{
    for (struct transfer *t = px->transfers; t; t = t->next)
        if (t->domid == domid && (sender < 0 || t->sender == (sender == 1)))
            return t;
    return NULL;
}

static struct transfer *transfer_new(struct proxy *px, uint32_t domid, bool sender)
{
    struct transfer *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->px = px;
    t->domid = domid;
    t->sender = sender;
    t->stream_fd = -1;
    paths(t);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/transfer", px->cfg.run_dir);
    mkdir(dir, 0700);
    ev_timer_init(&t->quiesce_timer, quiesce_check, 0.001, 0.001);
    t->quiesce_timer.data = t;
    ev_timer_init(&t->reap, reap_cb, 0.05, 0);
    t->reap.data = t;
    t->next = px->transfers;
    px->transfers = t;
    return t;
}

static void release(struct transfer *t)
{
    ev_timer_stop(t->px->loop, &t->quiesce_timer);
    ev_timer_stop(t->px->loop, &t->reap);
    if (t->job)
        t->job->owner = NULL;   /* it discards itself when done */
    if (t->link && bq_pending(&t->link->out)) {
        /* what fits now: the last report for xsproxyctl */
        if (write(t->link->fd, bq_head(&t->link->out), bq_pending(&t->link->out)) < 0) {
        }
    }
    link_close(t);
    if (t->stream_fd >= 0)
        close(t->stream_fd);
    free(t->stream);
    free(t);
}

static void reap_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    release(w->data);
}

/* Out of the list now; freed once the callback that ended it returns (it
 * may still look at T), after the last report is written if it can be. */
static void transfer_free(struct transfer *t)
{
    for (struct transfer **p = &t->px->transfers; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            break;
        }
    t->gone = true;
    ev_timer_stop(t->px->loop, &t->quiesce_timer);
    if (t->link)
        ev_io_stop(t->px->loop, &t->link->rd);
    ev_timer_start(t->px->loop, &t->reap);
}

static void reply_fmt(struct msg *reply, const struct msg *req, int err, const char *fmt, ...)
{
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (err) {
        xlog(LOG_LVL_WARN, "%s", text);
        msg_build_error(reply, &req->hdr, msg_errno_name(err));
    } else {
        msg_build(reply, req->hdr.type, req->hdr.req_id, req->hdr.tx_id, text,
                  (uint32_t)strlen(text) + 1);
    }
}

static int start_send(struct proxy *px, uint32_t domid, bool resume, struct transfer **out,
                      char *err, size_t errlen)
{
    /* --resume with nothing here is a start, as on the destination: no
     * journal means nothing was sent (an xsproxy killed as it began) */
    struct transfer *t = find(px, domid, 1);
    if (t && !resume && t->phase == P_SENT && domain_find(px, domid)) {
        journal_remove(t);   /* a new domain of that id, sent again */
        transfer_free(t);
        return start_send(px, domid, false, out, err, errlen);
    } else if (t && !resume) {
        snprintf(err, errlen, "a transfer of domain %u is %s: send --resume", domid,
                 phase_names[t->phase]);
        return EEXIST;
    } else if (!t) {
        struct domain *d = domain_find(px, domid);
        if (!d || d->transfer_held) {
            snprintf(err, errlen, "domain %u is not %s", domid, d ? "runnable here" : "inserted");
            return ENOENT;
        }
        if (job_busy(px, domid, err, errlen))
            return EBUSY;
        if (!(t = transfer_new(px, domid, true)))
            return ENOMEM;
        d->quiesce = true;
        t->quiesced_at_us = wall_us();
        domain_pump(d);
        ev_timer_start(px->loop, &t->quiesce_timer);
    }
    if (t->link) {
        snprintf(err, errlen, "the transfer of domain %u has a link already", domid);
        return EBUSY;
    }
    *out = t;
    return 0;
}

static int start_receive(struct proxy *px, uint32_t domid, uint32_t from, bool resume,
                         struct transfer **out, char *err, size_t errlen)
{
    /* --resume with nothing here is a start: what the source says in its
     * HELLO decides (a destination journals nothing before it) */
    struct transfer *t = find(px, domid, 0);
    if (!resume && t && t->phase >= P_RESTORING) {
        snprintf(err, errlen, "a transfer to domain %u is %s: receive --resume", domid,
                 phase_names[t->phase]);
        return EEXIST;
    }
    if (!t) {
        if (domain_find(px, domid)) {
            snprintf(err, errlen, "domain %u is inserted here already", domid);
            return EEXIST;
        }
        if (!(t = transfer_new(px, domid, false)))
            return ENOMEM;
        t->phase = P_WAITING;
        t->peer_domid = from;
    }
    if (t->link) {
        snprintf(err, errlen, "the transfer to domain %u has a link already", domid);
        return EBUSY;
    }
    *out = t;
    return 0;
}

static size_t describe(const struct transfer *t, char *buf, size_t len)
{
    int n;
    if (t->sender)
        n = snprintf(buf, len, "domain %u: sent to another host, %s; stream %llu bytes, %llu "
                     "acknowledged", t->domid, phase_names[t->phase],
                     (unsigned long long)t->length, (unsigned long long)t->acked);
    else
        n = snprintf(buf, len, "domain %u: received from domain %u on another host, %s; "
                     "stream %llu bytes, %llu received", t->domid, t->peer_domid,
                     phase_names[t->phase], (unsigned long long)t->length,
                     (unsigned long long)t->received);
    if (n > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, "; link %s%s%s\n", t->link ? "up" : "down",
                      t->note[0] ? ": " : "", t->note);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

size_t transfer_describe_all(const struct proxy *px, char *buf, size_t len)
{
    size_t off = 0;
    for (const struct transfer *t = px->transfers; t && off + 1 < len; t = t->next)
        off += describe(t, buf + off, len - off);
    return off;
}

static int abort_transfer(struct proxy *px, uint32_t domid, bool force, char *text, size_t len)
{
    struct transfer *t = find(px, domid, -1);
    if (!t) {
        snprintf(text, len, "no transfer of domain %u", domid);
        return ENOENT;
    }
    if (t->sender) {
        if (t->phase >= P_COMMITTED) {
            snprintf(text, len, "domain %u was committed to the destination: it cannot come "
                     "back", domid);
            return EPERM;
        }
        send_text(t, TW_ABORT, "the source's toolstack aborted");
        snprintf(text, len, "transfer of domain %u aborted: it runs here\n", domid);
        source_abort(t, "the toolstack aborted");
        return 0;
    }
    if (t->phase == P_SERVING) {
        snprintf(text, len, "domain %u is served here: the transfer is over", domid);
        return EPERM;
    }
    if (t->phase == P_HELD && !force) {
        /* HELD may have reached the source, which may have committed */
        snprintf(text, len, "domain %u is held here and the source may have committed: "
                 "resume the transfer to learn the outcome, or abort on the source first and "
                 "then here with force", domid);
        return EBUSY;
    }
    send_text(t, TW_ABORT, "the destination's toolstack aborted");
    dest_discard(t);
    link_end(t, NULL);
    transfer_free(t);
    snprintf(text, len, "transfer to domain %u aborted: nothing of it here\n", domid);
    return 0;
}

void transfer_command(struct proxy *px, const char *const *args, unsigned n,
                      const struct msg *req, struct msg *reply, struct wait_for *wait)
{
    uint32_t domid = 0, from = 0;
    char text[600] = "";
    if (n < 2 || !msg_parse_u32(args[1], &domid) || domid == 0 ||
        domid >= DOMID_FIRST_RESERVED) {
        reply_fmt(reply, req, EINVAL, "transfer: say send|receive|status|abort DOMID");
        return;
    }
    bool resume = n > 2 && strcmp(args[n - 1], "resume") == 0;
    struct transfer *t = NULL;
    int rc;
    if (strcmp(args[0], "send") == 0) {
        rc = start_send(px, domid, resume, &t, text, sizeof(text));
    } else if (strcmp(args[0], "receive") == 0) {
        if (n > 2u + (unsigned)resume && !msg_parse_u32(args[2], &from)) {
            reply_fmt(reply, req, EINVAL, "transfer receive: a source domain id, not %s", args[2]);
            return;
        }
        rc = start_receive(px, domid, from, resume, &t, text, sizeof(text));
    } else if (strcmp(args[0], "status") == 0) {
        if ((t = find(px, domid, -1)))
            describe(t, text, sizeof(text));
        else
            snprintf(text, sizeof(text), "no transfer of domain %u", domid);
        reply_fmt(reply, req, t ? 0 : ENOENT, "%s", text);
        return;
    } else if (strcmp(args[0], "abort") == 0) {
        rc = abort_transfer(px, domid, n > 2 && strcmp(args[2], "force") == 0, text,
                            sizeof(text));
        reply_fmt(reply, req, rc, "%s", text);
        return;
    } else {
        reply_fmt(reply, req, EINVAL, "transfer: no command %s", args[0]);
        return;
    }
    if (rc) {
        reply_fmt(reply, req, rc, "%s", text);
        return;
    }
    msg_build(reply, req->hdr.type, req->hdr.req_id, req->hdr.tx_id, "OK", 3);
    wait->kind = WAIT_LINK;
    wait->domid = domid;
    wait->transfer = t;
}


/* ---- start-up ----------------------------------------------------------- */

bool transfer_sent_away(const struct proxy *px, uint32_t domid)
{
    struct transfer t = { .px = (struct proxy *)px, .domid = domid, .sender = true };
    paths(&t);
    return journal_read(&t) == 0 && t.phase >= P_COMMITTED;
}

void transfer_hold_at_recovery(const struct proxy *px, struct domain *d)
{
    struct transfer s = { .px = (struct proxy *)px, .domid = d->domid, .sender = true };
    struct transfer r = { .px = (struct proxy *)px, .domid = d->domid, .sender = false };
    paths(&s);
    paths(&r);
    if (journal_read(&s) == 0 && s.phase < P_COMMITTED)
        d->quiesce = true;
    if (journal_read(&r) == 0)   /* served: the commit's release, which a crash may have cut */
        d->quiesce = d->transfer_held = r.phase != P_SERVING;
}

static void recover_one(struct proxy *px, uint32_t domid, bool sender)
{
    struct transfer *t = transfer_new(px, domid, sender);
    if (!t)
        return;
    if (journal_read(t) < 0) {
        xlog(LOG_LVL_ERROR, "transfer journal %s: %s (left in place)", t->state_path,
             strerror(errno));
        px->transfers = t->next;
        free(t);
        return;
    }
    size_t len = 0;
    char err[256];
    struct domain *d = domain_find(px, domid);
    if (sender && t->phase == P_SENDING &&
        migrate_read_file(t->stream_path, &t->stream, &len, err, sizeof(err)) == 0 &&
        len == t->length) {
        if (d)
            d->quiesce = true;
    } else if (sender && t->phase == P_SENDING) {
        free(t->stream);
        t->stream = NULL;
        xlog(LOG_LVL_ERROR, "transfer of domain %u: its stream is lost: aborted", domid);
        source_abort(t, "the stream was lost in a crash");
        return;
    }
    if (!sender) {
        struct stat st;
        t->received = stat(t->stream_path, &st) == 0 ? (uint64_t)st.st_size : 0;
        if (t->received > t->length)
            t->received = 0;
        t->acked_sent = t->received;
        if (t->phase == P_RECEIVING)
            t->stream_fd = open(t->stream_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (t->phase == P_RESTORING) {
            /* the restore was cut short: undo what it did - xenstored may
             * have the domain introduced on the old shadow ring, and would
             * take a second INTRODUCE as a no-op - and do it again when the
             * link is back (at start-up: a blocking RELEASE is fine here) */
            if (d)
                domain_remove(px, d);
            xs_release_domain(px->xs, domid);
            t->phase = P_RECEIVING;
            t->received = t->length;
        }
        if (t->phase == P_HELD && d) {
            d->transfer_held = true;
            d->quiesce = true;
        }
    }
    xlog(LOG_LVL_INFO, "transfer %s domain %u: %s, paused until the toolstack resumes it",
         sender ? "of" : "to", domid, phase_names[t->phase]);
}

void transfer_recover_all(struct proxy *px)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/transfer", px->cfg.run_dir);
    DIR *dh = opendir(dir);
    if (!dh)
        return;
    struct dirent *e;
    while ((e = readdir(dh))) {
        unsigned domid;
        char role[8];
        int used = 0;
        if (sscanf(e->d_name, "dom%u.%4[a-z]%n", &domid, role, &used) == 2 &&
            !e->d_name[used] && (strcmp(role, "send") == 0 || strcmp(role, "recv") == 0) &&
            domid > 0 && domid < DOMID_FIRST_RESERVED)
            recover_one(px, domid, role[0] == 's');
    }
    closedir(dh);
}

void transfer_free_all(struct proxy *px)
{
    while (px->transfers) {
        struct transfer *t = px->transfers;
        px->transfers = t->next;
        release(t);
    }
}
