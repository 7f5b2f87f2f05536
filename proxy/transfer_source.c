/*
 * transfer_source.c - the source's side: quiesce the domain, save it (a
 * job), say HELLO, send the stream, and on HELD journal the commit and
 * remove the domain for good; an abort before the commit resumes it here.
 */
#define _GNU_SOURCE
#include "transfer_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "job.h"
#include "migrate.h"

/* The commit: from here on D is the destination's. */
static void commit(struct transfer *t)
{
    if (t->phase == P_SENDING) {
        t->phase = P_COMMITTED;
        if (xfer_journal_write(t) < 0) {
            t->phase = P_SENDING;
            xfer_link_end(t, "cannot journal the commit");
            return;
        }
        struct domain *d = domain_find(t->px, t->domid);
        if (d)
            domain_remove(t->px, d);   /* nothing of it relayed again */
        free(t->stream);
        t->stream = NULL;
        unlink(t->stream_path);
        xfer_report(t, "committed: domain %u is the destination's now", t->domid);
    }
    xfer_send_frame(t, &(struct tw_frame){ .type = TW_COMMIT });
}

/* The source gives up before its commit: D runs here again. */
void xfer_source_abort(struct transfer *t, const char *why)
{
    struct domain *d = domain_find(t->px, t->domid);
    if (d) {
        d->rl.quiesce = false;
        domain_pump(d);
    }
    xfer_report(t, "aborted, domain %u runs here: %s", t->domid, why);
    xfer_journal_remove(t);
    xfer_link_end(t, NULL);
    transfer_free(t);
}

static void source_state(struct transfer *t, const struct tw_frame *f)
{
    if (f->phase != TW_PHASE_NONE && memcmp(f->id, t->id, TW_ID_LEN) != 0) {
        xfer_refuse(t, "the destination answers for another transfer%s", "");
        return;
    }
    bool committed = t->phase != P_SENDING;
    t->peer_said = true;
    switch (f->phase) {
    case TW_PHASE_NONE:
    case TW_PHASE_RECEIVING:
        if (committed) {
            xfer_refuse(t, "the destination has lost a transfer the source committed%s", "");
            return;
        }
        if (f->length > t->length) {
            xfer_refuse(t, "the destination holds more than the stream%s", "");
            return;
        }
        t->sent = t->acked = f->length;
        xfer_report(t, "sending from byte %llu of %llu", (unsigned long long)t->sent,
               (unsigned long long)t->length);
        xfer_pump_data(t);
        return;
    case TW_PHASE_RESTORING:
        return;   /* HELD comes */
    case TW_PHASE_HELD:
        commit(t);
        return;
    case TW_PHASE_SERVING:
        if (!committed)
            xfer_refuse(t, "the destination serves a domain the source has not committed%s", "");
        else
            commit(t);   /* its DONE was lost: COMMIT again asks for it */
        return;
    case TW_PHASE_ABORTED:
        if (committed)
            xfer_refuse(t, "the destination aborted a committed transfer%s", "");
        else
            xfer_source_abort(t, "the destination aborted");
        return;
    }
}

void xfer_source_frame(struct transfer *t, const struct tw_frame *f)
{
    switch (f->type) {
    case TW_STATE:
        source_state(t, f);
        return;
    case TW_ACK:
        if (t->phase != P_SENDING || f->length <= t->acked || f->length > t->sent) {
            xfer_refuse(t, "an acknowledgement out of order (%s)", "not after the last, or past "
                                                             "what was sent");
            return;
        }
        t->acked = f->length;
        xfer_report(t, "progress %llu/%llu bytes", (unsigned long long)t->acked,
               (unsigned long long)t->length);
        xfer_pump_data(t);
        return;
    case TW_HELD:
        if (t->phase == P_SENDING && t->acked != t->length) {
            xfer_refuse(t, "HELD before the whole stream was acknowledged%s", "");
            return;
        }
        commit(t);
        return;
    case TW_DONE:
        if (t->phase != P_COMMITTED && t->phase != P_SENT) {
            xfer_refuse(t, "DONE before the commit%s", "");
            return;
        }
        if (t->phase == P_COMMITTED) {
            t->phase = P_SENT;
            xfer_journal_write(t);
        }
        xfer_report(t, "done: domain %u held %.1f ms, from QUIESCE to the destination serving it",
               t->domid, (double)(wall_us() - t->quiesced_at_us) / 1000.0);
        xfer_link_end(t, NULL);
        return;
    case TW_ABORT:
        if (t->phase == P_SENDING)
            xfer_source_abort(t, "the destination aborted");
        else
            xfer_refuse(t, "ABORT after the commit%s", "");
        return;
    default:
        xfer_refuse(t, "%s frame unexpected at the source", tw_type_name(f->type));
    }
}

static void saved(struct job *j)
{
    int rc;
    char text[sizeof(j->text)];
    struct transfer *t = xfer_job_ended(j, &rc, text, sizeof(text));
    if (!t)
        return;
    size_t len = 0;
    char err[256];
    if (rc || migrate_read_file(t->stream_path, &t->stream, &len, err, sizeof(err)) < 0) {
        xfer_source_abort(t, rc ? text : err);
        return;
    }
    t->length = len;
    t->crc = tw_crc32(0, t->stream, len);
    t->phase = P_SENDING;
    if (getrandom(t->id, TW_ID_LEN, 0) != TW_ID_LEN || xfer_journal_write(t) < 0) {
        xfer_source_abort(t, "cannot journal the transfer");
        return;
    }
    t->has_id = true;
    xfer_report(t, "saved: %llu bytes", (unsigned long long)t->length);
    struct tw_frame f = { .type = TW_HELLO, .src_domid = t->domid, .dst_domid = t->peer_domid,
                          .length = t->length, .crc = t->crc };
    memcpy(f.id, t->id, TW_ID_LEN);
    xfer_send_frame(t, &f);
}

void xfer_quiesce_check(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct transfer *t = w->data;
    struct domain *d = domain_find(t->px, t->domid);
    if (!d) {
        ev_timer_stop(loop, w);
        xfer_source_abort(t, "the domain went");
        return;
    }
    if (!domain_is_quiesced(d))
        return;
    ev_timer_stop(loop, w);
    t->phase = P_SAVING;
    char err[512];
    int rc = migrate_save(t->px, d, t->stream_path, &t->job, err, sizeof(err));
    if (rc) {
        xfer_source_abort(t, err);
        return;
    }
    t->job->on_done = saved;
    t->job->owner = t;
}
