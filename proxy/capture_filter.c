/*
 * capture_filter.c - what goes into a capture: the run-time filter (which
 * domains, which dom0 connections, which message types), its text form,
 * and the pairing that keeps a captured request's reply with it.  Pure: no
 * I/O (see capture.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "capture.h"

void capture_settings_init(struct capture_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->filter.doms.all = s->filter.conns.all = s->filter.types.all = true;
    s->max_size = CAPTURE_DEFAULT_SIZE;
    s->files = CAPTURE_DEFAULT_FILES;
}

static void set_free(struct capture_set *set)
{
    free(set->ids);
    set->ids = NULL;
    set->n = 0;
}

void capture_settings_free(struct capture_settings *s)
{
    set_free(&s->filter.doms);
    set_free(&s->filter.conns);
    set_free(&s->filter.types);
}

static int set_copy(struct capture_set *dst, const struct capture_set *src)
{
    *dst = *src;
    dst->ids = NULL;
    if (!src->n)
        return 0;
    dst->ids = malloc(src->n * sizeof(*dst->ids));
    if (!dst->ids)
        return -1;
    memcpy(dst->ids, src->ids, src->n * sizeof(*dst->ids));
    return 0;
}

int capture_settings_copy(struct capture_settings *dst, const struct capture_settings *src)
{
    *dst = *src;
    dst->filter.doms.ids = dst->filter.conns.ids = dst->filter.types.ids = NULL;
    if (set_copy(&dst->filter.doms, &src->filter.doms) < 0 ||
        set_copy(&dst->filter.conns, &src->filter.conns) < 0 ||
        set_copy(&dst->filter.types, &src->filter.types) < 0) {
        capture_settings_free(dst);
        return -1;
    }
    return 0;
}

static bool set_has(const struct capture_set *set, uint32_t id)
{
    if (set->all)
        return true;
    for (size_t i = 0; i < set->n; i++)
        if (set->ids[i] == id)
            return true;
    return false;
}

/* "all", "none" or "a,b,c" (types by name or number). */
static int parse_set(const char *key, const char *val, bool types, struct capture_set *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (strcmp(val, "all") == 0) {
        out->all = true;
        return 0;
    }
    if (strcmp(val, "none") == 0)
        return 0;
    char *copy = strdup(val);
    size_t cap = 1;
    for (const char *p = val; *p; p++)
        cap += *p == ',';
    out->ids = calloc(cap, sizeof(*out->ids));
    if (!copy || !out->ids) {
        free(copy);
        set_free(out);
        snprintf(err, errlen, "capture: out of memory");
        return -1;
    }
    char *save = NULL;
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        uint32_t v;
        bool ok = types ? msg_type_parse(w, &v) : msg_parse_u32(w, &v);
        if (!ok) {
            snprintf(err, errlen, "capture: %s=%s: '%s' is not %s", key, val, w,
                     types ? "a message type (READ, WRITE, WATCH_EVENT, ...)" : "a number");
            free(copy);
            set_free(out);
            return -1;
        }
        out->ids[out->n++] = v;
    }
    free(copy);
    if (out->n == 0) {
        snprintf(err, errlen, "capture: %s= needs a list, all or none", key);
        set_free(out);
        return -1;
    }
    return 0;
}

