/*
 * fuzz_msg.c - libFuzzer target for xsproxy's message parser (proxy/msg.c)
 * and its capture filter (proxy/capture_filter.c).  Build with clang
 * (tests/fuzz.cmake); run: fuzz_msg [corpus dir...].
 *
 * The first input byte chooses what the rest is:
 *
 *  even: a byte stream as a connection delivers it.  N, then N chunk
 *        sizes, then the stream.  The stream is fed to msg_feed in chunks of
 *        those sizes (cycling; 0 feeds nothing once, then one byte), as
 *        client.c feeds what a socket read returned.  Checked: every call
 *        takes at most what it is given and never runs past a message's
 *        end; a message is never longer than MSG_MAX_LEN and `got` never
 *        exceeds its wire length; MSGF_DONE exactly when a whole message is
 *        in, NUL-terminated; MSGF_BAD_LEN exactly for a header whose len
 *        exceeds XENSTORE_PAYLOAD_MAX, with only the header taken; the
 *        messages are the ones a one-pass parse of the whole stream finds,
 *        whatever the chunking.  Each message then goes through msg_split
 *        (parts inside the payload, in order, counted like a reference
 *        split, at most MAX), msg_parse_u32 (true exactly for an all-digit
 *        number <= UINT32_MAX), msg_type_parse/msg_type_name (a type's name
 *        parses back to it, for the header's type and any part that parses
 *        as a type), msg_build (rebuilds the same bytes, which parse back)
 *        and msg_build_error / msg_errno_name.
 *
 *  odd:  a capture filter (bit 1 of the first byte: allow size= and
 *        files=).  The spec up to a NUL, then 3-byte message records (source, direction and
 *        id; type; req_id).  capture_settings_parse either fails, naming why
 *        and leaving the settings as they were, or succeeds; then
 *        capture_settings_describe's text parses (in fresh settings) back to
 *        settings that describe to the same text, and so does a
 *        capture_settings_copy.  capture_wanted on the records must agree
 *        with a model of the filter and of the request/reply pairing.
 *
 * Any violation abort()s; ASan/UBSan/LSan report the rest.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "msg.h"
#include "xsproxy_wire.h"
#include "fuzz_check.h"

/* ---- the message parser ------------------------------------------------- */

/* Reference for msg_parse_u32: non-empty, all digits, at most UINT32_MAX. */
static bool ref_u32(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return false;
    }
    *out = (uint32_t)v;
    return true;
}

static void check_type_round_trip(uint32_t type)
{
    char buf[24], again_buf[24];
    const char *name = msg_type_name(type, buf, sizeof(buf));
    uint32_t back = ~type;
    CHECK(name && *name);
    CHECK(msg_type_parse(name, &back));
    CHECK(back == type);
    CHECK(strcmp(msg_type_name(back, again_buf, sizeof(again_buf)), name) == 0);
}

static void check_split(const struct msg *m)
{
    const uint8_t *body = m->bytes + MSG_HDR_LEN;
    uint32_t len = m->hdr.len;
    /* the reference: parts end at each NUL, plus one unterminated tail */
    unsigned want = 0;
    for (uint32_t i = 0; i < len; i++)
        want += body[i] == 0;
    if (len && body[len - 1] != 0)
        want++;

    const char **parts = malloc((len + 2) * sizeof(*parts));
    CHECK(parts);
    unsigned n = msg_split(body, len, parts, len + 1);
    CHECK(n == want);
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *p = (const uint8_t *)parts[i];
        CHECK(p >= body && p < body + len);
        if (i == 0)
            CHECK(p == body);
        else
            CHECK(p == (const uint8_t *)parts[i - 1] + strlen(parts[i - 1]) + 1);
        /* every part is NUL-terminated within the payload or by the NUL
         * msg_feed put after it */
        CHECK(p + strlen(parts[i]) <= body + len);

        uint32_t v = 0, rv = 0;
        bool ok = msg_parse_u32(parts[i], &v);
        CHECK(ok == ref_u32(parts[i], &rv));
        CHECK(!ok || v == rv);

        uint32_t type;
        if (msg_type_parse(parts[i], &type))
            check_type_round_trip(type);
    }
    /* a smaller MAX gives the same first parts */
    unsigned max = m->hdr.req_id % 4;
    const char *few[4];
    unsigned k = msg_split(body, len, few, max);
    CHECK(k == (n < max ? n : max));
    for (unsigned i = 0; i < k; i++)
        CHECK(few[i] == parts[i]);
    free(parts);
}

