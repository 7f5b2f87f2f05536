/*
 * transfer.c - a domain sent to, or received from, another host's xsproxy
 * (transfer.h): the list of transfers, the `transfer` commands, start-up
 * after a crash.  The two sides' state machines are transfer_source.c and
 * transfer_dest.c, their link transfer_link.c, their journals
 * transfer_journal.c.
 * The frames are transfer_wire.c's; the stream is the save's and the
 * restore's (save.c, restore.c), run as jobs.  Every step is an event: a
 * frame, a job's end, a timer; nothing here blocks the loop.  The journals
 * are written atomically (a new file renamed over the old) and, like the
 * domains' journals and the save's stream, not fsync'd: a sync would hold
 * the loop for the disk's time, they are there for a crash of xsproxy, and
 * a host that loses its power loses its guests with it.
 */
#define _GNU_SOURCE
#include "transfer_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
#include "migrate.h"

const char *const xfer_phase_names[P_END] = {
    [P_QUIESCING] = "quiescing", [P_SAVING] = "saving",     [P_SENDING] = "sending",
    [P_COMMITTED] = "committed", [P_SENT] = "sent",         [P_WAITING] = "waiting",
    [P_RECEIVING] = "receiving", [P_RESTORING] = "restoring", [P_HELD] = "held",
    [P_SERVING] = "serving",
};

/* J is done: its answer into *RC and TEXT, the job discarded.  Its
 * transfer, or NULL when that was given up meanwhile. */
struct transfer *xfer_job_ended(struct job *j, int *rc, char *text, size_t len)
{
    struct transfer *t = j->owner;
    *rc = j->rc;
    snprintf(text, len, "%s", j->text);
    job_discard(j);
    if (t)
        t->job = NULL;
    return t;
}

void xfer_on_frame(struct transfer *t, const struct tw_frame *f)
{
    if (f->type == TW_ERROR) {
        char why[300];
        snprintf(why, sizeof(why), "the peer: %.*s", (int)f->data_len, (const char *)f->data);
        xfer_link_end(t, why);
        return;
    }
    if (f->type == TW_PING)
        return;
    if (f->type == TW_REPORT) {
        xfer_refuse(t, "%s frame from the peer", "REPORT");
        return;
    }
    if (t->sender)
        xfer_source_frame(t, f);
    else
        xfer_dest_frame(t, f);
}


static void reap_cb(struct ev_loop *loop, ev_timer *w, int revents);

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
    xfer_paths(t);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/transfer", px->cfg.run_dir);
    mkdir(dir, 0700);
    ev_timer_init(&t->quiesce_timer, xfer_quiesce_check, 0.001, 0.001);
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
    xfer_link_close(t);
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
void transfer_free(struct transfer *t)
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
        xfer_journal_remove(t);   /* a new domain of that id, sent again */
        transfer_free(t);
        return start_send(px, domid, false, out, err, errlen);
    } else if (t && !resume) {
        snprintf(err, errlen, "a transfer of domain %u is %s: send --resume", domid,
                 xfer_phase_names[t->phase]);
        return EEXIST;
    } else if (!t) {
        struct domain *d = domain_find(px, domid);
        if (!d || d->rl.transfer_held) {
            snprintf(err, errlen, "domain %u is not %s", domid, d ? "runnable here" : "inserted");
            return ENOENT;
        }
        if (job_busy(px, domid, err, errlen))
            return EBUSY;
        if (!(t = transfer_new(px, domid, true)))
            return ENOMEM;
        d->rl.quiesce = true;
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
                 xfer_phase_names[t->phase]);
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
                     "acknowledged", t->domid, xfer_phase_names[t->phase],
                     (unsigned long long)t->length, (unsigned long long)t->acked);
    else
        n = snprintf(buf, len, "domain %u: received from domain %u on another host, %s; "
                     "stream %llu bytes, %llu received", t->domid, t->peer_domid,
                     xfer_phase_names[t->phase], (unsigned long long)t->length,
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
        xfer_send_text(t, TW_ABORT, "the source's toolstack aborted");
        snprintf(text, len, "transfer of domain %u aborted: it runs here\n", domid);
        xfer_source_abort(t, "the toolstack aborted");
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
    xfer_send_text(t, TW_ABORT, "the destination's toolstack aborted");
    xfer_dest_discard(t);
    xfer_link_end(t, NULL);
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



bool transfer_sent_away(const struct proxy *px, uint32_t domid)
{
    struct transfer t = { .px = (struct proxy *)px, .domid = domid, .sender = true };
    xfer_paths(&t);
    return xfer_journal_read(&t) == 0 && t.phase >= P_COMMITTED;
}

void transfer_hold_at_recovery(const struct proxy *px, struct domain *d)
{
    struct transfer s = { .px = (struct proxy *)px, .domid = d->domid, .sender = true };
    struct transfer r = { .px = (struct proxy *)px, .domid = d->domid, .sender = false };
    xfer_paths(&s);
    xfer_paths(&r);
    if (xfer_journal_read(&s) == 0 && s.phase < P_COMMITTED)
        d->rl.quiesce = true;
    if (xfer_journal_read(&r) == 0)   /* served: the commit's release, which a crash may have cut */
        d->rl.quiesce = d->rl.transfer_held = r.phase != P_SERVING;
}

static void recover_one(struct proxy *px, uint32_t domid, bool sender)
{
    struct transfer *t = transfer_new(px, domid, sender);
    if (!t)
        return;
    if (xfer_journal_read(t) < 0) {
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
            d->rl.quiesce = true;
    } else if (sender && t->phase == P_SENDING) {
        free(t->stream);
        t->stream = NULL;
        xlog(LOG_LVL_ERROR, "transfer of domain %u: its stream is lost: aborted", domid);
        xfer_source_abort(t, "the stream was lost in a crash");
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
            d->rl.transfer_held = true;
            d->rl.quiesce = true;
        }
    }
    xlog(LOG_LVL_INFO, "transfer %s domain %u: %s, paused until the toolstack resumes it",
         sender ? "of" : "to", domid, xfer_phase_names[t->phase]);
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