static int parse_size(const char *val, uint64_t *out)
{
    char *end;
    if (!isdigit((unsigned char)val[0]))
        return -1;   /* strtoull would skip spaces and take a sign */
    errno = 0;
    unsigned long long v = strtoull(val, &end, 10);
    if (end == val || errno)
        return -1;
    unsigned shift = 0;
    switch (tolower((unsigned char)*end)) {
    case '\0': break;
    case 'k': shift = 10; end++; break;
    case 'm': shift = 20; end++; break;
    case 'g': shift = 30; end++; break;
    default: return -1;
    }
    /* "64M", "64MB" and "64MiB" all mean 64 << 20 */
    if (shift && *end == 'i')
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end)
        return -1;
    if (v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int capture_settings_parse(struct capture_settings *s, const char *spec, bool allow_files,
                           char *err, size_t errlen)
{
    struct capture_settings next = *s;
    struct capture_set doms = { 0 }, conns = { 0 }, types = { 0 };
    bool have_doms = false, have_conns = false, have_types = false;
    char *copy = strdup(spec ? spec : "");
    if (!copy) {
        snprintf(err, errlen, "capture: out of memory");
        return -1;
    }
    int rc = 0;
    char *save = NULL;
    for (char *w = strtok_r(copy, " \t\n", &save); w && rc == 0;
         w = strtok_r(NULL, " \t\n", &save)) {
        char *eq = strchr(w, '=');
        if (!eq || eq == w || !eq[1]) {
            snprintf(err, errlen, "capture: '%s' is not key=value", w);
            rc = -1;
            break;
        }
        *eq = '\0';
        const char *key = w, *val = eq + 1;
        struct capture_set tmp;
        if (strcmp(key, "dom") == 0 || strcmp(key, "conn") == 0 || strcmp(key, "type") == 0) {
            bool is_type = key[0] == 't';
            rc = parse_set(key, val, is_type, &tmp, err, errlen);
            if (rc == 0) {
                struct capture_set *slot = key[0] == 'd' ? &doms : key[0] == 'c' ? &conns : &types;
                bool *have = key[0] == 'd' ? &have_doms : key[0] == 'c' ? &have_conns : &have_types;
                set_free(slot);
                *slot = tmp;
                *have = true;
            }
        } else if (allow_files && strcmp(key, "size") == 0) {
            uint64_t v;
            if (parse_size(val, &v) < 0 || v < CAPTURE_MIN_SIZE) {
                snprintf(err, errlen, "capture: size=%s: give bytes (suffix k, M or G), at least %llu",
                         val, (unsigned long long)CAPTURE_MIN_SIZE);
                rc = -1;
            } else {
                next.max_size = v;
            }
        } else if (allow_files && strcmp(key, "files") == 0) {
            uint32_t v;
            if (!msg_parse_u32(val, &v) || v < 1 || v > CAPTURE_MAX_FILES) {
                snprintf(err, errlen, "capture: files=%s: give 1..%u", val, CAPTURE_MAX_FILES);
                rc = -1;
            } else {
                next.files = v;
            }
        } else {
            snprintf(err, errlen, "capture: unknown key '%s' (dom, conn, type%s)", key,
                     allow_files ? ", size, files" : "");
            rc = -1;
        }
    }
    free(copy);
    if (rc < 0) {
        set_free(&doms);
        set_free(&conns);
        set_free(&types);
        return -1;
    }
    if (have_doms) {
        set_free(&s->filter.doms);
        next.filter.doms = doms;
    }
    if (have_conns) {
        set_free(&s->filter.conns);
        next.filter.conns = conns;
    }
    if (have_types) {
        set_free(&s->filter.types);
        next.filter.types = types;
    }
    *s = next;
    return 0;
}

/* Separate for strings and numbers: one function for both made GCC -O3
 * see a NULL %s argument on a path that cannot happen. */
static void append(char *buf, size_t len, size_t *at, const char *fmt, const char *s)
{
    if (*at >= len)
        return;
    int n = snprintf(buf + *at, len - *at, fmt, s);
    if (n > 0)
        *at += (size_t)n;
}

static void append_num(char *buf, size_t len, size_t *at, unsigned long long v)
{
    if (*at >= len)
        return;
    int n = snprintf(buf + *at, len - *at, "%llu", v);
    if (n > 0)
        *at += (size_t)n;
}

static void describe_set(char *buf, size_t len, size_t *at, const char *key,
                         const struct capture_set *set, bool types)
{
    append(buf, len, at, " %s=", key);
    if (set->all) {
        append(buf, len, at, "%s", "all");
        return;
    }
    if (set->n == 0) {
        append(buf, len, at, "%s", "none");
        return;
    }
    for (size_t i = 0; i < set->n; i++) {
        if (i)
            append(buf, len, at, "%s", ",");
        if (types) {
            char tbuf[24];
            append(buf, len, at, "%s", msg_type_name(set->ids[i], tbuf, sizeof(tbuf)));
        } else {
            append_num(buf, len, at, set->ids[i]);
        }
    }
}

static const char *size_text(uint64_t v, char *buf, size_t len)
{
    static const char units[] = "\0kMG";
    int u = 0;
    while (u < 3 && v && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, "%llu%.1s", (unsigned long long)v, u ? &units[u] : "");
    return buf;
}

size_t capture_settings_describe(const struct capture_settings *s, char *buf, size_t len)
{
    size_t at = 0;
    if (len)
        buf[0] = '\0';
    describe_set(buf, len, &at, "dom", &s->filter.doms, false);
    describe_set(buf, len, &at, "conn", &s->filter.conns, false);
    describe_set(buf, len, &at, "type", &s->filter.types, true);
    char sz[32];
    append(buf, len, &at, " size=%s", size_text(s->max_size, sz, sizeof(sz)));
    append(buf, len, &at, "%s", " files=");
    append_num(buf, len, &at, s->files);
    /* drop the leading space */
    if (at && len) {
        size_t n = at < len ? at : len - 1;
        memmove(buf, buf + 1, n);
        at--;
    }
    return at;
}

/* ---- pairing ------------------------------------------------------------ */

static void pending_add(struct capture_pending *p, struct capture_key k)
{
    if (p->n == CAPTURE_PENDING_MAX) {   /* forget the oldest */
        memmove(p->keys, p->keys + 1, (p->n - 1) * sizeof(*p->keys));
        p->n--;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct capture_key *keys = realloc(p->keys, cap * sizeof(*keys));
        if (!keys)
            return;   /* the reply will be judged by its own type */
        p->keys = keys;
        p->cap = cap;
    }
    p->keys[p->n++] = k;
}

static bool pending_take(struct capture_pending *p, struct capture_key k)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct capture_key *e = &p->keys[i];
        if (e->source == k.source && e->id == k.id && e->req_id == k.req_id) {
            memmove(p->keys + i, p->keys + i + 1, (p->n - i - 1) * sizeof(*p->keys));
            p->n--;
            return true;
        }
    }
    return false;
}

