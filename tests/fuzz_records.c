/*
 * fuzz_records.c - libFuzzer target for libxsrecords' parsers: any input
 * must be rejected cleanly or read into a model that writes back (in its
 * own format and byte order) to a stream that reads to the same model.
 * Build with clang (tests/fuzz.cmake); run: fuzz_records [corpus dir...].
 *
 * Checked for every input:
 *  - xsrec_read either fails naming a rule and leaving the model empty, or
 *    fills it; xsrec_verify and xsrec_parse (with a visitor) agree with it
 *    on the verdict, the rule, the offset and what they learnt (format,
 *    byte order, version, record count), and the visitor sees the header
 *    and then every record, in order, at increasing offsets;
 *  - a visitor that stops the parse at any record makes it fail with the
 *    rule it set, or "aborted";
 *  - a model that was read writes back in its own format and byte order
 *    to a stream that reads to an equal model; an upstream one also in the
 *    other byte order and with exact record lengths, and to the seed
 *    format dropping what it cannot carry, which must read back as a seed
 *    stream.
 * Any violation abort()s; ASan/UBSan/LSan report the rest.
 */
#include <stdlib.h>
#include <string.h>
#include <xsrecords.h>
#include "fuzz_check.h"

static void check_round_trip(const struct xsrec_stream *s, enum xsrec_format format,
                             enum xsrec_byteorder order, unsigned flags)
{
    uint8_t *out = NULL;
    size_t len = 0;
    struct xsrec_stream again = { 0 };
    struct xsrec_info info;
    int rc;

    if (format == XSREC_FMT_SEED)
        rc = xsrec_write_seed(s, flags, &out, &len, NULL);
    else
        rc = xsrec_write_upstream(s, order, flags, &out, &len, NULL);
    CHECK(rc == 0);
    CHECK(xsrec_read(out, len, &again, &info, NULL) == 0);
    CHECK(info.format == format);
    CHECK(format == XSREC_FMT_SEED || info.order == order);
    CHECK(xsrec_stream_equal(s, &again));
    xsrec_stream_free(&again);
    free(out);
}

struct visit_ctx {
    size_t seen, stop_at;
    size_t last_offset;
    enum xsrec_format format;
    bool set_rule;
};

static int visit(void *ctx, const struct xsrec_record *rec, struct xsrec_error *err)
{
    struct visit_ctx *v = ctx;
    CHECK(rec->format == v->format);
    if (v->seen == 0) {
        CHECK(rec->kind == XSREC_K_HEADER && rec->offset == 0 && rec->info);
    } else {
        CHECK(rec->kind != XSREC_K_HEADER && rec->offset > v->last_offset);
        switch (rec->kind) {
        case XSREC_K_GLOBAL: CHECK(rec->global); break;
        case XSREC_K_CONN: CHECK(rec->conn); break;
        case XSREC_K_WATCH: CHECK(rec->watch && rec->watch->path && rec->watch->token); break;
        case XSREC_K_TX: CHECK(rec->txs || rec->ntxs == 0); break;
        case XSREC_K_NODE: CHECK(rec->node && rec->node->path); break;
        case XSREC_K_TX_OP: CHECK(rec->tx_op); break;
        default: break;
        }
    }
    v->last_offset = rec->offset;
    if (v->seen++ == v->stop_at) {
        if (v->set_rule) {
            err->rule = "fuzz-stop";
            err->message[0] = 0;
        }
        return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct xsrec_stream s = { 0 };
    struct xsrec_info info, vinfo, pinfo;
    struct xsrec_error err, verr, perr;

    int rc = xsrec_read(data, size, &s, &info, &err);
    if (rc != 0)
        /* a failure names its rule and leaves nothing behind */
        CHECK(rc == -1 && err.rule && !s.nconns && !s.nwatches && !s.ntxs && !s.nnodes &&
              !s.ntx_ops && !s.has_global);

    /* verify and parse say the same as read */
    int vrc = xsrec_verify(data, size, &vinfo, &verr);
    struct visit_ctx v = { .stop_at = (size_t)-1, .format = xsrec_detect(data, size) };
    int prc = xsrec_parse(data, size, visit, &v, &pinfo, &perr);
    CHECK(vrc == rc && prc == rc);
    if (rc == 0) {
        CHECK(vinfo.format == info.format && pinfo.format == info.format);
        CHECK(vinfo.order == info.order && pinfo.order == info.order);
        CHECK(vinfo.version == info.version && pinfo.version == info.version);
        CHECK(vinfo.nrecords == info.nrecords && pinfo.nrecords == info.nrecords);
        CHECK(v.format == info.format);
        CHECK(v.seen == info.nrecords + 1);   /* the header, then each record */
    } else {
        CHECK(verr.rule && strcmp(verr.rule, err.rule) == 0 && verr.offset == err.offset);
        CHECK(perr.rule && strcmp(perr.rule, err.rule) == 0 && perr.offset == err.offset);
    }

    /* stopping at the last record seen (or the header) fails the parse */
    if (v.seen) {
        size_t stop = size ? data[size - 1] % v.seen : 0;
        struct visit_ctx w = { .stop_at = stop, .format = v.format, .set_rule = stop & 1 };
        CHECK(xsrec_parse(data, size, visit, &w, NULL, &perr) == -1);
        CHECK(perr.rule && strcmp(perr.rule, w.set_rule ? "fuzz-stop" : "aborted") == 0);
    }

    if (rc == 0) {
        CHECK(info.format == XSREC_FMT_SEED || info.format == XSREC_FMT_UPSTREAM);
        if (info.format == XSREC_FMT_SEED) {
            check_round_trip(&s, XSREC_FMT_SEED, info.order, 0);
        } else {
            enum xsrec_byteorder other =
                info.order == XSREC_BIG_ENDIAN ? XSREC_LITTLE_ENDIAN : XSREC_BIG_ENDIAN;
            check_round_trip(&s, XSREC_FMT_UPSTREAM, info.order, 0);
            check_round_trip(&s, XSREC_FMT_UPSTREAM, other, XSREC_UP_EXACT_LEN);
            /* to the seed format, dropping what it cannot carry: refused
             * only for watches or transactions of several connections */
            uint8_t *out = NULL;
            size_t len = 0;
            struct xsrec_stream seed = { 0 };
            struct xsrec_error serr;
            if (xsrec_write_seed(&s, XSREC_SEED_ALLOW_LOSS, &out, &len, &serr) == 0) {
                CHECK(xsrec_read(out, len, &seed, &pinfo, NULL) == 0);
                CHECK(pinfo.format == XSREC_FMT_SEED);
                CHECK(seed.nwatches == s.nwatches && seed.ntxs == s.ntxs);
                xsrec_stream_free(&seed);
                free(out);
            } else {
                CHECK(serr.rule);
            }
        }
        xsrec_stream_free(&s);
    }
    return 0;
}
