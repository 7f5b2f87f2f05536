/*
 * stream_track.h - following one direction of a xenstore ring message by
 * message, from outside the two ends.
 *
 * The shim inside xenstored may switch a domain to xsproxy's shadow ring
 * only where it knows the state of both streams, or xsproxy would start
 * reading in the middle of a message it cannot parse.  Looking back from an
 * index cannot tell that for sure (a payload can look like a header), so
 * the shim follows each stream forward from a known start as its bytes
 * appear, and knows exactly where every message begins and ends.  Pure: the
 * caller passes the ring's bytes and index.
 */
#ifndef XSSHIM_STREAM_TRACK_H
#define XSSHIM_STREAM_TRACK_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

struct stream_track {
    XENSTORE_RING_IDX pos;   /* bytes before pos are followed */
    XENSTORE_RING_IDX msg_start;   /* where the current message began */
    uint32_t body_left;      /* payload bytes of the current message to come */
    uint8_t hdr_got;         /* header bytes of the current message seen */
    uint8_t hdr[sizeof(struct xsd_sockmsg)];   /* the current message's header
                                                  (its first hdr_got bytes
                                                  while incomplete) */
    bool synced;             /* pos is known to be where it says */
};

/* Told of each message as the track follows it: once its header is whole
 * (WHOLE false), and once its last byte went by (WHOLE true; both at once
 * for an empty payload).  START is where its header began. */
typedef void stream_track_fn(void *ctx, const struct xsd_sockmsg *hdr, XENSTORE_RING_IDX start,
                             bool whole);

/* Does the stream in BUF end at PROD with a whole message, judged from the
 * bytes before PROD alone?  A guess: a payload may look like a header. */
bool stream_looks_whole(const char *buf, XENSTORE_RING_IDX prod);

/* Start following at START (where the stream is taken to be between
 * messages when KNOWN, else only if the bytes there look so). */
void stream_track_start(struct stream_track *s, const char *buf, XENSTORE_RING_IDX start,
                        bool known);

/* Follow the bytes written up to PROD, telling FN (if not NULL) of each
 * message.  More than a ring's worth since the last call means some were
 * overwritten unseen: the track is lost and starts again at the next index
 * that looks like a message's end. */
void stream_track_feed(struct stream_track *s, const char *buf, XENSTORE_RING_IDX prod,
                       stream_track_fn *fn, void *ctx);

/* Is PROD the end of a whole message?  Exact while the track holds; a
 * guess (stream_looks_whole) when it was lost. */
bool stream_track_between(const struct stream_track *s, const char *buf, XENSTORE_RING_IDX prod);

/* Bytes of the current message before pos (0: between messages).  Only
 * meaningful while synced. */
uint32_t stream_track_partial(const struct stream_track *s);

#endif
