/*
 * transfer_dest.c - the destination's side: keep the stream as it comes
 * (acknowledged every ACK_EVERY bytes), restore the domain held once it is
 * whole and its CRC holds (a job), say HELD, and on COMMIT journal SERVING
 * and serve the domain's ring.
 */
#define _GNU_SOURCE
#include "transfer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job.h"
#include "migrate.h"

static void send_state(struct transfer *t, enum tw_phase phase)
{
    struct tw_frame f = { .type = TW_STATE, .dst_domid = t->domid, .phase = phase,
                          .length = t->received };
    memcpy(f.id, t->id, TW_ID_LEN);
    xfer_send_frame(t, &f);
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
void xfer_dest_discard(struct transfer *t)
{
    struct domain *d = domain_find(t->px, t->domid);
    if (d && (t->phase == P_HELD || t->phase == P_RESTORING)) {
        domain_remove(t->px, d);
        xs_release_domain(t->px->xs, t->domid);
    }
    if (t->stream_fd >= 0)
        close(t->stream_fd);
    t->stream_fd = -1;
    xfer_journal_remove(t);
}

static void restored(struct job *j)
{
    int rc;
    char text[sizeof(j->text)];
    struct transfer *t = xfer_job_ended(j, &rc, text, sizeof(text));
    if (!t)
        return;
    if (rc) {
        xfer_report(t, "cannot restore: %s", text);
        xfer_send_text(t, TW_ABORT, "the destination cannot restore: %s", text);
        xfer_dest_discard(t);
        xfer_link_end(t, NULL);
        transfer_free(t);
        return;
    }
    t->phase = P_HELD;
    if (xfer_journal_write(t) < 0) {
        xfer_link_end(t, "cannot journal HELD");
        return;
    }
    xfer_report(t, "restored and held");
    xfer_send_frame(t, &(struct tw_frame){ .type = TW_HELD });
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
        xfer_refuse(t, "the stream received fails its CRC: it is asked again%s", "");
        return;
    }
    free(buf);
    t->phase = P_RESTORING;
    xfer_journal_write(t);
    int rc = migrate_restore(t->px, t->domid, t->stream_path, t->peer_domid, true, &t->job, err,
                             sizeof(err));
    if (rc) {
        t->phase = P_RECEIVING;
        xfer_journal_write(t);
        xfer_refuse(t, "cannot restore: %s", err);
        return;
    }
    t->job->on_done = restored;
    t->job->owner = t;
}

static void dest_hello(struct transfer *t, const struct tw_frame *f)
{
    if (t->has_id && memcmp(f->id, t->id, TW_ID_LEN) != 0) {
        if (t->phase >= P_RESTORING) {
            xfer_refuse(t, "another transfer of this domain is %s here", xfer_phase_names[t->phase]);
            return;
        }
        xfer_dest_discard(t);   /* a new attempt of the source's */
        t->has_id = false;
    }
    if (!t->has_id) {
        if (f->length > STREAM_MAX) {
            xfer_refuse(t, "a stream of %s bytes is more than this side takes", "too many");
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
        if (t->stream_fd < 0 || xfer_journal_write(t) < 0) {
            xfer_link_end(t, "cannot keep the stream");
            return;
        }
        t->has_id = true;
    }
    xlog(LOG_LVL_INFO, "transfer to domain %u: the source (domain %u) is there; here %s, %llu "
         "of %llu bytes", t->domid, f->src_domid, xfer_phase_names[t->phase],
         (unsigned long long)t->received, (unsigned long long)t->length);
    send_state(t, wire_phase(t));
    if (t->phase == P_RECEIVING && t->received == t->length)
        begin_restore(t);
}

static void dest_data(struct transfer *t, const struct tw_frame *f)
{
    if (t->phase != P_RECEIVING || f->length != t->received ||
        f->data_len > t->length - t->received) {
        xfer_refuse(t, "stream bytes out of order%s", "");
        return;
    }
    if (write(t->stream_fd, f->data, f->data_len) != (ssize_t)f->data_len) {
        xfer_link_end(t, "cannot keep the stream");
        return;
    }
    t->received += f->data_len;
    if (t->received - t->acked_sent >= ACK_EVERY || t->received == t->length) {
        t->acked_sent = t->received;
        xfer_send_frame(t, &(struct tw_frame){ .type = TW_ACK, .length = t->received });
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
        if (xfer_journal_write(t) < 0) {
            t->phase = P_HELD;
            xfer_link_end(t, "cannot journal the commit");
            return;
        }
        unlink(t->stream_path);
        struct domain *d = domain_find(t->px, t->domid);
        if (d) {
            d->rl.transfer_held = false;
            if (!d->rl.restoring)
                d->rl.quiesce = false;
            domain_pump(d);
        }
        xfer_report(t, "serving domain %u", t->domid);
        xfer_send_frame(t, &(struct tw_frame){ .type = TW_DONE, .held_us = wall_us() - t0 });
    } else if (t->phase == P_SERVING) {
        xfer_send_frame(t, &(struct tw_frame){ .type = TW_DONE });
    } else {
        xfer_refuse(t, "COMMIT before the domain was held here%s", "");
        return;
    }
    xfer_link_end(t, NULL);
}

void xfer_dest_frame(struct transfer *t, const struct tw_frame *f)
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
            xfer_refuse(t, "ABORT after the commit%s", "");
            return;
        }
        xfer_report(t, "the source aborted: %.*s", (int)f->data_len, (const char *)f->data);
        xfer_dest_discard(t);
        xfer_link_end(t, NULL);
        transfer_free(t);
        return;
    default:
        xfer_refuse(t, "%s frame unexpected at the destination", tw_type_name(f->type));
    }
}
