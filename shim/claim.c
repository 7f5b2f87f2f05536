/*
 * claim.c - the live-switch protocol's formats and files (see claim.h).
 */
#define _GNU_SOURCE
#include "claim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- formats (pure) ------------------------------------------------------ */

static const char *const live_words[] = { [CLAIM_LIVE_IN] = "1", [CLAIM_LIVE_BACK] = "back" };

int claim_format(const struct claim *c, char *buf, size_t len)
{
    bool live = c->live == CLAIM_LIVE_IN || c->live == CLAIM_LIVE_BACK;
    int n = snprintf(buf, len, "page=%s\nport=%u\n%s%s%s", c->page, c->port,
                     live ? "live=" : "", live ? live_words[c->live] : "", live ? "\n" : "");
    return n < 0 || (size_t)n >= len ? -1 : n;
}

/* A decimal number that is all of S, in [1, MAX]. */
static bool parse_number(const char *s, unsigned long max, unsigned long *out)
{
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v == 0 || v > max)
        return false;
    *out = v;
    return true;
}

static void parse_claim_line(const char *line, size_t n, struct claim *c)
{
    char text[CLAIM_PATH_MAX + 16];
    if (n >= sizeof(text))
        return;
    memcpy(text, line, n);
    text[n] = '\0';
    if (strncmp(text, "page=", 5) == 0 && n - 5 < sizeof(c->page)) {
        strcpy(c->page, text + 5);
    } else if (strncmp(text, "port=", 5) == 0) {
        unsigned long v;
        c->bad_port = !parse_number(text + 5, UINT32_MAX, &v);
        c->port = c->bad_port ? 0 : (uint32_t)v;
    } else if (strncmp(text, "live=", 5) == 0) {
        c->live = strcmp(text + 5, "1") == 0      ? CLAIM_LIVE_IN
                  : strcmp(text + 5, "back") == 0 ? CLAIM_LIVE_BACK
                                                  : CLAIM_LIVE_BAD;
    }
}

void claim_parse(const char *text, struct claim *c)
{
    memset(c, 0, sizeof(*c));
    while (*text) {
        size_t n = strcspn(text, "\n");
        if (n)
            parse_claim_line(text, n, c);
        text += n + (text[n] == '\n');
    }
}

static const char *const kind_words[] = {
    [SWITCH_SHADOW] = "shadow", [SWITCH_DIRECT] = "direct",
    [SWITCH_BUSY] = "busy", [SWITCH_ERROR] = "error",
};

/* Append to BUF at *OFF; false once it no longer fits. */
static bool addf(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool addf(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
    if (*off >= len)
        return false;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *off, len - *off, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len - *off)
        return false;
    *off += (size_t)n;
    return true;
}

static bool format_shadow(const struct switch_answer *a, char *buf, size_t len, size_t *off)
{
    if (!addf(buf, len, off, " req_prod=%u rsp_prod=%u port=%u\nreq_cons=%u req_part=%u "
              "rsp_part=%u\nrsp_prefix=", a->req_prod, a->rsp_prod, a->port, a->req_cons,
              a->req_part, a->rsp_part))
        return false;
    for (uint32_t i = 0; i < a->rsp_prefix_len && i < SWITCH_PREFIX_MAX; i++)
        if (!addf(buf, len, off, "%02x", a->rsp_prefix[i]))
            return false;
    if (!addf(buf, len, off, "\n") || (a->guessed && !addf(buf, len, off, "guessed\n")))
        return false;
    for (unsigned i = 0; i < a->nr_pending && i < SWITCH_PENDING_MAX; i++) {
        const struct switch_pending *p = &a->pending[i];
        if (!addf(buf, len, off, "pending %u %u %u %u %u\n", p->type, p->req_id, p->tx_id,
                  p->len, p->start))
            return false;
    }
    return true;
}

int switch_answer_format(const struct switch_answer *a, char *buf, size_t len)
{
    size_t off = 0;
    if (a->kind < SWITCH_SHADOW || a->kind > SWITCH_ERROR ||
        !addf(buf, len, &off, "%s", kind_words[a->kind]))
        return -1;
    bool ok = a->kind == SWITCH_SHADOW && !a->already ? format_shadow(a, buf, len, &off)
              : a->kind <= SWITCH_DIRECT             ? addf(buf, len, &off, "\n")
                                         : addf(buf, len, &off, " %s\n", a->reason);
    return ok ? (int)off : -1;
}