static void check_build(const struct msg *m)
{
    struct msg *b = malloc(sizeof(*b));
    struct msg *f = malloc(sizeof(*f));
    CHECK(b && f);
    msg_build(b, m->hdr.type, m->hdr.req_id, m->hdr.tx_id, m->bytes + MSG_HDR_LEN, m->hdr.len);
    CHECK(b->got == msg_wire_len(m));
    CHECK(memcmp(b->bytes, m->bytes, b->got + 1) == 0);

    /* what msg_build made parses back, in one go */
    uint32_t used = 0;
    msg_reset(f);
    CHECK(msg_feed(f, b->bytes, b->got, &used) == MSGF_DONE);
    CHECK(used == b->got && f->got == b->got);
    CHECK(memcmp(f->bytes, b->bytes, b->got + 1) == 0);

    /* an error reply names an errno as xenstored spells it */
    const char *name = msg_errno_name((int)(m->hdr.req_id % 256) - 64);
    CHECK(name && name[0] == 'E');
    msg_build_error(b, &m->hdr, name);
    CHECK(b->hdr.type == XS_ERROR && b->hdr.req_id == m->hdr.req_id &&
          b->hdr.tx_id == m->hdr.tx_id && b->hdr.len == strlen(name) + 1);
    CHECK(strcmp((const char *)msg_body(b), name) == 0);
    free(f);
    free(b);
}

static void check_message(const struct msg *m)
{
    check_type_round_trip(m->hdr.type);
    check_split(m);
    check_build(m);
}

/* Feed LEN bytes of DATA (a chunk of the stream that starts at STREAM) to
 * M; REF_OFF follows a one-pass parse of the stream.  False once the stream
 * turned out bad. */
static bool feed_chunk(struct msg *m, const uint8_t *stream, size_t stream_len,
                       size_t *ref_off, const uint8_t *data, uint32_t len)
{
    uint32_t off = 0;
    do {
        uint32_t used = 0xdeadbeef, before = m->got;
        enum msg_feed r = msg_feed(m, data + off, len - off, &used);
        CHECK(used <= len - off);
        CHECK(m->got == before + used);
        CHECK(m->got <= MSG_MAX_LEN);
        if (m->got >= MSG_HDR_LEN && m->hdr.len <= XENSTORE_PAYLOAD_MAX)
            CHECK(m->got <= msg_wire_len(m));
        off += used;
        switch (r) {
        case MSGF_MORE:
            CHECK(off == len);
            CHECK(msg_wanted(m) > 0);
            CHECK(m->got < MSG_HDR_LEN || m->hdr.len <= XENSTORE_PAYLOAD_MAX);
            CHECK(msg_wanted(m) == (m->got < MSG_HDR_LEN ? MSG_HDR_LEN - m->got
                                                          : msg_wire_len(m) - m->got));
            break;
        case MSGF_DONE:
            CHECK(m->got >= MSG_HDR_LEN && m->hdr.len <= XENSTORE_PAYLOAD_MAX);
            CHECK(m->got == msg_wire_len(m));
            CHECK(msg_wanted(m) == 0);
            CHECK(m->bytes[m->got] == 0);
            /* the same message as a one-pass parse finds */
            CHECK(*ref_off + m->got <= stream_len);
            CHECK(memcmp(m->bytes, stream + *ref_off, m->got) == 0);
            *ref_off += m->got;
            check_message(m);
            msg_reset(m);
            CHECK(m->got == 0 && msg_wanted(m) == MSG_HDR_LEN);
            break;
        case MSGF_BAD_LEN:
            CHECK(m->got == MSG_HDR_LEN);
            CHECK(m->hdr.len > XENSTORE_PAYLOAD_MAX);
            CHECK(msg_wanted(m) == 0);
            CHECK(*ref_off + MSG_HDR_LEN <= stream_len);
            CHECK(memcmp(m->bytes, stream + *ref_off, MSG_HDR_LEN) == 0);
            return false;   /* the connection is dropped (or passed on raw) */
        default:
            CHECK(!"msg_feed returned something else");
        }
    } while (off < len);
    return true;
}

