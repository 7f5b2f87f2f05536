/*
 * trace.c - the text protocol trace, one line per message, and the hook
 * into the pcap capture (capture.c).
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
            msg_type_name(m->hdr.type, tbuf, sizeof(tbuf)), m->hdr.req_id, guest_tx, backend_tx,
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

void proxy_capture(struct proxy *px, enum capture_source source, uint32_t id,
                   enum capture_dir dir, uint8_t flags, const struct msg *m, uint32_t guest_tx,
                   uint32_t backend_tx)
{
    if (px->capture && !capture_msg(px->capture, source, id, dir, flags, m, guest_tx, backend_tx)) {
        capture_close(px->capture);
        px->capture = NULL;
    }
}
