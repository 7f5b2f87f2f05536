/*
 * transfer_int.h - what the transfer's files share (transfer.h is the rest
 * of xsproxy's view): a transfer's state and the functions one file of it
 * calls in another.  Not for use outside proxy/transfer*.c.
 */
#ifndef XSPROXY_TRANSFER_INT_H
#define XSPROXY_TRANSFER_INT_H

#include <stdint.h>
#include <time.h>

#include "transfer.h"
#include "transfer_wire.h"

#define WINDOW (1u << 20)        /* stream bytes sent and not acknowledged */
#define ACK_EVERY (64u << 10)    /* the destination acknowledges this often */
#define STREAM_MAX (256u << 20)  /* the largest stream a destination takes */

enum phase {
    /* source */
    P_QUIESCING, P_SAVING, P_SENDING, P_COMMITTED, P_SENT,
    /* destination */
    P_WAITING, P_RECEIVING, P_RESTORING, P_HELD, P_SERVING,
    P_END
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

extern const char *const xfer_phase_names[P_END];   /* by enum phase */

/* The wall clock in microseconds: hold times span two hosts' logs. */
static inline uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* transfer_journal.c: a side's journal (RUN-DIR/transfer/domD.send|recv) */
void xfer_paths(struct transfer *t);
/* T's phase and what goes with it, atomically. */
int xfer_journal_write(struct transfer *t);
int xfer_journal_read(struct transfer *t);
void xfer_journal_remove(struct transfer *t);

/* transfer_link.c: the link, frames in and out, PINGs */
void xfer_send_frame(struct transfer *t, const struct tw_frame *f);
void xfer_send_text(struct transfer *t, enum tw_type type, const char *fmt, ...);
/* A line for the operator, in the log and on xsproxyctl's terminal. */
void xfer_report(struct transfer *t, const char *fmt, ...);
/* The link ends once what is queued is written; the transfer pauses
 * where it stands, unless it is over. */
void xfer_link_end(struct transfer *t, const char *why);
/* A frame that makes no sense here: the peer is told, the link ends,
 * nothing changes. */
void xfer_refuse(struct transfer *t, const char *fmt, const char *what);
void xfer_link_close(struct transfer *t);
void xfer_pump_data(struct transfer *t);

/* transfer_source.c: the source's state machine */
/* The source gives up before its commit: D runs here again. */
void xfer_source_abort(struct transfer *t, const char *why);
void xfer_source_frame(struct transfer *t, const struct tw_frame *f);
void xfer_quiesce_check(struct ev_loop *loop, ev_timer *w, int revents);

/* transfer_dest.c: the destination's state machine */
/* The destination lets go of what it received (and restored: D is
 * removed and released; the toolstack destroys the domain itself). */
void xfer_dest_discard(struct transfer *t);
void xfer_dest_frame(struct transfer *t, const struct tw_frame *f);

/* transfer.c: the list, the commands, start-up */
/* J is done: its answer into *RC and TEXT, the job discarded.  Its
 * transfer, or NULL when that was given up meanwhile. */
struct transfer *xfer_job_ended(struct job *j, int *rc, char *text, size_t len);
void xfer_on_frame(struct transfer *t, const struct tw_frame *f);
/* Out of the list now; freed once the callback that ended it returns. */
void transfer_free(struct transfer *t);

#endif
