/*
 * trace.c - the text protocol trace: one line per message.
 *
 *   2026-11-22T08:00:01.123456 dom5 -> WRITE req 7 tx 3/9 len 9 "data/x\0001"
 *
 * who (domN, or connN for a dom0 socket client), direction (-> towards
 * xenstored, <- towards the guest or client), type, req_id, tx_id as the
 * guest sees it / as xenstored sees it, length, payload with NULs and
 * non-printable bytes escaped as \ooo.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include "proxy.h"
#include "xsproxy_wire.h"

static const char *type_name(uint32_t type, char *buf, size_t len)
{
    static const char *const names[] = {
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
    if (type < sizeof(names) / sizeof(names[0]))
        return names[type];
    if (xsp_is_proxy_type(type))
        return proxy_names[type - XSP_TYPE_BASE - 1];
    snprintf(buf, len, "TYPE_%u", type);
    return buf;
}

void trace_msg(FILE *f, const char *who, const char *dir, const struct msg *m, uint32_t guest_tx,
               uint32_t backend_tx)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char when[32], tbuf[24];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(f, "%s.%06ld %s %s %s req %u tx %u/%u len %u \"", when, (long)tv.tv_usec, who, dir,
            type_name(m->hdr.type, tbuf, sizeof(tbuf)), m->hdr.req_id, guest_tx, backend_tx,
            m->hdr.len);
    const uint8_t *b = m->bytes + MSG_HDR_LEN;
    uint32_t len = m->hdr.len <= XENSTORE_PAYLOAD_MAX ? m->hdr.len : 0;
    for (uint32_t i = 0; i < len; i++) {
        if (b[i] == '\\' || b[i] == '"')
            fprintf(f, "\\%c", b[i]);
        else if (b[i] >= 0x20 && b[i] < 0x7f)
            fputc(b[i], f);
        else
            fprintf(f, "\\%03o", b[i]);
    }
    fputs("\"\n", f);
}
