/*
 * stream_track.h - following one direction of a xenstore ring message by
 * message, from outside the two ends.
 *
 * The shim inside xenstored may switch a domain to xsproxy's shadow ring
 * only between messages, or xsproxy would start reading in the middle of
 * one.  Looking back from an index cannot tell that for sure (a payload can
 * look like a header), so the shim follows each stream forward from a known
 * start as its bytes appear, and knows exactly where every message ends.
 * Pure: the caller passes the ring's bytes and index.
 */
#ifndef XSSIM_STREAM_TRACK_H
#define XSSIM_STREAM_TRACK_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

struct stream_track {
    XENSTORE_RING_IDX pos;   /* bytes before pos are followed */
    uint32_t body_left;      /* payload bytes of the current message to come */
    uint8_t hdr_got;         /* header bytes of the current message seen */
    uint8_t hdr[sizeof(struct xsd_sockmsg)];
    bool synced;             /* pos is known to be where it says */
};

/* Does the stream in BUF end at PROD with a whole message, judged from the
 * bytes before PROD alone?  A guess: a payload may look like a header. */
bool stream_looks_whole(const char *buf, XENSTORE_RING_IDX prod);

/* Start following at START (where the stream is taken to be between
 * messages when KNOWN, else only if the bytes there look so). */
void stream_track_start(struct stream_track *s, const char *buf, XENSTORE_RING_IDX start,
                        bool known);

/* Follow the bytes written up to PROD.  More than a ring's worth since the
 * last call means some were overwritten unseen: the track is lost and
 * starts again at the next index that looks like a message's end. */
void stream_track_feed(struct stream_track *s, const char *buf, XENSTORE_RING_IDX prod);

/* Is PROD the end of a whole message?  Exact while the track holds; a
 * guess (stream_looks_whole) when it was lost. */
bool stream_track_between(const struct stream_track *s, const char *buf, XENSTORE_RING_IDX prod);

#endif