static void fuzz_stream(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    size_t nsizes = data[0];
    if (nsizes > size - 1)
        nsizes = size - 1;
    const uint8_t *sizes = data + 1;
    const uint8_t *stream = sizes + nsizes;
    size_t stream_len = size - 1 - nsizes;

    struct msg *m = malloc(sizeof(*m));
    CHECK(m);
    memset(m, 0xa5, sizeof(*m));   /* no reliance on a zeroed buffer */
    msg_reset(m);
    CHECK(msg_wanted(m) == MSG_HDR_LEN);

    size_t ref_off = 0, at = 0;
    bool good = true;
    for (size_t i = 0; good && at < stream_len; i++) {
        size_t chunk = nsizes ? sizes[i % nsizes] : stream_len - at;
        if (chunk == 0) {
            uint32_t used = 1;
            CHECK(msg_feed(m, stream + at, 0, &used) == MSGF_MORE && used == 0);
            chunk = 1;
        }
        if (chunk > stream_len - at)
            chunk = stream_len - at;
        good = feed_chunk(m, stream, stream_len, &ref_off, stream + at, (uint32_t)chunk);
        at += chunk;
    }
    if (good) {
        /* what is left is the start of a message the one-pass parse could
         * not finish either */
        size_t left = stream_len - ref_off;
        CHECK(m->got == left);
        if (left >= MSG_HDR_LEN) {
            struct xsd_sockmsg h;
            memcpy(&h, stream + ref_off, sizeof(h));
            CHECK(h.len <= XENSTORE_PAYLOAD_MAX && left < MSG_HDR_LEN + h.len);
        }
    }
    free(m);
}

/* ---- the capture filter ------------------------------------------------- */

static bool set_has(const struct capture_set *set, uint32_t id)
{
    if (set->all)
        return true;
    for (size_t i = 0; i < set->n; i++)
        if (set->ids[i] == id)
            return true;
    return false;
}

static char *describe(const struct capture_settings *s, size_t *len_out)
{
    size_t cap = 256;
    const struct capture_set *sets[] = { &s->filter.doms, &s->filter.conns, &s->filter.types };
    for (unsigned i = 0; i < 3; i++)
        cap += sets[i]->n * 24;   /* "TYPE_4294967295," and the like */
    char *buf = malloc(cap);
    CHECK(buf);
    size_t n = capture_settings_describe(s, buf, cap);
    CHECK(n < cap && strlen(buf) == n);
    *len_out = n;
    return buf;
}

/* The reply pairing as capture.h describes it. */
struct model_key {
    uint8_t source;
    uint32_t id, req_id;
};

