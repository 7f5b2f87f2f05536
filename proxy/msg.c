/*
 * msg.c - reading, splitting and building xenstore messages (see msg.h).
 */
#include "msg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xsproxy_type_names.h"
#include "xsproxy_wire.h"

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

static const struct { int err; const char *name; } errno_names[] = {
    { EINVAL, "EINVAL" }, { EACCES, "EACCES" }, { EEXIST, "EEXIST" },
    { EISDIR, "EISDIR" }, { ENOENT, "ENOENT" }, { ENOMEM, "ENOMEM" },
    { ENOSPC, "ENOSPC" }, { EIO, "EIO" }, { ENOTEMPTY, "ENOTEMPTY" },
    { ENOSYS, "ENOSYS" }, { EROFS, "EROFS" }, { EBUSY, "EBUSY" },
    { EAGAIN, "EAGAIN" }, { EISCONN, "EISCONN" }, { E2BIG, "E2BIG" },
    { EPERM, "EPERM" },
};

const char *msg_errno_name(int err)
{
    for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
        if (errno_names[i].err == err)
            return errno_names[i].name;
    return "EIO";
}

int msg_errno_value(const char *name)
{
    for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
        if (strcmp(errno_names[i].name, name) == 0)
            return errno_names[i].err;
    return EIO;
}

const char *msg_type_name(uint32_t type, char *buf, size_t len)
{
    const char *name = xsp_type_name(type);
    if (name)
        return name;
    snprintf(buf, len, "TYPE_%u", type);
    return buf;
}

/* NAME among the types from FIRST on: upstream's and xsproxy's each run
 * without a gap up to the first type with no name. */
static bool find_type(const char *name, uint32_t first, uint32_t *type)
{
    for (uint32_t t = first; xsp_type_name(t); t++)
        if (strcasecmp(name, xsp_type_name(t)) == 0) {
            *type = t;
            return true;
        }
    return false;
}

bool msg_type_parse(const char *name, uint32_t *type)
{
    if (find_type(name, 0, type) || find_type(name, XSP_TYPE_BASE + 1, type))
        return true;
    if (strcasecmp(name, "DEBUG") == 0) {   /* CONTROL's old name */
        *type = XS_CONTROL;
        return true;
    }
    if (strncasecmp(name, "TYPE_", 5) == 0)
        return msg_parse_u32(name + 5, type);
    return msg_parse_u32(name, type);
}
