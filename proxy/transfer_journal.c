/*
 * transfer_journal.c - a transfer's journal, one per side and domain
 * (RUN-DIR/transfer/domD.send, domD.recv): its phase, id, lengths and CRC
 * as text, written to a new file renamed over the old (not fsync'd: see
 * transfer.c), and the stream kept beside it.
 */
#define _GNU_SOURCE
#include "transfer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static bool unhex(const char *s, uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return false;
        b[i] = (uint8_t)v;
    }
    return strlen(s) == 2 * n;
}

void xfer_paths(struct transfer *t)
{
    const char *dir = t->px->cfg.run_dir;
    snprintf(t->state_path, sizeof(t->state_path), "%s/transfer/dom%u.%s", dir, t->domid,
             t->sender ? "send" : "recv");
    snprintf(t->stream_path, sizeof(t->stream_path), "%s/transfer/dom%u.%s-stream", dir,
             t->domid, t->sender ? "send" : "recv");
}

/* T's phase and what goes with it, atomically. */
int xfer_journal_write(struct transfer *t)
{
    char id[2 * TW_ID_LEN + 1], text[512], tmp[600];
    hex(t->id, TW_ID_LEN, id);
    int n = snprintf(text, sizeof(text),
                     "id=%s\ndomid=%u\npeer=%u\nphase=%s\nlength=%llu\ncrc=%u\nquiesced_at=%llu\n",
                     id, t->domid, t->peer_domid, xfer_phase_names[t->phase],
                     (unsigned long long)t->length, t->crc,
                     (unsigned long long)t->quiesced_at_us);
    snprintf(tmp, sizeof(tmp), "%s.tmp", t->state_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    bool ok = write(fd, text, (size_t)n) == n;
    close(fd);
    if (!ok || rename(tmp, t->state_path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int xfer_journal_read(struct transfer *t)
{
    FILE *f = fopen(t->state_path, "re");
    if (!f)
        return -1;
    char line[256], id[64] = "", phase[32] = "";
    unsigned long long length = 0, at = 0;
    unsigned domid = 0, peer = 0, crc = 0;
    int got = 0;
    while (fgets(line, sizeof(line), f))
        got += sscanf(line, "id=%63s", id) + sscanf(line, "domid=%u", &domid) +
               sscanf(line, "peer=%u", &peer) + sscanf(line, "phase=%31s", phase) +
               sscanf(line, "length=%llu", &length) + sscanf(line, "crc=%u", &crc) +
               sscanf(line, "quiesced_at=%llu", &at);
    fclose(f);
    int p = -1;
    for (unsigned i = 0; i < P_END; i++)
        if (xfer_phase_names[i] && strcmp(phase, xfer_phase_names[i]) == 0)
            p = (int)i;
    if (got != 7 || p < 0 || domid != t->domid || !unhex(id, t->id, TW_ID_LEN)) {
        errno = EBADMSG;
        return -1;
    }
    t->has_id = true;
    t->phase = (enum phase)p;
    t->peer_domid = peer;
    t->length = length;
    t->crc = crc;
    t->quiesced_at_us = at;
    return 0;
}

void xfer_journal_remove(struct transfer *t)
{
    unlink(t->state_path);
    unlink(t->stream_path);
}
