/*
 * msg.c - reading, splitting and building xenstore messages (see msg.h).
 */
#include "msg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* Upstream's types in enum order, then xsproxy's (from XSP_TYPE_BASE + 1). */
static const char *const upstream_names[] = {
    "CONTROL", "DIRECTORY", "READ", "GET_PERMS", "WATCH", "UNWATCH",
    "TRANSACTION_START", "TRANSACTION_END", "INTRODUCE", "RELEASE",
    "GET_DOMAIN_PATH", "WRITE", "MKDIR", "RM", "SET_PERMS", "WATCH_EVENT",
    "ERROR", "IS_DOMAIN_INTRODUCED", "RESUME", "SET_TARGET", "RESTRICT",
    "RESET_WATCHES", "DIRECTORY_PART", "GET_FEATURE", "SET_FEATURE",
    "GET_QUOTA", "SET_QUOTA",
};
static const char *const proxy_names[] = {
    "QUIESCE", "GET_DOMAIN_WATCHES", "ADD_DOMAIN_WATCHES", "RESTORE_TRANSACTIONS",
    "XSP_RESUME", "XSP_INSERT", "XSP_REMOVE",
};
#define NR_UPSTREAM (sizeof(upstream_names) / sizeof(upstream_names[0]))
#define NR_PROXY (sizeof(proxy_names) / sizeof(proxy_names[0]))

const char *msg_type_name(uint32_t type, char *buf, size_t len)
{
    if (type < NR_UPSTREAM)
        return upstream_names[type];
    if (type > XSP_TYPE_BASE && type - XSP_TYPE_BASE <= NR_PROXY)
        return proxy_names[type - XSP_TYPE_BASE - 1];
    snprintf(buf, len, "TYPE_%u", type);
    return buf;
}

bool msg_type_parse(const char *name, uint32_t *type)
{
    for (uint32_t i = 0; i < NR_UPSTREAM; i++)
        if (strcasecmp(name, upstream_names[i]) == 0) {
            *type = i;
            return true;
        }
    for (uint32_t i = 0; i < NR_PROXY; i++)
        if (strcasecmp(name, proxy_names[i]) == 0) {
            *type = XSP_TYPE_BASE + 1 + i;
            return true;
        }
    if (strcasecmp(name, "DEBUG") == 0) {   /* CONTROL's old name */
        *type = XS_CONTROL;
        return true;
    }
    if (strncasecmp(name, "TYPE_", 5) == 0)
        return msg_parse_u32(name + 5, type);
    return msg_parse_u32(name, type);
}
