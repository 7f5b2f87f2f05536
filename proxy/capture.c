/*
 * capture.c - writing a capture through libpcap (format in capture.h),
 * with a size cap and rotation so that a capture left on cannot fill the
 * disk: when FILE reaches the size, FILE.1 becomes FILE.2 and so on, FILE
 * becomes FILE.1 and a new FILE starts; at most `files` files are kept.
 * Each record is flushed as it is written, so the file is whole up to its
 * last message whenever it is read (or xsproxy dies).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "capture.h"
#include "files.h"
#include "proxy.h"

struct capture {
    char *path;
    struct capture_settings s;
    struct capture_pending pending;
    pcap_t *dead;             /* libpcap's handle for writing, no device */
    pcap_dumper_t *dumper;
    uint64_t messages;        /* written since the start */
    unsigned rotations;
};

static int open_file(struct capture *c, char *err, size_t errlen)
{
    char why[400];
    int fd = file_open_regular(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0644, why, sizeof(why));
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) {
            snprintf(why, sizeof(why), "%s: %s", c->path, strerror(errno));
            close(fd);
        }
        snprintf(err, errlen, "capture: cannot write %s", why);
        return -1;
    }
    c->dumper = pcap_dump_fopen(c->dead, f);
    if (!c->dumper) {
        snprintf(err, errlen, "capture: cannot write %s: %s", c->path, pcap_geterr(c->dead));
        fclose(f);
        return -1;
    }
    return 0;
}

static void rotated_name(const struct capture *c, unsigned k, char *buf, size_t len)
{
    if (k == 0)
        snprintf(buf, len, "%s", c->path);
    else
        snprintf(buf, len, "%s.%u", c->path, k);
}

/* FILE.<files-2> -> FILE.<files-1>, ..., FILE -> FILE.1; a new FILE. */
static int rotate(struct capture *c)
{
    pcap_dump_close(c->dumper);
    c->dumper = NULL;
    size_t len = strlen(c->path) + 16;
    char *from = malloc(len), *to = malloc(len);
    if (!from || !to) {
        free(from);
        free(to);
        xlog(LOG_LVL_ERROR, "capture: out of memory rotating %s", c->path);
        return -1;
    }
    for (unsigned k = c->s.files - 1; k >= 1; k--) {
        rotated_name(c, k - 1, from, len);
        rotated_name(c, k, to, len);
        if (rename(from, to) < 0 && errno != ENOENT)
            xlog(LOG_LVL_WARN, "capture: rename %s to %s: %s", from, to, strerror(errno));
    }
    free(from);
    free(to);
    c->rotations++;
    char err[512];
    if (open_file(c, err, sizeof(err)) < 0) {
        xlog(LOG_LVL_ERROR, "%s", err);
        return -1;
    }
    return 0;
}

struct capture *capture_open(const char *path, const struct capture_settings *s, char *err,
                             size_t errlen)
{
    struct capture *c = calloc(1, sizeof(*c));
    if (!c || !(c->path = strdup(path))) {
        free(c);
        snprintf(err, errlen, "capture: out of memory");
        return NULL;
    }
    if (capture_settings_copy(&c->s, s) < 0) {   /* the caller keeps S */
        snprintf(err, errlen, "capture: out of memory");
        capture_close(c);
        return NULL;
    }
    c->dead = pcap_open_dead(CAPTURE_LINKTYPE, CAPTURE_PSEUDO_LEN + MSG_MAX_LEN);
    if (!c->dead) {
        snprintf(err, errlen, "capture: libpcap: out of memory");
        capture_close(c);
        return NULL;
    }
    if (open_file(c, err, errlen) < 0) {
        capture_close(c);
        return NULL;
    }
    return c;
}

void capture_close(struct capture *c)
{
    if (!c)
        return;
    if (c->dumper)
        pcap_dump_close(c->dumper);
    if (c->dead)
        pcap_close(c->dead);
    capture_settings_free(&c->s);
    capture_pending_free(&c->pending);
    free(c->path);
    free(c);
}

bool capture_msg(struct capture *c, enum capture_source source, uint32_t id,
                 enum capture_dir dir, uint8_t flags, const struct msg *m, uint32_t guest_tx,
                 uint32_t backend_tx)
{
    if (!capture_wanted(&c->s.filter, &c->pending, source, id, dir, &m->hdr))
        return true;
    /* a header naming too long a payload is recorded as it came, alone */
    uint32_t len = MSG_HDR_LEN + (m->hdr.len <= XENSTORE_PAYLOAD_MAX ? m->hdr.len : 0);
    uint8_t rec[CAPTURE_PSEUDO_LEN + MSG_MAX_LEN];
    capture_pseudo_header(rec, source, id, dir, flags, guest_tx, backend_tx);
    memcpy(rec + CAPTURE_PSEUDO_LEN, m->bytes, len);
    struct pcap_pkthdr ph;
    gettimeofday(&ph.ts, NULL);
    ph.caplen = ph.len = CAPTURE_PSEUDO_LEN + len;
    pcap_dump((u_char *)c->dumper, &ph, rec);
    if (pcap_dump_flush(c->dumper) < 0) {
        xlog(LOG_LVL_ERROR, "capture: writing %s failed: %s; capture stopped", c->path,
             strerror(errno));
        return false;
    }
    c->messages++;
    int64_t size = pcap_dump_ftell64(c->dumper);
    if (size >= 0 && (uint64_t)size >= c->s.max_size && rotate(c) < 0) {
        xlog(LOG_LVL_ERROR, "capture: cannot go on after rotating %s; capture stopped", c->path);
        return false;
    }
    return true;
}

int capture_set_filter(struct capture *c, const char *spec, char *err, size_t errlen)
{
    return capture_settings_parse(&c->s, spec, false, err, errlen);
}

size_t capture_describe(const struct capture *c, char *buf, size_t len)
{
    char spec[1024];
    capture_settings_describe(&c->s, spec, sizeof(spec));
    int64_t size = c->dumper ? pcap_dump_ftell64(c->dumper) : -1;
    int n = snprintf(buf, len, "capture %s: %llu messages, %lld bytes in this file, %u rotations\n"
                               "filter %s\n",
                     c->path, (unsigned long long)c->messages, (long long)size, c->rotations,
                     spec);
    return n > 0 ? (size_t)n : 0;
}
