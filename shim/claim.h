/*
 * claim.h - the live-switch protocol between xsproxy and libxsshim.so inside
 * xenstored: the claim xsproxy writes for a domain, the shim's wake-up
 * port, and the answer the shim writes back.  One module for both sides,
 * so that neither keeps a parser of its own.
 *
 * All files are in the claims directory (xsproxy's RUN-DIR/claims, the
 * shim's $XSSHIM_CLAIMS):
 *   <domid>        the claim: "page=<shadow page file>\nport=<dom0 port>\n",
 *                  plus "live=1" (switch in) or "live=back" (switch back);
 *                  written atomically (.tmp + rename).  Without live= it
 *                  is an INTRODUCE-time claim: mapping the domain's ring
 *                  maps the shadow page, binding its channel binds the port.
 *   <domid>.state  the shim's answer (switch_answer below), replaced
 *                  atomically.
 *   .wake          "port=<n>\npid=<pid>\n": the shim's wake-up port, an event
 *                  channel in xenstored's own handle open to dom0.  The
 *                  requester binds to it and notifies it after asking for a
 *                  switch; the shim notifies it back once its answers are
 *                  written.  Written by each xenstored as it starts.
 *   .asked         a page both map: its first word counts the switches
 *                  asked for.  The requester adds one after writing a claim
 *                  and before notifying; the shim looks at it on each of
 *                  xenstored's xenevtchn_pending calls, so that a switch
 *                  waits for xenstored's next pass through its loop, not
 *                  for the wake-up port's turn among the ports pending
 *                  (xenstored takes one per pass: behind a hundred busy
 *                  domains on a slow daemon that was over a second).
 *
 * The formats are pure functions (unit-tested and fuzzed); the file helpers
 * do plain file I/O and nothing else.
 */
#ifndef XSSHIM_CLAIM_H
#define XSSHIM_CLAIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLAIM_PATH_MAX 4096   /* PATH_MAX on Linux */

enum claim_live { CLAIM_LIVE_NONE, CLAIM_LIVE_IN, CLAIM_LIVE_BACK, CLAIM_LIVE_BAD };

struct claim {
    char page[CLAIM_PATH_MAX];   /* "" when the claim has no usable page= line */
    uint32_t port;         /* 0 when it has no usable port= line */
    enum claim_live live;
    bool bad_port;         /* a port= line that is not a port number */
};

/* The claim's text into BUF; its length, or -1 when it does not fit. */
int claim_format(const struct claim *c, char *buf, size_t len);
/* Parse a claim's text (NUL-terminated).  Never fails: what is missing or
 * malformed shows in the fields. */
void claim_parse(const char *text, struct claim *c);

/* DIR/<domid><SUFFIX> into BUF.  0, or -1 with errno ENAMETOOLONG. */
int claim_path(const char *dir, uint32_t domid, const char *suffix, char *buf, size_t len);
/* Write DOMID's claim atomically.  0, or -1 + errno. */
int claim_write(const char *dir, uint32_t domid, const struct claim *c);
/* Read DOMID's claim.  0, or -1 + errno (ENOENT: none). */
int claim_read(const char *dir, uint32_t domid, struct claim *c);
/* Ask for a switch of DOMID: remove its answer (so that the next one is the
 * answer to this request).  The claim must exist (ENOENT).  Then the
 * requester notifies the wake-up port.  0, or -1 + errno. */
int claim_request_switch(const char *dir, uint32_t domid);

/* The wake-up port's file.  0, or -1 + errno (ENOENT: no shim has written
 * one; EBADMSG: not in that form). */
int wake_write(const char *dir, uint32_t port, int pid);
int wake_read(const char *dir, uint32_t *port, int *pid);

/* DIR/.asked mapped (made if missing), or NULL + errno.  The word is only
 * read and added to atomically. */
uint32_t *asked_map(const char *dir);
/* Tell the shim a switch is asked for: *ASKED + 1, ordered after the
 * claim's writes. */
void asked_bump(uint32_t *asked);

/* ---- the shim's answer --------------------------------------------------
 *
 * "shadow" says where the guest's ring and the shadow ring stood at the
 * switch (the shadow page is a copy of the guest's page at that moment):
 *   req_prod    request bytes before it are on the shadow, the daemon's to
 *               read from req_cons; what the guest writes after it is the
 *               requester's to pass on;
 *   req_part    the request the guest was writing has its first req_part
 *               bytes before req_prod (on the shadow already, all at or
 *               after req_cons): the requester reads the rest from the
 *               guest and finishes it on the shadow;
 *   rsp_prod    reply bytes before it are on the guest's ring; what the
 *               daemon writes after it comes on the shadow;
 *   rsp_part    the reply or event the daemon was writing has its first
 *               rsp_part bytes on the guest's ring already; rsp_prefix is
 *               those bytes (all of them up to a ring's worth, else its
 *               header alone);
 *   pending     the requests the daemon has taken or has yet to take from
 *               the shadow, and not answered, oldest first: header fields
 *               and where each began in the request stream (those at or
 *               after req_cons are on the shadow page, whole);
 *   port        the daemon's end of the shadow channel;
 *   guessed     the shim had lost the streams' track (a ring with history):
 *               the switch was judged by the look of the bytes, and what is
 *               pending is not known.
 * A bare "shadow" or "direct" answers a request for what already was so.
 */
enum switch_kind { SWITCH_SHADOW = 1, SWITCH_DIRECT, SWITCH_BUSY, SWITCH_ERROR };

struct switch_pending {
    uint32_t type, req_id, tx_id, len;
    uint32_t start;
};

#define SWITCH_PENDING_MAX 256u
#define SWITCH_PREFIX_MAX XENSTORE_RING_SIZE

struct switch_answer {
    enum switch_kind kind;
    char reason[256];            /* busy, error */
    uint32_t req_prod, rsp_prod, port, req_cons;
    uint32_t req_part, rsp_part;
    uint32_t rsp_prefix_len;
    uint8_t rsp_prefix[SWITCH_PREFIX_MAX];
    bool guessed;
    bool already;                /* shadow or direct before this request:
                                    nothing moved now (no positions) */
    unsigned nr_pending;
    struct switch_pending pending[SWITCH_PENDING_MAX];
};

/* Room enough for any answer's text. */
#define SWITCH_ANSWER_TEXT_MAX (512u + 2u * SWITCH_PREFIX_MAX + 64u * SWITCH_PENDING_MAX)

/* A's text into BUF (SWITCH_ANSWER_TEXT_MAX is enough); its length, or -1
 * when it does not fit. */
int switch_answer_format(const struct switch_answer *a, char *buf, size_t len);
/* Parse an answer's text (NUL-terminated).  0, or -1 with why in ERR when
 * it is not an answer. */
int switch_answer_parse(const char *text, struct switch_answer *a, char *err, size_t errlen);
/* Write DOMID's answer atomically.  0, or -1 + errno. */
int switch_answer_write(const char *dir, uint32_t domid, const struct switch_answer *a);
/* DOMID's answer: 1 and *A, 0 when there is none yet, -1 + errno (EBADMSG:
 * not an answer). */
int switch_answer_read(const char *dir, uint32_t domid, struct switch_answer *a);

#ifdef __cplusplus
}
#endif
#endif
