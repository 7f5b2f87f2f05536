/*
 * msg.h - xenstore messages as bytes: reading one incrementally from a
 * stream, splitting a payload into its NUL-separated parts, building
 * replies.  Pure: no I/O, so the relay's parser can be unit-tested and
 * fuzzed on its own.
 */
#ifndef XSPROXY_MSG_H
#define XSPROXY_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

#define MSG_HDR_LEN ((uint32_t)sizeof(struct xsd_sockmsg))
#define MSG_MAX_LEN (MSG_HDR_LEN + XENSTORE_PAYLOAD_MAX)

/* One message, header and payload contiguous (as on the wire), with a NUL
 * after the payload so string payloads can be used directly. */
struct msg {
    union {
        struct xsd_sockmsg hdr;
        uint8_t bytes[MSG_MAX_LEN + 1];
    };
    uint32_t got;   /* bytes of it read so far */
};

enum msg_feed { MSGF_MORE = 0, MSGF_DONE = 1, MSGF_BAD_LEN = -1 };

static inline uint8_t *msg_body(struct msg *m) { return m->bytes + MSG_HDR_LEN; }
static inline uint32_t msg_wire_len(const struct msg *m) { return MSG_HDR_LEN + m->hdr.len; }

/* How many more bytes M needs: header first, then the payload it names.
 * 0 when complete.  A header with len > XENSTORE_PAYLOAD_MAX is bad. */
uint32_t msg_wanted(const struct msg *m);
/* Take up to LEN bytes from DATA (never past the message's end); *USED
 * says how many.  MSGF_DONE when the message is whole. */
enum msg_feed msg_feed(struct msg *m, const void *data, uint32_t len, uint32_t *used);
void msg_reset(struct msg *m);

/* Split a payload into NUL-terminated parts (a trailing part without a NUL
 * counts too).  Returns how many were found, at most MAX. */
unsigned msg_split(const uint8_t *body, uint32_t len, const char **parts, unsigned max);

/* Build a whole message in M. */
void msg_build(struct msg *m, uint32_t type, uint32_t req_id, uint32_t tx_id,
               const void *body, uint32_t len);
/* An XS_ERROR reply "E<NAME>\0" answering REQ. */
void msg_build_error(struct msg *m, const struct xsd_sockmsg *req, const char *name);

/* "EACCES" for EACCES, as xenstored spells errors on the wire (EIO for
 * anything it has no name for). */
const char *msg_errno_name(int err);
/* The reverse: EIO for a name it does not know. */
int msg_errno_value(const char *name);

/* "WRITE" for XS_WRITE, "QUIESCE" for XSP_QUIESCE, else "TYPE_<n>" in BUF. */
const char *msg_type_name(uint32_t type, char *buf, size_t len);
/* The reverse, any case; also "TYPE_<n>" and plain numbers. */
bool msg_type_parse(const char *name, uint32_t *type);

/* Parse an unsigned decimal that fills the whole string. */
bool msg_parse_u32(const char *s, uint32_t *out);

#endif