static void fuzz_capture(const uint8_t *data, size_t size, bool allow_files)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t spec_len = nul ? (size_t)(nul - data) : size;
    char *spec = malloc(spec_len + 1);
    CHECK(spec);
    memcpy(spec, data, spec_len);
    spec[spec_len] = 0;
    const uint8_t *recs = nul ? nul + 1 : data + size;
    size_t nrecs = (size_t)(data + size - recs) / 3;

    struct capture_settings s;
    capture_settings_init(&s);
    size_t before_len, after_len;
    char *before = describe(&s, &before_len);
    char err[256] = "";
    int rc = capture_settings_parse(&s, spec, allow_files, err, sizeof(err));
    CHECK(rc == 0 || rc == -1);
    char *after = describe(&s, &after_len);
    if (rc < 0) {
        CHECK(err[0] != 0);
        CHECK(strcmp(before, after) == 0);   /* unchanged */
    } else {
        /* the description is a spec that gives the same settings */
        struct capture_settings again;
        capture_settings_init(&again);
        err[0] = 0;
        CHECK(capture_settings_parse(&again, after, true, err, sizeof(err)) == 0);
        size_t again_len;
        char *text = describe(&again, &again_len);
        CHECK(strcmp(text, after) == 0);
        free(text);
        capture_settings_free(&again);

        struct capture_settings copy;
        CHECK(capture_settings_copy(&copy, &s) == 0);
        text = describe(&copy, &again_len);
        CHECK(strcmp(text, after) == 0);
        free(text);
        capture_settings_free(&copy);

        CHECK(s.max_size >= CAPTURE_MIN_SIZE);
        CHECK(s.files >= 1 && s.files <= CAPTURE_MAX_FILES);
        if (!allow_files)
            CHECK(s.max_size == CAPTURE_DEFAULT_SIZE && s.files == CAPTURE_DEFAULT_FILES);
    }
    free(before);
    free(after);

    /* the filter on a stream of headers, against a model */
    struct capture_pending p = { 0 };
    struct model_key *keys = malloc((nrecs + 1) * sizeof(*keys));
    size_t nkeys = 0;
    CHECK(keys);
    const struct capture_filter *f = &s.filter;
    for (size_t i = 0; i < nrecs; i++) {
        const uint8_t *r = recs + 3 * i;
        enum capture_source source = (r[0] & 1) ? CAPTURE_CONN : CAPTURE_DOMAIN;
        enum capture_dir dir = (r[0] & 2) ? CAPTURE_FROM_XENSTORED : CAPTURE_TO_XENSTORED;
        uint32_t id = r[0] >> 2;
        struct xsd_sockmsg hdr = {
            .type = r[1] < 0xf8 ? r[1] : XSP_TYPE_BASE + (uint32_t)(r[1] - 0xf7),
            .req_id = r[2],
            .tx_id = r[1] ^ r[2],
            .len = 0,
        };

        bool want;
        if (!set_has(source == CAPTURE_DOMAIN ? &f->doms : &f->conns, id)) {
            want = false;
        } else if (f->types.all) {
            want = true;
        } else if (dir == CAPTURE_TO_XENSTORED) {
            want = set_has(&f->types, hdr.type);
            if (want)
                keys[nkeys++] = (struct model_key){ (uint8_t)source, id, hdr.req_id };
        } else if (hdr.type == XS_WATCH_EVENT) {
            want = set_has(&f->types, XS_WATCH_EVENT);
        } else {
            want = false;
            for (size_t k = 0; k < nkeys; k++)
                if (keys[k].source == source && keys[k].id == id &&
                    keys[k].req_id == hdr.req_id) {
                    memmove(keys + k, keys + k + 1, (nkeys - k - 1) * sizeof(*keys));
                    nkeys--;
                    want = true;
                    break;
                }
            if (!want)
                want = hdr.type != XS_ERROR && set_has(&f->types, hdr.type);
        }
        CHECK(capture_wanted(f, &p, source, id, dir, &hdr) == want);
        CHECK(p.n == nkeys);

        uint8_t ph[CAPTURE_PSEUDO_LEN];
        capture_pseudo_header(ph, source, id, dir, r[1], hdr.req_id, hdr.tx_id);
        CHECK(ph[0] == CAPTURE_VERSION && ph[1] == dir && ph[2] == source && ph[3] == r[1]);
        CHECK(ph[4] == 0 && ph[5] == 0 && ph[6] == 0 && ph[7] == id);
        CHECK(ph[11] == (uint8_t)hdr.req_id && ph[15] == (uint8_t)hdr.tx_id);
    }
    free(keys);
    capture_pending_free(&p);
    CHECK(p.keys == NULL && p.n == 0);
    capture_settings_free(&s);
    free(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        fuzz_capture(data + 1, size - 1, data[0] & 2);
    else
        fuzz_stream(data + 1, size - 1);
    return 0;
}
