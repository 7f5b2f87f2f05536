/*
 * migrate.c - the pieces a save (save.c) and a restore (restore.c) share:
 * the stream file, and the mapping of a domain id in paths and permissions
 * from the source host's to this one's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "migrate.h"

char migrate_perm_char(unsigned p)
{
    switch (p & (XS_PERM_READ | XS_PERM_WRITE)) {
    case XS_PERM_READ:
        return 'r';
    case XS_PERM_WRITE:
        return 'w';
    case XS_PERM_READ | XS_PERM_WRITE:
        return 'b';
    default:
        return 'n';
    }
}

unsigned migrate_perm_bits(char c)
{
    return c == 'r' ? XS_PERM_READ : c == 'w' ? XS_PERM_WRITE
         : c == 'b' ? (XS_PERM_READ | XS_PERM_WRITE) : XS_PERM_NONE;
}

/* BUF into PATH, atomically (PATH.tmp, then rename).  0, or -1 with why
 * in ERR.  No fsync: it would hold the event loop for the disk's time, and
 * a stream lost with the host is saved again (the domain is still here,
 * quiesced). */
int migrate_write_file(const char *path, const uint8_t *buf, size_t len, char *err,
                      size_t errlen)
{
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = file_open_regular(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600, err, errlen);
    if (fd < 0)
        return -1;
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n <= 0) {
            snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(n < 0 ? errno : EIO));
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)n;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* "/local/domain/FROM[/...]" -> "/local/domain/TO[/...]"; other paths as
 * they are.  Returns a malloc'd string. */
char *migrate_map_path(const char *path, uint32_t from, uint32_t to)
{
    char prefix[48];
    int n = snprintf(prefix, sizeof(prefix), "/local/domain/%u", from);
    char *out;
    if (strncmp(path, prefix, (size_t)n) == 0 && (path[n] == '\0' || path[n] == '/')) {
        if (asprintf(&out, "/local/domain/%u%s", to, path + n) < 0)
            return NULL;
        return out;
    }
    return strdup(path);
}

/* A permission list ("b5\0r0\0...") with domain FROM written as TO,
 * appended to OUT.  False when it does not fit. */
static bool map_perms(const char *const *parts, unsigned n, uint32_t from, uint32_t to,
                      char *out, size_t cap, size_t *len)
{
    for (unsigned i = 0; i < n; i++) {
        uint32_t id;
        int w;
        if (parts[i][0] && msg_parse_u32(parts[i] + 1, &id) && id == from)
            w = snprintf(out + *len, cap - *len, "%c%u", parts[i][0], to);
        else
            w = snprintf(out + *len, cap - *len, "%s", parts[i]);
        if (w < 0 || (size_t)w + 1 > cap - *len)
            return false;
        *len += (size_t)w + 1;
    }
    return true;
}

/* One logged operation with the source's domain id mapped to this host's:
 * the path it names (absolute paths under /local/domain/FROM), the
 * permissions SET_PERMS sets and GET_PERMS answered.  Values and directory
 * listings stay as they are (a listing of /local/domain then differs, and
 * the transaction ends in EAGAIN: the conservative side).  False when the
 * mapped payload would not fit a message. */
bool migrate_map_op(const struct xsrec_tx_op *in, uint32_t from, uint32_t to, struct tx_op *out,
                   char req[XENSTORE_PAYLOAD_MAX], char rsp[XENSTORE_PAYLOAD_MAX])
{
    const char *parts[XENSTORE_PAYLOAD_MAX / 2];
    /* a stream's payloads need not end in a NUL: split NUL-ended copies */
    static char reqz[XENSTORE_PAYLOAD_MAX + 1], rspz[XENSTORE_PAYLOAD_MAX + 1];
    if (in->req_len > XENSTORE_PAYLOAD_MAX || in->rsp_len > XENSTORE_PAYLOAD_MAX)
        return false;
    memcpy(reqz, in->req, in->req_len);
    reqz[in->req_len] = '\0';
    memcpy(rspz, in->rsp, in->rsp_len);
    rspz[in->rsp_len] = '\0';
    unsigned n = msg_split((const uint8_t *)reqz, (uint32_t)in->req_len, parts,
                           XENSTORE_PAYLOAD_MAX / 2);
    size_t len = 0;
    if (n == 0)
        return false;
    char *path = migrate_map_path(parts[0], from, to);
    if (!path)
        return false;
    /* the path, then the rest as it was (WRITE's value may hold NULs) */
    size_t plen = strlen(path) + 1, rest = in->req_len - (strlen(parts[0]) + 1);
    if (in->req_len < strlen(parts[0]) + 1)
        rest = 0;
    bool ok = plen + rest <= XENSTORE_PAYLOAD_MAX;
    if (ok) {
        memcpy(req, path, plen);
        len = plen;
        if (in->req_type == XS_SET_PERMS)
            ok = map_perms(parts + 1, n - 1, from, to, req, XENSTORE_PAYLOAD_MAX, &len);
        else {
            memcpy(req + len, in->req + (in->req_len - rest), rest);
            len += rest;
        }
    }
    free(path);
    if (!ok)
        return false;
    out->type = in->req_type;
    out->rsp_type = in->rsp_type;
    out->req = (uint8_t *)req;
    out->req_len = (uint32_t)len;
    out->rsp = (uint8_t *)rsp;
    if (in->req_type == XS_GET_PERMS && in->rsp_type == XS_GET_PERMS) {
        unsigned k = msg_split((const uint8_t *)rspz, (uint32_t)in->rsp_len, parts,
                               XENSTORE_PAYLOAD_MAX / 2);
        len = 0;
        if (!map_perms(parts, k, from, to, rsp, XENSTORE_PAYLOAD_MAX, &len))
            return false;
        out->rsp_len = (uint32_t)len;
    } else {
        memcpy(rsp, in->rsp, in->rsp_len);
        out->rsp_len = (uint32_t)in->rsp_len;
    }
    return true;
}

#define STREAM_MAX (64u << 20)   /* the largest stream restored */

/* The whole of a regular file.  0, or -1 with why in ERR.  A regular file
 * is read at the speed of the page cache, never waiting on anybody: a FIFO,
 * whose open or read would wait for a writer with every guest stalled, is
 * refused. */
int migrate_read_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
    int fd = file_open_regular(path, O_RDONLY, 0, err, errlen);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > STREAM_MAX) {
        snprintf(err, errlen, "%s: larger than %u MiB", path, STREAM_MAX >> 20);
        close(fd);
        errno = EFBIG;
        return -1;
    }
    *buf = malloc((size_t)st.st_size + 1);
    size_t off = 0;
    while (*buf && off < (size_t)st.st_size) {
        ssize_t n = read(fd, *buf + off, (size_t)st.st_size - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fd);
    *len = off;
    if (!*buf) {
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        return -1;
    }
    return 0;
}
