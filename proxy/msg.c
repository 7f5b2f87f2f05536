/*
 * msg.c - reading, splitting and building xenstore messages (see msg.h).
 */
#include "msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void msg_reset(struct msg *m)
{
    m->got = 0;
}

uint32_t msg_wanted(const struct msg *m)
{
    if (m->got < MSG_HDR_LEN)
        return MSG_HDR_LEN - m->got;
    if (m->hdr.len > XENSTORE_PAYLOAD_MAX)
        return 0;
    return MSG_HDR_LEN + m->hdr.len - m->got;
}

enum msg_feed msg_feed(struct msg *m, const void *data, uint32_t len, uint32_t *used)
{
    *used = 0;
    for (;;) {
        if (m->got >= MSG_HDR_LEN && m->hdr.len > XENSTORE_PAYLOAD_MAX)
            return MSGF_BAD_LEN;
        uint32_t want = msg_wanted(m);
        if (want == 0) {
            m->bytes[m->got] = 0;
            return MSGF_DONE;
        }
        uint32_t n = len - *used < want ? len - *used : want;
        if (n == 0)
            return MSGF_MORE;
        memcpy(m->bytes + m->got, (const uint8_t *)data + *used, n);
        m->got += n;
        *used += n;
    }
}

unsigned msg_split(const uint8_t *body, uint32_t len, const char **parts, unsigned max)
{
    unsigned n = 0;
    uint32_t off = 0;
    while (off < len && n < max) {
        parts[n++] = (const char *)body + off;
        const uint8_t *nul = memchr(body + off, 0, len - off);
        if (!nul)
            break;
        off = (uint32_t)(nul - body) + 1;
    }
    return n;
}

void msg_build(struct msg *m, uint32_t type, uint32_t req_id, uint32_t tx_id,
               const void *body, uint32_t len)
{
    if (len > XENSTORE_PAYLOAD_MAX)
        len = XENSTORE_PAYLOAD_MAX;
    m->hdr.type = type;
    m->hdr.req_id = req_id;
    m->hdr.tx_id = tx_id;
    m->hdr.len = len;
    if (len)
        memcpy(msg_body(m), body, len);
    m->got = MSG_HDR_LEN + len;
    m->bytes[m->got] = 0;
}

void msg_build_error(struct msg *m, const struct xsd_sockmsg *req, const char *name)
{
    msg_build(m, XS_ERROR, req->req_id, req->tx_id, name, (uint32_t)strlen(name) + 1);
}

bool msg_parse_u32(const char *s, uint32_t *out)
{
    if (!s || !*s || *s < '0' || *s > '9')
        return false;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

const char *msg_errno_name(int err)
{
    static const struct { int err; const char *name; } names[] = {
        { EINVAL, "EINVAL" }, { EACCES, "EACCES" }, { EEXIST, "EEXIST" },
        { EISDIR, "EISDIR" }, { ENOENT, "ENOENT" }, { ENOMEM, "ENOMEM" },
        { ENOSPC, "ENOSPC" }, { EIO, "EIO" }, { ENOTEMPTY, "ENOTEMPTY" },
        { ENOSYS, "ENOSYS" }, { EROFS, "EROFS" }, { EBUSY, "EBUSY" },
        { EAGAIN, "EAGAIN" }, { EISCONN, "EISCONN" }, { E2BIG, "E2BIG" },
        { EPERM, "EPERM" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].err == err)
            return names[i].name;
    return "EIO";
}