static int fail(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return -1;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool parse_prefix(const char *hex, size_t n, struct switch_answer *a)
{
    if (n % 2 || n / 2 > SWITCH_PREFIX_MAX)
        return false;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        a->rsp_prefix[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    a->rsp_prefix_len = (uint32_t)(n / 2);
    return true;
}

/* Everything after "shadow" on the first line, then the other lines. */
static int parse_shadow(const char *text, struct switch_answer *a, char *err, size_t errlen)
{
    int used = 0;
    if (sscanf(text, " req_prod=%u rsp_prod=%u port=%u\n%n", &a->req_prod, &a->rsp_prod,
               &a->port, &used) != 3 || !used)
        return fail(err, errlen, "a shadow answer without req_prod, rsp_prod and port");
    text += used;
    used = 0;
    if (sscanf(text, "req_cons=%u req_part=%u rsp_part=%u\nrsp_prefix=%n", &a->req_cons,
               &a->req_part, &a->rsp_part, &used) != 3 || !used)
        return fail(err, errlen, "a shadow answer without req_cons, req_part and rsp_part");
    text += used;
    size_t n = strcspn(text, "\n");
    if (text[n] != '\n' || !parse_prefix(text, n, a))
        return fail(err, errlen, "a bad rsp_prefix");
    text += n + 1;
    if (strncmp(text, "guessed\n", 8) == 0) {
        a->guessed = true;
        text += 8;
    }
    while (*text) {
        struct switch_pending p;
        used = 0;
        if (a->nr_pending == SWITCH_PENDING_MAX ||
            sscanf(text, "pending %u %u %u %u %u\n%n", &p.type, &p.req_id, &p.tx_id, &p.len,
                   &p.start, &used) != 5 || !used || text[used - 1] != '\n' ||
            p.len > XENSTORE_PAYLOAD_MAX)
            return fail(err, errlen, "a bad pending line");
        a->pending[a->nr_pending++] = p;
        text += used;
    }
    /* the prefix is the whole of what went out, or its header alone */
    uint32_t prefix = a->rsp_part <= SWITCH_PREFIX_MAX ? a->rsp_part
                                                       : (uint32_t)sizeof(struct xsd_sockmsg);
    if (a->req_part > XENSTORE_RING_SIZE ||
        a->rsp_part > sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX ||
        a->rsp_prefix_len != prefix)
        return fail(err, errlen, "req_part, rsp_part or rsp_prefix out of range");
    return 0;
}

int switch_answer_parse(const char *text, struct switch_answer *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    size_t w = strcspn(text, " \n");
    for (int k = SWITCH_SHADOW; k <= SWITCH_ERROR; k++)
        if (strlen(kind_words[k]) == w && strncmp(text, kind_words[k], w) == 0)
            a->kind = (enum switch_kind)k;
    text += w;
    bool bare = strcmp(text, "\n") == 0 || !*text;
    switch (a->kind) {
    case SWITCH_SHADOW:
        a->already = bare;
        return bare ? 0 : parse_shadow(text, a, err, errlen);
    case SWITCH_DIRECT:
        return bare ? 0 : fail(err, errlen, "text after direct");
    case SWITCH_BUSY:
    case SWITCH_ERROR: {
        size_t n = strcspn(text, "\n");
        if (*text != ' ' || n - 1 >= sizeof(a->reason) || text[n + (text[n] == '\n')])
            return fail(err, errlen, "a busy or error answer without one line of reason");
        memcpy(a->reason, text + 1, n - 1);
        a->reason[n - 1] = '\0';
        return 0;
    }
    }
    return fail(err, errlen, "not shadow, direct, busy or error");
}

/* ---- files ------------------------------------------------------------ */

int claim_path(const char *dir, uint32_t domid, const char *suffix, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%u%s", dir, domid, suffix);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* PATH's content replaced by TEXT atomically (PATH.tmp, then rename). */
static int write_atomically(const char *path, const char *text, size_t n)
{
    char tmp[CLAIM_PATH_MAX + 8];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    bool ok = write(fd, text, n) == (ssize_t)n;
    int e = errno;
    if (close(fd) < 0 || !ok || rename(tmp, path) < 0) {
        e = ok ? errno : e;
        unlink(tmp);
        errno = e ? e : EIO;
        return -1;
    }
    return 0;
}

/* The whole of a small file, NUL-terminated, into BUF.  Its length, or -1
 * + errno (EFBIG: larger than BUF). */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    ssize_t n;
    while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        got += (size_t)n;
    }
    char extra;
    bool more = got == len - 1 && read(fd, &extra, 1) == 1;
    close(fd);
    if (more) {
        errno = EFBIG;
        return -1;
    }
    buf[got] = '\0';
    return (ssize_t)got;
}

int claim_write(const char *dir, uint32_t domid, const struct claim *c)
{
    char path[CLAIM_PATH_MAX], text[CLAIM_PATH_MAX + 64];
    int n = claim_format(c, text, sizeof(text));
    if (n < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (claim_path(dir, domid, "", path, sizeof(path)) < 0)
        return -1;
    return write_atomically(path, text, (size_t)n);
}

int claim_read(const char *dir, uint32_t domid, struct claim *c)
{
    char path[CLAIM_PATH_MAX], text[CLAIM_PATH_MAX + 64];
    if (claim_path(dir, domid, "", path, sizeof(path)) < 0 ||
        read_small(path, text, sizeof(text)) < 0)
        return -1;
    claim_parse(text, c);
    return 0;
}

int claim_request_switch(const char *dir, uint32_t domid)
{
    char path[CLAIM_PATH_MAX];
    if (claim_path(dir, domid, "", path, sizeof(path)) < 0 || access(path, F_OK) < 0)
        return -1;   /* no claim to act on */
    if (claim_path(dir, domid, ".state", path, sizeof(path)) < 0 ||
        (unlink(path) < 0 && errno != ENOENT))
        return -1;
    return 0;
}

static int wake_path(const char *dir, char *path, size_t len)
{
    if (snprintf(path, len, "%s/.wake", dir) >= (int)len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int wake_write(const char *dir, uint32_t port, int pid)
{
    char path[CLAIM_PATH_MAX], text[64];
    int n = snprintf(text, sizeof(text), "port=%u\npid=%d\n", port, pid);
    return wake_path(dir, path, sizeof(path)) < 0 ? -1 : write_atomically(path, text, (size_t)n);
}

int wake_read(const char *dir, uint32_t *port, int *pid)
{
    char path[CLAIM_PATH_MAX], text[128];
    if (wake_path(dir, path, sizeof(path)) < 0 || read_small(path, text, sizeof(text)) < 0)
        return -1;
    unsigned p;
    int who, used = 0;
    if (sscanf(text, "port=%u\npid=%d\n%n", &p, &who, &used) != 2 || text[used] || !p ||
        who <= 0) {
        errno = EBADMSG;
        return -1;
    }
    *port = p;
    *pid = who;
    return 0;
}

uint32_t *asked_map(const char *dir)
{
    char path[CLAIM_PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/.asked", dir) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *p = MAP_FAILED;
    /* either side may make it: growing it to a page twice changes nothing */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (st.st_size >= 4096 || ftruncate(fd, 4096) == 0))
        p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    else if (errno == 0)
        errno = EINVAL;
    int e = errno;
    close(fd);
    errno = e;
    return p == MAP_FAILED ? NULL : p;
}

void asked_bump(uint32_t *asked)
{
    __atomic_add_fetch(asked, 1, __ATOMIC_RELEASE);
}

int switch_answer_write(const char *dir, uint32_t domid, const struct switch_answer *a)
{
    char path[CLAIM_PATH_MAX];
    if (claim_path(dir, domid, ".state", path, sizeof(path)) < 0)
        return -1;
    char *text = malloc(SWITCH_ANSWER_TEXT_MAX);
    if (!text)
        return -1;
    int n = switch_answer_format(a, text, SWITCH_ANSWER_TEXT_MAX);
    int rc = n < 0 ? (errno = EOVERFLOW, -1) : write_atomically(path, text, (size_t)n);
    int e = errno;
    free(text);
    errno = e;
    return rc;
}

int switch_answer_read(const char *dir, uint32_t domid, struct switch_answer *a)
{
    char path[CLAIM_PATH_MAX], err[128];
    if (claim_path(dir, domid, ".state", path, sizeof(path)) < 0)
        return -1;
    char *text = malloc(SWITCH_ANSWER_TEXT_MAX);
    if (!text)
        return -1;
    int rc = 1;
    if (read_small(path, text, SWITCH_ANSWER_TEXT_MAX) < 0)
        rc = errno == ENOENT ? 0 : -1;
    else if (switch_answer_parse(text, a, err, sizeof(err)) < 0)
        rc = (errno = EBADMSG, -1);
    int e = errno;
    free(text);
    errno = e;
    return rc;
}