void capture_pending_free(struct capture_pending *p)
{
    free(p->keys);
    memset(p, 0, sizeof(*p));
}

bool capture_wanted(const struct capture_filter *f, struct capture_pending *p,
                    enum capture_source source, uint32_t id, enum capture_dir dir,
                    const struct xsd_sockmsg *hdr)
{
    if (!set_has(source == CAPTURE_DOMAIN ? &f->doms : &f->conns, id))
        return false;
    if (f->types.all)
        return true;
    struct capture_key k = { (uint8_t)source, id, hdr->req_id };
    if (dir == CAPTURE_TO_XENSTORED) {
        if (!set_has(&f->types, hdr->type))
            return false;
        pending_add(p, k);
        return true;
    }
    if (hdr->type == XS_WATCH_EVENT)
        return set_has(&f->types, XS_WATCH_EVENT);
    if (pending_take(p, k))
        return true;
    /* its request went by before this filter: judge the reply alone */
    return hdr->type != XS_ERROR && set_has(&f->types, hdr->type);
}

void capture_pseudo_header(uint8_t out[CAPTURE_PSEUDO_LEN], enum capture_source source,
                           uint32_t id, enum capture_dir dir, uint8_t flags, uint32_t guest_tx,
                           uint32_t backend_tx)
{
    out[0] = CAPTURE_VERSION;
    out[1] = (uint8_t)dir;
    out[2] = (uint8_t)source;
    out[3] = flags;
    uint32_t be[3] = { htonl(id), htonl(guest_tx), htonl(backend_tx) };
    memcpy(out + 4, be, sizeof(be));
}
